"""The ``mobility`` command line.

    mobility demo                         build the bundled city network and show how fast it answers
    mobility network build FILE           import an OSM/PBF/GraphML file (cached) and summarise it
    mobility network route FILE --from LAT,LON --to LAT,LON
                                          travel time and path between two points
    mobility bench paths                  shortest-path benchmark (writes JSON + Markdown)

Every command has ``--help``. Errors in the input are reported as one line naming the file
or the field, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import REPO_ROOT, __version__, bundled_city_osm, default_data_dir


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
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


# ---------------------------------------------------------------------------- network
def _is_benchmark_graph(path: Path) -> bool:
    return path.suffix in (".xy", ".d") or (path.is_dir() and any(path.glob("*.xy")))


def _load(args: argparse.Namespace) -> Any:
    from routing import BuildOptions, load_network, read_manhattan

    if _is_benchmark_graph(Path(args.file)):
        t0 = time.perf_counter()
        net = read_manhattan(args.file)
        return net, time.perf_counter() - t0
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

    from routing import Router, virtual_stops

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
def cmd_demo(args: argparse.Namespace) -> int:
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


# ---------------------------------------------------------------------------- bench
def cmd_bench_paths(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from benchmarks.paths import RESULTS_DIR, run, update_readme

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    out_dir = Path(args.out) if args.out else RESULTS_DIR
    steps = 1 + 3 * 7
    with tqdm(total=steps, desc="bench paths", unit="step", file=sys.stderr) as bar:

        def progress(msg: str) -> None:
            bar.set_postfix_str(msg)
            bar.update(1)

        result = run(
            data_dir=data_dir,
            quick=args.quick,
            synthetic_nodes=args.synthetic_nodes,
            out_dir=out_dir,
            progress=progress,
            with_compile=not args.no_compile,
        )
    md = (out_dir / "paths.md").read_text()
    print(md)
    print(f"written: {out_dir / 'paths.json'}, {out_dir / 'paths.md'}")
    if args.update_readme:
        readme = REPO_ROOT / "README.md"
        if update_readme(readme, md):
            print(f"updated the benchmark section of {readme}")
        else:
            _stderr(f"warning: {readme} has no <!-- bench:paths --> section; not updated")
    ok = all(g["matrix"]["agree"] and g["one_to_one_agree"] for g in result["graphs"])
    return 0 if ok else 1


# ---------------------------------------------------------------------------- parser
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
        help="build the bundled city network and show what it contains and how fast it is",
        description="Build (or load from cache) the bundled Seoul Jamsil network, its contraction "
        "hierarchy and 300 m stops, then time queries on it.",
    )
    demo.add_argument(
        "--data-dir", help="folder with osm/seoul_jamsil.osm (default: $MOBILITY_DATA_DIR or ../shared/data)"
    )
    demo.add_argument("--osm", help="use this OSM file instead of the bundled one")
    demo.add_argument("--cache-dir", help="cache folder (default: $MOBILITY_CACHE_DIR or ~/.cache/mobility-engine)")
    demo.set_defaults(func=cmd_demo)

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
        p.add_argument("--cache-dir", help="cache folder (default: $MOBILITY_CACHE_DIR or ~/.cache/mobility-engine)")
        p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")

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
    route.add_argument("--from", dest="origin", type=_lat_lon, required=True, metavar="LAT,LON")
    route.add_argument("--to", dest="destination", type=_lat_lon, required=True, metavar="LAT,LON")
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
    paths.add_argument("--quick", action="store_true", help="small sizes, for a smoke test (about a minute)")
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

    parser.set_defaults(_groups={"network": network, "bench": bench})
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
    from routing.errors import RoutingError

    try:
        return int(args.func(args))
    except RoutingError as exc:
        _stderr(f"mobility: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _stderr("mobility: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
