"""Settings of the live engine (``mobility serve``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from matching.errors import InvalidValueError

from . import DEFAULT_MAX_QUEUE, DEFAULT_MAX_REOPTIMISE_ITERATIONS, DEFAULT_MAX_REOPTIMISE_MS, MAX_FRONTENDS
from .clock import resolve_timezone


@dataclass(frozen=True)
class Settings:
    """How to run the engine.

    Attributes:
        scenario: scenario file giving the network, stops, fleet, service rules and fares.
        data_dir: where the scenario's relative paths point (the reference data folder).
        store: ``"memory"`` (the default) or ``"redis://host:port[/db]"``.
        host, port: where to listen (port 0: any free port; the bound port is reported).
        tokens: bearer-token file (TOML); None turns authentication off.
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
        workers: gRPC worker threads (streams hold one each), per front end if any.
        frontends: gRPC front-end processes (0: gRPC in the engine's own process; see
            :mod:`engine.frontend`).
        writer_nice: scheduling priority (nice value) of the writer thread, with front ends only
            (in one process a favoured writer starves the streams); a negative value needs root or
            CAP_SYS_NICE (else the writer keeps the default and a warning says so).
        seed: seeds the dispatcher.
    """

    scenario: Path
    data_dir: Path | None = None
    store: str = "memory"
    host: str = "127.0.0.1"
    port: int = 0
    tokens: Path | None = None
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

    def __post_init__(self) -> None:
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
