"""The DRT fleet driven by SUMO: the dispatcher decides, SUMO drives (``--traffic sumo``).

:class:`SumoFleet` is what the event loop (:class:`sim.simulator.Simulation`) talks to instead
of adding a path's travel time to the clock:

* :meth:`SumoFleet.depart` gives a vehicle the engine's path to its next stop as a SUMO route
  (:meth:`~sim.sumo.network.EdgeMap.sumo_route`; where SUMO's junction lacks a turn the engine
  took, SUMO's own router fills the gap) and a SUMO stop at its end: a parking stop at the end
  of the last edge, so that the vehicle stands aside while riders board and alight and until
  the loop lets it go (the dwell time is a SUMO stop);
* :meth:`SumoFleet.advance` steps SUMO up to a time and returns the vehicles that reached their
  stop on the way, with the time and the distance SUMO drove;
* as a traffic model it has the interface of :class:`sim.traffic.TrafficModel`
  (``active``, ``period_s``, ``period_start``, ``travel_times``): the travel times it returns
  are measured in SUMO over the last period (:class:`EdgeTimes`) and go to the router and the
  dispatcher (closed loop).

The vehicles enter SUMO at their first departure (at their depot) and stay in it, parked at a
stop between drives. SUMO also runs the background traffic (a routes file) beside them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing import RoadNetwork

from .network import SumoNetwork, connect_route
from .session import SumoSession
from .tools import SumoError

log = logging.getLogger(__name__)

#: SUMO's stop flag of a parking stop (the vehicle leaves the lane while it stands)
STOP_PARKING = 1
#: how long a stop lasts unless the loop resumes the vehicle first (s): longer than any day
STOP_HOLD_S = 7 * 86400.0
FLEET_TYPE = "mobility_fleet"
#: the shortest edge a stop goes on (m; see :meth:`SumoFleet._stop_edge`)
MIN_STOP_EDGE_M = 15.0


@dataclass
class Arrival:
    """A fleet vehicle reached its stop at ``time_s`` after driving ``distance_m`` in SUMO."""

    vehicle_id: str
    time_s: int
    distance_m: float


class EdgeTimes:
    """The engine's edge times from SUMO's measurements over a period (the closed loop).

    :class:`~sim.sumo.measure.EdgeTimeMeter` samples SUMO's edges (cars and their mean speed,
    halted ones included, so a queue at a red light counts) and gives each driven SUMO edge its
    mean travel time. An engine edge's time is then its free-flow time times the ratio of the
    measured time to SUMO's free-flow time over its chain (engine and SUMO speeds may differ:
    the ratio carries SUMO's congestion, not its speed limits); an engine edge none of whose SUMO
    edges was driven gets the mean ratio of the driven edges of its road class (weighted by
    free-flow time), and a class nobody drove keeps free flow. Never faster than free flow.
    """

    def __init__(self, sumo: SumoNetwork, network: RoadNetwork) -> None:
        from .measure import EdgeTimeMeter

        self.sumo = sumo
        self.network = network
        self.meter = EdgeTimeMeter(sumo, network)
        self._free = self.meter.edges.free_flow_s[: len(sumo.edge_map.sumo_edges)]

    def sample(self, module: Any) -> tuple[int, float]:
        """Sample SUMO now; returns (cars on the engine's roads, sum of their speeds in m/s)."""
        self.meter.sample(module)
        return self.meter.last_sample

    def travel_times(self) -> NDArray[np.float64]:
        """Engine edge times (s) of the period so far; then a new period begins."""
        m = self.sumo.edge_map
        free = self.network.travel_time_s.astype(np.float64)
        if not m.chain.size:
            return free
        measured = self.meter.sumo_travel_times()
        seen = ~np.isnan(measured)
        ratio = np.ones(len(m.sumo_edges))
        ratio[seen] = np.maximum(1.0, measured[seen] / np.maximum(self._free[seen], 1e-9))
        free_chain = self._free[m.chain]
        weighted = np.add.reduceat(free_chain * ratio[m.chain], m.indptr[:-1])
        total = np.add.reduceat(free_chain, m.indptr[:-1])
        empty = np.diff(m.indptr) == 0
        factor = np.where(empty, 1.0, weighted / np.maximum(total, 1e-9))
        driven = self.meter.driven()
        cls = self.network.road_class
        for c in np.unique(cls):
            in_class = cls == c
            known = in_class & driven
            factor[in_class & ~driven] = (
                float((factor[known] * free[known]).sum() / max(1e-9, free[known].sum())) if known.any() else 1.0
            )
        self.meter.reset()
        return free * factor


@dataclass
class TrafficReport:
    """Traffic KPIs of a SUMO day, per hour (an ``ExtraOutput`` of :mod:`sim.report`): the mean
    speed of the vehicles on the engine's roads, and the queue at signals (vehicles halting on
    the lanes into a signalised junction, per junction: the mean over samples and junctions, and
    the largest), sampled every ``sample_s``; plus SUMO's teleports, the signal count and the
    real-time factor (simulated seconds per wall second of the whole day)."""

    sample_s: int
    signals: int
    hours: dict[int, dict[str, float]] = field(default_factory=dict)
    teleports: int = 0
    real_time_factor: float = 0.0
    gap_fills: int = 0

    def add(self, t_s: float, vehicles: int, speed_sum: float, queues: list[int]) -> None:
        h = self.hours.setdefault(
            int(t_s // 3600), {"samples": 0, "vehicles": 0, "speed_sum": 0.0, "queue_sum": 0.0, "queue_max": 0.0}
        )
        h["samples"] += 1
        h["vehicles"] += vehicles
        h["speed_sum"] += speed_sum
        if queues:
            h["queue_sum"] += sum(queues) / len(queues)
            h["queue_max"] = max(h["queue_max"], float(max(queues)))

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for hour, h in sorted(self.hours.items()):
            out.append(
                {
                    "hour": hour,
                    "vehicles_mean": round(h["vehicles"] / max(1, h["samples"]), 2),
                    "mean_speed_kmh": round(3.6 * h["speed_sum"] / h["vehicles"], 2) if h["vehicles"] else None,
                    "queue_mean": round(h["queue_sum"] / max(1, h["samples"]), 3),
                    "queue_max": int(h["queue_max"]),
                }
            )
        return out

    def kpis(self) -> dict[str, Any]:
        return {
            "by_hour": self.rows(),
            "signals": self.signals,
            "teleports": self.teleports,
            "gap_fills": self.gap_fills,
            "real_time_factor": round(self.real_time_factor, 1),
            "sample_s": self.sample_s,
        }

    def write(self, folder: Path, *, plots: bool = True) -> dict[str, Path]:
        import csv

        files = {"traffic": folder / "traffic.csv"}
        rows = self.rows()
        with open(files["traffic"], "w", newline="") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=["hour", "vehicles_mean", "mean_speed_kmh", "queue_mean", "queue_max"]
            )
            writer.writeheader()
            writer.writerows(rows)
        if plots and rows:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(8, 3.5))
            hours = [r["hour"] for r in rows]
            ax.plot(hours, [r["mean_speed_kmh"] or 0 for r in rows], "o-", color="tab:blue", label="mean speed")
            ax.set_xlabel("hour")
            ax.set_ylabel("km/h", color="tab:blue")
            ax2 = ax.twinx()
            ax2.bar(hours, [r["queue_mean"] for r in rows], alpha=0.3, color="tab:red", label="queue at signals")
            ax2.set_ylabel("vehicles halting per signal (mean)", color="tab:red")
            ax.set_title("Traffic in SUMO by hour")
            fig.tight_layout()
            files["traffic_plot"] = folder / "traffic.png"
            fig.savefig(files["traffic_plot"], dpi=110)
            plt.close(fig)
        return files

    def summary_lines(self) -> list[str]:
        rows = [r for r in self.rows() if r["mean_speed_kmh"] is not None]
        if not rows:
            return ["traffic   SUMO: no vehicle sampled"]
        slow = min(rows, key=lambda r: r["mean_speed_kmh"])
        qmax = max(r["queue_max"] for r in self.rows())
        return [
            f"traffic   SUMO mean speed {sum(r['mean_speed_kmh'] for r in rows) / len(rows):.1f} km/h "
            f"(slowest hour {slow['hour']:02d}: {slow['mean_speed_kmh']:.1f} km/h), queue at {self.signals} signals "
            f"max {qmax}, teleports {self.teleports}, real-time factor {self.real_time_factor:.0f}x"
        ]


class SumoFleet:
    """The fleet in SUMO (see the module docstring).

    begin_s / end_s: the simulated period; update_s: the period of the travel-time feedback;
    background: SUMO routes files of the background traffic; seed: SUMO's seed; seats: the
    vehicles' capacity (their SUMO type is a 7 m minibus).
    """

    def __init__(
        self,
        sumo: SumoNetwork,
        network: RoadNetwork,
        *,
        begin_s: int,
        end_s: int,
        update_s: int = 900,
        background: list[Path] | None = None,
        seed: int = 0,
        step_s: float = 1.0,
        sample_s: int = 60,
        gui: bool = False,
    ) -> None:
        if update_s <= 0:
            raise ValueError(f"update_s: must be > 0 seconds, got {update_s!r}")
        self.sumo = sumo
        self.network = network
        self.begin_s, self.end_s = int(begin_s), int(end_s)
        self.period_s = int(update_s)
        self.step_s = step_s
        self.sample_s = max(1, int(sample_s))
        self.session = SumoSession(
            sumo.net_file, routes=list(background or []), begin_s=begin_s, step_s=step_s, seed=seed, gui=gui
        )
        self.meter = EdgeTimes(sumo, network)
        self.module: Any = None
        self.time_s = float(begin_s)
        self.in_sumo: set[str] = set()
        self.pending: dict[str, float] = {}  # vehicle -> departure time of its drive
        self.odometer: dict[str, float] = {}  # vehicle -> SUMO's odometer at its last arrival
        self.now_arrived: list[Arrival] = []  # arrivals without a drive (same node)
        self._routes = 0
        self._next: dict[str, set[str]] = {}
        self.teleports = 0
        self.gap_fills = 0
        self.active = True
        self._tls_lanes: list[list[str]] = []
        self.report = TrafficReport(sample_s=self.sample_s, signals=0)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        snet = self.sumo.sumolib_net()
        self._next = {e.getID(): {x.getID() for x in e.getOutgoing()} for e in snet.getEdges()}
        # the lanes a turn a -> b arrives on (the stop goes on the rightmost of them, so that a
        # vehicle need not change lanes on a short last edge), and each edge's first usable lane
        self._turn_lanes: dict[tuple[str, str], int] = {}
        self._lane0: dict[str, int] = {}
        self._length: dict[str, float] = {}
        for e in snet.getEdges():
            usable = [ln.getIndex() for ln in e.getLanes() if ln.allows("passenger")]
            self._lane0[e.getID()] = min(usable) if usable else 0
            self._length[e.getID()] = float(e.getLength())
            for to, conns in e.getOutgoing().items():
                lanes = [c.getToLane().getIndex() for c in conns if c.getToLane().allows("passenger")]
                if lanes:
                    self._turn_lanes[(e.getID(), to.getID())] = min(lanes)
        self.module = self.session.__enter__()
        self.module.vehicletype.copy("DEFAULT_VEHTYPE", FLEET_TYPE)
        self.module.vehicletype.setLength(FLEET_TYPE, 7.0)
        self.module.vehicletype.setVehicleClass(FLEET_TYPE, "passenger")
        tl = self.module.trafficlight
        self._tls_lanes = [sorted(set(tl.getControlledLanes(t))) for t in tl.getIDList()]
        self.report = TrafficReport(sample_s=self.sample_s, signals=len(self._tls_lanes))
        self.time_s = float(self.module.simulation.getTime())

    def close(self) -> None:
        if self.module is not None:
            self.session.__exit__(None, None, None)
            self.module = None

    # ------------------------------------------------------------------ traffic model interface
    def period_start(self, t_s: int) -> int:
        return (int(t_s) // self.period_s) * self.period_s

    def travel_times(self, t_s: float) -> NDArray[np.float64]:
        """The engine's edge times measured in SUMO over the last period (free flow before any)."""
        return self.meter.travel_times()

    # ------------------------------------------------------------------ driving
    @property
    def driving(self) -> bool:
        return bool(self.pending) or bool(self.now_arrived)

    def _route(self, edges: list[str]) -> list[str]:
        """``edges`` with SUMO's router across the turns SUMO's junctions lack."""

        def shortest(a: str, b: str) -> list[str]:
            self.gap_fills += 1
            return list(self.module.simulation.findRoute(a, b).edges)

        out = connect_route(edges, lambda a: self._next.get(a, ()), shortest)
        if out is None:
            raise SumoError(f"SUMO finds no way along {edges[0]} .. {edges[-1]} (a turn it lacks has no detour)")
        return out

    def _stop_edge(self, route: list[str], *, keep_first: bool) -> list[str]:
        """``route`` cut after its last edge long enough to stop on (:data:`MIN_STOP_EDGE_M`):
        netconvert's junction shapes leave some edges a few centimetres long, where a vehicle
        cannot reach the stop's lane. The stop is then that much before the engine's node."""
        for k in range(len(route) - 1, -1, -1):
            if self._length.get(route[k], 0.0) >= MIN_STOP_EDGE_M:
                return route[: k + 1]
        if keep_first or len(route) == 1:
            return route[:1]
        longest = max(range(len(route)), key=lambda k: self._length.get(route[k], 0.0))
        return route[: longest + 1]

    def depart(self, vehicle_id: str, t_s: int, nodes: list[int]) -> None:
        """Send the vehicle along the engine path ``nodes`` (engine node ids) to a stop at its end."""
        if self.module is None:
            raise SumoError("SUMO is not running (start() first)")
        if len(nodes) < 2:
            self.now_arrived.append(Arrival(vehicle_id, int(t_s), 0.0))
            return
        net = self.network
        edges = net.edge_ids(np.asarray(nodes[:-1]), np.asarray(nodes[1:]))
        route = self.sumo.edge_map.sumo_route(edges)
        v = self.module.vehicle
        if vehicle_id in self.in_sumo:
            here = v.getRoadID(vehicle_id)
            v.resume(vehicle_id)
            if route[0] != here:
                route = [here, *route]
            route = self._stop_edge(self._route(route), keep_first=True)
            v.setRoute(vehicle_id, route)
        else:
            self._routes += 1
            rid = f"{vehicle_id}@{self._routes}"
            route = self._stop_edge(self._route(route), keep_first=False)
            self.module.route.add(rid, route)
            v.add(vehicle_id, rid, typeID=FLEET_TYPE, depart="now", departPos="base", departSpeed="0")
            self.in_sumo.add(vehicle_id)
        last = route[-1]
        if len(route) > 1:
            lane = self._turn_lanes.get((route[-2], last), self._lane0.get(last, 0))
        else:
            lane = self._lane0.get(last, 0)
        pos = max(0.1, self._length.get(last, 1.0) - 1.0)
        v.setStop(vehicle_id, last, pos=pos, laneIndex=lane, duration=STOP_HOLD_S, flags=STOP_PARKING)
        self.pending[vehicle_id] = float(t_s)

    def advance(self, until_s: float) -> list[Arrival]:
        """Step SUMO until ``until_s`` or until a fleet vehicle reaches its stop; the arrivals."""
        if self.now_arrived:
            done, self.now_arrived = self.now_arrived, []
            return done
        sim = self.module.simulation
        out: list[Arrival] = []
        while self.time_s + 1e-9 < until_s and not out:
            sim.step()
            self.time_s = float(sim.getTime())
            if int(self.time_s) % self.sample_s == 0:
                vehicles, speed_sum = self.meter.sample(self.module)
                halting = self.module.lane.getLastStepHaltingNumber
                queues = [sum(halting(ln) for ln in lanes) for lanes in self._tls_lanes]
                self.report.add(self.time_s, vehicles, speed_sum, queues)
            self.teleports += sim.getStartingTeleportNumber()
            if self.pending:
                for vid in sim.getStopStartingVehiclesIDList():
                    if vid in self.pending:
                        self.pending.pop(vid)
                        odo = float(self.module.vehicle.getDistance(vid))
                        out.append(Arrival(vid, int(np.ceil(self.time_s)), odo - self.odometer.get(vid, 0.0)))
                        self.odometer[vid] = odo
                for vid in sim.getArrivedIDList():  # left SUMO without reaching the stop (should not happen)
                    if vid in self.pending:
                        self.pending.pop(vid)
                        self.in_sumo.discard(vid)
                        self.odometer.pop(vid, None)
                        log.warning("fleet vehicle %s left SUMO before its stop", vid)
                        out.append(Arrival(vid, int(np.ceil(self.time_s)), 0.0))
        return out
