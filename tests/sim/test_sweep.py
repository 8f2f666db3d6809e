"""Settings on the command line (sim.overrides), confidence intervals, and sweeps in this process:
a failed run is reported while the others finish; a shared-taxi scenario sweeps with its own KPIs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from matching.deployment import ConfigError
from sim.overrides import apply_overrides, format_value, parse_assignment, parse_grid, parse_value, split_values
from sim.scenario import TaxiScenario, load_scenario
from sim.sweep import RunTask, execute, grid_combinations, mean_ci, run_sweep
from tests.test_cli_sweep import TINY

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------------------------- overrides
def test_values_are_toml_literals_and_bare_words_are_strings() -> None:
    assert parse_value("24") == 24 and isinstance(parse_value("24"), int)
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True
    assert parse_value('"flat"') == "flat" == parse_value("flat")
    assert parse_value("[1, 2, 3]") == [1, 2, 3]
    assert parse_value("{ 1 = 0.8, 2 = 0.2 }") == {"1": 0.8, "2": 0.2}
    assert parse_value("07:00") == "07:00" and parse_value("07:00:00") == "07:00:00"  # times stay text
    assert parse_assignment("fleet.vehicles=24") == ("fleet.vehicles", 24)
    assert parse_assignment(" demand.profile = two_peaks ") == ("demand.profile", "two_peaks")
    assert parse_grid("fleet.vehicles=8,12,16") == ("fleet.vehicles", [8, 12, 16])
    assert parse_grid("demand.group_sizes={1 = 1.0},{1 = 0.5, 2 = 0.5}")[1] == [{"1": 1.0}, {"1": 0.5, "2": 0.5}]
    assert split_values("[1, 2],'a,b',x") == ["[1, 2]", "'a,b'", "x"]
    assert format_value([1, 2]) == "[1, 2]" and format_value(False) == "false"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fleet.vehicles", "expected KEY=VALUE"),
        ("fleet.vehicles=", "no value"),
        ("fleet..vehicles=3", "bad key"),
        ("=3", "bad key"),
    ],
)
def test_bad_assignments_name_the_option(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^--set: {message}"):
        parse_assignment(text)


def test_bad_grids_name_the_option() -> None:
    for text, message in (("fleet.vehicles", "expected KEY=V1"), ("fleet.vehicles=1,,2", "empty value"),
                          ("fleet.vehicles=1,2,1", "a value repeats")):  # fmt: skip
        with pytest.raises(ConfigError, match=rf"^--grid: {message}"):
            parse_grid(text)


def test_apply_overrides_sets_nested_keys_and_leaves_the_file_alone() -> None:
    doc = {"fleet": {"vehicles": 16}, "subzones": [{"name": "a", "vehicles": 2}, {"name": "b", "vehicles": 3}]}
    new = apply_overrides(doc, [("fleet.vehicles", 24), ("service.max_wait_s", 600), ("subzones.1.vehicles", 5)])
    assert new == {
        "fleet": {"vehicles": 24},
        "service": {"max_wait_s": 600},
        "subzones": [{"name": "a", "vehicles": 2}, {"name": "b", "vehicles": 5}],
    }
    assert doc["fleet"]["vehicles"] == 16 and doc["subzones"][1]["vehicles"] == 3 and "service" not in doc
    assert apply_overrides(doc, [("fleet.vehicles", 8), ("fleet.vehicles", 9)])["fleet"]["vehicles"] == 9  # last wins
    with pytest.raises(ConfigError, match=r"^subzones\.2: subzones has 2 entries \(allowed: 0 \.\. 1\)"):
        apply_overrides(doc, [("subzones.2.vehicles", 1)])
    with pytest.raises(ConfigError, match=r"^fleet\.vehicles\.seats: fleet\.vehicles is a value"):
        apply_overrides(doc, [("fleet.vehicles.seats", 1)])


def test_the_docs_array_example_works_and_a_table_set_to_a_value_is_replaced(data_dir: Path) -> None:
    # docs/sweeps.md's example of an array index, on the bundled split scenario
    path = SCENARIOS / "imod_split_jamsil.toml"
    sc = load_scenario(path, data_dir=data_dir, overrides=[("subzones.zones.0.vehicles", 4)])
    assert sc.subzones is not None and [z.vehicles for z in sc.subzones.zones] == [4, 10]  # the file: 6, 10
    assert "subzones.zones.0.vehicles" in (Path(__file__).resolve().parents[2] / "docs" / "sweeps.md").read_text()
    with pytest.raises(ConfigError, match=r"^subzones\.0: unknown key"):  # the old, wrong form of the docs
        load_scenario(path, data_dir=data_dir, overrides=[("subzones.0.vehicles", 4)])
    # a section replaced by a plain value: no TypeError in the overrides; the value is there for
    # the scenario's check to refuse; a key below it is refused here, naming the key
    doc = {"fleet": {"vehicles": 16}, "scenario": {"name": "x"}}
    assert apply_overrides(doc, [("fleet", 3), ("scenario", "x")]) == {"fleet": 3, "scenario": "x"}
    with pytest.raises(ConfigError, match=r"^fleet\.vehicles: fleet is a value \(3\)"):
        apply_overrides(doc, [("fleet", 3), ("fleet.vehicles", 2)])


def test_shared_taxi_scenarios_take_settings_too(data_dir: Path) -> None:
    path = SCENARIOS / "imoa_dongjak.toml"
    sc = load_scenario(path, data_dir=data_dir, overrides={"fleet.vehicles": 7, "pooling.max_wait_s": 300})
    assert isinstance(sc, TaxiScenario) and (sc.fleet.vehicles, sc.pooling.max_wait_s) == (7, 300)
    with pytest.raises(Exception, match=r"^pooling\.max_wait_s"):
        load_scenario(path, data_dir=data_dir, overrides={"pooling.max_wait_s": 5})
    with pytest.raises(ConfigError, match=r"^demand\.kind: got 'stops'"):
        load_scenario(path, data_dir=data_dir, overrides={"demand.kind": "stops"})


# ---------------------------------------------------------------------------------- statistics
def test_mean_ci_against_a_hand_computation() -> None:
    # 1, 2, 3, 4: mean 2.5, s^2 = (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3, t(0.975, 3) = 3.182 (a t table)
    got = mean_ci([1.0, 2.0, None, 3.0, 4.0])  # None: no value in that run, left out
    half = 3.182 * math.sqrt(5 / 3) / 2
    assert got["n"] == 4 and got["mean"] == 2.5
    assert got["std"] == pytest.approx(math.sqrt(5 / 3))
    assert got["half_width"] == pytest.approx(half, rel=2e-4)
    assert (got["low"], got["high"]) == (pytest.approx(2.5 - half, abs=1e-3), pytest.approx(2.5 + half, abs=1e-3))
    # 90 %: t(0.95, 3) = 2.353
    assert mean_ci([1.0, 2.0, 3.0, 4.0], confidence=0.9)["half_width"] == pytest.approx(
        2.353 * math.sqrt(5 / 3) / 2, rel=2e-4
    )
    # two values 10, 20: s = 7.071, t(0.975, 1) = 12.706: half = 12.706 * 7.071 / sqrt(2) = 63.53
    assert mean_ci([10.0, 20.0])["half_width"] == pytest.approx(63.53, rel=1e-3)
    one = mean_ci([7.0])
    assert one["mean"] == 7.0 and one["half_width"] is None and one["low"] is None
    assert mean_ci([None, None]) == {"n": 0, "mean": None, "std": None, "half_width": None, "low": None, "high": None}


def test_grid_combinations_first_key_slowest() -> None:
    combos = grid_combinations([("a", [1, 2]), ("b", ["x", "y", "z"])])
    assert len(combos) == 6
    assert combos[:4] == [
        (("a", 1), ("b", "x")),
        (("a", 1), ("b", "y")),
        (("a", 1), ("b", "z")),
        (("a", 2), ("b", "x")),
    ]


# ---------------------------------------------------------------------------------- sweeps
def test_a_failed_run_is_reported_and_the_others_finish(data_dir: Path, tmp_path: Path) -> None:
    """Stops 20 km apart are a valid setting, but the Jamsil zone then has one stop and no demand
    can be drawn: that run fails when its day is set up. The sweep lists that combination with its
    one-line error and keeps the others."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    out = tmp_path / "sweep"
    grid = [("stops.spacing_m", [400, 20000]), ("fleet.vehicles", [2, 3])]
    result = run_sweep(scenario, out, grid, seed=4, data_dir=data_dir, progress=False)
    failed = [t.label for t, _ in result.failed]
    assert failed == [
        "stops.spacing_m=20000, fleet.vehicles=2, seed 4",
        "stops.spacing_m=20000, fleet.vehicles=3, seed 4",
    ]
    for _, r in result.failed:
        assert r.error == "ConfigError: stops: the demand needs at least two stops, got 1"
    rows = _rows(out / "sweep.csv")
    assert [(r["stops.spacing_m"], r["fleet.vehicles"], r["runs"], r["failed"]) for r in rows] == [
        ("400", "2", "1", "0"),
        ("400", "3", "1", "0"),
        ("20000", "2", "0", "1"),
        ("20000", "3", "0", "1"),
    ]
    assert rows[0]["served_share"] and not rows[2]["served_share"]
    assert (out / "runs" / "stops.spacing_m-400__fleet.vehicles-2__seed-4" / "summary.json").is_file()
    md = (out / "sweep.md").read_text()
    assert "## Failed runs" in md and "- stops.spacing_m=20000, fleet.vehicles=3, seed 4: ConfigError: stops:" in md
    # the plots draw what there is: the wait against the spacing, a line per fleet size
    assert (out / "sweep_wait_mean_s.png").read_bytes()[:4] == b"\x89PNG"


#: Half an hour of shared taxis in Dongjak, 40 requests; batch budgets far above what a batch
#: needs, so that no wall-clock deadline changes a decision (the day is the seed's).
TAXI = """
[scenario]
name = "taxi_tiny"
seed = 2
start = "18:00"
end = "18:30"

[service]
kind = "shared_taxi"

[network]
kind = "osm"
path = "osm/seoul_dongjak.osm"

[fleet]
vehicles = 4

[pooling]
capacity = 4
max_wait_s = 420
dwell_s = 0
batch_s = 30
batch_deadline_s = 60.0
trip_time_budget_s = 60.0

[demand]
kind = "points"
total = 40
profile = "flat"
"""


def test_a_shared_taxi_sweep_reports_taxi_kpis(data_dir: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "taxi.toml"
    scenario.write_text(TAXI)
    out = tmp_path / "sweep"
    result = run_sweep(scenario, out, [("fleet.vehicles", [2, 4])], data_dir=data_dir, progress=False)
    assert not result.failed
    rows = _rows(out / "sweep.csv")
    assert [r["fleet.vehicles"] for r in rows] == ["2", "4"]
    assert {"served_share", "pooled_share", "delay_mean_s", "km_per_served_ride"} <= set(rows[0])
    assert "utilisation" not in rows[0]  # a DRT day's KPI
    for row in rows:
        run = out / "runs" / f"fleet.vehicles-{row['fleet.vehicles']}__seed-2"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["meta"]["seed"] == 2 and summary["meta"]["overrides"] == {
            "fleet.vehicles": int(row["fleet.vehicles"])
        }
        assert summary["kpis"]["vehicles"] == int(row["fleet.vehicles"])
        rides = _rows(run / "rides.csv")
        served = sum(r["status"] == "completed" for r in rides)
        assert float(row["served_share"]) == pytest.approx(served / len(rides), abs=1e-4)
        assert len(rides) == 40


def test_runs_for_a_cluster_send_their_files_back(data_dir: Path, tmp_path: Path) -> None:
    """On a Ray cluster a run writes its report in the worker's temporary folder and sends the
    files back (``ship_files``); they land in the run's folder here, as a run written in place."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    common = {"scenario": str(scenario), "seed": 6, "overrides": (("fleet.vehicles", 3),), "data_dir": str(data_dir)}
    tasks = [
        RunTask(0, folder=str(tmp_path / "shipped"), ship_files=True, **common),
        RunTask(1, folder=str(tmp_path / "in_place"), **common),
    ]
    shipped, in_place = execute(tasks, progress=False)
    assert shipped.ok and in_place.ok and shipped.files is None  # written, not kept in the result
    assert shipped.kpis == in_place.kpis
    names = sorted(p.name for p in (tmp_path / "shipped").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "in_place").iterdir()) and "rides.csv" in names
    assert (tmp_path / "shipped" / "rides.csv").read_text() == (tmp_path / "in_place" / "rides.csv").read_text()
