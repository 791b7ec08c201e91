"""rocketmq:tls in a running cluster: the files the program wrote, and who gets in. Used by the
lifecycles that run with tls enforcing (suite_stacks.TLS_MODES, and the controllers of their own in
tests/e2e/test_controller_e2e.py), whose clients all speak TLS (tests/e2e/traffic.py:
clients_speaking), and by the one that turns it on (suite_stacks.TLS_TURNED_ON)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.tls_settings import CA_FILE, CERTIFICATE_FILE, KEY_FILE, TLS_PROPERTIES_FILE
from tests.e2e.acl_scenario import Clients
from tests.e2e.testhosts import Host, TestNetwork
from tests.e2e.traffic import ClientTls, Credentials, clients_speaking, sdk_refused


def check_tls_files(net: TestNetwork, hosts: Sequence[Host]) -> None:
    """Every host's key is the rocketmq user's alone; its certificate chains to the CA and names
    the host's address (openssl on the host says so)."""
    for host in hosts:
        listing = net.ssh(host, f"sudo -n stat -c '%a %U %n' {KEY_FILE} {CERTIFICATE_FILE} {CA_FILE}", check=True)
        assert listing.stdout.splitlines() == [
            f"600 rocketmq {KEY_FILE}",
            f"644 root {CERTIFICATE_FILE}",
            f"644 root {CA_FILE}",
        ], f"{host.name}: {listing.stdout}"
        verified = net.ssh(host, f"openssl verify -CAfile {CA_FILE} -verify_ip {host.address} {CERTIFICATE_FILE}")
        assert verified.returncode == 0, f"{host.name}: {verified.stdout}{verified.stderr}"
        assert "tls.test.mode.enable=false" in net.ssh(host, f"cat {TLS_PROPERTIES_FILE}", check=True).stdout


def host_key_material(net: TestNetwork, host: Host) -> str:
    """A line of ``host``'s TLS private key, to search the logs and the state for."""
    lines = net.ssh(host, f"sudo -n cat {KEY_FILE}", check=True).stdout.strip().splitlines()
    assert lines[0] == "-----BEGIN PRIVATE KEY-----", lines[0]
    return lines[3]


def check_permissive_lets_both_in(clients: Clients, topic: str, tls: ClientTls) -> None:
    """With tls permissive: a plaintext client and one speaking TLS (trusting the stack's CA) both
    send, so clients may move to TLS one by one before the cluster enforces it."""
    with clients_speaking(None):
        assert clients.sends(topic, None), "tls permissive refused a plaintext client"
    with clients_speaking(tls):
        assert clients.sends(topic, None), "tls permissive refused a client speaking TLS"


@dataclass(frozen=True)
class SdkTarget:
    """Where RocketMQ 5's SDK would send: the proxies' endpoints, a topic and its consumer group."""

    endpoints: list[str]
    topic: str
    group: str


def check_tls_refuses_strangers(
    clients: Clients,
    topic: str,
    credentials: Credentials | None,
    *,
    stranger: ClientTls,
    proxies: SdkTarget | None = None,
) -> None:
    """With tls enforcing: a plaintext client and one that trusts another CA cannot send, nor can
    RocketMQ 5's SDK with SSL off through the ``proxies`` (if any). The caller then sends the same
    way, speaking TLS with the stack's CA: that those sends go through shows these were refused
    for TLS. The SDK's refusal must come from the connection, not from a missing topic or a right
    (UNAVAILABLE: the proxy closed it)."""
    with clients_speaking(None):
        assert not clients.sends(topic, credentials), "a plaintext client sent to a cluster with tls enforcing"
        if proxies is not None:
            said = sdk_refused(
                clients.net, proxies.endpoints, proxies.topic, group=proxies.group, credentials=credentials
            )
            assert "UNAVAILABLE" in said, f"the SDK without SSL was refused, but not by TLS:\n{said[-4000:]}"
    with clients_speaking(stranger):
        assert not clients.sends(topic, credentials), "a client trusting another CA sent"
