"""The ``mobility`` command line: ``solve`` writes checked JSON, bad files fail in one line, help works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.checker import check_solution_file
from mobility.cli import main
from routing.instances import read_cordeau_darp, read_li_lim
from routing.problem import DELIVERY, PICKUP, PDProblem

SOLUTION_KEYS = {
    "instance",
    "routes",
    "cost",
    "num_vehicles",
    "feasible",
    "runtime_s",
    "seed",
    "time_limit_s",
    "iterations",
    "unassigned",
}


def _assert_solution(problem: PDProblem, path: Path, iterations: int) -> dict:
    data = json.loads(path.read_text())
    assert set(data) == SOLUTION_KEYS
    assert data["instance"] == problem.name
    assert data["iterations"] == iterations and data["time_limit_s"] is None and data["seed"] == 0
    # One non-empty route per used vehicle, the instance's request nodes only (no depots), each once.
    routes = data["routes"]
    assert routes and all(routes) and len(routes) == data["num_vehicles"]
    visited = [node for route in routes for node in route]
    request_nodes = {int(n) for n in problem.pickup} | {int(n) for n in problem.delivery}
    assert sorted(visited) == sorted(request_nodes)
    assert all(problem.kind[node] in (PICKUP, DELIVERY) for node in visited)
    assert data["unassigned"] == []
    report = check_solution_file(problem, path)
    assert report.feasible, report.violations
    assert report.warnings == []  # the claimed cost, vehicles and verdict are the checker's
    return data


def test_solve_darp_writes_json_the_checker_accepts(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    instance = data_dir / "darp" / "cordeau2006" / "a2-16.txt"
    out = tmp_path / "a2-16.json"
    assert main(["solve", "darp", str(instance), "--iterations", "200", "--out", str(out)]) == 0
    problem = read_cordeau_darp(instance)
    data = _assert_solution(problem, out, 200)
    depots = {0, 2 * problem.num_requests + 1}
    assert not depots & {node for route in data["routes"] for node in route}
    printed = capsys.readouterr().out
    assert "a2-16" in printed and "feasible" in printed and str(out) in printed


def test_solve_pdptw_writes_json_the_checker_accepts(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    instance = data_dir / "pdptw" / "li_lim_100" / "lc101.txt"
    out = tmp_path / "lc101.json"
    assert main(["solve", "pdptw", str(instance), "--iterations", "200", "--out", str(out)]) == 0
    problem = read_li_lim(instance)
    data = _assert_solution(problem, out, 200)
    tasks = problem.num_nodes - 1  # node N (the added end depot) is not one of the file's tasks
    assert all(1 <= node < tasks for route in data["routes"] for node in route)
    assert "10 vehicles" in capsys.readouterr().out  # lc101's best-known fleet, found within 200 iterations


def test_solve_with_a_bad_file_fails_in_one_line(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    missing = tmp_path / "missing.txt"
    assert main(["solve", "darp", str(missing), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(missing) in err[0] and "file not found" in err[0]

    li_lim = data_dir / "pdptw" / "li_lim_100" / "lc101.txt"
    assert main(["solve", "darp", str(li_lim), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "header should have 5 fields" in err[0] and "mobility solve pdptw" in err[0]

    garbage = tmp_path / "garbage.txt"
    garbage.write_text("not an instance\n")
    assert main(["solve", "pdptw", str(garbage), "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(garbage) in err[0]
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["solve", "--help"],
        ["solve", "darp", "--help"],
        ["bench", "darp", "--help"],
        ["bench", "pdptw", "--help"],
    ],
)
def test_help_exits_zero(argv: list[str], capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: mobility" in capsys.readouterr().out


def test_the_module_runs_as_a_program():
    res = subprocess.run([sys.executable, "-m", "mobility.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    assert "solve" in res.stdout and "bench" in res.stdout
