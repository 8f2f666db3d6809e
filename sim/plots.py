"""The plots of a simulated day (PNG figures :func:`sim.report.write_report` saves).

* :func:`plot_wait_times` — histogram of the waits of completed rides;
* :func:`plot_occupancy` — riders on board, vehicles driving and on shift over the day;
* :func:`plot_map` — the streets (along their shapes, :func:`street_lines`), the zone, the
  day's traffic along the streets coloured and sized by the riders carried, the stops, a
  scale bar and the main KPIs;
* :func:`plot_demand_heatmap` — where riders asked to be picked up and set down (hexbins);
* :func:`plot_rejection_heatmap` — where turned-away requests started, and the share
  turned away (hexbins);
* :func:`plot_vehicle_gantt` — each vehicle's day as four states, from :func:`vehicle_states`.

Maps are drawn in the network's metric coordinates (``x_m``, ``y_m``: a UTM zone for OSM
networks, the file's coordinates times its metres per unit for benchmark graphs), so they
need no latitude and longitude, and a scale bar replaces the degree tick labels. Times on the
axes are service-clock HH:MM.

Plots are drawn with matplotlib's object API on the Agg canvas (no pyplot, no screen, no
global backend change); matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from .geo import clock
from .records import SimOutput

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The states of :func:`vehicle_states`, by code.
STATES = ("idle", "driving empty", "driving with riders", "at a stop")
IDLE, EMPTY, LOADED, AT_STOP = range(4)
STATE_COLOURS = ("#e8e8e8", "#74a3d4", "#d95f02", "#1b9e77")

STREET_COLOUR = "#c8c8c8"
ZONE_COLOUR = "#3b3b3b"
#: Colours of the map's tracks by load (riders on board): matplotlib's "plasma" without its
#: pale yellow end (dark blue when empty, purple, pink, orange), visible on the light base.
LOAD_CMAP_RANGE = (0.0, 0.8)


# ---------------------------------------------------------------------------------- helpers
def figure(width_in: float, height_in: float) -> Figure:
    """A matplotlib figure on the Agg canvas (constrained layout, 110 dpi)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def clock_axis(axis: Any, start_s: float, end_s: float) -> None:
    """HH:MM tick labels on a time axis in seconds, one tick every 1, 2, 3 or 6 hours (or
    every 15 or 30 minutes on a short day)."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    span_h = max(end_s - start_s, 1) / 3600
    step_s = next((s for s in (900, 1800, 3600, 7200, 10800, 21600) if span_h * 3600 / s <= 12), 43200)
    axis.set_major_locator(MultipleLocator(step_s))
    axis.set_major_formatter(FuncFormatter(lambda t, _pos: clock(t) if t >= 0 else ""))


def _nice_length(target: float) -> float:
    """The 1-2-5 number just below ``target`` (a scale bar's length)."""
    if target <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(target))
    return max(m * power for m in (1, 2, 5) if m * power <= target)


def _distance_label(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


@dataclass(frozen=True)
class _Base:
    """What every map shares: node coordinates (m), street segments, extent, zone ring."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    roads: list[NDArray[np.float64]]  # (k, 2) polylines along the streets' shapes, each street once
    major: NDArray[np.bool_]  # per street: a major road class
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    zone: NDArray[np.float64] | None  # (k, 2) ring in x/y, or None
    geographic: bool


#: the last map base and hexagon grid built, with the network, zone and stops they were built
#: from: the report draws three maps of one day, which share them
_memo: dict[str, tuple[tuple[Any, ...], Any]] = {}


def _memoised(key: str, of: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    hit = _memo.get(key)
    if hit is not None and len(hit[0]) == len(of) and all(a is b for a, b in zip(hit[0], of, strict=True)):
        return hit[1]
    value = build()
    _memo[key] = (of, value)
    return value


def _base(out: SimOutput) -> _Base:
    base: _Base = _memoised("base", (out.network, out.zone), lambda: _build_base(out))
    return base


def _build_base(out: SimOutput) -> _Base:
    from routing import MAJOR_ROAD_CLASSES

    net = out.network
    x = np.asarray(net.x_m, np.float64)
    y = np.asarray(net.y_m, np.float64)
    tail = np.asarray(net.tail, np.int64)
    head = np.asarray(net.indices, np.int64)
    lo, hi = np.minimum(tail, head), np.maximum(tail, head)
    _pairs, first = np.unique(np.column_stack([lo, hi]), axis=0, return_index=True)
    major_codes = [i for i, name in enumerate(net.road_classes) if name in MAJOR_ROAD_CLASSES]
    major = np.isin(np.asarray(net.road_class)[first], major_codes)
    roads = _polylines(*net.edges_shape(first, xy=True))
    gx, gy = net.geom_xy()  # the streets' shape points, so that a curve at the edge stays on the map
    zone = None
    if out.zone is not None and net.has_lat_lon:
        from routing.snapping import project

        ring = np.asarray(out.zone, np.float64)
        zx, zy = project(net, ring[:, 0], ring[:, 1])
        zone = np.column_stack([np.append(zx, zx[0]), np.append(zy, zy[0])])
    x_all, y_all = np.concatenate([x, gx]), np.concatenate([y, gy])
    xs, ys = x_all, y_all
    overlaps = (
        zone is not None
        and (zone[:, 0].min() <= x_all.max() and zone[:, 0].max() >= x_all.min() and zone[:, 1].min() <= y_all.max())
        and zone[:, 1].max() >= y_all.min()
    )
    if zone is not None and overlaps:  # the map shows the whole zone, unless it lies off the streets
        xs, ys = np.concatenate([x_all, zone[:, 0]]), np.concatenate([y_all, zone[:, 1]])
    pad = 0.02 * max(float(np.ptp(xs)), float(np.ptp(ys)), 1.0)
    extent = (float(xs.min()) - pad, float(xs.max()) + pad, float(ys.min()) - pad, float(ys.max()) + pad)
    return _Base(x, y, roads, major, extent, zone, bool(net.has_lat_lon))


def _polylines(x: NDArray[np.float64], y: NDArray[np.float64], indptr: NDArray[np.int64]) -> list[NDArray[np.float64]]:
    """The ``(k, 2)`` polylines of shapes given as :meth:`routing.RoadNetwork.paths_shape` gives them."""
    points = np.column_stack([x, y])
    return np.split(points, indptr[1:-1]) if indptr.size > 1 else []


def street_lines(out: SimOutput, pairs: NDArray[np.int64]) -> list[NDArray[np.float64]]:
    """The streets between the node pairs ``pairs`` (``(k, 2)``, as :func:`street_loads` gives
    them), each a ``(m, 2)`` polyline in ``x_m``, ``y_m`` along the street's shape (the edge
    ``a -> b``, or ``b -> a`` where the street is one-way the other way; a straight line where
    neither is an edge)."""
    net = out.network
    a, b = np.asarray(pairs[:, 0], np.int64), np.asarray(pairs[:, 1], np.int64)
    edges = net.edge_ids(a, b)
    back = edges < 0
    edges[back] = net.edge_ids(b[back], a[back])
    shapes = _polylines(*net.edges_shape(edges[edges >= 0], xy=True))
    lines = iter(shapes)  # two nodes a record joins without an edge: a straight line
    return [
        next(lines) if e >= 0 else np.array([[net.x_m[p], net.y_m[p]], [net.x_m[q], net.y_m[q]]])
        for e, p, q in zip(edges.tolist(), a.tolist(), b.tolist(), strict=True)
    ]


def _map_size(base: _Base, *, panels: int = 1, width_in: float = 9.0) -> tuple[float, float]:
    xmin, xmax, ymin, ymax = base.extent
    ratio = (ymax - ymin) / max(xmax - xmin, 1e-9)
    map_width = width_in / panels - 1.5  # less the colour bar
    height = min(max(map_width * ratio, 3.5), 11.0) + 1.3  # + the title
    return width_in, height


def _draw_base(ax: Axes, base: _Base, *, streets_alpha: float = 1.0, streets_colour: str = STREET_COLOUR) -> None:
    """Streets (major roads a little wider), the zone (light fill, dashed outline), a scale
    bar, no ticks, equal aspect."""
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Polygon
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    widths = np.where(base.major, 1.1, 0.45)
    ax.add_collection(
        LineCollection(base.roads, colors=streets_colour, linewidths=widths, alpha=streets_alpha, zorder=1)
    )
    if base.zone is not None:
        ax.add_patch(Polygon(base.zone, closed=True, facecolor="#fdf6d8", edgecolor="none", alpha=0.5, zorder=0))
        ax.add_patch(
            Polygon(base.zone, closed=True, fill=False, edgecolor=ZONE_COLOUR, linewidth=1.6, linestyle="--", zorder=5)
        )
    xmin, xmax, ymin, ymax = base.extent
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    length = _nice_length((xmax - xmin) / 5)
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        _distance_label(length),
        "lower left",
        pad=0.5,
        borderpad=0.6,
        sep=4,
        frameon=True,
        size_vertical=(ymax - ymin) / 250,
        fontproperties={"size": 9},
    )
    bar.patch.set_alpha(0.8)
    bar.patch.set_edgecolor("none")
    ax.add_artist(bar)
    if base.geographic:
        ax.text(
            0.995,
            0.005,
            "streets © OpenStreetMap contributors",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="#666666",
        )


def _stop_size(num_stops: int) -> float:
    """Marker area (pt²) of a stop: about 12 for a few dozen stops, down to 1 for thousands."""
    return float(np.clip(600.0 / max(num_stops, 1), 1.0, 12.0))


# ---------------------------------------------------------------------------------- simple plots
def plot_wait_times(out: SimOutput) -> Figure:
    """Histogram of the wait times (minutes) of completed rides, with mean and p90 marked."""
    from matplotlib.ticker import MaxNLocator

    fig = figure(7.0, 4.0)
    ax = fig.add_subplot()
    wait_min = np.array([r.wait_s / 60 for r in out.rides if r.outcome == "completed"], np.float64)
    if wait_min.size:
        bins = int(min(40, max(5, math.sqrt(wait_min.size))))
        ax.hist(wait_min, bins=bins, color="#4c72b0", edgecolor="white")
        mean, p90 = float(wait_min.mean()), float(np.percentile(wait_min, 90))
        ax.axvline(mean, color="#dd8452", linewidth=2, label=f"mean {mean:.1f} min")
        ax.axvline(p90, color="#c44e52", linewidth=2, linestyle="--", label=f"p90 {p90:.1f} min")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no completed rides", ha="center", va="center", transform=ax.transAxes)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("wait time (min): boarding - requested time")
    ax.set_ylabel("completed rides")
    ax.set_title(f"Wait times — {out.scenario} (seed {out.seed})")
    return fig


def plot_occupancy(kpis: dict[str, Any], scenario: str = "") -> Figure:
    """Riders on board over the day (fleet total, bin averages) and vehicles driving / on shift,
    against the clock (HH:MM); ``scenario`` names the day in the title."""
    series = kpis["occupancy"]["series"]
    start_s = np.asarray(series["start_s"], np.float64)
    step_s = float(series["bin_s"])
    edges = np.append(start_s, start_s[-1] + step_s) if start_s.size else start_s
    fig = figure(8.0, 4.0)
    ax = fig.add_subplot()
    if start_s.size:
        for key, label, style in (
            ("on_board", "riders on board", {"color": "#4c72b0", "linewidth": 2}),
            ("vehicles_driving", "vehicles driving", {"color": "#dd8452"}),
            ("vehicles_on_shift", "vehicles on shift", {"color": "grey", "linestyle": ":"}),
        ):
            values = np.asarray(series[key], np.float64)
            ax.stairs(values, edges, label=label, **style)
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3, frameon=False, fontsize=9)
        ax.set_xlim(edges[0], edges[-1])
        clock_axis(ax.xaxis, edges[0], edges[-1])
    ax.grid(axis="y", color="#eeeeee")
    ax.set_xlabel("time of day")
    ax.set_ylabel(f"fleet total (mean over {series['bin_s'] // 60} min)")
    ax.set_ylim(bottom=0)
    fig.suptitle(f"Occupancy over the day — {scenario}" if scenario else "Occupancy over the day", fontsize=12)
    return fig


# ---------------------------------------------------------------------------------- the map
def street_loads(out: SimOutput) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The street segments the fleet drove, each once (``(k, 2)`` node pairs, smaller node first),
    the riders carried along each over the day (sum over the drives through it of their
    ``onboard``) and how many drives passed it."""
    drives = [d for d in out.drives if len(d.nodes) >= 2]
    if not drives:
        empty = np.zeros(0, np.int64)
        return np.zeros((0, 2), np.int64), empty, empty
    counts = np.array([len(d.nodes) for d in drives], np.int64)
    nodes = np.fromiter((n for d in drives for n in d.nodes), np.int64, int(counts.sum()))
    owner = np.repeat(np.arange(len(drives)), counts)
    onboard = np.array([d.onboard for d in drives], np.int64)[owner]
    step = owner[1:] == owner[:-1]
    a, b = nodes[:-1][step], nodes[1:][step]
    pairs = np.column_stack([np.minimum(a, b), np.maximum(a, b)])
    keys, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    riders = np.bincount(inverse, weights=onboard[:-1][step], minlength=len(keys)).astype(np.int64)
    passes = np.bincount(inverse, minlength=len(keys)).astype(np.int64)
    return keys.astype(np.int64), riders, passes


def _kpi_line(out: SimOutput, kpis: dict[str, Any] | None) -> str:
    if kpis is None:
        from .kpi import compute_kpis

        kpis = compute_kpis(out)
    req, wait, dist = kpis["requests"], kpis["wait_s"], kpis["distance"]
    rate = req["service_rate"]
    parts = [f"{req['total']} requests", f"{100 * rate:.0f} % served" if rate is not None else "none served"]
    if wait["p50"] is not None:
        parts.append(f"wait p50 {wait['p50'] / 60:.1f} / p90 {wait['p90'] / 60:.1f} min")
    empty = dist["empty_share"]
    parts.append(f"{dist['vehicle_km']:,.0f} veh-km" + (f" ({100 * empty:.0f} % empty)" if empty is not None else ""))
    return " · ".join(parts)


def plot_map(out: SimOutput, kpis: dict[str, Any] | None = None) -> Figure:
    """The day on the map (``out.network`` must be set).

    Light grey streets (major roads wider), the service zone (dashed outline), the streets the
    fleet drove (:func:`street_loads`) coloured by load, the mean riders on board of the drives
    along them (blue: empty, to dark red), and as wide as the riders carried along them over
    the day (a square-root scale; a thin line for streets driven only empty); the stops
    as small dots (smaller the more stops there are; hollow outside the zone); a legend, a
    scale bar and a title with the scenario, the clock span and the main KPIs (``kpis`` from
    :func:`sim.kpi.compute_kpis`, computed when not given).
    """
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.lines import Line2D

    from matching import point_in_polygon

    base = _base(out)
    fig = figure(*_map_size(base))
    ax = fig.add_subplot()
    _draw_base(ax, base)
    pairs, riders, passes = street_loads(out)
    streets = street_lines(out, pairs)
    handles: list[Any] = []
    if len(pairs):
        load = riders / passes  # mean riders on board per pass
        top = max(int(riders.max()), 1)
        widths = 0.7 + 4.3 * np.sqrt(riders / top)
        order = np.lexsort((load, riders))  # the busiest streets on top
        vmax = max(1.0, float(np.percentile(load, 98)))
        cmap = ListedColormap(colormaps["plasma"](np.linspace(*LOAD_CMAP_RANGE, 256)), name="load")
        lines = LineCollection(
            [streets[k] for k in order],
            cmap=cmap,
            norm=Normalize(0.0, vmax),
            linewidths=widths[order],
            zorder=3,
            capstyle="round",
            alpha=0.9,
        )
        lines.set_array(load[order])
        ax.add_collection(lines)
        extend = "max" if load.max() > vmax else "neither"
        bar = fig.colorbar(lines, ax=ax, shrink=0.6, pad=0.01, aspect=30, extend=extend)
        bar.set_label("riders on board, mean over the drives along the street")
        grey = "#555555"
        for value in sorted({top, max(1, int(_nice_length(top / 4))), 1}, reverse=True):
            w = 0.7 + 4.3 * math.sqrt(value / top)
            handles.append(
                Line2D(
                    [],
                    [],
                    color=grey,
                    linewidth=w,
                    label=f"{value:g} {'rider' if value == 1 else 'riders'} carried over the day",
                )
            )
        if (riders == 0).any():
            handles.append(Line2D([], [], color=cmap(0.0), linewidth=0.7, label="driven empty only"))
    stops = out.stops
    if stops is not None and len(stops.node):
        sx, sy = np.asarray(stops.x_m, np.float64), np.asarray(stops.y_m, np.float64)
        inside = np.ones(len(sx), bool)
        if out.zone is not None and base.geographic:
            inside = point_in_polygon(stops.lat, stops.lon, out.zone)
        size = _stop_size(len(sx))
        ax.scatter(sx[inside], sy[inside], s=size, color="#222222", linewidths=0, alpha=0.75, zorder=4)
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color="#222222",
                markersize=4,
                label=f"{int(inside.sum())} stops" + (" in the zone" if not inside.all() else ""),
            )
        )
        if not inside.all():
            ax.scatter(
                sx[~inside], sy[~inside], s=size, facecolors="none", edgecolors="#888888", linewidths=0.5, zorder=4
            )
            outside = f"{int((~inside).sum())} stops outside (not served)"
            handles.append(
                Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color="#888888", label=outside)
            )
    if base.zone is not None:
        handles.append(Line2D([], [], color=ZONE_COLOUR, linestyle="--", linewidth=1.6, label="service zone"))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.85)
    vehicles = len(out.vehicles) or len({d.vehicle_id for d in out.drives})
    title = f"{out.scenario} — {clock(out.start_s)}–{clock(out.end_s)}, {vehicles} vehicles"
    ax.set_title(f"{title}\n{_kpi_line(out, kpis)}", fontsize=11)
    return fig


# ---------------------------------------------------------------------------------- heat maps
def _stop_points(out: SimOutput, rides: Sequence[Any], end: str) -> NDArray[np.float64]:
    """``(n, 2)`` x/y of the ``end`` (``origin`` / ``destination``) stops of ``rides`` that have one."""
    stops = out.stops
    idx = np.array([getattr(r, f"{end}_stop") for r in rides], np.int64)
    if stops is None or idx.size == 0:
        return np.zeros((0, 2))
    idx = idx[(idx >= 0) & (idx < len(stops))]
    return np.column_stack([np.asarray(stops.x_m, np.float64)[idx], np.asarray(stops.y_m, np.float64)[idx]])


def _hex_grid(out: SimOutput, base: _Base) -> tuple[tuple[int, int], float]:
    grid: tuple[tuple[int, int], float] = _memoised("hex", (base, out.stops), lambda: _build_hex_grid(out, base))
    return grid


def _build_hex_grid(out: SimOutput, base: _Base) -> tuple[tuple[int, int], float]:
    """Hexagons across and up the map, and their width: about 30 across, and wide enough to hold about
    two stops (1.5 times the median distance from a stop to its nearest neighbour), so that
    the colours show a density, not the stops one by one."""
    from scipy.spatial import cKDTree

    xmin, xmax, ymin, ymax = base.extent
    width = xmax - xmin
    hex_m = max(width, ymax - ymin) / 30
    stops = out.stops
    if stops is not None and len(stops) >= 2:
        pts = np.column_stack([np.asarray(stops.x_m, np.float64), np.asarray(stops.y_m, np.float64)])
        dist, _ = cKDTree(pts).query(pts, k=2)
        hex_m = max(hex_m, 1.5 * float(np.median(dist[:, 1])))
    nx = max(3, round(width / hex_m))
    # matplotlib's rows are sqrt(3) columns apart for regular hexagons on an equal-aspect map
    ny = max(1, round(nx * (ymax - ymin) / (width * math.sqrt(3))))
    return (nx, ny), width / nx


def _hexbin(
    ax: Axes,
    fig: Figure,
    grid: tuple[tuple[int, int], float],
    base: _Base,
    pts: NDArray[np.float64],
    label: str,
    **kw: Any,
) -> None:
    gridsize, hex_m = grid
    if len(pts) == 0:
        ax.text(
            0.5,
            0.5,
            kw.pop("empty_text", "none"),
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=12,
            color="#555555",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )
        return
    kw.pop("empty_text", None)
    xmin, xmax, ymin, ymax = base.extent
    art = ax.hexbin(
        pts[:, 0],
        pts[:, 1],
        gridsize=gridsize,
        extent=(xmin, xmax, ymin, ymax),
        mincnt=1,
        linewidths=0.3,
        edgecolors="white",
        alpha=0.9,
        zorder=0.5,  # above the zone's fill, below the streets (which stay readable on top)
        **kw,
    )
    unit = _distance_label(float(round(hex_m, -1)))
    bar = fig.colorbar(art, ax=ax, shrink=0.7, pad=0.01, aspect=30)
    bar.set_label(f"{label} (hexagons {unit} across)")


def _hex_max(pts: NDArray[np.float64], grid: tuple[tuple[int, int], float], base: _Base) -> float:
    """The largest count of one hexagon (for a colour scale shared by two panels)."""
    from matplotlib.figure import Figure

    if len(pts) == 0:
        return 1.0
    xmin, xmax, ymin, ymax = base.extent
    art = Figure().add_subplot().hexbin(pts[:, 0], pts[:, 1], gridsize=grid[0], extent=(xmin, xmax, ymin, ymax))
    counts = art.get_array()
    return float(np.max(counts)) if counts is not None and len(counts) else 1.0


def plot_demand_heatmap(out: SimOutput) -> Figure:
    """Where the day's requests start (left) and end (right): the requests of each hexagon of
    the map, whatever became of them (requests without a stop are not shown), on one colour
    scale from zero."""
    base = _base(out)
    grid = _hex_grid(out, base)
    fig = figure(*_map_size(base, panels=2, width_in=14.0))
    points = {end: _stop_points(out, out.rides, end) for end in ("origin", "destination")}
    top = max(_hex_max(pts, grid, base) for pts in points.values())
    for k, (end, what) in enumerate((("origin", "pickups asked"), ("destination", "drop-offs asked"))):
        ax = fig.add_subplot(1, 2, k + 1)
        _draw_base(ax, base, streets_alpha=0.5, streets_colour="#707070")
        _hexbin(ax, fig, grid, base, points[end], "requests", cmap="YlOrRd", vmin=0, vmax=top, empty_text="no requests")
        ax.set_title(f"{what}: {len(points[end])} requests", fontsize=11)
    fig.suptitle(f"Demand — {out.scenario}, {clock(out.start_s)}–{clock(out.end_s)}", fontsize=12)
    return fig


def plot_rejection_heatmap(out: SimOutput) -> Figure:
    """Where turned-away requests started: their number per hexagon (left) and the share of the
    hexagon's requests turned away (right, hexagons of at least 3 requests), with the reasons."""
    from collections import Counter

    base = _base(out)
    grid = _hex_grid(out, base)
    rejected = [r for r in out.rides if r.outcome == "rejected"]
    fig = figure(*_map_size(base, panels=2, width_in=14.0))
    pts = _stop_points(out, rejected, "origin")
    ax = fig.add_subplot(1, 2, 1)
    _draw_base(ax, base, streets_alpha=0.5, streets_colour="#707070")
    _hexbin(ax, fig, grid, base, pts, "rejected requests", cmap="Reds", vmin=0, empty_text="no request rejected")
    unplaced = len(rejected) - len(pts)
    note = f" ({unplaced} without a stop not shown)" if unplaced else ""
    ax.set_title(f"rejected requests by origin: {len(pts)}{note}", fontsize=11)
    ax = fig.add_subplot(1, 2, 2)
    _draw_base(ax, base, streets_alpha=0.5, streets_colour="#707070")
    asked = [r for r in out.rides if r.origin_stop >= 0]
    flag = np.array([r.outcome == "rejected" for r in asked], np.float64)

    def share_if_enough(values: NDArray[np.float64]) -> float:
        return float(np.mean(values)) if len(values) >= 3 else np.nan

    all_pts = _stop_points(out, asked, "origin") if flag.any() else np.zeros((0, 2))
    _hexbin(
        ax,
        fig,
        grid,
        base,
        all_pts,
        "share of requests rejected",
        C=flag,
        reduce_C_function=share_if_enough,
        cmap="Reds",
        vmin=0.0,
        vmax=1.0,
        empty_text="no request rejected",
    )
    ax.set_title("share of the requests rejected (hexagons of 3+ requests)", fontsize=11)
    reasons = Counter(r.reject_reason or "unknown" for r in rejected)
    why = ", ".join(f"{k} {v}" for k, v in reasons.most_common()) or "none"
    fig.suptitle(f"Rejections — {out.scenario}: {len(rejected)} of {len(out.rides)} requests ({why})", fontsize=12)
    return fig


# ---------------------------------------------------------------------------------- the vehicles' day
@dataclass(frozen=True)
class VehicleStates:
    """Each vehicle's day cut into intervals of one state (struct of arrays, sorted by vehicle
    then start): ``vehicle`` (index into ``vehicle_ids``), ``start_s``, ``end_s``, ``state`` (a
    code of :data:`STATES`)."""

    vehicle_ids: list[str]
    vehicle: NDArray[np.int64]
    start_s: NDArray[np.int64]
    end_s: NDArray[np.int64]
    state: NDArray[np.int8]

    def totals_s(self) -> NDArray[np.int64]:
        """Seconds per vehicle (rows) and state (columns)."""
        out = np.zeros((len(self.vehicle_ids), len(STATES)), np.int64)
        np.add.at(out, (self.vehicle, self.state), self.end_s - self.start_s)
        return out


def vehicle_states(out: SimOutput) -> VehicleStates:
    """Each vehicle's day as intervals of four states (:data:`STATES`) that partition its span.

    A vehicle's span runs from its shift start (or its first drive or stop visit, if earlier)
    to its shift end (or the end of its last drive or visit, e.g. the drive back to the depot
    after the day). Drives are *driving empty* or *driving with riders* (``onboard > 0``);
    stop visits ``[arrive_s, depart_s)`` are *at a stop* (boarding, alighting), and so is a
    wait with riders on board for a promised window at the stop where the vehicle stands (from
    a drive's arrival, or the end of a visit, to the next visit at the same stop). The rest of
    the span is *idle*, including an empty vehicle's wait at the stop of its next pickup.
    Should two records overlap, the one that starts first keeps the overlap; neighbours in one
    state are merged. Vehicles in ``out.vehicles`` order, then any that appear only in
    the drives or visits.
    """
    ids = list(
        dict.fromkeys(
            [v.vehicle_id for v in out.vehicles]
            + [d.vehicle_id for d in out.drives]
            + [v.vehicle_id for v in out.visits]
        )
    )
    index = {vid: i for i, vid in enumerate(ids)}
    n = len(ids)
    shift_start = np.full(n, np.iinfo(np.int64).max)
    shift_end = np.full(n, np.iinfo(np.int64).min)
    for v in out.vehicles:
        shift_start[index[v.vehicle_id]] = v.shift_start_s
        shift_end[index[v.vehicle_id]] = v.shift_end_s
    # vehicle, start, end, state, the stop where the record ends, riders on board before it
    events = [
        (index[d.vehicle_id], d.depart_s, d.arrive_s, LOADED if d.onboard > 0 else EMPTY, d.to_stop, d.onboard)
        for d in out.drives
    ]
    events += [
        (index[v.vehicle_id], v.arrive_s, v.depart_s, AT_STOP, v.stop, v.onboard_after - v.boarded + v.alighted)
        for v in out.visits
    ]
    ev = np.asarray(events, np.int64).reshape(-1, 6)
    ev = ev[np.lexsort((ev[:, 3], ev[:, 1], ev[:, 0]))]  # by vehicle, start, state
    veh, start, end, state, stop, before = (ev[:, c] for c in range(6))
    np.minimum.at(shift_start, veh, start)
    np.maximum.at(shift_end, veh, end)
    rows: list[list[int]] = []

    def add(i: int, a: int, b: int, code: int) -> None:
        if rows and rows[-1][0] == i and rows[-1][3] == code and rows[-1][2] == a:
            rows[-1][2] = b  # the same state goes on
        else:
            rows.append([i, a, b, code])

    bounds = np.searchsorted(veh, np.arange(n + 1))
    for i in range(n):
        if shift_end[i] < shift_start[i]:  # a vehicle with no shift and no records
            continue
        t = int(shift_start[i])
        prev = -1  # index of the record before
        for k in range(bounds[i], bounds[i + 1]):
            a, b = max(int(start[k]), t), int(end[k])
            if b <= a:
                continue
            if a > t:
                waiting = prev >= 0 and state[k] == AT_STOP and stop[prev] == stop[k] and before[k] > 0
                add(i, t, a, AT_STOP if waiting else IDLE)
            add(i, a, b, int(state[k]))
            t, prev = b, k
        if t < shift_end[i]:
            add(i, t, int(shift_end[i]), IDLE)
    arr = np.asarray(rows, np.int64).reshape(-1, 4)
    return VehicleStates(ids, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(np.int8))


def plot_vehicle_gantt(out: SimOutput) -> Figure:
    """One row per vehicle over the day (:func:`vehicle_states`): idle, driving empty, driving
    with riders, at a stop; the fleet's shares of time in each state in the title."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    st = vehicle_states(out)
    n = len(st.vehicle_ids)
    fig = figure(11.0, min(max(2.2 + 0.22 * n, 3.5), 14.0))
    ax = fig.add_subplot()
    h = 0.8 if n <= 60 else 1.0
    for code, colour in enumerate(STATE_COLOURS):
        m = st.state == code
        if not m.any():
            continue
        y0 = st.vehicle[m] - h / 2
        a, b = st.start_s[m].astype(np.float64), st.end_s[m].astype(np.float64)
        verts = np.stack(
            [
                np.column_stack([a, y0]),
                np.column_stack([b, y0]),
                np.column_stack([b, y0 + h]),
                np.column_stack([a, y0 + h]),
            ],
            axis=1,
        )
        # without antialiasing: no seams between neighbouring bars
        ax.add_collection(
            PolyCollection(
                cast("Sequence[NDArray[np.float64]]", verts),
                facecolors=colour,
                edgecolors="none",
                linewidths=0,
                antialiased=False,
            )
        )
    if st.start_s.size:
        lo, hi = float(st.start_s.min()), float(st.end_s.max())
        ax.set_xlim(lo, hi)
        clock_axis(ax.xaxis, lo, hi)
    ax.set_ylim(max(n, 1) - 0.5, -0.5)
    if n == 0:
        ax.text(0.5, 0.5, "no vehicles", ha="center", va="center", transform=ax.transAxes, color="#555555")
    if n <= 60:
        ax.set_yticks(range(n), st.vehicle_ids, fontsize=8 if n <= 30 else 6)
    else:
        ticks = list(range(0, n, math.ceil(n / 30)))
        ax.set_yticks(ticks, [st.vehicle_ids[i] for i in ticks], fontsize=6)
    ax.set_xlabel("time of day")
    ax.grid(axis="x", color="#bbbbbb", linewidth=0.5)
    ax.set_axisbelow(True)
    totals = st.totals_s().sum(axis=0)
    shares = totals / max(int(totals.sum()), 1)
    ax.legend(
        handles=[
            Patch(color=c, label=f"{s} ({100 * p:.0f} %)")
            for s, c, p in zip(STATES, STATE_COLOURS, shares, strict=True)
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=4,
        fontsize=9,
        frameon=False,
    )
    fig.suptitle(f"Vehicles' day — {out.scenario}: {n} vehicles (shares of vehicle time)", fontsize=12)
    return fig
