"""Import a drivable road network from an OpenStreetMap file, offline.

Accepted inputs (recognised by their content, not only their name):

* OSM XML (``.osm``, ``.xml``), plain, bzip2- or gzip-compressed (``.osm.bz2``, ``.osm.gz``);
* OSM PBF (``.osm.pbf``), read with pyosmium;
* osmnx GraphML (``.graphml``), as written by ``osmnx.save_graphml``.

For OSM XML and PBF, a first pass keeps only what a drive network needs: the ways whose
``highway`` class has a speed in :class:`BuildOptions` and that motor vehicles may use
(``access``, ``motor_vehicle``, ``motorcar``, ``service`` and ``area`` are honoured), the
nodes they reference, and the public-transport stops. Relations are dropped, which also
makes Overpass exports with geometry inside relation members (``<member><nd .../>``)
readable. The filtered data are handed to osmnx, which builds the graph (``oneway``
handling, great-circle lengths); travel times are set per raw segment from ``maxspeed``
tags, falling back to per-class defaults, then the graph is simplified (times and lengths
summed along merged segments, the removed nodes kept as each merged edge's street shape:
``RoadNetwork.geom_*``) and reduced to its largest strongly connected component.

Default speeds follow Korea's urban "Safe Speed 5030" rule (50 km/h on urban arterials,
30 km/h on residential streets) with motorway and trunk limits for faster roads; change
them with ``BuildOptions(speeds_kph=...)`` or a ``[network.speeds_kph]`` TOML table.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import hashlib
import logging
import math
import tempfile
import time
import tomllib
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast
from xml.sax.saxutils import quoteattr

import numpy as np

from .cache import default_cache_dir, file_digest
from .errors import InvalidArgumentError, NetworkFileError, plain_repr
from .network import DEFAULT_ROAD_CLASSES, RoadNetwork, project_to_crs, warn_if_implausible

log = logging.getLogger(__name__)

#: Free-flow speeds (km/h) by OSM ``highway`` class, used where a way has no usable
#: ``maxspeed`` tag. Only classes listed here are imported.
KOREAN_URBAN_SPEEDS_KPH: Mapping[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 50.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 40.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 20.0,
    "road": 30.0,
}

_NO_ACCESS = {"no", "private"}
_YES_ACCESS = {"yes", "designated", "permissive", "destination", "delivery"}
_EXCLUDED_SERVICE = {"alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"}

#: Bumped whenever a change here changes the networks built; part of the cache key.
LOADER_VERSION = 2  # 2: edges keep their street shapes


@dataclass(frozen=True)
class BuildOptions:
    """How an OSM file becomes a :class:`RoadNetwork` (part of the cache key).

    Attributes:
        speeds_kph: free-flow speed per ``highway`` class; classes not listed are skipped.
        use_maxspeed: take speeds from ``maxspeed`` tags where they parse.
        max_speed_kph: cap on any speed taken from a tag (guards against typos).
        simplify: merge chains of degree-2 nodes into single edges (osmnx simplification).
    """

    speeds_kph: Mapping[str, float] = field(default_factory=lambda: dict(KOREAN_URBAN_SPEEDS_KPH))
    use_maxspeed: bool = True
    max_speed_kph: float = 130.0
    simplify: bool = True

    def __post_init__(self) -> None:
        if not self.speeds_kph:
            raise InvalidArgumentError("speeds_kph", "at least one road class is needed")
        for cls_name, speed in self.speeds_kph.items():
            if not isinstance(speed, int | float) or not (1.0 <= float(speed) <= 300.0):
                raise InvalidArgumentError(f"speeds_kph.{cls_name}", f"got {plain_repr(speed)}", "1 .. 300 km/h")
        if not (1.0 <= self.max_speed_kph <= 300.0):
            raise InvalidArgumentError("max_speed_kph", f"got {plain_repr(self.max_speed_kph)}", "1 .. 300 km/h")
        object.__setattr__(self, "speeds_kph", {k: float(v) for k, v in sorted(self.speeds_kph.items())})

    @classmethod
    def from_toml(cls, path: str | Path) -> BuildOptions:
        """Read the ``[network]`` table of a TOML file (every key optional)."""
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise NetworkFileError(path, "options file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise NetworkFileError(path, f"not valid TOML: {exc}") from exc
        table = doc.get("network", {})
        known = {"speeds_kph", "use_maxspeed", "max_speed_kph", "simplify"}
        unknown = set(table) - known
        if unknown:
            raise InvalidArgumentError(f"network.{sorted(unknown)[0]}", "unknown option", ", ".join(sorted(known)))
        return cls(**table)

    def cache_token(self) -> str:
        return repr(
            (LOADER_VERSION, sorted(self.speeds_kph.items()), self.use_maxspeed, self.max_speed_kph, self.simplify)
        )


def is_drivable(tags: Mapping[str, str], classes: Mapping[str, float]) -> bool:
    """Whether a way with these tags belongs in the drive network."""
    if tags.get("highway") not in classes:
        return False
    if tags.get("area") == "yes":
        return False
    if tags.get("motor_vehicle") in _NO_ACCESS or tags.get("motorcar") in _NO_ACCESS:
        return False
    if tags.get("access") in _NO_ACCESS and not (
        tags.get("motor_vehicle") in _YES_ACCESS or tags.get("motorcar") in _YES_ACCESS
    ):
        return False
    return tags.get("service") not in _EXCLUDED_SERVICE


def is_traffic_signal(tags: Mapping[str, str]) -> bool:
    """Whether a node with these tags is a traffic signal (at a junction or a crossing)."""
    return tags.get("highway") == "traffic_signals" or tags.get("crossing") == "traffic_signals"


def is_transit_stop(tags: Mapping[str, str]) -> bool:
    """Whether an OSM node is a bus stop (``highway=bus_stop`` or a bus platform/stop)."""
    if tags.get("highway") == "bus_stop":
        return True
    pt = tags.get("public_transport")
    return pt in ("platform", "stop_position") and tags.get("bus") == "yes"


# ---------------------------------------------------------------------------- file sniffing
def detect_format(path: Path) -> str:
    """One of ``xml``, ``xml.bz2``, ``xml.gz``, ``pbf``, ``graphml``, by content (whatever the suffix)."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"BZh"):
        return "xml.bz2"
    if head.startswith(b"\x1f\x8b"):
        return "xml.gz"
    if b"OSMHeader" in head[:32]:
        return "pbf"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "graphml" if b"<graphml" in head else "xml"
    name = path.name.lower()
    if name.endswith(".pbf"):
        return "pbf"
    raise NetworkFileError(
        path, "unrecognised format: expected OSM XML (.osm, .osm.bz2, .osm.gz), OSM PBF (.osm.pbf) or GraphML"
    )


# ---------------------------------------------------------------------------- first pass
@dataclass
class _Extract:
    node_lat: dict[int, float] = field(default_factory=dict)
    node_lon: dict[int, float] = field(default_factory=dict)
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)
    stops: list[tuple[int, float, float, str]] = field(default_factory=list)
    #: nodes tagged as traffic signals (kept for :func:`write_drive_osm`, not used by the graph)
    signals: set[int] = field(default_factory=set)
    ways_seen: int = 0


def _open_xml(path: Path, fmt: str) -> IO[bytes]:
    if fmt == "xml.bz2":
        return bz2.open(path, "rb")
    if fmt == "xml.gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return open(path, "rb")


def _extract_xml(path: Path, fmt: str, options: BuildOptions) -> _Extract:
    """Stream OSM XML, keeping node coordinates, drivable ways and stops."""
    ex = _Extract()
    depth = 0
    try:
        with _open_xml(path, fmt) as fh:
            context = ET.iterparse(fh, events=("start", "end"))
            root = None
            for event, elem in context:
                if event == "start":
                    if root is None:
                        root = elem
                        if root.tag != "osm":
                            raise NetworkFileError(path, f"not an OSM XML file (root element <{root.tag}>)")
                    depth += 1
                    continue
                depth -= 1
                if depth != 1:  # only top-level children of <osm>
                    continue
                tag = elem.tag
                if tag == "node":
                    nid = int(elem.attrib["id"])
                    lat_s, lon_s = elem.attrib.get("lat"), elem.attrib.get("lon")
                    if lat_s is not None and lon_s is not None:
                        lat, lon = float(lat_s), float(lon_s)
                        ex.node_lat[nid] = lat
                        ex.node_lon[nid] = lon
                        if len(elem):
                            tags = {t.attrib["k"]: t.attrib.get("v", "") for t in elem.iter("tag")}
                            if is_transit_stop(tags):
                                ex.stops.append((nid, lat, lon, tags.get("name", "")))
                            if is_traffic_signal(tags):
                                ex.signals.add(nid)
                elif tag == "way":
                    ex.ways_seen += 1
                    tags = {t.attrib["k"]: t.attrib.get("v", "") for t in elem.iter("tag")}
                    if is_drivable(tags, options.speeds_kph):
                        refs = [int(nd.attrib["ref"]) for nd in elem.iter("nd")]
                        ex.ways.append((int(elem.attrib["id"]), refs, tags))
                if root is not None:
                    root.clear()  # drop the finished element and free memory
    except ET.ParseError as exc:
        line, col = exc.position
        raise NetworkFileError(path, f"corrupt OSM XML at line {line}, column {col} ({exc.msg})") from exc
    except (EOFError, OSError) as exc:
        raise NetworkFileError(path, f"cannot read the file ({exc})") from exc
    except (KeyError, ValueError) as exc:
        raise NetworkFileError(path, f"malformed OSM element ({exc!r})") from exc
    return ex


def _extract_pbf(path: Path, options: BuildOptions) -> _Extract:
    """Read OSM PBF with pyosmium (node locations resolved by libosmium).

    The format is given to libosmium explicitly: it would otherwise go by the file's suffix,
    and read a PBF file named ``.osm`` as XML.
    """
    import osmium

    ex = _Extract()
    try:
        processor = osmium.FileProcessor(osmium.io.File(str(path), "pbf")).with_locations()
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                if obj.tags and obj.location.valid():
                    tags = {t.k: t.v for t in obj.tags}
                    if is_transit_stop(tags):
                        ex.stops.append((obj.id, obj.location.lat, obj.location.lon, tags.get("name", "")))
                    if is_traffic_signal(tags):
                        ex.signals.add(obj.id)
            elif isinstance(obj, osmium.osm.Way):
                ex.ways_seen += 1
                tags = {t.k: t.v for t in obj.tags}
                if not is_drivable(tags, options.speeds_kph):
                    continue
                refs = []
                for nd in obj.nodes:
                    if nd.location.valid():
                        ex.node_lat[nd.ref] = nd.location.lat
                        ex.node_lon[nd.ref] = nd.location.lon
                    refs.append(nd.ref)
                ex.ways.append((obj.id, refs, tags))
    except RuntimeError as exc:
        raise NetworkFileError(path, f"corrupt OSM PBF ({exc})") from exc
    return ex


def _write_clean_xml(ex: _Extract, out: IO[str]) -> int:
    """Write the kept ways and their nodes as plain OSM XML; returns the way count."""
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="mobility-engine">\n')
    needed: set[int] = set()
    kept: list[tuple[int, list[int], dict[str, str]]] = []
    for wid, refs, tags in ex.ways:
        present = [r for r in refs if r in ex.node_lat]
        if len(present) >= 2:
            kept.append((wid, present, tags))
            needed.update(present)
    for nid in sorted(needed):
        head = f'<node id="{nid}" lat="{ex.node_lat[nid]!r}" lon="{ex.node_lon[nid]!r}"'
        if nid in ex.signals:
            out.write(head + '><tag k="highway" v="traffic_signals"/></node>\n')
        else:
            out.write(head + "/>\n")
    for wid, refs, tags in kept:
        out.write(f'<way id="{wid}">')
        out.write("".join(f'<nd ref="{r}"/>' for r in refs))
        out.write("".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()))
        out.write("</way>\n")
    out.write("</osm>\n")
    return len(kept)


# ---------------------------------------------------------------------------- graph building
def _utm_crs(lat: float, lon: float) -> str:
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _interior_points(geometry: Any, u: tuple[float, float], v: tuple[float, float]) -> list[tuple[float, float]]:
    """The ``(lon, lat)`` points of an edge's ``geometry`` (a LineString) between its end nodes
    ``u`` and ``v`` (``(lon, lat)``), from ``u`` to ``v``.

    osmnx draws a merged edge's LineString from ``u`` through the removed nodes to ``v``; one
    that runs the other way is turned round, and its first and last points are dropped when
    they are the end nodes themselves (as they are in osmnx's graphs).
    """
    coords = [(float(x), float(y)) for x, y, *_ in getattr(geometry, "coords", ())]
    if len(coords) < 2:
        return []

    def dist2(a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2

    if dist2(coords[0], v) + dist2(coords[-1], u) < dist2(coords[0], u) + dist2(coords[-1], v):
        coords.reverse()
    same = 1e-18  # (degrees²): the end node's own point
    start = 1 if dist2(coords[0], u) <= same else 0
    stop = len(coords) - 1 if dist2(coords[-1], v) <= same else len(coords)
    return coords[start:stop]


def _road_class_code(highway: Any) -> int:
    names = highway if isinstance(highway, list) else [highway]
    codes = [DEFAULT_ROAD_CLASSES.index(h) for h in names if h in DEFAULT_ROAD_CLASSES]
    return min(codes) if codes else len(DEFAULT_ROAD_CLASSES) - 1


def _add_travel_times(G: Any, options: BuildOptions) -> None:
    """Set ``speed_kph`` and ``travel_time`` (float s) on every raw edge."""
    import osmnx as ox

    if not options.use_maxspeed:
        for _, _, data in G.edges(data=True):
            data.pop("maxspeed", None)
    fallback = float(np.median(list(options.speeds_kph.values())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ox.add_edge_speeds(G, hwy_speeds=dict(options.speeds_kph), fallback=fallback)
    for _, _, data in G.edges(data=True):
        speed = float(data.get("speed_kph", fallback))
        if not math.isfinite(speed) or speed <= 0:
            speed = fallback
        speed = min(speed, options.max_speed_kph)
        data["speed_kph"] = speed
        data["travel_time"] = float(data["length"]) / (speed / 3.6)


def _network_from_graph(
    G: Any, *, path: Path, name: str, stops: list[tuple[int, float, float, str]], meta: dict[str, Any]
) -> RoadNetwork:
    nodes = list(G.nodes)
    if not nodes or G.number_of_edges() == 0:
        raise NetworkFileError(path, "no drivable roads in the file")
    index = {nid: i for i, nid in enumerate(nodes)}
    lat = np.array([float(G.nodes[n]["y"]) for n in nodes])
    lon = np.array([float(G.nodes[n]["x"]) for n in nodes])
    osm_ids = np.array([int(n) for n in nodes], np.int64)
    m = G.number_of_edges()
    tail = np.empty(m, np.int64)
    head = np.empty(m, np.int64)
    ttime = np.empty(m, np.float64)
    length = np.empty(m, np.float64)
    rclass = np.empty(m, np.int8)
    # the street shapes: a simplified edge's interior points, from its ``geometry``
    geom_indptr = np.zeros(m + 1, np.int64)
    inner: list[tuple[float, float]] = []
    for i, (u, v, data) in enumerate(G.edges(data=True)):
        tail[i] = index[u]
        head[i] = index[v]
        length[i] = float(data["length"])
        ttime[i] = float(data["travel_time"])
        rclass[i] = _road_class_code(data.get("highway"))
        geometry = data.get("geometry")
        if geometry is not None:
            ends = (lon[tail[i]], lat[tail[i]]), (lon[head[i]], lat[head[i]])
            inner.extend(_interior_points(geometry, *ends))
        geom_indptr[i + 1] = len(inner)
    points = np.array(inner, np.float64).reshape(-1, 2)
    crs = _utm_crs(float(np.mean(lat)), float(np.mean(lon)))
    x, y = project_to_crs(lat, lon, crs)
    stop_arr = sorted(stops)
    try:
        return RoadNetwork.from_edges(
            tail=tail,
            head=head,
            travel_time_s=ttime,
            length_m=length,
            lat=lat,
            lon=lon,
            x_m=x,
            y_m=y,
            osm_id=osm_ids,
            road_class=rclass,
            name=name,
            crs=crs,
            meta=meta,
            osm_stop_id=[s[0] for s in stop_arr],
            osm_stop_lat=[s[1] for s in stop_arr],
            osm_stop_lon=[s[2] for s in stop_arr],
            geom_indptr=geom_indptr,
            geom_lat=points[:, 1],
            geom_lon=points[:, 0],
        )
    except InvalidArgumentError as exc:
        raise NetworkFileError(path, f"no usable road network ({exc})") from exc


def _build_from_osm(path: Path, fmt: str, options: BuildOptions, name: str) -> RoadNetwork:
    import osmnx as ox

    ex = _extract_pbf(path, options) if fmt == "pbf" else _extract_xml(path, fmt, options)
    if not ex.ways:
        what = f"{ex.ways_seen} ways, none of them a drivable road" if ex.ways_seen else "no ways"
        raise NetworkFileError(
            path, f"no drivable roads in the file ({what}; classes: {', '.join(options.speeds_kph)})"
        )
    with tempfile.TemporaryDirectory(prefix="mobility-osm-") as tmp:
        clean = Path(tmp) / "drive.osm"
        with open(clean, "w", encoding="utf-8") as out:
            kept = _write_clean_xml(ex, out)
        if kept == 0:
            raise NetworkFileError(path, "no drivable road has node coordinates in the file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            G = ox.graph_from_xml(clean, bidirectional=False, simplify=False, retain_all=True)
    raw_nodes, raw_edges = G.number_of_nodes(), G.number_of_edges()
    _add_travel_times(G, options)
    if options.simplify:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            G = ox.simplify_graph(G, edge_attr_aggs={"length": sum, "travel_time": sum})
    meta = {
        "source": str(path),
        "format": fmt,
        "ways_in_file": ex.ways_seen,
        "drivable_ways": len(ex.ways),
        "raw_nodes": raw_nodes,
        "raw_edges": raw_edges,
    }
    return _network_from_graph(G, path=path, name=name, stops=ex.stops, meta=meta)


def _build_from_graphml(path: Path, options: BuildOptions, name: str) -> RoadNetwork:
    import osmnx as ox

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            G = ox.load_graphml(path)
    except Exception as exc:  # osmnx/networkx raise many types on a bad file
        raise NetworkFileError(path, f"corrupt GraphML ({type(exc).__name__}: {exc})") from exc
    if G.number_of_edges() == 0:
        raise NetworkFileError(path, "no drivable roads in the file (the graph has no edges)")
    for _, _, data in G.edges(data=True):
        if "length" not in data:
            raise NetworkFileError(path, "GraphML edges have no 'length' attribute (not an osmnx graph?)")
    _add_travel_times(G, options)
    meta = {
        "source": str(path),
        "format": "graphml",
        "raw_nodes": G.number_of_nodes(),
        "raw_edges": G.number_of_edges(),
    }
    return _network_from_graph(G, path=path, name=name, stops=[], meta=meta)


# ---------------------------------------------------------------------------- public API
def write_drive_osm(path: str | Path, out: str | Path, options: BuildOptions | None = None) -> int:
    """Write the drivable roads of an OSM file (XML, bz2/gz XML or PBF) as plain OSM XML.

    The ways are those :func:`load_network` builds its graph from (the same ``options``), with
    all their tags; their nodes carry coordinates, and a node tagged as a traffic signal keeps
    ``highway=traffic_signals``. For tools that read OSM XML only (SUMO's ``netconvert``).
    Returns the number of ways written.

    Raises:
        NetworkFileError: the file is missing, empty, corrupt, GraphML, or has no drivable roads.
    """
    path = Path(path)
    _check_file(path)
    options = options or BuildOptions()
    fmt = detect_format(path)
    if fmt == "graphml":
        raise NetworkFileError(path, "GraphML has no OSM ways to write: give the OSM file (XML or PBF)")
    ex = _extract_pbf(path, options) if fmt == "pbf" else _extract_xml(path, fmt, options)
    with open(out, "w", encoding="utf-8") as fh:
        kept = _write_clean_xml(ex, fh)
    if kept == 0:
        raise NetworkFileError(path, "no drivable roads in the file")
    return kept


def _check_file(path: Path) -> None:
    if not path.exists():
        raise NetworkFileError(path, "file not found")
    if path.is_dir():
        raise NetworkFileError(path, "is a directory, not a file")
    if path.stat().st_size == 0:
        raise NetworkFileError(path, "file is empty")


def network_cache_path(
    path: str | Path, options: BuildOptions | None = None, cache_dir: str | Path | None = None
) -> Path:
    """Where :func:`load_network` caches the network built from ``path`` with ``options``."""
    path = Path(path)
    _check_file(path)
    options = options or BuildOptions()
    key = hashlib.sha256((file_digest(path) + options.cache_token()).encode()).hexdigest()[:32]
    stem = path.name.split(".")[0] or "network"
    return Path(cache_dir or default_cache_dir()) / "networks" / f"{stem}-{key}.npz"


def load_network(
    path: str | Path,
    *,
    options: BuildOptions | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    name: str | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> RoadNetwork:
    """Load a road network from an OSM file (XML, bz2/gz XML, PBF) or osmnx GraphML.

    The result is cached on disk, keyed by the file's content (SHA-256) and ``options``;
    a second call with the same file and options reads the cache. A saved network
    (``.npz`` written by :meth:`RoadNetwork.save`) is also accepted as ``path``.

    A network whose mean free-flow speed is implausible is logged as a warning naming the
    options that set its speeds (:func:`routing.network.speed_warning`), also when it comes
    from the cache.

    Raises:
        NetworkFileError: the file is missing, empty, corrupt, or has no drivable roads.
    """
    net = _load_network(path, options=options, cache=cache, cache_dir=cache_dir, name=name, on_stage=on_stage)
    warn_if_implausible(net)
    return net


def _load_network(
    path: str | Path,
    *,
    options: BuildOptions | None,
    cache: bool,
    cache_dir: str | Path | None,
    name: str | None,
    on_stage: Callable[[str], None] | None,
) -> RoadNetwork:
    path = Path(path)
    _check_file(path)
    stage = on_stage or (lambda _msg: None)
    if path.suffix == ".npz":
        return RoadNetwork.load(path)
    options = options or BuildOptions()
    name = name or path.name.split(".")[0]
    cached = network_cache_path(path, options, cache_dir) if cache else None
    if cached is not None and cached.exists():
        stage(f"reading cached network {cached}")
        try:
            net = RoadNetwork.load(cached)
            if net.name != name:  # the name is not part of the cache key
                net = dataclasses.replace(net, name=name)
            net.meta["cache_path"] = str(cached)
            net.meta["from_cache"] = True
            return net
        except NetworkFileError as exc:
            log.warning("ignoring unreadable cache %s: %s", cached, exc)
    fmt = detect_format(path)
    stage(f"building the drive network from {path.name} ({fmt})")
    t0 = time.perf_counter()
    net = _build_from_graphml(path, options, name) if fmt == "graphml" else _build_from_osm(path, fmt, options, name)
    net.meta["build_s"] = round(time.perf_counter() - t0, 3)
    if cached is not None:
        net.save(cached)
        net.meta["cache_path"] = str(cached)
    net.meta["from_cache"] = False
    return net


def iter_bundled_osm(data_dir: str | Path) -> Iterator[Path]:
    """The OSM extracts found in ``<data_dir>/osm`` (for tests and benchmarks)."""
    folder = Path(data_dir) / "osm"
    yield from sorted(p for p in folder.iterdir() if p.is_file() and ".osm" in p.name)
