"""Trip tables (origin-destination, OD) for a city: read from a CSV file, or a gravity model.

**OD CSV.** A header row, then one row per OD pair (or per trip, as a transit-card export gives
them). Dialect and encodings as :func:`planning.stops_io.read_csv_table`. The columns, found by
name (case ignored; the first alias present wins), are either

* by stop: ``origin`` and ``destination`` (aliases ``o``, ``from``, ``origin_stop``,
  ``o_stop``, ``from_stop``, ``origin_id``, ``o_id``, ``boarding_stop``, ``승차정류장id``,
  ``승차정류소id`` / ``d``, ``to``, ``destination_stop``, ``d_stop``, ``to_stop``,
  ``destination_id``, ``d_id``, ``alighting_stop``, ``하차정류장id``, ``하차정류소id``, as a
  transit-card export names its boarding and alighting stops): stop ids of the city's stops; or
* by position: ``o_lat``, ``o_lon``, ``d_lat``, ``d_lon`` (aliases ``origin_lat``,
  ``from_lat``, ... ``origin_lon``, ``o_lng``, ...): decimal degrees;

with an optional ``count`` (aliases ``trips``, ``n``, ``demand``, ``volume``, ``passengers``,
``pax``, ``riders``, ``승차인원``, ``이용객수``): trips of the row, a number >= 0 (without the
column every row is one trip), and an optional ``time`` (aliases ``hour``, ``departure``,
``departure_time``, ``start_time``, ``o_time``, ``승차시간``, ``승차시각``): ``HH:MM[:SS]``
(hours may pass 24, as in GTFS), a date-time whose time part is that (``2024-11-01 07:35`` or
``2024-11-01T07:35:00``), or a number of hours (``7.5``). Times let a caller keep a time window
(:func:`read_od` ``window``).

**Gravity model** (:func:`gravity_demand`), when a city has no OD table: trips between nodes
``i != j`` in proportion to ``w_i * w_j * exp(-t_ij / decay_min)`` (``w``: a trip-end weight per
node, ``t``: travel time in minutes), drawn as a multinomial sample of exactly ``trips`` trips
from a seeded generator, so the same seed gives the same table. It is synthetic demand, for
demonstrations; it says nothing about where people travel in the city.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError, PlanningFileError
from .stops_io import read_csv_table

__all__ = ["OdTable", "gravity_demand", "parse_time_of_day", "read_od"]

ORIGIN_COLUMNS = (
    "origin", "o", "from", "origin_stop", "o_stop", "from_stop", "origin_id", "o_id", "boarding_stop",
    "승차정류장id", "승차정류소id",
)  # fmt: skip
DESTINATION_COLUMNS = (
    "destination", "d", "to", "destination_stop", "d_stop", "to_stop", "destination_id", "d_id", "alighting_stop",
    "하차정류장id", "하차정류소id",
)  # fmt: skip
O_LAT_COLUMNS = ("o_lat", "origin_lat", "from_lat", "o_latitude", "origin_latitude")
O_LON_COLUMNS = ("o_lon", "origin_lon", "from_lon", "o_lng", "origin_lng", "o_longitude", "origin_longitude")
D_LAT_COLUMNS = ("d_lat", "destination_lat", "to_lat", "d_latitude", "destination_latitude")
D_LON_COLUMNS = ("d_lon", "destination_lon", "to_lon", "d_lng", "destination_lng", "d_longitude")
COUNT_COLUMNS = ("count", "trips", "n", "demand", "volume", "passengers", "pax", "riders", "승차인원", "이용객수")
TIME_COLUMNS = ("time", "hour", "departure", "departure_time", "start_time", "o_time", "승차시간", "승차시각")

_CLOCK = re.compile(r"(?:^|[ T])(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")


def parse_time_of_day(text: str) -> float:
    """Seconds after midnight of ``HH:MM[:SS]``, a date-time's time part, or a number of hours.

    Raises:
        ValueError: ``text`` is none of these.
    """
    s = text.strip()
    m = _CLOCK.search(s)
    if m is not None:
        h, mi, se = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if mi >= 60 or se >= 60:
            raise ValueError(text)
        return float(h * 3600 + mi * 60 + se)
    hours = float(s)  # ValueError if not a number
    if not (math.isfinite(hours) and 0 <= hours <= 48):
        raise ValueError(text)
    return hours * 3600.0


@dataclass(frozen=True, eq=False)
class OdTable:
    """The rows of an OD CSV: by stop (``origin``/``destination`` ids) or by position (lat/lon).

    ``count[k]`` trips on row ``k``; ``time_s[k]`` its time of day in seconds (``None`` when the
    file has no time column); ``lines[k]`` the file line, for messages."""

    path: Path
    count: NDArray[np.float64]
    lines: NDArray[np.int64]
    time_s: NDArray[np.float64] | None = None
    origin: tuple[str, ...] | None = None
    destination: tuple[str, ...] | None = None
    o_lat: NDArray[np.float64] | None = None
    o_lon: NDArray[np.float64] | None = None
    d_lat: NDArray[np.float64] | None = None
    d_lon: NDArray[np.float64] | None = None

    @property
    def by_stop(self) -> bool:
        return self.origin is not None

    def __len__(self) -> int:
        return int(self.count.shape[0])

    @property
    def total(self) -> float:
        return float(self.count.sum())


def read_od(path: str | Path, *, window: tuple[str, str] | None = None) -> OdTable:
    """The OD table in ``path`` (see the module docstring).

    ``window=("07:00", "09:00")`` keeps the rows whose time is in ``[start, end)`` (the file
    must then have a time column).
    """
    table = read_csv_table(path, "OD table")
    p = table.path
    c_o = table.column(ORIGIN_COLUMNS, "origin", required=False)
    c_d = table.column(DESTINATION_COLUMNS, "destination", required=False)
    by_stop = c_o >= 0 and c_d >= 0
    if not by_stop:
        c_olat = table.column(O_LAT_COLUMNS, "o_lat", required=False)
        if c_olat < 0:
            raise PlanningFileError(
                p,
                "neither origin,destination (stop ids) nor o_lat,o_lon,d_lat,d_lon (positions) columns; "
                f"the header is: {', '.join(table.header)}",
            )
        c_olon = table.column(O_LON_COLUMNS, "o_lon")
        c_dlat = table.column(D_LAT_COLUMNS, "d_lat")
        c_dlon = table.column(D_LON_COLUMNS, "d_lon")
    c_count = table.column(COUNT_COLUMNS, "count", required=False)
    c_time = table.column(TIME_COLUMNS, "time", required=False)
    if window is not None and c_time < 0:
        raise PlanningFileError(p, f"a time window {window[0]}-{window[1]} was asked but the file has no time column")
    lo = hi = 0.0
    if window is not None:
        try:
            lo, hi = parse_time_of_day(window[0]), parse_time_of_day(window[1])
        except (ValueError, IndexError, TypeError, AttributeError):
            raise InvalidArgumentError("od_window", f"got {window!r}", 'two times, e.g. ("07:00", "09:00")') from None
        if not hi > lo:
            raise InvalidArgumentError("od_window", f"got {window!r}: the end is not after the start", "start < end")
    n = len(table.rows)
    count = np.ones(n, np.float64)
    lines = np.empty(n, np.int64)
    time_s = np.full(n, np.nan) if c_time >= 0 else None
    pos = np.empty((n, 4), np.float64) if not by_stop else None
    origin: list[str] = []
    destination: list[str] = []
    for k, (line, row) in enumerate(table.rows):
        lines[k] = line
        if c_count >= 0:
            c = table.number(line, row, c_count, "count")
            if c < 0:
                raise PlanningFileError(p, f"line {line}: count {c:g} is negative (allowed: >= 0)")
            count[k] = c
        if time_s is not None:
            text = row[c_time].strip()
            try:
                time_s[k] = parse_time_of_day(text)
            except ValueError:
                raise PlanningFileError(
                    p, f"line {line}: time {text!r} is not HH:MM[:SS], a date-time or hours (0..48)"
                ) from None
        if by_stop:
            o, d = row[c_o].strip(), row[c_d].strip()
            if not o or not d:
                raise PlanningFileError(p, f"line {line}: empty origin or destination")
            origin.append(o)
            destination.append(d)
        else:
            assert pos is not None
            for j, (col, what) in enumerate(
                ((c_olat, "o_lat"), (c_olon, "o_lon"), (c_dlat, "d_lat"), (c_dlon, "d_lon"))
            ):
                pos[k, j] = table.number(line, row, col, what)
            if abs(pos[k, 0]) > 90 or abs(pos[k, 2]) > 90 or abs(pos[k, 1]) > 180 or abs(pos[k, 3]) > 180:
                raise PlanningFileError(p, f"line {line}: a position is not a latitude/longitude in degrees")
    if n == 0:
        raise PlanningFileError(p, "no trips (only a header row)")
    keep = np.ones(n, bool)
    if window is not None:
        assert time_s is not None
        keep = (time_s >= lo) & (time_s < hi)
    idx = np.flatnonzero(keep)
    return OdTable(
        path=p,
        count=count[idx],
        lines=lines[idx],
        time_s=None if time_s is None else time_s[idx],
        origin=tuple(origin[i] for i in idx) if by_stop else None,
        destination=tuple(destination[i] for i in idx) if by_stop else None,
        o_lat=None if pos is None else pos[idx, 0],
        o_lon=None if pos is None else pos[idx, 1],
        d_lat=None if pos is None else pos[idx, 2],
        d_lon=None if pos is None else pos[idx, 3],
    )


def gravity_demand(
    weights: NDArray[np.float64], time_min: NDArray[np.float64], *, trips: int, decay_min: float = 10.0, seed: int = 0
) -> NDArray[np.float64]:
    """A synthetic trip table of exactly ``trips`` trips (see the module docstring).

    ``weights`` (``n``, >= 0, not all 0) are the nodes' trip-end weights, ``time_min`` (``n x n``)
    the travel times (``inf``: no trips). Deterministic for a seed."""
    w = np.asarray(weights, np.float64)
    t = np.asarray(time_min, np.float64)
    n = w.shape[0]
    if t.shape != (n, n):
        raise InvalidArgumentError("time_min", f"got shape {t.shape}", f"({n}, {n})")
    if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
        raise InvalidArgumentError("weights", "has a negative or non-finite entry, or all are 0", ">= 0, some > 0")
    if isinstance(trips, bool) or not isinstance(trips, int | np.integer) or trips < 0:
        raise InvalidArgumentError("trips", f"got {trips!r}", "a whole number >= 0")
    if not (isinstance(decay_min, int | float) and decay_min > 0):
        raise InvalidArgumentError("decay_min", f"got {decay_min!r}", "> 0 minutes")
    with np.errstate(over="ignore", invalid="ignore"):
        attraction = np.where(np.isfinite(t), np.exp(-np.where(np.isfinite(t), t, 0.0) / decay_min), 0.0)
    p = np.outer(w, w) * attraction
    np.fill_diagonal(p, 0.0)
    total = p.sum()
    if total <= 0:
        raise InvalidArgumentError("weights", "no pair of distinct nodes has weight on both ends", "two nodes > 0")
    rng = np.random.default_rng(seed)
    sample = rng.multinomial(int(trips), (p / total).ravel())
    return sample.reshape(n, n).astype(np.float64)
