"""Fixtures of the engine tests: a real ``redis-server`` and a fresh store of each kind.

``redis_server`` starts one ``redis-server`` for the session on a free local port, with AOF
persistence that syncs every write (``--appendfsync always``), in a temporary directory. Tests
may kill it (SIGKILL, as a crash) and start it again on the same port and directory, to check
what survives; the ``store`` fixture starts it again if a test left it down.

The server is not optional: without ``redis-server`` the tests fail and say how to install it
(``make test`` does, through ``make system-deps``).

The live-engine tests start real gRPC servers of the bundled ``imod_jamsil`` scenario on free
ports with an external clock: ``start_engine(store=..., tokens=..., block_until_ready=...)``
(stopped after the test), ``engine`` (ready, no authentication: on the memory store, on the session's Redis, flushed
first, on Redis with a front-end process, and over TLS: memory store, a front end, certificates
made for the session, see :mod:`tests.engine.certs`), ``tls_files`` and ``tokens_file`` (riders ``alice`` and ``bob``,
the driver of ``veh0003`` and an operator; :data:`TOKENS`, :func:`bearer`).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from proto.mobility.v1 import driver_pb2_grpc, operator_pb2, operator_pb2_grpc, rider_pb2_grpc
from tests.engine.certs import TLSFiles, make_tls_files

if TYPE_CHECKING:
    from engine.store import RedisAccess

#: How long a starting server may take to answer PING (it replays its AOF first).
START_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1:``port`` with its AOF in ``dir``.

    With ``tls`` (certificates of :mod:`tests.engine.certs`) it listens on ``port`` with TLS only
    and asks clients for a certificate of ``tls.ca``; with ``password`` it requires that password.
    """

    def __init__(
        self,
        executable: str,
        port: int,
        directory: Path,
        *,
        tls: TLSFiles | None = None,
        password: str | None = None,
    ) -> None:
        self.executable = executable
        self.port = port
        self.dir = directory
        self.tls = tls
        self.password = password
        self.url = f"{'rediss' if tls else 'redis'}://127.0.0.1:{port}/0"
        self.log = directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def access(self) -> RedisAccess:
        """What a store needs to reach this server beyond its URL: the password, the certificates."""
        from engine.store import RedisAccess

        if self.tls is None:
            return RedisAccess(self.password)
        return RedisAccess(self.password, self.tls.ca, self.tls.client_cert, self.tls.client_key)

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"password": self.password}
        if self.tls is not None:
            options.update(ssl=True, ssl_ca_certs=str(self.tls.ca), ssl_certfile=str(self.tls.client_cert),
                           ssl_keyfile=str(self.tls.client_key))  # fmt: skip
        return options

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
        if self.tls is not None:
            command[command.index("--port") + 1] = "0"  # no plaintext port
            command += ["--tls-port", str(self.port), "--tls-cert-file", str(self.tls.server_cert),
                        "--tls-key-file", str(self.tls.server_key), "--tls-ca-cert-file", str(self.tls.ca),
                        "--tls-auth-clients", "yes"]  # fmt: skip
        # the password through stdin (a config file read from "-"), so that ps does not show it
        config = f"requirepass {self.password}\n".encode() if self.password else b""
        self._process = subprocess.Popen([*command[:1], "-", *command[1:]], stdin=subprocess.PIPE)
        assert self._process.stdin is not None
        self._process.stdin.write(config)
        self._process.stdin.close()
        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=1.0, socket_connect_timeout=1.0, **self._client_options()
        )
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
        return redis.Redis(
            host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5.0, **self._client_options()
        )

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


@pytest.fixture(scope="session")
def redis_tls_server(tmp_path_factory: pytest.TempPathFactory, tls_files: TLSFiles) -> Iterator[RedisServer]:
    """A second real redis-server for the session, over TLS only (client certificates required, the
    session's :func:`tls_files`) and with a password (``requirepass``)."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server not found (see the redis_server fixture)", pytrace=False)
    password = secrets.token_urlsafe(24)
    server = RedisServer(executable, free_port(), tmp_path_factory.mktemp("redis-tls"), tls=tls_files,
                         password=password)  # fmt: skip
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


@pytest.fixture
def redis_tls_store(redis_tls_server: RedisServer) -> Iterator[RedisStore]:
    """A fresh RedisStore over TLS with a password (:func:`redis_tls_server`, flushed)."""
    with redis_tls_server.client() as client:
        client.flushdb()
    store = RedisStore(redis_tls_server.url, access=redis_tls_server.access, prefix=f"tls:{uuid.uuid4().hex[:8]}:")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(params=["memory", "redis", "redis, TLS"])
def store(request: pytest.FixtureRequest) -> StateStore:
    """A fresh store of each kind: every test that takes it runs on memory, on Redis, and on Redis
    over TLS with a password."""
    if request.param == "memory":
        return MemoryStore()
    redis_store: RedisStore = request.getfixturevalue("redis_tls_store" if "TLS" in request.param else "redis_store")
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

    def advance(self, now_s: int) -> None:
        """Move the external clock on to ``now_s``, as an operator (a rider's or driver's times do
        not move it): a re-optimisation of one iteration, which with no ride booked only brings
        the idle vehicles to ``now_s``."""
        request = operator_pb2.ReoptimiseRequest(iterations=1, now_s=now_s)
        self.operator.Reoptimise(request, metadata=bearer("operator"), timeout=30)

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
    tls: TLSFiles | None = None,
    client_certificates: bool = False,
    scenario: Path = SCENARIO,
    **options: Any,
) -> Engine:
    """Start a real gRPC engine on a free port (external clock, unless ``clock="wall"``) and connect to it.

    With ``frontends``, gRPC runs in that many front-end processes (``mobility serve
    --frontends``) and the writer in this process (``Engine.core``, for the tests to inspect).
    With ``tls``, the engine serves TLS with ``tls.server_cert`` and the channel checks it against
    ``tls.ca``; with ``client_certificates`` too, the engine requires client certificates of
    ``tls.ca`` (mutual TLS) and the channel presents ``tls.client_cert``. ``scenario``: the
    deployment (default the bundled ``imod_jamsil``). Other ``options`` are :class:`Settings` fields."""
    settings = Settings(
        scenario=scenario,
        data_dir=data_dir,
        store=store,
        port=0,
        clock=options.pop("clock", "external"),
        tokens=tokens,
        seed=seed,
        frontends=frontends,
        **(
            {}
            if tls is None
            else {
                "tls_cert": tls.server_cert,
                "tls_key": tls.server_key,
                "tls_client_ca": tls.ca if client_certificates else None,
            }
        ),
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
    if tls is None:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    else:
        from proto.client import ClientTLS, engine_channel

        mine = (tls.client_cert, tls.client_key) if client_certificates else (None, None)
        channel = engine_channel(f"127.0.0.1:{port}", ClientTLS.from_files(tls.ca, *mine))
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


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """Certificates made for the session: a CA, a server certificate for 127.0.0.1 and localhost, a
    client certificate, and another CA with a client certificate of its own (:mod:`tests.engine.certs`)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(params=["memory", "redis", "redis, front end", "memory, TLS, front end"])
def engine_setup(request: pytest.FixtureRequest) -> dict[str, Any]:
    """How to start a fresh engine (``start_engine(**engine_setup)``): on the memory store; on the
    session's Redis (flushed); on Redis with gRPC in a front-end process of its own; and over TLS
    (the session's certificates) on the memory store with a front-end process."""
    if request.param == "memory":
        return {"store": "memory"}
    if "TLS" in request.param:
        return {"store": "memory", "frontends": 1, "tls": request.getfixturevalue("tls_files")}
    server: RedisServer = request.getfixturevalue("redis_server")
    if not server.running:  # an earlier test killed it and failed before starting it again
        server.start()
    with server.client() as client:
        client.flushdb()
    return {"store": server.url, "frontends": 1 if "front end" in request.param else 0}


@pytest.fixture
def engine(start_engine: Callable[..., Engine], engine_setup: dict[str, Any]) -> Engine:
    """A ready engine without authentication: memory store, Redis, Redis with a front-end process, TLS."""
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


# ---------------------------------------------------------------------------- `mobility serve` as a subprocess
@dataclass
class ServeProcess:
    """A running ``mobility serve`` subprocess: its port, its first line on stdout, where its stderr goes."""

    process: subprocess.Popen[bytes]
    port: int
    first_line: str
    stderr: Path

    def output(self) -> str:
        """Everything it wrote so far on stderr, and its first line on stdout."""
        return self.first_line + self.stderr.read_text(errors="replace")


@contextlib.contextmanager
def serve_subprocess(
    args: list[str], folder: Path, env: dict[str, str] | None = None, timeout_s: float = 180.0
) -> Iterator[ServeProcess]:
    """Run ``python -m mobility.cli serve ARGS --port 0 --port-file ...`` until it serves (its port file is
    written after it says so); stopped (SIGTERM, then SIGKILL) when the block ends."""
    port_file = folder / "port"
    stderr = folder / "serve.err"
    command = [sys.executable, "-m", "mobility.cli", "serve", *args, "--port", "0", "--port-file", str(port_file)]
    with stderr.open("wb") as err:
        process = subprocess.Popen(command, cwd=SCENARIO.parents[1], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=err, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while not (port_file.exists() and port_file.read_text().strip().isdigit()):
            assert process.poll() is None, f"mobility serve exited: {stderr.read_text()}"
            assert time.monotonic() < deadline, f"mobility serve did not start: {stderr.read_text()}"
            time.sleep(0.1)
        assert process.stdout is not None
        yield ServeProcess(process, int(port_file.read_text()), process.stdout.readline().decode(), stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
