"""Shared-taxi pooling in the Alonso-Mora setting (``mobility bench pooling``).

The Manhattan benchmark graph (Luo et al., PVLDB 2023; travel times read as tenths of a
second, about 36 km/h free flow) and its 200,000 requests of ``Manhattan.1.reqs``, which
carry no times: the file's k-th request gets the k-th earliest of 200,000 release times drawn
from the ``taxi_chicago`` day profile (:data:`sim.scenario.TAXI_CHICAGO`: the hourly shares of
the bundled Chicago taxi sample; the busiest hour, 19:00-20:00, holds 6.7 % of the day, about
13,400 requests). Every party is one passenger and asks to share.

The setting of Alonso-Mora et al. (PNAS 2017): 30 s batches; capacity 1 (no pooling), 2 and
4 with at most as many parties on board as seats (``max_parties = capacity``); a maximum wait
of 2, 5 or 7 min and a maximum delay (drop-off after request + direct time) of twice the wait,
no other detour limit; idle taxis rebalanced toward recent unserved requests (as their
paper's simple rebalancing). Taxis start at the 300 nodes of ``Manhattan.drv``, a larger
fleet's others at request origins drawn with the seed (:func:`sim.demand.taxi_start_nodes`),
empty, at the start of the simulated period.

* the grid: the busiest hour, fleets of 1,000, 2,000 and 3,000 taxis x capacities x waits;
* the day: 2,000 taxis of capacity 4, 5 min wait, the whole day.

Each point runs twice on the same demand: batch assignment and immediate insertion (each
request assigned at once to its cheapest taxi, never re-planned). Reported: served share,
mean wait, mean delay, vehicle-km (and the empty and rebalancing parts), mean occupancy
(passenger-km / vehicle-km), pooled share, batch compute time p50/p99/max (for insertion the
time of each request's insertion), wall time of the simulation, and the independent checks'
problems (:func:`sim.taxi_kpi.validate_taxi_day`, which must be none). Requests made in the
measured period count; the simulation goes on until every one of them is served or rejected.

Targets (issue 16): batch p99 under 3 s with 2,000 taxis at the peak on 2 cores; the whole
200,000-request day with 2,000 taxis simulated in under 30 minutes (batch mode). Anchors
(other demand, so compare the shape): Alonso-Mora et al. 2017, NYC taxi demand, 3,000
vehicles of capacity 4: 98 % served, mean wait 2.8 min, mean delay 3.5 min; Wallar et al.
2018 added rebalancing: 99.8 % served, mean wait 57 s.

``quick=True`` is a smoke test: 100 taxis, the first 10 minutes of the busiest hour with
every 20th request (about 110), capacity 4, 5 min wait, both modes; no target is judged.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common import machine_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"

FLEETS = (1000, 2000, 3000)
CAPACITIES = (1, 2, 4)
WAITS_MIN = (2, 5, 7)
#: The whole-day run: taxis, capacity, wait (min).
DAY = (2000, 4, 5)
SEED = 1
TOTAL_REQUESTS = 200_000
#: Target: batch compute p99 (s) with this many taxis at the peak.
TARGET_BATCH_P99_S = 3.0
TARGET_BATCH_FLEET = 2000
#: Target: wall time (s) of the whole day with :data:`DAY`'s fleet.
TARGET_DAY_S = 1800.0
#: The quick run: taxis, minutes of the busiest hour, one request in every this many, capacity, wait (min).
QUICK = {"vehicles": 100, "minutes": 10, "every": 20, "capacity": 4, "wait_min": 5}

ANCHORS = (
    {
        "source": "Alonso-Mora et al., PNAS 2017 (NYC taxi demand, 30 s batches)",
        "vehicles": 3000,
        "capacity": 4,
        "served_pct": 98.0,
        "mean_wait_min": 2.8,
        "mean_delay_min": 3.5,
    },
    {
        "source": "Wallar et al. 2018 (with rebalancing)",
        "vehicles": None,
        "capacity": None,
        "served_pct": 99.8,
        "mean_wait_min": round(57 / 60, 2),
        "mean_delay_min": None,
    },
)


#: The two ways of matching each point runs with.
MODES = ("batch", "insertion")


def params_for(capacity: int, wait_min: int, rebalance: bool = True) -> Any:
    """The Alonso-Mora setting's :class:`~matching.pooling.PoolingParams` (see the module docstring)."""
    from matching.pooling import PoolingParams

    return PoolingParams(
        capacity=capacity,
        max_parties=capacity,
        max_wait_s=60 * wait_min,
        max_delay_s=120 * wait_min,
        detour_factor=10.0,
        detour_s=7200,
        dwell_s=0,
        batch_s=30,
        rebalance=rebalance,
    )


@dataclasses.dataclass
class _World:
    network: Any
    router: Any
    times: Any
    demand: Any
    listed: np.ndarray
    peak_s: int


def warm_up() -> float:
    """Compile (or load from Numba's cache) the kernels a run uses, on a tiny synthetic day of both
    modes, before anything is timed; returns the seconds taken."""
    from matching.pooling.model import TaxiRequest, TaxiSpec
    from routing import Router, synthetic_city
    from routing import warm_up as warm_up_routing
    from sim.taxi import simulate_taxis
    from sim.taxi import warm_up as warm_up_taxis

    t0 = time.perf_counter()
    warm_up_routing()
    warm_up_taxis()
    net = synthetic_city(100, seed=3)
    router = Router(net)
    n = net.num_nodes
    fleet = [TaxiSpec(f"w{v}", (17 * v) % n) for v in range(3)]
    requests = [TaxiRequest(id=f"w{i}", origin=(7 * i) % n, destination=(7 * i + n // 2) % n, request_time_s=20 * i)
                for i in range(8)]  # fmt: skip
    for batch in (True, False):
        simulate_taxis(net, router, fleet, requests, params_for(4, 5), start_s=0, end_s=300, batch=batch)
    return time.perf_counter() - t0


def _world(data_dir: Path, seed: int) -> _World:
    from routing import HierarchyTimes, Router, read_manhattan
    from sim.demand import busiest_hour, read_start_nodes, taxi_demand_from_reqs
    from sim.scenario import TAXI_CHICAGO

    folder = data_dir / "rideshare" / "manhattan"
    network = read_manhattan(folder)
    router = Router.from_network(network)
    demand = taxi_demand_from_reqs(
        folder / "Manhattan.1.reqs",
        num_nodes=network.num_nodes,
        profile=TAXI_CHICAGO,
        start_s=0,
        end_s=86_400,
        seed=seed,
        total=TOTAL_REQUESTS,
    )
    listed = read_start_nodes(folder / "Manhattan.drv", network.num_nodes)
    return _World(network, router, HierarchyTimes(router), demand, listed, busiest_hour(demand.request_time_s))


def _run_point(
    world: _World,
    *,
    vehicles: int,
    capacity: int,
    wait_min: int,
    start_s: int,
    end_s: int,
    batch: bool,
    seed: int,
    every: int = 1,
    rebalance: bool = True,
) -> dict[str, Any]:
    from matching.pooling.model import TaxiSpec
    from sim.demand import taxi_start_nodes
    from sim.taxi import simulate_taxis, taxi_requests
    from sim.taxi_kpi import distribution, taxi_kpis, validate_taxi_day

    demand = world.demand.between(start_s, end_s)
    if every > 1:
        demand = demand.select(np.arange(demand.size) % every == 0)
    nodes = taxi_start_nodes(vehicles, listed=world.listed, origins=world.demand.origin, seed=seed)
    fleet = [TaxiSpec(f"taxi{v:04d}", int(n)) for v, n in enumerate(nodes.tolist())]
    params = params_for(capacity, wait_min, rebalance)
    t0 = time.perf_counter()
    out = simulate_taxis(
        world.network,
        world.router,
        fleet,
        taxi_requests(demand),
        params,
        start_s=start_s,
        end_s=end_s,
        batch=batch,
        times=world.times,
        name=f"pooling-{vehicles}-{capacity}-{wait_min}",
    )
    wall_s = time.perf_counter() - t0
    k = taxi_kpis(out)
    problems = validate_taxi_day(out)
    in_period = [b.compute_s for b in out.batches if start_s <= b.time_s < end_s]
    compute = distribution(in_period if batch else out.submit_s, digits=4, percentiles=(50, 99))
    served = k["requests"]["served_share"]
    wait, delay = k["wait_s"]["mean"], k["delay_s"]["mean"]
    return {
        "mode": ("batch" if batch else "insertion") + ("" if rebalance else ", no rebalancing"),
        "vehicles": vehicles,
        "capacity": capacity,
        "wait_min": wait_min,
        "requests": k["requests"]["total"],
        "served_pct": None if served is None else round(100 * served, 2),
        "rejected": k["requests"]["rejected"],
        "mean_wait_min": None if wait is None else round(wait / 60, 2),
        "mean_delay_min": None if delay is None else round(delay / 60, 2),
        "vehicle_km": k["vehicle_km"]["total"],
        "empty_km": k["vehicle_km"]["empty"],
        "rebalancing_km": k["vehicle_km"]["rebalancing"],
        "mean_occupancy": k["mean_occupancy"],
        "pooled_pct": None if k["pooled_share"] is None else round(100 * k["pooled_share"], 2),
        "compute_what": "batch" if batch else "insertion",
        "compute_p50_s": compute["p50"],
        "compute_p99_s": compute["p99"],
        "compute_max_s": compute["max"],
        "batches": len(in_period),
        "batch_status": k["batches"]["status"],
        "wall_s": round(wall_s, 2),
        "problems": len(problems),
        "first_problems": problems[:3],
    }


def steps(*, quick: bool, grid: Sequence[tuple[int, int, int]], day: bool, modes: int = 2) -> int:
    """Progress steps of a run: set-up, then one per mode and grid point (and per mode for the day)."""
    if quick:
        return 1 + modes
    return 1 + modes * len(grid) + (modes if day else 0)


def grid_points(
    fleets: Sequence[int] = FLEETS, capacities: Sequence[int] = CAPACITIES, waits_min: Sequence[int] = WAITS_MIN
) -> list[tuple[int, int, int]]:
    """The grid's points (vehicles, capacity, wait in minutes), checked."""
    from routing.errors import InvalidArgumentError

    for name, values, lo, hi in (("fleets", fleets, 1, 100_000), ("capacities", capacities, 1, 20),
                                 ("waits", waits_min, 1, 60)):  # fmt: skip
        for x in values:
            if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
                raise InvalidArgumentError(name, f"got {x!r}", f"whole numbers {lo} .. {hi}")
    return [(f, c, w) for f in fleets for c in capacities for w in waits_min]


def run(
    *,
    data_dir: Path,
    grid: Sequence[tuple[int, int, int]] = (),
    day: bool = False,
    quick: bool = False,
    seed: int = SEED,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    modes: Sequence[str] = MODES,
    rebalance: bool = True,
) -> dict[str, Any]:
    """Run the quick smoke test, or the ``grid`` points and (with ``day``) the whole day; write
    ``pooling.json`` and ``pooling.md`` into ``out_dir``. ``modes`` says which of batch
    matching and immediate insertion run at each point (both by default)."""
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        from routing.errors import InvalidArgumentError

        raise InvalidArgumentError("modes", f"got {list(modes)!r}", ", ".join(MODES))
    batches = [m == "batch" for m in MODES if m in modes]
    say = progress or (lambda _m: None)
    compile_s = warm_up()
    t0 = time.perf_counter()
    world = _world(data_dir, seed)
    setup_s = time.perf_counter() - t0
    say("set-up")
    peak = world.peak_s
    rows: list[dict[str, Any]] = []
    if quick:
        q = QUICK
        for batch in batches:
            row = _run_point(world, vehicles=q["vehicles"], capacity=q["capacity"], wait_min=q["wait_min"],
                             start_s=peak, end_s=peak + 60 * q["minutes"], batch=batch, seed=seed,
                             every=q["every"], rebalance=rebalance)  # fmt: skip
            rows.append({"run": "quick", **row})
            say(f"quick {row['mode']}")
    else:
        for vehicles, capacity, wait_min in grid:
            for batch in batches:
                row = _run_point(world, vehicles=vehicles, capacity=capacity, wait_min=wait_min, start_s=peak,
                                 end_s=peak + 3600, batch=batch, seed=seed, rebalance=rebalance)  # fmt: skip
                rows.append({"run": "peak hour", **row})
                say(f"{vehicles}x{capacity} {wait_min} min {row['mode']}")
        if day:
            vehicles, capacity, wait_min = DAY
            for batch in batches:
                row = _run_point(world, vehicles=vehicles, capacity=capacity, wait_min=wait_min, start_s=0,
                                 end_s=86_400, batch=batch, seed=seed, rebalance=rebalance)  # fmt: skip
                rows.append({"run": "day", **row})
                say(f"day {row['mode']}")
    result = {
        "benchmark": "pooling",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info("ortools"),
        "quick": quick,
        "seed": seed,
        "network": {"nodes": world.network.num_nodes, "edges": world.network.num_edges},
        "demand": {
            "file": "Manhattan.1.reqs",
            "requests": world.demand.size,
            "profile": "taxi_chicago",
            "busiest_hour_start_s": peak,
            "busiest_hour_requests": int(world.demand.between(peak, peak + 3600).size),
        },
        "warm_up_s": round(compile_s, 2),
        "setup_s": round(setup_s, 2),
        "runs": rows,
        "targets": _targets(rows, quick),
        "anchors": list(ANCHORS),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pooling.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "pooling.md").write_text(to_markdown(result))
    return result


def _targets(rows: list[dict[str, Any]], quick: bool) -> dict[str, Any]:
    """Each target's verdict: True (met), False (not met) or None (not measured by this run)."""
    peak = [r for r in rows if r["run"] == "peak hour" and r["mode"] == "batch" and r["vehicles"] == TARGET_BATCH_FLEET]
    p99 = [r["compute_p99_s"] for r in peak if r["compute_p99_s"] is not None]
    day = [r for r in rows if r["run"] == "day" and r["mode"] == "batch"]
    return {
        "batch_p99": {
            "target": f"batch compute p99 < {TARGET_BATCH_P99_S:g} s with {TARGET_BATCH_FLEET:,} taxis at the peak",
            "measured_s": max(p99) if p99 else None,
            "met": None if quick or not p99 else max(p99) < TARGET_BATCH_P99_S,
        },
        "day_wall": {
            "target": f"the whole day with {DAY[0]:,} taxis simulated in < {TARGET_DAY_S / 60:g} min",
            "measured_s": day[0]["wall_s"] if day else None,
            "met": None if quick or not day else day[0]["wall_s"] < TARGET_DAY_S,
        },
    }


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def to_markdown(result: dict[str, Any]) -> str:
    m, d = result["machine"], result["demand"]
    hour = d["busiest_hour_start_s"] // 3600
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores). Manhattan graph, {d['requests']:,} requests "
        f"of {d['file']} over a day (profile {d['profile']}); busiest hour {hour:02d}:00-{hour + 1:02d}:00 with "
        f"{d['busiest_hour_requests']:,} requests. Capacity c with at most c parties; maximum delay twice the wait; "
        "30 s batches; rebalancing on. Compute: per batch (batch mode) or per request (insertion). "
        f"Wall: the simulation, dispatcher included; Numba warm-up ({result['warm_up_s']:.1f} s) and loading "
        f"the graph and demand ({result['setup_s']:.1f} s) are not.",
        "",
        "| run | taxis | cap | wait | mode | requests | served | mean wait | mean delay | veh-km | occupancy "
        "| pooled | compute p50 / p99 / max | wall | problems |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['run']} | {r['vehicles']:,} | {r['capacity']} | {r['wait_min']} min | {r['mode']} | "
            f"{r['requests']:,} | {_cell(r['served_pct'])} % | {_cell(r['mean_wait_min'])} min | "
            f"{_cell(r['mean_delay_min'])} min | {_cell(r['vehicle_km'], 0)} | {_cell(r['mean_occupancy'])} | "
            f"{_cell(r['pooled_pct'], 1)} % | {_cell(r['compute_p50_s'], 3)} / {_cell(r['compute_p99_s'], 3)} / "
            f"{_cell(r['compute_max_s'], 3)} s | {_cell(r['wall_s'], 1)} s | {r['problems']} |"
        )
    lines += ["", "Anchors (other demand: compare the shape):", ""]
    for a in result["anchors"]:
        fleet = f"{a['vehicles']:,} vehicles of capacity {a['capacity']}: " if a["vehicles"] else ""
        delay = f", mean delay {a['mean_delay_min']} min" if a["mean_delay_min"] is not None else ""
        lines.append(f"- {a['source']}: {fleet}{a['served_pct']} % served, mean wait {a['mean_wait_min']} min{delay}")
    lines += ["", "Targets:", ""]
    for t in result["targets"].values():
        verdict = {True: "**met**", False: "**not met**", None: "not measured by this run"}[t["met"]]
        measured = f" (measured {t['measured_s']:.2f} s)" if t["measured_s"] is not None else ""
        lines.append(f"- {t['target']}: {verdict}{measured}")
    if result["quick"]:
        lines += ["", "**Quick run** (a smoke test of 100 taxis over ten minutes): no verdict on the targets."]
    return "\n".join(lines) + "\n"
