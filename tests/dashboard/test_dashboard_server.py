"""The dashboard's web server on a real port, with a real WebSocket client, around a small test
source (the server is what is tested here; the live source has its own tests against a real
engine in test_dashboard_live.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from dashboard import protocol
from dashboard.server import (
    CLOSE_TOO_MANY_PAGES,
    CLOSE_TOO_SLOW,
    DEFAULT_MAX_PAGES,
    LIMIT_CONCURRENCY,
    MAX_PAGE_MESSAGE_BYTES,
    MAX_PAGE_MESSAGES_PER_S,
    PageClient,
    create_app,
    encode,
    make_server,
)
from dashboard.source import Client
from tests.dashboard.conftest import KEY, run_dashboard


class RecordingSource:
    """Greets each page, echoes what it receives in a ``status`` message, and keeps the clients."""

    mode = "live"

    def __init__(self) -> None:
        self.clients: dict[int, Client] = {}
        self.messages: list[dict[str, Any]] = []
        self.started = self.stopped = False
        self.gone: list[int] = []

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def connected(self, client: Client) -> None:
        self.clients[client.id] = client
        client.send({"type": "hello", "mode": "live", "version": protocol.VERSION})
        client.send({"type": "vehicles", "time_s": 0, "full": True, "items": [], "removed": []})

    async def received(self, client: Client, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] == "seek":
            client.send({"type": "error", "field": "type", "message": "seek: only in replay"})
            return
        client.send({"type": "status", "connected": True, "message": f"got {message['type']}", "source": "test"})

    async def disconnected(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        self.gone.append(client.id)


async def _recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def test_pages_and_files(dashboard_web_dir: Path) -> None:
    source = RecordingSource()
    with run_dashboard(source, web_dir=dashboard_web_dir, tiles="https://{s}.tile.example.org/{z}/{x}/{y}.png") as d:
        assert source.started
        page = httpx.get(d.url + "/")
        assert page.status_code == 200 and "test page" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert f"ws://127.0.0.1:{d.port}" in csp and "https://*.tile.example.org" in csp
        assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
        assert httpx.get(d.url + "/static/app.js").text == "console.log('app');\n"
        assert httpx.get(d.url + "/vendor/leaflet/leaflet.js").text == "// leaflet\n"
        assert httpx.get(d.url + "/vendor/uplot/uplot.js").status_code == 200
        # no node_modules through /static, no package outside the allow-list, no way out of web/
        for path in (
            "/static/node_modules/leaflet/dist/leaflet.js",
            "/vendor/left-pad/index.js",
            "/vendor/leaflet/../package.json",
            "/vendor/leaflet/%2e%2e/package.json",
            "/static/../secret.txt",
            "/static/%2e%2e/secret.txt",
            "/static/..%2fsecret.txt",
            "/static//etc/passwd",
            "/static/%00",  # a NUL byte: no file can have it (was a 500 and a traceback)
            "/vendor/leaflet/%00",
            "/static/app.js%00.png",
            "/static/" + "a" * 300,  # longer than a file name may be (was a 500 too)
        ):
            response = httpx.get(d.url + path, follow_redirects=True)
            assert response.status_code == 404, path
            assert "outside the web folder" not in response.text and response.text.strip() != "{}"
        health = httpx.get(d.url + "/healthz").json()
        assert health == {"ok": True, "mode": "live", "pages": 0}
    assert source.stopped


def test_missing_libraries_say_how_to_install(dashboard_web_dir: Path) -> None:
    import shutil

    shutil.rmtree(dashboard_web_dir / "node_modules")
    with run_dashboard(RecordingSource(), web_dir=dashboard_web_dir) as d:
        response = httpx.get(d.url + "/")
        assert response.status_code == 503
        assert "make setup" in response.text and len(response.text.strip().splitlines()) == 1
        assert httpx.get(d.url + "/vendor/leaflet/leaflet.js").status_code == 503


@pytest.mark.parametrize(
    "query",
    ["", "?key=", "?key=wrong", f"?key={KEY}x", f"?key={KEY[:-1]}", f"?key=wrong&key={KEY}", f"?key={KEY}&key={KEY}"],
)
def test_wrong_or_missing_key_is_closed_before_anything_is_sent(dashboard_web_dir: Path, query: str) -> None:
    source = RecordingSource()

    async def attempt(url: str) -> None:
        async with websockets.connect(url) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await _recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == protocol.CLOSE_BAD_KEY

    with run_dashboard(source, web_dir=dashboard_web_dir) as d:
        asyncio.run(attempt(d.ws_url + query))
        assert source.clients == {} and source.gone == []


def test_hostile_page_gets_errors_and_others_keep_working(dashboard_web_dir: Path) -> None:
    source = RecordingSource()

    async def scenario(url: str) -> None:
        async with websockets.connect(url, max_size=None) as bad, websockets.connect(url) as good:
            assert (await _recv(bad))["type"] == "hello"
            assert (await _recv(bad))["type"] == "vehicles"
            assert (await _recv(good))["type"] == "hello"
            await _recv(good)
            hostile: list[tuple[str | bytes, str]] = [
                ("not json", "message"),
                ("[1, 2]", "message"),
                ('"select"', "message"),
                ("null", "message"),
                ("{}", "type"),
                ('{"type": "explode"}', "type"),
                ('{"type": ["select"]}', "type"),
                ("{" + '"a": 1,' * 20000 + '"type": "select"}', "message"),
                (b"\x00\x01binary", "message"),
            ]
            for raw, field in hostile:
                await bad.send(raw)
                answer = await _recv(bad)
                assert answer["type"] == "error" and answer["field"] == field, (raw[:40], answer)
                assert len(answer["message"]) < 200
                assert "NoneType" not in answer["message"] and "list" not in answer["message"]
                if raw == "null":
                    assert answer["message"].startswith("a JSON null;"), answer
            assert source.messages == []  # none of them reached the source
            await bad.send(json.dumps({"type": "seek", "time_s": 5}))
            assert (await _recv(bad))["type"] == "error"
            await good.send(json.dumps({"type": "select", "vehicle_id": "veh0001"}))
            assert (await _recv(good))["message"] == "got select"
            await bad.send(json.dumps({"type": "pause"}))
            assert (await _recv(bad))["message"] == "got pause"

    with run_dashboard(source, web_dir=dashboard_web_dir) as d:
        asyncio.run(scenario(f"{d.ws_url}?key={KEY}"))
        assert [m["type"] for m in source.messages] == ["seek", "select", "pause"]
        assert httpx.get(d.url + "/healthz").json()["ok"]
    assert len("{" + '"a": 1,' * 20000) > MAX_PAGE_MESSAGE_BYTES


def test_a_page_that_floods_is_limited(dashboard_web_dir: Path) -> None:
    source = RecordingSource()

    async def scenario(url: str) -> tuple[int, list[dict[str, Any]]]:
        async with websockets.connect(url) as ws:
            await _recv(ws)
            await _recv(ws)
            started = time.monotonic()
            for _ in range(50):
                await ws.send(json.dumps({"type": "pause"}))
            answers = [await _recv(ws) for _ in range(MAX_PAGE_MESSAGES_PER_S + 1)]
            assert time.monotonic() - started < 0.9, "the test sent too slowly to test the limit"
            await asyncio.sleep(1.1)
            await ws.send(json.dumps({"type": "play"}))  # a new second: accepted again
            answers.append(await _recv(ws))
            return len(source.messages), answers

    with run_dashboard(source, web_dir=dashboard_web_dir) as d:
        handled, answers = asyncio.run(scenario(f"{d.ws_url}?key={KEY}"))
    assert handled == MAX_PAGE_MESSAGES_PER_S + 1  # 20 pauses and the play
    errors = [a for a in answers if a["type"] == "error"]
    assert len(errors) == 1 and str(MAX_PAGE_MESSAGES_PER_S) in errors[0]["message"]
    assert answers[-1]["message"] == "got play"


class _NeverSends:
    """A stand-in for a page's socket whose send never completes (a page that never reads)."""

    async def send_text(self, data: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)


def test_slow_page_queue_is_bounded() -> None:
    async def scenario() -> None:
        socket = _NeverSends()
        client = PageClient(socket, max_queue=10)  # type: ignore[arg-type]
        sender = asyncio.create_task(client.run_sender())
        client.send({"type": "hello"})
        await asyncio.sleep(0.01)  # the sender took the hello and is stuck sending it
        client.send({"type": "vehicles", "full": True, "items": []})
        for i in range(100):
            client.send({"type": "vehicles", "full": False, "items": [i]})
            client.send({"type": "rides", "full": False, "items": [i]})
            assert client.queued <= 10
        assert client.behind and client.closed_reason is None
        # partial updates are refused until a full one arrives
        client.send({"type": "vehicles", "full": False, "items": ["late"]})
        assert all(m.get("items") != ["late"] for m in client._queue)
        client.send({"type": "vehicles", "full": True, "items": ["all"]})
        client.send({"type": "rides", "full": True, "items": ["all"]})
        assert not client.behind
        # messages that must not be lost fill the queue: the page is cut, memory stays bounded
        for i in range(1000):
            client.send({"type": "events", "items": [i]})
            assert client.queued <= 10
        assert client.closed_reason is not None and client.queued == 0
        # the send the page never took is abandoned, and the socket closed with the reason
        await asyncio.wait({sender}, timeout=0.5)
        assert sender.done()
        assert socket.closed == (CLOSE_TOO_SLOW, client.closed_reason)

    asyncio.run(scenario())


def test_page_that_never_reads_is_bounded_then_cut(dashboard_web_dir: Path) -> None:
    """A real page over a real socket that reads nothing: the server's queue for it never exceeds
    its bound while the source keeps sending, and the page is cut once only unlosable messages remain."""
    source = RecordingSource()
    big = {"type": "vehicles", "time_s": 0, "full": False, "items": [[f"veh{i:04d}", 37.5, 127.1] for i in range(3000)]}

    with run_dashboard(source, web_dir=dashboard_web_dir, max_queue=20) as d:

        async def open_and_stall() -> Any:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # small, so the server's writes stall soon
            sock.connect(("127.0.0.1", d.port))
            ws = await websockets.connect(f"{d.ws_url}?key={KEY}", sock=sock, max_size=None, max_queue=1)
            ws.transport.pause_reading()  # read nothing from now on
            return ws

        async def flood() -> tuple[int, int, bool, str | None]:
            (client,) = source.clients.values()
            peak = 0
            sent = 0
            # the kernel's socket buffers take tens of MB first (loopback autotuning)
            while not client.behind and sent < 3000:
                client.send(big)
                sent += 1
                peak = max(peak, client.queued)  # type: ignore[attr-defined]
                await asyncio.sleep(0)
            behind = client.behind
            for _ in range(200):  # the page stays behind: partial updates are dropped
                client.send(big)
                peak = max(peak, client.queued)  # type: ignore[attr-defined]
                await asyncio.sleep(0)
            for i in range(100):
                client.send({"type": "events", "items": [i]})
                peak = max(peak, client.queued)  # type: ignore[attr-defined]
                await asyncio.sleep(0)
            return peak, client.dropped, behind, client.closed_reason  # type: ignore[attr-defined]

        loop = asyncio.new_event_loop()
        try:
            ws = loop.run_until_complete(open_and_stall())
            deadline = 50
            while not source.clients and deadline:
                loop.run_until_complete(asyncio.sleep(0.05))
                deadline -= 1
            peak, dropped, behind, reason = d.call(flood())
            assert peak <= 20 and dropped >= 200 and behind, (peak, dropped, behind, reason)
            assert reason is not None and "behind" in reason
            # the server lets go of the page (its send abandoned, the socket closed) within seconds
            deadline = time.monotonic() + 10
            while not source.gone and time.monotonic() < deadline:
                time.sleep(0.05)
            assert source.gone and source.clients == {}
            assert httpx.get(d.url + "/healthz").json()["pages"] == 0
            ws.transport.abort()
            loop.run_until_complete(asyncio.sleep(0.1))  # let the client notice
        finally:
            loop.close()
    assert CLOSE_TOO_SLOW == 4408


def test_a_broadcast_message_is_encoded_once() -> None:
    message = {"type": "vehicles", "items": [["veh0001", 37.5, 127.1]], "full": True}
    text = encode(message)
    assert encode(message) is text and json.loads(text) == message
    twin = json.loads(text)  # equal, another object: encoded on its own, to the same text
    assert encode(twin) == text and encode(twin) is not text
    for i in range(100):  # the cache stays bounded
        encode({"type": "clock", "time_s": i})
    assert encode(message) == text


def test_create_app_refuses_an_empty_key(dashboard_web_dir: Path) -> None:
    with pytest.raises(ValueError, match="key"):
        create_app(RecordingSource(), key="", web_dir=dashboard_web_dir)


def test_the_page_beyond_the_cap_is_closed_with_4429(dashboard_web_dir: Path) -> None:
    """DEFAULT_MAX_PAGES pages are served; the next is closed with CLOSE_TOO_MANY_PAGES and sees
    nothing; once one page leaves, a new one is served again."""
    source = RecordingSource()

    async def scenario(url: str) -> None:
        pages = []
        try:
            for _ in range(DEFAULT_MAX_PAGES):
                ws = await websockets.connect(url)
                pages.append(ws)
                assert (await _recv(ws))["type"] == "hello"
            async with websockets.connect(url) as extra:
                with pytest.raises(ConnectionClosed) as closed:
                    await _recv(extra)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TOO_MANY_PAGES
            await pages.pop().close()
            for _ in range(50):  # the server notices the departure
                if len(source.clients) < DEFAULT_MAX_PAGES:
                    break
                await asyncio.sleep(0.05)
            async with websockets.connect(url) as again:
                assert (await _recv(again))["type"] == "hello"
        finally:
            for ws in pages:
                await ws.close()

    with run_dashboard(source, web_dir=dashboard_web_dir) as d:
        asyncio.run(scenario(f"{d.ws_url}?key={KEY}"))
    assert len(source.gone) == DEFAULT_MAX_PAGES + 1  # the refused page never reached the source
    assert CLOSE_TOO_MANY_PAGES == 4429


def test_connections_beyond_the_limit_are_answered_503(dashboard_web_dir: Path) -> None:
    """Clients that send half their headers and stall (slowloris) take at most limit_concurrency
    connections: further requests are answered 503 at once, not queued forever; once the stalled
    clients go, the page is served again."""
    limit = 4
    with run_dashboard(RecordingSource(), web_dir=dashboard_web_dir, limit_concurrency=limit) as d:
        stalled = []
        try:
            for _ in range(limit):
                sock = socket.create_connection(("127.0.0.1", d.port))
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
                stalled.append(sock)
            time.sleep(0.2)
            assert httpx.get(d.url + "/healthz", timeout=5).status_code == 503
        finally:
            for sock in stalled:
                sock.close()
        deadline = time.monotonic() + 5
        while httpx.get(d.url + "/healthz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the server did not recover after the stalled clients left"
            time.sleep(0.05)
    assert make_server(create_app(RecordingSource(), key=KEY)).config.limit_concurrency == LIMIT_CONCURRENCY
