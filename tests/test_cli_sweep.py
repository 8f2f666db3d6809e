"""``mobility sweep`` on Ray and ``mobility simulate --set / --replications``: a run of a sweep is
the single run of the same settings and seed; the replications' intervals are Student's t."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from mobility.cli import main
from sim.compare import main_kpis

#: An hour of two to three vans in Jamsil, 25 requests: a run takes a few seconds.
TINY = """
[scenario]
name = "tiny"
description = "a few vans in Jamsil for an hour"
seed = 5
start = "07:00"
end = "08:00"

[network]
kind = "osm"
path = "osm/seoul_jamsil.osm"

[stops]
kind = "virtual"
spacing_m = 400

[fleet]
vehicles = 2
seats = 8
shift_start = "07:00"
shift_end = "08:30"

[service]
max_wait_s = 600
service_start_s = 25200
service_end_s = 28800

[demand]
kind = "profile"
total = 25
profile = "flat"
prebook_share = 0.0
lead_max_min = 2

[traffic]
model = "none"

[dispatch]
reoptimise_every_s = 600
reoptimise_iterations = 10
"""

#: The sweep's grid: 2 x 2 combinations.
GRID = {"fleet.vehicles": (2, 3), "service.max_wait_s": (600, 900)}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def singles(scenario: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, int], Path]:
    """``mobility simulate --set ... --seed 11`` for two of the combinations (the diagonal),
    run first: they also build the network caches the sweep's workers read."""
    out = {}
    for vehicles, wait in ((2, 600), (3, 900)):
        folder = tmp_path_factory.mktemp(f"single_{vehicles}_{wait}")
        argv = ["simulate", str(scenario), "--data-dir", str(data_dir), "--out", str(folder), "--no-plots"]
        argv += ["--set", f"fleet.vehicles={vehicles}", "--set", f"service.max_wait_s={wait}", "--seed", "11"]
        assert main(argv) == 0
        out[(vehicles, wait)] = folder
    return out


@pytest.fixture(scope="module")
def sweep(singles: Any, scenario: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2 x 2 sweep on a local Ray of 2 CPUs, seed 11."""
    out = tmp_path_factory.mktemp("sweep")
    argv = ["sweep", str(scenario), "--data-dir", str(data_dir), "--out", str(out), "--workers", "2", "--seed", "11"]
    for key, values in GRID.items():
        argv += ["--grid", f"{key}={','.join(map(str, values))}"]
    assert main(argv) == 0
    return out


def test_sweep_runs_equal_single_runs_with_the_same_seed(sweep: Path, singles: dict[tuple[int, int], Path]) -> None:
    rows = _rows(sweep / "sweep.csv")
    # every combination once, the first key varying slowest
    assert [(int(r["fleet.vehicles"]), int(r["service.max_wait_s"])) for r in rows] == [
        (2, 600),
        (2, 900),
        (3, 600),
        (3, 900),
    ]
    for (vehicles, wait), single in singles.items():
        run = sweep / "runs" / f"fleet.vehicles-{vehicles}__service.max_wait_s-{wait}__seed-11"
        # the same day, ride by ride, and the same KPIs
        assert (run / "rides.csv").read_text() == (single / "rides.csv").read_text()
        expected = main_kpis(_summary(single))
        assert main_kpis(_summary(run)) == expected
        row = next(r for r in rows if (int(r["fleet.vehicles"]), int(r["service.max_wait_s"])) == (vehicles, wait))
        for name, value in expected.items():
            assert (float(row[name]) if row[name] else None) == value, name
        summary = _summary(single)
        assert summary["seed"] == 11 and summary["kpis"]["fleet"]["vehicles"] == vehicles
        assert summary["meta"]["overrides"] == {"fleet.vehicles": vehicles, "service.max_wait_s": wait}


def test_sweep_table_recounts_from_the_runs_rides(sweep: Path) -> None:
    """Each row's served share and rejections, recounted from its run's rides.csv."""
    for row in _rows(sweep / "sweep.csv"):
        name = f"fleet.vehicles-{row['fleet.vehicles']}__service.max_wait_s-{row['service.max_wait_s']}__seed-11"
        run = sweep / "runs" / name
        rides = _rows(run / "rides.csv")
        completed = sum(r["outcome"] == "completed" for r in rides)
        assert int(float(row["requests"])) == len(rides) == 25
        assert float(row["served_share"]) == pytest.approx(completed / len(rides), abs=1e-4)
        assert int(float(row["rejected"])) == sum(r["outcome"] == "rejected" for r in rides)
        assert (row["runs"], row["failed"]) == ("1", "0")
    md = (sweep / "sweep.md").read_text()
    assert md.count("\n| 2 | 600 |") == 1 and md.count("\n| 3 | 900 |") == 1
    plots = sorted(p.name for p in sweep.glob("sweep_*.png"))
    assert "sweep_wait_mean_s.png" in plots and "sweep_requests.png" not in plots  # 25 requests everywhere
    for name in plots:
        assert (sweep / name).read_bytes()[:4] == b"\x89PNG"


def test_simulate_set_applies_and_errors_name_the_field(
    scenario: Path, data_dir: Path, singles: dict[tuple[int, int], Path], capsys: pytest.CaptureFixture
) -> None:
    # applied: the single run above has 3 vehicles where the file says 2
    assert len(_rows(singles[(3, 900)] / "vehicles.csv")) == 3
    base = ["simulate", str(scenario), "--data-dir", str(data_dir), "--out", "/nonexistent/never"]
    for setting, field in (
        ("fleet.vehicles=0", "fleet.vehicles: got 0"),
        ("fleet.vehicels=3", "fleet.vehicels: unknown key"),
        ("flet.vehicles=3", "file.flet: unknown key"),
        ("service.max_wait_s=soon", "service.max_wait_s"),
        ("demand.profile=hilly", "demand.profile: unknown profile 'hilly'"),
        ("fleet.vehicles.x=1", "fleet.vehicles.x: fleet.vehicles is a value"),
    ):
        assert main([*base, "--set", setting]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("mobility: error: ") and field in err[0], (setting, err)
    with pytest.raises(SystemExit) as exc:
        main([*base, "--set", "fleet.vehicles"])
    assert exc.value.code == 2
    assert "argument --set: expected KEY=VALUE" in capsys.readouterr().err


def test_replications_report_student_t_intervals(
    scenario: Path, data_dir: Path, singles: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "reps"
    argv = ["simulate", str(scenario), "--data-dir", str(data_dir), "--out", str(out), "--no-plots"]
    assert main([*argv, "--replications", "3", "--set", "fleet.vehicles=3"]) == 0
    printed = capsys.readouterr().out
    assert "Student's t" in printed and "Wait, mean" in printed
    doc = json.loads((out / "replications.json").read_text())
    assert doc["seeds"] == [5, 6, 7] and doc["overrides"] == {"fleet.vehicles": 3}
    waits = []
    for k, seed in enumerate((5, 6, 7)):
        summary = _summary(out / f"rep{k}")
        assert summary["seed"] == seed and summary["kpis"]["fleet"]["vehicles"] == 3
        waits.append(summary["kpis"]["wait_s"]["mean"])
    assert len(set(waits)) > 1  # three different days
    # by hand: mean, sample standard deviation, t(0.975, 2) = 4.303 from a t table
    mean = sum(waits) / 3
    s = math.sqrt(sum((w - mean) ** 2 for w in waits) / 2)
    half = 4.303 * s / math.sqrt(3)
    got = doc["kpis"]["wait_mean_s"]
    assert got["n"] == 3 and got["values"] == waits
    assert got["mean"] == pytest.approx(mean)
    assert got["half_width"] == pytest.approx(half, rel=1e-3)
    assert (got["low"], got["high"]) == (pytest.approx(mean - half, rel=1e-3), pytest.approx(mean + half, rel=1e-3))
    md = (out / "replications.md").read_text()
    assert "Student's t" in md and f"{mean:.1f} s" in md


def test_sweep_and_compare_refuse_an_out_that_is_a_file_before_they_run(
    scenario: Path, singles: dict[tuple[int, int], Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    run = str(singles[(2, 600)])
    for argv in (
        ["sweep", str(scenario), "--grid", "fleet.vehicles=2,3", "--workers", "1", "--out", str(taken)],
        ["compare", run, run, "--out", str(taken)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"mobility: error: --out: {taken} is a file, not a folder (give a folder for the results)"]
    # a grid value the scenario refuses stops the sweep before any run, naming the field
    out = tmp_path / "sweep"
    assert main(["sweep", str(scenario), "--grid", "fleet.vehicles=2,0", "--workers", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mobility: error: fleet.vehicles: got 0 (allowed: whole numbers 1 .. 100000)"]
    assert not out.exists()


def _free_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_ray_address_fails_at_once_naming_the_option(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import time

    port = _free_port()
    out = tmp_path / "sweep"
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        t0 = time.perf_counter()
        argv = ["sweep", str(scenario), "--grid", "fleet.vehicles=2,3", "--ray-address", address, "--out", str(out)]
        assert main(argv) == 2
        assert time.perf_counter() - t0 < 20  # Ray alone retries such an address for minutes
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("mobility: error: --ray-address: "), err
        assert address in err[0] and "refused" in err[0]
        assert not out.exists()
    reps = ["simulate", str(scenario), "--replications", "2", "--ray-address", f"127.0.0.1:{port}", "--out", str(out)]
    assert main(reps) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mobility: error: --ray-address: "), err
    assert not out.exists()
    # a port that is no number, or none at all: the same one line
    for address in ("127.0.0.1:port", "127.0.0.1"):
        assert main(["sweep", str(scenario), "--grid", "fleet.vehicles=2,3", "--ray-address", address]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("mobility: error: --ray-address: "), err


#: Two trip files for the tiny scenario: 3 and 5 trips (hand-counted) between Jamsil points.
TRIPS = {
    "a.csv": ["07:05,37.5117,127.0959,37.5150,127.1050,1", "07:15,37.5150,127.1050,37.5117,127.0959,1",
              "07:30,37.5112,127.1006,37.5200,127.1100,1"],
    "b.csv": ["07:02,37.5117,127.0959,37.5150,127.1050,1", "07:10,37.5150,127.1050,37.5117,127.0959,1",
              "07:20,37.5112,127.1006,37.5200,127.1100,1", "07:35,37.5200,127.1100,37.5112,127.1006,1",
              "07:40,37.5150,127.1050,37.5200,127.1100,1"],
}  # fmt: skip


def test_sweep_checks_each_combination_with_set_and_grid_values_together(
    scenario: Path, data_dir: Path, singles: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # --set demand.kind=trips alone is no valid scenario (no trips file): the grid gives the files
    header = "time,origin_lat,origin_lon,destination_lat,destination_lon,passengers"
    for name, rows in TRIPS.items():
        (tmp_path / name).write_text("\n".join([header, *rows]) + "\n")
    out = tmp_path / "sweep"
    base = ["sweep", str(scenario), "--data-dir", str(data_dir), "--workers", "1", "--no-plots", "--seed", "3"]
    grid = ["--grid", f"demand.path={tmp_path / 'a.csv'},{tmp_path / 'b.csv'}"]
    assert main([*base, "--set", "demand.kind=trips", *grid, "--out", str(out)]) == 0, capsys.readouterr().err
    rows = _rows(out / "sweep.csv")
    assert [int(float(r["requests"])) for r in rows] == [len(TRIPS["a.csv"]), len(TRIPS["b.csv"])]
    for row in rows:
        (run,) = (out / "runs").glob(f"demand.path-*{Path(row['demand.path']).name}__seed-3")
        assert len(_rows(run / "rides.csv")) == int(float(row["requests"]))
    # a combination the grid makes bad is still refused, naming the field, before --out is made
    capsys.readouterr()
    bad = tmp_path / "bad_sweep"
    missing = ["--grid", f"demand.path={tmp_path / 'a.csv'},{tmp_path / 'missing.csv'}"]
    assert main([*base, "--set", "demand.kind=trips", *missing, "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mobility: error: demand.path") and "missing.csv" in err[0], err
    assert not bad.exists()


def test_a_section_set_to_a_plain_value_is_one_line(scenario: Path, capsys: pytest.CaptureFixture) -> None:
    # the overrides replace the table by the value; the scenario's check names the section
    for setting, field in (("fleet=3", "fleet"), ("demand=3", "demand")):
        assert main(["simulate", str(scenario), "--set", setting, "--out", "/nonexistent/never"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"mobility: error: {field}: got 3"), (setting, err)


def test_an_address_that_answers_but_is_no_ray_cluster_fails_in_seconds(scenario: Path, tmp_path: Path) -> None:
    # a port that accepts connections (the kernel completes them; nobody speaks Ray's protocol):
    # without the connect settings Ray retries it for minutes. In a new process, so that Ray is
    # imported there with them.
    import socket
    import subprocess
    import sys
    import time

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        address = f"127.0.0.1:{sock.getsockname()[1]}"
        argv = [sys.executable, "-m", "mobility.cli", "sweep", str(scenario), "--grid", "fleet.vehicles=2,3"]
        argv += ["--ray-address", address, "--out", str(tmp_path / "sweep"), "--no-plots"]
        t0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
        took = time.perf_counter() - t0
    assert done.returncode == 2 and took < 30, (done.returncode, took)
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"mobility: error: --ray-address: cannot connect to a Ray cluster at {address}"
    )
