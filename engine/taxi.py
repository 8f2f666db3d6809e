"""The shared-taxi services of a deployment in the live engine (I-MOA over gRPC).

A deployment may run several services on one road network (:attr:`Deployment.services`): the
I-MOD zone (the engine's :class:`~matching.dispatcher.Dispatcher`) and shared-taxi fleets, each
a :class:`TaxiService` here around a :class:`~matching.pooling.dispatcher.SharedTaxiDispatcher`.
All of them live in the one engine core and are driven by its one writer: the operations of
:mod:`engine.operations` (``taxi_*``) act on a service by name, and the core stages every
service's changes into the same commit (:meth:`TaxiService.stage`).

* :class:`ServiceDirectory` — the services by name and kind, and which taxi belongs to which:
  what a servicer needs to route a call (the core and a front end's remote core both have it);
* :class:`TaxiAsk` — a rider's quote or booking as the servicer checked it; the writer snaps its
  points to road nodes (:func:`~matching.pooling.model.request_from_points`) and stamps its time;
* :class:`TaxiService` — one fleet: its dispatcher, batch clock, store records and read models.

Batches. Every ``pooling.batch_s`` of the service clock a batch matches the waiting requests
(:meth:`SharedTaxiDispatcher.run_batch`). Batch times are the multiples of ``batch_s``. On an
external clock a call whose time passes the next batch time first runs the batch, at the batch
time (the core's :meth:`~engine.core.EngineCore.now`): a simulation gets the same batches
whatever the timing of its calls. On the wall clock a timer queues the ``taxi_batches``
operation when one is due. A service with nothing waiting or promised skips its batches. After
each batch the idle taxis are sent toward unserved demand (:meth:`SharedTaxiDispatcher.rebalance`,
when the service's ``pooling.rebalance`` is on): the drivers read the target in their manifest.

Persistence: per-ride records, like the I-MOD side, not the dispatcher's whole
:meth:`~SharedTaxiDispatcher.snapshot` per commit. A commit writes only what changed (a booking
writes one ride; a batch the rides it matched or moved and the taxis whose plan changed), which
keeps commits small with thousands of rides a day, and lets retention forget ended rides one by
one. Measured on Manhattan with 2,000 taxis (``imoa_manhattan``, 300 bookings then one batch, the
memory store): staging the batch's changes took 23 ms and its commit 17 ms, beside the batch's
own 2.0 s. Ride records carry ``taxi_service`` (the I-MOD rebuild leaves them out), taxi records too;
the meta key ``taxi:<name>:last_batch_s`` holds the last batch time. A restarted engine rebuilds
each dispatcher from them (:meth:`TaxiService.restore`): waiting rides keep their order and are
matched at its next batch, promised ones stay on their taxis.

Limits: on the wall clock a taxi service runs within one service day (the I-MOD day change does
not carry taxi rides over); the dispatcher's batch reports are kept in memory only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from matching import RejectReason, RiderClass, StopKind
from matching.deployment import ConfigError, Deployment, TaxiServiceSpec
from matching.errors import ConflictError, InvalidValueError, NotFoundError
from matching.pooling.dispatcher import (
    NO_LIMIT_S,
    SNAPSHOT_VERSION,
    TAXI_STATE_FIELDS,
    SharedTaxiDispatcher,
    ride_from_dict,
    ride_to_dict,
)
from matching.pooling.model import (
    BatchReport,
    TaxiEventKind,
    TaxiQuote,
    TaxiRequest,
    TaxiRide,
    TaxiRideStatus,
    request_from_points,
)
from proto import convert as pc
from routing import HierarchyTimes, RoadNetwork, Router

from .errors import InvalidInput
from .geometry import LegPaths, MapPoints, route_path
from .store_types import Commit
from .views import DWELLING, IDLE, OFF_SHIFT, TO_PICKUP, WITH_RIDERS, reason_names, wait_percentiles

log = logging.getLogger(__name__)

#: The kinds of service (:data:`matching.deployment.SERVICE_KINDS`).
IMOD = "imod"
SHARED_TAXI = "shared_taxi"
#: The ``assignments`` payload key that names a service (I-MOD events have none: the default's).
SERVICE_KEY = "service"
#: The record key that marks a ride or vehicle record as a shared-taxi service's.
RECORD_KEY = "taxi_service"
#: Statuses after which a shared-taxi ride changes no more.
TERMINAL = tuple(s.value for s in TaxiRideStatus if s.is_terminal)


# ---------------------------------------------------------------------------- the directory
@dataclass(frozen=True)
class ServiceDirectory:
    """The services of a deployment by name (the default first) and kind, and the service of
    each taxi (picklable: a front end gets it with the engine's "ready")."""

    kinds: dict[str, str]
    taxis: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_deployment(cls, deployment: Deployment, imod_vehicle_ids: Iterable[str] = ()) -> ServiceDirectory:
        """The directory of ``deployment``; ConfigError if a taxi id is another vehicle's too."""
        kinds = {deployment.imod_name: IMOD} if deployment.imod else {}
        taxis: dict[str, str] = {}
        taken = set(imod_vehicle_ids) if deployment.imod else set()
        for spec in deployment.taxi_services:
            kinds[spec.name] = SHARED_TAXI
            for vid in spec.taxi_ids():
                if vid in taken or vid in taxis:
                    raise ConfigError("services.name", f"taxi id {vid!r} is another vehicle's too", "unique ids")
                taxis[vid] = spec.name
        return cls(kinds, taxis)

    @property
    def default(self) -> str:
        """The service a call gets when it names none."""
        return next(iter(self.kinds))

    def resolve(self, name: str) -> tuple[str, str]:
        """``(name, kind)`` of the service a call names (empty: the default); InvalidInput
        (field ``service``) for an unknown name."""
        if not name:
            name = self.default
        kind = self.kinds.get(name)
        if kind is None:
            allowed = ", ".join(self.kinds)
            raise InvalidInput(
                "service", f"unknown service {name[:64]!r} (allowed: {allowed}, or empty for {self.default})"
            )
        return name, kind

    def taxi_service_of(self, vehicle_id: str, named: str = "") -> str | None:
        """The shared-taxi service of ``vehicle_id`` (None: an I-MOD vehicle, or none); with a
        service ``named``, the vehicle must be one of its (NotFoundError otherwise)."""
        service = self.taxis.get(vehicle_id)
        if named:
            name, kind = self.resolve(named)
            if (kind == SHARED_TAXI) != (service is not None) or (service is not None and service != name):
                raise NotFoundError("vehicle", vehicle_id)  # not in the service named
        return service


# ---------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class TaxiAsk:
    """A shared-taxi quote or booking as the servicer read it (ids scoped, values checked); each
    end is a node or a (lat, lon) point. :meth:`request` makes the dispatcher's request of it."""

    id: str
    origin: int | tuple[float, float]
    destination: int | tuple[float, float]
    passengers: int = 1
    share: bool = True
    rider_class: RiderClass = RiderClass.ADULT

    def request(self, network: RoadNetwork, now_s: int) -> TaxiRequest:
        """The request at ``now_s`` (points snapped to the nearest road node, the walk kept).

        Raises:
            InvalidInput: a node outside the network or a point too far from the roads (naming
                the message's field: ``origin.node``, ``origin.point.lat``, ...).
        """
        n = network.num_nodes
        for end in ("origin", "destination"):
            where = getattr(self, end)
            if isinstance(where, int) and not 0 <= where < n:
                raise InvalidInput(f"{end}.node", f"got {where} (allowed: 0 .. {n - 1}, the road network's nodes)")
        try:
            if isinstance(self.origin, int) and isinstance(self.destination, int):
                return TaxiRequest(
                    id=self.id,
                    origin=self.origin,
                    destination=self.destination,
                    request_time_s=now_s,
                    passengers=self.passengers,
                    share=self.share,
                    rider_class=self.rider_class,
                )
            if isinstance(self.origin, int) or isinstance(self.destination, int):
                raise InvalidInput("destination", "give both ends as nodes or both as points")
            return request_from_points(
                network,
                id=self.id,
                origin_lat=self.origin[0],
                origin_lon=self.origin[1],
                destination_lat=self.destination[0],
                destination_lon=self.destination[1],
                request_time_s=now_s,
                passengers=self.passengers,
                share=self.share,
                rider_class=self.rider_class,
            )
        except InvalidValueError as exc:
            path = {"origin": "origin.node", "destination": "destination.node", "id": "request_id"}.get(exc.field)
            if path is None:
                raise
            raise InvalidInput(path, str(exc).removeprefix(f"{exc.field}: ")) from None


def quote_dict(service: str, q: TaxiQuote, request: TaxiRequest) -> dict[str, Any]:
    """A taxi quote as the fields of the API's ``Offer`` message."""
    return {
        "request_id": q.request_id,
        "vehicle_id": q.vehicle_id,
        "pickup_stop": -1,
        "dropoff_stop": -1,
        "pickup_eta_s": q.pickup_eta_s,
        "pickup_window_start_s": request.request_time_s,
        "pickup_window_end_s": q.latest_pickup_s,
        "dropoff_eta_s": q.dropoff_eta_s,
        "fare_krw": q.fare_krw,
        "direct_distance_m": q.direct_m,
        "direct_time_s": q.direct_s,
        "solo_fare_krw": q.solo_fare_krw,
        "pooled_fare_krw": q.pooled_fare_krw,
        "walk_m": q.walk_m,
        "service": service,
        "pickup_node": request.origin,
        "dropoff_node": request.destination,
    }


# ---------------------------------------------------------------------------- one service
class TaxiService:
    """One shared-taxi fleet in the engine: its dispatcher, batch clock, records and views."""

    def __init__(self, spec: TaxiServiceSpec, network: RoadNetwork, router: Router, seed: int) -> None:
        self.spec = spec
        self.name = spec.name
        self.network = network
        self.router = router
        self.times = HierarchyTimes(router)
        self.fleet = spec.fleet(network.num_nodes, seed)
        self.dispatcher = self.new_dispatcher()
        #: The next batch's time on the service clock (None: not scheduled yet).
        self.next_batch_s: int | None = None
        #: Taxis (rows) whose record or manifest may have changed since the last stage.
        self.dirty: set[int] = set()
        self._rides: dict[str, dict[str, Any]] = {}  # each ride's view as last published
        self._taxis: dict[int, dict[str, Any]] = {}  # each taxi's record as last written
        self._details: dict[str, str] = {}  # why a ride was rejected or cancelled
        self._keys: dict[str, str] = {}  # idempotency key -> ride id
        self._key_of: dict[str, str] = {}  # ride id -> its idempotency key
        self._reports: list[BatchReport] = []
        #: Batches run since the engine started, and the taxis the last one sent toward demand.
        self.batches = 0
        self.rebalanced = 0
        #: Node positions and the street paths of legs (the operators' map).
        self.points = MapPoints.of(network)
        self.legs = LegPaths(network, self.points)
        self._served_until: dict[int, int] = {}  # taxi row -> when it can leave the node where it served someone

    def new_dispatcher(self) -> SharedTaxiDispatcher:
        return SharedTaxiDispatcher(
            self.times,
            self.fleet,
            self.spec.pooling,
            distance_m=self.router.path_length_m,
            batch=self.spec.batch,
            coordinates=(self.network.x_m, self.network.y_m),
        )

    def retime(self, router: Router) -> None:
        """New travel times (a traffic update): the dispatcher asks the new router from now on."""
        self.router = router
        self.times = HierarchyTimes(router)
        self.dispatcher.times = self.times
        self.dispatcher.distance_m = router.path_length_m

    # -- the batch clock
    @property
    def batch_s(self) -> int:
        return self.spec.pooling.batch_s

    def schedule_after(self, time_s: int) -> None:
        """The next batch: the first multiple of ``batch_s`` after ``time_s``."""
        self.next_batch_s = (time_s // self.batch_s + 1) * self.batch_s

    def idle(self) -> bool:
        """Nothing waits for a match and nothing is promised: a batch would decide nothing."""
        d = self.dispatcher
        return not d.open_rides and not any(t.assigned for t in d.taxis)

    def run_batch(self, time_s: int) -> BatchReport:
        """Run the batch of ``time_s``, then send idle taxis toward demand (when the service
        rebalances: :meth:`SharedTaxiDispatcher.rebalance`), and schedule the next batch; every
        taxi's plan may change."""
        report = self.dispatcher.run_batch(time_s)
        self.rebalanced = len(self.dispatcher.rebalance(time_s))
        self.schedule_after(time_s)
        self.dirty.update(range(len(self.fleet)))
        self._reports[:] = [report]  # the last one is what the KPIs report
        del self.dispatcher.reports[:-1]  # a live service runs for days: no growing list of every batch
        self.batches += 1
        return report

    # -- rides
    def check_new_id(self, ride_id: str) -> None:
        if ride_id in self.dispatcher.rides:
            raise ConflictError(f"a ride {ride_id!r} exists already")

    def known_ride(self, key: str) -> TaxiRide | None:
        """The ride booked with idempotency key ``key`` before (None: none)."""
        rid = self._keys.get(key) if key else None
        return None if rid is None else self.dispatcher.rides.get(rid)

    def submit(self, request: TaxiRequest, key: str, now_s: int) -> TaxiRide:
        ride = self.dispatcher.submit(request, now_s)
        if key:
            self._keys[key] = ride.id
            self._key_of[ride.id] = key
        return ride

    def taxi_row(self, vehicle_id: str) -> int:
        return self.dispatcher.vehicle_index_of(vehicle_id)

    def ride_dict(self, ride: TaxiRide) -> dict[str, Any]:
        """``ride`` as the callers and the ``ride:<id>`` topic see it (the keys of the I-MOD rides'
        view, :meth:`engine.views.Views.ride_dict`, and the shared taxi's own)."""
        req = ride.request
        reject = ride.reason if ride.status is TaxiRideStatus.REJECTED else None
        return {
            "ride_id": ride.id,
            "status": ride.status.value,
            "vehicle_id": ride.vehicle_id or "",
            "pickup_stop": -1,
            "dropoff_stop": -1,
            "passengers": req.passengers,
            "pickup_window_start_s": req.request_time_s,
            "pickup_window_end_s": ride.latest_pickup_s,
            "latest_dropoff_s": 0 if ride.latest_dropoff_s >= NO_LIMIT_S else ride.latest_dropoff_s,
            "planned_pickup_s": ride.pickup_eta_s or 0,
            "planned_dropoff_s": ride.dropoff_eta_s or 0,
            "picked_up_at_s": ride.picked_up_s or 0,
            "dropped_off_at_s": ride.dropped_off_s or 0,
            "fare_krw": ride.fare_krw or 0,
            "offer_id": "",
            "rider_id": req.id.split("/", 1)[0] if "/" in req.id else "",
            "service": self.name,
            "shared": ride.shared,
            "share": req.share,
            "reject_reason": reject or "",
            "detail": self._details.get(ride.id, ride.reason or ""),
            "pickup_node": req.origin,
            "dropoff_node": req.destination,
            "walk_m": req.walk_m,
            "pickup_point": self.node_point(req.origin),
            "dropoff_point": self.node_point(req.destination),
            "requested_s": int(req.request_time_s),
        }

    def node_point(self, node: int) -> tuple[float, float]:
        """The position of road node ``node``."""
        return float(self.points.node_lat[node]), float(self.points.node_lon[node])

    # -- taxis
    def vehicle_status(self, v: int, clock_s: int) -> dict[str, Any]:
        """Taxi ``v``'s status at ``clock_s`` (the VehicleStatus message's fields).

        Where it is: its plan starts at its ``node`` from ``time``; with a first planned stop at
        another node, planned for ``at``, it drives there from ``depart = max(time, at - drive
        time)`` (the drive time along the street path): while ``depart <= clock_s < at`` its
        position is moved along the path by the share of the drive time elapsed; from ``at`` on it
        is at that stop (no one reported it yet); else at ``node``. A taxi sent toward demand
        (``rebalance_node``) shows at ``node``. Its state as for the minibuses
        (:mod:`engine.views`): ``off_shift``; ``dwelling`` (not driving, and before it can leave
        the node where it last picked up or dropped off someone, or at its first planned stop
        before that stop's planned time and dwell are over); ``with_riders``; ``to_pickup`` (stops
        planned); ``idle``."""
        d = self.dispatcher
        taxi = d.taxis[v]
        spec = self.fleet[v]
        on_shift = spec.shift_start_s <= clock_s < spec.shift_end_s
        on_board = d.occupancy(spec.id)
        first = taxi.plan[0] if taxi.plan else None
        here, position = self._place_node(v, clock_s)
        moving = isinstance(here, tuple)
        at_node = here[0] if isinstance(here, tuple) else here
        dwell = self.spec.pooling.dwell_s
        dwelling = not moving and (
            clock_s < self._served_until.get(v, 0)
            or (first is not None and first.node == at_node and clock_s < first.time_s + dwell)
        )
        if not on_shift:
            state = OFF_SHIFT
        elif dwelling:
            state = DWELLING
        elif on_board:
            state = WITH_RIDERS
        elif taxi.plan:
            state = TO_PICKUP
        else:
            state = IDLE
        return {
            "vehicle_id": spec.id,
            "on_shift": on_shift,
            "seats": self.spec.pooling.capacity,
            "wheelchair_places": 0,
            "on_board": on_board,
            "stop": -1,
            "available_s": taxi.time,
            "planned_stops": len(taxi.plan),
            "shift_end_s": spec.shift_end_s,
            "service": self.name,
            "node": taxi.node,
            **({} if taxi.rebalancing_to is None else {"rebalance_node": taxi.rebalancing_to}),
            "state": state,
            "position": position,
            "next_stop": -1,
            "next_node": first.node if first is not None else -1,
            "next_position": self.node_point(first.node) if first is not None else None,
            "next_arrival_s": int(first.time_s) if first is not None else 0,
        }

    def vehicle_route(self, v: int, clock_s: int) -> dict[str, Any]:
        """Taxi ``v``'s planned route (GetVehicleRoute; see :meth:`engine.views.Views.vehicle_route`)."""
        status = self.vehicle_status(v, clock_s)
        stops = self.manifest(v)
        nodes = [int(n) for n in stops["node"]]
        here = self._place_node(v, clock_s)[0]
        points = [self.node_point(n) for n in nodes]
        return {
            "status": status,
            "stops": stops,
            **route_path(self.legs, self.router, status["position"], here, nodes, points, float(clock_s)),
        }

    def _place_node(self, v: int, clock_s: int) -> tuple[tuple[int, float, float, int] | int, tuple[float, float]]:
        """Where taxi ``v`` is at ``clock_s`` (see :meth:`vehicle_status`): the road node it is at,
        or, driving to its first planned stop, ``(from node, depart_s, arrive_s, to node)``; and
        its position (driving: moved along the leg's street path)."""
        taxi = self.dispatcher.taxis[v]
        if taxi.plan and taxi.plan[0].node != taxi.node:
            first = taxi.plan[0]
            leg = self.legs.leg(self.router, taxi.node, first.node)
            depart = max(float(taxi.time), first.time_s - leg.seconds)
            if depart <= clock_s < first.time_s:
                position = leg.point_at((clock_s - depart) / (first.time_s - depart))
                return (taxi.node, depart, float(first.time_s), first.node), position
            if clock_s >= first.time_s:
                return first.node, self.node_point(first.node)
        return taxi.node, self.node_point(taxi.node)

    def manifest(self, v: int) -> dict[str, Any]:
        """Taxi ``v``'s plan as manifest columns (:func:`engine.converters.manifest`): each stop's
        ``node`` (``stop`` is -1: door to door), and ``rebalance_node``: where an idle taxi is sent
        toward demand (None: nowhere)."""
        d = self.dispatcher
        plan = d.taxis[v].plan
        rides = [d.rides[s.ride_id] for s in plan]
        return {
            "ride_id": [s.ride_id for s in plan],
            "kind": [s.kind.value for s in plan],
            "stop": [-1] * len(plan),
            "planned_s": [int(s.time_s) for s in plan],
            "service_s": [self.spec.pooling.dwell_s] * len(plan),
            "passengers": [r.request.passengers for r in rides],
            "window_start_s": [
                r.request.request_time_s if s.kind is StopKind.PICKUP else 0 for s, r in zip(plan, rides, strict=True)
            ],
            "window_end_s": [  # a pickup's latest time, a drop-off's (0: no limit)
                int(r.latest_pickup_s)
                if s.kind is StopKind.PICKUP
                else (0 if r.latest_dropoff_s >= NO_LIMIT_S else int(r.latest_dropoff_s))
                for s, r in zip(plan, rides, strict=True)
            ],
            "node": [int(s.node) for s in plan],
            "rebalance_node": d.taxis[v].rebalancing_to,
        }

    def taxi_record(self, v: int) -> dict[str, Any]:
        """Taxi ``v``'s store record (where its plan starts, the plan, its riders)."""
        return {RECORD_KEY: self.name, **self.dispatcher.taxi_state(v)}

    def kpis(self, clock_s: int) -> dict[str, Any]:
        """The fleet's live KPIs (the FleetStatusResponse message's fields), in one pass over the
        rides: the wait percentiles over the rides picked up (on board or completed), the
        rejections by reason (of the rides the batches or the booking rejected), the taxis on
        shift with a plan or riders (busy), and the riders on board over their seats (occupancy)."""
        d = self.dispatcher
        counts = {s: 0 for s in TaxiRideStatus}
        waits: list[int] = []
        picked_waits: list[int] = []
        reasons: Counter[str] = Counter()
        picked = shared = matched = 0
        for ride in d.rides.values():
            counts[ride.status] += 1
            if ride.picked_up_s is not None:
                picked += 1
                shared += ride.shared
                wait = ride.picked_up_s - ride.request.request_time_s
                if ride.status in (TaxiRideStatus.ON_BOARD, TaxiRideStatus.COMPLETED):
                    picked_waits.append(wait)
                if ride.status is TaxiRideStatus.COMPLETED:
                    waits.append(wait)
            if ride.vehicle_id is not None:
                matched += 1
            if ride.status is TaxiRideStatus.REJECTED:
                reasons[ride.reason or RejectReason.NO_VEHICLE_IN_TIME.value] += 1
        shift = [v for v, s in enumerate(self.fleet) if s.shift_start_s <= clock_s < s.shift_end_s]
        busy = sum(1 for v in shift if d.taxis[v].plan or d.taxis[v].onboard)
        riding = sum(d.occupancy(self.fleet[v].id) for v in shift)
        places = self.spec.pooling.capacity * len(shift)
        p50, p90 = wait_percentiles(picked_waits)
        last = self._reports[-1] if self._reports else None
        return {
            "clock_s": clock_s,
            "service": self.name,
            "vehicles": len(self.fleet),
            "vehicles_on_shift": sum(s.shift_start_s <= clock_s < s.shift_end_s for s in self.fleet),
            "rides_assigned": counts[TaxiRideStatus.ASSIGNED],
            "rides_on_board": counts[TaxiRideStatus.ON_BOARD],
            "rides_completed": counts[TaxiRideStatus.COMPLETED],
            "rides_cancelled": counts[TaxiRideStatus.CANCELLED],
            "rides_no_show": counts[TaxiRideStatus.NO_SHOW],
            "requests_rejected": counts[TaxiRideStatus.REJECTED],
            "rides_rejected": counts[TaxiRideStatus.REJECTED],
            "rides_matching": counts[TaxiRideStatus.MATCHING],
            "rides_matched": matched,
            "riders_on_board": sum(d.occupancy(s.id) for s in self.fleet),
            "mean_wait_s": sum(waits) / len(waits) if waits else 0.0,
            "pooled_share": shared / picked if picked else 0.0,
            "last_batch_s": d.last_batch_s or 0,
            "last_batch_compute_s": last.compute_s if last is not None else 0.0,
            "batches": self.batches,
            "wait_p50_s": p50,
            "wait_p90_s": p90,
            "rejected_by_reason": reason_names(reasons),
            "vehicles_busy": busy,
            "occupancy": riding / places if places else 0.0,
        }

    # -- the store
    def ride_record(self, ride: TaxiRide) -> dict[str, Any]:
        record = {RECORD_KEY: self.name, "ride": ride_to_dict(ride), "detail": self._details.get(ride.id, "")}
        key = self._key_of.get(ride.id)
        if key:
            record["idempotency_key"] = key
        return record

    def stage(self, commit: Commit, now_s: int) -> None:
        """Add what changed since the last stage to ``commit``: the rides' and taxis' records, the
        operators' events (``assignments``), the riders' (``ride:<id>``) and the drivers'
        manifests (``vehicle:<id>``)."""
        d = self.dispatcher
        events = d.drain_events()
        changed: dict[str, TaxiEventKind | None] = {}
        at: dict[str, int] = {}  # when each ride's last event happened
        for ev in events:
            changed[ev.ride_id] = ev.kind
            at[ev.ride_id] = int(ev.time_s)
            if ev.kind in (TaxiEventKind.REJECTED, TaxiEventKind.CANCELLED) and ev.detail:
                self._details[ev.ride_id] = ev.detail
            if ev.vehicle_id is not None:
                row = d.vehicle_index_of(ev.vehicle_id)
                self.dirty.add(row)
                if ev.kind in (TaxiEventKind.PICKED_UP, TaxiEventKind.DROPPED_OFF):
                    self._served_until[row] = d.taxis[row].time
            commit.events.append(("assignments", {
                "kind": pc.TAXI_DISPATCH_KIND[ev.kind].value, "time_s": int(ev.time_s), "ride_id": ev.ride_id,
                "vehicle_id": ev.vehicle_id or "", "detail": ev.detail, SERVICE_KEY: self.name,
            }))  # fmt: skip
        for v in sorted(self.dirty):
            record = self.taxi_record(v)
            before = self._taxis.get(v)
            if record == before:
                continue
            self._taxis[v] = record
            vid = self.fleet[v].id
            commit.vehicles[vid] = record
            if before is None or (before["plan"], before["rebalancing_to"]) != (
                record["plan"],
                record["rebalancing_to"],
            ):
                commit.events.append(
                    (f"vehicle:{vid}", {"kind": "manifest", "time_s": now_s, "stops": self.manifest(v)})
                )
                for rid in {s[2] for s in record["plan"]} | ({s[2] for s in before["plan"]} if before else set()):
                    changed.setdefault(rid, None)
        self.dirty.clear()
        for rid, kind in changed.items():
            ride = d.rides.get(rid)
            if ride is None:
                continue
            view = self.ride_dict(ride)
            before_view = self._rides.get(rid)
            if view == before_view and kind is None:
                continue
            self._rides[rid] = view
            commit.rides[rid] = self.ride_record(ride)
            if ride.status.is_terminal:
                commit.expire_rides.append(rid)
            update = pc.TAXI_RIDE_UPDATE[kind] if kind is not None else "eta"
            commit.events.append((f"ride:{rid}", {"kind": update, "time_s": at.get(rid, now_s), "ride": view}))
        last = d.last_batch_s
        if last is not None:
            commit.meta[f"taxi:{self.name}:last_batch_s"] = str(last)

    def batch_event(self, report: BatchReport) -> dict[str, Any]:
        """The operators' event of a batch that decided something."""
        detail = (
            f"assigned {len(report.assigned)}, reassigned {len(report.reassigned)}, rejected {len(report.rejected)}, "
            f"open {report.open}, trips {report.trips}, {report.status}, {report.compute_s:.3f} s; "
            f"{self.rebalanced} idle taxis sent toward demand"
        )
        return {"kind": pc.BATCH_EVENT, "time_s": report.time_s, "ride_id": "", "vehicle_id": "", "detail": detail,
                SERVICE_KEY: self.name}  # fmt: skip

    def restore(self, rides: Iterable[Mapping[str, Any]], vehicles: Mapping[str, Mapping[str, Any]],
                meta: Mapping[str, str], clock_s: int) -> None:  # fmt: skip
        """Rebuild the dispatcher from the store's records (a new dispatcher: nothing else carries
        over); the next batch is the first batch time after the last one (or after ``clock_s``)."""
        d = self.new_dispatcher()
        mine = [r for r in rides if r.get(RECORD_KEY) == self.name]
        ride_objs = [ride_from_dict(r["ride"]) for r in mine]
        open_ids = [
            r.id
            for r in sorted(ride_objs, key=lambda r: (r.history[0][0] if r.history else 0, r.request.request_time_s))
            if r.status is TaxiRideStatus.MATCHING
        ]
        taxis = []
        for spec in self.fleet:
            rec = vehicles.get(spec.id)
            if rec is None or rec.get(RECORD_KEY) != self.name:
                rec = {"node": spec.node, "time": spec.shift_start_s, "plan": [], "assigned": [], "onboard": [],
                       "rebalancing_to": None}  # fmt: skip
            taxis.append({"id": spec.id, **{k: rec[k] for k in TAXI_STATE_FIELDS}})
        stored_last = meta.get(f"taxi:{self.name}:last_batch_s")
        last = int(stored_last) if stored_last else None
        d.restore({
            "version": SNAPSHOT_VERSION, "last_batch_s": last, "open": open_ids,
            "rides": [r["ride"] for r in mine], "taxis": taxis,
        })  # fmt: skip
        self.dispatcher = d
        self._details = {r["ride"]["id"]: r.get("detail", "") for r in mine if r.get("detail")}
        self._keys = {r["idempotency_key"]: r["ride"]["id"] for r in mine if r.get("idempotency_key")}
        self._key_of = {rid: key for key, rid in self._keys.items()}
        self._rides = {rid: self.ride_dict(ride) for rid, ride in d.rides.items()}
        self._taxis = {v: self.taxi_record(v) for v in range(len(self.fleet))}
        self.dirty.clear()
        # the clock went back (a new service day on the wall clock): batches from now
        self.schedule_after(clock_s if last is None or last > clock_s else last)


def taxi_services(deployment: Deployment, network: RoadNetwork, router: Router, seed: int) -> dict[str, TaxiService]:
    """The deployment's shared-taxi services, by name."""
    return {spec.name: TaxiService(spec, network, router, seed) for spec in deployment.taxi_services}


def warm_taxis(service: TaxiService, time_s: int) -> bool:
    """Compile the shared taxi's kernels before the engine says SERVING: a quote, a booking and a
    batch on a throwaway dispatcher of ``service``. False if no trial trip was possible."""
    d = service.new_dispatcher()
    n = service.network.num_nodes
    taxi = service.fleet[0]
    for k, dst in enumerate((n // 2, n - 1, 1)):
        if dst == taxi.node:
            continue
        request = TaxiRequest(id=f"warm-up-{k}", origin=taxi.node, destination=dst, request_time_s=time_s)
        if isinstance(d.quote(request, time_s), TaxiQuote):
            d.submit(request, time_s)
            d.run_batch(time_s + service.batch_s)
            return True
    return False
