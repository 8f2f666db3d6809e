"""The string removal, sequential repair and ejection local search of the ALNS, kernel by kernel.

Each test starts from a constructed solution of a real Cordeau instance, applies one
operator through its kernel and judges the result with the independent checker.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing import alns
from routing.checker import check_solution, solution_cost
from routing.instances import read_cordeau_darp, read_li_lim
from routing.problem import PDProblem
from routing.schedule import insertion_scratch, prepare_route
from routing.solve import Search, SolveParams


def _search(problem: PDProblem, seed: int = 5) -> Search:
    search = Search(problem, SolveParams(), seed)
    assert search.construct() == 0
    return search


def _routes(search: Search) -> list[list[int]]:
    p = search.problem
    out = []
    for v in range(p.num_vehicles):
        end = 1 if p.vehicle_end[v] >= 0 else 0
        out.append([int(x) for x in search.routes[v, 1 : search.rlen[v] - end]])
    return out


@pytest.fixture(scope="module", params=["darp", "pdptw"])
def problem(request: pytest.FixtureRequest, data_dir: Path) -> PDProblem:
    if request.param == "darp":
        return read_cordeau_darp(data_dir / "darp" / "cordeau2006" / "a4-40.txt")
    return read_li_lim(data_dir / "pdptw" / "li_lim_100" / "lrc201.txt")


@pytest.mark.parametrize("q", [1, 3, 12])
def test_string_removal_takes_runs_of_consecutive_stops(problem: PDProblem, q: int) -> None:
    search = _search(problem)
    pos = np.full(problem.num_nodes, -1, np.int64)
    alns.node_positions(search.routes, search.rlen, pos)
    removable = search.rq.removable.copy()
    removable[0] = 0  # a request that may not move is never taken
    cand = np.flatnonzero((search.assign >= 0) & (removable == 1)).astype(np.int64)
    out = np.empty(problem.num_requests, np.int64)
    for seed in range(20):
        alns.seed_rng(seed)
        n = alns.select_strings(q, cand.copy(), search.rq, search.assign, search.pb, search.rt, pos, out)
        taken = [int(r) for r in out[:n]]
        assert n >= 1 and len(set(taken)) == n
        assert set(taken) <= {int(r) for r in cand}
        # from every route it cut, each request taken has a stop inside one window of at most
        # MAX_STRING consecutive positions (the string; partners may lie outside it)
        by_route: dict[int, list[int]] = {}
        for r in taken:
            by_route.setdefault(int(search.assign[r]), []).append(r)
        for reqs in by_route.values():
            stops = [(int(pos[problem.pickup[r]]), int(pos[problem.delivery[r]])) for r in reqs]
            lo = min(min(x) for x in stops)
            hi = max(max(x) for x in stops)
            assert any(
                all(start <= a_ < start + alns.MAX_STRING or start <= b_ < start + alns.MAX_STRING for a_, b_ in stops)
                for start in range(lo, hi + 1)
            ), stops


def _remove(search: Search, reqs: list[int]) -> None:
    p = search.problem
    mark = np.zeros(p.num_nodes, np.uint8)
    for r in reqs:
        mark[p.pickup[r]] = 1
        mark[p.delivery[r]] = 1
        search.assign[r] = -1
    for v in range(p.num_vehicles):
        alns.remove_marked(v, search.routes, search.rlen, mark)
        prepare_route(v, search.pb, search.rt, np.full(p.num_nodes, -1, np.int32))


def test_sequential_repair_inserts_feasibly(problem: PDProblem) -> None:
    search = _search(problem)
    p = problem
    rng = np.random.default_rng(3)
    removed = [int(r) for r in rng.choice(p.num_requests, size=p.num_requests // 3, replace=False)]
    _remove(search, removed)
    unassigned = np.array(removed, np.int64)
    k = p.num_vehicles
    left = alns.repair(
        alns.R_SEQUENTIAL,
        unassigned,
        len(removed),
        search.rq,
        search.assign,
        search.pb,
        search.rt,
        search.w,
        0.0,
        alns.backup_for(search.rt),
        insertion_scratch(search.routes.shape[1], p.num_nodes),
    )
    report = check_solution(p, _routes(search))
    missing = {int(r) for r in np.flatnonzero(search.assign < 0)}
    assert len(missing) == left
    assert missing <= set(removed)
    # the routes it built are feasible; what it could not place is all that is missing
    assert [v for v in report.violations if not v.endswith("is not served")] == []
    assert len(report.violations) == left
    for v in range(k):  # the assignment matches the routes
        for node in _routes(search)[v]:
            assert search.assign[p.request_of_node()[node]] == v


def test_ejection_search_saves_what_it_reports_and_stays_feasible(problem: PDProblem) -> None:
    search = _search(problem, seed=11)
    p = problem
    before = check_solution(p, _routes(search))
    assert before.feasible
    alns.seed_rng(2)
    saved = alns.eject_polish(
        search.rq, search.pb, search.w, search.rt, search.assign, insertion_scratch(search.routes.shape[1], p.num_nodes)
    )
    after = check_solution(p, _routes(search))
    assert after.feasible, after.violations
    assert saved > 0.0  # a constructed solution always has such a move left
    assert after.cost == pytest.approx(before.cost - saved, rel=1e-9)
    for v in range(p.num_vehicles):
        for node in _routes(search)[v]:
            assert search.assign[p.request_of_node()[node]] == v


def _block_polish(search: Search, dirty: np.ndarray | None = None) -> tuple[float, np.ndarray, dict[str, np.ndarray]]:
    """Run the block exchange on ``search``; returns (saving, touched flags, backups)."""
    p = search.problem
    k = p.num_vehicles
    backup = alns.backup_for(search.rt)
    saved = alns.block_polish(
        search.rq,
        search.pb,
        search.rt,
        search.assign,
        np.full(p.num_nodes, -1, np.int32),
        np.ones(k, np.uint8) if dirty is None else dirty,
        backup,
        alns.block_workspace(k, search.routes.shape[1]),
    )
    bk = {"routes": backup.routes.nodes, "rlen": backup.routes.length}
    return float(saved), backup.touched, bk


def test_block_exchange_saves_what_it_reports_and_backs_up_what_it_changes(problem: PDProblem) -> None:
    search = _search(problem, seed=11)
    p = problem
    before = check_solution(p, _routes(search))
    old_routes = search.routes.copy()
    old_rlen = search.rlen.copy()
    saved, touched, bk = _block_polish(search)
    after = check_solution(p, _routes(search))
    assert after.feasible, after.violations
    assert saved > 0.0  # a constructed solution has such moves left
    assert after.cost == pytest.approx(before.cost - saved, rel=1e-9)
    for v in range(p.num_vehicles):
        for node in _routes(search)[v]:
            assert search.assign[p.request_of_node()[node]] == v
        m = old_rlen[v]
        changed = m != search.rlen[v] or (old_routes[v, :m] != search.routes[v, :m]).any()
        if changed:  # backed up as it was before the first change
            assert touched[v] == 1
            assert bk["rlen"][v] == old_rlen[v]
            assert (bk["routes"][v, : old_rlen[v]] == old_routes[v, : old_rlen[v]]).all()
    # a second call finds nothing more; with no route marked dirty it looks at nothing
    assert _block_polish(search)[0] == 0.0
    assert _block_polish(search, np.zeros(p.num_vehicles, np.uint8))[0] == 0.0


def _cut_points(p: PDProblem, stops: list[int]) -> list[int]:
    """Positions (0 = the start) after which nobody is on board."""
    req = p.request_of_node()
    open_: set[int] = set()
    cuts = [0]
    for k, node in enumerate(stops, start=1):
        r = int(req[node])
        open_.symmetric_difference_update({r})
        if not open_:
            cuts.append(k)
    return cuts


@pytest.mark.parametrize("name", ["a4-40", "lrc201", "lc104"])
def test_block_exchange_leaves_no_feasible_saving_move(name: str, data_dir: Path) -> None:
    """Every block exchange left when it stops is worse or infeasible (the checker's word):
    its O(1) filters never drop a feasible saving move."""
    if name.startswith("a"):
        p = read_cordeau_darp(data_dir / "darp" / "cordeau2006" / f"{name}.txt")
    else:
        p = read_li_lim(data_dir / "pdptw" / "li_lim_100" / f"{name}.txt")
    search = _search(p, seed=7)
    _block_polish(search)
    routes = _routes(search)
    base = check_solution(p, routes)
    assert base.feasible
    checked = 0
    for u in range(p.num_vehicles):
        for v in range(u + 1, p.num_vehicles):
            cu = _cut_points(p, routes[u])
            cv = _cut_points(p, routes[v])
            for x1, i in enumerate(cu):
                for i2 in cu[x1:]:
                    for y1, j in enumerate(cv):
                        for j2 in cv[y1:]:
                            if i == i2 and j == j2:
                                continue
                            new = [list(r) for r in routes]
                            new[u] = routes[u][:i] + routes[v][j:j2] + routes[u][i2:]
                            new[v] = routes[v][:j] + routes[u][i:i2] + routes[v][j2:]
                            # (cost first: only saving moves need the full check)
                            if solution_cost(p, new) >= base.cost - 1e-6:
                                continue
                            checked += 1
                            report = check_solution(p, new)
                            assert not report.feasible, (u, v, i, i2, j, j2)
    assert checked > 20  # saving but infeasible moves were there to be judged
