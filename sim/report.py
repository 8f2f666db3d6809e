"""Files, plots and text summaries of a simulated day.

:func:`write_report` writes the KPIs (``summary.json``), the raw records as CSV and, with
``plots``, three PNG figures; :func:`format_summary` and :func:`kpi_markdown` render the KPIs
of :func:`sim.kpi.compute_kpis` for a terminal and for a README.

Plots are drawn with matplotlib's object API on the Agg canvas (no pyplot, no screen, no
global backend change); matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from numpy.typing import NDArray

from matching import DEFAULT_CURRENCY, format_money

from .kpi import compute_kpis, rejection_warnings, validate
from .records import RideRecord, SimOutput

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Columns of ``vehicles.csv`` (the keys of :func:`sim.kpi.vehicle_kpis`).
VEHICLE_COLUMNS = (
    "vehicle_id",
    "seats",
    "drives",
    "driven_km",
    "loaded_km",
    "passenger_km",
    "riders",
    "rides_completed",
    "stops_served",
    "shift_h",
    "busy_h",
    "utilisation",
)

#: Columns of ``drives.csv`` (:class:`sim.records.Drive` without the node list).
DRIVE_COLUMNS = ("vehicle_id", "depart_s", "arrive_s", "from_stop", "to_stop", "length_m", "onboard")


# ---------------------------------------------------------------------------------- files
def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays, tuples and paths turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})


def write_report(out: SimOutput, folder: Path, *, plots: bool = True) -> dict[str, Path]:
    """Write the report of ``out`` into ``folder`` (created if missing); return the files by name.

    Files (names in the returned dict in brackets):

    * ``summary.json`` (``summary``): scenario, seed, service period, timings, meta, the KPIs
      of :func:`sim.kpi.compute_kpis` under ``kpis``, the problems of
      :func:`sim.kpi.validate` under ``problems`` and :func:`sim.kpi.rejection_warnings`
      under ``warnings``;
    * ``rides.csv`` (``rides``): :meth:`RideRecord.columns`, one row per ride;
    * ``vehicles.csv`` (``vehicles``): the per-vehicle KPIs (:data:`VEHICLE_COLUMNS`);
    * ``drives.csv`` (``drives``): :data:`DRIVE_COLUMNS`, one row per drive;
    * with ``plots``: ``wait_times.png`` (``wait_times``), ``occupancy.png`` (``occupancy``)
      and, when ``out.network`` is set, ``map.png`` (``map``);
    * what the day's components added (``out.extras``, see :class:`ExtraOutput`): their KPIs
      in ``summary.json`` under ``extras.<key>``, and their own files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kpis = compute_kpis(out)
    files = {name: folder / f"{name}.csv" for name in ("rides", "vehicles", "drives")}
    files = {"summary": folder / "summary.json", **files}

    summary = {
        "scenario": out.scenario,
        "seed": out.seed,
        "start_s": out.start_s,
        "end_s": out.end_s,
        "timings": {k: round(float(v), 3) for k, v in out.timings.items()},
        "meta": json_safe(out.meta),
        "kpis": kpis,
        "problems": validate(out),
        "warnings": rejection_warnings(kpis),
        "extras": {key: json_safe(extra.kpis()) for key, extra in out.extras.items()},
    }
    files["summary"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _write_csv(files["rides"], RideRecord.columns(), (r.to_row() for r in out.rides))
    _write_csv(files["vehicles"], VEHICLE_COLUMNS, kpis["vehicles"])
    _write_csv(files["drives"], DRIVE_COLUMNS, ({c: getattr(d, c) for c in DRIVE_COLUMNS} for d in out.drives))

    if plots:
        files["wait_times"] = folder / "wait_times.png"
        _save(plot_wait_times(out), files["wait_times"])
        files["occupancy"] = folder / "occupancy.png"
        _save(plot_occupancy(kpis), files["occupancy"])
        if out.network is not None:
            files["map"] = folder / "map.png"
            _save(plot_map(out), files["map"])
    for extra in out.extras.values():
        files.update(extra.write(folder, plots=plots))
    return files


class ExtraOutput(Protocol):
    """What a component of the day (:class:`sim.simulator.Component`) leaves in ``SimOutput.extras``."""

    def kpis(self) -> dict[str, Any]:
        """Its KPIs (JSON-safe after :func:`json_safe`), written to ``summary.json`` under ``extras``."""
        ...

    def write(self, folder: Path, *, plots: bool = True) -> dict[str, Path]:
        """Write its own files (CSV, plots) into ``folder``; return them by name (unique names)."""
        ...

    def summary_lines(self) -> list[str]:
        """A few lines for the terminal, printed after :func:`format_summary`'s."""
        ...


# ---------------------------------------------------------------------------------- plots
def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, format="png")


def plot_wait_times(out: SimOutput) -> Figure:
    """Histogram of the wait times (minutes) of completed rides, with mean and p90 marked."""
    from matplotlib.ticker import MaxNLocator

    fig = _figure(7.0, 4.0)
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


def plot_occupancy(kpis: dict[str, Any]) -> Figure:
    """Riders on board over the day (fleet total, bin averages) and vehicles driving / on shift."""
    series = kpis["occupancy"]["series"]
    start_h = np.asarray(series["start_s"], np.float64) / 3600
    step_h = series["bin_s"] / 3600
    edges = np.append(start_h, start_h[-1] + step_h) if start_h.size else start_h
    fig = _figure(8.0, 4.0)
    ax = fig.add_subplot()
    if start_h.size:
        for key, label, style in (
            ("on_board", "riders on board", {"color": "#4c72b0", "linewidth": 2}),
            ("vehicles_driving", "vehicles driving", {"color": "#dd8452"}),
            ("vehicles_on_shift", "vehicles on shift", {"color": "grey", "linestyle": ":"}),
        ):
            values = np.asarray(series[key], np.float64)
            ax.stairs(values, edges, label=label, **style)
        ax.legend(loc="upper left")
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel(f"fleet total (mean over {series['bin_s'] // 60} min)")
    ax.set_ylim(bottom=0)
    ax.set_title("Occupancy over the day")
    return fig


def _coordinates(network: Any) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Node x and y for drawing: lon/lat when geographic, else projected metres."""
    if network.has_lat_lon:
        return np.asarray(network.lon, np.float64), np.asarray(network.lat, np.float64), True
    return np.asarray(network.x_m, np.float64), np.asarray(network.y_m, np.float64), False


def plot_map(out: SimOutput) -> Figure:
    """The road network (light grey), the stops (dots) and each vehicle's track (one colour each)."""
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection

    network = out.network
    x, y, geographic = _coordinates(network)
    fig = _figure(8.0, 8.0)
    ax = fig.add_subplot()

    # Each road once: a two-way street is drawn as one segment.
    tail = np.repeat(np.arange(network.indptr.shape[0] - 1), np.diff(network.indptr))
    head = np.asarray(network.indices, np.int64)
    pairs = np.unique(np.column_stack([np.minimum(tail, head), np.maximum(tail, head)]), axis=0)
    ends = [np.column_stack([x[pairs[:, k]], y[pairs[:, k]]]) for k in (0, 1)]
    # An (n, 2, 2) array is a valid sequence of segments; the stubs want a Sequence.
    roads = cast("Sequence[NDArray[np.float64]]", np.stack(ends, axis=1))
    ax.add_collection(LineCollection(roads, colors="#d0d0d0", linewidths=0.5, zorder=1))

    # Fleet order first, then any vehicle that only appears in the drives.
    vehicle_ids = list(dict.fromkeys([v.vehicle_id for v in out.vehicles] + [d.vehicle_id for d in out.drives]))
    colour_of = {vid: i for i, vid in enumerate(vehicle_ids)}
    cmap = colormaps["tab10" if len(vehicle_ids) <= 10 else "tab20"]
    segments: list[NDArray[np.float64]] = []
    colours: list[tuple[float, float, float, float]] = []
    for d in out.drives:
        if len(d.nodes) < 2:
            continue
        nodes = np.asarray(d.nodes, np.int64)
        pts = np.column_stack([x[nodes], y[nodes]])
        segments.extend(np.stack([pts[:-1], pts[1:]], 1))
        colours.extend([cmap(colour_of[d.vehicle_id] % cmap.N)] * (len(nodes) - 1))
    if segments:
        ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.2, alpha=0.8, zorder=2))

    stops = out.stops
    if stops is not None and len(stops.node):
        sx, sy = (stops.lon, stops.lat) if geographic else (stops.x_m, stops.y_m)
        ax.scatter(sx, sy, s=6, color="black", zorder=3, label=f"{len(stops.node)} stops")
        ax.legend(loc="upper right")

    ax.autoscale_view()
    if geographic:
        ax.set_aspect(1.0 / max(math.cos(math.radians(float(np.mean(y)))), 1e-6))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
    else:
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
    ax.set_title(f"{out.scenario}: {len(vehicle_ids)} vehicles, {len(out.drives)} drives")
    return fig


# ---------------------------------------------------------------------------------- text
def _fmt(value: Any, spec: str = "", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f} %"


def _walk(kpis: dict[str, Any], stat: str) -> float | None:
    """A statistic of the riders' walks to and from their stops (``None`` without rides)."""
    total = kpis["walking"].get("total")
    return None if total is None else total[stat]


def _money(revenue: dict[str, Any]) -> str:
    """The day's fare revenue in its currency (``1,800 KRW``, ``2.50 EUR``)."""
    return format_money(revenue["fare_krw"], revenue.get("currency", DEFAULT_CURRENCY))


def format_summary(kpis: dict[str, Any]) -> str:
    """A few lines of the main KPIs of :func:`sim.kpi.compute_kpis` for a terminal, then a
    ``warning`` line per rejection reason that turned away more than 5 % of the requests
    (:func:`sim.kpi.rejection_warnings`)."""
    req, wait, ride = kpis["requests"], kpis["wait_s"], kpis["ride_s"]
    dist, detour = kpis["distance"], kpis["detour_factor"]
    reasons = ", ".join(f"{k} {v}" for k, v in req["rejected_by_reason"].items()) or "none"
    lines = [
        f"requests  {req['total']}  served {req['completed']} ({_percent(req['service_rate'])})  "
        f"cancelled {req['cancelled']}  no-show {req['no_show']}  open {req['open']}",
        f"rejected  {req['rejected']}: {reasons}",
        f"wait      p50 {_minutes(wait['p50'])}  p90 {_minutes(wait['p90'])}  "
        f"ride p50 {_minutes(ride['p50'])}  detour mean {_fmt(detour['mean'], '.2f')}  "
        f"on time {_percent(kpis['punctuality']['pickup_in_window_share'])}",
        f"vehicles  {dist['vehicle_km']:.1f} veh-km (empty {_percent(dist['empty_share'])})  "
        f"{dist['passenger_km']:.1f} pax-km  {_fmt(dist['passenger_km_per_vehicle_km'], '.2f')} pax-km/veh-km  "
        f"occupancy {_fmt(kpis['occupancy']['mean_on_board_driving'], '.2f')}",
        f"revenue   {_money(kpis['revenue'])}  "
        f"riders/veh-h {_fmt(kpis['fleet']['riders_per_vehicle_hour'], '.2f')}  "
        f"utilisation {_percent(kpis['fleet']['utilisation'])}  "
        f"walk p50 {_fmt(_walk(kpis, 'p50'), '.0f', ' m')} p90 {_fmt(_walk(kpis, 'p90'), '.0f', ' m')}",
    ]
    lines += [f"warning   {text}" for text in rejection_warnings(kpis)]
    return "\n".join(lines)


def kpi_markdown(kpis: dict[str, Any]) -> str:
    """A Markdown table (KPI | value) of the main KPIs, for a README."""
    req, wait, ride = kpis["requests"], kpis["wait_s"], kpis["ride_s"]
    dist, fleet, punct = kpis["distance"], kpis["fleet"], kpis["punctuality"]
    reasons = ", ".join(f"{k} {v}" for k, v in req["rejected_by_reason"].items()) or "none"
    rows = [
        ("Requests", f"{req['total']}"),
        ("Completed (service rate)", f"{req['completed']} ({_percent(req['service_rate'])})"),
        ("Rejected", f"{req['rejected']} ({reasons})"),
        ("Cancelled / no-show / open", f"{req['cancelled']} / {req['no_show']} / {req['open']}"),
        ("Wait p50 / p90 / p95", f"{_minutes(wait['p50'])} / {_minutes(wait['p90'])} / {_minutes(wait['p95'])}"),
        ("Ride time p50 / p90", f"{_minutes(ride['p50'])} / {_minutes(ride['p90'])}"),
        (
            "Detour factor mean / p90",
            f"{_fmt(kpis['detour_factor']['mean'], '.2f')} / {_fmt(kpis['detour_factor']['p90'], '.2f')}",
        ),
        ("Pickups in promised window", _percent(punct["pickup_in_window_share"])),
        ("Rides within maximum ride time", _percent(punct["within_max_ride_share"])),
        ("Vehicle-km (empty share)", f"{dist['vehicle_km']:.1f} ({_percent(dist['empty_share'])})"),
        ("Passenger-km per vehicle-km", _fmt(dist["passenger_km_per_vehicle_km"], ".2f")),
        ("Mean riders on board while driving", _fmt(kpis["occupancy"]["mean_on_board_driving"], ".2f")),
        ("Riders per vehicle-hour", _fmt(fleet["riders_per_vehicle_hour"], ".2f")),
        ("Fleet utilisation", _percent(fleet["utilisation"])),
        ("Mean walk to + from stops", _fmt(kpis["walking"]["total_m"], ".0f", " m")),
        (
            "Walk to + from stops p50 / p90",
            f"{_fmt(_walk(kpis, 'p50'), '.0f', ' m')} / {_fmt(_walk(kpis, 'p90'), '.0f', ' m')}",
        ),
        ("Fare revenue", _money(kpis["revenue"])),
    ]
    lines = ["| KPI | Value |", "| --- | ---: |"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)
