"""Replay of simulated days (dashboard.replay): a short I-MOD day and a short shared-taxi day
simulated once per module into a run folder, then read back and checked against the folder's own
files, recounted here (tracks, rides.csv, summary.json); the player driven with a recording sink."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import itertools
import json
import math
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely

from dashboard import protocol
from dashboard.replay import ReplayDay, ReplayError, ReplaySource
from sim.report import write_report
from sim.scenario import Scenario, TaxiScenario
from sim.simulator import Simulation
from sim.taxi import run_taxi_scenario
from sim.taxi_kpi import write_taxi_report

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
M_PER_DEG = 111_320.0


# ---------------------------------------------------------------------------------- the days
@pytest.fixture(scope="module")
def imod(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """Two hours on Jamsil: three minibuses of six seats for 70 requests (some turned away),
    some booked ahead, some cancelled, some no-shows."""
    doc: dict[str, Any] = {
        "scenario": {"name": "replay-imod", "seed": 3, "start": "07:00", "end": "09:00"},
        "network": {"kind": "osm", "path": "osm/seoul_jamsil.osm"},
        "stops": {"kind": "virtual", "spacing_m": 300},
        "fleet": {"vehicles": 3, "seats": 6, "shift_start": "07:00", "shift_end": "09:30"},
        "service": {"max_wait_s": 600, "service_start_s": 6 * 3600, "service_end_s": 23 * 3600},
        "demand": {
            "kind": "profile",
            "total": 70,
            "profile": "flat",
            "prebook_share": 0.2,
            "lead_max_min": 2,
            "cancel_probability": 0.06,
            "no_show_probability": 0.06,
        },
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 600, "reoptimise_iterations": 10},
    }
    sim = Simulation(Scenario.from_dict(doc, data_dir=data_dir))
    sim.setup()
    out = sim.run()
    folder = tmp_path_factory.mktemp("replay") / "imod"
    write_report(out, folder, plots=False)
    return out, folder


@pytest.fixture(scope="module")
def taxi(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """An evening hour on Dongjak: 8 taxis for 150 requests (some pooled, some turned away)."""
    sc = TaxiScenario.from_toml(SCENARIOS / "imoa_dongjak.toml", data_dir=data_dir)
    pooling = dataclasses.replace(sc.pooling, trip_time_budget_s=120.0, batch_deadline_s=120.0, max_wait_s=300)
    fleet = dataclasses.replace(sc.fleet, vehicles=8, shift_start_s=18 * 3600, shift_end_s=19 * 3600 + 600)
    demand = dataclasses.replace(sc.demand, total=150)
    sc = dataclasses.replace(sc, start_s=18 * 3600, end_s=19 * 3600, demand=demand, pooling=pooling, fleet=fleet)
    out = run_taxi_scenario(sc, record_paths=True)
    folder = tmp_path_factory.mktemp("replay") / "taxi"
    write_taxi_report(out, folder, plots=False)
    return out, folder


@pytest.fixture(scope="module", params=["imod", "taxi"])
def day(request: pytest.FixtureRequest) -> tuple[ReplayDay, Path]:
    _, folder = request.getfixturevalue(request.param)
    return ReplayDay.open(folder), folder


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _tracks(folder: Path) -> list[dict[str, Any]]:
    return json.loads((folder / "tracks.geojson").read_text())["features"]


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance (m) between two (lat, lon) points, locally flat."""
    dy = (a[0] - b[0]) * M_PER_DEG
    dx = (a[1] - b[1]) * M_PER_DEG * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def _local(coords: Any, lat0: float) -> shapely.LineString:
    """A track's [lon, lat] points in local metres (x east, y north)."""
    pts = np.asarray(coords, np.float64)
    return shapely.LineString(
        np.column_stack([pts[:, 0] * M_PER_DEG * math.cos(math.radians(lat0)), pts[:, 1] * M_PER_DEG])
    )


def _row(day: ReplayDay, t: float, vehicle_id: str) -> dict[str, Any]:
    rows = day.vehicles_at(t)
    return dict(zip(protocol.VEHICLE_FIELDS, next(r for r in rows if r[0] == vehicle_id), strict=True))


# ---------------------------------------------------------------------------------- the folder
def test_the_folder_has_what_replay_needs(imod: tuple[Any, Path], taxi: tuple[Any, Path]) -> None:
    out, folder = imod
    fleet = _csv(folder / "vehicles.csv")
    assert [(int(r["depot_stop"]), int(r["shift_start_s"]), int(r["shift_end_s"])) for r in fleet] == [
        (v.depot_stop, v.shift_start_s, v.shift_end_s) for v in out.vehicles
    ]
    visits = _csv(folder / "visits.csv")
    assert len(visits) == len(out.visits) > 0
    assert sum(int(v["boarded"]) for v in visits) == sum(v.boarded for v in out.visits)
    tout, tfolder = taxi
    tfleet = _csv(tfolder / "vehicles.csv")
    assert [int(r["start_node"]) for r in tfleet] == tout.start_nodes.tolist()
    net = tout.network
    for r, node in zip(tfleet, tout.start_nodes.tolist(), strict=True):
        assert _metres((float(r["start_lat"]), float(r["start_lon"])), (net.lat[node], net.lon[node])) < 0.2
    rides = _csv(tfolder / "rides.csv")
    # the decision times, recorded as the taxis' plans showed them, are those of the batches'
    # own reports (the batch that first assigned a ride; the one that rejected it)
    assigned: dict[str, int] = {}
    rejected: dict[str, int] = {}
    for b in tout.batches:
        for rid in b.assigned:
            assigned.setdefault(rid, b.time_s)
        for rid in b.rejected:
            rejected.setdefault(rid, b.time_s)
    assert rejected and assigned
    for r in rides:
        assert int(r["assigned_s"]) == assigned.get(r["id"], -1), r
        assert int(r["rejected_s"]) == rejected.get(r["id"], -1), r
        assert (int(r["assigned_s"]) >= 0) == (r["vehicle"] != ""), r


@pytest.mark.parametrize("which", ["imod", "taxi"])
def test_streets_are_the_networks_roads_each_two_way_street_once(which: str, request: pytest.FixtureRequest) -> None:
    out, folder = request.getfixturevalue(which)
    net = out.network
    feats = json.loads((folder / "streets.geojson").read_text())["features"]
    # the roads, recounted: a pair of nodes joined one way or both ways is one street
    tail, head = np.asarray(net.tail, np.int64), np.asarray(net.indices, np.int64)
    pairs = {(min(a, b), max(a, b)) for a, b in zip(tail.tolist(), head.tolist(), strict=True) if a != b}
    assert len(feats) == len(pairs)
    both = {(a, b) for a, b in zip(tail.tolist(), head.tolist(), strict=True)}
    oneway = sum(1 for a, b in pairs if not ((a, b) in both and (b, a) in both))
    assert sum(f["properties"]["oneway"] for f in feats) == oneway
    # each street runs between two road nodes (its ends are nodes of the network)
    nodes = np.column_stack([np.round(net.lon, 6), np.round(net.lat, 6)])
    ends = {tuple(p) for p in nodes.tolist()}
    for f in feats[:: max(len(feats) // 50, 1)]:
        c = f["geometry"]["coordinates"]
        assert len(c) >= 2 and tuple(c[0]) in ends and tuple(c[-1]) in ends


# ---------------------------------------------------------------------------------- vehicles
def test_positions_lie_on_the_track_and_move_forward(day: tuple[ReplayDay, Path]) -> None:
    d, folder = day
    tracks = _tracks(folder)
    assert tracks
    lat0 = tracks[0]["geometry"]["coordinates"][0][1]
    checked = 0
    for f in tracks[:: max(len(tracks) // 40, 1)]:
        p = f["properties"]
        dep, arr = p["depart_s"], p["arrive_s"]
        if arr - dep < 4:
            continue
        line = _local(f["geometry"]["coordinates"], lat0)
        along = []
        for t in np.linspace(dep, arr, 7)[1:-1]:
            row = _row(d, float(t), p["vehicle_id"])
            pt = _local([[row["lon"], row["lat"]], [row["lon"], row["lat"]]], lat0).coords[0]
            assert line.distance(shapely.Point(pt)) < 0.5, (p, t)
            along.append(line.project(shapely.Point(pt)))
            assert row["state"] in ("to_pickup", "with_riders", "idle")
            assert row["state"] == "with_riders" if p["onboard"] > 0 else row["state"] != "with_riders"
            assert row["next_arrival_s"] == arr
        assert all(b > a for a, b in itertools.pairwise(along)), along
        # uniform speed: halfway in time is halfway along the line (to a metre, or the 0.5 % by which
        # two flat-earth approximations of a metre may differ)
        half = _row(d, (dep + arr) / 2, p["vehicle_id"])
        pt = _local([[half["lon"], half["lat"]], [half["lon"], half["lat"]]], lat0).coords[0]
        assert line.project(shapely.Point(pt)) == pytest.approx(line.length / 2, abs=max(1.0, line.length * 0.005))
        checked += 1
    assert checked >= 10


def test_at_depart_and_arrive_a_vehicle_is_at_the_drives_ends(day: tuple[ReplayDay, Path]) -> None:
    d, folder = day
    stops = None
    if d.kind == "imod":
        stops = [f["geometry"]["coordinates"] for f in json.loads((folder / "stops.geojson").read_text())["features"]]
    for f in _tracks(folder)[::5]:
        p, c = f["properties"], f["geometry"]["coordinates"]
        start, end = _row(d, p["depart_s"], p["vehicle_id"]), _row(d, p["arrive_s"], p["vehicle_id"])
        assert _metres((start["lat"], start["lon"]), (c[0][1], c[0][0])) < 0.3
        assert _metres((end["lat"], end["lon"]), (c[-1][1], c[-1][0])) < 0.3
        if stops is not None:  # the stops' places
            a, b = stops[p["from_stop"]], stops[p["to_stop"]]
            assert _metres((start["lat"], start["lon"]), (a[1], a[0])) < 0.3
            assert _metres((end["lat"], end["lon"]), (b[1], b[0])) < 0.3


def test_states_between_drives_and_off_shift(imod: tuple[Any, Path]) -> None:
    out, folder = imod
    d = ReplayDay.open(folder)
    before = _row(d, d.start_s - 1 if d.start_s > 0 else 0, out.vehicles[0].vehicle_id)
    assert before["state"] == "off_shift" or d.start_s >= out.vehicles[0].shift_start_s
    # while a vehicle serves a stop (visits.csv), it is dwelling at that stop
    stops = json.loads((folder / "stops.geojson").read_text())["features"]
    for v in out.visits[::3]:
        if v.depart_s - v.arrive_s < 2:
            continue
        row = _row(d, (v.arrive_s + v.depart_s) / 2, v.vehicle_id)
        assert row["state"] == "dwelling"
        x, y = stops[v.stop]["geometry"]["coordinates"]
        assert _metres((row["lat"], row["lon"]), (y, x)) < 0.3
    # the number on board, recounted from rides.csv
    rides = _csv(folder / "rides.csv")
    t = (d.start_s + out.end_s) / 2
    for vid in [v.vehicle_id for v in out.vehicles]:
        want = sum(
            int(r["passengers"])
            for r in rides
            if r["vehicle_id"] == vid
            and 0 <= int(r["pickup_s"]) <= t
            and (int(r["dropoff_s"]) > t or int(r["dropoff_s"]) < 0)
        )
        assert _row(d, t, vid)["on_board"] == want


# ---------------------------------------------------------------------------------- rides, events, KPIs
def test_kpis_at_the_end_are_the_days(day: tuple[ReplayDay, Path]) -> None:
    d, folder = day
    summary = json.loads((folder / "summary.json").read_text())
    k = summary["kpis"]
    got = d.kpis_at(d.end_s)
    assert set(got) == set(protocol.KPI_FIELDS)
    served = k["requests"]["completed" if d.kind == "imod" else "served"]
    assert got["served"] == served
    assert got["rejected"] == k["requests"]["rejected"]
    assert got["rejected_by_reason"] == k["requests"]["rejected_by_reason"]
    assert got["wait_p50_s"] == pytest.approx(k["wait_s"]["p50"], abs=0.051)
    assert got["wait_p90_s"] == pytest.approx(k["wait_s"]["p90"], abs=0.051)
    # recounted from rides.csv too
    rides = _csv(folder / "rides.csv")
    if d.kind == "imod":
        waits = [int(r["pickup_s"]) - int(r["requested_s"]) for r in rides if int(r["pickup_s"]) >= 0]
    else:
        waits = [int(r["pickup_s"]) - int(r["request_time_s"]) for r in rides if int(r["pickup_s"]) >= 0]
    assert got["served"] == len(waits)
    waits.sort()
    assert got["wait_p50_s"] == pytest.approx(np.percentile(waits, 50), abs=0.051)
    assert got["open_requests"] == 0 and got["riders_on_board"] == 0 and got["vehicles"] == len(d.vehicle_ids)
    if d.kind == "taxi":
        assert got["pooled_share"] == pytest.approx(k["pooled_share"], abs=1e-3)
    else:
        assert got["pooled_share"] is None
    early = d.start_s + 1200
    picked = [r for r in rides if 0 <= int(r["pickup_s"]) <= early]
    assert d.kpis_at(early)["served"] == len(picked) > 0
    assert got["rejected"] > 0  # the days were made to turn some away


def test_events_by_kind_are_the_rides_outcomes(day: tuple[ReplayDay, Path]) -> None:
    d, folder = day
    rides = _csv(folder / "rides.csv")
    events = d.events_between(-1, d.end_s, limit=10**9)
    assert [e["id"] for e in events] == list(range(len(events)))
    assert [e["time_s"] for e in events] == sorted(e["time_s"] for e in events)
    kinds = Counter(e["kind"] for e in events)
    outcome = Counter(r["outcome" if d.kind == "imod" else "status"] for r in rides)
    assert kinds["completed"] == outcome["completed"]
    assert kinds["rejection"] == outcome["rejected"]
    assert kinds["no_show"] == outcome["no_show"]
    assert kinds["cancellation"] == outcome["cancelled"]
    assert kinds["boarded"] == sum(1 for r in rides if int(r["pickup_s"]) >= 0)
    if d.kind == "imod":
        assert kinds["booking"] == len(rides) - outcome["rejected"]
        assert outcome["no_show"] > 0 and outcome["cancelled"] > 0  # the day was made with both
        late = sum(1 for r in rides if int(r["pickup_s"]) > int(r["promised_pickup_end_s"]) >= 0)
    else:
        assert kinds["booking"] == len(rides)
        assert kinds["assignment"] == sum(1 for r in rides if int(r["assigned_s"]) >= 0)
        late = sum(1 for r in rides if int(r["pickup_s"]) > int(r["request_time_s"]) + 300)
        pooled = {r["id"] for r in rides if r["shared"] == "1"}
        assert pooled and {e["ride_id"] for e in events if e["pooled"]} == pooled
    assert kinds["late"] == late
    assert set(kinds) <= set(protocol.EVENT_KINDS)
    rejected = [e for e in events if e["kind"] == "rejection"]
    assert Counter(e["detail"] for e in rejected) == Counter(
        r["reject_reason" if d.kind == "imod" else "reason"]
        for r in rides
        if r["outcome" if d.kind == "imod" else "status"] == "rejected"
    )
    # a window: (t0, t1]; the last ``limit`` of many
    mid = events[len(events) // 2]["time_s"]
    window = d.events_between(mid - 600, mid)
    assert window == [e for e in events if mid - 600 < e["time_s"] <= mid][-len(window) :]
    assert d.events_between(-1, d.end_s, limit=5) == events[-5:]


def test_open_rides_recounted(day: tuple[ReplayDay, Path]) -> None:
    d, folder = day
    rides = _csv(folder / "rides.csv")
    imod = d.kind == "imod"
    for t in np.linspace(d.start_s, min(d.end_s, d.start_s + 7200), 9).tolist():
        want: dict[str, str] = {}
        unsure = set()
        for r in rides:
            rid = r["ride_id" if imod else "id"]
            asked = int(r["submitted_s" if imod else "request_time_s"])
            outcome = r["outcome" if imod else "status"]
            pick, drop = int(r["pickup_s"]), int(r["dropoff_s"])
            if asked > t:
                continue
            if outcome == "completed" and drop > t:
                want[rid] = "on_board" if pick <= t else "assigned"
            elif outcome == "cancelled" and int(r["cancelled_s"]) > t:
                want[rid] = "assigned"
            elif outcome == "no_show":
                unsure.add(rid)  # its time is not written: taken when the vehicle got there
            elif outcome == "rejected" and not imod and int(r["rejected_s"]) > t:
                want[rid] = "matching"
            if not imod and rid in want and want[rid] == "assigned" and int(r["assigned_s"]) > t:
                want[rid] = "matching"
        got = {r["ride_id"]: r["status"] for r in d.rides_at(t)}
        assert {k: v for k, v in got.items() if k not in unsure} == want, t
    one = d.rides_at(d.start_s + 1800)
    assert one and all(set(r) == set(protocol.RIDE_FIELDS) for r in one)


def test_manifest_lists_exactly_the_rides_to_come(day: tuple[ReplayDay, Path]) -> None:
    d, folder = day
    rides = _csv(folder / "rides.csv")
    imod = d.kind == "imod"
    vcol = "vehicle_id" if imod else "vehicle"
    checked = 0
    for t in np.linspace(d.start_s + 600, d.start_s + 5400, 5).tolist():
        for vid in d.vehicle_ids:
            want = set()
            for r in rides:
                rid = r["ride_id" if imod else "id"]
                booked = int(r["submitted_s"]) if imod else int(r["assigned_s"])
                outcome = r["outcome" if imod else "status"]
                if r[vcol] != vid or booked < 0 or booked > t or outcome == "rejected":
                    continue
                pick, drop = int(r["pickup_s"]), int(r["dropoff_s"])
                if outcome == "completed":
                    if pick > t:
                        want.add((rid, "pickup"))
                    if drop > t:
                        want.add((rid, "dropoff"))
                elif outcome == "cancelled" and int(r["cancelled_s"]) > t:
                    want.add((rid, "pickup"))
                elif outcome == "no_show":
                    want.add((rid, "?"))
            m = d.manifest_at(vid, t)
            got = {(s["ride_id"], s["kind"]) for s in m["stops"]}
            maybe = {rid for rid, k in want if k == "?"}
            assert {x for x in got if x[0] not in maybe} == {x for x in want if x[0] not in maybe}, (vid, t)
            assert all(set(s) == set(protocol.MANIFEST_STOP_FIELDS) for s in m["stops"])
            planned = [s["planned_s"] for s in m["stops"] if s["planned_s"] is not None]
            assert planned == sorted(planned) and all(p >= t for p in planned)
            row = _row(d, t, vid)
            assert m["path"][0] == [row["lat"], row["lon"]]
            # each ride's pickup comes before its drop-off
            order = [(s["ride_id"], s["kind"]) for s in m["stops"]]
            for rid, kind in order:
                if kind == "dropoff" and (rid, "pickup") in order:
                    assert order.index((rid, "pickup")) < order.index((rid, "dropoff"))
            checked += bool(m["stops"])
    assert checked >= 3
    bad = d.manifest_at("no-such-vehicle", d.start_s)
    assert bad["stops"] == [] and "no-such-vehicle" in bad["error"]


def test_hello_map(day: tuple[ReplayDay, Path]) -> None:
    d, folder = day
    m = d.hello_map()
    streets = json.loads((folder / "streets.geojson").read_text())["features"]
    off = m["streets"]["offsets"]
    assert len(off) == len(streets) + 1 and off[-1] == len(m["streets"]["lat"]) == len(m["streets"]["lon"])
    assert m["streets"]["lat"][: len(streets[0]["geometry"]["coordinates"])] == [
        c[1] for c in streets[0]["geometry"]["coordinates"]
    ]
    (s, w), (n, e) = m["bounds"]
    assert s < n and w < e and all(s <= x <= n for x in m["streets"]["lat"])
    assert len(m["stops"]) == (
        len(json.loads((folder / "stops.geojson").read_text())["features"]) if d.kind == "imod" else 0
    )


# ---------------------------------------------------------------------------------- bad folders
def test_bad_folders_one_clear_error(imod: tuple[Any, Path], tmp_path: Path) -> None:
    _, folder = imod

    def copy(name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(folder, dst)
        return dst

    with pytest.raises(ReplayError, match="no such run folder"):
        ReplayDay.open(tmp_path / "nowhere")
    x = copy("no_summary")
    (x / "summary.json").unlink()
    with pytest.raises(ReplayError, match=r"no_summary: no summary\.json"):
        ReplayDay.open(x)
    x = copy("garbled")
    (x / "summary.json").write_text("{not json")
    with pytest.raises(ReplayError, match=r"summary\.json: not JSON"):
        ReplayDay.open(x)
    x = copy("bench")
    (x / "tracks.geojson").unlink()
    with pytest.raises(ReplayError, match=r"no tracks\.geojson .*benchmark graph"):
        ReplayDay.open(x)
    x = copy("column")
    text = (x / "rides.csv").read_text().replace(",pickup_s,", ",pickup_when,", 1)
    (x / "rides.csv").write_text(text)
    with pytest.raises(ReplayError, match=r"rides\.csv: no column pickup_s"):
        ReplayDay.open(x)
    x = copy("value")
    lines = (x / "drives.csv").read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[1], "soon", 1)
    (x / "drives.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ReplayError, match=r"drives\.csv line 4: depart_s 'soon' is not a whole number"):
        ReplayDay.open(x)
    x = copy("stranger")
    lines = (x / "drives.csv").read_text().splitlines()
    lines[1] = "ghost" + lines[1][lines[1].index(",") :]
    (x / "drives.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ReplayError, match=r"drives\.csv line 2: vehicle 'ghost' is not in vehicles\.csv"):
        ReplayDay.open(x)
    x = copy("geo")
    (x / "tracks.geojson").write_text('{"type": "FeatureCollection", "features": [{"geometry": {"type": "Point"}}]}')
    with pytest.raises(ReplayError, match=r"tracks\.geojson: feature 0 is not a LineString"):
        ReplayDay.open(x)
    x = copy("zone")
    (x / "zone.geojson").write_text('{"type": "FeatureCollection", "features": [{"geometry": {"type": "Polygon", '
                                    '"coordinates": [[7]]}}]}')  # fmt: skip
    with pytest.raises(ReplayError, match=r"zone: a file of this run folder is malformed \(TypeError"):
        ReplayDay.open(x)
    x = copy("late")
    lines = (x / "drives.csv").read_text().splitlines()
    cells = lines[1].split(",")
    cells[2] = str(2**40)
    lines[1] = ",".join(cells)
    (x / "drives.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ReplayError, match=r"drives\.csv line 2: times must be within 0 \.\. 2147483647 s"):
        ReplayDay.open(x)


def test_a_taxi_folder_from_before_replays(taxi: tuple[Any, Path], tmp_path: Path) -> None:
    """Without the files this branch added (vehicles.csv, streets.geojson, the decision times):
    the taxis that drove, the tracks as the map, decisions guessed from the batch period."""
    _, folder = taxi
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    (old / "vehicles.csv").unlink()
    (old / "streets.geojson").unlink()
    rows = _csv(old / "rides.csv")
    with (old / "rides.csv").open("w", newline="") as fh:
        keep = [c for c in rows[0] if c not in ("assigned_s", "rejected_s", "cancelled_s")]
        w = csv.DictWriter(fh, keep, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    new, d = ReplayDay.open(folder), ReplayDay.open(old)
    drove = {f["properties"]["vehicle_id"] for f in _tracks(folder)}
    assert set(d.vehicle_ids) == drove | {r["vehicle"] for r in rows if r["vehicle"]}
    for key in ("served", "rejected", "rejected_by_reason", "wait_p50_s", "wait_p90_s", "pooled_share"):
        assert d.kpis_at(d.end_s)[key] == new.kpis_at(new.end_s)[key]
    assert len(d.hello_map()["streets"]["offsets"]) == len(_tracks(folder)) + 1  # the tracks drawn

    def rejections(day: ReplayDay) -> list[tuple[str, int]]:
        return [
            (e["ride_id"], e["time_s"]) for e in day.events_between(-1, day.end_s, 10**9) if e["kind"] == "rejection"
        ]

    assert rejections(d) == rejections(new) and rejections(d)  # the batch that rejected them, recounted
    mid = (d.start_s + d.end_s) // 2
    now = {r[0]: r for r in new.vehicles_at(mid)}
    assert all(r == now[r[0]] for r in d.vehicles_at(mid))


# ---------------------------------------------------------------------------------- the player
class Sink:
    """A page as the source sees it: records what it is sent (the test's sink)."""

    def __init__(self, ident: int = 1) -> None:
        self.id = ident
        self.behind = False
        self.messages: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        json.dumps(message)  # JSON-serialisable, as the server needs
        self.messages.append(message)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]


def test_player_connect_seek_speed_select_and_bad_values(taxi: tuple[Any, Path]) -> None:
    _, folder = taxi

    async def scenario() -> None:
        src = ReplaySource(folder, speed=60)
        d = src.day
        await src.start()
        page = Sink()
        await src.connected(page)
        kinds = [m["type"] for m in page.messages]
        assert kinds == ["hello", "status", "clock", "vehicles", "rides", "events", "kpi_history", "kpis"]
        hello = page.messages[0]
        assert hello["mode"] == "replay" and hello["kind"] == "taxi"
        assert hello["replay"] == {"start_s": d.start_s, "end_s": d.end_s}
        assert hello["vehicle_fields"] == list(protocol.VEHICLE_FIELDS)
        vehicles = page.of("vehicles")[0]
        assert vehicles["full"] and vehicles["items"] == d.vehicles_at(d.start_s)
        assert page.of("clock")[0] == {"type": "clock", "time_s": d.start_s, "playing": False, "speed": 60.0}
        # bad values: one error each, naming the field; nothing else changes
        bad: list[tuple[dict[str, Any], str]] = [
            ({"type": "speed", "value": 0}, "value"),
            ({"type": "speed", "value": 5000}, "value"),
            ({"type": "speed", "value": "fast"}, "value"),
            ({"type": "speed", "value": True}, "value"),
            ({"type": "speed"}, "value"),
            ({"type": "seek", "time_s": d.start_s - 1}, "time_s"),
            ({"type": "seek", "time_s": d.end_s + 1}, "time_s"),
            ({"type": "seek", "time_s": "noon"}, "time_s"),
            ({"type": "seek", "time_s": float("nan")}, "time_s"),
            ({"type": "select", "vehicle_id": 7}, "vehicle_id"),
            ({"type": "dance"}, "type"),
            ({"type": None}, "type"),
        ]
        for message, field_name in bad:
            page.messages.clear()
            await src.received(page, message)
            assert [m["type"] for m in page.messages] == ["error"], message
            assert page.messages[0]["field"] == field_name and field_name in page.messages[0]["message"]
        # seek: full frames and the KPI history up to there
        page.messages.clear()
        mid = (d.start_s + d.end_s) // 2
        await src.received(page, {"type": "seek", "time_s": mid})
        assert page.of("vehicles")[0]["full"] and page.of("vehicles")[0]["items"] == d.vehicles_at(mid)
        assert {r["ride_id"] for r in page.of("rides")[0]["items"]} == {r["ride_id"] for r in d.rides_at(mid)}
        history = page.of("kpi_history")[0]["items"]
        assert history[0]["time_s"] == d.start_s and history[-1]["time_s"] == mid
        assert len(history) <= 240 and history[-1]["values"] == d.kpis_at(mid)
        # select: the manifest, and an unknown vehicle's error
        busy = next(r[0] for r in d.vehicles_at(mid) if r[3] == "with_riders")
        page.messages.clear()
        await src.received(page, {"type": "select", "vehicle_id": busy})
        assert page.of("manifest") == [d.manifest_at(busy, mid)] and page.of("manifest")[0]["stops"]
        page.messages.clear()
        await src.received(page, {"type": "select", "vehicle_id": "nobody"})
        assert [m["type"] for m in page.messages] == ["manifest"]  # one answer, as from a live engine
        assert page.of("manifest")[0]["error"] and page.of("manifest")[0]["stops"] == []
        assert page.of("manifest")[0]["vehicle_id"] == "nobody"
        page.messages.clear()
        await src.received(page, {"type": "select", "vehicle_id": "x" * 100_000})
        assert len(json.dumps(page.messages)) < 1000  # a hostile id is not echoed back whole
        assert [(m["type"], m.get("field")) for m in page.messages] == [("error", "vehicle_id")]
        await src.received(page, {"type": "select", "vehicle_id": None})
        # speed within range
        page.messages.clear()
        await src.received(page, {"type": "speed", "value": 120})
        assert page.of("clock")[-1]["speed"] == 120.0
        await src.disconnected(page)
        await src.stop()

    asyncio.run(scenario())


def test_player_plays_diffs_and_stops_at_the_end(taxi: tuple[Any, Path]) -> None:
    _, folder = taxi

    async def scenario() -> None:
        src = ReplaySource(folder, speed=600)
        d = src.day
        page, other = Sink(1), Sink(2)
        await src.connected(page)
        await src.connected(other)
        mid = d.start_s + 1200
        await src.received(page, {"type": "seek", "time_s": mid})
        await src.received(page, {"type": "select", "vehicle_id": d.vehicle_ids[0]})
        page.messages.clear()
        other.messages.clear()
        await src.received(page, {"type": "play"})
        await asyncio.sleep(1.1)
        await src.received(page, {"type": "pause"})
        clocks = page.of("clock")
        assert clocks[0]["playing"] and not clocks[-1]["playing"]
        times = [c["time_s"] for c in clocks[1:-1]]
        assert 3 <= len(times) <= 6 and times == sorted(times)
        assert all(b - a == 150 for a, b in itertools.pairwise(times))  # 600 x 0.25 s per frame
        frames = page.of("vehicles")
        assert frames and not any(f["full"] for f in frames)
        # the diffs applied to the first frame give the fleet at the last frame's time
        fleet = {r[0]: r for r in d.vehicles_at(mid)}
        for f in frames:
            fleet.update({r[0]: r for r in f["items"]})
        last = clocks[-1]["time_s"]
        assert list(fleet.values()) == d.vehicles_at(last) or frames[-1]["time_s"] != last
        # so do the rides' diffs
        rides = {r["ride_id"]: r for r in d.rides_at(mid)}
        for m in page.of("rides"):
            assert not m["full"]
            rides.update({r["ride_id"]: r for r in m["items"]})
            for rid in m["removed"]:
                del rides[rid]
        assert page.of("rides"), "an hour of taxis with no ride opening or closing in two minutes"
        assert sorted(rides.values(), key=lambda r: r["ride_id"]) == sorted(
            d.rides_at(page.of("rides")[-1]["time_s"]), key=lambda r: r["ride_id"]
        )
        # every event between the start and the pause, once, in order
        events = [e for m in page.of("events") for e in m["items"]]
        assert events == d.events_between(mid, page.of("kpis")[-1]["time_s"], limit=10**9)
        assert other.messages == []  # the other page has its own clock, still paused
        # a page that fell behind gets full frames
        page.messages.clear()
        page.behind = True
        await src.received(page, {"type": "speed", "value": 3600})
        await src.received(page, {"type": "play"})
        await asyncio.sleep(0.6)
        assert page.of("vehicles") and all(f["full"] for f in page.of("vehicles"))
        page.behind = False
        # to the end: it stops there, playing false
        await src.received(page, {"type": "seek", "time_s": d.end_s - 60})
        await asyncio.sleep(0.8)
        assert page.of("clock")[-1] == {"type": "clock", "time_s": d.end_s, "playing": False, "speed": 3600.0}
        # play at the end starts over
        page.messages.clear()
        await src.received(page, {"type": "play"})
        assert page.of("vehicles")[0]["full"] and page.of("vehicles")[0]["time_s"] == d.start_s
        await src.stop()

    asyncio.run(scenario())


def test_bad_speed_for_the_source(taxi: tuple[Any, Path]) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplaySource(taxi[1], speed=0)


# ---------------------------------------------------------------------------------- a big fleet
def synthetic_day(folder: Path, vehicles: int, drives: int, points: int = 8) -> None:
    """A made-up day of ``vehicles`` I-MOD vehicles from 06:00: vehicle ``v`` drives from
    06:00 + ``v % 300`` s, every 150 s, ``drives`` drives of 120 s and ``points`` points back and
    forth along a straight street between two stops a kilometre apart (east-west, latitude 37.5):
    empty on even drives, with one rider (a ride booked 90 s before) on odd ones."""
    folder.mkdir(parents=True)
    start = 6 * 3600
    stops = [(127.0, 37.5), (127.0113, 37.5)]
    (folder / "summary.json").write_text(json.dumps({"scenario": "big", "start_s": start, "end_s": start + 3600 * 12}))
    stop_features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(c)}, "properties": {"stop": k}}
        for k, c in enumerate(stops)
    ]
    (folder / "stops.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": stop_features}))
    with (folder / "vehicles.csv").open("w") as fh:
        fh.write("vehicle_id,seats,depot_stop,shift_start_s,shift_end_s\n")
        fh.writelines(f"v{v},8,0,{start},{start + 12 * 3600}\n" for v in range(vehicles))
    xs = np.linspace(stops[0][0], stops[1][0], points)
    feats, rows = [], ["vehicle_id,depart_s,arrive_s,from_stop,to_stop,length_m,onboard"]
    rides = [
        "ride_id,submitted_s,requested_s,origin_stop,destination_stop,passengers,outcome,reject_reason,vehicle_id,"
        "promised_pickup_start_s,promised_pickup_end_s,offered_pickup_eta_s,max_ride_s,pickup_s,dropoff_s,"
        "cancelled_s,origin_lat,origin_lon,destination_lat,destination_lon"
    ]
    for v in range(vehicles):
        t = start + v % 300
        for k in range(drives):
            a, b = k % 2, 1 - k % 2
            line = xs if a == 0 else xs[::-1]
            rows.append(f"v{v},{t},{t + 120},{a},{b},1000,{k % 2}")
            coords = [[round(float(x), 6), 37.5] for x in line]
            props = {"vehicle_id": f"v{v}", "depart_s": t, "arrive_s": t + 120}
            feats.append(
                {"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords}, "properties": props}
            )
            if k % 2:
                (alon, alat), (blon, blat) = stops[a], stops[b]
                rides.append(
                    f"r{v}_{k},{t - 90},{t},{a},{b},1,completed,,v{v},{t - 60},{t + 240},{t},600,{t},{t + 120},-1,"
                    f"{alat},{alon},{blat},{blon}"
                )
            t += 150
    (folder / "drives.csv").write_text("\n".join(rows) + "\n")
    (folder / "tracks.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (folder / "rides.csv").write_text("\n".join(rides) + "\n")


def test_a_3000_vehicle_day_is_fast_and_recounts_by_hand(tmp_path: Path) -> None:
    vehicles, drives = 3000, 20
    synthetic_day(tmp_path / "big", vehicles, drives)
    d = ReplayDay.open(tmp_path / "big")
    assert len(d.vehicle_ids) == vehicles and len(d.rides.ids) == vehicles * drives // 2
    t = d.start_s + 1500 + 0.5
    d.vehicles_at(t)
    runs = 20
    t0 = time.perf_counter()
    for k in range(runs):
        d.vehicles_at(t + k)
    per_frame = (time.perf_counter() - t0) / runs
    assert per_frame < 0.05, per_frame  # 4 frames a second leave 0.25 s each; one page uses a fifth at most
    rows = d.vehicles_at(t)
    # v0 left at 06:00 and every 150 s: at 1500.5 s it is 0.5 s into its drive 10 (even: empty,
    # from stop 0 east to stop 1, where it picks up its next rider), 0.5 / 120 of the way
    assert rows[0] == ["v0", 37.5, round(127.0 + 0.0113 * 0.5 / 120, 6), "to_pickup", 0, 8, 37.5, 127.0113,
                       d.start_s + 1620]  # fmt: skip
    # v1 left a second later: its drive 9 (with a rider, from stop 1 west to stop 0) ended 28.5 s
    # ago and its drive 10 leaves in 1.5 s: it stands at stop 0, idle, nobody on board
    assert rows[1][1:6] == [37.5, 127.0, "idle", 0, 8]
    # v150 left at 06:02:30: it is 0.5 s into drive 9 (odd: one rider, westward)
    assert rows[150][3:5] == ["with_riders", 1]
    # recounted: vehicle v's drive k runs from 06:00 + v % 300 + 150 k for 120 s
    offs = np.arange(vehicles) % 300
    for when in (t, d.start_s + 2222.0):
        since = when - d.start_s - offs
        leg = np.floor(since / 150).astype(int)
        driving = (since >= 0) & (leg < drives) & (since - 150 * leg < 120)
        loaded = driving & (leg % 2 == 1)
        got = d.kpis_at(when)
        assert got["riders_on_board"] == int(loaded.sum())
        assert got["served"] == int(sum(np.sum(150 * np.arange(1, drives, 2) <= s) for s in since))
        assert got["vehicles_busy"] == int(driving.sum())
        open_rides = {r["ride_id"] for r in d.rides_at(when)}
        want = {
            f"r{v}_{j}"
            for v in range(vehicles)
            for j in range(1, drives, 2)
            if 150 * j - 90 <= since[v] < 150 * j + 120
        }
        assert open_rides == want
