"""The state store contract, run on both stores, and what only Redis adds (crashes, restarts).

Tests that take the ``store`` fixture run twice: on :class:`MemoryStore` and on a
:class:`RedisStore` backed by the session's real ``redis-server`` (see ``conftest.py``). The
Redis-only tests kill that server with SIGKILL and start it again on the same AOF, to check
that commits are atomic and durable across a crash.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from engine.redis_store import RedisStore
from engine.store import (
    Commit,
    MemoryStore,
    Snapshot,
    StateStore,
    StoreError,
    StoreUnavailable,
    event_id_key,
    open_store,
)

if TYPE_CHECKING:
    from tests.engine.certs import TLSFiles
    from tests.engine.conftest import RedisServer

EVENT_ID = re.compile(r"^\d+-\d+$")


def ride(ride_id: str, **extra: Any) -> dict[str, Any]:
    """A ride record in the shape the engine writes (the store does not care about the shape)."""
    record: dict[str, Any] = {"id": ride_id, "status": "booked", "passengers": 1, "pickup_stop": 17}
    record.update(extra)
    return record


def assert_increasing(ids: list[str]) -> None:
    assert all(EVENT_ID.match(eid) for eid in ids), ids
    keys = [event_id_key(eid) for eid in ids]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), ids


def read_all(store: StateStore, topic: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of ``topic``, paging with ``after`` as a consumer would."""
    events: list[tuple[str, dict[str, Any]]] = []
    after: str | None = None
    while page := store.read_events(topic, after=after, count=7):
        events.extend(page)
        after = page[-1][0]
    return events


# ---------------------------------------------------------------------------- records
def test_round_trip_of_nested_json(store: StateStore) -> None:
    rides = {
        "r1": ride(
            "r1",
            fare_krw=1450,
            detour=1.2345678901234567,
            tiny=1e-300,
            negative=-0.5,
            cancelled_at=None,
            shared=True,
            stops=[{"stop": 3, "eta_s": 28_800}, {"stop": 9, "eta_s": 29_100, "tags": []}],
            note="잠실역 → 종합운동장, café ☕",
            matrix=[[1, 2], [3, [4, None]]],
            empty={},
        ),
        "라이드-2": ride("라이드-2", big=2**62, note="ünïcödé"),
        "empty": {},
    }
    vehicles = {
        "v1": {"id": "v1", "capacity": 4, "position": [37.51, 127.1], "schedule": [{"ride": "r1", "kind": "pickup"}]},
        "v:2": {"id": "v:2", "capacity": 6, "schedule": []},
    }
    store.commit(Commit(rides=rides, vehicles=vehicles, meta={"clock_s": "28800", "offer_counter": "12"}))
    snapshot = store.load()
    assert snapshot == Snapshot(rides=rides, vehicles=vehicles, meta={"clock_s": "28800", "offer_counter": "12"})
    assert snapshot.rides["r1"]["detour"] == 1.2345678901234567  # floats exact, not rounded


def test_upsert_replaces_the_whole_record(store: StateStore) -> None:
    store.commit(Commit(rides={"r1": ride("r1", offer={"fare": 1450})}, vehicles={"v1": {"id": "v1", "x": 1}}))
    store.commit(Commit(rides={"r1": {"id": "r1", "status": "onboard"}}, vehicles={"v1": {"id": "v1"}}))
    snapshot = store.load()
    assert snapshot.rides == {"r1": {"id": "r1", "status": "onboard"}}  # keys not in the new record are gone
    assert snapshot.vehicles == {"v1": {"id": "v1"}}
    store.commit(Commit(rides={"r1": {}}))
    assert store.load().rides == {"r1": {}}


def test_deleted_rides_leave_the_store(store: StateStore) -> None:
    store.commit(Commit(rides={rid: ride(rid) for rid in ("r1", "r2", "r3")}))
    store.commit(Commit(deleted_rides=["r2", "never-stored"]))
    assert set(store.load().rides) == {"r1", "r3"}
    # Deletions apply after the upserts of the same commit.
    store.commit(Commit(rides={"r4": ride("r4"), "r1": ride("r1", status="done")}, deleted_rides=["r1", "r3"]))
    assert store.load().rides == {"r4": ride("r4")}


def test_meta_values_are_set_and_others_kept(store: StateStore) -> None:
    store.commit(Commit(meta={"clock_s": "100", "offer_counter": "1"}))
    store.commit(Commit(meta={"clock_s": "160"}))
    assert store.load().meta == {"clock_s": "160", "offer_counter": "1"}


def test_empty_commit_changes_nothing(store: StateStore) -> None:
    assert Commit().empty
    assert store.commit(Commit()) == {}
    assert store.load() == Snapshot(rides={}, vehicles={}, meta={})


# ---------------------------------------------------------------------------- events
def test_events_keep_their_order_per_topic_and_commit_returns_their_ids(store: StateStore) -> None:
    events: list[tuple[str, dict[str, Any]]] = [
        ("rider", {"kind": "offer", "ride": "r1"}),
        ("driver", {"kind": "stop_added", "vehicle": "v1"}),
        ("rider", {"kind": "booked", "ride": "r1", "eta_s": 28_900}),
        ("operator", {"kind": "kpi", "values": [1.5, None]}),
        ("rider", {"kind": "pickup", "ride": "r1"}),
    ]
    ids = store.commit(Commit(events=events))
    assert sorted(ids) == ["driver", "operator", "rider"]
    assert [len(ids[t]) for t in ("driver", "operator", "rider")] == [1, 1, 3]
    assert_increasing(ids["rider"])
    for topic in ids:
        assert store.read_events(topic) == list(
            zip(ids[topic], (event for t, event in events if t == topic), strict=True)
        )
        assert store.last_event_id(topic) == ids[topic][-1]


def test_event_ids_increase_across_many_quick_commits(store: StateStore) -> None:
    ids: list[str] = []
    for i in range(60):  # several commits land in one millisecond: the sequence number counts on
        ids += store.commit(Commit(events=[("rider", {"i": i}), ("rider", {"i": i, "second": True})]))["rider"]
    assert_increasing(ids)
    assert [eid for eid, _ in read_all(store, "rider")] == ids


def test_read_events_after_an_id_and_count(store: StateStore) -> None:
    ids: list[str] = []
    for i in range(25):
        ids += store.commit(Commit(events=[("rider", {"i": i})]))["rider"]
    assert [e["i"] for _, e in store.read_events("rider")] == list(range(25))
    assert [eid for eid, _ in store.read_events("rider", after=ids[9], count=5)] == ids[10:15]
    assert [e["i"] for _, e in store.read_events("rider", count=3)] == [0, 1, 2]
    assert store.read_events("rider", after=ids[-1]) == []
    # An id between stored ones, or before every one of them, works as a bound too.
    ms, _ = event_id_key(ids[0])
    assert store.read_events("rider", after=f"{ms - 1}-{2**64 - 1}", count=1)[0][0] == ids[0]
    assert store.read_events("rider", after="0-0", count=2)[1][0] == ids[1]
    assert [eid for eid, _ in read_all(store, "rider")] == ids


def test_topics_are_independent(store: StateStore) -> None:
    assert store.last_event_id("rider") is None
    assert store.read_events("rider") == []
    store.commit(Commit(events=[("rider", {"n": 1}), ("driver", {"n": 2})]))
    store.commit(Commit(events=[("driver", {"n": 3})]))
    assert [e for _, e in store.read_events("rider")] == [{"n": 1}]
    assert [e for _, e in store.read_events("driver")] == [{"n": 2}, {"n": 3}]
    assert store.read_events("operator") == [] and store.last_event_id("operator") is None
    assert store.last_event_id("driver") == store.read_events("driver")[-1][0]


def test_read_events_checks_its_arguments(store: StateStore) -> None:
    with pytest.raises(ValueError, match="count must be a positive integer"):
        store.read_events("rider", count=0)
    with pytest.raises(ValueError, match="<ms>-<seq>"):
        store.read_events("rider", after="yesterday")


def test_event_id_key_orders_numerically() -> None:
    assert event_id_key("1700000000000-3") == (1_700_000_000_000, 3)
    assert event_id_key("9-0") < event_id_key("10-0") < event_id_key("10-1")
    for bad in ("", "12", "a-1", "1-", "-1", "1-2-3", "1.5-0"):
        with pytest.raises(ValueError, match="<ms>-<seq>"):
            event_id_key(bad)


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_streams_are_capped(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "memory":
        store: StateStore = MemoryStore(stream_maxlen=10)
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        store = RedisStore(server.url, prefix="capped:", stream_maxlen=10)
    try:
        ids = store.commit(Commit(events=[("rider", {"i": i}) for i in range(500)]))["rider"]
        kept = read_all(store, "rider")
        # Approximate caps (Redis trims whole nodes of 100 entries): at least 10, far fewer than 500.
        assert 10 <= len(kept) <= 150
        assert [eid for eid, _ in kept] == ids[-len(kept) :]
        assert store.last_event_id("rider") == ids[-1]
    finally:
        store.close()


# ---------------------------------------------------------------------------- atomicity, aliasing
@pytest.mark.parametrize(
    ("bad_commit", "error", "match"),
    [
        (Commit(vehicles={"v9": {"id": "v9", "when": object()}}), TypeError, "vehicle 'v9' field 'when'"),
        (Commit(rides={"r9": ride("r9", detour=math.nan)}), ValueError, "ride 'r9' field 'detour'"),
        (Commit(events=[("rider", {"ok": 1}), ("rider", {"bad": {1, 2}})]), TypeError, "event 2 of topic 'rider'"),
        (Commit(meta={"clock_s": 160}), TypeError, "meta value 'clock_s'"),  # type: ignore[dict-item]
        (Commit(rides={"r9": {1: "x"}}), TypeError, "non-string key"),  # type: ignore[dict-item]
        (Commit(deleted_rides=[""]), TypeError, "deleted ride id"),
    ],
)
def test_a_commit_that_cannot_be_encoded_changes_nothing(
    store: StateStore, bad_commit: Commit, error: type[Exception], match: str
) -> None:
    store.commit(Commit(rides={"r1": ride("r1")}, meta={"clock_s": "100"}, events=[("rider", {"i": 0})]))
    before, last = store.load(), store.last_event_id("rider")
    # The bad part comes after good parts (a ride, an event, a deletion), which must not land either.
    bad_commit = copy.deepcopy(bad_commit)  # the parameters are shared by both stores' runs
    bad_commit.rides.setdefault("r2", ride("r2"))
    bad_commit.deleted_rides.append("r1")
    bad_commit.events.insert(0, ("driver", {"i": 1}))
    with pytest.raises(error, match=re.escape(match)):
        store.commit(bad_commit)
    assert store.load() == before
    assert store.last_event_id("rider") == last
    assert store.last_event_id("driver") is None


def test_nothing_aliases_the_callers_objects(store: StateStore) -> None:
    record = ride("r1", stops=[{"stop": 3}])
    event: dict[str, Any] = {"kind": "booked", "stops": [3, 9]}
    commit = Commit(rides={"r1": record}, vehicles={"v1": {"schedule": [1]}}, events=[("rider", event)])
    store.commit(commit)
    record["stops"][0]["stop"] = 99
    record["status"] = "changed"
    event["stops"].append(12)
    commit.vehicles["v1"]["schedule"].append(2)
    snapshot = store.load()
    assert snapshot.rides["r1"] == ride("r1", stops=[{"stop": 3}])
    assert snapshot.vehicles["v1"] == {"schedule": [1]}
    snapshot.rides["r1"]["stops"].clear()
    snapshot.meta["clock_s"] = "1"
    read = store.read_events("rider")
    read[0][1]["stops"].clear()
    assert store.load() == Snapshot(
        rides={"r1": ride("r1", stops=[{"stop": 3}])}, vehicles={"v1": {"schedule": [1]}}, meta={}
    )
    assert store.read_events("rider")[0][1] == {"kind": "booked", "stops": [3, 9]}


def test_concurrent_commits_all_land(store: StateStore) -> None:
    num_threads, per_thread = 4, 25
    returned: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            mine: list[str] = []
            for i in range(per_thread):
                rid = f"r{t}-{i}"
                ids = store.commit(
                    Commit(rides={rid: ride(rid)}, meta={f"thread{t}": str(i)}, events=[("all", {"t": t, "i": i})])
                )
                mine += ids["all"]
            returned[t] = mine
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(num_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    snapshot = store.load()
    assert set(snapshot.rides) == {f"r{t}-{i}" for t in range(num_threads) for i in range(per_thread)}
    assert snapshot.meta == {f"thread{t}": str(per_thread - 1) for t in range(num_threads)}
    events = read_all(store, "all")
    assert_increasing([eid for eid, _ in events])
    assert sorted(eid for ids in returned.values() for eid in ids) == sorted(eid for eid, _ in events)
    for t in range(num_threads):  # each thread's events in its own order
        assert [e["i"] for _, e in events if e["t"] == t] == list(range(per_thread))


# ---------------------------------------------------------------------------- lifecycle, factory
def test_ping_and_name(store: StateStore, request: pytest.FixtureRequest) -> None:
    assert store.ping() is True
    if isinstance(store, MemoryStore):
        assert store.name == "memory"
    else:
        tls = "TLS" in request.node.callspec.id
        server: RedisServer = request.getfixturevalue("redis_tls_server" if tls else "redis_server")
        assert store.name == f"{'rediss' if tls else 'redis'}://127.0.0.1:{server.port}/0"
        if server.password:  # never in the name or the repr (logs show both)
            assert server.password not in store.name and server.password not in repr(store)


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_open_store_forms(kind: str, request: pytest.FixtureRequest) -> None:
    if kind == "memory":
        store = open_store("memory")
        assert isinstance(store, MemoryStore) and store.name == "memory"
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        store = open_store(f"redis://127.0.0.1:{server.port}/3")
        assert isinstance(store, RedisStore) and store.name == f"redis://127.0.0.1:{server.port}/3"
        assert open_store(f"redis://127.0.0.1:{server.port}").name == f"redis://127.0.0.1:{server.port}/0"
        assert open_store("redis://:secret@localhost:6390/1").name == "redis://localhost:6390/1"  # no password
    try:
        assert store.ping()
        store.commit(Commit(meta={"clock_s": "5"}))
        assert store.load().meta["clock_s"] == "5"
    finally:
        store.close()


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "Memory",
        "memory ",
        "redis",
        "redis://",
        "redis://host:notaport",
        "redis://host:6379/zero",
        "http://h:1",
        "rediss://",
        "rediss://h:1/x",
        "mongodb://x",
    ],
)
def test_open_store_refuses_other_forms(spec: str) -> None:
    forms = r'--store must be "memory", "redis://host:port\[/db\]" or "rediss://host:port\[/db\]" \(Redis over TLS\)'
    with pytest.raises(ValueError, match=forms):
        open_store(spec)


# ---------------------------------------------------------------------------- Redis only
def test_redis_key_layout(redis_store: RedisStore, redis_server: RedisServer) -> None:
    p = redis_store.prefix
    ids = redis_store.commit(
        Commit(
            rides={"r1": ride("r1"), "r2": ride("r2")},
            vehicles={"v1": {"id": "v1", "schedule": [{"stop": 3}]}},
            meta={"clock_s": "7"},
            events=[("rider", {"kind": "offer"})],
        )
    )
    redis_store.commit(Commit(deleted_rides=["r2"]))
    with redis_server.client() as raw:
        assert raw.type(f"{p}ride:r1") == "hash"
        assert raw.hgetall(f"{p}ride:r1") == {
            "id": '"r1"',
            "status": '"booked"',
            "passengers": "1",
            "pickup_stop": "17",
        }
        assert raw.hgetall(f"{p}vehicle:v1") == {"id": '"v1"', "schedule": '[{"stop":3}]'}
        assert raw.smembers(f"{p}rides") == {"r1"} and raw.smembers(f"{p}vehicles") == {"v1"}
        assert not raw.exists(f"{p}ride:r2")
        assert raw.hgetall(f"{p}meta") == {"clock_s": "7"}
        assert raw.type(f"{p}events:rider") == "stream"
        assert raw.xrange(f"{p}events:rider") == [(ids["rider"][0], {"data": '{"kind":"offer"}'})]
        assert raw.get(f"{p}commits") == "2"
        assert set(raw.keys("*")) == {
            f"{p}{key}" for key in ("ride:r1", "vehicle:v1", "rides", "vehicles", "meta", "events:rider", "commits")
        }


def test_redis_prefixes_keep_stores_apart(redis_store: RedisStore, redis_server: RedisServer) -> None:
    other = RedisStore(redis_server.url, prefix="other:")
    try:
        redis_store.commit(Commit(rides={"r1": ride("r1")}, events=[("rider", {"n": 1})]))
        assert other.load() == Snapshot(rides={}, vehicles={}, meta={})
        assert other.last_event_id("rider") is None
    finally:
        other.close()


def test_redis_keeps_every_commit_across_a_crash(redis_store: RedisStore, redis_server: RedisServer) -> None:
    with redis_server.client() as raw:  # what makes every acknowledged commit durable
        assert raw.config_get("appendonly") == {"appendonly": "yes"}
        assert raw.config_get("appendfsync") == {"appendfsync": "always"}
    ids: list[str] = []
    for i in range(20):
        ids += redis_store.commit(
            Commit(rides={f"r{i}": ride(f"r{i}", i=i)}, meta={"clock_s": str(i)}, events=[("rider", {"i": i})])
        )["rider"]
    redis_store.commit(Commit(vehicles={"v1": {"schedule": [{"ride": "r3"}]}}, deleted_rides=["r0"]))
    before = redis_store.load()

    redis_server.kill()  # SIGKILL: no shutdown, nothing flushed on the way out
    redis_server.start()
    reopened = RedisStore(redis_server.url, prefix=redis_store.prefix)
    try:
        assert reopened.load() == before
        assert [eid for eid, _ in read_all(reopened, "rider")] == ids
        assert reopened.last_event_id("rider") == ids[-1]
        later = reopened.commit(Commit(events=[("rider", {"i": 20})]))["rider"][0]
        assert event_id_key(later) > event_id_key(ids[-1])
    finally:
        reopened.close()


def test_redis_crash_in_a_sequence_of_commits_leaves_whole_commits(
    redis_store: RedisStore, redis_server: RedisServer
) -> None:
    """Kill the server while a thread commits; after the AOF replay each commit is all there or absent."""
    rides_per_commit, events_per_commit = 30, 3
    acknowledged = 0
    failure: list[BaseException] = []
    stop = threading.Event()

    def commit_forever() -> None:
        nonlocal acknowledged
        for i in range(100_000):
            if stop.is_set():
                return
            commit = Commit(
                rides={f"r{i}-{k}": ride(f"r{i}-{k}", i=i, k=k, pad="x" * 200) for k in range(rides_per_commit)},
                vehicles={"v1": {"last_commit": i, "schedule": list(range(i % 50))}},
                deleted_rides=[f"r{i - 1}-0"] if i else [],
                meta={"seq": str(i)},
                events=[("rider", {"i": i, "j": j}) for j in range(events_per_commit)],
            )
            try:
                redis_store.commit(commit)
            except StoreUnavailable:
                return
            except BaseException as exc:
                failure.append(exc)
                return
            acknowledged = i + 1

    writer = threading.Thread(target=commit_forever)
    writer.start()
    deadline = time.monotonic() + 10
    while acknowledged < 20 and writer.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    redis_server.kill()
    stop.set()
    writer.join(timeout=10)
    assert not failure, failure
    assert acknowledged >= 20, "the writer did not get going before the kill"
    redis_server.start()

    reopened = RedisStore(redis_server.url, prefix=redis_store.prefix)
    try:
        snapshot = reopened.load()
        events = read_all(reopened, "rider")
    finally:
        reopened.close()
    # n commits survived: every acknowledged one, plus perhaps the one in flight at the kill.
    n = int(snapshot.meta["seq"]) + 1
    assert n in (acknowledged, acknowledged + 1)
    expected_rides = {f"r{i}-{k}" for i in range(n) for k in range(rides_per_commit)} - {
        f"r{i}-0" for i in range(n - 1)
    }
    assert set(snapshot.rides) == expected_rides
    for rid, record in snapshot.rides.items():
        i, k = (int(part) for part in rid[1:].split("-"))
        assert record == ride(rid, i=i, k=k, pad="x" * 200)
    assert snapshot.vehicles["v1"] == {"last_commit": n - 1, "schedule": list(range((n - 1) % 50))}
    assert [(e["i"], e["j"]) for _, e in events] == [(i, j) for i in range(n) for j in range(events_per_commit)]


def appended_log(server: RedisServer) -> Path:
    """The AOF file the server appends to: the newest incremental file (Redis 7+) or appendonly.aof."""
    logs = list((server.dir / "appendonlydir").glob("*.incr.aof")) or [server.dir / "appendonly.aof"]
    return max(logs, key=lambda path: path.stat().st_mtime_ns)


def test_redis_drops_a_commit_torn_at_the_end_of_its_log(redis_store: RedisStore, redis_server: RedisServer) -> None:
    """A crash that cuts the AOF inside the last MULTI/EXEC block: on restart that commit is gone, whole."""
    for i in range(5):
        redis_store.commit(Commit(rides={f"r{i}": ride(f"r{i}")}, meta={"seq": str(i)}, events=[("rider", {"i": i})]))
    before = redis_store.load()
    log = appended_log(redis_server)
    size_before = log.stat().st_size
    redis_store.commit(
        Commit(
            rides={f"late{k}": ride(f"late{k}") for k in range(10)},
            vehicles={"v1": {"schedule": []}},
            deleted_rides=["r0"],
            meta={"seq": "5"},
            events=[("rider", {"i": 5}), ("driver", {"i": 5})],
        )
    )
    redis_server.kill()
    content = log.read_bytes()
    assert len(content) > size_before and b"MULTI" in content[size_before:]
    log.write_bytes(content[: (size_before + len(content)) // 2])  # cut halfway into the last commit

    redis_server.start()  # aof-load-truncated (the default) drops the incomplete transaction
    reopened = RedisStore(redis_server.url, prefix=redis_store.prefix)
    try:
        assert reopened.load() == before
        assert [e for _, e in reopened.read_events("rider")] == [{"i": i} for i in range(5)]
        assert reopened.last_event_id("driver") is None
        with redis_server.client() as raw:  # not even an unindexed hash of the torn commit is left
            assert raw.keys(f"{redis_store.prefix}ride:late*") == []
            assert raw.get(f"{redis_store.prefix}commits") == "5"
        reopened.commit(Commit(meta={"seq": "5"}))  # and the store takes commits again
        assert reopened.load().meta["seq"] == "5"
    finally:
        reopened.close()
    log_text = redis_server.log.read_text(errors="replace")  # the server saw the torn end and cut it off
    assert "aof-load-truncated" in log_text or "Revert incomplete MULTI/EXEC" in log_text


def test_redis_down_raises_store_unavailable_then_recovers(redis_store: RedisStore, redis_server: RedisServer) -> None:
    event_id = redis_store.commit(Commit(rides={"r1": ride("r1")}, events=[("rider", {"n": 1})]))["rider"][0]
    redis_server.kill()
    try:
        assert redis_store.ping() is False
        where = f"127.0.0.1:{redis_server.port}"
        calls = {
            "commit": lambda: redis_store.commit(Commit(rides={"r2": ride("r2")})),
            "load": redis_store.load,
            "reading events": lambda: redis_store.read_events("rider"),
            "last event id": lambda: redis_store.last_event_id("rider"),
        }
        for what, call in calls.items():
            with pytest.raises(StoreUnavailable, match=re.escape(where)) as info:
                call()
            assert what in str(info.value)
    finally:
        redis_server.start()
    assert redis_store.ping() is True
    assert redis_store.load().rides == {"r1": ride("r1")}  # the failed commit left nothing
    assert redis_store.read_events("rider") == [(event_id, {"n": 1})]
    redis_store.commit(Commit(rides={"r2": ride("r2")}))
    assert set(redis_store.load().rides) == {"r1", "r2"}


def test_redis_unresponsive_server_times_out() -> None:
    """A server that accepts connections but never answers: StoreUnavailable after the socket timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nothing ever reads or replies
        port = silent.getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}", socket_timeout_s=0.2, connect_timeout_s=0.2)
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable, match=rf"127\.0\.0\.1:{port} is unavailable: load failed"):
                store.load()
            assert time.monotonic() - started < 2
            assert store.ping() is False
        finally:
            store.close()


# ---------------------------------------------------------------------------- Redis over TLS, passwords
def test_redis_over_tls_refuses_what_it_should(redis_tls_server: RedisServer, tls_files: TLSFiles) -> None:
    """The session's TLS Redis (client certificates required, a password): each missing or wrong
    piece fails clearly, a refused password as StoreError (waiting will not help), and no error
    message or name shows the password."""
    from engine.store import RedisAccess

    url, password = redis_tls_server.url, redis_tls_server.password
    assert password
    good = redis_tls_server.access
    cases = {
        "no password": (dataclasses.replace(good, password=None), StoreError, "refused the credentials"),
        "wrong password": (
            dataclasses.replace(good, password="not-" + password),
            StoreError,
            "refused the credentials",
        ),
        "no client certificate": (
            dataclasses.replace(good, tls_cert=None, tls_key=None),
            StoreUnavailable,
            f"127.0.0.1:{redis_tls_server.port} is unavailable",
        ),
        "another CA": (dataclasses.replace(good, tls_ca=tls_files.other_ca), StoreUnavailable, "CERTIFICATE_VERIFY"),
    }
    for case, (access, error, message) in cases.items():
        store = RedisStore(url, access=access, socket_timeout_s=2, connect_timeout_s=2)
        try:
            assert store.ping() is False, case
            with pytest.raises(error, match=message) as info:
                store.load()
            assert error is StoreUnavailable or not isinstance(info.value, StoreUnavailable), case
            assert password not in str(info.value) and "not-" not in str(info.value), case
        finally:
            store.close()
    plaintext = RedisStore(f"redis://127.0.0.1:{redis_tls_server.port}/0", access=RedisAccess(password),
                           socket_timeout_s=2, connect_timeout_s=2)  # fmt: skip
    try:
        with pytest.raises(StoreUnavailable):
            plaintext.load()
    finally:
        plaintext.close()
    store = RedisStore(url, access=good)
    try:
        assert store.ping() and store.name == f"rediss://127.0.0.1:{redis_tls_server.port}/0"
        assert password not in repr(store) and password not in repr(good)
    finally:
        store.close()


def test_redis_access_that_cannot_work_is_refused_at_once(tls_files: TLSFiles) -> None:
    from engine.store import RedisAccess

    with pytest.raises(ValueError, match="need a rediss:// URL"):
        RedisStore("redis://127.0.0.1:6379", access=RedisAccess(tls_ca=tls_files.ca))
    with pytest.raises(ValueError, match="password is given twice") as info:
        RedisStore("redis://:hunter2@127.0.0.1:6379", access=RedisAccess("hunter2"))
    assert "hunter2" not in str(info.value)
    with pytest.raises(ValueError, match=r"need a rediss:// URL, got 'redis://:\*\*\*@h:1'") as info:
        RedisStore("redis://:hunter2@h:1", access=RedisAccess(tls_cert=tls_files.client_cert))
    assert "hunter2" not in str(info.value)


# ---------------------------------------------------------------------------- retention (personal data)
class FakeClock:
    """A store clock (epoch ms) that the test moves; it starts at the wall clock's now."""

    def __init__(self) -> None:
        self.ms = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.ms


@pytest.fixture(params=["memory", "redis", "redis, TLS"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[..., StateStore]]:
    """``make_store(retention_s=..., clock=...)``: a fresh store of each kind (as ``store``) with those options."""
    made: list[StateStore] = []
    server: RedisServer | None = None
    if request.param != "memory":
        server = request.getfixturevalue("redis_tls_server" if "TLS" in request.param else "redis_server")
        if not server.running:  # an earlier test killed it and failed before starting it again
            server.start()
        with server.client() as client:
            client.flushdb()

    def make(**options: Any) -> StateStore:
        if server is None:
            store: StateStore = MemoryStore(**options)
        else:
            store = RedisStore(server.url, access=server.access, prefix=f"kept:{uuid.uuid4().hex[:8]}:", **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_ended_rides_are_forgotten_after_the_retention(make_store: Callable[..., StateStore]) -> None:
    clock = FakeClock()
    store = make_store(retention_s=3600, clock=clock)
    ended = ride("ended", status="cancelled", rider_id="alice")
    store.commit(Commit(rides={"open": ride("open"), "ended": ended, "again": ride("again", status="completed")},
                        expire_rides=["ended", "again"]))  # fmt: skip
    clock.ms += 1000
    store.commit(Commit(rides={"again": ride("again", status="completed", note="rewritten")}))  # no expiry now
    clock.ms += 3600_000 - 1000 - 1
    assert set(store.load().rides) == {"open", "ended", "again"}  # one millisecond before its time
    clock.ms += 1
    assert store.load().rides == {"open": ride("open"), "again": ride("again", status="completed", note="rewritten")}
    store.commit(Commit(meta={"clock_s": "1"}))  # a commit sweeps what is due
    clock.ms += 365 * 86_400_000
    assert set(store.load().rides) == {"open", "again"}  # the others never expire
    store.commit(Commit(rides={"ended": ride("ended")}))  # the id is free again: a new record
    assert store.load().rides["ended"] == ride("ended")


def test_without_a_retention_ended_rides_stay(make_store: Callable[..., StateStore]) -> None:
    clock = FakeClock()
    store = make_store(clock=clock)
    store.commit(Commit(rides={"ended": ride("ended", status="no_show")}, expire_rides=["ended"]))
    clock.ms += 10 * 365 * 86_400_000
    assert set(store.load().rides) == {"ended"}


def test_expire_rides_names_rides_of_the_commit(make_store: Callable[..., StateStore]) -> None:
    store = make_store(retention_s=60)
    with pytest.raises(ValueError, match="expire_rides names ride 'elsewhere'"):
        store.commit(Commit(rides={"r1": ride("r1")}, expire_rides=["elsewhere"]))
    assert store.load().rides == {}  # refused before anything was written


def test_events_older_than_the_retention_are_dropped(make_store: Callable[..., StateStore]) -> None:
    """Real time (Redis stamps event ids with its own clock): a retention of one second."""
    store = make_store(retention_s=1.0)
    old = store.commit(Commit(events=[("a", {"i": 0}), ("a", {"i": 1}), ("b", {"i": 2})]))
    assert [e["i"] for _, e in store.read_events("a")] == [0, 1]
    time.sleep(1.1)
    assert store.read_events("a") == [] and store.read_events("a", after=old["a"][0]) == []
    assert store.last_event_id("a") is None and store.last_event_id("b") is None
    new = store.commit(Commit(events=[("a", {"i": 3})]))["a"]
    assert store.read_events("a") == [(new[0], {"i": 3})] and store.last_event_id("a") == new[0]
    assert store.read_events("a", after="0-0") == [(new[0], {"i": 3})]


def test_redis_expires_an_ended_ride_and_its_events_by_itself(redis_server: RedisServer) -> None:
    """What Redis holds: the ended ride's hash has a TTL set in the commit that ended it (Redis
    deletes it on time even if no engine runs), a stream written to has one too and is trimmed by
    time; the sweep takes due rides out of the index."""
    with redis_server.client() as raw:
        raw.flushdb()
    clock = FakeClock()
    store = RedisStore(redis_server.url, prefix="ttl:", retention_s=3600, clock=clock)
    try:
        store.commit(Commit(rides={"open": ride("open"), "ended": ride("ended", status="cancelled")},
                            expire_rides=["ended"], events=[("ride:ended", {"kind": "cancelled"})]))  # fmt: skip
        with redis_server.client() as raw:
            assert 3590_000 < raw.pttl("ttl:ride:ended") <= 3600_000
            assert raw.pttl("ttl:ride:open") == -1  # no expiry
            assert 3590_000 < raw.pttl("ttl:events:ride:ended") <= 3600_000
            assert raw.zscore("ttl:expiring", "ended") == clock.ms + 3600_000
            clock.ms += 3600_000
            store.commit(Commit(meta={"x": "1"}, events=[("assignments", {"kind": "later"})]))
            assert raw.smembers("ttl:rides") == {"open"}
            assert not raw.exists("ttl:ride:ended") and raw.zcard("ttl:expiring") == 0
            assert raw.xlen("ttl:events:assignments") == 1
            clock.ms += 3600_000  # the store's clock an hour further: every real id (Redis's clock) is too old
            store.commit(Commit(events=[("assignments", {"kind": "latest"})]))
            assert raw.xlen("ttl:events:assignments") == 0  # trimmed by time (XTRIM MINID), not by count
    finally:
        store.close()
    short = RedisStore(redis_server.url, prefix="short:", retention_s=0.2)
    try:
        short.commit(Commit(rides={"gone": ride("gone")}, expire_rides=["gone"], events=[("t", {"n": 1})]))
        time.sleep(0.3)
        with redis_server.client() as raw:  # Redis itself deleted them: no sweep ran
            assert not raw.exists("short:ride:gone") and not raw.exists("short:events:t")
        assert short.load().rides == {}
    finally:
        short.close()


def test_the_memory_store_lets_go_of_topics_no_longer_written() -> None:
    """Each ride has a topic of its own: a long-running engine must not keep them all (Redis gives
    each stream a TTL; the memory store drops a topic once its last event is past the retention)."""
    clock = FakeClock()
    store = MemoryStore(retention_s=60, clock=clock)
    store.commit(Commit(events=[(f"ride:r{i}", {"i": i}) for i in range(1000)]))
    clock.ms += 30_000
    store.commit(Commit(events=[("ride:r7", {"again": True}), ("assignments", {"n": 1})]))
    clock.ms += 30_001  # the first thousand are past the retention (a minute), r7's second is not
    store.commit(Commit(events=[("assignments", {"n": 2})]))
    assert store.topics() == {"ride:r7", "assignments"}
    assert [e for _, e in store.read_events("ride:r7")] == [{"again": True}]
