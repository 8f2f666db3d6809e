"""The engine core: the live state's lifecycle, and the one list of operations run by one writer.

The core loads the world and rebuilds the dispatcher from the state store, then runs every
operation (:mod:`engine.operations`, each defined once) on its single writer thread
(:mod:`engine.writer`: queue, group commit, back-pressure), which commits what changed and only
then answers; each commit's events go to the streams (:mod:`engine.streams`), built from the read
models (:mod:`engine.views`). The core implements :class:`~engine.dataplane.DataPlane`, what the
servicers need; so does a front end's :class:`~engine.frontend.RemoteCore`.

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

An operator's re-optimisation is bounded by ``max_reoptimise_iterations`` and
``max_reoptimise_ms``. Who watches the writer's work (a benchmark) registers an observer
(:meth:`EngineCore.observe`): it hears how long each stage and commit took.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, TypeVar

import numpy as np

from matching import DispatchEventKind, Offer, Request, RideUpdateKind, VehicleState
from matching.deployment import Deployment, load_world, make_fleet
from matching.dispatcher import Dispatcher
from matching.snapshot import DispatcherSnapshot
from routing import warm_up

from . import DEFAULT_MAX_QUEUE, DEFAULT_MAX_REOPTIMISE_ITERATIONS, DEFAULT_MAX_REOPTIMISE_MS
from . import operations as ops
from .clock import ServiceClock, day_change_s
from .errors import InvalidInput
from .geometry import MapPoints, street_polylines
from .operations import OPERATIONS, Command
from .ownership import IdempotencyKeys
from .store_types import Commit, StateStore, StoreUnavailable
from .streams import Streams, Subscription, read_history
from .taxi import IMOD, RECORD_KEY, ServiceDirectory, TaxiService, taxi_services, warm_taxis
from .views import Views
from .writer import CALL_TIMEOUT_S, Writer, wait_for

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Latest time a call may carry (a year of the service clock).
MAX_CLOCK_S = 366 * 86_400
#: The meta key of the I-MOD rejections by reason (JSON: reason value -> count).
REJECTED_KEY = "rejected_by_reason"
#: An observer of the writer's work (:meth:`EngineCore.observe`): called with the step
#: (``"stage"``: the dispatcher's changes staged; ``"commit"``: the commit written to the store and
#: its events handed to the streams; ``"store"``: the store's commit alone, within ``"commit"``),
#: how long it took (seconds) and the commit.
Observer = Callable[[str, float, Commit], None]


class EngineCore:
    """See the module docstring."""

    # The operations (defined once, in engine.operations): each runs on the writer and waits for
    # the answer (until the call's deadline); :meth:`command` queues one by name without waiting.
    quote = ops.quote
    book = ops.book
    quote_and_book = ops.quote_and_book
    cancel = ops.cancel
    get_ride = ops.get_ride
    position = ops.position
    stop_event = ops.stop_event
    start_shift = ops.start_shift
    end_shift = ops.end_shift
    vehicle_index = ops.vehicle_index
    vehicle_view = ops.vehicle_view
    manifest_view = ops.manifest_view
    list_vehicles = ops.list_vehicles
    fleet_kpis = ops.fleet_kpis
    reoptimise = ops.reoptimise
    update_traffic = ops.update_traffic
    taxi_quote = ops.taxi_quote
    taxi_book = ops.taxi_book
    ride_view = ops.ride_view
    cancel_ride = ops.cancel_ride
    taxi_locate = ops.taxi_locate
    taxi_stop_event = ops.taxi_stop_event
    taxi_vehicles = ops.taxi_vehicles
    taxi_manifest = ops.taxi_manifest
    taxi_kpis = ops.taxi_kpis
    taxi_batches = ops.taxi_batches
    list_rides = ops.list_rides
    vehicle_route = ops.vehicle_route
    taxi_route = ops.taxi_route

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
        #: The single writer that runs every command (:mod:`engine.writer`).
        self.writer = Writer(self, max_queue=max_queue, nice=writer_nice)
        #: The read models of the state (:mod:`engine.views`).
        self.views = Views(self)
        self._streams = Streams()
        self._timer: threading.Thread | None = None
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self._clock_s = 0  # the external clock (the wall clock is read when asked)
        #: The rides booked with an idempotency key (for retries).
        self.idempotency = IdempotencyKeys()
        self._published: dict[str, tuple[Any, ...]] = {}
        self.requests_rejected = 0
        #: I-MOD requests rejected (quotes, bookings at once), by reason value (FleetStatus).
        self.rejected_by_reason: Counter[str] = Counter()
        self.timings: dict[str, float] = {}
        self._fed: Iterable[Subscription] = ()  # the streams the last commit fed
        self._sinks: list[Callable[[list[tuple[str, str, dict[str, Any]]]], None]] = []
        self._observers: list[Observer] = []
        #: The deployment's services and the service of each taxi (what the servicers route by).
        self.directory = ServiceDirectory.from_deployment(
            deployment, (f"veh{k:04d}" for k in range(deployment.fleet.vehicles))
        )
        #: The shared-taxi services (:mod:`engine.taxi`), by name, once started.
        self.taxi: dict[str, TaxiService] = {}
        self._batch_timer: threading.Thread | None = None
        self._batch_queued = threading.Event()
        self._batch_events: list[dict[str, Any]] = []  # the batches' operator events, for the next stage
        self._maps: dict[str, dict[str, Any]] = {}  # each service's map, once built
        self._streets: tuple[list[int], list[float], list[float]] | None = None
        self._maps_lock = threading.Lock()

    @property
    def writer_nice_applied(self) -> int | None:
        """Once the writer runs: ``writer_nice`` if it could be set, else 0 (left as it was)."""
        return self.writer.nice_applied

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Load the world, compile the kernels, rebuild the state from the store, start the writer."""
        t0 = time.perf_counter()
        self.network, self.router, self.stops = load_world(self.deployment)
        self.fleet: list[VehicleState] = make_fleet(self.deployment, self.stops, self.seed)
        self.directory = ServiceDirectory.from_deployment(self.deployment, (v.id for v in self.fleet))
        self.taxi = taxi_services(self.deployment, self.network, self.router, self.seed)
        self.timings["world_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm_up()
        self.timings["warm_up_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if not self.warm_dispatcher():
            log.warning("no trial booking was possible: some dispatcher kernels compile on the first calls")
        self.timings["dispatcher_warm_up_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for service in self.taxi.values():
            if not warm_taxis(service, max(service.spec.shift_start_s, self.deployment.service.service_start_s) + 3600):
                log.warning(
                    "no trial taxi ride of %s was possible: its kernels compile on the first calls", service.name
                )
        self.timings["taxi_warm_up_s"] = time.perf_counter() - t0
        self.reload()
        if self.clock == "wall":
            self.roll_over()  # the store may hold a day that has ended since
        self.writer.start()
        if self.reoptimise_every_s > 0 and self.clock == "wall":
            self._timer = threading.Thread(target=self._reoptimise_timer, name="engine-reoptimise", daemon=True)
            self._timer.start()
        if self.taxi and self.clock == "wall":
            self._batch_timer = threading.Thread(target=self._taxi_batch_timer, name="engine-taxi-batches", daemon=True)
            self._batch_timer.start()
        self.ready.set()

    def stop(self) -> None:
        self._stopping.set()
        self.writer.stop()
        self._streams.end_all()

    def warm_dispatcher(self) -> bool:
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
            offer = d.quote(request, t)
            if isinstance(offer, Offer):
                first = d.book(offer.offer_id, t)
                back = Request(id=f"warm-up-{k}-back", origin_stop=dst, destination_stop=o, requested_time_s=t + 600,
                               submitted_time_s=t)  # fmt: skip
                d.quote_and_book(back, t)
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
            seed=self.seed,
        )

    def reload(self, *, adopt_quotes: bool = True) -> None:
        """(Re)build the dispatcher from the store: its snapshot is the truth.

        Open offers and the offer numbering carry over from the dispatcher being replaced (and
        the numbering from the store), so an offer id is never given twice; ``adopt_quotes``
        False drops the open offers (a new service day: they were made on the old day's clock).
        On the wall clock only the rides of the engine's service day are restored (the store's
        day on the first load; today's on a new store).
        """
        snap = self.store.load()
        rides = [r for r in snap.rides.values() if RECORD_KEY not in r]
        taxi_rides = [r for r in snap.rides.values() if RECORD_KEY in r]
        if self.clock == "wall":
            if self.day is None:
                stored = snap.meta.get("service_day")
                self._set_day(dt.date.fromisoformat(stored) if stored else self.service_clock.today())
            assert self.day is not None
            day = self.day.isoformat()
            rides = [r for r in rides if r.get("day", day) == day]
        dispatcher = self._new_dispatcher()
        imod_vehicles = [v for v in snap.vehicles.values() if RECORD_KEY not in v]
        dispatcher.restore(DispatcherSnapshot.from_records(rides, imod_vehicles))
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
        self.rejected_by_reason = Counter(json.loads(snap.meta.get(REJECTED_KEY, "{}")))
        self.idempotency.load(rides)
        self._published = {rid: self.views.ride_state(ride) for rid, ride in dispatcher.rides.items()}
        for service in self.taxi.values():
            service.restore(taxi_rides, snap.vehicles, snap.meta, self.clock_s)

    # ------------------------------------------------------------------ the wall clock's days
    def _set_day(self, day: dt.date) -> None:
        self.day = day
        self._midnight = self.service_clock.midnight(day)
        self._next_day_at = self.service_clock.begins(day + dt.timedelta(days=1))

    def day_due(self) -> bool:
        """True once the next service day has begun (wall clock)."""
        return self.service_clock.source() >= self._next_day_at

    def roll_over(self) -> bool:
        """Move the engine to the service day it is now, if a new one has begun (wall clock,
        writer thread or before the writer starts); True if it did.

        The rides of the day that ended which are still open (no one reported their end) and
        whose promise has run out expire. What is booked for the new day or later stays, on the
        new day's clock (every time moves back by the days' distance, see
        :meth:`RideSnapshot.shifted`), and so does every vehicle. The store then holds the
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
        self.stage(commit)  # the expired rides, on the old day
        carried = [r.ride_id for r in open_rides if r.request.requested_time_s >= cut]
        new_day = today.isoformat()
        for rid in carried:
            commit.rides[rid] = {**d.snapshot_ride(rid).shifted(-shift).to_dict(), "day": new_day}
        for v in range(d.plan.num_vehicles):
            commit.vehicles[d.vehicles[v].id] = d.snapshot_vehicle(v).shifted(-shift).to_dict()
        self._set_day(today)
        commit.meta["service_day"] = new_day
        commit.meta["clock_s"] = str(self.clock_s)
        commit.events.append(
            ("assignments", self.views.event_payload(DispatchEventKind.SERVICE_DAY, self.clock_s, detail=new_day))
        )
        self.commit(commit)
        self.reload(adopt_quotes=False)
        d = self.dispatcher
        news = Commit()
        for rid in carried:
            self._published[rid] = self.views.ride_state(d.rides[rid])
            news.events.append(self.views.ride_event(d.rides[rid], RideUpdateKind.STATE))
        news.events.extend(self.views.manifest_event(v) for v in range(d.plan.num_vehicles))
        self.commit(news)
        log.info("service day %s began: %d rides expired, %d carried over", new_day, len(left), len(carried))
        return True

    # ------------------------------------------------------------------ commands (any thread)
    def submit(
        self, fn: Callable[[Dispatcher], Any], *, mutate: bool = True, post: Callable[[Any], Any] | None = None
    ) -> Future[Any]:
        """Queue ``fn(dispatcher)`` for the writer thread; the future gets ``post(result)`` (or
        the result if no ``post``), or the error, once what it changed is committed.

        ``post`` runs on the writer thread after the commit (a rejection booked at once is
        committed before it becomes the caller's error). Cancelling the future before the
        writer takes it drops the command (see :func:`~engine.writer.wait_for`).

        Raises:
            StoreUnavailable: the engine is still starting.
            Overloaded: ``max_queue`` commands are already waiting (nothing was queued).
        """
        if not self.ready.is_set():
            raise StoreUnavailable("the engine is still starting")
        return self.writer.submit(fn, mutate=mutate, post=post)

    def call(self, fn: Callable[[Dispatcher], T], *, mutate: bool = True, timeout: float = CALL_TIMEOUT_S) -> T:
        """Run ``fn(dispatcher)`` on the writer thread and return its result (or raise its error);
        dropped if it has not begun within ``timeout`` (see :func:`~engine.writer.wait_for`)."""
        result: T = wait_for(self.submit(fn, mutate=mutate), time.monotonic() + timeout)
        return result

    def run(self, command: Command) -> Any:
        """Queue ``command`` (an operation bound to its arguments, :meth:`Operation.bind`) and wait
        for its outcome (until the call's deadline: :func:`~engine.writer.wait_for`)."""
        fn, mutate, post = command
        return wait_for(self.submit(fn, mutate=mutate, post=post))

    def command(self, name: str, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue the operation ``name`` (one of :data:`~engine.operations.OPERATIONS`) without
        waiting for it: what the servicers and front ends in other processes ask for."""
        op = OPERATIONS.get(name)
        if op is None:
            raise ValueError(f"unknown engine operation {name!r}")
        fn, mutate, post = op.bind(self, *args, **kwargs)
        return self.submit(fn, mutate=mutate, post=post)

    def call_async(self, name: str, *args: Any, **kwargs: Any) -> tuple[asyncio.Future[Any], Callable[[], bool]]:
        """:meth:`command` for a coroutine: an asyncio future of its answer, and the function that
        drops the command if the writer has not begun it (True if it did)."""
        command = self.command(name, *args, **kwargs)
        return asyncio.wrap_future(command), command.cancel

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
            if self.taxi:
                self.run_taxi_batches(int(now_s))
            self._clock_s = int(now_s)
        return self.clock_s

    def describe_services(self) -> str:
        """The services this engine runs, in words (``mobility serve``'s banner), once started."""
        parts = (
            [f"{self.deployment.imod_name} ({len(self.fleet)} vehicles, {len(self.stops)} stops)"]
            if (self.deployment.imod)
            else []
        )
        parts += [f"{name} ({len(s.fleet)} shared taxis)" for name, s in self.taxi.items()]
        return ", ".join(parts)

    # ------------------------------------------------------------------ the shared taxi's batches (writer thread)
    def taxi_service(self, name: str) -> TaxiService:
        """The shared-taxi service ``name`` (InvalidInput naming ``service`` if there is none)."""
        service = self.taxi.get(name)
        if service is None:
            raise InvalidInput(
                "service", f"{name[:64]!r} is not a shared-taxi service (they are: {', '.join(self.taxi)})"
            )
        return service

    def run_taxi_batches(self, until_s: int) -> int:
        """Run every shared-taxi batch due by ``until_s``, oldest first, each at its batch time (the
        external clock moves to it first; see :mod:`engine.taxi`); on the wall clock the due
        batches run once, now. A service with nothing waiting or promised skips its batches.
        The number of batches run. Writer thread."""
        ran = 0
        while True:
            due = [s for s in self.taxi.values() if s.next_batch_s is not None and s.next_batch_s <= until_s]
            if not due:
                return ran
            service = min(due, key=lambda s: (s.next_batch_s, s.name))
            at = int(service.next_batch_s or 0) if self.clock == "external" else until_s
            if service.idle():
                service.schedule_after(until_s)  # nothing to decide: no batch until there is
                continue
            if self.clock == "external":
                self._clock_s = max(self._clock_s, at)
            report = service.run_batch(at)
            ran += 1
            if report.status != "empty":
                self._batch_events.append(service.batch_event(report))

    # ------------------------------------------------------------------ persistence (writer thread)
    def stage(self, commit: Commit) -> None:
        """Add the dispatcher's changes since the last stage to ``commit`` (records, events, meta).

        A record staged again replaces the earlier one (the newest state wins); events append.
        Writer thread (or before the writer starts).
        """
        if self._observers:
            self._timed("stage", self._stage, commit)
        else:
            self._stage(commit)

    def _stage(self, commit: Commit) -> None:
        d = self.dispatcher
        ride_ids, vehicles = d.drain_changes()
        # The streams are fed from here and the store keeps the history: the dispatcher's own
        # list would only grow (several events per booking, for as long as the engine runs).
        new_events = list(d.events)
        d.events.clear()
        self.views.note_changes(vehicles, new_events)  # the legs the vehicles drive (positions)
        now = self.clock_s  # read once: on the wall clock each read asks the time again
        commit.meta = {
            "clock_s": str(now),
            "requests_rejected": str(self.requests_rejected),
            REJECTED_KEY: json.dumps(dict(self.rejected_by_reason), sort_keys=True),
            "offer_seq": str(d.offer_seq),
        }
        day = self.day.isoformat() if self.day is not None else None
        if day is not None:
            commit.meta["service_day"] = day
        for rid in ride_ids:
            record = d.snapshot_ride(rid).to_dict()
            commit.rides[rid] = record if day is None else {**record, "day": day}
            if d.rides[rid].status.is_terminal:  # ended: the store forgets it after its retention
                commit.expire_rides.append(rid)
        plans = {v: d.plan_columns(v) for v in vehicles}  # one read per changed vehicle, used twice
        for v in vehicles:
            commit.vehicles[d.vehicles[v].id] = d.snapshot_vehicle(v, plans[v]).to_dict()
        for ev in new_events:
            payload = self.views.event_payload(ev.kind, ev.time_s, ev.ride_id, ev.vehicle_id, ev.detail)
            commit.events.append(("assignments", payload))
            if ev.ride_id and ev.ride_id in d.rides and ev.kind == DispatchEventKind.LATE:
                commit.events.append(self.views.ride_event(d.rides[ev.ride_id], RideUpdateKind.LATE, ev.time_s))
        for rid in ride_ids:
            ride = d.rides[rid]
            state = self.views.ride_state(ride)
            before = self._published.get(rid)
            if before != state:
                self._published[rid] = state
                commit.events.append(self.views.ride_event(ride, self.views.ride_kind(before, state), now))
        for v in vehicles:
            commit.events.append(self.views.manifest_event(v, plans[v], now))
        if self.taxi:
            commit.events.extend(("assignments", event) for event in self._batch_events)
            self._batch_events.clear()
            for service in self.taxi.values():
                service.stage(commit, now)

    def stream_backlog(self) -> bool:
        """True if a stream that the last commit fed still has events to send, but not so many
        that its reader must be stuck (a client that stopped reading is not helped by pauses:
        its stream overflows and ends, see :class:`Subscription`)."""
        return any(sub.behind() for sub in self._fed)

    def commit(self, commit: Commit) -> None:
        """Write ``commit`` to the store, then hand its events to the subscribers (writer thread,
        or before the writer starts)."""
        if self._observers:
            self._timed("commit", self._commit, commit)
        else:
            self._commit(commit)

    def _commit(self, commit: Commit) -> None:
        ids = self._timed("store", self.store.commit, commit) if self._observers else self.store.commit(commit)
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
        process :func:`engine.writer.pause` does this; across processes the writer cannot see the queues."""
        self.writer.add_throttle(behind)

    def add_sink(self, sink: Callable[[list[tuple[str, str, dict[str, Any]]]], None]) -> None:
        """Also hand every commit's events, as ``(topic, event id, payload)`` in order, to ``sink``
        (on the writer thread, after the store commit): how front ends in other processes get
        their streams. A sink must not block."""
        self._sinks.append(sink)

    def observe(self, observer: Observer) -> None:
        """Also call ``observer(step, seconds, commit)`` for each stage and commit of the writer
        (see :data:`Observer`; on the writer thread, so it must be quick): how a benchmark sees
        where the time goes."""
        self._observers.append(observer)

    def _timed(self, step: str, fn: Callable[[Commit], T], commit: Commit) -> T:
        t0 = time.perf_counter()
        result = fn(commit)
        seconds = time.perf_counter() - t0
        for observer in self._observers:
            observer(step, seconds, commit)
        return result

    # ------------------------------------------------------------------ the data plane (any thread)
    def subscribe(self, topic: str, wake: Callable[[], None] | None = None) -> Subscription:
        """A new stream's subscription to ``topic`` (``wake``: see :class:`Subscription`)."""
        return self._streams.subscribe(topic, wake)[0]

    def unsubscribe(self, sub: Subscription) -> None:
        self._streams.unsubscribe(sub)

    def history(self, topic: str, after: str) -> list[tuple[str, dict[str, Any]]]:
        """Stored events of ``topic`` after the event ``after`` (for resuming a stream)."""
        return read_history(self.store.read_events, topic, after)

    def last_event_id(self, topic: str) -> str | None:
        """The id of the last stored event of ``topic`` (None if it has none)."""
        return self.store.last_event_id(topic)

    def service_map(self, name: str) -> dict[str, Any]:
        """What a map of service ``name`` draws (GetServiceMap; :func:`engine.converters.service_map`):
        the streets of the road network (:func:`engine.geometry.street_polylines`, shared by the
        services), the service's stops (I-MOD; a shared taxi has none) and zone, the network's
        size and the streets' bounds. Built on first use per service and kept (the roads do not
        change; traffic updates change only their times). Any thread, off the writer: it reads
        only what never changes (StoreUnavailable while the engine starts)."""
        name, kind = self.directory.resolve(name)
        network = getattr(self, "network", None)
        if network is None or not self.ready.is_set():
            raise StoreUnavailable("the engine is still starting")
        with self._maps_lock:
            found = self._maps.get(name)
            if found is not None:
                return found
            stops = self.stops if kind == IMOD else None
            points = MapPoints.of(network, stops)
            if self._streets is None:
                offsets, lat, lon = street_polylines(network, points)
                self._streets = (offsets.tolist(), lat.tolist(), lon.tolist())
            offsets_l, lat_l, lon_l = self._streets
            count = len(stops) if stops is not None else 0
            zone = self.deployment.service.zone if kind == IMOD and self.deployment.service.zone else ()
            everything_lat = np.concatenate([np.asarray(lat_l), points.stop_lat])
            everything_lon = np.concatenate([np.asarray(lon_l), points.stop_lon])
            bounds = (
                ((float(everything_lat.min()), float(everything_lon.min())),
                 (float(everything_lat.max()), float(everything_lon.max())))
                if everything_lat.size else ((0.0, 0.0), (0.0, 0.0))
            )  # fmt: skip
            built = {
                "service": name,
                "kind": "imod" if kind == IMOD else "taxi",
                "stop_ids": list(stops.ids) if stops is not None and stops.ids else [""] * count,
                "stop_names": list(stops.names) if stops is not None and stops.names else [""] * count,
                "stop_lat": points.stop_lat.tolist(),
                "stop_lon": points.stop_lon.tolist(),
                "zone": [(float(lat), float(lon)) for lat, lon in zone],
                "street_offsets": offsets_l,
                "street_lat": lat_l,
                "street_lon": lon_l,
                "nodes": network.num_nodes,
                "edges": network.num_edges,
                "bounds": bounds,
                "planar": points.planar,
            }
            self._maps[name] = built
            return built

    def num_edges(self) -> int:
        """The road network's number of edges (StoreUnavailable while the engine starts)."""
        network = getattr(self, "network", None)
        if network is None:
            raise StoreUnavailable("the engine is still starting")
        return int(network.num_edges)

    def _taxi_batch_timer(self) -> None:
        """On the wall clock: queue the ``taxi_batches`` operation when a batch is due (one at a time)."""
        while not self._stopping.wait(0.2):
            if self._batch_queued.is_set():
                continue
            now = self.clock_s
            if any(s.next_batch_s is not None and s.next_batch_s <= now for s in self.taxi.values()):
                self._batch_queued.set()
                try:
                    self.command("taxi_batches").add_done_callback(lambda _: self._batch_queued.clear())
                except Exception:  # pragma: no cover - overloaded or stopping: the next tick tries again
                    self._batch_queued.clear()

    def _reoptimise_timer(self) -> None:
        while not self._stopping.wait(self.reoptimise_every_s):
            try:
                self.reoptimise()
            except Exception:  # pragma: no cover - logged, the timer goes on
                log.exception("background re-optimisation failed")
