"""Readers for pickup-and-delivery benchmark instances, returning :class:`~routing.problem.PDProblem`.

Two families of plain-text files are read:

* **Cordeau DARP** (:func:`read_cordeau_darp`). A header ``K f T Q L`` (vehicles, see below,
  maximum route duration, capacity, maximum ride time), then one row per node
  ``id x y service load tw_start tw_end``. Three layouts occur, told apart by the number of
  node rows ``R`` against the header's second field ``f``:

  - ``R == 2f + 2``: Cordeau (2006) "a" instances. ``f`` is the number of requests ``n``;
    node 0 is the start depot, ``1..n`` pickups, ``n+1..2n`` deliveries (``i`` pairs with
    ``n+i``), ``2n+1`` the end depot.
  - ``R == f + 2``: ``f`` is the node count ``2n`` and the file ends with an end-depot row.
  - ``R == f + 1``: ``f`` is ``2n`` and the file has no end-depot row, as in the bundled
    Cordeau & Laporte (2003) instances (``R1a`` ... ``R10b``); the end depot ``2n+1`` is then
    a copy of the start depot (same place and time window, no service, no load).

  The three are never ambiguous for ``f >= 1``; any other row count is an error. Travel
  time and cost are the Euclidean distance; the objective is total cost.

* **Li & Lim PDPTW** (:func:`read_li_lim`). A header ``K Q speed``, then one row per task
  ``id x y demand earliest latest service pickup_id delivery_id``; task 0 is the depot. A
  pickup row has ``pickup_id`` 0 and names its delivery; a delivery row names its pickup.
  Tasks keep their ids and one node ``N`` (the number of tasks) is added: the end depot, a
  copy of the depot. The benchmark's convention (SINTEF) is travel time = Euclidean
  distance. The header's speed is 1 in most bundled files and 0 in ten of them (``lc104``,
  ``lr107``, ...), which cannot be a real speed; 0 is read as the convention's 1. Any other
  positive speed divides the travel times (not the costs), and ``meta["speed"]`` records it.
  The objective is fewest vehicles, then distance.

Nodes keep the file's ids: node ``i`` of the problem is the row with id ``i`` (rows may come
in any order, but the ids must be ``0 .. R-1``, each once). Best-known values come from a
``bks.csv`` in the instance's folder when there is one. Every problem with a file raises
:class:`~routing.errors.NetworkFileError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import InvalidArgumentError, NetworkFileError
from .problem import DELIVERY, END, PICKUP, START, PDProblem

#: Columns of a Cordeau DARP node row.
DARP_COLUMNS = ("id", "x", "y", "service", "load", "tw_start", "tw_end")
#: Fields of a Cordeau DARP header.
DARP_HEADER = ("K (vehicles)", "n or 2n", "T (max route duration)", "Q (capacity)", "L (max ride time)")
#: Columns of a Li & Lim task row.
LI_LIM_COLUMNS = ("id", "x", "y", "demand", "earliest", "latest", "service", "pickup_id", "delivery_id")
#: Fields of a Li & Lim header.
LI_LIM_HEADER = ("K (vehicles)", "Q (capacity)", "speed")
#: Kinds understood by :func:`read_instance`.
INSTANCE_KINDS = ("darp", "pdptw")
#: Name of the best-known-solution table beside the instances.
BKS_FILE = "bks.csv"

_Line = tuple[int, list[str]]  # (1-based line number, whitespace-separated fields)


# ---------------------------------------------------------------------------- generic text parsing
def _read_lines(path: Path) -> list[_Line]:
    """The file's non-blank lines, split on whitespace (spaces, tabs; CRLF endings allowed)."""
    if not path.exists():
        raise NetworkFileError(path, "file not found")
    if path.is_dir():
        raise NetworkFileError(path, "is a folder, expected an instance file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NetworkFileError(path, f"not a text file ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise NetworkFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    lines = [(number, line.split()) for number, line in enumerate(text.splitlines(), start=1)]
    lines = [(number, fields) for number, fields in lines if fields]
    if not lines:
        raise NetworkFileError(path, "file is empty")
    return lines


def _number(path: Path, line: int, token: str, name: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise NetworkFileError(path, f"line {line}: {name} {token!r} is not a number") from None
    if not math.isfinite(value):
        raise NetworkFileError(path, f"line {line}: {name} {token!r} is not a finite number")
    return value


def _integer(path: Path, line: int, value: float, name: str, minimum: int = 0) -> int:
    if value != int(value):
        raise NetworkFileError(path, f"line {line}: {name} must be a whole number, got {value:g}")
    if value < minimum:
        raise NetworkFileError(path, f"line {line}: {name} must be >= {minimum}, got {value:g}")
    return int(value)


def _parse_header(path: Path, line: _Line, names: tuple[str, ...]) -> list[float]:
    number, fields = line
    if len(fields) != len(names):
        raise NetworkFileError(
            path, f"line {number}: header should have {len(names)} fields ({', '.join(names)}), got {len(fields)}"
        )
    return [_number(path, number, token, name) for token, name in zip(fields, names, strict=True)]


def _parse_rows(path: Path, lines: list[_Line], columns: tuple[str, ...]) -> tuple[NDArray[np.float64], list[int]]:
    """The rows as a float array (one column per name), and each row's line number."""
    if not lines:
        raise NetworkFileError(path, "no node rows after the header")
    values = np.empty((len(lines), len(columns)), np.float64)
    for i, (number, fields) in enumerate(lines):
        if len(fields) != len(columns):
            raise NetworkFileError(
                path, f"line {number}: expected {len(columns)} columns ({' '.join(columns)}), got {len(fields)}"
            )
        values[i] = [_number(path, number, token, name) for token, name in zip(fields, columns, strict=True)]
    return values, [number for number, _ in lines]


def _order_by_id(path: Path, rows: NDArray[np.float64], line_of: list[int]) -> NDArray[np.float64]:
    """The rows sorted by their id (column 0); the ids must be ``0 .. len(rows) - 1``, each once."""
    count = rows.shape[0]
    ids = rows[:, 0]
    for i, value in enumerate(ids):
        if value != int(value) or not 0 <= value < count:
            raise NetworkFileError(path, f"line {line_of[i]}: id {value:g} out of range (allowed: 0 .. {count - 1})")
    seen = np.bincount(ids.astype(np.int64), minlength=count)
    if (seen != 1).any():
        twice = np.flatnonzero(seen > 1)
        missing = np.flatnonzero(seen == 0)
        raise NetworkFileError(
            path,
            f"ids must be 0 .. {count - 1}, each once: id {int(twice[0])} appears {int(seen[twice[0]])} times, "
            f"id {int(missing[0])} is missing",
        )
    return rows[np.argsort(ids, kind="stable")]


def euclidean_matrix(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exact Euclidean distances between every pair of points (``np.hypot``)."""
    return np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])


def _read_bks(folder: Path) -> dict[str, dict[str, str]] | None:
    """The rows of ``folder/bks.csv`` by instance name, or ``None`` without such a file."""
    path = folder / BKS_FILE
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "instance" not in reader.fieldnames:
                raise NetworkFileError(path, "expected a header row naming an 'instance' column")
            return {row["instance"].strip(): row for row in reader if row.get("instance")}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NetworkFileError(path, f"not a readable CSV table ({exc})") from exc


def _bks_row(folder: Path, name: str) -> dict[str, str] | None:
    table = _read_bks(folder)
    return None if table is None else table.get(name)


def _bks_number(folder: Path, name: str, row: dict[str, str] | None, column: str) -> float | None:
    """The number in ``column`` of an instance's ``bks.csv`` row (``None`` when absent or blank)."""
    text = ((row or {}).get(column) or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise NetworkFileError(folder / BKS_FILE, f"instance {name}: {column} {text!r} is not a number") from None


# ---------------------------------------------------------------------------- Cordeau DARP
def _darp_layout(path: Path, line: int, field2: int, rows: int) -> tuple[int, bool]:
    """``(n, has_end_row)`` from the header's second field and the number of node rows."""
    if field2 >= 1 and rows == 2 * field2 + 2:
        return field2, True
    if field2 >= 2 and field2 % 2 == 0 and rows == field2 + 2:
        return field2 // 2, True
    if field2 >= 2 and field2 % 2 == 0 and rows == field2 + 1:
        return field2 // 2, False
    expected = f"{2 * field2 + 2} (2n+2 with n = {field2})"
    if field2 % 2 == 0:
        expected += f", {field2 + 2} or {field2 + 1} (2n+2 or 2n+1 with 2n = {field2})"
    raise NetworkFileError(
        path,
        f"line {line}: the header's second field is {field2} but the file has {rows} node rows; expected {expected}",
    )


def _darp_header(path: Path, line: _Line) -> tuple[int, int, float, int, float]:
    k, field2, duration, capacity, ride = _parse_header(path, line, DARP_HEADER)
    number = line[0]
    for value, name in ((duration, "T (max route duration)"), (ride, "L (max ride time)")):
        if value < 0:
            raise NetworkFileError(path, f"line {number}: {name} must be >= 0, got {value:g}")
    return (
        _integer(path, number, k, "K (vehicles)", minimum=1),
        _integer(path, number, field2, "n or 2n", minimum=1),
        duration,
        _integer(path, number, capacity, "Q (capacity)"),
        ride,
    )


def _with_end_depot(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    """The rows and one more: a copy of row 0 (the start depot) with the next id, no service and no load."""
    end = rows[0].copy()
    end[0] = rows.shape[0]
    end[3] = 0.0  # service
    end[4] = 0.0  # load
    return np.vstack([rows, end])


_Floats = NDArray[np.float64]


def _check_windows_and_service(path: Path, ids: _Floats, early: _Floats, late: _Floats, service: _Floats) -> None:
    bad = np.flatnonzero(late < early)
    if bad.size:
        i = int(bad[0])
        raise NetworkFileError(
            path, f"node {int(ids[i])}: time window closes ({late[i]:g}) before it opens ({early[i]:g})"
        )
    bad = np.flatnonzero(service < 0)
    if bad.size:
        i = int(bad[0])
        raise NetworkFileError(path, f"node {int(ids[i])}: service duration {service[i]:g} is negative (allowed: >= 0)")


def _check_darp_loads(path: Path, load: NDArray[np.float64], n: int, layout: str) -> NDArray[np.int64]:
    if (load != np.round(load)).any():
        node = int(np.flatnonzero(load != np.round(load))[0])
        raise NetworkFileError(path, f"node {node}: load {load[node]:g} must be a whole number")
    for depot in (0, 2 * n + 1):
        if load[depot] != 0:
            raise NetworkFileError(path, f"depot node {depot}: load must be 0, got {load[depot]:g}")
    for i in range(1, n + 1):
        if load[i] < 0:
            raise NetworkFileError(path, f"pickup node {i}: load {load[i]:g} is negative (allowed: >= 0)")
        if load[i] + load[n + i] != 0:
            raise NetworkFileError(
                path,
                f"pickup node {i} loads {load[i]:g} but its delivery node {n + i} unloads {-load[n + i]:g}"
                f" (its load should be {-load[i]:g}; rows read as {layout})",
            )
    return load.astype(np.int64)


def read_cordeau_darp(path: str | Path) -> PDProblem:
    """Read a Cordeau (2006) or Cordeau & Laporte (2003) DARP instance (see the module docstring).

    Node ``i`` is the file's row ``i``: 0 the start depot, ``1..n`` pickups, ``n+1..2n``
    deliveries, ``2n+1`` the end depot. ``K`` vehicles share the depots, with capacity ``Q``
    and maximum route duration ``T``; every request has maximum ride time ``L``.
    """
    p = Path(path)
    lines = _read_lines(p)
    k, field2, duration, capacity, ride = _darp_header(p, lines[0])
    rows, line_of = _parse_rows(p, lines[1:], DARP_COLUMNS)
    n, has_end_row = _darp_layout(p, lines[0][0], field2, rows.shape[0])
    rows = _order_by_id(p, rows, line_of)
    if not has_end_row:
        rows = _with_end_depot(rows)
    ids, x, y, service, load, early, late = rows.T
    _check_windows_and_service(p, ids, early, late, service)
    layout = (
        f"header n = {n}, 2n+2 rows" if field2 == n else f"header 2n = {field2}, {2 * n + 1 + int(has_end_row)} rows"
    )
    demand = _check_darp_loads(p, load, n, layout)
    kind = np.array([START] + [PICKUP] * n + [DELIVERY] * n + [END], np.int8)
    distance = euclidean_matrix(x, y)
    meta: dict[str, Any] = {
        "source": str(p),
        "format": "cordeau-darp",
        "bks": _bks_number(p.parent, p.stem, _bks_row(p.parent, p.stem), "obj_val"),
        "layout": layout,
        "end_depot": "from the file" if has_end_row else "copy of the start depot (the file has no end-depot row)",
    }
    return PDProblem.create(
        name=p.stem,
        kind=kind,
        tw_early=early,
        tw_late=late,
        service=service,
        demand=demand,
        pickup=np.arange(1, n + 1),
        delivery=np.arange(n + 1, 2 * n + 1),
        vehicle_start=np.zeros(k, np.int32),
        vehicle_end=np.full(k, 2 * n + 1, np.int32),
        capacity=np.full((k, 1), capacity, np.int64),
        travel_time=distance,
        travel_cost=distance,
        max_ride=np.full(n, ride),
        max_duration=np.full(k, duration),
        objective="cost",
        meta=meta,
    )


# ---------------------------------------------------------------------------- Li & Lim PDPTW
def _li_lim_header(path: Path, line: _Line) -> tuple[int, int, float]:
    k, capacity, speed = _parse_header(path, line, LI_LIM_HEADER)
    if speed < 0:
        raise NetworkFileError(path, f"line {line[0]}: speed must be >= 0 (0 read as 1), got {speed:g}")
    return (
        _integer(path, line[0], k, "K (vehicles)", minimum=1),
        _integer(path, line[0], capacity, "Q (capacity)"),
        speed,
    )


def _li_lim_pairs(path: Path, pick_of: NDArray[np.int64], deli_of: NDArray[np.int64]) -> tuple[list[int], list[int]]:
    """Pickup and delivery task ids of every request, in order of pickup id; checks the links both ways."""
    count = pick_of.shape[0]
    if pick_of[0] != 0 or deli_of[0] != 0:
        raise NetworkFileError(path, "task 0 (the depot) must have pickup_id 0 and delivery_id 0")
    pickups: list[int] = []
    deliveries: list[int] = []
    for task in range(1, count):
        p, d = int(pick_of[task]), int(deli_of[task])
        if (p == 0) == (d == 0):
            raise NetworkFileError(
                path,
                f"task {task}: pickup_id {p} and delivery_id {d}; exactly one must be 0 "
                "(a pickup names its delivery, a delivery names its pickup)",
            )
        partner = d if p == 0 else p
        if not 1 <= partner < count:
            field = "delivery_id" if p == 0 else "pickup_id"
            raise NetworkFileError(path, f"task {task}: {field} {partner} out of range (allowed: 1 .. {count - 1})")
        back = pick_of[partner] if p == 0 else deli_of[partner]
        if back != task:
            role, other = ("pickup", "pickup_id") if p == 0 else ("delivery", "delivery_id")
            raise NetworkFileError(
                path,
                f"{role} task {task} names task {partner}, but task {partner} has {other} {int(back)} (not {task})",
            )
        if p == 0:
            pickups.append(task)
            deliveries.append(d)
    return pickups, deliveries


def _check_li_lim_demand(path: Path, demand: NDArray[np.float64], pickups: list[int], deliveries: list[int]) -> None:
    if (demand != np.round(demand)).any():
        task = int(np.flatnonzero(demand != np.round(demand))[0])
        raise NetworkFileError(path, f"task {task}: demand {demand[task]:g} must be a whole number")
    if demand[0] != 0:
        raise NetworkFileError(path, f"task 0 (the depot): demand must be 0, got {demand[0]:g}")
    for p, d in zip(pickups, deliveries, strict=True):
        if demand[p] < 0:
            raise NetworkFileError(path, f"pickup task {p}: demand {demand[p]:g} is negative (allowed: >= 0)")
        if demand[p] + demand[d] != 0:
            raise NetworkFileError(
                path, f"pickup task {p} loads {demand[p]:g} but its delivery task {d} unloads {-demand[d]:g}"
            )


def _li_lim_meta(path: Path, speed: float) -> dict[str, Any]:
    row = _bks_row(path.parent, path.stem)
    vehicles = _bks_number(path.parent, path.stem, row, "vehicles")
    meta: dict[str, Any] = {
        "source": str(path),
        "format": "li-lim",
        "bks_vehicles": None if vehicles is None else int(vehicles),
        "bks_distance": _bks_number(path.parent, path.stem, row, "distance"),
        "bks_source": ((row or {}).get("source") or "").strip() or None,
        "speed": speed,
    }
    if speed == 0:
        meta["speed_note"] = "header speed 0 read as 1 (benchmark convention: travel time = distance)"
    elif speed != 1:
        meta["speed_note"] = f"travel times are distances divided by the header speed {speed:g}; costs are distances"
    return meta


def read_li_lim(path: str | Path) -> PDProblem:
    """Read a Li & Lim PDPTW instance (see the module docstring).

    Node ``i`` is task ``i`` (0 the depot, the start of every vehicle) and node ``N`` (the
    number of tasks) the end depot, a copy of the depot. Requests are ordered by pickup id.
    """
    p = Path(path)
    lines = _read_lines(p)
    k, capacity, speed = _li_lim_header(p, lines[0])
    rows, line_of = _parse_rows(p, lines[1:], LI_LIM_COLUMNS)
    rows = _order_by_id(p, rows, line_of)
    ids, x, y, demand, early, late, service, pick_of, deli_of = rows.T
    _check_windows_and_service(p, ids, early, late, service)
    for column, name in ((pick_of, "pickup_id"), (deli_of, "delivery_id")):
        bad = np.flatnonzero(column != np.round(column))
        if bad.size:
            raise NetworkFileError(p, f"task {int(bad[0])}: {name} {column[bad[0]]:g} must be a whole number")
    pickups, deliveries = _li_lim_pairs(p, pick_of.astype(np.int64), deli_of.astype(np.int64))
    _check_li_lim_demand(p, demand, pickups, deliveries)
    count = rows.shape[0]
    kind = np.full(count + 1, PICKUP, np.int8)
    kind[0], kind[count] = START, END
    kind[deliveries] = DELIVERY
    xs, ys = np.append(x, x[0]), np.append(y, y[0])
    distance = euclidean_matrix(xs, ys)
    travel_time = distance / speed if speed not in (0.0, 1.0) else distance
    return PDProblem.create(
        name=p.stem,
        kind=kind,
        tw_early=np.append(early, early[0]),
        tw_late=np.append(late, late[0]),
        service=np.append(service, 0.0),
        demand=np.append(demand, 0.0).astype(np.int64),
        pickup=pickups,
        delivery=deliveries,
        vehicle_start=np.zeros(k, np.int32),
        vehicle_end=np.full(k, count, np.int32),
        capacity=np.full((k, 1), capacity, np.int64),
        travel_time=travel_time,
        travel_cost=distance,
        objective="vehicles",
        meta=_li_lim_meta(p, speed),
    )


# ---------------------------------------------------------------------------- dispatch
def _guess_kind(path: Path) -> str:
    lines = _read_lines(path)
    columns = len(lines[1][1]) if len(lines) > 1 else 0
    header = len(lines[0][1])
    if (columns, header) == (len(DARP_COLUMNS), len(DARP_HEADER)):
        return "darp"
    if (columns, header) == (len(LI_LIM_COLUMNS), len(LI_LIM_HEADER)):
        return "pdptw"
    raise NetworkFileError(
        path,
        f"cannot tell the format: a header of {header} fields and node rows of {columns} columns; expected "
        f"{len(DARP_HEADER)} and {len(DARP_COLUMNS)} (Cordeau DARP) or {len(LI_LIM_HEADER)} and "
        f"{len(LI_LIM_COLUMNS)} (Li & Lim PDPTW)",
    )


def read_instance(path: str | Path, kind: str | None = None) -> PDProblem:
    """Read a DARP (``kind="darp"``) or PDPTW (``kind="pdptw"``) instance; ``None`` guesses from the content."""
    if kind is not None and kind not in INSTANCE_KINDS:
        raise InvalidArgumentError("kind", f"unknown instance kind {kind!r}", "'darp', 'pdptw' or None (guess)")
    p = Path(path)
    chosen = kind if kind is not None else _guess_kind(p)
    return read_cordeau_darp(p) if chosen == "darp" else read_li_lim(p)


def _natural_key(path: Path) -> list[Any]:
    """Sort key that orders ``lc1_4_2`` before ``lc1_4_10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path.name)]


#: Files in an instance folder that are not instances.
_NOT_INSTANCES = (".csv", ".md", ".json", ".pdf")


def iter_instances(folder: str | Path) -> Iterator[Path]:
    """The instance files of a folder in natural order (``a2-16`` before ``a2-20``, ``x_2`` before ``x_10``).

    Skips ``bks.csv`` and other tables, notes and hidden files; does not descend into sub-folders.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NetworkFileError(root, "folder not found" if not root.exists() else "not a folder")
    files = [
        entry
        for entry in root.iterdir()
        if entry.is_file()
        and not entry.name.startswith(".")
        and entry.suffix.lower() not in _NOT_INSTANCES
        and not entry.name.lower().startswith("readme")
    ]
    yield from sorted(files, key=_natural_key)
