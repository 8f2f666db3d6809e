"""The ride-sharing benchmark runner: its quick run writes JSON and Markdown whose totals are the
checker's recount of the stored solutions, and its target verdicts follow from the runs.

These check consistency, not speed (a short time limit on a small slice of Manhattan).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import rideshare
from benchmarks.rideshare import Case, parse_case, target_verdicts
from mobility.cli import main
from routing.errors import InvalidArgumentError
from routing.rideshare_check import check_rideshare

CASES = [Case(150, 6, 4, (0.5,)), Case(100, 5, 8, (0.5,))]


@pytest.fixture(scope="module")
def quick(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    out = tmp_path_factory.mktemp("rideshare")
    said: list[str] = []
    result = rideshare.run(data_dir=data_dir, cases=CASES, seeds=(1,), out_dir=out, progress=said.append, quick=True)
    assert len(said) == rideshare.steps(cases=CASES, seeds=(1,)) == 1 + 2
    data = json.loads((out / "rideshare.json").read_text())
    assert data == json.loads(json.dumps(result))
    return data, (out / "rideshare.md").read_text(), out


def test_quick_run_totals_are_the_checkers(data_dir: Path, quick: tuple[dict[str, Any], str, Path]):
    data, _, out = quick
    solutions = json.loads((out / "rideshare_solutions.json").read_text())["runs"]
    assert [r["case"] for r in data["runs"]] == ["150/6/4", "100/5/8"]
    assert data["complete"] and data["quick"]
    for run, solution in zip(data["runs"], solutions, strict=True):
        # the solutions file says its metric: the symmetric one by default
        assert solution["metric"] == run["metric"] == data["metric"] == "symmetric"
        report = check_rideshare(data_dir / "rideshare" / "manhattan", solution, requests=run["requests"],
                                 drivers=run["drivers"], capacity=run["capacity"], metric="symmetric")  # fmt: skip
        assert report.feasible and run["feasible"]
        assert run["total"] == pytest.approx(report.total, rel=1e-12) == pytest.approx(solution["total"], rel=1e-9)
        assert run["total_symmetric"] == pytest.approx(report.total_symmetric, rel=1e-12) == run["total"]
        assert run["total_directed"] == pytest.approx(report.total_directed, rel=1e-12)
        assert run["total_directed"] != run["total"]  # Manhattan's one-way streets
        assert run["routes"] == report.routes_used == len(solution["routes"])
        assert run["wall_s"] == pytest.approx(run["read_s"] + run["search_s"], abs=2e-3)
        assert run["search_budget_s"] <= run["time_limit_s"]


def test_quick_markdown(quick: tuple[dict[str, Any], str, Path]):
    data, md, _ = quick
    assert "| Manhattan.1 | 150 / 6 / 4 | ours, 0.5 s |" in md
    assert "| Manhattan.1 | 100 / 5 / 8 | published | — | — | — | — | | |" in md
    assert "**met**" not in md and "**not met**" not in md
    assert "not measured in this run" in md  # the targets refer to 10,000/200/8
    assert all(t["met"] is None for t in data["targets"])
    assert f"{data['runs'][0]['total_symmetric']:,.0f}" in md and f"{data['runs'][0]['total_directed']:,.0f}" in md
    assert "Our solver minimised the symmetric total." in md


def _result(total: float, wall: float, feasible: bool = True, quick: bool = False) -> dict[str, Any]:
    run = {"instance": "Manhattan.1", "case": "10000/200/8", "time_limit_s": 20.0, "total": 0.9 * total,
           "total_symmetric": total, "total_directed": 0.9 * total, "wall_s": wall,
           "feasible": feasible, "routes": 90, "read_s": 2.0, "search_s": wall - 2.0, "iterations": 10,
           "compile_s": 0.0}  # fmt: skip
    return {"runs": [run], "quick": quick}


@pytest.mark.parametrize(
    ("total", "wall", "feasible", "met"),
    [
        (1.48e7, 20.1, True, True),  # within 1 % of the limit; judged in the HGA metric
        (1.49e7, 19.0, True, False),  # above pruneGDP
        (1.40e7, 20.3, True, False),  # too slow
        (1.40e7, 19.0, False, False),  # infeasible
    ],
)
def test_target_verdicts(total: float, wall: float, feasible: bool, met: bool):
    prune, hga = target_verdicts(_result(total, wall, feasible))
    assert prune["reference"] == "pruneGDP" and prune["met"] is met
    assert hga["reference"] == "HGA" and hga["measured"] is False and hga["met"] is None
    assert target_verdicts(_result(total, wall, feasible, quick=True))[0]["met"] is None


def test_parse_case():
    assert parse_case("10000/200/8@20,450") == Case(10000, 200, 8, (20.0, 450.0))
    assert parse_case("2000/50/8", default_limits=(5.0,)) == Case(2000, 50, 8, (5.0,))
    for bad in ("10000/200", "0/1/1", "1/1/1@0", "1/1/1@x", "1/1/1@"):
        with pytest.raises(InvalidArgumentError, match="cases: got"):
            parse_case(bad)


def test_the_command_line(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = ["bench", "rideshare", "--quick", "--cases", "60/4/8@0.3", "--data-dir", str(data_dir)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    data = json.loads((tmp_path / "rideshare.json").read_text())
    assert [(r["case"], r["time_limit_s"]) for r in data["runs"]] == [("60/4/8", 0.3)]
    assert (tmp_path / "rideshare.md").read_text() in printed
    assert data["metric"] == "symmetric"
    # --metric directed: the solver minimises the directed total, the checker confirms it in that metric
    directed = tmp_path / "directed"
    assert main([*argv, "--metric", "directed", "--out", str(directed)]) == 0
    capsys.readouterr()
    run = json.loads((directed / "rideshare.json").read_text())["runs"][0]
    assert run["metric"] == "directed" and run["total_agrees"]
    assert run["claimed_total"] == pytest.approx(run["total"], rel=1e-9) == run["total_directed"]
    assert "Our solver minimised the directed total." in (directed / "rideshare.md").read_text()
    with pytest.raises(SystemExit) as info:
        main(["bench", "rideshare", "--cases", "60/4", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert "argument --cases: got '60/4'" in capsys.readouterr().err
