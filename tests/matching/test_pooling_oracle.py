"""The oracle of issue 16: on small random batches, the batch result (the trips of
:func:`~matching.pooling.trips.generate_trips` and an exact choice among them) equals the
optimum of an exhaustive enumeration of every way to give the requests to the taxis."""

from __future__ import annotations

import math
import time

import numpy as np

from matching.pooling import ASSIGNED, OPEN, BatchRequests, PoolingParams, Trips
from matching.pooling.trips import generate_trips, warm_up
from routing import MatrixTimes
from tests.matching.pooling_cases import city_matrix, lookup, random_batch, random_params
from tests.naive import naive_batch_optimum

CASES = 400


def best_choice(trips: Trips, requests: BatchRequests, params: PoolingParams, num_vehicles: int) -> int:
    """The least objective over one trip per taxi (disjoint requests, every assigned request
    served), by trying every combination.

    TODO(lead): use matching.pooling.assign.assign once merged.
    """
    by_vehicle = [np.flatnonzero(trips.vehicle == v) for v in range(num_vehicles)]
    must = frozenset(np.flatnonzero(requests.state == ASSIGNED).tolist())
    opened = frozenset(np.flatnonzero(requests.state == OPEN).tolist())
    sets = [frozenset(trips.requests_of(t).tolist()) for t in range(trips.size)]
    best = [math.inf]

    def choose(v: int, used: frozenset[int], cost: int) -> None:
        if cost >= best[0]:
            return
        if v == num_vehicles:
            if must <= used:
                best[0] = min(best[0], cost + params.unserved_penalty_s * len(opened - used))
            return
        for t in by_vehicle[v].tolist():
            if not sets[t] & used:
                choose(v + 1, used | sets[t], cost + int(trips.cost[t]))

    choose(0, frozenset(), 0)
    return int(best[0])


def test_batch_result_equals_the_exhaustive_optimum() -> None:
    warm_up()  # compiling the kernels (first run on a machine) is not the test's time
    start = time.perf_counter()
    rng = np.random.default_rng(2026)
    shared = 0
    for case in range(CASES):
        matrix = city_matrix(case % 3)
        params = random_params(rng)
        req, veh = random_batch(
            rng, matrix, params, num_requests=int(rng.integers(1, 9)), num_vehicles=int(rng.integers(1, 4))
        )
        trips = generate_trips(req, veh, MatrixTimes(matrix), params)
        got = best_choice(trips, req, params, veh.size)
        want = naive_batch_optimum(req, veh, lookup(matrix), params)
        assert got == want, f"case {case}: batch {got}, exhaustive {want}"
        shared += int(np.any(np.diff(trips.req_ptr) >= 2))
    assert shared > CASES // 4  # the cases do pool riders
    assert time.perf_counter() - start < 20
