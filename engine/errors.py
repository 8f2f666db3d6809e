"""One table from exceptions to gRPC status codes (and the rich error details clients see).

A client's mistake is never INTERNAL: bad input is INVALID_ARGUMENT with a
``google.rpc.BadRequest`` listing the field violations, an unknown id is NOT_FOUND, a request
that does not fit the current state (cancelling a completed ride, an expired offer) is
FAILED_PRECONDITION (a request booked at once and rejected also, with a ``google.rpc.ErrorInfo``
naming the rejection's reason), a missing or unknown token UNAUTHENTICATED, someone else's ride or
vehicle PERMISSION_DENIED, a state store that cannot be reached or an engine with too many
commands waiting UNAVAILABLE (nothing was done: retry), and a call whose deadline passed before
the engine began it DEADLINE_EXCEEDED (nothing was done either).
"""

from __future__ import annotations

import logging
from typing import NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
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


class Overloaded(Exception):
    """Too many commands wait for the engine: this one was refused at once, nothing done."""


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
    code: grpc.StatusCode, rpc_code: int, message: str, field: str | None = None, reason: str | None = None
) -> grpc.Status:
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
    return rpc_status.to_status(status_pb2.Status(code=rpc_code, message=message, details=details))


def status_of(exc: BaseException) -> grpc.Status:
    """The gRPC status for an exception raised while serving a call."""
    if isinstance(exc, InvalidInput):
        return _status(grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT, str(exc), exc.field)
    if isinstance(exc, InvalidValueError | InvalidArgumentError):
        field = FIELD_PATHS.get(exc.field, exc.field)
        return _status(grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT, str(exc), field)
    if isinstance(exc, RoutingError):
        return _status(grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT, str(exc))
    if isinstance(exc, NotFoundError):
        return _status(grpc.StatusCode.NOT_FOUND, code_pb2.NOT_FOUND, str(exc))
    if isinstance(exc, Rejected):
        return _status(
            grpc.StatusCode.FAILED_PRECONDITION, code_pb2.FAILED_PRECONDITION, str(exc), reason=exc.reason.upper()
        )
    if isinstance(exc, ConflictError):
        return _status(grpc.StatusCode.FAILED_PRECONDITION, code_pb2.FAILED_PRECONDITION, str(exc))
    if isinstance(exc, Unauthenticated):
        return _status(grpc.StatusCode.UNAUTHENTICATED, code_pb2.UNAUTHENTICATED, str(exc))
    if isinstance(exc, PermissionDenied):
        return _status(grpc.StatusCode.PERMISSION_DENIED, code_pb2.PERMISSION_DENIED, str(exc))
    if isinstance(exc, DeadlineExceeded):
        return _status(grpc.StatusCode.DEADLINE_EXCEEDED, code_pb2.DEADLINE_EXCEEDED, str(exc))
    if isinstance(exc, Overloaded):
        return _status(grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE, str(exc))
    if isinstance(exc, StoreUnavailable):
        return _status(grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE, f"state store unavailable: {exc}")
    log.exception("internal error", exc_info=exc)
    return _status(grpc.StatusCode.INTERNAL, code_pb2.INTERNAL, f"internal error: {type(exc).__name__}")


def abort(context: grpc.ServicerContext, exc: BaseException) -> NoReturn:
    """End the call with the status for ``exc``."""
    context.abort_with_status(status_of(exc))
    raise AssertionError("unreachable")  # pragma: no cover - abort_with_status raises
