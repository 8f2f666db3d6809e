"""One shared-taxi batch at Manhattan scale: how long the trip search takes and how big it gets.

A synthetic batch on the Manhattan benchmark graph (travel times by the contraction hierarchy,
:class:`~routing.traveltime.HierarchyTimes`; no matrix): ``num_taxis`` taxis at random nodes,
a third of them with one or two riders on board (picked up at the taxi's node within the last
minute, bound for a destination of ``Manhattan.1.reqs``), a third with one assigned request
(a request of the file whose origin the taxi reaches within three minutes), and ``num_open``
open requests drawn from ``Manhattan.1.reqs``; the rules are the Alonso-Mora setting (wait at
most 300 s, delay at most 600 s), with 4 seats and at most 2 or 4 parties on board.

For each batch it times :func:`matching.pooling.trips.search_trips`: fetching the travel
times, the request-vehicle and request-request graphs, the EMPTY and CURRENT trips, and the
growth of trips of each size; it counts the trips and reports the memory the batch's arrays
took (the travel times fetched, the graphs' working arrays, the trips; NumPy's share traced by
:mod:`tracemalloc`). Numba's compile time (or cache load) is measured apart, before anything
is timed. Target: the whole batch (trips and assignment) under 3 s at p99 on 2 cores, so the
trips well under 1.5 s.

Run it with ``python -m benchmarks.pooling_batch`` (``--help`` for the options), or call
:func:`run` (``mobility bench pooling``).
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

#: The batch's clock (08:00) and the riders' limits (the Alonso-Mora setting).
NOW_S = 8 * 3600
MAX_WAIT_S = 300
MAX_DELAY_S = 600


def _read_pairs(path: Path, node_of_id: dict[int, int]) -> np.ndarray:
    data = np.loadtxt(path, dtype=np.int64, ndmin=2)[:, 1:3]
    keep = [(node_of_id[o], node_of_id[d]) for o, d in data.tolist() if o != d and o in node_of_id and d in node_of_id]
    return np.asarray(keep, np.int64)


def synthetic_batch(
    router: Any, pairs: np.ndarray, params: Any, *, num_taxis: int, num_open: int, seed: int
) -> tuple[Any, Any]:
    """The batch described in the module docstring (``BatchRequests``, ``BatchVehicles``)."""
    from matching.pooling import ASSIGNED, ONBOARD, OPEN, BatchRequests, BatchVehicles

    rng = np.random.default_rng(seed)
    n = router.network.num_nodes
    node = rng.integers(0, n, num_taxis)
    time_s = NOW_S + rng.integers(0, 20, num_taxis)
    third = num_taxis // 3
    rows: dict[str, list[Any]] = {name: [] for name in BatchRequests.__annotations__}

    def add(o: int, d: int, state: int, vehicle: int, made: int, picked: int) -> None:
        direct = int(router.travel_time(o, d))
        for name, value in (
            ("origin", o),
            ("destination", d),
            ("passengers", 1 if rng.random() < 0.8 else 2),
            ("earliest_pickup", made),
            ("latest_pickup", made + params.max_wait_s),
            ("latest_dropoff", made + direct + params.max_delay_s),
            ("max_ride", params.max_ride_s(direct)),
            ("direct", direct),
            ("solo", bool(rng.random() < 0.1)),
            ("state", state),
            ("vehicle", vehicle),
            ("picked_at", picked),
        ):
            rows[name].append(value)

    # on board: one or two riders each, picked up at the taxi's node within the last minute
    for v in range(third):
        for _ in range(int(rng.integers(1, 3))):
            d = int(pairs[rng.integers(0, len(pairs)), 1])
            if d == node[v]:
                continue
            picked = NOW_S - int(rng.integers(0, 60))
            add(int(node[v]), d, ONBOARD, v, picked - int(rng.integers(0, MAX_WAIT_S)), picked)
            if rows["solo"][-1]:  # a solo rider rides alone
                break
    # assigned: a request whose origin the taxi reaches within three minutes
    taxis = np.arange(third, 2 * third)
    picks = pairs[rng.integers(0, len(pairs), taxis.size)]
    for _ in range(8):
        reach = np.asarray(router.travel_time(node[taxis], picks[:, 0]))
        far = reach > 180
        if not far.any():
            break
        node[taxis[far]] = rng.integers(0, n, int(far.sum()))
    reach = np.asarray(router.travel_time(node[taxis], picks[:, 0]))
    node[taxis[reach > 180]] = picks[reach > 180, 0]
    for v, (o, d) in zip(taxis.tolist(), picks.tolist(), strict=True):
        add(o, d, ASSIGNED, v, NOW_S - int(rng.integers(0, 120)), -1)
    # open requests, made within the last batch window
    for o, d in pairs[rng.choice(len(pairs), num_open, replace=False)].tolist():
        add(o, d, OPEN, -1, NOW_S - int(rng.integers(0, 30)), -1)
    arrays: dict[str, Any] = {
        name: np.asarray(values, np.bool_ if name == "solo" else np.int8 if name == "state" else np.int64)
        for name, values in rows.items()
    }
    requests = BatchRequests(**arrays)
    vehicles = BatchVehicles(
        node.astype(np.int64),
        time_s.astype(np.int64),
        np.full(num_taxis, params.capacity, np.int64),
        np.ones(num_taxis, np.bool_),
    )
    return requests, vehicles


def run(
    data_dir: Path = DEFAULT_DATA_DIR,
    *,
    num_taxis: int = 2000,
    num_open: int = 150,
    batches: int = 5,
    parties: Sequence[int] = (2, 4),
    budget_s: float = 1.0,
    seed: int = 0,
    out_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Time ``batches`` synthetic batches per setting (4 seats, each of ``parties``); returns the
    results as a dictionary, and writes ``pooling_batch.json`` and ``.md`` into ``out_dir`` when given.

    ``budget_s`` is the trip search's time budget (``trip_time_budget_s``); a batch that hits it
    is reported (``cut``), so run with a large budget to see the whole search."""
    from matching.pooling import PoolingParams
    from matching.pooling.trips import search_trips, warm_up
    from routing import HierarchyTimes, Router, read_manhattan

    from .common import machine_info

    say = progress or (lambda _m: None)
    folder = data_dir / "rideshare" / "manhattan"
    net = read_manhattan(folder)
    router = Router.from_network(net)
    node_of_id = {int(i): k for k, i in enumerate(net.osm_id.tolist())}
    pairs = _read_pairs(folder / "Manhattan.1.reqs", node_of_id)
    t = time.perf_counter()
    compile_s = warm_up()
    say(f"kernels ready in {compile_s:.1f} s")
    settings = []
    for max_parties in parties:
        params = PoolingParams(
            capacity=4,
            max_parties=max_parties,
            max_wait_s=MAX_WAIT_S,
            max_delay_s=MAX_DELAY_S,
            trip_time_budget_s=budget_s,
        )
        runs = []
        for b in range(batches):
            requests, vehicles = synthetic_batch(
                router, pairs, params, num_taxis=num_taxis, num_open=num_open, seed=seed + b
            )
            times = HierarchyTimes(router)
            tracemalloc.start()
            trips, stats = search_trips(requests, vehicles, times, params)
            _, traced = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            candidates = int(np.count_nonzero(requests.state != 2))
            # working arrays made inside the kernels (not traced): the request-request flags
            # (C x C), the request-vehicle graph's edges before the request cap (3 x V x cpv)
            kernel_bytes = candidates * candidates + 24 * num_taxis * min(params.candidates_per_vehicle, candidates)
            runs.append(
                {
                    "requests": requests.size,
                    "candidates": candidates,
                    "onboard": int(np.count_nonzero(requests.state == 2)),
                    "total_s": stats.total_s,
                    "gather_s": stats.gather_s,
                    "rv_s": stats.rv_s,
                    "rr_s": stats.rr_s,
                    "fixed_s": stats.fixed_s,
                    "grow_s": list(stats.grow_s),
                    "rv_edges": stats.rv_edges,
                    "rr_pairs": stats.rr_pairs,
                    "trips": trips.size,
                    "trips_by_size": list(stats.trips_by_size),
                    "checked_by_size": list(stats.checked_by_size),
                    "cut": stats.cut_by_deadline,
                    "vehicles_at_limit": stats.vehicles_at_limit,
                    "travel_time_mb": stats.travel_time_bytes / 1e6,
                    "traced_peak_mb": traced / 1e6,
                    "kernel_mb": kernel_bytes / 1e6,
                    "trips_mb": sum(x.nbytes for x in trips) / 1e6,
                }
            )
            say(
                f"parties {max_parties} batch {b}: {stats.total_s:.2f} s, {trips.size:,} trips "
                f"(gather {stats.gather_s:.2f}, rv {stats.rv_s:.2f}, rr {stats.rr_s:.2f}, "
                f"grow {', '.join(f'{x:.2f}' for x in stats.grow_s)}; checked {stats.checked_by_size})"
            )
        totals = np.array([r["total_s"] for r in runs])
        settings.append(
            {
                "capacity": 4,
                "max_parties": max_parties,
                "batches": runs,
                "total_p50_s": float(np.percentile(totals, 50)),
                "total_max_s": float(totals.max()),
            }
        )
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "taxis": num_taxis,
        "open": num_open,
        "budget_s": budget_s,
        "compile_s": compile_s,
        "wall_s": time.perf_counter() - t,
        "settings": settings,
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "pooling_batch.json").write_text(json.dumps(result, indent=2) + "\n")
        (out_dir / "pooling_batch.md").write_text(to_markdown(result))
    return result


def to_markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown table (medians over the batches of each setting)."""
    m = result["machine"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores). Manhattan graph, contraction-hierarchy "
        f"travel times; {result['taxis']:,} taxis (a third with riders on board, a third with an assigned "
        f"request), {result['open']} open requests; wait 300 s, delay 600 s, 4 seats; trip budget "
        f"{result['budget_s']:g} s. Kernels ready (compile or cache) in {result['compile_s']:.1f} s, apart.",
        "",
        "| parties | travel times | RV graph | RR graph | EMPTY+CURRENT | grow (by size) | trips total | "
        "trips | by size | RV edges | RR pairs | memory | cut |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---|",
    ]
    for s in result["settings"]:
        runs = s["batches"]

        def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return float(np.median([r[key] for r in runs]))

        levels = max(len(r["grow_s"]) for r in runs)
        grow = [
            float(np.median([r["grow_s"][k] if k < len(r["grow_s"]) else 0.0 for r in runs])) for k in range(levels)
        ]
        sizes = [
            int(np.median([r["trips_by_size"][k] if k < len(r["trips_by_size"]) else 0 for r in runs]))
            for k in range(levels)
        ]
        mem = med("travel_time_mb") + med("traced_peak_mb") + med("kernel_mb")
        lines.append(
            f"| {s['max_parties']} | {med('gather_s'):.2f} s | {med('rv_s'):.3f} s | {med('rr_s'):.3f} s | "
            f"{med('fixed_s'):.3f} s | {' / '.join(f'{x:.2f}' for x in grow)} s | "
            f"{s['total_p50_s']:.2f} s (max {s['total_max_s']:.2f}) | {int(med('trips')):,} | "
            f"{' / '.join(f'{x:,}' for x in sizes)} | {int(med('rv_edges')):,} | {int(med('rr_pairs')):,} | "
            f"{mem:.0f} MB | {sum(r['cut'] for r in runs)}/{len(runs)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the shared data folder")
    parser.add_argument("--taxis", type=int, default=2000)
    parser.add_argument("--open", type=int, default=150)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="trip search budget (s)")
    parser.add_argument("--parties", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--out", type=Path, default=None, help="write pooling_batch.json and .md here")
    args = parser.parse_args(argv)
    result = run(
        args.data,
        num_taxis=args.taxis,
        num_open=args.open,
        batches=args.batches,
        parties=args.parties,
        budget_s=args.budget,
        out_dir=args.out,
        progress=print,
    )
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
