"""One table from exceptions to gRPC status codes (and the rich error details clients see).

A client's mistake is never INTERNAL: bad input is INVALID_ARGUMENT with a
``google.rpc.BadRequest`` listing the field violations, an unknown id is NOT_FOUND, a request
that does not fit the current state (cancelling a completed ride, an expired offer) is
FAILED_PRECONDITION (a request booked at once and rejected also, with a ``google.rpc.ErrorInfo``
naming the rejection's reason), a missing or unknown token UNAUTHENTICATED, someone else's ride or
vehicle PERMISSION_DENIED, a limit of the server reached (streams per caller, in all)
RESOURCE_EXHAUSTED naming the limit, a state store that cannot be reached or an engine with too
many commands waiting UNAVAILABLE (nothing was done: retry), and a call whose deadline passed
before the engine began it DEADLINE_EXCEEDED (nothing was done either).
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from matching.errors import ConflictError, InvalidValueError, NotFoundError
from routing.errors import InvalidArgumentError, RoutingError

from .store import StoreUnavailable

log = logging.getLogger(__name__)


class Unauthenticated(Exception):
    """No valid bearer token."""


class PermissionDenied(Exception):
    """The caller's role or identity does not allow this."""


class DeadlineExceeded(Exception):
    """The caller's time ran out before the engine began the command: it was dropped, nothing done."""

    def __init__(self, message: str = "the call's time ran out before the engine began it: nothing was done") -> None:
        super().__init__(message)


class Overloaded(Exception):
    """Too many commands wait for the engine: this one was refused at once, nothing done."""


class LimitReached(Exception):
    """A limit of the server (streams per caller, per client address, in all) is reached.

    Attributes:
        limit: the setting that sets it (e.g. ``max_streams_per_caller``), named in the message.
    """

    def __init__(self, limit: str, message: str) -> None:
        self.limit = limit
        super().__init__(message)


class Rejected(Exception):
    """A request booked at once (BookRide with a request) that the dispatcher rejects."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(f"rejected ({reason}): {detail}")


class InvalidInput(ValueError):
    """A malformed request message (field path and reason)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


#: matching/routing field names -> the request message's field paths
FIELD_PATHS = {
    "id": "request_id",
    "origin_lat": "origin.point.lat",
    "origin_lon": "origin.point.lon",
    "origin_stop": "origin.stop",
    "destination_lat": "destination.point.lat",
    "destination_lon": "destination.point.lon",
    "destination_stop": "destination.stop",
    "requested_time_s": "requested_time_s",
    "submitted_time_s": "now_s",
    "lat": "point.lat",
    "lon": "point.lon",
    "travel_time_s": "edge_travel_time_s",
}


def nested(exc: BaseException, prefix: str) -> BaseException:
    """``exc`` with its field path under ``prefix`` (a message inside the request), if it names one."""
    if isinstance(exc, InvalidInput):
        return InvalidInput(prefix + exc.field, str(exc).removeprefix(f"{exc.field}: "))
    if isinstance(exc, InvalidValueError | InvalidArgumentError):
        return InvalidInput(prefix + FIELD_PATHS.get(exc.field, exc.field), str(exc).removeprefix(f"{exc.field}: "))
    return exc


def _status(
    code: grpc.StatusCode,
    message: str,
    field: str | None = None,
    reason: str | None = None,
    rider: str | None = None,
) -> grpc.Status:
    if rider is not None:  # a rider's ids as they name them (see engine.converters)
        message = message.replace(f"{rider}/", "")
    details = []
    if reason is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="mobility.v1"))
        details.append(detail)
    if field is not None:
        bad = error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=message)]
        )
        detail = any_pb2.Any()
        detail.Pack(bad)
        details.append(detail)
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message, details=details))


def status_of(exc: BaseException, rider: str | None = None) -> grpc.Status:
    """The gRPC status for an exception raised while serving a call (to ``rider``, if given: with
    their own ids as they name them)."""
    field: str | None = None
    reason: str | None = None
    message = str(exc)
    if isinstance(exc, InvalidInput):
        code, field = grpc.StatusCode.INVALID_ARGUMENT, exc.field
    elif isinstance(exc, InvalidValueError | InvalidArgumentError):
        code, field = grpc.StatusCode.INVALID_ARGUMENT, FIELD_PATHS.get(exc.field, exc.field)
    elif isinstance(exc, RoutingError):
        code = grpc.StatusCode.INVALID_ARGUMENT
    elif isinstance(exc, NotFoundError):
        code = grpc.StatusCode.NOT_FOUND
    elif isinstance(exc, Rejected):
        code, reason = grpc.StatusCode.FAILED_PRECONDITION, exc.reason.upper()
    elif isinstance(exc, ConflictError):
        code = grpc.StatusCode.FAILED_PRECONDITION
    elif isinstance(exc, Unauthenticated):
        code = grpc.StatusCode.UNAUTHENTICATED
    elif isinstance(exc, PermissionDenied):
        code = grpc.StatusCode.PERMISSION_DENIED
    elif isinstance(exc, LimitReached):
        code, reason = grpc.StatusCode.RESOURCE_EXHAUSTED, exc.limit.upper()
    elif isinstance(exc, DeadlineExceeded):
        code = grpc.StatusCode.DEADLINE_EXCEEDED
    elif isinstance(exc, Overloaded):
        code = grpc.StatusCode.UNAVAILABLE
    elif isinstance(exc, StoreUnavailable):
        code, message = grpc.StatusCode.UNAVAILABLE, f"state store unavailable: {exc}"
    else:
        log.exception("internal error", exc_info=exc)
        code, message = grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}"
    return _status(code, message, field, reason, rider)


def end_call(context: grpc.aio.ServicerContext, exc: BaseException, rider: str | None = None) -> None:
    """Set the status for ``exc`` (to ``rider``, if given, see :func:`status_of`) on a call of a
    ``grpc.aio`` server; the handler then returns (a stream ends), and the call ends with it.

    Not ``context.abort``: that raises an exception which ``grpc.aio`` keeps on the call, in a
    reference cycle through the exception's traceback, so the call (and its HTTP/2 stream) stays
    alive until the garbage collector's next full pass. A front end, whose collector runs rarely
    (:func:`engine.server.settle_gc`), refused every call with REFUSED_STREAM after 100 errors on
    one connection (the connection's ``max_concurrent_streams``)."""
    status = status_of(exc, rider)
    context.set_code(status.code)
    context.set_details(status.details)
    context.set_trailing_metadata(status.trailing_metadata)
