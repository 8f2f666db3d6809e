"""PyVRP 0.14 as the PDPTW (Li & Lim) peer.

PyVRP 0.14 models paired pickup and delivery as **shipments** (``pyvrp.Shipment``: a pickup
step and a delivery step, each with a location, a time window and a service duration, and an
amount loaded at the pickup and unloaded at the delivery, on the same route, pickup first).
The model built here, with every time and cost scaled by :data:`~benchmarks.peers.SCALE` and
rounded as for the OR-Tools peer (travel and service times and opening times up, closing
times and limits down, distances to the nearest integer):

* **Locations**: one per node of the problem, ``travel_cost`` as the distance matrix and
  ``travel_time`` as the duration matrix (PyVRP adds the service durations itself).
* **Depots**: one per start or end node used by a vehicle, with that node's time window.
* **Requests**: one required shipment per request (pickup node, delivery node, their windows
  and services, the pickup's demand as the amount in every load dimension).
* **Vehicles**: vehicles with equal start, end, capacity, start load and duration limit form
  one vehicle type (``num_available`` of them), with the start node's opening time and the
  end node's closing time as its shift window and ``max_duration`` as its shift duration.
* **Objective**: with ``objective == "vehicles"`` every vehicle type has a fixed cost larger
  than any possible total distance, so fewer vehicles always win and distance breaks ties;
  with ``objective == "cost"`` no fixed cost.

PyVRP has no ride-time limits, open routes or on-board/pinned requests: problems with any
of those raise :class:`~routing.errors.InvalidArgumentError`. The search is PyVRP's default
iterated local search (one thread) with ``MaxRuntime(time_limit_s)`` and the given seed.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from routing.errors import InvalidArgumentError
from routing.problem import PDProblem

from . import PeerResult, check_time_limit, judged, scale_down, scale_round, scale_up

#: Largest time PyVRP accepts as "no limit" (its default for open windows).
_NO_LIMIT = int(np.iinfo(np.int64).max)


def _import_pyvrp() -> Any:
    try:
        import pyvrp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the PyVRP peer needs the 'pyvrp' package (pip install pyvrp==0.14.0)") from exc
    return pyvrp


def _check_supported(problem: PDProblem) -> None:
    unsupported = [
        (bool(np.isfinite(problem.max_ride).any()), "ride-time limits (max_ride)"),
        (bool((problem.vehicle_end < 0).any()), "open routes (vehicle_end -1)"),
        (bool((problem.pickup < 0).any()), "requests already on board (pickup -1)"),
        (bool((problem.request_vehicle >= 0).any()), "requests pinned to a vehicle"),
        (bool((problem.start_load > 0).any()), "vehicles starting with a load"),
    ]
    for bad, what in unsupported:
        if bad:
            raise InvalidArgumentError("problem", f"{what} are not supported by the PyVRP peer", "PDPTW problems")


def _early(value: float) -> int:
    return int(scale_up(np.array([value]))[0]) if math.isfinite(value) else 0


def _late(value: float) -> int:
    return int(scale_down(np.array([value]))[0]) if math.isfinite(value) else _NO_LIMIT


def _vehicle_groups(problem: PDProblem) -> list[tuple[tuple[Any, ...], list[int]]]:
    """Vehicles grouped by everything a PyVRP vehicle type fixes, in order of first vehicle."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for v in range(problem.num_vehicles):
        key = (
            int(problem.vehicle_start[v]),
            int(problem.vehicle_end[v]),
            tuple(int(c) for c in problem.capacity[v]),
            float(problem.max_duration[v]),
        )
        groups.setdefault(key, []).append(v)
    return list(groups.items())


def _fixed_cost(problem: PDProblem, distances: np.ndarray) -> int:
    if problem.objective != "vehicles":
        return 0
    return int(distances.max(initial=0)) * (problem.num_nodes + problem.num_vehicles) + 1


def _build(pyvrp: Any, problem: PDProblem) -> tuple[Any, list[list[int]]]:
    """PyVRP's problem data, and the vehicles of each vehicle type."""
    locations = [pyvrp.Location(x=0.0, y=0.0, name=str(node)) for node in range(problem.num_nodes)]
    groups = _vehicle_groups(problem)
    depot_nodes = sorted({key[0] for key, _ in groups} | {key[1] for key, _ in groups})
    depot_of = {node: i for i, node in enumerate(depot_nodes)}
    depots = [
        pyvrp.Depot(location=node, tw_early=_early(problem.tw_early[node]), tw_late=_late(problem.tw_late[node]))
        for node in depot_nodes
    ]
    service = scale_up(problem.service)
    shipments = []
    for q in range(problem.num_requests):
        p, d = int(problem.pickup[q]), int(problem.delivery[q])
        shipments.append(
            pyvrp.Shipment(
                pickup_location=p,
                delivery_location=d,
                pickup_tw_early=_early(problem.tw_early[p]),
                pickup_tw_late=_late(problem.tw_late[p]),
                pickup_service_duration=int(service[p]),
                delivery_tw_early=_early(problem.tw_early[d]),
                delivery_tw_late=_late(problem.tw_late[d]),
                delivery_service_duration=int(service[d]),
                amount=[int(a) for a in problem.demand[p]],
                name=f"request {q}",
            )
        )
    distances = scale_round(problem.travel_cost)
    durations = scale_up(problem.travel_time)
    fixed = _fixed_cost(problem, distances)
    vehicle_types = []
    for (start, end, capacity, duration), members in groups:
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=list(capacity),
                start_depot=depot_of[start],
                end_depot=depot_of[end],
                fixed_cost=fixed,
                tw_early=_early(problem.tw_early[start]),
                tw_late=_late(problem.tw_late[end]),
                shift_duration=_late(duration),
            )
        )
    data = pyvrp.ProblemData(locations, [], depots, vehicle_types, [distances], [durations], [], shipments)
    return data, [members for _, members in groups]


def _routes(problem: PDProblem, solution: Any, members: list[list[int]]) -> list[list[int]]:
    """The solution's routes by vehicle of our problem (vehicle types' members in order)."""
    routes: list[list[int]] = [[] for _ in range(problem.num_vehicles)]
    next_member = [0] * len(members)
    for route in solution.routes():
        kind = route.vehicle_type()
        vehicle = members[kind][next_member[kind]]
        next_member[kind] += 1
        stops = []
        for activity in route:
            if activity.is_pickup():
                stops.append(int(problem.pickup[activity.idx]))
            elif activity.is_delivery():
                stops.append(int(problem.delivery[activity.idx]))
        routes[vehicle] = stops
    return routes


def solve_with_pyvrp(problem: PDProblem, time_limit_s: float, seed: int = 0) -> PeerResult:
    """Solve a PDPTW with PyVRP 0.14 (see the module docstring); routes judged by the checker.

    The runtime covers building the data and the search.
    """
    limit = check_time_limit(time_limit_s)
    _check_supported(problem)
    pyvrp = _import_pyvrp()
    from pyvrp.stop import MaxRuntime

    started = time.perf_counter()
    data, members = _build(pyvrp, problem)
    result = pyvrp.solve(data, stop=MaxRuntime(limit), seed=seed, collect_stats=False, display=False)
    best = result.best
    status = "feasible" if best.is_feasible() else "infeasible (penalised: time warp, excess load or missing)"
    return judged(problem, _routes(problem, best, members), time.perf_counter() - started, status)
