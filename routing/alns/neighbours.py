"""Granular neighbourhoods: each request's nearest requests in space and time.

The local searches that pair a request with others (:func:`~routing.alns.local_search.eject_polish`)
look only at a request's ``k`` nearest requests instead of every request of every route, so
that their cost grows with ``requests x k`` rather than ``requests x requests`` (Toth & Vigo's
granular neighbourhoods; the measure is Vidal et al.'s correlation of HGS-CVRPTW).

Proximity of two stops, ``a`` then ``b``: the travel time, plus 0.2 x the wait at ``b`` even
when ``a`` is served at the end of its window, plus 1.0 x the time warp at ``b`` (how far past
``b``'s window the vehicle arrives even when ``a`` is served at the start of its window); the
smaller of the two orders. Proximity of two
requests: the smallest over their stops (pickup and delivery; a delivery alone for a rider on
board), so that two requests are near when either end of one is near either end of the other.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..schedule import ProblemArrays

#: weights of the wait and of the time warp in the proximity (HGS-CVRPTW's defaults)
WAIT_WEIGHT, WARP_WEIGHT = 0.2, 1.0
#: rows of the request-by-request proximity computed at once (memory: rows x requests x 8 bytes x 3)
BLOCK_ROWS = 256


def _stop_proximity(pb: ProblemArrays, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.float64]:
    """Proximity of stops ``a[:, None]`` and ``b[None, :]`` (both directions, the smaller)."""
    loc = pb.node_location
    e, late, s = pb.tw_early, pb.tw_late, pb.service
    out = np.full((a.shape[0], b.shape[0]), np.inf)
    for x, y in ((a[:, None], b[None, :]), (b[None, :], a[:, None])):
        t = pb.travel_time[loc[x], loc[y]]
        wait = np.maximum(0.0, e[y] - (late[x] + s[x] + t))
        warp = np.maximum(0.0, e[x] + s[x] + t - late[y])
        np.minimum(out, t + WAIT_WEIGHT * wait + WARP_WEIGHT * warp, out=out)
    return out


def request_neighbours(
    pb: ProblemArrays, pickup: NDArray[np.int32], delivery: NDArray[np.int32], k: int
) -> NDArray[np.int32]:
    """The ``min(k, requests - 1)`` nearest other requests of every request, nearest first.

    Returns ``int32[requests, k']``. Memory: the result plus a block of ``BLOCK_ROWS x requests``
    proximities at a time (about 6 MB per 1,000 requests), never the whole square.
    """
    n = int(delivery.shape[0])
    kk = max(0, min(int(k), n - 1))
    out = np.empty((n, kk), np.int32)
    if kk == 0:
        return out
    # each request's stops: the pickup (or, for a rider on board, the delivery again) and the delivery
    first = np.where(pickup >= 0, pickup, delivery).astype(np.int64)
    second = delivery.astype(np.int64)
    for lo in range(0, n, BLOCK_ROWS):
        hi = min(n, lo + BLOCK_ROWS)
        prox = np.full((hi - lo, n), np.inf)
        for a in (first[lo:hi], second[lo:hi]):
            for b in (first, second):
                np.minimum(prox, _stop_proximity(pb, a, b), out=prox)
        prox[np.arange(hi - lo), np.arange(lo, hi)] = np.inf  # not its own neighbour
        part = np.argpartition(prox, kk - 1, axis=1)[:, :kk]
        rows = np.take_along_axis(prox, part, axis=1)
        order = np.lexsort((part, rows), axis=1)  # nearest first, ties by index (deterministic)
        out[lo:hi] = np.take_along_axis(part, order, axis=1)
    return out
