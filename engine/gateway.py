"""The server's front door: a ``grpc.aio`` server, its interceptor and its limits.

Why asyncio. A stream (WatchRide, WatchManifest, WatchAssignments, ReportLocation) lives as long
as its client keeps it open. On a thread-pool server each held a worker thread, so 64 idle streams
(opened without even a token) froze every call, health checks included. Here every handler is a
coroutine on one event loop: an idle stream is a suspended coroutine and a subscription, no
thread; a unary call waits for the engine's writer on the core's future
(:func:`asyncio.wrap_future`; in a front end, an asyncio future that the thread taking the
engine's answers sets, a batch of answers per wake-up of the loop), no thread either. Handlers
end a call with an error by setting its status and returning (:func:`engine.errors.end_call`),
never with ``context.abort``, which keeps the call alive until the garbage collector's next full
pass. The few reads that block (a stream's history, the
last event id of a topic: store reads) run on a bounded thread pool (``Settings.workers``), so
they never stall the loop. Health checking is ``grpc_health``'s asyncio servicer: it answers on
the loop whatever the engine does.

One event loop per process (:func:`grpc_loop`), started on first use and never stopped, runs
every server of the process: ``grpc.aio`` binds its completion-queue poller to the first loop
that uses it, so a second loop, or a stopped first one, leaves the others without events. Code
outside the loop drives a server through :class:`GrpcServer`, which has the synchronous face of
``grpc.Server`` the engine used before (``add_insecure_port``, ``start``, ``stop(grace).wait()``).

The interceptor (:class:`FrontDoor`) runs when a call starts, on its headers, before its message
is read (checked in ``grpc``'s source: ``_handle_rpc`` finds the handler through the interceptors,
then receives the message):

* it identifies the caller from the bearer token (:meth:`~engine.auth.TokenTable.identify`) and
  puts them in :data:`engine.auth.CALLER` for the handler, which runs in the same task;
  health and reflection stay open to anyone;
* a call without a valid token gets UNAUTHENTICATED from a handler that takes the request as a
  stream and never reads it, so its body is not read at all, however large (gRPC holds at most
  a flow-control window of it, 64 KiB with the server's options, see
  :func:`engine.server.server_options`). Measured on a bare ``grpc.aio`` server: 24 calls of
  60 MB one after the other grew it by 788 MB when the refusal took the body as a unary request,
  by 44 MB this way; 24 calls of 20 MB at once grew it by 21-33 MB this way with the windows
  growing (gRPC's default), by none with them fixed;
* a stream (of any service) holds a slot of :class:`StreamSlots` while it is open: at most
  ``max_streams`` in the process, ``max_streams_per_caller`` per rider or driver (operators are
  trusted staff, limited by the others only) and ``max_streams_per_peer`` per client address;
  over a limit the call ends with RESOURCE_EXHAUSTED naming it.

Further limits are gRPC's own: ``grpc.max_concurrent_streams`` (calls at once on one HTTP/2
connection; more wait on the client) and ``grpc.max_receive_message_length`` (a larger message is
refused with RESOURCE_EXHAUSTED before it reaches a handler). Connections themselves cannot be
counted from Python (gRPC has no hook when one opens); ``context.peer()`` names a call's client
address and port, which is how streams are counted per address.

A message whose bytes do not decode is not an error of the server: the services are registered
(:func:`service_handler`) with deserializers that never raise and hand the handler an
:class:`Undecodable` instead, which it answers with INVALID_ARGUMENT and one log line
(:func:`undecodable_error`). ``grpc`` itself would log a traceback and answer UNKNOWN.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2

from .auth import CALLER, Principal, TokenTable
from .errors import InvalidInput, LimitReached, Unauthenticated, end_call

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Services open without a token (method names start with these).
OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


# ---------------------------------------------------------------------------- the event loop
def grpc_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for gRPC servers: started on first use, in a daemon thread
    ("grpc-loop"), and never stopped (see the module docstring)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="grpc-loop", daemon=True).start()
            _loop = loop
        return _loop


def on_loop(coro: Coroutine[Any, Any, T], timeout: float | None = 60.0) -> T:
    """Run ``coro`` on :func:`grpc_loop` and wait for its result (from any other thread)."""
    return asyncio.run_coroutine_threadsafe(coro, grpc_loop()).result(timeout)


# ---------------------------------------------------------------------------- limits
def peer_address(peer: str) -> str:
    """The client address of a gRPC peer string, without its port (``"ipv4:10.0.0.7:51234"`` ->
    ``"ipv4:10.0.0.7"``, ``"ipv6:[::1]:5000"`` -> ``"ipv6:[::1]"``; others as they are)."""
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rsplit(":", 1)[0]
    return peer


class StreamSlots:
    """The open streams of one server: in all, per caller and per client address.

    Used on the event loop only (no lock). ``per_peer`` 0 turns the limit per address off.
    """

    def __init__(self, total: int, per_caller: int, per_peer: int) -> None:
        self.limit_total = total
        self.limit_per_caller = per_caller
        self.limit_per_peer = per_peer
        self.total = 0
        self.by_caller: Counter[tuple[str, str]] = Counter()
        self.by_peer: Counter[str] = Counter()

    def take(self, principal: Principal | None, peer: str) -> Callable[[], None]:
        """A slot for a new stream of ``principal`` (None: an open service) from ``peer``, and the
        function that gives it back (once); LimitReached (naming the limit) if there is none."""
        who = (principal.role, principal.subject) if principal is not None and principal.role != "operator" else None
        address = peer_address(peer)
        if self.total >= self.limit_total:
            raise LimitReached(
                "max_streams",
                f"the server has {self.total} streams open, its limit (max_streams; "
                "`mobility serve --max-streams`); try again later",
            )
        if who is not None and self.by_caller[who] >= self.limit_per_caller:
            raise LimitReached(
                "max_streams_per_caller",
                f"{who[0]} {who[1]} has {self.by_caller[who]} streams open, the limit per caller "
                "(max_streams_per_caller; `mobility serve --max-streams-per-caller`): close one first",
            )
        if self.limit_per_peer and self.by_peer[address] >= self.limit_per_peer:
            raise LimitReached(
                "max_streams_per_peer",
                f"{address} has {self.by_peer[address]} streams open, the limit per client address "
                "(max_streams_per_peer; `mobility serve --max-streams-per-peer`)",
            )
        self.total += 1
        self.by_peer[address] += 1
        if who is not None:
            self.by_caller[who] += 1
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if given_back:
                return
            given_back = True
            self.total -= 1
            _decrement(self.by_peer, address)
            if who is not None:
                _decrement(self.by_caller, who)

        return give_back


def _decrement(counter: Counter[Any], key: Any) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


# ---------------------------------------------------------------------------- the interceptor
def _refusal(error: Exception, streaming: bool) -> grpc.RpcMethodHandler:
    """A handler that ends a call with the status of ``error`` without reading its message: it
    takes the request as a stream (whatever the method's kind) and never reads it. ``streaming``:
    the method answers with a stream (then nothing is sent but the status)."""
    if streaming:

        async def refuse_stream(request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
            end_call(context, error)
            return
            yield  # an async generator that sends nothing

        return grpc.stream_stream_rpc_method_handler(refuse_stream)

    async def refuse(request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
        end_call(context, error)

    return grpc.stream_unary_rpc_method_handler(refuse)


def _limited(handler: grpc.RpcMethodHandler, slots: StreamSlots, principal: Principal | None) -> grpc.RpcMethodHandler:
    """``handler`` (a streaming one) holding a slot of ``slots`` while it runs."""
    if handler.request_streaming and handler.response_streaming:
        attribute = "stream_stream"
    elif handler.request_streaming:
        attribute = "stream_unary"
    else:
        attribute = "unary_stream"
    inner = getattr(handler, attribute)
    wrapped: Callable[..., Any]
    if inspect.isasyncgenfunction(inner):

        async def wrapped_generator(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                give_back = slots.take(principal, context.peer())
            except LimitReached as exc:
                end_call(context, exc)
                return
            try:
                async for message in inner(request, context):
                    yield message
            finally:
                give_back()

        wrapped = wrapped_generator
    elif inspect.iscoroutinefunction(inner):

        async def wrapped_coroutine(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                give_back = slots.take(principal, context.peer())
            except LimitReached as exc:
                end_call(context, exc)
                return None
            try:
                return await inner(request, context)
            finally:
                give_back()

        wrapped = wrapped_coroutine
    else:  # a handler on the thread pool: every stream of this server is a coroutine
        return handler
    return handler._replace(**{attribute: wrapped})


class FrontDoor(grpc.aio.ServerInterceptor):
    """Identifies every call when it starts and holds a slot for every stream (module docstring)."""

    def __init__(self, tokens: TokenTable, slots: StreamSlots) -> None:
        self.tokens = tokens
        self.slots = slots

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # UNIMPLEMENTED
        principal: Principal | None = None
        if not handler_call_details.method.startswith(OPEN_PREFIXES):
            try:
                principal = self.tokens.identify(handler_call_details.invocation_metadata)
            except Unauthenticated as exc:
                return _refusal(exc.with_traceback(None), handler.response_streaming)
            CALLER.set(principal)  # the handler runs in this task: it sees it
        if handler.request_streaming or handler.response_streaming:
            return _limited(handler, self.slots, principal)
        return handler


# ---------------------------------------------------------------------------- messages
class Undecodable:
    """What the services' deserializers hand a handler for bytes that are not a message of the
    method's request type (see :func:`undecodable_error`)."""

    __slots__ = ("error", "size", "type_name")

    def __init__(self, type_name: str, size: int, error: BaseException) -> None:
        self.type_name = type_name
        self.size = size
        self.error = error


def _lenient(parse: Callable[[bytes], Any], type_name: str) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except Exception as exc:  # DecodeError, or whatever the parser raises on garbage
            return Undecodable(type_name, len(data), exc)

    return deserialize


def undecodable_error(message: Undecodable, context: grpc.aio.ServicerContext) -> InvalidInput:
    """The error for an undecodable request (INVALID_ARGUMENT), logged in one line."""
    log.warning("undecodable %s from %s (%d bytes): %s", message.type_name, context.peer(), message.size, message.error)
    return InvalidInput("request", f"not a {message.type_name} message ({message.size} bytes that do not decode)")


_MAKERS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def service_handler(servicer: Any, service: ServiceDescriptor) -> grpc.GenericRpcHandler:
    """The handlers of ``service``'s methods on ``servicer`` (its methods of the same names), with
    deserializers that never raise (:class:`Undecodable`)."""
    handlers = {}
    for method in service.methods:
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        make = _MAKERS[(method.client_streaming, method.server_streaming)]
        handlers[method.name] = make(
            getattr(servicer, method.name),
            request_deserializer=_lenient(request_class.FromString, method.input_type.full_name),
            response_serializer=response_class.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


# ---------------------------------------------------------------------------- the server
class GrpcServer:
    """A ``grpc.aio`` server on :func:`grpc_loop`, driven from synchronous code.

    ``build(pool)`` runs on the loop and returns the unstarted ``grpc.aio.Server`` (with its
    services, built to use ``pool`` for blocking work) and its asyncio health servicer; ``pool``
    is this server's thread pool (``workers`` threads), also the server's migration pool.
    """

    def __init__(
        self, build: Callable[[ThreadPoolExecutor], tuple[grpc.aio.Server, health.aio.HealthServicer]], workers: int
    ) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc")

        async def built() -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
            return build(self.pool)

        self.aio, self.health = on_loop(built())
        self._services: tuple[str, ...] = ("",)

    def add_insecure_port(self, address: str) -> int:
        async def add() -> int:
            return self.aio.add_insecure_port(address)

        return on_loop(add())

    def add_secure_port(self, address: str, credentials: grpc.ServerCredentials) -> int:
        async def add() -> int:
            return self.aio.add_secure_port(address, credentials)

        return on_loop(add())

    def start(self) -> None:
        on_loop(self.aio.start())

    def set_serving(self, serving: bool, services: tuple[str, ...] | None = None) -> None:
        """Every service in ``services`` (default: as last given) and the server as a whole ("")
        SERVING or NOT_SERVING."""
        if services is not None:
            self._services = ("", *services)
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING

        async def set_all() -> None:
            for name in self._services:
                await self.health.set(name, status)

        on_loop(set_all())

    def stop(self, grace: float | None) -> threading.Event:
        """Stop serving (calls still running get ``grace`` seconds; None or 0: none); the event is
        set once the server has stopped and its thread pool is shut down."""
        done = threading.Event()

        async def stop() -> None:
            try:
                await self.aio.stop(grace)
            finally:
                self.pool.shutdown(wait=False, cancel_futures=True)
                done.set()

        asyncio.run_coroutine_threadsafe(stop(), grpc_loop())
        return done
