"""Rebalancing: sending idle shared taxis toward where the demand is.

A taxi with nothing to do waits where its last rider left it, often far from where the next
requests will come from. After each batch the dispatcher sends its idle taxis toward demand,
as Alonso-Mora et al. (PNAS 2017) and Wallar et al. (2018) do:

* :func:`plan_rebalancing` — a minimum-cost transport problem between idle taxis and demand
  points: as many moves as possible (at most one per idle taxi, at most ``weight`` taxis per
  demand point, at most ``max_moves``, no move longer than ``max_travel_s``) and, among those,
  the least total driving time. Solved exactly by OR-Tools' min-cost flow.
* :class:`DemandMemory` — where the demand points come from, in one of two modes:
  ``"unserved"`` (the origins of requests that went unserved within the last ``window_s``
  seconds, the rule of the two papers) or ``"forecast"`` (a short-term forecast by zone: a
  grid of square cells over the node coordinates, :class:`ZoneGrid`, with exponentially
  smoothed request counts per cell over recent batches; the busiest cells' central nodes are
  the targets).
* :class:`RebalanceParams` and :class:`Rebalancer` — the configuration and the two wired
  together, for the dispatcher.

Memory and time stay bounded on a city-wide network: the only travel times asked for are one
``idle x K`` block (:meth:`routing.TravelTimes.block`, no all-pairs matrix), where ``K`` is
at most ``max_targets`` demand points (the most recent ones; :class:`DemandMemory` lists them
newest first). There is no Numba kernel here because there is no hot loop in Python: the
block comes from the routing layer's many-to-many search, the flow from OR-Tools (C++), and
the rest is vectorised NumPy over at most ``idle x K`` pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from ortools.graph.python import min_cost_flow

from routing import UNREACHABLE, TravelTimes, plain_repr

from ..checks import check_float, check_int, check_time, from_mapping, is_int, set_field
from ..errors import InvalidValueError

__all__ = [
    "DEFAULT_MAX_TARGETS",
    "REBALANCE_MODES",
    "DemandMemory",
    "DemandTargets",
    "RebalanceParams",
    "RebalancePlan",
    "Rebalancer",
    "ZoneGrid",
    "plan_rebalancing",
]

#: Demand points :func:`plan_rebalancing` considers by default (the first ones given).
DEFAULT_MAX_TARGETS: Final = 500
#: Where demand points come from: recent unserved requests, or a forecast by zone.
REBALANCE_MODES: Final = ("unserved", "forecast")
#: The most moves, targets or weight one call accepts (keeps the flow's sums far from overflow).
_MAX_COUNT: Final = 10_000_000


def _node_array(field: str, values: ArrayLike, num_nodes: int) -> NDArray[np.int64]:
    """``values`` as a 1-D int64 array of node ids in ``0 .. num_nodes - 1``."""
    arr = np.asarray(values)
    allowed = f"node ids 0 .. {num_nodes - 1}"
    if arr.ndim != 1:
        raise InvalidValueError(field, f"expected a 1-D sequence, got shape {arr.shape}", allowed)
    if arr.size == 0:
        return np.zeros(0, np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidValueError(field, f"expected integer node ids, got dtype {arr.dtype}", allowed)
    bad = np.flatnonzero((arr < 0) | (arr >= num_nodes))
    if bad.size:
        raise InvalidValueError(field, f"entry {int(bad[0])} is {int(arr[bad[0]])}", allowed)
    return arr.astype(np.int64)


def _optional_int(field: str, value: object, lo: int, hi: int, unit: str = "") -> int | None:
    return None if value is None else check_int(field, value, lo, hi, unit=unit)


class RebalancePlan(NamedTuple):
    """Where idle taxis go (``M`` moves, ordered by ``vehicle``).

    A move whose ``travel_s`` is 0 means "stay": the taxi already waits at its demand point
    (it still counts, since it covers that point).
    """

    vehicle: NDArray[np.int64]
    """[M] the taxi, as an index into the ``idle_nodes`` given (ascending)."""
    target: NDArray[np.int64]
    """[M] the node it is sent to."""
    travel_s: NDArray[np.int64]
    """[M] its driving time there."""
    demand: NDArray[np.int64]
    """[M] the demand point it covers, as an index into the ``demand_nodes`` given."""

    @property
    def size(self) -> int:
        return int(self.vehicle.shape[0])

    @property
    def total_travel_s(self) -> int:
        """Driving time of all the moves together (the flow's cost)."""
        return int(self.travel_s.sum())


def _empty_plan() -> RebalancePlan:
    none = np.zeros(0, np.int64)
    return RebalancePlan(none, none.copy(), none.copy(), none.copy())


def plan_rebalancing(
    idle_nodes: ArrayLike,
    demand_nodes: ArrayLike,
    times: TravelTimes,
    *,
    max_moves: int | None = None,
    max_travel_s: int | None = None,
    demand_weights: ArrayLike | None = None,
    max_targets: int = DEFAULT_MAX_TARGETS,
) -> RebalancePlan:
    """Send idle taxis to demand points, the most moves for the least driving.

    The transport problem: each idle taxi makes at most one move; demand point ``d`` receives
    at most ``demand_weights[d]`` taxis (1 each by default: the one-to-one assignment of the
    papers); a taxi may go to a point only if it can get there within ``max_travel_s``
    (``None``: any reachable point). The plan has the largest number of moves possible, at
    most ``min(idle, total weight, max_moves)``, and among plans with that many moves the
    least total travel time. Solved exactly as a maximum flow of minimum cost (OR-Tools
    ``SimpleMinCostFlow``), which also covers what a plain assignment cannot: points taking
    several taxis, forbidden pairs, and a cap on moves. Deterministic: the same input gives
    the same plan.

    Args:
        idle_nodes: the node where each idle taxi waits (duplicates allowed).
        demand_nodes: demand points (nodes), the most recent (or most important) first.
            Only the first ``max_targets`` are considered, so that the travel-time block
            asked of ``times`` is at most ``len(idle_nodes) x max_targets``.
        times: travel times of the road network.
        max_moves: the most taxis moved (``None``: no cap; >= 0).
        max_travel_s: the longest move in seconds (``None``: no limit; >= 0).
        demand_weights: how many taxis each demand point may receive (integers >= 0, as many
            as ``demand_nodes``; ``None``: one each).
        max_targets: how many demand points are considered (>= 1).

    Raises:
        InvalidValueError: a bad argument, named, with its allowed range.
    """
    num_nodes = int(times.num_nodes)
    idle = _node_array("idle_nodes", idle_nodes, num_nodes)
    demand = _node_array("demand_nodes", demand_nodes, num_nodes)
    cap_moves = _optional_int("max_moves", max_moves, 0, _MAX_COUNT)
    limit_s = _optional_int("max_travel_s", max_travel_s, 0, 366 * 86_400, "s")
    k = check_int("max_targets", max_targets, 1, _MAX_COUNT)
    if demand_weights is None:
        weights = np.ones(demand.size, np.int64)
    else:
        w = np.asarray(demand_weights)
        allowed = f"{demand.size} integers 0 .. {_MAX_COUNT}, one per demand node"
        if w.shape != demand.shape:
            raise InvalidValueError("demand_weights", f"shape {w.shape}", allowed)
        if w.size and (w.dtype == np.bool_ or not np.issubdtype(w.dtype, np.integer)):
            raise InvalidValueError("demand_weights", f"expected integers, got dtype {w.dtype}", allowed)
        bad = np.flatnonzero((w < 0) | (w > _MAX_COUNT))
        if bad.size:
            raise InvalidValueError("demand_weights", f"entry {int(bad[0])} is {int(w[bad[0]])}", allowed)
        weights = w.astype(np.int64)
    demand, weights = demand[:k], weights[:k]
    flow = min(idle.size, int(weights.sum()), _MAX_COUNT if cap_moves is None else cap_moves)
    if flow == 0:
        return _empty_plan()

    travel = np.asarray(times.block(idle, demand), np.int64)
    allowed_pair = (travel < UNREACHABLE) & (weights > 0)[None, :]
    if limit_s is not None:
        allowed_pair &= travel <= limit_s
    veh, dem = np.nonzero(allowed_pair)  # row-major: by taxi, then demand point
    if veh.size == 0:
        return _empty_plan()

    # Flow nodes: 0 the source, 1 .. I the taxis, I+1 .. I+D the demand points, I+D+1 the sink.
    n_idle, n_dem = idle.size, demand.size
    sink = n_idle + n_dem + 1
    taxis = np.arange(1, n_idle + 1, dtype=np.int64)
    points = np.arange(n_idle + 1, sink, dtype=np.int64)
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.zeros(n_idle, np.int64), taxis, np.ones(n_idle, np.int64), np.zeros(n_idle, np.int64)
    )
    moves = solver.add_arcs_with_capacity_and_unit_cost(
        veh + 1, dem + n_idle + 1, np.ones(veh.size, np.int64), travel[veh, dem]
    )
    solver.add_arcs_with_capacity_and_unit_cost(
        points, np.full(n_dem, sink, np.int64), weights, np.zeros(n_dem, np.int64)
    )
    solver.set_nodes_supplies(np.array([0, sink], np.int64), np.array([flow, -flow], np.int64))
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:  # pragma: no cover - the network is well formed by construction
        raise RuntimeError(f"rebalancing: the min-cost flow solver returned {status.name}")
    used = np.flatnonzero(solver.flows(moves) > 0)
    v, d = veh[used], dem[used]  # already ordered by taxi
    return RebalancePlan(v, demand[d], travel[v, d], d)


class DemandTargets(NamedTuple):
    """Demand points for :func:`plan_rebalancing`, most recent (or busiest) first."""

    node: NDArray[np.int64]
    """The points (distinct nodes)."""
    weight: NDArray[np.int64]
    """How many taxis each point asks for (>= 1)."""

    @property
    def size(self) -> int:
        return int(self.node.shape[0])


class ZoneGrid:
    """Square cells over the nodes' planar coordinates, for the forecast by zone.

    Cell ``(i, j)`` holds the nodes with ``floor((x - min x) / cell_m) = i`` and
    ``floor((y - min y) / cell_m) = j``; only cells holding at least one node exist, numbered
    ``0 .. num_cells - 1`` in the order of ``(i, j)``. A cell's **central node** is its node
    nearest to the mean position of its nodes (ties: the smaller node id), the point a taxi
    sent to the cell drives to.

    Attributes:
        cell_m: the side of a cell.
        cell_of_node: ``[N]`` the cell of each node.
        central_node: ``[C]`` the central node of each cell.
    """

    def __init__(self, x_m: ArrayLike, y_m: ArrayLike, *, cell_m: float) -> None:
        size = check_float("cell_m", cell_m, 1.0, 1e6, unit="m")
        x = np.asarray(x_m, np.float64)
        y = np.asarray(y_m, np.float64)
        if x.ndim != 1 or x.size == 0:
            raise InvalidValueError("x_m", f"shape {x.shape}", "one coordinate per node, at least one node")
        if y.shape != x.shape:
            raise InvalidValueError("y_m", f"shape {y.shape}", f"as many coordinates as x_m ({x.size})")
        for name, arr in (("x_m", x), ("y_m", y)):
            if not np.all(np.isfinite(arr)):
                bad = int(np.flatnonzero(~np.isfinite(arr))[0])
                raise InvalidValueError(name, f"entry {bad} is {plain_repr(float(arr[bad]))}", "finite metres")
        ix = np.floor((x - x.min()) / size).astype(np.int64)
        iy = np.floor((y - y.min()) / size).astype(np.int64)
        cells, cell_of_node = np.unique(ix * (int(iy.max()) + 1) + iy, return_inverse=True)
        count = np.bincount(cell_of_node, minlength=cells.size)
        mean_x = np.bincount(cell_of_node, weights=x, minlength=cells.size) / count
        mean_y = np.bincount(cell_of_node, weights=y, minlength=cells.size) / count
        dist2 = (x - mean_x[cell_of_node]) ** 2 + (y - mean_y[cell_of_node]) ** 2
        order = np.lexsort((np.arange(x.size), dist2, cell_of_node))
        first = np.ones(order.size, np.bool_)
        first[1:] = cell_of_node[order[1:]] != cell_of_node[order[:-1]]
        self.cell_m = size
        self.cell_of_node: NDArray[np.int64] = cell_of_node.astype(np.int64)
        self.central_node: NDArray[np.int64] = order[first].astype(np.int64)

    @property
    def num_nodes(self) -> int:
        return int(self.cell_of_node.shape[0])

    @property
    def num_cells(self) -> int:
        return int(self.central_node.shape[0])


class DemandMemory:
    """Where the demand is, for rebalancing: recent unserved requests, or a forecast by zone.

    The dispatcher tells it every request (:meth:`record_request`, at the request's time),
    every request that went unserved (:meth:`record_unserved`, when it is rejected), and the
    end of every batch (:meth:`close_batch`); :meth:`targets` then gives the demand points.
    Both record methods may be called in either mode; each mode reads only its own input.

    * ``mode="unserved"``: the origins of the requests that went unserved in the last
      ``window_s`` seconds (one recorded at ``t`` counts while ``now_s < t + window_s``). A
      point is a node; its weight is the number of such requests there; points are listed by
      their most recent unserved request, newest first.
    * ``mode="forecast"``: at each :meth:`close_batch`, each cell's smoothed count becomes
      ``smoothing * (requests in the cell since the last close) + (1 - smoothing) * (its
      previous smoothed count)``, an estimate of the requests per batch (the newest batch
      weighs ``smoothing``). A cell with no request in the last ``window_s`` seconds is
      forgotten (count 0). The points are the central nodes of the cells with a positive
      count, busiest first (ties: lower cell number); the weight of a cell is its expected
      requests over ``horizon_batches`` batches, rounded, at least 1.

    Times passed in must not go back (they are the service clock's): an earlier time than
    one already recorded is refused, naming the argument.

    Args:
        window_s: how long demand is remembered (``PoolingParams.rebalance_window_s``; >= 1 s).
        mode: ``"unserved"`` or ``"forecast"``.
        grid: the zones of the forecast (required in ``"forecast"`` mode, unused otherwise).
        smoothing: the weight of the newest batch in the forecast (0 < smoothing <= 1).
        horizon_batches: how many batches ahead a cell's weight looks (0 < h <= 1000).
    """

    def __init__(
        self,
        window_s: int,
        *,
        mode: str = "unserved",
        grid: ZoneGrid | None = None,
        smoothing: float = 0.3,
        horizon_batches: float = 1.0,
    ) -> None:
        self.window_s = check_int("window_s", window_s, 1, 366 * 86_400, unit="s")
        if mode not in REBALANCE_MODES:
            raise InvalidValueError("mode", f"got {plain_repr(mode)}", ", ".join(REBALANCE_MODES))
        if mode == "forecast" and not isinstance(grid, ZoneGrid):
            raise InvalidValueError("grid", f"got {plain_repr(grid)}", "a ZoneGrid in forecast mode")
        self.mode = mode
        self.grid = grid
        self.smoothing = check_float("smoothing", smoothing, 0.0, 1.0)
        if self.smoothing == 0.0:
            raise InvalidValueError("smoothing", "got 0.0; the forecast would never learn", "0 < smoothing <= 1")
        self.horizon_batches = check_float("horizon_batches", horizon_batches, 0.0, 1000.0)
        if self.horizon_batches == 0.0:
            raise InvalidValueError("horizon_batches", "got 0.0", "0 < horizon_batches <= 1000")
        # unserved mode: (time, node) in time order
        self._unserved_time: list[int] = []
        self._unserved_node: list[int] = []
        self._last_unserved_s = 0
        # forecast mode: this batch's request origins, then per cell the smoothed count and last request
        self._batch_nodes: list[int] = []
        self._batch_times: list[int] = []
        self._last_request_s = 0
        self._last_close_s = 0
        cells = 0 if grid is None else grid.num_cells
        self._rate = np.zeros(cells, np.float64)
        self._last_seen_s = np.full(cells, -1, np.int64)

    def _check(self, what: str, node: object, time_s: object, last_s: int) -> tuple[int, int]:
        t = check_time("time_s", time_s)
        if t < last_s:
            raise InvalidValueError(
                "time_s",
                f"got {t}, earlier than the last {what} ({last_s}); the clock does not go back",
                f">= {last_s} s",
            )
        if not is_int(node) or int(node) < 0:  # type: ignore[call-overload]
            raise InvalidValueError("node", f"got {plain_repr(node)}", "a node id >= 0")
        n = int(node)  # type: ignore[call-overload]
        if self.grid is not None and n >= self.grid.num_nodes:
            raise InvalidValueError("node", f"got {n}", f"node ids 0 .. {self.grid.num_nodes - 1}")
        return n, t

    def record_unserved(self, node: int, time_s: int) -> None:
        """A request whose origin is ``node`` went unserved (was rejected) at ``time_s``."""
        n, t = self._check("unserved request", node, time_s, self._last_unserved_s)
        self._last_unserved_s = t
        if self.mode == "unserved":
            self._unserved_time.append(t)
            self._unserved_node.append(n)
            self._forget(t)

    def record_request(self, node: int, time_s: int) -> None:
        """A request from ``node`` arrived at ``time_s`` (counted by the forecast)."""
        n, t = self._check("request", node, time_s, self._last_request_s)
        self._last_request_s = t
        if self.mode == "forecast":
            self._batch_nodes.append(n)
            self._batch_times.append(t)

    def close_batch(self, now_s: int) -> None:
        """End of a batch at ``now_s``: fold its requests into the forecast (no-op when unserved)."""
        t = check_time("now_s", now_s)
        if t < self._last_close_s:
            raise InvalidValueError(
                "now_s", f"got {t}, earlier than the last batch ({self._last_close_s})", f">= {self._last_close_s} s"
            )
        self._last_close_s = t
        if self.mode != "forecast" or self.grid is None:
            return
        cells = self.grid.cell_of_node[np.asarray(self._batch_nodes, np.int64)]
        counts = np.bincount(cells, minlength=self.grid.num_cells).astype(np.float64)
        self._rate = self.smoothing * counts + (1.0 - self.smoothing) * self._rate
        np.maximum.at(self._last_seen_s, cells, np.asarray(self._batch_times, np.int64))
        self._batch_nodes.clear()
        self._batch_times.clear()

    def _forget(self, now_s: int) -> None:
        """Drop the unserved requests recorded at or before ``now_s - window_s``."""
        cut = 0
        horizon = now_s - self.window_s
        while cut < len(self._unserved_time) and self._unserved_time[cut] <= horizon:
            cut += 1
        if cut:
            del self._unserved_time[:cut], self._unserved_node[:cut]

    def remembered(self, now_s: int) -> int:
        """Unserved requests remembered at ``now_s`` (unserved mode; 0 in forecast mode)."""
        self._forget(check_time("now_s", now_s))
        return len(self._unserved_time)

    def targets(self, now_s: int) -> DemandTargets:
        """The demand points at ``now_s`` with their weights (see the class docstring)."""
        t = check_time("now_s", now_s)
        if self.mode == "unserved":
            self._forget(t)
            newest_first = np.asarray(self._unserved_node[::-1], np.int64)
            nodes, first, counts = np.unique(newest_first, return_index=True, return_counts=True)
            order = np.argsort(first, kind="stable")
            return DemandTargets(nodes[order].astype(np.int64), counts[order].astype(np.int64))
        assert self.grid is not None
        stale = self._last_seen_s <= t - self.window_s
        self._rate[stale] = 0.0
        busy = np.flatnonzero(self._rate > 0.0)
        busy = busy[np.lexsort((busy, -self._rate[busy]))]
        expected = np.floor(self._rate[busy] * self.horizon_batches + 0.5).astype(np.int64)
        return DemandTargets(self.grid.central_node[busy], np.maximum(expected, 1))


@dataclass(frozen=True, kw_only=True)
class RebalanceParams:
    """How idle taxis are rebalanced (see the module docstring); checked on construction.

    The window of remembered demand is ``PoolingParams.rebalance_window_s`` and the switch
    ``PoolingParams.rebalance``; these are the rest.
    """

    mode: str = "unserved"
    """``"unserved"`` (recent unserved requests) or ``"forecast"`` (a forecast by zone)."""
    max_targets: int = DEFAULT_MAX_TARGETS
    """Demand points considered per rebalancing, the most recent or busiest (1 .. 100000)."""
    max_travel_s: int | None = 900
    """Longest move (0 .. 86400 s), or None for no limit."""
    max_moves: int | None = None
    """Most taxis moved per rebalancing (0 .. 100000), or None for no cap."""
    cell_m: int = 1000
    """Side of a forecast zone (100 .. 100000 m)."""
    smoothing: float = 0.3
    """Weight of the newest batch in the forecast's smoothed counts (0.01 .. 1)."""
    horizon_batches: float = 1.0
    """Batches of expected requests a busy forecast zone asks taxis for (0.01 .. 1000)."""

    def __post_init__(self) -> None:
        if self.mode not in REBALANCE_MODES:
            raise InvalidValueError("mode", f"got {plain_repr(self.mode)}", ", ".join(REBALANCE_MODES))
        set_field(self, "max_targets", check_int("max_targets", self.max_targets, 1, 100_000))
        set_field(self, "max_travel_s", _optional_int("max_travel_s", self.max_travel_s, 0, 86_400, "s"))
        set_field(self, "max_moves", _optional_int("max_moves", self.max_moves, 0, 100_000))
        set_field(self, "cell_m", check_int("cell_m", self.cell_m, 100, 100_000, unit="m"))
        set_field(self, "smoothing", check_float("smoothing", self.smoothing, 0.01, 1.0))
        set_field(self, "horizon_batches", check_float("horizon_batches", self.horizon_batches, 0.01, 1000.0))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RebalanceParams:
        """Params from a mapping of field names (a TOML table); unknown keys are refused."""
        return from_mapping(cls, data, prefix="rebalance.")


class Rebalancer:
    """A :class:`DemandMemory` and :func:`plan_rebalancing` wired by :class:`RebalanceParams`.

    Args:
        times: travel times of the road network.
        window_s: how long demand is remembered (``PoolingParams.rebalance_window_s``).
        params: the rest of the configuration.
        x_m, y_m: planar node coordinates (``RoadNetwork.x_m``, ``.y_m``), required in
            ``"forecast"`` mode for the :class:`ZoneGrid`.
    """

    def __init__(
        self,
        times: TravelTimes,
        *,
        window_s: int,
        params: RebalanceParams | None = None,
        x_m: ArrayLike | None = None,
        y_m: ArrayLike | None = None,
    ) -> None:
        self.times = times
        self.params = RebalanceParams() if params is None else params
        grid = None
        if self.params.mode == "forecast":
            if x_m is None or y_m is None:
                raise InvalidValueError("x_m", "missing", "node coordinates in forecast mode")
            grid = ZoneGrid(x_m, y_m, cell_m=self.params.cell_m)
            if grid.num_nodes != times.num_nodes:
                raise InvalidValueError("x_m", f"{grid.num_nodes} coordinates", f"{times.num_nodes}, one per node")
        self.memory = DemandMemory(
            window_s,
            mode=self.params.mode,
            grid=grid,
            smoothing=self.params.smoothing,
            horizon_batches=self.params.horizon_batches,
        )

    def plan(self, idle_nodes: ArrayLike, now_s: int) -> RebalancePlan:
        """Where the idle taxis waiting at ``idle_nodes`` go at ``now_s``."""
        targets = self.memory.targets(now_s)
        p = self.params
        return plan_rebalancing(
            idle_nodes,
            targets.node,
            self.times,
            max_moves=p.max_moves,
            max_travel_s=p.max_travel_s,
            demand_weights=targets.weight,
            max_targets=p.max_targets,
        )
