"""Bus network redesign, the planners' wing: the transit route network design problem (TNDP).

* :class:`TransitProblem`, :class:`RouteRules` — a planning graph of stops with link times,
  demand and the rules of a route set (:mod:`planning.problem`);
* :func:`read_cec` — the CEC-2013 benchmark files (Mandl, Mumford0-3) and their published
  rules (:data:`CEC_INSTANCES`);
* route sets (:mod:`planning.routeset`): :func:`read_route_set`, :func:`write_route_set` and
  the independent feasibility check :func:`check_route_set`;
* :class:`Evaluator`, :func:`evaluate` — passengers' journeys with transfers (ATT, d0..dun),
  total route time, circuity and overlap, route loads (a Numba kernel).

This room imports :mod:`routing` only; the simulator, the engine and the command line import it.
"""

from .cec import CEC_INSTANCES, CecInstance, read_cec
from .errors import InvalidRouteSetError, PlanningError, PlanningFileError
from .evaluate import Evaluation, Evaluator, evaluate
from .problem import TRANSFER_PENALTY_MIN, RouteRules, TransitProblem
from .routeset import (
    RouteSet,
    as_route_set,
    check_route_set,
    flatten,
    read_published_route_sets,
    read_route_set,
    validate_route_set,
    write_route_set,
)

__all__ = [
    "CEC_INSTANCES",
    "TRANSFER_PENALTY_MIN",
    "CecInstance",
    "Evaluation",
    "Evaluator",
    "InvalidRouteSetError",
    "PlanningError",
    "PlanningFileError",
    "RouteRules",
    "RouteSet",
    "TransitProblem",
    "as_route_set",
    "check_route_set",
    "evaluate",
    "flatten",
    "read_cec",
    "read_published_route_sets",
    "read_route_set",
    "validate_route_set",
    "write_route_set",
]
