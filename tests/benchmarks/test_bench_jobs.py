"""``jobs``: the solver benchmarks spread over worker processes give the records of one process.

With an iteration budget the runs are reproducible for a seed, so jobs=2 must give exactly the
records of jobs=1 (same instances, same order, same routes and checker verdicts); only the
wall times differ. The ``pdptw`` runner with jobs=2 at a short time limit is checked for its
structure (instances in order, every run judged feasible by the checker).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import pdptw
from benchmarks.common import check_jobs, run_instances
from routing.checker import check_solution
from routing.errors import InvalidArgumentError
from routing.instances import read_cordeau_darp, read_li_lim


def _records(problems: list[Any], jobs: int) -> tuple[dict[str, Any], list[str], list[bool]]:
    said: list[str] = []
    writes: list[bool] = []
    result: dict[str, Any] = {}
    run_instances(
        result,
        problems,
        peers={},
        time_limits=(1.0,),
        seeds=(1, 2),
        say=said.append,
        record=lambda problem, runs: {"instance": problem.name, "results": runs},
        write=writes.append,
        jobs=jobs,
        iterations=300,
    )
    for rec in result["instances"]:
        for runs in rec["results"].values():
            for run in runs["ours"]:
                run.pop("runtime_s")
    return result, said, writes


def test_two_jobs_give_the_records_of_one(data_dir: Path):
    problems = [
        read_cordeau_darp(data_dir / "darp" / "cordeau2006" / "a2-16.txt"),
        read_li_lim(data_dir / "pdptw" / "li_lim_100" / "lr104.txt"),
    ]
    one, said_one, writes_one = _records(problems, 1)
    two, said_two, writes_two = _records(problems, 2)
    assert [r["instance"] for r in two["instances"]] == ["a2-16", "lr104"]
    assert json.dumps(two["instances"]) == json.dumps(one["instances"])
    assert (one["jobs"], two["jobs"]) == (1, 2)
    assert set(two["warm_up"]) == {"seconds", "compiled"}
    # the same number of progress steps (warm-up + one per run) and a final complete write
    assert len(said_one) == len(said_two) == 1 + 2 * 2
    assert writes_one == [False, True] and writes_two == [False, True]
    for problem, rec in zip(problems, two["instances"], strict=True):
        for run in rec["results"]["1"]["ours"]:
            report = check_solution(problem, run["routes"])
            assert run["feasible"] == report.feasible and run["cost"] == pytest.approx(report.cost, rel=1e-12)


def test_pdptw_with_two_jobs(data_dir: Path, tmp_path: Path):
    result = pdptw.run(
        data_dir=data_dir,
        time_limits=(0.3,),
        instances=["lr104", "lc101"],
        peers=(),
        out_dir=tmp_path,
        jobs=2,
    )
    data = json.loads((tmp_path / "pdptw.json").read_text())
    assert data == json.loads(json.dumps(result))
    assert [r["instance"] for r in data["instances"]] == ["lr104", "lc101"]
    assert data["jobs"] == 2 and data["complete"]
    for rec in data["instances"]:
        problem = read_li_lim(data_dir / "pdptw" / "li_lim_100" / f"{rec['instance']}.txt")
        (run,) = rec["results"]["0.3"]["ours"]["runs"]
        assert check_solution(problem, run["routes"]).feasible and run["feasible"]
    assert "2 instances at a time, each in a process of its own" in (tmp_path / "pdptw.md").read_text()


@pytest.mark.parametrize("jobs", [0, 65, -1, True, 1.5])
def test_bad_jobs(jobs: Any):
    with pytest.raises(InvalidArgumentError, match=r"jobs: got .* \(allowed: whole numbers 1 .. 64\)"):
        check_jobs(jobs)


@pytest.mark.parametrize("bench", ["darp", "pdptw"])
def test_jobs_on_the_command_line(bench: str, capsys: pytest.CaptureFixture[str]):
    from mobility.cli import build_parser, main

    assert build_parser().parse_args(["bench", bench, "--jobs", "2"]).jobs == 2
    assert build_parser().parse_args(["bench", bench]).jobs == 1
    with pytest.raises(SystemExit) as info:
        main(["bench", bench, "--jobs", "0"])
    assert info.value.code == 2
    assert "argument --jobs: must be a whole number 1 .. 64, got 0" in capsys.readouterr().err
