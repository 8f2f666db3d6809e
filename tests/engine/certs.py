"""Certificates made in the tests (``cryptography``): a CA, and server or client certificates it signs.

:func:`make_tls_files` writes what a TLS test needs into a folder: a CA, a server certificate for
``127.0.0.1`` and ``localhost`` signed by it, a client certificate signed by it (mutual TLS), a
second CA that signed nothing the server holds, and a client certificate of that other CA. Keys
are EC P-256 (quick to make); certificates are valid from an hour ago for a day.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of one test's certificates (see the module docstring)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    other_client_cert: Path
    other_client_key: Path


@dataclass(frozen=True)
class _Issuer:
    name: x509.Name
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


_CA_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
)  # fmt: skip
_NAMES = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key", "other-ca.pem", "other-client.pem",
          "other-client.key")  # fmt: skip


def make_ca(common_name: str, cert_path: Path) -> _Issuer:
    """A self-signed CA, its certificate written to ``cert_path``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = _validity(builder).sign(key, hashes.SHA256())
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return _Issuer(name, key)


def issue(issuer: _Issuer, common_name: str, cert_path: Path, key_path: Path, *, server: bool) -> None:
    """A certificate signed by ``issuer``: for a server (names ``127.0.0.1`` and ``localhost``) or a client."""
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    )
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = _validity(builder).sign(issuer.key, hashes.SHA256())
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)


def make_tls_files(folder: Path) -> TLSFiles:
    """Every certificate and key of :class:`TLSFiles`, written into ``folder``."""
    files = TLSFiles(*(folder / name for name in _NAMES))
    ca = make_ca("mobility test CA", files.ca)
    issue(ca, "mobility engine", files.server_cert, files.server_key, server=True)
    issue(ca, "operator-main", files.client_cert, files.client_key, server=False)
    other = make_ca("some other CA", files.other_ca)
    issue(other, "intruder", files.other_client_cert, files.other_client_key, server=False)
    return files
