"""The shared taxi's simulated day: limits kept, no teleporting, seats, determinism, the baseline,
turning mid-way, the checks themselves, demand and scenarios."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from matching import StopKind
from matching.pooling import PoolingParams
from matching.pooling.ledger import PoolingLedger
from matching.pooling.model import PlannedTaxiStop, TaxiRequest, TaxiRideStatus, TaxiSpec
from routing import HierarchyTimes, Router, synthetic_city
from sim.demand import (
    busiest_hour,
    read_start_nodes,
    road_length_weights,
    taxi_demand_from_reqs,
    taxi_demand_on_network,
    taxi_start_nodes,
)
from sim.scenario import TAXI_CHICAGO, Scenario, ScenarioError, TaxiScenario, load_scenario
from sim.taxi import (
    DRIVE_COLUMNS,
    REBALANCE,
    TaxiSimulation,
    advance_positions,
    run_taxi_scenario,
    simulate_taxis,
)
from sim.taxi_kpi import pooled_rides, taxi_kpis, validate_taxi_day

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def city():
    net = synthetic_city(400, seed=7)
    router = Router.from_network(net, cache=False)
    return net, router, HierarchyTimes(router)


def _fleet(n: int, num_nodes: int, seed: int = 0) -> list[TaxiSpec]:
    rng = np.random.default_rng(seed)
    return [TaxiSpec(f"taxi{v}", int(node)) for v, node in enumerate(rng.integers(0, num_nodes, n))]


def _requests(n: int, num_nodes: int, seed: int, horizon_s: int, sizes=(1, 1, 1, 2)) -> list[TaxiRequest]:
    rng = np.random.default_rng(seed)
    out = []
    for i, t in enumerate(np.sort(rng.integers(0, horizon_s, n)).tolist()):
        o, d = (int(x) for x in rng.choice(num_nodes, 2, replace=False))
        out.append(
            TaxiRequest(
                id=f"r{i}", origin=o, destination=d, request_time_s=t, passengers=int(rng.choice(sizes)),
                share=bool(rng.random() < 0.9),
            )
        )  # fmt: skip
    return out


# budgets far above what these small batches need: no search is cut by the wall clock (the first batch
# of a process also compiles the kernels), so the same inputs give the same day
PARAMS = PoolingParams(
    capacity=3, max_parties=2, max_wait_s=300, detour_factor=1.6, dwell_s=10, rebalance=False,
    trip_time_budget_s=120.0, batch_deadline_s=120.0,
)  # fmt: skip


def _day(city, *, batch: bool = True, params: PoolingParams = PARAMS, taxis: int = 6, requests: int = 70, seed: int = 3,
         cancellations=None):  # fmt: skip
    net, router, times = city
    fleet = _fleet(taxis, net.num_nodes, seed)
    reqs = _requests(requests, net.num_nodes, seed, 1800)
    out = simulate_taxis(net, router, fleet, reqs, params, start_s=0, end_s=1800, batch=batch, times=times,
                         record_paths=True, cancellations=cancellations)  # fmt: skip
    return out, fleet, reqs


@pytest.fixture(scope="module")
def batch_day(city):
    return _day(city, batch=True)


@pytest.fixture(scope="module")
def insertion_day(city):
    return _day(city, batch=False)


# ---------------------------------------------------------------------------- riders' limits
@pytest.mark.parametrize("mode", ["batch", "insertion"])
def test_every_served_ride_keeps_its_wait_and_detour(city, mode, batch_day, insertion_day):
    out, _, reqs = batch_day if mode == "batch" else insertion_day
    _, _, times = city
    served = [i for i, s in enumerate(out.status) if s == TaxiRideStatus.COMPLETED.value]
    assert len(served) >= len(reqs) // 2  # the fleet is sized to serve most of them
    for i in served:
        req = reqs[i]
        direct = times.pair(req.origin, req.destination)
        pickup, dropoff = int(out.pickup_s[i]), int(out.dropoff_s[i])
        assert 0 <= pickup - req.request_time_s <= PARAMS.max_wait_s
        in_vehicle = dropoff - pickup  # the pickup's dwell included, as in the ride-time limit
        assert direct + PARAMS.dwell_s <= in_vehicle <= PARAMS.max_ride_s(direct)
    unserved = [s for s in out.status if s != TaxiRideStatus.COMPLETED.value]
    assert set(unserved) <= {TaxiRideStatus.REJECTED.value}


def test_the_batch_day_pools_some_rides(batch_day):
    out, _, _ = batch_day
    assert out.drives["parties"].max() >= 2  # the other tests see pooled taxis, not only solo rides
    assert taxi_kpis(out)["pooled_share"] > 0


# ---------------------------------------------------------------------------- movement
def _fastest_edge(net, u: int, v: int) -> int:
    edges = [e for e in range(net.indptr[u], net.indptr[u + 1]) if net.indices[e] == v]
    assert edges, f"no road from {u} to {v}"
    return min(edges, key=lambda e: net.travel_time_s[e])


@pytest.mark.parametrize("mode", ["batch", "insertion"])
def test_taxis_never_teleport(city, mode, batch_day, insertion_day):
    """Each taxi's drives chain on roads, in the time the roads take, and it serves stops where it is."""
    out, fleet, reqs = batch_day if mode == "batch" else insertion_day
    net = city[0]
    d, s = out.drives, out.stops
    legs = defaultdict(list)
    for k in range(d["vehicle"].size):
        legs[int(d["vehicle"][k])].append((int(d["seq"][k]), "drive", k))
    for k in range(s["vehicle"].size):
        legs[int(s["vehicle"][k])].append((int(s["seq"][k]), "stop", k))
    assert out.drive_nodes is not None and len(out.drive_nodes) == d["vehicle"].size
    for v, seq in legs.items():
        here, free = fleet[v].node, 0
        for _, what, k in sorted(seq):
            if what == "stop":
                assert int(s["node"][k]) == here
                assert int(s["time_s"][k]) >= free
                req = reqs[int(s["request"][k])]
                assert int(s["node"][k]) == (req.origin if s["pickup"][k] else req.destination)
                continue
            nodes = out.drive_nodes[k].tolist()
            assert nodes[0] == int(d["from_node"][k]) == here
            assert int(d["depart_s"][k]) >= free
            edges = [_fastest_edge(net, a, b) for a, b in itertools.pairwise(nodes)]
            assert int(d["arrive_s"][k]) - int(d["depart_s"][k]) == sum(int(net.travel_time_s[e]) for e in edges)
            assert int(d["length_m"][k]) == sum(int(net.length_m[e]) for e in edges)
            here, free = nodes[-1], int(d["arrive_s"][k])
    assert validate_taxi_day(out) == []


@pytest.mark.parametrize("mode", ["batch", "insertion"])
def test_seats_are_never_exceeded(mode, batch_day, insertion_day):
    out, _, reqs = batch_day if mode == "batch" else insertion_day
    s = out.stops
    load = defaultdict(int)
    for k in np.argsort(s["seq"]).tolist():
        v = int(s["vehicle"][k])
        load[v] += reqs[int(s["request"][k])].passengers * (1 if s["pickup"][k] else -1)
        assert 0 <= load[v] <= PARAMS.capacity
        assert load[v] == int(s["onboard_after"][k])
    assert int(out.max_onboard.max()) <= PARAMS.capacity
    assert all(x == 0 for x in load.values())  # everyone got out
    assert int(d_max := out.drives["onboard"].max()) <= PARAMS.capacity, d_max


def test_same_inputs_same_day(city, batch_day):
    out, _, _ = batch_day
    again, _, _ = _day(city, batch=True)
    assert again.status == out.status
    for name in ("pickup_s", "dropoff_s", "vehicle"):
        np.testing.assert_array_equal(getattr(again, name), getattr(out, name))
    for col in DRIVE_COLUMNS:
        np.testing.assert_array_equal(again.drives[col], out.drives[col])


def test_the_immediate_baseline_assigns_at_submit_and_never_batches(insertion_day):
    out, _, reqs = insertion_day
    assert out.batch is False and out.batches == []
    assert out.submit_s.size == len(reqs)
    assert {"completed", "rejected"} >= set(out.status)


def test_cancelled_rides_are_not_served_and_taxis_turn_away(city):
    # cancel every third request 20 s after it is made (after the batch that may assign it)
    reqs = _requests(70, city[0].num_nodes, 3, 1800)
    cancel = {r.id: r.request_time_s + 40 for r in reqs[::3]}
    out, _, _ = _day(city, cancellations=cancel)
    by_id = {r.id: i for i, r in enumerate(out.requests)}
    cancelled = [rid for rid in cancel if out.status[by_id[rid]] == "cancelled"]
    assert cancelled
    for rid in cancelled:
        assert out.pickup_s[by_id[rid]] == -1
    assert validate_taxi_day(out) == []


def test_rebalancing_moves_idle_taxis_and_the_ledger_books_them(city):
    params = dataclasses.replace(PARAMS, rebalance=True, max_wait_s=120)
    out, _, _ = _day(city, params=params, taxis=3, requests=60)
    assert "rejected" in out.status  # too few taxis: unserved demand to rebalance toward
    reb = out.drives["kind"] == REBALANCE
    assert reb.any()
    assert (out.drives["onboard"][reb] == 0).all()
    km = taxi_kpis(out)["vehicle_km"]["rebalancing"]
    assert out.ledger is not None
    assert out.ledger["vehicle_km_rebalancing"] == pytest.approx(km, abs=1e-3)
    assert out.ledger["vehicle_km"] == pytest.approx(taxi_kpis(out)["vehicle_km"]["total"], abs=1e-3)
    assert validate_taxi_day(out) == []


# ---------------------------------------------------------------------------- turning mid-way
class _ScriptedDispatcher:
    """A stand-in dispatcher whose batches set plans from a script, to watch a taxi turn."""

    def __init__(self, start: int, script: dict[int, list[int]]) -> None:
        self.params = PoolingParams(capacity=4, max_parties=2, rebalance=False, batch_s=30)
        self.batch = True
        self.taxis = [None]
        self.rides: dict = {}
        self.open_rides: dict = {}
        self.ledger = PoolingLedger()
        self.script = script
        self.plan: list[PlannedTaxiStop] = []
        self.located: list[tuple[int, int]] = []  # (node, time)

    def locate(self, vid: str, node: int, time_s: int) -> None:
        self.located.append((node, time_s))

    def run_batch(self, now_s: int):
        if now_s in self.script:
            self.plan = [PlannedTaxiStop(n, StopKind.PICKUP, "x", now_s) for n in self.script[now_s]]

        class Report:
            compute_s = 0.0
            status = "scripted"
            time_s = now_s
            trips = 0

        return Report()

    def next_stops(self, vid: str) -> list[PlannedTaxiStop]:
        return list(self.plan)

    def rebalance(self, now_s: int) -> list:
        return []


def test_a_taxi_sent_elsewhere_turns_at_its_next_node(city):
    net, router, _ = city
    start = 0
    far = max(range(net.num_nodes), key=lambda n: router.travel_time(start, n))
    path = router.path(start, far)
    times = np.concatenate([[30], 30 + np.cumsum(net.travel_time_s[path.edges])])
    k = int(np.searchsorted(times, 60))  # the first node reached at or after the second batch
    on_path = set(path.nodes.tolist())
    other = max(
        (n for n in range(net.num_nodes) if n not in on_path), key=lambda n: router.travel_time(path.nodes[k], n)
    )
    assert router.travel_time(path.nodes[k], other) > 60  # still on the way at the third batch
    d = _ScriptedDispatcher(start, {30: [far], 60: [other], 90: []})
    fleet = [TaxiSpec("t", start)]
    sim = TaxiSimulation(net, router, d, fleet, [], start_s=0, end_s=120, record_paths=True)  # type: ignore[arg-type]
    out = sim.run()
    first = out.drive_nodes[0].tolist()
    assert first == path.nodes[: k + 1].tolist()  # drove toward `far` until that node, not a step further
    assert int(out.drives["arrive_s"][0]) == int(times[k])
    assert (int(path.nodes[k]), int(times[k])) in d.located  # the batch at 60 s planned from there
    p2 = router.path(first[-1], other)  # turned there toward `other` ...
    times2 = times[k] + np.concatenate([[0], np.cumsum(net.travel_time_s[p2.edges])])
    j = int(np.searchsorted(times2, 90))  # ... and, its plan emptied at 90 s, stopped at the next node
    assert len(out.drive_nodes) == 2
    assert out.drive_nodes[1].tolist() == p2.nodes[: j + 1].tolist()
    assert int(out.drives["arrive_s"][1]) == int(times2[j])
    assert out.meta["turns"] == 2
    assert validate_taxi_day(out) == []


def test_advance_positions_matches_a_plain_loop():
    rng = np.random.default_rng(5)
    v, w = 50, 12
    leg_len = rng.integers(1, w + 1, v)
    leg_time = np.sort(rng.integers(0, 500, (v, w)), axis=1)
    moving = rng.random(v) < 0.8
    pos = np.zeros(v, np.int64)
    for now in (0, 100, 250, 600):
        before = pos.copy()
        want = pos.copy()
        for i in range(v):
            if moving[i]:
                while want[i] < leg_len[i] - 1 and leg_time[i, want[i]] < now:
                    want[i] += 1
        changed = np.zeros(v, np.int64)
        count = advance_positions(now, leg_time, leg_len, pos, moving, changed)
        np.testing.assert_array_equal(pos, want)
        assert changed[:count].tolist() == np.flatnonzero(want != before).tolist()
    assert pos.max() > 0


# ---------------------------------------------------------------------------- the checks
def test_the_checks_find_broken_rules(batch_day):
    out, _, reqs = batch_day
    bad = dataclasses.replace(out, drives={k: v.copy() for k, v in out.drives.items()}, pickup_s=out.pickup_s.copy())
    k = int(np.flatnonzero(bad.drives["from_node"] != bad.drives["to_node"])[3])
    bad.drives["from_node"][k] = (bad.drives["from_node"][k] + 1) % out.network.num_nodes
    i = int(np.flatnonzero(np.asarray(out.status) == "completed")[0])
    bad.pickup_s[i] = reqs[i].request_time_s - 5
    found = " | ".join(validate_taxi_day(bad))
    assert "teleport" in found or "starts at node" in found
    assert "before its request" in found
    assert validate_taxi_day(out) == []


def test_pooled_rides_recount_from_the_stops(batch_day):
    out, _, _ = batch_day
    served = np.asarray(out.status) == "completed"
    np.testing.assert_array_equal(pooled_rides(out)[served], out.shared[served])


# ---------------------------------------------------------------------------- demand
def test_release_times_follow_the_file_and_profile(data_dir, tmp_path):
    path = data_dir / "rideshare" / "manhattan" / "Manhattan.2.reqs"
    a = taxi_demand_from_reqs(path, num_nodes=4333, profile=TAXI_CHICAGO, start_s=0, end_s=86_400, seed=4)
    b = taxi_demand_from_reqs(path, num_nodes=4333, profile=TAXI_CHICAGO, start_s=0, end_s=86_400, seed=4)
    assert a.ids == b.ids and np.array_equal(a.request_time_s, b.request_time_s)
    assert np.all(np.diff(a.request_time_s) >= 0) and a.request_time_s.min() >= 0 and a.request_time_s.max() < 86_400
    raw = np.loadtxt(path, dtype=np.int64)
    assert a.ids[0] == f"r{raw[0, 0]}" and a.origin[0] == raw[0, 1] and a.destination[0] == raw[0, 2]
    hours = np.bincount(a.request_time_s // 3600, minlength=24)
    expected = np.asarray(TAXI_CHICAGO) / sum(TAXI_CHICAGO) * a.size
    assert np.all(np.abs(hours - expected) < 5 * np.sqrt(expected) + 5)  # Poisson-sized deviations only
    assert busiest_hour(a.request_time_s) == int(np.argmax(hours)) * 3600


def test_the_taxi_chicago_profile_is_the_bundled_sample(data_dir):
    import csv

    counts = [0] * 24
    with open(data_dir / "demand" / "chicago_taxi_sample.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            counts[int(row["trip_start_hour"])] += 1
    assert tuple(float(c) for c in counts) == TAXI_CHICAGO


def test_points_follow_the_roads_and_start_nodes_are_listed_first(city):
    net = city[0]
    w = road_length_weights(net)
    assert w.sum() == pytest.approx(float(np.asarray(net.length_m).sum()))
    dem = taxi_demand_on_network(net, total=300, profile=TAXI_CHICAGO, start_s=0, end_s=86_400, seed=2)
    assert np.all(dem.origin != dem.destination) and dem.size == 300
    assert np.all(w[dem.origin] > 0)
    nodes = taxi_start_nodes(10, listed=[5, 6, 7], origins=dem.origin, seed=1)
    assert nodes[:3].tolist() == [5, 6, 7] and set(nodes[3:].tolist()) <= set(dem.origin.tolist())
    assert np.array_equal(nodes, taxi_start_nodes(10, listed=[5, 6, 7], origins=dem.origin, seed=1))


def test_the_manhattan_vehicle_file_is_read_in_order(data_dir):
    nodes = read_start_nodes(data_dir / "rideshare" / "manhattan" / "Manhattan.drv", 4333)
    raw = np.loadtxt(data_dir / "rideshare" / "manhattan" / "Manhattan.drv", dtype=np.int64)
    assert nodes.tolist() == raw[:, 1].tolist() and nodes.size == 300


# ---------------------------------------------------------------------------- scenarios
def test_the_bundled_shared_taxi_scenarios_load(data_dir):
    for name in ("imoa_dongjak", "imoa_manhattan"):
        sc = load_scenario(SCENARIOS / f"{name}.toml", data_dir=data_dir)
        assert isinstance(sc, TaxiScenario) and sc.name == name
    man = load_scenario(SCENARIOS / "imoa_manhattan.toml", data_dir=data_dir)
    assert man.fleet.vehicles == 2000 and man.pooling.capacity == 4 and man.pooling.max_delay_s == 600
    assert isinstance(load_scenario(SCENARIOS / "imod_jamsil.toml", data_dir=data_dir), Scenario)
    with pytest.raises(ScenarioError, match=r"service\.kind"):
        Scenario.from_toml(SCENARIOS / "imoa_dongjak.toml", data_dir=data_dir)


def test_bad_shared_taxi_scenarios_name_the_field(data_dir):
    doc = {"service": {"kind": "shared_taxi"}, "network": {"kind": "osm", "path": "osm/seoul_dongjak.osm"}}
    with pytest.raises(ScenarioError, match=r"demand\.kind"):
        TaxiScenario.from_dict({**doc, "demand": {"kind": "stops"}}, data_dir=data_dir)
    with pytest.raises(Exception, match=r"pooling\.max_wait_s"):
        TaxiScenario.from_dict({**doc, "pooling": {"max_wait_s": 5}}, data_dir=data_dir)
    with pytest.raises(ScenarioError, match=r"demand\.group_sizes"):
        TaxiScenario.from_dict({**doc, "demand": {"group_sizes": {"9": 1.0}}}, data_dir=data_dir)


def test_an_hour_of_imoa_dongjak_from_the_command_line(data_dir, tmp_path):
    from mobility.cli import main

    text = (SCENARIOS / "imoa_dongjak.toml").read_text()
    text = text.replace('start = "00:00"', 'start = "18:00"').replace('end = "24:00"', 'end = "19:00"')
    text = text.replace("total = 4000", "total = 150")
    (tmp_path / "short.toml").write_text(text)
    assert (
        main(["simulate", str(tmp_path / "short.toml"), "--data-dir", str(data_dir), "--out", str(tmp_path / "run")])
        == 0
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["problems"] == []
    assert summary["kpis"]["requests"]["total"] == 150
    assert summary["kpis"]["requests"]["served"] > 0
    for name in ("rides.csv", "drives.csv", "batches.csv", "report.md"):
        assert (tmp_path / "run" / name).is_file()


def test_run_taxi_scenario_is_deterministic_for_a_seed(data_dir):
    sc = load_scenario(SCENARIOS / "imoa_dongjak.toml", data_dir=data_dir)
    pooling = dataclasses.replace(sc.pooling, trip_time_budget_s=120.0, batch_deadline_s=120.0)  # see PARAMS
    demand = dataclasses.replace(sc.demand, total=60)
    sc = dataclasses.replace(sc, start_s=18 * 3600, end_s=18 * 3600 + 1800, demand=demand, pooling=pooling)
    a = run_taxi_scenario(sc)
    b = run_taxi_scenario(sc)
    assert a.status == b.status
    np.testing.assert_array_equal(a.pickup_s, b.pickup_s)
    np.testing.assert_array_equal(a.start_nodes, b.start_nodes)
    c = run_taxi_scenario(sc, seed=sc.seed + 1)
    assert [r.request_time_s for r in c.requests] != [r.request_time_s for r in a.requests]
