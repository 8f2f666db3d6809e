"""Exceptions raised by the matching layer.

One module for every error class, so that the live engine can map each to a status code in
one table. Every error names what was wrong (the field, the id, the reason) and, where it
applies, the allowed range, so that a command line or an API can show it as is:

* :class:`InvalidValueError` — a value outside its allowed range (service parameters, fare
  policies, vehicles, offers); :class:`InvalidRequestError`, its subclass, for what a rider
  sent (a :class:`~matching.model.Request`), so that an API can answer "invalid argument";
* :class:`ParamsFileError` — a parameter file that cannot be read (missing, not TOML);
* :class:`NotFoundError` — an unknown ride, vehicle or offer id;
* :class:`ConflictError` — an operation the current state forbids (cancelling a completed
  ride, booking an expired offer).

A request the service cannot serve is not an error: the dispatcher answers it with a
:class:`~matching.model.Rejection` that carries a :class:`~matching.model.RejectReason`.
"""

from __future__ import annotations

from pathlib import Path


class MatchingError(Exception):
    """Base class of every error raised by :mod:`matching`."""


class InvalidValueError(MatchingError, ValueError):
    """A value is outside its allowed range.

    The message reads ``"field: message (allowed: ...)"``, like
    :class:`routing.InvalidArgumentError`.

    Attributes:
        field: the field's name (dotted for nested values, e.g. ``service.max_wait_s``).
        message: what is wrong with the value, without the field's name.
        allowed: the allowed range or values, in words, or ``None``.
    """

    def __init__(self, field: str, message: str, allowed: str | None = None) -> None:
        self.field = field
        self.message = message
        self.allowed = allowed
        text = f"{field}: {message}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text)


class InvalidRequestError(InvalidValueError):
    """A rider's request is malformed (a field is missing, of the wrong type or out of range).

    Attributes:
        field: the request field at fault (e.g. ``origin_lat``, ``passengers``).
        allowed: the allowed range or values, in words, or ``None``.
    """


class ParamsFileError(MatchingError):
    """A parameter file could not be read.

    Attributes:
        path: the file that was read.
        reason: a short human-readable reason (not found, not valid TOML, ...).
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class NotFoundError(MatchingError, LookupError):
    """No object of this kind has this id.

    Attributes:
        kind: what was looked up (``"ride"``, ``"vehicle"``, ``"offer"``, ...).
        id: the id that was not found.
    """

    def __init__(self, kind: str, id: str) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"unknown {kind} id {id!r}")


class ConflictError(MatchingError):
    """The operation is not allowed in the current state.

    Attributes:
        reason: why, in words (e.g. ``"ride r-17 is already completed"``).
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
