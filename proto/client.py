"""What every client of the engine needs to connect: TLS settings (:class:`ClientTLS`), a channel
(:func:`engine_channel`) and a bearer token read from a file (:func:`read_token_file`).

Shared by the simulator's gRPC client (:mod:`sim.remote`), the operators' dashboard
(:mod:`dashboard.live`), the command line and the benchmarks, which may not import each other.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from matching.errors import InvalidValueError

from .pem import check_ca, read_pem

__all__ = ["ClientTLS", "engine_channel", "read_token_file"]


@dataclass(frozen=True)
class ClientTLS:
    """TLS to the engine: the CA that signed its certificate (PEM bytes; None: the system's CAs) and,
    for mutual TLS, this client's certificate chain and private key (PEM bytes)."""

    ca: bytes | None = None
    cert_chain: bytes | None = None
    private_key: bytes | None = None

    @classmethod
    def from_files(cls, ca: Path | None = None, cert: Path | None = None, key: Path | None = None) -> ClientTLS:
        """Read and check the files (options ``tls_ca``, ``tls_cert``, ``tls_key``): one
        :class:`InvalidValueError` naming the option and the file if one is missing, not PEM, or the
        key is not the certificate's."""
        if (cert is None) != (key is None):
            missing = "tls_key" if key is None else "tls_cert"
            raise InvalidValueError(missing, "missing: a client certificate needs both tls_cert and tls_key")
        ca_pem = None if ca is None else check_ca(ca, "tls_ca")
        if cert is None or key is None:
            return cls(ca_pem)
        cert_pem = read_pem(cert, "tls_cert", "a certificate", "CERTIFICATE")
        key_pem = read_pem(key, "tls_key", "a private key", "")
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key, password=lambda: "")
        except ssl.SSLError as exc:
            if exc.reason == "KEY_VALUES_MISMATCH":
                raise InvalidValueError("tls_key", f"{key} is not the key of the certificate {cert}") from None
            raise InvalidValueError(
                "tls_cert", f"{cert} with key {key}: not a usable certificate and unencrypted key ({exc.reason or exc})"
            ) from None
        return cls(ca_pem, cert_pem, key_pem)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.private_key, certificate_chain=self.cert_chain
        )


def engine_channel(
    target: str, tls: ClientTLS | None = None, options: list[tuple[str, Any]] | None = None
) -> grpc.Channel:
    """A gRPC channel to the engine at ``target`` (``host:port``): TLS with ``tls``, else plaintext."""
    if tls is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, tls.credentials(), options=options)


def read_token_file(path: Path) -> str:
    """The bearer token in the file ``path`` (its one line; surrounding blanks dropped); InvalidValueError
    (option ``token_file``) if the file is missing, unreadable or empty."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise InvalidValueError("token_file", f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidValueError("token_file", f"{path}: cannot be read ({exc})") from None
    if not token or len(token.splitlines()) != 1:
        raise InvalidValueError("token_file", f"{path}: expected the token alone on one line")
    return token
