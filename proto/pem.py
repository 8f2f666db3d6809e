"""The PEM files of the API's TLS channels, read and checked the same way by the engine (its
server and front ends, :mod:`engine.tls`) and by its clients (the simulator's, :mod:`sim.remote`).

A file that is missing, unreadable or not what it should be is one :class:`InvalidValueError`
naming the option that gave it (``tls_ca``, ``tls_cert``, ...) and the file.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from matching.errors import InvalidValueError

__all__ = ["check_ca", "read_pem"]


def read_pem(path: Path, option: str, what: str, marker: str) -> bytes:
    """The bytes of the PEM file ``path`` holding ``what``; :class:`InvalidValueError` naming ``option``
    if it is missing, unreadable, or has no ``-----BEGIN <marker>`` block."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidValueError(option, f"{path}: no such file") from None
    except OSError as exc:
        raise InvalidValueError(option, f"{path}: cannot be read ({exc.strerror or exc})") from None
    if f"-----BEGIN {marker}".encode() not in data:
        raise InvalidValueError(option, f"{path}: not {what} in PEM form (no '-----BEGIN {marker}' line)")
    return data


def check_ca(path: Path, option: str) -> bytes:
    """The PEM bytes of the CA certificate(s) in ``path``, checked; :class:`InvalidValueError` naming ``option``."""
    ca = read_pem(path, option, "a CA certificate", "CERTIFICATE")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=ca.decode("ascii", errors="replace"))
    except ssl.SSLError as exc:
        raise InvalidValueError(option, f"{path}: not a usable CA certificate ({exc.reason or exc})") from None
    return ca
