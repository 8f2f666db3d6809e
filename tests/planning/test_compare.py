"""Before and after: route matching by hand on a small network, and Mandl's published sets compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from planning import RouteRules, TransitProblem, read_cec, read_published_route_sets
from planning.compare import compare_networks, overlap, route_links
from planning.errors import InvalidArgumentError
from planning.evaluate import Evaluator
from planning.frequencies import set_frequencies

INF = np.inf


def grid() -> TransitProblem:
    """0-1-2-3 along a street (2, 3, 2.5 min), 1-4 a side street (4 min), 4-5 (1 min) beyond it."""
    t = np.full((6, 6), INF)
    for a, b, m in [(0, 1, 2.0), (1, 2, 3.0), (2, 3, 2.5), (1, 4, 4.0), (4, 5, 1.0)]:
        t[a, b] = t[b, a] = m
    d = np.ones((6, 6))
    return TransitProblem("grid", t, d, np.arange(6.0), np.zeros(6), RouteRules(num_routes=3))


@pytest.fixture(scope="module")
def mandl(data_dir: Path) -> TransitProblem:
    return read_cec(data_dir / "tndp" / "Mandl")


@pytest.fixture(scope="module")
def mandl_sets(data_dir: Path) -> list[list[list[int]]]:
    sets = read_published_route_sets(data_dir / "tndp" / "literature" / "mandl_published_route_sets.txt")
    return [rs for _, rs in sets if len(rs) == 6]


def test_overlap_by_hand() -> None:
    p = grid()
    a = route_links(p, np.array([4, 1, 2]))
    b = route_links(p, np.array([0, 1, 2, 3]))
    # shared 1-2 (3 min) over 4 + 3 + 2 + 2.5 minutes of links
    assert overlap(a, b) == pytest.approx(3 / 11.5)
    assert overlap(b, a) == overlap(a, b)
    assert overlap(a, a) == 1.0
    assert overlap(a, route_links(p, np.array([2, 3]))) == 0.0


def test_classes_by_hand() -> None:
    p = grid()
    before = [[0, 1, 2, 3], [1, 4], [4, 5]]
    after = [[3, 2, 1, 0], [2, 1, 4], [0, 1, 4]]
    # 3-2-1-0 is route 1 reversed: kept. 2-1-4 shares 1-4 (4 of 7 minutes) with old route 2,
    # 0-1-4 shares it too (4 of 6 minutes): one to one, 0-1-4 takes route 2 and 2-1-4 is new
    c = compare_networks(p, before, after, before_headway_min=[10, 20, 30], after_headway_min=[10, 10, 10])
    assert [(m.status, m.before) for m in c.matches] == [("kept", 0), ("new", -1), ("partly changed", 1)]
    assert [m.overlap for m in c.matches] == pytest.approx([1.0, 4 / 7, 4 / 6])
    assert c.abolished == (2,)
    assert c.count("new") == 1 and c.count("kept") == 1 and c.count("partly changed") == 1
    # Incheon's balance: old routes - abolished = kept + partly changed = new routes - new
    assert 3 - len(c.abolished) == c.count("kept") + c.count("partly changed") == 3 - c.count("new")
    assert c.before.mean_headway_min == pytest.approx(20.0)
    assert c.after.mean_headway_min == pytest.approx(10.0)
    # many to one: both take route 2
    loose = compare_networks(p, before, after, one_to_one=False)
    assert [(m.status, m.before) for m in loose.matches] == [("kept", 0), ("partly changed", 1), ("partly changed", 1)]
    assert loose.abolished == (2,)
    strict = compare_networks(p, before, after, changed_threshold=0.7)
    assert [m.status for m in strict.matches] == ["kept", "new", "new"]
    assert strict.abolished == (1, 2)
    assert strict.before.mean_headway_min is None and strict.after.att_with_wait_min is None


def test_identical_pairs_are_kept_first() -> None:
    p = grid()
    # 0-1-2 and 1-2-3 both overlap the old 0-1-2-3 (5 and 5.5 of 7.5 minutes); 0-1-2 is kept as
    # the old 0-1-2, so 1-2-3 takes 0-1-2-3; 5-4-1 is 1-4-5 reversed
    before = [[0, 1, 2, 3], [0, 1, 2], [1, 4, 5]]
    after = [[0, 1, 2], [1, 2, 3], [5, 4, 1]]
    c = compare_networks(p, before, after)
    assert [(m.status, m.before) for m in c.matches] == [("kept", 1), ("partly changed", 0), ("kept", 2)]
    assert c.abolished == ()


def test_mandl_before_after(mandl: TransitProblem, mandl_sets) -> None:
    before, after = mandl_sets[0], mandl_sets[-1]
    ev = Evaluator(mandl)
    c = compare_networks(mandl, before, after, fleet=36, evaluator=ev)
    n = len(after)
    assert c.count("new") + c.count("kept") + c.count("partly changed") == n
    matched = {m.before for m in c.matches if m.status != "new"}
    assert set(c.abolished) == set(range(len(before))) - matched
    assert len(before) - len(c.abolished) == len(matched) == n - c.count("new")  # one to one
    for side, routes in ((c.before, before), (c.after, after)):
        f = set_frequencies(mandl, routes, fleet=36)
        assert side.evaluation.att_min == pytest.approx(f.att_min)
        assert side.att_with_wait_min == pytest.approx(f.att_with_wait_min)
        assert side.mean_headway_min == pytest.approx(float(f.headway_min.mean()))
        assert side.att_with_wait_min > side.evaluation.att_min
    rows = c.table()
    assert rows[0] == ["", "before", "after"] and len(rows) == 14
    assert rows[1] == ["routes", "6", "6"]
    assert all(len(r) == 3 for r in rows)
    md = c.markdown()
    assert md.count("\n") == len(rows) + 1
    d = c.to_dict()
    assert d["routes_new"] + d["routes_kept"] + d["routes_partly_changed"] == n
    assert d["before"]["att_min_without_wait"] == c.before.evaluation.att_min


def test_same_network_is_all_kept(mandl: TransitProblem, mandl_sets) -> None:
    rs = mandl_sets[1]
    c = compare_networks(mandl, rs, [r[::-1] for r in rs])
    assert c.count("kept") == len(rs) and c.abolished == ()
    assert all(m.overlap == 1.0 for m in c.matches)
    assert c.before.evaluation.att_min == pytest.approx(c.after.evaluation.att_min)


def test_bad_arguments(mandl: TransitProblem, mandl_sets) -> None:
    rs = mandl_sets[0]
    with pytest.raises(InvalidArgumentError, match=r"^before_headway_min: got 2 headways for 6 routes"):
        compare_networks(mandl, rs, rs, before_headway_min=[10, 10])
    with pytest.raises(InvalidArgumentError, match=r"^after_headway_min: has a headway <= 0"):
        compare_networks(mandl, rs, rs, after_headway_min=[10, 10, 0, 10, 10, 10])
    with pytest.raises(InvalidArgumentError, match=r"^changed_threshold"):
        compare_networks(mandl, rs, rs, changed_threshold=0)
    with pytest.raises(InvalidArgumentError, match=r"^layover: is not an option of compare_networks"):
        compare_networks(mandl, rs, rs, fleet=30, layover=3.0)
    with pytest.raises(InvalidArgumentError, match=r"^evaluator"):
        compare_networks(mandl, rs, rs, evaluator=Evaluator(grid()))


def test_unknown_headways_are_left_out() -> None:
    p = grid()
    before = [[0, 1, 2, 3], [1, 4], [4, 5]]
    c = compare_networks(p, before, before, before_headway_min=[10, np.nan, 30], after_headway_min=[10, 20, 30])
    assert c.before.mean_headway_min == pytest.approx(20.0)
    assert c.before.att_with_wait_min is None and c.after.att_with_wait_min is not None
    assert c.table()[8][0].startswith("ATT with waiting") and c.table()[8][1] == "—"
