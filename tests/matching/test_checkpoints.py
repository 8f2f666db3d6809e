"""Checkpoints of a semi-fixed route in the dispatcher, on the real Jamsil network.

A hand-made base route A -> B -> C -> A with one minute of slack per segment, pinned to bus0 from
the start of its shift: a request whose detour cannot fit that minute is refused by bus0 (and
goes to bus1 when bus1 is on shift), one along the route is taken, and re-optimisation never
moves, drops or reorders a checkpoint. Times are recounted from the travel-time matrix.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from matching import (
    InvalidValueError,
    Refusal,
    Rejection,
    RejectReason,
    Request,
    ServiceArea,
    ServiceParams,
    StopChoice,
    VehicleState,
)
from matching.dispatcher import Dispatcher
from routing import RoadNetwork, Router, StopSet

H = 3600
SLACK_S = 60
START = 6 * H


@pytest.fixture(scope="module")
def router(jamsil_net: RoadNetwork) -> Router:
    return Router(jamsil_net)


@pytest.fixture(scope="module")
def tt(router: Router, jamsil_stops: StopSet) -> np.ndarray:
    return router.matrix(jamsil_stops.node, jamsil_stops.node).astype(np.int64)


@pytest.fixture(scope="module")
def route(tt: np.ndarray) -> list[int]:
    """Three stops about three minutes apart, the first the depot of bus0 (stop 0)."""
    a = 0
    b = int(np.argmin(np.abs(tt[a] - 200) + 1000 * (np.arange(len(tt)) == a)))
    cost = np.abs(tt[b] - 200) + np.abs(tt[:, a] - 200)
    cost[[a, b]] = 10**9
    return [a, b, int(np.argmin(cost))]


def timetable(route: list[int], tt: np.ndarray, cycles: int) -> tuple[list[int], list[int]]:
    """Checkpoint stops and times: each segment its drive plus SLACK_S, from START on."""
    stops = [*route * cycles, route[0]]
    times = [START]
    for a, b in itertools.pairwise(stops):
        times.append(times[-1] + int(tt[a, b]) + SLACK_S)
    return stops, times


def dispatcher(jamsil_net: RoadNetwork, router: Router, jamsil_stops: StopSet) -> Dispatcher:
    vehicles = [
        VehicleState(
            id=f"bus{k}", seats=8, wheelchair_places=0, depot_stop=depot, shift_start_s=START, shift_end_s=11 * H
        )
        for k, depot in enumerate([0, 20])
    ]
    return Dispatcher(jamsil_net, router, jamsil_stops, vehicles, params=ServiceParams(max_wait_s=600))


def detour_s(tt: np.ndarray, stops: list[int], x: int) -> int:
    """The least extra drive of visiting stop ``x`` between two consecutive checkpoints."""
    return min(int(tt[a, x] + tt[x, b] - tt[a, b]) for a, b in itertools.pairwise(stops))


def checkpoint_route(d: Dispatcher, v: int) -> list[str]:
    return [d.plan.node_ride[n] for n in d.plan.stops(v) if d.plan.node_ride[n] in d.checkpoints]


def test_a_detour_beyond_the_slack_is_refused(
    jamsil_net: RoadNetwork, router: Router, jamsil_stops: StopSet, tt: np.ndarray, route: list[int]
) -> None:
    stops, times = timetable(route, tt, cycles=20)
    d = dispatcher(jamsil_net, router, jamsil_stops)
    ids = d.add_checkpoints("bus0", stops, times)
    assert len(ids) == len(stops) and checkpoint_route(d, 0) == ids
    # A stop whose visit costs more than the slack from every segment, and a destination too.
    far = [x for x in range(len(jamsil_stops)) if detour_s(tt, stops, x) > SLACK_S + 60]
    assert len(far) >= 2, "the network has no stop far enough off the route"
    x, y = far[0], far[-1]
    t = 7 * H
    d.advance_to(t)
    d.end_shift("bus1", t)
    answer = d.quote(Request(id="far", requested_time_s=t, origin_stop=x, destination_stop=y), t)
    assert isinstance(answer, Rejection)
    assert answer.reason in (RejectReason.NO_FEASIBLE_INSERTION, RejectReason.NO_VEHICLE_IN_TIME)
    # Without checkpoints bus0 would have taken it: the checkpoints are what refuse it.
    free = dispatcher(jamsil_net, router, jamsil_stops)
    free.end_shift("bus1", t)
    served = free.quote_and_book(Request(id="far", requested_time_s=t, origin_stop=x, destination_stop=y), t)
    assert not isinstance(served, Rejection) and served.vehicle == 0
    d.start_shift("bus1", t)
    ride = d.quote_and_book(Request(id="far2", requested_time_s=t, origin_stop=x, destination_stop=y), t)
    assert not isinstance(ride, Rejection) and d.vehicles[ride.vehicle].id == "bus1"
    # Along the route (from one checkpoint to the next) bus0 takes the rider; no checkpoint moves.
    a, b = route[0], route[1]
    d.end_shift("bus1", t)
    ride = d.quote_and_book(Request(id="along", requested_time_s=t, origin_stop=a, destination_stop=b), t)
    assert not isinstance(ride, Rejection) and ride.vehicle == 0
    for cid in ids:
        cp = d.checkpoints[cid]
        assert cp.visited_at_s is not None or cp.planned_s == cp.scheduled_s


def test_reoptimisation_never_moves_a_checkpoint(
    jamsil_net: RoadNetwork, router: Router, jamsil_stops: StopSet, tt: np.ndarray, route: list[int]
) -> None:
    stops, times = timetable(route, tt, cycles=20)
    d = dispatcher(jamsil_net, router, jamsil_stops)
    ids = d.add_checkpoints("bus0", stops, times)
    rng = np.random.default_rng(7)
    adopted = 0
    for k in range(60):
        now = START + 60 * k
        d.advance_to(now)
        o, dest = rng.choice(len(jamsil_stops), 2, replace=False)
        d.quote_and_book(
            Request(id=f"r{k}", requested_time_s=now + 120, origin_stop=int(o), destination_stop=int(dest)), now
        )
        if k % 5 == 4:
            report = d.reoptimise(iterations=40, now_s=now)
            adopted += report.adopted
            pending = [cid for cid in ids if d.checkpoints[cid].visited_at_s is None]
            assert checkpoint_route(d, 0) == pending  # all there, on bus0, in order
            assert checkpoint_route(d, 1) == []
            for cid in pending:
                assert d.checkpoints[cid].planned_s == d.checkpoints[cid].scheduled_s
    assert adopted, "no re-optimisation changed the plan: the test proves nothing"
    assert any(r.vehicle == 0 for r in d.rides.values()), "bus0 took no rider: the test proves nothing"
    d.advance_to(11 * H)
    visited = [d.checkpoints[cid].visited_at_s for cid in ids]
    assert visited == times  # every checkpoint served at its time, in order
    assert not [e for e in d.events if e.kind == "late"]


def test_times_the_vehicle_cannot_keep_are_refused(
    jamsil_net: RoadNetwork, router: Router, jamsil_stops: StopSet, tt: np.ndarray, route: list[int]
) -> None:
    d = dispatcher(jamsil_net, router, jamsil_stops)
    a, b, c = route
    tight = [START, START + int(tt[a, b]) + 5, START + int(tt[a, b]) + int(tt[b, c]) - 30]
    with pytest.raises(InvalidValueError) as info:
        d.add_checkpoints("bus0", [a, b, c], tight)
    assert info.value.field == "times_s" and "checkpoint 2" in str(info.value)
    assert d.checkpoints == {} and d.plan.num_stops(0) == 0
    with pytest.raises(InvalidValueError) as info:
        d.add_checkpoints("bus0", [a, b], [START + 100, START + 100])
    assert info.value.field == "times_s"


def test_boarding_stops_walk_to_the_nearest(jamsil_net: RoadNetwork, jamsil_stops: StopSet) -> None:
    area = ServiceArea(jamsil_net, jamsil_stops, ServiceParams(max_walk_m=400))
    line = [0, 5, 12]
    fixed = area.with_boarding_stops(line)
    x, y = jamsil_stops.x_m, jamsil_stops.y_m
    for s in range(len(jamsil_stops)):
        dist = np.hypot(x[line] - x[s], y[line] - y[s])
        got = fixed.locate_stop(s)
        if dist.min() <= 400:
            assert isinstance(got, StopChoice) and got.stop == line[int(np.argmin(dist))]
            assert got.walk_m == round(float(dist.min()))
        else:
            assert isinstance(got, Refusal) and got.reason == RejectReason.NO_STOP_IN_REACH
    same = area.locate_stop(3)
    assert isinstance(same, StopChoice) and same.stop == 3  # the original area is unchanged
