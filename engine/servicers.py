"""The gRPC servicers: thin adapters from protocol buffers to the engine core.

Each method finds its caller (identified from the bearer token by the server's interceptor when
the call started, :func:`engine.auth.caller`), checks the role and ownership, converts the message,
runs the operation on the engine core and converts the answer back; every exception becomes the
right status code (:mod:`engine.errors`), and an undecodable message INVALID_ARGUMENT.

Every method is a coroutine (streams: async generators) on the server's event loop (see
:mod:`engine.gateway`). An operation is queued for the engine's writer
(:meth:`~engine.core.EngineCore.command`, or a front end's :class:`~engine.frontend.RemoteCore`)
and awaited on its future, so a waiting call holds no thread; if the call is cancelled (the
client gave up, or its deadline passed) before the writer took the command, the command is
dropped. Store reads, which block, run on the server's thread pool.

A stream subscribes to its topic with a ``wake`` function (:class:`~engine.core.Subscription`):
the thread that delivers events wakes the stream's coroutine once per delivery
(``loop.call_soon_threadsafe``, and not again while a wake-up is pending); the coroutine then
sends what its queue holds. An idle stream costs a suspended coroutine and its subscription.

A rider's request and ride ids are scoped per rider (``alice/r1`` in the engine, ``r1`` for
alice, see :mod:`engine.converters`): a rider names only their own rides, and sees their own ids
in every answer, stream and error.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc
import numpy as np

from matching import Offer, Request
from mobility.v1 import driver_pb2, driver_pb2_grpc, operator_pb2, operator_pb2_grpc, rider_pb2, rider_pb2_grpc

from . import converters as cv
from .auth import CALLER, Principal, caller
from .core import MAX_CLOCK_S, EngineCore
from .errors import InvalidInput, PermissionDenied, end_call, nested
from .gateway import Undecodable, undecodable_error
from .store import StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_TERMINAL = ("completed", "cancelled", "no_show")
#: Event ids: "<ms>-<seq>" (Redis Stream ids).
EVENT_ID = re.compile(r"\d{1,15}-\d{1,15}")


def check_time(field: str, value: int) -> None:
    """Times on the service clock: 0 .. a year (0 also means "not given")."""
    if not 0 <= value <= MAX_CLOCK_S:
        raise InvalidInput(field, f"got {value} (allowed: 0 .. {MAX_CLOCK_S} s)")


def _rider(principal: Principal | None) -> str | None:
    """The rider a caller is (their ids are scoped), or None."""
    return principal.subject if principal is not None and principal.role == "rider" else None


def _calling_rider() -> str | None:
    return _rider(CALLER.get(None))


def rpc(fn: F) -> F:
    """A unary handler whose undecodable request and every exception end the call with their
    status code (to a rider, with their own ids)."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            return await fn(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            end_call(context, exc, _calling_rider())
            return None

    return wrapper  # type: ignore[return-value]


def _waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[], None]:
    """A subscription's ``wake`` (called from the delivering thread): sets ``event`` on ``loop``,
    with at most one wake-up pending at a time."""
    pending = False

    def woken() -> None:
        nonlocal pending
        pending = False
        event.set()

    def wake() -> None:
        nonlocal pending
        if pending:
            return
        pending = True
        try:
            loop.call_soon_threadsafe(woken)
        except RuntimeError:  # the loop is closed: nobody reads this stream any more
            pending = False

    return wake


class _Base:
    def __init__(self, core: EngineCore, pool: Executor) -> None:
        self.core = core
        self.pool = pool
        self._command_async: Callable[..., Awaitable[Any]] | None = getattr(core, "command_async", None)

    @staticmethod
    def who(*roles: str) -> Principal:
        """The caller, if they have one of ``roles`` (PermissionDenied if not)."""
        principal = caller()
        principal.require(*roles)
        return principal

    async def op(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the engine operation ``name`` and wait for its answer (holding no thread)."""
        if self._command_async is not None:  # a front end's RemoteCore: answers come in batches
            return await self._command_async(name, *args, **kwargs)
        return await asyncio.wrap_future(self.core.command(name, *args, **kwargs))

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` (a call that blocks, e.g. a store read) on the server's thread pool."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    async def stream(
        self,
        context: grpc.aio.ServicerContext,
        topic: str,
        after: str,
        first: Callable[[str | None], Any] | None,
        convert: Callable[[str, dict[str, Any]], Any],
        done: Callable[[dict[str, Any]], bool] | None = None,
        rider: str | None = None,
    ) -> AsyncIterator[Any]:
        """History after ``after`` (or ``first(last event id)``, the current state), then live
        events until the call ends."""
        if after and not EVENT_ID.fullmatch(after):
            message = f"got {after[:40]!r} (allowed: an event id like 1700000000000-0)"
            end_call(context, InvalidInput("after_event_id", message))
            return
        woken = asyncio.Event()
        sub = self.core.subscribe(topic, _waker(asyncio.get_running_loop(), woken))
        try:
            last: str | None = None
            try:
                if after:
                    history = await self.blocking(self.core.history, topic, after)
                elif first is not None:
                    last = await self.blocking(self.core.store.last_event_id, topic)
            except Exception as exc:
                end_call(context, exc, rider)
                return
            if after:
                for event_id, payload in history:
                    last = event_id
                    yield convert(event_id, payload)
                    if done and done(payload):
                        return
            elif first is not None:
                yield first(last)
            while True:
                woken.clear()
                try:
                    item = sub.items.get_nowait()
                except queue.Empty:
                    await woken.wait()
                    continue
                if item is None:
                    if sub.error is not None:
                        end_call(context, sub.error, rider)
                    return
                event_id, payload = item
                if not self.core.newer(event_id, last):
                    continue
                last = event_id
                yield convert(event_id, payload)
                if done and done(payload):
                    return
                if sub.overflow:
                    context.set_code(grpc.StatusCode.RESOURCE_EXHAUSTED)
                    context.set_details("stream too slow; resume with after_event_id")
                    return
        finally:
            self.core.unsubscribe(sub)


class RiderServicer(_Base, rider_pb2_grpc.RiderServiceServicer):
    def _request(self, msg: rider_pb2.QuoteRequest, p: Principal, now_s: int) -> Request:
        """The request a quote message describes, at the clock ``now_s`` would set (field errors name
        the message's fields; a rider's id scoped by the rider)."""
        check_time("requested_time_s", msg.requested_time_s)
        clock = max(self.core.clock_s, now_s)  # the writer moves the clock itself
        return cv.request_from_proto(msg, _rider(p), clock)

    @staticmethod
    def _ride_id(p: Principal, ride_id: str) -> str:
        """The engine's id of the ride ``p`` names: a rider names their own by its request id (no
        rider can name another's, so no ownership check is needed); operators name any ride,
        a rider's by its scoped id."""
        rider = _rider(p)
        if rider is not None:
            return cv.own_id(rider, cv.check_id("ride_id", ride_id))
        return cv.check_id("ride_id", ride_id, scoped=True)

    @rpc
    async def Quote(self, request: rider_pb2.QuoteRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        check_time("now_s", request.now_s)
        req = self._request(request, p, request.now_s)
        answer = await self.op("quote", req, request.now_s)
        if isinstance(answer, Offer):
            return rider_pb2.QuoteResponse(offer=cv.offer_to_proto(answer, _rider(p)))
        return rider_pb2.QuoteResponse(rejection=cv.rejection_to_proto(answer, _rider(p)))

    @rpc
    async def BookRide(self, request: rider_pb2.BookRideRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        rider = _rider(p)
        at_once = request.HasField("request")
        if at_once and request.offer_id:
            raise InvalidInput("offer_id", "give an offer_id or a request to book at once, not both")
        if not at_once:
            if not request.offer_id:
                raise InvalidInput("offer_id", "missing (or give a request to book at once)")
            cv.check_id("offer_id", request.offer_id)
        if len(request.idempotency_key) > 128:
            raise InvalidInput("idempotency_key", "longer than 128 characters")
        check_time("now_s", request.now_s)
        key = cv.own_id(rider, request.idempotency_key) if request.idempotency_key else ""
        if not at_once:
            ride = await self.op("book", request.offer_id, key, request.now_s, rider_id=rider)
            return cv.ride_to_proto(ride, rider)
        try:
            req = self._request(request.request, p, request.now_s)
            ride = await self.op("quote_and_book", req, key, request.now_s, rider_id=rider)
        except Exception as exc:
            field_error = nested(exc, "request.")
            if field_error is exc:
                raise
            raise field_error from exc
        return cv.ride_to_proto(ride, rider)

    @rpc
    async def CancelRide(self, request: rider_pb2.CancelRideRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        ride_id = self._ride_id(p, request.ride_id)
        check_time("now_s", request.now_s)
        return cv.ride_to_proto(await self.op("cancel", ride_id, request.now_s), _rider(p))

    @rpc
    async def GetRide(self, request: rider_pb2.GetRideRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        ride_id = self._ride_id(p, request.ride_id)
        return cv.ride_to_proto(await self.op("get_ride", ride_id), _rider(p))

    async def WatchRide(
        self, request: rider_pb2.WatchRideRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        rider = _calling_rider()
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            p = self.who("rider", "operator")
            ride_id = self._ride_id(p, request.ride_id)
            ride = await self.op("get_ride", ride_id)
        except Exception as exc:
            end_call(context, exc, rider)
            return

        def first(last: str | None) -> Any:
            return cv.ride_update(last or "", {"kind": "state", "ride": ride, "time_s": self.core.clock_s}, rider)

        async for update in self.stream(
            context,
            f"ride:{ride_id}",
            request.after_event_id,
            first,
            lambda event_id, payload: cv.ride_update(event_id, payload, rider),
            done=lambda payload: payload["ride"]["status"] in _TERMINAL,
            rider=rider,
        ):
            yield update


class DriverServicer(_Base, driver_pb2_grpc.DriverServiceServicer):
    async def _vehicle(self, vehicle_id: str) -> int:
        p = self.who("driver", "operator")
        cv.check_id("vehicle_id", vehicle_id)
        if not p.may_drive(vehicle_id):
            raise PermissionDenied(f"vehicle {vehicle_id} is not yours")
        return int(await self.op("vehicle_index", vehicle_id))

    @rpc
    async def StartShift(self, request: driver_pb2.ShiftRequest, context: grpc.aio.ServicerContext) -> Any:
        v = await self._vehicle(request.vehicle_id)
        check_time("now_s", request.now_s)
        if request.HasField("stop"):
            await self.op("position", request.vehicle_id, request.stop, request.now_s or self.core.clock_s)
        return cv.vehicle_status(await self.op("vehicle_view", v))

    @rpc
    async def EndShift(self, request: driver_pb2.ShiftRequest, context: grpc.aio.ServicerContext) -> Any:
        v = await self._vehicle(request.vehicle_id)
        return cv.vehicle_status(await self.op("vehicle_view", v))

    async def ReportLocation(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        """Positions as they come; the call ends when the client closes it (a client that cancels
        it ends it too: that is normal, nothing is logged)."""
        accepted = 0
        try:
            async for report in request_iterator:
                if isinstance(report, Undecodable):
                    raise undecodable_error(report, context)
                await self._vehicle(report.vehicle_id)
                check_time("time_s", report.time_s)
                await self.op("position", report.vehicle_id, report.stop, report.time_s)
                accepted += 1
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            end_call(context, exc)
            return None
        return driver_pb2.LocationAck(accepted=accepted)

    @rpc
    async def GetManifest(self, request: driver_pb2.GetManifestRequest, context: grpc.aio.ServicerContext) -> Any:
        v = await self._vehicle(request.vehicle_id)
        stops = await self.op("manifest_view", v)
        last = await self.blocking(self.core.store.last_event_id, f"vehicle:{request.vehicle_id}")
        return cv.manifest(last or "", request.vehicle_id, self.core.clock_s, stops)

    async def WatchManifest(
        self, request: driver_pb2.WatchManifestRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            v = await self._vehicle(request.vehicle_id)
            stops = await self.op("manifest_view", v)
        except Exception as exc:
            end_call(context, exc)
            return
        vid = request.vehicle_id

        def first(last: str | None) -> Any:
            return cv.manifest(last or "", vid, self.core.clock_s, stops)

        def convert(event_id: str, payload: dict[str, Any]) -> Any:
            return cv.manifest(event_id, vid, payload["time_s"], payload["stops"])

        async for manifest in self.stream(context, f"vehicle:{vid}", request.after_event_id, first, convert):
            yield manifest

    @rpc
    async def ReportStopEvent(self, request: driver_pb2.StopEvent, context: grpc.aio.ServicerContext) -> Any:
        await self._vehicle(request.vehicle_id)
        kind = cv.STOP_EVENT.get(request.kind)
        if kind is None:
            raise InvalidInput("kind", f"unknown stop event kind {request.kind}")
        if kind != "arrived":
            cv.check_id("ride_id", request.ride_id, scoped=True)
        check_time("time_s", request.time_s)
        planned = await self.op("stop_event", request.vehicle_id, kind, request.ride_id, request.stop, request.time_s)
        return driver_pb2.StopEventAck(planned_stops=planned)


class OperatorServicer(_Base, operator_pb2_grpc.OperatorServiceServicer):
    async def WatchAssignments(
        self, request: operator_pb2.WatchAssignmentsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            self.who("operator")
        except Exception as exc:
            end_call(context, exc)
            return
        async for event in self.stream(context, "assignments", request.after_event_id, None, cv.assignment_event):
            yield event

    @rpc
    async def ListVehicles(self, request: operator_pb2.ListVehiclesRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        rows = await self.op("list_vehicles")
        return operator_pb2.ListVehiclesResponse(vehicles=[cv.vehicle_status(r) for r in rows])

    @rpc
    async def FleetStatus(self, request: operator_pb2.FleetStatusRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        return operator_pb2.FleetStatusResponse(**(await self.op("fleet_kpis")))

    @rpc
    async def Reoptimise(self, request: operator_pb2.ReoptimiseRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        if not 0 <= request.iterations <= 1_000_000:
            raise InvalidInput("iterations", f"got {request.iterations} (allowed: 0 .. 1000000)")
        check_time("now_s", request.now_s)
        rep = await self.op("reoptimise", request.iterations, request.now_s)
        return operator_pb2.ReoptimiseResponse(
            adopted=rep.adopted,
            cost_before=rep.cost_before,
            cost_after=rep.cost_after,
            moved_rides=list(rep.moved_rides),
        )

    @rpc
    async def UpdateTraffic(self, request: operator_pb2.UpdateTrafficRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        network = getattr(self.core, "network", None)
        if network is None:
            raise StoreUnavailable("the engine is still starting")
        times = np.asarray(request.edge_travel_time_s, dtype=np.float64)
        expected = network.num_edges
        if times.shape != (expected,):
            raise InvalidInput("edge_travel_time_s", f"{times.size} values for {expected} edges")
        check_time("now_s", request.now_s)
        return operator_pb2.UpdateTrafficResponse(seconds=await self.op("update_traffic", times, request.now_s))
