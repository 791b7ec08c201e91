"""SSH to the e2e test hosts: the deploy key, each host's pre-made host key (pinned in a
known_hosts file, as `sshHostKeysFile` pins them for the program), the ssh_config the tests'
own ssh commands use, and what such a command returns."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from localhosts.machine import DEPLOY_USER
from localhosts.system import run

if TYPE_CHECKING:
    from tests.e2e.testhosts import Host


@dataclasses.dataclass(frozen=True)
class SSHResult:
    """Outcome of :meth:`TestNetwork.ssh`."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> SSHResult:
        if self.returncode != 0:
            raise subprocess.CalledProcessError(self.returncode, "ssh", self.stdout, self.stderr)
        return self


@dataclasses.dataclass(frozen=True)
class SshFiles:
    """Where a TestNetwork keeps its SSH material (in ``directory``, mode 0700)."""

    directory: Path

    @property
    def private_key(self) -> Path:
        """ed25519 private key (no passphrase) accepted for ``deploy``."""
        return self.directory / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        """known_hosts listing every host's (pre-generated) host key."""
        return self.directory / "known_hosts"

    @property
    def config(self) -> Path:
        """ssh_config with a ``Host`` block per test host (by name)."""
        return self.directory / "config"

    def host_key(self, host: Host) -> Path:
        """The host's own private host key, installed on its disk before it boots."""
        return self.directory / f"hostkey_{host.name}"

    def make(self, tag: str, hosts: Sequence[Host]) -> None:
        """The deploy key, a host key per host, known_hosts and ssh_config."""
        self.directory.mkdir(mode=0o700)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{tag}-deploy", "-f", str(self.private_key)])
        lines = []
        for h in hosts:
            key = self.host_key(h)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{h.name}", "-f", str(key)])
            pub = key.with_suffix(".pub").read_text().split()
            lines.append(f"{h.address},{h.name} {pub[0]} {pub[1]}\n")
        self.known_hosts.write_text("".join(lines))
        blocks = [
            f"Host {h.name} {h.address}\n"
            f"  HostName {h.address}\n"
            f"  User {DEPLOY_USER}\n"
            f"  IdentityFile {self.private_key}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n"
            "  StrictHostKeyChecking yes\n"
            "  BatchMode yes\n"
            "  ConnectTimeout 5\n"
            "  LogLevel ERROR\n"
            for h in hosts
        ]
        self.config.write_text("\n".join(blocks))

    def ssh_argv(self, host: Host, *, connect_timeout: float = 5) -> list[str]:
        """``ssh`` command line for ``deploy@host`` (to run in the control namespace)."""
        return [
            "ssh",
            "-F",
            str(self.config),
            "-o",
            f"ConnectTimeout={int(max(1, connect_timeout))}",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            f"{DEPLOY_USER}@{host.address}",
        ]
