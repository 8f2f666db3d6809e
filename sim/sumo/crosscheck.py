"""The same day under two traffic models: the hourly BPR factors against SUMO.

:func:`cross_check` runs one scenario and seed twice, ``[traffic] model = "bpr"`` and
``"sumo"`` (everything else equal), and compares what the riders and the vehicles saw:

* vehicle travel times per hour and road class: each drive's time over the free-flow time of
  the same path (the engine's speeds), grouped by the hour it left and by its main road class
  (``major`` when most of its length is on motorways .. secondary roads, else ``minor``);
* the riders' waits, ride times, service rate and punctuality, and the vehicle-km.

Under BPR a drive takes exactly the router's time of the moment (a factor per hour and road
class), so its ratio is the BPR factor and nobody is late for traffic's sake unless the factor
rises after a booking. Under SUMO a drive meets signals, queues, turns and the background
traffic, and the router learns the measured times every ``update_minutes``; the difference
between the two runs is what the BPR model leaves out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from routing import MAJOR_ROAD_CLASSES, RoadNetwork

from ..kpi import compute_kpis
from ..records import SimOutput
from ..scenario import Scenario

MODELS = ("bpr", "sumo")


def drive_ratios(out: SimOutput, network: RoadNetwork, *, until_s: int | None = None) -> list[dict[str, Any]]:
    """Per drive with a path: departure hour, main road class, driven time, free-flow time."""
    major = network.edges_of_class(MAJOR_ROAD_CLASSES)
    rows = []
    for d in out.drives:
        if len(d.nodes) < 2 or (until_s is not None and d.depart_s >= until_s):
            continue
        nodes = np.asarray(d.nodes, np.int64)
        edges = network.edge_ids(nodes[:-1], nodes[1:])
        if (edges < 0).any():
            continue
        free = float(network.travel_time_s[edges].sum())
        if free <= 0:
            continue
        length = network.length_m[edges].astype(np.float64)
        share = float(length[major[edges]].sum() / max(1.0, length.sum()))
        rows.append(
            {
                "hour": int(d.depart_s // 3600),
                "road": "major" if share >= 0.5 else "minor",
                "time_s": float(d.arrive_s - d.depart_s),
                "free_s": free,
                "length_m": float(length.sum()),
            }
        )
    return rows


def by_hour_and_road(rows: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, float]]:
    """Drives, mean time ratio (time / free flow) and mean speed (km/h) per (hour, road class)."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["hour"], r["road"]), []).append(r)
    out = {}
    for key, rs in sorted(groups.items()):
        t = sum(r["time_s"] for r in rs)
        f = sum(r["free_s"] for r in rs)
        dist = sum(r["length_m"] for r in rs)
        out[key] = {
            "drives": float(len(rs)),
            "ratio": t / f if f else float("nan"),
            "speed_kmh": 3.6 * dist / t if t else float("nan"),
        }
    return out


def cross_check(
    scenario: Scenario,
    *,
    seed: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``scenario`` with BPR and with SUMO traffic (same seed) and compare (module docstring)."""
    from ..simulator import Simulation

    runs: dict[str, Any] = {}
    for model in MODELS:
        sc = dataclasses.replace(scenario, traffic=dataclasses.replace(scenario.traffic, model=model))
        sim = Simulation(sc, seed=seed)
        sim.setup()
        if progress is not None:
            sim.progress = lambda done, total, m=model: progress(m, done, total)
        out = sim.run()
        rows = drive_ratios(out, sim.network, until_s=sc.end_s)
        runs[model] = {
            "kpis": compute_kpis(out),
            "groups": by_hour_and_road(rows),
            "timings": dict(sim.timings),
        }
    keys = sorted(set(runs["bpr"]["groups"]) | set(runs["sumo"]["groups"]))
    table = []
    for hour, road in keys:
        b = runs["bpr"]["groups"].get((hour, road), {})
        s = runs["sumo"]["groups"].get((hour, road), {})
        table.append(
            {
                "hour": hour,
                "road": road,
                "bpr_drives": int(b.get("drives", 0)),
                "bpr_ratio": b.get("ratio"),
                "bpr_speed_kmh": b.get("speed_kmh"),
                "sumo_drives": int(s.get("drives", 0)),
                "sumo_ratio": s.get("ratio"),
                "sumo_speed_kmh": s.get("speed_kmh"),
            }
        )
    summary = {}
    for model in MODELS:
        k = runs[model]["kpis"]
        summary[model] = {
            "service_rate": k["requests"]["service_rate"],
            "completed": k["requests"]["completed"],
            "wait_p50_s": k["wait_s"].get("p50"),
            "wait_p90_s": k["wait_s"].get("p90"),
            "ride_p50_s": k["ride_s"].get("p50"),
            "pickup_in_window_share": k["punctuality"]["pickup_in_window_share"],
            "vehicle_km": k["distance"]["vehicle_km"],
            "run_s": runs[model]["timings"].get("run_s"),
        }
    return {
        "scenario": scenario.name,
        "seed": scenario.seed if seed is None else seed,
        "by_hour": table,
        "summary": summary,
    }


def _f(x: Any, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, fmt)


def to_markdown(result: dict[str, Any]) -> str:
    """The cross-check as Markdown: the riders' side, then travel times by hour and road class."""
    s = result["summary"]
    lines = [
        f"Scenario {result['scenario']}, seed {result['seed']}: the same day with BPR and with SUMO traffic.",
        "",
        "| | BPR | SUMO |",
        "|---|---:|---:|",
    ]
    rows = [
        ("completed rides", "completed", "d"),
        ("service rate", "service_rate", ".1%"),
        ("wait p50 (min)", "wait_p50_s", ".1f"),
        ("wait p90 (min)", "wait_p90_s", ".1f"),
        ("ride p50 (min)", "ride_p50_s", ".1f"),
        ("picked up in the promised window", "pickup_in_window_share", ".1%"),
        ("vehicle-km", "vehicle_km", ",.1f"),
        ("wall time of the run (s)", "run_s", ".1f"),
    ]
    for label, key, fmt in rows:
        vals = []
        for m in MODELS:
            v = s[m].get(key)
            if v is not None and key.endswith("_s") and key != "run_s":
                v = v / 60.0
            vals.append(_f(v, fmt))
        lines.append(f"| {label} | {vals[0]} | {vals[1]} |")
    lines += [
        "",
        "Vehicle travel time over free-flow time (the engine's speeds) and mean speed, by the hour a "
        "drive left and its main road class:",
        "",
        "| hour | road | drives BPR | time / free flow BPR | km/h BPR "
        "| drives SUMO | time / free flow SUMO | km/h SUMO |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["by_hour"]:
        lines.append(
            f"| {r['hour']:02d} | {r['road']} | {r['bpr_drives']} | {_f(r['bpr_ratio'], '.2f')} | "
            f"{_f(r['bpr_speed_kmh'], '.1f')} | {r['sumo_drives']} | {_f(r['sumo_ratio'], '.2f')} | "
            f"{_f(r['sumo_speed_kmh'], '.1f')} |"
        )
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Any) -> None:
    """Time over free flow by hour, BPR against SUMO, major and minor roads (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for road, style in (("major", "-"), ("minor", "--")):
        for model, colour in (("bpr", "tab:blue"), ("sumo", "tab:red")):
            pts = [
                (r["hour"], r[f"{model}_ratio"]) for r in result["by_hour"] if r["road"] == road and r[f"{model}_ratio"]
            ]
            if pts:
                hs, vs = zip(*pts, strict=True)
                ax.plot(hs, vs, style, color=colour, marker="o", ms=3, label=f"{model.upper()} {road}")
    ax.set_xlabel("hour of departure")
    ax.set_ylabel("drive time / free-flow time")
    ax.set_title(f"{result['scenario']}: vehicle travel times, BPR against SUMO")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
