"""Files, plots and text summaries of a simulated day.

:func:`write_report` writes the KPIs (``summary.json``), the raw records as CSV, the day as
GeoJSON for GIS tools (:mod:`sim.geo`) and, with ``plots``, the PNG figures of
:mod:`sim.plots`; :func:`format_summary` and :func:`kpi_markdown` render the KPIs of
:func:`sim.kpi.compute_kpis` for a terminal and for a README.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from matching import DEFAULT_CURRENCY, format_money

from .geo import clock, ride_coordinates, write_geojson
from .kpi import compute_kpis, rejection_warnings, validate
from .records import RideRecord, SimOutput

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Columns of ``vehicles.csv``: the keys of :func:`sim.kpi.vehicle_kpis`, then the vehicle's depot
#: stop and shift (:class:`sim.records.VehicleRecord`: where it starts, when it serves).
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
    "depot_stop",
    "shift_start_s",
    "shift_end_s",
)

#: Columns ``rides.csv`` has after :meth:`RideRecord.columns`: the stops' ids in the stop file
#: the day's stops came from (``[stops] kind = "csv" | "geojson" | "gtfs"``; empty for virtual
#: stops), the stops' coordinates (WGS84 degrees, 6 decimals; empty without a stop or on a graph
#: without lat/lon) and the requested, pickup and drop-off times as service-clock HH:MM
#: (floored; empty when it did not happen).
RIDE_GEO_COLUMNS = (
    "origin_stop_id",
    "destination_stop_id",
    "origin_lat",
    "origin_lon",
    "destination_lat",
    "destination_lon",
    "requested_hhmm",
    "pickup_hhmm",
    "dropoff_hhmm",
)

#: Columns of ``drives.csv`` (:class:`sim.records.Drive` without the node list).
DRIVE_COLUMNS = ("vehicle_id", "depart_s", "arrive_s", "from_stop", "to_stop", "length_m", "onboard")

#: Columns of ``visits.csv`` (:class:`sim.records.StopVisit`: a stop served, riders got on or off).
VISIT_COLUMNS = (
    "vehicle_id",
    "stop",
    "arrive_s",
    "service_start_s",
    "depart_s",
    "boarded",
    "alighted",
    "onboard_after",
)


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


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """``rows`` to a CSV file under ``columns`` (other keys ignored; a missing or ``None`` value empty)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})


def ride_rows(out: SimOutput) -> Iterator[dict[str, Any]]:
    """The rows of ``rides.csv``: :meth:`RideRecord.to_row` and :data:`RIDE_GEO_COLUMNS`."""
    coords = {k: np.round(v, 6) for k, v in ride_coordinates(out).items()}
    ids = getattr(out.stops, "ids", ()) if out.stops is not None else ()
    num_stops = len(out.stops) if out.stops is not None else 0
    named = len(ids) == num_stops > 0
    for k, ride in enumerate(out.rides):
        row = ride.to_row()
        for key, stop in (("origin_stop_id", ride.origin_stop), ("destination_stop_id", ride.destination_stop)):
            row[key] = ids[stop] if named and 0 <= stop < num_stops else None
        for key, values in coords.items():
            row[key] = float(values[k]) if np.isfinite(values[k]) else None
        row["requested_hhmm"] = clock(ride.requested_s)
        row["pickup_hhmm"] = clock(ride.pickup_s)
        row["dropoff_hhmm"] = clock(ride.dropoff_s)
        yield row


def write_report(out: SimOutput, folder: Path, *, plots: bool = True) -> dict[str, Path]:
    """Write the report of ``out`` into ``folder`` (created if missing); return the files by name.

    Files (names in the returned dict in brackets):

    * ``summary.json`` (``summary``): scenario, seed, service period, timings, meta, the KPIs
      of :func:`sim.kpi.compute_kpis` under ``kpis``, the problems of
      :func:`sim.kpi.validate` under ``problems`` and :func:`sim.kpi.rejection_warnings`
      under ``warnings``;
    * ``rides.csv`` (``rides``): :meth:`RideRecord.columns` then :data:`RIDE_GEO_COLUMNS`, one
      row per ride;
    * ``vehicles.csv`` (``vehicles``): the per-vehicle KPIs (:data:`VEHICLE_COLUMNS`);
    * ``drives.csv`` (``drives``): :data:`DRIVE_COLUMNS`, one row per drive;
    * ``visits.csv`` (``visits``): :data:`VISIT_COLUMNS`, one row per stop served;
    * when the network has lat/lon, the GeoJSON of :func:`sim.geo.write_geojson`:
      ``stops.geojson``, ``zone.geojson`` (with a zone), ``tracks.geojson``, ``rides.geojson``,
      ``streets.geojson`` (``stops_geojson``, ``zone_geojson``, ``tracks_geojson``,
      ``rides_geojson``, ``streets_geojson``);
    * with ``plots``: ``wait_times.png`` (``wait_times``), ``occupancy.png`` (``occupancy``),
      ``vehicle_gantt.png`` (``vehicle_gantt``) and, when ``out.network`` is set (with
      metric coordinates, so also on benchmark graphs), ``map.png`` (``map``),
      ``demand_heatmap.png`` (``demand_heatmap``) and ``rejection_heatmap.png``
      (``rejection_heatmap``): see :mod:`sim.plots`;
    * what the day's components added (``out.extras``, see :class:`ExtraOutput`): their KPIs
      in ``summary.json`` under ``extras.<key>``, and their own files.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kpis = compute_kpis(out)
    files = {name: folder / f"{name}.csv" for name in ("rides", "vehicles", "drives", "visits")}
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
    write_csv(files["rides"], [*RideRecord.columns(), *RIDE_GEO_COLUMNS], ride_rows(out))
    records = {v.vehicle_id: v for v in out.vehicles}
    write_csv(
        files["vehicles"],
        VEHICLE_COLUMNS,
        (
            {**row, **{c: getattr(records[row["vehicle_id"]], c) for c in VEHICLE_COLUMNS[-3:]}}
            for row in kpis["vehicles"]
        ),
    )
    write_csv(files["drives"], DRIVE_COLUMNS, ({c: getattr(d, c) for c in DRIVE_COLUMNS} for d in out.drives))
    write_csv(files["visits"], VISIT_COLUMNS, ({c: getattr(v, c) for c in VISIT_COLUMNS} for v in out.visits))

    if out.network is not None and out.stops is not None:
        geo_files, note = write_geojson(out, folder)
        files.update(geo_files)
        if note:
            log.info("%s", note)

    if plots:
        from . import plots as p

        figures: dict[str, Callable[[], Figure]] = {
            "wait_times": lambda: p.plot_wait_times(out),
            "occupancy": lambda: p.plot_occupancy(kpis, out.scenario),
            "vehicle_gantt": lambda: p.plot_vehicle_gantt(out),
        }
        if out.network is not None:
            figures["map"] = lambda: p.plot_map(out, kpis)
            figures["demand_heatmap"] = lambda: p.plot_demand_heatmap(out)
            figures["rejection_heatmap"] = lambda: p.plot_rejection_heatmap(out)
        for name, draw in figures.items():
            files[name] = folder / f"{name}.png"
            draw().savefig(files[name], format="png")
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
