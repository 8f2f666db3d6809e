"""What the gRPC servicers need of the engine: the :class:`DataPlane` protocol.

Two implementations: the in-process :class:`~engine.core.EngineCore`, and a front end's
:class:`~engine.frontend.RemoteCore`, which asks the engine's process for the same over a local
socket. The servicers (:mod:`engine.servicers`) are typed against this protocol and use nothing
else of either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from .streams import Subscription
from .taxi import ServiceDirectory


class DataPlane(Protocol):
    """The engine as the servicers see it (any thread, or the server's event loop)."""

    #: "wall" or "external" (see :mod:`engine.clock`).
    clock: str
    #: The deployment's services and the service of each taxi (see :mod:`engine.taxi`).
    directory: ServiceDirectory

    @property
    def clock_s(self) -> int:
        """The engine's service clock now."""
        ...

    def num_edges(self) -> int:
        """The road network's number of edges (StoreUnavailable while the engine starts)."""
        ...

    def service_map(self, name: str) -> dict[str, Any]:
        """What a map of the service ``name`` draws (:meth:`EngineCore.service_map`; blocks the
        first time: it is built, off the writer)."""
        ...

    def call_async(self, name: str, *args: Any, **kwargs: Any) -> tuple[asyncio.Future[Any], Callable[[], bool]]:
        """Queue the operation ``name`` (:data:`~engine.operations.OPERATIONS`) from a coroutine,
        without waiting: an asyncio future of its answer, and the function that drops the command
        if the engine has not begun it (what it returns says nothing when the engine is elsewhere:
        the answer then says :class:`~engine.errors.DeadlineExceeded`)."""
        ...

    def subscribe(self, topic: str, wake: Callable[[], None] | None = None) -> Subscription:
        """A new stream's subscription to ``topic`` (see :class:`~engine.streams.Subscription`)."""
        ...

    def unsubscribe(self, sub: Subscription) -> None:
        """Drop a stream's subscription."""
        ...

    def history(self, topic: str, after: str) -> list[tuple[str, dict[str, Any]]]:
        """Stored events of ``topic`` after the event ``after`` (blocks: a store read)."""
        ...

    def last_event_id(self, topic: str) -> str | None:
        """The id of the last stored event of ``topic`` (blocks: a store read)."""
        ...
