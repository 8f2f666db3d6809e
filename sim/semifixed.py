"""Semi-fixed routes (a new I-MOD mode): vehicles that follow a base route of timed checkpoints.

Each vehicle of the route runs its checkpoints cycle after cycle through its shift and, between
two checkpoints, deviates to requested stops within the slack the timetable leaves. The
checkpoints are fixed stops of the dispatcher's plan (:meth:`matching.Dispatcher.add_checkpoints`):
the same insertion and re-optimisation kernels keep them, so a rider is only ever inserted where
every later checkpoint still makes its time, and a request whose detour does not fit the slack
goes to another vehicle or is rejected.

With ``mode = "fixed"`` the vehicles run the same timetable as a fixed line: riders board and
alight only at the route's stops (every stop on the base route's road path, the checkpoints
among them); a request elsewhere walks to the nearest route stop within the service's
``max_walk_m`` or is rejected (``no_stop_in_reach``).

The scenario section::

    [semi_fixed]
    route = [[37.5133, 127.1002], [37.5170, 127.1125], 12]   # checkpoints: [lat, lon] (snapped to
                                                             # the nearest stop) or stop indices
    slack_min = 2          # deviation budget per segment, over the drive at the day's slowest traffic
    cycle_min = 30         # or: the cycle; the time over the drive is shared by the segments
    times = [0, 8, 17]     # or: minutes after the cycle start of each checkpoint (with cycle_min)
    vehicles = 3           # the first vehicles of [fleet] run the route (default: all of them)
    mode = "semi_fixed"    # or "fixed"
    start = "06:10"        # the timetable's phase: vehicle 1 is at checkpoint 1 then (and a cycle
                           # before and after; default: the day's start); the next vehicles
                           # follow one headway (cycle / vehicles) apart
    dwell_s = 0            # the stop at each checkpoint

A route is a loop: after the last checkpoint the vehicle drives back to the first, which starts
the next cycle (list the stops of the way back for an out-and-back line). Each vehicle books
every checkpoint of its timetable from the first it can reach after its shift starts to the
last that leaves it time to get home by the end of its shift (and not after the day's end).

**Checkpoints are kept by construction.** The timetable is built with the day's slowest travel
times (the elementwise maximum of the traffic model's edge times over the day's updates), and
the dispatcher plans every vehicle with those same times: a vehicle never drives slower than
planned, so it reaches every stop no later than planned and waits at a checkpoint for its time.
(Riders' promises are therefore planned with the peak's times too; off-peak, vehicles are
early and wait.) The report recounts the checkpoint visits from the simulated stop visits.

Output (``SimOutput.extras["checkpoints"]``, :class:`CheckpointReport`): per checkpoint visit
its scheduled and actual times (``checkpoints.csv``); the share kept (arrived no later and
served at its time), the lateness distribution and the deviations per cycle (ride stops
served off the base route's road path).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matching import InvalidValueError, Refusal
from matching.deployment import ConfigError, check_keys, integer, number, parse_time

from .records import SimOutput

if TYPE_CHECKING:
    from .simulator import Simulation

MODES = ("semi_fixed", "fixed")
SECTION = "semi_fixed"


# ---------------------------------------------------------------------------- the section
@dataclass(frozen=True)
class SemiFixedSpec:
    """The ``[semi_fixed]`` section (see the module docstring). ``route`` holds stop indices
    (int) or ``(lat, lon)`` points; ``times_min`` (minutes after the cycle start, one per
    checkpoint, the first 0) needs ``cycle_min``; without ``times_min`` at least one of
    ``cycle_min`` and ``slack_min`` is set. ``vehicles`` None: the whole fleet."""

    route: tuple[int | tuple[float, float], ...]
    slack_min: float | None = None
    cycle_min: float | None = None
    times_min: tuple[float, ...] | None = None
    vehicles: int | None = None
    mode: str = "semi_fixed"
    start_s: int | None = None
    dwell_s: int = 0


def _route(value: object) -> tuple[int | tuple[float, float], ...]:
    rule = "a list of at least 2 checkpoints, each a stop index or a [lat, lon] pair"
    if not isinstance(value, list) or len(value) < 2:
        raise ConfigError(f"{SECTION}.route", f"got {value!r}", rule)
    out: list[int | tuple[float, float]] = []
    for k, item in enumerate(value):
        name = f"{SECTION}.route[{k}]"
        if isinstance(item, int) and not isinstance(item, bool):
            if item < 0:
                raise ConfigError(name, f"got {item}", "a stop index >= 0, or a [lat, lon] pair")
            out.append(item)
            continue
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in item)
        ):
            raise ConfigError(name, f"got {item!r}", "a stop index or a [lat, lon] pair")
        lat, lon = float(item[0]), float(item[1])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ConfigError(name, f"got {item!r}", "[lat, lon] with lat -90 .. 90 and lon -180 .. 180")
        out.append((lat, lon))
    return tuple(out)


def parse_semi_fixed(table: Mapping[str, Any], *, base: Path | None, data_dir: Path | None) -> SemiFixedSpec:
    """The ``[semi_fixed]`` section as a :class:`SemiFixedSpec`; :class:`ConfigError` naming the
    field (``semi_fixed.<key>``) and what it allows for a bad value. (The checkpoints are
    snapped and the timetable checked against the road network when the day starts.)"""
    if not isinstance(table, Mapping):
        raise ConfigError(SECTION, f"got {table!r}", "a table")
    check_keys(table, {"route", "slack_min", "cycle_min", "times", "vehicles", "mode", "start", "dwell_s"}, SECTION)
    if "route" not in table:
        raise ConfigError(f"{SECTION}.route", "missing", "a list of checkpoints (stop indices or [lat, lon] pairs)")
    route = _route(table["route"])
    slack = number(table, "slack_min", SECTION, 0.0, 0.0, 120.0) if "slack_min" in table else None
    cycle = number(table, "cycle_min", SECTION, 0.0, 1.0, 24 * 60.0) if "cycle_min" in table else None
    times: tuple[float, ...] | None = None
    if "times" in table:
        raw = table["times"]
        rule = f"{len(route)} minutes after the cycle start, one per checkpoint: 0 first, then increasing, < cycle_min"
        if (
            not isinstance(raw, list)
            or len(raw) != len(route)
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in raw)
        ):
            raise ConfigError(f"{SECTION}.times", f"got {raw!r}", rule)
        times = tuple(float(x) for x in raw)
        if times[0] != 0 or any(b <= a for a, b in itertools.pairwise(times)):
            raise ConfigError(f"{SECTION}.times", f"got {raw!r}", rule)
        if cycle is None:
            raise ConfigError(f"{SECTION}.cycle_min", "missing: times need the cycle (the way back to the first)")
        if times[-1] >= cycle:
            raise ConfigError(f"{SECTION}.times", f"the last checkpoint at {times[-1]:g} min", f"< cycle_min {cycle:g}")
        if slack is not None:
            raise ConfigError(f"{SECTION}.slack_min", "give slack_min or times, not both (the times set the slack)")
    if cycle is None and slack is None:
        raise ConfigError(f"{SECTION}.slack_min", "missing", "slack_min, cycle_min, or times with cycle_min")
    vehicles = integer(table, "vehicles", SECTION, 1, 1, 100_000) if "vehicles" in table else None
    mode = table.get("mode", "semi_fixed")
    if mode not in MODES:
        raise ConfigError(f"{SECTION}.mode", f"got {mode!r}", ", ".join(MODES))
    start = parse_time(table["start"], f"{SECTION}.start") if "start" in table else None
    dwell = integer(table, "dwell_s", SECTION, 0, 0, 600)
    return SemiFixedSpec(route, slack, cycle, times, vehicles, str(mode), start, dwell)


# ---------------------------------------------------------------------------- the timetable
@dataclass(frozen=True)
class Timetable:
    """A route's cycle: checkpoint stops, their offsets from the cycle start (s) and the cycle (s);
    ``drive_s[k]``: the drive from checkpoint ``k`` to the next (the last to the first) at the
    day's slowest traffic; ``slack_s[k]``: what the segment leaves over that drive and the dwell."""

    stops: tuple[int, ...]
    offset_s: tuple[int, ...]
    cycle_s: int
    drive_s: tuple[int, ...]
    slack_s: tuple[int, ...]


def build_timetable(spec: SemiFixedSpec, stops: Sequence[int], drive_s: Sequence[int]) -> Timetable:
    """The cycle of ``spec`` over checkpoint ``stops`` with segment drives ``drive_s`` (see the
    module docstring): each segment gets its drive, the dwell and its slack (``slack_min``; with
    ``cycle_min``, ``slack_min`` (default 0) and a share of the rest of the cycle in proportion to
    its drive; or what ``times`` leave).

    Raises:
        ConfigError: a segment too short for its drive (``semi_fixed.times``), or a cycle too short
            for the drives and ``slack_min`` per segment (``semi_fixed.cycle_min``), with the numbers.
    """
    n = len(stops)
    need = [int(d) + spec.dwell_s for d in drive_s]
    if spec.times_min is not None:
        assert spec.cycle_min is not None  # (parse_semi_fixed)
        offsets = [round(60 * t) for t in spec.times_min]
        cycle = round(60 * spec.cycle_min)
        seg = [b - a for a, b in itertools.pairwise([*offsets, cycle])]
        for k in range(n):
            if seg[k] < need[k]:
                raise ConfigError(
                    f"{SECTION}.times",
                    f"checkpoint {k} -> {(k + 1) % n} gets {seg[k] / 60:.1f} min; the drive takes "
                    f"{need[k] / 60:.1f} min at the day's slowest traffic (with the dwell)",
                    f">= {math.ceil(need[k] / 6) / 10:.1f} min",
                )
    elif spec.cycle_min is not None:
        cycle = round(60 * spec.cycle_min)
        spare = cycle - sum(need)
        floor = round(60 * (spec.slack_min or 0.0))
        if spare < floor * n:
            raise ConfigError(
                f"{SECTION}.cycle_min",
                f"{spec.cycle_min:g} min leaves {spare / 60:.1f} min over the drive of "
                f"{sum(need) / 60:.1f} min at the day's slowest traffic",
                f">= {math.ceil((sum(need) + floor * n) / 6) / 10:.1f} min",
            )
        total = max(1, sum(int(d) for d in drive_s))
        rest = spare - floor * n  # each segment gets slack_min, then a share of the rest by its drive
        shares = [floor + rest * int(d) // total for d in drive_s]
        shares[-1] += spare - sum(shares)
        seg = [need[k] + shares[k] for k in range(n)]
        offsets = [0, *itertools.accumulate(seg[:-1])]
    else:
        slack = round(60 * (spec.slack_min or 0.0))
        seg = [need[k] + slack for k in range(n)]
        offsets = [0, *itertools.accumulate(seg[:-1])]
        cycle = sum(seg)
    slack_s = tuple(seg[k] - need[k] for k in range(n))
    return Timetable(tuple(stops), tuple(int(o) for o in offsets), int(cycle), tuple(int(d) for d in drive_s), slack_s)


def slowest_times(sim: Simulation) -> np.ndarray:
    """Per edge, the slowest travel time the day's traffic model gives at any of its updates."""
    model, sc = sim.traffic, sim.scenario
    if not model.active:
        return np.asarray(sim.network.travel_time_s, np.float64)
    worst = model.travel_times(sc.start_s)
    t = model.period_start(sc.start_s) + model.period_s
    while t <= sc.end_s:
        np.maximum(worst, model.travel_times(t), out=worst)
        t += model.period_s
    return worst


# ---------------------------------------------------------------------------- the component
class SemiFixedRoute:
    """The ``[semi_fixed]`` part of a day (a :class:`sim.simulator.Component`)."""

    def __init__(self, spec: SemiFixedSpec) -> None:
        self.spec = spec
        self.timetable: Timetable | None = None
        #: per vehicle id: the checkpoints booked, as (checkpoint id, index on the route, cycle, stop, time)
        self.booked: dict[str, list[tuple[str, int, int, int, int]]] = {}
        #: the stops on the base route's road path (the checkpoints among them)
        self.route_stops: np.ndarray = np.zeros(0, np.int64)

    def _checkpoint_stops(self, sim: Simulation) -> list[int]:
        area = sim.dispatcher.area
        out = []
        for k, item in enumerate(self.spec.route):
            name = f"{SECTION}.route[{k}]"
            if isinstance(item, int):
                if item >= len(sim.stops):
                    raise ConfigError(name, f"stop {item} is not in the stop set", f"0 .. {len(sim.stops) - 1}")
                choice = area.locate_stop(item, field=name)
            else:
                choice = area.locate(*item)
            if isinstance(choice, Refusal):
                raise ConfigError(name, choice.detail, "a stop of the zone (or a point within max_walk_m of one)")
            out.append(choice.stop)
        for k, (a, b) in enumerate(itertools.pairwise([*out, out[0]])):
            if a == b:
                raise ConfigError(
                    f"{SECTION}.route[{(k + 1) % len(out)}]", f"snaps to stop {a}, as the checkpoint before it does"
                )
        return out

    def attach(self, sim: Simulation) -> None:
        from .simulator import InProcessBackend

        spec, sc = self.spec, sim.scenario
        if not isinstance(sim.backend, InProcessBackend):
            raise ConfigError(SECTION, "semi-fixed routes run with the in-process dispatcher (the engine has none)")
        stops = self._checkpoint_stops(sim)
        router = sim.router.with_travel_times(slowest_times(sim)) if sim.traffic.active else sim.router
        nodes = [int(sim.stops.node[s]) for s in stops]
        legs = [router.path(a, b) for a, b in itertools.pairwise([*nodes, nodes[0]])]
        tt = build_timetable(spec, stops, [int(leg.travel_time_s) for leg in legs])
        self.timetable = tt
        # the stops along the base route's road path
        on_path = {int(x) for leg in legs for x in leg.nodes}
        self.route_stops = np.union1d(np.flatnonzero(np.isin(sim.stops.node, list(on_path))), stops).astype(np.int64)
        dispatcher = sim.dispatcher
        if router is not sim.router:  # plan with the slowest times of the day, from now on
            dispatcher.update_travel_times(router, sc.start_s)
            sim.backend.follow_traffic = False
        if spec.mode == "fixed":
            dispatcher.restrict_boarding(self.route_stops.tolist())
        n = spec.vehicles if spec.vehicles is not None else len(sim.fleet)
        if n > len(sim.fleet):
            raise ConfigError(f"{SECTION}.vehicles", f"{n} on the route", f"<= fleet.vehicles {len(sim.fleet)}")
        start = sc.start_s if spec.start_s is None else spec.start_s
        headway = tt.cycle_s / n
        for i, veh in enumerate(sim.fleet[:n]):
            depot = int(sim.stops.node[veh.depot_stop])
            reach = [int(router.travel_time(depot, node)) for node in nodes]
            home = [int(router.travel_time(node, depot)) for node in nodes]
            last = min(veh.shift_end_s, sc.end_s)
            phase = start + round(i * headway)
            cycle0 = math.floor((veh.shift_start_s - phase) / tt.cycle_s) - 1
            events: list[tuple[int, int, int, int]] = []  # (time, checkpoint index, cycle, stop)
            for c in itertools.count(cycle0):
                base = phase + c * tt.cycle_s
                if base > last:
                    break
                for k, stop in enumerate(stops):
                    t = base + tt.offset_s[k]
                    if not events and t < veh.shift_start_s + reach[k]:
                        continue
                    if t + spec.dwell_s + home[k] > veh.shift_end_s or t > last:
                        break
                    events.append((t, k, c - cycle0, stop))
            if not events:
                raise ConfigError(
                    f"{SECTION}.start", f"vehicle {veh.id} can reach no checkpoint in time within its shift"
                )
            try:
                ids = dispatcher.add_checkpoints(
                    veh.id, [e[3] for e in events], [e[0] for e in events], dwell_s=spec.dwell_s
                )
            except InvalidValueError as exc:  # pragma: no cover - the timetable was built to fit
                raise ConfigError(f"{SECTION}.times", exc.message, exc.allowed) from exc
            first = events[0][2]  # cycles counted from the vehicle's first
            rows = zip(ids, events, strict=True)
            self.booked[veh.id] = [(cid, k, c - first, stop, t) for cid, (t, k, c, stop) in rows]

    def finish(self, sim: Simulation, output: SimOutput) -> None:
        assert self.timetable is not None
        output.extras["checkpoints"] = CheckpointReport.recount(
            output, self.booked, self.timetable, self.route_stops, self.spec.mode
        )


# ---------------------------------------------------------------------------- the report
@dataclass
class CheckpointVisit:
    """One booked checkpoint and how it was kept (times in service-clock seconds; -1: not visited)."""

    vehicle_id: str
    checkpoint_id: str
    cycle: int
    index: int
    stop: int
    scheduled_s: int
    arrive_s: int = -1
    service_s: int = -1
    depart_s: int = -1

    @property
    def kept(self) -> bool:
        """Arrived no later than its time and served at it (not before: nobody leaves early)."""
        return 0 <= self.arrive_s <= self.scheduled_s and self.service_s == self.scheduled_s

    @property
    def late_s(self) -> int:
        """How late the service started (0 when on time; -1 when not visited)."""
        return max(0, self.service_s - self.scheduled_s) if self.service_s >= 0 else -1


COLUMNS = ("vehicle_id", "checkpoint_id", "cycle", "index", "stop", "scheduled_s", "arrive_s", "service_s",
           "depart_s", "kept", "late_s")  # fmt: skip


@dataclass
class CheckpointReport:
    """Checkpoint punctuality of a day (``SimOutput.extras["checkpoints"]``, a :class:`sim.report.ExtraOutput`)."""

    mode: str
    timetable: Timetable
    visits: list[CheckpointVisit]
    route_stops: list[int]
    #: per vehicle and cycle: ride stops served off the base route's road path
    deviations: dict[tuple[str, int], int] = field(default_factory=dict)

    @classmethod
    def recount(
        cls,
        out: SimOutput,
        booked: Mapping[str, Sequence[tuple[str, int, int, int, int]]],
        timetable: Timetable,
        route_stops: np.ndarray,
        mode: str,
    ) -> CheckpointReport:
        """Match each vehicle's booked checkpoints ``(id, index, cycle, stop, time)``, in order, with
        its stop visits that carried no one (the simulator's record of a checkpoint served), and
        count per cycle the ride stops served off the base route's road path."""
        empty: dict[str, list[Any]] = defaultdict(list)
        rides: dict[str, list[Any]] = defaultdict(list)
        for v in sorted(out.visits, key=lambda v: (v.service_start_s, v.depart_s)):
            (empty if v.boarded == 0 and v.alighted == 0 else rides)[v.vehicle_id].append(v)
        visits: list[CheckpointVisit] = []
        on_route = {int(s) for s in route_stops}
        deviations: dict[tuple[str, int], int] = {}
        for vid, plan in booked.items():
            seen = iter(empty.get(vid, []))
            for cid, k, cycle, stop, t in plan:
                rec = CheckpointVisit(vid, cid, cycle, k, stop, t)
                match = next(seen, None)
                if match is not None and match.stop == stop:
                    rec.arrive_s, rec.service_s, rec.depart_s = match.arrive_s, match.service_start_s, match.depart_s
                visits.append(rec)
                deviations.setdefault((vid, cycle), 0)
            times = np.array([t for *_, t in plan], np.int64)
            for v in rides.get(vid, []):
                if v.stop in on_route:
                    continue
                at = max(0, int(np.searchsorted(times, v.service_start_s, side="right")) - 1)
                key = (vid, plan[at][2])
                deviations[key] = deviations.get(key, 0) + 1
        return cls(mode, timetable, visits, sorted(on_route), deviations)

    def kpis(self) -> dict[str, Any]:
        made = [v for v in self.visits if v.service_s >= 0]
        late = np.array([v.late_s for v in made], np.float64)
        early = np.array([v.scheduled_s - v.arrive_s for v in made], np.float64)
        kept = sum(v.kept for v in self.visits)
        dev = np.array(list(self.deviations.values()) or [0], np.float64)
        tt = self.timetable

        def pct(a: np.ndarray, q: float) -> float:
            return round(float(np.percentile(a, q)), 1) if a.size else 0.0

        return {
            "mode": self.mode,
            "checkpoints": len(tt.stops),
            "checkpoint_stops": list(tt.stops),
            "route_stops": len(self.route_stops),
            "cycle_s": tt.cycle_s,
            "offset_s": list(tt.offset_s),
            "slack_s": list(tt.slack_s),
            "vehicles": len({v.vehicle_id for v in self.visits}),
            "scheduled": len(self.visits),
            "visited": len(made),
            "kept": kept,
            "kept_share": round(kept / len(self.visits), 4) if self.visits else 1.0,
            "late_s": {"p50": pct(late, 50), "p90": pct(late, 90), "max": float(late.max()) if late.size else 0.0},
            "early_arrival_s": {"p50": pct(early, 50), "p90": pct(early, 90)},
            "deviations_per_cycle": {"mean": round(float(dev.mean()), 3), "max": int(dev.max())},
        }

    def write(self, folder: Path, *, plots: bool = True) -> dict[str, Path]:
        path = Path(folder) / "checkpoints.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for v in self.visits:
                writer.writerow([getattr(v, c) if c not in ("kept",) else int(v.kept) for c in COLUMNS])
        return {"checkpoints": path}

    def summary_lines(self) -> list[str]:
        k = self.kpis()
        return [
            f"{'semi-fixed route' if self.mode == 'semi_fixed' else 'fixed line'}: {k['checkpoints']} checkpoints, "
            f"cycle {k['cycle_s'] / 60:.1f} min, {k['vehicles']} vehicles, {k['route_stops']} route stops",
            f"checkpoints kept: {k['kept']} of {k['scheduled']} ({100 * k['kept_share']:.1f} %), "
            f"latest {k['late_s']['max']:.0f} s late; deviations per cycle {k['deviations_per_cycle']['mean']:.2f} "
            f"(max {k['deviations_per_cycle']['max']})",
        ]
