"""Moves on route sets for the genetic search: mutations, crossovers and the repair.

A route set here is a ``list`` of ``int32`` arrays of node indices (the search's working form of
:data:`planning.RouteSet`); routes run both ways. Every operator takes an :class:`OperatorContext`
(the problem's arrays prepared once), the parent set(s) and a ``numpy.random.Generator``, and
returns a *new* list (parents are never changed) or ``None`` when the move does not apply to the
parents drawn (no route long enough to drop a stop, no two routes sharing a node, ...). A child
is not necessarily feasible; :func:`repair` makes it so or returns ``None``, and
:func:`is_feasible` is the search's fast check (the same rules as
:func:`planning.check_route_set`, which stays the independent one).

The moves (``MUTATIONS`` lists them by name):

* ``grow_terminal`` / ``drop_terminal``: add a linked node at one end of a route, or remove an end;
* ``shift_route``: both at once, at opposite ends (a route at its maximum length can move);
* ``swap_terminal``: an end replaced by another node linked to the stop before it;
* ``regrow_end``: up to half of a route cut at one end and grown back from there by demand;
* ``insert_inner`` / ``remove_inner``: put a node between two consecutive stops that are both
  linked to it, or take out an inner stop whose neighbours are linked to each other;
* ``exchange_segments``: two routes sharing a node swap their parts beyond it (a crossover at
  a common node);
* ``replace_route``: a route gives way to a new one, from the candidate pool when one is given,
  else grown from a demand-weighted pair of nodes (:func:`demand_route`);

and two route-set crossovers: :func:`crossover_routes` (Mumford 2013: take routes alternately
from each parent, each time the one that adds most nodes not yet served) and
:func:`crossover_uniform` (each route position from either parent).

The moves are plain Python over small arrays: a move touches one or two routes of at most a few
dozen stops. The checks every child goes through (the rules, the parts of the route network)
are small Numba kernels: in Python they took more time than the moves and, on the small
instances, more than scoring the child.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.config import kernel

from .problem import TransitProblem
from .routeset import flatten

Route = NDArray[np.int32]
Routes = list[Route]


@dataclass(frozen=True, eq=False)
class OperatorContext:
    """What the moves need to know about a problem, prepared once.

    Attributes:
        problem: the problem.
        linked: ``(n, n)`` bool, a link both ways between two nodes (what consecutive stops need).
        neighbours: per node, the nodes linked to it both ways.
        time_min: ``(n, n)`` one-way link times (``inf`` where no link).
        path_time_min: ``(n, n)`` shortest times over the both-way links.
        predecessor: ``(n, n)`` the node before ``j`` on the shortest path from ``i`` (-9999: none).
        demand: ``(n, n)`` demand both ways (``demand + demand.T``).
        pool: candidate routes to draw from in ``replace_route`` (may be empty; :meth:`build`
            keeps those within the stop bounds, with no repeated stop and linked stops).
    """

    problem: TransitProblem
    linked: NDArray[np.bool_]
    neighbours: tuple[NDArray[np.int32], ...]
    time_min: NDArray[np.float64]
    path_time_min: NDArray[np.float64]
    predecessor: NDArray[np.int32]
    demand: NDArray[np.float64]
    pool: tuple[Route, ...] = ()

    @property
    def n(self) -> int:
        return int(self.linked.shape[0])

    @classmethod
    def build(cls, problem: TransitProblem, pool: Sequence[Any] = ()) -> OperatorContext:
        """The context of ``problem``; ``pool``: candidate routes (arrays of node indices)."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import shortest_path

        t = problem.link_time_min
        linked = np.isfinite(t) & np.isfinite(t.T)
        np.fill_diagonal(linked, False)
        neighbours = tuple(np.flatnonzero(linked[i]).astype(np.int32) for i in range(t.shape[0]))
        i, j = np.nonzero(linked)
        w = np.maximum(t[i, j], t[j, i])
        g = csr_matrix((w, (i, j)), shape=t.shape)
        dist, pred = shortest_path(g, method="D", directed=True, return_predecessors=True)
        d = np.asarray(problem.demand, np.float64)
        rules = problem.rules
        n = t.shape[0]
        ok: list[Route] = []
        for raw in pool:
            r = np.asarray(raw, np.int32).reshape(-1)
            if not rules.min_stops <= r.size <= rules.max_stops or r.min() < 0 or r.max() >= n:
                continue
            if not _has_repeat(r) and linked[r[:-1], r[1:]].all():
                ok.append(r)
        return cls(problem, linked, neighbours, t, dist, pred.astype(np.int32), d + d.T, tuple(ok))

    def path(self, a: int, b: int) -> list[int]:
        """The shortest path from ``a`` to ``b`` over both-way links (``[]`` if none)."""
        if a == b:
            return [a]
        if not np.isfinite(self.path_time_min[a, b]):
            return []
        out = [b]
        v = b
        while v != a:
            v = int(self.predecessor[a, v])
            out.append(v)
        out.reverse()
        return out


# ----------------------------------------------------------------------------- checks and keys


def route_key(route: Route) -> bytes:
    """The route's identity, the same for either direction."""
    hit = _KEYS.get(id(route))
    if hit is not None and hit[0] is route:
        return hit[1]
    r = np.asarray(route, np.int32)
    if r.size and r[-1] < r[0]:
        r = r[::-1]
    key = r.tobytes()
    if len(_KEYS) >= 50_000:
        _KEYS.clear()
    _KEYS[id(route)] = (route, key)
    return key


# Keys of the routes seen lately, by the array's id (the entry holds the array, so that its id
# is not reused while the entry lives). Moves never change a route in place: a child shares
# its parent's unchanged route arrays, so most keys of a child are found here.
_KEYS: dict[int, tuple[Any, bytes]] = {}


def set_key(routes: Sequence[Route]) -> bytes:
    """The route set's identity: the same for any order of its routes and direction of each."""
    keys = sorted(route_key(r) for r in routes)
    return b"|".join(keys)


@kernel
def _label_components(n, nodes, offsets, label):  # pragma: no cover - compiled
    """Union of the stops of each route; ``label[v]``: the root of node ``v``'s part (an
    unserved node is its own part). Returns the number of parts."""
    for v in range(n):
        label[v] = v
    for r in range(offsets.shape[0] - 1):
        a = nodes[offsets[r]]
        while label[a] != a:
            a = label[a]
        for k in range(offsets[r] + 1, offsets[r + 1]):
            b = nodes[k]
            while label[b] != b:
                label[b] = label[label[b]]
                b = label[b]
            if b != a:
                label[b] = a
    parts = 0
    for v in range(n):
        a = v
        while label[a] != a:
            a = label[a]
        label[v] = a
        if a == v:
            parts += 1
    return parts


@kernel
def _rules_kept(n, nodes, offsets, linked, num_routes, min_stops, max_stops, seen):  # pragma: no cover
    """The route count, stops per route, no repeated stop, consecutive stops linked, every node
    served (``seen``: an int64 workspace of ``n``). Connectivity and limits are checked apart."""
    if offsets.shape[0] - 1 != num_routes:
        return False
    for v in range(n):
        seen[v] = -1
    served = 0
    for r in range(num_routes):
        size = offsets[r + 1] - offsets[r]
        if size < min_stops or size > max_stops:
            return False
        for k in range(offsets[r], offsets[r + 1]):
            v = nodes[k]
            if v < 0 or v >= n or seen[v] == r:
                return False
            if seen[v] < 0:
                served += 1
            seen[v] = r
            if k > offsets[r] and not linked[nodes[k - 1], v]:
                return False
    return served == n


def _components(n: int, routes: Sequence[Route]) -> NDArray[np.int64]:
    """A component label per node (union of the nodes of each route); unserved nodes keep their own."""
    nodes, offsets = flatten(routes)
    label = np.empty(n, np.int64)
    _label_components(n, nodes, offsets, label)
    return label


def _has_repeat(route: Route) -> bool:
    stops = route.tolist()
    return len(set(stops)) != len(stops)


def route_time(ctx: OperatorContext, route: Route) -> float:
    """One-way time of a route (minutes)."""
    return float(ctx.time_min[route[:-1], route[1:]].sum())


def total_route_time(ctx: OperatorContext, routes: Sequence[Route]) -> float:
    """The operator's cost TRT: the sum of the routes' one-way times."""
    nodes, offsets = flatten(routes)
    return flat_route_time(ctx, nodes, offsets)


def flat_route_time(ctx: OperatorContext, nodes: NDArray[np.int32], offsets: NDArray[np.int64]) -> float:
    """TRT of a flattened route set (:func:`planning.flatten`)."""
    legs = ctx.time_min[nodes[:-1], nodes[1:]]
    legs[offsets[1:-1] - 1] = 0.0  # the step from one route's last stop to the next route's first
    return float(legs.sum())


def _limits_ok(ctx: OperatorContext, routes: Sequence[Route]) -> bool:
    rules = ctx.problem.rules
    if rules.max_circuity >= float("inf") and rules.max_overlap >= 1.0:
        return True
    sp = ctx.problem.shortest_time_min
    count: dict[tuple[int, int], int] = {}
    for r in routes:
        for a, b in zip(r[:-1].tolist(), r[1:].tolist(), strict=True):
            key = (a, b) if a < b else (b, a)
            count[key] = count.get(key, 0) + 1
    for r in routes:
        legs = ctx.time_min[r[:-1], r[1:]]
        total = float(legs.sum())
        direct = float(sp[r[0], r[-1]])
        if direct > 0 and total / direct > rules.max_circuity + 1e-9:
            return False
        if rules.max_overlap < 1.0 and total > 0:
            shared = 0.0
            for a, b, w in zip(r[:-1].tolist(), r[1:].tolist(), legs.tolist(), strict=True):
                if count[(a, b) if a < b else (b, a)] > 1:
                    shared += w
            if shared / total > rules.max_overlap + 1e-9:
                return False
    return True


def is_feasible(ctx: OperatorContext, routes: Sequence[Route]) -> bool:
    """Whether the set keeps every rule (the rules of :func:`planning.check_route_set`)."""
    rules = ctx.problem.rules
    n = ctx.n
    if not routes:
        return False
    nodes, offsets = flatten(routes)
    seen = np.empty(n, np.int64)
    if not _rules_kept(n, nodes, offsets, ctx.linked, rules.num_routes, rules.min_stops, rules.max_stops, seen):
        return False
    if _label_components(n, nodes, offsets, seen) != 1:
        return False
    return _limits_ok(ctx, routes)


# ----------------------------------------------------------------------------- new routes


def _pick(rng: np.random.Generator, weights: NDArray[np.float64]) -> int:
    """An index drawn with probability proportional to ``weights`` (uniform when all are 0)."""
    total = float(weights.sum())
    if not total > 0:
        return int(rng.integers(weights.size))
    k = int(np.searchsorted(np.cumsum(weights), rng.random() * total, side="right"))
    return min(k, weights.size - 1)


def demand_route(
    ctx: OperatorContext,
    rng: np.random.Generator,
    *,
    length: int | None = None,
    through: int | None = None,
    unserved: NDArray[np.bool_] | None = None,
    covered: NDArray[np.bool_] | None = None,
) -> Route:
    """A new route grown from a pair of nodes drawn by demand (its shortest path), then extended
    at either end by the linked node with the most demand to and from the route's stops (drawn
    among the best few), up to ``length`` stops (random in the rules' bounds, longer more
    likely, when not given). ``through``: a node the route must serve; ``unserved``: nodes
    whose demand counts double; ``covered``: ``(n, n)`` pairs already served directly, whose
    demand counts a tenth."""
    rules = ctx.problem.rules
    n = ctx.n
    lo, hi = rules.min_stops, min(rules.max_stops, n)
    if length is None:
        length = int(hi - np.floor((hi - lo + 1) * rng.random() ** 2))
    length = max(lo, min(hi, length))
    d = ctx.demand
    if covered is not None:
        d = np.where(covered, 0.1 * d, d)
    if unserved is not None and unserved.any():
        boost = np.where(unserved, 2.0, 1.0)
        d = d * boost[:, None] * boost[None, :]
    if through is None:
        flat = _pick(rng, d.reshape(-1) + 1e-12)
        a, b = divmod(flat, n)
    else:
        a = through
        b = _pick(rng, d[a] + 1e-12)
    path = ctx.path(int(a), int(b)) if a != b else [int(a)]
    if len(path) < 1:
        path = [int(a)]
    if len(path) > length:
        start = int(rng.integers(len(path) - length + 1))
        if through is not None:
            k = path.index(through)
            start = max(0, min(k, len(path) - length))
        path = path[start : start + length]
    return _grow(ctx, rng, list(path), length, d, (0, 1))


def _grow(
    ctx: OperatorContext,
    rng: np.random.Generator,
    route: list[int],
    length: int,
    d: NDArray[np.float64],
    sides: tuple[int, ...],
) -> Route:
    """``route`` grown at the given ends (0: first stop, 1: last) up to ``length`` stops, each
    time by a linked node drawn among the best three by demand ``d`` to and from the route's
    stops, keeping the circuity limit when the rules set one."""
    limit = ctx.problem.rules.max_circuity
    sp = ctx.problem.shortest_time_min
    inside = np.zeros(ctx.n, np.bool_)
    inside[route] = True
    while len(route) < length:
        best: list[tuple[float, int, int]] = []
        for side in sides:
            e = route[0] if side == 0 else route[-1]
            cand = ctx.neighbours[e][~inside[ctx.neighbours[e]]]
            if limit < np.inf and cand.size:
                far = route[-1] if side == 0 else route[0]
                run = np.full(cand.size, float(ctx.time_min[route[:-1], route[1:]].sum()))
                run += ctx.time_min[e, cand] if side == 1 else ctx.time_min[cand, e]
                direct = sp[far, cand] if side == 1 else sp[cand, far]
                cand = cand[run <= limit * direct + 1e-9]
            if cand.size == 0:
                continue
            score = d[np.ix_(cand, np.asarray(route))].sum(axis=1)
            for c, sc in zip(cand.tolist(), score.tolist(), strict=True):
                best.append((sc, side, c))
        if not best:
            break
        best.sort(key=lambda x: -x[0])
        top = best[: min(3, len(best))]
        w = np.array([sc for sc, _, _ in top]) + 1e-9
        _, side, c = top[_pick(rng, w)]
        if side == 0:
            route.insert(0, c)
        else:
            route.append(c)
        inside[c] = True
    return np.asarray(route, np.int32)


def constructive_set(ctx: OperatorContext, rng: np.random.Generator) -> Routes | None:
    """A route set built route by route with :func:`demand_route`, each new route favouring the
    demand no route yet serves directly and the nodes not yet served; repaired."""
    rules = ctx.problem.rules
    n = ctx.n
    covered = np.zeros((n, n), np.bool_)
    served = np.zeros(n, np.bool_)
    routes: Routes = []
    for _ in range(rules.num_routes):
        r = demand_route(ctx, rng, unserved=~served, covered=covered)
        routes.append(r)
        covered[np.ix_(r, r)] = True
        served[r] = True
    return repair(ctx, routes, rng)


def _from_pool(ctx: OperatorContext, rng: np.random.Generator, through: int | None = None) -> Route | None:
    if not ctx.pool:
        return None
    if through is None:
        return ctx.pool[int(rng.integers(len(ctx.pool)))].copy()
    hits = [r for r in ctx.pool if through in r]
    if not hits:
        return None
    return hits[int(rng.integers(len(hits)))].copy()


# ----------------------------------------------------------------------------- mutations


def grow_terminal(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Add a node linked to one end of a route that is shorter than the maximum."""
    rules = ctx.problem.rules
    order = rng.permutation(len(routes))
    for k in order.tolist():
        r = routes[k]
        if r.size >= rules.max_stops:
            continue
        side = int(rng.integers(2))
        for s in (side, 1 - side):
            e = int(r[0] if s == 0 else r[-1])
            cand = ctx.neighbours[e]
            cand = cand[~np.isin(cand, r)]
            if cand.size == 0:
                continue
            c = int(cand[rng.integers(cand.size)])
            new = np.concatenate([[c], r]) if s == 0 else np.concatenate([r, [c]])
            out = list(routes)
            out[k] = new.astype(np.int32)
            return out
    return None


def drop_terminal(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Remove one end of a route that is longer than the minimum."""
    rules = ctx.problem.rules
    order = rng.permutation(len(routes))
    for k in order.tolist():
        r = routes[k]
        if r.size <= rules.min_stops:
            continue
        out = list(routes)
        out[k] = r[1:].copy() if rng.integers(2) == 0 else r[:-1].copy()
        return out
    return None


def shift_route(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Move a route along: drop one end and add a linked node at the other (the length kept)."""
    for k in rng.permutation(len(routes)).tolist():
        r = routes[k]
        if r.size < 3:
            continue
        side = int(rng.integers(2))
        for s in (side, 1 - side):
            e = int(r[-1] if s == 1 else r[0])
            cand = ctx.neighbours[e]
            cand = cand[~np.isin(cand, r)]
            if cand.size == 0:
                continue
            c = int(cand[rng.integers(cand.size)])
            new = np.concatenate([r[1:], [c]]) if s == 1 else np.concatenate([[c], r[:-1]])
            out = list(routes)
            out[k] = new.astype(np.int32)
            return out
    return None


def swap_terminal(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Replace an end of a route by another node linked to the stop before it."""
    for k in rng.permutation(len(routes)).tolist():
        r = routes[k]
        if r.size < 3:
            continue
        side = int(rng.integers(2))
        for s in (side, 1 - side):
            before = int(r[-2] if s == 1 else r[1])
            cand = ctx.neighbours[before]
            cand = cand[~np.isin(cand, r)]
            if cand.size == 0:
                continue
            c = int(cand[rng.integers(cand.size)])
            new = r.copy()
            new[-1 if s == 1 else 0] = c
            out = list(routes)
            out[k] = new
            return out
    return None


def regrow_end(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Cut up to half of a route at one end and grow it back from there by demand (to a length
    drawn between its old length and the maximum): a new way out of the route's kept part."""
    rules = ctx.problem.rules
    k = int(rng.integers(len(routes)))
    r = routes[k]
    if r.size < 3:
        return None
    cut = int(rng.integers(1, r.size // 2 + 1))
    side = int(rng.integers(2))
    kept = r[cut:] if side == 0 else r[:-cut]
    length = int(rng.integers(r.size, rules.max_stops + 1))
    new = _grow(ctx, rng, kept.tolist(), length, ctx.demand, (side,))
    if new.size < rules.min_stops or route_key(new) == route_key(r):
        return None
    out = list(routes)
    out[k] = new
    return out


def insert_inner(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Put a node between two consecutive stops of a route when it is linked to both."""
    rules = ctx.problem.rules
    for k in rng.permutation(len(routes)).tolist():
        r = routes[k]
        if r.size >= rules.max_stops:
            continue
        for i in rng.permutation(r.size - 1).tolist():
            a, b = int(r[i]), int(r[i + 1])
            both = ctx.linked[a] & ctx.linked[b]
            both[r] = False
            cand = np.flatnonzero(both)
            if cand.size:
                c = int(cand[rng.integers(cand.size)])
                out = list(routes)
                out[k] = np.concatenate([r[: i + 1], [c], r[i + 1 :]]).astype(np.int32)
                return out
    return None


def remove_inner(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Take out an inner stop of a route whose two neighbours on the route are linked."""
    rules = ctx.problem.rules
    for k in rng.permutation(len(routes)).tolist():
        r = routes[k]
        if r.size <= max(rules.min_stops, 2):
            continue
        inner = np.flatnonzero(ctx.linked[r[:-2], r[2:]]) + 1
        if inner.size:
            i = int(inner[rng.integers(inner.size)])
            out = list(routes)
            out[k] = np.concatenate([r[:i], r[i + 1 :]]).astype(np.int32)
            return out
    return None


def exchange_segments(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """Two routes that share a node swap their parts beyond it (either direction of the
    second); kept only when both new routes have no repeated stop and lengths within bounds."""
    rules = ctx.problem.rules
    m = len(routes)
    if m < 2:
        return None
    for _ in range(6):
        ka, kb = (int(v) for v in rng.choice(m, 2, replace=False))
        a, b = routes[ka], routes[kb]
        if rng.integers(2):
            b = b[::-1]
        common = np.intersect1d(a, b)
        if common.size == 0:
            continue
        c = int(common[rng.integers(common.size)])
        i = int(np.flatnonzero(a == c)[0])
        j = int(np.flatnonzero(b == c)[0])
        na = np.concatenate([a[: i + 1], b[j + 1 :]]).astype(np.int32)
        nb = np.concatenate([b[: j + 1], a[i + 1 :]]).astype(np.int32)
        if any(not rules.min_stops <= x.size <= rules.max_stops for x in (na, nb)):
            continue
        if _has_repeat(na) or _has_repeat(nb):
            continue
        if route_key(na) == route_key(a) or route_key(na) == route_key(b):
            continue
        out = list(routes)
        out[ka], out[kb] = na, nb
        return out
    return None


def replace_route(ctx: OperatorContext, routes: Routes, rng: np.random.Generator) -> Routes | None:
    """A route gives way to a new one: from the pool (half the time when a pool is given) or a
    :func:`demand_route` favouring the demand the other routes do not serve directly."""
    k = int(rng.integers(len(routes)))
    new: Route | None = None
    if ctx.pool and rng.random() < 0.5:
        new = _from_pool(ctx, rng)
    if new is None:
        n = ctx.n
        covered = np.zeros((n, n), np.bool_)
        for j, r in enumerate(routes):
            if j != k:
                covered[np.ix_(r, r)] = True
        new = demand_route(ctx, rng, covered=covered)
    out = list(routes)
    out[k] = new
    return out


#: The mutations by name (each ``(ctx, routes, rng) -> routes | None``).
MUTATIONS: dict[str, Callable[[OperatorContext, Routes, np.random.Generator], Routes | None]] = {
    "grow_terminal": grow_terminal,
    "drop_terminal": drop_terminal,
    "shift_route": shift_route,
    "swap_terminal": swap_terminal,
    "regrow_end": regrow_end,
    "insert_inner": insert_inner,
    "remove_inner": remove_inner,
    "exchange_segments": exchange_segments,
    "replace_route": replace_route,
}


# ----------------------------------------------------------------------------- crossovers


def crossover_routes(ctx: OperatorContext, first: Routes, second: Routes, rng: np.random.Generator) -> Routes:
    """Mumford (2013)'s crossover: routes taken alternately from each parent (starting with
    ``first``), each time the parent's route that serves most nodes not yet served (ties: the
    larger share of such nodes, then at random). Not repaired."""
    num = ctx.problem.rules.num_routes
    seen = np.zeros(ctx.n, np.bool_)
    parents = (first, second)
    flat = [flatten(p) for p in parents]
    sizes = [np.diff(off).astype(np.float64) for _, off in flat]
    alive = [np.ones(len(p), np.bool_) for p in parents]
    taken: set[bytes] = set()
    child: Routes = []
    turn = 0
    while len(child) < num and (alive[0].any() or alive[1].any()):
        p = turn if alive[turn].any() else 1 - turn
        nodes, off = flat[p]
        unseen = np.add.reduceat((~seen[nodes]).astype(np.int64), off[:-1])
        order = np.lexsort((rng.random(unseen.size), unseen / sizes[p], unseen))
        best = int(order[alive[p][order]][-1])
        alive[p][best] = False
        r = parents[p][best]
        key = route_key(r)
        if key not in taken:
            taken.add(key)
            child.append(r)
            seen[r] = True
        turn = 1 - turn
    return child


def crossover_uniform(ctx: OperatorContext, first: Routes, second: Routes, rng: np.random.Generator) -> Routes:
    """Each route position from either parent at random (a duplicate route is taken from the
    other parent). Not repaired."""
    child: Routes = []
    taken: set[bytes] = set()
    for a, b in zip(first, second, strict=False):
        pick, other = (a, b) if rng.random() < 0.5 else (b, a)
        for r in (pick, other):
            if route_key(r) not in taken:
                taken.add(route_key(r))
                child.append(r)
                break
    return child


# ----------------------------------------------------------------------------- repair


def _simple_part(r: Route) -> Route:
    """The longest run of the route without a repeated stop."""
    best = (0, 0)
    start = 0
    last: dict[int, int] = {}
    for i, v in enumerate(r.tolist()):
        if v in last and last[v] >= start:
            start = last[v] + 1
        last[v] = i
        if i + 1 - start > best[1] - best[0]:
            best = (start, i + 1)
    return r[best[0] : best[1]].copy()


def _extend_towards(
    ctx: OperatorContext, r: Route, target: int, count: NDArray[np.int64] | None = None
) -> Route | None:
    """The route extended at one end along a shortest path to ``target`` (the shorter of the
    two), or ``None`` when the path meets the route or the route gets too long. With ``count``
    (routes serving each node), stops at the other end that other routes also serve may be
    dropped to make room (or to clear the path's way)."""
    max_stops = ctx.problem.rules.max_stops
    min_stops = ctx.problem.rules.min_stops
    best: Route | None = None
    stops = r.tolist()
    for side in (0, 1):
        e = stops[0] if side == 0 else stops[-1]
        extra = ctx.path(e, target)[1:]
        if not extra:
            continue
        body = stops if side == 1 else stops[::-1]  # extend at the end of body
        where = {v: i for i, v in enumerate(body)}
        crossing = [where[v] for v in extra if v in where]
        need = max(len(body) + len(extra) - max_stops, (max(crossing) + 1) if crossing else 0)
        if need > 0 and (count is None or any(count[v] <= 1 for v in body[:need])):
            continue
        kept = body[need:]
        if not kept or not min_stops <= len(kept) + len(extra) <= max_stops:
            continue
        if best is None or len(kept) + len(extra) < best.size:
            best = np.asarray(kept + extra, np.int32)
    return best


def _serving(n: int, routes: Sequence[Route]) -> NDArray[np.int64]:
    """How many routes serve each node."""
    count = np.zeros(n, np.int64)
    for r in routes:
        count[r] += 1
    return count


def repair(ctx: OperatorContext, routes: Sequence[Route], rng: np.random.Generator) -> Routes | None:
    """A feasible set close to ``routes``, or ``None`` (a feasible set comes back as it is). In
    order: no repeated stop (a route keeps its longest simple run), no duplicate route, too long
    routes trimmed at random ends, the route count made right (dropping the routes that serve
    fewest nodes alone, adding demand-driven ones), too short routes grown at their ends, every
    node served (a route extended along a shortest path to it, dropping end stops that other
    routes also serve when it needs room; else a route through it replacing the route that
    serves fewest nodes alone), the network connected (a route extended from one part towards
    the nearest node of another, the same way). The circuity and overlap limits are checked,
    not repaired."""
    rules = ctx.problem.rules
    n = ctx.n
    if is_feasible(ctx, routes) and len({route_key(r) for r in routes}) == len(routes):
        return [np.asarray(r, np.int32) for r in routes]
    out: Routes = []
    keys: set[bytes] = set()
    for r0 in routes:
        r = np.asarray(r0, np.int32)
        if _has_repeat(r):
            r = _simple_part(r)
        while r.size > rules.max_stops:
            r = r[1:] if rng.integers(2) == 0 else r[:-1]
        if r.size < 1:
            continue
        key = route_key(r)
        if key in keys:
            continue
        keys.add(key)
        out.append(r.copy())
    if len(out) > rules.num_routes:
        while len(out) > rules.num_routes:
            count = np.zeros(n, np.int64)
            for r in out:
                count[r] += 1
            alone = [int((count[r] == 1).sum()) for r in out]
            out.pop(int(np.argmin(alone)))
    served = np.zeros(n, np.bool_)
    for r in out:
        served[r] = True
    tries = 0
    while len(out) < rules.num_routes:
        tries += 1
        if tries > 20 * rules.num_routes:
            return None
        drawn = _from_pool(ctx, rng) if ctx.pool and rng.random() < 0.5 else None
        r = drawn if drawn is not None else demand_route(ctx, rng, unserved=~served)
        if route_key(r) in keys:
            continue
        keys.add(route_key(r))
        out.append(r)
        served[r] = True
    for k, r in enumerate(out):
        tries = 0
        while r.size < rules.min_stops and tries < 4 * rules.min_stops:
            tries += 1
            side = int(rng.integers(2))
            e = int(r[0] if side == 0 else r[-1])
            cand = ctx.neighbours[e][~np.isin(ctx.neighbours[e], r)]
            if cand.size == 0:
                e = int(r[-1] if side == 0 else r[0])
                side = 1 - side
                cand = ctx.neighbours[e][~np.isin(ctx.neighbours[e], r)]
            if cand.size == 0:
                break
            pref = cand[~served[cand]]
            pick = pref if pref.size else cand
            c = int(pick[rng.integers(pick.size)])
            r = np.concatenate([[c], r]) if side == 0 else np.concatenate([r, [c]])
            r = r.astype(np.int32)
        if r.size < rules.min_stops:
            r = demand_route(ctx, rng, length=rules.min_stops)
            if r.size < rules.min_stops:
                return None
        out[k] = r
        served[r] = True
    # serve every node: extend a route towards it (dropping doubly served stops to make room),
    # else replace the route that serves fewest nodes alone by one through it
    for _ in range(4 * n):
        missing = np.flatnonzero(~served)
        if missing.size == 0:
            break
        u = int(missing[rng.integers(missing.size)])
        count = _serving(n, out)
        best_k, best_r = -1, None
        for trimming in (None, count):
            for k in rng.permutation(len(out)).tolist():
                new = _extend_towards(ctx, out[k], u, trimming)
                if new is not None and (best_r is None or new.size - out[k].size < best_r.size - out[best_k].size):
                    best_k, best_r = k, new
            if best_r is not None:
                break
        if best_r is None:
            only = np.array([int((count[r] == 1).sum()) for r in out])
            best_k = int(np.argmin(only + 1e-3 * rng.random(only.size)))
            best_r = demand_route(ctx, rng, through=u, unserved=~served)
            if best_r.size < rules.min_stops:
                return None
        out[best_k] = best_r
        served = _serving(n, out) > 0
    if not served.all():
        return None
    # connect the parts
    for _ in range(2 * rules.num_routes):
        comp = _components(n, out)
        labels, sizes = np.unique(comp, return_counts=True)
        if labels.size == 1:
            break
        small = labels[np.argmin(sizes)]
        in_small = comp == small
        done = False
        for k in rng.permutation(len(out)).tolist():
            r = out[k]
            sources = [int(r[0]), int(r[-1])]
            own = in_small[r[0]]
            targets = np.flatnonzero(in_small != own)
            if targets.size == 0:
                continue
            count = _serving(n, out)
            for e in sources:
                t = targets[np.argmin(ctx.path_time_min[e, targets])]
                new = _extend_towards(ctx, r, int(t), count)
                if new is not None:
                    out[k] = new
                    done = True
                    break
            if done:
                break
        if not done:
            return None
    if not is_feasible(ctx, out):
        return None
    return out


def warm_up() -> float:
    """Compile this module's kernels (seconds taken; next to nothing once cached on disk)."""
    import time

    t0 = time.perf_counter()
    nodes = np.array([0, 1, 1, 2], np.int32)
    offsets = np.array([0, 2, 4], np.int64)
    linked = np.ones((3, 3), np.bool_)
    work = np.empty(3, np.int64)
    _rules_kept(3, nodes, offsets, linked, 2, 2, 2, work)
    _label_components(3, nodes, offsets, work)
    return time.perf_counter() - t0
