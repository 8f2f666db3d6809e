"""Bus lines in the simulated day: buses that run their routes, passengers who ride them.

The ``[lines]`` section of a scenario (:func:`parse_lines`) names the lines, from EITHER a
route set of the planning wing OR a GTFS feed::

    [lines]
    routes = "routes_jamsil.json"   # a route set (`mobility plan design`), with ...
    plan = "plan_jamsil.toml"       # ... the planning spec whose nodes it names
    # gtfs = "feed.zip"             # or a GTFS feed (.zip or folder) instead of routes + plan
    headway_min = 10                # one number, or one per line (default: see below)
    fleet = 24                      # route sets: buses shared by the square-root rule (see below)
    first = "06:00"                 # first departure at each terminal (default: scenario start)
    last = "22:00"                  # last departure (default: scenario end)
    seats = 30                      # seats per bus
    standing = 40                   # standing places per bus
    dwell_base_s = 10               # dwell at every stop ...
    dwell_per_boarding_s = 3        # ... plus this per boarding or alighting passenger
    walk_speed_mps = 1.2
    max_walk_m = 500                # GTFS stops farther than this from a road node are dropped
    transfer_penalty_min = 5        # default: the plan's [rules] (5 without a plan)
    trips = 6000                    # passengers per whole day (default: the OD table's total)

**Lines.** A route set's route ``k`` is line ``L{k+1}``, run in both directions (two
*patterns*) over the planning nodes' road nodes (:attr:`planning.CityBuild.road_node`, moved to
the nearest node of the day's network by position). Headways: ``headway_min`` if given; else
the route set file's ``headway_min`` list if it has one; else the square-root rule of
:func:`planning.set_frequencies` for ``fleet`` buses (default: the fleet a bus every 10 minutes
on every route would need, as ``mobility plan report``). Departures run every headway from
``first`` to ``last`` at both terminals. A GTFS feed's stops are snapped to the nearest road node
(within ``max_walk_m``); each stop sequence of a route and direction is a pattern, and each trip
(or each departure of ``frequencies.txt``) a bus trip on the timetable of its ``stop_times``
between ``first`` and ``last`` (trips of the feed's busiest day when it has a calendar). The
service must overlap the simulated day (``first`` before the scenario's end, ``last`` not before
its start, a feed with departures in between); a ``frequencies.txt`` row that cannot run (a
headway that is not a positive number of seconds, a start after its end) and a stop off the
globe (latitude and longitude swapped, say) are errors naming ``lines.gtfs``, the file and the row.

**Buses** (:class:`TransitLines`, a :class:`sim.simulator.Component`). Each departure is one
bus trip: at each stop, riders whose leg ends there alight, then waiting riders board in the
order they came, while places are left (``seats + standing``); the others are left behind
(a *denied boarding*; they wait for the next bus). The bus dwells ``dwell_base_s +
dwell_per_boarding_s x (boardings + alightings)`` (riders who reach the stop meanwhile get on
if there is room, without lengthening it), then drives to the next stop along
``sim.router``'s shortest path at that moment (the traffic model of the DRT fleet). The
schedule of a route set's trip is its free-flow road times plus ``dwell_base_s`` per stop; a
GTFS trip keeps the feed's times. Each stop call is recorded (scheduled and actual arrival,
boardings, alightings, load after).

**Passengers.** The day's transit demand is the plan's OD table (trips per day; for a GTFS
feed, which has none: uniform over the ordered pairs of its stops, 1000 trips a day unless
``trips`` says otherwise), scaled to ``trips`` if given, and to the simulated hours by the
scenario's ``[demand] profile``; start times follow the profile. Each
passenger takes the journey of least *expected* time (in-vehicle time of the schedule, half the
headway for each boarding, ``transfer_penalty_min`` per transfer; ties: fewer transfers),
found once per origin by a label-setting search over (pattern, stop) states, the
planning evaluation's journey model with waits added. Planning nodes aggregate stops, so a
passenger's walk is zero on a route set (counted when a feeder journey walks between a DRT stop
and a bus stop).

**Results** (:class:`TransitOutput`, ``output.extras["transit"]``): per line boardings, load
profile per segment and direction (mean and max), crowding (share of passenger-km above the
seats, denied boardings), delay at the last stop against the schedule (mean, p90); per
passenger wait, in-vehicle time, transfers, walk and total time. With a route set and its plan,
the simulated ATT (in-vehicle time plus transfer penalties, the benchmark's definition; and
with the waits) beside :meth:`planning.Evaluator.evaluate`'s for the same route set, on the
plan's whole OD table and on the simulated passengers' own OD pairs (see docs/transit.md for
why they differ). Files: ``lines.csv``, ``line_loads.csv``, ``transit_trips.csv``,
``bus_stop_calls.csv``; with plots ``line_loads.png`` and ``lines_map.png`` (each line's road path
between its stops in its own colour, over the day's streets).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import logging
import math
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from matching.deployment import ConfigError, check_keys, integer, locate, number, parse_time

from .report import write_csv

if TYPE_CHECKING:
    from planning import TransitProblem
    from routing import RoadNetwork

    from .records import SimOutput
    from .simulator import Simulation

log = logging.getLogger(__name__)

__all__ = [
    "BusTrip",
    "LineNetwork",
    "LinesSpec",
    "Pattern",
    "StopCall",
    "TransitLines",
    "TransitOutput",
    "TransitPassenger",
    "build_lines",
    "check_service_window",
    "parse_lines",
]

#: Without ``headway_min`` or ``fleet``: the fleet a bus this often on every route needs (minutes).
DEFAULT_HEADWAY_MIN = 10.0
#: Bus riders per whole day on a GTFS feed's lines without ``trips`` (a feed has no OD table).
GTFS_TRIPS = 1000.0


# ------------------------------------------------------------------------------- the section
@dataclass(frozen=True)
class LinesSpec:
    """The ``[lines]`` section (see the module docstring); times in seconds of the service clock."""

    routes: Path | None = None
    plan: Path | None = None
    gtfs: Path | None = None
    headway_min: tuple[float, ...] | None = None
    fleet: int | None = None
    first_s: int | None = None
    last_s: int | None = None
    seats: int = 30
    standing: int = 40
    dwell_base_s: float = 10.0
    dwell_per_boarding_s: float = 3.0
    walk_speed_mps: float = 1.2
    max_walk_m: float = 500.0
    transfer_penalty_min: float | None = None
    trips: float | None = None
    data_dir: Path | None = None

    @property
    def capacity(self) -> int:
        return self.seats + self.standing


LINES_KEYS = {
    "routes", "plan", "gtfs", "headway_min", "fleet", "first", "last", "seats", "standing", "dwell_base_s",
    "dwell_per_boarding_s", "walk_speed_mps", "max_walk_m", "transfer_penalty_min", "trips",
}  # fmt: skip


def parse_lines(table: Mapping[str, Any], *, base: Path | None, data_dir: Path | None) -> LinesSpec:
    """The ``[lines]`` section; a bad value is one :class:`ConfigError` naming ``lines.<key>``."""
    if not isinstance(table, Mapping):
        raise ConfigError("lines", f"got {table!r}", "a table: [lines] with routes + plan, or gtfs")
    check_keys(table, LINES_KEYS, "lines")
    has_routes, has_gtfs = "routes" in table, "gtfs" in table
    if has_routes == has_gtfs:
        raise ConfigError(
            "lines.routes" if not has_routes else "lines.gtfs",
            "give either a route set (routes = ..., plan = ...) or a GTFS feed (gtfs = ...)",
            "exactly one of routes, gtfs",
        )
    if has_routes and "plan" not in table:
        raise ConfigError("lines.plan", "missing: a route set names planning nodes", "the planning spec (.toml)")
    headway: tuple[float, ...] | None = None
    if "headway_min" in table:
        raw = table["headway_min"]
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise ConfigError("lines.headway_min", "got an empty list", "1 .. 240 minutes, one number or one per line")
        for k, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, int | float) or not 1 <= v <= 240:
                where = "lines.headway_min" + (f"[{k}]" if isinstance(raw, list) else "")
                raise ConfigError(where, f"got {v!r}", "1 .. 240 minutes, one number or one per line")
        headway = tuple(float(v) for v in values)
    first = parse_time(table["first"], "lines.first") if "first" in table else None
    last = parse_time(table["last"], "lines.last") if "last" in table else None
    if first is not None and last is not None and last < first:
        raise ConfigError("lines.last", f"{last} s is before lines.first ({first} s)", ">= lines.first")
    spec = LinesSpec(
        routes=locate(table["routes"], "lines.routes", base=base, data_dir=data_dir) if has_routes else None,
        plan=locate(table["plan"], "lines.plan", base=base, data_dir=data_dir) if "plan" in table else None,
        gtfs=locate(table["gtfs"], "lines.gtfs", base=base, data_dir=data_dir) if has_gtfs else None,
        headway_min=headway,
        fleet=integer(table, "fleet", "lines", 1, 1, 100_000) if "fleet" in table else None,
        first_s=first,
        last_s=last,
        seats=integer(table, "seats", "lines", 30, 1, 500),
        standing=integer(table, "standing", "lines", 40, 0, 500),
        dwell_base_s=number(table, "dwell_base_s", "lines", 10.0, 0.0, 600.0),
        dwell_per_boarding_s=number(table, "dwell_per_boarding_s", "lines", 3.0, 0.0, 60.0),
        walk_speed_mps=number(table, "walk_speed_mps", "lines", 1.2, 0.3, 3.0),
        max_walk_m=number(table, "max_walk_m", "lines", 500.0, 10.0, 5000.0),
        transfer_penalty_min=number(table, "transfer_penalty_min", "lines", 5.0, 0.0, 120.0)
        if "transfer_penalty_min" in table
        else None,
        trips=number(table, "trips", "lines", 0.0, 0.0, 10_000_000.0) if "trips" in table else None,
        data_dir=data_dir,
    )
    if "fleet" in table and headway is not None:
        raise ConfigError("lines.fleet", "given with headway_min (the fleet sets the headways)", "one of the two")
    for key in ("headway_min", "fleet"):
        if has_gtfs and key in table:
            raise ConfigError(f"lines.{key}", "a GTFS feed's timetable sets the departures", "route sets only")
    return spec


# ------------------------------------------------------------------------------- the lines
@dataclass
class Pattern:
    """One direction of a line: the stops (node indices of :class:`LineNetwork`) in order, and
    its bus trips (``departures_s``, each with the scheduled arrival at every stop)."""

    line: int
    direction: int
    nodes: NDArray[np.int64]
    #: scheduled arrival at each stop of each trip, seconds on the service clock, (trips, stops)
    schedule_s: NDArray[np.int64]
    #: the headway the passengers expect (minutes; half of it is the expected wait)
    headway_min: float

    @property
    def departures_s(self) -> NDArray[np.int64]:
        return self.schedule_s[:, 0]


@dataclass
class LineNetwork:
    """The lines of a day on the day's road network.

    ``node_road[v]`` is the road node of stop node ``v``; ``patterns`` hold each line's
    directions; ``demand`` is the passengers' OD table between the stop nodes (trips per whole
    day) when known. ``problem`` and ``routes`` are the planning problem and route set the lines
    come from (for the planning-vs-simulation comparison); ``None`` for a GTFS feed.
    """

    node_road: NDArray[np.int64]
    node_names: tuple[str, ...]
    line_names: tuple[str, ...]
    patterns: list[Pattern]
    demand: NDArray[np.float64] | None = None
    problem: TransitProblem | None = None
    routes: list[NDArray[np.int64]] | None = None
    transfer_penalty_min: float = 5.0
    #: what the lines came from, in words
    source: str = ""
    #: headways of the planning model (route sets): per line, minutes
    planned_headway_min: NDArray[np.float64] | None = None

    @property
    def num_nodes(self) -> int:
        return int(self.node_road.size)


def route_patterns(
    routes: Sequence[Sequence[int]],
    headway_min: Sequence[float],
    run_s: Callable[[int, int], int],
    *,
    first_s: int,
    last_s: int,
    dwell_base_s: float,
) -> list[Pattern]:
    """Both directions of each route, departures every headway from ``first_s`` to ``last_s``
    at each terminal; the schedule adds ``run_s(a, b)`` (seconds from node a to node b) and
    ``dwell_base_s`` per stop."""
    out = []
    for k, (route, h) in enumerate(zip(routes, headway_min, strict=True)):
        for direction, nodes in enumerate((list(route), list(route)[::-1])):
            offset = [0]
            for a, b in itertools.pairwise(nodes):
                offset.append(offset[-1] + round(dwell_base_s) + int(run_s(int(a), int(b))))
            step = max(1, round(60 * h))
            starts = np.arange(first_s, last_s + 1, step, dtype=np.int64)
            schedule = starts[:, None] + np.asarray(offset, np.int64)[None, :]
            out.append(Pattern(k, direction, np.asarray(nodes, np.int64), schedule, float(h)))
    return out


def _nearest_road_nodes(network: RoadNetwork, lat: Any, lon: Any, x: Any, y: Any) -> tuple[Any, Any]:
    from routing import nearest_nodes_xy
    from routing.snapping import project

    if network.has_lat_lon and lat is not None and lon is not None:
        px, py = project(network, np.asarray(lat, np.float64), np.asarray(lon, np.float64))
    else:
        px, py = np.asarray(x, np.float64), np.asarray(y, np.float64)
    snap = nearest_nodes_xy(network, px, py)
    return snap.node, snap.distance_m


def build_lines(spec: LinesSpec, network: RoadNetwork, free_run_s: Callable[[int, int], int], *,
                start_s: int, end_s: int) -> LineNetwork:  # fmt: skip
    """The :class:`LineNetwork` of ``spec`` on ``network``; ``free_run_s(u, v)`` is the
    free-flow road time between two road nodes (for the schedule). The service (``first`` ..
    ``last``) must overlap the simulated day (``start_s`` .. ``end_s``): a :class:`ConfigError`
    naming ``lines.first`` or ``lines.last`` otherwise."""
    check_service_window(spec, start_s=start_s, end_s=end_s)
    first = spec.first_s if spec.first_s is not None else start_s
    last = spec.last_s if spec.last_s is not None else end_s
    if spec.gtfs is not None:
        return _gtfs_lines(spec, network, free_run_s, first, last)
    return _route_set_lines(spec, network, free_run_s, first, last)


def check_service_window(spec: LinesSpec, *, start_s: int, end_s: int) -> None:
    """``lines.first`` before the end of the simulated day and ``lines.last`` not before its
    start (a bus service wholly outside the day runs buses nobody can ride); one
    :class:`ConfigError` naming the field and the range allowed."""
    from .geo import clock

    day = f"the scenario runs {clock(start_s)} .. {clock(end_s)}"
    if spec.first_s is not None and spec.first_s >= end_s:
        raise ConfigError(
            "lines.first",
            f"{clock(spec.first_s, seconds=spec.first_s % 60 > 0)} is not before the end of the simulated day ({day})",
            f"before {clock(end_s)}",
        )
    if spec.last_s is not None and spec.last_s < start_s:
        raise ConfigError(
            "lines.last",
            f"{clock(spec.last_s, seconds=spec.last_s % 60 > 0)} is before the start of the simulated day ({day})",
            f"{clock(start_s)} or later",
        )


def _route_set_lines(spec: LinesSpec, network: RoadNetwork, free_run_s: Callable[[int, int], int],
                     first: int, last: int) -> LineNetwork:  # fmt: skip
    from planning import PlanningError, load_city, read_route_set
    from planning.frequencies import round_trip_min, set_frequencies

    assert spec.routes is not None and spec.plan is not None
    try:
        city = load_city(spec.plan, data_dir=spec.data_dir)
    except (PlanningError, ValueError) as exc:
        raise ConfigError("lines.plan", " ".join(str(exc).split())) from None
    has_routes, made_for, file_headways = _route_set_file(spec.routes)
    plan_name = city.problem.name
    try:
        routes = read_route_set(spec.routes, city.problem)
    except (PlanningError, ValueError) as exc:
        why = " ".join(str(exc).split())
        if not has_routes:  # the file itself is broken: its own reason
            raise ConfigError("lines.routes", why) from None
        if made_for is not None and made_for != plan_name:
            why = f"the route set is for {made_for!r}, the plan is {plan_name!r} ({why})"
        elif made_for is None:
            why = f"{why} (is the route set for another plan than {plan_name!r}?)"
        raise ConfigError("lines.routes", why, "a route set designed on lines.plan") from None
    if made_for is not None and made_for != plan_name:
        log.warning("the route set %s is for %r, the plan %s is %r", spec.routes.name, made_for, spec.plan.name,
                    plan_name)  # fmt: skip
    problem = city.problem
    if spec.transfer_penalty_min is not None:
        problem = problem.with_rules(transfer_penalty_min=spec.transfer_penalty_min)
    rlat = city.network.lat[city.road_node] if city.network.has_lat_lon else None
    rlon = city.network.lon[city.road_node] if city.network.has_lat_lon else None
    node_road, dist = _nearest_road_nodes(
        network, rlat, rlon, city.network.x_m[city.road_node], city.network.y_m[city.road_node]
    )
    if float(dist.max(initial=0.0)) > spec.max_walk_m:
        far = int(np.argmax(dist))
        raise ConfigError(
            "lines.plan",
            f"planning node {problem.node_ids[far]} lies {dist[far]:.0f} m from the scenario's roads "
            "(another city's plan?)",
            f"<= lines.max_walk_m ({spec.max_walk_m:g} m)",
        )
    n_routes = len(routes)
    if spec.headway_min is not None:
        if len(spec.headway_min) not in (1, n_routes):
            raise ConfigError(
                "lines.headway_min", f"{len(spec.headway_min)} values for {n_routes} lines", f"1 or {n_routes} values"
            )
        headway = np.resize(np.asarray(spec.headway_min, np.float64), n_routes)
    elif file_headways is not None and len(file_headways) == n_routes:
        headway = np.asarray(file_headways, np.float64)
    else:
        rt = round_trip_min(problem, routes)
        fleet = spec.fleet or int(sum(max(1, math.ceil(t / DEFAULT_HEADWAY_MIN - 1e-9)) for t in rt))
        try:
            headway = set_frequencies(problem, routes, fleet=fleet).headway_min
        except ValueError as exc:
            raise ConfigError("lines.fleet", " ".join(str(exc).split())) from None
    roads = node_road.astype(np.int64)
    patterns = route_patterns(
        [r.tolist() for r in routes],
        headway.tolist(),
        lambda a, b: free_run_s(int(roads[a]), int(roads[b])),
        first_s=first,
        last_s=last,
        dwell_base_s=spec.dwell_base_s,
    )
    return LineNetwork(
        node_road=roads,
        node_names=tuple(city.node_names),
        line_names=tuple(f"L{k + 1}" for k in range(n_routes)),
        patterns=patterns,
        demand=np.asarray(problem.demand, np.float64),
        problem=problem,
        routes=[np.asarray(r, np.int64) for r in routes],
        transfer_penalty_min=float(problem.rules.transfer_penalty_min),
        source=f"route set {spec.routes.name} on {spec.plan.name}",
        planned_headway_min=headway,
    )


def _route_set_file(path: Path) -> tuple[bool, str | None, list[float] | None]:
    """What a route set file says besides its routes, from one read: whether it has routes to
    read (a JSON list of routes, or a text file), the problem it was designed on (its
    ``"instance"``, as ``mobility plan design`` writes it) and its ``"headway_min"`` list."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return False, None, None
    if not text.lstrip().startswith(("{", "[")):
        return bool(text.strip()), None, None
    try:
        doc = json.loads(text)
    except ValueError:
        return False, None, None
    if not isinstance(doc, dict):
        return isinstance(doc, list) and bool(doc), None, None
    routes, name, raw = doc.get("routes"), doc.get("instance"), doc.get("headway_min")
    headways: list[float] | None = None
    if isinstance(raw, list) and all(isinstance(v, int | float) and v > 0 for v in raw):
        headways = [float(v) for v in raw]
    return isinstance(routes, list) and bool(routes), name if isinstance(name, str) and name else None, headways


def _gtfs_stop_positions(stops: Any, stop_ids: list[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The latitudes and longitudes of stops.txt, checked: a stop off the globe (or without a
    position) is one :class:`ConfigError` naming ``lines.gtfs``, stops.txt and the stop."""
    import pandas as pd

    lat = pd.to_numeric(stops["stop_lat"], errors="coerce").to_numpy(np.float64)
    lon = pd.to_numeric(stops["stop_lon"], errors="coerce").to_numpy(np.float64)
    missing = ~np.isfinite(lat) | ~np.isfinite(lon)
    if "location_type" in stops.columns:  # entrances and generic nodes (3, 4) may have no position
        kind = pd.to_numeric(stops["location_type"], errors="coerce").to_numpy(np.float64)
        missing &= ~np.isin(kind, (3, 4))
    bad = np.flatnonzero(missing | (np.abs(lat) > 90) | (np.abs(lon) > 180))
    if bad.size:
        k = int(bad[0])
        raw = (stops["stop_lat"].iloc[k], stops["stop_lon"].iloc[k])
        if not (np.isfinite(lat[k]) and np.isfinite(lon[k])):
            why = f"stop_lat, stop_lon ({raw[0]!r}, {raw[1]!r}) are not numbers"
        else:
            why = f"({lat[k]:g}, {lon[k]:g}) is not lat/lon (-90 .. 90, -180 .. 180)"
            if abs(lon[k]) <= 90 < abs(lat[k]) <= 180:
                why += "; swapped?"
        more = f" ({bad.size} such stops in all)" if bad.size > 1 else ""
        raise ConfigError("lines.gtfs", f"stops.txt: stop {stop_ids[k]!r}: {why}{more}")
    return lat, lon


def _gtfs_frequencies(freq: Any, route_of: Mapping[str, str]) -> dict[str, list[int]]:
    """Per trip of frequencies.txt, its departures (``start_time`` up to, not including,
    ``end_time``, every ``headway_secs``). A row that cannot run (a headway that is not a
    positive number of seconds, a start after the end, a time that is not HH:MM:SS) is one
    :class:`ConfigError` naming ``lines.gtfs``, frequencies.txt, the row and the line."""
    import pandas as pd

    from planning.gtfs import gtfs_clock

    starts: dict[str, list[int]] = defaultdict(list)
    if freq is None or not len(freq):
        return starts
    for row, (tr, a, b, h) in enumerate(
        zip(freq["trip_id"].astype(str), freq["start_time"], freq["end_time"], freq["headway_secs"], strict=True),
        start=2,  # the header is line 1
    ):
        where = f"frequencies.txt line {row} (trip {tr!r}" + (f", route {route_of[tr]!r})" if tr in route_of else ")")
        s, e = gtfs_clock(a), gtfs_clock(b)
        if s is None or e is None:
            bad = "start_time" if s is None else "end_time"
            raise ConfigError("lines.gtfs", f"{where}: {bad} {a if s is None else b!r} is not a time", "HH:MM:SS")
        head = pd.to_numeric(pd.Series([h]), errors="coerce").iloc[0]
        if not (head == head and head > 0 and float(head).is_integer()):
            raise ConfigError("lines.gtfs", f"{where}: headway_secs {h}", "a whole number of seconds > 0")
        if s > e:
            raise ConfigError("lines.gtfs", f"{where}: start_time {a} is after end_time {b}", "start_time <= end_time")
        starts[tr].extend(range(s, e, int(head)))
    return starts


def _gtfs_lines(spec: LinesSpec, network: RoadNetwork, free_run_s: Callable[[int, int], int],
                first: int, last: int) -> LineNetwork:  # fmt: skip
    """A GTFS feed's trips on ``network`` (see the module docstring)."""
    import gtfs_kit

    from planning.gtfs import active_trips, gtfs_clock

    assert spec.gtfs is not None
    if not network.has_lat_lon:
        raise ConfigError("lines.gtfs", f"the network {network.name!r} has no geographic coordinates to place stops on")
    try:
        feed = gtfs_kit.read_feed(spec.gtfs, dist_units="km")
        stops, trips, st = feed.stops, feed.trips, feed.stop_times
        if stops is None or trips is None or st is None or not len(st):
            raise ValueError("no stops, trips or stop_times")
    except Exception as exc:  # gtfs_kit raises whatever its parsers raise; the user gets one line
        raise ConfigError("lines.gtfs", f"not a readable GTFS feed ({' '.join(str(exc).split())[:160]})") from None
    active = active_trips(feed)  # the busiest day's trips; None: no usable calendar, every trip runs
    if active is not None:
        trips = trips[trips["trip_id"].astype(str).isin(active)]
    stop_ids = [str(s) for s in stops["stop_id"]]
    lat, lon = _gtfs_stop_positions(stops, stop_ids)
    placed = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    road = np.full(len(stop_ids), -1, np.int64)
    dist = np.full(len(stop_ids), np.inf)
    road[placed], dist[placed] = _nearest_road_nodes(network, lat[placed], lon[placed], None, None)
    if placed.size and float(dist.min()) > spec.max_walk_m:
        raise ConfigError(
            "lines.gtfs",
            f"stops.txt: none of the feed's {len(stop_ids)} stops lies within lines.max_walk_m "
            f"({spec.max_walk_m:g} m) of the scenario's roads (the nearest is {float(dist.min()) / 1000:,.1f} km "
            "away): a feed for another city, or latitude and longitude swapped?",
        )
    near = {sid: int(r) for sid, r, d in zip(stop_ids, road, dist, strict=True) if d <= spec.max_walk_m}
    names = dict(zip(stop_ids, (str(n) for n in stops.get("stop_name", stops["stop_id"])), strict=True))
    route_of = dict(zip(trips["trip_id"].astype(str), trips["route_id"].astype(str), strict=True))
    dir_of: dict[str, int] = {}
    if "direction_id" in trips.columns:
        dir_of = {t: int(d) if d == d else 0 for t, d in zip(trips["trip_id"].astype(str), trips["direction_id"],
                                                              strict=True)}  # fmt: skip
    st = st.assign(trip_id=st["trip_id"].astype(str), stop_id=st["stop_id"].astype(str))
    st = st[st["trip_id"].isin(route_of)].sort_values(["trip_id", "stop_sequence"], kind="stable")
    by_trip: dict[str, tuple[list[str], list[int | None]]] = defaultdict(lambda: ([], []))
    arr = st["arrival_time"] if "arrival_time" in st.columns else st["departure_time"]
    for tr, sid, tm in zip(st["trip_id"], st["stop_id"], arr, strict=True):
        if sid in near:
            seq, times = by_trip[tr]
            seq.append(sid)
            times.append(gtfs_clock(tm))
    starts = _gtfs_frequencies(getattr(feed, "frequencies", None), route_of)
    node_of: dict[str, int] = {}
    groups: dict[tuple[str, int, tuple[str, ...]], list[NDArray[np.int64]]] = defaultdict(list)
    span = (1 << 62, -1)  # first and last departure of the feed's trips, whatever the window
    for tr, (seq, times) in by_trip.items():
        if len(seq) < 2:
            continue
        known = [t for t in times if t is not None]
        if not known:
            continue
        # fill stops without a time from the road times (free flow) after the previous stop
        filled: list[int] = []
        for k, t in enumerate(times):
            if t is not None:
                filled.append(t)
            elif k == 0:
                filled.append(known[0])
            else:
                filled.append(filled[-1] + free_run_s(near[seq[k - 1]], near[seq[k]]))
        base = np.asarray(filled, np.int64)
        rows = [base + (s - base[0]) for s in starts[tr]] if tr in starts else [base]
        key = (route_of[tr], dir_of.get(tr, 0), tuple(seq))
        groups[key].extend(r for r in rows if first <= r[0] <= last)
        for r in rows:
            span = (min(span[0], int(r[0])), max(span[1], int(r[0])))
    route_ids = [str(r) for r in feed.routes["route_id"]] if feed.routes is not None else []
    short = {}
    if feed.routes is not None and "route_short_name" in feed.routes.columns:
        short = {str(r): str(s) for r, s in zip(feed.routes["route_id"], feed.routes["route_short_name"], strict=True)
                 if s == s and str(s)}  # fmt: skip
    line_index = {rid: k for k, rid in enumerate(route_ids)}
    patterns: list[Pattern] = []
    used_lines: dict[int, int] = {}
    for (rid, direction, stop_seq), rows in sorted(
        groups.items(), key=lambda kv: (line_index.get(kv[0][0], 1 << 30), kv[0])
    ):
        if not rows:
            continue
        for sid in stop_seq:
            node_of.setdefault(sid, len(node_of))
        schedule = np.array(sorted(rows, key=lambda r: int(r[0])), np.int64)
        deps = schedule[:, 0]
        headway = float(np.diff(deps).mean()) / 60 if deps.size > 1 else float(last - first) / 60 or 60.0
        li = used_lines.setdefault(line_index.get(rid, len(line_index) + len(used_lines)), len(used_lines))
        patterns.append(Pattern(li, direction, np.array([node_of[s] for s in stop_seq], np.int64), schedule, headway))
    if not patterns and span[1] >= 0:
        from .geo import clock

        raise ConfigError(
            "lines.gtfs",
            f"the feed's trips depart {clock(span[0])} .. {clock(span[1])}, none between {clock(first)} and "
            f"{clock(last)} (lines.first .. lines.last, by default the simulated day)",
            "a feed whose service overlaps the simulated day",
        )
    if not patterns:
        raise ConfigError(
            "lines.gtfs", f"no trip with 2 or more stops within lines.max_walk_m ({spec.max_walk_m:g} m) of the "
            "scenario's roads between lines.first and lines.last",
        )  # fmt: skip
    inv = {v: k for k, v in used_lines.items()}
    line_names = tuple(
        short.get(route_ids[inv[k]], route_ids[inv[k]]) if inv[k] < len(route_ids) else f"route{k}"
        for k in range(len(used_lines))
    )
    order = sorted(node_of, key=node_of.__getitem__)
    return LineNetwork(
        node_road=np.array([near[s] for s in order], np.int64),
        node_names=tuple(names.get(s, s) for s in order),
        line_names=line_names,
        patterns=patterns,
        demand=None,
        transfer_penalty_min=spec.transfer_penalty_min if spec.transfer_penalty_min is not None else 5.0,
        source=f"GTFS feed {spec.gtfs.name}",
    )


# ------------------------------------------------------------------------------- journeys
#: A leg of a journey: (pattern index, boarding position, alighting position).
Leg = tuple[int, int, int]


def plan_journeys(lines: LineNetwork, origin: int, *, waits: bool = True) -> dict[int, tuple[float, int, list[Leg]]]:
    """From stop node ``origin`` to every node it reaches: ``(expected minutes, transfers,
    legs)`` of the journey of least expected time (ties: fewer transfers).

    Expected time: the schedule's in-vehicle time (first trip of each pattern), half the
    pattern's headway at each boarding (``waits``), the transfer penalty at each boarding but
    the first. A label-setting search (Dijkstra on (minutes, transfers)) over the states
    "at node v" and "on pattern p at stop i"; a transfer happens at one node (no walk between
    nodes)."""
    pen = lines.transfer_penalty_min
    at_node: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for p, pat in enumerate(lines.patterns):
        for i, v in enumerate(pat.nodes[:-1].tolist()):
            at_node[v].append((p, i))
    ride = [np.diff(pat.schedule_s[0]).astype(np.float64) / 60.0 for pat in lines.patterns]
    # labels: state key -> (minutes, transfers); key ("n", v) or ("p", p, i)
    best: dict[tuple[int, ...], tuple[float, int]] = {}
    pred: dict[tuple[int, ...], tuple[int, ...] | None] = {}
    heap: list[tuple[float, int, int, tuple[int, ...], tuple[int, ...] | None]] = []
    seq = 0
    start = (0, origin)
    best[start] = (0.0, 0)
    pred[start] = None
    heapq.heappush(heap, (0.0, 0, seq, start, None))
    done: set[tuple[int, ...]] = set()
    while heap:
        t, x, _, key, _ = heapq.heappop(heap)
        if key in done:
            continue
        done.add(key)
        nxt: list[tuple[tuple[int, ...], float, int]] = []
        if key[0] == 0:  # at a node: board any pattern here
            v = key[1]
            boarding = v != origin
            for p, i in at_node.get(v, ()):
                cost = (lines.patterns[p].headway_min / 2 if waits else 0.0) + (pen if boarding else 0.0)
                nxt.append(((1, p, i), t + cost, x + (1 if boarding else 0)))
        else:
            p, i = key[1], key[2]
            pat = lines.patterns[p]
            if i + 1 < pat.nodes.size:
                nxt.append(((1, p, i + 1), t + float(ride[p][i]), x))
            if i > 0:  # alight
                nxt.append(((0, int(pat.nodes[i])), t, x))
        for k2, t2, x2 in nxt:
            if k2 == start:
                continue
            old = best.get(k2)
            if old is None or t2 < old[0] - 1e-9 or (abs(t2 - old[0]) <= 1e-9 and x2 < old[1]):
                best[k2] = (t2, x2)
                pred[k2] = key
                seq += 1
                heapq.heappush(heap, (t2, x2, seq, k2, key))
    out: dict[int, tuple[float, int, list[Leg]]] = {}
    for key, (t, x) in best.items():
        if key[0] != 0 or key[1] == origin:
            continue
        legs: list[Leg] = []
        k: tuple[int, ...] | None = key
        alight: tuple[int, int] | None = None
        while k is not None:
            if k[0] == 1:
                p, i = k[1], k[2]
                if alight is None or alight[0] != p:
                    alight = (p, i)
                prev = pred[k]
                if prev is not None and prev[0] == 0:  # boarded here
                    legs.append((p, i, alight[1]))
                    alight = None
            k = pred[k]
        out[key[1]] = (t, x, legs[::-1])
    return out


# ------------------------------------------------------------------------------- records
@dataclass
class TransitPassenger:
    """One passenger over the lines (times in seconds on the service clock).

    ``status``: "completed", "no_route" (the lines join no journey), "stranded" (still at a
    stop when the day ended) or "on_board" (the day ended during the ride)."""

    pax_id: str
    origin: int
    destination: int
    start_s: int
    journey_id: str = ""
    walk_in_m: float = 0.0
    walk_out_m: float = 0.0
    walk_s: int = 0
    legs: list[Leg] = field(default_factory=list)
    expected_min: float = math.nan
    leg: int = 0
    status: str = "waiting"
    wait_s: int = 0
    in_vehicle_s: int = 0
    denied: int = 0
    end_s: int = -1
    lines_used: list[str] = field(default_factory=list)
    _since: int = 0  # arrival at the current stop, or boarding time

    @property
    def transfers(self) -> int:
        return max(0, len(self.legs) - 1)

    @property
    def total_s(self) -> int:
        return self.end_s - self.start_s if self.end_s >= 0 else -1


TRIP_COLUMNS = [
    "pax_id", "journey_id", "origin", "destination", "start_s", "status", "wait_s", "in_vehicle_s", "transfers",
    "walk_m", "walk_s", "denied", "total_s", "expected_min", "lines",
]  # fmt: skip


@dataclass
class StopCall:
    """A bus at a stop: scheduled and actual arrival, dwell, riders on and off, load after."""

    stop_index: int
    node: int
    scheduled_s: int
    arrive_s: int
    depart_s: int
    boarded: int
    alighted: int
    denied: int
    load_after: int
    length_to_next_m: int = 0


@dataclass
class BusTrip:
    """One departure of a pattern, stop by stop."""

    trip_id: str
    pattern: int
    line: str
    direction: int
    calls: list[StopCall] = field(default_factory=list)
    #: riders on board by the stop position where they alight
    onboard: dict[int, list[TransitPassenger]] = field(default_factory=lambda: defaultdict(list), repr=False)

    @property
    def delay_s(self) -> int:
        """Actual minus scheduled arrival at its last call (the last stop once the trip has ended)."""
        last = self.calls[-1] if self.calls else None
        return last.arrive_s - last.scheduled_s if last is not None else 0


# ------------------------------------------------------------------------------- the component
class TransitLines:
    """The bus lines of a day (a :class:`sim.simulator.Component`; see the module docstring).

    Build it from a ``[lines]`` spec (the lines are made at :meth:`attach`, on the day's
    network), or from a ready :class:`LineNetwork` (tests, other cities). ``passengers``: the
    day's passengers as ``(origin node, destination node, start time)``; by default they are
    drawn from the lines' OD table (see the module docstring)."""

    key = "transit"

    def __init__(
        self,
        spec: LinesSpec,
        *,
        lines: LineNetwork | None = None,
        passengers: Sequence[tuple[int, int, int]] | None = None,
    ) -> None:
        self.spec = spec
        self.lines: LineNetwork | None = lines
        self._given = list(passengers) if passengers is not None else None
        self.passengers: list[TransitPassenger] = []
        self.trips: list[BusTrip] = []
        self._journeys: dict[int, dict[int, tuple[float, int, list[Leg]]]] = {}
        self._queues: dict[tuple[int, int], deque[TransitPassenger]] = defaultdict(deque)
        self._done: dict[str, Callable[[TransitPassenger, int], None]] = {}
        self._paths: dict[tuple[int, int], tuple[int, int]] = {}
        self._paths_router: Any = None

    # ---------------------------------------------------------------- attach
    def attach(self, sim: Simulation) -> None:
        self.sim = sim
        sc = sim.scenario
        if self.lines is None:
            free = sim.router.with_travel_times(sim.network.travel_time_s) if sim.traffic.active else sim.router
            self.lines = build_lines(
                self.spec,
                sim.network,
                lambda u, v: int(free.travel_time(u, v)),
                start_s=sc.start_s,
                end_s=sc.end_s,
            )
        lines = self.lines
        # passengers first: one who reaches a stop in the second a bus arrives gets on
        pairs = self._given if self._given is not None else self._draw_passengers(sim)
        for k, (o, d, t) in enumerate(pairs):
            self.add_passenger(int(o), int(d), int(t), pax_id=f"tp{k:06d}")
        for p, pat in enumerate(lines.patterns):
            for k, dep in enumerate(pat.departures_s.tolist()):
                trip = BusTrip(f"{lines.line_names[pat.line]}-{pat.direction}-{k:03d}", p,
                               lines.line_names[pat.line], pat.direction)  # fmt: skip
                self.trips.append(trip)
                sim.call_at(dep, self._arrival_call(trip, k, 0))

    def _draw_passengers(self, sim: Simulation) -> list[tuple[int, int, int]]:
        """The OD table spread over the simulated hours by the scenario's demand profile."""
        lines = self.lines
        assert lines is not None
        sc = sim.scenario
        rng = np.random.default_rng([sim.seed, 18_001])
        demand = lines.demand
        n = lines.num_nodes
        if demand is not None:
            day_total = float(self.spec.trips) if self.spec.trips is not None else float(demand.sum())
        else:
            day_total = float(self.spec.trips) if self.spec.trips is not None else GTFS_TRIPS
        from .demand import day_share, release_times  # (sim.demand imports the scenario, which imports this)

        share = day_share(sc.demand.profile, sc.start_s, sc.end_s)
        if share <= 0 or n < 2 or (demand is not None and demand.sum() <= 0):
            return []
        count = int(rng.poisson(day_total * share))
        if demand is not None:
            cells = rng.choice(demand.size, size=count, p=demand.ravel() / demand.sum())
            origin, dest = cells // n, cells % n
        else:  # uniform over the ordered pairs of stops (no n x n table)
            origin = rng.integers(0, n, count)
            dest = rng.integers(0, n - 1, count)
            dest = np.where(dest >= origin, dest + 1, dest)
        times = release_times(count, sc.demand.profile, start_s=sc.start_s, end_s=sc.end_s, rng=rng)
        return [(int(o), int(d), int(t)) for o, d, t in zip(origin, dest, times, strict=True)]

    # ---------------------------------------------------------------- public API (feeder)
    def journeys_from(self, origin: int) -> dict[int, tuple[float, int, list[Leg]]]:
        """:func:`plan_journeys` from ``origin`` (computed once per origin)."""
        assert self.lines is not None
        got = self._journeys.get(origin)
        if got is None:
            got = plan_journeys(self.lines, origin)
            self._journeys[origin] = got
        return got

    def expected_min(self, origin: int, destination: int) -> float:
        """Expected journey minutes from node to node (waits included; 0 for the same node, inf if none)."""
        if origin == destination:
            return 0.0
        j = self.journeys_from(origin).get(destination)
        return j[0] if j is not None else math.inf

    def add_passenger(
        self,
        origin: int,
        destination: int,
        start_s: int,
        *,
        pax_id: str | None = None,
        journey_id: str = "",
        walk_in_m: float = 0.0,
        walk_out_m: float = 0.0,
        on_done: Callable[[TransitPassenger, int], None] | None = None,
    ) -> TransitPassenger:
        """A passenger who leaves at ``start_s``, walks ``walk_in_m`` to stop node ``origin``
        and rides to ``destination`` (then walks ``walk_out_m``). ``on_done(passenger, time)``
        is called when they arrive (or at once, status "no_route", when no journey exists)."""
        pax = TransitPassenger(
            pax_id or f"tp{len(self.passengers):06d}", origin, destination, start_s, journey_id, walk_in_m, walk_out_m
        )
        self.passengers.append(pax)
        if on_done is not None:
            self._done[pax.pax_id] = on_done
        walk_in = round(walk_in_m / self.spec.walk_speed_mps)
        pax.walk_s = walk_in + round(walk_out_m / self.spec.walk_speed_mps)
        j = self.journeys_from(origin).get(destination) if origin != destination else (0.0, 0, [])
        if j is None or not j[2]:
            pax.status = "no_route" if origin != destination else "completed"
            pax.end_s = start_s + pax.walk_s if origin == destination else -1
            self._finish(pax, start_s)
            return pax
        pax.expected_min, _, pax.legs = j
        self.sim.call_at(start_s + walk_in, functools.partial(self._queue, pax))
        return pax

    # ---------------------------------------------------------------- events
    def _finish(self, pax: TransitPassenger, t: int) -> None:
        cb = self._done.pop(pax.pax_id, None)
        if cb is not None:
            cb(pax, t)

    def _queue(self, pax: TransitPassenger, t: int) -> None:
        p, i, _ = pax.legs[pax.leg]
        pax.status = "waiting"
        pax._since = t
        self._queues[(p, i)].append(pax)

    def _arrival_call(self, trip: BusTrip, k: int, i: int) -> Callable[[int], None]:
        return lambda t: self._arrive(trip, k, i, t)

    def _arrive(self, trip: BusTrip, k: int, i: int, t: int) -> None:
        """Bus ``trip`` (departure ``k`` of its pattern) reaches its stop ``i`` at ``t``."""
        lines = self.lines
        assert lines is not None
        spec = self.spec
        pat = lines.patterns[trip.pattern]
        onboard = trip.onboard
        load = sum(len(v) for v in onboard.values())
        leaving = onboard.pop(i, [])
        for pax in leaving:
            pax.in_vehicle_s += t - pax._since
            pax.leg += 1
            if pax.leg < len(pax.legs):
                self._queue(pax, t)
            else:
                pax.status = "completed"
                pax.end_s = t + round(pax.walk_out_m / spec.walk_speed_mps)
                self._finish(pax, pax.end_s)
        load -= len(leaving)
        boarded = denied = 0
        last = i + 1 == pat.nodes.size
        if not last:
            boarded, denied, load = self._board(trip, i, t, load, count_denied=True)
        dwell = round(spec.dwell_base_s + spec.dwell_per_boarding_s * (boarded + len(leaving)))
        call = StopCall(i, int(pat.nodes[i]), int(pat.schedule_s[k, i]), t, t + dwell, boarded, len(leaving), denied,
                        load)  # fmt: skip
        trip.calls.append(call)
        if not last:
            self.sim.call_at(t + dwell, lambda td: self._depart(trip, k, i, td, call))

    def _board(self, trip: BusTrip, i: int, t: int, load: int, *, count_denied: bool) -> tuple[int, int, int]:
        """Riders waiting for ``trip`` at its stop ``i`` board in the order they came while
        places are left; the others stay (a denied boarding each, with ``count_denied``).
        Returns boarded, denied and the load after."""
        boarded = denied = 0
        queue = self._queues.get((trip.pattern, i))
        if not queue:
            return boarded, denied, load
        kept: deque[TransitPassenger] = deque()
        while queue:
            pax = queue.popleft()
            if load < self.spec.capacity:
                pax.wait_s += t - pax._since
                pax._since = t
                pax.status = "on_board"
                pax.lines_used.append(trip.line)
                trip.onboard[pax.legs[pax.leg][2]].append(pax)
                load += 1
                boarded += 1
            else:
                if count_denied:
                    pax.denied += 1
                    denied += 1
                kept.append(pax)
        queue.extend(kept)
        return boarded, denied, load

    def _depart(self, trip: BusTrip, k: int, i: int, t: int, call: StopCall) -> None:
        lines = self.lines
        assert lines is not None
        pat = lines.patterns[trip.pattern]
        # riders who reached the stop while the bus dwelt get on too (no extra dwell)
        late, _, call.load_after = self._board(trip, i, t, call.load_after, count_denied=False)
        call.boarded += late
        a, b = int(lines.node_road[pat.nodes[i]]), int(lines.node_road[pat.nodes[i + 1]])
        if a == b:
            run, length = 0, 0
        else:
            run, length = self._drive(a, b)
        call.depart_s = t
        call.length_to_next_m = length
        self.sim.call_at(t + run, self._arrival_call(trip, k, i + 1))

    def _drive(self, a: int, b: int) -> tuple[int, int]:
        """Seconds and metres from road node ``a`` to ``b`` along ``sim.router``'s shortest path
        now; kept while the router (its traffic period) stays the same."""
        router = self.sim.router
        if router is not self._paths_router:
            self._paths_router = router
            self._paths = {}
        got = self._paths.get((a, b))
        if got is None:
            path = router.path(a, b)
            got = (int(path.travel_time_s), int(path.length_m))
            self._paths[(a, b)] = got
        return got

    # ---------------------------------------------------------------- finish
    def finish(self, sim: Simulation, output: SimOutput) -> None:
        for pax in self.passengers:
            if pax.status == "waiting":
                pax.status = "stranded"
                self._finish(pax, int(sim.now))
            elif pax.status == "on_board":
                self._finish(pax, int(sim.now))
        output.extras[self.key] = TransitOutput(self, paths=self.road_paths())

    def road_paths(self) -> dict[int, list[NDArray[np.int64]]]:
        """Per line (index), the road nodes its patterns drive through, one array per pattern
        (``sim.router``'s shortest path between consecutive stops; a straight hop where there is
        none): what the lines map draws."""
        from routing import RoutingError

        lines = self.lines
        assert lines is not None
        router = self.sim.router
        legs: dict[tuple[int, int], NDArray[np.int64]] = {}
        out: dict[int, list[NDArray[np.int64]]] = defaultdict(list)
        for pat in lines.patterns:
            road = lines.node_road[pat.nodes].tolist()
            parts = [np.asarray(road[:1], np.int64)]
            for a, b in itertools.pairwise(road):
                if (a, b) not in legs:
                    try:
                        legs[(a, b)] = np.asarray(router.path(a, b).nodes, np.int64) if a != b else np.array([a])
                    except RoutingError:
                        legs[(a, b)] = np.array([a, b], np.int64)
                parts.append(legs[(a, b)][1:])
            out[pat.line].append(np.concatenate(parts))
        return dict(out)


# ------------------------------------------------------------------------------- results
def _stats(values: Sequence[float] | NDArray[np.float64]) -> dict[str, float | None]:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {"mean": None, "p50": None, "p90": None, "max": None}
    return {
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "max": float(a.max()),
    }


class TransitOutput:
    """What the bus lines leave in ``output.extras["transit"]`` (a :class:`sim.report.ExtraOutput`)."""

    def __init__(self, component: TransitLines, *, paths: dict[int, list[NDArray[np.int64]]] | None = None) -> None:
        assert component.lines is not None
        self.lines = component.lines
        #: the day's road network and each line's road paths (:meth:`TransitLines.road_paths`), for the map
        sim = getattr(component, "sim", None)
        self.network: RoadNetwork | None = sim.network if sim is not None else None
        self.paths = paths or {}
        self.spec = component.spec
        self.passengers = component.passengers
        self.trips = component.trips
        self._kpis: dict[str, Any] | None = None

    # ---------------------------------------------------------------- loads
    def segment_loads(self) -> list[dict[str, Any]]:
        """Per pattern and segment (stop i to i + 1): bus trips run, mean and max load, seats."""
        rows = []
        by_pattern: dict[int, list[BusTrip]] = defaultdict(list)
        for trip in self.trips:
            by_pattern[trip.pattern].append(trip)
        for p, pat in enumerate(self.lines.patterns):
            for i in range(pat.nodes.size - 1):
                loads = [tr.calls[i].load_after for tr in by_pattern[p] if len(tr.calls) > i + 1]
                rows.append({
                    "line": self.lines.line_names[pat.line],
                    "direction": pat.direction,
                    "segment": i,
                    "from_stop": self.lines.node_names[int(pat.nodes[i])],
                    "to_stop": self.lines.node_names[int(pat.nodes[i + 1])],
                    "bus_trips": len(loads),
                    "mean_load": float(np.mean(loads)) if loads else 0.0,
                    "max_load": int(max(loads)) if loads else 0,
                    "seats": self.spec.seats,
                    "capacity": self.spec.capacity,
                })  # fmt: skip
        return rows

    def line_rows(self) -> list[dict[str, Any]]:
        """Per line: bus trips, boardings, passenger-km, crowding, denied boardings, delays."""
        seats = self.spec.seats
        out = []
        for li, name in enumerate(self.lines.line_names):
            trips = [tr for tr in self.trips if self.lines.patterns[tr.pattern].line == li]
            calls = [c for tr in trips for c in tr.calls]
            pkm = sum(c.load_after * c.length_to_next_m for c in calls) / 1000
            above = sum(max(0, c.load_after - seats) * c.length_to_next_m for c in calls) / 1000
            ended = [tr for tr in trips if tr.calls and len(tr.calls) == self.lines.patterns[tr.pattern].nodes.size]
            delays = [tr.delay_s for tr in ended]
            st = _stats(delays)
            out.append({
                "line": name,
                "bus_trips": len(trips),
                "bus_trips_ended": len(ended),
                "boardings": int(sum(c.boarded for c in calls)),
                "denied_boardings": int(sum(c.denied for c in calls)),
                "passenger_km": round(pkm, 3),
                "passenger_km_above_seats": round(above, 3),
                "crowding_share": round(above / pkm, 4) if pkm > 0 else 0.0,
                "max_load": max((c.load_after for c in calls), default=0),
                "delay_last_stop_mean_s": st["mean"],
                "delay_last_stop_p90_s": st["p90"],
                "headway_min": float(np.mean([pat.headway_min for pat in self.lines.patterns if pat.line == li])),
            })  # fmt: skip
        return out

    # ---------------------------------------------------------------- kpis
    def planning_comparison(self) -> dict[str, Any] | None:
        """The simulated ATT beside the planning evaluation's (route sets with their plan only)."""
        lines = self.lines
        if lines.problem is None or lines.routes is None:
            return None
        from planning import Evaluator
        from planning.frequencies import wait_min_per_trip

        done = [p for p in self.passengers if p.status == "completed" and p.legs]
        pen = lines.transfer_penalty_min
        ev = Evaluator(lines.problem).evaluate(lines.routes, loads=True)
        out: dict[str, Any] = {
            "evaluator_att_min": ev.att_min,
            "evaluator_in_vehicle_min": ev.in_vehicle_min,
            "evaluator_transfers_per_trip": ev.transfers_per_trip,
        }
        if lines.planned_headway_min is not None:
            wait = wait_min_per_trip(lines.problem, ev, np.asarray(lines.planned_headway_min, np.float64))
            out["evaluator_att_with_wait_min"] = ev.att_min + wait
        if done:
            counts = np.zeros((lines.num_nodes, lines.num_nodes))
            for p in done:
                counts[p.origin, p.destination] += 1
            same = Evaluator(replace(lines.problem, demand=counts)).evaluate(lines.routes)
            out["evaluator_att_same_trips_min"] = same.att_min
            att = np.array([(p.in_vehicle_s / 60 + pen * p.transfers) for p in done])
            out["simulated_att_min"] = float(att.mean())
            out["simulated_att_with_wait_min"] = float(
                np.mean([a + p.wait_s / 60 for a, p in zip(att, done, strict=True)])
            )
            out["simulated_in_vehicle_min"] = float(np.mean([p.in_vehicle_s / 60 for p in done]))
            out["simulated_wait_min"] = float(np.mean([p.wait_s / 60 for p in done]))
            out["simulated_transfers_per_trip"] = float(np.mean([p.transfers for p in done]))
            out["passengers_compared"] = len(done)
        return out

    def kpis(self) -> dict[str, Any]:
        if self._kpis is not None:
            return self._kpis
        pax = self.passengers
        done = [p for p in pax if p.status == "completed"]
        status: dict[str, int] = defaultdict(int)
        for p in pax:
            status[p.status] += 1
        delays = [
            tr.delay_s for tr in self.trips if tr.calls and len(tr.calls) == self.lines.patterns[tr.pattern].nodes.size
        ]
        lines = self.line_rows()
        pkm = sum(r["passenger_km"] for r in lines)
        above = sum(r["passenger_km_above_seats"] for r in lines)
        self._kpis = {
            "source": self.lines.source,
            "lines": len(self.lines.line_names),
            "bus_trips": len(self.trips),
            "passengers": len(pax),
            "by_status": dict(status),
            "boardings": int(sum(r["boardings"] for r in lines)),
            "denied_boardings": int(sum(r["denied_boardings"] for r in lines)),
            "passengers_left_behind": int(sum(1 for p in pax if p.denied)),
            "passenger_km": round(pkm, 3),
            "crowding_share": round(above / pkm, 4) if pkm > 0 else 0.0,
            "delay_last_stop_s": _stats(delays),
            "wait_s": _stats([p.wait_s for p in done]),
            "in_vehicle_s": _stats([p.in_vehicle_s for p in done]),
            "walk_s": _stats([p.walk_s for p in done]),
            "total_s": _stats([p.total_s for p in done]),
            "transfers_per_trip": float(np.mean([p.transfers for p in done])) if done else None,
            "transfer_shares": {str(k): sum(1 for p in done if min(p.transfers, 3) == k) / len(done) for k in range(4)}
            if done
            else {},
            "per_line": lines,
            "planning": self.planning_comparison(),
        }
        return self._kpis

    def summary_lines(self) -> list[str]:
        k = self.kpis()
        st = k["by_status"]
        m = lambda s: "–" if s is None else f"{s / 60:.1f} min"  # noqa: E731
        out = [
            f"bus lines     {k['lines']} lines, {k['bus_trips']} bus trips ({k['source']})",
            f"bus riders    {k['passengers']} passengers: {st.get('completed', 0)} arrived, "
            f"{st.get('stranded', 0)} stranded, {st.get('no_route', 0)} without a route; "
            f"{k['boardings']} boardings, {k['denied_boardings']} denied",
            f"bus times     wait {m(k['wait_s']['mean'])}, in vehicle {m(k['in_vehicle_s']['mean'])}, "
            f"total {m(k['total_s']['mean'])}, {k['transfers_per_trip'] or 0:.2f} transfers per trip; "
            f"crowding {100 * k['crowding_share']:.1f} % of pax-km standing; delay at the last stop "
            f"{m(k['delay_last_stop_s']['mean'])} (p90 {m(k['delay_last_stop_s']['p90'])})",
        ]
        pc = k["planning"]
        if pc and "simulated_att_min" in pc:
            out.append(
                f"bus ATT       simulated {pc['simulated_att_min']:.2f} min (with waits "
                f"{pc['simulated_att_with_wait_min']:.2f}); planning evaluation {pc['evaluator_att_min']:.2f} min "
                f"(same trips {pc['evaluator_att_same_trips_min']:.2f})"
            )
        return out

    # ---------------------------------------------------------------- files
    def passenger_rows(self) -> list[dict[str, Any]]:
        rows = []
        for p in self.passengers:
            rows.append({
                "pax_id": p.pax_id, "journey_id": p.journey_id,
                "origin": self.lines.node_names[p.origin], "destination": self.lines.node_names[p.destination],
                "start_s": p.start_s, "status": p.status, "wait_s": p.wait_s, "in_vehicle_s": p.in_vehicle_s,
                "transfers": p.transfers, "walk_m": round(p.walk_in_m + p.walk_out_m, 1), "walk_s": p.walk_s,
                "denied": p.denied, "total_s": p.total_s if p.status == "completed" else "",
                "expected_min": round(p.expected_min, 3) if math.isfinite(p.expected_min) else "",
                "lines": " ".join(p.lines_used),
            })  # fmt: skip
        return rows

    def write(self, folder: Path, *, plots: bool = True) -> dict[str, Path]:
        folder = Path(folder)
        files = {
            "lines": folder / "lines.csv",
            "line_loads": folder / "line_loads.csv",
            "transit_trips": folder / "transit_trips.csv",
            "bus_stop_calls": folder / "bus_stop_calls.csv",
        }
        _csv(files["lines"], self.line_rows())
        _csv(files["line_loads"], self.segment_loads())
        _csv(files["transit_trips"], self.passenger_rows(), TRIP_COLUMNS)
        calls = [
            {"trip_id": tr.trip_id, "line": tr.line, "direction": tr.direction, "stop_index": c.stop_index,
             "stop": self.lines.node_names[c.node], "scheduled_s": c.scheduled_s, "arrive_s": c.arrive_s,
             "depart_s": c.depart_s, "delay_s": c.arrive_s - c.scheduled_s, "boarded": c.boarded,
             "alighted": c.alighted, "denied": c.denied, "load_after": c.load_after}
            for tr in self.trips for c in tr.calls
        ]  # fmt: skip
        _csv(files["bus_stop_calls"], calls)
        if plots:
            files["line_loads_plot"] = folder / "line_loads.png"
            plot_line_loads(self).savefig(files["line_loads_plot"], format="png")
            if self.network is not None and self.paths:
                files["lines_map"] = folder / "lines_map.png"
                plot_lines_map(self).savefig(files["lines_map"], format="png")
        return files


def _csv(path: Path, rows: list[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """``rows`` to a CSV file (:func:`sim.report.write_csv`), the columns those of the first row by default."""
    write_csv(path, columns if columns is not None else (list(rows[0]) if rows else ["empty"]), rows)


def plot_line_loads(out: TransitOutput) -> Any:
    """Per line one panel: mean load per segment (bars, one colour per direction, the way back
    drawn below the axis), the maximum (dots) and the seats (dashed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = out.segment_loads()
    names = out.lines.line_names
    fig = Figure(figsize=(8, 1.9 * len(names) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for ax, name in zip(axes, names, strict=True):
        for direction, colour, sign in ((0, "tab:blue", 1), (1, "tab:orange", -1)):
            seg = [r for r in rows if r["line"] == name and r["direction"] == direction]
            if not seg:
                continue
            x = np.arange(len(seg))
            if direction == 1:
                x = x[::-1]  # the way back runs right to left, so a segment sits over its twin
            ax.bar(x, [sign * r["mean_load"] for r in seg], color=colour, alpha=0.8,
                   label=f"direction {direction}: mean")  # fmt: skip
            ax.plot(
                x, [sign * r["max_load"] for r in seg], "o", color=colour, ms=3, label=f"direction {direction}: max"
            )
        ax.axhline(out.spec.seats, color="grey", ls="--", lw=0.8)
        ax.axhline(-out.spec.seats, color="grey", ls="--", lw=0.8)
        ax.axhline(0, color="black", lw=0.5)
        ax.set_ylabel(f"{name}\nriders")
    axes[0].set_title("Load along each line (forwards up, back down; dashed: seats)")
    axes[-1].set_xlabel("segment (stop to next stop)")
    axes[0].legend(fontsize=7, ncols=2, loc="upper right")
    return fig


def plot_lines_map(out: TransitOutput) -> Any:
    """The lines on the day's streets: light grey streets, each line's road path in its own
    colour (both directions), its name at its first stop, the stops as white dots."""
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection

    from .plots import figure

    net = out.network
    assert net is not None
    x, y = np.asarray(net.x_m, np.float64), np.asarray(net.y_m, np.float64)
    tail = np.repeat(np.arange(net.indptr.shape[0] - 1), np.diff(net.indptr))
    head = np.asarray(net.indices, np.int64)
    pairs = np.unique(np.column_stack([np.minimum(tail, head), np.maximum(tail, head)]), axis=0)
    ratio = float(np.ptp(y)) / max(float(np.ptp(x)), 1e-9)
    fig = figure(9.0, min(max(7.5 * ratio, 3.5), 11.0) + 1.0)
    ax = fig.add_subplot()
    streets = np.stack([np.column_stack([x[pairs[:, k]], y[pairs[:, k]]]) for k in (0, 1)], axis=1)
    ax.add_collection(LineCollection(list(streets), colors="#d0d0d0", linewidths=0.5, zorder=1))
    names = out.lines.line_names
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    for li, name in enumerate(names):
        colour = cmap(li % cmap.N)
        for k, nodes in enumerate(out.paths.get(li, [])):
            ax.plot(x[nodes], y[nodes], color=colour, lw=2.4, alpha=0.75, zorder=3, solid_capstyle="round",
                    label=name if k == 0 and len(names) <= 20 else None)  # fmt: skip
        first = next((p for p in out.lines.patterns if p.line == li), None)
        if first is not None:
            r = int(out.lines.node_road[first.nodes[0]])
            ax.annotate(name, (x[r], y[r]), xytext=(4, 4), textcoords="offset points", fontsize=8, color=colour,
                        fontweight="bold", zorder=5)  # fmt: skip
    stops = out.lines.node_road
    ax.scatter(x[stops], y[stops], s=14, facecolor="white", edgecolor="black", linewidths=0.7, zorder=4,
               label="bus stops")  # fmt: skip
    pad = 0.02 * max(float(np.ptp(x)), float(np.ptp(y)), 1.0)
    ax.set_xlim(float(x.min()) - pad, float(x.max()) + pad)
    ax.set_ylim(float(y.min()) - pad, float(y.max()) + pad)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Bus lines: {len(names)} lines, {stops.size} stops ({out.lines.source})", fontsize=10)
    fig.legend(fontsize=7, loc="outside right upper", ncols=2 if len(names) > 10 else 1)
    return fig
