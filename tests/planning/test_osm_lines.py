"""Existing bus lines from OSM route relations (planning.osm_lines).

A hand-made OSM XML file (tests/planning/data/bus_lines.osm) on a 2 x 3 grid of planning nodes
whose answers are worked out by hand in the file's comments; the bundled Helsinki extract (its
161 bus route relations) through the bundled planning spec scenarios/plan_helsinki.toml.
"""

from __future__ import annotations

import bz2
import dataclasses
import itertools
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from planning import PlanningFileError, RouteRules, TransitProblem, check_route_set, validate_route_set
from planning.city import CityBuild, load_city
from planning.errors import InvalidArgumentError
from planning.osm_lines import ExistingLines, parse_headway_min, read_osm_bus_lines

DATA = Path(__file__).parent / "data"
LINES = DATA / "bus_lines.osm"
REPO = Path(__file__).resolve().parents[2]
NAMES = "ABCDEF"


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text.strip() == text and text
    return text


@pytest.fixture(scope="module")
def grid() -> TransitProblem:
    """A (0) B (1) C (2) along 60.000 N, D E F 0.005 degrees north; links along the rows and
    columns, with times that make every shortest path unique."""
    lat = np.array([60.0, 60.0, 60.0, 60.005, 60.005, 60.005])
    lon = np.array([24.0, 24.01, 24.02, 24.0, 24.01, 24.02])
    t = np.full((6, 6), np.inf)
    for a, b, w in [(0, 1, 2), (1, 2, 2), (3, 4, 2.5), (4, 5, 2.5), (0, 3, 3), (1, 4, 3), (2, 5, 4)]:
        t[a, b] = t[b, a] = w
    return TransitProblem(
        "grid", t, np.ones((6, 6)), x=(lon - 24) * 55_660, y=(lat - 60) * 111_320,
        rules=RouteRules(num_routes=2), node_ids=tuple(NAMES), lat=lat, lon=lon,
    )  # fmt: skip


def by_ref(lines: ExistingLines) -> dict[str, str]:
    return {ref or name: "".join(NAMES[v] for v in r) for ref, name, r in zip(lines.refs, lines.names, lines.routes,
                                                                               strict=True)}  # fmt: skip


def runnable(problem: TransitProblem, lines: ExistingLines) -> bool:
    """Every route passes validate_route_set and, checked here with plain loops, runs over links
    both ways without visiting a node twice."""
    validate_route_set(problem, lines.routes)
    t = problem.link_time_min
    for r in lines.routes:
        nodes = r.tolist()
        assert len(nodes) >= 2 and len(set(nodes)) == len(nodes)
        assert all(math.isfinite(t[a, b]) and math.isfinite(t[b, a]) for a, b in itertools.pairwise(nodes))
    return True


def test_hand_made_lines(grid: TransitProblem) -> None:
    said: list[str] = []
    lines = read_osm_bus_lines(LINES, grid, progress=said.append)
    # the tram (409) is not read; 11 bus relations
    assert lines.relations_read == 11
    assert by_ref(lines) == {
        "7": "ABCF",  # both directions: the commonest pattern, oriented as the first relation
        "9": "DEF",  # no stops: its ways D-E and E-F (listed from F)
        "11": "ABC",  # A and C are not linked: the shortest path joins them
        "13": "ABC",  # A B E B C: the loop B E B is cut
        "14": "ABED",  # the ring A B E D A loses its closing visit
        "Shuttle": "AD",  # no ref: a line of its own, named by its name
        "16": "EDA",  # no stops; its first way runs backwards
        "18": "BC",  # role-less members tagged as bus stops; the untagged node 205 is not a stop
    }
    assert lines.dropped == ("12 Far away",) and lines.num_dropped == 1
    assert lines.geometry_variants == 2
    assert lines.relations[0] == (401, 402, 403)
    assert lines.names[:2] == ("7 West-East", "9 Dale–Fen")
    # line 7's kept pattern is run by 401 (interval 10) and 402 (busiest period 8 min; "off" and
    # the conditional 5 min ignored); 403's 5 min runs another pattern
    assert lines.headway_min[0] == 8.0
    assert math.isnan(lines.headway_min[1])
    assert runnable(grid, lines)
    assert any("12 Far away" in s for s in said) and any("8 lines kept" in s for s in said)
    assert "8 bus lines of bus_lines.osm" in lines.source


def test_a_tighter_snap_loses_far_points(grid: TransitProblem) -> None:
    """Line 9's way nodes 202 and 204 lie 222 m from D and F; within 100 m only its ends at
    nodes D, E and F snap, so it keeps D E F; line 16's 207 (223 m from D) is skipped too."""
    lines = read_osm_bus_lines(LINES, grid, max_snap_m=100)
    assert by_ref(lines)["9"] == "DEF" and by_ref(lines)["16"] == "EDA"
    # the grid moved a degree north: nothing within reach, every line is dropped
    assert grid.lat is not None
    moved = dataclasses.replace(grid, lat=grid.lat + 1.0)
    with pytest.raises(PlanningFileError) as exc:
        read_osm_bus_lines(LINES, moved)
    assert "none of its 9 bus lines" in one_line(exc)


def test_city_stops_map_by_their_osm_id(grid: TransitProblem) -> None:
    """With a city build, a stop that is one of the city's stops (same id and position) goes to
    the node holding it: stop 102 (at B) held by node E makes line 18 (B C) run E B C."""
    city = SimpleNamespace(
        problem=grid,
        stop_node=np.array([4]),
        stops=SimpleNamespace(ids=("102",), lat=np.array([60.0001]), lon=np.array([24.0100])),
    )
    assert by_ref(read_osm_bus_lines(LINES, grid))["18"] == "BC"
    assert by_ref(read_osm_bus_lines(LINES, city))["18"] == "EBC"
    # a city stop "102" elsewhere (a CSV's id, not the OSM node) does not capture the OSM stop
    elsewhere = SimpleNamespace(
        problem=grid,
        stop_node=np.array([4]),
        stops=SimpleNamespace(ids=("102",), lat=np.array([60.0051]), lon=np.array([24.0100])),
    )
    assert by_ref(read_osm_bus_lines(LINES, elsewhere))["18"] == "BC"


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("10", 10.0), ("7.5 min", 7.5), ("00:08", 8.0), ("1:05", 65.0), ("00:10:30", 10.5), ("off", math.nan),
     ("0", math.nan), ("10-15", math.nan)],
)  # fmt: skip
def test_headway_values(text: str, minutes: float) -> None:
    got = parse_headway_min(text)
    assert got == minutes or (math.isnan(got) and math.isnan(minutes))


def test_bad_inputs_are_one_line(grid: TransitProblem, tmp_path: Path) -> None:
    no_bus = tmp_path / "tram.osm"
    no_bus.write_text(
        '<osm version="0.6"><node id="1" lat="60" lon="24"/><relation id="2"><member type="node" ref="1" '
        'role="stop"/><tag k="type" v="route"/><tag k="route" v="tram"/></relation></osm>'
    )
    with pytest.raises(PlanningFileError) as exc:
        read_osm_bus_lines(no_bus, grid)
    assert str(no_bus) in one_line(exc) and "no bus route relations" in one_line(exc)
    with pytest.raises(PlanningFileError) as exc:
        read_osm_bus_lines(tmp_path / "missing.osm", grid)
    assert "file not found" in one_line(exc)
    garbage = tmp_path / "garbage.osm"
    garbage.write_text("this is not OSM\n")
    with pytest.raises(PlanningFileError) as exc:
        read_osm_bus_lines(garbage, grid)
    assert "unrecognised format" in one_line(exc)
    broken = tmp_path / "broken.osm"
    broken.write_text(LINES.read_text()[:2000])
    with pytest.raises(PlanningFileError) as exc:
        read_osm_bus_lines(broken, grid)
    assert str(broken) in one_line(exc)
    with pytest.raises(InvalidArgumentError) as exc:
        read_osm_bus_lines(LINES, grid, max_snap_m=0)
    assert "max_snap_m" in one_line(exc)
    no_coords = TransitProblem("plain", grid.link_time_min, grid.demand, grid.x, grid.y, grid.rules)
    with pytest.raises(InvalidArgumentError) as exc:
        read_osm_bus_lines(LINES, no_coords)
    assert "latitude/longitude" in one_line(exc)


def test_compressed_xml_reads_the_same(grid: TransitProblem, tmp_path: Path) -> None:
    packed = tmp_path / "lines.osm.bz2"
    packed.write_bytes(bz2.compress(LINES.read_bytes()))
    renamed = tmp_path / "lines.xml"
    shutil.copy(LINES, renamed)
    assert by_ref(read_osm_bus_lines(packed, grid)) == by_ref(read_osm_bus_lines(renamed, grid))


@pytest.fixture(scope="module")
def helsinki(data_dir: Path, helsinki_net: object) -> CityBuild:
    return load_city(REPO / "scenarios" / "plan_helsinki.toml", data_dir=data_dir)


def test_helsinki_lines(helsinki: CityBuild, data_dir: Path) -> None:
    problem = helsinki.problem
    lines = read_osm_bus_lines(data_dir / "osm" / "helsinki.osm.pbf", helsinki)
    assert lines.relations_read == 161
    assert len(lines) >= 20 and len(lines) + lines.num_dropped <= 161
    assert runnable(problem, lines)
    refs = [r for r in lines.refs if r]
    assert all(lines.names) and len(set(refs)) == len(refs)  # one route per ref
    assert {"75", "18N", "24"} <= set(lines.refs)
    assert sum(np.isfinite(lines.headway_min)) >= 5 and (lines.headway_min[np.isfinite(lines.headway_min)] > 0).all()
    # the spec's rule: as many routes as distinct stop sequences of the existing lines
    patterns = {min(tuple(r.tolist()), tuple(r[::-1].tolist())) for r in lines.routes}
    assert problem.rules.num_routes == len(patterns)
    # they break the design rules (more routes than 16, nodes unserved), as the check says
    assert check_route_set(problem, lines.routes)


def test_helsinki_spec_has_feasible_designs(helsinki: CityBuild) -> None:
    """The spec's rules can be met: set cover finds a feasible set within a second or two."""
    from planning.candidates import candidate_routes
    from planning.setcover import set_cover

    problem = helsinki.problem
    assert problem.connected and "synthetic gravity model" in problem.source
    found = set_cover(problem, candidate_routes(problem, max_routes=400), time_limit_s=1.5)
    assert found and check_route_set(problem, found[0]) == []


def test_lines_on_the_same_stops_merge(grid: TransitProblem) -> None:
    lines = read_osm_bus_lines(LINES, grid)
    merged = lines.merge_same_stops()
    # lines 11 and 13 both run A B C; the others stay as they are, in order
    assert [by_ref(lines)[k] for k in ("7", "9", "11", "14", "Shuttle", "16", "18")] == [
        "".join(NAMES[v] for v in r) for r in merged.routes
    ]
    assert merged.refs[2] == "11, 13" and merged.relations[2] == (405, 407)
    assert merged.headway_min[0] == 8.0 and math.isnan(merged.headway_min[2])
    assert merged.dropped == lines.dropped and "8 lines on 7 distinct stop sequences" in merged.source
    # tagged headways combine as frequencies add: 10 and 15 minutes -> 6 minutes
    both = dataclasses.replace(lines, headway_min=np.where(np.arange(len(lines)) == 2, 10.0, 15.0))
    assert both.merge_same_stops().headway_min[2] == pytest.approx(6.0)


# ---------------------------------------------------------------------------- mobility plan report --before
def test_report_before_osm(
    helsinki: CityBuild, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The existing network against itself (lines on the same stops merged): every route kept."""
    from mobility.cli import main
    from planning import write_route_set

    monkeypatch.setenv("MOBILITY_DATA_DIR", str(data_dir))
    lines = read_osm_bus_lines(data_dir / "osm" / "helsinki.osm.pbf", helsinki).merge_same_stops()
    routes = write_route_set(tmp_path / "existing.json", helsinki.problem, lines.routes)
    out = tmp_path / "report"
    spec = str(REPO / "scenarios" / "plan_helsinki.toml")
    code = main(["plan", "report", spec, str(routes), "--before", "osm", "--fleet", "40", "--out", str(out)])
    assert code == 1  # the existing lines break the design rules (nodes unserved)
    record = json.loads((out / "before_after.json").read_text())
    assert record["routes_kept"] == len(lines) and record["routes_new"] == record["routes_abolished"] == 0
    assert record["before_lines"]["source"] == lines.source
    assert (out / "before.png").stat().st_size > 0
    assert "83 lines on 16 distinct stop sequences" in (out / "before_after.md").read_text()


def test_report_before_osm_needs_a_city(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mobility.cli import main

    mandl = data_dir / "tndp" / "Mandl"
    routes = tmp_path / "r.txt"
    routes.write_text("1-2-3\n")
    for before, words in [("osm", "not a city planning spec"), (str(tmp_path / "gone.osm"), "not found")]:
        assert main(["plan", "report", str(mandl), str(routes), "--before", before, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err
