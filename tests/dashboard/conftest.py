"""Fixtures of the dashboard tests: a real dashboard server on a free port, in a thread.

``run_dashboard(source, key=..., tls_cert=..., tls_key=..., limit_concurrency=..., **create_app
options)`` starts
:func:`dashboard.server.create_app` under uvicorn (as :func:`dashboard.server.serve` does) on
127.0.0.1 and a free port in a background thread, and yields a :class:`RunningDashboard` (its
``url``, ``ws_url``, ``key``, ``app``, and ``call(coro)`` to run a coroutine on the server's
event loop); the server is stopped afterwards. ``engine_on_port(data_dir, port, tokens=...)``
starts a real engine on a given port (to stop it and start another on the same address).
``dashboard_web_dir`` is a minimal page folder (an index.html and fake leaflet/uplot dist files)
for tests that do not need the real page.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from grpc_health.v1 import health_pb2_grpc
from starlette.applications import Starlette

from dashboard.server import LIMIT_CONCURRENCY, bind_socket, create_app, make_server
from dashboard.source import Source
from engine.server import create_server
from engine.settings import Settings
from proto.mobility.v1 import driver_pb2_grpc, operator_pb2_grpc, rider_pb2_grpc
from tests.engine.conftest import SCENARIO, Engine
from tests.engine.conftest import redis_server as redis_server  # the session's Redis, for a restart on Redis
from tests.engine.conftest import tls_files as tls_files  # the session's certificates, for the TLS tests

T = TypeVar("T")

KEY = "test-key-0123456789"
#: The clock of the engines of :func:`engine_on_port` when they start: 08:00.
ENGINE_START_S = 8 * 3600


@dataclass
class RunningDashboard:
    url: str
    ws_url: str
    key: str
    port: int
    app: Starlette
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the server's event loop and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)


@contextlib.contextmanager
def run_dashboard(
    source: Source,
    *,
    key: str = KEY,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    limit_concurrency: int = LIMIT_CONCURRENCY,
    **options: Any,
) -> Iterator[RunningDashboard]:
    app = create_app(source, key=key, **options)
    server = make_server(app, tls_cert=tls_cert, tls_key=tls_key, limit_concurrency=limit_concurrency)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    loops: list[asyncio.AbstractEventLoop] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            loop = asyncio.new_event_loop()
            loops.append(loop)
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server.serve(sockets=[sock]))
            # as asyncio.run does: finish what is left (the lifespan's last steps), then close
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="dashboard-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"the dashboard server did not start: {errors}")
        if time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start within 30 s")
        time.sleep(0.01)
    try:
        secure = "s" if tls_cert else ""
        yield RunningDashboard(
            url=f"http{secure}://127.0.0.1:{port}",
            ws_url=f"ws{secure}://127.0.0.1:{port}/ws",
            key=key,
            port=port,
            app=app,
            loop=loops[0],
        )
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture
def dashboard_web_dir(tmp_path: Path) -> Path:
    """A page folder with an index.html, an app.js and fake leaflet/uplot dist files."""
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>test page</title>\n")
    (web / "app.js").write_text("console.log('app');\n")
    for package in ("leaflet", "uplot"):
        dist = web / "node_modules" / package / "dist"
        dist.mkdir(parents=True)
        (dist / f"{package}.js").write_text(f"// {package}\n")
        (web / "node_modules" / package / "package.json").write_text("{}\n")
    (tmp_path / "secret.txt").write_text("outside the web folder\n")
    return web


# ---------------------------------------------------------------------------- engines on a chosen port
def engine_on_port(data_dir: Path, port: int, *, tokens: Path | None = None, store: str = "memory") -> Engine:
    """A real gRPC engine (the bundled imod_jamsil, on ``store``, external clock) on 127.0.0.1:``port``
    (0: a free one), ready, its clock at :data:`ENGINE_START_S`; as
    :func:`tests.engine.conftest.launch_engine`, but on the port given, so that a test can stop it
    and start another on the same address."""
    settings = Settings(
        scenario=SCENARIO, data_dir=data_dir, store=store, port=port, clock="external", tokens=tokens, seed=0
    )
    server, real_port, core = create_server(settings, block_until_ready=True)
    channel = grpc.insecure_channel(f"127.0.0.1:{real_port}")
    engine = Engine(
        server=server,
        port=real_port,
        core=core,
        channel=channel,
        rider=rider_pb2_grpc.RiderServiceStub(channel),
        driver=driver_pb2_grpc.DriverServiceStub(channel),
        operator=operator_pb2_grpc.OperatorServiceStub(channel),
        health=health_pb2_grpc.HealthStub(channel),
    )
    engine.advance(ENGINE_START_S)
    return engine
