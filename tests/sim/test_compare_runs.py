"""``mobility compare`` on real small runs: the differences recount from the two summaries and
ride files, the plots are written, and a folder that is not a run is one clear error."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from mobility.cli import main
from sim.compare import MAIN_KPIS, compare_rows, main_kpis, onboard_series, read_run
from sim.sweep import RunTask, mean_ci, replication_table, run_day, run_task
from tests.sim.test_sweep import TAXI
from tests.test_cli_sweep import TINY


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def runs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two DRT runs (2 and 3 vans, seed 8) and a shared-taxi run."""
    base = tmp_path_factory.mktemp("runs")
    (base / "tiny.toml").write_text(TINY)
    (base / "taxi.toml").write_text(TAXI)
    out = {}
    for name, vehicles in (("two", 2), ("three", 3)):
        run_day(base / "tiny.toml", base / name, seed=8, overrides=[("fleet.vehicles", vehicles)], data_dir=data_dir)
        out[name] = base / name
    run_day(base / "taxi.toml", base / "taxi", data_dir=data_dir)
    out["taxi"] = base / "taxi"
    # the run "three" with its fares in euros (amounts in cents): a run of a sweep
    euros = (
        ("fares.currency", "EUR"),
        ("fares.base", {"adult": 250, "youth": 150, "child": 100}),
        ("fares.per_km", 50),
    )
    task = RunTask(0, str(base / "tiny.toml"), str(base / "eur"), 8, (("fleet.vehicles", 3), *euros),
                   data_dir=str(data_dir))  # fmt: skip
    result = run_task(task)
    assert result.ok and result.currency == "EUR", result.error
    out["eur"] = base / "eur"
    return out


def test_compare_two_runs_from_the_command_line(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["two"]), str(runs["three"]), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Served share" in printed and "B - A" in printed and str(out) in printed
    doc = json.loads((out / "compare.json").read_text())
    a = json.loads((runs["two"] / "summary.json").read_text())
    b = json.loads((runs["three"] / "summary.json").read_text())
    assert (doc["a"]["seed"], doc["b"]["seed"], doc["a"]["kind"]) == (8, 8, "drt")
    by_name = {row["name"]: row for row in doc["kpis"]}
    # every main KPI of a DRT day, in order, with B - A and the change in per cent
    assert [n for n in by_name if n in {k.name for k in MAIN_KPIS}] == [k.name for k in MAIN_KPIS if k.drt]
    for name, va in main_kpis(a).items():
        vb = main_kpis(b)[name]
        row = by_name[name]
        assert (row["a"], row["b"]) == (va, vb)
        if va is not None and vb is not None:
            assert row["diff"] == pytest.approx(vb - va)
            assert row["pct"] == (None if va == 0 else pytest.approx(100 * (vb - va) / abs(va)))
    # independent recounts from the ride files
    for side, run in (("a", runs["two"]), ("b", runs["three"])):
        rides = _rows(run / "rides.csv")
        assert by_name["served_share"][side] == pytest.approx(
            sum(r["outcome"] == "completed" for r in rides) / len(rides), abs=1e-4
        )
    md = (out / "compare.md").read_text()
    assert "| KPI | A | B | B - A | % |" in md and "| Served share |" in md
    for name in ("compare_wait.png", "compare_occupancy.png", "compare_kpis.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name


def test_the_waits_and_occupancy_come_from_the_run_files(runs: dict[str, Path]) -> None:
    drt = read_run(runs["three"])
    kpis = drt.summary["kpis"]
    waits = drt.wait_s()
    assert waits.size == kpis["wait_s"]["count"] > 0
    assert round(float(waits.mean()), 1) == kpis["wait_s"]["mean"]
    starts, on_board = drt.onboard()
    assert list(starts) == kpis["occupancy"]["series"]["start_s"]
    taxi = read_run(runs["taxi"])
    assert taxi.kind == "taxi" and taxi.seed == 2
    assert taxi.wait_s().size == taxi.summary["kpis"]["requests"]["served"]
    # a taxi day's occupancy is recounted from drives.csv: the series integrates to its rider-seconds
    drives = _rows(runs["taxi"] / "drives.csv")
    rider_s = sum(int(d["onboard"]) * (int(d["arrive_s"]) - int(d["depart_s"])) for d in drives)
    starts, on_board = taxi.onboard()
    assert rider_s > 0 and float(on_board.sum()) * 900 == pytest.approx(rider_s)
    assert starts[0] == 18 * 3600


def test_onboard_series_by_hand() -> None:
    # 2 riders over [0, 900), 1 over [450, 1350): bin 0 = (2 * 900 + 1 * 450) / 900, bin 1 = 450 / 900
    starts, means = onboard_series(
        np.array([0.0, 450.0]), np.array([900.0, 1350.0]), np.array([2.0, 1.0]), start_s=0, end_s=1800
    )
    assert list(starts) == [0.0, 900.0] and list(means) == pytest.approx([2.5, 0.5])


def test_a_drt_run_beside_a_taxi_run_compares_what_both_have(runs: dict[str, Path]) -> None:
    rows = {r["name"]: r for r in compare_rows(read_run(runs["two"]).kpis, read_run(runs["taxi"]).kpis)}
    assert rows["served_share"]["a"] is not None and rows["served_share"]["b"] is not None
    assert rows["utilisation"]["b"] is None and rows["utilisation"]["diff"] is None  # DRT only
    assert rows["pooled_share"]["a"] is None and rows["pooled_share"]["pct"] is None  # taxi only


def test_a_folder_that_is_not_a_run_is_one_clear_error(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")
    for argv, expected in (
        ([str(runs["two"]), str(empty)], f"RUN_B: {empty} is not a run folder: no summary.json"),
        ([str(tmp_path / "nowhere"), str(runs["two"])], "RUN_A: "),
        ([str(broken), str(runs["two"])], "RUN_A: "),
    ):
        assert main(["compare", *argv, "--out", str(tmp_path / "cmp")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"mobility: error: {expected}"), err
    assert not (tmp_path / "cmp").exists()  # checked before --out is made


def test_runs_in_different_currencies_show_each_and_are_not_subtracted(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    krw = json.loads((runs["three"] / "summary.json").read_text())["kpis"]["revenue"]["fare_krw"]
    eur = json.loads((runs["eur"] / "summary.json").read_text())["kpis"]["revenue"]["fare_krw"]
    assert krw > 0 and eur > 0
    out = tmp_path / "cmp"
    assert main(["compare", str(runs["three"]), str(runs["eur"]), "--out", str(out), "--no-plots"]) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Fare revenue")]
    assert f"{krw:,} KRW" in line and f"{eur / 100:,.2f} EUR" in line and "different currencies" in line
    doc = json.loads((out / "compare.json").read_text())
    assert (doc["a"]["currency"], doc["b"]["currency"]) == ("KRW", "EUR")
    (row,) = [r for r in doc["kpis"] if r["name"] == "fare_krw"]
    assert (row["diff"], row["pct"], row["note"]) == (None, None, "different currencies")
    assert "different currencies" in (out / "compare.md").read_text()
    # the same currency on both sides: subtracted, written in it
    rows = compare_rows({"fare_krw": 1250.0}, {"fare_krw": 1500.0}, currency_a="EUR", currency_b="EUR")
    assert (rows[0]["diff"], rows[0]["pct"], rows[0].get("note")) == (250.0, 20.0, None)
    # replications write money in the runs' currency (cents to euros: 1250 -> 12.50)
    table = replication_table({"fare_krw": mean_ci([1250.0, 1350.0])}, currency="EUR")
    assert "13.00 EUR" in table and "KRW" not in table
