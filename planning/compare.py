"""Before and after: a redesigned route set against an existing one, in the form of Incheon's
2020 table (routes before -> after; new, abolished, kept, partly changed; mean headway; average
travel time).

Matching. Two routes *overlap* by the time-weighted share of their links they run together:
the time of the links (undirected) both routes use, over the time of the links either uses
(a Jaccard index weighted by link time; 1 for the same links, 0 for none in common). A new
route and its matched old route are

* **kept**: the same stop sequence, or the same reversed;
* **partly changed**: otherwise; a match needs an overlap of at least ``changed_threshold``
  (default 0.5: they share at least half of their combined length).

A new route with no match is **new**; an old route that no new route matches is
**abolished**. By default (``one_to_one=True``) each old route is matched to at most one new
route: the pairs are chosen (an assignment, scipy's ``linear_sum_assignment``) to keep every
identical pair and then to maximise the sum of the overlaps of the other pairs, as Incheon's
table counts (197 - 24 abolished = 173 = 90 kept + 83 partly changed = 205 - 32 new), so a route
split in two is one partly changed route and one new route. With ``one_to_one=False`` each new
route is matched to the old route it overlaps most (an identical one first; ties: the first
old route), several new routes may share one old route, and both halves of a split count as
partly changed. ``overlap`` in :class:`RouteMatch` is the pair's, or for a new route its best
overlap with any old route.

Headways: given per route (``before_headway_min`` / ``after_headway_min``, e.g. read from a
feed), else set for ``fleet`` vehicles by :func:`planning.set_frequencies` (the same fleet for
both networks); with neither, the headway rows and the ATT with waiting are left empty. The mean
headway is the plain mean over routes. ATT is the benchmark's (in-vehicle time plus transfer
penalties) and, with headways, the same plus the mean wait per trip (half a headway per
boarding).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError
from .evaluate import Evaluation, Evaluator
from .frequencies import Frequencies, set_frequencies, wait_min_per_trip
from .problem import TransitProblem
from .routeset import RouteSet, validate_route_set

_FREQUENCY_OPTIONS = frozenset(
    {"layover_min", "min_headway_min", "max_headway_min", "peak_hour_share", "vehicle_capacity"}
)

KEPT = "kept"
PARTLY_CHANGED = "partly changed"
NEW = "new"


@dataclass(frozen=True)
class RouteMatch:
    """One new route and the old route it was matched to (``before`` = -1 for a new route)."""

    after: int
    before: int
    overlap: float
    status: str


@dataclass(frozen=True)
class NetworkSide:
    """One network's figures: its evaluation and, when known, its headways and waiting."""

    evaluation: Evaluation
    headway_min: NDArray[np.float64] | None
    wait_min_per_trip: float | None

    @property
    def num_routes(self) -> int:
        return int(self.evaluation.route_time_min.size)

    @property
    def mean_headway_min(self) -> float | None:
        if self.headway_min is None:
            return None
        return float(np.nanmean(self.headway_min)) if np.isfinite(self.headway_min).any() else None

    @property
    def att_with_wait_min(self) -> float | None:
        return None if self.wait_min_per_trip is None else self.evaluation.att_min + self.wait_min_per_trip

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "routes": self.num_routes,
            "mean_headway_min": self.mean_headway_min,
            "att_min_without_wait": ev.att_min,
            "att_min_with_wait": self.att_with_wait_min,
            "wait_min_per_trip": self.wait_min_per_trip,
            "trt_min": ev.trt_min,
            "d0": ev.d0,
            "d1": ev.d1,
            "d2": ev.d2,
            "dun": ev.dun,
            "unserved": ev.unserved,
            "headway_min": None if self.headway_min is None else [float(h) for h in self.headway_min],
        }


@dataclass(frozen=True)
class NetworkComparison:
    """The before/after comparison (see the module docstring)."""

    before: NetworkSide
    after: NetworkSide
    matches: tuple[RouteMatch, ...]
    abolished: tuple[int, ...]
    changed_threshold: float
    one_to_one: bool = True

    def count(self, status: str) -> int:
        """How many new routes have ``status`` (``"kept"``, ``"partly changed"``, ``"new"``)."""
        return sum(1 for m in self.matches if m.status == status)

    def table(self) -> list[list[str]]:
        """Rows for a Markdown table: a header ``["", "before", "after"]``, then routes, new,
        abolished, kept, partly changed, mean headway, ATT with and without waiting, TRT, the
        shares of trips with 0, 1, 2 transfers and unserved."""

        def minutes(v: float | None) -> str:
            return "—" if v is None or not math.isfinite(v) else f"{v:.2f}"

        def pct(v: float) -> str:
            return f"{100 * v:.1f} %"

        b, a = self.before, self.after
        bev, aev = b.evaluation, a.evaluation
        return [
            ["", "before", "after"],
            ["routes", str(b.num_routes), str(a.num_routes)],
            ["new routes", "", str(self.count(NEW))],
            ["abolished routes", str(len(self.abolished)), ""],
            ["kept routes", "", str(self.count(KEPT))],
            [f"partly changed routes (overlap >= {self.changed_threshold:g})", "", str(self.count(PARTLY_CHANGED))],
            ["mean headway (min)", minutes(b.mean_headway_min), minutes(a.mean_headway_min)],
            ["ATT without waiting (min; in vehicle + transfer penalty)", minutes(bev.att_min), minutes(aev.att_min)],
            ["ATT with waiting (min; + half a headway per boarding)", minutes(b.att_with_wait_min),
             minutes(a.att_with_wait_min)],
            ["TRT (min; sum of one-way route times)", minutes(bev.trt_min), minutes(aev.trt_min)],
            ["trips with no transfer", pct(bev.d0), pct(aev.d0)],
            ["trips with 1 transfer", pct(bev.d1), pct(aev.d1)],
            ["trips with 2 transfers", pct(bev.d2), pct(aev.d2)],
            ["trips unserved or with more transfers", pct(bev.dun), pct(aev.dun)],
        ]  # fmt: skip

    def markdown(self) -> str:
        """:meth:`table` as a Markdown table."""
        rows = self.table()
        lines = ["| " + " | ".join(rows[0]) + " |", "|---|---:|---:|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
            "routes_new": self.count(NEW),
            "routes_abolished": len(self.abolished),
            "routes_kept": self.count(KEPT),
            "routes_partly_changed": self.count(PARTLY_CHANGED),
            "changed_threshold": self.changed_threshold,
            "one_to_one": self.one_to_one,
            "matches": [
                {
                    "after_route": m.after + 1,
                    "before_route": None if m.before < 0 else m.before + 1,
                    "overlap": m.overlap,
                    "status": m.status,
                }
                for m in self.matches
            ],
            "abolished_before_routes": [k + 1 for k in self.abolished],
        }


def route_links(problem: TransitProblem, route: NDArray[Any]) -> dict[tuple[int, int], float]:
    """The route's undirected links ``(i, j)``, ``i < j``, with their time (the mean of both directions)."""
    t = problem.link_time_min
    out: dict[tuple[int, int], float] = {}
    for a, b in zip(route[:-1].tolist(), route[1:].tolist(), strict=True):
        key = (a, b) if a < b else (b, a)
        out[key] = (float(t[a, b]) + float(t[b, a])) / 2.0
    return out


def overlap(links_a: dict[tuple[int, int], float], links_b: dict[tuple[int, int], float]) -> float:
    """Time of the links both routes use over the time of the links either uses (0..1)."""
    shared = sum(w for k, w in links_a.items() if k in links_b)
    union = sum(links_a.values()) + sum(w for k, w in links_b.items() if k not in links_a)
    return shared / union if union > 0 else 0.0


def match_routes(
    problem: TransitProblem,
    before: RouteSet,
    after: RouteSet,
    *,
    changed_threshold: float = 0.5,
    one_to_one: bool = True,
) -> tuple[tuple[RouteMatch, ...], tuple[int, ...]]:
    """Each new route's match and class, and the abolished old routes (see the module docstring)."""
    old = [route_links(problem, r) for r in before]
    score = np.array([[overlap(route_links(problem, r), o) for o in old] for r in after], np.float64)
    same = np.array(
        [[r.tolist() in (o.tolist(), o[::-1].tolist()) for o in before] for r in after], dtype=bool
    ).reshape(score.shape)
    pair: dict[int, int] = {}
    if one_to_one:
        from scipy.optimize import linear_sum_assignment

        weight = np.where(same, 3.0, np.where(score >= changed_threshold, score, 0.0))
        rows, cols = linear_sum_assignment(weight, maximize=True)
        pair = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if weight[r, c] > 0}
    else:
        for k in range(len(after)):
            if same[k].any():
                pair[k] = int(np.argmax(same[k]))
            elif len(before) and score[k].max() >= changed_threshold:
                pair[k] = int(np.argmax(score[k]))
    matches: list[RouteMatch] = []
    for k in range(len(after)):
        if k in pair:
            j = pair[k]
            matches.append(RouteMatch(k, j, float(score[k, j]), KEPT if same[k, j] else PARTLY_CHANGED))
        else:
            matches.append(RouteMatch(k, -1, float(score[k].max()) if len(before) else 0.0, NEW))
    used = set(pair.values())
    abolished = tuple(j for j in range(len(before)) if j not in used)
    return tuple(matches), abolished


def _side(
    problem: TransitProblem,
    routes: RouteSet,
    evaluator: Evaluator,
    headway: NDArray[Any] | Sequence[float] | None,
    fleet: int | None,
    field: str,
    frequency_options: dict[str, Any],
) -> NetworkSide:
    ev = evaluator.evaluate(routes, loads=True)
    if headway is not None:
        h = np.asarray(headway, np.float64).reshape(-1)
        if h.size != len(routes):
            raise InvalidArgumentError(field, f"got {h.size} headways for {len(routes)} routes", "one per route")
        if (h[np.isfinite(h)] <= 0).any():
            raise InvalidArgumentError(field, "has a headway <= 0", "> 0 minutes (NaN: unknown)")
        wait = wait_min_per_trip(problem, ev, h) if np.isfinite(h).all() else None
        return NetworkSide(ev, h, wait)
    if fleet is not None:
        f: Frequencies = set_frequencies(problem, routes, fleet=fleet, evaluation=ev, **frequency_options)
        return NetworkSide(ev, f.headway_min, f.wait_min_per_trip)
    return NetworkSide(ev, None, None)


def compare_networks(
    problem: TransitProblem,
    before: RouteSet | Sequence[Sequence[int]],
    after: RouteSet | Sequence[Sequence[int]],
    *,
    fleet: int | None = None,
    before_headway_min: NDArray[Any] | Sequence[float] | None = None,
    after_headway_min: NDArray[Any] | Sequence[float] | None = None,
    changed_threshold: float = 0.5,
    one_to_one: bool = True,
    evaluator: Evaluator | None = None,
    **frequency_options: Any,
) -> NetworkComparison:
    """Compare an existing route set (``before``) with a new one (``after``) on ``problem``
    (see the module docstring). ``frequency_options`` go to :func:`planning.set_frequencies`
    (``layover_min``, ``min_headway_min``, ``max_headway_min``, ...) when headways are set
    from ``fleet``. A before-network headway of NaN (unknown, e.g. a route with one trip a day)
    leaves its mean out of that route and its ATT with waiting empty."""
    unknown = sorted(set(frequency_options) - _FREQUENCY_OPTIONS)
    if unknown:
        raise InvalidArgumentError(unknown[0], "is not an option of compare_networks",
                                   ", ".join(sorted(_FREQUENCY_OPTIONS)) + " (for set_frequencies)")  # fmt: skip
    rs_before = validate_route_set(problem, before)
    rs_after = validate_route_set(problem, after)
    if isinstance(changed_threshold, bool) or not isinstance(changed_threshold, int | float):
        raise InvalidArgumentError("changed_threshold", f"got {changed_threshold!r}", "0 < threshold <= 1")
    if not 0.0 < changed_threshold <= 1.0:
        raise InvalidArgumentError("changed_threshold", f"got {changed_threshold!r}", "0 < threshold <= 1")
    if evaluator is not None and evaluator.problem is not problem:
        raise InvalidArgumentError(
            "evaluator", f"scores {evaluator.problem.name!r}", f"an Evaluator of {problem.name!r}"
        )
    ev = evaluator if evaluator is not None else Evaluator(problem)
    side_b = _side(problem, rs_before, ev, before_headway_min, fleet, "before_headway_min", frequency_options)
    side_a = _side(problem, rs_after, ev, after_headway_min, fleet, "after_headway_min", frequency_options)
    matches, abolished = match_routes(
        problem, rs_before, rs_after, changed_threshold=float(changed_threshold), one_to_one=bool(one_to_one)
    )
    return NetworkComparison(side_b, side_a, matches, abolished, float(changed_threshold), bool(one_to_one))
