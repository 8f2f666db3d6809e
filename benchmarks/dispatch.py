"""Dispatch latency benchmark: ``Dispatcher.quote`` with 16, 300 and 3,000 vehicles.

On the Manhattan benchmark graph every node is a stop. Its travel times are read with
``time_unit_s = 0.1`` (the file's unit is not stated; read as seconds, vehicles would crawl
at 3.6 km/h, read as tenths of a second they drive at about 36 km/h). For each fleet size
the benchmark books requests from ``Manhattan.2.reqs`` in time order, letting the vehicles
carry out their plans (autopilot), at a demand of twelve requests per vehicle and hour,
until the schedules are in a steady state (one simulated hour); then it times the next
requests one by one: the quote (``quote``: snapping, filters, exact insertion into
every candidate vehicle, fare) and the booking. Numba compile time is measured apart.

A quick run (``quick=True``, ``mobility bench dispatch --quick``: fleets of 16 and 100, 200
timed requests after a quarter of an hour) is a smoke test: it gives no verdict on the target
(quote p99 under 5 ms at 300 vehicles in a steady state).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: A quick run's defaults: fleet sizes, timed requests per fleet and the warm-up (simulated hours).
QUICK_FLEETS = (16, 100)
QUICK_MEASURED = 200
QUICK_WARMUP_HOURS = 0.25


def _read_requests(path: Path) -> np.ndarray:
    data = np.loadtxt(path, dtype=np.int64, ndmin=2)
    return data[:, 1:3]


def bench_fleet(
    dispatcher_factory: Callable[[int], Any],
    pairs: np.ndarray,
    *,
    vehicles: int,
    measured: int,
    warmup_hours: float,
    rate_per_vehicle_h: float,
    seed: int,
) -> dict[str, Any]:
    from matching import Request

    rng = np.random.default_rng(seed)
    disp = dispatcher_factory(vehicles)
    rate = rate_per_vehicle_h * vehicles / 3600.0
    t = 7 * 3600.0
    start = t
    k = 0
    booked = rejected = 0
    quote_ms: list[float] = []
    book_ms: list[float] = []
    cands: list[int] = []
    stops_per_vehicle: list[float] = []
    total = int(warmup_hours * 3600 * rate) + measured
    while k < total:
        t += rng.exponential(1.0 / rate)
        now = int(t)
        disp.advance_to(now)
        o, d = (int(x) for x in pairs[k % len(pairs)])
        if o == d:
            k += 1
            continue
        req = Request(id=f"r{k}", requested_time_s=now + int(rng.integers(0, 900)), origin_stop=o, destination_stop=d)
        timing = k >= total - measured
        if timing:
            stops_per_vehicle.append(float(np.mean(disp.plan.stop_counts())))
        q0 = time.perf_counter()
        answer = disp.quote(req, now)
        q1 = time.perf_counter()
        if hasattr(answer, "offer_id"):
            disp.book(answer.offer_id, now)
            q2 = time.perf_counter()
            booked += 1
            if timing:
                book_ms.append((q2 - q1) * 1000)
        else:
            rejected += 1
        if timing:
            quote_ms.append((q1 - q0) * 1000)
            cands.append(int(disp.last_quote_candidates))
        k += 1
    return {
        "vehicles": vehicles,
        "requests": total,
        "booked_share": round(booked / max(1, booked + rejected), 3),
        "simulated_hours": round((t - start) / 3600, 2),
        "planned_stops_per_vehicle": round(float(np.mean(stops_per_vehicle)), 2),
        "candidate_vehicles": round(float(np.mean(cands)), 1),
        "quote_p50_ms": round(float(np.percentile(quote_ms, 50)), 3),
        "quote_p99_ms": round(float(np.percentile(quote_ms, 99)), 3),
        "book_p50_ms": round(float(np.percentile(book_ms, 50)), 3) if book_ms else None,
        "book_p99_ms": round(float(np.percentile(book_ms, 99)), 3) if book_ms else None,
        "measured": len(quote_ms),
    }


def run(
    *,
    data_dir: Path,
    fleets: tuple[int, ...] = (16, 300, 3000),
    measured: int = 2000,
    warmup_hours: float = 1.0,
    rate_per_vehicle_h: float = 12.0,
    seed: int = 0,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Run the latency benchmark and write ``dispatch.json`` and ``dispatch.md``.

    ``quick`` marks a smoke test (see the module docstring): the figures are reported, the
    target is not judged."""
    from matching import ServiceParams, VehicleState
    from matching.dispatcher import Dispatcher
    from routing import Router, all_node_stops, read_manhattan

    from .common import machine_info

    say = progress or (lambda _m: None)
    folder = data_dir / "rideshare" / "manhattan"
    say("loading Manhattan and its stop matrix")
    net = read_manhattan(folder, time_unit_s=0.1)
    router = Router(net)
    stops = all_node_stops(net)
    t0 = time.perf_counter()
    matrix = router.matrix(stops.node, stops.node).astype(np.float64)
    matrix_s = time.perf_counter() - t0
    pairs = _read_requests(folder / "Manhattan.2.reqs")
    params = ServiceParams(max_wait_s=600, service_start_s=0, service_end_s=24 * 3600 - 1)
    rng = np.random.default_rng(seed)

    def factory(k: int) -> Any:
        depots = rng.integers(0, net.num_nodes, k)
        fleet = [
            VehicleState(
                id=f"v{i}",
                seats=8,
                wheelchair_places=0,
                depot_stop=int(depots[i]),
                shift_start_s=6 * 3600,
                shift_end_s=23 * 3600,
            )
            for i in range(k)
        ]
        return Dispatcher(net, router, stops, fleet, params=params, travel_time_s=matrix, seed=seed)

    say("compiling (warm-up)")
    t0 = time.perf_counter()
    bench_fleet(factory, pairs, vehicles=4, measured=20, warmup_hours=0.05, rate_per_vehicle_h=4.0, seed=seed)
    compile_s = time.perf_counter() - t0
    rows = []
    for k in fleets:
        say(f"{k} vehicles")
        rows.append(
            bench_fleet(
                factory,
                pairs,
                vehicles=k,
                measured=measured,
                warmup_hours=warmup_hours,
                rate_per_vehicle_h=rate_per_vehicle_h,
                seed=seed,
            )
        )
    result = {
        "benchmark": "dispatch",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info("numpy", "numba"),
        "graph": {"name": net.name, "nodes": net.num_nodes, "stops": len(stops), "matrix_s": round(matrix_s, 3)},
        "compile_s": round(compile_s, 2),
        "quick": quick,
        "measured": measured,
        "warmup_hours": warmup_hours,
        "fleets": rows,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dispatch.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "dispatch.md").write_text(to_markdown(result))
    return result


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    g = result["graph"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores), one thread. Manhattan graph, "
        f"{g['stops']:,} stops (every node); stop-to-stop matrix in {g['matrix_s']:.2f} s; "
        f"Numba warm-up {result['compile_s']:.1f} s.",
        "",
        "| vehicles | planned stops per vehicle | candidate vehicles per request | booked | "
        "quote p50 | quote p99 | booking p50 | booking p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["fleets"]:
        lines.append(
            f"| {r['vehicles']:,} | {r['planned_stops_per_vehicle']} | {r['candidate_vehicles']} | "
            f"{100 * r['booked_share']:.0f}% | {r['quote_p50_ms']:.2f} ms | {r['quote_p99_ms']:.2f} ms | "
            f"{r['book_p50_ms']:.2f} ms | {r['book_p99_ms']:.2f} ms |"
        )
    target = next((r for r in result["fleets"] if r["vehicles"] == 300), None)
    if result.get("quick"):
        lines += [
            "",
            f"**Quick run** ({result['measured']} timed requests per fleet after "
            f"{result['warmup_hours']:g} h of bookings): a smoke test, no verdict on the target "
            "(quote p99 under 5 ms at 300 vehicles in a steady state).",
        ]
    elif target:
        met = target["quote_p99_ms"] < 5.0
        lines += [
            "",
            f"Target: p99 under 5 ms at 300 vehicles — {target['quote_p99_ms']:.2f} ms, "
            f"**{'met' if met else 'not met'}**.",
        ]
    return "\n".join(lines) + "\n"
