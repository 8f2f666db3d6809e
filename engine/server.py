"""Server lifecycle: ``create_server(settings) -> (server, port, core)``.

The server listens at once (so that health checks answer) and reports NOT_SERVING until the
network is loaded, the kernels are compiled and the state is rebuilt from the store; then
SERVING. Standard gRPC health checking (``grpc.health.v1``) and server reflection are on.
"""

from __future__ import annotations

import gc
import logging
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from matching.deployment import Deployment
from mobility.v1 import driver_pb2, driver_pb2_grpc, operator_pb2, operator_pb2_grpc, rider_pb2, rider_pb2_grpc

from .auth import TokenTable
from .core import EngineCore
from .servicers import DriverServicer, OperatorServicer, RiderServicer
from .settings import Settings
from .store import open_store, redis_url_has_password

log = logging.getLogger(__name__)

SERVICES = (
    rider_pb2.DESCRIPTOR.services_by_name["RiderService"].full_name,
    driver_pb2.DESCRIPTOR.services_by_name["DriverService"].full_name,
    operator_pb2.DESCRIPTOR.services_by_name["OperatorService"].full_name,
)


#: The garbage collector's thresholds in a server process (see :func:`settle_gc`).
GC_THRESHOLDS = (20_000, 20, 20)


def settle_gc() -> None:
    """Tune the garbage collector of a long-running server process, once it has started.

    What start-up built (road network, dispatcher, rides restored from the store) is frozen out
    of the collector's scans, and the youngest generation is collected after 20,000 new
    containers instead of 700 (a booking allocates a few hundred short-lived ones). Measured on
    the engine under load (BookRide at once, 8 clients, one front end): the writer spent 0.47 s
    of a 14 s round in the collector, 13 full collections of 30-65 ms each; after, 0.04 s.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def build_grpc_server(core: Any, tokens: TokenTable, settings: Settings) -> tuple[grpc.Server, health.HealthServicer]:
    """A gRPC server with the three services on ``core`` (an :class:`EngineCore`, or a front
    end's :class:`~engine.frontend.RemoteCore`), health checking (NOT_SERVING for now) and
    reflection; not started, no port yet."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="grpc"),
        options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
    )
    rider_pb2_grpc.add_RiderServiceServicer_to_server(RiderServicer(core, tokens), server)
    driver_pb2_grpc.add_DriverServiceServicer_to_server(DriverServicer(core, tokens), server)
    operator_pb2_grpc.add_OperatorServiceServicer_to_server(OperatorServicer(core, tokens), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    set_serving(health_servicer, False)
    reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    return server, health_servicer


def set_serving(health_servicer: health.HealthServicer, serving: bool) -> None:
    """Every service (and the server as a whole, "") SERVING or NOT_SERVING."""
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in ("", *SERVICES):
        health_servicer.set(name, status)


def listen(server: grpc.Server, settings: Settings, port: int | None = None) -> int:
    """Bind ``server`` to ``settings.host`` and ``port`` (default ``settings.port``), with TLS if the
    settings give a certificate (:mod:`engine.tls`); the bound port."""
    port = settings.port if port is None else port
    address = f"{settings.host}:{port}"
    tls = settings.server_tls()
    bound = server.add_insecure_port(address) if tls is None else server.add_secure_port(address, tls.credentials())
    if bound == 0:
        raise OSError(f"cannot listen on {settings.host}:{port}")
    return int(bound)


def core_from_settings(settings: Settings) -> EngineCore:
    """The engine core ``settings`` describe (scenario, store, clock, seed, re-optimisation), not started."""
    if settings.store != "memory" and redis_url_has_password(settings.store):
        log.warning(
            "the Redis password is in the --store URL, where ps and shell histories show it: "
            "use --redis-password-file or MOBILITY_REDIS_PASSWORD"
        )
    return EngineCore(
        Deployment.from_toml(settings.scenario, data_dir=settings.data_dir),
        open_store(settings.store, access=settings.redis_access(), retention_s=settings.retention_s),
        clock=settings.clock,
        timezone=settings.timezone,
        seed=settings.seed,
        reoptimise_every_s=settings.reoptimise_every_s,
        reoptimise_deadline_ms=settings.reoptimise_deadline_ms,
        max_queue=settings.max_queue,
        max_reoptimise_iterations=settings.max_reoptimise_iterations,
        max_reoptimise_ms=settings.max_reoptimise_ms,
        # in one process a favoured writer would starve the streams, which share its interpreter lock
        writer_nice=settings.writer_nice if settings.frontends else 0,
    )


def create_server(settings: Settings, *, block_until_ready: bool = False) -> tuple[grpc.Server, int, EngineCore]:
    """Build and start the server; the core starts in the background (health says when it is ready),
    or at once with ``block_until_ready``, when an error starting it (the store cannot be reached,
    refuses the password) stops the server and is raised."""
    tokens = TokenTable.from_file(settings.tokens)
    core = core_from_settings(settings)
    store = core.store
    server, health_servicer = build_grpc_server(core, tokens, settings)
    port = listen(server, settings)
    server.start()

    def bring_up() -> None:
        core.start()
        set_serving(health_servicer, True)
        log.info("serving on port %d (store %s)", port, store.name)

    def bring_up_in_background() -> None:
        try:
            bring_up()
        except Exception:
            log.exception("the engine failed to start")

    if block_until_ready:
        try:
            bring_up()  # a store that cannot be reached or refuses the password: the caller's error
        except BaseException:
            server.stop(0)
            raise
    else:
        threading.Thread(target=bring_up_in_background, name="engine-start", daemon=True).start()
    return server, port, core
