"""Group commit in the engine's writer: commands that queue up are committed together.

The writer is held on a blocking command while others queue behind it, so the group is known.
Checked on both stores: one store commit for the whole group; nobody is answered before the
group is stored; a command that fails after changing the plan leaves no trace while the ones
before and after it in the group stand; a failed group commit undoes the whole group and the
engine carries on from the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from engine.core import EngineCore
from engine.store import Commit, StateStore, StoreUnavailable
from matching import Offer, Request
from matching.deployment import Deployment
from matching.dispatcher import Dispatcher
from matching.errors import NotFoundError
from mobility import REPO_ROOT, default_data_dir

T = 8 * 3600
#: (origin stop, destination stop) of the test requests on the Jamsil stops.
TRIPS = [(3, 20), (5, 9), (10, 30), (12, 25), (4, 22), (7, 15)]


@pytest.fixture(scope="module")
def jamsil() -> Deployment:
    return Deployment.from_toml(REPO_ROOT / "scenarios" / "imod_jamsil.toml", data_dir=default_data_dir())


class CountingStore:
    """Wraps a store's ``commit``: counts commits and can be told to fail the next one."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.commits: list[Commit] = []
        self.fail_next = False
        self._commit = store.commit
        store.commit = self.commit  # type: ignore[method-assign]

    def commit(self, commit: Commit) -> dict[str, list[str]]:
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailable("test: the store is down for this commit")
        self.commits.append(commit)
        return self._commit(commit)


@pytest.fixture
def core(jamsil: Deployment, store: StateStore) -> Iterator[EngineCore]:
    c = EngineCore(jamsil, store, clock="external", seed=1)
    c.start()
    yield c
    c.stop()


def offer(core: EngineCore, request_id: str, trip: tuple[int, int]) -> Offer:
    answer = core.quote(
        Request(id=request_id, requested_time_s=T, submitted_time_s=T, origin_stop=trip[0], destination_stop=trip[1]),
        T,
    )
    if not isinstance(answer, Offer):
        pytest.fail(f"setup: request {request_id} was rejected: {answer}")
    return answer


def run_group(
    core: EngineCore,
    fns: list[Callable[[Dispatcher], Any]],
    before_release: Callable[[list[Future[Any]]], None] | None = None,
) -> list[Future[Any]]:
    """Hold the writer, queue ``fns`` (changing commands) in this order behind it, let it go.

    Returns their futures, answered by the writer; ``before_release`` sees them first.
    """
    release, holding = threading.Event(), threading.Event()

    def hold(_: Dispatcher) -> None:
        holding.set()
        release.wait(10)

    blocker = threading.Thread(target=lambda: core.call(hold, mutate=False), daemon=True)
    blocker.start()
    assert holding.wait(10), "the writer never ran the holding command"
    futures: list[Future[Any]] = []
    for fn in fns:
        futures.append(core.submit(fn))
    if before_release is not None:
        before_release(futures)
    release.set()
    blocker.join(10)
    return futures


def booking(o: Offer) -> Callable[[Dispatcher], str]:
    return lambda d: d.book(o.offer_id, T).ride_id


def test_queued_bookings_are_committed_together_and_answered_after(core: EngineCore) -> None:
    offers = [offer(core, f"g{k}", trip) for k, trip in enumerate(TRIPS)]
    counting = CountingStore(core.store)
    answered_before_commit: list[bool] = []

    def watch(futures: list[Future[Any]]) -> None:
        for fut in futures:
            fut.add_done_callback(lambda _f: answered_before_commit.append(not counting.commits))

    futures = run_group(core, [booking(o) for o in offers], watch)
    ride_ids = [fut.result(10) for fut in futures]

    assert len(set(ride_ids)) == len(offers)
    assert len(counting.commits) == 1, f"{len(counting.commits)} commits for one group of {len(offers)} bookings"
    assert answered_before_commit == [False] * len(offers), "a caller was answered before the commit"
    stored = core.store.load()
    assert set(ride_ids) <= set(stored.rides)
    for rid in ride_ids:
        assert stored.rides[rid]["status"] == "assigned"
    # The stored meta is the newest of the group: the engine restarted on it numbers offers on.
    assert int(stored.meta["offer_seq"]) == core.call(lambda d: d.offer_seq, mutate=False)


@pytest.mark.parametrize("error", [RuntimeError, StoreUnavailable])
def test_a_failing_command_in_a_group_leaves_no_trace_and_the_others_stand(
    core: EngineCore, error: type[Exception]
) -> None:
    first, doomed, last = (offer(core, f"h{k}", TRIPS[k]) for k in range(3))

    def book_then_fail(d: Dispatcher) -> None:
        d.book(doomed.offer_id, T)  # the plan changes...
        raise error("test: the command fails after changing the plan")

    futures = run_group(core, [booking(first), book_then_fail, booking(last)])
    first_id = futures[0].result(10)
    with pytest.raises(error, match="after changing the plan"):
        futures[1].result(10)
    last_id = futures[2].result(10)

    stored = core.store.load()
    assert first_id in stored.rides and last_id in stored.rides
    assert doomed.request_id not in stored.rides
    with pytest.raises(NotFoundError):
        core.get_ride(doomed.request_id)
    in_plans = core.call(lambda d: {r.ride_id for r in d.rides.values() if r.status.value == "assigned"}, mutate=False)
    assert {first_id, last_id} <= in_plans and doomed.request_id not in in_plans


def test_a_failed_group_commit_undoes_the_whole_group(core: EngineCore) -> None:
    kept = core.book(offer(core, "k0", TRIPS[0]).offer_id, "", T)
    a, b = offer(core, "k1", TRIPS[1]), offer(core, "k2", TRIPS[2])
    counting = CountingStore(core.store)
    counting.fail_next = True

    futures = run_group(core, [booking(a), booking(b)])
    for fut in futures:
        with pytest.raises(StoreUnavailable):
            fut.result(10)

    stored = core.store.load()
    assert set(stored.rides) == {kept["ride_id"]}
    for rid in ("k1", "k2"):
        with pytest.raises(NotFoundError):
            core.get_ride(rid)
    assert core.get_ride(kept["ride_id"]) == kept
    # The engine carries on from the store: a new booking is committed and kept.
    later = core.book(offer(core, "k3", TRIPS[3]).offer_id, "", T)
    assert later["ride_id"] in core.store.load().rides


def test_the_writer_pauses_only_for_a_stream_that_is_behind(core: EngineCore, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stream, or a stream that keeps up or stopped reading: no pause; a stream behind: pauses."""
    import engine.writer
    from engine.streams import STUCK_BACKLOG

    pauses: list[int] = []
    monkeypatch.setattr(engine.writer, "pause", lambda: pauses.append(1))
    for k, trip in enumerate(TRIPS[:2]):  # nobody watches
        core.book(offer(core, f"quiet-{k}", trip).offer_id)
    assert not pauses and not core.stream_backlog()

    sub = core.subscribe("assignments")
    try:
        core.book(offer(core, "watched-0", TRIPS[2]).offer_id)  # nobody reads: the stream is behind
        assert 0 < sub.items.qsize() <= STUCK_BACKLOG
        assert core.stream_backlog() and pauses
        while not sub.items.empty():  # the reader catches up
            sub.items.get_nowait()
        assert not core.stream_backlog()
        for k in range(STUCK_BACKLOG + 1):  # a reader that stopped long ago
            sub.items.put_nowait((f"0-{k}", {}))
        pauses.clear()
        core.book(offer(core, "watched-1", TRIPS[3]).offer_id)
        assert not core.stream_backlog() and not pauses
    finally:
        core.unsubscribe(sub)


def test_the_engine_does_not_keep_the_dispatchers_events(core: EngineCore) -> None:
    """Events go to the store and the streams; the dispatcher's list stays empty between commands."""
    for k, trip in enumerate(TRIPS[:3]):
        core.book(offer(core, f"kept-{k}", trip).offer_id)
    assert core.dispatcher.events == []
    kinds = [payload["kind"] for _, payload in core.history("assignments", "0-0")]
    assert kinds.count("offer") == 3 and kinds.count("booking") == 3 and kinds.count("assignment") == 3


def test_an_observer_hears_each_stage_and_commit_of_the_writer(core: EngineCore) -> None:
    """The hook a benchmark times the writer with: a booking's stage and commit, and the store's
    commit within the commit, each with its duration and the commit."""
    heard: list[tuple[str, float, Commit]] = []
    core.observe(lambda step, seconds, commit: heard.append((step, seconds, commit)))
    ride = core.book(offer(core, "observed", TRIPS[4]).offer_id)
    steps = [step for step, _, _ in heard]
    assert steps == ["stage", "store", "commit"] * 2  # the quote, then the booking
    assert all(seconds >= 0 for _, seconds, _ in heard)
    assert ride["ride_id"] in heard[-1][2].rides


def test_every_operation_is_a_method_of_the_core_and_a_command_by_name(core: EngineCore) -> None:
    from engine.operations import OPERATIONS

    for name, op in OPERATIONS.items():
        assert getattr(EngineCore, name) is op, f"EngineCore.{name} is not the operation {name}"
    assert core.command("get_ride", "nobody").exception(10) is not None  # queued by name: NotFoundError
    with pytest.raises(ValueError, match="unknown engine operation"):
        core.command("_stage")
