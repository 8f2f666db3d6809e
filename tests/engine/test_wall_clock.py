"""The live engine on a wall clock: "now" is when the engine runs the call, midnight is not the end
of the service day, a new day closes the old one, and a restart finds the right day.

The in-process engines here read a time source the test moves (``EngineCore(time_source=...)``)
in Asia/Seoul, so each test walks through the hours it needs in a moment. The last test runs
the real ``mobility serve --clock wall`` in a process of its own against this machine's clock,
in a time zone chosen so that it is about noon there, whatever the hour of the test run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from engine.auth import TokenTable
from engine.core import EngineCore
from engine.server import build_grpc_server, listen
from engine.settings import Settings
from engine.store import MemoryStore, StateStore
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
from tests.engine.conftest import SCENARIO, Engine

HOUR = 3600
DAY = 24 * HOUR
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
TIMEOUT = 20.0
REPO = Path(__file__).resolve().parents[2]


class FakeTime:
    """A time source the test sets: ``at(2026, 12, 7, 23, 50)`` is that local time in Seoul."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def at(self, *fields: int) -> None:
        self.t = dt.datetime(*fields, tzinfo=SEOUL).timestamp()  # type: ignore[misc]


@pytest.fixture(scope="module")
def night_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """imod_jamsil with service until 02:00 the next night (26:00) and shifts until 02:30: the
    service day changes at 04:00, half-way to the next start at 06:00."""
    text = SCENARIO.read_text()
    text = text.replace("service_end_s = 82800     # 23:00", "service_end_s = 93600     # 02:00 the next night")
    text = text.replace('shift_end = "23:30"', "shift_end = 95400")
    assert "93600" in text and "95400" in text
    path = tmp_path_factory.mktemp("night") / "imod_night.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def round_the_clock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """imod_jamsil around the clock (service 00:00-24:00, shifts of two days): the day changes at midnight."""
    text = SCENARIO.read_text()
    text = text.replace("service_start_s = 21600   # 06:00", "service_start_s = 0")
    text = text.replace("service_end_s = 82800     # 23:00", "service_end_s = 86400")
    text = text.replace('shift_start = "06:00"', "shift_start = 0").replace('shift_end = "23:30"', "shift_end = 172800")
    assert "172800" in text and "service_start_s = 0" in text
    path = tmp_path_factory.mktemp("always") / "imod_always.toml"
    path.write_text(text)
    return path


@pytest.fixture
def wall_engine(data_dir: Path) -> Iterator[Callable[..., Engine]]:
    """``wall_engine(scenario, store, time)``: an engine on a wall clock in Asia/Seoul reading
    ``time``, with gRPC in this process (no authentication); stopped after the test."""
    started: list[Engine] = []

    def start(scenario: Path, store: StateStore, source: FakeTime) -> Engine:
        core = EngineCore(
            Deployment.from_toml(scenario, data_dir=data_dir),
            store,
            clock="wall",
            timezone="Asia/Seoul",
            time_source=source,
        )
        settings = Settings(scenario=scenario, data_dir=data_dir, clock="wall", timezone="Asia/Seoul")
        server = build_grpc_server(core, TokenTable(None), settings)
        port = listen(server, settings, 0)
        server.start()
        core.start()
        server.set_serving(True)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        engine = Engine(
            server=server,
            port=port,
            core=core,
            channel=channel,
            rider=rider_pb2_grpc.RiderServiceStub(channel),
            driver=driver_pb2_grpc.DriverServiceStub(channel),
            operator=operator_pb2_grpc.OperatorServiceStub(channel),
            health=None,  # type: ignore[arg-type]
        )
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.close()


def now_request(request_id: str, origin: int = 3, destination: int = 20) -> rider_pb2.QuoteRequest:
    """A request for as soon as possible (no requested time, no now_s: the engine's clock)."""
    return rider_pb2.QuoteRequest(
        request_id=request_id,
        origin=common_pb2.Place(stop=origin),
        destination=common_pb2.Place(stop=destination),
        passengers=1,
    )


def book_now(engine: Engine, request_id: str, origin: int = 3, destination: int = 20) -> common_pb2.Ride:
    request = rider_pb2.BookRideRequest(request=now_request(request_id, origin, destination))
    return engine.rider.BookRide(request, timeout=TIMEOUT)


def fleet(engine: Engine) -> operator_pb2.FleetStatusResponse:
    return engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT)


def assert_now(ride_or_offer: Any, clock: int, max_wait_s: int = 900) -> None:
    """The pickup window of a "now" request starts at the clock and ends by the longest wait."""
    assert clock <= ride_or_offer.pickup_window_start_s <= clock + 60, (ride_or_offer, clock)
    assert ride_or_offer.pickup_window_end_s <= clock + max_wait_s + 60


def served(engine: Engine, ride: common_pb2.Ride) -> None:
    """The driver reports the ride picked up and dropped off, at the planned times."""
    for kind in (driver_pb2.STOP_EVENT_KIND_BOARDED, driver_pb2.STOP_EVENT_KIND_ALIGHTED):
        stop = engine.driver.GetManifest(driver_pb2.GetManifestRequest(vehicle_id=ride.vehicle_id), timeout=TIMEOUT)
        first = stop.stops[0]
        assert first.ride_id == ride.ride_id
        event = driver_pb2.StopEvent(
            vehicle_id=ride.vehicle_id, kind=kind, ride_id=ride.ride_id, time_s=first.planned_s
        )
        engine.driver.ReportStopEvent(event, timeout=TIMEOUT)


# ---------------------------------------------------------------------------- "now"
def test_now_is_when_the_engine_runs_the_call(wall_engine: Callable[..., Engine]) -> None:
    """The first call after the start, and one after a minute idle, are for the time they come."""
    clock = FakeTime()
    clock.at(2026, 12, 7, 7, 5, 0)
    engine = wall_engine(SCENARIO, MemoryStore(), clock)
    answer = engine.rider.Quote(now_request("first"), timeout=TIMEOUT)
    assert answer.WhichOneof("result") == "offer", answer
    assert_now(answer.offer, 7 * HOUR + 5 * 60)
    clock.t += 65  # idle
    ride = book_now(engine, "after-a-minute")
    assert_now(ride, 7 * HOUR + 6 * 60 + 5)
    assert fleet(engine).clock_s == 7 * HOUR + 6 * 60 + 5
    assert fleet(engine).service_day == "2026-12-07"


# ---------------------------------------------------------------------------- midnight and the day change
def test_midnight_is_not_the_end_of_the_service_day(
    wall_engine: Callable[..., Engine], night_scenario: Path, data_dir: Path
) -> None:
    clock = FakeTime()
    store = MemoryStore()
    clock.at(2026, 12, 7, 23, 50, 0)
    engine = wall_engine(night_scenario, store, clock)
    late = book_now(engine, "late")
    assert_now(late, 23 * HOUR + 50 * 60)
    served(engine, late)

    clock.at(2026, 12, 8, 0, 20, 0)  # past midnight, same service day: the clock goes on
    status = fleet(engine)
    assert (status.service_day, status.clock_s) == ("2026-12-07", DAY + 20 * 60)
    assert status.vehicles_on_shift == 16
    night = book_now(engine, "night", 10, 30)
    assert_now(night, DAY + 20 * 60)
    left_open = book_now(engine, "left-open", 12, 25)  # no driver ever reports it

    clock.at(2026, 12, 8, 4, 30, 0)  # the day changes at 04:00
    status = fleet(engine)
    assert (status.service_day, status.clock_s) == ("2026-12-08", 4 * HOUR + 30 * 60)
    assert status.rides_assigned == status.rides_completed == status.rides_expired == 0  # a new day
    stored = store.load()
    assert stored.meta["service_day"] == "2026-12-08"
    assert {rid: (r["status"], r["day"]) for rid, r in stored.rides.items()} == {
        "late": ("completed", "2026-12-07"),
        "night": ("expired", "2026-12-07"),
        "left-open": ("expired", "2026-12-07"),
    }
    assert all(not v["route"] and v["load"] == [0, 0] for v in stored.vehicles.values())
    kinds = [payload["kind"] for _, payload in store.read_events("assignments")]
    assert kinds[-3:] == ["expired", "expired", "service_day"]
    with pytest.raises(grpc.RpcError) as info:  # the old day's rides are no longer live
        engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id=left_open.ride_id), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    clock.at(2026, 12, 8, 6, 10, 0)
    morning = book_now(engine, "morning")
    assert_now(morning, 6 * HOUR + 10 * 60)
    engine.close()

    # a restart later that morning carries on with the new day only
    clock.at(2026, 12, 8, 6, 40, 0)
    again = wall_engine(night_scenario, store, clock)
    status = fleet(again)
    assert (status.service_day, status.clock_s, status.rides_assigned) == ("2026-12-08", 6 * HOUR + 40 * 60, 1)
    ride = again.rider.GetRide(rider_pb2.GetRideRequest(ride_id="morning"), timeout=TIMEOUT)
    assert ride.pickup_window_start_s == morning.pickup_window_start_s


def test_a_ride_under_way_at_the_day_change_postpones_it(
    wall_engine: Callable[..., Engine], round_the_clock: Path
) -> None:
    """A ride still within its promise when the day would change keeps the old day (and its
    clock) until it ends; then the day changes at the next call (a minute on)."""
    clock = FakeTime()
    clock.at(2026, 12, 7, 23, 55, 0)
    engine = wall_engine(round_the_clock, MemoryStore(), clock)
    ride = book_now(engine, "over-midnight", 3, 30)
    clock.at(2026, 12, 8, 0, 0, 1)
    assert ride.latest_dropoff_s > DAY + 1
    status = fleet(engine)
    assert (status.service_day, status.clock_s, status.rides_assigned) == ("2026-12-07", DAY + 1, 1)
    served(engine, ride)
    clock.t += 30
    assert fleet(engine).service_day == "2026-12-07"  # tried again a minute after the first try
    clock.t += 31
    status = fleet(engine)
    assert (status.service_day, status.clock_s, status.rides_completed) == ("2026-12-08", 62, 0)


# ---------------------------------------------------------------------------- restart
def test_a_restart_the_next_afternoon_books_now_at_the_right_time(
    wall_engine: Callable[..., Engine], store: StateStore
) -> None:
    """Stopped at 22:58 with a ride booked, started again at 16:00 the next day: the engine is on
    the new day, "now" is 16:00 (it was 22:58, 17 h late), and the old day's open ride expired."""
    clock = FakeTime()
    clock.at(2026, 12, 7, 22, 58, 0)
    engine = wall_engine(SCENARIO, store, clock)
    book_now(engine, "evening")
    engine.close()
    clock.at(2026, 12, 8, 16, 0, 0)
    again = wall_engine(SCENARIO, store, clock)
    ride = book_now(again, "afternoon")
    assert_now(ride, 16 * HOUR)
    status = fleet(again)
    assert (status.service_day, status.clock_s, status.rides_assigned) == ("2026-12-08", 16 * HOUR, 1)
    assert store.load().rides["evening"]["status"] == "expired"


# ---------------------------------------------------------------------------- the real server
def _zone_at_noon() -> tuple[str, int]:
    """An Etc/GMT zone where it is now between 11:00 and 13:00, and its offset from UTC in hours."""
    hour = time.gmtime().tm_hour
    offset = (12 - hour + 12) % 24 - 12  # -12 .. 11
    name = "Etc/GMT" + ("" if offset == 0 else f"{-offset:+d}")  # POSIX signs: Etc/GMT-9 is UTC+9
    return name, offset


def _local_clock(offset_h: int) -> int:
    t = time.time() + offset_h * HOUR
    return int(t % DAY)


@pytest.mark.parametrize(("zone_by", "frontends"), [("TZ", 0), ("--timezone", 1)])
def test_mobility_serve_on_the_wall_clock(tmp_path: Path, data_dir: Path, zone_by: str, frontends: int) -> None:
    """``mobility serve --clock wall`` (the default clock) as a user starts it, in one process and
    with a front end: the clock is this machine's time of day in the zone, the first request for
    now gets an offer for now, and a background re-optimisation every second within its 50 ms
    keeps the engine answering."""
    zone, offset = _zone_at_noon()
    port_file = tmp_path / "port"
    env = {**os.environ, "MOBILITY_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "mobility.cli", "serve", "--port", "0", "--port-file", str(port_file),
               "--reoptimise-every", "1", "--reoptimise-deadline-ms", "50", "--frontends", str(frontends)]  # fmt: skip
    if zone_by == "TZ":
        env["TZ"] = zone
    else:
        command += ["--timezone", zone]
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not port_file.exists() or not port_file.read_text().strip():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the engine did not start within 120 s"
            time.sleep(0.1)
        channel = grpc.insecure_channel(f"127.0.0.1:{port_file.read_text().strip()}")
        rider = rider_pb2_grpc.RiderServiceStub(channel)
        operator = operator_pb2_grpc.OperatorServiceStub(channel)
        expected = _local_clock(offset)
        answer = rider.Quote(now_request("first"), timeout=TIMEOUT)
        assert answer.WhichOneof("result") == "offer", answer
        assert_now(answer.offer, expected - 2)
        status = operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT)
        assert abs(status.clock_s - _local_clock(offset)) <= 2, (status.clock_s, _local_clock(offset))
        for k in range(4):  # give the background re-optimisation something to work on
            rider.BookRide(rider_pb2.BookRideRequest(request=now_request(f"r{k}", k, 30 - k)), timeout=TIMEOUT)
        time.sleep(2.5)
        for k in range(5):  # each answered quickly, re-optimisation or not
            reply = rider.Quote(now_request(f"q{k}", 5, 25), timeout=2.0)
            assert reply.WhichOneof("result") == "offer"
        channel.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert proc.returncode == 0, out
    assert re.search(r"serving on 127\.0\.0\.1:\d+ .*clock wall", out), out
