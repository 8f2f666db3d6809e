"""The simulator against a live engine: riders and drivers played over gRPC.

:class:`RemoteBackend` implements the simulator's backend interface with the engine's public
API (``mobility.v1``): quotes and bookings through RiderService, positions, manifests and stop
events through DriverService, re-optimisation and traffic through OperatorService. The engine
must run with ``--clock external`` (every call carries the simulated time) and the scenario's
seed (``mobility serve --scenario S --seed N``), so that it holds the same fleet; then a day
played remotely gives the same assignments as the same day in-process.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np

from matching import Offer, Rejection, RejectReason, Request, RiderClass
from mobility.v1 import (
    common_pb2,
    driver_pb2,
    driver_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    rider_pb2,
    rider_pb2_grpc,
)
from routing import Router

from .simulator import NextStop

_CLASS = {RiderClass.ADULT: common_pb2.RIDER_CLASS_ADULT, RiderClass.YOUTH: common_pb2.RIDER_CLASS_YOUTH,
          RiderClass.CHILD: common_pb2.RIDER_CLASS_CHILD}  # fmt: skip
_REASON = {getattr(common_pb2, f"REJECT_REASON_{r.name}"): r for r in RejectReason}


class EngineMismatch(RuntimeError):
    """The engine does not run the scenario the simulation expects (fleet or clock), or is set up
    too small for it (a traffic update larger than the messages it reads)."""


class RemoteBackend:
    """The simulator's backend over gRPC (see the module docstring)."""

    def __init__(self, target: str, *, token: str | None = None, timeout_s: float = 30.0) -> None:
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
        self.rider = rider_pb2_grpc.RiderServiceStub(self.channel)
        self.driver = driver_pb2_grpc.DriverServiceStub(self.channel)
        self.operator = operator_pb2_grpc.OperatorServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s
        self._vehicle_of: dict[str, str] = {}  # ride -> the vehicle whose manifest named it

    def _call(self, method: Any, request: Any) -> Any:
        return method(request, timeout=self.timeout_s, metadata=self.metadata)

    def check_fleet(self, vehicles: list[Any]) -> None:
        """Fail early if the engine's fleet is not the simulation's."""
        remote = self._call(self.operator.ListVehicles, operator_pb2.ListVehiclesRequest()).vehicles
        mine = {(v.id, v.seats) for v in vehicles}
        theirs = {(v.vehicle_id, v.seats) for v in remote}
        if mine != theirs:
            raise EngineMismatch(f"the engine runs {len(theirs)} vehicles, the scenario {len(mine)} (or other ids); "
                                 "start it with the same --scenario and --seed")  # fmt: skip

    # ------------------------------------------------------------------ Backend
    def quote(self, request: Request, now_s: int) -> Offer | Rejection:
        msg = rider_pb2.QuoteRequest(
            request_id=request.id, requested_time_s=request.requested_time_s, passengers=request.passengers,
            rider_class=_CLASS[request.rider_class], wheelchair=request.wheelchair, now_s=now_s,
            origin=common_pb2.Place(stop=request.origin_stop) if request.origin_stop is not None else
            common_pb2.Place(point=common_pb2.LatLon(lat=request.origin_lat, lon=request.origin_lon)),
            destination=common_pb2.Place(stop=request.destination_stop) if request.destination_stop is not None else
            common_pb2.Place(point=common_pb2.LatLon(lat=request.destination_lat, lon=request.destination_lon)),
        )  # fmt: skip
        resp = self._call(self.rider.Quote, msg)
        if resp.WhichOneof("result") == "rejection":
            r = resp.rejection
            return Rejection(request_id=r.request_id, reason=_REASON[r.reason], detail=r.detail)
        o = resp.offer
        return Offer(
            offer_id=o.offer_id, request_id=o.request_id, vehicle_id=o.vehicle_id, pickup_stop=o.pickup_stop,
            dropoff_stop=o.dropoff_stop, walk_to_pickup_m=o.walk_to_pickup_m, walk_from_dropoff_m=o.walk_from_dropoff_m,
            pickup_eta_s=o.pickup_eta_s, pickup_window_start_s=o.pickup_window_start_s,
            pickup_window_end_s=o.pickup_window_end_s, dropoff_eta_s=o.dropoff_eta_s,
            latest_dropoff_s=o.latest_dropoff_s, fare_krw=o.fare_krw, direct_distance_m=o.direct_distance_m,
            direct_time_s=o.direct_time_s, max_ride_s=o.max_ride_s, valid_until_s=o.valid_until_s, cost=0.0,
        )  # fmt: skip

    def book(self, offer_id: str, now_s: int) -> str:
        ride = self._call(self.rider.BookRide, rider_pb2.BookRideRequest(offer_id=offer_id, now_s=now_s))
        return str(ride.ride_id)

    def cancel(self, ride_id: str, now_s: int) -> bool:
        try:
            self._call(self.rider.CancelRide, rider_pb2.CancelRideRequest(ride_id=ride_id, now_s=now_s))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                return False
            raise
        return True

    def position(self, vehicle_id: str, stop: int, time_s: int) -> None:
        report = driver_pb2.LocationReport(vehicle_id=vehicle_id, stop=stop, time_s=time_s)
        self.driver.ReportLocation(iter([report]), timeout=self.timeout_s, metadata=self.metadata)

    def _stop_event(self, kind: Any, ride_id: str, time_s: int) -> None:
        vehicle = self._vehicle_of.get(ride_id, "")
        self._call(self.driver.ReportStopEvent,
                   driver_pb2.StopEvent(vehicle_id=vehicle, kind=kind, ride_id=ride_id, time_s=time_s))  # fmt: skip

    def boarded(self, ride_id: str, time_s: int) -> None:
        self._stop_event(driver_pb2.STOP_EVENT_KIND_BOARDED, ride_id, time_s)

    def alighted(self, ride_id: str, time_s: int) -> None:
        self._stop_event(driver_pb2.STOP_EVENT_KIND_ALIGHTED, ride_id, time_s)

    def no_show(self, ride_id: str, time_s: int) -> None:
        self._stop_event(driver_pb2.STOP_EVENT_KIND_NO_SHOW, ride_id, time_s)

    def next_stop(self, vehicle_id: str) -> NextStop | None:
        manifest = self._call(self.driver.GetManifest, driver_pb2.GetManifestRequest(vehicle_id=vehicle_id))
        if not manifest.stops:
            return None
        s = manifest.stops[0]
        self._vehicle_of[s.ride_id] = vehicle_id
        kind = "pickup" if s.kind == driver_pb2.STOP_KIND_PICKUP else "dropoff"
        return NextStop(s.ride_id, kind, s.stop, float(s.planned_s), s.service_s)

    def reoptimise(self, now_s: int, iterations: int) -> bool:
        rep = self._call(self.operator.Reoptimise, operator_pb2.ReoptimiseRequest(iterations=iterations, now_s=now_s))
        return bool(rep.adopted)

    def traffic(self, router: Router, now_s: int) -> None:
        """Send the traffic model's edge times (8 bytes per edge: the API's largest message)."""
        times = np.asarray(router.network.travel_time_s, dtype=np.float64)
        request = operator_pb2.UpdateTrafficRequest(edge_travel_time_s=times.tolist(), now_s=now_s)
        try:
            self._call(self.operator.UpdateTraffic, request)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or "larger than max" not in (exc.details() or ""):
                raise
            kib = -(-request.ByteSize() // 1024)
            raise EngineMismatch(
                f"the engine refused a traffic update of {kib} KiB ({times.size} edges, 8 bytes each): it reads "
                f"smaller messages ({exc.details()}); start `mobility serve` with --max-message-kb {kib} or "
                "more"
            ) from None

    def close(self) -> None:
        self.channel.close()
