"""The offline solver's warm-up: compile (or load from Numba's cache) the kernels of
:func:`routing.solve.solve` before anything is timed. :func:`routing.warm_up` does the same for
the shortest-path kernels.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .problem import DELIVERY, END, PICKUP, START, PDProblem

__all__ = ["warm_up_solver"]


def warm_up_solver() -> dict[str, Any]:
    """Run our solver briefly on a tiny problem so that every kernel is compiled before timing.

    Returns ``{"seconds": ..., "compiled": bool}``: ``compiled`` is False when Numba loaded
    every kernel from its on-disk cache instead of compiling it.
    """
    from . import alns
    from .solve import MaxIterations, solve

    problem = _tiny_problem()
    t0 = time.perf_counter()
    solve(problem, stop=MaxIterations(50), seed=0)
    solve(problem.replace(objective="vehicles"), stop=MaxIterations(50), seed=0)
    seconds = time.perf_counter() - t0
    stats = getattr(alns.alns_iterations, "stats", None)
    compiled = bool(stats is None or sum(stats.cache_misses.values()) > 0)
    return {"seconds": round(seconds, 3), "compiled": compiled}


def _tiny_problem() -> PDProblem:
    """Three requests on a line, two vehicles, ride-time and duration limits: touches every kernel path."""
    xs = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0])
    distance = np.abs(xs[:, None] - xs[None, :])
    kind = [START, PICKUP, PICKUP, PICKUP, DELIVERY, DELIVERY, DELIVERY, END]
    return PDProblem.create(
        name="warm-up",
        kind=kind,
        tw_early=np.zeros(8),
        tw_late=np.full(8, 100.0),
        service=np.ones(8),
        demand=[0, 1, 1, 1, -1, -1, -1, 0],
        pickup=[1, 2, 3],
        delivery=[4, 5, 6],
        vehicle_start=[0, 0],
        vehicle_end=[7, 7],
        capacity=[[2], [2]],
        travel_time=distance,
        max_ride=np.full(3, 30.0),
        max_duration=np.full(2, 90.0),
    )
