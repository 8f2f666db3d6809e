"""The fleet plan of a live service: every vehicle's route as named arrays, and queries on them.

A :class:`FleetPlan` holds the problem side as a :class:`~routing.schedule.ProblemArrays`
(``plan.arrays``: per node its kind, location, time window, service time, ride limit and load
change; per vehicle its start and end node, when it is next free, capacity and load on board;
the travel-time matrix between locations) and the routes as a
:class:`~routing.schedule.RouteState` (``plan.state``: route ``v`` is
``state.nodes[v, :state.length[v]]`` with its prepared schedule, e.g. ``state.service_start``).
The kernels of :mod:`routing.schedule` read both directly.

Node layout. Vehicle ``v`` has a start node ``v`` (where it can next change course, and
when: ``vehicle_early[v]``) and an end node ``num_vehicles + v`` (its depot, by the end of its
shift: ``tw_late``); two more nodes (:attr:`FleetPlan.quote_p`, :attr:`FleetPlan.quote_d`)
are the scratch pickup and drop-off of a quote; the nodes of rides are added after them with
:meth:`FleetPlan.new_node` (the arrays grow as needed). A route is its start node, the ride
nodes in the order of visit, then its end node. Costs are travel times (``travel_cost`` is
``travel_time``).

Places and slots. The plan's public methods speak of *places* (stop indices). The kernels'
``node_location`` holds *slots* of a :class:`~routing.locations.LocationPool`, and their
``travel_time`` is the pool's slot-by-slot matrix: only the places some node of the plan is
at take a slot (:meth:`FleetPlan.set_place` references one, :meth:`FleetPlan.release_node`
and :meth:`FleetPlan.remove` let go), so the matrix stays as small as the plans, not as
large as the stop set. Over a dense pool (:meth:`LocationPool.dense`, a stop-by-stop matrix
the caller holds) slots are the places themselves.

Besides the kernels' arrays the plan keeps, per node, a note of its owner's (``node_ride``:
an object, e.g. a ride id; ``node_time``, ``node_vehicle``): a dispatcher records there what
its ride records last said.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .alns.edits import insert_nodes, remove_marked
from .config import kernel
from .errors import InvalidArgumentError
from .locations import LocationPool
from .problem import DELIVERY, END, PICKUP, START
from .router import Router
from .schedule import (
    CostWeights,
    InsertionScratch,
    ProblemArrays,
    RouteState,
    empty_route_state,
    fleet_insertions,
    grown_route_state,
    insertion_scratch,
    prepare_route,
    prepare_routes,
    schedule_with_insertion,
)


class StopColumns(NamedTuple):
    """A vehicle's planned stops (start and end left out) as columns, in the order of visit."""

    nodes: NDArray[np.int32]
    is_pickup: NDArray[np.bool_]
    location: NDArray[np.int32]
    service_start: NDArray[np.float64]  # planned start of service
    service: NDArray[np.float64]  # dwell at the stop
    passengers: NDArray[np.int64]  # the sum of the node's load change over every dimension, unsigned
    tw_early: NDArray[np.float64]  # of a pickup; 0 for a drop-off


@kernel
def reachable_vehicles(pb, location, demand, t_req, latest):
    """The vehicles with room for ``demand`` (one value per load dimension), on shift at
    ``t_req`` (their end node's window closes no earlier) and able to reach ``location`` by
    ``latest`` from where they are next free (in vehicle order)."""
    k = pb.capacity.shape[0]
    out = np.empty(k, np.int64)
    c = 0
    for v in range(k):
        fits = True
        for q in range(demand.shape[0]):
            if pb.capacity[v, q] < demand[q]:
                fits = False
        if (
            fits
            and pb.tw_late[pb.vehicle_end[v]] >= t_req
            and pb.vehicle_early[v] + pb.travel_time[pb.node_location[pb.vehicle_start[v]], location] <= latest
        ):
            out[c] = v
            c += 1
    return out[:c]


class FleetPlan:
    """Routes of a fleet over stops, kept for the schedule kernels (see the module docstring).

    Args:
        start_location: each vehicle's depot stop (where it starts and ends).
        shift_start / shift_end: each vehicle's shift, on the service clock (seconds).
        capacity: ``[vehicle, dim]`` places per load dimension (e.g. seats, wheelchair places).
        locations: the :class:`~routing.locations.LocationPool` of the stops, or a
            stop-by-stop travel-time matrix (seconds; held as :meth:`LocationPool.dense`).
        max_len: initial room per route (grows as needed).
    """

    def __init__(
        self,
        start_location: Sequence[int] | NDArray[np.integer[Any]],
        shift_start: Sequence[float] | NDArray[np.floating[Any]],
        shift_end: Sequence[float] | NDArray[np.floating[Any]],
        capacity: Sequence[Sequence[int]] | NDArray[np.integer[Any]],
        locations: LocationPool | NDArray[np.float64],
        *,
        max_len: int = 16,
    ) -> None:
        loc = np.asarray(start_location, np.int32)
        k = loc.shape[0]
        cap = np.asarray(capacity, np.int64)
        if k == 0 or cap.ndim != 2 or cap.shape[0] != k:
            raise InvalidArgumentError("capacity", f"expected shape ({k}, dims) for {k} vehicles, got {cap.shape}")
        pool = locations if isinstance(locations, LocationPool) else LocationPool.dense(locations)
        if ((loc < 0) | (loc >= pool.num_places)).any():
            raise InvalidArgumentError("start_location", "must be places of the travel-time matrix or pool")
        self.pool = pool
        tt = pool.matrix
        dims = cap.shape[1]
        self.num_vehicles = k
        self.num_dims = dims
        #: each vehicle's start of shift (``vehicle_early`` moves on with the vehicle; this does not)
        self.shift_start = np.asarray(shift_start, np.float64).copy()
        cap_nodes = 2 * k + 2 + 64
        self.arrays = ProblemArrays(
            kind=np.full(cap_nodes, -1, np.int32),
            node_location=np.full(cap_nodes, -1, np.int32),
            partner=np.full(cap_nodes, -1, np.int32),
            request=np.full(cap_nodes, -1, np.int32),
            tw_early=np.zeros(cap_nodes),
            tw_late=np.zeros(cap_nodes),
            service=np.zeros(cap_nodes),
            max_ride=np.full(cap_nodes, np.inf),
            demand=np.zeros((cap_nodes, dims), np.int64),
            vehicle_start=np.arange(k, dtype=np.int32),
            vehicle_end=np.arange(k, 2 * k, dtype=np.int32),
            vehicle_early=np.asarray(shift_start, np.float64).copy(),
            max_duration=np.full(k, np.inf),
            capacity=np.ascontiguousarray(cap),
            start_load=np.zeros((k, dims), np.int64),
            travel_time=tt,
            travel_cost=tt,
        )
        self.num_nodes = 2 * k + 2  # starts, ends, two quote slots
        # Per node, beside the kernels' arrays: the owner's notes (see the module docstring).
        self.node_ride = np.full(cap_nodes, None, object)
        self.node_time = np.full(cap_nodes, np.nan)
        self.node_vehicle = np.full(cap_nodes, -1, np.int32)
        self.state = empty_route_state(k, max_len, dims)
        self.weights = CostWeights(1.0, 1.0, 0.1)
        self._scratch = insertion_scratch(0, cap_nodes)
        a = self.arrays
        ends = np.asarray(shift_end, np.float64)
        for v in range(k):
            start, end = v, k + v
            a.kind[start] = START
            a.kind[end] = END
            a.node_location[start] = pool.acquire(int(loc[v]))
            a.node_location[end] = pool.acquire(int(loc[v]))
            a.tw_early[start] = a.vehicle_early[v]
            a.tw_late[start] = np.inf
            a.tw_early[end] = 0.0
            a.tw_late[end] = ends[v]
            self.state.nodes[v, 0] = start
            self.state.nodes[v, 1] = end
            self.state.length[v] = 2
        self.quote_p = 2 * k
        self.quote_d = 2 * k + 1
        a.kind[self.quote_p] = PICKUP
        a.kind[self.quote_d] = DELIVERY
        a.partner[self.quote_p] = self.quote_d
        a.partner[self.quote_d] = self.quote_p
        self._follow_pool()
        for v in range(k):
            self.prepare(v)

    # ------------------------------------------------------------------ growth
    def new_node(self) -> int:
        """A new node (all fields at their empty values); the arrays grow when full."""
        cap_nodes = self.arrays.kind.shape[0]
        if self.num_nodes == cap_nodes:
            n = self.num_nodes
            cap = 2 * cap_nodes
            grown = {}
            for name, old in self.arrays._asdict().items():
                if old.shape[0] != cap_nodes or name in ("travel_time", "travel_cost"):
                    continue  # per vehicle or per location
                new = np.full((cap, *old.shape[1:]), np.inf if name == "max_ride" else 0, old.dtype)
                if name in ("kind", "node_location", "partner", "request"):
                    new[:] = -1
                new[:n] = old[:n]
                grown[name] = new
            self.arrays = self.arrays._replace(**grown)
            self.node_ride = np.concatenate([self.node_ride[:n], np.full(cap - n, None, object)])
            self.node_time = np.concatenate([self.node_time[:n], np.full(cap - n, np.nan)])
            self.node_vehicle = np.concatenate([self.node_vehicle[:n], np.full(cap - n, -1, np.int32)])
            self._scratch = self._scratch._replace(position=np.full(cap, -1, np.int32))
        node = self.num_nodes
        self.num_nodes += 1
        return node

    def ensure_room(self, extra: int = 2) -> None:
        """Room in every route for ``extra`` more nodes."""
        need = int(self.state.length.max()) + extra + 2
        if need <= self.state.nodes.shape[1]:
            return
        self.state = grown_route_state(self.state, max(need, 2 * self.state.nodes.shape[1]))

    def set_travel_time(self, travel_time: NDArray[np.float64]) -> None:
        """A new stop-by-stop travel-time matrix (same shape) for a plan over a dense pool; the
        routes are not prepared again."""
        tt = np.ascontiguousarray(travel_time, np.float64)
        if not self.pool.identity:
            raise InvalidArgumentError("travel_time", "the plan's locations are a pool: give it a router (retime)")
        if tt.shape != self.arrays.travel_time.shape:
            raise InvalidArgumentError("travel_time", f"expected shape {self.arrays.travel_time.shape}, got {tt.shape}")
        self.pool = LocationPool.dense(tt)
        self.arrays = self.arrays._replace(travel_time=tt, travel_cost=tt)

    def retime(self, router: Router) -> None:
        """New travel times from ``router`` (a traffic update) for a plan over a location pool:
        the slots in use are computed again; the routes are not prepared again."""
        self.pool.retime(router)
        self._follow_pool()

    # ------------------------------------------------------------------ places
    def _follow_pool(self) -> None:
        """Point the kernels at the pool's matrix (a new array after the pool grew)."""
        if self.arrays.travel_time is not self.pool.matrix:
            self.arrays = self.arrays._replace(travel_time=self.pool.matrix, travel_cost=self.pool.matrix)

    def set_place(self, node: int, place: int) -> None:
        """Node ``node`` is at ``place`` (a stop index): it references the place's slot."""
        a = self.arrays
        old = int(a.node_location[node])
        if old >= 0 and self.pool.place[old] == place:
            return  # already there
        slot = self.pool.acquire(place)
        if old >= 0:
            self.pool.release(old)
        self.arrays.node_location[node] = slot
        self._follow_pool()

    def copy_place(self, node: int, other: int) -> None:
        """Node ``node`` is where node ``other`` is."""
        a = self.arrays
        slot = int(a.node_location[other])
        old = int(a.node_location[node])
        if old == slot:
            return
        self.pool.retain(slot)
        if old >= 0:
            self.pool.release(old)
        a.node_location[node] = slot

    def release_node(self, node: int) -> None:
        """Node ``node`` leaves the plan for good: its slot loses a reference."""
        a = self.arrays
        old = int(a.node_location[node])
        if old >= 0:
            self.pool.release(old)
            a.node_location[node] = -1

    def place_of(self, node: int) -> int:
        """The place (stop index) of node ``node``."""
        return int(self.pool.place[self.arrays.node_location[node]])

    def slot_of(self, place: int) -> int:
        """The slot of ``place``, which some node must reference (the kernels' location)."""
        return self.pool.slot_of(place)

    # ------------------------------------------------------------------ queries
    def route(self, v: int) -> NDArray[np.int32]:
        """Route ``v``: its start node, the ride nodes in the order of visit, its end node."""
        return self.state.nodes[v, : self.state.length[v]]

    def stops(self, v: int) -> NDArray[np.int32]:
        """The planned stops (ride nodes) of vehicle ``v``, without its start and end."""
        return self.state.nodes[v, 1 : self.state.length[v] - 1]

    def num_stops(self, v: int) -> int:
        """How many stops vehicle ``v`` has planned."""
        return int(self.state.length[v]) - 2

    def stop_counts(self) -> NDArray[np.int32]:
        """Planned stops per vehicle."""
        return self.state.length - 2

    def next_stop(self, v: int) -> int:
        """The node vehicle ``v`` visits next, or -1 when it has no stop planned."""
        return int(self.state.nodes[v, 1]) if self.state.length[v] > 2 else -1

    def location(self, v: int) -> int:
        """The stop where vehicle ``v`` can next change course (its start node's place)."""
        return self.place_of(int(self.arrays.vehicle_start[v]))

    def available_at(self, v: int) -> float:
        """When vehicle ``v`` can next change course (``vehicle_early``)."""
        return float(self.arrays.vehicle_early[v])

    def move_start(self, v: int, location: int, time_s: float) -> None:
        """Vehicle ``v`` can next change course at stop ``location`` from ``time_s`` (not prepared)."""
        a = self.arrays
        self.set_place(int(a.vehicle_start[v]), location)
        a = self.arrays
        a.vehicle_early[v] = time_s
        a.tw_early[a.vehicle_start[v]] = time_s

    def load(self, v: int) -> NDArray[np.int64]:
        """The load on board vehicle ``v`` at its start node, per dimension."""
        return self.arrays.start_load[v]

    def shift_end(self, v: int) -> float:
        """Vehicle ``v``'s end of shift (its end node's window closes then)."""
        return float(self.arrays.tw_late[self.arrays.vehicle_end[v]])

    def on_shift(self, time_s: float) -> NDArray[np.bool_]:
        """Per vehicle, whether ``time_s`` lies in its shift (start and end included)."""
        return (self.shift_start <= time_s) & (self.arrays.tw_late[self.arrays.vehicle_end] >= time_s)

    def vehicle_on_shift(self, v: int, time_s: float) -> bool:
        """Whether ``time_s`` lies in vehicle ``v``'s shift (:meth:`on_shift` for one vehicle)."""
        return bool(self.shift_start[v] <= time_s <= self.shift_end(v))

    def reachable(self, location: int, demand: Sequence[int], t_req: float, latest: float) -> NDArray[np.int64]:
        """Vehicles with room for ``demand``, on shift at ``t_req``, able to reach stop ``location``
        by ``latest`` (:func:`reachable_vehicles`; some node must be at ``location``, e.g. a quote's
        pickup)."""
        slot = self.pool.slot_of(location)
        return reachable_vehicles(self.arrays, slot, np.asarray(demand, np.int64), t_req, latest)

    def columns(self, v: int) -> StopColumns:
        """Vehicle ``v``'s planned stops as columns (:class:`StopColumns`)."""
        a = self.arrays
        last = int(self.state.length[v]) - 1
        nodes = self.state.nodes[v, 1:last]
        pickup = a.kind[nodes] == PICKUP
        return StopColumns(
            nodes=nodes,
            is_pickup=pickup,
            location=self.pool.place[a.node_location[nodes]].astype(np.int32),
            service_start=self.state.service_start[v, 1:last],
            service=a.service[nodes],
            passengers=np.abs(a.demand[nodes]).sum(axis=1),
            tw_early=np.where(pickup, a.tw_early[nodes], 0.0),
        )

    def cost(self) -> float:
        """Total planned travel time of the routes (an idle vehicle's way home is not counted)."""
        total = 0.0
        tt = self.arrays.travel_time
        for v in range(self.num_vehicles):
            if self.state.length[v] <= 2:
                continue
            loc = self.arrays.node_location[self.route(v)]
            total += float(tt[loc[:-1], loc[1:]].sum())
        return total

    # ------------------------------------------------------------------ kernels
    def prepare(self, v: int) -> bool:
        """Compute route ``v``'s schedule; False if it is not time-feasible."""
        return bool(prepare_route(v, self.arrays, self.state, self._scratch.position))

    def prepare_many(self, vehicles: NDArray[np.int64]) -> NDArray[np.bool_]:
        """:meth:`prepare` every route of ``vehicles`` in one kernel call: which are time-feasible."""
        ok = np.zeros(vehicles.shape[0], np.bool_)
        prepare_routes(np.ascontiguousarray(vehicles, np.int64), self.arrays, self.state, self._scratch.position, ok)
        return ok

    def _scratch_for(self, m: int) -> InsertionScratch:
        """Insertion scratch for routes of ``m`` nodes (kept between quotes: a live dispatcher
        quotes thousands of times a second)."""
        sc = self._scratch
        if sc.bound.shape[0] < m * m:
            size = 2 * m * m
            sc = sc._replace(
                bound=np.empty(size), pickup_at=np.empty(size, np.int32), dropoff_at=np.empty(size, np.int32)
            )
        if sc.seq.shape[0] < m:
            sc = sc._replace(seq=np.empty(2 * m, np.int32), times=np.empty(2 * m))
        self._scratch = sc
        return sc

    def insertions(
        self, cands: NDArray[np.int64], p: int, d: int
    ) -> tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.int32]]:
        """Best insertion of pickup ``p`` and delivery ``d`` into the vehicles ``cands``: cost and
        positions per candidate; only the first cheapest is exact, the others may be ``inf``
        (:func:`routing.schedule.fleet_insertions` with ``first_best_only``)."""
        n = cands.shape[0]
        cost = np.full(n, np.inf)
        pos_i = np.full(n, -1, np.int32)
        pos_j = np.full(n, -1, np.int32)
        if n:
            m = int(self.state.length[cands].max()) + 2  # the longest candidate route with the new stops
            sc = self._scratch_for(m)
            fleet_insertions(cands, p, d, self.arrays, self.state, self.weights, sc, cost, pos_i, pos_j, True)
        return cost, pos_i, pos_j

    def schedule_with(self, v: int, p: int, d: int, i: int, j: int) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
        """Route ``v`` with ``p`` / ``d`` inserted before positions ``i`` / ``j``, and its schedule
        (empty if not time-feasible)."""
        m = int(self.state.length[v]) + 2
        seq = np.zeros(m, np.int32)
        b = np.zeros(m)
        cm = schedule_with_insertion(v, p, d, i, j, self.arrays, self.state, seq, b, self._scratch.position)
        return seq[:cm], b[:cm]

    def insert(self, v: int, p: int, d: int, i: int, j: int) -> None:
        """Insert ``p`` (or -1) / ``d`` before positions ``i`` / ``j`` of route ``v`` and prepare it."""
        self.ensure_room()
        insert_nodes(v, p, d, i, j, self.state.nodes, self.state.length)
        if not self.prepare(v):  # pragma: no cover - the kernel checked it
            raise RuntimeError(f"insertion into vehicle {v} produced an infeasible route")

    def remove(self, v: int, nodes: Sequence[int]) -> None:
        """Take ``nodes`` out of route ``v`` for good (their slots lose a reference) and prepare it."""
        mark = np.zeros(self.arrays.kind.shape[0], np.uint8)
        for node in nodes:
            mark[node] = 1
        remove_marked(v, self.state.nodes, self.state.length, mark)
        for node in nodes:
            self.release_node(int(node))
        self.prepare(v)

    def set_route(self, v: int, nodes: Sequence[int]) -> None:
        """Make route ``v`` its start node, ``nodes``, its end node (not prepared)."""
        self.ensure_room(len(nodes))
        seq = [int(self.arrays.vehicle_start[v]), *nodes, int(self.arrays.vehicle_end[v])]
        self.state.nodes[v, : len(seq)] = seq
        self.state.length[v] = len(seq)


__all__ = ["FleetPlan", "LocationPool", "RouteState", "StopColumns", "reachable_vehicles"]
