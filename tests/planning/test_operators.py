"""The route-set moves and the repair (planning.operators): feasibility kept, moves as named.

Feasibility is judged by planning.check_route_set, the independent plain-Python check; the
search's fast is_feasible is checked against it on repaired and unrepaired children alike."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from planning import RouteRules, TransitProblem, check_route_set, read_cec
from planning.operators import (
    MUTATIONS,
    OperatorContext,
    constructive_set,
    crossover_routes,
    crossover_uniform,
    demand_route,
    drop_terminal,
    exchange_segments,
    grow_terminal,
    insert_inner,
    is_feasible,
    regrow_end,
    remove_inner,
    repair,
    replace_route,
    route_key,
    set_key,
    shift_route,
    swap_terminal,
)


def grid_problem(side: int = 4, *, seed: int = 0, **rules: object) -> TransitProblem:
    """A ``side x side`` grid with links of 1..4 minutes, diagonals in some cells, random demand."""
    rng = np.random.default_rng(seed)
    n = side * side
    t = np.full((n, n), np.inf)
    for r, c in itertools.product(range(side), range(side)):
        for dr, dc in ((0, 1), (1, 0), (1, 1)):
            if r + dr >= side or c + dc >= side or ((dr, dc) == (1, 1) and rng.random() > 0.3):
                continue
            v, w = r * side + c, (r + dr) * side + c + dc
            t[v, w] = t[w, v] = float(rng.integers(1, 5))
    d = rng.integers(0, 50, (n, n)).astype(float)
    base: dict[str, object] = {"num_routes": 4, "min_stops": 3, "max_stops": 7}
    base.update(rules)
    return TransitProblem(
        "grid",
        t,
        d,
        np.arange(n) % side * 1.0,
        np.arange(n) // side * 1.0,
        RouteRules(**base),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def mandl(data_dir):
    return read_cec(data_dir / "tndp" / "Mandl")


@pytest.fixture(scope="module")
def grid():
    return grid_problem()


def _ok(problem, routes) -> bool:
    return check_route_set(problem, routes) == []


def test_route_and_set_keys_ignore_direction_and_order():
    a = np.array([3, 1, 2], np.int32)
    b = np.array([5, 4], np.int32)
    assert route_key(a) == route_key(a[::-1])
    assert set_key([a, b]) == set_key([b[::-1], a[::-1]])
    assert set_key([a, b]) != set_key([a, b[:1]])


def test_context_paths_are_shortest_and_linked(grid):
    ctx = OperatorContext.build(grid)
    sp = grid.shortest_time_min
    for a, b in [(0, 15), (3, 12), (5, 6)]:
        path = ctx.path(a, b)
        assert path[0] == a and path[-1] == b
        assert all(ctx.linked[u, v] for u, v in itertools.pairwise(path))
        assert sum(grid.link_time_min[u, v] for u, v in itertools.pairwise(path)) == pytest.approx(sp[a, b])


@pytest.mark.parametrize("name", ["grid", "mandl"])
def test_constructive_sets_are_feasible(name, grid, mandl):
    problem = grid if name == "grid" else mandl
    ctx = OperatorContext.build(problem)
    rng = np.random.default_rng(3)
    for _ in range(10):
        routes = constructive_set(ctx, rng)
        assert routes is not None
        assert _ok(problem, routes), check_route_set(problem, routes)


def test_demand_route_keeps_the_rules(mandl):
    ctx = OperatorContext.build(mandl)
    rng = np.random.default_rng(0)
    for length in (2, 5, 8, None):
        for _ in range(20):
            r = demand_route(ctx, rng, length=length)
            assert 2 <= r.size <= 8
            if length is not None:
                assert r.size <= length
            assert np.unique(r).size == r.size
            assert ctx.linked[r[:-1], r[1:]].all()
    r = demand_route(ctx, rng, through=7, length=4)
    assert 7 in r.tolist()


@hsettings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), which=st.sampled_from(["grid", "mandl", "limits"]))
def test_every_move_then_repair_gives_a_feasible_set(seed, which):
    problem = _PROBLEMS[which]
    ctx = _CONTEXTS[which]
    rng = np.random.default_rng(seed)
    parent = constructive_set(ctx, rng)
    other = constructive_set(ctx, rng)
    if which == "limits":  # under tight limits a constructive set may fail (tested below)
        assume(parent is not None and other is not None)
    assert parent is not None and other is not None
    before = [r.copy() for r in parent]
    for name, move in MUTATIONS.items():
        child = move(ctx, parent, rng)
        if child is not None:
            # the fast check agrees with the independent one, repaired or not
            assert is_feasible(ctx, child) == _ok(problem, child), name
            fixed = repair(ctx, child, rng)
            if fixed is not None:
                assert _ok(problem, fixed), (name, check_route_set(problem, fixed))
    for cross in (crossover_routes, crossover_uniform):
        child = cross(ctx, parent, other, rng)
        assert is_feasible(ctx, child) == _ok(problem, child)
        fixed = repair(ctx, child, rng)
        if fixed is not None:
            assert _ok(problem, fixed)
    # parents are never changed
    assert all(np.array_equal(a, b) for a, b in zip(before, parent, strict=True))


def test_repair_succeeds_on_most_children(mandl):
    """The repair is not a rejection in disguise: nearly every child of every move is kept."""
    ctx = OperatorContext.build(mandl)
    rng = np.random.default_rng(5)
    kept = made = 0
    for _ in range(30):
        parent = constructive_set(ctx, rng)
        assert parent is not None
        for move in MUTATIONS.values():
            child = move(ctx, parent, rng)
            if child is not None:
                made += 1
                kept += repair(ctx, child, rng) is not None
    assert made > 100
    assert kept >= 0.95 * made


def test_moves_do_what_they_say(mandl):
    ctx = OperatorContext.build(mandl)
    rng = np.random.default_rng(11)
    base = constructive_set(ctx, rng)
    assert base is not None
    base = [r[: max(3, r.size - 2)].copy() for r in base]  # room to grow

    def changed(a, b):
        return [k for k in range(len(a)) if not np.array_equal(a[k], b[k])]

    g = grow_terminal(ctx, base, rng)
    assert g is not None
    (k,) = changed(base, g)
    assert g[k].size == base[k].size + 1
    assert np.array_equal(g[k][1:], base[k]) or np.array_equal(g[k][:-1], base[k])
    d = drop_terminal(ctx, base, rng)
    assert d is not None
    (k,) = changed(base, d)
    assert np.array_equal(base[k][1:], d[k]) or np.array_equal(base[k][:-1], d[k])
    for _ in range(10):
        i = insert_inner(ctx, base, rng)
        if i is None:
            continue
        (k,) = changed(base, i)
        assert i[k].size == base[k].size + 1
        assert i[k][0] == base[k][0] and i[k][-1] == base[k][-1]
        assert set(base[k].tolist()) < set(i[k].tolist())
        assert ctx.linked[i[k][:-1], i[k][1:]].all()
    for _ in range(10):
        m = remove_inner(ctx, base, rng)
        if m is None:
            continue
        (k,) = changed(base, m)
        assert m[k].size == base[k].size - 1
        assert m[k][0] == base[k][0] and m[k][-1] == base[k][-1]
        assert ctx.linked[m[k][:-1], m[k][1:]].all()
    found = False
    for _ in range(20):
        x = exchange_segments(ctx, base, rng)
        if x is None:
            continue
        found = True
        ks = changed(base, x)
        assert len(ks) == 2
        a, b = (base[k] for k in ks)
        # the same stops in the two routes together, each new route linked and simple
        assert sorted(np.concatenate([a, b]).tolist()) == sorted(np.concatenate([x[ks[0]], x[ks[1]]]).tolist())
        for k in ks:
            assert np.unique(x[k]).size == x[k].size and ctx.linked[x[k][:-1], x[k][1:]].all()
    assert found
    r = replace_route(ctx, base, rng)
    assert r is not None and len(changed(base, r)) <= 1
    for _ in range(10):
        rg = regrow_end(ctx, base, rng)
        if rg is None:
            continue
        (k,) = changed(base, rg)
        old, new = base[k].tolist(), rg[k].tolist()
        assert new != old and len(new) <= mandl.rules.max_stops and len(set(new)) == len(new)
        # one end of the old route is kept as it was: a prefix or a suffix of the old route
        # appears as a prefix or suffix of the new one
        assert any(
            sub == new[: len(sub)] or sub == new[-len(sub) :]
            for h in range(1, len(old) // 2 + 1)
            for sub in (old[h:], old[:-h])
            if len(sub) >= len(old) - len(old) // 2
        )
        assert ctx.linked[rg[k][:-1], rg[k][1:]].all()
    for _ in range(10):
        sh = shift_route(ctx, base, rng)
        assert sh is not None
        (k,) = changed(base, sh)
        assert sh[k].size == base[k].size
        assert np.array_equal(sh[k][:-1], base[k][1:]) or np.array_equal(sh[k][1:], base[k][:-1])
        assert ctx.linked[sh[k][:-1], sh[k][1:]].all() and np.unique(sh[k]).size == sh[k].size
        sw = swap_terminal(ctx, base, rng)
        assert sw is not None
        (k,) = changed(base, sw)
        assert sw[k].size == base[k].size and (sw[k] != base[k]).sum() == 1
        assert sw[k][0] != base[k][0] or sw[k][-1] != base[k][-1]
        assert ctx.linked[sw[k][:-1], sw[k][1:]].all() and np.unique(sw[k]).size == sw[k].size


def test_replace_route_draws_from_the_pool(mandl):
    pool = [np.array([0, 1, 2, 5], np.int32), np.array([9, 10, 11], np.int32)]
    assert all(_ok(mandl.with_rules(num_routes=1), [p]) or True for p in pool)
    ctx = OperatorContext.build(mandl, pool)
    rng = np.random.default_rng(0)
    base = constructive_set(ctx, rng)
    assert base is not None
    keys = {route_key(p) for p in pool}
    drawn = 0
    for _ in range(40):
        child = replace_route(ctx, base, rng)
        assert child is not None
        drawn += any(route_key(r) in keys for r in child)
    assert 5 < drawn < 40


def test_crossover_takes_routes_from_the_parents_most_new_nodes_first(mandl):
    ctx = OperatorContext.build(mandl)
    rng = np.random.default_rng(2)
    a = constructive_set(ctx, rng)
    b = constructive_set(ctx, rng)
    assert a is not None and b is not None
    child = crossover_routes(ctx, a, b, rng)
    parent_keys = {route_key(r) for r in a + b}
    assert all(route_key(r) in parent_keys for r in child)
    assert len(child) == mandl.rules.num_routes
    # the first route is the longest of the first parent
    assert child[0].size == max(r.size for r in a)
    assert route_key(child[0]) in {route_key(r) for r in a}


def test_repair_serves_missing_nodes_and_fixes_the_count(mandl):
    ctx = OperatorContext.build(mandl)
    rng = np.random.default_rng(4)
    base = constructive_set(ctx, rng)
    assert base is not None
    short = base[:-2]  # two routes missing: count wrong, nodes perhaps unserved
    assert not is_feasible(ctx, short)
    fixed = repair(ctx, short, rng)
    assert fixed is not None and _ok(mandl, fixed)
    # a route with a repeated stop keeps a simple part
    loop = [np.array([0, 1, 2, 1, 0], np.int32), *base[1:]]
    fixed = repair(ctx, loop, rng)
    assert fixed is not None and _ok(mandl, fixed)


def test_limits_are_kept_when_the_rules_set_them():
    problem = _PROBLEMS["limits"]
    ctx = _CONTEXTS["limits"]
    rng = np.random.default_rng(9)
    found = 0
    for _ in range(20):
        routes = constructive_set(ctx, rng)
        if routes is not None:
            found += 1
            assert _ok(problem, routes)
    assert found > 0


_PROBLEMS = {
    "grid": grid_problem(),
    "limits": grid_problem(5, seed=2, num_routes=5, min_stops=3, max_stops=6, max_circuity=1.6, max_overlap=0.8),
}


def _mandl_problem() -> TransitProblem:
    from tests.conftest import resolve_data_dir

    return read_cec(resolve_data_dir() / "tndp" / "Mandl")


_PROBLEMS["mandl"] = _mandl_problem()
_CONTEXTS = {k: OperatorContext.build(p) for k, p in _PROBLEMS.items()}
