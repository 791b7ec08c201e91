"""Secrets stay secret wherever they flow: a walk over every resource the program registers (its
inputs, and what it reports back) and over the stack outputs finds no secret's plaintext outside a
value Pulumi marks secret (and so encrypts in the state)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.program_commands import SECRET_SIG
from tests.pulumi_harness import DYNAMIC_TYPE, LOCAL_COMMAND_TYPE, PRIVATE_KEY, ProgramRun, Registered, run_main_program
from tests.stacks import HOST_KEY, MODES, aws_stack, hosts_stack, local_stack

# The part of the stack's SSH private key no other value contains.
KEY_MATERIAL = PRIVATE_KEY.strip().splitlines()[1]


def plaintext_paths(value: Any, secret: str, path: str = "") -> list[str]:
    """Where `secret` appears in `value` outside a value marked secret."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return []
        return [p for key, item in value.items() for p in plaintext_paths(item, secret, f"{path}.{key}")]
    if isinstance(value, (list, tuple)):
        return [p for i, item in enumerate(value) for p in plaintext_paths(item, secret, f"{path}[{i}]")]
    return [path or "."] if secret in str(value) else []


def test_the_walk_finds_plaintext_and_passes_over_secrets() -> None:
    wrapped = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": PRIVATE_KEY}
    assert plaintext_paths({"connection": wrapped, "tags": ["a", f"x{KEY_MATERIAL}"]}, KEY_MATERIAL) == [".tags[1]"]
    assert plaintext_paths({"connection": {"privateKey": PRIVATE_KEY}}, KEY_MATERIAL) == [".connection.privateKey"]
    assert plaintext_paths([wrapped, 7, None], KEY_MATERIAL) == []


STACKS = [
    *[(f"aws-{mode}", aws_stack(mode), ["sshPrivateKey"]) for mode in MODES],
    *[(f"hosts-{mode}", hosts_stack(mode), ["sshPrivateKey"]) for mode in MODES],
    ("aws-everything", aws_stack("master-slave-auto", metrics=True, controllers=3, bastionHost="198.51.100.7", bastionHostKey=HOST_KEY), ["sshPrivateKey"]),
    ("local", local_stack("master-slave-async"), []),  # the key the stack makes for itself
]  # fmt: skip


@pytest.mark.parametrize(("label", "stack", "secrets"), STACKS, ids=[s[0] for s in STACKS])
def test_no_resource_or_output_holds_the_private_key_in_plaintext(
    label: str, stack: dict[str, Any], secrets: list[str]
) -> None:
    run = run_main_program(stack, secrets)
    carriers = 0
    for resource in run.mocks.resources:
        assert plaintext_paths(resource.inputs, KEY_MATERIAL) == [], f"{resource.name} inputs"
        reported = dict(resource.outputs)
        if resource.typ == LOCAL_COMMAND_TYPE and " keygen " in str(resource.inputs.get("create")):
            # target local's key pair: the mocks hand its stdout back as given; the engine encrypts it.
            assert run.mocks.options_of(resource).additional_secret_outputs == ["stdout"]
            reported.pop("stdout")
        assert plaintext_paths(reported, KEY_MATERIAL) == [], f"{resource.name} outputs"
        carriers += KEY_MATERIAL in repr(resource.inputs)  # it is there, marked secret
    assert carriers > 0, "no resource got the key: the walk would prove nothing"
    assert plaintext_paths(run.outputs, KEY_MATERIAL) == []
    assert not any(run.secret_outputs.values())


ACL_PASSWORDS = {"aclAdminPassword": "Adm1n-pass!word", "orders-app": "app-Pa55word#1"}
ACL: dict[str, Any] = {
    "proxy": "none",
    "acl": True,
    "aclAdminPassword": ACL_PASSWORDS["aclAdminPassword"],
    "aclUsers": json.dumps({"orders-app": {"password": ACL_PASSWORDS["orders-app"], "topics": {"orders": "PUB"}}}),
}
ACL_STACKS = [
    # proxy local, 5.x's default there: a proxy inside each broker
    ("hosts-async", hosts_stack("master-slave-async", **{**ACL, "proxy": "local"})),
    ("aws-auto", aws_stack("master-slave-auto", **ACL)),
    ("local-multi", local_stack("multi-master", **ACL)),
    # ACL 1.0: every user's password in each broker host's plain_acl.yml
    ("aws-4.9.x", aws_stack("master-slave-sync", version="4.9.7", **ACL)),
]


@pytest.mark.parametrize(("label", "stack"), ACL_STACKS, ids=[s[0] for s in ACL_STACKS])
@pytest.mark.parametrize("password", list(ACL_PASSWORDS.values()), ids=list(ACL_PASSWORDS))
def test_no_resource_or_output_holds_an_acl_password_in_plaintext(
    label: str, stack: dict[str, Any], password: str
) -> None:
    secret_keys = ["aclAdminPassword", "aclUsers"] + ([] if label.startswith("local") else ["sshPrivateKey"])
    run = run_main_program(stack, secret_keys)
    carriers = 0
    for resource in run.mocks.resources:
        assert plaintext_paths(resource.inputs, password) == [], f"{resource.name} inputs"
        assert plaintext_paths(resource.outputs, password) == [], f"{resource.name} outputs"
        carriers += password in repr(resource.inputs)
    assert carriers > 0, "no resource got the password: the walk would prove nothing"
    assert plaintext_paths(run.outputs, password) == []


def test_no_resource_or_output_holds_a_host_private_key_in_plaintext() -> None:
    """target aws: the SSH host keys the program makes reach the instances in user data only."""
    run = run_main_program(aws_stack("master-slave-auto", controllers=3), ["sshPrivateKey"])
    host_keys = run.mocks.of_type(DYNAMIC_TYPE)
    assert host_keys, "no host key made: the walk would prove nothing"
    for key in host_keys:
        # The PEM's first and last base64 lines are alike for every ED25519 key (header, padding).
        for material in key.outputs["private_key"].strip().splitlines()[2:-2]:
            assert _carriers_of(run, key, material) == 1, f"{key.name}: its instance alone gets it"


def _carriers_of(run: ProgramRun, maker: Registered, material: str) -> int:
    """How many resources get ``material`` (a line of the key ``maker`` made) as an input, each
    marked secret; no other input, output (but the maker's own, secret by
    additional_secret_outputs) or stack output holds it in plaintext."""
    carriers = 0
    for resource in run.mocks.resources:
        assert plaintext_paths(resource.inputs, material) == [], f"{resource.name} inputs"
        if resource is not maker:
            assert plaintext_paths(resource.outputs, material) == [], f"{resource.name} outputs"
        carriers += material in repr(resource.inputs)
    assert plaintext_paths(run.outputs, material) == []
    return carriers


TLS_STACKS = [
    ("hosts-async", hosts_stack("master-slave-async", tls="enforcing", proxy="local"), ["sshPrivateKey"]),
    ("aws-auto", aws_stack("master-slave-auto", controllers=3, tls="permissive"), ["sshPrivateKey"]),
    ("local-single", local_stack("single-master", tls="enforcing"), []),
]


@pytest.mark.parametrize(("label", "stack", "secrets"), TLS_STACKS, ids=[s[0] for s in TLS_STACKS])
def test_no_resource_or_output_holds_a_tls_private_key_in_plaintext(
    label: str, stack: dict[str, Any], secrets: list[str]
) -> None:
    """rocketmq:tls: the stack's CA key and each host's key reach their host's step only as secrets."""
    run = run_main_program(stack, secrets)
    makers = [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name.endswith(("-tls-ca", "-tls-cert"))]
    assert len(makers) > 1, "no CA or certificate made: the walk would prove nothing"
    for maker in makers:
        assert run.mocks.options_of(maker).additional_secret_outputs == ["private_key"]
        material = maker.outputs["private_key"].strip().splitlines()[5]
        # The CA's key: every host's certificate maker; a host's key: its host's TLS step.
        assert _carriers_of(run, maker, material) >= 1, f"{maker.name}: nothing got the key"
