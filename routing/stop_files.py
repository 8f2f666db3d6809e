"""A service's own stops from a file: CSV, GeoJSON or a GTFS feed, snapped to the road network.

:func:`read_stop_points` reads the stops (an id, a name and a WGS84 position each):

* ``"csv"`` — a header row and one stop per line, the columns found by name (case and
  surrounding spaces ignored; the first name present wins): id ``stop_id``, ``id``,
  ``stop``, ``code``; latitude ``stop_lat``, ``lat``, ``latitude``, ``y``; longitude
  ``stop_lon``, ``lon``, ``lng``, ``longitude``, ``x``; optional name ``stop_name``,
  ``name``. Commas, semicolons, tabs or ``|`` separate the fields (told from the header).
* ``"geojson"`` — a FeatureCollection of ``Point`` features (``[lon, lat]``); the id is the
  feature's ``id`` or its ``stop_id`` / ``id`` property, the name its ``name`` or ``stop_name``
  property. Features of other geometries are skipped and counted.
* ``"gtfs"`` — a GTFS feed (``.zip`` or folder): its ``stops.txt``, read with gtfs-kit; stops
  and platforms (``location_type`` 0 or empty) are kept, stations and entrances skipped.

:func:`stops_from_points` snaps them to their nearest road node, as the virtual stops sit on
nodes (:func:`routing.virtual_stops`), and drops those farther than ``max_snap_m`` from every
node. Ids are kept in :attr:`routing.StopSet.ids`, so that trip and OD files can name stops by
id. Any problem with a file is a :class:`StopFileError` naming the file and the line.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError, RoutingError, plain_repr
from .network import RoadNetwork
from .snapping import nearest_nodes
from .stops import SOURCE_FILE, StopSet

#: The kinds of stop file :func:`read_stop_points` reads.
STOP_FILE_KINDS = ("csv", "geojson", "gtfs")

ID_COLUMNS = ("stop_id", "id", "stop", "code", "stop_code")
LAT_COLUMNS = ("stop_lat", "lat", "latitude", "y")
LON_COLUMNS = ("stop_lon", "lon", "lng", "longitude", "x")
NAME_COLUMNS = ("stop_name", "name")


class StopFileError(RoutingError):
    """A stop file could not be read: the file and the reason (with the line where it applies)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True, eq=False)
class StopPoints:
    """Stops read from a file, before snapping: ``ids[i]`` (unique), ``names[i]``, ``lat[i]``, ``lon[i]``."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ids)


def _column(header: list[str], aliases: tuple[str, ...]) -> int:
    for name in aliases:
        if name in header:
            return header.index(name)
    return -1


def _number(path: Path, line: int, text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise StopFileError(path, f"line {line}: {what} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise StopFileError(path, f"line {line}: {what} {text.strip()!r} is not a finite number")
    return value


def _points(path: Path, ids: list[str], names: list[str], lat: list[float], lon: list[float]) -> StopPoints:
    if not ids:
        raise StopFileError(path, "no stops in the file")
    seen: set[str] = set()
    for sid in ids:
        if sid in seen:
            raise StopFileError(path, f"stop id {sid!r} appears more than once")
        seen.add(sid)
    la, lo = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    bad = np.flatnonzero((np.abs(la) > 90) | (np.abs(lo) > 180))
    if bad.size:
        k = int(bad[0])
        hint = "; are the latitude and longitude swapped?" if abs(lo[k]) <= 90 < abs(la[k]) <= 180 else ""
        raise StopFileError(
            path,
            f"stop {ids[k]!r}: ({la[k]}, {lo[k]}) is not a latitude/longitude in degrees (-90..90, -180..180){hint}",
        )
    return StopPoints(tuple(ids), tuple(names), la, lo)


def read_stops_csv(path: str | Path) -> StopPoints:
    """Stops from a CSV file (columns as in the module docstring)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise StopFileError(p, f"cannot be read as UTF-8 text ({exc})") from None
    lines = [(k + 1, row) for k, row in enumerate(text.splitlines()) if row.strip() and not row.startswith("#")]
    if not lines:
        raise StopFileError(p, "empty file (expected a header row: stop_id, stop_name, stop_lat, stop_lon)")
    delimiter = max(",;\t|", key=lines[0][1].count)
    rows = list(csv.reader((row for _, row in lines), delimiter=delimiter))
    header = [h.strip().lower() for h in rows[0]]
    c_id, c_lat, c_lon = (_column(header, a) for a in (ID_COLUMNS, LAT_COLUMNS, LON_COLUMNS))
    c_name = _column(header, NAME_COLUMNS)
    for col, what, aliases in (
        (c_id, "id", ID_COLUMNS),
        (c_lat, "latitude", LAT_COLUMNS),
        (c_lon, "longitude", LON_COLUMNS),
    ):
        if col < 0:
            raise StopFileError(p, f"no {what} column (one of {', '.join(aliases)}); the header is {', '.join(header)}")
    ids: list[str] = []
    names: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    for (line, _), row in zip(lines[1:], rows[1:], strict=True):
        if len(row) < len(header):
            raise StopFileError(p, f"line {line}: {len(row)} fields, the header has {len(header)}")
        if not row[c_id].strip():
            raise StopFileError(p, f"line {line}: empty stop id")
        ids.append(row[c_id].strip())
        names.append(row[c_name].strip() if c_name >= 0 else "")
        lat.append(_number(p, line, row[c_lat], "latitude"))
        lon.append(_number(p, line, row[c_lon], "longitude"))
    return _points(p, ids, names, lat, lon)


def read_stops_geojson(path: str | Path) -> StopPoints:
    """Stops from the ``Point`` features of a GeoJSON FeatureCollection (see the module docstring)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StopFileError(p, f"not a readable GeoJSON file ({exc})") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise StopFileError(p, "not a GeoJSON FeatureCollection (no 'features' list)")
    ids: list[str] = []
    names: list[str] = []
    lat: list[float] = []
    lon: list[float] = []
    for k, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            continue
        coords = geometry.get("coordinates")
        if not (isinstance(coords, list) and len(coords) >= 2 and all(isinstance(c, int | float) for c in coords[:2])):
            raise StopFileError(p, f"feature {k}: coordinates {coords!r} are not [lon, lat]")
        props = feature.get("properties") or {}
        sid = feature.get("id", props.get("stop_id", props.get("id")))
        ids.append(str(k) if sid is None else str(sid))
        names.append(str(props.get("name", props.get("stop_name", "")) or ""))
        lon.append(float(coords[0]))
        lat.append(float(coords[1]))
    if not ids and features:
        raise StopFileError(p, f"none of the {len(features)} features is a Point")
    return _points(p, ids, names, lat, lon)


def read_stops_gtfs(path: str | Path) -> StopPoints:
    """The stops and platforms of a GTFS feed (zip or folder), read with gtfs-kit."""
    p = Path(path)
    import gtfs_kit

    with tempfile.TemporaryDirectory(prefix="routing-gtfs-") as tmp:
        try:  # only stops.txt is read: a city's feed has millions of stop_times not needed here
            if p.is_dir():
                shutil.copyfile(p / "stops.txt", Path(tmp) / "stops.txt")
            else:
                with zipfile.ZipFile(p) as z:
                    member = next(n for n in z.namelist() if Path(n).name == "stops.txt")
                    (Path(tmp) / "stops.txt").write_bytes(z.read(member))
            feed = gtfs_kit.read_feed(tmp, dist_units="km")
        except StopIteration:
            raise StopFileError(p, "not a GTFS feed: the zip has no stops.txt") from None
        except Exception as exc:  # zip, gtfs-kit and pandas raise many kinds; the user gets one line
            raise StopFileError(p, f"not a readable GTFS feed ({type(exc).__name__}: {exc})") from None
    stops = feed.stops
    if stops is None or len(stops) == 0:
        raise StopFileError(p, "stops.txt has no stops")
    for col in ("stop_id", "stop_lat", "stop_lon"):
        if col not in stops.columns:
            raise StopFileError(p, f"stops.txt has no {col} column")
    if "location_type" in stops.columns:
        stops = stops[stops["location_type"].fillna(0).astype("int64") == 0]
    if len(stops) == 0:
        raise StopFileError(p, "stops.txt has no stops or platforms (location_type 0 or empty)")
    try:
        lat = stops["stop_lat"].to_numpy(np.float64, na_value=np.nan)
        lon = stops["stop_lon"].to_numpy(np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise StopFileError(p, f"stops.txt: stop_lat/stop_lon are not numbers ({exc})") from None
    ids = [str(s) for s in stops["stop_id"].tolist()]
    missing = np.flatnonzero(~(np.isfinite(lat) & np.isfinite(lon)))
    if missing.size:
        raise StopFileError(p, f"stops.txt: stop {ids[int(missing[0])]!r} has no stop_lat/stop_lon")
    names = (
        ["" if v is None or v != v else str(v) for v in stops["stop_name"].tolist()]
        if "stop_name" in stops.columns
        else [""] * len(ids)
    )
    return _points(p, ids, names, lat.tolist(), lon.tolist())


def read_stop_points(path: str | Path, kind: str) -> StopPoints:
    """Stops from a file of ``kind`` ``"csv"``, ``"geojson"`` or ``"gtfs"`` (see the module docstring)."""
    p = Path(path)
    if kind not in STOP_FILE_KINDS:
        raise InvalidArgumentError("kind", f"got {plain_repr(kind)}", ", ".join(STOP_FILE_KINDS))
    if not p.exists():
        raise StopFileError(p, "file not found")
    if kind != "gtfs" and p.is_dir():
        raise StopFileError(p, f"is a folder, not a {kind} file")
    reader = {"csv": read_stops_csv, "geojson": read_stops_geojson, "gtfs": read_stops_gtfs}[kind]
    return reader(p)


def stops_from_points(
    network: RoadNetwork, points: StopPoints, *, max_snap_m: float
) -> tuple[StopSet, NDArray[np.bool_]]:
    """The stops of ``points`` on ``network``, each on its nearest node, and which were kept.

    A stop farther than ``max_snap_m`` from every node is dropped (``kept[i]`` False); the
    others keep their file order, id and name. A stop sits on its node (its ``x_m``, ``y_m``,
    ``lat`` and ``lon`` are the node's) as the virtual stops do; two stops may share a node.

    Raises:
        InvalidArgumentError: ``max_snap_m`` negative, the network without coordinates, or
            no stop within reach (field ``max_snap_m``, with the nearest distance found).
    """
    if not max_snap_m >= 0:
        raise InvalidArgumentError("max_snap_m", f"got {plain_repr(max_snap_m)}", ">= 0 m")
    res = nearest_nodes(network, points.lat, points.lon, max_distance_m=max_snap_m)
    kept = res.node >= 0
    if not kept.any():
        raise InvalidArgumentError(
            "max_snap_m",
            f"none of the {len(points)} stops lies within {max_snap_m:g} m of the road network "
            f"(the closest is {float(res.distance_m.min()):.0f} m away)",
        )
    nodes = res.node[kept]
    idx = np.flatnonzero(kept)
    return (
        StopSet(
            node=nodes.astype(np.int32),
            x_m=network.x_m[nodes],
            y_m=network.y_m[nodes],
            lat=network.lat[nodes],
            lon=network.lon[nodes],
            source=np.full(nodes.size, SOURCE_FILE, np.int8),
            osm_id=np.full(nodes.size, -1, np.int64),
            spacing_m=0.0,
            ids=tuple(points.ids[i] for i in idx),
            names=tuple(points.names[i] for i in idx),
        ),
        kept,
    )
