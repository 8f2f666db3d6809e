"""The live source: follows a running engine over gRPC (as any operator client does) and tells the
dashboard's pages what changed, in the messages of :mod:`dashboard.protocol`.

:class:`LiveSource` (``target`` ``host:port``, the operator's ``token``, ``tls``, ``service``):

* On start, ``GetServiceMap`` gives the ``hello``'s map (once; again only while it is missing).
  A page that connects while the map is missing (the engine did not answer yet) gets ``status``
  messages only; its ``hello`` and snapshot come with the map.
* Every ``interval_s``: ``ListVehicles`` -> ``vehicles`` (the changed vehicles only; the whole
  fleet to a new page, to a page that fell behind, and after a reconnection), ``FleetStatus`` ->
  ``kpis`` and ``clock`` (and :data:`KPI_HISTORY` points kept for new pages' charts; when the
  engine's clock goes back — a restart, another day — the history starts over and every page
  gets the new, short ``kpi_history``),
  ``ListRides(open_only)`` -> ``rides`` (changes, like vehicles).
* ``WatchAssignments`` -> ``events`` (batched every :data:`EVENT_FLUSH_S`), the last
  :data:`FEED_SIZE` kept for new pages; the first subscription starts :data:`FEED_LOOKBACK_S` back
  (by the event ids' wall-clock milliseconds), so the feed starts filled. The source remembers the
  last event id and resumes from it after a reconnection. The engine's event ids are
  ``"<ms>-<seq>"``, increasing with time, and it answers a resume with the events stored after
  that id: after a restart on Redis, exactly the ones missed; after a restart on the memory store
  (which forgot everything), every event of the new engine, all newer than the remembered id.
  Events not newer than the last one fed are skipped, so nothing is fed twice.
* A page's ``select`` -> ``GetVehicleRoute`` -> ``manifest`` to that page, refreshed while
  selected: on a poll where the vehicle's plan changed, and at least every
  :data:`MANIFEST_REFRESH_S`. (From an engine without ``GetVehicleRoute``: the driver's
  ``GetManifest``, with straight lines between the stops.) A vehicle the engine does not know
  gets one answer, as in replay: a ``manifest`` with an ``error`` sentence.
* The engine going away (UNAVAILABLE, a broken stream, a deadline): every page gets a ``status``
  with ``connected`` false and a sentence; the source retries with a capped backoff
  (:data:`BACKOFF_S`) and, once the engine answers, sends the whole fleet and the open rides to
  every page and ``status`` connected. A refused token is said in a sentence the same way. Until
  the engine has answered once, its silence reads "no engine answers at HOST:PORT yet: waiting
  for it" (the dashboard may be started before the engine).

Rider names never reach the pages: the engine names a rider's ride ``<rider>/<request id>`` (the
rider's token subject first); the source shows it as ``<pseudonym>/<request id>``, the pseudonym a
keyed hash of the rider, the same for all of a rider's rides while the dashboard runs
(:meth:`LiveSource.ride_label`). Tokens are never sent to the pages.

Expected failures are logged as one line, never with a stack trace. Memory is bounded: the feed,
the KPI history, the pending events and the remembered shared rides have fixed caps; the pages'
queues are the server's (:class:`dashboard.server.PageClient`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import grpc
import grpc.aio

from proto.client import ClientTLS
from proto.mobility.v1 import (
    common_pb2,
    driver_pb2,
    driver_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
)

from . import protocol
from .protocol import point
from .source import Client

__all__ = [
    "BACKOFF_S",
    "EVENT_FLUSH_S",
    "FEED_LOOKBACK_S",
    "FEED_SIZE",
    "KPI_HISTORY",
    "MANIFEST_REFRESH_S",
    "LiveError",
    "LiveSource",
    "probe",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Feed events kept for pages that connect later.
FEED_SIZE: Final = 500
#: The feed starts with the events of this many seconds before the dashboard started.
FEED_LOOKBACK_S: Final = 600
#: KPI points kept for the charts of pages that connect later (an hour at one poll a second).
KPI_HISTORY: Final = 3600
#: Events are sent to the pages in one message at most this often (seconds).
EVENT_FLUSH_S: Final = 0.1
#: Events waiting for the next flush beyond this are dropped (the oldest first) with a warning.
MAX_PENDING_EVENTS: Final = 5000
#: A selected vehicle's manifest is fetched again at least this often (seconds).
MANIFEST_REFRESH_S: Final = 5.0
#: Reconnection delays: from the first to the cap, doubling.
BACKOFF_S: Final = (0.5, 5.0)
#: Rides whose ``shared`` flag is remembered after they leave the open list (for ``pooled``).
SHARED_MEMORY: Final = 20_000
#: Largest gRPC message accepted (a big city's street map is tens of MB).
MAX_RECEIVE_BYTES: Final = 512 * 1024 * 1024

_DOWN_CODES: Final = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)
_AUTH_CODES: Final = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


class LiveError(Exception):
    """The engine cannot be followed; the message is a sentence for the operator. ``absent``: no
    engine answers at the address at all (nothing listens, or nothing answers in time), as when
    the dashboard is started before its engine, as opposed to an engine that answered and
    refused (a token, a service) or something there that does not speak plaintext gRPC."""

    def __init__(self, message: str, *, absent: bool = False) -> None:
        super().__init__(message)
        self.absent = absent


class _EngineDown(Exception):
    """The engine stopped answering (or refused the token): reconnect after a pause."""


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return "unspecified"


def _event_key(event_id: str) -> tuple[int, int] | None:
    ms, sep, seq = event_id.partition("-")
    if sep and ms.isdigit() and seq.isdigit():
        return int(ms), int(seq)
    return None


def _failure(exc: grpc.aio.AioRpcError, target: str, *, token_given: bool = True, waiting: bool = False) -> str:
    """A sentence for the operator about a failed call (``token_given``: whether the calls carry a
    token; ``waiting``: the engine never answered yet, the dashboard waits for it)."""
    code = exc.code()
    if code in _AUTH_CODES:
        if not token_given:
            return (
                f"the engine at {target} needs an operator's token and none was given ({code.name}): "
                "give one with --token-file FILE"
            )
        return (
            f"the engine at {target} refused the operator token ({code.name}): "
            "check --token-file (an operator's token is needed)"
        )
    if waiting and code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return f"no engine answers at {target} yet: waiting for it"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"the engine at {target} does not answer (UNAVAILABLE); retrying"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"the engine at {target} did not answer in time; retrying"
    detail = (exc.details() or "").splitlines()[0][:200] if exc.details() else ""
    return f"the engine at {target} answered {code.name}: {detail}"


def aio_channel(target: str, tls: ClientTLS | None) -> grpc.aio.Channel:
    """A ``grpc.aio`` channel to ``target`` (TLS with ``tls``), accepting large messages."""
    options = [
        ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.initial_reconnect_backoff_ms", int(BACKOFF_S[0] * 1000)),
        ("grpc.max_reconnect_backoff_ms", int(BACKOFF_S[1] * 1000)),
    ]
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, tls.credentials(), options=options)


def map_message(answer: operator_pb2.ServiceMap) -> dict[str, Any]:
    """The ``hello``'s ``map`` from the engine's ``ServiceMap`` (``planar``: a network without
    geographic coordinates, drawn in metres as degrees about 0, 0; no tiles apply)."""
    digits = protocol.COORD_DIGITS
    lat = [round(x, digits) for x in answer.street_lat]
    lon = [round(x, digits) for x in answer.street_lon]
    if answer.HasField("south_west") and answer.HasField("north_east"):
        bounds: list[list[float]] | None = [
            point(answer.south_west.lat, answer.south_west.lon),
            point(answer.north_east.lat, answer.north_east.lon),
        ]
    else:
        points = [(s.lat, s.lon) for s in answer.stops] + list(zip(lat, lon, strict=True))
        bounds = (
            [
                point(min(p[0] for p in points), min(p[1] for p in points)),
                point(max(p[0] for p in points), max(p[1] for p in points)),
            ]
            if points
            else None
        )
    return {
        "streets": {"offsets": list(answer.street_offsets), "lat": lat, "lon": lon},
        "stops": [
            {"stop": s.stop, "id": s.id, "name": s.name, "lat": round(s.lat, digits), "lon": round(s.lon, digits)}
            for s in answer.stops
        ],
        "zone": [point(p.lat, p.lon) for p in answer.zone],
        "bounds": bounds,
        "planar": answer.planar,
    }


def vehicle_row(v: driver_pb2.VehicleStatus) -> list[Any]:
    """A vehicle of a ``vehicles`` message (:data:`dashboard.protocol.VEHICLE_FIELDS`)."""
    lat = lon = next_lat = next_lon = None
    if v.HasField("position"):
        lat, lon = point(v.position.lat, v.position.lon)
    if v.HasField("next_position"):
        next_lat, next_lon = point(v.next_position.lat, v.next_position.lon)
    state = _enum_name(driver_pb2.VehicleState, v.state, "VEHICLE_STATE_")
    if state not in protocol.VEHICLE_STATES:  # an engine that does not say
        state = "idle" if v.on_shift else "off_shift"
    return [v.vehicle_id, lat, lon, state, v.on_board, v.seats, next_lat, next_lon, v.next_arrival_s or None]


def ride_item(r: common_pb2.Ride, label: Callable[[str], str]) -> dict[str, Any]:
    """An open ride of a ``rides`` message (:data:`dashboard.protocol.RIDE_FIELDS`), its id shown
    as ``label(ride_id)``."""
    return {
        "ride_id": label(r.ride_id),
        "status": _enum_name(common_pb2.RideStatus, r.status, "RIDE_STATUS_"),
        "vehicle_id": r.vehicle_id or None,
        "passengers": r.passengers,
        "pickup": point(r.pickup_point.lat, r.pickup_point.lon) if r.HasField("pickup_point") else None,
        "dropoff": point(r.dropoff_point.lat, r.dropoff_point.lon) if r.HasField("dropoff_point") else None,
        "window": [r.pickup_window_start_s, r.pickup_window_end_s],
        "planned_pickup_s": r.planned_pickup_s or None,
        "requested_s": r.requested_s or None,
        "shared": r.shared,
    }


def kpi_values(s: operator_pb2.FleetStatusResponse, kind: str) -> dict[str, Any]:
    """The ``kpis`` values (:data:`dashboard.protocol.KPI_FIELDS`) from ``FleetStatus``."""
    served = s.rides_on_board + s.rides_completed
    return {
        "served": served,
        "rejected": s.requests_rejected + s.rides_rejected,
        "rejected_by_reason": dict(s.rejected_by_reason),
        "wait_p50_s": s.wait_p50_s if served else None,
        "wait_p90_s": s.wait_p90_s if served else None,
        "occupancy": s.occupancy,
        "vehicles_busy": s.vehicles_busy,
        "vehicles_on_shift": s.vehicles_on_shift,
        "vehicles": s.vehicles,
        "riders_on_board": s.riders_on_board,
        "open_requests": s.rides_matching + s.rides_assigned,
        "pooled_share": s.pooled_share if kind == "taxi" else None,
    }


class LiveSource:
    """Follows the engine at ``target`` (``host:port``) for the dashboard (a
    :class:`dashboard.source.Source`; see the module's docstring). ``token``: an operator's
    bearer token (None: an engine without authentication); ``tls``: TLS to the engine (None:
    plaintext); ``service``: the service to show (empty: the engine's default); ``interval_s``:
    the poll period; ``tiles``: a tile URL template for the page (None: the streets are the map).
    """

    mode = "live"

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        tls: ClientTLS | None = None,
        service: str = "",
        interval_s: float = 1.0,
        tiles: str | None = None,
        call_timeout_s: float = 10.0,
    ) -> None:
        if not 0.05 <= interval_s <= 60:
            raise ValueError(f"interval_s: {interval_s}, expected 0.05 .. 60 seconds")
        self.target = target
        self.service = service
        self.interval_s = interval_s
        self.tiles = tiles
        self.call_timeout_s = call_timeout_s
        self._tls = tls
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel: grpc.aio.Channel | None = None
        self._operator: operator_pb2_grpc.OperatorServiceStub | None = None
        self._driver: driver_pb2_grpc.DriverServiceStub | None = None
        self._task: asyncio.Task[None] | None = None
        # what the pages were told
        self._clients: dict[int, Client] = {}
        self._waiting_hello: set[int] = set()
        self._selected: dict[int, str] = {}
        self._map: dict[str, Any] | None = None
        self._kind = "imod"
        self._service_name = service
        self._stop_points: dict[int, list[float]] = {}
        self._vehicles: dict[str, list[Any]] = {}
        self._plans: dict[str, tuple[Any, ...]] = {}
        self._rides: dict[str, dict[str, Any]] = {}
        self._time_s = 0
        self._kpis: dict[str, Any] | None = None
        self._kpi_history: deque[dict[str, Any]] = deque(maxlen=KPI_HISTORY)
        self._feed: deque[dict[str, Any]] = deque(maxlen=FEED_SIZE)
        self._pending: deque[dict[str, Any]] = deque()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._dropped_events = 0
        self._last_event_id = ""
        self._shared: OrderedDict[str, bool] = OrderedDict()
        self._connected = False
        self._followed = False  # the engine answered a whole poll at least once
        self._message = f"connecting to the engine at {target}"
        self._rides_supported = True
        self._route_supported = True
        self._manifest_sent: dict[tuple[int, str], float] = {}
        self.polls = 0  # completed polls (for tests and the log)
        self._pseudonym_key = secrets.token_bytes(16)

    def ride_label(self, ride_id: str) -> str:
        """How the pages see the engine's ride id ``ride_id``: the rider part (before ``/``)
        replaced by a pseudonym (8 hex digits of a keyed hash, stable while this source lives)."""
        rider, sep, rest = ride_id.partition("/")
        if not sep:
            return ride_id
        digest = hmac.new(self._pseudonym_key, rider.encode(), hashlib.sha256).hexdigest()[:8]
        return f"{digest}/{rest}"

    # ------------------------------------------------------------------ Source
    async def start(self) -> None:
        self._channel = aio_channel(self.target, self._tls)
        self._operator = operator_pb2_grpc.OperatorServiceStub(self._channel)
        self._driver = driver_pb2_grpc.DriverServiceStub(self._channel)
        try:  # the map first, so that the first pages get their hello at once
            await self._load_map()
        except (_EngineDown, grpc.aio.AioRpcError) as exc:
            self._message = str(exc) if isinstance(exc, _EngineDown) else self._failure(exc)
            log.warning("%s", self._message)
        self._task = asyncio.create_task(self._run(), name="dashboard-live")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        if self._channel is not None:
            await self._channel.close(grace=None)

    async def connected(self, client: Client) -> None:
        self._clients[client.id] = client
        if self._map is None:
            self._waiting_hello.add(client.id)
            client.send(self._status())
            return
        self._greet(client)

    async def disconnected(self, client: Client) -> None:
        self._clients.pop(client.id, None)
        self._waiting_hello.discard(client.id)
        self._selected.pop(client.id, None)
        for key in [k for k in self._manifest_sent if k[0] == client.id]:
            del self._manifest_sent[key]

    async def received(self, client: Client, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind != "select":
            client.send(
                protocol.error(
                    "type", f"{kind}: only when replaying a run; this dashboard follows a live engine (select only)"
                )
            )
            return
        vehicle_id = message.get("vehicle_id")
        refused = protocol.select_error(vehicle_id)
        if refused is not None:
            client.send(refused)
            return
        if vehicle_id is None:
            self._selected.pop(client.id, None)
            return
        if self._vehicles and vehicle_id not in self._vehicles:
            self._unknown_vehicle(client, vehicle_id)
            return
        for key in [k for k in self._manifest_sent if k[0] == client.id]:
            del self._manifest_sent[key]  # one entry per page: its selection
        self._selected[client.id] = vehicle_id
        if self._connected:
            with contextlib.suppress(_EngineDown):  # the poll loop notices and says so
                await self._send_manifests({vehicle_id: [client]})

    # ------------------------------------------------------------------ pages
    def _status(self) -> dict[str, Any]:
        return {"type": "status", "connected": self._connected, "message": self._message, "source": self.target}

    def _hello(self) -> dict[str, Any]:
        return protocol.hello(
            self.mode,
            title=f"{self._service_name or 'default service'} at {self.target}",
            service=self._service_name,
            kind=self._kind,
            tiles=None if self._map and self._map.get("planar") else self.tiles,
            map=self._map,
            replay=None,
        )

    def _greet(self, client: Client) -> None:
        """The hello and the snapshot: status, clock, the whole fleet and the open rides (once the
        first poll has them), the KPI history and the feed."""
        self._waiting_hello.discard(client.id)
        client.send(self._hello())
        client.send(self._status())
        client.send(self._clock())
        if self.polls:  # else the first poll sends the fleet to every page
            client.send(self._full_vehicles())
            client.send(self._full_rides())
        client.send({"type": "kpi_history", "items": list(self._kpi_history)})
        if self._kpis is not None:
            client.send({"type": "kpis", "time_s": self._time_s, "values": self._kpis})
        if self._feed:
            client.send({"type": "events", "items": list(self._feed)})

    def _broadcast(self, message: dict[str, Any]) -> None:
        for cid, client in self._clients.items():
            if cid not in self._waiting_hello:
                client.send(message)

    def _clock(self) -> dict[str, Any]:
        return {"type": "clock", "time_s": self._time_s, "playing": True, "speed": 1}

    def _full_vehicles(self) -> dict[str, Any]:
        items = list(self._vehicles.values())
        return {"type": "vehicles", "time_s": self._time_s, "full": True, "items": items, "removed": []}

    def _full_rides(self) -> dict[str, Any]:
        items = list(self._rides.values())
        return {"type": "rides", "time_s": self._time_s, "full": True, "items": items, "removed": []}

    def _set_status(self, connected: bool, message: str) -> None:
        if (connected, message) == (self._connected, self._message):
            return
        self._connected, self._message = connected, message
        (log.info if connected else log.warning)("%s", message)
        for client in self._clients.values():
            client.send(self._status())

    def _unknown_vehicle(self, client: Client, vehicle_id: str) -> None:
        """One answer, as in replay: a ``manifest`` with ``error`` (the selection is dropped)."""
        shown = vehicle_id[:60]
        self._selected.pop(client.id, None)
        client.send(
            {
                "type": "manifest",
                "vehicle_id": vehicle_id,
                "time_s": self._time_s,
                "stops": [],
                "path": [],
                "error": f"no vehicle {shown!r} in this service",
            }
        )

    # ------------------------------------------------------------------ the engine
    async def _call(self, method: Callable[..., Awaitable[T]], request: Any) -> T:
        return await method(request, metadata=self._metadata, timeout=self.call_timeout_s)

    async def _run(self) -> None:
        delay = BACKOFF_S[0]
        while True:
            try:
                if self._map is None:
                    await self._load_map()
                await self._poll(full=True)
                self._followed = True
                self._set_status(True, f"following the engine at {self.target}")
                delay = BACKOFF_S[0]
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._poll_loop())
                    group.create_task(self._watch_loop())
            except* _EngineDown as group:
                self._set_status(False, str(group.exceptions[0]))
            except* grpc.aio.AioRpcError as group:
                exc = group.exceptions[0]
                assert isinstance(exc, grpc.aio.AioRpcError)
                self._set_status(False, self._failure(exc))
            except* Exception:  # a bug: logged with its traceback, and the source starts over
                log.exception("the live source failed; starting over")
                self._set_status(False, f"the dashboard lost track of the engine at {self.target}; reconnecting")
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_S[1])

    def _failure(self, exc: grpc.aio.AioRpcError) -> str:
        return _failure(exc, self.target, token_given=bool(self._metadata), waiting=not self._followed)

    def _down(self, exc: grpc.aio.AioRpcError) -> bool:
        return exc.code() in _DOWN_CODES or exc.code() in _AUTH_CODES

    async def _load_map(self) -> None:
        assert self._operator is not None
        try:
            answer = await self._call(
                self._operator.GetServiceMap, operator_pb2.GetServiceMapRequest(service=self.service)
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise _EngineDown(self._failure(exc)) from None
            log.warning("the engine at %s does not draw maps (GetServiceMap unimplemented): no streets", self.target)
            answer = operator_pb2.ServiceMap(service=self.service)
        self._map = map_message(answer)
        self._kind = answer.kind or "imod"
        self._service_name = answer.service or self.service
        self._stop_points = {s.stop: point(s.lat, s.lon) for s in answer.stops}
        for cid in list(self._waiting_hello):
            client = self._clients.get(cid)
            if client is not None:
                self._greet(client)
        self._waiting_hello.clear()

    async def _poll_loop(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.interval_s
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - self.interval_s)  # never a burst of catch-up polls
            await self._poll(full=False)

    async def _poll(self, *, full: bool) -> None:
        """One poll of the fleet, the KPIs and the open rides; ``full``: every page gets the whole
        fleet and rides (after a (re)connection)."""
        assert self._operator is not None
        service = self.service
        calls: list[Awaitable[Any]] = [
            self._call(self._operator.ListVehicles, operator_pb2.ListVehiclesRequest(service=service)),
            self._call(self._operator.FleetStatus, operator_pb2.FleetStatusRequest(service=service)),
        ]
        if self._rides_supported:
            request = operator_pb2.ListRidesRequest(service=self._service_name, open_only=True)
            calls.append(self._call(self._operator.ListRides, request))
        answers: list[Any] = list(await asyncio.gather(*calls, return_exceptions=True))
        for i, answer in enumerate(answers):
            if isinstance(answer, grpc.aio.AioRpcError):
                if self._down(answer):
                    raise _EngineDown(self._failure(answer))
                if i == 2 and answer.code() == grpc.StatusCode.UNIMPLEMENTED:
                    log.warning("the engine at %s does not list rides (ListRides unimplemented)", self.target)
                    self._rides_supported = False
                    answers[2] = None
                    continue
                log.warning("%s", self._failure(answer))
                return
            if isinstance(answer, BaseException):
                raise answer
        vehicles: operator_pb2.ListVehiclesResponse = answers[0]
        status: operator_pb2.FleetStatusResponse = answers[1]
        self._time_s = int(status.clock_s)
        self._update_vehicles(vehicles, full=full)
        if len(answers) > 2 and answers[2] is not None:
            self._update_rides(answers[2], full=full)
        elif full:
            self._broadcast(self._full_rides())
        self._kpis = kpi_values(status, self._kind)
        history = self._kpi_history
        went_back = bool(history) and self._time_s < history[-1]["time_s"]
        if went_back:  # the engine restarted or began another day: the charts start over
            log.info("the engine's clock went back (%d s -> %d s): the KPI history restarts", history[-1]["time_s"],
                     self._time_s)  # fmt: skip
            history.clear()
        history.append({"time_s": self._time_s, "values": self._kpis})
        if went_back:
            self._broadcast({"type": "kpi_history", "items": list(history)})
        self._broadcast({"type": "kpis", "time_s": self._time_s, "values": self._kpis})
        self._broadcast(self._clock())
        self.polls += 1
        await self._refresh_manifests(vehicles)

    def _update_vehicles(self, answer: operator_pb2.ListVehiclesResponse, *, full: bool) -> None:
        rows = {v.vehicle_id: vehicle_row(v) for v in answer.vehicles}
        changed = [row for vid, row in rows.items() if self._vehicles.get(vid) != row]
        removed = [vid for vid in self._vehicles if vid not in rows]
        self._vehicles = rows
        self._send_update("vehicles", changed, removed, self._full_vehicles, full=full)

    def _update_rides(self, answer: operator_pb2.ListRidesResponse, *, full: bool) -> None:
        items = {}
        for r in answer.rides:
            items[r.ride_id] = ride_item(r, self.ride_label)
            self._remember_shared(r.ride_id, r.shared)
        changed = [item for rid, item in items.items() if self._rides.get(rid) != item]
        removed = [item["ride_id"] for rid, item in self._rides.items() if rid not in items]
        self._rides = items
        self._send_update("rides", changed, removed, self._full_rides, full=full)

    def _send_update(
        self,
        kind: str,
        changed: list[Any],
        removed: list[str],
        whole: Callable[[], dict[str, Any]],
        *,
        full: bool,
    ) -> None:
        partial = {"type": kind, "time_s": self._time_s, "full": False, "items": changed, "removed": removed}
        whole_message: dict[str, Any] | None = None
        for cid, client in self._clients.items():
            if cid in self._waiting_hello:
                continue
            if full or client.behind:
                whole_message = whole_message or whole()
                client.send(whole_message)
            elif changed or removed:
                client.send(partial)

    def _remember_shared(self, ride_id: str, shared: bool) -> None:
        if not shared and ride_id not in self._shared:
            return
        self._shared[ride_id] = shared
        self._shared.move_to_end(ride_id)
        while len(self._shared) > SHARED_MEMORY:
            self._shared.popitem(last=False)

    # ------------------------------------------------------------------ the feed
    async def _watch_loop(self) -> None:
        assert self._operator is not None
        while True:
            # the first time, from FEED_LOOKBACK_S ago (event ids are "<ms>-<seq>" on the wall clock):
            # the feed starts filled, and nothing booked while the stream was being opened is missed
            after = self._last_event_id or f"{max(0, time.time_ns() // 1_000_000 - FEED_LOOKBACK_S * 1000)}-0"
            request = operator_pb2.WatchAssignmentsRequest(after_event_id=after, service=self._service_name)
            call = self._operator.WatchAssignments(request, metadata=self._metadata)
            try:
                async for event in call:
                    self._on_event(event)
            except grpc.aio.AioRpcError as exc:
                if self._down(exc):
                    raise _EngineDown(self._failure(exc)) from None
                if exc.code() == grpc.StatusCode.INVALID_ARGUMENT and self._last_event_id:
                    log.warning("the engine refused to resume after %s; following from now", self._last_event_id)
                    self._last_event_id = ""
                else:  # e.g. the stream fell behind (RESOURCE_EXHAUSTED): resume where it stopped
                    log.warning("the assignment stream ended: %s; resuming", self._failure(exc))
            finally:
                call.cancel()
            await asyncio.sleep(BACKOFF_S[0])

    def _on_event(self, event: operator_pb2.AssignmentEvent) -> None:
        key = _event_key(event.event_id)
        last = _event_key(self._last_event_id)
        if key is not None and last is not None and key <= last:
            return  # already fed (a resumed stream overlapping what came before)
        if key is not None:
            self._last_event_id = event.event_id
        label = self.ride_label(event.ride_id) if event.ride_id else ""
        item = {
            "id": event.event_id,
            "kind": _enum_name(operator_pb2.AssignmentKind, event.kind, "ASSIGNMENT_KIND_"),
            "time_s": int(event.time_s),
            "ride_id": label or None,
            "vehicle_id": event.vehicle_id or None,
            "detail": event.detail.replace(event.ride_id, label) if event.ride_id else event.detail,
            "pooled": self._kind == "taxi" and self._shared.get(event.ride_id, False),
        }
        self._feed.append(item)
        if len(self._pending) >= MAX_PENDING_EVENTS:
            self._pending.popleft()
            self._dropped_events += 1
        self._pending.append(item)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(EVENT_FLUSH_S, self._flush_events)

    def _flush_events(self) -> None:
        self._flush_handle = None
        if self._dropped_events:
            log.warning("%d feed events dropped: more than %d came at once", self._dropped_events, MAX_PENDING_EVENTS)
            self._dropped_events = 0
        if self._pending:
            items = list(self._pending)
            self._pending.clear()
            self._broadcast({"type": "events", "items": items})

    # ------------------------------------------------------------------ manifests
    async def _refresh_manifests(self, answer: operator_pb2.ListVehiclesResponse) -> None:
        if not self._selected:
            return
        selected = set(self._selected.values())
        plans = {  # of the selected vehicles only: this runs on every poll
            v.vehicle_id: (v.planned_stops, v.next_stop, v.next_node, v.next_arrival_s, v.on_board, v.stop)
            for v in answer.vehicles
            if v.vehicle_id in selected
        }
        now = time.monotonic()
        wanted: dict[str, list[Client]] = {}
        for cid, vehicle_id in list(self._selected.items()):
            client = self._clients.get(cid)
            if client is None:
                continue
            if vehicle_id not in plans:
                self._unknown_vehicle(client, vehicle_id)
                continue
            changed = plans[vehicle_id] != self._plans.get(vehicle_id)
            stale = now - self._manifest_sent.get((cid, vehicle_id), 0.0) >= MANIFEST_REFRESH_S
            if changed or stale:
                wanted.setdefault(vehicle_id, []).append(client)
        self._plans = plans
        if wanted:
            await self._send_manifests(wanted)

    async def _send_manifests(self, wanted: dict[str, list[Client]]) -> None:
        results = await asyncio.gather(*(self._manifest(vid) for vid in wanted), return_exceptions=True)
        now = time.monotonic()
        for (vehicle_id, clients), result in zip(wanted.items(), results, strict=True):
            if isinstance(result, grpc.aio.AioRpcError):
                if self._down(result):
                    raise _EngineDown(self._failure(result))
                if result.code() == grpc.StatusCode.NOT_FOUND:
                    for client in clients:
                        self._unknown_vehicle(client, vehicle_id)
                    continue
                log.warning("manifest of %s: %s", vehicle_id, self._failure(result))
                continue
            if isinstance(result, BaseException):
                raise result
            for client in clients:
                if self._selected.get(client.id) == vehicle_id:
                    client.send(result)
                    self._manifest_sent[(client.id, vehicle_id)] = now

    async def _manifest(self, vehicle_id: str) -> dict[str, Any]:
        """The ``manifest`` message of ``vehicle_id`` (GetVehicleRoute; GetManifest from an older engine)."""
        assert self._operator is not None and self._driver is not None
        if self._route_supported:
            try:
                route = await self._call(
                    self._operator.GetVehicleRoute,
                    operator_pb2.GetVehicleRouteRequest(vehicle_id=vehicle_id, service=self._service_name),
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
                log.warning("the engine at %s has no GetVehicleRoute: manifests without paths", self.target)
                self._route_supported = False
            else:
                points = [point(p.lat, p.lon) for p in route.stop_points]
                return self._manifest_message(
                    vehicle_id, int(route.time_s), route.manifest, points, [point(p.lat, p.lon) for p in route.path]
                )
        manifest = await self._call(
            self._driver.GetManifest, driver_pb2.GetManifestRequest(vehicle_id=vehicle_id, service=self._service_name)
        )
        stop_points = [self._stop_points.get(s.stop) for s in manifest.stops]
        return self._manifest_message(vehicle_id, int(manifest.time_s), manifest, stop_points, [])

    def _manifest_message(
        self,
        vehicle_id: str,
        time_s: int,
        manifest: driver_pb2.Manifest,
        stop_points: Sequence[list[float] | None],
        path: list[list[float]],
    ) -> dict[str, Any]:
        stops = []
        for i, s in enumerate(manifest.stops):
            where = stop_points[i] if i < len(stop_points) else None
            stops.append(
                {
                    "ride_id": self.ride_label(s.ride_id),
                    "kind": _enum_name(driver_pb2.StopKind, s.kind, "STOP_KIND_"),
                    "stop": s.stop,
                    "lat": where[0] if where else None,
                    "lon": where[1] if where else None,
                    "planned_s": s.planned_s,
                    "window_start_s": s.window_start_s,
                    "window_end_s": s.window_end_s,
                    "passengers": s.passengers,
                }
            )
        if not path:  # straight lines from the vehicle through its stops
            row = self._vehicles.get(vehicle_id)
            start = [[row[1], row[2]]] if row and row[1] is not None else []
            path = start + [[s["lat"], s["lon"]] for s in stops if s["lat"] is not None]
        return {
            "type": "manifest",
            "vehicle_id": vehicle_id,
            "time_s": time_s or self._time_s,
            "stops": stops,
            "path": path,
        }


def _nobody_listens(detail: str) -> bool:
    """Whether gRPC's UNAVAILABLE ``detail`` says nothing accepted the connection (as opposed to a
    peer that accepted it and then closed it, as a TLS server does with a plaintext client)."""
    lowered = detail.lower()
    return any(
        words in lowered
        for words in ("connection refused", "timed out", "timeout", "no route", "unreachable", "dns resolution")
    )


async def probe(
    target: str, *, token: str | None, tls: ClientTLS | None, service: str = "", timeout_s: float = 5.0
) -> str:
    """Ask the engine at ``target`` once for its fleet status (as the dashboard will); a line saying
    what answered, or :class:`LiveError` with a sentence (no engine there — ``absent`` —, a token
    refused or missing, a TLS engine asked in plaintext, ...)."""
    channel = aio_channel(target, tls)
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    try:
        stub = operator_pb2_grpc.OperatorServiceStub(channel)
        try:
            status = await stub.FleetStatus(
                operator_pb2.FleetStatusRequest(service=service), metadata=metadata, timeout=timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise LiveError(
                    f"no engine answered at {target} within {timeout_s:g} s (--engine)", absent=True
                ) from None
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                detail = (exc.details() or "").splitlines()[0][:300] if exc.details() else ""
                if tls is None and not _nobody_listens(detail):  # something there, but not plaintext gRPC
                    raise LiveError(
                        f"no engine answers at {target} (--engine): {detail}; "
                        "does it serve TLS? then give --tls (or --tls-ca FILE for a private CA)"
                    ) from None
                raise LiveError(f"no engine answers at {target} (--engine): {detail}", absent=True) from None
            raise LiveError(_failure(exc, target, token_given=bool(token))) from None
        return f"{status.service or service or 'default service'}: {status.vehicles} vehicles, clock {status.clock_s} s"
    finally:
        await channel.close(grace=None)
