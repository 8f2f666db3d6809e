"""Readers for road graphs that come with benchmark instances (not OSM).

Manhattan (Luo, Florio, Das & Guo, PVLDB 2023; ``../shared/data/rideshare/manhattan``):

* ``<name>.xy``: node count, then ``id x y`` per node (projected, normalised coordinates);
* ``<name>.d``: arc count, then ``from to travel_time`` per arc.

The files state no units, so both are options of :func:`read_manhattan` (and of the scenario
files' ``[network]`` table and ``mobility network build``): ``coord_unit_m``, the metres in
one coordinate unit, and ``time_unit_s``, the seconds in one time unit of the ``.d`` file.
Their defaults are the Manhattan graph's, inferred from its data, as nothing else states them:
its arc times are a constant 1,592.5 time units per coordinate unit; with coordinates read as
miles (:data:`MANHATTAN_COORD_UNIT_M`) the median arc is 83 m, Manhattan's north-south block,
and with times read as tenths of a second (:data:`MANHATTAN_TIME_UNIT_S`) the mean free-flow
speed is 36 km/h (read as seconds, vehicles would crawl at 3.6 km/h).

Another city of the same benchmark need not share these units (a San Francisco graph read with
them came out about three times too small). Whatever the units, a network whose mean
free-flow speed is implausible (:data:`routing.network.PLAUSIBLE_SPEED_KPH`) is reported as a
logged warning naming the options to set. Lengths are the straight-line distance between the
nodes times ``coord_unit_m``; times are the file's times times ``time_unit_s``, rounded to
whole seconds. The units used are stated in ``network.meta``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import InvalidArgumentError, NetworkFileError, plain_repr
from .network import RoadNetwork, warn_if_implausible

#: Metres per coordinate unit of the Manhattan benchmark graph (a mile; inferred, see above).
MANHATTAN_COORD_UNIT_M = 1609.344
#: Seconds per time unit of the Manhattan benchmark graph's ``.d`` file (a tenth; inferred, see above).
MANHATTAN_TIME_UNIT_S = 0.1


def _read_table(path: Path, columns: int, what: str) -> np.ndarray:
    if not path.exists():
        raise NetworkFileError(path, f"file not found ({what})")
    try:
        with open(path, encoding="ascii") as fh:
            first = fh.readline().split()
            if len(first) != 1:
                raise NetworkFileError(path, f"first line should be the {what} count, got {' '.join(first)!r}")
            count = int(first[0])
            data = np.loadtxt(fh, dtype=np.float64, ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NetworkFileError(path, f"corrupt {what} file ({exc})") from exc
    if data.size == 0:
        data = np.zeros((0, columns))
    if data.shape[1] != columns:
        raise NetworkFileError(path, f"expected {columns} columns per {what}, got {data.shape[1]}")
    if data.shape[0] != count:
        raise NetworkFileError(path, f"header says {count} {what}s, the file has {data.shape[0]}")
    return data


def read_manhattan(
    path: str | Path,
    *,
    time_unit_s: float = MANHATTAN_TIME_UNIT_S,
    coord_unit_m: float = MANHATTAN_COORD_UNIT_M,
    largest_component: bool = True,
) -> RoadNetwork:
    """Read a ``.xy`` + ``.d`` benchmark graph.

    ``path`` is the folder (the ``*.xy`` in it is used), or the ``.xy`` file, or the common
    stem (``.../Manhattan``). ``time_unit_s`` is the seconds per time unit of the ``.d``
    file, ``coord_unit_m`` the metres per coordinate unit of the ``.xy`` file (defaults: the
    Manhattan graph's, see the module docstring). A network whose mean free-flow speed is
    implausible is logged as a warning naming these two options.
    """
    if not 0 < time_unit_s < math.inf:
        raise InvalidArgumentError("time_unit_s", f"got {plain_repr(time_unit_s)}", "> 0 s per time unit")
    if not 0 < coord_unit_m < math.inf:
        raise InvalidArgumentError("coord_unit_m", f"got {plain_repr(coord_unit_m)}", "> 0 m per coordinate unit")
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*.xy"))
        if not found:
            raise NetworkFileError(p, "no .xy file in the folder")
        stem = found[0].with_suffix("")
    else:
        stem = p.with_suffix("") if p.suffix in (".xy", ".d") else p
    xy = _read_table(stem.with_suffix(".xy"), 3, "node")
    arcs = _read_table(stem.with_suffix(".d"), 3, "arc")
    ids = xy[:, 0].astype(np.int64)
    n = ids.size
    if n == 0:
        raise NetworkFileError(stem.with_suffix(".xy"), "no nodes")
    if not np.array_equal(np.sort(ids), np.arange(n)):
        raise NetworkFileError(stem.with_suffix(".xy"), f"node ids must be 0 .. {n - 1}")
    x = np.empty(n)
    y = np.empty(n)
    x[ids] = xy[:, 1]
    y[ids] = xy[:, 2]
    tail = arcs[:, 0].astype(np.int64)
    head = arcs[:, 1].astype(np.int64)
    if arcs.shape[0] and (min(tail.min(), head.min()) < 0 or max(tail.max(), head.max()) >= n):
        raise NetworkFileError(stem.with_suffix(".d"), f"arc endpoint outside 0 .. {n - 1}")
    if arcs.shape[0] and not np.all(arcs[:, 2] > 0):
        raise NetworkFileError(stem.with_suffix(".d"), "travel times must be > 0")
    length = np.hypot(x[tail] - x[head], y[tail] - y[head]) * coord_unit_m
    try:
        net = RoadNetwork.from_edges(
            tail=tail,
            head=head,
            travel_time_s=arcs[:, 2] * time_unit_s,
            length_m=length,
            lat=np.full(n, np.nan),
            lon=np.full(n, np.nan),
            x_m=x * coord_unit_m,
            y_m=y * coord_unit_m,
            osm_id=np.arange(n),
            name=stem.name,
            crs="",
            largest_component=largest_component,
            meta={
                "source": str(stem),
                "format": "xy+d",
                "time_unit_s": time_unit_s,
                "coord_unit_m": coord_unit_m,
                "lengths": "inferred from coordinates",
            },
        )
    except InvalidArgumentError as exc:
        raise NetworkFileError(stem, f"no usable road network ({exc})") from exc
    warn_if_implausible(net)
    return net
