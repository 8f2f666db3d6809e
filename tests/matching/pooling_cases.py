"""Random small batches of the shared taxi on small graphs, for the trip and oracle tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache

import numpy as np
from numpy.typing import NDArray

import routing
from matching.pooling import ASSIGNED, ONBOARD, OPEN, BatchRequests, BatchVehicles, PoolingParams
from routing import MatrixTimes, Router

#: An unlimited latest drop-off (no ``max_delay_s``).
NO_LIMIT = 10**9


@cache
def city_matrix(seed: int) -> NDArray[np.int64]:
    """All-pairs travel times of ``routing.synthetic_city(150, seed=seed)`` (a test graph)."""
    net = routing.synthetic_city(150, seed=seed)
    nodes = np.arange(net.num_nodes)
    return np.asarray(Router(net).matrix(nodes, nodes), np.int64)


def line_times(n: int = 10, step_s: int = 60) -> MatrixTimes:
    """Nodes ``0 .. n-1`` on a line, ``step_s`` apart."""
    i = np.arange(n)
    return MatrixTimes(np.abs(i[:, None] - i[None, :]) * step_s)


def lookup(matrix: NDArray[np.int64]) -> Callable[[int, int], int]:
    """A plain-Python travel-time function over nested lists (the oracles' view)."""
    table = matrix.tolist()
    return lambda a, b: table[a][b]


def random_params(rng: np.random.Generator, **fixed: object) -> PoolingParams:
    cap = int(rng.integers(1, 5))
    params = PoolingParams(
        capacity=cap,
        max_parties=int(rng.integers(1, cap + 1)),
        max_wait_s=int(rng.integers(60, 420)),
        max_delay_s=None if rng.random() < 0.3 else int(rng.integers(60, 600)),
        detour_factor=float(rng.choice([1.2, 1.5, 2.0, 3.0])),
        detour_s=int(rng.integers(60, 600)),
        dwell_s=int(rng.choice([0, 0, 15, 30])),
        delay_weight=float(rng.choice([0.0, 0.5, 1.0, 2.3])),
        max_trip_size=int(rng.integers(1, 5)),
        unserved_penalty_s=int(rng.integers(300, 3000)),
        trips_per_vehicle=100_000,
        trip_time_budget_s=600.0,
    )
    return replace(params, **fixed) if fixed else params


def random_batch(
    rng: np.random.Generator,
    matrix: NDArray[np.int64],
    params: PoolingParams,
    *,
    num_requests: int,
    num_vehicles: int,
    now: int = 3600,
    waits: bool = False,
    inactive: bool = True,
) -> tuple[BatchRequests, BatchVehicles]:
    """A batch of ``num_requests`` requests (some on board, some assigned, the rest open; at most
    two of each per taxi) and ``num_vehicles`` taxis at random nodes. Every request was made before ``now`` (no pickup
    waits) unless ``waits``, when some open ones are booked up to 2 minutes ahead. Some
    promises may already be broken (an assigned request past its latest pickup, a rider on
    board past the latest drop-off)."""
    n = matrix.shape[0]
    nv = num_vehicles
    vnode = rng.integers(0, n, nv)
    vtime = now + rng.integers(0, 40, nv)
    capacity = np.full(nv, params.capacity, np.int64)
    active = rng.random(nv) > (0.15 if inactive else 0.0)
    rows: list[dict[str, int | bool]] = []
    seats = capacity.copy()
    parties = np.zeros(nv, np.int64)
    assigned = np.zeros(nv, np.int64)
    for _ in range(num_requests):
        o = int(rng.integers(0, n))
        d = int(rng.integers(0, n - 1))
        d = d + 1 if d >= o else d
        direct = int(matrix[o, d])
        kind = rng.choice([OPEN, OPEN, ASSIGNED, ONBOARD])
        pax = int(rng.integers(1, 3)) if params.capacity > 1 and rng.random() < 0.3 else 1
        solo = bool(rng.random() < 0.15)
        v = int(rng.integers(0, nv))
        picked = -1
        if kind == ASSIGNED:
            if assigned[v] >= 2:
                kind = OPEN
            assigned[v] += 1
        if kind == ONBOARD:
            if seats[v] < pax or parties[v] >= min(2, params.max_parties) or (solo and parties[v] > 0):
                kind = OPEN
            else:
                seats[v] -= pax
                parties[v] += 1
                solo = solo and parties[v] == 1
        if kind == ONBOARD:
            made = now - int(rng.integers(60, 600))
            picked = made + int(rng.integers(0, params.max_wait_s))
            if picked >= now:
                picked = now - 1
        elif kind == ASSIGNED:
            made = now - int(rng.integers(0, params.max_wait_s))
        else:
            made = now - int(rng.integers(0, 60))
            if waits and rng.random() < 0.3:
                made = now + int(rng.integers(1, 120))
        rows.append(
            dict(
                origin=o,
                destination=d,
                passengers=pax,
                earliest_pickup=made,
                latest_pickup=made + params.max_wait_s,
                latest_dropoff=NO_LIMIT if params.max_delay_s is None else made + direct + params.max_delay_s,
                max_ride=params.max_ride_s(direct),
                direct=direct,
                solo=solo,
                state=int(kind),
                vehicle=-1 if kind == OPEN else v,
                picked_at=picked,
            )
        )
    req = BatchRequests(
        **{
            name: np.array(
                [row[name] for row in rows],
                np.bool_ if name == "solo" else np.int8 if name == "state" else np.int64,
            )
            for name in BatchRequests._fields
        }
    )
    return req, BatchVehicles(vnode.astype(np.int64), vtime.astype(np.int64), capacity, active)
