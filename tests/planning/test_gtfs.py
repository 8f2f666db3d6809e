"""GTFS out and in: a Mandl feed read back by gtfs_kit and onto the same route set; a
hand-made city feed snapped onto a small problem; bad feeds and paths in one line."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import gtfs_kit
import numpy as np
import pytest

from planning import RouteRules, TransitProblem, read_cec, read_published_route_sets
from planning.errors import InvalidArgumentError, PlanningFileError
from planning.frequencies import set_frequencies
from planning.gtfs import SYNTHETIC_ORIGIN, node_lat_lon, read_gtfs_routes, write_gtfs

INF = np.inf

#: Required files of a static GTFS feed and the fields each must have (GTFS reference), plus
#: the optional files this writer adds with their required fields.
REQUIRED = {
    "agency.txt": {"agency_name", "agency_url", "agency_timezone"},
    "stops.txt": {"stop_id", "stop_lat", "stop_lon"},
    "routes.txt": {"route_id", "route_type"},
    "trips.txt": {"route_id", "service_id", "trip_id"},
    "stop_times.txt": {"trip_id", "stop_id", "stop_sequence", "arrival_time", "departure_time"},
    "calendar.txt": {"service_id", "monday", "sunday", "start_date", "end_date"},
    "frequencies.txt": {"trip_id", "start_time", "end_time", "headway_secs"},
    "shapes.txt": {"shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"},
}


def seconds(hhmmss: str) -> int:
    h, m, s = (int(v) for v in hhmmss.split(":"))
    return h * 3600 + m * 60 + s


def read_tables(path: Path) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(path) as z:
        return {n: list(csv.DictReader(io.StringIO(z.read(n).decode("utf-8")))) for n in z.namelist()}


def check_feed(path: Path) -> list[str]:
    """The GTFS reference's rules this feed could break, checked on the raw files."""
    problems: list[str] = []
    tables = read_tables(path)
    for name, fields in REQUIRED.items():
        if name not in tables or not tables[name]:
            problems.append(f"{name} missing or empty")
        elif not fields <= set(tables[name][0]):
            problems.append(f"{name}: missing {sorted(fields - set(tables[name][0]))}")
    if problems:
        return problems
    stops = {r["stop_id"] for r in tables["stops.txt"]}
    routes = {r["route_id"] for r in tables["routes.txt"]}
    services = {r["service_id"] for r in tables["calendar.txt"]}
    trips = {r["trip_id"] for r in tables["trips.txt"]}
    shapes = {r["shape_id"] for r in tables["shapes.txt"]}
    for r in tables["stops.txt"]:
        if not (-90 <= float(r["stop_lat"]) <= 90 and -180 <= float(r["stop_lon"]) <= 180):
            problems.append(f"stop {r['stop_id']}: coordinates out of range")
    for r in tables["routes.txt"]:
        if r["route_type"] != "3" or not (r.get("route_short_name") or r.get("route_long_name")):
            problems.append(f"route {r['route_id']}: type or name")
    for r in tables["trips.txt"]:
        if r["route_id"] not in routes or r["service_id"] not in services or r.get("shape_id") not in shapes:
            problems.append(f"trip {r['trip_id']}: unknown route, service or shape")
    by_trip: dict[str, list[dict[str, str]]] = {}
    for r in tables["stop_times.txt"]:
        if r["stop_id"] not in stops or r["trip_id"] not in trips:
            problems.append(f"stop_time {r}: unknown stop or trip")
        by_trip.setdefault(r["trip_id"], []).append(r)
    for trip, rows in by_trip.items():
        seq = [int(r["stop_sequence"]) for r in rows]
        t = [seconds(r["departure_time"]) for r in rows]
        if seq != sorted(set(seq)) or t != sorted(t) or len(rows) < 2:
            problems.append(f"trip {trip}: stop_sequence or times not increasing")
    if set(by_trip) != trips:
        problems.append("a trip without stop_times")
    for r in tables["frequencies.txt"]:
        if (
            r["trip_id"] not in trips
            or int(r["headway_secs"]) <= 0
            or seconds(r["end_time"]) <= seconds(r["start_time"])
        ):
            problems.append(f"frequency {r}: bad")
    for r in tables["calendar.txt"]:
        if r["end_date"] < r["start_date"]:
            problems.append("calendar: end before start")
    return problems


@pytest.fixture(scope="module")
def mandl(data_dir: Path) -> TransitProblem:
    return read_cec(data_dir / "tndp" / "Mandl")


@pytest.fixture(scope="module")
def mandl_routes(data_dir: Path) -> list[list[int]]:
    sets = read_published_route_sets(data_dir / "tndp" / "literature" / "mandl_published_route_sets.txt")
    return next(rs for _, rs in sets if len(rs) == 6)


def canonical(routes) -> list[tuple[int, ...]]:
    return [min(tuple(int(v) for v in r), tuple(int(v) for v in r[::-1])) for r in routes]


def test_mandl_round_trip(tmp_path: Path, mandl: TransitProblem, mandl_routes) -> None:
    freq = set_frequencies(mandl, mandl_routes, fleet=35)
    path = write_gtfs(tmp_path / "out" / "mandl.zip", mandl, mandl_routes, freq)
    assert path.is_file()
    assert check_feed(path) == []
    feed = gtfs_kit.read_feed(path, dist_units="km")
    quality = dict(zip(feed.assess_quality()["indicator"], feed.assess_quality()["value"], strict=True))
    assert quality["assessment"] == "good feed"
    if hasattr(feed, "validate"):  # gtfs_kit versions before 10 had a validator
        report = feed.validate()
        assert not (report["type"] == "error").any(), report
    assert len(feed.routes) == 6 and len(feed.trips) == 12
    # stop times follow the link times, both ways
    st = feed.stop_times[feed.stop_times["trip_id"] == "R1_1"].sort_values("stop_sequence")
    r = np.array(mandl_routes[0][::-1])
    expect = np.concatenate([[0], np.cumsum(mandl.link_time_min[r[:-1], r[1:]])]) * 60
    got = np.array([seconds(s) for s in st["departure_time"]]) - 6 * 3600
    np.testing.assert_allclose(got, np.round(expect))
    assert list(st["stop_id"]) == [mandl.node_ids[v] for v in r]
    # frequencies: the expanded feed runs each trip every headway from 06:00 to 22:00
    expanded = feed.expand_frequencies()
    span = 16 * 3600
    want = sum(2 * int(np.ceil(span / round(h * 60))) for h in freq.headway_min)
    assert len(expanded.trips) == want
    # synthetic positions, said so
    lat, _, synthetic = node_lat_lon(mandl)
    assert synthetic and abs(float(lat.mean()) - SYNTHETIC_ORIGIN[0]) < 0.1
    assert feed.stops["stop_desc"].str.contains("synthetic").all()
    # and back onto the same routes and headways
    routes, headway = read_gtfs_routes(path, mandl)
    assert [list(map(int, r)) for r in routes] == mandl_routes
    np.testing.assert_allclose(headway, np.round(freq.headway_min * 60) / 60, atol=1e-9)


def city() -> TransitProblem:
    """Five nodes on a street grid near Seoul: 0-1-2-3 along a street, 1-4 a side street."""
    t = np.full((5, 5), INF)
    for a, b, m in [(0, 1, 2.0), (1, 2, 3.0), (2, 3, 2.5), (1, 4, 4.0)]:
        t[a, b] = t[b, a] = m
    lat = np.array([37.500, 37.500, 37.500, 37.500, 37.510])
    lon = np.array([127.000, 127.010, 127.020, 127.030, 127.010])
    d = np.ones((5, 5))
    return TransitProblem(
        "city", t, d, (lon - 127) * 88_000, (lat - 37.5) * 111_000, RouteRules(num_routes=2),
        node_ids=("a", "b", "c", "d", "e"), lat=lat, lon=lon,
    )  # fmt: skip


def write_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text.strip() + "\n")
    return path


CITY_FEED = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\nX,X,https://example.org,Asia/Seoul",
    # s1 and s1b both near node a; s3 near c; s5 near d; far is 2 km from everything; s9 near e
    "stops.txt": """stop_id,stop_name,stop_lat,stop_lon
s1,A,37.5001,127.0001
s1b,A2,37.4999,127.0003
s3,C,37.5002,127.0199
far,Far,37.52,127.05
s5,D,37.5000,127.0301
s9,E,37.5099,127.0100""",
    "routes.txt": "route_id,route_short_name,route_type\nL1,1,3\nL2,2,3\nL3,3,3",
    # L1 weekday trips every 10 min (and one weekend trip), its return trips every 15 min;
    # L2 a pattern e -> a (b missing: joined over the link) every 30 min by frequencies.txt;
    # L3 only touches "far": skipped
    "trips.txt": """route_id,service_id,trip_id,direction_id
L1,WK,t1,0
L1,WK,t2,0
L1,WK,t3,0
L1,WK,t4,1
L1,WK,t5,1
L1,WE,t6,0
L2,WK,u1,0
L3,WK,v1,0""",
    "stop_times.txt": """trip_id,arrival_time,departure_time,stop_id,stop_sequence
t1,07:00:00,07:00:00,s1,1
t1,07:01:00,07:01:00,s1b,2
t1,07:05:00,07:05:00,s3,3
t1,07:06:00,07:06:00,far,4
t1,07:08:00,07:08:00,s5,5
t2,07:10:00,07:10:00,s1,1
t2,07:15:00,07:15:00,s3,2
t2,07:18:00,07:18:00,s5,3
t3,07:20:00,07:20:00,s1,1
t3,07:25:00,07:25:00,s3,2
t3,07:28:00,07:28:00,s5,3
t4,08:00:00,08:00:00,s5,1
t4,08:03:00,08:03:00,s3,2
t4,08:08:00,08:08:00,s1,3
t5,08:15:00,08:15:00,s5,1
t5,08:18:00,08:18:00,s3,2
t5,08:23:00,08:23:00,s1,3
t6,09:00:00,09:00:00,s1,1
t6,09:05:00,09:05:00,s3,2
u1,06:00:00,06:00:00,s9,1
u1,06:07:00,06:07:00,s1,2
v1,06:00:00,06:00:00,far,1
v1,06:10:00,06:10:00,far,2""",
    "frequencies.txt": "trip_id,start_time,end_time,headway_secs\nu1,06:00:00,08:00:00,1800",
    "calendar.txt": """service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date
WK,1,1,1,1,1,0,0,20260105,20260130
WE,0,0,0,0,0,1,1,20260105,20260130""",
}


def test_city_feed_snapped_merged_joined(tmp_path: Path) -> None:
    p = city()
    path = write_zip(tmp_path / "city.zip", CITY_FEED)
    skipped: list[str] = []
    routes, headway = read_gtfs_routes(path, p, max_snap_m=300, progress=skipped.append)
    got = [[p.node_ids[v] for v in r] for r in routes]
    # L1: a, c, d after snapping (s1b merged into a, far dropped), b and c joined over the links
    assert got == [["a", "b", "c", "d"], ["e", "b", "a"]]
    # L1's direction 0: 07:00, 07:10, 07:20 -> 10 min (the weekend trip does not run on the busiest day)
    np.testing.assert_allclose(headway, [10.0, 30.0])
    assert skipped[0] == "5 of 6 stops within 300 m of a planning node"
    assert len(skipped) == 2 and skipped[1].startswith("route L3: fewer than 2 stops")


def test_snapping_distance_is_honoured(tmp_path: Path) -> None:
    p = city()
    path = write_zip(tmp_path / "city.zip", CITY_FEED)
    # 5 m: only stops placed within a few metres of a node count (s1 is 14 m off, s3 23 m)
    with pytest.raises(PlanningFileError, match=r"city\.zip: no route has 2 or more stops within 5 m"):
        read_gtfs_routes(path, p, max_snap_m=5)


def test_city_round_trip_with_real_coordinates(tmp_path: Path) -> None:
    p = city()
    routes = [[0, 1, 2, 3], [4, 1, 0]]
    freq = set_frequencies(p, routes, fleet=5, layover_min=3.0)
    path = write_gtfs(tmp_path / "c.zip", p, routes, freq, route_names=["Blue", "Red"], timezone="Asia/Seoul")
    assert check_feed(path) == []
    feed = gtfs_kit.read_feed(path, dist_units="km")
    assert list(feed.routes["route_short_name"]) == ["Blue", "Red"]
    np.testing.assert_allclose(feed.stops.sort_values("stop_id")["stop_lat"], p.lat)
    assert feed.stops["stop_desc"].isna().all()
    back, headway = read_gtfs_routes(path, p)
    assert canonical(back) == canonical(routes)
    np.testing.assert_allclose(headway, np.round(freq.headway_min * 60) / 60)


def test_bad_feeds_give_one_line(tmp_path: Path, mandl: TransitProblem) -> None:
    with pytest.raises(PlanningFileError, match=r"nothere\.zip: file not found"):
        read_gtfs_routes(tmp_path / "nothere.zip", mandl)
    junk = tmp_path / "junk.zip"
    junk.write_text("this is not a zip")
    with pytest.raises(PlanningFileError) as exc:
        read_gtfs_routes(junk, mandl)
    assert str(exc.value).startswith(str(junk)) and "\n" not in str(exc.value)
    partial = write_zip(tmp_path / "partial.zip", {k: v for k, v in CITY_FEED.items() if k != "stop_times.txt"})
    with pytest.raises(PlanningFileError, match=r"partial\.zip: no stop_times\.txt"):
        read_gtfs_routes(partial, mandl)
    with pytest.raises(InvalidArgumentError, match=r"^max_snap_m"):
        read_gtfs_routes(partial, mandl, max_snap_m=0)


def test_bad_writes_give_one_line(tmp_path: Path, mandl: TransitProblem, mandl_routes) -> None:
    freq = set_frequencies(mandl, mandl_routes, fleet=35)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PlanningFileError, match=r"file/feed\.zip: cannot write the feed"):
        write_gtfs(blocker / "feed.zip", mandl, mandl_routes, freq)
    with pytest.raises(InvalidArgumentError, match=r"^service_end"):
        write_gtfs(tmp_path / "f.zip", mandl, mandl_routes, freq, service_end="05:00:00")
    with pytest.raises(InvalidArgumentError, match=r"^service_start"):
        write_gtfs(tmp_path / "f.zip", mandl, mandl_routes, freq, service_start="6 am")
    with pytest.raises(InvalidArgumentError, match=r"^frequencies"):
        write_gtfs(tmp_path / "f.zip", mandl, mandl_routes[:5], freq)
    with pytest.raises(InvalidArgumentError, match=r"^route_names"):
        write_gtfs(tmp_path / "f.zip", mandl, mandl_routes, freq, route_names=["A"] * 6)


def test_headway_over_frequency_periods(tmp_path: Path) -> None:
    p = city()
    files = dict(CITY_FEED)
    # L2 every 10 min from 06:00 to 09:00 (18 departures), then every 20 min to 16:00 (21 more)
    files["frequencies.txt"] = (
        "trip_id,start_time,end_time,headway_secs\nu1,06:00:00,09:00:00,600\nu1,09:00:00,16:00:00,1200"
    )
    _, headway = read_gtfs_routes(write_zip(tmp_path / "f.zip", files), p)
    assert headway[1] == pytest.approx((9 * 60 + 40) / 38)  # first 06:00, last 15:40


def test_unjoinable_stops_give_one_line(tmp_path: Path) -> None:
    p = city()
    t = p.link_time_min.copy()
    t[1, 4] = t[4, 1] = INF  # node e cut off
    cut = TransitProblem("cut", t, p.demand, p.x, p.y, p.rules, node_ids=p.node_ids, lat=p.lat, lon=p.lon)
    with pytest.raises(PlanningFileError, match=r"city\.zip: route L2: stops at nodes e and a are not joined by links"):
        read_gtfs_routes(write_zip(tmp_path / "city.zip", CITY_FEED), cut)


def test_nodes_sharing_a_position_keep_their_stops(tmp_path: Path) -> None:
    p = city()
    lat, lon = p.lat.copy(), p.lon.copy()
    lat[4], lon[4] = lat[1], lon[1]  # e drawn on top of b (some benchmark nodes share coordinates)
    same = TransitProblem("same", p.link_time_min, p.demand, p.x, p.y, p.rules, node_ids=p.node_ids, lat=lat, lon=lon)
    routes = [[0, 1, 2, 3], [2, 1, 4]]
    freq = set_frequencies(same, routes, fleet=5)
    back, _ = read_gtfs_routes(write_gtfs(tmp_path / "s.zip", same, routes, freq), same)
    assert [list(map(int, r)) for r in back] == routes
