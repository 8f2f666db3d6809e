"""The messages between the dashboard's server and the page: JSON over one WebSocket.

The page opens ``/ws?key=KEY`` (the key the server printed with the page's address; without the
right key the socket is closed with code :data:`CLOSE_BAD_KEY` before anything is sent). Every
message is a JSON object with a ``type``. Positions are ``[lat, lon]`` (WGS84, rounded to
:data:`COORD_DIGITS` decimals); times are integer seconds on the service clock (seconds since
midnight of the service day, going on past 86,400).

Server -> page (the page applies them in order; a ``full`` message replaces what it held):

``hello``  (first, once per connection)
    ``mode`` ("live" or "replay"), ``title``, ``service``, ``kind`` ("imod" or "taxi"),
    ``tiles`` (a tile URL template, or null: the streets are the base map), ``map``:
    ``{"streets": {"offsets": [...], "lat": [...], "lon": [...]}, "stops": [{"stop", "id",
    "name", "lat", "lon"}], "zone": [[lat, lon], ...], "bounds": [[south, west], [north, east]]}``
    (street i is the points ``offsets[i]`` up to ``offsets[i + 1]``; optional ``"planar": true``:
    a network without geographic coordinates, its metres drawn as degrees about 0, 0, so no tiles
    apply), ``replay``: ``{"start_s",
    "end_s"}`` or null, ``vehicle_fields`` (:data:`VEHICLE_FIELDS`), ``states``
    (:data:`VEHICLE_STATES`), ``version`` (:data:`VERSION`).
``vehicles``
    ``time_s``, ``full`` (true: ``items`` is the whole fleet), ``items``: one array per changed
    vehicle in the order of :data:`VEHICLE_FIELDS`, ``removed``: vehicle ids no longer there.
    One message per update of the fleet (all changes batched), never one per vehicle.
``rides``
    The open requests and upcoming pickups: ``time_s``, ``full``, ``items``: objects with
    :data:`RIDE_FIELDS`, ``removed``: ride ids no longer open.
``events``
    ``items``: objects with :data:`EVENT_FIELDS`, oldest first (the feed).
``kpis``
    ``time_s``, ``values``: :data:`KPI_FIELDS` (a value may be null when unknown).
``kpi_history``
    ``items``: ``[{"time_s", "values"}, ...]`` oldest first, sent on connecting (and on a replay
    seek; live, when the engine's clock goes back) so the charts start filled (or start over).
``manifest``
    The selected vehicle's planned route: ``vehicle_id``, ``time_s``, ``stops``: objects with
    :data:`MANIFEST_STOP_FIELDS`, ``path``: ``[[lat, lon], ...]`` along the streets from the
    vehicle through its stops (may be straight lines between the stops when no path is known),
    ``error`` (only when the vehicle is unknown: a sentence).
``status``
    ``connected`` (live: whether the engine answers), ``message`` (a sentence for the operator),
    ``source`` (the engine's address or the run folder).
``clock``
    ``time_s``, ``playing``, ``speed`` (replay: simulated seconds per second); live: the engine's
    clock, ``playing`` true and ``speed`` 1.
``error``
    A message from the page that was refused: ``message`` (a sentence naming the field and the
    allowed values), ``field``. The connection stays open.

Page -> server:

``{"type": "select", "vehicle_id": "veh0003"}`` (or null: deselect) — the server then sends that
vehicle's ``manifest`` and keeps it current while selected; ``{"type": "seek", "time_s": 30000}``,
``{"type": "play"}``, ``{"type": "pause"}``, ``{"type": "speed", "value": 60}`` (replay only;
speed within :data:`SPEED_RANGE`).
"""

from __future__ import annotations

from typing import Any, Final

VERSION: Final = 1
COORD_DIGITS: Final = 6
#: The WebSocket close code for a missing or wrong key.
CLOSE_BAD_KEY: Final = 4401

#: What a vehicle is doing (the page's colours); the engine's VehicleState without its prefix, lower-case.
VEHICLE_STATES: Final = ("idle", "to_pickup", "with_riders", "dwelling", "off_shift")

#: The fields of a vehicle in a ``vehicles`` message, in order. ``next_lat``/``next_lon``/
#: ``next_arrival_s`` are null when no stop is planned; ``state`` is one of :data:`VEHICLE_STATES`.
VEHICLE_FIELDS: Final = ("id", "lat", "lon", "state", "on_board", "seats", "next_lat", "next_lon", "next_arrival_s")

#: An open ride: ``status`` is "matching", "assigned" or "on_board"; ``pickup``/``dropoff`` are
#: ``[lat, lon]`` (null if unknown); ``window`` is the promised pickup window ``[start_s, end_s]``;
#: ``shared``: a shared-taxi ride that shares the taxi (false for I-MOD).
RIDE_FIELDS: Final = (
    "ride_id",
    "status",
    "vehicle_id",
    "passengers",
    "pickup",
    "dropoff",
    "window",
    "planned_pickup_s",
    "requested_s",
    "shared",
)

#: The kinds of feed events (the engine's AssignmentKind without its prefix, lower-case).
EVENT_KINDS: Final = (
    "offer",
    "rejection",
    "booking",
    "assignment",
    "reassignment",
    "cancellation",
    "boarded",
    "completed",
    "no_show",
    "late",
    "expired",
    "shift_ended",
    "shift_started",
    "service_day",
    "batch",
)

#: A feed event: ``id`` (the engine's event id, or a replay's own), ``kind`` (:data:`EVENT_KINDS`),
#: ``detail`` (the reason of a rejection, a sentence, or ""), ``pooled`` (true when the ride shares
#: a taxi, false otherwise).
EVENT_FIELDS: Final = ("id", "kind", "time_s", "ride_id", "vehicle_id", "detail", "pooled")

#: The fleet's KPIs: ``served`` (rides picked up so far), ``rejected`` and ``rejected_by_reason``
#: (``{"NO_VEHICLE_IN_TIME": 3, ...}``), ``wait_p50_s`` / ``wait_p90_s`` (rides picked up),
#: ``occupancy`` (riders on board / seats on shift, 0..1), ``vehicles_busy``, ``vehicles_on_shift``,
#: ``vehicles``, ``riders_on_board``, ``open_requests``, ``pooled_share`` (shared taxi, else null).
KPI_FIELDS: Final = (
    "served",
    "rejected",
    "rejected_by_reason",
    "wait_p50_s",
    "wait_p90_s",
    "occupancy",
    "vehicles_busy",
    "vehicles_on_shift",
    "vehicles",
    "riders_on_board",
    "open_requests",
    "pooled_share",
)

#: A stop of the selected vehicle's manifest: ``kind`` "pickup" or "dropoff"; ``stop`` the stop
#: index (-1 for the door-to-door taxi); ``window_start_s``/``window_end_s`` the promise (pickup:
#: its window; drop-off: 0 and the latest drop-off).
MANIFEST_STOP_FIELDS: Final = (
    "ride_id",
    "kind",
    "stop",
    "lat",
    "lon",
    "planned_s",
    "window_start_s",
    "window_end_s",
    "passengers",
)

#: Replay speeds a page may ask for (simulated seconds per second).
SPEED_RANGE: Final = (0.25, 3600.0)
#: Longest vehicle id a page may select.
MAX_VEHICLE_ID: Final = 200


def point(lat: float, lon: float) -> list[float]:
    """``[lat, lon]`` rounded to :data:`COORD_DIGITS` decimals."""
    return [round(float(lat), COORD_DIGITS), round(float(lon), COORD_DIGITS)]


def hello(
    mode: str, *, title: str, service: str, kind: str, tiles: str | None, map: Any, replay: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``hello`` message (``vehicle_fields``, ``states`` and ``version`` are this module's)."""
    return {
        "type": "hello",
        "mode": mode,
        "title": title,
        "service": service,
        "kind": kind,
        "tiles": tiles,
        "map": map,
        "replay": replay,
        "vehicle_fields": list(VEHICLE_FIELDS),
        "states": list(VEHICLE_STATES),
        "version": VERSION,
    }


def error(field: str, message: str) -> dict[str, Any]:
    """An ``error`` message: the page's message was refused because of ``field`` (``message`` says why)."""
    return {"type": "error", "field": field, "message": message}


def select_error(vehicle_id: Any) -> dict[str, Any] | None:
    """The ``error`` answering a ``select`` whose ``vehicle_id`` is neither null nor a vehicle id
    (a string of 1 .. :data:`MAX_VEHICLE_ID` characters); None for a good one."""
    if vehicle_id is None or (isinstance(vehicle_id, str) and 0 < len(vehicle_id) <= MAX_VEHICLE_ID):
        return None
    return error(
        "vehicle_id", f"select vehicle_id must be a vehicle id (a string of 1 .. {MAX_VEHICLE_ID} characters) or null"
    )
