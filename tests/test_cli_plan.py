"""``mobility plan evaluate | design | report`` on Mandl, in-process (``mobility.cli.main``).

The numbers ``plan evaluate`` prints and writes are the :class:`planning.Evaluator`'s; a
designed route set is feasible by the independent check and reads back; bad inputs get one
``mobility: error:`` line and exit status 2 before any work.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from mobility.cli import main
from planning import Evaluator, check_route_set, read_cec, read_published_route_sets, read_route_set


@pytest.fixture(scope="module")
def mandl(data_dir: Path) -> Path:
    return data_dir / "tndp" / "Mandl"


@pytest.fixture(scope="module")
def published(data_dir: Path) -> list[tuple[str, list[list[int]]]]:
    return read_published_route_sets(data_dir / "tndp" / "literature" / "mandl_published_route_sets.txt")


def six_route_set(published: list[tuple[str, list[list[int]]]]) -> list[list[int]]:
    """The first published Mandl set of 6 routes, 0-based."""
    return next(routes for _title, routes in published if len(routes) == 6)


def write_text_routes(path: Path, routes: list[list[int]]) -> Path:
    path.write_text("\n".join("-".join(str(v + 1) for v in r) for r in routes) + "\n")
    return path


def one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``: it must return 2 with exactly one ``mobility: error:`` line; returns it."""
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("mobility: error: "), err
    return err[0]


# ---------------------------------------------------------------------------- evaluate
def test_evaluate_prints_and_writes_the_evaluators_numbers(
    mandl: Path, published: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routes = six_route_set(published)
    text = write_text_routes(tmp_path / "set.txt", routes)
    out = tmp_path / "eval.json"
    assert main(["plan", "evaluate", str(mandl), str(text), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    problem = read_cec(mandl)
    expected = Evaluator(problem).evaluate(routes)
    data = json.loads(out.read_text())
    assert data["evaluation"] == json.loads(json.dumps(expected.to_dict()))
    assert data["routes"] == [[v + 1 for v in r] for r in routes]
    assert data["feasible"] is True and data["problems"] == check_route_set(problem, routes) == []
    assert f"ATT        {expected.att_min:.4f} min" in printed
    assert f"d0 {100 * expected.d0:.2f} %" in printed and f"d1 {100 * expected.d1:.2f} %" in printed
    assert f"TRT        {expected.trt_min:g} min" in printed
    assert "feasible" in printed and "INFEASIBLE" not in printed
    # one line per route with its stops, time, circuity and overlap
    for k, (s, t, c) in enumerate(zip(expected.num_stops, expected.route_time_min, expected.circuity, strict=True), 1):
        assert any(line.split()[:4] == [str(k), str(s), f"{t:g}", f"{c:.3f}"] for line in printed.splitlines())


def test_evaluate_reads_json_as_text_and_reports_a_broken_rule(
    mandl: Path, published: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    four = next(routes for _title, routes in published if len(routes) == 4)
    as_json = tmp_path / "four.json"
    as_json.write_text(json.dumps({"routes": [[v + 1 for v in r] for r in four]}))
    as_text = write_text_routes(tmp_path / "four.txt", four)
    assert main(["plan", "evaluate", str(mandl), str(as_json)]) == 1  # 4 routes; Mandl's rules ask for 6
    from_json = capsys.readouterr().out
    assert "INFEASIBLE" in from_json and "4 routes, the rules ask for 6" in from_json
    assert main(["plan", "evaluate", str(mandl), str(as_text)]) == 1
    assert capsys.readouterr().out == from_json
    assert main(["plan", "evaluate", str(mandl), str(as_text), "--routes", "4", "--max-stops", "9"]) == 0
    assert "INFEASIBLE" not in capsys.readouterr().out


def test_evaluate_on_a_folder_of_no_published_rules_takes_the_files_route_count(
    mandl: Path, published: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my_city"
    folder.mkdir()
    for f in mandl.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    routes = six_route_set(published)
    assert main(["plan", "evaluate", str(folder), str(write_text_routes(tmp_path / "s.txt", routes))]) == 0
    printed = capsys.readouterr().out
    assert "my_city: 15 nodes" in printed and "rules 6 routes of 2 .. 30 stops" in printed


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing-folder", "not found"),
        ("bad-json", "not valid JSON (line 1"),
        ("unknown-node", "node 99 is not in Mandl"),
        ("not-linked", "no link between consecutive stops 1 and 15"),
        ("a-file-as-source", "neither a CEC instance folder nor a .toml planning spec"),
    ],
)
def test_evaluate_bad_inputs_fail_in_one_line(
    case: str, expected: str, mandl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_text_routes(tmp_path / "good.txt", [[0, 1, 2]])
    source, routes = str(mandl), str(good)
    if case == "missing-folder":
        source = str(tmp_path / "no-such-instance")
    elif case == "bad-json":
        (tmp_path / "bad.json").write_text('{"routes": [[1, 2,')
        routes = str(tmp_path / "bad.json")
    elif case == "unknown-node":
        (tmp_path / "unknown.json").write_text('{"routes": [[1, 2, 99]]}')
        routes = str(tmp_path / "unknown.json")
    elif case == "not-linked":
        (tmp_path / "jump.txt").write_text("1-15\n")
        routes = str(tmp_path / "jump.txt")
    else:
        source = str(mandl / "MandlDemand.txt")
    line = one_error_line(["plan", "evaluate", source, routes], capsys)
    assert expected in line
    assert (source if case in ("missing-folder", "a-file-as-source") else routes) in line


# ---------------------------------------------------------------------------- design: inputs
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--routes", "0"], "--routes: got 0 (allowed: whole numbers 1 .. 10000)"),
        (["--min-stops", "1"], "--min-stops: got 1"),
        (["--min-stops", "6", "--max-stops", "4"], "--max-stops: got 4, below --min-stops 6"),
        (["--max-overlap", "1.5"], "--max-overlap: got 1.5"),
        (["--max-circuity", "0.5"], "--max-circuity: got 0.5"),
    ],
)
def test_design_refuses_bad_rules_in_one_line_before_any_work(
    options: list[str], expected: str, mandl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "routes.json"
    line = one_error_line(["plan", "design", str(mandl), *options, "--out", str(out)], capsys)
    assert expected in line
    assert not out.exists()


def test_design_needs_the_rules_of_a_folder_that_is_not_published(
    mandl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    for f in mandl.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    line = one_error_line(["plan", "design", str(folder), "--routes", "5", "--out", str(tmp_path / "r.json")], capsys)
    assert "--min-stops: not given" in line and "'other' is not a published instance" in line


def test_design_and_report_refuse_an_out_they_cannot_write(
    mandl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    line = one_error_line(["plan", "design", str(mandl), "--out", str(folder)], capsys)
    assert f"--out: {folder} is a folder, not a file" in line
    taken = tmp_path / "a-file"
    taken.write_text("")
    routes = write_text_routes(tmp_path / "r.txt", [[0, 1]])
    line = one_error_line(["plan", "report", str(mandl), str(routes), "--out", str(taken)], capsys)
    assert f"--out: {taken} is a file, not a folder" in line


# ---------------------------------------------------------------------------- design and report
@pytest.fixture(scope="module")
def designed(mandl: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("planning.search")
    out = tmp_path_factory.mktemp("design") / "routes.json"
    argv = ["plan", "design", str(mandl), "--time-limit", "60", "--max-evaluations", "300", "--seed", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def test_design_writes_a_feasible_set_that_evaluate_reads_back(
    designed: Path, mandl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(designed.read_text())
    problem = read_cec(mandl)
    routes = read_route_set(designed, problem)
    assert data["instance"] == "Mandl" and data["problems"] == [] and check_route_set(problem, routes) == []
    assert len(routes) == 6 and all(2 <= len(r) <= 8 for r in routes)
    assert all(1 <= v <= 15 for r in data["routes"] for v in r)  # 1-based node numbers, as the published sets
    assert data["evaluations"] <= 300 and data["seed"] == 3 and data["mode"] == "passenger"
    out = tmp_path / "eval.json"
    assert main(["plan", "evaluate", str(mandl), str(designed), "--json", str(out)]) == 0
    scored = json.loads(out.read_text())["evaluation"]
    assert scored["att_min"] == pytest.approx(data["att_min"], abs=1e-9)
    assert scored["trt_min"] == data["trt_min"]


def test_design_with_an_evaluation_budget_is_the_same_for_the_same_seed(
    designed: Path, mandl: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.json"
    argv = ["plan", "design", str(mandl), "--time-limit", "60", "--max-evaluations", "300", "--seed", "3"]
    assert main([*argv, "--out", str(again)]) == 0
    assert json.loads(again.read_text())["routes"] == json.loads(designed.read_text())["routes"]


def test_report_writes_its_files(
    mandl: Path, published: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("planning.search")
    for module in ("planning.frequencies", "planning.gtfs", "planning.plots", "planning.compare"):
        pytest.importorskip(module)
    front_file = tmp_path / "pareto.json"
    argv = ["plan", "design", str(mandl), "--mode", "pareto", "--max-evaluations", "300", "--seed", "1"]
    assert main([*argv, "--out", str(front_file)]) == 0
    data = json.loads(front_file.read_text())
    assert data["front"] and all({"att_min", "trt_min", "routes"} <= set(p) for p in data["front"])
    before = write_text_routes(tmp_path / "before.txt", six_route_set(published))
    out = tmp_path / "report"
    code = main(["plan", "report", str(mandl), str(front_file), "--out", str(out), "--fleet", "40",
                 "--before", str(before)])  # fmt: skip
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert {"kpi.json", "routes.png", "front.png", "gtfs.zip", "before_after.md", "before_after.json"} <= names
    for png in ("routes.png", "front.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    kpi = json.loads((out / "kpi.json").read_text())
    freqs = kpi["frequencies"]
    assert freqs["fleet"] == 40 and sum(r["vehicles"] for r in freqs["routes"]) == freqs["vehicles_used"] <= 40
    assert freqs["att_min_with_wait"] > freqs["att_min_without_wait"] == pytest.approx(kpi["evaluation"]["att_min"])
    assert kpi["fleet_default"] is False
    assert kpi["evaluation"]["att_min"] == pytest.approx(data["att_min"], abs=1e-9)
    with zipfile.ZipFile(out / "gtfs.zip") as z:
        assert {"stops.txt", "routes.txt", "trips.txt", "stop_times.txt"} <= set(z.namelist())
    assert (out / "before_after.md").read_text().count("|") > 10
    assert "before_after" in kpi


def test_a_specs_design_table_gives_the_settings_the_options_do_not(tmp_path: Path) -> None:
    pytest.importorskip("planning.search")
    from mobility.cli import build_parser
    from mobility.plan_cli import design_params, spec_design_table
    from planning import PlanningFileError

    spec = tmp_path / "city.toml"
    spec.write_text('[city]\nosm = "x.osm"\n\n[design]\nmode = "pareto"\ntime_limit_s = 30\nseed = 7\n')
    args = build_parser().parse_args(["plan", "design", str(spec), "--seed", "2"])
    params = design_params(args, spec_design_table(spec))
    assert (params.mode, params.time_limit_s, params.seed, params.max_evaluations) == ("pareto", 30, 2, None)
    plain = design_params(build_parser().parse_args(["plan", "design", str(spec)]), {})
    assert (plain.mode, plain.time_limit_s, plain.seed) == ("passenger", 60.0, 1)
    spec.write_text("[design]\ntime_limit_s = -5\n")
    with pytest.raises(PlanningFileError, match=r"city.toml: \[design\] time_limit_s: got -5"):
        design_params(args, spec_design_table(spec))
    spec.write_text("[design]\npopulation = 5\n")
    with pytest.raises(PlanningFileError, match=r"\[design\] population: not a setting"):
        spec_design_table(spec)
