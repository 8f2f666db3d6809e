"""What a dispatcher needs to rebuild its plan after a restart: immutable ride and vehicle records.

>>> snapshot = dispatcher.snapshot()                       # every ride and vehicle, now
>>> records = snapshot.to_records()                         # plain JSON dicts, as a store keeps them
>>> again = Dispatcher(network, router, stops, vehicles)   # (after a restart)
>>> again.restore(DispatcherSnapshot.from_records(*records))

A :class:`RideSnapshot` holds a booked ride: its request and offer, status, vehicle, the times
it was booked, picked up and dropped off, its planned times and, while it is open, the promise
as the plan holds it now (a late vehicle may have widened it). A :class:`VehicleSnapshot` holds
where a vehicle is, when it can leave, its load, its planned stops in order and whether its
driver ended the shift. Offers that were never booked are not part of a snapshot.

``to_dict`` gives the record a store keeps (JSON types only, the keys and values of earlier
versions, byte for byte); ``from_dict`` reads it back, leaving any other keys (the live engine
adds the service ``day``) to whoever put them there. ``shifted`` moves every time on a record to
another day's service clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import Offer, Request, RideStatus, StopKind

#: A stop kind as a record writes it (its value as a plain string; a lookup is the fastest way
#: to it, and an engine writes a busy van's record, hundreds of stops, after every change).
_KIND_TEXT: dict[str, str] = {kind: kind.value for kind in StopKind}


@dataclass(frozen=True, kw_only=True)
class RideSnapshot:
    """A booked ride as a dispatcher restores it (see the module docstring).

    Attributes:
        ride_id: the ride's id (its request's id).
        request, offer: what the rider asked for and was promised.
        status: where the ride stands.
        vehicle_id: the vehicle it is assigned to (or was, for a ride that ended).
        booked_at_s: when it was booked.
        walks_m: the walks to the pickup and from the drop-off stop, in metres.
        idempotency_key: the key the booking was made with, if any.
        picked_up_at_s, dropped_off_at_s: when the rider boarded and got off (None: not yet).
        planned_pickup_s, planned_dropoff_s: the planned start of service at each stop.
        dropoff_late_s: the latest drop-off the plan holds to (open rides only, else None).
        ride_limit_s: the longest ride the plan allows (open rides only).
        pickup_window_s: the pickup window the plan holds to (rides not yet picked up only).
    """

    ride_id: str
    request: Request
    offer: Offer
    status: RideStatus
    vehicle_id: str
    booked_at_s: int
    walks_m: tuple[int, int]
    idempotency_key: str | None = None
    picked_up_at_s: int | None = None
    dropped_off_at_s: int | None = None
    planned_pickup_s: float = 0.0
    planned_dropoff_s: float = 0.0
    dropoff_late_s: float | None = None
    ride_limit_s: float | None = None
    pickup_window_s: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.pickup_window_s is not None:
            start, end = self.pickup_window_s
            object.__setattr__(self, "pickup_window_s", (start, end))
        walk_to, walk_from = self.walks_m
        object.__setattr__(self, "walks_m", (walk_to, walk_from))

    def to_dict(self) -> dict[str, Any]:
        """The ride as a JSON-serialisable dict (the store's record); :meth:`from_dict` reads it back."""
        rec: dict[str, Any] = {
            "ride_id": self.ride_id,
            "request": self.request.to_dict(),
            "offer": self.offer.to_dict(),
            "status": self.status.value,
            "vehicle": self.vehicle_id,
            "booked_at_s": self.booked_at_s,
            "walks": list(self.walks_m),
            "idempotency_key": self.idempotency_key,
            "picked_up_at_s": self.picked_up_at_s,
            "dropped_off_at_s": self.dropped_off_at_s,
            "planned_pickup_s": self.planned_pickup_s,
            "planned_dropoff_s": self.planned_dropoff_s,
        }
        if self.dropoff_late_s is not None:
            rec["dropoff_late_s"] = self.dropoff_late_s
        if self.ride_limit_s is not None:
            rec["ride_limit_s"] = self.ride_limit_s
        if self.pickup_window_s is not None:
            rec["pickup_window_s"] = list(self.pickup_window_s)
        return rec

    @classmethod
    def from_dict(cls, rec: Mapping[str, Any]) -> RideSnapshot:
        """A ride from its record (:meth:`to_dict`, decoded from JSON); keys it does not know are left out.

        Raises:
            InvalidRequestError, InvalidValueError: the request or the offer does not check out.
        """
        window = rec.get("pickup_window_s")
        late, limit = rec.get("dropoff_late_s"), rec.get("ride_limit_s")
        return cls(
            ride_id=rec["ride_id"],
            request=Request.from_dict(rec["request"]),
            offer=Offer(**rec["offer"]),
            status=RideStatus(rec["status"]),
            vehicle_id=rec["vehicle"],
            booked_at_s=int(rec["booked_at_s"]),
            walks_m=(int(rec["walks"][0]), int(rec["walks"][1])),
            idempotency_key=rec.get("idempotency_key"),
            picked_up_at_s=rec.get("picked_up_at_s"),
            dropped_off_at_s=rec.get("dropped_off_at_s"),
            planned_pickup_s=float(rec.get("planned_pickup_s") or 0.0),
            planned_dropoff_s=float(rec.get("planned_dropoff_s") or 0.0),
            dropoff_late_s=None if late is None else float(late),
            ride_limit_s=None if limit is None else float(limit),
            pickup_window_s=None if window is None else (float(window[0]), float(window[1])),
        )

    def shifted(self, delta_s: int) -> RideSnapshot:
        """The same ride with every time on it moved by ``delta_s`` seconds: on another day's
        service clock (the live engine carries pre-booked rides into the next service day with
        ``delta_s`` = minus the day's length). Times that only record the past (when the request
        was made, booked, and until when its offer was open) stop at 0; durations stay. The
        request and the offer check themselves again: a time they hold may not fall before 0
        (:class:`~matching.errors.InvalidValueError`)."""

        def later(t: float | None) -> Any:
            return None if t is None else t + delta_s

        request = self.request
        submitted = request.submitted_time_s
        offer = self.offer
        return dataclasses.replace(
            self,
            request=dataclasses.replace(
                request,
                requested_time_s=request.requested_time_s + delta_s,
                submitted_time_s=None if submitted is None else max(0, submitted + delta_s),
            ),
            offer=dataclasses.replace(
                offer,
                pickup_eta_s=offer.pickup_eta_s + delta_s,
                pickup_window_start_s=offer.pickup_window_start_s + delta_s,
                pickup_window_end_s=offer.pickup_window_end_s + delta_s,
                dropoff_eta_s=offer.dropoff_eta_s + delta_s,
                latest_dropoff_s=offer.latest_dropoff_s + delta_s,
                valid_until_s=max(0, offer.valid_until_s + delta_s),
            ),
            booked_at_s=max(0, self.booked_at_s + delta_s),
            picked_up_at_s=later(self.picked_up_at_s),
            dropped_off_at_s=later(self.dropped_off_at_s),
            planned_pickup_s=self.planned_pickup_s + delta_s,
            planned_dropoff_s=self.planned_dropoff_s + delta_s,
            dropoff_late_s=later(self.dropoff_late_s),
            pickup_window_s=None
            if self.pickup_window_s is None
            else (self.pickup_window_s[0] + delta_s, self.pickup_window_s[1] + delta_s),
        )


@dataclass(frozen=True, kw_only=True)
class VehicleSnapshot:
    """A vehicle as a dispatcher restores it (see the module docstring).

    Attributes:
        id: the vehicle's id.
        stop: the stop it is at, or committed to (the start of its plan).
        t0_s: when it can leave that stop.
        load: seats and wheelchair places taken (riders on board).
        route: its planned stops in order, as (ride id, :class:`StopKind`).
        off_shift: whether its driver ended the shift.
    """

    id: str
    stop: int
    t0_s: float
    load: tuple[int, int]
    route: tuple[tuple[str, StopKind], ...] = ()
    off_shift: bool = False

    def __post_init__(self) -> None:
        seats, wheelchairs = self.load
        object.__setattr__(self, "load", (seats, wheelchairs))

    def to_dict(self) -> dict[str, Any]:
        """The vehicle as a JSON-serialisable dict (the store's record); :meth:`from_dict` reads it back."""
        return {
            "id": self.id,
            "stop": self.stop,
            "t0_s": self.t0_s,
            "load": list(self.load),
            "route": [[rid, _KIND_TEXT[kind]] for rid, kind in self.route],
            "off_shift": self.off_shift,
        }

    @classmethod
    def from_dict(cls, rec: Mapping[str, Any]) -> VehicleSnapshot:
        """A vehicle from its record (:meth:`to_dict`, decoded from JSON); keys it does not know are left out."""
        seats, wheelchairs = rec["load"]
        return cls(
            id=rec["id"],
            stop=int(rec["stop"]),
            t0_s=float(rec["t0_s"]),
            load=(int(seats), int(wheelchairs)),
            route=tuple((str(rid), StopKind(kind)) for rid, kind in rec["route"]),
            off_shift=bool(rec.get("off_shift", False)),
        )

    def shifted(self, delta_s: int) -> VehicleSnapshot:
        """The vehicle on another day's service clock (see :meth:`RideSnapshot.shifted`): the time
        it can leave its stop moves by ``delta_s``, stopping at 0."""
        return dataclasses.replace(self, t0_s=max(0.0, float(self.t0_s) + delta_s))


@dataclass(frozen=True)
class DispatcherSnapshot:
    """Every booked ride and every vehicle of a dispatcher (:meth:`Dispatcher.snapshot`), enough to
    rebuild its plan (:meth:`Dispatcher.restore`)."""

    rides: tuple[RideSnapshot, ...]
    vehicles: tuple[VehicleSnapshot, ...]

    @classmethod
    def from_records(
        cls, rides: Iterable[Mapping[str, Any]], vehicles: Iterable[Mapping[str, Any]]
    ) -> DispatcherSnapshot:
        """A snapshot from the store's ride and vehicle records (:meth:`to_records`)."""
        return cls(
            tuple(RideSnapshot.from_dict(r) for r in rides), tuple(VehicleSnapshot.from_dict(v) for v in vehicles)
        )

    def to_records(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The ride and the vehicle records (``to_dict`` of each)."""
        return [r.to_dict() for r in self.rides], [v.to_dict() for v in self.vehicles]

    def shifted(self, delta_s: int) -> DispatcherSnapshot:
        """Every ride and vehicle on another day's service clock (see :meth:`RideSnapshot.shifted`)."""
        return DispatcherSnapshot(
            tuple(r.shifted(delta_s) for r in self.rides), tuple(v.shifted(delta_s) for v in self.vehicles)
        )
