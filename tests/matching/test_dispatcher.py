"""The dispatcher on the real Jamsil network: offers, bookings, events, re-optimisation.

The central property: no operation ever breaks a booked promise (pickup inside the
promised window, ride no longer than its limit, riders on board stay on their vehicle,
seats never exceeded), checked after every step of random request streams.

Every re-optimisation of those streams is also judged apart from the kernels: the
subproblem handed to the solver is compared with the riders' promises (stops, windows, ride
limits, who is on board, seats, shift ends, the stop matrix), and the independent checker
(:mod:`routing.checker`) judges the plan it starts from and the solution adopted, whose
cost and stops must be the plan's afterwards.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from matching import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    Offer,
    Rejection,
    RejectReason,
    Request,
    RideStatus,
    ServiceParams,
    StopKind,
    VehicleState,
)
from matching import dispatcher as dispatcher_module
from matching.dispatcher import Dispatcher, ReoptimiseReport
from matching.snapshot import DispatcherSnapshot
from routing import RoadNetwork, Router, StopSet
from routing.checker import check_solution
from routing.problem import DELIVERY, END, PICKUP, START, PDProblem
from routing.solve import Result, solve

HOUR = 3600
#: Random streams the property test runs (the same ones every run: Hypothesis is derandomised).
STREAM_EXAMPLES = 60


def _numbered(value: Any) -> str:
    """The repr of ``value`` (records, events) with every offer id cut to its number: offer ids end in
    a random suffix (``offer-<n>-<16 hex digits>``), different in two dispatchers otherwise alike."""
    return re.sub(r"(offer-\d+)-[0-9a-f]{16}", r"\1", repr(value))


def fleet(n: int, stops: StopSet, *, seats: int = 16, wheelchair: int = 1) -> list[VehicleState]:
    return [
        VehicleState(
            id=f"bus{k}",
            seats=seats,
            wheelchair_places=wheelchair,
            depot_stop=(7 * k) % len(stops),
            shift_start_s=6 * HOUR,
            shift_end_s=23 * HOUR,
        )
        for k in range(n)
    ]


@pytest.fixture(scope="module")
def jamsil_router(jamsil_net: RoadNetwork) -> Router:
    return Router(jamsil_net)


@pytest.fixture(scope="module")
def matrix(jamsil_router: Router, jamsil_stops: StopSet) -> np.ndarray:
    return jamsil_router.matrix(jamsil_stops.node, jamsil_stops.node).astype(np.float64)


def make(
    net: RoadNetwork, router: Router, stops: StopSet, matrix: np.ndarray, vehicles: int = 4, **params: object
) -> Dispatcher:
    return Dispatcher(
        net,
        router,
        stops,
        fleet(vehicles, stops),
        params=ServiceParams(**params),  # type: ignore[arg-type]
        travel_time_s=matrix,
        seed=1,
    )


@pytest.fixture()
def disp(jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray) -> Dispatcher:
    return make(jamsil_net, jamsil_router, jamsil_stops, matrix)


def request(k: int, o: int, d: int, t: int, **kw: object) -> Request:
    return Request(id=f"r{k}", requested_time_s=t, origin_stop=o, destination_stop=d, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- invariants
def check_plan(disp: Dispatcher) -> None:
    """Every promise of every active ride holds in the current plan."""
    plan = disp.plan
    seen: Counter[str] = Counter()
    for v in range(plan.num_vehicles):
        seq = plan.route(v)
        b = plan.state.service_start[v, : len(seq)]
        load = plan.arrays.start_load[v].copy()
        assert (load <= plan.arrays.capacity[v]).all()
        pickup_time: dict[str, float] = {}
        for k in range(1, len(seq) - 1):
            node = int(seq[k])
            rid = disp.plan.node_ride[node]
            ride = disp.rides[rid]
            seen[rid] += 1
            assert ride.vehicle == v
            assert ride.status in (RideStatus.ASSIGNED, RideStatus.ON_BOARD)
            load += plan.arrays.demand[node]
            assert (load <= plan.arrays.capacity[v]).all() and (load >= 0).all(), f"vehicle {v} over capacity"
            if node == ride.pickup_node:
                assert ride.status == RideStatus.ASSIGNED
                assert ride.offer.pickup_window_start_s - 1e-6 <= b[k] <= ride.offer.pickup_window_end_s + 1e-6
                pickup_time[rid] = b[k] + plan.arrays.service[node]
                assert int(plan.arrays.node_location[node]) == ride.offer.pickup_stop
            else:
                assert int(plan.arrays.node_location[node]) == ride.offer.dropoff_stop
                if rid in pickup_time:
                    assert b[k] - pickup_time[rid] <= ride.offer.max_ride_s + 1e-6
                else:  # on board: measured from the actual pickup
                    assert ride.status == RideStatus.ON_BOARD
                    assert plan.arrays.partner[node] == -1
                    s_p = disp.params.service_time_s(ride.request.passengers)
                    assert b[k] - (ride.picked_up_at_s + s_p) <= ride.offer.max_ride_s + 1e-6
    for rid, ride in disp.rides.items():
        expected = {RideStatus.ASSIGNED: 2, RideStatus.ON_BOARD: 1}.get(ride.status, 0)
        assert seen[rid] == expected, f"ride {rid} ({ride.status}) appears {seen[rid]} times in the plan"


def check_served(disp: Dispatcher) -> None:
    """Rides carried out by the autopilot kept their promises."""
    for ride in disp.rides.values():
        if ride.picked_up_at_s is not None:
            assert ride.offer.pickup_window_start_s - 1 <= ride.picked_up_at_s <= ride.offer.pickup_window_end_s + 1
        if ride.dropped_off_at_s is not None:
            s_p = disp.params.service_time_s(ride.request.passengers)
            assert ride.dropped_off_at_s - (ride.picked_up_at_s + s_p) <= ride.offer.max_ride_s + 1


# ---------------------------------------------------------------------------- re-optimisation, judged
@dataclass
class SolveCall:
    problem: PDProblem
    initial_routes: list[list[int]]
    result: Result


@contextmanager
def solver_calls() -> Iterator[list[SolveCall]]:
    """Record what the dispatcher asks of the solver and what it gets (the real solver runs)."""
    calls: list[SolveCall] = []

    def recorded(problem: PDProblem, **kw: Any) -> Result:
        result = solve(problem, **kw)
        calls.append(SolveCall(problem, [list(map(int, r)) for r in kw["initial_routes"]], result))
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dispatcher_module, "solve", recorded)
        yield calls


def plan_by_ride(disp: Dispatcher) -> list[list[tuple[str, str]]]:
    """Every vehicle's planned stops as (ride id, "pickup" / "dropoff")."""
    return [[(s.ride_id, s.kind) for s in disp.planned_stops(v)] for v in range(len(disp.vehicles))]


def check_subproblem(disp: Dispatcher, problem: PDProblem, matrix: np.ndarray, now_s: int) -> list[tuple[str, str]]:
    """The re-optimisation subproblem states the riders' promises, read from the rides themselves.

    Returns the name of every node, (ride id, "pickup" / "dropoff"), ("", "start" / "end") for depots.
    """
    k = len(disp.vehicles)
    assert problem.num_vehicles == k and problem.objective == "cost"
    assert np.array_equal(problem.travel_time, matrix) and np.array_equal(problem.travel_cost, matrix)
    names: list[tuple[str, str]] = [("", "")] * problem.num_nodes
    ride_ids: list[str] = problem.meta["ride_ids"]
    active = [rid for rid, r in disp.rides.items() if r.status in (RideStatus.ASSIGNED, RideStatus.ON_BOARD)]
    assert sorted(ride_ids) == sorted(active)
    loc = problem.node_location
    load = np.zeros((k, 2), np.int64)
    for q, rid in enumerate(ride_ids):
        ride = disp.rides[rid]
        offer, req = ride.offer, ride.request
        seats = (req.passengers - int(req.wheelchair), int(req.wheelchair))
        service = disp.params.service_time_s(req.passengers)
        p, d = int(problem.pickup[q]), int(problem.delivery[q])
        assert problem.kind[d] == DELIVERY and loc[d] == offer.dropoff_stop
        assert tuple(problem.demand[d]) == (-seats[0], -seats[1]) and problem.service[d] == service
        names[d] = (rid, "dropoff")
        if ride.status == RideStatus.ASSIGNED:  # free to move, inside its promise
            assert problem.kind[p] == PICKUP and loc[p] == offer.pickup_stop and problem.request_vehicle[q] == -1
            assert tuple(problem.demand[p]) == seats and problem.service[p] == service
            assert offer.pickup_window_start_s <= problem.tw_early[p] <= problem.tw_late[p]
            assert problem.tw_late[p] <= offer.pickup_window_end_s
            assert problem.max_ride[q] <= offer.max_ride_s
            names[p] = (rid, "pickup")
        else:  # on board: stays on its vehicle, dropped off within the limit from the actual pickup
            assert p == -1 and problem.request_vehicle[q] == ride.vehicle
            assert ride.picked_up_at_s is not None
            assert problem.tw_late[d] <= ride.picked_up_at_s + service + offer.max_ride_s + 1e-6
            load[ride.vehicle] += seats
    for v, veh in enumerate(disp.vehicles):
        start, end = int(problem.vehicle_start[v]), int(problem.vehicle_end[v])
        assert problem.kind[start] == START and problem.kind[end] == END
        assert problem.tw_early[start] >= now_s  # no vehicle starts in the past
        assert loc[end] == veh.depot_stop and problem.tw_late[end] <= veh.shift_end_s
        assert tuple(problem.capacity[v]) == (veh.seats, veh.wheelchair_places)
        assert tuple(problem.start_load[v]) == tuple(load[v])
        names[start], names[end] = ("", "start"), ("", "end")
    assert all(kind for _, kind in names), "a node of the subproblem is no ride's and no vehicle's"
    return names


def judge_reoptimisation(
    disp: Dispatcher,
    matrix: np.ndarray,
    now_s: int,
    before: list[list[tuple[str, str]]],
    report: ReoptimiseReport,
    calls: list[SolveCall],
) -> None:
    """Judge one re-optimisation with the independent checker (see the module docstring)."""
    if not calls:  # nothing to re-optimise
        assert not report.adopted and plan_by_ride(disp) == before
        return
    (call,) = calls
    problem = call.problem
    names = check_subproblem(disp, problem, matrix, now_s)
    # The solver starts from the plan as it was, which the checker finds feasible at the plan's cost.
    assert [[names[n] for n in route] for route in call.initial_routes] == before
    start = check_solution(problem, call.initial_routes)
    assert start.feasible, start.violations
    assert start.cost == pytest.approx(report.cost_before, abs=1e-6)
    # A warm start is never made worse.
    assert call.result.feasible and call.result.cost <= start.cost + 1e-6
    if not report.adopted:
        assert plan_by_ride(disp) == before and report.cost_after == report.cost_before
        return
    adopted = check_solution(problem, call.result.routes)
    assert adopted.feasible, adopted.violations
    assert adopted.cost == pytest.approx(report.cost_after, abs=1e-6) and report.cost_after < report.cost_before
    assert plan_by_ride(disp) == [[names[n] for n in route] for route in call.result.routes]


def reoptimise_judged(disp: Dispatcher, matrix: np.ndarray, now_s: int, iterations: int) -> ReoptimiseReport:
    before = plan_by_ride(disp)
    with solver_calls() as calls:
        report = disp.reoptimise(iterations=iterations, now_s=now_s)
    judge_reoptimisation(disp, matrix, now_s, before, report, calls)
    return report


# ---------------------------------------------------------------------------- basics
def test_quote_book_and_follow_a_ride(disp: Dispatcher) -> None:
    t = 8 * HOUR
    offer = disp.quote(request(1, 3, 20, t), t)
    assert isinstance(offer, Offer)
    assert offer.pickup_stop == 3 and offer.dropoff_stop == 20
    assert t <= offer.pickup_window_start_s <= offer.pickup_eta_s <= offer.pickup_window_end_s <= t + 900
    assert offer.pickup_eta_s < offer.dropoff_eta_s <= offer.latest_dropoff_s
    assert offer.max_ride_s == disp.params.max_ride_s(offer.direct_time_s)
    assert offer.fare_krw >= 1800
    ride = disp.book(offer.offer_id, t + 10)
    assert ride.status == RideStatus.ASSIGNED
    assert disp.book(offer.offer_id, t + 20) is ride  # idempotent
    check_plan(disp)
    planned = [stop for _, _, stop, _ in disp.vehicle_route(disp.vehicles[ride.vehicle].id)]
    assert planned == [3, 20]
    disp.advance_to(t + 2 * HOUR)
    assert ride.status == RideStatus.COMPLETED
    check_served(disp)
    with pytest.raises(ConflictError):
        disp.cancel(ride.ride_id, t + 2 * HOUR)


def test_a_booking_goes_to_another_vehicle_when_the_offered_one_filled_up(
    jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray
) -> None:
    """Two full parties quoted at once get the same van; the second booking takes the other van."""
    vans = fleet(2, jamsil_stops, seats=4)
    disp = Dispatcher(jamsil_net, jamsil_router, jamsil_stops, vans, travel_time_s=matrix, seed=1)
    t = 8 * HOUR
    far = int(np.argmax(matrix[3]))  # a long ride: the van cannot come back for the second party in time
    first = disp.quote(request(1, 3, far, t, passengers=4), t)
    second = disp.quote(request(2, 3, far, t, passengers=4), t)
    assert isinstance(first, Offer) and isinstance(second, Offer)
    assert first.vehicle_id == second.vehicle_id  # the plan did not change between the quotes
    disp.book(first.offer_id, t)
    ride = disp.book(second.offer_id, t)
    assert disp.vehicles[ride.vehicle].id != second.vehicle_id
    check_plan(disp)  # the second party's promised window holds on the other van


def test_offers_that_expired_unbooked_are_forgotten_but_still_read_as_expired(disp: Dispatcher) -> None:
    t = 9 * HOUR
    booked = disp.quote(request(1, 3, 20, t), t)
    assert isinstance(booked, Offer)
    ride = disp.book(booked.offer_id, t)
    open_offers = [disp.quote(request(k, 5 + k, 25, t), t) for k in range(2, 6)]
    assert all(isinstance(o, Offer) for o in open_offers)
    later = booked.valid_until_s + 1
    assert isinstance(disp.quote(request(9, 4, 22, later), later), Offer)  # a quote after they expired
    assert len(disp.offers) == 2  # the booked offer and the new one: no memory for dead offers
    for o in open_offers:
        assert isinstance(o, Offer)
        with pytest.raises(ConflictError, match="expired"):
            disp.book(o.offer_id, later)
        with pytest.raises(ConflictError, match="expired"):
            disp.offer_rider(o.offer_id)
    assert disp.book(booked.offer_id, later) is ride  # a booked offer is still idempotent
    with pytest.raises(NotFoundError):
        disp.book("offer-999999", later)  # never made
    with pytest.raises(NotFoundError):
        disp.book("offer-٣", later)  # not one of its ids (a non-ASCII digit)


def test_offers_expire_and_unknown_ids_are_not_found(disp: Dispatcher) -> None:
    t = 9 * HOUR
    offer = disp.quote(request(2, 5, 9, t), t)
    assert isinstance(offer, Offer)
    with pytest.raises(ConflictError, match="expired"):
        disp.book(offer.offer_id, offer.valid_until_s + 1)
    with pytest.raises(NotFoundError):
        disp.book("offer-404", t)
    with pytest.raises(NotFoundError):
        disp.cancel("nobody", t)
    assert not disp.rides


def test_cancel_frees_the_plan(disp: Dispatcher) -> None:
    t = 10 * HOUR
    offer = disp.quote(request(3, 1, 30, t + 600), t)
    assert isinstance(offer, Offer)
    ride = disp.book(offer.offer_id, t)
    disp.cancel(ride.ride_id, t + 5)
    assert ride.status == RideStatus.CANCELLED
    assert all(disp.plan.state.length == 2)
    with pytest.raises(ConflictError):
        disp.cancel(ride.ride_id, t + 6)


def test_rejections_name_their_reason(
    jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray
) -> None:
    disp = make(jamsil_net, jamsil_router, jamsil_stops, matrix)
    t = 8 * HOUR
    far = Request(id="far", requested_time_s=t, origin_lat=37.60, origin_lon=127.20, destination_stop=3)
    out = disp.quote(far, t)
    assert isinstance(out, Rejection) and out.reason == RejectReason.NO_STOP_IN_REACH
    night = disp.quote(request(4, 1, 2, 2 * HOUR + 86400), t)
    assert isinstance(night, Rejection) and night.reason == RejectReason.OUTSIDE_HOURS
    big = disp.quote(request(5, 1, 2, t, passengers=8), t)  # 8 allowed per request, 16 seats: fine
    assert isinstance(big, Offer)
    no_wc = Dispatcher(
        jamsil_net, jamsil_router, jamsil_stops, fleet(2, jamsil_stops, wheelchair=0), travel_time_s=matrix
    )
    wc = no_wc.quote(request(6, 1, 2, t, wheelchair=True), t)
    assert isinstance(wc, Rejection) and wc.reason == RejectReason.NO_WHEELCHAIR_VEHICLE
    too_big = no_wc.quote(request(7, 1, 2, t, passengers=8), t)
    assert isinstance(too_big, Offer)
    small = Dispatcher(jamsil_net, jamsil_router, jamsil_stops, fleet(1, jamsil_stops, seats=4), travel_time_s=matrix)
    crowd = small.quote(request(8, 1, 2, t, passengers=5), t)
    assert isinstance(crowd, Rejection) and crowd.reason == RejectReason.TOO_MANY_PASSENGERS
    # The only bus starts its shift at noon: nothing can reach an 08:00 pickup within 15 min.
    late = Dispatcher(
        jamsil_net,
        jamsil_router,
        jamsil_stops,
        [VehicleState(id="noon", depot_stop=0, shift_start_s=12 * HOUR, shift_end_s=20 * HOUR)],
        travel_time_s=matrix,
    )
    early = late.quote(request(9, 1, 30, t), t)
    assert isinstance(early, Rejection) and early.reason == RejectReason.NO_VEHICLE_IN_TIME
    # A ride that would end after the shift (the bus must be back at its depot by 20:00).
    too_late = late.quote(request(10, 1, 30, 20 * HOUR - 30), 20 * HOUR - 60)
    assert isinstance(too_late, Rejection) and too_late.reason == RejectReason.NO_FEASIBLE_INSERTION
    assert not late.rides


def test_invalid_requests_raise_and_change_nothing(disp: Dispatcher) -> None:
    with pytest.raises(InvalidRequestError) as info:
        request(9, 1, 2, 8 * HOUR, passengers=0)
    assert info.value.field == "passengers"
    with pytest.raises(InvalidRequestError):
        disp.quote(request(10, 1, 10_000, 8 * HOUR), 8 * HOUR)
    assert not disp.rides and all(disp.plan.state.length == 2)


def test_boarding_out_of_order_is_refused(disp: Dispatcher) -> None:
    t = 8 * HOUR
    ids = []
    for k, (o, d) in enumerate([(1, 30), (2, 31)]):
        offer = disp.quote(request(20 + k, o, d, t), t)
        assert isinstance(offer, Offer)
        ids.append(disp.book(offer.offer_id, t).ride_id)
    ride = disp.rides[ids[0]]
    v = ride.vehicle
    first = int(disp.plan.state.nodes[v, 1])
    other = (
        next(r for r in ids if disp.rides[r].vehicle == v and disp.rides[r].pickup_node != first)
        if any(disp.rides[r].vehicle == v and disp.rides[r].pickup_node != first for r in ids)
        else None
    )
    if other is not None:
        with pytest.raises(ConflictError):
            disp.on_boarded(other, t + 60)
    with pytest.raises(ConflictError):
        disp.on_alighted(ids[0], t + 60)  # not on board yet


# ---------------------------------------------------------------------------- properties
def run_stream(
    disp: Dispatcher, matrix: np.ndarray, seed: int, steps: int, *, reopt_every: int, cancel_share: float
) -> Counter[str]:
    """A random stream of requests, bookings, cancellations and re-optimisations (judged), with
    the vehicles on autopilot; the promises are checked after every step."""
    rng = np.random.default_rng(seed)
    outcome: Counter[str] = Counter()
    t = 7 * HOUR
    for k in range(steps):
        t += int(rng.exponential(90))
        disp.advance_to(t)
        check_plan(disp)
        o, d = (int(x) for x in rng.choice(len(disp.stops), 2, replace=False))
        answer = disp.quote(request(k, o, d, t + int(rng.integers(0, 1200)), passengers=int(rng.integers(1, 4))), t)
        if isinstance(answer, Offer):
            t_book = t + int(rng.integers(0, 30))
            disp.advance_to(t_book)
            try:
                disp.book(answer.offer_id, t_book)
                outcome["booked"] += 1
            except ConflictError:  # the plan moved on while the rider decided
                outcome["offer_lost"] += 1
            t = t_book
        else:
            outcome[answer.reason.value] += 1
        check_plan(disp)
        if rng.random() < cancel_share:
            open_rides = [r for r in disp.rides.values() if r.status == RideStatus.ASSIGNED]
            if open_rides:
                disp.cancel(open_rides[int(rng.integers(len(open_rides)))].ride_id, t)
                outcome["cancelled"] += 1
        if k % reopt_every == reopt_every - 1:
            report = reoptimise_judged(disp, matrix, t, iterations=60)
            assert report.cost_after <= report.cost_before + 1e-6
            outcome["reopt_adopted"] += int(report.adopted)
            check_plan(disp)
    disp.advance_to(t + 4 * HOUR)
    check_served(disp)
    assert all(r.status.is_terminal for r in disp.rides.values())
    return outcome


def test_promises_hold_through_random_streams(
    jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray
) -> None:
    """Random streams, each a seed of its own, on fleets of 1-5 vans of 2-8 seats, with every
    re-optimisation judged. Hypothesis is derandomised: every run replays the same
    ``STREAM_EXAMPLES`` streams (a failure seen once is seen again, and no example database is
    needed); a failure prints the stream's arguments, ``seed`` first, and how to replay it alone."""

    @settings(max_examples=STREAM_EXAMPLES, derandomize=True, deadline=None, print_blob=True)
    @given(
        seed=st.integers(0, 2**32 - 1),
        vehicles=st.integers(1, 5),
        seats=st.integers(2, 8),
        max_wait_s=st.sampled_from([300, 600, 900]),
        reopt_every=st.integers(2, 10),
        cancel_share=st.sampled_from([0.0, 0.1, 0.3]),
    )
    def stream(seed: int, vehicles: int, seats: int, max_wait_s: int, reopt_every: int, cancel_share: float) -> None:
        note(
            f"replay: run_stream(Dispatcher(net, router, stops, fleet({vehicles}, stops, seats={seats}), "
            f"params=ServiceParams(max_wait_s={max_wait_s}), travel_time_s=matrix, seed={seed}), matrix, "
            f"{seed}, 60, reopt_every={reopt_every}, cancel_share={cancel_share})"
        )
        disp = Dispatcher(
            jamsil_net,
            jamsil_router,
            jamsil_stops,
            fleet(vehicles, jamsil_stops, seats=seats),
            params=ServiceParams(max_wait_s=max_wait_s),
            travel_time_s=matrix,
            seed=seed,
        )
        outcome = run_stream(disp, matrix, seed, 60, reopt_every=reopt_every, cancel_share=cancel_share)
        assert outcome["booked"] > 0

    stream()


def test_reoptimisation_improves_and_keeps_promises(
    jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray
) -> None:
    disp = make(jamsil_net, jamsil_router, jamsil_stops, matrix, vehicles=3)
    outcome = run_stream(disp, matrix, 5, 120, reopt_every=10, cancel_share=0.0)
    assert outcome["reopt_adopted"] > 0  # re-optimisation found something on this stream


def test_same_calls_same_answers(
    jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray
) -> None:
    runs = []
    for _ in range(2):
        disp = make(jamsil_net, jamsil_router, jamsil_stops, matrix, vehicles=3)
        run_stream(disp, matrix, 11, 50, reopt_every=8, cancel_share=0.1)
        runs.append(
            [(r.ride_id, r.vehicle, r.picked_up_at_s, r.dropped_off_at_s, r.status) for r in disp.rides.values()]
        )
    assert runs[0] == runs[1]


def test_booking_at_once_is_quote_then_book(
    jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray
) -> None:
    """quote_and_book reuses the quote's insertion: the same rides, plans and events as
    quote + book, request after request (some rejected, on three vehicles filling up)."""
    two_steps = make(jamsil_net, jamsil_router, jamsil_stops, matrix, vehicles=3)
    at_once = make(jamsil_net, jamsil_router, jamsil_stops, matrix, vehicles=3)
    rng = np.random.default_rng(5)
    t = 7 * HOUR
    outcomes: Counter[str] = Counter()
    for k in range(60):
        t += int(rng.exponential(40))
        o, d = (int(x) for x in rng.choice(len(jamsil_stops), 2, replace=False))
        req = request(k, o, d, t + int(rng.integers(0, 1800)), passengers=int(rng.integers(1, 4)))
        offer = two_steps.quote(req, t)
        first = two_steps.book(offer.offer_id, t, idempotency_key=f"k{k}") if isinstance(offer, Offer) else offer
        second = at_once.quote_and_book(req, t, idempotency_key=f"k{k}")
        assert type(first) is type(second)
        if isinstance(first, Rejection):
            assert first == second
            outcomes["rejected"] += 1
            continue
        outcomes["booked"] += 1
        assert _numbered(two_steps.snapshot_ride(first.ride_id).to_dict()) == _numbered(
            at_once.snapshot_ride(second.ride_id).to_dict()
        )
        for v in range(3):
            assert two_steps.planned_stops(v) == at_once.planned_stops(v)
        # at once: no offer event
        assert _numbered([e for e in two_steps.events if e.kind != "offer"]) == _numbered(at_once.events)
    assert outcomes["booked"] >= 20 and outcomes["rejected"] >= 5, outcomes


def test_kinds_of_plan_nodes(disp: Dispatcher) -> None:
    t = 8 * HOUR
    offer = disp.quote(request(30, 4, 12, t), t)
    assert isinstance(offer, Offer)
    ride = disp.book(offer.offer_id, t)
    assert disp.plan.arrays.kind[ride.pickup_node] == 2 and disp.plan.arrays.kind[ride.dropoff_node] == 3


def test_a_late_vehicle_is_reported_and_the_plan_stays_consistent(disp: Dispatcher) -> None:
    t = 8 * HOUR
    offer = disp.quote(request(40, 2, 28, t), t)
    assert isinstance(offer, Offer)
    ride = disp.book(offer.offer_id, t)
    # Nobody reported the pickup: half an hour later the vehicle is taken to be still on its way.
    later = offer.pickup_window_end_s + 1800
    answer = disp.quote(request(41, 5, 9, later), later)
    late = [e for e in disp.events if e.kind == "late"]
    assert late and late[0].ride_id == ride.ride_id
    assert disp.plan.prepare(ride.vehicle)  # consistent again, with the widened window
    assert isinstance(answer, Offer | Rejection)
    disp.advance_to(later + 3 * HOUR)
    assert ride.status == RideStatus.COMPLETED


def test_a_ride_that_ends_after_its_limit_is_reported_at_the_drop_off(disp: Dispatcher) -> None:
    # The vehicle was late only on the last leg (say, traffic got worse on the way): nothing
    # told the plan before the drop-off, which is where it must be reported.
    t = 8 * HOUR
    done = []
    for rid, (o, d, overrun) in enumerate([(2, 28, 0), (5, 9, 120)]):
        offer = disp.quote(request(50 + rid, o, d, t), t)
        assert isinstance(offer, Offer)
        ride = disp.book(offer.offer_id, t)
        board = int(ride.planned_pickup_s)
        disp.on_boarded(ride.ride_id, board)
        deadline = int(disp.plan.arrays.tw_late[ride.dropoff_node])  # end of the ride limit, on board
        disp.on_alighted(ride.ride_id, deadline + overrun)
        assert ride.status == RideStatus.COMPLETED
        done.append(ride)
        t = deadline + overrun + 60
    late = [e for e in disp.events if e.kind == "late"]
    assert [e.ride_id for e in late] == [done[1].ride_id]  # the punctual ride is not reported
    assert "dropped off" in late[0].detail


def test_export_and_restore_rebuild_the_same_plan(
    jamsil_net: RoadNetwork, jamsil_router: Router, jamsil_stops: StopSet, matrix: np.ndarray
) -> None:
    import json

    disp = make(jamsil_net, jamsil_router, jamsil_stops, matrix, vehicles=3)
    rng = np.random.default_rng(21)
    t = 7 * HOUR
    for k in range(40):
        t += int(rng.exponential(60))
        disp.advance_to(t)
        o, d = (int(x) for x in rng.choice(len(jamsil_stops), 2, replace=False))
        answer = disp.quote(request(k, o, d, t + int(rng.integers(0, 900))), t)
        if isinstance(answer, Offer):
            disp.book(answer.offer_id, t)
    disp.cancel(next(r.ride_id for r in disp.rides.values() if r.status == RideStatus.ASSIGNED), t)
    states = Counter(r.status for r in disp.rides.values())
    assert states[RideStatus.ON_BOARD] and states[RideStatus.ASSIGNED] and states[RideStatus.COMPLETED]
    for v in range(disp.plan.num_vehicles):  # the plan read as columns is the plan read stop by stop
        cols = disp.plan_columns(v)
        by_stop = [(s.ride_id, s.kind, s.stop, s.planned_s, s.service_s) for s in disp.planned_stops(v)]
        assert list(zip(*cols[:5], strict=True)) == by_stop
        riders = [disp.rides[rid] for rid in cols.ride_ids]
        assert cols.passengers == [r.request.passengers for r in riders]
        assert cols.window_start_s == [
            r.offer.pickup_window_start_s if kind == "pickup" else 0 for r, kind in zip(riders, cols.kinds, strict=True)
        ]
        assert all(type(x) is int for x in cols.stops + cols.service_s + cols.passengers + cols.window_start_s)
        assert all(type(x) is str for x in cols.ride_ids) and all(type(x) is StopKind for x in cols.kinds)
    rides = [json.loads(json.dumps(disp.snapshot_ride(rid).to_dict())) for rid in disp.rides]  # through JSON, as stored
    vehicles = [json.loads(json.dumps(disp.snapshot_vehicle(v).to_dict())) for v in range(len(disp.vehicles))]
    again = make(jamsil_net, jamsil_router, jamsil_stops, matrix, vehicles=3)
    again.restore(DispatcherSnapshot.from_records(rides, vehicles))
    check_plan(again)
    for v in range(disp.plan.num_vehicles):
        vid = disp.vehicles[v].id
        assert again.vehicle_route(vid) == disp.vehicle_route(vid)
    assert {r.ride_id: r.status for r in again.rides.values()} == {r.ride_id: r.status for r in disp.rides.values()}
    # both carry on identically
    for k in range(40, 55):
        t += 60
        for d_ in (disp, again):
            d_.advance_to(t)
        o = k % 30
        req = request(k, o, (o + 5) % len(jamsil_stops), t + 300)
        a, b = disp.quote(req, t), again.quote(req, t)
        assert type(a) is type(b)
        if isinstance(a, Offer) and isinstance(b, Offer):
            assert (a.vehicle_id, a.pickup_eta_s, a.fare_krw) == (b.vehicle_id, b.pickup_eta_s, b.fare_krw)
            disp.book(a.offer_id, t)
            again.book(b.offer_id, t)
    check_plan(again)
