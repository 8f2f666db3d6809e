"""The shared-taxi dispatcher: batches keep every promise, the baseline works, bad input is refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import ConflictError, InvalidValueError, NotFoundError, Rejection, RejectReason, StopKind
from matching.pooling import PoolingParams
from matching.pooling.dispatcher import SharedTaxiDispatcher
from matching.pooling.model import TaxiEventKind, TaxiQuote, TaxiRequest, TaxiRideStatus, TaxiSpec
from routing import HierarchyTimes, Router, synthetic_city


@pytest.fixture(scope="module")
def city():
    net = synthetic_city(400, seed=7)
    router = Router.from_network(net, cache=False)
    return net, router, HierarchyTimes(router)


def _fleet(n: int, num_nodes: int, seed: int = 0) -> list[TaxiSpec]:
    rng = np.random.default_rng(seed)
    return [TaxiSpec(f"taxi{v}", int(node)) for v, node in enumerate(rng.integers(0, num_nodes, n))]


def _requests(n: int, num_nodes: int, seed: int, horizon_s: int, share_p: float = 0.8) -> list[TaxiRequest]:
    rng = np.random.default_rng(seed)
    out = []
    times = np.sort(rng.integers(0, horizon_s, n))
    for i, t in enumerate(times.tolist()):
        o, d = (int(x) for x in rng.choice(num_nodes, 2, replace=False))
        out.append(
            TaxiRequest(
                id=f"r{i}",
                origin=o,
                destination=d,
                request_time_s=t,
                passengers=int(rng.choice([1, 1, 1, 2])),
                share=bool(rng.random() < share_p),
            )
        )
    return out


class Executor:
    """Drives the taxis along their plans at the travel times (each taxi commits to its next stop)."""

    def __init__(self, disp: SharedTaxiDispatcher) -> None:
        self.d = disp
        self.violations: list[str] = []

    def advance(self, from_s: int, until_s: int) -> None:
        """Carry out the plans made at ``from_s`` up to ``until_s``."""
        d = self.d
        for taxi in d.taxis:
            vid = taxi.spec.id
            while taxi.plan:
                stop = taxi.plan[0]
                start = max(taxi.time, from_s)
                arrive = start + d.times.pair(taxi.node, stop.node)
                ride = d.rides[stop.ride_id]
                service = max(arrive, ride.request.request_time_s) if stop.kind is StopKind.PICKUP else arrive
                if service > until_s:
                    # on its way: committed to reach the stop's node at that time
                    d.locate(vid, stop.node, arrive)
                    break
                if stop.kind is StopKind.PICKUP:
                    d.boarded(ride.id, service)
                    self._check_load(taxi)
                else:
                    d.alighted(ride.id, service)

    def _check_load(self, taxi) -> None:
        d = self.d
        seats = sum(d.rides[r].request.passengers for r in taxi.onboard)
        if seats > d.params.capacity:
            self.violations.append(f"{taxi.spec.id} carries {seats} passengers")
        if len(taxi.onboard) > d.params.max_parties:
            self.violations.append(f"{taxi.spec.id} carries {len(taxi.onboard)} parties")
        if len(taxi.onboard) > 1 and any(not d.rides[r].request.share for r in taxi.onboard):
            self.violations.append(f"{taxi.spec.id} pools a rider who asked to ride alone")


def run_day(disp: SharedTaxiDispatcher, requests: list[TaxiRequest], horizon_s: int) -> Executor:
    ex = Executor(disp)
    pending = list(requests)
    t = 0
    step = disp.params.batch_s
    while t <= horizon_s + 3 * 3600:
        while pending and pending[0].request_time_s <= t:
            disp.submit(pending.pop(0), t)
        disp.run_batch(t)
        ex.advance(t, t + step)
        t += step
        if not pending and t > horizon_s and all(r.status.is_terminal for r in disp.rides.values()):
            break
    return ex


def check_promises(disp: SharedTaxiDispatcher, ex: Executor) -> None:
    p = disp.params
    assert not ex.violations, ex.violations[:5]
    for ride in disp.rides.values():
        ever_assigned = any(kind == "assigned" for _, kind in ride.history)
        if ever_assigned:
            assert ride.status is TaxiRideStatus.COMPLETED, (ride.id, ride.status, ride.history)
        if ride.status is TaxiRideStatus.COMPLETED:
            assert ride.picked_up_s is not None and ride.dropped_off_s is not None
            assert ride.request.request_time_s <= ride.picked_up_s <= ride.latest_pickup_s, ride
            assert ride.dropped_off_s - ride.picked_up_s <= p.max_ride_s(ride.direct_s), ride
            assert ride.dropped_off_s <= ride.latest_dropoff_s, ride
        else:
            assert ride.status is TaxiRideStatus.REJECTED, (ride.id, ride.status)
            assert ride.reason == RejectReason.NO_VEHICLE_IN_TIME.value


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    taxis=st.integers(1, 6),
    riders=st.integers(1, 40),
    parties=st.integers(1, 3),
    wait=st.sampled_from([120, 300, 600]),
    delay=st.sampled_from([None, 300, 900]),
)
def test_every_promise_is_kept_across_batches(city, seed, taxis, riders, parties, wait, delay):
    net, _, times = city
    params = PoolingParams(capacity=4, max_parties=parties, max_wait_s=wait, max_delay_s=delay, batch_s=30)
    disp = SharedTaxiDispatcher(times, _fleet(taxis, net.num_nodes, seed), params)
    reqs = _requests(riders, net.num_nodes, seed, horizon_s=1800)
    ex = run_day(disp, reqs, 1800)
    check_promises(disp, ex)


def test_batches_pool_riders_and_beat_immediate_insertion(city):
    net, _, times = city
    params = PoolingParams(max_wait_s=420, max_delay_s=840, batch_s=30)
    reqs = _requests(160, net.num_nodes, 3, horizon_s=3600, share_p=1.0)
    results = {}
    for batch in (True, False):
        disp = SharedTaxiDispatcher(times, _fleet(8, net.num_nodes, 1), params, batch=batch)
        ex = run_day(disp, reqs, 3600)
        check_promises(disp, ex)
        done = [r for r in disp.rides.values() if r.status is TaxiRideStatus.COMPLETED]
        results[batch] = (len(done), sum(r.shared for r in done))
    served_batch, shared_batch = results[True]
    served_now, _ = results[False]
    assert shared_batch > 0
    assert served_batch >= served_now


def test_solo_riders_are_never_pooled_and_pay_the_solo_fare(city):
    net, _, times = city
    disp = SharedTaxiDispatcher(times, _fleet(2, net.num_nodes, 5), PoolingParams(max_wait_s=900))
    reqs = [dataclasses.replace(r, share=False) for r in _requests(12, net.num_nodes, 9, horizon_s=600)]
    ex = run_day(disp, reqs, 600)
    check_promises(disp, ex)
    for ride in disp.rides.values():
        if ride.status is TaxiRideStatus.COMPLETED:
            assert not ride.shared
            assert ride.fare_krw == disp.fare.solo_fare(ride.direct_m)


def test_shared_rides_pay_the_pooled_fare(city):
    _net, _, times = city
    # Two riders from the same corner to the same corner, one taxi: they must share.
    disp = SharedTaxiDispatcher(times, [TaxiSpec("t", 0)], PoolingParams(max_wait_s=1800, detour_s=1800))
    a = TaxiRequest(id="a", origin=10, destination=300, request_time_s=0)
    b = TaxiRequest(id="b", origin=10, destination=300, request_time_s=0)
    disp.submit(a, 0)
    disp.submit(b, 0)
    ex = run_day(disp, [], 0)
    check_promises(disp, ex)
    for rid in "ab":
        ride = disp.rides[rid]
        assert ride.status is TaxiRideStatus.COMPLETED and ride.shared
        assert ride.fare_krw == disp.fare.fare(ride.request.rider_class, ride.direct_m, pooled=True)
        assert ride.fare_krw < disp.fare.solo_fare(ride.direct_m)


def test_quote_gives_price_and_pickup_estimate(city):
    net, _, times = city
    disp = SharedTaxiDispatcher(times, _fleet(3, net.num_nodes, 2), PoolingParams(max_wait_s=900))
    req = TaxiRequest(id="q", origin=5, destination=250, request_time_s=100)
    quote = disp.quote(req, 100)
    assert isinstance(quote, TaxiQuote)
    assert 100 <= quote.pickup_eta_s <= quote.latest_pickup_s == 1000
    assert quote.dropoff_eta_s >= quote.pickup_eta_s + quote.direct_s
    assert quote.pooled_fare_krw < quote.solo_fare_krw == quote.fare_krw
    assert not disp.rides  # nothing booked
    far = SharedTaxiDispatcher(times, [TaxiSpec("t", 0, 0, 50)], PoolingParams(max_wait_s=60))
    no = far.quote(req, 100)  # the only taxi is off shift
    assert isinstance(no, Rejection) and no.reason is RejectReason.NO_VEHICLE_IN_TIME


def test_unmatched_requests_are_rejected_with_the_reason(city):
    _net, _, times = city
    disp = SharedTaxiDispatcher(times, [TaxiSpec("t", 0, 0, 10)], PoolingParams(max_wait_s=60, batch_s=30))
    disp.submit(TaxiRequest(id="late", origin=3, destination=200, request_time_s=20), 20)
    assert disp.rides["late"].status is TaxiRideStatus.MATCHING
    for t in (30, 60, 90):
        disp.run_batch(t)
    ride = disp.rides["late"]
    assert ride.status is TaxiRideStatus.REJECTED and ride.reason == "no_vehicle_in_time"
    kinds = [e.kind for e in disp.drain_events()]
    assert kinds == [TaxiEventKind.SUBMITTED, TaxiEventKind.REJECTED]


def test_cancel_and_no_show_leave_the_plan(city):
    _net, _, times = city
    disp = SharedTaxiDispatcher(times, [TaxiSpec("t", 0)], PoolingParams(max_wait_s=900))
    disp.submit(TaxiRequest(id="a", origin=3, destination=200, request_time_s=0), 0)
    disp.submit(TaxiRequest(id="b", origin=4, destination=100, request_time_s=0), 0)
    disp.run_batch(0)
    assert {s.ride_id for s in disp.next_stops("t")} == {"a", "b"}
    disp.cancel("a", 10)
    disp.no_show("b", 20)
    assert disp.next_stops("t") == []
    assert disp.rides["a"].status is TaxiRideStatus.CANCELLED and disp.rides["b"].status is TaxiRideStatus.NO_SHOW
    with pytest.raises(ConflictError, match="ride_id"):
        disp.cancel("a", 30)
    with pytest.raises(NotFoundError, match="ride_id"):
        disp.cancel("nope", 30)


def test_bad_input_names_the_field(city):
    net, _, times = city
    with pytest.raises(InvalidValueError, match="fleet"):
        SharedTaxiDispatcher(times, [], PoolingParams())
    with pytest.raises(InvalidValueError, match="fleet"):
        SharedTaxiDispatcher(times, [TaxiSpec("a", 0), TaxiSpec("a", 1)], PoolingParams())
    with pytest.raises(InvalidValueError, match=r"fleet\.node"):
        SharedTaxiDispatcher(times, [TaxiSpec("a", net.num_nodes)], PoolingParams())
    with pytest.raises(InvalidValueError, match="times"):
        SharedTaxiDispatcher(np.zeros((3, 3)), [TaxiSpec("a", 0)], PoolingParams())  # type: ignore[arg-type]
    disp = SharedTaxiDispatcher(times, [TaxiSpec("a", 0)], PoolingParams(capacity=4))
    with pytest.raises(InvalidValueError, match="passengers"):
        disp.submit(TaxiRequest(id="x", origin=1, destination=2, request_time_s=0, passengers=5), 0)
    with pytest.raises(InvalidValueError, match="origin"):
        disp.submit(TaxiRequest(id="x", origin=net.num_nodes + 5, destination=2, request_time_s=0), 0)
    with pytest.raises(InvalidValueError, match="destination"):
        TaxiRequest(id="x", origin=1, destination=1, request_time_s=0)
    with pytest.raises(InvalidValueError, match="share"):
        TaxiRequest(id="x", origin=1, destination=2, request_time_s=0, share="yes")  # type: ignore[arg-type]
    disp.submit(TaxiRequest(id="x", origin=1, destination=2, request_time_s=0), 0)
    with pytest.raises(ConflictError, match="id"):
        disp.submit(TaxiRequest(id="x", origin=1, destination=2, request_time_s=0), 0)
    with pytest.raises(NotFoundError, match="vehicle_id"):
        disp.locate("nope", 0, 0)
    with pytest.raises(InvalidValueError, match="node"):
        disp.locate("a", -1, 0)


def test_snapshot_restores_waiting_and_promised_rides(city):
    import json

    net, _, times = city
    params = PoolingParams(max_wait_s=600)
    reqs = _requests(20, net.num_nodes, 11, horizon_s=300)
    one = SharedTaxiDispatcher(times, _fleet(3, net.num_nodes, 4), params)
    for r in reqs[:12]:
        one.submit(r, r.request_time_s)
    one.run_batch(300)
    for r in reqs[12:]:
        one.submit(r, 300)
    data = json.loads(json.dumps(one.snapshot()))  # through JSON, as a store would keep it
    two = SharedTaxiDispatcher(times, _fleet(3, net.num_nodes, 4), params)
    two.restore(data)
    assert two.snapshot() == one.snapshot()
    assert set(two.open_rides) == {r.id for r in reqs[12:]}
    a, b = one.run_batch(330), two.run_batch(330)
    assert (a.assigned, a.reassigned, a.rejected, a.objective) == (b.assigned, b.reassigned, b.rejected, b.objective)
    with pytest.raises(InvalidValueError, match="snapshot"):
        SharedTaxiDispatcher(times, _fleet(2, net.num_nodes, 4), params).restore(data)


def test_idle_taxis_are_sent_where_requests_went_unserved(city):
    net, _, times = city
    far = int(np.argmax(times.block([0], np.arange(net.num_nodes))[0]))
    params = PoolingParams(max_wait_s=60, batch_s=30, rebalance=True)
    disp = SharedTaxiDispatcher(times, [TaxiSpec("t", 0)], params)
    disp.submit(TaxiRequest(id="far", origin=far, destination=1, request_time_s=0), 0)
    for t in (0, 30, 60):
        disp.run_batch(t)
    assert disp.rides["far"].status is TaxiRideStatus.REJECTED
    assert disp.rebalance(60) == [("t", far)]
    assert disp.rebalancing_target("t") == far
    assert disp.rebalance(90) == []  # already on its way
    disp.locate("t", far, 2000)
    assert disp.rebalancing_target("t") is None
    off = SharedTaxiDispatcher(times, [TaxiSpec("t", 0)], dataclasses.replace(params, rebalance=False))
    assert off.rebalance(60) == []
