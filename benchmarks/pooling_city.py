"""The shared taxi on a city where no travel-time matrix fits: the 100,000-node synthetic city.

Issue 16 asks to show both dispatchers on the synthetic city of ``bench paths``
(``routing.synthetic_city(100_000)``), with peak memory and quote latency; this is the I-MOA
half (the I-MOD half is in :mod:`benchmarks.dispatch`). A node-by-node matrix of that city
would take 80 GB (int64); the shared-taxi dispatcher asks :class:`routing.HierarchyTimes` for
the blocks a batch needs.

The run: ``vehicles`` taxis at random nodes, requests between random nodes whose direct drive
takes 4 to 20 minutes, released uniformly at ``rate_per_vehicle_h`` requests per taxi and hour
for ``minutes`` of simulated time (:class:`sim.taxi.TaxiSimulation`: taxis driven edge by edge,
30 s batches, rebalancing on), then ``quotes`` quotes timed one by one against the final
state. Memory is the peak traced by ``tracemalloc`` over the simulated period (numpy and
Python allocations: the network and hierarchy are loaded before tracing starts and are not
counted); compile time is measured apart.

``python -m benchmarks.pooling_city [--vehicles N ...] [--minutes M]`` prints a Markdown table
and writes ``benchmarks/results/pooling_city.json``.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CITY_NODES = 100_000


def _requests(times: Any, num_nodes: int, count: int, start_s: int, end_s: int, seed: int) -> list[Any]:
    from matching.pooling.model import TaxiRequest

    rng = np.random.default_rng(seed)
    out: list[Any] = []
    while len(out) < count:
        o = rng.integers(0, num_nodes, 4 * count)
        d = rng.integers(0, num_nodes, 4 * count)
        direct = times.pairs(o, d)
        keep = np.flatnonzero((direct >= 240) & (direct <= 1200))
        for i in keep[: count - len(out)].tolist():
            out.append((int(o[i]), int(d[i])))
    release = np.sort(rng.integers(start_s, end_s, count))
    return [
        TaxiRequest(id=f"c{k}", origin=o, destination=d, request_time_s=int(t))
        for k, ((o, d), t) in enumerate(zip(out, release.tolist(), strict=True))
    ]


def run(
    *, vehicles: tuple[int, ...] = (300, 2000), minutes: int = 30, rate_per_vehicle_h: float = 6.0, quotes: int = 200,
    seed: int = 1, nodes: int = CITY_NODES,
) -> dict[str, Any]:  # fmt: skip
    """Measure each fleet size (see the module docstring)."""
    from matching.pooling import PoolingParams
    from matching.pooling.dispatcher import SharedTaxiDispatcher
    from matching.pooling.model import TaxiRequest, TaxiSpec
    from routing import HierarchyTimes, Router, synthetic_city
    from sim.taxi import TaxiSimulation
    from sim.taxi import warm_up as warm_up_taxis

    compile_s = warm_up_taxis()
    t0 = time.perf_counter()
    net = synthetic_city(nodes, seed=0)
    router = Router.from_network(net)
    setup_s = time.perf_counter() - t0
    params = PoolingParams(max_wait_s=300, max_delay_s=600)
    rows = []
    for n in vehicles:
        rng = np.random.default_rng(seed + n)
        times = HierarchyTimes(router)
        fleet = [TaxiSpec(f"taxi{v:04d}", int(x)) for v, x in enumerate(rng.integers(0, net.num_nodes, n).tolist())]
        end_s = 60 * minutes
        count = int(n * rate_per_vehicle_h * minutes / 60)
        reqs = _requests(times, net.num_nodes, count, 0, end_s, seed + n)
        tracemalloc.start()
        t1 = time.perf_counter()
        disp = SharedTaxiDispatcher(times, fleet, params, distance_m=router.path_length_m)
        out = TaxiSimulation(net, router, disp, fleet, reqs, start_s=0, end_s=end_s).run()
        sim_s = time.perf_counter() - t1
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        lat = []
        qrng = np.random.default_rng(seed)
        for k in range(quotes):
            o, d = (int(x) for x in qrng.choice(net.num_nodes, 2, replace=False))
            req = TaxiRequest(id=f"q{k}", origin=o, destination=d, request_time_s=end_s)
            tq = time.perf_counter()
            disp.quote(req, end_s)
            lat.append(time.perf_counter() - tq)
        compute = [b.compute_s for b in out.batches]
        served = sum(1 for r in disp.rides.values() if r.status.value in ("completed", "on_board", "assigned"))
        rows.append(
            {
                "vehicles": n,
                "requests": count,
                "served_or_assigned": served,
                "quote_p50_ms": round(1000 * float(np.percentile(lat, 50)), 2),
                "quote_p99_ms": round(1000 * float(np.percentile(lat, 99)), 2),
                "batch_p50_s": round(float(np.percentile(compute, 50)), 3) if compute else None,
                "batch_p99_s": round(float(np.percentile(compute, 99)), 3) if compute else None,
                "batch_max_s": round(float(max(compute)), 3) if compute else None,
                "peak_traced_mb": round(peak_mb, 1),
                "simulated_min": minutes,
                "wall_s": round(sim_s, 1),
            }
        )
    return {
        "benchmark": "pooling_city",
        "date": time.strftime("%Y-%m-%d"),
        "network": {
            "nodes": net.num_nodes,
            "edges": net.num_edges,
            "dense_matrix_gb_int64": round(8 * net.num_nodes**2 / 1e9, 1),
        },
        "compile_s": round(compile_s, 2),
        "setup_s": round(setup_s, 2),
        "rows": rows,
    }


def to_markdown(result: dict[str, Any]) -> str:
    head = (
        f"Synthetic city of {result['network']['nodes']:,} nodes (a node matrix would take "
        f"{result['network']['dense_matrix_gb_int64']} GB); compile {result['compile_s']} s, network and hierarchy "
        f"{result['setup_s']} s, not included.\n\n"
        "| taxis | requests | served or assigned | quote p50 / p99 | batch p50 / p99 / max | peak traced memory | "
        "simulated | wall |\n|---:|---:|---:|---|---|---:|---:|---:|\n"
    )
    lines = [
        f"| {r['vehicles']:,} | {r['requests']:,} | {r['served_or_assigned']:,} | {r['quote_p50_ms']} / "
        f"{r['quote_p99_ms']} ms | {r['batch_p50_s']} / {r['batch_p99_s']} / {r['batch_max_s']} s | "
        f"{r['peak_traced_mb']} MB | {r['simulated_min']} min | {r['wall_s']} s |"
        for r in result["rows"]
    ]
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vehicles", type=int, nargs="+", default=[300, 2000], help="fleet sizes (default 300 2000)")
    ap.add_argument("--minutes", type=int, default=30, help="simulated minutes per fleet (default 30)")
    ap.add_argument("--nodes", type=int, default=CITY_NODES, help="nodes of the synthetic city (default 100,000)")
    args = ap.parse_args()
    result = run(vehicles=tuple(args.vehicles), minutes=args.minutes, nodes=args.nodes)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "pooling_city.json").write_text(json.dumps(result, indent=2) + "\n")
    print(to_markdown(result))


if __name__ == "__main__":
    main()
