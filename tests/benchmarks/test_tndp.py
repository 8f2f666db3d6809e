"""``mobility bench tndp``: the quick run end to end (JSON, Markdown, the front's PNG, no verdict),
and the pieces it is made of checked by hand: the run plan, the published fronts, the
non-dominated filter and the normalised hypervolume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmarks import tndp
from routing.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def quick(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    for module in ("planning.search", "planning.plots", "benchmarks.tndp_rescore"):
        pytest.importorskip(module)
    from mobility.cli import main

    out = tmp_path_factory.mktemp("tndp")
    argv = ["bench", "tndp", "--quick", "--budget", "Mandl=2", "--data-dir", str(data_dir), "--out", str(out)]
    assert main(argv) == 0
    return json.loads((out / "tndp.json").read_text()), (out / "tndp.md").read_text(), out


def test_quick_writes_json_markdown_and_the_front(quick: tuple[dict, str, Path], data_dir: Path) -> None:
    from planning import read_published_route_sets

    data, md, out = quick
    assert data["quick"] is True and list(data["instances"]) == ["Mandl"]
    assert [(r["mode"], r["seed"]) for r in data["runs"]] == [("passenger", 1), ("pareto", 1)]
    mandl = data["instances"]["Mandl"]
    assert mandl["problems"] == 0 and all(r["problems"] == [] for r in data["runs"])
    assert mandl["lower_bound_att"] <= mandl["att_best_min"] == mandl["att_mean_min"]
    assert mandl["d0"] + mandl["d1"] + mandl["d2"] + mandl["dun"] == pytest.approx(1.0)
    assert mandl["budget_s"] == 2.0 and mandl["evaluations_mean"] > 0
    front = data["pareto"]["Mandl"]
    assert front["front_size"] == len(front["front"]) > 0
    assert tndp.non_dominated([tuple(p) for p in front["front"]]) == [tuple(p) for p in front["front"]]
    assert (out / Path(front["png"]).name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["evaluator_speed"][0]["instance"] == "Mandl" and data["evaluator_speed"][0]["per_s"] > 0
    published = read_published_route_sets(data_dir / "tndp" / "literature" / "mandl_published_route_sets.txt")
    assert len(data["rescore"]) == len(published)
    assert (out / "tndp_rescore.md").read_text().count("\n|") >= len(published)
    assert "| Mandl | 6 (2-8) | 2 s | 1 |" in md
    assert "Ahmed et al. (2019)" in md and "10.0058" in md


def test_quick_judges_no_target(quick: tuple[dict, str, Path]) -> None:
    data, md, _ = quick
    assert data["target"]["met"] is None and data["instances"]["Mandl"]["at_or_below_best_published"] is None
    assert "**met**" not in md and "**not met**" not in md and "no verdict" in md


def test_the_plan_of_a_run() -> None:
    names, seeds, budgets, runs = tndp.plan()
    assert names == tndp.INSTANCES and seeds == (1, 2, 3) and budgets == tndp.BUDGETS_S
    assert len(runs) == 4 * 3 + 4 and runs[-1] == ("Mumford3", "pareto", 1)
    names, seeds, budgets, runs = tndp.plan(quick=True, pareto=False, budgets={"Mandl": 1.5, "Mumford3": 9})
    assert names == ("Mandl",) and seeds == (1,) and budgets == {"Mandl": 1.5} and runs == [("Mandl", "passenger", 1)]
    assert tndp.steps(quick=True) == 2 + 2
    with pytest.raises(InvalidArgumentError, match="instances"):
        tndp.plan(instances=["Mumford2"])
    with pytest.raises(InvalidArgumentError, match="budget"):
        tndp.plan(budgets={"Nowhere": 5})
    with pytest.raises(InvalidArgumentError, match="budget"):
        tndp.plan(budgets={"Mandl": 0})


def test_a_bad_budget_is_one_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    from mobility.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "tndp", "--budget", "Mandl:60"])
    assert info.value.code == 2
    assert "expected INSTANCE=SECONDS" in capsys.readouterr().err


def test_published_fronts_are_read_from_the_literature_files(data_dir: Path) -> None:
    folder = data_dir / "tndp" / "literature"
    with (folder / "Mumford3_John2016_pareto_plus_literature.csv").open() as fh:
        rows = list(csv.reader(fh))[1:]
    john = [(float(r[0]), float(r[1])) for r in rows if r[2] == "John (2016)"]
    fronts = tndp.literature_fronts(data_dir, "Mumford3")
    assert fronts["John (2016)"] == john and len(john) < len(rows)
    best = fronts["best published"]
    assert (28.05, 6119.0) in best and (46.05, 1746.0) in best  # Ahmed et al. (2019), both sides
    assert set(tndp.literature_fronts(data_dir, "Mandl")) == set(tndp.LITERATURE_FRONTS["Mandl"])


def test_non_dominated_keeps_the_front() -> None:
    points = [(10.0, 200.0), (11.0, 150.0), (10.5, 210.0), (12.0, 150.0), (10.0, 200.0), (13.0, 100.0)]
    assert tndp.non_dominated(points) == [(10.0, 200.0), (11.0, 150.0), (13.0, 100.0)]


def test_hypervolume_by_hand() -> None:
    lb = 10.0
    published = {"paper": [(lb + 1, 100.0), (lb + 2, 50.0)]}  # normalised: (0.5, 1) and (1, 0)
    hv = tndp.hypervolumes([(lb, 50.0)], published, lb)  # ours normalises to (0, 0)
    assert hv["normalisation"]["att_min"] == [lb, lb + 2] and hv["normalisation"]["trt_min"] == [50.0, 100.0]
    assert hv["ours"] == pytest.approx(1.1 * 1.1)
    # boxes to (1.1, 1.1): 0.6 x 0.1 and 0.1 x 1.1, overlapping in 0.1 x 0.1
    assert hv["published"]["paper"] == pytest.approx(0.06 + 0.11 - 0.01)
    assert tndp.hypervolumes([(lb + 5, 500.0)], published, lb)["ours"] == 0.0  # beyond the reference point
