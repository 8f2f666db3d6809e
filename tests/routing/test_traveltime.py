"""HierarchyTimes and MatrixTimes agree with Dijkstra, and the cache stays bounded."""

from __future__ import annotations

import numpy as np
import pytest

from routing import HierarchyTimes, InvalidArgumentError, MatrixTimes, Router, TravelTimes, synthetic_city
from routing.dijkstra import dijkstra_one_to_all


@pytest.fixture(scope="module")
def city():
    net = synthetic_city(150, seed=3)
    return net, Router.from_network(net, cache=False)


def test_hierarchy_times_match_dijkstra(city):
    net, router = city
    times = HierarchyTimes(router, cache_pairs=50)
    assert isinstance(times, TravelTimes)
    rng = np.random.default_rng(1)
    src = rng.integers(0, net.num_nodes, 40)
    dst = rng.integers(0, net.num_nodes, 40)
    truth = np.array([dijkstra_one_to_all(net, int(s))[0][int(t)] for s, t in zip(src, dst, strict=True)])
    assert np.array_equal(times.pairs(src, dst), truth)
    assert [times.pair(int(s), int(t)) for s, t in zip(src, dst, strict=True)] == truth.tolist()
    assert times.cached() <= 50
    assert times.hits > 0
    block = times.block(src[:7], dst[:5])
    rows = np.array([dijkstra_one_to_all(net, int(s))[0][dst[:5]] for s in src[:7]])
    assert block.shape == (7, 5) and np.array_equal(block, rows)


def test_matrix_times_agree_with_hierarchy(city):
    net, router = city
    full = router.matrix(np.arange(net.num_nodes), np.arange(net.num_nodes))
    dense, hier = MatrixTimes(full), HierarchyTimes(router, cache_pairs=0)
    nodes = np.arange(0, net.num_nodes, 7)
    assert np.array_equal(dense.block(nodes, nodes[::-1]), hier.block(nodes, nodes[::-1]))
    assert np.array_equal(dense.pairs(nodes, nodes[::-1]), hier.pairs(nodes, nodes[::-1]))
    assert hier.cached() == 0


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda t: t.pair(-1, 0), "sources"),
        (lambda t: t.pairs([0, 1], [2]), "targets"),
        (lambda t: t.block([0], [10**9]), "targets"),
    ],
)
def test_bad_nodes_name_the_field(city, call, field):
    _, router = city
    with pytest.raises(InvalidArgumentError, match=field):
        call(HierarchyTimes(router))


def test_bad_matrix_and_cache_size():
    with pytest.raises(InvalidArgumentError, match="matrix"):
        MatrixTimes(np.zeros((2, 3)))
    with pytest.raises(InvalidArgumentError, match="matrix"):
        MatrixTimes(np.array([[0.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(InvalidArgumentError, match="cache_pairs"):
        HierarchyTimes(None, cache_pairs=-1)  # type: ignore[arg-type]


@pytest.mark.parametrize("reverse", [False, True])
def test_within_finds_exactly_the_nodes_in_reach(city, reverse):
    net, router = city
    full = router.matrix(np.arange(net.num_nodes), np.arange(net.num_nodes))
    node, limit = 17, int(np.median(full[17]))
    truth = full[:, node] if reverse else full[node]
    for times in (HierarchyTimes(router), MatrixTimes(full)):
        nodes, secs = times.within(node, limit, reverse=reverse)
        assert set(nodes.tolist()) == set(np.flatnonzero(truth <= limit).tolist())
        assert np.array_equal(secs, truth[nodes])
        assert np.all(np.diff(secs) >= 0) and nodes[0] == node
    with pytest.raises(InvalidArgumentError, match="max_s"):
        HierarchyTimes(router).within(node, -5)
