"""Maps of a route set and of a Pareto front, as PNG files.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no screen, no global backend
change); matplotlib is imported only when a plot is drawn.

* :func:`plot_routes`: the planning graph's links in light grey, each route in its own colour
  (:data:`ROUTE_COLOURS` in turn), drawn side by side where routes share a link (each route
  shifted sideways by its own small offset), line width by vehicles per hour when frequencies
  are given, nodes with marker area in proportion to the trips that start or end there; node
  ids are written when there are at most 60 nodes, the legend when there are at most 24
  routes. Coordinates are the problem's ``x``, ``y`` (metres for a city, the benchmark's own
  units for its files).
* :func:`plot_front`: points (ATT, TRT) of a front joined in ATT order, and published anchors
  as other markers, one per source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError, PlanningFileError
from .frequencies import Frequencies
from .problem import TransitProblem
from .routeset import RouteSet, validate_route_set

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Route colours, taken in turn (matplotlib's tab10, then tab20's lighter shades).
ROUTE_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip
_MARKERS = ("s", "^", "D", "v", "P", "X", "*", "<", ">", "h")


def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, format="png")
    except OSError as exc:
        raise PlanningFileError(p, f"cannot write the image ({exc.strerror or exc})") from None
    return p


def _shifted(x: NDArray[np.float64], y: NDArray[np.float64], offset: float) -> tuple[NDArray[Any], NDArray[Any]]:
    """The polyline moved sideways by ``offset`` (along each vertex's mean segment normal)."""
    dx = np.diff(x)
    dy = np.diff(y)
    length = np.hypot(dx, dy)
    length[length == 0] = 1.0
    nx, ny = -dy / length, dx / length
    vx = np.concatenate([[nx[0]], (nx[:-1] + nx[1:]) / 2, [nx[-1]]])
    vy = np.concatenate([[ny[0]], (ny[:-1] + ny[1:]) / 2, [ny[-1]]])
    return x + offset * vx, y + offset * vy


def plot_routes(
    problem: TransitProblem,
    routes: RouteSet | Sequence[Sequence[int]],
    path: str | Path,
    *,
    title: str = "",
    frequencies: Frequencies | None = None,
) -> Path:
    """A map of ``routes`` over the problem's nodes as a PNG at ``path`` (see the module
    docstring); returns the path."""
    rs = validate_route_set(problem, routes)
    per_hour = None
    if frequencies is not None:
        h = np.asarray(frequencies.headway_min, np.float64)
        if h.shape != (len(rs),) or not (np.isfinite(h) & (h > 0)).all():
            raise InvalidArgumentError("frequencies", f"has {h.size} headways for {len(rs)} routes",
                                       "one headway > 0 per route")  # fmt: skip
        per_hour = 60.0 / h
    from matplotlib.collections import LineCollection

    x, y = problem.x, problem.y
    extent = max(float(np.ptp(x)), float(np.ptp(y)), 1e-9)
    fig = _figure(8.0, 8.0)
    ax = fig.add_subplot()
    links = problem.links
    if len(links):
        segs = np.stack([np.column_stack([x[links[:, 0]], y[links[:, 0]]]),
                         np.column_stack([x[links[:, 1]], y[links[:, 1]]])], axis=1)  # fmt: skip
        ax.add_collection(LineCollection(list(segs), colors="#d0d0d0", linewidths=1.0, zorder=1))
    step = min(0.008, 0.03 / len(rs)) * extent
    for k, r in enumerate(rs):
        colour = ROUTE_COLOURS[k % len(ROUTE_COLOURS)]
        offset = (k - (len(rs) - 1) / 2) * step
        rx, ry = _shifted(x[r], y[r], offset)
        width = 2.2 if per_hour is None else 1.2 + 4.8 * float(per_hour[k] / per_hour.max())
        label = f"route {k + 1}"
        if frequencies is not None:
            label += f" (every {float(frequencies.headway_min[k]):.0f} min)"
        ax.plot(rx, ry, color=colour, linewidth=width, solid_capstyle="round", zorder=2, label=label)
    trips = problem.demand.sum(axis=0) + problem.demand.sum(axis=1)
    biggest = 170.0 * min(1.0, 30.0 / problem.num_nodes)  # marker area (points²), smaller on larger graphs
    size = 6.0 + biggest * trips / trips.max() if trips.max() > 0 else np.full(x.size, 20.0)
    ax.scatter(x, y, s=size, facecolor="white", edgecolor="black", linewidth=0.8, zorder=3)
    if problem.num_nodes <= 60:
        for i, name in enumerate(problem.node_ids):
            ax.annotate(name, (x[i], y[i]), textcoords="offset points", xytext=(5, 5), fontsize=8, zorder=4)
    if len(rs) <= 24:
        ax.legend(loc="best", fontsize=7, framealpha=0.8)
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.set_xticks([])
    ax.set_yticks([])
    sub = "node size: trips starting or ending there"
    if frequencies is not None:
        sub += "; line width: buses per hour"
    ax.set_title(f"{title or problem.name}\n{sub}", fontsize=10)
    return _save(fig, path)


def _pairs(field: str, points: Any) -> NDArray[np.float64]:
    try:
        a = np.asarray(points, np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(field, "not a list of (ATT, TRT) numbers", "pairs of finite numbers") from None
    if a.size == 0:
        return np.zeros((0, 2))
    if a.ndim != 2 or a.shape[1] != 2 or not np.isfinite(a).all():
        raise InvalidArgumentError(field, f"got an array of shape {a.shape}", "pairs (ATT, TRT) of finite numbers")
    return a


def plot_front(
    points: Sequence[tuple[float, float]],
    path: str | Path,
    *,
    anchors: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    title: str = "",
) -> Path:
    """The Pareto front ``points`` (ATT, TRT in minutes) and published ``anchors`` (a name ->
    its points) as a PNG at ``path``; returns the path."""
    ours = _pairs("points", points)
    theirs = {str(name): _pairs(f"anchors[{name!r}]", pts) for name, pts in (anchors or {}).items()}
    if not len(ours) and not any(len(v) for v in theirs.values()):
        raise InvalidArgumentError("points", "no points to plot", "at least one (ATT, TRT) pair")
    fig = _figure(7.0, 5.0)
    ax = fig.add_subplot()
    if len(ours):
        order = np.argsort(ours[:, 0], kind="stable")
        ax.plot(ours[order, 0], ours[order, 1], "-o", color="#1f77b4", markersize=5, label="this design", zorder=3)
    for k, (name, pts) in enumerate(theirs.items()):
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], marker=_MARKERS[k % len(_MARKERS)], s=36, zorder=2,
                       color=ROUTE_COLOURS[(k + 1) % len(ROUTE_COLOURS)], label=name)  # fmt: skip
    ax.set_xlabel("ATT: average travel time (min)")
    ax.set_ylabel("TRT: total route time (min)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "passenger cost (ATT) against operator cost (TRT)", fontsize=10)
    return _save(fig, path)
