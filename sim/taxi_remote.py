"""The shared taxi's simulated day against a live engine: riders and drivers played over gRPC.

:class:`RemoteTaxiBackend` is the :class:`sim.taxi.TaxiBackend` of an engine that runs the
scenario (``mobility serve --scenario S --clock external``): the same loop as the in-process
day (:class:`sim.taxi.TaxiSimulation`) books the riders (RiderService ``BookRide`` with node
places and ``share``), reports where the taxis are and what they served (DriverService
``ReportLocation`` with the road node, ``ReportStopEvent`` boarded / alighted) and reads the
plans back (``GetManifest``: each stop's node, and ``rebalance_node`` where an idle taxi is
sent). On the external clock every call carries its time; the engine runs a batch when a call's
time reaches the batch time, before that call, at the batch time (:mod:`engine.taxi`). The loop
runs its batch first in its second, then the backend moves the engine's clock to the batch time
(``Reoptimise`` with ``now_s``, an operator's call), so that the engine's batches decide on
what the in-process ones see. With the pooling budgets large enough that none binds (see
:mod:`sim.taxi`), a day played remotely is the day played in-process.

Where the taxis start: the engine draws its taxis' nodes for its seed
(:meth:`matching.deployment.TaxiServiceSpec.fleet`), the simulator its own from the demand
(:func:`sim.demand.taxi_start_nodes`). :meth:`RemoteTaxiBackend.start` has every taxi report its
start node (``ReportLocation``) at the start of the day, as a driver logging on would: the
simulator's fleet wins, the engine's rule stays for drivers that report nothing, and neither
needs the other's inputs (the engine does not know the demand the simulator draws from).

The fares and pooling KPIs are booked in a ledger of this process (the dispatcher's
:class:`~matching.pooling.ledger.PoolingLedger`, with the default fare policy, as the engine's
services use): on each drop-off the backend books the ride as the engine reports it (shared or
not) and checks that its fare is the engine's (:class:`~sim.remote.EngineMismatch` if not).

Cost: a batch that ran is followed by one ``GetManifest`` per taxi (every plan may have
changed) and, when the service rebalances, ``ListVehicles`` before and after it (which taxis it
sent toward demand); between batches a taxi's manifest is read again only after a call that
changes it. Location reports are sent together, in one ``ReportLocation`` stream, before the
next other call. Measured on ``imoa_dongjak`` (a whole day: 4,000 requests, 40 taxis, 2,487
batches that decided something) against ``mobility serve`` on the same 2-core machine: 188 s,
against 68 s in-process; the rides and drives written were byte for byte the in-process ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from matching import StopEventKind, StopKind
from matching.pooling.ledger import PoolingLedger
from matching.pooling.model import BatchReport, PlannedTaxiStop, TaxiRequest, TaxiRideStatus, TaxiSpec
from matching.pooling.params import PoolingParams
from proto import convert as pc
from proto.client import ClientTLS
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2
from routing import HierarchyTimes, Router

from .remote import EngineMismatch, RemoteBackend
from .taxi import RideOutcome

#: The engine's ride statuses as the shared taxi's.
_STATUS = {v: k for k, v in pc.TAXI_RIDE_STATUS.items()}
_REASON = {TaxiRideStatus.CANCELLED: "cancelled", TaxiRideStatus.NO_SHOW: "no_show"}


class RemoteTaxiBackend:
    """The taxi day's backend over gRPC (see the module docstring).

    Args:
        target: the engine's ``host:port``.
        router: the scenario's router (the direct drives of the fares, as the engine's dispatcher
            measures them: :class:`routing.HierarchyTimes` and ``router.path_length_m``).
        params: the scenario's pooling rules (the engine's service must run the same).
        batch: False for the immediate-insertion baseline (the engine's service must say so too).
        service: the engine's shared-taxi service (empty: the deployment's default).
        token, tls, timeout_s: as for :class:`sim.remote.RemoteBackend`.
    """

    def __init__(
        self,
        target: str,
        router: Router,
        params: PoolingParams,
        *,
        batch: bool = True,
        service: str = "",
        token: str | None = None,
        tls: ClientTLS | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.remote = RemoteBackend(target, token=token, tls=tls, timeout_s=timeout_s)
        self.target = target
        self.params = params
        self.batch = bool(batch)
        self.service = service
        self.ledger = PoolingLedger()
        self.times = HierarchyTimes(router)
        self.distance_m = router.path_length_m
        self._requests: dict[str, TaxiRequest] = {}
        self._vehicle_of: dict[str, str] = {}  # ride -> the taxi whose manifest or booking named it
        self._manifests: dict[str, Any] = {}  # taxi -> its manifest, while no call changed it
        self._locations: list[driver_pb2.LocationReport] = []  # reports not sent yet
        self._vehicle_ids: list[str] = []
        self._batches = 0  # the engine's count of batches run
        self._matching = 0  # rides waiting for a match after the last batch

    # ------------------------------------------------------------------ plumbing
    def _call(self, method: Any, request: Any) -> Any:
        self._flush()
        return method(request, timeout=self.remote.timeout_s, metadata=self.remote.metadata)

    def _flush(self) -> None:
        if self._locations:
            reports, self._locations = self._locations, []
            self.remote.driver.ReportLocation(
                iter(reports), timeout=self.remote.timeout_s, metadata=self.remote.metadata
            )

    def _move_clock(self, now_s: int) -> None:
        """Move the engine's clock to ``now_s`` (running the batches due by then)."""
        self._call(self.remote.operator.Reoptimise, operator_pb2.ReoptimiseRequest(iterations=1, now_s=now_s))

    def _fleet_status(self) -> Any:
        return self._call(self.remote.operator.FleetStatus, operator_pb2.FleetStatusRequest(service=self.service))

    def _ride(self, ride_id: str) -> Any:
        return self._call(self.remote.rider.GetRide, rider_pb2.GetRideRequest(ride_id=ride_id, service=self.service))

    def _manifest(self, vehicle_id: str) -> Any:
        manifest = self._manifests.get(vehicle_id)
        if manifest is None:
            request = driver_pb2.GetManifestRequest(vehicle_id=vehicle_id, service=self.service)
            manifest = self._call(self.remote.driver.GetManifest, request)
            self._manifests[vehicle_id] = manifest
            for s in manifest.stops:
                self._vehicle_of[s.ride_id] = vehicle_id
        return manifest

    def check_engine(self) -> None:
        """:meth:`sim.remote.RemoteBackend.check_engine`: an engine answers and takes the token."""
        self.remote.check_engine()

    def close(self) -> None:
        self.remote.close()

    # ------------------------------------------------------------------ TaxiBackend
    def start(self, fleet: Sequence[TaxiSpec], start_s: int) -> None:
        """Check that the engine's service runs ``fleet``'s taxis and has not started (no rides, its
        clock not past ``start_s``; EngineMismatch if not), move its clock to ``start_s`` and report
        every taxi at its start node."""
        status = self._fleet_status()
        if start_s % self.params.batch_s:
            raise EngineMismatch(
                f"the day starts at {start_s} s, not a multiple of the batch window ({self.params.batch_s} s): "
                "the engine's batches would not fall on the simulator's"
            )
        booked = status.rides_matching + status.rides_matched + status.rides_rejected + status.rides_cancelled
        if booked or status.clock_s > start_s:
            raise EngineMismatch(
                f"the engine has {booked} rides already and its clock at {status.clock_s} s (the day starts at "
                f"{start_s} s): play a day against a freshly started engine"
            )
        remote = self._call(self.remote.operator.ListVehicles, operator_pb2.ListVehiclesRequest(service=self.service))
        theirs = sorted(v.vehicle_id for v in remote.vehicles)
        mine = sorted(s.id for s in fleet)
        if theirs != mine:
            raise EngineMismatch(
                f"the engine's service {status.service!r} runs {len(theirs)} taxis, the scenario {len(mine)} (or other "
                "ids); start it with the same --scenario"
            )
        self._vehicle_ids = [s.id for s in fleet]
        self._move_clock(start_s)
        self._batches = self._fleet_status().batches
        for spec in fleet:
            self.locate(spec.id, spec.node, start_s)
        self._flush()

    def submit(self, request: TaxiRequest, now_s: int) -> str | None:
        ask = rider_pb2.QuoteRequest(
            request_id=request.id,
            origin=common_pb2.Place(node=request.origin),
            destination=common_pb2.Place(node=request.destination),
            passengers=request.passengers,
            share=common_pb2.SHARING_SHARED if request.share else common_pb2.SHARING_ALONE,
            service=self.service,
        )
        ride = self._call(self.remote.rider.BookRide, rider_pb2.BookRideRequest(request=ask, now_s=now_s))
        self._requests[request.id] = request
        if not ride.vehicle_id:
            return None
        self._vehicle_of[request.id] = ride.vehicle_id
        self._manifests.pop(ride.vehicle_id, None)
        return str(ride.vehicle_id)

    def ride_state(self, ride_id: str) -> tuple[TaxiRideStatus, str | None] | None:
        if ride_id not in self._requests:
            return None
        ride = self._ride(ride_id)
        return _STATUS[ride.status], ride.vehicle_id or None

    def cancel(self, ride_id: str, now_s: int) -> None:
        request = rider_pb2.CancelRideRequest(ride_id=ride_id, now_s=now_s, service=self.service)
        try:
            self._call(self.remote.rider.CancelRide, request)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
        self._manifests.clear()

    def locate(self, vehicle_id: str, node: int, time_s: int) -> None:
        report = driver_pb2.LocationReport(
            vehicle_id=vehicle_id, node=int(node), time_s=int(time_s), service=self.service
        )
        self._locations.append(report)

    def next_stops(self, vehicle_id: str) -> list[PlannedTaxiStop]:
        return [
            PlannedTaxiStop(
                int(s.node), pc.STOP_KIND_FROM_PROTO.get(s.kind, StopKind.DROPOFF), s.ride_id, int(s.planned_s)
            )
            for s in self._manifest(vehicle_id).stops
        ]

    def _stop_event(self, kind: StopEventKind, ride_id: str, time_s: int) -> str:
        vehicle = self._vehicle_of.get(ride_id, "")
        event = driver_pb2.StopEvent(
            vehicle_id=vehicle, kind=pc.STOP_EVENT_KIND[kind], ride_id=ride_id, time_s=int(time_s), service=self.service
        )
        self._call(self.remote.driver.ReportStopEvent, event)
        self._manifests.pop(vehicle, None)
        return vehicle

    def boarded(self, ride_id: str, time_s: int) -> None:
        self._stop_event(StopEventKind.BOARDED, ride_id, time_s)

    def alighted(self, ride_id: str, time_s: int) -> None:
        vehicle = self._stop_event(StopEventKind.ALIGHTED, ride_id, time_s)
        ride = self._ride(ride_id)
        req = self._requests[ride_id]
        direct_s, direct_m = self._direct(req)
        fare = self.ledger.ride_completed(
            ride_id,
            vehicle,
            direct_m=direct_m,
            direct_s=direct_s,
            asked_to_share=req.share,
            shared=ride.shared,
            rider_class=req.rider_class,
            passengers=req.passengers,
            time_s=int(time_s),
        )
        if fare != ride.fare_krw:
            raise EngineMismatch(
                f"ride {ride_id}: the engine charged {ride.fare_krw} KRW, this ledger {fare} KRW (another fare policy?)"
            )

    def _direct(self, request: TaxiRequest) -> tuple[int, int]:
        return (
            int(self.times.pair(request.origin, request.destination)),
            int(self.distance_m(request.origin, request.destination)),
        )

    def _rebalance_targets(self) -> dict[str, int]:
        """Where each taxi sent toward demand heads (its VehicleStatus ``rebalance_node``)."""
        request = operator_pb2.ListVehiclesRequest(service=self.service)
        vehicles = self._call(self.remote.operator.ListVehicles, request).vehicles
        return {v.vehicle_id: int(v.rebalance_node) for v in vehicles if v.HasField("rebalance_node")}

    def tick(self, now_s: int) -> tuple[BatchReport | None, list[tuple[str, int]]]:
        """Move the engine's clock to ``now_s``: its batch of ``now_s`` runs (unless it had nothing to
        decide), then its rebalancing; the moves are the taxis sent toward demand by it (those
        heading somewhere after it and not before, as :meth:`SharedTaxiDispatcher.rebalance`
        returns them). The report holds what FleetStatus tells of the batch (the time, the rides
        still waiting, the compute time; no ride lists, status ``"remote"``)."""
        before = self._rebalance_targets() if self.params.rebalance else {}
        self._move_clock(now_s)
        status = self._fleet_status()
        self._matching = int(status.rides_matching)
        ran = status.batches > self._batches and status.last_batch_s == now_s
        self._batches = int(status.batches)
        if not ran:
            return None, []
        self._manifests.clear()
        report = BatchReport(
            time_s=now_s, assigned=(), reassigned=(), rejected=(), open=self._matching, trips=0, status="remote",
            objective=0, gather_s=0.0, trips_s=0.0, assign_s=0.0, compute_s=float(status.last_batch_compute_s),
        )  # fmt: skip
        moves: list[tuple[str, int]] = []
        if self.params.rebalance:
            after = self._rebalance_targets()
            moves = [(vid, node) for vid, node in after.items() if vid not in before]
        return (report if self.batch else None), moves

    def waiting(self) -> bool:
        return self._matching > 0

    def outcome(self, ride_id: str) -> RideOutcome | None:
        req = self._requests.get(ride_id)
        if req is None:
            return None
        ride = self._ride(ride_id)
        status = _STATUS[ride.status]
        if status is TaxiRideStatus.REJECTED:
            reason: str | None = pc.REJECT_REASON_FROM_PROTO[ride.reject_reason].value
        else:
            reason = _REASON.get(status)
        fare = int(ride.fare_krw) if ride.fare_krw else None  # the engine's 0: none yet
        return RideOutcome(status.value, reason, bool(ride.shared), fare, self._direct(req)[0])
