"""The ``mobility plan`` commands (bus network redesign) and ``mobility bench tndp``.

    mobility plan evaluate SOURCE ROUTES     score a route set: ATT, d0 .. dun, TRT, per route, the check
    mobility plan design SOURCE              search a route set (passenger-first or a Pareto front)
    mobility plan report SOURCE ROUTES --out DIR
                                             KPI JSON, route map, GTFS feed, before/after table
    mobility bench tndp                      the CEC-2013 benchmark (Mandl, Mumford0, 1, 3)

SOURCE is a CEC-2013 instance folder (``*TravelTimes.txt``, ``*Demand.txt``, ``*Coords.txt``:
Mandl, Mumford0 .. 3 or any folder of that format) or a city planning spec (``.toml``, read by
:func:`planning.city.load_problem`). ROUTES is a route-set file: JSON ``{"routes": [[1, 2, 3],
...]}`` or text with one ``1-2-3`` route per line, nodes named as the problem names them (1-based
numbers for the benchmark files).

:func:`add_commands` registers the parsers; :mod:`mobility.cli` hands it its shared option rules
(seeds, positive numbers) and output checks (:class:`CliHelpers`), so that these commands follow
the same rules as every other: a bad value or file is one ``mobility: error:`` line and exit
status 2, before any work.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CliHelpers", "add_commands", "load_source", "problem_and_routes", "rule_changes"]


@dataclass(frozen=True)
class CliHelpers:
    """What :mod:`mobility.cli` shares with these commands (its option types and output checks)."""

    seed: Callable[[str], int]
    positive: Callable[[type], Callable[[str], Any]]
    out_dir: Callable[..., Path]
    out_file: Callable[..., Path]
    with_progress: Callable[..., Any]
    publish_bench: Callable[[str, Path, bool], None]
    bench_data_and_out: Callable[[argparse.Namespace, Path], tuple[Path, Path]]


#: The command-line option of each rule of :class:`planning.RouteRules`.
RULE_OPTIONS = {
    "num_routes": "--routes",
    "min_stops": "--min-stops",
    "max_stops": "--max-stops",
    "max_circuity": "--max-circuity",
    "max_overlap": "--max-overlap",
}


# ---------------------------------------------------------------------------- inputs
def rule_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The rules given on the command line (``RouteRules`` field -> value), checked one by one."""
    from planning import RouteRules
    from routing.errors import InvalidArgumentError

    out = {field: getattr(args, field) for field in RULE_OPTIONS if getattr(args, field, None) is not None}
    for field, value in out.items():
        trial: dict[str, Any] = {"num_routes": 1, "min_stops": 2, "max_stops": 10_000, field: value}
        if field == "min_stops":
            trial["max_stops"] = max(value, 2)
        try:
            RouteRules(**trial)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(RULE_OPTIONS[field], f"got {value}", exc.allowed) from None
    if out.get("max_stops", math.inf) < out.get("min_stops", -math.inf):
        raise InvalidArgumentError(
            "--max-stops", f"got {out['max_stops']}, below --min-stops {out['min_stops']}", ">= --min-stops"
        )
    return out


def load_source(source: str | Path, changes: dict[str, Any], *, need_rules: bool = True) -> Any:
    """The :class:`planning.TransitProblem` of SOURCE (a CEC folder or a ``.toml`` planning spec).

    A published CEC instance (:data:`planning.CEC_INSTANCES`) takes its rules from the benchmark
    notes unless ``changes`` override them; another folder needs ``--routes``, ``--min-stops`` and
    ``--max-stops`` when ``need_rules`` (without, it is read with one route of 2 .. 30 stops, for
    the caller to set the count)."""
    from planning import PlanningFileError, read_cec
    from planning.cec import cec_instance
    from routing.errors import InvalidArgumentError

    path = Path(source)
    if path.suffix.lower() == ".toml":
        if not path.is_file():
            raise PlanningFileError(path, "file not found" if not path.exists() else "not a file")
        from planning.city import load_problem

        return load_problem(path, **changes)
    if not path.exists():
        raise PlanningFileError(path, "not found (give a CEC instance folder or a .toml planning spec)")
    if not path.is_dir():
        raise PlanningFileError(path, "neither a CEC instance folder nor a .toml planning spec")
    if cec_instance(path) is None:
        missing = [RULE_OPTIONS[f] for f in ("num_routes", "min_stops", "max_stops") if f not in changes]
        if missing and need_rules:
            raise InvalidArgumentError(
                missing[0],
                f"not given, and {path.name!r} is not a published instance",
                "give " + ", ".join(missing) + " for this instance",
            )
        changes = {"num_routes": 1, **changes}
    return read_cec(path, **changes)


def _read_routes(path: str | Path, problem: Any) -> Any:
    from planning import read_route_set

    return read_route_set(path, problem)


def problem_and_routes(source: str | Path, routes_path: str | Path, changes: dict[str, Any]) -> tuple[Any, Any]:
    """The problem of SOURCE and the route set of ``routes_path`` on it. A folder that is not a
    published instance, without ``--routes``, is judged at the file's route count (and 2 .. 30
    stops per route unless ``--min-stops``/``--max-stops`` say otherwise)."""
    from planning.cec import cec_instance

    problem = load_source(source, changes, need_rules=False)
    routes = _read_routes(routes_path, problem)
    folder = Path(source)
    if folder.is_dir() and cec_instance(folder) is None and "num_routes" not in changes:
        problem = problem.with_rules(num_routes=len(routes))
    return problem, routes


def dump_json(data: Any) -> str:
    """``data`` as indented JSON with each list of numbers (a route) on one line."""
    text = json.dumps(data, indent=1, default=float)
    return re.sub(r"\[\s+([-\d.,\se+]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object of a route-set file, or ``{}`` for a text route file."""
    text = path.read_text(encoding="utf-8")
    if not text.lstrip().startswith("{"):
        return {}
    data = json.loads(text)  # read_route_set has parsed it already
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------- plan evaluate
def _fmt_pct(share: float) -> str:
    return f"{100 * share:.2f} %"


def evaluation_summary(problem: Any, routes: Any, evaluation: Any, problems: list[str]) -> dict[str, Any]:
    """The JSON of ``plan evaluate``: the problem, the routes (node ids), the evaluation, the check."""
    from planning.routeset import route_set_ids

    return {
        "instance": problem.name,
        "source": problem.source,
        "nodes": problem.num_nodes,
        "total_demand": problem.total_demand,
        "rules": problem.rules.to_dict(),
        "routes": route_set_ids(problem, routes),
        "evaluation": evaluation.to_dict(),
        "feasible": not problems,
        "problems": problems,
        "reference": dict(problem.reference),
    }


def print_evaluation(problem: Any, evaluation: Any, problems: list[str]) -> None:
    """The text of ``plan evaluate``."""
    r = problem.rules
    ev = evaluation
    print(
        f"instance   {problem.name}: {problem.num_nodes} nodes, {problem.total_demand:,.0f} trips/day; rules "
        f"{r.num_routes} routes of {r.min_stops} .. {r.max_stops} stops"
    )
    print(
        f"ATT        {ev.att_min:.4f} min (in vehicle {ev.in_vehicle_min:.4f} min, "
        f"{ev.transfers_per_trip:.4f} transfers per trip, {r.transfer_penalty_min:g} min per transfer)"
    )
    print(
        f"transfers  d0 {_fmt_pct(ev.d0)}  d1 {_fmt_pct(ev.d1)}  d2 {_fmt_pct(ev.d2)}  dun {_fmt_pct(ev.dun)}"
        f"  (no journey: {_fmt_pct(ev.unserved)})"
    )
    print(f"TRT        {ev.trt_min:g} min (sum of the routes' one-way times)")
    ref = problem.reference
    if "best_published_att" in ref or "lower_bound_att" in ref:
        parts = []
        if "best_published_att" in ref:
            parts.append(f"best published ATT {ref['best_published_att']:g}")
        if "lower_bound_att" in ref:
            parts.append(f"lower bound {ref['lower_bound_att']:g}")
        print(f"reference  {', '.join(parts)} min")
    print("route  stops  time min  circuity  overlap")
    for k, (s, t, c, o) in enumerate(zip(ev.num_stops, ev.route_time_min, ev.circuity, ev.overlap, strict=True), 1):
        print(f"{k:>5}  {int(s):>5}  {t:>8g}  {c:>8.3f}  {100 * o:>6.1f} %")
    if problems:
        print(f"check      INFEASIBLE: {len(problems)} problem(s) (independent check)")
        for line in problems[:10]:
            print(f"  - {line}")
    else:
        print("check      feasible (independent check: counts, stops, links, coverage, connected, limits)")


def cmd_plan_evaluate(args: argparse.Namespace) -> int:
    from planning import Evaluator, check_route_set

    h: CliHelpers = args.helpers
    changes = rule_changes(args)
    json_path = h.out_file(Path(args.json), "--json") if args.json else None
    problem, routes = problem_and_routes(args.source, args.routes, changes)
    evaluation = Evaluator(problem).evaluate(routes)
    problems = check_route_set(problem, routes)
    print_evaluation(problem, evaluation, problems)
    if json_path is not None:
        json_path.write_text(dump_json(evaluation_summary(problem, routes, evaluation, problems)))
        print(f"written    {json_path}")
    return 0 if not problems else 1


# ---------------------------------------------------------------------------- plan design
def _progress_bar(desc: str) -> tuple[Any, Callable[[float, str], None]]:
    from tqdm import tqdm

    bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}{postfix}")

    def progress(fraction: float, message: str) -> None:
        done = round(100 * min(max(fraction, 0.0), 1.0), 1)
        bar.n = done
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    return bar, progress


#: ``plan design``'s settings a planning spec's ``[design]`` table may hold, with their options.
DESIGN_KEYS = {
    "mode": "--mode",
    "time_limit_s": "--time-limit",
    "seed": "--seed",
    "max_evaluations": "--max-evaluations",
    "set_cover": "--set-cover",
}
#: ``plan design``'s defaults (those of :class:`planning.search.DesignParams` the command shows).
DESIGN_DEFAULTS: dict[str, Any] = {"mode": "passenger", "time_limit_s": 60.0, "seed": 1}


def spec_design_table(source: str | Path) -> dict[str, Any]:
    """The ``[design]`` table of a ``.toml`` planning spec (``{}`` for a CEC folder or a spec without one)."""
    import tomllib

    from planning import PlanningFileError

    path = Path(source)
    if path.suffix.lower() != ".toml":
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("design", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # load_source has read it, or says what is wrong with it
    if not isinstance(table, dict):
        raise PlanningFileError(path, "[design] must be a table")
    unknown = sorted(set(table) - set(DESIGN_KEYS))
    if unknown:
        raise PlanningFileError(path, f"[design] {unknown[0]}: not a setting (allowed: {', '.join(DESIGN_KEYS)})")
    return dict(table)


def design_params(args: argparse.Namespace, spec: dict[str, Any] | None = None) -> Any:
    """:class:`planning.search.DesignParams` from the options given, else the spec's ``[design]``
    table, else :data:`DESIGN_DEFAULTS`; a bad value names its option or key."""
    from planning.search import DesignParams
    from routing.errors import InvalidArgumentError

    given = {
        "mode": args.mode,
        "time_limit_s": args.time_limit,
        "seed": args.seed,
        "max_evaluations": args.max_evaluations,
        "set_cover": True if args.set_cover else None,
    }
    options = {**DESIGN_DEFAULTS, **(spec or {}), **{k: v for k, v in given.items() if v is not None}}
    try:
        return DesignParams(**options)
    except InvalidArgumentError as exc:
        value = options.get(exc.field)
        if exc.field in (spec or {}) and given.get(exc.field) is None:
            from planning import PlanningFileError

            raise PlanningFileError(
                args.source, f"[design] {exc.field}: got {value!r} (allowed: {exc.allowed})"
            ) from None
        raise InvalidArgumentError(DESIGN_KEYS.get(exc.field, exc.field), f"got {value!r}", exc.allowed) from None


def design_record(problem: Any, result: Any) -> dict[str, Any]:
    """What ``plan design`` writes beside the routes (see the parser's description)."""
    from planning import check_route_set
    from planning.routeset import route_set_ids

    ev = result.evaluation
    p = result.params
    record: dict[str, Any] = {
        "att_min": ev.att_min,
        "trt_min": ev.trt_min,
        "d0": ev.d0,
        "d1": ev.d1,
        "d2": ev.d2,
        "dun": ev.dun,
        "unserved": ev.unserved,
        "problems": check_route_set(problem, result.routes),
        "mode": p.mode,
        "seed": p.seed,
        "time_limit_s": p.time_limit_s,
        "max_evaluations": p.max_evaluations,
        "evaluations": result.evaluations,
        "elapsed_s": round(result.elapsed_s, 3),
        "rules": problem.rules.to_dict(),
        "source": problem.source,
        "reference": dict(problem.reference),
        "history": [[round(t, 3), a, b] for t, a, b in result.history],
    }
    if p.mode == "pareto":
        record["front"] = [
            {"att_min": e.att_min, "trt_min": e.trt_min, "routes": route_set_ids(problem, rs)} for rs, e in result.front
        ]
    return record


def cmd_plan_design(args: argparse.Namespace) -> int:
    h: CliHelpers = args.helpers
    changes = rule_changes(args)
    out = h.out_file(Path(args.out))
    problem = load_source(args.source, changes)
    params = design_params(args, spec_design_table(args.source))

    from planning import write_route_set
    from planning.evaluate import warm_up
    from planning.search import design

    warm_up()
    bar, progress = _progress_bar(f"plan design {problem.name}")
    with bar:
        result = design(problem, params, progress=progress)
    record = design_record(problem, result)
    write_route_set(out, problem, result.routes, **record)
    ev = result.evaluation
    r = problem.rules
    print(
        f"instance   {problem.name}: {problem.num_nodes} nodes, {r.num_routes} routes of "
        f"{r.min_stops} .. {r.max_stops} stops"
    )
    print(
        f"best       ATT {ev.att_min:.4f} min, TRT {ev.trt_min:g} min, d0 {_fmt_pct(ev.d0)} d1 {_fmt_pct(ev.d1)} "
        f"d2 {_fmt_pct(ev.d2)} dun {_fmt_pct(ev.dun)}"
    )
    if "best_published_att" in problem.reference:
        print(f"published  best ATT {problem.reference['best_published_att']:g} min")
    rate = result.evaluations / result.elapsed_s if result.elapsed_s > 0 else math.nan
    print(
        f"search     {params.mode}, seed {params.seed}: {result.evaluations:,} evaluations in {result.elapsed_s:.1f} s "
        f"({rate:,.0f}/s)"
    )
    if params.mode == "pareto":
        print(f"front      {len(result.front)} non-dominated route sets (ATT, TRT) in the file")
    verdict = "feasible" if not record["problems"] else f"INFEASIBLE: {'; '.join(record['problems'][:3])}"
    print(f"check      {verdict} (independent check)")
    print(f"written    {out}")
    return 0 if not record["problems"] else 1


# ---------------------------------------------------------------------------- plan report
#: Without ``--fleet``, ``plan report`` takes the fleet a bus this often on every route would need (minutes).
DEFAULT_HEADWAY_MIN = 10.0


def default_fleet(problem: Any, routes: Any) -> int:
    """The fleet ``plan report`` assumes without ``--fleet``: what a bus every
    :data:`DEFAULT_HEADWAY_MIN` minutes on every route would need (per route its round trip, with
    the layovers of :func:`planning.frequencies.round_trip_min`, over the headway, rounded up).
    :func:`planning.frequencies.set_frequencies` then shares it among the routes by its rule."""
    from planning.frequencies import round_trip_min

    return int(sum(max(1, math.ceil(t / DEFAULT_HEADWAY_MIN - 1e-9)) for t in round_trip_min(problem, routes)))


def _is_gtfs(path: Path) -> bool:
    return path.suffix.lower() == ".zip" or (path.is_dir() and (path / "stops.txt").exists())


#: Names of the OSM files ``--before`` reads the bus lines of (as well as ``osm``: the spec's own).
OSM_SUFFIXES = (".osm", ".pbf", ".osm.bz2", ".osm.gz")


def before_osm_path(source: str | Path, before: str | None) -> Path | None:
    """The OSM file whose bus lines ``--before`` names: the spec's own road file for ``osm``,
    or an OSM XML / PBF file; ``None`` for a route-set file or a GTFS feed."""
    from routing.errors import InvalidArgumentError

    if before is None:
        return None
    if before == "osm":
        if Path(source).suffix.lower() != ".toml":
            raise InvalidArgumentError(
                "--before", "osm: SOURCE is not a city planning spec (.toml) with an OSM file",
                "a route-set file, a GTFS feed or an OSM file",
            )  # fmt: skip
        from planning.city import read_spec

        return Path(read_spec(source)[0]["network"])
    return Path(before) if before.lower().endswith(OSM_SUFFIXES) else None


def cmd_plan_report(args: argparse.Namespace) -> int:
    h: CliHelpers = args.helpers
    out = h.out_dir(Path(args.out))
    changes = rule_changes(args)
    osm_before = before_osm_path(args.source, args.before)
    city = None
    if osm_before is not None and Path(args.source).suffix.lower() == ".toml":
        from planning.city import load_city

        city = load_city(args.source, **changes)  # its stops map the lines' stops by OSM id
        problem, routes = city.problem, _read_routes(args.routes, city.problem)
    else:
        problem, routes = problem_and_routes(args.source, args.routes, changes)

    from planning import Evaluator, check_route_set
    from planning.frequencies import set_frequencies
    from planning.gtfs import write_gtfs
    from planning.plots import plot_front, plot_routes

    before_path = osm_before if osm_before is not None else Path(args.before) if args.before else None
    if before_path is not None and not before_path.exists():
        from planning import PlanningFileError

        raise PlanningFileError(
            before_path, "not found (--before takes a route-set file, a GTFS feed, an OSM file or osm)"
        )
    evaluation = Evaluator(problem).evaluate(routes, loads=True)
    problems = check_route_set(problem, routes)
    fleet = args.fleet if args.fleet is not None else default_fleet(problem, routes)
    freqs = set_frequencies(problem, routes, fleet=fleet, evaluation=evaluation)
    kpi = evaluation_summary(problem, routes, evaluation, problems)
    kpi["fleet_default"] = args.fleet is None
    kpi["frequencies"] = freqs.to_dict()
    written = []
    written.append(
        plot_routes(problem, routes, out / "routes.png", title=f"{problem.name}: route set", frequencies=freqs)
    )
    front = _read_json(Path(args.routes)).get("front")
    if isinstance(front, list) and front:
        points = [(float(p["att_min"]), float(p["trt_min"])) for p in front if isinstance(p, dict)]
        if points:
            written.append(plot_front(points, out / "front.png", title=f"{problem.name}: ATT against TRT"))
    written.append(write_gtfs(out / "gtfs.zip", problem, routes, freqs))
    if before_path is not None:
        from planning.compare import compare_networks

        note = ""
        lines_record: dict[str, Any] = {}
        if osm_before is not None:
            import numpy as np

            from planning.osm_lines import read_osm_bus_lines

            # lines on the same stops are one route of the planning model (their frequencies add)
            lines = read_osm_bus_lines(osm_before, city if city is not None else problem).merge_same_stops()
            before, tagged = lines.routes, np.isfinite(lines.headway_min)
            headways = lines.headway_min if tagged.all() else None
            note = f"Before: {lines.source}; headways " + (
                "as tagged." if headways is not None else
                f"known for {int(tagged.sum())} of its {len(lines)} routes only (every line of a route tagged), so "
                f"both networks share the {fleet} vehicles (the square-root rule)."
            )  # fmt: skip
            lines_record = {"source": lines.source, "dropped": list(lines.dropped), "routes": [
                {"ref": ref, "name": name, "headway_min": None if not math.isfinite(hw) else float(hw),
                 "relations": list(rel)}
                for ref, name, hw, rel in zip(lines.refs, lines.names, lines.headway_min.tolist(), lines.relations,
                                              strict=True)]}  # fmt: skip
        elif _is_gtfs(before_path):
            from planning.gtfs import read_gtfs_routes

            before, headways = read_gtfs_routes(before_path, problem)
        else:
            before, headways = _read_routes(before_path, problem), None
        comparison = compare_networks(problem, before, routes, fleet=fleet, before_headway_min=headways)
        table = comparison.markdown()
        md = out / "before_after.md"
        md.write_text(f"# {problem.name}: before and after\n\n{table}" + (f"\n{note}\n" if note else ""))
        record = comparison.to_dict()
        if lines_record:
            record["before_lines"] = lines_record
        (out / "before_after.json").write_text(dump_json(record))
        kpi["before_after"] = record
        written += [md, out / "before_after.json"]
        written.append(plot_routes(problem, before, out / "before.png", title=f"{problem.name}: before"))
        print(table)
        if note:
            print(note)
    kpi_path = out / "kpi.json"
    kpi_path.write_text(dump_json(kpi))
    written.insert(0, kpi_path)
    print_evaluation(problem, evaluation, problems)
    said = (
        f" (default: what a bus every {DEFAULT_HEADWAY_MIN:g} min on every route needs)" if args.fleet is None else ""
    )
    print(
        f"fleet      {fleet} vehicles{said}; mean headway {freqs.mean_headway_min:.1f} min, mean wait "
        f"{freqs.wait_min_per_trip:.2f} min per trip; ATT {freqs.att_min:.4f} min without waiting, "
        f"{freqs.att_with_wait_min:.4f} min with"
    )
    print("written    " + ", ".join(str(p) for p in written))
    return 0 if not problems else 1


# ---------------------------------------------------------------------------- bench tndp
def _budget(text: str) -> tuple[str, float]:
    name, sep, seconds = text.partition("=")
    try:
        value = float(seconds)
    except ValueError:
        value = math.nan
    if not sep or not name or not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected INSTANCE=SECONDS (e.g. Mandl=60), got {text!r}")
    return name, value


def cmd_bench_tndp(args: argparse.Namespace) -> int:
    from benchmarks.tndp import RESULTS_DIR, run, steps

    h: CliHelpers = args.helpers
    data_dir, out_dir = h.bench_data_and_out(args, RESULTS_DIR)
    options: dict[str, Any] = {
        "data_dir": data_dir,
        "instances": args.instances,
        "seeds": args.seeds,
        "budgets": dict(args.budget or []),
        "quick": args.quick,
        "workers": args.workers,
        "pareto": not args.no_pareto,
    }
    result = h.with_progress("tndp", steps(**options), "step", lambda progress: run(**options, out_dir=out_dir,
                                                                                      progress=progress))  # fmt: skip
    h.publish_bench("tndp", out_dir, args.update_readme)
    if args.update_readme:
        from benchmarks.tndp import update_docs

        if update_docs(out_dir):
            print("updated the re-scoring table of docs/planning.md")
    return 0 if all(not r["problems"] for r in result["runs"]) else 1


# ---------------------------------------------------------------------------- parsers
def _rule_options(p: argparse.ArgumentParser, h: CliHelpers, *, what: str) -> None:
    p.add_argument("--routes", dest="num_routes", type=int, metavar="N", help=f"number of routes ({what})")
    p.add_argument("--min-stops", dest="min_stops", type=int, metavar="A", help=f"fewest stops per route ({what})")
    p.add_argument("--max-stops", dest="max_stops", type=int, metavar="B", help=f"most stops per route ({what})")
    p.add_argument(
        "--max-circuity",
        dest="max_circuity",
        type=h.positive(float),
        metavar="X",
        help="a route's time over the shortest time between its ends may be at most X (>= 1; default: the "
        "source's rule, none for the benchmark)",
    )
    p.add_argument(
        "--max-overlap",
        dest="max_overlap",
        type=float,
        metavar="Y",
        help="share 0 .. 1 of a route's time on links other routes also run (default: the source's rule, 1 = none)",
    )


SOURCE_HELP = (
    "a CEC-2013 instance folder (*TravelTimes.txt, *Demand.txt, *Coords.txt; e.g. ../shared/data/tndp/Mandl) "
    "or a city planning spec (.toml)"
)
ROUTES_HELP = 'route-set file: JSON {"routes": [[1, 2, 3], ...]} or text, one 1-2-3 route per line (node ids)'


def add_commands(
    sub: argparse._SubParsersAction, bsub: argparse._SubParsersAction, helpers: CliHelpers
) -> argparse.ArgumentParser:
    """Add ``plan evaluate|design|report`` to ``sub`` and ``tndp`` to the ``bench`` group ``bsub``;
    returns the ``plan`` group's parser (for its help when no subcommand is given)."""
    h = helpers
    plan = sub.add_parser(
        "plan",
        help="bus network redesign: evaluate, design and report route sets",
        description="Bus network redesign (the transit route network design problem) on the CEC-2013 benchmark "
        "files or a real city: score a route set, search one, and write its report. See docs/planning.md.",
    )
    plan.set_defaults(helpers=h)
    psub = plan.add_subparsers(dest="plan_command", metavar="SUBCOMMAND")

    ev = psub.add_parser(
        "evaluate",
        help="score a route set: ATT, d0 .. dun, TRT, per-route circuity and overlap, the independent check",
        description="Score a route set on a problem: average travel time (ATT, with 5 min per transfer), the "
        "shares of demand with 0, 1, 2 and more transfers or none (d0, d1, d2, dun), total route time (TRT), per "
        "route its stops, time, circuity and overlap, and the independent feasibility check's verdict. Exit status "
        "0 when the route set is feasible, 1 when not, 2 for a bad file or value. A folder that is not a published "
        "instance is checked against the rules given, the route count defaulting to the file's.",
    )
    ev.add_argument("source", help=SOURCE_HELP)
    ev.add_argument("routes", help=ROUTES_HELP)
    ev.add_argument("--json", metavar="FILE", help="also write the evaluation as JSON into FILE")
    _rule_options(ev, h, what="for the check; default: the published instance's rules")
    ev.set_defaults(func=cmd_plan_evaluate, helpers=h)

    de = psub.add_parser(
        "design",
        help="search a route set (passenger-first, or the ATT/TRT Pareto front)",
        description="Search a route set within a time limit or an evaluation budget (when the budget binds first, "
        "the same seed gives the same result on any machine) and write it as JSON: "
        '{"routes": [[1, 2, 3], ...], "instance", '
        '"att_min", "trt_min", "d0" .. "dun", "problems" (the independent check: [] when feasible), '
        '"mode", "seed", "evaluations", "elapsed_s", "rules", "history"} with the node ids of the '
        "source (1-based numbers for the benchmark files, as the published route sets); in pareto mode also "
        '"front": the non-dominated (ATT, TRT) route sets. The rules default to the published instance\'s '
        "(Mandl 6 routes of 2 .. 8 stops, Mumford0 12 of 2 .. 15, Mumford1 15 of 10 .. 30, Mumford3 60 of "
        "12 .. 25) and are required for any other folder; a city spec's [rules] give them. A spec's [design] table may "
        "set mode, time_limit_s, seed and max_evaluations; the options given here win.",
    )
    de.add_argument("source", help=SOURCE_HELP)
    _rule_options(de, h, what="default: the published instance's; required for another folder")
    de.add_argument("--time-limit", type=h.positive(float), metavar="S", help="search time in seconds (default 60)")
    de.add_argument("--seed", type=h.seed, metavar="N", help="random seed (default 1)")
    de.add_argument(
        "--mode",
        choices=("passenger", "pareto"),
        help="passenger: minimise ATT (the benchmark); pareto: NSGA-II over ATT and TRT (default passenger)",
    )
    de.add_argument(
        "--max-evaluations",
        type=h.positive(int),
        metavar="K",
        help="stop after K evaluations: the same seed then gives the same result on any machine, unless the "
        "time limit ends the search first",
    )
    de.add_argument(
        "--set-cover",
        action="store_true",
        help="also start from the set cover's route sets (OR-Tools CP-SAT over candidate routes; up to a quarter "
        "of the time limit, 30 s at most); helps the low-TRT end of a pareto front, not the passenger ATT",
    )
    de.add_argument(
        "--out", default="routes.json", metavar="FILE", help="where to write the route set (default routes.json)"
    )
    de.set_defaults(func=cmd_plan_design, helpers=h)

    rep = psub.add_parser(
        "report",
        help="KPI JSON, route map, GTFS feed and a before/after table for a route set",
        description="Write a route set's report into DIR: kpi.json (the evaluation, the check, headways for the "
        "fleet and the waiting they imply), routes.png (the map), front.png when the routes file has a "
        '"front" (from `plan design --mode pareto`), gtfs.zip (stops, routes, trips, stop_times and '
        "frequencies for the fleet), and with --before the before/after table in Incheon's 2020 form "
        "(before_after.md and .json) and the existing network's map (before.png).",
    )
    rep.add_argument("source", help=SOURCE_HELP)
    rep.add_argument("routes", help=ROUTES_HELP)
    rep.add_argument("--out", required=True, metavar="DIR", help="report folder (created if missing)")
    rep.add_argument(
        "--fleet",
        type=h.positive(int),
        metavar="N",
        help="vehicles to share among the routes by the square-root rule (default: what a bus every 10 minutes "
        "on every route would need, layovers of 5 min at each end included)",
    )
    rep.add_argument(
        "--before",
        metavar="ROUTES|GTFS|OSM|osm",
        help="the existing network to compare with: a route-set file, a GTFS feed (.zip or folder), an OSM file "
        "(.osm, .osm.pbf, ...) whose bus route relations are its lines, or osm: the spec's own OSM file",
    )
    _rule_options(rep, h, what="for the check; default: the published instance's rules")
    rep.set_defaults(func=cmd_plan_report, helpers=h)

    tndp = bsub.add_parser(
        "tndp",
        help="bus network design: the CEC-2013 benchmark (Mandl, Mumford0, 1, 3) against the published results",
        description="Mandl (6 routes of 2 .. 8 stops), Mumford0 (12 of 2 .. 15), Mumford1 (15 of 10 .. 30) and "
        "Mumford3 (60 of 12 .. 25), a fixed time budget per instance on one core per run (Mandl 60 s, Mumford0 "
        "120 s, Mumford1 300 s, Mumford3 600 s), seeds 1 2 3: ATT (best and mean), d0, d1, d2, dun, TRT, "
        "evaluations and evaluations/s, beside the best published passenger-side ATT and the lower bounds; every "
        "route set judged by the independent check; a Pareto-mode run per instance and the hypervolume of its "
        "front against the published fronts; the evaluator's speed; the re-scoring of the published Mandl route "
        "sets. Writes benchmarks/results/tndp.{json,md} and tndp_fronts.png; exit status 1 when a reported route "
        "set is infeasible. Runs go --workers at a time, in processes of one core each.",
    )
    tndp.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of seconds: a few seconds per instance, one seed, no verdict on the targets",
    )
    tndp.add_argument(
        "--instances",
        nargs="+",
        choices=("Mandl", "Mumford0", "Mumford1", "Mumford3"),
        metavar="NAME",
        help="instances to run (default all four; --quick: Mandl)",
    )
    tndp.add_argument(
        "--seeds", type=h.seed, nargs="+", metavar="N", help="seeds per instance (default 1 2 3; --quick: 1)"
    )
    tndp.add_argument(
        "--budget",
        type=_budget,
        nargs="+",
        metavar="INST=SECONDS",
        help="time budget of one run of an instance, e.g. Mandl=30 Mumford3=900",
    )
    tndp.add_argument(
        "--workers",
        type=h.positive(int),
        default=1,
        metavar="N",
        help="runs at a time, each in a process of its own on one core (default 1)",
    )
    tndp.add_argument("--no-pareto", action="store_true", help="skip the Pareto-mode runs (and the hypervolume)")
    tndp.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    tndp.add_argument("--out", metavar="DIR", help="output folder (default benchmarks/results)")
    tndp.add_argument(
        "--update-readme", action="store_true", help="write the table into README.md (and the re-scoring into docs)"
    )
    tndp.set_defaults(func=cmd_bench_tndp, helpers=h)
    return plan
