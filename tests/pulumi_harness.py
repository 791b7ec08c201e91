"""Runs the program under Pulumi mocks and records what it registers (no engine, no cloud)."""

from __future__ import annotations

import asyncio
import itertools
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pulumi
from pulumi.runtime import config as runtime_config

from components.host_keys import new_host_key
from components.tls_certificates import issue_certificate, new_authority

# How the engine marks a secret value (the mocks see its wrapper, as the state holds it encrypted).
SECRET_SIG = "4dabf18193072939515e22adb298388d"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nTESTKEY-NOT-REAL-0123456789\n-----END OPENSSH PRIVATE KEY-----\n"
# A real key's shape (the program decodes it as EC2 would); its private half was thrown away.
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILDxexeJbNAY5nq5elM9VuZEoyT5xE2ftDklYd9oVKR7 test@example"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
AMI_ID = "ami-0123456789abcdef0"
COMMAND_TYPE = "command:remote:Command"
DYNAMIC_TYPE = "pulumi-python:dynamic:Resource"
LOCAL_COMMAND_TYPE = "command:local:Command"
LOCAL_ROOTFS = "/var/cache/rocketmq-pulumi/rootfs-bookworm-0123456789abcdef"
LOCAL_MIRROR_FALLBACK = "http://127.0.0.1:19800"
# The host key target local's machines print when made (mocks).
LOCAL_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxKqLsKHG03z8bQDkTsirxwrsx9bslhAoCWaSeObBzU"


def local_command_stdout(create: str) -> str:
    """What target local's `python -m localhosts` commands print: the rootfs, the private key, the mirror."""
    if create.endswith(" rootfs"):
        return LOCAL_ROOTFS + "\n"
    if " keygen " in create:
        return PRIVATE_KEY
    if " mirror start " in create:
        return LOCAL_MIRROR_FALLBACK + "\n"
    if " machine create " in create:
        return f"machine booted as 0123456789abcdef; sshd answers\nhost key {LOCAL_HOST_KEY}\n"
    return ""


@dataclass
class Registered:
    typ: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


def _revealed(value: Any) -> Any:
    """A mock's input as the provider would get it: a secret's value (mocks see its wrapper)."""
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Resource options by (type, name) (ignore_changes, depends_on, ...): mocks do not see them.
    options: dict[tuple[str, str], pulumi.ResourceOptions] = field(default_factory=dict)
    _subnet_zones: dict[str, str] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(10))  # type: ignore[type-arg]

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ == "aws:ec2/subnet:Subnet":
            self._subnet_zones[resource_id] = args.inputs.get("availabilityZone", "")
        elif args.typ == "aws:ec2/instance:Instance":
            n = next(self._counter)
            outputs.update(
                privateIp=f"10.42.0.{n}",
                publicIp=f"198.51.100.{n}",
                availabilityZone=self._subnet_zones.get(args.inputs.get("subnetId", ""), "eu-west-1x"),
            )
        elif args.typ == "aws:ec2/networkInterface:NetworkInterface":
            outputs["privateIp"] = f"10.42.1.{next(self._counter)}"
        elif args.typ == "aws:ec2/eip:Eip":
            outputs["publicIp"] = f"203.0.113.{next(self._counter)}"
        elif args.typ == "aws:ec2/keyPair:KeyPair":
            outputs["keyName"] = args.name
        elif args.typ == DYNAMIC_TYPE and args.name.endswith("-host-key"):
            # components/host_keys.py's SshHostKey: the key its provider would make.
            private, public = new_host_key()
            outputs.update(public_key=public, private_key=private)
        elif args.typ == DYNAMIC_TYPE and args.name.endswith("-tls-ca"):
            # components/tls_certificates.py: what their providers would make.
            certificate, key = new_authority(str(args.inputs["common_name"]))
            outputs.update(certificate=certificate, private_key=key)
        elif args.typ == DYNAMIC_TYPE and args.name.endswith("-tls-cert"):
            inputs = args.inputs
            certificate, key = issue_certificate(
                _revealed(inputs["ca_certificate"]), _revealed(inputs["ca_key"]), inputs["host"], inputs["addresses"]
            )
            outputs = {"host": inputs["host"], "addresses": inputs["addresses"]}
            outputs.update(certificate=certificate, private_key=key)
        elif args.typ == COMMAND_TYPE:
            outputs.update(stdout="", stderr="")
        elif args.typ == LOCAL_COMMAND_TYPE:
            outputs.update(stdout=local_command_stdout(str(args.inputs.get("create", ""))), stderr="")
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs), outputs))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ZONES, "zoneIds": [f"euw1-az{i}" for i in range(len(ZONES))], "id": "eu-west-1"}, []
        if args.token == "aws:ec2/getSubnet:getSubnet":
            return {"id": args.args["id"], "availabilityZone": ZONES[0], "cidrBlock": "10.7.0.0/24"}, []
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": AMI_ID, "name": "CentOS Stream 9 x86_64 20260101", "architecture": "x86_64"}, []
        return {}, []

    # ------------------------------------------------------------ queries
    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.typ == typ]

    def options_of(self, resource: Registered) -> pulumi.ResourceOptions:
        return self.options[(resource.typ, resource.name)]

    def depends_on(self, resource: Registered) -> set[str]:
        """Names of the resources `resource` was given in depends_on."""
        declared = self.options_of(resource).depends_on
        items = declared if isinstance(declared, list) else [] if declared is None else [declared]
        return {item._name for item in items if isinstance(item, pulumi.Resource)}

    def named(self, name: str) -> Registered:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"{len(matches)} resources named {name}: {[r.name for r in self.resources]}"
        return matches[0]


@dataclass
class ProgramRun:
    mocks: RecordingMocks
    outputs: dict[str, Any]
    secret_outputs: dict[str, bool]

    @property
    def commands(self) -> list[Registered]:
        return self.mocks.of_type(COMMAND_TYPE)


def run_under_mocks(
    program: Callable[[], dict[str, Any] | None], preview: bool = False, mocks: RecordingMocks | None = None
) -> ProgramRun:
    """Runs `program` with fresh mocks; returns the resolved dict it returns and what it registered."""
    mocks = mocks or RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="rocketmq", stack="test", preview=preview)
    captured: dict[str, Any] = {"outputs": {}, "secret": {}}

    def record_options(args: pulumi.ResourceTransformationArgs) -> None:
        mocks.options[(args.type_, args.name)] = args.opts

    @pulumi.runtime.test
    def body() -> pulumi.Output[Any]:
        pulumi.runtime.register_stack_transformation(record_options)
        exports = program() or {}
        outputs = {k: pulumi.Output.from_input(v) for k, v in exports.items()}

        async def secrecy() -> dict[str, bool]:
            return {k: await v.is_secret() for k, v in outputs.items()}

        return pulumi.Output.all(
            pulumi.Output.from_input(outputs), pulumi.Output.from_input(cast(Any, asyncio.ensure_future(secrecy())))
        ).apply(lambda resolved: captured.update(outputs=resolved[0], secret=resolved[1]))

    body()
    return ProgramRun(mocks=mocks, outputs=captured["outputs"], secret_outputs=captured["secret"])


def run_main_program(config: dict[str, Any], secret_keys: list[str], mocks: RecordingMocks | None = None) -> ProgramRun:
    """Runs the real __main__.py under mocks with the given stack config."""
    full = {k if ":" in k else f"rocketmq:{k}": v for k, v in config.items()}
    runtime_config.set_all_config(full, [k if ":" in k else f"rocketmq:{k}" for k in secret_keys])
    exported: dict[str, Any] = {}
    original_export = pulumi.export

    def capture_export(name: str, value: Any) -> None:
        exported[name] = value

    def program() -> dict[str, Any]:
        pulumi.export = capture_export
        try:
            runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__")
        finally:
            pulumi.export = original_export
        return exported

    try:
        return run_under_mocks(program, mocks=mocks)
    finally:
        runtime_config.set_all_config({}, [])
