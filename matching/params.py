"""Service rules of a demand-responsive service, as one frozen, validated :class:`ServiceParams`."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routing import plain_repr

from .checks import DAY_S, MAX_PASSENGERS, check_float, check_int, from_mapping, set_field
from .errors import InvalidValueError, ParamsFileError

#: The largest pre-booking horizon accepted (a year).
MAX_PREBOOK_HORIZON_S = 365 * DAY_S

_WEIGHT_MAX = 1e6


@dataclass(frozen=True, kw_only=True)
class ServiceParams:
    """The rules of one demand-responsive service; the defaults describe Incheon's I-MOD.

    Every field is checked on construction (:class:`~matching.errors.InvalidValueError`
    names the field and its allowed range). Variants by :func:`dataclasses.replace`.
    Read them from the ``[service]`` table of a TOML file with :meth:`from_toml` (every key
    optional, unknown keys refused)::

        [service]
        max_wait_s = 600
        max_ride_alpha = 1.5
        max_ride_beta_s = 600
        max_walk_m = 300
        service_start_s = 21600   # 06:00
        service_end_s = 82800     # 23:00
        zone = [[37.505, 127.075], [37.505, 127.125], [37.535, 127.125], [37.535, 127.075]]

    Times are integer seconds (times of day are seconds after midnight), distances integer
    metres.
    """

    max_wait_s: int = 900
    """Longest wait: the pickup happens by the requested time plus this (60 .. 7200 s)."""
    max_ride_alpha: float = 1.5
    """Factor on the direct drive time in the longest allowed ride (1 .. 10; see :meth:`max_ride_s`)."""
    max_ride_beta_s: int = 600
    """Time added to the scaled direct time in the longest allowed ride (0 .. 7200 s)."""
    max_absolute_detour_s: int = 1200
    """Cap on the ride time beyond the direct time (0 .. 7200 s; see :meth:`max_ride_s`)."""
    dwell_s: int = 30
    """Time a vehicle spends at each stop it serves, whoever boards (0 .. 600 s)."""
    boarding_s_per_passenger: int = 5
    """Extra time per passenger boarding or alighting (0 .. 120 s)."""
    max_walk_m: int = 400
    """Longest straight-line walk to or from a stop (0 .. 3000 m)."""
    zone: tuple[tuple[float, float], ...] | None = None
    """Service area as a polygon of at least three ``(lat, lon)`` vertices; ``None``: the whole network."""
    service_start_s: int = 6 * 3600
    """Time of day the service opens: requested pickups from here (0 .. 86399 s)."""
    service_end_s: int = 23 * 3600
    """Time of day the service closes, exclusive; after ``service_start_s``, up to a day later (past midnight)."""
    prebook_horizon_s: int = 7 * DAY_S
    """How far ahead of now a pickup may be requested (0 .. 365 days)."""
    min_lead_time_s: int = 0
    """Minimum notice: a pickup may be requested no sooner than now plus this (0 .. ``prebook_horizon_s``)."""
    promise_early_s: int = 120
    """The promised pickup window opens this long before the planned pickup (0 .. 3600 s)."""
    promise_late_s: int = 300
    """The promised pickup window closes this long after the planned pickup (0 .. 7200 s)."""
    vehicle_time_weight: float = 1.0
    """Insertion cost per second of extra vehicle driving and dwelling (>= 0)."""
    passenger_delay_weight: float = 1.0
    """Insertion cost per second of delay to riders already booked (>= 0)."""
    new_rider_wait_weight: float = 0.1
    """Insertion cost per second the new rider waits after the requested time (>= 0)."""
    offer_ttl_s: int = 120
    """How long an offer stays valid for booking (1 .. 3600 s)."""
    max_passengers_per_request: int = 8
    """Largest party one booking may carry (1 .. 100)."""
    reoptimise_interval_s: int = 60
    """Time between periodic re-optimisations; 0 turns them off (0 .. 86400 s)."""
    reoptimise_deadline_ms: int = 200
    """Wall-clock budget of one re-optimisation (1 .. 60000 ms, within the interval)."""

    def __post_init__(self) -> None:
        ints: dict[str, tuple[int, int, str]] = {
            "max_wait_s": (60, 7200, "s"),
            "max_ride_beta_s": (0, 7200, "s"),
            "max_absolute_detour_s": (0, 7200, "s"),
            "dwell_s": (0, 600, "s"),
            "boarding_s_per_passenger": (0, 120, "s"),
            "max_walk_m": (0, 3000, "m"),
            "service_start_s": (0, DAY_S - 1, "s"),
            "prebook_horizon_s": (0, MAX_PREBOOK_HORIZON_S, "s"),
            "promise_early_s": (0, 3600, "s"),
            "promise_late_s": (0, 7200, "s"),
            "offer_ttl_s": (1, 3600, "s"),
            "max_passengers_per_request": (1, MAX_PASSENGERS, ""),
            "reoptimise_interval_s": (0, DAY_S, "s"),
            "reoptimise_deadline_ms": (1, 60_000, "ms"),
        }
        for name, (lo, hi, unit) in ints.items():
            set_field(self, name, check_int(name, getattr(self, name), lo, hi, unit=unit))
        start = self.service_start_s
        end = check_int("service_end_s", self.service_end_s, start + 1, start + DAY_S, unit="s")
        set_field(self, "service_end_s", end)
        set_field(
            self,
            "min_lead_time_s",
            check_int("min_lead_time_s", self.min_lead_time_s, 0, self.prebook_horizon_s, unit="s"),
        )
        set_field(self, "max_ride_alpha", check_float("max_ride_alpha", self.max_ride_alpha, 1.0, 10.0))
        for name in ("vehicle_time_weight", "passenger_delay_weight", "new_rider_wait_weight"):
            set_field(self, name, check_float(name, getattr(self, name), 0.0, _WEIGHT_MAX))
        if self.reoptimise_interval_s > 0 and self.reoptimise_deadline_ms > 1000 * self.reoptimise_interval_s:
            raise InvalidValueError(
                "reoptimise_deadline_ms",
                f"{self.reoptimise_deadline_ms} ms is longer than "
                f"reoptimise_interval_s ({self.reoptimise_interval_s} s)",
                f"1 .. {1000 * self.reoptimise_interval_s} ms",
            )
        if self.zone is not None:
            set_field(self, "zone", _check_zone(self.zone))

    # ------------------------------------------------------------------ rules
    def max_ride_s(self, direct_time_s: int) -> int:
        """Longest allowed ride for a trip whose direct drive takes ``direct_time_s``.

        As MATSim DRT defines it: ``min(alpha * direct + beta, direct + max_absolute_detour)``
        with ``alpha = max_ride_alpha``, ``beta = max_ride_beta_s``; ``alpha * direct`` is
        rounded down to whole seconds.
        """
        direct = check_int("direct_time_s", direct_time_s, 0, unit="s")
        scaled = math.floor(self.max_ride_alpha * direct + 1e-9) + self.max_ride_beta_s
        return min(scaled, direct + self.max_absolute_detour_s)

    def service_time_s(self, passengers: int) -> int:
        """Time at a stop where ``passengers`` board or alight: ``dwell_s + boarding_s_per_passenger * passengers``."""
        count = check_int("passengers", passengers, 0, unit="passengers")
        return self.dwell_s + self.boarding_s_per_passenger * count

    def latest_pickup_s(self, requested_time_s: int) -> int:
        """The latest pickup allowed for a request: ``requested_time_s + max_wait_s``."""
        return check_int("requested_time_s", requested_time_s, 0, unit="s") + self.max_wait_s

    def pickup_window(self, requested_time_s: int, eta_s: int) -> tuple[int, int]:
        """The promised pickup window for a pickup planned at ``eta_s``.

        ``[max(requested, eta - promise_early_s), min(requested + max_wait_s, eta + promise_late_s)]``;
        it always contains ``eta_s``, which must lie in ``requested .. requested + max_wait_s``.
        """
        latest = self.latest_pickup_s(requested_time_s)
        eta = check_int("eta_s", eta_s, requested_time_s, latest, unit="s")
        return max(requested_time_s, eta - self.promise_early_s), min(latest, eta + self.promise_late_s)

    def in_service_hours(self, time_s: int) -> bool:
        """Whether a pickup at ``time_s`` (any day of the service clock) falls in the service hours.

        The hours are ``[service_start_s, service_end_s)`` of every day; ``service_end_s`` past
        86400 runs over midnight into the next day.
        """
        t = check_int("time_s", time_s, 0, unit="s")
        return (t % DAY_S - self.service_start_s) % DAY_S < self.service_end_s - self.service_start_s

    # ------------------------------------------------------------------ construction
    @classmethod
    def default_imod(cls) -> ServiceParams:
        """The I-MOD defaults (the same as ``ServiceParams()``)."""
        return cls()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, prefix: str = "") -> ServiceParams:
        """Parameters from a plain mapping of field names (every key optional, unknown keys refused).

        ``prefix`` is put before field names in errors (``from_toml`` uses ``"service."``).
        """
        return from_mapping(cls, data, prefix=prefix)

    @classmethod
    def from_toml(cls, path: str | Path, *, table: str = "service") -> ServiceParams:
        """Parameters from the ``[service]`` table (or ``table``) of a TOML file; defaults without one.

        Raises:
            ParamsFileError: the file is missing or not valid TOML.
            InvalidValueError: a key is unknown or a value out of range (named ``service.<key>``).
        """
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise ParamsFileError(path, "file not found") from exc
        except IsADirectoryError as exc:
            raise ParamsFileError(path, "is a directory, not a file") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ParamsFileError(path, f"not valid TOML: {exc}") from exc
        section = doc.get(table, {})
        if not isinstance(section, dict):
            raise InvalidValueError(table, f"expected a table, got {type(section).__name__}", f"[{table}]")
        return cls.from_dict(section, prefix=f"{table}.")

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain values (``zone`` as a list of ``[lat, lon]`` lists; ``None`` left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = [list(v) for v in value] if f.name == "zone" else value
        return out

    def to_toml(self, *, table: str = "service") -> str:
        """The parameters as a TOML document with one ``[service]`` table; :meth:`from_toml` reads it back."""
        lines = [f"[{table}]"]
        for name, value in self.to_dict().items():
            if name == "zone":
                vertices = ", ".join(f"[{lat!r}, {lon!r}]" for lat, lon in value)
                lines.append(f"{name} = [{vertices}]")
            else:
                lines.append(f"{name} = {value!r}")
        return "\n".join(lines) + "\n"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _check_zone(zone: object) -> tuple[tuple[float, float], ...]:
    """The zone polygon as a tuple of ``(lat, lon)`` float pairs; a closing vertex is dropped."""
    rule = "a list of at least 3 [lat, lon] vertices enclosing an area"
    if isinstance(zone, str | bytes) or not isinstance(zone, Sequence):
        raise InvalidValueError("zone", f"expected a list of [lat, lon] vertices, got {plain_repr(zone)}", rule)
    vertices: list[tuple[float, float]] = []
    for i, vertex in enumerate(zone):
        if isinstance(vertex, str | bytes) or not isinstance(vertex, Sequence) or len(vertex) != 2:
            raise InvalidValueError(f"zone[{i}]", f"expected a [lat, lon] pair, got {plain_repr(vertex)}", rule)
        first, second = vertex
        if (
            _is_number(first)
            and _is_number(second)
            and 90.0 < abs(float(first)) <= 180.0
            and abs(float(second)) <= 90.0
        ):
            raise InvalidValueError(
                f"zone[{i}].lat",
                f"got {plain_repr(first)}; lat and lon look swapped: each vertex is [lat, lon], "
                f"so this one would be [{plain_repr(second)}, {plain_repr(first)}]",
                "-90 .. 90 degrees",
            )
        lat = check_float(f"zone[{i}].lat", vertex[0], -90.0, 90.0, unit="degrees")
        lon = check_float(f"zone[{i}].lon", vertex[1], -180.0, 180.0, unit="degrees")
        vertices.append((lat, lon))
    # A closed ring (GeoJSON style) lists its first vertex again at the end; repeats add nothing.
    vertices = [v for i, v in enumerate(vertices) if i == 0 or v != vertices[i - 1]]
    if len(vertices) > 1 and vertices[0] == vertices[-1]:
        vertices.pop()
    if len(set(vertices)) < 3:
        raise InvalidValueError("zone", f"got {len(set(vertices))} distinct vertices", rule)
    # Shoelace formula, relative to the first vertex so that large coordinates do not cancel.
    lat_ref, lon_ref = vertices[0]
    twice_area = 0.0
    for (lat0, lon0), (lat1, lon1) in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        twice_area += (lon0 - lon_ref) * (lat1 - lat_ref) - (lon1 - lon_ref) * (lat0 - lat_ref)
    if abs(twice_area) < 1e-14:
        raise InvalidValueError("zone", "the vertices enclose no area (they lie on one line)", rule)
    return tuple(vertices)
