"""Pareto mode of :func:`planning.design`: NSGA-II (pymoo) on (ATT, TRT) with our operators.

pymoo supplies the generic machinery (non-dominated sorting, crowding, tournament selection,
survival); the route sets, the moves and the scoring are ours:

* a route set is one *object variable*, held in a :class:`Genome` (so that numpy never looks
  inside it), with its identity key;
* sampling: the initial sets (seeds and constructive sets), topped up with mutated copies;
* crossover: Mumford (2013)'s route-set crossover, one child per pair, repaired (a parent's
  copy when the repair fails);
* mutation: one move of :data:`planning.operators.MUTATIONS` drawn at random, repaired (the
  set unchanged when it fails), so every child is feasible and pymoo's repair has nothing to do;
* duplicates: eliminated by route-set identity (any order of routes, either direction);
* termination: the budget of :func:`planning.design` (evaluations and the clock) as a pymoo
  ``Termination``, checked between generations.

Every set scored is offered to an archive of the non-dominated (ATT, TRT) sets, which becomes
the result's front (NSGA-II's last population can lose points of the front it once held).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.crossover import Crossover
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem
from pymoo.core.sampling import Sampling
from pymoo.core.termination import Termination

from .operators import MUTATIONS, OperatorContext, Routes, crossover_routes, repair, set_key

if TYPE_CHECKING:
    from .search import DesignParams


class Budget(Protocol):
    """What the search's budget offers: scoring (counted, cached) and the stopping rule."""

    evaluations: int

    def score(self, routes: Routes) -> tuple[float, float]: ...
    def done(self) -> bool: ...
    def fraction(self) -> float: ...


class Genome:
    """A feasible route set as one object variable, with its identity key."""

    __slots__ = ("key", "routes")

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.key = set_key(routes)


def _column(genomes: list[Genome]) -> NDArray[np.object_]:
    x = np.empty((len(genomes), 1), object)
    for i, g in enumerate(genomes):
        x[i, 0] = g
    return x


class Archive:
    """The non-dominated (ATT, TRT) route sets seen, by ATT (equal points: the first kept)."""

    def __init__(self) -> None:
        self.atts: list[float] = []
        self.trts: list[float] = []
        self.sets: list[Routes] = []

    def offer(self, att: float, trt: float, routes: Routes) -> None:
        i = bisect.bisect_right(self.atts, att)
        # dominated or equalled by a point with ATT <= att and TRT <= trt?
        if i > 0 and min(self.trts[:i]) <= trt:
            return
        # drop the points it dominates: ATT >= att and TRT >= trt
        keep = [j for j in range(len(self.atts)) if not (self.atts[j] >= att and self.trts[j] >= trt)]
        self.atts = [self.atts[j] for j in keep]
        self.trts = [self.trts[j] for j in keep]
        self.sets = [self.sets[j] for j in keep]
        i = bisect.bisect_right(self.atts, att)
        self.atts.insert(i, att)
        self.trts.insert(i, trt)
        self.sets.insert(i, [r.copy() for r in routes])


class _RouteSetProblem(Problem):
    def __init__(self, budget: Budget, archive: Archive) -> None:
        super().__init__(n_var=1, n_obj=2, vtype=object)
        self.budget = budget
        self.archive = archive

    def _evaluate(self, x: NDArray[np.object_], out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        f = np.empty((x.shape[0], 2))
        for i in range(x.shape[0]):
            g: Genome = x[i, 0]
            att, trt = self.budget.score(g.routes)
            f[i] = (att, trt)
            self.archive.offer(att, trt, g.routes)
        out["F"] = f


class _Sampling(Sampling):
    def __init__(self, ctx: OperatorContext, start: list[Routes]) -> None:
        super().__init__()
        self.ctx = ctx
        self.start = start

    def _do(self, problem: Any, n_samples: int, *args: Any, random_state: Any = None, **kwargs: Any) -> Any:
        rng: np.random.Generator = random_state
        out = [Genome(r) for r in self.start[:n_samples]]
        seen = {g.key for g in out}
        names = list(MUTATIONS)
        tries = 0
        while len(out) < n_samples and tries < 20 * n_samples:
            tries += 1
            base = out[int(rng.integers(len(out)))].routes
            child = MUTATIONS[names[int(rng.integers(len(names)))]](self.ctx, base, rng)
            fixed = repair(self.ctx, child, rng) if child is not None else None
            if fixed is not None and set_key(fixed) not in seen:
                seen.add(set_key(fixed))
                out.append(Genome(fixed))
        while len(out) < n_samples:  # a tiny problem with few distinct sets
            out.append(out[len(out) % max(1, len(self.start))])
        return _column(out)


class _Crossover(Crossover):
    def __init__(self, ctx: OperatorContext, prob: float) -> None:
        super().__init__(n_parents=2, n_offsprings=1, prob=prob)
        self.ctx = ctx

    def _do(self, problem: Any, x: Any, *args: Any, random_state: Any = None, **kwargs: Any) -> Any:
        rng: np.random.Generator = random_state
        n_matings = x.shape[1]
        y = np.empty((1, n_matings, 1), object)
        for k in range(n_matings):
            a: Genome = x[0, k, 0]
            b: Genome = x[1, k, 0]
            child = repair(self.ctx, crossover_routes(self.ctx, a.routes, b.routes, rng), rng)
            y[0, k, 0] = Genome(child) if child is not None else a
        return y


class _Mutation(Mutation):
    def __init__(self, ctx: OperatorContext) -> None:
        super().__init__(prob=1.0)
        self.ctx = ctx
        self.names = list(MUTATIONS)

    def _do(self, problem: Any, x: Any, *args: Any, random_state: Any = None, **kwargs: Any) -> Any:
        rng: np.random.Generator = random_state
        y = np.empty_like(x)
        for i in range(x.shape[0]):
            g: Genome = x[i, 0]
            out = g
            for _ in range(3):
                name = self.names[int(rng.integers(len(self.names)))]
                child = MUTATIONS[name](self.ctx, g.routes, rng)
                fixed = repair(self.ctx, child, rng) if child is not None else None
                if fixed is not None:
                    out = Genome(fixed)
                    break
            y[i, 0] = out
        return y


class _OutOfBudget(Termination):
    """pymoo's termination by the search's budget (evaluations and the clock)."""

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self.budget = budget

    def _update(self, algorithm: object) -> float:
        return 1.0 if self.budget.done() else min(self.budget.fraction(), 0.999)


class _SameRouteSet(DuplicateElimination):
    def _do(self, pop: Any, other: Any, is_duplicate: NDArray[np.bool_]) -> NDArray[np.bool_]:
        seen: set[bytes] = set()
        if other is not None:
            seen.update(ind.X[0].key for ind in other)
        for i, ind in enumerate(pop):
            key = ind.X[0].key
            if key in seen:
                is_duplicate[i] = True
            else:
                seen.add(key)
        return is_duplicate


def run_nsga2(
    ctx: OperatorContext,
    params: DesignParams,
    start: list[tuple[tuple[float, float], Routes]],
    budget: Budget,
    report: Callable[[float, str], None],
) -> list[Routes]:
    """NSGA-II until the budget is spent; the archive's non-dominated sets, by ATT."""
    archive = Archive()
    for (att, trt), routes in start:
        archive.offer(att, trt, routes)
    if not start:
        return []
    problem = _RouteSetProblem(budget, archive)
    algorithm = NSGA2(
        pop_size=params.population,
        sampling=_Sampling(ctx, [r for _, r in start]),
        crossover=_Crossover(ctx, params.crossover),
        mutation=_Mutation(ctx),
        eliminate_duplicates=_SameRouteSet(),
    )
    algorithm.setup(problem, termination=_OutOfBudget(budget), seed=params.seed, verbose=False)
    generation = 0
    while algorithm.has_next():
        algorithm.next()
        generation += 1
        report(
            budget.fraction(),
            f"generation {generation}: {budget.evaluations} sets scored, front of {len(archive.sets)}, "
            f"best ATT {archive.atts[0]:.4f}",
        )
    return list(archive.sets)
