"""Server lifecycle: ``create_server(settings) -> (server, port, core)``.

The server listens at once (so that health checks answer) and reports NOT_SERVING until the
network is loaded, the kernels are compiled and the state is rebuilt from the store; then
SERVING. Standard gRPC health checking (``grpc.health.v1``) and server reflection are on.

The server is a ``grpc.aio`` server with an interceptor that authenticates every call when it
starts and limits the streams (see :mod:`engine.gateway`); its settings
(:class:`~engine.settings.Settings`): ``max_message_kb`` (the largest message it reads),
``max_streams``, ``max_streams_per_caller``, ``max_streams_per_peer`` and
``max_streams_per_connection``.
"""

from __future__ import annotations

import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from matching.deployment import Deployment
from proto.mobility.v1 import driver_pb2, operator_pb2, rider_pb2

from .auth import TokenTable
from .core import EngineCore
from .dataplane import DataPlane
from .gateway import FrontDoor, GrpcServer, StreamSlots, service_handler
from .servicers import DriverServicer, OperatorServicer, RiderServicer
from .settings import Settings
from .store import open_store, redis_url_has_password

log = logging.getLogger(__name__)

_SERVICE_DESCRIPTORS = (
    rider_pb2.DESCRIPTOR.services_by_name["RiderService"],
    driver_pb2.DESCRIPTOR.services_by_name["DriverService"],
    operator_pb2.DESCRIPTOR.services_by_name["OperatorService"],
)
SERVICES = tuple(service.full_name for service in _SERVICE_DESCRIPTORS)


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


def server_options(settings: Settings) -> list[tuple[str, Any]]:
    """The gRPC channel arguments of the server ``settings`` describe.

    Without BDP probing the HTTP/2 flow-control windows keep their initial size (64 KiB) instead
    of growing to megabytes per stream on a fast link: a client sending large bodies can make
    the server hold at most that much of each before a handler looks at it. The API's messages
    are small (the largest, a traffic update, is tens of KiB), so nothing needs larger windows.
    Measured with 24 calls at once, each with a 20 MB body and no token: the server grew by 21-33
    MB with probing, by none without."""
    return [
        ("grpc.max_receive_message_length", settings.max_message_kb * 1024),
        ("grpc.max_concurrent_streams", settings.max_streams_per_connection),
        ("grpc.http2.bdp_probe", 0),
    ]


def build_grpc_server(core: DataPlane, tokens: TokenTable, settings: Settings) -> GrpcServer:
    """A gRPC server with the three services on ``core`` (a :class:`~engine.dataplane.DataPlane`:
    an :class:`EngineCore`, or a front end's :class:`~engine.frontend.RemoteCore`), the
    interceptor authenticating with ``tokens`` and limiting streams, health checking (NOT_SERVING
    for now) and reflection; not started, no port yet."""
    slots = StreamSlots(settings.max_streams, settings.max_streams_per_caller, settings.max_streams_per_peer)

    def build(pool: ThreadPoolExecutor) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
        server = grpc.aio.server(
            migration_thread_pool=pool, interceptors=[FrontDoor(tokens, slots)], options=server_options(settings)
        )
        servicers = (RiderServicer(core, pool), DriverServicer(core, pool), OperatorServicer(core, pool))
        pairs = zip(servicers, _SERVICE_DESCRIPTORS, strict=True)
        server.add_generic_rpc_handlers([service_handler(servicer, service) for servicer, service in pairs])
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection((*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        return server, health_servicer

    server = GrpcServer(build, workers=settings.workers)
    server.set_serving(False, SERVICES)
    return server


def listen(server: GrpcServer, settings: Settings, port: int | None = None) -> int:
    """Bind ``server`` to ``settings.host`` and ``port`` (default ``settings.port``), with TLS if the
    settings give a certificate (:mod:`engine.tls`); the bound port."""
    port = settings.port if port is None else port
    address = f"{settings.host}:{port}"
    tls = settings.server_tls()
    try:
        bound = server.add_insecure_port(address) if tls is None else server.add_secure_port(address, tls.credentials())
    except RuntimeError as exc:  # grpc.aio raises where grpc.server returned 0
        raise OSError(f"cannot listen on {address}") from exc
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


def create_server(settings: Settings, *, block_until_ready: bool = False) -> tuple[GrpcServer, int, EngineCore]:
    """Build and start the server; the core starts in the background (health says when it is ready),
    or at once with ``block_until_ready``, when an error starting it (the store cannot be reached,
    refuses the password) stops the server and is raised."""
    tokens = TokenTable.from_file(settings.tokens)
    core = core_from_settings(settings)
    store = core.store
    server = build_grpc_server(core, tokens, settings)
    port = listen(server, settings)
    server.start()

    def bring_up() -> None:
        core.start()
        server.set_serving(True)
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
