"""Transit network design: the published Mandl route sets re-scored, and the evaluator's speed.

Run from the project root::

    python -m benchmarks.tndp_rescore rescore            # the published Mandl sets, a Markdown table
    python -m benchmarks.tndp_rescore speed --seconds 3  # evaluations per second per instance
    python -m benchmarks.tndp_rescore compile            # compile time from an empty Numba cache

**Re-scoring** (:func:`rescore_published`) reads every route set of
``tndp/literature/mandl_published_route_sets.txt`` and scores it on Mandl's instance with
:class:`planning.Evaluator`, at the set's own route count (papers report 4 to 12 routes), and
lists what :func:`planning.check_route_set` finds wrong with it (some published sets break the
benchmark's stop limits or repeat a stop); ``mobility bench tndp`` prints :func:`to_markdown`.

**Speed** (:func:`evaluation_speed`) times :meth:`planning.Evaluator.att`, the genetic search's
hot path, on the four CEC-2013 instances with two kinds of feasible route sets:
``random`` (:func:`random_route_set`: random walks, rejected until feasible) and ``good``
(:func:`good_route_set`: shortest paths between the pairs with the most demand not yet served
directly, the kind of set the search starts from and improves). Both wall and process CPU time
are reported (another load on a shared machine disturbs the CPU time less).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mobility import default_data_dir
from planning import (
    Evaluator,
    RouteSet,
    TransitProblem,
    as_route_set,
    check_route_set,
    flatten,
    read_cec,
    read_published_route_sets,
)

INSTANCES = ("Mandl", "Mumford0", "Mumford1", "Mumford3")


def _tndp_dir(data_dir: Path) -> Path:
    d = Path(data_dir)
    return d if (d / "literature").is_dir() else d / "tndp"


def rescore_published(data_dir: Path) -> list[dict[str, Any]]:
    """Every published Mandl route set scored: one row per set with its ``title``, ``routes``
    count, ``att_min``, ``d0``, ``d1``, ``d2``, ``dun`` (percent), ``trt_min`` and ``problems``
    (what :func:`planning.check_route_set` reports, under the benchmark's stop limits at the
    set's own route count). ``data_dir`` is the data folder (holding ``tndp/``) or ``tndp/`` itself."""
    tndp = _tndp_dir(data_dir)
    problem = read_cec(tndp / "Mandl")
    ev = Evaluator(problem)
    rows: list[dict[str, Any]] = []
    for title, routes in read_published_route_sets(tndp / "literature" / "mandl_published_route_sets.txt"):
        e = ev.evaluate(routes)
        rows.append(
            {
                "title": title,
                "routes": len(routes),
                "att_min": e.att_min,
                "d0": 100 * e.d0,
                "d1": 100 * e.d1,
                "d2": 100 * e.d2,
                "dun": 100 * e.dun,
                "trt_min": e.trt_min,
                "problems": check_route_set(problem.with_rules(num_routes=len(routes)), routes),
            }
        )
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`rescore_published` as a Markdown table (ATT to 2 decimals as papers give it)."""
    out = [
        "| Route set | Routes | ATT (min) | d0 % | d1 % | d2 % | dun % | TRT (min) | Breaks the benchmark's rules |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        problems = "; ".join(r["problems"]) if r["problems"] else "-"
        out.append(
            f"| {r['title']} | {r['routes']} | {r['att_min']:.2f} | {r['d0']:.2f} | {r['d1']:.2f} | "
            f"{r['d2']:.2f} | {r['dun']:.2f} | {r['trt_min']:g} | {problems} |"
        )
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- route sets for timing


def _neighbours(problem: TransitProblem) -> list[list[int]]:
    t = problem.link_time_min
    both = np.isfinite(t) & np.isfinite(t.T)
    np.fill_diagonal(both, False)
    return [np.flatnonzero(both[i]).tolist() for i in range(problem.num_nodes)]


def random_route_set(problem: TransitProblem, rng: np.random.Generator, *, max_tries: int = 10_000) -> RouteSet:
    """A feasible route set of random simple walks (each starts at a node no route serves yet,
    while there is one, and grows at either end), drawn again until :func:`check_route_set` passes."""
    rules = problem.rules
    nbr = _neighbours(problem)
    n = problem.num_nodes
    for _ in range(max_tries):
        covered = np.zeros(n, bool)
        routes: list[list[int]] = []
        for _k in range(rules.num_routes):
            free = np.flatnonzero(~covered)
            start = int(rng.choice(free)) if free.size else int(rng.integers(n))
            length = int(rng.integers(rules.min_stops, min(rules.max_stops, n) + 1))
            route = [start]
            while len(route) < length:
                ends = [e for e in (0, -1) if any(v not in route for v in nbr[route[e]])]
                if not ends:
                    break
                end = ends[int(rng.integers(len(ends)))]
                options = [v for v in nbr[route[end]] if v not in route]
                fresh = [v for v in options if not covered[v]]
                pick = fresh if fresh and rng.random() < 0.7 else options
                v = pick[int(rng.integers(len(pick)))]
                if end == 0:
                    route.insert(0, v)
                else:
                    route.append(v)
            covered[route] = True
            routes.append(route)
        if not check_route_set(problem, routes):
            return as_route_set(routes)
    raise RuntimeError(f"no feasible random route set for {problem.name} in {max_tries} tries")


def _shortest_path_tree(problem: TransitProblem) -> np.ndarray:
    """``pred[i, j]``: the node before ``j`` on a shortest path from ``i`` (-9999 if none)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    t = problem.link_time_min
    finite = np.isfinite(t)
    np.fill_diagonal(finite, False)
    i, j = np.nonzero(finite)
    g = csr_matrix((t[i, j], (i, j)), shape=t.shape)
    _, pred = shortest_path(g, method="D", directed=True, return_predecessors=True)
    return pred


def good_route_set(problem: TransitProblem, *, max_rounds: int = 50) -> RouteSet:
    """A feasible route set of shortest paths chosen greedily: each route is the shortest path
    (extended at its ends to the minimum stops, cut to the maximum) that serves the most demand
    not yet served without transfer, counting a node no route serves yet as worth the largest
    demand; later routes replace the weakest ones while the set is infeasible."""
    rules = problem.rules
    n = problem.num_nodes
    pred = _shortest_path_tree(problem)
    nbr = _neighbours(problem)
    dem = problem.demand + problem.demand.T

    def path(i: int, j: int) -> list[int]:
        out = [j]
        while out[-1] != i:
            out.append(int(pred[i, out[-1]]))
        return out[::-1]

    candidates: list[list[int]] = []
    for i in range(n):
        for j in range(i + 1, n):
            if pred[i, j] < 0:
                continue
            p = path(i, j)[: rules.max_stops]
            while len(p) < rules.min_stops:  # extend at the end with the neighbour of most demand
                options = [v for v in nbr[p[-1]] if v not in p] or [v for v in nbr[p[0]] if v not in p]
                if not options:
                    break
                v = max(options, key=lambda v: float(dem[v, p].sum()))
                if v in nbr[p[-1]]:
                    p.append(v)
                else:
                    p.insert(0, v)
            if len(p) >= rules.min_stops:
                candidates.append(p)
    big = float(dem.max()) * n

    def gain(p: list[int], direct: np.ndarray, covered: np.ndarray) -> float:
        idx = np.asarray(p)
        return float((dem[np.ix_(idx, idx)] * ~direct[np.ix_(idx, idx)]).sum()) / 2 + big * float((~covered[idx]).sum())

    routes: list[list[int]] = []
    for _ in range(rules.num_routes + max_rounds):
        direct = np.zeros((n, n), bool)
        covered = np.zeros(n, bool)
        for r in routes:
            direct[np.ix_(r, r)] = True
            covered[r] = True
        if len(routes) < rules.num_routes:
            routes.append(max(candidates, key=lambda p: gain(p, direct, covered)))
            continue
        if not check_route_set(problem, routes):
            return as_route_set(routes)
        routes.pop(min(range(len(routes)), key=lambda k: gain(routes[k], direct, covered)))
    raise RuntimeError(f"no feasible greedy route set for {problem.name}")


# --------------------------------------------------------------------------- speed


def evaluation_speed(
    data_dir: Path,
    *,
    seconds: float = 2.0,
    sets: int = 20,
    seed: int = 0,
    instances: tuple[str, ...] = INSTANCES,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Evaluations per second of :meth:`planning.Evaluator.att` per instance and kind of route
    set (``sets`` random feasible sets cycled for about ``seconds``; the good set alone).
    The kernels are compiled before the clock starts."""
    tndp = _tndp_dir(data_dir)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for name in instances:
        problem = read_cec(tndp / name)
        ev = Evaluator(problem)
        kinds = {
            "random": [flatten(random_route_set(problem, rng)) for _ in range(sets)],
            "good": [flatten(good_route_set(problem))],
        }
        for kind, flat in kinds.items():
            atts = [ev.att(*f)[0] for f in flat]  # compiled (and checked) before timing
            count = 0
            w0, c0 = time.perf_counter(), time.process_time()
            while time.perf_counter() - w0 < seconds:
                for f in flat:
                    ev.att(*f)
                count += len(flat)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            row = {
                "instance": name,
                "sets": kind,
                "mean_att_min": float(np.mean(atts)),
                "evaluations": count,
                "per_s_wall": count / wall,
                "per_s_cpu": count / cpu if cpu > 0 else float("inf"),
            }
            rows.append(row)
            if progress is not None:
                progress(f"{name} {kind}: {row['per_s_wall']:.0f}/s wall, {row['per_s_cpu']:.0f}/s cpu")
    return rows


def compile_time() -> dict[str, float]:
    """Seconds to compile the evaluation kernels in a fresh process with an empty Numba cache."""
    code = "import json, time; t = time.perf_counter(); from planning.evaluate import warm_up; w = warm_up(); " \
        "print(json.dumps({'import_s': time.perf_counter() - t - w, 'compile_s': w}))"  # fmt: skip
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.tndp_rescore", description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["rescore", "speed", "compile"])
    ap.add_argument("--data", type=Path, default=None, help="data folder (default: the project's)")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    data = args.data or default_data_dir()
    if args.what == "rescore":
        print(to_markdown(rescore_published(data)), end="")
    elif args.what == "speed":
        rows = evaluation_speed(data, seconds=args.seconds, seed=args.seed)
        print("| Instance | Route sets | mean ATT | evaluations/s (wall) | evaluations/s (CPU) |")
        print("|---|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r['instance']} | {r['sets']} | {r['mean_att_min']:.3f} | {r['per_s_wall']:,.0f} | {r['per_s_cpu']:,.0f} |")
    else:
        print(json.dumps(compile_time()))


if __name__ == "__main__":
    main()
