"""The operators' dashboard API over real gRPC: vehicle states and positions, the service map,
ListRides, GetVehicleRoute and the dashboard's FleetStatus fields.

Every test talks to a real engine on a free port with an external clock (tests/engine/conftest.py):
the bundled ``imod_jamsil`` I-MOD service (16 minibuses, 35 stops), the same with a zone
(``deployments/jamsil_zone.toml``) and the shared taxis alone (``deployments/jamsil_taxis.toml``).
The expectations are recounted by hand from what the engine says elsewhere (GetManifest, GetRide,
the road network's own arrays and shortest paths), never copied from the answers under test.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from engine import converters as cv
from engine.geometry import LegPaths, MapPoints
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2
from routing import RoadNetwork, Router
from tests.engine.conftest import Engine, RedisServer, bearer

DEPLOYMENTS = Path(__file__).parent / "deployments"
ZONE = DEPLOYMENTS / "jamsil_zone.toml"
TAXIS_ONLY = DEPLOYMENTS / "jamsil_taxis.toml"
T0 = 8 * 3600
TIMEOUT = 20.0
Metadata = list[tuple[str, str]] | None
#: The vehicle of the driver token of conftest.TOKENS.
DRIVEN = "veh0003"


# ---------------------------------------------------------------------------- helpers
def advance(engine: Engine, now_s: int, metadata: Metadata = None) -> None:
    """Move the external clock on to ``now_s`` (an operator's re-optimisation of one iteration)."""
    engine.operator.Reoptimise(operator_pb2.ReoptimiseRequest(iterations=1, now_s=now_s), metadata=metadata,
                               timeout=TIMEOUT)  # fmt: skip


def vehicles(engine: Engine, metadata: Metadata = None, service: str = "") -> dict[str, driver_pb2.VehicleStatus]:
    answer = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(service=service), metadata=metadata,
                                          timeout=TIMEOUT)  # fmt: skip
    return {v.vehicle_id: v for v in answer.vehicles}


def fleet(engine: Engine, metadata: Metadata = None, service: str = "") -> operator_pb2.FleetStatusResponse:
    request = operator_pb2.FleetStatusRequest(service=service)
    return engine.operator.FleetStatus(request, metadata=metadata, timeout=TIMEOUT)


def stop_place(stop: int) -> common_pb2.Place:
    return common_pb2.Place(stop=stop)


def point_place(lat: float, lon: float) -> common_pb2.Place:
    return common_pb2.Place(point=common_pb2.LatLon(lat=lat, lon=lon))


def book_at_once(
    engine: Engine, request_id: str, origin: common_pb2.Place, destination: common_pb2.Place, now_s: int,
    metadata: Metadata = None, requested_s: int = 0,
) -> common_pb2.Ride:  # fmt: skip
    request = rider_pb2.QuoteRequest(request_id=request_id, origin=origin, destination=destination, passengers=1,
                                     now_s=now_s, requested_time_s=requested_s)  # fmt: skip
    return engine.rider.BookRide(rider_pb2.BookRideRequest(request=request, now_s=now_s), metadata=metadata,
                                 timeout=TIMEOUT)  # fmt: skip


def stop_event(
    engine: Engine,
    vehicle_id: str,
    kind: driver_pb2.StopEventKind,
    ride_id: str,
    time_s: int,
    metadata: Metadata = None,
) -> None:
    event = driver_pb2.StopEvent(vehicle_id=vehicle_id, kind=kind, ride_id=ride_id, time_s=time_s)
    engine.driver.ReportStopEvent(event, metadata=metadata, timeout=TIMEOUT)


def manifest(engine: Engine, vehicle_id: str, metadata: Metadata = None) -> driver_pb2.Manifest:
    request = driver_pb2.GetManifestRequest(vehicle_id=vehicle_id)
    return engine.driver.GetManifest(request, metadata=metadata, timeout=TIMEOUT)


def route(engine: Engine, vehicle_id: str, metadata: Metadata = None) -> operator_pb2.VehicleRoute:
    request = operator_pb2.GetVehicleRouteRequest(vehicle_id=vehicle_id)
    return engine.operator.GetVehicleRoute(request, metadata=metadata, timeout=TIMEOUT)


def error_of(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def point(p: common_pb2.LatLon) -> tuple[float, float]:
    return (p.lat, p.lon)


def stop_point(engine: Engine, stop: int) -> tuple[float, float]:
    """Stop ``stop``'s position as the engine's stop set has it (Jamsil has coordinates)."""
    return float(engine.core.stops.lat[stop]), float(engine.core.stops.lon[stop])


def node_point(engine: Engine, node: int) -> tuple[float, float]:
    return float(engine.core.network.lat[node]), float(engine.core.network.lon[node])


def street_path(engine: Engine, source: int, target: int) -> np.ndarray:
    """The shortest path between two road nodes as ``(lat, lon)`` rows along the streets' shapes,
    from the router and the network's own shape arrays (independent of the engine's leg cache)."""
    path = engine.core.router.path(source, target)
    lat, lon = engine.core.network.path_shape(path.nodes)
    return np.column_stack([lat, lon])


def distance_to_polyline(p: tuple[float, float], line: np.ndarray) -> float:
    """The smallest distance (degrees, plane) from ``p`` to the segments of ``line``."""
    a, b = line[:-1], line[1:]
    ab = b - a
    ap = np.asarray(p) - a
    length2 = np.maximum((ab * ab).sum(axis=1), 1e-30)
    t = np.clip((ap * ab).sum(axis=1) / length2, 0.0, 1.0)
    closest = a + ab * t[:, None]
    return float(np.min(np.hypot(*(np.asarray(p) - closest).T)))


def free_stop(engine: Engine, avoid: set[int], k: int = 0) -> int:
    """The ``k``-th stop (from stop 3) where no vehicle is."""
    n = len(engine.core.stops)
    return [s for s in [*range(3, n), *range(3)] if s not in avoid][k]


@pytest.fixture(params=["memory", "redis, front end"])
def setup(request: pytest.FixtureRequest) -> dict[str, Any]:
    """On the memory store in one process, or on the session's Redis with gRPC in a front end."""
    if request.param == "memory":
        return {"store": "memory"}
    server: RedisServer = request.getfixturevalue("redis_server")
    if not server.running:
        server.start()
    with server.client() as client:
        client.flushdb()
    return {"store": server.url, "frontends": 1}


# ---------------------------------------------------------------------------- vehicle states and positions
def test_a_booked_vehicle_drives_to_the_pickup_dwells_and_carries_its_rider(
    start_engine: Callable[..., Engine], setup: dict[str, Any]
) -> None:
    engine = start_engine(**setup)
    advance(engine, T0)
    # the map (with a front end: read from the engine's process once, off its writer)
    drawn_map = engine.operator.GetServiceMap(operator_pb2.GetServiceMapRequest(), timeout=TIMEOUT)
    assert drawn_map == cv.service_map(engine.core.service_map(engine.core.directory.default))
    assert len(drawn_map.stops) == len(engine.core.stops) and len(drawn_map.street_offsets) > 1
    before = vehicles(engine)
    assert len(before) == 16
    for v in before.values():
        assert v.state == driver_pb2.VEHICLE_STATE_IDLE and v.next_stop == -1 and v.next_arrival_s == 0
        assert point(v.position) == pytest.approx(stop_point(engine, v.stop)) and not v.HasField("next_position")
    taken = {v.stop for v in before.values()}
    origin, destination = free_stop(engine, taken, 0), free_stop(engine, taken, 5)
    ride = book_at_once(engine, "r1", stop_place(origin), stop_place(destination), T0)
    vid = ride.vehicle_id
    start = before[vid].stop  # where the vehicle waited: it leaves at once (nothing holds it)
    assert start != origin
    status = vehicles(engine)[vid]
    assert status.state == driver_pb2.VEHICLE_STATE_TO_PICKUP
    assert (status.next_stop, point(status.next_position)) == (origin, pytest.approx(stop_point(engine, origin)))
    pickup, dropoff = manifest(engine, vid).stops
    arrive = status.next_arrival_s  # the planned arrival at the pickup: the service starts then (no wait)
    assert arrive == pickup.planned_s and arrive > T0 + 1
    drive = street_path(engine, int(engine.core.stops.node[start]), int(engine.core.stops.node[origin]))

    half = (T0 + arrive) // 2  # halfway through the drive: strictly between the two stops
    advance(engine, half)  # the dispatcher now holds the vehicle at its pickup from the arrival on
    status = vehicles(engine)[vid]
    assert status.state == driver_pb2.VEHICLE_STATE_TO_PICKUP
    here = point(status.position)
    assert distance_to_polyline(here, drive) < 1e-7  # on the street path
    for end in (stop_point(engine, start), stop_point(engine, origin)):
        assert math.dist(here, end) > 1e-5  # not at either stop (more than a metre away)
    lo, hi = drive.min(axis=0), drive.max(axis=0)
    assert np.all(lo - 1e-9 <= here) and np.all(np.asarray(here) <= hi + 1e-9)
    drawn = route(engine, vid)
    assert point(drawn.path[0]) == pytest.approx(here)

    advance(engine, arrive)  # arrived (as planned; nobody reported it yet): dwelling at the pickup
    status = vehicles(engine)[vid]
    assert status.state == driver_pb2.VEHICLE_STATE_DWELLING
    assert point(status.position) == pytest.approx(stop_point(engine, origin))

    stop_event(engine, vid, driver_pb2.STOP_EVENT_KIND_BOARDED, "r1", arrive)
    status = vehicles(engine)[vid]
    assert status.state == driver_pb2.VEHICLE_STATE_DWELLING and status.on_board == 1  # boarding takes service_s
    assert (status.next_stop, status.stop) == (destination, origin)
    leaves = arrive + pickup.service_s
    advance(engine, leaves)
    status = vehicles(engine)[vid]
    assert status.state == driver_pb2.VEHICLE_STATE_WITH_RIDERS
    assert status.next_arrival_s <= dropoff.planned_s
    for other, v in vehicles(engine).items():
        if other != vid:
            assert v.state == driver_pb2.VEHICLE_STATE_IDLE


def test_the_route_runs_from_the_position_through_every_planned_stop(start_engine: Callable[..., Engine]) -> None:
    engine = start_engine()
    advance(engine, T0)
    taken = {v.stop for v in vehicles(engine).values()}
    stops = [free_stop(engine, taken, k) for k in range(4)]
    first = book_at_once(engine, "a", stop_place(stops[0]), stop_place(stops[1]), T0)
    vid = first.vehicle_id
    drawn = route(engine, vid)
    listed = manifest(engine, vid)
    assert [(s.ride_id, s.kind, s.stop) for s in drawn.manifest.stops] == [
        (s.ride_id, s.kind, s.stop) for s in listed.stops
    ]
    assert drawn.time_s == T0 and drawn.vehicle_id == vid
    status = vehicles(engine)[vid]
    assert point(drawn.path[0]) == pytest.approx(point(status.position))
    assert len(drawn.stop_points) == len(drawn.stop_path_index) == len(listed.stops)
    assert list(drawn.stop_path_index) == sorted(drawn.stop_path_index)
    for k, s in enumerate(listed.stops):
        assert point(drawn.stop_points[k]) == pytest.approx(stop_point(engine, s.stop))
        assert point(drawn.path[drawn.stop_path_index[k]]) == pytest.approx(stop_point(engine, s.stop))
    # between two stops the path follows the streets: every point lies on the shortest path's shape
    a, b = listed.stops[0].stop, listed.stops[1].stop
    shape = street_path(engine, int(engine.core.stops.node[a]), int(engine.core.stops.node[b]))
    for p in drawn.path[drawn.stop_path_index[0] : drawn.stop_path_index[1] + 1]:
        assert distance_to_polyline(point(p), shape) < 1e-9
    # the promised windows: a pickup's end, a drop-off's latest time (GetRide's)
    ride = engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id="a"), timeout=TIMEOUT)
    ends = {(s.ride_id, s.kind): s.window_end_s for s in listed.stops}
    assert ends[("a", driver_pb2.STOP_KIND_PICKUP)] == ride.pickup_window_end_s
    assert abs(ends[("a", driver_pb2.STOP_KIND_DROPOFF)] - ride.latest_dropoff_s) <= 1
    assert [s.window_end_s for s in drawn.manifest.stops] == [s.window_end_s for s in listed.stops]
    error = error_of(lambda: route(engine, "veh9999"))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "veh9999" in (error.details() or "")


# ---------------------------------------------------------------------------- the service map
def test_the_service_map_draws_every_street_once_with_the_stops_and_zone(
    start_engine: Callable[..., Engine], tokens_file: Path
) -> None:
    engine = start_engine(scenario=ZONE, tokens=tokens_file)
    net = engine.core.network
    answers = [
        engine.operator.GetServiceMap(operator_pb2.GetServiceMapRequest(), metadata=bearer(who), timeout=TIMEOUT)
        for who in ("alice", "driver", "operator")
    ]
    assert answers[0] == answers[1] == answers[2]  # any authenticated caller, the same map
    m = answers[0]
    error = error_of(lambda: engine.operator.GetServiceMap(operator_pb2.GetServiceMapRequest(), timeout=TIMEOUT))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (m.service, m.kind, m.nodes, m.edges, m.planar) == (engine.core.directory.default, "imod", net.num_nodes,
                                                              net.num_edges, False)  # fmt: skip
    assert [(s.stop, s.lat, s.lon) for s in m.stops] == [
        (k, *stop_point(engine, k)) for k in range(len(engine.core.stops))
    ]
    zone = engine.core.deployment.service.zone
    assert zone is not None
    assert [point(p) for p in m.zone] == [tuple(p) for p in zone]
    offsets = list(m.street_offsets)
    assert offsets[0] == 0 and offsets[-1] == len(m.street_lat) == len(m.street_lon)
    assert all(b - a >= 2 for a, b in itertools.pairwise(offsets))
    # every segment drawn, as an unordered pair of points: none twice
    drawn: list[frozenset[tuple[float, float]]] = []
    for a, b in itertools.pairwise(offsets):
        line = list(zip(m.street_lat[a:b], m.street_lon[a:b], strict=True))
        drawn += [frozenset(pair) for pair in itertools.pairwise(line)]
    assert len(drawn) == len(set(drawn))
    segments = set(drawn)

    def edge_segments(e: int) -> set[frozenset[tuple[float, float]]]:
        lat, lon = net.edge_shape(int(net.tail[e]), int(net.indices[e]))
        line = list(zip(lat.tolist(), lon.tolist(), strict=True))
        return {frozenset(pair) for pair in itertools.pairwise(line)}

    for e in range(net.num_edges):  # each edge drawn, or its street drawn the other way
        reverse = net.edge_id(int(net.indices[e]), int(net.tail[e]))
        assert edge_segments(e) <= segments or (reverse >= 0 and edge_segments(reverse) <= segments), e
    two_way = sum(net.edge_id(int(net.indices[e]), int(net.tail[e])) >= 0 for e in range(net.num_edges))
    assert len(drawn) < net.num_edges + net.num_shape_points  # the two-way streets once, not twice
    assert two_way > 0
    lat, lon = np.asarray(m.street_lat), np.asarray(m.street_lon)
    assert (m.south_west.lat, m.south_west.lon) == (min(lat.min(), min(s.lat for s in m.stops)),
                                                    min(lon.min(), min(s.lon for s in m.stops)))  # fmt: skip
    assert (m.north_east.lat, m.north_east.lon) == (max(lat.max(), max(s.lat for s in m.stops)),
                                                    max(lon.max(), max(s.lon for s in m.stops)))  # fmt: skip


# ---------------------------------------------------------------------------- rides and KPIs
def test_list_rides_wait_percentiles_and_rejections_by_reason(
    start_engine: Callable[..., Engine], tokens_file: Path
) -> None:
    engine = start_engine(scenario=ZONE, tokens=tokens_file)
    op, alice = bearer("operator"), bearer("alice")
    advance(engine, T0, op)
    stops = engine.core.stops
    in_zone = [k for k in range(len(stops)) if stops.lat[k] < 0.5 * (37.505 + 37.525)]
    rides = []
    for k in range(4):
        o, d = in_zone[k], in_zone[-1 - k]
        rides.append(book_at_once(engine, f"r{k}", stop_place(o), stop_place(d), T0 + k, alice, T0 + 60 * k))
    # two rejections by hand: a quote from a point north of the zone, a booking at once after hours
    outside = rider_pb2.QuoteRequest(request_id="out", origin=point_place(37.535, 127.10),
                                     destination=stop_place(in_zone[0]), passengers=1, now_s=T0)  # fmt: skip
    answer = engine.rider.Quote(outside, metadata=alice, timeout=TIMEOUT)
    assert answer.rejection.reason == common_pb2.REJECT_REASON_OUTSIDE_ZONE
    late = error_of(lambda: book_at_once(engine, "late", stop_place(in_zone[1]), stop_place(in_zone[2]), T0, alice,
                                         23 * 3600 + 1800))  # fmt: skip
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION, late.details()
    # three riders picked up at their planned pickups, one still waiting
    for ride in rides[:3]:
        pickup = next(s for s in manifest(engine, ride.vehicle_id, op).stops if s.ride_id == f"alice/{ride.ride_id}")
        stop_event(engine, ride.vehicle_id, driver_pb2.STOP_EVENT_KIND_BOARDED, pickup.ride_id, pickup.planned_s, op)
    first = rides[0]
    drop = next(s for s in manifest(engine, first.vehicle_id, op).stops if s.ride_id == "alice/r0")
    stop_event(engine, first.vehicle_id, driver_pb2.STOP_EVENT_KIND_ALIGHTED, "alice/r0", drop.planned_s, op)
    seen = [engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id=r.ride_id), metadata=alice, timeout=TIMEOUT)
            for r in rides]  # fmt: skip
    assert [r.requested_s for r in seen] == [T0 + 60 * k for k in range(4)]
    waits = [r.picked_up_at_s - r.requested_s for r in seen if r.picked_up_at_s]
    assert len(waits) == 3
    status = fleet(engine, op)
    assert status.wait_p50_s == pytest.approx(float(np.percentile(waits, 50)))
    assert status.wait_p90_s == pytest.approx(float(np.percentile(waits, 90)))
    assert dict(status.rejected_by_reason) == {"OUTSIDE_ZONE": 1, "OUTSIDE_HOURS": 1}
    assert status.requests_rejected == 2
    busy = {r.vehicle_id for r in rides}  # the riders' vehicles (r0's has others' stops or none)
    listed = vehicles(engine, op)
    expected_busy = sum(1 for v in listed.values() if v.on_shift and (v.on_board or v.planned_stops))
    assert status.vehicles_busy == expected_busy and 1 <= expected_busy <= len(busy)
    places = sum(v.seats + v.wheelchair_places for v in listed.values() if v.on_shift)
    assert status.occupancy == pytest.approx(2 / places)  # r1 and r2 on board

    everything = engine.operator.ListRides(operator_pb2.ListRidesRequest(), metadata=op, timeout=TIMEOUT).rides
    assert [r.ride_id for r in everything] == ["alice/r3", "alice/r2", "alice/r1", "alice/r0"]  # booked last first
    open_ = engine.operator.ListRides(operator_pb2.ListRidesRequest(open_only=True), metadata=op, timeout=TIMEOUT)
    assert [r.ride_id for r in open_.rides] == ["alice/r3", "alice/r2", "alice/r1"]  # r0 completed
    two = engine.operator.ListRides(operator_pb2.ListRidesRequest(limit=2), metadata=op, timeout=TIMEOUT)
    assert [r.ride_id for r in two.rides] == ["alice/r3", "alice/r2"]
    for r in everything:
        assert point(r.pickup_point) == pytest.approx(stop_point(engine, r.pickup_stop))
        assert point(r.dropoff_point) == pytest.approx(stop_point(engine, r.dropoff_stop))
    assert b"rider-alice" not in b"".join(r.SerializeToString() for r in everything)  # no token
    denied = error_of(lambda: engine.operator.ListRides(operator_pb2.ListRidesRequest(), metadata=alice,
                                                        timeout=TIMEOUT))  # fmt: skip
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    bad = error_of(lambda: engine.operator.ListRides(operator_pb2.ListRidesRequest(limit=-1), metadata=op,
                                                     timeout=TIMEOUT))  # fmt: skip
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit" in (bad.details() or "")


def test_a_vehicle_route_is_its_driver_s_and_the_operators_only(
    start_engine: Callable[..., Engine], tokens_file: Path
) -> None:
    engine = start_engine(tokens=tokens_file)
    advance(engine, T0, bearer("operator"))
    mine = route(engine, DRIVEN, bearer("driver"))
    assert mine.vehicle_id == DRIVEN and not mine.manifest.stops and len(mine.path) == 1
    for who, vehicle in (("driver", "veh0004"), ("alice", DRIVEN), ("alice", "veh0004")):
        denied = error_of(lambda v=vehicle, w=who: route(engine, v, bearer(w)))  # type: ignore[misc]
        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert route(engine, "veh0004", bearer("operator")).vehicle_id == "veh0004"


# ---------------------------------------------------------------------------- the shared taxi
def test_the_shared_taxi_s_states_positions_route_and_kpis(start_engine: Callable[..., Engine]) -> None:
    engine = start_engine(scenario=TAXIS_ONLY)
    advance(engine, T0)
    service = engine.core.taxi["jamsil-taxi"]
    taxis = {t.spec.id: t.node for t in service.dispatcher.taxis}
    listed = vehicles(engine)
    assert set(listed) == set(taxis)
    for vid, v in listed.items():
        assert v.state == driver_pb2.VEHICLE_STATE_IDLE and v.next_node == -1
        assert point(v.position) == pytest.approx(node_point(engine, taxis[vid]))
    n = engine.core.network.num_nodes
    free = [x for x in range(n // 2, n) if x not in taxis.values()]
    o, d = free[0], free[40]
    ask = rider_pb2.QuoteRequest(request_id="t1", origin=common_pb2.Place(node=o),
                                 destination=common_pb2.Place(node=d), passengers=1)  # fmt: skip
    ride = engine.rider.BookRide(rider_pb2.BookRideRequest(request=ask), timeout=TIMEOUT)
    assert ride.status == common_pb2.RIDE_STATUS_MATCHING and ride.requested_s == T0
    assert point(ride.pickup_point) == pytest.approx(node_point(engine, o))
    assert point(ride.dropoff_point) == pytest.approx(node_point(engine, d))
    batch = T0 + 20
    advance(engine, batch)  # the batch assigns it
    ride = engine.rider.GetRide(rider_pb2.GetRideRequest(ride_id="t1"), timeout=TIMEOUT)
    vid = ride.vehicle_id
    status = vehicles(engine)[vid]
    assert status.state == driver_pb2.VEHICLE_STATE_TO_PICKUP
    assert (status.next_node, status.next_stop, status.next_arrival_s) == (o, -1, ride.planned_pickup_s)
    assert point(status.next_position) == pytest.approx(node_point(engine, o))
    drive = street_path(engine, taxis[vid], o)
    start_s = ride.planned_pickup_s - engine.core.router.travel_time(taxis[vid], o)
    assert start_s >= batch
    half = (start_s + ride.planned_pickup_s) // 2
    assert start_s < half < ride.planned_pickup_s
    advance(engine, half)
    status = vehicles(engine)[vid]
    here = point(status.position)
    assert status.state == driver_pb2.VEHICLE_STATE_TO_PICKUP
    assert distance_to_polyline(here, drive) < 1e-7
    assert min(math.dist(here, node_point(engine, x)) for x in (taxis[vid], o)) > 1e-5
    drawn = route(engine, vid)
    assert point(drawn.path[0]) == pytest.approx(here)
    reached = [point(drawn.path[k]) for k in drawn.stop_path_index]
    assert np.allclose(reached, [node_point(engine, o), node_point(engine, d)])
    assert [s.node for s in drawn.manifest.stops] == [o, d]
    assert [s.window_end_s for s in drawn.manifest.stops] == [ride.pickup_window_end_s, ride.latest_dropoff_s]
    listed_rides = engine.operator.ListRides(operator_pb2.ListRidesRequest(open_only=True), timeout=TIMEOUT).rides
    assert [r.ride_id for r in listed_rides] == ["t1"]
    kpis = fleet(engine)
    assert kpis.vehicles_busy == 1 and kpis.occupancy == 0.0 and dict(kpis.rejected_by_reason) == {}
    # every taxi an hour away: the next request is rejected at the batch after its maximum wait
    for taxi, node in taxis.items():
        report = driver_pb2.LocationReport(vehicle_id=taxi, node=node, time_s=half + 3600)
        assert engine.driver.ReportLocation(iter([report]), timeout=TIMEOUT).accepted == 1
    ask2 = rider_pb2.QuoteRequest(request_id="t2", origin=common_pb2.Place(node=free[3]),
                                  destination=common_pb2.Place(node=free[30]), passengers=1)  # fmt: skip
    engine.rider.BookRide(rider_pb2.BookRideRequest(request=ask2), timeout=TIMEOUT)
    advance(engine, half + 600)
    assert dict(fleet(engine).rejected_by_reason) == {"NO_VEHICLE_IN_TIME": 1}


def test_rejections_by_reason_survive_a_restart_on_redis(
    start_engine: Callable[..., Engine], redis_server: RedisServer
) -> None:
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as client:
        client.flushdb()
    first = start_engine(store=redis_server.url, scenario=ZONE)
    advance(first, T0)
    for k in range(2):
        outside = rider_pb2.QuoteRequest(request_id=f"out{k}", origin=point_place(37.535, 127.10 + 0.001 * k),
                                         destination=stop_place(0), passengers=1, now_s=T0)  # fmt: skip
        assert first.rider.Quote(outside, timeout=TIMEOUT).rejection.reason == common_pb2.REJECT_REASON_OUTSIDE_ZONE
    ride = book_at_once(first, "kept", stop_place(1), stop_place(2), T0)
    assert dict(fleet(first).rejected_by_reason) == {"OUTSIDE_ZONE": 2}
    first.close()  # Redis keeps what the engine committed

    second = start_engine(store=redis_server.url, scenario=ZONE)
    assert dict(fleet(second).rejected_by_reason) == {"OUTSIDE_ZONE": 2}
    again = second.rider.GetRide(rider_pb2.GetRideRequest(ride_id="kept"), timeout=TIMEOUT)
    assert (point(again.pickup_point), point(again.dropoff_point), again.requested_s) == (
        point(ride.pickup_point), point(ride.dropoff_point), T0
    )  # fmt: skip
    assert point(again.pickup_point) == pytest.approx(stop_point(second, 1))


# ---------------------------------------------------------------------------- the legs' cache
def test_leg_paths_follow_the_shortest_path_and_keep_to_their_budget(jamsil_net: RoadNetwork) -> None:
    router = Router.from_network(jamsil_net)
    points = MapPoints.of(jamsil_net)
    legs = LegPaths(jamsil_net, points, max_points=300)
    n = jamsil_net.num_nodes
    pairs = [(k, (k * 37 + 11) % n) for k in range(0, n, 7) if k != (k * 37 + 11) % n]
    for source, target in pairs:
        leg = legs.leg(router, source, target)
        path = router.path(source, target)
        assert leg.seconds == path.travel_time_s
        lat, lon = jamsil_net.path_shape(path.nodes)
        assert np.array_equal(leg.lat, lat) and np.array_equal(leg.lon, lon)  # the streets' shapes
        assert leg.share[0] == 0.0 and leg.share[-1] == pytest.approx(1.0) and np.all(np.diff(leg.share) >= 0)
        assert leg.point_at(0.0) == (lat[0], lon[0]) and leg.point_at(1.0) == (lat[-1], lon[-1])
        assert legs.size <= 300 or len(legs) == 1
    # a fraction of the drive time: within the edge where the edges' times say it is
    source, target = pairs[-1]
    path = router.path(source, target)
    times = np.cumsum(jamsil_net.travel_time_s[path.edges])
    k = int(np.searchsorted(times, times[-1] / 2))  # the edge driven at half time
    lat, lon = jamsil_net.path_shape(path.nodes[k : k + 2])
    half = legs.leg(router, source, target).point_at(0.5)
    assert distance_to_polyline(half, np.column_stack([lat, lon])) < 1e-9
    assert (
        legs.leg(router.with_travel_times(jamsil_net.travel_time_s * 2), source, target).seconds
        == 2 * path.travel_time_s
    )
    assert len(legs) == 1  # new travel times: a new cache
