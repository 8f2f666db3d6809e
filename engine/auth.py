"""Bearer-token authentication: who is calling, in which role.

A token file (TOML) lists the tokens::

    [[tokens]]
    token = "rider-alice-7f3c"
    role = "rider"        # rider, driver or operator
    subject = "alice"     # the rider id, or the vehicle id for a driver; "*" for operators

Calls carry ``authorization: Bearer <token>`` in their metadata (the scheme name in any case,
as RFC 6750 allows). A rider sees and changes only their own rides; a driver only their own
vehicle; an operator everything. Without a token file authentication is off and every caller is
an operator (local use and simulations). Rider and driver subjects are ids
(:data:`matching.ID_RULE`): a rider's ride ids are kept as ``"<rider>/<request id>"`` (see
:mod:`engine.servicers`).

Every call is identified once, when it starts, by the server's interceptor
(:mod:`engine.gateway`), before its message is read; the handler finds its caller in
:data:`CALLER` (:func:`caller`).
"""

from __future__ import annotations

import contextvars
import hmac
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from matching import ID_RULE, id_problem
from matching.errors import InvalidValueError

from .errors import PermissionDenied, Unauthenticated

ROLES = ("rider", "driver", "operator")


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise PermissionDenied(f"a {self.role} may not do this (needs: {', '.join(roles)})")

    def may_see_ride(self, rider_id: str | None) -> bool:
        return self.role == "operator" or (self.role == "rider" and rider_id == self.subject)

    def may_drive(self, vehicle_id: str) -> bool:
        return self.role == "operator" or (self.role == "driver" and vehicle_id == self.subject)


OPERATOR = Principal("operator", "*")

#: The caller of the call being served (set by the server's interceptor when the call starts).
CALLER: contextvars.ContextVar[Principal] = contextvars.ContextVar("caller")


def caller() -> Principal:
    """The caller of the call being served (see :data:`CALLER`); Unauthenticated if the call was
    not identified (which only a handler reached without the interceptor would see)."""
    try:
        return CALLER.get()
    except LookupError:
        raise Unauthenticated("the call was not authenticated") from None


class TokenTable:
    """Tokens -> principals (constant-time comparison)."""

    def __init__(self, entries: Iterable[tuple[str, Principal]] | None) -> None:
        self.enabled = entries is not None
        self._entries = list(entries or [])

    @classmethod
    def from_file(cls, path: str | Path | None) -> TokenTable:
        if path is None:
            return cls(None)
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise InvalidValueError("tokens", f"file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InvalidValueError("tokens", f"{path} is not valid TOML ({exc})") from exc
        entries = []
        for k, row in enumerate(doc.get("tokens", [])):
            token, role, subject = row.get("token"), row.get("role"), row.get("subject")
            if not isinstance(token, str) or len(token) < 8:
                raise InvalidValueError(f"tokens[{k}].token", "missing or shorter than 8 characters")
            if role not in ROLES:
                raise InvalidValueError(f"tokens[{k}].role", f"got {role!r}", ", ".join(ROLES))
            if not isinstance(subject, str) or not subject:
                raise InvalidValueError(f"tokens[{k}].subject", "missing")
            if role != "operator" and id_problem(subject) is not None:
                raise InvalidValueError(f"tokens[{k}].subject", f"{id_problem(subject)} (a {role}'s id)", ID_RULE)
            entries.append((token, Principal(role, subject)))
        if not entries:
            raise InvalidValueError("tokens", f"{path} defines no [[tokens]]")
        return cls(entries)

    def identify(self, metadata: Iterable[tuple[str, str | bytes]] | None) -> Principal:
        """The caller a call's metadata names (Unauthenticated if none, or an unknown token)."""
        if not self.enabled:
            return OPERATOR
        header = None
        for key, value in metadata or ():
            if key.lower() == "authorization":
                header = value.decode(errors="replace") if isinstance(value, bytes) else value
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("missing 'authorization: Bearer <token>' metadata")
        token = token.strip()
        for known, principal in self._entries:
            if hmac.compare_digest(known.encode(), token.encode()):
                return principal
        raise Unauthenticated("unknown token")
