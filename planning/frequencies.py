"""Headways for a route set and a fleet: the square-root rule, and the waiting it implies.

The rule. A route ``r`` with ``n_r`` vehicles and a round trip of ``T_r`` minutes runs every
``h_r = T_r / n_r`` minutes; a passenger boarding it waits half a headway on average (random
arrivals). With ``B_r`` boardings per day, the day's total wait is ``sum_r B_r T_r / (2 n_r)``.
For a fleet of ``N`` vehicles, the continuous minimum of that sum is ``n_r`` proportional to
``sqrt(B_r T_r)``: the classic square-root rule. :func:`set_frequencies` keeps it in whole
vehicles: each route first gets the vehicles it needs to run at least every
``max_headway_min`` (at least one), then the remaining vehicles go one at a time to the route
where one more vehicle saves the most waiting, ``B_r T_r / 2 * (1/n - 1/(n + 1))``. A greedy
allocation is exact for this objective (each route's wait is convex and decreasing in its
vehicles), so the result is the whole-vehicle optimum. A route takes no more vehicles than
would bring its headway below ``min_headway_min`` (unless no whole number of vehicles puts it
between the two limits: then it keeps the fewest within ``max_headway_min``); when every route
is there, the rest of the fleet is left unused (``vehicles.sum() < fleet``).

Round trip: the route's time forwards plus its time backwards over the links, plus
``layover_min`` at each terminal.

Waiting and ATT. ``boardings`` come from the evaluation's loads (a journey with one transfer
boards twice, and waits twice). The mean wait per trip is the day's total wait over the trips
that have a journey. ``att_min`` is the benchmark's ATT (in-vehicle time plus the transfer
penalty, no waiting); ``att_with_wait_min`` adds the mean wait per trip to it (the transfer
penalty stays: it stands for the inconvenience of changing, not the wait).

Demand period and capacity. The benchmark's demand (and the planning demand) is trips per day;
one headway per route is set for the whole service day. The capacity check takes
``peak_hour_share`` of the day's trips (10 % by default, a usual peak-hour share of daily
public-transport trips) as the peak hour: a route's peak-hour load is that share of its busiest
link and direction's daily load, its capacity per hour ``vehicle_capacity * 60 / h_r``.
Routes whose load exceeds their capacity are listed in ``overloaded``; the headways are not
changed for it (a check, not a constraint).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError
from .evaluate import Evaluation, Evaluator
from .problem import TransitProblem
from .routeset import RouteSet, validate_route_set

#: Default share of the day's trips that travel in the peak hour (for the capacity check).
PEAK_HOUR_SHARE = 0.10
#: Default places (seated and standing) per vehicle, a 12 m city bus.
VEHICLE_CAPACITY = 70.0


@dataclass(frozen=True)
class Frequencies:
    """Headways of a route set for a fleet (see the module docstring). Per-route arrays follow
    the route set's order; times in minutes; loads per day unless named per hour."""

    headway_min: NDArray[np.float64]
    vehicles: NDArray[np.int64]
    round_trip_min: NDArray[np.float64]
    wait_min_per_trip: float
    att_min: float
    att_with_wait_min: float
    fleet: int = 0
    boardings: NDArray[np.float64] | None = None
    peak_hour_share: float = PEAK_HOUR_SHARE
    vehicle_capacity: float = VEHICLE_CAPACITY
    #: peak-hour passengers on the route's busiest link and direction
    peak_load_per_hour: NDArray[np.float64] | None = None
    #: places per hour the headway offers (``vehicle_capacity * 60 / headway``)
    capacity_per_hour: NDArray[np.float64] | None = None

    @property
    def mean_headway_min(self) -> float:
        """The plain mean of the routes' headways."""
        return float(self.headway_min.mean()) if self.headway_min.size else math.nan

    @property
    def overloaded(self) -> tuple[int, ...]:
        """Indices of routes whose peak-hour load exceeds their capacity per hour."""
        if self.peak_load_per_hour is None or self.capacity_per_hour is None:
            return ()
        return tuple(int(k) for k in np.flatnonzero(self.peak_load_per_hour > self.capacity_per_hour + 1e-9))

    def to_dict(self) -> dict[str, Any]:
        routes = []
        for k in range(self.headway_min.size):
            row: dict[str, Any] = {
                "headway_min": float(self.headway_min[k]),
                "vehicles": int(self.vehicles[k]),
                "round_trip_min": float(self.round_trip_min[k]),
            }
            if self.boardings is not None:
                row["boardings_per_day"] = float(self.boardings[k])
            if self.peak_load_per_hour is not None and self.capacity_per_hour is not None:
                row["peak_load_per_hour"] = float(self.peak_load_per_hour[k])
                row["capacity_per_hour"] = float(self.capacity_per_hour[k])
            routes.append(row)
        return {
            "fleet": self.fleet,
            "vehicles_used": int(self.vehicles.sum()),
            "mean_headway_min": self.mean_headway_min,
            "wait_min_per_trip": self.wait_min_per_trip,
            "att_min_without_wait": self.att_min,
            "att_min_with_wait": self.att_with_wait_min,
            "peak_hour_share": self.peak_hour_share,
            "vehicle_capacity": self.vehicle_capacity,
            "overloaded_routes": [k + 1 for k in self.overloaded],
            "routes": routes,
        }


def round_trip_min(problem: TransitProblem, routes: RouteSet, layover_min: float = 5.0) -> NDArray[np.float64]:
    """Per route: its time forwards and backwards over the links plus a layover at each end."""
    t = problem.link_time_min
    out = np.empty(len(routes), np.float64)
    for k, r in enumerate(routes):
        out[k] = float(t[r[:-1], r[1:]].sum() + t[r[1:], r[:-1]].sum()) + 2.0 * layover_min
    return out


def served_trips(problem: TransitProblem, evaluation: Evaluation) -> float:
    """Trips per day that have a journey under the evaluated route set."""
    return problem.total_demand * (1.0 - evaluation.unserved)


def wait_min_per_trip(
    problem: TransitProblem, evaluation: Evaluation, headway_min: Sequence[float] | NDArray[np.float64]
) -> float:
    """The mean wait per trip (minutes) that ``headway_min`` implies: half a headway per
    boarding, summed over the evaluation's boardings, over the trips that have a journey.
    ``evaluation`` must come from ``evaluate(routes, loads=True)``."""
    boardings = _boardings(evaluation)
    h = np.asarray(headway_min, np.float64).reshape(-1)
    if h.shape != boardings.shape:
        raise InvalidArgumentError(
            "headway_min", f"got {h.size} headways for {boardings.size} routes", "one headway per route"
        )
    if not (np.isfinite(h) & (h > 0)).all():
        raise InvalidArgumentError("headway_min", "has a zero, negative or missing headway", "> 0 minutes per route")
    served = served_trips(problem, evaluation)
    return float((boardings * h / 2.0).sum() / served) if served > 0 else 0.0


def _boardings(evaluation: Evaluation) -> NDArray[np.float64]:
    if evaluation.boardings is None or evaluation.link_load is None:
        raise InvalidArgumentError(
            "evaluation", "has no route loads", "an Evaluation from Evaluator.evaluate(routes, loads=True)"
        )
    return np.asarray(evaluation.boardings, np.float64)


def _positive(name: str, value: Any, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(name, f"got {value!r}", f"a number > 0 and <= {hi:g}")
    v = float(value)
    if not (v > 0 and v <= hi):
        raise InvalidArgumentError(name, f"got {value!r}", f"> 0 and <= {hi:g}")
    return v


def set_frequencies(
    problem: TransitProblem,
    routes: RouteSet | Sequence[Sequence[int]],
    *,
    fleet: int,
    evaluation: Evaluation | None = None,
    layover_min: float = 5.0,
    min_headway_min: float = 2.0,
    max_headway_min: float = 60.0,
    peak_hour_share: float = PEAK_HOUR_SHARE,
    vehicle_capacity: float = VEHICLE_CAPACITY,
) -> Frequencies:
    """Headways per route for ``fleet`` vehicles by the square-root rule in whole vehicles (see
    the module docstring), with the waiting time they imply and the peak-hour capacity check.

    ``evaluation`` is the route set's ``Evaluator.evaluate(routes, loads=True)`` (computed here
    when not given). The fleet must at least run every route every ``max_headway_min``:
    ``InvalidArgumentError`` naming ``fleet`` and the vehicles needed otherwise.
    """
    rs = validate_route_set(problem, routes)
    if isinstance(fleet, bool) or not isinstance(fleet, int | np.integer) or fleet < 1:
        raise InvalidArgumentError("fleet", f"got {fleet!r}", "a whole number of vehicles >= the number of routes")
    if isinstance(layover_min, bool) or not isinstance(layover_min, int | float) or not 0 <= layover_min <= 600:
        raise InvalidArgumentError("layover_min", f"got {layover_min!r}", "0 .. 600 minutes")
    lo_h = _positive("min_headway_min", min_headway_min, 1440)
    hi_h = _positive("max_headway_min", max_headway_min, 1440)
    if hi_h < lo_h:
        got = f"got {max_headway_min!r}, below min_headway_min {min_headway_min!r}"
        raise InvalidArgumentError("max_headway_min", got, ">= min_headway_min")
    share = _positive("peak_hour_share", peak_hour_share, 1.0)
    capacity = _positive("vehicle_capacity", vehicle_capacity, 10_000)
    if evaluation is None:
        evaluation = Evaluator(problem).evaluate(rs, loads=True)
    boardings = _boardings(evaluation)
    if boardings.size != len(rs):
        raise InvalidArgumentError("evaluation", f"has {boardings.size} routes, the route set {len(rs)}",
                                   "the evaluation of the same route set")  # fmt: skip
    rt = round_trip_min(problem, rs, float(layover_min))
    vehicles = allocate_vehicles(boardings * rt, rt, int(fleet), min_headway_min=lo_h, max_headway_min=hi_h)
    headway = rt / vehicles
    wait = wait_min_per_trip(problem, evaluation, headway)
    assert evaluation.link_load is not None
    peak_link = np.array([float(ll.max()) if ll.size else 0.0 for ll in evaluation.link_load], np.float64)
    return Frequencies(
        headway_min=headway,
        vehicles=vehicles,
        round_trip_min=rt,
        wait_min_per_trip=wait,
        att_min=evaluation.att_min,
        att_with_wait_min=evaluation.att_min + wait,
        fleet=int(fleet),
        boardings=boardings.copy(),
        peak_hour_share=share,
        vehicle_capacity=capacity,
        peak_load_per_hour=share * peak_link,
        capacity_per_hour=capacity * 60.0 / headway,
    )


def allocate_vehicles(
    weight: NDArray[np.float64],
    round_trip: NDArray[np.float64],
    fleet: int,
    *,
    min_headway_min: float,
    max_headway_min: float,
) -> NDArray[np.int64]:
    """Whole vehicles per route minimising ``sum(weight / vehicles)`` (``weight`` = boardings
    times round trip: the day's wait is half that sum) for at most ``fleet`` vehicles, each
    route between the vehicles for ``max_headway_min`` (at least 1) and those for
    ``min_headway_min`` (see the module docstring)."""
    lower = np.maximum(1, np.ceil(round_trip / max_headway_min - 1e-9)).astype(np.int64)
    upper = np.maximum(lower, np.floor(round_trip / min_headway_min + 1e-9).astype(np.int64))
    need = int(lower.sum())
    if fleet < need:
        raise InvalidArgumentError(
            "fleet", f"got {fleet}; running all {lower.size} routes at least every {max_headway_min:g} min "
            f"takes {need} vehicles", f">= {need} (or a longer max_headway_min)",
        )  # fmt: skip
    n = lower.copy()
    heap = [(-_gain(float(weight[k]), int(n[k])), k) for k in range(n.size) if n[k] < upper[k]]
    heapq.heapify(heap)
    left = fleet - need
    while left > 0 and heap:
        _, k = heapq.heappop(heap)
        n[k] += 1
        left -= 1
        if n[k] < upper[k]:
            heapq.heappush(heap, (-_gain(float(weight[k]), int(n[k])), k))
    return n


def _gain(weight: float, n: int) -> float:
    return weight * (1.0 / n - 1.0 / (n + 1))
