"""The domain model of the demand-responsive bus (I-MOD): requests, offers, rejections, vehicles.

The vocabulary follows MATSim DRT: a rider sends a :class:`Request`; the dispatcher answers
with an :class:`Offer` (a vehicle, stops, a promised pickup window and a fare) or a
:class:`Rejection` (a :class:`RejectReason` and the specifics). A booked ride then moves
through the :class:`RideStatus` values; a vehicle's plan is a list of stops of a :class:`StopKind`,
and vehicles report :class:`StopEventKind` events. What happens is told to operators as
:class:`DispatchEventKind` events, and to riders as :class:`RideUpdateKind` updates.

Conventions:

* **Times** are integer seconds on the *service clock*: seconds since midnight of the service
  day. Pre-booked requests may lie later the same day or on a later day, so values of 86,400
  and more are allowed, up to :data:`MAX_TIME_S` (366 days); a Unix time is far beyond that
  and is rejected with a hint.
* **Distances** are integer metres, **money** integer KRW.
* **Stops** are indices into a :class:`routing.StopSet`: stop ``i`` sits on network node
  ``stops.node[i]``.
* **Ids** (requests, offers, vehicles, riders) are 1 to 64 characters from ``A-Z a-z 0-9 _ . : -``
  (:data:`ID_PATTERN`). A request made by a known rider may carry its id *scoped* by the rider,
  ``"<rider id>/<id>"`` (:func:`scoped_id`): the live engine keeps its riders' request and ride
  ids apart that way, so that one rider's id never meets another's. An id is never quoted
  whole in an error (a long one is cut, see :func:`id_problem`).

Every value object is a frozen dataclass that checks itself in ``__post_init__`` and raises
:class:`~matching.errors.InvalidRequestError` (for what a rider sent) or
:class:`~matching.errors.InvalidValueError` (for the rest), naming the field and the allowed
range.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from routing import plain_repr

from .checks import (
    DAY_S,
    ID_PATTERN,
    ID_RULE,
    MAX_PASSENGERS,
    MAX_TIME_S,
    SCOPED_ID_PATTERN,
    SCOPED_ID_RULE,
    check_float,
    check_id,
    check_int,
    check_time,
    from_mapping,
    id_problem,
    set_field,
)
from .errors import InvalidRequestError, InvalidValueError

__all__ = [
    "DAY_S",
    "ID_PATTERN",
    "ID_RULE",
    "MAX_PASSENGERS",
    "MAX_TIME_S",
    "SCOPED_ID_PATTERN",
    "SCOPED_ID_RULE",
    "DispatchEventKind",
    "Offer",
    "RejectReason",
    "Rejection",
    "Request",
    "RideStatus",
    "RideUpdateKind",
    "RiderClass",
    "StopEventKind",
    "StopKind",
    "VehicleState",
    "id_problem",
    "scoped_id",
]

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The field names of dataclass ``cls``, looked up once."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


if TYPE_CHECKING:
    from .params import ServiceParams


def scoped_id(owner: str, id_: str) -> str:
    """``id_`` scoped by ``owner`` (both plain ids): ``"<owner>/<id>"``."""
    return f"{owner}/{id_}"


# ---------------------------------------------------------------------------- enums
class RiderClass(StrEnum):
    """Fare class of a rider (Korean public-transport classes)."""

    ADULT = "adult"
    YOUTH = "youth"
    CHILD = "child"

    @classmethod
    def parse(cls, value: object, *, field: str = "rider_class") -> RiderClass:
        """A :class:`RiderClass` from itself or its value in any case (``"adult"``, ``"ADULT"``)."""
        if isinstance(value, RiderClass):
            return value
        allowed = ", ".join(m.value for m in cls)
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        raise InvalidRequestError(field, f"got {plain_repr(value)}", allowed)


class RejectReason(StrEnum):
    """Why a request was not served; :attr:`message` is a sentence a rider app can show."""

    OUTSIDE_ZONE = "outside_zone"
    OUTSIDE_HOURS = "outside_hours"
    NO_STOP_IN_REACH = "no_stop_in_reach"
    SAME_STOP = "same_stop"
    TOO_MANY_PASSENGERS = "too_many_passengers"
    NO_WHEELCHAIR_VEHICLE = "no_wheelchair_vehicle"
    TOO_FAR_AHEAD = "too_far_ahead"
    TOO_SHORT_NOTICE = "too_short_notice"
    IN_THE_PAST = "in_the_past"
    NO_VEHICLE_IN_TIME = "no_vehicle_in_time"
    NO_FEASIBLE_INSERTION = "no_feasible_insertion"

    @property
    def message(self) -> str:
        """A human sentence explaining the reason."""
        return _REJECT_MESSAGES[self]


_REJECT_MESSAGES: Final[dict[RejectReason, str]] = {
    RejectReason.OUTSIDE_ZONE: "The pickup or drop-off point is outside the service area.",
    RejectReason.OUTSIDE_HOURS: "The requested time is outside the service hours.",
    RejectReason.NO_STOP_IN_REACH: "There is no stop within walking distance of the pickup or drop-off point.",
    RejectReason.SAME_STOP: "The pickup and drop-off points are served by the same stop.",
    RejectReason.TOO_MANY_PASSENGERS: "The request has more passengers than one booking may carry.",
    RejectReason.NO_WHEELCHAIR_VEHICLE: "No vehicle with a free wheelchair place can serve the request.",
    RejectReason.TOO_FAR_AHEAD: "The requested time is further ahead than bookings may be made.",
    RejectReason.TOO_SHORT_NOTICE: "The requested time is sooner than the minimum booking notice allows.",
    RejectReason.IN_THE_PAST: "The requested time is in the past.",
    RejectReason.NO_VEHICLE_IN_TIME: "No vehicle can reach the pickup stop within the maximum waiting time.",
    RejectReason.NO_FEASIBLE_INSERTION: (
        "No vehicle can take the ride without breaking the promises made to riders already booked."
    ),
}


class StopKind(StrEnum):
    """What a vehicle does at a planned stop: pick a ride's riders up or drop them off."""

    PICKUP = "pickup"
    DROPOFF = "dropoff"


class StopEventKind(StrEnum):
    """What a vehicle reports at a stop."""

    ARRIVED = "arrived"
    BOARDED = "boarded"
    ALIGHTED = "alighted"
    NO_SHOW = "no_show"


class DispatchEventKind(StrEnum):
    """What happened, as the operators hear it (the kind of a dispatcher's event).

    ``SERVICE_DAY`` is the live engine's own: a new service day began."""

    OFFER = "offer"
    REJECTION = "rejection"
    BOOKING = "booking"
    ASSIGNMENT = "assignment"
    REASSIGNMENT = "reassignment"
    CANCELLATION = "cancellation"
    BOARDED = "boarded"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    LATE = "late"
    EXPIRED = "expired"
    SHIFT_ENDED = "shift_ended"
    SHIFT_STARTED = "shift_started"
    SERVICE_DAY = "service_day"


class RideUpdateKind(StrEnum):
    """Why a rider hears about their ride: what changed (the ride as it is now comes with it)."""

    STATE = "state"
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    ETA = "eta"
    POSITION = "position"
    ARRIVED = "arrived"
    ON_BOARD = "on_board"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    LATE = "late"
    EXPIRED = "expired"


class RideStatus(StrEnum):
    """Life cycle of a ride, from the offer to the end.

    ``OFFERED`` (an offer is out) -> ``BOOKED`` (the rider accepted; the ride is in a plan)
    -> ``ASSIGNED`` (committed to a vehicle that is on its way) -> ``ON_BOARD`` -> ``COMPLETED``.
    ``CANCELLED`` (declined or expired offers, cancelled bookings) and ``NO_SHOW`` end a ride
    early; ``EXPIRED`` ends a ride that its service day left open (the live engine closes the
    day, and no one reported the ride's end). ``ASSIGNED`` may fall back to ``BOOKED`` when
    re-optimisation releases a pre-booked ride from its vehicle. :meth:`can_become` encodes these transitions.
    """

    OFFERED = "offered"
    BOOKED = "booked"
    ASSIGNED = "assigned"
    ON_BOARD = "on_board"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """Whether the ride is over (completed, cancelled, a no-show or expired)."""
        return self in (RideStatus.COMPLETED, RideStatus.CANCELLED, RideStatus.NO_SHOW, RideStatus.EXPIRED)

    def can_become(self, new: RideStatus) -> bool:
        """Whether a ride in this status may move to ``new``."""
        return new in _RIDE_TRANSITIONS[self]


_RIDE_TRANSITIONS: Final[dict[RideStatus, frozenset[RideStatus]]] = {
    RideStatus.OFFERED: frozenset({RideStatus.BOOKED, RideStatus.CANCELLED}),
    RideStatus.BOOKED: frozenset(
        {RideStatus.ASSIGNED, RideStatus.ON_BOARD, RideStatus.CANCELLED, RideStatus.NO_SHOW, RideStatus.EXPIRED}
    ),
    RideStatus.ASSIGNED: frozenset(
        {RideStatus.BOOKED, RideStatus.ON_BOARD, RideStatus.CANCELLED, RideStatus.NO_SHOW, RideStatus.EXPIRED}
    ),
    RideStatus.ON_BOARD: frozenset({RideStatus.COMPLETED, RideStatus.EXPIRED}),
    RideStatus.COMPLETED: frozenset(),
    RideStatus.CANCELLED: frozenset(),
    RideStatus.NO_SHOW: frozenset(),
    RideStatus.EXPIRED: frozenset(),
}


# ---------------------------------------------------------------------------- request
@dataclass(frozen=True, kw_only=True)
class Request:
    """A rider's request for a ride, checked on construction.

    Each end of the ride is given **either** as a point (``origin_lat`` and ``origin_lon``)
    **or** as a stop index (``origin_stop``); likewise for the destination. Points are later
    walked to the nearest stop (:class:`~matching.service_area.ServiceArea`).

    Attributes:
        id: the request's id (see :data:`ID_RULE`), or, with ``rider_id``, that id scoped by the
            rider: ``"<rider_id>/<id>"`` (:func:`scoped_id`).
        requested_time_s: earliest pickup time on the service clock; the pickup happens no
            earlier than this and no later than this plus the service's maximum wait.
        submitted_time_s: when the request was made; ``None`` means "at the requested time"
            (an immediate request; see :attr:`submitted_at_s`). At most ``requested_time_s``.
        origin_lat, origin_lon: the pickup point (WGS84 degrees), or ``None``.
        origin_stop: the pickup stop index, or ``None``.
        destination_lat, destination_lon: the drop-off point, or ``None``.
        destination_stop: the drop-off stop index, or ``None``.
        passengers: the party size, 1 .. :data:`MAX_PASSENGERS` here; the service's own
            limit is checked by :meth:`validate`.
        rider_class: the fare class; strings such as ``"youth"`` are accepted and converted.
        wheelchair: whether the party needs a wheelchair place.
        rider_id: the rider who owns the request (for authorisation), or ``None``.

    Raises:
        InvalidRequestError: naming the field at fault and its allowed range.
    """

    id: str
    requested_time_s: int
    submitted_time_s: int | None = None
    origin_lat: float | None = None
    origin_lon: float | None = None
    origin_stop: int | None = None
    destination_lat: float | None = None
    destination_lon: float | None = None
    destination_stop: int | None = None
    passengers: int = 1
    rider_class: RiderClass = RiderClass.ADULT
    wheelchair: bool = False
    rider_id: str | None = None

    def __post_init__(self) -> None:
        err = InvalidRequestError
        if self.rider_id is not None:
            check_id("rider_id", self.rider_id, error=err)
        if isinstance(self.rider_id, str) and isinstance(self.id, str) and self.id.startswith(f"{self.rider_id}/"):
            check_id("id", self.id[len(self.rider_id) + 1 :], error=err)  # scoped by its own rider
        else:
            check_id("id", self.id, error=err)
        requested = check_time("requested_time_s", self.requested_time_s, error=err)
        set_field(self, "requested_time_s", requested)
        if self.submitted_time_s is not None:
            submitted = check_time("submitted_time_s", self.submitted_time_s, error=err)
            if submitted > requested:
                raise err(
                    "submitted_time_s",
                    f"{submitted} is later than requested_time_s {requested}",
                    f"0 .. {requested} s (no later than requested_time_s)",
                )
            set_field(self, "submitted_time_s", submitted)
        self._check_end("origin")
        self._check_end("destination")
        if self.origin_stop is not None and self.origin_stop == self.destination_stop:
            raise err(
                "destination_stop",
                f"the same stop as origin_stop ({self.origin_stop})",
                "a stop other than origin_stop",
            )
        set_field(self, "passengers", check_int("passengers", self.passengers, 1, MAX_PASSENGERS, error=err))
        set_field(self, "rider_class", RiderClass.parse(self.rider_class))
        if not isinstance(self.wheelchair, bool | np.bool_):
            raise err("wheelchair", f"expected true or false, got {plain_repr(self.wheelchair)}", "true, false")
        set_field(self, "wheelchair", bool(self.wheelchair))

    def _check_end(self, end: str) -> None:
        err = InvalidRequestError
        lat_name, lon_name, stop_name = f"{end}_lat", f"{end}_lon", f"{end}_stop"
        lat, lon, stop = getattr(self, lat_name), getattr(self, lon_name), getattr(self, stop_name)
        either = f"{lat_name} and {lon_name}, or {stop_name}"
        if lat is None and lon is None:
            if stop is None:
                raise err(stop_name, f"missing: the {end} is given by {either}", either)
            set_field(self, stop_name, check_int(stop_name, stop, 0, error=err))
            return
        if lat is None or lon is None:
            missing = lat_name if lat is None else lon_name
            raise err(missing, f"missing: {lat_name} and {lon_name} go together", either)
        if stop is not None:
            raise err(stop_name, f"given together with {lat_name}/{lon_name}", f"{either}, not both")
        set_field(self, lat_name, check_float(lat_name, lat, -90.0, 90.0, unit="degrees", error=err))
        set_field(self, lon_name, check_float(lon_name, lon, -180.0, 180.0, unit="degrees", error=err))

    @property
    def submitted_at_s(self) -> int:
        """When the request was made: ``submitted_time_s``, or ``requested_time_s`` if that is ``None``."""
        return self.requested_time_s if self.submitted_time_s is None else self.submitted_time_s

    def validate(self, params: ServiceParams) -> None:
        """Check the request against the service's limits (the party size).

        Raises:
            InvalidRequestError: ``passengers`` exceeds ``params.max_passengers_per_request``.
        """
        limit = params.max_passengers_per_request
        if self.passengers > limit:
            raise InvalidRequestError(
                "passengers",
                f"got {self.passengers}; this service carries at most {limit} per booking",
                f"1 .. {limit}",
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Request:
        """A request from a plain mapping (decoded JSON, TOML or a protobuf message as a dict).

        Keys are the field names; unknown keys and missing required keys (``id``,
        ``requested_time_s``) are refused, and ``rider_class`` may be a string in any case.

        Raises:
            InvalidRequestError: naming the bad key or field.
        """
        return from_mapping(cls, data, error=InvalidRequestError)

    def to_dict(self) -> dict[str, Any]:
        """The request as a plain dict of JSON types, without ``None`` fields; :meth:`from_dict` reads it back."""
        out: dict[str, Any] = {}
        for name in _field_names(type(self)):
            value = getattr(self, name)
            if value is None:
                continue
            out[name] = value.value if isinstance(value, Enum) else value
        return out


# ---------------------------------------------------------------------------- answers
@dataclass(frozen=True)
class Rejection:
    """The dispatcher's answer when it cannot serve a request.

    Attributes:
        request_id: the request this answers.
        reason: why (a :class:`RejectReason`; its value string is accepted too).
        detail: the specifics, e.g. ``"nearest stop is 812 m away; the walking limit is 400 m"``.
    """

    request_id: str
    reason: RejectReason
    detail: str = ""

    def __post_init__(self) -> None:
        check_id("request_id", self.request_id, scoped=True)
        if not isinstance(self.reason, RejectReason):
            try:
                set_field(self, "reason", RejectReason(self.reason))
            except ValueError:
                raise InvalidValueError(
                    "reason", f"got {plain_repr(self.reason)}", ", ".join(r.value for r in RejectReason)
                ) from None
        if not isinstance(self.detail, str):
            raise InvalidValueError("detail", f"expected a string, got {plain_repr(self.detail)}")

    @property
    def message(self) -> str:
        """The reason's sentence followed by the detail, for showing to a rider or an operator."""
        if not self.detail:
            return self.reason.message
        detail = self.detail[0].upper() + self.detail[1:]
        return f"{self.reason.message} {detail}{'' if detail.endswith('.') else '.'}"


@dataclass(frozen=True, kw_only=True)
class Offer:
    """The dispatcher's answer when it can serve a request: a vehicle, stops, a promise and a price.

    The *promise* is what the rider is held to and what re-optimisation must keep: pickup
    within ``[pickup_window_start_s, pickup_window_end_s]`` and drop-off no later than
    ``latest_dropoff_s``. The ETAs are the current plan and may move inside the promise.

    Attributes:
        offer_id: this offer's id.
        request_id: the request it answers.
        vehicle_id: the vehicle planned to serve it.
        pickup_stop, dropoff_stop: stop indices (different stops).
        walk_to_pickup_m, walk_from_dropoff_m: straight-line walks to and from the stops.
        pickup_eta_s: planned arrival of the vehicle at the pickup stop.
        pickup_window_start_s, pickup_window_end_s: the promised pickup window (contains the ETA).
        dropoff_eta_s: planned arrival at the drop-off stop (after the pickup ETA).
        latest_dropoff_s: the promised latest drop-off (no earlier than the drop-off ETA).
        fare_krw: the price of the booking (all passengers).
        direct_distance_m, direct_time_s: the direct drive from the pickup to the drop-off stop.
        max_ride_s: the longest ride allowed (at least the direct time).
        valid_until_s: the offer expires after this time.
        cost: the dispatcher's insertion cost (for operators; finite).

    Raises:
        InvalidValueError: naming the field that breaks an invariant.
    """

    offer_id: str
    request_id: str
    vehicle_id: str
    pickup_stop: int
    dropoff_stop: int
    walk_to_pickup_m: int
    walk_from_dropoff_m: int
    pickup_eta_s: int
    pickup_window_start_s: int
    pickup_window_end_s: int
    dropoff_eta_s: int
    latest_dropoff_s: int
    fare_krw: int
    direct_distance_m: int
    direct_time_s: int
    max_ride_s: int
    valid_until_s: int
    cost: float

    def __post_init__(self) -> None:
        for name in ("offer_id", "vehicle_id"):
            check_id(name, getattr(self, name))
        check_id("request_id", self.request_id, scoped=True)
        for name in (
            "pickup_stop",
            "dropoff_stop",
            "walk_to_pickup_m",
            "walk_from_dropoff_m",
            "fare_krw",
            "direct_distance_m",
            "direct_time_s",
            "max_ride_s",
        ):
            set_field(self, name, check_int(name, getattr(self, name), 0))
        for name in (
            "pickup_eta_s",
            "pickup_window_start_s",
            "pickup_window_end_s",
            "dropoff_eta_s",
            "latest_dropoff_s",
            "valid_until_s",
        ):
            set_field(self, name, check_time(name, getattr(self, name)))
        if isinstance(self.cost, bool) or not isinstance(self.cost, int | float | np.integer | np.floating):
            raise InvalidValueError("cost", f"expected a number, got {plain_repr(self.cost)}", "a finite number")
        if not math.isfinite(self.cost):
            raise InvalidValueError("cost", f"got {plain_repr(self.cost)}", "a finite number")
        set_field(self, "cost", float(self.cost))
        if self.dropoff_stop == self.pickup_stop:
            raise InvalidValueError("dropoff_stop", f"the same stop as pickup_stop ({self.pickup_stop})")
        if self.pickup_window_start_s > self.pickup_eta_s:
            raise InvalidValueError(
                "pickup_window_start_s",
                f"{self.pickup_window_start_s} is after pickup_eta_s {self.pickup_eta_s}",
                "<= pickup_eta_s",
            )
        if self.pickup_window_end_s < self.pickup_eta_s:
            raise InvalidValueError(
                "pickup_window_end_s",
                f"{self.pickup_window_end_s} is before pickup_eta_s {self.pickup_eta_s}",
                ">= pickup_eta_s",
            )
        if self.dropoff_eta_s <= self.pickup_eta_s:
            raise InvalidValueError(
                "dropoff_eta_s", f"{self.dropoff_eta_s} is not after pickup_eta_s {self.pickup_eta_s}", "> pickup_eta_s"
            )
        if self.latest_dropoff_s < self.dropoff_eta_s:
            raise InvalidValueError(
                "latest_dropoff_s",
                f"{self.latest_dropoff_s} is before dropoff_eta_s {self.dropoff_eta_s}",
                ">= dropoff_eta_s",
            )
        if self.max_ride_s < self.direct_time_s:
            raise InvalidValueError(
                "max_ride_s",
                f"{self.max_ride_s} is shorter than direct_time_s {self.direct_time_s}",
                ">= direct_time_s",
            )

    @property
    def pickup_window_s(self) -> int:
        """Length of the promised pickup window."""
        return self.pickup_window_end_s - self.pickup_window_start_s

    def is_valid_at(self, now_s: int) -> bool:
        """Whether the offer may still be booked at ``now_s`` (up to and including ``valid_until_s``)."""
        return now_s <= self.valid_until_s

    def to_dict(self) -> dict[str, Any]:
        """The offer as a plain dict (every field is a JSON scalar); ``Offer(**d)`` reads it back."""
        return {name: getattr(self, name) for name in _field_names(type(self))}


# ---------------------------------------------------------------------------- vehicles
@dataclass(frozen=True, kw_only=True)
class VehicleState:
    """A vehicle's configuration: capacity, depot and shift.

    Attributes:
        id: the vehicle's id.
        seats: seated places, 1 .. 100 (an I-MOD minibus has about 16).
        wheelchair_places: places for wheelchairs, 0 .. ``seats``.
        depot_stop: the stop index where the vehicle starts and ends its shift.
        shift_start_s, shift_end_s: the shift on the service clock (end after start).

    Raises:
        InvalidValueError: naming the field and its allowed range.
    """

    id: str
    seats: int = 16
    wheelchair_places: int = 1
    depot_stop: int
    shift_start_s: int
    shift_end_s: int

    def __post_init__(self) -> None:
        check_id("id", self.id)
        set_field(self, "seats", check_int("seats", self.seats, 1, 100))
        set_field(self, "wheelchair_places", check_int("wheelchair_places", self.wheelchair_places, 0, self.seats))
        set_field(self, "depot_stop", check_int("depot_stop", self.depot_stop, 0))
        set_field(self, "shift_start_s", check_time("shift_start_s", self.shift_start_s))
        set_field(self, "shift_end_s", check_time("shift_end_s", self.shift_end_s))
        if self.shift_end_s <= self.shift_start_s:
            raise InvalidValueError(
                "shift_end_s",
                f"{self.shift_end_s} is not after shift_start_s {self.shift_start_s}",
                f"{self.shift_start_s + 1} .. {MAX_TIME_S} s (after shift_start_s)",
            )

    @property
    def shift_s(self) -> int:
        """Length of the shift."""
        return self.shift_end_s - self.shift_start_s

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VehicleState:
        """A vehicle from a plain mapping (a fleet file's entry); unknown keys are refused."""
        return from_mapping(cls, data)
