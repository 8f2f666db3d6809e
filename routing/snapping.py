"""Snapping points to the road network: nearest node by KD-tree over projected metres."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from .errors import InvalidArgumentError, SnapError, plain_repr
from .network import RoadNetwork

#: Default maximum snapping distance (m): farther points are rejected.
DEFAULT_MAX_SNAP_M = 500.0


@dataclass(frozen=True)
class SnapResult:
    """Nearest nodes of a batch of points.

    ``node[i]`` is -1 where the nearest node is farther than the maximum distance;
    ``distance_m`` is always the distance to the nearest node.
    """

    node: NDArray[np.int64]
    distance_m: NDArray[np.float64]

    @property
    def ok(self) -> NDArray[np.bool_]:
        return self.node >= 0


def _tree(network: RoadNetwork) -> cKDTree:
    return network.memo("kdtree", lambda: cKDTree(np.column_stack([network.x_m, network.y_m])))


def check_lat_lon(lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate coordinates: finite, latitude in [-90, 90], longitude in [-180, 180]."""
    try:
        la = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        lo = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError("lat/lon", f"coordinates must be numbers ({exc})") from exc
    if la.shape != lo.shape:
        raise InvalidArgumentError("lon", f"{lo.size} longitudes for {la.size} latitudes")
    bad_lat = ~np.isfinite(la) | (la < -90) | (la > 90)
    if bad_lat.any():
        raise InvalidArgumentError("lat", f"got {plain_repr(la[bad_lat][0])}", "-90 .. 90 degrees")
    bad_lon = ~np.isfinite(lo) | (lo < -180) | (lo > 180)
    if bad_lon.any():
        raise InvalidArgumentError("lon", f"got {plain_repr(lo[bad_lon][0])}", "-180 .. 180 degrees")
    return la, lo


def project(network: RoadNetwork, lat: ArrayLike, lon: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project WGS84 coordinates into the network's metric CRS (``x_m``, ``y_m``)."""
    if not network.has_lat_lon:
        raise InvalidArgumentError(
            "network",
            f"{network.name!r} has no geographic coordinates; use nearest_nodes_xy with the network's own x/y",
        )
    la, lo = check_lat_lon(lat, lon)
    from pyproj import Transformer

    tr = network.memo("to_xy", lambda: Transformer.from_crs("EPSG:4326", network.crs, always_xy=True))
    x, y = tr.transform(lo, la)
    return np.asarray(x, np.float64), np.asarray(y, np.float64)


def nearest_nodes_xy(
    network: RoadNetwork, x: ArrayLike, y: ArrayLike, *, max_distance_m: float | None = None
) -> SnapResult:
    """Nearest node to each point given in the network's own x/y coordinates."""
    xa = np.atleast_1d(np.asarray(x, dtype=np.float64))
    ya = np.atleast_1d(np.asarray(y, dtype=np.float64))
    if xa.shape != ya.shape:
        raise InvalidArgumentError("y", f"{ya.size} y values for {xa.size} x values")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(ya))):
        raise InvalidArgumentError("x/y", "coordinates must be finite")
    if max_distance_m is not None and not max_distance_m >= 0:
        raise InvalidArgumentError("max_distance_m", f"got {plain_repr(max_distance_m)}", ">= 0 m")
    dist, idx = _tree(network).query(np.column_stack([xa.ravel(), ya.ravel()]))
    node = np.asarray(idx, np.int64)
    if max_distance_m is not None:
        node = np.where(dist <= max_distance_m, node, -1)
    return SnapResult(node=node.reshape(xa.shape), distance_m=np.asarray(dist, np.float64).reshape(xa.shape))


def nearest_nodes(
    network: RoadNetwork, lat: ArrayLike, lon: ArrayLike, *, max_distance_m: float | None = DEFAULT_MAX_SNAP_M
) -> SnapResult:
    """Nearest node to each WGS84 point; ``node`` is -1 beyond ``max_distance_m``."""
    x, y = project(network, lat, lon)
    return nearest_nodes_xy(network, x, y, max_distance_m=max_distance_m)


def snap(
    network: RoadNetwork, lat: float, lon: float, *, max_distance_m: float = DEFAULT_MAX_SNAP_M
) -> tuple[int, float]:
    """Nearest node to one point and its distance (m).

    Raises:
        SnapError: if the nearest node is farther than ``max_distance_m``.
    """
    res = nearest_nodes(network, lat, lon, max_distance_m=None)
    node, dist = int(res.node[0]), float(res.distance_m[0])
    if dist > max_distance_m:
        raise SnapError(float(lat), float(lon), dist, max_distance_m)
    return node, dist
