"""GTFS out and in: a route set with its headways as a feed, and an existing feed's routes on a
problem's nodes.

:func:`write_gtfs` writes a static GTFS feed (a ``.zip``) that standard readers load
(``gtfs_kit.read_feed``): ``agency.txt``, ``stops.txt`` (the planning nodes the routes serve),
``routes.txt`` (one per route, ``route_type`` 3: bus), ``trips.txt`` (one per route and
direction), ``stop_times.txt``, ``frequencies.txt``, ``shapes.txt``, ``calendar.txt`` (every
day of the given date range) and ``feed_info.txt``. The shapes are straight lines from stop to
stop (the planning graph has no road geometry); ``shape_dist_traveled`` is in kilometres along
them. The schedule is headway-based: each trip is a template whose ``stop_times`` start at
``service_start`` and follow the link times (cumulative minutes, rounded once to whole seconds;
no dwell time), and ``frequencies.txt`` runs it every headway (rounded to whole seconds) from
``service_start`` to ``service_end`` with ``exact_times=0`` (a frequency, not a timetable).

Coordinates. A problem with latitude and longitude per node (a city) writes them. A problem
without (the CEC benchmark files) gets *synthetic* positions: its ``x``, ``y`` are scaled so
that the larger side of their bounding box spans :data:`SYNTHETIC_EXTENT_M` metres and placed
around the fixed origin :data:`SYNTHETIC_ORIGIN` (lat, lon), chosen only to be away from
(0, 0); those stops say so in ``stop_desc``. :func:`node_lat_lon` gives the same positions, so
a written benchmark feed reads back onto the same nodes.

:func:`read_gtfs_routes` maps a feed's routes onto a problem's nodes (see its docstring).
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError, PlanningFileError
from .frequencies import Frequencies
from .problem import TransitProblem
from .routeset import RouteSet, validate_route_set

#: Where synthetic stop positions are placed (lat, lon) for a problem without coordinates.
SYNTHETIC_ORIGIN = (45.0, 10.0)
#: The larger side of the synthetic positions' bounding box, metres.
SYNTHETIC_EXTENT_M = 10_000.0
_M_PER_DEG = 111_320.0
_TIME = re.compile(r"^\s*(\d{1,3}):([0-5]\d):([0-5]\d)\s*$")
_DATE = re.compile(r"^\d{8}$")


def node_lat_lon(problem: TransitProblem) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """``lat``, ``lon`` per node and whether they are synthetic (see the module docstring)."""
    if problem.lat is not None and problem.lon is not None:
        lat = np.asarray(problem.lat, np.float64)
        lon = np.asarray(problem.lon, np.float64)
        if lat.shape == lon.shape == (problem.num_nodes,) and np.isfinite(lat).all() and np.isfinite(lon).all():
            return lat, lon, False
    x = problem.x - (problem.x.min() + problem.x.max()) / 2
    y = problem.y - (problem.y.min() + problem.y.max()) / 2
    side = max(float(np.ptp(problem.x)), float(np.ptp(problem.y)))
    scale = SYNTHETIC_EXTENT_M / side if side > 0 else 1.0
    lat0, lon0 = SYNTHETIC_ORIGIN
    lat = lat0 + y * scale / _M_PER_DEG
    lon = lon0 + x * scale / (_M_PER_DEG * math.cos(math.radians(lat0)))
    return lat, lon, True


def _seconds(field: str, text: str) -> int:
    m = _TIME.match(str(text))
    if not m:
        raise InvalidArgumentError(field, f"got {text!r}", "a time HH:MM:SS (hours may pass 24)")
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3])


def gtfs_time(seconds: int) -> str:
    """``HH:MM:SS`` from seconds after midnight (hours pass 24 after midnight, as GTFS allows)."""
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _km(
    lat1: NDArray[np.float64], lon1: NDArray[np.float64], lat2: NDArray[np.float64], lon2: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Great-circle distances in kilometres (haversine, mean Earth radius)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return np.asarray(2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), np.float64)


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_gtfs(
    path: str | Path,
    problem: TransitProblem,
    routes: RouteSet | Sequence[Sequence[int]],
    frequencies: Frequencies,
    *,
    service_start: str = "06:00:00",
    service_end: str = "22:00:00",
    agency_name: str = "Network redesign (mobility planning)",
    agency_url: str = "https://example.org",
    timezone: str = "UTC",
    start_date: str = "20260101",
    end_date: str = "20261231",
    route_names: Sequence[str] | None = None,
) -> Path:
    """Write ``routes`` with ``frequencies.headway_min`` as a GTFS zip at ``path`` (see the
    module docstring); returns the path. Headways are rounded to whole seconds."""
    rs = validate_route_set(problem, routes)
    headway = np.asarray(frequencies.headway_min, np.float64)
    if headway.shape != (len(rs),) or not (np.isfinite(headway) & (headway > 0)).all():
        raise InvalidArgumentError(
            "frequencies", f"has {headway.size} headways for {len(rs)} routes", "one headway > 0 per route"
        )
    start_s = _seconds("service_start", service_start)
    end_s = _seconds("service_end", service_end)
    if end_s <= start_s:
        raise InvalidArgumentError("service_end", f"got {service_end!r}, not after {service_start!r}",
                                   "a time after service_start")  # fmt: skip
    for field, value in (("start_date", start_date), ("end_date", end_date)):
        if not _DATE.match(str(value)):
            raise InvalidArgumentError(field, f"got {value!r}", "a date YYYYMMDD")
    if end_date < start_date:
        raise InvalidArgumentError("end_date", f"got {end_date!r}, before {start_date!r}", ">= start_date")
    names = [f"R{k + 1}" for k in range(len(rs))] if route_names is None else [str(s) for s in route_names]
    if len(names) != len(rs) or len(set(names)) != len(names) or any(not s.strip() for s in names):
        raise InvalidArgumentError("route_names", f"got {len(names)} names for {len(rs)} routes",
                                   "one distinct, non-empty name per route")  # fmt: skip
    lat, lon, synthetic = node_lat_lon(problem)
    ids = problem.node_ids
    t = problem.link_time_min
    served = sorted({int(v) for r in rs for v in r})
    desc = "synthetic position: the problem has no coordinates" if synthetic else ""
    files: dict[str, list[list[Any]]] = {
        "agency.txt": [["agency_id", "agency_name", "agency_url", "agency_timezone"],
                       ["A1", agency_name, agency_url, timezone]],
        "stops.txt": [["stop_id", "stop_name", "stop_lat", "stop_lon", "stop_desc"]]
        + [[ids[v], f"Stop {ids[v]}", f"{lat[v]:.7f}", f"{lon[v]:.7f}", desc] for v in served],
        "routes.txt": [["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"]],
        "trips.txt": [["route_id", "service_id", "trip_id", "direction_id", "shape_id"]],
        "stop_times.txt": [["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence",
                            "shape_dist_traveled"]],
        "shapes.txt": [["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence", "shape_dist_traveled"]],
        "frequencies.txt": [["trip_id", "start_time", "end_time", "headway_secs", "exact_times"]],
        "calendar.txt": [["service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                          "sunday", "start_date", "end_date"], ["daily", 1, 1, 1, 1, 1, 1, 1, start_date, end_date]],
        "feed_info.txt": [["feed_publisher_name", "feed_publisher_url", "feed_lang", "feed_version"],
                          [agency_name, agency_url, "en", problem.name]],
    }  # fmt: skip
    for k, r in enumerate(rs):
        route_id = names[k]
        files["routes.txt"].append([route_id, "A1", route_id, f"{ids[r[0]]} - {ids[r[-1]]}", 3])
        for direction, seq in enumerate((r, r[::-1])):
            trip_id = f"{route_id}_{direction}"
            files["trips.txt"].append([route_id, "daily", trip_id, direction, trip_id])
            cum = np.concatenate([[0.0], np.cumsum(t[seq[:-1], seq[1:]])])
            km = np.concatenate([[0.0], np.cumsum(_km(lat[seq[:-1]], lon[seq[:-1]], lat[seq[1:]], lon[seq[1:]]))])
            for i, (v, m, d) in enumerate(zip(seq.tolist(), cum.tolist(), km.tolist(), strict=True)):
                hhmmss = gtfs_time(start_s + round(m * 60.0))
                files["stop_times.txt"].append([trip_id, hhmmss, hhmmss, ids[v], i + 1, f"{d:.4f}"])
                files["shapes.txt"].append([trip_id, f"{lat[v]:.7f}", f"{lon[v]:.7f}", i + 1, f"{d:.4f}"])
            secs = max(1, round(float(headway[k]) * 60.0))
            files["frequencies.txt"].append([trip_id, gtfs_time(start_s), gtfs_time(end_s), secs, 0])
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, rows in files.items():
                z.writestr(name, _csv(rows))
    except OSError as exc:
        raise PlanningFileError(p, f"cannot write the feed ({exc.strerror or exc})") from None
    return p


# ---------------------------------------------------------------------------------- reading
def _read_feed(p: Path) -> Any:
    import gtfs_kit

    if not p.exists():
        raise PlanningFileError(p, "file not found")
    try:
        feed = gtfs_kit.read_feed(p, dist_units="km")
    except Exception as exc:  # gtfs_kit raises whatever its parsers raise; the user gets one line
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise PlanningFileError(p, f"not a readable GTFS feed ({reason})") from None
    for table, columns in (
        ("stops", ("stop_id", "stop_lat", "stop_lon")),
        ("routes", ("route_id",)),
        ("trips", ("route_id", "trip_id")),
        ("stop_times", ("trip_id", "stop_id", "stop_sequence")),
    ):
        df = getattr(feed, table, None)
        if df is None or len(df) == 0:
            raise PlanningFileError(
                p, f"no {table}.txt (or it is empty); a feed needs stops, routes, trips, stop_times"
            )
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise PlanningFileError(p, f"{table}.txt: no column {', '.join(missing)}")
    return feed


def gtfs_clock(value: Any) -> int | None:
    """Seconds after midnight of a GTFS ``HH:MM:SS`` time (hours may pass 24); ``None`` if not one."""
    if not isinstance(value, str):
        return None
    m = _TIME.match(value)
    return int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) if m else None


def active_trips(feed: Any) -> set[str] | None:
    """Trips running on the busiest day of the feed's first week (None: the feed has no calendar)."""
    if getattr(feed, "calendar", None) is None and getattr(feed, "calendar_dates", None) is None:
        return None
    try:
        dates = feed.get_first_week() or feed.get_dates()
        if not dates:
            return None
        date = feed.compute_busiest_date(dates)
        act = feed.compute_trip_activity([date])
        return set(act.loc[act[date] == 1, "trip_id"].astype(str))
    except (KeyError, ValueError, TypeError, AttributeError):  # a calendar gtfs_kit cannot read: every trip counts
        return None


def _snap(
    problem: TransitProblem,
    stop_ids: Sequence[str],
    stop_lat: NDArray[np.float64],
    stop_lon: NDArray[np.float64],
    max_snap_m: float,
) -> NDArray[np.int64]:
    """The planning node of each stop, or -1: the node the stop's id names when that node is
    within ``max_snap_m`` (local planar metres), else the nearest node within ``max_snap_m``."""
    from scipy.spatial import cKDTree

    lat, lon, _ = node_lat_lon(problem)
    lat0 = float(lat.mean())
    lon0 = float(lon.mean())
    kx = _M_PER_DEG * math.cos(math.radians(lat0))
    node_xy = np.column_stack([(lon - lon0) * kx, (lat - lat0) * _M_PER_DEG])
    ok = np.isfinite(stop_lat) & np.isfinite(stop_lon)
    pts = np.column_stack(
        [(np.where(ok, stop_lon, lon0) - lon0) * kx, (np.where(ok, stop_lat, lat0) - lat0) * _M_PER_DEG]
    )
    dist, idx = cKDTree(node_xy).query(pts, k=1)
    out = np.where(ok & (dist <= max_snap_m), idx, -1).astype(np.int64)
    named = {name: i for i, name in enumerate(problem.node_ids)}
    for k, sid in enumerate(stop_ids):
        v = named.get(sid) if ok[k] else None
        if v is not None and math.hypot(*(node_xy[v] - pts[k])) <= max_snap_m:
            out[k] = v
    return out


def _joined(problem: TransitProblem, seq: list[int], where: str, p: Path) -> list[int]:
    """``seq`` with consecutive nodes that have no link (both ways) joined by the shortest path."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    t = problem.link_time_min
    both = np.isfinite(t) & np.isfinite(t.T)
    np.fill_diagonal(both, False)
    out = [seq[0]]
    graph = None
    for b in seq[1:]:
        a = out[-1]
        if both[a, b]:
            out.append(b)
            continue
        if graph is None:
            i, j = np.nonzero(both)
            graph = csr_matrix((t[i, j], (i, j)), shape=t.shape)
        dist, pred = dijkstra(graph, directed=True, indices=a, return_predecessors=True)
        if not np.isfinite(dist[b]):
            ids = problem.node_ids
            raise PlanningFileError(
                p, f"{where}: stops at nodes {ids[a]} and {ids[b]} are not joined by links in {problem.name}"
            )
        path = [b]
        while path[-1] != a:
            path.append(int(pred[path[-1]]))
        out.extend(path[-2::-1])
    return out


def read_gtfs_routes(
    path: str | Path,
    problem: TransitProblem,
    *,
    max_snap_m: float = 300.0,
    progress: Callable[[str], None] | None = None,
) -> tuple[RouteSet, NDArray[np.float64]]:
    """An existing feed's routes on ``problem``'s nodes, with their headways (minutes).

    * Trips: those running on the feed's busiest day of its first calendar week (of all its
      dates when that week has none; every trip when the feed has no calendar).
    * Stops are snapped to the nearest planning node within ``max_snap_m`` metres (problems
      without coordinates use :func:`node_lat_lon`'s synthetic positions), or to the node
      their ``stop_id`` names when that node is within ``max_snap_m`` (nodes may share a
      position, as some benchmark nodes do); stops farther away are dropped, consecutive
      stops on one node merged.
    * One representative stop pattern per route: the most common mapped node sequence over its
      trips of both directions (a sequence and its reverse are one pattern; counted by
      departures; ties: more stops, then the smaller sequence), oriented as the first of its
      trips in direction 0 (by ``trip_id``), or in direction 1 when it has none there.
      Consecutive nodes with no link (both ways) are joined by the shortest path over the
      links. Routes run both ways in the planning model, so a route whose directions take
      different streets keeps its commonest pattern only.
    * Headway: the mean interval between departures over the day, ``(last - first) /
      (departures - 1)``, in the direction with more departures; departures are the trips'
      first times, or the expansion of ``frequencies.txt`` for its trips. NaN for a route with
      a single departure.
    * Routes with fewer than 2 nodes after snapping are skipped; ``progress`` is told which,
      and how many stops snapped.

    The routes keep the feed's order (``routes.txt``). They can break the problem's rules (a
    node repeated by a loop route, counts, lengths): :func:`planning.check_route_set` says.
    A feed that cannot be read, or has no usable route, gives :class:`PlanningFileError`.
    """
    p = Path(path)
    if isinstance(max_snap_m, bool) or not isinstance(max_snap_m, int | float) or not max_snap_m > 0:
        raise InvalidArgumentError("max_snap_m", f"got {max_snap_m!r}", "> 0 metres")
    feed = _read_feed(p)
    say = progress or (lambda _msg: None)
    stops = feed.stops
    stop_ids = [str(s) for s in stops["stop_id"]]
    stop_node = dict(
        zip(
            stop_ids,
            _snap(
                problem,
                stop_ids,
                np.asarray(stops["stop_lat"], np.float64),
                np.asarray(stops["stop_lon"], np.float64),
                float(max_snap_m),
            ).tolist(),
            strict=True,
        )
    )
    snapped = sum(1 for v in stop_node.values() if v >= 0)
    say(f"{snapped} of {len(stop_node)} stops within {max_snap_m:g} m of a planning node")
    trips = feed.trips.copy()
    trips["trip_id"] = trips["trip_id"].astype(str)
    trips["route_id"] = trips["route_id"].astype(str)
    active = active_trips(feed)
    if active is not None:
        trips = trips[trips["trip_id"].isin(active)]
    if "direction_id" not in trips.columns:
        trips["direction_id"] = 0
    direction = {tr: (int(d) if d == d else 0) for tr, d in zip(trips["trip_id"], trips["direction_id"], strict=True)}
    route_of = dict(zip(trips["trip_id"], trips["route_id"], strict=True))
    st = feed.stop_times
    st = st.assign(trip_id=st["trip_id"].astype(str), stop_id=st["stop_id"].astype(str))
    st = st[st["trip_id"].isin(route_of)].sort_values(["trip_id", "stop_sequence"], kind="stable")
    times = None
    for column in ("arrival_time", "departure_time"):  # the departure where given, else the arrival
        if column in st.columns:
            times = st[column] if times is None else st[column].where(st[column].notna(), times)
    seqs: dict[str, list[int]] = defaultdict(list)
    first_time: dict[str, int | None] = {}
    for tr, sid, tm in zip(st["trip_id"], st["stop_id"], times if times is not None else [None] * len(st), strict=True):
        if tr not in first_time:
            first_time[tr] = gtfs_clock(tm)
        v = stop_node.get(sid, -1)
        if v >= 0 and (not seqs[tr] or seqs[tr][-1] != v):
            seqs[tr].append(v)
    departures: dict[str, list[int]] = defaultdict(list)
    freq = getattr(feed, "frequencies", None)
    if freq is not None and len(freq):
        for tr, a, b, h in zip(freq["trip_id"].astype(str), freq["start_time"], freq["end_time"],
                               freq["headway_secs"], strict=True):  # fmt: skip
            s, e = gtfs_clock(a), gtfs_clock(b)
            if tr in route_of and s is not None and e is not None and h == h and int(h) > 0:
                departures[tr].extend(range(s, e, int(h)))
    for tr, t0 in first_time.items():
        if tr not in departures and t0 is not None:
            departures[tr] = [t0]
    order = [str(r) for r in feed.routes["route_id"]]
    by_route: dict[str, list[str]] = defaultdict(list)
    for tr in first_time:
        by_route[route_of[tr]].append(tr)
    out: list[list[int]] = []
    headways: list[float] = []
    for rid in order:
        trs = by_route.get(rid, [])
        count: Counter[tuple[int, ...]] = Counter()
        oriented: dict[tuple[int, ...], tuple[int, ...]] = {}
        for tr in sorted(trs, key=lambda x: (direction[x], x)):
            seq = tuple(seqs.get(tr, ()))
            if len(seq) < 2:
                continue
            key = min(seq, seq[::-1])
            count[key] += max(1, len(departures.get(tr, ())))
            oriented.setdefault(key, seq)
        if not count:
            say(f"route {rid}: fewer than 2 stops within {max_snap_m:g} m of a planning node; skipped")
            continue
        best = min(count, key=lambda k: (-count[k], -len(k), k))
        out.append(_joined(problem, list(oriented[best]), f"route {rid}", p))
        per_dir: dict[int, list[int]] = defaultdict(list)
        for tr in trs:
            per_dir[direction[tr]].extend(departures.get(tr, ()))
        spans = [(len(d), (max(d) - min(d)) / (len(d) - 1) / 60.0) for d in per_dir.values() if len(d) >= 2]
        headways.append(max(spans, key=lambda s: (s[0], -s[1]))[1] if spans else math.nan)
    if not out:
        raise PlanningFileError(p, f"no route has 2 or more stops within {max_snap_m:g} m of a node of {problem.name}")
    return validate_route_set(problem, out), np.array(headways, np.float64)
