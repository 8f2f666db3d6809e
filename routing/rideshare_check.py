"""An independent checker of ride-sharing solutions in the HGA benchmark format.

The instance (Luo, Florio, Das & Guo, PVLDB 2023): a directed road graph (``X.xy``: node count,
then ``id x y``; ``X.d``: arc count, then ``from to time``), drivers (``X.drv``: ``id node``),
requests (``X.<k>.reqs``: ``id origin destination``). An instance takes the first ``requests``
requests and the first ``drivers`` drivers of those files and vans of ``capacity`` seats; each
request is one rider. Routes are open: a route starts at its driver's node and ends at its
last drop-off. The objective is the total travel time: per route, the sum of the shortest-path
times between consecutive stops, starting at the driver's node.

A solution is the JSON object ``{"routes": [{"driver": 0, "stops": [12, 5, -12, -5]}, ...],
"total": ...}``: ``driver`` is the driver's 0-based position in the ``.drv`` file, ``stops``
the request ids as in the ``.reqs`` file, ``+id`` for the pickup and ``-id`` for the drop-off.

**Independent on purpose.** This module reads the files with its own small parsers and
computes its own shortest paths; it imports nothing from :mod:`routing.rideshare` (the reader
and solver), so that a bug there cannot hide here. Shortest paths come from scipy's Dijkstra,
run only from the nodes where a leg of the solution starts or ends (in blocks of sources whose
distance rows fit in :data:`MAX_BLOCK_BYTES`), never a dense matrix of the whole graph. Of
parallel arcs between two nodes the fastest counts.

The checks (each failed one is a plain sentence in :attr:`RideshareCheck.violations`):

* the JSON has the right shape: an object with a list ``routes`` of objects with a whole
  number ``driver`` and a list ``stops`` of whole numbers, and a number ``total``;
* every driver position is in ``0 .. drivers-1`` and used by at most one route;
* every stop is ``+id`` or ``-id`` of one of the instance's requests (no unknown ids);
* each request is served exactly once: its pickup and its drop-off appear once each, on the
  same route, the pickup first;
* the load (riders on board) never exceeds ``capacity`` along any route;
* every leg has a path in the graph;
* the claimed ``total`` equals the recount to a relative 1e-9.

**Two metrics.** The recount is made twice: ``directed`` (a leg from ``a`` to ``b`` takes the
shortest-path time ``d(a, b)`` over the directed arcs, the objective as defined above) and
``symmetric`` (a leg takes ``(d(a, b) + d(b, a)) / 2``: what the HGA code's ``Route::cost``
sums, as its ``Instance::cost`` averages both directions on the real networks, so the
published HGA, pruneGDP and FESI totals are in this metric). ``metric`` says which one the
claimed total is compared with (default ``directed``); both totals are reported. The reverse
times come from the same Dijkstra runs (the row of a leg's end ``b`` gives ``d(b, a)``).

Memory: the instance's arrays (O(nodes + arcs + requests)) and one block of Dijkstra rows of
at most :data:`MAX_BLOCK_BYTES` at a time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.errors import InvalidArgumentError, NetworkFileError

__all__ = [
    "MAX_BLOCK_BYTES",
    "METRICS",
    "CheckInstance",
    "RideshareCheck",
    "check_rideshare",
    "check_rideshare_solution",
    "load_check_instance",
]

#: The largest block of Dijkstra rows (sources x graph nodes, float64) held at once.
MAX_BLOCK_BYTES = 64 << 20
#: The relative tolerance between a claimed total and the recount.
TOTAL_RTOL = 1e-9
#: The metrics of a recount (module docstring): the first is the default.
METRICS = ("directed", "symmetric")
#: How many examples a violation sentence lists before "...".
EXAMPLES = 8


@dataclass(frozen=True)
class CheckInstance:
    """What the checker needs of an instance, read by its own parsers.

    ``arc_tail``/``arc_head``/``arc_time`` hold one arc per ordered node pair (the fastest of
    parallel arcs). ``request_ids`` are the ids of the first ``requests`` lines of the
    ``.reqs`` file, ``origin``/``destination`` their nodes; ``driver_nodes`` the start nodes
    of the first ``drivers`` lines of the ``.drv`` file.
    """

    name: str
    num_nodes: int
    arc_tail: NDArray[np.int64]
    arc_head: NDArray[np.int64]
    arc_time: NDArray[np.float64]
    request_ids: NDArray[np.int64]
    origin: NDArray[np.int64]
    destination: NDArray[np.int64]
    driver_nodes: NDArray[np.int64]
    capacity: int


@dataclass(frozen=True)
class RideshareCheck:
    """The checker's verdict on one solution.

    Attributes:
        feasible: True when there is no violation at all (the claimed total included).
        total: the recounted total travel time in ``metric``; None when it cannot be
            recounted (an unknown stop, a driver out of range, a leg without a path, a
            malformed route).
        claimed_total: the solution's ``total`` (None when missing or not a number).
        total_agrees: whether ``claimed_total`` equals ``total`` to a relative 1e-9.
        metric: ``"directed"`` or ``"symmetric"``, the metric of ``total`` (module docstring).
        total_directed, total_symmetric: the recount in each metric (None as for ``total``).
        routes_used: routes with at least one stop.
        requests, drivers, capacity: the instance's size, as checked.
        violations: plain sentences, one per kind of violation (with examples).
    """

    feasible: bool
    total: float | None
    claimed_total: float | None
    total_agrees: bool
    routes_used: int
    requests: int
    drivers: int
    capacity: int
    violations: list[str]
    metric: str = "directed"
    total_directed: float | None = None
    total_symmetric: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The verdict as plain JSON-ready values."""
        return {
            "feasible": self.feasible,
            "total": self.total,
            "claimed_total": self.claimed_total,
            "total_agrees": self.total_agrees,
            "routes_used": self.routes_used,
            "requests": self.requests,
            "drivers": self.drivers,
            "capacity": self.capacity,
            "violations": list(self.violations),
            "metric": self.metric,
            "total_directed": self.total_directed,
            "total_symmetric": self.total_symmetric,
        }


# ---------------------------------------------------------------------------- files
def _files(folder: Path, network: str | None, reqs: str | None) -> tuple[str, Path, Path, Path, Path]:
    """``(name, xy, d, drv, reqs)`` of a flat folder or of the HGA repository's ``in/`` layout."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NetworkFileError(folder, "not a folder (give the folder holding X.xy, X.d, X.drv and X.<k>.reqs)")
    dirs = dict.fromkeys(("xy", "d", "drv", "reqs"), folder)
    for root in (folder / "in", folder):  # the HGA repository, or its in/ folder
        if (root / "coords").is_dir():
            dirs = {"xy": root / "coords", "d": root / "dists", "drv": root / "drivers", "reqs": root / "reqs"}
            break
    names = sorted(p.stem for p in dirs["xy"].glob("*.xy"))
    if network is None:
        if len(names) != 1:
            found = ", ".join(names) if names else "none"
            raise InvalidArgumentError("network", f"{len(names)} networks (*.xy) in {dirs['xy']}: {found}",
                                       "one of them, by name" if names else "a folder with one X.xy")  # fmt: skip
        network = names[0]
    elif network not in names:
        raise InvalidArgumentError("network", f"no {network}.xy in {dirs['xy']}", ", ".join(names) or "none found")
    paths = {kind: dirs[kind] / f"{network}.{kind}" for kind in ("xy", "d", "drv")}
    for path in paths.values():
        if not path.is_file():
            raise NetworkFileError(path, "file not found")
    if reqs is None:
        default = dirs["reqs"] / f"{network}.1.reqs"
        found_reqs = sorted(dirs["reqs"].glob(f"{network}.*.reqs"))
        if default.is_file():
            reqs_path = default
        elif len(found_reqs) == 1:
            reqs_path = found_reqs[0]
        else:
            listing = ", ".join(p.name for p in found_reqs) or "none"
            raise InvalidArgumentError("reqs", f"{len(found_reqs)} request files {network}.*.reqs in "
                                       f"{dirs['reqs']}: {listing}", "one of them, by name")  # fmt: skip
    else:
        # a path, a name in the folder (X.2.reqs or X.2), or the number k of X.<k>.reqs
        tries = [
            Path(reqs),
            dirs["reqs"] / reqs,
            dirs["reqs"] / f"{reqs}.reqs",
            dirs["reqs"] / f"{network}.{reqs}.reqs",
        ]
        reqs_path = next((p for p in tries if p.is_file()), tries[0])
        if not reqs_path.is_file():
            listing = ", ".join(p.name for p in sorted(dirs["reqs"].glob(f"{network}.*.reqs"))) or "none found"
            raise InvalidArgumentError("reqs", f"no request file {reqs!r}", f"a path or one of {listing}")
    name = f"{network}.{reqs_path.name.removesuffix('.reqs').removeprefix(network + '.')}"
    return name, paths["xy"], paths["d"], paths["drv"], reqs_path


def _open_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError:
        raise NetworkFileError(path, "not a text file") from None
    except OSError as exc:
        raise NetworkFileError(path, f"cannot read ({exc.strerror or exc})") from None


def _fields(path: Path, line_no: int, line: str, count: int, what: str) -> list[str]:
    parts = line.split()
    if len(parts) != count:
        raise NetworkFileError(path, f"line {line_no}: expected {count} fields ({what}), got {len(parts)}")
    return parts


def _int(path: Path, line_no: int, text: str, field: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise NetworkFileError(path, f"line {line_no}: {field} {text!r} is not a whole number") from None
    if value < low or (high is not None and value > high):
        allowed = f"{low} .. {high}" if high is not None else f">= {low}"
        raise NetworkFileError(path, f"line {line_no}: {field} {value} is out of range (allowed: {allowed})")
    return value


def _header(path: Path, lines: list[str], what: str) -> int:
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise NetworkFileError(path, f"empty file (expected the {what} on the first line)")
    return _int(path, first + 1, lines[first].strip(), what, 0 if what == "arc count" else 1)


def _read_arcs(path: Path, num_nodes: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    lines = _open_lines(path)
    count = _header(path, lines, "arc count")
    body = [(i + 1, line) for i, line in enumerate(lines) if line.strip()][1:]
    if len(body) < count:
        raise NetworkFileError(path, f"truncated: the header says {count} arcs, the file has {len(body)}")
    tail = np.empty(count, np.int64)
    head = np.empty(count, np.int64)
    time = np.empty(count, np.float64)
    for k, (no, line) in enumerate(body[:count]):
        a, b, t = _fields(path, no, line, 3, "from to travel_time")
        tail[k] = _int(path, no, a, "from node", 0, num_nodes - 1)
        head[k] = _int(path, no, b, "to node", 0, num_nodes - 1)
        try:
            time[k] = float(t)
        except ValueError:
            raise NetworkFileError(path, f"line {no}: travel_time {t!r} is not a number") from None
        if not (math.isfinite(time[k]) and time[k] >= 0):
            raise NetworkFileError(path, f"line {no}: travel_time {t} is out of range (allowed: finite, >= 0)")
    # One arc per ordered pair, the fastest: sort by (tail, head, time) and keep the first of each pair.
    order = np.lexsort((time, head, tail))
    tail, head, time = tail[order], head[order], time[order]
    first = np.ones(count, bool)
    first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    return tail[first], head[first], time[first]


def _read_pairs(path: Path, wanted: int, width: int, what: str, fields: str, num_nodes: int) -> list[list[int]]:
    """The first ``wanted`` non-empty lines of ``path``, each ``width`` whole numbers (id, then nodes)."""
    rows: list[list[int]] = []
    try:
        with path.open() as fh:
            for no, line in enumerate(fh, 1):
                if len(rows) == wanted:
                    break
                if not line.strip():
                    continue
                parts = _fields(path, no, line, width, fields)
                row = [_int(path, no, parts[0], "id", -(2**62))]
                row += [_int(path, no, p, f"{fields.split()[j + 1]} node", 0, num_nodes - 1)
                        for j, p in enumerate(parts[1:])]  # fmt: skip
                rows.append(row)
    except UnicodeDecodeError:
        raise NetworkFileError(path, "not a text file") from None
    except OSError as exc:
        raise NetworkFileError(path, f"cannot read ({exc.strerror or exc})") from None
    if len(rows) < wanted:
        raise InvalidArgumentError(what, f"got {wanted}, but {path.name} has {len(rows)}", f"1 .. {len(rows)}")
    return rows


def load_check_instance(
    folder: str | Path,
    *,
    requests: int,
    drivers: int,
    capacity: int,
    reqs: str | None = None,
    network: str | None = None,
) -> CheckInstance:
    """Read the instance the checker judges against (its own parsers; see the module docstring).

    ``folder`` is flat (``X.xy X.d X.drv X.<k>.reqs``) or the HGA repository's layout (``in/coords``,
    ``in/dists``, ``in/drivers``, ``in/reqs``; the repository or its ``in``). ``network`` names ``X``
    when the folder holds several networks; ``reqs`` is a request file: a path, a name in the
    folder (``X.2.reqs`` or ``X.2``) or the number ``k`` of ``X.<k>.reqs``; by default
    ``X.1.reqs``, or the only ``X.*.reqs``.
    Raises :class:`NetworkFileError` for a missing, truncated or malformed file and
    :class:`InvalidArgumentError` for a count out of range or duplicate request ids.
    """
    for field, value in (("requests", requests), ("drivers", drivers), ("capacity", capacity)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidArgumentError(field, f"got {value!r}", "whole numbers >= 1")
    name, xy, d, drv, reqs_path = _files(Path(folder), network, reqs)
    num_nodes = _header(xy, _open_lines(xy)[:1], "node count")
    tail, head, time = _read_arcs(d, num_nodes)
    req_rows = _read_pairs(reqs_path, int(requests), 3, "requests", "id origin destination", num_nodes)
    drv_rows = _read_pairs(drv, int(drivers), 2, "drivers", "id start", num_nodes)
    req = np.asarray(req_rows, np.int64).reshape(-1, 3)
    ids, counts = np.unique(req[:, 0], return_counts=True)
    if (counts > 1).any():
        raise NetworkFileError(reqs_path, f"request id {int(ids[counts > 1][0])} appears more than once "
                               f"in the first {requests} requests (ids must be unique)")  # fmt: skip
    if (req[:, 0] == 0).any():
        raise NetworkFileError(reqs_path, "request id 0 cannot be signed (+id pickup, -id drop-off); ids must be != 0")
    return CheckInstance(
        name=name,
        num_nodes=num_nodes,
        arc_tail=tail,
        arc_head=head,
        arc_time=time,
        request_ids=req[:, 0].copy(),
        origin=req[:, 1].copy(),
        destination=req[:, 2].copy(),
        driver_nodes=np.asarray([r[1] for r in drv_rows], np.int64),
        capacity=int(capacity),
    )


# ---------------------------------------------------------------------------- shortest paths
def _leg_times(inst: CheckInstance, legs: list[tuple[int, int]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(d(a, b), d(b, a))`` for each ``(a, b)`` leg: shortest-path times there and back (inf
    without a path). One Dijkstra from each distinct leg end (``a`` or ``b``), in blocks of
    sources: the row of ``a`` gives ``d(a, b)``, the row of ``b`` gives ``d(b, a)``."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    out = np.full(len(legs), np.inf)
    back = np.full(len(legs), np.inf)
    if not legs:
        return out, back
    n = inst.num_nodes
    graph = csr_matrix((inst.arc_time, (inst.arc_tail, inst.arc_head)), shape=(n, n))
    starting: dict[int, list[int]] = defaultdict(list)
    ending: dict[int, list[int]] = defaultdict(list)
    for k, (a, b) in enumerate(legs):
        starting[a].append(k)
        ending[b].append(k)
    sources = sorted(set(starting) | set(ending))
    block = max(1, MAX_BLOCK_BYTES // (8 * n))
    for start in range(0, len(sources), block):
        chunk = sources[start : start + block]
        rows = dijkstra(graph, directed=True, indices=chunk)
        for r, node in enumerate(chunk):
            for k in starting.get(node, ()):
                out[k] = rows[r, legs[k][1]]
            for k in ending.get(node, ()):
                back[k] = rows[r, legs[k][0]]
    return out, back


# ---------------------------------------------------------------------------- the check
def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _examples(items: list[Any]) -> str:
    shown = ", ".join(str(x) for x in items[:EXAMPLES])
    return shown + (", ..." if len(items) > EXAMPLES else "")


def _say(items: list[Any], one: str, many: str) -> str | None:
    """``one.format(x)`` for a single item, ``many.format(n, examples)`` for several, None for none."""
    if not items:
        return None
    if len(items) == 1:
        return one.format(items[0])
    return many.format(f"{len(items):,}", _examples(items))


def check_rideshare_solution(inst: CheckInstance, solution: Any, *, metric: str = "directed") -> RideshareCheck:
    """Judge ``solution`` (the parsed JSON) against ``inst``; never raises for a malformed solution.

    ``metric`` (``"directed"`` or ``"symmetric"``, see the module docstring) is the metric of the
    claimed total; an unknown one raises :class:`InvalidArgumentError`.
    """
    if metric not in METRICS:
        raise InvalidArgumentError("metric", f"got {metric!r}", " or ".join(METRICS))
    violations: list[str] = []
    num_drivers = len(inst.driver_nodes)
    index_of = {int(rid): k for k, rid in enumerate(inst.request_ids)}
    claimed: float | None = None
    routes: list[Any] = []
    if not isinstance(solution, dict):
        violations.append(f"The solution is a JSON {type(solution).__name__}, not an object with 'routes' and 'total'.")
    else:
        raw_total = solution.get("total")
        if "total" not in solution:
            violations.append("The solution has no 'total'.")
        elif not isinstance(raw_total, (int, float)) or isinstance(raw_total, bool) or not math.isfinite(raw_total):
            violations.append(f"The solution's 'total' is {raw_total!r}, not a finite number.")
        else:
            claimed = float(raw_total)
        if "routes" not in solution:
            violations.append("The solution has no 'routes'.")
        elif not isinstance(solution["routes"], list):
            violations.append(f"The solution's 'routes' is a {type(solution['routes']).__name__}, not a list.")
        else:
            routes = solution["routes"]

    bad_shape: list[int] = []
    bad_driver: list[str] = []
    bad_stops: list[str] = []
    unknown: list[int] = []
    seen_driver: dict[int, list[int]] = defaultdict(list)
    # request index -> list of (route, position) of its pickups / drop-offs
    pickups: dict[int, list[tuple[int, int]]] = defaultdict(list)
    dropoffs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    over_capacity: list[str] = []
    legs: list[tuple[int, int]] = []
    leg_route: list[int] = []
    costable = True
    used = 0
    for r, route in enumerate(routes):
        if not isinstance(route, dict) or "driver" not in route or "stops" not in route:
            bad_shape.append(r)
            costable = False
            continue
        driver, stops = route["driver"], route["stops"]
        driver_ok = _is_int(driver) and 0 <= driver < num_drivers
        if not driver_ok:
            bad_driver.append(f"route {r} has driver {driver!r}")
            costable = False
        else:
            seen_driver[driver].append(r)
        if not isinstance(stops, list) or not all(_is_int(s) for s in stops):
            what = type(stops).__name__ if not isinstance(stops, list) else "a list with an entry that is not"
            bad_stops.append(f"route {r} ({what} a whole number)" if isinstance(stops, list) else f"route {r} ({what})")
            costable = False
            continue
        if stops:
            used += 1
        load = 0
        reported = False
        prev = int(inst.driver_nodes[driver]) if driver_ok else -1
        for pos, stop in enumerate(stops):
            k = index_of.get(abs(stop)) if stop != 0 else None
            if k is None:
                unknown.append(stop)
                costable = False
                prev = -1
                continue
            if stop > 0:
                pickups[k].append((r, pos))
                load += 1
                node = int(inst.origin[k])
            else:
                dropoffs[k].append((r, pos))
                load -= 1
                node = int(inst.destination[k])
            if load > inst.capacity and not reported:
                over_capacity.append(f"route {r} carries {load} after stop {pos} ({stop})")
                reported = True
            if prev >= 0:
                legs.append((prev, node))
                leg_route.append(r)
            prev = node

    not_served, twice, order, split, no_drop, no_pick = [], [], [], [], [], []
    for k, rid in enumerate(inst.request_ids.tolist()):
        p, d = pickups.get(k, []), dropoffs.get(k, [])
        if not p and not d:
            not_served.append(rid)
        elif len(p) > 1 or len(d) > 1:
            twice.append(rid)
        elif not d:
            no_drop.append(rid)
        elif not p:
            no_pick.append(rid)
        elif p[0][0] != d[0][0]:
            split.append(rid)
        elif p[0][1] > d[0][1]:
            order.append(rid)

    twice_drivers = [f"{drv} (routes {', '.join(map(str, rs))})" for drv, rs in seen_driver.items() if len(rs) > 1]
    sentences = [
        _say(bad_shape, "Route {} is not an object with 'driver' and 'stops'.",
             "{} routes are not objects with 'driver' and 'stops': {}."),
        _say(bad_driver, f"Driver out of range: {{}} (allowed: whole numbers 0 .. {num_drivers - 1}).",
             f"{{}} routes have a driver out of range: {{}} (allowed: whole numbers 0 .. {num_drivers - 1})."),
        _say(twice_drivers, "Driver {} is used by more than one route.", "{} drivers are used by more than one "
             "route: {}."),
        _say(bad_stops, "The stops of {} are not a list of whole numbers.",
             "{} routes have stops that are not a list of whole numbers: {}."),
        _say(unknown, "Stop {} is not a request of the instance (allowed: +id or -id of its first "
             f"{len(inst.request_ids):,} requests).", "{} stops are not requests of the instance: {} (allowed: +id or "
             f"-id of its first {len(inst.request_ids):,} requests)."),
        _say(not_served, "Request {} is not served.", "{} requests are not served: {}."),
        _say(twice, "Request {} is picked up or dropped off more than once.",
             "{} requests are picked up or dropped off more than once: {}."),
        _say(no_drop, "Request {} is picked up but never dropped off.",
             "{} requests are picked up but never dropped off: {}."),
        _say(no_pick, "Request {} is dropped off but never picked up.",
             "{} requests are dropped off but never picked up: {}."),
        _say(split, "Request {} is picked up and dropped off on different routes.",
             "{} requests are picked up and dropped off on different routes: {}."),
        _say(order, "Request {} is dropped off before it is picked up.",
             "{} requests are dropped off before they are picked up: {}."),
        _say(over_capacity, f"Above the capacity {inst.capacity}: {{}}.",
             f"{{}} routes exceed the capacity {inst.capacity}: {{}}."),
    ]  # fmt: skip
    violations += [s for s in sentences if s]

    times, back = _leg_times(inst, legs)
    no_path = [f"{legs[i][0]} -> {legs[i][1]} (route {leg_route[i]})" for i in np.flatnonzero(~np.isfinite(times))]
    if no_path:
        costable = False
        violations.append(
            _say(no_path, "No path in the graph for the leg {}.", "{} legs have no path in the graph: {}.") or ""
        )
    no_back = [f"{legs[i][1]} -> {legs[i][0]} (route {leg_route[i]})" for i in np.flatnonzero(~np.isfinite(back))]
    if no_back and metric == "symmetric":
        one = "The symmetric metric needs the way back, and there is no path {}."
        many = "The symmetric metric needs the way back of every leg; {} have none: {}."
        violations.append(_say(no_back, one, many) or "")
    totals: dict[str, float | None] = dict.fromkeys(METRICS)
    if costable:
        for name, leg_time in (("directed", times), ("symmetric", (times + back) / 2)):
            per_route: dict[int, float] = defaultdict(float)
            for i, r in enumerate(leg_route):
                per_route[r] += float(leg_time[i])
            value = float(sum(per_route[r] for r in sorted(per_route)))
            totals[name] = value if math.isfinite(value) else None
    total = totals[metric]
    agrees = total is not None and claimed is not None and math.isclose(claimed, total, rel_tol=TOTAL_RTOL, abs_tol=0)
    if total is None:
        violations.append("The total cannot be recounted (see the violations above).")
    elif claimed is not None and not agrees:
        violations.append(f"The claimed total {claimed!r} differs from the recount {total!r} (allowed: relative 1e-9).")
    return RideshareCheck(
        feasible=not violations,
        total=total,
        claimed_total=claimed,
        total_agrees=agrees,
        routes_used=used,
        requests=len(inst.request_ids),
        drivers=num_drivers,
        capacity=inst.capacity,
        violations=violations,
        metric=metric,
        total_directed=totals["directed"],
        total_symmetric=totals["symmetric"],
    )


def check_rideshare(
    folder: str | Path,
    solution: Any,
    *,
    requests: int,
    drivers: int,
    capacity: int,
    reqs: str | None = None,
    network: str | None = None,
    metric: str = "directed",
) -> RideshareCheck:
    """Read the instance in ``folder`` and judge ``solution`` (the parsed JSON) against it.

    See the module docstring for the files, the solution format, the checks and ``metric``. A bad
    instance file or count raises a :class:`~routing.errors.RoutingError` (one line naming the
    file or the field); a malformed solution never raises, it gets violations.
    """
    inst = load_check_instance(folder, requests=requests, drivers=drivers, capacity=capacity, reqs=reqs,
                               network=network)  # fmt: skip
    return check_rideshare_solution(inst, solution, metric=metric)
