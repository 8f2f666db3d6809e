"""Emergency vehicles in SUMO, with and without signal priority (issue 21's smart intersections).

:func:`run_emergency` dispatches emergency vehicles from given stations (SUMO edges; see
:func:`station_edges` for engine nodes or lat/lon) to random incidents (a random point of a
random edge, at a random time of the period, all drawn from ``seed``) under background
traffic, and simulates the same incidents, seed and background once per *mode*:

``none``
    vClass ``emergency``, driving as any car: it stops at red lights and waits in queues.
``bluelight``
    SUMO's own emergency behaviour, the bluelight device (``has.bluelight.device``): it may
    pass red lights, others within ``--device.bluelight.reactiondist`` make way (rescue lane).
``priority``
    signal priority, as a signal centre tracking the vehicle by GPS would give it: every
    signal of the vehicle's route within the horizon ahead (``max(horizon_m, horizon_s x its
    speed or the lane's limit)``, by default 150 m / 15 s; :class:`PriorityParams`) is set so
    that the vehicle's link (its approach lane's connection through the junction) is green:
    held if it is green already, else the other green links turn yellow for ``yellow_s`` and
    then the program's own phase that gives the vehicle's link green is shown (or, where the
    program has none, that link alone green). Once the vehicle has passed the signal, the
    signal returns to its normal program, after a yellow where a green ends: a static program
    at the phase and second its own clock would be at had it never been held (cycle and
    offsets kept), any other at the phase after the held one. A signal serves one emergency
    vehicle at a time (the first to ask; a second waits); a hold the vehicle has not used
    within ``max_hold_s`` (stuck in a queue) is given up.
``bluelight+priority``
    both.

All incidents of one mode run in one simulation (vehicles whose trips overlap meet each other,
as on a real day), in a child Python process (libsumo holds one simulation per process, and a
SUMO crash then ends only that mode: :attr:`ModeResult.error`); every mode simulates the same
period (until ``end_s + drain_s``) so that the background's time loss compares between modes.
SUMO's trip output (``tripinfo``, unfinished trips included) gives every vehicle's time loss;
:class:`EmergencyResult` keeps it per vehicle and mode
(:meth:`EmergencyResult.time_loss_by_prefix` sums it for a fleet by id prefix) and states the
delay to everyone else against the ``none`` run: the cross traffic's extra queue at the held
signals (:meth:`EmergencyResult.cross_delay_s`, from every signal's incoming lanes' halted
vehicles, subscribed) and every other vehicle's time loss
(:meth:`EmergencyResult.others_delay_s`).

Response time is dispatch (the planned departure) to arrival, so a delayed insertion counts.
A *stop* is the vehicle's speed falling below 0.1 m/s (SUMO's halting threshold); a *red stop*
or *red wait* is a stop, or a second of it, with the next signal of its route within 50 m and
red or yellow for the vehicle's link.

The control loop is Python over libsumo (no SUMO tool sets signals ahead of a vehicle along its
route); the background comes from SUMO's ``randomTrips.py`` + ``duarouter``
(:func:`random_background`) unless the caller gives a route file.
"""

from __future__ import annotations

import logging
import math
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from routing.errors import InvalidArgumentError

from .network import SumoNetwork
from .session import SumoSession
from .tools import SumoError, run_python_tool

log = logging.getLogger(__name__)

MODES = ("none", "bluelight", "priority", "bluelight+priority")
#: id prefix of the emergency vehicles and of the background vehicles made here
EMERGENCY_PREFIX = "ev"
BACKGROUND_PREFIX = "bg"
#: speed below which a vehicle counts as stopped (m/s; SUMO's halting threshold)
HALT_SPEED_MS = 0.1
#: a stop counts as a red stop when the next signal is at most this far ahead (m)
RED_STOP_RANGE_M = 50.0
_GREEN = "Gg"
#: width of the bins the signals' queues are kept in (s)
QUEUE_BIN_S = 10.0
#: how long after a signal's release its cross traffic's extra queue is still counted (s)
CROSS_AFTER_S = 60.0


def _check(name: str, ok: bool, value: object, allowed: str) -> None:
    if not ok:
        raise InvalidArgumentError(name, f"got {value!r}", allowed)


@dataclass(frozen=True)
class PriorityParams:
    """How the green wave is set ahead of an emergency vehicle.

    horizon_m, horizon_s: a signal is asked for when it is within ``max(horizon_m, horizon_s x
        v)`` of the vehicle along its route, ``v`` the larger of its speed and its lane's limit
        (so at 50 km/h about 200 m, 15 s: time for the yellow and for a queue to start moving);
    yellow_s: the yellow shown to the links that lose their green;
    max_hold_s: a signal held this long without the vehicle having passed (it is stuck in a
        queue that does not move) is released and not asked for again by that vehicle, as real
        pre-emption systems cap a pre-emption, so that a jam is not made worse by a green that
        nobody can use.
    """

    horizon_m: float = 150.0
    horizon_s: float = 15.0
    yellow_s: float = 3.0
    max_hold_s: float = 60.0

    def __post_init__(self) -> None:
        _check(
            "horizon_m", math.isfinite(self.horizon_m) and 0 < self.horizon_m <= 5000, self.horizon_m, "0 < m <= 5000"
        )
        _check(
            "horizon_s", math.isfinite(self.horizon_s) and 0 <= self.horizon_s <= 300, self.horizon_s, "0 <= s <= 300"
        )
        _check("yellow_s", math.isfinite(self.yellow_s) and 0 <= self.yellow_s <= 10, self.yellow_s, "0 <= s <= 10")
        _check("max_hold_s", 5 <= self.max_hold_s <= 3600, self.max_hold_s, "5 <= s <= 3600")


@dataclass(frozen=True)
class EmergencySpec:
    """The emergency day: ``stations`` (SUMO edge ids the vehicles start on), ``incidents``
    drawn uniformly over ``[begin_s, end_s)``, each at least ``min_distance_m`` (route length)
    from its station, served by the station with the shortest free-flow route; ``drain_s``
    more simulated seconds after ``end_s`` for the last trips; ``reaction_m`` SUMO's
    ``--device.bluelight.reactiondist`` (how far ahead others make way)."""

    stations: tuple[str, ...]
    incidents: int = 20
    begin_s: float = 0.0
    end_s: float = 7200.0
    min_distance_m: float = 500.0
    drain_s: float = 900.0
    reaction_m: float = 25.0

    def __post_init__(self) -> None:
        _check("stations", len(self.stations) >= 1, list(self.stations), "at least one station")
        _check("incidents", 1 <= self.incidents <= 10_000, self.incidents, "1 <= n <= 10000")
        _check("begin_s", math.isfinite(self.begin_s) and self.begin_s >= 0, self.begin_s, ">= 0")
        _check("end_s", math.isfinite(self.end_s) and self.end_s > self.begin_s, self.end_s, "> begin_s")
        _check("min_distance_m", 0 <= self.min_distance_m <= 50_000, self.min_distance_m, "0 <= m <= 50000")
        _check("drain_s", 0 <= self.drain_s <= 7200, self.drain_s, "0 <= s <= 7200")
        _check("reaction_m", 0 < self.reaction_m <= 500, self.reaction_m, "0 < m <= 500")


@dataclass(frozen=True)
class Incident:
    """One emergency trip: vehicle ``id`` leaves ``station`` at ``dispatch_s`` along ``route``
    (SUMO edges, the free-flow fastest) and stops ``arrival_pos_m`` into its last edge."""

    id: str
    dispatch_s: float
    station: str
    route: tuple[str, ...]
    arrival_pos_m: float
    length_m: float
    free_flow_s: float


@dataclass
class Trip:
    """One emergency trip in one mode. ``response_s`` None: it did not arrive by the end."""

    id: str
    response_s: float | None
    stops: int
    red_stops: int
    red_wait_s: float
    time_loss_s: float
    arrived: bool


@dataclass
class ModeResult:
    """One mode's simulation: the emergency trips, every vehicle's time loss (s, from SUMO's
    tripinfo, unfinished trips included) and the signals the priority set (``holds``: signal
    id, vehicle, time set, time released)."""

    mode: str
    trips: list[Trip]
    time_loss_s: dict[str, float]
    holds: list[tuple[str, str, float, float | None]] = field(default_factory=list)
    signals_restored: bool = True
    wall_s: float = 0.0
    #: per hold (same order as ``holds``): the incoming lanes its green wave held at red or yellow
    hold_cross_lanes: list[frozenset[str]] = field(default_factory=list)
    #: halted vehicle-seconds on every signal's incoming lanes, per ``QUEUE_BIN_S`` bin (bins x lanes)
    queue_s: NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    queue_lanes: list[str] = field(default_factory=list)
    #: every signal's state and program at the end of the run (what a release must restore)
    final_signals: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: vehicles SUMO moved ahead after being stuck ``--time-to-teleport`` (300 s): a sign of gridlock
    teleports: int = 0
    #: holds released because the vehicle had not passed within ``max_hold_s``
    holds_timed_out: int = 0
    #: why the run has no results (SUMO crashed or failed), else None
    error: str | None = None

    def response_times(self) -> list[float]:
        return [t.response_s for t in self.trips if t.response_s is not None]


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "p90": None}
    arr = np.asarray(values, np.float64)
    return {"mean": float(arr.mean()), "median": float(np.median(arr)), "p90": float(np.percentile(arr, 90))}


@dataclass
class EmergencyResult:
    """Every mode's :class:`ModeResult` for the same incidents, seed and background."""

    incidents: list[Incident]
    modes: dict[str, ModeResult]
    seed: int
    params: PriorityParams
    spec: EmergencySpec

    def time_loss_by_prefix(self, mode: str, prefix: str) -> float:
        """Total time loss (s) of the vehicles whose id starts with ``prefix`` in ``mode``
        (e.g. a DRT fleet's vehicles, or ``"bg"`` for the background made here)."""
        return float(sum(v for k, v in self.modes[mode].time_loss_s.items() if k.startswith(prefix)))

    def others_delay_s(self, mode: str) -> dict[str, Any]:
        """The time lost by everyone but the emergency vehicles in ``mode`` minus that in the
        ``none`` run (s; vehicles in both runs): the net total, per vehicle and per emergency
        trip, and its two sides: ``lost_s`` the sum of the increases (the vehicles that lost
        time, mostly cross traffic held at red for the green wave) and ``gained_s`` the sum of
        the decreases (mostly traffic on the emergency vehicle's way, which shares its green)."""
        base, run = self.modes["none"].time_loss_s, self.modes[mode].time_loss_s
        if self.modes[mode].error:
            return {"total_s": None, "lost_s": None, "gained_s": None}
        ids = [k for k in base if k in run and not k.startswith(EMERGENCY_PREFIX)]
        diff = np.array([run[k] - base[k] for k in ids], np.float64)
        total = float(diff.sum())
        return {
            "total_s": total,
            "lost_s": float(diff[diff > 0].sum()),
            "gained_s": float(-diff[diff < 0].sum()),
            "vehicles_slower": int((diff > 0.5).sum()),
            "vehicles": len(ids),
            "per_vehicle_s": total / len(ids) if ids else 0.0,
            "per_incident_s": total / len(self.incidents) if self.incidents else 0.0,
        }

    def cross_delay_s(self, mode: str, *, after_s: float = CROSS_AFTER_S) -> dict[str, float]:
        """The cross traffic's extra waiting at the signals the green wave held: over every hold
        of ``mode``, from its start to ``after_s`` after its release, the halted vehicle-seconds
        on the incoming lanes it held at red or yellow, minus those on the same lanes and in
        the same time bins of the ``none`` run (s; each lane and bin counted once)."""
        run, base = self.modes[mode], self.modes["none"]
        if not run.holds or base.queue_s.size == 0 or run.queue_s.size == 0:
            return {"total_s": 0.0, "per_incident_s": 0.0, "lane_bins": 0}
        col = {lane: i for i, lane in enumerate(run.queue_lanes)}
        base_col = {lane: i for i, lane in enumerate(base.queue_lanes)}
        cells: set[tuple[int, int]] = set()
        bins = min(run.queue_s.shape[0], base.queue_s.shape[0])
        for (_tls, _vid, t0, t1), lanes in zip(run.holds, run.hold_cross_lanes, strict=True):
            end = (t1 if t1 is not None else t0) + after_s
            b0, b1 = int(t0 // QUEUE_BIN_S), min(bins - 1, int(end // QUEUE_BIN_S))
            for lane in lanes:
                if lane in col and lane in base_col:
                    cells.update((b, col[lane]) for b in range(b0, b1 + 1))
        total = 0.0
        for b, c in cells:
            total += float(run.queue_s[b, c]) - float(base.queue_s[b, base_col[run.queue_lanes[c]]])
        n = len(self.incidents)
        return {"total_s": total, "per_incident_s": total / n if n else 0.0, "lane_bins": len(cells)}

    def summary(self) -> dict[str, Any]:
        """Per mode: response-time mean/median/p90, cut against ``none`` (per cent of the mean
        and of the median), stops at red, and the delay to the other vehicles."""
        out: dict[str, Any] = {}
        base = _stats(self.modes["none"].response_times()) if "none" in self.modes else None
        for mode, res in self.modes.items():
            rt = res.response_times()
            stats = _stats(rt)
            row: dict[str, Any] = {
                "trips": len(res.trips),
                "error": res.error,
                "arrived": sum(t.arrived for t in res.trips),
                "response_s": stats,
                "stops_mean": float(np.mean([t.stops for t in res.trips])) if res.trips else 0.0,
                "red_stops_mean": float(np.mean([t.red_stops for t in res.trips])) if res.trips else 0.0,
                "red_wait_s_mean": float(np.mean([t.red_wait_s for t in res.trips])) if res.trips else 0.0,
                "time_loss_s_mean": float(np.mean([t.time_loss_s for t in res.trips])) if res.trips else 0.0,
                "signals_held": len(res.holds),
                "holds_timed_out": res.holds_timed_out,
                "signals_restored": res.signals_restored,
                "teleports": res.teleports,
                "others_time_loss_s_mean": float(
                    np.mean([v for k, v in res.time_loss_s.items() if not k.startswith(EMERGENCY_PREFIX)] or [0.0])
                ),
                "wall_s": res.wall_s,
            }
            if base and base["mean"] and stats["mean"] is not None and base["median"] and stats["median"] is not None:
                row["cut_mean_pct"] = 100.0 * (1.0 - stats["mean"] / base["mean"])
                row["cut_median_pct"] = 100.0 * (1.0 - stats["median"] / base["median"])
            if "none" in self.modes:
                row["others_delay"] = self.others_delay_s(mode)
                if res.holds:
                    row["cross_delay"] = self.cross_delay_s(mode)
            out[mode] = row
        return out


# ---------------------------------------------------------------------------- inputs
def station_edges(
    sumo_network: SumoNetwork,
    engine_network: Any,
    *,
    nodes: Sequence[int] = (),
    lat_lon: Sequence[tuple[float, float]] = (),
) -> tuple[str, ...]:
    """The SUMO edge a vehicle leaves each station by: the first SUMO edge of the engine edge
    out of the station's node (an engine node id, or the node nearest to a lat/lon) that
    leads to the most other edges (the widest way out).

    Raises:
        routing.InvalidArgumentError: a node id out of range, a point off the network, or a
            node with no mapped edge out of it.
    """
    from routing.snapping import nearest_nodes

    chosen: list[int] = []
    for n in nodes:
        _check(
            "stations", 0 <= int(n) < engine_network.num_nodes, n, f"engine node ids 0..{engine_network.num_nodes - 1}"
        )
        chosen.append(int(n))
    for lat, lon in lat_lon:
        snap = nearest_nodes(engine_network, [lat], [lon])
        node = int(snap.node[0])
        _check("stations", node >= 0, (lat, lon), "points within the snapping distance of the network")
        chosen.append(node)
    out: list[str] = []
    em = sumo_network.edge_map
    for n in chosen:
        best: tuple[int, str] | None = None
        for e in range(int(engine_network.indptr[n]), int(engine_network.indptr[n + 1])):
            chain = em.sumo_chain(e)
            if not chain:
                continue
            head = int(engine_network.indices[e])
            fanout = int(engine_network.indptr[head + 1] - engine_network.indptr[head])
            if best is None or fanout > best[0]:
                best = (fanout, chain[0])
        _check("stations", best is not None, n, "nodes with a road out of them")
        assert best is not None
        out.append(best[1])
    return tuple(out)


def default_stations(sumo_network: SumoNetwork, engine_network: Any, count: int = 2) -> tuple[str, ...]:
    """``count`` stations chosen deterministically: the engine nodes nearest to points spread
    along the network's bounding-box diagonal (at 1/(count+1), 2/(count+1) ... of it)."""
    lat, lon = engine_network.lat, engine_network.lon
    pts = []
    for k in range(1, count + 1):
        f = k / (count + 1)
        pts.append((float(lat.min() + f * (lat.max() - lat.min())), float(lon.min() + f * (lon.max() - lon.min()))))
    from routing.snapping import nearest_nodes

    snap = nearest_nodes(engine_network, [p[0] for p in pts], [p[1] for p in pts], max_distance_m=None)
    return station_edges(sumo_network, engine_network, nodes=[int(n) for n in snap.node])


def _net_file(sumo_network: SumoNetwork | str | Path) -> Path:
    return Path(sumo_network.net_file if isinstance(sumo_network, SumoNetwork) else sumo_network)


def draw_incidents(net: Any, spec: EmergencySpec, seed: int) -> list[Incident]:
    """The incidents of ``spec`` (see :class:`EmergencySpec`), drawn from ``seed`` over the
    sumolib network ``net``: a uniformly random edge that allows emergency vehicles and is
    reachable from a station at least ``min_distance_m`` away, a random point on it, a time
    uniform in the period (sorted)."""
    rng = np.random.default_rng(seed)
    edges = [e for e in net.getEdges() if e.getFunction() == "" and e.allows("emergency")]
    for s in spec.stations:
        _check(
            "stations",
            net.hasEdge(s) and net.getEdge(s).allows("emergency"),
            s,
            "edges of the network open to emergency vehicles",
        )
    stations = [net.getEdge(s) for s in spec.stations]
    times = np.sort(rng.uniform(spec.begin_s, spec.end_s, spec.incidents))
    out: list[Incident] = []
    tries = 0
    while len(out) < spec.incidents:
        tries += 1
        if tries > 50 * spec.incidents + 200:
            raise SumoError(
                f"could not place {spec.incidents} incidents at least {spec.min_distance_m:g} m from a station "
                f"(placed {len(out)}): lower min_distance_m or check the stations"
            )
        target = edges[int(rng.integers(len(edges)))]
        best: tuple[float, Any, list[Any]] | None = None
        for st in stations:
            path, cost = net.getFastestPath(st, target, vClass="emergency")
            if path and (best is None or cost < best[0]):
                best = (float(cost), st, path)
        if best is None:
            continue
        cost, st, path = best
        pos = float(rng.uniform(0.2, 0.9)) * target.getLength()
        length = sum(e.getLength() for e in path[:-1]) + pos
        if length < spec.min_distance_m or len(path) < 2:
            continue
        out.append(
            Incident(
                id=f"{EMERGENCY_PREFIX}{len(out)}",
                dispatch_s=round(float(times[len(out)]), 1),
                station=st.getID(),
                route=tuple(e.getID() for e in path),
                arrival_pos_m=round(pos, 2),
                length_m=round(length, 1),
                free_flow_s=round(cost, 1),
            )
        )
    return out


def random_background(
    sumo_network: SumoNetwork | str | Path,
    vehicles_per_hour: float,
    begin_s: float,
    end_s: float,
    seed: int,
    out: str | Path,
) -> Path:
    """Simple background traffic: SUMO's ``randomTrips.py`` (origins and destinations uniform
    over the edges' lengths, at least 300 m apart, departures spread at ``vehicles_per_hour``)
    routed by ``duarouter`` into the route file ``out``; vehicle ids start with ``bg``.

    Raises:
        routing.InvalidArgumentError: a rate outside 1..100000 or an empty period.
        SumoError: randomTrips or duarouter failed.
    """
    _check("vehicles_per_hour", 1 <= vehicles_per_hour <= 100_000, vehicles_per_hour, "1 <= veh/h <= 100000")
    _check("end_s", end_s > begin_s, end_s, "> begin_s")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    trips = out.with_name(out.name.split(".")[0] + ".trips.xml")
    args = [
        "-n", str(_net_file(sumo_network)),
        "-o", str(trips),
        "-r", str(out),
        "-b", f"{begin_s:g}",
        "-e", f"{end_s:g}",
        "--insertion-rate", f"{vehicles_per_hour:g}",
        "--random-depart",
        "--seed", str(int(seed)),
        "--prefix", BACKGROUND_PREFIX,
        "--vehicle-class", "passenger",
        "--min-distance", "300",
        "--trip-attributes", 'departLane="best" departSpeed="max"',
        "--duarouter-routing-threads", "1",
    ]  # fmt: skip
    run_python_tool("randomTrips.py", args, output=out)
    trips.unlink(missing_ok=True)
    return out


def write_emergency_routes(incidents: Sequence[Incident], path: Path, *, bluelight: bool) -> Path:
    """The route file of the emergency vehicles (one vType, with the bluelight device or not)."""
    root = ET.Element("routes")
    vt = ET.SubElement(
        root, "vType", id="emergency", vClass="emergency", guiShape="emergency", color="1,0,0", speedFactor="1"
    )
    if bluelight:
        ET.SubElement(vt, "param", key="has.bluelight.device", value="true")
    for inc in incidents:
        v = ET.SubElement(
            root,
            "vehicle",
            id=inc.id,
            type="emergency",
            depart=f"{inc.dispatch_s:g}",
            departLane="best",
            departSpeed="max",
            arrivalPos=f"{inc.arrival_pos_m:g}",
        )
        ET.SubElement(v, "route", edges=" ".join(inc.route))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


# ---------------------------------------------------------------------------- signal priority
@dataclass
class _Hold:
    owner: str
    links: set[int]
    target: str  # the state shown once the yellow is over
    resume_phase: int  # the program's phase to go back to
    green_at: float  # when ``target`` is shown (after the yellow)
    set_s: float
    shown: bool = False


class SignalPriority:
    """Sets signals green ahead of emergency vehicles and gives them back (see the module
    docstring). ``update`` once per step per vehicle, then ``tick`` once per step."""

    def __init__(self, sumo: Any, params: PriorityParams) -> None:
        self.sumo = sumo
        self.params = params
        self.holds: dict[str, _Hold] = {}
        self.programs: dict[str, tuple[str, list[str]]] = {}  # tls -> (program id, phase states)
        self.log: list[tuple[str, str, float, float | None]] = []
        self.cross: list[set[str]] = []  # per log entry: the incoming lanes held at red or yellow
        self._log_index: dict[str, int] = {}
        self._links: dict[str, list[str]] = {}  # tls -> incoming lane of each link index
        self.releasing: dict[str, tuple[float, int]] = {}  # tls -> (end of its yellow, phase to resume)
        self.expired: set[tuple[str, str]] = set()  # (vehicle, tls) holds that ran out (max_hold_s)
        self.clock: dict[str, tuple[float, float, list[float]]] = {}  # static tls -> (t, cycle position, durations)

    def _program(self, tls: str) -> tuple[str, list[str]]:
        if tls not in self.programs:
            tl = self.sumo.trafficlight
            pid = tl.getProgram(tls)
            logic = next((lg for lg in tl.getAllProgramLogics(tls) if lg.programID == pid), None)
            phases = [p.state for p in logic.phases] if logic is not None else []
            self.programs[tls] = (pid, phases)
            if logic is not None and int(logic.type) == 0 and phases:  # static: remember its clock
                t = self.sumo.simulation.getTime()
                durations = [float(p.duration) for p in logic.phases]
                k = tl.getPhase(tls)
                pos = sum(durations[:k]) + durations[k] - (tl.getNextSwitch(tls) - t)
                self.clock[tls] = (t, pos, durations)
        return self.programs[tls]

    def scheduled(self, tls: str, t: float) -> tuple[int, float] | None:
        """The phase a static program would show at ``t`` had it never been held, and the
        seconds left of it (None for other programs)."""
        if tls not in self.clock:
            return None
        t_ref, pos_ref, durations = self.clock[tls]
        pos = (pos_ref + t - t_ref) % sum(durations)
        for k, d in enumerate(durations):
            if pos < d:
                return k, d - pos
            pos -= d
        return len(durations) - 1, 0.0

    def update(self, t: float, vid: str, upcoming: Sequence[tuple[str, int, float, str]], reach_ms: float) -> None:
        """``upcoming``: the vehicle's next signals (``vehicle.getNextTLS``); ``reach_ms`` the
        speed that scales the time horizon."""
        horizon = max(self.params.horizon_m, self.params.horizon_s * reach_ms)
        for tls in [k for k, h in self.holds.items() if h.owner == vid and t - h.set_s > self.params.max_hold_s]:
            self.expired.add((vid, tls))
            self.release(t, tls)
        wanted: dict[str, set[int]] = {}
        for tls, link, dist, _state in upcoming:
            if dist > horizon:
                break
            if (vid, tls) not in self.expired:
                wanted.setdefault(tls, set()).add(int(link))
        for tls, links in wanted.items():
            self._request(t, vid, tls, links)
        ahead = {u[0] for u in upcoming}
        for tls in [k for k, h in self.holds.items() if h.owner == vid and k not in ahead]:
            self.release(t, tls)

    def _request(self, t: float, vid: str, tls: str, links: set[int]) -> None:
        hold = self.holds.get(tls)
        if hold is not None and (hold.owner != vid or links <= hold.links):
            return
        pending = self.releasing.pop(tls, None)  # a new hold during a release's yellow starts from it
        tl = self.sumo.trafficlight
        pid, phases = self._program(tls)
        links = links | (hold.links if hold else set())
        if hold is None:
            current = tl.getRedYellowGreenState(tls)
            if pending is not None and phases:
                resume = (pending[1] - 1) % len(phases)
            else:
                resume = tl.getPhase(tls) if tl.getProgram(tls) == pid else 0
        else:
            current = tl.getRedYellowGreenState(tls)
            resume = hold.resume_phase
        if all(current[k] in _GREEN for k in links):
            target, phase = current, resume
        else:
            # the program's own phase with these links green (most of them 'G'), else only them
            fits = [i for i, s in enumerate(phases) if all(s[k] in _GREEN for k in links)]
            if fits:
                phase = max(fits, key=lambda i: sum(phases[i][k] == "G" for k in links))
                target = phases[phase]
            else:
                phase = resume
                target = "".join("G" if k in links else "r" for k in range(len(current)))
        lose = [k for k in range(len(current)) if current[k] in _GREEN and target[k] not in _GREEN]
        if lose and self.params.yellow_s > 0:
            yellow = "".join("y" if k in lose else c for k, c in enumerate(current))
            tl.setRedYellowGreenState(tls, yellow)
            green_at = t + self.params.yellow_s
            shown = False
        else:
            tl.setRedYellowGreenState(tls, target)
            green_at, shown = t, True
        self.holds[tls] = _Hold(vid, links, target, phase, green_at, hold.set_s if hold else t, shown)
        if hold is None:
            self._log_index[tls] = len(self.log)
            self.log.append((tls, vid, t, None))
            self.cross.append(set())
        if tls not in self._links:
            self._links[tls] = [ls[0][0] if ls else "" for ls in tl.getControlledLinks(tls)]
        lanes = self._links[tls]
        green = {lanes[k] for k in range(len(target)) if target[k] in _GREEN}
        self.cross[self._log_index[tls]].update(
            lanes[k] for k in range(len(target)) if target[k] not in _GREEN and lanes[k] and lanes[k] not in green
        )

    def tick(self, t: float) -> None:
        """Show the held green where its yellow is over; finish releases whose yellow is over."""
        for tls, hold in self.holds.items():
            if not hold.shown and t >= hold.green_at:
                self.sumo.trafficlight.setRedYellowGreenState(tls, hold.target)
                hold.shown = True
        for tls in [k for k, (done, _) in self.releasing.items() if t >= done]:
            self._resume(t, tls)

    def _resume(self, t: float, tls: str) -> None:
        _done, phase = self.releasing.pop(tls)
        pid, phases = self._program(tls)
        tl = self.sumo.trafficlight
        tl.setProgram(tls, pid)
        now = self.scheduled(tls, t)
        if now is not None:  # a static program: back on its own clock
            tl.setPhase(tls, now[0])
            tl.setPhaseDuration(tls, max(now[1], 0.1))
        elif phases:
            tl.setPhase(tls, phase)

    def release(self, t: float, tls: str) -> None:
        """Back to the normal program: a static program (netconvert's default) at the phase and
        time its own clock would be at had it never been held (its cycle and offsets kept, so the
        signals' coordination is as before); any other at the phase after the one the hold
        showed. A yellow comes first for the links that lose their green in that step."""
        hold = self.holds.pop(tls)
        _pid, phases = self._program(tls)
        i = self._log_index.pop(tls)
        self.log[i] = (*self.log[i][:3], t)
        if not phases:
            self.releasing[tls] = (t, 0)
            self._resume(t, tls)
            return
        nxt = (min(hold.resume_phase, len(phases) - 1) + 1) % len(phases)
        planned = self.scheduled(tls, t + self.params.yellow_s)
        if planned is not None:
            nxt = planned[0]
        shown = hold.target if hold.shown else self.sumo.trafficlight.getRedYellowGreenState(tls)
        lose = [k for k, c in enumerate(shown) if c in _GREEN and phases[nxt][k] not in "Ggy"]
        if lose and self.params.yellow_s > 0:
            yellow = "".join("y" if k in lose else c for k, c in enumerate(shown))
            self.sumo.trafficlight.setRedYellowGreenState(tls, yellow)
            self.releasing[tls] = (t + self.params.yellow_s, nxt)
        else:
            self.releasing[tls] = (t, nxt)
            self._resume(t, tls)

    def finish(self, t: float) -> None:
        """Release every signal at once (the end of the run)."""
        for k in list(self.holds):
            self.release(t, k)
        for k in list(self.releasing):
            self._resume(t, k)

    def release_vehicle(self, t: float, vid: str) -> None:
        for tls in [k for k, h in self.holds.items() if h.owner == vid]:
            self.release(t, tls)

    def restored(self) -> bool:
        """No signal held, and every signal touched runs its normal program again."""
        tl = self.sumo.trafficlight
        return (
            not self.holds
            and not self.releasing
            and all(tl.getProgram(k) == pid for k, (pid, _) in self.programs.items())
        )


# ---------------------------------------------------------------------------- one run
def _read_tripinfo(path: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for _event, el in ET.iterparse(path, events=("end",)):
        if el.tag == "tripinfo":
            out[el.get("id", "")] = {
                "depart": float(el.get("depart", "nan")),
                "departDelay": float(el.get("departDelay", "0")),
                "arrival": float(el.get("arrival", "-1")),
                "timeLoss": float(el.get("timeLoss", "0")),
            }
            el.clear()
    return out


def _run_mode(
    net_file: Path,
    background: list[Path],
    incidents: list[Incident],
    mode: str,
    spec: EmergencySpec,
    params: PriorityParams,
    seed: int,
    workdir: Path,
    gui: bool,
    progress: Callable[[str, float], None] | None,
) -> ModeResult:
    import time

    t_wall = time.perf_counter()
    bluelight = "bluelight" in mode
    routes_ev = write_emergency_routes(incidents, workdir / f"ev_{mode}.rou.xml", bluelight=bluelight)
    tripinfo = workdir / f"tripinfo_{mode.replace('+', '_')}.xml"
    end = spec.end_s + spec.drain_s
    extra = [
        "--tripinfo-output", str(tripinfo),
        "--tripinfo-output.write-unfinished", "true",
        "--device.bluelight.reactiondist", f"{spec.reaction_m:g}",
    ]  # fmt: skip
    routes: list[str | Path] = [*background, routes_ev]
    ev = {inc.id: inc for inc in incidents}
    obs = {i: {"stops": 0, "red_stops": 0, "red_wait": 0.0, "halted": False} for i in ev}
    holds: list[tuple[str, str, float, float | None]] = []
    cross: list[frozenset[str]] = []
    restored = True
    teleports = timed_out = 0
    with SumoSession(net_file, routes=routes, begin_s=0, end_s=end, seed=seed, extra=extra, gui=gui) as sumo:
        step = sumo.simulation.getDeltaT()
        ctl = SignalPriority(sumo, params) if "priority" in mode else None
        active: set[str] = set()
        # every signal's incoming lanes, their halted vehicles subscribed (one call per step)
        queue_lanes = sorted(
            {
                ls[0][0]
                for tls in sumo.trafficlight.getIDList()
                for ls in sumo.trafficlight.getControlledLinks(tls)
                if ls
            }
        )
        lane_col = {lane: i for i, lane in enumerate(queue_lanes)}
        queue = np.zeros((int(end // QUEUE_BIN_S) + 1, len(queue_lanes)), np.float32)
        halting = sumo.constants.LAST_STEP_VEHICLE_HALTING_NUMBER
        for lane in queue_lanes:
            sumo.lane.subscribe(lane, [halting])
        t = sumo.simulation.getTime()
        last_report = -1.0
        while t < end:
            sumo.simulation.step()
            t = sumo.simulation.getTime()
            teleports += sumo.simulation.getStartingTeleportNumber()
            for v in sumo.simulation.getDepartedIDList():
                if v in ev:
                    active.add(v)
            for v in sumo.simulation.getArrivedIDList():
                if v in active:
                    active.discard(v)
                    if ctl is not None:
                        ctl.release_vehicle(t, v)
            for v in sorted(active):
                lane = sumo.vehicle.getLaneID(v)
                if not lane:  # being teleported (stuck for --time-to-teleport): not on the road
                    continue
                speed = sumo.vehicle.getSpeed(v)
                upcoming = sumo.vehicle.getNextTLS(v)
                o = obs[v]
                halted = speed < HALT_SPEED_MS
                at_red = bool(upcoming) and upcoming[0][2] <= RED_STOP_RANGE_M and upcoming[0][3] in "rRyYu"
                if halted and not o["halted"]:
                    o["stops"] += 1
                    o["red_stops"] += int(at_red)
                if halted and at_red:
                    o["red_wait"] += step
                    if ctl is not None and log.isEnabledFor(logging.DEBUG):
                        tls0 = upcoming[0][0]
                        h = ctl.holds.get(tls0)
                        log.debug(
                            "%s waits at red %s (%.0f m, link %d): hold %s, expired %s, t %.0f",
                            v, tls0, upcoming[0][2], upcoming[0][1],
                            None if h is None else (h.owner, sorted(h.links), h.shown, h.target),
                            (v, tls0) in ctl.expired, t,
                        )  # fmt: skip
                o["halted"] = halted
                if ctl is not None:
                    reach = max(speed, sumo.lane.getMaxSpeed(lane))
                    ctl.update(t, v, upcoming, reach)
            if ctl is not None:
                ctl.tick(t)
            row = queue[min(int((t - step) // QUEUE_BIN_S), queue.shape[0] - 1)]
            for lane, values in sumo.lane.getAllSubscriptionResults().items():
                if values and values.get(halting):
                    row[lane_col[lane]] += values[halting] * step
            if progress is not None and t - last_report >= 60:
                progress(mode, min(1.0, t / end))
                last_report = t
        if ctl is not None:
            ctl.finish(t)
            holds = ctl.log
            cross = [frozenset(c) for c in ctl.cross]
            restored = ctl.restored()
            timed_out = len(ctl.expired)
        tl = sumo.trafficlight
        final = {k: (tl.getProgram(k), tl.getRedYellowGreenState(k)) for k in tl.getIDList()}
    info = _read_tripinfo(tripinfo)
    trips = []
    for inc in incidents:
        rec = info.get(inc.id)
        arrived = rec is not None and rec["arrival"] >= 0
        o = obs[inc.id]
        trips.append(
            Trip(
                id=inc.id,
                response_s=round(rec["arrival"] - inc.dispatch_s, 1) if arrived and rec else None,
                stops=int(o["stops"]),
                red_stops=int(o["red_stops"]),
                red_wait_s=float(o["red_wait"]),
                time_loss_s=float(rec["timeLoss"]) if rec else math.nan,
                arrived=arrived,
            )
        )
    if progress is not None:
        progress(mode, 1.0)
    return ModeResult(
        mode=mode,
        trips=trips,
        time_loss_s={k: r["timeLoss"] for k, r in info.items()},
        holds=holds,
        hold_cross_lanes=cross,
        final_signals=final,
        teleports=teleports,
        holds_timed_out=timed_out,
        queue_s=queue,
        queue_lanes=queue_lanes,
        signals_restored=restored,
        wall_s=round(time.perf_counter() - t_wall, 2),
    )


def _mode_child(args_file: str, result_file: str) -> None:
    """One mode's run in a child process (see :func:`_run_mode_isolated`): reads its arguments
    from ``args_file`` (pickle), writes progress lines to stdout and the result (or the error
    as one line) to ``result_file``."""
    import pickle

    net_file, background, incidents, mode, spec, params, seed, folder, gui = pickle.loads(Path(args_file).read_bytes())

    def progress(m: str, fraction: float) -> None:
        print(f"progress {fraction:.4f}", flush=True)

    try:
        out: tuple[str, Any] = (
            "result",
            _run_mode(net_file, background, incidents, mode, spec, params, seed, folder, gui, progress),
        )
    except Exception as exc:  # everything reaches the parent as one line
        out = ("error", f"the {mode!r} run failed: {type(exc).__name__}: {exc}")
    Path(result_file).write_bytes(pickle.dumps(out))


def _run_mode_isolated(args: tuple[Any, ...], progress: Callable[[str, float], None] | None) -> ModeResult:
    """:func:`_run_mode` in a child Python process: libsumo holds one simulation per process
    and the caller may hold its own; and SUMO itself may crash (SUMO 1.28.0's bluelight device
    segfaults on some networks and seeds, the ``sumo`` program as well), which here ends only
    that mode, reported in :attr:`ModeResult.error`, instead of the whole process. A plain
    subprocess (``python -c``), not ``multiprocessing``: its spawn start would run the caller's
    main script again."""
    import os
    import pickle
    import subprocess
    import sys

    mode, incidents = args[3], args[2]
    with tempfile.TemporaryDirectory(prefix="mobility-emergency-mode-") as tmp:
        args_file, result_file = Path(tmp) / "args.pkl", Path(tmp) / "result.pkl"
        args_file.write_bytes(pickle.dumps(args))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the same packages as here
        code = "import sys; from sim.sumo.emergency import _mode_child; _mode_child(sys.argv[1], sys.argv[2])"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(args_file), str(result_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            if line.startswith("progress ") and progress is not None:
                progress(mode, float(line.split()[1]))
        err = proc.stderr.read()
        rc = proc.wait()
        out = pickle.loads(result_file.read_bytes()) if result_file.exists() else None
    if out is not None and out[0] == "result":
        return cast(ModeResult, out[1])
    if out is not None and "SumoError" not in out[1] and "TraCIException" not in out[1]:
        raise SumoError(out[1])
    if out is not None:
        reason = str(out[1])
    elif rc < 0:
        reason = f"SUMO crashed (signal {-rc})"
    else:
        tail = [ln for ln in err.splitlines() if ln.strip()][-3:]
        reason = f"the run ended with exit code {rc}" + (": " + " / ".join(tail) if tail else "")
    log.warning("emergency run %r: %s", mode, reason)
    trips = [Trip(i.id, None, 0, 0, 0.0, math.nan, False) for i in incidents]
    return ModeResult(mode=mode, trips=trips, time_loss_s={}, error=reason)


def run_emergency(
    sumo_network: SumoNetwork | str | Path,
    spec: EmergencySpec,
    *,
    seed: int,
    background_routes: str | Path | None = None,
    background_vph: float = 1500.0,
    extra_routes: Sequence[str | Path] = (),
    priority: PriorityParams | None = None,
    modes: Sequence[str] = ("none", "bluelight", "priority"),
    incidents: Sequence[Incident] | None = None,
    workdir: str | Path | None = None,
    gui: bool = False,
    progress: Callable[[str, float], None] | None = None,
) -> EmergencyResult:
    """Simulate ``spec``'s incidents once per mode (see the module docstring) on the SUMO
    network (a :class:`SumoNetwork` or a ``.net.xml`` path) and return every trip's measures.

    background_routes: the background traffic's route file; None: :func:`random_background`
        at ``background_vph`` over the period (``begin_s`` to ``end_s``); ``background_vph``
        0 with no file: no background;
    extra_routes: more SUMO route files run beside the background in every mode (e.g. a DRT
        fleet's drives, :func:`sim.sumo.replay.write_fleet_routes`; their vehicles' time loss is
        :meth:`EmergencyResult.time_loss_by_prefix`);
    modes: any of :data:`MODES`; ``none`` is always run (the others are compared with it);
    incidents: the trips to run (e.g. a dispatch log) instead of drawing ``spec.incidents``
        of them (:func:`draw_incidents`); their ids must start with ``ev``;
    workdir: where the route and trip files go (a temporary folder by default, removed);
    progress: called with (mode, fraction of its simulated period) about every simulated minute.

    Raises:
        routing.InvalidArgumentError: an unknown mode, a bad station.
        SumoError: SUMO or one of its tools failed.
    """
    import sumolib

    params = priority or PriorityParams()
    for m in modes:
        _check("modes", m in MODES, m, ", ".join(MODES))
    run_modes = ["none", *[m for m in modes if m != "none"]]
    net_file = _net_file(sumo_network)
    if incidents is None:
        net = sumolib.net.readNet(str(net_file))
        trips = draw_incidents(net, spec, seed)
        del net
    else:
        trips = list(incidents)
        for inc in trips:
            _check("incidents", inc.id.startswith(EMERGENCY_PREFIX), inc.id, f"ids starting with {EMERGENCY_PREFIX!r}")
    with tempfile.TemporaryDirectory(prefix="mobility-emergency-") as tmp:
        folder = Path(workdir) if workdir is not None else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        background: list[Path] = []
        if background_routes is not None:
            background.append(Path(background_routes))
            _check("background_routes", background[0].is_file(), str(background[0]), "an existing SUMO route file")
        elif background_vph > 0:
            background.append(
                random_background(
                    net_file, background_vph, spec.begin_s, spec.end_s, seed, folder / "background.rou.xml"
                )
            )
        for extra_file in extra_routes:
            _check("extra_routes", Path(extra_file).is_file(), str(extra_file), "an existing SUMO route file")
            background.append(Path(extra_file))
        results = {
            m: _run_mode_isolated((net_file, background, trips, m, spec, params, seed, folder, gui), progress)
            for m in run_modes
        }
    if results["none"].error:
        raise SumoError(f"the run without priority failed, nothing to compare with: {results['none'].error}")
    return EmergencyResult(incidents=trips, modes=results, seed=seed, params=params, spec=spec)


# ---------------------------------------------------------------------------- the scenario section
@dataclass(frozen=True)
class EmergencyConfig:
    """The optional ``[emergency]`` table of a scenario file (every key optional)::

    [emergency]
    stations = [120, [37.5133, 127.1001]]  # engine node ids or [lat, lon]; default: station_count
    station_count = 2         # stations chosen deterministically when `stations` is not given
    incidents = 20            # emergency trips, at random times over `hours`
    hours = 2.0               # the period (simulated from 0; the background rate is flat)
    background_vph = 1500     # randomTrips background, vehicles per hour (0: none)
    background_routes = ""    # a SUMO .rou.xml instead (relative to the scenario file)
    min_distance_m = 500      # incidents at least this far from their station (route length)
    drain_min = 15            # simulated after the period for the last trips
    modes = ["none", "bluelight", "priority"]
    horizon_m = 150           # signal priority: ask for a signal within max(horizon_m,
    horizon_s = 15            #   horizon_s x speed) along the route
    yellow_s = 3              # yellow for the links that lose their green
    max_hold_s = 60           # a hold the vehicle has not used by then is given up
    reaction_m = 25           # SUMO's --device.bluelight.reactiondist
    signals_guess_kmh = 250   # netconvert guesses a signal where the incoming lanes' speeds add up
                              # to this (SUMO's default 250 km/h; lower: more signals)
    """

    stations: tuple[int | tuple[float, float], ...] = ()
    station_count: int = 2
    incidents: int = 20
    hours: float = 2.0
    background_vph: float = 1500.0
    background_routes: Path | None = None
    min_distance_m: float = 500.0
    drain_min: float = 15.0
    modes: tuple[str, ...] = ("none", "bluelight", "priority")
    horizon_m: float = 150.0
    horizon_s: float = 15.0
    yellow_s: float = 3.0
    max_hold_s: float = 60.0
    reaction_m: float = 25.0
    signals_guess_kmh: float = 250.0

    @classmethod
    def from_table(cls, table: Any, *, base: Path | None = None) -> EmergencyConfig:
        """Read the ``[emergency]`` table (``{}`` for the defaults); a bad value is a
        ``ConfigError`` naming ``emergency.<key>`` and the allowed range."""
        from matching.deployment import ConfigError, check_keys, integer, number

        check_keys(table, set(cls.__dataclass_fields__), "emergency")
        sec = "emergency"
        stations: list[int | tuple[float, float]] = []
        raw = table.get("stations", [])
        if not isinstance(raw, list):
            raise ConfigError("emergency.stations", f"got {raw!r}", "a list of node ids or [lat, lon] pairs")
        for s in raw:
            if isinstance(s, int) and not isinstance(s, bool) and s >= 0:
                stations.append(s)
            elif (
                isinstance(s, list)
                and len(s) == 2
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in s)
                and -90 <= s[0] <= 90
                and -180 <= s[1] <= 180
            ):
                stations.append((float(s[0]), float(s[1])))
            else:
                raise ConfigError("emergency.stations", f"got {s!r}", "node ids >= 0 or [lat, lon] pairs")
        modes = table.get("modes", list(cls.modes))
        if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
            raise ConfigError("emergency.modes", f"got {modes!r}", f"a list of {', '.join(MODES)}")
        routes = table.get("background_routes", "")
        if not isinstance(routes, str):
            raise ConfigError("emergency.background_routes", f"got {routes!r}", "a path to a SUMO .rou.xml")
        path = None
        if routes:
            path = Path(routes) if Path(routes).is_absolute() or base is None else base / routes
            if not path.is_file():
                raise ConfigError("emergency.background_routes", f"no file {path}", "an existing SUMO route file")
        return cls(
            stations=tuple(stations),
            station_count=integer(table, "station_count", sec, 2, 1, 50),
            incidents=integer(table, "incidents", sec, 20, 1, 10_000),
            hours=number(table, "hours", sec, 2.0, 0.05, 24.0),
            background_vph=number(table, "background_vph", sec, 1500.0, 0.0, 100_000.0),
            background_routes=path,
            min_distance_m=number(table, "min_distance_m", sec, 500.0, 0.0, 50_000.0),
            drain_min=number(table, "drain_min", sec, 15.0, 0.0, 120.0),
            modes=tuple(modes),
            horizon_m=number(table, "horizon_m", sec, 150.0, 1.0, 5000.0),
            horizon_s=number(table, "horizon_s", sec, 15.0, 0.0, 300.0),
            yellow_s=number(table, "yellow_s", sec, 3.0, 0.0, 10.0),
            max_hold_s=number(table, "max_hold_s", sec, 60.0, 5.0, 3600.0),
            reaction_m=number(table, "reaction_m", sec, 25.0, 1.0, 500.0),
            signals_guess_kmh=number(table, "signals_guess_kmh", sec, 250.0, 20.0, 2000.0),
        )

    def net_options(self) -> Any:
        """The SUMO network's build options (:class:`sim.sumo.SumoNetOptions`): OSM signals and
        guessed ones at ``signals_guess_kmh``."""
        from .network import SumoNetOptions

        return SumoNetOptions(guess_threshold_ms=round(self.signals_guess_kmh / 3.6, 2))

    def priority(self) -> PriorityParams:
        return PriorityParams(
            horizon_m=self.horizon_m, horizon_s=self.horizon_s, yellow_s=self.yellow_s, max_hold_s=self.max_hold_s
        )

    def spec(self, stations: tuple[str, ...]) -> EmergencySpec:
        """The :class:`EmergencySpec` with the stations' SUMO edges."""
        return EmergencySpec(
            stations=stations,
            incidents=self.incidents,
            begin_s=0.0,
            end_s=round(self.hours * 3600.0, 1),
            min_distance_m=self.min_distance_m,
            drain_s=round(self.drain_min * 60.0, 1),
            reaction_m=self.reaction_m,
        )

    def station_edges(self, sumo_network: SumoNetwork, engine_network: Any) -> tuple[str, ...]:
        """The stations' SUMO edges (the given ones, else :func:`default_stations`)."""
        if not self.stations:
            return default_stations(sumo_network, engine_network, self.station_count)
        nodes = [s for s in self.stations if isinstance(s, int)]
        points = [s for s in self.stations if isinstance(s, tuple)]
        return station_edges(sumo_network, engine_network, nodes=nodes, lat_lon=points)


def result_json(result: EmergencyResult) -> dict[str, Any]:
    """Everything of a result as plain JSON data: the summary, the incidents and every trip."""
    from dataclasses import asdict

    return {
        "seed": result.seed,
        "spec": asdict(result.spec),
        "priority": asdict(result.params),
        "summary": result.summary(),
        "incidents": [asdict(i) for i in result.incidents],
        "trips": {m: [asdict(t) for t in r.trips] for m, r in result.modes.items()},
        "signal_holds": {
            m: [{"signal": h[0], "vehicle": h[1], "set_s": h[2], "released_s": h[3]} for h in r.holds]
            for m, r in result.modes.items()
            if r.holds
        },
    }


#: Uiwang's reported cut in fire-engine travel time with signal priority (per cent)
UIWANG_CUT_PCT = 55.4


def result_markdown(result: EmergencyResult, title: str = "Emergency response") -> str:
    """The table of :meth:`EmergencyResult.summary` as Markdown."""
    s = result.summary()

    def f(v: float | None, digits: int = 0) -> str:
        if v is None:
            return "-"
        return f"{(0.0 if abs(v) < 0.5 * 10**-digits else v):,.{digits}f}"

    lines = [
        f"## {title}",
        "",
        f"{len(result.incidents)} incidents over {(result.spec.end_s - result.spec.begin_s) / 3600:g} h, "
        f"{len(result.spec.stations)} stations, seed {result.seed}; signal priority horizon "
        f"max({result.params.horizon_m:g} m, {result.params.horizon_s:g} s x speed), "
        f"yellow {result.params.yellow_s:g} s.",
        "",
        "| mode | arrived | mean s | median s | p90 s | cut of mean | cut of median | stops | red stops "
        "| red wait s | cross traffic at held signals s | others' delay s (net) | lost s | gained s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for mode, row in s.items():
        if row.get("error"):
            lines.append(f"| {mode} | {row['error']} |" + " |" * 12)
            continue
        rt = row["response_s"]
        od = row.get("others_delay", {})
        cut = "-" if "cut_mean_pct" not in row or mode == "none" else f"{row['cut_mean_pct']:.1f}%"
        cutm = "-" if "cut_median_pct" not in row or mode == "none" else f"{row['cut_median_pct']:.1f}%"
        lines.append(
            f"| {mode} | {row['arrived']}/{row['trips']} | {f(rt['mean'])} | {f(rt['median'])} | {f(rt['p90'])} "
            f"| {cut} | {cutm} | {row['stops_mean']:.1f} | {row['red_stops_mean']:.1f} | {row['red_wait_s_mean']:.0f} "
            f"| {f(row.get('cross_delay', {}).get('total_s'))} "
            f"| {f(od.get('total_s'))} | {f(od.get('lost_s'))} | {f(od.get('gained_s'))} |"
        )
    lines += [
        "",
        f"Uiwang's reported cut in fire-engine travel time with signal priority: {UIWANG_CUT_PCT}%. "
        "Stops, red stops and red wait are means per trip. Cross traffic at held signals: the extra halted "
        "vehicle-seconds on the lanes the green wave held at red, from each hold to a minute after its release, "
        "against the run without priority. Others' delay: the time loss of every other vehicle against the run "
        "without priority, net, and its two sides (lost by the vehicles that were slower, gained by the faster); "
        "it carries the simulation's run-to-run noise.",
        "",
    ]
    return "\n".join(lines)


def plot_response_times(result: EmergencyResult, path: str | Path) -> Path:
    """The response-time distribution of every mode (empirical CDF) as a PNG."""
    from sim.plots import figure

    fig = figure(6.4, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    for mode, res in result.modes.items():
        rt = np.sort(np.asarray(res.response_times(), np.float64)) / 60.0
        if rt.size:
            ax.step(
                rt, np.arange(1, rt.size + 1) / rt.size, where="post", label=f"{mode} (median {np.median(rt):.1f} min)"
            )
    ax.set_xlabel("response time, dispatch to arrival (min)")
    ax.set_ylabel("share of incidents")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"Emergency response, {len(result.incidents)} incidents (seed {result.seed})", fontsize=10)
    path = Path(path)
    fig.savefig(path)
    return path
