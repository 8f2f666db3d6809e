"""``[fleet] shifts``: parsing, the vehicles it makes, and a day where later shifts start late."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from matching.deployment import ConfigError, FleetSpec, ShiftSpec
from sim.kpi import compute_kpis, occupancy_series
from sim.scenario import Scenario
from sim.simulator import Simulation

H = 3600


def shift_doc(fleet: dict[str, Any], **demand: Any) -> dict[str, Any]:
    """Two hours of Jamsil with a fleet table of its own (a small, busy day)."""
    return {
        "scenario": {"name": "shifts", "seed": 5, "start": "07:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
        "stops": {"kind": "virtual", "spacing_m": 300},
        "fleet": fleet,
        "service": {"max_wait_s": 600, "service_start_s": 6 * H, "service_end_s": 23 * H},
        "demand": {"kind": "profile", "total": 120, "profile": "flat", "prebook_share": 0.4,
                   "prebook_lead_min": [30, 90], "lead_max_min": 2, **demand},
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 600, "reoptimise_iterations": 20},
    }  # fmt: skip


SHIFTS = [
    {"start": "07:00", "end": "09:00", "vehicles": 2},
    {"start": "08:00", "end": "09:30", "vehicles": 2},
    {"start": 27000, "end": "08:45", "vehicles": 1},  # 07:30 in seconds
]


def test_shifts_make_one_vehicle_per_slot(data_dir: Path) -> None:
    sc = Scenario.from_dict(shift_doc({"seats": 6, "shifts": SHIFTS}), data_dir=data_dir)
    fleet = sc.fleet
    assert fleet.vehicles == 5
    assert (fleet.shift_start_s, fleet.shift_end_s) == (7 * H, 9 * H + 1800)
    assert fleet.vehicle_shifts() == [(7 * H, 9 * H)] * 2 + [(8 * H, 9.5 * H)] * 2 + [(7.5 * H, 8.75 * H)]
    # one shift for everyone: the same windows as before shifts existed
    flat = FleetSpec(vehicles=3, shift_start_s=6 * H, shift_end_s=20 * H)
    assert flat.vehicle_shifts() == [(6 * H, 20 * H)] * 3


@pytest.mark.parametrize(
    ("fleet", "field"),
    [
        ({"shifts": []}, "fleet.shifts"),
        ({"shifts": "06:00-14:00"}, "fleet.shifts"),
        ({"shifts": [{"start": "06:00", "end": "14:00", "vehicles": 2}, 5]}, "fleet.shifts[1]"),
        ({"shifts": [*SHIFTS[:2], {"start": "10:00", "end": "09:00", "vehicles": 1}]}, "fleet.shifts[2].end"),
        ({"shifts": [{"start": "6 am", "end": "14:00", "vehicles": 1}]}, "fleet.shifts[0].start"),
        ({"shifts": [{"start": "06:00", "end": "49:00", "vehicles": 1}]}, "fleet.shifts[0].end"),
        ({"shifts": [{"start": "06:00", "end": "14:00", "vehicles": 0}]}, "fleet.shifts[0].vehicles"),
        ({"shifts": [{"start": "06:00", "end": "14:00", "vehicles": 1.5}]}, "fleet.shifts[0].vehicles"),
        ({"shifts": [{"start": "06:00", "end": "14:00"}]}, "fleet.shifts[0].vehicles"),
        ({"shifts": [{"start": "06:00", "end": "14:00", "vehicles": 1, "driver": "x"}]}, "fleet.shifts[0].driver"),
        ({"shifts": SHIFTS, "vehicles": 4}, "fleet.vehicles"),
        ({"shifts": SHIFTS, "shift_end": "20:00"}, "fleet.shift_end"),
    ],
)
def test_bad_shifts_name_the_field(data_dir: Path, fleet: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Scenario.from_dict(shift_doc(fleet), data_dir=data_dir)
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")
    assert "\n" not in str(info.value)


def test_from_shifts_checks_its_slots() -> None:
    with pytest.raises(ConfigError) as info:
        FleetSpec.from_shifts([ShiftSpec(6 * H, 10 * H, 2), ShiftSpec(9 * H, 9 * H, 1)])
    assert info.value.field == "fleet.shifts[1].end"


@pytest.fixture(scope="module")
def shifted_day(data_dir: Path) -> tuple[Simulation, Any]:
    sc = Scenario.from_dict(shift_doc({"seats": 6, "shifts": SHIFTS}), data_dir=data_dir)
    sim = Simulation(sc)
    sim.setup()
    return sim, sim.run()


def test_no_vehicle_moves_or_serves_outside_its_shift(shifted_day: tuple[Simulation, Any]) -> None:
    sim, out = shifted_day
    window = {v.id: (v.shift_start_s, v.shift_end_s) for v in sim.fleet}
    late_starters = {vid for vid, (start, _) in window.items() if start > sim.scenario.start_s}
    assert late_starters == {"veh0002", "veh0003", "veh0004"}
    for d in out.drives:
        assert d.depart_s >= window[d.vehicle_id][0], d
    for v in out.visits:
        assert v.arrive_s >= window[v.vehicle_id][0], v
    served = [r for r in out.rides if r.outcome == "completed"]
    for r in served:
        start, end = window[r.vehicle_id]
        assert start <= r.pickup_s and r.dropoff_s <= end, r
    # the later shifts did work (else the checks above would prove nothing), and some rides
    # were booked before their vehicle's shift began (the case that needs the check)
    assert {r.vehicle_id for r in served} >= late_starters
    assert any(r.submitted_s < window[r.vehicle_id][0] for r in served)


def test_vehicle_hours_are_the_shifts(shifted_day: tuple[Simulation, Any]) -> None:
    _, out = shifted_day
    kpis = compute_kpis(out)
    # by hand: 2 x 2 h + 2 x 1.5 h + 1 x 1.25 h
    assert kpis["fleet"]["vehicle_hours"] == pytest.approx(4 + 3 + 1.25)
    assert kpis["fleet"]["vehicles"] == 5
    series = occupancy_series(out, bin_s=1800)
    on_shift = dict(zip(series["start_s"], series["vehicles_on_shift"], strict=True))
    # 07:00 two, 07:30 three, 08:00 five, 08:30 five, 09:00 two (the 08:00 slot until 09:30)
    assert [on_shift[t] for t in (7 * H, 7.5 * H, 8 * H, 8.5 * H, 9 * H)] == [2, 3, 5, 4.5, 2]
