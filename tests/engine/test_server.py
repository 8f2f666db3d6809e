"""The live engine over real gRPC: health, reflection, a whole ride, errors, auth, streams, concurrency, Redis outages.

Every test talks to a real server on a free port (``engine.server.create_server``) deploying the
bundled ``imod_jamsil`` scenario (16 minibuses, 35 stops) with an external clock, and runs
three times: on the memory store, on the session's real Redis (flushed first), and on Redis with
gRPC in a front-end process of its own (``engine.frontend``: the writer stays in the test's
process). The outage test runs on Redis only: it kills that server and starts it again.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from engine.store import event_id_key
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2
from tests.engine.conftest import TOKENS, Engine, bearer

if TYPE_CHECKING:
    from tests.engine.conftest import RedisServer

#: The service clock of the tests: 08:00.
T0 = 8 * 3600
#: A point inside the Jamsil zone (it walks to stop 3).
JAMSIL_POINT = (37.5133, 127.1001)
#: Deadline of every call, so that a hanging server fails the test instead of blocking it.
TIMEOUT = 20.0
SERVICES = ("mobility.v1.RiderService", "mobility.v1.DriverService", "mobility.v1.OperatorService")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
Metadata = list[tuple[str, str]] | None


# ---------------------------------------------------------------------------- helpers
def place(where: int | tuple[float, float]) -> common_pb2.Place:
    """A stop index or a (lat, lon) point as a ``Place``."""
    if isinstance(where, tuple):
        return common_pb2.Place(point=common_pb2.LatLon(lat=where[0], lon=where[1]))
    return common_pb2.Place(stop=where)


def quote_request(
    request_id: str,
    origin: int | tuple[float, float] = 3,
    destination: int | tuple[float, float] = 20,
    now_s: int = T0,
    **fields: Any,
) -> rider_pb2.QuoteRequest:
    fields.setdefault("passengers", 1)
    return rider_pb2.QuoteRequest(
        request_id=request_id, origin=place(origin), destination=place(destination), now_s=now_s, **fields
    )


def quote(
    engine: Engine,
    request_id: str,
    origin: int | tuple[float, float] = 3,
    destination: int | tuple[float, float] = 20,
    now_s: int = T0,
    metadata: Metadata = None,
) -> common_pb2.Offer:
    """Quote and insist on an offer."""
    request = quote_request(request_id, origin, destination, now_s)
    answer = engine.rider.Quote(request, metadata=metadata, timeout=TIMEOUT)
    assert answer.WhichOneof("result") == "offer", answer
    return answer.offer


def at_once(request: rider_pb2.QuoteRequest, key: str = "") -> rider_pb2.BookRideRequest:
    """BookRide for ``request`` (quote and book in one call) at the request's clock."""
    return rider_pb2.BookRideRequest(request=request, idempotency_key=key, now_s=request.now_s)


def book(
    engine: Engine, offer: common_pb2.Offer, now_s: int | None = None, key: str = "", metadata: Metadata = None
) -> common_pb2.Ride:
    now = offer.valid_until_s - 60 if now_s is None else now_s
    request = rider_pb2.BookRideRequest(offer_id=offer.offer_id, idempotency_key=key, now_s=now)
    return engine.rider.BookRide(request, metadata=metadata, timeout=TIMEOUT)


def get_ride(engine: Engine, ride_id: str, metadata: Metadata = None) -> common_pb2.Ride:
    return engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id=ride_id), metadata=metadata, timeout=TIMEOUT)


def manifest(engine: Engine, vehicle_id: str, metadata: Metadata = None) -> driver_pb2.Manifest:
    request = driver_pb2.GetManifestRequest(vehicle_id=vehicle_id)
    return engine.driver.GetManifest(request, metadata=metadata, timeout=TIMEOUT)


def fleet(engine: Engine, metadata: Metadata = None) -> operator_pb2.FleetStatusResponse:
    return engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), metadata=metadata, timeout=TIMEOUT)


def stop_event(
    engine: Engine,
    vehicle_id: str,
    kind: driver_pb2.StopEventKind,
    ride_id: str,
    time_s: int,
    metadata: Metadata = None,
) -> driver_pb2.StopEventAck:
    event = driver_pb2.StopEvent(vehicle_id=vehicle_id, kind=kind, ride_id=ride_id, time_s=time_s)
    return engine.driver.ReportStopEvent(event, metadata=metadata, timeout=TIMEOUT)


def status_code(call: Callable[[], Any]) -> grpc.StatusCode:
    """The status code ``call`` fails with (the test fails if it succeeds)."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def first_message(stream: Any) -> Any:
    """The first message of a server stream, then cancel it."""
    try:
        return next(stream)
    finally:
        stream.cancel()


class StreamReader:
    """Reads a server stream on a thread into a queue (so that a test can wait with a timeout)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.items: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for message in self.stream:
                self.items.put(message)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.items.put(exc)

    def get(self, timeout: float = 10.0) -> Any:
        item = self.items.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def close(self) -> None:
        self.stream.cancel()
        self.thread.join(5)


# ---------------------------------------------------------------------------- health and reflection
def test_health_serves_every_service_once_ready(engine: Engine) -> None:
    for name in ("", *SERVICES):
        answer = engine.health.Check(health_pb2.HealthCheckRequest(service=name), timeout=TIMEOUT)
        assert answer.status == SERVING, name
    unknown = health_pb2.HealthCheckRequest(service="mobility.v1.NoSuchService")
    assert status_code(lambda: engine.health.Check(unknown, timeout=TIMEOUT)) == grpc.StatusCode.NOT_FOUND


def test_health_answers_while_the_engine_starts(
    start_engine: Callable[..., Engine], engine_setup: dict[str, Any]
) -> None:
    engine = start_engine(**engine_setup, block_until_ready=False)
    for name in ("", *SERVICES):  # right after start: an answer, never an error
        answer = engine.health.Check(health_pb2.HealthCheckRequest(service=name), timeout=TIMEOUT)
        assert answer.status in (NOT_SERVING, SERVING), name
    engine.wait_serving()
    for name in ("", *SERVICES):
        assert engine.health.Check(health_pb2.HealthCheckRequest(service=name), timeout=TIMEOUT).status == SERVING
    assert quote(engine, "after-start").vehicle_id


def test_reflection_lists_the_mobility_services(engine: Engine) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(engine.channel)
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="mobility.v1.RiderService"),
    ]
    listed, found = list(stub.ServerReflectionInfo(iter(requests), timeout=TIMEOUT))
    names = {service.name for service in listed.list_services_response.service}
    assert set(SERVICES) <= names
    assert "grpc.health.v1.Health" in names
    assert found.file_descriptor_response.file_descriptor_proto, found


# ---------------------------------------------------------------------------- a ride
def test_a_ride_from_quote_to_completion(engine: Engine) -> None:
    by_stop = quote(engine, "r-stops", 3, 20)
    assert (by_stop.pickup_stop, by_stop.dropoff_stop, by_stop.request_id) == (3, 20, "r-stops")
    lat20 = float(engine.core.network.lat[engine.core.stops.node[20]])
    lon20 = float(engine.core.network.lon[engine.core.stops.node[20]])
    offer = quote(engine, "r-points", JAMSIL_POINT, (lat20, lon20))
    assert offer.dropoff_stop == 20 and offer.walk_from_dropoff_m <= 5
    assert offer.pickup_window_start_s <= offer.pickup_eta_s <= offer.pickup_window_end_s
    assert offer.valid_until_s > T0 and offer.fare_krw > 0 and offer.offer_id != by_stop.offer_id

    ride = book(engine, offer, now_s=T0 + 10)
    assert ride.ride_id == "r-points" and ride.status == common_pb2.RIDE_STATUS_ASSIGNED
    assert (ride.vehicle_id, ride.offer_id, ride.fare_krw) == (offer.vehicle_id, offer.offer_id, offer.fare_krw)
    assert (ride.pickup_stop, ride.dropoff_stop, ride.passengers) == (offer.pickup_stop, offer.dropoff_stop, 1)
    assert (ride.pickup_window_start_s, ride.pickup_window_end_s) == (
        offer.pickup_window_start_s,
        offer.pickup_window_end_s,
    )
    assert ride.pickup_window_start_s <= ride.planned_pickup_s <= ride.pickup_window_end_s
    assert ride.planned_pickup_s < ride.planned_dropoff_s <= ride.latest_dropoff_s
    assert get_ride(engine, ride.ride_id) == ride

    stops = manifest(engine, ride.vehicle_id).stops
    assert [(s.ride_id, s.kind, s.stop) for s in stops] == [
        (ride.ride_id, driver_pb2.STOP_KIND_PICKUP, ride.pickup_stop),
        (ride.ride_id, driver_pb2.STOP_KIND_DROPOFF, ride.dropoff_stop),
    ]
    assert abs(stops[0].planned_s - ride.planned_pickup_s) <= 1
    assert stops[0].window_start_s == offer.pickup_window_start_s
    assert stops[0].passengers == 1 and stops[0].service_s > 0

    boarded_at = stops[0].planned_s
    ack = stop_event(engine, ride.vehicle_id, driver_pb2.STOP_EVENT_KIND_BOARDED, ride.ride_id, boarded_at)
    assert ack.planned_stops == 1
    on_board = get_ride(engine, ride.ride_id)
    assert on_board.status == common_pb2.RIDE_STATUS_ON_BOARD and on_board.picked_up_at_s == boarded_at
    (drop,) = manifest(engine, ride.vehicle_id).stops
    assert (drop.ride_id, drop.kind) == (ride.ride_id, driver_pb2.STOP_KIND_DROPOFF)
    assert fleet(engine).riders_on_board == 1

    ack = stop_event(engine, ride.vehicle_id, driver_pb2.STOP_EVENT_KIND_ALIGHTED, ride.ride_id, drop.planned_s)
    assert ack.planned_stops == 0
    done = get_ride(engine, ride.ride_id)
    assert done.status == common_pb2.RIDE_STATUS_COMPLETED and done.dropped_off_at_s == drop.planned_s
    assert not manifest(engine, ride.vehicle_id).stops

    cancel = rider_pb2.CancelRideRequest(ride_id=ride.ride_id, now_s=drop.planned_s)
    assert status_code(lambda: engine.rider.CancelRide(cancel, timeout=TIMEOUT)) == grpc.StatusCode.FAILED_PRECONDITION
    status = fleet(engine)
    assert (status.rides_completed, status.rides_assigned) == (1, 0)
    assert (status.rides_on_board, status.riders_on_board) == (0, 0)
    assert status.mean_wait_s == boarded_at - T0
    assert get_ride(engine, ride.ride_id).status == common_pb2.RIDE_STATUS_COMPLETED


def test_cancelling_a_ride_frees_its_vehicle(engine: Engine) -> None:
    ride = book(engine, quote(engine, "r-cancel"))
    cancelled = engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id="r-cancel", now_s=T0 + 20), timeout=TIMEOUT)
    assert cancelled.status == common_pb2.RIDE_STATUS_CANCELLED
    assert not manifest(engine, ride.vehicle_id).stops
    again = rider_pb2.CancelRideRequest(ride_id="r-cancel", now_s=T0 + 30)
    assert status_code(lambda: engine.rider.CancelRide(again, timeout=TIMEOUT)) == grpc.StatusCode.FAILED_PRECONDITION
    assert fleet(engine).rides_cancelled == 1


def test_booking_is_idempotent(engine: Engine) -> None:
    offer = quote(engine, "r-idem")
    ride = book(engine, offer, key="r-idem-try1")
    assert book(engine, offer, key="r-idem-try1") == ride  # a retry with the same key
    assert book(engine, offer) == ride  # the same offer again
    other = quote(engine, "r-other", 10, 30)
    assert book(engine, other, key="r-idem-try1") == ride  # the key wins: the retry of the first booking
    assert get_ride(engine, "r-idem") == ride
    assert status_code(lambda: get_ride(engine, "r-other")) == grpc.StatusCode.NOT_FOUND
    status = fleet(engine)
    assert status.rides_assigned == 1
    assert [s.ride_id for s in manifest(engine, ride.vehicle_id).stops] == ["r-idem", "r-idem"]


def book_at_once(engine: Engine, request: rider_pb2.QuoteRequest, key: str = "", metadata: Metadata = None) -> Any:
    return engine.rider.BookRide(at_once(request, key), metadata=metadata, timeout=TIMEOUT)


def test_a_request_is_booked_at_once_as_quote_would_offer_it(engine: Engine) -> None:
    offer = quote(engine, "r-quoted", 5, 22)  # not booked: the plan stays as it is
    ride = book_at_once(engine, quote_request("r-once", 5, 22), key="r-once-try1")
    assert ride.ride_id == "r-once" and ride.status == common_pb2.RIDE_STATUS_ASSIGNED
    assert (ride.vehicle_id, ride.pickup_stop, ride.dropoff_stop, ride.fare_krw) == (
        offer.vehicle_id, offer.pickup_stop, offer.dropoff_stop, offer.fare_krw
    )  # fmt: skip
    assert (ride.pickup_window_start_s, ride.pickup_window_end_s) == (
        offer.pickup_window_start_s, offer.pickup_window_end_s
    )  # fmt: skip
    assert book_at_once(engine, quote_request("r-once-again", 5, 22), key="r-once-try1") == ride  # a retry
    assert get_ride(engine, "r-once") == ride
    assert status_code(lambda: get_ride(engine, "r-once-again")) == grpc.StatusCode.NOT_FOUND
    assert [s.ride_id for s in manifest(engine, ride.vehicle_id).stops] == ["r-once", "r-once"]
    # the same request id cannot be booked twice
    code = status_code(lambda: book_at_once(engine, quote_request("r-once", 5, 22)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert fleet(engine).rides_assigned == 1


def test_a_request_booked_at_once_and_rejected_says_why(engine: Engine) -> None:
    with pytest.raises(grpc.RpcError) as info:
        book_at_once(engine, quote_request("r-night", requested_time_s=23 * 3600 + 1800))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(info.value)
    assert status is not None
    reasons = []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            error = error_details_pb2.ErrorInfo()
            detail.Unpack(error)
            reasons.append((error.domain, error.reason))
    assert reasons == [("mobility.v1", "OUTSIDE_HOURS")]
    status_now = fleet(engine)
    assert status_now.requests_rejected == 1 and status_now.rides_assigned == 0
    assert status_code(lambda: get_ride(engine, "r-night")) == grpc.StatusCode.NOT_FOUND


def test_an_expired_offer_cannot_be_booked(engine: Engine) -> None:
    offer = quote(engine, "r-late")
    code = status_code(lambda: book(engine, offer, now_s=offer.valid_until_s + 1))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert status_code(lambda: get_ride(engine, "r-late")) == grpc.StatusCode.NOT_FOUND
    assert fleet(engine).rides_assigned == 0
    # up to and including valid_until_s the offer holds
    offer = quote(engine, "r-just-in-time", now_s=offer.valid_until_s + 1)
    assert book(engine, offer, now_s=offer.valid_until_s).status == common_pb2.RIDE_STATUS_ASSIGNED


def test_unknown_ids_are_not_found(engine: Engine) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: get_ride(engine, "no-such-ride"),
        lambda: engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id="no-such-ride"), timeout=TIMEOUT),
        lambda: first_message(engine.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id="no-such-ride"), timeout=5)),
        lambda: engine.rider.BookRide(rider_pb2.BookRideRequest(offer_id="offer-999999", now_s=T0), timeout=TIMEOUT),
        lambda: manifest(engine, "veh9999"),
        lambda: first_message(engine.driver.WatchManifest(driver_pb2.WatchManifestRequest(vehicle_id="veh9999"))),
        lambda: stop_event(engine, "veh0001", driver_pb2.STOP_EVENT_KIND_BOARDED, "no-such-ride", T0),
    ]
    for call in calls:
        assert status_code(call) == grpc.StatusCode.NOT_FOUND


# ---------------------------------------------------------------------------- rich error details
BAD_REQUESTS: list[tuple[str, str, Callable[[Engine], Any]]] = [
    ("passengers", "passengers", lambda e: e.rider.Quote(quote_request("q", passengers=0))),
    ("too many passengers", "passengers", lambda e: e.rider.Quote(quote_request("q", passengers=9))),
    ("negative stop", "destination.stop", lambda e: e.rider.Quote(quote_request("q", destination=-1))),
    ("stop beyond the last", "destination.stop", lambda e: e.rider.Quote(quote_request("q", destination=35))),
    ("empty request id", "request_id", lambda e: e.rider.Quote(quote_request(""))),
    ("long request id", "request_id", lambda e: e.rider.Quote(quote_request("r" * 65))),
    ("bad request id", "request_id", lambda e: e.rider.Quote(quote_request("r/1"))),
    ("latitude", "origin.point.lat", lambda e: e.rider.Quote(quote_request("q", origin=(91.0, 127.1)))),
    ("longitude", "destination.point.lon", lambda e: e.rider.Quote(quote_request("q", destination=(37.5, 1e9)))),
    ("no origin", "origin", lambda e: e.rider.Quote(rider_pb2.QuoteRequest(request_id="q", passengers=1))),
    ("rider class", "rider_class", lambda e: e.rider.Quote(quote_request("q", rider_class=17))),
    ("requested time", "requested_time_s", lambda e: e.rider.Quote(quote_request("q", requested_time_s=-60))),
    ("no offer id", "offer_id", lambda e: e.rider.BookRide(rider_pb2.BookRideRequest())),
    (
        "idempotency key",
        "idempotency_key",
        lambda e: e.rider.BookRide(rider_pb2.BookRideRequest(offer_id="offer-1", idempotency_key="k" * 129)),
    ),
    (
        "book at once: passengers",
        "request.passengers",
        lambda e: e.rider.BookRide(at_once(quote_request("q", passengers=9))),
    ),
    (
        "book at once: stop",
        "request.destination.stop",
        lambda e: e.rider.BookRide(at_once(quote_request("q", destination=35))),
    ),
    (
        "book at once: latitude",
        "request.origin.point.lat",
        lambda e: e.rider.BookRide(at_once(quote_request("q", origin=(91.0, 127.1)))),
    ),
    (
        "book at once: request id",
        "request.request_id",
        lambda e: e.rider.BookRide(at_once(quote_request("r/1"))),
    ),
    (
        "offer and request",
        "offer_id",
        lambda e: e.rider.BookRide(rider_pb2.BookRideRequest(offer_id="offer-1", request=quote_request("q"))),
    ),
    ("no ride id", "ride_id", lambda e: e.rider.GetRide(rider_pb2.GetRideRequest())),
    ("no vehicle id", "vehicle_id", lambda e: e.driver.GetManifest(driver_pb2.GetManifestRequest())),
    ("stop event kind", "kind", lambda e: e.driver.ReportStopEvent(driver_pb2.StopEvent(vehicle_id="veh0001"))),
    (
        "arrival stop",
        "stop",
        lambda e: e.driver.ReportStopEvent(
            driver_pb2.StopEvent(vehicle_id="veh0001", kind=driver_pb2.STOP_EVENT_KIND_ARRIVED, stop=99)
        ),
    ),
    ("iterations", "iterations", lambda e: e.operator.Reoptimise(operator_pb2.ReoptimiseRequest(iterations=-1))),
    (
        "traffic length",
        "edge_travel_time_s",
        lambda e: e.operator.UpdateTraffic(operator_pb2.UpdateTrafficRequest(edge_travel_time_s=[10.0])),
    ),
]


@pytest.mark.parametrize(("case", "field", "call"), BAD_REQUESTS, ids=[case for case, _, _ in BAD_REQUESTS])
def test_invalid_argument_names_the_field(engine: Engine, case: str, field: str, call: Callable[[Engine], Any]) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call(engine)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    status = rpc_status.from_call(info.value)
    assert status is not None, "no google.rpc.Status in the trailing metadata"
    assert status.code == code_pb2.INVALID_ARGUMENT and status.message == info.value.details()
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations.extend(bad.field_violations)
    assert [v.field for v in violations] == [field], status
    assert violations[0].description


# ---------------------------------------------------------------------------- authentication
@pytest.fixture
def auth_engine(start_engine: Callable[..., Engine], engine_setup: dict[str, Any], tokens_file: Path) -> Engine:
    """An engine with tokens, its external clock at :data:`T0` (set by the operator: riders' and
    drivers' times do not move it)."""
    e = start_engine(**engine_setup, tokens=tokens_file)
    e.advance(T0)
    return e


def _calls_as(e: Engine, metadata: Metadata) -> list[Callable[[], Any]]:
    request = quote_request("r-anon")
    watch = operator_pb2.WatchAssignmentsRequest()
    return [
        lambda: e.rider.Quote(request, metadata=metadata, timeout=TIMEOUT),
        lambda: fleet(e, metadata),
        lambda: manifest(e, "veh0003", metadata),
        lambda: first_message(e.operator.WatchAssignments(watch, metadata=metadata, timeout=5)),
    ]


def test_calls_without_a_known_token_are_unauthenticated(auth_engine: Engine) -> None:
    e = auth_engine
    for metadata in (None, [("authorization", "Bearer not-a-known-token")], [("authorization", "Basic abc")]):
        for call in _calls_as(e, metadata):
            assert status_code(call) == grpc.StatusCode.UNAUTHENTICATED
    # health and reflection stay open
    assert e.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT).status == SERVING


def test_riders_drivers_and_operators_see_what_they_may(auth_engine: Engine) -> None:
    e = auth_engine
    alice, bob, driver, operator = bearer("alice"), bearer("bob"), bearer("driver"), bearer("operator")
    denied = grpc.StatusCode.PERMISSION_DENIED
    offer = quote(e, "alice-1", metadata=alice)
    ride = book(e, offer, metadata=alice)
    assert get_ride(e, ride.ride_id, alice) == ride
    state = first_message(e.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id=ride.ride_id), metadata=alice))
    assert state.kind == rider_pb2.RIDE_UPDATE_KIND_STATE and state.ride == ride

    # another rider may not look at, follow or cancel it: a rider's ride ids are their own, so
    # bob's "alice-1" is a ride of his that does not exist
    not_found = grpc.StatusCode.NOT_FOUND
    assert status_code(lambda: get_ride(e, ride.ride_id, bob)) == not_found
    cancel = rider_pb2.CancelRideRequest(ride_id=ride.ride_id, now_s=T0)
    assert status_code(lambda: e.rider.CancelRide(cancel, metadata=bob, timeout=TIMEOUT)) == not_found
    watch = rider_pb2.WatchRideRequest(ride_id=ride.ride_id)
    assert status_code(lambda: first_message(e.rider.WatchRide(watch, metadata=bob, timeout=5))) == not_found
    # nor get its booking with its idempotency key: bob's key is his own
    own = book(e, quote(e, "alice-2", 10, 30, metadata=alice), key="alice-key", metadata=alice)
    bobs = quote(e, "bob-1", 12, 25, metadata=bob)
    assert book(e, bobs, key="alice-key", metadata=bob).ride_id == "bob-1"

    # riders may not operate or drive
    for call in (
        lambda: fleet(e, alice),
        lambda: e.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), metadata=alice, timeout=TIMEOUT),
        lambda: e.operator.Reoptimise(operator_pb2.ReoptimiseRequest(iterations=1), metadata=alice, timeout=TIMEOUT),
        lambda: first_message(e.operator.WatchAssignments(operator_pb2.WatchAssignmentsRequest(), metadata=bob)),
        lambda: manifest(e, ride.vehicle_id, alice),
        lambda: stop_event(e, ride.vehicle_id, driver_pb2.STOP_EVENT_KIND_BOARDED, ride.ride_id, T0, alice),
    ):
        assert status_code(call) == denied

    # the driver of veh0003 sees that vehicle only, and cannot quote or operate
    assert manifest(e, "veh0003", driver).vehicle_id == "veh0003"
    other = "veh0004"
    assert status_code(lambda: manifest(e, other, driver)) == denied
    watch_other = driver_pb2.WatchManifestRequest(vehicle_id=other)
    assert status_code(lambda: first_message(e.driver.WatchManifest(watch_other, metadata=driver))) == denied
    assert status_code(lambda: stop_event(e, other, driver_pb2.STOP_EVENT_KIND_ARRIVED, "", T0, driver)) == denied
    assert status_code(lambda: quote(e, "driver-1", metadata=driver)) == denied
    assert status_code(lambda: get_ride(e, ride.ride_id, driver)) == denied
    assert status_code(lambda: fleet(e, driver)) == denied
    watch_own = driver_pb2.WatchManifestRequest(vehicle_id="veh0003")
    assert first_message(e.driver.WatchManifest(watch_own, metadata=driver)).vehicle_id == "veh0003"

    # the operator does everything, and sees a rider's ride ids scoped by the rider
    assert get_ride(e, f"alice/{ride.ride_id}", operator).offer_id == ride.offer_id
    assert f"alice/{ride.ride_id}" in {stop.ride_id for stop in manifest(e, ride.vehicle_id, operator).stops}
    assert fleet(e, operator).rides_assigned == 3
    listed = e.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), metadata=operator, timeout=TIMEOUT)
    assert len(listed.vehicles) == 16
    cancelled = e.rider.CancelRide(
        rider_pb2.CancelRideRequest(ride_id=f"alice/{own.ride_id}", now_s=T0), metadata=operator, timeout=TIMEOUT
    )
    assert cancelled.status == common_pb2.RIDE_STATUS_CANCELLED
    # and alice still cancels her own ride
    mine = e.rider.CancelRide(cancel, metadata=alice, timeout=TIMEOUT)
    assert mine.status == common_pb2.RIDE_STATUS_CANCELLED


def test_bob_cannot_book_alices_offer(auth_engine: Engine) -> None:
    offer = quote(auth_engine, "alice-offer", metadata=bearer("alice"))
    code = status_code(lambda: book(auth_engine, offer, metadata=bearer("bob")))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert fleet(auth_engine, bearer("operator")).rides_assigned == 0


def test_bob_cannot_reuse_alices_idempotency_key(auth_engine: Engine) -> None:
    """Idempotency keys are scoped per rider, as ride ids are: bob's "k-alice" is his own key."""
    mine = book_at_once(auth_engine, quote_request("alice-once"), key="k-alice", metadata=bearer("alice"))
    bobs = book_at_once(auth_engine, quote_request("bob-once", 10, 30), key="k-alice", metadata=bearer("bob"))
    assert (mine.ride_id, bobs.ride_id) == ("alice-once", "bob-once")
    again = book_at_once(auth_engine, quote_request("alice-twice"), key="k-alice", metadata=bearer("alice"))
    assert again == mine
    assert fleet(auth_engine, bearer("operator")).rides_assigned == 2


# ---------------------------------------------------------------------------- streams
def test_watch_ride_follows_the_ride_to_its_end(engine: Engine) -> None:
    ride = book(engine, quote(engine, "r-watch"))
    stream = engine.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id="r-watch"), timeout=TIMEOUT)
    first = next(stream)
    assert first.kind == rider_pb2.RIDE_UPDATE_KIND_STATE and first.ride == ride
    pickup, dropoff = manifest(engine, ride.vehicle_id).stops
    stop_event(engine, ride.vehicle_id, driver_pb2.STOP_EVENT_KIND_BOARDED, ride.ride_id, pickup.planned_s)
    (dropoff,) = manifest(engine, ride.vehicle_id).stops
    stop_event(engine, ride.vehicle_id, driver_pb2.STOP_EVENT_KIND_ALIGHTED, ride.ride_id, dropoff.planned_s)
    rest = list(stream)  # the stream ends after the terminal update
    kinds = [u.kind for u in rest if u.kind != rider_pb2.RIDE_UPDATE_KIND_ETA]
    assert kinds == [rider_pb2.RIDE_UPDATE_KIND_ON_BOARD, rider_pb2.RIDE_UPDATE_KIND_COMPLETED], rest
    assert rest[-1].ride.status == common_pb2.RIDE_STATUS_COMPLETED
    assert rest[-1].ride.dropped_off_at_s == dropoff.planned_s
    ids = [event_id_key(u.event_id) for u in rest]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    # resuming after the first live update replays the rest from the store, and ends too
    resumed = engine.rider.WatchRide(
        rider_pb2.WatchRideRequest(ride_id="r-watch", after_event_id=rest[0].event_id), timeout=TIMEOUT
    )
    assert list(resumed) == rest[1:]


def test_watch_manifest_sends_the_manifest_then_every_change(engine: Engine) -> None:
    offer = quote(engine, "r-manifest")
    stream = engine.driver.WatchManifest(driver_pb2.WatchManifestRequest(vehicle_id=offer.vehicle_id), timeout=TIMEOUT)
    try:
        current = next(stream)
        assert current.vehicle_id == offer.vehicle_id and not current.stops
        ride = book(engine, offer)
        changed = next(stream)
        assert changed.vehicle_id == offer.vehicle_id and changed.event_id
        assert [(s.ride_id, s.kind) for s in changed.stops] == [
            (ride.ride_id, driver_pb2.STOP_KIND_PICKUP),
            (ride.ride_id, driver_pb2.STOP_KIND_DROPOFF),
        ]
        assert changed.stops == manifest(engine, offer.vehicle_id).stops
        engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id=ride.ride_id), timeout=TIMEOUT)
        emptied = next(stream)
        assert not emptied.stops and event_id_key(emptied.event_id) > event_id_key(changed.event_id)
    finally:
        stream.cancel()


def test_a_failed_command_sends_no_spurious_ride_updates(engine: Engine) -> None:
    ride = book(engine, quote(engine, "r-quiet"))
    vehicles = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=TIMEOUT).vehicles
    vehicle = next(v for v in vehicles if v.vehicle_id == ride.vehicle_id)
    reader = StreamReader(engine.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id="r-quiet"), timeout=TIMEOUT))
    try:
        assert reader.get().kind == rider_pb2.RIDE_UPDATE_KIND_STATE
        unknown = rider_pb2.CancelRideRequest(ride_id="no-such-ride", now_s=T0)
        assert status_code(lambda: engine.rider.CancelRide(unknown, timeout=TIMEOUT)) == grpc.StatusCode.NOT_FOUND
        # the vehicle reports that it is where the plan has it, when the plan has it: nothing changes
        here = driver_pb2.LocationReport(vehicle_id=vehicle.vehicle_id, stop=vehicle.stop, time_s=vehicle.available_s)
        assert engine.driver.ReportLocation(iter([here]), timeout=TIMEOUT).accepted == 1
        assert get_ride(engine, "r-quiet") == ride
        with pytest.raises(queue.Empty):
            update = reader.get(timeout=0.5)
            raise AssertionError(f"an update although nothing changed: {update}")
    finally:
        reader.close()


def _open_assignments(engine: Engine, after: str = "") -> StreamReader:
    request = operator_pb2.WatchAssignmentsRequest(after_event_id=after)
    return StreamReader(engine.operator.WatchAssignments(request, timeout=60))


def _until_live(engine: Engine, reader: StreamReader) -> None:
    """Quote until the stream (which sends no first message) delivers, then drain up to a barrier."""
    for k in range(100):
        quote(engine, f"sync-{k}", 5, 25)
        try:
            reader.get(timeout=0.2)
            break
        except queue.Empty:
            continue
    else:
        raise AssertionError("WatchAssignments delivered nothing")
    quote(engine, "barrier", 5, 25)
    while (event := reader.get()).ride_id != "barrier":
        assert event.kind == operator_pb2.ASSIGNMENT_KIND_OFFER


def test_watch_assignments_in_order_and_resumed_from_the_store(engine: Engine) -> None:
    k = operator_pb2
    reader = _open_assignments(engine)
    try:
        _until_live(engine, reader)
        a = book(engine, quote(engine, "r-a", 3, 20))
        pickup = manifest(engine, a.vehicle_id).stops[0]
        stop_event(engine, a.vehicle_id, driver_pb2.STOP_EVENT_KIND_BOARDED, "r-a", pickup.planned_s)
        now = pickup.planned_s
        b = book(engine, quote(engine, "r-b", 10, 30, now_s=now), now_s=now)
        engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id="r-b", now_s=now), timeout=TIMEOUT)
        expected = [
            (k.ASSIGNMENT_KIND_OFFER, "r-a", a.vehicle_id),
            (k.ASSIGNMENT_KIND_BOOKING, "r-a", a.vehicle_id),
            (k.ASSIGNMENT_KIND_ASSIGNMENT, "r-a", a.vehicle_id),
            (k.ASSIGNMENT_KIND_BOARDED, "r-a", a.vehicle_id),
            (k.ASSIGNMENT_KIND_OFFER, "r-b", b.vehicle_id),
            (k.ASSIGNMENT_KIND_BOOKING, "r-b", b.vehicle_id),
            (k.ASSIGNMENT_KIND_ASSIGNMENT, "r-b", b.vehicle_id),
            (k.ASSIGNMENT_KIND_CANCELLATION, "r-b", b.vehicle_id),
        ]
        events = [reader.get() for _ in expected]
        assert [(e.kind, e.ride_id, e.vehicle_id) for e in events] == expected
        assert events[1].detail == a.offer_id and events[0].detail == a.offer_id
        assert events[3].time_s == pickup.planned_s
        keys = [event_id_key(e.event_id) for e in events]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
    finally:
        reader.close()

    for kth in (0, 3, len(expected) - 1, len(expected)):
        resumed = _open_assignments(engine, after=events[kth].event_id)
        try:
            history = [resumed.get() for _ in events[kth + 1 :]]
            assert history == events[kth + 1 :]
            quote(engine, f"r-live-{kth}", 4, 22, now_s=now)
            live = resumed.get()
            assert (live.kind, live.ride_id) == (k.ASSIGNMENT_KIND_OFFER, f"r-live-{kth}")
            assert event_id_key(live.event_id) > event_id_key(events[-1].event_id)
            with pytest.raises(queue.Empty):
                resumed.get(timeout=0.2)  # nothing twice
            events.append(live)
        finally:
            resumed.close()


# ---------------------------------------------------------------------------- concurrency
#: Riders of the concurrency test, one per client thread, each with a token of its own.
CLIENTS = 8


@pytest.fixture
def riders_engine(start_engine: Callable[..., Engine], engine_setup: dict[str, Any], tmp_path: Path) -> Engine:
    """A ready engine (each of ``engine_setup``) that knows :data:`CLIENTS` riders and the operator
    of :data:`TOKENS`, its external clock at :data:`T0` (moved there by the operator)."""
    path = tmp_path / "riders.toml"
    rows = [(f"token-rider{i}", "rider", f"rider{i}") for i in range(CLIENTS)] + [TOKENS["operator"]]
    path.write_text("\n".join(f'[[tokens]]\ntoken = "{t}"\nrole = "{r}"\nsubject = "{s}"\n' for t, r, s in rows))
    e = start_engine(**engine_setup, tokens=path)
    clock = operator_pb2.ReoptimiseRequest(iterations=1, now_s=T0)  # no ride yet: moves the clock only
    e.operator.Reoptimise(clock, metadata=bearer("operator"), timeout=TIMEOUT)
    return e


def as_rider(i: int) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer token-rider{i}")]


def test_concurrent_quotes_and_bookings_stay_consistent(riders_engine: Engine) -> None:
    """8 riders quote and book 15 rides each at once; every answer is the caller's own, and the
    manifests, rides and counts agree.

    Each rider has a token of its own and request ids of its own; an offer must answer the
    caller's request and a booking must give the caller's ride (its request id, its offer, its
    stops and promise), which the caller then reads back and no other rider can. The one
    failure allowed is a booking that lost a race for its promise (FAILED_PRECONDITION: another
    booking took the van's time since the quote), and it books nothing. Nothing else may fail:
    no offer expires (an offer holds 120 s; a client books 5 s after its quote, its clock moves
    15 s in all) and none may be forgotten, so NOT_FOUND would be a lost offer.
    """
    engine = riders_engine
    operator = bearer("operator")
    threads, per_thread = CLIENTS, 15
    booked: dict[str, common_pb2.Ride] = {}  # by the caller's request id
    owner: dict[str, int] = {}  # request id -> client
    lost: list[str] = []  # bookings that lost a race
    rejections: list[str] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        rng = random.Random(1000 + i)
        me = as_rider(i)
        for j in range(per_thread):
            now = T0 + j  # each client's clock moves on; the span is short, so vehicles are rarely late
            origin, destination = rng.sample(range(35), 2)
            rid = f"c{i}-{j}"
            request = quote_request(rid, origin, destination, now_s=now)
            answer = engine.rider.Quote(request, metadata=me, timeout=TIMEOUT)
            if answer.WhichOneof("result") != "offer":
                assert answer.rejection.request_id == rid, answer
                with lock:
                    rejections.append(rid)
                    owner[rid] = i
                continue
            offer = answer.offer
            assert (offer.request_id, offer.pickup_stop, offer.dropoff_stop) == (rid, origin, destination), offer
            try:
                ride = book(engine, offer, now_s=now + 5, key=f"key-{rid}", metadata=me)
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION, (rid, exc.code(), exc.details())
                with lock:
                    lost.append(rid)
                    owner[rid] = i
                continue
            # the caller's own ride: its request id, its offer, its stops, its promise
            assert (ride.ride_id, ride.offer_id) == (rid, offer.offer_id), (rid, ride)
            assert (ride.pickup_stop, ride.dropoff_stop, ride.passengers) == (origin, destination, 1), ride
            promise = (offer.pickup_window_start_s, offer.pickup_window_end_s, offer.latest_dropoff_s, offer.fare_krw)
            assert (
                ride.pickup_window_start_s,
                ride.pickup_window_end_s,
                ride.latest_dropoff_s,
                ride.fare_krw,
            ) == promise
            with lock:
                assert rid not in booked
                booked[rid] = ride
                owner[rid] = i

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))  # (raises a client's failed assertion here)

    assert len(booked) >= threads * per_thread // 2, (len(booked), lost, rejections)
    # A lost race or a rejection booked nothing; a booked ride is its caller's and no other rider's.
    for rid in lost + rejections:
        assert status_code(lambda rid=rid: get_ride(engine, rid, as_rider(owner[rid]))) == grpc.StatusCode.NOT_FOUND
    for rid in booked:
        assert get_ride(engine, rid, as_rider(owner[rid])).ride_id == rid
        other = as_rider((owner[rid] + 1) % threads)
        # ride ids are scoped per rider: another rider's id names nothing of this rider's
        assert status_code(lambda rid=rid, other=other: get_ride(engine, rid, other)) == grpc.StatusCode.NOT_FOUND
    engine_id = {rid: f"rider{owner[rid]}/{rid}" for rid in booked}  # the ids operators and drivers see

    vehicles = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), metadata=operator, timeout=TIMEOUT)
    vehicles = vehicles.vehicles
    seen: dict[tuple[str, int], str] = {}  # (ride, kind) -> vehicle
    for vehicle in vehicles:
        stops = manifest(engine, vehicle.vehicle_id, operator).stops
        assert vehicle.planned_stops == len(stops)
        load, last = 0, 0
        for s in stops:
            assert (s.ride_id, s.kind) not in seen, f"{s.ride_id} {s.kind} twice in the manifests"
            seen[(s.ride_id, s.kind)] = vehicle.vehicle_id
            if s.kind == driver_pb2.STOP_KIND_DROPOFF:
                assert seen.get((s.ride_id, driver_pb2.STOP_KIND_PICKUP)) == vehicle.vehicle_id, s
            load += s.passengers if s.kind == driver_pb2.STOP_KIND_PICKUP else -s.passengers
            assert 0 <= load <= vehicle.seats
            assert s.planned_s >= last
            last = s.planned_s
    assert {rid for rid, _ in seen} == set(engine_id.values())
    # No vehicle reports anything while the clock moves on, so a vehicle may fall behind its plan:
    # the engine then records a ``late`` event and widens that promise (the dispatcher's rule).
    late = {
        payload["ride_id"]
        for _, payload in engine.core.store.read_events("assignments", None, 100_000)
        if payload["kind"] == "late"
    }
    for rid, ride in booked.items():
        now = get_ride(engine, rid, as_rider(owner[rid]))
        assert now.status == common_pb2.RIDE_STATUS_ASSIGNED
        scoped = engine_id[rid]
        planned_on = (seen[(scoped, driver_pb2.STOP_KIND_PICKUP)], seen[(scoped, driver_pb2.STOP_KIND_DROPOFF)])
        assert planned_on == (now.vehicle_id, now.vehicle_id)
        assert (now.pickup_stop, now.dropoff_stop, now.offer_id) == (ride.pickup_stop, ride.dropoff_stop, ride.offer_id)
        assert now.pickup_window_start_s <= now.planned_pickup_s < now.planned_dropoff_s
        if scoped not in late:
            assert now.planned_pickup_s <= now.pickup_window_end_s and now.planned_dropoff_s <= now.latest_dropoff_s
    status = fleet(engine, operator)
    assert status.rides_assigned == len(booked)
    assert status.rides_on_board == status.rides_completed == status.rides_cancelled == 0
    assert status.vehicles == len(vehicles) == 16
    assert status.requests_rejected == len(rejections)
    assert sum(v.planned_stops for v in vehicles) == 2 * len(booked)
    snapshot = engine.core.store.load()
    assert set(snapshot.rides) == set(engine_id.values())
    # each key scoped by its rider, as the ride's id
    assert all(r["idempotency_key"] == r["ride_id"].replace("/", "/key-") for r in snapshot.rides.values())


# ---------------------------------------------------------------------------- Redis outages
@pytest.fixture(params=[0, 1], ids=["in-process", "front end"])
def redis_engine(
    start_engine: Callable[..., Engine], redis_server: RedisServer, request: pytest.FixtureRequest
) -> Iterator[Engine]:
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as client:
        client.flushdb()
    yield start_engine(store=redis_server.url, frontends=request.param)
    if not redis_server.running:  # the test failed while Redis was down
        redis_server.start()


def test_redis_down_fails_calls_with_unavailable_and_loses_nothing(
    redis_engine: Engine, redis_server: RedisServer
) -> None:
    e = redis_engine
    unavailable = grpc.StatusCode.UNAVAILABLE
    first = book(e, quote(e, "r-1", 3, 20))
    second = book(e, quote(e, "r-2", 10, 30))
    pending = quote(e, "r-3", 12, 25)
    first, second = get_ride(e, "r-1"), get_ride(e, "r-2")  # as acknowledged, after both bookings

    redis_server.kill()
    # Reads come from the engine's memory while nothing is waiting to be reloaded...
    assert get_ride(e, "r-1") == first
    assert fleet(e).rides_assigned == 2
    # ...every change must be committed, so it fails with UNAVAILABLE (never INTERNAL)
    assert status_code(lambda: book(e, pending)) == unavailable
    assert status_code(lambda: e.rider.Quote(quote_request("r-4", 4, 22), timeout=TIMEOUT)) == unavailable
    cancel = rider_pb2.CancelRideRequest(ride_id="r-2", now_s=T0)
    assert status_code(lambda: e.rider.CancelRide(cancel, timeout=TIMEOUT)) == unavailable
    # ...and after a failed commit the engine must rebuild from the store first, so reads fail too
    assert status_code(lambda: get_ride(e, "r-1")) == unavailable
    assert status_code(lambda: fleet(e)) == unavailable
    assert e.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT).status == SERVING

    redis_server.start()
    assert get_ride(e, "r-1") == first
    assert get_ride(e, "r-2") == second  # the cancellation that failed did not happen
    assert status_code(lambda: get_ride(e, "r-3")) == grpc.StatusCode.NOT_FOUND  # nor the booking
    assert fleet(e).rides_assigned == 2
    in_manifests = {s.ride_id for v in (first.vehicle_id, second.vehicle_id) for s in manifest(e, v).stops}
    assert in_manifests == {"r-1", "r-2"}
    snapshot = e.core.store.load()
    assert set(snapshot.rides) == {"r-1", "r-2"}
    later = book(e, quote(e, "r-5", 12, 25))
    assert get_ride(e, "r-5") == later
    assert fleet(e).rides_assigned == 3


def test_the_kernel_warm_up_before_serving_leaves_no_trace(engine: Engine) -> None:
    """start() books, cancels and re-optimises on a throwaway dispatcher to compile the kernels;
    none of it reaches the engine's dispatcher, the store or the streams."""
    assert "dispatcher_warm_up_s" in engine.core.timings
    assert engine.core.warm_dispatcher() is True  # imod_jamsil: the trial trip gets an offer
    stored = engine.core.store.load()
    assert stored.rides == {} and engine.core.store.read_events("assignments") == []
    status = fleet(engine)
    assert (status.rides_assigned, status.rides_cancelled, status.requests_rejected) == (0, 0, 0)
    assert quote(engine, "after-warm-up").offer_id.startswith("offer-1-"), "the warm-up used up offer numbers"
