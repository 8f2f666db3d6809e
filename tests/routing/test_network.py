"""RoadNetwork: construction from edge lists, CSR invariants, variants and persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import routing
from routing import InvalidArgumentError, NetworkFileError, RoadNetwork
from routing.network import MAX_EDGE_TIME_S


def build(tail, head, times, *, lengths=None, num_nodes=None, **kwargs) -> RoadNetwork:
    """A network from an edge list, with made-up but distinct coordinates per node."""
    n = num_nodes if num_nodes is not None else int(max(max(tail), max(head))) + 1
    nodes = np.arange(n, dtype=np.float64)
    return RoadNetwork.from_edges(
        tail=tail,
        head=head,
        travel_time_s=times,
        length_m=lengths if lengths is not None else [10.0] * len(tail),
        lat=37.0 + nodes / 1000,
        lon=127.0 + nodes / 500,
        x_m=nodes * 100.0,
        y_m=nodes * 50.0,
        osm_id=1000 + np.arange(n),
        **kwargs,
    )


def edge_set(net: RoadNetwork) -> dict[tuple[int, int], tuple[int, int]]:
    """``{(tail, head): (travel_time_s, length_m)}`` of every edge."""
    return {
        (int(u), int(v)): (int(t), int(ln))
        for u, v, t, ln in zip(net.tail, net.indices, net.travel_time_s, net.length_m, strict=True)
    }


def assert_csr_consistent(net: RoadNetwork) -> None:
    """Forward and reverse CSR describe the same simple directed graph."""
    n, m = net.num_nodes, net.num_edges
    assert net.indptr.shape == (n + 1,)
    assert net.indptr[0] == 0 and net.indptr[-1] == m
    assert np.all(np.diff(net.indptr) >= 0)
    assert net.rev_indptr.shape == (n + 1,)
    assert net.rev_indptr[0] == 0 and net.rev_indptr[-1] == m
    assert np.all(np.diff(net.rev_indptr) >= 0)
    for arr in (net.indices, net.rev_indices):
        assert arr.min() >= 0 and arr.max() < n
    # Every forward edge appears exactly once in the reverse CSR.
    assert np.array_equal(np.sort(net.rev_edge), np.arange(m))
    # ... in the row of its head, with its tail as the listed node.
    rev_head = np.repeat(np.arange(n), np.diff(net.rev_indptr))
    assert np.array_equal(net.indices[net.rev_edge], rev_head)
    assert np.array_equal(net.tail[net.rev_edge], net.rev_indices)
    # The tail array matches the forward rows, there are no self-loops and no parallel edges.
    assert np.array_equal(net.tail, np.repeat(np.arange(n), np.diff(net.indptr)))
    assert not np.any(net.tail == net.indices)
    pairs = net.tail.astype(np.int64) * n + net.indices
    assert np.unique(pairs).size == m
    for arr in (net.lat, net.lon, net.x_m, net.y_m, net.osm_id):
        assert arr.shape == (n,)
    for arr in (net.travel_time_s, net.length_m, net.road_class):
        assert arr.shape == (m,)


# ---------------------------------------------------------------------------- from_edges
def test_self_loops_are_dropped():
    net = build([0, 1, 1, 2, 2], [1, 1, 2, 2, 0], [5, 7, 5, 9, 5])
    assert edge_set(net) == {(0, 1): (5, 10), (1, 2): (5, 10), (2, 0): (5, 10)}


def test_parallel_edges_keep_the_fastest():
    # 0 -> 1 three times (the 4 s one wins, with its own length); 1 -> 0 twice with equal
    # times (the shorter one wins); 1 -> 2 and 2 -> 1 once each.
    net = build(
        [0, 0, 0, 1, 1, 1, 2],
        [1, 1, 1, 0, 0, 2, 1],
        [9, 4, 6, 3, 3, 2, 2],
        lengths=[90, 40, 60, 35, 30, 20, 20],
    )
    assert edge_set(net) == {(0, 1): (4, 40), (1, 0): (3, 30), (1, 2): (2, 20), (2, 1): (2, 20)}


def test_largest_strongly_connected_component_is_kept_and_renumbered():
    # Nodes 0 <-> 1 form a small component, 2 -> 3 -> 4 -> 2 the largest; 1 -> 2 joins them
    # one way only, so the two are separate strongly connected components.
    net = build([0, 1, 1, 2, 3, 4], [1, 0, 2, 3, 4, 2], [1, 1, 1, 2, 3, 4])
    assert net.num_nodes == 3
    assert net.num_edges == 3
    assert edge_set(net) == {(0, 1): (2, 10), (1, 2): (3, 10), (2, 0): (4, 10)}
    # Coordinates and OSM ids follow their nodes, in their original order.
    assert net.osm_id.tolist() == [1002, 1003, 1004]
    assert net.x_m.tolist() == [200.0, 300.0, 400.0]
    np.testing.assert_allclose(net.lat, [37.002, 37.003, 37.004])
    assert net.meta["nodes_before_scc"] == 5
    assert net.meta["edges_before_scc"] == 6
    assert_csr_consistent(net)


def test_largest_component_can_be_switched_off():
    net = build([0, 1, 1, 2, 3, 4], [1, 0, 2, 3, 4, 2], [1, 1, 1, 2, 3, 4], largest_component=False)
    assert net.num_nodes == 5
    assert net.num_edges == 6
    assert "nodes_before_scc" not in net.meta
    assert_csr_consistent(net)


def test_isolated_nodes_are_kept_without_component_filtering():
    net = build([0, 1], [1, 0], [3, 3], num_nodes=4, largest_component=False)
    assert net.num_nodes == 4
    assert np.array_equal(net.indptr, [0, 1, 2, 2, 2])


def test_float_times_and_lengths_are_rounded_once():
    net = build(
        [0, 1, 1, 2, 2, 0],
        [1, 0, 2, 1, 0, 2],
        [0.4, 2.6, 1.49, 7.6, 1e-9, 3.51],
        lengths=[0.4, 10.6, 3.5, 0.0, 2.4, 99.49],
        largest_component=False,
    )
    assert edge_set(net) == {
        (0, 1): (1, 0),  # times are at least 1 s
        (1, 0): (3, 11),
        (1, 2): (1, 4),
        (2, 1): (8, 0),
        (2, 0): (1, 2),
        (0, 2): (4, 99),
    }
    assert net.travel_time_s.dtype == np.int32
    assert net.length_m.dtype == np.int32


@pytest.mark.parametrize(
    ("field", "edits"),
    [
        pytest.param("tail/head", {"head": [1, 5]}, id="head-out-of-range"),
        pytest.param("tail/head", {"tail": [-1, 1]}, id="negative-tail"),
        pytest.param("travel_time_s", {"travel_time_s": [1.0, np.nan]}, id="nan-time"),
        pytest.param("travel_time_s", {"travel_time_s": [1.0, np.inf]}, id="infinite-time"),
        pytest.param("travel_time_s", {"travel_time_s": [1.0, -0.5]}, id="negative-time"),
        pytest.param("length_m", {"length_m": [1.0, -2.0]}, id="negative-length"),
        pytest.param("edges", {"head": [0, 1]}, id="only-self-loops"),
    ],
)
def test_from_edges_rejects_bad_input(field, edits):
    args = {
        "tail": [0, 1],
        "head": [1, 0],
        "travel_time_s": [1.0, 1.0],
        "length_m": [1.0, 1.0],
        "lat": [37.0, 37.1],
        "lon": [127.0, 127.1],
        "x_m": [0.0, 1.0],
        "y_m": [0.0, 1.0],
    }
    args.update(edits)
    with pytest.raises(InvalidArgumentError) as info:
        RoadNetwork.from_edges(**args)
    assert info.value.field == field


def test_csr_of_a_tiny_graph_is_consistent():
    net = build([0, 0, 1, 2, 2, 3, 3, 1], [1, 2, 2, 3, 0, 1, 0, 3], [1, 2, 3, 4, 5, 6, 7, 8])
    assert_csr_consistent(net)
    assert net.edge_id(2, 3) >= 0
    assert net.indices[net.edge_id(2, 3)] == 3
    assert net.tail[net.edge_id(2, 3)] == 2
    assert net.edge_id(3, 2) == -1


@pytest.mark.parametrize("name", ["jamsil", "helsinki", "manhattan", "synthetic"])
def test_csr_of_bundled_networks_is_consistent(request, name):
    assert_csr_consistent(request.getfixturevalue(f"{name}_net"))


def test_to_scipy_holds_the_edges(dongjak_net):
    mat = dongjak_net.to_scipy().tocoo()
    got = {(int(r), int(c)): int(v) for r, c, v in zip(mat.row, mat.col, mat.data, strict=True)}
    assert got == {k: t for k, (t, _) in edge_set(dongjak_net).items()}
    lengths = dongjak_net.to_scipy("length_m")
    assert lengths.sum() == dongjak_net.length_m.sum()
    with pytest.raises(InvalidArgumentError) as info:
        dongjak_net.to_scipy("speed")
    assert info.value.field == "weight"


# ---------------------------------------------------------------------------- with_travel_times
def test_with_travel_times_replaces_times_only(jamsil_net):
    new = jamsil_net.travel_time_s * 2.0 + 0.3
    other = jamsil_net.with_travel_times(new)
    assert np.array_equal(other.travel_time_s, jamsil_net.travel_time_s * 2)
    assert other.travel_time_s.dtype == np.int32
    for name in ("indptr", "indices", "length_m", "rev_indptr", "rev_indices", "rev_edge", "x_m", "lat"):
        assert np.array_equal(getattr(other, name), getattr(jamsil_net, name))
    assert other.name == jamsil_net.name and other.crs == jamsil_net.crs
    # The original is untouched.
    assert not np.array_equal(other.travel_time_s, jamsil_net.travel_time_s)


def _times_with(net: RoadNetwork, value: float) -> np.ndarray:
    times = net.travel_time_s.astype(np.float64)
    times[len(times) // 2] = value
    return times


@pytest.mark.parametrize(
    ("make_times", "expected_in_message"),
    [
        pytest.param(lambda net: net.travel_time_s[:-1], "values", id="too-short"),
        pytest.param(lambda net: np.append(net.travel_time_s, 5), "values", id="too-long"),
        pytest.param(lambda net: np.ones((net.num_edges, 1)), "values", id="two-dimensional"),
        pytest.param(lambda net: _times_with(net, np.nan), "finite", id="nan"),
        pytest.param(lambda net: _times_with(net, np.inf), "finite", id="inf"),
        pytest.param(lambda net: _times_with(net, 0.0), f"1 .. {MAX_EDGE_TIME_S}", id="zero"),
        pytest.param(lambda net: _times_with(net, 0.4), f"1 .. {MAX_EDGE_TIME_S}", id="rounds-to-zero"),
        pytest.param(lambda net: _times_with(net, -3.0), f"1 .. {MAX_EDGE_TIME_S}", id="negative"),
        pytest.param(lambda net: _times_with(net, MAX_EDGE_TIME_S + 1.0), f"1 .. {MAX_EDGE_TIME_S}", id="too-large"),
        pytest.param(lambda net: np.array(["5"] * net.num_edges), "numbers", id="strings"),
    ],
)
def test_with_travel_times_validation(dongjak_net, make_times, expected_in_message):
    with pytest.raises(InvalidArgumentError) as info:
        dongjak_net.with_travel_times(make_times(dongjak_net))
    assert info.value.field == "travel_time_s"
    assert expected_in_message in str(info.value)


def test_with_travel_times_accepts_the_bounds(dongjak_net):
    times = np.full(dongjak_net.num_edges, float(MAX_EDGE_TIME_S))
    times[0] = 0.5001  # rounds to 1
    other = dongjak_net.with_travel_times(times)
    assert other.travel_time_s[0] == 1
    assert other.travel_time_s[1:].min() == MAX_EDGE_TIME_S


def test_weights_fingerprint_tracks_topology_and_times(dongjak_net):
    same = dongjak_net.with_travel_times(dongjak_net.travel_time_s)
    assert same.weights_fingerprint() == dongjak_net.weights_fingerprint()
    times = dongjak_net.travel_time_s.copy()
    times[7] += 1
    changed = dongjak_net.with_travel_times(times)
    assert changed.weights_fingerprint() != dongjak_net.weights_fingerprint()
    # Lengths are not part of the fingerprint, only roads and times.
    assert len(dongjak_net.weights_fingerprint()) == 24


# ---------------------------------------------------------------------------- persistence
def assert_same_network(a: RoadNetwork, b: RoadNetwork) -> None:
    for name in RoadNetwork.ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert a.name == b.name
    assert a.crs == b.crs
    assert a.road_classes == b.road_classes


@pytest.mark.parametrize("name", ["helsinki", "manhattan", "synthetic"])
def test_save_and_load_round_trip(request, tmp_path, name):
    net = request.getfixturevalue(f"{name}_net")
    path = net.save(tmp_path / "sub" / "net.npz")
    assert path.is_file()
    loaded = RoadNetwork.load(path)
    assert_same_network(net, loaded)
    assert loaded.meta == net.meta
    assert loaded.weights_fingerprint() == net.weights_fingerprint()
    # load_network accepts a saved network as well.
    assert_same_network(net, routing.load_network(path))


def test_loading_garbage_as_a_saved_network_fails(tmp_path: Path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(NetworkFileError) as info:
        RoadNetwork.load(bad)
    assert info.value.path == str(bad)
    assert "not a saved network" in info.value.reason


# ---------------------------------------------------------------------------- summary and the synthetic city
def test_summary_of_a_bundled_network(jamsil_net):
    summary = jamsil_net.summary()
    assert summary["nodes"] == jamsil_net.num_nodes
    assert summary["edges"] == jamsil_net.num_edges
    assert summary["road_km"] == pytest.approx(jamsil_net.length_m.sum() / 1000, abs=0.01)
    assert sum(summary["road_km_by_class"].values()) == pytest.approx(summary["road_km"], abs=0.1)
    assert summary["nodes_before_scc"] > summary["nodes"]
    assert summary["bbox"]["south"] == pytest.approx(jamsil_net.lat.min(), abs=1e-6)
    assert summary["crs"] == jamsil_net.crs


def test_synthetic_city_is_deterministic_and_labelled():
    a = routing.synthetic_city(400, seed=5)
    b = routing.synthetic_city(400, seed=5)
    c = routing.synthetic_city(400, seed=6)
    assert_same_network(a, b)
    assert not np.array_equal(a.travel_time_s, c.travel_time_s)
    assert "synthetic" in a.name and a.meta["synthetic"] is True
    assert a.num_nodes <= 400
    assert_csr_consistent(a)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        pytest.param("num_nodes", {"num_nodes": 3}, id="too-few-nodes"),
        pytest.param("spacing_m", {"num_nodes": 100, "spacing_m": 0.5}, id="spacing"),
        pytest.param("removed_share", {"num_nodes": 100, "removed_share": 1.0}, id="removed-share"),
        pytest.param("oneway_share", {"num_nodes": 100, "oneway_share": -0.1}, id="oneway-share"),
    ],
)
def test_synthetic_city_validates_its_arguments(field, kwargs):
    with pytest.raises(InvalidArgumentError) as info:
        routing.synthetic_city(**kwargs)
    assert info.value.field == field
