"""The shared-taxi day on a map: its GeoJSON read back by GDAL (pyogrio) and shapely, and the
geographic and clock columns of its rides.csv, checked against the day's own records."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
from pyogrio import read_dataframe

from matching.pooling import PoolingParams
from matching.pooling.model import TaxiRequest, TaxiSpec
from routing import Router, read_manhattan
from sim.geo import COORD_DIGITS
from sim.plots import street_loads
from sim.scenario import TaxiScenario
from sim.taxi import DRIVE_KINDS, TaxiSimOutput, run_taxi_scenario, simulate_taxis
from sim.taxi_kpi import map_title_kpis, taxi_kpis, taxi_map_day, write_taxi_report
from tests.sim.test_geo import csv_rows, hhmm

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
ROUND = 0.51 * 10**-COORD_DIGITS  # the written coordinates are rounded to COORD_DIGITS decimals


@pytest.fixture(scope="module")
def day(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TaxiSimOutput, dict[str, Path]]:
    """Half an hour of the evening on Dongjak: 40 taxis, 60 requests, the drives' paths kept."""
    sc = TaxiScenario.from_toml(SCENARIOS / "imoa_dongjak.toml", data_dir=data_dir)
    pooling = dataclasses.replace(sc.pooling, trip_time_budget_s=120.0, batch_deadline_s=120.0)  # no cut search
    demand = dataclasses.replace(sc.demand, total=60)
    sc = dataclasses.replace(sc, start_s=18 * 3600, end_s=18 * 3600 + 1800, demand=demand, pooling=pooling)
    out = run_taxi_scenario(sc, record_paths=True)
    return out, write_taxi_report(out, tmp_path_factory.mktemp("taxigeo"))


def _hhmm_of(seconds: int) -> str:
    """The HH:MM of a time in seconds, recounted here ("" for -1, the records' "never")."""
    return "" if seconds < 0 else f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def test_day_has_what_the_checks_need(day: tuple[TaxiSimOutput, dict[str, Path]]) -> None:
    out, files = day
    assert {"rides_geojson", "tracks_geojson"} <= set(files)
    assert files["tracks_geojson"].name == "tracks.geojson" and files["rides_geojson"].name == "rides.geojson"
    assert not (files["summary"].parent / "zone.geojson").exists()  # a shared-taxi scenario has no zone
    assert "completed" in out.status and out.drives["vehicle"].size > 10
    assert (out.drives["onboard"] > 0).any()


def test_tracks_read_back(day: tuple[TaxiSimOutput, dict[str, Path]]) -> None:
    out, files = day
    net = out.network
    assert net is not None and out.drive_nodes is not None
    frame = read_dataframe(files["tracks_geojson"])
    drives = csv_rows(files["drives"])
    # one track per drive with a path (every recorded drive went at least one road)
    with_path = [k for k, nodes in enumerate(out.drive_nodes) if len(nodes) >= 2]
    assert len(frame) == len(with_path) == len(drives)
    assert set(frame.geometry.geom_type) == {"LineString"}
    assert str(frame.crs).upper().endswith("4326")
    assert frame["vehicle_id"].tolist() == [r["vehicle"] for r in drives]
    assert frame["depart_s"].tolist() == [int(r["depart_s"]) for r in drives]
    assert frame["onboard"].tolist() == [int(r["onboard"]) for r in drives]
    assert frame["parties"].tolist() == [int(r["parties"]) for r in drives]
    assert frame["kind"].tolist() == [r["kind"] for r in drives]
    assert set(frame["kind"]) <= set(DRIVE_KINDS)
    assert hhmm(frame["depart"]) == [_hhmm_of(int(r["depart_s"])) for r in drives]
    assert hhmm(frame["arrive"]) == [_hhmm_of(int(r["arrive_s"])) for r in drives]
    # the network's range: its road nodes and its streets' shape points (a curve may bulge past the nodes)
    lons, lats = np.concatenate([net.lon, net.geom_lon]), np.concatenate([net.lat, net.geom_lat])
    for row, line in zip(drives, frame.geometry, strict=True):
        pts = np.asarray(line.coords)
        # [lon, lat]: x within the network's longitudes, y within its latitudes (Seoul: 127 E, 37 N)
        assert np.all((pts[:, 0] >= lons.min() - ROUND) & (pts[:, 0] <= lons.max() + ROUND))
        assert np.all((pts[:, 1] >= lats.min() - ROUND) & (pts[:, 1] <= lats.max() + ROUND))
        a, b = int(row["from_node"]), int(row["to_node"])
        np.testing.assert_allclose(pts[0], [net.lon[a], net.lat[a]], atol=ROUND)
        np.testing.assert_allclose(pts[-1], [net.lon[b], net.lat[b]], atol=ROUND)


def test_rides_read_back_and_match_rides_csv(day: tuple[TaxiSimOutput, dict[str, Path]]) -> None:
    out, files = day
    rows = csv_rows(files["rides"])
    frame = read_dataframe(files["rides_geojson"])
    assert len(frame) == len(rows) == len(out.requests)
    assert set(frame.geometry.geom_type) == {"LineString"}
    assert frame["ride_id"].tolist() == [r["id"] for r in rows]
    assert frame["status"].tolist() == [r["status"] for r in rows]
    assert hhmm(frame["requested"]) == [r["requested_hhmm"] for r in rows]
    assert hhmm(frame["pickup"]) == [r["pickup_hhmm"] for r in rows]
    assert hhmm(frame["dropoff"]) == [r["dropoff_hhmm"] for r in rows]
    completed = 0
    for row, geom, wait in zip(rows, frame.geometry, frame["wait_s"], strict=True):
        (x0, y0), (x1, y1) = geom.coords
        assert (x0, y0) == (float(row["origin_lon"]), float(row["origin_lat"]))
        assert (x1, y1) == (float(row["destination_lon"]), float(row["destination_lat"]))
        if row["status"] == "completed":
            completed += 1
            assert int(wait) == int(row["pickup_s"]) - int(row["request_time_s"])
        else:
            assert wait is None or math.isnan(wait)
    assert completed > 0


def test_rides_csv_coordinates_are_the_nodes(day: tuple[TaxiSimOutput, dict[str, Path]]) -> None:
    out, files = day
    net = out.network
    assert net is not None
    rows = csv_rows(files["rides"])
    for row in rows:
        for end in ("origin", "destination"):
            node = int(row[end])
            assert float(row[f"{end}_lat"]) == pytest.approx(net.lat[node], abs=1e-6)
            assert float(row[f"{end}_lon"]) == pytest.approx(net.lon[node], abs=1e-6)
    # the columns the readers of the taxi rides.csv use are still there, first and unchanged
    first = "id origin destination request_time_s passengers share status reason vehicle pickup_s dropoff_s"
    assert list(rows[0])[:14] == [*first.split(), "direct_s", "shared", "fare_krw"]


def test_rides_csv_clock_columns(day: tuple[TaxiSimOutput, dict[str, Path]]) -> None:
    _, files = day
    seen = 0
    for row in csv_rows(files["rides"]):
        for key, col in (("requested", "request_time_s"), ("pickup", "pickup_s"), ("dropoff", "dropoff_s")):
            seconds = int(row[col])
            text = row[f"{key}_hhmm"]
            if seconds < 0:
                assert text == ""
                continue
            assert re.fullmatch(r"\d\d:\d\d", text)
            h, m = text.split(":")
            assert 0 <= seconds - (int(h) * 3600 + int(m) * 60) < 60
            assert 18 <= int(h) <= 19  # the half hour from 18:00 and what ran over
            seen += 1
    assert seen > 0


def test_without_recorded_paths_only_the_rides(
    day: tuple[TaxiSimOutput, dict[str, Path]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out, _ = day
    with caplog.at_level(logging.INFO, logger="sim.taxi_kpi"):
        files = write_taxi_report(dataclasses.replace(out, drive_nodes=None), tmp_path)
    assert "rides_geojson" in files and "tracks_geojson" not in files
    assert not (tmp_path / "tracks.geojson").exists() and "map" not in files
    assert "record_paths" in caplog.text


def test_benchmark_graph_writes_no_geojson(data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Manhattan's .xy graph has no lat/lon: no GeoJSON, empty lat/lon columns, a log line, no crash."""
    net = read_manhattan(data_dir / "rideshare" / "manhattan", time_unit_s=0.1)
    assert not net.has_lat_lon
    router = Router.from_network(net)
    rng = np.random.default_rng(4)
    nodes = rng.choice(net.num_nodes, (12, 2), replace=False)
    reqs = [
        TaxiRequest(id=f"r{i}", origin=int(o), destination=int(d), request_time_s=60 * i)
        for i, (o, d) in enumerate(nodes.tolist())
    ]
    fleet = [TaxiSpec(f"taxi{v}", int(n)) for v, n in enumerate(rng.choice(net.num_nodes, 4, replace=False))]
    params = PoolingParams(max_wait_s=600, rebalance=False, trip_time_budget_s=120.0, batch_deadline_s=120.0)
    out = simulate_taxis(net, router, fleet, reqs, params, start_s=0, end_s=900, record_paths=True)
    with caplog.at_level(logging.INFO, logger="sim.taxi_kpi"):
        files = write_taxi_report(out, tmp_path)
    assert not any(key.endswith("_geojson") for key in files)
    assert not list(tmp_path.glob("*.geojson"))
    assert "no geographic coordinates" in caplog.text
    assert files["map"].is_file()  # the map needs no lat/lon: it is drawn in the graph's metric coordinates
    rows = csv_rows(files["rides"])
    assert len(rows) == 12
    assert all(r["origin_lat"] == r["origin_lon"] == r["destination_lat"] == r["destination_lon"] == "" for r in rows)
    assert [r["requested_hhmm"] for r in rows] == [_hhmm_of(60 * i) for i in range(12)]


def test_map_png_draws_the_streets_driven(day: tuple[TaxiSimOutput, dict[str, Path]]) -> None:
    out, files = day
    assert files["map"].name == "map.png" and files["map"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mapped = taxi_map_day(out)
    assert out.drive_nodes is not None
    assert len(mapped.drives) == len(out.drive_nodes) == out.drives["vehicle"].size
    # the passengers carried along the streets: each street's riders, summed over the drives through it
    pairs, riders, _passes = street_loads(mapped)
    want: dict[tuple[int, int], int] = {}
    for nodes, onboard in zip(out.drive_nodes, out.drives["onboard"].tolist(), strict=True):
        for a, b in itertools.pairwise(nodes.tolist()):
            key = (min(a, b), max(a, b))
            want[key] = want.get(key, 0) + onboard
    assert dict(zip(map(tuple, pairs.tolist()), riders.tolist(), strict=True)) == want
    title = map_title_kpis(taxi_kpis(out))
    km = taxi_kpis(out)["vehicle_km"]
    assert title["distance"]["empty_share"] == pytest.approx((km["empty"] + km["rebalancing"]) / km["total"], abs=1e-3)


def test_only_days_of_a_bounded_size_keep_their_paths(data_dir: Path) -> None:
    """Paths cost memory per drive: a city-wide day keeps none (no tracks, no map), a zone's does."""
    from sim.scenario import load_scenario
    from sim.taxi import TRACKS_MAX_REQUESTS, keep_paths

    root = Path(__file__).resolve().parents[2] / "scenarios"
    dongjak = load_scenario(root / "imoa_dongjak.toml", data_dir=data_dir)
    manhattan = load_scenario(root / "imoa_manhattan.toml", data_dir=data_dir)
    assert dongjak.demand.total <= TRACKS_MAX_REQUESTS < manhattan.demand.total
    assert keep_paths(dongjak) and not keep_paths(manhattan)
