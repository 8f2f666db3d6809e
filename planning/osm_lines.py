"""A city's existing bus lines from its OpenStreetMap file, on a planning problem's nodes.

:func:`read_osm_bus_lines` reads the bus route relations of an OSM file (XML, bz2/gz XML or
PBF, read with pyosmium) and turns each *line* into a route of the planning graph, so that the
existing network can be evaluated and compared (:func:`planning.compare.compare_networks`) on
the same problem as a redesign.

1. **Relations.** Every relation tagged ``type=route`` and ``route=bus`` is a variant (one
   direction, or a branch) of a line. Variants with the same ``ref`` are one line; a relation
   without ``ref`` is a line of its own (named by ``name``, else by its id).
2. **Stops of a variant.** Its members, in order, that are stops: node members whose role
   names a stop or a platform (``stop``, ``stop_entry_only``, ``platform``,
   ``platform_exit_only``, the older ``start_stop``, ``forward:stop``, ...), node members
   without a role that are tagged as bus stops (as :func:`routing.osm.is_transit_stop` says),
   and platform *ways* (at the mean of their nodes). Members outside the extract (not in the
   file) are skipped.
3. **Geometry fallback.** A variant whose stops in the extract fall on fewer than two distinct
   planning nodes (no stops listed, or the line only crosses the extract) is read from its route
   ways instead: the member ways (not platforms) in the file, chained in member order (each way
   turned to continue from the previous one's end), and their nodes in order.
4. **Snapping.** Each stop (or geometry point) goes to a planning node: with a
   :class:`~planning.city.CityBuild`, a stop that is one of the city's stops (the same OSM node:
   same id, within :data:`SAME_STOP_M` metres) goes to the node holding it; otherwise to the
   nearest planning node within ``max_snap_m`` metres (points farther away are skipped).
   Consecutive repeats are merged.
5. **A runnable route.** Consecutive nodes that no planning link joins are joined by the
   shortest path over the links (where none exists, the route ends before the gap). A node
   visited again cuts the loop between the two visits (the planning model runs every route both
   ways, so a loop becomes its shortcut); a closed line (the first node visited again last)
   first loses its closing visit, so a ring line is kept as the ring's nodes in order.
6. **One route per line.** Of a line's variants, the route kept is the *commonest* pattern (a
   node sequence and its reverse are one pattern), ties broken by more nodes, then longer route
   time, then the first variant in the file; it is oriented as its first variant. Variants
   left with fewer than two nodes are not candidates; a line with no candidate left is dropped
   and counted (:attr:`ExistingLines.dropped`).
7. **Headway** (minutes, NaN when untagged): a variant's ``interval`` or ``headway`` tag, else
   the shortest of its period tags (``interval:*``, ``headway:*`` such as
   ``headway:morning_peak``; ``:conditional`` keys and values like ``off`` ignored), so the
   busiest tagged period. A line's headway is the shortest of the variants running its kept
   pattern, else of all its variants. Values may be minutes (``10``, ``10 min``), ``H:MM`` or
   ``H:MM:SS``.

Lines keep the order of their first relation in the file. :meth:`ExistingLines.merge_same_stops`
makes the lines that run the same planning nodes one route each. A file that cannot be read, holds no
bus route relation, or no line with two nodes on the problem, is one
:class:`~planning.errors.PlanningFileError` line naming the file.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.errors import NetworkFileError
from routing.osm import detect_format, is_transit_stop

from .errors import InvalidArgumentError, PlanningFileError
from .problem import TransitProblem
from .routeset import RouteSet, validate_route_set

__all__ = ["ExistingLines", "parse_headway_min", "read_osm_bus_lines"]

#: Metres per degree of latitude (the local planar approximation used for snapping).
M_PER_DEG = 111_320.0

#: pyosmium's name of each format :func:`routing.osm.detect_format` tells apart.
OSMIUM_FORMATS = {"xml": "osm", "xml.bz2": "osm.bz2", "xml.gz": "osm.gz", "pbf": "pbf"}

_STOP_ROLE = re.compile(r"(^|[_:])(stop|platform)(\b|_|$)")
_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")
_MINUTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:m|min|mins|minute|minutes)?$")


@dataclass(frozen=True, eq=False)
class ExistingLines:
    """A city's bus lines as routes of a planning problem (see the module docstring).

    Attributes:
        routes: one route per line kept (a :data:`~planning.routeset.RouteSet`).
        refs: each line's ``ref`` ("" when the relation has none).
        names: each line's name: the kept variant's ``name`` tag, else ``ref from–to``, else ``ref``, else
            ``relation ID``.
        headway_min: each line's tagged headway in minutes (NaN when untagged).
        relations: the OSM relation ids of each line's variants.
        dropped: the lines dropped for having fewer than two planning nodes (their names).
        relations_read: bus route relations in the file.
        geometry_variants: variants read from their ways (step 3 of the module docstring).
        source: where the lines came from, in words.
    """

    routes: RouteSet
    refs: tuple[str, ...]
    names: tuple[str, ...]
    headway_min: NDArray[np.float64]
    relations: tuple[tuple[int, ...], ...]
    dropped: tuple[str, ...]
    relations_read: int
    geometry_variants: int
    source: str

    def __len__(self) -> int:
        return len(self.routes)

    @property
    def num_dropped(self) -> int:
        return len(self.dropped)

    def merge_same_stops(self) -> ExistingLines:
        """The lines that run the same planning nodes in the same order (or its reverse) as one
        route each, in order of their first line: to the planning model they are one route (the
        same stops and times), and several lines sharing a corridor run as often as they do
        together. A merged route's ref and name join its lines' (``", "``, ``" / "``), its
        relations are all of theirs, its headway is the combined one, ``1 / sum(1 / h)``, when
        every line's is tagged, else NaN."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for k, r in enumerate(self.routes):
            key = min(tuple(r.tolist()), tuple(r[::-1].tolist()))
            groups.setdefault(key, []).append(k)
        members = list(groups.values())
        h = self.headway_min
        return ExistingLines(
            routes=tuple(self.routes[g[0]] for g in members),
            refs=tuple(", ".join(self.refs[k] for k in g if self.refs[k]) for g in members),
            names=tuple(" / ".join(self.names[k] for k in g) for g in members),
            headway_min=np.array(
                [1.0 / float(np.sum(1.0 / h[g])) if np.isfinite(h[g]).all() else math.nan for g in members],
                np.float64,
            ),
            relations=tuple(tuple(rel for k in g for rel in self.relations[k]) for g in members),
            dropped=self.dropped,
            relations_read=self.relations_read,
            geometry_variants=self.geometry_variants,
            source=f"{self.source}; {len(self.routes)} lines on {len(members)} distinct stop sequences",
        )


@dataclass
class _Variant:
    rel_id: int
    tags: dict[str, str]
    members: list[tuple[str, int, str]]  # (type "n"/"w"/"r", ref, role)


def parse_headway_min(value: str) -> float:
    """A headway tag's value in minutes (``10``, ``10 min``, ``0:10``, ``00:10:00``), NaN if not one."""
    text = value.strip().lower()
    m = _CLOCK.match(text)
    if m:
        minutes = 60 * int(m.group(1)) + int(m.group(2)) + int(m.group(3) or 0) / 60.0
    else:
        m = _MINUTES.match(text)
        if not m:
            return math.nan
        minutes = float(m.group(1))
    return minutes if minutes > 0 else math.nan


def _variant_headway(tags: dict[str, str]) -> float:
    for key in ("interval", "headway"):
        if key in tags:
            h = parse_headway_min(tags[key])
            if math.isfinite(h):
                return h
    periods = [
        parse_headway_min(v)
        for k, v in tags.items()
        if k.startswith(("interval:", "headway:")) and "conditional" not in k
    ]
    known = [h for h in periods if math.isfinite(h)]
    return min(known) if known else math.nan


def _is_stop_role(role: str) -> bool:
    return bool(_STOP_ROLE.search(role.lower()))


def _read_file(path: Path) -> tuple[list[_Variant], dict[int, tuple[float, float]], dict[int, dict[str, str]],
                                    dict[int, list[int]]]:  # fmt: skip
    """The bus route relations, the positions (and tags) of the nodes they need, and their ways."""
    import osmium

    if not path.exists():
        raise PlanningFileError(path, "file not found")
    if path.is_dir():
        raise PlanningFileError(path, "is a folder, not an OSM file")
    try:
        fmt = detect_format(path)
    except NetworkFileError as exc:
        raise PlanningFileError(path, exc.reason) from None
    if fmt not in OSMIUM_FORMATS:
        raise PlanningFileError(path, f"a {fmt} file holds no OSM relations (give an OSM XML or PBF file)")
    kind = OSMIUM_FORMATS[fmt]
    variants: list[_Variant] = []
    try:
        for rel in osmium.FileProcessor(osmium.io.File(str(path), kind), osmium.osm.RELATION):
            if not isinstance(rel, osmium.osm.Relation):
                continue
            tags = {t.k: t.v for t in rel.tags}
            if tags.get("type") == "route" and tags.get("route") == "bus":
                variants.append(_Variant(rel.id, tags, [(m.type, m.ref, m.role) for m in rel.members]))
        if not variants:
            return variants, {}, {}, {}
        want_nodes = {ref for v in variants for t, ref, _ in v.members if t == "n"}
        want_ways = {ref for v in variants for t, ref, _ in v.members if t == "w"}
        pos: dict[int, tuple[float, float]] = {}
        node_tags: dict[int, dict[str, str]] = {}
        ways: dict[int, list[int]] = {}
        processor = osmium.FileProcessor(osmium.io.File(str(path), kind), osmium.osm.NODE | osmium.osm.WAY)
        for obj in processor.with_locations():
            if isinstance(obj, osmium.osm.Node):
                if obj.id in want_nodes and obj.location.valid():
                    pos[obj.id] = (obj.location.lat, obj.location.lon)
                    if obj.tags:
                        node_tags[obj.id] = {t.k: t.v for t in obj.tags}
            elif isinstance(obj, osmium.osm.Way) and obj.id in want_ways:
                refs = []
                for nd in obj.nodes:
                    if nd.location.valid():
                        pos[nd.ref] = (nd.location.lat, nd.location.lon)
                        refs.append(nd.ref)
                if refs:
                    ways[obj.id] = refs
    except RuntimeError as exc:
        raise PlanningFileError(path, f"not a readable OSM {kind} file ({str(exc).strip()})") from None
    return variants, pos, node_tags, ways


def _chain(way_nodes: list[list[int]]) -> list[int]:
    """The nodes of ways in member order, each way turned to continue from the previous one's end
    (the first way turned when only its start touches the second; a way that touches neither end,
    after a gap, is taken as it is)."""
    out: list[int] = []
    first_only = False
    for w in way_nodes:
        if not out:
            out, first_only = list(w), True
            continue
        if first_only and out[0] in (w[0], w[-1]) and out[-1] not in (w[0], w[-1]):
            out.reverse()
        first_only = False
        if w[0] == out[-1]:
            out.extend(w[1:])
        elif w[-1] == out[-1]:
            out.extend(w[-2::-1])
        else:
            out.extend(w)
    return out


#: A city stop is the OSM node of the same id only where the two lie this close (metres): the ids of
#: a stops CSV or a GTFS feed are not OSM ids, and may be the same numbers by chance.
SAME_STOP_M = 5.0


class _Snapper:
    """Planning node of a city stop (same OSM id and position) or of a position (nearest within a radius)."""

    def __init__(
        self, problem: TransitProblem, max_snap_m: float, stop_node: dict[str, tuple[int, float, float]]
    ) -> None:
        from scipy.spatial import cKDTree

        lat, lon = problem.lat, problem.lon
        assert lat is not None and lon is not None
        self.lat0 = float(np.mean(lat))
        self.lon0 = float(np.mean(lon))
        self.kx = M_PER_DEG * math.cos(math.radians(self.lat0))
        self.tree = cKDTree(np.column_stack([(lon - self.lon0) * self.kx, (lat - self.lat0) * M_PER_DEG]))
        self.max_snap_m = max_snap_m
        self.stop_node = stop_node

    def nodes(self, points: Sequence[tuple[int, float, float]]) -> list[int]:
        """Planning nodes of ``(osm id, lat, lon)`` points in order, consecutive repeats merged."""
        if not points:
            return []
        a = np.asarray([(p[1], p[2]) for p in points], np.float64)
        xy = np.column_stack([(a[:, 1] - self.lon0) * self.kx, (a[:, 0] - self.lat0) * M_PER_DEG])
        dist, idx = self.tree.query(xy)
        out: list[int] = []
        for (osm_id, lat, lon), d, i in zip(points, dist.tolist(), idx.tolist(), strict=True):
            v = int(i) if d <= self.max_snap_m else -1
            known = self.stop_node.get(str(osm_id))
            if known is not None:
                gap = math.hypot((lon - known[2]) * self.kx, (lat - known[1]) * M_PER_DEG)
                if gap <= SAME_STOP_M:
                    v = known[0]
            if v >= 0 and (not out or out[-1] != v):
                out.append(v)
        return out


class _Joiner:
    """Consecutive nodes joined by shortest paths over the links, loops cut."""

    def __init__(self, problem: TransitProblem) -> None:
        from scipy.sparse import csr_matrix

        t = problem.link_time_min
        both = np.isfinite(t) & np.isfinite(t.T)
        np.fill_diagonal(both, False)
        i, j = np.nonzero(both)
        self.t = t
        self.linked = both
        self.graph = csr_matrix((t[i, j], (i, j)), shape=t.shape)
        self.pred: dict[int, NDArray[np.int32]] = {}

    def path(self, a: int, b: int) -> list[int] | None:
        from scipy.sparse.csgraph import dijkstra

        if a not in self.pred:
            _, pred = dijkstra(self.graph, directed=True, indices=a, return_predecessors=True)
            self.pred[a] = pred
        pred = self.pred[a]
        if b != a and pred[b] < 0:
            return None
        out = [b]
        while out[-1] != a:
            out.append(int(pred[out[-1]]))
        return out[::-1]

    def route(self, seq: list[int]) -> list[int]:
        if len(seq) >= 3 and seq[0] == seq[-1]:
            seq = seq[:-1]
        walk: list[int] = seq[:1]
        for b in seq[1:]:
            a = walk[-1]
            if self.linked[a, b]:
                walk.append(b)
                continue
            p = self.path(a, b)
            if p is None:  # not reachable over the links: keep the part run so far
                break
            walk.extend(p[1:])
        out: list[int] = []
        where: dict[int, int] = {}
        for v in walk:
            if v in where:  # cut the loop since the first visit
                for u in out[where[v] + 1 :]:
                    del where[u]
                del out[where[v] + 1 :]
                continue
            where[v] = len(out)
            out.append(v)
        return out

    def time(self, route: Sequence[int]) -> float:
        return float(sum(self.t[a, b] for a, b in itertools.pairwise(route)))


def _line_name(v: _Variant) -> str:
    t = v.tags
    if t.get("name"):
        return t["name"]
    ref = t.get("ref", "")
    if ref and (t.get("from") or t.get("to")):
        return f"{ref} {t.get('from', '?')}–{t.get('to', '?')}"
    return ref or f"relation {v.rel_id}"


def read_osm_bus_lines(
    osm_path: str | Path,
    problem_or_city: Any,
    *,
    max_snap_m: float = 300.0,
    progress: Callable[[str], None] | None = None,
) -> ExistingLines:
    """The bus lines of an OSM file as routes on a planning problem (see the module docstring).

    Args:
        osm_path: an OSM XML (plain, bz2, gz) or PBF file with bus route relations.
        problem_or_city: a :class:`~planning.TransitProblem` with ``lat``/``lon`` per node, or a
            :class:`~planning.city.CityBuild` (whose stops map by OSM id to their nodes).
        max_snap_m: stops and route points farther than this from every planning node are
            skipped (metres, > 0).
        progress: told how many relations, lines and variants were read and which were dropped.
    """
    say = progress or (lambda _msg: None)
    path = Path(osm_path)
    if isinstance(max_snap_m, bool) or not isinstance(max_snap_m, int | float) or not 0 < max_snap_m < math.inf:
        raise InvalidArgumentError("max_snap_m", f"got {max_snap_m!r}", "> 0 metres")
    problem: TransitProblem
    stop_node: dict[str, tuple[int, float, float]] = {}
    if isinstance(problem_or_city, TransitProblem):
        problem = problem_or_city
    elif isinstance(getattr(problem_or_city, "problem", None), TransitProblem):
        problem = problem_or_city.problem
        city_stops = getattr(problem_or_city, "stops", None)
        nodes = getattr(problem_or_city, "stop_node", None)
        if city_stops is not None and nodes is not None:
            stop_node = {
                sid: (int(v), float(a), float(b))
                for sid, v, a, b in zip(city_stops.ids, np.asarray(nodes).tolist(), city_stops.lat, city_stops.lon,
                                        strict=True)
            }  # fmt: skip
    else:
        raise InvalidArgumentError("problem_or_city", f"got {type(problem_or_city).__name__}",
                                   "a TransitProblem or a CityBuild")  # fmt: skip
    lat, lon = problem.lat, problem.lon
    if lat is None or lon is None or not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise InvalidArgumentError(
            "problem", f"{problem.name!r} has no latitude/longitude per node", "a city problem (planning.city)"
        )
    variants, pos, node_tags, ways = _read_file(path)
    if not variants:
        raise PlanningFileError(path, "no bus route relations in it (type=route, route=bus)")
    say(f"{len(variants)} bus route relations")
    snap = _Snapper(problem, float(max_snap_m), stop_node)
    join = _Joiner(problem)

    lines: dict[str, list[_Variant]] = {}
    for v in variants:
        line_ref = v.tags.get("ref", "").strip()
        lines.setdefault(line_ref if line_ref else f"\0{v.rel_id}", []).append(v)

    routes: list[list[int]] = []
    refs: list[str] = []
    names: list[str] = []
    headways: list[float] = []
    relations: list[tuple[int, ...]] = []
    dropped: list[str] = []
    geometry = 0
    for key, group in lines.items():
        candidates: list[tuple[tuple[int, ...], list[int], float, _Variant]] = []
        for v in group:
            stops: list[tuple[int, float, float]] = []
            for typ, mid, role in v.members:
                if typ == "n" and mid in pos:
                    if _is_stop_role(role) or (not role and is_transit_stop(node_tags.get(mid, {}))):
                        stops.append((mid, *pos[mid]))
                elif typ == "w" and mid in ways and _is_stop_role(role):
                    nodes = [pos[r] for r in ways[mid]]
                    stops.append((-mid, float(np.mean([p[0] for p in nodes])), float(np.mean([p[1] for p in nodes]))))
            seq = snap.nodes(stops)
            if len(set(seq)) < 2:
                route_ways = [ways[mid] for typ, mid, role in v.members if typ == "w" and mid in ways
                              and not _is_stop_role(role)]  # fmt: skip
                points = [(r, *pos[r]) for r in _chain(route_ways)]
                seq = snap.nodes(points)
                if len(set(seq)) >= 2:
                    geometry += 1
            if len(set(seq)) < 2:
                continue
            r = join.route(seq)
            if len(r) >= 2:
                candidates.append((min(tuple(r), tuple(r[::-1])), r, join.time(r), v))
        name = _line_name(group[0])
        if not candidates:
            dropped.append(name)
            continue
        count = Counter(c[0] for c in candidates)
        best = min(range(len(candidates)), key=lambda k: (-count[candidates[k][0]], -len(candidates[k][1]),
                                                            -candidates[k][2], k))  # fmt: skip
        pattern = candidates[best][0]
        routes.append(candidates[best][1])
        refs.append("" if key.startswith("\0") else key)
        names.append(_line_name(candidates[best][3]))
        runs = [_variant_headway(c[3].tags) for c in candidates if c[0] == pattern]
        if not any(math.isfinite(h) for h in runs):
            runs = [_variant_headway(v.tags) for v in group]
        known = [h for h in runs if math.isfinite(h)]
        headways.append(min(known) if known else math.nan)
        relations.append(tuple(v.rel_id for v in group))
    if dropped:
        more = ", ..." if len(dropped) > 5 else ""
        say(f"{len(dropped)} lines with fewer than 2 planning nodes dropped: {', '.join(dropped[:5])}{more}")
    if not routes:
        raise PlanningFileError(
            path,
            f"none of its {len(lines)} bus lines has 2 or more stops or route points within {max_snap_m:g} m of a "
            f"node of {problem.name}",
        )
    say(f"{len(routes)} lines kept ({geometry} variants read from their ways)")
    source = (
        f"{len(routes)} bus lines of {path.name} ({len(variants)} route relations; {len(dropped)} lines with "
        f"fewer than 2 planning nodes dropped; {geometry} variants read from their ways)"
    )
    return ExistingLines(
        routes=validate_route_set(problem, routes),
        refs=tuple(refs),
        names=tuple(names),
        headway_min=np.asarray(headways, np.float64),
        relations=tuple(relations),
        dropped=tuple(dropped),
        relations_read=len(variants),
        geometry_variants=geometry,
        source=source,
    )
