"""A SUMO network from the scenario's OSM file, and the map between its edges and the engine's.

:func:`build_sumo_network` writes the drivable roads of the OSM file (the ways the engine's
road network is built from, :func:`routing.write_drive_osm`, traffic-signal nodes kept) and
runs SUMO's ``netconvert`` on them: SUMO's own OSM import sets lanes, turns and junction
shapes, signals come from the OSM signal nodes (moved to their junction) and are guessed at
major junctions without one (:class:`SumoNetOptions`). The result is cached on disk like the
road network, keyed by the file's content, the engine's build options, the netconvert options
and SUMO's version. SUMO's speeds per road class are the engine's (:func:`write_type_file`).

**The map.** The engine's graph is simplified (osmnx), so one engine edge is a chain of one or
more SUMO edges between the same two OSM junctions (SUMO keeps OSM node ids as junction ids).
Each engine edge is matched by a shortest path in SUMO's graph from its tail's junction to its
head's junction, where a SUMO edge costs its length plus ten times its largest distance from
the engine edge's street shape: the chain that follows the engine's street, not a shorter
parallel road. :class:`EdgeMap` holds the chains (CSR arrays) and both lengths, measured the
same way (junction centre to junction centre along the street shapes; SUMO's lane lengths stop
at the junction borders), and :meth:`EdgeMap.check` reports which edges did not map and where
the lengths disagree. SUMO's junctions may lack a turn the engine's graph allows (SUMO guesses
connections from lanes and angles; the engine's graph has none): ``meta["turns_missing"]`` of
``meta["turns"]`` counts them (U-turns aside), and a vehicle in SUMO is routed by SUMO across
such a gap. The matching is Python over ``sumolib``'s graph, run once per network and
cached; no library maps one simplified OSM graph onto another.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing import BuildOptions, NetworkFileError, RoadNetwork, write_drive_osm
from routing.cache import default_cache_dir, file_digest

from .tools import SumoError, run_tool, sumo_version

log = logging.getLogger(__name__)

#: bump when the network files or the map change meaning (invalidates the cache)
SUMO_NET_VERSION = 2  # 2: the engine's speeds per road class
#: how a SUMO edge's distance from the engine's street weighs against its length in the matching
DEVIATION_WEIGHT = 10.0
SIGNAL_MODES = ("osm", "guess", "osm+guess", "none")


@dataclass(frozen=True)
class SumoNetOptions:
    """How ``netconvert`` builds the SUMO network.

    signals: where traffic lights go: ``"osm"`` at the OSM signal nodes (a signal tagged on a
        crossing a few metres before a junction moves to the junction, SUMO's
        ``--tls.guess-signals``), ``"guess"`` at major junctions (SUMO's ``--tls.guess``: the
        incoming lanes' speeds add up to at least ``guess_threshold_ms``), ``"osm+guess"`` both
        (the default: OSM extracts often miss signals), ``"none"`` no signals at all.
    guess_threshold_ms: see ``signals`` (m/s; SUMO's default is 69.44, 250 km/h).
    join_signals: one signal program for junctions close together (``--tls.join``).
    """

    signals: str = "osm+guess"
    guess_threshold_ms: float = 69.44
    join_signals: bool = True

    def __post_init__(self) -> None:
        if self.signals not in SIGNAL_MODES:
            raise ValueError(f"signals: {self.signals!r} is not one of {', '.join(SIGNAL_MODES)}")
        if not (math.isfinite(self.guess_threshold_ms) and self.guess_threshold_ms > 0):
            raise ValueError(f"guess_threshold_ms: must be a positive number of m/s, got {self.guess_threshold_ms!r}")

    def netconvert_args(self) -> list[str]:
        """The netconvert options (beside the input and output files)."""
        args = [
            "--geometry.remove",
            "false",  # keep every OSM junction: the engine's nodes must exist in SUMO
            "--junctions.join",
            "false",
            "--roundabouts.guess",
            "true",
            "--no-warnings",
            "true",
            "--osm.elevation",
            "false",
        ]
        if self.signals in ("osm", "osm+guess"):
            args += ["--tls.guess-signals", "true"]
        else:
            args += ["--tls.discard-loaded", "true"]
        if self.signals in ("guess", "osm+guess"):
            args += ["--tls.guess", "true", "--tls.guess.threshold", f"{self.guess_threshold_ms:g}"]
        if self.join_signals and self.signals != "none":
            args += ["--tls.join", "true"]
        return args

    def token(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class EdgeMap:
    """Engine edge ``e`` -> SUMO edges ``sumo_edges[chain[indptr[e]:indptr[e + 1]]]`` in driving
    order (none if it did not map), with both lengths of every engine edge (m, junction centre to
    junction centre along the street)."""

    sumo_edges: list[str]
    indptr: NDArray[np.int64]
    chain: NDArray[np.int32]
    engine_length_m: NDArray[np.float64]
    sumo_length_m: NDArray[np.float64]
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def num_engine_edges(self) -> int:
        return int(self.indptr.size - 1)

    def sumo_chain(self, edge: int) -> list[str]:
        """The SUMO edge ids of engine edge ``edge`` (empty if it did not map)."""
        return [self.sumo_edges[i] for i in self.chain[self.indptr[edge] : self.indptr[edge + 1]]]

    def sumo_route(self, edges: list[int] | NDArray[np.int64]) -> list[str]:
        """The SUMO edges of a path given as engine edges.

        Raises:
            SumoError: an engine edge of the path has no SUMO chain.
        """
        out: list[str] = []
        for e in edges:
            part = self.sumo_chain(int(e))
            if not part:
                raise SumoError(f"engine edge {int(e)} has no SUMO edges (see EdgeMap.check)")
            out.extend(part)
        return out

    def sumo_index(self, sumo_edge: str) -> int:
        """Position of a SUMO edge id in :attr:`sumo_edges` (-1 if it is not on any chain)."""
        if not self._index:
            self._index.update({s: i for i, s in enumerate(self.sumo_edges)})
        return self._index.get(sumo_edge, -1)

    def unmapped(self) -> NDArray[np.int64]:
        """Engine edges with no SUMO chain."""
        return np.flatnonzero(np.diff(self.indptr) == 0)

    def length_error_m(self) -> NDArray[np.float64]:
        """SUMO length minus engine length per engine edge (NaN where unmapped)."""
        err = self.sumo_length_m - self.engine_length_m
        err[np.diff(self.indptr) == 0] = np.nan
        return err

    def check(self, *, tolerance_m: float = 5.0, tolerance_rel: float = 0.05) -> dict[str, Any]:
        """Whether every engine edge maps and the lengths agree within
        ``max(tolerance_m, tolerance_rel x engine length)``; the numbers behind it."""
        err = self.length_error_m()
        mapped = ~np.isnan(err)
        allowed = np.maximum(tolerance_m, tolerance_rel * self.engine_length_m)
        off = np.flatnonzero(mapped & (np.abs(np.nan_to_num(err)) > allowed))
        abs_err = np.abs(err[mapped])
        total_engine = float(self.engine_length_m[mapped].sum())
        return {
            "engine_edges": self.num_engine_edges,
            "mapped": int(mapped.sum()),
            "unmapped": [int(e) for e in self.unmapped()],
            "sumo_edges_used": int(np.unique(self.chain).size),
            "chain_length_max": int(np.diff(self.indptr).max(initial=0)),
            "length_error_m_p50": float(np.percentile(abs_err, 50)) if abs_err.size else 0.0,
            "length_error_m_p99": float(np.percentile(abs_err, 99)) if abs_err.size else 0.0,
            "length_error_m_max": float(abs_err.max(initial=0.0)),
            "total_length_ratio": float(self.sumo_length_m[mapped].sum() / total_engine) if total_engine else 1.0,
            "length_disagreements": [int(e) for e in off],
            "ok": bool(mapped.all() and off.size == 0),
        }

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            sumo_edges=np.array(self.sumo_edges, dtype=object).astype(str),
            indptr=self.indptr,
            chain=self.chain,
            engine_length_m=self.engine_length_m,
            sumo_length_m=self.sumo_length_m,
        )

    @classmethod
    def load(cls, path: Path) -> EdgeMap:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                sumo_edges=[str(s) for s in z["sumo_edges"]],
                indptr=z["indptr"].astype(np.int64),
                chain=z["chain"].astype(np.int32),
                engine_length_m=z["engine_length_m"].astype(np.float64),
                sumo_length_m=z["sumo_length_m"].astype(np.float64),
            )


@dataclass
class SumoNetwork:
    """A built SUMO network: its ``.net.xml.gz`` file, the map from the engine's edges, and
    facts about it (``meta``: junctions, edges, signals, SUMO version, build seconds ...)."""

    net_file: Path
    edge_map: EdgeMap
    meta: dict[str, Any]
    _parsed: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def signals(self) -> int:
        return int(self.meta.get("signals", 0))

    def sumolib_net(self) -> Any:
        """The network file parsed by ``sumolib`` (once per object; shared by its readers)."""
        if self._parsed is None:
            import sumolib

            self._parsed = sumolib.net.readNet(str(self.net_file))
        return self._parsed


def connect_route(
    route: list[str], successors: Callable[[str], Any], shortest: Callable[[str, str], list[str]]
) -> list[str] | None:
    """``route`` (SUMO edge ids) with ``shortest(a, b)`` (a SUMO route from ``a`` to ``b``, both
    included; empty if none) across each turn ``a -> b`` not in ``successors(a)``: the turns the
    engine's graph allows and SUMO's junctions lack (module docstring). None: no way across."""
    out = [route[0]]
    for b in route[1:]:
        a = out[-1]
        if b in successors(a):
            out.append(b)
            continue
        found = shortest(a, b)
        if not found:
            return None
        out.extend(found[1:])
    return out


# ---------------------------------------------------------------------------- building
def sumo_cache_dir(
    osm_path: str | Path,
    build_options: BuildOptions | None = None,
    options: SumoNetOptions | None = None,
    cache_dir: str | Path | None = None,
) -> Path:
    """Where :func:`build_sumo_network` keeps the network built from ``osm_path``."""
    osm_path = Path(osm_path)
    if not osm_path.is_file():
        raise NetworkFileError(osm_path, "file not found" if not osm_path.exists() else "not a file")
    key_text = "|".join(
        [
            file_digest(osm_path),
            (build_options or BuildOptions()).cache_token(),
            (options or SumoNetOptions()).token(),
            sumo_version(),
            str(SUMO_NET_VERSION),
        ]
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:32]
    stem = osm_path.name.split(".")[0] or "network"
    return Path(cache_dir or default_cache_dir()) / "sumo" / f"{stem}-{key}"


def build_sumo_network(
    osm_path: str | Path,
    network: RoadNetwork,
    *,
    build_options: BuildOptions | None = None,
    options: SumoNetOptions | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> SumoNetwork:
    """The SUMO network of ``osm_path`` and its map from ``network``'s edges (see the module
    docstring). ``network`` must be the engine's network of the same file and
    ``build_options``; a second call reads the cache.

    Raises:
        routing.NetworkFileError: the OSM file is missing, corrupt or has no drivable roads.
        SumoError: SUMO is missing or netconvert failed.
    """
    options = options or SumoNetOptions()
    folder = sumo_cache_dir(osm_path, build_options, options, cache_dir)
    net_file, map_file, meta_file = folder / "net.net.xml.gz", folder / "edge_map.npz", folder / "meta.json"
    if cache and net_file.exists() and map_file.exists() and meta_file.exists():
        edge_map = EdgeMap.load(map_file)
        if edge_map.num_engine_edges == network.num_edges:
            return SumoNetwork(net_file, edge_map, json.loads(meta_file.read_text()))
        log.warning("cached SUMO map of %s has another edge count; rebuilding", osm_path)
    t0 = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mobility-sumo-", dir=folder) as tmp:
        drive = Path(tmp) / "drive.osm"
        if on_stage:
            on_stage("writing the drivable roads")
        ways = write_drive_osm(osm_path, drive, build_options)
        if on_stage:
            on_stage("netconvert")
        out = Path(tmp) / "net.net.xml.gz"
        types = Path(tmp) / "types.typ.xml"
        write_type_file(types, build_options or BuildOptions())
        run_tool(
            "netconvert",
            [
                "--osm-files",
                str(drive),
                "--type-files",
                str(types),
                "--output-file",
                str(out),
                *options.netconvert_args(),
            ],
        )
        t_convert = time.perf_counter() - t0
        if on_stage:
            on_stage("matching the engine's edges")
        edge_map, facts = map_edges(out, network)
        shutil.move(str(out), net_file)
    edge_map.save(map_file)
    report = edge_map.check()
    meta = {
        "osm": str(osm_path),
        "ways": ways,
        **facts,
        "sumo_version": sumo_version(),
        "options": asdict(options),
        "netconvert_s": round(t_convert, 2),
        "build_s": round(time.perf_counter() - t0, 2),
        "map": {k: v for k, v in report.items() if k not in ("unmapped", "length_disagreements")},
        "unmapped": len(report["unmapped"]),
        "length_disagreements": len(report["length_disagreements"]),
    }
    meta_file.write_text(json.dumps(meta, indent=1))
    if report["unmapped"] or report["length_disagreements"]:
        log.warning(
            "SUMO network of %s: %d engine edges unmapped, %d with lengths that disagree",
            osm_path,
            len(report["unmapped"]),
            len(report["length_disagreements"]),
        )
    return SumoNetwork(net_file, edge_map, meta)


def write_type_file(path: Path, build_options: BuildOptions) -> None:
    """SUMO's OSM type map (lanes, priorities, who may drive) with the engine's speed for each
    road class of ``build_options`` (``speeds_kph``): where a way has no ``maxspeed`` tag, SUMO's
    vehicles then drive at the speed the engine plans with, not SUMO's defaults (80 km/h on a
    tertiary road, say). Ways with a ``maxspeed`` tag keep it in both."""
    import xml.etree.ElementTree as ET

    from .tools import sumo_home

    source = sumo_home() / "data" / "typemap" / "osmNetconvert.typ.xml"
    if not source.exists():
        raise SumoError(f"SUMO's OSM type map is missing: {source}")
    tree = ET.parse(source)
    speeds = dict(build_options.speeds_kph)
    for node in tree.getroot().iter("type"):
        tid = node.get("id", "")
        if tid.startswith("highway.") and tid.removeprefix("highway.") in speeds:
            node.set("speed", f"{speeds[tid.removeprefix('highway.')] / 3.6:.2f}")
    tree.write(path, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------------------- the map
def _polyline_length(xy: NDArray[np.float64]) -> float:
    return float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(xy) > 1 else 0.0


def _distance_to_polyline(points: NDArray[np.float64], line: NDArray[np.float64]) -> NDArray[np.float64]:
    """Distance of each point (k x 2) from the polyline ``line`` (m x 2)."""
    if len(line) == 1:
        return np.hypot(*(points - line[0]).T)
    a, b = line[:-1], line[1:]
    ab = b - a
    denom = np.maximum((ab * ab).sum(1), 1e-12)
    t = np.clip(((points[:, None, :] - a[None]) * ab[None]).sum(2) / denom[None], 0.0, 1.0)
    closest = a[None] + t[:, :, None] * ab[None]
    return np.sqrt(((points[:, None, :] - closest) ** 2).sum(2)).min(1)


def _engine_shape_xy(network: RoadNetwork, e: int, tail: int, head: int, proj: Any) -> NDArray[np.float64]:
    lat = [network.lat[tail]]
    lon = [network.lon[tail]]
    if network.geom_indptr.size == network.num_edges + 1:
        lo, hi = network.geom_indptr[e], network.geom_indptr[e + 1]
        lat.extend(network.geom_lat[lo:hi])
        lon.extend(network.geom_lon[lo:hi])
    lat.append(network.lat[head])
    lon.append(network.lon[head])
    return proj(np.asarray(lon), np.asarray(lat))


def map_edges(net_file: Path, network: RoadNetwork) -> tuple[EdgeMap, dict[str, Any]]:
    """Match every engine edge to a chain of SUMO edges (see the module docstring); also
    return facts about the SUMO network (junctions, edges, signals)."""
    import sumolib

    net = sumolib.net.readNet(str(net_file))
    if not network.has_lat_lon:
        raise SumoError("the engine's network has no coordinates: it cannot be matched to SUMO's")
    x_off, y_off = net.getLocationOffset()
    geo = net.getGeoProj()

    def proj(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = geo(lon, lat)
        return np.column_stack([np.asarray(x) + x_off, np.asarray(y) + y_off])

    edges = [e for e in net.getEdges() if e.getFunction() == "" and e.allows("passenger")]
    shapes = [np.asarray(e.getRawShape(), np.float64)[:, :2] for e in edges]
    raw_len = np.array([_polyline_length(s) for s in shapes])
    out_edges: dict[str, list[int]] = {}
    for i, e in enumerate(edges):
        out_edges.setdefault(e.getFromNode().getID(), []).append(i)
    to_node = [e.getToNode().getID() for e in edges]
    node_xy = {n.getID(): np.asarray(n.getCoord()[:2], np.float64) for n in net.getNodes()}
    node_ids = list(node_xy)
    node_arr = np.array([node_xy[n] for n in node_ids]) if node_ids else np.zeros((0, 2))
    xy_all = proj(network.lon, network.lat)

    def sumo_node(v: int) -> str | None:
        nid = str(int(network.osm_id[v]))
        if nid in node_xy:
            return nid
        if node_arr.size == 0:
            return None
        d = np.hypot(*(node_arr - xy_all[v]).T)  # a junction SUMO renamed (joined): within 5 m
        k = int(np.argmin(d))
        return node_ids[k] if d[k] <= 5.0 else None

    tails = network.tail
    heads = network.indices
    m = network.num_edges
    indptr = np.zeros(m + 1, np.int64)
    chain: list[int] = []
    engine_len = network.length_m.astype(np.float64)  # the engine's own lengths: what the check compares
    sumo_len = np.zeros(m, np.float64)
    for e in range(m):
        u, v = int(tails[e]), int(heads[e])
        a, b = sumo_node(u), sumo_node(v)
        found: list[int] | None = None
        if a is not None and b is not None:
            line = _engine_shape_xy(network, e, u, v, proj)
            bound = 3.0 * max(float(engine_len[e]), _polyline_length(line)) + 200.0
            found = _match(a, b, line, out_edges, to_node, shapes, raw_len, bound=bound)
        if found:
            chain.extend(found)
            sumo_len[e] = float(raw_len[found].sum())
        indptr[e + 1] = len(chain)
    # turns the engine may take (edge into a node, then a different edge out of it, not back)
    # that SUMO's junction has no connection for: SUMO guesses connections from lanes and angles
    turns = missing = 0
    for e in range(m):
        if indptr[e + 1] == indptr[e]:
            continue
        last = edges[chain[indptr[e + 1] - 1]]
        nexts = {x.getID() for x in last.getOutgoing()}
        v = int(heads[e])
        for k in range(int(network.indptr[v]), int(network.indptr[v + 1])):
            if int(heads[k]) == int(tails[e]) or indptr[k + 1] == indptr[k]:
                continue
            turns += 1
            if edges[chain[indptr[k]]].getID() not in nexts:
                missing += 1
    facts = {
        "turns": turns,
        "turns_missing": missing,
        "junctions": len(net.getNodes()),
        "edges": len(edges),
        "signals": len(net.getTrafficLights()),
        "lanes": int(sum(e.getLaneNumber() for e in edges)),
    }
    return (
        EdgeMap(
            sumo_edges=[e.getID() for e in edges],
            indptr=indptr,
            chain=np.asarray(chain, np.int32),
            engine_length_m=engine_len,
            sumo_length_m=sumo_len,
        ),
        facts,
    )


def _match(
    a: str,
    b: str,
    line: NDArray[np.float64],
    out_edges: dict[str, list[int]],
    to_node: list[str],
    shapes: list[NDArray[np.float64]],
    raw_len: NDArray[np.float64],
    *,
    bound: float,
) -> list[int] | None:
    """The SUMO edges from junction ``a`` to junction ``b`` (at least one) that follow ``line``:
    Dijkstra where an edge costs its length plus :data:`DEVIATION_WEIGHT` x its largest distance
    from ``line``; ``None`` if nothing within ``bound``."""
    heap: list[tuple[float, int, str, tuple[int, ...]]] = []
    seq = 0
    for i in out_edges.get(a, []):
        c = raw_len[i] + DEVIATION_WEIGHT * float(_distance_to_polyline(shapes[i], line).max())
        heap.append((c, seq, to_node[i], (i,)))
        seq += 1
    heapq.heapify(heap)
    settled: set[str] = set()
    while heap:
        cost, _, node, path = heapq.heappop(heap)
        if node == b:
            return list(path)
        if node in settled or cost > bound:
            continue
        settled.add(node)
        for i in out_edges.get(node, []):
            if to_node[i] in settled:
                continue
            c = cost + raw_len[i] + DEVIATION_WEIGHT * float(_distance_to_polyline(shapes[i], line).max())
            if c <= bound:
                seq += 1
                heapq.heappush(heap, (c, seq, to_node[i], (*path, i)))
    return None
