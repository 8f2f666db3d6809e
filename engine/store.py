"""The state store: where the live engine commits its dispatcher state and its events.

The engine owns the dispatcher state in one writer thread. After every change it hands the
changed records and the new events to :meth:`StateStore.commit` as one :class:`Commit`; on
start-up it rebuilds everything from :meth:`StateStore.load` and resumes its event streams
after :meth:`StateStore.last_event_id`. Two stores implement the protocol and pass the same
test suite (``tests/engine/test_store.py``):

* :class:`MemoryStore` — the embedded default: in-process, thread-safe, gone with the process;
* :class:`~engine.redis_store.RedisStore` — a Redis server, durable when the server runs with
  AOF persistence (``appendonly yes``).

:func:`open_store` picks one from the ``--store`` option: ``"memory"``, or
``"redis://host:port[/db]"`` (``rediss://`` for Redis over TLS, with a :class:`RedisAccess`
giving the password and the certificates).

Records (rides, vehicles) are dicts with string keys whose values are JSON-serialisable; meta
values are strings. Both stores keep records and events in JSON form, so what :meth:`load`
returns is what JSON gives back (tuples come back as lists, non-string keys of nested dicts
as strings), whichever store is used. A commit whose content cannot be encoded raises
:class:`TypeError` or :class:`ValueError` before anything is written.

Retention (personal data, see ``docs/data-retention.md``): a store made with ``retention_s``
keeps the rides a commit lists in :attr:`Commit.expire_rides` (the engine lists every ride that
ended: completed, cancelled, no-show) for ``retention_s`` after that commit, then forgets them:
:meth:`StateStore.load` no longer returns them and their stored data are deleted. Each topic's
events are dropped once older than ``retention_s`` (and, as before, beyond ``stream_maxlen``);
reads never return an older event. Times are the store's ``clock`` (epoch milliseconds, the
wall clock unless a test gives another), so that tests need not wait for days.

Event ids have the shape of Redis Stream ids, ``"<ms>-<seq>"`` (milliseconds since the Unix
epoch, then a sequence number within that millisecond); within a topic they increase with
every event. Compare them with :func:`event_id_key`, never as strings (``"10-0" < "9-0"``).
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

__all__ = [
    "Commit",
    "EncodedCommit",
    "MemoryStore",
    "RedisAccess",
    "Snapshot",
    "StateStore",
    "StoreError",
    "StoreUnavailable",
    "check_store_spec",
    "decode_json",
    "encode_commit",
    "encode_json",
    "event_id_key",
    "open_store",
    "parse_redis_url",
    "redis_url_has_password",
    "wall_clock_ms",
]

#: The forms :func:`open_store` accepts, for error messages and ``--help``.
STORE_FORMS = '"memory", "redis://host:port[/db]" or "rediss://host:port[/db]" (Redis over TLS)'

#: Default cap on the number of events kept per topic (older events are trimmed).
DEFAULT_STREAM_MAXLEN = 100_000


# ---------------------------------------------------------------------------- errors
class StoreError(Exception):
    """The store refused or failed an operation for a reason other than being unreachable."""


class StoreUnavailable(StoreError):
    """The backing service cannot be reached (down, refused, timed out, still loading).

    The message names the service (``host:port``) and the operation that failed. A commit
    that raises this was applied either fully or not at all; which one is unknown when the
    connection broke after the request was sent, so reload (:meth:`StateStore.load`) before
    going on.
    """


# ---------------------------------------------------------------------------- data
@dataclass
class Commit:
    """One atomic change of the store: upserts, deletions, events and engine-wide values.

    ``rides`` and ``vehicles`` map an id to its whole record; a record replaces the stored one
    (keys not in the new record disappear) and clears an expiry it had. ``expire_rides`` are rides
    of this commit's ``rides`` that the store forgets after its retention (they ended; without a
    retention they are kept like any other). ``deleted_rides`` are removed after the upserts,
    so a ride both upserted and deleted in one commit is gone. ``events`` are appended in the
    order given, each to the stream of its topic. ``meta`` values are set (other meta keys are
    kept).
    """

    rides: dict[str, dict[str, Any]] = field(default_factory=dict)
    vehicles: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_rides: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    expire_rides: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True if committing this would change nothing."""
        return not (self.rides or self.vehicles or self.deleted_rides or self.events or self.meta)


@dataclass(frozen=True)
class Snapshot:
    """Everything the store holds except the events: what the engine rebuilds from."""

    rides: dict[str, dict[str, Any]]
    vehicles: dict[str, dict[str, Any]]
    meta: dict[str, str]


@dataclass(frozen=True)
class EncodedCommit:
    """A :class:`Commit` checked and encoded: each record field and each event as JSON text."""

    rides: dict[str, dict[str, str]]
    vehicles: dict[str, dict[str, str]]
    deleted_rides: list[str]
    events: list[tuple[str, str]]
    meta: dict[str, str]
    expire_rides: list[str] = field(default_factory=list)


class StateStore(Protocol):
    """Where the engine's state lives. Every method may raise :class:`StoreUnavailable`."""

    def commit(self, commit: Commit) -> dict[str, list[str]]:
        """Apply ``commit`` atomically (all or nothing); return topic -> ids of its new events, in order."""
        ...

    def load(self) -> Snapshot:
        """Every ride, vehicle and meta value, as one consistent snapshot."""
        ...

    def read_events(self, topic: str, after: str | None = None, count: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        """Up to ``count`` events of ``topic`` with id > ``after`` (None: from the start), oldest first."""
        ...

    def last_event_id(self, topic: str) -> str | None:
        """The id of the newest event of ``topic``, or None if it has none."""
        ...

    def ping(self) -> bool:
        """True if the store is usable; never raises."""
        ...

    def close(self) -> None:
        """Release connections; the stored data stay (in the server, for Redis)."""
        ...

    @property
    def name(self) -> str:
        """``"memory"`` or ``"redis://host:port/db"`` (never a password)."""
        ...


# ---------------------------------------------------------------------------- encoding
_encode_str = json.encoder.encode_basestring  # what json.dumps uses for text with ensure_ascii=False
_ORJSON_AS_JSON = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def encode_json(value: Any, *, what: str) -> str:
    """``value`` as compact JSON text; TypeError/ValueError naming ``what`` if it cannot be encoded.

    NaN and infinities are refused (ValueError): they are not JSON and other readers of the
    store would choke on them.
    """
    kind = type(value)  # scalars (most record fields) the way json.dumps writes them, without its set-up
    if kind is str:
        return _encode_str(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if value is None:
        return "null"
    try:
        # orjson is about ten times faster (manifests are the bulk of a commit), but it writes NaN and
        # the infinities as null: text with a null in it is encoded again by json, which refuses
        # them; so is anything orjson does not take as json would (subclasses of the built-in types,
        # dataclasses, dates), to get json's text or error
        text: str = orjson.dumps(value, option=_ORJSON_AS_JSON).decode()
    except (TypeError, ValueError):
        text = "null"
    if "null" not in text:
        return text
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what} cannot be stored as JSON: {exc}") from exc
    except RecursionError as exc:
        raise ValueError(f"{what} cannot be stored as JSON: it is nested too deeply or contains itself") from exc


def decode_json(text: str, *, what: str) -> Any:
    """Parse JSON text written by :func:`encode_json`; :class:`StoreError` if it is not JSON."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StoreError(f"{what} holds invalid JSON: {exc}") from exc


def _check_id(value: object, *, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _encode_record(record: object, *, what: str) -> dict[str, str]:
    if not isinstance(record, dict):
        raise TypeError(f"{what} must be a dict, got {type(record).__name__}")
    fields: dict[str, str] = {}
    for key, value in record.items():
        if not isinstance(key, str):
            raise TypeError(f"{what} has a non-string key {key!r}; record keys must be strings")
        fields[key] = encode_json(value, what=f"{what} field {key!r}")
    return fields


def _decode_record(fields: dict[str, str], *, what: str) -> dict[str, Any]:
    return {key: decode_json(text, what=f"{what} field {key!r}") for key, text in fields.items()}


def encode_commit(commit: Commit) -> EncodedCommit:
    """Check ``commit`` and encode it; raises TypeError/ValueError (naming the culprit) before any write."""
    rides = {
        _check_id(rid, what="ride id"): _encode_record(rec, what=f"ride {rid!r}") for rid, rec in commit.rides.items()
    }
    vehicles = {
        _check_id(vid, what="vehicle id"): _encode_record(rec, what=f"vehicle {vid!r}")
        for vid, rec in commit.vehicles.items()
    }
    deleted = [_check_id(rid, what="deleted ride id") for rid in commit.deleted_rides]
    events: list[tuple[str, str]] = []
    for i, item in enumerate(commit.events):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"event {i} must be a (topic, event) tuple, got {item!r}")
        topic, event = item
        _check_id(topic, what=f"event {i} topic")
        if not isinstance(event, dict):
            raise TypeError(f"event {i} of topic {topic!r} must be a dict, got {type(event).__name__}")
        events.append((topic, encode_json(event, what=f"event {i} of topic {topic!r}")))
    meta: dict[str, str] = {}
    for key, value in commit.meta.items():
        _check_id(key, what="meta key")
        if not isinstance(value, str):
            raise TypeError(f"meta value {key!r} must be a string, got {type(value).__name__}")
        meta[key] = value
    expire = []
    for rid in commit.expire_rides:
        if rid not in rides:
            raise ValueError(f"expire_rides names ride {rid!r}, which the commit does not write")
        expire.append(rid)
    return EncodedCommit(
        rides=rides, vehicles=vehicles, deleted_rides=deleted, events=events, meta=meta, expire_rides=expire
    )


# ---------------------------------------------------------------------------- event ids
def event_id_key(event_id: str) -> tuple[int, int]:
    """``"<ms>-<seq>"`` as ``(ms, seq)``, for ordering event ids; ValueError if malformed."""
    ms_text, sep, seq_text = event_id.partition("-") if isinstance(event_id, str) else ("", "", "")
    if sep and ms_text.isdigit() and seq_text.isdigit():
        return int(ms_text), int(seq_text)
    raise ValueError(f'event id must have the form "<ms>-<seq>" (two non-negative integers), got {event_id!r}')


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")


def _check_retention(retention_s: float | None) -> int | None:
    """``retention_s`` in milliseconds (None: keep everything); ValueError unless positive."""
    if retention_s is None:
        return None
    if isinstance(retention_s, bool) or not isinstance(retention_s, int | float) or not 0 < retention_s < math.inf:
        raise ValueError(f"retention_s must be a positive number of seconds or None (keep), got {retention_s!r}")
    return max(1, round(retention_s * 1000))


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch: the stores' default clock."""
    return time.time_ns() // 1_000_000


def _check_maxlen(stream_maxlen: int | None) -> None:
    if stream_maxlen is not None and (
        isinstance(stream_maxlen, bool) or not isinstance(stream_maxlen, int) or stream_maxlen < 1
    ):
        raise ValueError(f"stream_maxlen must be a positive integer or None (no cap), got {stream_maxlen!r}")


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
        _check_maxlen(stream_maxlen)
        self._stream_maxlen = stream_maxlen
        self._trim_slack = 0 if stream_maxlen is None else stream_maxlen // 10
        self._retention_ms = _check_retention(retention_s)
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

    def load(self) -> Snapshot:
        with self._lock:
            self._forget(self._clock())
            rides = dict(self._rides)
            vehicles = dict(self._vehicles)
            meta = dict(self._meta)
        # The stored field texts are immutable, so decoding outside the lock is safe.
        return Snapshot(
            rides={rid: _decode_record(f, what=f"ride {rid!r}") for rid, f in rides.items()},
            vehicles={vid: _decode_record(f, what=f"vehicle {vid!r}") for vid, f in vehicles.items()},
            meta=meta,
        )

    def read_events(self, topic: str, after: str | None = None, count: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        _check_count(count)
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


# ---------------------------------------------------------------------------- factory
def parse_redis_url(url: str) -> tuple[str, int, int]:
    """``"redis://[user[:password]@]host[:port][/db]"`` (or ``rediss://``, Redis over TLS) as ``(host,
    port, db)``; port 6379 and db 0 by default.

    ValueError naming the URL and the expected form if it is not one.
    """
    form = "redis://host:port[/db] or rediss://host:port[/db]"
    if not isinstance(url, str):
        raise ValueError(f"a Redis URL must be a string of the form {form}, got {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"Redis URL {url!r} must start with redis:// or rediss:// (form {form})")
    try:
        port = parts.port or 6379
    except ValueError as exc:
        raise ValueError(f"Redis URL {url!r} has an invalid port (form {form})") from exc
    host = parts.hostname
    if not host:
        raise ValueError(f"Redis URL {url!r} has no host (form {form})")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"Redis URL {url!r}: the database must be a number, got {path!r} (form {form})")
    if parts.query or parts.fragment:
        raise ValueError(f"Redis URL {url!r} must not have a query or fragment (form {form})")
    return host, port, int(path) if path else 0


def redis_url_has_password(url: str) -> bool:
    """True if the Redis URL ``url`` carries a password (``redis://:password@host``)."""
    return urlsplit(url).password is not None


def check_store_spec(spec: object) -> None:
    """ValueError saying what is wrong with ``spec`` unless it is a store :func:`open_store` can open
    (:data:`STORE_FORMS`; its form only: nothing is connected)."""
    if spec == "memory":
        return
    if isinstance(spec, str) and spec.startswith(("redis://", "rediss://")):
        parse_redis_url(spec)
        return
    raise ValueError(f"got {spec!r}")


@dataclass(frozen=True)
class RedisAccess:
    """How to reach a Redis server beyond its URL: the password (not in the URL, where ``ps`` shows
    it) and, for a ``rediss://`` URL, the CA that signed the server's certificate (None: the
    system's CAs) and a client certificate and key if the server asks for one (PEM files)."""

    password: str | None = field(default=None, repr=False)
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None


def open_store(spec: str, *, access: RedisAccess | None = None, retention_s: float | None = None) -> StateStore:
    """The store named by the ``--store`` option (:data:`STORE_FORMS`); ``access`` for a Redis store;
    ``retention_s``: how long ended rides and events are kept (None: for ever).

    Opening a Redis store does not connect yet; call :meth:`StateStore.ping` to check it.
    """
    try:
        check_store_spec(spec)
    except ValueError as exc:
        raise ValueError(f"--store must be {STORE_FORMS}: {exc}") from exc
    if spec == "memory":
        return MemoryStore(retention_s=retention_s)
    from .redis_store import RedisStore  # imported here: redis-py is needed only for this store

    return RedisStore(spec, access=access, retention_s=retention_s)
