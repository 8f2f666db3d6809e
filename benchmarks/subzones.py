"""A zone split into sub-zones against the undivided zone: the same requests, the same vehicles.

Runs a scenario with a ``[subzones]`` section (by default the bundled ``imod_split_jamsil``)
and the same day in the undivided zone (:func:`sim.subzones.compare_with_undivided`: the split
day's requests item for item, the sub-zones' vehicles together under one dispatcher), then
prints one Markdown table: journeys completed, wait at the origin (p50/p90), journey time from
the requested pickup to the arrival (p50/mean), wait at transfer stops, vehicle-km, the share
driven empty, the share of journeys that cross sub-zones and how many of those were completed.

    python -m benchmarks.subzones                                   # the bundled split day
    python -m benchmarks.subzones --total 900 --vehicles west=3 east=5 --crossing across
    python -m benchmarks.subzones --scenario my_split.toml --seed 2 --out /tmp/cmp

Writes ``subzones.json`` and ``subzones.md`` into ``--out`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
DEFAULT_SCENARIO = "imod_split_jamsil"


def _vehicles(values: list[str]) -> dict[str, int]:
    out = {}
    for value in values:
        name, _, count = value.partition("=")
        if not name or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--vehicles: got {value!r}; give NAME=COUNT with a sub-zone's name and a count >= 1")
        out[name] = int(count)
    return out


def run(
    scenario_path: Path,
    *,
    data_dir: Path,
    seed: int | None = None,
    total: int | None = None,
    vehicles: dict[str, int] | None = None,
    crossing: str | None = None,
) -> dict[str, Any]:
    """The comparison of :func:`sim.subzones.compare_with_undivided` for one scenario file, with
    the demand's ``total``, the sub-zones' ``vehicles`` (by name) and the ``crossing`` rule
    overridden when given; adds the date and the overrides."""
    from matching.deployment import read_scenario_toml
    from sim.scenario import Scenario, load_scenario
    from sim.subzones import SubzonesSpec, compare_with_undivided

    # the overrides go through the scenario's own checks (sim.overrides, as mobility simulate --set)
    table = read_scenario_toml(scenario_path).get("subzones")
    zones = table.get("zones") if isinstance(table, dict) else None
    zones = zones if isinstance(zones, list) else []
    names = [z.get("name") if isinstance(z, dict) else None for z in zones]
    unknown = sorted(set(vehicles or {}) - set(names))
    if table is not None and unknown:
        listed = ", ".join(str(n) for n in names if n is not None)
        raise SystemExit(f"--vehicles: no sub-zone {unknown[0]!r} (the sub-zones: {listed})")
    overrides: list[tuple[str, Any]] = [
        (f"subzones.zones.{i}.vehicles", (vehicles or {})[name])
        for i, name in enumerate(names)
        if name in (vehicles or {})
    ]
    if crossing:
        overrides.append(("subzones.crossing", crossing))
    if total is not None:
        overrides.append(("demand.total", total))
    sc = load_scenario(scenario_path, data_dir=data_dir, overrides=overrides)
    if not isinstance(sc, Scenario) or not isinstance(sc.subzones, SubzonesSpec):
        raise SystemExit(f"{scenario_path}: no [subzones] section; the comparison needs a split zone")
    demand = sc.demand
    result = compare_with_undivided(sc, seed=seed, say=lambda m: print(m, file=sys.stderr, flush=True))
    result["date"] = time.strftime("%Y-%m-%d")
    result["requests"] = demand.total
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.subzones",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The two runs take about as long as two simulated days of the scenario (seconds on Jamsil).",
    )
    ap.add_argument("--scenario", default=DEFAULT_SCENARIO,
                    help="a scenario file with [subzones], or a bundled one's name "
                    f"(default {DEFAULT_SCENARIO})")  # fmt: skip
    ap.add_argument("--data-dir", default=None, help="the reference data folder (default ../shared/data)")
    ap.add_argument("--seed", type=int, default=None, help="the day's seed (default: the scenario's)")
    ap.add_argument("--total", type=int, default=None, help="requests of the day (default: the scenario's)")
    ap.add_argument("--vehicles", nargs="+", default=[], metavar="NAME=COUNT",
                    help="vehicles of sub-zones by name (default: the scenario's); "
                    "the undivided zone gets the sum")  # fmt: skip
    ap.add_argument("--crossing", choices=("transfer", "across"), default=None,
                    help="the rule for trips between sub-zones (default: the scenario's)")  # fmt: skip
    ap.add_argument("--out", default=str(RESULTS_DIR), help="where subzones.json and subzones.md go")
    args = ap.parse_args(argv)
    from mobility import default_data_dir
    from sim.subzones import comparison_markdown

    path = Path(args.scenario)
    if not path.is_file():
        path = SCENARIOS / f"{args.scenario}.toml"
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    result = run(path, data_dir=data_dir, seed=args.seed, total=args.total, vehicles=_vehicles(args.vehicles),
                 crossing=args.crossing)  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "subzones.json").write_text(json.dumps(result, indent=2) + "\n")
    table = comparison_markdown(result)
    (out / "subzones.md").write_text(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
