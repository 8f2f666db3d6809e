"""Replay of a simulated day from its run folder, for the dashboard (``mobility dashboard --run DIR``).

:class:`ReplayDay` reads the folder ``mobility simulate`` wrote (an I-MOD day: :mod:`sim.report`;
a shared-taxi day: :mod:`sim.taxi_kpi`) once, into NumPy arrays sorted by time, and answers
"what did the service look like at time t" in the shapes of :mod:`dashboard.protocol`;
:class:`ReplaySource` plays it to each connected page with the page's own clock.

Files read: ``summary.json``, ``rides.csv``, ``drives.csv``, ``tracks.geojson`` (every drive's
line along the streets), ``vehicles.csv`` (I-MOD: seats, depot stop and shift; taxi: seats,
start place and shift; a taxi day without it: the taxis that drove, of the day's capacity),
``stops.geojson`` (I-MOD), and when present ``visits.csv`` (I-MOD: the stops served, for
``dwelling``; without it no vehicle is shown dwelling), ``streets.geojson`` (the base map;
without it the streets the vehicles drove are drawn instead) and ``zone.geojson``. This module
reads the files only: the dashboard imports neither the simulator nor the engine.

How the day is reconstructed:

* a vehicle on a drive moves along the drive's track (the polyline of ``tracks.geojson``) at a
  uniform speed, by distance, from ``depart_s`` to ``arrive_s``; between drives it stands where
  its last drive ended (before its first drive: at its depot stop, or its start place);
* its state: ``with_riders`` on a drive with riders on board; ``to_pickup`` on an empty drive
  toward a pickup (I-MOD: the vehicle picks someone up, or finds a no-show, where the drive
  ends; taxi: the drive's kind ``empty``); ``dwelling`` while it serves a stop (I-MOD:
  ``visits.csv``, from arrival to departure; taxi: ``dwell_s`` from each pickup and drop-off);
  otherwise ``off_shift`` outside its shift and ``idle`` within it (an empty drive to the depot
  or rebalancing is ``idle``, as the engine's state is);
* a ride is open from its submission until its drop-off, cancellation, no-show or rejection
  (I-MOD rides are decided on submission; a taxi ride waits, ``matching``, until the batch that
  assigned or rejected it). The files keep each ride's last vehicle only, so a ride moved to
  another vehicle shows on its last one from the start. An I-MOD no-show's time is not written:
  it is taken as when the vehicle, having reached the pickup, could serve it (its first arrival
  there after the booking, or the promised window's start if later);
* KPIs are recounted from what had happened by ``t`` (:meth:`ReplayDay.kpis_at`); at the end of
  the day they agree with ``summary.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gc
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from . import protocol
from .source import Client

log = logging.getLogger(__name__)

#: States (indices into :data:`protocol.VEHICLE_STATES`).
IDLE, TO_PICKUP, WITH_RIDERS, DWELLING, OFF_SHIFT = range(5)

#: Seconds between two frames of a playing replay (wall clock).
FRAME_S = 0.25
#: Events sent with a frame at most (the most recent ones) and on connecting or seeking.
EVENTS_PER_FRAME = 200
#: Points of the KPI history sent on connecting or seeking, at most.
KPI_HISTORY_POINTS = 240

_TIME_KEY = np.int64(1 << 32)  # composite keys vehicle * _TIME_KEY + time (times < 2^31)
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0

_EVENT_INDEX = {kind: k for k, kind in enumerate(protocol.EVENT_KINDS)}

#: A ride's status while it is open (:data:`protocol.RIDE_FIELDS`).
RIDE_STATUSES = ("matching", "assigned", "on_board")


class ReplayError(ValueError):
    """A run folder that cannot be replayed: the message names the file and what is wrong."""


# ---------------------------------------------------------------------------------- reading
def _read_json(path: Path, folder: Path) -> Any:
    if not path.is_file():
        raise ReplayError(f"{folder}: no {path.name}")
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ReplayError(f"{path}: not JSON ({exc})") from None


def _read_csv(path: Path, folder: Path, needed: tuple[str, ...]) -> dict[str, list[str]]:
    """The columns of a CSV file by name (strings); ``needed`` must all be there."""
    if not path.is_file():
        raise ReplayError(f"{folder}: no {path.name}")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise ReplayError(f"{path}: empty (no header line)")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ReplayError(f"{path}: not a CSV file ({exc})") from None
    missing = [c for c in needed if c not in header]
    if missing:
        raise ReplayError(f"{path}: no column {', '.join(missing)} (has {', '.join(header[:12])})")
    for k, row in enumerate(rows):
        if len(row) != len(header):
            raise ReplayError(f"{path} line {k + 2}: {len(row)} values, the header has {len(header)}")
    return {name: [row[j] for row in rows] for j, name in enumerate(header)}


def _ints(cols: dict[str, list[str]], name: str, path: Path, *, empty: int = -1) -> NDArray[np.int64]:
    values = cols[name]
    out = np.empty(len(values), np.int64)
    for k, v in enumerate(values):
        if v == "":
            out[k] = empty
            continue
        try:
            out[k] = int(v)
        except ValueError:
            try:
                f = float(v)
            except ValueError:
                f = math.nan
            if not math.isfinite(f) or f != int(f):
                raise ReplayError(f"{path} line {k + 2}: {name} {v!r} is not a whole number") from None
            out[k] = int(f)
    return out


def _floats(cols: dict[str, list[str]], name: str, path: Path) -> NDArray[np.float64]:
    try:
        return np.array([float(v) if v != "" else math.nan for v in cols[name]], np.float64)
    except ValueError:
        bad = next(k for k, v in enumerate(cols[name]) if v != "" and not _is_float(v))
        raise ReplayError(f"{path} line {bad + 2}: {name} {cols[name][bad]!r} is not a number") from None


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _features(doc: Any, path: Path, geometry: str) -> list[tuple[list[Any], dict[str, Any]]]:
    """The (coordinates, properties) of a FeatureCollection's features of one geometry type."""
    if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
        raise ReplayError(f"{path}: not a GeoJSON FeatureCollection")
    out = []
    for k, f in enumerate(doc["features"]):
        geom = f.get("geometry") if isinstance(f, dict) else None
        if geom is None:
            continue
        if not isinstance(geom, dict) or geom.get("type") != geometry or not isinstance(geom.get("coordinates"), list):
            raise ReplayError(f"{path}: feature {k} is not a {geometry}")
        props = f.get("properties")
        out.append((geom["coordinates"], props if isinstance(props, dict) else {}))
    return out


def _lines(coords: list[list[Any]], path: Path) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """LineStrings' ``[lon, lat]`` points -> lat, lon, offsets."""
    counts = np.array([len(c) for c in coords], np.int64)
    offsets = np.zeros(len(coords) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    try:
        pts = np.array([p for c in coords for p in c], np.float64).reshape(-1, 2)
    except (ValueError, TypeError):
        raise ReplayError(f"{path}: a LineString whose points are not [lon, lat] pairs") from None
    if pts.shape[0] != offsets[-1] or not np.all(np.isfinite(pts)):
        raise ReplayError(f"{path}: a LineString whose points are not [lon, lat] pairs")
    return pts[:, 1].copy(), pts[:, 0].copy(), offsets


def _grouped_key(group: NDArray[np.int64], time: NDArray[np.int64]) -> NDArray[np.int64]:
    return group.astype(np.int64) * _TIME_KEY + time.astype(np.int64)


def _last_at_or_before(keys: NDArray[np.int64], group: NDArray[np.int64], t: int, first: NDArray[np.int64]) -> Any:
    """Per group ``g``: the index of the last row of ``g`` whose time is ``<= t`` in ``keys``
    (sorted composite keys), or -1; ``first[g]`` is the index of ``g``'s first row."""
    pos = np.searchsorted(keys, group * _TIME_KEY + np.int64(t), side="right") - 1
    return np.where(pos >= first[group], pos, -1)


# ---------------------------------------------------------------------------------- the day
@dataclass
class _Rides:
    ids: list[str]
    vehicle: NDArray[np.int64]  # index into the fleet, -1 none
    passengers: NDArray[np.int64]
    submitted_s: NDArray[np.int64]
    requested_s: NDArray[np.int64]
    open_s: NDArray[np.int64]  # when it opened (submission)
    assigned_s: NDArray[np.int64]  # when a vehicle was promised (-1 never)
    pickup_s: NDArray[np.int64]  # boarding (-1 never)
    dropoff_s: NDArray[np.int64]
    end_s: NDArray[np.int64]  # when it stopped being open (a huge value: open at the end)
    window: NDArray[np.int64]  # [n, 2] promised pickup window
    latest_dropoff_s: NDArray[np.int64]  # -1 unknown
    planned_pickup_s: NDArray[np.int64]  # -1 unknown
    origin: NDArray[np.float64]  # [n, 2] lat, lon (NaN unknown)
    destination: NDArray[np.float64]
    origin_stop: NDArray[np.int64]
    destination_stop: NDArray[np.int64]
    shared: NDArray[np.bool_]
    outcome: list[str]  # completed, rejected, cancelled, no_show, open
    reason: list[str]
    rejected_s: NDArray[np.int64]
    cancelled_s: NDArray[np.int64]
    no_show_s: NDArray[np.int64]


@dataclass
class _Events:
    time_s: NDArray[np.int64]
    kind: NDArray[np.int64]  # index into protocol.EVENT_KINDS
    ride: NDArray[np.int64]
    vehicle: NDArray[np.int64]
    detail: list[str] = field(default_factory=list)


class ReplayDay:
    """One simulated day, loaded from its run folder and indexed for replay (module docstring).

    Attributes: ``folder``, ``title`` (the scenario's name), ``service`` (what the service is, in
    words), ``kind`` ("imod" or "taxi"), ``start_s`` / ``end_s`` (the replayed period: the day's,
    stretched to its last drive), ``vehicle_ids``. Build it with :meth:`open`.
    """

    folder: Path
    title: str
    service: str
    kind: str
    start_s: int
    end_s: int
    vehicle_ids: list[str]
    _summary: dict[str, Any]
    _params: dict[str, Any]

    # ------------------------------------------------------------------ loading
    @classmethod
    def open(cls, folder: str | Path) -> ReplayDay:
        """Load ``folder``; raises :class:`ReplayError` naming the file and the fault."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ReplayError(f"{folder}: no such run folder")
        # the GeoJSON of a big day is millions of small lists: without the cycle collector, which
        # would walk them again and again while they are made, it loads about eight times faster
        collecting = gc.isenabled()
        gc.disable()
        try:
            return cls._load(folder)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ReplayError):
                raise
            # a fault the checks above did not foresee: still one line, naming the folder
            raise ReplayError(
                f"{folder}: a file of this run folder is malformed ({type(exc).__name__}: {exc})"
            ) from exc
        finally:
            if collecting:
                gc.enable()

    @classmethod
    def _load(cls, folder: Path) -> ReplayDay:
        self = cls.__new__(cls)
        self.folder = folder
        summary = _read_json(folder / "summary.json", folder)
        if not isinstance(summary, dict):
            raise ReplayError(f"{folder / 'summary.json'}: not a JSON object")
        self.kind = "taxi" if "params" in summary and "name" in summary else "imod"
        name = summary.get("name") if self.kind == "taxi" else summary.get("scenario")
        self.title = str(name or folder.name)
        self.service = "I-MOA shared taxi" if self.kind == "taxi" else "I-MOD demand-responsive bus"
        for key in ("start_s", "end_s"):
            if not isinstance(summary.get(key), int) or isinstance(summary.get(key), bool):
                raise ReplayError(f"{folder / 'summary.json'}: no whole number {key}")
        if not (0 <= summary["start_s"] <= summary["end_s"] < 2**31):
            raise ReplayError(f"{folder / 'summary.json'}: start_s {summary['start_s']}, end_s {summary['end_s']}")
        self._summary = summary
        tracks_path = folder / "tracks.geojson"
        if not tracks_path.is_file():
            raise ReplayError(
                f"{folder}: no tracks.geojson — the day was simulated without coordinates (a benchmark graph) "
                "or without its drives' paths, and cannot be replayed on a map"
            )
        params = summary.get("params")
        self._params = params if isinstance(params, dict) else {}
        self._load_map(folder)
        self._load_fleet(folder)
        self._load_drives(folder, tracks_path)
        self._load_rides(folder)
        self._classify_drives()
        self._load_dwells(folder)
        self._load_onboard()
        self._build_events()
        self.start_s = int(summary["start_s"])
        last = int(self._d_arrive.max()) if self._d_arrive.size else 0
        self.end_s = max(int(summary["end_s"]), last)
        return self

    def _load_map(self, folder: Path) -> None:
        self._stops: list[dict[str, Any]] = []
        self._stop_ll = np.zeros((0, 2), np.float64)
        stops_path = folder / "stops.geojson"
        if self.kind == "imod" and not stops_path.is_file():
            raise ReplayError(f"{folder}: no stops.geojson (an I-MOD day's stops, needed for its map)")
        if stops_path.is_file():
            feats = _features(_read_json(stops_path, folder), stops_path, "Point")
            ll = []
            for k, (c, p) in enumerate(feats):
                if len(c) < 2 or not all(isinstance(x, int | float) for x in c[:2]):
                    raise ReplayError(f"{stops_path}: feature {k} is not a [lon, lat] point")
                stop = p.get("stop", k)
                if stop != k:
                    raise ReplayError(f"{stops_path}: feature {k} has stop {stop!r}, expected {k} (in order)")
                ll.append((float(c[1]), float(c[0])))
                self._stops.append(
                    {"stop": k, "id": p.get("id"), "name": str(p.get("name", f"stop {k}")), "lat": c[1], "lon": c[0]}
                )
            self._stop_ll = np.array(ll, np.float64).reshape(-1, 2)
        self._zone: list[list[float]] = []
        zone_path = folder / "zone.geojson"
        if zone_path.is_file():
            polys = _features(_read_json(zone_path, folder), zone_path, "Polygon")
            if polys and polys[0][0]:
                self._zone = [protocol.point(p[1], p[0]) for p in polys[0][0][0]]
        self._streets: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]] | None = None
        streets_path = folder / "streets.geojson"
        if streets_path.is_file():
            feats = _features(_read_json(streets_path, folder), streets_path, "LineString")
            self._streets = _lines([c for c, _ in feats], streets_path)

    def _load_fleet(self, folder: Path) -> None:
        path = folder / "vehicles.csv"
        if self.kind == "taxi" and not path.is_file():
            # a taxi day written before its vehicles.csv: the taxis that drove or served, of the
            # day's capacity, each where its first drive starts
            ids = set(_read_csv(folder / "drives.csv", folder, ("vehicle",))["vehicle"])
            ids |= set(_read_csv(folder / "rides.csv", folder, ("vehicle",))["vehicle"]) - {""}
            seats = str(int(self._params.get("capacity", 0) or 0))
            cols = {"vehicle_id": sorted(ids), "seats": [seats] * len(ids)}
        else:
            cols = _read_csv(path, folder, ("vehicle_id", "seats"))
        self.vehicle_ids = list(cols["vehicle_id"])
        if len(set(self.vehicle_ids)) != len(self.vehicle_ids):
            raise ReplayError(f"{path}: a vehicle_id appears twice")
        self._vindex = {v: k for k, v in enumerate(self.vehicle_ids)}
        n = len(self.vehicle_ids)
        self._seats = _ints(cols, "seats", path)
        self._shift = np.full((n, 2), -1, np.int64)
        self._has_shifts = "shift_start_s" in cols and "shift_end_s" in cols
        if self._has_shifts:
            self._shift[:, 0] = _ints(cols, "shift_start_s", path)
            self._shift[:, 1] = _ints(cols, "shift_end_s", path)
        self._start_ll = np.full((n, 2), np.nan)
        if "depot_stop" in cols:
            depot = _ints(cols, "depot_stop", path)
            ok = (depot >= 0) & (depot < len(self._stop_ll))
            self._start_ll[ok] = self._stop_ll[depot[ok]]
        if "start_lat" in cols and "start_lon" in cols:
            self._start_ll[:, 0] = _floats(cols, "start_lat", path)
            self._start_ll[:, 1] = _floats(cols, "start_lon", path)

    def _vehicle(self, ids: list[str], path: Path, *, allow_empty: bool = False) -> NDArray[np.int64]:
        out = np.empty(len(ids), np.int64)
        for k, vid in enumerate(ids):
            if vid == "" and allow_empty:
                out[k] = -1
                continue
            v = self._vindex.get(vid)
            if v is None:
                raise ReplayError(f"{path} line {k + 2}: vehicle {vid!r} is not in vehicles.csv")
            out[k] = v
        return out

    def _load_drives(self, folder: Path, tracks_path: Path) -> None:
        path = folder / "drives.csv"
        vcol = "vehicle" if self.kind == "taxi" else "vehicle_id"
        needed = (vcol, "depart_s", "arrive_s", "onboard") + (
            ("kind",) if self.kind == "taxi" else ("from_stop", "to_stop")
        )
        cols = _read_csv(path, folder, needed)
        veh = self._vehicle(cols[vcol], path)
        dep, arr = _ints(cols, "depart_s", path), _ints(cols, "arrive_s", path)
        if dep.size and (dep.min() < 0 or arr.max() >= 2**31):
            k = int(np.flatnonzero((dep < 0) | (arr >= 2**31))[0])
            raise ReplayError(f"{path} line {k + 2}: times must be within 0 .. {2**31 - 1} s, got {dep[k]} .. {arr[k]}")
        if np.any(arr < dep):
            k = int(np.flatnonzero(arr < dep)[0])
            raise ReplayError(f"{path} line {k + 2}: arrive_s {arr[k]} is before depart_s {dep[k]}")
        onboard = _ints(cols, "onboard", path)
        n = len(dep)
        # each drive's line: the tracks follow the drives in file order (those of two nodes or more)
        feats = _features(_read_json(tracks_path, folder), tracks_path, "LineString")
        lat, lon, off = _lines([c for c, _ in feats], tracks_path)
        track_of = np.full(n, -1, np.int64)
        j = 0
        for k in range(n):
            if j == len(feats):
                break
            p = feats[j][1]
            if p.get("vehicle_id") == cols[vcol][k] and p.get("depart_s") == dep[k] and p.get("arrive_s") == arr[k]:
                track_of[k] = j
                j += 1
        if j != len(feats):
            raise ReplayError(f"{tracks_path}: track {j} matches no drive of drives.csv (in order)")
        if self.kind == "taxi":
            self._d_kind = np.array(
                [{"occupied": 0, "empty": 1, "rebalance": 2}.get(x, 2) for x in cols["kind"]], np.int64
            )
            to_stop = np.full(n, -1, np.int64)
            from_stop = np.full(n, -1, np.int64)
        else:
            self._d_kind = np.zeros(n, np.int64)
            from_stop, to_stop = _ints(cols, "from_stop", path), _ints(cols, "to_stop", path)
        # the polyline of every drive: its track, else a straight line between its ends
        self._build_lines(veh, dep, from_stop, to_stop, track_of, lat, lon, off)
        order = np.lexsort((np.arange(n), dep, veh))  # by vehicle, then time (file order on ties)
        self._d_order = order
        self._d_veh, self._d_depart, self._d_arrive = veh[order], dep[order], arr[order]
        self._d_onboard, self._d_to_stop = onboard[order], to_stop[order]
        self._d_kind = self._d_kind[order]
        self._d_line = order  # drive (sorted) -> its line (file order index)
        self._d_key = _grouped_key(self._d_veh, self._d_depart)
        nv = len(self.vehicle_ids)
        self._d_first = np.searchsorted(self._d_veh, np.arange(nv + 1))
        # before its first drive a vehicle stands where that drive starts (without a depot or start)
        has = self._d_first[:-1] < self._d_first[1:]
        first_line = self._d_line[self._d_first[:-1][has]]
        missing = has & ~np.isfinite(self._start_ll[:, 0])
        starts = np.column_stack([self._l_lat[self._l_off[first_line]], self._l_lon[self._l_off[first_line]]])
        self._start_ll[missing] = starts[missing[has]]
        if np.any(~np.isfinite(self._start_ll[:, 0])):
            # never drove and no start known: the middle of the map
            lat0, lon0 = self._centre()
            self._start_ll[~np.isfinite(self._start_ll[:, 0])] = (lat0, lon0)

    def _build_lines(
        self,
        veh: NDArray[np.int64],
        dep: NDArray[np.int64],
        from_stop: NDArray[np.int64],
        to_stop: NDArray[np.int64],
        track_of: NDArray[np.int64],
        lat: NDArray[np.float64],
        lon: NDArray[np.float64],
        off: NDArray[np.int64],
    ) -> None:
        n = len(dep)
        pieces_lat: list[NDArray[np.float64]] = []
        pieces_lon: list[NDArray[np.float64]] = []
        last_end: dict[int, tuple[float, float]] = {}
        order = np.lexsort((np.arange(n), dep, veh))
        lines: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = [(lat[:0], lon[:0])] * n
        for k in order.tolist():
            j = int(track_of[k])
            if j >= 0:
                la, lo = lat[off[j] : off[j + 1]], lon[off[j] : off[j + 1]]
            else:  # no track (a drive of one road node): straight, from the stops or where it was
                a = self._stop_ll[from_stop[k]] if 0 <= from_stop[k] < len(self._stop_ll) else None
                b = self._stop_ll[to_stop[k]] if 0 <= to_stop[k] < len(self._stop_ll) else None
                here = last_end.get(int(veh[k]))
                if a is None:
                    a = np.array(here if here is not None else self._start_ll[veh[k]])
                if b is None:
                    b = a
                la, lo = np.array([a[0], b[0]]), np.array([a[1], b[1]])
            lines[k] = (la, lo)
            last_end[int(veh[k])] = (float(la[-1]), float(lo[-1]))
        pieces_lat = [x[0] for x in lines]
        pieces_lon = [x[1] for x in lines]
        counts = np.array([len(x) for x in pieces_lat], np.int64)
        self._l_off = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=self._l_off[1:])
        self._l_lat = np.concatenate(pieces_lat) if n else np.zeros(0)
        self._l_lon = np.concatenate(pieces_lon) if n else np.zeros(0)
        # cumulative distance (m) along all lines, a gap of 1 m between lines: strictly rising per line
        lat0 = float(np.nanmean(self._l_lat)) if self._l_lat.size else 0.0
        self._coslat = math.cos(math.radians(lat0))
        step = np.zeros(self._l_lat.size)
        if self._l_lat.size > 1:
            dy = np.diff(self._l_lat) * _M_PER_DEG_LAT
            dx = np.diff(self._l_lon) * _M_PER_DEG_LON * self._coslat
            step[1:] = np.hypot(dx, dy)
        starts = self._l_off[:-1][counts > 0]
        step[starts] = 1.0  # the gap before each line (the first point of a line)
        self._l_cum = np.cumsum(step)
        self._l_len = np.where(
            counts > 0, self._l_cum[np.maximum(self._l_off[1:] - 1, 0)] - self._l_cum[self._l_off[:-1]], 0.0
        )

    def _centre(self) -> tuple[float, float]:
        (s, w), (n, e) = self._bounds()
        return (s + n) / 2, (w + e) / 2

    def _bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        lats = [a for a in (self._stop_ll[:, 0], getattr(self, "_l_lat", None)) if a is not None and a.size]
        lons = [a for a in (self._stop_ll[:, 1], getattr(self, "_l_lon", None)) if a is not None and a.size]
        if self._streets is not None and self._streets[0].size:
            lats.append(self._streets[0])
            lons.append(self._streets[1])
        if not lats:
            return (0.0, 0.0), (0.0, 0.0)
        la, lo = np.concatenate(lats), np.concatenate(lons)
        return (float(np.nanmin(la)), float(np.nanmin(lo))), (float(np.nanmax(la)), float(np.nanmax(lo)))

    def _load_rides(self, folder: Path) -> None:
        path = folder / "rides.csv"
        geo = ("origin_lat", "origin_lon", "destination_lat", "destination_lon")
        needed: tuple[str, ...]
        if self.kind == "taxi":
            needed = ("id", "request_time_s", "passengers", "status", "reason", "vehicle", "pickup_s", "dropoff_s")
            cols = _read_csv(path, folder, (*needed, "direct_s", "shared", *geo))
            ids = cols["id"]
            outcome = ["open" if s in ("matching", "assigned", "on_board") else s for s in cols["status"]]
            reason = cols["reason"]
            submitted = _ints(cols, "request_time_s", path)
            requested = submitted
            vehicle = self._vehicle(cols["vehicle"], path, allow_empty=True)
            p = self._params
            max_wait = int(p.get("max_wait_s", 0) or 0)
            window = np.column_stack([requested, requested + max_wait])
            direct = _ints(cols, "direct_s", path)
            factor, extra = float(p.get("detour_factor", 1.0) or 1.0), int(p.get("detour_s", 0) or 0)
            max_ride = np.minimum((direct * factor).astype(np.int64), direct + extra)
            shared = _ints(cols, "shared", path) > 0
            n = len(ids)
            assigned = _ints(cols, "assigned_s", path) if "assigned_s" in cols else np.full(n, -1, np.int64)
            rejected_s = _ints(cols, "rejected_s", path) if "rejected_s" in cols else np.full(n, -1, np.int64)
            cancelled_s = _ints(cols, "cancelled_s", path) if "cancelled_s" in cols else np.full(n, -1, np.int64)
            pickup, dropoff = _ints(cols, "pickup_s", path), _ints(cols, "dropoff_s", path)
            # folders written before the decision times: batches run every batch_s from the start
            # (one at a request's second runs before it); a ride was assigned by the first after
            # its request (or at its pickup, if sooner) and rejected by the first that would have
            # made it wait beyond max_wait_s; immediate insertion decides on the request
            batch_s = int(p.get("batch_s", 0) or 0)
            start = int(self._summary["start_s"])
            if self._summary.get("mode") == "batch" and batch_s > 0:
                first = start + (np.maximum(requested - start, 0) // batch_s + 1) * batch_s
                late = requested + max_wait - batch_s + 1
                reject_at = first + np.maximum(0, -(-(late - first) // batch_s)) * batch_s
            else:
                first = reject_at = requested
            no_assign = (assigned < 0) & (vehicle >= 0)
            assigned[no_assign] = np.minimum(first, np.where(pickup >= 0, pickup, first))[no_assign]
            rej = np.array([o == "rejected" for o in outcome], np.bool_) & (rejected_s < 0)
            rejected_s[rej] = reject_at[rej]
            latest = np.where(pickup >= 0, pickup, window[:, 1]) + max_ride
            planned = np.where(pickup >= 0, pickup, -1)
            origin_stop = destination_stop = np.full(n, -1, np.int64)
        else:
            needed = (
                "ride_id",
                "submitted_s",
                "requested_s",
                "origin_stop",
                "destination_stop",
                "passengers",
            )
            needed += ("outcome", "reject_reason", "vehicle_id", "promised_pickup_start_s", "promised_pickup_end_s")
            needed += ("offered_pickup_eta_s", "max_ride_s", "pickup_s", "dropoff_s", "cancelled_s")
            cols = _read_csv(path, folder, (*needed, *geo))
            ids = cols["ride_id"]
            n = len(ids)
            outcome, reason = cols["outcome"], cols["reject_reason"]
            submitted, requested = _ints(cols, "submitted_s", path), _ints(cols, "requested_s", path)
            vehicle = self._vehicle(cols["vehicle_id"], path, allow_empty=True)
            window = np.column_stack(
                [_ints(cols, "promised_pickup_start_s", path), _ints(cols, "promised_pickup_end_s", path)]
            )
            max_ride = _ints(cols, "max_ride_s", path)
            pickup, dropoff = _ints(cols, "pickup_s", path), _ints(cols, "dropoff_s", path)
            cancelled_s = _ints(cols, "cancelled_s", path)
            is_rej = np.array([o == "rejected" for o in outcome], np.bool_)
            assigned = np.where(~is_rej & (vehicle >= 0), submitted, -1)
            rejected_s = np.where(is_rej, submitted, -1)
            shared = np.zeros(n, np.bool_)
            latest = np.where(max_ride >= 0, np.where(pickup >= 0, pickup, window[:, 1]) + max_ride, -1)
            planned = _ints(cols, "offered_pickup_eta_s", path)
            origin_stop, destination_stop = _ints(cols, "origin_stop", path), _ints(cols, "destination_stop", path)
        origin = np.column_stack([_floats(cols, "origin_lat", path), _floats(cols, "origin_lon", path)])
        destination = np.column_stack([_floats(cols, "destination_lat", path), _floats(cols, "destination_lon", path)])
        # open until it ended; still open at the end of the day ("open"); a ride whose end has no
        # time in the files (a cancellation by the service, a request never submitted) is never shown
        # open (no-shows get theirs in _classify_drives)
        outcome_a = np.array(outcome, dtype=object)
        end = np.where(outcome_a == "open", np.int64(2**62), submitted)
        end = np.where((outcome_a == "completed") & (dropoff >= 0), dropoff, end)
        end = np.where((outcome_a == "rejected") & (rejected_s >= 0), rejected_s, end)
        end = np.where((outcome_a == "cancelled") & (cancelled_s >= 0), cancelled_s, end)
        for name, values in (("submitted", submitted), ("pickup_s", pickup), ("dropoff_s", dropoff)):
            if values.size and (values.max() >= 2**31 or values.min() < -1):
                raise ReplayError(f"{path}: a {name} time outside -1 .. {2**31 - 1} s")
        self.rides = _Rides(
            ids=list(ids),
            vehicle=vehicle,
            passengers=_ints(cols, "passengers", path),
            submitted_s=submitted,
            requested_s=requested,
            open_s=submitted.copy(),
            assigned_s=assigned,
            pickup_s=pickup,
            dropoff_s=dropoff,
            end_s=end,
            window=window,
            latest_dropoff_s=latest,
            planned_pickup_s=planned,
            origin=origin,
            destination=destination,
            origin_stop=origin_stop,
            destination_stop=destination_stop,
            shared=shared,
            outcome=list(outcome),
            reason=list(reason),
            rejected_s=rejected_s,
            cancelled_s=cancelled_s,
            no_show_s=np.full(n, -1, np.int64),
        )
        self._rindex = {rid: k for k, rid in enumerate(ids)}

    def _classify_drives(self) -> None:
        """Each drive's state (with riders, to a pickup, idle) and the I-MOD no-shows' times."""
        r = self.rides
        n = self._d_veh.size
        state = np.full(n, IDLE, np.int64)
        if self.kind == "taxi":
            state[self._d_kind == 1] = TO_PICKUP
        else:
            # pickups of each vehicle by (vehicle, stop): boarding times and no-shows (time unknown)
            arr = self._d_arrive
            nxt_dep = np.full(n, np.int64(2**62))
            same = self._d_veh[1:] == self._d_veh[:-1]
            nxt_dep[:-1][same] = self._d_depart[1:][same]
            by_place: dict[tuple[int, int], list[int]] = {}
            for k in range(n):
                by_place.setdefault((int(self._d_veh[k]), int(self._d_to_stop[k])), []).append(k)
            for i in range(len(r.ids)):
                v, stop = int(r.vehicle[i]), int(r.origin_stop[i])
                if v < 0 or (r.outcome[i] != "no_show" and r.pickup_s[i] < 0):
                    continue
                drives = by_place.get((v, stop), [])
                if r.outcome[i] == "no_show":
                    after = [k for k in drives if arr[k] >= r.submitted_s[i]]
                    if after:
                        k = after[0]
                        r.no_show_s[i] = max(int(arr[k]), int(r.window[i, 0]))
                    else:
                        r.no_show_s[i] = max(int(r.window[i, 0]), int(r.submitted_s[i]))
                    for k in after[:1]:
                        state[k] = TO_PICKUP
                    continue
                for k in drives:  # the drive that brought it to the pickup
                    if arr[k] <= r.pickup_s[i] <= nxt_dep[k]:
                        state[k] = TO_PICKUP
                        break
            ns = np.array([o == "no_show" for o in r.outcome], np.bool_)
            r.end_s[ns] = r.no_show_s[ns]
        state[self._d_onboard > 0] = WITH_RIDERS
        self._d_state = state

    def _load_dwells(self, folder: Path) -> None:
        """Intervals a vehicle serves a stop: ``visits.csv`` (I-MOD), else from the rides."""
        path = folder / "visits.csv"
        if self.kind == "imod" and path.is_file():
            cols = _read_csv(path, folder, ("vehicle_id", "arrive_s", "depart_s"))
            veh = self._vehicle(cols["vehicle_id"], path)
            a, b = _ints(cols, "arrive_s", path), _ints(cols, "depart_s", path)
        else:
            r = self.rides
            dwell = int(self._params.get("dwell_s", 0) or 0) if self.kind == "taxi" else 0
            picked = (r.pickup_s >= 0) & (r.vehicle >= 0)
            dropped = (r.dropoff_s >= 0) & (r.vehicle >= 0)
            veh = np.concatenate([r.vehicle[picked], r.vehicle[dropped]])
            a = np.concatenate([r.pickup_s[picked], r.dropoff_s[dropped]])
            b = a + dwell
        keep = b > a
        veh, a, b = veh[keep], a[keep], b[keep]
        order = np.lexsort((a, veh))
        self._w_veh, self._w_start, self._w_end = veh[order], a[order], b[order]
        self._w_key = _grouped_key(self._w_veh, self._w_start)
        self._w_first = np.searchsorted(self._w_veh, np.arange(len(self.vehicle_ids) + 1))

    def _load_onboard(self) -> None:
        """Riders on board each vehicle over time: +passengers at boarding, - at alighting."""
        r = self.rides
        picked = (r.pickup_s >= 0) & (r.vehicle >= 0)
        dropped = picked & (r.dropoff_s >= 0)
        veh = np.concatenate([r.vehicle[picked], r.vehicle[dropped]])
        t = np.concatenate([r.pickup_s[picked], r.dropoff_s[dropped]])
        delta = np.concatenate([r.passengers[picked], -r.passengers[dropped]])
        order = np.lexsort((t, veh))
        self._o_veh, self._o_t, delta = veh[order], t[order], delta[order]
        self._o_key = _grouped_key(self._o_veh, self._o_t)
        self._o_cum = np.concatenate([[0], np.cumsum(delta)]).astype(np.int64)  # running sum before each row
        self._o_first = np.searchsorted(self._o_veh, np.arange(len(self.vehicle_ids) + 1))
        self._o_base = self._o_cum[self._o_first[:-1]]  # before each vehicle's first row

    def _build_events(self) -> None:
        r = self.rides
        rows: list[tuple[int, int, int, int, str]] = []  # time, kind, ride, vehicle, detail
        kinds = _EVENT_INDEX
        for i in range(len(r.ids)):
            v = int(r.vehicle[i])
            if r.outcome[i] == "rejected":
                rows.append((int(r.rejected_s[i]), kinds["rejection"], i, -1, r.reason[i] or "unknown"))
                if self.kind == "taxi":
                    rows.append((int(r.submitted_s[i]), kinds["booking"], i, -1, ""))
                continue
            rows.append((int(r.submitted_s[i]), kinds["booking"], i, v if self.kind == "imod" else -1, ""))
            if self.kind == "taxi" and r.assigned_s[i] >= 0:
                rows.append((int(r.assigned_s[i]), kinds["assignment"], i, v, ""))
            if r.pickup_s[i] >= 0:
                rows.append((int(r.pickup_s[i]), kinds["boarded"], i, v, ""))
                if r.window[i, 1] >= 0 and r.pickup_s[i] > r.window[i, 1]:
                    late = int(r.pickup_s[i] - r.window[i, 1])
                    rows.append((int(r.pickup_s[i]), kinds["late"], i, v, f"picked up {late} s after the window"))
            if r.outcome[i] == "completed":
                rows.append((int(r.dropoff_s[i]), kinds["completed"], i, v, ""))
            elif r.outcome[i] == "cancelled" and r.cancelled_s[i] >= 0:
                rows.append((int(r.cancelled_s[i]), kinds["cancellation"], i, v, r.reason[i] or ""))
            elif r.outcome[i] == "no_show" and r.no_show_s[i] >= 0:
                rows.append((int(r.no_show_s[i]), kinds["no_show"], i, v, ""))
        rows.sort(key=lambda x: (x[0], x[2], x[1]))
        self.events = _Events(
            time_s=np.array([x[0] for x in rows], np.int64),
            kind=np.array([x[1] for x in rows], np.int64),
            ride=np.array([x[2] for x in rows], np.int64),
            vehicle=np.array([x[3] for x in rows], np.int64),
            detail=[x[4] for x in rows],
        )

    # ------------------------------------------------------------------ questions
    def hello_map(self) -> dict[str, Any]:
        """The ``map`` of the ``hello`` message: streets (``streets.geojson``, else the tracks the
        vehicles drove), stops, zone and bounds."""
        lat, lon, off = self._streets if self._streets is not None else (self._l_lat, self._l_lon, self._l_off)
        (s, w), (n, e) = self._bounds()
        return {
            "streets": {
                "offsets": off.tolist(),
                "lat": np.round(lat, protocol.COORD_DIGITS).tolist(),
                "lon": np.round(lon, protocol.COORD_DIGITS).tolist(),
            },
            "stops": [dict(s_) for s_ in self._stops],
            "zone": self._zone,
            "bounds": [protocol.point(s, w), protocol.point(n, e)],
        }

    def _fleet_state(self, t: float) -> dict[str, NDArray[Any]]:
        """Vectorised over the fleet: position, state, riders on board, next stop at ``t``."""
        nv = len(self.vehicle_ids)
        vs = np.arange(nv, dtype=np.int64)
        ti = math.floor(t)
        k = _last_at_or_before(self._d_key, vs, ti, self._d_first)
        has = k >= 0
        kk = np.where(has, k, 0)
        driving = has & (self._d_arrive[kk] > t) if self._d_veh.size else np.zeros(nv, bool)
        lat, lon = self._start_ll[:, 0].copy(), self._start_ll[:, 1].copy()
        if self._d_veh.size:
            line = self._d_line[kk]
            # after a drive: where it ended
            end_pt = self._l_off[line + 1] - 1
            lat = np.where(has, self._l_lat[end_pt], lat)
            lon = np.where(has, self._l_lon[end_pt], lon)
            # on a drive: along its line by distance at a uniform speed
            d = np.flatnonzero(driving)
            if d.size:
                dl = line[d]
                span = (self._d_arrive[kk[d]] - self._d_depart[kk[d]]).astype(np.float64)
                frac = np.clip((t - self._d_depart[kk[d]]) / np.maximum(span, 1e-9), 0.0, 1.0)
                first, last = self._l_off[dl], self._l_off[dl + 1] - 1
                target = self._l_cum[first] + frac * self._l_len[dl]
                j = np.searchsorted(self._l_cum, target, side="right") - 1
                j = np.clip(j, first, np.maximum(last - 1, first))
                j2 = np.minimum(j + 1, last)
                seg = self._l_cum[j2] - self._l_cum[j]
                f = np.where(seg > 0, (target - self._l_cum[j]) / np.where(seg > 0, seg, 1.0), 0.0)
                f = np.clip(f, 0.0, 1.0)
                lat[d] = self._l_lat[j] + f * (self._l_lat[j2] - self._l_lat[j])
                lon[d] = self._l_lon[j] + f * (self._l_lon[j2] - self._l_lon[j])
        # dwelling: the last service begun by t has not ended
        w = _last_at_or_before(self._w_key, vs, ti, self._w_first)
        ww = np.where(w >= 0, w, 0)
        w_end = self._w_end[ww] if self._w_veh.size else np.full(nv, -1, np.int64)
        dwelling = (w >= 0) & (w_end > t)
        # riders on board
        o = _last_at_or_before(self._o_key, vs, ti, self._o_first)
        onboard = np.where(o >= 0, self._o_cum[o + 1] - self._o_base, 0)
        state = np.full(nv, IDLE, np.int64)
        if self._has_shifts:
            state[(t < self._shift[:, 0]) | (t >= self._shift[:, 1])] = OFF_SHIFT
        state[dwelling] = DWELLING
        if self._d_veh.size:
            state[driving] = self._d_state[kk[driving]]
        # the next stop: the drive's end while driving; while serving a stop, the next drive's end
        # if it leaves when the service ends (or riders are on board: they go on)
        next_k = np.full(nv, -1, np.int64)
        if self._d_veh.size:
            next_k[driving] = kk[driving]
            nk = np.where(has, kk + 1, self._d_first[:-1])
            valid = (nk < self._d_first[1:]) & ~driving
            nkk = np.where(valid, nk, 0)
            at_stop = valid & ((dwelling & (self._d_depart[nkk] <= w_end)) | (onboard > 0))
            next_k[at_stop] = nk[at_stop]
        return {
            "lat": lat,
            "lon": lon,
            "state": state,
            "on_board": onboard.astype(np.int64),
            "next": next_k,
        }

    def vehicles_at(self, t: float) -> list[list[Any]]:
        """Every vehicle at ``t``, one row per vehicle (in ``vehicle_ids`` order) in
        :data:`protocol.VEHICLE_FIELDS` order: where it is and what it does (module docstring),
        riders on board (boarded by ``t``, not yet alighted), seats, and its next stop: while
        driving, where the drive ends and when; while serving a stop it leaves right after, or
        standing with riders on board, where its next drive ends and when; otherwise none (what
        the vehicle did not know yet at ``t`` is not shown)."""
        s = self._fleet_state(t)
        lat = np.round(s["lat"], protocol.COORD_DIGITS).tolist()
        lon = np.round(s["lon"], protocol.COORD_DIGITS).tolist()
        nxt = s["next"]
        ok = nxt >= 0
        nk = np.where(ok, nxt, 0)
        if self._d_veh.size:
            end_pt = self._l_off[self._d_line[nk] + 1] - 1
            n_lat = np.round(self._l_lat[end_pt], protocol.COORD_DIGITS).tolist()
            n_lon = np.round(self._l_lon[end_pt], protocol.COORD_DIGITS).tolist()
            n_arr = self._d_arrive[nk].tolist()
        else:
            n_lat = n_lon = n_arr = [None] * len(self.vehicle_ids)
        states = protocol.VEHICLE_STATES
        ok_l = ok.tolist()
        st = [states[k] for k in s["state"].tolist()]
        n_lat = [x if o else None for x, o in zip(n_lat, ok_l, strict=True)]
        n_lon = [x if o else None for x, o in zip(n_lon, ok_l, strict=True)]
        n_arr = [x if o else None for x, o in zip(n_arr, ok_l, strict=True)]
        columns = (self.vehicle_ids, lat, lon, st, s["on_board"].tolist(), self._seats.tolist(), n_lat, n_lon, n_arr)
        return [list(row) for row in zip(*columns, strict=True)]

    def _open_mask(self, t: float) -> NDArray[np.bool_]:
        r = self.rides
        return (r.open_s <= t) & (t < r.end_s)

    def open_rides(self, t: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The rides open at ``t`` (indices into the day's rides, ascending) and each one's status
        there (an index into :data:`RIDE_STATUSES`)."""
        r = self.rides
        idx = np.flatnonzero(self._open_mask(t))
        picked = (r.pickup_s[idx] >= 0) & (r.pickup_s[idx] <= t)
        assigned = (r.assigned_s[idx] >= 0) & (r.assigned_s[idx] <= t)
        return idx, np.where(picked, 2, np.where(assigned, 1, 0)).astype(np.int64)

    def ride_items(self, idx: NDArray[np.int64], status: NDArray[np.int64]) -> list[dict[str, Any]]:
        """The :data:`protocol.RIDE_FIELDS` objects of rides ``idx`` in their ``status``
        (:meth:`open_rides`), in that order."""
        r = self.rides
        digits = protocol.COORD_DIGITS
        vids = [self.vehicle_ids[v] if v >= 0 else None for v in r.vehicle[idx].tolist()]
        pick = np.round(r.origin[idx], digits)
        drop = np.round(r.destination[idx], digits)
        pick_ok = np.all(np.isfinite(pick), axis=1).tolist()
        drop_ok = np.all(np.isfinite(drop), axis=1).tolist()
        planned = r.planned_pickup_s[idx].tolist()
        return [
            {
                "ride_id": r.ids[i],
                "status": RIDE_STATUSES[st],
                "vehicle_id": vid if st > 0 else None,
                "passengers": pax,
                "pickup": pk if pko else None,
                "dropoff": dr if dro else None,
                "window": win,
                "planned_pickup_s": pl if pl >= 0 else None,
                "requested_s": req,
                "shared": sh,
            }
            for i, st, vid, pax, pk, pko, dr, dro, win, pl, req, sh in zip(
                idx.tolist(),
                status.tolist(),
                vids,
                r.passengers[idx].tolist(),
                pick.tolist(),
                pick_ok,
                drop.tolist(),
                drop_ok,
                r.window[idx].tolist(),
                planned,
                r.requested_s[idx].tolist(),
                r.shared[idx].tolist(),
                strict=True,
            )
        ]

    def rides_at(self, t: float) -> list[dict[str, Any]]:
        """The rides open at ``t`` (submitted by ``t``, not yet dropped off, rejected, cancelled
        or found a no-show), as :data:`protocol.RIDE_FIELDS` objects, in the order they were asked
        for (requested time, then id)."""
        out = self.ride_items(*self.open_rides(t))
        out.sort(key=lambda x: (x["requested_s"], x["ride_id"]))
        return out

    def events_between(self, t0: float, t1: float, limit: int = EVENTS_PER_FRAME) -> list[dict[str, Any]]:
        """The feed events with ``t0 < time_s <= t1``, oldest first; of more than ``limit``, the
        last ``limit``. An event's ``id`` is its place in the day's feed."""
        ev = self.events
        lo = int(np.searchsorted(ev.time_s, math.floor(t0), side="right"))
        hi = int(np.searchsorted(ev.time_s, math.floor(t1), side="right"))
        lo = max(lo, hi - max(int(limit), 0))
        r = self.rides
        out = []
        for e in range(lo, hi):
            i, v = int(ev.ride[e]), int(ev.vehicle[e])
            out.append(
                {
                    "id": e,
                    "kind": protocol.EVENT_KINDS[int(ev.kind[e])],
                    "time_s": int(ev.time_s[e]),
                    "ride_id": r.ids[i],
                    "vehicle_id": self.vehicle_ids[v] if v >= 0 else None,
                    "detail": ev.detail[e],
                    "pooled": bool(r.shared[i]),
                }
            )
        return out

    def kpis_at(self, t: float) -> dict[str, Any]:
        """:data:`protocol.KPI_FIELDS` from what had happened by ``t``: ``served`` rides picked up,
        ``rejected`` (by reason), waits (pickup - requested time, NumPy's linear percentiles,
        rounded to 0.1 s as the day's summary), the fleet's state at ``t``, ``open_requests``
        (open rides not yet on board) and, for the shared taxi, ``pooled_share`` (of the rides
        picked up, those that shared their taxi)."""
        r = self.rides
        picked = (r.pickup_s >= 0) & (r.pickup_s <= t)
        waits = (r.pickup_s - r.requested_s)[picked].astype(np.float64)
        rejected = (r.rejected_s >= 0) & (r.rejected_s <= t)
        reasons: dict[str, int] = {}
        for i in np.flatnonzero(rejected).tolist():
            key = r.reason[i] or "unknown"
            reasons[key] = reasons.get(key, 0) + 1
        s = self._fleet_state(t)
        on_shift = s["state"] != OFF_SHIFT
        seats = int(self._seats[on_shift].sum())
        riders = int(s["on_board"].sum())
        busy = np.isin(s["state"], (TO_PICKUP, WITH_RIDERS, DWELLING))
        open_ = self._open_mask(t) & ~((r.pickup_s >= 0) & (r.pickup_s <= t))
        served = int(picked.sum())
        return {
            "served": served,
            "rejected": int(rejected.sum()),
            "rejected_by_reason": dict(sorted(reasons.items(), key=lambda x: -x[1])),
            "wait_p50_s": round(float(np.percentile(waits, 50)), 1) if waits.size else None,
            "wait_p90_s": round(float(np.percentile(waits, 90)), 1) if waits.size else None,
            "occupancy": round(riders / seats, 4) if seats > 0 else None,
            "vehicles_busy": int(busy.sum()),
            "vehicles_on_shift": int(on_shift.sum()),
            "vehicles": len(self.vehicle_ids),
            "riders_on_board": riders,
            "open_requests": int(open_.sum()),
            "pooled_share": (round(float(r.shared[picked].sum()) / served, 4) if served else None)
            if self.kind == "taxi"
            else None,
        }

    def kpi_history(self, t: float, step_s: float, *, max_points: int = KPI_HISTORY_POINTS) -> list[dict[str, Any]]:
        """KPIs from the start of the day to ``t``: every ``step_s`` seconds (widened so that at most
        ``max_points`` are sent), then at ``t``; oldest first."""
        if not step_s > 0:
            raise ValueError(f"step_s must be > 0, got {step_s}")
        t = min(max(float(t), self.start_s), self.end_s)
        span = t - self.start_s
        step = max(float(step_s), span / max(max_points - 1, 1))
        times = [self.start_s + k * step for k in range(int(span // step) + 1)] if span > 0 else []
        if not times or times[-1] < t:
            times.append(t)
        return [{"time_s": int(x), "values": self.kpis_at(x)} for x in times]

    def manifest_at(self, vehicle_id: str, t: float) -> dict[str, Any]:
        """The ``manifest`` message of ``vehicle_id`` at ``t``: the pickups and drop-offs still to
        come of the rides it serves that were booked by ``t``, in the order it serves them, and the
        path along its coming drives to the last of them. An unknown vehicle gives a manifest
        with ``error``."""
        v = self._vindex.get(vehicle_id) if isinstance(vehicle_id, str) else None
        base: dict[str, Any] = {"type": "manifest", "vehicle_id": vehicle_id, "time_s": int(t)}
        if v is None:
            shown = str(vehicle_id)[:80]  # a page's word, echoed back: not a megabyte of it
            return {**base, "vehicle_id": shown, "stops": [], "path": [], "error": f"no vehicle {shown!r} in this day"}
        r = self.rides
        stops: list[tuple[int, int, dict[str, Any]]] = []
        mine = np.flatnonzero((r.vehicle == v) & (r.assigned_s >= 0) & (r.assigned_s <= t) & (r.end_s > t))
        for i in mine.tolist():
            if not (0 <= r.pickup_s[i] <= t):  # the pickup is still to come
                when = r.pickup_s[i] if r.pickup_s[i] >= 0 else r.no_show_s[i]
                if when < 0:
                    when = r.planned_pickup_s[i] if r.planned_pickup_s[i] >= 0 else r.window[i, 0]
                stops.append((int(when), 0, self._manifest_stop(i, "pickup", int(when))))
            if r.outcome[i] in ("completed", "open") or (r.outcome[i] == "cancelled" and r.pickup_s[i] >= 0):
                when = int(r.dropoff_s[i]) if r.dropoff_s[i] >= 0 else -1
                stops.append((when if when >= 0 else 2**62, 1, self._manifest_stop(i, "dropoff", when)))
        stops.sort(key=lambda x: (x[0], x[1]))
        last = max((x[0] for x in stops if x[0] < 2**62), default=-1)
        return {**base, "stops": [x[2] for x in stops], "path": self._path(v, t, last)}

    def _manifest_stop(self, i: int, kind: str, when: int) -> dict[str, Any]:
        r = self.rides
        pick = kind == "pickup"
        where = r.origin[i] if pick else r.destination[i]
        ok = bool(np.all(np.isfinite(where)))
        return {
            "ride_id": r.ids[i],
            "kind": kind,
            "stop": int(r.origin_stop[i] if pick else r.destination_stop[i]),
            "lat": round(float(where[0]), protocol.COORD_DIGITS) if ok else None,
            "lon": round(float(where[1]), protocol.COORD_DIGITS) if ok else None,
            "planned_s": when if when >= 0 else None,
            "window_start_s": int(r.window[i, 0]) if pick else 0,
            "window_end_s": int(r.window[i, 1]) if pick else int(r.latest_dropoff_s[i]),
            "passengers": int(r.passengers[i]),
        }

    def _path(self, v: int, t: float, until: int) -> list[list[float]]:
        """From the vehicle's position at ``t`` along its drives that end by ``until``."""
        s = self._fleet_state(t)
        path = [protocol.point(s["lat"][v], s["lon"][v])]
        lo, hi = int(self._d_first[v]), int(self._d_first[v + 1])
        for k in range(lo, hi):
            if self._d_arrive[k] <= t or self._d_depart[k] > until or until < 0:
                continue
            line = int(self._d_line[k])
            a, b = int(self._l_off[line]), int(self._l_off[line + 1])
            if self._d_depart[k] <= t:  # the drive under way: the points still ahead
                frac = (t - self._d_depart[k]) / max(int(self._d_arrive[k] - self._d_depart[k]), 1)
                target = self._l_cum[a] + frac * self._l_len[line]
                a = int(np.searchsorted(self._l_cum[a:b], target, side="right")) + a
            path.extend(protocol.point(self._l_lat[p], self._l_lon[p]) for p in range(a, b))
        return path


# ---------------------------------------------------------------------------------- the player
@dataclass
class _Player:
    """One page's replay: its clock, what it was last sent (for diffs) and its task."""

    client: Client
    time_s: float
    speed: float
    playing: bool = False
    selected: str | None = None
    task: asyncio.Task[None] | None = None
    vehicles: dict[str, list[Any]] = field(default_factory=dict)
    ride_idx: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))  # open rides sent
    ride_status: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    manifest: dict[str, Any] | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


class ReplaySource:
    """A :class:`dashboard.source.Source` that replays a run folder: each page has its own player
    (clock, speed, play/pause, selection). While playing, every :data:`FRAME_S` seconds the
    page's clock moves by ``speed`` x :data:`FRAME_S` and the page gets what changed: vehicles
    (a diff, or full when it fell behind), rides, the feed's events since the last frame, KPIs,
    the clock and the selected vehicle's manifest when it changed; at ``end_s`` it pauses.

    The day is loaded when the source is made (a second for a small city, about ten for 3,000
    vehicles' 300,000 drives). Raises :class:`ReplayError` for a folder that cannot be replayed
    and ``ValueError`` for a ``speed`` outside :data:`protocol.SPEED_RANGE`.
    """

    mode = "replay"

    def __init__(self, folder: str | Path | ReplayDay, *, speed: float = 60.0) -> None:
        lo, hi = protocol.SPEED_RANGE
        if _number(speed) is None or not lo <= speed <= hi:
            raise ValueError(f"speed must be a number within {lo} .. {hi} simulated seconds per second, got {speed!r}")
        self.day = folder if isinstance(folder, ReplayDay) else ReplayDay.open(folder)
        self.speed = float(speed)
        self._players: dict[int, _Player] = {}
        self._map = self.day.hello_map()

    async def start(self) -> None:
        """Nothing to start: the day was loaded when the source was made."""

    async def stop(self) -> None:
        for p in list(self._players.values()):
            await self._halt(p)
        self._players.clear()

    async def connected(self, client: Client) -> None:
        day = self.day
        p = _Player(client, float(day.start_s), self.speed)
        self._players[client.id] = p
        client.send(
            protocol.hello(
                self.mode,
                title=day.title,
                service=day.service,
                kind=day.kind,
                tiles=None,
                map=self._map,
                replay={"start_s": day.start_s, "end_s": day.end_s},
            )
        )
        client.send(
            {"type": "status", "connected": True, "message": f"replaying {day.title}", "source": str(day.folder)}
        )
        await self._snapshot(p)

    async def disconnected(self, client: Client) -> None:
        p = self._players.pop(client.id, None)
        if p is not None:
            await self._halt(p)

    async def received(self, client: Client, message: dict[str, Any]) -> None:
        p = self._players.get(client.id)
        if p is None:
            return
        kind = message.get("type")
        day = self.day
        if kind == "play":
            if p.time_s >= day.end_s:
                p.time_s = float(day.start_s)
                await self._snapshot(p)
            if not p.playing:
                p.playing = True
                p.task = asyncio.create_task(self._play(p), name=f"replay-{client.id}")
            self._clock(p)
        elif kind == "pause":
            await self._halt(p)
            self._clock(p)
        elif kind == "speed":
            lo, hi = protocol.SPEED_RANGE
            value = _number(message.get("value"))
            if value is None or not lo <= value <= hi:
                self._error(
                    p, "value", f"speed value must be a number within {lo} .. {hi}, got {message.get('value')!r}"
                )
                return
            p.speed = value
            self._clock(p)
        elif kind == "seek":
            value = _number(message.get("time_s"))
            if value is None or not day.start_s <= value <= day.end_s:
                got = message.get("time_s")
                self._error(
                    p, "time_s", f"seek time_s must be a number within {day.start_s} .. {day.end_s}, got {got!r}"
                )
                return
            p.time_s = value
            await self._snapshot(p)
        elif kind == "select":
            vid = message.get("vehicle_id")
            refused = protocol.select_error(vid)  # the same answer as the live source's
            if refused is not None:
                p.client.send(refused)
                return
            p.selected = vid
            p.manifest = None
            if vid is not None:
                self._send_manifest(p)
        else:
            allowed = "play, pause, speed, seek, select"
            self._error(p, "type", f"message type must be one of {allowed}, got {str(kind)[:40]!r}")

    # ------------------------------------------------------------------ sending
    def _error(self, p: _Player, field_name: str, text: str) -> None:
        p.client.send(protocol.error(field_name, text))

    def _clock(self, p: _Player) -> None:
        p.client.send({"type": "clock", "time_s": int(p.time_s), "playing": p.playing, "speed": p.speed})

    def _send_manifest(self, p: _Player) -> None:
        if p.selected is None:
            return
        m = self.day.manifest_at(p.selected, p.time_s)
        same = p.manifest is not None and {k: v for k, v in m.items() if k != "time_s"} == {
            k: v for k, v in p.manifest.items() if k != "time_s"
        }
        if not same:
            p.manifest = m
            p.client.send(m)

    async def _snapshot(self, p: _Player) -> None:
        """Full vehicles and rides, the feed's last events, the KPI history and KPIs (connect, seek)."""
        day, t = self.day, p.time_s
        rows = day.vehicles_at(t)
        p.vehicles = {row[0]: row for row in rows}
        p.ride_idx, p.ride_status = day.open_rides(t)
        rides = day.ride_items(p.ride_idx, p.ride_status)
        send = p.client.send
        self._clock(p)
        send({"type": "vehicles", "time_s": int(t), "full": True, "items": rows, "removed": []})
        send({"type": "rides", "time_s": int(t), "full": True, "items": rides, "removed": []})
        send({"type": "events", "items": day.events_between(-1, t, EVENTS_PER_FRAME)})
        step = max(60.0, (day.end_s - day.start_s) / KPI_HISTORY_POINTS)
        history = await asyncio.to_thread(day.kpi_history, t, step)
        send({"type": "kpi_history", "items": history})
        send({"type": "kpis", "time_s": int(t), "values": day.kpis_at(t)})
        p.manifest = None
        self._send_manifest(p)

    def _frame(self, p: _Player, t0: float) -> None:
        """What changed from ``t0`` to the player's time."""
        day, t, send = self.day, p.time_s, p.client.send
        behind = p.client.behind
        rows = day.vehicles_at(t)
        changed = rows if behind else [row for row in rows if p.vehicles.get(row[0]) != row]
        p.vehicles = {row[0]: row for row in rows}
        if changed or behind:
            send({"type": "vehicles", "time_s": int(t), "full": behind, "items": changed, "removed": []})
        idx, status = day.open_rides(t)
        if behind:
            send({"type": "rides", "time_s": int(t), "full": True, "items": day.ride_items(idx, status), "removed": []})
        else:  # only the rides that opened or changed status, and those that closed
            prev, prev_status = p.ride_idx, p.ride_status
            pos = np.minimum(np.searchsorted(prev, idx), max(prev.size - 1, 0))
            same = (prev[pos] == idx) & (prev_status[pos] == status) if prev.size else np.zeros(idx.size, np.bool_)
            gone = prev[~np.isin(prev, idx)]
            if not same.all() or gone.size:
                items = day.ride_items(idx[~same], status[~same])
                removed = [day.rides.ids[i] for i in gone.tolist()]
                send({"type": "rides", "time_s": int(t), "full": False, "items": items, "removed": removed})
        p.ride_idx, p.ride_status = idx, status
        events = day.events_between(t0, t, EVENTS_PER_FRAME)
        if events:
            send({"type": "events", "items": events})
        send({"type": "kpis", "time_s": int(t), "values": day.kpis_at(t)})
        self._clock(p)
        self._send_manifest(p)

    async def _play(self, p: _Player) -> None:
        day = self.day
        loop = asyncio.get_running_loop()
        next_at = loop.time() + FRAME_S
        try:
            while p.playing:
                await asyncio.sleep(max(next_at - loop.time(), 0.0))
                next_at += FRAME_S
                t0 = p.time_s
                p.time_s = min(p.time_s + p.speed * FRAME_S, float(day.end_s))
                if p.time_s >= day.end_s:
                    p.playing = False
                self._frame(p, t0)
        except Exception:  # a bug must not take the server down: say so and stop this page's player
            log.exception("replay of %s stopped", day.folder)
            p.playing = False
            self._error(p, "replay", "the replay stopped on an internal error (see the server's log)")

    async def _halt(self, p: _Player) -> None:
        p.playing = False
        task, p.task = p.task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
