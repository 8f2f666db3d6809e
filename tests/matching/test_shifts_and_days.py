"""A driver ending the shift, rides that their day left open, and a plan carried into the next day.

* ``end_shift``: the vehicle serves what it has but is offered no new ride (by a quote, a
  booking of an older offer, or a re-optimisation) until ``start_shift``; the state survives a
  restore.
* ``expire``: an open ride (waiting or on board) leaves the plan and ends as EXPIRED.
* ``RideSnapshot.shifted`` / ``VehicleSnapshot.shifted``: the plan restored on the next day's clock is
  the same plan a day earlier: same vehicles, same order, every time a day less.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from matching import ConflictError, Offer, RideStatus, ServiceParams
from matching.dispatcher import Dispatcher
from matching.snapshot import DispatcherSnapshot
from routing import RoadNetwork, Router, StopSet
from tests.matching.test_dispatcher import HOUR, check_plan, fleet, make, request

DAY = 24 * HOUR


@pytest.fixture(scope="module")
def router(jamsil_net: RoadNetwork) -> Router:
    return Router(jamsil_net)


@pytest.fixture(scope="module")
def matrix(router: Router, jamsil_stops: StopSet) -> np.ndarray:
    return router.matrix(jamsil_stops.node, jamsil_stops.node).astype(np.float64)


@pytest.fixture()
def new(jamsil_net: RoadNetwork, router: Router, jamsil_stops: StopSet, matrix: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda vehicles=4: make(jamsil_net, router, jamsil_stops, matrix, vehicles=vehicles)


@pytest.fixture()
def two_day(jamsil_net: RoadNetwork, router: Router, jamsil_stops: StopSet, matrix: np.ndarray):  # type: ignore[no-untyped-def]
    """Dispatchers whose vehicles work from 06:00 until 23:00 the next day (pre-bookings for tomorrow)."""

    def build() -> Dispatcher:
        vehicles = [replace(v, shift_end_s=DAY + 23 * HOUR) for v in fleet(3, jamsil_stops)]
        return Dispatcher(
            jamsil_net, router, jamsil_stops, vehicles, params=ServiceParams(), travel_time_s=matrix, seed=1
        )

    return build


def _book(d: Dispatcher, k: int, o: int, dst: int, t: int, now: int) -> str:
    offer = d.quote(request(k, o, dst, t), now)
    assert isinstance(offer, Offer), offer
    return d.book(offer.offer_id, now).ride_id


def test_a_vehicle_off_shift_gets_no_new_ride_but_keeps_its_own(new) -> None:  # type: ignore[no-untyped-def]
    d: Dispatcher = new(vehicles=2)
    t = 8 * HOUR
    first = d.quote(request(1, 3, 20, t + 600), t)
    assert isinstance(first, Offer)
    bus = first.vehicle_id
    ride = d.book(first.offer_id, t)
    later = d.quote(request(2, 4, 22, t + 900), t)  # an offer made before the shift ends
    assert isinstance(later, Offer)
    d.end_shift(bus, t + 10)
    assert [e.kind for e in d.events][-1] == "shift_ended"
    v = d.vehicle_index[bus]
    assert ride.status == RideStatus.ASSIGNED and ride.vehicle == v  # it still serves its rider
    for k in range(3, 23):  # no quote names it
        answer = d.quote(request(k, (5 * k) % 30, (5 * k + 11) % 30, t + 1200), t + 10)
        assert not isinstance(answer, Offer) or answer.vehicle_id != bus
    booked = d.book(later.offer_id, t + 10)  # a booking of an older offer goes elsewhere
    assert booked.vehicle != v
    for _ in range(3):  # re-optimisation gives it no one else's ride
        d.reoptimise(iterations=200, now_s=t + 20)
        assert {d.plan.node_ride[n] for n in d.plan.route(v)[1:-1]} <= {ride.ride_id}
    check_plan(d)
    # the state survives a restore, and start_shift ends it
    records = [json.loads(json.dumps(d.snapshot_ride(r).to_dict())) for r in d.rides]
    vehicles = [json.loads(json.dumps(d.snapshot_vehicle(k).to_dict())) for k in range(len(d.vehicles))]
    again: Dispatcher = new(vehicles=2)
    again.restore(DispatcherSnapshot.from_records(records, vehicles))
    assert again.off_shift.tolist() == d.off_shift.tolist() == [k == v for k in range(2)]
    again.start_shift(bus, t + 30)
    assert not again.off_shift.any()
    names = set()
    for k in range(30, 50):
        answer = again.quote(request(k, (3 * k) % 30, (3 * k + 7) % 30, t + 1800), t + 30)
        if isinstance(answer, Offer):
            names.add(answer.vehicle_id)
    assert bus in names


def test_every_vehicle_off_shift_means_no_vehicle(new) -> None:  # type: ignore[no-untyped-def]
    d: Dispatcher = new(vehicles=2)
    t = 8 * HOUR
    offer = d.quote(request(1, 3, 20, t + 600), t)
    assert isinstance(offer, Offer)
    for vid in d.vehicle_index:
        d.end_shift(vid, t)
    answer = d.quote(request(2, 3, 20, t + 600), t)
    assert not isinstance(answer, Offer) and answer.reason.value == "no_vehicle_in_time"
    with pytest.raises(ConflictError, match="can no longer be served"):
        d.book(offer.offer_id, t)
    check_plan(d)


def test_open_rides_expire_and_leave_the_plan(new) -> None:  # type: ignore[no-untyped-def]
    d: Dispatcher = new(vehicles=2)
    t = 8 * HOUR
    waiting = _book(d, 1, 3, 20, t + 600, t)
    riding = _book(d, 2, 5, 25, t + 300, t)
    d.advance_to(d.rides[riding].offer.pickup_eta_s + 1)  # the autopilot picks the second rider up
    assert d.rides[riding].status == RideStatus.ON_BOARD
    for rid in (waiting, riding):
        d.expire(rid, t + 4 * HOUR)
        assert d.rides[rid].status == RideStatus.EXPIRED
        assert d.events[-1].kind == "expired" and d.events[-1].ride_id == rid
    assert all(d.plan.state.length[v] == 2 for v in range(d.plan.num_vehicles))
    assert not d.plan.arrays.start_load.any()
    check_plan(d)
    with pytest.raises(ConflictError, match="already expired"):
        d.expire(waiting, t + 4 * HOUR)
    assert d.snapshot_ride(waiting).to_dict()["status"] == "expired"


def test_a_plan_carried_into_the_next_day_is_the_same_plan_a_day_earlier(two_day) -> None:  # type: ignore[no-untyped-def]
    d: Dispatcher = two_day()
    now = 22 * HOUR
    rng = np.random.default_rng(5)
    for k in range(12):  # pre-bookings for tomorrow morning
        o, dst = (int(x) for x in rng.choice(30, 2, replace=False))
        answer = d.quote(request(k, o, dst, DAY + 7 * HOUR + 300 * k), now)
        if isinstance(answer, Offer):
            d.book(answer.offer_id, now)
    assert len(d.rides) >= 8
    rides = [json.loads(json.dumps(d.snapshot_ride(r).to_dict())) for r in d.rides]
    vehicles = [json.loads(json.dumps(d.snapshot_vehicle(v).to_dict())) for v in range(len(d.vehicles))]
    again: Dispatcher = two_day()
    again.restore(DispatcherSnapshot.from_records(rides, vehicles).shifted(-DAY))
    check_plan(again)
    for vid in d.vehicle_index:
        assert [(r, k, s, t - DAY) for r, k, s, t in d.vehicle_route(vid)] == again.vehicle_route(vid)
    for rid, ride in d.rides.items():
        moved = again.rides[rid]
        assert moved.offer.pickup_window_start_s == ride.offer.pickup_window_start_s - DAY
        assert moved.offer.latest_dropoff_s == ride.offer.latest_dropoff_s - DAY
        assert moved.request.requested_time_s == ride.request.requested_time_s - DAY
        assert moved.booked_at_s == 0  # booked yesterday at 22:00: before this day's clock begins
    # both plans take the same next request the same way, a day apart
    a = d.quote(request(99, 2, 17, DAY + 7 * HOUR + 1200), DAY + 6 * HOUR)
    b = again.quote(request(99, 2, 17, 7 * HOUR + 1200), 6 * HOUR)
    assert isinstance(a, Offer) and isinstance(b, Offer)
    assert (a.vehicle_id, a.pickup_eta_s - DAY, a.fare_krw) == (b.vehicle_id, b.pickup_eta_s, b.fare_krw)
