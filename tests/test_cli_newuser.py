"""The command line as a new user meets it: bad values get one clear line and exit status 2,
before any work, and every option says what it is.

Issue 14, point 12: ``--seed -1``, an ``--out`` that cannot take the results,
``np.float64(...)`` in messages, options without help, a zone with lat and lon swapped,
``--quick`` on every benchmark (the command-line sides of points 10 and 11 are tested in
``tests/routing/test_units_and_formats.py`` and ``tests/sim/test_zone_demand.py``).
Commands run in-process (``mobility.cli.main``); argparse's usage errors leave by
``SystemExit(2)``, the others return 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from mobility.cli import build_parser, main

#: The seed rule of every command (as ``seed`` in a scenario file): 0 .. 2**31 - 1.
MAX_SEED = 2**31 - 1

#: A zone over the eastern part of the Jamsil extract (longitudes 127.105 .. 127.125).
EAST_ZONE = [[37.50, 127.105], [37.50, 127.125], [37.54, 127.125], [37.54, 127.105]]


def small_day(tmp_path: Path, *, vehicles: int = 3, zone: list[list[float]] | None = None) -> Path:
    """A scenario file: two morning hours on Jamsil, a few buses, 80 requests."""
    zone_line = f"zone = {json.dumps(zone)}\n" if zone is not None else ""
    text = f"""
[scenario]
name = "cli_day"
seed = 3
start = "07:00"
end = "09:00"

[network]
kind = "osm"
path = "osm/seoul_jamsil.osm"

[fleet]
vehicles = {vehicles}
seats = 6
shift_start = "07:00"
shift_end = "10:00"

[service]
max_wait_s = 600
{zone_line}
[demand]
kind = "profile"
total = 80
prebook_share = 0.2
lead_max_min = 2

[dispatch]
reoptimise_every_s = 600
reoptimise_iterations = 10
"""
    path = tmp_path / "cli_day.toml"
    path.write_text(text)
    return path


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``; it must stop in argparse with status 2. Returns stderr."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


def input_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Run ``argv``; it must return 2 with one ``mobility: error:`` line. Returns (stdout, that line)."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mobility: error: "), err
    return out, lines[0]


# ---------------------------------------------------------------------------- --seed
@pytest.mark.parametrize(
    "argv",
    [
        # A scenario that does not exist comes after the seed: the seed must be refused first.
        ["simulate", "no-such-scenario", "--seed", "-1"],
        ["demo", "--seed", "-1", "--data-dir", "/nonexistent"],
        ["serve", "--seed", "-1", "--scenario", "no-such-scenario"],
        ["solve", "darp", "/nonexistent.txt", "--seed", "-1"],
        ["bench", "serve", "--seed", "-1", "--data-dir", "/nonexistent"],
        ["bench", "darp", "--seeds", "1", "-1", "--data-dir", "/nonexistent"],
        ["simulate", "no-such-scenario", "--seed", str(MAX_SEED + 1)],
        ["simulate", "no-such-scenario", "--seed", "1.5"],
    ],
    ids=["simulate", "demo", "serve", "solve", "bench-serve", "bench-darp", "too-large", "not-whole"],
)
def test_a_bad_seed_is_a_usage_error_on_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(argv, capsys)
    assert "argument --seed" in err
    assert f"0 .. {MAX_SEED}" in err
    assert "Traceback" not in err


def test_every_seed_option_follows_the_same_rule() -> None:
    parser = build_parser()
    seen = []
    for path, action in _options(parser):
        if action.dest in ("seed", "seeds"):
            seen.append(path)
            assert action.type is not None and getattr(action.type, "__name__", "") == "_seed", path
    assert {"demo", "simulate", "serve", "solve darp", "solve pdptw", "bench serve", "bench darp"} <= set(seen)


def test_a_good_seed_is_kept() -> None:
    args = build_parser().parse_args(["simulate", "imod_jamsil", "--seed", str(MAX_SEED)])
    assert args.seed == MAX_SEED


# ---------------------------------------------------------------------------- --out
def test_simulate_refuses_an_out_that_is_a_file_before_it_runs(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "results"
    taken.write_text("not a folder\n")
    out, line = input_error(
        ["simulate", str(small_day(tmp_path)), "--data-dir", str(data_dir), "--out", str(taken)], capsys
    )
    assert f"--out: {taken} is a file, not a folder" in line
    assert "simulating" not in out  # nothing ran
    assert taken.read_text() == "not a folder\n"


def test_simulate_refuses_an_unwritable_out_before_it_runs(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out, line = input_error(
        ["simulate", str(small_day(tmp_path)), "--data-dir", str(data_dir), "--out", str(blocker / "run")], capsys
    )
    assert f"--out: cannot write into the folder {blocker / 'run'}" in line
    assert "simulating" not in out


def test_demo_refuses_an_out_that_is_a_file(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "demo-out"
    taken.write_text("")
    out, line = input_error(["demo", "--data-dir", str(data_dir), "--out", str(taken)], capsys)
    assert "is a file, not a folder" in line and "simulating" not in out


def test_solve_refuses_an_out_that_cannot_be_written_before_solving(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    instance = data_dir / "darp" / "cordeau2006" / "a2-16.txt"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    out, line = input_error(["solve", "darp", str(instance), "--iterations", "50", "--out", str(folder)], capsys)
    assert f"--out: {folder} is a folder, not a file" in line
    assert "instance" not in out  # no summary: nothing was solved
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out, line = input_error(
        ["solve", "darp", str(instance), "--iterations", "50", "--out", str(blocker / "x.json")], capsys
    )
    assert "--out: cannot write the file" in line and "instance" not in out


# Each bench command with arguments that keep it short, and an --out that is a file: the
# command must refuse it at once (before e5047a8 each ran, then failed writing its results).
BENCH_ARGS = {
    "paths": ["--quick", "--no-compile"],
    "darp": ["--instances", "a2-16", "--time-limit", "0.1", "--no-peers"],
    "pdptw": ["--instances", "lc101", "--time-limit", "0.1", "--no-peers"],
    "dispatch": ["--vehicles", "2", "--requests", "5"],
    "serve": ["--clients", "1", "--seconds", "0.5", "--store", "memory", "--mode", "at-once", "--frontends", "0"],
    "sim": ["--quick"],
    "pooling": ["--quick"],
    "tndp": ["--quick"],
    "modes": ["--quick"],
    "dashboard": ["--quick"],
    "rideshare": ["--quick"],
    "traffic": ["--quick"],
}


@pytest.mark.parametrize("bench", sorted(BENCH_ARGS))
def test_every_bench_refuses_an_out_that_is_a_file_before_it_runs(
    bench: str, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "results"
    taken.write_text("")
    out, line = input_error(
        ["bench", bench, *BENCH_ARGS[bench], "--data-dir", str(data_dir), "--out", str(taken)], capsys
    )
    assert f"--out: {taken} is a file, not a folder" in line
    assert out == ""


def test_every_out_option_is_checked(tmp_path: Path) -> None:
    """Every command with --out is one of those tested above."""
    commands = {path for path, action in _options(build_parser()) if action.dest == "out"}
    planning = {"plan design", "plan report"}  # tested in tests/test_cli_plan.py
    planning |= {"fleet-plan"}  # tested in tests/sim/test_fleet_plan.py
    planning |= {"sweep", "compare"}  # tested in tests/test_cli_sweep.py
    planning |= {"solve rideshare"}  # tested in tests/test_cli_rideshare.py
    planning |= {"crosscheck"}  # tested in tests/sim/test_sumo_day.py
    planning |= {"traffic"}  # tested in tests/sim/test_sumo_background.py
    planning |= {"simulate-emergency"}  # tested in tests/sim/test_sumo_emergency.py
    assert commands == {"demo", "simulate", "solve darp", "solve pdptw"} | planning | {f"bench {b}" for b in BENCH_ARGS}


# ---------------------------------------------------------------------------- plain values
def test_a_latitude_out_of_range_is_printed_as_a_plain_number(
    data_dir: Path, jamsil_net: object, capsys: pytest.CaptureFixture[str]
) -> None:
    osm = str(data_dir / "osm" / "seoul_jamsil.osm")
    _, line = input_error(["network", "route", osm, "--from", "200,127.1", "--to", "37.52,127.11", "-q"], capsys)
    assert line == "mobility: error: lat: got 200.0 (allowed: -90 .. 90 degrees)"


# ---------------------------------------------------------------------------- help
def _options(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.Action]]:
    """Every (command path, option) of ``parser`` and its subcommands."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _options(sub, f"{path} {name}".strip())
        elif path:
            out.append((path, action))
    return out


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, action in _options(build_parser())
        if not action.help or action.help == argparse.SUPPRESS
    ]
    assert missing == []


def test_route_help_explains_from_and_to(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["network", "route", "--help"])
    assert info.value.code == 0
    options = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())
    for option in ("--from LAT,LON", "--to LAT,LON"):
        described = options.split(option, 1)[1].split(" --", 1)[0]
        assert "latitude" in described, (option, described)


# ---------------------------------------------------------------------------- --quick
def test_every_bench_command_has_quick() -> None:
    benches = {path.split()[1] for path, action in _options(build_parser()) if path.startswith("bench ")}
    with_quick = {path.split()[1] for path, action in _options(build_parser()) if action.dest == "quick"}
    assert benches == {
        *("paths", "darp", "pdptw", "dispatch", "serve", "sim", "pooling", "tndp", "modes", "dashboard", "rideshare"),
        "traffic",
    }
    assert benches <= with_quick


def _verdicts(markdown: str) -> list[str]:
    return [word for word in ("**met**", "**not met**") if word in markdown]


@pytest.mark.parametrize(
    ("bench", "extra"), [("darp", ["--instances", "a2-16"]), ("pdptw", ["--instances", "lc101"]), ("dispatch", [])]
)
def test_a_quick_bench_runs_and_judges_no_target_it_did_not_measure_at_size(
    bench: str, extra: list[str], tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", bench, "--quick", *extra, "--data-dir", str(data_dir), "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    md = (tmp_path / f"{bench}.md").read_text()
    data = json.loads((tmp_path / f"{bench}.json").read_text())
    assert data["quick"] is True
    assert code == 0
    assert _verdicts(md) == []
    assert "not judged" in md or "no verdict" in md
    assert md in printed


def test_a_quick_sim_runs_the_imod_day_whole_and_judges_only_it(data_dir: Path) -> None:
    from benchmarks import sim
    from sim.scenario import Scenario

    days = {name: Scenario.from_toml(sim.SCENARIOS / f"{name}.toml", data_dir=data_dir) for name in sim.TARGETS_S}
    imod, whole = sim.quick_scenario(days["imod_jamsil"])
    assert whole and imod == days["imod_jamsil"]
    part, whole = sim.quick_scenario(days["drt_manhattan"])
    full = days["drt_manhattan"]
    assert not whole
    assert part.demand.total < full.demand.total and part.end_s - part.start_s < full.end_s - full.start_s

    def row(name: str, whole: bool, total_s: float) -> dict[str, object]:
        met = total_s < sim.TARGETS_S[name] if whole else None
        return {"scenario": name, "vehicles": 1, "requests": 1, "completed": 1, "setup_s": 0.0, "run_s": total_s,
                "total_s": total_s, "target_s": sim.TARGETS_S[name], "whole_day": whole, "met": met}  # fmt: skip

    result = {
        "machine": {"cpu": "cpu", "cores": 2},
        "date": "today",
        "compile_s": 0.0,
        "quick": True,
        "scenarios": [row("imod_jamsil", True, 1.0), row("drt_manhattan", False, 1.0)],
    }
    lines = sim.to_markdown(result).splitlines()
    imod_line = next(line for line in lines if line.startswith("| imod_jamsil"))
    manhattan_line = next(line for line in lines if line.startswith("| drt_manhattan"))
    assert _verdicts(imod_line) == ["**met**"]
    assert _verdicts(manhattan_line) == [] and "not judged" in manhattan_line


def test_quick_paths_targets_are_not_judged_below_their_size() -> None:
    from benchmarks import paths

    def graph(nodes: int, side: int) -> dict[str, object]:
        return {
            "label": "grid",
            "nodes": nodes,
            "one_to_one": {"ch": {"p50_us": 10.0}},
            "matrix": {"ch_s": 0.01, "size": side, "speedup_vs_scipy": 50.0},
        }

    small = paths.target_verdicts(graph(20_000, 200))
    assert [small[k]["met"] for k in ("ch_p50_under_50us", "matrix_under_1s", "matrix_20x_scipy")] == [None] * 3
    full = paths.target_verdicts(graph(paths.TARGET_NODES, paths.TARGET_MATRIX))
    assert [full[k]["met"] for k in ("ch_p50_under_50us", "matrix_under_1s", "matrix_20x_scipy")] == [True] * 3


# ---------------------------------------------------------------------------- zones
def test_a_zone_with_lat_and_lon_swapped_is_named_as_such(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    swapped = [[lon, lat] for lat, lon in EAST_ZONE]
    scenario = small_day(tmp_path, zone=swapped)
    _, line = input_error(
        ["simulate", str(scenario), "--data-dir", str(data_dir), "--out", str(tmp_path / "run")], capsys
    )
    assert "service.zone" in line and "lat and lon look swapped" in line
