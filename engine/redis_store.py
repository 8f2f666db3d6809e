"""The Redis state store: the engine's state in a Redis server, each commit one MULTI/EXEC.

Key layout (``<prefix>`` is ``"mobility:"`` unless told otherwise)::

    <prefix>ride:<ride id>        HASH    one field per top-level key of the record, value = JSON
    <prefix>vehicle:<vehicle id>  HASH    likewise (the schedule is one field)
    <prefix>rides                 SET     ids of every stored ride (so load() need not SCAN)
    <prefix>vehicles              SET     ids of every stored vehicle
    <prefix>meta                  HASH    engine-wide values, as given (strings)
    <prefix>events:<topic>        STREAM  one entry per event, field "data" = JSON; MAXLEN ~ cap
    <prefix>commits               STRING  number of commits applied (lets load() see a moving store)
    <prefix>expiring              ZSET    ids of rides that expire, scored by when (epoch ms, store clock)

Retention (with ``retention_s``; see :mod:`engine.store`), all of it done by one Lua script
(:data:`_RETAIN`, sent with ``EVAL``) at the end of the commit's MULTI/EXEC: a ride the commit
lists in ``expire_rides`` gets ``PEXPIRE`` (the retention) on its hash and its expiry time in
``expiring``, in the same transaction that writes its ended state (a ride written without it
loses both: ``DEL`` drops the TTL, ``ZREM`` the score). Redis deletes the hash on time by
itself, engine or not; at most once a second the script also sweeps ``expiring``, deleting what
is due and taking it out of ``rides``, and :meth:`RedisStore.load` leaves out what is due
anyway. Each topic the commit adds events to is trimmed (``XTRIM MINID``: event ids are epoch
milliseconds) and given a TTL of the retention, so a topic no longer written disappears a
retention after its last event; reads never return an event older than that.

Every key under the prefix belongs to the store; nothing else may write there.

Atomicity: :meth:`RedisStore.commit` encodes everything first (a value that cannot be JSON
fails before any request is sent), then sends the whole commit as one MULTI ... EXEC
transaction. Redis applies a transaction as a unit, and with AOF persistence it writes the
transaction to the log as a unit, so a crash never leaves half a commit (on restart Redis
drops a transaction cut short at the end of the log). Durability is the server's: with
``appendfsync always`` everything acknowledged survives a crash of the server.

Errors: a refused connection, a timeout, or a server still loading its data raise
:class:`~engine.store.StoreUnavailable` naming ``host:port`` and the operation; any other
Redis error raises :class:`~engine.store.StoreError`. Commands are never retried by the client:
a retried transaction whose EXEC had reached the server would append its events twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .store_types import (
    DEFAULT_STREAM_MAXLEN,
    Commit,
    RedisAccess,
    Snapshot,
    StoreError,
    StoreUnavailable,
    check_count,
    check_maxlen,
    check_retention,
    decode_json,
    decode_record,
    encode_commit,
    event_id_key,
    parse_redis_url,
    redis_url_has_password,
    wall_clock_ms,
)

__all__ = ["RedisStore"]


def _without_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")))


#: How often :meth:`RedisStore.load` retries when a commit lands between its two round trips.
LOAD_ATTEMPTS = 5

#: The largest sequence number of a Redis Stream id (an unsigned 64-bit integer).
_MAX_SEQ = 2**64 - 1

#: How often (at most) a commit sweeps the rides whose retention is over.
SWEEP_EVERY_MS = 1000
#: Most rides one sweep deletes (the next sweep takes the rest).
SWEEP_LIMIT = 10_000

#: The retention's part of a commit, one script (one command to encode instead of four per ride and
#: two per topic). KEYS = (expiring, rides, the streams written); ARGV = (now in epoch ms, the
#: retention in ms, the oldest event id kept, the ride key prefix, sweep "1" or "0", the ids of
#: the rides that ended). Trims each stream by time and sets its TTL; sets each ended ride's TTL
#: and expiry; with sweep, deletes every ride due by now (hash, index entry, expiry). Returns how
#: many it deleted.
_RETAIN = f"""
local now, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #KEYS do
    redis.call('XTRIM', KEYS[i], 'MINID', ARGV[3])
    redis.call('PEXPIRE', KEYS[i], retention)
end
for j = 6, #ARGV do
    redis.call('PEXPIRE', ARGV[4] .. ARGV[j], retention)
    redis.call('ZADD', KEYS[1], now + retention, ARGV[j])
end
if ARGV[5] ~= '1' then
    return 0
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, {SWEEP_LIMIT})
for _, id in ipairs(due) do
    redis.call('DEL', ARGV[4] .. id)
    redis.call('SREM', KEYS[2], id)
    redis.call('ZREM', KEYS[1], id)
end
return #due
"""


class RedisStore:
    """The state store in a Redis server at ``url`` (``"redis://host:port[/db]"``, or ``rediss://``
    for Redis over TLS).

    ``access`` gives the password (else the URL's, if any) and, over TLS, the CA that signed the
    server's certificate (else the system's CAs; the host name is checked) and a client
    certificate and key. The password is never part of :attr:`name`, ``repr`` or an error message.
    ``prefix`` starts every key (see the module docstring for the layout), so several engines
    can share one database. Each topic keeps about ``stream_maxlen`` events (``XADD MAXLEN ~``;
    None keeps every event). ``retention_s`` and ``clock`` (epoch milliseconds): see the module
    docstring. ``socket_timeout_s`` bounds every command, ``connect_timeout_s``
    every connection attempt. Creating the store does not connect; :meth:`ping` checks.
    The store may be shared by threads (redis-py keeps a connection pool).
    """

    def __init__(
        self,
        url: str,
        *,
        access: RedisAccess | None = None,
        prefix: str = "mobility:",
        stream_maxlen: int | None = DEFAULT_STREAM_MAXLEN,
        retention_s: float | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        socket_timeout_s: float = 5.0,
        connect_timeout_s: float = 3.0,
    ) -> None:
        host, port, db = parse_redis_url(url)
        access = access or RedisAccess()
        tls = url.startswith("rediss://")
        if not tls and (access.tls_ca or access.tls_cert or access.tls_key):
            raise ValueError(f"TLS certificates for Redis need a rediss:// URL, got {_without_password(url)!r}")
        if access.password is not None and redis_url_has_password(url):
            raise ValueError("the Redis password is given twice (in the URL and apart): give it once, apart")
        options: dict[str, Any] = {}
        if access.password is not None:
            options["password"] = access.password
        if tls:
            options.update(ssl_cert_reqs="required", ssl_check_hostname=True)
            for option, path in (
                ("ssl_ca_certs", access.tls_ca),
                ("ssl_certfile", access.tls_cert),
                ("ssl_keyfile", access.tls_key),
            ):
                if path is not None:
                    options[option] = str(path)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
        check_maxlen(stream_maxlen)
        for option, value in (("socket_timeout_s", socket_timeout_s), ("connect_timeout_s", connect_timeout_s)):
            if not value > 0:
                raise ValueError(f"{option} must be a positive number of seconds, got {value!r}")
        self._address = f"{host}:{port}"
        self._name = f"{'rediss' if tls else 'redis'}://{host}:{port}/{db}"
        self._prefix = prefix
        self._stream_maxlen = stream_maxlen
        self._retention_ms = check_retention(retention_s)
        self._clock = clock
        self._next_sweep_ms = 0
        self._client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), 0),
            **options,
        )
        self._rides_key = f"{prefix}rides"
        self._vehicles_key = f"{prefix}vehicles"
        self._meta_key = f"{prefix}meta"
        self._commits_key = f"{prefix}commits"
        self._expiring_key = f"{prefix}expiring"

    def __repr__(self) -> str:
        return f"RedisStore({self._name!r}, prefix={self._prefix!r})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def prefix(self) -> str:
        return self._prefix

    # ------------------------------------------------------------------------ keys
    def _ride_key(self, ride_id: str) -> str:
        return f"{self._prefix}ride:{ride_id}"

    def _vehicle_key(self, vehicle_id: str) -> str:
        return f"{self._prefix}vehicle:{vehicle_id}"

    def _stream_key(self, topic: str) -> str:
        return f"{self._prefix}events:{topic}"

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate redis-py's exceptions into the store's, naming the server and ``what`` failed."""
        try:
            yield
        except AuthenticationError as exc:  # a ConnectionError to redis-py, but waiting will not help
            raise StoreError(
                f"Redis at {self._address} refused the credentials: {what} failed ({type(exc).__name__}: {exc}); "
                "give the password with --redis-password-file or MOBILITY_REDIS_PASSWORD"
            ) from exc
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(
                f"Redis at {self._address} is unavailable: {what} failed ({type(exc).__name__}: {exc})"
            ) from exc
        except RedisError as exc:
            raise StoreError(f"Redis at {self._address}: {what} failed ({type(exc).__name__}: {exc})") from exc

    # ------------------------------------------------------------------------ writes
    def commit(self, commit: Commit) -> dict[str, list[str]]:
        encoded = encode_commit(commit)  # raises before anything is sent
        if commit.empty:
            return {}
        event_slots: list[tuple[str, int]] = []  # (topic, index of its XADD in the transaction)
        retention = self._retention_ms
        now_ms = self._clock()
        with self._client.pipeline(transaction=True) as pipe:
            for ids_key, records, key_of in (
                (self._rides_key, encoded.rides, self._ride_key),
                (self._vehicles_key, encoded.vehicles, self._vehicle_key),
            ):
                for record_id, fields in records.items():
                    key = key_of(record_id)
                    pipe.delete(key)  # whole-record replace: keys missing from the new record go (and a TTL)
                    if fields:  # Redis has no empty hashes; an empty record is its index entry only
                        pipe.hset(key, mapping=cast(Any, fields))
                if records:
                    pipe.sadd(ids_key, *records)
            expire = encoded.expire_rides if retention is not None else []
            expiring = set(expire)
            kept = [rid for rid in encoded.rides if rid not in expiring] + encoded.deleted_rides
            if kept:
                pipe.zrem(self._expiring_key, *kept)  # a ride written anew (or deleted) keeps no expiry
            if encoded.deleted_rides:
                pipe.delete(*(self._ride_key(rid) for rid in encoded.deleted_rides))
                pipe.srem(self._rides_key, *encoded.deleted_rides)
            if encoded.meta:
                pipe.hset(self._meta_key, mapping=cast(Any, encoded.meta))
            for topic, data in encoded.events:
                event_slots.append((topic, len(pipe)))
                pipe.xadd(
                    self._stream_key(topic),
                    {"data": data},
                    maxlen=self._stream_maxlen,
                    approximate=self._stream_maxlen is not None,
                )
            if retention is not None:
                sweep = now_ms >= self._next_sweep_ms
                if sweep:
                    self._next_sweep_ms = now_ms + SWEEP_EVERY_MS
                streams = [self._stream_key(topic) for topic in dict.fromkeys(topic for topic, _ in encoded.events)]
                if streams or expire or sweep:  # after the rides' HSET and the XADDs: their keys exist
                    # EVAL, not EVALSHA: a script Redis forgot (a restart) would fail inside the
                    # transaction while the rest of it is applied; Redis caches the compiled script
                    keys = [self._expiring_key, self._rides_key, *streams]
                    pipe.eval(_RETAIN, len(keys), *keys, now_ms, retention, f"{max(0, now_ms - retention)}-0",
                              self._ride_key(""), "1" if sweep else "0", *expire)  # fmt: skip
            pipe.incr(self._commits_key)
            with self._errors("commit (MULTI/EXEC)"):
                results: list[Any] = pipe.execute()
        ids: dict[str, list[str]] = {}
        for topic, slot in event_slots:
            ids.setdefault(topic, []).append(results[slot])
        return ids

    # ------------------------------------------------------------------------ reads
    def load(self) -> Snapshot:
        """Every ride, vehicle and meta value, in two pipelined transactions.

        The first reads the id sets, the meta hash and the commit counter; the second every
        record and the counter again. If a commit landed in between, it starts over (up to
        :data:`LOAD_ATTEMPTS` times), so the snapshot is always one consistent state.
        """
        for _ in range(LOAD_ATTEMPTS):
            with self._errors("load"), self._client.pipeline(transaction=True) as pipe:
                pipe.smembers(self._rides_key)
                pipe.smembers(self._vehicles_key)
                pipe.hgetall(self._meta_key)
                pipe.get(self._commits_key)
                pipe.zrangebyscore(self._expiring_key, "-inf", self._clock())
                ride_set, vehicle_set, meta, version, due = pipe.execute()
                ride_ids, vehicle_ids = sorted(ride_set - set(due)), sorted(vehicle_set)
                if not ride_ids and not vehicle_ids:
                    return Snapshot(rides={}, vehicles={}, meta=dict(meta))
                for rid in ride_ids:
                    pipe.hgetall(self._ride_key(rid))
                for vid in vehicle_ids:
                    pipe.hgetall(self._vehicle_key(vid))
                pipe.get(self._commits_key)
                *records, version_after = pipe.execute()
            if version_after == version:
                ride_fields, vehicle_fields = records[: len(ride_ids)], records[len(ride_ids) :]
                return Snapshot(
                    rides={
                        rid: decode_record(f, what=f"ride {rid!r}")
                        for rid, f in zip(ride_ids, ride_fields, strict=True)
                    },
                    vehicles={
                        vid: decode_record(f, what=f"vehicle {vid!r}")
                        for vid, f in zip(vehicle_ids, vehicle_fields, strict=True)
                    },
                    meta=dict(meta),
                )
        raise StoreError(
            f"Redis at {self._address}: load gave up after {LOAD_ATTEMPTS} attempts, "
            "commits kept landing between its reads; is another engine writing under the same prefix?"
        )

    def read_events(self, topic: str, after: str | None = None, count: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        check_count(count)
        if after is None:
            start = "-"
        else:  # the first id after ``after`` (an inclusive bound, so any Redis >= 5 will do)
            ms, seq = event_id_key(after)
            start = f"{ms}-{seq + 1}" if seq < _MAX_SEQ else f"{ms + 1}-0"
        oldest = self._oldest_kept()
        if oldest is not None and (start == "-" or event_id_key(start) < event_id_key(oldest)):
            start = oldest
        with self._errors(f"reading events of topic {topic!r}"):
            entries: Any = self._client.xrange(self._stream_key(topic), min=start, max="+", count=count)
        return [(eid, self._decode_event(topic, eid, fields)) for eid, fields in entries]

    def _oldest_kept(self) -> str | None:
        """The smallest event id within the retention (None: no retention)."""
        if self._retention_ms is None:
            return None
        return f"{max(0, self._clock() - self._retention_ms)}-0"

    def _decode_event(self, topic: str, event_id: str, fields: dict[str, str]) -> dict[str, Any]:
        what = f"event {event_id} of topic {topic!r}"
        if "data" not in fields:
            raise StoreError(f"Redis at {self._address}: {what} has no 'data' field; was it written by this store?")
        event = decode_json(fields["data"], what=what)
        if not isinstance(event, dict):
            raise StoreError(f"Redis at {self._address}: {what} is not a JSON object")
        return event

    def last_event_id(self, topic: str) -> str | None:
        with self._errors(f"reading the last event id of topic {topic!r}"):
            entries: Any = self._client.xrevrange(
                self._stream_key(topic), max="+", min=self._oldest_kept() or "-", count=1
            )
        return entries[0][0] if entries else None

    # ------------------------------------------------------------------------ lifecycle
    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except (RedisError, OSError):
            return False

    def close(self) -> None:
        """Close the connections; the store reconnects if used again."""
        self._client.close()
