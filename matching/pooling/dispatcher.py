"""The shared-taxi dispatcher (I-MOA): immediate quotes, matching in batches, promises kept.

Riders are quoted at once (the best taxi for the request alone gives a pickup estimate and
the price). A booked request waits in state MATCHING for the next batch; every
``params.batch_s`` seconds :meth:`SharedTaxiDispatcher.run_batch` matches all waiting
requests together, after Alonso-Mora et al. (PNAS 2017):

1. the batch's requests (waiting, promised, on board) and taxis become arrays
   (:class:`~matching.pooling.batch.BatchRequests`, :class:`~matching.pooling.batch.BatchVehicles`);
2. :func:`~matching.pooling.trips.generate_trips` finds the shareability graph and every
   taxi's feasible trips (sets of requests with their best stop order), within budgets;
3. :func:`~matching.pooling.assign.assign` chooses one trip per taxi (CP-SAT, warm-started
   from the current plans; greedy when its deadline passes): each promised request served
   exactly once, each waiting request at most once or at a penalty;
4. the chosen trips become the taxis' plans; waiting requests whose maximum wait has run
   out are rejected with the reason.

With ``batch=False`` each request is assigned at once to the taxi where it adds least cost
(immediate insertion, re-ordering that taxi's stops) — the baseline the batch is measured
against. Travel times come from a :class:`routing.TravelTimes` (the contraction hierarchy
with a bounded cache on real networks): no all-pairs matrix.

The vehicle side is told what happens (:meth:`locate`, :meth:`boarded`, :meth:`alighted`,
:meth:`no_show`) and reads its plan (:meth:`next_stops`). Every change of a ride is an
event (:meth:`drain_events`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routing import TravelTimes

from ..errors import ConflictError, InvalidValueError, NotFoundError
from ..fares import SharedTaxiFare
from ..model import Rejection, RejectReason, StopKind
from .assign import assign
from .batch import ASSIGNED, ONBOARD, OPEN, BatchRequests, BatchVehicles
from .ledger import PoolingLedger
from .model import (
    BatchReport,
    PlannedTaxiStop,
    TaxiEvent,
    TaxiEventKind,
    TaxiQuote,
    TaxiRequest,
    TaxiRide,
    TaxiRideStatus,
    TaxiSpec,
    check_spec,
)
from .params import PoolingParams
from .rebalance import RebalanceParams, Rebalancer
from .trips import TripPlan, evaluate_trips, fixed_trip_indices, generate_trips

#: Stands for "no limit" in the batch arrays' time limits (seconds; beyond any service day).
NO_LIMIT_S = 1 << 40
#: Speed used to estimate a trip's length for its fare when no distance function is given (m/s; 30 km/h).
ESTIMATE_SPEED_MPS = 30 / 3.6


def ride_state(ride: TaxiRide | None) -> int:
    """The batch state of a ride (:data:`OPEN` for one not yet in the books)."""
    if ride is None or ride.status is TaxiRideStatus.MATCHING:
        return OPEN
    return ONBOARD if ride.status is TaxiRideStatus.ON_BOARD else ASSIGNED


@dataclass
class _Taxi:
    spec: TaxiSpec
    node: int
    time: int
    plan: list[PlannedTaxiStop] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)
    onboard: list[str] = field(default_factory=list)
    rebalancing_to: int | None = None

    def on_shift(self, now_s: int) -> bool:
        return self.spec.shift_start_s <= now_s < self.spec.shift_end_s

    @property
    def idle(self) -> bool:
        return not self.plan and not self.onboard and not self.assigned


class SharedTaxiDispatcher:
    """Matches shared-taxi requests to taxis, in batches (or at once with ``batch=False``).

    Args:
        times: travel times between road nodes (:class:`routing.HierarchyTimes` on a real
            network, :class:`routing.MatrixTimes` on a small one).
        fleet: the taxis (:class:`TaxiSpec`: id, start node, shift).
        params: the service's rules and the batch's budgets.
        fare: the fare policy (default :class:`~matching.fares.SharedTaxiFare`).
        distance_m: the length in metres of the drive between two nodes (for fares), e.g.
            ``router.path_length_m``; without it the length is estimated from the time at
            :data:`ESTIMATE_SPEED_MPS`.
        batch: ``False`` assigns each request at once (the immediate-insertion baseline).
        rebalance: how idle taxis are rebalanced when ``params.rebalance`` is on (default
            :class:`~matching.pooling.rebalance.RebalanceParams`: toward recent unserved requests).
        coordinates: the nodes' planar ``(x_m, y_m)`` (``RoadNetwork.x_m``, ``.y_m``), needed by
            the ``"forecast"`` rebalancing mode only.

    What riders paid, drivers earned and the pooling KPIs are in :attr:`ledger`
    (:class:`~matching.pooling.ledger.PoolingLedger`); the simulator books the driving there.
    """

    def __init__(
        self,
        times: TravelTimes,
        fleet: Sequence[TaxiSpec],
        params: PoolingParams | None = None,
        *,
        fare: SharedTaxiFare | None = None,
        distance_m: Callable[[int, int], int] | None = None,
        batch: bool = True,
        rebalance: RebalanceParams | None = None,
        coordinates: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if not isinstance(times, TravelTimes):
            raise InvalidValueError("times", f"expected a routing.TravelTimes, got {type(times).__name__}")
        self.times = times
        self.params = params if params is not None else PoolingParams()
        if not isinstance(self.params, PoolingParams):
            raise InvalidValueError("params", f"expected PoolingParams, got {type(self.params).__name__}")
        self.fare = fare if fare is not None else SharedTaxiFare()
        self.distance_m = distance_m
        self.batch = bool(batch)
        specs = [check_spec(s, times.num_nodes) for s in fleet]
        if not specs:
            raise InvalidValueError("fleet", "no taxis", "at least one taxi")
        self.taxis = [_Taxi(s, s.node, s.shift_start_s) for s in specs]
        self._index = {s.id: v for v, s in enumerate(specs)}
        if len(self._index) != len(specs):
            dup = next(s.id for v, s in enumerate(specs) if self._index[s.id] != v)
            raise InvalidValueError("fleet", f"the taxi id {dup!r} appears twice", "unique ids")
        self.rides: dict[str, TaxiRide] = {}
        self._open: dict[str, None] = {}  # MATCHING rides in submission order
        self._events: list[TaxiEvent] = []
        self.reports: list[BatchReport] = []
        self.last_batch_s: int | None = None
        self.ledger = PoolingLedger(self.fare)
        self.rebalancer: Rebalancer | None = None
        if self.params.rebalance:
            x_m, y_m = coordinates if coordinates is not None else (None, None)
            self.rebalancer = Rebalancer(
                times, window_s=self.params.rebalance_window_s, params=rebalance, x_m=x_m, y_m=y_m
            )

    # ------------------------------------------------------------------ helpers
    def _emit(self, kind: TaxiEventKind, ride: TaxiRide, time_s: int, detail: str = "") -> None:
        ride.history.append((time_s, kind.value))
        self._events.append(TaxiEvent(kind, ride.id, ride.vehicle_id, time_s, detail))

    def drain_events(self) -> list[TaxiEvent]:
        """The events since the last call, oldest first."""
        out, self._events = self._events, []
        return out

    def vehicle_index_of(self, vehicle_id: str) -> int:
        """The row of a taxi, or :class:`~matching.errors.NotFoundError`."""
        v = self._index.get(vehicle_id) if isinstance(vehicle_id, str) else None
        if v is None:
            raise NotFoundError("vehicle", str(vehicle_id))
        return v

    def get_ride(self, ride_id: str) -> TaxiRide:
        ride = self.rides.get(ride_id) if isinstance(ride_id, str) else None
        if ride is None:
            raise NotFoundError("ride", str(ride_id))
        return ride

    def _direct(self, request: TaxiRequest) -> tuple[int, int]:
        direct_s = int(self.times.pair(request.origin, request.destination))
        if self.distance_m is not None:
            direct_m = int(self.distance_m(request.origin, request.destination))
        else:
            direct_m = round(direct_s * ESTIMATE_SPEED_MPS)
        return direct_s, direct_m

    def _check_request(self, request: TaxiRequest) -> None:
        if not isinstance(request, TaxiRequest):
            raise InvalidValueError("request", f"expected a TaxiRequest, got {type(request).__name__}")
        n = self.times.num_nodes
        for name in ("origin", "destination"):
            node = getattr(request, name)
            if node >= n:
                raise InvalidValueError(name, f"node {node} is not in the network", f"0 .. {n - 1}")
        if request.passengers > self.params.capacity:
            raise InvalidValueError(
                "passengers", f"{request.passengers} passengers", f"1 .. {self.params.capacity} (the taxi's seats)"
            )

    def _new_ride(self, request: TaxiRequest) -> TaxiRide:
        direct_s, direct_m = self._direct(request)
        p = self.params
        latest_drop = NO_LIMIT_S
        if p.max_delay_s is not None:
            latest_drop = request.request_time_s + direct_s + p.max_delay_s
        return TaxiRide(
            id=request.id,
            request=request,
            latest_pickup_s=request.request_time_s + p.max_wait_s,
            latest_dropoff_s=latest_drop,
            direct_s=direct_s,
            direct_m=direct_m,
        )

    def _quoted_fare(self, ride: TaxiRide) -> int:
        req = ride.request
        return self.fare.fare(req.rider_class, ride.direct_m, req.passengers, pooled=req.share)

    # ------------------------------------------------------------------ batch arrays
    def _gather(
        self, now_s: int, extra: Sequence[TaxiRide] = (), only: Sequence[int] | None = None
    ) -> tuple[BatchRequests, BatchVehicles, list[str]]:
        """The batch's arrays: ``extra`` rides first (not yet in the books), then waiting, promised, on board.

        With ``only`` (taxi rows), just those taxis (numbered 0.. in that order) and their
        riders, and no waiting rides: what a quote needs, whatever the fleet's size.
        """
        rows: list[TaxiRide] = list(extra)
        if only is None:
            rows += (self.rides[rid] for rid in self._open)
        states: list[int] = [OPEN] * len(rows)
        vehicles: list[int] = [-1] * len(rows)
        chosen = [self.taxis[v] for v in only] if only is not None else self.taxis
        for v, taxi in enumerate(chosen):
            for rid in taxi.assigned:
                rows.append(self.rides[rid])
                states.append(ASSIGNED)
                vehicles.append(v)
            for rid in taxi.onboard:
                rows.append(self.rides[rid])
                states.append(ONBOARD)
                vehicles.append(v)
        p = self.params
        r = len(rows)
        origin = np.empty(r, np.int64)
        dest = np.empty(r, np.int64)
        pax = np.empty(r, np.int64)
        early = np.empty(r, np.int64)
        late_p = np.empty(r, np.int64)
        late_d = np.empty(r, np.int64)
        max_ride = np.empty(r, np.int64)
        direct = np.empty(r, np.int64)
        solo = np.empty(r, np.bool_)
        picked = np.full(r, -1, np.int64)
        for i, ride in enumerate(rows):
            req = ride.request
            origin[i] = req.origin
            dest[i] = req.destination
            pax[i] = req.passengers
            early[i] = req.request_time_s
            late_p[i] = ride.latest_pickup_s
            late_d[i] = ride.latest_dropoff_s
            max_ride[i] = p.max_ride_s(ride.direct_s)
            direct[i] = ride.direct_s
            solo[i] = not req.share or p.max_parties == 1
            if ride.picked_up_s is not None:
                picked[i] = ride.picked_up_s
        requests = BatchRequests(
            origin=origin,
            destination=dest,
            passengers=pax,
            earliest_pickup=early,
            latest_pickup=late_p,
            latest_dropoff=late_d,
            max_ride=max_ride,
            direct=direct,
            solo=solo,
            state=np.asarray(states, np.int8),
            vehicle=np.asarray(vehicles, np.int64),
            picked_at=picked,
        )
        fleet = BatchVehicles(
            node=np.fromiter((t.node for t in chosen), np.int64, len(chosen)),
            time=np.fromiter((max(t.time, now_s) for t in chosen), np.int64, len(chosen)),
            capacity=np.full(len(chosen), p.capacity, np.int64),
            active=np.fromiter((t.on_shift(now_s) for t in chosen), np.bool_, len(chosen)),
        )
        return requests, fleet, [ride.id for ride in rows]

    def _apply_plan(
        self,
        v: int,
        ride_ids: list[str],
        trip_requests: Sequence[int],
        stops: np.ndarray,
        stop_time: np.ndarray,
        now_s: int,
    ) -> tuple[list[str], list[str]]:
        """Make a trip taxi ``v``'s plan; returns the rides newly assigned and those moved to it."""
        taxi = self.taxis[v]
        new_assigned = [ride_ids[int(r)] for r in trip_requests]
        plan: list[PlannedTaxiStop] = []
        for code, at in zip(stops.tolist(), stop_time.tolist(), strict=True):
            ride = self.rides[ride_ids[code >> 1]]
            if code & 1:
                plan.append(PlannedTaxiStop(ride.request.destination, StopKind.DROPOFF, ride.id, at))
                ride.dropoff_eta_s = at
            else:
                plan.append(PlannedTaxiStop(ride.request.origin, StopKind.PICKUP, ride.id, at))
                ride.pickup_eta_s = at
        first, moved = [], []
        for rid in new_assigned:
            ride = self.rides[rid]
            if ride.status is TaxiRideStatus.MATCHING:
                ride.status = TaxiRideStatus.ASSIGNED
                ride.vehicle_id = taxi.spec.id
                ride.fare_krw = self._quoted_fare(ride)
                self._open.pop(rid, None)
                first.append(rid)
                self._emit(TaxiEventKind.ASSIGNED, ride, now_s, f"pickup at {ride.pickup_eta_s}")
            elif ride.vehicle_id != taxi.spec.id:
                ride.vehicle_id = taxi.spec.id
                ride.times_reassigned += 1
                moved.append(rid)
                self._emit(TaxiEventKind.REASSIGNED, ride, now_s, f"pickup at {ride.pickup_eta_s}")
        taxi.assigned = new_assigned
        taxi.plan = plan
        if plan:
            taxi.rebalancing_to = None
        return first, moved

    # ------------------------------------------------------------------ riders
    def _best_taxi(self, ride: TaxiRide, now_s: int) -> tuple[int, list[str], TripPlan] | None:
        """The taxi where ``ride`` adds least cost now, the batch rows' ride ids and that taxi's new plan.

        ``ride`` is row 0 of the rows. None when no taxi can take it within its limits.
        """
        p = self.params
        active = [v for v, t in enumerate(self.taxis) if t.on_shift(now_s)]
        if not active:
            return None
        nodes = np.fromiter((self.taxis[v].node for v in active), np.int64, len(active))
        start = np.fromiter((max(self.taxis[v].time, now_s) for v in active), np.int64, len(active))
        budget = ride.latest_pickup_s - int(start.min())
        if budget < 0:
            return None
        # one search backwards from the pickup, bounded by the wait: no many-to-many over the fleet
        near, secs = self.times.within(ride.request.origin, budget, reverse=True)
        order = np.argsort(near, kind="stable")
        near, secs = near[order], secs[order]
        at = np.minimum(np.searchsorted(near, nodes), max(near.size - 1, 0))
        found = near[at] == nodes if near.size else np.zeros(nodes.size, np.bool_)
        arrive = np.where(found, start + secs[at] if near.size else start, NO_LIMIT_S)
        ok = np.flatnonzero(arrive <= ride.latest_pickup_s)
        if ok.size == 0:
            return None
        ok = ok[np.argsort(arrive[ok], kind="stable")][: p.vehicles_per_request]
        cand = [active[int(i)] for i in ok]
        requests, fleet, ids = self._gather(now_s, extra=[ride], only=cand)
        row_of = {rid: i for i, rid in enumerate(ids)}
        sets: list[list[int]] = []
        vids: list[int] = []
        for k, v in enumerate(cand):
            current = sorted(row_of[rid] for rid in self.taxis[v].assigned)
            vids += [k, k]
            sets += [current, sorted([*current, 0])]
        plans = evaluate_trips(requests, fleet, self.times, p, vids, sets)
        best: tuple[int, int, TripPlan] | None = None
        for k, v in enumerate(cand):
            base, new = plans[2 * k], plans[2 * k + 1]
            if new is None or not new.feasible:
                continue
            added = int(new.cost) - (int(base.cost) if base is not None else 0)
            if best is None or added < best[0]:
                best = (added, v, new)
        if best is None:
            return None
        return best[1], ids, best[2]

    def quote(self, request: TaxiRequest, now_s: int) -> TaxiQuote | Rejection:
        """The price and a pickup estimate for ``request``, from the taxi that could take it now.

        Nothing is booked. A :class:`~matching.model.Rejection` when no taxi can reach the
        pickup within the maximum wait.
        """
        self._check_request(request)
        ride = self._new_ride(request)
        found = self._best_taxi(ride, now_s)
        if found is None:
            return Rejection(
                request.id,
                RejectReason.NO_VEHICLE_IN_TIME,
                f"no taxi can reach the pickup within {self.params.max_wait_s} s",
            )
        v, _, plan = found
        pickup, dropoff = self._ride_times(plan, 0)
        solo = self.fare.fare(request.rider_class, ride.direct_m, request.passengers)
        pooled = self.fare.fare(request.rider_class, ride.direct_m, request.passengers, pooled=True)
        return TaxiQuote(
            request_id=request.id,
            vehicle_id=self.taxis[v].spec.id,
            pickup_eta_s=pickup,
            dropoff_eta_s=dropoff,
            latest_pickup_s=ride.latest_pickup_s,
            solo_fare_krw=solo,
            pooled_fare_krw=pooled if request.share else 0,
            fare_krw=solo,
            direct_s=ride.direct_s,
            direct_m=ride.direct_m,
            walk_m=request.walk_m,
        )

    @staticmethod
    def _ride_times(plan: TripPlan, row: int) -> tuple[int, int]:
        stops = np.asarray(plan.stops)
        at = np.asarray(plan.stop_time)
        pickup = int(at[np.flatnonzero(stops == 2 * row)[0]])
        dropoff = int(at[np.flatnonzero(stops == 2 * row + 1)[0]])
        return pickup, dropoff

    def submit(self, request: TaxiRequest, now_s: int) -> TaxiRide:
        """Book ``request``: MATCHING until the next batch (or, with ``batch=False``, assigned or rejected now).

        Raises:
            ConflictError: a ride with this id exists already.
            InvalidValueError: the request does not fit the service (naming the field).
        """
        self._check_request(request)
        if request.id in self.rides:
            raise ConflictError(f"a ride {request.id!r} exists already")
        ride = self._new_ride(request)
        if self.rebalancer is not None:
            self.rebalancer.memory.record_request(request.origin, now_s)
        if not self.batch:
            found = self._best_taxi(ride, now_s)
            self.rides[ride.id] = ride
            self._emit(TaxiEventKind.SUBMITTED, ride, now_s)
            if found is None:
                self._reject(
                    ride, now_s, f"no taxi can take the ride within the maximum wait of {self.params.max_wait_s} s"
                )
                return ride
            v, ids, plan = found
            stops = np.asarray(plan.stops, np.int64)
            state = np.asarray([ride_state(self.rides.get(rid)) for rid in ids])
            picks = stops[stops % 2 == 0] >> 1
            trip_requests = sorted(int(r) for r in picks if state[r] != ONBOARD)
            self._apply_plan(v, ids, trip_requests, stops, np.asarray(plan.stop_time, np.int64), now_s)
            return ride
        self.rides[ride.id] = ride
        self._open[ride.id] = None
        self._emit(TaxiEventKind.SUBMITTED, ride, now_s)
        return ride

    def _reject(self, ride: TaxiRide, now_s: int, detail: str) -> None:
        ride.status = TaxiRideStatus.REJECTED
        ride.reason = RejectReason.NO_VEHICLE_IN_TIME.value
        self._open.pop(ride.id, None)
        if self.rebalancer is not None:
            self.rebalancer.memory.record_unserved(ride.request.origin, now_s)
        self._emit(TaxiEventKind.REJECTED, ride, now_s, detail)

    def cancel(self, ride_id: str, now_s: int) -> TaxiRide:
        """Cancel a ride that is not yet on board (MATCHING or ASSIGNED)."""
        ride = self.get_ride(ride_id)
        if ride.status not in (TaxiRideStatus.MATCHING, TaxiRideStatus.ASSIGNED):
            raise ConflictError(f"ride {ride_id!r} is {ride.status.value} and can no longer be cancelled")
        self._drop_from_plan(ride)
        ride.status = TaxiRideStatus.CANCELLED
        ride.reason = "cancelled"
        self._emit(TaxiEventKind.CANCELLED, ride, now_s)
        return ride

    def _drop_from_plan(self, ride: TaxiRide) -> None:
        self._open.pop(ride.id, None)
        if ride.vehicle_id is not None:
            taxi = self.taxis[self._index[ride.vehicle_id]]
            if ride.id in taxi.assigned:
                taxi.assigned.remove(ride.id)
            taxi.plan = [s for s in taxi.plan if s.ride_id != ride.id]

    # ------------------------------------------------------------------ batches
    def run_batch(self, now_s: int) -> BatchReport:
        """Match every waiting request (and re-plan promised ones) at ``now_s``; see the module docstring."""
        t0 = time.perf_counter()
        p = self.params
        self.last_batch_s = now_s
        if not self._open and not any(t.assigned for t in self.taxis):
            report = BatchReport(
                time_s=now_s, assigned=(), reassigned=(), rejected=(), open=0, trips=0, status="empty",
                objective=0, gather_s=0.0, trips_s=0.0, assign_s=0.0, compute_s=time.perf_counter() - t0,
            )  # fmt: skip
            self.reports.append(report)
            return report
        requests, fleet, ids = self._gather(now_s)
        t1 = time.perf_counter()
        trips = generate_trips(requests, fleet, self.times, p, deadline=t1 + p.trip_time_budget_s)
        t2 = time.perf_counter()
        _, hint = fixed_trip_indices(trips, requests, fleet.size)  # the current plans: the warm start
        result = assign(trips, requests, p, num_vehicles=fleet.size, time_limit_s=p.batch_deadline_s, hint=hint)
        t3 = time.perf_counter()
        assigned: list[str] = []
        moved: list[str] = []
        for v in range(fleet.size):
            t = int(result.trip_of_vehicle[v])
            stops, at = trips.stops_of(t)
            first, m = self._apply_plan(v, ids, trips.requests_of(t).tolist(), stops, at, now_s)
            assigned += first
            moved += m
        rejected: list[str] = []
        for rid in list(self._open):
            ride = self.rides[rid]
            if ride.latest_pickup_s < now_s + p.batch_s:
                self._reject(ride, now_s, f"not matched within the maximum wait of {p.max_wait_s} s")
                rejected.append(rid)
        if self.rebalancer is not None:
            self.rebalancer.memory.close_batch(now_s)
        report = BatchReport(
            time_s=now_s,
            assigned=tuple(assigned),
            reassigned=tuple(moved),
            rejected=tuple(rejected),
            open=len(self._open),
            trips=trips.size,
            status=result.status,
            objective=int(result.objective),
            gather_s=t1 - t0,
            trips_s=t2 - t1,
            assign_s=t3 - t2,
            compute_s=time.perf_counter() - t0,
        )
        self.reports.append(report)
        return report

    # ------------------------------------------------------------------ vehicles
    def locate(self, vehicle_id: str, node: int, time_s: int) -> None:
        """The taxi's next plan starts at ``node`` at ``time_s`` (its position, or the next node on its path)."""
        taxi = self.taxis[self.vehicle_index_of(vehicle_id)]
        n = self.times.num_nodes
        if not isinstance(node, int | np.integer) or not 0 <= int(node) < n:
            raise InvalidValueError("node", f"got {node!r}", f"0 .. {n - 1}")
        taxi.node = int(node)
        taxi.time = int(time_s)
        if taxi.rebalancing_to == taxi.node:
            taxi.rebalancing_to = None  # arrived

    def next_stops(self, vehicle_id: str) -> list[PlannedTaxiStop]:
        """The taxi's plan, in order."""
        return list(self.taxis[self.vehicle_index_of(vehicle_id)].plan)

    def rebalancing_target(self, vehicle_id: str) -> int | None:
        """Where an idle taxi was sent by :meth:`rebalance`, if anywhere."""
        return self.taxis[self.vehicle_index_of(vehicle_id)].rebalancing_to

    def _taxi_of(self, ride: TaxiRide, status: TaxiRideStatus, verb: str) -> _Taxi:
        if ride.status is not status or ride.vehicle_id is None:
            raise ConflictError(f"ride {ride.id!r} is {ride.status.value}; it cannot be {verb}")
        return self.taxis[self._index[ride.vehicle_id]]

    def _stop_served(self, taxi: _Taxi, ride: TaxiRide, kind: StopKind, node: int, time_s: int) -> None:
        """The ``kind`` stop of ``ride`` left the taxi's plan: the taxi is at ``node`` and leaves after the dwell."""
        taxi.plan = [s for s in taxi.plan if not (s.ride_id == ride.id and s.kind is kind)]
        taxi.node = node
        taxi.time = int(time_s) + self.params.dwell_s

    def boarded(self, ride_id: str, time_s: int) -> None:
        """The rider got in at ``time_s`` (the taxi leaves after ``dwell_s``)."""
        ride = self.get_ride(ride_id)
        taxi = self._taxi_of(ride, TaxiRideStatus.ASSIGNED, "picked up")
        taxi.assigned.remove(ride.id)
        taxi.onboard.append(ride.id)
        self._stop_served(taxi, ride, StopKind.PICKUP, ride.request.origin, time_s)
        ride.status = TaxiRideStatus.ON_BOARD
        ride.picked_up_s = int(time_s)
        if len(taxi.onboard) > 1:
            for rid in taxi.onboard:
                self.rides[rid].shared = True
        self._emit(TaxiEventKind.PICKED_UP, ride, int(time_s))

    def alighted(self, ride_id: str, time_s: int) -> None:
        """The rider got out at ``time_s``: the ride is completed and its fare final."""
        ride = self.get_ride(ride_id)
        taxi = self._taxi_of(ride, TaxiRideStatus.ON_BOARD, "dropped off")
        taxi.onboard.remove(ride.id)
        self._stop_served(taxi, ride, StopKind.DROPOFF, ride.request.destination, time_s)
        ride.status = TaxiRideStatus.COMPLETED
        ride.dropped_off_s = int(time_s)
        req = ride.request
        ride.fare_krw = self.ledger.ride_completed(
            ride.id,
            taxi.spec.id,
            direct_m=ride.direct_m,
            direct_s=ride.direct_s,
            asked_to_share=req.share,
            shared=ride.shared,
            rider_class=req.rider_class,
            passengers=req.passengers,
            time_s=int(time_s),
        )
        self._emit(TaxiEventKind.DROPPED_OFF, ride, int(time_s), f"fare {ride.fare_krw} KRW")

    def no_show(self, ride_id: str, time_s: int) -> None:
        """The rider was not at the pickup: the ride ends and leaves the plan."""
        ride = self.get_ride(ride_id)
        self._taxi_of(ride, TaxiRideStatus.ASSIGNED, "a no-show")
        self._drop_from_plan(ride)
        ride.status = TaxiRideStatus.NO_SHOW
        ride.reason = "no_show"
        self._emit(TaxiEventKind.NO_SHOW, ride, int(time_s))

    def rebalance(self, now_s: int) -> list[tuple[str, int]]:
        """Send idle taxis toward demand (see :mod:`matching.pooling.rebalance`); returns (taxi id, node) moves.

        Idle: on shift, nothing planned, nobody on board, not already on a rebalancing move.
        A moved taxi stays re-plannable: the next batch may give it riders on the way. Empty
        when ``params.rebalance`` is off.
        """
        if self.rebalancer is None:
            return []
        idle = [v for v, t in enumerate(self.taxis) if t.idle and t.on_shift(now_s) and t.rebalancing_to is None]
        if not idle:
            return []
        nodes = np.fromiter((self.taxis[v].node for v in idle), np.int64, len(idle))
        plan = self.rebalancer.plan(nodes, now_s)
        moves: list[tuple[str, int]] = []
        for k, target in zip(plan.vehicle.tolist(), plan.target.tolist(), strict=True):
            taxi = self.taxis[idle[int(k)]]
            if int(target) != taxi.node:
                taxi.rebalancing_to = int(target)
                moves.append((taxi.spec.id, int(target)))
        return moves

    # ------------------------------------------------------------------ views
    @property
    def open_rides(self) -> Mapping[str, TaxiRide]:
        """Rides waiting for a match."""
        return {rid: self.rides[rid] for rid in self._open}

    def occupancy(self, vehicle_id: str) -> int:
        """Passengers on board a taxi now."""
        taxi = self.taxis[self.vehicle_index_of(vehicle_id)]
        return sum(self.rides[rid].request.passengers for rid in taxi.onboard)

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        """The dispatcher's whole state as plain JSON-able data (:meth:`restore` reads it back).

        Rides in every state (waiting ones included, so they survive a restart and are matched
        by the restarted dispatcher's next batch), taxis with their position, plan and riders.
        """
        return {
            "version": SNAPSHOT_VERSION,
            "last_batch_s": self.last_batch_s,
            "open": list(self._open),
            "rides": [ride_to_dict(r) for r in self.rides.values()],
            "taxis": [{"id": t.spec.id, **self.taxi_state(v)} for v, t in enumerate(self.taxis)],
        }

    def taxi_state(self, v: int) -> dict[str, Any]:
        """Taxi ``v``'s state as plain data (the :data:`TAXI_STATE_FIELDS`; a snapshot's taxis
        are these with their ``id``)."""
        t = self.taxis[v]
        return {
            "node": t.node,
            "time": t.time,
            "plan": [[s.node, s.kind.value, s.ride_id, s.time_s] for s in t.plan],
            "assigned": list(t.assigned),
            "onboard": list(t.onboard),
            "rebalancing_to": t.rebalancing_to,
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Take the state of a :meth:`snapshot` (same fleet ids); events are not replayed.

        Raises:
            InvalidValueError: the snapshot is of another version or another fleet (field ``snapshot``).
        """
        if not isinstance(snapshot, Mapping) or snapshot.get("version") != SNAPSHOT_VERSION:
            raise InvalidValueError("snapshot", "not a shared-taxi dispatcher snapshot of this version")
        taxis = snapshot["taxis"]
        if [t["id"] for t in taxis] != [t.spec.id for t in self.taxis]:
            raise InvalidValueError("snapshot", "the snapshot's taxis are not this dispatcher's fleet")
        self.rides = {d["id"]: ride_from_dict(d) for d in snapshot["rides"]}
        self._open = {rid: None for rid in snapshot["open"]}
        for taxi, data in zip(self.taxis, taxis, strict=True):
            taxi.node = int(data["node"])
            taxi.time = int(data["time"])
            taxi.plan = [PlannedTaxiStop(int(n), StopKind(k), str(r), int(at)) for n, k, r, at in data["plan"]]
            taxi.assigned = [str(r) for r in data["assigned"]]
            taxi.onboard = [str(r) for r in data["onboard"]]
            taxi.rebalancing_to = data["rebalancing_to"]
        self.last_batch_s = snapshot["last_batch_s"]
        self._events = []


#: Version of :meth:`SharedTaxiDispatcher.snapshot`'s format.
SNAPSHOT_VERSION = 1
#: The fields of a taxi's state (:meth:`SharedTaxiDispatcher.taxi_state`).
TAXI_STATE_FIELDS = ("node", "time", "plan", "assigned", "onboard", "rebalancing_to")


def ride_to_dict(ride: TaxiRide) -> dict[str, Any]:
    """A ride as plain JSON-able data (:func:`ride_from_dict` reads it back)."""
    data = dataclasses.asdict(ride)
    req = data.pop("request")
    req["rider_class"] = ride.request.rider_class.value
    data["request"] = req
    data["status"] = ride.status.value
    data["history"] = [list(h) for h in ride.history]
    return data


def ride_from_dict(data: Mapping[str, Any]) -> TaxiRide:
    """The ride of :func:`ride_to_dict`'s data."""
    fields = dict(data)
    fields["request"] = TaxiRequest(**fields["request"])
    fields["status"] = TaxiRideStatus(fields["status"])
    fields["history"] = [(int(t), str(k)) for t, k in fields["history"]]
    return TaxiRide(**fields)


def warm_up() -> float:
    """Compile the trip search's and the assignment's kernels (seconds taken); call at start-up."""
    from . import assign as assign_module
    from . import trips as trips_module

    start = time.perf_counter()
    trips_module.warm_up()
    assign_module.warm_up()
    return time.perf_counter() - start
