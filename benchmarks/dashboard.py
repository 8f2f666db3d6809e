"""The operators' dashboard in a real browser under a live fleet (``mobility bench dashboard``).

What the issue asks to measure, in the browser: the time the page takes to apply one update of
3,000 vehicles, and the page's memory after ten minutes of live updates, with 3,000 vehicles
reporting every second.

One run, four processes on one machine:

* **the engine** — :func:`engine.server.create_server` (as ``tests/engine/conftest.py``'s
  ``launch_engine`` starts it: memory store, external clock, background re-optimisation off, a
  token file) in a child process of its own, on a deployment written for the run: one
  shared-taxi service of ``vehicles`` taxis on a bundled OpenStreetMap extract with lat/lon
  (:data:`NETWORKS`; default Seoul Jamsil, the one with the most road nodes), rebalancing off
  so that only the reports move the taxis;
* **the feeder** (threads of this process) — every ``interval_s`` it moves the clock
  (``OperatorService.Reoptimise(iterations=1, now_s)``), then reports a new road node for
  every taxi (``DriverService.ReportLocation``; a taxi reports the node it is at), walking
  each along a random shortest path (:meth:`routing.Router.path`) one node per report, so that
  every vehicle changes position every interval. The reports of one interval go as
  :data:`DEFAULT_STREAMS` calls at once by default (a fleet gateway's batches, with an operator's token);
  the feeder's achieved rate (reports accepted per second over the run) and the time one
  interval's reports take are measured, and whether the engine kept up;
* **the dashboard** — ``mobility dashboard --engine ... --token-file ...`` (its live source
  following the engine over gRPC and its web server) as a subprocess on a free port;
* **the browser** — Debian's ``chromium`` (headless, driven by Playwright, 1280 x 800) on the
  page.

Measured on the page (the page's own counters, ``window.dashboard.stats``: the time it takes to
apply each ``vehicles`` message, a ring of the last 1,000): the first application (the whole
fleet arriving, with the JavaScript still compiling: the warm-up) apart from the run's
(count, p50, p95, max) and the number of changed vehicles in those messages (counted from the
WebSocket frames as the browser received them, with their bytes); the frame times
(``requestAnimationFrame`` intervals, a probe added before the page's scripts) and the long
tasks (``PerformanceObserver``, tasks over 50 ms) as the smoothness, with the page's own paint
timing (every value it writes to ``stats.lastPaintMs``: its canvas redraw of the vehicles) and
its main thread's busy share, split into scripts, style and layout (DevTools metrics); the
page's JS heap and DOM nodes (Chrome DevTools Protocol ``Performance.getMetrics``) every
``sample_every_s`` and at the end, then once more after a forced garbage collection; the
dashboard server's resident memory (``/proc``) at each sample, and its CPU and the engine's.

The peer, measured in the same run after the main phase (same engine, feeder and dashboard
server; the dashboard's page closed first): a plain Leaflet page (:data:`PEER_HTML`, Leaflet
from the dashboard's own npm install) that draws every vehicle as an SVG ``circleMarker`` (the
renderer Leaflet uses by default) and applies each ``vehicles`` message by ``setLatLng`` and
``setStyle`` per changed vehicle, timed the same way. It ignores everything but the vehicles,
so it does less than the dashboard per message.

Writes ``dashboard.json`` and ``dashboard.md`` (into ``benchmarks/results`` unless told
otherwise). The run shares the machine's cores among the engine, the feeder, the dashboard
server, the browser and Playwright's driver: on 2 cores the numbers are those of a loaded machine.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from routing.errors import InvalidArgumentError

from .common import machine_info
from .serve import cpu_seconds

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent

#: The bundled OpenStreetMap extracts with lat/lon, by name (relative to the data folder).
NETWORKS = {
    "jamsil": "osm/seoul_jamsil.osm",
    "dongjak": "osm/seoul_dongjak.osm",
    "helsinki": "osm/helsinki.osm.pbf",
}
DEFAULT_NETWORK = "jamsil"

#: The page's size in the browser.
VIEWPORT: Final[ViewportSize] = {"width": 1280, "height": 800}
#: The peer page is served by Playwright on the dashboard's origin (no server address of its own), which
#: Chromium's local-network-access checks take for a public page and then refuse its WebSocket to
#: 127.0.0.1; the dashboard's own page is not affected.
CHROMIUM_ARGS = ["--disable-features=LocalNetworkAccessChecks"]
#: The service clock when the run starts (08:00; external clock, moved by the feeder).
START_CLOCK_S = 8 * 3600
#: ReportLocation calls at once per interval (each carries its share of the fleet).
DEFAULT_STREAMS = 4
#: Allowed ranges of the options (a 3,000-vehicle city and then some; a run of at most a day).
MAX_VEHICLES = 20_000
MAX_MINUTES = 24 * 60.0
INTERVAL_RANGE_S = (0.1, 60.0)
MAX_STREAMS = 12
#: How long the engine may take to come up (with a cold Numba cache it compiles its kernels: minutes
#: on a busy 2-core machine), and the dashboard and the page.
ENGINE_START_TIMEOUT_S = 900.0
START_TIMEOUT_S = 180.0
RPC_TIMEOUT_S = 30.0
#: The page is polled this often for its counters (and the progress line moves).
POLL_S = 1.0
#: A frame longer than this is a dropped frame (at 60 frames per second: three frames missed).
SLOW_FRAME_MS = 50.0
#: Console errors kept (the first ones; a page that logs one per update is reported by its count).
MAX_CONSOLE_ERRORS = 20


# ---------------------------------------------------------------------------- options
@dataclass(frozen=True)
class Options:
    """What to run: ``vehicles`` taxis reporting every ``interval_s`` for ``minutes`` on ``network``
    (a name of :data:`NETWORKS` or an OSM file), the page sampled every ``sample_every_s``; then
    the peer page for ``peer_minutes`` (0: no peer)."""

    vehicles: int = 3000
    minutes: float = 10.0
    interval_s: float = 1.0
    network: str = DEFAULT_NETWORK
    sample_every_s: float = 30.0
    peer_minutes: float = 2.0
    streams: int = DEFAULT_STREAMS
    seed: int = 1
    quick: bool = False

    def check(self) -> None:
        """Raise :class:`InvalidArgumentError` (naming the option and its range) for a bad value."""
        if not _is_int(self.vehicles) or not 1 <= self.vehicles <= MAX_VEHICLES:
            raise InvalidArgumentError("vehicles", f"got {self.vehicles!r}", f"an integer 1 .. {MAX_VEHICLES:,}")
        _check_number("minutes", self.minutes, 0.0, MAX_MINUTES, low_open=True)
        _check_number("interval", self.interval_s, *INTERVAL_RANGE_S)
        _check_number("sample_every", self.sample_every_s, 1.0, 3600.0)
        _check_number("peer_minutes", self.peer_minutes, 0.0, MAX_MINUTES)
        if not _is_int(self.streams) or not 1 <= self.streams <= MAX_STREAMS:
            raise InvalidArgumentError("streams", f"got {self.streams!r}", f"an integer 1 .. {MAX_STREAMS}")
        if not _is_int(self.seed) or self.seed < 0:
            raise InvalidArgumentError("seed", f"got {self.seed!r}", "an integer >= 0")


#: The quick run (``--quick``): a smoke test of seconds at a small size, no verdict.
QUICK = Options(vehicles=300, minutes=0.25, interval_s=1.0, sample_every_s=5.0, peer_minutes=0.1, quick=True)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_number(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise InvalidArgumentError(name, f"got {value!r}", f"a number {bound} and <= {high:g}")


def network_file(network: str, data_dir: Path) -> Path:
    """The OSM file of ``network``: a name of :data:`NETWORKS` (in ``data_dir``) or a path to a file."""
    path = data_dir / NETWORKS[network] if network in NETWORKS else Path(network)
    if not path.is_file():
        raise InvalidArgumentError(
            "network", f"no file {str(path)!r}", f"{', '.join(NETWORKS)} (in the data folder) or an OSM file"
        )
    return path.resolve()


def write_deployment(folder: Path, *, osm: Path, vehicles: int) -> Path:
    """A deployment (scenario TOML) in ``folder``: one shared-taxi service of ``vehicles`` taxis of 4
    seats on ``osm``, on shift all day, rebalancing off (only the reports move them)."""
    path = folder / "bench_dashboard.toml"
    path.write_text(
        "# written by `mobility bench dashboard`\n"
        '[scenario]\nname = "bench_dashboard"\nseed = 1\nstart = "00:00"\nend = "24:00"\n\n'
        '[service]\nkind = "shared_taxi"\n\n'
        f'[network]\nkind = "osm"\npath = {json.dumps(str(osm))}\n\n'
        f'[fleet]\nvehicles = {vehicles}\nshift_start = "00:00"\nshift_end = "24:00"\n\n'
        "[pooling]\ncapacity = 4\nrebalance = false\n"
    )
    return path


def write_tokens(folder: Path) -> tuple[Path, dict[str, str]]:
    """A token file with two operators: the feeder (a fleet gateway reporting for every taxi) and
    the dashboard. Returns the file and ``{name: token}``."""
    import secrets

    tokens = {name: f"{name}-{secrets.token_hex(12)}" for name in ("feeder", "dashboard")}
    path = folder / "tokens.toml"
    path.write_text(
        "".join(f'[[tokens]]\ntoken = "{t}"\nrole = "operator"\nsubject = "*"\n\n' for t in tokens.values())
    )
    path.chmod(0o600)
    (folder / "dashboard.token").write_text(tokens["dashboard"] + "\n")
    (folder / "dashboard.token").chmod(0o600)
    return path, tokens


# ---------------------------------------------------------------------------- processes
def _engine_main(scenario: str, data_dir: str, tokens: str, conn: Any) -> None:
    """The engine's process: serve until told to stop (anything on ``conn``), then stop."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from engine.server import create_server
    from engine.settings import Settings

    try:
        t0 = time.perf_counter()
        settings = Settings(scenario=Path(scenario), data_dir=Path(data_dir), store="memory", port=0,
                            clock="external", tokens=Path(tokens), reoptimise_every_s=0)  # fmt: skip
        server, port, core = create_server(settings, block_until_ready=True)
        conn.send({"port": port, "start_s": time.perf_counter() - t0})
    except BaseException as exc:  # the parent reports it in one line
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        return
    with suppress(EOFError):
        conn.recv()
    server.stop(1).wait(10)
    core.stop()


@contextmanager
def engine_process(scenario: Path, data_dir: Path, tokens: Path) -> Iterator[dict[str, Any]]:
    """The engine in a child process; yields ``{"port", "start_s", "pid"}``, stopped when the block ends."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_engine_main, args=(str(scenario), str(data_dir), str(tokens), child),
                          name="bench-engine", daemon=True)  # fmt: skip
    process.start()
    try:
        deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
        while not parent.poll(0.2):
            if not process.is_alive():
                raise RuntimeError(f"the engine's process ended while starting (exit code {process.exitcode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the engine did not start within {ENGINE_START_TIMEOUT_S:.0f} s")
        info = parent.recv()
        if "error" in info:
            raise RuntimeError(f"the engine failed to start: {info['error']}")
        info["pid"] = process.pid
        yield info
    finally:
        with suppress(OSError):
            parent.send("stop")
        process.join(20)
        if process.is_alive():
            process.kill()
            process.join(5)


@dataclass
class Dashboard:
    """The ``mobility dashboard`` subprocess: its page address (with the key) and process id."""

    process: subprocess.Popen[str]
    url: str
    stderr: Path
    start_s: float

    @property
    def base(self) -> str:
        """``http://host:port`` of the page."""
        return self.url.split("/?", 1)[0].rstrip("/")

    @property
    def key(self) -> str:
        return self.url.split("key=", 1)[1].split("&", 1)[0]


_URL = re.compile(r"(https?://\S+/\?key=\S+)")


def dashboard_command(engine_port: int, token_file: Path, interval_s: float) -> list[str]:
    """``mobility dashboard --engine 127.0.0.1:PORT --token-file F --port 0 --interval S``: following the
    engine (polling its fleet every ``interval_s``, as often as the taxis report), on a free port."""
    return [sys.executable, "-m", "mobility.cli", "dashboard", "--engine", f"127.0.0.1:{engine_port}",
            "--token-file", str(token_file), "--port", "0", "--interval", f"{interval_s:g}"]  # fmt: skip


@contextmanager
def dashboard_process(engine_port: int, token_file: Path, workdir: Path, interval_s: float) -> Iterator[Dashboard]:
    """:func:`dashboard_command` until the block ends; yields once it printed its page's address."""
    stderr = workdir / "dashboard.err"
    command = dashboard_command(engine_port, token_file, interval_s)
    t0 = time.perf_counter()
    with stderr.open("w") as err:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=err, text=True, bufsize=1)  # fmt: skip
    lines: deque[str] = deque(maxlen=50)
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:  # keeps reading, so that the pipe never fills
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
            match = _URL.search(line)
            if match and not url:
                url.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, name="dashboard-stdout", daemon=True).start()
    try:
        found.wait(START_TIMEOUT_S)
        if not url:
            tail = "\n".join(lines) + "\n" + stderr.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the dashboard did not print its address (exit {process.poll()}):\n{tail.strip()}")
        yield Dashboard(process, url[0], stderr, time.perf_counter() - t0)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def process_rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` (MiB), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------- the feeder
class Feeder:
    """Moves every taxi one road node along a random shortest path every ``interval_s`` and reports it.

    Each interval: the clock moves on (``Reoptimise(iterations=1, now_s)``, as an operator), then
    the fleet's reports go as ``streams`` ReportLocation calls at once, each with its share of
    the taxis, each report the taxi's new node at ``now_s``. An interval whose reports take
    longer than the interval is followed at once by the next (the schedule moves on; intervals
    are never bunched to catch up): :attr:`behind` counts them.
    """

    def __init__(self, *, port: int, token: str, vehicle_ids: list[str], start_nodes: np.ndarray, router: Any,
                 interval_s: float, streams: int, seed: int) -> None:  # fmt: skip
        import grpc

        from proto.mobility.v1 import driver_pb2, driver_pb2_grpc, operator_pb2, operator_pb2_grpc

        self._pb, self._op_pb = driver_pb2, operator_pb2
        self.metadata = [("authorization", f"Bearer {token}")]
        self.channels = [grpc.insecure_channel(f"127.0.0.1:{port}") for _ in range(streams)]
        self.drivers = [driver_pb2_grpc.DriverServiceStub(c) for c in self.channels]
        self.operator = operator_pb2_grpc.OperatorServiceStub(self.channels[0])
        self.ids = vehicle_ids
        self.router = router
        self.num_nodes = router.network.num_nodes
        self.interval_s = interval_s
        self.streams = streams
        self.rng = np.random.default_rng([seed, 19])
        self.paths: list[np.ndarray] = [np.array([int(n)], np.int32) for n in start_nodes]
        self.steps = np.zeros(len(vehicle_ids), np.int64)
        self.pool = ThreadPoolExecutor(streams, thread_name_prefix="feeder")
        self.clock_s = START_CLOCK_S
        self.ticks = 0
        self.behind = 0
        self.accepted = 0
        self.errors = 0
        self.first_error = ""
        self.report_s: deque[float] = deque(maxlen=100_000)
        self.reoptimise_s: deque[float] = deque(maxlen=100_000)
        self.started = 0.0
        self.ended = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="feeder", daemon=True)

    def _next_node(self, v: int) -> int:
        """The taxi's next node along its path (a new random path from where it is when at its end)."""
        path, k = self.paths[v], int(self.steps[v]) + 1
        if k >= path.size:
            here = int(path[-1])
            target = here
            while target == here:
                target = int(self.rng.integers(self.num_nodes))
            path = self.router.path(here, target).nodes
            self.paths[v], k = path, 1
        self.steps[v] = k
        return int(path[k])

    def _send(self, k: int, reports: list[Any]) -> int:
        ack = self.drivers[k].ReportLocation(iter(reports), metadata=self.metadata, timeout=RPC_TIMEOUT_S)
        return int(ack.accepted)

    def tick(self) -> None:
        """One interval: move the clock, report every taxi's next node."""
        import grpc

        now_s = START_CLOCK_S + round(self.ticks * self.interval_s)
        self.clock_s = now_s
        t0 = time.perf_counter()
        try:
            request = self._op_pb.ReoptimiseRequest(iterations=1, now_s=now_s)
            self.operator.Reoptimise(request, metadata=self.metadata, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as exc:
            self._error(exc)
        t1 = time.perf_counter()
        batches: list[list[Any]] = [[] for _ in range(self.streams)]
        report = self._pb.LocationReport
        for v, vid in enumerate(self.ids):
            batches[v % self.streams].append(report(vehicle_id=vid, node=self._next_node(v), time_s=now_s))
        futures = [self.pool.submit(self._send, k, b) for k, b in enumerate(batches) if b]
        for f in futures:
            try:
                self.accepted += f.result()
            except grpc.RpcError as exc:
                self._error(exc)
        t2 = time.perf_counter()
        self.reoptimise_s.append(t1 - t0)
        self.report_s.append(t2 - t1)
        self.ticks += 1

    def _error(self, exc: Any) -> None:
        self.errors += 1
        if not self.first_error:
            code = exc.code().name if hasattr(exc, "code") else type(exc).__name__
            details = exc.details() if hasattr(exc, "details") else str(exc)
            self.first_error = f"{code}: {details}"

    def _loop(self) -> None:
        self.started = time.perf_counter()
        due = self.started
        while not self._stop.is_set():
            self.tick()
            due += self.interval_s
            now = time.perf_counter()
            if now > due:
                self.behind += 1
                due = now
            elif self._stop.wait(due - now):
                break
        self.ended = time.perf_counter()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        """Stop after the current interval; what the feeder did."""
        self._stop.set()
        self._thread.join(RPC_TIMEOUT_S * 2)
        self.pool.shutdown(wait=True)
        for c in self.channels:
            c.close()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """Reports accepted, their rate over the run, the time one interval's reports took (p50, p95,
        max) and the rate that implies, the intervals that ran late, errors."""
        wall = (self.ended or time.perf_counter()) - self.started if self.started else 0.0
        report = np.array(self.report_s, np.float64)
        p50 = float(np.percentile(report, 50)) if report.size else None
        return {
            "vehicles": len(self.ids),
            "interval_s": self.interval_s,
            "streams": self.streams,
            "intervals": self.ticks,
            "intervals_late": self.behind,
            "reports_accepted": self.accepted,
            "reports_expected": self.ticks * len(self.ids),
            "seconds": round(wall, 2),
            "reports_per_s": round(self.accepted / wall, 1) if wall else None,
            "target_reports_per_s": round(len(self.ids) / self.interval_s, 1),
            "interval_reports_p50_s": None if p50 is None else round(p50, 4),
            "interval_reports_p95_s": round(float(np.percentile(report, 95)), 4) if report.size else None,
            "interval_reports_max_s": round(float(report.max()), 4) if report.size else None,
            "capacity_reports_per_s": round(len(self.ids) / p50, 1) if p50 else None,
            "reoptimise_p50_ms": round(float(np.percentile(self.reoptimise_s, 50)) * 1000, 2)
            if self.reoptimise_s
            else None,
            "errors": self.errors,
            "first_error": self.first_error,
            "clock_s": self.clock_s,
        }


def fleet_nodes(port: int, token: str) -> tuple[list[str], np.ndarray]:
    """The taxis' ids and the road nodes their plans start at (``ListVehicles``)."""
    import grpc

    from proto.mobility.v1 import operator_pb2, operator_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        response = stub.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=RPC_TIMEOUT_S,
                                     metadata=[("authorization", f"Bearer {token}")])  # fmt: skip
    vehicles = sorted(response.vehicles, key=lambda v: v.vehicle_id)
    return [v.vehicle_id for v in vehicles], np.array([v.node for v in vehicles], np.int32)


# ---------------------------------------------------------------------------- in the browser
class Histogram:
    """Counts of values (ms) in bins of ``width_ms`` up to ``limit_ms`` (beyond: the last bin), with the
    exact count, sum and maximum: percentiles to within a bin in bounded memory, however long the run."""

    def __init__(self, width_ms: float, limit_ms: float) -> None:
        self.width = width_ms
        self.counts = np.zeros(math.ceil(limit_ms / width_ms) + 1, np.int64)
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, values: Any) -> None:
        arr = np.asarray(values, np.float64)
        arr = arr[np.isfinite(arr)]
        if not arr.size:
            return
        bins = np.minimum((arr / self.width).astype(np.int64), self.counts.size - 1)
        np.add.at(self.counts, np.maximum(bins, 0), 1)
        self.n += int(arr.size)
        self.total += float(arr.sum())
        self.max = max(self.max, float(arr.max()))

    def percentile(self, q: float) -> float | None:
        """The upper edge of the bin holding the ``q``-th percentile (at most the maximum)."""
        if not self.n:
            return None
        k = int(np.searchsorted(np.cumsum(self.counts), math.ceil(q / 100 * self.n)))
        return min((k + 1) * self.width, self.max)

    def over(self, ms: float) -> int:
        """How many values were at least ``ms`` (to within a bin)."""
        return int(self.counts[int(ms / self.width) :].sum())

    def summary(self, digits: int = 2) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, digits)

        return {
            "count": self.n,
            "mean_ms": r(self.total / self.n) if self.n else None,
            "p50_ms": r(self.percentile(50)),
            "p95_ms": r(self.percentile(95)),
            "max_ms": r(self.max) if self.n else None,
        }


#: Added to every page before its own scripts: frame intervals (requestAnimationFrame, a ring) and
#: long tasks (over 50 ms, PerformanceObserver), in ``window.__bench``.
FRAME_PROBE_JS = """
(() => {
  const N = 8192;
  const b = (window.__bench = { frames: new Float64Array(N), frameCount: 0, last: 0,
                                paints: new Float64Array(N), paintCount: 0,
                                longTasks: 0, longTaskMs: 0, longTaskMaxMs: 0 });
  const tick = (t) => {
    if (b.last) { b.frames[b.frameCount % N] = t - b.last; b.frameCount++; }
    b.last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        b.longTasks++; b.longTaskMs += e.duration;
        if (e.duration > b.longTaskMaxMs) b.longTaskMaxMs = e.duration;
      }
    }).observe({ entryTypes: ['longtask'] });
  } catch (e) { /* no long-task timing in this browser */ }
})();
"""

#: Counts the page's own paint timings: every value the page writes to ``stats.lastPaintMs`` (the
#: dashboard's canvas redraw of the vehicles, once per frame with changes) also goes into
#: ``window.__bench.paints``. False when the page times no paints.
PAINT_PROBE_JS = """
(root) => {
  const o = window[root];
  const s = o && o.stats;
  if (!s || !('lastPaintMs' in s)) return false;
  const b = window.__bench;
  let value = s.lastPaintMs;
  Object.defineProperty(s, 'lastPaintMs', {
    configurable: true, enumerable: true,
    get() { return value; },
    set(x) { value = x; b.paints[b.paintCount % b.paints.length] = x; b.paintCount++; },
  });
  return true;
}
"""

#: Reads the counters of a page: ``stats`` is the object with ``applies``, ``lastApplyMs``,
#: ``applyMs`` (the last apply times, oldest first) and ``lastVehicles``; ``drawn()`` the vehicles on
#: the map; and the probes' new frames and paints since the caller's counts.
READ_JS = """
([root, framesSeen, paintsSeen]) => {
  const o = window[root];
  const b = window.__bench;
  const fresh = (ring, count, seen) => {
    const out = [];
    for (let i = Math.max(seen, count - ring.length); i < count; i++) out.push(ring[i % ring.length]);
    return out;
  };
  const s = o && o.stats;
  return {
    ready: !!s,
    applies: s ? s.applies : 0,
    applyMs: s ? Array.from(s.applyMs || []) : [],
    lastApplyMs: s ? s.lastApplyMs : null,
    lastVehicles: s ? s.lastVehicles : null,
    drawn: o && o.vehiclesDrawn ? o.vehiclesDrawn() : null,
    frameCount: b.frameCount,
    frames: fresh(b.frames, b.frameCount, framesSeen),
    paintCount: b.paintCount,
    paints: fresh(b.paints, b.paintCount, paintsSeen),
    longTasks: b.longTasks, longTaskMs: b.longTaskMs, longTaskMaxMs: b.longTaskMaxMs,
    domNodes: document.getElementsByTagName('*').length,
  };
}
"""

#: The peer: Leaflet (the dashboard's own npm install, served by the dashboard server under
#: /vendor/leaflet/) with one SVG circleMarker per vehicle; each ``vehicles`` message is applied by
#: setLatLng (and setStyle when the state changed) per changed vehicle. Timed as the dashboard
#: times itself: ``window.peer.stats`` with the same names. The streets are drawn once (one SVG path).
PEER_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>peer: Leaflet SVG markers</title>
<link rel="stylesheet" href="/vendor/leaflet/leaflet.css">
<style>html, body, #map { margin: 0; height: 100%; }</style>
<script src="/vendor/leaflet/leaflet.js"></script></head>
<body><div id="map"></div><script>
(() => {
  const RING = 1000;
  const stats = { applies: 0, lastApplyMs: null, applyMs: [], lastVehicles: 0, parseMs: [] };
  const markers = new Map();
  const states = new Map();
  const colours = { idle: '#7a7a7a', to_pickup: '#e08a00', with_riders: '#1f8a3b', dwelling: '#2b6cd4',
                    off_shift: '#333333' };
  window.peer = { stats, vehiclesDrawn: () => markers.size };
  const map = L.map('map', { zoomControl: false, attributionControl: false, renderer: L.svg() });
  let col = null;
  const ws = new WebSocket(`ws://${location.host}/ws?key=${encodeURIComponent(__KEY__)}`);
  ws.onmessage = (ev) => {
    const t0 = performance.now();
    const msg = JSON.parse(ev.data);
    const t1 = performance.now();
    if (msg.type === 'hello') {
      col = Object.fromEntries(msg.vehicle_fields.map((name, i) => [name, i]));
      const m = msg.map;
      if (m.bounds) map.fitBounds(m.bounds);
      const st = m.streets, lines = [];
      for (let i = 0; i + 1 < st.offsets.length; i++) {
        const line = [];
        for (let k = st.offsets[i]; k < st.offsets[i + 1]; k++) line.push([st.lat[k], st.lon[k]]);
        lines.push(line);
      }
      L.polyline(lines, { color: '#b0b0b0', weight: 1, interactive: false }).addTo(map);
      return;
    }
    if (msg.type !== 'vehicles' || col === null) return;
    if (msg.full) { for (const mk of markers.values()) mk.remove(); markers.clear(); states.clear(); }
    for (const row of msg.items) {
      const id = row[col.id], lat = row[col.lat], lon = row[col.lon], state = row[col.state];
      if (lat == null || lon == null) continue;
      let mk = markers.get(id);
      if (mk === undefined) {
        mk = L.circleMarker([lat, lon], { radius: 4, weight: 1, color: '#ffffff', fillOpacity: 0.9,
                                          fillColor: colours[state] || '#000000' }).addTo(map);
        markers.set(id, mk); states.set(id, state);
      } else {
        mk.setLatLng([lat, lon]);
        if (states.get(id) !== state) {
          mk.setStyle({ fillColor: colours[state] || '#000000' });
          states.set(id, state);
        }
      }
    }
    for (const id of msg.removed || []) { const mk = markers.get(id); if (mk) { mk.remove(); markers.delete(id); } }
    const ms = performance.now() - t0; // from the message's arrival, as the dashboard times itself
    stats.applies++; stats.lastApplyMs = ms; stats.lastVehicles = msg.items.length;
    stats.applyMs.push(ms); if (stats.applyMs.length > RING) stats.applyMs.shift();
    stats.parseMs.push(t1 - t0); if (stats.parseMs.length > RING) stats.parseMs.shift();
  };
})();
</script></body></html>
"""


@dataclass
class FrameCapture:
    """What arrived on the page's WebSocket: messages and bytes per type; for ``vehicles`` messages,
    the vehicles in each (changed ones; the whole fleet for a ``full`` one) and their bytes."""

    by_type: dict[str, list[int]] = field(default_factory=dict)  # type -> [messages, bytes]
    vehicle_items: deque[int] = field(default_factory=lambda: deque(maxlen=100_000))
    vehicle_bytes: deque[int] = field(default_factory=lambda: deque(maxlen=100_000))
    full_messages: int = 0
    first_full_items: int | None = None
    unreadable: int = 0

    def attach(self, ws: Any) -> None:
        if "/ws" in ws.url:
            ws.on("framereceived", self.received)

    def received(self, payload: str | bytes) -> None:
        import orjson

        size = len(payload.encode() if isinstance(payload, str) else payload)
        try:
            msg = orjson.loads(payload)
            kind = str(msg.get("type"))
        except (orjson.JSONDecodeError, AttributeError):
            self.unreadable += 1
            return
        entry = self.by_type.setdefault(kind, [0, 0])
        entry[0] += 1
        entry[1] += size
        if kind == "vehicles":
            items = len(msg.get("items") or [])
            if msg.get("full"):
                self.full_messages += 1
                if self.first_full_items is None:
                    self.first_full_items = items
                return
            self.vehicle_items.append(items)
            self.vehicle_bytes.append(size)

    def summary(self) -> dict[str, Any]:
        items = np.array(self.vehicle_items, np.int64)
        sizes = np.array(self.vehicle_bytes, np.int64)
        return {
            "messages_by_type": {k: {"messages": v[0], "bytes": v[1]} for k, v in sorted(self.by_type.items())},
            "vehicles_updates": int(items.size),
            "vehicles_full_messages": self.full_messages,
            "first_full_items": self.first_full_items,
            "changed_vehicles_min": int(items.min()) if items.size else None,
            "changed_vehicles_p50": float(np.percentile(items, 50)) if items.size else None,
            "changed_vehicles_max": int(items.max()) if items.size else None,
            "bytes_per_update_p50": float(np.percentile(sizes, 50)) if sizes.size else None,
            "bytes_per_update_max": int(sizes.max()) if sizes.size else None,
            "bytes_per_vehicle": round(float(sizes.sum() / items.sum()), 1) if items.sum() else None,
            "unreadable_frames": self.unreadable,
        }


class PageProbe:
    """Polls one page's counters (``root``: ``"dashboard"`` or ``"peer"``) and samples its memory.

    Apply times go into a histogram as they appear in the page's ring (the first application,
    the warm-up, apart); frame intervals into another; every sample (CDP ``Performance.getMetrics``)
    is kept (a few per minute).
    """

    def __init__(self, page: Any, cdp: Any, root: str) -> None:
        self.page, self.cdp, self.root = page, cdp, root
        self.apply = Histogram(0.05, 2000.0)
        self.frames = Histogram(0.5, 2000.0)
        self.first_apply_ms: float | None = None
        self.applies_seen = 0
        self.applies_missed = 0
        self.frames_seen = 0
        self.paints = Histogram(0.05, 2000.0)
        self.paints_seen = 0
        self.paints_timed = False
        self.samples: list[dict[str, Any]] = []
        self.last: dict[str, Any] = {}
        self.t0 = time.perf_counter()
        self.base_metrics: tuple[float, dict[str, float]] | None = None

    def poll(self) -> dict[str, Any]:
        """Read the page's counters; new apply times and frames go into the histograms."""
        r = self.page.evaluate(READ_JS, [self.root, self.frames_seen, self.paints_seen])
        ring, applies = r["applyMs"], int(r["applies"])
        new = applies - self.applies_seen
        if new > 0:
            fresh = ring[-new:] if new <= len(ring) else ring
            self.applies_missed += max(0, new - len(ring))
            if self.applies_seen == 0 and fresh:
                self.first_apply_ms = float(fresh[0])
                fresh = fresh[1:]
            self.apply.add(fresh)
            self.applies_seen = applies
        self.frames.add(r["frames"])
        self.frames_seen = int(r["frameCount"])
        self.paints.add(r["paints"])
        self.paints_seen = int(r["paintCount"])
        self.last = r
        return r

    def reset_frames(self) -> None:
        """Start the frame and long-task counts afresh (after the page's start-up)."""
        self.paints_timed = bool(self.page.evaluate(PAINT_PROBE_JS, self.root))
        self.poll()
        self.page.evaluate("() => Object.assign(window.__bench, {longTasks: 0, longTaskMs: 0, longTaskMaxMs: 0})")
        self.frames = Histogram(0.5, 2000.0)
        self.paints = Histogram(0.05, 2000.0)
        self.base_metrics = (time.perf_counter(), self.metrics())

    def metrics(self) -> dict[str, float]:
        return {m["name"]: float(m["value"]) for m in self.cdp.send("Performance.getMetrics")["metrics"]}

    def sample(self, extra: dict[str, Any] | None = None, *, gc: bool = False) -> dict[str, Any]:
        """The page's JS heap (MiB), DOM nodes and listeners now (after a forced collection with ``gc``)."""
        if gc:
            self.cdp.send("HeapProfiler.enable")
            self.cdp.send("HeapProfiler.collectGarbage")
        m = self.metrics()
        s = {
            "t_s": round(time.perf_counter() - self.t0, 1),
            "js_heap_used_mb": round(m.get("JSHeapUsedSize", 0.0) / 2**20, 2),
            "js_heap_total_mb": round(m.get("JSHeapTotalSize", 0.0) / 2**20, 2),
            "dom_nodes": int(m.get("Nodes", 0)),
            "js_event_listeners": int(m.get("JSEventListeners", 0)),
            "after_gc": gc,
            **(extra or {}),
        }
        self.samples.append(s)
        return s

    def sample_if_stale(self, extra: Callable[[], dict[str, Any]]) -> None:
        """A sample now, unless the last one is under a second old (the end of a phase)."""
        if not self.samples or time.perf_counter() - self.t0 - self.samples[-1]["t_s"] >= 1.0:
            self.sample(extra())

    def main_thread(self) -> dict[str, float] | None:
        """The page's main thread since :meth:`reset_frames`: the share of wall time it was busy
        (``TaskDuration``), and in scripts, style recalculation and layout (the DevTools metrics)."""
        if self.base_metrics is None:
            return None
        t0, before = self.base_metrics
        wall = time.perf_counter() - t0
        now = self.metrics()
        names = {"busy": "TaskDuration", "script": "ScriptDuration", "style": "RecalcStyleDuration",
                 "layout": "LayoutDuration"}  # fmt: skip
        return {k: round((now.get(m, 0.0) - before.get(m, 0.0)) / wall, 3) for k, m in names.items()}

    def summary(self) -> dict[str, Any]:
        r = self.last
        long_n = int(r.get("longTasks", 0))
        long_ms = float(r.get("longTaskMs", 0.0))
        frames = self.frames.summary(1)
        frames["slow"] = self.frames.over(SLOW_FRAME_MS)
        heap = [s for s in self.samples if not s["after_gc"]]
        after_gc = [s for s in self.samples if s["after_gc"]]
        return {
            "first_apply_ms": None if self.first_apply_ms is None else round(self.first_apply_ms, 2),
            "apply": self.apply.summary(),
            "applies_missed": self.applies_missed,
            "frames": frames,
            "paint": self.paints.summary() if self.paints_timed else None,
            "long_tasks": long_n,
            "long_task_ms": round(long_ms, 1),
            "long_task_max_ms": round(float(r.get("longTaskMaxMs", 0.0)), 1),
            "main_thread": self.main_thread(),
            "heap_start_mb": heap[0]["js_heap_used_mb"] if heap else None,
            "heap_end_mb": heap[-1]["js_heap_used_mb"] if heap else None,
            "heap_max_mb": max(s["js_heap_used_mb"] for s in heap) if heap else None,
            "heap_end_after_gc_mb": after_gc[-1]["js_heap_used_mb"] if after_gc else None,
            "dom_nodes_start": heap[0]["dom_nodes"] if heap else None,
            "dom_nodes_end": heap[-1]["dom_nodes"] if heap else None,
            "dom_nodes_end_after_gc": after_gc[-1]["dom_nodes"] if after_gc else None,
            "vehicles_drawn": r.get("drawn"),
            "samples": self.samples,
        }


# ---------------------------------------------------------------------------- the run
class BenchError(RuntimeError):
    """The benchmark cannot run (no browser, a part that did not start): one line for the user."""


def steps(options: Options) -> int:
    """Progress steps of a run: start-up (engine, dashboard, page), one per poll of each phase, the end."""
    main = math.ceil(options.minutes * 60 / POLL_S)
    peer = math.ceil(options.peer_minutes * 60 / POLL_S)
    return 3 + main + peer + 1


def _find_chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise BenchError("chromium not found: install Debian's chromium (apt-get install chromium); the "
                         "benchmark drives the system browser, Playwright's own download is not used")  # fmt: skip
    return path


def _wait_for(page: Any, root: str, vehicles: int, timeout_s: float) -> float:
    """Wait until the page ``root`` has drawn ``vehicles`` vehicles; the seconds it took."""
    t0 = time.perf_counter()
    script = f"() => window.{root} && window.{root}.vehiclesDrawn && window.{root}.vehiclesDrawn() >= {vehicles}"
    page.wait_for_function(script, timeout=timeout_s * 1000, polling=100)
    return time.perf_counter() - t0


def _phase(probe: PageProbe, seconds: float, sample_every_s: float, say: Callable[[str], None],
           label: str, on_sample: Callable[[], dict[str, Any]]) -> None:  # fmt: skip
    """Poll the page every :data:`POLL_S` for ``seconds``, a memory sample every ``sample_every_s``."""
    t0 = time.perf_counter()
    next_sample = t0 + sample_every_s
    for k in range(math.ceil(seconds / POLL_S)):
        wait_ms = max(0.0, (t0 + (k + 1) * POLL_S - time.perf_counter()) * 1000)
        probe.page.wait_for_timeout(wait_ms)  # Playwright delivers the page's events meanwhile
        r = probe.poll()
        if time.perf_counter() >= next_sample:
            s = probe.sample(on_sample())
            next_sample += sample_every_s
            last = f", heap {s['js_heap_used_mb']:.1f} MiB"
        else:
            last = ""
        ms = r["lastApplyMs"]
        say(f"{label}: {r['drawn']} drawn, {r['applies']} applies, last {'-' if ms is None else f'{ms:.1f}'} ms{last}")


def run(
    *,
    data_dir: Path,
    options: Options,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One run (see the module's docstring); writes ``dashboard.json`` and ``dashboard.md`` into ``out_dir``.

    Raises :class:`InvalidArgumentError` for a bad option or network, :class:`BenchError` when
    the browser is missing or a part does not start.
    """
    options.check()
    osm = network_file(options.network, data_dir)
    chromium = _find_chromium()
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    from matching.deployment import Deployment, load_world

    say = progress or (lambda _m: None)
    load_before = os.getloadavg()
    result: dict[str, Any] = {
        "benchmark": "dashboard",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine_info("grpcio", "playwright", "starlette", "uvicorn"),
        "load_average_before": [round(x, 2) for x in load_before],
        "options": asdict(options),
        "quick": options.quick,
    }
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        scenario = write_deployment(folder, osm=osm, vehicles=options.vehicles)
        token_file, tokens = write_tokens(folder)
        net, router, _stops = load_world(Deployment.from_toml(scenario, data_dir=data_dir))
        result["network"] = {"file": osm.name, "nodes": int(net.num_nodes), "edges": int(net.num_edges)}
        try:
            engine = stack.enter_context(engine_process(scenario, data_dir, token_file))
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        say(f"engine up in {engine['start_s']:.1f} s")
        ids, nodes = fleet_nodes(engine["port"], tokens["feeder"])
        feeder = Feeder(port=engine["port"], token=tokens["feeder"], vehicle_ids=ids, start_nodes=nodes,
                        router=router, interval_s=options.interval_s, streams=options.streams,
                        seed=options.seed)  # fmt: skip
        feeder.start()
        stack.callback(feeder.stop)
        try:
            dash = stack.enter_context(
                dashboard_process(engine["port"], folder / "dashboard.token", folder, options.interval_s)
            )
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        say("dashboard up")
        pw = stack.enter_context(sync_playwright())
        try:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            raise BenchError(f"chromium ({chromium}) did not start: {str(exc).splitlines()[0]}") from exc
        stack.callback(browser.close)
        result["machine"]["chromium"] = browser.version
        context = browser.new_context(viewport=VIEWPORT)
        context.add_init_script(FRAME_PROBE_JS)

        # ---- the dashboard's page
        page = context.new_page()
        errors: list[str] = []
        error_count = [0]

        def console(kind: str, text: str) -> None:
            error_count[0] += 1
            if len(errors) < MAX_CONSOLE_ERRORS:
                errors.append(f"{kind}: {text[:300]}")

        page.on("console", lambda m: console("console", m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: console("pageerror", str(e)))
        capture = FrameCapture()
        page.on("websocket", capture.attach)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        probe = PageProbe(page, cdp, "dashboard")
        t0 = time.perf_counter()
        response = page.goto(dash.url, wait_until="load", timeout=START_TIMEOUT_S * 1000)
        if response is None or not response.ok:
            status = "nothing" if response is None else f"{response.status}: {response.text().strip()[:300]}"
            raise BenchError(f"the dashboard's page answered {status}")
        try:
            _wait_for(page, "dashboard", options.vehicles, START_TIMEOUT_S)
        except PlaywrightError as exc:
            probe.poll()
            raise BenchError(
                f"the page did not draw {options.vehicles} vehicles within {START_TIMEOUT_S:.0f} s "
                f"(drawn: {probe.last.get('drawn')}; console errors: {errors[:3]})"
            ) from exc
        page_ready_s = time.perf_counter() - t0
        say(f"page ready in {page_ready_s:.1f} s")
        probe.reset_frames()
        pid = dash.process.pid
        cpu0 = {"dashboard": cpu_seconds(pid), "engine": cpu_seconds(engine["pid"])}
        wall0 = time.perf_counter()
        rss_max = [process_rss_mb(pid) or 0.0]

        def server_memory() -> dict[str, Any]:
            rss = process_rss_mb(pid)
            rss_max[0] = max(rss_max[0], rss or 0.0)
            return {"dashboard_rss_mb": None if rss is None else round(rss, 1), "feeder_intervals": feeder.ticks}

        probe.sample(server_memory())
        _phase(probe, options.minutes * 60, options.sample_every_s, say, "page", server_memory)
        probe.poll()
        probe.sample_if_stale(server_memory)
        probe.sample(server_memory(), gc=True)
        wall = time.perf_counter() - wall0
        cpu1 = {"dashboard": cpu_seconds(pid), "engine": cpu_seconds(engine["pid"])}
        page_result = probe.summary()
        page_result.update(
            page_ready_s=round(page_ready_s, 2),
            console_errors=error_count[0],
            console_error_lines=errors,
            websocket=capture.summary(),
            seconds=round(wall, 1),
        )
        result["page"] = page_result
        rss = [s["dashboard_rss_mb"] for s in probe.samples if s.get("dashboard_rss_mb") is not None]
        result["dashboard_server"] = {
            "rss_start_mb": rss[0] if rss else None,
            "rss_end_mb": rss[-1] if rss else None,
            "rss_max_mb": round(rss_max[0], 1),
            "cpu_share": _share(cpu0["dashboard"], cpu1["dashboard"], wall),
            "start_s": round(dash.start_s, 2),
        }
        result["engine"] = {
            "start_s": round(engine["start_s"], 2),
            "cpu_share": _share(cpu0["engine"], cpu1["engine"], wall),
        }
        cdp.detach()
        page.close()

        # ---- the peer, on the same stream
        if options.peer_minutes > 0:
            result["peer"] = _run_peer(context, dash, options, say)
        result["feeder"] = feeder.stop()
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    say("done")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "dashboard.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "dashboard.md").write_text(to_markdown(result))
    return result


def _share(before: float | None, after: float | None, wall: float) -> float | None:
    """CPU seconds per wall second (cores kept busy) between two readings."""
    if before is None or after is None or wall <= 0:
        return None
    return round((after - before) / wall, 3)


def _run_peer(context: Any, dash: Dashboard, options: Options, say: Callable[[str], None]) -> dict[str, Any]:
    """The peer page (:data:`PEER_HTML`) on the dashboard's origin and stream for ``peer_minutes``."""
    from playwright.sync_api import Error as PlaywrightError

    html = PEER_HTML.replace("__KEY__", json.dumps(dash.key))
    address = f"{dash.base}/__bench_peer.html"
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)[:300]) if len(errors) < MAX_CONSOLE_ERRORS else None)
    page.on(
        "console",
        lambda m: errors.append(m.text[:300]) if m.type == "error" and len(errors) < MAX_CONSOLE_ERRORS else None,
    )
    page.route(address, lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    capture = FrameCapture()
    page.on("websocket", capture.attach)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    probe = PageProbe(page, cdp, "peer")
    t0 = time.perf_counter()
    page.goto(address, wait_until="load", timeout=START_TIMEOUT_S * 1000)
    try:
        _wait_for(page, "peer", options.vehicles, START_TIMEOUT_S)
    except PlaywrightError as exc:
        probe.poll()
        raise BenchError(f"the peer page did not draw {options.vehicles} vehicles (drawn: {probe.last.get('drawn')}; "
                         f"errors: {errors[:3]})") from exc  # fmt: skip
    ready = time.perf_counter() - t0
    probe.reset_frames()
    probe.sample()
    _phase(probe, options.peer_minutes * 60, options.sample_every_s, say, "peer", dict)
    probe.poll()
    probe.sample_if_stale(dict)
    probe.sample(gc=True)
    out = probe.summary()
    out.update(page_ready_s=round(ready, 2), page_errors=errors, websocket=capture.summary(),
               seconds=round(options.peer_minutes * 60, 1))  # fmt: skip
    cdp.detach()
    page.close()
    return out


# ---------------------------------------------------------------------------- the table
def _ms(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:,.{digits}f} ms"


def _mb(x: float | None) -> str:
    return "—" if x is None else f"{x:,.1f} MiB"


def _int(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f}"


def _apply_cell(p: dict[str, Any]) -> str:
    a = p["apply"]
    return f"{_ms(a['p50_ms'], 2)} / {_ms(a['p95_ms'], 2)} / {_ms(a['max_ms'], 2)} ({a['count']:,})"


def _frames_cell(p: dict[str, Any]) -> str:
    f = p["frames"]
    return f"{_ms(f['p50_ms'])} / {_ms(f['p95_ms'])} / {_ms(f['max_ms'])}; {f['slow']:,} of {f['count']:,}"


def _rows(p: dict[str, Any]) -> list[str]:
    ws = p["websocket"]
    busy = p["main_thread"]
    paint = p.get("paint")
    return [
        _int(p["vehicles_drawn"]),
        _int(ws["changed_vehicles_p50"]),
        _ms(p["first_apply_ms"], 2),
        _apply_cell(p),
        _frames_cell(p),
        f"{p['long_tasks']:,} ({_ms(p['long_task_ms'], 0)} in all, longest {_ms(p['long_task_max_ms'], 0)})",
        "—" if paint is None else f"{_ms(paint['p50_ms'], 2)} / {_ms(paint['p95_ms'], 2)} / {_ms(paint['max_ms'], 2)}",
        "—"
        if busy is None
        else f"{100 * busy['busy']:.0f}% (scripts {100 * busy['script']:.0f}%, style {100 * busy['style']:.0f}%, "
        f"layout {100 * busy['layout']:.0f}%)",
        f"{_mb(p['heap_start_mb'])} → {_mb(p['heap_end_mb'])} (max {_mb(p['heap_max_mb'])})",
        _mb(p["heap_end_after_gc_mb"]),
        f"{_int(p['dom_nodes_start'])} → {_int(p['dom_nodes_end'])} ({_int(p['dom_nodes_end_after_gc'])})",
        "—" if ws["bytes_per_update_p50"] is None else f"{ws['bytes_per_update_p50'] / 1024:,.1f} KiB",
        f"{p['page_ready_s']:.1f} s",
    ]


_ROW_NAMES = [
    "vehicles drawn",
    "changed vehicles per update (p50, from the WebSocket frames)",
    "first apply: the whole fleet, JavaScript compiling (warm-up)",
    "apply one update: p50 / p95 / max (updates)",
    "frame interval: p50 / p95 / max; frames over 50 ms",
    "long tasks (over 50 ms)",
    "the page's own paint timing (canvas redraw of the vehicles): p50 / p95 / max",
    "page's main thread busy (of wall time)",
    "JS heap used: start → end of the run (max)",
    "JS heap used at the end, after a forced collection",
    "DOM nodes: start → end (after the forced collection)",
    "WebSocket bytes per update (p50)",
    "page opened to every vehicle drawn",
]


def to_markdown(result: dict[str, Any]) -> str:
    m, o = result["machine"], result["options"]
    page, peer, feeder = result["page"], result.get("peer"), result["feeder"]
    load = result["load_average_before"]
    net = result["network"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores; load average {load[0]:.2f} before the run, "
        f"{result['load_average_after'][0]:.2f} after), headless Chromium {m.get('chromium', '?')} at "
        f"{VIEWPORT['width']} x {VIEWPORT['height']} driven by Playwright {m['playwright']}. "
        f"{o['vehicles']:,} shared taxis on {net['file']} ({net['nodes']:,} road nodes), each reporting a new road "
        f"node every {o['interval_s']:g} s to a live engine (memory store, external clock moved every interval); "
        f"`mobility dashboard` following it; the page watched for {_duration(page['seconds'])}, its memory sampled "
        f"every {o['sample_every_s']:g} s. **The engine, the feeder, the dashboard server, the browser and Playwright "
        f"share the same {m['cores']} cores.** Apply times are the page's own (`window.dashboard.stats`); frames "
        "are `requestAnimationFrame` intervals; memory from the DevTools protocol (`Performance.getMetrics`).",
        "",
        "| | dashboard page" + (" | peer: Leaflet, one SVG circleMarker per vehicle |" if peer else " |"),
        "|---|---:" + ("|---:|" if peer else "|"),
    ]
    ours = _rows(page)
    theirs = _rows(peer) if peer else None
    for k, name in enumerate(_ROW_NAMES):
        lines.append(f"| {name} | {ours[k]}" + (f" | {theirs[k]} |" if theirs else " |"))
    server = result["dashboard_server"]
    engine = result["engine"]
    rate_ok = feeder["reports_per_s"] is not None and feeder["reports_per_s"] >= 0.95 * feeder["target_reports_per_s"]
    lines += [
        "",
        f"- Feeder: {feeder['reports_accepted']:,} location reports accepted in {feeder['seconds']:,.0f} s, "
        f"**{_int(feeder['reports_per_s'])} reports/s** (target {_int(feeder['target_reports_per_s'])}/s: "
        f"{'kept up' if rate_ok else 'NOT kept up'}); one interval's {o['vehicles']:,} reports "
        f"({feeder['streams']} ReportLocation calls at once) took {_ms(_s_to_ms(feeder['interval_reports_p50_s']))} "
        f"p50, {_ms(_s_to_ms(feeder['interval_reports_p95_s']))} p95, "
        f"{_ms(_s_to_ms(feeder['interval_reports_max_s']))} max (at that pace the engine takes about "
        f"{_int(feeder['capacity_reports_per_s'])} reports/s); "
        f"{feeder['intervals_late']:,} of {feeder['intervals']:,} intervals ran late; {feeder['errors']} errors"
        + (f" (first: {feeder['first_error']})" if feeder["errors"] else "")
        + ".",
        f"- Dashboard server (`mobility dashboard`, its own process): resident memory {_mb(server['rss_start_mb'])} "
        f"once the page had the fleet, {_mb(server['rss_end_mb'])} at the end (max {_mb(server['rss_max_mb'])}); "
        f"CPU {_cores(server['cpu_share'])}; it started (until it printed its address) in {server['start_s']:.1f} s. "
        f"Engine: started (network, kernels warm) in {engine['start_s']:.1f} s; "
        f"CPU {_cores(engine['cpu_share'])}.",
        f"- WebSocket: {page['websocket']['vehicles_updates']:,} `vehicles` updates "
        f"(plus {page['websocket']['vehicles_full_messages']} full), "
        f"{_int(page['websocket']['bytes_per_vehicle'])} bytes per changed vehicle; "
        f"{page['console_errors']} console errors on the page.",
    ]
    heap = [x for x in page["samples"] if not x["after_gc"]]
    lines.append(
        f"- Over the run, every {o['sample_every_s']:g} s: the page's JS heap used (MiB) "
        + ", ".join(f"{x['js_heap_used_mb']:.1f}" for x in heap)
        + "; DOM nodes "
        + ", ".join(f"{x['dom_nodes']:,}" for x in heap)
        + "; the dashboard server's resident memory (MiB) "
        + ", ".join("—" if x.get("dashboard_rss_mb") is None else f"{x['dashboard_rss_mb']:.0f}" for x in heap)
        + "."
    )
    if peer:
        lines.append(
            f"- The peer ran after the dashboard's page was closed, for {_duration(peer['seconds'])} on the same "
            "engine, feeder and dashboard server (the same `vehicles` messages); it applies only the vehicles (no "
            "rides, feed or charts), and its Leaflet is the dashboard's own npm install."
        )
    if result["quick"]:
        lines += [
            "",
            "**Quick run** (a smoke test of seconds at a small size): the numbers are measured but say little "
            "at this size; no verdict.",
        ]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    """``"15 s"`` under two minutes, else ``"10.0 minutes"``."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} minutes"


def _s_to_ms(x: float | None) -> float | None:
    return None if x is None else x * 1000


def _cores(share: float | None) -> str:
    return "—" if share is None else f"{share:.2f} cores"
