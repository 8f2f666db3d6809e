"""The candidate pool: routes within the rules, every node on one, deterministic for a seed."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from planning import RouteRules, TransitProblem, read_cec
from planning.candidates import CandidatePool, candidate_routes
from planning.errors import InvalidArgumentError

TNDP = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tndp"


def graph_problem(edges: list[tuple[int, int, float]], n: int, rules: RouteRules, demand=None) -> TransitProblem:
    t = np.full((n, n), np.inf)
    for a, b, w in edges:
        t[a, b] = t[b, a] = w
    d = np.ones((n, n)) if demand is None else np.asarray(demand, float)
    return TransitProblem("test", t, d, np.arange(n, dtype=float), np.zeros(n), rules)


def check_pool(problem: TransitProblem, pool: CandidatePool) -> None:
    """Every route keeps the rules, recomputed here in plain Python."""
    rules = problem.rules
    t = problem.link_time_min
    sp = problem.shortest_time_min
    assert len(pool) == len(pool.time_min) == len(pool.direct_demand)
    for r, time_min, dd in zip(pool.routes, pool.time_min, pool.direct_demand, strict=True):
        stops = [int(v) for v in r]
        assert rules.min_stops <= len(stops) <= rules.max_stops
        assert len(set(stops)) == len(stops)
        legs = list(itertools.pairwise(stops))
        assert all(math.isfinite(t[a, b]) and math.isfinite(t[b, a]) for a, b in legs)
        one_way = sum(float(t[a, b]) for a, b in legs)
        assert time_min == pytest.approx(one_way)
        assert one_way / float(sp[stops[0], stops[-1]]) <= pool.max_circuity + 1e-9
        carried = sum(float(problem.demand[a, b] + problem.demand[b, a]) for a, b in itertools.combinations(stops, 2))
        assert dd == pytest.approx(carried)
    assert list(pool.direct_demand) == sorted(pool.direct_demand, reverse=True)
    served = {int(v) for r in pool.routes for v in r}
    assert served == set(range(problem.num_nodes))


def test_path_graph_whole_path_is_a_candidate() -> None:
    p = graph_problem([(k, k + 1, 1.0) for k in range(4)], 5, RouteRules(num_routes=1, min_stops=2, max_stops=5))
    pool = candidate_routes(p)
    check_pool(p, pool)
    best = [int(v) for v in pool.routes[0]]
    assert best in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0])  # the whole path carries all the demand
    assert pool.direct_demand[0] == pytest.approx(p.demand.sum())


def test_star_routes_are_leaf_centre_leaf() -> None:
    p = graph_problem([(0, k, 1.0) for k in range(1, 5)], 5, RouteRules(num_routes=2, min_stops=3, max_stops=3))
    pool = candidate_routes(p)
    check_pool(p, pool)
    assert len(pool) == 6  # the 4 * 3 / 2 leaf pairs, each through the centre
    assert all(int(r[1]) == 0 for r in pool.routes)


def test_short_paths_are_extended_to_min_stops() -> None:
    # a ring of 12: the shortest path between neighbours has 2 stops; min_stops 6 needs extension
    n = 12
    p = graph_problem([(k, (k + 1) % n, 1.0) for k in range(n)], n, RouteRules(num_routes=3, min_stops=6, max_stops=7))
    pool = candidate_routes(p, max_circuity=3.0)
    check_pool(p, pool)
    assert len(pool) > 0


def test_circuity_limit_is_kept() -> None:
    # a long detour 0-2-3-4-1 beside the direct link 0-1: circuity 4 > 1.5
    edges = [(0, 1, 1.0), (0, 2, 1.0), (2, 3, 1.0), (3, 4, 1.0), (4, 1, 1.0)]
    p = graph_problem(edges, 5, RouteRules(num_routes=1, min_stops=2, max_stops=5))
    pool = candidate_routes(p)
    check_pool(p, pool)
    assert pool.max_circuity == 1.5
    assert not any(len(r) == 5 and {int(r[0]), int(r[-1])} == {0, 1} for r in pool.routes)


def test_node_off_every_route_is_left_uncovered_not_faked() -> None:
    # a pendant node 5 on a star centre 0: no 4-stop route has it... (5-0-x-? needs a path of 4)
    edges = [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (0, 5, 1.0), (0, 4, 1.0)]
    p = graph_problem(edges, 6, RouteRules(num_routes=1, min_stops=5, max_stops=5))
    pool = candidate_routes(p)
    covered = pool.covered_nodes(p.num_nodes)
    # the only 5-stop simple paths run x-0-1-2-3 with x in {4, 5}: every node is on one
    assert covered.all()
    p2 = graph_problem(edges, 6, RouteRules(num_routes=1, min_stops=6, max_stops=6))
    assert len(candidate_routes(p2)) == 0  # no simple path of 6 stops exists


@pytest.mark.parametrize("name", ["Mandl", "Mumford0"])
def test_benchmark_pool_covers_every_node_within_bounds(name: str) -> None:
    p = read_cec(TNDP / name)
    calls: list[tuple[int, int]] = []
    pool = candidate_routes(p, max_routes=600, progress=lambda d, t: calls.append((d, t)))
    check_pool(p, pool)
    assert len(pool) <= 600
    assert calls and calls[-1][0] == calls[-1][1]


def test_mumford3_pool_is_diverse() -> None:
    p = read_cec(TNDP / "Mumford3")
    pool = candidate_routes(p, max_routes=400)
    check_pool(p, pool)
    assert len(pool) == 400
    sets = [set(int(v) for v in r) for r in pool.routes[:50]]
    near = sum(len(a & b) / len(a | b) > 0.9 for a, b in itertools.combinations(sets, 2))
    assert near == 0


def test_same_seed_same_pool() -> None:
    p = read_cec(TNDP / "Mumford0")
    a = candidate_routes(p, max_routes=300, seed=3)
    b = candidate_routes(p, max_routes=300, seed=3)
    assert len(a) == len(b)
    assert all(np.array_equal(x, y) for x, y in zip(a.routes, b.routes, strict=True))


def test_bad_arguments_name_the_field() -> None:
    p = read_cec(TNDP / "Mandl")
    with pytest.raises(InvalidArgumentError, match="max_routes"):
        candidate_routes(p, max_routes=0)
    with pytest.raises(InvalidArgumentError, match="max_circuity"):
        candidate_routes(p, max_circuity=0.5)
    with pytest.raises(InvalidArgumentError, match="paths_per_pair"):
        candidate_routes(p, paths_per_pair=0)
