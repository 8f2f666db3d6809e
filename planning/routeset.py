"""Route sets: their representation, files, and the independent feasibility check.

A route is a sequence of node indices (0-based, ``int32``), run in both directions; a route set
is a tuple of routes. In files, nodes are named by the problem's ``node_ids`` (``"1" .. "n"``
for the benchmark, so the 1-based numbers the published route sets use):

* JSON: ``{"routes": [[1, 2, 3], [4, 2, 5]], ...}`` (numbers, or strings for other node ids;
  other keys are kept by the writer and ignored by the reader);
* text, as the published Mandl route sets are listed: one route per line, ``1-2-3``.

:func:`check_route_set` is the independent feasibility check every reported route set goes
through; it shares no code with the search or the evaluation kernel.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidRouteSetError, PlanningFileError
from .problem import TransitProblem

Route = NDArray[np.int32]
RouteSet = tuple[Route, ...]


def as_route_set(routes: Iterable[Sequence[int] | NDArray[Any]]) -> RouteSet:
    """Routes of 0-based node indices as a tuple of ``int32`` arrays."""
    return tuple(np.asarray(r, dtype=np.int32).reshape(-1) for r in routes)


def flatten(routes: Sequence[NDArray[Any]]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """``nodes`` and ``offsets`` (CSR): route ``r`` is ``nodes[offsets[r]:offsets[r + 1]]``."""
    lengths = np.fromiter((len(r) for r in routes), np.int64, len(routes))
    offsets = np.zeros(len(routes) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    nodes = np.concatenate([np.asarray(r, np.int32) for r in routes]) if routes else np.zeros(0, np.int32)
    return nodes.astype(np.int32, copy=False), offsets


def validate_route_set(problem: TransitProblem, routes: Sequence[Sequence[int] | NDArray[Any]]) -> RouteSet:
    """The routes as a :data:`RouteSet`, or :class:`InvalidRouteSetError` naming the first route
    that cannot be run at all: an unknown node, fewer than 2 stops, or two consecutive stops
    with no link. (A stop repeated, counts, lengths, coverage and the limits are rules a design
    may break, and some published route sets do: :func:`check_route_set` reports them.)"""
    out = as_route_set(routes)
    if not out:
        raise InvalidRouteSetError(-1, "no routes")
    n = problem.num_nodes
    t = problem.link_time_min
    for k, r in enumerate(out):
        if r.size < 2:
            raise InvalidRouteSetError(k, f"has {r.size} stop(s); a route needs at least 2")
        if r.min() < 0 or r.max() >= n:
            bad = int(r[(r < 0) | (r >= n)][0])
            raise InvalidRouteSetError(k, f"node index {bad} does not exist (allowed 0 .. {n - 1})")
        hop = t[r[:-1], r[1:]]
        back = t[r[1:], r[:-1]]
        if not (np.isfinite(hop) & np.isfinite(back)).all():
            i = int(np.flatnonzero(~(np.isfinite(hop) & np.isfinite(back)))[0])
            raise InvalidRouteSetError(
                k, f"no link between consecutive stops {problem.node_ids[r[i]]} and {problem.node_ids[r[i + 1]]}"
            )
    return out


def check_route_set(problem: TransitProblem, routes: Sequence[Sequence[int] | NDArray[Any]]) -> list[str]:
    """Every rule of the problem the route set breaks, in words (an empty list: feasible).

    Checked independently of the rest of :mod:`planning`, with plain Python: the route count,
    stops per route, no stop repeated in a route, consecutive stops linked (both directions),
    every node served, the route network connected (every node reachable from every other by
    riding and transferring), and the circuity and overlap limits when the rules set them."""
    rules = problem.rules
    n = problem.num_nodes
    t = problem.link_time_min
    found: list[str] = []
    rs = [[int(v) for v in r] for r in routes]
    if len(rs) != rules.num_routes:
        found.append(f"{len(rs)} routes, the rules ask for {rules.num_routes}")
    served: set[int] = set()
    parent = list(range(n))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for k, r in enumerate(rs, 1):
        if not rules.min_stops <= len(r) <= rules.max_stops:
            found.append(f"route {k}: {len(r)} stops (allowed {rules.min_stops} .. {rules.max_stops})")
        if any(not 0 <= v < n for v in r):
            found.append(f"route {k}: a node outside 0 .. {n - 1}")
            continue
        if len(set(r)) != len(r):
            found.append(f"route {k}: a stop repeated")
        for a, b in itertools.pairwise(r):
            if not (t[a, b] < float("inf") and t[b, a] < float("inf")):
                found.append(f"route {k}: no link {problem.node_ids[a]}-{problem.node_ids[b]}")
        served.update(r)
        for v in r[1:]:
            parent[root(v)] = root(r[0])
    missing = [problem.node_ids[v] for v in range(n) if v not in served]
    if missing:
        more = " ..." if len(missing) > 10 else ""
        found.append(f"{len(missing)} node(s) not served: {', '.join(missing[:10])}{more}")
    elif len({root(v) for v in range(n)}) > 1:
        found.append("the route network is not connected")
    if rules.max_circuity < float("inf") or rules.max_overlap < 1.0:
        sp = problem.shortest_time_min
        link_users: dict[tuple[int, int], int] = {}
        for r in rs:
            for a, b in itertools.pairwise(r):
                key = (min(a, b), max(a, b))
                link_users[key] = link_users.get(key, 0) + 1
        for k, r in enumerate(rs, 1):
            if len(r) < 2 or any(not 0 <= v < n for v in r):
                continue
            legs = list(itertools.pairwise(r))
            time = sum(float(t[a, b]) for a, b in legs)
            direct = float(sp[r[0], r[-1]])
            if direct > 0 and time / direct > rules.max_circuity + 1e-9:
                found.append(f"route {k}: circuity {time / direct:.3f} (allowed <= {rules.max_circuity:g})")
            shared = sum(float(t[a, b]) for a, b in legs if link_users[(min(a, b), max(a, b))] > 1)
            if time > 0 and shared / time > rules.max_overlap + 1e-9:
                found.append(f"route {k}: overlap {shared / time:.3f} (allowed <= {rules.max_overlap:g})")
    return found


def _node(problem: TransitProblem, token: Any, where: str, path: Path) -> int:
    key = str(token).strip()
    if isinstance(token, bool) or not isinstance(token, int | str) or not key:
        raise PlanningFileError(path, f"{where}: {token!r} is not a node")
    try:
        return problem.node_index(key)
    except KeyError:
        shown = ", ".join(problem.node_ids[:3])
        raise PlanningFileError(
            path, f"{where}: node {token!r} is not in {problem.name} (nodes are named {shown}, ...)"
        ) from None


def read_route_set(path: str | Path, problem: TransitProblem) -> RouteSet:
    """A route set from a JSON file (``{"routes": [[1, 2, 3], ...]}``) or a text file (one
    ``1-2-3`` route per line; blank lines and a leading count line are skipped), checked with
    :func:`validate_route_set` (a broken route is reported with the file's name)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanningFileError(p, "file not found") from None
    except UnicodeDecodeError:
        raise PlanningFileError(p, "not a text file") from None
    except OSError as exc:
        raise PlanningFileError(p, exc.strerror or "cannot be read") from None
    routes: list[list[int]] = []
    if text.lstrip().startswith(("{", "[")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanningFileError(p, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        raw = data.get("routes") if isinstance(data, dict) else data
        if not isinstance(raw, list) or not raw:
            raise PlanningFileError(p, 'expected {"routes": [[node, node, ...], ...]} with at least one route')
        for k, r in enumerate(raw, 1):
            if not isinstance(r, list):
                raise PlanningFileError(p, f"routes[{k - 1}]: expected a list of nodes")
            routes.append([_node(problem, v, f"route {k}", p) for v in r])
    else:
        for line_no, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if not s or (s.isdigit() and not routes and "-" not in s):
                continue
            if not re.fullmatch(r"[^\s-]+(\s*-\s*[^\s-]+)*", s):
                raise PlanningFileError(p, f"line {line_no}: expected a route like 1-2-3, got {s[:40]!r}")
            routes.append([_node(problem, v.strip(), f"line {line_no}", p) for v in s.split("-")])
        if not routes:
            raise PlanningFileError(p, "no routes in the file")
    try:
        return validate_route_set(problem, routes)
    except InvalidRouteSetError as exc:
        raise PlanningFileError(p, str(exc)) from None


def route_set_ids(problem: TransitProblem, routes: Sequence[NDArray[Any]]) -> list[list[int | str]]:
    """The routes named by node ids (as numbers where the ids are whole numbers)."""
    out: list[list[int | str]] = []
    for r in routes:
        out.append([int(s) if s.isdigit() else s for s in (problem.node_ids[int(v)] for v in r)])
    return out


def write_route_set(path: str | Path, problem: TransitProblem, routes: Sequence[NDArray[Any]], **extra: Any) -> Path:
    """Write ``{"routes": [...], "instance": name, **extra}`` as JSON (node ids; see the module docstring)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = {"routes": route_set_ids(problem, routes), "instance": problem.name, **extra}
    p.write_text(json.dumps(body, indent=1) + "\n")
    return p


def read_published_route_sets(path: str | Path) -> list[tuple[str, list[list[int]]]]:
    """The published Mandl route sets file: blocks of a title line, a count line and ``a-b-c``
    route lines (1-based), separated by blank lines. Returns ``(title, routes)`` with 0-based nodes."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PlanningFileError(p, exc.strerror or "cannot be read") from None
    out: list[tuple[str, list[list[int]]]] = []
    k = 0
    while k < len(lines):
        title = lines[k].strip()
        if not title:
            k += 1
            continue
        if k + 1 >= len(lines) or not lines[k + 1].strip().isdigit():
            raise PlanningFileError(p, f"line {k + 2}: expected the number of routes after {title!r}")
        count = int(lines[k + 1])
        routes = []
        for j in range(count):
            line_no = k + 3 + j
            s = lines[line_no - 1].strip() if line_no - 1 < len(lines) else ""
            if not re.fullmatch(r"\d+(-\d+)+", s):
                raise PlanningFileError(p, f"line {line_no}: expected a route like 1-2-3, got {s[:40]!r}")
            routes.append([int(v) - 1 for v in s.split("-")])
        out.append((title, routes))
        k += 2 + count
    return out
