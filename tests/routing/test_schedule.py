"""Schedule and insertion kernels against brute force: every insertion position enumerated,
each candidate route scheduled by plain Bellman-Ford (tests/naive.py)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from routing import schedule as S
from routing.problem import DELIVERY, END, PICKUP, START, PDProblem
from tests.naive import naive_schedule


def random_problem(
    rng: np.random.Generator,
    *,
    requests: int,
    vehicles: int,
    dims: int = 1,
    open_routes: bool = False,
    onboard: int = 0,
) -> PDProblem:
    """Random tight instance: small windows, short ride limits, small capacity.

    The first ``onboard`` requests are already on board vehicle 0 (no pickup node).
    """
    r_count = requests
    n = 2 * r_count + 2 * vehicles
    kind = np.empty(n, int)
    xy = rng.uniform(0, 10, (n, 2))
    early = np.zeros(n)
    late = np.full(n, 200.0)
    service = np.zeros(n)
    demand = np.zeros((n, dims), int)
    kind[:r_count] = PICKUP
    kind[r_count : 2 * r_count] = DELIVERY
    starts = 2 * r_count + np.arange(vehicles)
    ends = 2 * r_count + vehicles + np.arange(vehicles)
    kind[starts] = START
    kind[ends] = END
    for r in range(r_count):
        demand[r, 0] = rng.integers(1, 3)
        if dims > 1:
            demand[r, 1] = rng.integers(0, 2)
        demand[r_count + r] = -demand[r]
        t = rng.uniform(0, 100)
        if rng.random() < 0.5:
            early[r], late[r] = t, t + rng.uniform(0, 6)
        else:
            late[r_count + r] = t + rng.uniform(8, 25)
        service[r] = rng.integers(0, 3)
        service[r_count + r] = rng.integers(0, 3)
    pickup = np.arange(r_count)
    pickup[:onboard] = -1
    # The pickup nodes of on-board requests stay in the table but belong to no request.
    request_vehicle = np.full(r_count, -1)
    request_vehicle[:onboard] = 0
    start_load = np.zeros((vehicles, dims), int)
    start_load[0] = -demand[r_count : r_count + onboard].sum(axis=0)
    capacity = np.full((vehicles, dims), 2)
    capacity[0] = np.maximum(capacity[0], start_load[0])
    tt = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    prob = PDProblem.create(
        name="random",
        kind=kind,
        tw_early=early,
        tw_late=late,
        service=service,
        demand=demand,
        pickup=pickup,
        delivery=r_count + np.arange(r_count),
        max_ride=rng.uniform(3, 12, r_count),
        request_vehicle=request_vehicle,
        vehicle_start=starts,
        vehicle_end=np.full(vehicles, -1) if open_routes else ends,
        capacity=capacity,
        start_load=start_load,
        travel_time=tt,
        max_duration=np.full(vehicles, rng.uniform(40, 120)),
    )
    return prob


class Fleet:
    """Routes plus their prepared state, driven through the kernels."""

    def __init__(self, prob: PDProblem) -> None:
        self.prob = prob
        self.a = S.kernel_arrays(prob)
        k = prob.num_vehicles
        self.m_max = 2 * prob.num_requests + 4
        self.rt = S.empty_route_state(k, self.m_max, prob.num_dims)
        self.routes = self.rt.nodes
        self.rlen = self.rt.length
        for v in range(k):
            self.routes[v, 0] = prob.vehicle_start[v]
            self.rlen[v] = 1
            if prob.vehicle_end[v] >= 0:
                self.routes[v, 1] = prob.vehicle_end[v]
                self.rlen[v] = 2
        self.sc = S.insertion_scratch(self.m_max, prob.num_nodes)

    def route(self, v: int) -> list[int]:
        return [int(x) for x in self.routes[v, : self.rlen[v]]]

    def set_route(self, v: int, nodes: list[int]) -> bool:
        self.routes[v, : len(nodes)] = nodes
        self.rlen[v] = len(nodes)
        return self.prepare(v)

    def prepare(self, v: int) -> bool:
        return bool(S.prepare_route(v, self.a, self.rt, self.sc.position))

    def best(self, v: int, p: int, d: int, w: np.ndarray) -> tuple[float, int, int]:
        c, i, j = S.best_insertion(v, p, d, self.a, self.rt, S.CostWeights(*(float(x) for x in w)), self.sc)
        return float(c), int(i), int(j)


def capacity_ok(prob: PDProblem, v: int, seq: list[int]) -> bool:
    load = prob.start_load[v].copy()
    for node in seq[1:]:
        load += prob.demand[node]
        if (load > prob.capacity[v]).any() or (load < 0).any():
            return False
    return True


def brute_best(prob: PDProblem, v: int, route: list[int], p: int, d: int, w: np.ndarray) -> tuple[float, int, int]:
    """Every position pair, each scheduled from scratch."""
    closed = prob.vehicle_end[v] >= 0
    last = len(route) - 1 if closed else len(route)
    cc = prob.travel_cost
    base = sum(cc[route[k - 1], route[k]] for k in range(1, len(route)))
    old_b = naive_schedule(prob, v, route)
    best = (np.inf, -1, -1)
    pairs = (
        [(i, j) for i in range(1, last + 1) for j in range(i, last + 1)]
        if p >= 0
        else [(j, j) for j in range(1, last + 1)]
    )
    for i, j in pairs:
        seq = route[:i] + ([p] if p >= 0 else []) + route[i:j] + [d] + route[j:]
        if not capacity_ok(prob, v, seq):
            continue
        b = naive_schedule(prob, v, seq)
        if b is None:
            continue
        cost = w[0] * (sum(cc[seq[k - 1], seq[k]] for k in range(1, len(seq))) - base)
        others = [k for k, node in enumerate(seq) if node not in (p, d)]
        for new_k, old_k in zip(others, range(len(route)), strict=True):
            delay = b[new_k] - old_b[old_k]
            if old_k and delay > 1e-6:
                cost += w[1] * delay * abs(prob.demand[seq[new_k], 0])
        if p >= 0:
            cost += w[2] * prob.demand[p, 0] * (b[i] - prob.tw_early[p])
        if cost < best[0] - 1e-9:
            best = (cost, i, j)
    return best


def build_and_compare(rng: np.random.Generator, prob: PDProblem, w: np.ndarray) -> tuple[int, int]:
    """Insert the requests one by one (best vehicle each time), comparing with brute force."""
    fleet = Fleet(prob)
    for v in range(prob.num_vehicles):
        assert fleet.prepare(v)
    onboard = np.flatnonzero(prob.pickup < 0)
    for r in onboard:  # on-board deliveries first, on their vehicle
        v = int(prob.request_vehicle[r])
        kern = fleet.best(v, -1, int(prob.delivery[r]), w)
        brute = brute_best(prob, v, fleet.route(v), -1, int(prob.delivery[r]), w)
        assert kern[0] == pytest.approx(brute[0], abs=1e-6) or (np.isinf(kern[0]) and np.isinf(brute[0]))
        if np.isfinite(kern[0]):
            route = fleet.route(v)
            route.insert(kern[2], int(prob.delivery[r]))
            assert fleet.set_route(v, route)
    compared = feasible = 0
    for r in rng.permutation(np.flatnonzero(prob.pickup >= 0)):
        p, d = int(prob.pickup[r]), int(prob.delivery[r])
        best = None
        for v in range(prob.num_vehicles):
            kern = fleet.best(v, p, d, w)
            brute = brute_best(prob, v, fleet.route(v), p, d, w)
            compared += 1
            if np.isinf(brute[0]):
                assert np.isinf(kern[0]), (fleet.route(v), p, d, kern)
                continue
            feasible += 1
            assert kern[0] == pytest.approx(brute[0], abs=1e-6), (fleet.route(v), p, d, kern, brute)
            if best is None or kern[0] < best[0]:
                best = (kern[0], v, kern[1], kern[2])
        if best is not None:
            _, v, i, j = best
            route = fleet.route(v)
            new = [*route[:i], p, *route[i:j], d, *route[j:]]
            assert fleet.set_route(v, new)
            assert naive_schedule(prob, v, new) is not None
    return compared, feasible


@pytest.mark.parametrize("weights", [(1.0, 0.0, 0.0), (1.0, 0.7, 0.3)], ids=["cost", "cost+delay+wait"])
@pytest.mark.parametrize("variant", ["closed", "open", "two-dims", "onboard"])
def test_best_insertion_equals_brute_force(variant: str, weights: tuple[float, float, float]) -> None:
    # a fixed seed per case (str hashes change from run to run with PYTHONHASHSEED)
    rng = np.random.default_rng(zlib.crc32(f"{variant} {weights}".encode()))
    w = np.array(weights)
    compared = feasible = 0
    for _ in range(40):
        prob = random_problem(
            rng,
            requests=int(rng.integers(3, 8)),
            vehicles=2,
            dims=2 if variant == "two-dims" else 1,
            open_routes=variant == "open",
            onboard=2 if variant == "onboard" else 0,
        )
        c, f = build_and_compare(rng, prob, w)
        compared += c
        feasible += f
    # The instances must exercise both outcomes.
    assert compared > 200
    assert 0.2 * compared < feasible < 0.95 * compared


def test_schedule_waits_before_a_pickup_when_the_ride_limit_needs_it() -> None:
    # start(0) -> P(1) -> X(2, opens late) -> D(3): leaving P early makes the ride too long,
    # so the earliest feasible schedule starts the pickup later.
    kind = [START, PICKUP, PICKUP, DELIVERY, DELIVERY, END]
    tt = np.ones((6, 6))
    prob = PDProblem.create(
        name="wait",
        kind=kind,
        tw_early=[0, 0, 10, 0, 0, 0],
        tw_late=[100] * 6,
        service=[0] * 6,
        demand=[0, 1, 1, -1, -1, 0],
        pickup=[1, 2],
        delivery=[3, 4],
        max_ride=[5.0, 100.0],
        vehicle_start=[0],
        vehicle_end=[5],
        capacity=[2],
        travel_time=tt,
    )
    fleet = Fleet(prob)
    assert fleet.set_route(0, [0, 1, 2, 3, 4, 5])
    b = fleet.rt.service_start[0, :6]
    # X starts at 10, so D at 11; the ride limit 5 puts the pickup at >= 6, not at 1.
    assert b[1] == pytest.approx(6.0)
    assert b[3] == pytest.approx(11.0)
    assert naive_schedule(prob, 0, [0, 1, 2, 3, 4, 5]) == pytest.approx(list(b))
    # With a limit of 0.5 it is infeasible: P to X to D takes at least 2.
    tight = prob.replace(max_ride=np.array([0.5, 100.0]))
    fleet = Fleet(tight)
    assert not fleet.set_route(0, [0, 1, 2, 3, 4, 5])
    assert naive_schedule(tight, 0, [0, 1, 2, 3, 4, 5]) is None


@pytest.mark.parametrize("weights", [(1.0, 0.0, 0.0), (1.0, 0.7, 0.3)], ids=["cost", "cost+delay+wait"])
def test_fleet_insertions_first_best_only_picks_the_same_vehicle(weights: tuple[float, float, float]) -> None:
    """Skipping vehicles that cannot beat an earlier one changes nothing the argmin sees."""
    rng = np.random.default_rng(zlib.crc32(f"first best {weights}".encode()))
    w = S.CostWeights(*weights)
    pruned_any = compared = 0
    for _ in range(60):
        prob = random_problem(rng, requests=int(rng.integers(6, 12)), vehicles=5)
        fleet = Fleet(prob)
        for v in range(prob.num_vehicles):
            assert fleet.prepare(v)
        cands = np.arange(prob.num_vehicles, dtype=np.int64)
        for r in rng.permutation(np.flatnonzero(prob.pickup >= 0)):
            p, d = int(prob.pickup[r]), int(prob.delivery[r])
            out = {}
            for only in (False, True):
                cost = np.full(len(cands), np.inf)
                pos_i = np.full(len(cands), -1, np.int32)
                pos_j = np.full(len(cands), -1, np.int32)
                S.fleet_insertions(cands, p, d, fleet.a, fleet.rt, w, fleet.sc, cost, pos_i, pos_j, only)
                out[only] = (cost, pos_i, pos_j)
            full, pruned = out[False], out[True]
            if not np.isfinite(full[0]).any():
                assert not np.isfinite(pruned[0]).any()
                continue
            k = int(np.argmin(full[0]))
            assert int(np.argmin(pruned[0])) == k
            assert (pruned[0][k], pruned[1][k], pruned[2][k]) == (full[0][k], full[1][k], full[2][k])
            compared += 1
            pruned_any += int(np.sum(np.isfinite(full[0]) & ~np.isfinite(pruned[0])))
            _, i, j = full[0][k], int(full[1][k]), int(full[2][k])
            route = fleet.route(k)
            assert fleet.set_route(k, [*route[:i], p, *route[i:j], d, *route[j:]])
    assert compared > 150 and pruned_any > 50  # the cases exercise the skipping
