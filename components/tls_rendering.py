"""The script that writes a host's TLS files (rocketmq:tls): the CA, the host's certificate and
key, and RocketMQ's TLS settings (components/tls_settings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.rendering import HEREDOC, render
from components.tls_settings import CA_FILE, CERTIFICATE_FILE, KEY_FILE, TLS_DIR, TLS_PROPERTIES, TLS_PROPERTIES_FILE


@dataclass(frozen=True)
class HostTlsFiles:
    """What one host gets: the CA, and its own certificate and key (PEM)."""

    ca_certificate: str
    certificate: str
    private_key: str = field(repr=False)


def render_tls_script(host_label: str, files: HostTlsFiles) -> str:
    """Writes the host's certificate, key and the CA, and RocketMQ's TLS settings; with `delete`,
    removes them. It holds a private key: it reaches the host only as a Pulumi secret, on stdin."""
    contents = (files.ca_certificate, files.certificate, files.private_key)
    if any(HEREDOC in text for text in contents):
        raise ValueError("a certificate would end its here-document early")
    return render(
        "tls-files.sh.j2",
        host_label=host_label,
        heredoc=HEREDOC,
        tls_dir=TLS_DIR,
        ca_file=CA_FILE,
        certificate_file=CERTIFICATE_FILE,
        key_file=KEY_FILE,
        properties_file=TLS_PROPERTIES_FILE,
        properties="".join(f"{key}={value}\n" for key, value in TLS_PROPERTIES.items()),
        ca_certificate=_with_newline(files.ca_certificate),
        certificate=_with_newline(files.certificate),
        private_key=_with_newline(files.private_key),
    )


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
