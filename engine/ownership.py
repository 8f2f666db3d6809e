"""Who may name what, and retries: the engine's ownership and idempotency rules, in one place.

* A rider's request and ride ids are scoped per rider (``alice/r1`` in the engine, ``r1`` for
  alice, :func:`engine.converters.own_id`): a rider names only their own rides
  (:func:`ride_id_for`), so no other check of a ride's owner is needed; operators name any ride.
* A driver reports for and reads the manifest of their own vehicle only (:func:`check_drives`).
* An offer is booked only by the rider it was made to (:func:`check_offer`).
* A retried booking with the same idempotency key (scoped per rider, :func:`idempotency_key_for`)
  gets the ride booked the first time, and only the rider who booked it does
  (:class:`IdempotencyKeys`).
* A driver's boarding, alighting or no-show names a ride on that vehicle (:func:`check_ride_on_vehicle`).

The servicers apply the caller's rules (the first two and the key's scope) before a command is
queued; the operations (:mod:`engine.operations`) apply the others on the writer thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from matching.dispatcher import Dispatcher, Ride
from matching.errors import ConflictError

from . import converters as cv
from .auth import Principal
from .errors import InvalidInput, PermissionDenied

#: The longest idempotency key a caller may send.
MAX_IDEMPOTENCY_KEY = 128


def rider_of(principal: Principal | None) -> str | None:
    """The rider a caller is (their ids are scoped), or None."""
    return principal.subject if principal is not None and principal.role == "rider" else None


def ride_id_for(principal: Principal, ride_id: str) -> str:
    """The engine's id of the ride ``principal`` names: a rider names their own by its request id
    (no rider can name another's, so no ownership check is needed); operators name any ride,
    a rider's by its scoped id."""
    rider = rider_of(principal)
    if rider is not None:
        return cv.own_id(rider, cv.check_id("ride_id", ride_id))
    return cv.check_id("ride_id", ride_id, scoped=True)


def idempotency_key_for(rider: str | None, key: str) -> str:
    """The engine's idempotency key for ``key`` sent by ``rider`` (scoped like their ids; "" if none)."""
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput("idempotency_key", f"longer than {MAX_IDEMPOTENCY_KEY} characters")
    return cv.own_id(rider, key) if key else ""


def check_drives(principal: Principal, vehicle_id: str) -> None:
    """PermissionDenied unless ``principal`` drives ``vehicle_id`` (operators drive every vehicle)."""
    if not principal.may_drive(vehicle_id):
        raise PermissionDenied(f"vehicle {vehicle_id} is not yours")


def check_offer(d: Dispatcher, offer_id: str, rider_id: str | None) -> None:
    """PermissionDenied if ``rider_id`` (None: an operator) is not the rider offer ``offer_id`` was made to."""
    if rider_id is not None and d.offer_rider(offer_id) != rider_id:
        raise PermissionDenied(f"offer {offer_id} was made to another rider")


def check_ride_on_vehicle(d: Dispatcher, ride: Ride, vehicle_id: str) -> None:
    """ConflictError unless ``ride`` is planned on (or aboard) ``vehicle_id``."""
    if d.vehicles[ride.vehicle].id != vehicle_id:
        raise ConflictError(f"ride {ride.ride_id} is not on vehicle {vehicle_id}")


class IdempotencyKeys:
    """The rides booked with an idempotency key (key -> ride id), for retries."""

    def __init__(self) -> None:
        self._rides: dict[str, str] = {}

    def load(self, records: Iterable[dict[str, Any]]) -> None:
        """Start again from stored ride records (those booked with a key)."""
        self._rides = {r["idempotency_key"]: r["ride_id"] for r in records if r.get("idempotency_key")}

    def remember(self, key: str, ride_id: str) -> None:
        """A ride booked with ``key`` (none: nothing to remember)."""
        if key:
            self._rides[key] = ride_id

    def known_ride(self, d: Dispatcher, key: str, rider_id: str | None) -> Ride | None:
        """The ride already booked with ``key``, if any (only to the rider who booked it:
        PermissionDenied for another; ``rider_id`` None is an operator)."""
        if not key or key not in self._rides:
            return None
        ride = d.get_ride(self._rides[key])
        if rider_id is not None and ride.request.rider_id != rider_id:
            raise PermissionDenied("that idempotency key belongs to another rider's booking")
        return ride
