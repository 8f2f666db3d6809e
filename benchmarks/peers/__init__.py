"""Peer solvers measured beside ours: OR-Tools for the DARP, PyVRP for the PDPTW.

Each peer takes a :class:`~routing.problem.PDProblem`, models it in its own integer terms
(times and costs scaled by :data:`SCALE`, rounded so that a solution feasible in the integer
model is feasible in the float one) and returns a :class:`PeerResult` whose routes were
judged by :func:`routing.checker.check_solution` and whose cost is recomputed in float.

The peers import lazily (``from benchmarks.peers.ortools_darp import solve_with_ortools``),
so that a missing optional package only matters to the benchmark that needs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from routing.checker import check_solution
from routing.errors import InvalidArgumentError
from routing.problem import PDProblem

#: Times and costs are multiplied by this before rounding to integers.
SCALE = 100
#: Rounding slack in scaled units for upper limits only: a limit within it below an integer
#: counts as that integer, so that 30 * (1 - 1e-16) still scales to 3000, not 2999. It loosens
#: a limit by at most 1e-8 of a unit, far inside the checker's default tolerance (1e-6), and
#: cannot accumulate: lower bounds and travel times are rounded up exactly.
ROUNDING_SLACK = 1e-6


@dataclass
class PeerResult:
    """A peer's answer, judged by the checker.

    Attributes:
        routes: one list per vehicle (route ``k`` driven by vehicle ``k``; empty when unused),
            node ids in visiting order without depots, as :func:`check_solution` takes them.
        cost: total travel cost recomputed in float by the checker (not the peer's integer cost).
        num_vehicles: routes with at least one stop.
        runtime_s: wall time of the whole call (model building and search).
        status: ``"feasible"`` (the checker found no violation), ``"infeasible"`` (it did,
            for example requests the peer dropped) or ``"no-solution"``.
        violations: the checker's violations (empty when feasible).
        solver_status: the peer's own status word.
    """

    routes: list[list[int]]
    cost: float
    num_vehicles: int
    runtime_s: float
    status: str
    violations: list[str] = field(default_factory=list)
    solver_status: str = ""

    @property
    def feasible(self) -> bool:
        return self.status == "feasible"


def judged(problem: PDProblem, routes: list[list[int]] | None, runtime_s: float, solver_status: str) -> PeerResult:
    """A :class:`PeerResult` for the routes, with the checker's verdict and float cost."""
    if routes is None:
        return PeerResult([], math.nan, 0, runtime_s, "no-solution", [], solver_status)
    report = check_solution(problem, routes)
    status = "feasible" if report.feasible else "infeasible"
    return PeerResult(routes, report.cost, report.num_vehicles, runtime_s, status, report.violations, solver_status)


def check_time_limit(time_limit_s: float) -> float:
    """The time limit as a float; raises :class:`InvalidArgumentError` unless it is finite and > 0."""
    if not (isinstance(time_limit_s, (int, float)) and math.isfinite(time_limit_s) and time_limit_s > 0):
        raise InvalidArgumentError("time_limit_s", f"got {time_limit_s!r}", "a finite number of seconds > 0")
    return float(time_limit_s)


def scale_up(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Scaled and rounded up: for travel and service times (never shorter than the real ones)."""
    return np.ceil(np.asarray(values, np.float64) * SCALE).astype(np.int64)


def scale_down(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Scaled and rounded down: for closing times and upper limits (never looser than the real ones)."""
    return np.floor(np.asarray(values, np.float64) * SCALE + ROUNDING_SLACK).astype(np.int64)


def scale_round(values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Scaled and rounded to the nearest integer: for costs, which decide nothing about feasibility."""
    return np.rint(np.asarray(values, np.float64) * SCALE).astype(np.int64)
