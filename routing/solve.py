"""``solve(problem, stop=..., seed=...) -> Result``: the offline pickup-and-delivery solver.

>>> from routing.instances import read_cordeau_darp
>>> from routing.solve import solve, MaxRuntime
>>> result = solve(read_cordeau_darp("a2-16.txt"), stop=MaxRuntime(10), seed=1)
>>> result.cost, result.feasible, result.routes

The search is the ALNS of the package :mod:`routing.alns` over the exact schedule and insertion kernels
of :mod:`routing.schedule`. With ``objective == "vehicles"`` (Li & Lim) the search first
removes whole routes (a route's requests go back into the pool with one vehicle fewer; if the
search places them all, the smaller fleet is kept; a route that will not go leaves time to the
next shortest) until no route has gone for a while or a cap on the time is reached
(:class:`SolveParams` ``route_min_stall``, ``route_min_share``), and the rest minimises
distance with the fleet found. Stopping criteria are small objects: :class:`MaxRuntime`,
:class:`MaxIterations` and :class:`Deadline` (an absolute ``time.monotonic()`` instant,
as the live dispatcher uses). With :class:`MaxIterations` a run is reproducible
bit for bit for a given seed; with a time limit it is reproducible up to where it stops.

**Warm start.** ``initial_routes`` (a solution in the form of :attr:`Result.routes`) is where
the search starts: the live dispatcher passes its current plan, so that a re-optimisation
with a small budget improves that plan instead of starting over. Requests it leaves out are
inserted first; the search keeps the best solution it has seen, so with ``objective ==
"cost"`` and a start that serves every request the result costs no more than the start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from . import alns
from .errors import InvalidArgumentError, plain_repr
from .problem import PDProblem
from .schedule import TRAVEL_ONLY, empty_route_state, kernel_arrays, prepare_route

# ---------------------------------------------------------------------------- stopping criteria


class StoppingCriterion(Protocol):
    """Tells the solver when to stop, how far along it is (0..1, drives the cooling) and, for
    a clock, how many seconds are left (``None`` otherwise: kernel calls are not shortened)."""

    def start(self) -> None: ...

    def done(self, iterations: int) -> bool: ...

    def progress(self, iterations: int) -> float: ...

    def remaining_s(self) -> float | None: ...


@dataclass
class MaxRuntime:
    """Stop after ``seconds`` of wall-clock time."""

    seconds: float
    _t0: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise InvalidArgumentError("seconds", f"got {plain_repr(self.seconds)}", "> 0")

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def done(self, iterations: int) -> bool:
        return time.perf_counter() - self._t0 >= self.seconds

    def progress(self, iterations: int) -> float:
        return min(1.0, (time.perf_counter() - self._t0) / self.seconds)

    def remaining_s(self) -> float:
        return self.seconds - (time.perf_counter() - self._t0)


@dataclass
class MaxIterations:
    """Stop after ``iterations`` ALNS iterations (reproducible for a seed)."""

    iterations: int

    def __post_init__(self) -> None:
        if self.iterations < 0:
            raise InvalidArgumentError("iterations", f"got {plain_repr(self.iterations)}", ">= 0")

    def start(self) -> None:
        pass

    def done(self, iterations: int) -> bool:
        return iterations >= self.iterations

    def progress(self, iterations: int) -> float:
        return min(1.0, iterations / max(1, self.iterations))

    def remaining_s(self) -> None:
        return None


@dataclass
class Deadline:
    """Stop at the absolute instant ``at`` of ``time.monotonic()``."""

    at: float
    _t0: float = field(default=0.0, init=False, repr=False)

    def start(self) -> None:
        self._t0 = time.monotonic()

    def done(self, iterations: int) -> bool:
        return time.monotonic() >= self.at

    def progress(self, iterations: int) -> float:
        span = self.at - self._t0
        return 1.0 if span <= 0 else min(1.0, (time.monotonic() - self._t0) / span)

    def remaining_s(self) -> float:
        return self.at - time.monotonic()


@dataclass
class FirstOf:
    """Stop as soon as any of ``criteria`` says so (e.g. an iteration budget capped by a deadline).

    Progress is the furthest along of them, and the time left the least any clock reports."""

    criteria: tuple[StoppingCriterion, ...]

    def __post_init__(self) -> None:
        if not self.criteria:
            raise InvalidArgumentError("criteria", "got none", "at least one stopping criterion")

    def start(self) -> None:
        for c in self.criteria:
            c.start()

    def done(self, iterations: int) -> bool:
        return any(c.done(iterations) for c in self.criteria)

    def progress(self, iterations: int) -> float:
        return max(c.progress(iterations) for c in self.criteria)

    def remaining_s(self) -> float | None:
        left = [r for r in (c.remaining_s() for c in self.criteria) if r is not None]
        return min(left) if left else None


# ---------------------------------------------------------------------------- parameters and result


@dataclass(frozen=True)
class SolveParams:
    """Search parameters (the defaults are what the benchmarks use).

    Attributes:
        min_removed / max_removed_share / max_removed: requests removed per iteration.
        segment: iterations between operator-weight updates; reaction: their learning rate.
        noise: noise on insertion costs, as a share of the largest travel time.
        start_worse / end_worse: simulated annealing accepts a solution this much worse
            (as a share of the initial cost) with probability 1/2, at the start / at the end.
        route_min_share / route_min_stall: the time split of objective "vehicles". Routes are
            removed until ``route_min_share`` of the time (a cap), or earlier once no route was
            removed in the last ``route_min_stall`` of the time: an instance whose fleet falls
            quickly gives the rest to the distance, one whose routes keep going keeps removing.
            Within a stall window an attempt on a route gets half of the window's time left (the
            last candidate route all of it), so that a route that will not go leaves time to
            try the next shortest.
        batch_iterations: iterations per kernel call between deadline checks (fewer when
            less time is left than a full batch takes).
        polish: run the relocate local search on every new best solution, and with ``eject``
            the ejection search after it (the live dispatcher, which works against a deadline,
            leaves the ejection off). Only new bests that serve every request are polished while
            routes are being removed (objective "vehicles").
        granular: in the distance phase (after the fleet phase, or all of objective "cost"), the
            repair inserts a request only next to the stops of its ``neighbours`` nearest
            requests or a depot (granular neighbourhoods; the fleet phase and the first
            construction look at every position). Off by default: on Li & Lim 400 it made the
            distance phase of lr2_4_6 about a quarter faster per iteration but its distance
            worse, and insertions did not grow dearer with route length there
            (docs/solver_scale.md).
        neighbours: how many nearest requests (in space and time,
            :func:`routing.alns.neighbours.request_neighbours`) a request has: the ejection
            search's partners (a pass costs requests x neighbours insertions instead of
            requests x requests) and, with ``granular``, where the repair inserts it. 40 is
            HGS-CVRPTW's granular size; more than the requests less one means all of them.
        blocks: exchange blocks of stops between routes where the vehicles are empty
            (:func:`routing.alns.blocks.block_polish`) on every candidate solution. It judges moves
            by travel cost alone, so the live dispatcher, whose insertions also weigh riders'
            delays, leaves it off.
        travel_time_scale_s: the longest travel time the search measures by (relatedness of
            requests, the noise, the penalty of an unserved request); None: the largest entry
            of the problem's matrices. A caller whose matrix holds only the locations in use
            (the live dispatcher's location pool) gives the longest over all its places, so the
            search runs as it would over the full matrix.
    """

    min_removed: int = 2
    max_removed_share: float = 0.4
    max_removed: int = 40
    segment: int = 100
    reaction: float = 0.1
    noise: float = 0.025
    start_worse: float = 0.01
    end_worse: float = 0.0005
    route_min_share: float = 0.7
    route_min_stall: float = 0.2
    batch_iterations: int = 50
    polish: bool = True
    eject: bool = True
    neighbours: int = 40
    granular: bool = False
    blocks: bool = True
    travel_time_scale_s: float | None = None

    def __post_init__(self) -> None:
        scale = self.travel_time_scale_s
        checks = [
            ("travel_time_scale_s", scale is None or (math.isfinite(scale) and scale >= 0), "None or >= 0 s"),
            ("min_removed", self.min_removed >= 1, ">= 1"),
            ("max_removed_share", 0 < self.max_removed_share <= 1, "0 < share <= 1"),
            ("max_removed", self.max_removed >= self.min_removed, ">= min_removed"),
            ("segment", self.segment >= 1, ">= 1"),
            ("reaction", 0 <= self.reaction <= 1, "0 .. 1"),
            ("noise", self.noise >= 0, ">= 0"),
            ("start_worse", self.start_worse >= 0, ">= 0"),
            ("end_worse", 0 <= self.end_worse <= max(self.start_worse, 1e-12), "0 .. start_worse"),
            ("route_min_share", 0 <= self.route_min_share < 1, "0 <= share < 1"),
            ("route_min_stall", 0 < self.route_min_stall <= 1, "0 < share <= 1"),
            ("batch_iterations", self.batch_iterations >= 1, ">= 1"),
            ("neighbours", self.neighbours >= 1, ">= 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise InvalidArgumentError(name, f"got {plain_repr(getattr(self, name))}", allowed)


@dataclass(frozen=True)
class Result:
    """The best solution found.

    ``routes[v]`` lists the nodes vehicle ``v`` visits (start and end nodes left out; empty
    for an unused vehicle). ``cost`` is the total travel cost of the routes (without
    penalties); ``feasible`` is True when every request is served.
    """

    routes: list[list[int]]
    cost: float
    num_vehicles: int
    unassigned: list[int]
    feasible: bool
    runtime_s: float
    iterations: int
    history: list[tuple[float, int, float]]  # (seconds, vehicles, cost) at each improvement
    operator_weights: dict[str, float]
    #: seconds and iterations by phase: ``"fleet"`` (removing routes; objective "vehicles" only)
    #: and ``"distance"`` (the annealing after it; the first construction is in neither)
    phases: dict[str, tuple[float, int]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "cost": round(self.cost, 4),
            "num_vehicles": self.num_vehicles,
            "feasible": self.feasible,
            "unassigned": len(self.unassigned),
            "runtime_s": round(self.runtime_s, 3),
            "iterations": self.iterations,
        }


# ---------------------------------------------------------------------------- the search


class Search:
    """The arrays of one run of :func:`solve` and its calls into the kernels (:func:`solve` is the
    entry point; tests and tools use this to run single operators on a real solution)."""

    def __init__(self, problem: PDProblem, params: SolveParams, seed: int) -> None:
        self.problem = problem
        self.params = params
        self.pb = kernel_arrays(problem)
        k = problem.num_vehicles
        r = problem.num_requests
        self.max_len = 2 * r + 3
        self.w = TRAVEL_ONLY
        self.rq = alns.RequestArrays(
            pickup=problem.pickup,
            delivery=problem.delivery,
            request_vehicle=problem.request_vehicle,
            removable=(problem.pickup >= 0).astype(np.uint8),
            vehicle_on=np.ones(k, np.uint8),
            neighbours=alns.request_neighbours(self.pb, problem.pickup, problem.delivery, params.neighbours),
        )
        self.vehicle_on = self.rq.vehicle_on
        has_end = problem.vehicle_end >= 0
        self.base_len = np.where(has_end, 2, 1).astype(np.int32)
        self.rt = empty_route_state(k, self.max_len, problem.num_dims)
        self.routes = self.rt.nodes
        self.rlen = self.rt.length
        self.rlen[:] = self.base_len
        self.routes[:, 0] = problem.vehicle_start
        self.routes[has_end, 1] = problem.vehicle_end[has_end]
        self.assign = np.full(r, -1, np.int32)
        self.best = alns.BestSolution(self.routes.copy(), self.rlen.copy(), self.assign.copy())
        self.best_routes, self.best_rlen, self.best_assign = self.best
        tt = problem.travel_time
        scale = params.travel_time_scale_s
        self.tmax = float(scale) if scale is not None else (float(tt.max()) if tt.size else 1.0)
        # Dearer than any insertion (at most three of the longest arcs), so serving wins.
        longest = float(scale) if scale is not None else float(problem.travel_cost.max(initial=0.0))
        self.penalty = 1000.0 + 20.0 * longest
        self.d_weight = np.ones(alns.NUM_DESTROY)
        self.r_weight = np.ones(alns.NUM_REPAIR)
        self.d_score = np.zeros(alns.NUM_DESTROY)
        self.r_score = np.zeros(alns.NUM_REPAIR)
        self.d_used = np.zeros(alns.NUM_DESTROY, np.int64)
        self.r_used = np.zeros(alns.NUM_REPAIR, np.int64)
        # counters over the whole run: iterations, candidates with the current cost again, rejected
        self.counted = np.zeros(1, np.int64)
        self.same_cost = np.zeros(1, np.int64)
        self.rejected = np.zeros(1, np.int64)
        self.iterations = 0
        self.iter_s = 0.0
        removable_count = int(self.rq.removable.sum())
        self.q_min = min(params.min_removed, max(1, removable_count))
        self.q_max = max(self.q_min, min(params.max_removed, int(params.max_removed_share * removable_count)))
        self.polish = (alns.POLISH_EJECT if params.eject else alns.POLISH_RELOCATE) if params.polish else 0
        alns.seed_rng(seed)

    # ------------------------------------------------------------------ kernel calls
    def construct(self) -> int:
        return int(alns.construct(self.pb, self.rq, self.w, self.rt, self.assign, alns.R_REGRET2))

    def cost(self, routes: NDArray[np.int32], rlen: NDArray[np.int32], assign: NDArray[np.int32]) -> float:
        return float(alns.solution_cost(routes, rlen, self.pb, assign, self.penalty))

    def travel_cost(self, routes: NDArray[np.int32], rlen: NDArray[np.int32]) -> float:
        return float(alns.solution_cost(routes, rlen, self.pb, np.zeros(0, np.int32), self.penalty))

    def used(self, routes: NDArray[np.int32], rlen: NDArray[np.int32]) -> int:
        return int(alns.count_used(routes, rlen, self.pb))

    def batch_size(self, stop: StoppingCriterion) -> int:
        """Iterations for the next kernel call: a full batch, or what fits in the time left."""
        n = self.params.batch_iterations
        left = stop.remaining_s()
        if left is not None and self.iter_s > 0.0:
            n = max(1, min(n, int(left / self.iter_s)))
        return n

    def state(self, cost: float) -> alns.SearchState:
        """The search state of a phase that starts from a solution of ``cost``."""
        return alns.SearchState(
            current_cost=np.array([cost]),
            best_cost=np.array([cost]),
            tmax=self.tmax,
            d_weight=self.d_weight,
            r_weight=self.r_weight,
            d_score=self.d_score,
            r_score=self.r_score,
            d_used=self.d_used,
            r_used=self.r_used,
            iterations=self.counted,
            same_cost=self.same_cost,
            rejected=self.rejected,
        )

    def run(
        self,
        n_iter: int,
        temperature: float,
        state: alns.SearchState,
        polish_partial: bool = True,
        granular: bool = False,
    ) -> int:
        prm = alns.AlnsParams(
            q_min=int(self.q_min),
            q_max=int(self.q_max),
            segment=int(self.params.segment),
            polish=int(self.polish),
            polish_partial=int(polish_partial),
            granular=int(granular),
            blocks=int(self.params.blocks),
            penalty=float(self.penalty),
            noise=float(self.params.noise),
            reaction=float(self.params.reaction),
            temperature=float(temperature),
        )
        t0 = time.perf_counter()
        found = alns.alns_iterations(n_iter, prm, self.pb, self.rq, self.w, self.rt, self.assign, self.best, state)
        self.iterations += n_iter
        per = (time.perf_counter() - t0) / n_iter  # seconds per iteration, smoothed
        self.iter_s = per if self.iter_s == 0.0 else 0.7 * self.iter_s + 0.3 * per
        return int(found)

    def load(self, routes: NDArray[np.int32], rlen: NDArray[np.int32], assign: NDArray[np.int32]) -> None:
        """Make ``routes`` the current solution (and prepare every route)."""
        self.routes[:] = routes
        self.rlen[:] = rlen
        self.assign[:] = assign
        left = self.construct()  # prepares all routes; inserts nothing new unless unassigned
        del left

    # ------------------------------------------------------------------ phases
    def anneal(
        self,
        stop: StoppingCriterion,
        until: Callable[[], bool],
        frac0: float,
        frac1: float,
        history: list[tuple[float, int, float]],
        t_start: float,
        polish_partial: bool = True,
        granular: bool = False,
    ) -> None:
        """ALNS on the current solution until ``until()``, the stop, or progress ``frac1`` (when < 1).

        The temperature falls from hot to cold as the progress goes from ``frac0`` to ``frac1``.
        ``polish_partial``: also polish new best solutions that leave requests unassigned;
        ``granular``: granular insertions in the repair (:class:`SolveParams` ``granular``).
        """
        state = self.state(self.cost(self.routes, self.rlen, self.assign))
        self.best_routes[:] = self.routes
        self.best_rlen[:] = self.rlen
        self.best_assign[:] = self.assign
        base = max(1e-9, self.travel_cost(self.routes, self.rlen))
        t_hi = self.params.start_worse * base / math.log(2)
        t_lo = self.params.end_worse * base / math.log(2)
        while not stop.done(self.iterations) and not until():
            prog = stop.progress(self.iterations)
            if prog >= frac1 and frac1 < 1.0:
                break
            frac = 0.0 if frac1 <= frac0 else min(1.0, max(0.0, (prog - frac0) / (frac1 - frac0)))
            temp = t_hi * (t_lo / t_hi) ** frac if t_hi > 0 and t_lo > 0 else 0.0
            if self.run(self.batch_size(stop), temp, state, polish_partial, granular):
                history.append(
                    (
                        time.perf_counter() - t_start,
                        self.used(self.best_routes, self.best_rlen),
                        self.travel_cost(self.best_routes, self.best_rlen),
                    )
                )
        # continue from the best of this phase
        self.load(self.best_routes, self.best_rlen, self.best_assign)


def solve(
    problem: PDProblem,
    *,
    stop: StoppingCriterion | None = None,
    seed: int = 0,
    params: SolveParams | None = None,
    initial_routes: list[list[int]] | None = None,
) -> Result:
    """Solve ``problem`` within ``stop`` (default: 10 s) and return the best solution found.

    Args:
        stop: when to stop (:class:`MaxRuntime`, :class:`MaxIterations`, :class:`Deadline`).
        seed: seed of the search's random choices.
        params: search parameters (:class:`SolveParams`).
        initial_routes: the solution to start from (see the module docstring): route ``v`` is
            driven by vehicle ``v`` and lists its nodes without the depots, as
            :attr:`Result.routes`; fewer routes than vehicles leave the others empty. A request
            may be left out (both its nodes), and is then inserted by the construction.
            Everything else must hold: known request nodes, each at most once, a pickup
            before its delivery on one route, riders on board and pinned requests on their
            vehicle, and every route feasible (time windows, ride and duration limits,
            capacity); otherwise :class:`InvalidArgumentError` names ``initial_routes``. With
            no iterations the result is the start, completed.
    """
    stop = stop or MaxRuntime(10.0)
    params = params or SolveParams()
    t_start = time.perf_counter()
    stop.start()
    search = Search(problem, params, seed)
    history: list[tuple[float, int, float]] = []
    if initial_routes is not None:
        _apply_routes(search, initial_routes)
    search.construct()
    history.append(
        (
            time.perf_counter() - t_start,
            search.used(search.routes, search.rlen),
            search.travel_cost(search.routes, search.rlen),
        )
    )

    phases: dict[str, tuple[float, int]] = {}
    if problem.objective == "vehicles" and problem.num_requests:
        t_fleet = time.perf_counter()
        _minimise_vehicles(search, stop, history, t_start)
        phases["fleet"] = (time.perf_counter() - t_fleet, search.iterations)
    t_dist, it_dist = time.perf_counter(), search.iterations
    search.anneal(stop, lambda: False, _progress_now(stop, search), 1.0, history, t_start, granular=params.granular)

    routes, rlen, assign = search.best_routes, search.best_rlen, search.best_assign
    out_routes = []
    for v in range(problem.num_vehicles):
        inner = routes[v, 1 : rlen[v] - (1 if problem.vehicle_end[v] >= 0 else 0)]
        out_routes.append([int(x) for x in inner])
    unassigned = [int(r) for r in np.flatnonzero(assign < 0)]
    names = [f"destroy:{n}" for n in alns.DESTROY_NAMES] + [f"repair:{n}" for n in alns.REPAIR_NAMES]
    weights = list(search.d_weight) + list(search.r_weight)
    return Result(
        routes=out_routes,
        cost=search.travel_cost(routes, rlen),
        num_vehicles=search.used(routes, rlen),
        unassigned=unassigned,
        feasible=not unassigned,
        runtime_s=time.perf_counter() - t_start,
        iterations=search.iterations,
        history=history,
        operator_weights={n: round(float(x), 3) for n, x in zip(names, weights, strict=True)},
        phases={**phases, "distance": (time.perf_counter() - t_dist, search.iterations - it_dist)},
    )


def _progress_now(stop: StoppingCriterion, search: Search) -> float:
    return stop.progress(search.iterations)


def _apply_routes(search: Search, routes: list[list[int]]) -> None:
    """Make ``routes`` the search's current solution; refuses one that breaks a rule (see :func:`solve`)."""
    p = search.problem
    if len(routes) > p.num_vehicles:
        raise InvalidArgumentError("initial_routes", f"{len(routes)} routes for {p.num_vehicles} vehicles")
    req = p.request_of_node()
    at: dict[int, tuple[int, int]] = {}  # node -> (route, position)
    for v, nodes in enumerate(routes):
        for pos, node in enumerate(nodes):
            if not 0 <= node < p.num_nodes or req[node] < 0:
                raise InvalidArgumentError("initial_routes", f"node {node} is not a request node")
            if int(node) in at:
                raise InvalidArgumentError("initial_routes", f"node {node} is visited twice")
            at[int(node)] = (v, pos)
    for r in range(p.num_requests):
        pick, drop, own = int(p.pickup[r]), int(p.delivery[r]), int(p.request_vehicle[r])
        on_p, on_d = at.get(pick), at.get(drop)
        if pick >= 0 and (on_p is None) != (on_d is None):
            raise InvalidArgumentError(
                "initial_routes", f"request {r}: give both its pickup and its delivery, or neither"
            )
        if on_p is not None and on_d is not None and (on_p[0] != on_d[0] or on_p[1] > on_d[1]):
            raise InvalidArgumentError(
                "initial_routes", f"request {r}: its pickup must come before its delivery on one route"
            )
        if own >= 0 and on_d is not None and on_d[0] != own:
            raise InvalidArgumentError(
                "initial_routes", f"request {r} belongs to vehicle {own}, not to route {on_d[0]}"
            )
    scratch = np.full(p.num_nodes, -1, np.int32)
    for v, nodes in enumerate(routes):
        seq = [int(p.vehicle_start[v]), *nodes] + ([int(p.vehicle_end[v])] if p.vehicle_end[v] >= 0 else [])
        search.routes[v, : len(seq)] = seq
        search.rlen[v] = len(seq)
        for node in nodes:
            search.assign[req[node]] = v
        if not nodes:
            continue
        on_time = prepare_route(v, search.pb, search.rt, scratch)
        load = search.rt.load[v, : len(seq)]
        if not on_time or (load > p.capacity[v]).any() or (load < 0).any():
            raise InvalidArgumentError(
                "initial_routes", f"route {v} is not feasible (time windows, ride or duration limits, or capacity)"
            )


def _minimise_vehicles(
    search: Search, stop: StoppingCriterion, history: list[tuple[float, int, float]], t_start: float
) -> None:
    """Remove routes while the search can place their requests elsewhere (see the module docstring)."""
    p = search.problem
    share = search.params.route_min_share
    # First a complete solution with the whole fleet.
    search.anneal(stop, lambda: bool((search.best_assign >= 0).all()), 0.0, share, history, t_start, False)
    if (search.assign < 0).any():
        return
    # No fleet bound from the total demand: a vehicle delivers as it goes and reuses its seats.
    best = (search.routes.copy(), search.rlen.copy(), search.assign.copy())
    tried: set[int] = set()  # victims that could not be removed from the current best
    last_removed = stop.progress(search.iterations)  # when the fleet last fell (or the phase began)
    while search.used(best[0], best[1]) > 1:
        now = stop.progress(search.iterations)
        limit = min(share, last_removed + search.params.route_min_stall)
        if now >= limit:
            break
        routes, rlen, assign = best
        used = [v for v in range(p.num_vehicles) if rlen[v] > search.base_len[v]]
        options = [v for v in used if v not in tried]
        if not options:
            break
        victim = min(options, key=lambda v: int(rlen[v]))  # the shortest route first
        trial_routes, trial_rlen, trial_assign = routes.copy(), rlen.copy(), assign.copy()
        trial_assign[trial_assign == victim] = -1
        trial_rlen[victim] = search.base_len[victim]
        if p.vehicle_end[victim] >= 0:
            trial_routes[victim, 1] = p.vehicle_end[victim]
        search.vehicle_on[:] = 0
        for v in used:
            search.vehicle_on[v] = 1
        search.vehicle_on[victim] = 0
        search.load(trial_routes, trial_rlen, trial_assign)
        # An attempt gets half of the time left in this stall window (the last candidate all of
        # it), so that a route that will not go leaves time to try another.
        end = limit if len(options) == 1 else now + (limit - now) / 2
        search.anneal(stop, lambda: bool((search.best_assign >= 0).all()), now, end, history, t_start, False)
        if (search.assign >= 0).all():
            best = (search.routes.copy(), search.rlen.copy(), search.assign.copy())
            history.append((time.perf_counter() - t_start, search.used(*best[:2]), search.travel_cost(*best[:2])))
            tried.clear()
            last_removed = stop.progress(search.iterations)
        else:
            tried.add(victim)
    routes, rlen, assign = best
    search.vehicle_on[:] = 0
    for v in range(p.num_vehicles):
        if rlen[v] > search.base_len[v]:
            search.vehicle_on[v] = 1
    search.load(routes, rlen, assign)
