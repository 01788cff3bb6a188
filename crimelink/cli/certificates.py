"""A private CA and one server certificate it signed, made with ``cryptography``: for the secured local broker
(``crimelink broker start --secure``) and for the TLS of a deployment's web servers (``crimelink certificates``,
``deploy/compose.yaml``). Keys are written 0600 in a 0700 folder and never leave it."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["Issued", "issue", "write_private"]

_DAYS = 825  # the longest validity browsers accept for a server certificate


@dataclass(frozen=True)
class Issued:
    """PEM texts: the CA's certificate, the server's certificate and the server's private key (PKCS#8)."""

    ca: str
    certificate: str
    key: str


def issue(ca_name: str, hosts: list[str]) -> Issued:
    """A new CA named ``ca_name`` and a server certificate for ``hosts`` (DNS names or IP addresses, the first its
    common name), P-256 keys, valid for 825 days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if not hosts:
        raise ValueError("a server certificate needs at least one host name")
    now = datetime.now(UTC)

    def alternative(host: str) -> x509.GeneralName:
        try:
            return x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            return x509.DNSName(host)

    def certificate(subject: str, key: Any, issuer: x509.Name | None, signer: Any, *, ca: bool) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=_DAYS))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([alternative(host) for host in hosts]),
                                            critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate(ca_name, ca_key, None, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = certificate(hosts[0], server_key, ca_cert.subject, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    key_pem = server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return Issued(ca_cert.public_bytes(pem).decode(), server_cert.public_bytes(pem).decode(), key_pem.decode())


def write_private(path: Path, text: str) -> None:
    """Written 0600 whatever the umask: the file holds a password or a private key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    path.chmod(0o600)
