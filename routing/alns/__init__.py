"""Adaptive large neighbourhood search (ALNS) for pickup-and-delivery problems, in Numba.

One iteration removes some requests from the current solution (destroy) and puts them
back (repair); the result is accepted by simulated annealing, following Ropke & Pisinger
(2006). The package is split by role:

* :mod:`.destroy` — random, worst, related (Shaw), whole routes, strings (SISR);
* :mod:`.repair` — greedy, regret-2/-3, with noise, sequential;
* :mod:`.construction` — a first solution (or the completion of a given one);
* :mod:`.local_search` — relocation and ejection on every new best solution;
* :mod:`.neighbours` — each request's nearest requests (the ejection's partners);
* :mod:`.blocks` — exchange of blocks of stops where the vehicles are empty (CROSS
  exchange, 2-opt*), on every candidate;
* :mod:`.search` — the iteration loop (:func:`alns_iterations`): operator choice, annealing,
  adaptive weights;
* :mod:`.edits` — route edits and backups the others share.

Operator weights adapt to how often each operator yields a new best, a better or an
accepted solution. A request that cannot be inserted stays unassigned at a large penalty,
so the search may pass through incomplete solutions. Every insertion is checked exactly by
:mod:`routing.schedule`. The kernels read the problem as a
:class:`~routing.schedule.ProblemArrays` and the routes as a
:class:`~routing.schedule.RouteState`.

The iteration kernel works in place on the current solution and keeps a backup of every
route it touches, so rejecting a candidate restores only those routes. The Python driver
(:mod:`routing.solve`) runs it in short batches between deadline checks.
"""

from .blocks import BlockWorkspace, block_polish, block_workspace
from .construction import construct
from .destroy import (
    D_RANDOM,
    D_RELATED,
    D_ROUTE,
    D_STRING,
    D_WORST,
    DESTROY_NAMES,
    MAX_STRING,
    NUM_DESTROY,
    select_requests,
    select_strings,
)
from .edits import (
    Backup,
    RequestArrays,
    backup_for,
    count_used,
    insert_nodes,
    node_positions,
    remove_marked,
    solution_cost,
)
from .local_search import eject_polish, polish
from .neighbours import request_neighbours
from .repair import (
    NUM_REPAIR,
    R_GREEDY,
    R_GREEDY_NOISE,
    R_REGRET2,
    R_REGRET2_NOISE,
    R_REGRET3,
    R_SEQUENTIAL,
    REPAIR_NAMES,
    best_vehicle,
    repair,
)
from .search import (
    POLISH_EJECT,
    POLISH_NONE,
    POLISH_RELOCATE,
    AlnsParams,
    BestSolution,
    SearchState,
    alns_iterations,
    seed_rng,
)

__all__ = [
    "DESTROY_NAMES",
    "D_RANDOM",
    "D_RELATED",
    "D_ROUTE",
    "D_STRING",
    "D_WORST",
    "MAX_STRING",
    "NUM_DESTROY",
    "NUM_REPAIR",
    "POLISH_EJECT",
    "POLISH_NONE",
    "POLISH_RELOCATE",
    "REPAIR_NAMES",
    "R_GREEDY",
    "R_GREEDY_NOISE",
    "R_REGRET2",
    "R_REGRET2_NOISE",
    "R_REGRET3",
    "R_SEQUENTIAL",
    "AlnsParams",
    "Backup",
    "BestSolution",
    "BlockWorkspace",
    "RequestArrays",
    "SearchState",
    "alns_iterations",
    "backup_for",
    "best_vehicle",
    "block_polish",
    "block_workspace",
    "construct",
    "count_used",
    "eject_polish",
    "insert_nodes",
    "node_positions",
    "polish",
    "remove_marked",
    "repair",
    "request_neighbours",
    "seed_rng",
    "select_requests",
    "select_strings",
    "solution_cost",
]
