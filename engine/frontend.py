"""gRPC front ends in processes of their own (``mobility serve --frontends N``).

In one process the writer shares Python's interpreter lock with gRPC, the servicers and the
streams, so the engine as a whole uses about one core however many the machine has. With
front ends, the engine process keeps the writer (the :class:`~engine.core.EngineCore`, the
store, the re-optimisation timer) and N front-end processes run the gRPC server: they parse
and check the requests, authenticate the callers, convert the answers and feed the streams.
They reach the writer through :class:`RemoteCore`, which implements for the servicers the same
:class:`~engine.dataplane.DataPlane` as the core (:meth:`RemoteCore.call_async`: an operation's
future, which the servicers await on the front end's event loop; the stream subscriptions; the
store reads; the clock and the network's size), over a local socket
(``multiprocessing.connection``, AF_UNIX, with an authentication key). A front end runs the same
``grpc.aio`` server as the engine's own (:mod:`engine.gateway`).

Messages, front end to engine (one pickled tuple each)::

    ("call", id, operation, args, kwargs)   an operation of EngineCore.command
    ("cancel", id)                          the caller gave up: drop the call if it has not begun
    ("read", id, what, args)                "history" (topic, after), "last_event_id" (topic) or
                                            "service_map" (service: a map, built off the writer)
    ("sub", topic) / ("unsub", topic)       the front end (no longer) has a stream of topic
    ("lag", True) / ("lag", False)          a stream of the front end is (no longer) far behind

engine to front end (lists of these, as many as were waiting)::

    ("ready", info)                         the engine is ready: {"num_edges", "clock", "clock_s", "timezone",
                                            "day_change_s", "day", "directory" (its services)}
    ("reply", id, ok, value, stamp)         an answer; an error travels as (class, args, attributes)
    ("events", [(topic, event_id, payload), ...], stamp)   a commit's events of the front end's topics

A stamp is the engine's clock as ``(clock_s, day)``: on a wall clock ``day`` is the service day's
ordinal (the front end reads the wall clock itself, on the engine's day: :mod:`engine.clock`),
on an external clock 0. A call whose caller gives up (its deadline) before the engine began it
is dropped ("cancel"), and the caller hears DEADLINE_EXCEEDED; once begun, it is waited for.

The engine answers through one sender thread per front end, so the writer never waits on a
socket. Several front ends share the port (SO_REUSEPORT; the kernel spreads the connections).
A front end that loses the engine (it stopped or was killed) stops at once, so a restarted
engine finds its port free; the engine restarts a front end that dies. A front end says SERVING
once the engine's "ready" has come, and tells the engine so (:meth:`FrontEnds.wait_serving`).
The engine's threads that carry the front ends' calls and answers run at the writer's priority
(``writer_nice``): they are on its path; so do a front end's own threads on that path, its
gRPC event loop among them (:func:`favour_threads`). A stream that falls :data:`LAG_EVENTS` behind in a front
end (its reader, or the front end, cannot keep up) slows the writer until it catches up (see
:meth:`EngineCore.add_throttle`): live streams stay live under load, at the pace they can take.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import itertools
import logging
import math
import multiprocessing
import os
import pickle
import queue
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from . import MAX_FRONTENDS
from .clock import ServiceClock
from .core import EngineCore
from .errors import DeadlineExceeded
from .settings import Settings
from .store_types import StoreUnavailable
from .streams import Streams, Subscription
from .taxi import ServiceDirectory
from .writer import set_thread_nice, wait_s

log = logging.getLogger(__name__)
#: A front end's stream with this many events waiting is behind: the front end asks the writer to
#: wait for it (``("lag", True)``), until every such stream is down to :data:`CAUGHT_UP_EVENTS`.
LAG_EVENTS = 200
CAUGHT_UP_EVENTS = 50

#: How long the engine waits for a new front end to report its port.
START_TIMEOUT_S = 120.0


# ---------------------------------------------------------------------------- errors on the wire
def pack_error(exc: BaseException) -> tuple[Any, ...]:
    """``exc`` as (class, args, attributes): rebuilt without calling ``__init__`` (engine errors
    take other arguments than their message), so its class, message and fields survive."""
    packed = (type(exc), exc.args, dict(vars(exc)))
    try:
        pickle.dumps(packed)
    except Exception:
        return (RuntimeError, (f"{type(exc).__name__}: {exc}",), {})
    return packed


def unpack_error(packed: tuple[Any, ...]) -> BaseException:
    cls, args, attributes = packed
    exc: BaseException = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(attributes)
    return exc


# ---------------------------------------------------------------------------- engine side
@dataclass
class _Peer:
    conn: Connection
    out: queue.SimpleQueue[Any]
    topics: Counter[str]
    lagging: bool = False  # the front end reports a stream behind
    threads: int = 2  # its sender and receiver still running: the last one out closes the connection
    calls: dict[int, Future[Any]] = field(default_factory=dict)  # queued calls, by id (for "cancel")


class CoreHost:
    """The engine process's end: accepts front ends, runs their calls on the core, sends them
    the answers and the events of the topics they follow."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core
        self._dir = tempfile.mkdtemp(prefix="mobility-engine-")
        self.address = os.path.join(self._dir, "engine.sock")
        self.authkey = os.urandom(32)
        self._listener = Listener(self.address, family="AF_UNIX", authkey=self.authkey)
        self._peers: list[_Peer] = []
        self._lock = threading.Lock()
        self._closed = False
        core.add_sink(self._publish)
        core.add_throttle(self.lagging)
        threading.Thread(target=self._accept, name="frontend-accept", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for peer in self._peers:
                peer.out.put(None)
        shutil.rmtree(self._dir, ignore_errors=True)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError, multiprocessing.AuthenticationError) as exc:
                if self._closed:
                    return
                log.warning("a front end could not connect: %s", exc)
                continue
            peer = _Peer(conn, queue.SimpleQueue(), Counter())
            with self._lock:
                self._peers.append(peer)
            threading.Thread(target=self._send, args=(peer,), name="frontend-send", daemon=True).start()
            threading.Thread(target=self._receive, args=(peer,), name="frontend-receive", daemon=True).start()

    def _send(self, peer: _Peer) -> None:
        """Send what is waiting for ``peer``, all of it in one message."""
        set_thread_nice(self.core.writer_nice)  # on the writer's path: its priority too
        closed = False
        while not closed:
            batch = [peer.out.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(peer.out.get_nowait())
            if None in batch:
                batch = batch[: batch.index(None)]
                closed = True
            try:
                if batch:
                    peer.conn.send(batch)
            except (OSError, ValueError):
                closed = True
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(peer.conn.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the receiver (closing the connection under it would not)
        self._done(peer)

    def _receive(self, peer: _Peer) -> None:
        set_thread_nice(self.core.writer_nice)  # on the writer's path: its priority too
        try:
            self._take_messages(peer)
        except (EOFError, OSError):
            pass  # the front end went away
        finally:
            with self._lock:
                if peer in self._peers:
                    self._peers.remove(peer)
            peer.out.put(None)  # the sender stops
            self._done(peer)

    def _take_messages(self, peer: _Peer) -> None:
        """Say "ready" once the engine is, then handle ``peer``'s messages until it goes away (or,
        while waiting for the engine, the host closes)."""
        core = self.core
        while not core.ready.wait(0.05):
            if self._closed:
                return
        sc = core.service_clock
        clock_s, day = self._stamp()
        info = {
            "num_edges": core.num_edges(),
            "clock": core.clock,
            "clock_s": clock_s,
            "timezone": sc.timezone,
            "day_change_s": sc.day_change_s,
            "day": day,
            "directory": core.directory,
        }
        peer.out.put(("ready", info))
        while True:
            msg = peer.conn.recv()
            kind = msg[0]
            if kind == "call":
                self._call(peer, *msg[1:])
            elif kind == "cancel":
                fut = peer.calls.get(msg[1])
                if fut is not None:
                    fut.cancel()
            elif kind == "read":
                self._read(peer, *msg[1:])
            elif kind == "sub":
                with self._lock:
                    peer.topics[msg[1]] += 1
            elif kind == "unsub":
                with self._lock:
                    peer.topics[msg[1]] -= 1
                    if peer.topics[msg[1]] <= 0:
                        del peer.topics[msg[1]]
            elif kind == "lag":
                peer.lagging = bool(msg[1])

    def _done(self, peer: _Peer) -> None:
        """One of ``peer``'s two threads ends; the second closes the connection (one thread
        closing it while the other is inside a send or a receive breaks that call)."""
        with self._lock:
            peer.threads -= 1
            last = peer.threads == 0
        if last:
            with contextlib.suppress(OSError):
                peer.conn.close()

    def lagging(self) -> bool:
        """True while a connected front end reports a stream behind (the writer's throttle)."""
        return any(peer.lagging for peer in self._peers)

    def _stamp(self) -> tuple[int, int]:
        """The engine's clock for a front end: (clock_s, the service day's ordinal or 0)."""
        core = self.core
        return core.clock_s, core.day.toordinal() if core.day is not None else 0

    def _reply(self, peer: _Peer, cid: int, value: Any = None, error: BaseException | None = None) -> None:
        if error is None:
            peer.out.put(("reply", cid, True, value, self._stamp()))
        else:
            peer.out.put(("reply", cid, False, pack_error(error), self._stamp()))

    def _call(self, peer: _Peer, cid: int, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        def answer(fut: Future[Any]) -> None:
            peer.calls.pop(cid, None)
            if fut.cancelled():
                self._reply(peer, cid, error=DeadlineExceeded())
                return
            error = fut.exception()
            self._reply(peer, cid, None if error else fut.result(), error)

        try:
            fut = self.core.command(name, *args, **kwargs)
        except Exception as exc:
            self._reply(peer, cid, error=exc)
            return
        peer.calls[cid] = fut
        fut.add_done_callback(answer)

    def _read(self, peer: _Peer, cid: int, what: str, args: tuple[Any, ...]) -> None:
        try:
            if what == "history":
                value: Any = self.core.history(*args)
            elif what == "last_event_id":
                value = self.core.last_event_id(*args)
            elif what == "service_map":
                value = self.core.service_map(*args)
            else:
                raise ValueError(f"unknown read {what!r}")
        except Exception as exc:
            self._reply(peer, cid, error=exc)
            return
        self._reply(peer, cid, value)

    def _publish(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Writer thread, after each commit: each front end gets the events of its topics."""
        with self._lock:
            for peer in self._peers:
                topics = peer.topics
                if topics:
                    mine = [e for e in events if e[0] in topics]
                    if mine:
                        peer.out.put(("events", mine, self._stamp()))


# ---------------------------------------------------------------------------- front-end side
class RemoteCore:
    """The :class:`~engine.dataplane.DataPlane` of a front end's servicers: what they call (as on
    the core: :meth:`call_async`, the stream subscriptions, the store reads), run by the engine
    process."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self._conn = Client(address, family="AF_UNIX", authkey=authkey)
        self._send_lock = threading.Lock()
        self._pending: dict[int, Future[Any] | asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._streams = Streams()
        self._subs_lock = threading.Lock()  # a topic's first subscription and its "sub" message, in order
        self._behind: list[Subscription] = []  # streams reported behind ("lag" True sent)
        self._lag_lock = threading.Lock()  # the report and its message, in order
        self._lag_watch = threading.Event()
        self.ready = threading.Event()
        self.lost = threading.Event()
        self._clock_s = 0
        self.clock = "external"
        self._service_clock: ServiceClock | None = None
        self._day = 0  # the engine's service day (ordinal), on a wall clock
        self._midnight = 0.0
        self._num_edges = 0  # the engine's road network, once it said "ready"
        #: The deployment's services (:class:`~engine.taxi.ServiceDirectory`), once the engine said "ready".
        self.directory = ServiceDirectory({})
        self._maps: dict[str, dict[str, Any]] = {}  # the services' maps, as read (they never change)
        threading.Thread(target=self._receive, name="engine-receive", daemon=True).start()
        threading.Thread(target=self._watch_lag, name="engine-lag", daemon=True).start()

    def num_edges(self) -> int:
        """The engine's road network's number of edges (0 until the engine is ready)."""
        return self._num_edges

    def last_event_id(self, topic: str) -> str | None:
        """The id of the last stored event of ``topic``, read in the engine (blocks)."""
        result: str | None = self._read("last_event_id", topic)
        return result

    def service_map(self, name: str) -> dict[str, Any]:
        """What a map of service ``name`` draws, read from the engine once and kept (blocks)."""
        found = self._maps.get(name)
        if found is None:
            found = self._maps[name] = self._read("service_map", name)
        return found

    @property
    def clock_s(self) -> int:
        """The engine's service clock: on a wall clock read here, on the engine's service day as
        of its last message; else the external clock as of its last message."""
        if self._service_clock is not None:
            return math.floor(self._service_clock.source() - self._midnight)
        return self._clock_s

    def _stamped(self, stamp: tuple[int, int]) -> None:
        clock_s, day = stamp
        self._clock_s = max(self._clock_s, clock_s)
        if day > self._day and self._service_clock is not None:
            self._day = day
            self._midnight = self._service_clock.midnight(dt.date.fromordinal(day))

    # -- wire
    def _send(self, msg: tuple[Any, ...]) -> None:
        try:
            with self._send_lock:
                self._conn.send(msg)
        except (OSError, ValueError) as exc:
            raise StoreUnavailable("the engine process is gone") from exc

    def _submit(self, kind: str, *rest: Any, fut: Any = None) -> tuple[int, Any]:
        """Send a call or read to the engine; its id and the future of its answer (``fut``, an
        asyncio future, or a new :class:`concurrent.futures.Future`)."""
        if not self.ready.is_set() and not self.lost.is_set():
            raise StoreUnavailable("the engine is still starting")
        cid = next(self._ids)
        if fut is None:
            fut = Future()
        self._pending[cid] = fut
        try:
            if self.lost.is_set():  # checked once the future is pending: the receiver fails those it finds
                raise StoreUnavailable("the engine process is gone")
            self._send((kind, cid, *rest))
        except BaseException:
            self._pending.pop(cid, None)
            raise
        return cid, fut

    def _read(self, what: str, *args: Any) -> Any:
        """A store read in the engine (``"history"`` or ``"last_event_id"``), waited for as long as
        the call may wait (:func:`~engine.writer.wait_s`)."""
        timeout = wait_s()
        cid, fut = self._submit("read", what, args)
        try:
            return fut.result(timeout=timeout)
        except TimeoutError:
            raise StoreUnavailable(f"the engine did not answer within {timeout:.0f} s") from None
        finally:
            self._pending.pop(cid, None)

    def command(self, name: str, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue the operation ``name`` in the engine (:meth:`EngineCore.command`) without waiting:
        the future of its answer. Cancelling the future only drops the answer (see
        :meth:`cancel_call` to drop the command)."""
        return self._submit("call", name, args, kwargs)[1]

    def call_async(self, name: str, *args: Any, **kwargs: Any) -> tuple[asyncio.Future[Any], Callable[[], bool]]:
        """:meth:`command` for a coroutine: an asyncio future of the running loop, and the function
        that asks the engine to drop the call (:meth:`cancel_call`). The answers that come in one
        message from the engine are set with one wake-up of the loop (:meth:`_receive`), not one
        each, as :func:`asyncio.wrap_future` would."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        cid, _ = self._submit("call", name, args, kwargs, fut=fut)
        return fut, functools.partial(self.cancel_call, cid)

    def cancel_call(self, cid: int) -> bool:
        """Ask the engine to drop call ``cid`` if it has not begun it: it then answers
        :class:`~engine.errors.DeadlineExceeded`, else the call's outcome. Returns False (which
        of the two is known only from the answer)."""
        with contextlib.suppress(StoreUnavailable):
            self._send(("cancel", cid))
        return False

    def _receive(self) -> None:
        try:
            while True:
                settle: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
                for msg in self._conn.recv():
                    kind = msg[0]
                    if kind == "reply":
                        _, cid, ok, value, stamp = msg
                        self._stamped(stamp)
                        fut = self._pending.pop(cid, None)
                        if isinstance(fut, asyncio.Future):
                            settle.setdefault(fut.get_loop(), []).append((fut, ok, value))
                        # a future its caller cancelled (the call ended) gets no answer
                        elif fut is not None and fut.set_running_or_notify_cancel():
                            if ok:
                                fut.set_result(value)
                            else:
                                fut.set_exception(unpack_error(value))
                    elif kind == "events":
                        self._stamped(msg[2])
                        fed: dict[int, Subscription] = {}
                        self._streams.deliver(msg[1], fed)
                        if not self._behind:
                            self._check_lag(fed.values())
                    elif kind == "ready":
                        info = msg[1]
                        self._num_edges = int(info["num_edges"])
                        self.directory = info["directory"]
                        self.clock = info["clock"]
                        if self.clock == "wall":
                            self._service_clock = ServiceClock(info["timezone"], info["day_change_s"])
                        self._stamped((info["clock_s"], info["day"]))
                        self.ready.set()
                for loop, answers in settle.items():
                    _call_soon(loop, _settle, answers)
        except (EOFError, OSError):
            pass
        self.lost.set()
        gone = StoreUnavailable("the engine process is gone")
        for fut in list(self._pending.values()):
            if isinstance(fut, asyncio.Future):
                _call_soon(fut.get_loop(), _settle, [(fut, False, pack_error(gone))])
            else:
                with contextlib.suppress(Exception):
                    fut.set_exception(gone)
        self._streams.end_all(gone)

    # -- backpressure: a stream far behind slows the writer (EngineCore.add_throttle)
    def _check_lag(self, fed: Iterable[Subscription]) -> None:
        """After a delivery: report the streams it left :data:`LAG_EVENTS` or more behind (but not
        stuck: a reader that stopped reading must not hold the writer back)."""
        behind = [sub for sub in fed if sub.behind(LAG_EVENTS)]
        if behind:
            with self._lag_lock:
                self._behind = behind
                with contextlib.suppress(StoreUnavailable):
                    self._send(("lag", True))
            self._lag_watch.set()

    def _watch_lag(self) -> None:
        """While streams are reported behind: every 2 ms, whether they caught up (or closed, or got
        stuck); then tell the engine."""
        while True:
            self._lag_watch.wait()
            while not self.lost.is_set() and any(sub.behind(CAUGHT_UP_EVENTS + 1) for sub in self._behind):
                time.sleep(0.002)
            with self._lag_lock:
                self._lag_watch.clear()
                self._behind = []
                with contextlib.suppress(StoreUnavailable):
                    self._send(("lag", False))

    # -- streams
    def subscribe(self, topic: str, wake: Callable[[], None] | None = None) -> Subscription:
        with self._subs_lock:
            sub, first = self._streams.subscribe(topic, wake)
            if first:
                self._send(("sub", topic))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._subs_lock:
            if self._streams.unsubscribe(sub):
                with contextlib.suppress(StoreUnavailable):
                    self._send(("unsub", sub.topic))

    def history(self, topic: str, after: str) -> list[tuple[str, dict[str, Any]]]:
        return self._read("history", topic, after)


def _settle(answers: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """On a future's loop: set each answer (an error as :func:`pack_error` packed it), unless its
    caller cancelled it (the call ended)."""
    for fut, ok, value in answers:
        if fut.done():
            continue
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(unpack_error(value))


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these answers any more
        loop.call_soon_threadsafe(fn, *args)


#: The threads of a front end on the writer's path (see :func:`favour_threads`): the event loop of
#: its gRPC server, ``grpc.aio``'s completion-queue poller and the thread that takes the engine's
#: answers.
FAVOURED_THREADS = ("grpc-loop", "_poll_wrapper", "engine-receive")


def favour_threads(nice: int) -> list[str]:
    """Give a front end's threads on the writer's path (:data:`FAVOURED_THREADS`, by name) the
    scheduling priority ``nice`` (the writer's, ``Settings.writer_nice``); the names of those set.

    Why: all of a front end's gRPC work runs on one event-loop thread (with ``grpc.aio``'s poller
    thread handing it the completions), and Linux's fair scheduler gives each runnable thread an
    equal share, so on a busy machine that one thread waits for a core behind every client and
    stream thread, as the writer does (:func:`engine.writer.set_thread_nice`). Measured (BookRide at
    once, 16 clients, one front end, same 2 cores): the operator stream 21-26 ms behind at the
    median and 1,031-1,296 bookings/s at the default priority; 4-6 ms and 1,175-1,381/s at -10.
    (The threaded server it replaced had a thread per call, and as many shares.) A negative value
    needs root or CAP_SYS_NICE; without, the threads keep their priority and a warning says so.
    """
    if nice == 0 or not hasattr(os, "setpriority"):
        return []
    favoured = []
    for thread in threading.enumerate():
        if thread.native_id is not None and any(name in thread.name for name in FAVOURED_THREADS):
            try:
                os.setpriority(os.PRIO_PROCESS, thread.native_id, nice)
            except OSError as exc:
                log.warning("front end thread %s keeps the default priority (nice %d not permitted: %s)",
                            thread.name, nice, exc)  # fmt: skip
                continue
            favoured.append(thread.name)
    return favoured


def run_frontend(settings: Settings, address: str, authkey: bytes, port: int, ports: Any) -> None:
    """A front-end process: gRPC on ``port`` (its bound port goes to ``ports``), calls to the engine
    at ``address``; ends on SIGTERM or when the engine is gone."""
    from .auth import TokenTable
    from .server import build_grpc_server, listen, settle_gc

    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s front end {os.getpid()} %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the engine, which stops the front ends
    try:
        remote = RemoteCore(address, authkey)
        server = build_grpc_server(remote, TokenTable.from_file(settings.tokens), settings)
        bound = listen(server, settings, port)
    except Exception as exc:
        ports.put(f"{type(exc).__name__}: {exc}")
        return
    server.start()
    settle_gc()
    favoured = favour_threads(settings.writer_nice)
    if favoured:
        log.info("threads at nice %d: %s", settings.writer_nice, ", ".join(favoured))
    ports.put(bound)
    while not (remote.ready.wait(0.2) or remote.lost.is_set() or stop.is_set()):
        pass
    if remote.ready.is_set() and not remote.lost.is_set():
        server.set_serving(True)
        ports.put("serving")
    while not (stop.wait(0.2) or remote.lost.is_set()):
        pass
    if remote.lost.is_set() and not stop.is_set():
        os._exit(3)  # the engine is gone: free the port at once
    server.stop(grace=2).wait()


class FrontEnds:
    """Starts ``n`` front-end processes on the engine's host and restarts any that dies."""

    def __init__(self, host: CoreHost, settings: Settings, n: int) -> None:
        if not 1 <= n <= MAX_FRONTENDS:
            raise ValueError(f"frontends: got {n} (allowed: 1 .. {MAX_FRONTENDS})")
        self.host = host
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self._procs: list[Any] = []
        self._stopping = threading.Event()
        self.port, first = self._start(settings.port)
        # each first front end's queue says "serving" next (see wait_serving)
        self._ports = [first] + [self._start(self.port)[1] for _ in range(n - 1)]
        threading.Thread(target=self._watch, name="frontend-watch", daemon=True).start()

    def _start(self, port: int) -> tuple[int, Any]:
        """Start a front end on ``port``; its bound port and the queue it reports on."""
        ports = self._ctx.Queue()
        proc = self._ctx.Process(
            target=run_frontend,
            args=(self.settings, self.host.address, self.host.authkey, port, ports),
            name="mobility-frontend",
            daemon=True,
        )
        proc.start()
        try:
            bound = ports.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            proc.kill()
            raise OSError("a front end did not start in time") from None
        if isinstance(bound, str):
            proc.join(5)
            raise OSError(f"a front end could not start: {bound}")
        self._procs.append(proc)
        return int(bound), ports

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for proc in list(self._procs):
                if not proc.is_alive() and not self._stopping.is_set():
                    log.error("front end %s ended (exit code %s); starting another", proc.pid, proc.exitcode)
                    self._procs.remove(proc)
                    try:
                        self._start(self.port)
                    except OSError as exc:
                        log.error("%s", exc)

    def wait_serving(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Block until every front end started so far says SERVING (the engine must be starting)."""
        deadline = time.monotonic() + timeout_s
        while self._ports:
            try:
                said = self._ports[0].get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise OSError(f"the front ends did not say SERVING within {timeout_s:.0f} s") from None
            if said == "serving":
                self._ports.pop(0)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def stop(self) -> None:
        self._stopping.set()
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()


def serve_with_frontends(settings: Settings, n: int) -> tuple[FrontEnds, EngineCore, CoreHost]:
    """Build the engine core in this process and start ``n`` front ends on ``settings.port``;
    returns once they listen. Start the core next (``core.start()``), then
    :meth:`FrontEnds.wait_serving`."""
    from .server import core_from_settings

    core = core_from_settings(settings)
    host = CoreHost(core)
    return FrontEnds(host, settings, n), core, host
