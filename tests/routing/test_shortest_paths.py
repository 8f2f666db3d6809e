"""Exact shortest paths: the contraction hierarchy and the Dijkstra baselines against oracles.

The oracles are scipy's Dijkstra (``scipy.sparse.csgraph``), networkx and the plain-Python
Dijkstra of ``tests/naive.py``. Every comparison is exact: travel times are integers.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

import routing
from routing import (
    UNREACHABLE,
    ContractionHierarchy,
    InvalidArgumentError,
    NoPathError,
    RoadNetwork,
    Router,
    bidirectional_dijkstra,
    dijkstra_matrix,
    dijkstra_one_to_all,
    dijkstra_one_to_many,
    dijkstra_one_to_one,
)
from routing.router import ch_cache_path
from tests import naive

ALL_GRAPHS = ("jamsil", "dongjak", "helsinki", "manhattan", "synthetic")
NETWORKX_GRAPHS = ("jamsil", "dongjak", "helsinki", "manhattan")


@dataclass(frozen=True)
class Graph:
    name: str
    net: RoadNetwork
    router: Router


@pytest.fixture(params=ALL_GRAPHS)
def graph(request) -> Graph:
    name = request.param
    return Graph(name, request.getfixturevalue(f"{name}_net"), request.getfixturevalue(f"{name}_router"))


def rng_for(name: str, salt: int = 0) -> np.random.Generator:
    """A generator seeded by the graph's name, so every graph gets its own fixed sample."""
    return np.random.default_rng([sum(map(ord, name)), salt])


def random_pairs(net: RoadNetwork, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, net.num_nodes, count), rng.integers(0, net.num_nodes, count)


def scipy_rows(net: RoadNetwork, sources: np.ndarray) -> np.ndarray:
    """Travel times from each of ``sources`` to every node, by scipy (``UNREACHABLE`` if none)."""
    dist = scipy_dijkstra(net.to_scipy(), directed=True, indices=np.asarray(sources))
    return np.where(np.isinf(dist), UNREACHABLE, dist).astype(np.int64)


def scipy_pairs(net: RoadNetwork, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(sources, return_inverse=True)
    return scipy_rows(net, unique)[inverse, targets]


def assert_valid_path(net: RoadNetwork, path: routing.ShortestPath, s: int, t: int, expected_time: int) -> None:
    """``path`` is a walk of real edges from ``s`` to ``t`` whose totals are right."""
    assert path.nodes[0] == s and path.nodes[-1] == t
    assert path.nodes.size == path.edges.size + 1
    assert np.array_equal(net.tail[path.edges], path.nodes[:-1])
    assert np.array_equal(net.indices[path.edges], path.nodes[1:])
    assert int(net.travel_time_s[path.edges].sum()) == path.travel_time_s == expected_time
    assert int(net.length_m[path.edges].sum()) == path.length_m
    assert isinstance(path.travel_time_s, int) and isinstance(path.length_m, int)


# ============================================================================ bundled graphs
def test_vectorised_travel_time_matches_scipy(graph):
    s, t = random_pairs(graph.net, 2000, rng_for(graph.name))
    got = graph.router.travel_time(s, t)
    assert got.dtype == np.int64 and got.shape == (2000,)
    assert np.array_equal(got, scipy_pairs(graph.net, s, t))
    # A strongly connected network: every pair is reachable.
    assert got.max() < UNREACHABLE


def test_scalar_travel_time_matches_scipy(graph):
    s, t = random_pairs(graph.net, 200, rng_for(graph.name, 1))
    expected = scipy_pairs(graph.net, s, t)
    got = [graph.router.travel_time(int(a), int(b)) for a, b in zip(s, t, strict=True)]
    assert all(type(x) is int for x in got)
    assert got == expected.tolist()


def test_matrix_matches_scipy(graph):
    rng = rng_for(graph.name, 2)
    sources = rng.integers(0, graph.net.num_nodes, 60)  # with replacement: duplicates are fine
    targets = rng.integers(0, graph.net.num_nodes, 61)
    got = graph.router.matrix(sources, targets)
    assert got.shape == (60, 61) and got.dtype == np.int64
    assert np.array_equal(got, scipy_rows(graph.net, sources)[:, targets])


def test_dijkstra_baselines_match_scipy(graph):
    net = graph.net
    rng = rng_for(graph.name, 3)
    s, t = random_pairs(net, 500, rng)
    assert np.array_equal(bidirectional_dijkstra(net, s, t), scipy_pairs(net, s, t))

    sources = rng.integers(0, net.num_nodes, 8)
    targets = rng.integers(0, net.num_nodes, 40)
    rows = scipy_rows(net, sources)
    assert np.array_equal(dijkstra_matrix(net, sources, targets), rows[:, targets])
    for i, src in enumerate(sources.tolist()):
        assert np.array_equal(dijkstra_one_to_many(net, src, targets), rows[i, targets])
        dist, _ = dijkstra_one_to_all(net, src)
        assert np.array_equal(dist, rows[i])
        assert dijkstra_one_to_one(net, src, int(targets[i])) == rows[i, targets[i]]


def test_dijkstra_predecessors_form_a_shortest_path_tree(graph):
    net = graph.net
    source = int(rng_for(graph.name, 4).integers(0, net.num_nodes))
    dist, pred = dijkstra_one_to_all(net, source)
    assert pred[source] == -1
    others = np.flatnonzero(np.arange(net.num_nodes) != source)
    assert np.all(pred[others] >= 0)
    assert np.array_equal(net.indices[pred[others]], others)
    assert np.array_equal(dist[net.tail[pred[others]]] + net.travel_time_s[pred[others]], dist[others])


def test_naive_oracle_agrees_on_a_few_sources(graph):
    net = graph.net
    sources = rng_for(graph.name, 5).integers(0, net.num_nodes, 2)
    rows = scipy_rows(net, sources)
    for i, src in enumerate(sources.tolist()):
        assert np.array_equal(naive.network_distances(net, src), rows[i])


def networkx_graph(net: RoadNetwork) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(range(net.num_nodes))
    g.add_weighted_edges_from(
        zip(net.tail.tolist(), net.indices.tolist(), net.travel_time_s.tolist(), strict=True), weight="travel_time_s"
    )
    return g


@pytest.mark.parametrize("name", NETWORKX_GRAPHS)
def test_networkx_agrees(request, name):
    net = request.getfixturevalue(f"{name}_net")
    router = request.getfixturevalue(f"{name}_router")
    g = networkx_graph(net)
    assert g.number_of_edges() == net.num_edges
    sources = rng_for(name, 6).choice(net.num_nodes, 10, replace=False)
    all_nodes = np.arange(net.num_nodes)
    ch_rows = router.matrix(sources, all_nodes)
    for i, src in enumerate(sources.tolist()):
        lengths = nx.single_source_dijkstra_path_length(g, src, weight="travel_time_s")
        expected = np.array([lengths[v] for v in range(net.num_nodes)], dtype=np.int64)
        assert np.array_equal(ch_rows[i], expected)
        assert np.array_equal(dijkstra_one_to_all(net, src)[0], expected)


# ---------------------------------------------------------------------------- paths
def test_paths_are_valid_shortest_paths(graph):
    net, router = graph.net, graph.router
    s, t = random_pairs(net, 200, rng_for(graph.name, 7))
    expected = router.travel_time(s, t)
    assert np.array_equal(expected, scipy_pairs(net, s, t))
    for a, b, d in zip(s.tolist(), t.tolist(), expected.tolist(), strict=True):
        path = router.path(a, b)
        assert_valid_path(net, path, a, b, d)
        assert router.path_length_m(a, b) == path.length_m  # summed over arcs, not edges


def test_path_to_itself_is_empty(graph):
    node = graph.net.num_nodes // 2
    path = graph.router.path(node, node)
    assert path.edges.size == 0
    assert path.nodes.tolist() == [node]
    assert path.travel_time_s == 0 and path.length_m == 0
    assert graph.router.path_length_m(node, node) == 0
    assert graph.router.travel_time(node, node) == 0


# ---------------------------------------------------------------------------- shapes
def test_scalar_query_returns_a_python_int(dongjak_router):
    assert type(dongjak_router.travel_time(0, 5)) is int
    assert type(dongjak_router.travel_time(np.int32(0), np.int64(5))) is int
    assert type(dongjak_router.travel_time(np.array(0), np.array(5))) is int
    assert dongjak_router.travel_time(np.int32(0), np.int64(5)) == dongjak_router.travel_time(0, 5)


def test_broadcasting_preserves_shapes(dongjak_net, dongjak_router):
    router, n = dongjak_router, dongjak_net.num_nodes
    grid = np.arange(12).reshape(3, 4) * 7 % n
    rows = scipy_rows(dongjak_net, np.arange(n))

    out = router.travel_time(grid, 5)
    assert out.shape == (3, 4)
    assert np.array_equal(out, rows[grid, 5])

    out = router.travel_time(5, grid)
    assert out.shape == (3, 4)
    assert np.array_equal(out, rows[5, grid])

    col, row = np.array([[1], [2], [3]]), np.array([[10, 20, 30, 40]])
    out = router.travel_time(col, row)
    assert out.shape == (3, 4)
    assert np.array_equal(out, rows[col, row])

    out = router.travel_time([3, 4], [7, 8])  # plain lists
    assert out.shape == (2,) and out.tolist() == [rows[3, 7], rows[4, 8]]

    out = router.travel_time(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert out.shape == (0,)
    assert router.matrix([], [1, 2]).shape == (0, 2)


def test_incompatible_shapes_are_rejected(dongjak_router):
    with pytest.raises(InvalidArgumentError) as info:
        dongjak_router.travel_time([1, 2, 3], [1, 2])
    assert info.value.field == "target"
    with pytest.raises(InvalidArgumentError):
        bidirectional_dijkstra(dongjak_router.network, [1, 2, 3], [1, 2])


# ============================================================================ unreachable pairs
def split_network() -> RoadNetwork:
    """Two islands (0 <-> 1 <-> 2 and 3 <-> 4) and a one-way dead end 2 -> 5."""
    tail = [0, 1, 1, 2, 3, 4, 2]
    head = [1, 0, 2, 1, 4, 3, 5]
    n = 6
    coords = np.arange(n, dtype=np.float64)
    return RoadNetwork.from_edges(
        tail=tail,
        head=head,
        travel_time_s=[4, 4, 6, 6, 3, 3, 2],
        length_m=[40, 40, 60, 60, 30, 30, 20],
        lat=coords,
        lon=coords,
        x_m=coords,
        y_m=coords,
        largest_component=False,
    )


def test_unreachable_pairs():
    net = split_network()
    router = Router(net)
    expected = naive.all_pairs_from_edges(6, zip(net.tail, net.indices, net.travel_time_s, strict=True))
    assert expected[0, 5] == 12 and expected[5, 0] == UNREACHABLE and expected[0, 3] == UNREACHABLE

    every = np.arange(6)
    assert np.array_equal(router.matrix(every, every), expected)
    s, t = np.meshgrid(every, every, indexing="ij")
    assert np.array_equal(router.travel_time(s, t), expected)
    assert router.travel_time(0, 3) == UNREACHABLE
    assert router.travel_time(5, 0) == UNREACHABLE
    assert np.array_equal(dijkstra_matrix(net, every, every), expected)
    assert np.array_equal(bidirectional_dijkstra(net, s.ravel(), t.ravel()).reshape(6, 6), expected)
    for src in range(6):
        dist, pred = dijkstra_one_to_all(net, src)
        assert np.array_equal(dist, expected[src])
        assert np.all(pred[dist == UNREACHABLE] == -1)
        assert np.array_equal(dijkstra_one_to_many(net, src, every), expected[src])

    for a, b in [(0, 3), (3, 0), (5, 0), (5, 4), (4, 2)]:
        with pytest.raises(NoPathError) as info:
            router.path(a, b)
        assert (info.value.source, info.value.target) == (a, b)
        with pytest.raises(NoPathError):
            router.path_length_m(a, b)
    assert_valid_path(net, router.path(0, 5), 0, 5, 12)


def test_unreachable_is_safe_to_add():
    assert UNREACHABLE == 2**60
    assert np.int64(UNREACHABLE) + np.int64(UNREACHABLE) > 0


def slow_chain(num_nodes: int, edge_time_s: int) -> RoadNetwork:
    """A two-way chain ``0 - 1 - ... - (num_nodes - 1)`` with every edge taking ``edge_time_s``."""
    forward = np.arange(num_nodes - 1)
    tail = np.concatenate([forward, forward + 1])
    head = np.concatenate([forward + 1, forward])
    coords = np.arange(num_nodes, dtype=np.float64)
    return RoadNetwork.from_edges(
        tail=tail,
        head=head,
        travel_time_s=np.full(tail.size, edge_time_s),
        length_m=np.ones(tail.size),
        lat=coords,
        lon=coords,
        x_m=coords,
        y_m=coords,
    )


def test_long_chain_of_slow_edges_below_unreachable():
    # 200 edges at the largest edge time stay below UNREACHABLE and are routed normally.
    net = slow_chain(201, routing.network.MAX_EDGE_TIME_S)
    router = Router(net)
    expected = 200 * routing.network.MAX_EDGE_TIME_S
    assert router.travel_time(0, 200) == expected
    assert_valid_path(net, router.path(0, 200), 0, 200, expected)


def test_real_travel_times_never_reach_unreachable():
    net = slow_chain(300, routing.network.MAX_EDGE_TIME_S)
    router = Router(net)
    expected = 299 * routing.network.MAX_EDGE_TIME_S
    assert router.travel_time(0, 299) == expected
    path = router.path(0, 299)
    assert path.travel_time_s == expected
    assert expected < UNREACHABLE


# ============================================================================ property-based
@st.composite
def random_graphs(draw) -> tuple[int, list[tuple[int, int, int]]]:
    """A random directed graph: 3..40 nodes, integer times 1..1000, loops and repeats allowed."""
    n = draw(st.integers(3, 40))
    node = st.integers(0, n - 1)
    edge = st.tuples(node, node, st.integers(1, 1000))
    # A first edge that is not a self-loop, so the network keeps at least one edge.
    u = draw(node)
    v = (u + draw(st.integers(1, n - 1))) % n
    first = (u, v, draw(st.integers(1, 1000)))
    return n, [first, *draw(st.lists(edge, max_size=4 * n))]


def network_from(n: int, edges: list[tuple[int, int, int]]) -> RoadNetwork:
    tail, head, times = (list(col) for col in zip(*edges, strict=True))
    coords = np.arange(n, dtype=np.float64)
    return RoadNetwork.from_edges(
        tail=tail,
        head=head,
        travel_time_s=times,
        length_m=[w * 10 for w in times],
        lat=coords,
        lon=coords,
        x_m=coords,
        y_m=coords,
        largest_component=False,
    )


def assert_router_exact(router: Router, expected: np.ndarray) -> None:
    net = router.network
    n = net.num_nodes
    every = np.arange(n)
    assert np.array_equal(router.matrix(every, every), expected)
    s, t = np.meshgrid(every, every, indexing="ij")
    assert np.array_equal(router.travel_time(s, t), expected)
    assert np.array_equal(router.travel_time(s.ravel(), t.ravel()), expected.ravel())
    for a in range(n):
        for b in range(n):
            if expected[a, b] == UNREACHABLE:
                with pytest.raises(NoPathError):
                    router.path(a, b)
                with pytest.raises(NoPathError):
                    router.path_length_m(a, b)
            else:
                path = router.path(a, b)
                assert_valid_path(net, path, a, b, int(expected[a, b]))
                assert router.path_length_m(a, b) == path.length_m


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_contraction_hierarchy_is_exact_on_random_graphs(graph_spec):
    n, edges = graph_spec
    net = network_from(n, edges)
    assert net.num_nodes == n
    # The oracle runs on the raw edge list, loops and slower parallel edges included; the
    # CSR oracle over the built network agrees with it.
    expected = naive.all_pairs_from_edges(n, edges)
    assert np.array_equal(naive.network_distances(net, 0), expected[0])
    assert_router_exact(Router(net), expected)
    # A witness search that settles only its source finds few witnesses, but must stay exact.
    tiny_witness = ContractionHierarchy.build(net, witness_settle_limit=1)
    assert tiny_witness.meta["witness_settle_limit"] == 1
    assert_router_exact(Router(net, tiny_witness), expected)
    # The Dijkstra baselines agree too.
    every = np.arange(n)
    assert np.array_equal(dijkstra_matrix(net, every, every), expected)


@settings(max_examples=60, deadline=None)
@given(random_graphs(), st.lists(st.integers(1, 3), min_size=1))
def test_reweighted_hierarchy_is_exact_on_random_graphs(graph_spec, multipliers):
    n, edges = graph_spec
    net = network_from(n, edges)
    router = Router(net)
    factors = np.resize(np.array(multipliers), net.num_edges)
    new_times = net.travel_time_s * factors
    reweighted = router.with_travel_times(new_times)
    expected = naive.all_pairs_from_edges(n, zip(net.tail, net.indices, new_times, strict=True))
    assert_router_exact(reweighted, expected)


# ============================================================================ changing weights
@pytest.mark.parametrize("name", ["synthetic", "jamsil"])
def test_with_travel_times_is_exact_and_leaves_the_old_router_alone(request, name):
    net: RoadNetwork = request.getfixturevalue(f"{name}_net")
    router: Router = request.getfixturevalue(f"{name}_router")
    rng = rng_for(name, 8)
    s, t = random_pairs(net, 2000, rng)
    before = router.travel_time(s, t)

    new_times = net.travel_time_s * rng.uniform(1.0, 3.0, net.num_edges)
    router2 = router.with_travel_times(new_times)
    assert router2.ch.meta["order"] == "reused"
    assert np.array_equal(router2.ch.order, router.ch.order)
    assert np.array_equal(router2.network.travel_time_s, np.rint(new_times).astype(np.int32))
    assert router2.network.weights_fingerprint() != net.weights_fingerprint()

    assert np.array_equal(router2.travel_time(s, t), scipy_pairs(router2.network, s, t))
    sources, targets = s[:60], t[:60]
    assert np.array_equal(router2.matrix(sources, targets), scipy_rows(router2.network, sources)[:, targets])
    for a, b in zip(s[:50].tolist(), t[:50].tolist(), strict=True):
        path = router2.path(a, b)
        assert_valid_path(router2.network, path, a, b, router2.travel_time(a, b))
        assert router2.path_length_m(a, b) == path.length_m  # the new router's own arcs

    # The original router and network are unchanged.
    assert router.network is net
    assert np.array_equal(router.travel_time(s, t), before)
    assert np.array_equal(before, scipy_pairs(net, s, t))


def test_with_travel_times_validates_the_times(dongjak_router):
    with pytest.raises(InvalidArgumentError) as info:
        dongjak_router.with_travel_times(np.zeros(dongjak_router.network.num_edges))
    assert info.value.field == "travel_time_s"


def test_hierarchy_for_other_times_is_refused(dongjak_net, dongjak_router):
    other = dongjak_net.with_travel_times(dongjak_net.travel_time_s + 1)
    with pytest.raises(InvalidArgumentError) as info:
        Router(other, dongjak_router.ch)
    assert info.value.field == "ch"
    with pytest.raises(InvalidArgumentError) as info:
        dongjak_router.ch.with_travel_times(split_network())
    assert info.value.field == "network"


def test_hierarchy_build_arguments_are_checked(dongjak_net):
    with pytest.raises(InvalidArgumentError) as info:
        ContractionHierarchy.build(dongjak_net, witness_settle_limit=0)
    assert info.value.field == "witness_settle_limit"
    with pytest.raises(InvalidArgumentError) as info:
        ContractionHierarchy.build(dongjak_net, order=np.zeros(dongjak_net.num_nodes, np.int32))
    assert info.value.field == "order"


# ============================================================================ invalid node ids
def _bad_ids(n: int) -> list:
    return [-1, n, 1.5, "a"]


def _assert_node_error(exc: InvalidArgumentError, field: str, bad, n: int) -> None:
    assert exc.field == field
    text = str(exc)
    assert text.startswith(f"{field}:")
    if isinstance(bad, int):
        assert f"0 .. {n - 1}" in text  # the allowed range
        assert str(bad) in text
    else:
        assert "integer" in text


@pytest.mark.parametrize("index", range(4), ids=["minus-one", "n", "float", "string"])
def test_invalid_node_ids_in_router_queries(dongjak_net, dongjak_router, index):
    n = dongjak_net.num_nodes
    bad = _bad_ids(n)[index]
    router = dongjak_router
    calls = [
        ("source", lambda: router.travel_time(bad, 0)),
        ("target", lambda: router.travel_time(0, bad)),
        ("source", lambda: router.travel_time(np.array([0, bad]), 1)),
        ("target", lambda: router.travel_time([0, 1], np.array([1, bad]))),
        ("sources", lambda: router.matrix([bad], [0])),
        ("targets", lambda: router.matrix([0], [1, bad])),
        ("source", lambda: router.path(bad, 0)),
        ("target", lambda: router.path(0, bad)),
    ]
    for field, call in calls:
        with pytest.raises(InvalidArgumentError) as info:
            call()
        _assert_node_error(info.value, field, bad, n)


@pytest.mark.parametrize("index", range(4), ids=["minus-one", "n", "float", "string"])
def test_invalid_node_ids_in_dijkstra_functions(dongjak_net, index):
    n = dongjak_net.num_nodes
    bad = _bad_ids(n)[index]
    net = dongjak_net
    calls = [
        ("source", lambda: dijkstra_one_to_all(net, bad)),
        ("source", lambda: dijkstra_one_to_many(net, bad, [0])),
        ("targets", lambda: dijkstra_one_to_many(net, 0, [bad])),
        ("target", lambda: dijkstra_one_to_one(net, 0, bad)),
        ("sources", lambda: dijkstra_matrix(net, [bad], [0])),
        ("targets", lambda: dijkstra_matrix(net, [0], [bad])),
        ("sources", lambda: bidirectional_dijkstra(net, [bad], [0])),
        ("targets", lambda: bidirectional_dijkstra(net, [0], [bad])),
    ]
    for field, call in calls:
        with pytest.raises(InvalidArgumentError) as info:
            call()
        _assert_node_error(info.value, field, bad, n)


def test_non_integer_node_id_errors_name_the_allowed_range(dongjak_net, dongjak_router):
    n = dongjak_net.num_nodes
    for call in (
        lambda: dongjak_router.travel_time(1.5, 0),
        lambda: dongjak_router.matrix(["a"], [0]),
        lambda: dijkstra_one_to_all(dongjak_net, 1.5),
    ):
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert f"0 .. {n - 1}" in str(info.value)


def test_booleans_are_not_node_ids(dongjak_router):
    with pytest.raises(InvalidArgumentError):
        dongjak_router.travel_time(True, 1)
    with pytest.raises(InvalidArgumentError):
        dongjak_router.matrix(np.array([True, False]), [1])


# ============================================================================ hierarchy cache
def assert_same_hierarchy(a: ContractionHierarchy, b: ContractionHierarchy) -> None:
    for name in ContractionHierarchy.ARRAY_FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.fingerprint == b.fingerprint and a.num_edges == b.num_edges


def test_router_cache_round_trip(tmp_path, monkeypatch, helsinki_net):
    first = Router.from_network(helsinki_net, cache_dir=tmp_path)
    path = ch_cache_path(helsinki_net, cache_dir=tmp_path)
    assert path.is_file() and path.is_relative_to(tmp_path)
    assert first.ch.meta["cache_path"] == str(path)

    def no_build(*args, **kwargs):
        raise AssertionError("the hierarchy should have been read from the cache")

    monkeypatch.setattr(ContractionHierarchy, "build", no_build)
    second = Router.from_network(helsinki_net, cache_dir=tmp_path)
    assert second.ch is not first.ch
    assert second.ch.meta["cache_path"] == str(path)
    assert_same_hierarchy(first.ch, second.ch)
    s, t = random_pairs(helsinki_net, 300, rng_for("cache"))
    assert np.array_equal(second.travel_time(s, t), scipy_pairs(helsinki_net, s, t))


def test_router_cache_is_keyed_by_travel_times(tmp_path, helsinki_net):
    Router.from_network(helsinki_net, cache_dir=tmp_path)
    slower = helsinki_net.with_travel_times(helsinki_net.travel_time_s * 2)
    router = Router.from_network(slower, cache_dir=tmp_path)
    assert router.ch.fingerprint == slower.weights_fingerprint() != helsinki_net.weights_fingerprint()
    assert ch_cache_path(slower, cache_dir=tmp_path) != ch_cache_path(helsinki_net, cache_dir=tmp_path)
    assert len(list((tmp_path / "networks").glob("*.npz"))) == 2
    s, t = random_pairs(slower, 300, rng_for("keyed"))
    assert np.array_equal(router.travel_time(s, t), scipy_pairs(slower, s, t))


def test_router_cache_with_a_stale_or_broken_file_is_rebuilt(tmp_path, dongjak_net, dongjak_router):
    slower = dongjak_net.with_travel_times(dongjak_net.travel_time_s + 5)
    path = ch_cache_path(slower, cache_dir=tmp_path)
    # A hierarchy of the other times sitting under this name must not be used.
    dongjak_router.ch.save(path)
    router = Router.from_network(slower, cache_dir=tmp_path)
    assert router.ch.fingerprint == slower.weights_fingerprint()
    s, t = random_pairs(slower, 300, rng_for("stale"))
    assert np.array_equal(router.travel_time(s, t), scipy_pairs(slower, s, t))
    # Nor may a corrupt file break the router.
    path.write_bytes(b"not a hierarchy")
    router = Router.from_network(slower, cache_dir=tmp_path)
    assert np.array_equal(router.travel_time(s, t), scipy_pairs(slower, s, t))
    assert ContractionHierarchy.load(path).fingerprint == slower.weights_fingerprint()


def test_router_without_cache_writes_nothing(tmp_path, dongjak_net):
    router = Router.from_network(dongjak_net, cache=False, cache_dir=tmp_path)
    assert "cache_path" not in router.ch.meta
    assert list(tmp_path.iterdir()) == []


# ============================================================================ threads
def test_concurrent_queries_from_several_threads(synthetic_net, synthetic_router):
    s, t = random_pairs(synthetic_net, 400, rng_for("threads"))
    expected = scipy_pairs(synthetic_net, s, t)
    start = threading.Barrier(4)

    def work(offset: int) -> bool:
        start.wait()
        idx = np.roll(np.arange(s.size), offset * 100)
        scalar_ok = all(synthetic_router.travel_time(int(s[i]), int(t[i])) == expected[i] for i in idx[:100].tolist())
        vector_ok = np.array_equal(synthetic_router.travel_time(s[idx], t[idx]), expected[idx])
        path_ok = all(synthetic_router.path(int(s[i]), int(t[i])).travel_time_s == expected[i] for i in idx[:30])
        matrix_ok = np.array_equal(
            synthetic_router.matrix(s[idx[:20]], t[:20]), scipy_rows(synthetic_net, s[idx[:20]])[:, t[:20]]
        )
        return scalar_ok and vector_ok and path_ok and matrix_ok

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, range(4)))


def test_warm_up_runs(isolated_cache_dir):
    assert routing.warm_up() >= 0.0
