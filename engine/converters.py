"""Protocol buffers <-> domain objects (the servicers stay thin).

Ids from the wire are checked here, by the one rule of :mod:`matching` (:data:`matching.ID_RULE`),
with errors that never quote a long id whole (:func:`check_id`).

A rider's ids are scoped per rider: the request id ``r1`` of rider ``alice`` becomes the
engine's request and ride id ``alice/r1`` (:func:`own_id`), so that no rider can book under,
or find out about, another rider's id. The rider names and sees only ``r1``, in every call,
answer and stream (:func:`shown_id`, and the ``rider`` argument of the converters below);
operators and drivers see and use the scoped id. Without a rider (operators, and every caller
when authentication is off) ids are used as given.
"""

from __future__ import annotations

from typing import Any

from matching import ID_RULE, SCOPED_ID_RULE, Offer, Rejection, Request, RiderClass, id_problem, scoped_id
from proto import convert as pc
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2

from .errors import InvalidInput

# The enum tables are the schema's one mapping (proto/convert.py); an unspecified rider class is an adult.
_RIDER_CLASS = {common_pb2.RIDER_CLASS_UNSPECIFIED: RiderClass.ADULT, **pc.RIDER_CLASS_FROM_PROTO}
#: A driver's stop event kind -> :class:`~matching.StopEventKind` (unspecified: not in it).
STOP_EVENT = pc.STOP_EVENT_KIND_FROM_PROTO


def check_id(field: str, value: str, *, scoped: bool = False) -> str:
    """``value`` if it is an id (with ``scoped``, also ``"<rider id>/<id>"``, as operators and
    drivers see a rider's ride ids), else InvalidInput naming ``field`` and the rule."""
    problem = id_problem(value, scoped=scoped)
    if problem is not None:
        raise InvalidInput(field, f"{problem} (allowed: {SCOPED_ID_RULE if scoped else ID_RULE})")
    return value


def own_id(rider: str | None, id_: str) -> str:
    """The engine's id for ``id_`` as rider ``rider`` names it (scoped by the rider; as given
    without a rider)."""
    return id_ if rider is None else scoped_id(rider, id_)


def shown_id(rider: str | None, id_: str) -> str:
    """The engine's id ``id_`` as rider ``rider`` sees it (their own ids without the scope)."""
    if rider is not None and id_.startswith(rider) and id_[len(rider) : len(rider) + 1] == "/":
        return id_[len(rider) + 1 :]
    return id_


def _place(msg: common_pb2.Place, end: str, out: dict[str, Any]) -> None:
    which = msg.WhichOneof("place")
    if which == "point":
        out[f"{end}_lat"] = msg.point.lat
        out[f"{end}_lon"] = msg.point.lon
    elif which == "stop":
        out[f"{end}_stop"] = msg.stop
    else:
        raise InvalidInput(end, "give a stop or a point")


def request_from_proto(msg: rider_pb2.QuoteRequest, rider_id: str | None, clock_s: int) -> Request:
    """A :class:`Request` from a quote (its id scoped by ``rider_id``, if given: :func:`own_id`);
    field errors name the message's fields."""
    check_id("request_id", msg.request_id)
    if msg.rider_class not in _RIDER_CLASS:
        raise InvalidInput("rider_class", f"unknown value {msg.rider_class}")
    if msg.passengers <= 0:
        raise InvalidInput("passengers", f"got {msg.passengers} (allowed: 1 and more)")
    fields: dict[str, Any] = {}
    _place(msg.origin, "origin", fields)
    _place(msg.destination, "destination", fields)
    requested = msg.requested_time_s or clock_s
    if requested < 0:
        raise InvalidInput("requested_time_s", f"got {requested} (allowed: >= 0)")
    return Request(
        id=own_id(rider_id, msg.request_id),
        requested_time_s=int(requested),
        submitted_time_s=min(int(clock_s), int(requested)),
        passengers=int(msg.passengers),
        rider_class=_RIDER_CLASS[msg.rider_class],
        wheelchair=bool(msg.wheelchair),
        rider_id=rider_id,
        **fields,
    )


def offer_to_proto(offer: Offer, rider: str | None = None) -> common_pb2.Offer:
    """An offer as ``rider`` (if given) sees it."""
    fields = {name: getattr(offer, name) for name in pc.OFFER_FIELDS}
    fields["request_id"] = shown_id(rider, offer.request_id)
    return common_pb2.Offer(**fields)


def rejection_to_proto(rej: Rejection, rider: str | None = None) -> common_pb2.Rejection:
    """A rejection as ``rider`` (if given) sees it."""
    return common_pb2.Rejection(
        request_id=shown_id(rider, rej.request_id), reason=pc.REJECT_REASON[rej.reason], detail=rej.detail
    )


def ride_to_proto(r: dict[str, Any], rider: str | None = None) -> common_pb2.Ride:
    """A ride (:meth:`engine.views.Views.ride_dict`) as ``rider`` (if given) sees it."""
    return common_pb2.Ride(
        ride_id=shown_id(rider, r["ride_id"]),
        status=pc.RIDE_STATUS.get(r["status"], common_pb2.RIDE_STATUS_UNSPECIFIED),
        vehicle_id=r["vehicle_id"],
        pickup_stop=r["pickup_stop"],
        dropoff_stop=r["dropoff_stop"],
        passengers=r["passengers"],
        pickup_window_start_s=r["pickup_window_start_s"],
        pickup_window_end_s=r["pickup_window_end_s"],
        latest_dropoff_s=r["latest_dropoff_s"],
        planned_pickup_s=r["planned_pickup_s"],
        planned_dropoff_s=r["planned_dropoff_s"],
        picked_up_at_s=r["picked_up_at_s"],
        dropped_off_at_s=r["dropped_off_at_s"],
        fare_krw=r["fare_krw"],
        offer_id=r["offer_id"],
    )


def ride_update(event_id: str, payload: dict[str, Any], rider: str | None = None) -> rider_pb2.RideUpdate:
    """An event of a ride's topic as ``rider`` (if given) sees it."""
    return rider_pb2.RideUpdate(
        event_id=event_id,
        kind=pc.RIDE_UPDATE_KIND.get(payload["kind"], rider_pb2.RIDE_UPDATE_KIND_STATE),
        time_s=int(payload.get("time_s", 0)),
        ride=ride_to_proto(payload["ride"], rider),
    )


#: The columns of a manifest (see :meth:`engine.views.Views.manifest`).
MANIFEST_COLUMNS = ("ride_id", "kind", "stop", "planned_s", "service_s", "passengers", "window_start_s")


def manifest(
    event_id: str, vehicle_id: str, time_s: int, stops: dict[str, list[Any]] | list[dict[str, Any]]
) -> driver_pb2.Manifest:
    """A manifest message from the engine's manifest columns (or, as stored before they were
    columns, a list with a dict per stop)."""
    if isinstance(stops, dict):
        rows: Any = zip(*(stops[name] for name in MANIFEST_COLUMNS), strict=True)
    else:
        rows = ([s[name] for name in MANIFEST_COLUMNS] for s in stops)
    return driver_pb2.Manifest(
        event_id=event_id,
        vehicle_id=vehicle_id,
        time_s=int(time_s),
        stops=[
            driver_pb2.ManifestStop(
                ride_id=ride_id,
                kind=pc.STOP_KIND.get(kind, driver_pb2.STOP_KIND_DROPOFF),
                stop=stop,
                planned_s=planned_s,
                service_s=service_s,
                passengers=passengers,
                window_start_s=window_start_s,
            )
            for ride_id, kind, stop, planned_s, service_s, passengers, window_start_s in rows
        ],
    )


def assignment_event(event_id: str, payload: dict[str, Any]) -> operator_pb2.AssignmentEvent:
    return operator_pb2.AssignmentEvent(
        event_id=event_id,
        kind=pc.ASSIGNMENT_KIND.get(payload["kind"], operator_pb2.ASSIGNMENT_KIND_UNSPECIFIED),
        time_s=int(payload["time_s"]),
        ride_id=payload["ride_id"],
        vehicle_id=payload["vehicle_id"],
        detail=payload["detail"],
    )


def vehicle_status(s: dict[str, Any]) -> driver_pb2.VehicleStatus:
    return driver_pb2.VehicleStatus(**s)
