"""The day on a map, for GIS tools: GeoJSON files of the stops, the zone, the tracks, the rides and
the streets.

:func:`write_geojson` writes five RFC 7946 files a planner opens in QGIS (or any GIS), and a replay
of the day (:mod:`dashboard.replay`) draws as its map:

* ``stops.geojson`` — a Point per stop: ``stop`` (index), ``id`` (the stop file's id, or
  ``null``), ``name``, ``source`` (``osm``, ``virtual`` or ``file``), ``osm_id`` (or ``null``),
  ``in_zone``; the point is where the stop sits on the road network (snapped);
* ``zone.geojson`` — the service zone as one Polygon (only when the day had a zone);
* ``tracks.geojson`` — a LineString per drive of at least two road nodes, along the streets
  it drove: through the road nodes of its path and the points of each street's shape between
  them (:attr:`routing.RoadNetwork.geom_lat`; the OSM nodes the import merged away, so a curved
  street is drawn curved): ``vehicle_id``, ``depart_s``, ``arrive_s``,
  ``depart`` / ``arrive`` as HH:MM, ``depart_time`` / ``arrive_time`` as HH:MM:SS,
  ``from_stop``, ``to_stop``, ``length_m``, ``onboard`` (riders on board the whole way);
* ``rides.geojson`` — one feature per ride, in the order of ``rides.csv``: a straight
  LineString from the pickup stop to the drop-off stop (``null`` geometry when the ride has
  no stop, e.g. a request by point turned away before it was given one), with ``ride_id``,
  ``outcome``, ``reject_reason``, ``vehicle_id``, ``passengers``, ``requested`` / ``pickup``
  / ``dropoff`` as HH:MM (``null`` when it did not happen), ``wait_s`` and ``wait_min``
  (completed rides; ``null`` otherwise);
* ``streets.geojson`` — the road network's streets (:func:`streets_geojson`): a LineString per
  road of the network along its shape, a two-way street once (the way from the lower road node
  to the higher), with ``oneway``.

Coordinates are ``[lon, lat]`` in WGS84 (RFC 7946 § 3.1.1), rounded to :data:`COORD_DIGITS`
decimals (about 0.1 m); a track keeps only the points (road nodes and shape points) where it
bends by more than :data:`SIMPLIFY_TOLERANCE_DEG` (Douglas-Peucker, shapely), so long straight
streets cost two points. Polygons follow the right-hand rule (exterior counter-clockwise). Times are on the
service clock; hours past midnight go on counting (``25:10``), as in GTFS. (GDAL, and so
QGIS, reads a column of HH:MM strings below 24:00 as a time field.)

Benchmark graphs have no geographic coordinates (:attr:`routing.RoadNetwork.has_lat_lon`):
then nothing is written and :func:`write_geojson` says why in its ``note``.

A shared-taxi day (:class:`sim.taxi.TaxiSimOutput`, door to door: no stops, no zone) has its
own :func:`write_taxi_geojson`, called by :func:`sim.taxi_kpi.write_taxi_report`:

* ``tracks.geojson`` — a LineString per drive with a path (the day recorded its drives' road
  nodes, ``record_paths``), along the streets as above: ``vehicle_id``, ``depart_s``,
  ``arrive_s``, ``depart`` / ``arrive`` (HH:MM), ``depart_time`` / ``arrive_time``
  (HH:MM:SS), ``from_node``, ``to_node``, ``length_m``, ``onboard`` (passengers on board the
  whole way), ``parties``, ``kind`` (``occupied``, ``empty`` or ``rebalance``);
* ``rides.geojson`` — one feature per request, in the order of the taxi ``rides.csv``: a
  straight LineString from the origin's road node to the destination's, with ``ride_id``,
  ``status``, ``reason``, ``vehicle_id``, ``passengers``, ``share``, ``shared``,
  ``requested`` / ``pickup`` / ``dropoff`` as HH:MM (``null`` when it did not happen),
  ``requested_s``, ``wait_s`` and ``wait_min`` (completed rides), ``direct_s``, ``fare_krw``;
* ``streets.geojson`` — as above.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from numpy.typing import NDArray

from matching import point_in_polygon

from .records import RideRecord, SimOutput

if TYPE_CHECKING:
    from routing import RoadNetwork

    from .taxi import TaxiSimOutput

#: Decimals of the coordinates written (1e-6 degree is about 0.1 m).
COORD_DIGITS = 6

#: Largest distance (degrees, about 0.2 m) of a dropped point (road node or street shape
#: point) from the simplified track.
SIMPLIFY_TOLERANCE_DEG = 2e-6

#: Names of the files :func:`write_geojson` writes, by key.
GEOJSON_FILES = {
    "stops_geojson": "stops.geojson",
    "zone_geojson": "zone.geojson",
    "tracks_geojson": "tracks.geojson",
    "rides_geojson": "rides.geojson",
    "streets_geojson": "streets.geojson",
}


# ---------------------------------------------------------------------------------- clock
def clock(t_s: float | None, *, seconds: bool = False) -> str:
    """``HH:MM`` (or ``HH:MM:SS``) of a time on the service clock; ``""`` for a negative or missing
    time (the records' "never"). The time is floored to the minute (second); hours go past 23."""
    if t_s is None or t_s < 0:
        return ""
    t = int(t_s)
    h, rest = divmod(t, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if seconds else f"{h:02d}:{m:02d}"


def has_coordinates(out: SimOutput) -> bool:
    """Whether the day's network and stops have geographic coordinates (lat/lon)."""
    net, stops = out.network, out.stops
    return net is not None and stops is not None and bool(net.has_lat_lon)


def ride_coordinates(out: SimOutput) -> dict[str, NDArray[np.float64]]:
    """``origin_lat``, ``origin_lon``, ``destination_lat``, ``destination_lon`` of each ride (its
    stops'), in ``out.rides`` order; NaN where the ride has no stop or the network no lat/lon."""
    n = len(out.rides)
    result = {k: np.full(n, np.nan) for k in ("origin_lat", "origin_lon", "destination_lat", "destination_lon")}
    if not has_coordinates(out) or n == 0:
        return result
    stops = out.stops
    for end in ("origin", "destination"):
        idx = np.fromiter((getattr(r, f"{end}_stop") for r in out.rides), np.int64, n)
        ok = (idx >= 0) & (idx < len(stops))
        result[f"{end}_lat"][ok] = np.asarray(stops.lat, np.float64)[idx[ok]]
        result[f"{end}_lon"][ok] = np.asarray(stops.lon, np.float64)[idx[ok]]
    return result


# ---------------------------------------------------------------------------------- features
def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _rounded(values: NDArray[np.float64]) -> list[float]:
    return [float(v) for v in np.round(values, COORD_DIGITS)]


def stops_geojson(out: SimOutput) -> dict[str, Any]:
    """The FeatureCollection of ``stops.geojson`` (see the module docstring)."""
    from routing.stops import SOURCE_FILE, SOURCE_OSM

    stops = out.stops
    lat, lon = np.asarray(stops.lat, np.float64), np.asarray(stops.lon, np.float64)
    in_zone = point_in_polygon(lat, lon, out.zone) if out.zone is not None else np.ones(len(stops), bool)
    names = getattr(stops, "names", None)
    ids = getattr(stops, "ids", ())
    kinds = {SOURCE_OSM: "osm", SOURCE_FILE: "file"}
    features = []
    for i, (x, y) in enumerate(zip(_rounded(lon), _rounded(lat), strict=True)):
        osm = int(stops.osm_id[i]) if stops.source[i] == SOURCE_OSM and stops.osm_id[i] >= 0 else None
        name = str(names[i]) if names is not None and len(names) == len(stops) else f"stop {i}"
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {
                    "stop": i,
                    "id": str(ids[i]) if len(ids) == len(stops) else None,
                    "name": name,
                    "source": kinds.get(int(stops.source[i]), "virtual"),
                    "osm_id": osm,
                    "in_zone": bool(in_zone[i]),
                },
            }
        )
    return _collection(features)


def zone_geojson(out: SimOutput) -> dict[str, Any] | None:
    """The FeatureCollection of ``zone.geojson`` (one Polygon), or ``None`` without a zone."""
    if out.zone is None:
        return None
    import shapely

    # (lat, lon) vertices -> (lon, lat); the exterior counter-clockwise (RFC 7946 § 3.1.6)
    poly = shapely.Polygon([(float(lon), float(lat)) for lat, lon in out.zone])
    poly = shapely.orient_polygons(poly)
    ring = np.asarray(poly.exterior.coords, np.float64)
    coords = [[x, y] for x, y in zip(_rounded(ring[:, 0]), _rounded(ring[:, 1]), strict=True)]
    area_km2 = None
    if out.network is not None and out.network.has_lat_lon:
        from routing.snapping import project

        x, y = project(out.network, ring[:, 1], ring[:, 0])
        area_km2 = round(float(shapely.Polygon(np.column_stack([x, y])).area) / 1e6, 3)
    feature = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [coords]},
        "properties": {"name": f"{out.scenario} service zone", "vertices": len(out.zone), "area_km2": area_km2},
    }
    return _collection([feature])


def track_lines(out: SimOutput) -> tuple[list[int], list[NDArray[np.float64]]]:
    """The drives drawn as tracks (indices into ``out.drives``: those of at least two road
    nodes) and each one's ``[lon, lat]`` points along the streets' shapes
    (:meth:`routing.RoadNetwork.paths_shape`), simplified and rounded (module docstring)."""
    return path_lines(out.network, [d.nodes for d in out.drives])


def path_lines(
    net: RoadNetwork, paths: Sequence[Sequence[int] | NDArray[np.integer]]
) -> tuple[list[int], list[NDArray[np.float64]]]:
    """The paths (road-node sequences) of at least two nodes, by index into ``paths``, and
    each one's ``[lon, lat]`` points along the streets' shapes
    (:meth:`routing.RoadNetwork.paths_shape`), simplified and rounded (module docstring)."""
    import shapely

    which = [i for i, p in enumerate(paths) if len(p) >= 2]
    if not which:
        return [], []
    counts = np.array([len(paths[i]) for i in which], np.int64)
    nodes = np.concatenate([np.asarray(paths[i], np.int64) for i in which])
    # through the streets' shapes: the road nodes and the interior points of the edges between
    # them (two nodes a record joins without an edge, straight)
    lat, lon, indptr = net.paths_shape(nodes, counts, strict=False)
    coords = np.column_stack([lon, lat])
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(which)), np.diff(indptr)))
    lines = shapely.simplify(lines, SIMPLIFY_TOLERANCE_DEG, preserve_topology=False)
    pts, owner = shapely.get_coordinates(lines, return_index=True)
    pts = np.round(pts, COORD_DIGITS)
    # rounding may make neighbours equal: keep the first of each run of equal points
    same = np.zeros(len(pts), bool)
    same[1:] = (owner[1:] == owner[:-1]) & np.all(pts[1:] == pts[:-1], axis=1)
    pts, owner = pts[~same], owner[~same]
    starts = np.searchsorted(owner, np.arange(len(which) + 1))
    lines_out = [pts[starts[k] : starts[k + 1]] for k in range(len(which))]
    # a LineString has two positions or more: a drive shorter than the rounding keeps its point twice
    return which, [p if len(p) >= 2 else np.vstack([p, p]) for p in lines_out]


def _drive_times(depart: int, arrive: int) -> dict[str, Any]:
    """A track's times, in seconds and as clock strings (an I-MOD's and a taxi day's alike)."""
    return {
        "depart_s": depart,
        "arrive_s": arrive,
        "depart": clock(depart),
        "arrive": clock(arrive),
        "depart_time": clock(depart, seconds=True),
        "arrive_time": clock(arrive, seconds=True),
    }


def _od_line(o_lon: float, o_lat: float, d_lon: float, d_lat: float) -> dict[str, Any] | None:
    """A ride's straight line from origin to destination (rounded), or ``None`` without both."""
    if not (np.isfinite(o_lon) and np.isfinite(d_lon)):
        return None
    return {"type": "LineString", "coordinates": [[float(o_lon), float(o_lat)], [float(d_lon), float(d_lat)]]}


def _write_docs(docs: dict[str, dict[str, Any] | None], names: dict[str, str], folder: Path) -> dict[str, Path]:
    """Write each document (``None``: none) as ``folder / names[key]``; the files by key."""
    files: dict[str, Path] = {}
    for key, doc in docs.items():
        if doc is None:
            continue
        path = folder / names[key]
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        files[key] = path
    return files


def tracks_geojson(out: SimOutput) -> dict[str, Any]:
    """The FeatureCollection of ``tracks.geojson`` (see the module docstring)."""
    which, lines = track_lines(out)
    features = []
    for i, pts in zip(which, lines, strict=True):
        d = out.drives[i]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": pts.tolist()},
                "properties": {
                    "vehicle_id": d.vehicle_id,
                    **_drive_times(d.depart_s, d.arrive_s),
                    "from_stop": d.from_stop,
                    "to_stop": d.to_stop,
                    "length_m": d.length_m,
                    "onboard": d.onboard,
                },
            }
        )
    return _collection(features)


def street_lines(net: RoadNetwork) -> tuple[NDArray[np.bool_], list[NDArray[np.float64]]]:
    """The network's streets: whether each is one-way, and its ``[lon, lat]`` points along its
    shape, simplified and rounded as the tracks are: :meth:`routing.RoadNetwork.street_edges` (a
    two-way street once, from the lower node; parallel roads once)."""
    edges, oneway = net.street_edges()
    which, lines = path_lines(net, list(np.column_stack([net.tail[edges], net.indices[edges]])))
    return oneway[which], lines


def streets_geojson(net: RoadNetwork) -> dict[str, Any]:
    """The FeatureCollection of ``streets.geojson`` (see the module docstring)."""
    oneway, lines = street_lines(net)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": pts.tolist()},
            "properties": {"oneway": bool(one)},
        }
        for one, pts in zip(oneway.tolist(), lines, strict=True)
    ]
    return _collection(features)


def _ride_properties(r: RideRecord) -> dict[str, Any]:
    done = r.outcome == "completed"
    return {
        "ride_id": r.ride_id,
        "outcome": r.outcome,
        "reject_reason": r.reject_reason or None,
        "vehicle_id": r.vehicle_id or None,
        "passengers": r.passengers,
        "origin_stop": r.origin_stop if r.origin_stop >= 0 else None,
        "destination_stop": r.destination_stop if r.destination_stop >= 0 else None,
        "requested": clock(r.requested_s) or None,
        "pickup": clock(r.pickup_s) or None,
        "dropoff": clock(r.dropoff_s) or None,
        "requested_s": r.requested_s,
        "wait_s": r.wait_s if done else None,
        "wait_min": round(r.wait_s / 60, 1) if done else None,
    }


def rides_geojson(out: SimOutput) -> dict[str, Any]:
    """The FeatureCollection of ``rides.geojson`` (see the module docstring)."""
    c = ride_coordinates(out)
    o_lon, o_lat = np.round(c["origin_lon"], COORD_DIGITS), np.round(c["origin_lat"], COORD_DIGITS)
    d_lon, d_lat = np.round(c["destination_lon"], COORD_DIGITS), np.round(c["destination_lat"], COORD_DIGITS)
    features = []
    for k, r in enumerate(out.rides):
        geometry = _od_line(o_lon[k], o_lat[k], d_lon[k], d_lat[k])
        features.append({"type": "Feature", "geometry": geometry, "properties": _ride_properties(r)})
    return _collection(features)


def write_geojson(out: SimOutput, folder: Path) -> tuple[dict[str, Path], str]:
    """Write the GeoJSON files of ``out`` into ``folder`` (which exists); return them by key
    (:data:`GEOJSON_FILES`) and a note: ``""``, or why some were not written."""
    if not has_coordinates(out):
        return {}, "no GeoJSON: the network has no geographic coordinates (a benchmark graph)"
    docs = {
        "stops_geojson": stops_geojson(out),
        "zone_geojson": zone_geojson(out),
        "tracks_geojson": tracks_geojson(out),
        "rides_geojson": rides_geojson(out),
        "streets_geojson": streets_geojson(out.network),
    }
    files = _write_docs(docs, GEOJSON_FILES, folder)
    return files, "" if out.zone is not None else "no zone.geojson: the day had no service zone"


# ---------------------------------------------------------------------------------- shared taxi
#: Names of the files :func:`write_taxi_geojson` writes, by key.
TAXI_GEOJSON_FILES = {
    "tracks_geojson": "tracks.geojson",
    "rides_geojson": "rides.geojson",
    "streets_geojson": "streets.geojson",
}


def taxi_ride_coordinates(out: TaxiSimOutput) -> dict[str, NDArray[np.float64]]:
    """``origin_lat``, ``origin_lon``, ``destination_lat``, ``destination_lon`` of each request
    (its road nodes'), in ``out.requests`` order; NaN where the network has no lat/lon."""
    n = len(out.requests)
    keys = ("origin_lat", "origin_lon", "destination_lat", "destination_lon")
    result = {k: np.full(n, np.nan) for k in keys}
    net = out.network
    if net is None or not net.has_lat_lon or n == 0:
        return result
    lat, lon = np.asarray(net.lat, np.float64), np.asarray(net.lon, np.float64)
    for end in ("origin", "destination"):
        idx = np.fromiter((getattr(r, end) for r in out.requests), np.int64, n)
        result[f"{end}_lat"] = lat[idx]
        result[f"{end}_lon"] = lon[idx]
    return result


def taxi_tracks_geojson(out: TaxiSimOutput) -> dict[str, Any]:
    """The FeatureCollection of a shared-taxi day's ``tracks.geojson`` (module docstring);
    ``out.drive_nodes`` must be recorded."""
    from .taxi import DRIVE_KINDS

    if out.drive_nodes is None or out.network is None:
        raise ValueError("the taxi day did not record its drives' paths (record_paths=False) or its network")
    which, lines = path_lines(out.network, out.drive_nodes)
    d = out.drives
    features = []
    for k, pts in zip(which, lines, strict=True):
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": pts.tolist()},
                "properties": {
                    "vehicle_id": out.vehicle_ids[int(d["vehicle"][k])],
                    **_drive_times(int(d["depart_s"][k]), int(d["arrive_s"][k])),
                    "from_node": int(d["from_node"][k]),
                    "to_node": int(d["to_node"][k]),
                    "length_m": int(d["length_m"][k]),
                    "onboard": int(d["onboard"][k]),
                    "parties": int(d["parties"][k]),
                    "kind": DRIVE_KINDS[int(d["kind"][k])],
                },
            }
        )
    return _collection(features)


def taxi_rides_geojson(out: TaxiSimOutput) -> dict[str, Any]:
    """The FeatureCollection of a shared-taxi day's ``rides.geojson`` (module docstring)."""
    c = {k: np.round(v, COORD_DIGITS) for k, v in taxi_ride_coordinates(out).items()}
    features = []
    for i, req in enumerate(out.requests):
        geometry = _od_line(c["origin_lon"][i], c["origin_lat"][i], c["destination_lon"][i], c["destination_lat"][i])
        v, pickup, dropoff = int(out.vehicle[i]), int(out.pickup_s[i]), int(out.dropoff_s[i])
        done = out.status[i] == "completed"
        wait = pickup - req.request_time_s
        props = {
            "ride_id": req.id,
            "status": out.status[i],
            "reason": out.reason[i] or None,
            "vehicle_id": out.vehicle_ids[v] if v >= 0 else None,
            "passengers": req.passengers,
            "share": bool(req.share),
            "shared": bool(out.shared[i]),
            "origin_node": req.origin,
            "destination_node": req.destination,
            "requested": clock(req.request_time_s) or None,
            "pickup": clock(pickup) or None,
            "dropoff": clock(dropoff) or None,
            "requested_s": req.request_time_s,
            "wait_s": wait if done else None,
            "wait_min": round(wait / 60, 1) if done else None,
            "direct_s": int(out.direct_s[i]),
            "fare_krw": int(out.fare_krw[i]),
        }
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return _collection(features)


def write_taxi_geojson(out: TaxiSimOutput, folder: Path) -> tuple[dict[str, Path], str]:
    """Write a shared-taxi day's GeoJSON files into ``folder`` (which exists); return them by
    key (:data:`TAXI_GEOJSON_FILES`) and a note: ``""``, or why some were not written."""
    net = out.network
    if net is None or not net.has_lat_lon:
        return {}, "no GeoJSON: the network has no geographic coordinates (a benchmark graph)"
    docs: dict[str, dict[str, Any] | None] = {
        "rides_geojson": taxi_rides_geojson(out),
        "streets_geojson": streets_geojson(net),
    }
    note = ""
    if out.drive_nodes is not None:
        docs["tracks_geojson"] = taxi_tracks_geojson(out)
    else:
        note = "no tracks.geojson: the day did not record its drives' paths (record_paths=False)"
    return _write_docs(docs, TAXI_GEOJSON_FILES, folder), note
