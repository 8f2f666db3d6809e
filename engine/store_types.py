"""What every state store shares: the commit and snapshot types, the :class:`StateStore` protocol,
the store errors, the JSON encoding of records and events, event ids, the checks of a store's
options and how to reach a Redis server.

The stores (:mod:`engine.memory_store`, :mod:`engine.redis_store`) import this module and not one
another; :mod:`engine.store` chooses one (:func:`engine.store.open_store`) and says what they keep
and how (its docstring).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

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


def decode_record(fields: dict[str, str], *, what: str) -> dict[str, Any]:
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


def check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")


def check_retention(retention_s: float | None) -> int | None:
    """``retention_s`` in milliseconds (None: keep everything); ValueError unless positive."""
    if retention_s is None:
        return None
    if isinstance(retention_s, bool) or not isinstance(retention_s, int | float) or not 0 < retention_s < math.inf:
        raise ValueError(f"retention_s must be a positive number of seconds or None (keep), got {retention_s!r}")
    return max(1, round(retention_s * 1000))


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch: the stores' default clock."""
    return time.time_ns() // 1_000_000


def check_maxlen(stream_maxlen: int | None) -> None:
    if stream_maxlen is not None and (
        isinstance(stream_maxlen, bool) or not isinstance(stream_maxlen, int) or stream_maxlen < 1
    ):
        raise ValueError(f"stream_maxlen must be a positive integer or None (no cap), got {stream_maxlen!r}")


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


@dataclass(frozen=True)
class RedisAccess:
    """How to reach a Redis server beyond its URL: the password (not in the URL, where ``ps`` shows
    it) and, for a ``rediss://`` URL, the CA that signed the server's certificate (None: the
    system's CAs) and a client certificate and key if the server asks for one (PEM files)."""

    password: str | None = field(default=None, repr=False)
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
