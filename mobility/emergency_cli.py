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


def _scenario_file(name: str) -> Path:
    """A scenario file, or the bundled scenario of that name (``scenarios/<name>.toml``), as
    ``mobility simulate`` finds it."""
    from matching.deployment import ConfigError

    from . import REPO_ROOT

    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    bundled = REPO_ROOT / "scenarios" / f"{name}.toml"
    if bundled.exists():
        return bundled
    known = ", ".join(sorted(p.stem for p in (REPO_ROOT / "scenarios").glob("*.toml")))
    raise ConfigError("scenario", f"no file {name!r} and no bundled scenario of that name", known)


def cmd_simulate_emergency(args: argparse.Namespace, h: CliHelpers) -> int:
    from mobility import default_data_dir
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
    path = _scenario_file(args.scenario)
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

            result = run_emergency(
                sumo,
                cfg.spec(stations),
                seed=seed,
                background_routes=cfg.background_routes,
                background_vph=cfg.background_vph,
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
    data["stations"] = list(stations)
    data["sumo_network"] = {k: sumo.meta.get(k) for k in ("signals", "junctions", "edges", "options")}
    (out_dir / "emergency.json").write_text(json.dumps(data, indent=1) + "\n")
    md = result_markdown(result, title=f"Emergency response, {scenario.name}")
    (out_dir / "emergency.md").write_text(md)
    plot_response_times(result, out_dir / "response_times.png")
    print(f"SUMO network: {sumo.meta.get('signals', 0)} signals, {sumo.meta.get('junctions', 0)} junctions")
    print(md)
    print(f"wrote {out_dir / 'emergency.json'}, emergency.md, response_times.png")
    return 0


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
    p.add_argument("--gui", action="store_true", help="watch it in sumo-gui (needs a display)")
    p.set_defaults(func=lambda args: cmd_simulate_emergency(args, h))
    return p
