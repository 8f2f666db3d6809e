"""The engine's data plane: one writer owns the dispatcher; every change is committed and streamed.

Calls from any number of gRPC threads become commands on one queue. A single writer thread
runs them in order against the :class:`~matching.dispatcher.Dispatcher` — so concurrent
calls never race — then commits what changed (ride and vehicle records, events) to the
state store in one atomic commit, hands the events to the subscribers of the streams and
only then answers. Commands that queue up while one runs are committed together (group
commit: one store round trip for all of them).
A command that fails leaves nothing half done: validation happens before any change, and if
the commit itself fails (the store is down) the dispatcher is rebuilt from the store before
the next command, so what the store holds is exactly what was acknowledged.

On start-up the engine rebuilds its full state from the store (``Dispatcher.restore``). Rides
that ended (completed, cancelled, no-show, expired) go to the store marked to expire
(:attr:`~engine.store.Commit.expire_rides`): after the store's retention a restarted engine no
longer finds them, and nothing else refers to them (a vehicle's plan holds open rides only).

The clock (:mod:`engine.clock`): with ``clock="wall"`` the service clock counts seconds since
local midnight of the service day (in the engine's time zone), read afresh whenever a command
runs; a request for "now" is stamped when the writer runs it, not when it was received. At the
day change, before the next command, the writer closes the day that ended (:meth:`roll_over`:
its rides still open expire, what is booked for later moves onto the new day's clock) and
rebuilds the dispatcher for the new day; the rides of past days stay in the store (until the
retention expires them) but not in memory. With ``clock="external"`` the calls carry the time
(a simulation's), the clock never goes back and there are no days.

A caller never hears "failed" of a command that then takes effect: a command still waiting
when its caller gives up (the call's deadline, or :data:`CALL_TIMEOUT_S`) is dropped from the
queue (:class:`~engine.errors.DeadlineExceeded`: nothing was done); one that already runs is
waited for. A queue deeper than ``max_queue`` refuses new commands at once
(:class:`~engine.errors.Overloaded`), and an operator's re-optimisation is bounded by
``max_reoptimise_iterations`` and ``max_reoptimise_ms``.

Topics: ``assignments`` (every offer, rejection, booking, assignment, reassignment,
cancellation, boarding, completion, no-show, lateness), ``ride:<id>`` (a ride's state
whenever its status, vehicle or planned times change) and ``vehicle:<id>`` (the vehicle's
manifest whenever it changes).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from matching import Offer, Rejection, Request, RideStatus, VehicleState
from matching.deployment import Deployment, load_world, make_fleet
from matching.dispatcher import Dispatcher, PlanColumns, ReoptimiseReport, Ride
from routing import warm_up

from . import DEFAULT_MAX_QUEUE, DEFAULT_MAX_REOPTIMISE_ITERATIONS, DEFAULT_MAX_REOPTIMISE_MS
from .clock import ServiceClock, day_change_s
from .errors import DeadlineExceeded, InvalidInput, Overloaded, PermissionDenied, Rejected
from .store import Commit, StateStore, StoreUnavailable, event_id_key

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Latest time a call may carry (a year of the service clock).
MAX_CLOCK_S = 366 * 86_400
#: How long a call waits for its command when the caller set no deadline (see :data:`call_deadline`).
CALL_TIMEOUT_S = 60.0
#: The longest a call waits for its command to begin, whatever its deadline.
MAX_WAIT_S = 3600.0
#: The instant (``time.monotonic()``) by which the current call's caller stops waiting, if it said
#: (a gRPC deadline; set by the servicers for the thread that handles the call).
call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("call_deadline", default=None)
#: Most commands the writer runs before committing their changes together.
MAX_GROUP = 64
#: Most pauses after a group while a stream it fed is still sending (see :func:`_pause`).
MAX_PAUSES = 4
#: A stream this far behind has a reader that stopped reading: the writer does not wait for it.
STUCK_BACKLOG = 1000
#: Longest wait after a group while a front end reports a stream behind (see :meth:`EngineCore.add_throttle`).
MAX_STREAM_WAIT_S = 0.05
_STOP = object()
#: A queued command's answer: its future, result, error and the step applied to the result.
_Answer = tuple[Future[Any], Any, BaseException | None, Callable[[Any], Any] | None]
#: A command as the writer runs it: ``(fn(dispatcher), mutates, post(result) or None)``.
Operation = tuple[Callable[[Dispatcher], Any], bool, Callable[[Any], Any] | None]


def _pause() -> None:
    """Let the gRPC and stream threads run while the writer is busy.

    Under load the writer would otherwise keep the interpreter lock until Python forces a switch
    (5 ms), and every streamed message needs the lock several times. ``time.sleep(0)`` is a real
    pause (about 50-90 us on Linux, the timer slack), long enough for those threads to get
    through; ``os.sched_yield()`` hands the lock over for a moment only and did not help.

    The writer pauses only while a stream it fed still has events waiting (after a command, and
    up to :data:`MAX_PAUSES` times after a group), so an idle or unwatched engine never waits.
    Measured with the engine saturated (BookRide at once, 4 clients, an operator stream, three
    runs each): operator stream delay p50 1.15-1.31 s / p99 1.9-2.4 s without pauses; with
    them 1.5-2.0 ms / 10-15 ms at the same bookings/s (491-529). Pausing blindly after every
    command and group instead gave 5-91 ms / 49-314 ms and 3-5% fewer bookings/s.
    """
    time.sleep(0)


def wait_s(deadline: float | None = None) -> float:
    """How long a call may still wait for its command: until ``deadline`` (a ``time.monotonic()``
    instant; default the call's :data:`call_deadline`), or :data:`CALL_TIMEOUT_S` if it has none;
    never more than :data:`MAX_WAIT_S`."""
    if deadline is None:
        deadline = call_deadline.get()
    return CALL_TIMEOUT_S if deadline is None else min(max(0.0, deadline - time.monotonic()), MAX_WAIT_S)


def wait_for(fut: Future[T], deadline: float | None = None) -> T:
    """The outcome of a queued command: wait :func:`wait_s`; if the command has not started by
    then, drop it (:class:`DeadlineExceeded`: nothing was done), else wait for its end — a caller
    is never told "failed" of a command that then takes effect."""
    try:
        return fut.result(timeout=wait_s(deadline))
    except TimeoutError:
        if fut.cancel():
            raise DeadlineExceeded() from None
        return fut.result()


def set_thread_nice(nice: int) -> int:
    """Give the calling thread the scheduling priority ``nice`` (Linux: a thread's own nice
    value); returns ``nice`` if it was set, 0 if the thread was left as it was.

    Why the writer wants it: the kernel's fair scheduler favours threads that used little CPU,
    so the one busy writer loses its core to every gRPC, stream and client thread that wakes up.
    Measured (BookRide at once, 8 clients on the same 2 cores, one front end): the writer was
    runnable but off the CPU about a fifth of the time, 726 bookings/s; at nice -10, 890.
    A negative value needs root or CAP_SYS_NICE; without, the thread keeps its priority.
    """
    if nice == 0 or not hasattr(os, "setpriority"):
        return 0
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as exc:
        log.warning(
            "thread %s keeps the default priority (nice %d not permitted: %s)",
            threading.current_thread().name,
            nice,
            exc,
        )
        return 0
    return nice


@dataclass
class Subscription:
    """Live events of one topic for one stream (bounded; a slow reader loses its stream).

    The queue is fed by whichever thread delivers (the writer; in a front end, the thread that
    receives from the engine) and read by the stream, which ``wake`` tells that items came: it is
    called once per delivery that fed the queue, after the delivery, from the delivering thread
    (a ``grpc.aio`` stream sets it to wake its event loop, see :mod:`engine.servicers`).
    """

    topic: str
    items: queue.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=lambda: queue.Queue(10_000))
    overflow: bool = False
    #: Why the stream ends, when it ends with an error (a ``None`` item ends it).
    error: BaseException | None = None
    #: No longer subscribed (its queue is not fed, and may no longer be read).
    closed: bool = False
    #: Called after a delivery put items in the queue (any thread; it must not block).
    wake: Callable[[], None] | None = None

    def behind(self, at_least: int = 1) -> bool:
        """At least ``at_least`` events wait to be sent, but not so many that the reader must have
        stopped reading (:data:`STUCK_BACKLOG`; such a stream is not waited for: it overflows and
        ends), and the stream is still open."""
        return not self.closed and at_least <= self.items.qsize() <= STUCK_BACKLOG


def _at(request: Request, now: int) -> Request:
    """``request`` for as soon as possible, stamped with the clock ``now`` of the command."""
    return replace(request, requested_time_s=now, submitted_time_s=now)


def _raise_rejection(result: Any) -> Any:
    """A request booked at once and rejected becomes the caller's :class:`Rejected` (after the
    rejection was committed)."""
    if isinstance(result, Rejection):
        raise Rejected(result.reason.value, result.detail)
    return result


class Streams:
    """The open streams' subscriptions, by topic (any thread)."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Subscription]] = {}
        self._lock = threading.Lock()

    def subscribe(self, topic: str, wake: Callable[[], None] | None = None) -> tuple[Subscription, bool]:
        """A new subscription to ``topic`` (woken by ``wake``, see :class:`Subscription`), and
        whether it is the topic's only one."""
        sub = Subscription(topic, wake=wake)
        with self._lock:
            subs = self._subs.setdefault(topic, [])
            subs.append(sub)
            return sub, len(subs) == 1

    def unsubscribe(self, sub: Subscription) -> bool:
        """Drop ``sub``; True if it was its topic's last subscription."""
        with self._lock:
            sub.closed = True
            subs = self._subs.get(sub.topic)
            if not subs or sub not in subs:
                return False
            subs.remove(sub)
            if subs:
                return False
            del self._subs[sub.topic]
            return True

    def deliver(
        self, events: Iterable[tuple[str, str, dict[str, Any]]], fed: dict[int, Subscription] | None = None
    ) -> None:
        """Queue each ``(topic, event id, payload)`` for the topic's subscriptions (a full queue
        marks its stream as overflowed); the subscriptions fed go into ``fed``. Then each
        subscription fed is woken once (after the lock is released)."""
        if fed is None:
            fed = {}
        with self._lock:
            for topic, event_id, payload in events:
                for sub in self._subs.get(topic, ()):
                    fed[id(sub)] = sub
                    try:
                        sub.items.put_nowait((event_id, payload))
                    except queue.Full:
                        sub.overflow = True
        for sub in fed.values():
            if sub.wake is not None:
                sub.wake()

    def end_all(self, error: BaseException | None = None) -> None:
        """End every stream (with ``error``, if given)."""
        with self._lock:
            ended = [sub for subs in self._subs.values() for sub in subs]
            for sub in ended:
                sub.error = error
                with contextlib.suppress(queue.Full):
                    sub.items.put_nowait(None)
        for sub in ended:
            if sub.wake is not None:
                sub.wake()


class EngineCore:
    """See the module docstring."""

    def __init__(
        self,
        deployment: Deployment,
        store: StateStore,
        *,
        clock: str = "wall",
        seed: int = 0,
        reoptimise_every_s: float = 0.0,
        reoptimise_deadline_ms: int = 200,
        writer_nice: int = 0,
        timezone: str | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_reoptimise_iterations: int = DEFAULT_MAX_REOPTIMISE_ITERATIONS,
        max_reoptimise_ms: int = DEFAULT_MAX_REOPTIMISE_MS,
        time_source: Callable[[], float] = time.time,
    ) -> None:
        self.deployment = deployment
        self.store = store
        self.clock = clock
        self.seed = seed
        self.reoptimise_every_s = reoptimise_every_s
        self.reoptimise_deadline_ms = reoptimise_deadline_ms
        self.max_queue = max_queue
        self.max_reoptimise_iterations = max_reoptimise_iterations
        self.max_reoptimise_ms = max_reoptimise_ms
        service = deployment.service
        #: The wall clock's service days (used with ``clock="wall"``; see :mod:`engine.clock`).
        self.service_clock = ServiceClock(
            timezone, day_change_s(service.service_start_s, service.service_end_s), time_source
        )
        #: The service day the engine is on (wall clock), and the instant of its local midnight.
        self.day: dt.date | None = None
        self._midnight = 0.0
        self._next_day_at = float("inf")  # when the next service day begins (epoch seconds)
        self.writer_nice = writer_nice
        #: Once the writer runs: ``writer_nice`` if it could be set, else 0 (left as it was).
        self.writer_nice_applied: int | None = None
        self._writer_started = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._streams = Streams()
        self._thread: threading.Thread | None = None
        self._timer: threading.Thread | None = None
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self._needs_reload = False
        self._clock_s = 0  # the external clock (the wall clock is read when asked)
        self.idempotency: dict[str, str] = {}
        self._published: dict[str, tuple[Any, ...]] = {}
        self.requests_rejected = 0
        self.timings: dict[str, float] = {}
        self._fed: Iterable[Subscription] = ()  # the streams the last commit fed
        self._sinks: list[Callable[[list[tuple[str, str, dict[str, Any]]]], None]] = []
        self._throttles: list[Callable[[], bool]] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Load the world, compile the kernels, rebuild the state from the store, start the writer."""
        t0 = time.perf_counter()
        self.network, self.router, self.stops = load_world(self.deployment)
        self.fleet: list[VehicleState] = make_fleet(self.deployment, self.stops, self.seed)
        self.timings["world_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm_up()
        self.timings["warm_up_s"] = time.perf_counter() - t0
        self._matrix = self.router.matrix(self.stops.node, self.stops.node).astype(np.float64)
        t0 = time.perf_counter()
        if not self._warm_dispatcher():
            log.warning("no trial booking was possible: some dispatcher kernels compile on the first calls")
        self.timings["dispatcher_warm_up_s"] = time.perf_counter() - t0
        self._reload()
        if self.clock == "wall":
            self.roll_over()  # the store may hold a day that has ended since
        self._thread = threading.Thread(target=self._writer, name="engine-writer", daemon=True)
        self._thread.start()
        self._writer_started.wait(10)
        if self.reoptimise_every_s > 0 and self.clock == "wall":
            self._timer = threading.Thread(target=self._reoptimise_timer, name="engine-reoptimise", daemon=True)
            self._timer.start()
        self.ready.set()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._streams.end_all()

    def _warm_dispatcher(self) -> bool:
        """Compile the dispatcher's kernels (or load them from Numba's cache) before the engine says
        SERVING: on a cold machine the first booking waited 3.4 s for them (imod_jamsil).

        On a throwaway dispatcher: a trip quoted and booked, one quoted and booked at once, a
        cancellation and one re-optimisation iteration, an hour into the service day. False if
        every trial trip was rejected (the kernels then compile on first use)."""
        d = self._new_dispatcher()
        n = len(self.stops)
        t = self.deployment.service.service_start_s + 3600
        pairs = [(a, b) for a, b in ((0, n - 1), (0, 1), (n // 2, 0), (n - 1, n // 2)) if a != b and b < n]
        for k, (o, dst) in enumerate(pairs):
            request = Request(id=f"warm-up-{k}", origin_stop=o, destination_stop=dst, requested_time_s=t,
                              submitted_time_s=t)  # fmt: skip
            offer = d.on_request(request, t)
            if isinstance(offer, Offer):
                first = d.book(offer.offer_id, t)
                back = Request(id=f"warm-up-{k}-back", origin_stop=dst, destination_stop=o, requested_time_s=t + 600,
                               submitted_time_s=t)  # fmt: skip
                d.request_and_book(back, t)
                d.reoptimise(iterations=1, now_s=t)
                d.cancel(first.ride_id, t)
                return True
        return False

    def _new_dispatcher(self) -> Dispatcher:
        return Dispatcher(
            self.network,
            self.router,
            self.stops,
            self.fleet,
            params=self.deployment.service,
            fares=self.deployment.fares(),
            travel_time_s=self._matrix,
            seed=self.seed,
        )

    def _reload(self, *, adopt_quotes: bool = True) -> None:
        """(Re)build the dispatcher from the store: its snapshot is the truth.

        Open offers and the offer numbering carry over from the dispatcher being replaced (and
        the numbering from the store), so an offer id is never given twice; ``adopt_quotes``
        False drops the open offers (a new service day: they were made on the old day's clock).
        On the wall clock only the rides of the engine's service day are restored (the store's
        day on the first load; today's on a new store).
        """
        snap = self.store.load()
        rides = list(snap.rides.values())
        if self.clock == "wall":
            if self.day is None:
                stored = snap.meta.get("service_day")
                self._set_day(dt.date.fromisoformat(stored) if stored else self.service_clock.today())
            assert self.day is not None
            day = self.day.isoformat()
            rides = [r for r in rides if r.get("day", day) == day]
        dispatcher = self._new_dispatcher()
        dispatcher.restore(rides, list(snap.vehicles.values()))
        dispatcher.offer_seq = max(dispatcher.offer_seq, int(snap.meta.get("offer_seq", "0")))
        old = getattr(self, "dispatcher", None)
        if old is not None:
            if adopt_quotes:
                dispatcher.adopt_quotes(old)
            dispatcher.offer_seq = max(dispatcher.offer_seq, old.offer_seq)
        self.dispatcher = dispatcher
        dispatcher.events.clear()  # the rebuild's own events describe the stored state: not published
        if self.clock == "external":
            self._clock_s = max(self._clock_s, int(snap.meta.get("clock_s", "0")))
        self.requests_rejected = int(snap.meta.get("requests_rejected", "0"))
        self.idempotency = {r["idempotency_key"]: r["ride_id"] for r in rides if r.get("idempotency_key")}
        self._published = {rid: self._ride_state(ride) for rid, ride in dispatcher.rides.items()}
        self._needs_reload = False

    # ------------------------------------------------------------------ the wall clock's days
    def _set_day(self, day: dt.date) -> None:
        self.day = day
        self._midnight = self.service_clock.midnight(day)
        self._next_day_at = self.service_clock.begins(day + dt.timedelta(days=1))

    def _day_due(self) -> bool:
        """True once the next service day has begun (wall clock)."""
        return self.service_clock.source() >= self._next_day_at

    def roll_over(self) -> bool:
        """Move the engine to the service day it is now, if a new one has begun (wall clock,
        writer thread or before the writer starts); True if it did.

        The rides of the day that ended which are still open (no one reported their end) and
        whose promise has run out expire. What is booked for the new day or later stays, on the
        new day's clock (every time moves back by the days' distance, see
        :meth:`Dispatcher.shift_ride_record`), and so does every vehicle. The store then holds the
        new day (its rides, vehicles and ``service_day``), the dispatcher is rebuilt from it, and
        the streams hear the carried rides' and the vehicles' new times. A ride of the old day
        still under way (within its promise: a service round the clock) postpones the change;
        the engine tries again a minute later.
        """
        today = self.service_clock.today()
        if self.day is None or today <= self.day:
            self._next_day_at = self.service_clock.begins(today + dt.timedelta(days=1))
            return False
        d = self.dispatcher
        shift = self.service_clock.seconds_between(self.day, today)
        cut = shift + self.service_clock.day_change_s  # where the new day begins on the old day's clock
        now = self.clock_s
        open_rides = [r for r in d.rides.values() if not r.status.is_terminal]
        left = [r for r in open_rides if r.request.requested_time_s < cut]
        running = [r for r in left if max(r.offer.latest_dropoff_s, r.planned_dropoff_s) >= now]
        if running:
            log.warning(
                "service day %s is over but %d of its rides are still under way (e.g. %s): the day changes later",
                self.day,
                len(running),
                running[0].ride_id,
            )
            self._next_day_at = self.service_clock.source() + 60.0
            return False
        commit = Commit()
        for ride in left:
            d.expire(ride.ride_id, now)
        self._stage(commit)  # the expired rides, on the old day
        carried = [r.ride_id for r in open_rides if r.request.requested_time_s >= cut]
        new_day = today.isoformat()
        for rid in carried:
            commit.rides[rid] = {**Dispatcher.shift_ride_record(d.ride_record(rid), -shift), "day": new_day}
        for v in range(d.plan.num_vehicles):
            commit.vehicles[d.vehicles[v].id] = Dispatcher.shift_vehicle_record(d.vehicle_record(v), -shift)
        self._set_day(today)
        commit.meta["service_day"] = new_day
        commit.meta["clock_s"] = str(self.clock_s)
        commit.events.append(("assignments", self._event_payload("service_day", self.clock_s, detail=new_day)))
        self._commit(commit)
        self._reload(adopt_quotes=False)
        d = self.dispatcher
        news = Commit()
        for rid in carried:
            self._published[rid] = self._ride_state(d.rides[rid])
            news.events.append(self._ride_event(d.rides[rid], "state"))
        news.events.extend(self._manifest_event(v) for v in range(d.plan.num_vehicles))
        self._commit(news)
        log.info("service day %s began: %d rides expired, %d carried over", new_day, len(left), len(carried))
        return True

    @staticmethod
    def _ride_state(ride: Ride) -> tuple[Any, ...]:
        return (ride.status, ride.vehicle, round(ride.planned_pickup_s), round(ride.planned_dropoff_s))

    # ------------------------------------------------------------------ commands
    def submit(
        self, fn: Callable[[Dispatcher], Any], *, mutate: bool = True, post: Callable[[Any], Any] | None = None
    ) -> Future[Any]:
        """Queue ``fn(dispatcher)`` for the writer thread; the future gets ``post(result)`` (or
        the result if no ``post``), or the error, once what it changed is committed.

        ``post`` runs on the writer thread after the commit (a rejection booked at once is
        committed before it becomes the caller's error). Cancelling the future before the
        writer takes it drops the command (see :func:`wait_for`).

        Raises:
            StoreUnavailable: the engine is still starting.
            Overloaded: ``max_queue`` commands are already waiting (nothing was queued).
        """
        if not self.ready.is_set():
            raise StoreUnavailable("the engine is still starting")
        waiting = self._queue.qsize()
        if waiting >= self.max_queue:
            raise Overloaded(
                f"the engine is overloaded ({waiting} commands wait, most {self.max_queue}): nothing was done; "
                "try again shortly"
            )
        fut: Future[Any] = Future()
        self._queue.put((fn, mutate, fut, post))
        return fut

    def call(self, fn: Callable[[Dispatcher], T], *, mutate: bool = True, timeout: float = CALL_TIMEOUT_S) -> T:
        """Run ``fn(dispatcher)`` on the writer thread and return its result (or raise its error);
        dropped if it has not begun within ``timeout`` (see :func:`wait_for`)."""
        result: T = wait_for(self.submit(fn, mutate=mutate), time.monotonic() + timeout)
        return result

    def command(self, name: str, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue the operation ``name`` (one of :data:`OPERATIONS`) without waiting for it: what a
        front end in another process asks for (see :mod:`engine.frontend`)."""
        if name not in OPERATIONS:
            raise ValueError(f"unknown engine operation {name!r}")
        fn, mutate, post = getattr(self, f"_op_{name}")(*args, **kwargs)
        return self.submit(fn, mutate=mutate, post=post)

    def _run(self, op: Operation) -> Any:
        """Queue ``op`` and wait for its outcome (until the call's deadline: :func:`wait_for`)."""
        fn, mutate, post = op
        return wait_for(self.submit(fn, mutate=mutate, post=post))

    def _writer(self) -> None:
        """Run queued commands in order; commit each group of waiting commands at once.

        The writer takes the next command and every other one already waiting (up to
        :data:`MAX_GROUP`), runs them one after another, stages each command's changes as soon
        as it ends, commits the staged changes of the group in one store commit, and only then
        answers the callers. Under load this turns many small commits into one (one Redis
        round trip, each changed record encoded once); a lone command is committed alone as
        before. No caller hears of a change before it is stored.

        A command that fails after changing the plan must leave no trace: the changes staged
        before it are committed first, then the dispatcher is rebuilt from the store. If the
        group's commit fails, every command of the group gets the store's error and the
        dispatcher is rebuilt from the store, which still holds what was acknowledged.
        """
        self.writer_nice_applied = set_thread_nice(self.writer_nice)
        self._writer_started.set()
        while True:
            group = [self._queue.get()]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self._run_group(group):
                return
            for _ in range(MAX_PAUSES):
                if not self._stream_backlog():
                    break
                _pause()
            if self._throttles:
                self._wait_for_throttles()

    def _wait_for_throttles(self) -> None:
        """After a group, wait (up to :data:`MAX_STREAM_WAIT_S`) while a throttle says a stream in
        another process is behind; the commands that arrive meanwhile run as the next group."""
        deadline = 0.0
        while any(throttle() for throttle in self._throttles):
            now = time.monotonic()
            if not deadline:
                deadline = now + MAX_STREAM_WAIT_S
            elif now >= deadline:
                return
            time.sleep(0.001)

    def _run_group(self, group: list[Any]) -> bool:
        """Run one group of commands (see :meth:`_writer`); True if the writer must stop."""
        staged = Commit()
        answers: list[_Answer] = []
        for item in group:
            if item is _STOP:
                self._flush(staged, answers)
                return True
            fn, mutate, fut, post = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                new_day = self._day_due()
                if self._needs_reload or new_day:
                    # what the group staged so far goes to the store first: the reload reads it back
                    self._flush(staged, answers)
                    staged, answers = Commit(), []
                    if self._needs_reload:
                        self._reload()
                    if new_day:
                        self.roll_over()
                result = fn(self.dispatcher)
                if mutate:
                    self._stage(staged)
                answers.append((fut, result, None, post))
                if self._stream_backlog():
                    _pause()
            except StoreUnavailable as exc:
                self._needs_reload = True
                answers.append((fut, None, exc, None))
            except BaseException as exc:  # the caller gets it; the engine goes on
                d = self.dispatcher
                if mutate and d.has_changes:
                    # the command changed rides or plans before failing: rebuild from the store
                    # (after committing what came before it) to drop what it did
                    self._needs_reload = True
                answers.append((fut, None, exc, None))
        self._flush(staged, answers)
        return False

    def _flush(self, staged: Commit, answers: list[_Answer]) -> None:
        """Commit ``staged``, hand its events to the streams, then answer the callers."""
        try:
            if not staged.empty:
                self._commit(staged)
        except BaseException as exc:  # nothing of the group is stored: all of it is undone
            self._needs_reload = True
            for fut, _, _, _ in answers:
                fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for fut, result, error, post in answers:
            if error is None and post is not None:
                try:
                    result = post(result)
                except Exception as exc:
                    error = exc
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)

    @property
    def clock_s(self) -> int:
        """The service clock now: on the wall clock, seconds since the service day's midnight
        (read afresh, any thread); else the external clock as the calls moved it."""
        if self.clock == "wall":
            return math.floor(self.service_clock.source() - self._midnight)
        return self._clock_s

    def now(self, now_s: int = 0) -> int:
        """The service clock for a command: the wall clock, or the external clock moved on to
        ``now_s``. Only the writer thread moves the external clock (commands call this)."""
        if not 0 <= now_s <= MAX_CLOCK_S:
            raise InvalidInput("now_s", f"got {now_s} (allowed: 0 .. {MAX_CLOCK_S} s)")
        if self.clock == "external" and now_s > self._clock_s:
            self._clock_s = int(now_s)
        return self.clock_s

    # ------------------------------------------------------------------ persistence and streams
    def _stage(self, commit: Commit) -> None:
        """Add the dispatcher's changes since the last stage to ``commit`` (records, events, meta).

        A record staged again replaces the earlier one (the newest state wins); events append.
        """
        d = self.dispatcher
        ride_ids, vehicles = d.drain_changes()
        # The streams are fed from here and the store keeps the history: the dispatcher's own
        # list would only grow (several events per booking, for as long as the engine runs).
        new_events = list(d.events)
        d.events.clear()
        commit.meta = {
            "clock_s": str(self.clock_s),
            "requests_rejected": str(self.requests_rejected),
            "offer_seq": str(d.offer_seq),
        }
        day = self.day.isoformat() if self.day is not None else None
        if day is not None:
            commit.meta["service_day"] = day
        for rid in ride_ids:
            commit.rides[rid] = d.ride_record(rid) if day is None else {**d.ride_record(rid), "day": day}
            if d.rides[rid].status.is_terminal:  # ended: the store forgets it after its retention
                commit.expire_rides.append(rid)
        plans = {v: d.plan_columns(v) for v in vehicles}  # one read per changed vehicle, used twice
        for v in vehicles:
            commit.vehicles[d.vehicles[v].id] = d.vehicle_record(v, plans[v])
        for ev in new_events:
            payload = self._event_payload(ev.kind, ev.time_s, ev.ride_id, ev.vehicle_id, ev.detail)
            commit.events.append(("assignments", payload))
            if ev.ride_id and ev.ride_id in d.rides and ev.kind in ("late",):
                commit.events.append(self._ride_event(d.rides[ev.ride_id], "late", ev.time_s))
        for rid in ride_ids:
            ride = d.rides[rid]
            state = self._ride_state(ride)
            if self._published.get(rid) != state:
                before = self._published.get(rid)
                self._published[rid] = state
                commit.events.append(self._ride_event(ride, self._ride_kind(before, state)))
        for v in vehicles:
            commit.events.append(self._manifest_event(v, plans[v]))

    def _ride_event(self, ride: Ride, kind: str, time_s: int | None = None) -> tuple[str, dict[str, Any]]:
        """An event of the topic ``ride:<id>``: the ride as it is now (at ``time_s``, default the clock)."""
        at = self.clock_s if time_s is None else time_s
        return f"ride:{ride.ride_id}", {"kind": kind, "time_s": at, "ride": self.ride_dict(ride)}

    def _manifest_event(self, v: int, columns: PlanColumns | None = None) -> tuple[str, dict[str, Any]]:
        """An event of the topic ``vehicle:<id>``: vehicle ``v``'s manifest now (see :meth:`manifest`)."""
        stops = self.manifest(v, columns)
        return f"vehicle:{self.dispatcher.vehicles[v].id}", {"kind": "manifest", "time_s": self.clock_s, "stops": stops}

    @staticmethod
    def _event_payload(
        kind: str, time_s: int, ride_id: str | None = None, vehicle_id: str | None = None, detail: str = ""
    ) -> dict[str, Any]:
        """An event of the ``assignments`` topic."""
        return {
            "kind": kind,
            "time_s": time_s,
            "ride_id": ride_id or "",
            "vehicle_id": vehicle_id or "",
            "detail": detail,
        }

    def _stream_backlog(self) -> bool:
        """True if a stream that the last commit fed still has events to send, but not so many
        that its reader must be stuck (a client that stopped reading is not helped by pauses:
        its stream overflows and ends, see :class:`Subscription`)."""
        return any(sub.behind() for sub in self._fed)

    def _commit(self, commit: Commit) -> None:
        """Write ``commit`` to the store, then hand its events to the subscribers."""
        ids = self.store.commit(commit)
        cursor: dict[str, int] = {}
        fed: dict[int, Subscription] = {}
        self._fed = fed.values()
        published: list[tuple[str, str, dict[str, Any]]] = []
        for topic, payload in commit.events:
            k = cursor.get(topic, 0)
            cursor[topic] = k + 1
            published.append((topic, ids[topic][k], payload))
        self._streams.deliver(published, fed)
        for sink in self._sinks:
            sink(published)

    def add_throttle(self, behind: Callable[[], bool]) -> None:
        """Slow the writer to the pace of streams served elsewhere: while ``behind()`` is true (a
        front end reports a stream too far behind, see :mod:`engine.frontend`), the writer waits
        after each group, up to :data:`MAX_STREAM_WAIT_S` at a time, for it to catch up. In one
        process :func:`_pause` does this; across processes the writer cannot see the queues."""
        self._throttles.append(behind)

    def add_sink(self, sink: Callable[[list[tuple[str, str, dict[str, Any]]]], None]) -> None:
        """Also hand every commit's events, as ``(topic, event id, payload)`` in order, to ``sink``
        (on the writer thread, after the store commit): how front ends in other processes get
        their streams. A sink must not block."""
        self._sinks.append(sink)

    @staticmethod
    def _ride_kind(before: tuple[Any, ...] | None, after: tuple[Any, ...]) -> str:
        status = after[0]
        if before is None or before[0] != status:
            return {
                RideStatus.ASSIGNED: "assigned",
                RideStatus.ON_BOARD: "on_board",
                RideStatus.COMPLETED: "completed",
                RideStatus.CANCELLED: "cancelled",
                RideStatus.NO_SHOW: "no_show",
                RideStatus.EXPIRED: "expired",
            }.get(status, "state")
        if before[1] != after[1]:
            return "reassigned"
        return "eta"

    def subscribe(self, topic: str, wake: Callable[[], None] | None = None) -> Subscription:
        """A new stream's subscription to ``topic`` (``wake``: see :class:`Subscription`)."""
        return self._streams.subscribe(topic, wake)[0]

    def unsubscribe(self, sub: Subscription) -> None:
        self._streams.unsubscribe(sub)

    def history(self, topic: str, after: str) -> list[tuple[str, dict[str, Any]]]:
        """Stored events of ``topic`` after the event ``after`` (for resuming a stream)."""
        out: list[tuple[str, dict[str, Any]]] = []
        cursor: str | None = after
        while True:
            batch = self.store.read_events(topic, cursor, 1000)
            out.extend(batch)
            if len(batch) < 1000:
                return out
            cursor = batch[-1][0]

    @staticmethod
    def newer(event_id: str, than: str | None) -> bool:
        return than is None or event_id_key(event_id) > event_id_key(than)

    # ------------------------------------------------------------------ views (writer thread)
    def ride_dict(self, ride: Ride) -> dict[str, Any]:
        o = ride.offer
        return {
            "ride_id": ride.ride_id,
            "status": ride.status.value,
            "vehicle_id": self.dispatcher.vehicles[ride.vehicle].id,
            "pickup_stop": o.pickup_stop,
            "dropoff_stop": o.dropoff_stop,
            "passengers": ride.request.passengers,
            "pickup_window_start_s": o.pickup_window_start_s,
            "pickup_window_end_s": o.pickup_window_end_s,
            "latest_dropoff_s": o.latest_dropoff_s,
            "planned_pickup_s": round(ride.planned_pickup_s),
            "planned_dropoff_s": round(ride.planned_dropoff_s),
            "picked_up_at_s": ride.picked_up_at_s or 0,
            "dropped_off_at_s": ride.dropped_off_at_s or 0,
            "fare_krw": o.fare_krw,
            "offer_id": o.offer_id,
            "rider_id": ride.request.rider_id or "",
        }

    def manifest(self, v: int, columns: PlanColumns | None = None) -> dict[str, list[Any]]:
        """Vehicle ``v``'s manifest for the driver (from ``columns``, its plan's columns, if given),
        as columns: ``ride_id``, ``kind`` ("pickup" / "dropoff"), ``stop``, ``planned_s``,
        ``service_s``, ``passengers`` and ``window_start_s`` (of a pickup; 0 for a drop-off), one
        entry per planned stop in order (see :func:`engine.converters.manifest`)."""
        cols = self.dispatcher.plan_columns(v) if columns is None else columns
        return {
            "ride_id": cols.ride_ids,
            "kind": cols.kinds,
            "stop": cols.stops,
            "planned_s": np.ceil(np.asarray(cols.planned_s) - 1e-9).astype(np.int64).tolist(),
            "service_s": cols.service_s,
            "passengers": cols.passengers,
            "window_start_s": cols.window_start_s,
        }

    def vehicle_status(self, v: int) -> dict[str, Any]:
        d = self.dispatcher
        plan = d.plan
        veh = d.vehicles[v]
        return {
            "vehicle_id": veh.id,
            "on_shift": bool(not d.off_shift[v] and plan.shift_end(v) >= self.clock_s),
            "seats": veh.seats,
            "wheelchair_places": veh.wheelchair_places,
            "on_board": int(plan.load(v).sum()),
            "stop": plan.location(v),
            "available_s": int(plan.available_at(v)),
            "planned_stops": plan.num_stops(v),
            "shift_end_s": veh.shift_end_s,
        }

    def fleet_status(self, d: Dispatcher) -> dict[str, Any]:
        counts = {s: 0 for s in RideStatus}
        waits = []
        for ride in d.rides.values():
            counts[ride.status] += 1
            if ride.status == RideStatus.COMPLETED and ride.picked_up_at_s is not None:
                waits.append(ride.picked_up_at_s - ride.request.requested_time_s)
        plan = d.plan
        on_shift = int((plan.on_shift(self.clock_s) & ~d.off_shift).sum())
        return {
            "clock_s": self.clock_s,
            "service_day": self.day.isoformat() if self.day is not None else "",
            "rides_expired": counts[RideStatus.EXPIRED],
            "vehicles": plan.num_vehicles,
            "vehicles_on_shift": on_shift,
            "rides_assigned": counts[RideStatus.ASSIGNED],
            "rides_on_board": counts[RideStatus.ON_BOARD],
            "rides_completed": counts[RideStatus.COMPLETED],
            "rides_cancelled": counts[RideStatus.CANCELLED],
            "rides_no_show": counts[RideStatus.NO_SHOW],
            "requests_rejected": self.requests_rejected,
            "riders_on_board": int(plan.arrays.start_load.sum()),
            "mean_wait_s": float(np.mean(waits)) if waits else 0.0,
            "planned_vehicle_time_s": float(plan.cost()),
        }

    # ------------------------------------------------------------------ operations (any thread)
    # Each operation has a builder ``_op_<name>`` (what the writer runs) and a method that waits
    # for it; :meth:`command` queues one by name without waiting.
    def quote(self, request: Request, now_s: int = 0, *, asap: bool = False) -> Offer | Rejection:
        """Quote ``request``; ``asap``: for as soon as possible (its times are set to the clock
        when the writer runs it, however long it waited)."""
        return self._run(self._op_quote(request, now_s, asap=asap))

    def book(
        self, offer_id: str, idempotency_key: str = "", now_s: int = 0, *, rider_id: str | None = None
    ) -> dict[str, Any]:
        """Book an offer; with ``rider_id`` only that rider's own offer."""
        return self._run(self._op_book(offer_id, idempotency_key, now_s, rider_id=rider_id))

    def quote_and_book(
        self,
        request: Request,
        idempotency_key: str = "",
        now_s: int = 0,
        *,
        rider_id: str | None = None,
        asap: bool = False,
    ) -> dict[str, Any]:
        """Quote ``request`` and book its offer in one command: the ride, or :class:`Rejected`.

        A retry with the same ``idempotency_key`` returns the ride booked the first time. The
        rejection is committed like a quote's (operators see it) before the caller hears of it.
        ``asap`` as for :meth:`quote`.
        """
        return self._run(self._op_quote_and_book(request, idempotency_key, now_s, rider_id=rider_id, asap=asap))

    def ride_owner(self, ride_id: str) -> str | None:
        return self._run(self._op_ride_owner(ride_id))

    def cancel(self, ride_id: str, now_s: int = 0) -> dict[str, Any]:
        return self._run(self._op_cancel(ride_id, now_s))

    def get_ride(self, ride_id: str) -> dict[str, Any]:
        return self._run(self._op_get_ride(ride_id))

    def position(self, vehicle_id: str, stop: int, time_s: int) -> None:
        """The vehicle is at (or committed to) ``stop`` from ``time_s``, which may lie ahead: a
        vehicle reports where it will be next, so the clock does not move with it."""
        self._run(self._op_position(vehicle_id, stop, time_s))

    def stop_event(self, vehicle_id: str, kind: str, ride_id: str, stop: int, time_s: int) -> int:
        return self._run(self._op_stop_event(vehicle_id, kind, ride_id, stop, time_s))

    def start_shift(self, vehicle_id: str, stop: int | None = None, now_s: int = 0) -> dict[str, Any]:
        """The driver starts (or resumes) the shift now, at ``stop`` if given; the vehicle's status."""
        return self._run(self._op_start_shift(vehicle_id, stop, now_s))

    def end_shift(self, vehicle_id: str, now_s: int = 0) -> dict[str, Any]:
        """The driver ends the shift: no new rides for the vehicle (see
        :meth:`Dispatcher.end_shift`); the vehicle's status."""
        return self._run(self._op_end_shift(vehicle_id, now_s))

    def reoptimise(self, iterations: int = 0, now_s: int = 0) -> ReoptimiseReport:
        return self._run(self._op_reoptimise(iterations, now_s))

    def update_traffic(self, edge_times: np.ndarray, now_s: int = 0) -> float:
        return self._run(self._op_update_traffic(edge_times, now_s))

    def vehicle_index(self, vehicle_id: str) -> int:
        """The dispatcher's index of ``vehicle_id`` (NotFoundError if unknown)."""
        return self._run(self._op_vehicle_index(vehicle_id))

    def vehicle_view(self, v: int) -> dict[str, Any]:
        """Vehicle ``v``'s status (:meth:`vehicle_status`) read on the writer thread."""
        return self._run(self._op_vehicle_view(v))

    def manifest_view(self, v: int) -> dict[str, list[Any]]:
        """Vehicle ``v``'s manifest (:meth:`manifest`) read on the writer thread."""
        return self._run(self._op_manifest_view(v))

    def list_vehicles(self) -> list[dict[str, Any]]:
        return self._run(self._op_list_vehicles())

    def fleet_kpis(self) -> dict[str, Any]:
        """Live KPIs (:meth:`fleet_status`) read on the writer thread."""
        return self._run(self._op_fleet_kpis())

    # builders (the functions run on the writer thread)
    def _op_quote(self, request: Request, now_s: int = 0, *, asap: bool = False) -> Operation:
        def run(d: Dispatcher) -> Offer | Rejection:
            now = self.now(now_s)
            return self._quote_on(d, _at(request, now) if asap else request, now)

        return run, True, None

    def _op_book(
        self, offer_id: str, idempotency_key: str = "", now_s: int = 0, *, rider_id: str | None = None
    ) -> Operation:
        def run(d: Dispatcher) -> dict[str, Any]:
            if idempotency_key and idempotency_key in self.idempotency:
                return self._known_booking(d, idempotency_key, rider_id)
            if rider_id is not None and d.offer_rider(offer_id) != rider_id:
                raise PermissionDenied(f"offer {offer_id} was made to another rider")
            return self._book_on(d, offer_id, idempotency_key, self.now(now_s))

        return run, True, None

    def _op_quote_and_book(
        self,
        request: Request,
        idempotency_key: str = "",
        now_s: int = 0,
        *,
        rider_id: str | None = None,
        asap: bool = False,
    ) -> Operation:
        def run(d: Dispatcher) -> dict[str, Any] | Rejection:
            if idempotency_key and idempotency_key in self.idempotency:
                return self._known_booking(d, idempotency_key, rider_id)
            now = self.now(now_s)
            answer = self._counted(
                d.request_and_book(_at(request, now) if asap else request, now, idempotency_key=idempotency_key or None)
            )
            return answer if isinstance(answer, Rejection) else self._booked(answer, idempotency_key)

        return run, True, _raise_rejection

    def _op_ride_owner(self, ride_id: str) -> Operation:
        return (lambda d: d.get_ride(ride_id).request.rider_id), False, None

    def _op_cancel(self, ride_id: str, now_s: int = 0) -> Operation:
        return (lambda d: self.ride_dict(d.cancel(ride_id, self.now(now_s)))), True, None

    def _op_get_ride(self, ride_id: str) -> Operation:
        return (lambda d: self.ride_dict(d.get_ride(ride_id))), False, None

    def _op_position(self, vehicle_id: str, stop: int, time_s: int) -> Operation:
        def run(d: Dispatcher) -> None:
            d.on_vehicle_position(vehicle_id, stop, max(int(time_s), self.now()))

        return run, True, None

    def _op_stop_event(self, vehicle_id: str, kind: str, ride_id: str, stop: int, time_s: int) -> Operation:
        def run(d: Dispatcher) -> int:
            v = d.vehicle_index_of(vehicle_id)
            t = self.now(time_s) if self.clock == "wall" else max(int(time_s), self.now(time_s))
            if kind == "arrived":
                d.on_vehicle_position(vehicle_id, stop, t)
            else:
                ride = d.get_ride(ride_id)
                if d.vehicles[ride.vehicle].id != vehicle_id:
                    from matching.errors import ConflictError

                    raise ConflictError(f"ride {ride_id} is not on vehicle {vehicle_id}")
                {"boarded": d.on_boarded, "alighted": d.on_alighted, "no_show": d.on_no_show}[kind](ride_id, t)
            return d.plan.num_stops(v)

        return run, True, None

    def _op_reoptimise(self, iterations: int = 0, now_s: int = 0) -> Operation:
        def run(d: Dispatcher) -> ReoptimiseReport:
            if not 0 <= iterations <= self.max_reoptimise_iterations:
                raise InvalidInput("iterations", f"got {iterations} (allowed: 0 .. {self.max_reoptimise_iterations})")
            now = self.now(now_s)
            start = time.monotonic()
            cap = start + self.max_reoptimise_ms / 1000.0  # the writer is never held longer
            if iterations > 0:
                return d.reoptimise(iterations=iterations, deadline=cap, now_s=now)
            return d.reoptimise(deadline=min(cap, start + self.reoptimise_deadline_ms / 1000.0), now_s=now)

        return run, True, None

    def _op_start_shift(self, vehicle_id: str, stop: int | None = None, now_s: int = 0) -> Operation:
        def run(d: Dispatcher) -> dict[str, Any]:
            now = self.now(now_s)
            if stop is not None:  # first: it checks the vehicle and the stop
                d.on_vehicle_position(vehicle_id, stop, now)
            d.start_shift(vehicle_id, now)
            return self.vehicle_status(d.vehicle_index[vehicle_id])

        return run, True, None

    def _op_end_shift(self, vehicle_id: str, now_s: int = 0) -> Operation:
        def run(d: Dispatcher) -> dict[str, Any]:
            d.end_shift(vehicle_id, self.now(now_s))
            return self.vehicle_status(d.vehicle_index[vehicle_id])

        return run, True, None

    def _op_update_traffic(self, edge_times: np.ndarray, now_s: int = 0) -> Operation:
        def run(d: Dispatcher) -> float:
            t0 = time.perf_counter()
            self.router = self.router.with_travel_times(edge_times)
            self._matrix = self.router.matrix(self.stops.node, self.stops.node).astype(np.float64)
            d.update_travel_times(self.router, self.now(now_s), self._matrix)
            return time.perf_counter() - t0

        return run, True, None

    def _op_vehicle_index(self, vehicle_id: str) -> Operation:
        return (lambda d: d.vehicle_index_of(vehicle_id)), False, None

    def _op_vehicle_view(self, v: int) -> Operation:
        return (lambda d: self.vehicle_status(v)), False, None

    def _op_manifest_view(self, v: int) -> Operation:
        return (lambda d: self.manifest(v)), False, None

    def _op_list_vehicles(self) -> Operation:
        return (lambda d: [self.vehicle_status(v) for v in range(d.plan.num_vehicles)]), False, None

    def _op_fleet_kpis(self) -> Operation:
        return self.fleet_status, False, None

    # writer-side steps of the commands above
    def _quote_on(self, d: Dispatcher, request: Request, now: int) -> Offer | Rejection:
        return self._counted(d.on_request(request, now))

    def _book_on(self, d: Dispatcher, offer_id: str, idempotency_key: str, now: int) -> dict[str, Any]:
        return self._booked(d.book(offer_id, now, idempotency_key=idempotency_key or None), idempotency_key)

    def _counted(self, answer: T) -> T:
        """``answer``, with a rejection counted (FleetStatus ``requests_rejected``)."""
        if isinstance(answer, Rejection):
            self.requests_rejected += 1
        return answer

    def _booked(self, ride: Ride, idempotency_key: str) -> dict[str, Any]:
        """A new booking's record for the caller; its idempotency key remembered."""
        if idempotency_key:
            self.idempotency[idempotency_key] = ride.ride_id
        return self.ride_dict(ride)

    def _known_booking(self, d: Dispatcher, idempotency_key: str, rider_id: str | None) -> dict[str, Any]:
        """The ride already booked with ``idempotency_key`` (only to the rider who booked it)."""
        ride = d.get_ride(self.idempotency[idempotency_key])
        if rider_id is not None and ride.request.rider_id != rider_id:
            raise PermissionDenied("that idempotency key belongs to another rider's booking")
        return self.ride_dict(ride)

    def _reoptimise_timer(self) -> None:
        while not self._stopping.wait(self.reoptimise_every_s):
            try:
                self.reoptimise()
            except Exception:  # pragma: no cover - logged, the timer goes on
                log.exception("background re-optimisation failed")


#: The operations :meth:`EngineCore.command` queues by name: those with an ``_op_<name>`` builder.
OPERATIONS = frozenset(name.removeprefix("_op_") for name in vars(EngineCore) if name.startswith("_op_"))
