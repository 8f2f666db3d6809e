"""Fleet by time of day: how many vehicles each hour needs, shifts that cover them, and a check.

Three steps (``mobility fleet-plan``; the method and its limits are in ``docs/fleet-plan.md``):

1. **Need per hour** (:func:`measure_flat`, :func:`need_from_runs`). The scenario's day is
   simulated with a few flat fleets (every vehicle on duty all day; seeded, several seeds
   pooled). For each hour of *requested* time the runs give the share of requests the
   dispatcher accepted and the 90th percentile of the completed rides' waits
   (:class:`HourlyService`). The need of an hour is the smallest tested fleet that meets the
   :class:`ServiceTarget` in that hour *and with which every larger tested fleet also meets
   it* (so a lucky small fleet in a noisy hour does not count). The flat fleet's vehicles in
   that hour are those it needs: the hours are taken as independent, which they are not quite
   (a vehicle busy with the last hour's riders, rides booked ahead); step 3 checks.
2. **Shifts** (:func:`plan_shifts`): an integer program (OR-Tools CP-SAT). Shifts start and
   end on the hour inside the planning hours and last one of the allowed lengths; minimise
   vehicle-hours, then the number of vehicles (shifts), such that the vehicles on duty in
   every hour are at least its need.
3. **Check by simulation** (:func:`plan_fleet`): the planned shifts run the same day (same
   seeds); where an hour misses the target, its need goes up by one (and the next hour's to at
   least one) and the shifts are planned again, for a few rounds. The chosen round is the first
   that meets the target in every hour, else the one that meets it in most hours. The smallest
   flat fleet that met the target in every hour, and the scenario's own, are the comparison.

"Served" is the share of requests the dispatcher accepted (not rejected): cancellations and
no-shows are the riders' own, drawn independently of the fleet, so they do not count against
it. Waits are boarding minus requested time of completed rides; the dispatcher never promises
more than ``[service] max_wait_s``, so a fleet too small shows as rejections first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.deployment import FleetSpec, ShiftSpec
from matching.errors import InvalidValueError

from .records import SimOutput
from .scenario import Scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure

H = 3600
#: Most planning hours (two service days, as the scenario clock).
MAX_HOURS = 48

#: ``progress(done, total)`` after each simulated day.
Progress = Callable[[int, int], None]


class FleetPlanError(InvalidValueError):
    """A fleet-plan input is out of range, or its shifts cannot cover the need (the field is named)."""


# ---------------------------------------------------------------------------- the target
@dataclass(frozen=True)
class ServiceTarget:
    """What every hour must reach: at least ``served`` of its requests accepted, and the 90th
    percentile of its completed rides' waits at most ``p90_wait_s``."""

    served: float = 0.95
    p90_wait_s: float = 15 * 60

    def __post_init__(self) -> None:
        if not 0.0 <= self.served <= 1.0:
            raise FleetPlanError("served", f"got {self.served!r}", "a share 0 .. 1")
        if not 0 < self.p90_wait_s <= 24 * H:
            raise FleetPlanError("p90_wait_min", f"got {self.p90_wait_s / 60:g} min", "0 < minutes <= 1440")

    def describe(self) -> str:
        return f"{self.served:.0%} served, p90 wait <= {self.p90_wait_s / 60:g} min"


# ---------------------------------------------------------------------------- hourly service
@dataclass(frozen=True)
class HourlyService:
    """A day's (or several pooled days') service by hour of requested time.

    Hour ``k`` is ``[first_hour + k, first_hour + k + 1)`` h on the service clock.

    Attributes:
        requests, accepted: requests asked for that hour, and those not rejected.
        waits_s: the waits (boarding - requested) of that hour's completed rides.
        vehicle_hours, vehicle_km: the fleet's shift hours and driven km (summed over days).
        days: how many days are pooled.
    """

    first_hour: int
    requests: tuple[int, ...]
    accepted: tuple[int, ...]
    waits_s: tuple[tuple[int, ...], ...]
    vehicle_hours: float
    vehicle_km: float
    days: int = 1

    @classmethod
    def from_output(cls, out: SimOutput, first_hour: int, num_hours: int) -> HourlyService:
        """Count ``out``'s rides by the hour of their requested time (requests outside the hours
        are left out)."""
        requests = [0] * num_hours
        accepted = [0] * num_hours
        waits: list[list[int]] = [[] for _ in range(num_hours)]
        for r in out.rides:
            k = r.requested_s // H - first_hour
            if not 0 <= k < num_hours:
                continue
            requests[k] += 1
            if r.outcome != "rejected":
                accepted[k] += 1
            if r.outcome == "completed":
                waits[k].append(r.wait_s)
        shift_s = sum(v.shift_end_s - v.shift_start_s for v in out.vehicles)
        km = sum(d.length_m for d in out.drives) / 1000
        return cls(first_hour, tuple(requests), tuple(accepted), tuple(tuple(w) for w in waits), shift_s / H, km)

    @classmethod
    def pooled(cls, days: Sequence[HourlyService]) -> HourlyService:
        """Several days of the same hours as one sample."""
        first = days[0]
        if any(d.first_hour != first.first_hour or len(d.requests) != len(first.requests) for d in days):
            raise ValueError("pooled days must cover the same hours")
        n = len(first.requests)
        return cls(
            first.first_hour,
            tuple(sum(d.requests[k] for d in days) for k in range(n)),
            tuple(sum(d.accepted[k] for d in days) for k in range(n)),
            tuple(tuple(w for d in days for w in d.waits_s[k]) for k in range(n)),
            sum(d.vehicle_hours for d in days),
            sum(d.vehicle_km for d in days),
            sum(d.days for d in days),
        )

    @property
    def num_hours(self) -> int:
        return len(self.requests)

    def served(self, k: int) -> float | None:
        """Share of hour ``k``'s requests accepted (None without requests)."""
        return self.accepted[k] / self.requests[k] if self.requests[k] else None

    def p90_wait_s(self, k: int) -> float | None:
        """90th percentile of hour ``k``'s completed waits (None without completed rides)."""
        return float(np.percentile(self.waits_s[k], 90)) if self.waits_s[k] else None

    def meets(self, k: int, target: ServiceTarget) -> bool:
        """Whether hour ``k`` meets ``target`` (an hour without requests always does)."""
        served, p90 = self.served(k), self.p90_wait_s(k)
        if served is not None and served < target.served:
            return False
        return p90 is None or p90 <= target.p90_wait_s

    def total_served(self) -> float | None:
        return sum(self.accepted) / sum(self.requests) if sum(self.requests) else None

    def total_p90_wait_s(self) -> float | None:
        waits = [w for ws in self.waits_s for w in ws]
        return float(np.percentile(waits, 90)) if waits else None

    def hours_met(self, target: ServiceTarget) -> int:
        """How many hours with requests meet ``target``."""
        return sum(1 for k in range(self.num_hours) if self.requests[k] and self.meets(k, target))

    def hours_with_requests(self) -> int:
        return sum(1 for n in self.requests if n)


# ---------------------------------------------------------------------------- need per hour
@dataclass(frozen=True)
class NeedEstimate:
    """The need per hour read from flat-fleet runs (:func:`need_from_runs`).

    Attributes:
        first_hour: the clock hour of ``need[0]``.
        sizes: the flat fleets simulated, ascending; ``runs[i]`` is size ``sizes[i]``'s service.
        need: vehicles on duty each hour needs (0 for hours without requests).
        unmet: clock hours that even the largest size missed (their need is that size).
    """

    first_hour: int
    sizes: tuple[int, ...]
    runs: tuple[HourlyService, ...]
    need: tuple[int, ...]
    unmet: tuple[int, ...]
    target: ServiceTarget

    def smallest_flat(self) -> int | None:
        """The smallest tested flat fleet from which every larger one met the target in every
        hour (None if the largest did not)."""
        return None if self.unmet else max([self.sizes[0], *self.need])


def need_from_runs(sizes: Sequence[int], runs: Sequence[HourlyService], target: ServiceTarget) -> NeedEstimate:
    """Per hour, the smallest size in ``sizes`` that meets ``target`` there and with which every
    larger size does too; the largest size where none does (that hour is ``unmet``); 0 for an
    hour without requests. A stricter target never gives a smaller need (the sizes that meet it
    are a subset of those that meet a looser one)."""
    if len(sizes) != len(runs) or not sizes:
        raise FleetPlanError("sizes", f"{len(sizes)} sizes for {len(runs)} runs", "one run per size")
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    s = tuple(int(sizes[i]) for i in order)
    r = tuple(runs[i] for i in order)
    if len(set(s)) != len(s):
        raise FleetPlanError("sizes", f"{list(s)} repeats a size", "distinct fleet sizes")
    first = r[0]
    need: list[int] = []
    unmet: list[int] = []
    for k in range(first.num_hours):
        if not any(run.requests[k] for run in r):
            need.append(0)
            continue
        n: int | None = None
        for i in reversed(range(len(s))):  # down from the largest while every size meets it
            if not r[i].meets(k, target):
                break
            n = s[i]
        if n is None:  # even the largest size missed it
            unmet.append(first.first_hour + k)
            n = s[-1]
        need.append(n)
    return NeedEstimate(first.first_hour, s, r, tuple(need), tuple(unmet), target)


def planning_hours(scenario: Scenario) -> tuple[int, int]:
    """``(first_hour, num_hours)``: whole clock hours from the earlier of the day's start and the
    fleet's first shift start to the later of the day's end and its last shift end."""
    fleet = scenario.fleet
    first = min(scenario.start_s, fleet.shift_start_s) // H
    last = math.ceil(max(scenario.end_s, fleet.shift_end_s) / H)
    return first, min(last - first, MAX_HOURS)


def flat_fleet(scenario: Scenario, vehicles: int) -> Scenario:
    """``scenario`` with ``vehicles`` vehicles, every one on duty over the fleet's whole span."""
    fleet = replace(scenario.fleet, vehicles=vehicles, shifts=())
    return replace(scenario, deployment=replace(scenario.deployment, fleet=fleet))


def with_fleet(scenario: Scenario, fleet: FleetSpec) -> Scenario:
    return replace(scenario, deployment=replace(scenario.deployment, fleet=fleet))


def simulate_hourly(scenario: Scenario, seed: int, first_hour: int, num_hours: int) -> HourlyService:
    """One simulated day of ``scenario`` with ``seed``, counted by hour (:class:`HourlyService`)."""
    from .simulator import Simulation

    return HourlyService.from_output(Simulation(scenario, seed=seed).run(), first_hour, num_hours)


def run_days(
    jobs: Sequence[tuple[Scenario, int]],
    first_hour: int,
    num_hours: int,
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[HourlyService]:
    """Simulate each ``(scenario, seed)`` (in this process, or with ``workers`` > 1 on a local
    Ray cluster of that many CPUs: :func:`sim.sweep.map_on_ray`), in order."""
    out: list[HourlyService] = []
    if workers <= 1 or len(jobs) <= 1:
        for scenario, seed in jobs:
            out.append(simulate_hourly(scenario, seed, first_hour, num_hours))
            if progress:
                progress(len(out), len(jobs))
        return out
    from .sweep import map_on_ray  # the sweeps' Ray set-up (packages, Numba threads, temp folder)

    args = [(scenario, seed, first_hour, num_hours) for scenario, seed in jobs]
    return map_on_ray(simulate_hourly, args, workers=workers, progress=progress)


def measure_flat(
    scenario: Scenario,
    sizes: Sequence[int],
    seeds: Sequence[int],
    *,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[HourlyService]:
    """The service by hour of flat fleets of ``sizes`` vehicles, each pooled over ``seeds``."""
    first, num = planning_hours(scenario)
    jobs = [(flat_fleet(scenario, n), seed) for n in sizes for seed in seeds]
    days = run_days(jobs, first, num, workers=workers, progress=progress)
    m = len(seeds)
    return [HourlyService.pooled(days[i * m : (i + 1) * m]) for i in range(len(sizes))]


# ---------------------------------------------------------------------------- the shifts
@dataclass(frozen=True)
class Shift:
    """``vehicles`` vehicles on duty from clock hour ``start_h`` to ``end_h``."""

    start_h: int
    end_h: int
    vehicles: int

    @property
    def length_h(self) -> int:
        return self.end_h - self.start_h


@dataclass(frozen=True)
class ShiftPlan:
    """Shifts that cover a need per hour (:func:`plan_shifts`).

    Attributes:
        first_hour: the clock hour of ``need[0]`` and ``on_duty[0]``.
        need, on_duty: per hour, vehicles needed and vehicles the shifts put on duty.
        shifts: by start, then length.
        vehicle_hours: the sum of the shifts' lengths; ``vehicles``: how many shifts.
        optimal: CP-SAT proved both objectives optimal within the time limit.
    """

    first_hour: int
    need: tuple[int, ...]
    on_duty: tuple[int, ...]
    shifts: tuple[Shift, ...]
    vehicle_hours: int
    vehicles: int
    optimal: bool
    solve_s: float = 0.0

    def fleet_spec(self, *, seats: int = 16, wheelchair_places: int = 1) -> FleetSpec:
        """The ``[fleet]`` of these shifts."""
        slots = [ShiftSpec(sh.start_h * H, sh.end_h * H, sh.vehicles) for sh in self.shifts]
        return FleetSpec.from_shifts(slots, seats=seats, wheelchair_places=wheelchair_places)


def _check_hours(values: object, name: str, lo: int, hi: int) -> list[int]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise FleetPlanError(name, f"got {values!r}", f"a non-empty list of whole numbers {lo} .. {hi}")
    out = []
    for k, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= v <= hi:
            raise FleetPlanError(f"{name}[{k}]", f"got {v!r}", f"whole numbers {lo} .. {hi}")
        out.append(int(v))
    return out


def plan_shifts(
    need_by_hour: Sequence[int],
    lengths: Sequence[int],
    *,
    first_hour: int = 0,
    max_vehicles: int | None = None,
    time_limit_s: float = 10.0,
) -> ShiftPlan:
    """Shifts that put at least ``need_by_hour[k]`` vehicles on duty in every hour ``k``, with
    the fewest vehicle-hours and then the fewest vehicles.

    A shift starts on a clock hour ``first_hour + s``, lasts one of ``lengths`` hours and lies
    inside the hours of ``need_by_hour``; each shift is one vehicle. Solved by OR-Tools CP-SAT in
    two steps (vehicle-hours, then vehicles with the vehicle-hours fixed), each within
    ``time_limit_s`` (one worker: the same answer every time).

    Raises:
        FleetPlanError: a need or length out of range (field ``need_by_hour[k]``,
            ``lengths[k]``); no allowed length fits in the hours while some hour needs a
            vehicle (``lengths``); the need cannot be covered with ``max_vehicles`` shifts
            (``max_vehicles``); no answer within the time limit (``time_limit_s``).
    """
    from ortools.sat.python import cp_model

    need = _check_hours(need_by_hour, "need_by_hour", 0, 100_000)
    num = len(need)
    if num > MAX_HOURS:
        raise FleetPlanError("need_by_hour", f"{num} hours", f"at most {MAX_HOURS}")
    allowed = sorted(set(_check_hours(lengths, "lengths", 1, MAX_HOURS)))
    if not 0 <= first_hour <= MAX_HOURS - num:
        raise FleetPlanError("first_hour", f"got {first_hour}", f"0 .. {MAX_HOURS - num}")
    if max_vehicles is not None and max_vehicles < 0:
        raise FleetPlanError("max_vehicles", f"got {max_vehicles}", ">= 0")
    if not time_limit_s > 0:
        raise FleetPlanError("time_limit_s", f"got {time_limit_s}", "> 0")
    fits = [length for length in allowed if length <= num]
    if any(need) and not fits:
        raise FleetPlanError(
            "lengths",
            f"no shift of {_span(allowed)} h fits in the {num} h from {_clock(first_hour)} to "
            f"{_clock(first_hour + num)}",
            f"lengths of at most {num} h",
        )
    peak = max(need)
    if max_vehicles is not None and peak > max_vehicles:
        hour = first_hour + need.index(peak)
        raise FleetPlanError(
            "max_vehicles", f"{_clock(hour)} needs {peak} vehicles on duty, more than {max_vehicles}", f">= {peak}"
        )
    t0 = time.perf_counter()
    if peak == 0:
        return ShiftPlan(first_hour, tuple(need), (0,) * num, (), 0, 0, True, 0.0)

    model = cp_model.CpModel()
    x = {(s, L): model.new_int_var(0, peak, f"x_{s}_{L}") for L in fits for s in range(num - L + 1)}
    for k in range(num):
        if need[k]:
            model.add(sum(v for (s, L), v in x.items() if s <= k < s + L) >= need[k])
    count = sum(x.values())
    if max_vehicles is not None:
        model.add(count <= max_vehicles)
    hours = sum(L * v for (s, L), v in x.items())

    def solve(objective: Any) -> tuple[Any, bool]:
        model.minimize(objective)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = float(time_limit_s)
        solver.parameters.num_workers = 1
        status = solver.solve(model)
        if status == cp_model.INFEASIBLE:
            raise FleetPlanError(
                "max_vehicles",
                f"the need cannot be covered by {max_vehicles} shifts of {_span(fits)} h",
                "more vehicles, or other shift lengths",
            )
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise FleetPlanError("time_limit_s", f"no shifts found in {time_limit_s:g} s", "a longer time limit")
        return solver, status == cp_model.OPTIMAL

    solver, optimal_hours = solve(hours)
    best_hours = round(solver.objective_value)
    model.add(hours == best_hours)
    model.clear_hints()
    for v in x.values():  # start from the first answer
        model.add_hint(v, solver.value(v))
    solver, optimal_count = solve(count)
    shifts = tuple(
        Shift(first_hour + s, first_hour + s + L, int(solver.value(v)))
        for (s, L), v in sorted(x.items())
        if solver.value(v) > 0
    )
    on_duty = [0] * num
    for sh in shifts:
        for k in range(sh.start_h - first_hour, sh.end_h - first_hour):
            on_duty[k] += sh.vehicles
    return ShiftPlan(
        first_hour,
        tuple(need),
        tuple(on_duty),
        shifts,
        sum(sh.length_h * sh.vehicles for sh in shifts),
        sum(sh.vehicles for sh in shifts),
        optimal_hours and optimal_count,
        time.perf_counter() - t0,
    )


def _clock(hour: int) -> str:
    return f"{hour:02d}:00"


def _span(lengths: Sequence[int]) -> str:
    lo, hi = min(lengths), max(lengths)
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


# ---------------------------------------------------------------------------- the whole plan
def default_sizes(vehicles: int) -> list[int]:
    """Flat fleet sizes from five quarters of ``vehicles`` down by factors of 1.5 to one vehicle,
    and ``vehicles`` itself (distinct; for 16 vehicles: 1, 2, 3, 4, 6, 9, 13, 16, 20): finer
    where fleets are small."""
    top = max(2, math.ceil(1.25 * vehicles))
    sizes = {top}
    while (n := round(min(sizes) / 1.5)) >= 1 and n < min(sizes):
        sizes.add(n)
    return sorted(sizes | {1, vehicles})


@dataclass(frozen=True)
class PlanRound:
    """One round of step 3: the need planned for, its shifts and their simulated service."""

    need: tuple[int, ...]
    plan: ShiftPlan
    service: HourlyService
    missed: tuple[int, ...]  # clock hours that missed the target


@dataclass(frozen=True)
class FleetPlanResult:
    """What :func:`plan_fleet` found: the need, the rounds of shifts, the flat comparison."""

    scenario: str
    target: ServiceTarget
    seeds: tuple[int, ...]
    lengths: tuple[int, ...]
    estimate: NeedEstimate
    rounds: tuple[PlanRound, ...]
    seats: int
    wheelchair_places: int
    timings: dict[str, float] = field(default_factory=dict)
    #: the scenario's own flat fleet size (None when its fleet has shifts)
    scenario_vehicles: int | None = None

    @property
    def final(self) -> PlanRound:
        """The round to use: the one whose shifts met the target in every hour (the last round
        then), else the one that met it in most hours (then with fewest vehicle-hours)."""
        return min(self.rounds, key=lambda r: (len(r.missed), r.plan.vehicle_hours))

    @property
    def met(self) -> bool:
        """The chosen shifts met the target in every hour with requests."""
        return not self.final.missed

    def flat(self) -> tuple[int, HourlyService] | None:
        """The smallest tested flat fleet that met the target in every hour, and its service."""
        n = self.estimate.smallest_flat()
        if n is None:
            return None
        return n, self.estimate.runs[self.estimate.sizes.index(n)]

    def fleet_spec(self) -> FleetSpec:
        return self.final.plan.fleet_spec(seats=self.seats, wheelchair_places=self.wheelchair_places)


def plan_fleet(
    scenario: Scenario,
    target: ServiceTarget,
    *,
    sizes: Sequence[int] | None = None,
    seeds: Sequence[int] | None = None,
    lengths: Sequence[int] = tuple(range(4, 11)),
    rounds: int = 5,
    max_vehicles: int | None = None,
    workers: int = 1,
    time_limit_s: float = 10.0,
    progress: Progress | None = None,
) -> FleetPlanResult:
    """The three steps of the module docstring for ``scenario``.

    ``sizes``: the flat fleets to simulate (default :func:`default_sizes` of the scenario's
    fleet); ``seeds``: the days each fleet is simulated on (default the scenario's seed and the
    next); ``rounds``: at most this many plans are simulated (a round whose shifts meet the
    target in every hour ends it early); ``progress(done, total)`` counts simulated days (the
    total assumes every round runs).
    """
    if scenario.subzones is not None:  # their vehicles are per sub-zone, not [fleet]'s
        raise FleetPlanError("subzones", "a split zone's vehicles are set per sub-zone, not by [fleet]",
                             "a scenario without [subzones]")  # fmt: skip
    sizes = sorted(_check_hours(list(sizes) if sizes is not None else default_sizes(scenario.fleet.vehicles),
                                "sizes", 1, 100_000))  # fmt: skip
    if len(set(sizes)) != len(sizes):
        raise FleetPlanError("sizes", f"{sizes} repeats a size", "distinct fleet sizes")
    seeds = list(seeds) if seeds is not None else [scenario.seed, scenario.seed + 1]
    _check_hours(seeds, "seeds", 0, 2**31 - 1)
    if not 1 <= rounds <= 20:
        raise FleetPlanError("rounds", f"got {rounds}", "1 .. 20")
    first, num = planning_hours(scenario)
    if min(_check_hours(list(lengths), "lengths", 1, MAX_HOURS)) > num:  # checked before any day is simulated
        raise FleetPlanError("lengths", f"no shift of {_span(list(lengths))} h fits in the {num} h from "
                             f"{_clock(first)} to {_clock(first + num)}", f"lengths of at most {num} h")  # fmt: skip
    total = (len(sizes) + rounds) * len(seeds)
    done = 0

    def counted(n: int, _: int) -> None:
        if progress:
            progress(done + n, total)

    t0 = time.perf_counter()
    runs = measure_flat(scenario, sizes, seeds, workers=workers, progress=counted)
    done += len(sizes) * len(seeds)
    estimate = need_from_runs(sizes, runs, target)
    if not any(estimate.need):
        raise FleetPlanError("demand", f"no requests between {_clock(first)} and {_clock(first + num)}",
                             "a day with requests")  # fmt: skip
    timings = {"flat_s": time.perf_counter() - t0}
    need = list(estimate.need)
    history: list[PlanRound] = []
    t0 = time.perf_counter()
    for _ in range(rounds):
        plan = plan_shifts(need, lengths, first_hour=first, max_vehicles=max_vehicles, time_limit_s=time_limit_s)
        fleet = plan.fleet_spec(seats=scenario.fleet.seats, wheelchair_places=scenario.fleet.wheelchair_places)
        days = run_days([(with_fleet(scenario, fleet), seed) for seed in seeds], first, num, workers=workers,
                        progress=counted)  # fmt: skip
        done += len(seeds)
        service = HourlyService.pooled(days)
        missed = tuple(first + k for k in range(num) if service.requests[k] and not service.meets(k, target))
        history.append(PlanRound(tuple(need), plan, service, missed))
        if not missed:
            break
        for hour in missed:  # one more vehicle where the shifts fell short, and one at least
            k = hour - first  # in the next hour (a ride asked late in an hour ends in the next)
            need[k] += 1
            if k + 1 < num:
                need[k + 1] = max(need[k + 1], 1)
    timings["rounds_s"] = time.perf_counter() - t0
    if progress:
        progress(total, total)
    return FleetPlanResult(
        scenario.name,
        target,
        tuple(seeds),
        tuple(sorted(set(lengths))),
        estimate,
        tuple(history),
        scenario.fleet.seats,
        scenario.fleet.wheelchair_places,
        timings,
        None if scenario.fleet.shifts else scenario.fleet.vehicles,
    )


# ---------------------------------------------------------------------------- output
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _min(x: float | None) -> str:
    return "-" if x is None else f"{x / 60:.1f}"


def comparison_rows(result: FleetPlanResult) -> list[dict[str, Any]]:
    """The smallest flat fleet that met the target (if one did), the scenario's own flat fleet
    (if simulated) and each round's shifts: vehicles (one per shift), the most on duty at once
    (the minibuses needed if a vehicle can do several shifts), served, p90 wait, hours meeting
    the target, vehicle-hours and vehicle-km per day."""
    rows = []
    flat = result.flat()
    if flat is not None:
        n, svc = flat
        rows.append(_row(f"flat {n} vehicles", n, n, svc, result.target))
    own, est = result.scenario_vehicles, result.estimate
    if own is not None and own in est.sizes and (flat is None or flat[0] != own):
        rows.append(_row(f"flat {own} (the scenario's)", own, own, est.runs[est.sizes.index(own)], result.target))
    for k, rnd in enumerate(result.rounds):
        name = "planned shifts" if len(result.rounds) == 1 else f"shifts, round {k + 1}"
        if len(result.rounds) > 1 and rnd is result.final:
            name += " (chosen)"
        rows.append(_row(name, rnd.plan.vehicles, max(rnd.plan.on_duty), rnd.service, result.target))
    return rows


def _row(name: str, vehicles: int, peak: int, svc: HourlyService, target: ServiceTarget) -> dict[str, Any]:
    return {
        "fleet": name,
        "vehicles": vehicles,
        "peak_on_duty": peak,
        "served": svc.total_served(),
        "p90_wait_s": svc.total_p90_wait_s(),
        "hours_met": f"{svc.hours_met(target)}/{svc.hours_with_requests()}",
        "vehicle_hours": svc.vehicle_hours / svc.days,
        "vehicle_km": svc.vehicle_km / svc.days,
    }


def hour_rows(result: FleetPlanResult) -> list[dict[str, Any]]:
    """Per planning hour: requests per day, the need found, the need planned for at last, the
    vehicles on duty, and the final shifts' served share and p90 wait."""
    est, fin = result.estimate, result.final
    days = fin.service.days
    rows = []
    for k, need in enumerate(est.need):
        rows.append(
            {
                "hour": est.first_hour + k,
                "requests": fin.service.requests[k] / days,
                "need": need,
                "planned_need": fin.need[k],
                "on_duty": fin.plan.on_duty[k],
                "served": fin.service.served(k),
                "p90_wait_s": fin.service.p90_wait_s(k),
                "met": fin.service.meets(k, result.target),
            }
        )
    return rows


def format_plan(result: FleetPlanResult) -> list[str]:
    """Lines for a terminal: the need per hour, the shifts and the comparison table."""
    lines = [f"target: {result.target.describe()}, each hour (seeds {', '.join(map(str, result.seeds))})"]
    lines.append("hour   requests/day  need  on duty  served   p90 wait (min)")
    for r in hour_rows(result):
        if not (r["need"] or r["on_duty"] or r["requests"]):
            continue
        mark = "" if r["met"] else "  << misses the target"
        lines.append(
            f"{_clock(r['hour'])}  {r['requests']:12.1f}  {r['planned_need']:4d}  {r['on_duty']:7d}  "
            f"{_pct(r['served']):>7}  {_min(r['p90_wait_s']):>14}{mark}"
        )
    if result.estimate.unmet:
        hours = ", ".join(_clock(h) for h in result.estimate.unmet)
        lines.append(f"even {result.estimate.sizes[-1]} vehicles missed the target at {hours}: try larger --sizes")
    plan = result.final.plan
    lines.append(f"shifts ({plan.vehicles} vehicles, {plan.vehicle_hours} vehicle-hours"
                 f"{'' if plan.optimal else ', not proven optimal'}):")  # fmt: skip
    for sh in plan.shifts:
        lines.append(f"  {_clock(sh.start_h)}-{_clock(sh.end_h)}  {sh.length_h:2d} h  x {sh.vehicles}")
    lines.append(f"{'fleet':<26} {'shifts':>6} {'peak':>4} {'served':>8} {'p90 wait':>9} {'hours met':>9} "
                 f"{'veh-h':>7} {'veh-km':>8}")  # fmt: skip
    for r in comparison_rows(result):
        lines.append(
            f"{r['fleet']:<26} {r['vehicles']:>6} {r['peak_on_duty']:>4} {_pct(r['served']):>8} "
            f"{_min(r['p90_wait_s']):>5} min "
            f"{r['hours_met']:>9} {r['vehicle_hours']:>7.1f} {r['vehicle_km']:>8.1f}"
        )
    if result.met:
        lines.append("the planned shifts met the target in every hour")
    else:
        hours = ", ".join(_clock(h) for h in result.final.missed)
        lines.append(f"the planned shifts MISSED the target at {hours} (best of {len(result.rounds)} rounds; "
                     "try more --rounds or --seeds)")  # fmt: skip
    return lines


def shifts_toml(result: FleetPlanResult) -> str:
    """A ``[fleet]`` table with the final shifts, to paste into a scenario."""
    plan = result.final.plan
    head = [
        f"# Fleet by time of day for {result.scenario}: {plan.vehicles} vehicles, {plan.vehicle_hours} vehicle-hours,",
        f"# planned for {result.target.describe()} (mobility fleet-plan;"
        f" {'met' if result.met else 'MISSED'} in simulation).",
        "[fleet]",
        f"seats = {result.seats}",
        f"wheelchair_places = {result.wheelchair_places}",
        "shifts = [",
    ]
    body = [f'  {{ start = "{_clock(s.start_h)}", end = "{_clock(s.end_h)}", vehicles = {s.vehicles} }},'
            for s in plan.shifts]  # fmt: skip
    return "\n".join([*head, *body, "]", ""])


def plan_markdown(result: FleetPlanResult) -> str:
    """``fleet_plan.md``: method, need per hour, shifts, rounds and the comparison table."""
    est = result.estimate
    lines = [
        f"# Fleet by time of day: {result.scenario}",
        "",
        f"Target, every hour: {result.target.describe()}. Flat fleets simulated: "
        f"{', '.join(map(str, est.sizes))} vehicles, each on seeds {', '.join(map(str, result.seeds))} (pooled). "
        f"Shift lengths: {_span(result.lengths)} h, on the hour.",
        "",
        "Need of an hour: the smallest simulated flat fleet that met the target for that hour's requests, "
        "with every larger one meeting it too. Shifts: OR-Tools CP-SAT, fewest vehicle-hours, then fewest "
        "vehicles, with on duty >= need every hour. Then the shifts run the same days; an hour that misses "
        "the target gets one more vehicle and the shifts are planned again (see docs/fleet-plan.md).",
        "",
        "| hour | requests/day | need (flat runs) | need planned | on duty | served | p90 wait (min) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in hour_rows(result):
        if not (r["need"] or r["on_duty"] or r["requests"]):
            continue
        flag = "" if r["met"] else " (missed)"
        lines.append(
            f"| {_clock(r['hour'])} | {r['requests']:.1f} | {r['need']} | {r['planned_need']} | {r['on_duty']} | "
            f"{_pct(r['served'])}{flag} | {_min(r['p90_wait_s'])} |"
        )
    plan = result.final.plan
    lines += ["", f"## Shifts: {plan.vehicles} vehicles, {plan.vehicle_hours} vehicle-hours", "",
              "| start | end | hours | vehicles |", "|---|---|---:|---:|"]  # fmt: skip
    lines += [f"| {_clock(s.start_h)} | {_clock(s.end_h)} | {s.length_h} | {s.vehicles} |" for s in plan.shifts]
    lines += ["", "## Flat fleet and planned shifts, simulated (per day, seeds pooled)", "",
              "| fleet | vehicles (shifts) | peak on duty | served | p90 wait (min) | hours meeting the target | "
              "vehicle-hours | vehicle-km |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in comparison_rows(result):
        lines.append(
            f"| {r['fleet']} | {r['vehicles']} | {r['peak_on_duty']} | {_pct(r['served'])} | "
            f"{_min(r['p90_wait_s'])} | {r['hours_met']} | "
            f"{r['vehicle_hours']:.1f} | {r['vehicle_km']:.1f} |"
        )
    lines.append("")
    for k, rnd in enumerate(result.rounds):
        missed = ", ".join(_clock(h) for h in rnd.missed) or "none"
        lines.append(f"- round {k + 1}: {rnd.plan.vehicles} shifts, {rnd.plan.vehicle_hours} vehicle-hours; "
                     f"hours that missed the target: {missed}")  # fmt: skip
    lines.append("")
    if result.met:
        lines.append("The planned shifts met the target in every hour with requests.")
    else:
        hours = ", ".join(_clock(h) for h in result.final.missed)
        lines.append(f"**The planned shifts missed the target at {hours}** (the best of {len(result.rounds)} rounds).")
    if est.unmet:
        lines.append(f"Even the largest flat fleet ({est.sizes[-1]}) missed the target at "
                     f"{', '.join(_clock(h) for h in est.unmet)}.")  # fmt: skip
    lines += ["", "Served share of each flat fleet, by hour:", "",
              "| hour | " + " | ".join(str(n) for n in est.sizes) + " |",
              "|---|" + "---:|" * len(est.sizes)]  # fmt: skip
    for k in range(len(est.need)):
        if not any(run.requests[k] for run in est.runs):
            continue
        cells = []
        for run in est.runs:
            cell = f"{_pct(run.served(k))}, {_min(run.p90_wait_s(k))}"
            cells.append(cell if run.meets(k, result.target) else f"*{cell}*")
        lines.append(f"| {_clock(est.first_hour + k)} | " + " | ".join(cells) + " |")
    lines += ["", "(cells: served, p90 wait in minutes; in italics where the target is missed)", ""]
    return "\n".join(lines)


def plot_plan(result: FleetPlanResult) -> Figure:
    """Need per hour (bars), vehicles on duty (line) and requests per hour (lower panel)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8.0, 5.5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    rows = hour_rows(result)
    hours = np.array([r["hour"] for r in rows], np.float64)
    edges = np.append(hours, hours[-1] + 1)
    top.bar(hours + 0.5, [r["planned_need"] for r in rows], width=0.8, color="#c6d5e8", label="need planned for")
    top.bar(hours + 0.5, [r["need"] for r in rows], width=0.5, color="#4c72b0", label="need (flat-fleet runs)")
    top.stairs([r["on_duty"] for r in rows], edges, color="#c44e52", linewidth=2, label="on duty (shifts)")
    flat = result.flat()
    if flat is not None:
        top.axhline(flat[0], color="grey", linestyle=":", label=f"flat fleet ({flat[0]})")
    missed = [r["hour"] + 0.5 for r in rows if not r["met"]]
    if missed:
        top.plot(missed, [0.2] * len(missed), "v", color="#c44e52", label="missed the target")
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    peak = max([1, *(max(r["planned_need"], r["on_duty"]) for r in rows), *(flat[:1] if flat else [])])
    top.set_ylim(0, 1.45 * peak + 0.5)  # room for the legend above the bars
    top.set_ylabel("vehicles")
    top.legend(loc="upper left", fontsize="small", ncols=3)
    top.set_title(f"Fleet by time of day — {result.scenario} ({result.target.describe()})")
    bottom.bar(hours + 0.5, [r["requests"] for r in rows], width=0.8, color="#8c8c8c")
    bottom.set_ylabel("requests / day")
    bottom.set_xlabel("hour of the day (requests and need counted by requested time)")
    bottom.set_xticks(edges[::2])
    bottom.set_xticklabels([_clock(int(h)) for h in edges[::2]], rotation=45, fontsize="small")
    return fig


def write_plan(result: FleetPlanResult, folder: Path, *, plots: bool = True) -> dict[str, Path]:
    """Write ``fleet_plan.toml``, ``fleet_plan.md``, ``fleet_plan.json`` and (with ``plots``)
    ``fleet_plan.png`` into ``folder``; return them by name."""
    import json

    from .report import json_safe

    folder.mkdir(parents=True, exist_ok=True)
    files = {"toml": folder / "fleet_plan.toml", "markdown": folder / "fleet_plan.md",
             "json": folder / "fleet_plan.json"}  # fmt: skip
    files["toml"].write_text(shifts_toml(result), encoding="utf-8")
    files["markdown"].write_text(plan_markdown(result), encoding="utf-8")
    data = {
        "scenario": result.scenario,
        "target": {"served": result.target.served, "p90_wait_s": result.target.p90_wait_s},
        "seeds": result.seeds,
        "lengths_h": result.lengths,
        "flat_sizes": result.estimate.sizes,
        "hours": hour_rows(result),
        "shifts": [{"start_h": s.start_h, "end_h": s.end_h, "vehicles": s.vehicles} for s in result.final.plan.shifts],
        "comparison": comparison_rows(result),
        "met": result.met,
        "rounds": len(result.rounds),
        "timings": result.timings,
    }
    files["json"].write_text(json.dumps(json_safe(data), indent=2), encoding="utf-8")
    if plots:
        files["plot"] = folder / "fleet_plan.png"
        plot_plan(result).savefig(files["plot"], format="png")
    return files
