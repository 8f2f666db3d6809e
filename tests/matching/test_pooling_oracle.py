"""The oracle of issue 16: on small random batches, the batch result (the trips of
:func:`~matching.pooling.trips.generate_trips` and the choice of
:func:`~matching.pooling.assign.assign`) equals the optimum of an exhaustive enumeration of
every way to give the requests to the taxis."""

from __future__ import annotations

import numpy as np

from matching.pooling.assign import assign
from matching.pooling.trips import generate_trips, warm_up
from routing import MatrixTimes
from tests.matching.pooling_cases import city_matrix, lookup, random_batch, random_params
from tests.naive import naive_batch_optimum

CASES = 400


def test_batch_result_equals_the_exhaustive_optimum() -> None:
    warm_up()  # compiling the kernels (first run on a machine) is not the test's time
    rng = np.random.default_rng(2026)
    shared = 0
    for case in range(CASES):
        matrix = city_matrix(case % 3)
        params = random_params(rng)
        req, veh = random_batch(
            rng, matrix, params, num_requests=int(rng.integers(1, 9)), num_vehicles=int(rng.integers(1, 4))
        )
        trips = generate_trips(req, veh, MatrixTimes(matrix), params)
        result = assign(trips, req, params, num_vehicles=veh.size)
        got = result.objective
        assert result.status == "optimal", f"case {case}: {result.status}"
        want = naive_batch_optimum(req, veh, lookup(matrix), params)
        assert got == want, f"case {case}: batch {got}, exhaustive {want}"
        shared += int(np.any(np.diff(trips.req_ptr) >= 2))
    assert shared > CASES // 4  # the cases do pool riders
