"""Front ends in processes of their own (``engine.frontend``): errors, shared port, replacement.

The server, bad-input and restart suites already run against one front end; these tests cover
what only front ends have: errors rebuilt in another process, two front ends on one port with a
stream in one and bookings through both, and a front end killed and replaced while the engine
goes on.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.errors import InvalidInput, PermissionDenied, Rejected, Unauthenticated, status_of
from engine.frontend import pack_error, unpack_error
from engine.store import StoreUnavailable
from matching.errors import ConflictError, InvalidValueError, NotFoundError
from proto.mobility.v1 import common_pb2, operator_pb2, operator_pb2_grpc, rider_pb2_grpc
from routing.errors import InvalidArgumentError
from tests.engine.conftest import Engine
from tests.engine.test_server import T0, TIMEOUT, at_once, quote_request


@pytest.mark.parametrize(
    "error",
    [
        InvalidInput("request.passengers", "got 0 (allowed: 1 .. 16)"),
        Rejected("no_vehicle", "no van reaches stop 3 in time"),
        NotFoundError("ride", "r-404"),
        ConflictError("ride r-1 is completed"),
        InvalidValueError("origin_lat", "got 91.0", "-90 .. 90"),
        InvalidArgumentError("travel_time_s", "got nan"),
        PermissionDenied("ride r-1 belongs to another rider"),
        Unauthenticated("unknown token"),
        StoreUnavailable("connection refused"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_cross_to_a_front_end_with_their_class_message_and_fields(error: Exception) -> None:
    again = unpack_error(pickle.loads(pickle.dumps(pack_error(error))))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert vars(again) == vars(error)
    before, after = status_of(error), status_of(again)
    assert (after.code, after.details, after.trailing_metadata) == (
        before.code,
        before.details,
        before.trailing_metadata,
    )


def test_an_error_that_cannot_cross_becomes_a_runtime_error_naming_it() -> None:
    error = ValueError("bad")
    error.callback = lambda: None  # type: ignore[attr-defined]  # functions defined here do not pickle
    again = unpack_error(pickle.loads(pickle.dumps(pack_error(error))))
    assert type(again) is RuntimeError
    assert str(again) == "ValueError: bad"


def _book(channel: grpc.Channel, rid: str, origin: int, destination: int) -> common_pb2.Ride:
    booking = at_once(quote_request(rid, origin, destination, T0), key=f"key-{rid}")
    return rider_pb2_grpc.RiderServiceStub(channel).BookRide(booking, timeout=TIMEOUT)


def test_two_front_ends_share_the_port_and_every_stream_sees_every_booking(
    start_engine: Callable[..., Engine],
) -> None:
    engine = start_engine(frontends=2)
    assert engine.frontends is not None and len(engine.frontends.pids) == 2
    seen: list[str] = []
    watchers = [grpc.insecure_channel(f"127.0.0.1:{engine.port}") for _ in range(4)]
    streams = [
        operator_pb2_grpc.OperatorServiceStub(ch).WatchAssignments(operator_pb2.WatchAssignmentsRequest())
        for ch in watchers
    ]
    lock = threading.Lock()

    def follow(stream: Any) -> None:
        try:
            for event in stream:
                with lock:
                    if event.kind == operator_pb2.ASSIGNMENT_KIND_BOOKING:
                        seen.append(event.ride_id)
        except grpc.RpcError:
            pass  # cancelled at the end

    threads = [threading.Thread(target=follow, args=(s,), daemon=True) for s in streams]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the streams are open (WatchAssignments sends nothing before the first event)
    trips = [(3, 20), (10, 30), (12, 25), (4, 22), (5, 18), (7, 28)]
    booked = []
    for k, (o, d) in enumerate(trips):
        with grpc.insecure_channel(f"127.0.0.1:{engine.port}") as channel:  # a new connection each time
            booked.append(_book(channel, f"r-{k}", o, d).ride_id)
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with lock:
            if len(seen) == len(streams) * len(booked):
                break
        time.sleep(0.05)
    for s in streams:
        s.cancel()
    for ch in watchers:
        ch.close()
    with lock:
        assert sorted(seen) == sorted(booked * len(streams)), "a stream missed a booking or saw one twice"
    assert {r["ride_id"] for r in engine.core.store.load().rides.values()} == set(booked)


def test_a_front_end_that_dies_is_replaced_and_nothing_is_lost(start_engine: Callable[..., Engine]) -> None:
    engine = start_engine(frontends=1)
    assert engine.frontends is not None
    (victim,) = engine.frontends.pids
    first = _book(engine.channel, "before", 3, 20)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = engine.frontends.pids
        if pids and victim not in pids:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the killed front end was not replaced within 60 s")
    with grpc.insecure_channel(f"127.0.0.1:{engine.port}") as channel:
        health = health_pb2.HealthCheckRequest(service="")
        stub = health_pb2_grpc.HealthStub(channel)
        while True:  # as a client would: UNAVAILABLE while the new front end comes up is retried
            try:
                if stub.Check(health, timeout=TIMEOUT).status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
            assert time.monotonic() < deadline, "the new front end never said SERVING"
            time.sleep(0.05)
        # the same idempotency key gives the ride booked before the front end died
        assert _book(channel, "before", 3, 20) == first
        second = _book(channel, "after", 10, 30)
    assert second.status == common_pb2.RIDE_STATUS_ASSIGNED
    assert set(engine.core.store.load().rides) == {"before", "after"}


def test_streams_fan_out_per_topic_and_forget_a_topic_with_no_subscriber() -> None:
    from engine.streams import Streams

    streams = Streams()
    a, first_a = streams.subscribe("ride:r1")
    b, first_b = streams.subscribe("ride:r1")
    c, _ = streams.subscribe("assignments")
    assert (first_a, first_b) == (True, False)  # a front end sends "sub" for the first only
    fed: dict[int, Any] = {}
    streams.deliver([("ride:r1", "1-0", {"k": 1}), ("assignments", "1-1", {"k": 2})], fed)
    assert a.items.get_nowait() == b.items.get_nowait() == ("1-0", {"k": 1})
    assert c.items.get_nowait() == ("1-1", {"k": 2})
    assert set(fed) == {id(a), id(b), id(c)}
    assert streams.unsubscribe(a) is False and streams.unsubscribe(a) is False  # b still follows r1
    assert streams.unsubscribe(b) is True  # the last: the topic is forgotten ("unsub")
    assert "ride:r1" not in streams.topics()
    streams.end_all(RuntimeError("gone"))
    assert c.items.get_nowait() is None and isinstance(c.error, RuntimeError)


def test_the_writer_thread_takes_its_priority_or_says_it_cannot(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from engine import writer as writer_module

    seen: list[tuple[int, int]] = []
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    wanted = min(19, mine + 3)  # lowering one's own priority is always permitted

    def in_thread() -> None:
        applied = writer_module.set_thread_nice(wanted)
        seen.append((applied, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert seen == [(wanted, wanted)]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine, "only that thread changed"

    def refuse(*_: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(writer_module.os, "setpriority", refuse)
    with caplog.at_level("WARNING"):
        assert writer_module.set_thread_nice(-10) == 0
    assert "keeps the default priority" in caplog.text


def test_a_stream_far_behind_in_a_front_end_slows_the_writer_until_it_catches_up() -> None:
    """Backpressure across processes: a front end's stream :data:`LAG_EVENTS` behind makes the
    writer wait after each group (up to MAX_STREAM_WAIT_S); once read, or closed, it no longer does.
    (The front end's half, RemoteCore, runs in this process over the real socket.)"""
    from engine.core import EngineCore
    from engine.frontend import LAG_EVENTS, CoreHost, RemoteCore
    from engine.store import open_store
    from engine.streams import STUCK_BACKLOG
    from engine.writer import MAX_STREAM_WAIT_S
    from matching import Request
    from matching.deployment import Deployment
    from mobility import REPO_ROOT, default_data_dir

    jamsil = Deployment.from_toml(REPO_ROOT / "scenarios" / "imod_jamsil.toml", data_dir=default_data_dir())
    core = EngineCore(jamsil, open_store("memory"), clock="external", seed=1)
    core.start()
    host = CoreHost(core)
    remote = RemoteCore(host.address, host.authkey)
    try:
        assert remote.ready.wait(TIMEOUT)
        n = 0

        def quote() -> None:  # one "offer" (or "rejection") event on the assignments topic
            nonlocal n
            n += 1
            o, d = (3 + n % 20, 25 - n % 20)
            request = Request(id=f"q{n}", requested_time_s=T0, submitted_time_s=T0, origin_stop=o,
                              destination_stop=d if d != o else o + 1)  # fmt: skip
            remote.command("quote", request, T0).result(TIMEOUT)

        def wait_for(condition: Callable[[], bool]) -> bool:
            deadline = time.monotonic() + TIMEOUT
            while not condition():
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.01)
            return True

        unread = remote.subscribe("assignments")  # a stream whose reader is slow: nothing is taken out
        for _ in range(LAG_EVENTS - 10):
            quote()
        assert not host.lagging(), "reported behind before LAG_EVENTS"
        while unread.items.qsize() < LAG_EVENTS:
            quote()
        assert wait_for(host.lagging), "the engine never heard that the stream is behind"
        t0 = time.monotonic()
        for _ in range(4):
            quote()
        assert time.monotonic() - t0 >= 3 * MAX_STREAM_WAIT_S * 0.9, "the writer did not wait for the stream"
        while unread.items.qsize():  # the reader catches up
            unread.items.get_nowait()
        assert wait_for(lambda: not host.lagging()), "the stream caught up, the engine was not told"
        remote.unsubscribe(unread)

        # a stream that closes while behind no longer holds the writer
        gone = remote.subscribe("assignments")
        while gone.items.qsize() < LAG_EVENTS:
            quote()
        assert wait_for(host.lagging)
        remote.unsubscribe(gone)
        assert wait_for(lambda: not host.lagging()), "a closed stream kept the writer waiting"

        # nor does a stream so far behind that its reader must have stopped reading
        stuck = remote.subscribe("assignments")
        for _ in range(STUCK_BACKLOG + 1):
            stuck.items.put_nowait(("0-0", {}))
        quote()
        quote()
        time.sleep(0.2)  # the engine would have heard by now
        assert not host.lagging(), "a stuck stream slowed the writer"
        remote.unsubscribe(stuck)
    finally:
        host.close()
        core.stop()


def test_a_host_that_closes_tells_its_front_ends_and_its_threads_end_cleanly() -> None:
    """Closing the engine's end (the engine stops) ends each front end's connection at once: the
    front end hears it (and would exit), and the host's threads stop without an error (one of
    them closing the connection while the other was inside a call on it lost the wake-up)."""
    from engine.core import EngineCore
    from engine.frontend import CoreHost, RemoteCore
    from engine.store import open_store
    from matching.deployment import Deployment
    from mobility import REPO_ROOT, default_data_dir

    jamsil = Deployment.from_toml(REPO_ROOT / "scenarios" / "imod_jamsil.toml", data_dir=default_data_dir())
    core = EngineCore(jamsil, open_store("memory"), clock="external", seed=1)
    core.start()
    host = CoreHost(core)
    remote = RemoteCore(host.address, host.authkey)
    try:
        assert remote.ready.wait(TIMEOUT)
        before = {t for t in threading.enumerate() if t.name.startswith("frontend-")}
        assert {t.name for t in before} >= {"frontend-send", "frontend-receive"}
        host.close()
        assert remote.lost.wait(5), "the front end did not hear that the engine closed"
        for t in before:
            if t.name != "frontend-accept":
                t.join(5)
                assert not t.is_alive(), f"{t.name} did not end"
    finally:
        host.close()
        core.stop()
