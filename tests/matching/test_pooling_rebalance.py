"""Rebalancing idle taxis: the transport problem against brute force, its limits, and the demand memory."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from numpy.typing import ArrayLike, NDArray

from matching import InvalidValueError
from matching.pooling.rebalance import (
    DemandMemory,
    RebalanceParams,
    RebalancePlan,
    Rebalancer,
    ZoneGrid,
    plan_rebalancing,
)
from routing import UNREACHABLE, HierarchyTimes, MatrixTimes, RoadNetwork, Router


def brute_force(
    travel: np.ndarray, weights: np.ndarray, max_moves: int | None, max_travel_s: int | None
) -> tuple[int, int]:
    """(most moves, least total travel for that many) over every way to send each taxi somewhere or nowhere."""
    n_idle, n_dem = travel.shape
    best = (0, 0)
    for choice in itertools.product(range(-1, n_dem), repeat=n_idle):
        used = [d for d in choice if d >= 0]
        if max_moves is not None and len(used) > max_moves:
            continue
        if any(used.count(d) > weights[d] for d in set(used)):
            continue
        legs = [int(travel[v, d]) for v, d in enumerate(choice) if d >= 0]
        if any(t >= UNREACHABLE or (max_travel_s is not None and t > max_travel_s) for t in legs):
            continue
        if len(legs) > best[0] or (len(legs) == best[0] and sum(legs) < best[1]):
            best = (len(legs), sum(legs))
    return best


def check_plan(
    plan: RebalancePlan,
    idle: np.ndarray,
    demand: np.ndarray,
    matrix: np.ndarray,
    weights: np.ndarray,
    max_travel_s: int | None,
) -> None:
    """The plan is a valid set of moves: each taxi once, weights kept, times true, limit kept."""
    assert np.all(np.diff(plan.vehicle) > 0)  # each taxi at most once, in order
    assert np.array_equal(plan.target, demand[plan.demand])
    assert np.array_equal(plan.travel_s, matrix[idle[plan.vehicle], plan.target])
    assert np.all(np.bincount(plan.demand, minlength=demand.size) <= weights)
    if max_travel_s is not None:
        assert np.all(plan.travel_s <= max_travel_s)


def test_plan_matches_brute_force_on_small_random_cases() -> None:
    rng = np.random.default_rng(16)
    for case in range(250):
        n = 9
        matrix = rng.integers(0, 600, size=(n, n))
        np.fill_diagonal(matrix, 0)
        matrix[rng.random((n, n)) < 0.1] = UNREACHABLE
        times = MatrixTimes(matrix)
        idle = rng.integers(0, n, size=int(rng.integers(0, 6)))
        demand = rng.choice(n, size=int(rng.integers(0, 5)), replace=False)
        weighted = case % 2 == 1
        weights = rng.integers(0, 3, size=demand.size) if weighted else np.ones(demand.size, np.int64)
        max_moves = None if case % 3 else int(rng.integers(0, 4))
        max_travel_s = None if case % 5 == 0 else int(rng.integers(100, 600))
        plan = plan_rebalancing(
            idle,
            demand,
            times,
            max_moves=max_moves,
            max_travel_s=max_travel_s,
            demand_weights=weights if weighted else None,
        )
        check_plan(plan, idle, demand, times.matrix, weights, max_travel_s)
        travel = times.matrix[np.ix_(idle, demand)]
        assert (plan.size, plan.total_travel_s) == brute_force(travel, weights, max_moves, max_travel_s), case


def test_nearest_pairs_and_one_taxi_per_point() -> None:
    # a line of 6 nodes, 100 s apart: taxis at 0 and 5, demand at 1 and 4
    matrix = 100 * np.abs(np.subtract.outer(np.arange(6), np.arange(6)))
    plan = plan_rebalancing([0, 5], [4, 1], MatrixTimes(matrix))
    assert plan.vehicle.tolist() == [0, 1]
    assert plan.target.tolist() == [1, 4]
    assert plan.demand.tolist() == [1, 0]
    assert plan.travel_s.tolist() == [100, 100]
    # more taxis than points: only as many moves as points, the nearest taxis go
    plan = plan_rebalancing([0, 2, 5], [3], MatrixTimes(matrix))
    assert (plan.vehicle.tolist(), plan.travel_s.tolist()) == ([1], [100])


def test_a_point_with_weight_takes_several_taxis() -> None:
    matrix = 100 * np.abs(np.subtract.outer(np.arange(6), np.arange(6)))
    plan = plan_rebalancing([0, 1, 5], [2, 5], MatrixTimes(matrix), demand_weights=[2, 1])
    assert plan.target.tolist() == [2, 2, 5]
    assert plan.total_travel_s == 300
    # weight 0: the point takes nobody
    plan = plan_rebalancing([0, 1], [2, 5], MatrixTimes(matrix), demand_weights=[0, 1])
    assert plan.target.tolist() == [5]


def test_a_taxi_already_at_a_point_stays_there() -> None:
    matrix = 100 * np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    plan = plan_rebalancing([3, 0], [3], MatrixTimes(matrix))
    assert (plan.vehicle.tolist(), plan.travel_s.tolist()) == ([0], [0])


def test_the_travel_limit_is_respected_even_at_the_cost_of_moves() -> None:
    matrix = 100 * np.abs(np.subtract.outer(np.arange(10), np.arange(10)))
    # without a limit both points are covered (0 -> 9 is 900 s)
    assert plan_rebalancing([0, 8], [9, 7], MatrixTimes(matrix)).size == 2
    plan = plan_rebalancing([0, 8], [9, 7], MatrixTimes(matrix), max_travel_s=200)
    assert plan.size == 1 and plan.travel_s.max() <= 200
    assert plan_rebalancing([0], [9], MatrixTimes(matrix), max_travel_s=899).size == 0
    assert plan_rebalancing([0], [9], MatrixTimes(matrix), max_travel_s=900).travel_s.tolist() == [900]


def test_the_most_moves_come_before_the_least_driving() -> None:
    # taxi 0 is nearest to both points, but only taxi 0 can reach point 4 within the limit
    matrix = 100 * np.abs(np.subtract.outer(np.arange(8), np.arange(8)))
    plan = plan_rebalancing([3, 0], [4, 2], MatrixTimes(matrix), max_travel_s=200)
    assert plan.target.tolist() == [4, 2]  # not taxi 0 -> 2 (100 s), which would leave point 4 empty


def test_caps_on_moves_and_on_targets() -> None:
    matrix = 100 * np.abs(np.subtract.outer(np.arange(10), np.arange(10)))
    times = MatrixTimes(matrix)
    idle, demand = [0, 3, 6, 9], [1, 4, 7, 8]
    assert plan_rebalancing(idle, demand, times).size == 4
    plan = plan_rebalancing(idle, demand, times, max_moves=2)
    assert plan.size == 2 and plan.total_travel_s == 200  # the two cheapest moves (100 s each)
    assert plan_rebalancing(idle, demand, times, max_moves=0).size == 0
    # only the first two demand points (the most recent) are considered
    plan = plan_rebalancing(idle, demand, times, max_targets=2)
    assert sorted(plan.target.tolist()) == [1, 4]
    assert set(plan.demand.tolist()) <= {0, 1}


class CountingTimes(MatrixTimes):
    """Matrix times that remember the shape of every block asked for."""

    def __init__(self, matrix: np.ndarray) -> None:
        super().__init__(matrix)
        self.blocks: list[tuple[int, int]] = []

    def block(self, sources: ArrayLike, targets: ArrayLike) -> NDArray[np.int64]:
        out = super().block(sources, targets)
        self.blocks.append(out.shape)
        return out


def test_the_travel_time_block_is_bounded_by_max_targets() -> None:
    matrix = np.random.default_rng(1).integers(1, 900, size=(50, 50))
    times = CountingTimes(matrix)
    plan_rebalancing(np.arange(20), np.arange(50), times, max_targets=7)
    assert times.blocks == [(20, 7)]
    plan_rebalancing([], np.arange(50), times)
    plan_rebalancing(np.arange(5), [], times)
    assert len(times.blocks) == 1  # nothing to plan, nothing asked


def test_the_plan_is_deterministic() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.integers(0, 5, size=(30, 30))  # many ties
    idle, demand = rng.integers(0, 30, 20), rng.integers(0, 30, 15)
    first = plan_rebalancing(idle, demand, MatrixTimes(matrix))
    for _ in range(3):
        again = plan_rebalancing(idle, demand, MatrixTimes(matrix))
        assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"idle_nodes": [0, 9]}, "idle_nodes"),
        ({"idle_nodes": [[0, 1]]}, "idle_nodes"),
        ({"idle_nodes": [0.5]}, "idle_nodes"),
        ({"idle_nodes": [True]}, "idle_nodes"),
        ({"demand_nodes": [-1]}, "demand_nodes"),
        ({"max_moves": -1}, "max_moves"),
        ({"max_moves": 1.5}, "max_moves"),
        ({"max_travel_s": -5}, "max_travel_s"),
        ({"max_targets": 0}, "max_targets"),
        ({"demand_weights": [1]}, "demand_weights"),
        ({"demand_weights": [1, -1]}, "demand_weights"),
        ({"demand_weights": [1.0, 2.0]}, "demand_weights"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, field: str) -> None:
    args = {"idle_nodes": [0, 1], "demand_nodes": [2, 3]} | kwargs
    with pytest.raises(InvalidValueError) as err:
        plan_rebalancing(args.pop("idle_nodes"), args.pop("demand_nodes"), MatrixTimes(np.ones((4, 4))), **args)
    assert err.value.field == field and err.value.allowed


# ============================================================================ the demand memory
def test_unserved_demand_is_forgotten_after_the_window() -> None:
    memory = DemandMemory(900)
    memory.record_unserved(5, 100)
    memory.record_unserved(7, 400)
    assert memory.targets(999).node.tolist() == [7, 5]
    assert memory.targets(1000).node.tolist() == [7]  # 100 + 900: gone
    assert memory.remembered(1299) == 1
    assert memory.targets(1300).size == 0
    assert memory.remembered(1300) == 0


def test_unserved_points_are_newest_first_with_their_counts() -> None:
    memory = DemandMemory(600)
    for node, t in [(3, 10), (4, 20), (3, 30), (8, 40), (4, 50), (4, 60)]:
        memory.record_unserved(node, t)
    targets = memory.targets(60)
    assert targets.node.tolist() == [4, 8, 3]
    assert targets.weight.tolist() == [3, 1, 2]
    memory.record_request(9, 70)  # requests are the forecast's input, not the unserved memory's
    assert memory.targets(70).node.tolist() == [4, 8, 3]


def test_the_memory_refuses_a_clock_going_back_and_bad_values() -> None:
    memory = DemandMemory(600)
    memory.record_unserved(3, 100)
    with pytest.raises(InvalidValueError, match="time_s"):
        memory.record_unserved(3, 99)
    with pytest.raises(InvalidValueError, match="node"):
        memory.record_unserved(-1, 100)
    with pytest.raises(InvalidValueError, match="mode"):
        DemandMemory(600, mode="guess")
    with pytest.raises(InvalidValueError, match="grid"):
        DemandMemory(600, mode="forecast")
    with pytest.raises(InvalidValueError, match="window_s"):
        DemandMemory(0)
    with pytest.raises(InvalidValueError, match="smoothing"):
        DemandMemory(600, smoothing=0)


def test_zone_grid_cells_and_central_nodes() -> None:
    # cells of 100 m: nodes 0-2 in cell (0, 0), node 3 in (1, 0), node 4 in (0, 2)
    x = [0.0, 40.0, 90.0, 150.0, 10.0]
    y = [0.0, 10.0, 0.0, 20.0, 250.0]
    grid = ZoneGrid(x, y, cell_m=100)
    assert grid.num_cells == 3 and grid.num_nodes == 5
    assert grid.cell_of_node.tolist() == [0, 0, 0, 2, 1]  # cells in (i, j) order: (0,0), (0,2), (1,0)
    # the mean of nodes 0-2 is (43.3, 3.3): node 1 is nearest
    assert grid.central_node.tolist() == [1, 4, 3]
    with pytest.raises(InvalidValueError, match="y_m"):
        ZoneGrid(x, y[:3], cell_m=100)
    with pytest.raises(InvalidValueError, match="cell_m"):
        ZoneGrid(x, y, cell_m=0)
    with pytest.raises(InvalidValueError, match="x_m"):
        ZoneGrid([0.0, float("nan")], [0.0, 0.0], cell_m=100)


def grid_city() -> tuple[np.ndarray, np.ndarray]:
    """A 10 x 10 lattice of nodes 100 m apart (node = 10 * row + column)."""
    col, row = np.meshgrid(np.arange(10), np.arange(10))
    return 100.0 * col.ravel(), 100.0 * row.ravel()


def test_the_forecast_picks_the_busy_cell() -> None:
    x, y = grid_city()
    grid = ZoneGrid(x, y, cell_m=500)  # four cells of 5 x 5 nodes
    memory = DemandMemory(900, mode="forecast", grid=grid, smoothing=0.5)
    busy, quiet = [11, 12, 21, 33, 44], [77]  # cell (0,0) x5, cell (1,1) x1
    for t, node in enumerate(busy + quiet):
        memory.record_request(node, 10 + t)
    memory.record_unserved(99, 20)  # ignored by the forecast
    memory.close_batch(30)
    targets = memory.targets(30)
    assert [grid.cell_of_node[n] for n in targets.node] == [grid.cell_of_node[11], grid.cell_of_node[77]]
    assert targets.node[0] == 22  # the centre of the 5 x 5 block of nodes 0 .. 44
    # smoothed counts 0.5 * 5 = 2.5 and 0.5 * 1: weights round halves up, at least 1
    assert targets.weight.tolist() == [3, 1]
    # a quiet batch halves the counts: 1.25 and 0.25
    memory.close_batch(60)
    assert memory.targets(60).weight.tolist() == [1, 1]
    # the quiet cell gets busy: 0.5 * 4 + 0.5 * 0.25 = 2.125 beats 0.625
    for node in [77, 78, 87, 88]:
        memory.record_request(node, 70)
    memory.close_batch(90)
    targets = memory.targets(90)
    assert targets.node.tolist() == [grid.central_node[grid.cell_of_node[77]], 22]
    assert targets.weight.tolist() == [2, 1]


def test_the_forecast_forgets_cells_without_recent_requests() -> None:
    x, y = grid_city()
    memory = DemandMemory(600, mode="forecast", grid=ZoneGrid(x, y, cell_m=500), horizon_batches=10)
    memory.record_request(0, 100)
    memory.close_batch(120)
    assert memory.targets(120).weight.tolist() == [3]  # 0.3 per batch over 10 batches
    assert memory.targets(699).size == 1
    assert memory.targets(700).size == 0  # the request at 100 is 600 s old


def test_rebalancer_sends_idle_taxis_to_unserved_origins_within_the_limit() -> None:
    matrix = 60 * np.abs(np.subtract.outer(np.arange(30), np.arange(30)))
    rebalancer = Rebalancer(MatrixTimes(matrix), window_s=600, params=RebalanceParams(max_travel_s=600))
    for t, node in enumerate([5, 25, 29]):
        rebalancer.memory.record_unserved(node, 100 + t)
    plan = rebalancer.plan([0, 20, 28], 200)
    assert dict(zip(plan.vehicle.tolist(), plan.target.tolist(), strict=True)) == {0: 5, 1: 25, 2: 29}
    assert rebalancer.plan([0, 20, 28], 701).target.tolist() == [29]  # the other two were forgotten
    assert rebalancer.plan([0], 701).size == 0  # 29 is too far from 0


def test_rebalancer_forecast_on_a_real_network(jamsil_net: RoadNetwork, jamsil_router: Router) -> None:
    params = RebalanceParams(mode="forecast", cell_m=1000, max_travel_s=None, smoothing=1.0)
    times = HierarchyTimes(jamsil_router)
    rebalancer = Rebalancer(times, window_s=900, params=params, x_m=jamsil_net.x_m, y_m=jamsil_net.y_m)
    grid = rebalancer.memory.grid
    assert grid is not None and grid.num_cells > 4
    busiest = int(np.argmax(np.bincount(grid.cell_of_node)))
    origins = np.flatnonzero(grid.cell_of_node == busiest)[:6]
    for node in origins:
        rebalancer.memory.record_request(int(node), 50)
    rebalancer.memory.close_batch(60)
    idle = np.arange(0, jamsil_net.num_nodes, max(1, jamsil_net.num_nodes // 12))
    plan = rebalancer.plan(idle, 60)
    assert plan.size == 6  # six requests expected in the busy cell: six taxis
    assert set(plan.target.tolist()) == {int(grid.central_node[busiest])}
    assert np.array_equal(plan.travel_s, times.pairs(idle[plan.vehicle], plan.target))
    others = np.setdiff1d(np.arange(idle.size), plan.vehicle)
    to_target = times.pairs(idle, np.full(idle.size, grid.central_node[busiest]))
    assert to_target[plan.vehicle].max() <= to_target[others].min()  # the nearest six went
    with pytest.raises(InvalidValueError, match="x_m"):
        Rebalancer(times, window_s=900, params=params)


def test_rebalance_params_are_checked() -> None:
    assert RebalanceParams.from_mapping({"mode": "forecast", "cell_m": 500}).cell_m == 500
    bad: list[tuple[str, Any]] = [
        ("mode", "random"),
        ("max_targets", 0),
        ("max_travel_s", -1),
        ("max_moves", 1.5),
        ("cell_m", 10),
        ("smoothing", 0.0),
        ("horizon_batches", 0),
    ]
    for field, value in bad:
        with pytest.raises(InvalidValueError) as err:
            replace(RebalanceParams(), **{field: value})
        assert err.value.field == field
    with pytest.raises(InvalidValueError, match=r"rebalance\.colour"):
        RebalanceParams.from_mapping({"colour": "red"})
