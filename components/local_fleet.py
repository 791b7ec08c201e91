"""LocalFleet (target local): the program creates its hosts on this machine, as Pulumi resources.

One systemd-nspawn machine per planned host, booted from the cached Debian rootfs, each with its
own overlay disk and cgroups, sharing this machine's loopback with its own ports (the plan's);
an SSH key pair for the stack (made here; the private key reaches Pulumi only as a secret
output); and the mirror the machines download the release from (the configured one, or a local
one when it does not answer). Every resource is a `local.Command` that runs
``python -m localhosts ...`` (see localhosts/__main__.py); each runs once and again only when its
command changes, so a second `pulumi up` with no change runs nothing; `pulumi destroy` stops
and removes every machine (process, mount, cgroup, disk) and the local mirror.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pulumi
from pulumi_command import local

from components.config import LOCAL_SSH_USER
from components.config_model import ReleaseSettings
from components.remote import HostEndpoint
from components.topology import LOCAL_ADDRESS, ClusterPlan, PlannedHost, broker_ports
from localhosts import local_machines, release_dist

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNTIME = "python3 -m localhosts"
# The local release mirror (only when the configured mirror does not answer): below the name
# server ports (19876 + 10 k), clear of the sshd (20022 + k, 20100 + ...) and broker ports.
LOCAL_MIRROR_PORT = 19800


def preflight_problem() -> str | None:
    """Why target local cannot run here (not root, a missing tool), in one line, or None."""
    return local_machines.preflight_problem()


def state_root(stack: str) -> Path:
    """Where a stack's machines, key and mirror live on this machine."""
    return release_dist.cache_root() / "local" / stack


@dataclass(frozen=True)
class LocalFleetArgs:
    plan: ClusterPlan
    release: ReleaseSettings
    stack: str  # <project>-<stack>: names the machines and the state directory


def _q(value: object) -> str:
    return shlex.quote(str(value))


def rocketmq_ports(planned: PlannedHost) -> list[tuple[str, int]]:
    ports = [("name server", planned.name_server_port)] if planned.name_server else []
    if planned.controller_port is not None:
        ports.append(("controller", planned.controller_port))
    if planned.broker is not None:
        fast, listen, ha = broker_ports(planned.broker.listen_port)
        ports += [("broker fast channel", fast), ("broker listenPort", listen), ("broker HA", ha)]
    if planned.proxy_ports is not None:
        ports += [("proxy gRPC", planned.proxy_ports.grpc), ("proxy remoting", planned.proxy_ports.remoting)]
    return ports


class LocalFleet(pulumi.ComponentResource):
    def __init__(self, name: str, args: LocalFleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("rocketmq:index:LocalFleet", name, None, opts)
        problem = preflight_problem()
        if problem:
            raise pulumi.RunError(problem)
        root = state_root(args.stack)
        key_dir = root / "ssh"
        child = pulumi.ResourceOptions(parent=self)

        script = PROJECT_ROOT / "scripts" / "build-rootfs.sh"
        self.rootfs = local.Command(
            f"{name}-rootfs",
            create=f"{RUNTIME} rootfs",
            dir=str(PROJECT_ROOT),
            # A changed rootfs recipe builds a new rootfs (and so new machines).
            triggers=[hashlib.sha256(script.read_bytes()).hexdigest()[:16]],
            opts=child,
        )
        self.key = local.Command(
            f"{name}-ssh-key",
            create=f"{RUNTIME} keygen --dir {_q(key_dir)} --comment {_q(f'rocketmq-{args.stack}')}",
            delete=f"{RUNTIME} keydelete --dir {_q(key_dir)}",
            dir=str(PROJECT_ROOT),
            logging=local.Logging.STDERR,  # stdout is the private key: never in the log
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout"]),
        )
        self.private_key: pulumi.Output[str] = pulumi.Output.secret(self.key.stdout)
        mirror_dir = root / "mirror"
        self.mirror = local.Command(
            f"{name}-mirror",
            create=(
                f"{RUNTIME} mirror start --mirror {_q(args.release.mirror)} --version {_q(args.release.version)} "
                f"--state-dir {_q(mirror_dir)} --port {LOCAL_MIRROR_PORT}"
            ),
            delete=f"{RUNTIME} mirror stop --state-dir {_q(mirror_dir)}",
            dir=str(PROJECT_ROOT),
            # The new mirror needs the old one's port: stop the old one first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.mirror_url: pulumi.Output[str] = self.mirror.stdout.apply(lambda out: out.strip())

        self.machines: dict[str, local.Command] = {}
        self.endpoints: dict[str, HostEndpoint] = {}
        for planned in args.plan.hosts:
            machine = self._machine(name, args.stack, root, key_dir, planned)
            self.machines[planned.key] = machine
            self.endpoints[planned.key] = HostEndpoint(
                planned.key,
                LOCAL_ADDRESS,
                LOCAL_ADDRESS,
                LOCAL_SSH_USER,
                planned.ssh_port,
                ready_after=(machine,),
                # Its create prints a new token each time it makes the machine anew (a new rootfs,
                # a new key): then every script runs again on the fresh disk.
                machine_id=machine.stdout,
                # None from a machine made before creates printed it: that connection stays unpinned.
                host_key=cast("pulumi.Output[str]", machine.stdout.apply(local_machines.host_key_in)),
            )
        self.register_outputs(
            {
                "rootfs": self.rootfs.stdout,
                "mirror": self.mirror_url,
                "sshPorts": {planned.key: planned.ssh_port for planned in args.plan.hosts},
            }
        )

    def _machine(self, name: str, stack: str, root: Path, key_dir: Path, planned: PlannedHost) -> local.Command:
        machine_name = local_machines.machine_name(stack, planned.key)
        identity = (
            f"--state-dir {_q(root / 'machines' / planned.key)} --name {_q(machine_name)} --hostname {_q(planned.key)}"
        )
        ports = " ".join(f"--port {_q(f'{label}={port}')}" for label, port in rocketmq_ports(planned))
        create = self.rootfs.stdout.apply(
            lambda rootfs: (
                f"{RUNTIME} machine create {identity} --rootfs {_q(rootfs.strip())} --ssh-port {planned.ssh_port} "
                f"--public-key-file {_q(key_dir / 'id_ed25519.pub')} {ports}"
            )
        )
        return local.Command(
            f"{name}-{planned.key}",
            create=create,
            delete=f"{RUNTIME} machine delete {identity}",
            dir=str(PROJECT_ROOT),
            triggers=[self.key.id],  # a new key pair needs new machines
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.key]),
        )
