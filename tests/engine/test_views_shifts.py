"""ListVehicles and FleetStatus count a vehicle as on shift from its shift's start to its end
(a later shift's vehicle used to show as on shift all morning, before it started)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from engine.views import Views
from matching import Dispatcher, VehicleState
from routing import RoadNetwork, Router, virtual_stops


@dataclass
class Source:
    dispatcher: Dispatcher
    clock_s: int
    day: dt.date | None = None
    requests_rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)


def test_a_later_shift_is_not_on_shift_before_it_starts(jamsil_net: RoadNetwork) -> None:
    stops = virtual_stops(jamsil_net, spacing_m=300)
    fleet = [
        VehicleState(id="early", seats=8, depot_stop=0, shift_start_s=6 * 3600, shift_end_s=14 * 3600),
        VehicleState(id="late", seats=8, depot_stop=1, shift_start_s=12 * 3600, shift_end_s=20 * 3600),
    ]
    d = Dispatcher(jamsil_net, Router.from_network(jamsil_net), stops, fleet)
    expected = {7: (True, False, 1), 13: (True, True, 2), 15: (False, True, 1), 21: (False, False, 0)}
    for hour, (early, late, count) in expected.items():
        views = Views(Source(d, hour * 3600))
        assert (views.vehicle_status(0)["on_shift"], views.vehicle_status(1)["on_shift"]) == (early, late), hour
        assert views.fleet_status(d)["vehicles_on_shift"] == count, hour
