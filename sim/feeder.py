"""DRT as a feeder: journeys that combine an I-MOD leg with a bus leg.

The ``[feeder]`` section (:func:`parse_feeder`) needs ``[lines]`` and an I-MOD zone
(``[service] zone``)::

    [feeder]
    trips = 120                 # feeder journeys per whole day (scaled to the simulated hours)
    return_share = 0.5          # share that go the other way (bus first, then I-MOD home)
    transfer_max_walk_m = 300   # a bus stop within this walk of a zone DRT stop is a transfer stop

**Journeys.** A journey *to the bus* starts at a DRT stop inside the zone and ends at a bus stop
node outside it (both drawn uniformly; start times follow the scenario's ``[demand] profile``).
Its transfer stop is the one of least expected total time: the DRT drive from the origin to
the DRT stop beside the transfer stop (road time of the moment), the walk between the two,
and the lines' expected time from the transfer stop to the destination
(:meth:`sim.transit.TransitLines.expected_min`: in-vehicle, half headway per boarding,
transfer penalties). The I-MOD leg is a :class:`sim.demand.DemandItem` with the journey's id
(``leg`` 0) through the day's dispatcher; when it is completed (a ride hook), the rider walks
to the bus stop and rides the lines as any bus passenger. A journey *from the bus* starts at a
bus stop node outside the zone, rides the lines to the transfer stop, walks to the DRT stop
and asks for the I-MOD leg home then (:meth:`sim.simulator.Simulation.submit`, ``leg`` 1).
Both legs count in the usual KPIs: the DRT legs are rides in ``rides.csv`` (with their
``journey_id``), the bus legs passengers in ``transit_trips.csv``.

**Results** (:class:`JourneysOutput`, ``output.extras["journeys"]``): journeys completed
and failed (by the leg that failed and how), legs ridden, and the total time split into DRT
wait, DRT ride, bus wait, bus ride, transfer walk and the rest (boarding at the DRT stop, ...).
"""

from __future__ import annotations

import functools
import logging
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.deployment import ConfigError, check_keys, number

from .report import write_csv

if TYPE_CHECKING:
    from .records import RideRecord, SimOutput
    from .simulator import Simulation
    from .transit import TransitLines, TransitPassenger

log = logging.getLogger(__name__)

__all__ = ["FeederJourneys", "FeederSpec", "Journey", "JourneysOutput", "parse_feeder"]


@dataclass(frozen=True)
class FeederSpec:
    """The ``[feeder]`` section (see the module docstring)."""

    trips: float = 100.0
    return_share: float = 0.5
    transfer_max_walk_m: float = 300.0


def parse_feeder(table: Mapping[str, Any], *, base: Path | None, data_dir: Path | None) -> FeederSpec:
    """The ``[feeder]`` section; a bad value is one :class:`ConfigError` naming ``feeder.<key>``."""
    if not isinstance(table, Mapping):
        raise ConfigError("feeder", f"got {table!r}", "a table: [feeder] trips = ...")
    check_keys(table, {"trips", "return_share", "transfer_max_walk_m"}, "feeder")
    return FeederSpec(
        trips=number(table, "trips", "feeder", 100.0, 0.0, 1_000_000.0),
        return_share=number(table, "return_share", "feeder", 0.5, 0.0, 1.0),
        transfer_max_walk_m=number(table, "transfer_max_walk_m", "feeder", 300.0, 10.0, 2000.0),
    )


@dataclass
class Journey:
    """One feeder journey (times in seconds on the service clock; -1: did not happen).

    ``direction``: "to_bus" (I-MOD, then bus) or "from_bus" (bus, then I-MOD). ``status``:
    "completed", "open", or the failed leg and how ("drt_rejected", "drt_cancelled",
    "drt_no_show", "bus_no_route", "bus_stranded", "bus_on_board")."""

    journey_id: str
    direction: str
    start_s: int
    drt_stop: int  # the DRT stop in the zone where the journey starts or ends
    transfer_drt_stop: int  # the DRT stop beside the transfer bus stop
    transfer_node: str  # the transfer bus stop (node name of the lines)
    bus_stop: str  # the bus stop outside the zone where the journey ends or starts
    transfer_walk_m: float
    expected_min: float
    status: str = "open"
    end_s: int = -1
    drt_ride_id: str = ""
    bus_pax_id: str = ""
    drt_wait_s: int = -1
    drt_ride_s: int = -1
    bus_wait_s: int = -1
    bus_ride_s: int = -1
    transfer_s: int = -1
    bus_transfers: int = -1

    @property
    def total_s(self) -> int:
        return self.end_s - self.start_s if self.status == "completed" else -1

    @property
    def other_s(self) -> int:
        """Total time not in the named parts (the DRT boarding, the walk from the last bus stop)."""
        if self.status != "completed":
            return -1
        parts = self.drt_wait_s + self.drt_ride_s + self.bus_wait_s + self.bus_ride_s + self.transfer_s
        return self.total_s - parts


JOURNEY_COLUMNS = [f.name for f in fields(Journey)] + ["total_s", "other_s"]


class FeederJourneys:
    """Feeder journeys (a :class:`sim.simulator.Component`); needs a :class:`sim.transit.TransitLines`
    among the day's components, attached before it. ``journeys``: ``(direction, zone DRT stop,
    bus stop node, start time)`` to run instead of the drawn ones (tests)."""

    key = "journeys"

    def __init__(self, spec: FeederSpec, *, journeys: list[tuple[str, int, int, int]] | None = None) -> None:
        self.spec = spec
        self._given = journeys
        self.journeys: list[Journey] = []
        self._by_ride: dict[str, Journey] = {}
        #: a journey's transfer and destination nodes of the lines (indices: names may repeat)
        self._nodes: dict[str, tuple[int, int]] = {}

    # ---------------------------------------------------------------- set-up
    def attach(self, sim: Simulation) -> None:
        from scipy.spatial import cKDTree

        from matching import point_in_polygon

        from .transit import TransitLines

        self.sim = sim
        found = [c for c in sim.components if isinstance(c, TransitLines)]
        if not found or found[0].lines is None:
            raise ConfigError("feeder", "needs bus lines attached before it", "a [lines] section")
        self.transit: TransitLines = found[0]
        lines = found[0].lines
        zone = sim.scenario.service.zone
        if zone is None and self._given is None:
            raise ConfigError(
                "feeder", "needs an I-MOD zone to feed the lines from", "[service] zone = [[lat, lon], ...]"
            )
        stops = sim.stops
        zone_stops = np.flatnonzero(sim.dispatcher.area.stop_in_zone)
        road = lines.node_road
        bx, by = sim.network.x_m[road], sim.network.y_m[road]
        dist, idx = cKDTree(np.column_stack([stops.x_m[zone_stops], stops.y_m[zone_stops]])).query(
            np.column_stack([bx, by]), k=1
        )
        #: per bus stop node: the nearest DRT stop in the zone and the walk to it (m)
        self.node_drt_stop = zone_stops[idx].astype(np.int64)
        self.node_walk_m = np.asarray(dist, np.float64)
        self.transfer_nodes = np.flatnonzero(self.node_walk_m <= self.spec.transfer_max_walk_m)
        if zone is not None and sim.network.has_lat_lon:
            inside = point_in_polygon(sim.network.lat[road], sim.network.lon[road], zone)
        else:
            inside = np.zeros(road.size, bool)
        outside = np.flatnonzero(~inside)
        if self.transfer_nodes.size == 0:
            raise ConfigError(
                "feeder.transfer_max_walk_m",
                f"no bus stop lies within {self.spec.transfer_max_walk_m:g} m of a DRT stop in the zone",
                "a longer walk, or lines that pass the zone",
            )
        if self._given is None and outside.size == 0:
            raise ConfigError(
                "feeder", "every bus stop lies inside the I-MOD zone: nothing to feed", "lines that leave the zone"
            )
        plan = self._given if self._given is not None else self._draw(sim, zone_stops, outside)
        for k, (direction, drt_stop, node, t) in enumerate(plan):
            self._start(f"fj{k:05d}", direction, int(drt_stop), int(node), int(t))
        sim.ride_hooks.append(self._on_ride)

    def _draw(self, sim: Simulation, zone_stops: np.ndarray, outside: np.ndarray) -> list[tuple[str, int, int, int]]:
        sc = sim.scenario
        rng = np.random.default_rng([sim.seed, 18_002])
        from .demand import day_share, release_times  # (sim.demand imports the scenario, which imports this)

        share = day_share(sc.demand.profile, sc.start_s, sc.end_s)
        if share <= 0:
            return []
        count = int(rng.poisson(self.spec.trips * share))
        times = release_times(count, sc.demand.profile, start_s=sc.start_s, end_s=sc.end_s, rng=rng)
        back = rng.random(count) < self.spec.return_share
        drt = zone_stops[rng.integers(0, zone_stops.size, count)]
        node = outside[rng.integers(0, outside.size, count)]
        return [("from_bus" if b else "to_bus", int(s), int(v), int(t))
                for b, s, v, t in zip(back, drt, node, times, strict=True)]  # fmt: skip

    def _choose(self, direction: str, drt_stop: int, node: int) -> tuple[int, float]:
        """The transfer node of least expected total minutes (and those minutes; -1 and inf if none)."""
        sim = self.sim
        cands = self.transfer_nodes
        stops = self.node_drt_stop[cands]
        keep = (stops != drt_stop) & (cands != node)  # both legs are ridden: no DRT-only or bus-only trip
        cands, stops = cands[keep], stops[keep]
        if cands.size == 0:
            return -1, math.inf
        here = np.full(cands.size, int(sim.stops.node[drt_stop]), np.int64)
        there = sim.stops.node[stops].astype(np.int64)
        if direction == "to_bus":
            drive = np.asarray(sim.router.travel_time(here, there), np.float64) / 60
            bus = np.array([self.transit.expected_min(int(s), node) for s in cands])
        else:
            drive = np.asarray(sim.router.travel_time(there, here), np.float64) / 60
            bus = np.array([self.transit.expected_min(node, int(s)) for s in cands])
        walk = self.node_walk_m[cands] / self.transit.spec.walk_speed_mps / 60
        total = drive + walk + bus
        best = int(np.argmin(total))
        return int(cands[best]), float(total[best])

    def _start(self, jid: str, direction: str, drt_stop: int, node: int, t: int) -> None:
        lines = self.transit.lines
        assert lines is not None
        s, expected = self._choose(direction, drt_stop, node)
        j = Journey(
            jid, direction, t, drt_stop, int(self.node_drt_stop[s]) if s >= 0 else -1,
            lines.node_names[s] if s >= 0 else "", lines.node_names[node],
            float(self.node_walk_m[s]) if s >= 0 else math.nan, expected,
        )  # fmt: skip
        self.journeys.append(j)
        if s < 0 or not math.isfinite(expected):
            j.status = "bus_no_route"
            return
        self._nodes[jid] = (s, node)
        if direction == "to_bus":
            self._submit_drt(j, drt_stop, j.transfer_drt_stop, t, leg=0)
        else:
            pax = self.transit.add_passenger(
                node, s, t, pax_id=f"{jid}-bus", journey_id=jid, walk_out_m=j.transfer_walk_m,
                on_done=functools.partial(self._bus_done, j),
            )  # fmt: skip
            j.bus_pax_id = pax.pax_id

    def _submit_drt(self, j: Journey, origin: int, destination: int, t: int, *, leg: int) -> None:
        from matching import Request

        from .demand import DemandItem

        rid = f"{j.journey_id}-drt"
        req = Request(id=rid, requested_time_s=t, submitted_time_s=t, origin_stop=origin, destination_stop=destination)
        j.drt_ride_id = rid
        self._by_ride[rid] = j
        self.sim.submit(DemandItem(submit_s=t, request=req, journey_id=j.journey_id, leg=leg))

    # ---------------------------------------------------------------- hooks
    def _on_ride(self, rec: RideRecord, t: int) -> None:
        j = self._by_ride.get(rec.ride_id)
        if j is None:
            return
        if rec.outcome != "completed":
            j.status = f"drt_{rec.outcome}"
            return
        j.drt_wait_s = rec.wait_s
        j.drt_ride_s = rec.ride_s
        if j.direction == "from_bus":
            j.end_s = rec.dropoff_s
            j.status = "completed"
            return
        s, node = self._nodes[j.journey_id]
        j.transfer_s = round(j.transfer_walk_m / self.transit.spec.walk_speed_mps)
        pax = self.transit.add_passenger(
            s, node, rec.dropoff_s, pax_id=f"{j.journey_id}-bus", journey_id=j.journey_id,
            walk_in_m=j.transfer_walk_m, on_done=functools.partial(self._bus_done, j),
        )  # fmt: skip
        j.bus_pax_id = pax.pax_id

    def _bus_done(self, j: Journey, pax: TransitPassenger, t: int) -> None:
        if pax.status != "completed":
            j.status = f"bus_{pax.status}"
            return
        j.bus_wait_s, j.bus_ride_s, j.bus_transfers = pax.wait_s, pax.in_vehicle_s, pax.transfers
        if j.direction == "to_bus":
            j.end_s = pax.end_s
            j.status = "completed"
            return
        j.transfer_s = round(j.transfer_walk_m / self.transit.spec.walk_speed_mps)
        self._submit_drt(j, j.transfer_drt_stop, j.drt_stop, max(t, int(self.sim.now)), leg=1)

    def finish(self, sim: Simulation, output: SimOutput) -> None:
        output.extras[self.key] = JourneysOutput(self.journeys)


class JourneysOutput:
    """What the feeder journeys leave in ``output.extras["journeys"]`` (a :class:`sim.report.ExtraOutput`)."""

    def __init__(self, journeys: list[Journey]) -> None:
        self.journeys = journeys

    def kpis(self) -> dict[str, Any]:
        js = self.journeys
        done = [j for j in js if j.status == "completed"]
        status: dict[str, int] = defaultdict(int)
        for j in js:
            status[j.status] += 1
        mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
        return {
            "journeys": len(js),
            "completed": len(done),
            "by_status": dict(status),
            "by_direction": {d: sum(1 for j in js if j.direction == d) for d in ("to_bus", "from_bus")},
            "completed_by_direction": {d: sum(1 for j in done if j.direction == d) for d in ("to_bus", "from_bus")},
            "drt_legs_completed": sum(1 for j in js if j.drt_ride_s >= 0),
            "bus_legs_completed": sum(1 for j in js if j.bus_ride_s >= 0),
            "mean_s": {
                "total": mean([j.total_s for j in done]),
                "drt_wait": mean([j.drt_wait_s for j in done]),
                "drt_ride": mean([j.drt_ride_s for j in done]),
                "bus_wait": mean([j.bus_wait_s for j in done]),
                "bus_ride": mean([j.bus_ride_s for j in done]),
                "transfer": mean([j.transfer_s for j in done]),
                "other": mean([j.other_s for j in done]),
            },
            "expected_min_mean": mean([j.expected_min for j in done]),
        }

    def summary_lines(self) -> list[str]:
        k = self.kpis()
        m = k["mean_s"]
        f = lambda s: "–" if s is None else f"{s / 60:.1f}"  # noqa: E731
        done, made = k["completed_by_direction"], k["by_direction"]
        return [
            f"feeder        {k['completed']} of {k['journeys']} journeys completed (I-MOD + bus): "
            f"to the bus {done['to_bus']} of {made['to_bus']}, from it {done['from_bus']} of {made['from_bus']}",
            f"feeder times  total {f(m['total'])} min = DRT wait {f(m['drt_wait'])} + ride {f(m['drt_ride'])}, "
            f"bus wait {f(m['bus_wait'])} + ride {f(m['bus_ride'])}, transfer walk {f(m['transfer'])}, "
            f"other {f(m['other'])}",
        ]

    def write(self, folder: Path, *, plots: bool = True) -> dict[str, Path]:
        path = Path(folder) / "journeys.csv"
        write_csv(
            path, JOURNEY_COLUMNS, ({**asdict(j), "total_s": j.total_s, "other_s": j.other_s} for j in self.journeys)
        )
        return {"journeys": path}
