"""A deterministic synthetic city: a perturbed grid with a road hierarchy.

Used by benchmarks at city scale (about 100,000 nodes) and by tests at small scale. It is
*synthetic*, not a real city, and is labelled as such in every report.

Layout: a ``side x side`` grid of intersections ``spacing_m`` apart, each moved by up to a
quarter of the spacing. Every 32nd street is a trunk road, every 8th a primary road,
every 4th a secondary road, the rest residential. Some residential blocks are missing
(edges removed) and some residential streets are one-way; speeds vary by up to 20 %
around the class speed and lengths are 0-10 % longer than the straight line (curvature).
Coordinates are real UTM (zone 52N, around Incheon) so lat/lon snapping works.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InvalidArgumentError
from .network import DEFAULT_ROAD_CLASSES, RoadNetwork

_CLASS_SPEED_KPH = {"trunk": 70.0, "primary": 50.0, "secondary": 50.0, "residential": 30.0}
_ORIGIN_UTM52 = (285_000.0, 4_140_000.0)  # near Incheon (37.4 N, 126.6 E)


def _street_class(index: int) -> str:
    if index % 32 == 0:
        return "trunk"
    if index % 8 == 0:
        return "primary"
    if index % 4 == 0:
        return "secondary"
    return "residential"


def synthetic_city(
    num_nodes: int = 100_000,
    *,
    seed: int = 0,
    spacing_m: float = 120.0,
    removed_share: float = 0.08,
    oneway_share: float = 0.10,
) -> RoadNetwork:
    """Generate the synthetic city (same arguments, same network, on every machine)."""
    if not 4 <= num_nodes <= 20_000_000:
        raise InvalidArgumentError("num_nodes", f"got {num_nodes}", "4 .. 20000000")
    if not 1.0 <= spacing_m <= 10_000.0:
        raise InvalidArgumentError("spacing_m", f"got {spacing_m}", "1 .. 10000 m")
    for name, share in (("removed_share", removed_share), ("oneway_share", oneway_share)):
        if not 0.0 <= share < 1.0:
            raise InvalidArgumentError(name, f"got {share}", "0 <= share < 1")
    rng = np.random.default_rng(seed)
    side = max(2, math.isqrt(num_nodes - 1) + 1)
    n = side * side
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    x = _ORIGIN_UTM52[0] + col.ravel() * spacing_m + rng.uniform(-0.25, 0.25, n) * spacing_m
    y = _ORIGIN_UTM52[1] + row.ravel() * spacing_m + rng.uniform(-0.25, 0.25, n) * spacing_m

    def node(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return r * side + c

    rr, cc = np.meshgrid(np.arange(side), np.arange(side - 1), indexing="ij")
    h_a, h_b = node(rr.ravel(), cc.ravel()), node(rr.ravel(), cc.ravel() + 1)
    h_cls = np.array([_street_class(int(i)) for i in rr.ravel()])
    rr, cc = np.meshgrid(np.arange(side - 1), np.arange(side), indexing="ij")
    v_a, v_b = node(rr.ravel(), cc.ravel()), node(rr.ravel() + 1, cc.ravel())
    v_cls = np.array([_street_class(int(i)) for i in cc.ravel()])
    a = np.concatenate([h_a, v_a])
    b = np.concatenate([h_b, v_b])
    cls = np.concatenate([h_cls, v_cls])

    local = cls == "residential"
    keep = ~(local & (rng.random(a.size) < removed_share))
    a, b, cls, local = a[keep], b[keep], cls[keep], local[keep]
    oneway = local & (rng.random(a.size) < oneway_share)
    flip = rng.random(a.size) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)

    straight = np.hypot(x[a] - x[b], y[a] - y[b])
    length = straight * rng.uniform(1.0, 1.1, a.size)
    speed = np.array([_CLASS_SPEED_KPH[c] for c in cls]) * rng.uniform(0.8, 1.2, a.size)
    time_s = length / (speed / 3.6)
    code = np.array([DEFAULT_ROAD_CLASSES.index(c) for c in cls], np.int8)

    two = ~oneway
    tail = np.concatenate([a, b[two]])
    head = np.concatenate([b, a[two]])

    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:32652", "EPSG:4326", always_xy=True).transform(x, y)
    return RoadNetwork.from_edges(
        tail=tail,
        head=head,
        travel_time_s=np.concatenate([time_s, time_s[two]]),
        length_m=np.concatenate([length, length[two]]),
        road_class=np.concatenate([code, code[two]]),
        lat=lat,
        lon=lon,
        x_m=x,
        y_m=y,
        name=f"synthetic-grid-{n // 1000}k (synthetic)",
        crs="EPSG:32652",
        meta={"synthetic": True, "seed": seed, "side": side, "spacing_m": spacing_m},
    )
