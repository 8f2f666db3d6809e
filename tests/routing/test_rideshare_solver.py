"""The city-scale ride-sharing reader and solver (routing.rideshare, routing.rideshare_kernels)."""

from __future__ import annotations

import itertools
import math
import typing
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.errors import InvalidArgumentError, NetworkFileError
from routing.rideshare import find_files, read_rideshare, solution_json, solve_rideshare
from routing.rideshare_kernels import Data, Routes, best_insertion, insert_cheapest, new_routes, remove_request

MANHATTAN = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "rideshare" / "manhattan"


# ------------------------------------------------------------------------------ helpers


def _write_network(folder: Path, name: str, arcs: list[tuple[int, int, float]], n: int, drivers, requests, *, k=1):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.xy").write_text(f"{n}\n" + "".join(f"{i} {i * 0.1} {i * 0.2}\n" for i in range(n)))
    (folder / f"{name}.d").write_text(f"{len(arcs)}\n" + "".join(f"{a} {b} {t}\n" for a, b, t in arcs))
    (folder / f"{name}.drv").write_text("".join(f"{i + 1} {v}\n" for i, v in enumerate(drivers)))
    (folder / f"{name}.{k}.reqs").write_text("".join(f"{i + 1} {o} {d}\n" for i, (o, d) in enumerate(requests)))


def _grid_arcs(side: int, rng: np.random.Generator) -> list[tuple[int, int, float]]:
    """A directed grid with random, asymmetric float times (a synthetic second city)."""
    arcs = []
    for r in range(side):
        for c in range(side):
            v = r * side + c
            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < side and 0 <= cc < side:
                    arcs.append((v, rr * side + cc, round(float(rng.uniform(1.0, 10.0)), 4)))
    return arcs


def _floyd(n: int, arcs) -> np.ndarray:
    d = np.full((n, n), math.inf)
    np.fill_diagonal(d, 0.0)
    for a, b, t in arcs:
        d[a, b] = min(d[a, b], t)
    for m in range(n):
        d = np.minimum(d, d[:, [m]] + d[[m], :])
    return d


def _check_feasible(inst, sol) -> None:
    """Every request once, pickup before drop-off, at most ``capacity`` on board, drivers distinct."""
    served: set[int] = set()
    drivers = [k for k, _ in sol.routes]
    assert len(set(drivers)) == len(drivers)
    for k, stops in sol.routes:
        assert 0 <= k < inst.num_drivers
        assert stops
        on_board: set[int] = set()
        for s in stops:
            if s > 0:
                assert s not in served
                served.add(s)
                on_board.add(s)
                assert len(on_board) <= inst.capacity
            else:
                assert -s in on_board
                on_board.remove(-s)
        assert not on_board
    assert served == {int(x) for x in inst.request_ids}


# ------------------------------------------------------------------ O(L) best insertion


def _route_cost(locs: list[int], dist: np.ndarray) -> float:
    return float(sum(dist[a, b] for a, b in itertools.pairwise(locs)))


@pytest.mark.parametrize("seed", range(40))
def test_best_insertion_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    num_loc = 12
    dist = rng.uniform(1.0, 100.0, (num_loc, num_loc))  # not metric: the scan must not rely on it
    np.fill_diagonal(dist, 0.0)
    capacity = int(rng.integers(1, 4))
    # a random feasible route: pickups and drop-offs of m requests, load never above capacity
    m = int(rng.integers(0, 7))
    seq: list[int] = []
    waiting = list(range(m))
    on_board: list[int] = []
    while waiting or on_board:
        if waiting and len(on_board) < capacity and (not on_board or rng.random() < 0.5):
            r = waiting.pop()
            on_board.append(r)
            seq.append(r + 1)
        else:
            r = on_board.pop(int(rng.integers(len(on_board))))
            seq.append(-(r + 1))
    req_o = rng.integers(0, num_loc, m + 1)
    req_d = rng.integers(0, num_loc, m + 1)
    start = int(rng.integers(num_loc))
    width = 2 * m + 5
    stop = np.zeros((1, width), dtype=np.int32)
    loc = np.zeros((1, width), dtype=np.int32)
    load = np.zeros((1, width), dtype=np.int32)
    loc[0, 0] = start
    for p, s in enumerate(seq, start=1):
        stop[0, p] = s
        loc[0, p] = req_o[s - 1] if s > 0 else req_d[-s - 1]
        load[0, p] = load[0, p - 1] + (1 if s > 0 else -1)
    length = np.array([len(seq) + 1], dtype=np.int32)
    arc = np.zeros((1, width))
    arc[0, : len(seq)] = dist[loc[0, : len(seq)], loc[0, 1 : len(seq) + 1]]
    o, d = int(req_o[m]), int(req_d[m])
    got, i, j = best_insertion(0, o, d, capacity, dist, np.ascontiguousarray(dist.T), loc, load, arc, length, 0.0)
    # brute force: every (i, j) with the new rider's pickup after position i and drop-off after j
    base_locs = [start] + [int(x) for x in loc[0, 1 : len(seq) + 1]]
    base_loads = [0] + [int(x) for x in load[0, 1 : len(seq) + 1]]
    base = _route_cost(base_locs, dist)
    want = math.inf
    for bi in range(len(seq) + 1):
        for bj in range(bi, len(seq) + 1):
            if any(base_loads[p] >= capacity for p in range(bi, bj + 1)):
                continue
            locs = [*base_locs[: bi + 1], o, *base_locs[bi + 1 : bj + 1], d, *base_locs[bj + 1 :]]
            want = min(want, _route_cost(locs, dist) - base)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-9)
    if math.isfinite(want):
        assert 0 <= i <= j <= len(seq)
        locs = [*base_locs[: i + 1], o, *base_locs[i + 1 : j + 1], d, *base_locs[j + 1 :]]
        assert _route_cost(locs, dist) - base == pytest.approx(want, rel=1e-12, abs=1e-9)
    else:
        assert (i, j) == (-1, -1)


def test_routes_tuple_is_exported() -> None:
    # through public names only: the annotated fields in order, and positions that map onto them
    names = ("stop", "loc", "load", "arc", "length", "cost", "route_of")
    assert tuple(typing.get_type_hints(Routes)) == names
    routes = Routes(*range(len(names)))
    assert isinstance(routes, tuple) and len(routes) == len(names)
    assert [getattr(routes, name) for name in names] == list(range(len(names)))


# -------------------------------------------------------------- tiny instances, brute force


def _brute_force(inst) -> float:
    """Optimum by enumeration: every assignment of requests to drivers, every feasible order."""
    dist = inst.dist
    num_req = inst.num_requests

    def best_route(k: int, reqs: tuple[int, ...]) -> float:
        if not reqs:
            return 0.0
        best = math.inf
        stops = [r + 1 for r in reqs] + [-(r + 1) for r in reqs]
        for perm in itertools.permutations(stops):
            on_board: set[int] = set()
            ok = True
            prev = int(inst.driver_loc[k])
            cost = 0.0
            for s in perm:
                if s > 0:
                    on_board.add(s)
                    if len(on_board) > inst.capacity:
                        ok = False
                        break
                    here = int(inst.origin_loc[s - 1])
                else:
                    if -s not in on_board:
                        ok = False
                        break
                    on_board.remove(-s)
                    here = int(inst.destination_loc[-s - 1])
                cost += dist[prev, here]
                prev = here
            if ok:
                best = min(best, cost)
        return best

    best = math.inf
    for assign in itertools.product(range(inst.num_drivers), repeat=num_req):
        total = sum(best_route(k, tuple(r for r in range(num_req) if assign[r] == k)) for k in range(inst.num_drivers))
        best = min(best, total)
    return best


@pytest.mark.parametrize("metric", ["directed", "symmetric"])
@pytest.mark.parametrize("capacity", [1, 2])
@pytest.mark.parametrize("seed", range(4))
def test_solver_finds_the_optimum_of_tiny_instances(tmp_path: Path, capacity: int, seed: int, metric: str) -> None:
    rng = np.random.default_rng(100 + seed)
    side = 4
    arcs = _grid_arcs(side, rng)
    n = side * side
    requests = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(3)]
    drivers = [int(x) for x in rng.integers(0, n, 2)]
    _write_network(tmp_path, "Tiny", arcs, n, drivers, requests)
    inst = read_rideshare(tmp_path, requests=3, drivers=2, capacity=capacity, metric=metric)
    full = _floyd(n, arcs)[np.ix_(inst.locations, inst.locations)]
    assert np.allclose(inst.dist, full if metric == "directed" else (full + full.T) / 2, rtol=1e-12)
    sol = solve_rideshare(inst, time_limit_s=None, iterations=300, seed=seed)
    _check_feasible(inst, sol)
    assert sol.total == pytest.approx(_brute_force(inst), rel=1e-12)


def test_same_seed_same_solution(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    side = 6
    n = side * side
    requests = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(40)]
    _write_network(tmp_path, "Det", _grid_arcs(side, rng), n, [0, 5, 30], requests)
    inst = read_rideshare(tmp_path, requests=40, drivers=3, capacity=3)
    a = solve_rideshare(inst, time_limit_s=None, iterations=500, seed=3)
    b = solve_rideshare(inst, time_limit_s=None, iterations=500, seed=3)
    assert a.routes == b.routes
    assert a.total == b.total
    assert a.iterations == 500
    _check_feasible(inst, a)


# ------------------------------------------------------------------------ Manhattan slice


@pytest.mark.skipif(not MANHATTAN.is_dir(), reason="shared Manhattan data not present")
@pytest.mark.parametrize("metric", ["directed", "symmetric"])
def test_manhattan_slice_is_feasible_and_recounts_from_the_graph(metric: str) -> None:
    inst = read_rideshare(MANHATTAN, requests=300, drivers=20, capacity=4, metric=metric)
    sol = solve_rideshare(inst, time_limit_s=None, iterations=300, seed=1)
    _check_feasible(inst, sol)
    assert sol.total <= sol.construction_total
    # own recount: the graph from the files (parallel arcs: the fastest), Dijkstra per route start
    lines = (MANHATTAN / "Manhattan.d").read_text().split("\n")
    fastest: dict[tuple[int, int], float] = {}
    for line in lines[1:]:
        if line.strip():
            a, b, t = line.split()
            key = (int(a), int(b))
            fastest[key] = min(fastest.get(key, math.inf), float(t))
    n = int((MANHATTAN / "Manhattan.xy").read_text().split("\n", 1)[0])
    keys = list(fastest)
    graph = csr_matrix(([fastest[k] for k in keys], ([k[0] for k in keys], [k[1] for k in keys])), shape=(n, n))
    reqs = {}
    for line in (MANHATTAN / "Manhattan.1.reqs").read_text().split("\n")[:300]:
        rid, o, d = (int(x) for x in line.split())
        reqs[rid] = (o, d)
    drv = [int(line.split()[1]) for line in (MANHATTAN / "Manhattan.drv").read_text().split("\n")[:20]]
    total = 0.0
    for k, stops in sol.routes:
        nodes = [drv[k]] + [reqs[abs(s)][0 if s > 0 else 1] for s in stops]
        sources = sorted(set(nodes))
        table = dijkstra(graph, indices=sources)
        row = {v: i for i, v in enumerate(sources)}
        for a, b in itertools.pairwise(nodes):
            total += table[row[a], b] if metric == "directed" else (table[row[a], b] + table[row[b], a]) / 2
    assert total == pytest.approx(sol.total, rel=1e-9)
    js = solution_json(sol)
    assert js["total"] == sol.total
    assert sum(len(r["stops"]) for r in js["routes"]) == 600


# ----------------------------------------------------------------------- reader and layouts


def test_hga_layout_and_a_second_network(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    side = 5
    n = side * side
    arcs = _grid_arcs(side, rng)
    requests = [(1, 20), (7, 3), (24, 0), (12, 13)]
    flat = tmp_path / "flat"
    _write_network(flat, "SanFrancisco", arcs, n, [4, 9], requests)
    repo = tmp_path / "hga"
    for sub, ext in (("coords", "xy"), ("dists", "d"), ("drivers", "drv")):
        (repo / "in" / sub).mkdir(parents=True)
        (repo / "in" / sub / f"SanFrancisco.{ext}").write_bytes((flat / f"SanFrancisco.{ext}").read_bytes())
    (repo / "in" / "reqs").mkdir()
    (repo / "in" / "reqs" / "SanFrancisco.3.reqs").write_bytes((flat / "SanFrancisco.1.reqs").read_bytes())
    files = find_files(repo)
    assert files.network == "SanFrancisco"
    assert files.reqs.name == "SanFrancisco.3.reqs"
    inst = read_rideshare(repo, requests=4, drivers=2, capacity=2)
    assert inst.name == "SanFrancisco.3"
    full = _floyd(n, arcs)[np.ix_(inst.locations, inst.locations)]
    # the default metric is the HGA code's: each leg the mean of both directions
    assert inst.metric == "symmetric"
    assert np.allclose(inst.dist, (full + full.T) / 2, rtol=1e-12)
    directed = read_rideshare(repo, requests=4, drivers=2, capacity=2, metric="directed")
    assert directed.metric == "directed" and np.allclose(directed.dist, full, rtol=1e-12)
    assert np.array_equal(inst.locations[inst.origin_loc], [r[0] for r in requests])
    assert np.array_equal(inst.locations[inst.destination_loc], [r[1] for r in requests])
    assert np.array_equal(inst.driver_nodes, [4, 9])
    flat_inst = read_rideshare(flat, requests=4, drivers=2, capacity=2)
    assert np.array_equal(flat_inst.dist, inst.dist)
    sol = solve_rideshare(inst, time_limit_s=None, iterations=50)
    _check_feasible(inst, sol)


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_reader_errors_are_one_clear_line(tmp_path: Path) -> None:
    arcs = [(0, 1, 2.5), (1, 2, 1.0), (2, 0, 3.0)]
    _write_network(tmp_path, "Net", arcs, 3, [0, 1], [(0, 2), (1, 0)])
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(tmp_path, requests=3, drivers=1, capacity=1)
    assert "requests" in _one_line(exc) and "1 .. 2" in str(exc.value)
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=5, capacity=1)
    assert "drivers" in _one_line(exc) and "1 .. 2" in str(exc.value)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidArgumentError) as exc:
            read_rideshare(tmp_path, requests=2, drivers=1, capacity=bad)
        assert _one_line(exc).startswith("capacity")
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=1, capacity=1, metric="euclidean")
    assert _one_line(exc) == "metric: got 'euclidean' (allowed: directed, symmetric)"
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=1, capacity=1, max_matrix_bytes=10)
    assert "3 distinct locations" in _one_line(exc) and "72 bytes" in str(exc.value)
    # truncated arc file: the header promises more arcs than there are
    (tmp_path / "Net.d").write_text("5\n0 1 2.5\n1 2 1.0\n2 0 3.0\n")
    with pytest.raises(NetworkFileError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=1, capacity=1)
    assert "header says 5 arcs" in _one_line(exc)
    (tmp_path / "Net.d").write_text("3\n0 1 2.5\n1 2\n2 0 3.0\n")
    with pytest.raises(NetworkFileError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=1, capacity=1)
    assert "expected 3 values" in _one_line(exc)
    (tmp_path / "Net.d").write_text("3\n0 1 2.5\n1 7 1.0\n2 0 3.0\n")
    with pytest.raises(NetworkFileError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=1, capacity=1)
    assert "outside the graph's nodes 0 .. 2" in _one_line(exc)
    # no way back to node 0: request 2 (1 -> 0) has no path
    (tmp_path / "Net.d").write_text("2\n0 1 2.5\n1 2 1.0\n")
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=1, capacity=1)
    assert "request 1" in _one_line(exc) or "request 2" in str(exc.value)
    (tmp_path / "Net.d").unlink()
    with pytest.raises(NetworkFileError) as exc:
        read_rideshare(tmp_path, requests=2, drivers=1, capacity=1)
    assert "file not found" in _one_line(exc)
    with pytest.raises(NetworkFileError) as exc:
        read_rideshare(tmp_path / "nowhere", requests=2, drivers=1, capacity=1)
    _one_line(exc)


def test_the_symmetric_metric_needs_the_way_back(tmp_path: Path) -> None:
    # a one-way street: request 0 -> 1 is fine directed, but the symmetric leg needs 1 -> 0 too
    one_way = tmp_path / "one_way"
    _write_network(one_way, "Net", [(0, 1, 2.0)], 2, [0], [(0, 1)])
    assert read_rideshare(one_way, requests=1, drivers=1, capacity=1, metric="directed").dist[0, 1] == 2.0
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(one_way, requests=1, drivers=1, capacity=1)
    assert _one_line(exc) == (
        "metric: symmetric needs the way back, and request 1 has no path from its drop-off node 1 to its "
        "pickup node 0 (allowed: directed, or a graph with both ways)"
    )
    # the driver at node 2 reaches the pickup at 0, but nothing leads back to 2
    no_return = tmp_path / "no_return"
    _write_network(no_return, "Net", [(2, 0, 1.0), (0, 1, 2.0), (1, 0, 4.0)], 3, [2], [(0, 1)])
    inst = read_rideshare(no_return, requests=1, drivers=1, capacity=1, metric="directed")
    assert solve_rideshare(inst, time_limit_s=None, iterations=5).total == pytest.approx(3.0)
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(no_return, requests=1, drivers=1, capacity=1)
    assert "request 1's pickup node 0 has no path back to any of the 1 drivers" in _one_line(exc)


def test_solver_argument_errors(tmp_path: Path) -> None:
    _write_network(tmp_path, "Net", [(0, 1, 1.0), (1, 0, 1.0)], 2, [0], [(0, 1)])
    inst = read_rideshare(tmp_path, requests=1, drivers=1, capacity=1)
    with pytest.raises(InvalidArgumentError) as exc:
        solve_rideshare(inst, time_limit_s=-1.0)
    assert _one_line(exc).startswith("time_limit_s")
    with pytest.raises(InvalidArgumentError) as exc:
        solve_rideshare(inst, time_limit_s=None, iterations=None)
    _one_line(exc)
    sol = solve_rideshare(inst, time_limit_s=0.05)
    assert sol.routes == [(0, [1, -1])]
    assert sol.total == pytest.approx(1.0)


# ------------------------------------------------------------- route edits keep their invariants


def _check_routes(routes, data, num_req: int) -> None:
    """Recount every derived array of the routes from the stop codes alone."""
    seen = np.zeros(num_req, dtype=int)
    for k in range(routes.length.shape[0]):
        n = int(routes.length[k])
        assert routes.stop[k, 0] == 0
        load = 0
        cost = 0.0
        for p in range(1, n):
            s = int(routes.stop[k, p])
            r = abs(s) - 1
            want_loc = data.origin_loc[r] if s > 0 else data.destination_loc[r]
            assert routes.loc[k, p] == want_loc
            load += 1 if s > 0 else -1
            assert routes.load[k, p] == load
            assert 0 <= load <= data.capacity
            assert routes.arc[k, p - 1] == data.dist[routes.loc[k, p - 1], routes.loc[k, p]]
            cost += data.dist[routes.loc[k, p - 1], routes.loc[k, p]]
            if s > 0:
                assert routes.route_of[r] == k
                seen[r] += 1
        assert load == 0
        assert routes.arc[k, n - 1] == 0.0
        assert routes.cost[k] == pytest.approx(cost, rel=1e-9, abs=1e-9)
    for r in range(num_req):
        assert seen[r] == (1 if routes.route_of[r] >= 0 else 0)


@pytest.mark.parametrize("seed", range(5))
def test_insert_and_remove_keep_loads_arcs_and_costs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    num_loc, num_req, num_routes = 15, 25, 4
    dist = rng.uniform(1.0, 50.0, (num_loc, num_loc))
    np.fill_diagonal(dist, 0.0)
    o = rng.integers(0, num_loc, num_req)
    d = rng.integers(0, num_loc, num_req)
    scan = dist.astype(np.float32)
    neighbours = np.zeros((num_req, 1), np.int32)
    data = Data(o, d, int(rng.integers(1, 4)), dist, scan, np.ascontiguousarray(scan.T), neighbours)
    routes = new_routes(num_routes, 2 * num_req + 1, rng.integers(0, num_loc, num_routes), num_req)
    for _ in range(300):
        r = int(rng.integers(num_req))
        k = int(routes.route_of[r])
        if k >= 0:
            before = routes.cost.sum()
            delta = remove_request(k, r, dist, routes)
            assert routes.cost.sum() - before == pytest.approx(delta, abs=1e-9)
        else:
            assert insert_cheapest(r, data, routes, 0.0) >= 0
        _check_routes(routes, data, num_req)


def test_network_and_requests_file_selection(tmp_path: Path) -> None:
    arcs = [(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0)]
    _write_network(tmp_path, "A", arcs, 3, [0], [(0, 1)], k=1)
    _write_network(tmp_path, "A", arcs, 3, [0], [(1, 2), (2, 0)], k=2)
    _write_network(tmp_path, "B", arcs, 3, [1], [(2, 1)], k=7)
    with pytest.raises(InvalidArgumentError) as exc:
        find_files(tmp_path)
    assert "network" in _one_line(exc) and "A, B" in str(exc.value)
    assert find_files(tmp_path, network="A").reqs.name == "A.1.reqs"
    assert find_files(tmp_path, network="A", reqs="2").reqs.name == "A.2.reqs"
    assert find_files(tmp_path, network="A", reqs="A.2.reqs").reqs.name == "A.2.reqs"
    assert find_files(tmp_path, network="B").reqs.name == "B.7.reqs"  # the only one
    with pytest.raises(InvalidArgumentError) as exc:
        find_files(tmp_path, network="C")
    assert _one_line(exc).startswith("network")
    with pytest.raises(InvalidArgumentError) as exc:
        find_files(tmp_path, network="A", reqs="9")
    assert "A.1.reqs, A.2.reqs" in _one_line(exc)
    inst = read_rideshare(tmp_path, network="A", reqs="2", requests=2, drivers=1, capacity=1)
    assert inst.name == "A.2"
    assert np.array_equal(inst.request_ids, [1, 2])


def test_progress_and_history(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    side = 5
    n = side * side
    requests = [tuple(int(x) for x in rng.choice(n, 2, replace=False)) for _ in range(30)]
    _write_network(tmp_path, "P", _grid_arcs(side, rng), n, [0, 24], requests)
    inst = read_rideshare(tmp_path, requests=30, drivers=2, capacity=2)
    seen: list[tuple[float, float]] = []
    sol = solve_rideshare(inst, time_limit_s=None, iterations=2000, progress=lambda f, b: seen.append((f, b)))
    fractions = [f for f, _ in seen]
    bests = [b for _, b in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and bests == sorted(bests, reverse=True)
    assert bests[-1] == pytest.approx(sol.total, rel=1e-9)
    totals = [t for _, t in sol.history]
    assert totals == sorted(totals, reverse=True) and totals[0] == sol.construction_total
    assert sol.total <= sol.construction_total + 1e-9


def test_empty_drivers_file(tmp_path: Path) -> None:
    _write_network(tmp_path, "E", [(0, 1, 1.0), (1, 0, 1.0)], 2, [], [(0, 1)])
    with pytest.raises(NetworkFileError) as exc:
        read_rideshare(tmp_path, requests=1, drivers=1, capacity=1)
    assert "E.drv: no drivers" in _one_line(exc)


def test_a_pickup_no_driver_reaches_is_one_clear_line(tmp_path: Path) -> None:
    # node 2 has an arc in but none out: a driver there reaches nothing, a driver at 0 does
    folder = tmp_path / "dead_end"
    _write_network(folder, "Net", [(0, 1, 1.0), (1, 0, 1.0), (0, 2, 1.0)], 3, [2, 0], [(0, 1)])
    with pytest.raises(InvalidArgumentError) as exc:
        read_rideshare(folder, requests=1, drivers=1, capacity=1, metric="directed")
    assert _one_line(exc) == (
        "requests: request 1: its pickup node 0 cannot be reached from any of the 1 drivers "
        "(allowed: requests reachable from a driver)"
    )
    two = read_rideshare(folder, requests=1, drivers=2, capacity=1, metric="directed")
    assert solve_rideshare(two, time_limit_s=None, iterations=5).total == pytest.approx(1.0)


def test_the_matrix_is_the_same_in_blocks_of_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.rideshare as rideshare_module

    whole = read_rideshare(MANHATTAN, requests=200, drivers=10, capacity=8)
    monkeypatch.setattr(rideshare_module, "DIJKSTRA_BLOCK_BYTES", 8 * whole.num_graph_nodes * 7)  # 7 rows a block
    blocks = read_rideshare(MANHATTAN, requests=200, drivers=10, capacity=8)
    assert np.array_equal(whole.dist, blocks.dist)
