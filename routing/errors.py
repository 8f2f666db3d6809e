"""Exceptions raised by the routing layer.

Every error names what was wrong (the file, the argument, the field) and, where it
applies, the allowed range, so that a command line or an API can show it as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def plain_repr(value: object) -> str:
    """``repr`` of a value as its user wrote it, for error messages: NumPy scalars as Python
    numbers and strings (``200.0``, not NumPy 2's ``np.float64(200.0)``), arrays as lists,
    also inside lists, tuples and dicts. Every "got ..." of the routing and matching errors
    goes through it, whatever type the caller passed."""
    return repr(_plain(value))


class RoutingError(Exception):
    """Base class of every error raised by :mod:`routing`."""


class NetworkFileError(RoutingError):
    """A road-network file could not be turned into a network.

    Attributes:
        path: the file that was read.
        reason: a short human-readable reason (missing, empty, corrupt, no roads, ...).
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class InvalidArgumentError(RoutingError, ValueError):
    """An argument is outside its allowed range.

    Attributes:
        field: the argument's name.
        allowed: the allowed range or values, in words.
    """

    def __init__(self, field: str, message: str, allowed: str | None = None) -> None:
        self.field = field
        self.allowed = allowed
        text = f"{field}: {message}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text)


class SnapError(RoutingError):
    """A point is farther from the road network than the allowed snapping distance."""

    def __init__(self, lat: float, lon: float, distance_m: float, max_distance_m: float) -> None:
        self.lat = lat
        self.lon = lon
        self.distance_m = distance_m
        self.max_distance_m = max_distance_m
        super().__init__(
            f"point ({lat:.6f}, {lon:.6f}) is {distance_m:.0f} m from the nearest road node; "
            f"the maximum snapping distance is {max_distance_m:.0f} m"
        )
