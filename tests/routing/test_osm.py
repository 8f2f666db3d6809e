"""Loading drive networks from OpenStreetMap files: the bundled extracts, options, cache, errors."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

import routing
from routing import BuildOptions, InvalidArgumentError, NetworkFileError, RoadNetwork

#: (south, west, north, east) of each bundled extract. The Seoul boxes are those of
#: ../shared/data/README.md, rounded there to 0.001 degrees; the README gives none for
#: Helsinki ("central Helsinki"), so its box is a generous one around the centre.
BBOX = {
    "jamsil": (37.506, 127.078, 37.539, 127.133),
    "dongjak": (37.485, 126.941, 37.514, 126.965),
    "helsinki": (60.10, 24.85, 60.25, 25.05),
}
#: Allowance for the README's rounding to three decimals.
BBOX_SLACK_DEG = 0.001

OSM_GRAPHS = tuple(BBOX)


def tiny_osm_xml(ways: str, extra_nodes: str = "") -> str:
    """A small OSM XML document: six nodes near Seoul and the given ``<way>`` elements."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="mobility-engine tests">
  <node id="1" lat="37.5000" lon="127.0000"/>
  <node id="2" lat="37.5010" lon="127.0000"/>
  <node id="3" lat="37.5020" lon="127.0000"/>
  <node id="4" lat="37.5010" lon="127.0012"/>
  <node id="5" lat="37.5010" lon="126.9988"/>
  <node id="6" lat="37.5030" lon="127.0000"/>
  {extra_nodes}
  {ways}
</osm>
"""


TWO_RESIDENTIAL_WAYS = """
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="6"/><tag k="highway" v="residential"/></way>
  <way id="11"><nd ref="5"/><nd ref="2"/><nd ref="4"/><tag k="highway" v="residential"/></way>
"""


def assert_same_arrays(a: RoadNetwork, b: RoadNetwork) -> None:
    for name in RoadNetwork.ARRAY_FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def load_fresh(path: Path, cache_dir: Path, **kwargs) -> RoadNetwork:
    """``load_network`` with its own cache directory (a cold cache)."""
    return routing.load_network(path, cache_dir=cache_dir, **kwargs)


# ---------------------------------------------------------------------------- bundled extracts
@pytest.mark.parametrize("name", OSM_GRAPHS)
def test_bundled_extract_gives_a_sane_drive_network(request, name):
    net = request.getfixturevalue(f"{name}_net")
    assert net.num_nodes > 100
    assert net.num_edges > net.num_nodes
    ncomp, _ = connected_components(net.to_scipy(), directed=True, connection="strong")
    assert ncomp == 1
    assert net.travel_time_s.min() >= 1
    assert net.length_m.min() >= 0
    assert net.crs.startswith("EPSG:326")
    assert net.has_lat_lon
    south, west, north, east = BBOX[name]
    assert net.lat.min() >= south - BBOX_SLACK_DEG and net.lat.max() <= north + BBOX_SLACK_DEG
    assert net.lon.min() >= west - BBOX_SLACK_DEG and net.lon.max() <= east + BBOX_SLACK_DEG
    # OSM node ids are kept and unique; road classes are known ones.
    assert np.unique(net.osm_id).size == net.num_nodes
    assert net.osm_id.min() > 0
    assert net.road_class.max() < len(net.road_classes)


@pytest.mark.parametrize("name", OSM_GRAPHS)
def test_mean_speed_is_plausible(request, name):
    net = request.getfixturevalue(f"{name}_net")
    kph = net.length_m.sum() / net.travel_time_s.sum() * 3.6
    assert 10.0 <= kph <= 80.0


def test_seoul_extracts_use_the_utm_zone_of_seoul(jamsil_net, dongjak_net):
    assert jamsil_net.crs == dongjak_net.crs == "EPSG:32652"


def test_projected_coordinates_match_great_circle_distances(dongjak_net):
    # The projected distance between two far-apart nodes is close to the haversine one.
    i, j = int(np.argmin(dongjak_net.lat)), int(np.argmax(dongjak_net.lat))
    la1, lo1, la2, lo2 = np.radians([dongjak_net.lat[i], dongjak_net.lon[i], dongjak_net.lat[j], dongjak_net.lon[j]])
    hav = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    great_circle = 2 * 6_371_008.8 * np.arcsin(np.sqrt(hav))
    projected = np.hypot(dongjak_net.x_m[i] - dongjak_net.x_m[j], dongjak_net.y_m[i] - dongjak_net.y_m[j])
    assert great_circle > 2000
    assert abs(projected - great_circle) / great_circle < 0.005


def test_helsinki_pbf_has_osm_stops(helsinki_net):
    assert helsinki_net.osm_stop_id.size > 0
    assert helsinki_net.osm_stop_id.shape == helsinki_net.osm_stop_lat.shape == helsinki_net.osm_stop_lon.shape
    south, west, north, east = BBOX["helsinki"]
    assert np.all((helsinki_net.osm_stop_lat > south) & (helsinki_net.osm_stop_lat < north))
    assert np.all((helsinki_net.osm_stop_lon > west) & (helsinki_net.osm_stop_lon < east))


def test_overpass_export_trap_is_real_and_handled(data_dir, jamsil_net):
    """osmnx's own XML reader fails on the Overpass export; our loader does not."""
    import osmnx as ox

    with pytest.raises(KeyError):
        ox.graph_from_xml(data_dir / "osm" / "seoul_jamsil.osm")
    assert jamsil_net.num_nodes > 100
    assert jamsil_net.meta["format"] == "xml"


# ---------------------------------------------------------------------------- build options
def test_slower_class_speeds_give_longer_times_and_another_cache_key(data_dir, dongjak_net):
    path = data_dir / "osm" / "seoul_dongjak.osm"
    half = BuildOptions(speeds_kph={k: v / 2 for k, v in routing.KOREAN_URBAN_SPEEDS_KPH.items()})
    slow = routing.load_network(path, options=half)
    # Same roads, slower travel.
    assert np.array_equal(slow.indptr, dongjak_net.indptr)
    assert np.array_equal(slow.indices, dongjak_net.indices)
    assert np.array_equal(slow.length_m, dongjak_net.length_m)
    assert np.all(slow.travel_time_s >= dongjak_net.travel_time_s)
    assert slow.travel_time_s.sum() > 1.8 * dongjak_net.travel_time_s.sum()
    assert routing.network_cache_path(path, half) != routing.network_cache_path(path)
    assert routing.network_cache_path(path, BuildOptions()) == routing.network_cache_path(path)


def test_dropping_a_class_drops_its_roads(data_dir, dongjak_net):
    speeds = dict(routing.KOREAN_URBAN_SPEEDS_KPH)
    del speeds["residential"]
    net = routing.load_network(data_dir / "osm" / "seoul_dongjak.osm", options=BuildOptions(speeds_kph=speeds))
    assert "residential" not in {net.road_classes[c] for c in np.unique(net.road_class)}
    assert "residential" in {dongjak_net.road_classes[c] for c in np.unique(dongjak_net.road_class)}
    assert net.num_edges < dongjak_net.num_edges


def test_ignoring_maxspeed_tags_changes_helsinki(data_dir, helsinki_net):
    # Almost every Helsinki road has a maxspeed tag, so the class speeds matter only without them.
    path = data_dir / "osm" / "helsinki.osm.pbf"
    options = BuildOptions(use_maxspeed=False)
    net = routing.load_network(path, options=options)
    assert np.array_equal(net.indices, helsinki_net.indices)
    assert not np.array_equal(net.travel_time_s, helsinki_net.travel_time_s)
    assert routing.network_cache_path(path, options) != routing.network_cache_path(path)


@pytest.mark.parametrize("speed", [0, 0.5, 500, float("nan"), "fast"])
def test_build_options_reject_bad_class_speeds(speed):
    with pytest.raises(InvalidArgumentError) as info:
        BuildOptions(speeds_kph={"primary": 50.0, "residential": speed})
    assert info.value.field == "speeds_kph.residential"
    assert "1 .. 300 km/h" in str(info.value)


def test_build_options_reject_no_classes_and_bad_cap():
    with pytest.raises(InvalidArgumentError) as info:
        BuildOptions(speeds_kph={})
    assert info.value.field == "speeds_kph"
    with pytest.raises(InvalidArgumentError) as info:
        BuildOptions(max_speed_kph=1000.0)
    assert info.value.field == "max_speed_kph"


def test_build_options_from_toml(tmp_path):
    path = tmp_path / "options.toml"
    path.write_text(
        "[network]\nuse_maxspeed = false\nsimplify = false\nmax_speed_kph = 90.0\n"
        "[network.speeds_kph]\nprimary = 60\nresidential = 25.5\n"
        "[other]\nignored = 1\n"
    )
    options = BuildOptions.from_toml(path)
    assert options == BuildOptions(
        speeds_kph={"primary": 60.0, "residential": 25.5}, use_maxspeed=False, simplify=False, max_speed_kph=90.0
    )


def test_build_options_from_toml_without_network_table_gives_defaults(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("[something_else]\nx = 1\n")
    assert BuildOptions.from_toml(path) == BuildOptions()


def test_build_options_from_toml_rejects_unknown_keys(tmp_path):
    path = tmp_path / "options.toml"
    path.write_text("[network]\nsimplify = true\ncolour = 'red'\n")
    with pytest.raises(InvalidArgumentError) as info:
        BuildOptions.from_toml(path)
    assert info.value.field == "network.colour"
    assert "speeds_kph" in str(info.value)  # the known options are listed


def test_build_options_from_toml_validates_values(tmp_path):
    path = tmp_path / "options.toml"
    path.write_text("[network.speeds_kph]\nresidential = 0\n")
    with pytest.raises(InvalidArgumentError) as info:
        BuildOptions.from_toml(path)
    assert info.value.field == "speeds_kph.residential"


def test_build_options_from_toml_file_errors(tmp_path):
    with pytest.raises(NetworkFileError) as info:
        BuildOptions.from_toml(tmp_path / "missing.toml")
    assert "not found" in info.value.reason
    bad = tmp_path / "bad.toml"
    bad.write_text("[network\nsimplify = ")
    with pytest.raises(NetworkFileError) as info:
        BuildOptions.from_toml(bad)
    assert "TOML" in info.value.reason
    assert info.value.path == str(bad)


# ---------------------------------------------------------------------------- cache
def test_second_load_reads_the_cache(data_dir, tmp_path, jamsil_net):
    path = data_dir / "osm" / "seoul_jamsil.osm"
    stages: list[str] = []

    cold = routing.load_network(path, cache_dir=tmp_path, on_stage=stages.append)
    assert any("building" in s for s in stages) and cold.meta.get("from_cache") is False
    cache_file = Path(cold.meta["cache_path"])
    assert cache_file.is_file()
    assert cache_file == routing.network_cache_path(path, cache_dir=tmp_path)
    assert cache_file.is_relative_to(tmp_path)

    stages.clear()
    warm = routing.load_network(path, cache_dir=tmp_path, on_stage=stages.append)
    assert stages and all("reading cached network" in s for s in stages) and warm.meta.get("from_cache") is True
    assert Path(warm.meta["cache_path"]) == cache_file
    assert_same_arrays(cold, warm)
    assert_same_arrays(cold, jamsil_net)
    assert warm.name == cold.name == "seoul_jamsil"
    # (How much faster the cache is: `mobility bench paths`, load cold and load cached per graph.)


def test_without_cache_nothing_is_written(data_dir, tmp_path):
    net = routing.load_network(data_dir / "osm" / "seoul_dongjak.osm", cache=False, cache_dir=tmp_path)
    assert "cache_path" not in net.meta
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir_is_the_session_tmp_dir(data_dir, isolated_cache_dir):
    path = routing.network_cache_path(data_dir / "osm" / "seoul_dongjak.osm")
    assert path.is_relative_to(isolated_cache_dir)


def test_unreadable_cache_file_is_rebuilt(data_dir, tmp_path, dongjak_net):
    path = data_dir / "osm" / "seoul_dongjak.osm"
    cache_file = routing.network_cache_path(path, cache_dir=tmp_path)
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"garbage, not an npz")
    stages: list[str] = []
    net = routing.load_network(path, cache_dir=tmp_path, on_stage=stages.append)
    assert any("building" in s for s in stages)
    assert_same_arrays(net, dongjak_net)
    assert RoadNetwork.load(cache_file).num_nodes == dongjak_net.num_nodes  # repaired


def test_name_argument_is_honoured_when_the_cache_is_warm(data_dir, tmp_path):
    path = data_dir / "osm" / "seoul_dongjak.osm"
    cold = routing.load_network(path, cache_dir=tmp_path, name="first")
    assert cold.name == "first"
    warm = routing.load_network(path, cache_dir=tmp_path, name="second")
    assert warm.name == "second"


# ---------------------------------------------------------------------------- compressed and GraphML inputs
@pytest.mark.parametrize(
    ("suffix", "compress"),
    [pytest.param(".osm.bz2", bz2.compress, id="bz2"), pytest.param(".osm.gz", gzip.compress, id="gzip")],
)
def test_compressed_copy_gives_the_same_network(data_dir, tmp_path, dongjak_net, suffix, compress):
    copy = tmp_path / f"seoul_dongjak{suffix}"
    copy.write_bytes(compress((data_dir / "osm" / "seoul_dongjak.osm").read_bytes()))
    net = load_fresh(copy, tmp_path / "cache")
    assert_same_arrays(net, dongjak_net)
    assert net.name == "seoul_dongjak"
    assert net.meta["format"] == "xml" + suffix[4:]


def test_osmnx_graphml_is_accepted(tmp_path):
    import osmnx as ox

    xml = tmp_path / "tiny.osm"
    xml.write_text(tiny_osm_xml(TWO_RESIDENTIAL_WAYS))
    graph = ox.graph_from_xml(xml, simplify=False, retain_all=True)
    ox.save_graphml(graph, tmp_path / "g.graphml")

    net = load_fresh(tmp_path / "g.graphml", tmp_path / "cache")
    assert net.meta["format"] == "graphml"
    assert net.num_nodes == 6
    assert net.num_edges == 10  # five two-way segments
    assert sorted(net.osm_id.tolist()) == [1, 2, 3, 4, 5, 6]
    # Residential streets at 30 km/h: every segment's time follows from its length.
    np.testing.assert_allclose(net.travel_time_s, net.length_m / (30 / 3.6), atol=1.0)
    assert net.length_m.min() >= 100 and net.length_m.max() <= 115
    # The same roads read from the XML (unsimplified) give the same network.
    from_xml = load_fresh(xml, tmp_path / "cache", options=BuildOptions(simplify=False))
    assert_same_arrays(net, from_xml)


def test_simplification_merges_degree_two_chains(tmp_path):
    xml = tmp_path / "tiny.osm"
    xml.write_text(tiny_osm_xml(TWO_RESIDENTIAL_WAYS))
    raw = load_fresh(xml, tmp_path / "cache", options=BuildOptions(simplify=False))
    simple = load_fresh(xml, tmp_path / "cache")
    # Node 3 (between 2 and 6) disappears; its two segments become one edge each way.
    assert raw.num_nodes == 6 and simple.num_nodes == 5
    assert 3 not in simple.osm_id.tolist()
    assert simple.num_edges == 8
    assert simple.length_m.sum() == pytest.approx(raw.length_m.sum(), abs=4)


def test_access_and_class_filters(tmp_path):
    ways = """
      <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/></way>
      <way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="residential"/><tag k="access" v="private"/></way>
      <way id="12"><nd ref="2"/><nd ref="5"/><tag k="highway" v="footway"/></way>
      <way id="13"><nd ref="3"/><nd ref="6"/><tag k="highway" v="unclassified"/>
        <tag k="service" v="parking_aisle"/></way>
      <way id="14"><nd ref="1"/><nd ref="5"/><tag k="highway" v="residential"/><tag k="area" v="yes"/></way>
      <way id="15"><nd ref="3"/><nd ref="7"/><tag k="highway" v="residential"/>
        <tag k="access" v="no"/><tag k="motor_vehicle" v="yes"/></way>
      <way id="16"><nd ref="1"/><nd ref="8"/><tag k="highway" v="primary"/><tag k="motor_vehicle" v="no"/></way>
    """
    extra = '<node id="7" lat="37.5020" lon="127.0010"/><node id="8" lat="37.4990" lon="127.0000"/>'
    path = tmp_path / "filters.osm"
    path.write_text(tiny_osm_xml(ways, extra_nodes=extra))
    net = load_fresh(path, tmp_path / "cache", options=BuildOptions(simplify=False))
    # Kept: the plain residential street and the one open to motor vehicles despite access=no.
    assert sorted(net.osm_id.tolist()) == [1, 2, 3, 7]
    assert net.meta["ways_in_file"] == 7
    assert net.meta["drivable_ways"] == 2


def test_oneway_streets_keep_one_direction(tmp_path):
    ways = """
      <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
        <tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
      <way id="11"><nd ref="3"/><nd ref="4"/><nd ref="1"/>
        <tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
    """
    path = tmp_path / "oneway.osm"
    path.write_text(tiny_osm_xml(ways))
    net = load_fresh(path, tmp_path / "cache", options=BuildOptions(simplify=False))
    ids = net.osm_id
    edges = {(int(ids[u]), int(ids[v])) for u, v in zip(net.tail, net.indices, strict=True)}
    assert edges == {(1, 2), (2, 3), (3, 4), (4, 1)}


def test_bus_stops_in_osm_xml_are_recorded(tmp_path):
    stops = """
      <node id="100" lat="37.5011" lon="127.0001"><tag k="highway" v="bus_stop"/><tag k="name" v="A"/></node>
      <node id="101" lat="37.5021" lon="127.0001"><tag k="public_transport" v="platform"/><tag k="bus" v="yes"/></node>
      <node id="102" lat="37.5021" lon="127.0002"><tag k="public_transport" v="platform"/><tag k="tram" v="yes"/></node>
    """
    path = tmp_path / "stops.osm"
    path.write_text(tiny_osm_xml(TWO_RESIDENTIAL_WAYS, extra_nodes=stops))
    net = load_fresh(path, tmp_path / "cache")
    assert net.osm_stop_id.tolist() == [100, 101]
    np.testing.assert_allclose(net.osm_stop_lat, [37.5011, 37.5021])
    np.testing.assert_allclose(net.osm_stop_lon, [127.0001, 127.0001])


# ---------------------------------------------------------------------------- unreadable inputs
def assert_file_error(path: Path, *reason_parts: str) -> NetworkFileError:
    with pytest.raises(NetworkFileError) as info:
        routing.load_network(path, cache_dir=path.parent / "cache")
    err = info.value
    assert err.path == str(path)
    assert err.reason and str(err) == f"{path}: {err.reason}"
    for part in reason_parts:
        assert part in err.reason
    return err


def test_missing_file(tmp_path):
    assert_file_error(tmp_path / "nowhere.osm", "not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.osm"
    path.write_bytes(b"")
    assert_file_error(path, "empty")


def test_directory_instead_of_a_file(tmp_path):
    path = tmp_path / "folder.osm"
    path.mkdir()
    assert_file_error(path, "directory")


def test_truncated_osm_xml(data_dir, tmp_path):
    data = (data_dir / "osm" / "seoul_dongjak.osm").read_bytes()
    path = tmp_path / "truncated.osm"
    path.write_bytes(data[: len(data) // 2])
    assert_file_error(path, "corrupt OSM XML", "line")


def test_truncated_bz2(data_dir, tmp_path):
    data = bz2.compress((data_dir / "osm" / "seoul_dongjak.osm").read_bytes())
    path = tmp_path / "truncated.osm.bz2"
    path.write_bytes(data[: len(data) // 2])
    assert_file_error(path, "cannot read")


def test_garbage_pbf(tmp_path):
    path = tmp_path / "garbage.osm.pbf"
    path.write_bytes(np.random.default_rng(7).bytes(4096))
    assert_file_error(path, "corrupt OSM PBF")


def test_garbage_with_an_osm_name(tmp_path):
    path = tmp_path / "garbage.osm"
    path.write_bytes(np.random.default_rng(8).bytes(4096))
    assert_file_error(path, "unrecognised format")


def test_xml_that_is_not_osm(tmp_path):
    path = tmp_path / "page.osm"
    path.write_text('<?xml version="1.0"?><html><body>hello</body></html>')
    assert_file_error(path, "not an OSM XML file", "<html>")


def test_osm_without_drivable_roads(tmp_path):
    ways = """
      <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="building" v="yes"/></way>
      <way id="11"><nd ref="4"/><nd ref="5"/><tag k="highway" v="footway"/></way>
    """
    path = tmp_path / "no_roads.osm"
    path.write_text(tiny_osm_xml(ways))
    assert_file_error(path, "no drivable roads", "2 ways")


def test_osm_with_nodes_only(tmp_path):
    path = tmp_path / "nodes_only.osm"
    path.write_text(tiny_osm_xml(""))
    assert_file_error(path, "no drivable roads", "no ways")


def test_roads_whose_nodes_are_missing(tmp_path):
    ways = '<way id="10"><nd ref="77"/><nd ref="78"/><tag k="highway" v="primary"/></way>'
    path = tmp_path / "dangling.osm"
    path.write_text(tiny_osm_xml(ways))
    assert_file_error(path, "no drivable road has node coordinates")


def test_xml_named_graphml_that_is_not_graphml(tmp_path):
    path = tmp_path / "fake.graphml"
    path.write_text('<?xml version="1.0"?><catalogue><book id="1"/></catalogue>')
    assert_file_error(path, "not an OSM XML file")


def test_graphml_that_is_not_an_osmnx_graph(tmp_path):
    path = tmp_path / "plain.graphml"
    path.write_text(
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<graph edgedefault="directed"><node id="a"/><node id="b"/><edge source="a" target="b"/></graph></graphml>'
    )
    assert_file_error(path, "GraphML")


def test_cache_path_of_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(NetworkFileError):
        routing.network_cache_path(tmp_path / "missing.osm")
