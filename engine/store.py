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

from .memory_store import MemoryStore
from .store_types import (
    DEFAULT_STREAM_MAXLEN,
    Commit,
    EncodedCommit,
    RedisAccess,
    Snapshot,
    StateStore,
    StoreError,
    StoreUnavailable,
    decode_json,
    encode_commit,
    encode_json,
    event_id_key,
    parse_redis_url,
    redis_url_has_password,
    wall_clock_ms,
)

__all__ = [
    "DEFAULT_STREAM_MAXLEN",
    "STORE_FORMS",
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


def check_store_spec(spec: object) -> None:
    """ValueError saying what is wrong with ``spec`` unless it is a store :func:`open_store` can open
    (:data:`STORE_FORMS`; its form only: nothing is connected)."""
    if spec == "memory":
        return
    if isinstance(spec, str) and spec.startswith(("redis://", "rediss://")):
        parse_redis_url(spec)
        return
    raise ValueError(f"got {spec!r}")


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
