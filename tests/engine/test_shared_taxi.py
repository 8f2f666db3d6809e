"""The shared taxi (I-MOA) over real gRPC: quotes, batches, rejections, reassignments, restarts.

Every test talks to a real server on a free port deploying two services on the bundled Seoul
Jamsil extract (``deployments/jamsil_two_services.toml``): the I-MOD zone of ``imod_jamsil``
(the default service) and four shared taxis called ``imoa`` (batches every 30 s, a maximum wait
of 180 s), on an external clock. The flow tests run on the memory store and on the session's
real Redis; the restart test on Redis only (a second engine on the same database).

Taxis are put where a test needs them the way a driver app would, with ReportLocation: a taxi
that reports it will reach its node only an hour from now cannot reach any pickup within the
maximum wait.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from matching.deployment import ConfigError, Deployment, TaxiServiceSpec
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2, rider_pb2_grpc
from tests.engine.conftest import Engine, RedisServer, bearer, serve_subprocess
from tests.engine.test_server import StreamReader, status_code

DEPLOYMENTS = Path(__file__).parent / "deployments"
TWO_SERVICES = DEPLOYMENTS / "jamsil_two_services.toml"
TAXIS_ONLY = DEPLOYMENTS / "jamsil_taxis.toml"
#: The service clock of the tests (08:00, a batch time) and the taxi service's rules.
T0 = 8 * 3600
BATCH_S = 30
MAX_WAIT_S = 180
TIMEOUT = 20.0
IMOA = "imoa"
Metadata = list[tuple[str, str]] | None


# ---------------------------------------------------------------------------- helpers
@pytest.fixture(params=["memory", "redis"])
def taxi_setup(request: pytest.FixtureRequest) -> dict[str, Any]:
    """How to start the two-service engine: on the memory store, or on the session's Redis (flushed)."""
    if request.param == "memory":
        return {"store": "memory", "scenario": TWO_SERVICES}
    server: RedisServer = request.getfixturevalue("redis_server")
    if not server.running:
        server.start()
    with server.client() as client:
        client.flushdb()
    return {"store": server.url, "scenario": TWO_SERVICES}


@pytest.fixture
def taxi_engine(start_engine: Callable[..., Engine], taxi_setup: dict[str, Any]) -> Engine:
    engine = start_engine(**taxi_setup)
    advance(engine, T0)
    return engine


def advance(engine: Engine, now_s: int) -> None:
    """Move the external clock on to ``now_s`` as an operator: the taxi batches due run first."""
    engine.operator.Reoptimise(operator_pb2.ReoptimiseRequest(iterations=1, now_s=now_s), timeout=TIMEOUT)


def taxi_nodes(engine: Engine) -> list[int]:
    """Where each taxi's plan starts now."""
    return [t.node for t in engine.core.taxi[IMOA].dispatcher.taxis]


def free_node(engine: Engine, avoid: list[int], k: int = 0) -> int:
    """The ``k``-th road node (from the middle of the network) that is no taxi's."""
    n = engine.core.network.num_nodes
    nodes = [v for v in range(n // 2, n) if v not in avoid] + [v for v in range(n // 2) if v not in avoid]
    return nodes[k]


def ask(
    request_id: str, origin: Any, destination: Any, *, service: str = IMOA, **fields: Any
) -> rider_pb2.QuoteRequest:
    """A quote of the shared taxi; an end is a node id or a (lat, lon) point."""

    def place(where: Any) -> common_pb2.Place:
        if isinstance(where, tuple):
            return common_pb2.Place(point=common_pb2.LatLon(lat=where[0], lon=where[1]))
        return common_pb2.Place(node=where)

    fields.setdefault("passengers", 1)
    return rider_pb2.QuoteRequest(
        request_id=request_id, origin=place(origin), destination=place(destination), service=service, **fields
    )


def book(engine: Engine, request: rider_pb2.QuoteRequest, metadata: Metadata = None) -> common_pb2.Ride:
    return engine.rider.BookRide(rider_pb2.BookRideRequest(request=request), metadata=metadata, timeout=TIMEOUT)


def get_ride(engine: Engine, ride_id: str, metadata: Metadata = None, service: str = "") -> common_pb2.Ride:
    request = rider_pb2.GetRideRequest(ride_id=ride_id, service=service)
    return engine.rider.GetRide(request, metadata=metadata, timeout=TIMEOUT)


def locate(engine: Engine, vehicle_id: str, node: int, time_s: int) -> None:
    """The taxi says it will be at ``node`` at ``time_s`` (ReportLocation)."""
    report = driver_pb2.LocationReport(vehicle_id=vehicle_id, node=node, time_s=time_s)
    assert engine.driver.ReportLocation(iter([report]), timeout=TIMEOUT).accepted == 1


def away(engine: Engine, vehicle_id: str) -> None:
    """The taxi reaches its node only an hour from now: it cannot reach any pickup in time."""
    locate(engine, vehicle_id, taxi_nodes(engine)[int(vehicle_id.removeprefix(IMOA))], engine.core.clock_s + 3600)


def watch(engine: Engine, ride_id: str, metadata: Metadata = None) -> StreamReader:
    reader = StreamReader(
        engine.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id=ride_id), metadata=metadata, timeout=60)
    )
    assert reader.get().kind == rider_pb2.RIDE_UPDATE_KIND_STATE  # the current state first
    return reader


def next_update(reader: StreamReader, kind: int) -> rider_pb2.RideUpdate:
    """The next update of ``kind`` (ETA updates before it are skipped)."""
    while True:
        update = reader.get()
        if update.kind != rider_pb2.RIDE_UPDATE_KIND_ETA:
            assert update.kind == kind, update
            return update


def bad_field(call: Callable[[], Any]) -> str:
    """The field an INVALID_ARGUMENT names (the test fails on another outcome)."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    status = rpc_status.from_call(info.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details if d.Is(error_details_pb2.BadRequest.DESCRIPTOR))
    return str(bad.field_violations[0].field)


# ---------------------------------------------------------------------------- the deployment
def test_a_deployment_declares_taxi_services_and_refuses_bad_tables(data_dir: Path) -> None:
    two = Deployment.from_toml(TWO_SERVICES, data_dir=data_dir)
    assert two.services == ("imod", IMOA) and two.imod
    (spec,) = two.taxi_services
    assert spec.vehicles == 4 and spec.pooling.max_wait_s == MAX_WAIT_S and spec.pooling.batch_s == BATCH_S
    assert spec.taxi_ids() == ["imoa0000", "imoa0001", "imoa0002", "imoa0003"]
    assert spec.fleet(300, seed=1) == spec.fleet(300, seed=1) != spec.fleet(300, seed=2)  # drawn for the seed
    assert [s.node for s in spec.fleet(300, seed=1)[:2]] != [5, 7]
    listed = TaxiServiceSpec(IMOA, spec.pooling, 4, start_nodes=(5, 7))
    assert [s.node for s in listed.fleet(300, seed=1)[:2]] == [5, 7]  # the listed nodes first, then drawn
    alone = Deployment.from_toml(TAXIS_ONLY, data_dir=data_dir)
    assert alone.services == ("jamsil-taxi",) and not alone.imod and alone.taxi_services[0].pooling.batch_s == 20
    assert alone.taxi_services[0].taxi_ids() == ["taxi0000", "taxi0001", "taxi0002"]  # as in the simulator
    drv = Deployment.from_dict(
        {"network": {"kind": "benchmark", "path": "rideshare/manhattan"}, "service": {"kind": "shared_taxi"},
         "pooling": {}, "fleet": {"vehicles": 400, "start_nodes": "rideshare/manhattan/Manhattan.drv"}},
        data_dir=data_dir,
    ).taxi_services[0]  # fmt: skip
    assert len(drv.start_nodes) == 300 and drv.vehicles == 400  # Manhattan.drv lists 300 taxis
    base = {"network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"}}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"services": [{"name": "x", "pooling": {"max_wait_s": 5}}]}, "services[0].pooling.max_wait_s"),
        ({"services": [{"name": "x", "colour": "red"}]}, "services[0].colour"),
        ({"services": [{"name": "x", "kind": "bus"}]}, "services[0].kind"),
        ({"services": [{"vehicles": 3}]}, "services[0].name"),
        ({"services": [{"name": "imod"}]}, "services.name"),
        ({"services": [{"name": "x", "vehicles": 2, "start_nodes": [1, 2, 3]}]}, "services[0].start_nodes"),
        ({"services": [{"name": "x", "start_nodes": "no-such.drv"}]}, "services[0].start_nodes"),
        ({"service": {"kind": "tram"}}, "service.kind"),
        ({"service": {"kind": "shared_taxi"}, "pooling": {"batch_s": 0}}, "pooling.batch_s"),
        ({"pooling": {}, "service": {"kind": "imod"}}, "pooling"),
    ]
    for doc, field in cases:
        with pytest.raises(ConfigError) as info:
            Deployment.from_dict({**base, **doc}, data_dir=data_dir)
        assert info.value.field == field, doc


# ---------------------------------------------------------------------------- riders
def test_a_quote_is_immediate_door_to_door_with_both_fares_and_the_walk(taxi_engine: Engine) -> None:
    engine = taxi_engine
    net = engine.core.network
    taxis = taxi_nodes(engine)
    o, d = free_node(engine, taxis, 0), free_node(engine, taxis, 40)
    near = (float(net.lat[o]) + 0.0002, float(net.lon[o]))  # about 22 m north of node o
    answer = engine.rider.Quote(ask("q1", near, (float(net.lat[d]), float(net.lon[d]))), timeout=TIMEOUT)
    assert answer.WhichOneof("result") == "offer", answer
    offer = answer.offer
    assert offer.service == IMOA and offer.vehicle_id.startswith(IMOA) and not offer.offer_id
    assert offer.pickup_node == o and offer.dropoff_node == d and offer.walk_m > 0
    assert T0 <= offer.pickup_eta_s <= offer.pickup_window_end_s == T0 + MAX_WAIT_S
    assert offer.dropoff_eta_s >= offer.pickup_eta_s + offer.direct_time_s
    assert offer.solo_fare_krw == offer.fare_krw > offer.pooled_fare_krw > 0
    alone = engine.rider.Quote(ask("q2", o, d, share=common_pb2.SHARING_ALONE), timeout=TIMEOUT).offer
    assert alone.pooled_fare_krw == 0 and alone.fare_krw == offer.solo_fare_krw and alone.walk_m == 0
    assert engine.core.taxi[IMOA].dispatcher.rides == {}  # a quote books nothing


def test_a_booking_is_matching_then_assigned_within_one_batch_window(taxi_engine: Engine) -> None:
    engine = taxi_engine
    taxis = taxi_nodes(engine)
    o, d = free_node(engine, taxis, 0), free_node(engine, taxis, 40)
    ride = book(engine, ask("r1", o, d))
    assert ride.status == common_pb2.RIDE_STATUS_MATCHING and ride.service == IMOA and not ride.vehicle_id
    assert ride.pickup_node == o and ride.dropoff_node == d and ride.pickup_stop == -1
    reader = watch(engine, "r1")
    try:
        advance(engine, T0 + BATCH_S)  # the next batch time: the batch runs before the clock passes it
        update = next_update(reader, rider_pb2.RIDE_UPDATE_KIND_ASSIGNED)
    finally:
        reader.close()
    assigned = update.ride
    assert update.time_s == T0 + BATCH_S
    assert assigned.status == common_pb2.RIDE_STATUS_ASSIGNED and assigned.vehicle_id.startswith(IMOA)
    assert T0 + BATCH_S <= assigned.planned_pickup_s <= T0 + MAX_WAIT_S
    assert assigned.planned_dropoff_s > assigned.planned_pickup_s
    assert assigned.fare_krw > 0 and not assigned.shared and assigned.share
    assert get_ride(engine, "r1") == assigned  # GetRide finds it in whichever service has it
    manifest = engine.driver.GetManifest(driver_pb2.GetManifestRequest(vehicle_id=assigned.vehicle_id), timeout=TIMEOUT)
    assert [(s.ride_id, s.kind, s.node, s.stop) for s in manifest.stops] == [
        ("r1", driver_pb2.STOP_KIND_PICKUP, o, -1),
        ("r1", driver_pb2.STOP_KIND_DROPOFF, d, -1),
    ]


def test_a_ride_no_taxi_can_reach_is_rejected_with_the_reason(taxi_engine: Engine) -> None:
    engine = taxi_engine
    for v in range(4):
        away(engine, f"{IMOA}{v:04d}")
    taxis = taxi_nodes(engine)
    o, d = free_node(engine, taxis, 0), free_node(engine, taxis, 40)
    quoted = engine.rider.Quote(ask("far", o, d), timeout=TIMEOUT)
    assert quoted.WhichOneof("result") == "rejection"
    assert quoted.rejection.reason == common_pb2.REJECT_REASON_NO_VEHICLE_IN_TIME
    assert book(engine, ask("far", o, d)).status == common_pb2.RIDE_STATUS_MATCHING  # batches decide
    reader = watch(engine, "far")
    try:
        advance(engine, T0 + MAX_WAIT_S + BATCH_S)
        update = next_update(reader, rider_pb2.RIDE_UPDATE_KIND_REJECTED)
        with pytest.raises(Exception):  # noqa: B017 - the stream ends after a ride's end: no more updates
            reader.get(timeout=1.0)
    finally:
        reader.close()
    rejected = update.ride
    assert update.time_s <= T0 + MAX_WAIT_S  # the batch before the maximum wait ran out
    assert rejected.status == common_pb2.RIDE_STATUS_REJECTED
    assert rejected.reject_reason == common_pb2.REJECT_REASON_NO_VEHICLE_IN_TIME
    assert str(MAX_WAIT_S) in rejected.detail and not rejected.vehicle_id
    # the batch then sends idle taxis toward the unserved demand: the drivers' manifests say where
    listed = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(service=IMOA), timeout=TIMEOUT).vehicles
    heading = [v for v in listed if v.HasField("rebalance_node")]
    assert heading and all(v.rebalance_node == o for v in heading)
    request = driver_pb2.GetManifestRequest(vehicle_id=heading[0].vehicle_id)
    manifest = engine.driver.GetManifest(request, timeout=TIMEOUT)
    assert manifest.rebalance_node == o and not manifest.stops


def test_a_reassignment_before_the_pickup_is_streamed(taxi_engine: Engine) -> None:
    engine = taxi_engine
    taxis = taxi_nodes(engine)
    b = 1
    origin = taxis[b]  # the pickup is where taxi B stands; B first says it is busy for an hour
    away(engine, f"{IMOA}{b:04d}")
    ride = book(engine, ask("r1", origin, free_node(engine, taxis, 40)))
    reader = watch(engine, ride.ride_id)
    try:
        advance(engine, T0 + BATCH_S)
        first = next_update(reader, rider_pb2.RIDE_UPDATE_KIND_ASSIGNED).ride
        assert first.vehicle_id != f"{IMOA}{b:04d}"
        locate(engine, f"{IMOA}{b:04d}", origin, T0 + BATCH_S)  # B is free after all, at the pickup
        away(engine, first.vehicle_id)  # and the first taxi is held up
        advance(engine, T0 + 2 * BATCH_S)
        moved = next_update(reader, rider_pb2.RIDE_UPDATE_KIND_REASSIGNED).ride
    finally:
        reader.close()
    assert moved.vehicle_id == f"{IMOA}{b:04d}" and moved.status == common_pb2.RIDE_STATUS_ASSIGNED
    assert moved.planned_pickup_s <= moved.pickup_window_end_s == first.pickup_window_end_s  # the promise holds
    request = operator_pb2.WatchAssignmentsRequest(after_event_id="0-0", service=IMOA)
    events = engine.operator.WatchAssignments(request, timeout=TIMEOUT)
    kinds = []
    for event in events:
        assert event.service == IMOA
        kinds.append(event.kind)
        if event.kind == operator_pb2.ASSIGNMENT_KIND_REASSIGNMENT:
            events.cancel()
            break
    assert operator_pb2.ASSIGNMENT_KIND_BOOKING in kinds and operator_pb2.ASSIGNMENT_KIND_BATCH in kinds


def test_fleet_status_reports_the_pooling_kpis(taxi_engine: Engine) -> None:
    engine = taxi_engine
    taxis = taxi_nodes(engine)
    o, d = free_node(engine, taxis, 0), free_node(engine, taxis, 40)
    for rid in ("p1", "p2"):  # two parties from the same door to the same door: one taxi takes both
        book(engine, ask(rid, o, d))
    status = engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(service=IMOA), timeout=TIMEOUT)
    assert (status.service, status.vehicles, status.rides_matching, status.rides_matched) == (IMOA, 4, 2, 0)
    advance(engine, T0 + BATCH_S)
    p1, p2 = get_ride(engine, "p1"), get_ride(engine, "p2")
    assert p1.vehicle_id == p2.vehicle_id and p1.planned_pickup_s == p2.planned_pickup_s
    for rid, kind in (("p1", driver_pb2.STOP_EVENT_KIND_BOARDED), ("p2", driver_pb2.STOP_EVENT_KIND_BOARDED)):
        event = driver_pb2.StopEvent(vehicle_id=p1.vehicle_id, kind=kind, ride_id=rid, time_s=p1.planned_pickup_s)
        engine.driver.ReportStopEvent(event, timeout=TIMEOUT)
    cancel = rider_pb2.CancelRideRequest(ride_id="p1")
    assert status_code(lambda: engine.rider.CancelRide(cancel, timeout=TIMEOUT)) == grpc.StatusCode.FAILED_PRECONDITION
    status = engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(service=IMOA), timeout=TIMEOUT)
    assert (status.rides_matching, status.rides_matched, status.rides_on_board, status.riders_on_board) == (0, 2, 2, 2)
    assert status.pooled_share == 1.0 and status.batches >= 1
    assert T0 + BATCH_S <= status.last_batch_s <= status.clock_s and status.last_batch_s % BATCH_S == 0
    assert status.last_batch_compute_s > 0 and status.rides_rejected == 0
    for rid in ("p1", "p2"):
        event = driver_pb2.StopEvent(
            vehicle_id=p1.vehicle_id, kind=driver_pb2.STOP_EVENT_KIND_ALIGHTED, ride_id=rid, time_s=p1.planned_dropoff_s
        )
        engine.driver.ReportStopEvent(event, timeout=TIMEOUT)
    done = get_ride(engine, "p1")
    assert done.status == common_pb2.RIDE_STATUS_COMPLETED and done.shared
    solo = engine.rider.Quote(ask("q", o, d), timeout=TIMEOUT).offer
    assert done.fare_krw == solo.pooled_fare_krw < solo.solo_fare_krw  # the pooled fare: the ride was shared
    status = engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(service=IMOA), timeout=TIMEOUT)
    assert status.rides_completed == 2 and status.mean_wait_s >= 0 and status.pooled_share == 1.0


def test_on_the_wall_clock_a_timer_runs_the_batches(start_engine: Callable[..., Engine], tmp_path: Path) -> None:
    """On the wall clock nobody's call moves the clock: the engine's timer queues each batch."""
    text = TWO_SERVICES.read_text().replace("batch_s = 30", "batch_s = 1")
    text = text.replace('shift_start = "06:00"\nshift_end = "23:30"\npooling', "pooling")  # the taxis' shift: all day
    scenario = tmp_path / "wall.toml"
    scenario.write_text(text)
    engine = start_engine(scenario=scenario, clock="wall")
    assert engine.core.taxi[IMOA].spec.pooling.batch_s == 1 and engine.core.taxi[IMOA].fleet[0].shift_start_s == 0
    taxis = taxi_nodes(engine)
    ride = book(engine, ask("r1", free_node(engine, taxis, 0), free_node(engine, taxis, 40)))
    assert ride.status == common_pb2.RIDE_STATUS_MATCHING
    reader = watch(engine, "r1")
    try:
        assigned = next_update(reader, rider_pb2.RIDE_UPDATE_KIND_ASSIGNED).ride  # within seconds, nobody calling
    finally:
        reader.close()
    assert assigned.vehicle_id.startswith(IMOA) and assigned.pickup_window_start_s <= assigned.planned_pickup_s


# ---------------------------------------------------------------------------- restart
def test_a_restarted_engine_keeps_the_waiting_ride_and_matches_it(
    start_engine: Callable[..., Engine], redis_server: RedisServer
) -> None:
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as client:
        client.flushdb()
    first = start_engine(store=redis_server.url, scenario=TWO_SERVICES)
    advance(first, T0)
    taxis = taxi_nodes(first)
    o, d = free_node(first, taxis, 0), free_node(first, taxis, 40)
    promised = book(first, ask("early", o, d))
    advance(first, T0 + BATCH_S)
    promised = get_ride(first, "early")
    assert promised.status == common_pb2.RIDE_STATUS_ASSIGNED
    retry = rider_pb2.BookRideRequest(request=ask("late", d, o), idempotency_key="k-late")
    waiting = first.rider.BookRide(retry, timeout=TIMEOUT)
    assert waiting.status == common_pb2.RIDE_STATUS_MATCHING
    first.close()  # the engine stops; Redis keeps what it committed

    second = start_engine(store=redis_server.url, scenario=TWO_SERVICES)
    assert second.core.clock_s == T0 + BATCH_S
    assert get_ride(second, "late") == waiting  # still waiting
    assert second.rider.BookRide(retry, timeout=TIMEOUT) == waiting  # the key survived: a retry books nothing new
    assert get_ride(second, "early") == promised  # still promised to its taxi
    reader = watch(second, "late")
    try:
        advance(second, T0 + 2 * BATCH_S)
        matched = next_update(reader, rider_pb2.RIDE_UPDATE_KIND_ASSIGNED).ride
    finally:
        reader.close()
    assert matched.vehicle_id.startswith(IMOA) and matched.planned_pickup_s <= T0 + BATCH_S + MAX_WAIT_S
    assert get_ride(second, "early").status == common_pb2.RIDE_STATUS_ASSIGNED


# ---------------------------------------------------------------------------- two services, bad input, auth
def test_calls_name_either_service_and_the_default_is_the_imod_zone(
    start_engine: Callable[..., Engine],
) -> None:
    engine = start_engine(scenario=TWO_SERVICES)
    advance(engine, T0)
    imod = rider_pb2.QuoteRequest(
        request_id="m1", origin=common_pb2.Place(stop=3), destination=common_pb2.Place(stop=20), passengers=1, now_s=T0
    )
    assert engine.rider.Quote(imod, timeout=TIMEOUT).WhichOneof("result") == "offer"  # no service: I-MOD
    imod.service, imod.request_id = "imod", "m2"
    minibus = engine.rider.BookRide(rider_pb2.BookRideRequest(request=imod, now_s=T0), timeout=TIMEOUT)
    assert minibus.service == "imod" and minibus.vehicle_id.startswith("veh")
    taxis = taxi_nodes(engine)
    request = ask("t1", free_node(engine, taxis, 0), free_node(engine, taxis, 40))
    booking = rider_pb2.BookRideRequest(request=request, idempotency_key="k-t1")
    taxi = engine.rider.BookRide(booking, timeout=TIMEOUT)
    assert taxi.service == IMOA
    assert engine.rider.BookRide(booking, timeout=TIMEOUT) == taxi  # a retry gets the same ride
    assert status_code(lambda: book(engine, request)) == grpc.StatusCode.FAILED_PRECONDITION  # the id is taken
    assert get_ride(engine, "m2").service == "imod" and get_ride(engine, "t1").service == IMOA
    assert get_ride(engine, "t1", service=IMOA) == taxi
    assert status_code(lambda: get_ride(engine, "t1", service="imod")) == grpc.StatusCode.NOT_FOUND
    again = ask("m2", free_node(engine, taxis, 1), free_node(engine, taxis, 41))  # ride ids are the deployment's
    assert status_code(lambda: book(engine, again)) == grpc.StatusCode.FAILED_PRECONDITION
    listed = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(service=IMOA), timeout=TIMEOUT).vehicles
    assert [v.vehicle_id for v in listed] == [f"{IMOA}{k:04d}" for k in range(4)]
    assert all(v.service == IMOA and v.stop == -1 and v.seats == 4 for v in listed)
    assert [v.node for v in listed] == taxis
    minibuses = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=TIMEOUT).vehicles
    assert len(minibuses) == 16 and {v.service for v in minibuses} == {"imod"}
    default = engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT)
    assert default.service == "imod" and default.rides_matching == 0 and default.vehicles == 16
    cancelled = engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id="t1", now_s=T0), timeout=TIMEOUT)
    assert cancelled.status == common_pb2.RIDE_STATUS_CANCELLED and cancelled.service == IMOA


def test_bad_input_is_invalid_argument_naming_the_field(start_engine: Callable[..., Engine]) -> None:
    engine = start_engine(scenario=TWO_SERVICES)
    advance(engine, T0)
    n = engine.core.network.num_nodes
    quote = engine.rider.Quote
    cases: list[tuple[rider_pb2.QuoteRequest, str]] = [
        (ask("x", 1, 2, service="tram"), "service"),
        (ask("x", 1, 2, share=7), "share"),
        (ask("x", (91.0, 127.1), (37.51, 127.1)), "origin.point.lat"),
        (ask("x", (0.0, 0.0), (37.51, 127.1)), "origin.point.lat"),  # nowhere near the roads
        (ask("x", 1, n), "destination.node"),
        (ask("x", 1, 1), "destination.node"),
        (ask("x", 1, 2, passengers=9), "passengers"),
        (ask("x", 1, 2, requested_time_s=T0 + 600), "requested_time_s"),
        (ask("x", 1, (37.51, 127.1)), "destination"),
        (ask("x", 1, 2, service="imod", share=common_pb2.SHARING_ALONE), "share"),
    ]
    stop = ask("x", 1, 2)
    stop.origin.stop = 3
    cases.append((stop, "origin.stop"))
    for request, field in cases:
        assert bad_field(functools.partial(quote, request, timeout=TIMEOUT)) == field, request
    assert bad_field(lambda: book(engine, ask("x", 1, 2, service="tram"))) == "request.service"
    assert bad_field(lambda: book(engine, ask("x", 1, n))) == "request.destination.node"
    assert bad_field(lambda: get_ride(engine, "x", service="tram")) == "service"
    no_node = driver_pb2.LocationReport(vehicle_id=f"{IMOA}0001", stop=3, time_s=T0)
    assert bad_field(lambda: engine.driver.ReportLocation(iter([no_node]), timeout=TIMEOUT)) == "node"
    outside = driver_pb2.LocationReport(vehicle_id=f"{IMOA}0001", node=n, time_s=T0)
    assert bad_field(lambda: engine.driver.ReportLocation(iter([outside]), timeout=TIMEOUT)) == "node"
    status = operator_pb2.FleetStatusRequest(service="nowhere")
    assert bad_field(lambda: engine.operator.FleetStatus(status, timeout=TIMEOUT)) == "service"
    assert engine.core.taxi[IMOA].dispatcher.rides == {}  # nothing was booked


def test_riders_see_only_their_own_taxi_rides_and_drivers_their_own_taxi(
    start_engine: Callable[..., Engine], tokens_file: Path
) -> None:
    engine = start_engine(scenario=TWO_SERVICES, tokens=tokens_file)
    alice, bob = bearer("alice"), bearer("bob")
    taxis = taxi_nodes(engine)
    mine = book(engine, ask("r1", free_node(engine, taxis, 0), free_node(engine, taxis, 40)), metadata=alice)
    assert mine.ride_id == "r1" and mine.status == common_pb2.RIDE_STATUS_MATCHING  # alice's own id
    assert get_ride(engine, "r1", alice) == mine
    assert status_code(lambda: get_ride(engine, "r1", bob)) == grpc.StatusCode.NOT_FOUND
    watching = engine.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id="r1"), metadata=bob, timeout=TIMEOUT)
    assert status_code(lambda: next(watching)) == grpc.StatusCode.NOT_FOUND
    cancel = rider_pb2.CancelRideRequest(ride_id="r1")
    assert status_code(lambda: engine.rider.CancelRide(cancel, metadata=bob, timeout=TIMEOUT)) == (
        grpc.StatusCode.NOT_FOUND
    )
    assert get_ride(engine, "alice/r1", bearer("operator")).ride_id == "alice/r1"  # operators see every ride
    report = driver_pb2.LocationReport(vehicle_id=f"{IMOA}0001", node=1, time_s=T0)
    assert status_code(lambda: engine.driver.ReportLocation(iter([report]), metadata=bearer("driver"))) == (
        grpc.StatusCode.PERMISSION_DENIED
    )  # the driver of veh0003 drives no taxi
    assert status_code(lambda: engine.rider.Quote(ask("r2", 1, 2), timeout=TIMEOUT)) == grpc.StatusCode.UNAUTHENTICATED
    fleet = operator_pb2.FleetStatusRequest(service=IMOA)
    assert status_code(lambda: engine.operator.FleetStatus(fleet, metadata=alice, timeout=TIMEOUT)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )


def test_a_taxi_only_deployment_serves_calls_that_name_no_service(start_engine: Callable[..., Engine]) -> None:
    engine = start_engine(scenario=TAXIS_ONLY, frontends=1)  # and through a front-end process
    advance(engine, T0)
    taxis = [t.node for t in engine.core.taxi["jamsil-taxi"].dispatcher.taxis]
    o, d = free_node(engine, taxis, 0), free_node(engine, taxis, 40)
    ride = book(engine, ask("r1", o, d, service=""))
    assert ride.service == "jamsil-taxi" and ride.status == common_pb2.RIDE_STATUS_MATCHING
    advance(engine, T0 + 20)
    assigned = get_ride(engine, "r1")
    assert assigned.status == common_pb2.RIDE_STATUS_ASSIGNED and assigned.vehicle_id.startswith("taxi")
    listed = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=TIMEOUT).vehicles
    assert [v.service for v in listed] == ["jamsil-taxi"] * 3
    assert engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT).rides_matched == 1


def test_mobility_serve_serves_a_taxi_scenario(data_dir: Path, tmp_path: Path) -> None:
    """The real command line: ``mobility serve --scenario`` of a shared-taxi scenario names its service
    and quotes door to door."""
    args = ["--scenario", str(TAXIS_ONLY), "--data-dir", str(data_dir), "--clock", "external"]
    with serve_subprocess(args, tmp_path) as served:
        assert "services jamsil-taxi (3 shared taxis)" in served.first_line, served.output()
        with grpc.insecure_channel(f"127.0.0.1:{served.port}") as channel:
            stub = rider_pb2_grpc.RiderServiceStub(channel)
            answer = stub.Quote(ask("q1", 10, 200, service="", now_s=T0), timeout=TIMEOUT)
    assert answer.WhichOneof("result") == "offer", answer
    assert answer.offer.service == "jamsil-taxi" and answer.offer.pickup_node == 10
