"""Reading a city's stops and its tables: a stops CSV, a GTFS feed's ``stops.txt``.

Stops are a :class:`StopTable`: an id, a position (WGS84) and a name per stop. They come from

* a **CSV** file with a header row; the columns are found by name (case and surrounding spaces
  ignored; the first alias present wins):

  ========  ==============================================================================
  id        ``stop_id``, ``id``, ``stop``, ``stop_code``, ``code``, ``ars_id``, ``정류소id``,
            ``정류장id``, ``정류소번호``
  lat       ``lat``, ``latitude``, ``stop_lat``, ``y``, ``위도``
  lon       ``lon``, ``lng``, ``long``, ``longitude``, ``stop_lon``, ``x``, ``경도``
  name      (optional) ``name``, ``stop_name``, ``정류소명``, ``정류장명``
  ========  ==============================================================================

  separated by commas, semicolons, tabs or ``|`` (told from the header line), encoded in UTF-8
  (with or without a byte-order mark) or CP949 (Korean exports); ``#`` lines and blank lines are
  skipped. Ids must be unique; coordinates are decimal degrees.
* a **GTFS** feed (a ``.zip`` or a folder holding ``stops.txt``): its ``stops.txt`` alone is
  read, with gtfs-kit; its stops and boarding platforms (``location_type`` 0 or empty) are
  kept, stations, entrances and other nodes skipped.

Any problem is a :class:`~planning.errors.PlanningFileError` naming the file and the line.
:func:`read_csv_table` is the CSV reader of this room (also used for OD tables).
"""

from __future__ import annotations

import csv
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from routing.stop_files import StopFileError, read_stops_gtfs

from .errors import PlanningFileError

__all__ = [
    "CsvTable",
    "StopTable",
    "is_gtfs",
    "read_csv_table",
    "read_gtfs_stops",
    "read_stops",
    "read_stops_csv",
]

STOP_ID_COLUMNS = ("stop_id", "id", "stop", "stop_code", "code", "ars_id", "정류소id", "정류장id", "정류소번호")
LAT_COLUMNS = ("lat", "latitude", "stop_lat", "y", "위도")
LON_COLUMNS = ("lon", "lng", "long", "longitude", "stop_lon", "x", "경도")
NAME_COLUMNS = ("name", "stop_name", "정류소명", "정류장명")

#: Encodings tried in turn for CSV files.
ENCODINGS = ("utf-8-sig", "cp949")


@dataclass(frozen=True, eq=False)
class StopTable:
    """Stops as arrays: ``ids[i]`` (unique), ``lat[i]``, ``lon[i]`` (degrees), ``names[i]`` ("" if none)."""

    ids: tuple[str, ...]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    names: tuple[str, ...]
    #: where they came from, in words
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: NDArray[np.bool_]) -> StopTable:
        """The stops where ``keep`` is true, in order."""
        idx = np.flatnonzero(keep)
        return StopTable(
            ids=tuple(self.ids[i] for i in idx),
            lat=self.lat[idx],
            lon=self.lon[idx],
            names=tuple(self.names[i] for i in idx),
            source=self.source,
        )


@dataclass(frozen=True)
class CsvTable:
    """A CSV file's header (lower-cased, stripped) and rows, with the file line of each row."""

    path: Path
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]

    def column(self, aliases: Sequence[str], what: str, *, required: bool = True) -> int:
        """The index of the first of ``aliases`` in the header (-1 if none and not ``required``)."""
        for name in aliases:
            if name in self.header:
                return self.header.index(name)
        if required:
            raise PlanningFileError(
                self.path,
                f"no {what} column (one of {', '.join(aliases[:6])}, ...); the header is: {', '.join(self.header)}",
            )
        return -1

    def number(self, line: int, row: tuple[str, ...], col: int, what: str) -> float:
        """The number in column ``col`` of a row (finite), or a one-line error naming the line."""
        text = row[col].strip() if col < len(row) else ""
        try:
            value = float(text)
        except ValueError:
            raise PlanningFileError(self.path, f"line {line}: {what} {text!r} is not a number") from None
        if not math.isfinite(value):
            raise PlanningFileError(self.path, f"line {line}: {what} {text!r} is not a finite number")
        return value


def _read_text(path: Path) -> str:
    if not path.exists():
        raise PlanningFileError(path, "file not found")
    if path.is_dir():
        raise PlanningFileError(path, "is a folder, not a CSV file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlanningFileError(path, exc.strerror or "cannot be read") from None
    if b"\x00" in data[:4096]:
        raise PlanningFileError(path, "not a text file (binary content)")
    for enc in ENCODINGS:
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise PlanningFileError(path, f"not a text file in {' or '.join(ENCODINGS)}")


def read_csv_table(path: str | Path, what: str = "CSV") -> CsvTable:
    """A delimited text file with a header row (see the module docstring for the dialect)."""
    p = Path(path)
    text = _read_text(p)
    lines = [(k + 1, line) for k, line in enumerate(text.splitlines()) if line.strip() and not line.startswith("#")]
    if not lines:
        raise PlanningFileError(p, f"empty file (expected a {what} with a header row)")
    first = lines[0][1]
    delimiter = max(",;\t|", key=first.count)
    if first.count(delimiter) == 0:
        raise PlanningFileError(p, f"line {lines[0][0]}: the header has one column; a {what} needs several")
    reader = csv.reader((line for _, line in lines), delimiter=delimiter)
    parsed: list[tuple[int, tuple[str, ...]]] = []
    try:
        for (number, _), fields in zip(lines, reader, strict=False):
            parsed.append((number, tuple(fields)))
    except csv.Error as exc:
        raise PlanningFileError(p, f"not a readable {what} ({exc})") from None
    header = tuple(h.strip().lower() for h in parsed[0][1])
    width = len(header)
    rows: list[tuple[int, tuple[str, ...]]] = []
    for number, row in parsed[1:]:
        if len(row) < width:
            raise PlanningFileError(p, f"line {number}: {len(row)} fields, the header has {width}")
        rows.append((number, row))
    return CsvTable(path=p, header=header, rows=tuple(rows))


def _check_positions(path: Path, ids: Sequence[str], lat: NDArray[np.float64], lon: NDArray[np.float64]) -> None:
    bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        hint = "; are the latitude and longitude swapped?" if abs(lon[k]) <= 90 < abs(lat[k]) <= 180 else ""
        raise PlanningFileError(
            path,
            f"stop {ids[k]!r}: ({lat[k]}, {lon[k]}) is not a latitude/longitude in degrees (-90..90, -180..180){hint}",
        )


def read_stops_csv(path: str | Path) -> StopTable:
    """Stops from a CSV file (columns as in the module docstring)."""
    table = read_csv_table(path, "stops CSV")
    p = table.path
    c_id = table.column(STOP_ID_COLUMNS, "stop id")
    c_lat = table.column(LAT_COLUMNS, "latitude")
    c_lon = table.column(LON_COLUMNS, "longitude")
    c_name = table.column(NAME_COLUMNS, "name", required=False)
    ids: list[str] = []
    names: list[str] = []
    lat = np.empty(len(table.rows), np.float64)
    lon = np.empty(len(table.rows), np.float64)
    seen: dict[str, int] = {}
    for k, (line, row) in enumerate(table.rows):
        sid = row[c_id].strip()
        if not sid:
            raise PlanningFileError(p, f"line {line}: empty stop id")
        if sid in seen:
            raise PlanningFileError(p, f"line {line}: stop id {sid!r} repeats line {seen[sid]}")
        seen[sid] = line
        ids.append(sid)
        lat[k] = table.number(line, row, c_lat, "latitude")
        lon[k] = table.number(line, row, c_lon, "longitude")
        names.append(row[c_name].strip() if c_name >= 0 else "")
    if not ids:
        raise PlanningFileError(p, "no stops (only a header row)")
    _check_positions(p, ids, lat, lon)
    return StopTable(tuple(ids), lat, lon, tuple(names), source=f"{len(ids)} stops from {p.name}")


def is_gtfs(path: str | Path) -> bool:
    """Whether ``path`` looks like a GTFS feed: a folder with ``stops.txt`` or a zip holding one."""
    p = Path(path)
    if p.is_dir():
        return (p / "stops.txt").is_file()
    if p.is_file() and zipfile.is_zipfile(p):
        try:
            with zipfile.ZipFile(p) as z:
                return any(Path(n).name == "stops.txt" for n in z.namelist())
        except (zipfile.BadZipFile, OSError):
            return False
    return False


def read_gtfs_stops(path: str | Path) -> StopTable:
    """The stops and platforms of a GTFS feed (zip or folder), read with gtfs-kit."""
    p = Path(path)
    if not p.exists():
        raise PlanningFileError(p, "GTFS feed not found")
    if not is_gtfs(p):
        raise PlanningFileError(p, "not a GTFS feed (a .zip or a folder with stops.txt)")
    try:  # one reader of GTFS stops for every room (routing.stop_files), its errors in this room's words
        points = read_stops_gtfs(p)
    except StopFileError as exc:
        raise PlanningFileError(p, exc.reason) from None
    ids, names, lat, lon = points.ids, points.names, points.lat, points.lon
    return StopTable(ids, lat, lon, names, source=f"{len(ids)} stops from the GTFS feed {p.name}")


def read_stops(path: str | Path) -> StopTable:
    """Stops from a GTFS feed (zip or folder with ``stops.txt``) or else a CSV file."""
    p = Path(path)
    if not p.exists():
        raise PlanningFileError(p, "stops file not found")
    if is_gtfs(p):
        return read_gtfs_stops(p)
    if p.is_dir():
        raise PlanningFileError(p, "a folder without stops.txt (expected a GTFS feed or a stops CSV)")
    if zipfile.is_zipfile(p):
        raise PlanningFileError(p, "a zip without stops.txt (expected a GTFS feed)")
    return read_stops_csv(p)
