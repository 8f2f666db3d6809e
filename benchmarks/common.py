"""Helpers shared by the benchmark runners: machine facts, the README section, solver runs.

The solver's warm-up (:func:`routing.warm.warm_up_solver`, run before anything is timed) and the
independent checker (:mod:`routing.checker`) live in ``routing``; the runners import them from there.

* :func:`machine_info` — CPU, cores, Numba threads and the versions of the packages measured;
* :func:`update_readme` — replaces the text between ``<!-- bench:TAG -->`` markers;
* :func:`run_ours` and :func:`run_peer` — one timed solver run, judged by the independent
  checker (:func:`routing.checker.check_solution`), as a plain dictionary for the JSON.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from routing.checker import check_solution
from routing.errors import InvalidArgumentError
from routing.problem import PDProblem
from routing.warm import warm_up_solver

RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Violations kept per run in the JSON (the checker may report many for one bad solution).
MAX_VIOLATIONS = 5


def machine_info(*packages: str) -> dict[str, Any]:
    """CPU model, cores, Numba threads, Python, NumPy and Numba versions, and those of ``packages``.

    A package that is not installed is reported as ``"not installed"``.
    """
    import numba

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }
    for name in packages:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def update_readme(readme: Path, markdown: str, tag: str = "paths") -> bool:
    """Replace the text between ``<!-- bench:TAG -->`` and ``<!-- /bench:TAG -->`` in ``readme``.

    Returns False (and leaves the file alone) when either marker is missing.
    """
    start, end = f"<!-- bench:{tag} -->", f"<!-- /bench:{tag} -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return False
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{markdown}\n{end}{tail}")
    return True


# ---------------------------------------------------------------------------- arguments
def check_time_limits(time_limits: Iterable[float]) -> tuple[float, ...]:
    """The time limits as floats; raises :class:`InvalidArgumentError` unless each is finite and > 0."""
    out = tuple(float(x) for x in time_limits)
    if not out:
        raise InvalidArgumentError("time_limits", "no time limit given", "one or more finite numbers of seconds > 0")
    for x in out:
        if not (math.isfinite(x) and x > 0):
            raise InvalidArgumentError("time_limits", f"got {x!r}", "finite numbers of seconds > 0")
    return out


def check_seeds(seeds: Iterable[int]) -> tuple[int, ...]:
    """The seeds as ints; raises :class:`InvalidArgumentError` for none, a non-integer or a negative seed."""
    out = tuple(seeds)
    if not out:
        raise InvalidArgumentError("seeds", "no seed given", "one or more integers >= 0")
    for s in out:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise InvalidArgumentError("seeds", f"got {s!r}", "integers >= 0")
    return tuple(int(s) for s in out)


def select_instances(folder: Path, names: Sequence[str] | None) -> list[Path]:
    """The instance files of ``folder`` (natural order), or those named in ``names`` (in that order).

    A name is a file's stem (``a2-16``) or its name (``a2-16.txt``); an unknown name raises
    :class:`InvalidArgumentError` listing the instances available.
    """
    from routing.instances import iter_instances

    available = list(iter_instances(folder))
    if names is None:
        return available
    by_name = {p.stem: p for p in available} | {p.name: p for p in available}
    chosen: list[Path] = []
    for name in names:
        key = name.strip()
        if key not in by_name:
            listing = ", ".join(p.stem for p in available[:8]) + (", ..." if len(available) > 8 else "")
            raise InvalidArgumentError("instances", f"no instance {key!r} in {folder}", listing or "none found")
        if by_name[key] not in chosen:
            chosen.append(by_name[key])
    if not chosen:
        raise InvalidArgumentError("instances", "no instance named", "one or more instance names")
    return chosen


def time_key(limit: float) -> str:
    """The JSON key of a time limit: ``10.0 -> "10"``, ``0.5 -> "0.5"``."""
    return f"{limit:g}"


# ---------------------------------------------------------------------------- solver runs
def _judge(problem: PDProblem, routes: list[list[int]]) -> dict[str, Any]:
    report = check_solution(problem, routes)
    return {
        "cost": report.cost,
        "num_vehicles": report.num_vehicles,
        "feasible": report.feasible,
        "violations": report.violations[:MAX_VIOLATIONS],
        "num_violations": len(report.violations),
    }


def run_ours(problem: PDProblem, time_limit_s: float, seed: int, iterations: int | None = None) -> dict[str, Any]:
    """Our :func:`~routing.solve.solve` for ``time_limit_s`` seconds, judged by the checker.

    ``runtime_s`` is the wall time of the call; ``claims_agree`` says whether the solver's own
    cost and feasibility match the checker's (a disagreement is a bug worth reporting). With
    ``iterations`` the run stops after that many iterations instead (reproducible for a seed;
    the tests use it), ``time_limit_s`` only labels it.
    """
    from routing.solve import MaxIterations, MaxRuntime, solve

    stop = MaxRuntime(time_limit_s) if iterations is None else MaxIterations(iterations)
    t0 = time.perf_counter()
    result = solve(problem, stop=stop, seed=seed)
    runtime = time.perf_counter() - t0
    routes = [list(map(int, r)) for r in result.routes]
    run: dict[str, Any] = {
        "solver": "ours",
        "seed": seed,
        "runtime_s": round(runtime, 3),
        "iterations": result.iterations,
    }
    run.update(_judge(problem, routes))
    run["claims_agree"] = bool(
        result.feasible == run["feasible"] and math.isclose(result.cost, run["cost"], rel_tol=1e-9, abs_tol=1e-6)
    )
    run["routes"] = routes
    return run


#: A peer: ``solve(problem, time_limit_s, seed) -> PeerResult``.
PeerSolve = Callable[[PDProblem, float, int], Any]


def run_peer(
    name: str, solve_fn: PeerSolve, problem: PDProblem, time_limit_s: float, seed: int | None
) -> dict[str, Any]:
    """One run of a peer (``seed`` None for a peer without one), judged again by the checker.

    A peer that raises is recorded as a failed run (no solution, the error as its violation),
    so that one peer failure does not end a benchmark of hours.
    """
    t0 = time.perf_counter()
    try:
        result = solve_fn(problem, time_limit_s, 0 if seed is None else seed)
    except Exception as exc:
        failed: dict[str, Any] = {"solver": name, "seed": seed, "runtime_s": round(time.perf_counter() - t0, 3)}
        failed.update(solver_status="error", cost=None, num_vehicles=0, feasible=False, routes=[])
        failed.update(violations=[f"the peer failed: {type(exc).__name__}: {exc}"], num_violations=1)
        return failed
    routes = [list(map(int, r)) for r in result.routes]
    run: dict[str, Any] = {
        "solver": name,
        "seed": seed,
        "runtime_s": round(float(result.runtime_s), 3),
        "solver_status": result.solver_status,
    }
    if result.status == "no-solution":
        run.update(cost=None, num_vehicles=0, feasible=False, violations=["no solution found"], num_violations=1)
    else:
        run.update(_judge(problem, routes))
    run["routes"] = routes
    return run


def gap_pct(cost: float | None, reference: float | None) -> float | None:
    """``100 * (cost / reference - 1)``, or None when either is missing."""
    if cost is None or reference is None or not reference:
        return None
    return 100.0 * (cost / reference - 1.0)


def mean(values: Iterable[float]) -> float | None:
    """The mean, or None for no values."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def fmt_num(value: float | None, digits: int = 2, suffix: str = "") -> str:
    """A number for a Markdown cell (``—`` for None; never ``-0.00``)."""
    if value is None:
        return "—"
    return f"{round(value, digits) + 0.0:,.{digits}f}{suffix}"


# ---------------------------------------------------------------------------- the run plan
@dataclass(frozen=True)
class Peer:
    """A peer solver of a benchmark: its label, how to call it and whether it takes a seed.

    A peer without a seed (OR-Tools' routing search has none) runs once per instance and
    time limit; a seeded one runs once per seed, like ours.
    """

    label: str
    load: Callable[[], PeerSolve]  # imports lazily, so a missing package only matters when used
    seeded: bool
    package: str


def check_peers(peers: Iterable[str], known: dict[str, Peer]) -> tuple[str, ...]:
    """The peer names, each known; raises :class:`InvalidArgumentError` naming the allowed ones."""
    out = tuple(dict.fromkeys(peers))
    for name in out:
        if name not in known:
            raise InvalidArgumentError("peers", f"unknown peer {name!r}", ", ".join(known) + " or none")
    return out


def num_steps(num_instances: int, time_limits: Sequence[float], seeds: Sequence[int], peers: Sequence[Peer]) -> int:
    """Progress steps of a run: the warm-up and one per solver run."""
    per_limit = len(seeds) + sum(len(seeds) if p.seeded else 1 for p in peers)
    return 1 + num_instances * len(time_limits) * per_limit


def run_all(
    problem: PDProblem,
    *,
    time_limits: Sequence[float],
    seeds: Sequence[int],
    peers: dict[str, Peer],
    say: Callable[[str], None],
    iterations: int | None = None,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every run on one problem, one at a time: ``{time_key: {solver: [run, ...]}}``.

    For each time limit, each seed: ours, then each seeded peer; then each peer without a
    seed once. Nothing runs in parallel within a problem, so that every solver has its core
    to itself. ``iterations`` (tests only) stops our solver by iterations, see :func:`run_ours`.
    """
    solvers = {name: peer.load() for name, peer in peers.items()}
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for limit in time_limits:
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], **{name: [] for name in peers}}
        for seed in seeds:
            runs["ours"].append(run_ours(problem, limit, seed, iterations))
            say(f"{problem.name} {limit:g} s seed {seed}: ours")
            for name, peer in peers.items():
                if peer.seeded:
                    runs[name].append(run_peer(name, solvers[name], problem, limit, seed))
                    say(f"{problem.name} {limit:g} s seed {seed}: {peer.label}")
        for name, peer in peers.items():
            if not peer.seeded:
                runs[name].append(run_peer(name, solvers[name], problem, limit, None))
                say(f"{problem.name} {limit:g} s: {peer.label}")
        out[time_key(limit)] = runs
    return out


#: The most worker processes ``jobs`` may ask for.
MAX_JOBS = 64


def check_jobs(jobs: int) -> int:
    """``jobs`` as an int; raises :class:`InvalidArgumentError` unless it is a whole number 1 .. :data:`MAX_JOBS`."""
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or not 1 <= jobs <= MAX_JOBS:
        raise InvalidArgumentError("jobs", f"got {jobs!r}", f"whole numbers 1 .. {MAX_JOBS}")
    return int(jobs)


def run_instances(
    result: dict[str, Any],
    problems: Sequence[PDProblem],
    *,
    peers: dict[str, Peer],
    time_limits: Sequence[float],
    seeds: Sequence[int],
    say: Callable[[str], None],
    record: Callable[[PDProblem, dict[str, dict[str, list[dict[str, Any]]]]], dict[str, Any]],
    write: Callable[[bool], None],
    jobs: int = 1,
    iterations: int | None = None,
) -> dict[str, Any]:
    """Load the peers, warm our kernels up, then run every solver on every problem.

    ``record(problem, runs)`` turns one problem's runs into its entry of
    ``result["instances"]``; ``write(complete)`` is called after every instance, so that an
    interrupted long run keeps what it measured. A missing peer package fails before anything
    is measured.

    With ``jobs`` > 1 the problems are spread over that many worker processes (spawned, one
    Numba thread each), each of which warms the kernels up once and then solves its problems
    one solver run at a time, exactly as with ``jobs`` = 1; ``result["instances"]`` keeps the
    order of ``problems`` (after each finished problem it holds the finished ones, in that
    order), and ``result["warm_up"]`` is the slowest worker's warm-up. With as many jobs as
    cores every run has one core and the machine is otherwise busy: measure with fewer jobs
    than cores when other work shares the machine. ``iterations`` (tests only) stops our
    solver by iterations instead of time, see :func:`run_ours`.
    """
    jobs = check_jobs(jobs)
    for peer in peers.values():
        peer.load()
    result["jobs"] = jobs
    result["instances"] = []
    result["warm_up"] = {"seconds": 0.0, "compiled": False}
    if jobs == 1:
        result["warm_up"] = warm_up_solver()
        say("warm-up (Numba kernels)")
        for problem in problems:
            runs = run_all(problem, time_limits=time_limits, seeds=seeds, peers=peers, say=say, iterations=iterations)
            result["instances"].append(record(problem, runs))
            write(len(result["instances"]) == len(problems))
        return result
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    records: list[dict[str, Any] | None] = [None] * len(problems)
    warm_ups: list[dict[str, Any]] = []
    saved = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = "1"  # inherited by the spawned workers
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_warm_up) as pool:
            futures = {
                pool.submit(_worker_runs, problem, tuple(time_limits), tuple(seeds), dict(peers), iterations): k
                for k, problem in enumerate(problems)
            }
            say(f"warm-up (Numba kernels, in each of {jobs} workers)")
            for future in as_completed(futures):
                k = futures[future]
                runs, messages, warm = future.result()
                warm_ups.append(warm)
                result["warm_up"] = {
                    "seconds": max(w["seconds"] for w in warm_ups),
                    "compiled": any(w["compiled"] for w in warm_ups),
                }
                for message in messages:
                    say(message)
                records[k] = record(problems[k], runs)
                result["instances"] = [r for r in records if r is not None]
                write(len(result["instances"]) == len(problems))
    finally:
        if saved is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = saved
    return result


#: A worker process's own warm-up (set once by :func:`_worker_warm_up`, its initializer).
_WORKER_WARM_UP: dict[str, Any] = {}


def _worker_warm_up() -> None:
    _WORKER_WARM_UP.update(warm_up_solver())


def _worker_runs(
    problem: PDProblem,
    time_limits: tuple[float, ...],
    seeds: tuple[int, ...],
    peers: dict[str, Peer],
    iterations: int | None,
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], list[str], dict[str, Any]]:
    """One problem's runs in a worker: ``(runs, progress messages, the worker's warm-up)``."""
    messages: list[str] = []
    runs = run_all(problem, time_limits=time_limits, seeds=seeds, peers=peers, say=messages.append,
                   iterations=iterations)  # fmt: skip
    return runs, messages, dict(_WORKER_WARM_UP)


def parallel_note(result: dict[str, Any]) -> str:
    """How the runs shared the machine, for a table's caption (``jobs`` of :func:`run_instances`)."""
    jobs = int(result.get("jobs", 1))
    if jobs <= 1:
        return "one solver at a time, each single-threaded"
    return (
        f"{jobs} instances at a time, each in a process of its own (one core each), one solver at a time "
        "in each, single-threaded"
    )


def write_results(
    result: dict[str, Any],
    *,
    name: str,
    complete: bool,
    out_dir: Path,
    summary: Callable[[list[dict[str, Any]], str, str], dict[str, Any]],
    targets: Callable[[dict[str, Any]], Any],
    to_markdown: Callable[[dict[str, Any]], str],
) -> None:
    """Summarise what has been measured so far and write ``{name}.json`` and ``{name}.md``."""
    records = result["instances"]
    solvers = ["ours", *result["peers"]]
    result["complete"] = complete
    result["summary"] = {
        time_key(limit): {s: summary(records, time_key(limit), s) for s in solvers} for limit in result["time_limits_s"]
    }
    result["targets"] = targets(result)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(to_markdown(result))
