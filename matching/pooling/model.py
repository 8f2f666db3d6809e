"""The shared taxi's domain model: requests door to door, rides, taxis, plans, answers and events.

A :class:`TaxiRequest` names road-network nodes (door to door; :func:`request_from_points`
snaps latitude/longitude to the nearest node and keeps the walk). The dispatcher answers a
quote with a :class:`TaxiQuote` (or a :class:`~matching.model.Rejection`), keeps each booking
as a :class:`TaxiRide` whose :class:`TaxiRideStatus` moves MATCHING -> ASSIGNED -> ON_BOARD ->
COMPLETED (or REJECTED / CANCELLED / NO_SHOW), plans each taxi as a list of
:class:`PlannedTaxiStop`, reports each batch as a :class:`BatchReport` and every change as a
:class:`TaxiEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, NamedTuple

import numpy as np

from routing import RoadNetwork, SnapError, plain_repr, snap

from ..checks import MAX_PASSENGERS, MAX_TIME_S, check_id, check_int, check_time, set_field
from ..errors import InvalidRequestError, InvalidValueError
from ..model import RiderClass, StopKind

#: How far a point may lie from the road network before a request is refused (m).
MAX_SNAP_M: Final = 500


@dataclass(frozen=True, kw_only=True)
class TaxiRequest:
    """A rider's request for a shared (or private) taxi, checked on construction.

    Attributes:
        id: the request's id (letters, digits, ``-_.:``; see :data:`matching.ID_RULE`).
        origin, destination: road-network node ids (different nodes).
        request_time_s: when the rider asks (service clock); the pickup happens no earlier,
            and, for every rider, within the service's maximum wait.
        passengers: the party size (1 .. the taxi's seats; checked by the dispatcher).
        share: ``True`` asks to share (discounted when the ride is actually shared);
            ``False`` rides alone at the full fare and is never pooled.
        rider_class: the fare class.
        walk_m: the walk from the rider's point to ``origin`` plus from ``destination`` to
            the destination point (0 when the request gave nodes).
    """

    id: str
    origin: int
    destination: int
    request_time_s: int
    passengers: int = 1
    share: bool = True
    rider_class: RiderClass = RiderClass.ADULT
    walk_m: int = 0

    def __post_init__(self) -> None:
        err = InvalidRequestError
        check_id("id", self.id, error=err, scoped=True)
        set_field(self, "origin", check_int("origin", self.origin, 0, error=err))
        set_field(self, "destination", check_int("destination", self.destination, 0, error=err))
        if self.origin == self.destination:
            raise err("destination", f"the same node as origin ({self.origin})", "a node other than origin")
        set_field(self, "request_time_s", check_time("request_time_s", self.request_time_s, error=err))
        set_field(self, "passengers", check_int("passengers", self.passengers, 1, MAX_PASSENGERS, error=err))
        if not isinstance(self.share, bool | np.bool_):
            raise err("share", f"expected true or false, got {plain_repr(self.share)}", "true, false")
        set_field(self, "share", bool(self.share))
        set_field(self, "rider_class", RiderClass.parse(self.rider_class))
        set_field(self, "walk_m", check_int("walk_m", self.walk_m, 0, 100_000, unit="m", error=err))


def request_from_points(
    network: RoadNetwork,
    *,
    id: str,
    origin_lat: float,
    origin_lon: float,
    destination_lat: float,
    destination_lon: float,
    request_time_s: int,
    passengers: int = 1,
    share: bool = True,
    rider_class: RiderClass = RiderClass.ADULT,
    max_snap_m: float = MAX_SNAP_M,
) -> TaxiRequest:
    """A :class:`TaxiRequest` from two points, each snapped to its nearest road node.

    Raises:
        InvalidRequestError: a point farther than ``max_snap_m`` from the roads (field
            ``origin_lat``/``destination_lat``), or both points on the same node.
    """
    ends = []
    for end, lat, lon in (("origin", origin_lat, origin_lon), ("destination", destination_lat, destination_lon)):
        try:
            ends.append(snap(network, lat, lon, max_distance_m=max_snap_m))
        except SnapError as exc:
            raise InvalidRequestError(
                f"{end}_lat", f"the point is {exc}", f"within {max_snap_m:.0f} m of a road"
            ) from None
        except (TypeError, ValueError) as exc:
            raise InvalidRequestError(
                f"{end}_lat", f"not a point: {exc}", "latitude and longitude in degrees"
            ) from None
    (o, wo), (d, wd) = ends
    if o == d:
        raise InvalidRequestError(
            "destination_lat", "the pickup and drop-off points snap to the same road node", "points farther apart"
        )
    return TaxiRequest(
        id=id,
        origin=o,
        destination=d,
        request_time_s=request_time_s,
        passengers=passengers,
        share=share,
        rider_class=rider_class,
        walk_m=round(wo + wd),
    )


class TaxiSpec(NamedTuple):
    """A taxi of the fleet: its id, where it starts, and its shift (service clock)."""

    id: str
    node: int
    shift_start_s: int = 0
    shift_end_s: int = MAX_TIME_S


class TaxiRideStatus(StrEnum):
    """Life cycle of a shared-taxi ride."""

    MATCHING = "matching"
    """Booked, waiting for the next batch to match it."""
    ASSIGNED = "assigned"
    """Promised to a taxi (a later batch may move it to another taxi before the pickup)."""
    ON_BOARD = "on_board"
    COMPLETED = "completed"
    REJECTED = "rejected"
    """Not matched within the maximum wait (``reason`` says why)."""
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"

    @property
    def is_terminal(self) -> bool:
        return self in (
            TaxiRideStatus.COMPLETED,
            TaxiRideStatus.REJECTED,
            TaxiRideStatus.CANCELLED,
            TaxiRideStatus.NO_SHOW,
        )


@dataclass(kw_only=True)
class TaxiRide:
    """A booking and what became of it (the dispatcher keeps one per submitted request).

    Attributes:
        id: the request's id.
        request: the request.
        status: where the ride is in its life cycle.
        vehicle_id: the taxi it is promised to (ASSIGNED, ON_BOARD, COMPLETED), else None.
        pickup_eta_s, dropoff_eta_s: the current plan's times (None before a match).
        latest_pickup_s: the promise: picked up by this time.
        latest_dropoff_s: the promise: dropped off by this time.
        direct_s, direct_m: the direct drive from origin to destination.
        fare_krw: the fare quoted at the match (pooled fare when sharing was asked); the
            fare paid once completed (pooled only if the ride was actually shared).
        shared: whether another party has been on board during the ride so far.
        picked_up_s, dropped_off_s: when it happened.
        reason: why it was rejected or cancelled.
    """

    id: str
    request: TaxiRequest
    status: TaxiRideStatus = TaxiRideStatus.MATCHING
    vehicle_id: str | None = None
    pickup_eta_s: int | None = None
    dropoff_eta_s: int | None = None
    latest_pickup_s: int = 0
    latest_dropoff_s: int = 0
    direct_s: int = 0
    direct_m: int = 0
    fare_krw: int | None = None
    shared: bool = False
    picked_up_s: int | None = None
    dropped_off_s: int | None = None
    reason: str | None = None
    times_reassigned: int = 0
    history: list[tuple[int, str]] = field(default_factory=list)

    @property
    def wait_s(self) -> int | None:
        """Pickup time minus request time, once picked up."""
        return None if self.picked_up_s is None else self.picked_up_s - self.request.request_time_s

    @property
    def delay_s(self) -> int | None:
        """Drop-off time minus (request time + direct time), once completed."""
        if self.dropped_off_s is None:
            return None
        return self.dropped_off_s - (self.request.request_time_s + self.direct_s)


class PlannedTaxiStop(NamedTuple):
    """One stop of a taxi's plan: where, what, for whom, and when (planned service start)."""

    node: int
    kind: StopKind
    ride_id: str
    time_s: int


@dataclass(frozen=True, kw_only=True)
class TaxiQuote:
    """An immediate answer to a quote: the price and the pickup estimate.

    Attributes:
        request_id: the request quoted.
        vehicle_id: the taxi that could take it now (a batch may choose another).
        pickup_eta_s: the estimated pickup time.
        dropoff_eta_s: the estimated drop-off time.
        latest_pickup_s: the promise if booked: picked up by this time.
        solo_fare_krw: the fare of the ride alone.
        pooled_fare_krw: the fare if it is shared (0 when the request asked to ride alone).
        fare_krw: what the rider pays at most: the solo fare when riding alone, otherwise the
            solo fare, lowered to the pooled fare when the ride is actually shared.
        direct_s, direct_m: the direct drive.
        walk_m: the request's walk to and from the road.
    """

    request_id: str
    vehicle_id: str
    pickup_eta_s: int
    dropoff_eta_s: int
    latest_pickup_s: int
    solo_fare_krw: int
    pooled_fare_krw: int
    fare_krw: int
    direct_s: int
    direct_m: int
    walk_m: int


class TaxiEventKind(StrEnum):
    """What changed for a ride."""

    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    REJECTED = "rejected"
    PICKED_UP = "picked_up"
    DROPPED_OFF = "dropped_off"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class TaxiEvent(NamedTuple):
    """A change of one ride (``vehicle_id`` is None where no taxi is involved)."""

    kind: TaxiEventKind
    ride_id: str
    vehicle_id: str | None
    time_s: int
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class BatchReport:
    """What one batch did and how long it took.

    ``assigned``: rides matched for the first time; ``reassigned``: rides moved to another
    taxi; ``rejected``: rides whose maximum wait ran out unmatched; ``open``: rides still
    waiting; ``trips``: feasible trips found; ``status``: the assignment's status
    (``"optimal"``, ``"feasible"``, ``"greedy"``, or ``"empty"`` when nothing was to be
    decided); ``objective``: its cost; times in wall-clock seconds.
    """

    time_s: int
    assigned: tuple[str, ...]
    reassigned: tuple[str, ...]
    rejected: tuple[str, ...]
    open: int
    trips: int
    status: str
    objective: int
    gather_s: float
    trips_s: float
    assign_s: float
    compute_s: float


def check_spec(spec: TaxiSpec, num_nodes: int) -> TaxiSpec:
    """A :class:`TaxiSpec` checked against the network's size."""
    if not isinstance(spec, tuple) or len(spec) != 4:
        raise InvalidValueError("fleet", f"expected TaxiSpec(id, node, shift_start_s, shift_end_s), got {spec!r}")
    vid = check_id("vehicle_id", spec[0])
    node = check_int("fleet.node", spec[1], 0, num_nodes - 1)
    start = check_time("fleet.shift_start_s", spec[2])
    end = check_time("fleet.shift_end_s", spec[3])
    if end <= start:
        raise InvalidValueError("fleet.shift_end_s", f"{end} is not after shift_start_s {start}", f"> {start}")
    return TaxiSpec(vid, node, start, end)
