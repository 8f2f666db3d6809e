"""The service area on the real Jamsil network: zone, stops in walking reach, hours, horizons."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from pyproj import Transformer

from matching import (
    InvalidRequestError,
    InvalidValueError,
    Refusal,
    Rejection,
    RejectReason,
    Request,
    ServiceArea,
    ServiceParams,
    StopChoice,
    StopPair,
    point_in_polygon,
)
from routing import RoadNetwork, StopSet

HOUR = 3600
DAY = 86400
NOW = 8 * HOUR  # 08:00 on the service day


def walk_m(net: RoadNetwork, stops: StopSet, lat: float, lon: float) -> np.ndarray:
    """Straight-line distance from a point to every stop, projected with pyproj directly."""
    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
    return np.hypot(stops.x_m - x, stops.y_m - y)


def stop_point(stops: StopSet, i: int, dlat: float = 0.0, dlon: float = 0.0) -> tuple[float, float]:
    return float(stops.lat[i]) + dlat, float(stops.lon[i]) + dlon


def area_with(area: ServiceArea, **changes: Any) -> ServiceArea:
    return ServiceArea(area.network, area.stops, dataclasses.replace(area.params, **changes))


# ============================================================================ point in polygon
SQUARE = ((0.0, 0.0), (0.0, 2.0), (2.0, 2.0), (2.0, 0.0))  # (lat, lon)
L_SHAPE = ((0.0, 0.0), (0.0, 3.0), (1.0, 3.0), (1.0, 1.0), (3.0, 1.0), (3.0, 0.0))


def test_point_in_square_inside_outside_and_boundary() -> None:
    lat = [1.0, 3.0, -0.5, 1.0, 0.0, 2.0, 1.0, 0.0, 1.0 + 1e-6]
    lon = [1.0, 1.0, 1.0, 2.5, 1.0, 2.0, 0.0, 0.0, 2.0 + 1e-6]
    expected = [True, False, False, False, True, True, True, True, False]
    assert point_in_polygon(lat, lon, SQUARE).tolist() == expected


def test_rays_through_vertices_count_once() -> None:
    diamond = ((0.0, 1.0), (1.0, 2.0), (2.0, 1.0), (1.0, 0.0))
    # Points at a vertex's latitude: the eastward ray passes through the vertex (1, 2).
    assert point_in_polygon([1.0, 1.0, 1.0], [0.5, 1.5, -1.0], diamond).tolist() == [True, True, False]
    # At the latitude of the bottom vertex, west of it: outside; at the vertex itself: inside.
    assert point_in_polygon([0.0, 0.0], [0.5, 1.0], diamond).tolist() == [False, True]


def test_concave_polygon_against_its_two_rectangles() -> None:
    rng = np.random.default_rng(5)
    lat = rng.uniform(-0.5, 3.5, 4000)
    lon = rng.uniform(-0.5, 3.5, 4000)
    inside = point_in_polygon(lat, lon, L_SHAPE)
    oracle = ((lat >= 0) & (lat <= 1) & (lon >= 0) & (lon <= 3)) | ((lat >= 0) & (lat <= 3) & (lon >= 0) & (lon <= 1))
    assert np.array_equal(inside, oracle)
    assert 0.2 < inside.mean() < 0.5  # both answers occur often
    # The notch of the L is outside, reversing the vertex order changes nothing.
    assert not point_in_polygon(2.0, 2.0, L_SHAPE)
    assert np.array_equal(point_in_polygon(lat, lon, L_SHAPE[::-1]), oracle)


def test_point_in_polygon_keeps_the_shape_and_checks_the_polygon() -> None:
    assert point_in_polygon(np.ones((2, 3)), 1.0, SQUARE).shape == (2, 3)
    with pytest.raises(InvalidValueError) as info:
        point_in_polygon(1.0, 1.0, ((0.0, 0.0), (1.0, 1.0)))
    assert info.value.field == "polygon"


# ============================================================================ locate
def test_points_at_stops_walk_nowhere(jamsil_area: ServiceArea, jamsil_stops: StopSet) -> None:
    for i in (0, 7, 21, len(jamsil_stops) - 1):
        assert jamsil_area.locate(*stop_point(jamsil_stops, i)) == StopChoice(i, 0)


def test_point_near_a_stop_walks_to_the_nearest(
    jamsil_net: RoadNetwork, jamsil_area: ServiceArea, jamsil_stops: StopSet
) -> None:
    lat, lon = stop_point(jamsil_stops, 0, dlat=0.001)  # about 111 m north of stop 0
    dist = walk_m(jamsil_net, jamsil_stops, lat, lon)
    choice = jamsil_area.locate(lat, lon)
    assert isinstance(choice, StopChoice)
    assert choice.stop == int(dist.argmin())
    assert choice.walk_m == round(float(dist.min()))
    assert 100 < choice.walk_m < 125


def test_walking_limit_refuses_with_the_distance(
    jamsil_net: RoadNetwork, jamsil_area: ServiceArea, jamsil_stops: StopSet
) -> None:
    lat, lon = stop_point(jamsil_stops, 0, dlat=0.001)
    walk = jamsil_area.locate(lat, lon)
    assert isinstance(walk, StopChoice)
    strict = area_with(jamsil_area, max_walk_m=50)
    refusal = strict.locate(lat, lon)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectReason.NO_STOP_IN_REACH
    exact = float(walk_m(jamsil_net, jamsil_stops, lat, lon).min())
    assert refusal.detail.startswith(f"nearest stop is {math.ceil(exact)} m away;")
    assert refusal.detail.endswith("the walking limit is 50 m")
    assert area_with(jamsil_area, max_walk_m=walk.walk_m + 1).locate(lat, lon) == walk


def test_far_point_is_out_of_reach(jamsil_net: RoadNetwork, jamsil_area: ServiceArea, jamsil_stops: StopSet) -> None:
    lat, lon = 37.5500, 127.1000  # about 2 km north of the extract
    refusal = jamsil_area.locate(lat, lon)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectReason.NO_STOP_IN_REACH
    nearest = float(walk_m(jamsil_net, jamsil_stops, lat, lon).min())
    assert 1500 < nearest < 3000
    reported = int(refusal.detail.split("nearest stop is ")[1].split(" m away")[0])
    assert abs(reported - nearest) <= 1


def test_locate_checks_coordinates(jamsil_area: ServiceArea) -> None:
    with pytest.raises(InvalidValueError) as info:
        jamsil_area.locate(91.0, 127.1)
    assert info.value.field == "lat"


# ---------------------------------------------------------------------------- zone
def test_zone_serves_only_its_stops(east_area: ServiceArea, jamsil_stops: StopSet) -> None:
    inside = jamsil_stops.lon >= 127.105
    assert np.array_equal(east_area.stop_in_zone, inside)
    assert 5 < inside.sum() < len(jamsil_stops) - 5  # the zone really cuts the network
    west = int(np.flatnonzero(~inside)[0])
    refusal = east_area.locate(*stop_point(jamsil_stops, west))
    assert isinstance(refusal, Refusal) and refusal.reason is RejectReason.OUTSIDE_ZONE
    assert "outside the service zone" in refusal.detail
    east = int(np.flatnonzero(inside)[0])
    assert east_area.locate(*stop_point(jamsil_stops, east)) == StopChoice(east, 0)


def test_points_inside_the_zone_never_walk_out_of_it(
    jamsil_net: RoadNetwork, east_area: ServiceArea, jamsil_area: ServiceArea, jamsil_stops: StopSet
) -> None:
    # Points just inside the western edge whose nearest stop overall lies west of it.
    inside = east_area.stop_in_zone
    checked = 0
    for lat in np.linspace(37.507, 37.530, 40):
        lon = 127.1055
        dist = walk_m(jamsil_net, jamsil_stops, lat, lon)
        if inside[dist.argmin()] or dist[inside].min() > 400:
            continue
        choice = east_area.locate(float(lat), lon)
        assert isinstance(choice, StopChoice)
        assert inside[choice.stop]
        assert choice.stop == int(np.flatnonzero(inside)[dist[inside].argmin()])
        assert jamsil_area.locate(float(lat), lon) != choice  # without the zone they would walk west
        checked += 1
    assert checked >= 3


def test_zone_boundary_counts_as_inside(east_area: ServiceArea) -> None:
    assert east_area.contains(37.52, 127.105)
    assert not east_area.contains(37.52, 127.1049)
    assert east_area.contains([37.50, 37.54], [127.125, 127.125]).tolist() == [True, True]


def test_locate_many_agrees_with_locate(east_area: ServiceArea, jamsil_net: RoadNetwork) -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(jamsil_net.lat.min() - 0.005, jamsil_net.lat.max() + 0.005, 300)
    lon = rng.uniform(jamsil_net.lon.min() - 0.005, jamsil_net.lon.max() + 0.005, 300)
    stop, distance, in_zone = east_area.locate_many(lat, lon)
    assert stop.shape == distance.shape == in_zone.shape == (300,)
    kinds = set()
    for i in range(300):
        one = east_area.locate(float(lat[i]), float(lon[i]))
        if isinstance(one, StopChoice):
            assert stop[i] == one.stop and round(float(distance[i])) == one.walk_m
            kinds.add("served")
        else:
            assert stop[i] == -1
            assert in_zone[i] == (one.reason is not RejectReason.OUTSIDE_ZONE)
            kinds.add(one.reason)
    assert kinds == {"served", RejectReason.OUTSIDE_ZONE, RejectReason.NO_STOP_IN_REACH}


def test_zone_without_stops_is_refused(jamsil_net: RoadNetwork, jamsil_stops: StopSet) -> None:
    far_away = ((37.60, 127.0), (37.60, 127.01), (37.61, 127.01))
    with pytest.raises(InvalidValueError) as info:
        ServiceArea(jamsil_net, jamsil_stops, ServiceParams(zone=far_away))
    assert info.value.field == "zone" and "none of the 35 stops" in str(info.value)
    with pytest.raises(InvalidValueError) as info:
        ServiceArea(jamsil_net, jamsil_stops, ServiceParams(), past_grace_s=-1)
    assert info.value.field == "past_grace_s"


# ---------------------------------------------------------------------------- stops by index
def test_locate_stop(east_area: ServiceArea, jamsil_stops: StopSet) -> None:
    east = int(np.flatnonzero(east_area.stop_in_zone)[0])
    west = int(np.flatnonzero(~east_area.stop_in_zone)[0])
    assert east_area.locate_stop(east) == StopChoice(east, 0)
    refusal = east_area.locate_stop(west)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectReason.OUTSIDE_ZONE
    for bad in (-1, len(jamsil_stops)):
        with pytest.raises(InvalidRequestError) as info:
            east_area.locate_stop(bad, field="origin_stop")
        assert info.value.field == "origin_stop" and info.value.allowed == f"0 .. {len(jamsil_stops) - 1}"


# ============================================================================ times
def test_times_within_the_rules_pass(jamsil_area: ServiceArea) -> None:
    assert jamsil_area.check_time(NOW, NOW) is None
    assert jamsil_area.check_time(NOW - 60, NOW) is None  # within the grace
    assert jamsil_area.check_time(NOW + 3 * HOUR, NOW) is None
    assert jamsil_area.check_time(DAY + 7 * HOUR, NOW) is None  # pre-booked for tomorrow
    assert jamsil_area.check_time(NOW + 7 * DAY, NOW) is None  # exactly at the horizon


@pytest.mark.parametrize(
    ("requested", "now", "reason", "words"),
    [
        (NOW - 61, NOW, RejectReason.IN_THE_PAST, "requested for 07:58:59; it is already 08:00"),
        (NOW + 7 * DAY + 1, NOW, RejectReason.TOO_FAR_AHEAD, "up to 7 days ahead"),
        (DAY + 2 * HOUR, NOW, RejectReason.OUTSIDE_HOURS, "day +1 02:00; the service runs 06:00 to 23:00"),
        (23 * HOUR, 22 * HOUR, RejectReason.OUTSIDE_HOURS, "the service runs 06:00 to 23:00"),
        (5 * HOUR + 59 * 60, 5 * HOUR, RejectReason.OUTSIDE_HOURS, "05:59"),
    ],
)
def test_times_against_the_rules(
    jamsil_area: ServiceArea, requested: int, now: int, reason: RejectReason, words: str
) -> None:
    refusal = jamsil_area.check_time(requested, now)
    assert isinstance(refusal, Refusal)
    assert refusal.reason is reason
    assert words in refusal.detail


def test_minimum_notice_and_other_grace(jamsil_area: ServiceArea) -> None:
    notice = area_with(jamsil_area, min_lead_time_s=30 * 60)
    refusal = notice.check_time(NOW + 20 * 60, NOW)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectReason.TOO_SHORT_NOTICE
    assert "30 min notice" in refusal.detail and "the earliest is 08:30" in refusal.detail
    assert notice.check_time(NOW + 30 * 60, NOW) is None
    strict = ServiceArea(jamsil_area.network, jamsil_area.stops, jamsil_area.params, past_grace_s=0)
    past = strict.check_time(NOW - 1, NOW)
    assert isinstance(past, Refusal) and past.reason is RejectReason.IN_THE_PAST


def test_hours_over_midnight(jamsil_area: ServiceArea) -> None:
    night = area_with(jamsil_area, service_start_s=20 * HOUR, service_end_s=26 * HOUR)
    assert night.check_time(DAY + HOUR, 23 * HOUR) is None
    refusal = night.check_time(NOW + HOUR, NOW)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectReason.OUTSIDE_HOURS
    assert "20:00 to 02:00 the next day" in refusal.detail


def test_check_time_checks_its_arguments(jamsil_area: ServiceArea) -> None:
    with pytest.raises(InvalidValueError) as info:
        jamsil_area.check_time(NOW, -1)
    assert info.value.field == "now_s"


# ============================================================================ whole requests
def request_between(stops: StopSet, a: int, b: int, **changes: Any) -> Request:
    olat, olon = stop_point(stops, a, dlat=0.0005)
    dlat, dlon = stop_point(stops, b, dlon=-0.0005)
    fields: dict[str, Any] = {
        "id": "r-1",
        "requested_time_s": NOW + 600,
        "origin_lat": olat,
        "origin_lon": olon,
        "destination_lat": dlat,
        "destination_lon": dlon,
    }
    fields.update(changes)
    return Request(**fields)


def test_accepted_request_gets_its_stops(jamsil_area: ServiceArea, jamsil_stops: StopSet) -> None:
    pair = jamsil_area.check_request(request_between(jamsil_stops, 3, 10), NOW)
    assert isinstance(pair, StopPair)
    assert (pair.origin.stop, pair.destination.stop) == (3, 10)
    assert 40 < pair.origin.walk_m < 70 and 30 < pair.destination.walk_m < 60
    origin, destination = pair  # a plain pair as well
    assert origin is pair.origin and destination is pair.destination


def test_requests_by_stop_index(east_area: ServiceArea, jamsil_stops: StopSet) -> None:
    east = np.flatnonzero(east_area.stop_in_zone)
    west = int(np.flatnonzero(~east_area.stop_in_zone)[0])
    ok = Request(id="s", requested_time_s=NOW, origin_stop=int(east[0]), destination_stop=int(east[1]))
    assert east_area.check_request(ok, NOW) == StopPair(StopChoice(int(east[0]), 0), StopChoice(int(east[1]), 0))
    out = Request(id="s", requested_time_s=NOW, origin_stop=int(east[0]), destination_stop=west)
    rejection = east_area.check_request(out, NOW)
    assert isinstance(rejection, Rejection) and rejection.reason is RejectReason.OUTSIDE_ZONE
    assert rejection.detail.startswith("destination: ")
    missing = Request(id="s", requested_time_s=NOW, origin_stop=len(jamsil_stops), destination_stop=0)
    with pytest.raises(InvalidRequestError) as info:
        east_area.check_request(missing, NOW)
    assert info.value.field == "origin_stop" and info.value.allowed == f"0 .. {len(jamsil_stops) - 1}"


def test_same_stop_after_walking(jamsil_area: ServiceArea, jamsil_stops: StopSet) -> None:
    rejection = jamsil_area.check_request(request_between(jamsil_stops, 5, 5), NOW)
    assert isinstance(rejection, Rejection)
    assert rejection.request_id == "r-1" and rejection.reason is RejectReason.SAME_STOP
    assert "stop 5" in rejection.detail


def test_request_rejections_in_order(jamsil_area: ServiceArea, jamsil_stops: StopSet) -> None:
    too_many = jamsil_area.check_request(request_between(jamsil_stops, 3, 10, passengers=9, requested_time_s=0), NOW)
    assert isinstance(too_many, Rejection) and too_many.reason is RejectReason.TOO_MANY_PASSENGERS
    assert "9 passengers" in too_many.detail and "at most 8" in too_many.detail
    late = jamsil_area.check_request(request_between(jamsil_stops, 3, 10, requested_time_s=23 * HOUR + 1), NOW)
    assert isinstance(late, Rejection) and late.reason is RejectReason.OUTSIDE_HOURS
    far = request_between(jamsil_stops, 3, 10, origin_lat=37.55)
    rejection = jamsil_area.check_request(far, NOW)
    assert isinstance(rejection, Rejection) and rejection.reason is RejectReason.NO_STOP_IN_REACH
    assert rejection.detail.startswith("origin: nearest stop is ")
    assert rejection.message.startswith("There is no stop within walking distance")
