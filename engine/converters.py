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

import math
from typing import Any

from matching import ID_RULE, SCOPED_ID_RULE, Offer, Rejection, Request, RiderClass, id_problem, scoped_id
from proto import convert as pc
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2

from .errors import InvalidInput
from .taxi import TaxiAsk

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


#: The ``share`` choices of a quote: Sharing value -> shares the taxi.
_SHARING = {common_pb2.SHARING_UNSPECIFIED: True, common_pb2.SHARING_SHARED: True, common_pb2.SHARING_ALONE: False}
_SHARING_ALLOWED = "0 SHARING_UNSPECIFIED, 1 SHARING_SHARED, 2 SHARING_ALONE"


def sharing(msg: rider_pb2.QuoteRequest) -> bool:
    """Whether a quote asks to share (InvalidInput naming ``share`` for a value the schema lacks)."""
    if msg.share not in _SHARING:
        raise InvalidInput("share", f"unknown value {msg.share} (allowed: {_SHARING_ALLOWED})")
    return _SHARING[msg.share]


def _taxi_end(msg: common_pb2.Place, end: str) -> int | tuple[float, float]:
    which = msg.WhichOneof("place")
    if which == "node":
        return int(msg.node)
    if which == "point":
        for name, value, limit in (("lat", msg.point.lat, 90.0), ("lon", msg.point.lon, 180.0)):
            if not math.isfinite(value) or abs(value) > limit:
                raise InvalidInput(f"{end}.point.{name}", f"got {value} (allowed: -{limit:g} .. {limit:g} degrees)")
        return (msg.point.lat, msg.point.lon)
    if which == "stop":
        raise InvalidInput(f"{end}.stop", "the shared taxi is door to door: give a point or a road node, not a stop")
    raise InvalidInput(end, "give a point or a road node")


def taxi_ask_from_proto(msg: rider_pb2.QuoteRequest, rider_id: str | None) -> TaxiAsk:
    """A shared-taxi request from a quote (its id scoped by ``rider_id``); field errors name the
    message's fields. The shared taxi takes requests for now only, without wheelchairs."""
    check_id("request_id", msg.request_id)
    if msg.rider_class not in _RIDER_CLASS:
        raise InvalidInput("rider_class", f"unknown value {msg.rider_class}")
    if msg.passengers <= 0:
        raise InvalidInput("passengers", f"got {msg.passengers} (allowed: 1 .. the taxi's seats)")
    if msg.requested_time_s:
        raise InvalidInput("requested_time_s", f"got {msg.requested_time_s} (allowed: 0: the shared taxi is for now)")
    if msg.wheelchair:
        raise InvalidInput("wheelchair", "the shared taxis have no wheelchair places (allowed: false)")
    return TaxiAsk(
        id=own_id(rider_id, msg.request_id),
        origin=_taxi_end(msg.origin, "origin"),
        destination=_taxi_end(msg.destination, "destination"),
        passengers=int(msg.passengers),
        share=sharing(msg),
        rider_class=_RIDER_CLASS[msg.rider_class],
    )


def taxi_offer_to_proto(fields: dict[str, Any], rider: str | None = None) -> common_pb2.Offer:
    """A shared taxi's quote (:func:`engine.taxi.quote_dict`) as ``rider`` (if given) sees it."""
    return common_pb2.Offer(**{**fields, "request_id": shown_id(rider, fields["request_id"])})


def request_from_proto(msg: rider_pb2.QuoteRequest, rider_id: str | None, clock_s: int) -> Request:
    """A :class:`Request` from a quote (its id scoped by ``rider_id``, if given: :func:`own_id`);
    field errors name the message's fields."""
    check_id("request_id", msg.request_id)
    if not sharing(msg):
        raise InvalidInput("share", "I-MOD minibuses are shared: no ride alone (allowed: 0 SHARING_UNSPECIFIED, "
                           "1 SHARING_SHARED)")  # fmt: skip
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
    reject = r.get("reject_reason")
    return common_pb2.Ride(
        ride_id=shown_id(rider, r["ride_id"]),
        status=pc.RIDE_STATUS_BY_NAME.get(r["status"], common_pb2.RIDE_STATUS_UNSPECIFIED),
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
        service=r.get("service", ""),
        shared=r.get("shared", False),
        share=r.get("share", True),
        reject_reason=pc.REJECT_REASON_BY_NAME.get(reject or "", common_pb2.REJECT_REASON_UNSPECIFIED),
        detail=r.get("detail", ""),
        pickup_node=r.get("pickup_node", 0),
        dropoff_node=r.get("dropoff_node", 0),
        walk_m=r.get("walk_m", 0),
        pickup_point=lat_lon(r.get("pickup_point")),
        dropoff_point=lat_lon(r.get("dropoff_point")),
        requested_s=r.get("requested_s", 0),
    )


def lat_lon(point: Any) -> common_pb2.LatLon | None:
    """A ``(lat, lon)`` pair (or a list of two, as a stored event has it) as a LatLon (None: none)."""
    if point is None:
        return None
    return common_pb2.LatLon(lat=float(point[0]), lon=float(point[1]))


def ride_update(event_id: str, payload: dict[str, Any], rider: str | None = None) -> rider_pb2.RideUpdate:
    """An event of a ride's topic as ``rider`` (if given) sees it."""
    return rider_pb2.RideUpdate(
        event_id=event_id,
        kind=pc.RIDE_UPDATE_KIND_BY_NAME.get(payload["kind"], rider_pb2.RIDE_UPDATE_KIND_STATE),
        time_s=int(payload.get("time_s", 0)),
        ride=ride_to_proto(payload["ride"], rider),
    )


#: The columns of a manifest (see :meth:`engine.views.Views.manifest`).
MANIFEST_COLUMNS = ("ride_id", "kind", "stop", "planned_s", "service_s", "passengers", "window_start_s")


def manifest(
    event_id: str, vehicle_id: str, time_s: int, stops: dict[str, list[Any]] | list[dict[str, Any]]
) -> driver_pb2.Manifest:
    """A manifest message from the engine's manifest columns (or, as stored before they were
    columns, a list with a dict per stop); a shared taxi's have a ``node`` column too."""
    if isinstance(stops, dict):
        size = len(stops["ride_id"])
        nodes = stops.get("node") or [0] * size
        ends = stops.get("window_end_s") or [0] * size  # none in events stored before it was kept
        rows: Any = zip(*(stops[name] for name in MANIFEST_COLUMNS), nodes, ends, strict=True)
    else:
        rows = ([s[name] for name in MANIFEST_COLUMNS] + [s.get("node", 0), s.get("window_end_s", 0)] for s in stops)
    rebalance: Any = stops.get("rebalance_node") if isinstance(stops, dict) else None
    return driver_pb2.Manifest(
        event_id=event_id,
        vehicle_id=vehicle_id,
        time_s=int(time_s),
        rebalance_node=rebalance,
        stops=[
            driver_pb2.ManifestStop(
                ride_id=ride_id,
                kind=pc.STOP_KIND.get(kind, driver_pb2.STOP_KIND_DROPOFF),
                stop=stop,
                planned_s=planned_s,
                service_s=service_s,
                passengers=passengers,
                window_start_s=window_start_s,
                node=node,
                window_end_s=window_end_s,
            )
            for ride_id, kind, stop, planned_s, service_s, passengers, window_start_s, node, window_end_s in rows
        ],
    )


def assignment_event(event_id: str, payload: dict[str, Any]) -> operator_pb2.AssignmentEvent:
    return operator_pb2.AssignmentEvent(
        event_id=event_id,
        kind=pc.ASSIGNMENT_KIND_BY_NAME.get(payload["kind"], operator_pb2.ASSIGNMENT_KIND_UNSPECIFIED),
        time_s=int(payload["time_s"]),
        ride_id=payload["ride_id"],
        vehicle_id=payload["vehicle_id"],
        detail=payload["detail"],
        service=payload.get("service", ""),
    )


#: A vehicle's state as the views name it -> VehicleState.
VEHICLE_STATE = {
    "idle": driver_pb2.VEHICLE_STATE_IDLE,
    "to_pickup": driver_pb2.VEHICLE_STATE_TO_PICKUP,
    "with_riders": driver_pb2.VEHICLE_STATE_WITH_RIDERS,
    "dwelling": driver_pb2.VEHICLE_STATE_DWELLING,
    "off_shift": driver_pb2.VEHICLE_STATE_OFF_SHIFT,
}


def vehicle_fields(s: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A vehicle's status (:meth:`engine.views.Views.vehicles_status`,
    :meth:`engine.taxi.TaxiService.vehicle_status`) as the VehicleStatus message's fields (its
    positions as dicts: the message is then built in one step, which for a fleet of thousands
    costs less than half the time of building the positions' messages one by one), with the
    fields ``extra`` added (one copy of the status)."""
    fields = {**s, **extra}
    fields["state"] = VEHICLE_STATE.get(fields.pop("state", ""), driver_pb2.VEHICLE_STATE_UNSPECIFIED)
    for name in ("position", "next_position"):
        where = fields.pop(name, None)
        if where is not None:
            fields[name] = {"lat": where[0], "lon": where[1]}
    return fields


def vehicle_status(s: dict[str, Any]) -> driver_pb2.VehicleStatus:
    """A vehicle's status as the VehicleStatus message (see :func:`vehicle_fields`)."""
    return driver_pb2.VehicleStatus(**vehicle_fields(s))


def vehicle_list(rows: list[dict[str, Any]], **extra: Any) -> operator_pb2.ListVehiclesResponse:
    """Vehicles' statuses, each with the fields ``extra``, as the ListVehiclesResponse message
    (see :func:`vehicle_fields`)."""
    return operator_pb2.ListVehiclesResponse(vehicles=[vehicle_fields(r, **extra) for r in rows])


def vehicle_route(event_id: str, vehicle_id: str, time_s: int, route: dict[str, Any]) -> operator_pb2.VehicleRoute:
    """A vehicle's route (:meth:`engine.views.Views.vehicle_route`) as the VehicleRoute message."""
    return operator_pb2.VehicleRoute(
        vehicle_id=vehicle_id,
        time_s=int(time_s),
        manifest=manifest(event_id, vehicle_id, time_s, route["stops"]),
        stop_points=[common_pb2.LatLon(lat=lat, lon=lon) for lat, lon in route["stop_points"]],
        path=[common_pb2.LatLon(lat=lat, lon=lon) for lat, lon in route["path"]],
        stop_path_index=route["stop_path_index"],
    )


def service_map(fields: dict[str, Any]) -> operator_pb2.ServiceMap:
    """A service's map (:meth:`engine.core.EngineCore.service_map`) as the ServiceMap message."""
    (s_lat, w_lon), (n_lat, e_lon) = fields["bounds"]
    return operator_pb2.ServiceMap(
        service=fields["service"],
        kind=fields["kind"],
        stops=[
            operator_pb2.MapStop(stop=k, id=sid, name=name, lat=lat, lon=lon)
            for k, (sid, name, lat, lon) in enumerate(
                zip(fields["stop_ids"], fields["stop_names"], fields["stop_lat"], fields["stop_lon"], strict=True)
            )
        ],
        zone=[common_pb2.LatLon(lat=lat, lon=lon) for lat, lon in fields["zone"]],
        street_offsets=fields["street_offsets"],
        street_lat=fields["street_lat"],
        street_lon=fields["street_lon"],
        nodes=fields["nodes"],
        edges=fields["edges"],
        south_west=common_pb2.LatLon(lat=s_lat, lon=w_lon),
        north_east=common_pb2.LatLon(lat=n_lat, lon=e_lon),
        planar=fields["planar"],
    )
