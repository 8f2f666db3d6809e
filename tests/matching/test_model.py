"""The domain model: requests, rejections, offers, vehicles, ride statuses and the errors."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from matching import (
    MAX_TIME_S,
    ConflictError,
    InvalidRequestError,
    InvalidValueError,
    MatchingError,
    NotFoundError,
    Offer,
    Rejection,
    RejectReason,
    Request,
    RiderClass,
    RideStatus,
    ServiceParams,
    StopEventKind,
    VehicleState,
)

POINTS: dict[str, Any] = {
    "origin_lat": 37.5133,
    "origin_lon": 127.1001,
    "destination_lat": 37.5200,
    "destination_lon": 127.0800,
}


def make_request(**changes: Any) -> Request:
    fields: dict[str, Any] = {"id": "r-1", "requested_time_s": 8 * 3600, **POINTS}
    fields.update(changes)
    return Request(**{k: v for k, v in fields.items() if v is not ...})


# ============================================================================ requests
def test_request_by_points_keeps_its_fields() -> None:
    r = make_request(passengers=3, rider_class=RiderClass.CHILD, wheelchair=True, rider_id="user:42")
    assert (r.origin_lat, r.origin_lon) == (37.5133, 127.1001)
    assert (r.destination_lat, r.destination_lon) == (37.52, 127.08)
    assert r.origin_stop is None and r.destination_stop is None
    assert r.passengers == 3 and r.rider_class is RiderClass.CHILD and r.wheelchair is True
    assert r.rider_id == "user:42"


def test_request_by_stops_and_mixed_ends() -> None:
    by_stops = Request(id="a", requested_time_s=0, origin_stop=0, destination_stop=7)
    assert (by_stops.origin_stop, by_stops.destination_stop) == (0, 7)
    mixed = Request(id="b", requested_time_s=0, origin_lat=37.5, origin_lon=127.1, destination_stop=3)
    assert mixed.origin_stop is None and mixed.destination_stop == 3
    assert mixed.destination_lat is None


def test_request_defaults() -> None:
    r = Request(id="a", requested_time_s=100, origin_stop=1, destination_stop=2)
    assert r.passengers == 1
    assert r.rider_class is RiderClass.ADULT
    assert r.wheelchair is False
    assert r.rider_id is None
    assert r.submitted_time_s is None


def test_request_normalises_types() -> None:
    r = make_request(
        requested_time_s=np.int64(90_000),  # the next service day: allowed
        passengers=np.int32(2),
        rider_class="YOUTH",
        origin_lat=37,
        wheelchair=np.bool_(True),
    )
    assert type(r.requested_time_s) is int and r.requested_time_s == 90_000
    assert type(r.passengers) is int and r.passengers == 2
    assert r.rider_class is RiderClass.YOUTH
    assert type(r.origin_lat) is float and r.origin_lat == 37.0
    assert r.wheelchair is True and type(r.wheelchair) is bool


def test_submitted_time_defaults_to_requested_time() -> None:
    assert make_request(requested_time_s=5000).submitted_at_s == 5000
    assert make_request(requested_time_s=5000, submitted_time_s=4000).submitted_at_s == 4000
    assert make_request(requested_time_s=5000, submitted_time_s=5000).submitted_at_s == 5000


def test_request_is_frozen() -> None:
    r = make_request()
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.passengers = 2  # type: ignore[misc]


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"id": ""}, "id"),
    ({"id": "has space"}, "id"),
    ({"id": "x" * 65}, "id"),
    ({"id": 17}, "id"),
    ({"requested_time_s": -1}, "requested_time_s"),
    ({"requested_time_s": 3600.0}, "requested_time_s"),
    ({"requested_time_s": True}, "requested_time_s"),
    ({"requested_time_s": MAX_TIME_S + 1}, "requested_time_s"),
    ({"submitted_time_s": 8 * 3600 + 1}, "submitted_time_s"),
    ({"submitted_time_s": -5}, "submitted_time_s"),
    ({"origin_lat": 90.5}, "origin_lat"),
    ({"origin_lat": math.nan}, "origin_lat"),
    ({"origin_lat": "37.5"}, "origin_lat"),
    ({"origin_lon": -180.01}, "origin_lon"),
    ({"destination_lon": math.inf}, "destination_lon"),
    ({"destination_lat": -91}, "destination_lat"),
    ({"origin_lon": ...}, "origin_lon"),  # a latitude without a longitude
    ({"destination_lat": ...}, "destination_lat"),
    ({"origin_lat": ..., "origin_lon": ...}, "origin_stop"),  # no origin at all
    ({"origin_stop": 4}, "origin_stop"),  # both a point and a stop
    ({"destination_lat": ..., "destination_lon": ..., "destination_stop": -1}, "destination_stop"),
    ({"destination_lat": ..., "destination_lon": ..., "destination_stop": 2.0}, "destination_stop"),
    ({"passengers": 0}, "passengers"),
    ({"passengers": 101}, "passengers"),
    ({"passengers": 2.0}, "passengers"),
    ({"rider_class": "senior"}, "rider_class"),
    ({"rider_class": 1}, "rider_class"),
    ({"wheelchair": "yes"}, "wheelchair"),
    ({"wheelchair": 1}, "wheelchair"),
    ({"rider_id": "bad id"}, "rider_id"),
    ({"rider_id": ""}, "rider_id"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_REQUESTS)
def test_bad_requests_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        make_request(**changes)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_request_errors_are_value_errors_with_the_allowed_range() -> None:
    with pytest.raises(ValueError) as info:
        make_request(passengers=0)
    err = info.value
    assert isinstance(err, MatchingError) and isinstance(err, InvalidValueError)
    assert isinstance(err, InvalidRequestError)
    assert err.allowed == "1 .. 100"
    assert str(err) == "passengers: got 0 (allowed: 1 .. 100)"


def test_unix_times_get_a_hint() -> None:
    with pytest.raises(InvalidRequestError, match="not Unix times"):
        make_request(requested_time_s=1_732_245_600)


def test_same_origin_and_destination_stop_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="same stop") as info:
        Request(id="a", requested_time_s=0, origin_stop=5, destination_stop=5)
    assert info.value.field == "destination_stop"


def test_validate_checks_the_service_party_limit() -> None:
    make_request(passengers=8).validate(ServiceParams())  # the I-MOD limit
    with pytest.raises(InvalidRequestError) as info:
        make_request(passengers=9).validate(ServiceParams())
    assert info.value.field == "passengers" and info.value.allowed == "1 .. 8"
    with pytest.raises(InvalidRequestError, match="at most 2"):
        make_request(passengers=3).validate(ServiceParams(max_passengers_per_request=2))


# ---------------------------------------------------------------------------- from_dict
def test_from_dict_builds_the_same_request() -> None:
    data = {"id": "r-9", "requested_time_s": 30_000, "origin_stop": 3, "destination_stop": 8, "rider_class": "Child"}
    r = Request.from_dict(data)
    assert r == Request(
        id="r-9", requested_time_s=30_000, origin_stop=3, destination_stop=8, rider_class=RiderClass.CHILD
    )


@pytest.mark.parametrize(
    "request_",
    [
        make_request(),
        make_request(submitted_time_s=100, passengers=2, rider_class=RiderClass.YOUTH, wheelchair=True, rider_id="u1"),
        Request(id="s", requested_time_s=1, origin_stop=0, destination_stop=1),
    ],
)
def test_to_dict_round_trips(request_: Request) -> None:
    data = request_.to_dict()
    assert None not in data.values()
    assert isinstance(data["rider_class"], str) and type(data["rider_class"]) is str
    assert Request.from_dict(data) == request_


def test_from_dict_refuses_unknown_keys() -> None:
    with pytest.raises(InvalidRequestError) as info:
        Request.from_dict({"id": "a", "requested_time_s": 0, "origin_stop": 1, "destination_stop": 2, "seats": 2})
    assert info.value.field == "seats"
    assert "unknown field" in str(info.value) and "passengers" in str(info.value.allowed)


@pytest.mark.parametrize("missing", ["id", "requested_time_s"])
def test_from_dict_names_missing_required_keys(missing: str) -> None:
    data = {"id": "a", "requested_time_s": 0, "origin_stop": 1, "destination_stop": 2}
    del data[missing]
    with pytest.raises(InvalidRequestError, match="missing") as info:
        Request.from_dict(data)
    assert info.value.field == missing


def test_from_dict_reports_the_bad_value_and_refuses_non_mappings() -> None:
    with pytest.raises(InvalidRequestError) as info:
        Request.from_dict(
            {"id": "a", "requested_time_s": 0, "origin_stop": 1, "destination_stop": 2, "passengers": "2"}
        )
    assert info.value.field == "passengers"
    with pytest.raises(InvalidRequestError, match="mapping"):
        Request.from_dict([("id", "a")])  # type: ignore[arg-type]


# ============================================================================ rejections
def test_every_reject_reason_has_its_own_sentence() -> None:
    messages = [reason.message for reason in RejectReason]
    assert len(set(messages)) == len(messages)
    for reason, message in zip(RejectReason, messages, strict=True):
        assert message[0].isupper() and message.endswith("."), reason
        assert str(reason) == reason.value == reason.name.lower()


def test_rejection_message_joins_reason_and_detail() -> None:
    r = Rejection("r-1", RejectReason.NO_STOP_IN_REACH, "nearest stop is 812 m away; the walking limit is 400 m")
    assert r.message == (
        "There is no stop within walking distance of the pickup or drop-off point. "
        "Nearest stop is 812 m away; the walking limit is 400 m."
    )
    assert Rejection("r-1", RejectReason.IN_THE_PAST).message == RejectReason.IN_THE_PAST.message


def test_rejection_accepts_reason_strings_and_checks_fields() -> None:
    assert Rejection("r-1", "same_stop").reason is RejectReason.SAME_STOP  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError) as info:
        Rejection("r-1", "no_reason")  # type: ignore[arg-type]
    assert info.value.field == "reason" and "outside_zone" in str(info.value.allowed)
    with pytest.raises(InvalidValueError) as info:
        Rejection("bad id", RejectReason.SAME_STOP)
    assert info.value.field == "request_id"


# ============================================================================ offers
def offer_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "offer_id": "o-1",
        "request_id": "r-1",
        "vehicle_id": "bus-3",
        "pickup_stop": 4,
        "dropoff_stop": 9,
        "walk_to_pickup_m": 120,
        "walk_from_dropoff_m": 80,
        "pickup_eta_s": 1300,
        "pickup_window_start_s": 1180,
        "pickup_window_end_s": 1600,
        "dropoff_eta_s": 2000,
        "latest_dropoff_s": 2600,
        "fare_krw": 1800,
        "direct_distance_m": 4200,
        "direct_time_s": 540,
        "max_ride_s": 1140,
        "valid_until_s": 1120,
        "cost": 312.5,
    }
    fields.update(changes)
    return fields


def test_offer_keeps_its_fields() -> None:
    offer = Offer(**offer_fields())
    assert offer.pickup_window_s == 420
    assert offer.vehicle_id == "bus-3" and offer.fare_krw == 1800 and offer.cost == 312.5
    assert offer.is_valid_at(1120) and not offer.is_valid_at(1121)


def test_offer_window_may_collapse_to_the_eta() -> None:
    offer = Offer(**offer_fields(pickup_window_start_s=1300, pickup_window_end_s=1300))
    assert offer.pickup_window_s == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pickup_window_start_s": 1301}, "pickup_window_start_s"),
        ({"pickup_window_end_s": 1299}, "pickup_window_end_s"),
        ({"dropoff_eta_s": 1300}, "dropoff_eta_s"),
        ({"latest_dropoff_s": 1999}, "latest_dropoff_s"),
        ({"max_ride_s": 539}, "max_ride_s"),
        ({"dropoff_stop": 4}, "dropoff_stop"),
        ({"pickup_stop": -1}, "pickup_stop"),
        ({"walk_to_pickup_m": -3}, "walk_to_pickup_m"),
        ({"fare_krw": 1800.0}, "fare_krw"),
        ({"valid_until_s": -1}, "valid_until_s"),
        ({"cost": math.nan}, "cost"),
        ({"cost": "12"}, "cost"),
        ({"vehicle_id": ""}, "vehicle_id"),
        ({"offer_id": "o 1"}, "offer_id"),
    ],
)
def test_offer_invariants_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        Offer(**offer_fields(**changes))
    assert info.value.field == field
    assert not isinstance(info.value, InvalidRequestError)  # the dispatcher's fault, not the rider's


# ============================================================================ vehicles
def test_vehicle_defaults_and_fields() -> None:
    v = VehicleState(id="bus-1", depot_stop=0, shift_start_s=6 * 3600, shift_end_s=14 * 3600)
    assert (v.seats, v.wheelchair_places) == (16, 1)
    assert v.shift_s == 8 * 3600
    assert VehicleState.from_dict({"id": "bus-1", "depot_stop": 0, "shift_start_s": 21600, "shift_end_s": 50400}) == v


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seats": 0}, "seats"),
        ({"seats": 101}, "seats"),
        ({"wheelchair_places": -1}, "wheelchair_places"),
        ({"seats": 4, "wheelchair_places": 5}, "wheelchair_places"),
        ({"shift_end_s": 6 * 3600}, "shift_end_s"),
        ({"depot_stop": -2}, "depot_stop"),
        ({"id": "bus 1"}, "id"),
    ],
)
def test_bad_vehicles_name_the_field(changes: dict[str, Any], field: str) -> None:
    fields: dict[str, Any] = {"id": "bus-1", "depot_stop": 0, "shift_start_s": 6 * 3600, "shift_end_s": 14 * 3600}
    with pytest.raises(InvalidValueError) as info:
        VehicleState(**{**fields, **changes})
    assert info.value.field == field


def test_vehicle_from_dict_refuses_unknown_and_missing_keys() -> None:
    with pytest.raises(InvalidValueError) as info:
        VehicleState.from_dict({"id": "b", "depot_stop": 0, "shift_start_s": 0, "shift_end_s": 9, "colour": "blue"})
    assert info.value.field == "colour"
    with pytest.raises(InvalidValueError) as info:
        VehicleState.from_dict({"id": "b", "shift_start_s": 0, "shift_end_s": 9})
    assert info.value.field == "depot_stop"


# ============================================================================ statuses
def test_ride_status_transitions() -> None:
    assert RideStatus.OFFERED.can_become(RideStatus.BOOKED)
    assert RideStatus.BOOKED.can_become(RideStatus.CANCELLED)
    assert RideStatus.ASSIGNED.can_become(RideStatus.ON_BOARD)
    assert RideStatus.ON_BOARD.can_become(RideStatus.COMPLETED)
    assert not RideStatus.ON_BOARD.can_become(RideStatus.CANCELLED)
    assert not RideStatus.OFFERED.can_become(RideStatus.ON_BOARD)
    terminal = {s for s in RideStatus if s.is_terminal}
    assert terminal == {RideStatus.COMPLETED, RideStatus.CANCELLED, RideStatus.NO_SHOW, RideStatus.EXPIRED}
    assert RideStatus.ON_BOARD.can_become(RideStatus.EXPIRED) and RideStatus.ASSIGNED.can_become(RideStatus.EXPIRED)
    for status in terminal:
        assert not any(status.can_become(other) for other in RideStatus)


def test_enum_values_are_the_wire_strings() -> None:
    assert [k.value for k in StopEventKind] == ["arrived", "boarded", "alighted", "no_show"]
    assert [c.value for c in RiderClass] == ["adult", "youth", "child"]
    assert RideStatus("on_board") is RideStatus.ON_BOARD


# ============================================================================ errors
def test_not_found_and_conflict_errors() -> None:
    err = NotFoundError("ride", "r-17")
    assert (err.kind, err.id) == ("ride", "r-17")
    assert str(err) == "unknown ride id 'r-17'"
    assert isinstance(err, LookupError) and isinstance(err, MatchingError)
    conflict = ConflictError("ride r-17 is already completed")
    assert conflict.reason == "ride r-17 is already completed" == str(conflict)
    assert isinstance(conflict, MatchingError) and not isinstance(conflict, ValueError)
