"""The ``mobility`` command line.

    mobility demo                         build the bundled city network and show how fast it answers
    mobility network build FILE           import an OSM/PBF/GraphML file (cached) and summarise it
    mobility network route FILE --from LAT,LON --to LAT,LON
                                          travel time and path between two points
    mobility solve darp|pdptw FILE        solve a Cordeau DARP or Li & Lim PDPTW instance, check it, write JSON
    mobility solve rideshare DIR --requests N --drivers K --capacity Q
                                          solve a city-scale ride-sharing instance (HGA format), check it, write JSON
    mobility check rideshare DIR SOLUTION.json --requests N --drivers K --capacity Q
                                          judge a ride-sharing solution with the independent checker
    mobility bench paths                  shortest-path benchmark (writes JSON + Markdown)
    mobility bench darp|pdptw             offline solver against OR-Tools / PyVRP (writes JSON + Markdown; --jobs N)
    mobility bench rideshare              ride-sharing on Manhattan beside the published HGA, pruneGDP, FESI
    mobility bench dispatch|sim           dispatcher latency; simulated days against their targets
    mobility bench pooling                shared taxi (I-MOA): batch matching vs immediate insertion on Manhattan
    mobility bench serve                  live engine under load: bookings/s, latency, stream delay
    mobility simulate SCENARIO [--set KEY=VALUE] [--replications N]
                                          a simulated service day (or N seeds with 95 % intervals)
    mobility sweep SCENARIO --grid KEY=V1,V2,...
                                          every combination of settings, in parallel on Ray; table and plots
    mobility compare RUN_A RUN_B          KPI differences of two run folders, with comparison plots
    mobility bench modes                  free routing vs semi-fixed route vs fixed line on the same demand
    mobility plan evaluate|design|report  bus network redesign: score, search and report route sets
    mobility bench tndp                   network design on the CEC-2013 benchmark against the published results
    mobility traffic SCENARIO [--hours 7-10] [--peak-vph N] [--calibrate] --out DIR
                                          background traffic in SUMO by hour, beside the BPR profile
    mobility dashboard --engine HOST:PORT | --run DIR
                                          the operators' web page: live map of the fleet, or a day's replay

Every command has ``--help``, and every ``bench`` command ``--quick`` (a smoke test that judges
no target it did not measure at its size). Errors in the input are reported as one line naming
the file, the field or the option, with exit status 2, before any work: seeds are whole
numbers 0 .. 2**31 - 1 on every command, and ``--out`` is checked (writable, a folder or a file
as the command needs) before a run whose results it would lose.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from engine import (
    DEFAULT_MAX_MESSAGE_KB,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_REOPTIMISE_ITERATIONS,
    DEFAULT_MAX_REOPTIMISE_MS,
    DEFAULT_MAX_STREAMS,
    DEFAULT_MAX_STREAMS_PER_CALLER,
    DEFAULT_MAX_STREAMS_PER_CONNECTION,
    DEFAULT_MAX_STREAMS_PER_PEER,
    DEFAULT_WRITER_NICE,
    MAX_FRONTENDS,
)

from . import REPO_ROOT, __version__, bundled_city_osm, bundled_scenario_names, default_data_dir, scenario_path
from .crosscheck_cli import add_commands as add_crosscheck_commands
from .emergency_cli import add_commands as add_emergency_commands
from .plan_cli import CliHelpers
from .plan_cli import add_commands as add_plan_commands
from .rideshare_cli import add_commands as add_rideshare_commands
from .traffic_cli import add_commands as add_traffic_commands

T = TypeVar("T")


#: Seeds are whole numbers in this range, on every command (as ``seed`` in a scenario file).
MAX_SEED = 2**31 - 1


class CommandError(Exception):
    """A bad command-line value found after parsing (an ``--out`` that cannot be written, ...).

    ``main`` prints it as one ``mobility: error:`` line and exits with status 2.
    """


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _lat_lon(text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        return float(lat_s), float(lon_s)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LAT,LON (e.g. 37.5133,127.1001), got {text!r}") from exc


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
        return value

    return parse


def _seed(text: str) -> int:
    """A seed: a whole number 0 .. :data:`MAX_SEED` (the rule of every ``--seed`` and ``--seeds``)."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number 0 .. {MAX_SEED}, got {text!r}") from exc
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a whole number 0 .. {MAX_SEED}, got {text}")
    return value


def _jobs(text: str) -> int:
    """``--jobs``: worker processes, a whole number 1 .. 64."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number 1 .. 64, got {text!r}") from exc
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be a whole number 1 .. 64, got {text}")
    return value


def _out_dir(path: Path, option: str = "--out") -> Path:
    """Check, before any work, that the folder ``path`` can take the results: created if missing.

    A run that only finds out at its end that its folder cannot be written loses its results;
    this creates the folder and a throw-away file in it, so that every reason (an existing
    file of that name, a parent that is a file, no permission, a read-only file system) shows
    up at once.
    """
    if path.exists() and not path.is_dir():
        raise CommandError(f"{option}: {path} is a file, not a folder (give a folder for the results)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise CommandError(f"{option}: cannot write into the folder {path} ({exc.strerror or exc})") from exc
    return path


def _out_file(path: Path, option: str = "--out") -> Path:
    """Check, before any work, that the file ``path`` can be written (an existing file is replaced later)."""
    if path.is_dir():
        raise CommandError(f"{option}: {path} is a folder, not a file")
    existed = path.exists()
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        raise CommandError(f"{option}: cannot write the file {path} ({exc.strerror or exc})") from exc
    if not existed:
        path.unlink()
    return path


def _setting_argument(parse: Callable[[str], T], text: str) -> T:
    """``parse(text)`` with its ConfigError as argparse's error (the message and what is allowed)."""
    from matching.deployment import ConfigError

    try:
        return parse(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message}" + (f" ({exc.allowed})" if exc.allowed else "")) from exc


def _assignment(text: str) -> tuple[str, Any]:
    """``--set KEY=VALUE`` (:func:`sim.overrides.parse_assignment`)."""
    from sim.overrides import parse_assignment

    return _setting_argument(parse_assignment, text)


def _grid(text: str) -> tuple[str, list[Any]]:
    """``--grid KEY=V1,V2,...`` (:func:`sim.overrides.parse_grid`)."""
    from sim.overrides import parse_grid

    return _setting_argument(parse_grid, text)


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected names separated by commas (e.g. a2-16,a3-24), got {text!r}")
    return names


# ---------------------------------------------------------------------------- network
def _is_benchmark_graph(path: Path) -> bool:
    return path.suffix in (".xy", ".d") or (path.is_dir() and any(path.glob("*.xy")))


def _load(args: argparse.Namespace) -> Any:
    from routing import MANHATTAN_COORD_UNIT_M, MANHATTAN_TIME_UNIT_S, BuildOptions, load_network, read_manhattan

    units = {"coord_unit_m": args.coord_unit_m, "time_unit_s": args.time_unit_s}
    if _is_benchmark_graph(Path(args.file)):
        t0 = time.perf_counter()
        net = read_manhattan(
            args.file,
            coord_unit_m=MANHATTAN_COORD_UNIT_M if args.coord_unit_m is None else args.coord_unit_m,
            time_unit_s=MANHATTAN_TIME_UNIT_S if args.time_unit_s is None else args.time_unit_s,
        )
        return net, time.perf_counter() - t0
    for name, value in units.items():
        if value is not None:
            option = "--" + name.replace("_", "-")
            raise CommandError(f"{option}: only benchmark graphs (.xy + .d) have units to set; {args.file} is not one")
    options = BuildOptions.from_toml(args.options) if args.options else BuildOptions()
    t0 = time.perf_counter()
    net = load_network(
        args.file,
        options=options,
        cache=not args.no_cache,
        cache_dir=args.cache_dir,
        on_stage=_stderr if not args.quiet else None,
    )
    return net, time.perf_counter() - t0


def cmd_network_build(args: argparse.Namespace) -> int:
    import numpy as np

    from routing import Router, speed_warning, virtual_stops

    net, load_s = _load(args)
    t0 = time.perf_counter()
    router = Router.from_network(net, cache=not args.no_cache, cache_dir=args.cache_dir)
    ch_s = time.perf_counter() - t0
    stops = virtual_stops(net, spacing_m=args.stop_spacing)
    summary: dict[str, Any] = net.summary()
    summary["load_s"] = round(load_s, 3)
    summary["from_cache"] = bool(net.meta.get("from_cache"))
    summary["cache_path"] = net.meta.get("cache_path")
    summary["ch"] = {
        "shortcuts": router.ch.num_shortcuts,
        "seconds": round(ch_s, 3),
        "from_cache": bool(router.ch.meta.get("from_cache")),
    }
    summary["stops"] = {"count": len(stops), "from_osm": stops.num_osm, "spacing_m": args.stop_spacing}
    if net.meta.get("format") == "xy+d":
        summary["units"] = {"coord_unit_m": net.meta["coord_unit_m"], "time_unit_s": net.meta["time_unit_s"]}
    summary["speed_warning"] = speed_warning(net)
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, net.num_nodes, size=(1000, 2))
    router.travel_time(int(pairs[0, 0]), int(pairs[0, 1]))
    lat = []
    for s, t in pairs.tolist():
        q0 = time.perf_counter()
        router.travel_time(s, t)
        lat.append(time.perf_counter() - q0)
    summary["query_p50_us"] = round(float(np.percentile(lat, 50)) * 1e6, 1)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0


def _print_summary(s: dict[str, Any]) -> None:
    print(f"network      {s['name']}  ({s['crs']})")
    print(f"size         {s['nodes']:,} nodes, {s['edges']:,} directed edges, {s['road_km']:,} km of road")
    if "nodes_before_scc" in s:
        print(f"             largest strongly connected part of {s['nodes_before_scc']:,} nodes")
    classes = ", ".join(f"{k} {v:g}" for k, v in sorted(s["road_km_by_class"].items(), key=lambda kv: -kv[1]))
    print(f"road km      {classes}")
    print(f"mean speed   {s['mean_speed_kph']} km/h (free flow)")
    if "units" in s:
        u = s["units"]
        print(f"units        {u['coord_unit_m']:.10g} m per coordinate unit, {u['time_unit_s']:.10g} s per time unit")
    if "bbox" in s:
        b = s["bbox"]
        print(f"extent       {b['south']}..{b['north']} N, {b['west']}..{b['east']} E")
    if "stops" in s:
        st = s["stops"]
        print(f"stops        {st['count']} ({st['from_osm']} from OSM bus stops), about {st['spacing_m']:g} m apart")
    if s["from_cache"]:
        print(f"loaded       from the cache in {s['load_s'] * 1000:.0f} ms ({s['cache_path']})")
    else:
        cached = f", cached at {s['cache_path']}" if s["cache_path"] else ""
        print(f"built        from the file in {s['load_s'] * 1000:.0f} ms{cached}")
    if "reload_s" in s:
        print(f"             a second load reads the cache in {s['reload_s'] * 1000:.1f} ms")
    ch = s["ch"]
    how = "loaded from the cache" if ch["from_cache"] else "built"
    print(f"hierarchy    {ch['shortcuts']:,} shortcuts, {how} in {ch['seconds'] * 1000:.0f} ms")
    print(f"queries      one-to-one travel time p50 {s['query_p50_us']} µs")


def cmd_network_route(args: argparse.Namespace) -> int:
    from routing import Router, snap

    net, _ = _load(args)
    router = Router.from_network(net, cache=not args.no_cache, cache_dir=args.cache_dir)
    a, da = snap(net, *args.origin, max_distance_m=args.max_snap)
    b, db = snap(net, *args.destination, max_distance_m=args.max_snap)
    path = router.path(a, b)
    out = {
        "from_node": a,
        "from_snap_m": round(da, 1),
        "to_node": b,
        "to_snap_m": round(db, 1),
        "travel_time_s": path.travel_time_s,
        "length_m": path.length_m,
        "edges": int(path.edges.size),
        "path_lat_lon": [[round(float(net.lat[v]), 6), round(float(net.lon[v]), 6)] for v in path.nodes],
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"from node {a} ({da:.0f} m from the point) to node {b} ({db:.0f} m)")
        print(
            f"travel time {path.travel_time_s // 60} min {path.travel_time_s % 60} s, "
            f"{path.length_m / 1000:.2f} km over {path.edges.size} edges"
        )
    return 0


# ---------------------------------------------------------------------------- demo
def cmd_network_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from routing import Router, load_network, virtual_stops, warm_up

    osm = Path(args.osm) if args.osm else bundled_city_osm(Path(args.data_dir) if args.data_dir else None)
    print("mobility demo: the bundled city network and how fast it answers")
    print(f"  map: {osm}")
    compile_s = warm_up()
    print(f"  compiled kernels ready in {compile_s:.1f} s (first run on a machine compiles; later runs use the cache)")
    t0 = time.perf_counter()
    net = load_network(osm, cache_dir=args.cache_dir)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    load_network(osm, cache_dir=args.cache_dir)
    reload_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    router = Router.from_network(net, cache_dir=args.cache_dir)
    ch_s = time.perf_counter() - t0
    stops = virtual_stops(net, spacing_m=300.0)
    s = net.summary()
    s.update(
        load_s=round(load_s, 3),
        reload_s=reload_s,
        from_cache=bool(net.meta.get("from_cache")),
        cache_path=net.meta.get("cache_path"),
        ch={
            "shortcuts": router.ch.num_shortcuts,
            "seconds": ch_s,
            "from_cache": bool(router.ch.meta.get("from_cache")),
        },
        stops={"count": len(stops), "from_osm": stops.num_osm, "spacing_m": 300},
    )
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, net.num_nodes, size=(2000, 2))
    router.travel_time(0, 1)
    lat = []
    for a, b in pairs.tolist():
        q0 = time.perf_counter()
        router.travel_time(a, b)
        lat.append(time.perf_counter() - q0)
    s["query_p50_us"] = round(float(np.percentile(lat, 50)) * 1e6, 1)
    print()
    _print_summary(s)
    k = len(stops)
    router.matrix(stops.node[:2], stops.node[:2])
    t0 = time.perf_counter()
    mat = router.matrix(stops.node, stops.node)
    mat_s = time.perf_counter() - t0
    print(
        f"matrix       stop-to-stop travel times {k} x {k} in {mat_s * 1000:.1f} ms; "
        f"median {int(np.median(mat)) // 60} min, longest {int(mat.max()) // 60} min"
    )
    a, b = int(stops.node[0]), int(stops.node[-1])
    path = router.path(a, b)
    print(
        f"example      first stop (node {a}) -> last stop (node {b}): "
        f"{path.travel_time_s // 60} min {path.travel_time_s % 60} s, "
        f"{path.length_m / 1000:.2f} km, {path.edges.size} road segments"
    )
    print()
    print("Next: `make test` runs the test suite; `make bench` measures against scipy and networkx.")
    return 0


# ---------------------------------------------------------------------------- solve
def cmd_solve(args: argparse.Namespace) -> int:
    from routing.checker import check_solution
    from routing.solve import MaxIterations, MaxRuntime, solve
    from routing.warm import warm_up_solver

    problem = _read_instance(Path(args.file), args.kind)
    path = _out_file(Path(args.out))
    warm = warm_up_solver()
    stop = MaxIterations(args.iterations) if args.iterations is not None else MaxRuntime(args.time_limit)
    result = solve(problem, stop=stop, seed=args.seed)
    # One route per used vehicle: the fleets of both formats are identical vehicles, so the
    # checker judges the routes as vehicles 0, 1, ... exactly as the solver placed them.
    routes = [[int(node) for node in route] for route in result.routes if route]
    report = check_solution(problem, routes)
    out = {
        "instance": problem.name,
        "routes": routes,
        "cost": report.cost,
        "num_vehicles": report.num_vehicles,
        "feasible": report.feasible,
        "runtime_s": round(result.runtime_s, 3),
        "seed": args.seed,
        "time_limit_s": None if args.iterations is not None else args.time_limit,
        "iterations": result.iterations,
        "unassigned": [[int(problem.pickup[r]), int(problem.delivery[r])] for r in result.unassigned],
    }
    try:
        path.write_text(_solution_json(out))
    except OSError as exc:
        _stderr(f"mobility: error: {path}: cannot write the solution ({exc.strerror or exc})")
        return 2
    _print_solve_summary(problem, out, report.violations, warm)
    print(f"written      {path}")
    return 0 if report.feasible else 1


def _read_instance(path: Path, kind: str) -> Any:
    """The instance; a file of the other format gets a hint naming the right subcommand."""
    from routing.errors import NetworkFileError
    from routing.instances import read_instance

    try:
        return read_instance(path, kind)
    except NetworkFileError as exc:
        other = "pdptw" if kind == "darp" else "darp"
        try:
            read_instance(path, other)
        except Exception:
            raise exc from None
        raise NetworkFileError(
            path, f"{exc.reason}; it reads as a {other} instance: try `mobility solve {other}`"
        ) from None


def _solution_json(out: dict[str, Any]) -> str:
    """The solution as JSON, one line per route."""
    lines = []
    for key, value in out.items():
        if key in ("routes", "unassigned") and value:
            inner = ",\n".join(f"    {json.dumps(item)}" for item in value)
            lines.append(f'  "{key}": [\n{inner}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _pct(value: float) -> str:
    return f"{round(value, 2) + 0.0:.2f}%"


def _print_solve_summary(problem: Any, out: dict[str, Any], violations: list[str], warm: dict[str, Any]) -> None:
    verdict = "feasible" if out["feasible"] else f"INFEASIBLE ({len(violations)} violations)"
    print(
        f"instance     {problem.name}: {problem.num_requests} requests, {problem.num_vehicles} vehicles available "
        f"({problem.meta.get('format', '?')})"
    )
    print(f"solution     cost {out['cost']:,.2f} with {out['num_vehicles']} vehicles, {verdict} (independent checker)")
    bks, bks_vehicles, bks_distance = (problem.meta.get(k) for k in ("bks", "bks_vehicles", "bks_distance"))
    if bks:
        print(f"best known   {bks:,.2f} (gap {_pct(100 * (out['cost'] / bks - 1))})")
    elif bks_vehicles is not None and bks_distance:
        same = out["num_vehicles"] == bks_vehicles
        gap = f", distance gap {_pct(100 * (out['cost'] / bks_distance - 1))}" if same else ""
        print(f"best known   {bks_vehicles} vehicles, distance {bks_distance:,.2f}{gap}")
    how = (
        f"{out['iterations']:,} iterations"
        if out["time_limit_s"] is None
        else f"{out['time_limit_s']:g} s limit, {out['iterations']:,} iterations"
    )
    state = "compiled" if warm["compiled"] else "loaded from the cache"
    print(f"search       {how} in {out['runtime_s']:.2f} s, seed {out['seed']}")
    print(f"kernels      {state} in {warm['seconds']:.1f} s (before the search)")
    for line in violations[:5]:
        _stderr(f"violation: {line}")


# ---------------------------------------------------------------------------- simulation


def cmd_simulate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim.kpi import compute_kpis
    from sim.report import format_summary, write_report
    from sim.scenario import TaxiScenario, load_scenario
    from sim.simulator import Simulation

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    sets = list(getattr(args, "sets", None) or [])
    if getattr(args, "traffic", None):  # --traffic MODEL is --set traffic.model=MODEL
        sets.append(("traffic.model", args.traffic))
    scenario = load_scenario(scenario_path(args.scenario), data_dir=data_dir, overrides=sets)
    client_options = ("token_file", "tls_ca", "tls", "tls_cert", "tls_key")
    if not args.engine and (given := [o for o in client_options if getattr(args, o, None)]):
        _stderr(f"mobility: error: --{given[0].replace('_', '-')} is for an engine: give --engine HOST:PORT too")
        return 2
    replications = getattr(args, "replications", 1) or 1
    if replications == 1 and (getattr(args, "workers", 1) != 1 or getattr(args, "ray_address", None)):
        option = "--workers" if getattr(args, "workers", 1) != 1 else "--ray-address"
        _stderr(f"mobility: error: {option} runs replications in parallel: give --replications N (N > 1) too")
        return 2
    if replications > 1:
        if getattr(args, "gui", False):
            _stderr("mobility: error: --gui shows one run: not with --replications")
            return 2
        if args.engine:
            _stderr("mobility: error: --replications: the runs are simulated in this process, not against --engine")
            return 2
        return _simulate_replications(args, scenario, sets, data_dir)
    if isinstance(scenario, TaxiScenario):
        return _simulate_shared_taxi(args, scenario)
    if getattr(args, "immediate", False):
        _stderr('mobility: error: --immediate is for shared-taxi scenarios ([service] kind = "shared_taxi")')
        return 2
    remote = None
    mismatch: tuple[type[Exception], ...] = ()  # what a run against an engine may end with
    if args.engine:
        from sim.remote import EngineMismatch

        mismatch = (EngineMismatch,)
        checked = _checked_engine(args)
        if checked is None:
            return 2
        remote = checked[0]
    # checked after the engine, so that --out is not made for a run that cannot start
    out_dir = _out_dir(Path(args.out) if args.out else Path("runs") / scenario.name)
    print(f"simulating {scenario.name}: {scenario.description}", flush=True)
    if getattr(args, "gui", False):
        if scenario.traffic.model != "sumo":
            _stderr('mobility: error: --gui shows SUMO: give --traffic sumo (or [traffic] model = "sumo") too')
            return 2
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            _stderr("mobility: error: --gui needs a display (DISPLAY is not set); run without it")
            return 2
    sim = Simulation(scenario, seed=args.seed, gui=getattr(args, "gui", False))
    if remote is not None:
        sim.setup(backend_factory=lambda _dispatcher: remote)
        try:
            remote.check_fleet(sim.fleet)
        except EngineMismatch as exc:
            _stderr(f"mobility: error: --engine: {exc}")
            return 2
        print(f"playing riders and drivers against the engine at {args.engine}", flush=True)
    else:
        sim.setup()
    with tqdm(total=len(sim.demand), desc=scenario.name, unit="request", file=sys.stderr, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        sim.progress = progress
        try:
            output = sim.run()
        except mismatch as exc:  # another client's rides on the engine (sim.remote.EngineMismatch)
            bar.close()
            _stderr(f"mobility: error: --engine: {exc}")
            return 2
    if sets:
        output.meta["overrides"] = dict(sets)
    files = write_report(output, out_dir, plots=not args.no_plots)
    print(format_summary(compute_kpis(output)))
    for extra in output.extras.values():
        for line in extra.summary_lines():
            print(line)
    print(f"timings: setup {output.timings.get('setup_s', 0):.1f} s, run {output.timings.get('run_s', 0):.1f} s")
    _print_report(out_dir, files)
    return 0


def _print_report(out_dir: Path, files: dict[str, Path]) -> None:
    """The ``report:`` line of a simulated day (its folder and files) and how to watch the day in
    the dashboard (a day with coordinates only: a benchmark graph's day has no map to replay on)."""
    print(f"report:  {out_dir}/ ({', '.join(sorted(p.name for p in files.values()))})")
    if any(p.name == "tracks.geojson" for p in files.values()):
        print(f"replay:  mobility dashboard --run {out_dir}   (then open the address it prints in a browser)")


# ------------------------------------------------------------------ fleet-plan (fleet by time of day)
def _whole_numbers(text: str) -> list[int]:
    """``8,12,16`` or a range ``4-10`` (both ends included): whole numbers >= 1."""
    try:
        if "-" in text and "," not in text:
            lo, hi = (int(x) for x in text.split("-"))
            values = list(range(lo, hi + 1))
        else:
            values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected whole numbers such as 8,12,16 or 4-10, got {text!r}") from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 1 such as 8,12,16 or 4-10, got {text!r}")
    return values


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a share 0 .. 1, got {text!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share 0 .. 1, got {text}")
    return value


def cmd_fleet_plan(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim.fleet_plan import ServiceTarget, format_plan, plan_fleet, write_plan
    from sim.scenario import TaxiScenario, load_scenario

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    scenario = load_scenario(scenario_path(args.scenario), data_dir=data_dir)
    if isinstance(scenario, TaxiScenario):
        _stderr("mobility: error: fleet-plan plans I-MOD fleets; this is a shared-taxi scenario")
        return 2
    seeds = args.seeds if args.seeds is not None else [scenario.seed, scenario.seed + 1]
    target = ServiceTarget(served=args.served, p90_wait_s=args.p90_wait_min * 60)
    out_dir = _out_dir(Path(args.out) if args.out else Path("runs") / f"{scenario.name}_fleet_plan")
    print(f"planning the fleet of {scenario.name} for {target.describe()} in every hour", flush=True)
    with tqdm(desc="simulated days", unit="day", file=sys.stderr, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = plan_fleet(scenario, target, sizes=args.sizes, seeds=seeds, lengths=args.lengths,
                            rounds=args.rounds, max_vehicles=args.max_vehicles, workers=args.jobs,
                            progress=progress)  # fmt: skip
    for line in format_plan(result):
        print(line)
    files = write_plan(result, out_dir, plots=not args.no_plots)
    t = result.timings
    print(f"timings: flat fleets {t.get('flat_s', 0):.1f} s, shifts and checks {t.get('rounds_s', 0):.1f} s")
    print(f"plan:    {out_dir}/ ({', '.join(sorted(p.name for p in files.values()))})")
    return 0


def _add_fleet_plan_parser(sub: Any) -> None:
    fp = sub.add_parser(
        "fleet-plan",
        help="vehicles needed per hour for a service target, shifts that cover them, checked by simulation",
        description="Fleet by time of day for an I-MOD scenario. (1) Simulate the day with flat fleets of "
        "--sizes vehicles (on --seeds, pooled) and read, for each hour of requested time, the smallest fleet "
        "that meets the target (--served share of requests accepted, p90 wait <= --p90-wait-min) with every "
        "larger one meeting it too. (2) Plan shifts on the hour of --lengths hours with OR-Tools CP-SAT: "
        "fewest vehicle-hours, then fewest vehicles, with vehicles on duty >= that need every hour. (3) "
        "Simulate the shifts on the same seeds; an hour that misses the target gets one more vehicle and the "
        "shifts are planned again (at most --rounds plans). Prints the need, the shifts and a table of the "
        "flat fleet against the shifts; writes fleet_plan.toml (a [fleet] shifts table for a scenario), "
        "fleet_plan.md, fleet_plan.json and fleet_plan.png into --out. See docs/fleet-plan.md.",
    )
    fp.add_argument("scenario", help="scenario file (.toml) or bundled scenario name")
    fp.add_argument(
        "--served",
        type=_share,
        default=0.95,
        metavar="SHARE",
        help="share of each hour's requests the dispatcher must accept (default 0.95)",
    )
    fp.add_argument(
        "--p90-wait-min",
        type=_positive(float),
        default=15.0,
        metavar="MIN",
        help="90th percentile of each hour's waits, at most (minutes, default 15)",
    )
    fp.add_argument(
        "--sizes",
        type=_whole_numbers,
        metavar="N,N,..",
        help="flat fleet sizes to simulate (default: from 5/4 of the scenario's fleet down by factors of 1.5 to 1)",
    )
    fp.add_argument(
        "--seeds",
        type=_seed,
        nargs="+",
        metavar="N",
        help="seeds of the simulated days (default: the scenario's seed and the next)",
    )
    fp.add_argument(
        "--lengths",
        type=_whole_numbers,
        default=list(range(4, 11)),
        metavar="L-L",
        help="allowed shift lengths in hours, e.g. 4-10 (default) or 4,6,8",
    )
    fp.add_argument(
        "--rounds",
        type=int,
        default=5,
        choices=range(1, 21),
        metavar="N",
        help="at most this many plans are simulated, 1 .. 20 (default 5)",
    )
    fp.add_argument("--max-vehicles", type=_positive(int), metavar="N", help="at most this many shifts")
    fp.add_argument(
        "--jobs",
        type=_positive(int),
        default=1,
        metavar="N",
        help="simulate N days at once on a local Ray cluster (default 1: in this process)",
    )
    fp.add_argument("--out", metavar="DIR", help="output folder (default runs/<scenario name>_fleet_plan)")
    fp.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    fp.add_argument("--no-plots", action="store_true", help="skip fleet_plan.png")
    fp.set_defaults(func=cmd_fleet_plan)


def _client_credentials(
    token_file: str | None, token: str | None, tls: bool, ca: str | None, cert: str | None, key: str | None
) -> tuple[str | None, Any]:
    """The bearer token (read from ``token_file`` if given) and the :class:`proto.client.ClientTLS`
    (None unless ``tls`` or one of the files is given) of an engine client's options; ValueError
    (proto.client's) for a file that cannot be used."""
    from proto.client import ClientTLS, read_token_file

    token = read_token_file(Path(token_file)) if token_file else token
    if not (tls or ca or cert or key):
        return token, None
    return token, ClientTLS.from_files(*(Path(f) if f else None for f in (ca, cert, key)))


def _checked_engine(args: argparse.Namespace) -> tuple[Any, str | None, Any] | None:
    """A client of the engine at ``--engine`` (:class:`sim.remote.RemoteBackend`) that reached it
    with the token and TLS options, and those; None after one line on stderr when the engine is
    unreachable or refuses the token. Checked before a run: nothing is lost if it is not there."""
    from sim.remote import EngineRefused, EngineUnreachable, RemoteBackend

    token, tls = _client_credentials(args.token_file, args.token, args.tls, args.tls_ca, args.tls_cert, args.tls_key)
    remote = RemoteBackend(args.engine, token=token, tls=tls)
    try:
        remote.check_engine()
    except (EngineUnreachable, EngineRefused) as exc:
        remote.close()
        _stderr(f"mobility: error: --engine: {exc}")
        return None
    return remote, token, tls


def _simulate_shared_taxi(args: argparse.Namespace, scenario: Any) -> int:
    """``mobility simulate`` of a shared-taxi scenario (:class:`sim.scenario.TaxiScenario`), in
    process or, with ``--engine``, against a live engine (:class:`sim.taxi_remote.RemoteTaxiBackend`)."""
    from tqdm import tqdm

    from sim.taxi import keep_paths, run_taxi_scenario
    from sim.taxi_kpi import format_taxi_summary, taxi_kpis, write_taxi_report

    factory = None
    mismatch: tuple[type[Exception], ...] = ()  # what a run against an engine may end with
    if args.engine:
        from sim.remote import EngineMismatch
        from sim.taxi_remote import RemoteTaxiBackend

        mismatch = (EngineMismatch,)

        if args.immediate:
            _stderr("mobility: error: --immediate: against an engine, its scenario says how it assigns (batch = false)")
            return 2
        checked = _checked_engine(args)
        if checked is None:
            return 2
        probe, token, tls = checked
        probe.close()

        def factory(router: Any) -> RemoteTaxiBackend:
            return RemoteTaxiBackend(args.engine, router, scenario.pooling, token=token, tls=tls)

    # checked after the engine, so that --out is not made for a run that cannot start
    out_dir = _out_dir(Path(args.out) if args.out else Path("runs") / scenario.name)
    mode = "immediate insertion" if args.immediate else f"batches every {scenario.pooling.batch_s} s"
    print(f"simulating {scenario.name} ({mode}): {scenario.description}", flush=True)
    if args.engine:
        print(f"playing riders and drivers against the engine at {args.engine}", flush=True)
    with tqdm(total=scenario.demand.total, desc=scenario.name, unit="request", file=sys.stderr, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            output = run_taxi_scenario(
                scenario,
                seed=args.seed,
                batch=not args.immediate,
                record_paths=keep_paths(scenario),  # tracks.geojson, map.png
                progress=progress,
                backend_factory=factory,
            )
        except mismatch as exc:
            _stderr(f"mobility: error: --engine: {exc}")
            return 2
    meta: dict[str, Any] = {"scenario": str(scenario.source), "seed": scenario.seed if args.seed is None else args.seed}
    if getattr(args, "sets", None):
        meta["overrides"] = dict(args.sets)
    files = write_taxi_report(output, out_dir, meta=meta, plots=not args.no_plots)
    print(format_taxi_summary(taxi_kpis(output)))
    t = output.timings
    print(
        f"timings: kernels {t.get('warm_up_s', 0):.1f} s, network {t.get('world_s', 0):.1f} s, "
        f"setup {t.get('setup_s', 0):.1f} s, run {t['run_s']:.1f} s"
    )
    _print_report(out_dir, files)
    return 0


def _simulate_replications(args: argparse.Namespace, scenario: Any, sets: list[tuple[str, Any]], data_dir: Path) -> int:
    """``mobility simulate --replications N``: N seeds, ``OUT/rep<k>/`` each, the KPIs' means and
    95 % intervals in ``OUT/replications.md`` and ``.json`` (:func:`sim.sweep.run_replications`)."""
    from sim.sweep import check_ray_address, replication_table, run_replications

    if getattr(args, "immediate", False):
        _stderr("mobility: error: --immediate: replications run the scenario's own assignment (batches)")
        return 2
    seed = scenario.seed if args.seed is None else args.seed
    if seed + args.replications - 1 > MAX_SEED:
        raise CommandError(f"--replications: seeds {seed} .. {seed + args.replications - 1} pass {MAX_SEED}")
    if args.ray_address:
        check_ray_address(args.ray_address)  # before --out is made; Ray itself would retry for minutes
    out_dir = _out_dir(Path(args.out) if args.out else Path("runs") / scenario.name)
    where = f"on Ray, {args.workers} workers" if args.workers > 1 or args.ray_address else "one after the other"
    print(f"simulating {scenario.name}: {args.replications} seeds from {seed} ({where})", flush=True)
    t0 = time.perf_counter()
    summary = run_replications(
        scenario_path(args.scenario),
        out_dir,
        replications=args.replications,
        seed=seed,
        overrides=sets,
        data_dir=data_dir,
        plots=not args.no_plots,
        workers=args.workers,
        ray_address=args.ray_address,
    )
    print(replication_table(summary.kpis, currency=summary.currency))
    print("mean over the seeds; 95 % confidence interval by Student's t (n - 1 degrees of freedom)")
    for task, result in summary.failed:
        _stderr(f"mobility: run with seed {task.seed} failed: {result.error}")
    print(f"time:    {time.perf_counter() - t0:.1f} s for {args.replications} runs")
    print(f"report:  {out_dir}/ (replications.md, replications.json, rep0 .. rep{args.replications - 1})")
    return 1 if summary.failed else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """``mobility sweep``: every combination of the ``--grid`` values (:func:`sim.sweep.run_sweep`)."""
    from sim.scenario import load_scenario
    from sim.sweep import check_ray_address, grid_combinations, run_sweep

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    sets = list(args.sets or [])
    keys = [key for key, _ in args.grid]
    if len(set(keys)) != len(keys):
        raise CommandError(f"--grid: the key {next(k for k in keys if keys.count(k) > 1)} is swept twice")
    if clash := [key for key, _ in sets if key in keys]:
        raise CommandError(f"--set: {clash[0]} is also swept by --grid; give it in one of them")
    path = scenario_path(args.scenario)
    # each combination is checked with the --set settings and its own grid values applied together
    # (the --set settings alone may be incomplete, e.g. demand.kind=trips with the paths swept);
    # a bad value stops the sweep before --out is made
    scenarios = [load_scenario(path, data_dir=data_dir, overrides=[*sets, *c]) for c in grid_combinations(args.grid)]
    scenario = scenarios[0]
    if args.ray_address:
        check_ray_address(args.ray_address)
    seed = max(s.seed for s in scenarios) if args.seed is None else args.seed
    if seed + args.replications - 1 > MAX_SEED:
        raise CommandError(f"--replications: seeds {seed} .. {seed + args.replications - 1} pass {MAX_SEED}")
    out_dir = _out_dir(Path(args.out) if args.out else Path("runs") / f"{scenario.name}_sweep")
    workers = args.workers or os.cpu_count() or 1
    combos = 1
    for _, values in args.grid:
        combos *= len(values)
    where = f"the Ray cluster at {args.ray_address}" if args.ray_address else f"{workers} worker(s)"
    runs = f"{combos} combinations x {args.replications} seeds = {combos * args.replications} runs"
    print(f"sweeping {scenario.name}: {runs if args.replications > 1 else f'{combos} runs'} on {where}", flush=True)
    t0 = time.perf_counter()
    result = run_sweep(
        path,
        out_dir,
        args.grid,
        overrides=sets,
        replications=args.replications,
        seed=args.seed,
        data_dir=data_dir,
        workers=workers,
        ray_address=args.ray_address,
        run_plots=args.run_plots,
        plots=not args.no_plots,
    )
    table = result.files["markdown"].read_text(encoding="utf-8").splitlines()
    print("\n".join(line for line in table if line.startswith("|")))
    for task, res in result.failed:
        _stderr(f"mobility: run failed: {task.label}: {res.error}")
    print(f"time:    {time.perf_counter() - t0:.1f} s for {len(result.tasks)} runs")
    names = sorted(p.name for p in result.files.values())
    print(f"report:  {out_dir}/ ({', '.join(names)}; each run in runs/)")
    return 1 if result.failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``mobility compare``: the KPI differences of two run folders (:func:`sim.compare.compare_runs`)."""
    from sim.compare import compare_runs, format_compare, read_run

    a = read_run(args.run_a, field="RUN_A")  # both checked before --out is made
    b = read_run(args.run_b, field="RUN_B")
    out_dir = _out_dir(Path(args.out) if args.out else Path("runs") / f"compare_{a.path.name}_{b.path.name}")
    rows, a, b, files = compare_runs(a.path, b.path, out_dir, plots=not args.no_plots)
    print(format_compare(rows, a, b))
    print(f"report:  {out_dir}/ ({', '.join(sorted(p.name for p in files.values()))})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    return cmd_simulate(args)


# ---------------------------------------------------------------------------- live engine
def _path_or_none(text: str | None) -> Path | None:
    return Path(text) if text else None


def _tls_text(settings: Any) -> str:
    if settings.tls_cert is None:
        return "plaintext"
    return "TLS, client certificates required" if settings.tls_client_ca else "TLS"


def cmd_serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from engine.server import create_server, settle_gc
    from engine.settings import Settings

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    frontends = (1 if (os.cpu_count() or 1) > 1 else 0) if args.frontends is None else args.frontends
    settings = Settings(
        scenario=scenario_path(args.scenario),
        data_dir=data_dir,
        store=args.store,
        redis_password_file=_path_or_none(args.redis_password_file),
        redis_tls_ca=_path_or_none(args.redis_tls_ca),
        redis_tls_cert=_path_or_none(args.redis_tls_cert),
        redis_tls_key=_path_or_none(args.redis_tls_key),
        host=args.host,
        port=args.port,
        tokens=Path(args.tokens) if args.tokens else None,
        tls_cert=_path_or_none(args.tls_cert),
        tls_key=_path_or_none(args.tls_key),
        tls_client_ca=_path_or_none(args.tls_client_ca),
        clock=args.clock,
        timezone=args.timezone,
        reoptimise_every_s=args.reoptimise_every,
        reoptimise_deadline_ms=args.reoptimise_deadline_ms,
        max_queue=args.max_queue,
        max_reoptimise_iterations=args.max_reoptimise_iterations,
        max_reoptimise_ms=args.max_reoptimise_ms,
        workers=args.workers,
        frontends=frontends,
        writer_nice=args.writer_nice,
        seed=args.seed,
        retention_days=args.retention_days,
        max_message_kb=args.max_message_kb,
        max_streams=args.max_streams,
        max_streams_per_caller=args.max_streams_per_caller,
        max_streams_per_peer=args.max_streams_per_peer,
        max_streams_per_connection=args.max_streams_per_connection,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    if settings.frontends:
        from engine.frontend import serve_with_frontends

        front, core, host = serve_with_frontends(settings, settings.frontends)
        port = front.port
        try:
            core.start()
            front.wait_serving()
        except BaseException:
            front.stop()
            host.close()
            raise
        where = f"front-end processes: {settings.frontends} (pids {', '.join(map(str, front.pids))})"
    else:
        server, port, core = create_server(settings, block_until_ready=True)
        where = "one process"
    settle_gc()
    print(
        f"mobility engine serving on {settings.host}:{port} ({_tls_text(settings)}; store {core.store.name}, "
        f"clock {settings.clock}, "
        f"services {core.describe_services()}; {where}; writer at nice {core.writer_nice_applied}); "
        "Ctrl-C to stop",
        flush=True,
    )
    if args.port_file:
        Path(args.port_file).write_text(f"{port}\n")
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    if settings.frontends:
        front.stop()
        host.close()
    else:
        server.stop(grace=2).wait()
    core.stop()
    return 0


# ---------------------------------------------------------------------------- bench
def _bench_data_and_out(args: argparse.Namespace, results_dir: Path) -> tuple[Path, Path]:
    """The reference data folder and the output folder of a ``bench`` command."""
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    return data_dir, _out_dir(Path(args.out) if args.out else results_dir)


def _with_progress(name: str, total: int, unit: str, work: Callable[[Callable[[str], None]], T]) -> T:
    """Run ``work(progress)`` under a progress bar; each ``progress(msg)`` call is one step done."""
    from tqdm import tqdm

    with tqdm(total=total, desc=f"bench {name}", unit=unit, file=sys.stderr) as bar:

        def progress(msg: str) -> None:
            bar.set_postfix_str(msg)
            bar.update(1)

        return work(progress)


def _publish_bench(name: str, out_dir: Path, update: bool) -> None:
    """Print the benchmark's Markdown and where it was written; with ``update``, put it in the README."""
    from benchmarks.common import update_readme

    md = (out_dir / f"{name}.md").read_text()
    print(md)
    print(f"written: {out_dir / f'{name}.json'}, {out_dir / f'{name}.md'}")
    if update:
        readme = REPO_ROOT / "README.md"
        if update_readme(readme, md, tag=name):
            print(f"updated the benchmark section of {readme}")
        else:
            _stderr(f"warning: {readme} has no <!-- bench:{name} --> section; not updated")


def cmd_bench_solver(args: argparse.Namespace) -> int:
    import importlib

    from benchmarks.common import RESULTS_DIR

    name = args.bench_command
    module = importlib.import_module(f"benchmarks.{name}")
    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    quick_limit, quick_instances = module.QUICK_TIME_LIMIT_S, list(module.QUICK_INSTANCES)
    options: dict[str, Any] = {
        "data_dir": data_dir,
        "time_limits": args.time_limit or ([quick_limit] if args.quick else [10.0]),
        "seeds": args.seeds,
        "instances": args.instances or (quick_instances if args.quick else None),
        "peers": () if args.no_peers else tuple(module.PEERS),
    }
    if name == "pdptw":
        options["instance_set"] = args.set
    try:
        result = _with_progress(
            name,
            module.steps(**options),
            "run",
            lambda progress: module.run(
                **options, out_dir=out_dir, progress=progress, quick=args.quick, jobs=args.jobs
            ),
        )
    except ImportError as exc:
        _stderr(f"mobility: error: {exc}; or run without peers (--no-peers)")
        return 2
    _publish_bench(module.result_name(args.set) if name == "pdptw" else name, out_dir, args.update_readme)
    ours = [s["ours"] for s in result["summary"].values()]
    ok = all(s["infeasible_runs"] == 0 and not s["claims_disagree"] for s in ours)
    return 0 if ok else 1


def cmd_bench_dispatch(args: argparse.Namespace) -> int:
    from benchmarks.dispatch import QUICK_FLEETS, QUICK_MEASURED, QUICK_WARMUP_HOURS, RESULTS_DIR, run

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    fleets = tuple(args.vehicles or (QUICK_FLEETS if args.quick else (16, 300, 3000)))
    measured = args.requests or (QUICK_MEASURED if args.quick else 2000)
    _with_progress(
        "dispatch",
        3 + 3 * len(fleets),  # Manhattan with the stop matrix and with the pool, then the synthetic city
        "step",
        lambda progress: run(
            data_dir=data_dir,
            fleets=fleets,
            measured=measured,
            warmup_hours=QUICK_WARMUP_HOURS if args.quick else 1.0,
            out_dir=out_dir,
            progress=progress,
            quick=args.quick,
        ),
    )
    _publish_bench("dispatch", out_dir, args.update_readme)
    return 0


def cmd_bench_serve(args: argparse.Namespace) -> int:
    from benchmarks.serve import RESULTS_DIR, run
    from matching.errors import InvalidValueError

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    quick = args.quick
    stores = tuple(dict.fromkeys(args.store or (["memory"] if quick else ["memory", "redis"])))
    clients = tuple(dict.fromkeys(args.clients or [2 if quick else 4]))
    modes = tuple(dict.fromkeys(args.mode or (["quote-book"] if quick else ["quote-book", "at-once"])))
    frontends = tuple(dict.fromkeys(args.frontends if args.frontends is not None else ([0] if quick else [0, 1])))
    seconds = args.seconds or (2.0 if quick else 10.0)
    profile = not (args.no_profile or quick)
    for n in frontends:
        if not 0 <= n <= MAX_FRONTENDS:
            raise InvalidValueError("frontends", f"got {n}", f"0 .. {MAX_FRONTENDS}")
    profiled = profile and "quote-book" in modes and 0 in frontends
    steps = len(stores) * (len(frontends) * len(modes) * len(clients) + (1 if profiled else 0))
    _with_progress(
        "serve",
        steps,
        "step",
        lambda progress: run(
            data_dir=data_dir,
            clients=clients,
            seconds=seconds,
            stores=stores,
            modes=modes,
            frontends=frontends,
            per_process=args.clients_per_process,
            seed=args.seed,
            profile=profile,
            tls=args.tls,
            out_dir=out_dir,
            progress=progress,
            quick=quick,
        ),
    )
    _publish_bench("serve", out_dir, args.update_readme)
    return 0


def cmd_bench_dashboard(args: argparse.Namespace) -> int:
    import dataclasses

    from benchmarks.dashboard import QUICK, RESULTS_DIR, BenchError, Options, network_file, run, steps

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    given = {
        "vehicles": args.vehicles,
        "minutes": args.minutes,
        "interval_s": args.interval,
        "sample_every_s": args.sample_every,
        "peer_minutes": args.peer_minutes,
        "network": args.network,
        "streams": args.streams,
        "seed": args.seed,
    }
    options = dataclasses.replace(
        QUICK if args.quick else Options(), **{name: value for name, value in given.items() if value is not None}
    )
    options.check()
    network_file(options.network, data_dir)  # before the progress bar: a bad one is one line
    try:
        _with_progress("dashboard", steps(options), "step", lambda progress: run(
            data_dir=data_dir, options=options, out_dir=out_dir, progress=progress))  # fmt: skip
    except BenchError as exc:
        _stderr(f"mobility: error: {exc}")
        return 2
    _publish_bench("dashboard", out_dir, args.update_readme)
    if args.update_readme:  # and the benchmark's own page
        from benchmarks.common import update_readme

        page = REPO_ROOT / "docs" / "dashboard_bench.md"
        if update_readme(page, (out_dir / "dashboard.md").read_text(), tag="dashboard"):
            print(f"updated the table of {page}")
    return 0


def cmd_bench_sim(args: argparse.Namespace) -> int:
    from benchmarks.sim import RESULTS_DIR, run

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    result = _with_progress(
        "sim",
        3,
        "step",
        lambda progress: run(data_dir=data_dir, out_dir=out_dir, progress=progress, quick=args.quick),
    )
    _publish_bench("sim", out_dir, args.update_readme)
    return 0 if all(r["met"] is not False for r in result["scenarios"]) else 1


def cmd_bench_traffic(args: argparse.Namespace) -> int:
    from benchmarks.traffic import RESULTS_DIR, run

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    result = _with_progress(
        "traffic",
        3 if args.quick else 5,
        "step",
        lambda progress: run(data_dir=data_dir, out_dir=out_dir, progress=progress, quick=args.quick),
    )
    _publish_bench("traffic", out_dir, args.update_readme)
    return 0 if all(r["met"] is not False for r in result["runs"]) else 1


def cmd_bench_modes(args: argparse.Namespace) -> int:
    from benchmarks.modes import DEFAULT_SCENARIO, MODES, RESULTS_DIR, run

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    scenario = scenario_path(args.scenario) if args.scenario else DEFAULT_SCENARIO
    seeds = tuple(args.seeds)
    _with_progress(
        "modes",
        len(seeds) * len(MODES),
        "run",
        lambda progress: run(
            data_dir=data_dir, scenario_path=scenario, seeds=seeds, quick=args.quick, out_dir=out_dir, progress=progress
        ),
    )
    _publish_bench("modes", out_dir, args.update_readme)
    return 0


def cmd_bench_pooling(args: argparse.Namespace) -> int:
    from benchmarks.pooling import CAPACITIES, FLEETS, RESULTS_DIR, WAITS_MIN, grid_points, run, steps

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    given = args.fleets or args.capacities or args.waits
    do_grid = args.grid or bool(given) or not args.day
    grid = grid_points(args.fleets or FLEETS, args.capacities or CAPACITIES, args.waits or WAITS_MIN) if do_grid else []
    result = _with_progress(
        "pooling",
        steps(quick=args.quick, grid=grid, day=args.day, modes=len(set(args.modes))),
        "step",
        lambda progress: run(
            data_dir=data_dir, grid=grid, day=args.day, quick=args.quick, seed=args.seed, out_dir=out_dir,
            progress=progress, modes=args.modes, rebalance=not args.no_rebalance,
        ),
    )  # fmt: skip
    _publish_bench("pooling", out_dir, args.update_readme)
    return 0 if all(r["problems"] == 0 for r in result["runs"]) else 1


def cmd_bench_paths(args: argparse.Namespace) -> int:
    from benchmarks.paths import RESULTS_DIR, run

    data_dir, out_dir = _bench_data_and_out(args, RESULTS_DIR)
    result = _with_progress(
        "paths",
        1 + 3 * 7,
        "step",
        lambda progress: run(
            data_dir=data_dir,
            quick=args.quick,
            synthetic_nodes=args.synthetic_nodes,
            out_dir=out_dir,
            progress=progress,
            with_compile=not (args.no_compile or args.quick),
        ),
    )
    _publish_bench("paths", out_dir, args.update_readme)
    ok = all(g["matrix"]["agree"] and g["one_to_one_agree"] for g in result["graphs"])
    return 0 if ok else 1


# ---------------------------------------------------------------------------- parser
def _add_bench_outputs(parser: Any, readme: str = "write the table into README.md") -> None:
    """``--data-dir``, ``--out`` and ``--update-readme`` of a ``bench`` command (``readme``: the help
    of ``--update-readme``)."""
    parser.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default benchmarks/results)")
    parser.add_argument("--update-readme", action="store_true", help=readme)


def add_set_option(parser: Any) -> None:
    """``--set KEY=VALUE`` (repeatable) on a parser or argument group."""
    parser.add_argument(
        "--set",
        dest="sets",
        type=_assignment,
        action="append",
        metavar="KEY=VALUE",
        help="change a setting of the scenario file: a dotted key into its tables and a TOML value, e.g. "
        "fleet.vehicles=24, service.max_wait_s=600, demand.profile=flat, scenario.seed=3 (a bare word is a "
        "string); repeatable, checked like the file",
    )


def add_ray_options(parser: Any, *, default_workers: int | None) -> None:
    """``--workers`` and ``--ray-address`` on a parser or argument group."""
    default = "the machine's CPUs" if default_workers is None else str(default_workers)
    parser.add_argument(
        "--workers",
        type=_positive(int),
        default=default_workers,
        metavar="W",
        help=f"runs at a time: above 1, each run is a Ray task on a local Ray of W CPUs (default {default}; "
        "1: one after the other in this process)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="run on the Ray cluster at ADDR (e.g. auto, head:6379 or ray://head:10001) instead of a local Ray; "
        "its workers need this package and the scenario and data at the same paths. An address nobody listens "
        "on is refused at once, one that is no Ray cluster within about 15 s",
    )


#: How the shared client helpers (proto.client) name the dashboard's options, and how they are typed.
_DASHBOARD_OPTION_NAMES: Final = {
    "token_file": "--token-file",
    "tls_ca": "--tls-ca",
    "tls_cert": "--client-cert",
    "tls_key": "--client-key",
}


def _dashboard_option_error(exc: ValueError) -> str:
    """``exc`` (an InvalidValueError of proto.client, worded for sim's settings) with the options
    named as the dashboard's command line types them (``--tls-ca``, not ``tls_ca``)."""
    text = str(exc)
    for field, option in _DASHBOARD_OPTION_NAMES.items():
        text = re.sub(rf"\b{field}\b", option, text)
    return text


def engine_address(text: str) -> str:
    """The ``--engine`` address ``HOST:PORT`` (an IPv6 address in brackets: ``[::1]:50051``) as
    gRPC takes it; ValueError (one line naming ``--engine``) for anything else."""
    usage = "expected HOST:PORT with a port 1 .. 65535 (IPv6 in brackets: [::1]:50051)"
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep or not host:
            raise ValueError(f"--engine: {text!r}: {usage}")
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise ValueError(f"--engine: {text!r}: {host!r} is not an IPv6 address; {usage}") from None
    else:
        host, sep, port = text.rpartition(":")
        if not sep or not host:
            raise ValueError(f"--engine: {text!r}: {usage}")
        if ":" in host:
            raise ValueError(f"--engine: {text!r}: an IPv6 address goes in brackets ([{host}]:{port}); {usage}")
        if not all(c.isalnum() or c in "-._" for c in host):
            raise ValueError(f"--engine: {text!r}: {host!r} is not a host name or address; {usage}")
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"--engine: {text!r}: port {port!r}; {usage}")
    return text


def cmd_dashboard(args: argparse.Namespace) -> int:
    """``mobility dashboard``: the operators' web page, following a live engine or replaying a run."""
    import asyncio

    from dashboard.server import check_tls_files, serve, tile_origin

    def fail(message: str) -> int:
        _stderr(f"mobility: error: {message}")
        return 2

    engine_only = ("token", "token_file", "tls", "tls_ca", "client_cert", "client_key", "service", "interval", "tiles")
    if args.run and (given := [o for o in engine_only if getattr(args, o, None)]):
        return fail(f"--{given[0].replace('_', '-')} is for following an engine: give --engine HOST:PORT, not --run")
    if not 0 <= args.port <= 65535:
        return fail(f"--port: {args.port}, expected 0 .. 65535 (0: any free port)")
    if args.key is not None and (len(args.key) < 8 or not args.key.isprintable() or " " in args.key):
        return fail("--key: at least 8 printable characters without spaces (it is the page's only protection)")
    if args.engine is not None:
        try:
            engine_address(args.engine)
        except ValueError as exc:
            return fail(str(exc))
    interval = 1.0 if args.interval is None else args.interval
    if not 0.05 <= interval <= 60:
        return fail(f"--interval: {interval:g}, expected 0.05 .. 60 seconds")
    if args.tiles is not None:
        try:
            tile_origin(args.tiles)
        except ValueError as exc:
            return fail(f"--{exc}")
        if not all(part in args.tiles for part in ("{z}", "{x}", "{y}")):
            return fail(
                f"--tiles: {args.tiles!r} lacks {{z}}, {{x}} or {{y}} (e.g. https://tile.example.org/{{z}}/{{x}}/{{y}}.png)"
            )
    tls_cert = Path(args.tls_cert) if args.tls_cert else None
    tls_key = Path(args.tls_key) if args.tls_key else None
    try:
        check_tls_files(tls_cert, tls_key)
    except ValueError as exc:
        return fail(str(exc))
    source: Any
    if args.run:
        try:
            from dashboard.replay import ReplaySource
        except ImportError:
            return fail("--run: replay is not part of this installation (dashboard.replay is missing)")
        folder = Path(args.run)
        if folder.is_file():
            return fail(
                f"--run: {folder} is a file; expected a run folder (the folder of `mobility simulate --out`, "
                f"e.g. {folder.parent})"
            )
        if not folder.is_dir():
            return fail(f"--run: {folder}: no such folder (a run folder of `mobility simulate`)")
        try:
            source = ReplaySource(folder)
        except (ValueError, OSError) as exc:
            return fail(f"--run: {exc}")
    else:
        from dashboard.live import LiveError, LiveSource, probe

        try:
            token, tls = _client_credentials(
                args.token_file, args.token, args.tls, args.tls_ca, args.client_cert, args.client_key
            )
        except ValueError as exc:
            return fail(_dashboard_option_error(exc))
        try:
            reached = asyncio.run(probe(args.engine, token=token, tls=tls, service=args.service or ""))
        except LiveError as exc:
            if not exc.absent:  # the engine (or something) answered: a token, TLS, a service to fix
                return fail(f"--engine: {exc}")
            # a service started before its engine: serve the page, which says so, and keep trying
            print(f"no engine answers at {args.engine} yet: waiting for it; the page says so", flush=True)
        else:
            print(f"engine at {args.engine}: {reached}", flush=True)
        source = LiveSource(
            args.engine, token=token, tls=tls, service=args.service or "", interval_s=interval, tiles=args.tiles
        )
    try:
        return serve(source, host=args.host, port=args.port, key=args.key, tls_cert=tls_cert, tls_key=tls_key,
                     tiles=args.tiles)  # fmt: skip
    except ValueError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"--host/--port: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})")


def _add_dashboard_parser(sub: Any) -> None:
    dash = sub.add_parser(
        "dashboard",
        help="the operators' web page: a live map of the fleet, or the replay of a simulated day",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Serve the operators' dashboard, a web page with a map of the service (the engine's own streets,
stops and zone), the vehicles coloured by what they do, the open rides, a feed of assignments and
the fleet's KPIs, on a local port. Two modes:

  --engine HOST:PORT   follow a live engine over gRPC as an operator (its token: --token-file);
                       the page updates every --interval seconds and follows the assignment
                       stream; it keeps working when the engine restarts. If no engine answers
                       there yet, the page is served anyway, says so, and the dashboard waits
                       for the engine (it may run as a service started before it); an engine that
                       answers but refuses the token, or wants TLS, stops it at once (exit 2).
  --run DIR            replay a run folder of `mobility simulate`: the page plays the day with a
                       time slider, play/pause and speed.

The command prints the page's address with a key (http://127.0.0.1:8050/?key=...). The key is the
page's only protection: anyone with the address and the key sees the fleet (ride ids and
positions; never rider names or tokens). It is random unless --key is given. The server listens
on 127.0.0.1 only unless --host says otherwise; on any other address use --tls-cert/--tls-key so
that the key does not cross the network in the clear. Ctrl-C stops it.""",
        epilog="""\
examples:
  mobility serve --tokens tokens.toml &        # an engine (port 50051)
  mobility dashboard --engine 127.0.0.1:50051 --token-file operator.token
  mobility simulate imod_jamsil --out runs/imod_jamsil
  mobility dashboard --run runs/imod_jamsil --port 0""",
    )
    mode = dash.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--engine", metavar="HOST:PORT", help="follow the live engine at this address (IPv6 in brackets: [::1]:50051)"
    )
    mode.add_argument("--run", metavar="DIR", help="replay this run folder (written by `mobility simulate --out`)")
    engine = dash.add_argument_group("the engine (with --engine)")
    token = engine.add_mutually_exclusive_group()
    token.add_argument("--token-file", metavar="FILE", help="read the operator's bearer token from this file")
    token.add_argument("--token", help="the operator's bearer token (shows in ps: prefer --token-file)")
    engine.add_argument("--tls", action="store_true", help="the engine serves TLS with a certificate the system trusts")
    engine.add_argument("--tls-ca", metavar="FILE", help="the engine serves TLS: check it against this CA (PEM)")
    engine.add_argument(
        "--client-cert", metavar="FILE", help="client certificate (PEM) for an engine that requires one (mutual TLS)"
    )
    engine.add_argument("--client-key", metavar="FILE", help="the client certificate's private key (PEM)")
    engine.add_argument("--service", help="the service to show (default: the engine's default service)")
    engine.add_argument(
        "--interval",
        type=float,
        metavar="S",
        help="seconds between two updates of the fleet, rides and KPIs (0.05 .. 60; default 1)",
    )
    page = dash.add_argument_group("the page")
    page.add_argument("--host", default="127.0.0.1", help="address to serve the page on (default 127.0.0.1)")
    page.add_argument("--port", type=int, default=8050, help="port (default 8050; 0: any free port, printed)")
    page.add_argument(
        "--key",
        help="the page's key (at least 8 characters; default: a random one, printed with the address; "
        "a key given here shows in ps)",
    )
    page.add_argument("--tls-cert", metavar="FILE", help="serve the page over HTTPS with this certificate (PEM)")
    page.add_argument("--tls-key", metavar="FILE", help="the page certificate's private key (PEM, unencrypted)")
    page.add_argument(
        "--tiles",
        metavar="URL",
        help="with --engine: a map tile URL template under the streets, e.g. "
        "https://tile.example.org/{z}/{x}/{y}.png (default none: the streets are the map; the page loads "
        "nothing else from the internet)",
    )
    dash.set_defaults(func=cmd_dashboard)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mobility",
        description="Streaming mobility optimisation engine: demand-responsive bus (I-MOD), shared taxi (I-MOA) "
        "and bus network redesign on real OpenStreetMap road networks.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `mobility COMMAND --help` for the options of a command. Data files are read from "
        "$MOBILITY_DATA_DIR (default ../shared/data); caches go to $MOBILITY_CACHE_DIR "
        "(default ~/.cache/mobility-engine).",
    )
    parser.add_argument("--version", action="version", version=f"mobility {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress of library code")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="simulate the bundled I-MOD day (imod_jamsil) and show its KPIs",
        description="Run the bundled scenario imod_jamsil end to end — 16 minibuses on Seoul Jamsil, "
        "about 450 requests from 06:00 to 23:00 — and print the KPI summary and where the report is.",
    )
    demo.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    demo.add_argument("--out", metavar="DIR", help="report folder (default runs/imod_jamsil)")
    demo.add_argument("--seed", type=_seed, metavar="N", help=f"random seed, 0 .. {MAX_SEED} (default: the scenario's)")
    demo.set_defaults(func=cmd_demo, scenario="imod_jamsil", no_plots=False, engine=None, token=None)

    simulate = sub.add_parser(
        "simulate",
        help="simulate a service day from a scenario file",
        description="Simulate a service day: demand arrives, the dispatcher assigns it, vehicles drive "
        "through traffic, riders board and alight; writes summary.json, rides.csv, vehicles.csv, "
        "drives.csv, visits.csv, GeoJSON for GIS tools and replay (stops, zone, tracks, rides, streets; on networks "
        "with lat/lon) and PNG "
        "plots (map, heat maps, vehicles' day, occupancy, waits) into --out; "
        "a scenario's planning sections add their own files: [lines] lines.csv, line_loads.csv, "
        "transit_trips.csv, bus_stop_calls.csv, line_loads.png, lines_map.png; [feeder] journeys.csv; [semi_fixed] "
        "checkpoints.csv; [subzones] subzones.csv, subzone_journeys.csv, subzones.png "
        '(a shared-taxi scenario, [service] kind = "shared_taxi": '
        "summary.json, rides.csv, drives.csv, batches.csv, vehicles.csv, report.md and, on networks with lat/lon, "
        "rides.geojson, tracks.geojson, streets.geojson and map.png). SCENARIO is a TOML file or the name "
        "of a bundled one "
        "(" + ", ".join(bundled_scenario_names()) + "). Same seed, same day.",
    )
    simulate.add_argument("scenario", help="scenario file (.toml) or bundled scenario name")
    simulate.add_argument("--out", metavar="DIR", help="report folder (default runs/<scenario name>)")
    simulate.add_argument(
        "--seed", type=_seed, metavar="N", help=f"random seed, 0 .. {MAX_SEED} (default: the scenario's)"
    )
    simulate.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    simulate.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    simulate.add_argument(
        "--traffic",
        choices=("none", "bpr", "sumo"),
        help="the traffic model, instead of the scenario's [traffic] model: none (free flow), bpr (hourly "
        "factors by road class) or sumo (SUMO drives the fleet through signals and background traffic, "
        "[traffic] background_vph; the travel times it measures feed the router every update_minutes)",
    )
    simulate.add_argument(
        "--gui",
        action="store_true",
        help="with --traffic sumo: watch the day in sumo-gui (needs a display; nothing else does)",
    )
    simulate.add_argument(
        "--immediate",
        action="store_true",
        help="shared-taxi scenarios: assign each request at once to its cheapest taxi (immediate insertion, "
        "the baseline) instead of matching in batches",
    )
    simulate.add_argument(
        "--engine",
        metavar="HOST:PORT",
        help="play the riders and drivers over gRPC against a live engine started with "
        "`mobility serve --scenario SCENARIO --seed N --clock external` (same scenario and seed; a shared-taxi "
        "scenario's taxis report their start nodes, so any seed does)",
    )
    token = simulate.add_mutually_exclusive_group()
    token.add_argument("--token", help="bearer token for the engine (an operator's; shows in ps: see --token-file)")
    token.add_argument("--token-file", metavar="FILE", help="read the bearer token from this file (its one line)")
    simulate.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="the engine serves TLS: check its certificate against this CA (PEM); see docs/security.md",
    )
    simulate.add_argument(
        "--tls", action="store_true", help="the engine serves TLS with a certificate the system trusts"
    )
    simulate.add_argument(
        "--tls-cert", metavar="FILE", help="client certificate (PEM) for an engine that requires one (mutual TLS)"
    )
    simulate.add_argument("--tls-key", metavar="FILE", help="the client certificate's private key (PEM, unencrypted)")
    planner = simulate.add_argument_group("settings and replications")
    add_set_option(planner)
    planner.add_argument(
        "--replications",
        type=_positive(int),
        default=1,
        metavar="N",
        help="simulate N seeds (the seed, seed + 1, ...), each into OUT/rep<k>/, and write OUT/replications.md "
        "and .json: each main KPI's mean and 95 %% confidence interval (Student's t) (default 1)",
    )
    add_ray_options(planner, default_workers=1)
    simulate.set_defaults(func=cmd_simulate)
    _add_fleet_plan_parser(sub)

    sweep = sub.add_parser(
        "sweep",
        help="simulate every combination of settings in parallel on Ray; one table and plots",
        description="Simulate a scenario once per combination of the --grid values (times --replications "
        "seeds), each run a Ray task (a local Ray with --workers CPUs, or a cluster with --ray-address), with a "
        "progress bar as runs finish. Writes OUT/sweep.csv and OUT/sweep.md (one row per combination: the swept "
        "values, the main KPIs, with replications their means and 95 %% CI half-widths), one PNG per main KPI "
        "against the first swept key (a line per value of the others), and each run's own report in "
        "OUT/runs/<settings>__seed-<seed>/. A run of a sweep is the run of `mobility simulate SCENARIO --set "
        "KEY=VALUE ... --seed N`: same settings and seed, same KPIs. A failed run is listed with its error; the "
        "others finish (exit status 1 if any failed). I-MOD/DRT and shared-taxi scenarios report their own "
        "main KPIs.",
        epilog="example: mobility sweep imod_jamsil --grid fleet.vehicles=8,12,16,20 "
        "--grid service.max_wait_s=600,900 --replications 3 --workers 4",
    )
    sweep.add_argument("scenario", help="scenario file (.toml) or bundled scenario name")
    sweep.add_argument(
        "--grid",
        type=_grid,
        action="append",
        required=True,
        metavar="KEY=V1,V2,...",
        help="a setting to sweep and its values, separated by commas (TOML literals; lists in brackets); "
        "repeat for more keys: every combination runs",
    )
    add_set_option(sweep)
    sweep.add_argument(
        "--replications", type=_positive(int), default=1, metavar="N", help="seeds per combination (default 1)"
    )
    sweep.add_argument(
        "--seed",
        type=_seed,
        metavar="N",
        help="the first seed of each combination (default: the scenario's; the others + 1, + 2, ...)",
    )
    add_ray_options(sweep, default_workers=None)
    sweep.add_argument("--out", metavar="DIR", help="sweep folder (default runs/<scenario name>_sweep)")
    sweep.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    sweep.add_argument("--no-plots", action="store_true", help="skip the sweep's PNG plots")
    sweep.add_argument(
        "--run-plots", action="store_true", help="draw each run's own PNG plots too (off: a sweep has many runs)"
    )
    sweep.set_defaults(func=cmd_sweep)

    compare = sub.add_parser(
        "compare",
        help="the KPI differences of two run folders, with comparison plots",
        description="Read two run folders (written by `mobility simulate`, or runs/<name>/ of a sweep; "
        "I-MOD/DRT or shared taxi) and print a table of their main KPIs: A, B, B - A and the change in %% "
        "(shares in %%, their differences in percentage points). Writes compare.md and compare.json and the "
        "plots compare_wait.png (wait distributions from rides.csv), compare_occupancy.png (riders on board "
        "over the day) and compare_kpis.png (bars).",
        epilog="example: mobility compare runs/imod_jamsil runs/imod_jamsil_24 --out runs/compare",
    )
    compare.add_argument("run_a", metavar="RUN_A", help="the first run folder (A)")
    compare.add_argument("run_b", metavar="RUN_B", help="the second run folder (B)")
    compare.add_argument("--out", metavar="DIR", help="where to write (default runs/compare_<A>_<B>)")
    compare.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    compare.set_defaults(func=cmd_compare)

    network = sub.add_parser(
        "network",
        help="road networks: import, summarise, route",
        description="Import road networks from OpenStreetMap files and query them.",
    )
    nsub = network.add_subparsers(dest="network_command", metavar="SUBCOMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "file",
            help="OSM XML (.osm, .osm.bz2, .osm.gz), OSM PBF (.osm.pbf), osmnx GraphML (.graphml), a saved "
            "network (.npz), or a benchmark graph (.xy + .d, e.g. the Manhattan folder)",
        )
        p.add_argument(
            "--options",
            metavar="TOML",
            help="TOML file with a [network] table: speeds_kph "
            "(per highway class), use_maxspeed, max_speed_kph, simplify",
        )
        p.add_argument(
            "--coord-unit-m",
            type=_positive(float),
            metavar="M",
            help="benchmark graphs only: metres per coordinate unit of the .xy file (default 1609.344, a mile, "
            "as in the Manhattan graph; the files do not say)",
        )
        p.add_argument(
            "--time-unit-s",
            type=_positive(float),
            metavar="S",
            help="benchmark graphs only: seconds per time unit of the .d file (default 0.1, as in the Manhattan "
            "graph). A warning says when the resulting mean speed is outside 10 .. 150 km/h",
        )
        p.add_argument("--cache-dir", help="cache folder (default: $MOBILITY_CACHE_DIR or ~/.cache/mobility-engine)")
        p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")

    ndemo = nsub.add_parser(
        "demo",
        help="build the bundled city network and show what it contains and how fast it answers",
        description="Build (or load from cache) the bundled Seoul Jamsil network, its contraction "
        "hierarchy and 300 m stops, then time queries on it.",
    )
    ndemo.add_argument(
        "--data-dir", help="folder with osm/seoul_jamsil.osm (default: $MOBILITY_DATA_DIR or ../shared/data)"
    )
    ndemo.add_argument("--osm", help="use this OSM file instead of the bundled one")
    ndemo.add_argument("--cache-dir", help="cache folder (default: $MOBILITY_CACHE_DIR or ~/.cache/mobility-engine)")
    ndemo.set_defaults(func=cmd_network_demo)

    build = nsub.add_parser(
        "build",
        help="import a file and print a summary",
        description="Import the drivable road network of an OSM file (largest strongly connected "
        "part, speeds from maxspeed tags or per-class defaults, integer seconds and "
        "metres), build its contraction hierarchy and stops, cache both on disk, and "
        "print what it contains and how fast it answers.",
    )
    common(build)
    build.add_argument(
        "--stop-spacing",
        type=_positive(float),
        default=300.0,
        metavar="M",
        help="spacing of virtual stops in metres (default 300)",
    )
    build.set_defaults(func=cmd_network_build)

    route = nsub.add_parser(
        "route",
        help="travel time and path between two points",
        description="Snap two WGS84 points to the network and print the fastest path.",
    )
    common(route)
    route.add_argument(
        "--from",
        dest="origin",
        type=_lat_lon,
        required=True,
        metavar="LAT,LON",
        help="where the trip starts, as WGS84 latitude,longitude in degrees (e.g. 37.5133,127.1001); "
        "snapped to the nearest road node",
    )
    route.add_argument(
        "--to",
        dest="destination",
        type=_lat_lon,
        required=True,
        metavar="LAT,LON",
        help="where the trip ends, as latitude,longitude (e.g. 37.5219,127.1143); snapped like --from",
    )
    route.add_argument(
        "--max-snap",
        type=_positive(float),
        default=500.0,
        metavar="M",
        help="reject points farther than this from the network (default 500 m)",
    )
    route.set_defaults(func=cmd_network_route)

    bench = sub.add_parser(
        "bench",
        help="benchmarks against peer libraries",
        description="Benchmarks that measure the engine and its peers side by side in one run.",
    )
    bsub = bench.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    paths = bsub.add_parser(
        "paths",
        help="shortest paths: CH vs Dijkstra, scipy, networkx",
        description="Shortest-path benchmark on Seoul Jamsil, Manhattan and a synthetic "
        "100k-node grid: load, CH build, one-to-one latency, 1000 x 1000 matrix, "
        "Numba compile time. Writes benchmarks/results/paths.{json,md}.",
    )
    paths.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, for a smoke test (about half a minute; the compile time is not measured); no verdict "
        "on the targets, which refer to the full sizes",
    )
    paths.add_argument(
        "--synthetic-nodes",
        type=_positive(int),
        default=100_000,
        metavar="N",
        help="size of the synthetic grid (default 100000)",
    )
    paths.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    paths.add_argument("--out", help="output folder (default benchmarks/results)")
    paths.add_argument("--no-compile", action="store_true", help="skip measuring the cold Numba compile time")
    paths.add_argument("--update-readme", action="store_true", help="write the table into README.md")
    paths.set_defaults(func=cmd_bench_paths)

    def solver_bench(p: argparse.ArgumentParser, default_set: str) -> None:
        p.add_argument(
            "--time-limit",
            type=_positive(float),
            nargs="+",
            metavar="S",
            help="seconds per run, one or more (default 10; 1 with --quick); every solver gets the same limit",
        )
        p.add_argument(
            "--seeds",
            type=_seed,
            nargs="+",
            default=[1],
            metavar="N",
            help="seeds of our solver, one or more (default 1); with several, mean and best are reported",
        )
        p.add_argument(
            "--instances",
            type=_names,
            metavar="NAMES",
            help=f"instance names separated by commas (e.g. {default_set}); default: the whole set",
        )
        p.add_argument(
            "--quick",
            action="store_true",
            help=f"a smoke test of seconds: {default_set.replace(',', ' and ')} at 1 s unless --instances or "
            "--time-limit say otherwise; no verdict on the targets (they refer to the whole set)",
        )
        p.add_argument("--no-peers", action="store_true", help="run our solver only")
        p.add_argument(
            "--jobs",
            type=_jobs,
            default=1,
            metavar="N",
            help="instances solved at once, each in a worker process of its own (default 1: one run at a time "
            "in this process); inside a worker one solver runs at a time, single-threaded, and the results "
            "keep their format and order. The duration divides by about N. With N = the number of cores each "
            "run has one core and the machine is otherwise busy, so the times hold only on an idle machine",
        )
        _add_bench_outputs(p, readme="write the tables into README.md")
        p.set_defaults(func=cmd_bench_solver)

    darp = bsub.add_parser(
        "darp",
        help="DARP: our solver vs OR-Tools on the Cordeau (2006) instances",
        description="Our offline solver against OR-Tools on the 24 Cordeau (2006) 'a' instances "
        "(darp/cordeau2006), one solver at a time with the same time limit. Every solution is "
        "judged by the independent checker, whose cost is reported; gap = 100*(cost/BKS - 1). "
        "Reports per-instance costs and gaps, mean and max gap, instances within 1% and 0.3%, "
        "infeasible runs, and whether the issue's targets are met (mean gap <= 0.3% at 60 s, "
        "every instance <= 1% at 10 s). Writes benchmarks/results/darp.{json,md}. Duration: about "
        "24 x (sum of the limits) x (seeds + 1) s; at 10 and 60 s with one seed about 56 minutes.",
    )
    solver_bench(darp, "a2-16,a3-24")

    pdptw = bsub.add_parser(
        "pdptw",
        help="PDPTW: our solver vs PyVRP on the Li & Lim instances",
        description="Our offline solver against PyVRP on the Li & Lim instances (56 of 100 tasks, "
        "or 60 of 400 with --set 400), one solver at a time with the same time limit and seed. "
        "Vehicles and distances are the independent checker's. Reports per instance vehicles and "
        "distance against the best known, the number of instances with the BKS fleet and the mean "
        "distance gap on those, for both solvers, the same by class (lc1 .. lrc2), and whether we are "
        "at PyVRP's level (on the 400-task set: in every class). Writes benchmarks/results/pdptw.{json,md} "
        "(--set 400: pdptw_400.{json,md}). Duration: about (instances) x (sum of the limits) x 2 x "
        "(seeds) / (jobs) s; the 100-task set at 10 and 60 s with one seed about 2 hours 10 minutes, "
        "the 400-task set at 60 s with --jobs 2 about an hour.",
    )
    solver_bench(pdptw, "lc101,lr104")
    pdptw.add_argument(
        "--set", choices=("100", "400"), default="100", help="instance set: tasks per instance (default 100)"
    )

    dispatch = bsub.add_parser(
        "dispatch",
        help="dispatch latency: Dispatcher.quote with 16, 300 and 3,000 vehicles",
        description="Quote and booking latency and peak memory of the I-MOD dispatcher on the Manhattan graph "
        "(every node a stop; with the stop matrix and with the location pool) and on the 100,000-node synthetic "
        "city (virtual stops every 200 m; pool only), with fleets carrying realistic schedules (twelve requests "
        "per vehicle and hour, vehicles driving their plans). Writes benchmarks/results/dispatch.{json,md}. "
        "Duration: ten minutes or more.",
    )
    dispatch.add_argument(
        "--vehicles",
        type=_positive(int),
        nargs="+",
        metavar="N",
        help="fleet sizes (default 16 300 3000; 16 100 with --quick)",
    )
    dispatch.add_argument(
        "--requests",
        type=_positive(int),
        metavar="N",
        help="timed requests per fleet size (default 2000; 200 with --quick)",
    )
    dispatch.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of seconds: small fleets, 200 timed requests after a quarter of an hour of bookings; "
        "no verdict on the target",
    )
    _add_bench_outputs(dispatch)
    dispatch.set_defaults(func=cmd_bench_dispatch)

    serve = sub.add_parser(
        "serve",
        help="run the live engine: gRPC API for riders, drivers and operators",
        description="Run the live dispatch engine as a gRPC server (package mobility.v1: RiderService, "
        "DriverService, OperatorService; health checking and reflection on). The scenario file gives the "
        "network, stops, fleet, service rules and fares. With --store redis://host:port the state lives in "
        "Redis and a restarted engine carries on where it stopped.",
    )
    serve.add_argument("--scenario", default="imod_jamsil", help="scenario file or bundled name (default imod_jamsil)")
    serve.add_argument(
        "--store",
        default="memory",
        help='"memory" (default), "redis://host:port[/db]" or "rediss://host:port[/db]" (Redis over TLS)',
    )
    serve.add_argument(
        "--redis-password-file",
        metavar="FILE",
        help="read the Redis password from this file (its one line); else from $MOBILITY_REDIS_PASSWORD. "
        "Keep it out of --store, where ps shows it",
    )
    serve.add_argument(
        "--redis-tls-ca", metavar="FILE", help="rediss://: the CA (PEM) of the Redis server's certificate"
    )
    serve.add_argument(
        "--redis-tls-cert", metavar="FILE", help="rediss://: client certificate (PEM) for a Redis that asks for one"
    )
    serve.add_argument("--redis-tls-key", metavar="FILE", help="rediss://: the client certificate's key (PEM)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=50051, help="port (default 50051; 0: any free port)")
    serve.add_argument("--port-file", help="write the bound port to this file (for scripts and tests)")
    serve.add_argument("--tokens", help="bearer-token file (TOML [[tokens]] with token, role, subject); none: no auth")
    serve.add_argument(
        "--tls-cert",
        metavar="FILE",
        help="serve TLS with this certificate (PEM; a chain: the server's first); needs --tls-key "
        "(see docs/security.md)",
    )
    serve.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM, unencrypted)")
    serve.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        help="with TLS: require client certificates signed by this CA (PEM): mutual TLS",
    )
    serve.add_argument(
        "--clock",
        choices=("wall", "external"),
        default="wall",
        help="wall (default): the time of day of the service day, read from this machine's clock in --timezone "
        "(a service day runs past midnight until the quiet hours before the next one starts); external: times "
        "come with the calls, as a simulation sends them, and only an operator's calls move the clock",
    )
    serve.add_argument(
        "--timezone",
        metavar="NAME",
        help="time zone of the wall clock, an IANA name such as Asia/Seoul (Incheon) or Europe/London "
        "(default: this machine's, $TZ or /etc/localtime)",
    )
    serve.add_argument(
        "--reoptimise-every",
        type=float,
        default=60.0,
        metavar="S",
        help="background re-optimisation period in seconds (wall clock only; 0: off; default 60)",
    )
    serve.add_argument(
        "--reoptimise-deadline-ms",
        type=int,
        default=200,
        metavar="MS",
        help="time budget of each background re-optimisation (default 200 ms)",
    )
    serve.add_argument(
        "--max-reoptimise-ms",
        type=int,
        default=DEFAULT_MAX_REOPTIMISE_MS,
        metavar="MS",
        help="longest any re-optimisation may hold the engine, an operator's included: every other call "
        f"waits meanwhile (default {DEFAULT_MAX_REOPTIMISE_MS} ms)",
    )
    serve.add_argument(
        "--max-reoptimise-iterations",
        type=int,
        default=DEFAULT_MAX_REOPTIMISE_ITERATIONS,
        metavar="N",
        help=f"most iterations an operator's Reoptimise may ask for (default {DEFAULT_MAX_REOPTIMISE_ITERATIONS:,})",
    )
    serve.add_argument(
        "--max-queue",
        type=int,
        default=DEFAULT_MAX_QUEUE,
        metavar="N",
        help="calls waiting for the engine beyond which new ones are refused at once with UNAVAILABLE "
        f"(nothing done; the client may retry) (default {DEFAULT_MAX_QUEUE:,})",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=64,
        help="threads for the gRPC server's blocking store reads, per front end if any (default 64); calls and "
        "streams wait on the server's event loop without a thread",
    )
    limits = serve.add_argument_group(
        "limits", "what one client may hold (each per gRPC process: per front end, or the engine's own)"
    )
    limits.add_argument(
        "--max-message-kb",
        type=int,
        default=DEFAULT_MAX_MESSAGE_KB,
        metavar="KIB",
        help=f"largest message the server reads, in KiB (default {DEFAULT_MAX_MESSAGE_KB}); a larger one is "
        "refused with RESOURCE_EXHAUSTED before it is parsed, and a call without a valid token is refused "
        "before its message is read at all. The largest message of the API is UpdateTraffic, 8 bytes per edge "
        "of the road network (drt_manhattan: 9,420 edges, 74 KiB): raise this for networks of more than about "
        "65,000 edges",
    )
    limits.add_argument(
        "--max-streams",
        type=int,
        default=DEFAULT_MAX_STREAMS,
        metavar="N",
        help="streams open at once (WatchRide, WatchManifest, WatchAssignments, ReportLocation, health Watch; "
        f"default {DEFAULT_MAX_STREAMS}); over it a new one gets RESOURCE_EXHAUSTED",
    )
    limits.add_argument(
        "--max-streams-per-caller",
        type=int,
        default=DEFAULT_MAX_STREAMS_PER_CALLER,
        metavar="N",
        help=f"streams open at once per rider or driver (token subject; default {DEFAULT_MAX_STREAMS_PER_CALLER}); "
        "operators are limited by "
        "the other limits only",
    )
    limits.add_argument(
        "--max-streams-per-peer",
        type=int,
        default=DEFAULT_MAX_STREAMS_PER_PEER,
        metavar="N",
        help=f"streams open at once per client IP address (default {DEFAULT_MAX_STREAMS_PER_PEER}; 0: no limit). "
        "Behind a proxy or a carrier's NAT many riders share one address: raise it, or 0",
    )
    limits.add_argument(
        "--max-streams-per-connection",
        type=int,
        default=DEFAULT_MAX_STREAMS_PER_CONNECTION,
        metavar="N",
        help="calls at once on one HTTP/2 connection (grpc.max_concurrent_streams; default "
        f"{DEFAULT_MAX_STREAMS_PER_CONNECTION}); more wait on the client until one ends",
    )
    serve.add_argument(
        "--writer-nice",
        type=int,
        default=DEFAULT_WRITER_NICE,
        metavar="N",
        help="with front ends: scheduling priority (nice value, -20 .. 19) of the writer thread, the engine's "
        f"one serial part (default {DEFAULT_WRITER_NICE}, so that it gets its core before the client and stream "
        "threads and whatever else runs), and of the threads on its path, each front end's gRPC event loop "
        "among them; needs root or CAP_SYS_NICE, without them the threads keep the default priority and a "
        "warning says so. Without front ends the writer keeps the default: it shares the "
        "interpreter lock with the streams, which a favoured writer would starve",
    )
    serve.add_argument(
        "--frontends",
        type=int,
        default=None,
        metavar="N",
        help="run gRPC in N processes of their own and the writer in this one, so that they use a core "
        "each (default: 1 on a machine with more than one core, else 0; 0: everything in one process, "
        "which then uses about one core)",
    )
    serve.add_argument(
        "--seed", type=_seed, default=1, metavar="N", help="seed of the fleet layout and re-optimisation (default 1)"
    )
    serve.add_argument(
        "--retention-days",
        type=_positive(float),
        default=30.0,
        metavar="N",
        help="keep a ride that ended (completed, cancelled, no-show) and every event N days, then forget "
        "them: rider ids and places are personal data (default 30; see docs/data-retention.md)",
    )
    serve.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    serve.set_defaults(func=cmd_serve)
    _add_dashboard_parser(sub)

    serveb = bsub.add_parser(
        "serve",
        help="live engine throughput: bookings/s and latency of `mobility serve` under load",
        description="Start `mobility serve` on drt_manhattan (300 vans, every node a stop; external clock, "
        "re-optimisation off) as a subprocess, with gRPC in its own process and then in a front-end process "
        "(--frontends), with the memory store and then with a temporary local "
        "redis-server (AOF, appendfsync everysec), and load it from clients (threads, a gRPC channel each, a few "
        "to a process) looping Quote + BookRide, "
        "or BookRide with the request at once (pre-bookings, requested times through the day) while an operator "
        "process follows WatchAssignments. "
        "Reports bookings/s, Quote and BookRide p50/p99, the stream delay (BookRide answer to its BOOKING "
        "event), the rejections, and where the time goes (the engine core alone, without gRPC). Clients and "
        "engine share the machine's cores. Writes benchmarks/results/serve.{json,md}. Duration: about "
        "(seconds + 10 s) per round and 20 s per store for the profile.",
    )
    serveb.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of seconds: one 2 s round of 2 clients, memory store, Quote + BookRide, gRPC in the "
        "engine process, no profile (unless the options below say otherwise); no verdict on the target",
    )
    serveb.add_argument(
        "--clients",
        type=_positive(int),
        nargs="+",
        metavar="N",
        help="concurrent clients, one or more counts (a round each; default 4)",
    )
    serveb.add_argument(
        "--clients-per-process",
        type=_positive(int),
        default=4,
        metavar="K",
        help="clients per client process, as threads (default 4; 1 = a process each, which costs the shared "
        "cores more CPU per booking)",
    )
    serveb.add_argument("--seconds", type=_positive(float), metavar="S", help="length of each round (default 10)")
    serveb.add_argument(
        "--store",
        nargs="+",
        choices=("memory", "redis"),
        help="state stores, one round each (default: memory redis)",
    )
    serveb.add_argument(
        "--mode",
        nargs="+",
        choices=("quote-book", "at-once"),
        help="how clients book: Quote then BookRide of the offer, or BookRide with the request in one call; "
        "a round each (default: both)",
    )
    serveb.add_argument(
        "--frontends",
        nargs="+",
        type=int,
        metavar="N",
        help="gRPC front-end processes of the engine (`mobility serve --frontends`), one or more counts, a round "
        "each (default: 0 1, i.e. gRPC in the engine process, then in one process of its own)",
    )
    serveb.add_argument("--seed", type=_seed, default=1, metavar="N", help="seed of the request stream (default 1)")
    serveb.add_argument("--no-profile", action="store_true", help="skip the engine-core profile after each round")
    serveb.add_argument(
        "--tls",
        action="store_true",
        help="the engine serves TLS (a certificate made for the run with openssl) and every client speaks it",
    )
    _add_bench_outputs(serveb)
    serveb.set_defaults(func=cmd_bench_serve)

    dashb = bsub.add_parser(
        "dashboard",
        help="the operators' dashboard in a real browser: apply time of a fleet update, page memory over minutes",
        description="Start a live engine (memory store, external clock) with VEHICLES shared taxis on a bundled OSM "
        "extract, report a new road node for every taxi every INTERVAL seconds (ReportLocation, walking each along "
        "random shortest paths; the clock moved each interval), follow it with `mobility dashboard`, and open the "
        "page in headless Debian chromium (Playwright, 1280 x 800) for MINUTES. Measures, in the browser: the time "
        "the page takes to apply one `vehicles` update (the first, warm-up, apart; p50, p95, max), frame times and "
        "long tasks, the page's JS heap and DOM nodes every --sample-every seconds and after a forced collection at "
        "the end, the WebSocket bytes per update; the dashboard server's resident memory and CPU; the feeder's "
        "achieved reports/s. Then the same stream applied by a plain Leaflet page with one SVG circleMarker per "
        "vehicle (the peer) for --peer-minutes. Writes benchmarks/results/dashboard.{json,md}. Needs chromium "
        "(apt-get install chromium) and the page's npm libraries. Duration: MINUTES + --peer-minutes + about "
        "half a minute to start.",
    )
    dashb.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of seconds: 300 taxis, the page watched for 15 s, memory every 5 s, the peer for 6 s "
        "(unless the options below say otherwise); no verdict",
    )
    dashb.add_argument(
        "--vehicles", type=_positive(int), metavar="N", help="taxis, each reporting every interval (default 3000)"
    )
    dashb.add_argument(
        "--minutes", type=_positive(float), metavar="M", help="how long the page is watched (default 10)"
    )
    dashb.add_argument(
        "--interval",
        type=_positive(float),
        metavar="S",
        help="seconds between two reports of a taxi, and between two moves of the clock (default 1; 0.1 .. 60)",
    )
    dashb.add_argument(
        "--network",
        default="jamsil",
        metavar="NAME|FILE",
        help="the road network: jamsil (Seoul Jamsil, the default: the bundled extract with the most road nodes), "
        "dongjak, helsinki, or an OSM file (.osm, .osm.pbf)",
    )
    dashb.add_argument(
        "--sample-every",
        type=_positive(float),
        metavar="S",
        help="seconds between two samples of the page's memory and the server's (default 30)",
    )
    dashb.add_argument(
        "--peer-minutes",
        type=float,
        metavar="M",
        help="how long the peer page (Leaflet, SVG markers) is watched after the dashboard's (default 2; 0: no peer)",
    )
    dashb.add_argument(
        "--streams",
        type=_positive(int),
        default=4,
        metavar="K",
        help="ReportLocation calls at once per interval, each with its share of the taxis (default 4; 1 .. 12)",
    )
    dashb.add_argument("--seed", type=_seed, default=1, metavar="N", help="seed of the taxis' walks (default 1)")
    _add_bench_outputs(
        dashb,
        readme="write the table into docs/dashboard_bench.md and README.md (between <!-- bench:dashboard --> markers)",
    )
    dashb.set_defaults(func=cmd_bench_dashboard)

    simb = bsub.add_parser(
        "sim",
        help="simulator speed: the bundled I-MOD and Manhattan days",
        description="Wall time of the bundled scenarios imod_jamsil and drt_manhattan (set-up and simulated day; "
        "Numba warm-up apart). Writes benchmarks/results/sim.{json,md}. Duration: about a minute.",
    )
    simb.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test: the I-MOD day whole, the Manhattan day with 1,000 of its 10,000 requests (no verdict "
        "on its target)",
    )
    _add_bench_outputs(simb)
    simb.set_defaults(func=cmd_bench_sim)

    trafb = bsub.add_parser(
        "traffic",
        help="SUMO traffic speed: the Jamsil day and a Helsinki peak hour, BPR and SUMO",
        description="Wall time of the bundled days with SUMO traffic (the fleet driven in SUMO beside background "
        "cars) and, in the same run, with the BPR model: imod_jamsil (06:00-23:00) and imod_helsinki_peak "
        "(17:00-18:00); SUMO's real-time factor and teleports, completed rides, punctuality. Target: the Jamsil "
        "day with SUMO traffic under 10 minutes. Writes benchmarks/results/traffic.{json,md}. Duration: about "
        "4 minutes (the first run also builds SUMO's network and the background routes).",
    )
    trafb.add_argument(
        "--quick", action="store_true", help="a smoke test: the Helsinki peak hour only (no verdict on the target)"
    )
    _add_bench_outputs(trafb)
    trafb.set_defaults(func=cmd_bench_traffic)

    modesb = bsub.add_parser(
        "modes",
        help="free routing vs semi-fixed route vs fixed line on the same zone, fleet and demand",
        description="Runs a scenario with a [semi_fixed] section (default: the bundled imod_semifixed_jamsil) "
        "three times per seed on the same demand items: without the section (free routing), as written "
        '(semi-fixed: timed checkpoints, deviations within the slack) and with mode = "fixed" (boarding at the '
        "route's stops only). Reports served share, wait p50/p90, ride time, detour, walk, vehicle-km, "
        "pax-km per vehicle-km and pickups on time, and the checkpoints kept. Writes "
        "benchmarks/results/modes.{json,md,png}. Duration: about 10 s per seed.",
    )
    modesb.add_argument("--scenario", help="a scenario file or bundled name with [semi_fixed]")
    modesb.add_argument("--seeds", type=_seed, nargs="+", default=[1], metavar="N", help="seeds (default 1)")
    modesb.add_argument("--quick", action="store_true", help="a smoke test: the first 3 hours of the day")
    _add_bench_outputs(modesb)
    modesb.set_defaults(func=cmd_bench_modes)

    pool = bsub.add_parser(
        "pooling",
        help="shared taxi (I-MOA): batch matching vs immediate insertion, the Alonso-Mora setting on Manhattan",
        description="Shared taxis on the Manhattan graph with the 200,000 requests of Manhattan.1.reqs released "
        "over a day by the taxi_chicago profile (hourly taxi trips of the bundled Chicago sample). The grid, "
        "on the busiest hour: fleets of 1,000, 2,000 and 3,000 taxis, capacity 1, 2 and 4 (as many parties as "
        "seats), maximum wait 2, 5 and 7 min with a maximum delay of twice the wait; the day: 2,000 taxis of "
        "capacity 4, 5 min wait. Every point runs with batch matching (30 s batches) and with immediate "
        "insertion on the same demand. Reports served share, mean wait and delay, vehicle-km, occupancy, "
        "pooled share, batch compute time p50/p99/max, wall time and the independent checks' problems, beside "
        "the Alonso-Mora (2017) and Wallar (2018) anchors, and marks the targets (batch p99 < 3 s with 2,000 "
        "taxis at the peak; the day in < 30 min) met or not. Without --grid, --day or a grid option: the "
        "whole grid (27 points, each twice: hours). Writes benchmarks/results/pooling.{json,md}; exit status "
        "1 when a run broke a rule.",
    )
    pool.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test of a minute or two: 100 taxis, ten minutes of the busiest hour with every 20th "
        "request, capacity 4, 5 min wait, both modes; no verdict on the targets",
    )
    pool.add_argument("--grid", action="store_true", help="run the busiest-hour grid (the default without --day)")
    pool.add_argument("--day", action="store_true", help="run the whole day with 2,000 taxis of capacity 4, 5 min wait")
    pool.add_argument(
        "--fleets", type=_positive(int), nargs="+", metavar="N", help="grid fleets (default 1000 2000 3000)"
    )
    pool.add_argument(
        "--capacities", type=_positive(int), nargs="+", metavar="C", help="grid capacities (default 1 2 4)"
    )
    pool.add_argument(
        "--waits", type=_positive(int), nargs="+", metavar="MIN", help="grid maximum waits in minutes (default 2 5 7)"
    )
    pool.add_argument(
        "--seed", type=_seed, default=1, metavar="N", help="seed of the release times and start nodes (default 1)"
    )
    pool.add_argument(
        "--modes",
        nargs="+",
        choices=("batch", "insertion"),
        default=["batch", "insertion"],
        help="which matching runs at each point (default both; insertion takes about ten times longer)",
    )
    pool.add_argument(
        "--no-rebalance", action="store_true", help="leave idle taxis where they are (to measure what rebalancing buys)"
    )
    _add_bench_outputs(pool)
    pool.set_defaults(func=cmd_bench_pooling)

    solve_p = sub.add_parser(
        "solve",
        help="solve a DARP, PDPTW or ride-sharing instance and write the solution as JSON",
        description="Solve a pickup-and-delivery instance with an offline solver, check the solution with "
        "an independent checker and write it as JSON: darp and pdptw (one instance file, the ALNS solver), "
        "rideshare (a city-scale instance folder of the HGA format, the ride-sharing solver).",
    )
    ssub = solve_p.add_subparsers(dest="solve_command", metavar="KIND")
    for kind, what in (
        ("darp", "a Cordeau DARP instance (header K n T Q L; minimise total distance)"),
        ("pdptw", "a Li & Lim PDPTW instance (header K Q speed; fewest vehicles, then distance)"),
    ):
        sp = ssub.add_parser(
            kind,
            help=f"solve {what}",
            description=f"Solve {what}, check the solution with the independent checker and write "
            "JSON: instance, routes (one list per used vehicle, the instance's node ids in visiting "
            "order, depots left out), cost, num_vehicles, feasible, runtime_s, seed, time_limit_s, "
            "iterations, unassigned ([pickup, delivery] node ids of unserved requests). Exit status "
            "0 when the checker finds the solution feasible, 1 when not, 2 for a bad file.",
        )
        sp.add_argument("file", help="the instance file")
        budget = sp.add_mutually_exclusive_group()
        budget.add_argument(
            "--time-limit",
            type=_positive(float),
            default=10.0,
            metavar="S",
            help="search time in seconds (default 10)",
        )
        budget.add_argument(
            "--iterations",
            type=_positive(int),
            metavar="N",
            help="stop after N iterations instead of a time limit (reproducible for a seed)",
        )
        sp.add_argument("--seed", type=_seed, default=0, metavar="N", help="random seed (default 0)")
        sp.add_argument(
            "--out", default="solution.json", metavar="FILE", help="where to write the JSON (default solution.json)"
        )
        sp.set_defaults(func=cmd_solve, kind=kind)

    helpers = CliHelpers(seed=_seed, positive=_positive, out_dir=_out_dir, out_file=_out_file,
                         with_progress=_with_progress, publish_bench=_publish_bench,
                         bench_data_and_out=_bench_data_and_out)  # fmt: skip
    plan = add_plan_commands(sub, bsub, helpers)
    check = add_rideshare_commands(sub, ssub, bsub, helpers)
    add_crosscheck_commands(sub, helpers, bundled_scenario_names(), scenario_path, default_data_dir)
    add_traffic_commands(sub, helpers)
    add_emergency_commands(sub, helpers)
    parser.set_defaults(_groups={"network": network, "bench": bench, "solve": solve_p, "plan": plan, "check": check})
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        group = args._groups.get(args.command)
        (group or parser).print_help()
        return 2
    from engine.store import StoreError
    from matching.errors import MatchingError
    from routing.errors import RoutingError
    from sim.sumo.tools import SumoError

    try:
        return int(args.func(args))
    except (RoutingError, MatchingError, StoreError, CommandError, SumoError) as exc:
        _stderr(f"mobility: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _stderr("mobility: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
