"""The independent feasibility checker, on problems small enough to check by hand.

The main tiny DARP lies on a line (service 0, travel time = cost = distance):

    node   0 start  1 pickup A  2 pickup B  3 delivery A  4 delivery B  5 end
    x      0        1           2           5             3             0

Request 0 is A (1 -> 3), request 1 is B (2 -> 4). Node 4 opens at 10. The route
1, 2, 4, 3 drives 1 + 1 + 1 + 2 + 5 = 10. Without waiting: B = 0, 1, 2, 10, 12, 17 and A
rides 11. With A's ride limited to 5 the vehicle must wait *before* picking A up:
B1 >= B3 - 5 = 7, so the earliest schedule is 0, 7, 8, 10, 12, 17.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

from routing.checker import CheckReport, check_solution, check_solution_file, solution_cost
from routing.errors import InvalidArgumentError, NetworkFileError
from routing.instances import read_cordeau_darp
from routing.problem import DELIVERY, END, PICKUP, START, PDProblem

INF = math.inf
ROUTE = [1, 2, 4, 3]


def line_darp(
    *,
    max_ride: tuple[float, float] = (INF, INF),
    late: dict[int, float] | None = None,
    capacity: int = 2,
    max_duration: float = INF,
    vehicles: int = 1,
) -> PDProblem:
    xs = np.array([0.0, 1.0, 2.0, 5.0, 3.0, 0.0])
    tw_late = np.full(6, 100.0)
    for node, value in (late or {}).items():
        tw_late[node] = value
    return PDProblem.create(
        name="line",
        kind=[START, PICKUP, PICKUP, DELIVERY, DELIVERY, END],
        tw_early=[0, 0, 0, 0, 10, 0],
        tw_late=tw_late,
        service=np.zeros(6),
        demand=[0, 1, 1, -1, -1, 0],
        pickup=[1, 2],
        delivery=[3, 4],
        vehicle_start=[0] * vehicles,
        vehicle_end=[5] * vehicles,
        capacity=capacity,
        travel_time=np.abs(xs[:, None] - xs[None, :]),
        max_ride=list(max_ride),
        max_duration=[max_duration] * vehicles,
    )


def one_violation(report: CheckReport, *needles: str) -> str:
    """The report is infeasible and one violation contains every needle."""
    assert not report.feasible
    matches = [v for v in report.violations if all(n in v for n in needles)]
    assert matches, f"no violation with {needles} in {report.violations}"
    return matches[0]


# ---------------------------------------------------------------------------- schedules
def test_unconstrained_route_earliest_schedule_and_cost():
    report = check_solution(line_darp(), [ROUTE])
    assert report.feasible, report.violations
    assert report.schedules == [[0, 1, 2, 10, 12, 17]]
    assert report.cost == pytest.approx(10.0)
    assert report.num_vehicles == 1


def test_ride_limit_forces_waiting_before_the_pickup():
    report = check_solution(line_darp(max_ride=(5, 8)), [ROUTE])
    assert report.feasible, report.violations
    assert report.schedules[0] == pytest.approx([0, 7, 8, 10, 12, 17])
    assert report.schedules[0][4] - report.schedules[0][1] == pytest.approx(5)  # A rides exactly 5


def test_duration_limit_forces_a_later_departure():
    # End at 17 at the earliest; a duration of 12 means leaving the depot at 5 or later.
    report = check_solution(line_darp(max_ride=(5, 8), max_duration=12), [ROUTE])
    assert report.feasible, report.violations
    assert report.schedules[0] == pytest.approx([5, 7, 8, 10, 12, 17])


def test_ride_limit_below_the_direct_ride_is_infeasible():
    # A rides 1 -> 2 -> 4 -> 3: at least 1 + 1 + 2 = 4.
    report = check_solution(line_darp(max_ride=(3, INF)), [ROUTE])
    one_violation(report, "route 0", "max ride time 3 of request 0", "at least 4", "> 3")


def test_ride_limit_in_conflict_with_windows_names_the_constraints():
    # A must be picked up by 5, B's delivery cannot start before 10, so A rides at least 7 > 5.
    report = check_solution(line_darp(max_ride=(5, INF), late={1: 5}), [ROUTE])
    text = one_violation(report, "no schedule")
    assert "max ride time 5 of request 0" in text
    assert "time window [0, 5] of node 1" in text
    assert "time window [10, 100] of node 4" in text
    assert "short by 2" in text


def test_time_window_violation():
    report = check_solution(line_darp(late={3: 8}), [ROUTE])
    one_violation(report, "time window violated at node 3", "before 12", "[0, 8]", "late by 4")


def test_route_duration_violation():
    # However late it leaves, the route takes at least 10 (its driving time).
    report = check_solution(line_darp(max_duration=9), [ROUTE])
    one_violation(report, "max route duration 9 of vehicle 0", "at least 10", "> 9")


def test_tolerance_absorbs_rounding():
    problem = line_darp(late={3: 12 - 1e-9})
    assert check_solution(problem, [ROUTE]).feasible
    assert not check_solution(problem, [ROUTE], tol=0.0).feasible


# ---------------------------------------------------------------------------- structure and load
def test_capacity_violation():
    report = check_solution(line_darp(capacity=1), [ROUTE])
    one_violation(report, "route 0", "node 2", "load 2 exceeds capacity 1")
    assert check_solution(line_darp(capacity=1), [[1, 3, 2, 4]]).feasible


def test_duplicate_node():
    one_violation(check_solution(line_darp(), [[*ROUTE, 1]]), "node 1 visited twice")


def test_duplicate_node_across_routes():
    one_violation(check_solution(line_darp(vehicles=2), [ROUTE, [1]]), "node 1 visited twice", "route 1")


def test_missing_request():
    one_violation(check_solution(line_darp(), [[1, 3]]), "request 1", "not served")


def test_half_served_request():
    one_violation(check_solution(line_darp(), [[1, 2, 3]]), "request 1", "node 2 is on route 0", "node 4 is not")


def test_pickup_after_delivery():
    one_violation(
        check_solution(line_darp(), [[3, 1, 2, 4]]), "request 0 is delivered (node 3", "before it is picked up"
    )


def test_pair_split_over_two_routes():
    report = check_solution(line_darp(vehicles=2), [[1, 2, 4], [3]])
    one_violation(report, "request 0", "route 0", "route 1")


def test_unknown_node_depot_and_non_id():
    report = check_solution(line_darp(), [[*ROUTE, 9, 0, "x"]])
    one_violation(report, "unknown node 9", "0 .. 5")
    one_violation(report, "node 0 (start depot) is a depot")
    one_violation(report, "'x' is not a node id")


def test_more_routes_than_vehicles():
    one_violation(check_solution(line_darp(), [[1, 3], [2, 4]]), "2 routes but the problem has 1 vehicles")


def test_empty_routes_cost_nothing_and_numpy_routes_work():
    report = check_solution(line_darp(vehicles=3), [[], np.array(ROUTE), []])
    assert report.feasible, report.violations
    assert report.num_vehicles == 1
    assert report.schedules[0] == [] and report.schedules[2] == []
    assert report.cost == pytest.approx(10.0)


def onboard_problem() -> PDProblem:
    """Node 0 start, 1 pickup A, 2 delivery A, 3 delivery of B (already on vehicle 0), 4 end; a line."""
    xs = np.array([0.0, 1.0, 2.0, 3.0, 0.0])
    return PDProblem.create(
        name="onboard",
        kind=[START, PICKUP, DELIVERY, DELIVERY, END],
        tw_early=np.zeros(5),
        tw_late=np.full(5, 50.0),
        service=np.zeros(5),
        demand=[0, 1, -1, -1, 0],
        pickup=[1, -1],
        delivery=[2, 3],
        request_vehicle=[-1, 0],
        vehicle_start=[0, 0],
        vehicle_end=[4, 4],
        capacity=[1, 1],
        start_load=[1, 0],
        travel_time=np.abs(xs[:, None] - xs[None, :]),
    )


def test_onboard_request_on_the_wrong_vehicle():
    problem = onboard_problem()
    one_violation(check_solution(problem, [[1, 2], [3]]), "request 1 is on board vehicle 0", "route 1")
    # On vehicle 0, the rider on board must get off before A boards (capacity 1).
    one_violation(check_solution(problem, [[1, 2, 3]]), "load 2 exceeds capacity 1")
    assert check_solution(problem, [[3, 1, 2]]).feasible
    one_violation(check_solution(problem, [[1, 2]]), "request 1 (on board vehicle 0) is not delivered")


def test_pinned_request_on_the_wrong_vehicle():
    problem = line_darp(vehicles=2).replace(request_vehicle=[-1, 1])
    one_violation(check_solution(problem, [ROUTE]), "request 1 is pinned to vehicle 1", "route 0")
    assert check_solution(problem, [[1, 3], [2, 4]]).feasible


def test_open_route_has_no_return_leg():
    problem = line_darp().replace(vehicle_end=[-1], max_duration=[12.0])
    report = check_solution(problem, [ROUTE])
    assert report.feasible, report.violations
    assert report.cost == pytest.approx(5.0)  # 1 + 1 + 1 + 2, no way home
    assert report.schedules[0] == pytest.approx([0, 1, 2, 10, 12])


def test_route_duration_binds_open_routes_too():
    """An open route's duration runs from the start to the last stop's service start.

    Route 1, 2, 4, 3 without a way home: the last stop (node 3) starts at 12 at the earliest
    (node 4 opens at 10); the driving alone takes 1 + 1 + 1 + 2 = 5.
    """
    open_route = line_darp().replace(vehicle_end=[-1])
    # A limit of 6 lets the vehicle leave no earlier than 12 - 6 = 6.
    report = check_solution(open_route.replace(max_duration=[6.0]), [ROUTE])
    assert report.feasible, report.violations
    assert report.schedules[0] == pytest.approx([6, 7, 8, 10, 12])
    # However late it leaves, the route takes at least its driving time, 5.
    report = check_solution(open_route.replace(max_duration=[4.0]), [ROUTE])
    one_violation(report, "route 0", "max route duration 4 of vehicle 0", "at least 5", "> 4")
    # With node 4 closing at 10 the departure is pinned at 7 at the latest: 12 - 7 = 5 fits a limit of 5 only.
    tight = line_darp(late={4: 10}).replace(vehicle_end=[-1])
    assert check_solution(tight.replace(max_duration=[5.0]), [ROUTE]).schedules[0] == pytest.approx([7, 8, 9, 10, 12])
    text = one_violation(check_solution(tight.replace(max_duration=[4.5]), [ROUTE]), "max route duration 4.5")
    assert "at least 5" in text


# ---------------------------------------------------------------------------- locations
def by_location(problem: PDProblem, location: list[int]) -> PDProblem:
    """``problem`` with node ``i`` at ``location[i]``: the matrices become location by location."""
    m = max(location) + 1
    time_m = np.zeros((m, m))
    cost_m = np.zeros((m, m))
    for a, b in itertools.product(range(problem.num_nodes), repeat=2):
        la, lb = location[a], location[b]
        assert time_m[la, lb] in (0.0, problem.travel_time[a, b]), "two nodes at one location differ"
        time_m[la, lb] = problem.travel_time[a, b]
        cost_m[la, lb] = problem.travel_cost[a, b]
    return problem.replace(travel_time=time_m, travel_cost=cost_m, node_location=location)


def pickup_first_orders(problem: PDProblem) -> list[list[int]]:
    """Every order of the requests' nodes with each pickup before its delivery."""
    nodes = [int(n) for n in (*problem.pickup, *problem.delivery)]
    pairs = list(zip(problem.pickup.tolist(), problem.delivery.tolist(), strict=True))
    return [list(o) for o in itertools.permutations(nodes) if all(o.index(p) < o.index(d) for p, d in pairs)]


#: Variants of the line DARP: ride limits, windows, duration limits, an open route.
LINE_VARIANTS = [
    line_darp(),
    line_darp(max_ride=(5, 8)),
    line_darp(max_ride=(5, INF), late={1: 5}),
    line_darp(late={3: 8}),
    line_darp(max_ride=(5, 8), max_duration=12),
    line_darp(max_duration=9),
    line_darp(capacity=1),
    line_darp().replace(vehicle_end=[-1], max_duration=[6.0]),
]


@pytest.mark.parametrize(
    "location",
    [
        [0, 1, 2, 4, 3, 0],  # the depots share a place: 5 locations for 6 nodes
        [5, 3, 0, 4, 1, 2],  # one location per node, numbered otherwise: node ids read wrong times silently
    ],
    ids=["shared", "permuted"],
)
def test_travel_times_are_read_by_location(location: list[int]):
    """The line DARP told by location gets the reports it gets by node, for every order of its stops."""
    for problem in LINE_VARIANTS:
        placed = by_location(problem, location)
        for route in pickup_first_orders(problem):
            expected, got = check_solution(problem, [route]), check_solution(placed, [route])
            assert (got.feasible, got.violations) == (expected.feasible, expected.violations), route
            assert (got.cost, got.schedules) == (expected.cost, expected.schedules), route
            assert solution_cost(placed, [route]) == expected.cost


def test_many_nodes_at_one_stop_as_the_dispatcher_builds_them():
    """Two vehicles at stop 0 and a 3-stop matrix; a ride from stop 0 to stop 2 and one from 2 back to 0.

    Stops on a line at 0, 4 and 10 (travel time = distance), service 1 at every pickup and
    drop-off. Nodes: 0, 1 starts (stop 0), 2, 3 ends (stop 0), 4 pickup A (stop 0),
    5 drop-off A (stop 2), 6 pickup B (stop 2, from 20), 7 drop-off B (stop 0).
    """
    stops = np.array([0.0, 4.0, 10.0])
    problem = PDProblem.create(
        name="dispatch",
        kind=[START, START, END, END, PICKUP, DELIVERY, PICKUP, DELIVERY],
        tw_early=[3, 0, 0, 0, 0, 0, 20, 0],
        tw_late=[INF, INF, 100, 100, 10, INF, 30, INF],
        service=[0, 0, 0, 0, 1, 1, 1, 1],
        demand=[0, 0, 0, 0, 1, -1, 1, -1],
        pickup=[4, 6],
        delivery=[5, 7],
        vehicle_start=[0, 1],
        vehicle_end=[2, 3],
        capacity=[1, 1],
        travel_time=np.abs(stops[:, None] - stops[None, :]),
        node_location=[0, 0, 0, 0, 0, 2, 2, 0],
        max_ride=[INF, 12],
    )
    # Vehicle 0 (free from 3): A at stop 0 from 3, at stop 2 at 14, B from 20, home at 31; 10 + 10.
    report = check_solution(problem, [[4, 5, 6, 7], []])
    assert report.feasible, report.violations
    assert report.schedules[0] == pytest.approx([3, 3, 14, 20, 31, 32])
    assert report.cost == pytest.approx(20.0)
    # Each on its own vehicle: 10 + 10 there and back, twice.
    report = check_solution(problem, [[4, 5], [6, 7]])
    assert report.feasible and report.cost == pytest.approx(40.0)
    assert report.schedules[1] == pytest.approx([0, 20, 31, 32])  # the earliest schedule: waits at stop 2
    # Both on vehicle 0, B first off: A rides 10 + 1 + 10 + 1 + 10 = 32 (with the service at stops 2 and 0).
    report = check_solution(problem.replace(capacity=[2, 2], max_ride=[25, 12]), [[4, 6, 7, 5], []])
    one_violation(report, "max ride time 25 of request 0", "at least 32", "> 25")
    # B's ride limited below its direct ride (10 from stop 2 to stop 0).
    one_violation(check_solution(problem.replace(max_ride=[INF, 9]), [[4, 5], [6, 7]]), "request 1", "at least 10")
    # Vehicle 0 is free from 3 only: A's pickup, closing at 2, is late on it and in time on vehicle 1.
    late = problem.replace(tw_late=[INF, INF, 100, 100, 2, INF, 30, INF])
    one_violation(check_solution(late, [[4, 5], []]), "time window violated at node 4", "before 3")
    assert check_solution(late, [[6, 7], [4, 5]]).feasible


# ---------------------------------------------------------------------------- cost and files
def test_solution_cost_by_hand():
    assert solution_cost(line_darp(vehicles=2), [[1, 3], [2, 4]]) == pytest.approx((1 + 4 + 5) + (2 + 1 + 3))
    with pytest.raises(InvalidArgumentError, match="unknown node 7"):
        solution_cost(line_darp(), [[7]])
    with pytest.raises(InvalidArgumentError, match="routes"):
        check_solution(line_darp(), "1234")  # type: ignore[arg-type]


def test_solution_file_and_its_claims(tmp_path: Path):
    path = tmp_path / "line.json"
    solution: dict[str, Any] = {"instance": "line", "routes": [ROUTE], "cost": 10.0, "num_vehicles": 1}
    solution |= {"feasible": True, "runtime_s": 0.1}
    path.write_text(json.dumps(solution))
    report = check_solution_file(line_darp(), path)
    assert report.feasible and report.warnings == []
    path.write_text(json.dumps(solution | {"cost": 9.0, "num_vehicles": 2, "instance": "other"}))
    warnings = " | ".join(check_solution_file(line_darp(), path).warnings)
    assert "claimed cost 9" in warnings and "claimed 2 vehicles" in warnings and "'other'" in warnings


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "corrupt JSON at line 1"),
        ("[1, 2]", "JSON object"),
        ('{"routes": [1, 2]}', "list of lists"),
    ],
)
def test_bad_solution_files(tmp_path: Path, content: str, reason: str):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(NetworkFileError, match=reason):
        check_solution_file(line_darp(), path)
    with pytest.raises(NetworkFileError, match="file not found"):
        check_solution_file(line_darp(), tmp_path / "missing.json")


# ---------------------------------------------------------------------------- against an LP oracle
def lp_feasible(problem: PDProblem, route: list[int]) -> bool:
    """Whether service start times exist for one route: the same constraints, solved as an LP by HiGHS.

    An open route (``vehicle_end == -1``) ends at its last stop, whose service start bounds the duration.
    """
    end = int(problem.vehicle_end[0])
    nodes = [int(problem.vehicle_start[0]), *route] + ([end] if end >= 0 else [])
    m = len(nodes)
    rows, rhs = [], []

    def at_most(coeffs: dict[int, float], bound: float) -> None:
        row = np.zeros(m)
        for k, c in coeffs.items():
            row[k] += c
        rows.append(row)
        rhs.append(bound)

    for k in range(m - 1):
        a, b = nodes[k], nodes[k + 1]
        at_most({k: 1, k + 1: -1}, -(problem.service[a] + problem.travel_time[a, b]))
    for k, node in enumerate(nodes):
        for q in range(problem.num_requests):
            if problem.pickup[q] == node and math.isfinite(problem.max_ride[q]):
                d = nodes.index(int(problem.delivery[q]))
                at_most({d: 1, k: -1}, problem.max_ride[q] + problem.service[node])
    if math.isfinite(problem.max_duration[0]):
        at_most({m - 1: 1, 0: -1}, problem.max_duration[0])
    bounds = [(problem.tw_early[n], problem.tw_late[n] if math.isfinite(problem.tw_late[n]) else None) for n in nodes]
    result = linprog(np.zeros(m), A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    return bool(result.status == 0)


def random_darp(rng: np.random.Generator) -> PDProblem:
    n = 3
    xy = rng.uniform(0, 10, size=(2 * n + 2, 2))
    xy[-1] = xy[0]
    early = rng.uniform(0, 50, size=2 * n + 2).round()
    width = rng.choice([20.0, 60.0, 150.0], size=2 * n + 2)
    early[[0, -1]] = 0
    return PDProblem.create(
        name="random",
        kind=[START] + [PICKUP] * n + [DELIVERY] * n + [END],
        tw_early=early,
        tw_late=np.where(np.arange(2 * n + 2) % (2 * n + 1) == 0, 200.0, early + width),
        service=rng.choice([0.0, 1.0, 2.0], size=2 * n + 2),
        demand=[0] + [1] * n + [-1] * n + [0],
        pickup=np.arange(1, n + 1),
        delivery=np.arange(n + 1, 2 * n + 1),
        vehicle_start=[0],
        vehicle_end=[2 * n + 1],
        capacity=n,
        travel_time=np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)),
        max_ride=rng.uniform(15, 60, size=n).round(1),
        max_duration=[float(rng.uniform(60, 200))],
    )


@pytest.mark.parametrize("open_route", [False, True], ids=["closed", "open"])
def test_time_verdict_matches_a_linear_programme(open_route: bool):
    rng = np.random.default_rng(8 if open_route else 7)
    verdicts = []
    duration_decides = 0  # routes that only the duration limit makes infeasible
    for _ in range(100):
        problem = random_darp(rng)
        if open_route:  # no way home, and a duration limit that often binds
            problem = problem.replace(vehicle_end=[-1], max_duration=[float(rng.uniform(25, 70))])
        route = [int(v) for v in rng.permutation(6) + 1]
        for p in (1, 2, 3):  # put every pickup before its delivery
            i, j = route.index(p), route.index(p + 3)
            route[min(i, j)], route[max(i, j)] = p, p + 3
        report = check_solution(problem, [route], tol=1e-7)
        expected = lp_feasible(problem, route)
        assert report.feasible == expected, (route, report.violations)
        if report.feasible:
            assert_schedule_valid(problem, [route], report.schedules, tol=1e-6)
        elif lp_feasible(problem.replace(max_duration=[INF]), route):
            duration_decides += 1
        verdicts.append(expected)
    assert 20 < sum(verdicts) < 80, sum(verdicts)  # both verdicts occur often
    if open_route:
        assert duration_decides >= 5, duration_decides  # the duration limit alone decides some


# ---------------------------------------------------------------------------- a real instance
def assert_schedule_valid(problem: PDProblem, routes: list[list[int]], schedules: list[list[float]], tol: float):
    """Check the reported schedule itself, constraint by constraint."""
    for v, route in enumerate(routes):
        if not route:
            continue
        end = int(problem.vehicle_end[v])
        nodes = [int(problem.vehicle_start[v]), *route] + ([end] if end >= 0 else [])
        times = dict(zip(nodes, schedules[v], strict=True))
        for a, b in itertools.pairwise(nodes):
            assert times[b] >= times[a] + problem.service[a] + problem.travel_time[a, b] - tol
        for node in nodes:
            assert problem.tw_early[node] - tol <= times[node] <= problem.tw_late[node] + tol
        for q in range(problem.num_requests):
            p, d = int(problem.pickup[q]), int(problem.delivery[q])
            if p in times:
                assert times[d] - times[p] - problem.service[p] <= problem.max_ride[q] + tol
        assert times[nodes[-1]] - times[nodes[0]] <= problem.max_duration[v] + tol


def test_one_route_per_request_on_a2_16(data_dir: Path):
    """a2-16 with one vehicle per request: each request alone, judged and costed independently."""
    path = data_dir / "darp" / "cordeau2006" / "a2-16.txt"
    problem = read_cordeau_darp(path)
    n = problem.num_requests
    routes = [[i, n + i] for i in range(1, n + 1)]
    one_violation(check_solution(problem, routes), f"{n} routes but the problem has 2 vehicles")

    many = problem.replace(
        vehicle_start=np.zeros(n, np.int32),
        vehicle_end=np.full(n, 2 * n + 1, np.int32),
        capacity=np.full((n, 1), 3),
        start_load=None,
        max_duration=np.full(n, 480.0),
    )
    report = check_solution(many, routes)
    assert report.num_vehicles == n
    # By hand from the file's coordinates: depot -> pickup -> delivery -> depot for each request.
    table = np.loadtxt(path, skiprows=1)
    xy = {int(row[0]): (row[1], row[2]) for row in table}
    legs = [(0, i, n + i, 2 * n + 1) for i in range(1, n + 1)]
    by_hand = sum(math.dist(xy[a], xy[b]) for route in legs for a, b in itertools.pairwise(route))
    assert report.cost == pytest.approx(by_hand, rel=1e-12)
    assert solution_cost(many, routes) == pytest.approx(by_hand, rel=1e-12)
    # A request alone is feasible iff an LP says so; the checker agrees route by route.
    single = many.replace(
        vehicle_start=[0], vehicle_end=[2 * n + 1], capacity=[3], start_load=None, max_duration=[480.0]
    )
    alone = []
    for route in routes:
        times = [v for v in check_solution(single, [route]).violations if "not served" not in v]
        assert (not times) == lp_feasible(single, route), (route, times)
        alone.append(not times)
    assert report.feasible == all(alone)
    if report.feasible:
        assert_schedule_valid(many, routes, report.schedules, tol=1e-6)
