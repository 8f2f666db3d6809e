"""Fare policies: the I-MOD fare and the shared-taxi fare, worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from matching import (
    FarePolicy,
    ImodFare,
    InvalidValueError,
    RiderClass,
    SharedTaxiFare,
    fare_policy_from_name,
)

ADULT, YOUTH, CHILD = RiderClass.ADULT, RiderClass.YOUTH, RiderClass.CHILD


# ============================================================================ I-MOD
@pytest.mark.parametrize(
    ("rider_class", "distance_m", "passengers", "expected"),
    [
        (ADULT, 7_000, 1, 1_800),  # within the base distance
        (ADULT, 7_500, 1, 1_900),  # one started kilometre beyond 7 km
        (ADULT, 12_000, 1, 2_300),  # five kilometres beyond
        (CHILD, 3_000, 2, 1_400),  # 700 x 2
        (YOUTH, 15_200, 1, 2_100),  # 1,200 + 9 started kilometres (8.2 km) x 100
        (ADULT, 0, 1, 1_800),
        (YOUTH, 6_999, 1, 1_200),
        (ADULT, 12_000, 3, 6_900),  # the distance charge is per passenger too
    ],
)
def test_imod_fare_examples(rider_class: RiderClass, distance_m: int, passengers: int, expected: int) -> None:
    assert ImodFare().fare(rider_class, distance_m, passengers) == expected


@pytest.mark.parametrize(
    ("distance_m", "extra"),
    [(7_000, 0), (7_001, 100), (7_999, 100), (8_000, 100), (8_001, 200), (9_000, 200), (9_001, 300)],
)
def test_imod_charges_each_started_kilometre(distance_m: int, extra: int) -> None:
    assert ImodFare().fare(ADULT, distance_m) == 1_800 + extra
    assert ImodFare().fare(CHILD, distance_m) == 700 + extra


def test_imod_fare_ignores_pooling_and_accepts_class_names() -> None:
    fare = ImodFare()
    assert fare.fare(ADULT, 9_500, pooled=True) == fare.fare(ADULT, 9_500, pooled=False) == 2_100
    assert fare.fare("youth", 1_000) == 1_200  # type: ignore[arg-type]
    assert [fare.base_fare_krw(c) for c in RiderClass] == [1_800, 1_200, 700]


def test_imod_fare_is_configurable() -> None:
    other_city = ImodFare(
        adult_base_krw=1_500, child_base_krw=0, base_distance_m=10_000, extra_step_m=500, extra_step_krw=50
    )
    assert other_city.fare(ADULT, 10_000) == 1_500
    assert other_city.fare(ADULT, 10_001) == 1_550
    assert other_city.fare(ADULT, 11_200) == 1_500 + 3 * 50
    assert other_city.fare(CHILD, 11_200, 2) == 2 * 3 * 50
    assert other_city.fare(YOUTH, 0) == 1_200  # a default left in place


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("adult_base_krw", -1),
        ("youth_base_krw", 1200.0),
        ("child_base_krw", None),
        ("base_distance_m", -7000),
        ("extra_step_m", 0),
        ("extra_step_krw", -100),
    ],
)
def test_bad_imod_fields(field: str, value: Any) -> None:
    with pytest.raises(InvalidValueError) as info:
        ImodFare(**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((ADULT, -1), {}, "direct_distance_m"),
        ((ADULT, 7000.0), {}, "direct_distance_m"),
        ((ADULT, 7000, 0), {}, "passengers"),
        (("senior", 7000), {}, "rider_class"),
        ((ADULT, 7000), {"pooled": "no"}, "pooled"),
    ],
)
def test_bad_fare_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], field: str) -> None:
    for policy in (ImodFare(), SharedTaxiFare()):
        with pytest.raises(InvalidValueError) as info:
            policy.fare(*args, **kwargs)
        assert info.value.field == field


# ============================================================================ shared taxi
@pytest.mark.parametrize(
    ("distance_m", "solo"),
    [
        (0, 4_800),
        (1_600, 4_800),  # the flag fall covers 1.6 km
        (1_601, 4_900),  # one started 131 m step
        (1_731, 4_900),
        (1_732, 5_000),
        (5_000, 7_400),  # 3,400 m = 25.95 steps -> 26 -> 4,800 + 2,600
    ],
)
def test_taxi_solo_fare(distance_m: int, solo: int) -> None:
    taxi = SharedTaxiFare()
    assert taxi.solo_fare(distance_m) == solo
    assert taxi.fare(ADULT, distance_m) == solo


def test_pooled_riders_pay_thirty_per_cent_less_rounded_to_100() -> None:
    taxi = SharedTaxiFare()
    assert taxi.fare(ADULT, 5_000, pooled=True) == 5_200  # 0.7 x 7,400 = 5,180
    assert taxi.fare(ADULT, 1_000, pooled=True) == 3_400  # 0.7 x 4,800 = 3,360
    half = SharedTaxiFare(base_fare_krw=4_500)
    assert half.fare(ADULT, 0, pooled=True) == 3_200  # 0.7 x 4,500 = 3,150: halves round up


def test_taxi_fare_is_per_booking() -> None:
    taxi = SharedTaxiFare()
    assert taxi.fare(ADULT, 5_000, 3) == taxi.fare(CHILD, 5_000, 1) == 7_400


def test_taxi_rounds_the_meter_to_100() -> None:
    odd = SharedTaxiFare(step_krw=70)
    assert odd.solo_fare(1_601) == 4_900  # 4,870
    assert odd.solo_fare(1_732) == 4_900  # 4,940
    assert SharedTaxiFare(step_krw=70, round_to_krw=10).solo_fare(1_732) == 4_940


def test_driver_revenue() -> None:
    taxi = SharedTaxiFare()
    assert taxi.driver_revenue(7_400, pooled=False) == 7_400
    assert taxi.driver_revenue(7_400, pooled=True) == 10_400  # 1.4 x 7,400 = 10,360
    assert taxi.driver_revenue(10_000, pooled=True) == 14_000
    # Two riders with the same solo fare together pay what the driver earns (up to rounding).
    assert 2 * taxi.fare(ADULT, 10_000, pooled=True) == pytest.approx(
        taxi.driver_revenue(taxi.solo_fare(10_000), pooled=True), abs=100
    )
    with pytest.raises(InvalidValueError) as info:
        taxi.driver_revenue(-1, pooled=True)
    assert info.value.field == "solo_fare_krw"


@pytest.mark.parametrize(
    ("field", "value"),
    [("step_m", 0), ("pooled_discount_pct", 101), ("driver_pooled_share_pct", -1), ("round_to_krw", 0)],
)
def test_bad_taxi_fields(field: str, value: int) -> None:
    with pytest.raises(InvalidValueError) as info:
        SharedTaxiFare(**{field: value})
    assert info.value.field == field


# ============================================================================ policies by name
def test_policies_satisfy_the_protocol() -> None:
    assert isinstance(ImodFare(), FarePolicy)
    assert isinstance(SharedTaxiFare(), FarePolicy)
    assert not isinstance(object(), FarePolicy)


def test_fare_policy_from_name() -> None:
    assert fare_policy_from_name("imod") == ImodFare()
    assert fare_policy_from_name("shared_taxi") == SharedTaxiFare()
    custom = fare_policy_from_name("imod", options={"adult_base_krw": 1_500})
    assert custom.fare(ADULT, 7_500) == 1_600
    with pytest.raises(InvalidValueError) as info:
        fare_policy_from_name("metro")
    assert info.value.field == "fare_policy" and info.value.allowed == "imod, shared_taxi"
    with pytest.raises(InvalidValueError) as info:
        fare_policy_from_name("shared_taxi", options={"flag_fall": 3_000})
    assert info.value.field == "fare_policy.flag_fall"
    with pytest.raises(InvalidValueError) as info:
        fare_policy_from_name("shared_taxi", options={"step_m": 0})
    assert info.value.field == "fare_policy.step_m"
