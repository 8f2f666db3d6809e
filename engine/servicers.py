"""The gRPC servicers: thin adapters from protocol buffers to the engine core.

Each method identifies the caller (bearer token), checks the role and ownership, converts
the message, calls :class:`~engine.core.EngineCore` and converts the answer back; every
exception becomes the right status code (:mod:`engine.errors`).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc
import numpy as np

from matching import Offer, Request
from mobility.v1 import driver_pb2, driver_pb2_grpc, operator_pb2, operator_pb2_grpc, rider_pb2, rider_pb2_grpc

from . import converters as cv
from .auth import Principal, TokenTable
from .core import MAX_CLOCK_S, EngineCore, Subscription, call_deadline
from .errors import InvalidInput, PermissionDenied, abort, nested

F = TypeVar("F", bound=Callable[..., Any])
_TERMINAL = ("completed", "cancelled", "no_show", "expired")
#: How far ahead of the engine's clock a vehicle may say it will be somewhere (ReportLocation):
#: where it heads next, not a place to park it a year ahead.
MAX_REPORT_AHEAD_S = 2 * 3600
#: Time kept from a call's deadline for its answer to travel back.
_REPLY_MARGIN_S = 0.05
#: Event ids: "<ms>-<seq>" (Redis Stream ids).
EVENT_ID = re.compile(r"\d{1,15}-\d{1,15}")


def check_time(field: str, value: int) -> None:
    """Times on the service clock: 0 .. a year (0 also means "not given")."""
    if not 0 <= value <= MAX_CLOCK_S:
        raise InvalidInput(field, f"got {value} (allowed: 0 .. {MAX_CLOCK_S} s)")


_POLL_S = 0.5


@contextlib.contextmanager
def deadline_of(context: grpc.ServicerContext) -> Iterator[None]:
    """While handling the call: its deadline (less the time its answer needs) is the engine's
    :data:`~engine.core.call_deadline`, so a command it queues is dropped, not done, if the
    caller has given up before the engine begins it."""
    remaining = context.time_remaining()
    at = None if remaining is None else time.monotonic() + max(0.0, remaining - _REPLY_MARGIN_S)
    token = call_deadline.set(at)
    try:
        yield
    finally:
        call_deadline.reset(token)


def rpc(fn: F) -> F:
    """Turn any exception of a unary handler into its status code; the call's deadline bounds
    the wait for the engine (:func:`deadline_of`)."""

    @functools.wraps(fn)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with deadline_of(context):
                return fn(self, request, context)
        except Exception as exc:
            abort(context, exc)

    return wrapper  # type: ignore[return-value]


class _Base:
    def __init__(self, core: EngineCore, tokens: TokenTable) -> None:
        self.core = core
        self.tokens = tokens

    def who(self, context: grpc.ServicerContext, *roles: str) -> Principal:
        principal = self.tokens.identify(context.invocation_metadata())
        principal.require(*roles)
        return principal

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

    def stream(
        self,
        context: grpc.ServicerContext,
        topic: str,
        after: str,
        first: Callable[[], Any] | None,
        convert: Callable[[str, dict[str, Any]], Any],
        done: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Iterator[Any]:
        """History after ``after`` (or the current state), then live events until the call ends."""
        if after and not EVENT_ID.fullmatch(after):
            abort(
                context,
                InvalidInput("after_event_id", f"got {after[:40]!r} (allowed: an event id like 1700000000000-0)"),
            )
        sub: Subscription = self.core.subscribe(topic)
        try:
            last: str | None = None
            if after:
                try:
                    history = self.core.history(topic, after)
                except Exception as exc:
                    abort(context, exc)
                for event_id, payload in history:
                    last = event_id
                    yield convert(event_id, payload)
                    if done and done(payload):
                        return
            elif first is not None:
                last = self.core.store.last_event_id(topic)
                yield first()
            while context.is_active():
                try:
                    item = sub.items.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if item is None:
                    if sub.error is not None:
                        abort(context, sub.error)
                    return
                event_id, payload = item
                if not self.core.newer(event_id, last):
                    continue
                last = event_id
                yield convert(event_id, payload)
                if done and done(payload):
                    return
                if sub.overflow:
                    context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "stream too slow; resume with after_event_id")
        finally:
            self.core.unsubscribe(sub)


class RiderServicer(_Base, rider_pb2_grpc.RiderServiceServicer):
    def _request(self, msg: rider_pb2.QuoteRequest, p: Principal, now_s: int) -> Request:
        """The request a quote message describes, at the clock ``now_s`` would set (field errors name
        the message's fields). A request for "now" (no ``requested_time_s``) is stamped again by the
        engine when it runs the command (``asap``)."""
        check_time("requested_time_s", msg.requested_time_s)
        clock = max(self.core.clock_s, now_s)  # the writer moves the clock itself
        return cv.request_from_proto(msg, p.subject if p.role == "rider" else None, clock)

    def _own(self, principal: Principal, ride_id: str) -> None:
        if principal.role != "operator" and not principal.may_see_ride(self.core.ride_owner(ride_id)):
            raise PermissionDenied(f"ride {ride_id} belongs to another rider")

    @rpc
    def Quote(self, request: rider_pb2.QuoteRequest, context: grpc.ServicerContext) -> rider_pb2.QuoteResponse:
        p = self.who(context, "rider", "operator")
        now_s = self.time_of(p, "now_s", request.now_s)
        req = self._request(request, p, now_s)
        answer = self.core.quote(req, now_s, asap=not request.requested_time_s)
        if isinstance(answer, Offer):
            return rider_pb2.QuoteResponse(offer=cv.offer_to_proto(answer))
        return rider_pb2.QuoteResponse(rejection=cv.rejection_to_proto(answer))

    @rpc
    def BookRide(self, request: rider_pb2.BookRideRequest, context: grpc.ServicerContext) -> Any:
        p = self.who(context, "rider", "operator")
        at_once = request.HasField("request")
        if at_once and request.offer_id:
            raise InvalidInput("offer_id", "give an offer_id or a request to book at once, not both")
        if not at_once and not request.offer_id:
            raise InvalidInput("offer_id", "missing (or give a request to book at once)")
        if len(request.idempotency_key) > 128:
            raise InvalidInput("idempotency_key", "longer than 128 characters")
        now_s = self.time_of(p, "now_s", request.now_s)
        rider_id = p.subject if p.role == "rider" else None
        if not at_once:
            ride = self.core.book(request.offer_id, request.idempotency_key, now_s, rider_id=rider_id)
            return cv.ride_to_proto(ride)
        try:
            req = self._request(request.request, p, now_s)
            asap = not request.request.requested_time_s
            ride = self.core.quote_and_book(req, request.idempotency_key, now_s, rider_id=rider_id, asap=asap)
        except Exception as exc:
            field_error = nested(exc, "request.")
            if field_error is exc:
                raise
            raise field_error from exc
        return cv.ride_to_proto(ride)

    @rpc
    def CancelRide(self, request: rider_pb2.CancelRideRequest, context: grpc.ServicerContext) -> Any:
        p = self.who(context, "rider", "operator")
        if not request.ride_id:
            raise InvalidInput("ride_id", "missing")
        now_s = self.time_of(p, "now_s", request.now_s)
        self._own(p, request.ride_id)
        return cv.ride_to_proto(self.core.cancel(request.ride_id, now_s))

    @rpc
    def GetRide(self, request: rider_pb2.GetRideRequest, context: grpc.ServicerContext) -> Any:
        p = self.who(context, "rider", "operator")
        if not request.ride_id:
            raise InvalidInput("ride_id", "missing")
        self._own(p, request.ride_id)
        return cv.ride_to_proto(self.core.get_ride(request.ride_id))

    def WatchRide(self, request: rider_pb2.WatchRideRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            p = self.who(context, "rider", "operator")
            if not request.ride_id:
                raise InvalidInput("ride_id", "missing")
            self._own(p, request.ride_id)
            ride = self.core.get_ride(request.ride_id)
        except Exception as exc:
            abort(context, exc)
        topic = f"ride:{request.ride_id}"

        def first() -> Any:
            return cv.ride_update(
                self.core.store.last_event_id(topic) or "", {"kind": "state", "ride": ride, "time_s": self.core.clock_s}
            )

        yield from self.stream(
            context,
            topic,
            request.after_event_id,
            first,
            cv.ride_update,
            done=lambda payload: payload["ride"]["status"] in _TERMINAL,
        )


class DriverServicer(_Base, driver_pb2_grpc.DriverServiceServicer):
    def _driver(self, context: grpc.ServicerContext, vehicle_id: str) -> Principal:
        """The caller, who must drive ``vehicle_id`` (or be an operator)."""
        p = self.who(context, "driver", "operator")
        if not vehicle_id:
            raise InvalidInput("vehicle_id", "missing")
        if not p.may_drive(vehicle_id):
            raise PermissionDenied(f"vehicle {vehicle_id} is not yours")
        return p

    def _vehicle(self, context: grpc.ServicerContext, vehicle_id: str) -> int:
        self._driver(context, vehicle_id)
        return self.core.vehicle_index(vehicle_id)

    @rpc
    def StartShift(self, request: driver_pb2.ShiftRequest, context: grpc.ServicerContext) -> Any:
        p = self._driver(context, request.vehicle_id)
        now_s = self.time_of(p, "now_s", request.now_s)
        stop = request.stop if request.HasField("stop") else None
        return cv.vehicle_status(self.core.start_shift(request.vehicle_id, stop, now_s))

    @rpc
    def EndShift(self, request: driver_pb2.ShiftRequest, context: grpc.ServicerContext) -> Any:
        p = self._driver(context, request.vehicle_id)
        now_s = self.time_of(p, "now_s", request.now_s)
        return cv.vehicle_status(self.core.end_shift(request.vehicle_id, now_s))

    def ReportLocation(
        self, request_iterator: Iterator[driver_pb2.LocationReport], context: grpc.ServicerContext
    ) -> Any:
        accepted = 0
        try:
            for report in request_iterator:
                self._driver(context, report.vehicle_id)
                time_s = self.place_time("time_s", report.time_s)
                with deadline_of(context):
                    self.core.position(report.vehicle_id, report.stop, time_s)
                accepted += 1
        except Exception as exc:
            abort(context, exc)
        return driver_pb2.LocationAck(accepted=accepted)

    @rpc
    def GetManifest(self, request: driver_pb2.GetManifestRequest, context: grpc.ServicerContext) -> Any:
        v = self._vehicle(context, request.vehicle_id)
        stops = self.core.manifest_view(v)
        last = self.core.store.last_event_id(f"vehicle:{request.vehicle_id}") or ""
        return cv.manifest(last, request.vehicle_id, self.core.clock_s, stops)

    def WatchManifest(self, request: driver_pb2.WatchManifestRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            v = self._vehicle(context, request.vehicle_id)
            stops = self.core.manifest_view(v)
        except Exception as exc:
            abort(context, exc)
        vid = request.vehicle_id
        topic = f"vehicle:{vid}"

        def first() -> Any:
            return cv.manifest(self.core.store.last_event_id(topic) or "", vid, self.core.clock_s, stops)

        def convert(event_id: str, payload: dict[str, Any]) -> Any:
            return cv.manifest(event_id, vid, payload["time_s"], payload["stops"])

        yield from self.stream(context, topic, request.after_event_id, first, convert)

    @rpc
    def ReportStopEvent(self, request: driver_pb2.StopEvent, context: grpc.ServicerContext) -> Any:
        p = self._driver(context, request.vehicle_id)
        kind = cv.STOP_EVENT.get(request.kind)
        if kind is None:
            raise InvalidInput("kind", f"unknown stop event kind {request.kind}")
        if kind != "arrived" and not request.ride_id:
            raise InvalidInput("ride_id", "missing")
        time_s = self.time_of(p, "time_s", request.time_s)
        planned = self.core.stop_event(request.vehicle_id, kind, request.ride_id, request.stop, time_s)
        return driver_pb2.StopEventAck(planned_stops=planned)


class OperatorServicer(_Base, operator_pb2_grpc.OperatorServiceServicer):
    def WatchAssignments(
        self, request: operator_pb2.WatchAssignmentsRequest, context: grpc.ServicerContext
    ) -> Iterator[Any]:
        try:
            self.who(context, "operator")
        except Exception as exc:
            abort(context, exc)
        yield from self.stream(context, "assignments", request.after_event_id, None, cv.assignment_event)

    @rpc
    def ListVehicles(self, request: operator_pb2.ListVehiclesRequest, context: grpc.ServicerContext) -> Any:
        self.who(context, "operator")
        rows = self.core.list_vehicles()
        return operator_pb2.ListVehiclesResponse(vehicles=[cv.vehicle_status(r) for r in rows])

    @rpc
    def FleetStatus(self, request: operator_pb2.FleetStatusRequest, context: grpc.ServicerContext) -> Any:
        self.who(context, "operator")
        return operator_pb2.FleetStatusResponse(**self.core.fleet_kpis())

    @rpc
    def Reoptimise(self, request: operator_pb2.ReoptimiseRequest, context: grpc.ServicerContext) -> Any:
        self.who(context, "operator")
        if request.iterations < 0:
            raise InvalidInput("iterations", f"got {request.iterations} (allowed: 0 .. the engine's limit)")
        check_time("now_s", request.now_s)
        rep = self.core.reoptimise(request.iterations, request.now_s)
        return operator_pb2.ReoptimiseResponse(
            adopted=rep.adopted,
            cost_before=rep.cost_before,
            cost_after=rep.cost_after,
            moved_rides=list(rep.moved_rides),
        )

    @rpc
    def UpdateTraffic(self, request: operator_pb2.UpdateTrafficRequest, context: grpc.ServicerContext) -> Any:
        self.who(context, "operator")
        times = np.asarray(request.edge_travel_time_s, dtype=np.float64)
        expected = self.core.network.num_edges
        if times.shape != (expected,):
            raise InvalidInput("edge_travel_time_s", f"{times.size} values for {expected} edges")
        check_time("now_s", request.now_s)
        return operator_pb2.UpdateTrafficResponse(seconds=self.core.update_traffic(times, request.now_s))
