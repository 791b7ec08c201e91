"""The aws target's settings (instances, network, CIDRs, the EC2 key pair): what the config
parser refuses and takes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import parse_config
from tests.pulumi_harness import PUBLIC_KEY
from tests.stacks import HOST_KEY, aws_stack

# Public halves only (their private keys were thrown away): what EC2 refuses, and what it imports.
ECDSA_PUBLIC_KEY = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFiOlfMN92RMyUqTzCgHoqsx+wyfBDcvXoY2k/pPlhOjXpUiQMqWNX/Q+gxA18XQbUcgX0clnZz66ii3W7BG93I="
RSA_1024_PUBLIC_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDTVx3lpBit0IP24HSwBXdIb4OYtxIH4WYhyWrZ2HQR5D0sepCeYxqlG5bT065cXzV/k35TE+xhvvaga4aVzpNT1DWWl5hieLK5Ene2HIr/4ywJG00iY4A7mr6/HWOX3XF434ErOFrTbrnXM+TVBwauWYrUR3Ig86KZLZas4mEV8Q=="
RSA_2048_PUBLIC_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDNt+1g5L8L/rkflK26S2M2ts7TxJZZai9PXXVphtgIw9iLaWTCV++5dQ8xs6PLN3Qouf6NO7l6ElU2d2XXSwwLBlhp4nW4+nDU2WM1qBPy+HIyb0tmrJgmiJYzh1cSUWr7u8cP39O6eme5sr/ul638"
    "5vO4dIVP7k95wEG8y+6/RjHolh8U/Ufbetms1cbls4wTX33PQuNecqehJqSVV2HZNQqMGtbj85F55UGiVJLYzzq07vRSFYCTOuZwGdlickXzyntKQbjiWO024paS7GkguUhaO0wC6Dk0OyQZReWggvk9mZMQMYfcbSDX6Dd9YUbl97rLoB4v7jW0UPlEyNlx"
)

# Refused before any resource by test_config.py, with the other bad inputs:
# (description, stack, key named in the error, phrase in the error)
BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "missing public key",
        {k: v for k, v in aws_stack("single-master").items() if k != "sshPublicKey"},
        "rocketmq:sshPublicKey",
        "is required",
    ),
    (
        "ecdsa public key on aws",
        aws_stack("single-master", sshPublicKey=ECDSA_PUBLIC_KEY),
        "rocketmq:sshPublicKey",
        "EC2 imports only RSA (2048 bits or more) and ED25519",
    ),
    (
        "short rsa public key on aws",
        aws_stack("single-master", sshPublicKey=RSA_1024_PUBLIC_KEY),
        "rocketmq:sshPublicKey",
        "1024-bit RSA key",
    ),
    (
        "public key data of another type",
        aws_stack("single-master", sshPublicKey="ssh-rsa " + PUBLIC_KEY.split()[1]),
        "rocketmq:sshPublicKey",
        "of another type",
    ),
    (
        "public key not base64",
        aws_stack("single-master", sshPublicKey="ssh-ed25519 AAAA=AAAA"),
        "rocketmq:sshPublicKey",
        "does not decode",
    ),
    (
        "ssh open to the world",
        aws_stack("single-master", sshCidrs='["0.0.0.0/0"]'),
        "rocketmq:sshCidrs",
        "whole internet",
    ),
    ("no ssh cidrs", aws_stack("single-master", sshCidrs="[]"), "rocketmq:sshCidrs", "is required"),
    ("bad cidr", aws_stack("single-master", clientCidrs='["10.0.0.1/8"]'), "rocketmq:clientCidrs[0]", "IPv4 CIDR"),
    ("unknown os", aws_stack("single-master", os="centos-7"), "rocketmq:os", "centos-stream-9, rocky-9, alma-9"),
    ("bad ami", aws_stack("single-master", ami="ubuntu"), "rocketmq:ami", "AMI id"),
    (
        "subnets without vpc",
        aws_stack("single-master", subnetIds='["subnet-0123456789abcdef0"]'),
        "rocketmq:vpcId",
        "is required",
    ),
    (
        "no public ip and no bastion",
        aws_stack(
            "single-master",
            publicIp=False,
            vpcId="vpc-0123456789abcdef0",
            subnetIds=json.dumps(["subnet-0000000000000000a"]),
        ),
        "rocketmq:bastionHost",
        "is required",
    ),
    (
        "no public ip in a dedicated VPC",
        aws_stack("single-master", publicIp=False, bastionHost="bastion.example.com", bastionHostKey=HOST_KEY),
        "rocketmq:publicIp",
        "needs rocketmq:vpcId",
    ),
    (
        "a bastion without its host key",
        aws_stack("single-master", bastionHost="bastion.example.com"),
        "rocketmq:bastionHostKey",
        "is required with rocketmq:bastionHost",
    ),
    (
        "a bastion host key of RSA",
        aws_stack("single-master", bastionHost="bastion.example.com", bastionHostKey="ssh-rsa AAAAB3NzaC1yc2E="),
        "rocketmq:bastionHostKey",
        "RSA host key",
    ),
    (
        "a host key without a bastion",
        aws_stack("single-master", bastionHostKey=HOST_KEY),
        "rocketmq:bastionHostKey",
        "not set",
    ),
    (
        "store retention not a boolean",
        aws_stack("single-master", retainStoreOnDestroy="sometimes"),
        "rocketmq:retainStoreOnDestroy",
        "true or false",
    ),
]


@pytest.mark.parametrize("public_key", [RSA_2048_PUBLIC_KEY, PUBLIC_KEY], ids=["rsa 2048", "ed25519"])
def test_aws_takes_the_public_keys_ec2_imports(public_key: str) -> None:
    line = " ".join(public_key.split()[:2]) + " someone@laptop"
    cfg = parse_config(aws_stack("single-master", sshPublicKey=line))
    assert cfg.aws is not None and cfg.aws.ssh_public_key == line
