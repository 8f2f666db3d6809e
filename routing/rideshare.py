"""City-scale offline ride-sharing: the HGA benchmark's instances, read and solved.

The instance family is that of Luo, Florio, Das & Guo (PVLDB 2023, GitHub
amflorio/hga-dial-a-ride): a directed road graph (``X.xy``: node count, then ``id x y``;
``X.d``: arc count, then ``from to time``, float times), drivers (``X.drv``: ``id node``) and
requests (``X.<k>.reqs``: ``id origin destination``). An instance is the first ``requests``
requests of a ``.reqs`` file, the first ``drivers`` drivers as route starts and vans of
``capacity`` riders. Routes are OPEN (a route starts at its driver's node and ends at its last
drop-off); there are no time windows and no ride-time limits; every request is served by one
route, its pickup before its drop-off, with at most ``capacity`` riders on board at any time.
The objective is the total travel time: per route, the sum of the leg times between
consecutive stops, starting at the driver's node. An unused driver costs nothing. A leg from
``a`` to ``b`` costs, with ``metric="symmetric"`` (the default), ``(d(a, b) + d(b, a)) / 2``,
the mean of both directed shortest-path times, as the HGA code's ``Route::cost`` counts it
(its ``Instance::cost``): issue 20's objective and the metric of the published HGA, pruneGDP
and FESI totals. With ``metric="directed"`` a leg costs the directed time ``d(a, b)``.

Two folder layouts are read: a flat folder (``X.xy X.d X.drv X.<k>.reqs``, as bundled in
``../shared/data/rideshare/manhattan``) and the HGA repository's (``in/coords/X.xy``,
``in/dists/X.d``, ``in/drivers/X.drv``, ``in/reqs/X.<k>.reqs``).

Distances are exact (the file's float times, no rounding): one Dijkstra
(:func:`scipy.sparse.csgraph.dijkstra`) from each DISTINCT graph node in use (request origins
and destinations, driver nodes), with the columns restricted to those nodes, so the matrix is
``L x L`` float64 for ``L`` locations (Manhattan, 10,000 requests, 200 drivers: 2,838 locations,
64 MB). The sources run in blocks whose rows over the whole graph fit in
:data:`DIJKSTRA_BLOCK_BYTES`, so nothing of ``L x nodes`` is ever allocated.
The solver itself (:func:`solve_rideshare`) is in :mod:`routing.rideshare_kernels`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from .errors import InvalidArgumentError, NetworkFileError, plain_repr

__all__ = [
    "METRICS",
    "RideshareFiles",
    "RideshareInstance",
    "RideshareSolution",
    "find_files",
    "read_rideshare",
    "solution_json",
    "solve_rideshare",
]


#: Bytes of Dijkstra rows (sources x graph nodes) computed at a time while building the matrix.
DIJKSTRA_BLOCK_BYTES = 64 << 20

#: Leg costs of the objective: the directed shortest-path time, or the mean of both directions
#: (``"symmetric"``, the default of :func:`read_rideshare`: the HGA code's metric).
METRICS = ("directed", "symmetric")


@dataclass(frozen=True)
class RideshareFiles:
    """The four files of one instance and the network's name ``X``."""

    network: str
    xy: Path
    d: Path
    drv: Path
    reqs: Path


@dataclass(frozen=True)
class RideshareInstance:
    """One ride-sharing instance, read and ready for the solver.

    Request ``r`` (0-based, file order) is picked up at graph node ``origin[r]`` (location
    index ``origin_loc[r]``) and dropped off at ``destination[r]`` (``destination_loc[r]``);
    driver ``k`` (0-based position in the ``.drv`` file) starts at ``driver_nodes[k]``
    (``driver_loc[k]``). ``dist[a, b]`` is the shortest-path travel time from location ``a``
    to location ``b`` in the ``.d`` file's units (``inf`` if there is no path) with
    ``metric == "directed"``, or with ``metric == "symmetric"`` the mean of both directions; it
    is the objective's leg cost.
    """

    name: str
    request_ids: NDArray[np.int64]
    origin: NDArray[np.int64]
    destination: NDArray[np.int64]
    driver_nodes: NDArray[np.int64]
    capacity: int
    num_graph_nodes: int
    locations: NDArray[np.int64]
    dist: NDArray[np.float64]
    origin_loc: NDArray[np.int64]
    destination_loc: NDArray[np.int64]
    driver_loc: NDArray[np.int64]
    driver_ids: NDArray[np.int64]
    files: RideshareFiles | None = None
    read_s: float = 0.0
    matrix_s: float = 0.0
    metric: str = "symmetric"

    @property
    def num_requests(self) -> int:
        return int(self.request_ids.size)

    @property
    def num_drivers(self) -> int:
        return int(self.driver_nodes.size)


@dataclass(frozen=True)
class RideshareSolution:
    """A solution: used routes only, as ``(driver position, stops)``.

    ``stops`` are signed request ids as in the ``.reqs`` file: ``+id`` the pickup, ``-id`` the
    drop-off. ``total`` is the objective recounted from ``inst.dist`` in float64 (in the
    instance's ``metric``).
    ``runtime_s`` is the solver's wall time after compilation (construction + improvement),
    ``compile_s`` the time spent compiling (or loading from the cache) the Numba kernels,
    ``construction_s`` the part of ``runtime_s`` spent building the first solution.
    ``history`` holds ``(seconds since start, best total)`` each time the best improved, taken
    at the solver's clock checks (every few milliseconds).
    """

    routes: list[tuple[int, list[int]]]
    total: float
    runtime_s: float
    iterations: int
    compile_s: float
    history: list[tuple[float, float]] = field(default_factory=list)
    construction_s: float = 0.0
    construction_total: float = 0.0


# ----------------------------------------------------------------------------------------- files


def _stem_of_reqs(path: Path) -> str:
    # "Manhattan.1.reqs" -> "Manhattan.1"
    return path.name[: -len(".reqs")] if path.name.endswith(".reqs") else path.stem


def find_files(folder: str | Path, network: str | None = None, reqs: str | None = None) -> RideshareFiles:
    """Locate ``X.xy``, ``X.d``, ``X.drv`` and a requests file in ``folder``.

    ``folder`` is flat (``X.xy X.d X.drv X.<k>.reqs``) or the HGA repository's layout (``in/coords``,
    ``in/dists``, ``in/drivers``, ``in/reqs``; ``folder`` may be the repository or its ``in``).
    ``network`` picks ``X`` when there are several ``.xy`` files. ``reqs`` picks the requests file:
    a path, a file name in the requests folder (``Manhattan.2.reqs`` or ``Manhattan.2``) or just
    the number ``k`` of ``X.<k>.reqs``; by default ``X.1.reqs``, or the only ``X.*.reqs``.
    """
    base = Path(folder)
    if not base.is_dir():
        raise NetworkFileError(base, "folder not found (expected the instance folder)")
    layouts = [(base, base, base, base)]
    for root in (base / "in", base):
        if (root / "coords").is_dir():
            layouts.insert(0, (root / "coords", root / "dists", root / "drivers", root / "reqs"))
            break
    found_layout = next((lay for lay in layouts if any(lay[0].glob("*.xy"))), None)
    if found_layout is None:
        raise NetworkFileError(base, "no .xy file (expected X.xy X.d X.drv X.<k>.reqs, or in/coords/X.xy ...)")
    coords, dists, drivers, reqs_dir = found_layout
    names = [p.stem for p in sorted(coords.glob("*.xy"))]
    if network is None:
        if len(names) > 1:
            raise InvalidArgumentError("network", f"{coords} holds several networks", ", ".join(names))
        net = names[0]
    else:
        if network not in names:
            raise InvalidArgumentError("network", f"got {network!r}", ", ".join(names))
        net = network
    xy = coords / f"{net}.xy"
    d = dists / f"{net}.d"
    drv = drivers / f"{net}.drv"
    for p, what in ((d, "arcs"), (drv, "drivers")):
        if not p.is_file():
            raise NetworkFileError(p, f"file not found ({what} of network {net})")
    available = sorted(reqs_dir.glob(f"{net}.*.reqs"))
    if reqs is None:
        default = reqs_dir / f"{net}.1.reqs"
        if default.is_file():
            req_path = default
        elif len(available) == 1:
            req_path = available[0]
        elif not available:
            raise NetworkFileError(reqs_dir, f"no requests file {net}.<k>.reqs")
        else:
            raise InvalidArgumentError("reqs", "several requests files", ", ".join(p.name for p in available))
    else:
        candidates = [Path(reqs), reqs_dir / reqs, reqs_dir / f"{reqs}.reqs", reqs_dir / f"{net}.{reqs}.reqs"]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise InvalidArgumentError("reqs", f"got {reqs!r}", ", ".join(p.name for p in available) or "none found")
        req_path = found[0]
    return RideshareFiles(network=net, xy=xy, d=d, drv=drv, reqs=req_path)


def _read_rows(path: Path, columns: int, what: str, *, header: bool, limit: int | None = None) -> NDArray[np.float64]:
    """Rows of ``columns`` numbers; with ``header``, the first line is the row count and is checked.
    With ``limit``, only the first ``limit`` rows are read (fewer is an error naming the count)."""
    if not path.is_file():
        raise NetworkFileError(path, f"file not found ({what})")
    try:
        with open(path, encoding="ascii") as fh:
            count = None
            if header:
                first = fh.readline().split()
                if len(first) != 1 or not first[0].isdigit():
                    raise NetworkFileError(path, f"first line should be the {what} count, got {' '.join(first)!r}")
                count = int(first[0])
            lines = list(itertools.islice(fh, limit)) if limit is not None else fh.readlines()
    except UnicodeDecodeError as exc:
        raise NetworkFileError(path, f"not a text file ({exc})") from exc
    lines = [ln for ln in lines if ln.strip()]
    tokens = " ".join(lines).split()
    if len(tokens) != columns * len(lines):
        bad = next(i for i, ln in enumerate(lines) if len(ln.split()) != columns)
        raise NetworkFileError(
            path, f"line {bad + 1 + header}: expected {columns} values per {what}, got {len(lines[bad].split())}"
        )
    try:
        data = np.array(tokens, dtype=np.float64).reshape(len(lines), columns)
    except ValueError as exc:
        raise NetworkFileError(path, f"corrupt {what} file ({exc})") from exc
    if not np.all(np.isfinite(data)):
        raise NetworkFileError(path, f"corrupt {what} file (a value is not a finite number)")
    if count is not None and data.shape[0] != count:
        raise NetworkFileError(path, f"header says {count} {what}s, the file has {data.shape[0]} (truncated?)")
    return data


def _as_ids(values: NDArray[np.float64], path: Path, what: str) -> NDArray[np.int64]:
    ids = values.astype(np.int64)
    if not np.array_equal(ids, values):
        raise NetworkFileError(path, f"{what} must be whole numbers")
    return ids


def _too_many(field_name: str, value: int, available: int, path: Path) -> None:
    if available == 0:
        raise NetworkFileError(path, f"no {field_name} in the file")
    raise InvalidArgumentError(field_name, f"got {value}, {path.name} has only {available}", f"1 .. {available}")


def _unreachable(
    dist: NDArray[np.float64],
    origin_loc: NDArray[np.int64],
    destination_loc: NDArray[np.int64],
    driver_loc: NDArray[np.int64],
) -> tuple[int, int]:
    """The first request whose drop-off ``dist`` cannot reach from its pickup, and the first whose
    pickup no driver reaches (-1 for none). Reads rows of the distinct driver locations only."""
    no_ride = np.flatnonzero(~np.isfinite(dist[origin_loc, destination_loc]))
    reached = np.asarray(np.isfinite(dist[np.unique(driver_loc)]).any(axis=0))[origin_loc]
    no_driver = np.flatnonzero(~reached)
    return (int(no_ride[0]) if no_ride.size else -1), (int(no_driver[0]) if no_driver.size else -1)


def read_rideshare(
    folder: str | Path,
    *,
    requests: int,
    drivers: int,
    capacity: int,
    reqs: str | None = None,
    network: str | None = None,
    max_matrix_bytes: int = 4 << 30,
    metric: str = "symmetric",
) -> RideshareInstance:
    """Read an instance: the first ``requests`` requests, the first ``drivers`` drivers, vans of
    ``capacity`` riders (see :func:`find_files` for ``folder``, ``network`` and ``reqs``).

    Raises :class:`~routing.errors.NetworkFileError` for a missing, truncated or corrupt file or a
    node outside the graph, and :class:`~routing.errors.InvalidArgumentError` for an argument out
    of range: more requests or drivers than the files have, ``capacity < 1``, a distance matrix
    above ``max_matrix_bytes``, a request whose drop-off cannot be reached from its pickup or
    whose pickup cannot be reached from any of the drivers (both ways with ``"symmetric"``).

    ``max_matrix_bytes`` bounds the float64 matrix ``dist`` (``8 L^2`` bytes for ``L`` distinct
    locations); :func:`solve_rideshare` adds two float32 copies of it (as many bytes again).
    Only the first ``requests`` lines of the requests file are read.

    ``metric`` sets the leg cost of the objective (``inst.dist``): ``"symmetric"`` (the default),
    ``(d(a, b) + d(b, a)) / 2`` as in the HGA code (issue 20's objective, the metric of the
    published totals), or ``"directed"``, the shortest-path time ``d(a, b)``. Reachability is
    checked on the directed times either way, and with ``"symmetric"`` the way back too (from
    each drop-off to its pickup, from each pickup to one of the drivers): an
    :class:`~routing.errors.InvalidArgumentError` naming ``metric`` if it is missing.
    """
    t0 = time.perf_counter()
    if metric not in METRICS:
        raise InvalidArgumentError("metric", f"got {plain_repr(metric)}", ", ".join(METRICS))
    if not isinstance(capacity, int | np.integer) or isinstance(capacity, bool) or capacity < 1:
        raise InvalidArgumentError("capacity", f"got {plain_repr(capacity)}", "a whole number >= 1 riders")
    for name, value in (("requests", requests), ("drivers", drivers)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise InvalidArgumentError(name, f"got {plain_repr(value)}", "a whole number >= 1")
    files = find_files(folder, network=network, reqs=reqs)
    xy = _read_rows(files.xy, 3, "node", header=True)
    n = xy.shape[0]
    if n == 0:
        raise NetworkFileError(files.xy, "no nodes")
    node_ids = _as_ids(xy[:, 0], files.xy, "node ids")
    if not np.array_equal(np.sort(node_ids), np.arange(n)):
        raise NetworkFileError(files.xy, f"node ids must be 0 .. {n - 1}, each once")
    arcs = _read_rows(files.d, 3, "arc", header=True)
    tail = _as_ids(arcs[:, 0], files.d, "arc endpoints")
    head = _as_ids(arcs[:, 1], files.d, "arc endpoints")
    if arcs.shape[0] and (min(tail.min(), head.min()) < 0 or max(tail.max(), head.max()) >= n):
        bad_arc = int(np.flatnonzero((tail < 0) | (tail >= n) | (head < 0) | (head >= n))[0])
        raise NetworkFileError(files.d, f"arc {bad_arc + 1}: endpoint outside the graph's nodes 0 .. {n - 1}")
    if arcs.shape[0] and not np.all(arcs[:, 2] >= 0):
        raise NetworkFileError(files.d, "arc travel times must be >= 0")
    # the .drv and .reqs files have no header line
    drv_all = _read_rows(files.drv, 2, "driver", header=False, limit=drivers)
    if drv_all.shape[0] < drivers:
        _too_many("drivers", drivers, drv_all.shape[0], files.drv)
    req_all = _read_rows(files.reqs, 3, "request", header=False, limit=requests)
    if req_all.shape[0] < requests:
        _too_many("requests", requests, req_all.shape[0], files.reqs)
    driver_ids = _as_ids(drv_all[:, 0], files.drv, "driver ids")
    driver_nodes = _as_ids(drv_all[:, 1], files.drv, "driver nodes")
    request_ids = _as_ids(req_all[:, 0], files.reqs, "request ids")
    origin = _as_ids(req_all[:, 1], files.reqs, "request origins")
    destination = _as_ids(req_all[:, 2], files.reqs, "request destinations")
    for arr, path, what in (
        (driver_nodes, files.drv, "driver"),
        (origin, files.reqs, "request"),
        (destination, files.reqs, "request"),
    ):
        outside = np.flatnonzero((arr < 0) | (arr >= n))
        if outside.size:
            i = int(outside[0])
            raise NetworkFileError(
                path, f"{what} on line {i + 1}: node {arr[i]} outside the graph's nodes 0 .. {n - 1}"
            )
    if np.unique(request_ids).size != request_ids.size:
        raise NetworkFileError(files.reqs, "request ids must be unique")
    t_read = time.perf_counter()

    locations, inverse = np.unique(np.concatenate([origin, destination, driver_nodes]), return_inverse=True)
    num_loc = int(locations.size)
    need = num_loc * num_loc * 8
    if need > max_matrix_bytes:
        raise InvalidArgumentError(
            "max_matrix_bytes",
            f"the distance matrix over {num_loc} distinct locations needs {need} bytes, "
            f"max_matrix_bytes is {max_matrix_bytes}",
            f">= {need}, or fewer requests",
        )
    graph = csr_matrix((n, n))
    if arcs.shape[0]:  # csr_matrix would sum parallel arcs: keep the fastest of each instead
        order = np.lexsort((arcs[:, 2], head, tail))
        first = np.ones(order.size, dtype=bool)
        first[1:] = (tail[order][1:] != tail[order][:-1]) | (head[order][1:] != head[order][:-1])
        keep = order[first]
        # an arc of time 0 would vanish from a sparse matrix: scipy's csgraph treats explicit zeros
        # as edges only in dense input, so use a tiny positive stand-in and restore exact zeros below
        weights = np.where(arcs[keep, 2] > 0, arcs[keep, 2], np.finfo(np.float64).tiny)
        graph = csr_matrix((weights, (tail[keep], head[keep])), shape=(n, n))
    # Dijkstra rows cover the whole graph; take them a block of sources at a time, so that the
    # only L-sized allocation is the L x L matrix itself (never L x nodes).
    dist = np.empty((num_loc, num_loc), dtype=np.float64)
    block = max(1, DIJKSTRA_BLOCK_BYTES // (8 * n))
    for lo in range(0, num_loc, block):
        rows = dijkstra(graph, directed=True, indices=locations[lo : lo + block])
        dist[lo : lo + block] = rows[:, locations]
    dist[dist < 1e-300] = 0.0
    np.fill_diagonal(dist, 0.0)
    r = origin.size
    origin_loc = inverse[:r].astype(np.int64)
    destination_loc = inverse[r : 2 * r].astype(np.int64)
    driver_loc = inverse[2 * r :].astype(np.int64)
    no_ride, no_driver = _unreachable(dist, origin_loc, destination_loc, driver_loc)
    if no_ride >= 0:
        i = no_ride
        raise InvalidArgumentError(
            "requests",
            f"request {request_ids[i]}: its drop-off node {destination[i]} "
            f"cannot be reached from its pickup node {origin[i]}",
            "requests whose drop-off is reachable from the pickup",
        )
    if no_driver >= 0:
        i = no_driver
        raise InvalidArgumentError(
            "requests",
            f"request {request_ids[i]}: its pickup node {origin[i]} "
            f"cannot be reached from any of the {drivers} drivers",
            "requests reachable from a driver",
        )
    if metric == "symmetric":
        dist = dist + dist.T
        dist *= 0.5
        # a symmetric leg is finite only if both directions are: the same checks, now on the way back
        no_ride, no_driver = _unreachable(dist, origin_loc, destination_loc, driver_loc)
        if no_ride >= 0:
            i = no_ride
            raise InvalidArgumentError(
                "metric",
                f"symmetric needs the way back, and request {request_ids[i]} has no path from its drop-off node "
                f"{destination[i]} to its pickup node {origin[i]}",
                "directed, or a graph with both ways",
            )
        if no_driver >= 0:
            i = no_driver
            raise InvalidArgumentError(
                "metric",
                f"symmetric needs the way back, and request {request_ids[i]}'s pickup node {origin[i]} "
                f"has no path back to any of the {drivers} drivers",
                "directed, or a graph with both ways",
            )
    t_end = time.perf_counter()
    return RideshareInstance(
        name=_stem_of_reqs(files.reqs),
        request_ids=request_ids,
        origin=origin,
        destination=destination,
        driver_nodes=driver_nodes,
        capacity=int(capacity),
        num_graph_nodes=n,
        locations=locations.astype(np.int64),
        dist=dist,
        origin_loc=origin_loc,
        destination_loc=destination_loc,
        driver_loc=driver_loc,
        driver_ids=driver_ids,
        files=files,
        read_s=t_read - t0,
        matrix_s=t_end - t_read,
        metric=metric,
    )


# ---------------------------------------------------------------------------------------- output


def route_cost(inst: RideshareInstance, driver: int, stops: list[int]) -> float:
    """Travel time of one open route from ``inst.dist`` (float64): driver's node, then each stop."""
    index = {int(rid): i for i, rid in enumerate(inst.request_ids)}
    prev = int(inst.driver_loc[driver])
    total = 0.0
    for s in stops:
        r = index[abs(s)]
        loc = int(inst.origin_loc[r] if s > 0 else inst.destination_loc[r])
        total += float(inst.dist[prev, loc])
        prev = loc
    return total


def solution_json(sol: RideshareSolution) -> dict[str, Any]:
    """``{"routes": [{"driver": 0, "stops": [12, 5, -12, -5]}, ...], "total": ...}`` (used routes only)."""
    return {
        "routes": [{"driver": int(k), "stops": [int(s) for s in stops]} for k, stops in sol.routes],
        "total": float(sol.total),
    }


def solution_text(sol: RideshareSolution) -> str:
    """:func:`solution_json` as a JSON string."""
    return json.dumps(solution_json(sol))


def solve_rideshare(
    inst: RideshareInstance,
    *,
    time_limit_s: float | None = 20.0,
    iterations: int | None = None,
    seed: int = 1,
    progress: Callable[[float, float], None] | None = None,
) -> RideshareSolution:
    """Solve ``inst``; see :mod:`routing.rideshare_kernels` for the algorithm.

    Stops at ``time_limit_s`` seconds of wall time (counted from the call, compile time excluded)
    or after ``iterations`` ruin-and-recreate iterations, whichever comes first (at least one of
    them must be given). With ``iterations`` and no time limit the run is reproducible bit for
    bit for a ``seed``. ``progress(fraction done, best total)`` is called at each clock check.
    """
    from .rideshare_kernels import solve  # the kernels module imports this one's dataclasses

    return solve(inst, time_limit_s=time_limit_s, iterations=iterations, seed=seed, progress=progress)
