"""Checks of values shared by the matching model, the service rules and the fares: ids, times,
numbers in a range, and dataclasses built from plain mappings.

Every check raises :class:`~matching.errors.InvalidValueError` (or the subclass given as
``error``, e.g. :class:`~matching.errors.InvalidRequestError` for what a rider sent) naming the
field and the allowed range. The id rule and the limits of the service clock live here too, since
the checks apply them; :mod:`matching.model` and :mod:`matching` export them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Final, TypeVar

import numpy as np

from routing import plain_repr

from .errors import InvalidValueError

#: Seconds in a day of the service clock.
DAY_S: Final = 86_400
#: Largest time accepted anywhere (366 days of service clock).
MAX_TIME_S: Final = 366 * DAY_S
#: Largest party a request may intrinsically carry; the service limit is
#: :attr:`ServiceParams.max_passengers_per_request <matching.params.ServiceParams.max_passengers_per_request>`.
MAX_PASSENGERS: Final = 100
#: The rule every id follows, in words.
ID_RULE: Final = "1 .. 64 characters from A-Z a-z 0-9 _ . : -"
#: The rule every id follows (match it with ``fullmatch``).
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: An id, or one scoped by its owner: ``"<owner id>/<id>"`` (see :func:`matching.model.scoped_id`).
SCOPED_ID_PATTERN: Final = re.compile(r"(?:[A-Za-z0-9_.:-]{1,64}/)?[A-Za-z0-9_.:-]{1,64}")
#: :data:`SCOPED_ID_PATTERN` in words.
SCOPED_ID_RULE: Final = f"{ID_RULE}, or <rider id>/<id>"
#: The longest part of a bad id an error message quotes.
_QUOTED_ID = 24


def id_problem(value: str, *, scoped: bool = False) -> str | None:
    """What is wrong with ``value`` as an id (None: nothing), in words that never quote a long id
    whole: the first character the rule does not allow (by position), or the length.

    With ``scoped``, ``"<owner id>/<id>"`` is allowed too (:data:`SCOPED_ID_PATTERN`)."""
    if (SCOPED_ID_PATTERN if scoped else ID_PATTERN).fullmatch(value):
        return None
    if not value:
        return "missing"
    short = len(value) <= _QUOTED_ID
    for k, ch in enumerate(value):
        if not (ch.isascii() and (ch.isalnum() or ch in "_.:-" or (scoped and ch == "/"))):
            return f"character {k + 1} is {ch!r}" + (f" in {plain_repr(value)}" if short else "")
    parts = value.split("/")
    if len(parts) > 2:
        return f"{len(parts) - 1} '/' (at most one, between a rider id and an id)"
    for part in parts:
        if not part:
            return "an empty part before or after '/'"
        if len(part) > 64:
            return (
                f"{len(part)} characters"
                + ("" if part == value else " after or before '/'")
                + (f", starting {plain_repr(part[:_QUOTED_ID])}")
            )
    return f"got {plain_repr(value[:_QUOTED_ID])}"  # unreachable: every way to break the rule is named above


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def range_text(lo: float, hi: float | None, unit: str) -> str:
    """The allowed range in words: ``">= lo unit"`` or ``"lo .. hi unit"``."""
    suffix = f" {unit}" if unit else ""
    return f">= {lo}{suffix}" if hi is None else f"{lo} .. {hi}{suffix}"


def check_int(
    field: str,
    value: object,
    lo: int,
    hi: int | None = None,
    *,
    unit: str = "",
    error: type[InvalidValueError] = InvalidValueError,
) -> int:
    """``value`` as an ``int`` in ``lo .. hi`` (``hi=None``: no upper bound); bools are refused."""
    if not is_int(value):
        raise error(field, f"expected an integer, got {plain_repr(value)}", range_text(lo, hi, unit))
    number = int(value)  # type: ignore[call-overload]
    if number < lo or (hi is not None and number > hi):
        raise error(field, f"got {number}", range_text(lo, hi, unit))
    return number


def check_float(
    field: str,
    value: object,
    lo: float,
    hi: float | None = None,
    *,
    unit: str = "",
    error: type[InvalidValueError] = InvalidValueError,
) -> float:
    """``value`` as a finite ``float`` in ``lo .. hi``; ints are accepted, bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise error(field, f"expected a number, got {plain_repr(value)}", range_text(lo, hi, unit))
    number = float(value)
    if not math.isfinite(number):
        raise error(field, f"got {plain_repr(number)}; the value must be finite", range_text(lo, hi, unit))
    if number < lo or (hi is not None and number > hi):
        raise error(field, f"got {plain_repr(number)}", range_text(lo, hi, unit))
    return number


def check_time(field: str, value: object, *, error: type[InvalidValueError] = InvalidValueError) -> int:
    """A time on the service clock: an int in ``0 .. MAX_TIME_S``, with a hint for Unix times."""
    if is_int(value) and int(value) > MAX_TIME_S:  # type: ignore[call-overload]
        raise error(
            field,
            f"got {value}; times are seconds since midnight of the service day, not Unix times",
            range_text(0, MAX_TIME_S, "s"),
        )
    return check_int(field, value, 0, MAX_TIME_S, unit="s", error=error)


def check_id(
    field: str,
    value: object,
    *,
    error: type[InvalidValueError] = InvalidValueError,
    scoped: bool = False,
) -> str:
    """``value`` as an id (with ``scoped``, or one scoped by its owner: :data:`SCOPED_ID_PATTERN`)."""
    if not isinstance(value, str):
        raise error(field, f"expected a string, got {type(value).__name__}", ID_RULE)
    problem = id_problem(value, scoped=scoped)
    if problem is not None:
        raise error(field, problem, SCOPED_ID_RULE if scoped else ID_RULE)
    return value


def set_field(obj: object, name: str, value: object) -> None:
    """Normalise a field of a frozen dataclass in ``__post_init__``."""
    object.__setattr__(obj, name, value)


_T = TypeVar("_T")


def from_mapping(
    cls: type[_T],
    data: object,
    *,
    error: type[InvalidValueError] = InvalidValueError,
    prefix: str = "",
) -> _T:
    """Build the dataclass ``cls`` from a plain mapping, refusing unknown and missing keys.

    Field names in errors carry ``prefix`` (e.g. ``"service."``). Values are checked by the
    class itself.
    """
    if not isinstance(data, Mapping):
        raise error(prefix.rstrip(".") or cls.__name__, f"expected a mapping of fields, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    known = ", ".join(fields)
    for key in data:
        if key not in fields:
            raise error(f"{prefix}{key}", "unknown field", known)
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in data:
            raise error(f"{prefix}{name}", "missing (required)")
    try:
        return cls(**data)
    except InvalidValueError as exc:
        if not prefix:
            raise
        raise error(f"{prefix}{exc.field}", exc.message, exc.allowed) from exc
