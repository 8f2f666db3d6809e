"""Exceptions raised by :mod:`planning`.

They derive from :class:`routing.errors.RoutingError`, so the command line shows them as one
line (``mobility: error: FILE: reason``) like every other bad input.
"""

from __future__ import annotations

from pathlib import Path

from routing.errors import InvalidArgumentError, RoutingError

__all__ = ["InvalidArgumentError", "InvalidRouteSetError", "PlanningError", "PlanningFileError", "whole_number"]


class PlanningError(RoutingError):
    """Base class of every error raised by :mod:`planning`."""


class PlanningFileError(PlanningError):
    """An input file (benchmark matrix, stops, OD table, route set, GTFS feed) could not be read.

    Attributes:
        path: the file.
        reason: a short reason, with the line (and column or field) where it applies.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class InvalidRouteSetError(PlanningError, ValueError):
    """A route set breaks a rule of its problem (a stop that does not exist, consecutive stops
    with no link between them, a stop repeated in a route, ...).

    Attributes:
        route: index (0-based) of the first offending route, or -1 for the set as a whole.
        reason: what is wrong, in words.
    """

    def __init__(self, route: int, reason: str) -> None:
        self.route = route
        self.reason = reason
        where = f"route {route + 1}" if route >= 0 else "route set"
        super().__init__(f"{where}: {reason}")


def whole_number(field: str, value: object, lo: int, hi: int) -> int:
    """``value`` as an ``int`` when it is a whole number (not a bool) in ``lo .. hi``; otherwise
    :class:`InvalidArgumentError` naming ``field`` and the range. The one check of the room's
    whole-number settings (route counts, stops, pool sizes, spec keys)."""
    import numpy as np

    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise InvalidArgumentError(field, f"got {value!r}", f"whole numbers {lo} .. {hi}")
    return int(value)
