"""Settings of the live engine (``mobility serve``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matching.errors import InvalidValueError

from . import (
    DEFAULT_MAX_MESSAGE_KB,
    DEFAULT_MAX_STREAMS,
    DEFAULT_MAX_STREAMS_PER_CALLER,
    DEFAULT_MAX_STREAMS_PER_CONNECTION,
    DEFAULT_MAX_STREAMS_PER_PEER,
    MAX_FRONTENDS,
)


@dataclass(frozen=True)
class Settings:
    """How to run the engine.

    Attributes:
        scenario: scenario file giving the network, stops, fleet, service rules and fares.
        data_dir: where the scenario's relative paths point (the reference data folder).
        store: ``"memory"`` (the default) or ``"redis://host:port[/db]"``.
        host, port: where to listen (port 0: any free port; the bound port is reported).
        tokens: bearer-token file (TOML); None turns authentication off.
        clock: ``"wall"`` (seconds since local midnight) or ``"external"`` (times come with
            the calls, as a simulation sends them; the clock never goes back).
        reoptimise_every_s: period of the background re-optimisation (0: off); it runs
            within ``reoptimise_deadline_ms``.
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
    host: str = "127.0.0.1"
    port: int = 0
    tokens: Path | None = None
    clock: str = "wall"
    reoptimise_every_s: float = 0.0
    reoptimise_deadline_ms: int = 200
    workers: int = 64
    frontends: int = 0
    writer_nice: int = 0
    seed: int = 0
    max_message_kb: int = DEFAULT_MAX_MESSAGE_KB
    max_streams: int = DEFAULT_MAX_STREAMS
    max_streams_per_caller: int = DEFAULT_MAX_STREAMS_PER_CALLER
    max_streams_per_peer: int = DEFAULT_MAX_STREAMS_PER_PEER
    max_streams_per_connection: int = DEFAULT_MAX_STREAMS_PER_CONNECTION

    def __post_init__(self) -> None:
        if self.clock not in ("wall", "external"):
            raise InvalidValueError("clock", f"got {self.clock!r}", "wall, external")
        if not 0 <= self.port <= 65535:
            raise InvalidValueError("port", f"got {self.port}", "0 .. 65535")
        if self.reoptimise_every_s < 0:
            raise InvalidValueError("reoptimise_every_s", f"got {self.reoptimise_every_s}", ">= 0")
        if not 1 <= self.reoptimise_deadline_ms <= 60_000:
            raise InvalidValueError("reoptimise_deadline_ms", f"got {self.reoptimise_deadline_ms}", "1 .. 60000")
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
