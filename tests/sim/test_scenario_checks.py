"""Scenario values that would run a day of nothing, or silently differ from what was written,
are refused with one line naming the field (found by a new user's review of the planning
sections): a section given a plain value, hours typed as seconds, shifts outside the day, a
fleet size a split zone ignores, demand files that leave no request."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from matching.deployment import ConfigError
from sim.demand import generate
from sim.scenario import Scenario

BASE: dict[str, Any] = {
    "scenario": {"name": "checks", "seed": 1, "start": "07:00", "end": "10:00"},
    "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
    "fleet": {"vehicles": 2, "seats": 8, "shift_start": "07:00", "shift_end": "10:00"},
    "demand": {"kind": "profile", "total": 10},
}


def doc(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for section, value in changes.items():
        out[section] = value
    return out


@pytest.mark.parametrize("section", ["scenario", "network", "fleet", "demand", "traffic", "dispatch"])
def test_a_section_given_a_plain_value_is_named(section: str, data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^{section}: got 3 \(allowed: a table\)$"):
        Scenario.from_dict(doc(**{section: 3}), data_dir=data_dir)


def test_a_text_where_a_table_belongs_is_not_read_letter_by_letter(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^demand: got 'lots'"):
        Scenario.from_dict(doc(demand="lots"), data_dir=data_dir)


@pytest.mark.parametrize("value", [1, 7, 23, 48])
def test_hours_typed_as_a_number_are_refused_with_the_hint(value: int, data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=rf'^scenario\.start: {value} would be {value} seconds .*"{value:02d}:00"'):
        Scenario.from_dict(doc(scenario={"name": "x", "start": value, "end": "10:00"}), data_dir=data_dir)
    # seconds that cannot be mistaken for hours still work
    sc = Scenario.from_dict(doc(scenario={"name": "x", "start": 25_200, "end": "10:00"}), data_dir=data_dir)
    assert sc.start_s == 25_200


def test_a_shift_outside_the_simulated_hours_is_refused(data_dir: Path) -> None:
    fleet = {
        "seats": 8,
        "shifts": [
            {"start": "07:00", "end": "09:00", "vehicles": 1},
            {"start": "12:00", "end": "14:00", "vehicles": 2},
        ],
    }
    with pytest.raises(
        ConfigError, match=r"^fleet\.shifts\[1\]: 12:00-14:00 lies outside the simulated hours 07:00-10:00"
    ):
        Scenario.from_dict(doc(fleet=fleet), data_dir=data_dir)
    fleet["shifts"][1] = {"start": "09:30", "end": "14:00", "vehicles": 2}  # overlaps the day: fine
    assert len(Scenario.from_dict(doc(fleet=fleet), data_dir=data_dir).fleet.shifts) == 2


def test_a_split_zone_refuses_a_fleet_size_it_would_ignore(data_dir: Path) -> None:
    import tomllib

    path = Path(__file__).resolve().parents[2] / "scenarios" / "imod_split_jamsil.toml"
    split = tomllib.loads(path.read_text(encoding="utf-8"))
    Scenario.from_dict(split, base=path.parent, data_dir=data_dir)  # as bundled: fine
    split["fleet"]["vehicles"] = 30
    with pytest.raises(ConfigError, match=r"^fleet\.vehicles: a split zone's vehicles are its sub-zones'"):
        Scenario.from_dict(split, base=path.parent, data_dir=data_dir)


def test_an_od_file_that_leaves_no_request_is_an_error_not_an_empty_day(data_dir: Path, tmp_path: Path) -> None:
    od = tmp_path / "od.csv"
    od.write_text("origin_stop,destination_stop,hour,count\n0,1,8,-4\n1,2,50,3\n2,3,8,abc\n", encoding="utf-8")
    sc = Scenario.from_dict(doc(demand={"kind": "od", "path": str(od)}), data_dir=data_dir)
    with pytest.raises(ConfigError, match=r"^demand\.path: .*od\.csv leaves no request for the day"):
        generate(sc, 10, seed=1)
    od.write_text("origin_stop,destination_stop,hour,count\n0,1,8,3\n", encoding="utf-8")
    items = generate(sc, 10, seed=1)
    assert items and all(it.request.origin_stop == 0 and it.request.destination_stop == 1 for it in items)
