"""The one mapping between the matching model and the schema (proto/convert.py).

* every kind of the model has its own protobuf value, every protobuf value but ``*_UNSPECIFIED``
  is some kind's, and the inverse tables undo the tables;
* an offer and a rejection come back from their messages as they went in (an offer without the
  dispatcher's cost), and a request goes out as the quote the engine reads back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

import pytest

from engine.converters import offer_to_proto, rejection_to_proto, request_from_proto
from matching import Offer, Rejection, RejectReason, Request, RiderClass
from proto import convert as pc
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2

#: (table, inverse, protobuf enum, the enum's values only the shared taxi or the engine has).
TABLES: list[tuple[Mapping[Any, int], Mapping[int, Any], Any, set[int]]] = [
    (pc.RIDER_CLASS, pc.RIDER_CLASS_FROM_PROTO, common_pb2.RiderClass, set()),
    (pc.REJECT_REASON, pc.REJECT_REASON_FROM_PROTO, common_pb2.RejectReason, set()),
    (pc.RIDE_STATUS, pc.RIDE_STATUS_FROM_PROTO, common_pb2.RideStatus,
     {common_pb2.RIDE_STATUS_MATCHING, common_pb2.RIDE_STATUS_REJECTED}),
    (pc.STOP_KIND, pc.STOP_KIND_FROM_PROTO, driver_pb2.StopKind, set()),
    (pc.STOP_EVENT_KIND, pc.STOP_EVENT_KIND_FROM_PROTO, driver_pb2.StopEventKind, set()),
    (pc.ASSIGNMENT_KIND, pc.ASSIGNMENT_KIND_FROM_PROTO, operator_pb2.AssignmentKind,
     {operator_pb2.ASSIGNMENT_KIND_BATCH}),
    (pc.RIDE_UPDATE_KIND, pc.RIDE_UPDATE_KIND_FROM_PROTO, rider_pb2.RideUpdateKind,
     {rider_pb2.RIDE_UPDATE_KIND_REJECTED}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "inverse", "wire", "others"), TABLES, ids=[wire.DESCRIPTOR.name for _, _, wire, _ in TABLES]
)
def test_every_kind_has_its_own_value_and_back(
    table: Mapping[Any, int], inverse: Mapping[int, Any], wire: Any, others: set[int]
) -> None:
    kinds = type(next(iter(table)))
    assert issubclass(kinds, Enum)
    specified = {v for v in wire.values() if v != 0} - others
    assert set(table.values()) == specified and len(table) == len(specified)  # one to one, nothing unspecified
    assert {inverse[value]: value for value in specified} == dict(table)
    assert set(table) <= set(kinds)


def test_the_taxi_kinds_and_the_engine_kinds_cover_the_rest_by_name() -> None:
    """Every value of the three enums that both services share is some string kind's, each
    taxi status and event kind has one, and the values only the taxi has are the taxi's."""
    from matching.pooling.model import TaxiEventKind, TaxiRideStatus

    for by_name, wire in (
        (pc.RIDE_STATUS_BY_NAME, common_pb2.RideStatus),
        (pc.ASSIGNMENT_KIND_BY_NAME, operator_pb2.AssignmentKind),
        (pc.RIDE_UPDATE_KIND_BY_NAME, rider_pb2.RideUpdateKind),
    ):
        assert set(by_name.values()) == {v for v in wire.values() if v != 0}
    assert set(pc.TAXI_RIDE_STATUS) == set(TaxiRideStatus)
    assert pc.TAXI_RIDE_STATUS[TaxiRideStatus.MATCHING] == common_pb2.RIDE_STATUS_MATCHING
    assert pc.TAXI_RIDE_STATUS[TaxiRideStatus.REJECTED] == common_pb2.RIDE_STATUS_REJECTED
    assert set(pc.TAXI_DISPATCH_KIND) == set(pc.TAXI_RIDE_UPDATE) == set(TaxiEventKind)
    assert all(kind in pc.RIDE_UPDATE_KIND_BY_NAME for kind in pc.TAXI_RIDE_UPDATE.values())
    assert (
        pc.RIDE_UPDATE_KIND_BY_NAME[pc.TAXI_RIDE_UPDATE[TaxiEventKind.REJECTED]] == rider_pb2.RIDE_UPDATE_KIND_REJECTED
    )


def test_only_offers_and_bookings_without_a_vehicle_have_no_ride_status() -> None:
    from matching import RideStatus

    assert set(RideStatus) - set(pc.RIDE_STATUS) == {RideStatus.OFFERED, RideStatus.BOOKED}


def _offer() -> Offer:
    return Offer(offer_id="offer-7-ab", request_id="alice/r1", vehicle_id="bus3", pickup_stop=4, dropoff_stop=9,
                 walk_to_pickup_m=120, walk_from_dropoff_m=80, pickup_eta_s=28_900, pickup_window_start_s=28_800,
                 pickup_window_end_s=29_200, dropoff_eta_s=29_800, latest_dropoff_s=30_400, fare_krw=1_550,
                 direct_distance_m=4_200, direct_time_s=700, max_ride_s=1_650, valid_until_s=28_920,
                 cost=812.5)  # fmt: skip


def test_an_offer_comes_back_as_it_went_without_its_cost() -> None:
    offer = _offer()
    assert pc.offer_from_proto(offer_to_proto(offer)) == dataclasses.replace(offer, cost=0.0)
    assert pc.offer_from_proto(offer_to_proto(offer, "alice")).request_id == "r1"  # as the rider sees it
    assert set(pc.OFFER_FIELDS) | set(pc.TAXI_OFFER_FIELDS) == {f.name for f in common_pb2.Offer.DESCRIPTOR.fields}
    assert not set(pc.OFFER_FIELDS) & set(pc.TAXI_OFFER_FIELDS)


@pytest.mark.parametrize("reason", list(RejectReason))
def test_a_rejection_comes_back_as_it_went(reason: RejectReason) -> None:
    rejection = Rejection(request_id="r1", reason=reason, detail="why")
    assert pc.rejection_from_proto(rejection_to_proto(rejection)) == rejection
    answer = rider_pb2.QuoteResponse(rejection=rejection_to_proto(rejection))
    assert pc.quote_answer(answer) == rejection
    assert pc.quote_answer(rider_pb2.QuoteResponse(offer=offer_to_proto(_offer()))) == dataclasses.replace(
        _offer(), cost=0.0
    )


@pytest.mark.parametrize("rider_class", list(RiderClass))
def test_a_request_goes_out_as_the_quote_the_engine_reads(rider_class: RiderClass) -> None:
    by_stop = Request(id="r1", requested_time_s=30_000, submitted_time_s=29_000, origin_stop=3, destination_stop=8,
                      passengers=2, rider_class=rider_class, wheelchair=True)  # fmt: skip
    by_point = Request(id="r2", requested_time_s=30_000, submitted_time_s=29_000, origin_lat=37.51, origin_lon=127.1,
                       destination_lat=37.52, destination_lon=127.11)  # fmt: skip
    for request in (by_stop, by_point):
        msg = pc.quote_request(request, 29_000)
        assert msg.now_s == 29_000
        assert request_from_proto(msg, None, 29_000) == request
