"""Fixtures of the matching tests: the Jamsil network's stops and service areas over them."""

from __future__ import annotations

import pytest

import routing
from matching import ServiceArea, ServiceParams
from routing import RoadNetwork, StopSet

#: A zone over the eastern part of the Jamsil extract: longitudes 127.105 .. 127.125.
EAST_ZONE: tuple[tuple[float, float], ...] = ((37.50, 127.105), (37.50, 127.125), (37.54, 127.125), (37.54, 127.105))


@pytest.fixture(scope="session")
def jamsil_stops(jamsil_net: RoadNetwork) -> StopSet:
    return routing.virtual_stops(jamsil_net, spacing_m=300)


@pytest.fixture(scope="session")
def jamsil_area(jamsil_net: RoadNetwork, jamsil_stops: StopSet) -> ServiceArea:
    """The whole network, I-MOD defaults."""
    return ServiceArea(jamsil_net, jamsil_stops, ServiceParams())


@pytest.fixture(scope="session")
def east_area(jamsil_net: RoadNetwork, jamsil_stops: StopSet) -> ServiceArea:
    """Only the eastern part of the network (:data:`EAST_ZONE`), I-MOD defaults otherwise."""
    return ServiceArea(jamsil_net, jamsil_stops, ServiceParams(zone=EAST_ZONE))
