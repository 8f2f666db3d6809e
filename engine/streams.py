"""The engine's event streams: subscriptions by topic, and the replay loop every stream runs.

Topics: ``assignments`` (every offer, rejection, booking, assignment, reassignment,
cancellation, boarding, completion, no-show, lateness), ``ride:<id>`` (a ride's state whenever
its status, vehicle or planned times change) and ``vehicle:<id>`` (the vehicle's manifest
whenever it changes).

The engine core (:mod:`engine.core`) delivers each commit's events to its :class:`Streams`; a
front end's :class:`~engine.frontend.RemoteCore` delivers those the engine sends it to its own.
A stream (:func:`replay`) reads the stored history after the event its client names (or starts
from the current state), then follows the live events of its :class:`Subscription`, over any
:class:`~engine.dataplane.DataPlane`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import InvalidInput
from .store_types import event_id_key

if TYPE_CHECKING:
    from .dataplane import DataPlane

T = TypeVar("T")
#: A stream this far behind has a reader that stopped reading: the writer does not wait for it.
STUCK_BACKLOG = 1000
#: Event ids: "<ms>-<seq>" (Redis Stream ids).
EVENT_ID = re.compile(r"\d{1,15}-\d{1,15}")
#: Events read from the store at a time when a stream replays its history.
HISTORY_BATCH = 1000


@dataclass
class Subscription:
    """Live events of one topic for one stream (bounded; a slow reader loses its stream).

    The queue is fed by whichever thread delivers (the writer; in a front end, the thread that
    receives from the engine) and read by the stream, which ``wake`` tells that items came: it is
    called once per delivery that fed the queue, after the delivery, from the delivering thread
    (a ``grpc.aio`` stream sets it to wake its event loop, see :func:`waker`).
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

    def topics(self) -> set[str]:
        """The topics that have a subscription now."""
        with self._lock:
            return set(self._subs)

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


def newer(event_id: str, than: str | None) -> bool:
    """True if ``event_id`` comes after the event ``than`` of the same topic (None: any does)."""
    return than is None or event_id_key(event_id) > event_id_key(than)


def read_history(
    read_events: Callable[[str, str | None, int], list[tuple[str, dict[str, Any]]]], topic: str, after: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every stored event of ``topic`` after the event ``after``, read with ``read_events`` (a
    store's :meth:`~engine.store.StateStore.read_events`) :data:`HISTORY_BATCH` at a time."""
    out: list[tuple[str, dict[str, Any]]] = []
    cursor: str | None = after
    while True:
        batch = read_events(topic, cursor, HISTORY_BATCH)
        out.extend(batch)
        if len(batch) < HISTORY_BATCH:
            return out
        cursor = batch[-1][0]


class StreamTooSlow(Exception):
    """The stream's reader fell :class:`Subscription`'s queue size behind: it ends (resume with
    ``after_event_id``)."""

    def __init__(self) -> None:
        super().__init__("stream too slow; resume with after_event_id")


def check_after(after: str) -> None:
    """InvalidInput unless ``after`` is empty or an event id."""
    if after and not EVENT_ID.fullmatch(after):
        raise InvalidInput("after_event_id", f"got {after[:40]!r} (allowed: an event id like 1700000000000-0)")


def waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[], None]:
    """A subscription's ``wake`` (called from the delivering thread): sets ``event`` on ``loop``,
    with at most one wake-up pending at a time."""
    pending = False

    def woken() -> None:
        nonlocal pending
        pending = False
        event.set()

    def wake() -> None:
        nonlocal pending
        if pending:
            return
        pending = True
        try:
            loop.call_soon_threadsafe(woken)
        except RuntimeError:  # the loop is closed: nobody reads this stream any more
            pending = False

    return wake


async def replay(
    plane: DataPlane,
    topic: str,
    after: str,
    first: Callable[[str | None], T] | None,
    convert: Callable[[str, dict[str, Any]], T],
    read: Callable[..., Any],
    end: Callable[[BaseException], None],
    done: Callable[[dict[str, Any]], bool] | None = None,
) -> AsyncIterator[T]:
    """A stream of ``topic`` on ``plane``: the history after the event ``after`` (or ``first(last
    event id)``, the current state; or neither), then its live events until the caller stops
    reading or ``done(payload)``. Events are converted by ``convert(event id, payload)``; an event
    already sent (the history and the live events overlap) is skipped. ``after`` must be valid
    (:func:`check_after`).

    ``read(fn, *args)`` runs a store read that blocks (e.g. on a thread pool) and returns an
    awaitable of its result. A stream that fails ends after calling ``end(error)``: with a read's
    error, the error its subscription ends with (:attr:`Subscription.error`), or
    :class:`StreamTooSlow` after the last event it sends when its queue overflowed. (The error is
    handed over, not raised: a raised error would keep the stream's frames alive in a cycle.)
    """
    woken = asyncio.Event()
    sub = plane.subscribe(topic, waker(asyncio.get_running_loop(), woken))
    try:
        last: str | None = None
        try:
            if after:
                history = await read(plane.history, topic, after)
            elif first is not None:
                last = await read(plane.last_event_id, topic)
        except Exception as exc:
            end(exc)
            return
        if after:
            for event_id, payload in history:
                last = event_id
                yield convert(event_id, payload)
                if done and done(payload):
                    return
        elif first is not None:
            yield first(last)
        while True:
            woken.clear()
            try:
                item = sub.items.get_nowait()
            except queue.Empty:
                await woken.wait()
                continue
            if item is None:
                if sub.error is not None:
                    end(sub.error)
                return
            event_id, payload = item
            if not newer(event_id, last):
                continue
            last = event_id
            yield convert(event_id, payload)
            if done and done(payload):
                return
            if sub.overflow:
                end(StreamTooSlow())
                return
    finally:
        plane.unsubscribe(sub)
