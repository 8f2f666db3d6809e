"""Feeder journeys (an I-MOD leg and a bus leg) on the tiny network of test_transit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from matching.deployment import ConfigError
from sim.feeder import FeederJourneys, FeederSpec, JourneysOutput, parse_feeder
from sim.records import SimOutput
from sim.simulator import Simulation
from sim.transit import LinesSpec, TransitLines, TransitOutput
from tests.sim.transit_network import T0, tiny_lines, tiny_scenario


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimOutput, TransitLines, FeederJourneys]:
    folder = tmp_path_factory.mktemp("feeder")
    spec = LinesSpec(dwell_base_s=10, dwell_per_boarding_s=3)
    lines = TransitLines(spec, lines=tiny_lines([[0, 1, 2, 3, 4]], [10.0], spec=spec, last_s=T0 + 3600), passengers=[])
    # stop 6 lies off line A (0-1-2-3-4): to the bus from it, and home to it from the bus
    feeder = FeederJourneys(FeederSpec(), journeys=[("to_bus", 6, 4, T0 + 300), ("from_bus", 6, 0, T0 + 300)])
    sim = Simulation(tiny_scenario(folder), components=[lines, feeder])
    sim.setup()
    return sim.run(), lines, feeder


def test_drt_leg_then_bus_leg(day: tuple[SimOutput, TransitLines, FeederJourneys]) -> None:
    out, lines, feeder = day
    j = next(x for x in feeder.journeys if x.direction == "to_bus")
    assert j.status == "completed"
    ride = next(r for r in out.rides if r.journey_id == j.journey_id)
    assert ride.outcome == "completed" and ride.leg == 0
    assert ride.origin_stop == 6 and ride.destination_stop == j.transfer_drt_stop
    assert j.transfer_node in ("S2", "S3")  # the side street joins line A at 2; 3 is as near by time
    pax = next(p for p in lines.passengers if p.journey_id == j.journey_id)
    assert pax.status == "completed" and pax.destination == 4
    # the bus leg starts when the DRT leg has ended, and the journey ends with it
    assert pax.start_s == ride.dropoff_s
    assert pax.start_s + pax.wait_s >= ride.dropoff_s
    assert j.drt_wait_s == ride.pickup_s - ride.requested_s and j.drt_ride_s == ride.ride_s
    assert j.end_s == pax.end_s and j.start_s == ride.requested_s == T0 + 300
    assert j.bus_wait_s == pax.wait_s and j.bus_ride_s == pax.in_vehicle_s


def test_bus_leg_then_drt_leg(day: tuple[SimOutput, TransitLines, FeederJourneys]) -> None:
    out, lines, feeder = day
    j = next(x for x in feeder.journeys if x.direction == "from_bus")
    assert j.status == "completed"
    pax = next(p for p in lines.passengers if p.journey_id == j.journey_id)
    assert pax.origin == 0 and pax.status == "completed" and pax.start_s == T0 + 300
    ride = next(r for r in out.rides if r.journey_id == j.journey_id)
    assert ride.leg == 1 and ride.outcome == "completed" and ride.destination_stop == 6
    assert ride.submitted_s >= pax.end_s  # asked for once the rider got off the bus
    assert j.end_s == ride.dropoff_s


def test_both_legs_in_the_kpis(day: tuple[SimOutput, TransitLines, FeederJourneys]) -> None:
    out, _, _ = day
    k = out.extras["journeys"].kpis()
    assert isinstance(out.extras["journeys"], JourneysOutput)
    assert k["completed"] == 2 and k["drt_legs_completed"] == 2 and k["bus_legs_completed"] == 2
    # the DRT legs are the day's rides (no other demand), the bus legs its bus riders
    assert sorted(r.journey_id for r in out.rides) == ["fj00000", "fj00001"]
    transit = out.extras["transit"]
    assert isinstance(transit, TransitOutput)
    assert transit.kpis()["by_status"] == {"completed": 2}
    assert k["mean_s"]["total"] == pytest.approx(sum(j.total_s for j in out.extras["journeys"].journeys) / 2)


def test_feeder_needs_lines(tmp_path: Path) -> None:
    sim = Simulation(tiny_scenario(tmp_path), components=[FeederJourneys(FeederSpec())])
    sim.setup()
    with pytest.raises(ConfigError, match=r"^feeder: needs bus lines"):
        sim.run()


@pytest.mark.parametrize(
    ("table", "field"),
    [({"trips": -1}, "feeder.trips"), ({"return_share": 2}, "feeder.return_share"), ({"zone": 1}, "feeder.zone")],
)
def test_bad_feeder_values_name_the_field(table: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_feeder(table, base=None, data_dir=None)
    assert err.value.field == field


def test_the_summary_counts_each_direction_out_of_its_own_journeys() -> None:
    from sim.feeder import Journey

    def journey(k: int, direction: str, status: str) -> Journey:
        return Journey(f"fj{k}", direction, T0, 6, 2, "S2", "S4", 100.0, 10.0, status=status, end_s=T0 + 600)

    js = [journey(0, "to_bus", "completed"), journey(1, "to_bus", "drt_rejected"), journey(2, "to_bus", "completed"),
          journey(3, "from_bus", "completed"), journey(4, "to_bus", "bus_stranded")]  # fmt: skip
    line = JourneysOutput(js).summary_lines()[0]
    # 3 of 5 completed: to the bus 2 of the 4, from it 1 of the 1 (the parts add up to the whole)
    assert line.endswith("3 of 5 journeys completed (I-MOD + bus): to the bus 2 of 4, from it 1 of 1")
