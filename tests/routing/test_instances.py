"""Readers of the DARP (Cordeau) and PDPTW (Li & Lim) benchmark instances, and their errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from routing.errors import InvalidArgumentError, NetworkFileError
from routing.instances import iter_instances, read_cordeau_darp, read_instance, read_li_lim
from routing.problem import DELIVERY, END, PICKUP, START, PDProblem

#: The 24 Cordeau (2006) "a" instances, ``a<K>-<n>``.
CORDEAU_2006 = [
    "a2-16", "a2-20", "a2-24", "a3-18", "a3-24", "a3-30", "a3-36", "a4-16", "a4-24", "a4-32", "a4-40", "a4-48",
    "a5-40", "a5-50", "a5-60", "a6-48", "a6-60", "a6-72", "a7-56", "a7-70", "a7-84", "a8-64", "a8-80", "a8-96",
]  # fmt: skip


def assert_consistent(problem: PDProblem) -> None:
    """Node kinds, pairs, demands and depots as both formats define them."""
    n, last = problem.num_requests, problem.num_nodes - 1
    assert problem.kind[0] == START and problem.kind[last] == END
    assert (problem.kind[problem.pickup] == PICKUP).all()
    assert (problem.kind[problem.delivery] == DELIVERY).all()
    nodes = np.concatenate([[0, last], problem.pickup, problem.delivery])
    assert np.array_equal(np.sort(nodes), np.arange(problem.num_nodes)), "every node is a depot or in one request"
    assert (problem.demand[problem.pickup, 0] > 0).all()
    assert (problem.demand[problem.pickup] + problem.demand[problem.delivery] == 0).all()
    assert problem.demand[0, 0] == 0 and problem.demand[last, 0] == 0
    assert (problem.vehicle_start == 0).all() and (problem.vehicle_end == last).all()
    assert np.allclose(problem.travel_cost, problem.travel_cost.T) and (np.diag(problem.travel_cost) == 0).all()
    assert (problem.pickup < problem.delivery).all() or problem.meta["format"] == "li-lim"
    assert n > 0


def file_rows(path: Path) -> np.ndarray:
    """The node rows of an instance file, read independently of the reader."""
    return np.loadtxt(path, skiprows=1, ndmin=2)


def header(path: Path) -> list[float]:
    return [float(v) for v in path.read_text().split("\n", 1)[0].split()]


# ---------------------------------------------------------------------------- Cordeau 2006
@pytest.mark.parametrize("name", CORDEAU_2006)
def test_cordeau_2006_instance(data_dir: Path, name: str):
    path = data_dir / "darp" / "cordeau2006" / f"{name}.txt"
    problem = read_cordeau_darp(path)
    k, n = (int(v) for v in name[1:].split("-"))
    assert (problem.name, problem.num_vehicles, problem.num_requests, problem.num_nodes) == (name, k, n, 2 * n + 2)
    assert_consistent(problem)
    assert np.array_equal(problem.pickup, np.arange(1, n + 1)) and np.array_equal(problem.delivery, problem.pickup + n)
    _, _, duration, capacity, ride = header(path)
    assert (problem.capacity == capacity).all() and (problem.max_duration == duration).all()
    assert (problem.max_ride == ride).all()
    rows = file_rows(path)
    assert np.array_equal(problem.service, rows[:, 3]) and np.array_equal(problem.demand[:, 0], rows[:, 4])
    assert np.array_equal(problem.tw_early, rows[:, 5]) and np.array_equal(problem.tw_late, rows[:, 6])
    assert problem.objective == "cost"
    assert problem.meta["format"] == "cordeau-darp" and problem.meta["source"] == str(path)
    with open(path.parent / "bks.csv", newline="") as fh:
        bks = {row["instance"]: float(row["obj_val"]) for row in csv.DictReader(fh)}
    assert problem.meta["bks"] == bks[name]


def test_cordeau_euclidean_spot_checks(data_dir: Path):
    path = data_dir / "darp" / "cordeau2006" / "a2-16.txt"
    problem = read_cordeau_darp(path)
    rows = file_rows(path)
    for a, b in [(0, 1), (1, 17), (5, 30), (33, 12), (16, 32)]:
        expected = math.hypot(rows[a, 1] - rows[b, 1], rows[a, 2] - rows[b, 2])
        assert problem.travel_time[a, b] == expected and problem.travel_cost[a, b] == expected
    # node 1 at (-1.198, -5.164) and node 17 at (6.687, 6.731), from the file.
    assert problem.travel_time[1, 17] == pytest.approx(math.hypot(-1.198 - 6.687, -5.164 - 6.731), rel=1e-15)
    assert problem.meta["bks"] == pytest.approx(294.248)


# ---------------------------------------------------------------------------- Cordeau & Laporte 2003
@pytest.mark.parametrize("name", ["R1a", "R5b", "R7a", "R10b"])
def test_cordeau_laporte_2003_instance(data_dir: Path, name: str):
    path = data_dir / "darp" / "cordeau_laporte2003" / f"{name}.txt"
    problem = read_instance(path)
    k, two_n, duration, capacity, ride = header(path)
    n = int(two_n) // 2
    rows = file_rows(path)
    assert rows.shape[0] == 2 * n + 1, "these files have no end-depot row"
    assert (problem.num_vehicles, problem.num_requests, problem.num_nodes) == (k, n, 2 * n + 2)
    assert_consistent(problem)
    end = 2 * n + 1
    assert problem.travel_time[0, end] == 0 and (problem.tw_early[end], problem.tw_late[end]) == (0, 1440)
    assert problem.service[end] == 0 and problem.demand[end, 0] == 0
    assert np.array_equal(problem.travel_time[end, :end], problem.travel_time[0, :end])
    assert (problem.capacity == capacity).all() and (problem.max_duration == duration).all()
    assert (problem.max_ride == ride).all()
    assert problem.meta["bks"] is None
    assert "copy of the start depot" in problem.meta["end_depot"]


# ---------------------------------------------------------------------------- Li & Lim
def li_lim_bks(folder: Path) -> dict[str, tuple[int, float]]:
    with open(folder / "bks.csv", newline="") as fh:
        return {row["instance"]: (int(row["vehicles"]), float(row["distance"])) for row in csv.DictReader(fh)}


def check_li_lim(path: Path, bks: dict[str, tuple[int, float]]) -> None:
    problem = read_li_lim(path)
    rows = file_rows(path)
    tasks = rows.shape[0]
    k, capacity, speed = header(path)
    assert speed in (0, 1)
    assert (problem.num_vehicles, problem.num_nodes, problem.num_requests) == (k, tasks + 1, (tasks - 1) // 2)
    assert_consistent(problem)
    order = np.argsort(rows[:, 0])
    pickups = rows[order][(rows[order][:, 7] == 0) & (rows[order][:, 8] > 0)]
    assert np.array_equal(problem.pickup, pickups[:, 0]) and np.array_equal(problem.delivery, pickups[:, 8])
    assert (problem.capacity == capacity).all()
    assert np.isinf(problem.max_ride).all() and np.isinf(problem.max_duration).all()
    assert np.array_equal(problem.travel_time, problem.travel_cost)
    assert problem.objective == "vehicles" and problem.meta["format"] == "li-lim"
    assert (problem.meta["bks_vehicles"], problem.meta["bks_distance"]) == bks[path.stem]


def test_every_li_lim_100_instance(data_dir: Path):
    folder = data_dir / "pdptw" / "li_lim_100"
    files = list(iter_instances(folder))
    assert len(files) == 56 and all(f.suffix == ".txt" for f in files)
    bks = li_lim_bks(folder)
    for path in files:
        check_li_lim(path, bks)


@pytest.mark.parametrize("name", ["lc1_4_1", "lr2_4_10", "lrc1_4_5"])
def test_some_li_lim_400_instances(data_dir: Path, name: str):
    folder = data_dir / "pdptw" / "li_lim_400"
    check_li_lim(folder / f"{name}.txt", li_lim_bks(folder))


def test_li_lim_details(data_dir: Path):
    path = data_dir / "pdptw" / "li_lim_100" / "lc101.txt"
    problem = read_li_lim(path)
    # Task 1 (45, 68) is the delivery of task 11; task 0 is the depot at (40, 50).
    assert problem.kind[1] == DELIVERY and problem.pickup[list(problem.delivery).index(1)] == 11
    assert problem.travel_time[0, 1] == math.hypot(5, 18)
    end = problem.num_nodes - 1
    assert (problem.tw_early[end], problem.tw_late[end], problem.service[end]) == (0, 1236, 0)
    assert problem.travel_time[end, 1] == problem.travel_time[0, 1]
    assert problem.meta["speed"] == 1
    assert "speed_note" not in problem.meta
    # Ten bundled files say speed 0; they are read with the benchmark's speed 1.
    zero = read_li_lim(data_dir / "pdptw" / "li_lim_100" / "lc104.txt")
    assert zero.meta["speed"] == 0 and "read as 1" in zero.meta["speed_note"]


# ---------------------------------------------------------------------------- dispatch and folders
def test_read_instance_guesses_and_checks_kind(data_dir: Path):
    darp = data_dir / "darp" / "cordeau2006" / "a2-16.txt"
    pdptw = data_dir / "pdptw" / "li_lim_100" / "lc101.txt"
    assert read_instance(darp).meta["format"] == "cordeau-darp"
    assert read_instance(pdptw).meta["format"] == "li-lim"
    assert read_instance(pdptw, kind="pdptw").num_requests == 53
    with pytest.raises(InvalidArgumentError, match=r"kind: unknown instance kind 'vrptw' \(allowed: 'darp', 'pdptw'"):
        read_instance(darp, kind="vrptw")
    with pytest.raises(NetworkFileError, match="header should have 3 fields"):
        read_instance(darp, kind="pdptw")


def test_iter_instances_natural_order(data_dir: Path, tmp_path: Path):
    names = [p.stem for p in iter_instances(data_dir / "darp" / "cordeau2006")]
    assert names == CORDEAU_2006
    large = [p.stem for p in iter_instances(data_dir / "pdptw" / "li_lim_400")]
    assert len(large) == 60 and large.index("lc1_4_2") < large.index("lc1_4_10")
    for name in ("b10.txt", "b2.txt", "bks.csv", ".hidden", "README.md"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in iter_instances(tmp_path)] == ["b2.txt", "b10.txt"]
    with pytest.raises(NetworkFileError, match="folder not found"):
        list(iter_instances(tmp_path / "nowhere"))


# ---------------------------------------------------------------------------- arbitrary and malformed files
DARP_ROWS = [
    "0 0 0 0 0 0 100",
    "1 3 4 1 1 0 100",
    "2 6 8 1 1 0 100",
    "3 0 4 1 -1 0 100",
    "4 3 0 1 -1 0 100",
    "5 0 0 0 0 0 100",
]
LI_LIM_ROWS = [
    "0\t0\t0\t0\t0\t100\t0\t0\t0",
    "1\t3\t4\t10\t0\t100\t5\t0\t3",
    "2\t6\t8\t-5\t0\t100\t5\t4\t0",
    "3\t0\t4\t-10\t0\t100\t5\t1\t0",
    "4\t3\t0\t5\t0\t100\t5\t0\t2",
]


def write(tmp_path: Path, lines: list[str], name: str = "tiny.txt") -> Path:
    path = tmp_path / name
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def test_small_darp_in_all_three_layouts(tmp_path: Path):
    cordeau = read_cordeau_darp(write(tmp_path, ["1 2 50 2 20", *DARP_ROWS], "a.txt"))
    with_end = read_cordeau_darp(write(tmp_path, ["1 4 50 2 20", *DARP_ROWS], "b.txt"))
    no_end = read_cordeau_darp(write(tmp_path, ["1 4 50 2 20", *DARP_ROWS[:-1]], "c.txt"))
    for problem in (cordeau, with_end, no_end):
        assert (problem.num_requests, problem.num_nodes, problem.num_vehicles) == (2, 6, 1)
        assert_consistent(problem)
        assert problem.travel_time[0, 1] == 5 and problem.travel_time[1, 2] == 5 and problem.travel_time[0, 2] == 10
        assert problem.meta["bks"] is None
    assert cordeau.meta["layout"] == "header n = 2, 2n+2 rows"
    assert no_end.meta["layout"] == "header 2n = 4, 5 rows"


def test_rows_in_any_order_and_a_bks_table(tmp_path: Path):
    path = write(tmp_path, ["1 2 50 2 20", *reversed(DARP_ROWS)])
    (tmp_path / "bks.csv").write_text("instance,obj_val,lower_bound,mip_gap\ntiny,21.5,21.5,0\n")
    problem = read_cordeau_darp(path)
    assert problem.travel_time[0, 1] == 5 and problem.meta["bks"] == 21.5


def test_small_li_lim(tmp_path: Path):
    (tmp_path / "bks.csv").write_text("instance,vehicles,distance,source\ntiny,1,30.5,me\n")
    problem = read_li_lim(write(tmp_path, ["2\t20\t1", *LI_LIM_ROWS]))
    assert (problem.num_nodes, problem.num_requests) == (6, 2)
    assert problem.pickup.tolist() == [1, 4] and problem.delivery.tolist() == [3, 2]
    assert_consistent(problem)
    assert problem.meta["bks_vehicles"] == 1 and problem.meta["bks_distance"] == 30.5
    assert problem.meta["bks_source"] == "me"


def test_li_lim_speed_other_than_one_divides_times(tmp_path: Path):
    problem = read_li_lim(write(tmp_path, ["2 20 2", *LI_LIM_ROWS]))
    assert problem.travel_cost[0, 1] == 5 and problem.travel_time[0, 1] == 2.5
    assert "divided by the header speed 2" in problem.meta["speed_note"]


def darp_error(tmp_path: Path, lines: list[str]) -> str:
    with pytest.raises(NetworkFileError) as info:
        read_cordeau_darp(write(tmp_path, lines))
    assert info.value.path.endswith("tiny.txt")
    return info.value.reason


def li_lim_error(tmp_path: Path, lines: list[str]) -> str:
    with pytest.raises(NetworkFileError) as info:
        read_li_lim(write(tmp_path, lines))
    return info.value.reason


def test_missing_empty_and_folder(tmp_path: Path):
    with pytest.raises(NetworkFileError, match="file not found"):
        read_cordeau_darp(tmp_path / "nope.txt")
    with pytest.raises(NetworkFileError, match="is a folder"):
        read_li_lim(tmp_path)
    assert darp_error(tmp_path, ["", "  "]) == "file is empty"
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(NetworkFileError, match="not a text file"):
        read_instance(tmp_path / "bin.txt")


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["1 2 50 2"], "header should have 5 fields"),
        (["1 2 50 2 20"], "no node rows after the header"),
        (["1 2 50 2 20", *DARP_ROWS[:3], "3 0 4 1 -1 0", *DARP_ROWS[4:]], "line 5: expected 7 columns"),
        (["1 2 50 2 20", *DARP_ROWS[:2], "2 6 eight 1 1 0 100", *DARP_ROWS[3:]], "line 4: y 'eight' is not a number"),
        (["1 3 50 2 20", *DARP_ROWS], "second field is 3 but the file has 6 node rows; expected 8"),
        (["1 5 50 2 20", *DARP_ROWS[:-1]], "second field is 5 but the file has 5 node rows"),
        (["0 2 50 2 20", *DARP_ROWS], "K (vehicles) must be >= 1"),
        (["1.5 2 50 2 20", *DARP_ROWS], "K (vehicles) must be a whole number"),
        (["1 2 50 2 -1", *DARP_ROWS], "L (max ride time) must be >= 0"),
        (["1 2 50 2 20", *DARP_ROWS[:2], "1 6 8 1 1 0 100", *DARP_ROWS[3:]], "id 1 appears 2 times, id 2 is missing"),
        (["1 2 50 2 20", *DARP_ROWS[:5], "7 0 0 0 0 0 100"], "id 7 out of range (allowed: 0 .. 5)"),
        (["1 2 50 2 20", *DARP_ROWS[:1], "1 3 4 1 1 50 40", *DARP_ROWS[2:]], "node 1: time window closes (40)"),
        (["1 2 50 2 20", *DARP_ROWS[:1], "1 3 4 -1 1 0 100", *DARP_ROWS[2:]], "service duration -1 is negative"),
        (
            ["1 2 50 2 20", *DARP_ROWS[:3], "3 0 4 1 -2 0 100", *DARP_ROWS[4:]],
            "pickup node 1 loads 1 but its delivery node 3 unloads 2",
        ),
        (["1 2 50 2 20", "0 0 0 0 1 0 100", *DARP_ROWS[1:]], "depot node 0: load must be 0"),
    ],
)
def test_malformed_darp(tmp_path: Path, lines: list[str], reason: str):
    assert reason in darp_error(tmp_path, lines)


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["2 20", *LI_LIM_ROWS], "header should have 3 fields"),
        (["2 20 1", *LI_LIM_ROWS[:2], "2 6 8 -5 0 100 5 4", *LI_LIM_ROWS[3:]], "expected 9 columns"),
        (["2 20 -1", *LI_LIM_ROWS], "speed must be >= 0"),
        (["2 20 1", "0 0 0 0 0 100 0 0 1", *LI_LIM_ROWS[1:]], "task 0 (the depot) must have pickup_id 0"),
        (["2 20 1", *LI_LIM_ROWS[:1], "1 3 4 10 0 100 5 0 2", *LI_LIM_ROWS[2:]], "pickup task 1 names task 2, but"),
        (["2 20 1", *LI_LIM_ROWS[:3], "3 0 4 -10 0 100 5 4 0", LI_LIM_ROWS[4]], "task 3 has pickup_id 4 (not 1)"),
        (["2 20 1", *LI_LIM_ROWS[:2], "2 6 8 -5 0 100 5 1 0", *LI_LIM_ROWS[3:]], "delivery task 2 names task 1, but"),
        (
            ["2 20 1", *LI_LIM_ROWS[:1], "1 3 4 10 0 100 5 0 0", *LI_LIM_ROWS[2:]],
            "task 1: pickup_id 0 and delivery_id 0",
        ),
        (["2 20 1", *LI_LIM_ROWS[:1], "1 3 4 10 0 100 5 0 9", *LI_LIM_ROWS[2:]], "delivery_id 9 out of range"),
        (
            ["2 20 1", *LI_LIM_ROWS[:3], "3 0 4 -7 0 100 5 1 0", LI_LIM_ROWS[4]],
            "pickup task 1 loads 10 but its delivery",
        ),
        (["2 20 1", *LI_LIM_ROWS[:3], "3 0 4 -10 0 100 5 1 0"], "task 2: pickup_id 4 out of range (allowed: 1 .. 3)"),
        (["2 20 1", *LI_LIM_ROWS[:4], "5 3 0 5 0 100 5 0 2"], "line 6: id 5 out of range (allowed: 0 .. 4)"),
        (["2 20 1", *LI_LIM_ROWS[:4], "3 3 0 5 0 100 5 0 2"], "id 3 appears 2 times, id 4 is missing"),
    ],
)
def test_malformed_li_lim(tmp_path: Path, lines: list[str], reason: str):
    assert reason in li_lim_error(tmp_path, lines)


def test_unguessable_format(tmp_path: Path):
    path = write(tmp_path, ["1 2 3 4", "1 2 3 4 5"])
    with pytest.raises(NetworkFileError, match="cannot tell the format"):
        read_instance(path)


def test_bad_bks_table(tmp_path: Path):
    path = write(tmp_path, ["1 2 50 2 20", *DARP_ROWS])
    (tmp_path / "bks.csv").write_text("instance,obj_val\ntiny,lots\n")
    with pytest.raises(NetworkFileError, match=r"bks\.csv: instance tiny: obj_val 'lots' is not a number"):
        read_cordeau_darp(path)
