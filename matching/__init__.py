"""Decisions: which vehicle serves which request(s), and at what price.

The public API of the dispatch layer's domain model:

* :class:`Request` — a rider's request (points or stops, time, party), checked on construction;
* :class:`Offer`, :class:`Rejection` (with a :class:`RejectReason`) — the dispatcher's answers;
* :class:`VehicleState`, :class:`RideStatus`, :class:`RiderClass`, and the kinds of stops and events:
  :class:`StopKind`, :class:`StopEventKind`, :class:`DispatchEventKind`, :class:`RideUpdateKind`;
* :class:`ServiceParams` — the service rules (waits, ride times, walking, zone, hours), from TOML;
* :class:`FarePolicy`, :class:`ImodFare`, :class:`SharedTaxiFare` — fares (KRW by default; :func:`format_money`);
* :class:`ServiceArea` — the zone, the stops in walking reach and the time checks of a request;
* :class:`Dispatcher` — quotes, books and re-optimises over the fleet's plan
  (:class:`DispatchEvent`, :class:`ReoptimiseReport`);
* :class:`Deployment` — what a service runs on (network, stops, fleet, rules, fares) from TOML;
  :func:`load_world` and :func:`make_fleet` build it;
* the errors, all subclasses of :class:`MatchingError`; the checks of ids, times and ranges
  they come from are in :mod:`matching.checks`.

Times are integer seconds on the service clock (seconds since midnight of the service day),
distances integer metres, money integer KRW. This package imports ``routing`` only.
"""

from .deployment import Deployment, load_world, make_fleet
from .dispatcher import Checkpoint, Dispatcher, DispatchEvent, ReoptimiseReport
from .errors import (
    ConflictError,
    InvalidRequestError,
    InvalidValueError,
    MatchingError,
    NotFoundError,
    ParamsFileError,
)
from .fares import (
    DEFAULT_CURRENCY,
    FARE_POLICIES,
    FarePolicy,
    ImodFare,
    SharedTaxiFare,
    fare_policy_from_name,
    format_money,
)
from .model import (
    DAY_S,
    ID_PATTERN,
    ID_RULE,
    MAX_PASSENGERS,
    MAX_TIME_S,
    SCOPED_ID_PATTERN,
    SCOPED_ID_RULE,
    DispatchEventKind,
    Offer,
    Rejection,
    RejectReason,
    Request,
    RiderClass,
    RideStatus,
    RideUpdateKind,
    StopEventKind,
    StopKind,
    VehicleState,
    id_problem,
    scoped_id,
)
from .params import ServiceParams
from .service_area import (
    PAST_GRACE_S,
    Refusal,
    ServiceArea,
    StopChoice,
    StopPair,
    point_in_polygon,
    stops_in_zone,
)

__all__ = [
    "DAY_S",
    "DEFAULT_CURRENCY",
    "FARE_POLICIES",
    "ID_PATTERN",
    "ID_RULE",
    "MAX_PASSENGERS",
    "MAX_TIME_S",
    "PAST_GRACE_S",
    "SCOPED_ID_PATTERN",
    "SCOPED_ID_RULE",
    "Checkpoint",
    "ConflictError",
    "Deployment",
    "DispatchEvent",
    "DispatchEventKind",
    "Dispatcher",
    "FarePolicy",
    "ImodFare",
    "InvalidRequestError",
    "InvalidValueError",
    "MatchingError",
    "NotFoundError",
    "Offer",
    "ParamsFileError",
    "Refusal",
    "RejectReason",
    "Rejection",
    "ReoptimiseReport",
    "Request",
    "RideStatus",
    "RideUpdateKind",
    "RiderClass",
    "ServiceArea",
    "ServiceParams",
    "SharedTaxiFare",
    "StopChoice",
    "StopEventKind",
    "StopKind",
    "StopPair",
    "VehicleState",
    "fare_policy_from_name",
    "format_money",
    "id_problem",
    "load_world",
    "make_fleet",
    "point_in_polygon",
    "scoped_id",
    "stops_in_zone",
]
