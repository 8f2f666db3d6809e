"""The independent ride-sharing checker on a hand-made graph, with hand-counted totals.

The graph (directed arcs, travel times)::

    0 -> 1  2.0      (and a parallel 0 -> 1 of 5.0: the fastest counts)
    1 -> 2  3.0
    2 -> 3  1.5
    3 -> 0  4.0
    1 -> 3  10.0
    2 -> 4  1.0
    4 -> 1  0.5
    5 -> 0  1.0      (node 5 has no arc in: nothing reaches it)

Requests (id origin destination): 1: 1 -> 3, 2: 2 -> 4, 3: 4 -> 0, 4: 5 -> 0.
Drivers (id node): 1 at 0, 2 at 2, 3 at 3.

Hand count of the reference solution (driver 0: 1, 2, -1, -2; driver 2: 3, -3):
driver 0 starts at 0: 0->1 2.0; 1->2 3.0; 2->3 1.5; 3->4 by 3-0-1-2-4 = 4+2+3+1 = 10.0; 16.5.
driver 2 starts at 3: 3->4 10.0; 4->0 by 4-1-2-3-0 = 0.5+3+1.5+4 = 9.0 (4-1-3-0 is 14.5); 19.0.
Total 35.5.

The symmetric metric (HGA's ``Instance::cost``: each leg (d(a, b) + d(b, a)) / 2) needs the way
back: d(1,0) = 1-2-3-0 = 8.5, d(2,1) = 2-4-1 = 1.5, d(3,2) = 3-0-1-2 = 9.0, d(4,3) = 4-1-2-3 = 5.0,
d(0,4) = 0-1-2-4 = 6.0. Driver 0: (2+8.5)/2 + (3+1.5)/2 + (1.5+9)/2 + (10+5)/2 = 20.25; driver 2:
(10+5)/2 + (9+6)/2 = 15.0. Total 35.25.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routing.errors import InvalidArgumentError, NetworkFileError, RoutingError
from routing.rideshare_check import check_rideshare, load_check_instance

ARCS = [(0, 1, 2.0), (1, 2, 3.0), (2, 3, 1.5), (3, 0, 4.0), (1, 3, 10.0), (2, 4, 1.0), (4, 1, 0.5)]
ARCS += [(0, 1, 5.0), (5, 0, 1.0)]
REQUESTS = [(1, 1, 3), (2, 2, 4), (3, 4, 0), (4, 5, 0)]
DRIVERS = [(1, 0), (2, 2), (3, 3)]
GOOD = {"routes": [{"driver": 0, "stops": [1, 2, -1, -2]}, {"driver": 2, "stops": [3, -3]}], "total": 35.5}


def write_instance(folder: Path, name: str = "Tiny", arcs: list[Any] = ARCS, nodes: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.xy").write_text(f"{nodes}\n" + "".join(f"{i} {i * 0.1} {i * 0.2}\n" for i in range(nodes)))
    (folder / f"{name}.d").write_text(f"{len(arcs)}\n" + "".join(f"{a} {b} {t}\n" for a, b, t in arcs))
    (folder / f"{name}.drv").write_text("".join(f"{i} {n}\n" for i, n in DRIVERS))
    (folder / f"{name}.1.reqs").write_text("".join(f"{i} {o} {d}\n" for i, o, d in REQUESTS))
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_instance(tmp_path / "tiny")


def check(folder: Path, solution: Any, requests: int = 3, drivers: int = 3, capacity: int = 2) -> Any:
    return check_rideshare(folder, solution, requests=requests, drivers=drivers, capacity=capacity)


def with_routes(*routes: tuple[int, list[int]], total: float = 35.5) -> dict[str, Any]:
    return {"routes": [{"driver": d, "stops": s} for d, s in routes], "total": total}


def test_a_feasible_solution_recounts_to_the_hand_count(tiny: Path):
    report = check(tiny, GOOD)
    assert report.violations == []
    assert report.feasible and report.total_agrees
    assert report.total == pytest.approx(35.5, abs=1e-12)
    assert report.routes_used == 2
    assert (report.requests, report.drivers, report.capacity) == (3, 3, 2)


def test_the_symmetric_metric_of_the_hga_code(tiny: Path):
    report = check(tiny, GOOD)
    assert report.metric == "directed" and report.total_directed == report.total
    assert report.total_symmetric == pytest.approx(35.25, abs=1e-12)
    sym = check_rideshare(tiny, {**GOOD, "total": 35.25}, requests=3, drivers=3, capacity=2, metric="symmetric")
    assert sym.feasible and sym.metric == "symmetric" and sym.total == pytest.approx(35.25)
    assert sym.total_directed == pytest.approx(35.5)
    wrong = check_rideshare(tiny, GOOD, requests=3, drivers=3, capacity=2, metric="symmetric")
    assert not wrong.feasible and any(
        "claimed total 35.5 differs from the recount 35.25" in v for v in wrong.violations
    )
    with pytest.raises(InvalidArgumentError, match=r"metric: got 'manhattan' \(allowed: directed or symmetric\)"):
        check_rideshare(tiny, GOOD, requests=3, drivers=3, capacity=2, metric="manhattan")


def test_empty_routes_cost_nothing_and_are_not_used(tiny: Path):
    solution = with_routes((0, [1, 2, -1, -2]), (1, []), (2, [3, -3]))
    report = check(tiny, solution)
    assert report.feasible and report.routes_used == 2 and report.total == pytest.approx(35.5)


def test_pickup_and_drop_off_adjacent_and_reordered(tiny: Path):
    # driver 1 at node 2: 2->1 by 2-4-1 = 1.5; 1->3 by 1-2-3 = 4.5 (not the 10.0 arc); then 3->2
    # by 3-0-1-2 = 9.0; 2->4 1.0; 4->4 0; 4->0 9.0. Route 25.0.
    solution = with_routes((1, [1, -1, 2, 3, -2, -3]), total=25.0)
    report = check(tiny, solution, capacity=2)
    assert report.feasible, report.violations
    assert report.total == pytest.approx(25.0, abs=1e-12)


def test_the_claimed_total_must_agree(tiny: Path):
    report = check(tiny, {**GOOD, "total": 35.5 * (1 + 1e-7)})
    assert not report.feasible and not report.total_agrees
    assert report.total == pytest.approx(35.5)
    assert any("claimed total" in v for v in report.violations)
    assert check(tiny, {**GOOD, "total": 35.5 * (1 + 1e-12)}).feasible


@pytest.mark.parametrize(
    ("solution", "words"),
    [
        (with_routes((0, [1, 2, -1, -2])), "Request 3 is not served"),
        (with_routes((0, [1, 2, -1, -2, 3, -3]), (2, [3, -3])), "more than once"),
        (with_routes((0, [1, 2, -1, -2]), (2, [-3, 3])), "dropped off before it is picked up"),
        (with_routes((0, [1, 2, -1, -2, 3]), (2, [-3])), "different routes"),
        (with_routes((0, [1, 2, -1, -2, 3]), (2, [])), "picked up but never dropped off"),
        (with_routes((0, [1, 2, -1, -2, -3])), "dropped off but never picked up"),
        (with_routes((0, [1, 2, -1, -2]), (2, [3, -3, 9])), "Stop 9 is not a request"),
        # request 4 exists in the file but is not among the first 3
        (with_routes((0, [1, 2, -1, -2]), (2, [3, -3, 4, -4])), "not requests of the instance"),
        (with_routes((0, [1, 2, -1, -2]), (2, [3, -3, 0])), "Stop 0 is not a request"),
        (with_routes((0, [1, 2, -1, -2]), (3, [3, -3])), "allowed: whole numbers 0 .. 2"),
        (with_routes((0, [1, 2, -1, -2]), (-1, [3, -3])), "Driver out of range"),
        (with_routes((0, [1, 2, -1, -2]), (0, [3, -3])), "Driver 0 (routes 0, 1) is used by more than one route"),
    ],
)
def test_each_kind_of_violation_is_one_sentence(tiny: Path, solution: dict[str, Any], words: str):
    report = check(tiny, solution)
    assert not report.feasible
    assert any(words in v for v in report.violations), report.violations
    assert all(isinstance(v, str) and v.endswith(".") for v in report.violations)


def test_capacity_is_checked_all_along_the_route(tiny: Path):
    # Load 1, 2, 1, 0: fine with capacity 2, above capacity 1 after the second stop (position 1).
    report = check(tiny, GOOD, capacity=1)
    assert not report.feasible
    assert report.violations == ["Above the capacity 1: route 0 carries 2 after stop 1 (2)."]
    assert report.total == pytest.approx(35.5)  # still recounted
    three = with_routes((0, [1, 2, 3, -1, -2, -3]))
    assert any("carries 3" in v for v in check(tiny, three, capacity=2).violations)
    assert not any("capacity" in v for v in check(tiny, three, capacity=3).violations)


def test_a_leg_without_a_path(tiny: Path):
    report = check(tiny, with_routes((0, [1, 2, -1, -2]), (2, [3, -3, 4, -4])), requests=4)
    assert not report.feasible and report.total is None
    assert any("No path in the graph for the leg 0 -> 5 (route 1)" in v for v in report.violations)


@pytest.mark.parametrize(
    ("solution", "words"),
    [
        ([1, 2, 3], "JSON list, not an object"),
        ("routes", "JSON str"),
        ({"total": 35.5}, "no 'routes'"),
        ({"routes": GOOD["routes"]}, "no 'total'"),
        ({"routes": GOOD["routes"], "total": "35.5"}, "not a finite number"),
        ({"routes": GOOD["routes"], "total": True}, "not a finite number"),
        ({"routes": {"driver": 0}, "total": 1.0}, "'routes' is a dict, not a list"),
        ({"routes": [[1, 2, -1, -2]], "total": 1.0}, "Route 0 is not an object"),
        ({"routes": [{"driver": 0}], "total": 1.0}, "Route 0 is not an object"),
        ({"routes": [{"driver": 0, "stops": "1 2 -1 -2"}], "total": 1.0}, "not a list of whole numbers"),
        ({"routes": [{"driver": 0, "stops": [1.0, 2, -1, -2]}], "total": 1.0}, "not a list of whole numbers"),
        ({"routes": [{"driver": "0", "stops": [1, -1]}], "total": 1.0}, "Driver out of range: route 0 has driver '0'"),
        ({"routes": [{"driver": True, "stops": [1, -1]}], "total": 1.0}, "Driver out of range"),
        ({"routes": [{"driver": None, "stops": None}], "total": None}, "not a finite number"),
    ],
)
def test_a_malformed_solution_gets_violations_not_a_crash(tiny: Path, solution: Any, words: str):
    report = check(tiny, solution)
    assert not report.feasible
    assert any(words in v for v in report.violations), report.violations
    json.dumps(report.as_dict())  # plain values only


def test_many_violations_of_a_kind_are_summarised(tiny: Path):
    report = check(tiny, {"routes": [], "total": 0})
    assert report.violations[0] == "3 requests are not served: 1, 2, 3."
    assert report.total == 0.0 and report.routes_used == 0


def test_the_hga_repository_layout_and_several_networks(tmp_path: Path):
    root = tmp_path / "hga"
    for sub, kind in (("coords", "xy"), ("dists", "d"), ("drivers", "drv"), ("reqs", "1.reqs")):
        write_instance(tmp_path / "flat", name="A")
        write_instance(tmp_path / "flat", name="B")
        (root / "in" / sub).mkdir(parents=True, exist_ok=True)
        for name in ("A", "B"):
            (root / "in" / sub / f"{name}.{kind}").write_text((tmp_path / "flat" / f"{name}.{kind}").read_text())
    with pytest.raises(InvalidArgumentError, match=r"network: 2 networks .*: A, B"):
        check(root, GOOD)
    with pytest.raises(InvalidArgumentError, match=r"network: no C.xy"):
        check_rideshare(root, GOOD, requests=3, drivers=3, capacity=2, network="C")
    report = check_rideshare(root, GOOD, requests=3, drivers=3, capacity=2, network="B")
    assert report.feasible and report.total == pytest.approx(35.5)
    assert check_rideshare(root / "in", GOOD, requests=3, drivers=3, capacity=2, network="A").feasible
    flat = check_rideshare(tmp_path / "flat", GOOD, requests=3, drivers=3, capacity=2, network="A", reqs="A.1.reqs")
    assert flat.feasible


def test_a_request_file_by_path_and_its_name(tiny: Path, tmp_path: Path):
    other = tmp_path / "elsewhere.reqs"
    other.write_text("7 1 3\n8 2 4\n")  # the same trips as requests 1 and 2, other ids
    solution = with_routes((0, [7, 8, -7, -8]), total=16.5)
    report = check_rideshare(tiny, solution, requests=2, drivers=3, capacity=2, reqs=str(other))
    assert report.feasible, report.violations
    assert load_check_instance(tiny, requests=2, drivers=1, capacity=1).name == "Tiny.1"
    (tiny / "Tiny.2.reqs").write_text("7 1 3\n8 2 4\n")
    for name in ("Tiny.2.reqs", "Tiny.2", "2"):
        assert check_rideshare(tiny, solution, requests=2, drivers=3, capacity=2, reqs=name).feasible
    with pytest.raises(
        InvalidArgumentError, match=r"reqs: no request file '3' \(allowed: a path or one of Tiny.1.reqs"
    ):
        check_rideshare(tiny, solution, requests=2, drivers=3, capacity=2, reqs="3")


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"requests": 5}, InvalidArgumentError, r"requests: got 5, but Tiny.1.reqs has 4 \(allowed: 1 .. 4\)"),
        ({"drivers": 4}, InvalidArgumentError, r"drivers: got 4, but Tiny.drv has 3 \(allowed: 1 .. 3\)"),
        ({"capacity": 0}, InvalidArgumentError, r"capacity: got 0 \(allowed: whole numbers >= 1\)"),
        ({"requests": True}, InvalidArgumentError, r"requests: got True"),
    ],
)
def test_counts_out_of_range(tiny: Path, change: dict[str, Any], error: type, words: str):
    args: dict[str, Any] = {"requests": 3, "drivers": 3, "capacity": 2, **change}
    with pytest.raises(error, match=words):
        check_rideshare(tiny, GOOD, **args)


def test_bad_files_are_one_line(tmp_path: Path):
    folder = write_instance(tmp_path / "t")
    (folder / "Tiny.d").write_text("9\n0 1 2.0\n1 2 3.0\n")
    with pytest.raises(NetworkFileError, match="truncated: the header says 9 arcs, the file has 2"):
        check(folder, GOOD)
    write_instance(folder, arcs=[(0, 9, 1.0)])
    with pytest.raises(NetworkFileError, match=r"line 2: to node 9 is out of range \(allowed: 0 .. 5\)"):
        check(folder, GOOD)
    write_instance(folder, arcs=[(0, 1, -1.0)])
    with pytest.raises(NetworkFileError, match=r"travel_time -1\.0 is out of range"):
        check(folder, GOOD)
    write_instance(folder)
    (folder / "Tiny.1.reqs").write_text("1 1 3\n2 2 x\n3 4 0\n")
    with pytest.raises(NetworkFileError, match="line 2: destination node 'x' is not a whole number"):
        check(folder, GOOD)
    (folder / "Tiny.1.reqs").write_text("1 1 3\n1 2 4\n3 4 0\n")
    with pytest.raises(NetworkFileError, match="request id 1 appears more than once"):
        check(folder, GOOD)
    (folder / "Tiny.1.reqs").write_text("1 1 3 9\n")
    with pytest.raises(NetworkFileError, match="line 1: expected 3 fields"):
        check(folder, GOOD, requests=1)
    (folder / "Tiny.drv").unlink()
    with pytest.raises(NetworkFileError, match=r"Tiny.drv: file not found"):
        check(folder, GOOD)
    with pytest.raises(RoutingError, match="not a folder"):
        check(tmp_path / "missing", GOOD)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidArgumentError, match="network: 0 networks"):
        check(empty, GOOD)
