"""The location pool and its bucket index: bounded slots, recycled slots with the right times.

The oracle is the router itself (:meth:`Router.matrix` / :meth:`Router.travel_time`, tested
against Dijkstra elsewhere): every pair of slots the pool holds must have the router's time,
after any sequence of acquisitions, releases, evictions, growth and traffic updates.
"""

from __future__ import annotations

import numpy as np
import pytest

from routing import InvalidArgumentError, LocationPool, RoadNetwork, Router, longest_travel_time


@pytest.fixture(scope="module")
def router(synthetic_net: RoadNetwork) -> Router:
    return Router(synthetic_net)


def held_times_are_the_routers(pool: LocationPool, router: Router) -> None:
    slots = np.flatnonzero(pool.place >= 0)
    nodes = pool.place_node[pool.place[slots]]
    assert np.array_equal(pool.matrix[np.ix_(slots, slots)], router.matrix(nodes, nodes).astype(np.float64))
    free = np.flatnonzero(pool.place < 0)
    assert not pool.matrix[free].any() and not pool.matrix[:, free].any()


def test_a_long_random_run_stays_within_the_bound(router: Router) -> None:
    places = np.arange(0, router.network.num_nodes, 2)
    pool = LocationPool(router, places, initial_slots=8)
    rng = np.random.default_rng(7)
    mine: list[int] = []  # the references the test holds, one entry per reference
    peak = 0
    for step in range(6000):
        # the number held drifts up and down (a fleet's day), so the pool must grow, then recycle
        target = 40 + int(30 * np.sin(step / 500))
        if mine and (len(mine) > target or rng.random() < 0.3):
            pool.release(mine.pop(int(rng.integers(len(mine)))))
        else:
            mine.append(pool.acquire(int(rng.integers(len(places)))))
        referenced = len(set(mine))
        peak = max(peak, referenced)
        assert pool.referenced == referenced
        assert pool.capacity <= max(8, 2 * pool.peak_referenced)
        assert pool.held <= pool.capacity
    assert pool.peak_referenced == peak
    assert pool.capacity < len(places) // 4
    assert pool.computed > 3 * pool.capacity  # slots were recycled many times
    counts = np.bincount(np.asarray(mine, np.int64), minlength=pool.capacity)
    assert np.array_equal(pool.refs, counts)
    held_times_are_the_routers(pool, router)


def test_recycled_slots_have_the_new_places_times(router: Router) -> None:
    n = router.network.num_nodes
    pool = LocationPool(router, np.arange(n), initial_slots=4)
    rng = np.random.default_rng(3)
    keep = [pool.acquire(int(p)) for p in rng.choice(n, 3, replace=False)]
    for _ in range(200):  # one slot left: every new place evicts the last one
        place = int(rng.integers(n))
        slot = pool.acquire(place)
        others = [int(pool.place[s]) for s in keep]
        assert pool.capacity == 4
        assert pool.matrix[slot, keep].tolist() == [router.travel_time(place, o) for o in others]
        assert pool.matrix[keep, slot].tolist() == [router.travel_time(o, place) for o in others]
        assert pool.matrix[slot, slot] == 0.0
        pool.release(slot)
    held_times_are_the_routers(pool, router)


def test_an_idle_slot_is_a_cache(router: Router) -> None:
    pool = LocationPool(router, np.arange(router.network.num_nodes), initial_slots=4)
    a = pool.acquire(10)
    pool.release(a)
    before = pool.computed
    assert pool.acquire(10) == a and pool.computed == before  # nothing computed again
    assert pool.held == 1 and pool.referenced == 1


def test_new_travel_times_recompute_the_slots_in_use(router: Router, synthetic_net: RoadNetwork) -> None:
    pool = LocationPool(router, np.arange(synthetic_net.num_nodes), initial_slots=16)
    used = [pool.acquire(p) for p in (5, 50, 500, 1500)]
    pool.release(pool.acquire(900))  # idle: let go by the update
    slower = router.with_travel_times(synthetic_net.travel_time_s * 2)
    pool.retime(slower)
    assert pool.held == 4 and pool.referenced == 4
    held_times_are_the_routers(pool, slower)
    assert pool.matrix[used[0], used[1]] == 2 * router.travel_time(5, 50)


def test_bad_input_is_named(router: Router) -> None:
    n = router.network.num_nodes
    with pytest.raises(InvalidArgumentError, match="place_node"):
        LocationPool(router, [0, n])
    with pytest.raises(InvalidArgumentError, match="initial_slots"):
        LocationPool(router, [0, 1], initial_slots=1)
    pool = LocationPool(router, [0, 1, 2])
    with pytest.raises(InvalidArgumentError, match="place"):
        pool.acquire(3)
    with pytest.raises(InvalidArgumentError, match="place"):
        pool.slot_of(1)
    slot = pool.acquire(1)
    pool.release(slot)
    with pytest.raises(InvalidArgumentError, match="slot"):
        pool.release(slot)


def test_a_dense_pool_is_the_matrix_itself() -> None:
    m = np.array([[0.0, 5.0], [7.0, 0.0]])
    pool = LocationPool.dense(m)
    assert pool.identity and pool.acquire(1) == 1 and pool.slot_of(0) == 0
    assert pool.matrix[0, 1] == 5.0 and pool.capacity == 2
    with pytest.raises(InvalidArgumentError, match="travel_time"):
        LocationPool.dense(np.zeros((2, 3)))


def test_longest_travel_time_in_blocks(router: Router) -> None:
    nodes = np.arange(0, router.network.num_nodes, 7)
    full = router.matrix(nodes, nodes)
    assert longest_travel_time(router, nodes, block_pairs=20_000) == int(full.max())  # 7 blocks
    sampled = longest_travel_time(router, nodes, max_pairs=nodes.size * 20)  # from and to 10 of them
    picked = nodes[np.linspace(0, nodes.size - 1, 10).astype(np.int64)]
    expected = max(int(router.matrix(picked, nodes).max()), int(router.matrix(nodes, picked).max()))
    assert sampled == expected <= int(full.max())
