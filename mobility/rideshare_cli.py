"""The ride-sharing commands: ``mobility solve rideshare``, ``mobility check rideshare`` and
``mobility bench rideshare``.

    mobility solve rideshare DIR --requests N --drivers K --capacity Q [--metric M] [--time-limit S]
                             [--out FILE]
                                       solve an HGA-format instance, check it, write the JSON
    mobility check rideshare DIR SOLUTION.json --requests N --drivers K --capacity Q [--metric M]
                                       judge a solution file with the independent checker
    mobility bench rideshare           our solver on Manhattan beside the published HGA, pruneGDP, FESI

DIR is a folder of the HGA benchmark format (Luo, Florio, Das & Guo, PVLDB 2023): flat
(``X.xy X.d X.drv X.<k>.reqs``, as ``../shared/data/rideshare/manhattan``) or the HGA
repository's layout (``in/coords``, ``in/dists``, ``in/drivers``, ``in/reqs``). The solution JSON
is ``{"routes": [{"driver": 0, "stops": [12, 5, -12, -5]}, ...], "total": ..., "metric": ...}``:
the driver's 0-based position in the ``.drv`` file and the stops as request ids of the ``.reqs``
file, ``+id`` pickup, ``-id`` drop-off; ``total`` in ``metric``, ``symmetric`` (a leg costs
``(d(a, b) + d(b, a)) / 2``, the HGA code's ``Route::cost`` and issue 20's objective; the
default) or ``directed`` (``d(a, b)``). The format, the commands and the benchmark:
``docs/rideshare.md``.

:func:`add_commands` registers the parsers; :mod:`mobility.cli` hands it its shared option rules
and output checks (:class:`mobility.plan_cli.CliHelpers`), so that a bad value or file is one
``mobility: error:`` line and exit status 2, before any work.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .plan_cli import CliHelpers

__all__ = ["add_commands"]

#: The time limit of ``solve rideshare`` when neither --time-limit nor --iterations is given.
DEFAULT_TIME_LIMIT_S = 20.0
#: The leg costs of the objective (``routing.rideshare.METRICS``), the default first.
METRICS = ("symmetric", "directed")
#: What each metric means, for the help texts.
METRIC_HELP = (
    "symmetric: a leg from a to b costs (d(a,b) + d(b,a)) / 2, the HGA code's Route::cost, issue 20's objective "
    "and the metric of the published HGA, pruneGDP and FESI totals; directed: a leg costs the shortest-path "
    "time d(a,b)"
)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _count(text: str) -> int:
    """A whole number >= 1 (``--requests``, ``--drivers``, ``--capacity``)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _solution_text(out: dict[str, Any]) -> str:
    """The solution JSON, one line per route."""
    lines = []
    for key, value in out.items():
        if key == "routes" and value:
            inner = ",\n".join(f"    {json.dumps(item)}" for item in value)
            lines.append(f'  "routes": [\n{inner}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _print_verdict(report: Any) -> None:
    if report.total is None:
        recount = "cannot be recounted"
    else:
        agrees = "agrees" if report.total_agrees else "DOES NOT agree"
        recount = f"recount {report.total:,.2f} {report.metric} ({agrees} with the claimed total)"
        other = "symmetric" if report.metric == "directed" else "directed"
        value = getattr(report, f"total_{other}")
        if value is not None:
            recount += f", {value:,.2f} {other}" + (" (the HGA code's metric)" if other == "symmetric" else "")
    count = len(report.violations)
    verdict = "feasible" if report.feasible else f"INFEASIBLE ({count} violation{'s' if count > 1 else ''})"
    print(f"checker      {verdict}; {recount}; {report.routes_used} routes used")
    for line in report.violations[:10]:
        _stderr(f"violation: {line}")
    if len(report.violations) > 10:
        _stderr(f"... and {len(report.violations) - 10} more")


# ---------------------------------------------------------------------------- solve
def cmd_solve_rideshare(args: argparse.Namespace, h: CliHelpers) -> int:
    from routing.rideshare import read_rideshare, solution_json, solve_rideshare
    from routing.rideshare_check import check_rideshare

    path = h.out_file(Path(args.out))
    limit = args.time_limit if args.time_limit is not None or args.iterations is not None else DEFAULT_TIME_LIMIT_S
    counts = {"requests": args.requests, "drivers": args.drivers, "capacity": args.capacity}
    t0 = time.perf_counter()
    inst = read_rideshare(args.dir, **counts, reqs=args.reqs, network=args.network, metric=args.metric)
    read_s = time.perf_counter() - t0
    from tqdm import tqdm

    fmt = "{l_bar}{bar}| {elapsed}{postfix}"
    with tqdm(total=100, desc="solve rideshare", unit="%", file=sys.stderr, bar_format=fmt) as bar:

        def progress(fraction: float, best: float) -> None:
            bar.n = round(100 * min(max(fraction, 0.0), 1.0), 1)
            bar.set_postfix_str(f"best {best:,.0f}", refresh=False)
            bar.update(0)  # redraws at most every mininterval (0.1 s)

        sol = solve_rideshare(inst, time_limit_s=limit, iterations=args.iterations, seed=args.seed, progress=progress)
    out = solution_json(sol)
    out.update(
        metric=inst.metric,
        instance=inst.name,
        requests=args.requests,
        drivers=args.drivers,
        capacity=args.capacity,
        seed=args.seed,
        time_limit_s=limit,
        iterations=sol.iterations,
        read_s=round(read_s, 3),
        runtime_s=round(sol.runtime_s, 3),
        compile_s=round(sol.compile_s, 3),
    )
    text = _solution_text(out)
    try:
        path.write_text(text)
    except OSError as exc:
        _stderr(f"mobility: error: {path}: cannot write the solution ({exc.strerror or exc})")
        return 2
    # The checker judges what was written, read back, with its own parsers and shortest paths.
    report = check_rideshare(
        args.dir, json.loads(text), **counts, reqs=args.reqs, network=args.network, metric=inst.metric
    )
    print(f"instance     {inst.name}: {args.requests:,} requests, {args.drivers:,} drivers, capacity {args.capacity}")
    print(f"solution     total {sol.total:,.2f} {inst.metric} with {len(sol.routes)} of {args.drivers:,} drivers")
    _print_verdict(report)
    how = f"{limit:g} s limit, " if limit is not None else ""
    print(
        f"time         read + distances {read_s:.1f} s; search {sol.runtime_s:.1f} s ({how}{sol.iterations:,} "
        f"iterations, seed {args.seed}); kernels {sol.compile_s:.1f} s before the search (not counted)"
    )
    print(f"written      {path}")
    return 0 if report.feasible else 1


# ---------------------------------------------------------------------------- check
def cmd_check_rideshare(args: argparse.Namespace) -> int:
    from routing.rideshare_check import check_rideshare_solution, load_check_instance

    path = Path(args.solution)
    try:
        text = path.read_text()
    except FileNotFoundError:
        _stderr(f"mobility: error: {path}: file not found")
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        _stderr(f"mobility: error: {path}: cannot read the solution ({getattr(exc, 'strerror', None) or exc})")
        return 2
    try:
        solution = json.loads(text)
    except json.JSONDecodeError as exc:
        _stderr(f"mobility: error: {path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
        return 2
    metric = args.metric
    if metric is None:  # the solution's own metric, else the issue's
        metric = solution.get("metric", METRICS[0]) if isinstance(solution, dict) else METRICS[0]
        if metric not in METRICS:
            _stderr(
                f'mobility: error: {path}: "metric" is {json.dumps(metric)} (allowed: {", ".join(METRICS)}; '
                "or give --metric)"
            )
            return 2
    counts = {"requests": args.requests, "drivers": args.drivers, "capacity": args.capacity}
    inst = load_check_instance(args.dir, **counts, reqs=args.reqs, network=args.network)
    report = check_rideshare_solution(inst, solution, metric=metric)
    print(f"instance     {inst.name}: {args.requests:,} requests, {args.drivers:,} drivers, capacity {args.capacity}")
    print(f"solution     {path}")
    _print_verdict(report)
    return 0 if report.feasible else 1


# ---------------------------------------------------------------------------- bench
def _bench_case(text: str) -> Any:
    from benchmarks.rideshare import parse_case
    from routing.errors import InvalidArgumentError

    try:
        return parse_case(text, default_limits=())
    except InvalidArgumentError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("cases: ")) from None


def cmd_bench_rideshare(args: argparse.Namespace, h: CliHelpers) -> int:
    from dataclasses import replace

    from benchmarks import rideshare

    data_dir, out_dir = h.bench_data_and_out(args, rideshare.RESULTS_DIR)
    fallback = tuple(args.time_limit or ((2.0,) if args.quick else (20.0,)))
    if args.cases:
        cases = [c if c.time_limits else replace(c, time_limits=fallback) for c in args.cases]
    else:
        cases = list(rideshare.QUICK_CASES if args.quick else rideshare.DEFAULT_CASES)
        if args.time_limit:
            cases = [replace(c, time_limits=fallback) for c in cases]
    result = h.with_progress(
        "rideshare",
        rideshare.steps(cases=cases, seeds=args.seeds),
        "run",
        lambda progress: rideshare.run(
            data_dir=data_dir,
            cases=cases,
            seeds=args.seeds,
            folder=Path(args.folder) if args.folder else None,
            reqs=args.reqs,
            network=args.network,
            out_dir=out_dir,
            progress=progress,
            quick=args.quick,
            metric=args.metric,
        ),
    )
    h.publish_bench("rideshare", out_dir, args.update_readme)
    return 0 if all(r["feasible"] for r in result["runs"]) else 1


# ---------------------------------------------------------------------------- parsers
def _instance_options(p: argparse.ArgumentParser, *, solution: bool = False) -> None:
    p.add_argument("dir", metavar="DIR", help="the instance folder (X.xy, X.d, X.drv, X.<k>.reqs, or in/coords ...)")
    if solution:
        p.add_argument("solution", metavar="SOLUTION.json", help="the solution file")
    p.add_argument("--requests", type=_count, required=True, metavar="N", help="the first N requests of the file")
    p.add_argument("--drivers", type=_count, required=True, metavar="K", help="the first K drivers of X.drv")
    p.add_argument("--capacity", type=_count, required=True, metavar="Q", help="riders per van")
    p.add_argument(
        "--reqs",
        metavar="FILE",
        help="the request file: a path, a name in DIR (Manhattan.2.reqs or Manhattan.2) or its number k "
        "(default X.1.reqs, or the only X.*.reqs)",
    )
    p.add_argument("--network", metavar="NAME", help="the network X when DIR holds several (X.xy)")


def add_commands(sub: Any, ssub: Any, bsub: Any, h: CliHelpers) -> argparse.ArgumentParser:
    """Register ``solve rideshare`` (on ``ssub``), ``check rideshare`` (a ``check`` command on
    ``sub``) and ``bench rideshare`` (on ``bsub``); returns the ``check`` parser."""
    solve = ssub.add_parser(
        "rideshare",
        help="solve a city-scale ride-sharing instance (HGA format: .xy .d .drv .reqs)",
        description="Solve a ride-sharing instance of the HGA benchmark format (Luo et al., PVLDB 2023): the "
        "first N requests of a .reqs file, the first K drivers of the .drv file as route starts, vans of Q "
        "riders, open routes (each starts at its driver's node and ends at its last drop-off), every request "
        "served, total travel time in --metric minimised. The independent checker then recounts the written "
        "solution with its own parsers and shortest paths, in both metrics (the claimed total in --metric). "
        "Writes JSON: routes ([{driver: 0-based position in X.drv, stops: request ids, +id pickup, -id "
        "drop-off}]), total (in metric), metric, and instance, requests, drivers, capacity, seed, "
        "time_limit_s, iterations, read_s, runtime_s, compile_s. Exit status 0 when the checker finds the "
        "solution feasible with the claimed total, 1 when not, 2 for a bad option or file. Example: mobility "
        "solve rideshare ../shared/data/rideshare/manhattan --requests 10000 --drivers 200 --capacity 8 "
        "--time-limit 20",
    )
    _instance_options(solve)
    solve.add_argument(
        "--time-limit",
        type=h.positive(float),
        metavar="S",
        help=f"search seconds, reading and compiling not counted (default {DEFAULT_TIME_LIMIT_S:g}, or none "
        "with --iterations); with --iterations too, whichever comes first",
    )
    solve.add_argument(
        "--iterations",
        type=h.positive(int),
        metavar="N",
        help="stop after N ruin-and-recreate iterations (alone: reproducible bit for bit for a seed)",
    )
    solve.add_argument(
        "--metric",
        choices=METRICS,
        default=METRICS[0],
        help=f"the leg cost the solver minimises and the JSON's total is in (default {METRICS[0]}). {METRIC_HELP}",
    )
    solve.add_argument("--seed", type=h.seed, default=1, metavar="N", help="random seed (default 1)")
    solve.add_argument(
        "--out", default="solution.json", metavar="FILE", help="where to write the JSON (default solution.json)"
    )
    solve.set_defaults(func=lambda args: cmd_solve_rideshare(args, h))

    check = sub.add_parser(
        "check",
        help="judge a solution file with an independent checker",
        description="Judge a solution file with an independent checker that reads the instance itself.",
    )
    csub = check.add_subparsers(dest="check_command", metavar="KIND")
    crs = csub.add_parser(
        "rideshare",
        help="check a ride-sharing solution (the JSON of `mobility solve rideshare`)",
        description='Check a ride-sharing solution JSON ({"routes": [{"driver": 0, "stops": [12, 5, -12, '
        '-5]}, ...], "total": ..., "metric": ...}) against the instance in DIR: every one of the first N '
        "requests served exactly once (pickup +id before drop-off -id, on one route), no unknown ids, drivers "
        "0 .. K-1 each used at most once, at most Q riders on board, and the claimed total equal to the recount "
        '(relative 1e-9) in its metric (--metric, else the JSON\'s "metric", else symmetric) with the '
        "checker's own shortest paths. Prints the recount in both metrics (symmetric, the HGA code's, and "
        "directed) and every violation as a sentence. "
        "Exit status 0 when feasible, 1 when not, 2 for a bad option, instance file or a file that is not JSON.",
    )
    _instance_options(crs, solution=True)
    crs.add_argument(
        "--metric",
        choices=METRICS,
        help='the metric of the claimed total (default: the JSON\'s own "metric", as `mobility solve rideshare` '
        f"writes it, else {METRICS[0]}); both recounts are printed. {METRIC_HELP}",
    )
    crs.set_defaults(func=cmd_check_rideshare)

    bench = bsub.add_parser(
        "rideshare",
        help="city-scale ride-sharing on Manhattan beside the published HGA, pruneGDP and FESI",
        description="Our ride-sharing solver on the HGA instances of Manhattan (first R requests of "
        "Manhattan.1.reqs, first K drivers, capacity Q): by default 10000/200/8 at 20 and 450 s, 2000/50/8 and "
        "5000/100/8 at 20 s, seed 1, one run at a time. Each run's time is the wall time of reading the files "
        "and the distance matrix plus the search (the solver gets the limit minus the reading); the kernels are "
        "compiled before timing and reported apart. Our solver minimises --metric (default symmetric: the HGA "
        "code's (d(a,b) + d(b,a)) / 2 per leg, its Route::cost, the metric of the published values and of the "
        "targets). Every solution is recounted by the independent checker in both metrics, symmetric and "
        "directed (d(a,b) per leg), shown beside the published values "
        "(HGA 1.24316e7, 81 routes, 447.5 s; pruneGDP "
        "1.48831e7, 102 routes, 18.1 s; FESI 2.28268e7, 200 routes, 8.6 s; for 10000/200/8 only, on their "
        "machine), with the targets (below pruneGDP within 20 s, below HGA within 450 s) marked met or not. "
        "Writes benchmarks/results/rideshare.{json,md} and rideshare_solutions.json. Duration: about the sum "
        "of the limits times the seeds, plus the checks; the defaults about 9 minutes. Pin it to one core "
        "(taskset -c 0) for the published table.",
    )
    bench.add_argument(
        "--cases",
        type=_bench_case,
        nargs="+",
        metavar="R/K/Q[@S,...]",
        help="instance sizes, each with its own time limits after @ (e.g. 10000/200/8@20,450 2000/50/8); "
        "default the four runs above",
    )
    bench.add_argument(
        "--time-limit",
        type=h.positive(float),
        nargs="+",
        metavar="S",
        help="seconds per run for the cases without @ (default 20; 2 with --quick); without --cases, for every "
        "default case instead of its own limits",
    )
    bench.add_argument(
        "--seeds", type=h.seed, nargs="+", default=[1], metavar="N", help="seeds, one or more (default 1)"
    )
    bench.add_argument(
        "--metric",
        choices=METRICS,
        default=METRICS[0],
        help=f"the leg cost our solver minimises (default {METRICS[0]}); the table shows both and the targets are "
        f"judged in symmetric either way. {METRIC_HELP}",
    )
    bench.add_argument("--folder", metavar="DIR", help="another instance folder of the format (default Manhattan)")
    bench.add_argument("--reqs", metavar="FILE", help="the request file of the folder (default X.1.reqs)")
    bench.add_argument("--network", metavar="NAME", help="the network X when the folder holds several")
    bench.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of seconds: 500/20/8 at 2 s unless --cases or --time-limit say otherwise; no verdict "
        "on the targets",
    )
    bench.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    bench.add_argument("--out", metavar="DIR", help="output folder (default benchmarks/results)")
    bench.add_argument("--update-readme", action="store_true", help="write the table into README.md")
    bench.set_defaults(func=lambda args: cmd_bench_rideshare(args, h))
    return check
