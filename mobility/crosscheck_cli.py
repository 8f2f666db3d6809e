"""``mobility crosscheck SCENARIO``: the same day and seed with BPR and with SUMO traffic.

Writes ``crosscheck.json``, ``crosscheck.md`` (the riders' side, then vehicle travel times over
free flow by hour and road class) and ``crosscheck.png`` into ``--out``, and prints the
Markdown. See :mod:`sim.sumo.crosscheck`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .plan_cli import CliHelpers

__all__ = ["add_commands"]


def add_commands(
    sub: Any,
    helpers: CliHelpers,
    scenario_names: list[str],
    scenario_path: Callable[[str], Path],
    data_dir: Callable[[], Path],
) -> None:
    """Register ``crosscheck``; ``scenario_path`` resolves a file or bundled name, ``data_dir``
    gives the default data folder (both from :mod:`mobility.cli`)."""
    p = sub.add_parser(
        "crosscheck",
        help="the same day with BPR and with SUMO traffic, compared",
        description="Simulate SCENARIO twice with the same seed, once with the hourly BPR traffic factors "
        '([traffic] model = "bpr") and once with SUMO driving the fleet through signals and background '
        'traffic (model = "sumo"; [traffic] background_vph, signals), and compare: vehicle travel time over '
        "free-flow time by hour and main road class, waits, ride times, service rate, punctuality, "
        "vehicle-km. Writes crosscheck.json, crosscheck.md and crosscheck.png into --out. SCENARIO is a "
        "TOML file or the name of a bundled one (" + ", ".join(scenario_names) + ").",
    )
    p.add_argument("scenario", help="scenario file (.toml) or bundled scenario name (an I-MOD/DRT day on OSM)")
    p.add_argument("--seed", type=helpers.seed, metavar="N", help="random seed (default: the scenario's)")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/crosscheck-<scenario name>)")
    p.add_argument("--data-dir", help="reference data folder (default: $MOBILITY_DATA_DIR or ../shared/data)")
    p.set_defaults(func=_run, helpers=helpers, scenario_path=scenario_path, default_data_dir=data_dir)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sim.scenario import Scenario, load_scenario
    from sim.sumo.crosscheck import cross_check, plot, to_markdown

    data_dir = Path(args.data_dir) if args.data_dir else args.default_data_dir()
    scenario = load_scenario(args.scenario_path(args.scenario), data_dir=data_dir)
    if not isinstance(scenario, Scenario):
        print("mobility: error: crosscheck: SCENARIO must be an I-MOD/DRT day, not a shared-taxi one", file=sys.stderr)
        return 2
    out = args.helpers.out_dir(Path(args.out) if args.out else Path("runs") / f"crosscheck-{scenario.name}")
    bars: dict[str, Any] = {}

    def progress(model: str, done: int, total: int) -> None:
        if model not in bars:
            bars[model] = tqdm(total=total, desc=f"{scenario.name} {model}", unit="request", file=sys.stderr)
        bars[model].update(done - bars[model].n)

    try:
        result = cross_check(scenario, seed=args.seed, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    (out / "crosscheck.json").write_text(json.dumps(result, indent=1, default=float))
    md = to_markdown(result)
    (out / "crosscheck.md").write_text(md)
    plot(result, out / "crosscheck.png")
    print(md)
    print(f"written: {out}/crosscheck.json, crosscheck.md, crosscheck.png")
    return 0
