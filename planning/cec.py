"""Reading the CEC-2013 transit network design benchmark (Mumford 2013) and its route sets.

An instance folder holds three whitespace-separated text files (any names ending so):

* ``*TravelTimes.txt``: ``n`` rows of ``n`` link times in minutes, ``Inf`` where no link;
* ``*Demand.txt``: ``n`` rows of ``n`` trips per day;
* ``*Coords.txt``: optionally a first line with ``n``, then ``x y`` per node.

Blank lines are ignored. The published instances' rules (route counts, route-length bounds in
nodes, the lower bounds on the average travel time, the best published passenger-side results)
are in :data:`CEC_INSTANCES`, keyed by the folder's instance name; any other folder of this
format reads too, with the rules given by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import PlanningFileError
from .problem import RouteRules, TransitProblem


@dataclass(frozen=True)
class CecInstance:
    """The benchmark's rules for one instance and the published reference values.

    ``best_att`` is the best published passenger-side ATT (minutes) with its source;
    ``lower_bound_att`` the lower bound of the benchmark notes (every trip on its shortest path
    with no transfer)."""

    name: str
    num_routes: int
    min_stops: int
    max_stops: int
    lower_bound_att: float
    best_att: float
    best_source: str


#: Mumford's CEC-2013 notes (route counts and lengths, lower bounds) and the best published
#: passenger-side ATT (Ahmed et al. 2019; Mandl at 6 routes).
CEC_INSTANCES: dict[str, CecInstance] = {
    "mandl": CecInstance("Mandl", 6, 2, 8, 10.0058, 10.18, "Ahmed et al. (2019)"),
    "mumford0": CecInstance("Mumford0", 12, 2, 15, 13.0121, 14.09, "Ahmed et al. (2019)"),
    "mumford1": CecInstance("Mumford1", 15, 10, 30, 19.2695, 21.69, "Ahmed et al. (2019)"),
    "mumford2": CecInstance("Mumford2", 56, 10, 22, 22.1842, math.nan, ""),
    "mumford3": CecInstance("Mumford3", 60, 12, 25, 24.7453, 28.05, "Ahmed et al. (2019)"),
}


def find_cec_files(folder: str | Path) -> tuple[Path, Path, Path | None]:
    """The travel-time, demand and (optional) coordinates files of an instance folder."""
    d = Path(folder)
    if not d.exists():
        raise PlanningFileError(d, "folder not found")
    if not d.is_dir():
        raise PlanningFileError(d, "not a folder (an instance folder holds *TravelTimes.txt, *Demand.txt, *Coords.txt)")

    def one(suffix: str, required: bool) -> Path | None:
        hits = sorted(p for p in d.iterdir() if p.name.lower().endswith(suffix.lower()) and p.is_file())
        if not hits:
            if required:
                raise PlanningFileError(d, f"no *{suffix} file in the folder")
            return None
        if len(hits) > 1:
            raise PlanningFileError(d, f"more than one *{suffix} file: {', '.join(p.name for p in hits)}")
        return hits[0]

    times = one("TravelTimes.txt", True)
    demand = one("Demand.txt", True)
    assert times is not None and demand is not None
    return times, demand, one("Coords.txt", False)


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise PlanningFileError(path, "not a text file") from None
    except OSError as exc:
        raise PlanningFileError(path, exc.strerror or "cannot be read") from None
    return [(k + 1, line.split()) for k, line in enumerate(text.splitlines()) if line.strip()]


def _number(path: Path, line: int, token: str, *, allow_inf: bool) -> float:
    low = token.lower()
    if low in ("inf", "+inf", "infinity"):
        if allow_inf:
            return math.inf
        raise PlanningFileError(path, f"line {line}: 'Inf' is not allowed here")
    try:
        v = float(token)
    except ValueError:
        raise PlanningFileError(path, f"line {line}: {token!r} is not a number") from None
    if math.isnan(v):
        raise PlanningFileError(path, f"line {line}: NaN is not allowed")
    return v


def _where(path: Path, row: int, col: int) -> str:
    """``line L, column C`` of a matrix entry (rows are the file's non-blank lines)."""
    return f"line {_rows(path)[row][0]}, column {col + 1}"


def read_matrix(path: str | Path, *, allow_inf: bool, n: int | None = None) -> NDArray[np.float64]:
    """A square matrix from a whitespace-separated file (one row per non-blank line)."""
    p = Path(path)
    rows = _rows(p)
    if not rows:
        raise PlanningFileError(p, "empty file")
    size = len(rows) if n is None else n
    if len(rows) != size:
        raise PlanningFileError(p, f"{len(rows)} rows, expected {size}")
    out = np.empty((size, size), np.float64)
    for r, (line, tokens) in enumerate(rows):
        if len(tokens) != size:
            raise PlanningFileError(p, f"line {line}: {len(tokens)} values, expected {size} (a square matrix)")
        for c, tok in enumerate(tokens):
            out[r, c] = _number(p, line, tok, allow_inf=allow_inf)
    return out


def read_coords(path: str | Path, n: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``x``, ``y`` per node; a first line holding only ``n`` is skipped."""
    p = Path(path)
    rows = _rows(p)
    if rows and len(rows[0][1]) == 1:
        line, (tok,) = rows[0]
        if _number(p, line, tok, allow_inf=False) != n:
            raise PlanningFileError(p, f"line {line}: says {tok} nodes, the matrices have {n}")
        rows = rows[1:]
    if len(rows) != n:
        raise PlanningFileError(p, f"{len(rows)} coordinate lines, expected {n}")
    xy = np.empty((n, 2), np.float64)
    for k, (line, tokens) in enumerate(rows):
        if len(tokens) != 2:
            raise PlanningFileError(p, f"line {line}: {len(tokens)} values, expected 2 (x y)")
        xy[k] = [_number(p, line, t, allow_inf=False) for t in tokens]
    return xy[:, 0].copy(), xy[:, 1].copy()


def cec_instance(folder: str | Path) -> CecInstance | None:
    """The published rules of the instance in ``folder`` (by its name), or ``None``."""
    return CEC_INSTANCES.get(Path(folder).name.lower())


def read_cec(folder: str | Path, *, rules: RouteRules | None = None, **rule_changes: Any) -> TransitProblem:
    """The instance in ``folder`` (see the module docstring) as a :class:`TransitProblem`.

    ``rules`` default to the benchmark's for a published instance (:data:`CEC_INSTANCES`); for
    another folder they are required. ``rule_changes`` (``num_routes=...``, ``min_stops=...``,
    ...) override single rules."""
    times_path, demand_path, coords_path = find_cec_files(folder)
    times = read_matrix(times_path, allow_inf=True)
    n = times.shape[0]
    if n < 2:
        raise PlanningFileError(times_path, "fewer than 2 nodes")
    demand = read_matrix(demand_path, allow_inf=False, n=n)
    if (demand < 0).any():
        r, c = np.argwhere(demand < 0)[0]
        where = _where(demand_path, int(r), int(c))
        raise PlanningFileError(demand_path, f"{where}: negative demand {demand[r, c]:g} (allowed >= 0)")
    off = ~np.eye(n, dtype=bool)
    bad = off & np.isfinite(times) & (times <= 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        where = _where(times_path, int(r), int(c))
        raise PlanningFileError(times_path, f"{where}: link time {times[r, c]:g}, a link time must be > 0 (or Inf)")
    if coords_path is not None:
        x, y = read_coords(coords_path, n)
    else:  # no coordinates: nodes on a circle, for maps only
        a = 2 * np.pi * np.arange(n) / n
        x, y = np.cos(a), np.sin(a)
    known = cec_instance(folder)
    reference: dict[str, float] = {}
    if rules is None:
        if known is not None:
            rules = RouteRules(num_routes=known.num_routes, min_stops=known.min_stops, max_stops=known.max_stops)
        elif "num_routes" in rule_changes:
            rules = RouteRules(num_routes=rule_changes.pop("num_routes"))
        else:
            from .errors import InvalidArgumentError

            raise InvalidArgumentError(
                "num_routes", f"not given, and {Path(folder).name!r} is not a published instance",
                "give the number of routes (and the stops per route) for this instance",
            )  # fmt: skip
    if rule_changes:
        from dataclasses import replace

        rules = replace(rules, **rule_changes)
    if known is not None:
        reference = {"lower_bound_att": known.lower_bound_att}
        if not math.isnan(known.best_att):
            reference["best_published_att"] = known.best_att
    name = known.name if known is not None else Path(folder).name
    problem = TransitProblem(
        name=name,
        link_time_min=times,
        demand=demand,
        x=x,
        y=y,
        rules=rules,
        source=f"CEC-2013 files in {Path(folder)}",
        reference=reference,
    )
    return problem
