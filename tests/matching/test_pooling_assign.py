"""The shared taxi's batch assignment (matching.pooling.assign) against exhaustive enumeration.

Small random batches (up to 3 taxis, 7 requests, 6 trips per taxi) are solved by trying every
choice of one allowed trip per taxi; :func:`assign` must reach the same least objective, and
every answer (also :func:`greedy_assign`'s) must keep every promise, serve an open request at
most once, and choose an infeasible trip only when it is its taxi's EMPTY or CURRENT trip.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from benchmarks.pooling_assign import synthetic_batch
from matching.errors import InvalidValueError
from matching.pooling import ASSIGNED, ONBOARD, OPEN, Assignment, BatchRequests, PoolingParams, Trips
from matching.pooling import assign as assign_module
from matching.pooling.assign import assign, assign_with_stats, greedy_assign


def make_requests(state: list[int], vehicle: list[int]) -> BatchRequests:
    n = len(state)
    ids = np.arange(n, dtype=np.int64)
    return BatchRequests(
        origin=ids,
        destination=ids + n,
        passengers=np.ones(n, np.int64),
        earliest_pickup=np.zeros(n, np.int64),
        latest_pickup=np.full(n, 300, np.int64),
        latest_dropoff=np.full(n, 3000, np.int64),
        max_ride=np.full(n, 1500, np.int64),
        direct=np.full(n, 600, np.int64),
        solo=np.zeros(n, np.bool_),
        state=np.asarray(state, np.int8),
        vehicle=np.asarray(vehicle, np.int64),
        picked_at=np.where(np.asarray(state) == ONBOARD, 0, -1).astype(np.int64),
    )


def make_trips(vehicle: list[int], sets: list[tuple[int, ...]], cost: list[int], feasible: list[bool]) -> Trips:
    sizes = np.array([len(s) for s in sets], np.int64)
    req_ptr = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    req = np.array([r for s in sets for r in sorted(s)], np.int64)
    stops = np.array([x for s in sets for r in sorted(s) for x in (2 * r, 2 * r + 1)], np.int64)
    return Trips(
        vehicle=np.asarray(vehicle, np.int64),
        req_ptr=req_ptr,
        req=req,
        cost=np.asarray(cost, np.int64),
        feasible=np.asarray(feasible, np.bool_),
        stop_ptr=2 * req_ptr,
        stops=stops,
        stop_time=np.zeros_like(stops),
    )


def random_case(seed: int) -> tuple[Trips, BatchRequests, PoolingParams, int]:
    """A small random batch: every taxi has its EMPTY and CURRENT trips, some trips are infeasible."""
    rng = np.random.default_rng(seed)
    num_vehicles = int(rng.integers(1, 4))
    states = (
        [OPEN] * int(rng.integers(0, 5)) + [ASSIGNED] * int(rng.integers(0, 4)) + [ONBOARD] * int(rng.integers(0, 3))
    )
    rng.shuffle(states)
    owners = [-1 if s == OPEN else int(rng.integers(num_vehicles)) for s in states]
    plannable = [r for r, s in enumerate(states) if s != ONBOARD]
    vehicle: list[int] = []
    sets: list[tuple[int, ...]] = []
    for v in range(num_vehicles):
        current = tuple(r for r, s in enumerate(states) if s == ASSIGNED and owners[r] == v)
        mine = {(), current}
        for _ in range(int(rng.integers(0, 5))):
            if not plannable:
                break
            k = int(rng.integers(1, min(3, len(plannable)) + 1))
            mine.add(tuple(sorted(int(r) for r in rng.choice(plannable, size=k, replace=False))))
        for trip in sorted(mine):
            vehicle.append(v)
            sets.append(trip)
    order = rng.permutation(len(sets))  # trips of a taxi need not be adjacent
    vehicle = [vehicle[i] for i in order]
    sets = [sets[i] for i in order]
    cost = [int(c) for c in rng.integers(0, 600, len(sets))]
    feasible = [bool(f) for f in rng.random(len(sets)) < 0.75]
    params = PoolingParams(unserved_penalty_s=int(rng.choice([50, 400, 7200])))
    return make_trips(vehicle, sets, cost, feasible), make_requests(states, owners), params, num_vehicles


def allowed_trips(trips: Trips, requests: BatchRequests, v: int) -> list[int]:
    """Taxi v's trips the assignment may choose: feasible, or its EMPTY or CURRENT trip."""
    current = {r for r in range(requests.size) if requests.state[r] == ASSIGNED and requests.vehicle[r] == v}
    return [
        t
        for t in range(trips.size)
        if trips.vehicle[t] == v
        and (trips.feasible[t] or len(trips.requests_of(t)) == 0 or set(trips.requests_of(t).tolist()) == current)
    ]


def objective_of(trips: Trips, requests: BatchRequests, params: PoolingParams, choice: list[int]) -> int | None:
    """The objective of one trip per taxi, or None when it breaks a promise or serves a request twice."""
    counts = np.zeros(requests.size, np.int64)
    for t in choice:
        counts[trips.requests_of(t)] += 1
    if np.any(counts > 1) or np.any(counts[requests.state == ASSIGNED] != 1):
        return None
    unserved = int(np.count_nonzero((requests.state == OPEN) & (counts == 0)))
    return int(sum(int(trips.cost[t]) for t in choice)) + params.unserved_penalty_s * unserved


def brute_force(trips: Trips, requests: BatchRequests, params: PoolingParams, num_vehicles: int) -> int:
    best = None
    for choice in itertools.product(*(allowed_trips(trips, requests, v) for v in range(num_vehicles))):
        value = objective_of(trips, requests, params, list(choice))
        if value is not None and (best is None or value < best):
            best = value
    assert best is not None, "the CURRENT trips always keep every promise"
    return best


def check_valid(
    result: Assignment, trips: Trips, requests: BatchRequests, params: PoolingParams, num_vehicles: int
) -> None:
    """Every promise kept, open requests at most once, only allowed trips, outputs consistent."""
    chosen = result.trip_of_vehicle.tolist()
    assert len(chosen) == num_vehicles
    for v, t in enumerate(chosen):
        assert t in allowed_trips(trips, requests, v), f"taxi {v} got trip {t}, not one it may take"
    value = objective_of(trips, requests, params, chosen)
    assert value is not None, "a promise was broken or a request served twice"
    assert result.objective == value
    served = np.zeros(requests.size, np.bool_)
    for t in chosen:
        served[trips.requests_of(t)] = True
    np.testing.assert_array_equal(result.served, served | (requests.state == ONBOARD))


@pytest.mark.parametrize("seed", range(250))
def test_assign_reaches_the_exhaustive_optimum(seed: int) -> None:
    trips, requests, params, num_vehicles = random_case(seed)
    result = assign(trips, requests, params, num_vehicles=num_vehicles, time_limit_s=30.0)
    check_valid(result, trips, requests, params, num_vehicles)
    assert result.status == "optimal"
    assert result.objective == brute_force(trips, requests, params, num_vehicles)


@pytest.mark.parametrize("seed", range(250))
def test_greedy_keeps_every_promise(seed: int) -> None:
    trips, requests, params, num_vehicles = random_case(seed)
    result = greedy_assign(trips, requests, params, num_vehicles=num_vehicles)
    check_valid(result, trips, requests, params, num_vehicles)
    assert result.status == "greedy"
    assert result.objective >= brute_force(trips, requests, params, num_vehicles)


@pytest.mark.parametrize("seed", range(80))
def test_lp_guided_solve_is_exact(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every coupled model goes through the LP (GLOP), its support and the reduced-cost widening."""
    monkeypatch.setattr(assign_module, "DIRECT_CP_SAT_TRIPS", 0)
    trips, requests, params, num_vehicles = random_case(seed)
    result = assign(trips, requests, params, num_vehicles=num_vehicles, time_limit_s=30.0)
    check_valid(result, trips, requests, params, num_vehicles)
    assert result.status == "optimal"
    assert result.objective == brute_force(trips, requests, params, num_vehicles)


@pytest.mark.parametrize("seed", range(80))
def test_lp_guided_solve_capped_claims_optimal_only_when_it_is(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With models capped at one trip, the widening cannot be complete: "optimal" must still be true."""
    monkeypatch.setattr(assign_module, "DIRECT_CP_SAT_TRIPS", 0)
    monkeypatch.setattr(assign_module, "MAX_MODEL_TRIPS", 1)
    trips, requests, params, num_vehicles = random_case(seed)
    result, stats = assign_with_stats(trips, requests, params, num_vehicles=num_vehicles, time_limit_s=30.0)
    check_valid(result, trips, requests, params, num_vehicles)
    best = brute_force(trips, requests, params, num_vehicles)
    assert result.objective >= best
    if result.status == "optimal":
        assert result.objective == best
    assert stats.lower_bound is None or stats.lower_bound <= best


def two_taxis_one_trap() -> tuple[Trips, BatchRequests, PoolingParams]:
    """Taxi 0 serves request 0 for 10 or request 1 for 100; taxi 1 serves request 0 for 11 or
    request 1 for 1000. The optimum (111) gives request 1 to taxi 0; every greedy order takes
    the cheapest trip first (taxi 0, request 0) and pays 1000 for request 1 on taxi 1 (1010)."""
    requests = make_requests([OPEN, OPEN], [-1, -1])
    trips = make_trips(
        vehicle=[0, 0, 0, 1, 1, 1],
        sets=[(), (0,), (1,), (), (0,), (1,)],
        cost=[0, 10, 100, 0, 11, 1000],
        feasible=[True] * 6,
    )
    return trips, requests, PoolingParams()


def test_greedy_can_miss_the_optimum_and_assign_finds_it() -> None:
    trips, requests, params = two_taxis_one_trap()
    assert greedy_assign(trips, requests, params, num_vehicles=2).objective == 1010
    result = assign(trips, requests, params, num_vehicles=2, time_limit_s=10.0)
    assert (result.objective, result.status) == (111, "optimal")
    assert result.trip_of_vehicle.tolist() == [2, 4]


def test_hint_is_accepted_and_used_as_the_fallback() -> None:
    trips, requests, params = two_taxis_one_trap()
    # No time for CP-SAT: the answer is the better of the greedy and the hint.
    hinted = assign(trips, requests, params, num_vehicles=2, time_limit_s=0.0, hint=np.array([2, 4]))
    assert (hinted.objective, hinted.status) == (111, "greedy")
    unhinted = assign(trips, requests, params, num_vehicles=2, time_limit_s=0.0)
    assert (unhinted.objective, unhinted.status) == (1010, "greedy")
    # The CURRENT trips as the hint (the dispatcher's previous plan): the same optimum.
    current = assign(trips, requests, params, num_vehicles=2, time_limit_s=10.0, hint=np.array([0, 3]))
    assert (current.objective, current.status) == (111, "optimal")


def test_an_infeasible_current_trip_keeps_its_promise() -> None:
    """Taxi 0's CURRENT trip {0} is no longer feasible, and the only other trip with request 0
    (taxi 1's) is infeasible too: the CURRENT trip is chosen. The cheap infeasible trip {1} never is."""
    requests = make_requests([ASSIGNED, OPEN], [0, -1])
    trips = make_trips(
        vehicle=[0, 0, 0, 1, 1, 1],
        sets=[(), (0,), (0, 1), (), (0,), (1,)],
        cost=[0, 900, 1000, 0, 5, 1],
        feasible=[True, False, True, True, False, False],
    )
    params = PoolingParams(unserved_penalty_s=60)
    for result in (
        assign(trips, requests, params, num_vehicles=2),
        greedy_assign(trips, requests, params, num_vehicles=2),
    ):
        check_valid(result, trips, requests, params, 2)
        assert result.trip_of_vehicle.tolist() == [1, 3]
        assert result.objective == 900 + 60


def test_lone_taxis_need_no_solver() -> None:
    """Two taxis with nothing in common: each takes its cheapest trip holding its promises, no model."""
    requests = make_requests([ASSIGNED, OPEN, OPEN, ONBOARD], [0, -1, -1, 1])
    trips = make_trips(
        vehicle=[0, 0, 0, 0, 1, 1],
        sets=[(), (0,), (0, 1), (1,), (), (2,)],
        cost=[0, 300, 500, 50, 100, 400],
        feasible=[True] * 6,
    )
    result, stats = assign_with_stats(trips, requests, PoolingParams(), num_vehicles=2)
    assert stats.model_trips == 0 and stats.coupled_taxis == 0
    assert result.status == "optimal"
    assert result.trip_of_vehicle.tolist() == [2, 5]
    assert result.served.tolist() == [True, True, True, True]


def test_a_big_batch_with_no_time_gets_a_valid_fallback() -> None:
    trips, requests = synthetic_batch(num_vehicles=300, trips_per_vehicle=30, num_open=60, num_assigned=90, seed=3)
    params = PoolingParams()
    none = assign(trips, requests, params, num_vehicles=300, time_limit_s=0.0)
    assert none.status == "greedy"
    check_valid(none, trips, requests, params, 300)
    tiny = assign(trips, requests, params, num_vehicles=300, time_limit_s=0.05)
    assert tiny.status in ("greedy", "feasible", "optimal")
    check_valid(tiny, trips, requests, params, 300)
    assert tiny.objective <= none.objective


def test_same_input_same_answer() -> None:
    trips, requests = synthetic_batch(num_vehicles=120, trips_per_vehicle=20, num_open=40, num_assigned=40, seed=5)
    params = PoolingParams()
    first = assign(trips, requests, params, num_vehicles=120, time_limit_s=20.0)
    second = assign(trips, requests, params, num_vehicles=120, time_limit_s=20.0)
    check_valid(first, trips, requests, params, 120)
    np.testing.assert_array_equal(first.trip_of_vehicle, second.trip_of_vehicle)
    assert (first.objective, first.status) == (second.objective, second.status)


def test_no_taxis_and_no_trips() -> None:
    requests = make_requests([OPEN, OPEN], [-1, -1])
    result = assign(make_trips([], [], [], []), requests, PoolingParams(unserved_penalty_s=100), num_vehicles=0)
    assert result.trip_of_vehicle.shape == (0,)
    assert (result.objective, result.status) == (200, "optimal")
    assert not result.served.any()


def replace_trips(trips: Trips, **fields: object) -> Trips:
    return trips._replace(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t, r: (replace_trips(t, cost=t.cost[:-1]), r, 2, None), "trips.cost"),
        (lambda t, r: (replace_trips(t, cost=t.cost - 200), r, 2, None), "trips.cost"),
        (lambda t, r: (replace_trips(t, feasible=t.feasible.astype(np.int64)), r, 2, None), "trips.feasible"),
        (lambda t, r: (replace_trips(t, req_ptr=t.req_ptr[:-1]), r, 2, None), "trips.req_ptr"),
        (lambda t, r: (replace_trips(t, vehicle=t.vehicle + 1), r, 2, None), "trips.vehicle"),
        (lambda t, r: (t, r, 1, None), "trips.vehicle"),
        (lambda t, r: (replace_trips(t, req=t.req + 5), r, 2, None), "trips.req"),
        (
            lambda t, r: (
                replace_trips(t, req_ptr=np.array([0, 0, 2, 2, 2, 3, 4]), req=np.array([1, 0, 0, 1])),
                r,
                2,
                None,
            ),
            "trips.req",
        ),
        (
            lambda t, r: (t, r._replace(state=np.array([ONBOARD, OPEN], np.int8), vehicle=np.array([0, -1])), 2, None),
            "trips.req",
        ),
        (lambda t, r: (t, r._replace(state=np.array([3, OPEN], np.int8)), 2, None), "requests.state"),
        (lambda t, r: (t, r._replace(direct=r.direct[:1]), 2, None), "requests.direct"),
        (lambda t, r: (t, r._replace(state=np.array([ASSIGNED, OPEN], np.int8)), 2, None), "requests.vehicle"),
        (lambda t, r: (t, r, 2, np.array([0])), "hint"),
        (lambda t, r: (t, r, 2, np.array([0, 1])), "hint"),
        (lambda t, r: (t, r, 2, np.array([0, 9])), "hint"),
        (lambda t, r: (t, r, -1, None), "num_vehicles"),
    ],
)
def test_bad_input_names_the_field(change, field: str) -> None:  # type: ignore[no-untyped-def]
    trips, requests, params = two_taxis_one_trap()
    trips, requests, num_vehicles, hint = change(trips, requests)
    with pytest.raises(InvalidValueError) as info:
        assign(trips, requests, params, num_vehicles=num_vehicles, hint=hint)
    assert info.value.field == field
    if hint is None and field != "num_vehicles":
        with pytest.raises(InvalidValueError):
            greedy_assign(trips, requests, params, num_vehicles=num_vehicles)


def test_a_missing_current_trip_is_refused() -> None:
    requests = make_requests([ASSIGNED, OPEN], [1, -1])
    trips = make_trips([0, 0, 1], [(), (1,), ()], [0, 10, 0], [True] * 3)
    with pytest.raises(InvalidValueError, match="taxi 1 has no CURRENT trip") as info:
        assign(trips, requests, PoolingParams(), num_vehicles=2)
    assert info.value.field == "trips"


def test_time_limit_is_checked() -> None:
    trips, requests, params = two_taxis_one_trap()
    with pytest.raises(InvalidValueError) as info:
        assign(trips, requests, params, num_vehicles=2, time_limit_s=-1.0)
    assert info.value.field == "time_limit_s"
