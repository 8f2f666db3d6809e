"""Dispatch latency and memory benchmark: ``Dispatcher.quote`` with 16, 300 and 3,000 vehicles.

Two graphs. On the Manhattan benchmark graph every node is a stop. Its travel times are read
with ``time_unit_s = 0.1`` (the file's unit is not stated; read as seconds, vehicles would
crawl at 3.6 km/h, read as tenths of a second they drive at about 36 km/h). It runs twice:
with the stop-by-stop matrix given to the dispatcher (the way every dispatcher worked before
the location pool: 150 MB) and with the dispatcher's own :class:`~routing.LocationPool`
(travel times of the stops in use only, from the contraction hierarchy). The synthetic city
of ``bench paths`` (``routing.synthetic_city(100_000)``) with virtual stops every 200 m has
tens of thousands of stops, whose matrix would take gigabytes: it runs with the pool only, and
the matrix's size is computed, not allocated. Its requests join a random stop to a stop 1 to 6 km
away (straight line).

For each fleet size the benchmark books requests in time order, letting the vehicles carry out
their plans (autopilot), at a demand of twelve requests per vehicle and hour, until the
schedules are in a steady state (one simulated hour); then it times the next requests one by
one: the quote (``quote``: snapping, filters, exact insertion into every candidate vehicle,
fare, and the travel times of stops new to the pool) and the booking. Numba compile time is
measured apart. Memory is the peak traced by ``tracemalloc`` (what numpy and Python allocated:
the matrix or the pool with its buckets, the plan, the rides) from just before the dispatcher
(and its matrix) is made to the end of the warm-up hour; the network and its hierarchy, loaded
before, are not counted. Tracing is off while requests are timed.

A quick run (``quick=True``, ``mobility bench dispatch --quick``: fleets of 16 and 100, 200
timed requests after a quarter of an hour, a 20,000-node synthetic city with 16 vehicles) is a
smoke test: it gives no verdict on the target (quote p99 under 5 ms at 300 vehicles in a steady
state).
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
#: Virtual stops of the synthetic city: one every 200 m (thousands of stops, a matrix of gigabytes).
CITY_STOP_SPACING_M = 200.0


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
    import tracemalloc

    from matching import Request

    rng = np.random.default_rng(seed)
    tracemalloc.start()
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
    peak_bytes = 0
    computed_before = 0
    pool = disp.plan.pool
    while k < total:
        if tracemalloc.is_tracing() and k >= total - measured:
            peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            computed_before = pool.computed
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
    if tracemalloc.is_tracing():
        peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    pool = disp.plan.pool
    new_stops = (pool.computed - computed_before) / max(1, len(quote_ms))
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
        "peak_traced_mb": round(peak_bytes / 1e6, 1),
        "pool_slots": None if pool.identity else pool.capacity,
        "pool_peak_referenced": None if pool.identity else pool.peak_referenced,
        "pool_mb": None if pool.identity else round(pool.nbytes / 1e6, 1),
        "new_stops_per_quote": None if pool.identity else round(new_stops, 3),
    }


def _city_pairs(stops: Any, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` (origin, destination) stop pairs: a random stop, and the stop nearest a point 1 to
    6 km away from it in a random direction (redrawn when that is the origin itself)."""
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([stops.x_m, stops.y_m]))
    origin = rng.integers(0, len(stops), count)
    angle = rng.uniform(0.0, 2 * np.pi, count)
    radius = rng.uniform(1000.0, 6000.0, count)
    x = stops.x_m[origin] + radius * np.cos(angle)
    y = stops.y_m[origin] + radius * np.sin(angle)
    _, dest = tree.query(np.column_stack([x, y]))
    pairs = np.column_stack([origin, dest]).astype(np.int64)
    return pairs[pairs[:, 0] != pairs[:, 1]]


def _graph_section(
    *,
    label: str,
    net: Any,
    router: Any,
    stops: Any,
    pairs: np.ndarray,
    modes: tuple[str, ...],
    fleets: tuple[int, ...],
    measured: int,
    warmup_hours: float,
    rate_per_vehicle_h: float,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One graph: every fleet size with each mode (``"matrix"``: the stop matrix given to the
    dispatcher; ``"pool"``: its location pool)."""
    from matching import ServiceParams, VehicleState
    from matching.dispatcher import Dispatcher

    params = ServiceParams(max_wait_s=600, service_start_s=0, service_end_s=24 * 3600 - 1)
    s = len(stops)
    info: dict[str, Any] = {
        "name": label,
        "nodes": net.num_nodes,
        "stops": s,
        "stop_matrix_mb": round(s * s * 8 / 1e6, 1),  # float64, as the dispatcher held it
        "rows": [],
    }

    def factory_for(mode: str) -> Callable[[int], Any]:
        def factory(k: int) -> Any:
            depots = np.random.default_rng([seed, k]).integers(0, s, k)  # the same for every mode
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
            matrix = None
            if mode == "matrix":
                t0 = time.perf_counter()
                matrix = router.matrix(stops.node, stops.node).astype(np.float64)
                info["matrix_s"] = round(time.perf_counter() - t0, 3)
            return Dispatcher(net, router, stops, fleet, params=params, travel_time_s=matrix, seed=seed)

        return factory

    for mode in modes:
        for k in fleets:
            say(f"{label}: {k} vehicles, {mode}")
            row = bench_fleet(
                factory_for(mode),
                pairs,
                vehicles=k,
                measured=measured,
                warmup_hours=warmup_hours,
                rate_per_vehicle_h=rate_per_vehicle_h,
                seed=seed,
            )
            info["rows"].append({"mode": mode, **row})
    return info


def run(
    *,
    data_dir: Path,
    fleets: tuple[int, ...] = (16, 300, 3000),
    measured: int = 2000,
    warmup_hours: float = 1.0,
    rate_per_vehicle_h: float = 12.0,
    seed: int = 0,
    city_nodes: int | None = None,
    city_fleets: tuple[int, ...] | None = None,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Run the benchmark and write ``dispatch.json`` and ``dispatch.md``.

    ``city_nodes``: nodes of the synthetic city (default 100,000; 20,000 in a quick run);
    ``city_fleets``: its fleet sizes (default ``fleets``; in a quick run the first only).
    ``quick`` marks a smoke test (see the module docstring): the figures are reported, the
    target is not judged."""
    from matching import ServiceParams, VehicleState
    from matching.dispatcher import Dispatcher
    from routing import Router, all_node_stops, read_manhattan, synthetic_city, virtual_stops

    from .common import machine_info

    say = progress or (lambda _m: None)
    folder = data_dir / "rideshare" / "manhattan"
    say("loading Manhattan")
    net = read_manhattan(folder, time_unit_s=0.1)
    router = Router(net)
    stops = all_node_stops(net)
    pairs = _read_requests(folder / "Manhattan.2.reqs")

    say("compiling (warm-up)")
    t0 = time.perf_counter()
    warm_params = ServiceParams(max_wait_s=600, service_start_s=0, service_end_s=24 * 3600 - 1)

    def warm_factory(k: int) -> Any:
        fleet = [
            VehicleState(
                id=f"w{i}", seats=8, wheelchair_places=0, depot_stop=i, shift_start_s=6 * 3600, shift_end_s=23 * 3600
            )
            for i in range(k)
        ]
        return Dispatcher(net, router, stops, fleet, params=warm_params, seed=seed)

    bench_fleet(warm_factory, pairs, vehicles=4, measured=20, warmup_hours=0.05, rate_per_vehicle_h=4.0, seed=seed)
    compile_s = time.perf_counter() - t0
    options = {
        "measured": measured,
        "warmup_hours": warmup_hours,
        "rate_per_vehicle_h": rate_per_vehicle_h,
        "seed": seed,
        "say": say,
    }
    graphs = [
        _graph_section(
            label="Manhattan",
            net=net,
            router=router,
            stops=stops,
            pairs=pairs,
            modes=("matrix", "pool"),
            fleets=fleets,
            **options,  # type: ignore[arg-type]
        )
    ]
    nodes = city_nodes or (20_000 if quick else 100_000)
    say(f"synthetic city of {nodes:,} nodes: network and hierarchy")
    city = synthetic_city(nodes, seed=0)
    t0 = time.perf_counter()
    city_router = Router.from_network(city)
    hierarchy_s = time.perf_counter() - t0
    city_stops = virtual_stops(city, spacing_m=CITY_STOP_SPACING_M)
    city_pairs = _city_pairs(city_stops, 200_000, np.random.default_rng(seed))
    section = _graph_section(
        label=f"synthetic city {city.num_nodes:,} nodes",
        net=city,
        router=city_router,
        stops=city_stops,
        pairs=city_pairs,
        modes=("pool",),
        fleets=city_fleets or (fleets[:1] if quick else fleets),
        **options,  # type: ignore[arg-type]
    )
    section["hierarchy_s"] = round(hierarchy_s, 2)
    graphs.append(section)
    result = {
        "benchmark": "dispatch",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info("numpy", "numba"),
        "compile_s": round(compile_s, 2),
        "quick": quick,
        "measured": measured,
        "warmup_hours": warmup_hours,
        "graphs": graphs,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dispatch.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "dispatch.md").write_text(to_markdown(result))
    return result


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} ms"


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores), one thread; Numba warm-up "
        f"{result['compile_s']:.1f} s. Travel times: the stop-by-stop matrix given to the dispatcher "
        '("stop matrix", as before), or the dispatcher\'s location pool ("pool": the stops in use, '
        "from the contraction hierarchy). Memory: peak traced by tracemalloc from making the dispatcher "
        "to the end of the warm-up hour (network and hierarchy not counted).",
        "",
        "| graph | stops (matrix size) | travel times | vehicles | planned stops per vehicle | "
        "candidate vehicles | booked | quote p50 | quote p99 | booking p50 | booking p99 | "
        "stops new to the pool per request | pool slots (peak in use) | peak memory |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in result["graphs"]:
        for r in g["rows"]:
            pooled = r["mode"] == "pool"
            slots = f"{r['pool_slots']:,} ({r['pool_peak_referenced']:,})" if pooled else ""
            lines.append(
                f"| {g['name']} | {g['stops']:,} ({g['stop_matrix_mb']:,.0f} MB) | "
                f"{'pool' if pooled else 'stop matrix'} | {r['vehicles']:,} | {r['planned_stops_per_vehicle']} | "
                f"{r['candidate_vehicles']} | {100 * r['booked_share']:.0f}% | {_ms(r['quote_p50_ms'])} | "
                f"{_ms(r['quote_p99_ms'])} | {_ms(r['book_p50_ms'])} | {_ms(r['book_p99_ms'])} | "
                f"{r['new_stops_per_quote'] if pooled else ''} | {slots} | {r['peak_traced_mb']:,.1f} MB |"
            )
    notes = []
    for g in result["graphs"]:
        if "matrix_s" in g:
            notes.append(f"{g['name']}: the stop matrix took {g['matrix_s']:.2f} s to compute.")
        if "hierarchy_s" in g:
            notes.append(f"{g['name']}: hierarchy built or loaded in {g['hierarchy_s']:.1f} s.")
    lines += ["", " ".join(notes)]
    target = next(
        (r for r in result["graphs"][0]["rows"] if r["vehicles"] == 300 and r["mode"] == "pool"),
        None,
    )
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
            f"Target: p99 under 5 ms at 300 vehicles (Manhattan, pool) — {target['quote_p99_ms']:.2f} ms, "
            f"**{'met' if met else 'not met'}**.",
        ]
    return "\n".join(lines) + "\n"
