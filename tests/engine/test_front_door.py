"""The server's front door (``engine.gateway``): who may hold what, and what is read before a token.

Real servers of the bundled ``imod_jamsil`` scenario on free ports, with authentication, in the
test's process and through a front-end process (``frontends=1``):

* idle streams (ReportLocation sending nothing, WatchRide, WatchAssignments, WatchManifest) do
  not hold the server: with 200 of them open, without a token or with valid ones up to the
  limits, health, Quote and FleetStatus each answer within a second (the liveness bound of issue
  14; before, 64 idle streams took every worker thread and every call timed out);
* the stream limits (per caller, per client address, in all) answer RESOURCE_EXHAUSTED naming
  the limit;
* the receive limit fits the API (every bundled scenario's traffic update fits it), a message
  over it is refused at once and the simulator's client says how to raise it, and calls
  without a token are refused before their body is read (the front end's memory stays flat);
* undecodable bytes get INVALID_ARGUMENT and one log line, a cancelled ReportLocation logs
  nothing, ids are checked without being echoed, "Bearer" is matched in any case, a rider's ride
  ids are their own, and offer ids cannot be guessed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from engine.settings import Settings
from matching.deployment import Deployment
from proto.mobility.v1 import (
    common_pb2,
    driver_pb2,
    driver_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    rider_pb2,
    rider_pb2_grpc,
)
from routing import load_network, read_manhattan
from sim.remote import EngineMismatch, RemoteBackend
from tests.engine.conftest import TOKENS, Engine, bearer
from tests.engine.test_server import T0, TIMEOUT, at_once, quote_request

SERVING = health_pb2.HealthCheckResponse.SERVING
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
#: How fast the server must still answer with the streams open (issue 14's liveness bound).
LIVE_S = 1.0
IDLE_STREAMS = 200
#: The default limit of streams per rider or driver (``Settings.max_streams_per_caller``).
PER_CALLER = 16


@pytest.fixture(params=[0, 1], ids=["in-process", "front end"])
def frontends(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def _token(name: str) -> str:
    return TOKENS[name][0]


#: A channel with a connection of its own (gRPC otherwise shares one between a process's channels
#: to the same address, and a connection carries at most ``max_streams_per_connection`` calls).
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def connect(port: int) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=OWN_CONNECTION)


def assert_live(engine: Engine) -> None:
    """Health, a rider's Quote and an operator's FleetStatus each answer within :data:`LIVE_S`."""
    with connect(engine.port) as channel:  # a new client
        health = health_pb2.HealthCheckRequest(service="")
        assert health_pb2_grpc.HealthStub(channel).Check(health, timeout=LIVE_S).status == SERVING
        answer = rider_pb2_grpc.RiderServiceStub(channel).Quote(
            quote_request(f"live-{time.monotonic_ns()}", 10, 30), metadata=bearer("alice"), timeout=LIVE_S
        )
        assert answer.WhichOneof("result") == "offer", answer
        fleet = operator_pb2_grpc.OperatorServiceStub(channel).FleetStatus(
            operator_pb2.FleetStatusRequest(), metadata=bearer("operator"), timeout=LIVE_S
        )
        assert fleet.vehicles == 16


class IdleStreams:
    """Streams opened on ``port`` over a few connections and left idle until :meth:`close`."""

    def __init__(self, port: int, connections: int = 4) -> None:
        self.channels = [connect(port) for _ in range(connections)]
        self.release = threading.Event()
        self.calls: list[Any] = []

    def _channel(self) -> grpc.Channel:
        return self.channels[len(self.calls) % len(self.channels)]

    def _silent(self) -> Iterator[driver_pb2.LocationReport]:
        """A client stream that sends nothing until released."""
        self.release.wait()
        yield from ()

    def report_location(self, metadata: Any) -> Any:
        call = driver_pb2_grpc.DriverServiceStub(self._channel()).ReportLocation.future(
            self._silent(), metadata=metadata
        )
        self.calls.append(call)
        return call

    def watch_ride(self, ride_id: str, metadata: Any) -> Any:
        call = rider_pb2_grpc.RiderServiceStub(self._channel()).WatchRide(
            rider_pb2.WatchRideRequest(ride_id=ride_id), metadata=metadata
        )
        self.calls.append(call)
        return call

    def watch_assignments(self, metadata: Any, after: str = "") -> Any:
        call = operator_pb2_grpc.OperatorServiceStub(self._channel()).WatchAssignments(
            operator_pb2.WatchAssignmentsRequest(after_event_id=after), metadata=metadata
        )
        self.calls.append(call)
        return call

    def watch_manifest(self, vehicle_id: str, metadata: Any) -> Any:
        call = driver_pb2_grpc.DriverServiceStub(self._channel()).WatchManifest(
            driver_pb2.WatchManifestRequest(vehicle_id=vehicle_id), metadata=metadata
        )
        self.calls.append(call)
        return call

    def close(self) -> None:
        self.release.set()
        for call in self.calls:
            call.cancel()
        for channel in self.channels:
            channel.close()


@pytest.fixture
def idle(request: pytest.FixtureRequest) -> Iterator[Callable[[int], IdleStreams]]:
    opened: list[IdleStreams] = []

    def open_on(port: int) -> IdleStreams:
        streams = IdleStreams(port)
        opened.append(streams)
        return streams

    yield open_on
    for streams in opened:
        streams.close()


def _book_as(engine: Engine, who: str, request_id: str, origin: int, destination: int) -> common_pb2.Ride:
    booking = at_once(quote_request(request_id, origin, destination))
    return engine.rider.BookRide(booking, metadata=bearer(who), timeout=TIMEOUT)


# ---------------------------------------------------------------------------- point 1: streams
def test_idle_streams_without_a_token_leave_the_server_live(
    start_engine: Callable[..., Engine], tokens_file: Path, idle: Callable[[int], IdleStreams], frontends: int
) -> None:
    engine = start_engine(tokens=tokens_file, frontends=frontends)
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    _book_as(engine, "alice", "watched", 3, 20)
    streams = idle(engine.port)
    for k in range(IDLE_STREAMS):
        if k % 3 == 0:
            streams.report_location(None)
        elif k % 3 == 1:
            streams.watch_ride("watched", None)
        else:
            streams.watch_assignments([("authorization", "Bearer not-a-token")])
    time.sleep(0.5)  # the streams reach the server
    assert_live(engine)
    # each of them was refused when it started
    for call in streams.calls[1:3]:
        with pytest.raises(grpc.RpcError) as info:
            next(call)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        streams.calls[0].result(timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_idle_streams_with_tokens_up_to_the_limits_leave_the_server_live(
    start_engine: Callable[..., Engine], tokens_file: Path, idle: Callable[[int], IdleStreams], frontends: int
) -> None:
    engine = start_engine(tokens=tokens_file, frontends=frontends)
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    per_caller = PER_CALLER
    _book_as(engine, "alice", "alices", 3, 20)
    _book_as(engine, "bob", "bobs", 10, 30)
    streams = idle(engine.port)
    alices = [streams.watch_ride("alices", bearer("alice")) for _ in range(per_caller)]
    bobs = [streams.watch_ride("bobs", bearer("bob")) for _ in range(per_caller)]
    drivers = [streams.watch_manifest("veh0003", bearer("driver")) for _ in range(per_caller // 2)]
    drivers += [streams.report_location(bearer("driver")) for _ in range(per_caller - per_caller // 2)]
    while len(streams.calls) < IDLE_STREAMS:  # operators are limited in all and per address only
        if len(streams.calls) % 2:
            streams.report_location(bearer("operator"))
        else:
            streams.watch_assignments(bearer("operator"))
    time.sleep(0.5)  # the streams reach the server
    assert_live(engine)
    for call in alices + bobs + drivers[: per_caller // 2]:
        assert next(call).event_id is not None  # open: each sent its first message
    # a rider over the limit per caller
    with pytest.raises(grpc.RpcError) as info:
        next(streams.watch_ride("alices", bearer("alice")))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "max_streams_per_caller" in (info.value.details() or "")
    status = rpc_status.from_call(info.value)
    reasons = []
    for detail in status.details if status else ():
        error_info = error_details_pb2.ErrorInfo()
        if detail.Unpack(error_info):
            reasons.append(error_info.reason)
    assert reasons == ["MAX_STREAMS_PER_CALLER"]
    # and the driver over it with a ReportLocation (a stream too)
    with pytest.raises(grpc.RpcError) as info:
        streams.report_location(bearer("driver")).result(timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # a stream that ends gives its slot back
    alices[0].cancel()
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            assert next(streams.watch_ride("alices", bearer("alice"))).ride.ride_id == "alices"
            break
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
            time.sleep(0.05)
    assert_live(engine)
    assert Settings(scenario=SCENARIOS / "imod_jamsil.toml").max_streams_per_caller == PER_CALLER


def test_the_limit_per_client_address(start_engine: Callable[..., Engine], idle: Callable[[int], IdleStreams]) -> None:
    """Without tokens every caller is an operator: the limits in all and per address still hold."""
    engine = start_engine(max_streams=12, max_streams_per_peer=8)
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    engine.rider.BookRide(at_once(quote_request("r1")), timeout=TIMEOUT)
    streams = idle(engine.port)
    for _ in range(8):
        assert next(streams.watch_assignments(None, after="0-0")).ride_id == "r1"  # open: it sent history
    with pytest.raises(grpc.RpcError) as info:
        next(streams.watch_ride("r1", None))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, info.value.details()
    assert "max_streams_per_peer" in (info.value.details() or "")
    assert "127.0.0.1" in (info.value.details() or "")
    with connect(engine.port) as channel:  # a new client
        health = health_pb2.HealthCheckRequest(service="")
        assert health_pb2_grpc.HealthStub(channel).Check(health, timeout=LIVE_S).status == SERVING
        fleet = operator_pb2_grpc.OperatorServiceStub(channel).FleetStatus(
            operator_pb2.FleetStatusRequest(), timeout=LIVE_S
        )
        assert fleet.vehicles == 16


def test_stream_slots_count_per_caller_per_address_and_in_all() -> None:
    from engine.auth import OPERATOR, Principal
    from engine.errors import LimitReached
    from engine.gateway import StreamSlots, peer_address

    slots = StreamSlots(total=5, per_caller=2, per_peer=4)
    alice = Principal("rider", "alice")
    here, there = "ipv4:10.0.0.1:5000", "ipv6:[::1]:6000"
    assert (peer_address(here), peer_address(there), peer_address("unix:/tmp/s")) == (
        "ipv4:10.0.0.1",
        "ipv6:[::1]",
        "unix:/tmp/s",
    )
    first = slots.take(alice, here)
    slots.take(alice, "ipv4:10.0.0.1:5001")
    with pytest.raises(LimitReached) as info:
        slots.take(alice, there)
    assert info.value.limit == "max_streams_per_caller"
    first()
    first()  # given back once only
    assert (slots.total, slots.by_caller[("rider", "alice")]) == (1, 1)
    for _ in range(3):
        slots.take(OPERATOR, here)  # operators: not per caller
    with pytest.raises(LimitReached) as info:
        slots.take(OPERATOR, "ipv4:10.0.0.1:7000")
    assert info.value.limit == "max_streams_per_peer"
    slots.take(None, there)  # health and reflection streams count too
    with pytest.raises(LimitReached) as info:
        slots.take(None, "ipv4:10.9.9.9:1")
    assert info.value.limit == "max_streams"


# ---------------------------------------------------------------------------- point 2: message size
@pytest.mark.parametrize("scenario", sorted(p.stem for p in SCENARIOS.glob("*.toml") if not p.stem.startswith("plan_")))
def test_every_bundled_scenarios_traffic_update_fits_the_default_limit(data_dir: Path, scenario: str) -> None:
    deployment = Deployment.from_toml(SCENARIOS / f"{scenario}.toml", data_dir=data_dir)
    spec = deployment.network
    net = (
        read_manhattan(spec.path, time_unit_s=spec.time_unit_s) if spec.kind == "benchmark" else load_network(spec.path)
    )
    update = operator_pb2.UpdateTrafficRequest(
        edge_travel_time_s=np.asarray(net.travel_time_s, dtype=np.float64).tolist(), now_s=10**7
    )
    limit = Settings(scenario=SCENARIOS / f"{scenario}.toml").max_message_kb * 1024
    assert update.ByteSize() <= limit // 2, f"{scenario}: {update.ByteSize()} bytes against a limit of {limit}"


def test_a_message_over_the_limit_is_refused_and_the_simulator_says_how_to_raise_it(
    start_engine: Callable[..., Engine],
) -> None:
    engine = start_engine(max_message_kb=4)  # imod_jamsil's 941 edges take 7.4 KiB
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    times = np.asarray(engine.core.network.travel_time_s, dtype=np.float64)
    update = operator_pb2.UpdateTrafficRequest(edge_travel_time_s=times.tolist(), now_s=T0)
    with pytest.raises(grpc.RpcError) as info:
        engine.operator.UpdateTraffic(update, timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    remote = RemoteBackend(f"127.0.0.1:{engine.port}")
    try:
        with pytest.raises(EngineMismatch, match=r"--max-message-kb 8 or more"):
            remote.traffic(SimpleNamespace(network=engine.core.network), T0)  # type: ignore[arg-type]
    finally:
        remote.close()
    assert engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT).vehicles == 16


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


#: Bodies of the unauthenticated calls: 20 MB (40 times the default limit) and 256 KiB (under it).
BIG, SMALL = 20 * 1024 * 1024, 256 * 1024
#: How much a front end may grow while 24 + 24 unauthenticated calls, all at once, send it 486 MB.
#: gRPC holds a stream's data up to its HTTP/2 flow-control window before a handler refuses it:
#: 64 KiB per stream with the server's windows kept at their initial size (engine.server's
#: ``server_options``), so 1.5 MB for 24 streams; the rest is the allocator's noise. Measured: no
#: growth at all (with growing windows, 21-138 MB; the threaded server read all 24 bodies, 20 MB
#: each, at once).
RSS_BOUND_MB = 16


def test_unauthenticated_bodies_are_not_read(start_engine: Callable[..., Engine], tokens_file: Path) -> None:
    engine = start_engine(tokens=tokens_file, frontends=1)
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    assert engine.frontends is not None
    (pid,) = engine.frontends.pids
    quote = engine.channel.unary_unary("/mobility.v1.RiderService/Quote")  # bytes as they are
    ok = quote_request("warm", 3, 20)
    engine.rider.Quote(ok, metadata=bearer("alice"), timeout=TIMEOUT)  # every path of a valid call taken once
    before = _rss_mb(pid)
    peak = [before]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.005):
            peak.append(_rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    codes: list[grpc.StatusCode] = []

    def send(body: bytes) -> None:
        try:
            quote(body, timeout=TIMEOUT)
        except grpc.RpcError as exc:
            codes.append(exc.code())

    try:
        for size in (BIG, SMALL):
            body = quote_request("x" * size).SerializeToString()
            threads = [threading.Thread(target=send, args=(body,)) for _ in range(24)]  # 24 at once
            for t in threads:
                t.start()
            for t in threads:
                t.join(TIMEOUT)
    finally:
        sampling.set()
        sampler.join()
    assert len(codes) == 48, "a call was answered"
    assert set(codes) <= {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED}, set(codes)
    assert grpc.StatusCode.UNAUTHENTICATED in codes
    assert max(peak) - before <= RSS_BOUND_MB, f"the front end grew from {before:.0f} to {max(peak):.0f} MB"
    assert engine.rider.Quote(ok, metadata=bearer("alice"), timeout=TIMEOUT).WhichOneof("result") == "offer"


# ---------------------------------------------------------------------------- point 6
GARBAGE = b"\xff\xff\xff\xff\xff"


def _records(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= level]


def test_undecodable_bytes_are_invalid_argument_with_one_log_line(
    start_engine: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(DecodeError):
        rider_pb2.QuoteRequest.FromString(GARBAGE)
    engine = start_engine()
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    calls = {
        "Quote": engine.channel.unary_unary("/mobility.v1.RiderService/Quote"),
        "WatchAssignments": engine.channel.unary_stream("/mobility.v1.OperatorService/WatchAssignments"),
        "ReportLocation": engine.channel.stream_unary("/mobility.v1.DriverService/ReportLocation"),
    }
    for name, call in calls.items():
        caplog.clear()
        with caplog.at_level(logging.INFO):
            with pytest.raises(grpc.RpcError) as info:
                if name == "WatchAssignments":
                    next(call(GARBAGE, timeout=TIMEOUT))
                elif name == "ReportLocation":
                    call(iter([GARBAGE]), timeout=TIMEOUT)
                else:
                    call(GARBAGE, timeout=TIMEOUT)
            time.sleep(0.2)  # anything the server would log after answering
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, info.value.details())
        logged = _records(caplog)
        assert len(logged) == 1, (name, [r.getMessage() for r in logged])
        assert "undecodable" in logged[0].getMessage() and logged[0].exc_info is None
    assert engine.rider.Quote(quote_request("after"), timeout=TIMEOUT).WhichOneof("result") == "offer"


def test_a_client_cancelling_report_location_logs_nothing(
    start_engine: Callable[..., Engine], caplog: pytest.LogCaptureFixture
) -> None:
    """Three drivers' apps each send a position, then cancel their stream (three, because the
    threaded server it replaced missed a cancellation now and then, and logged the rest)."""
    engine = start_engine()
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)

    def stop_of(vehicle_id: str) -> int:
        listed = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=TIMEOUT).vehicles
        return next(v.stop for v in listed if v.vehicle_id == vehicle_id)

    calls = []
    release = threading.Event()
    with caplog.at_level(logging.INFO):
        for vehicle_id in ("veh0001", "veh0002", "veh0004"):
            there = 5 if stop_of(vehicle_id) != 5 else 6

            def reports(vehicle_id: str = vehicle_id, there: int = there) -> Iterator[driver_pb2.LocationReport]:
                yield driver_pb2.LocationReport(vehicle_id=vehicle_id, stop=there, time_s=T0)
                release.wait()

            call = engine.driver.ReportLocation.future(reports(), timeout=TIMEOUT)
            deadline = time.monotonic() + TIMEOUT
            while stop_of(vehicle_id) != there:  # the server took the report and waits for the next
                assert time.monotonic() < deadline, "the report never arrived"
                time.sleep(0.02)
            call.cancel()
            calls.append(call)
        release.set()
        deadline = time.monotonic() + 3.0  # what the server would log about them (it took 0.05 s before)
        while time.monotonic() < deadline and not _records(caplog):
            time.sleep(0.05)
    assert all(call.cancelled() for call in calls)
    assert _records(caplog) == [], [r.getMessage() for r in _records(caplog)]
    assert all(r.exc_info is None for r in caplog.records)


LONG_ID = "r" * 10_000


def _id_calls(engine: Engine, bad: str) -> dict[str, tuple[str, Callable[[], Any]]]:
    """Calls naming the id ``bad`` in each id field: name -> (field the error names, call)."""
    e = engine
    return {
        "Quote.request_id": ("request_id", lambda: e.rider.Quote(quote_request(bad), timeout=TIMEOUT)),
        "BookRide.request.request_id": (
            "request.request_id",
            lambda: e.rider.BookRide(at_once(quote_request(bad)), timeout=TIMEOUT),
        ),
        "BookRide.offer_id": (
            "offer_id",
            lambda: e.rider.BookRide(rider_pb2.BookRideRequest(offer_id=bad), timeout=TIMEOUT),
        ),
        "GetRide.ride_id": ("ride_id", lambda: e.rider.GetRide(rider_pb2.GetRideRequest(ride_id=bad), timeout=TIMEOUT)),
        "CancelRide.ride_id": (
            "ride_id",
            lambda: e.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id=bad), timeout=TIMEOUT),
        ),
        "WatchRide.ride_id": (
            "ride_id",
            lambda: next(e.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id=bad), timeout=TIMEOUT)),
        ),
        "GetManifest.vehicle_id": (
            "vehicle_id",
            lambda: e.driver.GetManifest(driver_pb2.GetManifestRequest(vehicle_id=bad), timeout=TIMEOUT),
        ),
        "StartShift.vehicle_id": (
            "vehicle_id",
            lambda: e.driver.StartShift(driver_pb2.ShiftRequest(vehicle_id=bad), timeout=TIMEOUT),
        ),
        "ReportStopEvent.ride_id": (
            "ride_id",
            lambda: e.driver.ReportStopEvent(
                driver_pb2.StopEvent(vehicle_id="veh0001", kind=driver_pb2.STOP_EVENT_KIND_BOARDED, ride_id=bad),
                timeout=TIMEOUT,
            ),
        ),
        "ReportLocation.vehicle_id": (
            "vehicle_id",
            lambda: e.driver.ReportLocation(iter([driver_pb2.LocationReport(vehicle_id=bad)]), timeout=TIMEOUT),
        ),
    }


@pytest.mark.parametrize("bad", [LONG_ID, "r 1", "ré", "r\n1", "a/b/c", "x" * 65], ids=repr)
def test_ids_are_checked_and_never_echoed_whole(start_engine: Callable[..., Engine], bad: str) -> None:
    engine = start_engine()
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    for name, (field, call) in _id_calls(engine, bad).items():
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, info.value.code(), info.value.details())
        details = info.value.details() or ""
        assert len(details) < 400, (name, len(details))
        if len(bad) > 64:
            assert bad[:100] not in details, name
        status = rpc_status.from_call(info.value)
        assert status is not None
        violations = error_details_pb2.BadRequest()
        assert any(d.Unpack(violations) for d in status.details), name
        assert [v.field for v in violations.field_violations] == [field], name


def test_bearer_is_matched_in_any_case(start_engine: Callable[..., Engine], tokens_file: Path) -> None:
    engine = start_engine(tokens=tokens_file)
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        metadata = [("authorization", f"{scheme} {_token('alice')}")]
        answer = engine.rider.Quote(quote_request(f"case-{scheme}"), metadata=metadata, timeout=TIMEOUT)
        assert answer.WhichOneof("result") == "offer"
    with pytest.raises(grpc.RpcError) as info:
        engine.rider.Quote(quote_request("basic"), metadata=[("authorization", f"Basic {_token('alice')}")])
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_ride_ids_are_scoped_per_rider(start_engine: Callable[..., Engine], tokens_file: Path) -> None:
    engine = start_engine(tokens=tokens_file)
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    alice, bob, operator = bearer("alice"), bearer("bob"), bearer("operator")
    # bob learns nothing of alice's ids: her ride is as unknown to him as an id nobody used
    offer = engine.rider.Quote(quote_request("r1", 3, 20), metadata=alice, timeout=TIMEOUT).offer
    assert offer.request_id == "r1"
    booking = rider_pb2.BookRideRequest(offer_id=offer.offer_id, now_s=T0)
    ride = engine.rider.BookRide(booking, metadata=alice, timeout=TIMEOUT)
    assert ride.ride_id == "r1"
    codes = []
    for ride_id in ("r1", "never-used"):
        with pytest.raises(grpc.RpcError) as info:
            engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id=ride_id), metadata=bob, timeout=TIMEOUT)
        codes.append((info.value.code(), (info.value.details() or "").replace(ride_id, "<id>")))
    assert codes[0] == codes[1] and codes[0][0] == grpc.StatusCode.NOT_FOUND
    # nor can he take her id: his "r1" is a ride of his own
    bobs = engine.rider.BookRide(at_once(quote_request("r1", 10, 30)), metadata=bob, timeout=TIMEOUT)
    assert bobs.ride_id == "r1" and bobs.offer_id != ride.offer_id
    assert engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id="r1"), metadata=alice, timeout=TIMEOUT) == ride
    # alice sees her own id in every answer, stream and error
    stream = engine.rider.WatchRide(rider_pb2.WatchRideRequest(ride_id="r1"), metadata=alice, timeout=TIMEOUT)
    try:
        assert next(stream).ride.ride_id == "r1"
    finally:
        stream.cancel()
    with pytest.raises(grpc.RpcError) as info:
        engine.rider.BookRide(at_once(quote_request("r1", 12, 25)), metadata=alice, timeout=TIMEOUT)
    assert "alice/" not in (info.value.details() or ""), info.value.details()
    cancel = rider_pb2.CancelRideRequest(ride_id="r1", now_s=T0)
    cancelled = engine.rider.CancelRide(cancel, metadata=alice, timeout=TIMEOUT)
    assert (cancelled.ride_id, cancelled.status) == ("r1", common_pb2.RIDE_STATUS_CANCELLED)
    # operators see (and name) the scoped ids
    assert set(engine.core.store.load().rides) == {"alice/r1", "bob/r1"}
    request = rider_pb2.GetRideRequest(ride_id="bob/r1")
    assert engine.rider.GetRide(request, metadata=operator, timeout=TIMEOUT).status == common_pb2.RIDE_STATUS_ASSIGNED
    watch = engine.operator.WatchAssignments(
        operator_pb2.WatchAssignmentsRequest(after_event_id="0-0"), metadata=operator, timeout=TIMEOUT
    )
    try:
        seen = {next(watch).ride_id for _ in range(4)}
    finally:
        watch.cancel()
    assert {"alice/r1", "bob/r1"} <= seen


OFFER_ID = re.compile(r"offer-(\d+)-([0-9a-f]{16})")


def test_offer_ids_cannot_be_guessed(start_engine: Callable[..., Engine]) -> None:
    engine = start_engine()
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    offers = [engine.rider.Quote(quote_request(f"q{k}", 3 + k, 20), timeout=TIMEOUT).offer for k in range(3)]
    parts = [OFFER_ID.fullmatch(o.offer_id) for o in offers]
    assert all(parts), [o.offer_id for o in offers]
    numbers = [int(p[1]) for p in parts if p]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert len({p[2] for p in parts if p}) == 3
    for number in (numbers[-1], numbers[-1] + 1):
        guess = rider_pb2.BookRideRequest(offer_id=f"offer-{number}", now_s=T0)
        with pytest.raises(grpc.RpcError) as info:
            engine.rider.BookRide(guess, timeout=TIMEOUT)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, info.value.details()
    assert engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT).rides_assigned == 0


def _nice_values(pid: int) -> list[int]:
    """The nice value of each thread of process ``pid`` (from /proc)."""
    values = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        values.append(int(fields[16]))  # the 19th field of stat: nice
    return values


def test_a_front_ends_threads_on_the_writers_path_take_its_priority(start_engine: Callable[..., Engine]) -> None:
    """Its event loop carries all of a front end's gRPC work: at the default priority it waited for a
    core behind every client thread (a lower priority, +3, is always permitted: the test uses it)."""
    engine = start_engine(frontends=1, writer_nice=3)
    engine.advance(T0)  # the operator sets the external clock (riders do not move it)
    assert engine.frontends is not None
    (pid,) = engine.frontends.pids
    values = _nice_values(pid)
    assert values.count(3) == 3, values  # the event loop, grpc.aio's poller, the engine's answers
    assert engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT).vehicles == 16


def test_a_subscription_is_woken_once_per_delivery_that_fed_it() -> None:
    """How a stream on the event loop learns of events delivered by another thread: one wake-up
    per delivery (one ``call_soon_threadsafe``), however many events it brought."""
    from engine.streams import Streams

    streams = Streams()
    woken: list[str] = []
    a, _ = streams.subscribe("ride:r1", lambda: woken.append("a"))
    b, _ = streams.subscribe("assignments", lambda: woken.append("b"))
    streams.deliver([("ride:r1", "1-0", {}), ("ride:r1", "1-1", {}), ("assignments", "1-2", {})])
    assert sorted(woken) == ["a", "b"] and (a.items.qsize(), b.items.qsize()) == (2, 1)
    streams.deliver([("assignments", "2-0", {})])
    assert sorted(woken) == ["a", "b", "b"]
    streams.end_all()
    assert sorted(woken) == ["a", "a", "b", "b", "b"]


@pytest.mark.parametrize("frontends", [0, 1], ids=["in-process", "front end"])
def test_a_connection_serves_any_number_of_failed_calls(start_engine: Callable[..., Engine], frontends: int) -> None:
    """A failed call is freed when it ends: 300 NOT_FOUNDs on one connection, then a call that
    works. (A failed call kept alive by a reference cycle until the collector's next full pass
    holds an HTTP/2 stream of its connection; after ``max_streams_per_connection`` of them, 100,
    the connection refused every call with RST_STREAM, which the client reads as UNAVAILABLE.)"""
    engine = start_engine(frontends=frontends)
    engine.advance(T0)
    for k in range(300):
        with pytest.raises(grpc.RpcError) as info:
            engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id=f"nobody-{k}"), timeout=TIMEOUT)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND, (k, info.value.details())
    answer = engine.rider.Quote(quote_request("after-the-errors"), timeout=TIMEOUT)
    assert answer.WhichOneof("result") == "offer"
