"""The live service: gRPC servicers, the state store (in-memory, Redis), auth, settings.

* :func:`create_server` — an engine and its gRPC server from :class:`Settings` (port 0 binds a
  free port); :func:`serve_with_frontends` — the same with gRPC front-end processes;
* :class:`EngineCore` — the single writer that applies every operation to the live state;
* the stores: :class:`StateStore` (the protocol), :class:`MemoryStore`, :class:`RedisStore`,
  :func:`open_store`, :class:`StoreError`, :class:`StoreUnavailable`;
* :class:`ServiceClock`, :class:`TokenTable`, :class:`ServerTLS` (:func:`load_server_tls`);
* the errors a call can end with: :class:`InvalidInput`, :class:`Rejected`, :class:`Overloaded`,
  :class:`LimitReached`, :class:`DeadlineExceeded`, :class:`Unauthenticated`, :class:`PermissionDenied`;
* the defaults of ``mobility serve``'s options (the constants below).

These names are imported from their modules when first asked for, so that the command line
reads the defaults without loading the engine. Imports ``routing`` and ``matching``, never
``sim``. The command line lives in the ``mobility`` package because it must reach every room.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .auth import TokenTable
    from .clock import ServiceClock
    from .core import EngineCore
    from .errors import (
        DeadlineExceeded,
        InvalidInput,
        LimitReached,
        Overloaded,
        PermissionDenied,
        Rejected,
        Unauthenticated,
    )
    from .frontend import serve_with_frontends
    from .redis_store import RedisStore
    from .server import create_server
    from .settings import Settings
    from .store import MemoryStore, StateStore, StoreError, StoreUnavailable, open_store
    from .tls import ServerTLS, load_server_tls

#: Where each public name lives (imported on first use).
_MODULE_OF = {
    "TokenTable": ".auth",
    "ServiceClock": ".clock",
    "EngineCore": ".core",
    "DeadlineExceeded": ".errors",
    "InvalidInput": ".errors",
    "LimitReached": ".errors",
    "Overloaded": ".errors",
    "PermissionDenied": ".errors",
    "Rejected": ".errors",
    "Unauthenticated": ".errors",
    "serve_with_frontends": ".frontend",
    "RedisStore": ".redis_store",
    "create_server": ".server",
    "Settings": ".settings",
    "MemoryStore": ".store",
    "StateStore": ".store",
    "StoreError": ".store",
    "StoreUnavailable": ".store",
    "open_store": ".store",
    "ServerTLS": ".tls",
    "load_server_tls": ".tls",
}

# Here, not in engine.settings, so that the command line reads them without importing the engine.
#: Most gRPC front-end processes of one engine.
MAX_FRONTENDS = 64
#: ``mobility serve``'s writer priority with front ends (``--writer-nice``; see
#: :func:`engine.writer.set_thread_nice`).
DEFAULT_WRITER_NICE = -10
#: Commands waiting for the writer beyond which new calls are refused at once (``--max-queue``).
DEFAULT_MAX_QUEUE = 5_000
#: The most iterations an operator's re-optimisation may ask for (``--max-reoptimise-iterations``),
#: and the longest any re-optimisation holds the writer (``--max-reoptimise-ms``).
DEFAULT_MAX_REOPTIMISE_ITERATIONS = 50_000
DEFAULT_MAX_REOPTIMISE_MS = 10_000
#: Defaults of ``mobility serve``'s limits (see :class:`engine.settings.Settings`).
DEFAULT_MAX_MESSAGE_KB = 512
DEFAULT_MAX_STREAMS = 10_000
DEFAULT_MAX_STREAMS_PER_CALLER = 16
DEFAULT_MAX_STREAMS_PER_PEER = 1_000
DEFAULT_MAX_STREAMS_PER_CONNECTION = 100

__all__ = [
    "DEFAULT_MAX_MESSAGE_KB",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_MAX_REOPTIMISE_ITERATIONS",
    "DEFAULT_MAX_REOPTIMISE_MS",
    "DEFAULT_MAX_STREAMS",
    "DEFAULT_MAX_STREAMS_PER_CALLER",
    "DEFAULT_MAX_STREAMS_PER_CONNECTION",
    "DEFAULT_MAX_STREAMS_PER_PEER",
    "DEFAULT_WRITER_NICE",
    "MAX_FRONTENDS",
    "DeadlineExceeded",
    "EngineCore",
    "InvalidInput",
    "LimitReached",
    "MemoryStore",
    "Overloaded",
    "PermissionDenied",
    "RedisStore",
    "Rejected",
    "ServerTLS",
    "ServiceClock",
    "Settings",
    "StateStore",
    "StoreError",
    "StoreUnavailable",
    "TokenTable",
    "Unauthenticated",
    "create_server",
    "load_server_tls",
    "open_store",
    "serve_with_frontends",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
