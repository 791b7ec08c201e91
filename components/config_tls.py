"""Stack config of TLS for RocketMQ's traffic (`tls`, `tlsCaCertificate`, `tlsCaKey`): RocketMQ's
`tls.server.mode` on every name server, broker, controller and proxy, and whose certificate
authority signs the hosts' certificates.

Part of the config parser (components/config.py), which calls this. Errors name the key and never
quote the CA's private key.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from components import config_checks as check
from components.config import _Reader
from components.config_checks import NAMESPACE, ConfigError
from components.config_model import TlsSettings

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


def _ca_key(raw: Any, certificate: x509.Certificate) -> str:
    try:
        key = serialization.load_pem_private_key(str(raw).encode(), password=None)
    except (ValueError, TypeError):
        # The value stays out of the message: it is a private key.
        raise ConfigError(
            "tlsCaKey", "must be an unencrypted PEM private key (RSA or EC) of tlsCaCertificate"
        ) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigError("tlsCaKey", "must be an RSA or EC key; RocketMQ's JDK TLS needs one of those")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != certificate.public_key().public_bytes(encoding, public):
        raise ConfigError("tlsCaKey", "is not the private key of tlsCaCertificate")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def parse_tls(r: _Reader, secret_keys: frozenset[str] | None) -> TlsSettings | None:
    """RocketMQ's TLS mode and the CA that signs the hosts' certificates, or None when `tls` is
    unset (RocketMQ's launch stays as it was). `secret_keys`: the keys Pulumi holds encrypted; when
    given, tlsCaKey must be one of them."""
    given = [key for key in ("tlsCaCertificate", "tlsCaKey") if r.has(key)]
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
    if len(given) == 1:
        missing = "tlsCaKey" if given == ["tlsCaCertificate"] else "tlsCaCertificate"
        raise ConfigError(missing, f"is needed with {NAMESPACE}:{given[0]}: the CA's certificate and key go together")
    if secret_keys is not None and f"{NAMESPACE}:tlsCaKey" not in secret_keys:
        raise ConfigError("tlsCaKey", "is a private key, so it must be a secret (`pulumi config set --secret ...`)")
    certificate = _ca_certificate(check.structured("tlsCaCertificate", r.get("tlsCaCertificate")))
    key = _ca_key(r.get("tlsCaKey"), certificate)
    return TlsSettings(mode, certificate.public_bytes(serialization.Encoding.PEM).decode(), key)
