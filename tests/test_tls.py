"""rocketmq:tls: the config refuses what cannot work before anything exists; every host gets a
certificate from the stack's CA as a secret; every JVM starts in the chosen mode; the cluster's
own clients (mqadmin, proxies, the health checks' probe) speak TLS and verify the servers."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from components import rendering
from components.config import parse_config
from components.config_checks import ConfigError
from components.config_model import TlsSettings
from components.namesrv_rendering import render_namesrv_script
from components.tls_certificates import _HostCertificateProvider, issue_certificate, new_authority, signed_by
from components.tls_rendering import HostTlsFiles, render_tls_script
from components.tls_settings import CA_FILE, CLUSTER_INFO_CA_VARIABLE, KEY_FILE
from components.topology import plan_cluster
from tests.program_commands import SECRET_SIG
from tests.pulumi_harness import DYNAMIC_TYPE, run_main_program
from tests.shell_checks import check_script
from tests.stacks import HOSTS_WITH_CONTROLLERS, aws_stack, hosts_stack, local_stack
from tests.test_health_checks import _cluster_info_body, _Server

CA_CERTIFICATE, CA_KEY = new_authority("test CA")
SECRET_KEYS = ["sshPrivateKey", "tlsCaKey"]


def _parse(**overrides: Any) -> TlsSettings | None:
    return parse_config(hosts_stack("multi-master", **overrides), secret_keys=None).tls


# ------------------------------------------------------------------ config


def test_unset_leaves_rocketmq_as_it_starts_by_default() -> None:
    assert _parse() is None


@pytest.mark.parametrize("mode", ["disabled", "permissive", "enforcing"])
def test_each_mode_is_taken_with_a_ca_of_the_programs(mode: str) -> None:
    assert _parse(tls=mode) == TlsSettings(mode)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tls": "on"}, r"^rocketmq:tls: must be one of disabled, permissive, enforcing \(unset: RocketMQ's own"),
        ({"tlsCaKey": CA_KEY}, r"^rocketmq:tlsCaKey: needs tls: permissive or enforcing$"),
        ({"tls": "disabled", "tlsCaCertificate": CA_CERTIFICATE}, r"^rocketmq:tlsCaCertificate: is for tls: permissive"),
        ({"tls": "enforcing", "tlsCaCertificate": CA_CERTIFICATE}, r"^rocketmq:tlsCaKey: is needed with rocketmq:tlsCaCertificate"),
        ({"tls": "enforcing", "tlsCaCertificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "tlsCaKey": CA_KEY}, r"^rocketmq:tlsCaCertificate: must be one PEM certificate"),
        ({"tls": "enforcing", "tlsCaCertificate": CA_CERTIFICATE, "tlsCaKey": "not a key"}, r"^rocketmq:tlsCaKey: must be an unencrypted PEM private key"),
        ({"tls": "enforcing", "tlsCaCertificate": CA_CERTIFICATE, "tlsCaKey": new_authority("other")[1]}, r"^rocketmq:tlsCaKey: is not the private key of tlsCaCertificate$"),
    ],
)  # fmt: skip
def test_bad_tls_settings_are_refused_naming_the_key(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        _parse(**overrides)
    assert "PRIVATE KEY" not in str(refused.value) and CA_KEY.splitlines()[1] not in str(refused.value)


def test_a_host_certificate_is_not_a_ca() -> None:
    certificate, key = issue_certificate(CA_CERTIFICATE, CA_KEY, "n1", ["10.0.0.1"])
    with pytest.raises(ConfigError, match=r"^rocketmq:tlsCaCertificate: is not a CA certificate"):
        _parse(tls="enforcing", tlsCaCertificate=certificate, tlsCaKey=key)


def test_the_users_ca_key_must_be_a_secret() -> None:
    stack = hosts_stack("multi-master", tls="enforcing", tlsCaCertificate=CA_CERTIFICATE, tlsCaKey=CA_KEY)
    with pytest.raises(ConfigError, match=r"^rocketmq:tlsCaKey: is a private key, so it must be a secret"):
        parse_config(stack, secret_keys=frozenset({"rocketmq:sshPrivateKey"}))
    tls = parse_config(stack, secret_keys=frozenset({"rocketmq:sshPrivateKey", "rocketmq:tlsCaKey"})).tls
    assert tls is not None and tls.ca_certificate is not None and "test CA" not in repr(tls)
    assert CA_KEY.splitlines()[1] not in repr(tls)


# ------------------------------------------------------------------ certificates


def test_a_host_certificate_names_the_host_and_its_addresses_and_chains_to_the_ca() -> None:
    certificate, key = issue_certificate(CA_CERTIFICATE, CA_KEY, "n1", ["198.51.100.7", "10.0.0.1", "10.0.0.1"])
    issued = x509.load_pem_x509_certificate(certificate.encode())
    names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["n1"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["198.51.100.7", "10.0.0.1"]
    assert signed_by(certificate, CA_CERTIFICATE) and not signed_by(certificate, new_authority("other")[0])
    assert key.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, what Netty reads


def test_the_tls_script_keeps_the_key_to_the_rocketmq_user_and_passes_shellcheck(tmp_path: Path) -> None:
    certificate, key = issue_certificate(CA_CERTIFICATE, CA_KEY, "n1", ["10.0.0.1"])
    script = render_tls_script("n1", HostTlsFiles(CA_CERTIFICATE, certificate, key))
    check_script(tmp_path, "tls-files.sh", script)
    assert 'chown rocketmq:rocketmq "$staged"' in script and "chmod 0600" in script
    assert f'mv -f "$staged" {KEY_FILE}' in script
    assert "tls.client.trustCertPath=" + CA_FILE in script and "tls.test.mode.enable=false" in script


# ------------------------------------------------------------------ the program under mocks


def _tls_key(tls: str | None) -> dict[str, Any]:
    return {} if tls is None else {"tls": tls}


def _tls_run(**overrides: Any) -> Any:
    return run_main_program(hosts_stack("master-slave-async", tls="enforcing", **overrides), ["sshPrivateKey"])


def test_every_host_gets_its_certificate_as_a_secret_before_the_release() -> None:
    run = _tls_run()
    by_name = {c.name: c for c in run.commands}
    (authority,) = [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name == "rocketmq-tls-ca"]
    ca_certificate = authority.outputs["certificate"]
    assert run.outputs["caCertificate"] == ca_certificate
    hosts = {h["name"] for h in json.loads(hosts_stack("master-slave-async")["hosts"])}
    for host in hosts:
        step = by_name[f"rocketmq-{host}-tls"]
        assert SECRET_SIG in step.inputs["stdin"], f"{step.name} sends its private key in the clear"
        script = step.inputs["stdin"]["value"]
        (certificate,) = [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name == f"rocketmq-{host}-tls-cert"]
        assert certificate.outputs["private_key"] in script and ca_certificate in script
        assert signed_by(certificate.outputs["certificate"], ca_certificate)
        assert step.name in run.mocks.depends_on(by_name[f"rocketmq-{host}-install"])
        assert "-Dtls.enable=true" in by_name[f"rocketmq-{host}-install"].inputs["stdin"]  # mqadmin


def test_every_jvm_starts_in_the_mode_and_the_health_checks_speak_tls() -> None:
    run = _tls_run(proxy="local")
    configure = [c for c in run.commands if "/usr/local/libexec/rocketmq/start" in str(c.inputs.get("stdin", ""))]
    assert len(configure) == 3 + 4  # name servers and brokers
    for command in configure:
        stdin = command.inputs["stdin"]
        assert "-Dtls.server.mode=enforcing -Dtls.enable=true -Dtls.config.file=/etc/rocketmq/tls.properties" in stdin
        assert f"export {CLUSTER_INFO_CA_VARIABLE}={CA_FILE}" in stdin, command.name
    proxies = [c for c in configure if '"tlsTestModeEnable": false' in c.inputs["stdin"]]
    assert len(proxies) == 4  # each broker's proxy serves gRPC with the host's certificate


def test_users_ca_signs_the_hosts_and_no_ca_is_made() -> None:
    stack = hosts_stack("multi-master", tls="permissive", tlsCaCertificate=CA_CERTIFICATE, tlsCaKey=CA_KEY)
    run = run_main_program(stack, SECRET_KEYS)
    assert not [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name == "rocketmq-tls-ca"]
    certificates = [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name.endswith("-tls-cert")]
    assert len(certificates) == len(json.loads(stack["hosts"])) and all(
        signed_by(c.outputs["certificate"], CA_CERTIFICATE) for c in certificates
    )
    assert run.outputs["caCertificate"] == CA_CERTIFICATE


@pytest.mark.parametrize("tls", [None, "disabled"])
def test_without_encryption_no_certificate_and_no_ca(tls: str | None) -> None:
    stack = hosts_stack("multi-master", **_tls_key(tls))
    run = run_main_program(stack, ["sshPrivateKey"])
    assert not [c.name for c in run.commands if c.name.endswith("-tls")]
    assert not [r for r in run.mocks.of_type(DYNAMIC_TYPE) if "-tls-" in r.name]
    assert run.outputs["caCertificate"] == ""
    starts = [
        str(c.inputs.get("stdin")) for c in run.commands if "libexec/rocketmq/start" in str(c.inputs.get("stdin"))
    ]
    assert starts
    if tls is None:  # the start script as it was: existing clusters do not restart for this
        assert not any("tls." in s for s in starts)
    else:
        assert all("-Dtls.server.mode=disabled -Dtls.enable=false" in s for s in starts)


@pytest.mark.parametrize("stack", [aws_stack("master-slave-auto", controllers=3, tls="enforcing"), local_stack("single-master", tls="enforcing")], ids=["aws", "local"])  # fmt: skip
def test_certificates_name_the_addresses_clients_use(stack: dict[str, Any]) -> None:
    run = run_main_program(stack, ["sshPrivateKey"] if stack["target"] == "aws" else [])
    certificates = [r for r in run.mocks.of_type(DYNAMIC_TYPE) if r.name.endswith("-tls-cert")]
    assert certificates
    for certificate in certificates:
        issued = x509.load_pem_x509_certificate(certificate.outputs["certificate"].encode())
        names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        addresses = {str(a) for a in names.get_values_for_type(x509.IPAddress)}
        assert addresses and set(certificate.inputs["addresses"]) == addresses


# ------------------------------------------------------------------ the health checks' probe


class _TlsConnection:
    """A TLS connection as the stand-in name server reads it (recv with MSG_WAITALL)."""

    def __init__(self, conn: ssl.SSLSocket) -> None:
        self.conn = conn

    def recv(self, size: int, _flags: int = 0) -> bytes:
        data = b""
        while len(data) < size and (chunk := self.conn.recv(size - len(data))):
            data += chunk
        return data

    def sendall(self, data: bytes) -> None:
        self.conn.sendall(data)

    def close(self) -> None:
        self.conn.close()


class _TlsServer(_Server):
    """The stand-in name server of tests/test_health_checks.py behind TLS, as with tls: enforcing:
    a client that does not speak TLS gets its connection closed."""

    def __init__(self, body: str, context: ssl.SSLContext) -> None:
        super().__init__(body)
        self.context = context

    def get_request(self) -> tuple[Any, Any]:
        conn, address = super().get_request()
        return _TlsConnection(self.context.wrap_socket(conn, server_side=True)), address

    def shutdown_request(self, request: Any) -> None:
        request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a refused handshake is what some tests want


@pytest.fixture
def tls_name_server(tmp_path: Path) -> Iterator[_TlsServer]:
    certificate, key = issue_certificate(CA_CERTIFICATE, CA_KEY, "n1", ["127.0.0.1"])
    (tmp_path / "host.pem").write_text(certificate)
    (tmp_path / "host.key").write_text(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "host.pem", tmp_path / "host.key")
    server = _TlsServer(_cluster_info_body({"broker-a": {0: "10.0.0.9:10911"}}), context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _cluster_info(tmp_path: Path, address: str, ca: str | None) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "cluster-info"
    script.write_text(rendering.render_cluster_info())
    env = {"PATH": "/usr/bin:/bin"}
    if ca is not None:
        (tmp_path / "ca.pem").write_text(ca)
        env[CLUSTER_INFO_CA_VARIABLE] = str(tmp_path / "ca.pem")
    return subprocess.run(
        [sys.executable, str(script), address], capture_output=True, text=True, timeout=30, env=env, check=False
    )


def test_cluster_info_speaks_tls_to_a_server_the_ca_signed(tmp_path: Path, tls_name_server: _TlsServer) -> None:
    result = _cluster_info(tmp_path, tls_name_server.address, CA_CERTIFICATE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["DefaultCluster broker-a 0 10.0.0.9:10911"]


def test_cluster_info_refuses_a_server_another_ca_signed(tmp_path: Path, tls_name_server: _TlsServer) -> None:
    result = _cluster_info(tmp_path, tls_name_server.address, new_authority("other")[0])
    assert result.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in result.stderr, result.stderr


def test_cluster_info_without_the_ca_speaks_plaintext_which_tls_refuses(
    tmp_path: Path, tls_name_server: _TlsServer
) -> None:
    result = _cluster_info(tmp_path, tls_name_server.address, None)
    assert result.returncode == 1, result.stdout


def test_a_name_servers_script_exports_the_ca_only_with_tls() -> None:
    for tls, exported in ((None, False), ("disabled", False), ("permissive", True)):
        cfg = parse_config(hosts_stack("multi-master", **_tls_key(tls)), secret_keys=None)
        host = plan_cluster(cfg).name_server_hosts[0]
        script = render_namesrv_script(cfg, host.key, "10.0.0.1", 9876)
        assert (f"export {CLUSTER_INFO_CA_VARIABLE}=" in script) is exported, tls


def test_a_host_certificate_is_made_again_only_for_another_name_address_or_ca() -> None:
    """The provider's diff compares the next inputs with what the last create made."""
    provider = _HostCertificateProvider()
    made = provider.create(
        {"host": "n1", "addresses": ["10.0.0.1"], "ca_certificate": CA_CERTIFICATE, "ca_key": CA_KEY}
    )
    olds = dict(made.outs or {})
    same = {"host": "n1", "addresses": ["10.0.0.1"], "ca_certificate": CA_CERTIFICATE, "ca_key": CA_KEY}
    assert not provider.diff("id", olds, same).changes
    assert provider.diff("id", olds, {**same, "addresses": ["10.0.0.2"]}).replaces == ["addresses"]
    assert provider.diff("id", olds, {**same, "ca_certificate": new_authority("other")[0]}).replaces == [
        "ca_certificate"
    ]
    # A preview with the CA not known yet replaces nothing on its account.
    assert not provider.diff("id", olds, {**same, "ca_certificate": None}).changes
    assert "ca_key" not in olds  # the CA's key stays an input only


# ------------------------------------------------------------------ the hosts' own certificates


def _own_certificates(**changed: dict[str, str]) -> str:
    """tlsCertificates for multi-master's three hosts, each signed by the test CA for its address."""
    entries = {}
    for host in json.loads(hosts_stack("multi-master")["hosts"]):
        certificate, key = issue_certificate(CA_CERTIFICATE, CA_KEY, host["name"], [host["address"]])
        entries[host["name"]] = {"certificate": certificate, "privateKey": key}
    entries.update(changed)
    return json.dumps(entries)


OWN_CERTIFICATES = _own_certificates()


def test_each_host_may_bring_its_own_certificate_signed_by_the_ca() -> None:
    stack = hosts_stack(
        "multi-master", tls="enforcing", tlsCaCertificate=CA_CERTIFICATE, tlsCertificates=OWN_CERTIFICATES
    )
    secrets = frozenset({"rocketmq:sshPrivateKey", "rocketmq:tlsCertificates"})
    tls = parse_config(stack, secret_keys=secrets).tls
    assert tls is not None and tls.ca_key is None and sorted(tls.host_certificates) == ["peer1", "peer2", "peer3"]
    run = run_main_program(stack, ["sshPrivateKey", "tlsCertificates"])
    assert not [r for r in run.mocks.of_type(DYNAMIC_TYPE) if "-tls-" in r.name]  # nothing made, nothing signed
    by_name = {c.name: c for c in run.commands}
    for name, (certificate, key) in tls.host_certificates.items():
        step = by_name[f"rocketmq-{name}-tls"]
        assert SECRET_SIG in step.inputs["stdin"] and key in step.inputs["stdin"]["value"]
        assert certificate in step.inputs["stdin"]["value"]
        line = key.strip().splitlines()[5]
        assert all(line not in repr(r.inputs) for r in run.mocks.resources if r is not step), name
    assert run.outputs["caCertificate"] == CA_CERTIFICATE


def _foreign_certificate() -> dict[str, str]:
    other_ca, other_key = new_authority("other")
    certificate, key = issue_certificate(other_ca, other_key, "peer2", ["192.0.2.12"])
    return {"certificate": certificate, "privateKey": key}


def _certificate_for(address: str) -> dict[str, str]:
    certificate, key = issue_certificate(CA_CERTIFICATE, CA_KEY, "peer2", [address])
    return {"certificate": certificate, "privateKey": key}


@pytest.mark.parametrize(
    ("certificates", "message"),
    [
        (json.dumps({"peer1": {}}), r"^rocketmq:tlsCertificates: has no certificate for peer2, peer3"),
        (_own_certificates(peer9=_certificate_for("192.0.2.19")), r"^rocketmq:tlsCertificates: names peer9, not among the hosts"),
        (_own_certificates(peer2=_foreign_certificate()), r"^rocketmq:tlsCertificates.peer2.certificate: is not signed by tlsCaCertificate"),
        (_own_certificates(peer2=_certificate_for("192.0.2.99")), r"^rocketmq:tlsCertificates.peer2.certificate: does not name 192.0.2.12 among"),
        (_own_certificates(peer2={**_certificate_for("192.0.2.12"), "privateKey": CA_KEY}), r"^rocketmq:tlsCertificates.peer2.privateKey: is not the private key of its certificate$"),
    ],
)  # fmt: skip
def test_bad_host_certificates_are_refused_naming_the_host(certificates: str, message: str) -> None:
    stack = hosts_stack("multi-master", tls="enforcing", tlsCaCertificate=CA_CERTIFICATE, tlsCertificates=certificates)
    with pytest.raises(ConfigError, match=message) as refused:
        parse_config(stack, secret_keys=None)
    assert "PRIVATE KEY" not in str(refused.value)


def test_host_certificates_are_secret_and_for_target_hosts_only() -> None:
    stack = hosts_stack(
        "multi-master", tls="enforcing", tlsCaCertificate=CA_CERTIFICATE, tlsCertificates=OWN_CERTIFICATES
    )
    with pytest.raises(ConfigError, match=r"^rocketmq:tlsCertificates: holds private keys, so it must be a secret"):
        parse_config(stack, secret_keys=frozenset({"rocketmq:sshPrivateKey"}))
    with pytest.raises(ConfigError, match=r"^rocketmq:tlsCaKey: goes with the program signing"):
        parse_config({**stack, "tlsCaKey": CA_KEY}, secret_keys=None)
    aws = aws_stack("multi-master", tls="enforcing", tlsCaCertificate=CA_CERTIFICATE, tlsCertificates=OWN_CERTIFICATES)
    with pytest.raises(ConfigError, match=r"^rocketmq:tlsCertificates: is for target hosts"):
        parse_config(aws, secret_keys=None)


def _configure_scripts(ca: tuple[str, str]) -> dict[str, str]:
    """Each service's configure script (by step name) of a master-slave-auto stack with
    controllers and a proxy host of their own, whose hosts' certificates ``ca`` signs."""
    proxy_host = {"name": "proxy1", "address": "192.0.2.31", "proxy": True}
    stack = hosts_stack(
        "master-slave-auto",
        hosts=[*HOSTS_WITH_CONTROLLERS, proxy_host],
        proxy="cluster",
        tls="enforcing",
        tlsCaCertificate=ca[0],
        tlsCaKey=ca[1],
    )
    run = run_main_program(stack, SECRET_KEYS)
    return {
        c.name: c.inputs["stdin"]
        for c in run.commands
        if "UNIT=" in str(c.inputs.get("stdin", "")) and not c.name.endswith("-rollout")
    }


def test_a_new_ca_restarts_the_services_that_connect_to_others() -> None:
    """RocketMQ reads the CA its own clients trust only at start, while servers reload a new
    certificate by themselves: a new CA changes the configure scripts of brokers, proxies and
    controllers (so they restart, rolling), and leaves the name servers' alone."""
    before = _configure_scripts((CA_CERTIFICATE, CA_KEY))
    other_ca = new_authority("the next CA")
    after = _configure_scripts(other_ca)
    assert before.keys() == after.keys()
    changed = {name for name in before if before[name] != after[name]}
    restarted_units = {"rocketmq-broker.service", "rocketmq-proxy.service", "rocketmq-controller.service"}
    expected = {name for name, script in before.items() if any(f"UNIT={u}" in script for u in restarted_units)}
    assert len(expected) == 4 + 1 + 3 and changed == expected, sorted(changed)  # brokers, a proxy, controllers
    assert len(before) > len(expected)  # the name servers' did not change
    fingerprint = x509.load_pem_x509_certificate(other_ca[0].encode()).fingerprint(hashes.SHA256()).hex().upper()
    assert all(f"TLS_CA_SHA256={fingerprint}\n" in after[name] for name in expected)
