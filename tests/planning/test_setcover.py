"""The set cover: hand-checkable optima, the connectivity cut, clear errors, feasible sets."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from planning import PlanningError, RouteRules, TransitProblem, check_route_set, read_cec
from planning.candidates import CandidatePool, candidate_routes
from planning.errors import InvalidArgumentError
from planning.setcover import set_cover

TNDP = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tndp"


def graph_problem(edges: list[tuple[int, int, float]], n: int, rules: RouteRules, demand) -> TransitProblem:
    t = np.full((n, n), np.inf)
    for a, b, w in edges:
        t[a, b] = t[b, a] = w
    return TransitProblem("test", t, np.asarray(demand, float), np.arange(n, dtype=float), np.zeros(n), rules)


def make_pool(problem: TransitProblem, routes: list[list[int]]) -> CandidatePool:
    """A pool of the given routes, with their time and direct demand computed here."""
    t, d = problem.link_time_min, problem.demand
    times = [sum(float(t[a, b]) for a, b in itertools.pairwise(r)) for r in routes]
    carried = [sum(float(d[a, b] + d[b, a]) for a, b in itertools.combinations(r, 2)) for r in routes]
    return CandidatePool(tuple(np.asarray(r, np.int32) for r in routes), np.asarray(times), np.asarray(carried))


def as_sets(routes) -> set[frozenset[int]]:
    return {frozenset(int(v) for v in r) for r in routes}


def test_path_graph_takes_the_whole_path() -> None:
    n = 5
    p = graph_problem([(k, k + 1, 1.0) for k in range(4)], n, RouteRules(1, 2, 5), np.ones((n, n)))
    (best,) = set_cover(p, candidate_routes(p))
    assert [int(v) for v in best[0]] in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0])
    assert check_route_set(p, best) == []


@pytest.mark.parametrize(
    ("pairs", "expected"), [((1, 2, 3, 4), ({1, 0, 2}, {3, 0, 4})), ((1, 3, 2, 4), ({1, 0, 3}, {2, 0, 4}))]
)
def test_star_pairs_the_leaves_that_travel_together(pairs, expected) -> None:
    # a star: centre 0, leaves 1..4; routes leaf-centre-leaf; two routes must serve the 4 leaves
    n = 5
    d = np.zeros((n, n))
    a, b, c, e = pairs
    d[a, b] = d[b, a] = d[c, e] = d[e, c] = 100.0
    d[a, c] = d[b, e] = 1.0
    p = graph_problem([(0, k, 1.0) for k in range(1, 5)], n, RouteRules(2, 3, 3), d)
    (best,) = set_cover(p, candidate_routes(p))
    assert as_sets(best) == {frozenset(s) for s in expected}
    assert check_route_set(p, best) == []


def two_clusters() -> tuple[TransitProblem, list[list[int]]]:
    # clusters 0-1-2 and 3-4-5 joined by the one link 2-3; demand only inside the clusters
    n = 6
    d = np.zeros((n, n))
    for group in ((0, 1, 2), (3, 4, 5)):
        for a, b in itertools.permutations(group, 2):
            d[a, b] = 10.0
    edges = [(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (3, 4, 1.0), (4, 5, 1.0)]
    p = graph_problem(edges, n, RouteRules(2, 3, 4), d)
    return p, [[0, 1, 2], [3, 4, 5], [2, 3, 4, 5], [1, 2, 3]]


def test_connectivity_cut_rejects_the_cheapest_cover() -> None:
    p, routes = two_clusters()
    pool = make_pool(p, routes)
    # the cheapest cover, the two clusters' own routes, serves every node and every trip directly
    # with the least route time, but is not connected: the check says so
    assert "the route network is not connected" in check_route_set(p, [routes[0], routes[1]])
    assert pool.time_min[0] + pool.time_min[1] < pool.time_min[0] + pool.time_min[2]
    (best,) = set_cover(p, pool, operator_weight=1.0)
    assert as_sets(best) == {frozenset({0, 1, 2}), frozenset({2, 3, 4, 5})}  # the only connected cover
    assert check_route_set(p, best) == []


def test_infeasible_pools_say_why() -> None:
    p, routes = two_clusters()
    with pytest.raises(PlanningError, match="node 1 is on no candidate route"):
        set_cover(p, make_pool(p, [routes[2], routes[3]]))
    with pytest.raises(PlanningError, match="nodes 5, 6 are on no candidate route"):
        set_cover(p, make_pool(p, [routes[0], routes[3]]))
    with pytest.raises(PlanningError, match="has 1 candidate"):
        set_cover(p, make_pool(p, [routes[2]]))
    with pytest.raises(PlanningError, match="connected"):
        set_cover(p, make_pool(p, [routes[0], routes[1]]))


def test_bad_arguments_name_the_field() -> None:
    p, routes = two_clusters()
    pool = make_pool(p, routes)
    for kw, field in (({"num_solutions": 0}, "num_solutions"), ({"time_limit_s": 0}, "time_limit_s"),
                      ({"workers": 0}, "workers"), ({"operator_weight": -1.0}, "operator_weight")):  # fmt: skip
        with pytest.raises(InvalidArgumentError, match=field):
            set_cover(p, pool, **kw)


def test_mandl_solutions_are_feasible_distinct_and_repeatable() -> None:
    p = read_cec(TNDP / "Mandl")
    pool = candidate_routes(p, max_routes=300)
    sols = set_cover(p, pool, num_solutions=3, time_limit_s=20)
    assert len(sols) == 3
    for s in sols:
        assert check_route_set(p, s) == []
    keys = [as_sets(s) for s in sols]
    for a, b in itertools.combinations(keys, 2):
        assert len(a ^ b) >= 2  # distinct by at least one route each way
    again = set_cover(p, pool, num_solutions=1, time_limit_s=20)
    assert as_sets(again[0]) == keys[0]
