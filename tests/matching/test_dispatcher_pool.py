"""The dispatcher without a stop matrix: its plans read travel times from a bounded location pool.

Two dispatchers on the Jamsil network, one given the stop-by-stop matrix (every stop its own
slot) and one reading its times from the router through a :class:`~routing.LocationPool`,
take the same random stream of quotes, bookings, cancellations, vehicle events,
re-optimisations and traffic updates: they must give the same answers and the same plans.
And on a city whose stop matrix would take gigabytes, the dispatcher works with a pool of a
few hundred slots.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from matching import Offer, Request, ServiceParams, VehicleState
from matching.dispatcher import Dispatcher
from routing import RoadNetwork, Router, StopSet, all_node_stops, synthetic_city

HOUR = 3600


def _numbered(value: Any) -> str:
    """``repr`` with the random suffix of offer ids cut (it differs between two dispatchers)."""
    return re.sub(r"(offer-\d+)-[0-9a-f]{16}", r"\1", repr(value))


def fleet(n: int, stops: StopSet, seats: int = 8) -> list[VehicleState]:
    return [
        VehicleState(
            id=f"bus{k}",
            seats=seats,
            wheelchair_places=1,
            depot_stop=(11 * k) % len(stops),
            shift_start_s=6 * HOUR,
            shift_end_s=23 * HOUR,
        )
        for k in range(n)
    ]


def plans(d: Dispatcher) -> list[list[tuple[str, str, int, float]]]:
    return [
        [(s.ride_id, s.kind.value, s.stop, s.planned_s) for s in d.planned_stops(v)] for v in range(len(d.vehicles))
    ]


def check_pool_times(d: Dispatcher) -> None:
    """Every pair of slots the pool holds has the router's travel time."""
    pool = d.plan.pool
    slots = np.flatnonzero(pool.place >= 0)
    nodes = d.stops.node[pool.place[slots]]
    expected = d.router.matrix(nodes, nodes).astype(np.float64)
    assert np.array_equal(pool.matrix[np.ix_(slots, slots)], expected)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_pool_gives_the_same_answers_as_the_stop_matrix(jamsil_net: RoadNetwork, seed: int) -> None:
    jamsil_stops = all_node_stops(jamsil_net)  # door to door: more stops than the pool has slots
    router = Router(jamsil_net)
    matrix = router.matrix(jamsil_stops.node, jamsil_stops.node).astype(np.float64)
    params = ServiceParams(max_wait_s=900)
    dense = Dispatcher(jamsil_net, router, jamsil_stops, fleet(5, jamsil_stops), params=params, travel_time_s=matrix)
    pooled = Dispatcher(jamsil_net, router, jamsil_stops, fleet(5, jamsil_stops), params=params)
    assert dense.plan.pool.identity and not pooled.plan.pool.identity
    rng = np.random.default_rng(seed)
    t = 7 * HOUR
    booked: list[str] = []
    n = len(jamsil_stops)
    slowed = Router(jamsil_net).with_travel_times(jamsil_net.travel_time_s * 1.4)
    for k in range(260):
        t += int(rng.integers(5, 60))
        op = rng.random()
        if op < 0.55:
            o, dst = (int(x) for x in rng.integers(0, n, 2))
            if o == dst:
                continue
            req = Request(
                id=f"r{k}", requested_time_s=t + int(rng.integers(0, 1200)), origin_stop=o, destination_stop=dst
            )
            a, b = dense.quote(req, t), pooled.quote(req, t)
            assert _numbered(a) == _numbered(b)
            if isinstance(a, Offer) and isinstance(b, Offer) and rng.random() < 0.8:
                dense.book(a.offer_id, t)
                pooled.book(b.offer_id, t)
                booked.append(req.id)
        elif op < 0.65 and booked:
            rid = booked[int(rng.integers(len(booked)))]
            if dense.rides[rid].status.value == "assigned":
                assert _numbered(dense.cancel(rid, t)) == _numbered(pooled.cancel(rid, t))
        elif op < 0.85:
            t += int(rng.integers(60, 600))
            assert dense.advance_to(t) == pooled.advance_to(t)
        elif op < 0.95:
            a_rep = dense.reoptimise(iterations=8, now_s=t)
            b_rep = pooled.reoptimise(iterations=8, now_s=t)
            assert (a_rep.cost_before, a_rep.cost_after, a_rep.moved_rides) == (
                b_rep.cost_before,
                b_rep.cost_after,
                b_rep.moved_rides,
            )
        else:
            now_router = slowed if k % 2 else router
            dense.update_travel_times(now_router, t)
            pooled.update_travel_times(now_router, t)
        assert plans(dense) == plans(pooled)
    assert _numbered(dense.events) == _numbered(pooled.events)
    assert len(booked) > 20
    check_pool_times(pooled)
    pool = pooled.plan.pool
    assert pool.capacity < n  # fewer slots than stops
    assert pool.computed > pool.capacity  # and some were recycled


def test_a_city_whose_stop_matrix_would_not_fit(isolated_cache_dir: object) -> None:
    """20,000 stops: the stop matrix would take 3.2 GB; the pool holds a few hundred slots."""
    net = synthetic_city(20_000, seed=5)
    router = Router(net)
    stops = all_node_stops(net)
    s = len(stops)
    d = Dispatcher(net, router, stops, fleet(40, stops), params=ServiceParams(max_wait_s=900))
    rng = np.random.default_rng(0)
    t = 7 * HOUR
    offers = 0
    for k in range(400):
        t += int(rng.integers(5, 40))
        d.advance_to(t)
        o, dst = (int(x) for x in rng.integers(0, s, 2))
        req = Request(id=f"r{k}", requested_time_s=t + int(rng.integers(0, 600)), origin_stop=o, destination_stop=dst)
        answer = d.quote(req, t)
        if isinstance(answer, Offer):
            d.book(answer.offer_id, t)
            offers += 1
    pool = d.plan.pool
    dense_bytes = s * s * 8
    assert offers > 40
    assert pool.capacity**2 * 8 <= dense_bytes / 1000
    assert pool.nbytes < dense_bytes / 100
    assert pool.capacity <= max(64, 2 * pool.peak_referenced)
    check_pool_times(d)
