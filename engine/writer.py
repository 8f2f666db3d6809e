"""The engine's single writer: one queue of commands, run in order, committed in groups.

Calls from any number of threads become commands on one queue (:meth:`Writer.submit`). A single
writer thread runs them in order against the dispatcher — so concurrent calls never race — then
commits what changed (ride and vehicle records, events) to the state store in one atomic commit,
hands the events to the subscribers of the streams and only then answers. Commands that queue up
while one runs are committed together (group commit: one store round trip for all of them).
A command that fails leaves nothing half done: validation happens before any change, and if the
commit itself fails (the store is down) the dispatcher is rebuilt from the store before the next
command, so what the store holds is exactly what was acknowledged.

A caller never hears "failed" of a command that then takes effect: a command still waiting when
its caller gives up (the call's deadline, or :data:`CALL_TIMEOUT_S`) is dropped from the queue
(:class:`~engine.errors.DeadlineExceeded`: nothing was done); one that already runs is waited
for. A queue deeper than ``max_queue`` refuses new commands at once
(:class:`~engine.errors.Overloaded`).

Back-pressure: after a command or a group, the writer pauses briefly while a stream it fed in
this process is behind (:func:`pause`), and waits (up to :data:`MAX_STREAM_WAIT_S`) while a
throttle says a stream in another process is (:meth:`Writer.add_throttle`).
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from matching.dispatcher import Dispatcher

from .errors import DeadlineExceeded, Overloaded
from .store_types import Commit, StoreUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
#: How long a call waits for its command when the caller set no deadline (see :data:`call_deadline`).
CALL_TIMEOUT_S = 60.0
#: The longest a call waits for its command to begin, whatever its deadline.
MAX_WAIT_S = 3600.0
#: The instant (``time.monotonic()``) by which the current call's caller stops waiting, if it said
#: (a gRPC deadline; set by the servicers for the thread that handles the call).
call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("call_deadline", default=None)
#: Most commands the writer runs before committing their changes together.
MAX_GROUP = 64
#: Most pauses after a group while a stream it fed is still sending (see :func:`pause`).
MAX_PAUSES = 4
#: Longest wait after a group while a front end reports a stream behind (see :meth:`Writer.add_throttle`).
MAX_STREAM_WAIT_S = 0.05
_STOP = object()
#: A queued command's answer: its future, result, error and the step applied to the result.
_Answer = tuple[Future[Any], Any, BaseException | None, Callable[[Any], Any] | None]


def pause() -> None:
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


class WriterHost(Protocol):
    """What the writer runs its commands against (the engine core, :class:`~engine.core.EngineCore`)."""

    @property
    def dispatcher(self) -> Dispatcher: ...

    def day_due(self) -> bool:
        """True once a new service day has begun (before the next command: :meth:`roll_over`)."""
        ...

    def reload(self) -> None:
        """Rebuild the dispatcher from the store (after a command or a commit failed)."""
        ...

    def roll_over(self) -> bool:
        """Move to the service day it is now."""
        ...

    def stage(self, commit: Commit) -> None:
        """Add the dispatcher's changes since the last stage to ``commit``."""
        ...

    def commit(self, commit: Commit) -> None:
        """Write ``commit`` to the store, then hand its events to the streams."""
        ...

    def stream_backlog(self) -> bool:
        """True while a stream the last commit fed (in this process) still has events to send."""
        ...


class Writer:
    """The queue of commands and the thread that runs them (see the module docstring)."""

    def __init__(self, host: WriterHost, *, max_queue: int, nice: int = 0) -> None:
        self.host = host
        self.max_queue = max_queue
        self.nice = nice
        #: Once the writer runs: ``nice`` if it could be set, else 0 (left as it was).
        self.nice_applied: int | None = None
        #: A command or a commit failed: the dispatcher is rebuilt from the store before the next command.
        self.needs_reload = False
        self._queue: queue.Queue[Any] = queue.Queue()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._throttles: list[Callable[[], bool]] = []

    def start(self) -> None:
        """Start the writer thread (and wait until it runs, at most 10 s)."""
        self._thread = threading.Thread(target=self._run, name="engine-writer", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        """Stop the thread once the commands queued before have run (waits at most 10 s)."""
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def submit(
        self, fn: Callable[[Dispatcher], Any], *, mutate: bool = True, post: Callable[[Any], Any] | None = None
    ) -> Future[Any]:
        """Queue ``fn(dispatcher)``; see :meth:`engine.core.EngineCore.submit`.

        Raises:
            Overloaded: ``max_queue`` commands are already waiting (nothing was queued).
        """
        waiting = self._queue.qsize()
        if waiting >= self.max_queue:
            raise Overloaded(
                f"the engine is overloaded ({waiting} commands wait, most {self.max_queue}): nothing was done; "
                "try again shortly"
            )
        fut: Future[Any] = Future()
        self._queue.put((fn, mutate, fut, post))
        return fut

    def add_throttle(self, behind: Callable[[], bool]) -> None:
        """While ``behind()`` is true the writer waits after each group, up to
        :data:`MAX_STREAM_WAIT_S` at a time (see :meth:`engine.core.EngineCore.add_throttle`)."""
        self._throttles.append(behind)

    def _run(self) -> None:
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
        self.nice_applied = set_thread_nice(self.nice)
        self._started.set()
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
                if not self.host.stream_backlog():
                    break
                pause()
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
        """Run one group of commands (see :meth:`_run`); True if the writer must stop."""
        host = self.host
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
                new_day = host.day_due()
                if self.needs_reload or new_day:
                    # what the group staged so far goes to the store first: the reload reads it back
                    self._flush(staged, answers)
                    staged, answers = Commit(), []
                    if self.needs_reload:
                        host.reload()
                        self.needs_reload = False
                    if new_day:
                        host.roll_over()
                result = fn(host.dispatcher)
                if mutate:
                    host.stage(staged)
                answers.append((fut, result, None, post))
                if host.stream_backlog():
                    pause()
            except StoreUnavailable as exc:
                self.needs_reload = True
                answers.append((fut, None, exc, None))
            except BaseException as exc:  # the caller gets it; the engine goes on
                d = host.dispatcher
                if mutate and d.has_changes:
                    # the command changed rides or plans before failing: rebuild from the store
                    # (after committing what came before it) to drop what it did
                    self.needs_reload = True
                answers.append((fut, None, exc, None))
        self._flush(staged, answers)
        return False

    def _flush(self, staged: Commit, answers: list[_Answer]) -> None:
        """Commit ``staged``, hand its events to the streams, then answer the callers."""
        try:
            if not staged.empty:
                self.host.commit(staged)
        except BaseException as exc:  # nothing of the group is stored: all of it is undone
            self.needs_reload = True
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
