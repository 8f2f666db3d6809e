"""Free routing, semi-fixed route and fixed line on the same zone, fleet and demand.

``mobility bench modes`` (or ``python -m benchmarks.modes``) runs a scenario with a
``[semi_fixed]`` section (by default the bundled ``imod_semifixed_jamsil``) three times per seed:

* **free routing**: the section left out, every vehicle demand-responsive (door to stop, no route);
* **semi-fixed**: the section as written (``mode = "semi_fixed"``): the vehicles keep their timed
  checkpoints and deviate to requested stops within the slack;
* **fixed line**: the same timetable with ``mode = "fixed"``: riders board and alight only at the
  route's stops, walking to them (within ``max_walk_m``) or turned away.

The three runs of a seed share the demand items (the first run's list is handed to the others
and checked equal), the fleet and the traffic. Written to ``benchmarks/results``: ``modes.json``
(every KPI per seed), ``modes.md`` (a table of the means over the seeds) and ``modes.png`` (bars
per KPI). Note that the semi-fixed and fixed runs plan with the day's slowest travel times
(:mod:`sim.semifixed`) while free routing plans with the traffic of the moment (so traffic that
worsens after a booking can make its pickups late: the "pickups on time" column).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .common import machine_info

if TYPE_CHECKING:
    from sim.scenario import Scenario

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
DEFAULT_SCENARIO = SCENARIOS / "imod_semifixed_jamsil.toml"
MODES = ("free", "semi_fixed", "fixed")
LABELS = {"free": "free routing", "semi_fixed": "semi-fixed", "fixed": "fixed line"}
#: A quick run's day: the first hours of the scenario.
QUICK_HOURS = 3

#: The compared KPIs: key, heading, unit, how to read it from :func:`sim.kpi.compute_kpis`.
METRICS: tuple[tuple[str, str, str, Callable[[dict[str, Any]], float]], ...] = (
    ("served_share", "served", "%", lambda k: 100 * k["requests"]["service_rate"]),
    ("wait_p50_min", "wait p50", "min", lambda k: k["wait_s"]["p50"] / 60),
    ("wait_p90_min", "wait p90", "min", lambda k: k["wait_s"]["p90"] / 60),
    ("ride_mean_min", "ride time (mean)", "min", lambda k: k["ride_s"]["mean"] / 60),
    ("detour_mean", "detour (mean)", "x direct", lambda k: k["detour_factor"]["mean"]),
    ("walk_mean_m", "walk (mean)", "m", lambda k: k["walking"]["total_m"]),
    ("vehicle_km", "veh-km", "km", lambda k: k["distance"]["vehicle_km"]),
    ("pax_km_per_veh_km", "pax-km / veh-km", "", lambda k: k["distance"]["passenger_km_per_vehicle_km"]),
    ("on_time_share", "pickups on time", "%", lambda k: 100 * k["punctuality"]["pickup_in_window_share"]),
)


def variant(scenario: Scenario, mode: str) -> Scenario:
    """``scenario`` run in ``mode`` ("free": without its ``[semi_fixed]`` section)."""
    if mode == "free":
        return dataclasses.replace(scenario, semi_fixed=None)
    return dataclasses.replace(scenario, semi_fixed=dataclasses.replace(scenario.semi_fixed, mode=mode))


def run(
    *,
    data_dir: Path,
    scenario_path: Path = DEFAULT_SCENARIO,
    seeds: tuple[int, ...] = (1,),
    quick: bool = False,
    out_dir: Path = RESULTS_DIR,
    plots: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the comparison and write ``modes.json``, ``modes.md`` and (with ``plots``) ``modes.png``."""
    from matching import InvalidValueError
    from sim.kpi import compute_kpis, validate
    from sim.scenario import Scenario
    from sim.simulator import Simulation

    say = progress or (lambda _m: None)
    base = Scenario.from_toml(scenario_path, data_dir=data_dir)
    if base.semi_fixed is None:
        raise InvalidValueError("scenario", f"{scenario_path} has no [semi_fixed] section", "a semi-fixed scenario")
    if quick:
        base = dataclasses.replace(base, end_s=min(base.end_s, base.start_s + QUICK_HOURS * 3600))
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        demand = None
        for mode in MODES:
            say(f"seed {seed}: {LABELS[mode]}")
            sim = Simulation(variant(base, mode), seed=seed)
            sim.setup()
            if demand is None:
                demand = copy.deepcopy(sim.demand)
            else:
                sim.demand = copy.deepcopy(demand)  # the very same requests, riders and cancellations
            t0 = time.perf_counter()
            out = sim.run()
            run_s = time.perf_counter() - t0
            kpis = compute_kpis(out)
            row: dict[str, Any] = {"seed": seed, "mode": mode, "requests": len(sim.demand), "run_s": round(run_s, 2)}
            row.update({key: round(float(get(kpis)), 3) for key, _, _, get in METRICS})
            row["rejected_by_reason"] = kpis["requests"]["rejected_by_reason"]
            row["problems"] = len(validate(out))
            if "checkpoints" in out.extras:
                cp = out.extras["checkpoints"].kpis()
                row["checkpoints_kept_share"] = cp["kept_share"]
                row["checkpoint_visits"] = cp["scheduled"]
                row["deviations_per_cycle"] = cp["deviations_per_cycle"]["mean"]
                row["route_stops"] = cp["route_stops"]
            rows.append(row)
    result = {
        "benchmark": "modes",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "scenario": base.name,
        "vehicles": base.fleet.vehicles,
        "hours": round((base.end_s - base.start_s) / 3600, 2),
        "seeds": list(seeds),
        "quick": quick,
        "runs": rows,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "modes.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "modes.md").write_text(to_markdown(result))
    if plots:
        plot(result, out_dir / "modes.png")
    return result


def means(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per mode, the mean of every compared KPI over the seeds."""
    out: dict[str, dict[str, float]] = {}
    for mode in MODES:
        rows = [r for r in result["runs"] if r["mode"] == mode]
        out[mode] = {key: float(np.mean([r[key] for r in rows])) for key, *_ in METRICS}
    return out


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    avg = means(result)
    seeds = result["seeds"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores): scenario `{result['scenario']}`, "
        f"{result['vehicles']} vehicles, {result['hours']:g} h, the same demand in the three modes "
        f"(mean over seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}).",
        "",
        "| mode | " + " | ".join(f"{head}{f' ({unit})' if unit else ''}" for _, head, unit, _ in METRICS) + " |",
        "|---|" + "---:|" * len(METRICS),
    ]
    for mode in MODES:
        cells = []
        for key, _, unit, _ in METRICS:
            value = avg[mode][key]
            if key == "on_time_share" or unit not in ("%", "m", "km"):
                cells.append(f"{value:.2f}")  # (on time: lateness is rare, and 99.96 is not 100.0)
            else:
                cells.append(f"{value:,.1f}" if unit == "%" else f"{value:,.0f}")
        lines.append(f"| {LABELS[mode]} | " + " | ".join(cells) + " |")
    kept = [r for r in result["runs"] if "checkpoints_kept_share" in r]
    if kept:
        visits = sum(r["checkpoint_visits"] for r in kept)
        share = sum(r["checkpoints_kept_share"] * r["checkpoint_visits"] for r in kept) / max(1, visits)
        dev = np.mean([r["deviations_per_cycle"] for r in kept if r["mode"] == "semi_fixed"])
        lines += [
            "",
            f"Checkpoints kept: {100 * share:.1f} % of {visits:,} visits (semi-fixed and fixed runs); the "
            f"semi-fixed vehicles served {dev:.2f} stops off the route per cycle.",
        ]
    if result.get("quick"):
        lines += ["", f"**Quick run**: the first {QUICK_HOURS} hours of the day only."]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    """One bar chart per KPI, the three modes side by side."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    avg = means(result)
    fig = Figure(figsize=(11, 8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 3)
    colours = {"free": "#4c72b0", "semi_fixed": "#dd8452", "fixed": "#55a868"}
    for ax, (key, head, unit, _) in zip(axes.flat, METRICS, strict=True):
        values = [avg[mode][key] for mode in MODES]
        bars = ax.bar([LABELS[m] for m in MODES], values, color=[colours[m] for m in MODES])
        ax.bar_label(bars, fmt="%.1f" if max(values) < 100 else "%.0f", fontsize=8)
        ax.set_title(f"{head}{f' ({unit})' if unit else ''}", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_ylim(0, max(values) * 1.18 if max(values) > 0 else 1)
    fig.suptitle(f"Free routing, semi-fixed route and fixed line — {result['scenario']}, same demand")
    fig.savefig(path, format="png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.modes",
        description=(
            "Compare free routing, a semi-fixed route and a fixed line on the same zone, fleet and demand: "
            "the scenario as written (its [semi_fixed] section), without the section, and with mode = "
            '"fixed". Writes modes.json, modes.md and modes.png.'
        ),
    )
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="a scenario file with [semi_fixed]")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="data folder (default: $MOBILITY_DATA_DIR or ../shared/data)"
    )
    parser.add_argument("--seeds", default="1", help="comma-separated seeds; each runs the three modes (default 1)")
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_HOURS} hours of the day")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="output folder (default benchmarks/results)")
    parser.add_argument("--no-plots", action="store_true", help="skip modes.png")
    args = parser.parse_args(argv)
    try:
        seeds = tuple(int(s) for s in args.seeds.split(","))
    except ValueError:
        parser.error(f"--seeds: got {args.seeds!r}, expected whole numbers separated by commas")
    from matching import MatchingError
    from mobility import default_data_dir

    data_dir = args.data_dir or default_data_dir()
    try:
        result = run(data_dir=data_dir, scenario_path=args.scenario, seeds=seeds, quick=args.quick, out_dir=args.out,
            plots=not args.no_plots, progress=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
    except MatchingError as exc:
        print(f"benchmarks.modes: error: {exc}", file=sys.stderr)
        return 2
    print(to_markdown(result), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
