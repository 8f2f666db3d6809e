"""The engine's read models: what the callers and the streams see of the dispatcher's state.

Rides as records (:meth:`Views.ride_dict`), a vehicle's manifest for its driver and its status,
the fleet's live KPIs, and the events of the three topics (see :mod:`engine.streams`). Read on
the writer thread (or before it starts): the dispatcher is not locked.

**Where a vehicle is, and what it is doing** (:meth:`Views.vehicles_status`, for the operators'
map). The plan knows where vehicle ``v`` can next change course (its start: stop ``S`` from
``t0``) and, when it has stops planned, when it leaves ``S`` (``b0``, the start's planned service
start) and arrives at its first planned stop ``P1`` (``a1``; service from ``b1`` for ``s1``
seconds). At the clock ``c`` the vehicle is

* *driving* from ``S`` to ``P1`` while ``P1 != S`` and ``b0 <= c < a1``: its position is moved
  along the street path by the share ``(c - b0) / (a1 - b0)`` of the drive time
  (:class:`~engine.geometry.LegPaths`);
* *driving* on its last leg ``A -> S`` as the views noted it (:meth:`Views.note_changes`, after
  every commit) while ``c`` lies within that leg's times: the dispatcher commits a vehicle on its
  way to its next stop (it becomes the plan's start, from the planned arrival), so the leg it
  drives is remembered here (in memory only: after a restart a vehicle on its way shows at the
  stop it heads for);
* else *at* ``P1`` if the plan has it there already (``P1 != S``, ``c >= a1``: no one reported
  the arrival yet), else at ``S``.

Its state, in this order: ``off_shift`` when it is not on shift (the ``on_shift`` field false);
``dwelling`` when it is not driving and either the clock is before the time it can leave the
stop where it last boarded or dropped someone off, or its first planned stop is where it is
and the clock is before that stop's planned service ends (``b1 + s1``); ``with_riders`` when
riders are on board; ``to_pickup`` when it has stops planned; else ``idle``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from matching import DispatchEventKind, RejectReason, RideStatus, RideUpdateKind
from matching.dispatcher import Dispatcher, DispatchEvent, PlanColumns, Ride

from .geometry import LegPaths, MapPoints, route_path

#: The vehicle states of the views (VehicleState without its prefix, lower case).
OFF_SHIFT, DWELLING, WITH_RIDERS, TO_PICKUP, IDLE = "off_shift", "dwelling", "with_riders", "to_pickup", "idle"
#: The events after which a vehicle dwells at the stop where it served someone.
_SERVED = (DispatchEventKind.BOARDED, DispatchEventKind.COMPLETED)


def wait_percentiles(waits: Sequence[float]) -> tuple[float, float]:
    """The 50th and 90th percentiles of ``waits`` (numpy's linear interpolation; 0 without any)."""
    if not waits:
        return 0.0, 0.0
    p50, p90 = np.percentile(np.asarray(waits, np.float64), [50, 90])
    return float(p50), float(p90)


def reason_names(counts: Counter[str]) -> dict[str, int]:
    """Rejection counts by reason value (``no_vehicle_in_time``) as FleetStatus names them: the
    :class:`~matching.RejectReason` member's name, as the schema's ``REJECT_REASON_<NAME>``
    (``NO_VEHICLE_IN_TIME``; a value that is no member, upper-cased)."""
    known = {r.value: r.name for r in RejectReason}
    return {known.get(reason, reason.upper()): int(n) for reason, n in sorted(counts.items()) if n}


class ViewSource(Protocol):
    """What the views read: the engine core's dispatcher, clock, service day and count of rejections."""

    @property
    def dispatcher(self) -> Dispatcher: ...

    @property
    def clock_s(self) -> int: ...

    @property
    def day(self) -> dt.date | None: ...

    @property
    def requests_rejected(self) -> int: ...

    @property
    def rejected_by_reason(self) -> Counter[str]: ...


class Views:
    """The read models of ``source``'s state (see the module docstring)."""

    def __init__(self, source: ViewSource) -> None:
        self._source = source
        self._points: MapPoints | None = None
        self._legs: LegPaths | None = None
        # each vehicle's last leg A -> B as noted after a commit (see the module docstring)
        self._leg_from = np.zeros(0, np.int64)
        self._leg_to = np.zeros(0, np.int64)
        self._leg_depart = np.zeros(0, np.float64)
        self._leg_arrive = np.zeros(0, np.float64)
        self._served_until = np.zeros(0, np.float64)  # can leave the stop where it last served someone

    # ------------------------------------------------------------------ positions
    @property
    def points(self) -> MapPoints:
        """Positions of the road nodes and stops (built on first use)."""
        d = self.dispatcher
        if self._points is None:
            self._points = MapPoints.of(d.network, d.stops)
        return self._points

    @property
    def legs(self) -> LegPaths:
        """The street paths of legs between road nodes (a bounded cache, built on first use)."""
        if self._legs is None:
            self._legs = LegPaths(self.dispatcher.network, self.points)
        return self._legs

    def stop_point(self, stop: int) -> tuple[float, float] | None:
        """The position of stop ``stop`` (None for -1 or an index outside the stops)."""
        p = self.points
        if not 0 <= stop < p.stop_lat.size:
            return None
        return float(p.stop_lat[stop]), float(p.stop_lon[stop])

    def _tracker(self, k: int) -> None:
        if self._leg_from.size != k:
            self._leg_from = np.full(k, -1, np.int64)
            self._leg_to = np.full(k, -1, np.int64)
            self._leg_depart = np.zeros(k, np.float64)
            self._leg_arrive = np.zeros(k, np.float64)
            self._served_until = np.full(k, -np.inf, np.float64)

    def note_changes(self, vehicles: Iterable[int], events: Iterable[DispatchEvent]) -> None:
        """After the dispatcher changed ``vehicles`` (indices) with ``events``: note each changed
        vehicle's leg to its first planned stop, if that lies elsewhere, and when a vehicle that
        boarded or dropped someone off can leave (see the module docstring). Writer thread."""
        d = self.dispatcher
        plan = d.plan
        self._tracker(plan.num_vehicles)
        for ev in events:
            if ev.kind in _SERVED and ev.vehicle_id is not None:
                v = d.vehicle_index.get(ev.vehicle_id)
                if v is not None:
                    self._served_until[v] = plan.available_at(v)
                    self._leg_to[v] = -1  # it is at the stop
        vs = np.fromiter(vehicles, np.int64)
        if not vs.size:
            return
        a, st = plan.arrays, plan.state
        place = plan.pool.place
        start = place[a.node_location[a.vehicle_start[vs]]].astype(np.int64)
        first = place[a.node_location[st.nodes[vs, 1]]].astype(np.int64)
        # a leg to the stop a vehicle is committed to, still under way, stays noted: the plan's
        # next leg from there begins later (the plan itself says when)
        arrive = self._leg_arrive[vs]
        driving = (self._leg_to[vs] == start) & (arrive > self.clock_s) & (a.vehicle_early[vs] >= arrive - 1e-6)
        away = (st.length[vs] > 2) & (first != start) & ~driving
        vs = vs[away]
        self._leg_from[vs] = start[away]
        self._leg_to[vs] = first[away]
        self._leg_depart[vs] = st.service_start[vs, 0]
        self._leg_arrive[vs] = st.arrival[vs, 1]

    @property
    def dispatcher(self) -> Dispatcher:
        return self._source.dispatcher

    @property
    def clock_s(self) -> int:
        return self._source.clock_s

    @property
    def day(self) -> dt.date | None:
        return self._source.day

    @property
    def requests_rejected(self) -> int:
        return self._source.requests_rejected

    def ride_dict(self, ride: Ride) -> dict[str, Any]:
        """``ride`` as the callers and the ``ride:<id>`` topic see it."""
        o = ride.offer
        return {
            "ride_id": ride.ride_id,
            "status": ride.status.value,
            "vehicle_id": self.dispatcher.vehicles[ride.vehicle].id,
            "pickup_stop": o.pickup_stop,
            "dropoff_stop": o.dropoff_stop,
            "passengers": ride.request.passengers,
            "pickup_window_start_s": o.pickup_window_start_s,
            "pickup_window_end_s": o.pickup_window_end_s,
            "latest_dropoff_s": o.latest_dropoff_s,
            "planned_pickup_s": round(ride.planned_pickup_s),
            "planned_dropoff_s": round(ride.planned_dropoff_s),
            "picked_up_at_s": ride.picked_up_at_s or 0,
            "dropped_off_at_s": ride.dropped_off_at_s or 0,
            "fare_krw": o.fare_krw,
            "offer_id": o.offer_id,
            "rider_id": ride.request.rider_id or "",
            "pickup_point": self.stop_point(o.pickup_stop),
            "dropoff_point": self.stop_point(o.dropoff_stop),
            "requested_s": int(ride.request.requested_time_s),
        }

    def manifest(self, v: int, columns: PlanColumns | None = None) -> dict[str, list[Any]]:
        """Vehicle ``v``'s manifest for the driver (from ``columns``, its plan's columns, if given),
        as columns: ``ride_id``, ``kind`` ("pickup" / "dropoff"), ``stop``, ``planned_s``,
        ``service_s``, ``passengers`` and ``window_start_s`` (of a pickup; 0 for a drop-off), one
        entry per planned stop in order (see :func:`engine.converters.manifest`)."""
        cols = self.dispatcher.plan_columns(v) if columns is None else columns
        return {
            "ride_id": cols.ride_ids,
            "kind": cols.kinds,
            "stop": cols.stops,
            "planned_s": np.ceil(np.asarray(cols.planned_s) - 1e-9).astype(np.int64).tolist(),
            "service_s": cols.service_s,
            "passengers": cols.passengers,
            "window_start_s": cols.window_start_s,
            "window_end_s": self._window_end(v),
        }

    def _window_end(self, v: int) -> list[int]:
        """The promised ends of vehicle ``v``'s planned stops in order: a pickup's window end, a
        drop-off's latest time (rounded down; 0 where there is none)."""
        plan = self.dispatcher.plan
        late = plan.arrays.tw_late[plan.stops(v)]
        return np.where(np.isfinite(late), np.floor(np.minimum(late, 2**62) + 1e-9), 0).astype(np.int64).tolist()

    def vehicle_status(self, v: int) -> dict[str, Any]:
        """Vehicle ``v``'s status (StartShift, EndShift; see :meth:`vehicles_status`)."""
        return self.vehicles_status([v])[0]

    def vehicles_status(self, vehicles: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """The status of ``vehicles`` (indices; None: every vehicle), the VehicleStatus message's
        fields (ListVehicles): where each is and what it is doing at the clock (the module
        docstring has the rules), read for all of them at once from the plan's arrays; only the
        vehicles driving a leg cost a step each (their position along the leg's street path).
        ``state`` is a name (``idle``, ...), ``position`` and ``next_position`` are ``(lat, lon)``
        (``next_position`` None without a planned stop)."""
        return self._statuses(vehicles)[0]

    def _statuses(
        self, vehicles: Sequence[int] | None
    ) -> tuple[list[dict[str, Any]], np.ndarray, dict[int, tuple[int, float, float, int]]]:
        """:meth:`vehicles_status`, the stop each vehicle is at when not driving, and the legs of
        those driving (by row): ``(from node, depart_s, arrive_s, to node)``."""
        d = self.dispatcher
        plan = d.plan
        a, st = plan.arrays, plan.state
        k = plan.num_vehicles
        self._tracker(k)
        c = float(self.clock_s)
        vs = np.arange(k, dtype=np.int64) if vehicles is None else np.asarray(vehicles, np.int64)
        place = plan.pool.place
        start = place[a.node_location[a.vehicle_start[vs]]].astype(np.int64)
        t0 = a.vehicle_early[vs]
        planned = (st.length[vs] - 2).astype(np.int64)
        has = planned > 0
        first_node = st.nodes[vs, 1]
        first = np.where(has, place[a.node_location[first_node]], -1).astype(np.int64)
        b0 = st.service_start[vs, 0]
        a1 = st.arrival[vs, 1]
        end1 = st.service_start[vs, 1] + a.service[first_node]
        load = a.start_load[vs].sum(axis=1)
        on_shift = ~d.off_shift[vs] & plan.on_shift(c)[vs]
        # driving S -> P1 now, or the leg noted after the last commit that ends where it is committed to
        live = has & (first != start) & (b0 <= c) & (c < a1)
        noted = (
            ~live
            & (self._leg_to[vs] == start)
            & (self._leg_from[vs] >= 0)
            & (self._leg_depart[vs] <= c)
            & (c < self._leg_arrive[vs])
            & (t0 >= self._leg_arrive[vs] - 1e-6)
        )
        moving = live | noted
        at = np.where(has & (first != start) & (c >= a1), first, start)
        dwelling = ~moving & ((c < self._served_until[vs]) | (has & (first == at) & (c < end1)))
        code = np.where(~on_shift, 0, np.where(dwelling, 1, np.where(load > 0, 2, np.where(has, 3, 4))))
        p = self.points
        lat = p.stop_lat[at].copy()
        lon = p.stop_lon[at].copy()
        nodes = d.stops.node
        router = d.router
        driving: dict[int, tuple[int, float, float, int]] = {}
        for j in np.flatnonzero(moving).tolist():
            if live[j]:
                src, dst, t_from, t_to = start[j], first[j], b0[j], a1[j]
            else:
                v = vs[j]
                src, dst, t_from, t_to = self._leg_from[v], start[j], self._leg_depart[v], self._leg_arrive[v]
            driving[j] = (int(nodes[src]), float(t_from), float(t_to), int(nodes[dst]))
            leg = self.legs.leg(router, driving[j][0], driving[j][3])
            lat[j], lon[j] = leg.point_at((c - t_from) / (t_to - t_from) if t_to > t_from else 1.0)
        ahead = np.maximum(first, 0)
        arrival = np.where(has, np.ceil(np.where(has, a1, 0.0) - 1e-9), 0).astype(np.int64)
        names = (OFF_SHIFT, DWELLING, WITH_RIDERS, TO_PICKUP, IDLE)
        veh = d.vehicles
        rows = []
        for v, shift, on_board, stop, free_s, stops, kind, y, x, nxt, ny, nx, due in zip(
            vs.tolist(), on_shift.tolist(), load.tolist(), start.tolist(), t0.tolist(), planned.tolist(),
            code.tolist(), lat.tolist(), lon.tolist(), first.tolist(), p.stop_lat[ahead].tolist(),
            p.stop_lon[ahead].tolist(), arrival.tolist(), strict=True,
        ):  # fmt: skip
            spec = veh[v]
            rows.append({
                "vehicle_id": spec.id,
                "on_shift": shift,
                "seats": spec.seats,
                "wheelchair_places": spec.wheelchair_places,
                "on_board": on_board,
                "stop": stop,
                "available_s": int(free_s),
                "planned_stops": stops,
                "shift_end_s": spec.shift_end_s,
                "state": names[kind],
                "position": (y, x),
                "next_stop": nxt,
                "next_position": (ny, nx) if nxt >= 0 else None,
                "next_arrival_s": due,
            })  # fmt: skip
        return rows, at, driving

    def vehicle_route(self, v: int) -> dict[str, Any]:
        """Vehicle ``v``'s planned route (GetVehicleRoute): its manifest (``stops``), its status,
        ``stop_points`` (each planned stop's position), and ``path``: from its position along the
        streets through every planned stop, with ``stop_path_index`` (where each stop is reached:
        the path passes exactly through each stop's point)."""
        d = self.dispatcher
        (status,), at, driving = self._statuses([v])
        here = driving.get(0, int(d.stops.node[at[0]]))  # where its path begins
        stops = self.manifest(v)
        points = [self.stop_point(s) or status["position"] for s in stops["stop"]]
        nodes = [int(d.stops.node[s]) for s in stops["stop"]]
        return {
            "status": status,
            "stops": stops,
            **route_path(self.legs, d.router, status["position"], here, nodes, points, float(self.clock_s)),
        }

    def fleet_status(self, d: Dispatcher) -> dict[str, Any]:
        """The fleet's live KPIs (FleetStatus), in one pass over the rides: ``wait_p50_s`` and
        ``wait_p90_s`` over the rides picked up (on board or completed: the pickup time less the
        requested time); ``vehicles_busy``: on shift with riders on board or stops planned;
        ``occupancy``: the places taken on the vehicles on shift (riders, wheelchairs included)
        over their places."""
        counts = {s: 0 for s in RideStatus}
        waits = []
        picked = []
        for ride in d.rides.values():
            counts[ride.status] += 1
            if ride.picked_up_at_s is not None and ride.status in (RideStatus.ON_BOARD, RideStatus.COMPLETED):
                wait = ride.picked_up_at_s - ride.request.requested_time_s
                picked.append(wait)
                if ride.status == RideStatus.COMPLETED:
                    waits.append(wait)
        plan = d.plan
        shift = plan.on_shift(self.clock_s) & ~d.off_shift
        on_shift = int(shift.sum())
        load = plan.arrays.start_load.sum(axis=1)
        busy = shift & ((load > 0) | (plan.stop_counts() > 0))
        places = int(plan.arrays.capacity[shift].sum())
        p50, p90 = wait_percentiles(picked)
        return {
            "clock_s": self.clock_s,
            "service_day": self.day.isoformat() if self.day is not None else "",
            "rides_expired": counts[RideStatus.EXPIRED],
            "vehicles": plan.num_vehicles,
            "vehicles_on_shift": on_shift,
            "rides_assigned": counts[RideStatus.ASSIGNED],
            "rides_on_board": counts[RideStatus.ON_BOARD],
            "rides_completed": counts[RideStatus.COMPLETED],
            "rides_cancelled": counts[RideStatus.CANCELLED],
            "rides_no_show": counts[RideStatus.NO_SHOW],
            "requests_rejected": self.requests_rejected,
            "riders_on_board": int(plan.arrays.start_load.sum()),
            "mean_wait_s": float(np.mean(waits)) if waits else 0.0,
            "planned_vehicle_time_s": float(plan.cost()),
            "wait_p50_s": p50,
            "wait_p90_s": p90,
            "rejected_by_reason": reason_names(self._source.rejected_by_reason),
            "vehicles_busy": int(busy.sum()),
            "occupancy": float(load[shift].sum() / places) if places else 0.0,
        }

    def ride_event(self, ride: Ride, kind: str, time_s: int | None = None) -> tuple[str, dict[str, Any]]:
        """An event of the topic ``ride:<id>``: the ride as it is now (at ``time_s``, default the clock)."""
        at = self.clock_s if time_s is None else time_s
        return f"ride:{ride.ride_id}", {"kind": kind, "time_s": at, "ride": self.ride_dict(ride)}

    def manifest_event(
        self, v: int, columns: PlanColumns | None = None, time_s: int | None = None
    ) -> tuple[str, dict[str, Any]]:
        """An event of the topic ``vehicle:<id>``: vehicle ``v``'s manifest now (see :meth:`manifest`;
        at ``time_s``, default the clock)."""
        stops = self.manifest(v, columns)
        at = self.clock_s if time_s is None else time_s
        return f"vehicle:{self.dispatcher.vehicles[v].id}", {"kind": "manifest", "time_s": at, "stops": stops}

    @staticmethod
    def event_payload(
        kind: str, time_s: int, ride_id: str | None = None, vehicle_id: str | None = None, detail: str = ""
    ) -> dict[str, Any]:
        """An event of the ``assignments`` topic."""
        return {
            "kind": kind,
            "time_s": time_s,
            "ride_id": ride_id or "",
            "vehicle_id": vehicle_id or "",
            "detail": detail,
        }

    @staticmethod
    def ride_kind(before: tuple[Any, ...] | None, after: tuple[Any, ...]) -> RideUpdateKind:
        """The kind of a ride's event, from its :meth:`ride_state` last published and now."""
        status = after[0]
        if before is None or before[0] != status:
            return {
                RideStatus.ASSIGNED: RideUpdateKind.ASSIGNED,
                RideStatus.ON_BOARD: RideUpdateKind.ON_BOARD,
                RideStatus.COMPLETED: RideUpdateKind.COMPLETED,
                RideStatus.CANCELLED: RideUpdateKind.CANCELLED,
                RideStatus.NO_SHOW: RideUpdateKind.NO_SHOW,
                RideStatus.EXPIRED: RideUpdateKind.EXPIRED,
            }.get(status, RideUpdateKind.STATE)
        if before[1] != after[1]:
            return RideUpdateKind.REASSIGNED
        return RideUpdateKind.ETA

    @staticmethod
    def ride_state(ride: Ride) -> tuple[Any, ...]:
        """What a ride's stream follows: its status, vehicle and planned times (rounded)."""
        return (ride.status, ride.vehicle, round(ride.planned_pickup_s), round(ride.planned_dropoff_s))
