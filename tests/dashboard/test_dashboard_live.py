"""The live dashboard against a real engine: a real gRPC engine (bundled imod_jamsil) on a real
port, the dashboard server on another, and a real WebSocket client as the page."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import websockets

from dashboard import protocol
from dashboard.live import LiveError, LiveSource, probe
from proto.client import ClientTLS
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2
from tests.dashboard.conftest import KEY, engine_on_port, run_dashboard
from tests.engine.certs import TLSFiles
from tests.engine.conftest import TOKENS, Engine, RedisServer, bearer, free_port, launch_engine

#: 08:00 on the engine's external clock.
T0 = 8 * 3600
OPERATOR = TOKENS["operator"][0]


@pytest.fixture
def tokens(tmp_path: Path) -> Path:
    path = tmp_path / "tokens.toml"
    path.write_text(
        "\n".join(f'[[tokens]]\ntoken = "{t}"\nrole = "{r}"\nsubject = "{s}"\n' for t, r, s in TOKENS.values())
    )
    return path


def book(engine: Engine, request_id: str, origin: int = 3, destination: int = 20) -> common_pb2.Ride:
    """Quote and book in one call at 08:00, as the rider alice."""
    request = rider_pb2.QuoteRequest(
        request_id=request_id,
        origin=common_pb2.Place(stop=origin),
        destination=common_pb2.Place(stop=destination),
        passengers=1,
        now_s=T0,
    )
    ride = engine.rider.BookRide(
        rider_pb2.BookRideRequest(request=request, now_s=T0), metadata=bearer("alice"), timeout=20
    )
    assert ride.vehicle_id, ride
    return ride


def implements(engine: Engine, call: Callable[[], Any]) -> bool:
    try:
        call()
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
            return False
        raise
    return True


class Page:
    """A page: a WebSocket client that records every message it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []

    async def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0, *, seen: bool = False
    ) -> dict[str, Any]:
        """The next message that satisfies ``predicate`` (``seen``: or the last one received so far;
        a predicate of the page's state, e.g. :meth:`events`, is then true at once if it already holds)."""
        if seen and self.messages and predicate(self.messages[-1]):
            return self.messages[-1]
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                kinds = [m["type"] for m in self.messages[-20:]]
                raise AssertionError(
                    f"no such message within {timeout} s; last received: {kinds}; events {self.events()}"
                )
            try:
                message = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                continue
            self.messages.append(message)
            if predicate(message):
                return message

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    def vehicle(self, vehicle_id: str) -> list[Any]:
        """The vehicle's row as the page knows it (the last vehicles message that had it)."""
        for m in reversed(self.messages):
            if m["type"] == "vehicles":
                for row in m["items"]:
                    if row[0] == vehicle_id:
                        return list(row)
        raise AssertionError(f"the page never heard of {vehicle_id}")

    def events(self) -> list[dict[str, Any]]:
        return [item for m in self.messages if m["type"] == "events" for item in m["items"]]


def kind(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == name


def test_page_follows_a_live_engine(data_dir: Path, tokens: Path, dashboard_web_dir: Path) -> None:
    engine = engine_on_port(data_dir, 0, tokens=tokens)
    try:
        fleet = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), metadata=bearer("operator"))
        drawn = engine.operator.GetServiceMap(operator_pb2.GetServiceMapRequest(), metadata=bearer("operator"))
        source = LiveSource(f"127.0.0.1:{engine.port}", token=OPERATOR, interval_s=0.2)
        with run_dashboard(source, web_dir=dashboard_web_dir) as d:

            async def scenario() -> None:
                async with websockets.connect(f"{d.ws_url}?key={KEY}", max_size=None) as ws:
                    page = Page(ws)
                    hello = await page.until(lambda m: True)
                    assert hello["type"] == "hello" and hello["mode"] == "live" and hello["kind"] == "imod"
                    assert hello["vehicle_fields"] == list(protocol.VEHICLE_FIELDS)
                    assert (
                        set(hello["map"]) == {"streets", "stops", "zone", "bounds", "planar"}
                        and not hello["map"]["planar"]
                    )
                    streets = hello["map"]["streets"]
                    assert streets["offsets"] == list(drawn.street_offsets) and len(streets["offsets"]) > 100
                    assert len(streets["lat"]) == len(streets["lon"]) == streets["offsets"][-1] == len(drawn.street_lat)
                    assert [s["stop"] for s in hello["map"]["stops"]] == list(range(35))
                    assert len(hello["map"]["zone"]) == len(drawn.zone)
                    (south, west), (north, east) = hello["map"]["bounds"]
                    assert south <= min(streets["lat"]) and max(streets["lat"]) <= north
                    assert west <= min(streets["lon"]) and max(streets["lon"]) <= east
                    full = await page.until(lambda m: m["type"] == "vehicles" and m["full"])
                    assert sorted(row[0] for row in full["items"]) == sorted(v.vehicle_id for v in fleet.vehicles)
                    assert len(full["items"]) == len(fleet.vehicles) == 16
                    assert all(len(row) == len(protocol.VEHICLE_FIELDS) for row in full["items"])
                    by_id = {v.vehicle_id: v for v in fleet.vehicles}
                    for vid, lat, lon, state, on_board, seats, *_ in full["items"]:
                        assert south <= lat <= north and west <= lon <= east, vid
                        v = by_id[vid]
                        assert state == driver_pb2.VehicleState.Name(v.state).removeprefix("VEHICLE_STATE_").lower()
                        assert (on_board, seats) == (v.on_board, v.seats)
                    await page.until(
                        lambda m: any(x["type"] == "status" and x["connected"] for x in page.messages), seen=True
                    )

                    booked_at = time.monotonic()
                    ride = await asyncio.to_thread(book, engine, "dash-1")
                    shown = source.ride_label(f"alice/{ride.ride_id}")  # the engine's id, the rider hidden
                    assert shown.endswith("/dash-1") and "alice" not in shown
                    await page.until(
                        lambda m: (
                            m["type"] == "events"
                            and any(e["ride_id"] == shown and e["kind"] == "booking" for e in m["items"])
                        ),
                        timeout=2.0,
                    )
                    assert time.monotonic() - booked_at < 2.0
                    rides = await page.until(
                        lambda m: m["type"] == "rides" and any(r["ride_id"] == shown for r in m["items"]),
                        timeout=2.0,
                    )
                    item = next(r for r in rides["items"] if r["ride_id"] == shown)
                    assert item["vehicle_id"] == ride.vehicle_id and item["status"] == "assigned"
                    assert item["window"] == [ride.pickup_window_start_s, ride.pickup_window_end_s]

                    await page.send({"type": "select", "vehicle_id": ride.vehicle_id})
                    manifest = await page.until(kind("manifest"))
                    assert manifest["vehicle_id"] == ride.vehicle_id and "error" not in manifest
                    mine = [(s["ride_id"], s["kind"]) for s in manifest["stops"] if s["ride_id"] == shown]
                    assert mine == [(shown, "pickup"), (shown, "dropoff")]
                    pickup = next(s for s in manifest["stops"] if s["kind"] == "pickup")
                    assert pickup["stop"] == ride.pickup_stop
                    assert pickup["window_end_s"] == ride.pickup_window_end_s
                    stop = hello["map"]["stops"][ride.pickup_stop]
                    assert [pickup["lat"], pickup["lon"]] == [stop["lat"], stop["lon"]]
                    assert len(manifest["path"]) >= 2
                    # the booked vehicle's new state (it has a stop planned now) reached the page in an update
                    answer = await asyncio.to_thread(
                        engine.operator.ListVehicles, operator_pb2.ListVehiclesRequest(), metadata=bearer("operator")
                    )
                    v = next(v for v in answer.vehicles if v.vehicle_id == ride.vehicle_id)
                    assert v.planned_stops == 2 and v.state != driver_pb2.VEHICLE_STATE_IDLE
                    state = driver_pb2.VehicleState.Name(v.state).removeprefix("VEHICLE_STATE_").lower()
                    await page.until(lambda m: page.vehicle(ride.vehicle_id)[3] == state, seen=True)
                    row = page.vehicle(ride.vehicle_id)
                    assert row[6:8] == [pickup["lat"], pickup["lon"]]  # heading for the pickup stop

                    # hostile or misplaced requests: errors, the page stays connected
                    def answer(m: dict[str, Any]) -> bool:
                        return m["type"] in ("error", "manifest")

                    # an unknown vehicle: one answer, a manifest with an error (as in replay)
                    await page.send({"type": "select", "vehicle_id": "veh9999"})
                    unknown = await page.until(answer)
                    assert unknown["type"] == "manifest" and unknown["vehicle_id"] == "veh9999", unknown
                    assert "veh9999" in unknown["error"] and unknown["stops"] == [] and unknown["path"] == []
                    await page.send({"type": "select", "vehicle_id": {"$gt": ""}})
                    error = await page.until(answer)  # the next answer is this one's: none more for veh9999
                    assert error["type"] == "error" and error["field"] == "vehicle_id", error
                    await page.send({"type": "seek", "time_s": 30000})
                    error = await page.until(kind("error"))
                    assert error["field"] == "type" and "replay" in error["message"]

                    # a page that comes later gets the feed so far and the whole fleet
                    async with websockets.connect(f"{d.ws_url}?key={KEY}", max_size=None) as ws2:
                        late = Page(ws2)
                        await late.until(lambda m: m["type"] == "vehicles" and m["full"])
                        feed = await late.until(kind("events"))
                        assert any(e["ride_id"] == shown and e["kind"] == "booking" for e in feed["items"])
                    ids = [e["id"] for e in page.events()]
                    assert len(ids) == len(set(ids))
                    everything = json.dumps(page.messages + late.messages)
                    assert "alice" not in everything and TOKENS["alice"][0] not in everything
                    assert OPERATOR not in everything

            asyncio.run(scenario())
    finally:
        engine.close()
        engine.core.stop()


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_engine_restart_is_followed(
    data_dir: Path, tokens: Path, dashboard_web_dir: Path, store: str, request: pytest.FixtureRequest
) -> None:
    """The engine stops and another starts on the same port (on the memory store it forgot
    everything, on Redis it carries on): the page is told (status false, then true), gets the whole
    fleet again, and the feed goes on with the new engine's events, none twice, none lost."""
    if store == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        if not redis.running:
            redis.start()
        with redis.client() as client:
            client.flushdb()
        store = redis.url
    kept = 0 if store == "memory" else 2  # open rides after the restart: Redis keeps the first and the missed one
    port = free_port()
    engine = engine_on_port(data_dir, port, tokens=tokens, store=store)
    second: Engine | None = None
    source = LiveSource(f"127.0.0.1:{port}", token=OPERATOR, interval_s=0.2)
    try:
        with run_dashboard(source, web_dir=dashboard_web_dir) as d:

            async def scenario() -> None:
                nonlocal second
                async with websockets.connect(f"{d.ws_url}?key={KEY}", max_size=None) as ws:
                    page = Page(ws)
                    await page.until(lambda m: m["type"] == "vehicles" and m["full"])
                    first = await asyncio.to_thread(book, engine, "before-restart")
                    first_id = source.ride_label(f"alice/{first.ride_id}")
                    await page.until(
                        lambda m: m["type"] == "events" and any(e["ride_id"] == first_id for e in m["items"])
                    )
                    await asyncio.to_thread(engine.close)
                    down = await page.until(lambda m: m["type"] == "status" and not m["connected"])
                    assert str(port) in down["message"]
                    fulls_before = sum(1 for m in page.messages if m["type"] == "vehicles" and m["full"])
                    missed: list[str] = []
                    if store != "memory":  # a ride booked while the dashboard cannot reach any engine
                        elsewhere = await asyncio.to_thread(engine_on_port, data_dir, 0, tokens=tokens, store=store)
                        during = await asyncio.to_thread(book, elsewhere, "during-outage", 7, 25)
                        await asyncio.to_thread(elsewhere.close)
                        missed.append(source.ride_label(f"alice/{during.ride_id}"))
                    second = await asyncio.to_thread(engine_on_port, data_dir, port, tokens=tokens, store=store)
                    await page.until(lambda m: m["type"] == "status" and m["connected"], timeout=15)
                    fulls_after = sum(1 for m in page.messages if m["type"] == "vehicles" and m["full"])
                    assert fulls_after == fulls_before + 1  # the whole fleet again, once
                    reconnected = [m for m in page.messages if m["type"] == "kpis"][-1]
                    assert reconnected["values"]["open_requests"] == kept
                    ride = await asyncio.to_thread(book, second, "after-restart", 5, 22)
                    ride_id = source.ride_label(f"alice/{ride.ride_id}")
                    await page.until(
                        lambda m: m["type"] == "events" and any(e["ride_id"] == ride_id for e in m["items"]),
                        timeout=3.0,
                    )
                    # the polls go on, on the new engine
                    kpis = await page.until(lambda m: m["type"] == "kpis" and m["values"]["open_requests"] == kept + 1)
                    assert kpis["values"]["vehicles"] == 16
                    ids = [e["id"] for e in page.events()]
                    assert len(ids) == len(set(ids)), "an event was fed twice"
                    kinds = {(e["ride_id"], e["kind"]) for e in page.events()}
                    assert (first_id, "booking") in kinds and (ride_id, "booking") in kinds
                    bookings = [e["ride_id"] for e in page.events() if e["kind"] == "booking"]
                    assert sorted(bookings) == sorted([first_id, ride_id, *missed])  # Redis: resumed, none lost

            asyncio.run(scenario())
    finally:
        for e in (engine, second):
            if e is not None:
                e.close()


def test_kpi_history_restarts_when_the_clock_goes_back(data_dir: Path, tokens: Path, dashboard_web_dir: Path) -> None:
    """An engine at 09:00 is replaced by one at 08:00 (a restart, another day): the pages get a new
    kpi_history without the 09:00 points, and so does a page that connects afterwards."""
    port = free_port()
    engine = engine_on_port(data_dir, port, tokens=tokens)
    second: Engine | None = None
    later = T0 + 3600
    engine.advance(later)
    source = LiveSource(f"127.0.0.1:{port}", token=OPERATOR, interval_s=0.2)
    try:
        with run_dashboard(source, web_dir=dashboard_web_dir) as d:

            async def scenario() -> None:
                nonlocal second
                async with websockets.connect(f"{d.ws_url}?key={KEY}", max_size=None) as ws:
                    page = Page(ws)
                    await page.until(lambda m: m["type"] == "kpis" and m["time_s"] >= later)
                    await page.until(lambda m: m["type"] == "kpis")  # a second point at 09:00
                    histories = sum(1 for m in page.messages if m["type"] == "kpi_history")
                    assert histories == 1  # the one on connecting
                    await asyncio.to_thread(engine.close)
                    await page.until(lambda m: m["type"] == "status" and not m["connected"])
                    second = await asyncio.to_thread(engine_on_port, data_dir, port, tokens=tokens)
                    fresh = await page.until(kind("kpi_history"), timeout=15)
                    times = [item["time_s"] for item in fresh["items"]]
                    assert times and all(t < later for t in times), times
                    assert times[-1] == T0
                    after = await page.until(kind("kpis"))
                    assert after["time_s"] < later
                async with websockets.connect(f"{d.ws_url}?key={KEY}", max_size=None) as ws2:
                    newcomer = Page(ws2)
                    history = await newcomer.until(kind("kpi_history"))
                    times = [item["time_s"] for item in history["items"]]
                    assert times and all(t < later for t in times), times

            asyncio.run(scenario())
    finally:
        for e in (engine, second):
            if e is not None:
                e.close()


def test_refused_token_is_said(data_dir: Path, tokens: Path, dashboard_web_dir: Path) -> None:
    engine = engine_on_port(data_dir, 0, tokens=tokens)
    try:
        target = f"127.0.0.1:{engine.port}"
        with pytest.raises(LiveError, match="token"):
            asyncio.run(probe(target, token="not-a-token", tls=None))
        with pytest.raises(LiveError, match="token"):
            asyncio.run(probe(target, token=TOKENS["alice"][0], tls=None))  # a rider is not an operator
        assert "16 vehicles" in asyncio.run(probe(target, token=OPERATOR, tls=None))
        with pytest.raises(LiveError) as missing:  # no token at all: not "refused", say how to give one
            asyncio.run(probe(target, token=None, tls=None))
        assert "none was given" in str(missing.value) and "--token-file" in str(missing.value)
        assert "refused" not in str(missing.value) and not missing.value.absent
        with pytest.raises(LiveError, match="--engine") as absent:
            asyncio.run(probe(f"127.0.0.1:{free_port()}", token=OPERATOR, tls=None, timeout_s=2))
        assert absent.value.absent
        with run_dashboard(LiveSource(target, token="not-a-token", interval_s=0.2), web_dir=dashboard_web_dir) as d:

            async def scenario() -> None:
                async with websockets.connect(f"{d.ws_url}?key={KEY}") as ws:
                    page = Page(ws)
                    status = await page.until(lambda m: m["type"] == "status" and "token" in m["message"])
                    assert status["connected"] is False

            asyncio.run(scenario())
    finally:
        engine.close()


# ---------------------------------------------------------------------------- `mobility dashboard`
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--run", "/nonexistent-run", "--token", "t"], "--token"),
        (["--run", "/nonexistent-run", "--interval", "2"], "--interval"),
        (["--run", "/nonexistent-run", "--tiles", "https://t.example.org/{z}/{x}/{y}.png"], "--tiles"),
        (["--run", "/nonexistent-run"], "--run"),
        (["--engine", "127.0.0.1:1", "--port", "70000"], "--port"),
        (["--engine", "127.0.0.1:1", "--interval", "0"], "--interval"),
        (["--engine", "127.0.0.1:1", "--key", "short"], "--key"),
        (["--engine", "127.0.0.1:1", "--tiles", "ftp://tiles/{z}/{x}/{y}"], "--tiles"),
        (["--engine", "127.0.0.1:1", "--tiles", "https://tiles.example.org/a.png"], "--tiles"),
        (["--engine", "127.0.0.1:1", "--tls-cert", "/nonexistent.pem"], "--tls-cert"),
        (["--engine", "127.0.0.1:1", "--token-file", "/nonexistent.token"], "--token-file"),
        (["--engine", "127.0.0.1:1", "--token-file", "EMPTY"], "--token-file"),
        (["--engine", "127.0.0.1:1", "--tls-ca", "/etc/hostname"], "--tls-ca"),
        (["--engine", "127.0.0.1:1", "--client-cert", "/etc/hostname"], "--client-"),
        (["--engine", "127.0.0.1:99999"], "--engine"),  # not port 34463 (99999 mod 65536)
        (["--engine", "127.0.0.1:0"], "--engine"),
        (["--engine", "127.0.0.1:19052x"], "--engine"),
        (["--engine", "127.0.0.1"], "--engine"),
        (["--engine", "::1:50051"], "--engine"),  # IPv6 without brackets
        (["--engine", "[nope]:50051"], "--engine"),
        (["--engine", "127.0.0.1:1;rm"], "--engine"),
        (["--run", "SUMMARY"], "is a file"),
    ],
)
def test_cli_bad_option_is_one_line(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from mobility.cli import main

    empty = tmp_path / "empty.token"
    empty.write_text("")
    (tmp_path / "run").mkdir()
    summary = tmp_path / "run" / "summary.json"
    summary.write_text("{}")
    argv = [{"EMPTY": str(empty), "SUMMARY": str(summary)}.get(a, a) for a in argv]
    assert main(["dashboard", *argv]) == 2
    out, err = capsys.readouterr()
    err = err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mobility: error:") and option in err, err
    assert "Traceback" not in err and "open http" not in out
    for field in ("token_file", "tls_ca", "tls_cert", "tls_key"):  # proto.client's names, not the options
        assert field not in err, err
    if option == "--engine":  # refused before any connection is tried, with the allowed form
        assert "HOST:PORT with a port 1 .. 65535" in err and "no engine answers" not in err, err
    if option == "is a file":
        assert "run folder" in err and str(tmp_path / "run") in err, err


def test_cli_refused_token_exits_before_serving(
    data_dir: Path, tokens: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mobility.cli import main

    engine = engine_on_port(data_dir, 0, tokens=tokens)
    try:
        assert main(["dashboard", "--engine", f"127.0.0.1:{engine.port}", "--token", "wrong", "--port", "0"]) == 2
    finally:
        engine.close()
    out, err = capsys.readouterr()
    assert "open http" not in out and len(err.strip().splitlines()) == 1
    assert "--engine" in err and "token" in err


def test_cli_without_a_token_says_none_was_given(
    data_dir: Path, tokens: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mobility.cli import main

    engine = engine_on_port(data_dir, 0, tokens=tokens)
    try:
        assert main(["dashboard", "--engine", f"127.0.0.1:{engine.port}", "--port", "0"]) == 2
    finally:
        engine.close()
    out, err = capsys.readouterr()
    assert "open http" not in out and len(err.strip().splitlines()) == 1
    assert "none was given" in err and "--token-file" in err and "refused" not in err, err


def test_cli_serves_the_page_and_stops_on_ctrl_c(data_dir: Path, tokens: Path, tmp_path: Path) -> None:
    """`mobility dashboard` as a process: prints the address with the key, serves the page, and a
    SIGINT stops it cleanly (exit 0, no traceback)."""
    import os
    import signal
    import subprocess
    import sys

    engine = engine_on_port(data_dir, 0, tokens=tokens)
    token_file = tmp_path / "operator.token"
    token_file.write_text(OPERATOR + "\n")
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-c", "import sys; from mobility.cli import main; sys.exit(main(sys.argv[1:]))"]
    args = ["dashboard", "--engine", f"127.0.0.1:{engine.port}", "--token-file", str(token_file), "--port", "0"]
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as err:
        process = subprocess.Popen(
            [*command, *args], cwd=root, stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ}
        )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert "16 vehicles" in lines[0], (lines, stderr.read_text())
        url = lines[1].split("open ", 1)[1].strip()
        base, key = url.split("/?key=")
        assert len(key) >= 24
        assert httpx.get(base + "/healthz", timeout=10).json()["mode"] == "live"

        async def hello() -> dict[str, Any]:
            async with websockets.connect(base.replace("http", "ws") + f"/ws?key={key}", max_size=None) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 10))

        assert asyncio.run(hello())["type"] == "hello"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in stderr.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        engine.close()


def test_cli_started_before_the_engine_waits_for_it(data_dir: Path, tokens: Path, tmp_path: Path) -> None:
    """`mobility dashboard` started while no engine answers (a service started first): it says so in
    one line, serves the page, whose status says it waits; once an engine starts on that address the
    page gets its hello, the fleet and status connected. Ctrl-C still stops it with 0."""
    import os
    import signal
    import subprocess
    import sys

    port = free_port()
    token_file = tmp_path / "operator.token"
    token_file.write_text(OPERATOR + "\n")
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-c", "import sys; from mobility.cli import main; sys.exit(main(sys.argv[1:]))"]
    args = ["dashboard", "--engine", f"127.0.0.1:{port}", "--token-file", str(token_file), "--port", "0"]
    args += ["--interval", "0.2"]
    stderr = tmp_path / "stderr.txt"
    engine: Engine | None = None
    with stderr.open("w") as err:
        process = subprocess.Popen(
            [*command, *args], cwd=root, stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ}
        )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert lines[0].strip() == f"no engine answers at 127.0.0.1:{port} yet: waiting for it; the page says so", (
            lines,
            stderr.read_text(),
        )
        url = lines[1].split("open ", 1)[1].strip()
        base, key = url.split("/?key=")
        assert httpx.get(base + "/healthz", timeout=10).json()["mode"] == "live"

        async def scenario() -> None:
            nonlocal engine
            async with websockets.connect(base.replace("http", "ws") + f"/ws?key={key}", max_size=None) as ws:
                page = Page(ws)
                waiting = await page.until(lambda m: True)
                assert waiting["type"] == "status" and waiting["connected"] is False, waiting
                assert waiting["message"] == f"no engine answers at 127.0.0.1:{port} yet: waiting for it"
                await asyncio.sleep(0.5)  # a few failed attempts: still the same sentence, nothing else
                assert all(m["type"] == "status" and not m["connected"] for m in page.messages), page.messages
                engine = await asyncio.to_thread(engine_on_port, data_dir, port, tokens=tokens)
                hello = await page.until(kind("hello"), timeout=20)
                assert hello["map"]["streets"]["offsets"]
                full = await page.until(lambda m: m["type"] == "vehicles" and m["full"])
                assert len(full["items"]) == 16
                await page.until(lambda m: m["type"] == "status" and m["connected"], seen=True)

        asyncio.run(scenario())
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in stderr.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if engine is not None:
            engine.close()


def test_over_tls_both_ways(data_dir: Path, tokens: Path, tls_files: TLSFiles, dashboard_web_dir: Path) -> None:
    """An engine that serves TLS and requires client certificates (mutual TLS), followed with the
    CA and a client certificate; the page itself served over HTTPS/WSS."""
    engine = launch_engine(data_dir, tokens=tokens, tls=tls_files, client_certificates=True)
    try:
        target = f"127.0.0.1:{engine.port}"
        with pytest.raises(LiveError):  # the engine's certificate is not from a CA the system trusts
            asyncio.run(probe(target, token=OPERATOR, tls=ClientTLS(), timeout_s=3))
        with pytest.raises(LiveError) as plain:  # asked without TLS: the hint, and not "absent" (no waiting)
            asyncio.run(probe(target, token=OPERATOR, tls=None, timeout_s=3))
        assert "does it serve TLS?" in str(plain.value) and "--tls" in str(plain.value), plain.value
        assert not plain.value.absent
        tls = ClientTLS.from_files(tls_files.ca, tls_files.client_cert, tls_files.client_key)
        assert "16 vehicles" in asyncio.run(probe(target, token=OPERATOR, tls=tls))
        source = LiveSource(target, token=OPERATOR, tls=tls, interval_s=0.2)
        with run_dashboard(
            source, web_dir=dashboard_web_dir, tls_cert=tls_files.server_cert, tls_key=tls_files.server_key
        ) as d:
            context = ssl.create_default_context(cafile=str(tls_files.ca))
            assert httpx.get(d.url + "/healthz", verify=context).json()["ok"]
            with pytest.raises(httpx.ConnectError):
                httpx.get(d.url + "/healthz")  # not a certificate the system trusts

            async def scenario() -> None:
                async with websockets.connect(f"{d.ws_url}?key={KEY}", ssl=context, max_size=None) as ws:
                    page = Page(ws)
                    assert (await page.until(lambda m: True))["type"] == "hello"
                    full = await page.until(lambda m: m["type"] == "vehicles" and m["full"])
                    assert len(full["items"]) == 16

            asyncio.run(scenario())
    finally:
        engine.close()


def test_shared_taxi_service(data_dir: Path, dashboard_web_dir: Path) -> None:
    """The taxis of a two-service engine (no authentication): the hello says taxi, the fleet is the
    taxis, a taxi ride shows as matching then assigned after its batch, and the feed holds that
    service's events only (an I-MOD booking on the same engine is not in it)."""
    scenario = Path(__file__).resolve().parents[1] / "engine" / "deployments" / "jamsil_two_services.toml"
    engine = launch_engine(data_dir, scenario=scenario)
    try:
        engine.operator.Reoptimise(operator_pb2.ReoptimiseRequest(iterations=1, now_s=T0), timeout=20)
        taxis = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(service="imoa"), timeout=20)
        source = LiveSource(f"127.0.0.1:{engine.port}", service="imoa", interval_s=0.2)
        with run_dashboard(source, web_dir=dashboard_web_dir) as d:

            async def scenario_() -> None:
                async with websockets.connect(f"{d.ws_url}?key={KEY}", max_size=None) as ws:
                    page = Page(ws)
                    hello = await page.until(lambda m: True)
                    assert (hello["type"], hello["kind"], hello["service"]) == ("hello", "taxi", "imoa")
                    assert hello["map"]["stops"] == [] and hello["map"]["streets"]["offsets"]
                    full = await page.until(lambda m: m["type"] == "vehicles" and m["full"])
                    assert sorted(r[0] for r in full["items"]) == sorted(v.vehicle_id for v in taxis.vehicles)
                    assert len(full["items"]) == 4

                    def taxi_ride() -> common_pb2.Ride:
                        n = engine.core.network.num_nodes
                        request = rider_pb2.QuoteRequest(
                            request_id="taxi-1",
                            origin=common_pb2.Place(node=n // 2),
                            destination=common_pb2.Place(node=n // 2 + 40),
                            passengers=1,
                            service="imoa",
                        )
                        return engine.rider.BookRide(rider_pb2.BookRideRequest(request=request), timeout=20)

                    ride = await asyncio.to_thread(taxi_ride)
                    await asyncio.to_thread(book, engine, "imod-1")  # the other service
                    rides = await page.until(
                        lambda m: m["type"] == "rides" and any(r["ride_id"] == ride.ride_id for r in m["items"])
                    )
                    item = next(r for r in rides["items"] if r["ride_id"] == ride.ride_id)
                    assert item["status"] == "matching" and item["vehicle_id"] is None and item["pickup"]
                    await asyncio.to_thread(
                        engine.operator.Reoptimise,
                        operator_pb2.ReoptimiseRequest(iterations=1, now_s=T0 + 30),
                        timeout=20,
                    )
                    assigned = await page.until(
                        lambda m: (
                            m["type"] == "rides"
                            and any(r["ride_id"] == ride.ride_id and r["status"] == "assigned" for r in m["items"])
                        )
                    )
                    item = next(r for r in assigned["items"] if r["ride_id"] == ride.ride_id)
                    assert item["vehicle_id"] in {v.vehicle_id for v in taxis.vehicles}
                    await page.until(
                        lambda m: any(
                            e["ride_id"] == ride.ride_id and e["kind"] == "assignment" for e in page.events()
                        ),
                        seen=True,
                    )
                    await asyncio.sleep(0.5)  # time for an I-MOD event to arrive, if it were let through
                    rides_seen = {e["ride_id"] for e in page.events()}
                    assert ride.ride_id in rides_seen and not any("imod-1" in (r or "") for r in rides_seen)
                    assert all(e["pooled"] is False for e in page.events())  # one rider: nobody shares

            asyncio.run(scenario_())
    finally:
        engine.close()
