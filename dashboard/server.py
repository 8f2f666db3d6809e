"""The dashboard's web server: the page, its static files and one WebSocket per page.

:func:`create_app` builds a Starlette app around a :class:`~dashboard.source.Source` (a live
engine or a replayed run); :func:`serve` runs it under uvicorn and prints the page's address with
its key. Routes:

``/``
    ``web/index.html`` (503 with a one-line fix when the page or its npm libraries are missing).
``/static/<path>``
    The files of ``web/`` (never ``node_modules``, never a dotted name, never outside ``web/``).
``/vendor/<package>/<path>``
    ``web/node_modules/<package>/dist/<path>`` for the packages of :data:`VENDOR_PACKAGES` only.
``/ws?key=KEY``
    The page's WebSocket (:mod:`dashboard.protocol`). The key is checked (constant-time) before
    anything is sent; without the right one, or with ``key`` given more than once, the socket is
    closed with :data:`~dashboard.protocol.CLOSE_BAD_KEY`. The ``Origin`` header is not checked:
    the key is the guard (a page from elsewhere cannot know it). Beyond :data:`DEFAULT_MAX_PAGES`
    pages the socket is closed with :data:`CLOSE_TOO_MANY_PAGES`. Each message from the page must be a JSON object
    of at most :data:`MAX_PAGE_MESSAGE_BYTES` bytes with a known ``type``
    (:data:`PAGE_MESSAGE_TYPES`); anything else is answered with an ``error`` message and the
    connection stays open. A page sending more than :data:`MAX_PAGE_MESSAGES_PER_S` messages in a
    second gets one ``error`` and the rest of that second's messages are ignored.
``/healthz``
    ``{"ok": true, "mode": ..., "pages": N}`` (no key needed, nothing about the service).

Each page gets a :class:`PageClient`: a bounded queue with one sender task. A page that does not
keep up first loses its queued ``vehicles``, ``rides`` and ``clock`` messages (superseded by the
next full ones, see :class:`dashboard.source.Client`); if its queue still fills up with other
messages it is disconnected (close code :data:`CLOSE_TOO_SLOW`), so a page that never reads holds
at most :data:`DEFAULT_MAX_QUEUE` messages in the server.

The key is the page's only protection: anyone with the address and the key sees the fleet. The
server listens on 127.0.0.1 unless told otherwise; on any other address, serve over TLS
(``tls_cert``/``tls_key``) so the key does not cross the network in the clear.

Slow or idle HTTP clients (:func:`make_server`): uvicorn serves at most :data:`LIMIT_CONCURRENCY`
connections and requests at once (beyond, new requests are answered 503), and closes an idle
kept-alive connection after :data:`TIMEOUT_KEEP_ALIVE_S`. What remains: neither of uvicorn's
HTTP protocols (httptools, used here, nor h11) times out a connection before its first request
is complete (the keep-alive timer starts after a response), so a client that sends nothing, or
half its headers and then trickles, holds its connection (one of the :data:`LIMIT_CONCURRENCY`)
for as long as it likes; with that many such clients the page gets 503 until they go. Put a
proxy with header timeouts in front of a dashboard exposed to untrusted networks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import itertools
import logging
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Final

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from . import protocol
from .source import Source

__all__ = [
    "CLOSE_TOO_MANY_PAGES",
    "CLOSE_TOO_SLOW",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_QUEUE",
    "LIMIT_CONCURRENCY",
    "MAX_PAGE_MESSAGES_PER_S",
    "MAX_PAGE_MESSAGE_BYTES",
    "PAGE_MESSAGE_TYPES",
    "TIMEOUT_KEEP_ALIVE_S",
    "VENDOR_PACKAGES",
    "WEB_DIR",
    "PageClient",
    "bind_socket",
    "create_app",
    "encode",
    "make_server",
    "page_url",
    "serve",
]

log = logging.getLogger(__name__)

#: The page's files (index.html, app.js, app.css; the npm libraries in node_modules).
WEB_DIR: Final = Path(__file__).resolve().parent / "web"
#: npm packages the page may load, each from its ``dist`` folder.
VENDOR_PACKAGES: Final = ("leaflet", "uplot")
#: The message types a page may send (see :mod:`dashboard.protocol`).
PAGE_MESSAGE_TYPES: Final = ("select", "seek", "play", "pause", "speed")
#: The largest message a page may send (bytes); larger ones are answered with an ``error``.
MAX_PAGE_MESSAGE_BYTES: Final = 64 * 1024
#: Messages a page may send per second; more are refused (each costs the engine a call).
MAX_PAGE_MESSAGES_PER_S: Final = 20
#: Above this the WebSocket layer itself closes the connection (code 1009, message too big).
MAX_FRAME_BYTES: Final = 1024 * 1024
#: Messages held for one page before it is cut (see :class:`PageClient`).
DEFAULT_MAX_QUEUE: Final = 256
#: Connections and requests uvicorn serves at once; beyond, new requests are answered 503.
LIMIT_CONCURRENCY: Final = 256
#: An idle kept-alive HTTP connection is closed after this many seconds.
TIMEOUT_KEEP_ALIVE_S: Final = 5
#: Pages connected at once; more are refused with :data:`CLOSE_TOO_MANY_PAGES`.
DEFAULT_MAX_PAGES: Final = 64
#: Close code for a page that fell too far behind (its queue was full of messages it must not lose).
CLOSE_TOO_SLOW: Final = 4408
#: Close code when :data:`DEFAULT_MAX_PAGES` pages are already connected.
CLOSE_TOO_MANY_PAGES: Final = 4429
#: How long closing a page's socket may take (a page that reads nothing never acknowledges it).
CLOSE_TIMEOUT_S: Final = 2.0
#: The messages a slow page may lose: the next full one replaces them.
SUPERSEDED_TYPES: Final = frozenset({"vehicles", "rides", "clock"})
#: The one line that says how to install the page's libraries.
SETUP_HINT: Final = "run `make setup` (npm ci in dashboard/web)"

_ids = itertools.count(1)
#: The last messages encoded, by identity: a message broadcast to every page is encoded once.
_ENCODED_CACHE = 32
_encoded: OrderedDict[int, tuple[dict[str, Any], str]] = OrderedDict()
_encoded_lock = threading.Lock()  # servers on several threads (tests) share the cache


def encode(message: dict[str, Any]) -> str:
    """``message`` as JSON text (orjson). The same message object sent to many pages is encoded
    once (the last :data:`_ENCODED_CACHE` are remembered by identity, holding a reference so that
    the identity is not reused): a source must not change a message after sending it."""
    key = id(message)
    with _encoded_lock:
        hit = _encoded.get(key)
        if hit is not None and hit[0] is message:
            _encoded.move_to_end(key)
            return hit[1]
    text = orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    with _encoded_lock:
        _encoded[key] = (message, text)
        if len(_encoded) > _ENCODED_CACHE:
            _encoded.popitem(last=False)
    return text


class PageClient:
    """One connected page (implements :class:`dashboard.source.Client`): a bounded queue of
    messages and the task that sends them, in order, as JSON text frames.

    :meth:`send` never blocks. When the queue holds ``max_queue`` messages, the queued
    ``vehicles``, ``rides`` and ``clock`` messages are dropped and :attr:`behind` becomes true;
    while behind, partial ``vehicles``/``rides`` messages are dropped too, until a full one of
    each kind is queued. If the queue is still full (the page reads nothing at all), the page is
    disconnected with :data:`CLOSE_TOO_SLOW` and later messages are discarded.
    """

    def __init__(self, websocket: WebSocket, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        if max_queue < 2:
            raise ValueError(f"max_queue: {max_queue}, expected at least 2")
        self._id = next(_ids)
        self._websocket = websocket
        self._max_queue = max_queue
        self._queue: deque[dict[str, Any]] = deque()
        self._wakeup = asyncio.Event()
        self._stale: set[str] = set()  # "vehicles"/"rides" whose next message must be full
        self.closed_reason: str | None = None
        self._close_code = 1000
        self._sending: asyncio.Future[None] | None = None
        self.dropped = 0  # messages dropped so far (for the log and the tests)

    @property
    def id(self) -> int:
        return self._id

    @property
    def behind(self) -> bool:
        return bool(self._stale)

    @property
    def queued(self) -> int:
        """Messages waiting to be sent."""
        return len(self._queue)

    def send(self, message: dict[str, Any]) -> None:
        if self.closed_reason is not None:
            return
        kind = message.get("type")
        if kind in ("vehicles", "rides"):
            if message.get("full"):
                self._stale.discard(kind)
            elif kind in self._stale:
                self.dropped += 1
                return
        if len(self._queue) >= self._max_queue:
            self._shed()
            if len(self._queue) >= self._max_queue:
                self.close(CLOSE_TOO_SLOW, "the page fell too far behind the server's updates")
                return
            if kind in ("vehicles", "rides") and not message.get("full"):
                self.dropped += 1
                return
        self._queue.append(message)
        self._wakeup.set()

    def _shed(self) -> None:
        kept: deque[dict[str, Any]] = deque()
        for message in self._queue:
            kind = message.get("type")
            if kind in SUPERSEDED_TYPES:
                self.dropped += 1
                if kind != "clock":
                    self._stale.add(kind)
            else:
                kept.append(message)
        self._queue = kept
        log.info("page %d is behind: %d messages dropped so far", self._id, self.dropped)

    def close(self, code: int, reason: str) -> None:
        """Stop sending: a send in progress (to a page that does not read) is abandoned, and the
        sender task closes the socket with ``code`` and ``reason`` (giving up after
        :data:`CLOSE_TIMEOUT_S` if the page does not read that either)."""
        if self.closed_reason is None:
            self.closed_reason = reason
            self._close_code = code
            self._queue.clear()
            self._wakeup.set()
            if self._sending is not None and not self._sending.done():
                self._sending.cancel()

    async def run_sender(self) -> None:
        """Send the queued messages until the page goes away or :meth:`close` is called."""
        websocket = self._websocket
        try:
            while True:
                while not self._queue and self.closed_reason is None:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                if self.closed_reason is not None:
                    break
                message = self._queue.popleft()
                self._sending = asyncio.ensure_future(websocket.send_text(encode(message)))
                try:
                    await self._sending
                except asyncio.CancelledError:
                    if self.closed_reason is None:  # the task itself was cancelled
                        raise
                finally:
                    self._sending = None
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the page went away while we were sending
        log.info("page %d closed: %s", self._id, self.closed_reason)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(self._close_code, (self.closed_reason or "")[:120]), CLOSE_TIMEOUT_S)


def _json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type (null, boolean, number, string, array)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "value"


def parse_page_message(data: str | bytes | None) -> dict[str, Any] | dict[str, str]:
    """The page's message as a dict, or an ``error`` message (``type`` "error") saying what is wrong."""
    if data is None:
        return protocol.error("message", "expected a JSON object as a text message")
    if len(data) > MAX_PAGE_MESSAGE_BYTES:
        return protocol.error(
            "message", f"{len(data)} bytes; a message may have at most {MAX_PAGE_MESSAGE_BYTES} bytes"
        )
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return protocol.error("message", "not JSON; expected a JSON object with a type")
    if not isinstance(message, dict):
        return protocol.error("message", f"a JSON {_json_kind(message)}; expected a JSON object with a type")
    kind = message.get("type")
    if kind not in PAGE_MESSAGE_TYPES:
        shown = repr(kind)[:40]
        return protocol.error("type", f"unknown type {shown}; expected one of {', '.join(PAGE_MESSAGE_TYPES)}")
    return message


class _SecurityHeaders:
    """Adds the security headers to every HTTP response: no framing, no sniffing, no referrer (the
    key is in the page's address) and a Content-Security-Policy allowing only this server (and
    the tile server, if one is configured)."""

    def __init__(self, app: ASGIApp, *, img_sources: tuple[str, ...] = ()) -> None:
        self.app = app
        self.img_sources = " ".join(img_sources)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
        connect = "'self'"
        if host and all(c.isalnum() or c in ".-:[]" for c in host):
            connect += f" ws://{host} wss://{host}"
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data: blob: {self.img_sources}".rstrip()
            + f"; font-src 'self'; connect-src {connect}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        extra = [
            (b"content-security-policy", csp.encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _inside(root: Path, relative: str) -> Path | None:
    """``root / relative`` if it is a file inside ``root`` with no hidden or node_modules part
    (None for anything else, including names the file system cannot hold, such as a NUL byte)."""
    if "\x00" in relative:
        return None
    parts = Path(relative).parts
    if not parts or any(p in ("..", "node_modules") or p.startswith(".") or "\\" in p for p in parts):
        return None
    if Path(relative).is_absolute():
        return None
    try:
        path = (root / relative).resolve()
        path.relative_to(root.resolve())
        return path if path.is_file() else None
    except (ValueError, OSError):  # outside root; a name too long or otherwise refused by the OS
        return None


def tile_origin(tiles: str | None) -> str | None:
    """The origin (``https://host``) of a tile URL template, for the page's CSP; None if no tiles."""
    if not tiles:
        return None
    scheme, sep, rest = tiles.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f"tiles: {tiles!r} is not an http(s) URL template")
    host = rest.split("/", 1)[0]
    if not host:
        raise ValueError(f"tiles: {tiles!r} has no host")
    # {s}.tile.example.org: allow the subdomains
    host = host.replace("{s}", "*")
    return f"{scheme}://{host}"


def create_app(
    source: Source,
    *,
    key: str,
    web_dir: Path = WEB_DIR,
    tiles: str | None = None,
    max_queue: int = DEFAULT_MAX_QUEUE,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Starlette:
    """The dashboard's ASGI app around ``source``; pages must present ``key`` (see the module's
    docstring for the routes). The source is started with the app and stopped with it.
    ``tiles`` (a tile URL template the source puts in its hello) is allowed as an image source.
    ``app.state.pages`` holds the connected :class:`PageClient` objects, by id."""
    if not key:
        raise ValueError("key: empty; pages must present a key")
    web_dir = Path(web_dir)
    key_bytes = key.encode()
    pages: dict[int, PageClient] = {}

    def missing_setup() -> str | None:
        if not (web_dir / "index.html").is_file():
            return f"the page is missing ({web_dir / 'index.html'}): reinstall the dashboard"
        absent = [p for p in VENDOR_PACKAGES if not (web_dir / "node_modules" / p / "dist").is_dir()]
        if absent:
            return f"the page's libraries are not installed ({', '.join(absent)}): {SETUP_HINT}"
        return None

    async def index(request: Request) -> Response:
        problem = missing_setup()
        if problem is not None:
            return PlainTextResponse(problem + "\n", status_code=503)
        return FileResponse(web_dir / "index.html", headers={"cache-control": "no-store"})

    async def static(request: Request) -> Response:
        path = _inside(web_dir, request.path_params["path"])
        if path is None:
            return PlainTextResponse("not found\n", status_code=404)
        return FileResponse(path, headers={"cache-control": "no-cache"})

    async def vendor(request: Request) -> Response:
        package = request.path_params["package"]
        if package not in VENDOR_PACKAGES:
            return PlainTextResponse("not found\n", status_code=404)
        dist = web_dir / "node_modules" / package / "dist"
        if not dist.is_dir():
            return PlainTextResponse(f"{package} is not installed: {SETUP_HINT}\n", status_code=503)
        path = _inside(dist, request.path_params["path"])
        if path is None:
            return PlainTextResponse("not found\n", status_code=404)
        return FileResponse(path, headers={"cache-control": "max-age=3600"})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "mode": source.mode, "pages": len(pages)})

    async def websocket_endpoint(websocket: WebSocket) -> None:
        keys = websocket.query_params.getlist("key")
        given = keys[0] if len(keys) == 1 else ""  # a repeated key is refused, whichever is right
        await websocket.accept()
        if not hmac.compare_digest(given.encode(), key_bytes):
            await websocket.close(protocol.CLOSE_BAD_KEY, "wrong or missing key")
            return
        if len(pages) >= max_pages:
            await websocket.close(CLOSE_TOO_MANY_PAGES, f"already {max_pages} pages connected")
            return
        client = PageClient(websocket, max_queue=max_queue)
        pages[client.id] = client
        sender = asyncio.create_task(client.run_sender(), name=f"dashboard-page-{client.id}")
        window_start, window_count = time.monotonic(), 0
        try:
            try:
                await source.connected(client)
            except Exception:
                log.exception("the source failed to greet page %d", client.id)
                client.send(protocol.error("source", "the server could not load the view; see its log"))
            while not sender.done():
                receiving = asyncio.ensure_future(websocket.receive())
                done, _ = await asyncio.wait({receiving, sender}, return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    receiving.cancel()
                    with contextlib.suppress(BaseException):
                        await receiving
                    break
                raw = receiving.result()
                if raw["type"] == "websocket.disconnect":
                    break
                data = raw.get("text")
                if data is None:
                    data = raw.get("bytes")
                now = time.monotonic()
                if now - window_start >= 1.0:
                    window_start, window_count = now, 0
                window_count += 1
                if window_count > MAX_PAGE_MESSAGES_PER_S:
                    if window_count == MAX_PAGE_MESSAGES_PER_S + 1:
                        limit = MAX_PAGE_MESSAGES_PER_S
                        client.send(protocol.error("message", f"more than {limit} messages a second; the rest ignored"))
                    continue
                message = parse_page_message(data)
                if message.get("type") == "error":
                    client.send(message)
                    continue
                try:
                    await source.received(client, message)
                except Exception:
                    log.exception("the source failed on a message of page %d", client.id)
                    client.send(
                        protocol.error("type", f"the server could not handle {message.get('type')!r}; see its log")
                    )
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            pages.pop(client.id, None)
            client.close(1000, "bye")
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(sender, timeout=1.0)
            if not sender.done():
                sender.cancel()
            try:
                await source.disconnected(client)
            except Exception:
                log.exception("the source failed on the departure of page %d", client.id)
            if websocket.client_state != WebSocketState.DISCONNECTED:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(websocket.close(), CLOSE_TIMEOUT_S)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await source.start()
        try:
            yield
        finally:
            for client in list(pages.values()):
                client.close(1001, "the dashboard is shutting down")
            await source.stop()

    origin = tile_origin(tiles)
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/index.html", index),
            Route("/static/{path:path}", static),
            Route("/vendor/{package}/{path:path}", vendor),
            Route("/healthz", healthz),
            WebSocketRoute("/ws", websocket_endpoint),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(_SecurityHeaders, img_sources=(origin,) if origin else ())
    app.state.pages = pages
    app.state.key = key
    return app


def is_local_host(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port, see ``getsockname()``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def page_url(host: str, port: int, key: str, *, tls: bool = False) -> str:
    """The page's address with its key."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/?key={key}"


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGINT (Ctrl-C) and SIGTERM only stop it (a second Ctrl-C
    forces it): the signal is not raised again afterwards, so ``serve`` returns 0 as ``mobility
    serve`` does."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


def make_server(
    app: ASGIApp,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    log_level: str = "warning",
    limit_concurrency: int = LIMIT_CONCURRENCY,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` (run it with ``server.run(sockets=[bind_socket(...)])``):
    WebSocket frames limited to :data:`MAX_FRAME_BYTES`, at most :data:`LIMIT_CONCURRENCY`
    connections at once (503 beyond), idle connections closed after :data:`TIMEOUT_KEEP_ALIVE_S`,
    TLS with ``tls_cert``/``tls_key``. ``limit_concurrency`` replaces :data:`LIMIT_CONCURRENCY`
    (tests)."""
    config = uvicorn.Config(
        app,
        ws="websockets-sansio",
        ws_max_size=MAX_FRAME_BYTES,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        timeout_graceful_shutdown=3,
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=TIMEOUT_KEEP_ALIVE_S,
    )
    return _Server(config)


def check_tls_files(tls_cert: Path | None, tls_key: Path | None) -> None:
    """ValueError naming the option if only one of the two is given or they do not load."""
    if (tls_cert is None) != (tls_key is None):
        raise ValueError("--tls-cert and --tls-key: give both (the page's certificate and its key) or neither")
    if tls_cert is None or tls_key is None:
        return
    for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if not Path(path).is_file():
            raise ValueError(f"{option}: {path}: no such file")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(tls_cert, tls_key)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(
            f"--tls-cert/--tls-key: {tls_cert} with {tls_key} is not a usable certificate and key ({exc})"
        ) from None


def serve(
    source: Source,
    *,
    host: str = "127.0.0.1",
    port: int = 8050,
    key: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    tiles: str | None = None,
    web_dir: Path = WEB_DIR,
    announce: Callable[[str], None] | None = None,
) -> int:
    """Serve the dashboard for ``source`` until interrupted (Ctrl-C or SIGTERM); returns 0.

    Prints (through ``announce``, default: stdout) the page's address with its key — a random
    one (``secrets.token_urlsafe``) unless ``key`` is given. ``port`` 0 picks a free port (the
    real one is printed). Raises ValueError (one line naming the option) for a bad option and
    OSError when the address cannot be bound.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"--port: {port}, expected 0 .. 65535")
    if key is not None and len(key) < 8:
        raise ValueError("--key: at least 8 characters (it is the page's only protection)")
    check_tls_files(tls_cert, tls_key)
    key = key or secrets.token_urlsafe(24)
    app = create_app(source, key=key, web_dir=web_dir, tiles=tiles)
    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    say = announce or (lambda line: print(line, flush=True))
    say(f"dashboard ({source.mode}): open {page_url(host, real_port, key, tls=tls_cert is not None)}")
    if not is_local_host(host) and tls_cert is None:
        print(
            f"warning: serving on {host} without TLS: the key crosses the network in the clear "
            "(use --tls-cert/--tls-key)",
            file=sys.stderr,
            flush=True,
        )
    server = make_server(app, tls_cert=tls_cert, tls_key=tls_key)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
