"""The offline solver: solutions judged by the independent checker, reproducibility, options."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.checker import check_solution
from routing.errors import InvalidArgumentError
from routing.instances import read_cordeau_darp, read_li_lim
from routing.problem import DELIVERY, END, PICKUP, START, PDProblem
from routing.solve import Deadline, MaxIterations, MaxRuntime, SolveParams, solve


@pytest.fixture(scope="module")
def a2_16(data_dir: Path) -> PDProblem:
    return read_cordeau_darp(data_dir / "darp" / "cordeau2006" / "a2-16.txt")


@pytest.fixture(scope="module")
def a4_40(data_dir: Path) -> PDProblem:
    return read_cordeau_darp(data_dir / "darp" / "cordeau2006" / "a4-40.txt")


@pytest.fixture(scope="module")
def lc101(data_dir: Path) -> PDProblem:
    return read_li_lim(data_dir / "pdptw" / "li_lim_100" / "lc101.txt")


def test_darp_solution_is_feasible_and_costed_like_the_checker(a4_40: PDProblem) -> None:
    result = solve(a4_40, stop=MaxIterations(2000), seed=3)
    report = check_solution(a4_40, result.routes)
    assert result.feasible and report.feasible, report.violations
    assert result.cost == pytest.approx(report.cost, rel=1e-9)
    assert result.num_vehicles == report.num_vehicles <= a4_40.num_vehicles
    # a sane solution: within 5 % of the optimum after 2,000 iterations
    assert result.cost <= 1.05 * a4_40.meta["bks"]


def test_same_seed_same_solution(a4_40: PDProblem) -> None:
    runs = [solve(a4_40, stop=MaxIterations(600), seed=7) for _ in range(2)]
    assert runs[0].routes == runs[1].routes
    assert runs[0].cost == runs[1].cost
    assert runs[0].iterations == runs[1].iterations == 600


def test_small_instance_reaches_its_optimum(a2_16: PDProblem) -> None:
    result = solve(a2_16, stop=MaxIterations(20000), seed=1)
    assert result.cost == pytest.approx(a2_16.meta["bks"], rel=1e-5)
    assert check_solution(a2_16, result.routes).feasible


def test_pdptw_minimises_vehicles_first(lc101: PDProblem) -> None:
    result = solve(lc101, stop=MaxRuntime(3.0), seed=1)
    report = check_solution(lc101, result.routes)
    assert report.feasible, report.violations
    assert result.num_vehicles == lc101.meta["bks_vehicles"]
    first = result.history[0][1]
    assert first >= result.num_vehicles  # the construction used at least as many


def test_initial_routes_are_kept_or_improved(a4_40: PDProblem) -> None:
    start = solve(a4_40, stop=MaxIterations(50), seed=2)
    again = solve(a4_40, stop=MaxIterations(300), seed=2, initial_routes=start.routes)
    assert again.cost <= start.cost + 1e-9
    assert check_solution(a4_40, again.routes).feasible


def test_deadline_in_the_past_still_returns_a_checked_solution(a4_40: PDProblem) -> None:
    t0 = time.perf_counter()
    result = solve(a4_40, stop=Deadline(time.monotonic() - 1.0), seed=0)
    assert time.perf_counter() - t0 < 5.0
    report = check_solution(a4_40, result.routes)
    assert report.feasible == result.feasible


def test_riders_on_board_stay_on_their_vehicle() -> None:
    # Two vehicles at the same depot; request 0 is on board vehicle 1, request 1 is free.
    kind = [START, START, END, END, DELIVERY, PICKUP, DELIVERY]
    xy = np.array([[0, 0], [0, 0], [0, 0], [0, 0], [5, 0], [1, 1], [2, 2]], float)
    tt = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    prob = PDProblem.create(
        name="onboard",
        kind=kind,
        tw_early=[0] * 7,
        tw_late=[100] * 7,
        service=[0] * 7,
        demand=[0, 0, 0, 0, -1, 1, -1],
        pickup=[-1, 5],
        delivery=[4, 6],
        request_vehicle=[1, -1],
        vehicle_start=[0, 1],
        vehicle_end=[2, 3],
        capacity=[2, 2],
        start_load=[0, 1],
        travel_time=tt,
    )
    result = solve(prob, stop=MaxIterations(200), seed=0)
    assert result.feasible
    assert 4 in result.routes[1] and 4 not in result.routes[0]
    assert check_solution(prob, result.routes).feasible


def test_bad_stopping_criteria_and_parameters_are_refused() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        MaxRuntime(0)
    assert info.value.field == "seconds"
    with pytest.raises(InvalidArgumentError):
        MaxIterations(-1)
    with pytest.raises(InvalidArgumentError) as info:
        SolveParams(max_removed_share=1.5)
    assert info.value.field == "max_removed_share"


def test_route_removal_tries_another_route_when_the_shortest_cannot_go() -> None:
    # Three vehicles with open routes from one depot; only vehicle 0 carries a wheelchair
    # (second capacity dimension), so its route (request W) can never be removed, although it
    # is as short as the others. W and A both start at once, in different places (two vehicles
    # needed); C, later and near the depot, fits after either. Two vehicles suffice, but
    # serving C apart is shorter, so only the route-removal phase gets there.
    #         depots 0-2   W pickup/delivery   A pickup/delivery   C pickup/delivery
    kind = [START] * 3 + [PICKUP, DELIVERY] * 3
    xy = np.array([[0, 0]] * 3 + [[1, 0], [10, 0], [0, 1], [0, 10], [0, 0.5], [0.5, 0]], float)
    tt = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    prob = PDProblem.create(
        name="wheelchair",
        kind=kind,
        tw_early=[0] * 3 + [0, 0, 0, 0, 50, 50],
        tw_late=[200] * 3 + [1, 30, 1, 30, 60, 70],
        service=[0] * 9,
        demand=[[0, 0]] * 3 + [[1, 1], [-1, -1], [1, 0], [-1, 0], [1, 0], [-1, 0]],
        pickup=[3, 5, 7],
        delivery=[4, 6, 8],
        vehicle_start=[0, 1, 2],
        vehicle_end=[-1, -1, -1],
        capacity=[[1, 1], [1, 0], [1, 0]],
        travel_time=tt,
        objective="vehicles",
    )
    initial = [[3, 4], [5, 6], [7, 8]]  # W, A, C: one request each
    result = solve(prob, stop=MaxIterations(400), seed=0, initial_routes=initial)
    assert result.feasible and check_solution(prob, result.routes).feasible
    assert result.num_vehicles == 2
    assert result.routes[0][:2] == [3, 4]  # the wheelchair route stays


def test_a_kernel_call_is_sized_to_the_time_left(a2_16: PDProblem) -> None:
    from routing.solve import _Search

    search = _Search(a2_16, SolveParams(batch_iterations=50), seed=0)
    assert search._batch_size(MaxIterations(1000)) == 50  # no clock: full batches
    search.iter_s = 0.01  # as if one iteration took 10 ms
    soon = Deadline(time.monotonic() + 0.05)
    soon.start()
    assert 1 <= search._batch_size(soon) <= 5
    late = Deadline(time.monotonic() - 1.0)
    late.start()
    assert search._batch_size(late) == 1  # past the deadline: the least, never zero
    far = MaxRuntime(60.0)
    far.start()
    assert search._batch_size(far) == 50
