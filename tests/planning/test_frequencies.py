"""Headways by the square-root rule: against a brute-force allocation, on a hand-made line and on Mandl."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from planning import RouteRules, TransitProblem, read_cec, read_published_route_sets
from planning.errors import InvalidArgumentError
from planning.evaluate import Evaluator
from planning.frequencies import allocate_vehicles, round_trip_min, set_frequencies, wait_min_per_trip

INF = np.inf


@pytest.fixture(scope="module")
def mandl(data_dir: Path) -> TransitProblem:
    return read_cec(data_dir / "tndp" / "Mandl")


@pytest.fixture(scope="module")
def mandl_sets(data_dir: Path) -> list[tuple[str, list[list[int]]]]:
    return read_published_route_sets(data_dir / "tndp" / "literature" / "mandl_published_route_sets.txt")


def line_problem() -> TransitProblem:
    """Four stops in a line 0-1-2-3 (3, 4, 5 minutes; 6 minutes back from 3 to 2), and a branch 1-4."""
    t = np.full((5, 5), INF)
    for a, b, m in [(0, 1, 3), (1, 2, 4), (2, 3, 5), (1, 4, 2)]:
        t[a, b] = t[b, a] = m
    t[3, 2] = 6
    d = np.zeros((5, 5))
    d[0, 3] = d[3, 0] = 100
    d[0, 4] = 40
    d[2, 4] = 10
    return TransitProblem("line", t, d, np.arange(5.0), np.zeros(5), RouteRules(num_routes=2))


def brute_force(weight, rt, fleet, lo_h, hi_h):
    """Every allocation within the bounds using at most ``fleet`` vehicles; the least total."""
    ranges = []
    for r in rt:
        lo = max(1, int(np.ceil(r / hi_h - 1e-9)))
        hi = max(lo, int(np.floor(r / lo_h + 1e-9)))
        ranges.append(range(lo, hi + 1))
    best = np.inf
    for n in itertools.product(*ranges):
        if sum(n) <= fleet:
            best = min(best, float(sum(w / k for w, k in zip(weight, n, strict=True))))
    return best


def test_allocation_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        m = int(rng.integers(1, 4))
        rt = rng.uniform(20, 120, m)
        weight = rng.uniform(0, 5000, m) * rt
        lo_h, hi_h = 5.0, float(rng.uniform(30, 90))
        need = int(np.maximum(1, np.ceil(rt / hi_h - 1e-9)).sum())
        fleet = need + int(rng.integers(0, 12))
        n = allocate_vehicles(weight, rt, fleet, min_headway_min=lo_h, max_headway_min=hi_h)
        assert n.sum() <= fleet
        assert (rt / n <= hi_h + 1e-9).all()
        got = float((weight / n).sum())
        assert got == pytest.approx(brute_force(weight, rt, fleet, lo_h, hi_h), rel=1e-12)


def test_square_root_rule_for_a_large_fleet() -> None:
    rt = np.array([40.0, 90.0, 60.0])
    boardings = np.array([9000.0, 1000.0, 4000.0])
    n = allocate_vehicles(boardings * rt, rt, 300, min_headway_min=0.01, max_headway_min=600)
    ideal = np.sqrt(boardings * rt)
    np.testing.assert_allclose(n / n.sum(), ideal / ideal.sum(), atol=0.01)


def test_line_by_hand() -> None:
    p = line_problem()
    routes = [[0, 1, 2, 3], [4, 1]]
    rt = round_trip_min(p, [np.array(r, np.int32) for r in routes], 5.0)
    np.testing.assert_allclose(rt, [3 + 4 + 5 + 3 + 4 + 6 + 10, 2 + 2 + 10])
    f = set_frequencies(p, routes, fleet=6, layover_min=5.0)
    assert f.vehicles.sum() == 6
    np.testing.assert_allclose(f.headway_min, rt / f.vehicles)
    # boardings: route 1 carries 0-3, 3-0, 0->1 and 2->1 of the branch trips; route 2 the branch trips
    np.testing.assert_allclose(f.boardings, [250.0, 50.0])
    expected_wait = (250 * f.headway_min[0] / 2 + 50 * f.headway_min[1] / 2) / 250.0
    assert f.wait_min_per_trip == pytest.approx(expected_wait)
    assert f.att_with_wait_min == pytest.approx(f.att_min + expected_wait)
    ev = Evaluator(p).evaluate(routes)
    assert f.att_min == pytest.approx(ev.att_min)


def test_mandl_fleet_and_waiting(mandl: TransitProblem, mandl_sets) -> None:
    _, routes = next(s for s in mandl_sets if len(s[1]) == 6)
    ev = Evaluator(mandl).evaluate(routes, loads=True)
    f = set_frequencies(mandl, routes, fleet=40, evaluation=ev)
    assert f.vehicles.sum() == 40 and (f.vehicles >= 1).all()
    assert ((f.headway_min >= 2.0) & (f.headway_min <= 60.0)).all()
    # every trip with a journey boards once plus once per transfer
    served = mandl.total_demand * (1 - ev.unserved)
    assert f.boardings is not None
    assert f.boardings.sum() == pytest.approx(served * (1 + ev.transfers_per_trip))
    # more vehicles, less waiting; the ATT without waiting does not move
    g = set_frequencies(mandl, routes, fleet=80, evaluation=ev)
    assert g.wait_min_per_trip < f.wait_min_per_trip
    assert g.att_min == f.att_min == ev.att_min
    assert f.att_with_wait_min == pytest.approx(ev.att_min + wait_min_per_trip(mandl, ev, f.headway_min))
    d = f.to_dict()
    assert d["vehicles_used"] == 40 and len(d["routes"]) == 6


def test_min_headway_leaves_vehicles_unused() -> None:
    p = line_problem()
    f = set_frequencies(p, [[0, 1, 2, 3], [4, 1]], fleet=1000, min_headway_min=5.0)
    assert f.vehicles.sum() < 1000
    assert (f.headway_min >= 5.0 - 1e-9).all()


def test_capacity_check() -> None:
    p = line_problem()
    routes = [[0, 1, 2, 3], [4, 1]]
    f = set_frequencies(p, routes, fleet=4, vehicle_capacity=1.0, peak_hour_share=0.5)
    assert f.peak_load_per_hour is not None and f.capacity_per_hour is not None
    # route 1's busiest link carries 140 trips a day one way (0->1: 100 to 3, 40 to the branch)
    assert f.peak_load_per_hour[0] == pytest.approx(0.5 * 140)
    assert 0 in f.overloaded
    roomy = set_frequencies(p, routes, fleet=4, vehicle_capacity=500.0)
    assert roomy.overloaded == ()


def test_bad_arguments_name_the_field() -> None:
    p = line_problem()
    routes = [[0, 1, 2, 3], [4, 1]]
    with pytest.raises(InvalidArgumentError, match=r"^fleet: got 1; .* takes 2 vehicles"):
        set_frequencies(p, routes, fleet=1, max_headway_min=60)
    with pytest.raises(InvalidArgumentError, match=r"^fleet"):
        set_frequencies(p, routes, fleet=0)
    with pytest.raises(InvalidArgumentError, match=r"^max_headway_min"):
        set_frequencies(p, routes, fleet=4, min_headway_min=10, max_headway_min=5)
    with pytest.raises(InvalidArgumentError, match=r"^evaluation: has no route loads"):
        set_frequencies(p, routes, fleet=4, evaluation=Evaluator(p).evaluate(routes))
    with pytest.raises(InvalidArgumentError, match=r"^peak_hour_share"):
        set_frequencies(p, routes, fleet=4, peak_hour_share=1.5)
