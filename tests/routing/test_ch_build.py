"""The contraction hierarchy's construction and its packed query layout (routing/ch.py).

Exactness against Dijkstra is tested in test_shortest_paths.py; these tests pin what the
faster construction and distance queries rely on.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

import routing
from routing import ContractionHierarchy, RoadNetwork, Router
from routing.dijkstra import dijkstra_one_to_all
from tests.routing.test_shortest_paths import slow_chain


def test_query_layout_holds_every_upward_arc_of_each_rank(synthetic_router):
    ch = synthetic_router.ch
    idx, arcs = ch.query_index, ch.query_arcs
    assert idx.shape == (ch.num_nodes + 1, 2)
    assert arcs.shape == (ch.fwd_head.shape[0] + ch.bwd_head.shape[0], 2)
    for r in np.random.default_rng(5).integers(0, ch.num_nodes, 200).tolist():
        up = arcs[idx[r, 0] : idx[r, 1]]
        down = arcs[idx[r, 1] : idx[r + 1, 0]]
        assert np.array_equal(up[:, 0], ch.fwd_head[ch.fwd_ptr[r] : ch.fwd_ptr[r + 1]])
        assert np.array_equal(up[:, 1], ch.fwd_w[ch.fwd_ptr[r] : ch.fwd_ptr[r + 1]])
        assert np.array_equal(down[:, 0], ch.bwd_head[ch.bwd_ptr[r] : ch.bwd_ptr[r + 1]])
        assert np.array_equal(down[:, 1], ch.bwd_w[ch.bwd_ptr[r] : ch.bwd_ptr[r + 1]])
    # Road travel times fit 32 bits: the arcs are packed narrow.
    assert arcs.dtype == np.int32


def test_weights_beyond_32_bits_keep_a_wide_layout_and_stay_exact():
    # 300 edges of the largest edge time, contracted from one end of the inside so that the
    # last shortcut spans them all: shortcuts over 2**31 s must not be truncated.
    net = slow_chain(301, routing.network.MAX_EDGE_TIME_S)
    order = np.array([*range(1, 300), 0, 300], dtype=np.int32)
    router = Router(net, ContractionHierarchy.build(net, order=order))
    assert max(router.ch.fwd_w.max(), router.ch.bwd_w.max()) >= 2**31
    assert router.ch.query_arcs.dtype == np.int64
    expected, _ = dijkstra_one_to_all(net, 0)
    every = np.arange(net.num_nodes)
    assert np.array_equal(router.travel_time(np.zeros_like(every), every), expected)
    assert router.travel_time(0, 300) == 300 * routing.network.MAX_EDGE_TIME_S


def test_batched_and_single_queries_agree_with_dijkstra(synthetic_net, synthetic_router):
    rng = np.random.default_rng(11)
    sources = rng.integers(0, synthetic_net.num_nodes, 20)
    for s in sources.tolist():
        expected, _ = dijkstra_one_to_all(synthetic_net, s)
        targets = rng.integers(0, synthetic_net.num_nodes, 300)
        assert np.array_equal(synthetic_router.travel_time(np.full(300, s), targets), expected[targets])
        assert [synthetic_router.travel_time(s, t) for t in targets[:30].tolist()] == expected[targets[:30]].tolist()


def test_the_order_does_not_depend_on_the_number_of_threads():
    # On graphs this large the first importances are computed in parallel chunks; each node's
    # is independent of the chunking, so the hierarchy is the same on any machine.
    net = routing.synthetic_city(20_000, seed=3)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = ContractionHierarchy.build(net)
    finally:
        numba.set_num_threads(threads)
    many = ContractionHierarchy.build(net)
    assert np.array_equal(one.order, many.order)
    assert np.array_equal(one.fwd_w, many.fwd_w) and np.array_equal(one.bwd_w, many.bwd_w)


def test_reused_order_gives_the_same_hierarchy(synthetic_net, synthetic_router):
    again = ContractionHierarchy.build(synthetic_net, order=synthetic_router.ch.order)
    for name in ContractionHierarchy.ARRAY_FIELDS:
        assert np.array_equal(getattr(again, name), getattr(synthetic_router.ch, name)), name


@pytest.mark.parametrize("heavier", [True, False])
def test_a_shortcut_never_replaces_a_lighter_arc(heavier):
    # 0 -> 1 -> 2 costs 2; the direct 0 -> 2 costs 5 (replaced by the shortcut) or 1 (kept).
    direct = 5 if heavier else 1
    tail, head, times = [0, 1, 0, 2, 1, 2], [1, 2, 2, 0, 0, 1], [1, 1, direct, 1, 1, 1]
    coords = np.arange(3, dtype=np.float64)
    net = RoadNetwork.from_edges(
        tail=tail, head=head, travel_time_s=times, length_m=np.ones(6), lat=coords, lon=coords, x_m=coords,
        y_m=coords,
    )  # fmt: skip
    for order in ([1, 0, 2], [1, 2, 0]):
        ch = ContractionHierarchy.build(net, order=np.array(order, dtype=np.int32))
        router = Router(net, ch)
        assert router.travel_time(0, 2) == min(direct, 2)
        assert router.path(0, 2).travel_time_s == min(direct, 2)
