"""``mobility traffic SCENARIO``: the scenario's background traffic in SUMO, hour by hour, beside
the BPR profile the simulator uses.

    mobility traffic SCENARIO [--hours 7-10] [--peak-vph N] [--calibrate] [--seed N] --out DIR

Builds the SUMO network of the scenario's OSM file (cached), writes the background cars of the
hours (SUMO's randomTrips and duarouter, :mod:`sim.sumo.background`), runs SUMO and measures each
hour (:mod:`sim.sumo.measure`), and writes ``traffic.json``, ``traffic.md`` and ``traffic.png``
into DIR; prints the table and the real-time factor (simulated seconds per wall second).
``--calibrate`` first fits the demand to the BPR factor of the busiest hour.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_commands"]

#: ``--hours``: ``H1-H2`` whole hours of the clock, 0 <= H1 < H2 <= 48
HOURS_RE = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")


def _hours(text: str) -> tuple[int, int]:
    match = HOURS_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected H1-H2 (whole hours, e.g. 7-10), got {text!r}")
    a, b = int(match[1]), int(match[2])
    if not 0 <= a < b <= 48:
        raise argparse.ArgumentTypeError(f"must satisfy 0 <= H1 < H2 <= 48, got {text}")
    return a, b


def _vph(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number of cars per hour, got {text!r}") from exc
    if not 0 < value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"must be a number > 0 and <= 1000000, got {text}")
    return value


def add_commands(sub: Any, h: Any) -> argparse.ArgumentParser:
    """Register ``traffic`` on ``sub`` (``h``: :class:`mobility.plan_cli.CliHelpers`)."""
    p = sub.add_parser(
        "traffic",
        help="the scenario's background traffic in SUMO, hour by hour, beside the BPR profile",
        description="Simulate the scenario's background traffic in SUMO and compare it with the BPR profile "
        "the simulator uses. Builds the SUMO network of the scenario's OSM file (netconvert, cached); writes "
        "background cars for the hours (SUMO's randomTrips draws trips weighted to major roads at an hourly "
        "rate of --peak-vph times the scenario's v/c profile on major roads, duarouter routes them, SUMO "
        "re-routes them every 5 min on measured times); runs SUMO and measures each hour: mean speed, the "
        "congestion index on major and minor roads (time spent over the time of the same distance on the nearly "
        "empty network, measured first, signals included: the analogue of the BPR factor 1 + alpha (v/c)^beta) "
        "and halting cars on the lanes entering signals. Writes traffic.json, traffic.md (the table) and "
        "traffic.png (hour against congestion index, BPR and SUMO, major and minor) into --out (SUMO's own "
        "files, the routes and the hourly edge data, into --out/sumo), prints the "
        "table and the real-time factor (simulated seconds per wall second of the SUMO run). Example: "
        "mobility traffic imod_jamsil --hours 7-10 --out runs/traffic",
    )
    p.add_argument("scenario", help="a scenario file or the name of a bundled one (e.g. imod_jamsil)")
    p.add_argument(
        "--hours",
        type=_hours,
        metavar="H1-H2",
        help="hours of the clock to simulate, H1:00 to H2:00 (default: the scenario's day, widened to whole hours)",
    )
    p.add_argument(
        "--peak-vph",
        type=_vph,
        metavar="N",
        help="background cars setting off per hour at the profile's busiest hour, whole network (default 9 per "
        "lane-km of mapped road; with --calibrate, where the search starts)",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="first scale the demand so that SUMO's congestion index on major roads at the busiest hour matches "
        "the BPR factor of that hour (up to 8 trial runs of two simulated hours)",
    )
    p.add_argument("--seed", type=h.seed, metavar="N", help="seed of the trips and of SUMO (default: the scenario's)")
    p.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for traffic.json, traffic.md, traffic.png")
    p.set_defaults(func=lambda args: cmd_traffic(args, h))
    return p


def cmd_traffic(args: argparse.Namespace, h: Any) -> int:
    from tqdm import tqdm

    import routing
    from sim.scenario import TrafficSpec, load_scenario
    from sim.sumo import SumoError, build_sumo_network
    from sim.sumo.background import BackgroundSpec, write_background
    from sim.sumo.measure import (
        SumoEdges,
        calibrate,
        comparison_rows,
        default_peak_vph,
        markdown_table,
        measure_traffic,
        plot_comparison,
        reference_vph,
        uncongested_pace,
    )

    from . import default_data_dir, scenario_path
    from .cli import CommandError

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    scenario = load_scenario(scenario_path(args.scenario), data_dir=data_dir)
    if scenario.network.kind != "osm":
        raise CommandError(f"scenario: network kind {scenario.network.kind!r} has no OSM file for SUMO (needs osm)")
    # a shared-taxi scenario has no [traffic] section: the simulator's default profile
    traffic = getattr(scenario, "traffic", None) or TrafficSpec()
    if args.hours:
        begin_s, end_s = args.hours[0] * 3600, args.hours[1] * 3600
    else:
        begin_s, end_s = (scenario.start_s // 3600) * 3600, -(-scenario.end_s // 3600) * 3600
    seed = scenario.seed if args.seed is None else args.seed
    out = h.out_dir(Path(args.out))
    work = out / "sumo"

    def stage(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        stage(f"network: {scenario.network.path}")
        options = scenario.network.build_options()
        net = routing.load_network(scenario.network.path, options=options)
        sumo_net = build_sumo_network(scenario.network.path, net, build_options=options, on_stage=stage)
        edges = SumoEdges.read(sumo_net, net)
        peak = args.peak_vph or default_peak_vph(edges)
        try:
            spec = BackgroundSpec.from_traffic(traffic, peak, seed=seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        ref_vph = reference_vph(edges)
        stage(f"the nearly empty network: {ref_vph:g} cars/h for 2 h")
        pace = uncongested_pace(sumo_net, net, work / "reference", vph=ref_vph, seed=seed)
        calibration = None
        if args.calibrate:
            calibration = calibrate(
                sumo_net, net, traffic, work / "calibration", spec=spec, reference_pace=pace, progress=True
            )
            spec = calibration.spec
            stage(
                f"calibrated: {spec.peak_vph:.0f} cars/h at the busiest hour "
                f"({'matched' if calibration.matched else 'closest of the trials'}, {len(calibration.trials)} runs)"
            )
        stage(f"background cars {begin_s // 3600:02d}:00-{end_s // 3600:02d}:00 (randomTrips, duarouter)")
        t0 = time.perf_counter()
        routes = write_background(sumo_net, spec, work / "day", begin_s=begin_s, end_s=end_s)
        routes_s = time.perf_counter() - t0
        with tqdm(total=end_s - begin_s, desc="SUMO", unit="sim s", file=sys.stderr, leave=False) as bar:
            last = [float(begin_s)]

            def progress(t: float) -> None:
                bar.update(int(t - last[0]))
                last[0] = float(int(t))

            m = measure_traffic(
                sumo_net, net, [routes], begin_s=begin_s, end_s=end_s, work_dir=work / "day", seed=seed,
                reference_pace=pace, on_progress=progress,
            )  # fmt: skip
    except SumoError as exc:
        print(f"mobility: error: SUMO: {exc}", file=sys.stderr)
        return 1
    rows = comparison_rows(m, traffic, spec)
    doc = {
        "scenario": scenario.name,
        "network": str(scenario.network.path),
        "sumo_network": {k: sumo_net.meta.get(k) for k in ("junctions", "edges", "signals", "lanes")},
        "lane_km": round(edges.lane_km, 1),
        "spec": {"peak_vph": round(spec.peak_vph, 1), "profile": list(spec.profile), "seed": spec.seed},
        "reference_vph": ref_vph,
        "calibration": calibration.to_dict() if calibration else None,
        "routes_s": round(routes_s, 2),
        "vehicles": sum(r["departed"] for r in rows),
        **m.to_dict(),
        "rows": rows,
    }
    (out / "traffic.json").write_text(json.dumps(doc, indent=1, default=float))
    title = f"{scenario.name}: {spec.peak_vph:.0f} cars/h at the peak, seed {seed}"
    spots = "".join(
        f"- {x['sumo_edge']} (to junction {x['to_junction']}, {'major' if x['major'] else 'minor'}"
        f"{', signal' if x['signal'] else ''}): {x['lost_veh_h']:.1f} car-hours lost, {100 * x['share']:.1f} %\n"
        for x in m.hotspots[:5]
    )
    md = f"# Background traffic, {title}\n\n" + markdown_table(rows)
    md += f"\nWhere cars lost the most time (SUMO edges, the whole run):\n\n{spots}"
    (out / "traffic.md").write_text(md)
    plot_comparison(rows, out / "traffic.png", title=title)
    print(markdown_table(rows))
    print(f"where cars lost the most time:\n{spots}")
    print(
        f"{doc['vehicles']} cars, {m.sim_s / 3600:g} simulated h in {m.wall_s:.1f} s of SUMO: real-time factor "
        f"{m.real_time_factor:.0f} (routes {routes_s:.1f} s)"
    )
    print(f"written: {out / 'traffic.json'}, {out / 'traffic.md'}, {out / 'traffic.png'}")
    return 0
