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

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import numpy as np

from matching import Offer, Rejection, Request, StopEventKind
from matching.dispatcher import Dispatcher, ReoptimiseReport

from .errors import InvalidInput, Rejected
from .ownership import check_offer, check_ride_on_vehicle

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
    """``answer``, with a rejection counted (FleetStatus ``requests_rejected``)."""
    if isinstance(answer, Rejection):
        core.requests_rejected += 1
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
    """Every vehicle's status."""
    return [core.views.vehicle_status(v) for v in range(d.plan.num_vehicles)]


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
    d.update_travel_times(core.router, core.now(now_s))  # the stops in use only: no stop matrix
    return time.perf_counter() - t0
