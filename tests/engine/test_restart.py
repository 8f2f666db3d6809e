"""The live engine survives a crash: ``mobility serve`` killed with SIGKILL carries on from Redis.

The restart test runs the real command line as a subprocess (``mobility serve --scenario
imod_jamsil --store redis://... --clock external``) against the session's ``redis-server`` (AOF,
fsync on every write; see ``conftest.py``), drives it over gRPC, kills it hard — no shutdown, no
flushing, the operator's stream still open — and starts it again on a new port with the same
store. What was acknowledged before the kill must be there afterwards, exactly, and the stream
must resume where it broke off. The subprocesses are always killed in the fixture's teardown,
whatever happens; a failure shows the last lines of the engine's stderr.

After it: regression tests for the bugs it found (among them a silent van flooding `late` events), run
in-process (a second EngineCore over the same store rebuilds its state as a restart does).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.core import EngineCore
from engine.store import MemoryStore, StateStore
from matching import Offer, Request
from matching.deployment import Deployment
from matching.errors import ConflictError, NotFoundError
from mobility import REPO_ROOT, default_data_dir
from proto.mobility.v1 import (
    common_pb2,
    driver_pb2,
    driver_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    rider_pb2,
    rider_pb2_grpc,
)

if TYPE_CHECKING:
    from tests.engine.conftest import RedisServer

#: How long a starting engine may take until health says SERVING (a cold Numba cache compiles first).
START_TIMEOUT_S = 180.0
#: Deadline of every unary call.
RPC_TIMEOUT_S = 20.0
#: How long to wait for events to arrive on a stream.
STREAM_TIMEOUT_S = 20.0
#: Key of the assignment stream in Redis (the engine's default prefix).
ASSIGNMENTS_KEY = "mobility:events:assignments"

ACTIVE = (common_pb2.RIDE_STATUS_ASSIGNED, common_pb2.RIDE_STATUS_ON_BOARD)


# ---------------------------------------------------------------------------- the engine process
def _lingers(pid: int, timeout_s: float) -> bool:
    """True if process ``pid`` still runs (and is not a zombie) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True


class EngineProcess:
    """One ``mobility serve`` subprocess with its stubs; stdout and stderr go to files in ``workdir``."""

    def __init__(self, workdir: Path, store_url: str, name: str, frontends: int = 0) -> None:
        self.workdir = workdir
        self.frontends = frontends
        self.store_url = store_url
        self.name = name
        self.port_file = workdir / f"{name}.port"
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.channel: grpc.Channel | None = None
        self.orphans: list[int] = []  # child processes still running 10 s after the engine was killed

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the engine; return once health checking says SERVING (or fail with its stderr)."""
        self.port_file.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "mobility.cli", "serve",
            "--scenario", "imod_jamsil",
            "--store", self.store_url,
            "--clock", "external",
            "--port", "0",
            "--port-file", str(self.port_file),
            "--reoptimise-every", "0",
            "--seed", "1",
            "--frontends", str(self.frontends),
        ]  # fmt: skip
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=REPO_ROOT, env=env
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._port_known():
            if self.process.poll() is not None:
                pytest.fail(f"{self.name}: the engine exited with code {self.process.returncode} while starting\n"
                            f"{self.stderr_tail()}", pytrace=False)  # fmt: skip
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"{self.name}: no port file within {START_TIMEOUT_S:.0f} s\n{self.stderr_tail()}")
            time.sleep(0.05)
        self.channel = grpc.insecure_channel(self.target)
        health = health_pb2_grpc.HealthStub(self.channel)
        while True:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2.0).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                pytest.fail(f"{self.name}: health never said SERVING\n{self.stderr_tail()}", pytrace=False)
            time.sleep(0.05)

    def _port_known(self) -> bool:
        try:
            text = self.port_file.read_text().strip()
        except OSError:
            return False
        if not text.isdigit():  # written but not yet complete
            return False
        self.port = int(text)
        return True

    def children(self) -> list[int]:
        """The engine's live child processes (its front ends, among others)."""
        if self.process is None:
            return []
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                found += [int(pid) for pid in (task / "children").read_text().split()]
        return found

    def kill(self) -> None:
        """SIGKILL, as a crash: no handler runs, nothing is flushed; wait until the process is gone
        (and its front ends, which end by themselves when they lose the engine; killed if they do not)."""
        if self.process is not None and self.process.poll() is None:
            children = self.children()
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.orphans = [pid for pid in children if _lingers(pid, 10.0)]
            for pid in self.orphans:
                os.kill(pid, signal.SIGKILL)
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def stderr_tail(self, lines: int = 40) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            text = ""
        tail = "\n".join(text.splitlines()[-lines:]) or "(empty)"
        return f"--- stderr of {self.name} (last {lines} lines) ---\n{tail}"

    # stubs ------------------------------------------------------------------
    @property
    def rider(self) -> rider_pb2_grpc.RiderServiceStub:
        assert self.channel is not None, f"{self.name} is not running"
        return rider_pb2_grpc.RiderServiceStub(self.channel)

    @property
    def driver(self) -> driver_pb2_grpc.DriverServiceStub:
        assert self.channel is not None, f"{self.name} is not running"
        return driver_pb2_grpc.DriverServiceStub(self.channel)

    @property
    def operator(self) -> operator_pb2_grpc.OperatorServiceStub:
        assert self.channel is not None, f"{self.name} is not running"
        return operator_pb2_grpc.OperatorServiceStub(self.channel)

    def call(self, method: Callable[..., Any], request: Any) -> Any:
        """A unary call; an error names the call and shows the engine's stderr."""
        try:
            return method(request, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as exc:
            raise AssertionError(
                f"{self.name}: {type(request).__name__} failed: {exc.code()} {exc.details()}\n{self.stderr_tail()}"
            ) from exc


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, running and empty (the engine uses its default key prefix)."""
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as client:
        client.flushdb()
    return redis_server.url


@pytest.fixture(params=[0, 1], ids=["in-process", "front end"])
def engines(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[str, str], EngineProcess]]:
    """``start(name, store_url)``: a started engine (gRPC in its process, then in a front-end process
    of its own: ``--frontends 1``); every one is killed at teardown, whatever happened."""
    started: list[EngineProcess] = []

    def start(name: str, store_url: str) -> EngineProcess:
        engine = EngineProcess(tmp_path, store_url, name, frontends=request.param)
        started.append(engine)
        engine.start()
        return engine

    try:
        yield start
    finally:
        for engine in started:
            engine.kill()


# ---------------------------------------------------------------------------- the operator's stream
@dataclass
class AssignmentWatch:
    """WatchAssignments in a thread, recording every event as (event_id, kind, ride, vehicle, time, detail)."""

    target: str
    after_event_id: str
    events: list[tuple[str, int, str, str, int, str]] = field(default_factory=list)
    error: grpc.RpcError | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)
        self.channel = grpc.insecure_channel(self.target)
        stub = operator_pb2_grpc.OperatorServiceStub(self.channel)
        self.call = stub.WatchAssignments(operator_pb2.WatchAssignmentsRequest(after_event_id=self.after_event_id))
        self.thread = threading.Thread(target=self._run, name=f"watch-{self.target}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for ev in self.call:
                with self.changed:
                    self.events.append((ev.event_id, ev.kind, ev.ride_id, ev.vehicle_id, ev.time_s, ev.detail))
                    self.changed.notify_all()
        except grpc.RpcError as exc:
            with self.changed:
                self.error = exc
                self.changed.notify_all()

    def snapshot(self) -> list[tuple[str, int, str, str, int, str]]:
        with self.lock:
            return list(self.events)

    def wait_for(self, what: str, predicate: Callable[[list[tuple[str, int, str, str, int, str]]], bool]) -> None:
        """Wait until ``predicate(events)`` holds; fail naming ``what`` otherwise."""
        deadline = time.monotonic() + STREAM_TIMEOUT_S
        with self.changed:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0 or (self.error is not None and self.error.code() != grpc.StatusCode.CANCELLED):
                    pytest.fail(
                        f"stream after {self.after_event_id!r}: {what} did not arrive within {STREAM_TIMEOUT_S:.0f} s "
                        f"({len(self.events)} events; error {self.error!r})",
                        pytrace=False,
                    )
                self.changed.wait(timeout=min(left, 0.2))

    def close(self) -> None:
        self.call.cancel()
        self.thread.join(timeout=10)
        self.channel.close()


def has_event(ride_id: str, kind: int) -> Callable[[list[tuple[str, int, str, str, int, str]]], bool]:
    return lambda events: any(e[2] == ride_id and e[1] == kind for e in events)


def has_id(event_id: str) -> Callable[[list[tuple[str, int, str, str, int, str]]], bool]:
    return lambda events: any(e[0] == event_id for e in events)


# ---------------------------------------------------------------------------- helpers
def quote_and_book(
    engine: EngineProcess, request_id: str, origin: int, destination: int, requested_s: int, now_s: int
) -> common_pb2.Ride | None:
    """Quote stop to stop and book the offer (with an idempotency key); None if the quote was rejected."""
    answer = engine.call(
        engine.rider.Quote,
        rider_pb2.QuoteRequest(
            request_id=request_id,
            origin=common_pb2.Place(stop=origin),
            destination=common_pb2.Place(stop=destination),
            requested_time_s=requested_s,
            passengers=1,
            now_s=now_s,
        ),
    )
    if answer.WhichOneof("result") != "offer":
        return None
    return engine.call(
        engine.rider.BookRide,
        rider_pb2.BookRideRequest(offer_id=answer.offer.offer_id, idempotency_key=f"key-{request_id}", now_s=now_s),
    )


def manifests(engine: EngineProcess, vehicle_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every vehicle's manifest as (ride, kind, stop, planned time, service, passengers, window start) rows."""
    out = {}
    for vid in vehicle_ids:
        m = engine.call(engine.driver.GetManifest, driver_pb2.GetManifestRequest(vehicle_id=vid))
        out[vid] = [(s.ride_id, s.kind, s.stop, s.planned_s, s.service_s, s.passengers, s.window_start_s)
                    for s in m.stops]  # fmt: skip
    return out


def rides(engine: EngineProcess, ride_ids: list[str]) -> dict[str, common_pb2.Ride]:
    return {rid: engine.call(engine.rider.GetRide, rider_pb2.GetRideRequest(ride_id=rid)) for rid in ride_ids}


def fleet_counts(engine: EngineProcess) -> dict[str, Any]:
    fs = engine.call(engine.operator.FleetStatus, operator_pb2.FleetStatusRequest())
    return {f.name: v for f, v in fs.ListFields()}


def check_each_active_ride_planned_once(
    ride_states: dict[str, common_pb2.Ride], plans: dict[str, list[tuple[Any, ...]]]
) -> None:
    """Every active ride is in exactly one manifest (its vehicle's), with the right stops; nothing else is."""
    seen: dict[str, list[tuple[str, int]]] = {}
    for vid, stops in plans.items():
        for row in stops:
            seen.setdefault(row[0], []).append((vid, row[1]))
    for rid, ride in ride_states.items():
        if ride.status == common_pb2.RIDE_STATUS_ASSIGNED:
            expected = [(ride.vehicle_id, driver_pb2.STOP_KIND_PICKUP), (ride.vehicle_id, driver_pb2.STOP_KIND_DROPOFF)]
        elif ride.status == common_pb2.RIDE_STATUS_ON_BOARD:
            expected = [(ride.vehicle_id, driver_pb2.STOP_KIND_DROPOFF)]
        else:
            expected = []
        assert sorted(seen.pop(rid, [])) == sorted(expected), f"ride {rid} ({ride.status}) planned as {seen.get(rid)}"
    assert not seen, f"manifests name rides nobody booked: {sorted(seen)}"


def stream_of(engine: EngineProcess, after: str, until_id: str) -> list[tuple[str, int, str, str, int, str]]:
    """Events of WatchAssignments after ``after``, up to and including ``until_id``."""
    watch = AssignmentWatch(engine.target, after)
    try:
        watch.wait_for(f"event {until_id}", has_id(until_id))
        events = watch.snapshot()
    finally:
        watch.close()
    return events[: [e[0] for e in events].index(until_id) + 1]


# ---------------------------------------------------------------------------- the restart test
def test_engine_killed_mid_stream_restarts_from_redis_with_nothing_lost(
    engines: Callable[[str, str], EngineProcess], redis_url: str, redis_server: RedisServer
) -> None:
    first = engines("first", redis_url)
    vehicle_ids = [
        v.vehicle_id for v in first.call(first.operator.ListVehicles, operator_pb2.ListVehiclesRequest()).vehicles
    ]
    num_stops = 35  # imod_jamsil: 300 m virtual stops on the Jamsil extract
    watch = AssignmentWatch(first.target, "0-0")
    rng = random.Random(1)

    # Bookings at increasing times from 07:00, a minute apart, for now or a quarter of an hour ahead.
    booked: dict[str, common_pb2.Ride] = {}
    now = 7 * 3600
    for i in range(40):
        if len(booked) == 22:
            break
        now += 60
        o, d = rng.sample(range(num_stops), 2)
        ride = quote_and_book(first, f"r{i:02d}", o, d, now + rng.choice((0, 300, 900)), now)
        if ride is not None:
            assert ride.status == common_pb2.RIDE_STATUS_ASSIGNED, ride
            booked[ride.ride_id] = ride
    assert len(booked) >= 20, f"only {len(booked)} of 40 quotes were offers"

    # Boardings: the first planned stop of some vehicles is a pickup; the rider boards at its planned time.
    plans = manifests(first, vehicle_ids)
    firsts = sorted(
        (stops[0][3], vid, stops[0][0])
        for vid, stops in plans.items()
        if stops and stops[0][1] == driver_pb2.STOP_KIND_PICKUP
    )
    boarded = []
    for planned_s, vid, rid in firsts[:6]:
        now = max(now, planned_s)
        first.call(first.driver.ReportStopEvent, driver_pb2.StopEvent(
            vehicle_id=vid, kind=driver_pb2.STOP_EVENT_KIND_BOARDED, ride_id=rid, time_s=planned_s))  # fmt: skip
        boarded.append(rid)
    assert len(boarded) >= 3, f"only {len(boarded)} vehicles had a pickup first: {plans}"

    # Cancellations of rides not yet started.
    waiting = [rid for rid in booked if rid not in boarded]
    cancelled = rng.sample(waiting, 4)
    for rid in cancelled:
        ride = first.call(first.rider.CancelRide, rider_pb2.CancelRideRequest(ride_id=rid, now_s=now))
        assert ride.status == common_pb2.RIDE_STATUS_CANCELLED, ride

    # A few more bookings after the boardings.
    for i in range(40, 60):
        if len(booked) == 26:
            break
        now += 30
        o, d = rng.sample(range(num_stops), 2)
        ride = quote_and_book(first, f"r{i:02d}", o, d, now + rng.choice((0, 600)), now)
        if ride is not None:
            booked[ride.ride_id] = ride

    # The state before the kill, once the stream has caught up with everything so far.
    last_booked = list(booked)[-1]
    watch.wait_for(f"the booking of {last_booked}", has_event(last_booked, operator_pb2.ASSIGNMENT_KIND_BOOKING))
    for rid in cancelled:
        watch.wait_for(f"the cancellation of {rid}", has_event(rid, operator_pb2.ASSIGNMENT_KIND_CANCELLATION))
    ride_ids = list(booked)
    before_rides = rides(first, ride_ids)
    before_plans = manifests(first, vehicle_ids)
    before_fleet = fleet_counts(first)
    before_vehicles = first.call(first.operator.ListVehicles, operator_pb2.ListVehiclesRequest()).vehicles
    for rid in boarded:
        assert before_rides[rid].status == common_pb2.RIDE_STATUS_ON_BOARD, before_rides[rid]
    check_each_active_ride_planned_once(before_rides, before_plans)

    # A booking acknowledged just before the kill: SIGKILL right after the reply, the stream still open.
    clock_s = before_fleet.get("clock_s", 0)
    for attempt in range(20):
        o, d = rng.sample(range(num_stops), 2)
        last = quote_and_book(first, f"last{attempt}", o, d, clock_s + 120, clock_s)
        if last is not None:
            break
    else:
        pytest.fail("no offer for the last booking in 20 attempts")
    front_ends = first.children()
    first.kill()
    if first.frontends:
        assert front_ends, "no front-end process was running"
        assert not first.orphans, f"front ends {first.orphans} still ran 10 s after the engine was killed"
    watch.thread.join(timeout=STREAM_TIMEOUT_S)
    assert not watch.thread.is_alive(), "the stream did not end when the engine was killed"
    assert watch.error is not None and watch.error.code() == grpc.StatusCode.UNAVAILABLE, watch.error
    received = watch.snapshot()
    assert received, "the stream delivered nothing before the kill"
    with redis_server.client() as client:
        durable = client.xrevrange(ASSIGNMENTS_KEY, count=1)
    assert durable, "Redis holds no assignment events"
    last_durable_id = durable[0][0]

    # Start again on a new port with the same store.
    second = engines("second", redis_url)
    assert second.port != 0
    after_rides = rides(second, [*ride_ids, last.ride_id])
    assert after_rides[last.ride_id] == last, "the booking acknowledged just before the kill changed or was lost"
    for rid in ride_ids:
        assert after_rides[rid] == before_rides[rid], f"ride {rid} differs after the restart"
    for rid in boarded:
        assert after_rides[rid].status == common_pb2.RIDE_STATUS_ON_BOARD, f"{rid} is no longer on board"
    # A client that missed the answer retries with its idempotency key: the same ride, not a second one.
    retry = second.call(
        second.rider.BookRide,
        rider_pb2.BookRideRequest(offer_id=last.offer_id, idempotency_key=f"key-{last.ride_id}", now_s=clock_s),
    )
    assert retry == last, "retrying the last booking with its idempotency key gave another ride"

    # Manifests: as before the kill, plus the last ride on its vehicle (other stops in the same order).
    after_plans = manifests(second, vehicle_ids)
    check_each_active_ride_planned_once(after_rides, after_plans)
    for vid in vehicle_ids:
        if vid != last.vehicle_id:
            assert after_plans[vid] == before_plans[vid], f"manifest of {vid} differs after the restart"
        else:
            order = [(r[0], r[1]) for r in after_plans[vid] if r[0] != last.ride_id]
            assert order == [(r[0], r[1]) for r in before_plans[vid]], f"manifest of {vid}: other stops moved"
            assert [r[1] for r in after_plans[vid] if r[0] == last.ride_id] == [
                driver_pb2.STOP_KIND_PICKUP,
                driver_pb2.STOP_KIND_DROPOFF,
            ]
    after_vehicles = second.call(second.operator.ListVehicles, operator_pb2.ListVehiclesRequest()).vehicles
    for b, a in zip(before_vehicles, after_vehicles, strict=True):
        assert (a.vehicle_id, a.on_board) == (b.vehicle_id, b.on_board), f"riders on board of {a.vehicle_id} differ"

    # Fleet counts: those before the kill plus the last booking.
    after_fleet = fleet_counts(second)
    expected = dict(before_fleet)
    expected["rides_assigned"] = expected.get("rides_assigned", 0) + 1
    for key in ("clock_s", "vehicles", "vehicles_on_shift", "rides_assigned", "rides_on_board", "rides_completed",
                "rides_cancelled", "rides_no_show", "requests_rejected", "riders_on_board"):  # fmt: skip
        assert after_fleet.get(key, 0) == expected.get(key, 0), f"FleetStatus.{key}: {after_fleet} vs {expected}"

    # The stream resumes after the last event received: what it missed, then live events.
    # The kill may land between two events of one commit (the booking received, not yet its
    # assignment) or after the last one; either way the resumed stream starts right after it.
    missed = last_durable_id not in {e[0] for e in received}
    resumed = AssignmentWatch(second.target, received[-1][0])
    try:
        if missed:
            resumed.wait_for(f"the last durable event {last_durable_id}", has_id(last_durable_id))
        new = None
        for attempt in range(20):
            o, d = rng.sample(range(num_stops), 2)
            new = quote_and_book(second, f"new{attempt}", o, d, clock_s + 300, clock_s)
            if new is not None:
                break
        assert new is not None, "no offer for a new booking after the restart"
        assert new.status == common_pb2.RIDE_STATUS_ASSIGNED
        resumed.wait_for(f"the booking of {new.ride_id}", has_event(new.ride_id, operator_pb2.ASSIGNMENT_KIND_BOOKING))
        resumed.wait_for(
            f"the assignment of {new.ride_id}", has_event(new.ride_id, operator_pb2.ASSIGNMENT_KIND_ASSIGNMENT)
        )
        after_kill = resumed.snapshot()
    finally:
        resumed.close()
    ids = [e[0] for e in after_kill]
    history = ids.index(last_durable_id) + 1 if missed else 0
    assert all(e[2] != new.ride_id for e in after_kill[:history]), "the new ride's events came before the history"
    assert any(e[2] == new.ride_id for e in after_kill[history:]), "no live events after the history"
    for kind in (operator_pb2.ASSIGNMENT_KIND_BOOKING, operator_pb2.ASSIGNMENT_KIND_ASSIGNMENT):
        assert any(e[2] == last.ride_id and e[1] == kind for e in received + after_kill), f"{last.ride_id}: {kind}"

    # Nothing missing, nothing twice: before + after equals a full replay from the beginning.
    replay = stream_of(second, "0-0", after_kill[-1][0])
    assert [e[0] for e in received + after_kill] == [e[0] for e in replay]
    assert received + after_kill == replay
    # Resuming from further back (a client that had fallen behind) gives exactly the rest.
    k = len(received) // 2
    assert stream_of(second, received[k][0], after_kill[-1][0]) == replay[k + 1 :]
    assert fleet_counts(second).get("rides_assigned", 0) == expected["rides_assigned"] + 1


# ---------------------------------------------------------------------------- regressions
# Bugs found while writing the restart test (fixed since), each shown in-process for speed: a
# second EngineCore over the same store rebuilds its state exactly as a restarted `mobility serve`
# does (EngineCore.start -> reload). Setup problems raise pytest.fail, not AssertionError.
@pytest.fixture(scope="module")
def jamsil() -> Deployment:
    return Deployment.from_toml(REPO_ROOT / "scenarios" / "imod_jamsil.toml", data_dir=default_data_dir())


def start_core(deployment: Deployment, store: StateStore) -> EngineCore:
    core = EngineCore(deployment, store, clock="external", seed=1)
    core.start()
    return core


def restart(core: EngineCore) -> EngineCore:
    core.stop()
    return start_core(core.deployment, core.store)


def offer_for(core: EngineCore, request_id: str, origin: int, destination: int, now_s: int) -> Offer:
    answer = core.quote(
        Request(id=request_id, requested_time_s=now_s, submitted_time_s=now_s, origin_stop=origin,
                destination_stop=destination),
        now_s,
    )  # fmt: skip
    if not isinstance(answer, Offer):
        pytest.fail(f"setup: request {request_id} was rejected: {answer}")
    return answer


def test_manifest_planned_times_survive_a_restart(jamsil: Deployment) -> None:
    core = start_core(jamsil, MemoryStore())
    try:
        t = 7 * 3600
        ride = core.book(offer_for(core, "a", 3, 20, t).offer_id, "", t)
        vid = ride["vehicle_id"]
        core.stop_event(vid, "boarded", "a", 0, ride["planned_pickup_s"])
        # An hour later a quote (nothing booked): the driver never reported the drop-off, so the
        # vehicle's plan moves on to the new time.
        offer_for(core, "b", 5, 9, t + 3600)
        v = core.call(lambda d: d.vehicle_index_of(vid), mutate=False)
        before = core.call(lambda d: core.views.manifest(v), mutate=False)
        core = restart(core)
        after = core.call(lambda d: core.views.manifest(v), mutate=False)
        assert after == before, "the manifest's planned times changed across the restart"
        assert core.get_ride("a")["planned_dropoff_s"] == after["planned_s"][0], "GetRide disagrees with the manifest"
    finally:
        core.stop()


def test_an_offer_made_before_a_restart_never_books_another_request(jamsil: Deployment) -> None:
    core = start_core(jamsil, MemoryStore())
    try:
        t = 7 * 3600
        core.book(offer_for(core, "a", 3, 20, t).offer_id, "", t)
        old = offer_for(core, "b", 4, 21, t)  # made, not booked, when the engine crashes
        core = restart(core)
        new = offer_for(core, "c", 10, 11, t)
        assert new.offer_id != old.offer_id, f"offer id {old.offer_id} was issued twice"
        try:
            ride = core.book(old.offer_id, "", t)
        except (NotFoundError, ConflictError):
            return  # refusing the old offer is fine
        assert ride["ride_id"] == "b", f"booking {old.offer_id} (made to request b) booked request {ride['ride_id']}"
    finally:
        core.stop()


def test_no_spurious_ride_updates_after_a_restart(jamsil: Deployment) -> None:
    store = MemoryStore()
    core = start_core(jamsil, store)
    try:
        t = 7 * 3600
        first = core.book(offer_for(core, "a", 3, 20, t).offer_id, "", t)
        last_event = store.last_event_id("ride:a")
        core = restart(core)
        # The same trip again, at the same time: the engine shares the vehicle.
        second = core.book(offer_for(core, "b", 3, 20, t).offer_id, "", t)
        if second["vehicle_id"] != first["vehicle_id"]:
            pytest.fail(f"setup: ride b went to {second['vehicle_id']}, not to a's vehicle {first['vehicle_id']}")
        a_now = core.get_ride("a")
        events = store.read_events("ride:a", last_event)
        unchanged = (a_now["planned_pickup_s"], a_now["planned_dropoff_s"]) == (
            first["planned_pickup_s"],
            first["planned_dropoff_s"],
        )
        if unchanged:
            assert events == [], f"ride a did not change, yet got {[p['kind'] for _, p in events]}"
        else:
            assert [p["kind"] for _, p in events] == ["eta"], "ride a's times changed: one ETA update expected"
    finally:
        core.stop()


def test_late_event_names_the_promised_time(jamsil: Deployment) -> None:
    store = MemoryStore()
    core = start_core(jamsil, store)
    try:
        t = 7 * 3600
        ride = core.book(offer_for(core, "a", 3, 20, t).offer_id, "", t)
        core.stop_event(ride["vehicle_id"], "boarded", "a", 0, ride["planned_pickup_s"])
        offer_for(core, "b", 5, 9, t + 3600)  # an hour on, the drop-off was never reported: late
        late = [p for _, p in store.read_events("assignments") if p["kind"] == "late" and p["ride_id"] == "a"]
        if not late:
            pytest.fail("setup: no late event for ride a")
        match = re.search(r"now planned at (\d+) s, promised by (\d+) s", late[0]["detail"])
        if match is None:
            pytest.fail(f"setup: unexpected detail {late[0]['detail']!r}")
        planned, promised = int(match[1]), int(match[2])
        assert t <= promised < planned, f"the promised time in {late[0]['detail']!r} is not a time of day"
    finally:
        core.stop()


def test_a_silent_van_is_reported_late_once_per_stop(jamsil: Deployment) -> None:
    store = MemoryStore()
    core = start_core(jamsil, store)
    try:
        t = 7 * 3600
        core.book(offer_for(core, "a", 3, 20, t).offer_id, "", t)
        # The van never reports; quotes elsewhere move the clock on, a minute at a time, from 07:30.
        for k in range(10):
            offer_for(core, f"q{k}", 5, 9, t + 1800 + 60 * k)
        late = [p for _, p in store.read_events("assignments") if p["kind"] == "late" and p["ride_id"] == "a"]
        if not late:
            pytest.fail("setup: ride a was never late")
        assert len(late) <= 2, f"{len(late)} late events for ride a (one pickup, one drop-off)"
    finally:
        core.stop()
