"""The gRPC servicers: thin adapters from protocol buffers to the engine core.

Each method finds its caller (identified from the bearer token by the server's interceptor when
the call started, :func:`engine.auth.caller`), checks the role and ownership (the rules are in
:mod:`engine.ownership`), converts the message, runs the operation on the engine's
:class:`~engine.dataplane.DataPlane` and converts the answer back; every exception becomes the
right status code (:mod:`engine.errors`), and an undecodable message INVALID_ARGUMENT.

Every method is a coroutine (streams: async generators) on the server's event loop (see
:mod:`engine.gateway`). An operation is queued for the engine's writer
(:meth:`~engine.dataplane.DataPlane.call_async`: the in-process core, or a front end's
:class:`~engine.frontend.RemoteCore`) and awaited on its future, so a waiting call holds no
thread; if the call is cancelled (the client gave up, or its deadline passed) before the writer
took the command, the command is dropped. Store reads, which block, run on the server's thread pool.

An operation waits for the engine until the call's deadline (less the time its answer needs to
travel back), else :data:`~engine.writer.CALL_TIMEOUT_S`: if the writer has not begun it by then it
is dropped and the caller hears DEADLINE_EXCEEDED (nothing was done); if it has, its outcome is
awaited, so a caller is never told "failed" of something that then happens.

On an external clock only an operator's times move the clock (:meth:`_Base.time_of`); a
vehicle's reported position may lie at most :data:`MAX_REPORT_AHEAD_S` ahead of it.

A stream (:func:`engine.streams.replay`) subscribes to its topic with a ``wake`` function
(:class:`~engine.streams.Subscription`): the thread that delivers events wakes the stream's
coroutine once per delivery (``loop.call_soon_threadsafe``, and not again while a wake-up is
pending); the coroutine then sends what its queue holds. An idle stream costs a suspended
coroutine and its subscription.

A rider's request and ride ids are scoped per rider (``alice/r1`` in the engine, ``r1`` for
alice, see :mod:`engine.converters`): a rider names only their own rides, and sees their own ids
in every answer, stream and error.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, ParamSpec, TypeVar

import grpc
import numpy as np

from matching import Offer, Rejection, Request, RideStatus, RideUpdateKind, StopEventKind
from matching.errors import ConflictError
from proto.mobility.v1 import driver_pb2, driver_pb2_grpc, operator_pb2, operator_pb2_grpc, rider_pb2, rider_pb2_grpc

from . import converters as cv
from . import operations as ops
from .auth import CALLER, Principal, caller
from .core import MAX_CLOCK_S
from .dataplane import DataPlane
from .errors import DeadlineExceeded, InvalidInput, end_call, nested
from .gateway import Undecodable, undecodable_error
from .operations import Operation
from .ownership import check_drives, idempotency_key_for, ride_id_for, rider_of
from .streams import StreamTooSlow, check_after, replay
from .taxi import IMOD, SHARED_TAXI
from .taxi import TERMINAL as TAXI_TERMINAL
from .writer import call_deadline, wait_s

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
_TERMINAL = tuple(s.value for s in RideStatus if s.is_terminal) + TAXI_TERMINAL
#: How far ahead of the engine's clock a vehicle may say it will be somewhere (ReportLocation):
#: where it heads next, not a place to park it a year ahead.
MAX_REPORT_AHEAD_S = 2 * 3600
#: Time kept from a call's deadline for its answer to travel back.
_REPLY_MARGIN_S = 0.05


def check_time(field: str, value: int) -> None:
    """Times on the service clock: 0 .. a year (0 also means "not given")."""
    if not 0 <= value <= MAX_CLOCK_S:
        raise InvalidInput(field, f"got {value} (allowed: 0 .. {MAX_CLOCK_S} s)")


def _nothing() -> bool:
    return False


def _calling_rider() -> str | None:
    return rider_of(CALLER.get(None))


@contextlib.contextmanager
def deadline_of(context: grpc.aio.ServicerContext) -> Iterator[None]:
    """While handling the call: its deadline (less the time its answer needs) is the engine's
    :data:`~engine.writer.call_deadline`, which bounds the wait of every operation it runs
    (:meth:`_Base.op`)."""
    remaining = context.time_remaining()
    at = None if remaining is None else time.monotonic() + max(0.0, remaining - _REPLY_MARGIN_S)
    token = call_deadline.set(at)
    try:
        yield
    finally:
        call_deadline.reset(token)


def rpc(fn: F) -> F:
    """A unary handler whose undecodable request and every exception end the call with their
    status code (to a rider, with their own ids)."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            with deadline_of(context):
                return await fn(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            end_call(context, exc, _calling_rider())
            return None

    return wrapper  # type: ignore[return-value]


class _Base:
    def __init__(self, core: DataPlane, pool: Executor) -> None:
        self.core = core
        self.pool = pool

    @staticmethod
    def who(*roles: str) -> Principal:
        """The caller, if they have one of ``roles`` (PermissionDenied if not)."""
        principal = caller()
        principal.require(*roles)
        return principal

    async def op(self, operation: Operation[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the engine's ``operation`` (one of :mod:`engine.operations`) and wait for its answer,
        holding no thread.

        Until the call's deadline (:data:`~engine.writer.call_deadline`; none: for
        :data:`~engine.writer.CALL_TIMEOUT_S`): then the command is dropped if the writer has not
        begun it (:class:`DeadlineExceeded`: nothing was done), else its outcome is awaited. A
        call that ends meanwhile (the client went away) drops it too, if not begun."""
        # in this process a dropped command cancels ``answer``; through a front end the engine
        # drops it and says so in its answer
        answer, drop = self.core.call_async(operation.name, *args, **kwargs)
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            drop()

        timer = asyncio.get_running_loop().call_later(wait_s(), expire)
        try:
            result: R = await answer
            return result
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if expired and task is not None and not task.cancelling():
                raise DeadlineExceeded() from None
            drop()  # the call itself ended: drop the command if it has not begun
            raise
        finally:
            timer.cancel()
            # An error's traceback holds this frame, whose answer (and, in this process, the
            # command that drop cancels) holds the error: without this cycle the failed call is
            # freed at once, not at the collector's next full pass (a front end collects rarely,
            # and a connection refuses calls once 100 of them are not freed).
            del answer
            drop = _nothing

    def service(self, name: str) -> tuple[str, str]:
        """``(name, kind)`` of the service a call names (empty: the deployment's default);
        InvalidInput naming ``service`` if the deployment has none of that name."""
        return self.core.directory.resolve(name)

    def ride_service(self, name: str) -> str | None:
        """The service a call about a ride names (None: whichever service has the ride)."""
        return self.service(name)[0] if name else None

    def taxi_of(self, vehicle_id: str, service: str) -> str | None:
        """The shared-taxi service of ``vehicle_id`` (None: an I-MOD vehicle), checked against the
        service the call names, if any."""
        return self.core.directory.taxi_service_of(vehicle_id, service)

    def time_of(self, principal: Principal, field: str, value: int) -> int:
        """A time the caller sent (``now_s``, ``time_s``; 0: not given), checked. On an external
        clock only an operator moves the clock: a rider's or driver's time ahead of it counts as
        the clock's time (the engine's clock as this process last heard it, never ahead of it)."""
        check_time(field, value)
        if principal.role != "operator" and self.core.clock == "external":
            return min(value, self.core.clock_s)
        return value

    def place_time(self, field: str, value: int) -> int:
        """When a vehicle will be at the stop it reports: at most :data:`MAX_REPORT_AHEAD_S` after
        the engine's clock (the time does not move the clock, whoever sends it)."""
        check_time(field, value)
        limit = self.core.clock_s + MAX_REPORT_AHEAD_S
        if value > limit:
            raise InvalidInput(
                field,
                f"got {value} (allowed: 0 .. {limit} s, at most {MAX_REPORT_AHEAD_S // 60} min after the "
                "engine's clock)",
            )
        return value

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
        events until the call ends (:func:`engine.streams.replay`); an error ends the call with its
        status (to ``rider`` with their own ids)."""
        try:
            check_after(after)
        except InvalidInput as exc:
            end_call(context, exc)
            return

        def end(exc: BaseException) -> None:
            if isinstance(exc, StreamTooSlow):
                context.set_code(grpc.StatusCode.RESOURCE_EXHAUSTED)
                context.set_details(str(exc))
            else:
                end_call(context, exc, rider)

        async for item in replay(self.core, topic, after, first, convert, self.blocking, end, done):
            yield item


class RiderServicer(_Base, rider_pb2_grpc.RiderServiceServicer):
    def _request(self, msg: rider_pb2.QuoteRequest, p: Principal, now_s: int) -> Request:
        """The request a quote message describes, at the clock ``now_s`` would set (field errors name
        the message's fields; a rider's id scoped by the rider). A request for "now" (no
        ``requested_time_s``) is stamped again by the engine when it runs the command (``asap``)."""
        check_time("requested_time_s", msg.requested_time_s)
        clock = max(self.core.clock_s, now_s)  # the writer moves the clock itself
        return cv.request_from_proto(msg, rider_of(p), clock)

    @rpc
    async def Quote(self, request: rider_pb2.QuoteRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        now_s = self.time_of(p, "now_s", request.now_s)
        name, kind = self.service(request.service)
        if kind == SHARED_TAXI:
            taxi = await self.op(ops.taxi_quote, name, cv.taxi_ask_from_proto(request, rider_of(p)), now_s)
            if isinstance(taxi, Rejection):
                return rider_pb2.QuoteResponse(rejection=cv.rejection_to_proto(taxi, rider_of(p)))
            return rider_pb2.QuoteResponse(offer=cv.taxi_offer_to_proto(taxi, rider_of(p)))
        req = self._request(request, p, now_s)
        answer = await self.op(ops.quote, req, now_s, asap=not request.requested_time_s)
        if isinstance(answer, Offer):
            return rider_pb2.QuoteResponse(offer=cv.offer_to_proto(answer, rider_of(p)))
        return rider_pb2.QuoteResponse(rejection=cv.rejection_to_proto(answer, rider_of(p)))

    @rpc
    async def BookRide(self, request: rider_pb2.BookRideRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        rider = rider_of(p)
        at_once = request.HasField("request")
        if at_once and request.offer_id:
            raise InvalidInput("offer_id", "give an offer_id or a request to book at once, not both")
        if not at_once:
            if not request.offer_id:
                raise InvalidInput("offer_id", "missing (or give a request to book at once)")
            cv.check_id("offer_id", request.offer_id)
        key = idempotency_key_for(rider, request.idempotency_key)
        now_s = self.time_of(p, "now_s", request.now_s)
        if at_once:
            try:
                name, kind = self.service(request.request.service)
            except InvalidInput as exc:
                raise nested(exc, "request.") from exc
            if kind == SHARED_TAXI:
                try:
                    ask = cv.taxi_ask_from_proto(request.request, rider)
                    ride = await self.op(ops.taxi_book, name, ask, key, now_s)
                except Exception as exc:
                    field_error = nested(exc, "request.")
                    if field_error is exc:
                        raise
                    raise field_error from exc
                return cv.ride_to_proto(ride, rider)
        if not at_once:
            ride = await self.op(ops.book, request.offer_id, key, now_s, rider_id=rider)
            return cv.ride_to_proto({**ride, "service": self.core.directory.default}, rider)
        try:
            req = self._request(request.request, p, now_s)
            asap = not request.request.requested_time_s
            ride = await self.op(ops.quote_and_book, req, key, now_s, rider_id=rider, asap=asap)
        except Exception as exc:
            field_error = nested(exc, "request.")
            if field_error is exc:
                raise
            raise field_error from exc
        return cv.ride_to_proto({**ride, "service": name}, rider)

    @rpc
    async def CancelRide(self, request: rider_pb2.CancelRideRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        ride_id = ride_id_for(p, request.ride_id)
        now_s = self.time_of(p, "now_s", request.now_s)
        service = self.ride_service(request.service)
        return cv.ride_to_proto(await self.op(ops.cancel_ride, service, ride_id, now_s), rider_of(p))

    @rpc
    async def GetRide(self, request: rider_pb2.GetRideRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self.who("rider", "operator")
        ride_id = ride_id_for(p, request.ride_id)
        service = self.ride_service(request.service)
        return cv.ride_to_proto(await self.op(ops.ride_view, service, ride_id), rider_of(p))

    async def WatchRide(
        self, request: rider_pb2.WatchRideRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        rider = _calling_rider()
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            p = self.who("rider", "operator")
            ride_id = ride_id_for(p, request.ride_id)
            ride = await self.op(ops.ride_view, self.ride_service(request.service), ride_id)
        except Exception as exc:
            end_call(context, exc, rider)
            return

        def first(last: str | None) -> Any:
            return cv.ride_update(
                last or "", {"kind": RideUpdateKind.STATE, "ride": ride, "time_s": self.core.clock_s}, rider
            )

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
    def _driver(self, vehicle_id: str) -> Principal:
        """The caller, who must drive ``vehicle_id`` (or be an operator)."""
        p = self.who("driver", "operator")
        cv.check_id("vehicle_id", vehicle_id)
        check_drives(p, vehicle_id)
        return p

    async def _vehicle(self, vehicle_id: str) -> int:
        self._driver(vehicle_id)
        return int(await self.op(ops.vehicle_index, vehicle_id))

    async def _manifest(self, vehicle_id: str, service: str) -> dict[str, list[Any]]:
        """The manifest columns of the caller's vehicle ``vehicle_id`` (a taxi's or a minibus's)."""
        self._driver(vehicle_id)
        taxi = self.taxi_of(vehicle_id, service)
        if taxi is not None:
            columns: dict[str, list[Any]] = await self.op(ops.taxi_manifest, taxi, vehicle_id)
            return columns
        v = await self._vehicle(vehicle_id)
        return await self.op(ops.manifest_view, v)

    @rpc
    async def StartShift(self, request: driver_pb2.ShiftRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self._driver(request.vehicle_id)
        now_s = self.time_of(p, "now_s", request.now_s)
        taxi = self.taxi_of(request.vehicle_id, request.service)
        if taxi is not None:  # a taxi's shift is its deployment's; where it is, ReportLocation says
            if request.HasField("stop"):
                raise InvalidInput("stop", "a shared taxi has no stops: report its road node with ReportLocation")
            return cv.vehicle_status((await self.op(ops.taxi_vehicles, taxi, request.vehicle_id))[0])
        stop = request.stop if request.HasField("stop") else None
        return cv.vehicle_status(await self.op(ops.start_shift, request.vehicle_id, stop, now_s))

    @rpc
    async def EndShift(self, request: driver_pb2.ShiftRequest, context: grpc.aio.ServicerContext) -> Any:
        p = self._driver(request.vehicle_id)
        now_s = self.time_of(p, "now_s", request.now_s)
        if self.taxi_of(request.vehicle_id, request.service) is not None:
            raise ConflictError("a shared taxi's shift is set by its deployment: it cannot be ended early")
        return cv.vehicle_status(await self.op(ops.end_shift, request.vehicle_id, now_s))

    async def ReportLocation(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
        """Positions as they come; the call ends when the client closes it (a client that cancels
        it ends it too: that is normal, nothing is logged)."""
        accepted = 0
        try:
            async for report in request_iterator:
                if isinstance(report, Undecodable):
                    raise undecodable_error(report, context)
                self._driver(report.vehicle_id)
                time_s = self.place_time("time_s", report.time_s)
                taxi = self.taxi_of(report.vehicle_id, report.service)
                if taxi is not None and not report.HasField("node"):
                    raise InvalidInput("node", "missing: a shared taxi reports the road node it is at or heads for")
                with deadline_of(context):
                    if taxi is not None:
                        await self.op(ops.taxi_locate, taxi, report.vehicle_id, report.node, time_s)
                    else:
                        await self.op(ops.position, report.vehicle_id, report.stop, time_s)
                accepted += 1
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            end_call(context, exc)
            return None
        return driver_pb2.LocationAck(accepted=accepted)

    @rpc
    async def GetManifest(self, request: driver_pb2.GetManifestRequest, context: grpc.aio.ServicerContext) -> Any:
        stops = await self._manifest(request.vehicle_id, request.service)
        last = await self.blocking(self.core.last_event_id, f"vehicle:{request.vehicle_id}")
        return cv.manifest(last or "", request.vehicle_id, self.core.clock_s, stops)

    async def WatchManifest(
        self, request: driver_pb2.WatchManifestRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            stops = await self._manifest(request.vehicle_id, request.service)
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
        p = self._driver(request.vehicle_id)
        kind = cv.STOP_EVENT.get(request.kind)
        if kind is None:
            raise InvalidInput("kind", f"unknown stop event kind {request.kind}")
        if kind != StopEventKind.ARRIVED:
            cv.check_id("ride_id", request.ride_id, scoped=True)
        time_s = self.time_of(p, "time_s", request.time_s)
        taxi = self.taxi_of(request.vehicle_id, request.service)
        if taxi is not None:
            node = request.node if request.HasField("node") else None
            planned = await self.op(ops.taxi_stop_event, taxi, request.vehicle_id, kind, request.ride_id, node, time_s)
            return driver_pb2.StopEventAck(planned_stops=planned)
        planned = await self.op(ops.stop_event, request.vehicle_id, kind, request.ride_id, request.stop, time_s)
        return driver_pb2.StopEventAck(planned_stops=planned)


class OperatorServicer(_Base, operator_pb2_grpc.OperatorServiceServicer):
    def __init__(self, core: DataPlane, pool: Executor) -> None:
        super().__init__(core, pool)
        self._maps: dict[str, operator_pb2.ServiceMap] = {}  # GetServiceMap's answers, by service

    async def WatchAssignments(
        self, request: operator_pb2.WatchAssignmentsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        try:
            if isinstance(request, Undecodable):
                raise undecodable_error(request, context)
            self.who("operator")
            only = self.service(request.service)[0] if request.service else None
        except Exception as exc:
            end_call(context, exc)
            return
        imod = next((name for name, kind in self.core.directory.kinds.items() if kind == IMOD), "")
        async for event in self.stream(context, "assignments", request.after_event_id, None, cv.assignment_event):
            if only is None or (event.service or imod) == only:
                yield event

    @rpc
    async def ListVehicles(self, request: operator_pb2.ListVehiclesRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        name, kind = self.service(request.service)
        if kind == SHARED_TAXI:
            return cv.vehicle_list(await self.op(ops.taxi_vehicles, name))
        return cv.vehicle_list(await self.op(ops.list_vehicles), service=name)

    @rpc
    async def FleetStatus(self, request: operator_pb2.FleetStatusRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        name, kind = self.service(request.service)
        if kind == SHARED_TAXI:
            return operator_pb2.FleetStatusResponse(**(await self.op(ops.taxi_kpis, name)))
        return operator_pb2.FleetStatusResponse(**(await self.op(ops.fleet_kpis)), service=name)

    @rpc
    async def Reoptimise(self, request: operator_pb2.ReoptimiseRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        if request.iterations < 0:
            raise InvalidInput("iterations", f"got {request.iterations} (allowed: 0 .. the engine's limit)")
        check_time("now_s", request.now_s)
        rep = await self.op(ops.reoptimise, request.iterations, request.now_s)
        return operator_pb2.ReoptimiseResponse(
            adopted=rep.adopted,
            cost_before=rep.cost_before,
            cost_after=rep.cost_after,
            moved_rides=list(rep.moved_rides),
        )

    @rpc
    async def GetServiceMap(self, request: operator_pb2.GetServiceMapRequest, context: grpc.aio.ServicerContext) -> Any:
        """Any authenticated caller; the message is built once per service and kept."""
        self.who("rider", "driver", "operator")
        name = self.service(request.service)[0]
        message = self._maps.get(name)
        if message is None:
            message = self._maps[name] = cv.service_map(await self.blocking(self.core.service_map, name))
        return message

    @rpc
    async def ListRides(self, request: operator_pb2.ListRidesRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        if request.limit < 0:
            raise InvalidInput("limit", f"got {request.limit} (allowed: 0 for all, or 1 and more)")
        service = self.service(request.service)[0] if request.service else None
        rides = await self.op(ops.list_rides, service, request.open_only, request.limit)
        return operator_pb2.ListRidesResponse(rides=[cv.ride_to_proto(r) for r in rides])

    @rpc
    async def GetVehicleRoute(
        self, request: operator_pb2.GetVehicleRouteRequest, context: grpc.aio.ServicerContext
    ) -> Any:
        """An operator, or the driver of the vehicle."""
        p = self.who("driver", "operator")
        cv.check_id("vehicle_id", request.vehicle_id)
        check_drives(p, request.vehicle_id)
        taxi = self.taxi_of(request.vehicle_id, request.service)
        if taxi is not None:
            route = await self.op(ops.taxi_route, taxi, request.vehicle_id)
        else:
            route = await self.op(ops.vehicle_route, request.vehicle_id)
        last = await self.blocking(self.core.last_event_id, f"vehicle:{request.vehicle_id}")
        return cv.vehicle_route(last or "", request.vehicle_id, self.core.clock_s, route)

    @rpc
    async def UpdateTraffic(self, request: operator_pb2.UpdateTrafficRequest, context: grpc.aio.ServicerContext) -> Any:
        self.who("operator")
        expected = self.core.num_edges()
        times = np.asarray(request.edge_travel_time_s, dtype=np.float64)
        if times.shape != (expected,):
            raise InvalidInput("edge_travel_time_s", f"{times.size} values for {expected} edges")
        check_time("now_s", request.now_s)
        return operator_pb2.UpdateTrafficResponse(seconds=await self.op(ops.update_traffic, times, request.now_s))
