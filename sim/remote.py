"""The simulator against a live engine: riders and drivers played over gRPC.

:class:`RemoteBackend` implements the simulator's backend interface with the engine's public
API (``mobility.v1``; :mod:`proto.convert` converts to and from the matching model): quotes and
bookings through RiderService, positions, manifests and stop events through DriverService,
re-optimisation and traffic through OperatorService. The engine must run with ``--clock
external`` (every call carries the simulated time) and the scenario's seed (``mobility serve
--scenario S --seed N``), so that it holds the same fleet; then a day played remotely gives the
same assignments as the same day in-process.

To an engine that serves TLS (``mobility serve --tls-cert``), give :class:`ClientTLS`: the CA
that signed the server's certificate (None: the system's CAs) and, when the engine requires
client certificates (``--tls-client-ca``), this client's certificate and key. A bearer token can
be read from a file (:func:`proto.client.read_token_file`), so that it does not show in ``ps``.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matching import Offer, Rejection, Request, StopEventKind, StopKind
from proto import convert as pc
from proto.client import ClientTLS, engine_channel
from proto.mobility.v1 import driver_pb2, driver_pb2_grpc, operator_pb2, operator_pb2_grpc, rider_pb2, rider_pb2_grpc
from routing import Router

from .simulator import NextStop


class EngineMismatch(RuntimeError):
    """The engine does not run the scenario the simulation expects (fleet or clock), or is set up
    too small for it (a traffic update larger than the messages it reads)."""


class EngineUnreachable(RuntimeError):
    """No engine answers at the target (nothing listens, TLS refused, not serving yet)."""


class EngineRefused(RuntimeError):
    """The engine answers but refuses this client's token (none, unknown, or not an operator's)."""


class RemoteBackend:
    """The simulator's backend over gRPC (see the module docstring)."""

    def __init__(
        self, target: str, *, token: str | None = None, tls: ClientTLS | None = None, timeout_s: float = 30.0
    ) -> None:
        self.target = target
        self.channel = engine_channel(target, tls, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
        self.rider = rider_pb2_grpc.RiderServiceStub(self.channel)
        self.driver = driver_pb2_grpc.DriverServiceStub(self.channel)
        self.operator = operator_pb2_grpc.OperatorServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s
        self._vehicle_of: dict[str, str] = {}  # ride -> the vehicle whose manifest named it
        self._booked: set[str] = set()  # the rides this simulation booked

    def _call(self, method: Any, request: Any) -> Any:
        return method(request, timeout=self.timeout_s, metadata=self.metadata)

    def check_engine(self, timeout_s: float = 5.0) -> None:
        """Fail early, in one line, unless an engine at the target says SERVING (asked through the
        standard health service, which needs no token; else :class:`EngineUnreachable`) and takes
        this client's token for an operator's call (else :class:`EngineRefused`)."""
        health = health_pb2_grpc.HealthStub(self.channel)
        try:
            reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s, metadata=self.metadata)
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                raise EngineUnreachable(
                    f"{self.target} answers, but it is not a mobility engine (no health service)"
                ) from None
            raise EngineUnreachable(
                f"the engine at {self.target} cannot be reached ({code.name}: {details}); is `mobility serve` running "
                "there, and with the same TLS settings?"
            ) from None
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise EngineUnreachable(f"the engine at {self.target} is not serving yet (still starting?)")
        try:  # the token: an operator's call (the run needs one)
            self._call(self.operator.ListVehicles, operator_pb2.ListVehiclesRequest())
        except grpc.RpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                raise EngineRefused(
                    f"the engine at {self.target} refused the token ({exc.code().name}: {exc.details()}); "
                    "a simulation needs an operator's token (--token or --token-file)"
                ) from None
            raise

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
        return pc.quote_answer(self._call(self.rider.Quote, pc.quote_request(request, now_s)))

    def book(self, offer_id: str, now_s: int) -> str:
        ride = self._call(self.rider.BookRide, rider_pb2.BookRideRequest(offer_id=offer_id, now_s=now_s))
        self._booked.add(ride.ride_id)
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

    def _stop_event(self, kind: StopEventKind, ride_id: str, time_s: int) -> None:
        vehicle = self._vehicle_of.get(ride_id, "")
        event = driver_pb2.StopEvent(vehicle_id=vehicle, kind=pc.STOP_EVENT_KIND[kind], ride_id=ride_id, time_s=time_s)
        self._call(self.driver.ReportStopEvent, event)

    def boarded(self, ride_id: str, time_s: int) -> None:
        self._stop_event(StopEventKind.BOARDED, ride_id, time_s)

    def alighted(self, ride_id: str, time_s: int) -> None:
        self._stop_event(StopEventKind.ALIGHTED, ride_id, time_s)

    def no_show(self, ride_id: str, time_s: int) -> None:
        self._stop_event(StopEventKind.NO_SHOW, ride_id, time_s)

    def next_stop(self, vehicle_id: str) -> NextStop | None:
        manifest = self._call(self.driver.GetManifest, driver_pb2.GetManifestRequest(vehicle_id=vehicle_id))
        if not manifest.stops:
            return None
        s = manifest.stops[0]
        if s.ride_id not in self._booked:
            raise EngineMismatch(
                f"vehicle {vehicle_id} is to serve ride {s.ride_id}, which this simulation did not book: another "
                "client books rides on this engine. A simulation needs an engine of its own (a fresh `mobility "
                "serve --clock external` with the scenario's --scenario and --seed)"
            )
        self._vehicle_of[s.ride_id] = vehicle_id
        kind = pc.STOP_KIND_FROM_PROTO.get(s.kind, StopKind.DROPOFF)
        return NextStop(s.ride_id, kind, s.stop, float(s.planned_s), s.service_s)

    def checkpoint(self, checkpoint_id: str, time_s: int) -> None:
        """Not offered: the engine's API has no checkpoints (semi-fixed routes run in process only)."""
        raise NotImplementedError("semi-fixed checkpoints run with the in-process dispatcher only")

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
