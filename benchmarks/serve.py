"""Live engine throughput: ``mobility serve`` under load from client processes (``mobility bench serve``).

Each round starts the engine as a subprocess on the ``drt_manhattan`` scenario (300 vans of
8 seats on the Manhattan graph, every node a stop) with an external clock and background
re-optimisation off, with the memory store or a real Redis (a temporary ``redis-server`` on a
free port, AOF with ``appendfsync everysec``, stopped after the round). Then:

* **clients** — several clients, each a thread with a gRPC channel of its own, four to a client
  process (``clients_per_process``; clients mostly wait on the engine, and a process each cost
  nearly twice the CPU on the cores the engine uses), each looping Quote then BookRide on
  random origin and destination pairs of ``Manhattan.2.reqs``. The clock stands at 05:30 and the requested
  times increase with the round's progress from 06:00 to 23:00 (plus up to five minutes),
  so one round pre-books a service day: the vans' plans fill as the round goes on, and the
  times, being external, are the same whenever the benchmark runs. (A clock moving with the
  requests would need drivers reporting their stops: a van that does not report is taken as
  late at every tick.) BookRide carries an idempotency key. In the second mode, *at once*,
  each client books with one call instead: BookRide with the request itself (the engine
  quotes and books in one command), as a rider app that takes the best offer does.
* **the operator** — one more process follows WatchAssignments and notes when each BOOKING
  event arrives; the stream delay is that time minus the moment the client got the BookRide
  answer (``time.time()`` on one machine, so no clock skew; a negative delay means the event
  came before the answer).

Measured: bookings per second over the round, Quote and BookRide latency as the clients see
them, the stream delay, the share of quotes rejected and of bookings refused, and the CPU
used by the engine and by the clients (they share the same cores). Then, to see where the
time goes, the same requests run in this process straight against the engine core
(:class:`engine.core.EngineCore`, no gRPC): the dispatcher's own time, the commit to the
store with its events (the stage and commit steps the core reports to an observer, see
:meth:`engine.core.EngineCore.observe`), and the rest of the core's call; the engine's CPU per
booking minus the core's time is what gRPC, the servicers and the conversions cost.
"""

from __future__ import annotations

import functools
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from engine import DEFAULT_WRITER_NICE

from .common import machine_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIO = "drt_manhattan"

#: The external clock during a round: before the service starts, so every request is a pre-booking.
CLOCK_S = 5 * 3600 + 30 * 60
#: Requested times run from the start to the end of the service day over a round.
DAY_START_S, DAY_END_S = 6 * 3600, 23 * 3600
#: Up to this much is added to each requested time at random.
JITTER_S = 300
#: How clients book: Quote then BookRide of the offer, or BookRide with the request (one call).
MODES = ("quote-book", "at-once")
#: The target of the issue.
TARGET_BOOKINGS_PER_S = 1000.0
TARGET_P99_MS = 50.0
#: How long the engine and Redis may take to start.
START_TIMEOUT_S = 180.0
RPC_TIMEOUT_S = 30.0
#: Clients per client process (threads, a channel each); see :func:`client_group`.
CLIENTS_PER_PROCESS = 4


# ---------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), or None where that is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The live child processes of ``pid``, their children and so on (Linux ``/proc``)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += kids
            todo += kids
    return found


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and each of its live descendants."""
    out: dict[int, float] = {}
    for p in (pid, *descendants(pid)):
        cpu = cpu_seconds(p)
        if cpu is not None:
            out[p] = cpu
    return out


@contextmanager
def temporary_redis() -> Iterator[str]:
    """A ``redis-server`` on a free port with AOF (fsync every second) in a temporary folder; its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server not found: install it (apt-get install redis-server) or use --store memory")
    import redis

    folder = Path(tempfile.mkdtemp(prefix="bench-serve-redis-"))
    port = free_port()
    command = [
        executable, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
        "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
        "--logfile", str(folder / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {process.returncode}; see {folder / 'redis.log'}")
            with suppress(redis.RedisError):
                if client.ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def make_certificates(folder: Path) -> Path:
    """A CA and a server certificate for 127.0.0.1 it signed (EC P-256, the ``openssl`` command), in
    ``folder``: ``ca.pem``, ``server.pem``, ``server.key``; returns ``folder``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl not found: the --tls rounds make their certificates with it")
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for command in (
        [openssl, "req", "-x509", *curve, "-days", "2", "-subj", "/CN=bench CA", "-keyout", "ca.key", "-out", "ca.pem"],
        [openssl, "req", *curve, "-subj", "/CN=bench engine", "-keyout", "server.key", "-out", "server.csr"],
        [openssl, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-out", "server.pem", "-extfile", str(ext)],
    ):  # fmt: skip
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
    return folder


def client_tls(certificates: Path | None) -> Any:
    """The clients' :class:`sim.remote.ClientTLS` for the certificates of :func:`make_certificates`
    (None: plaintext)."""
    from proto.client import ClientTLS

    return None if certificates is None else ClientTLS.from_files(certificates / "ca.pem")


def channel(target: str, tls: Any) -> Any:
    """A gRPC channel to the engine, TLS with ``tls`` (a :class:`sim.remote.ClientTLS`) or plaintext."""
    from proto.client import engine_channel

    return engine_channel(target, tls)


class EngineServer:
    """``mobility serve`` on ``drt_manhattan`` as a subprocess (external clock, re-optimisation off; TLS
    with the certificates of :func:`make_certificates` in ``certificates``, if given)."""

    def __init__(
        self, store: str, data_dir: Path, workdir: Path, frontends: int = 0, certificates: Path | None = None
    ) -> None:
        self.port_file = workdir / "engine.port"
        self.stderr_path = workdir / "engine.stderr"
        self.port_file.unlink(missing_ok=True)  # a previous round's
        self.tls = client_tls(certificates)
        command = [
            sys.executable, "-m", "mobility.cli", "serve", "--scenario", SCENARIO, "--store", store,
            "--clock", "external", "--port", "0", "--port-file", str(self.port_file),
            "--reoptimise-every", "0", "--seed", "1", "--data-dir", str(data_dir), "--frontends", str(frontends),
        ]  # fmt: skip
        if certificates is not None:
            command += ["--tls-cert", str(certificates / "server.pem"), "--tls-key", str(certificates / "server.key")]
        with self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO_ROOT
            )
        self.port = 0
        try:
            self._wait_until_serving()
        except BaseException:
            self.kill()
            raise

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _wait_until_serving(self) -> None:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self.port_file.exists() and self.port_file.read_text().strip().isdigit()):
            if self.process.poll() is not None:
                raise RuntimeError(f"the engine exited with code {self.process.returncode}:\n{self.stderr_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the engine did not start within {START_TIMEOUT_S:.0f} s:\n{self.stderr_tail()}")
            time.sleep(0.05)
        self.port = int(self.port_file.read_text().strip())
        with channel(self.target, self.tls) as chan:
            health = health_pb2_grpc.HealthStub(chan)
            while True:
                with suppress(grpc.RpcError):
                    reply = health.Check(health_pb2.HealthCheckRequest(), timeout=2.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the engine never said SERVING:\n{self.stderr_tail()}")
                time.sleep(0.05)

    def stderr_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no stderr)"

    def cpu_seconds(self) -> dict[int, float]:
        """CPU seconds of the engine process and of each of its front ends."""
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGTERM (the engine stops gracefully), SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)


# ---------------------------------------------------------------------------- load
def requested_time(progress: float, rng: np.random.Generator) -> int:
    """The requested time at ``progress`` (0..1) through the round: the day's hours in order."""
    span = DAY_END_S - DAY_START_S - JITTER_S
    return DAY_START_S + int(min(max(progress, 0.0), 1.0) * span) + int(rng.integers(0, JITTER_S + 1))


def read_pairs(data_dir: Path) -> np.ndarray:
    """Origin and destination nodes of ``Manhattan.2.reqs`` (node = stop index), without o == d."""
    data = np.loadtxt(data_dir / "rideshare" / "manhattan" / "Manhattan.2.reqs", dtype=np.int64, ndmin=2)
    pairs = data[:, 1:3]
    return pairs[pairs[:, 0] != pairs[:, 1]]


def client_group(indices: list[int], loop: Callable[[int], dict[str, Any]], go: Any, out: Any) -> None:
    """A client process: one thread per client of ``indices``, each running ``loop(index)`` (a
    :func:`client_loop` with everything but the index given); their results and the process's CPU
    time during the round (from ``go``) into ``out``.

    Clients wait on the engine nearly all the time, so threads of one process serve as well as
    processes and cost less: 16 client processes took 0.47 ms of CPU per booking from the two
    cores the engine runs on, 4 processes of 4 threads 0.27 ms (at once, one front end)."""
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda i=i: results.append(loop(i)), daemon=True) for i in indices]
    for t in threads:
        t.start()
    go.wait()
    cpu0 = time.process_time()
    for t in threads:
        t.join()
    out.put({"clients": results, "cpu_s": time.process_time() - cpu0})


def client_loop(
    index: int,
    target: str,
    pairs: np.ndarray,
    seed: int,
    ready: Any,
    go: Any,
    start: Any,
    seconds: float,
    mode: str = "quote-book",
    tls: Any = None,
) -> dict[str, Any]:
    """One client: Quote + BookRide (``mode`` "at-once": one BookRide with the request) in a loop from
    ``start`` for ``seconds`` (over TLS with ``tls``); its results."""
    import grpc

    from proto.mobility.v1 import common_pb2, rider_pb2, rider_pb2_grpc

    rng = np.random.default_rng([seed, index])
    chan = channel(target, tls)
    grpc.channel_ready_future(chan).result(timeout=RPC_TIMEOUT_S)
    rider = rider_pb2_grpc.RiderServiceStub(chan)
    ready.put(index)
    go.wait()
    t0 = start.value
    end = t0 + seconds
    while time.time() < t0:
        time.sleep(0.001)
    quote_ms: list[float] = []
    book_ms: list[float] = []
    booked: list[tuple[str, float]] = []
    quotes = rejected = refused = errors = 0
    k = 0
    while (now := time.time()) < end:
        o, d = (int(x) for x in pairs[rng.integers(0, len(pairs))])
        k += 1
        request = rider_pb2.QuoteRequest(
            request_id=f"c{index}-{k}",
            origin=common_pb2.Place(stop=o),
            destination=common_pb2.Place(stop=d),
            requested_time_s=requested_time((now - t0) / seconds, rng),
            passengers=1,
            now_s=CLOCK_S,
        )
        if mode == "at-once":
            q0 = time.perf_counter()
            quotes += 1
            try:
                ride = rider.BookRide(
                    rider_pb2.BookRideRequest(request=request, idempotency_key=request.request_id, now_s=CLOCK_S),
                    timeout=RPC_TIMEOUT_S,
                )  # fmt: skip
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    rejected += 1  # no vehicle can take it: the rejection of a quote
                else:
                    errors += 1
                continue
            book_ms.append((time.perf_counter() - q0) * 1000)
            booked.append((ride.ride_id, time.time()))
            continue
        q0 = time.perf_counter()
        try:
            answer = rider.Quote(request, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError:
            errors += 1
            continue
        q1 = time.perf_counter()
        quotes += 1
        quote_ms.append((q1 - q0) * 1000)
        if answer.WhichOneof("result") != "offer":
            rejected += 1
            continue
        try:
            ride = rider.BookRide(
                rider_pb2.BookRideRequest(offer_id=answer.offer.offer_id, idempotency_key=request.request_id,
                                          now_s=CLOCK_S),
                timeout=RPC_TIMEOUT_S,
            )  # fmt: skip
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED):
                refused += 1  # the plan changed between the offer and the booking (other clients)
            else:
                errors += 1
            continue
        answered = time.time()
        book_ms.append((time.perf_counter() - q1) * 1000)
        booked.append((ride.ride_id, answered))
    chan.close()
    return {
        "index": index, "quote_ms": quote_ms, "book_ms": book_ms, "booked": booked, "quotes": quotes,
        "rejected": rejected, "refused": refused, "errors": errors,
    }  # fmt: skip


def watcher_process(target: str, ready: Any, stop: Any, out: Any, tls: Any = None) -> None:
    """The operator: WatchAssignments live; the arrival time (``time.time()``) of every BOOKING event."""
    import grpc

    from proto.mobility.v1 import operator_pb2, operator_pb2_grpc

    chan = channel(target, tls)
    call = operator_pb2_grpc.OperatorServiceStub(chan).WatchAssignments(
        operator_pb2.WatchAssignmentsRequest(after_event_id="0-0")
    )
    threading.Thread(target=lambda: (stop.wait(), call.cancel()), daemon=True).start()
    arrivals: dict[str, float] = {}
    events = 0
    announced = False
    cpu0 = time.process_time()
    with suppress(grpc.RpcError):
        for ev in call:
            events += 1
            if ev.kind == operator_pb2.ASSIGNMENT_KIND_BOOKING:
                arrivals[ev.ride_id] = time.time()
                if not announced:  # the warm-up booking: the stream is up
                    ready.put("watcher")
                    announced = True
    out.put({"arrivals": arrivals, "events": events, "cpu_s": time.process_time() - cpu0})
    chan.close()


def warm_up_engine(target: str, pairs: np.ndarray, count: int = 50, tls: Any = None) -> None:
    """A few quotes and one booking before the clock starts (and the first BOOKING event for the watcher)."""
    from proto.mobility.v1 import common_pb2, rider_pb2, rider_pb2_grpc

    rng = np.random.default_rng(12345)
    with channel(target, tls) as chan:
        rider = rider_pb2_grpc.RiderServiceStub(chan)
        booked = False
        for k in range(count):
            o, d = (int(x) for x in pairs[rng.integers(0, len(pairs))])
            answer = rider.Quote(
                rider_pb2.QuoteRequest(request_id=f"warm-{k}", origin=common_pb2.Place(stop=o),
                                       destination=common_pb2.Place(stop=d), requested_time_s=DAY_START_S,
                                       passengers=1, now_s=CLOCK_S),
                timeout=RPC_TIMEOUT_S,
            )  # fmt: skip
            if not booked and answer.WhichOneof("result") == "offer":
                rider.BookRide(rider_pb2.BookRideRequest(offer_id=answer.offer.offer_id, now_s=CLOCK_S),
                               timeout=RPC_TIMEOUT_S)  # fmt: skip
                booked = True


def planned_stops(target: str, tls: Any = None) -> dict[str, float]:
    """Planned stops per van at the end of a round: mean, most, and the share of vans with any."""
    from proto.mobility.v1 import operator_pb2, operator_pb2_grpc

    with channel(target, tls) as chan:
        vehicles = (
            operator_pb2_grpc.OperatorServiceStub(chan)
            .ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=RPC_TIMEOUT_S)
            .vehicles
        )
    stops = np.array([v.planned_stops for v in vehicles] or [0])
    return {
        "planned_stops_per_vehicle": round(float(stops.mean()), 1),
        "planned_stops_max": int(stops.max()),
        "vehicles_used_share": round(float(np.mean(stops > 0)), 3),
    }


def pct(values: list[float] | np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def load_round(
    store: str,
    *,
    clients: int,
    seconds: float,
    data_dir: Path,
    pairs: np.ndarray,
    seed: int,
    workdir: Path,
    mode: str = "quote-book",
    frontends: int = 0,
    per_process: int = CLIENTS_PER_PROCESS,
    certificates: Path | None = None,
) -> dict[str, Any]:
    """One round against a fresh engine on ``store`` (with ``frontends`` front-end processes; over TLS
    with the certificates of :func:`make_certificates` in ``certificates``); the measured numbers as a dict."""
    ctx = mp.get_context("spawn")  # never fork a process that has gRPC threads
    engine = EngineServer(store, data_dir, workdir, frontends, certificates)
    tls = engine.tls
    processes: list[Any] = []
    try:
        ready, out, watch_out = ctx.Queue(), ctx.Queue(), ctx.Queue()
        go, stop = ctx.Event(), ctx.Event()
        start = ctx.Value("d", 0.0)
        watcher = ctx.Process(target=watcher_process, args=(engine.target, ready, stop, watch_out, tls), daemon=True)
        watcher.start()
        processes.append(watcher)
        groups = [list(range(g, min(clients, g + per_process))) for g in range(0, clients, per_process)]
        loop = functools.partial(client_loop, target=engine.target, pairs=pairs, seed=seed, ready=ready, go=go,
                                 start=start, seconds=seconds, mode=mode, tls=tls)  # fmt: skip
        for group in groups:
            p = ctx.Process(
                target=client_group,
                args=(group, loop, go, out),
                daemon=True,
            )
            p.start()
            processes.append(p)
        warm_up_engine(engine.target, pairs, tls=tls)
        for _ in range(clients + 1):
            ready.get(timeout=START_TIMEOUT_S)
        start.value = time.time() + 0.2
        cpu0 = engine.cpu_seconds()
        go.set()
        from_clients = [out.get(timeout=seconds + START_TIMEOUT_S) for _ in groups]
        wall = time.time() - start.value
        cpu1 = engine.cpu_seconds()
        plans = planned_stops(engine.target, tls)
        time.sleep(0.5)  # the last events reach the watcher
        stop.set()
        watched = watch_out.get(timeout=60)
        for p in processes:
            p.join(timeout=30)
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
        engine.stop()
    results = [r for g in from_clients for r in g["clients"]]
    quote_ms = [x for r in results for x in r["quote_ms"]]
    book_ms = [x for r in results for x in r["book_ms"]]
    booked = [b for r in results for b in r["booked"]]
    quotes = sum(r["quotes"] for r in results)
    delays_ms = [(watched["arrivals"][rid] - t) * 1000 for rid, t in booked if rid in watched["arrivals"]]
    writer_nice_refused = "keeps the default priority" in engine.stderr_tail(200)
    by_process = {pid: cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1}
    engine_cpu = sum(by_process.values()) if by_process else None
    writer_cpu = by_process.get(engine.process.pid)
    cpu_per_booking = 1000 * (engine_cpu or 0.0) / max(1, len(booked))
    answered = np.array([t for _, t in booked]) - start.value
    thirds = [int(np.sum((answered >= k * seconds / 3) & (answered < (k + 1) * seconds / 3))) for k in range(3)]
    return {
        "store": "redis" if store.startswith("redis") else store,
        "tls": certificates is not None,
        "mode": mode,
        "clients": clients,
        "seconds": round(wall, 2),
        "bookings": len(booked),
        "bookings_per_s": round(len(booked) / wall, 1),
        "bookings_per_s_by_third": [round(3 * n / seconds, 1) for n in thirds],
        "quotes": quotes,
        "quotes_per_s": round(quotes / wall, 1),
        "quote_p50_ms": pct(quote_ms, 50),
        "quote_p99_ms": pct(quote_ms, 99),
        "book_p50_ms": pct(book_ms, 50),
        "book_p99_ms": pct(book_ms, 99),
        "stream_delay_p50_ms": pct(delays_ms, 50),
        "stream_delay_p99_ms": pct(delays_ms, 99),
        "stream_events": watched["events"],
        "bookings_missing_from_stream": len(booked) - len(delays_ms),
        "rejected_share": round(sum(r["rejected"] for r in results) / max(1, quotes), 4),
        "refused_bookings": sum(r["refused"] for r in results),
        "errors": sum(r["errors"] for r in results),
        **plans,
        "frontends": frontends,
        "writer_nice": 0 if not frontends or writer_nice_refused else DEFAULT_WRITER_NICE,
        "engine_cpu_s": None if engine_cpu is None else round(engine_cpu, 2),
        "engine_process_cpu_s": None if writer_cpu is None else round(writer_cpu, 2),
        "engine_cpu_ms_per_booking": None if engine_cpu is None or not booked else round(cpu_per_booking, 3),
        "client_processes": len(groups),
        "clients_cpu_s": round(sum(g["cpu_s"] for g in from_clients), 2),
        "watcher_cpu_s": round(watched["cpu_s"], 2),
    }


# ---------------------------------------------------------------------------- where the time goes
def core_profile(store_url: str, *, data_dir: Path, pairs: np.ndarray, requests: int, seed: int) -> dict[str, Any]:
    """The same kind of requests straight against :class:`EngineCore` in this process, one at a time.

    Per quote + booking: the dispatcher's own time, the commit (the core's stage and commit: records and
    events encoded, the store's commit, the hand-over to the streams) and the whole call from
    the calling thread (queue hop to the writer thread included).
    """
    from engine.core import EngineCore
    from engine.store import open_store
    from matching import Offer, Request
    from matching.deployment import Deployment

    deployment = Deployment.from_toml(REPO_ROOT / "scenarios" / f"{SCENARIO}.toml", data_dir=data_dir)
    store = open_store(store_url)
    core = EngineCore(deployment, store, clock="external", seed=1)
    core.start()
    persist_s: list[float] = []
    commit_s: list[float] = []
    rides_committed: list[int] = []

    def observe(step: str, seconds: float, commit: Any) -> None:
        """The core's timings (EngineCore.observe): its stages and commits, and the store's commits."""
        if step == "store":
            commit_s.append(seconds)
            rides_committed.append(len(commit.rides))
        else:
            persist_s.append(seconds)

    core.observe(observe)
    rng = np.random.default_rng([seed, 999])
    dispatch_ms: list[float] = []
    persist_ms: list[float] = []
    store_ms: list[float] = []
    records: list[int] = []
    total_ms: list[float] = []
    try:
        for k in range(requests):
            o, d = (int(x) for x in pairs[rng.integers(0, len(pairs))])
            req = Request(id=f"p{k}", requested_time_s=requested_time(k / requests, rng), submitted_time_s=CLOCK_S,
                          origin_stop=o, destination_stop=d)  # fmt: skip
            inner: list[float] = []

            def quote(disp: Any, req: Request = req, inner: list[float] = inner) -> Any:
                t0 = time.perf_counter()
                answer = disp.quote(req, core.now(CLOCK_S))
                inner.append(time.perf_counter() - t0)
                return answer

            persist_s.clear()
            commit_s.clear()
            rides_committed.clear()
            t0 = time.perf_counter()
            answer = core.call(quote)
            if isinstance(answer, Offer):

                def book(disp: Any, offer_id: str = answer.offer_id, inner: list[float] = inner) -> Any:
                    t0 = time.perf_counter()
                    ride = disp.book(offer_id, core.now(CLOCK_S))
                    inner.append(time.perf_counter() - t0)
                    return ride

                core.call(book)
                total_ms.append((time.perf_counter() - t0) * 1000)
                dispatch_ms.append(sum(inner) * 1000)
                persist_ms.append(sum(persist_s) * 1000)
                store_ms.append(sum(commit_s) * 1000)
                records.append(sum(rides_committed))
    finally:
        core.stop()
        store.close()
    total, dispatch, persist, stored = (
        float(np.mean(x)) if x else 0.0 for x in (total_ms, dispatch_ms, persist_ms, store_ms)
    )
    stops = core.dispatcher.plan.stop_counts()
    return {
        "requests": requests,
        "bookings": len(total_ms),
        "dispatch_ms": round(dispatch, 3),
        "records_ms": round(persist - stored, 3),
        "store_commit_ms": round(stored, 3),
        "other_ms": round(total - dispatch - persist, 3),
        "core_ms": round(total, 3),
        "ride_records_per_booking": round(float(np.mean(records)) if records else 0.0, 1),
        "planned_stops_per_vehicle": round(float(np.mean(stops)), 1),
        "planned_stops_max": int(stops.max()),
        "vehicles_used_share": round(float(np.mean(stops > 0)), 3),
    }


# ---------------------------------------------------------------------------- the run
def run(
    *,
    data_dir: Path,
    clients: tuple[int, ...] = (4,),
    seconds: float = 10.0,
    stores: tuple[str, ...] = ("memory", "redis"),
    modes: tuple[str, ...] = MODES,
    frontends: tuple[int, ...] = (0,),
    per_process: int = CLIENTS_PER_PROCESS,
    seed: int = 1,
    profile: bool = True,
    tls: bool = False,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """A round per store, mode and number of clients, each on a fresh engine (and the core profile after a
    store's last Quote + BookRide round), then ``serve.json`` and ``serve.md``. With ``tls`` the engine
    serves TLS (a certificate made for the run) and every client speaks it. ``quick`` marks a smoke
    test (``mobility bench serve --quick``: one short round): the figures are reported, the target (a
    sustained rate) is not judged."""
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"mode: got {mode!r} (allowed: {', '.join(MODES)})")
    say = progress or (lambda _m: None)
    pairs = read_pairs(data_dir)
    load_before = os.getloadavg()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        certificates = make_certificates(Path(tmp)) if tls else None
        for store in stores:
            with temporary_redis() if store == "redis" else _memory() as url:
                row = None
                for f in frontends:
                    for mode in modes:
                        for n in clients:
                            say(f"{store}, {mode}, front ends {f}: {n} clients for {seconds:g} s")
                            if store == "redis":  # a fresh engine starts from an empty store
                                _flush(url)
                            one = load_round(url, clients=n, seconds=seconds, data_dir=data_dir, pairs=pairs,
                                             seed=seed, workdir=Path(tmp), mode=mode, frontends=f,
                                             per_process=per_process, certificates=certificates)  # fmt: skip
                            rounds.append(one)
                            if mode == "quote-book" and f == 0:
                                row = one
                if profile and row is not None:
                    say(f"{store}: the engine core alone")
                    if store == "redis":
                        _flush(url)
                    row["core"] = core_profile(
                        url, data_dir=data_dir, pairs=pairs, requests=max(100, min(row["quotes"], 5000)), seed=seed
                    )
    result = {
        "benchmark": "serve",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info("grpcio", "redis"),
        "load_average_before": [round(x, 2) for x in load_before],
        "scenario": SCENARIO,
        "clock_s": CLOCK_S,
        "rounds": rounds,
        "quick": quick,
        "target": {"bookings_per_s": TARGET_BOOKINGS_PER_S, "p99_ms": TARGET_P99_MS},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "serve.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "serve.md").write_text(to_markdown(result))
    return result


@contextmanager
def _memory() -> Iterator[str]:
    yield "memory"


def _flush(url: str) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        client.flushdb()


_MODE_TEXT = {"quote-book": "Quote + BookRide", "at-once": "at once"}


def _writer_nice_text(rounds: list[dict[str, Any]]) -> str:
    values = sorted({r.get("writer_nice", 0) for r in rounds if r.get("frontends")})
    if values in ([], [DEFAULT_WRITER_NICE]):
        return f"{DEFAULT_WRITER_NICE}"
    return f"{DEFAULT_WRITER_NICE} where permitted (here: {', '.join(map(str, values))})"


def _per_process_text(rounds: list[dict[str, Any]]) -> str:
    counts = sorted({-(-r["clients"] // r["client_processes"]) for r in rounds if r.get("client_processes")})
    return " or ".join(map(str, counts)) or "one"


def _front_text(n: int) -> str:
    return "gRPC in the engine process" if n == 0 else f"{n} front-end process{'es' if n > 1 else ''}"


def _busy_text(r: dict[str, Any]) -> str:
    if r["engine_cpu_s"] is None:
        return ""
    busy = r["engine_cpu_s"] / r["seconds"]
    if not r.get("frontends"):
        return (
            f" (the engine kept {busy:.2f} cores busy: its threads share one Python interpreter lock, so about one "
            "core is its ceiling)"
        )
    writer = r["engine_process_cpu_s"] / r["seconds"]
    return f" (the engine kept {busy:.2f} cores busy: {writer:.2f} in the writer's process, the rest in the front ends)"


def _store_text(r: dict[str, Any]) -> str:
    return f"{r['store']}, TLS" if r.get("tls") else r["store"]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    load = result["load_average_before"]
    rounds = result["rounds"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores; load average {load[0]:.2f} before the run). "
        f"`mobility serve` on `{result['scenario']}` (300 vans, 4,333 stops) as a subprocess, external clock, "
        "re-optimisation off; Redis: a local `redis-server` with AOF, `appendfsync everysec`. Clients (threads with "
        f"a gRPC channel each, {_per_process_text(rounds)} to a process) loop Quote + BookRide, or book *at once* "
        "with one BookRide carrying the request (pre-bookings, requested times through the day as the round goes "
        "on); one more process follows WatchAssignments. "
        "**Clients, the operator stream and the engine share the same "
        f"{m['cores']} cores.** *Front ends*: 0, gRPC in the engine's own process; 1, gRPC in a process of its "
        "own next to the writer's (`mobility serve --frontends 1`), the writer thread at nice "
        f"{_writer_nice_text(rounds)} (`--writer-nice`). Latencies as the clients see them; stream "
        "delay: from the BookRide answer to the arrival of that ride's BOOKING event.",
        "",
        "| store | front ends | booking | clients | bookings/s | BookRide p50 | BookRide p99 | Quote p50 | "
        "Quote p99 | stream delay p50 | stream delay p99 | rejections |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rounds:
        lines.append(
            f"| {_store_text(r)} | {r.get('frontends', 0)} | {_MODE_TEXT[r.get('mode', 'quote-book')]} | "
            f"{r['clients']} | "
            f"{r['bookings_per_s']:,.0f} | {_ms(r['book_p50_ms'])} | "
            f"{_ms(r['book_p99_ms'])} | {_ms(r['quote_p50_ms'])} | {_ms(r['quote_p99_ms'])} | "
            f"{_ms(r['stream_delay_p50_ms'])} | {_ms(r['stream_delay_p99_ms'])} | {100 * r['rejected_share']:.1f}% |"
        )
    lines.append("")
    for r in rounds:
        lines.append(
            f"- {_store_text(r)}, {_front_text(r.get('frontends', 0))}, {_MODE_TEXT[r.get('mode', 'quote-book')]}: "
            f"{r['bookings']:,} bookings from "
            f"{r['quotes']:,} requests in {r['seconds']:.1f} s; "
            f"{r['refused_bookings']} bookings refused (plan changed since the offer), {r['errors']} errors, "
            f"{r['bookings_missing_from_stream']} bookings not seen on the stream; bookings/s in the first, "
            f"second and last third of the round {', '.join(f'{x:,.0f}' for x in r['bookings_per_s_by_third'])}; "
            f"at the end {r['planned_stops_per_vehicle']:.1f} planned stops per van on average, at most "
            f"{r['planned_stops_max']}, {100 * r['vehicles_used_share']:.0f}% of the vans with any. CPU time: "
            f"engine {r['engine_cpu_s']} s, clients {r['clients_cpu_s']} s, operator stream {r['watcher_cpu_s']} s"
            + _busy_text(r)
            + "."
        )
    best = max(rounds, key=lambda r: r["bookings_per_s"]) if rounds else None
    if result.get("quick"):
        lines += [
            "",
            f"**Quick run** (a smoke test of a few seconds): no verdict on the target (at least "
            f"{TARGET_BOOKINGS_PER_S:,.0f} bookings/s sustained with p99 under {TARGET_P99_MS:.0f} ms).",
        ]
    elif best is not None:
        p99 = max(best["book_p99_ms"] or 0.0, best["quote_p99_ms"] or 0.0)
        met = best["bookings_per_s"] >= TARGET_BOOKINGS_PER_S and p99 < TARGET_P99_MS
        lines += [
            "",
            f"Target: at least {TARGET_BOOKINGS_PER_S:,.0f} bookings/s sustained with p99 under "
            f"{TARGET_P99_MS:.0f} ms on 2 cores — **{'met' if met else 'not met'}**: best "
            f"{best['bookings_per_s']:,.0f} bookings/s ({best['store']}, {_front_text(best.get('frontends', 0))}, "
            f"{_MODE_TEXT[best.get('mode', 'quote-book')]}), p99 BookRide {_ms(best['book_p99_ms'])}"
            + ("" if best["quote_p99_ms"] is None else f", Quote {_ms(best['quote_p99_ms'])}")
            + ".",
        ]
    profiled = [r for r in rounds if "core" in r]
    if profiled:
        lines += [
            "",
            "Where the time goes, per booking (one Quote + one BookRide). *Core alone*: the same kind of requests "
            "sent one at a time straight to the engine core in this process (no gRPC), as many as the round "
            "quoted (so one command per commit: no group commit): the dispatcher's own work (quote and booking); "
            "building the records and events to commit (the rides whose record changed, the changed van's "
            "manifest) and handing the events to the streams; the "
            "store's commit (JSON encoding and the write); the rest of the core's call (the hop to the writer "
            "thread). *Engine CPU*: the server process's CPU time during the round divided by its bookings; "
            "beyond the core it pays for gRPC, the servicers and the conversions, and the operator stream.",
            "",
            "| store | dispatcher | records and events | store commit | rest of the core | core total | "
            "engine CPU under load | gRPC and the rest | ride records written per booking |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in profiled:
            c = r["core"]
            cpu = r["engine_cpu_ms_per_booking"]
            rest = None if cpu is None else cpu - c["core_ms"]
            lines.append(
                f"| {r['store']} | {c['dispatch_ms']:.2f} ms | {c['records_ms']:.2f} ms | "
                f"{c['store_commit_ms']:.2f} ms | {c['other_ms']:.2f} ms | {c['core_ms']:.2f} ms | "
                f"{'—' if cpu is None else f'{cpu:.2f} ms'} | {'—' if rest is None else f'{rest:.2f} ms'} | "
                f"{c['ride_records_per_booking']:.1f} |"
            )
    return "\n".join(lines) + "\n"
