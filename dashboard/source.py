"""What the dashboard's server asks of what it shows: a :class:`Source` (a live engine,
:mod:`dashboard.live`, or a run folder, :mod:`dashboard.replay`) and what a source sees of each
connected page, a :class:`Client` (:mod:`dashboard.server`).

The server is thin: it checks the page's key, parses its messages and hands them to the source,
and queues what the source sends to each page. The source decides what to send: on
:meth:`Source.connected`, the ``hello`` and a full snapshot; then updates (batched: one
``vehicles`` message per fleet update, never one per vehicle). All methods run on the server's
event loop and must not block it (a gRPC call is awaited with ``grpc.aio``; a long computation
runs in a thread).
"""

from __future__ import annotations

from typing import Any, Protocol


class Client(Protocol):
    """One connected page."""

    @property
    def id(self) -> int:
        """Unique while the server runs."""
        ...

    @property
    def behind(self) -> bool:
        """The page is not keeping up: its queue was cut. The source's next ``vehicles`` and
        ``rides`` to it must be ``full`` (the server dropped the partial ones it held)."""
        ...

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message`` (a protocol message, JSON-serialisable) for the page. Never blocks:
        the queue is bounded, and a page that falls behind loses its queued ``vehicles`` and
        ``rides`` updates (then :attr:`behind` is true until a full one is queued)."""
        ...


class Source(Protocol):
    """A live engine or a replayed run, as the server sees it."""

    #: "live" or "replay".
    mode: str

    async def start(self) -> None:
        """Begin (connect and follow, or load); returns once started, work goes on in tasks."""
        ...

    async def stop(self) -> None:
        """Stop every task (the server is shutting down)."""
        ...

    async def connected(self, client: Client) -> None:
        """A page connected (its key was right): send ``hello`` and the snapshot."""
        ...

    async def received(self, client: Client, message: dict[str, Any]) -> None:
        """A page sent ``message`` (a JSON object; anything else was refused by the server). A
        bad one is answered with an ``error`` message naming the field, never an exception."""
        ...

    async def disconnected(self, client: Client) -> None:
        """The page went away."""
        ...
