"""Error messages a new user reads: plain numbers, and a zone with lat and lon swapped named so.

Issue 14, point 12. NumPy 2 writes ``np.float64(200.0)`` for the ``repr`` of its scalars, and
values reach the checks as NumPy scalars from arrays, CSV readers and callers' code; every
"got ..." must show the value as its user wrote it. A zone whose vertices are ``[lon, lat]``
contains no stop, and the error must say why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import routing
from matching import InvalidValueError, Request, ServiceArea, ServiceParams, VehicleState
from routing import RoadNetwork, StopSet
from routing.errors import RoutingError
from routing.solve import MaxIterations, MaxRuntime
from tests.matching.conftest import EAST_ZONE


def request(**kw: Any) -> Request:
    fields: dict[str, Any] = {
        "id": "r1",
        "requested_time_s": 8 * 3600,
        "origin_lat": 37.51,
        "origin_lon": 127.10,
        "destination_lat": 37.52,
        "destination_lon": 127.11,
    }
    fields.update(kw)
    return Request(**fields)


# Each: a call with a NumPy value out of range, and how the value must read in the message.
CASES: dict[str, tuple[Callable[[], object], str]] = {
    "lat (snapping)": (lambda: routing.snapping.check_lat_lon(np.float64(200.0), 0.0), "got 200.0"),
    "lon (snapping)": (lambda: routing.snapping.check_lat_lon(0.0, np.float32(-500.5)), "got -500.5"),
    "request lat": (lambda: request(origin_lat=np.float64(200.0)), "got 200.0"),
    "request passengers": (lambda: request(passengers=np.float64(2.5)), "got 2.5"),
    "request time": (lambda: request(requested_time_s=np.float64(3600.0)), "got 3600.0"),
    "request id": (lambda: request(id=np.str_("bad id")), "in 'bad id'"),
    "service int": (lambda: ServiceParams(max_wait_s=np.float64(600.5)), "got 600.5"),
    "service float": (lambda: ServiceParams(max_ride_alpha=np.float64(20.0)), "got 20.0"),
    "zone array": (lambda: ServiceParams(zone=np.array([[37.5, 127.1], [37.6, 127.1]])), "[[37.5, 127.1]"),
    "zone vertex": (lambda: ServiceParams(zone=[np.array([37.5, 127.1, 3.0])] * 3), "got [37.5, 127.1, 3.0]"),
    "vehicle seats": (
        lambda: VehicleState(
            id="v1", seats=np.float64(3.5), wheelchair_places=0, depot_stop=0, shift_start_s=0, shift_end_s=3600
        ),
        "got 3.5",
    ),
    "max_speed_kph": (lambda: routing.BuildOptions(max_speed_kph=np.float64(400.0)), "got 400.0"),
    "speeds_kph": (lambda: routing.BuildOptions(speeds_kph={"primary": np.float64(0.5)}), "got 0.5"),
    "time limit": (lambda: MaxRuntime(np.float64(-1.0)), "got -1.0"),
    "iterations": (lambda: MaxIterations(np.int64(-3)), "got -3"),
    "time_unit_s": (lambda: routing.read_manhattan("/nonexistent", time_unit_s=np.float64(0.0)), "got 0.0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_errors_show_plain_values(case: str) -> None:
    call, expected = CASES[case]
    with pytest.raises((InvalidValueError, RoutingError)) as info:
        call()
    text = str(info.value)
    assert "np." not in text and "array(" not in text, text
    assert expected in text, text


def test_plain_repr_of_nested_numpy_values() -> None:
    from routing import plain_repr

    value = {"a": [np.float64(1.5), (np.int32(2), np.str_("x"))], "b": np.array([1, 2])}
    assert plain_repr(value) == "{'a': [1.5, (2, 'x')], 'b': [1, 2]}"


def test_stop_spacing_shows_a_plain_value(helsinki_net: RoadNetwork) -> None:
    with pytest.raises(RoutingError) as info:
        routing.virtual_stops(helsinki_net, spacing_m=np.float64(5.0))
    assert "got 5.0" in str(info.value)


# ---------------------------------------------------------------------------- zones
@pytest.fixture(scope="module")
def helsinki_stops(helsinki_net: RoadNetwork) -> StopSet:
    return routing.virtual_stops(helsinki_net, spacing_m=300)


def helsinki_zone(stops: StopSet) -> list[tuple[float, float]]:
    """A rectangle over the middle of the Helsinki stops (lat 60.16 .. 60.18, lon 24.94 .. 24.95)."""
    la0, la1 = np.percentile(stops.lat, [10, 90])
    lo0, lo1 = np.percentile(stops.lon, [10, 90])
    return [(float(la0), float(lo0)), (float(la0), float(lo1)), (float(la1), float(lo1)), (float(la1), float(lo0))]


def test_a_swapped_zone_that_passes_the_range_checks_is_named_as_swapped(
    helsinki_net: RoadNetwork, helsinki_stops: StopSet
) -> None:
    # Helsinki's longitudes (about 24.9) are valid latitudes, so the swapped polygon passes
    # every range check and contains no stop.
    zone = helsinki_zone(helsinki_stops)
    inside = int(ServiceArea(helsinki_net, helsinki_stops, ServiceParams(zone=zone)).stop_in_zone.sum())
    assert inside > 0
    swapped = [(lon, lat) for lat, lon in zone]
    with pytest.raises(InvalidValueError) as info:
        ServiceArea(helsinki_net, helsinki_stops, ServiceParams(zone=swapped))
    err = info.value
    assert err.field == "zone"
    assert f"contains none of the {len(helsinki_stops)} stops" in err.message
    assert "lat and lon look swapped" in err.message
    assert f"would contain {inside} of them" in err.message


def test_a_swapped_zone_larger_than_the_network_is_named_as_swapped(helsinki_stops: StopSet) -> None:
    # Read as [lon, lat] this box contains no stop (it lies east of them all) but its
    # coordinates fit the stops' longitudes and latitudes the other way round.
    lat0, lon0 = float(helsinki_stops.lat.min()), float(helsinki_stops.lon.max())
    box = [(lon0 + 0.001, lat0), (lon0 + 0.002, lat0), (lon0 + 0.002, lat0 + 0.01), (lon0 + 0.001, lat0 + 0.01)]
    from matching import stops_in_zone

    with pytest.raises(InvalidValueError) as info:
        stops_in_zone(box, helsinki_stops)
    assert "lat and lon look swapped" in info.value.message and "would contain" not in info.value.message


def test_a_zone_elsewhere_gives_both_extents_and_no_swap_hint(helsinki_stops: StopSet) -> None:
    far = [(lat + 1.0, lon) for lat, lon in helsinki_zone(helsinki_stops)]
    from matching import stops_in_zone

    with pytest.raises(InvalidValueError) as info:
        stops_in_zone(far, helsinki_stops)
    message = info.value.message
    assert "swapped" not in message
    assert "the zone spans lat 61.1" in message and "the stops lat 60.1" in message


def test_a_swapped_zone_out_of_latitude_range_is_named_as_swapped() -> None:
    # Seoul's longitudes (about 127) are no latitudes: the range check itself says why.
    swapped = [(lon, lat) for lat, lon in EAST_ZONE]
    with pytest.raises(InvalidValueError) as info:
        ServiceParams(zone=swapped)
    assert info.value.field == "zone[0].lat"
    assert "lat and lon look swapped" in info.value.message and "[37.5, 127.105]" in info.value.message
