"""Small planning problems shared by the candidate-pool and set-cover tests."""

from __future__ import annotations

import itertools

import numpy as np

from planning import RouteRules, TransitProblem
from tests.conftest import resolve_data_dir

#: The CEC-2013 benchmark folders (Mandl, Mumford0, ...).
TNDP = resolve_data_dir() / "tndp"


def graph_problem(edges: list[tuple[int, int, float]], n: int, rules: RouteRules, demand=None) -> TransitProblem:
    """Links ``(a, b, minutes)`` both ways; demand 1 between every two nodes unless given."""
    t = np.full((n, n), np.inf)
    for a, b, w in edges:
        t[a, b] = t[b, a] = w
    d = np.ones((n, n)) if demand is None else np.asarray(demand, float)
    return TransitProblem("test", t, d, np.arange(n, dtype=float), np.zeros(n), rules)


def city_like(n: int, seed: int) -> TransitProblem:
    """A random planar street grid with different times each way and asymmetric, sparse demand."""
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 5000, (n, 2))
    t = np.full((n, n), np.inf)
    for tri in Delaunay(xy).simplices:
        for a, b in itertools.combinations(tri, 2):
            minutes = float(np.hypot(*(xy[a] - xy[b]))) / 400.0
            t[a, b], t[b, a] = minutes * rng.uniform(0.8, 1.2, 2)
    d = rng.uniform(0, 20, (n, n)) * (rng.uniform(size=(n, n)) < 0.3)
    rules = RouteRules(num_routes=14, min_stops=6, max_stops=14, max_circuity=1.8)
    return TransitProblem("city", t, d, xy[:, 0], xy[:, 1], rules)
