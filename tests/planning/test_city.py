"""A real city as a planning problem (planning.city, planning.od, planning.stops_io).

The bundled Jamsil and Dongjak extracts (read from ../shared/data, cached in a temporary folder
by tests/conftest.py) and small hand-made stops / OD / GTFS files in tests/planning/data.
Link times are checked against plain Dijkstra on the road network (routing.dijkstra_one_to_one),
the link pruning against scipy's shortest paths, the OD aggregation against a plain loop over
the CSV.
"""

from __future__ import annotations

import csv
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

import routing
from planning import PlanningFileError, RouteRules, read_cec
from planning.city import (
    MIN_OSM_STOPS,
    CityBuild,
    build_city,
    city_problem,
    cluster_points,
    load_city,
    load_problem,
)
from planning.errors import InvalidArgumentError
from planning.od import gravity_demand, parse_time_of_day, read_od
from planning.stops_io import read_stops

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
RULES = RouteRules(num_routes=3, min_stops=3, max_stops=8)
DETOUR = 0.15  # build_city's default


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.strip() == text and text
    return text


@pytest.fixture(scope="module")
def jamsil_csv(jamsil_net: routing.RoadNetwork) -> CityBuild:
    return build_city(jamsil_net, rules=RULES, stops=DATA / "jamsil_stops.csv", od=DATA / "od_stops.csv")


@pytest.fixture(scope="module")
def bundled(data_dir: Path, jamsil_net: routing.RoadNetwork, dongjak_net: routing.RoadNetwork) -> dict[str, CityBuild]:
    return {
        "jamsil": load_city(REPO / "scenarios" / "plan_jamsil.toml", data_dir=data_dir),
        "dongjak": load_city(REPO / "scenarios" / "plan_dongjak.toml", data_dir=data_dir),
    }


# ---------------------------------------------------------------------------- the bundled cities
def test_bundled_extracts_have_no_osm_bus_stops_and_say_so(jamsil_net, dongjak_net):
    for net in (jamsil_net, dongjak_net):
        assert net.osm_stop_id.size < MIN_OSM_STOPS
        with pytest.raises(InvalidArgumentError) as exc:
            city_problem(net, rules=RULES, stops="osm")
        text = one_line(exc)
        assert f"has {net.osm_stop_id.size} OSM bus stops" in text and 'stops="virtual"' in text


@pytest.mark.parametrize("city", ["jamsil", "dongjak"])
def test_bundled_city_graph(bundled, city):
    b = bundled[city]
    p = b.problem
    net = b.network
    vs = routing.virtual_stops(net, spacing_m=300)
    # Every virtual stop is kept (they are road nodes), and the nodes aggregate them.
    assert b.stops_read == len(vs) and b.stops_far == 0 and len(b.stops) == len(vs)
    assert 10 <= p.num_nodes <= len(vs)
    assert sorted(s for held in b.node_stops for s in held) == sorted(b.stops.ids)
    assert p.connected
    assert p.node_ids == tuple(f"N{i + 1}" for i in range(p.num_nodes))
    assert np.all(np.isfinite(p.lat)) and np.all(np.isfinite(p.lon))
    assert np.array_equal(p.x, net.x_m[b.road_node]) and np.array_equal(p.lat, net.lat[b.road_node])
    assert len(set(b.road_node.tolist())) == p.num_nodes
    degree = (np.isfinite(p.link_time_min).sum(axis=1) - 1).astype(int)
    assert degree.min() >= 1
    assert 2.0 <= degree.mean() <= 6.0, degree.mean()
    assert "synthetic gravity model" in p.source and "virtual stops" in p.source


@pytest.mark.parametrize("city", ["jamsil", "dongjak"])
def test_link_times_are_road_shortest_paths(bundled, city):
    b = bundled[city]
    p, net = b.problem, b.network
    links = p.links
    assert len(links) >= p.num_nodes - 1
    for i, j in links:
        a, c = int(b.road_node[i]), int(b.road_node[j])
        there = routing.dijkstra_one_to_one(net, a, c)
        back = routing.dijkstra_one_to_one(net, c, a)
        assert p.link_time_min[i, j] == pytest.approx((there + back) / 120.0, abs=1e-12)
        assert p.link_time_min[j, i] == p.link_time_min[i, j]
    # Plausible at city speeds: straight-line speed between linked nodes 5..80 km/h.
    t = p.link_time_min[links[:, 0], links[:, 1]]
    dist_km = np.hypot(*(np.array([p.x, p.y])[:, links[:, 0]] - np.array([p.x, p.y])[:, links[:, 1]])) / 1000
    kph = dist_km / (t / 60.0)
    assert kph.min() > 5.0 and kph.max() < 80.0, (kph.min(), kph.max())
    assert 15.0 < float(np.median(kph)) < 60.0


@pytest.mark.parametrize("city", ["jamsil", "dongjak"])
def test_links_join_neighbours_only(bundled, city):
    """No kept link i-j has a path over shorter kept links within (1 + detour) t_ij (in particular
    no node k with t_ik + t_kj <= (1 + detour) t_ij), and every node reaches its nearest node by
    road time within that factor over the planning graph."""
    p = bundled[city].problem
    t = p.link_time_min
    finite = np.isfinite(t) & ~np.eye(p.num_nodes, dtype=bool)
    for i, j in p.links:
        shorter = finite & (t < t[i, j])
        w = np.where(shorter, t, 0.0)
        d = shortest_path(csr_matrix(w), directed=False, indices=[int(i)])[0, j]
        assert d > (1 + DETOUR) * t[i, j]
    road = np.array(
        [[routing.dijkstra_one_to_one(bundled[city].network, int(a), int(c)) for c in bundled[city].road_node]
         for a in bundled[city].road_node], np.float64,
    )  # fmt: skip
    mean_min = (road + road.T) / 120.0
    np.fill_diagonal(mean_min, np.inf)
    nearest = mean_min.argmin(axis=1)
    graph = p.shortest_time_min
    for i, j in enumerate(nearest):
        assert graph[i, j] <= (1 + DETOUR) * mean_min[i, j] + 1e-9


def test_bundled_specs_load_through_load_problem(bundled, data_dir):
    p = load_problem(REPO / "scenarios" / "plan_dongjak.toml", data_dir=data_dir, num_routes=7)
    assert p.rules.num_routes == 7 and p.rules.max_stops == bundled["dongjak"].problem.rules.max_stops
    assert np.array_equal(p.demand, bundled["dongjak"].problem.demand)
    with pytest.MonkeyPatch.context() as mp:  # the data folder from the environment, as the CLI's
        mp.setenv("MOBILITY_DATA_DIR", str(data_dir))
        assert load_problem(REPO / "scenarios" / "plan_jamsil.toml").num_nodes == bundled["jamsil"].problem.num_nodes
    cec = load_problem(data_dir / "tndp" / "Mandl")
    assert cec.num_nodes == read_cec(data_dir / "tndp" / "Mandl").num_nodes == 15


# ---------------------------------------------------------------------------- stops and nodes
def test_csv_stops_aggregate_within_cluster_m(jamsil_csv, jamsil_net):
    b = jamsil_csv
    # 15 stops, one outside the extract; three pairs of stops some 50 m apart.
    assert b.stops_read == 15 and b.stops_far == 1 and "24199" not in b.stops.ids
    assert b.problem.num_nodes == 11
    held = {s: k for k, stops in enumerate(b.node_stops) for s in stops}
    for a, c in (("24101", "24102"), ("24104", "24105"), ("24110", "24111")):
        assert held[a] == held[c]
    assert len({held[s] for s in ("24101", "24103", "24107", "24112", "24114")}) == 5
    assert b.node_names[held["24101"]] == "Jamsil Station"
    # Each node sits on the road node nearest the mean position of its stops.
    x, y = routing.snapping.project(jamsil_net, b.stops.lat, b.stops.lon)
    for k, stops in enumerate(b.node_stops):
        idx = [b.stops.ids.index(s) for s in stops]
        cx, cy = x[idx].mean(), y[idx].mean()
        d = np.hypot(jamsil_net.x_m - cx, jamsil_net.y_m - cy)
        assert d[b.road_node[k]] == pytest.approx(d.min())


def test_cluster_points_against_its_definition():
    rng = np.random.default_rng(7)
    for n, radius in ((1, 50.0), (200, 0.0), (300, 150.0), (300, 400.0)):
        xy = np.concatenate([rng.uniform(0, 3000, (n, 2)), rng.normal(1500, 60, (n // 3, 2))])
        label, leaders = cluster_points(xy[:, 0], xy[:, 1], radius)
        assert label.shape == (len(xy),) and set(label.tolist()) == set(range(len(leaders)))
        assert np.array_equal(label[leaders], np.arange(len(leaders)))
        d = np.hypot(*(xy[:, None, :] - xy[leaders][None, :, :]).transpose(2, 0, 1))  # point x leader
        for p in range(len(xy)):
            c = label[p]
            assert d[p, c] <= radius + 1e-9
            assert np.all(d[p, :c] > radius)  # not within reach of an earlier leader
        again, _ = cluster_points(xy[:, 0].copy(), xy[:, 1].copy(), radius)
        assert np.array_equal(again, label)


def test_cluster_radius_sets_the_nodes(jamsil_net):
    stops = routing.virtual_stops(jamsil_net, spacing_m=150)
    counts = []
    for radius in (0.0, 200.0, 600.0):
        b = build_city(jamsil_net, rules=RULES, stops="virtual", stop_spacing_m=150, cluster_m=radius)
        counts.append(b.problem.num_nodes)
        if radius == 0:  # one node per road node, and virtual stops are road nodes
            assert b.problem.num_nodes == len(stops)
            assert all(len(held) == 1 for held in b.node_stops)
    assert counts[0] > counts[1] > counts[2]


def test_gtfs_folder_and_zip_give_the_csv_stops(jamsil_csv, jamsil_net, tmp_path):
    feed = read_stops(DATA / "jamsil_gtfs")
    assert "S1" not in feed.ids  # a station (location_type 1) is not a stop
    zipped = tmp_path / "feed.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        z.write(DATA / "jamsil_gtfs" / "stops.txt", "stops.txt")
    nested = tmp_path / "nested.zip"  # stops.txt in a folder; the other tables are not read
    with zipfile.ZipFile(nested, "w") as z:
        z.write(DATA / "jamsil_gtfs" / "stops.txt", "feed/stops.txt")
        z.writestr("feed/stop_times.txt", b"\xff\xfe not a table \x00" * 100)
    for source in (DATA / "jamsil_gtfs", zipped, nested):
        b = build_city(jamsil_net, rules=RULES, stops=source, od=DATA / "od_stops.csv")
        assert b.node_stops == jamsil_csv.node_stops
        assert b.node_names == jamsil_csv.node_names
        assert np.array_equal(b.problem.link_time_min, jamsil_csv.problem.link_time_min)
        assert np.array_equal(b.problem.demand, jamsil_csv.problem.demand)
        assert "GTFS feed" in b.problem.source


def test_stops_csv_header_aliases_and_dialects(tmp_path):
    text = (DATA / "jamsil_stops.csv").read_text()
    korean = text.replace("stop_id,lat,lon,name", "정류소ID;위도;경도;정류소명").replace(",", ";")
    p = tmp_path / "kr.csv"
    p.write_bytes(korean.encode("cp949"))
    a, b = read_stops(DATA / "jamsil_stops.csv"), read_stops(p)
    assert a.ids == b.ids and a.names == b.names
    assert np.array_equal(a.lat, b.lat) and np.array_equal(a.lon, b.lon)


# ---------------------------------------------------------------------------- demand
def _expected_by_stop(build: CityBuild, path: Path) -> tuple[np.ndarray, float]:
    node = {s: k for k, held in enumerate(build.node_stops) for s in held}
    n = build.problem.num_nodes
    want = np.zeros((n, n))
    total = 0.0
    with open(path, newline="") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            total += float(row["count"])
            o, d = node.get(row["origin"]), node.get(row["destination"])
            if o is not None and d is not None and o != d:
                want[o, d] += float(row["count"])
    return want, total


def test_od_by_stop_ids(jamsil_csv):
    b = jamsil_csv
    want, total = _expected_by_stop(b, DATA / "od_stops.csv")
    assert np.array_equal(b.problem.demand, want)
    assert b.trips_read == total == 570
    assert b.trips_dropped == {"unknown stop id": 10, "stop not in the planning graph": 5, "within one node": 30}
    assert b.trips_kept + sum(b.trips_dropped.values()) == total
    assert "od_stops.csv" in b.problem.source and "synthetic" not in b.problem.source


def test_od_as_a_korean_transit_card_export(jamsil_csv, tmp_path):
    """One row per tap (no count column), Korean headers, CP949: the same table as od_stops.csv."""
    rows = ["승차정류장ID,하차정류장ID,승차시간"]
    for line in (DATA / "od_stops.csv").read_text().splitlines()[2:]:
        o, d, count, t = line.split(",")
        rows += [f"{o},{d},2024-11-01 {t}:00"] * int(count)
    p = tmp_path / "card.csv"
    p.write_bytes("\n".join(rows).encode("cp949"))
    table = read_od(p)
    assert len(table) == table.total == 570 and table.time_s is not None
    b = build_city(jamsil_csv.network, rules=RULES, stops=DATA / "jamsil_stops.csv", od=p)
    assert np.array_equal(b.problem.demand, jamsil_csv.problem.demand)
    assert b.trips_dropped == jamsil_csv.trips_dropped


def test_od_time_window(jamsil_net):
    b = build_city(
        jamsil_net, rules=RULES, stops=DATA / "jamsil_stops.csv", od=DATA / "od_stops.csv",
        od_window=("07:00", "09:00"),
    )  # fmt: skip
    morning = read_od(DATA / "od_stops.csv", window=("07:00", "09:00"))
    assert b.trips_read == morning.total == 120 + 80 + 60 + 30 + 10 + 5 + 25
    assert b.trips_kept == 120 + 80 + 60 + 25
    assert parse_time_of_day("2024-11-01T07:35:00") == parse_time_of_day("07:35") == 7 * 3600 + 35 * 60
    assert parse_time_of_day("7.5") == 7.5 * 3600


def test_od_by_position_matches_od_by_stop(jamsil_csv, jamsil_net):
    b = build_city(jamsil_net, rules=RULES, stops=DATA / "jamsil_stops.csv", od=DATA / "od_points.csv")
    # The points lie within 40 m of the stops of od_stops.csv's rows (same counts), but for the
    # rows with an unknown stop and with the stop outside the extract; one trip goes to a point
    # far from every stop.
    assert np.array_equal(b.problem.demand, jamsil_csv.problem.demand)
    assert b.trips_dropped == {"farther than 500 m from a stop": 10, "within one node": 30}
    tight = build_city(
        jamsil_net, rules=RULES, stops=DATA / "jamsil_stops.csv", od=DATA / "od_points.csv", max_walk_m=10
    )
    assert tight.trips_kept < b.trips_kept


def test_gravity_model_is_seeded_and_keeps_its_total(jamsil_net):
    kw = {"rules": RULES, "stops": "virtual", "gravity_trips": 5000}
    a = build_city(jamsil_net, seed=3, **kw).problem
    b = build_city(jamsil_net, seed=3, **kw).problem
    c = build_city(jamsil_net, seed=4, **kw).problem
    assert np.array_equal(a.demand, b.demand) and not np.array_equal(a.demand, c.demand)
    assert a.total_demand == c.total_demand == 5000
    assert np.all(a.demand == np.round(a.demand)) and np.all(np.diag(a.demand) == 0)
    assert "synthetic gravity model" in a.source and "seed 3" in a.source
    default = build_city(jamsil_net, rules=RULES, stops="virtual").problem
    assert default.total_demand == 500 * default.num_nodes


def test_gravity_decay_shortens_trips():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 10_000, (30, 2))
    t = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 500.0  # 30 km/h, minutes
    w = rng.uniform(1, 5, 30)

    def mean_time(decay: float) -> float:
        d = gravity_demand(w, t, trips=200_000, decay_min=decay, seed=1)
        return float((d * t).sum() / d.sum())

    assert mean_time(2.0) < mean_time(10.0) < mean_time(100.0)
    far = np.full((3, 3), np.inf)
    np.fill_diagonal(far, 0)
    with pytest.raises(InvalidArgumentError):
        gravity_demand(np.ones(3), far, trips=10)


# ---------------------------------------------------------------------------- bad input: one line each
BAD_STOPS = {
    "no_lat.csv": ("stop_id,lon\n1,127.1\n", "no latitude column"),
    "bad_number.csv": ("stop_id,lat,lon\n1,37.51,127.1\n2,north,127.1\n", "line 3: latitude 'north'"),
    "duplicate.csv": ("id,lat,lon\n7,37.51,127.1\n7,37.52,127.1\n", "line 3: stop id '7' repeats line 2"),
    "empty.csv": ("", "empty file"),
    "header_only.csv": ("stop_id,lat,lon\n", "no stops"),
    "short_row.csv": ("stop_id,lat,lon\n1,37.5\n", "line 2: 2 fields"),
    "not_degrees.csv": ("stop_id,lat,lon\n1,4150000,320000\n", "not a latitude/longitude"),
    "swapped.csv": ("stop_id,lat,lon\n1,127.106669,37.515456\n", "are the latitude and longitude swapped"),
}


@pytest.mark.parametrize("name", sorted(BAD_STOPS))
def test_bad_stops_file(jamsil_net, tmp_path, name):
    text, expected = BAD_STOPS[name]
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(PlanningFileError) as exc:
        build_city(jamsil_net, rules=RULES, stops=p)
    msg = one_line(exc)
    assert str(p) in msg and expected in msg, msg


def test_bad_stops_sources(jamsil_net, tmp_path):
    binary = tmp_path / "stops.bin"
    binary.write_bytes(b"\x00\x01\x02" * 10)
    nozip = tmp_path / "feed.zip"
    with zipfile.ZipFile(nozip, "w") as z:
        z.writestr("agency.txt", "agency_name\nx\n")
    nofeed = tmp_path / "folder"
    nofeed.mkdir()
    cases = [
        (binary, "not a text file"),
        (nozip, "a zip without stops.txt"),
        (nofeed, "a folder without stops.txt"),
        (tmp_path / "missing.csv", "not found"),
    ]
    for path, expected in cases:
        with pytest.raises(PlanningFileError) as exc:
            build_city(jamsil_net, rules=RULES, stops=path)
        assert expected in one_line(exc)
    feed = tmp_path / "gtfs"
    shutil.copytree(DATA / "jamsil_gtfs", feed)
    (feed / "stops.txt").write_text("stop_id,stop_name,stop_lat,stop_lon\nA,a,37.5,\n")
    with pytest.raises(PlanningFileError) as exc:
        build_city(jamsil_net, rules=RULES, stops=feed)
    assert "stop 'A' has no stop_lat/stop_lon" in one_line(exc)
    with pytest.raises(InvalidArgumentError) as exc2:
        build_city(jamsil_net, rules=RULES, stops="osmm")
    assert '"virtual"' in one_line(exc2)
    with pytest.raises(InvalidArgumentError) as exc2:
        build_city(jamsil_net, rules=RULES, stops="virtual", cluster_m=-1)
    assert "cluster_m" in one_line(exc2)


BAD_OD = {
    "no_columns.csv": ("a,b,count\n1,2,3\n", "neither origin,destination"),
    "negative.csv": ("origin,destination,count\n24101,24107,-4\n", "line 2: count -4 is negative"),
    "bad_time.csv": ("origin,destination,count,time\n24101,24107,4,7 o'clock\n", "line 2: time"),
    "unknown_ids.csv": ("origin,destination\nA,B\nC,D\n", "none of its stop ids"),
    "same_node.csv": ("origin,destination\n24101,24102\n", "no trip left between two planning nodes"),
    "far_points.csv": ("o_lat,o_lon,d_lat,d_lon\n37.0,127.0,37.1,127.1\n", "no trip has both ends within 500 m"),
    "bad_lat.csv": ("o_lat,o_lon,d_lat,d_lon\n37.5,127.1,x,127.1\n", "line 2: d_lat 'x' is not a number"),
}


@pytest.mark.parametrize("name", sorted(BAD_OD))
def test_bad_od_file(jamsil_net, tmp_path, name):
    text, expected = BAD_OD[name]
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(PlanningFileError) as exc:
        build_city(jamsil_net, rules=RULES, stops=DATA / "jamsil_stops.csv", od=p)
    msg = one_line(exc)
    assert str(p) in msg and expected in msg, msg


def test_od_window_needs_a_time_column(jamsil_net, tmp_path):
    p = tmp_path / "od.csv"
    p.write_text("origin,destination\n24101,24107\n")
    with pytest.raises(PlanningFileError) as exc:
        build_city(jamsil_net, rules=RULES, stops=DATA / "jamsil_stops.csv", od=p, od_window=("07:00", "09:00"))
    assert "no time column" in one_line(exc)
    with pytest.raises(InvalidArgumentError) as exc2:
        read_od(DATA / "od_stops.csv", window=("09:00", "07:00"))
    assert "od_window" in one_line(exc2)


SPEC = """
[city]
osm = "osm/seoul_dongjak.osm"
stops = "virtual"
{extra}
[rules]
num_routes = 4
{rules}
"""

BAD_SPECS = {
    "unknown_key": ({"extra": "colour = 3"}, "[city] colour: unknown key"),
    "bad_cluster": ({"extra": "cluster_m = -5"}, "[city] cluster_m: got -5"),
    "bad_seed": ({"extra": 'seed = "one"'}, "[city] seed: got 'one'"),
    "missing_file": ({"extra": 'od = "nowhere.csv"'}, "[city] od: file not found"),
    "bad_window": ({"extra": 'od = "od.csv"\nod_window = "morning"'}, "[city] od_window: got 'morning'"),
    "window_without_od": ({"extra": 'od_window = ["07:00", "09:00"]'}, "[city] od_window: given without od"),
    "bad_rule": ({"rules": "max_stops = 1"}, "[rules] max_stops: got 1"),
    "unknown_rule": ({"rules": "routes = 3"}, "[rules] routes: unknown key"),
}


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_bad_spec(dongjak_net, data_dir, tmp_path, name):
    parts, expected = BAD_SPECS[name]
    shutil.copy(DATA / "od_stops.csv", tmp_path / "od.csv")
    p = tmp_path / f"{name}.toml"
    p.write_text(SPEC.format(extra=parts.get("extra", ""), rules=parts.get("rules", "")))
    with pytest.raises(PlanningFileError) as exc:
        load_problem(p, data_dir=data_dir)
    msg = one_line(exc)
    assert str(p) in msg and expected in msg, msg


def test_spec_structure_errors(data_dir, tmp_path):
    cases = {
        "no_city.toml": ("[rules]\nnum_routes = 3\n", "no [city] table"),
        "no_osm.toml": ("[city]\nstops = 'virtual'\n[rules]\nnum_routes = 3\n", "[city] osm: missing"),
        "no_routes.toml": ("[city]\nosm = 'osm/seoul_dongjak.osm'\n[rules]\n", "[rules] num_routes: missing"),
        "not_toml.toml": ("[city\nosm =", "not valid TOML"),
    }
    for name, (text, expected) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(PlanningFileError) as exc:
            load_problem(p, data_dir=data_dir)
        assert expected in one_line(exc)
    for path, expected in ((tmp_path / "none.toml", "file not found"), (DATA / "od_stops.csv", "not a CEC")):
        with pytest.raises(PlanningFileError) as exc:
            load_problem(path)
        assert expected in one_line(exc)


def test_spec_paths_relative_to_the_spec(dongjak_net, data_dir, tmp_path):
    (tmp_path / "osm").mkdir()
    shutil.copy(data_dir / "osm" / "seoul_dongjak.osm", tmp_path / "osm" / "d.osm")
    spec = tmp_path / "plan.toml"
    spec.write_text(SPEC.format(extra="gravity_trips = 900", rules="").replace("seoul_dongjak", "d"))
    p = load_problem(spec, data_dir=tmp_path / "elsewhere")
    assert p.total_demand == 900 and math.isinf(p.rules.max_circuity) and p.name == "d"
    with pytest.raises(InvalidArgumentError) as exc:  # the caller's change, not the file's
        load_problem(spec, data_dir=tmp_path / "elsewhere", num_routes=0)
    assert one_line(exc).startswith("num_routes: got 0")


# ---------------------------------------------------------------------------- other sources
def test_osm_bus_stops_of_an_extract_that_has_them(helsinki_net):
    assert helsinki_net.osm_stop_id.size >= MIN_OSM_STOPS
    messages: list[str] = []
    b = build_city(helsinki_net, rules=RULES, stops="osm", progress=messages.append)
    assert b.stops_read == helsinki_net.osm_stop_id.size
    assert set(b.stops.ids) <= {str(int(s)) for s in helsinki_net.osm_stop_id}
    assert len(b.stops) + b.stops_far == b.stops_read
    assert b.problem.connected and "OSM bus stops of helsinki" in b.problem.source
    assert any("planning nodes" in m for m in messages) and any("gravity" in m for m in messages)


def _two_towns(one_way_bridge: bool) -> routing.RoadNetwork:
    """Two 4 x 4 grids of two-way streets 200 m apart, 3 km from each other, joined by a one-way road."""
    from pyproj import Transformer

    xs, ys, tails, heads = [], [], [], []
    for town, x0 in enumerate((300_000.0, 303_000.0)):
        for r in range(4):
            for c in range(4):
                xs.append(x0 + 200 * c)
                ys.append(4_150_000.0 + 200 * r)
                k = town * 16 + r * 4 + c
                if c < 3:
                    tails += [k, k + 1]
                    heads += [k + 1, k]
                if r < 3:
                    tails += [k, k + 4]
                    heads += [k + 4, k]
    if one_way_bridge:
        tails.append(3)
        heads.append(16)
    lon, lat = Transformer.from_crs("EPSG:32652", "EPSG:4326", always_xy=True).transform(xs, ys)
    lengths = np.hypot(np.subtract([xs[t] for t in tails], [xs[h] for h in heads]),
                       np.subtract([ys[t] for t in tails], [ys[h] for h in heads]))  # fmt: skip
    return routing.RoadNetwork.from_edges(
        tail=tails, head=heads, travel_time_s=lengths / 10.0, length_m=lengths, lat=lat, lon=lon, x_m=xs, y_m=ys,
        crs="EPSG:32652", largest_component=False, name="two_towns",
    )  # fmt: skip


def test_nodes_that_cannot_reach_the_others_are_dropped():
    net = _two_towns(one_way_bridge=True)
    b = build_city(net, rules=RULES, stops="virtual", stop_spacing_m=150, cluster_m=0)
    assert b.problem.num_nodes == 16 and len(b.dropped_nodes) == 16
    assert b.problem.connected and "16 unreachable nodes dropped" in b.problem.source
    # every kept node is in one town
    assert np.ptp(b.problem.x) == 600


def test_tiny_city_refused_with_the_reason():
    net = _two_towns(one_way_bridge=False)
    with pytest.raises(InvalidArgumentError) as exc:
        build_city(net, rules=RouteRules(num_routes=2, min_stops=5), stops="virtual", stop_spacing_m=2000)
    assert "only 1 planning node after aggregating" in one_line(exc)


def test_swapped_coordinates_are_named(helsinki_net, tmp_path):
    lat, lon = float(helsinki_net.lat[0]), float(helsinki_net.lon[0])  # both within +-90 degrees
    p = tmp_path / "stops.csv"
    p.write_text(f"stop_id,lat,lon\nA,{lon},{lat}\nB,{lon + 0.001},{lat}\n")
    with pytest.raises(PlanningFileError) as exc:
        build_city(helsinki_net, rules=RULES, stops=p)
    assert "none of the 2 stops lies within 500 m" in one_line(exc) and "longitude swapped?" in one_line(exc)
    p.write_text(f"stop_id,lat,lon\nA,{lat + 1},{lon}\n")
    with pytest.raises(PlanningFileError) as exc:
        build_city(helsinki_net, rules=RULES, stops=p)
    msg = one_line(exc)
    km = float(msg.split("the nearest is ")[1].split(" km")[0])
    assert 105 < km < 112 and "longitude swapped" not in msg  # a degree of latitude north, less the network's span
