"""The SUMO network of every bundled OSM file, and the map from the engine's edges (real netconvert)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest

import routing
from routing import NetworkFileError, Router
from sim.sumo import EdgeMap, SumoNetOptions, build_sumo_network, sumo_cache_dir

OSM_FILES = ["seoul_jamsil.osm", "seoul_dongjak.osm", "helsinki.osm.pbf"]


@pytest.fixture(scope="module", params=OSM_FILES)
def built(request: pytest.FixtureRequest, data_dir: Path) -> tuple[Path, routing.RoadNetwork, object]:
    path = data_dir / "osm" / request.param
    net = routing.load_network(path)
    return path, net, build_sumo_network(path, net)


def test_every_engine_edge_maps_and_the_lengths_agree(built: tuple) -> None:
    path, net, sumo = built
    report = sumo.edge_map.check()
    assert report["engine_edges"] == net.num_edges
    assert report["unmapped"] == [], f"{path.name}: engine edges without SUMO edges"
    assert report["length_disagreements"] == [], f"{path.name}: lengths disagree"
    assert report["ok"]
    # the engine's own lengths (whole metres) against SUMO's street shapes, junction to junction
    assert abs(report["total_length_ratio"] - 1.0) < 0.01
    assert sumo.meta["junctions"] > 0 and sumo.meta["edges"] >= report["sumo_edges_used"] > 0
    assert sumo.net_file.exists()


def test_a_routed_path_is_a_connected_sumo_route(built: tuple) -> None:
    import sumolib

    path, net, sumo = built
    snet = sumolib.net.readNet(str(sumo.net_file))
    router = Router(net)
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(40):
        a, b = (int(x) for x in rng.integers(0, net.num_nodes, 2))
        p = router.path(a, b)
        if a == b or len(p.nodes) < 3:
            continue
        edges = net.edge_ids(p.nodes[:-1], p.nodes[1:])
        route = sumo.edge_map.sumo_route(edges)
        for x, y in itertools.pairwise(route):
            assert snet.getEdge(x).getToNode().getID() == snet.getEdge(y).getFromNode().getID()
        for e in edges:  # inside one engine edge the SUMO edges follow one another
            chain = sumo.edge_map.sumo_chain(int(e))
            for x, y in itertools.pairwise(chain):
                assert snet.getEdge(y) in snet.getEdge(x).getOutgoing(), f"{path.name}: {x} -> {y}"
        # the chain starts and ends at the engine path's end junctions
        assert snet.getEdge(route[0]).getFromNode().getID() == str(int(net.osm_id[a]))
        assert snet.getEdge(route[-1]).getToNode().getID() == str(int(net.osm_id[b]))
        checked += 1
    assert checked >= 10


def test_turns_sumo_lacks_are_counted_and_rare(built: tuple) -> None:
    import sumolib

    path, net, sumo = built
    snet = sumolib.net.readNet(str(sumo.net_file))
    m = sumo.edge_map
    turns = missing = 0
    for e in range(net.num_edges):  # recounted here edge by edge, against the build's count
        last = snet.getEdge(m.sumo_chain(e)[-1])
        v = int(net.indices[e])
        for k in range(int(net.indptr[v]), int(net.indptr[v + 1])):
            if int(net.indices[k]) == int(net.tail[e]):
                continue
            turns += 1
            missing += snet.getEdge(m.sumo_chain(k)[0]) not in last.getOutgoing()
    assert (sumo.meta["turns"], sumo.meta["turns_missing"]) == (turns, missing)
    assert turns > 0 and missing <= 0.01 * turns, f"{path.name}: {missing} of {turns} turns missing in SUMO"


def test_second_build_reads_the_cache(data_dir: Path, jamsil_net: routing.RoadNetwork) -> None:
    path = data_dir / "osm" / "seoul_jamsil.osm"
    first = build_sumo_network(path, jamsil_net)
    t0 = time.perf_counter()
    again = build_sumo_network(path, jamsil_net)
    assert time.perf_counter() - t0 < 5.0
    assert again.net_file == first.net_file
    assert np.array_equal(again.edge_map.chain, first.edge_map.chain)
    assert again.meta == first.meta
    assert first.net_file.parent == sumo_cache_dir(path)


def test_signals_from_osm_guessed_or_none(data_dir: Path, jamsil_net: routing.RoadNetwork) -> None:
    path = data_dir / "osm" / "seoul_jamsil.osm"
    both = build_sumo_network(path, jamsil_net)
    osm_only = build_sumo_network(path, jamsil_net, options=SumoNetOptions(signals="osm"))
    none = build_sumo_network(path, jamsil_net, options=SumoNetOptions(signals="none"))
    # Jamsil's extract tags about 40 signal nodes; guessing adds signals at major junctions
    assert osm_only.signals > 0
    assert both.signals >= osm_only.signals
    assert none.signals == 0
    assert len({both.net_file, osm_only.net_file, none.net_file}) == 3  # one cache entry each


def test_bad_options_and_files_are_clear_errors(tmp_path: Path, jamsil_net: routing.RoadNetwork) -> None:
    with pytest.raises(ValueError, match="signals"):
        SumoNetOptions(signals="green")
    with pytest.raises(ValueError, match="guess_threshold_ms"):
        SumoNetOptions(guess_threshold_ms=-1)
    with pytest.raises(NetworkFileError, match="not found"):
        build_sumo_network(tmp_path / "nowhere.osm", jamsil_net)
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    with pytest.raises(NetworkFileError, match="drivable"):
        build_sumo_network(empty, jamsil_net)


def test_edge_map_round_trip_and_unmapped_route(tmp_path: Path) -> None:
    m = EdgeMap(
        sumo_edges=["a", "b", "c"],
        indptr=np.array([0, 2, 2, 3]),
        chain=np.array([0, 1, 2], np.int32),
        engine_length_m=np.array([100.0, 50.0, 10.0]),
        sumo_length_m=np.array([101.0, 0.0, 30.0]),
    )
    m.save(tmp_path / "m.npz")
    back = EdgeMap.load(tmp_path / "m.npz")
    assert back.sumo_chain(0) == ["a", "b"] and back.sumo_chain(1) == []
    report = back.check()
    assert report["unmapped"] == [1] and report["length_disagreements"] == [2] and not report["ok"]
    from sim.sumo import SumoError

    with pytest.raises(SumoError, match="engine edge 1"):
        back.sumo_route([0, 1])
    assert back.sumo_route([0, 2]) == ["a", "b", "c"]
