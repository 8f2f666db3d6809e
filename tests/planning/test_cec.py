"""Reading the CEC-2013 instances, and one clear line for each kind of broken file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from planning import CEC_INSTANCES, PlanningFileError, RouteRules, read_cec
from planning.errors import InvalidArgumentError

#: nodes of each bundled instance, counted by the benchmark notes (CEC2013SuppCLM.pdf)
SIZES = {"Mandl": 15, "Mumford0": 30, "Mumford1": 70, "Mumford3": 127}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_bundled_instance_reads(data_dir: Path, name: str) -> None:
    folder = data_dir / "tndp" / name
    p = read_cec(folder)
    n = SIZES[name]
    known = CEC_INSTANCES[name.lower()]
    assert p.num_nodes == n and p.link_time_min.shape == p.demand.shape == (n, n)
    assert (p.rules.num_routes, p.rules.min_stops, p.rules.max_stops) == (
        known.num_routes,
        known.min_stops,
        known.max_stops,
    )
    assert p.rules.transfer_penalty_min == 5.0
    assert (p.demand == p.demand.T).all() and (p.demand >= 0).all() and p.total_demand > 0
    assert (np.diag(p.link_time_min) == 0).all()
    links = np.isfinite(p.link_time_min) & ~np.eye(n, dtype=bool)
    assert (p.link_time_min[links] > 0).all() and links.any()
    assert p.connected
    assert p.x.shape == p.y.shape == (n,) and np.isfinite(p.x).all()
    assert p.node_ids == tuple(str(i) for i in range(1, n + 1))
    assert p.reference["lower_bound_att"] == known.lower_bound_att
    # the files themselves, read plainly
    demand_file = next(folder.glob("*Demand.txt"))
    rows = [line.split() for line in demand_file.read_text().splitlines() if line.strip()]
    assert np.array(rows, float).tolist() == p.demand.tolist()


def test_rule_changes_and_other_folders(data_dir: Path, tmp_path: Path) -> None:
    p = read_cec(data_dir / "tndp" / "Mandl", num_routes=4)
    assert p.rules.num_routes == 4 and p.rules.max_stops == 8
    other = tmp_path / "Town"
    shutil.copytree(data_dir / "tndp" / "Mandl", other)
    with pytest.raises(InvalidArgumentError, match="num_routes"):
        read_cec(other)
    q = read_cec(other, rules=RouteRules(num_routes=3, max_stops=5))
    assert q.name == "Town" and q.rules.num_routes == 3 and q.reference == {}


def write_instance(folder: Path, times: str, demand: str, coords: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "TownTravelTimes.txt").write_text(times)
    (folder / "TownDemand.txt").write_text(demand)
    if coords is not None:
        (folder / "TownCoords.txt").write_text(coords)
    return folder


GOOD_TIMES = "0 2 Inf\n2 0 3\nInf 3 0\n"
GOOD_DEMAND = "0 1 2\n1 0 3\n2 3 0\n"


def one_line_error(folder: Path) -> str:
    with pytest.raises(PlanningFileError) as info:
        read_cec(folder, num_routes=1)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_a_small_instance_reads(tmp_path: Path) -> None:
    p = read_cec(write_instance(tmp_path / "ok", GOOD_TIMES, "\n" + GOOD_DEMAND, "3\n0 0\n1 0\n2 0\n"), num_routes=1)
    assert p.num_nodes == 3 and p.link_time_min[0, 2] == np.inf and p.demand[2, 1] == 3
    assert p.x.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("times", "demand", "coords", "file", "expected"),
    [
        ("0 2 Inf\n2 0\nInf 3 0\n", GOOD_DEMAND, None, "TravelTimes", r"line 2: 2 values, expected 3"),
        (GOOD_TIMES, "0 1 2\n1 0 3\n2 3 0\n4 4 4\n", None, "Demand", r"4 rows, expected 3"),
        (GOOD_TIMES, "0 1 2\n\n1 zero 3\n2 3 0\n", None, "Demand", r"line 3: 'zero' is not a number"),
        (GOOD_TIMES, "0 1 2\n1 0 3\n\n2 -3 0\n", None, "Demand", r"line 4, column 2: negative demand"),
        (GOOD_TIMES, "0 1 Inf\n1 0 3\n2 3 0\n", None, "Demand", r"line 1: 'Inf' is not allowed"),
        ("0 2 Inf\n\n2 0 0\nInf 3 0\n", GOOD_DEMAND, None, "TravelTimes", r"line 3, column 3: link time 0"),
        ("0 2 Inf\n2 0 nan\nInf 3 0\n", GOOD_DEMAND, None, "TravelTimes", r"line 2: NaN is not allowed"),
        (GOOD_TIMES, GOOD_DEMAND, "3\n0 0\n1 0\n", "Coords", r"2 coordinate lines, expected 3"),
        (GOOD_TIMES, GOOD_DEMAND, "4\n0 0\n1 0\n2 0\n", "Coords", r"line 1: says 4 nodes"),
        (GOOD_TIMES, GOOD_DEMAND, "0 0\n1 0 5\n2 0\n", "Coords", r"line 2: 3 values, expected 2"),
        ("", GOOD_DEMAND, None, "TravelTimes", r"empty file"),
    ],
)
def test_a_broken_file_gives_one_line_naming_file_and_line(
    tmp_path: Path, times: str, demand: str, coords: str | None, file: str, expected: str
) -> None:
    folder = write_instance(tmp_path / "bad", times, demand, coords)
    text = one_line_error(folder)
    assert f"Town{file}.txt" in text
    assert expected in text


def test_a_binary_file(tmp_path: Path) -> None:
    folder = write_instance(tmp_path / "bin", GOOD_TIMES, GOOD_DEMAND)
    (folder / "TownDemand.txt").write_bytes(bytes(range(256)) * 4)
    text = one_line_error(folder)
    assert "TownDemand.txt" in text and "not a text file" in text


def test_missing_folder_and_files(tmp_path: Path) -> None:
    assert "folder not found" in one_line_error(tmp_path / "nowhere")
    folder = write_instance(tmp_path / "half", GOOD_TIMES, GOOD_DEMAND)
    (folder / "TownDemand.txt").unlink()
    assert "no *Demand.txt file" in one_line_error(folder)
    (folder / "OtherTravelTimes.txt").write_text(GOOD_TIMES)
    assert "more than one *TravelTimes.txt" in one_line_error(folder)
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    assert "not a folder" in one_line_error(not_a_folder)
