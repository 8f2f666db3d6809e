"""The engine's read models: what the callers and the streams see of the dispatcher's state.

Rides as records (:meth:`Views.ride_dict`), a vehicle's manifest for its driver and its status,
the fleet's live KPIs, and the events of the three topics (see :mod:`engine.streams`). Read on
the writer thread (or before it starts): the dispatcher is not locked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import numpy as np

from matching import RideStatus, RideUpdateKind
from matching.dispatcher import Dispatcher, PlanColumns, Ride


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


class Views:
    """The read models of ``source``'s state (see the module docstring)."""

    def __init__(self, source: ViewSource) -> None:
        self._source = source

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
        }

    def vehicle_status(self, v: int) -> dict[str, Any]:
        """Vehicle ``v``'s status (ListVehicles, StartShift, EndShift)."""
        d = self.dispatcher
        plan = d.plan
        veh = d.vehicles[v]
        return {
            "vehicle_id": veh.id,
            "on_shift": bool(not d.off_shift[v] and plan.vehicle_on_shift(v, self.clock_s)),
            "seats": veh.seats,
            "wheelchair_places": veh.wheelchair_places,
            "on_board": int(plan.load(v).sum()),
            "stop": plan.location(v),
            "available_s": int(plan.available_at(v)),
            "planned_stops": plan.num_stops(v),
            "shift_end_s": veh.shift_end_s,
        }

    def fleet_status(self, d: Dispatcher) -> dict[str, Any]:
        """The fleet's live KPIs (FleetStatus)."""
        counts = {s: 0 for s in RideStatus}
        waits = []
        for ride in d.rides.values():
            counts[ride.status] += 1
            if ride.status == RideStatus.COMPLETED and ride.picked_up_at_s is not None:
                waits.append(ride.picked_up_at_s - ride.request.requested_time_s)
        plan = d.plan
        on_shift = int((plan.on_shift(self.clock_s) & ~d.off_shift).sum())
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
