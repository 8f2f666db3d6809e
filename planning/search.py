"""Designing a route set: a search over route sets for passengers, or a Pareto front with NSGA-II.

:func:`design` starts from the route sets it is given (``seeds``; with
``DesignParams.set_cover`` and no seeds, the set cover's solutions over a pool of candidate
routes, :func:`planning.set_cover`) and route sets of its own built by
:func:`planning.operators.constructive_set` (demand-driven growing of routes), so it works
alone. Then, by ``DesignParams.mode``:

* ``"passenger"`` (the benchmark): minimise the average travel time ATT (the total route time
  TRT breaks ties). A simulated annealing over the moves of :mod:`planning.operators` with
  adaptive move selection (a hyper-heuristic in the manner of Ahmed et al. 2019): each step
  draws a move by its weight, repairs the child, scores it and accepts it by the Metropolis
  rule on ATT; every 100 steps the weights follow the moves' recent rate of improvement. The
  temperature starts at ``DesignParams.temperature`` times the median worsening of the first
  30 worsening moves and falls geometrically to ``cooling`` times that by the end of the
  budget; when the best has not improved for ``reheat_after`` of the budget, a new cycle starts
  hot from an elite set drawn at random and cools over the rest of the budget. A share of the
  steps (``crossover_rate``) crosses the current set (Mumford 2013) with one of an elite of the
  best distinct sets found; when every child drawn lately was a set already scored, a few
  random moves kick the current set; after a long stall within a cycle the search goes back to
  the best set.
* ``"pareto"``: NSGA-II (pymoo) on (ATT, TRT) with our operators as pymoo's sampling,
  crossover and mutation on object variables (each child repaired inside them), duplicates
  eliminated by route-set identity; the result's front holds the non-dominated feasible sets
  found (:mod:`planning.search_nsga`).

Budgets: ``time_limit_s`` (wall clock) and ``max_evaluations`` (route sets scored, the cache's
hits not counted; NSGA-II checks it between generations, so it may exceed it by less than one
generation; the annealing also stops after 50 steps per allowed evaluation, should nearly every
child be a known set). With ``max_evaluations`` and a time limit that does not bind, the same
seed gives the same result on any machine (the schedules follow the evaluation count); with a
time limit alone, they follow the clock. Every returned route set passes
:func:`planning.check_route_set`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import InvalidArgumentError, InvalidRouteSetError, PlanningError
from .evaluate import Evaluation, Evaluator
from .evaluate import warm_up as warm_up_evaluator
from .operators import (
    MUTATIONS,
    OperatorContext,
    Routes,
    constructive_set,
    crossover_routes,
    flat_route_time,
    is_feasible,
    repair,
    set_key,
    warm_up,
)
from .problem import TransitProblem
from .routeset import RouteSet, as_route_set, check_route_set, flatten

log = logging.getLogger(__name__)

MODES = ("passenger", "pareto")


@dataclass(frozen=True)
class DesignParams:
    """How :func:`design` searches.

    Attributes:
        mode: ``"passenger"`` (minimise ATT, TRT breaks ties; the benchmark) or ``"pareto"``
            (NSGA-II, ATT against TRT).
        time_limit_s: wall-clock budget in seconds (> 0).
        max_evaluations: a budget of route sets scored (``None``: the time limit alone); with
            it, the same seed gives the same result on any machine when the time limit does
            not bind first.
        seed: the random seed.
        population: sets kept: the elite in passenger mode, the population of NSGA-II.
        initial_sets: constructive sets built at the start (besides the seeds).
        crossover_rate: passenger mode: the share of steps that cross the current set with an
            elite set (``None``: 0.05); pareto mode: the probability that a child comes from a
            crossover (``None``: 0.8).
        restart_after: passenger mode: steps without a new best before restarting from the best
            (as a share of the steps taken so far, at least 200 steps).
        reheat_after: passenger mode: the share of the budget without a new best after which
            the annealing starts a new cycle, hot again, from a set of the elite drawn at random
            (the new cycle cools over the rest of the budget; 1: never).
        temperature: passenger mode: the starting temperature of the annealing, as a multiple
            of the median worsening of ATT by the first 30 worsening moves.
        cooling: passenger mode: the temperature at the end of the budget, as a share of the
            starting one (it falls geometrically with the share of the budget spent).
        set_cover: when no ``seeds`` are given, start from the set cover's solutions as well
            (:func:`planning.set_cover`, OR-Tools CP-SAT over :func:`planning.candidate_routes`),
            whose routes then also feed the moves; the pool and the cover take a quarter of the
            time limit at most (30 s at most) out of the budget. The cover stops on the clock
            unless CP-SAT proves it optimal, so a run with it repeats exactly only then. Off by
            default: on the benchmark it did not lower the passenger-mode ATT (Mumford1 at
            60 s: 21.63 with it, 21.60 without); it gives NSGA-II low-TRT sets to start from.
    """

    mode: str = "passenger"
    time_limit_s: float = 60.0
    max_evaluations: int | None = None
    seed: int = 1
    population: int = 20
    initial_sets: int = 10
    crossover_rate: float | None = None
    restart_after: float = 0.25
    reheat_after: float = 0.2
    temperature: float = 3.0
    cooling: float = 0.01
    set_cover: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidArgumentError("mode", f"got {self.mode!r}", " or ".join(MODES))
        if not (isinstance(self.time_limit_s, int | float) and 0 < self.time_limit_s < math.inf):
            raise InvalidArgumentError("time_limit_s", f"got {self.time_limit_s!r}", "> 0 seconds")
        if self.max_evaluations is not None and not _whole(self.max_evaluations, 1):
            raise InvalidArgumentError(
                "max_evaluations", f"got {self.max_evaluations!r}", "a whole number >= 1, or None"
            )
        if not _whole(self.seed, 0):
            raise InvalidArgumentError("seed", f"got {self.seed!r}", "a whole number >= 0")
        if not _whole(self.population, 2) or self.population > 10_000:
            raise InvalidArgumentError("population", f"got {self.population!r}", "whole numbers 2 .. 10000")
        if not _whole(self.initial_sets, 1) or self.initial_sets > 10_000:
            raise InvalidArgumentError("initial_sets", f"got {self.initial_sets!r}", "whole numbers 1 .. 10000")
        rate = self.crossover_rate
        if rate is not None and not (isinstance(rate, int | float) and 0.0 <= rate <= 1.0):
            raise InvalidArgumentError("crossover_rate", f"got {rate!r}", "0 .. 1, or None (the mode's default)")
        if not (isinstance(self.restart_after, int | float) and 0.0 < self.restart_after <= 10.0):
            raise InvalidArgumentError("restart_after", f"got {self.restart_after!r}", "0 .. 10 (exclusive of 0)")
        if not (isinstance(self.reheat_after, int | float) and 0.0 < self.reheat_after <= 1.0):
            raise InvalidArgumentError("reheat_after", f"got {self.reheat_after!r}", "0 .. 1 (exclusive of 0)")
        if not (isinstance(self.temperature, int | float) and 0.0 <= self.temperature <= 1e6):
            raise InvalidArgumentError("temperature", f"got {self.temperature!r}", "0 .. 1e6 (0: accept no worsening)")
        if not (isinstance(self.cooling, int | float) and 0.0 < self.cooling <= 1.0):
            raise InvalidArgumentError("cooling", f"got {self.cooling!r}", "0 .. 1 (exclusive of 0)")
        if not isinstance(self.set_cover, bool):
            raise InvalidArgumentError("set_cover", f"got {self.set_cover!r}", "True or False")

    @property
    def crossover(self) -> float:
        """The crossover rate in use (the mode's default when ``crossover_rate`` is ``None``)."""
        if self.crossover_rate is not None:
            return float(self.crossover_rate)
        return 0.05 if self.mode == "passenger" else 0.8


def _whole(v: Any, lo: int) -> bool:
    return bool(not isinstance(v, bool) and isinstance(v, int | np.integer) and v >= lo)


@dataclass(frozen=True)
class DesignResult:
    """What :func:`design` found.

    Attributes:
        routes: the best set by ATT (passenger mode) or the best-ATT set of the front (pareto).
        evaluation: its full evaluation.
        front: non-dominated (ATT, TRT) feasible sets found, by ATT (passenger mode: the best).
        evaluations: route sets scored (cache hits not counted).
        elapsed_s: wall-clock seconds.
        history: ``(elapsed_s, best ATT, its TRT)`` each time the best ATT improved.
        params: the parameters used.
    """

    routes: RouteSet
    evaluation: Evaluation
    front: tuple[tuple[RouteSet, Evaluation], ...]
    evaluations: int
    elapsed_s: float
    history: tuple[tuple[float, float, float], ...]
    params: DesignParams
    #: per move, how often it was tried and how often its child became the current set
    move_stats: dict[str, tuple[int, int]] = field(default_factory=dict)


class _Budget:
    """Evaluations, the clock and a cache of scores keyed by the route set's identity."""

    def __init__(self, problem: TransitProblem, params: DesignParams, ctx: OperatorContext) -> None:
        self.evaluator = Evaluator(problem)
        self.ctx = ctx
        self.params = params
        self.start = time.perf_counter()
        self.evaluations = 0
        self.cache: dict[bytes, tuple[float, float]] = {}
        self.best = (math.inf, math.inf)
        self.best_routes: Routes | None = None
        self.history: list[tuple[float, float, float]] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def fraction(self) -> float:
        """How much of the budget is spent (0..1): by evaluations when they are limited."""
        f = self.elapsed() / self.params.time_limit_s
        if self.params.max_evaluations is not None:
            e = self.evaluations / self.params.max_evaluations
            return min(1.0, e) if f < 1.0 else 1.0
        return min(1.0, f)

    def done(self) -> bool:
        if self.params.max_evaluations is not None and self.evaluations >= self.params.max_evaluations:
            return True
        return self.elapsed() >= self.params.time_limit_s

    def score(self, routes: Routes) -> tuple[float, float]:
        """``(ATT, TRT)`` of a feasible set (from the cache when seen; the cache keeps a 128-bit
        digest of the set's identity, not the identity itself, which is kilobytes on the large
        instances)."""
        key = hashlib.blake2b(set_key(routes), digest_size=16).digest()
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        nodes, offsets = flatten(routes)
        att, unserved = self.evaluator.att(nodes, offsets)
        if unserved > 0:
            att = math.inf
        out = (att, flat_route_time(self.ctx, nodes, offsets))
        self.evaluations += 1
        if len(self.cache) > 200_000:
            self.cache.clear()
        self.cache[key] = out
        if out < self.best:
            self.best = out
            self.best_routes = [r.copy() for r in routes]
            self.history.append((self.elapsed(), out[0], out[1]))
        return out


def design(
    problem: TransitProblem,
    params: DesignParams = DesignParams(),
    *,
    seeds: Sequence[Sequence[Any]] = (),
    pool: Sequence[Any] = (),
    progress: Callable[[float, str], None] | None = None,
) -> DesignResult:
    """Design a route set for ``problem`` (see the module docstring).

    Args:
        problem: the problem and its rules.
        params: the search's parameters.
        seeds: route sets to start from (each a sequence of routes of 0-based node indices, with
            linked consecutive stops); a seed that breaks a rule (count, stops per route,
            coverage, connection, limits) is repaired, or left out when it cannot be.
        pool: candidate routes (e.g. a ``CandidatePool`` or its ``routes``) that the moves may
            draw new routes from; routes outside the stop bounds, with a repeated stop, an
            unknown node or unlinked consecutive stops are ignored.
        progress: called with ``(fraction done, message)`` about twice a second.

    Returns:
        A :class:`DesignResult`; every route set in it passes :func:`planning.check_route_set`.
    """
    if not problem.connected:
        raise InvalidArgumentError(
            "problem", f"{problem.name}: the planning graph is not connected", "a connected graph"
        )
    # compile the kernels before the clock starts (next to nothing once cached on disk)
    warm_up()
    warm_up_evaluator()
    given_params = params
    prep_s = 0.0
    if params.set_cover and not seeds:
        from .candidates import candidate_routes
        from .setcover import set_cover

        t0 = time.perf_counter()
        if progress is not None:
            progress(0.0, "candidate routes and the set cover")
        share = min(30.0, 0.25 * params.time_limit_s)
        cover_pool = candidate_routes(problem, seed=params.seed)
        left = max(0.5, share - (time.perf_counter() - t0))
        try:
            seeds = set_cover(problem, cover_pool, num_solutions=3, time_limit_s=left, seed=params.seed)
        except PlanningError as exc:
            # a seed is a head start, not a condition: without one the search builds its own
            log.warning("%s: starting without set-cover seeds (%s)", problem.name, exc)
            seeds = ()
        if not len(pool):
            pool = cover_pool.routes
        prep_s = time.perf_counter() - t0
        params = replace(params, time_limit_s=max(1e-3, params.time_limit_s - prep_s))
    ctx = OperatorContext.build(problem, getattr(pool, "routes", pool))
    rng = np.random.default_rng(params.seed)
    budget = _Budget(problem, params, ctx)
    report = _Reporter(progress, budget)
    start = _initial_sets(ctx, params, rng, seeds, budget)
    if params.mode == "passenger":
        stats = _anneal(ctx, params, rng, start, budget, report)
        front_sets = [budget.best_routes] if budget.best_routes is not None else []
    else:
        stats = {}
        front_sets = _nsga2(ctx, params, start, budget, report)
    if budget.best_routes is None or not front_sets:
        raise InvalidRouteSetError(-1, f"{problem.name}: no feasible route set found within the budget")
    evaluator = budget.evaluator
    front: list[tuple[RouteSet, Evaluation]] = []
    for rs in front_sets:
        routes = as_route_set(rs)
        problems = check_route_set(problem, routes)
        if problems:  # pragma: no cover - the search keeps feasible sets only
            raise InvalidRouteSetError(-1, f"the search returned an infeasible set: {problems[0]}")
        front.append((routes, evaluator.evaluate(routes)))
    front.sort(key=lambda p: (p[1].att_min, p[1].trt_min))
    best_routes, best_eval = front[0]
    if params.mode == "passenger":
        best_routes = as_route_set(budget.best_routes)
        best_eval = evaluator.evaluate(best_routes)
        front = [(best_routes, best_eval)]
    report(1.0, f"done: ATT {best_eval.att_min:.4f}, TRT {best_eval.trt_min:.0f}", force=True)
    return DesignResult(
        routes=best_routes,
        evaluation=best_eval,
        front=tuple(front),
        evaluations=budget.evaluations,
        elapsed_s=budget.elapsed() + prep_s,
        history=tuple((t + prep_s, a, b) for t, a, b in budget.history),
        params=given_params,
        move_stats=stats,
    )


class _Reporter:
    def __init__(self, progress: Callable[[float, str], None] | None, budget: _Budget) -> None:
        self.progress = progress
        self.budget = budget
        self.last = -1.0

    def __call__(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        if self.progress is None:
            return
        now = self.budget.elapsed()
        if force or now - self.last >= 0.5:
            self.last = now
            b = self.budget
            self.progress(
                fraction,
                message or f"{b.evaluations} sets scored, best ATT {b.best[0]:.4f} (TRT {b.best[1]:.0f})",
            )


def _initial_sets(
    ctx: OperatorContext,
    params: DesignParams,
    rng: np.random.Generator,
    seeds: Sequence[Sequence[Any]],
    budget: _Budget,
) -> list[tuple[tuple[float, float], Routes]]:
    """The seeds (repaired where needed) and constructive sets, scored, best first, distinct."""
    out: dict[bytes, tuple[tuple[float, float], Routes]] = {}
    n = ctx.n
    for i, s in enumerate(seeds):
        routes = [np.asarray(r, np.int32).reshape(-1) for r in s]
        for k, r in enumerate(routes):
            if r.size == 0 or r.min() < 0 or r.max() >= n:
                raise InvalidArgumentError(
                    "seeds", f"set {i + 1}, route {k + 1}: a node index outside 0 .. {n - 1}", "0-based node indices"
                )
            if not ctx.linked[r[:-1], r[1:]].all():
                raise InvalidArgumentError(
                    "seeds", f"set {i + 1}, route {k + 1}: consecutive stops with no link", "linked consecutive stops"
                )
        if not is_feasible(ctx, routes):
            fixed = repair(ctx, routes, rng)
            if fixed is None:
                continue
            routes = fixed
        out.setdefault(set_key(routes), (budget.score(routes), routes))
    tries = 0
    while len(out) < len(seeds) + params.initial_sets and tries < 5 * params.initial_sets:
        tries += 1
        if budget.done() and out:
            break
        built = constructive_set(ctx, rng)
        if built is not None:
            out.setdefault(set_key(built), (budget.score(built), built))
    return sorted(out.values(), key=lambda x: x[0])


def _mutate(ctx: OperatorContext, routes: Routes, rng: np.random.Generator, name: str) -> Routes | None:
    child = MUTATIONS[name](ctx, routes, rng)
    if child is None:
        return None
    return repair(ctx, child, rng)


def _anneal(
    ctx: OperatorContext,
    params: DesignParams,
    rng: np.random.Generator,
    start: list[tuple[tuple[float, float], Routes]],
    budget: _Budget,
    report: _Reporter,
) -> dict[str, tuple[int, int]]:
    """Passenger mode: simulated annealing with adaptive move selection (module docstring)."""
    if not start:
        return {}
    names = [*MUTATIONS, "crossover"]
    weights = np.ones(len(names))
    tried = np.zeros(len(names), np.int64)
    accepted = np.zeros(len(names), np.int64)
    window_tried = np.zeros(len(names))
    window_gain = np.zeros(len(names))
    elite: list[tuple[tuple[float, float], Routes]] = list(start[: params.population])
    elite_keys = {set_key(r) for _, r in elite}
    current_score, current = start[0]
    temp0: float | None = None
    deltas: list[float] = []
    steps = 0
    stale = 0  # steps in a row that gave no new set (no child, or one scored before)
    last_best_step = 0
    best_seen = budget.best
    best_frac = cycle_start = 0.0
    max_steps = None if params.max_evaluations is None else 50 * params.max_evaluations
    while not budget.done() and (max_steps is None or steps < max_steps):
        steps += 1
        frac = budget.fraction()
        if temp0 is None and len(deltas) >= 30:
            temp0 = float(np.median(deltas)) * params.temperature
        if frac - best_frac > params.reheat_after and frac - cycle_start > params.reheat_after and len(elite) > 1:
            # a long stall: a new cycle, hot again, from an elite set
            cycle_start = best_frac = frac
            current_score, current = elite[int(rng.integers(len(elite)))]
        phase = (frac - cycle_start) / max(1e-9, 1.0 - cycle_start)
        temp = (temp0 or 0.0) * (params.cooling**phase)
        # draw a move by its weight (the crossover at its fixed share)
        w = weights.copy()
        w[-1] = params.crossover * w[:-1].sum() / max(1e-9, 1.0 - params.crossover) if len(elite) > 1 else 0.0
        k = min(int(np.searchsorted(np.cumsum(w), rng.random() * w.sum(), side="right")), len(names) - 1)
        name = names[k]
        tried[k] += 1
        window_tried[k] += 1
        if name == "crossover":
            mate = elite[int(rng.integers(len(elite)))][1]
            pair = (current, mate) if rng.random() < 0.5 else (mate, current)
            child = repair(ctx, crossover_routes(ctx, *pair, rng), rng)
        else:
            child = _mutate(ctx, current, rng, name)
        if stale > 100 + 2 * ctx.problem.rules.num_routes:
            # every neighbour drawn lately was known: kick the current set with a few moves
            kicked = current
            for _ in range(3):
                nxt = _mutate(ctx, kicked, rng, names[int(rng.integers(len(names) - 1))])
                kicked = nxt if nxt is not None else kicked
            child = kicked
            stale = 0
        if child is None:
            stale += 1
            report(frac)
            continue
        known = budget.evaluations
        score = budget.score(child)
        stale = stale + 1 if budget.evaluations == known else 0
        delta = score[0] - current_score[0]
        if delta > 0 and temp0 is None:
            deltas.append(delta)
        accept = score <= current_score or (
            temp > 0 and math.isfinite(delta) and rng.random() < math.exp(-delta / temp)
        )
        if accept:
            accepted[k] += 1
            if score < current_score:
                window_gain[k] += 1.0
            current, current_score = child, score
            key = set_key(child)
            if key not in elite_keys and (len(elite) < params.population or score < elite[-1][0]):
                elite.append((score, child))
                elite_keys.add(key)
                elite.sort(key=lambda x: x[0])
                if len(elite) > params.population:
                    _, gone = elite.pop()
                    elite_keys.discard(set_key(gone))
        if budget.best < best_seen:
            best_seen = budget.best
            last_best_step = steps
            best_frac = frac
            window_gain[k] += 4.0
        # every 100 steps, the weights follow the moves' recent rate of improvement
        if steps % 100 == 0:
            rate = (window_gain + 0.1) / (window_tried + 1.0)
            weights = 0.7 * weights + 0.3 * rate / rate[:-1].mean()
            weights = np.maximum(weights, 0.15)
            window_gain[:] = 0.0
            window_tried[:] = 0.0
        if steps - last_best_step > max(200, int(params.restart_after * steps)) and budget.best_routes is not None:
            current = [r.copy() for r in budget.best_routes]
            current_score = budget.best
            last_best_step = steps
        report(frac)
    return {nm: (int(tried[i]), int(accepted[i])) for i, nm in enumerate(names)}


def _nsga2(
    ctx: OperatorContext,
    params: DesignParams,
    start: list[tuple[tuple[float, float], Routes]],
    budget: _Budget,
    report: _Reporter,
) -> list[Routes]:
    """Pareto mode: NSGA-II from pymoo with our operators; the non-dominated sets found."""
    from .search_nsga import run_nsga2

    return run_nsga2(ctx, params, start, budget, report)


def non_dominated(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (both coordinates minimised; of equal
    points the first is kept), sorted by the first coordinate."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    out: list[int] = []
    best_second = math.inf
    for i in order:
        if points[i][1] < best_second:
            out.append(i)
            best_second = points[i][1]
    return out
