"""``mobility simulate-emergency SCENARIO``: emergency vehicles with and without signal priority.

    mobility simulate-emergency SCENARIO [--out DIR] [--seed N] [--incidents N] [--hours H]
                                [--background-vph V | --background-routes FILE] [--stations LIST]
                                [--modes LIST] [--horizon-m M] [--horizon-s S] [--gui]

The network is the scenario's (its ``[network]`` OSM file, built into SUMO by
:func:`sim.sumo.build_sumo_network`); stations, incidents and the rest come from the scenario's
optional ``[emergency]`` table (:class:`sim.sumo.emergency.EmergencyConfig`), each overridable
by an option. Writes ``emergency.json``, ``emergency.md`` and ``response_times.png`` into
``--out``. How it works: ``docs/emergency.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from .plan_cli import CliHelpers

__all__ = ["add_commands"]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _stations(text: str) -> list[Any]:
    """``--stations``: engine node ids and/or ``lat:lon`` points, comma-separated."""
    out: list[Any] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            if ":" in part:
                lat, lon = (float(v) for v in part.split(":"))
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError
                out.append([lat, lon])
            else:
                node = int(part)
                if node < 0:
                    raise ValueError
                out.append(node)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"expected engine node ids >= 0 or lat:lon points, comma-separated, got {part!r}"
            ) from exc
    if not out:
        raise argparse.ArgumentTypeError("give at least one station")
    return out


def _modes(text: str) -> list[str]:
    from sim.sumo.emergency import MODES

    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(MODES)}, got {text!r}")
    return modes


def cmd_simulate_emergency(args: argparse.Namespace, h: CliHelpers) -> int:
    from mobility import default_data_dir, scenario_path
    from routing import load_network
    from sim.scenario import Scenario
    from sim.sumo import build_sumo_network
    from sim.sumo.emergency import (
        EmergencyConfig,
        plot_response_times,
        result_json,
        result_markdown,
        run_emergency,
    )
    from sim.sumo.tools import SumoError

    if args.gui and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        _stderr("mobility: error: --gui needs a display (DISPLAY is not set); run without --gui")
        return 2
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    path = scenario_path(args.scenario)
    from matching.deployment import ConfigError, read_scenario_toml

    doc = read_scenario_toml(path)
    scenario = Scenario.from_dict(doc, base=path.parent, data_dir=data_dir, source=path)
    table = dict(doc.get("emergency", {})) if isinstance(doc.get("emergency", {}), dict) else doc["emergency"]
    cfg = EmergencyConfig.from_table(table, base=path.parent)
    changes: dict[str, Any] = {}
    for option, key in (
        ("incidents", "incidents"),
        ("hours", "hours"),
        ("background_vph", "background_vph"),
        ("horizon_m", "horizon_m"),
        ("horizon_s", "horizon_s"),
        ("signals_guess_kmh", "signals_guess_kmh"),
    ):
        if getattr(args, option) is not None:
            changes[key] = getattr(args, option)
    if args.stations is not None:
        changes["stations"] = args.stations
    if args.modes is not None:
        changes["modes"] = args.modes
    if changes:  # checked by the same rules as the file, naming the option's key
        merged = {**table, **changes}
        if args.background_routes is not None:
            merged.pop("background_routes", None)
        try:
            cfg = EmergencyConfig.from_table(merged, base=path.parent)
        except ConfigError as exc:
            key = exc.field.removeprefix("emergency.")
            if key in changes:  # name the option that set it
                raise ConfigError(f"--{key.replace('_', '-')}", exc.message, exc.allowed) from None
            raise
    if args.background_routes is not None:
        routes = Path(args.background_routes)
        if not routes.is_file():
            raise ConfigError("--background-routes", f"no file {routes}", "an existing SUMO route file")
        cfg = dataclasses.replace(cfg, background_routes=routes)
    if scenario.network.kind != "osm":
        raise ConfigError("network.kind", f"got {scenario.network.kind!r}", "osm (SUMO builds its network from it)")
    out_dir = h.out_dir(Path(args.out) if args.out else Path("runs") / f"{scenario.name}-emergency")
    seed = scenario.seed if args.seed is None else args.seed
    from tqdm import tqdm

    modes = ["none", *[m for m in cfg.modes if m != "none"]]
    background = f"file {cfg.background_routes}" if cfg.background_routes else f"{cfg.background_vph:g} veh/h"
    print(
        f"emergency response on {scenario.name}: {cfg.incidents} incidents over {cfg.hours:g} h, "
        f"background {background}, "
        f"modes {', '.join(modes)}, seed {seed}",
        flush=True,
    )
    try:
        build_options = scenario.network.build_options()
        net = load_network(scenario.network.path, options=build_options)
        sumo = build_sumo_network(scenario.network.path, net, build_options=build_options, options=cfg.net_options())
        stations = cfg.station_edges(sumo, net)
        with tqdm(total=100 * len(modes), desc="simulate-emergency", unit="%", file=sys.stderr) as bar:
            done = {m: 0 for m in modes}

            def progress(mode: str, fraction: float) -> None:
                pct = round(100 * fraction)
                bar.update(pct - done[mode])
                done[mode] = pct
                bar.set_postfix_str(mode, refresh=False)

            spec = cfg.spec(stations)
            extra: list[Path] = []
            if args.fleet:
                extra.append(_fleet_routes(scenario, sumo, net, spec, args.fleet_from, out_dir / "sumo", seed))
            result = run_emergency(
                sumo,
                spec,
                seed=seed,
                background_routes=cfg.background_routes,
                background_vph=cfg.background_vph,
                extra_routes=extra,
                priority=cfg.priority(),
                modes=modes,
                workdir=out_dir / "sumo",
                gui=args.gui,
                progress=progress,
            )
    except SumoError as exc:
        _stderr(f"mobility: error: {exc}")
        return 1
    data = result_json(result)
    data["scenario"] = scenario.name
    if args.fleet:
        data["drt_fleet"] = fleet_delay(result)
        _print_fleet(data["drt_fleet"], args.fleet_from)
    data["stations"] = list(stations)
    data["sumo_network"] = {k: sumo.meta.get(k) for k in ("signals", "junctions", "edges", "options")}
    (out_dir / "emergency.json").write_text(json.dumps(data, indent=1) + "\n")
    md = result_markdown(result, title=f"Emergency response, {scenario.name}")
    if args.fleet:
        rows = [(m, r) for m, r in data["drt_fleet"].items() if isinstance(r, dict) and r["time_loss_s"] is not None]
        md += (
            f"\nThe DRT fleet ({data['drt_fleet']['drives']} drives replayed): time lost per mode and against none.\n\n"
            "| mode | fleet time lost, s | against none, s | per drive, s |\n|---|--:|--:|--:|\n"
            + "".join(
                f"| {m} | {r['time_loss_s']:.0f} | {r['delay_s']:+.0f} | {r['delay_per_drive_s']:+.2f} |\n"
                for m, r in rows
            )
        )
    (out_dir / "emergency.md").write_text(md)
    plot_response_times(result, out_dir / "response_times.png")
    print(f"SUMO network: {sumo.meta.get('signals', 0)} signals, {sumo.meta.get('junctions', 0)} junctions")
    print(md)
    print(f"wrote {out_dir / 'emergency.json'}, emergency.md, response_times.png")
    return 0


def _fleet_routes(scenario: Any, sumo: Any, net: Any, spec: Any, fleet_from: int, folder: Path, seed: int) -> Path:
    """The scenario's DRT day (simulated with its own traffic model, BPR by default) and its
    drives leaving in ``[fleet_from, fleet_from + the emergency period)``, as SUMO vehicles
    shifted onto the emergency period (:func:`sim.sumo.replay.write_fleet_routes`)."""
    import dataclasses

    from sim.simulator import Simulation
    from sim.sumo.replay import write_fleet_routes

    if scenario.traffic.model == "sumo":  # its drives are replayed in SUMO anyway
        scenario = dataclasses.replace(scenario, traffic=dataclasses.replace(scenario.traffic, model="bpr"))
    sim = Simulation(scenario, seed=seed)
    sim.setup()
    day = sim.run()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "drt_fleet.rou.xml"
    length = int(spec.end_s - spec.begin_s)
    written, skipped = write_fleet_routes(
        day, sumo, net, path, begin_s=fleet_from, end_s=fleet_from + length, shift_s=int(spec.begin_s) - fleet_from
    )
    print(f"DRT fleet: {written} drives of the simulated day replayed ({skipped} left out)", flush=True)
    return path


def fleet_delay(result: Any) -> dict[str, Any]:
    """The DRT fleet's time loss per mode and its change against ``none`` (s, and per drive)."""
    from sim.sumo.replay import DRT_PREFIX

    base = result.time_loss_by_prefix("none", DRT_PREFIX)
    drives = sum(1 for k in result.modes["none"].time_loss_s if k.startswith(DRT_PREFIX))
    out: dict[str, Any] = {"drives": drives}
    for mode, res in result.modes.items():
        if res.error:
            out[mode] = {"time_loss_s": None, "delay_s": None, "delay_per_drive_s": None}
            continue
        loss = result.time_loss_by_prefix(mode, DRT_PREFIX)
        out[mode] = {
            "time_loss_s": round(loss, 1),
            "delay_s": round(loss - base, 1),
            "delay_per_drive_s": round((loss - base) / drives, 2) if drives else None,
        }
    return out


def _print_fleet(delay: dict[str, Any], fleet_from: int) -> None:
    print(
        f"DRT fleet ({delay['drives']} drives from {fleet_from // 3600:02d}:{fleet_from % 3600 // 60:02d}): time lost"
    )
    for mode, row in delay.items():
        if isinstance(row, dict) and row.get("time_loss_s") is not None:
            print(f"  {mode:<20} {row['time_loss_s']:9.0f} s  ({row['delay_s']:+.0f} s against none)")


def _clock(text: str) -> int:
    """``HH:MM`` -> seconds since midnight (``--fleet-from``)."""
    try:
        h, m = (int(x) for x in text.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected HH:MM, got {text!r}") from exc
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise argparse.ArgumentTypeError(f"expected HH:MM between 00:00 and 23:59, got {text!r}")
    return h * 3600 + m * 60


def add_commands(sub: Any, h: CliHelpers) -> argparse.ArgumentParser:
    """Register ``simulate-emergency`` on the top-level subparsers ``sub``."""
    p = sub.add_parser(
        "simulate-emergency",
        help="emergency vehicles to random incidents in SUMO, with and without signal priority",
        description="Dispatch emergency vehicles from stations to random incidents (seeded) under background "
        "traffic in SUMO, on the scenario's OSM network, and simulate every incident in each mode: none "
        "(vClass emergency, stops at red lights), bluelight (SUMO's bluelight device: may pass red, others "
        "make way), priority (a green wave: each signal ahead of the vehicle within max(horizon-m, horizon-s x "
        "speed) along its route turns its link green, after a yellow for the others, and goes back to its "
        "program once the vehicle passed) and bluelight+priority. Reports the response time (dispatch to "
        "arrival: mean, median, p90), the cut in per cent beside Uiwang's 55.4%, stops at red lights, and the "
        "delay to every other vehicle against the run without priority. Settings come from the scenario's "
        "optional [emergency] table (docs/emergency.md), each overridable below. Writes emergency.json, "
        "emergency.md and response_times.png into --out. Same seed, same incidents and background.",
    )
    p.add_argument("scenario", help="scenario file (.toml) or bundled scenario name; its [network] must be OSM")
    p.add_argument("--out", metavar="DIR", help="results folder (default runs/<scenario name>-emergency)")
    p.add_argument("--seed", type=h.seed, metavar="N", help="random seed (default: the scenario's)")
    p.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    p.add_argument("--incidents", type=h.positive(int), metavar="N", help="emergency trips (default 20)")
    p.add_argument("--hours", type=h.positive(float), metavar="H", help="the period they fall in (default 2)")
    bg = p.add_mutually_exclusive_group()
    bg.add_argument(
        "--background-vph",
        type=float,
        metavar="V",
        help="background traffic from SUMO's randomTrips.py, vehicles per hour, 0 .. 100000 (default 1500; 0: none)",
    )
    bg.add_argument("--background-routes", metavar="FILE", help="a SUMO .rou.xml as the background instead")
    p.add_argument(
        "--stations",
        type=_stations,
        metavar="LIST",
        help="stations: engine node ids and/or lat:lon points, comma-separated (default: 2 chosen deterministically, "
        "along the network's diagonal)",
    )
    p.add_argument(
        "--modes",
        type=_modes,
        metavar="LIST",
        help="comma-separated modes of none, bluelight, priority, bluelight+priority (default none,bluelight,priority; "
        "none always runs)",
    )
    p.add_argument("--horizon-m", type=float, metavar="M", help="signal priority distance horizon, m (default 150)")
    p.add_argument("--horizon-s", type=float, metavar="S", help="signal priority time horizon, s (default 15)")
    p.add_argument(
        "--signals-guess-kmh",
        type=float,
        metavar="KMH",
        help="the SUMO network's guessed signals: where the incoming lanes' speed limits add up to KMH "
        "(default 250, SUMO's; lower: more signals, beside the OSM ones)",
    )
    p.add_argument(
        "--fleet",
        action="store_true",
        help="also replay the scenario's DRT fleet: its day is simulated, and its drives from --fleet-from on "
        "drive in every mode beside the emergency vehicles; their time lost against the run without priority is "
        "the delay priority causes the fleet",
    )
    p.add_argument(
        "--fleet-from",
        type=_clock,
        default=8 * 3600,
        metavar="HH:MM",
        help="the start of the fleet's window of the day that is replayed (default 08:00)",
    )
    p.add_argument("--gui", action="store_true", help="watch it in sumo-gui (needs a display)")
    p.set_defaults(func=lambda args: cmd_simulate_emergency(args, h))
    return p
