"""Fixtures of the engine tests: a real ``redis-server`` and a fresh store of each kind.

``redis_server`` starts one ``redis-server`` for the session on a free local port, with AOF
persistence that syncs every write (``--appendfsync always``), in a temporary directory. Tests
may kill it (SIGKILL, as a crash) and start it again on the same port and directory, to check
what survives; the ``store`` fixture starts it again if a test left it down.

The server is not optional: without ``redis-server`` the tests fail and say how to install it
(``make test`` does, through ``make system-deps``).

The live-engine tests start real gRPC servers of the bundled ``imod_jamsil`` scenario on free
ports with an external clock: ``start_engine(store=..., tokens=..., block_until_ready=...)``
(stopped after the test), ``engine`` (ready, no authentication, once on the memory store and
once on the session's Redis, flushed first) and ``tokens_file`` (riders ``alice`` and ``bob``,
the driver of ``veh0003`` and an operator; :data:`TOKENS`, :func:`bearer`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.core import EngineCore
from engine.frontend import CoreHost, FrontEnds, serve_with_frontends
from engine.gateway import GrpcServer
from engine.redis_store import RedisStore
from engine.server import create_server
from engine.settings import Settings
from engine.store import MemoryStore, StateStore
from mobility.v1 import driver_pb2_grpc, operator_pb2_grpc, rider_pb2_grpc

#: How long a starting server may take to answer PING (it replays its AOF first).
START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1:``port`` with its AOF in ``dir``."""

    def __init__(self, executable: str, port: int, directory: Path) -> None:
        self.executable = executable
        self.port = port
        self.dir = directory
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server (again) on the same port and directory; wait until it answers PING."""
        if self.running:
            raise RuntimeError(f"redis-server on port {self.port} is already running")
        command = [
            self.executable,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.log),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1.0, socket_connect_timeout=1.0)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server on port {self.port} exited with code {self._process.returncode} "
                        f"while starting; its log:\n{self._log_tail()}"
                    )
                try:
                    if client.ping():
                        return
                except redis.RedisError:  # refused, or LOADING while it replays the AOF
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"redis-server on port {self.port} did not answer PING within {START_TIMEOUT_S:.0f} s; "
                        f"its log:\n{self._log_tail()}"
                    )
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (no shutdown, no final AOF rewrite); wait until it is gone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def stop(self) -> None:
        """Terminate the server politely (SIGTERM), killing it if it lingers."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None

    def client(self) -> redis.Redis:
        """A plain redis-py client of this server (strings decoded)."""
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5.0)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session (AOF, fsync on every write); fails if it is not installed."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail(
            "redis-server not found: the store tests run against a real Redis server. "
            "Run `make test` (its system-deps step installs redis-server with apt-get), "
            "or install it yourself (apt-get install redis-server).",
            pytrace=False,
        )
    server = RedisServer(executable, free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_store(redis_server: RedisServer) -> Iterator[RedisStore]:
    """A fresh RedisStore: the database flushed, and a key prefix of its own."""
    if not redis_server.running:  # an earlier test killed it and failed before starting it again
        redis_server.start()
    with redis_server.client() as client:
        client.flushdb()
    store = RedisStore(redis_server.url, prefix=f"test:{uuid.uuid4().hex[:8]}:")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> StateStore:
    """A fresh store of each kind: every test that takes it runs once on memory, once on Redis."""
    if request.param == "memory":
        return MemoryStore()
    redis_store: RedisStore = request.getfixturevalue("redis_store")
    return redis_store


# ---------------------------------------------------------------------------- live gRPC engines
#: The bundled I-MOD scenario (16 minibuses, 35 stops in Seoul Jamsil) the server tests deploy.
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "imod_jamsil.toml"

#: The bearer tokens of :func:`tokens_file`: name -> (token, role, subject).
TOKENS = {
    "alice": ("rider-alice-7f3c91", "rider", "alice"),
    "bob": ("rider-bob-0a2d55", "rider", "bob"),
    "driver": ("driver-veh0003-e81b", "driver", "veh0003"),
    "operator": ("operator-main-4c6f", "operator", "*"),
}


def bearer(name: str) -> list[tuple[str, str]]:
    """Call metadata carrying the token of ``name`` (a key of :data:`TOKENS`)."""
    return [("authorization", f"Bearer {TOKENS[name][0]}")]


@dataclass
class Engine:
    """A live engine on 127.0.0.1:``port`` with a channel and a stub of each service."""

    server: GrpcServer | None  # None with front ends: gRPC runs in their processes
    port: int
    core: EngineCore
    channel: grpc.Channel
    rider: rider_pb2_grpc.RiderServiceStub
    driver: driver_pb2_grpc.DriverServiceStub
    operator: operator_pb2_grpc.OperatorServiceStub
    health: health_pb2_grpc.HealthStub
    frontends: FrontEnds | None = None
    host: CoreHost | None = None

    def wait_serving(self, timeout_s: float = 60.0) -> None:
        """Block until the health service says SERVING (the engine started in the background)."""
        deadline = time.monotonic() + timeout_s
        request = health_pb2.HealthCheckRequest(service="")
        while self.health.Check(request, timeout=5).status != health_pb2.HealthCheckResponse.SERVING:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the engine on port {self.port} did not become SERVING in {timeout_s} s")
            time.sleep(0.02)

    def close(self) -> None:
        self.channel.close()
        if self.server is not None:
            self.server.stop(0).wait(10)
        if self.frontends is not None:
            self.frontends.stop()
        if self.host is not None:
            self.host.close()
        self.core.stop()


def launch_engine(
    data_dir: Path,
    *,
    store: str = "memory",
    tokens: Path | None = None,
    block_until_ready: bool = True,
    seed: int = 0,
    frontends: int = 0,
    **options: Any,
) -> Engine:
    """Start a real gRPC engine on a free port (external clock) and connect to it.

    With ``frontends``, gRPC runs in that many front-end processes (``mobility serve
    --frontends``) and the writer in this process (``Engine.core``, for the tests to inspect).
    Further ``options`` are :class:`~engine.settings.Settings` fields (the limits, say)."""
    settings = Settings(
        scenario=SCENARIO,
        data_dir=data_dir,
        store=store,
        port=0,
        clock="external",
        tokens=tokens,
        seed=seed,
        frontends=frontends,
        **options,
    )
    server: GrpcServer | None = None
    front: FrontEnds | None = None
    host: CoreHost | None = None
    if frontends:
        front, core, host = serve_with_frontends(settings, frontends)
        port = front.port
        if block_until_ready:
            core.start()
            front.wait_serving()
        else:
            threading.Thread(target=core.start, name="engine-start", daemon=True).start()
    else:
        server, port, core = create_server(settings, block_until_ready=block_until_ready)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return Engine(
        server=server,
        frontends=front,
        host=host,
        port=port,
        core=core,
        channel=channel,
        rider=rider_pb2_grpc.RiderServiceStub(channel),
        driver=driver_pb2_grpc.DriverServiceStub(channel),
        operator=operator_pb2_grpc.OperatorServiceStub(channel),
        health=health_pb2_grpc.HealthStub(channel),
    )


@pytest.fixture
def start_engine(data_dir: Path) -> Iterator[Callable[..., Engine]]:
    """``start_engine(store=..., tokens=..., block_until_ready=...)``: engines stopped after the test."""
    engines: list[Engine] = []

    def start(**options: Any) -> Engine:
        engine = launch_engine(data_dir, **options)
        engines.append(engine)
        return engine

    yield start
    for engine in reversed(engines):
        engine.core.ready.wait(60)  # a core still starting in the background would start its writer after stop()
        engine.close()


@pytest.fixture(params=["memory", "redis", "redis, front end"])
def engine_setup(request: pytest.FixtureRequest) -> dict[str, Any]:
    """How to start a fresh engine (``start_engine(**engine_setup)``): on the memory store; on the
    session's Redis (flushed); and on Redis with gRPC in a front-end process of its own."""
    if request.param == "memory":
        return {"store": "memory"}
    server: RedisServer = request.getfixturevalue("redis_server")
    if not server.running:  # an earlier test killed it and failed before starting it again
        server.start()
    with server.client() as client:
        client.flushdb()
    return {"store": server.url, "frontends": 1 if "front end" in request.param else 0}


@pytest.fixture
def engine(start_engine: Callable[..., Engine], engine_setup: dict[str, Any]) -> Engine:
    """A ready engine without authentication: memory store, Redis, Redis with a front-end process."""
    return start_engine(**engine_setup)


@pytest.fixture(scope="session")
def tokens_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A token file (TOML) with two riders, one driver (of ``veh0003``) and one operator: :data:`TOKENS`."""
    path = tmp_path_factory.mktemp("auth") / "tokens.toml"
    rows = [
        f'[[tokens]]\ntoken = "{token}"\nrole = "{role}"\nsubject = "{subject}"\n'
        for token, role, subject in TOKENS.values()
    ]
    path.write_text("\n".join(rows))
    return path
