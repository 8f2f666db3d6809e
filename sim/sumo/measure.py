"""What SUMO's traffic does, hour by hour, and the travel times it gives the engine's edges.

:func:`measure_traffic` runs SUMO (:class:`~sim.sumo.session.SumoSession`) on a network with
route files for a period and measures, per hour of the clock:

* **mean speed** — distance driven over time spent, by every car on every edge (km/h);
* **congestion index** on major and on minor roads — time spent over the free-flow time of the
  same distance (the distance driven on an edge at its speed limit), i.e. the mean travel time
  over the free-flow travel time, weighted by the kilometres driven. Road classes come from the
  engine's network (its edges of :data:`routing.MAJOR_ROAD_CLASSES`) through the
  :class:`~sim.sumo.network.EdgeMap`. Time waiting at red lights and in queues counts, so even
  an empty network is a little above 1 (signals, turns, accelerating);
* **queues at signals** — halting cars (speed < 0.1 m/s) on the lanes that enter signalised
  junctions: the mean per lane and the largest on one lane, sampled every ``sample_s``;
* departures, arrivals, cars driving, cars waiting to be inserted, teleports.

The per-edge figures come from SUMO's own edge meandata (an ``edgeData`` output, one interval
per hour, aggregated in C++ inside SUMO and read once after the run): nothing per step in
Python. Only the queues need the running simulation: one libsumo subscription call every
``sample_s`` returns the halting count of every signal lane.

:class:`EdgeTimeMeter` is the closed loop's accumulator: the mean travel time of every ENGINE
edge over a period, from the running simulation. It samples, when called, the number of cars
and their mean speed on every SUMO edge of the engine's map (one libsumo subscription call
returns them all), so a loop that already steps SUMO calls it every step or every few seconds.
An ``edgeData`` output would cost less per step, but SUMO writes it only when an interval ends
and into a file that is buffered, so a loop could not read it when it wants the times; the
subscription costs about a millisecond per call on a network of a thousand edges.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing import MAJOR_ROAD_CLASSES, RoadNetwork

from ..scenario import TrafficSpec
from .background import BackgroundSpec, write_background
from .network import SumoNetwork
from .session import SumoSession

#: background cars per hour per lane-km of mapped road at the busiest hour, when no demand is
#: given: about where Jamsil's congestion index on major roads meets the BPR factor of its
#: busiest hour (docs/sumo_traffic.md); ``mobility traffic --calibrate`` fits it on any network
DEFAULT_VPH_PER_LANE_KM = 9.0
#: the nearly empty network of :func:`uncongested_pace`: cars per hour per lane-km (at least 30/h)
REFERENCE_VPH_PER_LANE_KM = 0.75

#: libsumo variable ids (``libsumo.constants``) used in subscriptions
_VEHICLE_NUMBER = 0x10
_MEAN_SPEED = 0x11
_HALTING_NUMBER = 0x14


@dataclass(frozen=True)
class SumoEdges:
    """Facts about the SUMO edges of a network, in :attr:`EdgeMap.sumo_edges` order for the
    mapped ones: length (m), speed limit (m/s), lanes, and whether the engine calls the road major.
    """

    ids: list[str]
    length_m: NDArray[np.float64]
    speed_ms: NDArray[np.float64]
    lanes: NDArray[np.int32]
    major: NDArray[np.bool_]
    mapped: NDArray[np.bool_]
    signal_lanes: list[str]
    to_junction: list[str]

    @classmethod
    def read(cls, sumo_network: SumoNetwork, engine_network: RoadNetwork) -> SumoEdges:
        """Read the network file (sumolib) and the engine's road classes through the map."""
        net = sumo_network.sumolib_net()
        m = sumo_network.edge_map
        if m.num_engine_edges != engine_network.num_edges:
            raise ValueError(
                f"engine_network: has {engine_network.num_edges} edges, the SUMO map {m.num_engine_edges}"
                " (give the engine network the SUMO network was built from)"
            )
        mapped_ids = list(m.sumo_edges)
        known = set(mapped_ids)
        others = [e.getID() for e in net.getEdges() if e.getID() not in known and e.getFunction() != "internal"]
        ids = mapped_ids + others
        edges = [net.getEdge(i) for i in ids]
        major = np.zeros(len(ids), dtype=bool)
        engine_major = engine_network.edges_of_class(MAJOR_ROAD_CLASSES)
        for e in np.flatnonzero(engine_major):
            major[m.chain[m.indptr[e] : m.indptr[e + 1]]] = True
        mapped = np.zeros(len(ids), dtype=bool)
        mapped[: len(mapped_ids)] = True
        signal_lanes: set[str] = set()
        for tls in net.getTrafficLights():
            for conn in tls.getConnections():
                signal_lanes.add(conn[0].getID())
        return cls(
            ids=ids,
            length_m=np.array([e.getLength() for e in edges], dtype=np.float64),
            speed_ms=np.array([e.getSpeed() for e in edges], dtype=np.float64),
            lanes=np.array([e.getLaneNumber() for e in edges], dtype=np.int32),
            major=major,
            mapped=mapped,
            signal_lanes=sorted(signal_lanes),
            to_junction=[e.getToNode().getID() for e in edges],
        )

    @property
    def lane_km(self) -> float:
        """Lane kilometres of the edges on the engine's map."""
        return float((self.length_m[self.mapped] * self.lanes[self.mapped]).sum() / 1000.0)

    @property
    def free_flow_s(self) -> NDArray[np.float64]:
        """Travel time at the speed limit (s)."""
        return self.length_m / np.maximum(self.speed_ms, 0.1)


def default_peak_vph(edges: SumoEdges) -> float:
    """:data:`DEFAULT_VPH_PER_LANE_KM` times the network's lane-km (at least 60 cars/h)."""
    return max(60.0, round(DEFAULT_VPH_PER_LANE_KM * edges.lane_km, -1))


def reference_vph(edges: SumoEdges) -> float:
    """:data:`REFERENCE_VPH_PER_LANE_KM` times the network's lane-km (at least 30 cars/h)."""
    return max(30.0, round(REFERENCE_VPH_PER_LANE_KM * edges.lane_km))


# ---------------------------------------------------------------------------- hourly measurement
@dataclass(frozen=True)
class HourStats:
    """One hour of SUMO traffic (see the module docstring). ``hour``: hour of the clock
    (25 = 01:00 the next day); the figures cover ``begin_s`` .. ``end_s`` of it."""

    hour: int
    begin_s: int
    end_s: int
    departed: int
    arrived: int
    teleported: int
    driving_mean: float
    backlog_max: int
    veh_km: float
    mean_speed_kph: float
    ci_major: float
    ci_minor: float
    ci_major_rel: float
    ci_minor_rel: float
    veh_km_major: float
    veh_km_minor: float
    queue_mean: float
    queue_max: int
    queue_total_mean: float


@dataclass
class TrafficMeasurement:
    """The hours of one SUMO run, with its cost: ``wall_s`` of the run (SUMO and sampling, not
    building the network or the routes) for ``sim_s`` simulated seconds."""

    hours: list[HourStats]
    sim_s: float
    wall_s: float
    signal_lanes: int
    meta: dict[str, Any] = field(default_factory=dict)
    #: the SUMO edges where cars lost the most time over the whole run (see :func:`measure_traffic`)
    hotspots: list[dict[str, Any]] = field(default_factory=list)

    @property
    def real_time_factor(self) -> float:
        """Simulated seconds per wall-clock second."""
        return self.sim_s / self.wall_s if self.wall_s > 0 else math.inf

    def hour(self, h: int) -> HourStats:
        for s in self.hours:
            if s.hour == h:
                return s
        raise KeyError(f"hour {h} was not measured")

    def to_dict(self) -> dict[str, Any]:
        return {
            "sim_s": self.sim_s,
            "wall_s": round(self.wall_s, 3),
            "real_time_factor": round(self.real_time_factor, 2),
            "signal_lanes": self.signal_lanes,
            "meta": self.meta,
            "hotspots": self.hotspots,
            "hours": [asdict(h) for h in self.hours],
        }


def _edgedata_additional(path: Path, out: Path, begin_s: int) -> None:
    path.write_text(
        "<additional>\n"
        f'    <edgeData id="hourly" period="3600" begin="{begin_s}" file="{out.name}" excludeEmpty="true"/>\n'
        "</additional>\n",
        encoding="utf-8",
    )


def _read_edgedata(
    path: Path, edges: SumoEdges, reference_pace: NDArray[np.float64] | None = None
) -> tuple[dict[int, dict[str, float]], NDArray[np.float64]]:
    """Per interval begin: sums over edges (vehicle-seconds and -metres by class, counts); and
    per edge over all intervals, the time lost: vehicle-seconds beyond the reference pace."""
    import sumolib

    index = {sid: i for i, sid in enumerate(edges.ids)}
    free_speed = np.maximum(edges.speed_ms, 0.1)
    pace = 1.0 / free_speed if reference_pace is None else reference_pace
    out: dict[int, dict[str, float]] = {}
    lost = np.zeros(len(edges.ids))
    for interval in sumolib.xml.parse(str(path), "interval"):
        acc = dict.fromkeys(
            (
                "veh_s",
                "veh_m",
                "major_s",
                "major_free_s",
                "major_m",
                "minor_s",
                "minor_free_s",
                "minor_m",
                "major_ref_s",
                "minor_ref_s",
                "departed",
                "arrived",
                "teleported",
            ),
            0.0,
        )
        for e in interval.edge or []:
            i = index.get(e.id, -1)
            if i < 0:
                continue
            veh_s = float(e.sampledSeconds or 0.0)
            veh_m = veh_s * float(e.speed or 0.0)
            acc["veh_s"] += veh_s
            acc["veh_m"] += veh_m
            lost[i] += veh_s - veh_m * pace[i]
            acc["departed"] += float(e.departed or 0)
            acc["arrived"] += float(e.arrived or 0)
            acc["teleported"] += float(e.teleported or 0) if e.hasAttribute("teleported") else 0.0
            if edges.mapped[i]:
                side = "major" if edges.major[i] else "minor"
                acc[f"{side}_s"] += veh_s
                acc[f"{side}_m"] += veh_m
                acc[f"{side}_free_s"] += veh_m / free_speed[i]
                acc[f"{side}_ref_s"] += veh_m * pace[i]
        out[int(float(interval.begin))] = acc
    return out, lost


def measure_traffic(
    sumo_network: SumoNetwork,
    engine_network: RoadNetwork,
    routes: Sequence[str | Path],
    *,
    begin_s: int,
    end_s: int,
    work_dir: str | Path,
    seed: int = 0,
    sample_s: float = 5.0,
    reference_pace: NDArray[np.float64] | None = None,
    hotspots_n: int = 10,
    extra: list[str] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> TrafficMeasurement:
    """Run SUMO from ``begin_s`` to ``end_s`` (s since midnight) with the ``routes`` files and
    measure each hour of the clock it covers (module docstring). ``work_dir`` takes SUMO's
    edge output; ``on_progress(t_s)`` is called every simulated ``sample_s``.

    ``reference_pace`` (s/m per edge of :class:`SumoEdges`, from :func:`uncongested_pace`) adds
    the congestion index relative to the uncongested network (``ci_*_rel``: time spent over the
    time the same distance takes with the roads nearly empty, signals included): the analogue
    of the BPR factor, whose free-flow time is the uncongested one. Without it those are NaN.

    ``hotspots`` of the result: the ``hotspots_n`` SUMO edges where cars lost the most time over
    the run (car-hours beyond the reference pace, or the speed limit without one; ``share`` of
    all time lost, ``signal``: the edge enters a signalised junction) -- where a network's
    congestion comes from, and where its junction model may be at fault.

    Raises:
        ValueError: a bad period or ``sample_s``.
        SumoError: SUMO did not start (a bad routes file, a second simulation in this process).
    """
    if not (0 <= begin_s < end_s):
        raise ValueError(f"end_s: must be after begin_s, got {begin_s} .. {end_s}")
    if not (math.isfinite(sample_s) and 1 <= sample_s <= 3600):
        raise ValueError(f"sample_s: must be 1 .. 3600 seconds, got {sample_s!r}")
    edges = SumoEdges.read(sumo_network, engine_network)
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    first_hour = begin_s // 3600
    data_file = work / "edgedata.xml"
    add_file = work / "edgedata.add.xml"
    _edgedata_additional(add_file, data_file, first_hour * 3600)
    hours = range(first_hour, (end_s - 1) // 3600 + 1)
    q_sum = {h: 0.0 for h in hours}
    q_total = {h: 0.0 for h in hours}
    q_max = dict.fromkeys(hours, 0)
    n_samples = dict.fromkeys(hours, 0)
    driving = {h: 0.0 for h in hours}
    backlog = dict.fromkeys(hours, 0)
    lanes = edges.signal_lanes
    t0 = time.perf_counter()
    with SumoSession(
        sumo_network.net_file,
        routes=list(routes),
        additional=[add_file],
        begin_s=begin_s,
        end_s=end_s,
        seed=seed,
        extra=extra,
    ) as sumo:
        for lane in lanes:
            sumo.lane.subscribe(lane, [_HALTING_NUMBER])
        t = float(begin_s)
        while t < end_s:
            t = min(t + sample_s, float(end_s))
            sumo.simulation.step(t)
            now = sumo.simulation.getTime()
            h = int((now - 1e-6) // 3600)
            if h not in n_samples:
                continue
            halting = [r[_HALTING_NUMBER] for r in sumo.lane.getAllSubscriptionResults().values()]
            n_samples[h] += 1
            if halting:
                total = float(sum(halting))
                q_total[h] += total
                q_sum[h] += total / len(halting)
                q_max[h] = max(q_max[h], int(max(halting)))
            driving[h] += sumo.vehicle.getIDCount()
            backlog[h] = max(backlog[h], len(sumo.simulation.getPendingVehicles()))
            if on_progress is not None:
                on_progress(now)
    wall = time.perf_counter() - t0
    data, lost = _read_edgedata(data_file, edges, reference_pace)
    total_lost = float(lost[lost > 0].sum())
    hotspots = [
        {
            "sumo_edge": edges.ids[i],
            "to_junction": edges.to_junction[i],
            "major": bool(edges.major[i]),
            "signal": any(lane.rsplit("_", 1)[0] == edges.ids[i] for lane in lanes),
            "lost_veh_h": round(float(lost[i]) / 3600, 2),
            "share": round(float(lost[i]) / total_lost, 4) if total_lost > 0 else 0.0,
        }
        for i in np.argsort(-lost)[:hotspots_n]
        if lost[i] > 0
    ]
    out: list[HourStats] = []
    for h in hours:
        acc = data.get(h * 3600, {})
        n = max(n_samples[h], 1)

        def ci(side: str, ref: str = "free", acc: dict[str, float] = acc) -> float:
            free = acc.get(f"{side}_{ref}_s", 0.0)
            if not acc or free <= 0 or (ref == "ref" and reference_pace is None):
                return float("nan")
            return round(float(acc[f"{side}_s"] / free), 4)

        veh_s, veh_m = float(acc.get("veh_s", 0.0)), float(acc.get("veh_m", 0.0))
        out.append(
            HourStats(
                hour=h,
                begin_s=max(h * 3600, begin_s),
                end_s=min((h + 1) * 3600, end_s),
                departed=int(acc.get("departed", 0)),
                arrived=int(acc.get("arrived", 0)),
                teleported=int(acc.get("teleported", 0)),
                driving_mean=round(driving[h] / n, 2),
                backlog_max=backlog[h],
                veh_km=round(veh_m / 1000, 2),
                mean_speed_kph=round(3.6 * veh_m / veh_s, 2) if veh_s > 0 else float("nan"),
                ci_major=ci("major"),
                ci_minor=ci("minor"),
                ci_major_rel=ci("major", "ref"),
                ci_minor_rel=ci("minor", "ref"),
                veh_km_major=round(float(acc.get("major_m", 0.0)) / 1000, 2),
                veh_km_minor=round(float(acc.get("minor_m", 0.0)) / 1000, 2),
                queue_mean=round(q_sum[h] / n, 3),
                queue_max=q_max[h],
                queue_total_mean=round(q_total[h] / n, 2),
            )
        )
    return TrafficMeasurement(
        hours=out,
        sim_s=float(end_s - begin_s),
        wall_s=wall,
        signal_lanes=len(lanes),
        meta={"begin_s": begin_s, "end_s": end_s, "seed": seed, "sample_s": sample_s},
        hotspots=hotspots,
    )


def uncongested_pace(
    sumo_network: SumoNetwork,
    engine_network: RoadNetwork,
    work_dir: str | Path,
    *,
    vph: float,
    hours: int = 2,
    begin_s: int = 3 * 3600,
    seed: int = 0,
    min_passes: float = 3.0,
) -> NDArray[np.float64]:
    """The pace (s/m) of every SUMO edge with the roads nearly empty: ``hours`` of background
    cars at a flat ``vph`` (few enough that they rarely meet), signals and turns included.

    An edge driven less than ``min_passes`` times its length keeps its speed-limit pace.
    """
    edges = SumoEdges.read(sumo_network, engine_network)
    spec = BackgroundSpec(peak_vph=vph, profile=(1.0,) * 24, seed=seed)
    work = Path(work_dir)
    end_s = begin_s + 3600 * hours
    routes = write_background(sumo_network, spec, work, begin_s=begin_s, end_s=end_s)
    data_file, add_file = work / "edgedata.xml", work / "edgedata.add.xml"
    add_file.write_text(
        "<additional>\n"
        f'    <edgeData id="all" begin="{begin_s}" end="{end_s}" file="{data_file.name}" excludeEmpty="true"/>\n'
        "</additional>\n",
        encoding="utf-8",
    )
    with SumoSession(
        sumo_network.net_file, routes=[routes], additional=[add_file], begin_s=begin_s, end_s=end_s, seed=seed
    ) as sumo:
        sumo.simulation.step(float(end_s))
    import sumolib

    pace = 1.0 / np.maximum(edges.speed_ms, 0.1)
    index = {sid: i for i, sid in enumerate(edges.ids)}
    for interval in sumolib.xml.parse(str(data_file), "interval"):
        for e in interval.edge or []:
            i = index.get(e.id, -1)
            veh_s = float(e.sampledSeconds or 0.0)
            veh_m = veh_s * float(e.speed or 0.0)
            if i >= 0 and veh_m >= min_passes * edges.length_m[i]:
                pace[i] = veh_s / veh_m
    return pace


# ---------------------------------------------------------------------------- closed loop
class EdgeTimeMeter:
    """Mean travel time per engine edge over a period, measured in a running SUMO simulation.

    ``sample(sumo)`` (the libsumo module of a running :class:`SumoSession`) adds the cars on
    every SUMO edge of the map and their mean speed, weighted by the simulated time since the
    previous sample; call it every step or every few seconds. ``travel_times(free_flow)`` gives,
    per engine edge, the sum over its SUMO chain of each SUMO edge's mean travel time: its length
    times the car-seconds over the car-metres driven on it (the time a car needed on average),
    at most the period sampled; a SUMO edge nobody drove counts its length at the speed limit,
    and an engine edge none of whose SUMO edges was driven keeps ``free_flow``. ``reset()``
    starts a new period.

    The first ``sample`` subscribes SUMO's edges to their car count and mean speed (libsumo
    keeps one subscription per edge: a caller's own edge subscriptions would be replaced).
    """

    def __init__(self, sumo_network: SumoNetwork, engine_network: RoadNetwork) -> None:
        self.edges = SumoEdges.read(sumo_network, engine_network)
        self.edge_map = sumo_network.edge_map
        self.engine_free_flow = engine_network.travel_time_s.astype(np.float64)
        n = len(self.edge_map.sumo_edges)
        self._index = {sid: i for i, sid in enumerate(self.edge_map.sumo_edges)}
        self._ids = self.edge_map.sumo_edges
        self._length = self.edges.length_m[:n]
        self._free = self.edges.free_flow_s[:n]
        self._veh_s = np.zeros(n)
        self._veh_m = np.zeros(n)
        self._subscribed: Any = None
        self._last_t: float | None = None
        self.span_s = 0.0
        self.samples = 0
        #: the last sample's cars on the mapped edges and the sum of their speeds (m/s)
        self.last_sample: tuple[int, float] = (0, 0.0)

    def reset(self) -> None:
        """Forget what was sampled; the next period starts at the next sample."""
        self._veh_s[:] = 0.0
        self._veh_m[:] = 0.0
        self.span_s = 0.0
        self.samples = 0

    def sample(self, sumo: Any) -> None:
        """Add the current state of the running simulation ``sumo`` (libsumo or traci)."""
        if self._subscribed is not sumo:
            for sid in self._ids:
                sumo.edge.subscribe(sid, [_VEHICLE_NUMBER, _MEAN_SPEED])
            self._subscribed = sumo
            self._last_t = None
        now = float(sumo.simulation.getTime())
        dt = float(sumo.simulation.getDeltaT()) if self._last_t is None else now - self._last_t
        self._last_t = now
        if dt <= 0:
            return
        self.span_s += dt
        self.samples += 1
        index = self._index
        cars, speed_sum = 0, 0.0
        for sid, r in sumo.edge.getAllSubscriptionResults().items():
            n = r.get(_VEHICLE_NUMBER, 0)
            if n:
                i = index.get(sid, -1)
                if i >= 0:
                    speed = max(r[_MEAN_SPEED], 0.0)
                    self._veh_s[i] += n * dt
                    self._veh_m[i] += n * speed * dt
                    cars += n
                    speed_sum += n * speed
        self.last_sample = (cars, speed_sum)

    def sumo_travel_times(self) -> NDArray[np.float64]:
        """Mean travel time (s) per mapped SUMO edge (:attr:`EdgeMap.sumo_edges` order); NaN where
        nobody drove."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self._length * self._veh_s / self._veh_m
        cap = max(self.span_s, 1.0)
        t = np.where(self._veh_m > 0, np.minimum(t, np.maximum(cap, self._free)), cap)
        return np.where(self._veh_s > 0, t, np.nan)

    def driven(self) -> NDArray[np.bool_]:
        """Engine edges on which at least one of the SUMO edges was driven this period."""
        m = self.edge_map
        hit = (self._veh_s > 0).astype(np.int64)
        per = np.add.reduceat(np.append(hit[m.chain], 0), m.indptr[:-1]) if m.chain.size else np.zeros(0)
        per = np.where(np.diff(m.indptr) > 0, per, 0)
        return per > 0

    def travel_times(self, free_flow: NDArray[np.floating[Any]] | None = None) -> NDArray[np.float64]:
        """Mean measured travel time (s, float) per engine edge this period (see the class
        docstring); ``free_flow`` (default the engine's ``travel_time_s``) where none was driven."""
        m = self.edge_map
        free = self.engine_free_flow if free_flow is None else np.asarray(free_flow, dtype=np.float64)
        if free.shape != (m.num_engine_edges,):
            raise ValueError(f"free_flow: must hold one time per engine edge ({m.num_engine_edges}), got {free.shape}")
        t = self.sumo_travel_times()
        per_sumo = np.where(np.isnan(t), self._free, t)
        if not m.chain.size:
            return free.copy()
        sums = np.add.reduceat(np.append(per_sumo[m.chain], 0.0), m.indptr[:-1])
        return np.where(self.driven(), sums, free)


def write_json(measurement: TrafficMeasurement, path: str | Path, **extra: Any) -> None:
    Path(path).write_text(json.dumps({**measurement.to_dict(), **extra}, indent=1, default=float))


# ---------------------------------------------------------------------------- BPR side by side
def bpr_factor(traffic: TrafficSpec, hour: int, *, major: bool = True) -> float:
    """The BPR factor ``1 + alpha (v/c)^beta`` of the simulator's traffic model in the middle of
    ``hour`` (hour of the clock, taken modulo 24)."""
    vc = (traffic.vc_major if major else traffic.vc_minor)[hour % 24]
    return 1.0 + traffic.alpha * vc**traffic.beta


def comparison_rows(
    measurement: TrafficMeasurement, traffic: TrafficSpec, spec: BackgroundSpec
) -> list[dict[str, Any]]:
    """One row per measured hour: the demand, SUMO's figures and the BPR factors of that hour."""
    rows = []
    for h in measurement.hours:
        rows.append(
            {
                "hour": h.hour,
                "vph": round(spec.vph_at(h.hour * 3600), 1),
                "departed": h.departed,
                "mean_speed_kph": h.mean_speed_kph,
                "bpr_major": round(bpr_factor(traffic, h.hour), 3),
                "sumo_major": h.ci_major_rel,
                "bpr_minor": round(bpr_factor(traffic, h.hour, major=False), 3),
                "sumo_minor": h.ci_minor_rel,
                "ci_major_limit": h.ci_major,
                "ci_minor_limit": h.ci_minor,
                "queue_mean": h.queue_mean,
                "queue_max": h.queue_max,
                "teleported": h.teleported,
                "backlog_max": h.backlog_max,
            }
        )
    return rows


_COLUMNS = (
    ("hour", "hour"),
    ("vph", "cars/h asked"),
    ("departed", "departed"),
    ("mean_speed_kph", "mean km/h"),
    ("bpr_major", "BPR major"),
    ("sumo_major", "SUMO major"),
    ("bpr_minor", "BPR minor"),
    ("sumo_minor", "SUMO minor"),
    ("ci_major_limit", "major vs limit"),
    ("queue_mean", "queue mean"),
    ("queue_max", "queue max"),
    ("teleported", "teleports"),
    ("backlog_max", "not yet inserted (max)"),
)


def _cell(key: str, value: Any) -> str:
    if key == "hour":
        return f"{int(value) % 24:02d}:00"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The hourly comparison as a Markdown table (SUMO's congestion index relative to the nearly
    empty network beside the BPR factor; "major vs limit": against the speed limits)."""
    head = "| " + " | ".join(label for _, label in _COLUMNS) + " |"
    rule = "|" + "|".join("---:" for _ in _COLUMNS) + "|"
    body = ["| " + " | ".join(_cell(k, r[k]) for k, _ in _COLUMNS) + " |" for r in rows]
    return "\n".join([head, rule, *body]) + "\n"


def plot_comparison(rows: list[dict[str, Any]], path: str | Path, *, title: str) -> None:
    """Hour against congestion index: BPR and SUMO, major and minor roads (PNG)."""
    from ..plots import figure

    fig = figure(7.5, 4.2)
    ax = fig.add_subplot()
    hours = [r["hour"] + 0.5 for r in rows]
    for key, label, color, ls, marker in (
        ("bpr_major", "BPR, major roads", "tab:red", "--", ""),
        ("sumo_major", "SUMO, major roads", "tab:red", "-", "o"),
        ("bpr_minor", "BPR, minor roads", "tab:blue", "--", ""),
        ("sumo_minor", "SUMO, minor roads", "tab:blue", "-", "s"),
    ):
        ax.plot(hours, [r[key] for r in rows], label=label, color=color, ls=ls, marker=marker or None, ms=4)
    ax.set_xlabel("hour of the day")
    ax.set_ylabel("congestion index (travel time / uncongested)")
    ax.set_title(title, fontsize=10)
    ax.axhline(1.0, color="grey", lw=0.6)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(str(path))


# ---------------------------------------------------------------------------- calibration
@dataclass
class Calibration:
    """The demand :func:`calibrate` chose: ``spec`` (its ``peak_vph``), the hour it was fitted on
    and the BPR factor there, and every trial ``(peak_vph, SUMO congestion index)``."""

    spec: BackgroundSpec
    hour: int
    target: float
    trials: list[tuple[float, float]]
    matched: bool
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "peak_vph": round(self.spec.peak_vph, 1),
            "hour": self.hour,
            "target_bpr_major": round(self.target, 4),
            "trials": [[round(v, 1), round(c, 4)] for v, c in self.trials],
            "matched": bool(self.matched),
            "wall_s": round(self.wall_s, 1),
        }


def calibrate(
    sumo_network: SumoNetwork,
    engine_network: RoadNetwork,
    traffic: TrafficSpec,
    work_dir: str | Path,
    *,
    spec: BackgroundSpec | None = None,
    reference_pace: NDArray[np.float64] | None = None,
    hour: int | None = None,
    max_runs: int = 8,
    tolerance: float = 0.05,
    progress: bool = False,
) -> Calibration:
    """Scale ``spec``'s cars so that SUMO's congestion index on major roads (relative to the
    nearly empty network, ``reference_pace``) at ``hour`` (default: the busiest hour of
    ``traffic.vc_major``) matches the BPR factor ``1 + alpha (v/c)^beta`` of that hour.

    One scale for the whole profile, fitted at one hour: each trial simulates that hour after a
    warm-up hour; the search multiplies or divides the demand by 1.5 until the target is
    bracketed, then bisects (geometric means), at most ``max_runs`` trials, stopping within
    ``tolerance`` (the default, 0.05, is about the index's spread between seeds on Jamsil). The
    index is noisy and rises steeply where the network tips into gridlock; the trial closest to
    the target is kept, and ``matched`` says whether it is within ``tolerance``. ``progress``
    shows a bar (tqdm, on stderr).

    Defaults: ``spec`` the ``traffic`` profile at :func:`default_peak_vph` (where the search
    starts), ``reference_pace`` measured here (:func:`uncongested_pace` at :func:`reference_vph`).
    """
    if not 1 <= max_runs <= 50:
        raise ValueError(f"max_runs: must be a whole number 1 .. 50, got {max_runs!r}")
    if hour is None:
        hour = int(np.argmax(traffic.vc_major))
    if not 0 <= hour <= 23:
        raise ValueError(f"hour: must be 0 .. 23, got {hour!r}")
    target = bpr_factor(traffic, hour)
    begin_s, end_s = max(hour - 1, 0) * 3600, (hour + 1) * 3600
    work = Path(work_dir)
    if spec is None or reference_pace is None:
        edges = SumoEdges.read(sumo_network, engine_network)
        if spec is None:
            spec = BackgroundSpec.from_traffic(traffic, default_peak_vph(edges))
        if reference_pace is None:
            reference_pace = uncongested_pace(
                sumo_network, engine_network, work / "reference", vph=reference_vph(edges), seed=spec.seed
            )
    trials: list[tuple[float, float]] = []
    lo: float | None = None
    hi: float | None = None
    vph = spec.peak_vph
    t0 = time.perf_counter()
    from tqdm import tqdm

    bar_options: dict[str, Any] = {"desc": "calibrating", "unit": "run", "file": sys.stderr, "leave": False}
    with tqdm(total=max_runs, disable=not progress, **bar_options) as bar:
        for run in range(max_runs):
            trial = spec.scaled(vph / spec.peak_vph)
            folder = work / f"trial{run}"
            routes = write_background(sumo_network, trial, folder, begin_s=begin_s, end_s=end_s)
            m = measure_traffic(
                sumo_network,
                engine_network,
                [routes],
                begin_s=begin_s,
                end_s=end_s,
                work_dir=folder,
                seed=spec.seed,
                reference_pace=reference_pace,
            )
            ci = m.hour(hour).ci_major_rel
            ci = ci if math.isfinite(ci) else 1.0
            trials.append((float(vph), float(ci)))
            bar.update(1)
            bar.set_postfix(vph=f"{vph:.0f}", ci=f"{ci:.3f}", target=f"{target:.3f}")
            if abs(ci - target) <= tolerance:
                break
            if ci < target:
                lo = vph if lo is None else max(lo, vph)
            else:
                hi = vph if hi is None else min(hi, vph)
            vph = math.sqrt(lo * hi) if lo is not None and hi is not None else vph * (1.5 if hi is None else 1 / 1.5)
    best_vph, best_ci = min(trials, key=lambda vc: abs(vc[1] - target))
    return Calibration(
        spec=spec.scaled(best_vph / spec.peak_vph),
        hour=hour,
        target=target,
        trials=trials,
        matched=bool(abs(best_ci - target) <= tolerance),
        wall_s=time.perf_counter() - t0,
    )
