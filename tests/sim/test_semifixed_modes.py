"""The three-mode comparison (``benchmarks/modes.py``) on a short day: the same demand in the
three runs, and a table and JSON that say what the runs did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import modes


@pytest.fixture(scope="module")
def result(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("modes")
    return modes.run(data_dir=data_dir, quick=True, out_dir=out, plots=True), out


def test_three_modes_on_the_same_demand(result: tuple[dict, Path]) -> None:
    res, out = result
    runs = {r["mode"]: r for r in res["runs"]}
    assert set(runs) == {"free", "semi_fixed", "fixed"}
    assert len({r["requests"] for r in runs.values()}) == 1 and runs["free"]["requests"] > 0
    # planned with the day's slowest times, the route's vehicles keep every promise too
    assert runs["semi_fixed"]["problems"] == runs["fixed"]["problems"] == 0
    assert runs["semi_fixed"]["on_time_share"] == runs["fixed"]["on_time_share"] == 100
    assert runs["semi_fixed"]["checkpoints_kept_share"] == runs["fixed"]["checkpoints_kept_share"] == 1.0
    assert "checkpoints_kept_share" not in runs["free"]
    assert runs["free"]["walk_mean_m"] == runs["semi_fixed"]["walk_mean_m"] == 0  # door-to-stop at the rider's stop
    assert runs["fixed"]["deviations_per_cycle"] == 0
    table = (out / "modes.md").read_text()
    for label in ("free routing", "semi-fixed", "fixed line"):
        assert f"| {label} |" in table
    assert json.loads((out / "modes.json").read_text())["runs"] == res["runs"]
    assert (out / "modes.png").stat().st_size > 10_000


def test_the_command_line_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        modes.main(["--help"])
    assert info.value.code == 0
    assert "free routing" in capsys.readouterr().out


def test_mobility_bench_modes_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    from mobility.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "modes", "--help"])
    assert info.value.code == 0
    assert "[semi_fixed]" in capsys.readouterr().out
