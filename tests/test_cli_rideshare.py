"""``mobility solve rideshare`` and ``mobility check rideshare`` end to end.

On a tiny instance folder made here (a 4 x 4 grid of two-way streets with uneven times, 12
requests, 3 drivers) the written JSON is recounted with Floyd-Warshall distances computed in
this file, and on a 200-request slice of Manhattan it must pass the independent checker. Bad
options and files give one clear line and exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mobility.cli import main
from routing.rideshare_check import check_rideshare

SIDE = 4


def _grid_arcs() -> list[tuple[int, int, float]]:
    rng = np.random.default_rng(7)
    arcs = []
    for r in range(SIDE):
        for c in range(SIDE):
            u = r * SIDE + c
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < SIDE and c + dc < SIDE:
                    v = (r + dr) * SIDE + c + dc
                    arcs.append((u, v, float(rng.uniform(1, 10))))
                    arcs.append((v, u, float(rng.uniform(1, 10))))
    return arcs


ARCS = _grid_arcs()
REQUESTS = [(i + 1, (3 * i) % 16, (5 * i + 7) % 16) for i in range(12)]
DRIVERS = [(1, 0), (2, 15), (3, 5)]


def make_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    n = SIDE * SIDE
    (folder / "Grid.xy").write_text(f"{n}\n" + "".join(f"{i} {i % SIDE} {i // SIDE}\n" for i in range(n)))
    (folder / "Grid.d").write_text(f"{len(ARCS)}\n" + "".join(f"{a} {b} {t!r}\n" for a, b, t in ARCS))
    (folder / "Grid.drv").write_text("".join(f"{i} {node}\n" for i, node in DRIVERS))
    (folder / "Grid.1.reqs").write_text("".join(f"{i} {o} {d}\n" for i, o, d in REQUESTS))
    return folder


def floyd_warshall() -> np.ndarray:
    n = SIDE * SIDE
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0.0)
    for a, b, t in ARCS:
        dist[a, b] = min(dist[a, b], t)
    for k in range(n):
        dist = np.minimum(dist, dist[:, [k]] + dist[[k], :])
    return dist


def recount(solution: dict[str, Any], capacity: int, metric: str = "symmetric") -> float:
    """Serve-once, pickup-first, capacity and the total in ``metric``, with this file's own distances
    (symmetric: each leg (d(a,b) + d(b,a)) / 2, the HGA code's; directed: d(a,b))."""
    dist = floyd_warshall()
    if metric == "symmetric":
        dist = (dist + dist.T) / 2
    trips = {i: (o, d) for i, o, d in REQUESTS}
    seen: list[int] = []
    total = 0.0
    for route in solution["routes"]:
        node, load, onboard = DRIVERS[route["driver"]][1], 0, set()
        for stop in route["stops"]:
            rid = abs(stop)
            nxt = trips[rid][0] if stop > 0 else trips[rid][1]
            if stop > 0:
                onboard.add(rid)
            else:
                assert rid in onboard
                onboard.remove(rid)
            load += 1 if stop > 0 else -1
            assert load <= capacity
            total += dist[node, nxt]
            node = nxt
            seen.append(stop)
        assert not onboard
    assert sorted(seen) == sorted([i for i, _, _ in REQUESTS] + [-i for i, _, _ in REQUESTS])
    return total


def solve(folder: Path, out: Path, *extra: str, capacity: int = 2) -> int:
    argv = ["solve", "rideshare", str(folder), "--requests", "12", "--drivers", "3", "--capacity", str(capacity)]
    return main([*argv, "--out", str(out), *extra])


@pytest.mark.parametrize("metric", [None, "symmetric", "directed"])
def test_solve_writes_json_that_recounts(tmp_path: Path, capsys: pytest.CaptureFixture[str], metric: str | None):
    folder = make_folder(tmp_path / "grid")
    out = tmp_path / "sol.json"
    chosen = [] if metric is None else ["--metric", metric]
    assert solve(folder, out, "--iterations", "300", "--seed", "3", *chosen) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert list(data)[:3] == ["routes", "total", "metric"]
    assert data["metric"] == (metric or "symmetric")  # the objective by default
    assert all(set(r) == {"driver", "stops"} for r in data["routes"])
    assert data["total"] == pytest.approx(recount(data, capacity=2, metric=data["metric"]), rel=1e-9)
    other = "directed" if data["metric"] == "symmetric" else "symmetric"
    assert data["total"] != pytest.approx(recount(data, capacity=2, metric=other), rel=1e-9)  # uneven times
    assert f"{data['total']:,.2f} {data['metric']} (agrees with the claimed total)" in printed
    assert f"{recount(data, capacity=2, metric=other):,.2f} {other}" in printed  # the recount in both
    assert (data["requests"], data["drivers"], data["capacity"], data["seed"]) == (12, 3, 2, 3)
    assert data["time_limit_s"] is None and data["iterations"] == 300
    assert "checker      feasible" in printed and "agrees" in printed and f"written      {out}" in printed
    # reproducible with --iterations alone
    again = tmp_path / "again.json"
    assert solve(folder, again, "--iterations", "300", "--seed", "3", *chosen) == 0
    assert json.loads(again.read_text())["routes"] == data["routes"]


def test_check_a_solution_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = make_folder(tmp_path / "grid")
    out = tmp_path / "sol.json"
    assert solve(folder, out, "--iterations", "100") == 0
    capsys.readouterr()
    args = ["--requests", "12", "--drivers", "3", "--capacity", "2"]
    assert main(["check", "rideshare", str(folder), str(out), *args]) == 0
    assert "checker      feasible" in capsys.readouterr().out

    data = json.loads(out.read_text())
    data["total"] += 1.0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["check", "rideshare", str(folder), str(bad), *args]) == 1
    captured = capsys.readouterr()
    assert "INFEASIBLE (1 violation)" in captured.out
    assert captured.err.startswith("violation: The claimed total")

    data["routes"] = data["routes"][1:]
    bad.write_text(json.dumps(data))
    assert main(["check", "rideshare", str(folder), str(bad), *args]) == 1
    assert "not served" in capsys.readouterr().err

    # the claim's metric: --metric, else the JSON's "metric", else symmetric (the HGA code's)
    data = json.loads(out.read_text())
    assert data["metric"] == "symmetric"
    sym, directed = recount(data, 2, "symmetric"), recount(data, 2, "directed")
    for claimed, key, option, status in [
        (directed, "directed", None, 0),  # the JSON's own metric
        (directed, None, None, 1),  # no key: judged as symmetric
        (sym, None, None, 0),
        (sym, "directed", "symmetric", 0),  # the option wins over the key
        (directed, "symmetric", "directed", 0),
        (sym, "directed", None, 1),
    ]:
        data = {"routes": data["routes"], "total": claimed} | ({} if key is None else {"metric": key})
        bad.write_text(json.dumps(data))
        assert (
            main(["check", "rideshare", str(folder), str(bad), *args, *(["--metric", option] if option else [])])
            == status
        )
        printed = capsys.readouterr().out
        judged = option or key or "symmetric"
        assert f"{claimed if status == 0 else (sym if judged == 'symmetric' else directed):,.2f} {judged} (" in printed
    bad.write_text(json.dumps({"routes": data["routes"], "total": sym, "metric": "euclidean"}))
    line = _one_line(["check", "rideshare", str(folder), str(bad), *args], capsys)
    assert f'{bad}: "metric" is "euclidean" (allowed: symmetric, directed' in line

    bad.write_text('{"routes": [')
    assert main(["check", "rideshare", str(folder), str(bad), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad}: not JSON" in err[0]
    assert main(["check", "rideshare", str(folder), str(tmp_path / "none.json"), *args]) == 2
    assert "none.json: file not found" in capsys.readouterr().err


def test_solve_a_manhattan_slice(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = data_dir / "rideshare" / "manhattan"
    out = tmp_path / "manhattan.json"
    counts = ["--requests", "200", "--drivers", "10", "--capacity", "8"]
    assert main(["solve", "rideshare", str(folder), *counts, "--time-limit", "1", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    report = check_rideshare(folder, data, requests=200, drivers=10, capacity=8, metric=data["metric"])
    assert report.feasible, report.violations
    assert data["metric"] == "symmetric" and report.total == report.total_symmetric
    assert report.total == pytest.approx(data["total"], rel=1e-9)
    assert data["instance"] == "Manhattan.1" and data["time_limit_s"] == 1.0
    assert "Manhattan.1: 200 requests, 10 drivers, capacity 8" in capsys.readouterr().out


def _one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mobility: error: "), lines
    return lines[0]


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    folder = make_folder(tmp_path / "grid")
    out = str(tmp_path / "x.json")
    base = ["solve", "rideshare", str(folder), "--drivers", "3", "--capacity", "2", "--out", out]
    line = _one_line([*base, "--requests", "13"], capsys)
    assert "requests" in line and "12" in line
    line = _one_line(["solve", "rideshare", str(folder), "--requests", "5", "--drivers", "4", "--capacity", "2",
                      "--out", out], capsys)  # fmt: skip
    assert "drivers" in line and "3" in line
    assert "network" in _one_line([*base, "--requests", "5", "--network", "Nope"], capsys)
    assert "reqs" in _one_line([*base, "--requests", "5", "--reqs", "7"], capsys)
    line = _one_line(["solve", "rideshare", str(tmp_path / "nowhere"), "--requests", "5", "--drivers", "1",
                      "--capacity", "2", "--out", out], capsys)  # fmt: skip
    assert "nowhere" in line
    line = _one_line([*base[:-1], str(tmp_path), "--requests", "5"], capsys)
    assert f"--out: {tmp_path} is a folder, not a file" in line
    (folder / "Grid.d").write_text("48\n0 1 2.0\n")
    assert "Grid.d" in _one_line([*base, "--requests", "5"], capsys)
    assert not Path(out).exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--requests", "0"), ("--capacity", "-1"), ("--drivers", "x"), ("--time-limit", "0")]
)
def test_bad_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str):
    args = {"--requests": "5", "--drivers": "1", "--capacity": "2", option: value}
    argv = ["solve", "rideshare", str(tmp_path)] + [x for k, v in args.items() for x in (k, v)]
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv", [["solve", "rideshare", "--help"], ["check", "rideshare", "--help"], ["bench", "rideshare", "--help"]]
)
def test_help_exits_zero(argv: list[str], capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "usage: mobility" in capsys.readouterr().out
