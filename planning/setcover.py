"""Set cover: a route set picked from a candidate pool with OR-Tools CP-SAT.

The model (:func:`set_cover`), over the routes ``r`` of a :class:`planning.CandidatePool`:

* ``x_r`` (0/1): route ``r`` is chosen; exactly ``rules.num_routes`` are;
* every node is on a chosen route: for each node ``v``, ``sum(x_r : v in r) >= 1``;
* the route network is connected, by cuts added lazily: after a solve, the chosen routes are
  grouped into components (routes sharing a node are connected); while there are several, for
  each component's node set ``S``: ``sum(x_r : r has a stop in S and one outside S) >= 1``, and
  solve again. Every connected route set that serves every node keeps these cuts (if no chosen
  route had stops both in ``S`` and outside, the routes inside ``S`` and those outside would
  share no node), so the model stays exact;
* ``y_p`` (0/1) for a node pair ``p = {i, j}`` with demand: ``y_p <= sum(x_r : i, j in r)``
  (the pair rides one chosen route without transfer);
* ``z_p`` (0/1), for the :data:`TRANSFER_PAIRS` pairs of highest demand: the pair is joined
  with one transfer at one of the :data:`NUM_HUBS` *hubs* (the nodes on the most candidate
  demand): ``z_p <= sum_k w_pk`` with ``w_pk <= c_ik``, ``w_pk <= c_kj`` where ``c_ab`` says
  ``a`` and ``b`` are on a common chosen route; and ``y_p + z_p <= 1``. A one-transfer journey
  through another node is not counted, so this is a lower bound of the one-transfer coverage.

The objective, minimised, in minutes per trip::

    transfer_penalty * sum_p D_p * (2 - 2 y_p - z_p) / D  +  operator_weight * TRT / (N * t_med)

where ``D_p`` is the pair's demand both ways, ``D`` all the demand, ``TRT = sum_r x_r time_r``
the chosen routes' total one-way time (the operator's cost), ``N`` the route count and
``t_med`` the median candidate route time. The first term is the mean transfer penalty per
trip when a trip not joined directly or through a hub needs two transfers: it is the
uncovered demand weighted by the transfers it costs; the second term is the operator's cost,
scaled so that ``operator_weight`` is the minutes per trip one typical route is worth. Pairs
beyond the :data:`MAX_PAIRS` of highest demand count as needing two transfers whatever the
choice (a constant).

Several solutions (``num_solutions > 1``): after each, a no-good cut (the next set shares at
most ``N - ceil(N / 5)`` routes with it) and solve again; returned best first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .candidates import CandidatePool
from .errors import InvalidArgumentError, PlanningError
from .problem import TransitProblem
from .routeset import RouteSet

#: Node pairs with a direct-coverage variable (those of highest demand).
MAX_PAIRS = 20_000
#: Node pairs with a one-transfer variable (those of highest demand).
TRANSFER_PAIRS = 1_500
#: Transfer nodes the one-transfer term counts.
NUM_HUBS = 6
#: Share of the routes by which each further solution differs from every earlier one (at least 1).
MIN_DIFFERENT = 0.2
#: Integer scale of the objective's coefficients (CP-SAT solves integer programs).
_SCALE = 1_000_000


def _check_args(num_solutions: object, time_limit_s: object, seed: object, workers: object, weight: object) -> None:
    def whole(name: str, v: object, lo: int, hi: int) -> None:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not lo <= v <= hi:
            raise InvalidArgumentError(name, f"got {v!r}", f"whole numbers {lo} .. {hi}")

    whole("num_solutions", num_solutions, 1, 1000)
    whole("seed", seed, 0, 2**31 - 1)
    whole("workers", workers, 1, 256)
    ok = isinstance(time_limit_s, int | float) and not isinstance(time_limit_s, bool)
    if not (ok and 0 < float(time_limit_s) <= 1e6):  # type: ignore[arg-type]
        raise InvalidArgumentError("time_limit_s", f"got {time_limit_s!r}", "> 0 seconds")
    ok = isinstance(weight, int | float) and not isinstance(weight, bool)
    if not (ok and 0 <= float(weight) < math.inf):  # type: ignore[arg-type]
        raise InvalidArgumentError("operator_weight", f"got {weight!r}", ">= 0")


def set_cover(
    problem: TransitProblem,
    pool: CandidatePool,
    *,
    num_solutions: int = 1,
    time_limit_s: float = 10.0,
    seed: int = 0,
    workers: int = 1,
    operator_weight: float = 0.1,
    progress: Callable[[int, int], None] | None = None,
) -> list[RouteSet]:
    """Up to ``num_solutions`` distinct feasible route sets from ``pool``, best (lowest cost) first.

    The model and its objective are in the module docstring. ``time_limit_s`` is the budget of
    all the solves together; each solution gets an equal share of what is left, and the best set
    found in it is taken (optimal when CP-SAT proves it in time). With ``workers=1`` (the
    default) and solves that end before the limit, the same seed gives the same sets.
    ``progress(done, num_solutions)`` is called after each solution.

    Raises:
        PlanningError: the pool cannot give a feasible set (a node on no candidate, fewer
            candidates than routes, no connected choice), or no feasible set was found in time.
    """
    _check_args(num_solutions, time_limit_s, seed, workers, operator_weight)
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    rules = problem.rules
    n = problem.num_nodes
    num = rules.num_routes
    routes = pool.routes
    m = len(routes)
    for k, r in enumerate(routes):
        if r.size < 2 or r.min() < 0 or r.max() >= n:
            raise InvalidArgumentError(
                "pool", f"route {k + 1} has a node outside 0 .. {n - 1}", "a pool of this problem"
            )
    if m < num:
        raise PlanningError(f"the pool has {m} candidate route(s); the rules ask for {num} routes")
    on = np.zeros((m, n), bool)
    for k, r in enumerate(routes):
        on[k, r] = True
    lonely = np.flatnonzero(~on.any(axis=0))
    if lonely.size:
        names = ", ".join(problem.node_ids[v] for v in lonely[:10]) + (" ..." if lonely.size > 10 else "")
        what = f"node {names} is" if lonely.size == 1 else f"nodes {names} are"
        raise PlanningError(
            f"{what} on no candidate route (no route of {rules.min_stops} .. {rules.max_stops} stops "
            f"within the pool's circuity limit {pool.max_circuity:g} passes through it)"
        )

    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{k}") for k in range(m)]
    model.add(sum(x) == num)
    for v in range(n):
        model.add(sum(x[k] for k in np.flatnonzero(on[:, v])) >= 1)

    # pairs on a common route: pair code i * n + j (i < j) -> routes
    dsym = problem.demand + problem.demand.T
    codes: list[NDArray[np.int64]] = []
    owners: list[NDArray[np.int64]] = []
    for k, r in enumerate(routes):
        s = np.sort(r.astype(np.int64))
        a, b = np.triu_indices(s.size, 1)
        codes.append(s[a] * n + s[b])
        owners.append(np.full(a.size, k, np.int64))
    code = np.concatenate(codes)
    owner = np.concatenate(owners)
    order = np.argsort(code, kind="stable")
    code, owner = code[order], owner[order]
    uniq, start = np.unique(code, return_index=True)
    stop = np.append(start[1:], code.size)
    where = {int(c): (int(s0), int(s1)) for c, s0, s1 in zip(uniq, start, stop, strict=True)}
    together: dict[int, cp_model.IntVar] = {}
    spans: dict[int, tuple[int, int]] = {}  # c variable -> its routes in ``owner``
    transfer_vars: list[
        tuple[cp_model.IntVar, list[tuple[cp_model.IntVar, cp_model.IntVar, cp_model.IntVar]], cp_model.IntVar | None]
    ] = []

    def common(i: int, j: int) -> cp_model.IntVar | None:
        """A 0/1 variable that is 1 only if ``i`` and ``j`` are on a common chosen route."""
        c = min(i, j) * n + max(i, j)
        if c in together:
            return together[c]
        span = where.get(c)
        if span is None:
            return None
        var = model.new_bool_var(f"c{c}")
        model.add(sum(x[int(k)] for k in owner[span[0] : span[1]]) >= var)
        together[c] = var
        spans[var.index] = span
        return var

    iu, ju = np.nonzero(np.triu(dsym, 1) > 0)
    dem = dsym[iu, ju]
    rank = np.lexsort((ju, iu, -dem))
    total = float(dsym.sum()) / 2.0
    obj_terms: list[tuple[cp_model.IntVar, float]] = []
    penalty = rules.transfer_penalty_min
    unit = penalty / total if total > 0 else 0.0
    direct: dict[int, cp_model.IntVar] = {}
    for p in rank[:MAX_PAIRS]:
        i, j = int(iu[p]), int(ju[p])
        var = common(i, j)
        if var is not None:
            direct[p] = var
            obj_terms.append((var, -2.0 * unit * float(dem[p])))
    if unit > 0 and n > 2:
        # hubs: the nodes on the most candidate demand
        weight = (on * pool.direct_demand[:, None]).sum(axis=0)
        hubs = [int(h) for h in np.lexsort((np.arange(n), -weight))[: min(NUM_HUBS, n)]]
        for p in rank[:TRANSFER_PAIRS]:
            i, j = int(iu[p]), int(ju[p])
            ways: list[tuple[cp_model.IntVar, cp_model.IntVar, cp_model.IntVar]] = []  # w, c_ih, c_hj
            for h in hubs:
                if h in (i, j):
                    continue
                ca, cb = common(i, h), common(h, j)
                if ca is None or cb is None:
                    continue
                w = model.new_bool_var(f"w{p}_{h}")
                model.add(w <= ca)
                model.add(w <= cb)
                ways.append((w, ca, cb))
            if not ways:
                continue
            z = model.new_bool_var(f"z{p}")
            model.add(sum(w for w, _, _ in ways) >= z)
            if p in direct:
                model.add(direct[p] + z <= 1)
            transfer_vars.append((z, ways, direct.get(p)))
            obj_terms.append((z, -unit * float(dem[p])))
    t_med = float(np.median(pool.time_min)) if m else 1.0
    op = operator_weight / (num * max(t_med, 1e-9))
    for k in range(m):
        obj_terms.append((x[k], op * float(pool.time_min[k])))
    big = max((abs(c) for _, c in obj_terms), default=1.0) or 1.0
    scale = _SCALE / big
    model.minimize(sum(round(c * scale) * v for v, c in obj_terms))

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    solver.parameters.linearization_level = 2
    hint = _greedy_cover(on, pool.direct_demand, num)
    if hint is not None:  # a complete hint: the model's variables as the greedy choice sets them
        pick = np.zeros(m, bool)
        pick[hint] = True
        value: dict[int, bool] = {}
        for k in range(m):
            model.add_hint(x[k], bool(pick[k]))
        for var in together.values():
            s0, s1 = spans[var.index]
            value[var.index] = bool(pick[owner[s0:s1]].any())
            model.add_hint(var, value[var.index])
        for z, ways, y in transfer_vars:
            any_way = False
            for w, ca, cb in ways:
                both = value[ca.index] and value[cb.index]
                model.add_hint(w, both)
                any_way = any_way or both
            model.add_hint(z, any_way and not (y is not None and value[y.index]))
    deadline = t0 + float(time_limit_s)
    found: list[tuple[float, list[int]]] = []
    cuts: set[frozenset[int]] = set()
    differ = max(1, math.ceil(MIN_DIFFERENT * num))
    for s_index in range(num_solutions):
        share = (deadline - time.perf_counter()) / (num_solutions - s_index)
        end = time.perf_counter() + share
        result: list[int] | None = None
        reason = ""
        while True:
            left = end - time.perf_counter()
            if left <= 0:
                reason = "time"
                break
            solver.parameters.max_time_in_seconds = left
            status = solver.solve(model)
            if status == cp_model.INFEASIBLE:
                reason = "infeasible"
                break
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                reason = "time"
                break
            chosen = [k for k in range(m) if solver.boolean_value(x[k])]
            parts = _components(on[chosen])
            if len(parts) == 1:
                result = chosen
                break
            for part in parts:
                key = frozenset(np.flatnonzero(part).tolist())
                if key in cuts or len(key) == n:
                    continue
                cuts.add(key)
                inside = on[:, part].any(axis=1)
                outside = on[:, ~part].any(axis=1)
                crossing = np.flatnonzero(inside & outside)
                if crossing.size == 0:  # no candidate joins this group to the rest
                    model.add_bool_or([])
                else:
                    model.add(sum(x[int(k)] for k in crossing) >= 1)
        if result is None:
            if found:
                break
            if reason == "infeasible":
                raise PlanningError(
                    f"the pool of {m} candidates has no {num} routes that serve every node and form a connected "
                    "network (a larger or more varied pool may)"
                )
            raise PlanningError(
                f"no feasible route set found from the pool of {m} candidates within time_limit_s={time_limit_s:g} s"
            )
        found.append((solver.objective_value, result))
        if progress is not None:
            progress(len(found), num_solutions)
        if s_index + 1 < num_solutions:
            model.add(sum(x[k] for k in result) <= num - differ)
    found.sort(key=lambda f: f[0])
    return [tuple(routes[k].copy() for k in chosen) for _, chosen in found]


def _greedy_cover(on: NDArray[np.bool_], value: NDArray[np.float64], num: int) -> list[int] | None:
    """A connected choice of ``num`` routes serving every node, built greedily (a hint for the
    solver), or None if the greedy way finds none: start from the most valuable route, then
    add the route touching the chosen ones that serves most new nodes (then most value)."""
    m = on.shape[0]
    if m == 0:
        return None
    chosen = [int(np.argmax(value))]
    served = on[chosen[0]].copy()
    free = np.ones(m, bool)
    free[chosen[0]] = False
    while len(chosen) < num:
        touch = free & (on & served).any(axis=1)
        if not touch.any():
            return None
        new = (on & ~served).sum(axis=1)
        key = np.where(touch, new * (value.max() + 1.0) + value, -1.0)
        k = int(np.argmax(key))
        chosen.append(k)
        served |= on[k]
        free[k] = False
    return chosen if served.all() else None


def _components(on: NDArray[np.bool_]) -> list[NDArray[np.bool_]]:
    """The node sets (as masks) of the connected groups of routes (``on``: routes x nodes)."""
    m = on.shape[0]
    parent = list(range(m))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for v in range(on.shape[1]):
        users = np.flatnonzero(on[:, v])
        for u in users[1:]:
            parent[root(int(u))] = root(int(users[0]))
    groups: dict[int, NDArray[np.bool_]] = {}
    for k in range(m):
        g = root(k)
        groups[g] = on[k] | groups[g] if g in groups else on[k].copy()
    return [groups[g] for g in sorted(groups)]
