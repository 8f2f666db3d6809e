"""The I-MOD dispatcher: offers, bookings, cancellations, vehicle events and re-optimisation.

>>> dispatcher = Dispatcher(network, router, stops, vehicles, params=ServiceParams())
>>> answer = dispatcher.quote(request, now_s=8 * 3600)          # Offer or Rejection
>>> ride = dispatcher.book(answer.offer_id, now_s=8 * 3600 + 20)  # the promise is kept from now on
>>> ride = dispatcher.quote_and_book(other, now_s=8 * 3600)      # both in one step (or a Rejection)
>>> dispatcher.reoptimise(deadline=time.monotonic() + 0.2)       # improve without breaking promises

**The plan** is a :class:`routing.fleet.FleetPlan` (named arrays the kernels of
:mod:`routing.schedule` read): every vehicle has a start node (where it can next change
course, and when), an end node (its depot, by the end of its shift) and the pickup and
drop-off nodes of its rides in between. Nodes are at stops; the plan's travel times are
those between the stops it visits now, held in a bounded
:class:`~routing.locations.LocationPool` whose times come from the contraction hierarchy
(no stop-by-stop matrix: the memory follows the plans, not the number of stops), or read
from a stop-by-stop matrix the caller gives. A vehicle driving to its next stop is
committed to it: new stops are inserted after it (MATSim's "position 1 = right after the
current position", with the current position being that next stop).

**A quote** snaps the request to stops (walking limit, zone, hours: :class:`ServiceArea`),
sets the pickup window ``[requested, requested + max_wait]`` and the ride limit
(``ServiceParams.max_ride_s``), filters vehicles by capacity and by whether they can reach
the pickup in time at all, and evaluates the best insertion into each remaining vehicle
with the exact kernel. The cheapest becomes the :class:`Offer`, with a promised pickup
window around the planned pickup time.

**A booking** turns the promise into hard constraints on the ride's nodes (pickup inside the
promised window, ride no longer than the limit) and inserts the ride again (the plan may
have changed since the quote). From then on no operation may break it: every insertion and
every re-optimisation is checked against those constraints exactly.

**Re-optimisation** runs the ALNS of :mod:`routing.solve` on the current plan, within a
deadline (or an iteration budget, for reproducible simulations). Riders on board stay on
their vehicle; every other booked ride may move to another vehicle or position as long as
its promise holds. The new plan is adopted only if it is cheaper.

**Checkpoints** (a semi-fixed service, :meth:`Dispatcher.add_checkpoints`): a vehicle may follow
a base route of timed stops. A checkpoint is a node of the vehicle's plan that carries no one,
with the hard window ``[scheduled, scheduled]`` (arrive no later, leave no earlier), pinned to
the vehicle like the drop-off of a rider on board: a delivery whose pickup is behind it. So the
same kernels keep it: an insertion (quote, booking) goes only where every later checkpoint
still makes its time, the re-optimisation never removes it (the solver moves only requests
whose pickup lies ahead) and, the windows being increasing instants, no route can visit two
checkpoints in another order. The vehicle reports the visit with :meth:`Dispatcher.on_checkpoint`.
Checkpoints are not part of :meth:`Dispatcher.snapshot` (the live engine does not offer them).
:meth:`Dispatcher.restrict_boarding` limits boarding and alighting to some stops (a fixed line:
riders walk to the nearest of them, :meth:`ServiceArea.with_boarding_stops`).

Deterministic: the same calls in the same order give the same answers (re-optimisation
with an iteration budget; with a wall-clock deadline it stops where the clock says).

Beside this module: the open offers and their numbering (:mod:`matching.offers`), and the
snapshot a dispatcher is restored from after a restart (:mod:`matching.snapshot`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from routing import RoadNetwork, Router, StopSet
from routing.fleet import FleetPlan
from routing.locations import LocationPool, longest_travel_time
from routing.problem import DELIVERY, PICKUP, PDProblem
from routing.schedule import CostWeights
from routing.solve import Deadline, FirstOf, MaxIterations, SolveParams, StoppingCriterion, solve

from .errors import ConflictError, InvalidValueError, NotFoundError
from .fares import FarePolicy, ImodFare
from .model import DispatchEventKind, Offer, Rejection, RejectReason, Request, RideStatus, StopKind, VehicleState
from .offers import OpenOffers, Quote, QuotedInsertion, offer_number
from .params import ServiceParams
from .service_area import ServiceArea, StopChoice, StopPair
from .snapshot import DispatcherSnapshot, RideSnapshot, VehicleSnapshot

_INF = float("inf")
#: Up to this many stop pairs the longest stop-to-stop time the re-optimisation measures by is
#: exact (every network whose stop matrix the dispatcher used to hold: Manhattan has 18.8
#: million); beyond, the longest over a sample of as many pairs (a lower bound), so that the
#: first re-optimisation on a city does not compute all pairs.
SCALE_EXACT_PAIRS = 25_000_000
#: Events that end a ride (its lateness need not be remembered any longer).
_RIDE_ENDS = frozenset(
    {DispatchEventKind.COMPLETED, DispatchEventKind.NO_SHOW, DispatchEventKind.CANCELLATION, DispatchEventKind.EXPIRED}
)


# ---------------------------------------------------------------------------- records
@dataclass
class Ride:
    """A booked ride and where it stands. ``vehicle`` is the index of the assigned vehicle."""

    ride_id: str
    request: Request
    offer: Offer
    status: RideStatus
    vehicle: int
    pickup_node: int
    dropoff_node: int
    booked_at_s: int
    stops: StopPair | None = None
    idempotency_key: str | None = None
    picked_up_at_s: int | None = None
    dropped_off_at_s: int | None = None
    #: planned service start at the pickup and at the drop-off (refreshed with the plan)
    planned_pickup_s: float = 0.0
    planned_dropoff_s: float = 0.0


class PlannedStop(NamedTuple):
    """A stop of a vehicle's plan: the ride, pickup or drop-off (a :class:`StopKind`), where,
    when and for how long. A checkpoint (``checkpoint`` True, :meth:`Dispatcher.add_checkpoints`)
    names the checkpoint in ``ride_id`` and has the kind ``DROPOFF`` (it carries no one)."""

    ride_id: str
    kind: StopKind
    stop: int
    planned_s: float  # planned start of service
    service_s: int  # dwell at the stop
    checkpoint: bool = False


class PlanColumns(NamedTuple):
    """A vehicle's planned stops as columns (see :meth:`Dispatcher.plan_columns`)."""

    ride_ids: list[str]
    kinds: list[StopKind]
    stops: list[int]
    planned_s: list[float]  # planned start of service
    service_s: list[int]
    passengers: list[int]
    window_start_s: list[int]  # of a pickup; 0 for a drop-off


@dataclass
class Checkpoint:
    """A timed stop of a vehicle's base route (semi-fixed service, :meth:`Dispatcher.add_checkpoints`).

    The vehicle serves ``stop`` at exactly ``scheduled_s``: it arrives no later and leaves no
    earlier (then after ``dwell_s``). ``planned_s`` is the plan's service start (refreshed with
    the plan; it is ``scheduled_s`` while the plan keeps the checkpoint); ``visited_at_s`` the
    reported service start (:meth:`Dispatcher.on_checkpoint`), None before the visit.
    """

    checkpoint_id: str
    vehicle: int
    stop: int
    scheduled_s: int
    dwell_s: int
    node: int
    planned_s: float = 0.0
    visited_at_s: int | None = None


@dataclass(frozen=True)
class DispatchEvent:
    """Something the operator (and the affected rider / driver) should hear about."""

    kind: DispatchEventKind
    time_s: int
    ride_id: str | None = None
    vehicle_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ReoptimiseReport:
    """What a re-optimisation did."""

    cost_before: float
    cost_after: float
    adopted: bool
    iterations: int
    runtime_s: float
    moved_rides: tuple[str, ...]


# ---------------------------------------------------------------------------- the dispatcher
class Dispatcher:
    """Demand-responsive dispatch over a road network with stops (see the module docstring).

    Args:
        network, router: the road network and its shortest-path engine.
        stops: the service's stops (``routing.virtual_stops`` or ``routing.all_node_stops``).
        vehicles: the fleet; each vehicle starts at its depot stop at the start of its shift.
        params: the service rules; ``fares``: the fare policy (I-MOD by default).
        travel_time_s: optional precomputed stop-by-stop travel-time matrix (seconds), for
            networks small enough to hold one; without it the plan's travel times come from
            ``router`` through a :class:`~routing.locations.LocationPool`.
        seed: seeds the re-optimisation.
    """

    def __init__(
        self,
        network: RoadNetwork,
        router: Router,
        stops: StopSet,
        vehicles: Sequence[VehicleState],
        *,
        params: ServiceParams | None = None,
        fares: FarePolicy | None = None,
        travel_time_s: NDArray[np.float64] | None = None,
        seed: int = 0,
    ) -> None:
        if not vehicles:
            raise InvalidValueError("vehicles", "the fleet is empty", "at least one vehicle")
        ids = [v.id for v in vehicles]
        if len(set(ids)) != len(ids):
            raise InvalidValueError("vehicles", "vehicle ids must be unique")
        for veh in vehicles:
            if not 0 <= veh.depot_stop < len(stops):
                raise InvalidValueError(
                    f"vehicles[{veh.id}].depot_stop", f"got {veh.depot_stop}", f"0 .. {len(stops) - 1}"
                )
        self.network = network
        self.router = router
        self.stops = stops
        self.params = params or ServiceParams()
        self.fares: FarePolicy = fares or ImodFare()
        self.area = ServiceArea(network, stops, self.params)
        self.vehicles = list(vehicles)
        self.vehicle_index = {v.id: k for k, v in enumerate(vehicles)}
        self.seed = seed
        t0 = time.perf_counter()
        locations: LocationPool | NDArray[np.float64]
        if travel_time_s is None:
            locations = LocationPool(router, stops.node)
        else:
            locations = np.ascontiguousarray(travel_time_s, np.float64)
            if locations.shape != (len(stops), len(stops)):
                raise InvalidValueError("travel_time_s", f"expected a {len(stops)} x {len(stops)} matrix")
        self.plan = FleetPlan(
            [veh.depot_stop for veh in vehicles],
            [veh.shift_start_s for veh in vehicles],
            [veh.shift_end_s for veh in vehicles],
            [(veh.seats, veh.wheelchair_places) for veh in vehicles],
            locations,
        )
        self.matrix_s = time.perf_counter() - t0
        # the longest stop-to-stop travel time, which the re-optimisation measures by (computed
        # when first needed over a pool, in bounded blocks: see SCALE_EXACT_PAIRS)
        self._scale_s: float | None = None
        self.plan.weights = CostWeights(
            float(self.params.vehicle_time_weight),
            float(self.params.passenger_delay_weight),
            float(self.params.new_rider_wait_weight),
        )
        self.rides: dict[str, Ride] = {}
        #: the checkpoints of base routes (semi-fixed service), by id; visited ones stay here
        self.checkpoints: dict[str, Checkpoint] = {}
        # (ride, pickup/drop-off) already reported late: a van that stays silent keeps
        # breaking its widened promise as the clock moves, but a rider hears it once per stop.
        self._late_reported: set[tuple[str | None, int]] = set()
        #: the offers made and not yet forgotten (an offer that expired unbooked is forgotten at the next quote)
        self.offers = OpenOffers()
        self.events: list[DispatchEvent] = []
        #: vehicles whose driver ended the shift: they finish their planned stops, take no new ride
        self.off_shift = np.zeros(len(self.vehicles), dtype=np.bool_)
        self._max_seats = max(v.seats for v in vehicles)
        self._max_wc = max(v.wheelchair_places for v in vehicles)
        self._reopt_calls = 0
        #: how many vehicles the last quote evaluated (for benchmarks)
        self.last_quote_candidates = 0
        # rides and vehicles changed since the last drain_changes() (for persistence)
        self._dirty_rides: set[str] = set()
        self._dirty_vehicles: set[int] = set()

    # ------------------------------------------------------------------ helpers
    def _emit(
        self,
        kind: DispatchEventKind,
        time_s: int,
        ride_id: str | None = None,
        vehicle: int | None = None,
        detail: str = "",
    ) -> None:
        vid = self.vehicles[vehicle].id if vehicle is not None else None
        self.events.append(DispatchEvent(kind, int(time_s), ride_id, vid, detail))
        if kind in _RIDE_ENDS and self._late_reported:
            self._late_reported.discard((ride_id, PICKUP))
            self._late_reported.discard((ride_id, DELIVERY))

    def _demand(self, request: Request) -> tuple[int, int]:
        wc = 1 if request.wheelchair else 0
        return request.passengers - wc, wc

    def _set_ride_nodes(
        self,
        p: int,
        d: int,
        request: Request,
        stops: StopPair,
        window: tuple[float, float],
        max_ride: float,
        ride_index: int,
    ) -> None:
        plan = self.plan
        seats, wc = self._demand(request)
        service_s = self.params.service_time_s(request.passengers)  # the same dwell at both stops
        plan.arrays.kind[p] = PICKUP
        plan.arrays.kind[d] = DELIVERY
        plan.set_place(p, stops.origin.stop)
        plan.set_place(d, stops.destination.stop)
        plan.arrays.partner[p] = d
        plan.arrays.partner[d] = p
        plan.arrays.request[p] = ride_index
        plan.arrays.request[d] = ride_index
        plan.arrays.tw_early[p], plan.arrays.tw_late[p] = window
        plan.arrays.service[p] = plan.arrays.service[d] = service_s
        plan.arrays.tw_early[d] = 0.0
        plan.arrays.tw_late[d] = window[1] + service_s + max_ride
        plan.arrays.max_ride[d] = max_ride
        plan.arrays.demand[p] = (seats, wc)
        plan.arrays.demand[d] = (-seats, -wc)

    def _sync(self, now_s: int) -> None:
        """Bring every vehicle's start to ``now``: idle ones wait where they are; a vehicle
        on its way is committed to its next stop. A vehicle that should already have served
        its next stop is late: its plan is shifted and any promise that breaks is recorded."""
        plan = self.plan
        behind = np.flatnonzero(plan.arrays.vehicle_early < now_s)
        vehicles = behind.tolist()
        for v in vehicles:
            if plan.state.length[v] <= 2:
                plan.arrays.vehicle_early[v] = now_s
                plan.arrays.tw_early[plan.arrays.vehicle_start[v]] = now_s
            else:
                first = int(plan.state.nodes[v, 1])
                arrival = float(plan.state.arrival[v, 1])  # planned arrival at the next stop
                plan.copy_place(int(plan.arrays.vehicle_start[v]), first)
                plan.arrays.vehicle_early[v] = max(float(now_s), arrival)
                plan.arrays.tw_early[plan.arrays.vehicle_start[v]] = plan.arrays.vehicle_early[v]
        # One kernel call for every route (each route's schedule depends on its own vehicle only,
        # so preparing them all first is the same as preparing each after its own move).
        feasible = plan.prepare_many(behind).tolist()
        for v, ok in zip(vehicles, feasible, strict=True):
            if not ok:
                self._accept_lateness(v, now_s)
            if plan.state.length[v] > 2:
                self._refresh_planned_times(v)  # a busy vehicle's plan moved: keep it (persistence)

    def _prepare_or_accept_lateness(self, v: int, now_s: int) -> None:
        """Prepare route ``v``; if reality (a late vehicle) broke promises, widen exactly those.

        The plan stays consistent: a pickup or drop-off that can no longer make its window
        gets the window it can make, and a ride limit that can no longer hold is raised; each
        is reported as a ``late`` event.
        """
        if not self.plan.prepare(v):
            self._accept_lateness(v, now_s)

    def _accept_lateness(self, v: int, now_s: int) -> None:
        """Route ``v`` is not time-feasible as promised (its vehicle is late): widen the windows
        and ride limits it can no longer make, report each, and prepare it again."""
        plan = self.plan
        seq = plan.route(v)
        # The earliest schedule without any upper bound: forward pass only.
        t = max(plan.arrays.vehicle_early[v], plan.arrays.tw_early[seq[0]])
        times = [t]
        for k in range(1, len(seq)):
            prev, node = int(seq[k - 1]), int(seq[k])
            t = max(
                plan.arrays.tw_early[node],
                t
                + plan.arrays.service[prev]
                + plan.arrays.travel_time[plan.arrays.node_location[prev], plan.arrays.node_location[node]],
            )
            times.append(t)
        start_of: dict[int, float] = {}
        for k in range(1, len(seq)):
            node = int(seq[k])
            kind = int(plan.arrays.kind[node])
            rid = plan.node_ride[node]
            if times[k] > plan.arrays.tw_late[node]:
                detail = f"now planned at {int(times[k])} s, promised by {int(plan.arrays.tw_late[node])} s"
                plan.arrays.tw_late[node] = times[k]
                self._widened(rid, kind, now_s, v, detail)
            if kind == PICKUP:
                start_of[int(plan.arrays.partner[node])] = times[k] + plan.arrays.service[node]
            elif kind == DELIVERY and node in start_of:
                ride_s = times[k] - start_of[node]
                if ride_s > plan.arrays.max_ride[node]:
                    detail = f"ride now planned at {int(ride_s)} s, limit {int(plan.arrays.max_ride[node])} s"
                    plan.arrays.max_ride[node] = ride_s
                    self._widened(rid, DELIVERY, now_s, v, detail)
        if not plan.prepare(v):  # pragma: no cover - every upper bound now holds for the forward pass
            raise RuntimeError(f"vehicle {v}: could not make its plan consistent")

    def _widened(self, rid: str | None, kind: int, now_s: int, v: int, detail: str) -> None:
        """A promise of ride ``rid`` was widened in the plan: its record changes; report it."""
        if rid is not None and rid in self.rides:
            self._dirty_rides.add(rid)
        self._report_late(rid, kind, now_s, v, detail)

    def _report_late(self, rid: str | None, kind: int, now_s: int, v: int, detail: str) -> None:
        """Emit a ``late`` event for the pickup or drop-off (``kind``) of ``rid``, once."""
        key = (rid, kind)
        if key not in self._late_reported:
            self._late_reported.add(key)
            self._emit(DispatchEventKind.LATE, now_s, rid, v, detail)

    def _refresh_planned_times(self, v: int) -> None:
        """Copy vehicle ``v``'s planned times into its rides; only a ride whose record changes
        (time or vehicle) is marked for writing (a booking on a busy van would otherwise
        rewrite every ride on it). The changed stops are found by comparing arrays: a pre-booked
        van holds hundreds of stops, of which a booking moves a few."""
        plan = self.plan
        self._dirty_vehicles.add(v)
        m = int(plan.state.length[v])
        nodes = plan.state.nodes[v, 1 : m - 1]  # the planned stops, without the start and the end
        times = plan.state.service_start[v, 1 : m - 1]
        changed = np.flatnonzero((plan.node_time[nodes] != times) | (plan.node_vehicle[nodes] != v))
        if not changed.size:
            return
        nodes, times = nodes[changed], times[changed]
        for node, t in zip(nodes.tolist(), times.tolist(), strict=True):
            rid = plan.node_ride[node]
            ride = self.rides.get(rid)
            if ride is None:  # a checkpoint
                self.checkpoints[rid].planned_s = t
                continue
            if node == ride.pickup_node:
                ride.planned_pickup_s = t
            else:
                ride.planned_dropoff_s = t
            ride.vehicle = v
            self._dirty_rides.add(rid)
        plan.node_time[nodes] = times
        plan.node_vehicle[nodes] = v

    # ------------------------------------------------------------------ quotes
    def quote(self, request: Request, now_s: int) -> Offer | Rejection:
        """Quote ``request`` at ``now_s``: an :class:`Offer` (valid for ``offer_ttl_s``) or a :class:`Rejection`."""
        answer = self._offer_for(request, now_s)
        if isinstance(answer, Offer):
            self._emit(
                DispatchEventKind.OFFER, now_s, request.id, self.offers.get(answer.offer_id).vehicle, answer.offer_id
            )
        return answer

    def _offer_for(self, request: Request, now_s: int) -> Offer | Rejection:
        """:meth:`quote` without the ``offer`` event (a rejection is reported)."""
        request.validate(self.params)
        self.offers.forget_expired(now_s)
        if request.id in self.rides:
            raise ConflictError(f"request id {request.id!r} is already booked")
        checked = self.area.check_request(request, now_s)
        if isinstance(checked, Rejection):
            self._emit(DispatchEventKind.REJECTION, now_s, request.id, detail=checked.reason.value)
            return checked
        stops = checked
        seats, wc = self._demand(request)
        if seats > self._max_seats or request.passengers > self._max_seats:
            return self._reject(
                request,
                now_s,
                RejectReason.TOO_MANY_PASSENGERS,
                f"{request.passengers} passengers; the largest vehicle has {self._max_seats} seats",
            )
        if wc > self._max_wc:
            return self._reject(request, now_s, RejectReason.NO_WHEELCHAIR_VEHICLE, "no vehicle has a wheelchair place")
        o, d = stops.origin.stop, stops.destination.stop
        plan = self.plan
        plan.set_place(plan.quote_p, o)  # the quote's own nodes hold the slots of its stops
        plan.set_place(plan.quote_d, d)
        direct = round(plan.arrays.travel_time[plan.slot_of(o), plan.slot_of(d)])
        max_ride = self.params.max_ride_s(direct)
        t_req = max(int(request.requested_time_s), int(now_s))
        latest = t_req + self.params.max_wait_s
        self._sync(now_s)
        self._set_ride_nodes(plan.quote_p, plan.quote_d, request, stops, (float(t_req), float(latest)), max_ride, -1)
        # Vehicles that could carry the party and reach the pickup in time at all.
        cands = plan.reachable(o, (seats, wc), t_req, latest)
        if self.off_shift.any():
            cands = cands[~self.off_shift[cands]]
        self.last_quote_candidates = int(cands.size)
        if cands.size == 0:
            return self._reject(
                request,
                now_s,
                RejectReason.NO_VEHICLE_IN_TIME,
                f"no vehicle can reach stop {o} within {self.params.max_wait_s // 60} min",
            )
        cost, pos_i, pos_j = plan.insertions(cands, plan.quote_p, plan.quote_d)
        best = int(np.argmin(cost))
        if not np.isfinite(cost[best]):
            return self._reject(
                request,
                now_s,
                RejectReason.NO_FEASIBLE_INSERTION,
                f"{cands.size} vehicles could reach the pickup, none without breaking a promise",
            )
        v = int(cands[best])
        i, j = int(pos_i[best]), int(pos_j[best])
        _, b = plan.schedule_with(v, plan.quote_p, plan.quote_d, i, j)
        k_p, k_d = i, j + 1  # where the pickup and the drop-off land
        eta_p = math.ceil(b[k_p] - 1e-9)
        eta_d = math.ceil(b[k_d] - 1e-9)
        win = self.params.pickup_window(t_req, min(eta_p, latest))
        s_p = self.params.service_time_s(request.passengers)
        distance = self._direct_distance_m(o, d)
        offer = Offer(
            offer_id=self.offers.next_id(),
            request_id=request.id,
            vehicle_id=self.vehicles[v].id,
            pickup_stop=o,
            dropoff_stop=d,
            walk_to_pickup_m=stops.origin.walk_m,
            walk_from_dropoff_m=stops.destination.walk_m,
            pickup_eta_s=eta_p,
            pickup_window_start_s=win[0],
            pickup_window_end_s=win[1],
            dropoff_eta_s=max(eta_d, eta_p + 1),
            latest_dropoff_s=max(win[1] + s_p + max_ride, eta_d, eta_p + 1),
            fare_krw=self.fares.fare(request.rider_class, distance, request.passengers),
            direct_distance_m=distance,
            direct_time_s=direct,
            max_ride_s=max(max_ride, direct),
            valid_until_s=int(now_s) + self.params.offer_ttl_s,
            cost=float(cost[best]),
        )
        quote = Quote(
            request=request,
            offer=offer,
            stops=stops,
            insertion=QuotedInsertion(v, i, j, max_ride, t_req),
        )
        self.offers.add(quote)
        return offer

    @property
    def offer_seq(self) -> int:
        """Number of the last offer made (persisted: offer ids are never reused, also across restores)."""
        return self.offers.last_number

    @offer_seq.setter
    def offer_seq(self, number: int) -> None:
        self.offers.last_number = number

    def adopt_quotes(self, other: Dispatcher) -> None:
        """Take over another dispatcher's open offers and offer numbering (after a rebuild)."""
        self.offers.adopt(other.offers, self.rides)

    def _reject(self, request: Request, now_s: int, reason: RejectReason, detail: str) -> Rejection:
        self._emit(DispatchEventKind.REJECTION, now_s, request.id, detail=reason.value)
        return Rejection(request_id=request.id, reason=reason, detail=detail)

    def _direct_distance_m(self, o: int, d: int) -> int:
        a, b = int(self.stops.node[o]), int(self.stops.node[d])
        return self.router.path_length_m(a, b) if a != b else 0

    # ------------------------------------------------------------------ bookings
    def offer_rider(self, offer_id: str) -> str | None:
        """The rider an open (or booked) offer was made to (None: anonymous); NotFoundError if unknown,
        ConflictError if it expired long enough ago to be forgotten."""
        return self.offers.get(offer_id).request.rider_id

    def book(self, offer_id: str, now_s: int, *, idempotency_key: str | None = None) -> Ride:
        """Book an offer; idempotent (booking the same offer again returns the same ride).

        ``idempotency_key``, if given, is kept with the ride (and in its record).
        """
        return self._keep_key(self._book(offer_id, now_s), idempotency_key)

    def quote_and_book(self, request: Request, now_s: int, *, idempotency_key: str | None = None) -> Ride | Rejection:
        """Quote ``request`` and book its offer in one step (a booking *at once*): the ride, or the
        quote's :class:`Rejection`.

        The same as :meth:`quote` then :meth:`book`, without searching the offered vehicle's
        route a second time (nothing can change the plan in between, so the insertion the quote
        found is the one the booking would find) and without an ``offer`` event: the offer was
        never shown to anyone, the ``booking`` event names it."""
        answer = self._offer_for(request, now_s)
        if isinstance(answer, Rejection):
            return answer
        return self._keep_key(self._book(answer.offer_id, now_s, as_quoted=True), idempotency_key)

    def _keep_key(self, ride: Ride, idempotency_key: str | None) -> Ride:
        if idempotency_key:
            ride.idempotency_key = idempotency_key
            self._dirty_rides.add(ride.ride_id)
        return ride

    @property
    def has_changes(self) -> bool:
        """True if rides or vehicles changed since the last :meth:`drain_changes`."""
        return bool(self._dirty_rides or self._dirty_vehicles)

    def _book(self, offer_id: str, now_s: int, *, as_quoted: bool = False) -> Ride:
        """Book ``offer_id``; ``as_quoted``: the plan is as it was when the offer was made (the
        caller knows), so the ride goes where the quote put it."""
        quote = self.offers.get(offer_id)
        if quote.booked_ride is not None:
            return self.rides[quote.booked_ride]
        offer = quote.offer
        if not offer.is_valid_at(now_s):
            raise ConflictError(f"offer {offer_id} expired at {offer.valid_until_s}")
        if offer.request_id in self.rides:
            raise ConflictError(f"request {offer.request_id!r} is already booked")
        plan = self.plan
        self._sync(now_s)
        p, d = plan.new_node(), plan.new_node()
        ride_index = len(self.rides)
        window = (float(offer.pickup_window_start_s), float(offer.pickup_window_end_s))
        self._set_ride_nodes(p, d, quote.request, quote.stops, window, float(quote.insertion.max_ride_s), ride_index)
        if as_quoted:
            v = quote.vehicle
            i, j = quote.insertion.pickup_idx, quote.insertion.dropoff_idx
        else:
            # The offered vehicle first, then (if it can no longer) the others; none off shift.
            on_shift = np.flatnonzero(~self.off_shift).astype(np.int64)
            cands = on_shift[on_shift == quote.vehicle]
            cost, pos_i, pos_j = plan.insertions(cands, p, d)
            if not cands.size or not np.isfinite(cost[0]):
                cands = np.concatenate([cands, on_shift[on_shift != quote.vehicle]])
                cost, pos_i, pos_j = plan.insertions(cands, p, d)
            best = int(np.argmin(cost)) if cands.size else 0
            if not cands.size or not np.isfinite(cost[best]):
                plan.arrays.kind[p] = plan.arrays.kind[d] = -1
                plan.release_node(p)
                plan.release_node(d)
                raise ConflictError(f"offer {offer_id} can no longer be served: the plan changed since it was made")
            v, i, j = int(cands[best]), int(pos_i[best]), int(pos_j[best])
        plan.insert(v, p, d, i, j)
        ride = Ride(
            ride_id=offer.request_id,
            request=quote.request,
            offer=offer,
            status=RideStatus.ASSIGNED,
            vehicle=v,
            pickup_node=p,
            dropoff_node=d,
            booked_at_s=int(now_s),
            stops=quote.stops,
        )
        self.rides[ride.ride_id] = ride
        plan.node_ride[p] = plan.node_ride[d] = ride.ride_id
        quote.booked_ride = ride.ride_id
        self._dirty_rides.add(ride.ride_id)
        self._refresh_planned_times(v)
        self._emit(DispatchEventKind.BOOKING, now_s, ride.ride_id, v, offer_id)
        self._emit(DispatchEventKind.ASSIGNMENT, now_s, ride.ride_id, v)
        return ride

    def cancel(self, ride_id: str, now_s: int) -> Ride:
        """Cancel a booked ride that has not started."""
        ride = self.get_ride(ride_id)
        if ride.status in (RideStatus.ON_BOARD,):
            raise ConflictError(f"ride {ride_id} is under way (the rider is on board)")
        if ride.status.is_terminal:
            raise ConflictError(f"ride {ride_id} is already {ride.status.value}")
        self.plan.remove(ride.vehicle, [ride.pickup_node, ride.dropoff_node])
        self._refresh_planned_times(ride.vehicle)
        ride.status = RideStatus.CANCELLED
        self._dirty_rides.add(ride.ride_id)
        self._emit(DispatchEventKind.CANCELLATION, now_s, ride_id, ride.vehicle)
        return ride

    def get_ride(self, ride_id: str) -> Ride:
        ride = self.rides.get(ride_id)
        if ride is None:
            raise NotFoundError("ride", ride_id)
        return ride

    # ------------------------------------------------------------------ vehicle events
    def planned_stops(self, v: int, limit: int | None = None) -> list[PlannedStop]:
        """Vehicle ``v``'s planned stops in order (the first ``limit`` of them, or all)."""
        plan = self.plan
        last = int(plan.state.length[v]) - 1  # position of the route's end node
        if limit is not None:
            last = min(last, 1 + limit)
        ride_of = plan.node_ride
        out = []
        for k in range(1, last):
            node = int(plan.state.nodes[v, k])
            kind = StopKind.PICKUP if plan.arrays.kind[node] == PICKUP else StopKind.DROPOFF
            out.append(
                PlannedStop(
                    ride_of[node],
                    kind,
                    plan.place_of(node),
                    float(plan.state.service_start[v, k]),
                    int(plan.arrays.service[node]),
                    bool(self.checkpoints) and ride_of[node] in self.checkpoints,
                )
            )
        return out

    def plan_columns(self, v: int) -> PlanColumns:
        """Vehicle ``v``'s whole plan as columns (what :meth:`planned_stops` gives stop by stop).

        Read with a few array operations instead of one Python step per stop: the engine writes a
        van's whole manifest after every change of its plan, and a pre-booked van may hold
        hundreds of stops. (:meth:`planned_stops` stays a loop: the simulator asks for the next
        stop of one- or two-stop plans millions of times, where the array set-up costs more.)
        """
        cols = self.plan.columns(v)
        return PlanColumns(
            ride_ids=self.plan.node_ride[cols.nodes].tolist(),
            kinds=[StopKind.PICKUP if up else StopKind.DROPOFF for up in cols.is_pickup.tolist()],
            stops=cols.location.tolist(),
            planned_s=cols.service_start.tolist(),
            service_s=cols.service.astype(np.int64).tolist(),
            passengers=cols.passengers.tolist(),
            window_start_s=cols.tw_early.astype(np.int64).tolist(),
        )

    def vehicle_route(self, vehicle_id: str) -> list[tuple[str, StopKind, int, float]]:
        """The vehicle's planned stops: (ride id, :class:`StopKind`, stop index, planned service start)."""
        return [(s.ride_id, s.kind, s.stop, s.planned_s) for s in self.planned_stops(self.vehicle_index_of(vehicle_id))]

    def vehicle_index_of(self, vehicle_id: str) -> int:
        """The index of vehicle ``vehicle_id`` in the fleet (and in the plan); :class:`NotFoundError` if unknown."""
        v = self.vehicle_index.get(vehicle_id)
        if v is None:
            raise NotFoundError("vehicle", vehicle_id)
        return v

    def on_vehicle_position(self, vehicle_id: str, stop: int, time_s: int) -> None:
        """The vehicle is at (or committed to) ``stop`` and can leave it from ``time_s``."""
        v = self.vehicle_index_of(vehicle_id)
        if not 0 <= stop < len(self.stops):
            raise InvalidValueError("stop", f"got {stop}", f"0 .. {len(self.stops) - 1}")
        self.plan.move_start(v, stop, time_s)
        self._prepare_or_accept_lateness(v, time_s)
        self._refresh_planned_times(v)

    def _first_stop(self, v: int, node: int, what: str) -> None:
        plan = self.plan
        if plan.state.length[v] < 3 or int(plan.state.nodes[v, 1]) != node:
            raise ConflictError(f"{what}: it is not the vehicle's next planned stop")

    def on_boarded(self, ride_id: str, time_s: int) -> None:
        """The rider got on: the ride's pickup is done and its drop-off stays on this vehicle."""
        ride = self.get_ride(ride_id)
        if ride.status != RideStatus.ASSIGNED:
            raise ConflictError(f"ride {ride_id} cannot board: it is {ride.status.value}")
        v = ride.vehicle
        plan = self.plan
        self._first_stop(v, ride.pickup_node, f"boarding ride {ride_id}")
        self._late_on_arrival(v, ride_id, ride.pickup_node, PICKUP, time_s)
        s_p = plan.arrays.service[ride.pickup_node]
        plan.arrays.start_load[v] += plan.arrays.demand[ride.pickup_node]
        stop = plan.place_of(ride.pickup_node)
        plan.remove(v, [ride.pickup_node])
        d = ride.dropoff_node
        plan.arrays.partner[d] = -1  # on board: the ride limit becomes the drop-off's deadline
        plan.arrays.tw_late[d] = min(plan.arrays.tw_late[d], time_s + s_p + plan.arrays.max_ride[d])
        ride.status = RideStatus.ON_BOARD
        ride.picked_up_at_s = int(time_s)
        self._served(v, ride, stop, time_s + s_p, time_s, DispatchEventKind.BOARDED)

    def _late_on_arrival(self, v: int, ride_id: str, node: int, kind: int, time_s: int) -> None:
        """Report a ``late`` event for a stop served after its deadline, unless already reported.

        The plan learns of delays at vehicle updates; a delay on the last leg (traffic that
        worsened on the way) shows only here. For a rider on board the drop-off deadline is
        the end of their ride limit, so this also reports a ride that took too long.
        """
        deadline = float(self.plan.arrays.tw_late[node])
        if time_s > deadline + 1e-6:
            what = "picked up" if kind == PICKUP else "dropped off"
            self._report_late(ride_id, kind, time_s, v, f"{what} at {int(time_s)} s, promised by {int(deadline)} s")

    def on_alighted(self, ride_id: str, time_s: int) -> None:
        """The rider got off: the ride is complete."""
        ride = self.get_ride(ride_id)
        if ride.status != RideStatus.ON_BOARD:
            raise ConflictError(f"ride {ride_id} cannot alight: it is {ride.status.value}")
        v = ride.vehicle
        plan = self.plan
        self._first_stop(v, ride.dropoff_node, f"drop-off of ride {ride_id}")
        self._late_on_arrival(v, ride_id, ride.dropoff_node, DELIVERY, time_s)
        s_d = plan.arrays.service[ride.dropoff_node]
        plan.arrays.start_load[v] += plan.arrays.demand[ride.dropoff_node]
        stop = plan.place_of(ride.dropoff_node)
        plan.remove(v, [ride.dropoff_node])
        ride.status = RideStatus.COMPLETED
        ride.dropped_off_at_s = int(time_s)
        self._served(v, ride, stop, time_s + s_d, time_s, DispatchEventKind.COMPLETED)

    def _served(self, v: int, ride: Ride, stop: int, free_at_s: float, time_s: int, event: DispatchEventKind) -> None:
        """Vehicle ``v`` served a node at ``stop`` (already out of its route) and is free at ``free_at_s``."""
        plan = self.plan
        plan.move_start(v, stop, max(plan.available_at(v), free_at_s))
        self._prepare_or_accept_lateness(v, time_s)
        self._dirty_rides.add(ride.ride_id)
        self._refresh_planned_times(v)
        self._emit(event, time_s, ride.ride_id, v)

    def on_no_show(self, ride_id: str, time_s: int) -> None:
        """The rider did not turn up at the pickup: the ride is dropped from the plan."""
        ride = self.get_ride(ride_id)
        if ride.status != RideStatus.ASSIGNED:
            raise ConflictError(f"ride {ride_id} cannot be a no-show: it is {ride.status.value}")
        v = ride.vehicle
        self.plan.remove(v, [ride.pickup_node, ride.dropoff_node])
        self._refresh_planned_times(v)
        ride.status = RideStatus.NO_SHOW
        self._dirty_rides.add(ride.ride_id)
        self._emit(DispatchEventKind.NO_SHOW, time_s, ride_id, v)

    def end_shift(self, vehicle_id: str, now_s: int) -> None:
        """The driver ends the shift: the vehicle serves the stops already planned (re-optimisation
        may still move its riders who are not on board to other vehicles) but gets no new ride,
        from a quote, a booking or a re-optimisation, until :meth:`start_shift`."""
        v = self.vehicle_index_of(vehicle_id)
        if not self.off_shift[v]:
            self.off_shift[v] = True
            self._dirty_vehicles.add(v)
            self._emit(DispatchEventKind.SHIFT_ENDED, now_s, vehicle=v)

    def start_shift(self, vehicle_id: str, now_s: int) -> None:
        """The driver (re)starts the shift: the vehicle takes rides again (within its shift hours)."""
        v = self.vehicle_index_of(vehicle_id)
        if self.off_shift[v]:
            self.off_shift[v] = False
            self._dirty_vehicles.add(v)
            self._emit(DispatchEventKind.SHIFT_STARTED, now_s, vehicle=v)

    def expire(self, ride_id: str, now_s: int) -> Ride:
        """End an open ride that its service day left behind: no one reported its pickup or its
        drop-off, and the promise ran out. Its stops leave the vehicle's plan (a rider still on
        board counts as got off) and the ride becomes ``EXPIRED``."""
        ride = self.get_ride(ride_id)
        if ride.status.is_terminal:
            raise ConflictError(f"ride {ride_id} is already {ride.status.value}")
        v, plan = ride.vehicle, self.plan
        if ride.status == RideStatus.ON_BOARD:
            plan.arrays.start_load[v] += plan.arrays.demand[ride.dropoff_node]
            plan.remove(v, [ride.dropoff_node])
        else:
            plan.remove(v, [ride.pickup_node, ride.dropoff_node])
        self._refresh_planned_times(v)
        ride.status = RideStatus.EXPIRED
        self._dirty_rides.add(ride.ride_id)
        self._emit(DispatchEventKind.EXPIRED, now_s, ride_id, v)
        return ride

    # ------------------------------------------------------------------ checkpoints (semi-fixed)
    def add_checkpoints(
        self, vehicle_id: str, stops: Sequence[int], times_s: Sequence[int], *, dwell_s: int = 0
    ) -> list[str]:
        """Pin timed checkpoints to a vehicle: it serves ``stops[k]`` at exactly ``times_s[k]``
        (arrives no later, leaves no earlier, then after ``dwell_s``); returns their ids, in order.

        The checkpoints go after the vehicle's planned stops, so call this before booking rides
        on the vehicle, or for times after its plan. From then on no quote, booking or
        re-optimisation moves, drops or reorders them or gives them to another vehicle (see the
        module docstring); the vehicle reports each visit with :meth:`on_checkpoint`.

        Raises:
            InvalidValueError: an unknown stop, times not strictly increasing, a first time before
                the vehicle is free, or a vehicle that cannot make every checkpoint in time (named
                ``times_s``, with the first one it would miss) or back to its depot by the end of
                its shift; nothing is added then.
        """
        v = self.vehicle_index_of(vehicle_id)
        stops = [int(s) for s in stops]
        times = [int(t) for t in times_s]
        if len(stops) != len(times) or not stops:
            raise InvalidValueError("times_s", f"{len(times)} times for {len(stops)} stops", "one time per stop")
        bad = next((s for s in stops if not 0 <= s < len(self.stops)), None)
        if bad is not None:
            raise InvalidValueError("stops", f"got {bad}", f"0 .. {len(self.stops) - 1}")
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise InvalidValueError("times_s", "the times must increase strictly")
        if not 0 <= dwell_s <= 3600:
            raise InvalidValueError("dwell_s", f"got {dwell_s}", "0 .. 3600 s")
        plan = self.plan
        if times[0] < plan.available_at(v):
            free = f">= {plan.available_at(v):.0f} s (when the vehicle is free)"
            raise InvalidValueError("times_s", f"the first checkpoint is at {times[0]} s", free)
        nodes: list[int] = []
        first_id = len(self.checkpoints)
        for k, (stop, t) in enumerate(zip(stops, times, strict=True)):
            node = plan.new_node()
            a = plan.arrays  # (the arrays may have grown)
            a.kind[node] = DELIVERY
            a.partner[node] = -1  # like a rider on board: nothing to pick up first
            a.request[node] = -1
            a.tw_early[node] = a.tw_late[node] = float(t)
            a.service[node] = float(dwell_s)
            a.max_ride[node] = np.inf
            a.demand[node] = 0
            plan.set_place(node, stop)
            cid = f"{vehicle_id}#cp{first_id + k}"  # '#' is in no ride id (ID_RULE)
            plan.node_ride[node] = cid
            nodes.append(node)
        route = [int(n) for n in plan.stops(v)]
        plan.set_route(v, route + nodes)
        if not plan.prepare(v):
            # find the first checkpoint the vehicle would miss, then undo
            late = self._first_missed(v, nodes)
            plan.set_route(v, route)
            for node in nodes:
                plan.arrays.kind[node] = -1
                plan.node_ride[node] = None
                plan.release_node(node)
            self._prepare_or_accept_lateness(v, int(plan.available_at(v)))
            raise InvalidValueError("times_s", late, "times the vehicle can keep, then home by its shift's end")
        for node, stop, t in zip(nodes, stops, times, strict=True):
            cid = plan.node_ride[node]
            self.checkpoints[cid] = Checkpoint(cid, v, stop, t, int(dwell_s), node)
        self._refresh_planned_times(v)
        return [plan.node_ride[n] for n in nodes]

    def _first_missed(self, v: int, nodes: list[int]) -> str:
        """Why route ``v`` with the new checkpoint ``nodes`` is infeasible, in words."""
        plan = self.plan
        seq = [int(n) for n in plan.route(v)]
        t = float(plan.arrays.vehicle_early[v])
        for prev, node in itertools.pairwise(seq):
            leg = plan.arrays.travel_time[plan.arrays.node_location[prev], plan.arrays.node_location[node]]
            t = max(float(plan.arrays.tw_early[node]), t + float(plan.arrays.service[prev]) + float(leg))
            if t > plan.arrays.tw_late[node] + 1e-6:
                vid, due = self.vehicles[v].id, f"{plan.arrays.tw_late[node]:.0f} s"
                if node in nodes:
                    return (
                        f"vehicle {vid} reaches checkpoint {nodes.index(node)} (stop {plan.place_of(node)}) at "
                        f"{t:.0f} s at the earliest, after its time {due}"
                    )
                return f"vehicle {vid} cannot be back at its depot by the end of its shift ({due})"
        return f"vehicle {self.vehicles[v].id} cannot keep them"

    def on_checkpoint(self, checkpoint_id: str, time_s: int) -> Checkpoint:
        """The vehicle served checkpoint ``checkpoint_id`` (its next planned stop) from ``time_s``:
        it leaves after the checkpoint's dwell. A visit after the scheduled time is reported as a
        ``late`` event (it cannot happen while the plan holds and the vehicle drives it)."""
        cp = self.checkpoints.get(checkpoint_id)
        if cp is None:
            raise NotFoundError("checkpoint", checkpoint_id)
        if cp.visited_at_s is not None:
            raise ConflictError(f"checkpoint {checkpoint_id} was already visited at {cp.visited_at_s} s")
        v, plan = cp.vehicle, self.plan
        self._first_stop(v, cp.node, f"checkpoint {checkpoint_id}")
        self._late_on_arrival(v, checkpoint_id, cp.node, DELIVERY, time_s)
        plan.remove(v, [cp.node])
        cp.visited_at_s = int(time_s)
        plan.move_start(v, cp.stop, max(plan.available_at(v), float(time_s + cp.dwell_s)))
        self._prepare_or_accept_lateness(v, time_s)
        self._refresh_planned_times(v)
        return cp

    def restrict_boarding(self, stops: Sequence[int]) -> None:
        """Riders board and alight only at ``stops`` (a fixed line's stops) from now on; a request
        at another stop or point walks to the nearest of them within ``max_walk_m``, or is
        rejected (``no_stop_in_reach``). See :meth:`ServiceArea.with_boarding_stops`."""
        self.area = self.area.with_boarding_stops(stops)

    def advance_to(self, now_s: int) -> int:
        """Carry out the plan up to ``now_s`` as if every vehicle drove it exactly (autopilot).

        Every stop whose planned service starts at or before ``now_s`` is served (riders board
        and alight as planned). For simulations and benchmarks without a driver app; returns
        the number of stops served.
        """
        plan = self.plan
        served = 0
        for v in range(plan.num_vehicles):
            while plan.state.length[v] > 2 and plan.state.service_start[v, 1] <= now_s:
                node = int(plan.state.nodes[v, 1])
                t = int(np.ceil(plan.state.service_start[v, 1]))
                rid = plan.node_ride[node]
                if rid in self.checkpoints:
                    self.on_checkpoint(rid, t)
                elif plan.arrays.kind[node] == PICKUP:
                    self.on_boarded(rid, t)
                else:
                    self.on_alighted(rid, t)
                served += 1
        return served

    # ------------------------------------------------------------------ persistence
    def drain_changes(self) -> tuple[list[str], list[int]]:
        """Rides and vehicles changed since the last call (ride ids, vehicle indices)."""
        rides, vehicles = sorted(self._dirty_rides), sorted(self._dirty_vehicles)
        self._dirty_rides.clear()
        self._dirty_vehicles.clear()
        return rides, vehicles

    def snapshot(self) -> DispatcherSnapshot:
        """Every booked ride and every vehicle, enough to rebuild the plan (:meth:`restore`)."""
        return DispatcherSnapshot(
            tuple(self.snapshot_ride(rid) for rid in self.rides),
            tuple(self.snapshot_vehicle(v) for v in range(len(self.vehicles))),
        )

    def snapshot_ride(self, ride_id: str) -> RideSnapshot:
        """A ride as it stands, enough to restore it (its store record: ``.to_dict()``)."""
        ride = self.get_ride(ride_id)
        return RideSnapshot(
            ride_id=ride.ride_id,
            request=ride.request,
            offer=ride.offer,
            status=ride.status,
            vehicle_id=self.vehicles[ride.vehicle].id,
            booked_at_s=ride.booked_at_s,
            walks_m=(ride.offer.walk_to_pickup_m, ride.offer.walk_from_dropoff_m),
            idempotency_key=ride.idempotency_key,
            picked_up_at_s=ride.picked_up_at_s,
            dropped_off_at_s=ride.dropped_off_at_s,
            planned_pickup_s=ride.planned_pickup_s,
            planned_dropoff_s=ride.planned_dropoff_s,
            **self._promise_record(ride),
        )

    def _promise_record(self, ride: Ride) -> dict[str, Any]:
        """The promise of an open ride as the plan holds it now (it may have been widened): the
        fields ``dropoff_late_s``, ``ride_limit_s`` and (before the pickup) ``pickup_window_s`` of
        its :class:`RideSnapshot`; none for a ride that ended."""
        plan = self.plan
        rec: dict[str, Any] = {}
        if ride.status in (RideStatus.ASSIGNED, RideStatus.ON_BOARD):
            d = ride.dropoff_node
            rec["dropoff_late_s"] = float(plan.arrays.tw_late[d])
            rec["ride_limit_s"] = float(plan.arrays.max_ride[d])
            if ride.status == RideStatus.ASSIGNED:
                rec["pickup_window_s"] = [
                    float(plan.arrays.tw_early[ride.pickup_node]),
                    float(plan.arrays.tw_late[ride.pickup_node]),
                ]
        return rec

    def snapshot_vehicle(self, v: int, columns: PlanColumns | None = None) -> VehicleSnapshot:
        """Vehicle ``v``'s position, load and planned stops (``columns``, its :meth:`plan_columns`, if
        given), enough to restore it (its store record: ``.to_dict()``)."""
        plan = self.plan
        cols = self.plan_columns(v) if columns is None else columns
        seats, wheelchairs = plan.load(v)
        return VehicleSnapshot(
            id=self.vehicles[v].id,
            stop=plan.location(v),
            t0_s=plan.available_at(v),
            load=(int(seats), int(wheelchairs)),
            route=tuple(zip(cols.ride_ids, cols.kinds, strict=True)),
            off_shift=bool(self.off_shift[v]),
        )

    def restore(self, snapshot: DispatcherSnapshot) -> None:
        """Rebuild the plan from a :meth:`snapshot` (after a restart).

        Offers that were never booked are not restored. Raises :class:`InvalidValueError` for a
        record that does not fit this dispatcher (unknown vehicle, stop, ...).
        """
        if self.rides:
            raise ConflictError("restore needs a fresh dispatcher")
        plan = self.plan
        nodes: dict[tuple[str, str], int] = {}
        highest_offer = 0
        for ride_snapshot in snapshot.rides:
            request, offer, status = ride_snapshot.request, ride_snapshot.offer, ride_snapshot.status
            vid = ride_snapshot.vehicle_id
            if vid not in self.vehicle_index:
                raise InvalidValueError("vehicle", f"ride {ride_snapshot.ride_id} names an unknown vehicle {vid!r}")
            origin = StopChoice(offer.pickup_stop, ride_snapshot.walks_m[0])
            destination = StopChoice(offer.dropoff_stop, ride_snapshot.walks_m[1])
            stops = StopPair(origin, destination)
            ride = Ride(
                ride_id=ride_snapshot.ride_id,
                request=request,
                offer=offer,
                status=status,
                vehicle=self.vehicle_index[vid],
                pickup_node=-1,
                dropoff_node=-1,
                booked_at_s=ride_snapshot.booked_at_s,
                stops=stops,
                idempotency_key=ride_snapshot.idempotency_key,
                picked_up_at_s=ride_snapshot.picked_up_at_s,
                dropped_off_at_s=ride_snapshot.dropped_off_at_s,
                planned_pickup_s=ride_snapshot.planned_pickup_s,
                planned_dropoff_s=ride_snapshot.planned_dropoff_s,
            )
            highest_offer = max(highest_offer, offer_number(offer.offer_id) or 0)
            if status in (RideStatus.ASSIGNED, RideStatus.ON_BOARD):
                limit, late = ride_snapshot.ride_limit_s, ride_snapshot.dropoff_late_s
                if limit is None or late is None:  # an open ride's record holds both (RideSnapshot.to_dict)
                    raise KeyError("ride_limit_s" if limit is None else "dropoff_late_s")
                p, d = plan.new_node(), plan.new_node()
                window = ride_snapshot.pickup_window_s or (offer.pickup_window_start_s, offer.pickup_window_end_s)
                self._set_ride_nodes(
                    p, d, request, stops, (float(window[0]), float(window[1])), float(limit), len(self.rides)
                )
                plan.arrays.tw_late[d] = float(late)
                ride.dropoff_node = d
                plan.node_ride[d] = ride.ride_id
                plan.node_time[d], plan.node_vehicle[d] = ride.planned_dropoff_s, ride.vehicle
                nodes[(ride.ride_id, StopKind.DROPOFF)] = d
                if status == RideStatus.ASSIGNED:
                    ride.pickup_node = p
                    plan.node_ride[p] = ride.ride_id
                    plan.node_time[p], plan.node_vehicle[p] = ride.planned_pickup_s, ride.vehicle
                    nodes[(ride.ride_id, StopKind.PICKUP)] = p
                else:
                    plan.arrays.partner[d] = -1
                    plan.arrays.kind[p] = -1  # an unused node
                    plan.release_node(p)
            self.rides[ride.ride_id] = ride
        for vehicle in snapshot.vehicles:
            if vehicle.id not in self.vehicle_index:
                raise InvalidValueError("vehicle", f"unknown vehicle {vehicle.id!r}")
            v = self.vehicle_index[vehicle.id]
            stop = int(vehicle.stop)
            if not 0 <= stop < len(self.stops):
                raise InvalidValueError(
                    "stop", f"vehicle {vehicle.id} is at stop {stop}", f"0 .. {len(self.stops) - 1}"
                )
            plan.move_start(v, stop, float(vehicle.t0_s))
            plan.arrays.start_load[v] = vehicle.load
            self.off_shift[v] = bool(vehicle.off_shift)
            plan.set_route(v, [nodes[(rid, kind)] for rid, kind in vehicle.route])
            self._prepare_or_accept_lateness(v, int(vehicle.t0_s))
            self._refresh_planned_times(v)
        self.offer_seq = max(self.offer_seq, highest_offer)
        self.drain_changes()

    # ------------------------------------------------------------------ traffic
    def update_travel_times(self, router: Router, now_s: int, travel_time_s: NDArray[np.float64] | None = None) -> None:
        """Switch to new travel times (a traffic update): the travel times of the stops in use
        (or the stop matrix given at construction, then ``travel_time_s`` or computed) and every
        plan follow.

        Planned times move with the traffic; a promise that can no longer be kept is widened
        to what can be done and reported as a ``late`` event.
        """
        if router.network.num_nodes != self.network.num_nodes:
            raise InvalidValueError("router", "is for another road network")
        if self.plan.pool.identity:
            if travel_time_s is None:
                travel_time_s = router.matrix(self.stops.node, self.stops.node).astype(np.float64)
            tt = np.ascontiguousarray(travel_time_s, np.float64)
            if tt.shape != self.plan.arrays.travel_time.shape:
                raise InvalidValueError("travel_time_s", f"expected a {len(self.stops)} x {len(self.stops)} matrix")
            self.plan.set_travel_time(tt)
        elif travel_time_s is not None:
            raise InvalidValueError("travel_time_s", "this dispatcher reads its times from the router", "None")
        else:
            self.plan.retime(router)
        self.router = router
        self._scale_s = None
        for v in range(self.plan.num_vehicles):
            self._prepare_or_accept_lateness(v, now_s)
            self._refresh_planned_times(v)

    # ------------------------------------------------------------------ re-optimisation
    def reoptimise(
        self, *, deadline: float | None = None, iterations: int | None = None, now_s: int | None = None
    ) -> ReoptimiseReport:
        """Improve the plan within ``deadline`` (``time.monotonic()`` instant) or ``iterations``
        (both given: whichever comes first).

        Never moves a pickup outside its promised window, a rider off their vehicle or a checkpoint
        at all, and never gives a ride to a vehicle off shift; the new plan is adopted only if it
        is cheaper (total vehicle travel time).
        """
        t0 = time.perf_counter()
        if now_s is not None:
            self._sync(now_s)
        plan = self.plan
        before = plan.cost()
        active = [r for r in self.rides.values() if r.status in (RideStatus.ASSIGNED, RideStatus.ON_BOARD)]
        if not active or (deadline is None and not iterations):
            return ReoptimiseReport(before, before, False, 0, time.perf_counter() - t0, ())
        vehicle_before = {r.ride_id: r.vehicle for r in active}
        problem, node_ids = self._subproblem(active)
        local = {int(n): k for k, n in enumerate(node_ids)}
        routes = [[local[int(n)] for n in plan.route(v)[1:-1]] for v in range(plan.num_vehicles)]
        criteria: list[StoppingCriterion] = []
        if iterations:
            criteria.append(MaxIterations(iterations))
        if deadline is not None:
            criteria.append(Deadline(deadline))
        stop = criteria[0] if len(criteria) == 1 else FirstOf(tuple(criteria))
        self._reopt_calls += 1
        result = solve(
            problem,
            stop=stop,
            seed=self.seed + self._reopt_calls,
            initial_routes=routes,
            # (start_worse: the value this was measured with; the offline default is now lower)
            params=SolveParams(
                polish=True,
                eject=False,
                blocks=False,
                start_worse=0.05,
                batch_iterations=20,
                travel_time_scale_s=self._travel_time_scale_s(),
            ),
        )
        moved: list[str] = []
        adopted = result.feasible and result.cost < before - 1e-6
        if adopted and self.off_shift.any():
            # a vehicle off shift keeps its own stops but takes no one else's
            for v in np.flatnonzero(self.off_shift).tolist():
                mine = {int(n) for n in plan.route(v)[1:-1]}
                if any(int(node_ids[n]) not in mine for n in result.routes[v]):
                    adopted = False
                    break
        if adopted:
            for v in range(plan.num_vehicles):
                new = [int(node_ids[n]) for n in result.routes[v]]
                old = [int(n) for n in plan.route(v)[1:-1]]
                if new == old:
                    continue
                seq = [int(plan.arrays.vehicle_start[v]), *new, int(plan.arrays.vehicle_end[v])]
                plan.ensure_room(len(seq))
                plan.state.nodes[v, : len(seq)] = seq
                plan.state.length[v] = len(seq)
                if not plan.prepare(v):  # pragma: no cover - the solver checked it
                    raise RuntimeError("re-optimisation produced an infeasible route")
            for v in range(plan.num_vehicles):
                self._refresh_planned_times(v)
            moved = [rid for rid, v in vehicle_before.items() if self.rides[rid].vehicle != v]
            for rid in moved:
                self._emit(
                    DispatchEventKind.REASSIGNMENT, now_s if now_s is not None else 0, rid, self.rides[rid].vehicle
                )
        after = plan.cost() if adopted else before
        return ReoptimiseReport(before, after, adopted, result.iterations, time.perf_counter() - t0, tuple(moved))

    def _travel_time_scale_s(self) -> float | None:
        """The longest stop-to-stop travel time, for the re-optimisation (None over a stop matrix:
        the solver reads it from the matrix itself; sampled beyond :data:`SCALE_EXACT_PAIRS`)."""
        if self.plan.pool.identity:
            return None
        if self._scale_s is None:
            longest = longest_travel_time(self.router, self.stops.node, max_pairs=SCALE_EXACT_PAIRS)
            self._scale_s = float(longest)
        return self._scale_s

    def _subproblem(self, active: list[Ride]) -> tuple[PDProblem, NDArray[np.int64]]:
        """The plan as a :class:`PDProblem` over the nodes in use (trusted arrays, no copies of the matrix).

        Its requests are the rides of ``active`` in order, then the checkpoints not yet visited
        (a delivery without a pickup, pinned to its vehicle: the solver never moves them);
        ``meta["ride_ids"]`` names them.
        """
        plan = self.plan
        k = plan.num_vehicles
        nodes = [*range(k), *range(k, 2 * k)]
        for ride in active:
            if ride.status == RideStatus.ASSIGNED:
                nodes.append(ride.pickup_node)
            nodes.append(ride.dropoff_node)
        pinned = [cp for cp in self.checkpoints.values() if cp.visited_at_s is None]
        nodes.extend(cp.node for cp in pinned)
        node_ids = np.array(nodes, np.int64)
        local = {int(n): i for i, n in enumerate(node_ids)}
        pickup = np.array(
            [local[r.pickup_node] if r.status == RideStatus.ASSIGNED else -1 for r in active] + [-1] * len(pinned),
            np.int32,
        )
        delivery = np.array([local[r.dropoff_node] for r in active] + [local[cp.node] for cp in pinned], np.int32)
        req_vehicle = np.array(
            [r.vehicle if r.status == RideStatus.ON_BOARD else -1 for r in active] + [cp.vehicle for cp in pinned],
            np.int32,
        )
        max_ride = np.array([plan.arrays.max_ride[r.dropoff_node] for r in active] + [np.inf] * len(pinned))
        problem = PDProblem(
            name="dispatch",
            kind=plan.arrays.kind[node_ids].astype(np.int8),
            tw_early=plan.arrays.tw_early[node_ids].copy(),
            tw_late=plan.arrays.tw_late[node_ids].copy(),
            service=plan.arrays.service[node_ids].copy(),
            demand=plan.arrays.demand[node_ids].copy(),
            pickup=pickup,
            delivery=delivery,
            max_ride=max_ride,
            request_vehicle=req_vehicle,
            vehicle_start=np.arange(k, dtype=np.int32),
            vehicle_end=np.arange(k, 2 * k, dtype=np.int32),
            capacity=plan.arrays.capacity.copy(),
            start_load=plan.arrays.start_load.copy(),
            max_duration=np.full(k, np.inf),
            travel_time=plan.arrays.travel_time,
            travel_cost=plan.arrays.travel_time,
            node_location=plan.arrays.node_location[node_ids].astype(np.int32),
            objective="cost",
            meta={"ride_ids": [r.ride_id for r in active] + [cp.checkpoint_id for cp in pinned]},
        )
        # vehicle start times: the start nodes' windows open at the vehicles' start times
        problem.tw_early[:k] = plan.arrays.vehicle_early
        return problem, node_ids
