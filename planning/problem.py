"""The transit route network design problem (TNDP): a planning graph of stops, demand, rules.

A :class:`TransitProblem` is immutable data, the same whether it comes from the CEC-2013
benchmark files (:func:`planning.read_cec`) or from a real city (:mod:`planning.city`):

* ``link_time_min[i, j]``: the in-vehicle time of the direct link from node ``i`` to node ``j``
  in minutes, ``inf`` where no link exists (a bus can only run from a stop to a linked stop);
  the diagonal is 0;
* ``demand[i, j]``: trips per day from ``i`` to ``j`` (not necessarily symmetric);
* ``x``, ``y``: planar coordinates for maps (metres for a city; the benchmark's own units);
  ``lat``, ``lon`` where known (NaN otherwise);
* ``node_ids``: what users call the nodes (``"1" .. "n"`` for the benchmark files, stop or
  cluster ids for a city), used in files and messages;
* :class:`RouteRules`: how many routes, stops per route, circuity and overlap limits, and the
  transfer penalty (5 minutes by the benchmark's convention).

Routes are sequences of node indices (0-based inside the code; files written for the benchmark
use 1-based numbers as the published route sets do) and are run in both directions, as in the
benchmark. The planning graph has at most a few thousand nodes (stops are aggregated), so the
``n x n`` matrices here are small; nothing in this room builds a matrix over road-network nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError, whole_number

#: The benchmark's transfer penalty (minutes per transfer).
TRANSFER_PENALTY_MIN = 5.0


@dataclass(frozen=True)
class RouteRules:
    """The rules a route set must keep.

    Attributes:
        num_routes: how many routes the set has.
        min_stops, max_stops: stops per route (inclusive).
        max_circuity: a route's time divided by the shortest time between its two terminals
            over the planning graph may be at most this (``inf``: no limit; the CEC benchmark
            has none).
        max_overlap: the share of a route's time (0..1) run on links that other routes also run
            may be at most this (1: no limit).
        transfer_penalty_min: minutes added to a journey per transfer.
    """

    num_routes: int
    min_stops: int = 2
    max_stops: int = 30
    max_circuity: float = math.inf
    max_overlap: float = 1.0
    transfer_penalty_min: float = TRANSFER_PENALTY_MIN

    def __post_init__(self) -> None:
        whole_number("num_routes", self.num_routes, 1, 10_000)
        whole_number("min_stops", self.min_stops, 2, 10_000)
        whole_number("max_stops", self.max_stops, 2, 10_000)
        if self.max_stops < self.min_stops:
            raise InvalidArgumentError(
                "max_stops", f"got {self.max_stops}, below min_stops {self.min_stops}", ">= min_stops"
            )
        if not (isinstance(self.max_circuity, int | float) and self.max_circuity >= 1.0):
            raise InvalidArgumentError("max_circuity", f"got {self.max_circuity!r}", ">= 1 (inf: no limit)")
        if not (isinstance(self.max_overlap, int | float) and 0.0 <= self.max_overlap <= 1.0):
            raise InvalidArgumentError("max_overlap", f"got {self.max_overlap!r}", "0 .. 1 (1: no limit)")
        if not (isinstance(self.transfer_penalty_min, int | float) and 0.0 <= self.transfer_penalty_min <= 600):
            raise InvalidArgumentError("transfer_penalty_min", f"got {self.transfer_penalty_min!r}", "0 .. 600 minutes")

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_routes": self.num_routes,
            "min_stops": self.min_stops,
            "max_stops": self.max_stops,
            "max_circuity": None if math.isinf(self.max_circuity) else self.max_circuity,
            "max_overlap": self.max_overlap,
            "transfer_penalty_min": self.transfer_penalty_min,
        }


@dataclass(frozen=True, eq=False)
class TransitProblem:
    """A planning graph with its demand and rules (see the module docstring)."""

    name: str
    link_time_min: NDArray[np.float64]
    demand: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    rules: RouteRules
    node_ids: tuple[str, ...] = ()
    lat: NDArray[np.float64] | None = None
    lon: NDArray[np.float64] | None = None
    #: where the data came from, in words (file names, "synthetic gravity model", ...)
    source: str = ""
    #: published reference values (lower bound of the ATT, best known), for reports
    reference: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.link_time_min, np.float64)
        d = np.ascontiguousarray(self.demand, np.float64)
        n = t.shape[0]
        if t.ndim != 2 or t.shape != (n, n) or n < 2:
            raise InvalidArgumentError("link_time_min", f"got shape {t.shape}", "a square matrix of 2 or more nodes")
        if d.shape != (n, n):
            raise InvalidArgumentError("demand", f"got shape {d.shape}", f"({n}, {n}) like link_time_min")
        off = ~np.eye(n, dtype=bool)
        finite = np.isfinite(t)
        if np.isnan(t).any() or (t[finite & off] <= 0).any():
            raise InvalidArgumentError("link_time_min", "has a link of zero, negative or NaN time", "> 0 or inf")
        if not np.isfinite(d).all() or (d < 0).any():
            raise InvalidArgumentError("demand", "has a negative, NaN or infinite entry", ">= 0")
        t = t.copy()
        np.fill_diagonal(t, 0.0)
        d = d.copy()
        np.fill_diagonal(d, 0.0)
        t.setflags(write=False)
        d.setflags(write=False)
        object.__setattr__(self, "link_time_min", t)
        object.__setattr__(self, "demand", d)
        for name in ("x", "y"):
            a = np.ascontiguousarray(getattr(self, name), np.float64)
            if a.shape != (n,):
                raise InvalidArgumentError(name, f"got shape {a.shape}", f"({n},): one value per node")
            object.__setattr__(self, name, a)
        ids = tuple(self.node_ids) or tuple(str(i + 1) for i in range(n))
        if len(ids) != n or len(set(ids)) != n:
            raise InvalidArgumentError("node_ids", f"got {len(ids)} ids ({len(set(ids))} distinct)", f"{n} distinct")
        object.__setattr__(self, "node_ids", ids)
        if self.rules.max_stops < 2 or self.rules.min_stops > n:
            raise InvalidArgumentError("min_stops", f"got {self.rules.min_stops}", f"at most the {n} nodes")

    @property
    def num_nodes(self) -> int:
        return int(self.link_time_min.shape[0])

    @property
    def total_demand(self) -> float:
        return float(self.demand.sum())

    def with_rules(self, **changes: Any) -> TransitProblem:
        """The same graph and demand under other rules (``RouteRules`` fields as keywords)."""
        return replace(self, rules=replace(self.rules, **changes))

    @cached_property
    def links(self) -> NDArray[np.int32]:
        """Undirected links ``(i, j)`` with ``i < j`` (a link in either direction counts), ``(m, 2)``."""
        t = self.link_time_min
        mask = np.isfinite(t) | np.isfinite(t.T)
        np.fill_diagonal(mask, False)
        i, j = np.nonzero(np.triu(mask))
        return np.column_stack([i, j]).astype(np.int32)

    @cached_property
    def shortest_time_min(self) -> NDArray[np.float64]:
        """Shortest in-vehicle time between every two nodes over the links (``inf`` if none), ``(n, n)``."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import shortest_path

        t = self.link_time_min
        finite = np.isfinite(t)
        np.fill_diagonal(finite, False)
        i, j = np.nonzero(finite)
        g = csr_matrix((t[i, j], (i, j)), shape=t.shape)
        sp = shortest_path(g, method="D", directed=True)
        sp.setflags(write=False)
        return np.asarray(sp, np.float64)

    @cached_property
    def connected(self) -> bool:
        """Whether every node can reach every other over the links."""
        return bool(np.isfinite(self.shortest_time_min).all())

    def node_index(self, node_id: str) -> int:
        """The index of the node a user calls ``node_id`` (``KeyError`` if none)."""
        index = self._id_index
        return index[node_id]

    @cached_property
    def _id_index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.node_ids)}
