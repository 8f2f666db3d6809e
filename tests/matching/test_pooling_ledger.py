"""The pooling ledger: fares paid, driver revenue and KPIs on small days worked out by hand, and totals that add up."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching import ConflictError, InvalidValueError, RiderClass, SharedTaxiFare
from matching.pooling.ledger import KPI_KEYS, PoolingLedger

# Solo fares of the default tariff (4,800 KRW for 1.6 km, 100 KRW per started 131 m), exact
# multiples of 100 so that the pooled fares (70 %) need no rounding:
#   4,482 m = 1,600 + 22 x 131 -> 4,800 + 2,200 = 7,000 KRW (pooled 4,900)
#   3,958 m = 1,600 + 18 x 131 -> 4,800 + 1,800 = 6,600 KRW (pooled 4,620 -> 4,600)
#   1,600 m                    -> 4,800 KRW
A_M, A_SOLO, A_POOLED = 4_482, 7_000, 4_900
B_M, B_SOLO, B_POOLED = 3_958, 6_600, 4_600


def test_the_worked_fares_are_the_tariffs() -> None:
    fare = SharedTaxiFare()
    assert (fare.solo_fare(A_M), fare.fare(RiderClass.ADULT, A_M, pooled=True)) == (A_SOLO, A_POOLED)
    assert (fare.solo_fare(B_M), fare.fare(RiderClass.ADULT, B_M, pooled=True)) == (B_SOLO, B_POOLED)
    assert fare.solo_fare(1_600) == 4_800


def test_two_riders_sharing_pay_the_driver_140_percent_of_a_solo_fare() -> None:
    ledger = PoolingLedger()
    common: dict[str, Any] = {"direct_m": A_M, "direct_s": 400, "asked_to_share": True, "shared": True, "time_s": 1_000}
    assert ledger.ride_completed("r1", "taxi-1", **common) == A_POOLED
    assert ledger.ride_completed("r2", "taxi-1", **common) == A_POOLED
    k = ledger.kpis()
    assert k["driver_revenue_krw"] == 2 * A_POOLED == 9_800 == 140 * A_SOLO // 100
    assert k["driver_revenue_krw"] == SharedTaxiFare().driver_revenue(A_SOLO, pooled=True)
    assert ledger.vehicle_revenue_krw("taxi-1") == 9_800
    assert (k["solo_fares_krw"], k["rider_savings_krw"]) == (14_000, 4_200)
    assert k["rider_savings_pct"] == pytest.approx(30.0)
    assert (k["rides_completed"], k["rides_shared"], k["pooled_share"]) == (2, 2, 1.0)


def test_the_discount_needs_both_asking_and_sharing() -> None:
    ledger = PoolingLedger()
    base: dict[str, Any] = {"direct_m": A_M, "direct_s": 400, "time_s": 500}
    assert ledger.ride_completed("alone-by-choice", "t", asked_to_share=False, shared=False, **base) == A_SOLO
    assert ledger.ride_completed("alone-by-chance", "t", asked_to_share=True, shared=False, **base) == A_SOLO
    assert ledger.ride_completed("pooled", "t", asked_to_share=True, shared=True, **base) == A_POOLED
    with pytest.raises(InvalidValueError) as err:
        ledger.ride_completed("never", "t", asked_to_share=False, shared=True, **base)
    assert err.value.field == "shared"
    rides = ledger.rides
    assert [r.pooled for r in rides.values()] == [False, False, True]
    assert rides["alone-by-chance"].solo_fare_krw == rides["alone-by-chance"].fare_krw == A_SOLO
    k = ledger.kpis()
    assert (k["rides_asked_to_share"], k["rides_shared"]) == (2, 1)
    assert k["pooled_share"] == pytest.approx(1 / 3)


def test_a_small_day_by_hand() -> None:
    """Two taxis:

    =====  ================  ======  ====  =======  ==========  ===========
    taxi   stretch           metres  secs  parties  passengers  note
    =====  ================  ======  ====  =======  ==========  ===========
    t1     to A's pickup      1,000   120        0           0
    t1     A alone            2,000   240        1           1
    t1     A and B            3,000   300        2           3  B: 2 heads
    t1     B alone            1,000   120        1           2
    t1     toward demand        500    60        0           0  rebalancing
    t2     to C's pickup        400    60        0           0
    t2     C alone            1,600   200        1           1
    =====  ================  ======  ====  =======  ==========  ===========

    t1 is on duty one hour, t2 half an hour. A (4,482 m direct, 400 s) and B (3,958 m,
    350 s) shared: 4,900 + 4,600 = 9,500 KRW. C asked to share but rode alone (1,600 m,
    200 s): the solo fare, 4,800 KRW.
    """
    ledger = PoolingLedger()
    ledger.vehicle_on_duty("t1", 3_600)
    ledger.vehicle_on_duty("t2", 1_800)
    ledger.vehicle_moved("t1", 1_000, 120, parties_on_board=0, passengers_on_board=0)
    ledger.vehicle_moved("t1", 2_000, 240, parties_on_board=1, passengers_on_board=1)
    ledger.vehicle_moved("t1", 3_000, 300, parties_on_board=2, passengers_on_board=3)
    ledger.vehicle_moved("t1", 1_000, 120, parties_on_board=1, passengers_on_board=2)
    ledger.vehicle_moved("t1", 500, 60, parties_on_board=0, passengers_on_board=0, rebalancing=True)
    ledger.vehicle_moved("t2", 400, 60, parties_on_board=0, passengers_on_board=0)
    ledger.vehicle_moved("t2", 1_600, 200, parties_on_board=1, passengers_on_board=1)
    a = ledger.ride_completed("A", "t1", direct_m=A_M, direct_s=400, asked_to_share=True, shared=True, time_s=900)
    b = ledger.ride_completed(
        "B", "t1", direct_m=B_M, direct_s=350, asked_to_share=True, shared=True, passengers=2, time_s=1_020
    )
    c = ledger.ride_completed(
        "C",
        "t2",
        direct_m=1_600,
        direct_s=200,
        asked_to_share=True,
        shared=False,
        rider_class=RiderClass.YOUTH,
        time_s=900,
    )
    assert (a, b, c) == (4_900, 4_600, 4_800)
    k = ledger.kpis()
    expected: dict[str, Any] = {
        "rides_completed": 3,
        "rides_asked_to_share": 3,
        "rides_shared": 2,
        "passengers_completed": 4,
        "pooled_share": 2 / 3,
        "fares_paid_krw": 14_300,
        "solo_fares_krw": 7_000 + 6_600 + 4_800,
        "rider_savings_krw": 18_400 - 14_300,
        "rider_savings_pct": 100 * 4_100 / 18_400,
        "driver_revenue_krw": 14_300,
        "vehicle_hours_on_duty": 1.5,
        "vehicle_hours_driving": (840 + 260) / 3600,
        "driver_revenue_per_duty_hour_krw": 14_300 / 1.5,
        "driver_revenue_per_driving_hour_krw": 14_300 / (1_100 / 3600),
        "solo_driver_revenue_krw": 18_400,
        # direct times 400 + 350 + 200, plus the empty driving 120 + 60 + 60
        "solo_vehicle_hours": 1_190 / 3600,
        "solo_driver_revenue_per_hour_krw": 18_400 / (1_190 / 3600),
        "vehicle_km": 9.5,
        "vehicle_km_empty": 1.9,
        "vehicle_km_rebalancing": 0.5,
        "vehicle_hours_rebalancing": 60 / 3600,
        "vehicle_km_pooled": 3.0,
        "direct_km": (4_482 + 3_958 + 1_600) / 1000,
        "solo_vehicle_km": 10.04 + 1.9,
        "vehicle_km_saved": 11.94 - 9.5,
        "vehicle_km_saved_pct": 100 * 2.44 / 11.94,
        # 2 km x 1 + 3 km x 3 + 1 km x 2 + 1.6 km x 1
        "passenger_km": 14.6,
        "mean_occupancy": 14.6 / 9.5,
    }
    assert list(k) == list(KPI_KEYS) == list(expected)
    for key, value in expected.items():
        assert k[key] == pytest.approx(value), key
    assert ledger.vehicle_revenue_krw("t1") == 9_500 and ledger.vehicle_revenue_krw("t2") == 4_800
    assert ledger.vehicle_duty_s("t1") == 3_600 and ledger.vehicle_revenue_krw("idle") == 0
    json.dumps(k)  # plain numbers


def test_an_empty_ledger_reports_zeros() -> None:
    k = PoolingLedger().kpis()
    assert set(k) == set(KPI_KEYS) and all(v == 0 for v in k.values())


def test_the_tariff_is_configurable() -> None:
    ledger = PoolingLedger(SharedTaxiFare(pooled_discount_pct=50))
    paid = ledger.ride_completed("r", "t", direct_m=A_M, direct_s=1, asked_to_share=True, shared=True, time_s=0)
    assert paid == A_SOLO // 2
    with pytest.raises(InvalidValueError, match="fare"):
        PoolingLedger("cheap")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"direct_m": -1}, "direct_m"),
        ({"direct_s": 1.5}, "direct_s"),
        ({"asked_to_share": 1}, "asked_to_share"),
        ({"shared": "yes"}, "shared"),
        ({"passengers": 0}, "passengers"),
        ({"time_s": -3}, "time_s"),
        ({"ride_id": "bad id"}, "ride_id"),
        ({"vehicle_id": ""}, "vehicle_id"),
    ],
)
def test_bad_ride_values_are_named(call: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "ride_id": "r",
        "vehicle_id": "t",
        "direct_m": 1_000,
        "direct_s": 100,
        "asked_to_share": True,
        "shared": False,
        "time_s": 10,
    } | call
    with pytest.raises(InvalidValueError) as err:
        PoolingLedger().ride_completed(args.pop("ride_id"), args.pop("vehicle_id"), **args)
    assert err.value.field == field


def test_bad_moves_and_duplicates_are_refused() -> None:
    ledger = PoolingLedger()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"parties_on_board": 2, "passengers_on_board": 1}, "passengers_on_board"),
        ({"parties_on_board": 0, "passengers_on_board": 1}, "passengers_on_board"),
        ({"parties_on_board": -1, "passengers_on_board": 0}, "parties_on_board"),
        ({"parties_on_board": 1, "passengers_on_board": 1, "rebalancing": True}, "rebalancing"),
    ]
    for kwargs, field in bad:
        with pytest.raises(InvalidValueError) as err:
            ledger.vehicle_moved("t", 100, 10, **kwargs)
        assert err.value.field == field
    with pytest.raises(InvalidValueError, match="metres"):
        ledger.vehicle_moved("t", -1, 10, parties_on_board=0, passengers_on_board=0)
    with pytest.raises(InvalidValueError, match="seconds"):
        ledger.vehicle_on_duty("t", -1)
    assert ledger.kpis()["vehicle_km"] == 0  # nothing refused was booked
    ledger.ride_completed("r", "t", direct_m=1, direct_s=1, asked_to_share=False, shared=False, time_s=0)
    with pytest.raises(ConflictError, match="already completed"):
        ledger.ride_completed("r", "t", direct_m=1, direct_s=1, asked_to_share=False, shared=False, time_s=0)
    assert ledger.kpis()["rides_completed"] == 1


ride_st = st.tuples(
    st.integers(0, 40_000),  # direct_m
    st.integers(0, 4_000),  # direct_s
    st.booleans(),  # asked_to_share
    st.booleans(),  # shared (when asked)
    st.integers(1, 4),  # passengers
    st.integers(0, 2),  # vehicle
)
move_st = st.tuples(
    st.integers(0, 5_000),  # metres
    st.integers(0, 600),  # seconds
    st.integers(0, 3),  # parties
    st.integers(0, 3),  # extra heads
    st.booleans(),  # rebalancing (when empty)
    st.integers(0, 2),  # vehicle
)


def book(ledger: PoolingLedger, rides: list[Any], moves: list[Any], duty: list[int], *, seed: int = 0) -> list[int]:
    """Book the rides, moves and duty times in an order shuffled by ``seed``; the fares paid by ride."""
    events: list[tuple[str, int, Any]] = [("ride", i, r) for i, r in enumerate(rides)]
    events += [("move", i, m) for i, m in enumerate(moves)]
    events += [("duty", i, d) for i, d in enumerate(duty)]
    random.Random(seed).shuffle(events)
    paid = [0] * len(rides)
    for kind, i, item in events:
        if kind == "ride":
            dist, secs, asked, shared, heads, veh = item
            paid[i] = ledger.ride_completed(
                f"r{i}",
                f"t{veh}",
                direct_m=dist,
                direct_s=secs,
                asked_to_share=asked,
                shared=asked and shared,
                passengers=heads,
                time_s=i,
            )
        elif kind == "move":
            metres, secs, parties, extra, rebal, veh = item
            heads = parties + extra if parties else 0
            ledger.vehicle_moved(
                f"t{veh}",
                metres,
                secs,
                parties_on_board=parties,
                passengers_on_board=heads,
                rebalancing=rebal and not parties,
            )
        else:
            ledger.vehicle_on_duty(f"t{i % 3}", item)
    return paid


@given(
    st.lists(ride_st, max_size=25),
    st.lists(move_st, max_size=40),
    st.lists(st.integers(0, 7_200), max_size=6),
)
def test_totals_add_up(rides: list[Any], moves: list[Any], duty: list[int]) -> None:
    ledger = PoolingLedger()
    paid = book(ledger, rides, moves, duty)
    k = ledger.kpis()
    fare = SharedTaxiFare()
    # fares: each rider pays the pooled fare iff asked and shared; savings close the gap
    for i, (dist, _, asked, shared, _, _) in enumerate(rides):
        assert paid[i] == fare.fare(RiderClass.ADULT, dist, pooled=asked and shared)
        assert paid[i] <= fare.solo_fare(dist)
    assert k["fares_paid_krw"] == sum(paid) == k["driver_revenue_krw"]
    assert sum(ledger.vehicle_revenue_krw(f"t{v}") for v in range(3)) == k["driver_revenue_krw"]
    assert k["fares_paid_krw"] + k["rider_savings_krw"] == k["solo_fares_krw"] == k["solo_driver_revenue_krw"]
    assert k["rides_completed"] == len(rides)
    assert k["rides_shared"] == sum(1 for r in rides if r[2] and r[3])
    assert k["rides_shared"] <= k["rides_asked_to_share"] <= k["rides_completed"]
    assert k["passengers_completed"] == sum(r[4] for r in rides)
    # distances: the parts never exceed the whole; solo km is direct + empty; saved closes the gap
    metres = sum(m[0] for m in moves)
    empty = sum(m[0] for m in moves if m[2] == 0)
    assert k["vehicle_km"] == pytest.approx(metres / 1000)
    assert k["vehicle_km_empty"] == pytest.approx(empty / 1000)
    assert k["vehicle_km_rebalancing"] <= k["vehicle_km_empty"] <= k["vehicle_km"]
    assert k["vehicle_km_pooled"] <= k["vehicle_km"] - k["vehicle_km_empty"] + 1e-9
    assert k["solo_vehicle_km"] == pytest.approx(k["direct_km"] + k["vehicle_km_empty"])
    assert k["vehicle_km"] + k["vehicle_km_saved"] == pytest.approx(k["solo_vehicle_km"])
    assert k["mean_occupancy"] * k["vehicle_km"] == pytest.approx(k["passenger_km"])
    assert k["vehicle_hours_on_duty"] == pytest.approx(sum(duty) / 3600)
    # the order of booking does not matter
    again = PoolingLedger()
    book(again, rides, moves, duty, seed=1)
    assert again.kpis() == k
