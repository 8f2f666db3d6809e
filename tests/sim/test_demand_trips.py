"""Trip files replayed: the Chicago taxi sample on the bundled map, and the trip-file options.

The expectations are recounted here from the CSV with the standard library (the clock time of
a unix timestamp is its remainder modulo a day; the sample's timestamps are Chicago clock
times written as UTC, so that ``trip_start_hour`` is that remainder's hour).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matching import point_in_polygon
from matching.deployment import ConfigError
from routing import synthetic_city
from sim.demand import generate
from sim.demand_sources import clock_time, on_the_day
from sim.scenario import Scenario, ScenarioError

CHICAGO = "demand/chicago_taxi_sample.csv"
CHICAGO_COLUMNS = {
    "time": "trip_start_timestamp",
    "origin_lat": "pickup_latitude",
    "origin_lon": "pickup_longitude",
    "destination_lat": "dropoff_latitude",
    "destination_lon": "dropoff_longitude",
}
#: A zone over part of the synthetic city below (lat, lon).
ZONE = [(37.405, 126.605), (37.405, 126.625), (37.420, 126.625), (37.420, 126.605)]


@pytest.fixture(scope="module")
def city() -> Any:
    """A synthetic grid near Incheon (37.4 N, 126.6 E), about 2.4 km across."""
    return synthetic_city(400, seed=1)


@pytest.fixture(scope="module")
def chicago_rows(data_dir: Path) -> list[dict[str, str]]:
    with open(data_dir / CHICAGO, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def scenario(
    data_dir: Path, demand: dict[str, Any], *, start: str = "07:00", end: str = "10:00", **extra: Any
) -> Scenario:
    doc: dict[str, Any] = {
        "scenario": {"name": "chi", "seed": 4, "start": start, "end": end},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},  # not loaded: the tests hand a network
        "demand": {"kind": "trips", **demand},
        **extra,
    }
    return Scenario.from_dict(doc, data_dir=data_dir)


def replay(data_dir: Path, city: Any, **demand: Any) -> Any:
    sc = scenario(data_dir, {"path": CHICAGO, "replay": "time_of_day", "columns": CHICAGO_COLUMNS, **demand})
    return generate(sc, 10, network=city)


def line_of(request_id: str) -> int:
    return int(request_id.rsplit("-", 1)[1]) + 1


def test_the_chicago_day_keeps_its_clock_times(
    data_dir: Path, city: Any, chicago_rows: list[dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    items = replay(data_dir, city, transplant=True)
    # the rows with coordinates and a start from 07:00 to 10:00, recounted
    expected = {}
    for line, row in enumerate(chicago_rows, start=2):
        t = int(row["trip_start_timestamp"]) % 86_400
        has_points = all(row[c] for c in CHICAGO_COLUMNS.values())
        if has_points and 7 * 3600 <= t < 10 * 3600:
            assert int(row["trip_start_hour"]) == t // 3600
            expected[line] = t
    assert len(items) == len(expected) > 1000
    for item in items:
        assert item.request.requested_time_s == expected[line_of(item.request.id)]
    assert "483 of the 15002 rows" in caplog.text and "have no coordinates" in caplog.text
    assert "first: line 2" in caplog.text  # the file's first row has none


def test_transplanted_points_lie_in_the_network_box_and_keep_their_layout(
    data_dir: Path, city: Any, chicago_rows: list[dict[str, str]]
) -> None:
    items = replay(data_dir, city, transplant=True)
    lat = np.array([[it.request.origin_lat, it.request.destination_lat] for it in items])
    lon = np.array([[it.request.origin_lon, it.request.destination_lon] for it in items])
    assert city.lat.min() <= lat.min() and lat.max() <= city.lat.max()
    assert city.lon.min() <= lon.min() and lon.max() <= city.lon.max()
    # affine: a trip's place in the source box is its place in the target box
    src_lat = [float(r[c]) for r in chicago_rows for c in ("pickup_latitude", "dropoff_latitude") if r[c]]
    lo, hi = min(src_lat), max(src_lat)
    first = items[0]
    row = chicago_rows[line_of(first.request.id) - 2]
    share = (float(row["pickup_latitude"]) - lo) / (hi - lo)
    target = city.lat.min() + share * (city.lat.max() - city.lat.min())
    assert first.request.origin_lat == pytest.approx(target, abs=1e-9)


def test_transplanted_onto_a_zone_every_trip_lies_in_it(data_dir: Path, city: Any) -> None:
    sc = scenario(
        data_dir,
        {"path": CHICAGO, "replay": "time_of_day", "columns": CHICAGO_COLUMNS, "transplant": True},
        service={"zone": [list(v) for v in ZONE]},
    )
    items = generate(sc, 10, network=city)
    assert len(items) > 1000
    lat = [v for it in items for v in (it.request.origin_lat, it.request.destination_lat)]
    lon = [v for it in items for v in (it.request.origin_lon, it.request.destination_lon)]
    assert point_in_polygon(lat, lon, ZONE).all()


def test_sample_and_limit_thin_the_day(data_dir: Path, city: Any) -> None:
    full = replay(data_dir, city, transplant=True)
    half = replay(data_dir, city, transplant=True, sample=0.5)
    assert abs(len(half) - len(full) / 2) < 4 * np.sqrt(len(full) / 4)
    assert {it.request.id for it in half} <= {it.request.id for it in full}
    few = replay(data_dir, city, transplant=True, limit=100)
    assert len(few) == 100
    hours = np.bincount([it.request.requested_time_s // 3600 for it in few], minlength=10)[7:10]
    assert hours.min() > 10  # drawn over the whole window, not the first rows of the file
    assert [it.request.id for it in few] == [it.request.id for it in replay(data_dir, city, transplant=True, limit=100)]


def test_without_transplant_chicago_lies_outside_a_seoul_zone(data_dir: Path, city: Any) -> None:
    sc = scenario(
        data_dir,
        {"path": CHICAGO, "replay": "time_of_day", "columns": CHICAGO_COLUMNS},
        service={"zone": [list(v) for v in ZONE]},
    )
    # every trip is left out (counted in a warning): a day of nothing is refused, pointing at transplant
    with pytest.raises(ScenarioError, match=r"^demand\.path: .* leaves no request for the day: .*transplant = true"):
        generate(sc, 10, network=city)


def test_bad_rows_are_counted_and_the_first_named(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "trips.csv"
    path.write_text(
        "when,o_lat,o_lon,d_lat,d_lon,passengers\n"
        "2016-05-01 08:15:00,37.51,127.10,37.52,127.11,1\n"
        "yesterday,37.51,127.10,37.52,127.11,1\n"
        "2016-05-01T08:30:00,37.51,127.10,37.52,127.11,two\n"
        "08:45,37.51,127.10,,,1\n"
        "1462091400,37.51,127.10,37.52,127.11,2\n",
        encoding="utf-8",
    )
    columns = {"time": "when", "origin_lat": "o_lat", "origin_lon": "o_lon", "destination_lat": "d_lat",
               "destination_lon": "d_lon"}  # fmt: skip
    sc = scenario(data_dir, {"path": str(path), "replay": "time_of_day", "columns": columns})
    items = generate(sc, 10)
    # 1462091400 is 2016-05-01 08:30:00 UTC
    assert sorted((it.request.requested_time_s, it.request.passengers) for it in items) == [
        (8 * 3600 + 15 * 60, 1),
        (8 * 3600 + 30 * 60, 2),
    ]
    assert "2 of the 5 rows" in caplog.text and "first: line 3" in caplog.text and "'yesterday'" in caplog.text
    assert "1 of the 5 rows" in caplog.text and "have no coordinates; skipped (first: line 5)" in caplog.text


def test_a_file_without_a_usable_row_is_one_error(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "trips.csv"
    path.write_text("time,origin_lat,origin_lon,destination_lat,destination_lon\n1462091400,37.5,127.1,37.5,127.2\n")
    with pytest.raises(ConfigError) as err:
        generate(scenario(data_dir, {"path": str(path)}), 10)  # replay = "clock" cannot read a timestamp
    assert err.value.field == "demand.path"
    assert "line 2" in str(err.value) and 'replay = "time_of_day"' in str(err.value)
    assert "\n" not in str(err.value)


def test_clock_times() -> None:
    assert clock_time("07:30", replay="clock") == 27_000
    assert clock_time("27000", replay="clock") == 27_000
    assert clock_time("25:00", replay="clock") == 90_000  # the service clock runs past midnight
    assert clock_time("1400269500", replay="time_of_day") == 1400269500 % 86_400
    assert clock_time("1400269500", replay="time_of_day", utc_offset_s=-5 * 3600) == (1400269500 - 18_000) % 86_400
    assert clock_time("2016-05-01T23:59:30+09:00", replay="time_of_day") == 86_370  # the clock as written
    assert clock_time("31:00", replay="time_of_day") == 7 * 3600
    with pytest.raises(ValueError):
        clock_time("1400269500", replay="clock")
    # a day running past midnight takes 00:30 as 24:30
    assert on_the_day(1800, 22 * 3600, 26 * 3600) == 88_200
    assert on_the_day(1800, 0, 3600) == 1800


def test_trips_by_stop_id_with_a_stop_file(tmp_path: Path, data_dir: Path) -> None:
    from tests.matching.test_deployment_inputs import grid_osm, write_stops_csv

    grid_osm(tmp_path / "grid.osm")
    write_stops_csv(tmp_path / "stops.csv")
    (tmp_path / "trips.csv").write_text("time,origin_stop,destination_stop\n08:00,S2,S4\n08:10,3,S1\n08:20,S9,S1\n")
    doc = {
        "scenario": {"name": "ids", "start": "07:00", "end": "10:00"},
        "network": {"kind": "osm", "path": "grid.osm"},
        "stops": {"kind": "csv", "path": "stops.csv"},
        "demand": {"kind": "trips", "path": "trips.csv"},
    }
    sc = Scenario.from_dict(doc, base=tmp_path)
    from matching.deployment import load_world

    net, _, stops = load_world(sc.deployment)
    items = generate(sc, len(stops), network=net, stops=stops)
    # S1..S4 are stops 0..3; "3" is an index; S9 is no stop (counted, skipped)
    assert [(it.request.origin_stop, it.request.destination_stop) for it in items] == [(1, 3), (3, 0)]


@pytest.mark.parametrize(
    ("demand", "field"),
    [
        ({"path": CHICAGO, "replay": "unix"}, "demand.replay"),
        ({"path": CHICAGO, "sample": 0}, "demand.sample"),
        ({"path": CHICAGO, "sample": 1.5}, "demand.sample"),
        ({"path": CHICAGO, "limit": 0}, "demand.limit"),
        ({"path": CHICAGO, "transplant": "yes"}, "demand.transplant"),
        ({"path": CHICAGO, "utc_offset_h": 20}, "demand.utc_offset_h"),
        ({"path": CHICAGO, "columns": {"start": "trip_start_timestamp"}}, "demand.columns.start"),
        ({"path": CHICAGO, "columns": ["time"]}, "demand.columns"),
        ({"path": CHICAGO, "exact": True}, "demand.exact"),
        ({}, "demand.path"),
    ],
)
def test_bad_trip_options_name_the_field(data_dir: Path, demand: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        scenario(data_dir, demand)
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_a_renamed_column_missing_from_the_file_is_named(data_dir: Path, city: Any) -> None:
    with pytest.raises(ConfigError) as err:
        replay(data_dir, city, columns={**CHICAGO_COLUMNS, "time": "start_time"})
    assert err.value.field == "demand.columns.time"
    assert "'start_time'" in str(err.value)


def test_transplant_trim_leaves_the_outliers_out(data_dir: Path, city: Any, caplog: pytest.LogCaptureFixture) -> None:
    full = replay(data_dir, city, transplant=True)
    trimmed = replay(data_dir, city, transplant=True, transplant_trim=0.05)
    assert 0.5 * len(full) < len(trimmed) < len(full)
    assert {it.request.id for it in trimmed} < {it.request.id for it in full}
    assert "have an end outside the trimmed box" in caplog.text
    lat = np.array([v for it in trimmed for v in (it.request.origin_lat, it.request.destination_lat)])
    assert city.lat.min() <= lat.min() and lat.max() <= city.lat.max()
    # the trimmed box is smaller, so the centre spreads wider: the points' spread grows
    lat_full = np.array([v for it in full for v in (it.request.origin_lat, it.request.destination_lat)])
    assert lat.std() > 1.5 * lat_full.std()
    with pytest.raises(ConfigError, match=r"demand\.transplant_trim"):
        scenario(data_dir, {"path": CHICAGO, "transplant_trim": 0.05})


def test_the_run_seed_draws_the_sample(data_dir: Path, city: Any) -> None:
    sc = scenario(data_dir, {"path": CHICAGO, "replay": "time_of_day", "columns": CHICAGO_COLUMNS, "limit": 50})
    ids = [{it.request.id for it in generate(sc, 10, seed=s, network=city)} for s in (4, 4, 5)]
    assert ids[0] == ids[1] != ids[2]
