"""Settings of the live engine (``mobility serve``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from matching.errors import InvalidValueError

from . import (
    DEFAULT_MAX_MESSAGE_KB,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_REOPTIMISE_ITERATIONS,
    DEFAULT_MAX_REOPTIMISE_MS,
    DEFAULT_MAX_STREAMS,
    DEFAULT_MAX_STREAMS_PER_CALLER,
    DEFAULT_MAX_STREAMS_PER_CONNECTION,
    DEFAULT_MAX_STREAMS_PER_PEER,
    MAX_FRONTENDS,
)
from .clock import resolve_timezone
from .store import STORE_FORMS, RedisAccess, check_store_spec, redis_url_has_password
from .tls import ServerTLS, check_ca, check_key_pair, load_server_tls

#: How long the store keeps ended rides and events by default (``--retention-days``), and at most.
DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 3660

#: The environment variable that may hold the Redis password (see :meth:`Settings.redis_access`).
REDIS_PASSWORD_ENV = "MOBILITY_REDIS_PASSWORD"


@dataclass(frozen=True)
class Settings:
    """How to run the engine.

    Attributes:
        scenario: scenario file giving the network, stops, fleet, service rules and fares.
        data_dir: where the scenario's relative paths point (the reference data folder).
        store: ``"memory"`` (the default), ``"redis://host:port[/db]"`` or ``"rediss://host:port[/db]"``
            (Redis over TLS).
        redis_password_file: a file holding the Redis password (its one line); else the environment
            variable ``MOBILITY_REDIS_PASSWORD``, if set; else the URL's (which ``ps`` shows). The
            settings never hold the password itself: it is read when the store is opened.
        redis_tls_ca: with ``rediss://``, the CA (PEM) that signed the Redis server's certificate
            (None: the system's CAs).
        redis_tls_cert, redis_tls_key: with ``rediss://``, a client certificate and key (PEM) for a
            Redis server that asks for one (``tls-auth-clients yes``, its default).
        host, port: where to listen (port 0: any free port; the bound port is reported).
        tokens: bearer-token file (TOML); None turns authentication off.
        tls_cert, tls_key: the server's certificate (chain) and private key, PEM files: the port
            speaks TLS (see :mod:`engine.tls`); None for both: plaintext.
        tls_client_ca: with TLS, the CA (PEM) whose client certificates are required (mutual TLS).
        clock: ``"wall"`` (seconds since local midnight of the service day, in ``timezone``; see
            :mod:`engine.clock`) or ``"external"`` (times come with the calls, as a simulation sends
            them; the clock never goes back; only an operator's calls move it).
        timezone: the wall clock's IANA time zone (None: the host's; Incheon: ``Asia/Seoul``).
        reoptimise_every_s: period of the background re-optimisation (0: off); it runs
            within ``reoptimise_deadline_ms``.
        max_queue: commands waiting for the writer beyond which new calls are refused at once
            (UNAVAILABLE: nothing done).
        max_reoptimise_iterations, max_reoptimise_ms: the most iterations an operator's
            re-optimisation may ask for, and the longest any re-optimisation holds the writer.
        workers: threads of the gRPC server's pool, per front end if any: the store reads that block
            (a stream's history, a topic's last event id). Calls and streams wait on the event
            loop without a thread (see :mod:`engine.gateway`).
        frontends: gRPC front-end processes (0: gRPC in the engine's own process; see
            :mod:`engine.frontend`).
        writer_nice: scheduling priority (nice value) of the writer thread, with front ends only
            (in one process a favoured writer starves the streams), and of the threads on its path
            (the engine's threads that talk to the front ends; in each front end, the gRPC event
            loop, its completion poller and the thread that takes the engine's answers); a
            negative value needs root or CAP_SYS_NICE (else they keep the default and a warning
            says so).
        seed: seeds the dispatcher.
        retention_days: how long the store keeps a ride that ended (completed, cancelled, no-show)
            and each event, in days (see ``docs/data-retention.md``).
        max_message_kb: the largest message the server reads, in KiB (a larger one is refused with
            RESOURCE_EXHAUSTED before it is parsed). The largest of the API is an UpdateTraffic: 8
            bytes per edge of the road network (drt_manhattan's 9,420 edges: 74 KiB), so the
            default 512 fits networks up to about 65,000 edges; raise it for larger ones.
        max_streams: streams open at once (WatchRide, WatchManifest, WatchAssignments,
            ReportLocation, health Watch, reflection), per gRPC process (each front end, or the
            engine's own): over it, a new stream gets RESOURCE_EXHAUSTED.
        max_streams_per_caller: streams open at once per rider or driver (token subject); operators
            are limited by the other limits only.
        max_streams_per_peer: streams open at once per client address (0: no limit); behind a proxy
            or a carrier's NAT many riders share one address, so raise it or turn it off there.
        max_streams_per_connection: calls at once on one HTTP/2 connection
            (``grpc.max_concurrent_streams``); more wait on the client until one ends.
    """

    scenario: Path
    data_dir: Path | None = None
    store: str = "memory"
    redis_password_file: Path | None = None
    redis_tls_ca: Path | None = None
    redis_tls_cert: Path | None = None
    redis_tls_key: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    tokens: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    clock: str = "wall"
    timezone: str | None = None
    reoptimise_every_s: float = 0.0
    reoptimise_deadline_ms: int = 200
    max_queue: int = DEFAULT_MAX_QUEUE
    max_reoptimise_iterations: int = DEFAULT_MAX_REOPTIMISE_ITERATIONS
    max_reoptimise_ms: int = DEFAULT_MAX_REOPTIMISE_MS
    workers: int = 64
    frontends: int = 0
    writer_nice: int = 0
    seed: int = 0
    retention_days: float = DEFAULT_RETENTION_DAYS
    max_message_kb: int = DEFAULT_MAX_MESSAGE_KB
    max_streams: int = DEFAULT_MAX_STREAMS
    max_streams_per_caller: int = DEFAULT_MAX_STREAMS_PER_CALLER
    max_streams_per_peer: int = DEFAULT_MAX_STREAMS_PER_PEER
    max_streams_per_connection: int = DEFAULT_MAX_STREAMS_PER_CONNECTION

    def __post_init__(self) -> None:
        try:
            check_store_spec(self.store)
        except ValueError as exc:
            raise InvalidValueError("store", str(exc), STORE_FORMS) from None
        if self.clock not in ("wall", "external"):
            raise InvalidValueError("clock", f"got {self.clock!r}", "wall, external")
        if not 0 <= self.port <= 65535:
            raise InvalidValueError("port", f"got {self.port}", "0 .. 65535")
        if self.reoptimise_every_s < 0:
            raise InvalidValueError("reoptimise_every_s", f"got {self.reoptimise_every_s}", ">= 0")
        if self.timezone is not None:
            resolve_timezone(self.timezone)
        if not 1 <= self.max_reoptimise_ms <= 600_000:
            raise InvalidValueError("max_reoptimise_ms", f"got {self.max_reoptimise_ms}", "1 .. 600000")
        if not 1 <= self.reoptimise_deadline_ms <= self.max_reoptimise_ms:
            raise InvalidValueError(
                "reoptimise_deadline_ms",
                f"got {self.reoptimise_deadline_ms}",
                f"1 .. {self.max_reoptimise_ms} (max_reoptimise_ms)",
            )
        if not 0 <= self.max_reoptimise_iterations <= 10_000_000:
            raise InvalidValueError(
                "max_reoptimise_iterations", f"got {self.max_reoptimise_iterations}", "0 .. 10000000"
            )
        if not 1 <= self.max_queue <= 1_000_000:
            raise InvalidValueError("max_queue", f"got {self.max_queue}", "1 .. 1000000")
        if not 4 <= self.workers <= 10_000:
            raise InvalidValueError("workers", f"got {self.workers}", "4 .. 10000")
        if not 0 <= self.frontends <= MAX_FRONTENDS:
            raise InvalidValueError("frontends", f"got {self.frontends}", f"0 .. {MAX_FRONTENDS}")
        if not -20 <= self.writer_nice <= 19:
            raise InvalidValueError("writer_nice", f"got {self.writer_nice}", "-20 .. 19")
        if not 4 <= self.max_message_kb <= 1024 * 1024:
            raise InvalidValueError("max_message_kb", f"got {self.max_message_kb}", "4 .. 1048576 KiB")
        if not 1 <= self.max_streams <= 1_000_000:
            raise InvalidValueError("max_streams", f"got {self.max_streams}", "1 .. 1000000")
        if not 1 <= self.max_streams_per_caller <= 1_000_000:
            raise InvalidValueError("max_streams_per_caller", f"got {self.max_streams_per_caller}", "1 .. 1000000")
        if not 0 <= self.max_streams_per_peer <= 1_000_000:
            raise InvalidValueError(
                "max_streams_per_peer", f"got {self.max_streams_per_peer}", "0 (no limit) .. 1000000"
            )
        if not 1 <= self.max_streams_per_connection <= 100_000:
            raise InvalidValueError(
                "max_streams_per_connection", f"got {self.max_streams_per_connection}", "1 .. 100000"
            )
        if not 0 < self.retention_days <= MAX_RETENTION_DAYS:
            raise InvalidValueError("retention_days", f"got {self.retention_days}", f"> 0 .. {MAX_RETENTION_DAYS}")
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise InvalidValueError(missing, f"missing: {given} is given, and TLS needs both")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise InvalidValueError("tls_client_ca", "client certificates need TLS: give tls_cert and tls_key too")
        self.server_tls()  # the files are read and checked now, before anything starts
        self.redis_access()

    def server_tls(self) -> ServerTLS | None:
        """The TLS credentials' files read and checked (:func:`engine.tls.load_server_tls`), or None
        (plaintext)."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        return load_server_tls(self.tls_cert, self.tls_key, self.tls_client_ca)

    @property
    def retention_s(self) -> float:
        """:attr:`retention_days` in seconds."""
        return self.retention_days * 86_400.0

    def redis_access(self) -> RedisAccess | None:
        """The password and TLS files of a Redis store, read and checked now (None for the memory
        store): :class:`InvalidValueError` naming the option and the file if one is wrong."""
        redis_options = ("redis_password_file", "redis_tls_ca", "redis_tls_cert", "redis_tls_key")
        if self.store == "memory":
            given = [name for name in redis_options if getattr(self, name) is not None]
            if given:
                raise InvalidValueError(given[0], "is for a Redis store (--store redis://... or rediss://...)")
            return None
        tls = self.store.startswith("rediss://")
        if not tls:
            given = [name for name in redis_options[1:] if getattr(self, name) is not None]
            if given:
                raise InvalidValueError(given[0], "TLS to Redis needs a rediss:// store URL", "rediss://host:port[/db]")
        if (self.redis_tls_cert is None) != (self.redis_tls_key is None):
            missing = "redis_tls_key" if self.redis_tls_key is None else "redis_tls_cert"
            raise InvalidValueError(
                missing, "missing: a client certificate needs both redis_tls_cert and redis_tls_key"
            )
        if self.redis_tls_ca is not None:
            check_ca(self.redis_tls_ca, "redis_tls_ca")
        if self.redis_tls_cert is not None and self.redis_tls_key is not None:
            check_key_pair(self.redis_tls_cert, self.redis_tls_key, "redis_tls_cert", "redis_tls_key")
        password = self._redis_password()
        if password is not None and redis_url_has_password(self.store):
            raise InvalidValueError(
                "store", "the Redis URL holds a password, and one is given apart too: drop it from the URL"
            )
        return RedisAccess(password, self.redis_tls_ca, self.redis_tls_cert, self.redis_tls_key)

    def _redis_password(self) -> str | None:
        """The Redis password from :attr:`redis_password_file`, else from ``$MOBILITY_REDIS_PASSWORD``."""
        path = self.redis_password_file
        if path is None:
            return os.environ.get(REDIS_PASSWORD_ENV) or None
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidValueError("redis_password_file", f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValueError("redis_password_file", f"{path}: cannot be read ({exc})") from None
        password = text.strip("\r\n")
        if not password or "\n" in password:
            raise InvalidValueError("redis_password_file", f"{path}: expected the password alone on one line")
        return password
