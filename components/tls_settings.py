"""Where rocketmq:tls puts its files on the hosts and the settings that turn it on: JVM options,
proxy.json's, and what tells the health checks' probe to speak TLS. Rendered by
components/rendering.py (the start script, mqadmin, proxy.json, the service scripts) and
components/tls_rendering.py (the script that writes a host's certificate)."""

from __future__ import annotations

from components.config_model import TlsSettings

TLS_DIR = "/etc/rocketmq/tls"
CA_FILE = f"{TLS_DIR}/ca.pem"
CERTIFICATE_FILE = f"{TLS_DIR}/host.pem"
KEY_FILE = f"{TLS_DIR}/host.key"
# RocketMQ's own default path for the rest of its TLS settings (tls.config.file), named anyway.
TLS_PROPERTIES_FILE = "/etc/rocketmq/tls.properties"
# What tells cluster-info (the health checks' probe) to speak TLS, and to trust which CA.
CLUSTER_INFO_CA_VARIABLE = "CLUSTER_INFO_TLS_CA"

# Servers use the host's certificate; the cluster's own clients (a broker towards the name servers
# and other brokers, a proxy, mqadmin) check the server's against the CA. No client certificates.
TLS_PROPERTIES = {
    "tls.test.mode.enable": "false",
    "tls.server.need.client.auth": "none",
    "tls.server.certPath": CERTIFICATE_FILE,
    "tls.server.keyPath": KEY_FILE,
    "tls.client.authServer": "true",
    "tls.client.trustCertPath": CA_FILE,
}


def server_jvm_options(tls: TlsSettings) -> str:
    """Every JVM of the cluster: the server mode (RocketMQ reads it from system properties only),
    and whether its own clients speak TLS: with permissive too, so that enforcing, the step after
    it, refuses none of the cluster's own connections."""
    return f"-Dtls.server.mode={tls.mode} {client_jvm_options(tls)}"


def client_jvm_options(tls: TlsSettings) -> str:
    """mqadmin's, and the clients' part of server_jvm_options."""
    if not tls.encrypts:
        return "-Dtls.enable=false"
    return f"-Dtls.enable=true -Dtls.config.file={TLS_PROPERTIES_FILE}"


def proxy_tls_settings(tls: TlsSettings | None) -> dict[str, object]:
    """proxy.json: the gRPC port's certificate (the proxy reads it from its own config)."""
    if tls is None or not tls.encrypts:
        return {}
    return {"tlsTestModeEnable": False, "tlsCertPath": CERTIFICATE_FILE, "tlsKeyPath": KEY_FILE}


def cluster_info_ca(tls: TlsSettings | None) -> str:
    """The CA cluster-info verifies the name servers and controllers with; "" for plaintext."""
    return CA_FILE if tls is not None and tls.encrypts else ""
