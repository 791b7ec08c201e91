"""Stack config of TLS for RocketMQ's traffic (`tls`, `tlsCaCertificate`, `tlsCaKey`,
`tlsCertificates`): RocketMQ's `tls.server.mode` on every name server, broker, controller and
proxy, and whose certificate authority signs the hosts' certificates (or the hosts' own).

Part of the config parser (components/config.py), which calls this. Errors name the key and never
quote the CA's private key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from components import config_checks as check
from components.config import _Reader
from components.config_checks import NAMESPACE, ConfigError
from components.config_model import HostSpec, TlsSettings

TLS_MODES = ("disabled", "permissive", "enforcing")
_UNSET = "unset: RocketMQ's own default, permissive with a throw-away self-signed certificate no client can verify"


def _ca_certificate(raw: Any) -> x509.Certificate:
    try:
        certificate = x509.load_pem_x509_certificate(str(raw).encode())
    except ValueError:
        raise ConfigError("tlsCaCertificate", "must be one PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ConfigError("tlsCaCertificate", "is not a CA certificate (its basicConstraints must say CA:TRUE)")
    return certificate


def _private_key(where: str, raw: Any, certificate: x509.Certificate) -> str:
    """The private key of `certificate`, as PKCS#8 PEM (what Netty reads)."""
    of = "tlsCaCertificate" if where == "tlsCaKey" else "its certificate"
    try:
        key = serialization.load_pem_private_key(str(raw).encode(), password=None)
    except (ValueError, TypeError):
        # The value stays out of the message: it is a private key.
        raise ConfigError(where, f"must be an unencrypted PEM private key (RSA or EC) of {of}") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigError(where, "must be an RSA or EC key; RocketMQ's JDK TLS needs one of those")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != certificate.public_key().public_bytes(encoding, public):
        raise ConfigError(where, f"is not the private key of {of}")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _host_certificates(
    raw: Any, hosts: Sequence[HostSpec], ca: x509.Certificate, secret_keys: frozenset[str] | None
) -> dict[str, tuple[str, str]]:
    """tlsCertificates: every host's own certificate and key, signed by the CA, naming the host's
    addresses."""
    key = "tlsCertificates"
    if not hosts:
        raise ConfigError(
            key, "is for target hosts; on aws and local the program makes the hosts and signs their certificates"
        )
    if secret_keys is not None and f"{NAMESPACE}:{key}" not in secret_keys:
        raise ConfigError(key, "holds private keys, so it must be a secret (`pulumi config set --secret ...`)")
    value = check.structured(key, raw)
    if not isinstance(value, Mapping):
        raise ConfigError(key, "must map each host's name to {certificate, privateKey} (PEM)")
    names = [host.name for host in hosts]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ConfigError(key, f"names {', '.join(map(str, unknown))}, not among the hosts ({', '.join(names)})")
    missing = [name for name in names if name not in value]
    if missing:
        raise ConfigError(key, f"has no certificate for {', '.join(missing)}: give every host one, or use tlsCaKey")
    certificates = {}
    for host in hosts:
        where = f"{key}.{host.name}"
        entry = value[host.name]
        if not isinstance(entry, Mapping) or set(entry) != {"certificate", "privateKey"}:
            raise ConfigError(where, "must be {certificate, privateKey} (PEM)")
        try:
            certificate = x509.load_pem_x509_certificate(str(entry["certificate"]).encode())
        except ValueError:
            raise ConfigError(f"{where}.certificate", "must be one PEM certificate") from None
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise ConfigError(
                f"{where}.certificate", "is not signed by tlsCaCertificate (directly; no intermediates)"
            ) from None
        named = _names_in(certificate)
        absent = [a for a in dict.fromkeys((host.address, host.private_address)) if a not in named]
        if absent:
            raise ConfigError(
                f"{where}.certificate", f"does not name {', '.join(absent)} among its subject alternative names"
            )
        private_key = _private_key(f"{where}.privateKey", entry["privateKey"], certificate)
        certificates[host.name] = (certificate.public_bytes(serialization.Encoding.PEM).decode(), private_key)
    return certificates


def _names_in(certificate: x509.Certificate) -> set[str]:
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(a) for a in names.get_values_for_type(x509.IPAddress)} | set(names.get_values_for_type(x509.DNSName))


def parse_tls(r: _Reader, secret_keys: frozenset[str] | None, hosts: Sequence[HostSpec] = ()) -> TlsSettings | None:
    """RocketMQ's TLS mode and the CA that signs the hosts' certificates (or, on target hosts, the
    hosts' own certificates), or None when `tls` is unset (RocketMQ's launch stays as it was).
    `secret_keys`: the keys Pulumi holds encrypted; when given, those holding private keys must be."""
    given = [key for key in ("tlsCaCertificate", "tlsCaKey", "tlsCertificates") if check.structured(key, r.get(key))]
    if not r.has("tls"):
        if given:
            raise ConfigError(given[0], "needs tls: permissive or enforcing")
        return None
    mode = r.get("tls")
    if not isinstance(mode, str) or mode not in TLS_MODES:
        raise ConfigError("tls", f"must be one of {', '.join(TLS_MODES)} ({_UNSET}); got {mode!r}")
    if mode == "disabled":
        if given:
            raise ConfigError(given[0], "is for tls: permissive or enforcing; tls is disabled")
        return TlsSettings(mode)
    if not given:
        return TlsSettings(mode)  # the program makes the stack's CA
    if "tlsCaCertificate" not in given:
        raise ConfigError(
            "tlsCaCertificate", f"is needed with {NAMESPACE}:{given[0]}: the CA that signed the hosts' certificates"
        )
    certificate = _ca_certificate(check.structured("tlsCaCertificate", r.get("tlsCaCertificate")))
    ca_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    if "tlsCertificates" in given:
        if "tlsCaKey" in given:
            raise ConfigError(
                "tlsCaKey", "goes with the program signing the hosts' certificates; tlsCertificates gives them"
            )
        return TlsSettings(
            mode,
            ca_pem,
            host_certificates=_host_certificates(r.get("tlsCertificates"), hosts, certificate, secret_keys),
        )
    if "tlsCaKey" not in given:
        raise ConfigError(
            "tlsCaKey", "is needed with rocketmq:tlsCaCertificate (or give every host its own in tlsCertificates)"
        )
    if secret_keys is not None and f"{NAMESPACE}:tlsCaKey" not in secret_keys:
        raise ConfigError("tlsCaKey", "is a private key, so it must be a secret (`pulumi config set --secret ...`)")
    return TlsSettings(mode, ca_pem, _private_key("tlsCaKey", r.get("tlsCaKey"), certificate))
