"""Kernel benchmark: compile time from an empty Numba cache, and ALNS iterations per second.

Run from the project root::

    python -m benchmarks.kernels                    # both measurements, 3 repeats, 10 s solves
    python -m benchmarks.kernels --what compile --repeat 2
    python -m benchmarks.kernels --what solve --time-limit 10 --seed 1

**Compile** starts a fresh Python process per repeat with ``NUMBA_CACHE_DIR`` set to a new
empty folder, so every kernel is compiled, and reports two times separately: the solver's
warm-up (:func:`benchmarks.common.warm_up_solver`: both objectives on a tiny problem), and
then one dispatcher quote, booking and re-optimisation on a small synthetic city (the road
network, its contraction hierarchy and the stop matrix are built before that clock starts),
each as wall time and as the process's CPU time.

**Solve** runs :func:`routing.solve.solve` for a fixed time on DARP a8-96 (Cordeau 2006) and
PDPTW lr1_4_1 (Li & Lim, 200 tasks), kernels warmed up first, and reports iterations per
second (of wall time, and of the process's CPU time, which another load on a shared machine
disturbs less) and the cost reached. Repeat, and read the spread.

The script uses only public entry points, so it runs unchanged on older commits of the code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mobility import default_data_dir

ROOT = Path(__file__).resolve().parent.parent
DATA = default_data_dir()
INSTANCES = {
    "a8-96": DATA / "darp" / "cordeau2006" / "a8-96.txt",
    "lr1_4_1": DATA / "pdptw" / "li_lim_400" / "lr1_4_1.txt",
}


def _compile_child() -> dict[str, Any]:
    """In a fresh process with an empty cache: the solver's warm-up, then a dispatcher's first calls."""
    import numpy as np

    from benchmarks.common import warm_up_solver

    t0, c0 = time.perf_counter(), time.process_time()
    warm = warm_up_solver()
    solver_s, solver_cpu_s = time.perf_counter() - t0, time.process_time() - c0

    import routing
    from matching import Request, VehicleState
    from matching.dispatcher import Dispatcher

    net = routing.synthetic_city(400, seed=3)
    router = routing.Router(net)
    stops = routing.virtual_stops(net, spacing_m=300)
    matrix = router.matrix(stops.node, stops.node).astype(np.float64)
    hour = 3600
    fleet = [
        VehicleState(
            id=f"v{k}",
            seats=8,
            wheelchair_places=1,
            depot_stop=(5 * k) % len(stops),
            shift_start_s=6 * hour,
            shift_end_s=22 * hour,
        )
        for k in range(3)
    ]
    dispatcher = Dispatcher(net, router, stops, fleet, travel_time_s=matrix, seed=1)
    t1, c1 = time.perf_counter(), time.process_time()
    booked = 0
    for k in range(4):
        now = 8 * hour + 60 * k
        req = Request(
            id=f"r{k}",
            requested_time_s=now,
            origin_stop=(3 * k) % len(stops),
            destination_stop=(7 * k + len(stops) // 2) % len(stops),
        )
        answer = dispatcher.quote(req, now)
        if hasattr(answer, "offer_id"):
            dispatcher.book(answer.offer_id, now)
            booked += 1
    dispatcher.reoptimise(iterations=20, now_s=8 * hour + 300)
    dispatch_s, dispatch_cpu_s = time.perf_counter() - t1, time.process_time() - c1
    return {
        "solver_warm_up_s": round(solver_s, 2),
        "solver_warm_up_cpu_s": round(solver_cpu_s, 2),
        "dispatcher_s": round(dispatch_s, 2),
        "dispatcher_cpu_s": round(dispatch_cpu_s, 2),
        "compiled": warm["compiled"],
        "booked": booked,
    }


def measure_compile(repeat: int) -> list[dict[str, Any]]:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.kernels", "--child"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run["process_s"] = round(time.perf_counter() - t0, 2)
            runs.append(run)
            print("compile", run, flush=True)
    return runs


def measure_solve(names: list[str], time_limit: float, seed: int, repeat: int) -> dict[str, list[dict[str, Any]]]:
    from benchmarks.common import warm_up_solver
    from routing.instances import read_instance
    from routing.solve import MaxRuntime, solve

    warm_up_solver()
    out: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        problem = read_instance(INSTANCES[name])
        out[name] = []
        for _ in range(repeat):
            c0 = time.process_time()
            result = solve(problem, stop=MaxRuntime(time_limit), seed=seed)
            cpu_s = time.process_time() - c0
            run = {
                "iterations": result.iterations,
                "iter_per_s": round(result.iterations / result.runtime_s, 1),
                "iter_per_cpu_s": round(result.iterations / cpu_s, 1),
                "cost": round(result.cost, 2),
                "vehicles": result.num_vehicles,
                "feasible": result.feasible,
            }
            out[name].append(run)
            print(name, run, flush=True)
    return out


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:g}"
    return f"{statistics.median(values):g} (min {min(values):g}, max {max(values):g})"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--what", choices=("compile", "solve", "both"), default="both")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--instances", nargs="*", default=list(INSTANCES))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_compile_child()))
        return
    summary: dict[str, Any] = {}
    if args.what in ("compile", "both"):
        runs = measure_compile(args.repeat)
        summary["compile"] = {
            key: _spread([r[key] for r in runs])
            for key in ("solver_warm_up_s", "solver_warm_up_cpu_s", "dispatcher_s", "dispatcher_cpu_s", "process_s")
        }
    if args.what in ("solve", "both"):
        res = measure_solve(args.instances, args.time_limit, args.seed, args.repeat)
        summary["solve"] = {
            name: {key: _spread([r[key] for r in runs]) for key in ("iter_per_s", "iter_per_cpu_s", "cost")}
            for name, runs in res.items()
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
