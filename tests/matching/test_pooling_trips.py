"""The shared taxi's trip search (:mod:`matching.pooling.trips`) against plain-Python brute force."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import numpy as np
import pytest

from matching.errors import InvalidValueError
from matching.pooling import ASSIGNED, ONBOARD, OPEN, BatchRequests, BatchVehicles, PoolingParams
from matching.pooling import trips as trips_module
from matching.pooling.trips import (
    evaluate_trips,
    fixed_trip_indices,
    generate_trips,
    search_trips,
    shareability,
)
from routing import MatrixTimes
from tests.matching.pooling_cases import NO_LIMIT, city_matrix, line_times, lookup, random_batch, random_params
from tests.naive import naive_order_cost, naive_trip_order


def _check_trips_exact(req, veh, matrix, params, trips) -> None:
    """Every trip: its order is valid and priced right, and its cost is the brute-force best."""
    tt = lookup(matrix)
    assert np.all(np.diff(trips.vehicle) >= 0)
    empty, current = fixed_trip_indices(trips, req, veh.size)
    for v in range(veh.size):
        assert trips.requests_of(int(empty[v])).size == 0
        cur = np.flatnonzero((req.state == ASSIGNED) & (req.vehicle == v))
        assert np.array_equal(trips.requests_of(int(current[v])), cur)
        assert trips.vehicle[empty[v]] == v and trips.vehicle[current[v]] == v
    seen = set()
    for t in range(trips.size):
        v = int(trips.vehicle[t])
        reqs = trips.requests_of(t)
        assert np.all(np.diff(reqs) > 0)
        key = (v, tuple(reqs.tolist()))
        assert key not in seen, f"trip {key} emitted twice"
        seen.add(key)
        stops, stop_time = trips.stops_of(t)
        best = naive_trip_order(req, veh, tt, params, v, reqs.tolist())
        if trips.feasible[t]:
            assert best is not None, f"trip {key} is infeasible by brute force"
            assert trips.cost[t] == best[0], key
        else:
            assert best is None, f"trip {key} is feasible by brute force"
            assert t in (empty[v], current[v])
            relaxed = naive_trip_order(req, veh, tt, params, v, reqs.tolist(), 1) or naive_trip_order(
                req, veh, tt, params, v, reqs.tolist(), 2
            )
            assert relaxed is not None and trips.cost[t] == relaxed[0], key
        cost, times = naive_order_cost(req, veh, tt, params, v, stops.tolist())
        assert cost == trips.cost[t]
        assert times == stop_time.tolist()
        onboard = np.flatnonzero((req.state == ONBOARD) & (req.vehicle == v))
        assert sorted(stops.tolist()) == sorted(
            [2 * r for r in reqs] + [2 * r + 1 for r in reqs] + [2 * r + 1 for r in onboard]
        )


@pytest.mark.parametrize("seed", range(100))
def test_every_trip_has_the_brute_force_cost(seed: int) -> None:
    rng = np.random.default_rng(seed)
    matrix = city_matrix(seed % 3)
    params = random_params(rng)
    req, veh = random_batch(rng, matrix, params, num_requests=int(rng.integers(1, 8)), num_vehicles=3, waits=True)
    trips = generate_trips(req, veh, MatrixTimes(matrix), params)
    _check_trips_exact(req, veh, matrix, params, trips)


@pytest.mark.parametrize("seed", range(100))
def test_every_feasible_set_is_found_when_no_pickup_waits(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    matrix = city_matrix(seed % 3)
    params = random_params(rng)
    req, veh = random_batch(rng, matrix, params, num_requests=int(rng.integers(1, 8)), num_vehicles=2)
    trips = generate_trips(req, veh, MatrixTimes(matrix), params)
    found = {
        (int(trips.vehicle[t]), tuple(trips.requests_of(t).tolist())) for t in range(trips.size) if trips.feasible[t]
    }
    tt = lookup(matrix)
    cands = [r for r in range(req.size) if req.state[r] != ONBOARD]
    for v in range(veh.size):
        if not veh.active[v]:
            continue
        for size in range(1, params.max_trip_size + 1):
            for combo in itertools.combinations(cands, size):
                if naive_trip_order(req, veh, tt, params, v, combo) is not None:
                    assert (v, combo) in found


def _pair(**change: object) -> tuple[BatchRequests, BatchVehicles]:
    """Taxi 0 at node 0 (time 0, 4 seats); request 0 rides 1 -> 5, request 1 rides 2 -> 6 on a
    line of 60 s steps. Together they fit only by sharing: one after the other, the second
    pickup would be at 540 s, past its latest pickup (300 s)."""
    base = dict(
        origin=[1, 2],
        destination=[5, 6],
        passengers=[1, 1],
        earliest_pickup=[0, 0],
        latest_pickup=[300, 300],
        latest_dropoff=[NO_LIMIT, NO_LIMIT],
        max_ride=[360, 360],
        direct=[240, 240],
        solo=[False, False],
        state=[OPEN, OPEN],
        vehicle=[-1, -1],
        picked_at=[-1, -1],
    )
    capacity = change.pop("capacity", 4)
    onboard = change.pop("onboard", None)
    base.update(change)
    if onboard is not None:  # a rider on board, bound for node 9
        for name, value in dict(
            origin=0,
            destination=9,
            passengers=onboard,
            earliest_pickup=-100,
            latest_pickup=0,
            latest_dropoff=NO_LIMIT,
            max_ride=10_000,
            direct=540,
            solo=False,
            state=ONBOARD,
            vehicle=0,
            picked_at=-50,
        ).items():
            base[name] = [*base[name], value]
    req = BatchRequests(
        **{k: np.array(v, np.bool_ if k == "solo" else np.int8 if k == "state" else np.int64) for k, v in base.items()}
    )
    veh = BatchVehicles(np.array([0]), np.array([0]), np.array([capacity]), np.array([True]))
    return req, veh


FLIPS = {
    "solo": (dict(solo=[True, False]), {}),
    "parties": ({}, {"max_parties": 1}),
    "capacity": (dict(passengers=[2, 1], capacity=2), {}),
    "pickup window": (dict(latest_pickup=[300, 100]), {}),
    "latest drop-off": (dict(latest_dropoff=[NO_LIMIT, 330]), {}),
    "ride time": (dict(max_ride=[200, 360]), {}),
    "on-board rider": (dict(onboard=1), {}),
}


@pytest.mark.parametrize("rule", sorted(FLIPS))
def test_each_rule_flips_the_feasibility_of_a_shared_pair(rule: str) -> None:
    times = line_times()
    tt = lookup(times.matrix)
    params = PoolingParams(max_wait_s=300, detour_factor=1.5)
    req, veh = _pair()
    (plan,) = evaluate_trips(req, veh, times, params, [0], [[0, 1]])
    assert plan is not None and plan.feasible
    assert plan.stops.tolist() == [0, 2, 1, 3]  # shared: both on board between nodes 2 and 5
    assert naive_trip_order(req, veh, tt, params, 0, [0, 1]) is not None
    change, param_change = FLIPS[rule]
    req, veh = _pair(**change)
    params = replace(params, **param_change)
    assert evaluate_trips(req, veh, times, params, [0], [[0, 1]]) == [None]
    assert naive_trip_order(req, veh, tt, params, 0, [0, 1]) is None
    # the requests alone still fit (the rule is what breaks the pair)
    if rule not in ("on-board rider",):
        alone = evaluate_trips(req, veh, times, params, [0, 0], [[0], [1]])
        assert any(p is not None for p in alone)


def test_a_broken_promise_keeps_the_empty_and_current_trips_marked_infeasible() -> None:
    times = line_times()
    params = PoolingParams(max_wait_s=300)
    # request 0 assigned to taxi 0, its latest pickup gone; request 1 on board of taxi 1, late
    req = BatchRequests(
        origin=np.array([9, 0]),
        destination=np.array([5, 4]),
        passengers=np.array([1, 1]),
        earliest_pickup=np.array([0, 0]),
        latest_pickup=np.array([100, 100]),
        latest_dropoff=np.array([NO_LIMIT, 200]),
        max_ride=np.array([360, 360]),
        direct=np.array([240, 240]),
        solo=np.array([False, False]),
        state=np.array([ASSIGNED, ONBOARD], np.int8),
        vehicle=np.array([0, 1]),
        picked_at=np.array([-1, 0]),
    )
    veh = BatchVehicles(np.array([0, 0]), np.array([0, 0]), np.array([4, 4]), np.array([True, True]))
    trips = generate_trips(req, veh, times, params)
    empty, current = fixed_trip_indices(trips, req, 2)
    assert trips.requests_of(int(current[0])).tolist() == [0]
    assert not trips.feasible[current[0]] and trips.feasible[empty[0]]
    assert trips.cost[current[0]] == 540 + 240 + (780 - 240)  # 0 -> 9 -> 5, delay 540 s
    assert not trips.feasible[empty[1]]  # the rider on board arrives at 240 s, latest 200 s
    assert trips.cost[empty[1]] == 240
    assert not trips.feasible[trips.vehicle == 1].any()  # nothing is feasible for taxi 1
    _check_trips_exact(req, veh, times.matrix, params, trips)
    # evaluate_trips prices the same sets the same way
    plans = evaluate_trips(req, veh, times, params, [0, 1, 1], [[0], [], [0]])
    assert plans[0] is not None and not plans[0].feasible and plans[0].cost == trips.cost[current[0]]
    assert plans[1] is not None and not plans[1].feasible and plans[1].cost == 240
    assert plans[2] is None


def test_an_inactive_taxi_gets_only_its_empty_and_current_trips() -> None:
    rng = np.random.default_rng(5)
    matrix = city_matrix(0)
    params = random_params(rng, max_trip_size=3, capacity=4, max_parties=2)
    req, veh = random_batch(rng, matrix, params, num_requests=7, num_vehicles=3, inactive=False)
    veh = veh._replace(active=np.array([True, False, True]))
    trips = generate_trips(req, veh, MatrixTimes(matrix), params)
    assert 1 <= np.count_nonzero(trips.vehicle == 1) <= 2
    share = shareability(req, veh, MatrixTimes(matrix), params)
    assert 1 not in share.rv_vehicle.tolist()


def test_shareability_graph_against_brute_force() -> None:
    rng = np.random.default_rng(11)
    matrix = city_matrix(1)
    tt = lookup(matrix)
    for _ in range(10):
        params = random_params(rng)
        req, veh = random_batch(rng, matrix, params, num_requests=8, num_vehicles=3, inactive=False)
        share = shareability(req, veh, MatrixTimes(matrix), params)
        cands = [r for r in range(req.size) if req.state[r] != ONBOARD]
        # request-vehicle: reach the origin by the latest pickup (nothing is cut at this size)
        expected = {
            (v, r)
            for v in range(veh.size)
            for r in cands
            if veh.time[v] + matrix[veh.node[v], req.origin[r]] <= req.latest_pickup[r]
            or (req.state[r] == ASSIGNED and req.vehicle[r] == v)
        }
        got = set(zip(share.rv_vehicle.tolist(), share.rv_request.tolist(), strict=True))
        assert got == expected
        assert np.array_equal(share.rv_time_s, matrix[veh.node[share.rv_vehicle], req.origin[share.rv_request]])
        # request-request: a pair in some feasible trip of an imagined empty taxi at the first
        # origin is shareable (the relaxation never drops a feasible pair)
        pairs = set(zip(share.rr_first.tolist(), share.rr_second.tolist(), strict=True))
        assert all(a < b for a, b in pairs)
        for a, b in itertools.combinations(cands, 2):
            for first in (a, b):
                probe = BatchVehicles(
                    np.array([req.origin[first]]),
                    np.array([req.earliest_pickup[first]]),
                    np.array([params.capacity]),
                    np.array([True]),
                )
                alone = req._replace(state=np.where(req.state == ONBOARD, OPEN, req.state).astype(np.int8))
                if naive_trip_order(alone, probe, tt, params, 0, [a, b]) is not None:
                    assert (a, b) in pairs


def test_request_vehicle_edges_keep_the_nearest() -> None:
    rng = np.random.default_rng(3)
    matrix = city_matrix(2)
    params = random_params(rng, max_wait_s=3600, candidates_per_vehicle=3, vehicles_per_request=2)
    req, veh = random_batch(rng, matrix, params, num_requests=12, num_vehicles=5, inactive=False)
    share = shareability(req, veh, MatrixTimes(matrix), params)
    own = (req.state[share.rv_request] == ASSIGNED) & (req.vehicle[share.rv_request] == share.rv_vehicle)
    assert np.all(np.bincount(share.rv_vehicle[~own], minlength=veh.size) <= 3)
    assert np.all(np.bincount(share.rv_request[~own], minlength=req.size) <= 2)
    cands = np.flatnonzero(req.state != ONBOARD)
    for v, r in zip(share.rv_vehicle[~own].tolist(), share.rv_request[~own].tolist(), strict=True):
        arrive = veh.time + matrix[veh.node, req.origin[r]]
        assert np.count_nonzero(arrive < arrive[v]) < 2  # among the request's 2 nearest taxis
        mine = veh.time[v] + matrix[veh.node[v], req.origin[cands]]
        assert np.count_nonzero(mine < mine[cands.tolist().index(r)]) < 3  # among the taxi's 3 nearest


def test_trips_per_vehicle_keeps_the_smallest_then_the_cheapest() -> None:
    rng = np.random.default_rng(21)
    matrix = city_matrix(0)
    params = random_params(rng, capacity=4, max_parties=4, max_wait_s=400, max_trip_size=4, detour_factor=3.0)
    req, veh = random_batch(rng, matrix, params, num_requests=8, num_vehicles=2, inactive=False)
    times = MatrixTimes(matrix)
    full = generate_trips(req, veh, times, params)
    for limit in (1, 3, 6, 10):
        cut = generate_trips(req, veh, times, replace(params, trips_per_vehicle=limit))
        for v in range(veh.size):
            by_size: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
            for t in np.flatnonzero((full.vehicle == v) & full.feasible):
                reqs = tuple(full.requests_of(int(t)).tolist())
                if reqs:
                    by_size.setdefault(len(reqs), []).append((int(full.cost[t]), reqs))
            kept = {
                tuple(cut.requests_of(int(t)).tolist())
                for t in np.flatnonzero(cut.vehicle == v)
                if cut.requests_of(int(t)).size
            }
            current = tuple(np.flatnonzero((req.state == ASSIGNED) & (req.vehicle == v)).tolist())
            grown = kept - {current}
            assert len(grown) <= limit
            room = limit
            for size in sorted(by_size):
                level = sorted(by_size[size])
                if room >= len(level):
                    assert {r for _, r in level} - {current} <= kept, (limit, size)
                    room -= len(level)
                    continue
                if room > 0:  # the cheapest `room` of this size are kept
                    here = [r for r in kept if len(r) == size]
                    costs = sorted(c for c, _ in level)
                    assert sorted(c for c, r in level if r in here and r != current) <= costs[: len(here)]
                    assert len(here) >= room - (1 if current in here else 0)
                assert not any(len(r) > size for r in grown)
                break


def test_the_deadline_cuts_larger_trips_first(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    matrix = city_matrix(1)
    params = random_params(rng, capacity=4, max_parties=4, max_wait_s=400, max_trip_size=4, detour_factor=3.0)
    req, veh = random_batch(rng, matrix, params, num_requests=8, num_vehicles=3, inactive=False)
    times = MatrixTimes(matrix)
    full = generate_trips(req, veh, times, params)

    def grown(trips):
        """(taxi, requests) of every trip but the EMPTY and CURRENT ones."""
        fixed = set(np.concatenate(fixed_trip_indices(trips, req, veh.size)).tolist())
        return {
            (int(trips.vehicle[t]), tuple(trips.requests_of(t).tolist())) for t in range(trips.size) if t not in fixed
        }

    want = grown(full)
    assert any(len(r) >= 2 for _, r in want)
    # a deadline already past: only the EMPTY and CURRENT trips
    assert grown(generate_trips(req, veh, times, params, deadline=time.perf_counter() - 1.0)) == set()
    # a deadline that passes while size-2 trips grow: every size-1 trip, size 2 for the first taxi only
    clock = [0.0]
    real_grow = trips_module.grow_level

    def grow(*args):
        out = real_grow(*args)
        if args[1] == 2:
            clock[0] = 10.0
        return out

    monkeypatch.setattr(trips_module, "CHUNK_VEHICLES", 1)
    monkeypatch.setattr(trips_module, "grow_level", grow)
    monkeypatch.setattr(trips_module.time, "perf_counter", lambda: clock[0])
    cut, stats = search_trips(req, veh, times, params, deadline=5.0)
    assert stats.cut_by_deadline
    got = grown(cut)
    assert {x for x in got if len(x[1]) == 1} == {x for x in want if len(x[1]) == 1}
    first = min(v for v, r in want if len(r) == 1)
    assert {x for x in got if len(x[1]) == 2} == {x for x in want if len(x[1]) == 2 and x[0] == first}
    assert not any(len(r) >= 3 for _, r in got)


def test_bad_inputs_name_the_field() -> None:
    times = line_times()
    params = PoolingParams()
    req, veh = _pair()
    with pytest.raises(InvalidValueError, match=r"requests\.destination"):
        generate_trips(req._replace(destination=np.array([5])), veh, times, params)
    with pytest.raises(InvalidValueError, match=r"vehicles\.capacity"):
        generate_trips(req, veh._replace(capacity=np.array([4, 4])), times, params)
    with pytest.raises(InvalidValueError, match=r"requests\.origin\[1\]"):
        generate_trips(req._replace(origin=np.array([1, 99])), veh, times, params)
    with pytest.raises(InvalidValueError, match=r"requests\.vehicle\[0\]"):
        generate_trips(
            req._replace(state=np.array([ASSIGNED, OPEN], np.int8), vehicle=np.array([3, -1])), veh, times, params
        )
    with pytest.raises(InvalidValueError, match=r"vehicle_ids\[1\]"):
        evaluate_trips(req, veh, times, params, [0, 2], [[0], [1]])
    with pytest.raises(InvalidValueError, match=r"request_sets"):
        evaluate_trips(req, veh, times, params, [0], [[0], [1]])
    with pytest.raises(InvalidValueError, match=r"request_sets\[0\]"):
        evaluate_trips(req, veh, times, params, [0], [[0, 7]])
    with pytest.raises(InvalidValueError, match=r"request_sets\[0\]"):
        evaluate_trips(req, veh, times, params, [0], [[1, 1]])
