"""Shared-taxi batch assignment benchmark: model build and CP-SAT solve times at Manhattan-peak size.

Run from the project root::

    python -m benchmarks.pooling_assign                       # 2,000 taxis x {10, 50, 100} trips each
    python -m benchmarks.pooling_assign --trips 50 --time-limit 1.5 --seeds 0 1 2
    python -m benchmarks.pooling_assign --json out.json

Or call :func:`measure` (one row per batch) and :func:`markdown` (a table of the rows).

**The batch** (:func:`synthetic_batch`, labelled synthetic; no road network): taxis and
request origins uniform on a 500 s x 2,500 s rectangle (the shape of Manhattan at taxi speed),
destinations around 12 hotspots, L1 travel times. ``num_assigned`` requests are promised to
one of the 10 taxis nearest their origin (at most 3 per taxi), a quarter of the taxis carry
one on-board rider, the other requests are open. A taxi's trip pool is its promises, the 8
open requests nearest to it within a 300 s wait and the 2 nearest other taxis' promises
within 150 s; its trips are its EMPTY and CURRENT trips and the first feasible ones among
random subsets of the pool of up to 4 requests (80% keep all its promises), at most
``trips_per_vehicle`` in all (as a trip search with that budget would emit). A trip's cost:
the on-board rider's remaining drive, the approach to its nearest pickup, its riders'
direct times (three quarters of them when pooled), half the spread of its pickups and
drop-offs as detour and a share of it as delay; a trip is feasible when that spread is at
most 400 s per rider. 2% of CURRENT and 1% of EMPTY trips are marked no longer feasible
(they stay allowed). Every open request is in the trips of about 100 taxis, so the batch
is one big coupled problem, harder than a trip search capped at ``vehicles_per_request``
(30) would make it.

**What is measured** per batch: the time of each step of
:func:`matching.pooling.assign.assign_with_stats` (checks and presolve, greedy, components
and model build, GLOP's LP, CP-SAT), the call's wall-clock and CPU seconds (the machine may
be shared: CPU time is what the call itself used), CP-SAT's deterministic time, the status,
the objective against the greedy's (:func:`matching.pooling.assign.greedy_assign`) and
against the LP lower bound. The kernels are compiled (warmed up) before the clock starts;
the compile time is reported apart.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from matching.pooling import ASSIGNED, ONBOARD, OPEN, BatchRequests, PoolingParams, Trips
from matching.pooling.assign import assign_with_stats, greedy_assign

#: The rectangle's sides, in seconds of driving.
CITY_S = (500.0, 2500.0)


def synthetic_batch(
    *,
    num_vehicles: int = 2000,
    trips_per_vehicle: int = 50,
    num_open: int = 150,
    num_assigned: int = 600,
    seed: int = 0,
) -> tuple[Trips, BatchRequests]:
    """A synthetic batch of trips at the given size (see the module docstring); deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    num_onboard = num_vehicles // 4
    num_requests = num_open + num_assigned + num_onboard
    size = np.array(CITY_S)
    taxi_xy = rng.random((num_vehicles, 2)) * size
    origin_xy = rng.random((num_requests, 2)) * size
    # Destinations gather around 12 hotspots, so that nearby riders often go the same way.
    hotspots = rng.random((12, 2)) * size
    dest_xy = np.clip(hotspots[rng.integers(12, size=num_requests)] + rng.normal(0, 120, (num_requests, 2)), 0, size)
    direct = np.maximum(np.abs(origin_xy - dest_xy).sum(axis=1), 60.0)
    state = np.full(num_requests, OPEN, np.int8)
    state[num_open : num_open + num_assigned] = ASSIGNED
    state[num_open + num_assigned :] = ONBOARD
    owner = np.full(num_requests, -1, np.int64)
    taxis = cKDTree(taxi_xy)
    promises = np.zeros(num_vehicles, np.int64)
    _, near = taxis.query(origin_xy[num_open : num_open + num_assigned], k=min(10, num_vehicles), p=1)
    near = np.asarray(near).reshape(num_assigned, -1)
    for i in range(num_assigned):
        free = [int(v) for v in near[i] if promises[v] < 3]
        if not free:
            state[num_open + i] = OPEN
            continue
        v = free[int(rng.integers(len(free)))]
        owner[num_open + i] = v
        promises[v] += 1
    onboard_taxis = rng.permutation(num_vehicles)[:num_onboard]
    owner[num_open + num_assigned :] = onboard_taxis
    base_s = np.zeros(num_vehicles)
    base_s[onboard_taxis] = direct[num_open + num_assigned :] * rng.random(num_onboard)

    open_ids = np.flatnonzero(state == OPEN)
    promised_ids = np.flatnonzero(state == ASSIGNED)
    own_of: list[list[int]] = [[] for _ in range(num_vehicles)]
    for r in promised_ids:
        own_of[int(owner[r])].append(int(r))
    open_tree = cKDTree(origin_xy[open_ids]) if open_ids.size else None
    promised_tree = cKDTree(origin_xy[promised_ids]) if promised_ids.size else None

    # Candidate trips: EMPTY, CURRENT, and random subsets of the pool; the feasible ones are kept below.
    sets: list[tuple[int, ...]] = []
    vehicle: list[int] = []
    kind: list[int] = []  # 0 EMPTY, 1 CURRENT, 2 other
    for v in range(num_vehicles):
        own = tuple(sorted(own_of[v]))
        pool_open = _near(open_tree, open_ids, taxi_xy[v], 8, 300.0)
        pool_other = [r for r in _near(promised_tree, promised_ids, taxi_xy[v], 3, 150.0) if owner[r] != v][:2]
        extra = pool_open + pool_other
        candidates: dict[tuple[int, ...], int] = {(): 0}
        candidates.setdefault(own, 1)
        for _ in range(4 * trips_per_vehicle if extra else 0):
            keep_own = own if rng.random() < 0.8 else tuple(r for r in own if rng.random() < 0.5)
            room = 4 - len(keep_own)
            if room <= 0:
                continue
            k = int(rng.integers(1, min(room, len(extra)) + 1))
            picked = rng.choice(len(extra), size=k, replace=False)
            candidates.setdefault(tuple(sorted(keep_own + tuple(extra[j] for j in picked))), 2)
        for trip, trip_kind in candidates.items():
            sets.append(trip)
            vehicle.append(v)
            kind.append(trip_kind)

    vehicles = np.asarray(vehicle, np.int64)
    kinds = np.asarray(kind, np.int64)
    sizes = np.fromiter((len(s) for s in sets), np.int64, len(sets))
    req_ptr = np.zeros(len(sets) + 1, np.int64)
    np.cumsum(sizes, out=req_ptr[1:])
    req = np.fromiter((r for s in sets for r in s), np.int64, int(req_ptr[-1]))
    trip_of = np.repeat(np.arange(len(sets)), sizes)
    cost, spread = _costs(taxi_xy, origin_xy, dest_xy, direct, base_s, vehicles, sizes, req, trip_of)
    # A trip search emits only feasible trips, up to its budget per taxi: keep EMPTY, CURRENT and
    # the first feasible others (pickups and drop-offs within 400 s of their centres on average).
    good = (kinds < 2) | (spread <= 400.0 * np.maximum(sizes, 1))
    rank = np.cumsum(good) - 1
    first_of_vehicle = np.searchsorted(vehicles, vehicles)
    rank -= np.where(first_of_vehicle > 0, np.cumsum(good)[first_of_vehicle - 1], 0)
    selected = np.flatnonzero(good & (rank < trips_per_vehicle))
    sizes = sizes[selected]
    lo = req_ptr[selected]
    req_ptr = np.zeros(selected.shape[0] + 1, np.int64)
    np.cumsum(sizes, out=req_ptr[1:])
    req = req[np.repeat(lo - req_ptr[:-1], sizes) + np.arange(int(req_ptr[-1]))]
    vehicles, kinds, cost = vehicles[selected], kinds[selected], cost[selected]
    count = selected.shape[0]
    feasible = np.ones(count, np.bool_)
    feasible[kinds == 0] = rng.random(int(np.count_nonzero(kinds == 0))) > 0.01
    feasible[kinds == 1] = rng.random(int(np.count_nonzero(kinds == 1))) > 0.02

    # Stop orders are not read by the assignment: each trip's pickups then drop-offs, untimed.
    stop_ptr = 2 * req_ptr
    stops = np.empty(2 * req.shape[0], np.int64)
    for t in range(count):
        lo, hi = req_ptr[t], req_ptr[t + 1]
        stops[2 * lo : lo + hi] = 2 * req[lo:hi]
        stops[lo + hi : 2 * hi] = 2 * req[lo:hi] + 1
    trips = Trips(vehicles, req_ptr, req, cost, feasible, stop_ptr, stops, np.zeros_like(stops))

    ids = np.arange(num_requests, dtype=np.int64)
    direct_s = direct.astype(np.int64)
    requests = BatchRequests(
        origin=ids,
        destination=ids + num_requests,
        passengers=np.ones(num_requests, np.int64),
        earliest_pickup=np.zeros(num_requests, np.int64),
        latest_pickup=np.full(num_requests, 300, np.int64),
        latest_dropoff=300 + 2 * direct_s,
        max_ride=(direct_s * 3) // 2,
        direct=direct_s,
        solo=np.zeros(num_requests, np.bool_),
        state=state,
        vehicle=owner,
        picked_at=np.where(state == ONBOARD, 0, -1).astype(np.int64),
    )
    return trips, requests


def _near(tree: cKDTree | None, ids: NDArray[np.int64], xy: NDArray[np.float64], k: int, radius: float) -> list[int]:
    if tree is None:
        return []
    dist, idx = tree.query(xy, k=min(k, ids.shape[0]), p=1, distance_upper_bound=radius)
    dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
    return [int(ids[i]) for d, i in zip(dist, idx, strict=True) if np.isfinite(d)]


def _costs(
    taxi_xy: NDArray[np.float64],
    origin_xy: NDArray[np.float64],
    dest_xy: NDArray[np.float64],
    direct: NDArray[np.float64],
    base_s: NDArray[np.float64],
    vehicles: NDArray[np.int64],
    sizes: NDArray[np.int64],
    req: NDArray[np.int64],
    trip_of: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    count = vehicles.shape[0]
    n = np.maximum(sizes, 1)
    spread = np.zeros(count)
    for xy in (origin_xy, dest_xy):
        centre = np.stack([np.bincount(trip_of, xy[req, d], count) / n for d in (0, 1)], axis=1)
        spread += np.bincount(trip_of, np.abs(xy[req] - centre[trip_of]).sum(axis=1), count)
    approach = np.full(count, np.inf)
    np.minimum.at(approach, trip_of, np.abs(origin_xy[req] - taxi_xy[vehicles[trip_of]]).sum(axis=1))
    approach[sizes == 0] = 0.0
    share = np.where(sizes > 1, 0.75, 1.0)
    drive = np.bincount(trip_of, direct[req], count) * share
    detour = 0.5 * spread
    delay = 0.5 * spread * np.maximum(sizes - 1, 0) / n
    cost = base_s[vehicles] + approach + drive + detour + delay
    return np.rint(cost).astype(np.int64), spread


def warm_up() -> float:
    """Compile the assignment's kernels on a tiny batch; the seconds it took."""
    start = time.perf_counter()
    trips, requests = synthetic_batch(num_vehicles=8, trips_per_vehicle=5, num_open=6, num_assigned=4, seed=0)
    assign_with_stats(trips, requests, PoolingParams(), num_vehicles=8)
    return time.perf_counter() - start


def measure(
    *,
    trips_per_vehicle: tuple[int, ...] = (10, 50, 100),
    num_vehicles: int = 2000,
    num_open: int = 150,
    num_assigned: int = 600,
    time_limit_s: float = 1.5,
    seeds: tuple[int, ...] = (0,),
    params: PoolingParams | None = None,
) -> list[dict[str, Any]]:
    """One row per (trips per taxi, seed): sizes, each step's seconds, CP-SAT against greedy."""
    params = params or PoolingParams()
    compile_s = warm_up()
    rows: list[dict[str, Any]] = []
    for per_vehicle in trips_per_vehicle:
        for seed in seeds:
            trips, requests = synthetic_batch(
                num_vehicles=num_vehicles,
                trips_per_vehicle=per_vehicle,
                num_open=num_open,
                num_assigned=num_assigned,
                seed=seed,
            )
            cpu = time.process_time()
            result, stats = assign_with_stats(
                trips, requests, params, num_vehicles=num_vehicles, time_limit_s=time_limit_s
            )
            cpu_s = time.process_time() - cpu
            greedy = greedy_assign(trips, requests, params, num_vehicles=num_vehicles)
            open_count = int(np.count_nonzero(requests.state == OPEN))
            rows.append(
                {
                    "trips_per_vehicle": per_vehicle,
                    "seed": seed,
                    "vehicles": num_vehicles,
                    "open": open_count,
                    "assigned": int(np.count_nonzero(requests.state == ASSIGNED)),
                    "trips": stats.trips,
                    "kept_trips": stats.kept_trips,
                    "coupled_taxis": stats.coupled_taxis,
                    "model_trips": stats.model_trips,
                    "time_limit_s": time_limit_s,
                    "prepare_s": stats.prepare_s,
                    "greedy_in_assign_s": stats.greedy_s,
                    "build_s": stats.build_s,
                    "lp_s": stats.lp_s,
                    "cp_sat_s": stats.cp_sat_s,
                    "total_s": result.solve_s,
                    "cpu_s": cpu_s,
                    "lower_bound": stats.lower_bound,
                    "gap_bound_pct": None
                    if stats.lower_bound is None
                    else 100.0 * (result.objective - stats.lower_bound) / max(abs(stats.lower_bound), 1),
                    "deterministic_time": stats.deterministic_time,
                    "cp_sat_status": stats.cp_sat_status,
                    "status": result.status,
                    "objective": result.objective,
                    "served_open": int(np.count_nonzero(result.served & (requests.state == OPEN))),
                    "greedy_objective": greedy.objective,
                    "greedy_served_open": int(np.count_nonzero(greedy.served & (requests.state == OPEN))),
                    "greedy_s": greedy.solve_s,
                    "gap_greedy_pct": 100.0 * (greedy.objective - result.objective) / max(abs(result.objective), 1),
                    "compile_s": compile_s,
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    head = (
        "| trips/taxi | seed | trips (kept) | coupled taxis / model trips | checks+presolve s | greedy s | build s "
        "| LP s | CP-SAT s (det.) | total s (CPU s) | status | objective (gap to LP bound) "
        "| greedy objective (vs. ours) | open served: ours / greedy |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        gap = "" if r["gap_bound_pct"] is None else f" ({r['gap_bound_pct']:.2f}%)"
        lines.append(
            f"| {r['trips_per_vehicle']} | {r['seed']} | {r['trips']:,} ({r['kept_trips']:,}) "
            f"| {r['coupled_taxis']:,} / {r['model_trips']:,} | {r['prepare_s']:.3f} | {r['greedy_in_assign_s']:.3f} "
            f"| {r['build_s']:.3f} | {r['lp_s']:.3f} | {r['cp_sat_s']:.3f} ({r['deterministic_time']:.3f}) "
            f"| {r['total_s']:.3f} ({r['cpu_s']:.3f}) | {r['status']} | {r['objective']:,}{gap} "
            f"| {r['greedy_objective']:,} ({r['gap_greedy_pct']:+.2f}%) "
            f"| {r['served_open']} / {r['greedy_served_open']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, nargs="+", default=[10, 50, 100], help="trips per taxi")
    parser.add_argument("--vehicles", type=int, default=2000)
    parser.add_argument("--open", type=int, default=150)
    parser.add_argument("--assigned", type=int, default=600)
    parser.add_argument("--time-limit", type=float, default=1.5, help="assign's time_limit_s")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = measure(
        trips_per_vehicle=tuple(args.trips),
        num_vehicles=args.vehicles,
        num_open=args.open,
        num_assigned=args.assigned,
        time_limit_s=args.time_limit,
        seeds=tuple(args.seeds),
    )
    print(f"compile (warm-up) {rows[0]['compile_s']:.2f} s" if rows else "no rows")
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
