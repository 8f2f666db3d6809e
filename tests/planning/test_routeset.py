"""Route-set files (JSON and text), validation, and the independent feasibility check, rule by rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from planning import (
    InvalidRouteSetError,
    PlanningFileError,
    RouteRules,
    TransitProblem,
    check_route_set,
    flatten,
    read_published_route_sets,
    read_route_set,
    validate_route_set,
    write_route_set,
)


def line_problem(**rules: object) -> TransitProblem:
    """Six nodes: a path 1-2-3-4-5 of 1-minute links, 1-5 linked directly in 2 minutes, and
    node 6 hanging off node 5 (3 minutes)."""
    n = 6
    t = np.full((n, n), np.inf)
    np.fill_diagonal(t, 0.0)
    for a, b, w in [(0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 4, 1), (0, 4, 2), (4, 5, 3)]:
        t[a, b] = t[b, a] = w
    d = np.ones((n, n))
    base = {"num_routes": 2, "min_stops": 2, "max_stops": 5}
    return TransitProblem("line", t, d, np.zeros(n), np.zeros(n), RouteRules(**{**base, **rules}))  # type: ignore[arg-type]


def test_flatten_and_validate() -> None:
    p = line_problem()
    rs = validate_route_set(p, [[0, 1, 2], np.array([4, 5])])
    assert all(r.dtype == np.int32 for r in rs)
    nodes, offsets = flatten(rs)
    assert nodes.tolist() == [0, 1, 2, 4, 5] and offsets.tolist() == [0, 3, 5]
    for routes, expected in [
        ([], "no routes"),
        ([[0]], "route 1: has 1 stop"),
        ([[0, 1], [1, 9]], "route 2: node index 9 does not exist"),
        ([[0, 2]], "route 1: no link between consecutive stops 1 and 3"),
    ]:
        with pytest.raises(InvalidRouteSetError, match=expected):
            validate_route_set(p, routes)


def test_a_feasible_set_has_no_problems() -> None:
    assert check_route_set(line_problem(), [[0, 1, 2, 3], [3, 4, 5]]) == []


@pytest.mark.parametrize(
    ("routes", "rules", "expected"),
    [
        ([[0, 1, 2, 3, 4, 5]], {"num_routes": 1}, "route 1: 6 stops (allowed 2 .. 5)"),
        ([[0, 1, 2, 3], [3, 4, 5]], {"num_routes": 3}, "2 routes, the rules ask for 3"),
        ([[0, 1, 2, 3], [3, 4, 5]], {"min_stops": 4}, "route 2: 3 stops (allowed 4 .. 5)"),
        ([[0, 1, 2, 1], [2, 3, 4, 5]], {}, "route 1: a stop repeated"),
        ([[0, 1, 2, 3], [2, 4, 5]], {}, "route 2: no link 3-5"),
        ([[0, 1, 2, 3], [3, 4, 9]], {}, "route 2: a node outside 0 .. 5"),
        ([[0, 1, 2, 3], [2, 3, 4]], {}, "1 node(s) not served: 6"),
        ([[0, 1, 2], [3, 4, 5]], {}, "the route network is not connected"),
        ([[0, 1, 2, 3, 4], [4, 5]], {"max_circuity": 1.5}, "route 1: circuity 2.000 (allowed <= 1.5)"),
        ([[0, 1, 2, 3], [2, 3, 4, 5]], {"max_overlap": 0.2}, "route 1: overlap 0.333 (allowed <= 0.2)"),
    ],
)
def test_each_rule_is_checked(routes: list[list[int]], rules: dict[str, object], expected: str) -> None:
    found = check_route_set(line_problem(**rules), routes)
    assert expected in found, found


def test_check_route_set_reports_every_problem() -> None:
    found = check_route_set(line_problem(num_routes=3), [[0, 1, 0], [2, 3]])
    assert "2 routes, the rules ask for 3" in found and "route 1: a stop repeated" in found
    assert any("not served" in f for f in found)


def test_json_round_trip(tmp_path: Path) -> None:
    p = line_problem()
    rs = validate_route_set(p, [[0, 1, 2, 3], [3, 4, 5]])
    path = write_route_set(tmp_path / "out" / "set.json", p, rs, att_min=1.5)
    body = json.loads(path.read_text())
    assert body["routes"] == [[1, 2, 3, 4], [4, 5, 6]] and body["att_min"] == 1.5 and body["instance"] == "line"
    back = read_route_set(path, p)
    assert [r.tolist() for r in back] == [r.tolist() for r in rs]


def test_text_and_string_ids(tmp_path: Path) -> None:
    p = line_problem()
    text = tmp_path / "set.txt"
    text.write_text("2\n\n1-2-3-4\n 4 - 5 - 6 \n")
    assert [r.tolist() for r in read_route_set(text, p)] == [[0, 1, 2, 3], [3, 4, 5]]
    js = tmp_path / "ids.json"
    js.write_text(json.dumps({"routes": [["1", "2"], [2, 3]]}))
    assert [r.tolist() for r in read_route_set(js, p)] == [[0, 1], [1, 2]]
    bare = tmp_path / "bare.json"
    bare.write_text("[[5, 6]]")
    assert [r.tolist() for r in read_route_set(bare, p)] == [[4, 5]]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.json", '{"routes": [[1, 2], [2, 3]', "not valid JSON (line 1"),
        ("b.json", '{"lines": [[1, 2]]}', 'expected {"routes"'),
        ("c.json", '{"routes": []}', 'expected {"routes"'),
        ("d.json", '{"routes": [[1, 2], 3]}', "routes[1]: expected a list of nodes"),
        ("e.json", '{"routes": [[1, 2], [2, 99]]}', "route 2: node 99 is not in line"),
        ("f.json", '{"routes": [[1, 2], [2, true]]}', "route 2: True is not a node"),
        ("g.json", '{"routes": [[1, 3]]}', "route 1: no link between consecutive stops 1 and 3"),
        ("h.json", '{"routes": [[1]]}', "route 1: has 1 stop"),
        ("i.txt", "1-2-3\n2--4\n", "line 2: expected a route like 1-2-3"),
        ("j.txt", "1-2-3\n3-x\n", "line 2: node 'x' is not in line"),
        ("k.txt", "\n\n", "no routes in the file"),
    ],
)
def test_bad_route_files_give_one_line(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(PlanningFileError) as info:
        read_route_set(path, line_problem())
    text = str(info.value)
    assert "\n" not in text and name in text and expected in text, text


def test_missing_and_binary_route_files(tmp_path: Path) -> None:
    with pytest.raises(PlanningFileError, match="file not found"):
        read_route_set(tmp_path / "none.json", line_problem())
    path = tmp_path / "bin.json"
    path.write_bytes(bytes(range(128, 256)))
    with pytest.raises(PlanningFileError, match="not a text file"):
        read_route_set(path, line_problem())


def test_published_route_sets_file(data_dir: Path, tmp_path: Path) -> None:
    sets = read_published_route_sets(data_dir / "tndp" / "literature" / "mandl_published_route_sets.txt")
    titles = [t for t, _ in sets]
    assert len(titles) == len(set(titles))
    for _title, routes in sets:
        assert routes and all(len(r) >= 2 and min(r) >= 0 and max(r) < 15 for r in routes)
    bad = tmp_path / "sets.txt"
    bad.write_text("Someone (2020)\n2\n1-2-3\n4-x\n")
    with pytest.raises(PlanningFileError, match="line 4: expected a route like 1-2-3"):
        read_published_route_sets(bad)
    bad.write_text("Someone (2020)\nmany\n1-2-3\n")
    with pytest.raises(PlanningFileError, match="line 2: expected the number of routes"):
        read_published_route_sets(bad)
