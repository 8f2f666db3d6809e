"""The event loop of a simulated service day.

Events, processed in time order (ties broken by a fixed kind order, then by creation order,
so that a seed always gives the same day):

* a rider asks (``REQUEST``): the dispatcher quotes; an offer is booked at once;
* a rider cancels (``CANCEL``) before the pickup;
* a vehicle leaves a stop (``DEPART``): it commits to the next stop of its plan and drives
  there along the shortest path under the traffic of the moment (the drive is recorded);
* it arrives (``ARRIVE``) and serves the stop (``SERVE``): it waits for the promised window,
  riders board (or do not turn up) and alight, each taking the service time; at a checkpoint
  of a semi-fixed route (:mod:`sim.semifixed`) it waits for the scheduled time and no one gets
  on or off (a stop visit of nobody);
* the plan is re-optimised (``REOPTIMISE``) every few minutes with a fixed iteration budget;
* traffic changes (``TRAFFIC``): new edge times go to the router and the dispatcher;
* a component's timed call (``CALL``): see below.

Components extend the day without touching the loop (bus lines, feeder journeys, semi-fixed
checkpoints, sub-zone transfers): a component is any object with ``attach(sim)`` (called when
the run starts, after the queue is ready) and ``finish(sim, output)`` (called after the day,
to add its records to ``output.extras`` under its own key). It acts through three public
hooks of :class:`Simulation`: :meth:`Simulation.call_at` (a callback at a time),
:meth:`Simulation.submit` (a new rider request during the day, e.g. the next leg of a
journey) and :attr:`Simulation.ride_hooks` (told when a ride ends: completed, rejected,
cancelled or no-show).

Nothing steps per second: the clock jumps from event to event. The dispatcher is reached
through a small backend interface (:class:`InProcessBackend` here; a gRPC client later), so
that the same loop drives the dispatcher in-process or a live engine.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from matching import Offer, Rejection, Request, RideStatus, StopKind
from matching.deployment import ConfigError, load_world, make_fleet
from matching.dispatcher import Dispatcher, PlannedStop
from routing import Router

from .demand import DemandItem, generate
from .records import Drive, RideRecord, SimOutput, StopVisit, VehicleRecord
from .scenario import Scenario
from .subzones import SubzoneBackend, SubzoneJourneys
from .traffic import TrafficModel

if TYPE_CHECKING:
    from .sumo.fleet import SumoFleet

log = logging.getLogger(__name__)

# Event kinds, in the order they run when they share a time.
TRAFFIC, ARRIVE, SERVE, DEPART, CANCEL, REQUEST, REOPTIMISE, CALL = range(8)

#: What a ride hook is told: the ride's record (its ``outcome`` already set) and the time.
RideHook = Callable[[RideRecord, int], None]


class Component(Protocol):
    """A part of the day that runs beside the dispatcher's vehicles (see the module docstring)."""

    def attach(self, sim: Simulation) -> None: ...

    def finish(self, sim: Simulation, output: SimOutput) -> None: ...


#: The next planned stop of a vehicle: the ride, pickup or drop-off (a StopKind), where and when.
NextStop = PlannedStop


class Backend(Protocol):
    """What the event loop needs from a dispatcher (in-process or remote)."""

    def quote(self, request: Request, now_s: int) -> Offer | Rejection: ...

    def book(self, offer_id: str, now_s: int) -> str: ...

    def cancel(self, ride_id: str, now_s: int) -> bool: ...

    def position(self, vehicle_id: str, stop: int, time_s: int) -> None: ...

    def boarded(self, ride_id: str, time_s: int) -> None: ...

    def alighted(self, ride_id: str, time_s: int) -> None: ...

    def no_show(self, ride_id: str, time_s: int) -> None: ...

    def next_stop(self, vehicle_id: str) -> NextStop | None: ...

    def checkpoint(self, checkpoint_id: str, time_s: int) -> None: ...

    def reoptimise(self, now_s: int, iterations: int) -> bool: ...

    def traffic(self, router: Router, now_s: int) -> None: ...


def scenario_components(scenario: Scenario) -> list[Component]:
    """The components the scenario's planning sections ask for (``[lines]``, ``[feeder]``,
    ``[semi_fixed]``, ``[subzones]``), in a fixed order; none for a plain I-MOD day."""
    out: list[Component] = []
    if scenario.lines is not None:
        from .transit import TransitLines

        out.append(TransitLines(scenario.lines))
    if scenario.feeder is not None:
        from .feeder import FeederJourneys

        out.append(FeederJourneys(scenario.feeder))
    if scenario.subzones is not None:
        out.append(SubzoneJourneys())
    if scenario.semi_fixed is not None:
        from .semifixed import SemiFixedRoute

        out.append(SemiFixedRoute(scenario.semi_fixed))
    return out


class InProcessBackend:
    """The :class:`matching.dispatcher.Dispatcher` in this process. ``follow_traffic`` False: the
    dispatcher keeps the travel times it has (a semi-fixed route plans with the day's slowest)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.d = dispatcher
        self.follow_traffic = True

    def quote(self, request: Request, now_s: int) -> Offer | Rejection:
        return self.d.quote(request, now_s)

    def book(self, offer_id: str, now_s: int) -> str:
        return self.d.book(offer_id, now_s).ride_id

    def cancel(self, ride_id: str, now_s: int) -> bool:
        ride = self.d.get_ride(ride_id)
        if ride.status != RideStatus.ASSIGNED:
            return False
        self.d.cancel(ride_id, now_s)
        return True

    def position(self, vehicle_id: str, stop: int, time_s: int) -> None:
        self.d.on_vehicle_position(vehicle_id, stop, time_s)

    def boarded(self, ride_id: str, time_s: int) -> None:
        self.d.on_boarded(ride_id, time_s)

    def alighted(self, ride_id: str, time_s: int) -> None:
        self.d.on_alighted(ride_id, time_s)

    def no_show(self, ride_id: str, time_s: int) -> None:
        self.d.on_no_show(ride_id, time_s)

    def next_stop(self, vehicle_id: str) -> NextStop | None:
        first = self.d.planned_stops(self.d.vehicle_index[vehicle_id], limit=1)
        return first[0] if first else None

    def checkpoint(self, checkpoint_id: str, time_s: int) -> None:
        self.d.on_checkpoint(checkpoint_id, time_s)

    def reoptimise(self, now_s: int, iterations: int) -> bool:
        return self.d.reoptimise(iterations=iterations, now_s=now_s).adopted

    def traffic(self, router: Router, now_s: int) -> None:
        if self.follow_traffic:
            self.d.update_travel_times(router, now_s)


# ---------------------------------------------------------------------------- the loop
class Simulation:
    """One simulated day of ``scenario`` (see the module docstring)."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        components: list[Component] | None = None,
        gui: bool = False,
    ) -> None:
        self.scenario = scenario
        #: with ``[traffic] model = "sumo"``: watch SUMO in sumo-gui (needs a display)
        self.gui = gui
        self.seed = scenario.seed if seed is None else seed
        self.progress = progress
        self.timings: dict[str, float] = {}
        #: parts of the day beside the dispatcher's vehicles (see the module docstring); by
        #: default those the scenario's sections ask for (:func:`scenario_components`)
        self.components: list[Component] = list(scenario_components(scenario) if components is None else components)
        #: told when a ride ends (completed, rejected, cancelled, no-show), in the order added
        self.ride_hooks: list[RideHook] = []

    def setup(self, backend_factory: Callable[[Dispatcher], Backend] | None = None) -> None:
        t0 = time.perf_counter()
        sc = self.scenario
        self.network, self.router, self.stops = load_world(sc.deployment)
        self.traffic: TrafficModel | SumoFleet = TrafficModel(self.network, sc.traffic)
        self.sumo: SumoFleet | None = None
        if sc.traffic.model == "sumo":
            self.sumo = self.traffic = _sumo_fleet(sc, self.network, self.seed, gui=self.gui)
        if sc.subzones is not None:  # a split zone: a dispatcher per sub-zone, behind one backend
            if backend_factory is not None:
                raise ConfigError("subzones", "a zone split into sub-zones runs in-process only (not with an engine)")
            split = SubzoneBackend(sc.subzones, sc.deployment, self.network, self.router, self.stops, seed=self.seed)
            self.fleet, self.dispatcher = split.fleet, split.dispatchers[0]
            self.backend: Backend = split
            in_zone = split.stop_zone >= 0  # the demand stays in the sub-zones
        else:
            self.fleet = make_fleet(sc.deployment, self.stops, self.seed)
            self.dispatcher = Dispatcher(
                self.network,
                self.router,
                self.stops,
                self.fleet,
                params=sc.service,
                fares=sc.deployment.fares(),
                seed=self.seed,
            )
            self.backend = (backend_factory or InProcessBackend)(self.dispatcher)
            # (the dispatcher's service area already holds which stops lie in the zone: zone_stops)
            in_zone = self.dispatcher.area.stop_in_zone
        self.demand: list[DemandItem] = generate(
            sc, len(self.stops), seed=self.seed, in_zone=in_zone, network=self.network, stops=self.stops
        )
        self.timings["setup_s"] = time.perf_counter() - t0

    # ------------------------------------------------------------------ run
    def run(self) -> SimOutput:
        if not hasattr(self, "backend"):
            self.setup()
        t_run = time.perf_counter()
        sc = self.scenario
        self._queue: list[tuple[int, int, int, Any]] = []
        self._seq = itertools.count()
        self.rides: dict[str, RideRecord] = {}
        self.drives: list[Drive] = []
        self.visits: list[StopVisit] = []
        self.items = {it.request.id: it for it in self.demand}
        self.vrec = {
            v.id: VehicleRecord(v.id, v.seats, v.depot_stop, v.shift_start_s, v.shift_end_s) for v in self.fleet
        }
        self.vstate = {v.id: "idle" for v in self.fleet}
        self.vpos = {v.id: v.depot_stop for v in self.fleet}
        self.vload = {v.id: 0 for v in self.fleet}
        self.vtoken = {v.id: 0 for v in self.fleet}
        self.vbusy_until = {v.id: 0 for v in self.fleet}  # end of the service in progress
        self.varrived = {v.id: sc.start_s for v in self.fleet}  # when it reached where it is
        self.vshift_start = {v.id: v.shift_start_s for v in self.fleet}  # nothing moves before
        self.pax_of: dict[str, int] = {}
        #: vehicles SUMO is driving: (departure, from stop, to stop, riders on board, engine path)
        self._driving: dict[str, tuple[int, int, int, int, list[int]]] = {}
        for item in self.demand:
            self._push(item.submit_s, REQUEST, item)
        if sc.dispatch.reoptimise_every_s and sc.dispatch.reoptimise_iterations:
            self._push(sc.start_s + sc.dispatch.reoptimise_every_s, REOPTIMISE, None)
        if self.traffic.active:
            # the traffic of the first hour goes to the dispatcher before anything happens
            self._on_traffic(sc.start_s, None)
        self._requests_done = 0
        self._requests_total = len(self.demand)
        self.now = sc.start_s  # components may call call_at / submit from attach
        for component in self.components:
            component.attach(self)
        handlers: dict[int, Callable[[int, Any], None]] = {
            REQUEST: self._on_request,
            CANCEL: self._on_cancel,
            DEPART: self._on_depart,
            ARRIVE: self._on_arrive,
            SERVE: self._on_serve,
            REOPTIMISE: self._on_reoptimise,
            TRAFFIC: self._on_traffic,
            CALL: self._on_call,
        }
        self.now = sc.start_s
        if self.sumo is None:
            while self._queue:
                t, kind, _, payload = heapq.heappop(self._queue)
                self.now = t
                handlers[kind](t, payload)
        else:
            self._run_with_sumo(handlers)
        self._return_to_depots()
        self.timings["run_s"] = time.perf_counter() - t_run
        for rid, rec in self.rides.items():
            if rec.outcome == "open":
                log.warning("ride %s was still open at the end of the day", rid)
        output = SimOutput(
            scenario=sc.name,
            seed=self.seed,
            start_s=sc.start_s,
            end_s=max(sc.end_s, int(self.now)),
            rides=list(self.rides.values()),
            drives=self.drives,
            visits=self.visits,
            vehicles=list(self.vrec.values()),
            network=self.network,
            stops=self.stops,
            zone=sc.service.zone,
            timings=dict(self.timings),
            meta={
                "vehicles": len(self.fleet),
                "stops": len(self.stops),
                "requests": self._requests_total,
                "currency": sc.deployment.currency,
            },
        )
        if self.sumo is not None:
            output.extras["traffic"] = self.sumo.report
        for component in self.components:
            component.finish(self, output)
        return output

    def _run_with_sumo(self, handlers: dict[int, Callable[[int, Any], None]]) -> None:
        """The event loop with SUMO driving: before each event SUMO runs up to its time, and a
        vehicle reaching its stop on the way becomes an ``ARRIVE`` event of that time."""
        sumo = self.sumo
        assert sumo is not None
        t_sumo = time.perf_counter()
        try:
            if sumo.module is None:
                sumo.start()
            while self._queue or sumo.driving:
                until = self._queue[0][0] if self._queue else float("inf")
                if sumo.driving or until != float("inf"):
                    arrivals = sumo.advance(until)
                    for a in arrivals:
                        self._arrived_in_sumo(a.vehicle_id, a.time_s, a.distance_m)
                    if arrivals:
                        continue
                if not self._queue:
                    break
                t, kind, _, payload = heapq.heappop(self._queue)
                self.now = t
                handlers[kind](t, payload)
        finally:
            sumo.close()
            wall = time.perf_counter() - t_sumo
            self.timings["sumo_s"] = wall
            self.timings["sumo_teleports"] = sumo.teleports
            sumo.report.teleports = sumo.teleports
            sumo.report.gap_fills = sumo.gap_fills
            sumo.report.real_time_factor = (sumo.time_s - self.scenario.start_s) / max(wall, 1e-9)

    def _push(self, t: float, kind: int, payload: Any) -> None:
        heapq.heappush(self._queue, (int(np.ceil(t)), kind, next(self._seq), payload))

    # ------------------------------------------------------------------ hooks for components
    def call_at(self, t: float, fn: Callable[[int], None]) -> None:
        """Call ``fn(time)`` at ``t`` (rounded up to a whole second; never before now)."""
        self._push(max(t, self.now), CALL, fn)

    def submit(self, item: DemandItem) -> None:
        """A request that arises during the day (the next leg of a journey, say), asked at
        ``item.submit_s`` (not before now). Its ride is recorded like the day's other rides."""
        if item.request.id in self.items:
            raise ValueError(f"request id {item.request.id!r} is already in the day")
        self.items[item.request.id] = item
        self._requests_total += 1
        self._push(max(item.submit_s, self.now), REQUEST, item)

    def _ended(self, rec: RideRecord, t: int) -> None:
        for hook in self.ride_hooks:
            hook(rec, t)

    def _on_call(self, t: int, fn: Callable[[int], None]) -> None:
        fn(t)

    # ------------------------------------------------------------------ riders
    def _on_request(self, t: int, item: DemandItem) -> None:
        req = item.request
        rec = RideRecord(
            ride_id=req.id,
            submitted_s=item.submit_s,
            requested_s=req.requested_time_s,
            origin_stop=req.origin_stop if req.origin_stop is not None else -1,
            destination_stop=req.destination_stop if req.destination_stop is not None else -1,
            passengers=req.passengers,
            rider_class=req.rider_class.value,
            wheelchair=req.wheelchair,
            journey_id=item.journey_id,
            leg=item.leg,
        )
        self.rides[req.id] = rec
        answer = self.backend.quote(req, t)
        self._requests_done += 1
        if self.progress:
            self.progress(self._requests_done, self._requests_total)
        if isinstance(answer, Rejection):
            rec.outcome = "rejected"
            rec.reject_reason = answer.reason.value
            self._ended(rec, t)
            return
        rid = self.backend.book(answer.offer_id, t)
        rec.outcome = "open"
        rec.vehicle_id = answer.vehicle_id
        rec.origin_stop, rec.destination_stop = answer.pickup_stop, answer.dropoff_stop
        rec.walk_to_pickup_m, rec.walk_from_dropoff_m = answer.walk_to_pickup_m, answer.walk_from_dropoff_m
        rec.offered_pickup_eta_s = answer.pickup_eta_s
        rec.promised_pickup_start_s, rec.promised_pickup_end_s = (
            answer.pickup_window_start_s,
            answer.pickup_window_end_s,
        )
        rec.max_ride_s, rec.direct_time_s = answer.max_ride_s, answer.direct_time_s
        rec.direct_distance_m, rec.fare_krw = answer.direct_distance_m, answer.fare_krw
        self.pax_of[rid] = req.passengers
        if item.cancel_at_s is not None:
            self._push(max(t, item.cancel_at_s), CANCEL, rid)
        self._wake_all(t)

    def _on_cancel(self, t: int, rid: str) -> None:
        if self.backend.cancel(rid, t):
            rec = self.rides[rid]
            rec.outcome = "cancelled"
            rec.cancelled_s = t
            self._ended(rec, t)
            self._wake_all(t)

    # ------------------------------------------------------------------ vehicles
    def _wake_all(self, t: int) -> None:
        """Vehicles that wait (idle, or at a stop) look at their plan again."""
        for vid, state in self.vstate.items():
            if state == "idle":
                if self.backend.next_stop(vid) is not None:
                    self.vstate[vid] = "at_stop"
                    self._schedule(vid, t, SERVE)
            elif state == "at_stop":
                self._schedule(vid, t, SERVE)

    def _schedule(self, vid: str, t: float, kind: int) -> None:
        self.vtoken[vid] += 1
        self._push(t, kind, (vid, self.vtoken[vid]))

    def _on_serve(self, t: int, payload: tuple[str, int]) -> None:
        vid, token = payload
        if token != self.vtoken[vid] or self.vstate[vid] != "at_stop":
            return
        if t < self.vshift_start[vid]:
            # a ride booked ahead for a vehicle whose shift has not begun: it leaves its depot
            # when the shift starts, as the dispatcher planned (telling the dispatcher it is
            # on its way earlier would make it available before its shift)
            self._schedule(vid, self.vshift_start[vid], SERVE)
            return
        if t < self.vbusy_until[vid]:
            self._schedule(vid, self.vbusy_until[vid], SERVE)  # still boarding or alighting
            return
        nxt = self.backend.next_stop(vid)
        if nxt is None:
            self.vstate[vid] = "idle"
            return
        if nxt.stop != self.vpos[vid]:
            self._on_depart(t, (vid, token))
            return
        if nxt.planned_s > t + 1e-6:
            self._schedule(vid, nxt.planned_s, SERVE)  # wait for the promised window
            return
        if nxt.checkpoint:  # a semi-fixed route's timed stop (sim.semifixed): no one gets on or off
            self.backend.checkpoint(nxt.ride_id, t)
            self._served(vid, nxt, t, max(self.varrived[vid], self.vbusy_until[vid]), 0, 0)
            return
        item = self.items[nxt.ride_id]
        rec = self.rides[nxt.ride_id]
        v = self.vrec[vid]
        pax = self.pax_of[nxt.ride_id]
        boarded = alighted = 0
        if nxt.kind == StopKind.PICKUP:
            if item.no_show:
                self.backend.no_show(nxt.ride_id, t)
                rec.outcome = "no_show"
                self._ended(rec, t)
                self._schedule(vid, t, SERVE)
                return
            self.backend.boarded(nxt.ride_id, t)
            rec.vehicle_id = vid  # the vehicle that serves it (re-optimisation may have moved it)
            rec.pickup_s = t
            rec.pickup_service_s = nxt.service_s
            self.vload[vid] += pax
            boarded = pax
            v.riders += pax
        else:
            self.backend.alighted(nxt.ride_id, t)
            rec.dropoff_s = t
            rec.outcome = "completed"
            self.vload[vid] -= pax
            alighted = pax
            self._ended(rec, t)
        self._served(vid, nxt, t, t, boarded, alighted)

    def _served(self, vid: str, nxt: NextStop, t: int, arrived: int, boarded: int, alighted: int) -> None:
        """Record a served stop (its visit, the vehicle's tally) and hold the vehicle there for
        the stop's service time."""
        v = self.vrec[vid]
        v.stops_served += 1
        v.busy_s += nxt.service_s
        self.visits.append(
            StopVisit(vid, nxt.stop, arrived, t, t + nxt.service_s, boarded, alighted, self.vload[vid], v.seats)
        )
        self.vbusy_until[vid] = t + nxt.service_s
        self._schedule(vid, t + nxt.service_s, SERVE)

    def _on_depart(self, t: int, payload: tuple[str, int]) -> None:
        vid, token = payload
        if token != self.vtoken[vid]:
            return
        nxt = self.backend.next_stop(vid)
        if nxt is None:
            self.vstate[vid] = "idle"
            return
        here = self.vpos[vid]
        a, b = int(self.stops.node[here]), int(self.stops.node[nxt.stop])
        path = self.router.path(a, b)
        arrival = t + path.travel_time_s
        self.backend.position(vid, nxt.stop, arrival)
        onboard = self.vload[vid]
        nodes = [int(x) for x in path.nodes]
        self.vstate[vid] = "driving"
        self.vpos[vid] = nxt.stop
        if self.sumo is not None:  # SUMO drives; the arrival comes from it (_arrived_in_sumo)
            self.vtoken[vid] += 1  # no event of this vehicle is valid while it drives
            self._driving[vid] = (t, here, nxt.stop, onboard, nodes)
            self.sumo.depart(vid, t, nodes)
            return
        self._record_drive(Drive(vid, t, arrival, here, nxt.stop, path.length_m, onboard, nodes))
        self._schedule(vid, arrival, ARRIVE)

    def _record_drive(self, drive: Drive) -> None:
        self.drives.append(drive)
        v = self.vrec[drive.vehicle_id]
        v.drives += 1
        v.driven_m += drive.length_m
        v.busy_s += drive.arrive_s - drive.depart_s
        if drive.onboard:
            v.loaded_m += drive.length_m
            v.passenger_m += drive.length_m * drive.onboard

    def _arrived_in_sumo(self, vid: str, t: int, distance_m: float) -> None:
        """SUMO brought ``vid`` to its stop at ``t`` after ``distance_m``: the drive is recorded
        as SUMO drove it, and the vehicle arrives."""
        depart, here, to, onboard, nodes = self._driving.pop(vid)
        self._record_drive(Drive(vid, depart, max(t, depart), here, to, round(distance_m), onboard, nodes))
        self._schedule(vid, max(t, depart), ARRIVE)

    def _on_arrive(self, t: int, payload: tuple[str, int]) -> None:
        vid, token = payload
        if token != self.vtoken[vid]:
            return
        self.vstate[vid] = "at_stop"
        self.varrived[vid] = t
        self.backend.position(vid, self.vpos[vid], t)
        self._schedule(vid, t, SERVE)

    def _return_to_depots(self) -> None:
        """After the day every vehicle drives back to its depot (recorded): it leaves so as to be
        there when its shift ends, or after its last stop if that was later."""
        free_at = dict(self.vbusy_until)
        for d in self.drives:
            free_at[d.vehicle_id] = max(free_at[d.vehicle_id], d.arrive_s)
        for veh in self.fleet:
            here = self.vpos[veh.id]
            if here == veh.depot_stop:
                continue
            path = self.router.path(int(self.stops.node[here]), int(self.stops.node[veh.depot_stop]))
            t = max(free_at[veh.id], veh.shift_end_s - path.travel_time_s)
            self.drives.append(
                Drive(
                    veh.id,
                    t,
                    t + path.travel_time_s,
                    here,
                    veh.depot_stop,
                    path.length_m,
                    0,
                    [int(x) for x in path.nodes],
                )
            )
            v = self.vrec[veh.id]
            v.drives += 1
            v.driven_m += path.length_m
            v.busy_s += path.travel_time_s
            self.vpos[veh.id] = veh.depot_stop

    # ------------------------------------------------------------------ operations
    def _on_reoptimise(self, t: int, _: Any) -> None:
        sc = self.scenario
        if self.backend.reoptimise(t, sc.dispatch.reoptimise_iterations):
            self._wake_all(t)
        if t + sc.dispatch.reoptimise_every_s <= sc.end_s:
            self._push(t + sc.dispatch.reoptimise_every_s, REOPTIMISE, None)

    def _on_traffic(self, t: int, _: Any) -> None:
        times = self.traffic.travel_times(t)
        self.router = self.router.with_travel_times(times)
        self.backend.traffic(self.router, t)
        self._wake_all(t)
        nxt = self.traffic.period_start(t) + self.traffic.period_s
        if nxt <= self.scenario.end_s:
            self._push(nxt, TRAFFIC, None)


def _sumo_fleet(sc: Scenario, network: Any, seed: int, *, gui: bool = False) -> SumoFleet:
    """The SUMO side of a ``[traffic] model = "sumo"`` day: its network (built or cached) and
    the fleet driver, with the background traffic the scenario asks for."""
    from .sumo import SumoNetOptions, build_sumo_network
    from .sumo.background import cached_background
    from .sumo.fleet import SumoFleet

    spec = sc.deployment.network
    if spec.kind != "osm":
        raise ConfigError("traffic.model", f'"sumo" needs an OSM road network, not a {spec.kind!r} one')
    sumo_net = build_sumo_network(
        spec.path, network, build_options=spec.build_options(), options=SumoNetOptions(signals=sc.traffic.signals)
    )
    background: list[Path] = []
    if sc.traffic.background_vph > 0:
        background.append(cached_background(sumo_net, sc.traffic, begin_s=sc.start_s, end_s=sc.end_s, seed=seed))
    return SumoFleet(
        sumo_net,
        network,
        begin_s=sc.start_s,
        end_s=sc.end_s,
        update_s=int(sc.traffic.update_minutes * 60),
        background=background,
        seed=seed,
        gui=gui,
    )


def simulate(
    scenario: Scenario,
    *,
    seed: int | None = None,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    plots: bool = True,
    components: list[Component] | None = None,
) -> SimOutput:
    """Run ``scenario`` and, with ``out``, write the report there (see :mod:`sim.report`)."""
    sim = Simulation(scenario, seed=seed, progress=progress, components=components)
    sim.setup()
    output = sim.run()
    if out is not None:
        from .report import write_report

        write_report(output, Path(out), plots=plots)
    return output
