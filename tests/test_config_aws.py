"""The aws target's settings (instances, network, CIDRs, the EC2 key pair): what the config
parser refuses and takes."""

from __future__ import annotations

import json
from typing import Any

from tests.stacks import aws_stack

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
        aws_stack("single-master", publicIp=False, bastionHost="bastion.example.com"),
        "rocketmq:publicIp",
        "needs rocketmq:vpcId",
    ),
    (
        "store retention not a boolean",
        aws_stack("single-master", retainStoreOnDestroy="sometimes"),
        "rocketmq:retainStoreOnDestroy",
        "true or false",
    ),
]
