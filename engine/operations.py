"""The engine's operations, each defined once.

An operation is one function ``fn(core, dispatcher, *args, **kwargs)`` that checks its input and
applies it on the writer thread (:mod:`engine.writer`), registered by :func:`operation` in
:data:`OPERATIONS` under its name. From this one list derive:

* the in-process API: ``EngineCore.quote(request, ...)`` etc. (each an :class:`Operation` used as
  a method: it queues the command and waits for its outcome, see :meth:`EngineCore.run`);
* the commands queued by name without waiting (:meth:`EngineCore.command`): what the servicers
  await and what front ends in other processes send (:mod:`engine.frontend`).

``mutates`` says whether the writer stages the dispatcher's changes after it (a read does not);
``post`` turns the result into the caller's answer after the commit (a rejection booked at once
is committed before it becomes the caller's error).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import numpy as np

from matching import Offer, Rejection, Request, StopEventKind
from matching.dispatcher import Dispatcher, ReoptimiseReport
from matching.errors import ConflictError, InvalidValueError, NotFoundError
from matching.pooling.model import TaxiRide

from .errors import InvalidInput, Rejected
from .ownership import check_offer, check_ride_on_vehicle
from .taxi import TaxiAsk, TaxiService, quote_dict

if TYPE_CHECKING:
    from .core import EngineCore

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
T = TypeVar("T")
#: A command as the writer runs it: ``(fn(dispatcher), mutates, post(result) or None)``.
Command = tuple[Callable[[Dispatcher], Any], bool, Callable[[Any], Any] | None]


@dataclass(frozen=True)
class Operation(Generic[P, R_co]):
    """One operation of the engine (see the module docstring). Read from an engine core, it is
    the method that runs it and waits for the answer (``core.quote(request)``)."""

    name: str
    apply: Callable[Concatenate[EngineCore, Dispatcher, P], Any]
    mutates: bool
    post: Callable[[Any], Any] | None = None
    doc: str = ""

    def bind(self, core: EngineCore, *args: P.args, **kwargs: P.kwargs) -> Command:
        """The command that applies this operation with these arguments on ``core``'s writer."""
        apply = self.apply
        return (lambda d: apply(core, d, *args, **kwargs)), self.mutates, self.post

    @overload
    def __get__(self, core: None, owner: type | None = None) -> Operation[P, R_co]: ...

    @overload
    def __get__(self, core: EngineCore, owner: type | None = None) -> Callable[P, R_co]: ...

    def __get__(self, core: EngineCore | None, owner: type | None = None) -> Operation[P, R_co] | Callable[P, R_co]:
        if core is None:
            return self

        def run(*args: P.args, **kwargs: P.kwargs) -> R_co:
            result: R_co = core.run(self.bind(core, *args, **kwargs))
            return result

        run.__name__ = self.name
        run.__doc__ = self.doc
        return run


#: Every operation, by name.
OPERATIONS: dict[str, Operation[..., Any]] = {}


def operation(
    *, mutates: bool, post: Callable[[Any], Any] | None = None
) -> Callable[[Callable[Concatenate[EngineCore, Dispatcher, P], R]], Operation[P, R]]:
    """Register the decorated function as the operation of its name (see the module docstring)."""

    def register(fn: Callable[Concatenate[EngineCore, Dispatcher, P], R]) -> Operation[P, R]:
        op: Operation[P, R] = Operation(fn.__name__, fn, mutates, post, fn.__doc__ or "")
        if op.name in OPERATIONS:
            raise ValueError(f"operation {op.name!r} is defined twice")
        OPERATIONS[op.name] = op
        return op

    return register


def _at(request: Request, now: int) -> Request:
    """``request`` for as soon as possible, stamped with the clock ``now`` of the command."""
    return replace(request, requested_time_s=now, submitted_time_s=now)


def _raise_rejection(result: Any) -> Any:
    """A request booked at once and rejected becomes the caller's :class:`Rejected` (after the
    rejection was committed)."""
    if isinstance(result, Rejection):
        raise Rejected(result.reason.value, result.detail)
    return result


def _counted(core: EngineCore, answer: T) -> T:
    """``answer``, with a rejection counted (FleetStatus ``requests_rejected``, and by reason)."""
    if isinstance(answer, Rejection):
        core.requests_rejected += 1
        core.rejected_by_reason[answer.reason.value] += 1
    return answer


# ---------------------------------------------------------------------------- rides
@operation(mutates=True)
def quote(
    core: EngineCore, d: Dispatcher, request: Request, now_s: int = 0, *, asap: bool = False
) -> Offer | Rejection:
    """Quote ``request``; ``asap``: for as soon as possible (its times are set to the clock
    when the writer runs it, however long it waited)."""
    now = core.now(now_s)
    request = _at(request, now) if asap else request
    if core.taxi:
        _check_ride_id_free(core, d, request.id)
    return _counted(core, d.quote(request, now))


@operation(mutates=True)
def book(
    core: EngineCore,
    d: Dispatcher,
    offer_id: str,
    idempotency_key: str = "",
    now_s: int = 0,
    *,
    rider_id: str | None = None,
) -> dict[str, Any]:
    """Book an offer; with ``rider_id`` only that rider's own offer. A retry with the same
    ``idempotency_key`` returns the ride booked the first time."""
    known = core.idempotency.known_ride(d, idempotency_key, rider_id)
    if known is not None:
        return core.views.ride_dict(known)
    check_offer(d, offer_id, rider_id)
    ride = d.book(offer_id, core.now(now_s), idempotency_key=idempotency_key or None)
    core.idempotency.remember(idempotency_key, ride.ride_id)
    return core.views.ride_dict(ride)


@operation(mutates=True, post=_raise_rejection)
def quote_and_book(
    core: EngineCore,
    d: Dispatcher,
    request: Request,
    idempotency_key: str = "",
    now_s: int = 0,
    *,
    rider_id: str | None = None,
    asap: bool = False,
) -> Any:
    """Quote ``request`` and book its offer in one command: the ride, or :class:`Rejected`.

    A retry with the same ``idempotency_key`` returns the ride booked the first time. The
    rejection is committed like a quote's (operators see it) before the caller hears of it.
    ``asap`` as for :func:`quote`.
    """
    known = core.idempotency.known_ride(d, idempotency_key, rider_id)
    if known is not None:
        return core.views.ride_dict(known)
    now = core.now(now_s)
    if core.taxi:
        _check_ride_id_free(core, d, request.id)
    answer = _counted(
        core,
        d.quote_and_book(_at(request, now) if asap else request, now, idempotency_key=idempotency_key or None),
    )
    if isinstance(answer, Rejection):
        return answer
    core.idempotency.remember(idempotency_key, answer.ride_id)
    return core.views.ride_dict(answer)


@operation(mutates=True)
def cancel(core: EngineCore, d: Dispatcher, ride_id: str, now_s: int = 0) -> dict[str, Any]:
    """Cancel the ride ``ride_id``; the ride."""
    return core.views.ride_dict(d.cancel(ride_id, core.now(now_s)))


@operation(mutates=False)
def get_ride(core: EngineCore, d: Dispatcher, ride_id: str) -> dict[str, Any]:
    """The ride ``ride_id``."""
    return core.views.ride_dict(d.get_ride(ride_id))


# ---------------------------------------------------------------------------- vehicles
@operation(mutates=True)
def position(core: EngineCore, d: Dispatcher, vehicle_id: str, stop: int, time_s: int) -> None:
    """The vehicle is at (or committed to) ``stop`` from ``time_s``, which may lie ahead: a
    vehicle reports where it will be next, so the clock does not move with it."""
    d.on_vehicle_position(vehicle_id, stop, max(int(time_s), core.now()))


@operation(mutates=True)
def stop_event(
    core: EngineCore, d: Dispatcher, vehicle_id: str, kind: StopEventKind | str, ride_id: str, stop: int, time_s: int
) -> int:
    """The vehicle arrived at ``stop``, or ride ``ride_id`` boarded, alighted or did not show
    (``kind``); the vehicle's planned stops."""
    v = d.vehicle_index_of(vehicle_id)
    t = core.now(time_s) if core.clock == "wall" else max(int(time_s), core.now(time_s))
    if kind == StopEventKind.ARRIVED:
        d.on_vehicle_position(vehicle_id, stop, t)
    else:
        ride = d.get_ride(ride_id)
        check_ride_on_vehicle(d, ride, vehicle_id)
        {
            StopEventKind.BOARDED: d.on_boarded,
            StopEventKind.ALIGHTED: d.on_alighted,
            StopEventKind.NO_SHOW: d.on_no_show,
        }[StopEventKind(kind)](ride_id, t)
    return d.plan.num_stops(v)


@operation(mutates=True)
def start_shift(
    core: EngineCore, d: Dispatcher, vehicle_id: str, stop: int | None = None, now_s: int = 0
) -> dict[str, Any]:
    """The driver starts (or resumes) the shift now, at ``stop`` if given; the vehicle's status."""
    now = core.now(now_s)
    if stop is not None:  # first: it checks the vehicle and the stop
        d.on_vehicle_position(vehicle_id, stop, now)
    d.start_shift(vehicle_id, now)
    return core.views.vehicle_status(d.vehicle_index[vehicle_id])


@operation(mutates=True)
def end_shift(core: EngineCore, d: Dispatcher, vehicle_id: str, now_s: int = 0) -> dict[str, Any]:
    """The driver ends the shift: no new rides for the vehicle (see
    :meth:`Dispatcher.end_shift`); the vehicle's status."""
    d.end_shift(vehicle_id, core.now(now_s))
    return core.views.vehicle_status(d.vehicle_index[vehicle_id])


@operation(mutates=False)
def vehicle_index(core: EngineCore, d: Dispatcher, vehicle_id: str) -> int:
    """The dispatcher's index of ``vehicle_id`` (NotFoundError if unknown)."""
    return d.vehicle_index_of(vehicle_id)


@operation(mutates=False)
def vehicle_view(core: EngineCore, d: Dispatcher, v: int) -> dict[str, Any]:
    """Vehicle ``v``'s status (:meth:`~engine.views.Views.vehicle_status`)."""
    return core.views.vehicle_status(v)


@operation(mutates=False)
def manifest_view(core: EngineCore, d: Dispatcher, v: int) -> dict[str, list[Any]]:
    """Vehicle ``v``'s manifest (:meth:`~engine.views.Views.manifest`)."""
    return core.views.manifest(v)


@operation(mutates=False)
def list_vehicles(core: EngineCore, d: Dispatcher) -> list[dict[str, Any]]:
    """Every vehicle's status (:meth:`~engine.views.Views.vehicles_status`: read for all at once)."""
    return core.views.vehicles_status()


@operation(mutates=False)
def vehicle_route(core: EngineCore, d: Dispatcher, vehicle_id: str) -> dict[str, Any]:
    """The I-MOD vehicle's planned route (:meth:`~engine.views.Views.vehicle_route`; NotFoundError
    naming the vehicle if there is none)."""
    return core.views.vehicle_route(d.vehicle_index_of(vehicle_id))


#: The ride statuses ListRides calls open (waiting for a match, assigned, on board).
OPEN_STATUSES = frozenset({"matching", "assigned", "on_board"})


@operation(mutates=False)
def list_rides(
    core: EngineCore, d: Dispatcher, service: str | None = None, open_only: bool = False, limit: int = 0
) -> list[dict[str, Any]]:
    """The rides of ``service`` (None: of every service), with ``open_only`` only those matching,
    assigned or on board; at most ``limit`` (0: all), the most recently booked first (ties: by
    ride id). One pass over the rides kept in memory."""
    rows: list[tuple[int, str, str, Any]] = []  # (booked at, ride id, service, ride)
    imod = core.deployment.imod_name
    if core.deployment.imod and service in (None, imod):
        for ride in d.rides.values():
            if not open_only or ride.status.value in OPEN_STATUSES:
                rows.append((ride.booked_at_s, ride.ride_id, imod, ride))
    for name, svc in core.taxi.items():
        if service in (None, name):
            for taxi_ride in svc.dispatcher.rides.values():
                if not open_only or taxi_ride.status.value in OPEN_STATUSES:
                    booked = taxi_ride.history[0][0] if taxi_ride.history else taxi_ride.request.request_time_s
                    rows.append((int(booked), taxi_ride.id, name, taxi_ride))
    key = lambda row: (row[0], row[1])  # noqa: E731
    chosen = heapq.nlargest(limit, rows, key=key) if limit > 0 else sorted(rows, key=key, reverse=True)
    out = []
    for _, _, name, ride in chosen:
        if name in core.taxi:
            out.append(core.taxi[name].ride_dict(ride))
        else:
            out.append({**core.views.ride_dict(ride), "service": name})
    return out


# ---------------------------------------------------------------------------- the operator's
@operation(mutates=False)
def fleet_kpis(core: EngineCore, d: Dispatcher) -> dict[str, Any]:
    """Live KPIs (:meth:`~engine.views.Views.fleet_status`)."""
    return core.views.fleet_status(d)


@operation(mutates=True)
def reoptimise(core: EngineCore, d: Dispatcher, iterations: int = 0, now_s: int = 0) -> ReoptimiseReport:
    """Re-optimise the plans: ``iterations`` (at most ``max_reoptimise_iterations``), or 0 for as
    many as fit in ``reoptimise_deadline_ms``; never longer than ``max_reoptimise_ms``."""
    if not 0 <= iterations <= core.max_reoptimise_iterations:
        raise InvalidInput("iterations", f"got {iterations} (allowed: 0 .. {core.max_reoptimise_iterations})")
    now = core.now(now_s)
    start = time.monotonic()
    cap = start + core.max_reoptimise_ms / 1000.0  # the writer is never held longer
    if iterations > 0:
        return d.reoptimise(iterations=iterations, deadline=cap, now_s=now)
    return d.reoptimise(deadline=min(cap, start + core.reoptimise_deadline_ms / 1000.0), now_s=now)


@operation(mutates=True)
def update_traffic(core: EngineCore, d: Dispatcher, edge_times: np.ndarray, now_s: int = 0) -> float:
    """New travel times of every edge (seconds); how long the update took (seconds)."""
    t0 = time.perf_counter()
    core.router = core.router.with_travel_times(edge_times)
    for service in core.taxi.values():
        service.retime(core.router)
    d.update_travel_times(core.router, core.now(now_s))  # the stops in use only: no stop matrix
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- the shared taxi's
def _taxi_op(core: EngineCore, fn: Callable[[], T]) -> T:
    """Run ``fn`` (a change of a shared-taxi dispatcher); an error other than the dispatcher's
    refusal of bad input (which changes nothing) rebuilds every dispatcher from the store before
    the next command, so that nothing half done stays."""
    try:
        return fn()
    except (InvalidValueError, NotFoundError, ConflictError, InvalidInput):
        raise
    except Exception:
        core.writer.needs_reload = True
        raise


def _check_ride_id_free(core: EngineCore, d: Dispatcher, ride_id: str) -> None:
    """ConflictError if a ride of any service has the id ``ride_id`` (ride ids are the deployment's)."""
    if ride_id in d.rides or any(ride_id in s.dispatcher.rides for s in core.taxi.values()):
        raise ConflictError(f"a ride {ride_id!r} exists already (ride ids are unique across the services)")


@operation(mutates=True)
def taxi_quote(
    core: EngineCore, d: Dispatcher, service: str, ask: TaxiAsk, now_s: int = 0
) -> dict[str, Any] | Rejection:
    """Quote a shared-taxi ride for now (the points snapped to road nodes): the fields of the
    ``Offer`` message, or the rejection. Books nothing."""
    svc = core.taxi_service(service)
    now = core.now(now_s)
    request = ask.request(core.network, now)
    answer = svc.dispatcher.quote(request, now)
    if isinstance(answer, Rejection):
        return answer  # a quote: the service's FleetStatus counts the rides it rejects
    return quote_dict(svc.name, answer, request)


@operation(mutates=True)
def taxi_book(
    core: EngineCore, d: Dispatcher, service: str, ask: TaxiAsk, idempotency_key: str = "", now_s: int = 0
) -> dict[str, Any]:
    """Book a shared-taxi ride for now: the ride, MATCHING until the next batch (or, for a service
    without batches, assigned or rejected at once). A retry with the same ``idempotency_key``
    returns the ride booked the first time."""
    svc = core.taxi_service(service)
    known = svc.known_ride(idempotency_key)
    if known is not None:
        return svc.ride_dict(known)
    now = core.now(now_s)
    request = ask.request(core.network, now)
    _check_ride_id_free(core, d, request.id)
    ride = _taxi_op(core, lambda: svc.submit(request, idempotency_key, now))
    return svc.ride_dict(ride)


def _find_taxi_ride(core: EngineCore, service: str | None, ride_id: str) -> tuple[TaxiService, TaxiRide] | None:
    """The shared-taxi service and ride ``ride_id`` (None: an I-MOD ride, when ``service`` is None
    or the I-MOD one); NotFoundError for a taxi service that has no such ride."""
    if service is not None and service in core.taxi:
        svc = core.taxi[service]
        return svc, svc.dispatcher.get_ride(ride_id)
    if service is None:
        for svc in core.taxi.values():
            ride = svc.dispatcher.rides.get(ride_id)
            if ride is not None:
                return svc, ride
    return None


@operation(mutates=False)
def ride_view(core: EngineCore, d: Dispatcher, service: str | None, ride_id: str) -> dict[str, Any]:
    """The ride ``ride_id`` of ``service`` (None: of whichever service has it), with its service."""
    found = _find_taxi_ride(core, service, ride_id)
    if found is not None:
        return found[0].ride_dict(found[1])
    return {**core.views.ride_dict(d.get_ride(ride_id)), "service": core.deployment.imod_name}


@operation(mutates=True)
def cancel_ride(core: EngineCore, d: Dispatcher, service: str | None, ride_id: str, now_s: int = 0) -> dict[str, Any]:
    """Cancel the ride ``ride_id`` of ``service`` (None: of whichever service has it); the ride."""
    found = _find_taxi_ride(core, service, ride_id)
    now = core.now(now_s)
    if found is not None:
        svc, _ = found
        return svc.ride_dict(_taxi_op(core, lambda: svc.dispatcher.cancel(ride_id, now)))
    return {**core.views.ride_dict(d.cancel(ride_id, now)), "service": core.deployment.imod_name}


@operation(mutates=True)
def taxi_locate(core: EngineCore, d: Dispatcher, service: str, vehicle_id: str, node: int, time_s: int) -> None:
    """The taxi's next plan starts at ``node`` at ``time_s`` (which may lie ahead: where it will be
    next; the clock does not move with it)."""
    svc = core.taxi_service(service)
    v = svc.taxi_row(vehicle_id)
    n = core.network.num_nodes
    if not 0 <= node < n:
        raise InvalidInput("node", f"got {node} (allowed: 0 .. {n - 1}, the road network's nodes)")
    t = max(int(time_s), core.now())
    svc.dispatcher.locate(vehicle_id, int(node), t)
    svc.dirty.add(v)


@operation(mutates=True)
def taxi_stop_event(
    core: EngineCore, d: Dispatcher, service: str, vehicle_id: str, kind: StopEventKind | str, ride_id: str,
    node: int | None, time_s: int,
) -> int:  # fmt: skip
    """The taxi reached ``node`` (ARRIVED), or ride ``ride_id`` boarded, alighted or did not show;
    the taxi's planned stops."""
    svc = core.taxi_service(service)
    v = svc.taxi_row(vehicle_id)
    t = core.now(time_s) if core.clock == "wall" else max(int(time_s), core.now(time_s))
    disp = svc.dispatcher
    if kind == StopEventKind.ARRIVED:
        if node is None:
            raise InvalidInput("node", "missing: a taxi's ARRIVED names the road node it reached")
        taxi_locate.apply(core, d, service, vehicle_id, node, t)
    else:
        ride = disp.get_ride(ride_id)
        if ride.vehicle_id != vehicle_id:
            raise ConflictError(f"ride {ride_id} is not on vehicle {vehicle_id}")
        step = {
            StopEventKind.BOARDED: disp.boarded,
            StopEventKind.ALIGHTED: disp.alighted,
            StopEventKind.NO_SHOW: disp.no_show,
        }[StopEventKind(kind)]
        _taxi_op(core, lambda: step(ride_id, t))
        svc.dirty.add(v)
    return len(disp.next_stops(vehicle_id))


@operation(mutates=False)
def taxi_vehicles(core: EngineCore, d: Dispatcher, service: str, vehicle_id: str | None = None) -> list[dict[str, Any]]:
    """The status of the service's taxi ``vehicle_id`` (None: of every taxi)."""
    svc = core.taxi_service(service)
    rows = range(len(svc.fleet)) if vehicle_id is None else [svc.taxi_row(vehicle_id)]
    return [svc.vehicle_status(v, core.clock_s) for v in rows]


@operation(mutates=False)
def taxi_manifest(core: EngineCore, d: Dispatcher, service: str, vehicle_id: str) -> dict[str, Any]:
    """The taxi's plan as manifest columns (each stop's road ``node``)."""
    svc = core.taxi_service(service)
    return svc.manifest(svc.taxi_row(vehicle_id))


@operation(mutates=False)
def taxi_route(core: EngineCore, d: Dispatcher, service: str, vehicle_id: str) -> dict[str, Any]:
    """The taxi's planned route (:meth:`~engine.taxi.TaxiService.vehicle_route`)."""
    svc = core.taxi_service(service)
    return svc.vehicle_route(svc.taxi_row(vehicle_id), core.clock_s)


@operation(mutates=False)
def taxi_kpis(core: EngineCore, d: Dispatcher, service: str) -> dict[str, Any]:
    """The service's live KPIs with its pooling KPIs (FleetStatus)."""
    kpis = core.taxi_service(service).kpis(core.clock_s)
    kpis["service_day"] = core.day.isoformat() if core.day is not None else ""
    return kpis


@operation(mutates=True)
def taxi_batches(core: EngineCore, d: Dispatcher, now_s: int = 0) -> int:
    """Run the shared-taxi batches that are due (the wall clock's timer queues this); how many ran."""
    now = core.now(now_s)
    return _taxi_op(core, lambda: core.run_taxi_batches(now))
