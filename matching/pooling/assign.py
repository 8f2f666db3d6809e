"""The batch assignment of the shared taxi: one trip per taxi, chosen for the whole batch at once.

Given every trip of a batch (:class:`~matching.pooling.tripset.Trips`), :func:`assign` chooses
one trip per taxi so that every promised (ASSIGNED) request is served exactly once, every OPEN
request at most once, and the sum of the chosen trips' costs plus
``params.unserved_penalty_s`` per unserved open request is least: the integer program of
Alonso-Mora et al. (PNAS 2017), solved with OR-Tools CP-SAT.

**Allowed trips.** A trip may be chosen when it is ``feasible``, or when it is its taxi's EMPTY
trip (no requests) or CURRENT trip (exactly the requests now ASSIGNED to the taxi): those two
are allowed even when no longer feasible (the contract of :mod:`matching.pooling.tripset`), so
that an assignment keeping every promise always exists.

**How** (steps 1-3 are exact: they never lose the optimum):

1. *Reduced costs.* A trip's cost minus ``unserved_penalty_s`` per open request it serves;
   the objective is the penalty of every open request plus the sum of the chosen reduced costs.
2. *Presolve.* A trip that holds no promise and whose reduced cost is no less than that of its
   taxi's EMPTY trip is dropped, and so is a trip that holds exactly its taxi's promises plus
   open requests and is no better than its CURRENT trip: swapping it for that trip keeps every
   constraint and never costs more.
3. *Components.* Taxis and requests are linked by the remaining trips; components are
   independent problems. A taxi alone in its component takes its cheapest trip holding all
   its promises (no other taxi competes for anything it could serve). The taxis of the other
   components are decided together (step 5).
4. *Greedy and warm start.* :func:`greedy_assign`'s answer is computed first (a Numba kernel,
   milliseconds); the warm start is the better of it and the caller's ``hint``. When no solver
   finds a solution in time, the answer is that better one (status ``"greedy"``).
5. *The coupled taxis.* The model: a Boolean per trip, ``exactly_one`` per taxi and per
   promised request, ``at_most_one`` per open request, the reduced costs as the objective.
   Up to :data:`DIRECT_CP_SAT_TRIPS` trips, CP-SAT solves it whole. Larger models (a
   Manhattan peak: 2,000 coupled taxis, 10^4 - 10^5 trips) cost CP-SAT seconds of presolve
   before its first step, so they are guided by the LP relaxation, solved by OR-Tools' GLOP
   (a fraction of a second; its optimum ``z`` bounds the objective from below, and it is
   nearly integral): CP-SAT first solves the model restricted to the LP's support, the warm
   start and the EMPTY and CURRENT trips (a few thousand trips); with the best objective
   ``u`` found, LP duality says a trip whose LP reduced cost exceeds ``u - z`` is in no better
   assignment, so the model is widened to the other trips (least reduced cost first, at
   most :data:`MAX_MODEL_TRIPS` trips, doubling each round) and solved again from the best
   answer, until no trip is left out (proven optimal), ``u`` meets the bound (proven
   optimal), or the budget is spent (status ``"feasible"``; :class:`AssignStats` and the
   benchmark give the gap to ``z``).

**Determinism.** Everything but the solvers' stopping is deterministic (GLOP too). CP-SAT runs
on one worker with a fixed seed, and its limit is *deterministic* time (``max_deterministic_time``;
:data:`DETERMINISTIC_S_PER_S` units per second of ``time_limit_s`` in all, shared by the
rounds), which does not depend on the machine's load. The wall-clock limit (what is left of
``time_limit_s``, for GLOP and CP-SAT alike) is only a safety net: the same input gives the
same answer as long as it does not stop a solver first; on a loaded or slow machine it may,
and then the answer (never its validity) can differ. ``solve_s`` is wall-clock time.

**Why a hand-written kernel.** The greedy scans up to 10^5 trips in order, each against the
requests already served and the promises each taxi still holds; that is a serial loop with
early exits over CSR arrays, which no library provides and which NumPy cannot vectorise.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from ortools.linear_solver.python import model_builder_helper
from ortools.sat.python import cp_model, cp_model_helper
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from routing.config import kernel

from ..checks import check_float, check_int
from ..errors import InvalidValueError
from .batch import ASSIGNED, ONBOARD, OPEN, BatchRequests
from .params import PoolingParams
from .tripset import Assignment, Trips

__all__ = [
    "DETERMINISTIC_S_PER_S",
    "DIRECT_CP_SAT_TRIPS",
    "MAX_MODEL_TRIPS",
    "MAX_TRIP_COST",
    "AssignStats",
    "assign",
    "assign_with_stats",
    "greedy_assign",
]

#: CP-SAT deterministic time granted per second of ``time_limit_s``. On the shared 2-core
#: development machine a unit of CP-SAT's deterministic time took 4 - 6 s of CPU time on these
#: models (``benchmarks/pooling_assign.py``), so 0.1 leaves about half of the budget to CP-SAT
#: and the rest to the checks, the greedy scans and the LP.
DETERMINISTIC_S_PER_S = 0.1
#: Largest trip cost accepted (seconds): sums over 10^6 trips stay far inside ``int64``.
MAX_TRIP_COST = 10**12
#: Coupled models up to this many trips go to CP-SAT whole; larger ones are guided by the LP.
DIRECT_CP_SAT_TRIPS = 3000
#: Most trips of the second, widened CP-SAT model of the LP-guided solve.
MAX_MODEL_TRIPS = 8000
#: Tolerance on LP values and on the LP bound (relative to the bound's size).
_LP_TOL = 1e-6
#: Wall-clock time kept back from the solvers, in seconds and as a share of ``time_limit_s``:
#: they check their limits now and then and overshoot them a little, and the answer is read
#: and checked after them (measured: up to 50 ms past the limit on a loaded 2-core machine).
_RESERVE_S = 0.02
_RESERVE_SHARE = 0.05


class _Table(NamedTuple):
    """The greedy kernel's view of the allowed trips (trip indices are those of :class:`Trips`)."""

    vehicle: NDArray[np.int64]
    """[T] taxi of each trip."""
    req_ptr: NDArray[np.int64]
    """[T+1] CSR pointers into ``req``."""
    req: NDArray[np.int64]
    """Requests of each trip."""
    reduced_cost: NDArray[np.int64]
    """[T] cost minus the penalty of each open request served."""
    by_vehicle_ptr: NDArray[np.int64]
    """[V+1] taxi ``v``'s allowed trips are ``by_vehicle[by_vehicle_ptr[v]:by_vehicle_ptr[v+1]]``."""
    by_vehicle: NDArray[np.int64]
    """Allowed trip indices grouped by taxi, ascending within a taxi."""


class _Batch(NamedTuple):
    """A checked batch, with what every step derives from it."""

    trips: Trips
    num_vehicles: int
    penalty: int
    owner: NDArray[np.int64]
    """[R] the taxi a request is promised to (ASSIGNED), else -1."""
    is_open: NDArray[np.bool_]
    onboard: NDArray[np.bool_]
    reduced_cost: NDArray[np.int64]
    keep: NDArray[np.bool_]
    """[T] allowed and not dominated (the trips every step chooses from)."""
    holds_promises: NDArray[np.bool_]
    """[T] the trip holds all its taxi's promises and no other taxi's."""
    anchor: NDArray[np.bool_]
    """[T] the trip is its taxi's EMPTY or CURRENT trip."""
    trip_of: NDArray[np.int64]
    """[nnz] the trip of each entry of ``trips.req``."""


class AssignStats(NamedTuple):
    """How one :func:`assign_with_stats` call went (wall-clock seconds; counts of trips and taxis)."""

    trips: int
    """Trips given."""
    kept_trips: int
    """Trips left after the allowed-trip filter and the presolve."""
    coupled_taxis: int
    """Taxis sharing their component with another taxi (the ones CP-SAT decides)."""
    model_trips: int
    """Booleans of the CP-SAT models (0 when none was needed)."""
    prepare_s: float
    """Checks, reduced costs and presolve."""
    greedy_s: float
    """The greedy scans (the fallback and warm start)."""
    build_s: float
    """Components, lone taxis, the CP-SAT models and the answer."""
    lp_s: float
    """The LP relaxation (GLOP) of a large coupled model (0 when not run)."""
    cp_sat_s: float
    """CP-SAT's solves (0 when not run)."""
    deterministic_time: float
    """CP-SAT's deterministic time used (0 when not run)."""
    cp_sat_status: str
    """How the coupled taxis' solve ended: ``OPTIMAL`` (proven), ``FEASIBLE``, CP-SAT's
    ``UNKNOWN`` (no solution in time), ..., or ``"not run"``."""
    fallback_objective: int
    """Objective of the fallback (the better of the greedy and the hint)."""
    lower_bound: int | None
    """No assignment has a lower objective (the objective itself when proven optimal; from the
    LP bound in an LP-guided solve; None when unknown)."""


def assign(
    trips: Trips,
    requests: BatchRequests,
    params: PoolingParams,
    *,
    num_vehicles: int,
    time_limit_s: float | None = None,
    hint: NDArray[np.int64] | None = None,
) -> Assignment:
    """Choose one trip per taxi: every promise kept, least cost plus penalties (see the module docstring).

    Args:
        trips: the batch's trips; every taxi ``0 .. num_vehicles - 1`` needs its EMPTY trip
            and its CURRENT trip (the same trip when it holds no promise).
        requests: the batch's requests (OPEN, ASSIGNED, ONBOARD); trips hold open and
            assigned ones only.
        params: ``unserved_penalty_s`` and, as the default time limit, ``batch_deadline_s``.
        num_vehicles: ``V``, the taxis of the batch.
        time_limit_s: wall-clock budget of the whole call (0 .. 600 s; 0 gives the fallback
            at once); None: ``params.batch_deadline_s``.
        hint: a trip index per taxi (``[V]``, each a trip of that taxi), e.g. the CURRENT
            trips: CP-SAT's warm start when it is a valid assignment no worse than the greedy one.

    Returns:
        The :class:`Assignment`; its status is ``"optimal"`` (also when no taxi competes with
        another and CP-SAT is not needed), ``"feasible"`` (CP-SAT stopped at its limit) or
        ``"greedy"`` (the fallback: CP-SAT found nothing in time or failed).

    Raises:
        InvalidValueError: naming the field (``trips.cost``, ``requests.state``, ``hint``, ...)
            whose value is out of its allowed range, or whose length does not match.
    """
    return assign_with_stats(trips, requests, params, num_vehicles=num_vehicles, time_limit_s=time_limit_s, hint=hint)[
        0
    ]


def assign_with_stats(
    trips: Trips,
    requests: BatchRequests,
    params: PoolingParams,
    *,
    num_vehicles: int,
    time_limit_s: float | None = None,
    hint: NDArray[np.int64] | None = None,
) -> tuple[Assignment, AssignStats]:
    """:func:`assign`, with how the call went (sizes and the time of each step)."""
    start = time.perf_counter()
    if time_limit_s is None:
        time_limit_s = params.batch_deadline_s
    limit_s = check_float("time_limit_s", time_limit_s, 0.0, 600.0, unit="s")
    batch = _prepare(trips, requests, params, num_vehicles)
    hint_trips = None if hint is None else _check_hint(hint, batch)
    prepared = time.perf_counter()

    fallback = _fallback(batch, hint_trips)
    fallback_objective = _objective(batch, fallback)
    greedy_done = time.perf_counter()

    chosen = _cheapest_holding_promises(batch)  # the optimum of every taxi alone in its component
    coupled_taxis = _coupled_taxis(batch)
    chosen[coupled_taxis] = fallback[coupled_taxis]
    status = "optimal"
    solve = _Solve(0, 0.0, 0.0, "not run", None, False)
    if coupled_taxis.size:
        status = "greedy"
        coupled = batch.keep & np.isin(batch.trips.vehicle, coupled_taxis)
        solve = _solve_coupled(batch, np.flatnonzero(coupled), fallback, limit_s, start)
        if solve.chosen is not None:
            candidate = chosen.copy()
            candidate[coupled_taxis] = solve.chosen[coupled_taxis]
            # CP-SAT starts from the fallback; this only guards against a worse answer at its limit.
            if _objective(batch, candidate) <= _objective(batch, chosen):
                chosen = candidate
                status = "optimal" if solve.optimal else "feasible"
    assignment = _result(batch, chosen, status, start)
    lower_bound = assignment.objective if status == "optimal" else None
    if status != "optimal" and solve.bound is not None:
        # The coupled taxis' LP bound, plus what the lone taxis and the penalties cost.
        lone = np.ones(num_vehicles, np.bool_)
        lone[coupled_taxis] = False
        coupled_floor = math.ceil(solve.bound - _LP_TOL * (1.0 + abs(solve.bound)))
        lower_bound = (
            batch.penalty * int(np.count_nonzero(batch.is_open))
            + int(batch.reduced_cost[chosen[lone]].sum())
            + coupled_floor
        )
    stats = AssignStats(
        trips=batch.trips.size,
        kept_trips=int(np.count_nonzero(batch.keep)),
        coupled_taxis=int(coupled_taxis.size),
        model_trips=solve.model_trips,
        prepare_s=prepared - start,
        greedy_s=greedy_done - prepared,
        build_s=max(assignment.solve_s - (greedy_done - start) - solve.solve_s - solve.lp_s, 0.0),
        lp_s=solve.lp_s,
        cp_sat_s=solve.solve_s,
        deterministic_time=solve.deterministic_time,
        cp_sat_status=solve.status,
        fallback_objective=fallback_objective,
        lower_bound=lower_bound,
    )
    return assignment, stats


def greedy_assign(trips: Trips, requests: BatchRequests, params: PoolingParams, *, num_vehicles: int) -> Assignment:
    """A quick assignment that keeps every promise (status ``"greedy"``); :func:`assign`'s fallback.

    Trips are scanned in three orders and the best answer is kept: Alonso-Mora's (most requests
    first, then cheapest), by reduced cost (cheapest after penalties first), and by added cost
    per open request served (a trip's cost beyond its taxi's CURRENT trip, divided by its open
    requests; trips with none last), which did best on the benchmark's batches.
    A scan starts with every taxi free, each falling back on a trip that holds exactly its
    promises not yet served (at first, its CURRENT trip). It accepts trip ``t`` of free taxi
    ``v`` when

    * none of ``t``'s requests is served by a trip already accepted;
    * ``t`` holds all of ``v``'s promises not yet served (those it drops are served already);
    * every other free taxi ``w`` whose promise ``t`` takes still has an allowed trip holding
      exactly its promises left (its new fallback).

    Then every taxi left free takes its fallback. Why every promise is served exactly once:
    accepted trips are disjoint; a free taxi always has a fallback (true at the start, and
    checked for every taxi whose promises an accepted trip takes); a taxi's promises are
    served by its accepted trip, by trips accepted before it, or by its fallback, and the
    fallbacks hold only their own taxi's promises not yet served. A free taxi's promise is
    never in an accepted trip of another taxi ``u``, or ``u`` would have served it when
    accepting. Only allowed trips are taken (:func:`assign`'s presolve applies too).
    """
    start = time.perf_counter()
    batch = _prepare(trips, requests, params, num_vehicles)
    chosen = _fallback(batch, None)
    return _result(batch, chosen, "greedy", start)


# --- checks ---------------------------------------------------------------------------------


def _int_array(field: str, value: object, length: int | None, what: str) -> NDArray[np.int64]:
    array = np.asarray(value)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise InvalidValueError(field, f"expected a 1-D integer array, got {array.dtype} of shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise InvalidValueError(field, f"has {array.shape[0]} entries; expected {length} ({what})")
    return array.astype(np.int64, copy=False)


def _check_range(field: str, values: NDArray[np.int64], lo: int, hi: int, unit: str = "") -> None:
    bad = np.flatnonzero((values < lo) | (values > hi))
    if bad.size:
        k = int(bad[0])
        suffix = f" {unit}" if unit else ""
        raise InvalidValueError(field, f"entry {k} is {int(values[k])}", f"{lo} .. {hi}{suffix}")


def _check_ptr(field: str, ptr: NDArray[np.int64], total: int, of: str) -> None:
    if ptr[0] != 0 or ptr[-1] != total:
        raise InvalidValueError(field, f"runs from {int(ptr[0])} to {int(ptr[-1])}; expected 0 to {total} (len({of}))")
    down = np.flatnonzero(np.diff(ptr) < 0)
    if down.size:
        k = int(down[0])
        raise InvalidValueError(field, f"decreases at entry {k + 1} ({int(ptr[k])} then {int(ptr[k + 1])})")


def _prepare(trips: Trips, requests: BatchRequests, params: PoolingParams, num_vehicles: int) -> _Batch:
    """Check the batch (every error names its field) and derive what the steps share."""
    if not isinstance(params, PoolingParams):
        raise InvalidValueError("params", f"expected PoolingParams, got {type(params).__name__}")
    num_vehicles = check_int("num_vehicles", num_vehicles, 0, 10**7)
    vehicle = _int_array("trips.vehicle", trips.vehicle, None, "")
    size = vehicle.shape[0]
    req_ptr = _int_array("trips.req_ptr", trips.req_ptr, size + 1, "one more than trips.vehicle")
    req = _int_array("trips.req", trips.req, None, "")
    cost = _int_array("trips.cost", trips.cost, size, "one per trip, like trips.vehicle")
    feasible = np.asarray(trips.feasible)
    if feasible.ndim != 1 or feasible.dtype != np.bool_:
        raise InvalidValueError("trips.feasible", f"expected a 1-D bool array, got {feasible.dtype}")
    if feasible.shape[0] != size:
        raise InvalidValueError("trips.feasible", f"has {feasible.shape[0]} entries; expected {size} (one per trip)")
    stop_ptr = _int_array("trips.stop_ptr", trips.stop_ptr, size + 1, "one more than trips.vehicle")
    stops = np.asarray(trips.stops)
    _check_ptr("trips.stop_ptr", stop_ptr, stops.shape[0], "trips.stops")
    if np.asarray(trips.stop_time).shape != stops.shape:
        raise InvalidValueError("trips.stop_time", f"has shape {np.shape(trips.stop_time)}; expected {stops.shape}")
    _check_ptr("trips.req_ptr", req_ptr, req.shape[0], "trips.req")
    _check_range("trips.vehicle", vehicle, 0, num_vehicles - 1)
    _check_range("trips.cost", cost, 0, MAX_TRIP_COST, "s")

    num_requests = int(np.asarray(requests.state).shape[0])
    for name in BatchRequests.__annotations__:  # the fields, in order
        length = np.asarray(getattr(requests, name)).shape
        if length != (num_requests,):
            raise InvalidValueError(
                f"requests.{name}", f"has shape {length}; expected ({num_requests},) like requests.state"
            )
    state = _int_array("requests.state", requests.state, num_requests, "one per request")
    _check_range("requests.state", state, OPEN, ONBOARD)
    req_vehicle = _int_array("requests.vehicle", requests.vehicle, num_requests, "one per request")
    promised = state != OPEN
    bad = np.flatnonzero(promised & ((req_vehicle < 0) | (req_vehicle >= num_vehicles)))
    if bad.size:
        r = int(bad[0])
        raise InvalidValueError(
            "requests.vehicle",
            f"request {r} is {'assigned' if state[r] == ASSIGNED else 'on board'} to taxi {int(req_vehicle[r])}",
            f"0 .. {num_vehicles - 1} for an assigned or on-board request",
        )
    _check_range("trips.req", req, 0, num_requests - 1)
    trip_of = np.repeat(np.arange(size, dtype=np.int64), np.diff(req_ptr))
    same_trip = trip_of[1:] == trip_of[:-1]
    bad = np.flatnonzero(same_trip & (req[1:] <= req[:-1]))
    if bad.size:
        t = int(trip_of[bad[0]])
        raise InvalidValueError(
            "trips.req", f"trip {t}'s requests {req[req_ptr[t] : req_ptr[t + 1]].tolist()} are not strictly ascending"
        )
    bad = np.flatnonzero(state[req] == ONBOARD)
    if bad.size:
        raise InvalidValueError(
            "trips.req",
            f"trip {int(trip_of[bad[0]])} holds request {int(req[bad[0]])}, which is on board",
            "open and assigned requests (on-board drop-offs are implied)",
        )

    owner = np.where(state == ASSIGNED, req_vehicle, -1)
    is_open = state == OPEN
    penalty = params.unserved_penalty_s
    open_count = np.bincount(trip_of, weights=is_open[req], minlength=size).astype(np.int64)
    own = np.bincount(trip_of, weights=owner[req] == vehicle[trip_of], minlength=size).astype(np.int64)
    promises_in = np.bincount(trip_of, weights=owner[req] >= 0, minlength=size).astype(np.int64)
    promises_of = np.bincount(owner[owner >= 0], minlength=num_vehicles).astype(np.int64)
    holds_promises = (own == promises_in) & (own == promises_of[vehicle])
    empty = req_ptr[1:] == req_ptr[:-1]
    current = holds_promises & (open_count == 0)
    for kind, mask in (("EMPTY", empty), ("CURRENT", current)):
        has = np.zeros(num_vehicles, np.bool_)
        has[vehicle[mask]] = True
        missing = np.flatnonzero(~has)
        if missing.size:
            v = int(missing[0])
            held = np.flatnonzero(owner == v).tolist()
            raise InvalidValueError(
                "trips",
                f"taxi {v} has no {kind} trip ({len(missing)} taxis lack one; taxi {v}'s promises: {held})",
                "every taxi's EMPTY trip and its CURRENT trip (exactly its assigned requests), even when infeasible",
            )
    reduced = cost - penalty * open_count
    # The cheapest EMPTY and CURRENT trip of each taxi (least reduced cost, then lowest index).
    best_empty = _cheapest_per_vehicle(vehicle, reduced, empty, num_vehicles)
    best_current = _cheapest_per_vehicle(vehicle, reduced, current, num_vehicles)
    allowed = feasible | empty | current
    dominated = ((promises_in == 0) & ~empty & (reduced >= reduced[best_empty[vehicle]])) | (
        holds_promises & (open_count > 0) & (reduced >= reduced[best_current[vehicle]])
    )
    keep = allowed & ~dominated
    return _Batch(
        trips=Trips(vehicle, req_ptr, req, cost, feasible, stop_ptr, trips.stops, trips.stop_time),
        num_vehicles=num_vehicles,
        penalty=penalty,
        owner=owner,
        is_open=is_open,
        onboard=state == ONBOARD,
        reduced_cost=reduced,
        keep=keep,
        holds_promises=holds_promises,
        anchor=empty | current,
        trip_of=trip_of,
    )


def _check_hint(hint: object, batch: _Batch) -> NDArray[np.int64]:
    values = _int_array("hint", hint, batch.num_vehicles, "one trip index per taxi")
    _check_range("hint", values, 0, batch.trips.size - 1)
    bad = np.flatnonzero(batch.trips.vehicle[values] != np.arange(batch.num_vehicles))
    if bad.size:
        v = int(bad[0])
        raise InvalidValueError(
            "hint",
            f"entry {v} is trip {int(values[v])}, of taxi {int(batch.trips.vehicle[values[v]])}",
            "a trip of taxi v",
        )
    return values


# --- steps ----------------------------------------------------------------------------------


def _cheapest_per_vehicle(
    vehicle: NDArray[np.int64], reduced: NDArray[np.int64], mask: NDArray[np.bool_], num_vehicles: int
) -> NDArray[np.int64]:
    """[V] the trip with the least reduced cost (then lowest index) among ``mask``, -1 where none."""
    candidates = np.flatnonzero(mask)
    order = candidates[np.lexsort((candidates, reduced[candidates], vehicle[candidates]))]
    best = np.full(num_vehicles, -1, np.int64)
    # Assigning in reverse leaves the first (cheapest) trip of each taxi.
    best[vehicle[order[::-1]]] = order[::-1]
    return best


def _cheapest_holding_promises(batch: _Batch) -> NDArray[np.int64]:
    """[V] each taxi's cheapest kept trip that holds exactly its promises (plus open requests):
    the optimum of a taxi alone in its component."""
    mask = batch.keep & batch.holds_promises
    return _cheapest_per_vehicle(batch.trips.vehicle, batch.reduced_cost, mask, batch.num_vehicles)


def _coupled_taxis(batch: _Batch) -> NDArray[np.int64]:
    """The taxis that share their component (taxis and requests linked by kept trips) with another taxi."""
    num_vehicles = batch.num_vehicles
    num_requests = batch.owner.shape[0]
    entries = batch.keep[batch.trip_of]
    rows = batch.trips.vehicle[batch.trip_of[entries]]
    cols = num_vehicles + batch.trips.req[entries]
    nodes = num_vehicles + num_requests
    graph = coo_matrix((np.ones(rows.shape[0], np.int8), (rows, cols)), shape=(nodes, nodes)).tocsr()
    _, labels = connected_components(graph, directed=False)
    taxi_labels = labels[:num_vehicles]
    taxis_in = np.bincount(taxi_labels, minlength=nodes)
    return np.flatnonzero(taxis_in[taxi_labels] > 1)


def _table(batch: _Batch) -> _Table:
    kept = np.flatnonzero(batch.keep)
    vehicle = batch.trips.vehicle
    by_vehicle = kept[np.argsort(vehicle[kept], kind="stable")]
    ptr = np.zeros(batch.num_vehicles + 1, np.int64)
    np.cumsum(np.bincount(vehicle[kept], minlength=batch.num_vehicles), out=ptr[1:])
    return _Table(vehicle, batch.trips.req_ptr, batch.trips.req, batch.reduced_cost, ptr, by_vehicle)


def _fallback(batch: _Batch, hint: NDArray[np.int64] | None) -> NDArray[np.int64]:
    """The best of the greedy scans and of the hint (when it is a valid assignment)."""
    table = _table(batch)
    kept = np.flatnonzero(batch.keep)
    size = np.diff(batch.trips.req_ptr)[kept]
    orders = (
        kept[np.lexsort((kept, batch.trips.cost[kept], -size))],  # Alonso-Mora: largest, then cheapest
        kept[np.lexsort((kept, batch.reduced_cost[kept]))],  # cheapest after penalties
        kept[np.lexsort((kept, _added_cost_per_request(batch)[kept]))],  # cheapest per request served
    )
    best: NDArray[np.int64] | None = None
    best_objective = 0
    for order in orders:
        chosen = _greedy_kernel(table, batch.owner, order, batch.num_vehicles)
        assert _is_valid(batch, chosen), "the greedy scan broke a promise"
        objective = _objective(batch, chosen)
        if best is None or objective < best_objective:
            best, best_objective = chosen, objective
    assert best is not None
    if hint is not None and _is_valid(batch, hint):
        objective = _objective(batch, hint)
        if objective < best_objective:
            best = hint.copy()
    return best


def _added_cost_per_request(batch: _Batch) -> NDArray[np.float64]:
    """[T] what a trip costs beyond its taxi's CURRENT trip, per open request it serves."""
    trips = batch.trips
    current = _cheapest_per_vehicle(
        trips.vehicle, batch.reduced_cost, batch.anchor & batch.holds_promises, batch.num_vehicles
    )
    opened = (trips.cost - batch.reduced_cost) // batch.penalty
    added = (trips.cost - trips.cost[current[trips.vehicle]]) / np.maximum(opened, 1)
    return np.where(opened > 0, added, np.inf)


def _entries(req_ptr: NDArray[np.int64], trips: NDArray[np.int64]) -> NDArray[np.int64]:
    """Positions in ``req`` of the requests of ``trips``, trip after trip."""
    starts = req_ptr[trips]
    sizes = req_ptr[trips + 1] - starts
    total = int(sizes.sum())
    return np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(total, dtype=np.int64)


def _served(batch: _Batch, chosen: NDArray[np.int64]) -> NDArray[np.int64]:
    """How many chosen trips serve each request."""
    reqs = batch.trips.req[_entries(batch.trips.req_ptr, chosen)]
    return np.bincount(reqs, minlength=batch.owner.shape[0]).astype(np.int64)


def _is_valid(batch: _Batch, chosen: NDArray[np.int64]) -> bool:
    """Whether ``chosen`` (a trip per taxi) is an allowed assignment: kept trips, promises once, open at most once."""
    if not bool(np.all(batch.keep[chosen])):
        return False
    counts = _served(batch, chosen)
    return bool(np.all(counts[batch.owner >= 0] == 1) and np.all(counts <= 1))


def _objective(batch: _Batch, chosen: NDArray[np.int64]) -> int:
    counts = _served(batch, chosen)
    unserved = int(np.count_nonzero(batch.is_open & (counts == 0)))
    return int(batch.trips.cost[chosen].sum()) + batch.penalty * unserved


class _Solve(NamedTuple):
    model_trips: int
    solve_s: float
    deterministic_time: float
    status: str
    chosen: NDArray[np.int64] | None
    """A trip per taxi (-1 for taxis outside the model); None when no solver found a solution."""
    optimal: bool
    """``chosen`` is proven optimal for the coupled taxis."""
    lp_s: float = 0.0
    bound: float | None = None
    """The LP's lower bound on the model's reduced objective, when it was solved."""


def _solve_coupled(
    batch: _Batch, trips: NDArray[np.int64], warm: NDArray[np.int64], limit_s: float, start: float
) -> _Solve:
    """The coupled taxis' kept trips (``trips``): CP-SAT on all of them when they are few, else
    guided by the LP relaxation (see the module docstring)."""
    budget = limit_s * DETERMINISTIC_S_PER_S
    if trips.shape[0] <= DIRECT_CP_SAT_TRIPS:
        return _cp_sat(batch, trips, warm, budget, limit_s, start)
    taxis = np.unique(batch.trips.vehicle[trips])
    lp_start = time.perf_counter()
    lp = _lp_relaxation(batch, trips, _left_s(limit_s, start))
    lp_s = time.perf_counter() - lp_start
    if lp is None:
        return _cp_sat(batch, trips, warm, budget, limit_s, start)._replace(lp_s=lp_s)
    bound, values, reduced = lp
    floor = math.ceil(bound - _LP_TOL * (1.0 + abs(bound)))  # no assignment's reduced objective is lower
    slack = _LP_TOL * (1.0 + abs(bound))
    # First model: the LP's support, the warm start, and every coupled taxi's EMPTY and CURRENT trips.
    inside = (values > _LP_TOL) | batch.anchor[trips] | np.isin(trips, warm[taxis])
    best = _Solve(0, 0.0, 0.0, "not run", None, False, lp_s, bound)
    upper = int(batch.reduced_cost[warm[taxis]].sum())
    cap = MAX_MODEL_TRIPS
    while True:
        result = _cp_sat(batch, trips[inside], warm, budget - best.deterministic_time, limit_s, start)
        best = best._replace(
            model_trips=best.model_trips + result.model_trips,
            solve_s=best.solve_s + result.solve_s,
            deterministic_time=best.deterministic_time + result.deterministic_time,
        )
        if result.chosen is None:
            return best
        value = int(batch.reduced_cost[result.chosen[taxis]].sum())
        if best.chosen is None or value < upper:
            best = best._replace(chosen=result.chosen, status="FEASIBLE")
            upper, warm = value, result.chosen
        # LP duality: an assignment choosing trip t has a reduced objective of at least
        # bound + reduced[t], so only trips with reduced[t] <= upper - bound can do better.
        wider = inside | (reduced <= upper - bound + slack)
        if upper <= floor or (result.optimal and not np.any(wider & ~inside)):
            return best._replace(status="OPTIMAL", optimal=True)
        if np.count_nonzero(wider) > cap:  # the least reduced costs first, up to the cap
            candidates = np.flatnonzero(wider & ~inside)
            room = max(cap - int(np.count_nonzero(inside)), 0)
            wider = inside.copy()
            wider[candidates[np.argsort(reduced[candidates], kind="stable")[:room]]] = True
        if not np.any(wider & ~inside) or best.deterministic_time >= budget:
            return best
        inside, cap = wider, 2 * cap


def _left_s(limit_s: float, start: float) -> float:
    """Wall-clock seconds a solver may still take."""
    return limit_s * (1.0 - _RESERVE_SHARE) - _RESERVE_S - (time.perf_counter() - start)


def _lp_relaxation(
    batch: _Batch, trips: NDArray[np.int64], left_s: float
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]] | None:
    """GLOP on the LP relaxation over ``trips``: its optimum, the values and the reduced costs
    (per trip, in ``trips``' order); None when it is not solved to optimality in ``left_s``."""
    if left_s <= 0:
        return None
    num = int(trips.shape[0])
    vehicle = batch.trips.vehicle[trips]
    taxis, taxi_row = np.unique(vehicle, return_inverse=True)
    sizes = np.diff(batch.trips.req_ptr)[trips]
    reqs = batch.trips.req[_entries(batch.trips.req_ptr, trips)]
    used, req_row = np.unique(reqs, return_inverse=True)
    rows = np.concatenate((taxi_row, taxis.shape[0] + req_row))
    cols = np.concatenate((np.arange(num), np.repeat(np.arange(num), sizes)))
    matrix = csr_matrix((np.ones(rows.shape[0]), (rows, cols)), shape=(taxis.shape[0] + used.shape[0], num))
    promised = (batch.owner[used] >= 0).astype(np.float64)
    lower = np.concatenate((np.ones(taxis.shape[0]), promised))
    upper = np.ones(lower.shape[0])
    model: Any = model_builder_helper.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        np.zeros(num), np.ones(num), batch.reduced_cost[trips].astype(np.float64), lower, upper, matrix
    )
    solver: Any = model_builder_helper.ModelSolverHelper("glop")
    # Measured on the benchmark's batches: the dual simplex without GLOP's presolve takes a
    # third of the default's time on these set-packing relaxations.
    solver.set_solver_specific_parameters("use_dual_simplex: true use_preprocessing: false")
    solver.set_time_limit_in_seconds(left_s)
    solver.solve(model)
    if solver.status() != model_builder_helper.SolveStatus.OPTIMAL:
        return None
    return float(solver.objective_value()), solver.variable_values(), solver.reduced_costs()


def _cp_sat(
    batch: _Batch, trips: NDArray[np.int64], warm: NDArray[np.int64], budget: float, limit_s: float, start: float
) -> _Solve:
    """CP-SAT over ``trips`` (kept trips of whole components), started from ``warm`` (a trip per
    taxi), within ``budget`` deterministic time and what is left of ``limit_s`` since ``start``."""
    num_vars = int(trips.shape[0])
    if budget <= 0 or _left_s(limit_s, start) <= 0:
        return _Solve(num_vars, 0.0, 0.0, "not run (no time left)", None, False)
    model = cp_model.CpModel()
    proto: Any = model.proto
    var = cp_model_helper.IntegerVariableProto()
    var.domain.extend((0, 1))
    proto.variables.extend([var] * num_vars)
    vehicle = batch.trips.vehicle[trips]
    # One trip per taxi.
    order = np.argsort(vehicle, kind="stable")
    _add_groups(proto, vehicle[order], order, exactly=True)
    # Promised requests exactly once, open requests at most once.
    sizes = np.diff(batch.trips.req_ptr)[trips]
    var_of_entry = np.repeat(np.arange(num_vars, dtype=np.int64), sizes)
    reqs = batch.trips.req[_entries(batch.trips.req_ptr, trips)]
    order = np.argsort(reqs, kind="stable")
    reqs, var_of_entry = reqs[order], var_of_entry[order]
    promised = batch.owner[reqs] >= 0
    _add_groups(proto, reqs[promised], var_of_entry[promised], exactly=True)
    _add_groups(proto, reqs[~promised], var_of_entry[~promised], exactly=False)
    proto.objective.vars.extend(range(num_vars))
    proto.objective.coeffs.extend(batch.reduced_cost[trips].tolist())
    # Warm start: a complete solution (the fallback, or the previous model's answer).
    position = np.full(batch.trips.size, -1, np.int64)
    position[trips] = np.arange(num_vars)
    values = np.zeros(num_vars, np.int64)
    hinted = position[warm[warm >= 0]]
    values[hinted[hinted >= 0]] = 1
    proto.solution_hint.vars.extend(range(num_vars))
    proto.solution_hint.values.extend(values.tolist())

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    solver.parameters.max_deterministic_time = budget
    # Measured on the batch benchmark: the full linear relaxation (at-most-ones included) finds
    # the optimum far sooner, and probing in presolve costs more than it saves.
    solver.parameters.linearization_level = 2
    solver.parameters.cp_model_probing_level = 0
    built = time.perf_counter()
    left_s = _left_s(limit_s, start)
    if left_s <= 0:
        return _Solve(num_vars, 0.0, 0.0, "not run (no time left)", None, False)
    solver.parameters.max_time_in_seconds = left_s
    code = solver.solve(model)
    solved = time.perf_counter()
    name = solver.status_name(code)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _Solve(num_vars, solved - built, solver.deterministic_time, name, None, False)
    solution = np.asarray(solver.response_proto.solution, dtype=np.int64)
    picked = trips[solution == 1]
    chosen = np.full(batch.num_vehicles, -1, np.int64)
    chosen[batch.trips.vehicle[picked]] = picked
    return _Solve(num_vars, solved - built, solver.deterministic_time, name, chosen, code == cp_model.OPTIMAL)


def _add_groups(proto: Any, keys: NDArray[np.int64], literals: NDArray[np.int64], *, exactly: bool) -> None:
    """One ``exactly_one`` (or ``at_most_one``, for groups of two or more) per run of equal ``keys``."""
    if keys.shape[0] == 0:
        return
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    bounds = np.concatenate(([0], cuts, [keys.shape[0]])).tolist()
    values = literals.tolist()
    for lo, hi in itertools.pairwise(bounds):
        if exactly:
            proto.constraints.add().exactly_one.literals.extend(values[lo:hi])
        elif hi - lo > 1:
            proto.constraints.add().at_most_one.literals.extend(values[lo:hi])


def _result(batch: _Batch, chosen: NDArray[np.int64], status: str, start: float) -> Assignment:
    counts = _served(batch, chosen)
    served = (counts > 0) | batch.onboard
    return Assignment(
        trip_of_vehicle=chosen,
        served=served,
        objective=_objective(batch, chosen),
        status=status,
        solve_s=time.perf_counter() - start,
    )


# --- the greedy kernel ----------------------------------------------------------------------


@kernel
def _fallback_trip(table: _Table, owner: NDArray[np.int64], served: NDArray[np.bool_], w: int, left: int) -> int:
    """Taxi ``w``'s cheapest allowed trip holding exactly its ``left`` promises not yet served; -1 if none."""
    best = -1
    for k in range(table.by_vehicle_ptr[w], table.by_vehicle_ptr[w + 1]):
        t = table.by_vehicle[k]
        lo, hi = table.req_ptr[t], table.req_ptr[t + 1]
        if hi - lo != left:
            continue
        ok = True
        for j in range(lo, hi):
            r = table.req[j]
            if owner[r] != w or served[r]:
                ok = False
                break
        if ok and (best < 0 or table.reduced_cost[t] < table.reduced_cost[best]):
            best = t
    return best


@kernel
def _greedy_kernel(table: _Table, owner: NDArray[np.int64], order: NDArray[np.int64], num_vehicles: int) -> Any:
    """The greedy scan of :func:`greedy_assign` over ``order``: a trip per taxi."""
    served = np.zeros(owner.shape[0], np.bool_)
    chosen = np.full(num_vehicles, -1, np.int64)
    left = np.zeros(num_vehicles, np.int64)  # promises of each taxi not yet served
    taken = np.zeros(num_vehicles, np.int64)  # scratch: promises of each taxi in the trip tried
    for r in range(owner.shape[0]):
        if owner[r] >= 0:
            left[owner[r]] += 1
    for t in order:
        v = table.vehicle[t]
        if chosen[v] >= 0:
            continue
        lo, hi = table.req_ptr[t], table.req_ptr[t + 1]
        ok = True
        own = 0
        for j in range(lo, hi):
            r = table.req[j]
            if served[r]:
                ok = False
                break
            if owner[r] == v:
                own += 1
        if not ok or own != left[v]:
            continue
        for j in range(lo, hi):
            r = table.req[j]
            served[r] = True
            if owner[r] >= 0 and owner[r] != v:
                taken[owner[r]] += 1
        for j in range(lo, hi):
            w = owner[table.req[j]]
            if ok and w >= 0 and w != v and _fallback_trip(table, owner, served, w, left[w] - taken[w]) < 0:
                ok = False
        for j in range(lo, hi):
            r = table.req[j]
            w = owner[r]
            if ok and w >= 0 and w != v:
                left[w] -= 1
            if not ok:
                served[r] = False
            if w >= 0:
                taken[w] = 0
        if ok:
            chosen[v] = t
            left[v] = 0
    for v in range(num_vehicles):
        if chosen[v] < 0:
            t = _fallback_trip(table, owner, served, v, left[v])
            chosen[v] = t
            for j in range(table.req_ptr[t], table.req_ptr[t + 1]):
                served[table.req[j]] = True
    return chosen
