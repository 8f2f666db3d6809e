"""Malformed and forbidden calls, generated: a clean status code, a server that keeps serving, no trace.

Hypothesis generates bad calls for every RPC, bad quotes also booked at once (BookRide with
a request): ids empty, too long or with bad characters; party sizes, coordinates, stops and
times out of range; places missing; unknown enum values as raw integers; unknown offers,
rides and vehicles; oversize idempotency keys; stop events of the wrong kind, in the wrong
state or for a ride of another vehicle; traffic updates of the wrong length or with NaN,
infinite, negative or zero times; negative iteration budgets; the wrong token or none. All
run against one real server with authentication, holding a ride on board, an assigned ride
and a cancelled one. After every call:

* the status code is INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION or PERMISSION_DENIED
  (UNAUTHENTICATED for a missing or unknown token), never INTERNAL or UNKNOWN;
* health still says SERVING and a valid quote still gets an offer;
* nothing changed: FleetStatus (counts and clock) and the store's rides and vehicles are
  as before (a valid quote leaves only events and an offer behind, so the comparison
  covers rides and vehicles only).

Times in the generated calls never lie ahead of the clock, because a call from the future
moves an external clock on, which is not an error. Where the engine gets this wrong, an
``xfail(strict=True)`` test at the end shows the bug.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_status import rpc_status
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import MAX_TIME_S
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2
from tests.engine.conftest import Engine, bearer, launch_engine

if TYPE_CHECKING:
    from tests.engine.conftest import RedisServer

T0 = 8 * 3600
NUM_STOPS = 35
MAX_PASSENGERS = 8  # imod_jamsil's service limit per booking
MAX_EDGE_TIME_S = 10_000_000
TIMEOUT = 20.0
ID_CHARS = string.ascii_letters + string.digits + "_.:-"
ID_RULE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
OFFER_ID = re.compile(r"offer-\d{1,6}-[0-9a-f]{16}")
#: How operators and drivers see rider alice's ride ids (riders' ids are scoped per rider).
ALICE = "alice/"
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

CLEAN = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
)
UNAUTHENTICATED = (grpc.StatusCode.UNAUTHENTICATED,)

KINDS = {
    "boarded": driver_pb2.STOP_EVENT_KIND_BOARDED,
    "alighted": driver_pb2.STOP_EVENT_KIND_ALIGHTED,
    "no_show": driver_pb2.STOP_EVENT_KIND_NO_SHOW,
}


# ---------------------------------------------------------------------------- the world
@dataclass
class World:
    """One engine (memory store, tokens) with three rides of rider alice, at a fixed clock.

    ``on_board`` is on board of ``vehicles[on_board]``, ``assigned`` waits for its pickup,
    ``cancelled`` was cancelled; no vehicle with a plan is behind the clock, so a quote at
    the clock changes no plan.
    """

    engine: Engine
    clock: int
    vehicles: dict[str, str]  # ride id (as operators see it: "alice/<id>") -> vehicle id
    offers: dict[str, str]  # ride id (as operators see it) -> offer id
    checks: Iterator[int] = field(default_factory=lambda: iter(range(10**9)))

    def fleet(self) -> operator_pb2.FleetStatusResponse:
        request = operator_pb2.FleetStatusRequest()
        return self.engine.operator.FleetStatus(request, metadata=bearer("operator"), timeout=TIMEOUT)

    def state(self) -> tuple[Any, ...]:
        snapshot = self.engine.core.store.load()
        return self.fleet().SerializeToString(deterministic=True), snapshot.rides, snapshot.vehicles

    def still_serving(self) -> None:
        health = self.engine.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        request = rider_pb2.QuoteRequest(
            request_id=f"check-{next(self.checks)}",
            origin=common_pb2.Place(stop=3),
            destination=common_pb2.Place(stop=20),
            passengers=1,
            now_s=self.clock,
        )
        answer = self.engine.rider.Quote(request, metadata=bearer("operator"), timeout=TIMEOUT)
        assert answer.WhichOneof("result") == "offer", answer


def _book(engine: Engine, rid: str, origin: int, destination: int, now: int, key: str = "") -> common_pb2.Ride:
    alice = bearer("alice")
    request = rider_pb2.QuoteRequest(
        request_id=rid,
        origin=common_pb2.Place(stop=origin),
        destination=common_pb2.Place(stop=destination),
        passengers=1,
        now_s=now,
    )
    offer = engine.rider.Quote(request, metadata=alice, timeout=TIMEOUT).offer
    booking = rider_pb2.BookRideRequest(offer_id=offer.offer_id, idempotency_key=key, now_s=now)
    return engine.rider.BookRide(booking, metadata=alice, timeout=TIMEOUT)


@pytest.fixture(scope="module", params=["in-process", "front end", "in-process, TLS"])
def world(data_dir: Path, tokens_file: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """The engine with three rides, gRPC in its own process, then in a front-end process (where
    every error crosses from the writer's process to the front end's), then in its own process
    over TLS (the session's certificates, see ``conftest.py``)."""
    tls = request.getfixturevalue("tls_files") if "TLS" in request.param else None
    frontends = 1 if "front end" in request.param else 0
    engine = launch_engine(data_dir, tokens=tokens_file, frontends=frontends, tls=tls)
    try:
        operator = bearer("operator")
        engine.advance(T0)  # riders do not move the clock
        on_board = _book(engine, "on-board", 10, 30, T0)
        pickup = engine.driver.GetManifest(
            driver_pb2.GetManifestRequest(vehicle_id=on_board.vehicle_id), metadata=operator, timeout=TIMEOUT
        ).stops[0]
        assert pickup.ride_id == ALICE + "on-board"
        clock = pickup.planned_s
        event = driver_pb2.StopEvent(
            vehicle_id=on_board.vehicle_id, kind=KINDS["boarded"], ride_id=ALICE + "on-board", time_s=clock
        )
        engine.driver.ReportStopEvent(event, metadata=operator, timeout=TIMEOUT)
        assigned = _book(engine, "assigned", 3, 20, clock, key="assigned-key")
        cancelled = _book(engine, "cancelled", 12, 25, clock)
        cancel = rider_pb2.CancelRideRequest(ride_id="cancelled", now_s=clock)
        engine.rider.CancelRide(cancel, metadata=bearer("alice"), timeout=TIMEOUT)
        rides = (on_board, assigned, cancelled)
        w = World(
            engine=engine,
            clock=clock,
            vehicles={ALICE + r.ride_id: r.vehicle_id for r in rides},
            offers={ALICE + r.ride_id: r.offer_id for r in rides},
        )
        assert w.fleet().clock_s == clock
        w.still_serving()
        yield w
    finally:
        engine.close()


# ---------------------------------------------------------------------------- calls
@dataclass(frozen=True)
class Call:
    """One RPC: ``service.method`` with ``request`` (a list for client streams), as ``token``."""

    service: str
    method: str
    request: Any
    token: str | None = "operator"  # a key of TOKENS, None (no token) or "bogus"
    allowed: tuple[grpc.StatusCode, ...] = CLEAN

    def __repr__(self) -> str:
        text = self.request if isinstance(self.request, list) else str(self.request).replace("\n", " ")
        return f"Call({self.service}.{self.method}, {text!s:.600}, token={self.token})"

    def invoke(self, engine: Engine) -> Any:
        stub = getattr(engine, self.service)
        method = getattr(stub, self.method)
        if self.token is None:
            metadata = None
        elif self.token == "bogus":
            metadata = [("authorization", "Bearer no-such-token-at-all")]
        else:
            metadata = bearer(self.token)
        if self.method == "ReportLocation":
            return method(iter(self.request), metadata=metadata, timeout=TIMEOUT)
        if self.method.startswith("Watch"):
            stream = method(self.request, metadata=metadata, timeout=TIMEOUT)
            try:
                return next(stream)
            finally:
                stream.cancel()
        return method(self.request, metadata=metadata, timeout=TIMEOUT)


def assert_refused_cleanly(world: World, call: Call) -> None:
    """The call fails with an allowed code, changes nothing, and the server goes on serving."""
    before = world.state()
    with pytest.raises(grpc.RpcError) as info:
        answer = call.invoke(world.engine)
        raise AssertionError(f"{call!r} was accepted: {answer}")
    code = info.value.code()
    assert code in call.allowed, f"{call!r} -> {code}: {info.value.details()}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        status = rpc_status.from_call(info.value)
        assert status is not None and any(d.Is(error_details_pb2.BadRequest.DESCRIPTOR) for d in status.details), (
            f"{call!r}: INVALID_ARGUMENT without a BadRequest detail"
        )
    assert world.state() == before, f"{call!r} changed the state"
    world.still_serving()


# ---------------------------------------------------------------------------- strategies
valid_ids = st.text(ID_CHARS, min_size=1, max_size=64)
malformed_ids = st.one_of(
    st.just(""),
    st.text(ID_CHARS, min_size=65, max_size=300),
    st.text(min_size=1, max_size=64).filter(lambda s: ID_RULE.fullmatch(s) is None),
)
KNOWN_IDS = {"on-board", "assigned", "cancelled", "assigned-key"}
unknown_ids = valid_ids.filter(lambda s: s not in KNOWN_IDS and not s.startswith(("veh", "check-")))
unknown_offer_ids = st.one_of(
    malformed_ids.filter(bool),
    valid_ids.filter(lambda s: OFFER_ID.fullmatch(s) is None),
    st.integers(10**6, 10**12).map(lambda n: f"offer-{n}"),
)
bad_or_unknown_ids = st.one_of(malformed_ids, unknown_ids)
unknown_vehicles = st.one_of(malformed_ids, valid_ids.filter(lambda s: re.fullmatch(r"veh00(0\d|1[0-5])", s) is None))
bad_stops = st.one_of(st.integers(INT32[0], -1), st.integers(NUM_STOPS, INT32[1]))
nonzero_bad_stops = bad_stops  # every bad stop is non-zero (stop 0 means "none" in ShiftRequest)
bad_times = st.one_of(st.integers(INT64[0], -1), st.integers(MAX_TIME_S + 1, INT64[1]))


def past(world: World) -> st.SearchStrategy[int]:
    """Times that do not move the clock: anything up to the clock (negative ones too)."""
    return st.integers(INT64[0], world.clock)


def out_of(limit: float) -> st.SearchStrategy[float]:
    """Not a coordinate within ``-limit .. limit``."""
    return st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf]),
        st.floats(min_value=limit, exclude_min=True, allow_infinity=False),
        st.floats(max_value=-limit, exclude_max=True, allow_infinity=False),
    )


good_lat = st.floats(37.50, 37.53)
good_lon = st.floats(127.08, 127.11)
bad_places = st.one_of(
    st.just(common_pb2.Place()),  # neither a stop nor a point
    bad_stops.map(lambda s: common_pb2.Place(stop=s)),
    st.builds(lambda lat, lon: common_pb2.Place(point=common_pb2.LatLon(lat=lat, lon=lon)), out_of(90.0), good_lon),
    st.builds(lambda lat, lon: common_pb2.Place(point=common_pb2.LatLon(lat=lat, lon=lon)), good_lat, out_of(180.0)),
)


@st.composite
def bad_quotes(draw: st.DrawFn, world: World) -> Call:
    msg = rider_pb2.QuoteRequest(
        request_id=draw(st.sampled_from(["q-new", "on-board", "assigned"])),
        origin=common_pb2.Place(stop=3),
        destination=common_pb2.Place(stop=20),
        passengers=1,
        now_s=draw(past(world)),
    )
    defects = draw(
        st.sets(
            st.sampled_from(["request_id", "passengers", "origin", "destination", "rider_class", "requested_time_s"]),
            min_size=1,
        )
    )
    if "request_id" in defects:
        msg.request_id = draw(malformed_ids)
    if "passengers" in defects:
        msg.passengers = draw(st.one_of(st.integers(INT32[0], 0), st.integers(MAX_PASSENGERS + 1, INT32[1])))
    for end in ("origin", "destination"):
        if end in defects:
            getattr(msg, end).CopyFrom(draw(bad_places))
    if "rider_class" in defects:  # an unknown enum value, sent as its raw number
        rider_class: Any = draw(st.one_of(st.integers(INT32[0], -1), st.integers(4, INT32[1])))
        msg.rider_class = rider_class
    if "requested_time_s" in defects:
        msg.requested_time_s = draw(bad_times)
    msg.wheelchair = draw(st.booleans())
    if draw(st.booleans()):  # the same request booked at once
        key = draw(st.sampled_from(["", "q-new-key"]))
        return Call("rider", "BookRide", rider_pb2.BookRideRequest(request=msg, idempotency_key=key, now_s=msg.now_s))
    return Call("rider", "Quote", msg)


@st.composite
def bad_ride_calls(draw: st.DrawFn, world: World) -> Call:
    """BookRide, CancelRide, GetRide and WatchRide with bad ids, states or owners."""
    method = draw(st.sampled_from(["BookRide", "CancelRide", "GetRide", "WatchRide"]))
    if method == "BookRide":
        case = draw(st.sampled_from(["offer", "key", "owner"]))
        offer_id = draw(st.one_of(st.just(""), unknown_offer_ids))
        key = ""
        token = "operator"
        if case == "key":  # too long, with any offer (even a real one)
            offer_id = draw(st.one_of(st.just(offer_id), st.sampled_from(sorted(world.offers.values()))))
            key = draw(st.text(min_size=129, max_size=400))
        elif case == "owner":  # another rider retries alice's booking by its key or its offer
            offer_id = draw(st.sampled_from(sorted(world.offers.values())))
            key = draw(st.sampled_from(["", "assigned-key"]))
            token = "bob"
        request = rider_pb2.BookRideRequest(offer_id=offer_id, idempotency_key=key, now_s=draw(past(world)))
        return Call("rider", method, request, token)
    case = draw(st.sampled_from(["id", "owner", "state"] if method == "CancelRide" else ["id", "owner"]))
    token = "operator"
    if case == "id":
        ride_id = draw(bad_or_unknown_ids)
    elif case == "owner":  # alice's ride ids, as she names them
        ride_id = draw(st.sampled_from(sorted(world.vehicles))).removeprefix(ALICE)
        token = draw(st.sampled_from(["bob", "driver"]))
    else:  # cancelling a ride under way or already over
        ride_id = draw(st.sampled_from([ALICE + "on-board", ALICE + "cancelled"]))
    if method == "CancelRide":
        return Call("rider", method, rider_pb2.CancelRideRequest(ride_id=ride_id, now_s=draw(past(world))), token)
    if method == "GetRide":
        return Call("rider", method, rider_pb2.GetRideRequest(ride_id=ride_id), token)
    return Call("rider", method, rider_pb2.WatchRideRequest(ride_id=ride_id), token)


@st.composite
def bad_stop_events(draw: st.DrawFn, world: World) -> driver_pb2.StopEvent:
    rides = world.vehicles
    others = [f"veh{k:04d}" for k in range(16)]
    case = draw(
        st.sampled_from(["vehicle", "kind", "no ride", "time", "arrival stop", "unknown ride", "vehicle of", "state"])
    )
    vehicle = draw(st.sampled_from(others))
    kind: int = draw(st.sampled_from(sorted(KINDS.values())))  # a plain int: unknown values are sent raw
    ride_id = draw(st.sampled_from(sorted(rides)))
    time_s = draw(st.integers(0, world.clock))
    stop = draw(st.integers(0, NUM_STOPS - 1))
    if case == "vehicle":
        vehicle = draw(unknown_vehicles)
        kind = draw(st.integers(INT32[0], INT32[1]))
    elif case == "kind":  # UNSPECIFIED or a number no kind has
        kind = draw(st.one_of(st.just(0), st.integers(INT32[0], -1), st.integers(5, INT32[1])))
    elif case == "no ride":
        ride_id = ""
    elif case == "time":
        kind = draw(st.integers(1, 4))
        time_s = draw(st.integers(INT64[0], -1))
    elif case == "arrival stop":
        kind = driver_pb2.STOP_EVENT_KIND_ARRIVED
        stop = draw(bad_stops)
    elif case == "unknown ride":
        ride_id = draw(unknown_ids)
    elif case == "vehicle of":  # a ride of another vehicle
        vehicle = draw(st.sampled_from([v for v in others if v != rides[ride_id]]))
    else:  # the ride's own vehicle, but the event does not fit the ride's state
        ride_id, kind = draw(
            st.sampled_from(
                [
                    (ALICE + "assigned", KINDS["alighted"]),
                    (ALICE + "on-board", KINDS["boarded"]),
                    (ALICE + "on-board", KINDS["no_show"]),
                ]
                + [(ALICE + "cancelled", k) for k in KINDS.values()]
            )
        )
        vehicle = rides[ride_id]
    raw_kind: Any = kind
    return driver_pb2.StopEvent(vehicle_id=vehicle, kind=raw_kind, ride_id=ride_id, stop=stop, time_s=time_s)


@st.composite
def bad_driver_calls(draw: st.DrawFn, world: World) -> Call:
    method = draw(
        st.sampled_from(["ReportStopEvent", "GetManifest", "WatchManifest", "StartShift", "EndShift", "ReportLocation"])
    )
    if method == "ReportStopEvent":
        return Call("driver", method, draw(bad_stop_events(world)))
    if method == "ReportLocation":  # every report is bad, so the first one fails and nothing moves
        reports = draw(
            st.lists(
                st.one_of(
                    st.builds(driver_pb2.LocationReport, vehicle_id=unknown_vehicles, stop=st.integers(0, 34)),
                    st.builds(
                        driver_pb2.LocationReport,
                        vehicle_id=st.sampled_from(sorted(world.vehicles.values())),
                        stop=bad_stops,
                    ),
                ),
                min_size=1,
                max_size=3,
            )
        )
        for report in reports:
            report.time_s = draw(st.integers(0, world.clock))
        return Call("driver", method, reports)
    token = "operator"
    vehicle = draw(unknown_vehicles)
    stop = 0
    if draw(st.booleans()):  # the driver of veh0003 asks about another vehicle
        token = "driver"
        vehicle = draw(st.sampled_from([f"veh{k:04d}" for k in range(16) if k != 3]))
    elif method == "StartShift" and draw(st.booleans()):
        vehicle = draw(st.sampled_from(sorted(world.vehicles.values())))
        stop = draw(nonzero_bad_stops)
    if method in ("StartShift", "EndShift"):
        request: Any = driver_pb2.ShiftRequest(vehicle_id=vehicle, stop=stop, now_s=draw(st.integers(0, world.clock)))
    elif method == "GetManifest":
        request = driver_pb2.GetManifestRequest(vehicle_id=vehicle)
    else:
        request = driver_pb2.WatchManifestRequest(vehicle_id=vehicle)
    return Call("driver", method, request, token)


@st.composite
def bad_operator_calls(draw: st.DrawFn, world: World) -> Call:
    method = draw(st.sampled_from(["Reoptimise", "UpdateTraffic"]))
    now_s = draw(past(world))
    if method == "Reoptimise":
        iterations = draw(st.one_of(st.integers(INT32[0], -1), st.integers(1_000_001, INT32[1])))
        return Call("operator", method, operator_pb2.ReoptimiseRequest(iterations=iterations, now_s=now_s))
    edges = world.engine.core.network.num_edges
    if draw(st.booleans()):
        length = draw(st.integers(0, 2 * edges).filter(lambda n: n != edges))
        times = [10.0] * length
    else:
        times = [float(t) for t in world.engine.core.network.travel_time_s]
        bad = st.one_of(
            st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0]),
            st.floats(max_value=0.49, allow_nan=False, allow_infinity=False),  # rounds below 1 s
            st.floats(min_value=MAX_EDGE_TIME_S + 1, allow_nan=False, allow_infinity=False),
        )
        for index in draw(st.lists(st.integers(0, edges - 1), min_size=1, max_size=5, unique=True)):
            times[index] = draw(bad)
    return Call("operator", method, operator_pb2.UpdateTrafficRequest(edge_travel_time_s=times, now_s=now_s))


def _valid_calls(world: World) -> list[Call]:
    """Well-formed calls of every RPC (each one fine for some role)."""
    quote = rider_pb2.QuoteRequest(
        request_id="q-auth", origin=common_pb2.Place(stop=3), destination=common_pb2.Place(stop=20), passengers=1
    )
    vehicle = world.vehicles[ALICE + "assigned"]
    return [
        Call("rider", "Quote", quote),
        Call("rider", "BookRide", rider_pb2.BookRideRequest(offer_id=world.offers[ALICE + "assigned"])),
        Call("rider", "CancelRide", rider_pb2.CancelRideRequest(ride_id="assigned")),
        Call("rider", "GetRide", rider_pb2.GetRideRequest(ride_id="assigned")),
        Call("rider", "WatchRide", rider_pb2.WatchRideRequest(ride_id="assigned")),
        Call("driver", "StartShift", driver_pb2.ShiftRequest(vehicle_id=vehicle)),
        Call("driver", "EndShift", driver_pb2.ShiftRequest(vehicle_id=vehicle)),
        Call("driver", "ReportLocation", [driver_pb2.LocationReport(vehicle_id=vehicle, stop=3, time_s=0)]),
        Call("driver", "GetManifest", driver_pb2.GetManifestRequest(vehicle_id=vehicle)),
        Call("driver", "WatchManifest", driver_pb2.WatchManifestRequest(vehicle_id=vehicle)),
        Call(
            "driver",
            "ReportStopEvent",
            driver_pb2.StopEvent(vehicle_id=vehicle, kind=driver_pb2.STOP_EVENT_KIND_ARRIVED, stop=3),
        ),
        Call("operator", "WatchAssignments", operator_pb2.WatchAssignmentsRequest()),
        Call("operator", "ListVehicles", operator_pb2.ListVehiclesRequest()),
        Call("operator", "FleetStatus", operator_pb2.FleetStatusRequest()),
        Call("operator", "Reoptimise", operator_pb2.ReoptimiseRequest(iterations=1)),
        Call("operator", "UpdateTraffic", operator_pb2.UpdateTrafficRequest(edge_travel_time_s=[1.0])),
    ]


# Who may not make a call at all: riders drive and operate nothing, drivers ride and operate nothing.
FORBIDDEN = {"rider": ("bob", "alice"), "driver": ("alice", "bob"), "operator": ("alice", "bob", "driver")}


@st.composite
def unauthorised_calls(draw: st.DrawFn, world: World) -> Call:
    call = draw(st.sampled_from(_valid_calls(world)))
    if draw(st.booleans()):
        token = draw(st.sampled_from([None, "bogus"]))
        return Call(call.service, call.method, call.request, token, UNAUTHENTICATED)
    token = "driver" if call.service == "rider" else draw(st.sampled_from(FORBIDDEN[call.service]))
    return Call(call.service, call.method, call.request, token, (grpc.StatusCode.PERMISSION_DENIED,))


# ---------------------------------------------------------------------------- the properties
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_malformed_quotes(world: World, data: st.DataObject) -> None:
    assert_refused_cleanly(world, data.draw(bad_quotes(world)))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_bad_bookings_cancellations_and_lookups(world: World, data: st.DataObject) -> None:
    assert_refused_cleanly(world, data.draw(bad_ride_calls(world)))


@settings(max_examples=45, deadline=None)
@given(data=st.data())
def test_bad_driver_calls(world: World, data: st.DataObject) -> None:
    assert_refused_cleanly(world, data.draw(bad_driver_calls(world)))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_bad_operator_calls(world: World, data: st.DataObject) -> None:
    assert_refused_cleanly(world, data.draw(bad_operator_calls(world)))


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_calls_by_the_wrong_principal(world: World, data: st.DataObject) -> None:
    assert_refused_cleanly(world, data.draw(unauthorised_calls(world)))


def test_both_places_at_once_cannot_be_sent() -> None:
    """``Place`` is a oneof: a message naming a point and a stop on the wire keeps the last one."""
    point = common_pb2.Place(point=common_pb2.LatLon(lat=37.5133, lon=127.1001)).SerializeToString()
    stop = common_pb2.Place(stop=20).SerializeToString()
    assert common_pb2.Place.FromString(point + stop).WhichOneof("place") == "stop"
    assert common_pb2.Place.FromString(stop + point).WhichOneof("place") == "point"


# ---------------------------------------------------------------------------- bugs shown
@pytest.fixture
def fresh(start_engine: Callable[..., Engine]) -> Engine:
    return start_engine()


def _quote(engine: Engine, rid: str, origin: int, destination: int, now_s: int = T0) -> common_pb2.Offer:
    request = rider_pb2.QuoteRequest(
        request_id=rid,
        origin=common_pb2.Place(stop=origin),
        destination=common_pb2.Place(stop=destination),
        passengers=1,
        now_s=now_s,
    )
    answer = engine.rider.Quote(request, timeout=TIMEOUT)
    assert answer.WhichOneof("result") == "offer", answer
    return answer.offer


def _fail(engine: Engine, how: str) -> None:
    """One failing call of the kind ``how`` (each is refused inside the engine's writer)."""
    with pytest.raises(grpc.RpcError):
        if how == "unknown offer":
            engine.rider.BookRide(rider_pb2.BookRideRequest(offer_id="offer-999999", now_s=T0), timeout=TIMEOUT)
        elif how == "stop out of range":
            _quote(engine, "bad-stop", 3, NUM_STOPS)
        else:  # a cancellation of a ride that does not exist
            engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id="no-such-ride", now_s=T0), timeout=TIMEOUT)


FAILURES = ["unknown offer", "stop out of range", "unknown ride"]


@pytest.mark.parametrize("how", FAILURES)
def test_a_failed_command_keeps_other_offers(fresh: Engine, how: str) -> None:
    booked = _quote(fresh, "r-booked", 10, 30)
    ride = fresh.rider.BookRide(rider_pb2.BookRideRequest(offer_id=booked.offer_id, now_s=T0), timeout=TIMEOUT)
    waiting = _quote(fresh, "r-waiting", 3, 20)
    _fail(fresh, how)
    again = fresh.rider.BookRide(rider_pb2.BookRideRequest(offer_id=booked.offer_id, now_s=T0), timeout=TIMEOUT)
    assert again == ride  # "the same offer gives the same ride"
    later = fresh.rider.BookRide(rider_pb2.BookRideRequest(offer_id=waiting.offer_id, now_s=T0), timeout=TIMEOUT)
    assert later.ride_id == "r-waiting"


@pytest.mark.parametrize("how", FAILURES)
def test_offer_ids_are_never_reused(fresh: Engine, how: str) -> None:
    first = _quote(fresh, "r-first", 3, 20)
    _fail(fresh, how)
    second = _quote(fresh, "r-second", 10, 30)
    assert second.offer_id != first.offer_id
    # (today the first rider's BookRide of first.offer_id books "r-second")


WATCHES: list[tuple[str, Callable[[Engine, str], Any]]] = [
    ("WatchRide", lambda e, after: e.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id="r1", after_event_id=after))),
    (
        "WatchManifest",
        lambda e, after: e.driver.WatchManifest(
            driver_pb2.WatchManifestRequest(vehicle_id="veh0001", after_event_id=after)
        ),
    ),
    (
        "WatchAssignments",
        lambda e, after: e.operator.WatchAssignments(operator_pb2.WatchAssignmentsRequest(after_event_id=after)),
    ),
]


@pytest.mark.parametrize("after", ["garbage", "12-x", "-1-0"])
@pytest.mark.parametrize(("name", "watch"), WATCHES, ids=[name for name, _ in WATCHES])
def test_a_malformed_after_event_id_is_invalid_argument(
    fresh: Engine, name: str, watch: Callable[[Engine, str], Any], after: str
) -> None:
    fresh.rider.BookRide(rider_pb2.BookRideRequest(offer_id=_quote(fresh, "r1", 3, 20).offer_id), timeout=TIMEOUT)
    stream = watch(fresh, after)
    try:
        with pytest.raises(grpc.RpcError) as info:
            next(stream)
    finally:
        stream.cancel()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()


def test_an_after_event_id_beyond_redis_ids_is_refused(
    start_engine: Callable[..., Engine], redis_server: RedisServer
) -> None:
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as client:
        client.flushdb()
    engine = start_engine(store=redis_server.url)
    engine.rider.BookRide(rider_pb2.BookRideRequest(offer_id=_quote(engine, "r1", 3, 20).offer_id), timeout=TIMEOUT)
    request = rider_pb2.WatchRideRequest(ride_id="r1", after_event_id="99999999999999999999-0")
    stream = engine.rider.WatchRide(request, timeout=1.0)
    try:
        with pytest.raises(grpc.RpcError) as info:
            next(stream)
    finally:
        stream.cancel()
    # refused as a bad argument, or (like the memory store) nothing comes after it until the deadline
    assert info.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.DEADLINE_EXCEEDED), (
        info.value.code(),
        info.value.details(),
    )


HUGE = 10**15  # a Unix time in microseconds, say: far beyond MAX_TIME_S


def _huge_time_calls(engine: Engine) -> dict[str, Callable[[], Any]]:
    offer = _quote(engine, "r-huge", 3, 20)
    ride_id = "r-ride"
    ride = engine.rider.BookRide(rider_pb2.BookRideRequest(offer_id=_quote(engine, ride_id, 10, 30).offer_id))
    vehicle = ride.vehicle_id
    times = [float(t) for t in engine.core.network.travel_time_s]
    return {
        "Quote.now_s": lambda: engine.rider.Quote(
            rider_pb2.QuoteRequest(
                request_id="r-q",
                origin=common_pb2.Place(stop=3),
                destination=common_pb2.Place(stop=20),
                passengers=1,
                now_s=HUGE,
            )
        ),
        "BookRide.now_s": lambda: engine.rider.BookRide(rider_pb2.BookRideRequest(offer_id=offer.offer_id, now_s=HUGE)),
        "CancelRide.now_s": lambda: engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id=ride_id, now_s=HUGE)),
        "StartShift.now_s": lambda: engine.driver.StartShift(
            driver_pb2.ShiftRequest(vehicle_id="veh0000", stop=5, now_s=HUGE)
        ),
        "ReportLocation.time_s": lambda: engine.driver.ReportLocation(
            iter([driver_pb2.LocationReport(vehicle_id="veh0000", stop=5, time_s=HUGE)])
        ),
        "ReportStopEvent.time_s": lambda: engine.driver.ReportStopEvent(
            driver_pb2.StopEvent(
                vehicle_id=vehicle, kind=driver_pb2.STOP_EVENT_KIND_NO_SHOW, ride_id=ride_id, time_s=HUGE
            )
        ),
        "Reoptimise.now_s": lambda: engine.operator.Reoptimise(
            operator_pb2.ReoptimiseRequest(iterations=1, now_s=HUGE)
        ),
        "UpdateTraffic.now_s": lambda: engine.operator.UpdateTraffic(
            operator_pb2.UpdateTrafficRequest(edge_travel_time_s=times, now_s=HUGE)
        ),
    }


HUGE_TIME_FIELDS = [
    "Quote.now_s",
    "BookRide.now_s",
    "CancelRide.now_s",
    "StartShift.now_s",
    "ReportLocation.time_s",
    "ReportStopEvent.time_s",
    "Reoptimise.now_s",
    "UpdateTraffic.now_s",
]


@pytest.mark.parametrize("field_name", HUGE_TIME_FIELDS)
def test_a_time_beyond_the_service_clock_is_refused_and_leaves_the_clock(fresh: Engine, field_name: str) -> None:
    call = _huge_time_calls(fresh)[field_name]
    clock = fresh.operator.FleetStatus(operator_pb2.FleetStatusRequest()).clock_s
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert fresh.operator.FleetStatus(operator_pb2.FleetStatusRequest()).clock_s == clock
    _quote(fresh, "r-after", 12, 25, now_s=clock)


@pytest.mark.parametrize("value", [math.nan, -3.0, 0.0, math.inf])
def test_a_bad_traffic_time_names_the_request_field(fresh: Engine, value: float) -> None:
    times = [float(t) for t in fresh.core.network.travel_time_s]
    times[7] = value
    with pytest.raises(grpc.RpcError) as info:  # refused, as it must be...
        fresh.operator.UpdateTraffic(operator_pb2.UpdateTrafficRequest(edge_travel_time_s=times), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(info.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details and status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["edge_travel_time_s"]  # ...but names the wrong field


def test_start_shift_at_stop_zero(fresh: Engine) -> None:
    vehicles = fresh.operator.ListVehicles(operator_pb2.ListVehiclesRequest()).vehicles
    vehicle = next(v for v in vehicles if v.stop != 0)
    status = fresh.driver.StartShift(driver_pb2.ShiftRequest(vehicle_id=vehicle.vehicle_id, stop=0, now_s=T0))
    assert status.stop == 0


def test_update_traffic_refuses_nan_and_non_positive_times(fresh: Engine) -> None:
    """The times are checked (INVALID_ARGUMENT) before any change; the plan stays as it was."""
    offer = _quote(fresh, "r1", 3, 20)
    fresh.rider.BookRide(rider_pb2.BookRideRequest(offer_id=offer.offer_id, now_s=T0), timeout=TIMEOUT)
    before = fresh.core.store.load()
    base = np.asarray(fresh.core.network.travel_time_s, dtype=np.float64)
    for value in (math.nan, math.inf, -math.inf, -1.0, 0.0, 0.3, MAX_EDGE_TIME_S + 1.0):
        times = base.copy()
        times[11] = value
        request = operator_pb2.UpdateTrafficRequest(edge_travel_time_s=times.tolist(), now_s=T0)
        with pytest.raises(grpc.RpcError) as info:
            fresh.operator.UpdateTraffic(request, timeout=TIMEOUT)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (value, info.value.details())
    after = fresh.core.store.load()
    assert (after.rides, after.vehicles) == (before.rides, before.vehicles)
    doubled = operator_pb2.UpdateTrafficRequest(edge_travel_time_s=(2 * base).tolist(), now_s=T0)
    assert fresh.operator.UpdateTraffic(doubled, timeout=TIMEOUT).seconds > 0
