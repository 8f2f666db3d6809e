"""Pickup-and-delivery problems as immutable arrays: the common input of the offline solvers.

One :class:`PDProblem` describes the dial-a-ride problem (DARP, Cordeau 2006), the pickup
and delivery problem with time windows (PDPTW, Li & Lim) and the re-optimisation problem
the live dispatcher builds from its current plan. Conventions:

* **Nodes** ``0 .. num_nodes - 1`` are places a vehicle visits. Each has a kind
  (:data:`START`, :data:`END`, :data:`PICKUP`, :data:`DELIVERY`), a time window on the start
  of service ``[tw_early, tw_late]``, a service duration and a load change per capacity
  dimension (``demand[node, dim]``: positive at a pickup, negative at a delivery, zero at
  depots).
* **Requests** ``0 .. num_requests - 1`` pair a pickup node with a delivery node. A request
  whose rider is already on board has ``pickup == -1``: only its delivery is left, and it
  must stay on its vehicle (``request_vehicle``). ``max_ride`` bounds the time from the end
  of service at the pickup to the start of service at the delivery (``inf`` when unbounded).
  ``request_vehicle[r] >= 0`` pins a request to a vehicle.
* **Vehicles** ``0 .. num_vehicles - 1`` leave their ``vehicle_start`` node and, unless
  ``vehicle_end`` is -1 (open route), finish at their ``vehicle_end`` node. A vehicle may
  not be used (an empty route costs nothing). ``max_duration`` bounds the time between
  service start at the start node and at the end node; ``start_load`` is the load already
  on board (the onboard riders' demand).
* **Matrices** ``travel_time[a, b]`` and ``travel_cost[a, b]`` between *locations*; node
  ``i`` is at location ``node_location[i]`` (by default location ``i``: one location per
  node, as in benchmark instances; the live dispatcher maps many nodes onto its stops).
  The objective is total travel cost, or, with ``objective == "vehicles"``, the number
  of vehicles used first and then total travel cost.

Times and costs are float64 here because benchmark instances use Euclidean distances; the
live engine passes integer seconds, which float64 holds exactly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError

START = 0
END = 1
PICKUP = 2
DELIVERY = 3

#: Objectives understood by the solvers.
OBJECTIVES = ("cost", "vehicles")


@dataclass(frozen=True, eq=False)
class PDProblem:
    """An immutable pickup-and-delivery problem (see the module docstring).

    Build one with :meth:`create`, which checks every array; variants with
    :meth:`replace`.
    """

    name: str
    kind: NDArray[np.int8]
    tw_early: NDArray[np.float64]
    tw_late: NDArray[np.float64]
    service: NDArray[np.float64]
    demand: NDArray[np.int64]  # [num_nodes, num_dims]
    pickup: NDArray[np.int32]
    delivery: NDArray[np.int32]
    max_ride: NDArray[np.float64]
    request_vehicle: NDArray[np.int32]
    vehicle_start: NDArray[np.int32]
    vehicle_end: NDArray[np.int32]
    capacity: NDArray[np.int64]  # [num_vehicles, num_dims]
    start_load: NDArray[np.int64]  # [num_vehicles, num_dims]
    max_duration: NDArray[np.float64]
    travel_time: NDArray[np.float64]
    travel_cost: NDArray[np.float64]
    node_location: NDArray[np.int32]
    objective: str = "cost"
    #: Instance facts that are not part of the model: source file, best-known values, ...
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ sizes
    @property
    def num_nodes(self) -> int:
        return int(self.kind.shape[0])

    @property
    def num_requests(self) -> int:
        return int(self.delivery.shape[0])

    @property
    def num_vehicles(self) -> int:
        return int(self.vehicle_start.shape[0])

    @property
    def num_dims(self) -> int:
        return int(self.demand.shape[1])

    def replace(self, **changes: Any) -> PDProblem:
        """A copy with some fields changed, checked again."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(changes)
        return PDProblem.create(**fields)

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        *,
        name: str,
        kind: Any,
        tw_early: Any,
        tw_late: Any,
        service: Any,
        demand: Any,
        pickup: Any,
        delivery: Any,
        vehicle_start: Any,
        vehicle_end: Any,
        capacity: Any,
        travel_time: Any,
        travel_cost: Any | None = None,
        max_ride: Any | None = None,
        request_vehicle: Any | None = None,
        start_load: Any | None = None,
        max_duration: Any | None = None,
        node_location: Any | None = None,
        objective: str = "cost",
        meta: dict[str, Any] | None = None,
    ) -> PDProblem:
        """Check and convert every array; raises :class:`InvalidArgumentError` naming the field."""
        kind_a = np.ascontiguousarray(kind, np.int8)
        n = kind_a.shape[0]
        if kind_a.ndim != 1 or n == 0:
            raise InvalidArgumentError("kind", "expected a non-empty 1-D array")
        if not np.isin(kind_a, (START, END, PICKUP, DELIVERY)).all():
            raise InvalidArgumentError("kind", "unknown node kind", "START=0, END=1, PICKUP=2, DELIVERY=3")

        def node_vec(values: Any, name_: str) -> NDArray[np.float64]:
            arr = np.ascontiguousarray(values, np.float64)
            if arr.shape != (n,):
                raise InvalidArgumentError(name_, f"expected {n} values (one per node), got shape {arr.shape}")
            if np.isnan(arr).any():
                raise InvalidArgumentError(name_, "NaN value", "numbers (inf allowed for open bounds)")
            return arr

        early = node_vec(tw_early, "tw_early")
        late = node_vec(tw_late, "tw_late")
        serv = node_vec(service, "service")
        if (late < early).any():
            bad = int(np.flatnonzero(late < early)[0])
            raise InvalidArgumentError("tw_late", f"node {bad} closes ({late[bad]}) before it opens ({early[bad]})")
        if (serv < 0).any() or not np.isfinite(serv).all():
            raise InvalidArgumentError("service", "service durations must be finite and >= 0", ">= 0")
        dem = np.asarray(demand, np.int64)
        if dem.ndim == 1:
            dem = dem[:, None]
        dem = np.ascontiguousarray(dem)
        if dem.shape[0] != n or dem.ndim != 2 or dem.shape[1] < 1:
            raise InvalidArgumentError("demand", f"expected shape ({n}, dims), got {dem.shape}")
        dims = dem.shape[1]

        pick = np.ascontiguousarray(pickup, np.int32)
        deli = np.ascontiguousarray(delivery, np.int32)
        r = deli.shape[0]
        if pick.shape != (r,):
            raise InvalidArgumentError("pickup", f"expected {r} values (one per request), got shape {pick.shape}")
        if r and ((deli < 0).any() or (deli >= n).any()):
            raise InvalidArgumentError("delivery", "node id out of range", f"0 .. {n - 1}")
        if r and ((pick < -1).any() or (pick >= n).any()):
            raise InvalidArgumentError("pickup", "node id out of range", f"-1 (on board) or 0 .. {n - 1}")
        if r and (kind_a[deli] != DELIVERY).any():
            raise InvalidArgumentError("delivery", "every delivery node must have kind DELIVERY")
        has_pick = pick >= 0
        if r and (kind_a[pick[has_pick]] != PICKUP).any():
            raise InvalidArgumentError("pickup", "every pickup node must have kind PICKUP")
        used = np.concatenate([pick[has_pick], deli])
        if np.unique(used).size != used.size:
            raise InvalidArgumentError("pickup/delivery", "a node belongs to two requests")
        if r and (dem[pick[has_pick]] < 0).any():
            raise InvalidArgumentError("demand", "a pickup must not have a negative load change")
        if r and (dem[deli] > 0).any():
            raise InvalidArgumentError("demand", "a delivery must not have a positive load change")
        if r and (dem[pick[has_pick]] != -dem[deli[has_pick]]).any():
            raise InvalidArgumentError("demand", "a delivery must unload exactly what its pickup loaded")
        ride = np.full(r, np.inf) if max_ride is None else np.ascontiguousarray(max_ride, np.float64)
        if ride.shape != (r,) or np.isnan(ride).any() or (ride < 0).any():
            raise InvalidArgumentError("max_ride", f"expected {r} values >= 0 (inf for none)")
        req_veh = (
            np.full(r, -1, np.int32) if request_vehicle is None else np.ascontiguousarray(request_vehicle, np.int32)
        )

        vstart = np.ascontiguousarray(vehicle_start, np.int32)
        k = vstart.shape[0]
        if vstart.ndim != 1 or k == 0:
            raise InvalidArgumentError("vehicle_start", "expected at least one vehicle")
        vend = np.ascontiguousarray(vehicle_end, np.int32)
        if vend.shape != (k,):
            raise InvalidArgumentError("vehicle_end", f"expected {k} values (one per vehicle)")
        if (vstart < 0).any() or (vstart >= n).any() or (kind_a[vstart] != START).any():
            raise InvalidArgumentError("vehicle_start", "must be nodes of kind START", f"0 .. {n - 1}")
        if ((vend < -1) | (vend >= n)).any() or (kind_a[vend[vend >= 0]] != END).any():
            raise InvalidArgumentError("vehicle_end", "must be -1 (open route) or nodes of kind END")
        if req_veh.shape != (r,) or ((req_veh < -1) | (req_veh >= k)).any():
            raise InvalidArgumentError("request_vehicle", f"expected {r} values in -1 .. {k - 1}")
        if r and (req_veh[~has_pick] < 0).any():
            raise InvalidArgumentError("request_vehicle", "a request already on board (pickup -1) needs its vehicle")

        def veh_dims(values: Any, name_: str, default: int) -> NDArray[np.int64]:
            """A scalar (every vehicle and dimension), one value per vehicle (one dimension only) or (k, dims)."""
            if values is None:
                return np.full((k, dims), default, np.int64)
            arr = np.asarray(values, np.int64)
            if arr.ndim == 0:
                arr = np.full((k, dims), int(arr), np.int64)
            elif arr.ndim == 1:
                if dims != 1 or arr.shape[0] != k:
                    raise InvalidArgumentError(
                        name_,
                        f"a 1-D value needs one entry per vehicle and a single load dimension; give shape "
                        f"({k}, {dims})",
                    )
                arr = arr[:, None]
            arr = np.ascontiguousarray(arr)
            if arr.shape != (k, dims) or (arr < 0).any():
                raise InvalidArgumentError(name_, f"expected shape ({k}, {dims}) of values >= 0, got {arr.shape}")
            return arr

        cap = veh_dims(capacity, "capacity", 0)
        load0 = veh_dims(start_load, "start_load", 0)
        if (load0 > cap).any():
            raise InvalidArgumentError("start_load", "more on board than the vehicle's capacity")
        dur = np.full(k, np.inf) if max_duration is None else np.ascontiguousarray(max_duration, np.float64)
        if dur.shape != (k,) or np.isnan(dur).any() or (dur < 0).any():
            raise InvalidArgumentError("max_duration", f"expected {k} values >= 0 (inf for none)")

        if node_location is None:
            loc = np.arange(n, dtype=np.int32)
            num_loc = n
        else:
            loc = np.ascontiguousarray(node_location, np.int32)
            num_loc = int(np.shape(travel_time)[0]) if np.ndim(travel_time) == 2 else 0
            if loc.shape != (n,) or (loc < 0).any() or (loc >= num_loc).any():
                raise InvalidArgumentError("node_location", f"expected {n} location ids", f"0 .. {num_loc - 1}")

        def matrix(values: Any, name_: str) -> NDArray[np.float64]:
            arr = np.ascontiguousarray(values, np.float64)
            if arr.shape != (num_loc, num_loc):
                raise InvalidArgumentError(
                    name_, f"expected a {num_loc} x {num_loc} matrix (one row per location), got shape {arr.shape}"
                )
            if not np.isfinite(arr).all() or (arr < 0).any():
                raise InvalidArgumentError(name_, "entries must be finite and >= 0")
            return arr

        ttime = matrix(travel_time, "travel_time")
        tcost = ttime if travel_cost is None else matrix(travel_cost, "travel_cost")
        if objective not in OBJECTIVES:
            raise InvalidArgumentError("objective", f"unknown objective {objective!r}", ", ".join(OBJECTIVES))
        return cls(
            name=name,
            kind=kind_a,
            tw_early=early,
            tw_late=late,
            service=serv,
            demand=dem,
            pickup=pick,
            delivery=deli,
            max_ride=ride,
            request_vehicle=req_veh,
            vehicle_start=vstart,
            vehicle_end=vend,
            capacity=cap,
            start_load=load0,
            max_duration=dur,
            travel_time=ttime,
            travel_cost=tcost,
            node_location=loc,
            objective=objective,
            meta=dict(meta or {}),
        )

    # ------------------------------------------------------------------ helpers
    def request_of_node(self) -> NDArray[np.int32]:
        """For every node, the request it belongs to (-1 for depots)."""
        out = np.full(self.num_nodes, -1, np.int32)
        has = self.pickup >= 0
        out[self.pickup[has]] = np.flatnonzero(has)
        out[self.delivery] = np.arange(self.num_requests)
        return out
