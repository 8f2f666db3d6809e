"""Speed of the SUMO traffic simulation (``mobility bench traffic``, issue 21).

Each bundled day with SUMO traffic is simulated twice in the same run: with the hourly BPR
factors (the simulator's default model, the baseline) and with SUMO driving the fleet beside
the scenario's background traffic (``[traffic] model = "sumo"``). Per run: the set-up (network,
stops, demand; for SUMO also its network and the background routes, from the cache after a
first run, which the warm-up does), the simulated day, the total, SUMO's real-time factor
(simulated seconds per wall second of the SUMO loop), its teleports, and the riders' side
(completed rides, pickups in the promised window). Target (issue 21): the I-MOD Jamsil day with
traffic under 10 minutes on 2 cores.

Days: ``imod_jamsil`` (06:00-23:00, 16 minibuses, 450 requests, 1,557 background cars/h at the
peak) and ``imod_helsinki_peak`` (17:00-18:00 in central Helsinki, the largest bundled SUMO
network). A quick run (``--quick``) simulates Helsinki's peak hour only (no verdict).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import machine_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
DAYS = ("imod_jamsil", "imod_helsinki_peak")
QUICK_DAYS = ("imod_helsinki_peak",)
TARGETS_S = {"imod_jamsil": 600.0}
MODELS = ("bpr", "sumo")


def run(
    *,
    data_dir: Path,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    quick: bool = False,
) -> dict[str, Any]:
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
    for name in QUICK_DAYS if quick else DAYS:
        base = Scenario.from_toml(SCENARIOS / f"{name}.toml", data_dir=data_dir)
        for model in MODELS:
            say(f"{name} {model}")
            sc = dataclasses.replace(base, traffic=dataclasses.replace(base.traffic, model=model))
            if model == "sumo":  # the SUMO network and background routes, built once and cached
                warm = Simulation(sc)
                warm.setup()
                del warm
            sim = Simulation(sc)
            t0 = time.perf_counter()
            sim.setup()
            setup_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = sim.run()
            run_s = time.perf_counter() - t0
            k = compute_kpis(out)
            traffic = out.extras["traffic"].kpis() if "traffic" in out.extras else {}
            target = TARGETS_S.get(name) if model == "sumo" else None
            total = setup_s + run_s
            rows.append(
                {
                    "scenario": name,
                    "model": model,
                    "hours": round((sc.end_s - sc.start_s) / 3600, 2),
                    "vehicles": len(sim.fleet),
                    "requests": len(sim.demand),
                    "background_vph": sc.traffic.background_vph if model == "sumo" else None,
                    "setup_s": round(setup_s, 2),
                    "run_s": round(run_s, 2),
                    "total_s": round(total, 2),
                    "real_time_factor": traffic.get("real_time_factor"),
                    "teleports": traffic.get("teleports"),
                    "completed": k["requests"]["completed"],
                    "in_window": k["punctuality"]["pickup_in_window_share"],
                    "target_s": target,
                    "met": (total < target) if target else None,
                }
            )
    result = {
        "benchmark": "traffic",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "compile_s": round(compile_s, 2),
        "quick": quick,
        "runs": rows,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "traffic.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "traffic.md").write_text(to_markdown(result))
    return result


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores), one day at a time. Numba warm-up "
        f"{result['compile_s']:.1f} s, not included; SUMO's network and the background routes come from the "
        "cache (built by a warm-up run of the same day).",
        "",
        "| scenario | traffic | hours | minibuses | requests | background cars/h at the peak | set-up | "
        "simulated | total | SUMO real-time factor | teleports | completed | in the promised window | target |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in result["runs"]:
        target = ""
        if r["target_s"]:
            target = f"< {r['target_s']:.0f} s: **{'met' if r['met'] else 'not met'}**"
        bg = f"{r['background_vph']:,.0f}" if r["background_vph"] is not None else "–"
        rtf = f"{r['real_time_factor']:,.0f}x" if r["real_time_factor"] else "–"
        tele = f"{r['teleports']:,}" if r["teleports"] is not None else "–"
        lines.append(
            f"| {r['scenario']} | {r['model'].upper()} | {r['hours']:g} | {r['vehicles']} | {r['requests']:,} | {bg} | "
            f"{r['setup_s']:.1f} s | {r['run_s']:.1f} s | {r['total_s']:.1f} s | {rtf} | {tele} | "
            f"{r['completed']:,} | {100 * r['in_window']:.1f} % | {target} |"
        )
    if result.get("quick"):
        lines += ["", "**Quick run** (a smoke test): the Helsinki peak hour only; no verdict on the target."]
    return "\n".join(lines) + "\n"
