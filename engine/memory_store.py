"""The embedded state store: :class:`MemoryStore` (see :mod:`engine.store` for what a store keeps)."""

from __future__ import annotations

import bisect
import heapq
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .store_types import (
    DEFAULT_STREAM_MAXLEN,
    Commit,
    Snapshot,
    check_count,
    check_maxlen,
    check_retention,
    decode_json,
    decode_record,
    encode_commit,
    event_id_key,
    wall_clock_ms,
)


# ---------------------------------------------------------------------------- memory store
@dataclass
class _Stream:
    """One topic's events: parallel lists sorted by id, and the last id ever given."""

    keys: list[tuple[int, int]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    last: tuple[int, int] = (0, 0)


class MemoryStore:
    """The embedded store: everything in this process, guarded by one lock.

    Records and events are kept as JSON text, so nothing the caller holds aliases what is
    stored or returned, and the content behaves exactly as in :class:`~engine.redis_store.RedisStore`.
    Each topic keeps at most about ``stream_maxlen`` events (the oldest are dropped, in batches
    of a tenth, like Redis's approximate ``MAXLEN ~``); None keeps every event. With
    ``retention_s``, expiring rides and old events are forgotten as the module docstring says,
    by ``clock`` (epoch milliseconds): each commit and load drops the rides that are due (a heap
    of expiry times) and the topics whose last event is too old (the topics are kept in the order
    of their last event), and each append trims its topic by time.
    """

    def __init__(
        self,
        *,
        stream_maxlen: int | None = DEFAULT_STREAM_MAXLEN,
        retention_s: float | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        check_maxlen(stream_maxlen)
        self._stream_maxlen = stream_maxlen
        self._trim_slack = 0 if stream_maxlen is None else stream_maxlen // 10
        self._retention_ms = check_retention(retention_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._rides: dict[str, dict[str, str]] = {}
        self._vehicles: dict[str, dict[str, str]] = {}
        self._meta: dict[str, str] = {}
        self._streams: OrderedDict[str, _Stream] = OrderedDict()  # the last written last
        self._expiry: dict[str, int] = {}  # ride id -> when it is forgotten (epoch ms)
        self._expiring: list[tuple[int, str]] = []  # heap of (when, ride id); stale entries are skipped

    @property
    def name(self) -> str:
        return "memory"

    def commit(self, commit: Commit) -> dict[str, list[str]]:
        encoded = encode_commit(commit)  # every check before the first change: all or nothing
        ids: dict[str, list[str]] = {}
        with self._lock:
            now_ms = self._clock()
            self._rides.update(encoded.rides)
            for rid in encoded.rides:
                self._expiry.pop(rid, None)  # a record written anew keeps no expiry (as in Redis)
            if self._retention_ms is not None:
                for rid in encoded.expire_rides:
                    self._expiry[rid] = at = now_ms + self._retention_ms
                    heapq.heappush(self._expiring, (at, rid))
            self._vehicles.update(encoded.vehicles)
            for rid in encoded.deleted_rides:
                self._rides.pop(rid, None)
                self._expiry.pop(rid, None)
            self._meta.update(encoded.meta)
            for topic, data in encoded.events:
                ids.setdefault(topic, []).append(self._append(topic, data, now_ms))
            self._forget(now_ms)
        return ids

    def _forget(self, now_ms: int) -> None:
        """Drop the rides whose time has come, and the topics whose every event is older than the
        retention (the lock is held)."""
        expiring = self._expiring
        while expiring and expiring[0][0] <= now_ms:
            at, rid = heapq.heappop(expiring)
            if self._expiry.get(rid) == at:
                del self._expiry[rid], self._rides[rid]
        if self._retention_ms is not None:  # the streams are in the order of their last event
            oldest = (now_ms - self._retention_ms, 0)
            streams = self._streams
            while streams and next(iter(streams.values())).last < oldest:
                streams.popitem(last=False)

    def _first_kept(self, stream: _Stream, now_ms: int) -> int:
        """Index of the first event of ``stream`` not older than the retention (the lock is held)."""
        if self._retention_ms is None:
            return 0
        return bisect.bisect_left(stream.keys, (now_ms - self._retention_ms, 0))

    def _append(self, topic: str, data: str, now_ms: int) -> str:
        """Append one event (the lock is held); ids follow Redis: time, or last + 1 if the clock lags."""
        stream = self._streams.setdefault(topic, _Stream())
        self._streams.move_to_end(topic)
        last_ms, last_seq = stream.last
        key = (now_ms, 0) if now_ms > last_ms else (last_ms, last_seq + 1)
        event_id = f"{key[0]}-{key[1]}"
        stream.keys.append(key)
        stream.ids.append(event_id)
        stream.data.append(data)
        stream.last = key
        excess = self._first_kept(stream, now_ms)
        if self._stream_maxlen is not None and len(stream.keys) > self._stream_maxlen + self._trim_slack:
            excess = max(excess, len(stream.keys) - self._stream_maxlen)
        if excess:
            del stream.keys[:excess], stream.ids[:excess], stream.data[:excess]
        return event_id

    def topics(self) -> set[str]:
        """The topics that hold events now (a topic whose events are all past the retention is gone)."""
        with self._lock:
            return set(self._streams)

    def load(self) -> Snapshot:
        with self._lock:
            self._forget(self._clock())
            rides = dict(self._rides)
            vehicles = dict(self._vehicles)
            meta = dict(self._meta)
        # The stored field texts are immutable, so decoding outside the lock is safe.
        return Snapshot(
            rides={rid: decode_record(f, what=f"ride {rid!r}") for rid, f in rides.items()},
            vehicles={vid: decode_record(f, what=f"vehicle {vid!r}") for vid, f in vehicles.items()},
            meta=meta,
        )

    def read_events(self, topic: str, after: str | None = None, count: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        check_count(count)
        after_key = None if after is None else event_id_key(after)
        with self._lock:
            stream = self._streams.get(topic)
            if stream is None:
                return []
            start = self._first_kept(stream, self._clock())
            if after_key is not None:
                start = max(start, bisect.bisect_right(stream.keys, after_key))
            ids = stream.ids[start : start + count]
            data = stream.data[start : start + count]
        return [
            (eid, decode_json(text, what=f"event {eid} of topic {topic!r}"))
            for eid, text in zip(ids, data, strict=True)
        ]

    def last_event_id(self, topic: str) -> str | None:
        with self._lock:
            stream = self._streams.get(topic)
            if stream is None or self._first_kept(stream, self._clock()) >= len(stream.ids):
                return None  # no event, or none within the retention
            return stream.ids[-1]

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release; the data stay readable until the store is dropped."""
