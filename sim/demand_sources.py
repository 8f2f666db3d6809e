"""Where and when riders travel: the files and layers behind the ``[demand]`` kinds.

:mod:`sim.demand` turns these arrays into the day's requests (party, booking lead, cancel,
no-show); here the places and times come from:

* **addresses** (``kind = "addresses"``) — points drawn inside the zone with a weight layer:
  :func:`road_points` (``weights = "road_length"``: uniformly along the roads, each road
  weighted by its length, both directions of a two-way street counted once), or
  :func:`layer_points` (``weights = "file.csv"`` with lat, lon and weight columns, or
  ``"file.geojson"`` with ``Point`` features weighted by a property or ``Polygon`` /
  ``MultiPolygon`` features with a population property, points drawn uniformly inside them);
* **trip files** (``kind = "trips"``) — :func:`read_trips`: one trip per CSV row, the columns
  named by ``columns``; times on the service clock (``replay = "clock"``) or folded onto the
  simulated day from any date (``replay = "time_of_day"``: unix timestamps, ISO date-times,
  ``HH:MM``); optional ``sample`` (share kept at random) and ``limit`` (most trips kept, drawn
  at random); rows without coordinates and unreadable rows are counted and skipped with a
  warning naming the first; ``transplant`` maps the file's bounding box onto the zone's
  (synthetic: a real day's timing and spatial pattern replayed on another map;
  ``transplant_trim`` takes the box between quantiles instead, leaving outliers out);
* **OD tables** (``kind = "od"``) — :func:`read_od`: ``origin_stop, destination_stop, hour,
  count`` rows (stops by their id in the stop file, else by index), each count drawn as
  Poisson arrivals within its hour, or exactly ``count`` riders with ``exact = true``.

Coordinates are WGS84 degrees; a zone is the ``[service] zone`` polygon of ``(lat, lon)``
vertices (lat/lon taken as plane coordinates at city scale, as :mod:`matching.service_area`).
Every sampler is deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from matching import point_in_polygon
from matching.deployment import ConfigError, parse_time

log = logging.getLogger(__name__)

DAY_S = 86_400

#: Column names of a trip file by default (``[demand] columns`` renames them).
TRIP_COLUMNS = (
    "time",
    "origin_lat",
    "origin_lon",
    "destination_lat",
    "destination_lon",
    "origin_stop",
    "destination_stop",
    "passengers",
    "rider_class",
)
#: Column names of an OD table by default.
OD_COLUMNS = ("origin_stop", "destination_stop", "hour", "count")
#: Column (or GeoJSON property) names of a weight layer by default: the first present wins.
LAYER_COLUMNS: dict[str, tuple[str, ...]] = {
    "lat": ("lat", "latitude", "y"),
    "lon": ("lon", "lng", "longitude", "x"),
    "weight": ("weight", "population", "pop", "count"),
}
#: ``[demand] replay`` values.
REPLAY_MODES = ("clock", "time_of_day")


# ------------------------------------------------------------------------------ bad rows
@dataclass
class RowProblems:
    """Rows (or features) of a file left out, by reason, with the first of each (where, in words).

    ``key`` is the scenario key that named the file; ``unit`` what a row is called
    (``"line"`` for CSV files, ``"feature"`` for GeoJSON).
    """

    path: Path
    key: str = "demand.path"
    unit: str = "line"
    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, where: int, detail: str = "") -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if reason not in self.first:
            self.first[reason] = f"{self.unit} {where}" + (f": {detail}" if detail else "")

    def warn(self, total: int) -> None:
        """One warning per reason: how many of the ``total`` rows, and the first."""
        rows = "features" if self.unit == "feature" else "rows"
        for reason, count in self.counts.items():
            log.warning("%s: %d of the %d %s of %s %s; skipped (first: %s)", self.key, count, total, rows,
                        self.path, reason, self.first[reason])  # fmt: skip


# ------------------------------------------------------------------------------ CSV helpers
def _read_csv(path: Path, field_name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (stripped) and rows with their file lines; the delimiter told from the header."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(field_name, f"{path} cannot be read as UTF-8 text ({exc})") from None
    lines = [(k + 1, row) for k, row in enumerate(text.splitlines()) if row.strip() and not row.startswith("#")]
    if not lines:
        raise ConfigError(field_name, f"{path} is empty (expected a header row)")
    delimiter = max(",;\t|", key=lines[0][1].count)
    parsed = list(csv.reader((row for _, row in lines), delimiter=delimiter))
    header = [h.strip() for h in parsed[0]]
    return header, [(line, row) for (line, _), row in zip(lines[1:], parsed[1:], strict=True)]


def _columns(header: Sequence[str], mapping: Mapping[str, str], wanted: Sequence[str], path: Path) -> dict[str, int]:
    """Index of each wanted column (renamed by ``mapping``) present in ``header``."""
    out = {}
    for name in wanted:
        column = mapping.get(name, name)
        if column in header:
            out[name] = header.index(column)
        elif name in mapping:
            raise ConfigError(
                f"demand.columns.{name}", f"{path} has no column {column!r}; its header is {', '.join(header)}"
            )
    return out


def _cell(row: list[str], col: int | None) -> str:
    return row[col].strip() if col is not None and col < len(row) else ""


# ------------------------------------------------------------------------------ addresses
def road_points(
    network: Any, n: int, rng: np.random.Generator, *, zone: Sequence[tuple[float, float]] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points along the roads of ``network`` (lat, lon), each road weighted by its length.

    A road is an undirected edge (the two directions of a two-way street count once); the
    point lies on the straight line between its end nodes, at a uniform position. With a
    ``zone``, only roads whose two ends lie in it are used.
    """
    if not network.has_lat_lon:
        raise ConfigError("demand.weights", f"the network {network.name!r} has no lat/lon for address points")
    tail = np.asarray(network.tail, np.int64)
    head = np.asarray(network.indices, np.int64)
    length = np.asarray(network.length_m, np.float64)
    lo, hi = np.minimum(tail, head), np.maximum(tail, head)
    _, first = np.unique(lo * network.num_nodes + hi, return_index=True)
    a, b, w = lo[first], hi[first], length[first]
    if zone is not None:
        inside = point_in_polygon(network.lat, network.lon, zone)
        keep = inside[a] & inside[b]
        a, b, w = a[keep], b[keep], w[keep]
    if w.sum() <= 0:
        raise ConfigError("demand.weights", "no road lies inside the service zone to draw addresses on")
    edge = rng.choice(w.size, size=n, p=w / w.sum())
    u = rng.random(n)
    lat = network.lat[a[edge]] + u * (network.lat[b[edge]] - network.lat[a[edge]])
    lon = network.lon[a[edge]] + u * (network.lon[b[edge]] - network.lon[a[edge]])
    return np.asarray(lat, np.float64), np.asarray(lon, np.float64)


@dataclass(frozen=True)
class WeightLayer:
    """Weighted places: points (``lat``, ``lon``, ``point_weight``) and polygons (``polygons``
    in (lon, lat) coordinates, shapely, with ``polygon_weight``, e.g. their population)."""

    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    point_weight: NDArray[np.float64]
    polygons: tuple[Any, ...] = ()
    polygon_weight: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def read_weight_layer(path: Path, columns: Mapping[str, str]) -> WeightLayer:
    """A weight layer from a CSV (lat, lon, weight columns) or GeoJSON file (module docstring).

    Rows or features with a missing, unreadable or negative weight or position are skipped and
    counted in a warning naming the first.
    """
    suffix = path.name.lower()
    if suffix.endswith((".geojson", ".json")):
        return _geojson_layer(path, columns)
    header, rows = _read_csv(path, "demand.weights")
    cols = {}
    for name, aliases in LAYER_COLUMNS.items():
        wanted = (columns[name],) if name in columns else aliases
        found = next((c for c in wanted if c in header), None)
        if found is None:
            field_name = f"demand.columns.{name}" if name in columns else "demand.weights"
            raise ConfigError(field_name, f"{path} has no {name} column ({', '.join(wanted)}); "
                              f"its header is {', '.join(header)}")  # fmt: skip
        cols[name] = header.index(found)
    problems = RowProblems(path, "demand.weights")
    lat, lon, weight = [], [], []
    for line, row in rows:
        try:
            la, lo, w = (float(_cell(row, cols[k])) for k in ("lat", "lon", "weight"))
        except ValueError as exc:
            problems.add("are unreadable", line, str(exc))
            continue
        if not (abs(la) <= 90 and abs(lo) <= 180 and math.isfinite(w) and w >= 0):
            problems.add("have a position or weight out of range", line, f"({la}, {lo}) weight {w}")
            continue
        lat.append(la)
        lon.append(lo)
        weight.append(w)
    problems.warn(len(rows))
    return WeightLayer(np.array(lat), np.array(lon), np.array(weight))


def _geojson_layer(path: Path, columns: Mapping[str, str]) -> WeightLayer:
    import shapely
    from shapely.geometry import shape

    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError("demand.weights", f"{path} is not a readable GeoJSON file ({exc})") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise ConfigError("demand.weights", f"{path} is not a GeoJSON FeatureCollection (no 'features' list)")
    names = (columns["weight"],) if "weight" in columns else LAYER_COLUMNS["weight"]
    problems = RowProblems(path, "demand.weights", "feature")
    lat, lon, pw, polygons, qw = [], [], [], [], []
    for k, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        props = (feature.get("properties") if isinstance(feature, dict) else None) or {}
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        if kind not in ("Point", "Polygon", "MultiPolygon"):
            problems.add("are neither Points nor Polygons", k, f"a {kind}")
            continue
        key = next((name for name in names if name in props), None)
        value = props.get(key) if key else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            problems.add(f"have no weight ({' or '.join(names)} >= 0)", k, repr(value))
            continue
        try:
            geom = shape(geometry)
        except Exception as exc:  # shapely raises several kinds on bad geometry
            problems.add("have unreadable geometry", k, str(exc))
            continue
        if kind == "Point":
            lon.append(geom.x)
            lat.append(geom.y)
            pw.append(float(value))
        else:
            polygons.append(geom if geom.is_valid else shapely.make_valid(geom))
            qw.append(float(value))
    problems.warn(len(features))
    return WeightLayer(np.array(lat), np.array(lon), np.array(pw), tuple(polygons), np.array(qw))


def layer_points(
    layer: WeightLayer, n: int, rng: np.random.Generator, *, zone: Sequence[tuple[float, float]] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points drawn from ``layer``: a place with probability proportional to its weight,
    then the point itself, or a point uniform inside the polygon. With a ``zone``, points
    outside it are left out and polygons clipped to it (their weight scaled by the share of
    their area left)."""
    import shapely
    from shapely.geometry import Polygon

    lat, lon, pw = layer.lat, layer.lon, layer.point_weight
    polygons = list(layer.polygons)
    qw = np.asarray(layer.polygon_weight, np.float64)
    if zone is not None:
        keep = point_in_polygon(lat, lon, zone) if lat.size else np.zeros(0, bool)
        lat, lon, pw = lat[keep], lon[keep], pw[keep]
        if polygons:
            z = Polygon([(v[1], v[0]) for v in zone])
            z = z if z.is_valid else shapely.make_valid(z)
            clipped = [p.intersection(z) for p in polygons]
            share = np.array([c.area / p.area if p.area > 0 else 0.0 for c, p in zip(clipped, polygons, strict=True)])
            polygons, qw = clipped, qw * share
    weights = np.concatenate([pw, qw])
    if not weights.size or weights.sum() <= 0:
        where = " inside the service zone" if zone is not None else ""
        raise ConfigError("demand.weights", f"the weight layer has no place with a positive weight{where}")
    pick = rng.choice(weights.size, size=n, p=weights / weights.sum())
    out_lat = np.empty(n, np.float64)
    out_lon = np.empty(n, np.float64)
    is_point = pick < pw.size
    out_lat[is_point], out_lon[is_point] = lat[pick[is_point]], lon[pick[is_point]]
    for j in np.unique(pick[~is_point]):
        rows = np.flatnonzero(pick == j)
        x, y = _inside_polygon(polygons[int(j) - pw.size], rows.size, rng)
        out_lon[rows], out_lat[rows] = x, y
    return out_lat, out_lon


def _inside_polygon(polygon: Any, n: int, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points uniform inside ``polygon`` (rejection sampling in its bounding box, vectorised)."""
    import shapely

    x0, y0, x1, y1 = polygon.bounds
    shapely.prepare(polygon)
    fill = max(polygon.area / max((x1 - x0) * (y1 - y0), 1e-300), 1e-3)
    xs: list[NDArray[np.float64]] = []
    ys: list[NDArray[np.float64]] = []
    got = 0
    while got < n:
        m = int((n - got) / fill * 1.2) + 8
        x = x0 + rng.random(m) * (x1 - x0)
        y = y0 + rng.random(m) * (y1 - y0)
        ok = shapely.contains_xy(polygon, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


# ------------------------------------------------------------------------------ trip files
@dataclass(frozen=True)
class TripRows:
    """The trips kept from a trip file, in file order (``N`` rows).

    ``origin_stop`` / ``destination_stop`` are stop indices (-1 when the trip is given by
    points), the coordinates NaN when it is given by stops.
    """

    line: NDArray[np.int64]
    time_s: NDArray[np.int64]
    origin_stop: NDArray[np.int64]
    destination_stop: NDArray[np.int64]
    origin_lat: NDArray[np.float64]
    origin_lon: NDArray[np.float64]
    destination_lat: NDArray[np.float64]
    destination_lon: NDArray[np.float64]
    passengers: NDArray[np.int64]
    rider_class: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.line.size)

    def by_stop(self) -> bool:
        return bool(self.line.size) and bool(self.origin_stop[0] >= 0)

    def select(self, keep: NDArray[np.bool_]) -> TripRows:
        idx = np.flatnonzero(keep)
        return TripRows(
            self.line[idx],
            self.time_s[idx],
            self.origin_stop[idx],
            self.destination_stop[idx],
            self.origin_lat[idx],
            self.origin_lon[idx],
            self.destination_lat[idx],
            self.destination_lon[idx],
            self.passengers[idx],
            tuple(self.rider_class[i] for i in idx),
        )


def clock_time(text: str, *, replay: str, utc_offset_s: int = 0) -> int:
    """A trip's time in seconds: on the service clock (``replay = "clock"``: ``HH:MM[:SS]`` or
    seconds, 0 .. 48 h) or its time of day (``"time_of_day"``: a unix timestamp shifted by
    ``utc_offset_s``, an ISO date-time as written, or ``HH:MM[:SS]``; 0 .. 24 h).

    Raises:
        ValueError: the text is none of these.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty time")
    if replay == "clock":
        if ":" in text:
            return parse_time(text, "time")
        try:
            return parse_time(int(text), "time")
        except ValueError:
            raise ValueError(f"{text!r} is not HH:MM or seconds (a date or timestamp needs replay = "
                             '"time_of_day")') from None  # fmt: skip
    try:
        return int((math.floor(float(text)) + utc_offset_s) % DAY_S)
    except ValueError:
        pass
    if "-" in text or "T" in text:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not a date-time (ISO 8601), a timestamp or HH:MM") from None
        return moment.hour * 3600 + moment.minute * 60 + moment.second
    try:
        return parse_time(text, "time") % DAY_S
    except ValueError:
        raise ValueError(f"{text!r} is not a unix timestamp, a date-time (ISO 8601) or HH:MM") from None


def on_the_day(t: int, start_s: int, end_s: int) -> int:
    """A time of day placed in the simulated hours ``[start_s, end_s)``: ``t`` or ``t + 24 h``
    (for days running past midnight); returned unchanged if neither falls inside."""
    if t < start_s and start_s <= t + DAY_S < end_s:
        return t + DAY_S
    return t


def _stop_index(text: str, ids: Mapping[str, int], num_stops: int) -> int:
    """A stop named by its id in the stop file, else by its index."""
    if text in ids:
        return ids[text]
    try:
        k = int(text)
    except ValueError:
        raise ValueError(f"stop {text!r} is not a stop id of the stop file nor an index") from None
    if not 0 <= k < num_stops:
        raise ValueError(f"stop {k} is not a stop (ids of the stop file, or indices 0 .. {num_stops - 1})")
    return k


def read_trips(
    path: Path,
    *,
    columns: Mapping[str, str],
    replay: str,
    utc_offset_s: int,
    start_s: int,
    end_s: int,
    stop_ids: Mapping[str, int],
    num_stops: int,
) -> TripRows:
    """The trips of a CSV trip file (module docstring), every readable row (times checked,
    not yet filtered to the simulated hours; ``replay = "time_of_day"`` places them on the
    simulated day with :func:`on_the_day`). Unreadable rows and rows without coordinates are
    counted and skipped with a warning; :class:`ConfigError` (``demand.path``) if no row is
    left, naming the first problem."""
    header, rows = _read_csv(path, "demand.path")
    cols = _columns(header, columns, TRIP_COLUMNS, path)
    by_stop = {"origin_stop", "destination_stop"} <= set(cols)
    ends = ("origin_lat", "origin_lon", "destination_lat", "destination_lon")
    by_point = set(ends) <= set(cols)
    if "time" not in cols or not (by_stop or by_point):
        raise ConfigError(
            "demand.path",
            f"{path}: needs a time column and origin/destination stops or lat/lon columns (rename them with "
            f'[demand] columns, e.g. columns = {{ time = "trip_start_timestamp" }}); its header is {", ".join(header)}',
        )
    problems = RowProblems(path)
    line_l, time_l, ostop, dstop, pax, rider = [], [], [], [], [], []
    coords: list[tuple[float, float, float, float]] = []
    for line, row in rows:
        try:
            t = clock_time(_cell(row, cols["time"]), replay=replay, utc_offset_s=utc_offset_s)
            if replay == "time_of_day":
                t = on_the_day(t, start_s, end_s)
            passengers = int(_cell(row, cols.get("passengers")) or 1)
            if not 1 <= passengers <= 100:
                raise ValueError(f"passengers {passengers} is not 1 .. 100")
            rider_class = (_cell(row, cols.get("rider_class")) or "adult").lower()
            if rider_class not in ("adult", "youth", "child"):
                raise ValueError(f"rider_class {rider_class!r} is not adult, youth or child")
            if by_stop:
                o = _stop_index(_cell(row, cols["origin_stop"]), stop_ids, num_stops)
                d = _stop_index(_cell(row, cols["destination_stop"]), stop_ids, num_stops)
                c = (math.nan,) * 4
            else:
                texts = [_cell(row, cols[k]) for k in ends]
                if not all(texts):
                    problems.add("have no coordinates", line)
                    continue
                c = tuple(float(x) for x in texts)  # type: ignore[assignment]
                if not (abs(c[0]) <= 90 and abs(c[2]) <= 90 and abs(c[1]) <= 180 and abs(c[3]) <= 180):
                    raise ValueError(f"({c[0]}, {c[1]}) -> ({c[2]}, {c[3]}) are not lat/lon degrees")
                o = d = -1
        except ValueError as exc:
            problems.add("are unreadable", line, str(exc).removeprefix("time: "))
            continue
        line_l.append(line)
        time_l.append(t)
        ostop.append(o)
        dstop.append(d)
        pax.append(passengers)
        rider.append(rider_class)
        coords.append(c)
    problems.warn(len(rows))
    if not line_l:
        first = "; ".join(f"{count} rows {reason} (first: {problems.first[reason]})"
                          for reason, count in problems.counts.items())  # fmt: skip
        raise ConfigError("demand.path", f"{path}: no usable trip ({first or 'no rows'})")
    arr = np.array(coords, np.float64).reshape(-1, 4)
    return TripRows(
        np.array(line_l, np.int64),
        np.array(time_l, np.int64),
        np.array(ostop, np.int64),
        np.array(dstop, np.int64),
        arr[:, 0].copy(),
        arr[:, 1].copy(),
        arr[:, 2].copy(),
        arr[:, 3].copy(),
        np.array(pax, np.int64),
        tuple(rider),
    )


def bounding_box(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """``(lat_min, lat_max, lon_min, lon_max)`` of finite points."""
    ok = np.isfinite(lat) & np.isfinite(lon)
    return float(lat[ok].min()), float(lat[ok].max()), float(lon[ok].min()), float(lon[ok].max())


def transplant(
    trips: TripRows, target: tuple[float, float, float, float], *, trim: float = 0.0
) -> tuple[TripRows, int]:
    """The trips with their points mapped affinely from the bounding box of all their points
    onto ``target`` (``lat_min, lat_max, lon_min, lon_max``), each axis scaled on its own: a
    synthetic transfer of a city's trips onto another map (a flat source axis maps to the
    target's middle), and how many trips were left out.

    With ``trim`` > 0 the source box is the ``trim`` .. ``1 - trim`` quantiles of the points on
    each axis instead of their extremes, so that a few outlying trips (an airport far out) do
    not shrink the city's centre onto a corner of the target; trips with an end outside that
    box are left out.
    """
    lat = np.concatenate([trips.origin_lat, trips.destination_lat])
    lon = np.concatenate([trips.origin_lon, trips.destination_lon])
    if trim > 0:
        src = (*np.quantile(lat, [trim, 1 - trim]).tolist(), *np.quantile(lon, [trim, 1 - trim]).tolist())
        inside = np.ones(len(trips), dtype=bool)
        for la, lo in ((trips.origin_lat, trips.origin_lon), (trips.destination_lat, trips.destination_lon)):
            inside &= (la >= src[0]) & (la <= src[1]) & (lo >= src[2]) & (lo <= src[3])
        trips = trips.select(inside)
        left_out = int(np.count_nonzero(~inside))
    else:
        src = bounding_box(lat, lon)
        left_out = 0

    def axis(v: NDArray[np.float64], lo: float, hi: float, tlo: float, thi: float) -> NDArray[np.float64]:
        if hi <= lo:
            return np.full_like(v, 0.5 * (tlo + thi))
        return np.clip(tlo + (v - lo) * ((thi - tlo) / (hi - lo)), tlo, thi)

    moved = TripRows(
        trips.line,
        trips.time_s,
        trips.origin_stop,
        trips.destination_stop,
        axis(trips.origin_lat, src[0], src[1], target[0], target[1]),
        axis(trips.origin_lon, src[2], src[3], target[2], target[3]),
        axis(trips.destination_lat, src[0], src[1], target[0], target[1]),
        axis(trips.destination_lon, src[2], src[3], target[2], target[3]),
        trips.passengers,
        trips.rider_class,
    )
    return moved, left_out


def thin(n: int, rng: np.random.Generator, *, sample: float, limit: int | None) -> NDArray[np.bool_]:
    """Which of ``n`` rows to keep: each with probability ``sample``, then at most ``limit`` of
    those, drawn uniformly (so that the kept rows keep the day's shape)."""
    keep = rng.random(n) < sample if sample < 1.0 else np.ones(n, dtype=bool)
    if limit is not None and keep.sum() > limit:
        chosen = rng.choice(np.flatnonzero(keep), size=limit, replace=False)
        keep = np.zeros(n, dtype=bool)
        keep[chosen] = True
    return keep


# ------------------------------------------------------------------------------ OD tables
@dataclass(frozen=True)
class OdTrips:
    """Riders of an OD table: stop indices and requested times (s), sorted by time."""

    origin: NDArray[np.int64]
    destination: NDArray[np.int64]
    time_s: NDArray[np.int64]


def read_od(
    path: Path,
    *,
    columns: Mapping[str, str],
    exact: bool,
    scale: float,
    start_s: int,
    end_s: int,
    stop_ids: Mapping[str, int],
    num_stops: int,
    rng: np.random.Generator,
) -> OdTrips:
    """The riders of an OD table (``origin_stop, destination_stop, hour, count`` rows): per
    row ``Poisson(count * scale)`` riders, or exactly ``round(count * scale)`` with ``exact``
    (the count must then be a whole number), at times uniform within the hour (``hour`` 0 .. 47
    of the service clock). Riders whose time falls outside ``[start_s, end_s)`` are left out,
    as are rows from a stop to itself; both counted in a warning."""
    header, rows = _read_csv(path, "demand.path")
    cols = _columns(header, columns, OD_COLUMNS, path)
    missing = [c for c in OD_COLUMNS if c not in cols]
    if missing:
        raise ConfigError("demand.path", f"{path}: no {', '.join(missing)} column (rename with [demand] columns); "
                          f"its header is {', '.join(header)}")  # fmt: skip
    problems = RowProblems(path)
    o_l, d_l, h_l, n_l = [], [], [], []
    for line, row in rows:
        try:
            o = _stop_index(_cell(row, cols["origin_stop"]), stop_ids, num_stops)
            d = _stop_index(_cell(row, cols["destination_stop"]), stop_ids, num_stops)
            hour_text = _cell(row, cols["hour"])
            hour = int(hour_text.split(":")[0]) if ":" in hour_text else int(hour_text)
            if not 0 <= hour < 48:
                raise ValueError(f"hour {hour} is not 0 .. 47")
            count = float(_cell(row, cols["count"]))
            if not (math.isfinite(count) and count >= 0):
                raise ValueError(f"count {count} is not a number >= 0")
            if exact and count != int(count):
                raise ValueError(f"count {count} is not a whole number (exact = true)")
        except ValueError as exc:
            problems.add("are unreadable", line, str(exc))
            continue
        if o == d:
            problems.add("go from a stop to itself", line)
            continue
        o_l.append(o)
        d_l.append(d)
        h_l.append(hour)
        n_l.append(count * scale)
    mean = np.array(n_l, np.float64)
    n = np.rint(mean).astype(np.int64) if exact else rng.poisson(mean)
    origin = np.repeat(np.array(o_l, np.int64), n)
    dest = np.repeat(np.array(d_l, np.int64), n)
    time_s = np.repeat(np.array(h_l, np.int64) * 3600, n) + rng.integers(0, 3600, int(n.sum()))
    inside = (time_s >= start_s) & (time_s < end_s)
    outside = int(np.count_nonzero(~inside))
    if outside:
        log.warning("demand.path: %d of the %d riders of %s fall outside the simulated hours; left out",
                    outside, inside.size, path)  # fmt: skip
    problems.warn(len(rows))
    order = np.argsort(time_s[inside], kind="stable")
    return OdTrips(origin[inside][order], dest[inside][order], time_s[inside][order])
