"""The shared taxi's simulated day (I-MOA): door-to-door rides matched in batches.

:class:`TaxiSimulation` drives a :class:`~matching.pooling.dispatcher.SharedTaxiDispatcher`
through a day of :class:`~matching.pooling.model.TaxiRequest` objects and moves its taxis
along shortest paths, edge by edge in time. Events, in time order (ties: the batch first, then
taxis, then cancellations, then riders, so that a batch sees everything before its second, as
the live engine's batches do on an external clock (:mod:`engine.taxi`); then by creation order,
so that a seed always gives the same day):

* a taxi reaches the end of its leg (``ARRIVE``) or finishes a stop (``READY``): it serves
  the stops of its plan at that node (``boarded`` / ``alighted``, each standing ``dwell_s``),
  then drives to the next stop of its plan; with none left it waits where it is;
* a rider cancels (``CANCEL``, optional);
* a rider asks (``REQUEST``): the dispatcher books the request (``submit``); with
  ``batch=False`` it is assigned at once, and that taxi turns toward its new first stop;
* every ``batch_s`` seconds (``BATCH``): every moving taxi is located (``locate``: the next
  node on its path and when it gets there), the dispatcher matches (``run_batch``) and, when
  ``params.rebalance`` is on and the batch had something to decide, sends idle taxis toward
  demand (``rebalance``, right after the batch, as the engine does; a rebalancing taxi stays
  re-plannable by the next batch); then every taxi whose first stop changed turns at its
  next node and the sent ones head off. With ``batch=False`` the tick only locates and
  rebalances (the immediate-insertion baseline never re-plans).

The loop talks to the service through a :class:`TaxiBackend`: the dispatcher in this process
(:class:`LocalTaxiBackend`, what a :class:`~matching.pooling.dispatcher.SharedTaxiDispatcher`
given to :class:`TaxiSimulation` is wrapped in) or a live engine over gRPC
(:class:`sim.taxi_remote.RemoteTaxiBackend`); the same loop gives the same day with either.

Nothing steps per second and nothing steps per node: a leg (a shortest path from
:meth:`routing.Router.path`) is expanded once into the times the taxi reaches each of its
nodes, and the taxis' positions are advanced by :func:`advance_positions`, a Numba kernel
over the legs of the whole fleet held in two ``[vehicles, nodes]`` arrays. It exists because
the baseline must locate the fleet before each of a day's 200,000 requests: a Python loop
over 2,000 taxis per request is minutes, the kernel milliseconds; it returns only the taxis
whose next node changed, so that only those are told again.

The loop itself is deterministic: the same requests, fleet and dispatcher give the same day.
The dispatcher's wall-clock budgets (``trip_time_budget_s``, ``batch_deadline_s``) are not:
a search they cut short (under load, or in a process's first batch, which also compiles the
kernels) may decide otherwise, so a day is repeatable when no budget binds.

The day's record (:class:`TaxiSimOutput`) keeps each ride's times as the simulator saw them,
every drive (one leg, or the part of it driven before a turn: where, when, how far, how many
passengers, and why: ``occupied``, ``empty`` to a pickup, or ``rebalance``) and every stop
served; :mod:`sim.taxi_kpi` turns it into KPIs and checks it independently.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from matching import StopKind
from matching.deployment import load_roads
from matching.pooling.dispatcher import SharedTaxiDispatcher
from matching.pooling.ledger import PoolingLedger
from matching.pooling.model import BatchReport, PlannedTaxiStop, TaxiRequest, TaxiRideStatus, TaxiSpec
from matching.pooling.params import PoolingParams
from routing import HierarchyTimes, RoadNetwork, Router, TravelTimes
from routing.config import kernel

from .demand import TaxiDemand, read_start_nodes, taxi_demand_from_reqs, taxi_demand_on_network, taxi_start_nodes
from .scenario import TaxiScenario

log = logging.getLogger(__name__)

# Event kinds, in the order they run when they share a second.
BATCH, ARRIVE, READY, CANCEL, REQUEST = range(5)

#: Why a taxi drove a leg (the ``kind`` of a drive).
OCCUPIED, EMPTY, REBALANCE = 0, 1, 2
DRIVE_KINDS = ("occupied", "empty", "rebalance")

# States of a taxi in the loop.
_IDLE, _DRIVING, _SERVING = 0, 1, 2


@kernel
def advance_positions(
    now_s: int,
    leg_time: NDArray[np.int64],
    leg_len: NDArray[np.int64],
    leg_pos: NDArray[np.int64],
    moving: NDArray[np.bool_],
    changed: NDArray[np.int64],
) -> int:
    """Move every moving taxi's position on its leg to ``now_s``; return how many changed.

    Taxi ``v``'s leg is ``leg_len[v]`` nodes reached at the non-decreasing times
    ``leg_time[v, :leg_len[v]]``; ``leg_pos[v]`` is the index of its next node: the first
    one reached at or after ``now_s`` (the leg's last node at the latest). The taxis whose
    ``leg_pos`` moved are written to ``changed[:count]`` (ascending).
    """
    count = 0
    for v in range(leg_len.shape[0]):
        if not moving[v]:
            continue
        p = leg_pos[v]
        last = leg_len[v] - 1
        while p < last and leg_time[v, p] < now_s:
            p += 1
        if p != leg_pos[v]:
            leg_pos[v] = p
            changed[count] = v
            count += 1
    return count


def taxi_requests(demand: TaxiDemand) -> list[TaxiRequest]:
    """The dispatcher's requests for the rows of ``demand`` (in its order)."""
    return [
        TaxiRequest(
            id=rid,
            origin=int(o),
            destination=int(d),
            request_time_s=int(t),
            passengers=int(p),
            share=bool(s),
        )
        for rid, o, d, t, p, s in zip(
            demand.ids,
            demand.origin.tolist(),
            demand.destination.tolist(),
            demand.request_time_s.tolist(),
            demand.passengers.tolist(),
            demand.share.tolist(),
            strict=True,
        )
    ]


class RideOutcome(NamedTuple):
    """How a ride ended, as the service saw it (for the day's record)."""

    status: str  # a TaxiRideStatus value
    reason: str | None  # why it was rejected or cancelled (the dispatcher's word)
    shared: bool
    fare_krw: int | None
    direct_s: int


@runtime_checkable
class TaxiBackend(Protocol):
    """What the taxi day's loop needs from the service (see the module docstring)."""

    params: PoolingParams
    batch: bool
    #: Fares and pooling KPIs; the loop books every drive and each taxi's time on duty there.
    ledger: PoolingLedger

    def start(self, fleet: Sequence[TaxiSpec], start_s: int) -> None:
        """The day starts at ``start_s`` with the taxis of ``fleet`` at their nodes."""
        ...

    def submit(self, request: TaxiRequest, now_s: int) -> str | None:
        """Book ``request`` at ``now_s``; the taxi it was given at once (``batch=False``), else None."""
        ...

    def ride_state(self, ride_id: str) -> tuple[TaxiRideStatus, str | None] | None:
        """The ride's status and taxi (None: no such ride)."""
        ...

    def cancel(self, ride_id: str, now_s: int) -> None: ...

    def locate(self, vehicle_id: str, node: int, time_s: int) -> None: ...

    def next_stops(self, vehicle_id: str) -> list[PlannedTaxiStop]: ...

    def boarded(self, ride_id: str, time_s: int) -> None: ...

    def alighted(self, ride_id: str, time_s: int) -> None: ...

    def tick(self, now_s: int) -> tuple[BatchReport | None, list[tuple[str, int]]]:
        """The batch of ``now_s`` (None: none ran) and the idle taxis sent toward demand after it."""
        ...

    def waiting(self) -> bool:
        """Requests wait for a match."""
        ...

    def outcome(self, ride_id: str) -> RideOutcome | None:
        """How the ride ended (None: no such ride)."""
        ...


class LocalTaxiBackend:
    """The :class:`~matching.pooling.dispatcher.SharedTaxiDispatcher` in this process."""

    def __init__(self, dispatcher: SharedTaxiDispatcher) -> None:
        self.d = dispatcher
        self.params = dispatcher.params
        self.batch = dispatcher.batch
        self.ledger = dispatcher.ledger

    def start(self, fleet: Sequence[TaxiSpec], start_s: int) -> None:
        if len(fleet) != len(self.d.taxis):
            raise ValueError(f"fleet has {len(fleet)} taxis, the dispatcher {len(self.d.taxis)}")

    def submit(self, request: TaxiRequest, now_s: int) -> str | None:
        return self.d.submit(request, now_s).vehicle_id

    def ride_state(self, ride_id: str) -> tuple[TaxiRideStatus, str | None] | None:
        ride = self.d.rides.get(ride_id)
        return None if ride is None else (ride.status, ride.vehicle_id)

    def cancel(self, ride_id: str, now_s: int) -> None:
        self.d.cancel(ride_id, now_s)

    def locate(self, vehicle_id: str, node: int, time_s: int) -> None:
        self.d.locate(vehicle_id, node, time_s)

    def next_stops(self, vehicle_id: str) -> list[PlannedTaxiStop]:
        return self.d.next_stops(vehicle_id)

    def boarded(self, ride_id: str, time_s: int) -> None:
        self.d.boarded(ride_id, time_s)

    def alighted(self, ride_id: str, time_s: int) -> None:
        self.d.alighted(ride_id, time_s)

    def tick(self, now_s: int) -> tuple[BatchReport | None, list[tuple[str, int]]]:
        """A batch with nothing to decide (status ``"empty"``) sends no taxi toward demand: the
        engine skips such batches altogether."""
        report = self.d.run_batch(now_s) if self.batch else None
        if report is not None and report.status == "empty":
            return report, []
        return report, self.d.rebalance(now_s)

    def waiting(self) -> bool:
        return bool(self.d.open_rides)

    def outcome(self, ride_id: str) -> RideOutcome | None:
        ride = self.d.rides.get(ride_id)
        if ride is None:
            return None
        return RideOutcome(ride.status.value, ride.reason, ride.shared, ride.fare_krw, ride.direct_s)


class _Columns:
    """Rows appended as typed columns (8 bytes per value), read back as NumPy arrays."""

    def __init__(self, *names: str) -> None:
        self.cols = {name: array("q") for name in names}

    def add(self, *values: int) -> None:
        for col, value in zip(self.cols.values(), values, strict=True):
            col.append(value)

    def arrays(self) -> dict[str, NDArray[np.int64]]:
        return {name: np.frombuffer(col, np.int64).copy() if len(col) else np.zeros(0, np.int64)
                for name, col in self.cols.items()}  # fmt: skip


#: Columns of the drives; ``seq`` numbers the drives and stops together in the order they were recorded.
DRIVE_COLUMNS = (
    "vehicle", "depart_s", "arrive_s", "from_node", "to_node", "length_m", "onboard", "parties", "kind", "seq"
)  # fmt: skip
#: Columns of the stops served (``pickup`` 1 for a pickup, 0 for a drop-off).
STOP_COLUMNS = ("vehicle", "node", "time_s", "request", "pickup", "onboard_after", "seq")


@dataclass
class TaxiSimOutput:
    """Everything one simulated shared-taxi day produced (input to :mod:`sim.taxi_kpi`).

    Request rows follow ``requests`` (index ``i``); vehicle indices follow ``vehicle_ids``.
    Times are seconds on the service clock, -1 where something did not happen.

    * ``status`` / ``reason``: the ride's final :class:`~matching.pooling.model.TaxiRideStatus`
      value and the dispatcher's reason for a rejection or cancellation;
    * ``pickup_s`` / ``dropoff_s`` / ``vehicle``: when and by which taxi the simulator saw the
      rider board and alight; ``direct_s``: the direct drive; ``shared`` and ``fare_krw``: the
      dispatcher's;
    * ``drives``: columns :data:`DRIVE_COLUMNS` (``kind`` indexes :data:`DRIVE_KINDS`,
      ``onboard`` counts passengers); ``drive_nodes``: each drive's road nodes when the run
      recorded paths, else None;
    * ``stops``: columns :data:`STOP_COLUMNS`, one row per pickup (``pickup`` 1) or drop-off served;
    * ``batches``: the dispatcher's :class:`~matching.pooling.model.BatchReport` of each batch;
    * ``ledger``: the dispatcher's :class:`~matching.pooling.ledger.PoolingLedger` KPIs; the
      simulation books every drive there (``vehicle_moved``) and each taxi's time on shift
      within the simulated period (``vehicle_on_duty``);
    * ``network`` and ``start_nodes`` (each taxi's): for the checks of :mod:`sim.taxi_kpi`;
      ``shifts_s``: each taxi's ``[shift_start_s, shift_end_s]`` (None when not known);
      ``cancelled_s``: when each ride was cancelled, ``assigned_s``: when it first showed in a
      taxi's plan, ``rejected_s``: when it was turned away (-1 where that did not happen; None
      when not known);
    * ``meta``: ``paths`` (shortest paths computed) and ``turns`` (drives cut short at the
      next node because the taxi's destination changed); ``submit_s``: the wall-clock seconds
      of each ``submit`` call, in submission order (with ``batch=False`` the insertion's time).
    """

    name: str
    batch: bool
    params: PoolingParams
    start_s: int
    end_s: int
    vehicle_ids: list[str]
    requests: list[TaxiRequest]
    direct_s: NDArray[np.int64]
    status: list[str]
    reason: list[str | None]
    vehicle: NDArray[np.int64]
    pickup_s: NDArray[np.int64]
    dropoff_s: NDArray[np.int64]
    shared: NDArray[np.bool_]
    fare_krw: NDArray[np.int64]
    drives: dict[str, NDArray[np.int64]]
    stops: dict[str, NDArray[np.int64]]
    batches: list[BatchReport]
    max_onboard: NDArray[np.int64]
    drive_nodes: list[NDArray[np.int32]] | None = None
    ledger: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    network: RoadNetwork | None = None
    start_nodes: NDArray[np.int64] | None = None
    meta: dict[str, int] = field(default_factory=dict)
    submit_s: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    shifts_s: NDArray[np.int64] | None = None
    cancelled_s: NDArray[np.int64] | None = None
    assigned_s: NDArray[np.int64] | None = None
    rejected_s: NDArray[np.int64] | None = None


class TaxiSimulation:
    """One simulated day of a shared-taxi service (see the module docstring).

    Args:
        network: the road network (its edge times move the taxis).
        router: shortest paths over ``network`` (the same travel times as the dispatcher's).
        dispatcher: the service: a :class:`TaxiBackend`, or a dispatcher (wrapped in a
            :class:`LocalTaxiBackend`); its ``params`` (batch window, dwell, rebalancing) and
            ``batch`` flag drive the loop. Its fleet starts where ``fleet`` says.
        fleet: the taxis given to the dispatcher, in the same order.
        requests: the day's requests (any order; each is submitted at its ``request_time_s``).
        start_s, end_s: the service period: batches run from ``start_s + batch_s`` and go on
            after ``end_s`` only while requests wait for a match; taxis finish their plans.
        cancellations: optional ``{request id: time}``; a ride still waiting or assigned then
            is cancelled.
        record_paths: keep the road nodes of every drive (memory: a few hundred bytes per drive).
        progress: called as ``progress(done, total)`` after each submitted request.
        name: a label for the output.
    """

    def __init__(
        self,
        network: RoadNetwork,
        router: Router,
        dispatcher: SharedTaxiDispatcher | TaxiBackend,
        fleet: Sequence[TaxiSpec],
        requests: Sequence[TaxiRequest],
        *,
        start_s: int,
        end_s: int,
        cancellations: Mapping[str, int] | None = None,
        record_paths: bool = False,
        progress: Callable[[int, int], None] | None = None,
        name: str = "shared_taxi",
    ) -> None:
        if end_s <= start_s:
            raise ValueError(f"end_s ({end_s}) must be after start_s ({start_s})")
        backend = dispatcher if isinstance(dispatcher, TaxiBackend) else LocalTaxiBackend(dispatcher)
        if isinstance(dispatcher, SharedTaxiDispatcher) and len(fleet) != len(dispatcher.taxis):
            raise ValueError(f"fleet has {len(fleet)} taxis, the dispatcher {len(dispatcher.taxis)}")
        self.network = network
        self.router = router
        self.d: TaxiBackend = backend
        self.params = backend.params
        self.fleet = list(fleet)
        self.requests = sorted(requests, key=lambda r: (r.request_time_s, r.id))
        self.start_s = int(start_s)
        self.end_s = int(end_s)
        self.cancellations = dict(cancellations or {})
        self.record_paths = record_paths
        self.progress = progress
        self.name = name
        self._edge_time = np.asarray(network.travel_time_s, np.int64)
        self._edge_len = np.asarray(network.length_m, np.int64)

    # ------------------------------------------------------------------ set-up
    def _init_state(self) -> None:
        v = len(self.fleet)
        width = 64
        self.vids = [s.id for s in self.fleet]
        self.vindex = {vid: k for k, vid in enumerate(self.vids)}
        self.node = np.array([s.node for s in self.fleet], np.int64)  # where it is (or last was) at a node
        self.state = np.full(v, _IDLE, np.int8)
        self.leg_node = np.zeros((v, width), np.int64)
        self.leg_time = np.zeros((v, width), np.int64)
        self.leg_cum_m = np.zeros((v, width), np.int64)
        self.leg_len = np.zeros(v, np.int64)
        self.leg_pos = np.zeros(v, np.int64)
        self.leg_kind = np.zeros(v, np.int8)
        self.leg_onboard = np.zeros(v, np.int64)
        self.leg_parties = np.zeros(v, np.int64)
        self.leg_path: list[NDArray[np.int32] | None] = [None] * v
        self.moving = np.zeros(v, np.bool_)
        self.located = np.full(v, True)  # the dispatcher knows the taxi's plan start
        self.changed = np.zeros(v, np.int64)
        self.token = np.zeros(v, np.int64)
        self.onboard = np.zeros(v, np.int64)  # passengers
        self.parties = np.zeros(v, np.int64)  # bookings
        self.max_onboard = np.zeros(v, np.int64)
        self.rebalancing = np.zeros(v, np.bool_)
        self._rebalance_to: dict[int, int] = {}
        n = len(self.requests)
        self.rindex = {r.id: i for i, r in enumerate(self.requests)}
        self.pickup_s = np.full(n, -1, np.int64)
        self.dropoff_s = np.full(n, -1, np.int64)
        self.ride_vehicle = np.full(n, -1, np.int64)
        self.assigned_s = np.full(n, -1, np.int64)  # when each ride first showed in a taxi's plan
        self.drives = _Columns(*DRIVE_COLUMNS)
        self.stops = _Columns(*STOP_COLUMNS)
        self.drive_nodes: list[NDArray[np.int32]] = []
        self.batches: list[BatchReport] = []
        self.submit_s = array("d")
        self._queue: list[tuple[int, int, int, Any]] = []
        self._seq = itertools.count()
        self._rec = itertools.count()
        self.paths = 0  # shortest paths asked of the router
        self.turns = 0  # drives cut short because a taxi's destination changed

    def _push(self, t: int, kind: int, payload: Any) -> None:
        heapq.heappush(self._queue, (int(t), kind, next(self._seq), payload))

    # ------------------------------------------------------------------ run
    def run(self) -> TaxiSimOutput:
        t_run = time.perf_counter()
        self._init_state()
        p = self.params
        for i, req in enumerate(self.requests):
            self._push(req.request_time_s, REQUEST, i)
        for rid, at in self.cancellations.items():
            if rid in self.rindex:
                self._push(at, CANCEL, rid)
        self.rebalances = p.rebalance
        self.ledger: PoolingLedger | None = self.d.ledger
        ticks = self.d.batch or self.rebalances
        self.d.start(self.fleet, self.start_s)
        if ticks:
            self._push(self.start_s + p.batch_s, BATCH, None)
        handlers: dict[int, Callable[[int, Any], None]] = {
            ARRIVE: self._on_arrive,
            READY: self._on_ready,
            CANCEL: self._on_cancel,
            REQUEST: self._on_request,
            BATCH: self._on_batch,
        }
        self._submitted = 0
        self.now = self.start_s
        while self._queue:
            t, kind, _, payload = heapq.heappop(self._queue)
            self.now = t
            handlers[kind](t, payload)
        if self.ledger is not None:
            last = max(self.end_s, int(self.now))
            for spec in self.fleet:
                duty = min(spec.shift_end_s, last) - max(spec.shift_start_s, self.start_s)
                self.ledger.vehicle_on_duty(spec.id, max(duty, 0))
        run_s = time.perf_counter() - t_run
        return self._output(run_s)

    def _output(self, run_s: float) -> TaxiSimOutput:
        n = len(self.requests)
        status: list[str] = []
        reason: list[str | None] = []
        shared = np.zeros(n, np.bool_)
        fare = np.full(n, -1, np.int64)
        direct = np.zeros(n, np.int64)
        ended = (TaxiRideStatus.COMPLETED.value, TaxiRideStatus.REJECTED.value, TaxiRideStatus.CANCELLED.value)
        cancelled_s = np.full(n, -1, np.int64)
        rejected_s = np.full(n, -1, np.int64)
        for i, req in enumerate(self.requests):
            ride = self.d.outcome(req.id)
            if ride is None:
                status.append("not_submitted")
                reason.append(None)
                continue
            status.append(ride.status)
            reason.append(ride.reason)
            shared[i] = ride.shared
            fare[i] = -1 if ride.fare_krw is None else ride.fare_krw
            direct[i] = ride.direct_s
            if ride.status == TaxiRideStatus.CANCELLED.value and req.id in self.cancellations:
                cancelled_s[i] = self.cancellations[req.id]
            if ride.status == TaxiRideStatus.REJECTED.value:
                rejected_s[i] = self._rejection_time(req.request_time_s)
            if ride.status not in ended:
                log.warning("ride %s was still %s at the end of the day", req.id, ride.status)
        return TaxiSimOutput(
            name=self.name,
            batch=self.d.batch,
            params=self.params,
            start_s=self.start_s,
            end_s=max(self.end_s, int(self.now)),
            vehicle_ids=list(self.vids),
            requests=list(self.requests),
            direct_s=direct,
            status=status,
            reason=reason,
            vehicle=self.ride_vehicle.copy(),
            pickup_s=self.pickup_s.copy(),
            dropoff_s=self.dropoff_s.copy(),
            shared=shared,
            fare_krw=fare,
            drives=self.drives.arrays(),
            stops=self.stops.arrays(),
            batches=list(self.batches),
            max_onboard=self.max_onboard.copy(),
            drive_nodes=self.drive_nodes if self.record_paths else None,
            ledger=self.d.ledger.kpis(),
            timings={"run_s": run_s},
            network=self.network,
            start_nodes=np.array([s.node for s in self.fleet], np.int64),
            meta={"paths": self.paths, "turns": self.turns},
            submit_s=np.frombuffer(self.submit_s, np.float64).copy(),
            shifts_s=np.array([[s.shift_start_s, s.shift_end_s] for s in self.fleet], np.int64).reshape(-1, 2),
            cancelled_s=cancelled_s,
            assigned_s=self.assigned_s.copy(),
            rejected_s=rejected_s,
        )

    def _rejection_time(self, request_s: int) -> int:
        """When a ride asked for at ``request_s`` and rejected was turned away: at once with
        immediate insertion; in batches, by the first batch after it (batches run every
        ``batch_s`` from the start; one at the request's second runs before it) that would have
        made it wait longer than ``max_wait_s``, as the dispatcher's batch rejects it."""
        p = self.params
        if not self.d.batch:
            return int(request_s)
        first = self.start_s + (max(request_s - self.start_s, 0) // p.batch_s + 1) * p.batch_s
        # the first batch b >= first with request_s + max_wait_s < b + batch_s
        late = request_s + p.max_wait_s - p.batch_s + 1
        k = max(0, -(-(late - first) // p.batch_s))
        return int(first + k * p.batch_s)

    # ------------------------------------------------------------------ positions
    def _sync_positions(self, t: int) -> None:
        """Tell the dispatcher where every moving taxi's plan can start at ``t`` (only those that changed)."""
        count = advance_positions(t, self.leg_time, self.leg_len, self.leg_pos, self.moving, self.changed)
        for v in self.changed[:count].tolist():
            self.located[v] = False
        for v in np.flatnonzero(~self.located).tolist():
            if self.moving[v]:
                k = int(self.leg_pos[v])
                self.d.locate(self.vids[v], int(self.leg_node[v, k]), int(self.leg_time[v, k]))
            self.located[v] = True

    def _ensure_width(self, width: int) -> None:
        have = self.leg_node.shape[1]
        if width <= have:
            return
        new = max(width, 2 * have)
        for name in ("leg_node", "leg_time", "leg_cum_m"):
            old = getattr(self, name)
            grown = np.zeros((old.shape[0], new), np.int64)
            grown[:, :have] = old
            setattr(self, name, grown)

    def _start_leg(self, v: int, from_node: int, depart_s: int, to_node: int, kind: int) -> None:
        """Taxi ``v`` leaves ``from_node`` at ``depart_s`` along a shortest path to ``to_node``."""
        if from_node == to_node:
            nodes = np.array([from_node], np.int32)
            times = np.array([depart_s], np.int64)
            cum = np.zeros(1, np.int64)
        else:
            path = self.router.path(from_node, to_node)
            self.paths += 1
            nodes = path.nodes
            times = np.empty(nodes.size, np.int64)
            times[0] = depart_s
            np.cumsum(self._edge_time[path.edges], out=times[1:])
            times[1:] += depart_s
            cum = np.zeros(nodes.size, np.int64)
            np.cumsum(self._edge_len[path.edges], out=cum[1:])
        m = nodes.size
        self._ensure_width(m)
        self.leg_node[v, :m] = nodes
        self.leg_time[v, :m] = times
        self.leg_cum_m[v, :m] = cum
        self.leg_len[v] = m
        self.leg_pos[v] = 0
        self.leg_kind[v] = kind
        self.leg_onboard[v] = self.onboard[v]
        self.leg_parties[v] = self.parties[v]
        self.leg_path[v] = nodes if self.record_paths else None
        self.moving[v] = True
        self.located[v] = False
        self.state[v] = _DRIVING
        self.token[v] += 1
        self._push(int(times[-1]), ARRIVE, (v, int(self.token[v])))

    def _record_drive(self, v: int, upto: int) -> None:
        """Record the part of taxi ``v``'s leg from its start to node index ``upto``."""
        if upto <= 0:
            return
        depart, arrive = int(self.leg_time[v, 0]), int(self.leg_time[v, upto])
        metres, kind = int(self.leg_cum_m[v, upto]), int(self.leg_kind[v])
        passengers, parties = int(self.leg_onboard[v]), int(self.leg_parties[v])
        self.drives.add(
            v,
            depart,
            arrive,
            int(self.leg_node[v, 0]),
            int(self.leg_node[v, upto]),
            metres,
            passengers,
            parties,
            kind,
            next(self._rec),
        )
        if self.ledger is not None:
            self.ledger.vehicle_moved(
                self.vids[v],
                metres,
                arrive - depart,
                parties_on_board=parties,
                passengers_on_board=passengers,
                rebalancing=kind == REBALANCE,
            )
        if self.record_paths:
            path = self.leg_path[v]
            assert path is not None
            self.drive_nodes.append(np.asarray(path[: upto + 1], np.int32).copy())

    def _turn(self, v: int, t: int, to_node: int | None, kind: int) -> None:
        """A driving taxi changes its destination at ``t``: it reaches its next node, then
        heads for ``to_node`` (None: it stops at that next node)."""
        last = int(self.leg_len[v]) - 1
        k = int(self.leg_pos[v])
        while k < last and self.leg_time[v, k] < t:
            k += 1
        node_k, time_k = int(self.leg_node[v, k]), int(self.leg_time[v, k])
        self.turns += 1
        self._record_drive(v, k)
        self._start_leg(v, node_k, time_k, node_k if to_node is None else to_node, kind)

    def _drive_kind(self, v: int) -> int:
        return OCCUPIED if self.onboard[v] > 0 else EMPTY

    # ------------------------------------------------------------------ taxis
    def _on_arrive(self, t: int, payload: tuple[int, int]) -> None:
        v, token = payload
        if token != self.token[v]:
            return
        last = int(self.leg_len[v]) - 1
        self._record_drive(v, last)
        self.node[v] = self.leg_node[v, last]
        self.moving[v] = False
        self.located[v] = True
        self.state[v] = _IDLE
        if self.rebalancing[v] and int(self.node[v]) == self._rebalance_to.get(v, -1):
            self.rebalancing[v] = False
        self._proceed(v, t)

    def _on_ready(self, t: int, payload: tuple[int, int]) -> None:
        v, token = payload
        if token != self.token[v]:
            return
        self.state[v] = _IDLE
        self._proceed(v, t)

    def _proceed(self, v: int, t: int) -> None:
        """Taxi ``v`` stands at its node at ``t``: serve the stops there, then drive on (or wait)."""
        vid = self.vids[v]
        here = int(self.node[v])
        while True:
            plan = self.d.next_stops(vid)
            if not plan:
                if self.rebalancing[v]:
                    target = self._rebalance_to.get(v, here)
                    if target != here:
                        self._start_leg(v, here, t, target, REBALANCE)
                        return
                    self.rebalancing[v] = False
                self.state[v] = _IDLE
                self.d.locate(vid, here, t)
                return
            self.rebalancing[v] = False
            stop = plan[0]
            if stop.node != here:
                self._start_leg(v, here, t, stop.node, self._drive_kind(v))
                return
            i = self.rindex[stop.ride_id]
            req = self.requests[i]
            if stop.kind is StopKind.PICKUP:
                start = max(t, req.request_time_s)
                self.d.boarded(stop.ride_id, start)
                self.onboard[v] += req.passengers
                self.parties[v] += 1
                self.max_onboard[v] = max(self.max_onboard[v], self.onboard[v])
                self.pickup_s[i] = start
                self.ride_vehicle[i] = v
                pickup = 1
            else:
                start = t
                self.d.alighted(stop.ride_id, start)
                self.onboard[v] -= req.passengers
                self.parties[v] -= 1
                self.dropoff_s[i] = start
                pickup = 0
            self.stops.add(v, here, start, i, pickup, int(self.onboard[v]), next(self._rec))
            ready = start + self.params.dwell_s
            if ready > t:
                self.state[v] = _SERVING
                self.token[v] += 1
                self._push(ready, READY, (v, int(self.token[v])))
                return

    def _resync(self, v: int, t: int) -> None:
        """After the dispatcher changed plans at ``t``: a taxi whose first stop changed turns."""
        state = self.state[v]
        plan = self.d.next_stops(self.vids[v])
        for stop in plan:  # rides promised to this taxi now, for the record
            i = self.rindex.get(stop.ride_id)
            if i is not None and self.assigned_s[i] < 0:
                self.assigned_s[i] = t
        if state == _SERVING:
            return  # it reads its plan when the stop is done
        if state == _IDLE:
            if plan:
                self._proceed(v, t)
            return
        end = int(self.leg_node[v, int(self.leg_len[v]) - 1])
        if plan:
            if self.rebalancing[v]:
                self.rebalancing[v] = False
                self._turn(v, t, plan[0].node, self._drive_kind(v))
            elif plan[0].node != end:
                self._turn(v, t, plan[0].node, self._drive_kind(v))
        elif not self.rebalancing[v] and int(self.leg_len[v]) > 1:
            self._turn(v, t, None, self._drive_kind(v))  # nothing to do: stop at the next node

    # ------------------------------------------------------------------ riders
    def _on_request(self, t: int, i: int) -> None:
        req = self.requests[i]
        if not self.d.batch:
            self._sync_positions(t)
        t0 = time.perf_counter()
        vehicle_id = self.d.submit(req, t)
        self.submit_s.append(time.perf_counter() - t0)
        self._submitted += 1
        if self.progress is not None:
            self.progress(self._submitted, len(self.requests))
        if not self.d.batch and vehicle_id is not None:
            self._resync(self.vindex[vehicle_id], t)

    def _on_cancel(self, t: int, rid: str) -> None:
        state = self.d.ride_state(rid)
        if state is None or state[0] not in (TaxiRideStatus.MATCHING, TaxiRideStatus.ASSIGNED):
            return
        self._sync_positions(t)
        vid = state[1]
        self.d.cancel(rid, t)
        if vid is not None:
            self._resync(self.vindex[vid], t)

    # ------------------------------------------------------------------ batches
    def _on_batch(self, t: int, _: Any) -> None:
        self._sync_positions(t)
        report, moves = self.d.tick(t)
        if report is not None:
            self.batches.append(report)
        if self.d.batch:
            for v in range(len(self.vids)):
                self._resync(v, t)
        if self.rebalances:
            for vid, node in sorted(moves, key=lambda m: self.vindex[m[0]]):  # in fleet order, whoever sends them
                v = self.vindex[vid]
                if self.d.next_stops(vid) or self.state[v] == _SERVING:
                    continue
                self.rebalancing[v] = True
                self._rebalance_to[v] = int(node)
                if self.state[v] == _IDLE:
                    if int(node) != int(self.node[v]):
                        self._start_leg(v, int(self.node[v]), t, int(node), REBALANCE)
                    else:
                        self.rebalancing[v] = False
                elif int(self.leg_node[v, int(self.leg_len[v]) - 1]) != int(node):
                    self._turn(v, t, int(node), REBALANCE)
        more = t < self.end_s or (self.d.batch and self.d.waiting())
        if more:
            self._push(t + self.params.batch_s, BATCH, None)


def warm_up() -> float:
    """Compile (or load from Numba's cache) :func:`advance_positions` and the dispatcher's trip
    search and assignment kernels; returns the seconds taken. Call before a timed or budgeted
    run: a first batch that compiles may be cut short by its wall-clock budget."""
    from matching.pooling.dispatcher import warm_up as warm_up_dispatcher

    t0 = time.perf_counter()
    one = np.zeros(1, np.int64)
    advance_positions(0, np.zeros((1, 1), np.int64), np.ones(1, np.int64), one, np.ones(1, np.bool_), one.copy())
    warm_up_dispatcher()
    return time.perf_counter() - t0


def simulate_taxis(
    network: RoadNetwork,
    router: Router,
    fleet: Sequence[TaxiSpec],
    requests: Sequence[TaxiRequest],
    params: PoolingParams,
    *,
    start_s: int,
    end_s: int,
    batch: bool = True,
    times: TravelTimes | None = None,
    cancellations: Mapping[str, int] | None = None,
    record_paths: bool = False,
    progress: Callable[[int, int], None] | None = None,
    name: str = "shared_taxi",
    backend: TaxiBackend | None = None,
) -> TaxiSimOutput:
    """A :class:`~matching.pooling.dispatcher.SharedTaxiDispatcher` over ``fleet`` and one
    simulated day of ``requests`` (see :class:`TaxiSimulation`); ``times`` defaults to
    :class:`routing.HierarchyTimes` over ``router`` and fares use the router's path lengths.
    With ``backend`` (e.g. a live engine, :class:`sim.taxi_remote.RemoteTaxiBackend`) the day is
    played against it instead (``params``, ``batch`` and ``times`` are then its own).
    ``timings`` holds ``setup_s`` and ``run_s``."""
    t0 = time.perf_counter()
    service: SharedTaxiDispatcher | TaxiBackend
    if backend is not None:
        service = backend
    else:
        if times is None:
            times = HierarchyTimes(router)
        service = SharedTaxiDispatcher(times, fleet, params, distance_m=router.path_length_m, batch=batch)
    sim = TaxiSimulation(
        network,
        router,
        service,
        fleet,
        requests,
        start_s=start_s,
        end_s=end_s,
        cancellations=cancellations,
        record_paths=record_paths,
        progress=progress,
        name=name,
    )
    setup_s = time.perf_counter() - t0
    out = sim.run()
    out.timings["setup_s"] = setup_s
    return out


# ---------------------------------------------------------------------------- scenarios
def taxi_world(scenario: TaxiScenario) -> tuple[RoadNetwork, Router]:
    """The scenario's road network and router (contraction hierarchy from the disk cache)."""
    return load_roads(scenario.network)


def scenario_demand(scenario: TaxiScenario, network: RoadNetwork, *, seed: int | None = None) -> TaxiDemand:
    """The scenario's requests over its service period (``seed`` overrides the scenario's)."""
    spec = scenario.demand
    common: dict[str, Any] = {
        "profile": spec.profile,
        "start_s": scenario.start_s,
        "end_s": scenario.end_s,
        "seed": scenario.seed if seed is None else seed,
        "group_sizes": spec.group_sizes,
        "share_probability": spec.share_probability,
    }
    if spec.kind == "reqs":
        assert spec.path is not None
        return taxi_demand_from_reqs(spec.path, num_nodes=network.num_nodes, total=spec.total, **common)
    return taxi_demand_on_network(network, total=spec.total, **common)


def scenario_fleet(
    scenario: TaxiScenario, network: RoadNetwork, demand: TaxiDemand, *, seed: int | None = None
) -> list[TaxiSpec]:
    """The scenario's taxis ``taxi0000``, ... (start nodes: :func:`sim.demand.taxi_start_nodes`)."""
    f = scenario.fleet
    listed = read_start_nodes(f.start_nodes, network.num_nodes) if f.start_nodes is not None else ()
    nodes = taxi_start_nodes(
        f.vehicles, listed=listed, origins=demand.origin, seed=scenario.seed if seed is None else seed
    )
    return [TaxiSpec(f"taxi{v:04d}", int(n), f.shift_start_s, f.shift_end_s) for v, n in enumerate(nodes.tolist())]


#: Days with more requests than this keep no drive paths for the report's tracks and map (a
#: path costs a few hundred bytes per drive; a city-wide day of 200,000 requests would hold
#: hundreds of MB for a picture).
TRACKS_MAX_REQUESTS = 50_000


def keep_paths(scenario: TaxiScenario) -> bool:
    """Whether a run of ``scenario`` should keep its drives' paths (``tracks.geojson``, ``map.png``):
    days up to :data:`TRACKS_MAX_REQUESTS` requests; a log line says when a larger one does not."""
    if scenario.demand.total <= TRACKS_MAX_REQUESTS:
        return True
    log.info(
        "%s: %d requests: no drive paths kept, so no tracks.geojson or map.png (at most %d requests)",
        scenario.name,
        scenario.demand.total,
        TRACKS_MAX_REQUESTS,
    )
    return False


def run_taxi_scenario(
    scenario: TaxiScenario,
    *,
    seed: int | None = None,
    batch: bool = True,
    record_paths: bool = False,
    progress: Callable[[int, int], None] | None = None,
    backend_factory: Callable[[Router], TaxiBackend] | None = None,
) -> TaxiSimOutput:
    """Set up and simulate ``scenario`` (``seed`` overrides the scenario's); ``timings`` holds
    ``warm_up_s`` (:func:`warm_up`, first), ``world_s`` (network and hierarchy), ``setup_s``
    and ``run_s``. ``backend_factory(router)``: the service to play the day against (e.g. a live
    engine, :class:`sim.taxi_remote.RemoteTaxiBackend`) instead of a dispatcher in this process."""
    compile_s = warm_up()
    t0 = time.perf_counter()
    network, router = taxi_world(scenario)
    world_s = time.perf_counter() - t0
    demand = scenario_demand(scenario, network, seed=seed)
    fleet = scenario_fleet(scenario, network, demand, seed=seed)
    out = simulate_taxis(
        network,
        router,
        fleet,
        taxi_requests(demand),
        scenario.pooling,
        start_s=scenario.start_s,
        end_s=scenario.end_s,
        batch=batch,
        record_paths=record_paths,
        progress=progress,
        name=scenario.name,
        backend=None if backend_factory is None else backend_factory(router),
    )
    out.timings["world_s"] = world_s
    out.timings["warm_up_s"] = compile_s
    return out
