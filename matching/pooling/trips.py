"""The shareability graph and the feasible trips of every taxi in one batch (the RTV core).

The request-trip-vehicle method of Alonso-Mora et al. (PNAS 2017), as the batch dispatcher
uses it:

1. **Travel times.** The batch fetches only what it needs, through
   :class:`~routing.traveltime.TravelTimes`, into a local index: one block from the taxis'
   start nodes to the candidates' origins (``U x O``), one block among the stop nodes (the
   candidates' origins and destinations and the on-board riders' destinations, ``S x S``),
   and one pair per on-board rider (its taxi to its destination). ``U``, ``O`` and ``S`` are
   the distinct nodes, so the memory is at most ``8 * (U * O + S * S)`` bytes with ``U <= V``,
   ``O <= C`` and ``S <= 2 * C + B`` (``V`` taxis, ``C`` open and assigned requests, ``B`` on
   board): bounded by the batch's size, never by the network's.
2. **Shareability** (:func:`shareability`). Request-vehicle edges: an active taxi that
   reaches the origin by the latest pickup, kept when the request is among the taxi's
   ``candidates_per_vehicle`` nearest and the taxi among the request's
   ``vehicles_per_request`` nearest (a taxi's own assigned requests always). Request-request
   edges: two requests that some order of their four stops serves within both riders' limits,
   starting at the first origin at its earliest pickup (a relaxation: no taxi does better).
3. **Trips by size.** Size 1 from the request-vehicle edges; size ``k`` from a size ``k - 1``
   trip of the same taxi plus one of its single-request trips, when every ``k - 1``-subset is a
   trip of that taxi and (``k == 2``) the pair is shareable. Each candidate is checked by an
   exact search for its best stop order (:func:`matching.pooling.trip_kernel.best_order`). All
   taxis get their size-1 trips before any gets size 2, and so on, so that the time budget
   (``deadline``) and ``trips_per_vehicle`` (the cheapest kept) cut large trips, never small
   ones. The subset rule is exact when no pickup waits for its earliest time (every request
   already made, as in the dispatcher): then removing a request from a feasible trip leaves a
   feasible trip.
4. Every taxi's EMPTY trip (only its on-board drop-offs) and CURRENT trip (exactly the
   requests assigned to it) are always in the result, priced with the limits waived when they
   no longer hold (``feasible`` False): with the time limits waived (capacity, parties and solo
   kept), or, when even that fails, with every limit waived.

The result (:class:`~matching.pooling.tripset.Trips`) is grouped by taxi in taxi order; a
taxi's first trip is its EMPTY trip, then its CURRENT trip when it has assigned requests,
then its other trips by size, each size in ascending order of request rows
(:func:`fixed_trip_indices` finds the first two). Costs follow the contract of
:mod:`matching.pooling.tripset`; delays are ``max(0, drop-off - earliest - direct)`` and the
weighted sum is rounded half up.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from routing import TravelTimes

from ..errors import InvalidValueError
from .batch import ASSIGNED, ONBOARD, OPEN, BatchRequests, BatchVehicles
from .params import PoolingParams
from .trip_kernel import TripArrays, evaluate_sets, fixed_trips, grow_level, rr_graph, rv_graph
from .tripset import Trips

__all__ = [
    "Shareability",
    "TripPlan",
    "TripStats",
    "check_batch",
    "evaluate_trips",
    "fixed_trip_indices",
    "generate_trips",
    "search_trips",
    "shareability",
]

#: Taxis handed to one call of the growth kernel; the deadline is checked between calls.
CHUNK_VEHICLES = 128


class Shareability(NamedTuple):
    """The shareability graph of a batch."""

    rv_vehicle: NDArray[np.int64]
    """[E] taxi of each request-vehicle edge (edges by taxi, then request)."""
    rv_request: NDArray[np.int64]
    """[E] request of each edge."""
    rv_time_s: NDArray[np.int64]
    """[E] travel time from the taxi's start node to the request's origin."""
    rr_first: NDArray[np.int64]
    """[P] the smaller request of each shareable pair (pairs ascending)."""
    rr_second: NDArray[np.int64]
    """[P] the larger request of each pair."""


class TripPlan(NamedTuple):
    """The best stop order of one set of requests for one taxi (:func:`evaluate_trips`)."""

    cost: int
    """Route cost (the :mod:`~matching.pooling.tripset` contract)."""
    stops: NDArray[np.int64]
    """Stop codes in order: ``2 * r`` pickup of request ``r``, ``2 * r + 1`` its drop-off."""
    stop_time: NDArray[np.int64]
    """Planned service start of each stop."""
    feasible: bool
    """False only for a taxi's EMPTY or CURRENT set that no longer meets its limits."""


class TripStats(NamedTuple):
    """How one trip search went (:func:`search_trips`); times in wall-clock seconds."""

    gather_s: float
    """Fetching the travel times."""
    rv_s: float
    """The request-vehicle graph."""
    rr_s: float
    """The request-request graph."""
    fixed_s: float
    """The EMPTY and CURRENT trips."""
    grow_s: tuple[float, ...]
    """Growing the trips of each size (1, 2, ...)."""
    total_s: float
    rv_edges: int
    rr_pairs: int
    trips_by_size: tuple[int, ...]
    """Feasible trips found of each size (1, 2, ...), before dropping duplicates of CURRENT trips."""
    cut_by_deadline: bool
    """The deadline stopped the growth (larger trips were not looked for)."""
    vehicles_at_limit: int
    """Taxis that reached ``trips_per_vehicle``."""
    travel_time_bytes: int
    """Memory of the travel times the batch fetched."""


def _array(field: str, value: object, size: int | None, dtype: type) -> NDArray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise InvalidValueError(field, f"expected a one-dimensional array, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise InvalidValueError(field, f"has {arr.shape[0]} entries", f"{size}, one per row")
    if dtype is np.bool_:
        if arr.dtype != np.bool_:
            raise InvalidValueError(field, f"expected booleans, got {arr.dtype}")
        return np.ascontiguousarray(arr)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidValueError(field, f"expected integers, got {arr.dtype}")
    return np.ascontiguousarray(arr, np.int64)


def _at_least(field: str, arr: NDArray[np.int64], lo: int, hi: int | None = None) -> None:
    bad = (arr < lo) if hi is None else ((arr < lo) | (arr > hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        allowed = f">= {lo}" if hi is None else f"{lo} .. {hi}"
        raise InvalidValueError(f"{field}[{i}]", f"got {int(arr[i])}", allowed)


def check_batch(
    requests: BatchRequests, vehicles: BatchVehicles, num_nodes: int
) -> tuple[BatchRequests, BatchVehicles]:
    """The batch with every array checked and made contiguous ``int64`` (``bool`` flags).

    Raises :class:`~matching.errors.InvalidValueError` naming the field (``requests.origin``,
    ``vehicles.capacity[3]``, ...) when an array's length differs from its table's, or a value
    is out of range (nodes ``0 .. num_nodes - 1``, states OPEN/ASSIGNED/ONBOARD, the taxi of an
    assigned or on-board request a row of ``vehicles``, passengers and capacity >= 1).
    """
    nr = np.asarray(requests.origin).shape[0] if np.ndim(requests.origin) == 1 else None
    req: dict[str, Any] = {}
    for name in BatchRequests._fields:
        req[name] = _array(f"requests.{name}", getattr(requests, name), nr, np.bool_ if name == "solo" else np.int64)
    _at_least("requests.state", req["state"], OPEN, ONBOARD)
    req["state"] = req["state"].astype(np.int8)
    nv = np.asarray(vehicles.node).shape[0] if np.ndim(vehicles.node) == 1 else None
    veh: dict[str, Any] = {}
    for name in BatchVehicles._fields:
        veh[name] = _array(f"vehicles.{name}", getattr(vehicles, name), nv, np.bool_ if name == "active" else np.int64)
    r = BatchRequests(**req)
    v = BatchVehicles(**veh)
    _at_least("requests.origin", r.origin, 0, num_nodes - 1)
    _at_least("requests.destination", r.destination, 0, num_nodes - 1)
    _at_least("vehicles.node", v.node, 0, num_nodes - 1)
    _at_least("requests.passengers", r.passengers, 1)
    _at_least("requests.direct", r.direct, 0)
    _at_least("requests.max_ride", r.max_ride, 0)
    _at_least("vehicles.capacity", v.capacity, 1)
    placed = r.state != OPEN
    if placed.any():
        _at_least("requests.vehicle", np.where(placed, r.vehicle, 0), 0, v.size - 1)
    return r, v


class _Gathered(NamedTuple):
    arrays: TripArrays
    candidates: NDArray[np.int64]
    assigned_to: NDArray[np.int64]
    max_stops: int
    nbytes: int


def _group(keys: NDArray[np.int64], rows: NDArray[np.int64], n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``rows`` grouped by ``keys`` (``0 .. n-1``) as CSR, rows ascending within a group."""
    order = np.lexsort((rows, keys))
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr, np.ascontiguousarray(rows[order], np.int64)


def _gather(
    requests: BatchRequests,
    vehicles: BatchVehicles,
    times: TravelTimes,
    params: PoolingParams,
    need_req: NDArray[np.bool_],
    need_veh: NDArray[np.bool_],
    max_trip_size: int,
) -> _Gathered:
    """The kernels' arrays for the requests ``need_req`` and taxis ``need_veh`` (plus the
    on-board riders of those taxis), with the travel times they need."""
    nr, nv = requests.size, vehicles.size
    state = requests.state
    onboard = state == ONBOARD
    need_req = need_req | (onboard & need_veh[np.where(onboard, requests.vehicle, 0)])
    pick = need_req & ~onboard
    origin, dest = requests.origin, requests.destination
    stop_nodes = np.unique(np.concatenate([origin[pick], dest[need_req]]))
    origin_nodes = np.unique(origin[pick])
    start_nodes = np.unique(vehicles.node[need_veh])
    stop_o = np.where(pick, np.searchsorted(stop_nodes, origin), -1).astype(np.int64)
    stop_d = np.where(need_req, np.searchsorted(stop_nodes, dest), -1).astype(np.int64)
    col_o = np.where(pick, np.searchsorted(origin_nodes, origin), -1).astype(np.int64)
    row = np.where(need_veh, np.searchsorted(start_nodes, vehicles.node), -1).astype(np.int64)
    tt_vo = _block(times, start_nodes, origin_nodes)
    tt_ss = _block(times, stop_nodes, stop_nodes)
    first_ob = np.full(nr, -1, np.int64)
    ob = np.flatnonzero(onboard & need_req)
    if ob.size:
        first_ob[ob] = np.asarray(times.pairs(vehicles.node[requests.vehicle[ob]], dest[ob]), np.int64)
    ob_ptr, ob_req = _group(requests.vehicle[ob], ob, nv)
    cur = np.flatnonzero(state == ASSIGNED)
    cur_ptr, cur_req = _group(requests.vehicle[cur], cur, nv)
    longest = max(max_trip_size, int(np.diff(cur_ptr).max(initial=0)))
    max_stops = 2 * longest + int(np.diff(ob_ptr).max(initial=0))
    arrays = TripArrays(
        stop_o=stop_o,
        stop_d=stop_d,
        col_o=col_o,
        first_ob=first_ob,
        passengers=requests.passengers,
        earliest=requests.earliest_pickup,
        latest_pickup=requests.latest_pickup,
        latest_dropoff=requests.latest_dropoff,
        max_ride=requests.max_ride,
        direct=requests.direct,
        picked_at=requests.picked_at,
        solo=requests.solo,
        row=row,
        start_time=vehicles.time,
        capacity=vehicles.capacity,
        ob_ptr=ob_ptr,
        ob_req=ob_req,
        cur_ptr=cur_ptr,
        cur_req=cur_req,
        tt_vo=tt_vo,
        tt_ss=tt_ss,
        dwell=int(params.dwell_s),
        max_parties=int(params.max_parties),
        delay_weight=float(params.delay_weight),
    )
    candidates = np.flatnonzero(pick).astype(np.int64)
    assigned_to = np.where(state == ASSIGNED, requests.vehicle, -1).astype(np.int64)
    return _Gathered(arrays, candidates, assigned_to, max_stops, int(tt_vo.nbytes + tt_ss.nbytes + first_ob.nbytes))


def _block(times: TravelTimes, sources: NDArray[np.int64], targets: NDArray[np.int64]) -> NDArray[np.int64]:
    if sources.size == 0 or targets.size == 0:
        return np.zeros((max(sources.size, 1), max(targets.size, 1)), np.int64)
    return np.ascontiguousarray(times.block(sources, targets), np.int64)


def _shareability(
    g: _Gathered, vehicles: BatchVehicles, params: PoolingParams
) -> tuple[Shareability, NDArray[np.bool_], float, float]:
    t0 = time.perf_counter()
    ev, er, et = rv_graph(
        g.arrays,
        g.candidates,
        vehicles.active,
        g.assigned_to,
        int(params.candidates_per_vehicle),
        int(params.vehicles_per_request),
    )
    t1 = time.perf_counter()
    max_cap = int(vehicles.capacity.max(initial=0))
    rr = rr_graph(g.arrays, g.candidates, max_cap)
    first, second = np.nonzero(np.triu(rr, 1))
    t2 = time.perf_counter()
    share = Shareability(ev, er, et, g.candidates[first], g.candidates[second])
    return share, rr, t1 - t0, t2 - t1


def shareability(
    requests: BatchRequests, vehicles: BatchVehicles, times: TravelTimes, params: PoolingParams
) -> Shareability:
    """The batch's request-vehicle and request-request graphs (see the module docstring)."""
    requests, vehicles = check_batch(requests, vehicles, times.num_nodes)
    g = _gather(
        requests,
        vehicles,
        times,
        params,
        np.ones(requests.size, np.bool_),
        np.ones(vehicles.size, np.bool_),
        params.max_trip_size,
    )
    return _shareability(g, vehicles, params)[0]


def _take_segments(
    ptr: NDArray[np.int64], data: NDArray[np.int64], order: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """CSR segments ``order[0], order[1], ...`` of ``(ptr, data)`` as a new CSR."""
    lengths = np.diff(ptr)[order]
    new_ptr = np.zeros(order.size + 1, np.int64)
    np.cumsum(lengths, out=new_ptr[1:])
    idx = np.repeat(ptr[:-1][order] - new_ptr[:-1], lengths) + np.arange(new_ptr[-1], dtype=np.int64)
    return new_ptr, data[..., idx]


def search_trips(
    requests: BatchRequests,
    vehicles: BatchVehicles,
    times: TravelTimes,
    params: PoolingParams,
    *,
    deadline: float | None = None,
) -> tuple[Trips, TripStats]:
    """:func:`generate_trips` with statistics of the search (timings, counts, memory)."""
    start = time.perf_counter()
    if deadline is None:
        deadline = start + params.trip_time_budget_s
    requests, vehicles = check_batch(requests, vehicles, times.num_nodes)
    nv = vehicles.size
    g = _gather(
        requests, vehicles, times, params, np.ones(requests.size, np.bool_), np.ones(nv, np.bool_), params.max_trip_size
    )
    gather_s = time.perf_counter() - start
    share, rr, rv_s, rr_s = _shareability(g, vehicles, params)
    cand_index = np.full(requests.size, -1, np.int64)
    cand_index[g.candidates] = np.arange(g.candidates.size)

    t = time.perf_counter()
    f_veh, f_which, f_cost, f_feas, f_ptr, f_st = fixed_trips(g.arrays, g.max_stops)
    fixed_s = time.perf_counter() - t
    a = g.arrays
    cur_len = np.diff(a.cur_ptr)
    f_req_len = np.where(f_which == 1, cur_len[f_veh], 0)
    f_req_ptr = np.zeros(f_veh.size + 1, np.int64)
    np.cumsum(f_req_len, out=f_req_ptr[1:])
    f_req = a.cur_req[np.repeat(a.cur_ptr[f_veh] - f_req_ptr[:-1], f_req_len) + np.arange(f_req_ptr[-1])]

    # grow by size, all taxis one size at a time
    room = np.full(nv, int(params.trips_per_vehicle), np.int64)
    prev_ptr = np.arange(nv + 1, dtype=np.int64)
    prev_req = np.zeros((nv, 0), np.int64)
    ext_ptr, ext_req = _group(share.rv_vehicle, share.rv_request, nv)
    levels: list[
        tuple[
            NDArray[np.int64],
            NDArray[np.int64],
            NDArray[np.int64],
            NDArray[np.bool_],
            NDArray[np.int64],
            NDArray[np.int64],
        ]
    ] = []
    grow_s: list[float] = []
    cut = False
    for k in range(1, params.max_trip_size + 1):
        t = time.perf_counter()
        count = np.diff(prev_ptr)
        todo = np.flatnonzero((count >= (1 if k == 1 else k - 1)) & (np.diff(ext_ptr) > 0) & (room > 0))
        if k > 2:
            todo = todo[count[todo] >= k]  # k subsets of size k - 1 are needed
        if todo.size == 0:
            break
        parts = []
        for c0 in range(0, todo.size, CHUNK_VEHICLES):
            if time.perf_counter() > deadline:
                cut = True
                break
            parts.append(
                grow_level(
                    a,
                    k,
                    todo[c0 : c0 + CHUNK_VEHICLES],
                    prev_ptr,
                    prev_req,
                    ext_ptr,
                    ext_req,
                    rr,
                    cand_index,
                    room,
                    g.max_stops,
                )
            )
        if parts:
            veh = np.concatenate([p[0] for p in parts])
            req = np.concatenate([p[1] for p in parts])
            cost = np.concatenate([p[2] for p in parts])
            is_cur = np.concatenate([p[3] for p in parts])
            sp = [p[4] for p in parts]
            offsets = np.cumsum([0] + [int(x[-1]) for x in sp[:-1]])
            st_ptr = np.concatenate([[0]] + [x[1:] + o for x, o in zip(sp, offsets, strict=True)])
            st = np.concatenate([p[5] for p in parts], axis=1)
            levels.append((veh, req, cost, is_cur, st_ptr.astype(np.int64), st))
            prev_ptr = np.zeros(nv + 1, np.int64)
            np.cumsum(np.bincount(veh, minlength=nv), out=prev_ptr[1:])
            prev_req = np.ascontiguousarray(req)
            if k == 1:
                ext_ptr, ext_req = prev_ptr, np.ascontiguousarray(req[:, 0])
        grow_s.append(time.perf_counter() - t)
        if cut or not parts or veh.size == 0:
            break

    trips = _assemble(nv, (f_veh, f_which, f_cost, f_feas, f_ptr, f_st, f_req_ptr, f_req), levels)
    total = time.perf_counter() - start
    stats = TripStats(
        gather_s=gather_s,
        rv_s=rv_s,
        rr_s=rr_s,
        fixed_s=fixed_s,
        grow_s=tuple(grow_s),
        total_s=total,
        rv_edges=int(share.rv_vehicle.size),
        rr_pairs=int(share.rr_first.size),
        trips_by_size=tuple(int(lv[0].size) for lv in levels),
        cut_by_deadline=cut,
        vehicles_at_limit=int(np.count_nonzero(room <= 0)),
        travel_time_bytes=g.nbytes,
    )
    return trips, stats


def _assemble(nv: int, fixed: tuple, levels: list) -> Trips:
    f_veh, f_which, f_cost, f_feas, f_ptr, f_st, f_req_ptr, f_req = fixed
    vehs = [f_veh]
    keys = [f_which]
    costs = [f_cost]
    feas = [f_feas]
    req_lens = [np.diff(f_req_ptr)]
    reqs = [f_req]
    stop_lens = [np.diff(f_ptr)]
    stops = [f_st]
    for k, (veh, req, cost, is_cur, st_ptr, st) in enumerate(levels, start=1):
        keep = ~is_cur
        vehs.append(veh[keep])
        keys.append(np.full(int(keep.sum()), 1 + k, np.int64))
        costs.append(cost[keep])
        feas.append(np.ones(int(keep.sum()), np.bool_))
        req_lens.append(np.full(int(keep.sum()), k, np.int64))
        reqs.append(req[keep].ravel())
        lens = np.diff(st_ptr)
        mask = np.repeat(keep, lens)
        stop_lens.append(lens[keep])
        stops.append(st[:, mask])
    veh = np.concatenate(vehs)
    key = np.concatenate(keys)
    order = np.lexsort((key, veh))
    req_ptr = np.zeros(veh.size + 1, np.int64)
    np.cumsum(np.concatenate(req_lens), out=req_ptr[1:])
    stop_ptr = np.zeros(veh.size + 1, np.int64)
    np.cumsum(np.concatenate(stop_lens), out=stop_ptr[1:])
    new_req_ptr, req_all = _take_segments(req_ptr, np.concatenate(reqs), order)
    new_stop_ptr, st_all = _take_segments(stop_ptr, np.concatenate(stops, axis=1), order)
    return Trips(
        vehicle=np.ascontiguousarray(veh[order]),
        req_ptr=new_req_ptr,
        req=np.ascontiguousarray(req_all, np.int64),
        cost=np.ascontiguousarray(np.concatenate(costs)[order], np.int64),
        feasible=np.ascontiguousarray(np.concatenate(feas)[order]),
        stop_ptr=new_stop_ptr,
        stops=np.ascontiguousarray(st_all[0]),
        stop_time=np.ascontiguousarray(st_all[1]),
    )


def generate_trips(
    requests: BatchRequests,
    vehicles: BatchVehicles,
    times: TravelTimes,
    params: PoolingParams,
    *,
    deadline: float | None = None,
) -> Trips:
    """Every taxi's feasible trips of one batch, with their best stop orders and costs.

    ``deadline`` is a :func:`time.perf_counter` value (default: now +
    ``params.trip_time_budget_s``); the growth of trips stops there, after the current group
    of taxis (the EMPTY and CURRENT trips and the graphs are always computed). See the module
    docstring for the method and :class:`~matching.pooling.tripset.Trips` for the result.
    """
    return search_trips(requests, vehicles, times, params, deadline=deadline)[0]


def fixed_trip_indices(
    trips: Trips, requests: BatchRequests, num_vehicles: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``(empty, current)``: each taxi's EMPTY trip and CURRENT trip (its EMPTY trip when it has
    no assigned request) in ``trips`` as :func:`generate_trips` orders them."""
    first = np.searchsorted(trips.vehicle, np.arange(num_vehicles))
    assigned = np.bincount(
        np.asarray(requests.vehicle)[np.asarray(requests.state) == ASSIGNED], minlength=num_vehicles
    )[:num_vehicles]
    return first.astype(np.int64), (first + (assigned > 0)).astype(np.int64)


def evaluate_trips(
    requests: BatchRequests,
    vehicles: BatchVehicles,
    times: TravelTimes,
    params: PoolingParams,
    vehicle_ids: Sequence[int],
    request_sets: Sequence[Sequence[int]],
) -> list[TripPlan | None]:
    """The best stop order of ``request_sets[i]`` (open or assigned request rows) for taxi
    ``vehicle_ids[i]`` (a row of ``vehicles``), with its on-board riders; ``None`` when no
    order meets the limits, except for the taxi's EMPTY or CURRENT set, which is priced with
    the limits waived (``feasible`` False) as in :func:`generate_trips`.

    Fetches only the travel times of the taxis and requests named (the dispatcher's immediate
    quotes and insertions). Raises :class:`~matching.errors.InvalidValueError` naming
    ``vehicle_ids`` or ``request_sets`` for an unknown row, an on-board request, a repeated
    request in a set, or lists of different lengths.
    """
    requests, vehicles = check_batch(requests, vehicles, times.num_nodes)
    nv, nr = vehicles.size, requests.size
    if len(vehicle_ids) != len(request_sets):
        raise InvalidValueError(
            "request_sets", f"{len(request_sets)} sets for {len(vehicle_ids)} vehicle ids", "one set per vehicle id"
        )
    vids = np.asarray(list(vehicle_ids), np.int64) if len(vehicle_ids) else np.zeros(0, np.int64)
    if vids.size and (vids.min() < 0 or vids.max() >= nv):
        i = int(np.flatnonzero((vids < 0) | (vids >= nv))[0])
        raise InvalidValueError(f"vehicle_ids[{i}]", f"got {int(vids[i])}", f"a vehicle row, 0 .. {nv - 1}")
    sets = []
    for i, given in enumerate(request_sets):
        arr = np.asarray(list(given), np.int64) if len(given) else np.zeros(0, np.int64)
        if arr.size and (arr.min() < 0 or arr.max() >= nr):
            raise InvalidValueError(f"request_sets[{i}]", f"has {arr.tolist()}", f"request rows, 0 .. {nr - 1}")
        if arr.size and np.any(requests.state[arr] == ONBOARD):
            raise InvalidValueError(
                f"request_sets[{i}]",
                "names an on-board request",
                "open or assigned requests (on-board ones are implied)",
            )
        arr = np.sort(arr)
        if arr.size > 1 and np.any(arr[1:] == arr[:-1]):
            raise InvalidValueError(f"request_sets[{i}]", f"repeats a request in {arr.tolist()}", "distinct rows")
        sets.append(arr)
    if not sets:
        return []
    need_req = np.zeros(nr, np.bool_)
    for arr in sets:
        need_req[arr] = True
    need_veh = np.zeros(nv, np.bool_)
    need_veh[vids] = True
    longest = max(arr.size for arr in sets)
    g = _gather(requests, vehicles, times, params, need_req, need_veh, longest)
    a = g.arrays
    set_ptr = np.zeros(len(sets) + 1, np.int64)
    np.cumsum([arr.size for arr in sets], out=set_ptr[1:])
    set_req = np.concatenate(sets)
    relax = np.zeros(len(sets), np.bool_)
    for i, (v, arr) in enumerate(zip(vids.tolist(), sets, strict=True)):
        cur = a.cur_req[a.cur_ptr[v] : a.cur_ptr[v + 1]]
        relax[i] = arr.size == 0 or (arr.size == cur.size and bool(np.all(arr == cur)))
    cost, feas, ptr, st = evaluate_sets(a, vids, set_ptr, set_req, relax, g.max_stops)
    out: list[TripPlan | None] = []
    for i in range(len(sets)):
        if cost[i] < 0:
            out.append(None)
        else:
            sl = slice(int(ptr[i]), int(ptr[i + 1]))
            out.append(TripPlan(int(cost[i]), st[0, sl].copy(), st[1, sl].copy(), bool(feas[i])))
    return out


def warm_up() -> float:
    """Compile the trip kernels (or load them from Numba's cache) on a tiny batch; the seconds it took.

    Call it at start-up so that the first batch's deadline is not spent compiling.
    """
    from routing import MatrixTimes

    start = time.perf_counter()
    times = MatrixTimes(np.array([[0, 60, 90], [60, 0, 60], [90, 60, 0]]))
    i = np.array([0, 1, 2], np.int64)
    requests = BatchRequests(
        origin=np.array([0, 1, 2], np.int64),
        destination=np.array([2, 2, 0], np.int64),
        passengers=np.ones(3, np.int64),
        earliest_pickup=np.zeros(3, np.int64),
        latest_pickup=np.full(3, 600, np.int64),
        latest_dropoff=np.full(3, 1200, np.int64),
        max_ride=np.full(3, 600, np.int64),
        direct=np.array([90, 60, 90], np.int64),
        solo=np.zeros(3, np.bool_),
        state=np.array([OPEN, ASSIGNED, ONBOARD], np.int8),
        vehicle=np.array([-1, 0, 0], np.int64),
        picked_at=np.array([-1, -1, 0], np.int64),
    )
    vehicles = BatchVehicles(i[:2], np.zeros(2, np.int64), np.full(2, 4, np.int64), np.ones(2, np.bool_))
    params = PoolingParams(trip_time_budget_s=600.0)
    generate_trips(requests, vehicles, times, params)
    evaluate_trips(requests, vehicles, times, params, [0, 1], [[0, 1], [0]])
    return time.perf_counter() - start
