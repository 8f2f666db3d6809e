"""Report files, plots and text summaries of the hand-made day (tests/sim/sample_day.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import routing
from sim.kpi import compute_kpis
from sim.records import Drive, RideRecord, SimOutput, VehicleRecord
from sim.report import (
    DRIVE_COLUMNS,
    RIDE_GEO_COLUMNS,
    VEHICLE_COLUMNS,
    format_summary,
    kpi_markdown,
    write_report,
)
from tests.sim.sample_day import sample_day

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimOutput, dict[str, Path]]:
    out = sample_day()
    return out, write_report(out, tmp_path_factory.mktemp("report") / "day")


def test_write_report_creates_every_file(report: tuple[SimOutput, dict[str, Path]]) -> None:
    _, files = report
    expected = {
        "summary",
        "rides",
        "vehicles",
        "drives",
        "visits",
        "streets_geojson",
        "wait_times",
        "occupancy",
        "map",
        "vehicle_gantt",
    }
    expected |= {"demand_heatmap", "rejection_heatmap", "stops_geojson", "tracks_geojson", "rides_geojson"}
    assert set(files) == expected  # no zone.geojson: the sample day has no zone
    for name, path in files.items():
        assert path.is_file() and path.stat().st_size > 0, name
        assert path.stem == name.removesuffix("_geojson")


def test_rides_csv(report: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = report
    header, rows = _read_csv(files["rides"])
    assert header == RideRecord.columns() + list(RIDE_GEO_COLUMNS)
    assert len(rows) == len(out.rides) == 9
    assert [r["ride_id"] for r in rows] == [r.ride_id for r in out.rides]
    assert rows[0]["wait_s"] == "300" and rows[0]["ride_s"] == "600" and rows[0]["detour_factor"] == "1.5"
    assert rows[3]["reject_reason"] == "no_vehicle_in_time" and rows[3]["wait_s"] == ""


def test_vehicles_and_drives_csv(report: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = report
    header, rows = _read_csv(files["vehicles"])
    assert header == list(VEHICLE_COLUMNS)
    assert [r["vehicle_id"] for r in rows] == ["V1", "V2"]
    assert rows[0]["driven_km"] == "9.5" and rows[1]["utilisation"] == "0.3417"
    header, rows = _read_csv(files["drives"])
    assert header == list(DRIVE_COLUMNS)
    assert len(rows) == len(out.drives)
    assert rows[2] == {
        "vehicle_id": "V1",
        "depart_s": "830",
        "arrive_s": "1020",
        "from_stop": "2",
        "to_stop": "3",
        "length_m": "1000",
        "onboard": "3",
    }


def test_summary_json_matches_compute_kpis(report: tuple[SimOutput, dict[str, Path]]) -> None:
    out, files = report
    summary = json.loads(files["summary"].read_text(encoding="utf-8"))
    assert summary["scenario"] == "ring-test"
    assert summary["seed"] == 7
    assert summary["timings"] == {"setup": 0.5, "run": 1.25}
    assert summary["meta"] == {"note": "hand-made", "fleet": 2}
    assert summary["kpis"] == compute_kpis(out)
    assert summary["problems"] == []


def test_pngs_are_valid(report: tuple[SimOutput, dict[str, Path]]) -> None:
    _, files = report
    for name in ("wait_times", "occupancy", "map", "vehicle_gantt", "demand_heatmap", "rejection_heatmap"):
        _assert_png(files[name])


def test_report_without_plots(tmp_path: Path) -> None:
    files = write_report(sample_day(), tmp_path, plots=False)
    assert set(files) == {"summary", "rides", "vehicles", "drives", "visits", "stops_geojson", "tracks_geojson",
                          "rides_geojson", "streets_geojson"}  # fmt: skip
    assert not list(tmp_path.glob("*.png"))


def test_map_in_projected_coordinates(tmp_path: Path) -> None:
    out = sample_day(geographic=False)
    assert not out.network.has_lat_lon
    _assert_png(write_report(out, tmp_path)["map"])


def test_report_on_a_synthetic_city_with_an_empty_day(tmp_path: Path) -> None:
    network = routing.synthetic_city(100)
    stops = routing.virtual_stops(network, spacing_m=300)
    out = SimOutput(
        "synthetic-empty",
        1,
        0,
        3600,
        rides=[],
        drives=[Drive("V1", 0, 60, 0, 1, 300, 0, [int(n) for n in stops.node[:3]])],
        visits=[],
        vehicles=[VehicleRecord("V1", 4, 0, 0, 3600, drives=1, driven_m=300, busy_s=60)],
        network=network,
        stops=stops,
    )
    files = write_report(out, tmp_path)
    for name in ("wait_times", "occupancy", "map", "vehicle_gantt", "demand_heatmap", "rejection_heatmap"):
        _assert_png(files[name])
    assert _read_csv(files["rides"])[1] == []
    text = format_summary(compute_kpis(out))
    assert "requests  0" in text and "–" in text
    assert "| Requests | 0 |" in kpi_markdown(compute_kpis(out))


def test_format_summary_contains_key_numbers() -> None:
    from sim.kpi import rejection_warnings

    kpis = compute_kpis(sample_day())
    text = format_summary(kpis)
    assert len(text.splitlines()) <= 6 + len(rejection_warnings(kpis))
    for expected in (
        "requests  9",
        "served 3 (33.3 %)",
        "no_vehicle_in_time 2, outside_zone 1",
        "p50 5.0 min",  # wait
        "p90 9.0 min",
        "ride p50 10.0 min",
        "detour mean 1.90",
        "14.5 veh-km (empty 31.0 %)",
        "0.97 pax-km/veh-km",
        "occupancy 0.97",
        "5,300 KRW",
    ):
        assert expected in text, (expected, text)


def test_kpi_markdown_contains_key_numbers() -> None:
    table = kpi_markdown(compute_kpis(sample_day()))
    lines = table.splitlines()
    assert lines[0] == "| KPI | Value |"
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    for expected in (
        "| Requests | 9 |",
        "| Completed (service rate) | 3 (33.3 %) |",
        "no_vehicle_in_time 2, outside_zone 1",
        "| Wait p50 / p90 / p95 | 5.0 min / 9.0 min / 9.5 min |",
        "| Vehicle-km (empty share) | 14.5 (31.0 %) |",
        "| Passenger-km per vehicle-km | 0.97 |",
        "| Fare revenue | 5,300 KRW |",
    ):
        assert expected in table, (expected, table)
