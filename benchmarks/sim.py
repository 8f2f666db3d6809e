"""Simulator speed: wall time of the bundled scenarios (``mobility bench sim``).

For ``imod_jamsil`` (16 minibuses, about 450 requests) and ``drt_manhattan`` (300 vans,
10,000 requests) it measures the set-up (network, contraction hierarchy from the cache,
stop matrix, demand), the Numba warm-up (loading or compiling the kernels, measured apart on
a tiny day first) and the simulated day itself. Targets (issue): the I-MOD day under 10 s and
the Manhattan day under 2 minutes on 2 cores.

A quick run (``quick=True``, ``mobility bench sim --quick``) simulates the I-MOD day whole and
only the first two hours of the Manhattan day, with :data:`QUICK_REQUESTS` of its requests; a
day not simulated whole gets no verdict on its target.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import machine_info

if TYPE_CHECKING:
    from sim.scenario import Scenario

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
TARGETS_S = {"imod_jamsil": 10.0, "drt_manhattan": 120.0}
#: A quick run's requests per scenario, over its first :data:`QUICK_HOURS` (the others are run whole).
QUICK_REQUESTS = {"drt_manhattan": 1000}
QUICK_HOURS = 2


def quick_scenario(scenario: Scenario) -> tuple[Scenario, bool]:
    """The part of ``scenario`` a quick run simulates, and whether that is the whole day."""
    quick_total = QUICK_REQUESTS.get(scenario.name)
    if quick_total is None or scenario.demand.total <= quick_total:
        return scenario, True
    demand = dataclasses.replace(scenario.demand, total=quick_total)
    end_s = min(scenario.end_s, scenario.start_s + QUICK_HOURS * 3600)
    return dataclasses.replace(scenario, demand=demand, end_s=end_s), False


def run(*, data_dir: Path, names: tuple[str, ...] = ("imod_jamsil", "drt_manhattan"), out_dir: Path = RESULTS_DIR,
        progress: Callable[[str], None] | None = None, quick: bool = False) -> dict[str, Any]:  # fmt: skip
    from routing import warm_up
    from sim.kpi import compute_kpis
    from sim.scenario import Scenario
    from sim.simulator import Simulation

    say = progress or (lambda _m: None)
    say("warm-up (Numba)")
    t0 = time.perf_counter()
    warm_up()
    compile_s = time.perf_counter() - t0
    rows = []
    for name in names:
        say(name)
        scenario = Scenario.from_toml(SCENARIOS / f"{name}.toml", data_dir=data_dir)
        scenario, whole = quick_scenario(scenario) if quick else (scenario, True)
        sim = Simulation(scenario)
        t0 = time.perf_counter()
        sim.setup()
        setup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        output = sim.run()
        run_s = time.perf_counter() - t0
        kpis = compute_kpis(output)
        total = setup_s + run_s
        rows.append({
            "scenario": name, "vehicles": len(sim.fleet), "requests": len(sim.demand), "stops": len(sim.stops),
            "setup_s": round(setup_s, 2), "run_s": round(run_s, 2), "total_s": round(total, 2),
            "target_s": TARGETS_S.get(name), "whole_day": whole,
            "met": total < TARGETS_S.get(name, float("inf")) if whole else None,
            "completed": kpis["requests"]["completed"],
        })  # fmt: skip
    result = {"benchmark": "sim", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
              "compile_s": round(compile_s, 2), "quick": quick, "scenarios": rows}  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sim.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "sim.md").write_text(to_markdown(result))
    return result


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores). Numba warm-up (kernels loaded from "
        f"the cache, or compiled on a first run) {result['compile_s']:.1f} s, not included below.",
        "",
        "| scenario | vehicles | requests | completed | set-up | simulated day | total | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["scenarios"]:
        if not r["target_s"]:
            target = ""
        elif r["met"] is None:
            target = f"< {r['target_s']:.0f} s: not judged (part of the day)"
        else:
            target = f"< {r['target_s']:.0f} s: **{'met' if r['met'] else 'not met'}**"
        lines.append(
            f"| {r['scenario']} | {r['vehicles']} | {r['requests']:,} | {r['completed']:,} | {r['setup_s']:.1f} s | "
            f"{r['run_s']:.1f} s | {r['total_s']:.1f} s | {target} |"
        )
    if result.get("quick"):
        lines += [
            "",
            "**Quick run** (a smoke test): a day simulated with fewer requests than the scenario's gets no "
            "verdict on its target.",
        ]
    return "\n".join(lines) + "\n"
