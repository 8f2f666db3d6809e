"""An independent feasibility checker for pickup-and-delivery solutions.

Deliberately separate from the solvers: plain Python and numpy, nothing from the routing
kernels, only the :class:`~routing.problem.PDProblem` data class. It judges any solution,
ours or a peer's, by the same rules.

A solution is a list of routes: route ``k`` is driven by vehicle ``k`` and lists the node
ids it visits in order, **without** the depots (the vehicle's ``vehicle_start`` comes first
and its ``vehicle_end``, unless -1, last). Vehicles without a route, or with an empty one,
are unused. The checks:

* **Structure**: at most ``num_vehicles`` routes; every entry a known node that is not a
  depot; no node visited twice; every request served once, its pickup before its delivery
  on one route; a request already on board (``pickup == -1``) delivered by its own vehicle;
  a pinned request (``request_vehicle >= 0``) served by that vehicle.
* **Capacity**: in every dimension, the load (``start_load`` plus the demands so far)
  stays within ``0 .. capacity`` after every stop.
* **Time**: whether *some* schedule of service start times ``B`` meets every constraint at
  once. Waiting is allowed, so this is not a forward pass: a ride-time limit may force the
  vehicle to wait *before* a pickup. The constraints form a system of difference
  constraints, decided exactly by Bellman-Ford:

  - precedence, stop ``k`` then ``k+1``: ``B[k+1] - B[k] >= service[k] + time(k, k+1)``;
  - time windows: ``tw_early[i] <= B[i] <= tw_late[i]``;
  - ride time of a request: ``B[d] - (B[p] + service[p]) <= max_ride``;
  - route duration: ``B[end] - B[start] <= max_duration`` (for an open route, the last
    stop's service start stands for ``B[end]``).

  Each ``x_j - x_i <= w`` is an arc ``i -> j`` of weight ``w``; a negative cycle means no
  schedule exists, and its arcs are the conflicting constraints. Otherwise the shortest
  distances on the reversed graph give the **earliest** feasible schedule (the least
  solution of the system), which is reported. Upper bounds (late windows, ride and
  duration limits) are relaxed by ``tol``.

The cost is the total ``travel_cost`` of every route's legs, from the start depot through
the stops to the end depot (none for an open route); an empty route costs nothing.

**Locations.** The matrices are indexed by location, not by node: a leg from node ``a`` to
node ``b`` takes ``travel_time[node_location[a], node_location[b]]`` and costs
``travel_cost[node_location[a], node_location[b]]``. In benchmark instances every node is
its own location (``node_location[i] == i``); in the live dispatcher's re-optimisation
subproblems many nodes share a stop (a vehicle's start, the pickups and drop-offs there), and
the matrix is the stop-by-stop one, smaller than the number of nodes.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import InvalidArgumentError, NetworkFileError
from routing.problem import DELIVERY, END, PICKUP, START, PDProblem

_KIND_NAMES = {START: "start depot", END: "end depot", PICKUP: "pickup", DELIVERY: "delivery"}


@dataclass
class CheckReport:
    """The verdict on a solution.

    Attributes:
        feasible: no violation was found.
        cost: total travel cost (legs from the start depot to the end depot; empty routes 0).
        num_vehicles: routes with at least one stop.
        violations: one human-readable line per broken constraint, naming the route, the
            node and the amounts.
        schedules: per route, the service start times at the start depot, every stop and
            the end depot (no end entry for an open route; empty for an empty route). For a
            route whose times are feasible, the earliest feasible schedule; otherwise the
            forward schedule that respects only travel times and opening times.
        warnings: remarks that do not make the solution infeasible (a solution file whose
            claimed cost, vehicle count or verdict differs from the checker's).
    """

    feasible: bool
    cost: float
    num_vehicles: int
    violations: list[str]
    schedules: list[list[float]]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Arc:
    """Constraint ``x[head] - x[tail] <= weight + slack`` between schedule positions."""

    tail: int
    head: int
    weight: float
    slack: float
    label: str  # empty for precedence arcs


# ---------------------------------------------------------------------------- helpers
def _node_name(problem: PDProblem, node: int) -> str:
    return f"node {node} ({_KIND_NAMES.get(int(problem.kind[node]), 'node')})"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _leg_time(problem: PDProblem, a: int, b: int) -> float:
    """Travel time from node ``a`` to node ``b``: the matrix is indexed by their locations."""
    loc = problem.node_location
    return float(problem.travel_time[loc[a], loc[b]])


def _leg_cost(problem: PDProblem, a: int, b: int) -> float:
    """Travel cost from node ``a`` to node ``b`` (by location, as :func:`_leg_time`)."""
    loc = problem.node_location
    return float(problem.travel_cost[loc[a], loc[b]])


def _as_node(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        return None
    return int(value)


def _as_lists(routes: Iterable[Iterable[Any]]) -> list[list[Any]]:
    """The routes as lists (any iterables of ids, numpy arrays included)."""
    if isinstance(routes, (str, bytes)):
        raise InvalidArgumentError("routes", "expected a list of routes, each a list of node ids")
    try:
        out = [list(route) for route in routes]
    except TypeError:
        raise InvalidArgumentError("routes", "expected a list of routes, each a list of node ids") from None
    if any(isinstance(route, (str, bytes)) for route in routes):
        raise InvalidArgumentError("routes", "expected a list of routes, each a list of node ids")
    return out


def _clean_routes(problem: PDProblem, routes: list[list[Any]], out: list[str]) -> list[list[int]]:
    """Each route's valid stops (known, non-depot nodes); reports every other entry."""
    if len(routes) > problem.num_vehicles:
        out.append(f"{len(routes)} routes but the problem has {problem.num_vehicles} vehicles")
    clean: list[list[int]] = []
    for r, route in enumerate(routes):
        stops: list[int] = []
        for pos, value in enumerate(route):
            node = _as_node(value)
            if node is None:
                out.append(f"route {r}, position {pos}: {value!r} is not a node id")
            elif not 0 <= node < problem.num_nodes:
                out.append(f"route {r}, position {pos}: unknown node {node} (allowed: 0 .. {problem.num_nodes - 1})")
            elif problem.kind[node] in (START, END):
                out.append(
                    f"route {r}, position {pos}: {_node_name(problem, node)} is a depot; routes leave depots out"
                )
            else:
                stops.append(node)
        clean.append(stops)
    return clean


def _visits(clean: list[list[int]], out: list[str]) -> dict[int, tuple[int, int]]:
    """Where each node is first visited, ``node -> (route, position)``; reports repeated visits."""
    seen: dict[int, tuple[int, int]] = {}
    for r, stops in enumerate(clean):
        for pos, node in enumerate(stops):
            if node in seen:
                r0, p0 = seen[node]
                out.append(f"node {node} visited twice: route {r} position {pos}, and route {r0} position {p0}")
            else:
                seen[node] = (r, pos)
    return seen


def _check_requests(problem: PDProblem, seen: dict[int, tuple[int, int]], out: list[str]) -> None:
    for q in range(problem.num_requests):
        p, d, pinned = int(problem.pickup[q]), int(problem.delivery[q]), int(problem.request_vehicle[q])
        at_d = seen.get(d)
        if p < 0:
            if at_d is None:
                out.append(f"request {q} (on board vehicle {pinned}) is not delivered: node {d} is not visited")
            elif at_d[0] != pinned:
                out.append(f"request {q} is on board vehicle {pinned} but delivered (node {d}) by route {at_d[0]}")
            continue
        at_p = seen.get(p)
        if at_p is None and at_d is None:
            out.append(f"request {q} (pickup node {p}, delivery node {d}) is not served")
        elif at_p is None or at_d is None:
            done, missing = (p, d) if at_p is not None else (d, p)
            r, pos = seen[done]
            out.append(f"request {q}: node {done} is on route {r} (position {pos}) but node {missing} is not")
        elif at_p[0] != at_d[0]:
            out.append(f"request {q}: pickup node {p} is on route {at_p[0]} but delivery node {d} on route {at_d[0]}")
        elif at_p[1] > at_d[1]:
            out.append(
                f"route {at_p[0]}: request {q} is delivered (node {d}, position {at_d[1]}) before it is picked up "
                f"(node {p}, position {at_p[1]})"
            )
        elif pinned >= 0 and at_p[0] != pinned:
            out.append(f"request {q} is pinned to vehicle {pinned} but served by route {at_p[0]}")


def _check_capacity(problem: PDProblem, vehicle: int, stops: list[int], out: list[str]) -> None:
    load = problem.start_load[vehicle].astype(np.int64).copy()
    cap = problem.capacity[vehicle]
    over = np.zeros(problem.num_dims, bool)
    for pos, node in enumerate(stops):
        load += problem.demand[node]
        for dim in range(problem.num_dims):
            bad = load[dim] > cap[dim] or load[dim] < 0
            if bad and not over[dim]:
                what = f"exceeds capacity {cap[dim]}" if load[dim] > cap[dim] else "is negative"
                out.append(
                    f"route {vehicle}: capacity violated at node {node} (position {pos}): load {load[dim]} {what}"
                    f" in dimension {dim}"
                )
            over[dim] = bad


def _route_cost(problem: PDProblem, vehicle: int, stops: list[int]) -> float:
    if not stops:
        return 0.0
    path = [int(problem.vehicle_start[vehicle]), *stops]
    end = int(problem.vehicle_end[vehicle])
    if end >= 0:
        path.append(end)
    return float(sum(_leg_cost(problem, a, b) for a, b in itertools.pairwise(path)))


# ---------------------------------------------------------------------------- schedules
def _route_nodes(problem: PDProblem, vehicle: int, stops: list[int]) -> list[int]:
    end = int(problem.vehicle_end[vehicle])
    return [int(problem.vehicle_start[vehicle]), *stops] + ([end] if end >= 0 else [])


def _arcs(problem: PDProblem, vehicle: int, nodes: list[int], tol: float) -> list[_Arc]:
    """The route's difference constraints; position ``len(nodes)`` is time zero."""
    zero = len(nodes)
    arcs: list[_Arc] = []
    # Windows first, then the legs in route order: Bellman-Ford's first pass is then the forward schedule.
    for k, node in enumerate(nodes):
        window = f"time window [{_fmt(problem.tw_early[node])}, {_fmt(problem.tw_late[node])}] of node {node}"
        if math.isfinite(problem.tw_late[node]):
            arcs.append(_Arc(zero, k, float(problem.tw_late[node]), tol, window))
        if math.isfinite(problem.tw_early[node]):
            arcs.append(_Arc(k, zero, -float(problem.tw_early[node]), 0.0, window))
    for k, (a, b) in enumerate(itertools.pairwise(nodes)):
        arcs.append(_Arc(k + 1, k, -float(problem.service[a] + _leg_time(problem, a, b)), 0.0, ""))
    position: dict[int, int] = {}
    for k, node in enumerate(nodes):
        position.setdefault(node, k)
    request = problem.request_of_node()
    for k, node in enumerate(nodes[1:], start=1):
        q = int(request[node])
        if q < 0 or problem.kind[node] != PICKUP or not math.isfinite(problem.max_ride[q]):
            continue
        d = int(problem.delivery[q])
        if d in position and position[d] > k:
            limit = float(problem.max_ride[q]) + float(problem.service[node])
            label = f"max ride time {_fmt(problem.max_ride[q])} of request {q} (node {node} -> node {d})"
            arcs.append(_Arc(k, position[d], limit, tol, label))
    if math.isfinite(problem.max_duration[vehicle]) and len(nodes) > 1:
        label = f"max route duration {_fmt(problem.max_duration[vehicle])} of vehicle {vehicle}"
        arcs.append(_Arc(0, len(nodes) - 1, float(problem.max_duration[vehicle]), tol, label))
    return arcs


def _bellman_ford(size: int, arcs: list[tuple[int, int, float]], source: int) -> tuple[list[float], list[int] | None]:
    """Shortest distances from ``source``; the arc indices of a negative cycle if there is one."""
    dist = [math.inf] * size
    dist[source] = 0.0
    pred = [-1] * size
    last = -1
    for _ in range(size):
        last = -1
        for index, (u, v, w) in enumerate(arcs):
            if dist[u] + w < dist[v]:
                dist[v] = dist[u] + w
                pred[v] = index
                last = v
        if last < 0:
            return dist, None
    for _ in range(size):  # walk back far enough to stand on the cycle
        if pred[last] < 0:
            return dist, []
        last = arcs[pred[last]][0]
    cycle: list[int] = []
    node = last
    while pred[node] >= 0 and len(cycle) <= size:
        cycle.append(pred[node])
        node = arcs[pred[node]][0]
        if node == last:
            break
    return dist, cycle[::-1]


def _earliest(arcs: list[_Arc], size: int, relaxed: bool) -> tuple[list[float] | None, list[int] | None]:
    """The least solution of the system (``x[zero] = 0``), or the arcs of a negative cycle.

    ``relaxed`` adds each arc's slack (the tolerance) to its weight.
    """
    zero = size - 1
    # x_h - x_t <= w  is  (-x_t) - (-x_h) <= w: an arc h -> t for y = -x, whose greatest solution is shortest paths.
    reverse = [(a.head, a.tail, a.weight + (a.slack if relaxed else 0.0)) for a in arcs]
    dist, cycle = _bellman_ford(size, reverse, zero)
    if cycle is not None:
        return None, cycle
    if math.isinf(dist[0]):  # the start has no lower bound: fix it at min(0, its latest time)
        forward = [(v, u, w) for u, v, w in reverse]
        latest, _ = _bellman_ford(size, forward, zero)
        start = min(0.0, latest[0])
        pinned = [*reverse, (0, zero, start), (zero, 0, -start)]
        dist, _ = _bellman_ford(size, pinned, zero)
    return [0.0 - d for d in dist[:-1]], None


def _forward_schedule(problem: PDProblem, nodes: list[int]) -> list[float]:
    """Service starts when the vehicle leaves the depot at its opening time and never waits longer than needed."""
    first = float(problem.tw_early[nodes[0]])
    times = [first if math.isfinite(first) else min(0.0, float(problem.tw_late[nodes[0]]))]
    for a, b in itertools.pairwise(nodes):
        times.append(max(float(problem.tw_early[b]), times[-1] + float(problem.service[a]) + _leg_time(problem, a, b)))
    return times


def _explain_times(
    problem: PDProblem, vehicle: int, nodes: list[int], arcs: list[_Arc], cycle: list[int], tol: float
) -> list[str]:
    """Readable reasons why a route has no feasible schedule (at least one line)."""
    out: list[str] = []
    times = _forward_schedule(problem, nodes)
    closed = problem.vehicle_end[vehicle] >= 0
    for k, node in enumerate(nodes):
        if times[k] > problem.tw_late[node] + tol:
            where = "start depot" if k == 0 else "end depot" if closed and k == len(nodes) - 1 else f"position {k - 1}"
            out.append(
                f"route {vehicle}: time window violated at node {node} ({where}): service cannot start "
                f"before {_fmt(times[k])}, after the window [{_fmt(problem.tw_early[node])}, "
                f"{_fmt(problem.tw_late[node])}] closes (late by {_fmt(times[k] - problem.tw_late[node])})"
            )
    out.extend(_lower_bound_breaches(problem, vehicle, nodes, arcs))
    if not out:
        labels = list(dict.fromkeys(arcs[i].label for i in cycle if arcs[i].label))
        shortfall = -sum(arcs[i].weight for i in cycle)
        out.append(
            f"route {vehicle}: no schedule meets these constraints together (with the travel and service times "
            f"between the stops; short by {_fmt(shortfall)}): " + "; ".join(labels)
        )
    return out


def _lower_bound_breaches(problem: PDProblem, vehicle: int, nodes: list[int], arcs: list[_Arc]) -> list[str]:
    """Ride and duration limits broken even without any waiting."""
    out: list[str] = []
    step = [0.0]
    for a, b in itertools.pairwise(nodes):
        step.append(step[-1] + float(problem.service[a]) + _leg_time(problem, a, b))
    for arc in arcs:
        if not arc.label or arc.tail == len(nodes) or arc.head == len(nodes):
            continue
        least = step[arc.head] - step[arc.tail]
        if least > arc.weight + arc.slack:
            node_t, node_h = nodes[arc.tail], nodes[arc.head]
            if arc.label.startswith("max ride"):
                least -= problem.service[node_t]
                limit = arc.weight - problem.service[node_t]
                what = f"ride from node {node_t} to node {node_h} takes at least {_fmt(least)}"
            else:
                limit = arc.weight
                what = f"the route takes at least {_fmt(least)}"
            out.append(f"route {vehicle}: {arc.label} violated: {what} > {_fmt(limit)}")
    return out


def _check_times(problem: PDProblem, vehicle: int, stops: list[int], tol: float, out: list[str]) -> list[float]:
    nodes = _route_nodes(problem, vehicle, stops)
    arcs = _arcs(problem, vehicle, nodes, tol)
    # Exact first, so that a schedule that needs no tolerance is reported without it.
    schedule, _ = _earliest(arcs, len(nodes) + 1, relaxed=False)
    if schedule is None:
        schedule, cycle = _earliest(arcs, len(nodes) + 1, relaxed=True)
    if schedule is not None:
        return schedule
    out.extend(_explain_times(problem, vehicle, nodes, arcs, cycle or [], tol))
    return _forward_schedule(problem, nodes)


# ---------------------------------------------------------------------------- public API
def check_solution(problem: PDProblem, routes: Iterable[Iterable[Any]], *, tol: float = 1e-6) -> CheckReport:
    """Check a solution against every constraint of ``problem`` (see the module docstring)."""
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
        raise InvalidArgumentError("tol", f"got {tol!r}", "a finite number >= 0")
    violations: list[str] = []
    clean = _clean_routes(problem, _as_lists(routes), violations)
    _check_requests(problem, _visits(clean, violations), violations)
    schedules: list[list[float]] = []
    cost = 0.0
    for vehicle, stops in enumerate(clean[: problem.num_vehicles]):
        if not stops:
            schedules.append([])
            continue
        _check_capacity(problem, vehicle, stops, violations)
        schedules.append(_check_times(problem, vehicle, stops, tol, violations))
        cost += _route_cost(problem, vehicle, stops)
    used = sum(1 for stops in clean if stops)
    return CheckReport(not violations, cost, used, violations, schedules)


def solution_cost(problem: PDProblem, routes: Iterable[Iterable[Any]]) -> float:
    """Total travel cost of the routes (legs from the start depot through the stops to the end depot).

    Raises :class:`InvalidArgumentError` for more routes than vehicles or an entry that is not
    a non-depot node; does not check feasibility.
    """
    problems: list[str] = []
    clean = _clean_routes(problem, _as_lists(routes), problems)
    if problems:
        raise InvalidArgumentError("routes", problems[0])
    return float(sum(_route_cost(problem, vehicle, stops) for vehicle, stops in enumerate(clean)))


def _load_solution(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise NetworkFileError(path, "file not found" if not path.exists() else "not a file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise NetworkFileError(path, f"not a text file ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise NetworkFileError(path, f"corrupt JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise NetworkFileError(path, "expected a JSON object with a 'routes' field")
    routes = data.get("routes")
    if not isinstance(routes, list) or not all(isinstance(route, list) for route in routes):
        raise NetworkFileError(path, "'routes' must be a list of lists of node ids")
    return data


def _claim_warnings(problem: PDProblem, data: dict[str, Any], report: CheckReport, tol: float) -> list[str]:
    out: list[str] = []
    name = data.get("instance")
    if name is not None and name != problem.name:
        out.append(f"the file is for instance {name!r}, the problem is {problem.name!r}")
    cost = data.get("cost")
    if isinstance(cost, (int, float)) and not math.isclose(cost, report.cost, rel_tol=1e-6, abs_tol=tol):
        out.append(f"claimed cost {_fmt(cost)} but the routes cost {_fmt(report.cost)}")
    used = data.get("num_vehicles")
    if isinstance(used, int) and used != report.num_vehicles:
        out.append(f"claimed {used} vehicles but the routes use {report.num_vehicles}")
    feasible = data.get("feasible")
    if isinstance(feasible, bool) and feasible != report.feasible:
        out.append(f"claimed feasible={feasible} but the checker finds feasible={report.feasible}")
    return out


def check_solution_file(problem: PDProblem, path: str | Path, *, tol: float = 1e-6) -> CheckReport:
    """Check a solution file (JSON, see below); its claims that differ from the checker's go to ``warnings``.

    Format: ``{"instance": name, "routes": [[node ids...], ...], "cost": float,
    "num_vehicles": int, "feasible": bool, "runtime_s": float}``, one route per used vehicle
    (route ``k`` driven by vehicle ``k``), the instance's own node ids, depots left out.
    Only ``routes`` is required.
    """
    p = Path(path)
    data = _load_solution(p)
    report = check_solution(problem, data["routes"], tol=tol)
    report.warnings.extend(_claim_warnings(problem, data, report, tol))
    return report
