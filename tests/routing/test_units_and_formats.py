"""Units of benchmark graphs, the plausibility warning of every loader, and formats by content.

Issue 14, point 10: the ``.xy`` and ``.d`` files state no units, and a city of the Manhattan
benchmark read with Manhattan's came out about three times too small (9 km/h) without a
word. The units are options; a loaded network whose mean free-flow speed is outside
10 .. 150 km/h is logged as one warning naming them (OSM networks too, naming their speed
options). No San Francisco file is bundled: the tests write the Manhattan graph in other
units, which is what such a file is.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

import routing
from matching.deployment import ConfigError, Deployment, load_world
from mobility.cli import main
from routing import BuildOptions, RoadNetwork, Router
from tests.test_cli_newuser import input_error

#: The Manhattan graph's units: a mile per coordinate unit, a tenth of a second per time unit.
MILE_M = 1609.344
TENTH_S = 0.1

MANHATTAN = Path("rideshare") / "manhattan"


def rewrite(data_dir: Path, folder: Path, *, coord_factor: float = 1.0, time_factor: float = 1.0) -> Path:
    """The Manhattan graph written as ``folder/City.{xy,d}`` with coordinates divided by
    ``coord_factor`` and times by ``time_factor``: its coordinate unit is then ``coord_factor``
    miles and its time unit ``time_factor`` tenths of a second."""
    folder.mkdir(parents=True)
    xy = np.loadtxt(data_dir / MANHATTAN / "Manhattan.xy", skiprows=1)
    d = np.loadtxt(data_dir / MANHATTAN / "Manhattan.d", skiprows=1)
    with open(folder / "City.xy", "w") as fh:
        fh.write(f"{len(xy)}\n")
        fh.writelines(f"{int(i)} {float(x / coord_factor)!r} {float(y / coord_factor)!r}\n" for i, x, y in xy)
    with open(folder / "City.d", "w") as fh:
        fh.write(f"{len(d)}\n")
        fh.writelines(f"{int(u)} {int(v)} {float(t / time_factor)!r}\n" for u, v, t in d)
    return folder


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def same_distances(a: RoadNetwork, b: RoadNetwork) -> None:
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.max(np.abs(a.length_m.astype(np.int64) - b.length_m.astype(np.int64))) <= 1
    assert np.max(np.abs(a.travel_time_s.astype(np.int64) - b.travel_time_s.astype(np.int64))) <= 1


# ---------------------------------------------------------------------------- the Manhattan convention
def test_manhattan_read_with_the_default_units_is_plausible(
    manhattan_net: RoadNetwork, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        net = routing.read_manhattan(data_dir / MANHATTAN)
    assert warnings_of(caplog) == []
    assert net.meta["coord_unit_m"] == MILE_M
    assert net.meta["time_unit_s"] == TENTH_S
    assert 30.0 <= net.mean_speed_kph() <= 40.0  # read as seconds it would be 3.6 km/h
    assert routing.speed_warning(net) is None


# ---------------------------------------------------------------------------- another city
def test_a_city_in_a_larger_coordinate_unit_warns_and_its_unit_fixes_it(
    data_dir: Path, tmp_path: Path, manhattan_net: RoadNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue's case: read with Manhattan's mile, distances come out 4x too small (9 km/h)."""
    folder = rewrite(data_dir, tmp_path / "sf", coord_factor=4.0)
    with caplog.at_level(logging.WARNING):
        wrong = routing.read_manhattan(folder)
    (message,) = warnings_of(caplog)
    assert "9.0 km/h" in message and "10 .. 150 km/h" in message
    assert "coord_unit_m" in message and "time_unit_s" in message and "--coord-unit-m" in message
    assert wrong.length_m.sum() == pytest.approx(manhattan_net.length_m.sum() / 4, rel=1e-3)

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        right = routing.read_manhattan(folder, coord_unit_m=4 * MILE_M)
    assert warnings_of(caplog) == []
    same_distances(right, manhattan_net)


def test_a_city_in_kilometres_and_seconds_warns_too_fast_and_its_units_fix_it(
    data_dir: Path, tmp_path: Path, manhattan_net: RoadNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    km, s = 1000.0 / MILE_M, 1.0 / TENTH_S
    folder = rewrite(data_dir, tmp_path / "km_s", coord_factor=km, time_factor=s)
    with caplog.at_level(logging.WARNING):
        wrong = routing.read_manhattan(folder)
    (message,) = warnings_of(caplog)
    assert wrong.mean_speed_kph() > 150 and f"{wrong.mean_speed_kph():.1f} km/h" in message

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        right = routing.read_manhattan(folder, coord_unit_m=1000.0, time_unit_s=1.0)
    assert warnings_of(caplog) == []
    same_distances(right, manhattan_net)


def test_a_scenario_sets_the_units_of_its_benchmark_graph(
    data_dir: Path, tmp_path: Path, manhattan_net: RoadNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    folder = rewrite(data_dir, tmp_path / "sf", coord_factor=4.0)

    def world(**units: float) -> RoadNetwork:
        doc = {"network": {"kind": "benchmark", "path": str(folder), **units}, "stops": {"kind": "nodes"}}
        net, _, _ = load_world(Deployment.from_dict(doc))
        return net

    with caplog.at_level(logging.WARNING):
        wrong = world()
    assert len(warnings_of(caplog)) == 1 and wrong.mean_speed_kph() < 10
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        right = world(coord_unit_m=4 * MILE_M, time_unit_s=0.1)
    assert warnings_of(caplog) == []
    same_distances(right, manhattan_net)


@pytest.mark.parametrize("unit", ["time_unit_s", "coord_unit_m"])
def test_an_osm_scenario_refuses_units(data_dir: Path, unit: str) -> None:
    doc = {"network": {"kind": "osm", "path": "osm/seoul_jamsil.osm", unit: 1.0}}
    with pytest.raises(ConfigError) as info:
        Deployment.from_dict(doc, data_dir=data_dir)
    assert info.value.field == f"network.{unit}" and "only benchmark graphs" in str(info.value)


@pytest.mark.parametrize("value", [0, -1.0, 1e9])
def test_a_scenario_refuses_a_bad_coordinate_unit(data_dir: Path, value: float) -> None:
    doc = {"network": {"kind": "benchmark", "path": str(data_dir / MANHATTAN), "coord_unit_m": value}}
    with pytest.raises(ConfigError) as info:
        Deployment.from_dict(doc)
    assert info.value.field == "network.coord_unit_m"


# ---------------------------------------------------------------------------- OSM too
def test_an_osm_network_with_implausible_speeds_warns_naming_its_options(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slow = BuildOptions(speeds_kph=dict.fromkeys(routing.KOREAN_URBAN_SPEEDS_KPH, 5.0), use_maxspeed=False)
    path = data_dir / "osm" / "helsinki.osm.pbf"
    for _ in ("built", "from the cache"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            net = routing.load_network(path, options=slow, cache_dir=tmp_path)
        (message,) = warnings_of(caplog)
        assert "5.0 km/h" in message and "speeds_kph" in message and "coord_unit_m" not in message
    assert net.meta["from_cache"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        routing.load_network(path, cache_dir=tmp_path)
    assert warnings_of(caplog) == []


# ---------------------------------------------------------------------------- caches
def test_a_cached_hierarchy_is_not_reused_with_other_units(data_dir: Path, tmp_path: Path) -> None:
    folder = data_dir / MANHATTAN
    tenths = routing.read_manhattan(folder)
    seconds = routing.read_manhattan(folder, time_unit_s=1.0)
    first = Router.from_network(tenths, cache_dir=tmp_path)
    assert not first.ch.meta["from_cache"]
    other = Router.from_network(seconds, cache_dir=tmp_path)
    assert not other.ch.meta["from_cache"]  # other times, another cache file
    assert routing.router.ch_cache_path(tenths, cache_dir=tmp_path) != routing.router.ch_cache_path(
        seconds, cache_dir=tmp_path
    )
    a, b = 17, 4000
    assert other.travel_time(a, b) == pytest.approx(10 * first.travel_time(a, b), rel=0.05)
    # Other coordinate units leave the times, so the hierarchy is the same and may come from
    # the cache; the lengths are the network's own, never the cached ones.
    km = routing.read_manhattan(folder, coord_unit_m=1000.0)
    again = Router.from_network(km, cache_dir=tmp_path)
    assert again.ch.meta["from_cache"]
    assert again.path_length_m(a, b) == pytest.approx(first.path_length_m(a, b) * 1000.0 / 1609.344, rel=1e-3)


# ---------------------------------------------------------------------------- the command line
def sf_like(tmp_path: Path, data_dir: Path, factor: float = 4.0) -> Path:
    """The Manhattan graph with coordinates in units of ``factor`` miles: a city of the same
    benchmark whose unit is not Manhattan's (read as miles, it is ``factor`` times too small)."""
    folder = tmp_path / "sf"
    folder.mkdir()
    src = data_dir / "rideshare" / "manhattan"
    lines = (src / "Manhattan.xy").read_text().split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        if line.strip():
            i, x, y = line.split()
            out.append(f"{i} {float(x) / factor:.9f} {float(y) / factor:.9f}")
    (folder / "SanFran.xy").write_text("\n".join(out) + "\n")
    shutil.copy(src / "Manhattan.d", folder / "SanFran.d")
    return folder


def test_network_build_warns_on_implausible_speed_and_takes_the_units(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    folder = sf_like(tmp_path, data_dir)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    with caplog.at_level(logging.WARNING):
        assert main(["network", "build", str(folder), "--json", *cache]) == 0
    default = json.loads(capsys.readouterr().out)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and default["speed_warning"] == warned[0]
    assert "9.0 km/h" in warned[0] and "--coord-unit-m" in warned[0] and "--time-unit-s" in warned[0]
    assert default["mean_speed_kph"] == pytest.approx(9.0, abs=0.1)

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert main(["network", "build", str(folder), "--json", "--coord-unit-m", str(4 * 1609.344), *cache]) == 0
    fixed = json.loads(capsys.readouterr().out)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert fixed["speed_warning"] is None
    assert fixed["units"] == {"coord_unit_m": 4 * 1609.344, "time_unit_s": 0.1}
    assert main(["network", "build", str(data_dir / "rideshare" / "manhattan"), "--json", *cache]) == 0
    manhattan = json.loads(capsys.readouterr().out)
    assert fixed["road_km"] == pytest.approx(manhattan["road_km"], rel=1e-3)
    assert fixed["mean_speed_kph"] == pytest.approx(manhattan["mean_speed_kph"], rel=1e-2)
    assert 30 <= manhattan["mean_speed_kph"] <= 40


def test_units_are_refused_for_an_osm_file(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    osm = str(data_dir / "osm" / "seoul_dongjak.osm")
    _, line = input_error(["network", "build", osm, "--time-unit-s", "1"], capsys)
    assert "--time-unit-s: only benchmark graphs" in line
