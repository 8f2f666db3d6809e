"""KPIs and consistency checks of a hand-made day (tests/sim/sample_day.py), checked by hand."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest

from routing import InvalidArgumentError
from sim.kpi import compute_kpis, occupancy_series, validate
from sim.records import Drive, SimOutput, VehicleRecord
from tests.sim.sample_day import sample_day


@pytest.fixture(scope="module")
def day() -> SimOutput:
    return sample_day()


@pytest.fixture(scope="module")
def kpis(day: SimOutput) -> dict:
    return compute_kpis(day)


def test_requests(kpis: dict) -> None:
    assert kpis["requests"] == {
        "total": 9,
        "booked": 5,  # 3 completed, the cancelled booking and the no-show
        "completed": 3,
        "rejected": 3,
        "rejected_by_reason": {"no_vehicle_in_time": 2, "outside_zone": 1},
        "cancelled": 1,
        "no_show": 1,
        "open": 1,
        "passengers_completed": 4,
        "service_rate": 0.3333,
    }
    assert list(kpis["requests"]["rejected_by_reason"]) == ["no_vehicle_in_time", "outside_zone"]


def test_wait_ride_and_detour(kpis: dict) -> None:
    # Waits 300, 600, 300 s; rides 600, 600, 900 s; detours 1.5, 1.2, 3.0 (linear percentiles).
    assert kpis["wait_s"] == {"count": 3, "mean": 400.0, "p50": 300.0, "p90": 540.0, "p95": 570.0, "max": 600.0}
    assert kpis["ride_s"] == {"count": 3, "mean": 700.0, "p50": 600.0, "p90": 840.0, "p95": 870.0, "max": 900.0}
    assert kpis["detour_factor"] == {"count": 3, "mean": 1.9, "p50": 1.5, "p90": 2.7}
    assert kpis["punctuality"] == {
        "pickup_in_window_share": 1.0,
        "late_pickups": 0,
        "early_pickups": 0,
        "within_max_ride_share": 1.0,
    }


def test_late_pickup_and_long_ride_lower_the_shares() -> None:
    out = sample_day()
    out.rides[0].promised_pickup_end_s = 398  # picked up at 400: 1 s slack is not enough
    out.rides[2].max_ride_s = 899  # rode 900 s: within the 1 s slack
    out.rides[1].max_ride_s = 500  # rode 600 s
    punct = compute_kpis(out)["punctuality"]
    assert punct["pickup_in_window_share"] == 0.6667
    assert punct["late_pickups"] == 1
    assert punct["early_pickups"] == 0
    assert punct["within_max_ride_share"] == 0.6667


def test_distance_fleet_revenue_walking(kpis: dict) -> None:
    # Drives: V1 2000 (0), 3000 (1), 1000 (3), 2000 (2), 1500 (0); V2 1000 (0), 4000 (1) m (on board).
    assert kpis["distance"] == {
        "vehicle_km": 14.5,
        "empty_km": 4.5,
        "loaded_km": 10.0,
        "empty_share": 0.3103,
        "passenger_km": 14.0,
        "passenger_km_per_vehicle_km": 0.9655,
    }
    # Shifts 2 h + 1 h; 4 passengers on 3 completed rides; busy 1800 + 1230 s.
    assert kpis["fleet"] == {
        "vehicles": 2,
        "seats": 6,
        "vehicle_hours": 3.0,
        "busy_hours": 0.842,
        "utilisation": 0.2806,
        "riders_per_vehicle_hour": 1.333,
        "rides_per_vehicle_hour": 1.0,
    }
    assert kpis["revenue"] == {"fare_krw": 5300, "fare_per_ride_krw": 1767, "currency": "KRW"}
    # Walks of the completed rides: to the pickup 100, 50, 0 m; from the drop-off 200, 150, 100 m
    # (linear percentiles: p90 of three values is 80 % of the way from the middle one to the top).
    assert kpis["walking"] == {
        "to_pickup_m": 50.0,
        "from_dropoff_m": 150.0,
        "total_m": 200.0,
        "to_pickup": {"count": 3, "mean": 50.0, "p50": 50.0, "p90": 90.0, "max": 100.0},
        "from_dropoff": {"count": 3, "mean": 150.0, "p50": 150.0, "p90": 190.0, "max": 200.0},
        "total": {"count": 3, "mean": 200.0, "p50": 200.0, "p90": 280.0, "max": 300.0},
    }


def test_occupancy(kpis: dict) -> None:
    occ = kpis["occupancy"]
    assert occ["mean_on_board_driving"] == 0.9655
    series = occ["series"]
    assert series["bin_s"] == 900
    assert series["start_s"] == [0, 900, 1800, 2700, 3600, 4500, 5400, 6300]
    # Bin 0: stop 1 after boarding 20 s x 1, drive 380 s x 1, stop 2 30 s x 3, drive 70 s x 3 -> 700 / 900.
    # Bin 1: drive 120 s x 3, stop 3 20 s x 2, drive 390 s x 2 -> 1180 / 900.
    # Bin 4: stop 6 10 s x 1, drive 590 s x 1 -> 600 / 900; bin 5: drive 310 s x 1.
    assert series["on_board"] == [0.778, 1.311, 0.0, 0.0, 0.667, 0.344, 0.0, 0.0]
    assert series["vehicles_driving"] == [0.922, 0.956, 0.0, 0.0, 0.989, 0.344, 0.0, 0.0]
    assert series["vehicles_on_shift"] == [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]


def _naive_on_board(out: SimOutput, bin_s: int) -> list[float]:
    """Second-by-second recount of the riders on board (the slow oracle of occupancy_series)."""
    per_second = [0] * (out.end_s - out.start_s)
    for d in out.drives:
        for t in range(d.depart_s, d.arrive_s):
            per_second[t - out.start_s] += d.onboard
    for v in out.visits:
        for t in range(v.arrive_s, v.service_start_s):
            per_second[t - out.start_s] += v.onboard_after - v.boarded + v.alighted
        for t in range(v.service_start_s, v.depart_s):
            per_second[t - out.start_s] += v.onboard_after
    return [round(sum(per_second[i : i + bin_s]) / bin_s, 3) for i in range(0, len(per_second), bin_s)]


@pytest.mark.parametrize("bin_s", [60, 450, 700, 3600])
def test_occupancy_series_matches_a_second_by_second_recount(day: SimOutput, bin_s: int) -> None:
    series = occupancy_series(day, bin_s=bin_s)
    assert series["on_board"][: len(_naive_on_board(day, bin_s))] == _naive_on_board(day, bin_s)
    assert all(v == 0 for v in series["on_board"][len(_naive_on_board(day, bin_s)) :])


def test_occupancy_series_rejects_a_bad_bin(day: SimOutput) -> None:
    with pytest.raises(InvalidArgumentError, match="bin_s"):
        occupancy_series(day, bin_s=0)


def test_per_vehicle(kpis: dict) -> None:
    assert kpis["vehicles"] == [
        {
            "vehicle_id": "V1",
            "seats": 4,
            "drives": 5,
            "driven_km": 9.5,
            "loaded_km": 6.0,
            "passenger_km": 10.0,
            "riders": 3,
            "rides_completed": 2,
            "stops_served": 4,
            "shift_h": 2.0,
            "busy_h": 0.5,
            "utilisation": 0.25,
        },
        {
            "vehicle_id": "V2",
            "seats": 2,
            "drives": 2,
            "driven_km": 5.0,
            "loaded_km": 4.0,
            "passenger_km": 4.0,
            "riders": 1,
            "rides_completed": 1,
            "stops_served": 2,
            "shift_h": 1.0,
            "busy_h": 0.342,
            "utilisation": 0.3417,
        },
    ]


def test_kpis_are_json_serialisable(kpis: dict) -> None:
    assert json.loads(json.dumps(kpis)) == kpis


def test_empty_day_gives_nulls_not_errors() -> None:
    out = SimOutput("empty", 0, 0, 3600, rides=[], drives=[], visits=[], vehicles=[])
    kpis = compute_kpis(out)
    assert kpis["requests"]["total"] == 0
    assert kpis["requests"]["service_rate"] is None
    assert kpis["wait_s"] == {"count": 0, "mean": None, "p50": None, "p90": None, "p95": None, "max": None}
    assert kpis["distance"]["passenger_km_per_vehicle_km"] is None
    assert kpis["fleet"]["riders_per_vehicle_hour"] is None
    assert kpis["occupancy"]["series"]["on_board"] == [0.0, 0.0, 0.0, 0.0]
    assert validate(out) == []
    json.dumps(kpis)


# ---------------------------------------------------------------------------------- validate
def test_consistent_day_has_no_problems(day: SimOutput) -> None:
    assert validate(day) == []


def _set(get: Callable[[SimOutput], object], name: str, value: object) -> Callable[[SimOutput], None]:
    """A mutation of a fresh sample day: set ``name`` of the record ``get(out)`` to ``value``."""
    return lambda out: setattr(get(out), name, value)


def _ride(i: int) -> Callable[[SimOutput], object]:
    return lambda out: out.rides[i]


def _drive(i: int) -> Callable[[SimOutput], object]:
    return lambda out: out.drives[i]


def _visit(i: int) -> Callable[[SimOutput], object]:
    return lambda out: out.visits[i]


def _vehicle(i: int) -> Callable[[SimOutput], object]:
    return lambda out: out.vehicles[i]


PLANTED: dict[str, tuple[Callable[[SimOutput], None], str]] = {
    "visit over seats": (_set(_visit(1), "onboard_after", 5), "onboard_after 5 outside 0 .. 4 seats"),
    "drive over seats": (_set(_drive(6), "onboard", 3), "onboard 3 outside 0 .. 2 seats"),
    "visit seats differ": (_set(_visit(4), "seats", 4), "seats 4 differ from the vehicle's 2"),
    "pickup outside window": (_set(_ride(0), "promised_pickup_end_s", 350), "outside its promised window"),
    "early pickup": (_set(_ride(1), "promised_pickup_start_s", 850), "outside its promised window"),
    "ride over max": (_set(_ride(2), "max_ride_s", 800), "ride_s 900 exceeds max_ride_s 800"),
    "driven_m": (_set(_vehicle(0), "driven_m", 9000), "driven_m is 9000, the drives and visits sum to 9500"),
    "loaded_m": (_set(_vehicle(0), "loaded_m", 9500), "loaded_m is 9500, the drives and visits sum to 6000"),
    "passenger_m": (_set(_vehicle(1), "passenger_m", 1), "passenger_m is 1, the drives and visits sum to 4000"),
    "drives count": (_set(_vehicle(1), "drives", 3), "drives is 3"),
    "stops served": (_set(_vehicle(1), "stops_served", 1), "stops_served is 1"),
    "riders": (_set(_vehicle(0), "riders", 2), "riders is 2"),
    "ride twice": (lambda out: out.rides.append(copy.copy(out.rides[0])), "ride r1: recorded 2 times"),
    "vehicle twice": (lambda out: out.vehicles.append(copy.copy(out.vehicles[0])), "vehicle V1: recorded twice"),
    "unknown outcome": (_set(_ride(8), "outcome", "lost"), "unknown outcome 'lost'"),
    "rejection without reason": (_set(_ride(3), "reject_reason", ""), "rejected without a reject_reason"),
    "completed without vehicle": (_set(_ride(0), "vehicle_id", ""), "completed without a vehicle_id"),
    "unknown vehicle": (
        lambda out: out.drives.append(Drive("V9", 5000, 5100, 0, 1, 100, 0)),
        "vehicle_id 'V9' is not in the fleet",
    ),
    "negative ride time": (_set(_ride(0), "dropoff_s", 410), "before the pickup ends"),
    "drive times": (_set(_drive(4), "arrive_s", 1400), "arrive_s 1400 before depart_s 1450"),
    "visit times": (_set(_visit(0), "service_start_s", 370), "are out of order"),
    "overlap": (_set(_drive(1), "depart_s", 410), "starts before the previous leg ends (420 s)"),
    "teleport": (_set(_drive(2), "from_stop", 5), "starts at stop 5, but the vehicle was at 2"),
    "load chain": (_set(_drive(3), "onboard", 1), "has 1 on board, but 2 were on board before"),
    "busy time": (_set(_vehicle(1), "busy_s", 1000), "busy_s 1000 is less than its driving time 1200 s"),
    "alighted vs completed": (_set(_ride(1), "passengers", 3), "passengers alighted, its completed rides carried 4"),
}


@pytest.mark.parametrize("kind", list(PLANTED))
def test_validate_finds_planted_problem(kind: str) -> None:
    plant, expected = PLANTED[kind]
    out = sample_day()
    plant(out)
    problems = validate(out)
    assert any(expected in p for p in problems), problems


def test_validate_caps_each_kind() -> None:
    out = sample_day()
    out.rides.extend([copy.copy(out.rides[3]), copy.copy(out.rides[4]), copy.copy(out.rides[5])])
    problems = validate(out, max_per_kind=2)
    assert problems == [
        "ride r4: recorded 2 times",
        "ride r5: recorded 2 times",
        "... and 1 more duplicate ride problems",
    ]
    with pytest.raises(InvalidArgumentError, match="max_per_kind"):
        validate(out, max_per_kind=0)


def test_vehicle_record_defaults_are_checked() -> None:
    out = sample_day()
    out.vehicles[1] = VehicleRecord("V2", 2, 5, 3600, 7200)  # totals never filled in
    problems = validate(out)
    assert any("vehicle V2: driven_m is 0" in p for p in problems)
