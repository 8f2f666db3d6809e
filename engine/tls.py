"""TLS on the engine's gRPC port (``mobility serve --tls-cert F --tls-key F [--tls-client-ca F]``).

The server presents ``tls_cert`` (a PEM certificate, or a chain: the server's certificate first,
then its intermediates) with ``tls_key`` (its unencrypted PEM private key). With
``tls_client_ca`` it also asks every client for a certificate and accepts only those that CA
signed (mutual TLS); the bearer tokens still say who may do what.

The files are read and checked when the settings are made (:class:`~engine.settings.Settings`),
before anything starts, so a missing or unreadable file, a file that is not PEM, a key that does
not belong to the certificate, an encrypted key or a CA file without a certificate is one clear
error naming the option and the file; gRPC itself would report most of them only when the first
client connects. The checks use Python's own :mod:`ssl` (OpenSSL), the credentials are gRPC's.
Front ends (``--frontends N``) each read the same files and serve the same credentials.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from matching.errors import InvalidValueError
from proto.pem import check_ca, read_pem

__all__ = ["ServerTLS", "check_ca", "check_key_pair", "load_server_tls", "read_pem"]


def _no_password() -> str:
    raise _EncryptedKey


class _EncryptedKey(Exception):
    """The private key asks for a password (gRPC takes unencrypted keys only)."""


@dataclass(frozen=True)
class ServerTLS:
    """The server's certificate chain and key, and the CA of the client certificates it accepts (PEM bytes)."""

    cert_chain: bytes
    private_key: bytes
    client_ca: bytes | None = None

    def credentials(self) -> grpc.ServerCredentials:
        """gRPC server credentials: TLS, with client certificates required when a client CA is set."""
        return grpc.ssl_server_credentials(
            [(self.private_key, self.cert_chain)],
            root_certificates=self.client_ca,
            require_client_auth=self.client_ca is not None,
        )


def check_key_pair(cert: Path, key: Path, cert_option: str, key_option: str) -> tuple[bytes, bytes]:
    """The PEM bytes of the certificate ``cert`` and its private key ``key``, checked: both PEM, the key
    unencrypted and the certificate's own; :class:`InvalidValueError` naming the option at fault."""
    cert_chain = read_pem(cert, cert_option, "a certificate", "CERTIFICATE")
    private_key = read_pem(key, key_option, "a private key", "")
    if b"PRIVATE KEY-----" not in private_key:
        raise InvalidValueError(key_option, f"{key}: not a private key in PEM form (no 'PRIVATE KEY' block)")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=_no_password)
    except _EncryptedKey:
        raise InvalidValueError(key_option, f"{key}: the key is encrypted; give it unencrypted") from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise InvalidValueError(key_option, f"{key} is not the key of the certificate {cert}") from None
        raise InvalidValueError(
            cert_option, f"{cert} with key {key}: not a usable certificate and key ({exc.reason or exc})"
        ) from None
    return cert_chain, private_key


def load_server_tls(cert: Path, key: Path, client_ca: Path | None = None) -> ServerTLS:
    """Read and check the server's TLS files (see the module docstring); :class:`InvalidValueError`
    naming the option (``tls_cert``, ``tls_key``, ``tls_client_ca``) and the file if one is wrong."""
    cert_chain, private_key = check_key_pair(cert, key, "tls_cert", "tls_key")
    ca = None if client_ca is None else check_ca(client_ca, "tls_client_ca")
    return ServerTLS(cert_chain, private_key, ca)
