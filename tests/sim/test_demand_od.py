"""Transit-card style OD tables: stop-to-stop counts by hour, exact or as Poisson arrivals."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matching.deployment import ConfigError, load_world
from sim.demand import generate
from sim.scenario import Scenario
from sim.simulator import Simulation
from tests.matching.test_deployment_inputs import grid_osm, write_stops_csv

#: (origin, destination, hour, count); S1..S4 are the stops of ``write_stops_csv`` (indices 0..3).
TABLE = [("S1", "S3", 7, 4), ("S1", "S3", 8, 2), ("S2", "S4", 8, 5), ("3", "S1", 9, 3), ("S2", "S4", 11, 6)]


def write_od(path: Path, rows: list[tuple[Any, ...]], header: str = "origin_stop,destination_stop,hour,count") -> Path:
    path.write_text(header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("od")
    grid_osm(f / "grid.osm")
    write_stops_csv(f / "stops.csv")
    write_od(f / "od.csv", TABLE)
    return f


def od_scenario(folder: Path, demand: dict[str, Any], **tables: Any) -> Scenario:
    doc: dict[str, Any] = {
        "scenario": {"name": "od", "seed": 6, "start": "07:00", "end": "10:00"},
        "network": {"kind": "osm", "path": "grid.osm"},
        "stops": {"kind": "csv", "path": "stops.csv"},
        "fleet": {"vehicles": 2, "shift_start": "07:00", "shift_end": "11:00"},
        "demand": {"kind": "od", "path": "od.csv", "prebook_share": 0.0, "lead_max_min": 5, **demand},
        "traffic": {"model": "none"},
    }
    for section, values in tables.items():
        doc.setdefault(section, {}).update(values)
    return Scenario.from_dict(doc, base=folder)


def counts(items: list[Any]) -> Counter[tuple[int, int, int]]:
    return Counter(
        (it.request.origin_stop, it.request.destination_stop, it.request.requested_time_s // 3600) for it in items
    )


@pytest.fixture(scope="module")
def world(folder: Path) -> Any:
    return load_world(od_scenario(folder, {}).deployment)


def test_exact_counts_are_reproduced_hour_by_hour(folder: Path, world: Any) -> None:
    net, _, stops = world
    items = generate(od_scenario(folder, {"exact": True}), len(stops), network=net, stops=stops)
    # hour 11 lies outside 07:00-10:00; "3" is stop index 3 (S4)
    assert counts(items) == Counter({(0, 2, 7): 4, (0, 2, 8): 2, (1, 3, 8): 5, (3, 0, 9): 3})
    assert all(it.request.passengers == 1 for it in items)
    # the ids are those of the stop file: S1 -> S3 is stops 0 -> 2
    assert stops.ids[0] == "S1" and stops.ids[2] == "S3"


def test_scale_multiplies_exact_counts(folder: Path, world: Any) -> None:
    net, _, stops = world
    items = generate(od_scenario(folder, {"exact": True, "scale": 2.5}), len(stops), network=net, stops=stops)
    assert counts(items) == Counter({(0, 2, 7): 10, (0, 2, 8): 5, (1, 3, 8): 12, (3, 0, 9): 8})  # 12.5 -> 12, 7.5 -> 8


def test_poisson_counts_average_to_the_table(folder: Path, world: Any) -> None:
    net, _, stops = world
    totals: Counter[tuple[int, int, int]] = Counter()
    runs = 200
    for seed in range(runs):
        totals.update(counts(generate(od_scenario(folder, {}), len(stops), seed=seed, network=net, stops=stops)))
    expected = {(0, 2, 7): 4, (0, 2, 8): 2, (1, 3, 8): 5, (3, 0, 9): 3}
    assert set(totals) == set(expected)
    for key, mean in expected.items():  # the mean of 200 draws: standard error sqrt(mean / 200)
        assert totals[key] / runs == pytest.approx(mean, abs=4 * np.sqrt(mean / runs))


def test_bad_rows_are_counted(folder: Path, world: Any, caplog: pytest.LogCaptureFixture) -> None:
    net, _, stops = world
    write_od(folder / "bad.csv", [("S1", "S3", 7, 4), ("S1", "S1", 7, 2), ("S1", "S9", 8, 1), ("S2", "S3", 30 * 2, 1),
                                  ("S2", "S3", 8, 1.5)])  # fmt: skip
    items = generate(od_scenario(folder, {"path": "bad.csv", "exact": True}), len(stops), network=net, stops=stops)
    assert counts(items) == Counter({(0, 2, 7): 4})
    assert "3 of the 5 rows" in caplog.text and "'S9'" in caplog.text
    assert "1 of the 5 rows" in caplog.text and "from a stop to itself" in caplog.text


def test_renamed_columns(folder: Path, world: Any) -> None:
    net, _, stops = world
    write_od(folder / "card.csv", [("S2", "S4", 8, 3)], header="from,to,hr,taps")
    demand = {"path": "card.csv", "exact": True, "columns": {"origin_stop": "from", "destination_stop": "to",
              "hour": "hr", "count": "taps"}}  # fmt: skip
    items = generate(od_scenario(folder, demand), len(stops), network=net, stops=stops)
    assert counts(items) == Counter({(1, 3, 8): 3})


def test_a_day_runs_on_the_od_riders(folder: Path) -> None:
    sim = Simulation(od_scenario(folder, {"exact": True}))
    sim.setup()
    out = sim.run()
    assert len(out.rides) == 14
    assert sum(r.outcome == "completed" for r in out.rides) >= 10
    assert all(r.walk_to_pickup_m == 0 for r in out.rides if r.outcome == "completed")  # stop to stop


@pytest.mark.parametrize(
    ("demand", "field"),
    [
        ({}, "demand.path"),
        ({"path": "od.csv", "exact": "yes"}, "demand.exact"),
        ({"path": "od.csv", "scale": -1}, "demand.scale"),
        ({"path": "od.csv", "columns": {"lat": "y"}}, "demand.columns.lat"),
        ({"path": "od.csv", "transplant": True}, "demand.transplant"),
    ],
)
def test_bad_od_options_name_the_field(folder: Path, demand: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        Scenario.from_dict({"network": {"kind": "osm", "path": "grid.osm"}, "demand": {"kind": "od", **demand}},
                           base=folder)  # fmt: skip
    assert err.value.field == field
    assert "\n" not in str(err.value)
