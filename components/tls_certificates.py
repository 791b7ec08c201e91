"""Certificates for rocketmq:tls: a certificate authority per stack (unless the user brings one)
and one certificate per host, naming the host and its addresses. Made once, kept in the state (the
private keys as secrets), and made again only when what they name changes."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class StackCa:
    """The CA that signs the hosts' certificates: the user's (rocketmq:tlsCaCertificate) or the
    stack's TlsAuthority."""

    certificate: pulumi.Input[str]
    # A secret; None: the user's hosts bring their own certificates (rocketmq:tlsCertificates).
    private_key: pulumi.Input[str] | None


CA_VALID_DAYS = 3650
HOST_VALID_DAYS = 1825
# RSA: every JDK TLS stack RocketMQ runs on (Netty's JDK provider, 4.9.x to 5.x) takes it.
KEY_BITS = 2048


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _pem_key(key: rsa.RSAPrivateKey) -> str:
    # PKCS#8: the form Netty's SslContextBuilder reads.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _validity(days: int) -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    # A little back in time: hosts whose clocks lag still accept a certificate made just now.
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)


def new_authority(name: str) -> tuple[str, str]:
    """A self-signed CA: (certificate PEM, private key PEM)."""
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    not_before, not_after = _validity(CA_VALID_DAYS)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key)


def fingerprint(certificate: str) -> str:
    """The SHA-256 fingerprint of a PEM certificate (hex, as `openssl x509 -fingerprint -sha256`
    shows it, without the colons)."""
    return x509.load_pem_x509_certificate(certificate.encode()).fingerprint(hashes.SHA256()).hex().upper()


def subject_alternative_names(host: str, addresses: Sequence[str]) -> list[x509.GeneralName]:
    """The host's name and each address, as IP or DNS names (what clients may connect to)."""
    names: list[x509.GeneralName] = [x509.DNSName(host)]
    for address in dict.fromkeys(addresses):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    return names


def issue_certificate(ca_certificate: str, ca_key: str, host: str, addresses: Sequence[str]) -> tuple[str, str]:
    """A server certificate for ``host`` signed by the CA: (certificate PEM, private key PEM)."""
    issuer = x509.load_pem_x509_certificate(ca_certificate.encode())
    signer = serialization.load_pem_private_key(ca_key.encode(), password=None)
    if not isinstance(signer, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError("the CA's key is neither RSA nor EC")
    key = _new_key()
    not_before, not_after = _validity(HOST_VALID_DAYS)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(min(not_after, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(subject_alternative_names(host, addresses)), critical=False)
        # RocketMQ's JVMs are servers and, towards each other, clients.
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(signer, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key)


def _short_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _AuthorityProvider(pulumi.dynamic.ResourceProvider):
    """Makes the CA once, at create. The state names this class by module and name: renaming
    either breaks every stack that holds such a CA."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        certificate, key = new_authority(str(props["common_name"]))
        return pulumi.dynamic.CreateResult(
            id_=_short_id(certificate), outs={**props, "certificate": certificate, "private_key": key}
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = olds.get("common_name") != news.get("common_name")
        return pulumi.dynamic.DiffResult(changes=changed, replaces=["common_name"] if changed else [])


class TlsAuthority(pulumi.dynamic.Resource):
    """The stack's CA (rocketmq:tls without tlsCaCertificate); its key is a secret output."""

    certificate: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(self, name: str, common_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["private_key"])
        super().__init__(
            _AuthorityProvider(),
            name,
            {"common_name": common_name, "certificate": None, "private_key": None},
            pulumi.ResourceOptions.merge(opts, secret),
        )


class _HostCertificateProvider(pulumi.dynamic.ResourceProvider):
    """Issues the host's certificate at create; another CA, name or address makes a new one."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        certificate, key = issue_certificate(
            str(props["ca_certificate"]), str(props["ca_key"]), str(props["host"]), list(props["addresses"])
        )
        # The CA's key stays an input only: outputs hold what the host gets.
        outs = {"host": props["host"], "addresses": props["addresses"], "certificate": certificate}
        return pulumi.dynamic.CreateResult(id_=_short_id(certificate), outs={**outs, "private_key": key})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        # olds are the outputs: the CA is compared through the certificate it signed.
        changed = [key for key in ("host", "addresses") if olds.get(key) != news.get(key)]
        if not signed_by(olds.get("certificate"), news.get("ca_certificate")):
            changed.append("ca_certificate")
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=changed)


def signed_by(certificate: Any, ca_certificate: Any) -> bool:
    """Whether ``certificate`` was signed by ``ca_certificate`` (both PEM); True while either is
    not known yet (a preview), so that alone replaces nothing."""
    if not isinstance(certificate, str) or not isinstance(ca_certificate, str):
        return True
    issued = x509.load_pem_x509_certificate(certificate.encode())
    try:
        issued.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_certificate.encode()))
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class HostCertificate(pulumi.dynamic.Resource):
    """One host's server certificate, signed by the stack's CA; its key is a secret output."""

    certificate: pulumi.Output[str]
    private_key: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        host: str,
        addresses: pulumi.Input[Sequence[str]],
        ca_certificate: pulumi.Input[str],
        ca_key: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret = pulumi.ResourceOptions(additional_secret_outputs=["private_key"])
        super().__init__(
            _HostCertificateProvider(),
            name,
            {
                "host": host,
                "addresses": addresses,
                "ca_certificate": ca_certificate,
                "ca_key": pulumi.Output.secret(ca_key),
                "certificate": None,
                "private_key": None,
            },
            pulumi.ResourceOptions.merge(opts, secret),
        )
