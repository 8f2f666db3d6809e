"""Fixtures of the engine tests: a real ``redis-server`` and a fresh store of each kind.

``redis_server`` starts one ``redis-server`` for the session on a free local port, with AOF
persistence that syncs every write (``--appendfsync always``), in a temporary directory. Tests
may kill it (SIGKILL, as a crash) and start it again on the same port and directory, to check
what survives; the ``store`` fixture starts it again if a test left it down.

The server is not optional: without ``redis-server`` the tests fail and say how to install it
(``make test`` does, through ``make system-deps``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from engine.redis_store import RedisStore
from engine.store import MemoryStore, StateStore

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
