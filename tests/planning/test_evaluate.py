"""The evaluation kernels against a slow oracle, against each other, and against the literature.

The oracle (``tests/naive.py``) is Floyd-Warshall over the expanded route graph with
(time, transfers) labels; the networks here are small and random, with route sets that leave
nodes unserved or fall apart, share long stretches, and link times drawn from a few quarter
minutes (exact in binary, so equal journeys tie exactly and the tie rule is tested) or from a
continuous range. Published values come from the files in ``tndp/literature``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from planning import (
    Evaluator,
    RouteRules,
    TransitProblem,
    check_route_set,
    flatten,
    read_cec,
    read_published_route_sets,
    validate_route_set,
)
from planning.errors import InvalidArgumentError
from tests import naive

INSTANCES = ("Mandl", "Mumford0", "Mumford1", "Mumford3")


@pytest.fixture(scope="module")
def tndp(data_dir: Path) -> Path:
    return data_dir / "tndp"


def random_network(rng: np.random.Generator, *, times: str, symmetric: bool) -> TransitProblem:
    """A connected random graph of 5-9 nodes, with random demand (asymmetric unless ``symmetric``);
    link times ``"whole"`` minutes, ``"quarters"`` or ``"any"`` (continuous)."""
    quarters = times != "any"
    n = int(rng.integers(5, 10))
    t = np.full((n, n), np.inf)
    np.fill_diagonal(t, 0.0)

    def draw() -> float:
        if times == "whole":
            return float(rng.choice([1, 2, 3]))
        return float(rng.choice([0.75, 1.5, 2.25, 3.0])) if quarters else float(rng.uniform(0.3, 4.0))

    order = rng.permutation(n)
    edges = {(int(order[k]), int(order[rng.integers(k)])) for k in range(1, n)}  # a spanning tree
    for _ in range(n):
        a, b = (int(v) for v in rng.choice(n, 2, replace=False))
        edges.add((a, b))
    for a, b in edges:
        t[a, b] = draw()
        t[b, a] = t[a, b] if symmetric or rng.random() < 0.5 else draw()
    demand = rng.integers(0, 4, (n, n)).astype(float) * (rng.random((n, n)) < 0.7)
    if not quarters:
        demand *= rng.uniform(0.5, 1.5, (n, n))
    if symmetric:
        demand = np.triu(demand, 1) + np.triu(demand, 1).T
    penalty = float(rng.choice([0.0, 1.5, 5.0]))  # no penalty: a transfer ties with riding on
    rules = RouteRules(num_routes=3, transfer_penalty_min=penalty)
    return TransitProblem("random", t, demand, np.zeros(n), np.zeros(n), rules)


def random_routes(rng: np.random.Generator, problem: TransitProblem) -> list[list[int]]:
    """2-6 random simple walks, most from a node no route serves yet; some copy a long stretch
    of an earlier route and go on from it."""
    t = problem.link_time_min
    n = problem.num_nodes
    linked = [[v for v in range(n) if v != u and np.isfinite(t[u, v]) and np.isfinite(t[v, u])] for u in range(n)]
    routes: list[list[int]] = []
    for _ in range(int(rng.integers(2, 7))):
        free = sorted(set(range(n)) - {v for r in routes for v in r})
        if routes and rng.random() < 0.3:
            base = routes[int(rng.integers(len(routes)))]
            route = list(base[: max(2, len(base) - 1)])
        elif free and rng.random() < 0.8:
            route = [int(rng.choice(free))]
        else:
            route = [int(rng.integers(n))]
        for _ in range(int(rng.integers(1, 6))):
            options = [v for v in linked[route[-1]] if v not in route]
            if not options:
                break
            route.append(int(rng.choice(options)))
        if len(route) >= 2:
            routes.append(route)
    return routes or [[0, linked[0][0]]]


def random_case(seed: int) -> tuple[TransitProblem, list[list[int]]]:
    rng = np.random.default_rng(seed)
    problem = random_network(rng, times=("whole", "quarters", "any")[seed % 3], symmetric=seed % 4 == 0)
    return problem, random_routes(rng, problem)


SEEDS = range(80)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_evaluator_matches_the_floyd_warshall_oracle(seed: int) -> None:
    problem, routes = random_case(seed)
    penalty = problem.rules.transfer_penalty_min
    want = naive.naive_transit_scores(problem.link_time_min.tolist(), problem.demand.tolist(), routes, penalty)
    ev = Evaluator(problem)
    for loads in (False, True):
        got = ev.evaluate(routes, loads=loads)
        for field, value in want.items():
            assert getattr(got, field) == pytest.approx(value, rel=1e-9, abs=1e-12), (field, loads)
    times, circuity, overlap = naive.naive_route_shape(problem.link_time_min.tolist(), routes)
    assert got.trt_min == pytest.approx(sum(times), rel=1e-12)
    np.testing.assert_allclose(got.route_time_min, times, rtol=1e-12)
    np.testing.assert_allclose(got.circuity, circuity, rtol=1e-12)
    np.testing.assert_allclose(got.overlap, overlap, rtol=1e-12, atol=1e-15)
    assert got.num_stops.tolist() == [len(r) for r in routes]


@pytest.mark.parametrize("seed", SEEDS)
def test_loads_add_up_to_the_journeys(seed: int) -> None:
    """Whatever path a tie picks: boardings = served trips x (transfers + 1), and passenger
    minutes on the links = demand x in-vehicle time."""
    problem, routes = random_case(seed)
    e = Evaluator(problem).evaluate(routes, loads=True)
    assert e.boardings is not None and e.link_load is not None
    served = problem.total_demand * e.served
    if served == 0:
        assert e.boardings.sum() == 0 and all((ll == 0).all() for ll in e.link_load)
        return
    assert e.boardings.sum() == pytest.approx(served * (e.transfers_per_trip + 1), rel=1e-9, abs=1e-9)
    t = problem.link_time_min
    minutes = 0.0
    for r, load in zip(validate_route_set(problem, routes), e.link_load, strict=True):
        assert load.shape == (len(r) - 1, 2)
        minutes += float((load[:, 0] * t[r[:-1], r[1:]]).sum() + (load[:, 1] * t[r[1:], r[:-1]]).sum())
    assert minutes == pytest.approx(served * e.in_vehicle_min, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_round_search_agrees_with_the_dijkstra_kernel(seed: int) -> None:
    problem, routes = random_case(seed)
    ev = Evaluator(problem)
    flat = flatten(validate_route_set(problem, routes))
    fast = ev.journey_sums(*flat)
    ref = ev.journey_sums(*flat, method="dijkstra")
    whole = seed % 3 == 0 and problem.rules.transfer_penalty_min != 1.5
    assert ev.lane_dtype == (np.float32 if whole else np.float64)
    integral = bool((problem.demand == np.round(problem.demand)).all()) and seed % 3 != 2
    if integral:  # whole or quarter minutes and whole trips: every sum is exact
        assert fast.tolist() == ref.tolist()
    else:
        np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-9)


def test_the_four_instances_agree_exactly_with_the_dijkstra_kernel(tndp: Path) -> None:
    """Integer link times and demand: the two kernels give the same sums to the bit, on random
    route sets (feasible or not) of each benchmark instance."""
    rng = np.random.default_rng(7)
    for name in INSTANCES:
        problem = read_cec(tndp / name)
        ev = Evaluator(problem)
        assert ev.symmetric and ev.lane_dtype == np.float32
        for _ in range(2 if name == "Mumford3" else 4):
            rules = problem.rules
            routes = []
            for _k in range(rules.num_routes):
                route = [int(rng.integers(problem.num_nodes))]
                for _s in range(rules.max_stops - 1):
                    options = [v for v in np.flatnonzero(np.isfinite(problem.link_time_min[route[-1]]))
                               if v not in route]  # fmt: skip
                    if not options:
                        break
                    route.append(int(rng.choice(options)))
                routes.append(route)
            flat = flatten(validate_route_set(problem, routes))
            assert ev.journey_sums(*flat).tolist() == ev.journey_sums(*flat, method="dijkstra").tolist(), name


def test_att_is_the_evaluation_s_att_and_counts_calls() -> None:
    problem, routes = random_case(1)
    ev = Evaluator(problem)
    e = ev.evaluate(routes)
    att, unserved = ev.att(*flatten(validate_route_set(problem, routes)))
    assert att == e.att_min and unserved == e.unserved
    assert ev.calls == 2
    with pytest.raises(InvalidArgumentError, match="method"):
        ev.journey_sums(*flatten(validate_route_set(problem, routes)), method="heap")


def test_a_route_set_serving_nobody_has_no_att() -> None:
    t = np.array([[0, 1, np.inf, np.inf], [1, 0, np.inf, np.inf], [np.inf, np.inf, 0, 2], [np.inf, np.inf, 2, 0]])
    d = np.zeros((4, 4))
    d[0, 2] = d[3, 1] = 5.0
    problem = TransitProblem("apart", t, d, np.zeros(4), np.zeros(4), RouteRules(num_routes=2))
    e = Evaluator(problem).evaluate([[0, 1], [2, 3]], loads=True)
    assert math.isinf(e.att_min) and e.unserved == 1.0 and e.dun == 1.0 and e.d0 == 0.0
    assert e.boardings is not None and e.boardings.tolist() == [0.0, 0.0]


# --------------------------------------------------------------------------- the literature


def john_2016_route_sets(path: Path) -> list[tuple[float, float, list[list[int]]]]:
    """``(ATT, TRT, routes)`` per solution of John (2016)'s XML file (0-based nodes)."""
    out = []
    for solution in ElementTree.parse(path).getroot().iter("solution"):
        objectives = {o.get("number"): float(o.text or "nan") for o in solution.iter("objective")}
        routes = [[int(v.text or "-1") for v in route.iter("node")] for route in solution.iter("route")]
        out.append((objectives["0"], objectives["1"], routes))
    return out


def test_john_2016_mandl_route_sets_reproduce_their_att_and_trt(tndp: Path) -> None:
    lit = tndp / "literature"
    sets = john_2016_route_sets(lit / "John_results_on_Mandl_2016_Mandl.txt")
    with open(lit / "John_results_on_Mandl_2016_Results_data_headers.csv") as fh:
        table = [(float(r["f1_ATT"]), float(r["f2_TRT"])) for r in csv.DictReader(fh)]
    assert len(sets) == 89 and [(a, t) for a, t, _ in sets] == table
    problem = read_cec(tndp / "Mandl")
    ev = Evaluator(problem)
    for att, trt, routes in sets:
        assert check_route_set(problem, routes) == []
        e = ev.evaluate(routes)
        assert e.att_min == pytest.approx(att, abs=1e-8)
        assert e.trt_min == trt
        assert e.unserved == 0.0


def test_every_published_mandl_set_scores(tndp: Path) -> None:
    problem = read_cec(tndp / "Mandl")
    ev = Evaluator(problem)
    sets = read_published_route_sets(tndp / "literature" / "mandl_published_route_sets.txt")
    assert len(sets) > 50
    for title, routes in sets:
        e = ev.evaluate(routes)
        assert math.isfinite(e.att_min) and e.unserved == 0.0, title
        flat = flatten(validate_route_set(problem, routes))  # some repeat a stop: both kernels agree
        assert ev.journey_sums(*flat).tolist() == ev.journey_sums(*flat, method="dijkstra").tolist(), title
        assert e.d0 + e.d1 + e.d2 + e.dun == pytest.approx(1.0), title
        assert e.trt_min > 0


def test_mandl_1980_as_the_literature_reports_it(tndp: Path) -> None:
    """Mandl's own 4 routes: ATT 12.90 min, 69.94 % direct, 29.93 % with one transfer and
    0.13 % with two (the values every later paper compares against)."""
    problem = read_cec(tndp / "Mandl")
    sets = dict(read_published_route_sets(tndp / "literature" / "mandl_published_route_sets.txt"))
    e = Evaluator(problem).evaluate(sets["Mandl (1980) 4 routes"])
    assert round(e.att_min, 2) == 12.90
    assert (round(100 * e.d0, 2), round(100 * e.d1, 2), round(100 * e.d2, 2), e.dun) == (69.94, 29.93, 0.13, 0.0)


def test_published_best_passenger_sets_match_their_papers(tndp: Path) -> None:
    """The Mandl 6-route best-passenger table (ATT to 2 decimals, TRT) against the sets the
    same papers published."""
    lit = tndp / "literature"
    problem = read_cec(tndp / "Mandl")
    sets = dict(read_published_route_sets(lit / "mandl_published_route_sets.txt"))
    titles = {
        "Mumford (2013)": "Mumford (2013) 6 best passenger",
        "Chew et al. (2013)": "Chew and Lee (2013) 6 routes passenger",
        "Kilic and Gok (2014)": "Kilic and Gok (2014) 6 Lines TS",
    }
    with open(lit / "Mandl6_best_passenger.csv") as fh:
        table = {r["Approach"]: (float(r["f1_ATT"]), float(r["f2_TRT"])) for r in csv.DictReader(fh)}
    ev = Evaluator(problem)
    for paper, title in titles.items():
        e = ev.evaluate(sets[title])
        assert (round(e.att_min, 2), e.trt_min) == table[paper], paper


def test_rescore_published_table(tndp: Path) -> None:
    from benchmarks.tndp_rescore import rescore_published, to_markdown

    rows = rescore_published(tndp.parent)
    assert len(rows) == len(read_published_route_sets(tndp / "literature" / "mandl_published_route_sets.txt"))
    mandl = next(r for r in rows if r["title"] == "Mandl (1980) 4 routes")
    assert mandl["routes"] == 4 and mandl["problems"] == []
    assert any(r["problems"] for r in rows)  # some published sets break the 2..8 stops rule
    text = to_markdown(rows)
    assert text.count("\n") == len(rows) + 2 and "| Mandl (1980) 4 routes | 4 | 12.90 |" in text
