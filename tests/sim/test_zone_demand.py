"""Demand and depots stay inside the service zone; a day says when one reason rejects many.

Issue 14, point 11: "profile" demand drew its trips over every stop, so a zone covering part
of the map rejected a fifth to two fifths of the requests as outside it, without a word, and
depots could lie outside. Here a zone covers the eastern part of the bundled Jamsil map
(:data:`EAST_ZONE`): every generator keeps its demand inside it, every depot lies in it, no
request of a simulated day is rejected as outside the zone, and the summary warns when (and
only when) one reason rejects more than 5 % of the requests.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matching import point_in_polygon
from matching.deployment import ConfigError, load_world, make_fleet
from mobility.cli import main
from routing import StopSet
from sim.demand import generate
from sim.kpi import compute_kpis
from sim.report import format_summary
from sim.simulator import Simulation
from tests.sim.test_simulator import small_scenario
from tests.test_cli_newuser import small_day

EAST_ZONE = [[37.50, 127.105], [37.50, 127.125], [37.54, 127.125], [37.54, 127.105]]


def in_east(stops: StopSet) -> np.ndarray:
    """Which stops lie in :data:`EAST_ZONE`, recounted here."""
    return point_in_polygon(stops.lat, stops.lon, EAST_ZONE)


@pytest.fixture(scope="module")
def zoned_day(data_dir: Path) -> Simulation:
    sim = Simulation(small_scenario(data_dir, service={"zone": EAST_ZONE}))
    sim.setup()
    sim.output = sim.run()  # type: ignore[attr-defined]
    return sim


def test_the_zone_covers_part_of_the_map(zoned_day: Simulation) -> None:
    inside = in_east(zoned_day.stops)
    assert 0.2 < inside.mean() < 0.8  # the test means something: many stops lie outside


def test_profile_demand_and_depots_lie_in_the_zone(zoned_day: Simulation) -> None:
    inside = in_east(zoned_day.stops)
    assert len(zoned_day.demand) == zoned_day.scenario.demand.total  # drawn inside, none dropped
    for item in zoned_day.demand:
        assert inside[item.request.origin_stop] and inside[item.request.destination_stop]
    assert all(inside[v.depot_stop] for v in zoned_day.fleet)
    assert len({v.depot_stop for v in zoned_day.fleet}) == len(zoned_day.fleet)


def test_no_request_of_the_day_is_rejected_as_outside_the_zone(zoned_day: Simulation) -> None:
    out = zoned_day.output  # type: ignore[attr-defined]
    assert not [r for r in out.rides if r.reject_reason == "outside_zone"]
    stop_lat, stop_lon = zoned_day.stops.lat, zoned_day.stops.lon
    for drive in out.drives:  # vehicles start, serve and end inside the zone
        for stop in (drive.from_stop, drive.to_stop):
            assert point_in_polygon(stop_lat[stop], stop_lon[stop], EAST_ZONE)


def test_without_a_zone_the_draws_are_unchanged(data_dir: Path) -> None:
    scenario = small_scenario(data_dir)
    _, _, stops = load_world(scenario.deployment)
    everywhere = np.ones(len(stops), dtype=bool)
    assert generate(scenario, len(stops), in_zone=everywhere) == generate(scenario, len(stops))


def test_trip_files_keep_the_trips_inside_the_zone(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(5)
    lat = rng.uniform(37.505, 37.535, (40, 2))
    lon = rng.uniform(127.08, 127.125, (40, 2))
    rows = ["time,origin_lat,origin_lon,destination_lat,destination_lon"]
    for k in range(40):
        rows.append(f"08:{k:02d},{lat[k, 0]:.6f},{lon[k, 0]:.6f},{lat[k, 1]:.6f},{lon[k, 1]:.6f}")
    trips = tmp_path / "trips.csv"
    trips.write_text("\n".join(rows) + "\n")
    scenario = small_scenario(
        data_dir, service={"zone": EAST_ZONE}, demand={"kind": "trips", "path": str(trips), "total": 40}
    )
    _, _, stops = load_world(scenario.deployment)
    both_in = point_in_polygon(lat, lon, EAST_ZONE).all(axis=1)
    assert 0 < both_in.sum() < 40
    with caplog.at_level(logging.WARNING):
        items = generate(scenario, len(stops), in_zone=in_east(stops))
    assert len(items) == both_in.sum()
    for item in items:
        r = item.request
        assert point_in_polygon([r.origin_lat, r.destination_lat], [r.origin_lon, r.destination_lon], EAST_ZONE).all()
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"{40 - both_in.sum()} of the 40 trips" in message and "left out" in message


def test_request_files_keep_the_requests_inside_the_zone(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = small_scenario(data_dir, service={"zone": EAST_ZONE}, stops={"kind": "nodes"})
    _, _, stops = load_world(scenario.deployment)
    rng = np.random.default_rng(2)
    pairs = rng.integers(0, len(stops), (200, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    reqs = tmp_path / "City.reqs"
    reqs.write_text("".join(f"{k} {o} {d}\n" for k, (o, d) in enumerate(pairs)))
    scenario = small_scenario(
        data_dir,
        service={"zone": EAST_ZONE},
        stops={"kind": "nodes"},
        demand={"kind": "reqs", "path": str(reqs), "total": 1000},
    )
    inside = in_east(stops)
    kept = inside[pairs[:, 0]] & inside[pairs[:, 1]]
    assert 0 < kept.sum() < len(pairs)
    with caplog.at_level(logging.WARNING):
        items = generate(scenario, len(stops), in_zone=inside)
    assert sorted((it.request.origin_stop, it.request.destination_stop) for it in items) == sorted(
        map(tuple, pairs[kept].tolist())
    )
    assert any("left out" in r.getMessage() for r in caplog.records)


def test_a_zone_without_stops_is_an_error_naming_the_zone(data_dir: Path) -> None:
    far = [[lat + 1.0, lon] for lat, lon in EAST_ZONE]
    with pytest.raises(ConfigError) as info:
        Simulation(small_scenario(data_dir, service={"zone": far})).setup()
    assert info.value.field == "service.zone" and "contains none of the" in str(info.value)


def test_depots_are_drawn_as_before_without_a_zone(data_dir: Path) -> None:
    scenario = small_scenario(data_dir, fleet={"vehicles": 5})
    _, _, stops = load_world(scenario.deployment)
    rng = np.random.default_rng(7)
    expected = rng.choice(len(stops), size=5, replace=False)
    assert [v.depot_stop for v in make_fleet(scenario.deployment, stops, 7)] == expected.tolist()


# ---------------------------------------------------------------------------- warnings
def kpis_with(total: int, **rejected: int) -> dict[str, Any]:
    return {"requests": {"total": total, "rejected_by_reason": dict(rejected)}}


def test_a_reason_warns_only_above_five_percent() -> None:
    from sim.kpi import REJECTION_WARNING_SHARE, rejection_warnings

    assert REJECTION_WARNING_SHARE == 0.05
    assert rejection_warnings(kpis_with(100, no_vehicle_in_time=5, outside_zone=1)) == []
    (line,) = rejection_warnings(kpis_with(100, no_vehicle_in_time=6, same_stop=5))
    assert line.startswith("6.0 % of the requests (6 of 100) were rejected as no_vehicle_in_time")
    assert "[fleet] vehicles" in line
    assert rejection_warnings(kpis_with(0)) == []


def test_a_fleet_too_small_gets_a_warning_line(data_dir: Path) -> None:
    sim = Simulation(small_scenario(data_dir, service={"zone": EAST_ZONE}, fleet={"vehicles": 1}))
    sim.setup()
    kpis = compute_kpis(sim.run())
    from sim.kpi import rejection_warnings

    warnings = rejection_warnings(kpis)
    total = kpis["requests"]["total"]
    over = [k for k, n in kpis["requests"]["rejected_by_reason"].items() if n > 0.05 * total]
    assert over and len(warnings) == len(over)
    text = format_summary(kpis)
    assert [line[len("warning   ") :] for line in text.splitlines() if line.startswith("warning")] == warnings


def test_a_healthy_day_gets_no_warning_line(zoned_day: Simulation) -> None:
    from sim.kpi import rejection_warnings

    kpis = compute_kpis(zoned_day.output)  # type: ignore[attr-defined]
    total = kpis["requests"]["total"]
    assert all(n <= 0.05 * total for n in kpis["requests"]["rejected_by_reason"].values())
    assert rejection_warnings(kpis) == []
    assert "warning" not in format_summary(kpis)


# ---------------------------------------------------------------------------- the command line
def test_simulate_warns_when_one_reason_rejects_many_requests(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One bus for 80 requests in two hours: most are turned away for want of a vehicle.
    scenario = small_day(tmp_path, vehicles=1, zone=EAST_ZONE)
    code = main(["simulate", str(scenario), "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--no-plots"])
    assert code == 0
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if line.startswith("warning")]
    assert warnings and all("% of the requests" in w for w in warnings)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rejected = summary["kpis"]["requests"]["rejected_by_reason"]
    total = summary["kpis"]["requests"]["total"]
    over = [reason for reason, count in rejected.items() if count > 0.05 * total]
    assert over and len(warnings) == len(over) == len(summary["warnings"])
    for reason in over:
        assert any(f"rejected as {reason}" in w for w in warnings)
    assert "outside_zone" not in rejected  # the demand was drawn inside the zone


def test_simulate_prints_no_warning_for_a_healthy_day(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = small_day(tmp_path, vehicles=4, zone=EAST_ZONE)
    assert (
        main(["simulate", str(scenario), "--data-dir", str(data_dir), "--out", str(tmp_path / "run"), "--no-plots"])
        == 0
    )
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    total = summary["kpis"]["requests"]["total"]
    assert all(count <= 0.05 * total for count in summary["kpis"]["requests"]["rejected_by_reason"].values())
    assert not [line for line in out.splitlines() if line.startswith("warning")]
    assert summary["warnings"] == []


def test_depots_of_a_zone_without_stops_name_the_scenario_field(data_dir: Path) -> None:
    # make_fleet is also the live engine's (mobility serve): the same error there.
    far = [[lat + 1.0, lon] for lat, lon in EAST_ZONE]
    scenario = small_scenario(data_dir, service={"zone": far})
    _, _, stops = load_world(scenario.deployment)
    with pytest.raises(ConfigError) as info:
        make_fleet(scenario.deployment, stops, seed=1)
    assert info.value.field == "service.zone" and "contains none of the" in str(info.value)
