"""Who moves the clock, and what a driver's end of shift does.

* On an external clock (a simulation's) only an operator's calls move the clock: a rider who
  sends a time a year ahead used to make every later booking IN_THE_PAST. A driver's reported
  position may lie ahead of the clock (where the vehicle heads next), but not hours ahead.
* EndShift takes the vehicle out of service: it keeps its planned riders but gets no new ride
  until StartShift (it used to change nothing), and operators see both in the assignments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2
from tests.engine.conftest import Engine, bearer

T0 = 8 * 3600
YEAR_AHEAD = T0 + 300 * 86_400
TIMEOUT = 20.0


def _quote(rid: str, origin: int, destination: int, now_s: int) -> rider_pb2.QuoteRequest:
    return rider_pb2.QuoteRequest(
        request_id=rid,
        origin=common_pb2.Place(stop=origin),
        destination=common_pb2.Place(stop=destination),
        passengers=1,
        now_s=now_s,
    )


def _clock(engine: Engine) -> int:
    return engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), metadata=bearer("operator")).clock_s


@pytest.fixture(params=[0, 1], ids=["in-process", "front end"])
def auth(start_engine: Callable[..., Engine], tokens_file: Path, request: pytest.FixtureRequest) -> Engine:
    engine = start_engine(tokens=tokens_file, frontends=request.param)
    engine.advance(T0)
    return engine


def test_only_an_operator_moves_an_external_clock(auth: Engine) -> None:
    alice, driver = bearer("alice"), bearer("driver")
    auth.rider.Quote(_quote("far-ahead", 3, 20, YEAR_AHEAD), metadata=alice, timeout=TIMEOUT)
    assert _clock(auth) == T0
    ride = auth.rider.BookRide(
        rider_pb2.BookRideRequest(request=_quote("ordinary", 3, 20, T0), now_s=T0), metadata=alice, timeout=TIMEOUT
    )
    assert ride.status == common_pb2.RIDE_STATUS_ASSIGNED  # not IN_THE_PAST
    arrived = driver_pb2.StopEvent(vehicle_id="veh0003", kind=driver_pb2.STOP_EVENT_KIND_ARRIVED, time_s=YEAR_AHEAD)
    auth.driver.ReportStopEvent(arrived, metadata=driver, timeout=TIMEOUT)
    end = driver_pb2.ShiftRequest(vehicle_id="veh0003", now_s=YEAR_AHEAD)
    auth.driver.EndShift(end, metadata=driver, timeout=TIMEOUT)
    assert _clock(auth) == T0
    auth.rider.Quote(_quote("operator", 3, 20, T0 + 60), metadata=bearer("operator"), timeout=TIMEOUT)
    assert _clock(auth) == T0 + 60


def test_a_reported_position_may_not_lie_hours_ahead(auth: Engine) -> None:
    driver = bearer("driver")

    def report(time_s: int) -> driver_pb2.LocationAck:
        reports = iter([driver_pb2.LocationReport(vehicle_id="veh0003", stop=7, time_s=time_s)])
        return auth.driver.ReportLocation(reports, metadata=driver, timeout=TIMEOUT)

    assert report(T0 + 600).accepted == 1  # where it will be in ten minutes
    with pytest.raises(grpc.RpcError) as info:
        report(YEAR_AHEAD)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "time_s" in (info.value.details() or "") and "120 min" in (info.value.details() or "")
    status = auth.driver.StartShift(driver_pb2.ShiftRequest(vehicle_id="veh0003"), metadata=driver, timeout=TIMEOUT)
    assert status.available_s <= T0 + 600 and status.stop == 7
    assert _clock(auth) == T0


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_end_shift_takes_the_vehicle_out_of_service(
    start_engine: Callable[..., Engine], store: str, request: pytest.FixtureRequest
) -> None:
    url = "memory"
    if store == "redis":
        server = request.getfixturevalue("redis_server")
        if not server.running:
            server.start()
        with server.client() as client:
            client.flushdb()
        url = server.url
    engine = start_engine(store=url)
    engine.advance(T0)
    vehicles = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=TIMEOUT).vehicles
    first = engine.rider.Quote(_quote("before", 3, 20, T0), timeout=TIMEOUT).offer
    gone = first.vehicle_id  # the vehicle the next quotes would most likely name
    kept = engine.rider.BookRide(rider_pb2.BookRideRequest(offer_id=first.offer_id, now_s=T0), timeout=TIMEOUT)

    status = engine.driver.EndShift(driver_pb2.ShiftRequest(vehicle_id=gone, now_s=T0), timeout=TIMEOUT)
    assert not status.on_shift and status.planned_stops == 2  # it still serves its rider
    fleet = engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), timeout=TIMEOUT)
    assert fleet.vehicles_on_shift == len(vehicles) - 1
    named = set()
    for k in range(20):
        answer = engine.rider.Quote(_quote(f"after-{k}", (3 + 5 * k) % 35, (20 + 3 * k) % 35, T0 + 10), timeout=TIMEOUT)
        if answer.WhichOneof("result") == "offer":
            named.add(answer.offer.vehicle_id)
    assert named and gone not in named
    assert engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id="before"), timeout=TIMEOUT).vehicle_id == gone
    assert kept.vehicle_id == gone

    engine.close()  # it stays off shift across a restart
    again = start_engine(store=url) if url != "memory" else None
    if again is not None:
        row = next(
            v
            for v in again.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), timeout=TIMEOUT).vehicles
            if v.vehicle_id == gone
        )
        assert not row.on_shift
        engine = again
    else:
        engine = start_engine(store="memory")
        engine.advance(T0)
        engine.driver.EndShift(driver_pb2.ShiftRequest(vehicle_id=gone, now_s=T0), timeout=TIMEOUT)
    status = engine.driver.StartShift(driver_pb2.ShiftRequest(vehicle_id=gone, now_s=T0 + 20), timeout=TIMEOUT)
    assert status.on_shift
    kinds = [
        (payload["kind"], payload["vehicle_id"])
        for _, payload in engine.core.store.read_events("assignments")
        if payload["kind"].startswith("shift_")
    ]
    assert kinds[-2:] == [("shift_ended", gone), ("shift_started", gone)]
    with pytest.raises(grpc.RpcError) as info:
        engine.driver.EndShift(driver_pb2.ShiftRequest(vehicle_id="no-such-van"), timeout=TIMEOUT)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
