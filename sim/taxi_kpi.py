"""KPIs of a simulated shared-taxi day, and independent checks of its records.

:func:`taxi_kpis` turns a :class:`sim.taxi.TaxiSimOutput` into one nested, JSON-serialisable
dict; :func:`validate_taxi_day` recounts the records and lists, in words, every broken rule
it finds (a rider's limits, seats, a taxi that jumps or drives faster than its roads).

Definitions (times in seconds, distances in km):

* served: the ride was completed; ``served_share`` = served / requests;
* wait = pickup - request time; delay = drop-off - (request time + direct time);
  in-vehicle time = drop-off - pickup (service starts, so the pickup's dwell counts, as in
  the trip search's ride-time limit); detour = in-vehicle time / direct time (and
  ``detour_s`` = in-vehicle time - direct time);
* vehicle-km split by why the taxi drove: ``occupied`` (someone on board), ``empty`` (to a
  pickup, nobody on board), ``rebalancing``;
* ``mean_occupancy`` = passenger-km / vehicle-km (the riders on board of an average km
  driven, empty kms included); ``occupancy_when_occupied`` = passenger-km / occupied km;
* pooled share: served rides that shared part of their ride with another party (the
  dispatcher's ``shared`` flag; :func:`validate_taxi_day` recounts it from the stops);
* batch compute time: the dispatcher's ``BatchReport.compute_s`` (wall clock, per batch).

Percentiles are NumPy's default (linear); an empty distribution gives ``None``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .geo import clock, taxi_ride_coordinates, write_taxi_geojson
from .kpi import Problems, distribution, share
from .records import Drive, SimOutput, VehicleRecord
from .report import RIDE_GEO_COLUMNS, json_safe
from .taxi import DRIVE_KINDS, EMPTY, OCCUPIED, REBALANCE, TaxiSimOutput

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Columns the taxi ``rides.csv`` has after its own: the origin's and destination's road-node
#: coordinates (WGS84 degrees, 6 decimals; empty on a graph without lat/lon) and the requested,
#: pickup and drop-off times as service-clock HH:MM (floored; empty when it did not happen).
TAXI_RIDE_GEO_COLUMNS = tuple(c for c in RIDE_GEO_COLUMNS if not c.endswith("_stop_id"))  # door to door: no stops

#: Slack (s) when comparing a ride's times with its limits (times are whole seconds).
TOLERANCE_S = 0


def taxi_kpis(out: TaxiSimOutput) -> dict[str, Any]:
    """The day's KPIs (see the module docstring for the definitions).

    Keys: ``requests`` (total, served, served_share, rejected, rejected_by_reason, cancelled,
    unfinished), ``wait_s``, ``delay_s``, ``detour`` and ``detour_s`` (distributions over
    served rides), ``vehicle_km`` (total, occupied, empty, rebalancing), ``mean_occupancy``,
    ``occupancy_when_occupied``, ``pooled_share``, ``batches`` (count, statuses, trips per
    batch, ``compute_s`` p50/p99/max), ``timings`` and ``ledger`` (the dispatcher's, or None).
    """
    status = np.asarray(out.status)
    n = int(status.size)
    served = status == "completed"
    rejected = status == "rejected"
    reasons = Counter(r or "unknown" for r, s in zip(out.reason, out.status, strict=True) if s == "rejected")
    req_t = np.fromiter((r.request_time_s for r in out.requests), np.int64, n)
    wait = out.pickup_s[served] - req_t[served]
    ride = out.dropoff_s[served] - out.pickup_s[served]
    direct = out.direct_s[served]
    delay = out.dropoff_s[served] - (req_t[served] + direct)
    positive = direct > 0
    d = out.drives
    km = d["length_m"].astype(np.float64) / 1000.0
    total_km = float(km.sum())
    occupied_km = float(km[d["kind"] == OCCUPIED].sum())
    passenger_km = float((km * d["onboard"]).sum())
    compute = np.fromiter((b.compute_s for b in out.batches), np.float64, len(out.batches))
    decided = [b for b in out.batches if b.status != "empty"]
    return {
        "requests": {
            "total": n,
            "served": int(served.sum()),
            "served_share": share(int(served.sum()), n),
            "rejected": int(rejected.sum()),
            "rejected_by_reason": dict(reasons.most_common()),
            "cancelled": int(np.sum(status == "cancelled")),
            "unfinished": int(np.sum(~np.isin(status, ["completed", "rejected", "cancelled", "no_show"]))),
        },
        "wait_s": distribution(wait),
        "delay_s": distribution(delay),
        "detour": distribution(ride[positive] / direct[positive], digits=3),
        "detour_s": distribution(ride - direct),
        "vehicle_km": {
            "total": round(total_km, 3),
            "occupied": round(occupied_km, 3),
            "empty": round(float(km[d["kind"] == EMPTY].sum()), 3),
            "rebalancing": round(float(km[d["kind"] == REBALANCE].sum()), 3),
            "per_served_ride": round(total_km / int(served.sum()), 3) if served.any() else None,
        },
        "passenger_km": round(passenger_km, 3),
        "mean_occupancy": round(passenger_km / total_km, 3) if total_km > 0 else None,
        "occupancy_when_occupied": round(passenger_km / occupied_km, 3) if occupied_km > 0 else None,
        "pooled_share": share(int(np.sum(out.shared & served)), int(served.sum())),
        "batches": {
            "count": len(out.batches),
            "decided": len(decided),
            "status": dict(Counter(b.status for b in out.batches).most_common()),
            "trips": distribution([b.trips for b in decided], digits=1),
            "compute_s": distribution(compute, digits=4, percentiles=(50, 99)),
        },
        "vehicles": len(out.vehicle_ids),
        "timings": {k: round(v, 3) for k, v in out.timings.items()},
        "ledger": out.ledger,
    }


def pooled_rides(out: TaxiSimOutput) -> np.ndarray:
    """Per request, whether another party was on board with it at some time (from the stops)."""
    pooled = np.zeros(len(out.requests), np.bool_)
    s = out.stops
    order = np.argsort(s["seq"], kind="stable")  # in the order served
    aboard: dict[int, set[int]] = defaultdict(set)
    for k in order.tolist():
        v, i = int(s["vehicle"][k]), int(s["request"][k])
        if s["pickup"][k]:
            if aboard[v]:
                pooled[i] = True
                pooled[list(aboard[v])] = True
            aboard[v].add(i)
        else:
            aboard[v].discard(i)
    return pooled


def validate_taxi_day(out: TaxiSimOutput, *, start_nodes: ArrayLike | None = None, max_per_kind: int = 20) -> list[str]:
    """Problems found by recounting ``out``; an empty list means every rule held.

    Rides: a completed ride was picked up no earlier than its request and within
    ``max_wait_s``, rode no longer than ``params.max_ride_s(direct)``, was dropped off by
    request + direct + ``max_delay_s`` when that is set, by the taxi that picked it up.
    Seats: passengers on board never exceed ``params.capacity`` (recounted from the stops).
    Movement: each taxi's drives, in time order, start where the previous one ended (the
    first at ``start_nodes[v]``, by default ``out.start_nodes``) and no earlier than it
    ended; stops are served where the taxi is, once it is there; with the drives' nodes
    recorded and ``out.network`` set, every step is a road of the network and each drive
    takes exactly its roads' travel time and length.
    The dispatcher's ``shared`` flags agree with the overlaps of the stops.
    """
    p = Problems(max_per_kind)
    params = out.params
    served = np.asarray(out.status) == "completed"
    for i in np.flatnonzero(served).tolist():
        req = out.requests[i]
        tag = f"ride {req.id}"
        pick, drop, direct = int(out.pickup_s[i]), int(out.dropoff_s[i]), int(out.direct_s[i])
        if pick < req.request_time_s:
            p.add("wait", f"{tag}: picked up at {pick} s, before its request at {req.request_time_s} s")
        if pick - req.request_time_s > params.max_wait_s + TOLERANCE_S:
            p.add("wait", f"{tag}: waited {pick - req.request_time_s} s, more than max_wait_s {params.max_wait_s}")
        ride_s = drop - pick
        if ride_s > params.max_ride_s(direct) + TOLERANCE_S:
            p.add("detour", f"{tag}: rode {ride_s} s, more than {params.max_ride_s(direct)} s for a direct {direct} s")
        if params.max_delay_s is not None and drop > req.request_time_s + direct + params.max_delay_s + TOLERANCE_S:
            late = drop - req.request_time_s - direct
            p.add("delay", f"{tag}: dropped off {late} s late (max_delay_s {params.max_delay_s})")
    _check_stops(out, p)
    _check_drives(out, p, start_nodes)
    recount = pooled_rides(out)
    for i in np.flatnonzero(served & (recount != out.shared)).tolist():
        p.add("pooled", f"ride {out.requests[i].id}: shared is {bool(out.shared[i])}, the stops say {bool(recount[i])}")
    return p.result()


def _check_stops(out: TaxiSimOutput, p: Problems) -> None:
    s = out.stops
    cap = out.params.capacity
    pax = np.fromiter((r.passengers for r in out.requests), np.int64, len(out.requests))
    load: dict[int, int] = defaultdict(int)
    order = np.argsort(s["seq"], kind="stable")  # in the order served
    picked_by: dict[int, int] = {}
    for k in order.tolist():
        v, i = int(s["vehicle"][k]), int(s["request"][k])
        if s["pickup"][k]:
            load[v] += int(pax[i])
            picked_by[i] = v
            if load[v] > cap:
                p.add("seats", f"taxi {out.vehicle_ids[v]}: {load[v]} passengers on board at {s['time_s'][k]} s "
                      f"({cap} seats)")  # fmt: skip
        else:
            load[v] -= int(pax[i])
            if picked_by.get(i) != v:
                p.add("taxi", f"ride {out.requests[i].id}: dropped off by another taxi than the one that picked it up")
        if load[v] != int(s["onboard_after"][k]):
            p.add("seats", f"taxi {out.vehicle_ids[v]}: recorded {s['onboard_after'][k]} on board, recount {load[v]}")
    if out.max_onboard.size and int(out.max_onboard.max()) > cap:
        p.add("seats", f"a taxi carried {int(out.max_onboard.max())} passengers ({cap} seats)")


def _check_drives(out: TaxiSimOutput, p: Problems, start_nodes: ArrayLike | None) -> None:
    d, s = out.drives, out.stops
    if start_nodes is None:
        start_nodes = out.start_nodes
    starts = None if start_nodes is None else np.asarray(start_nodes, np.int64)
    net = out.network
    nodes = out.drive_nodes
    # per taxi: drives and stops in the order they happened
    events: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # (seq, kind, row)
    for k in range(d["vehicle"].size):
        events[int(d["vehicle"][k])].append((int(d["seq"][k]), 0, k))
    for k in range(s["vehicle"].size):
        events[int(s["vehicle"][k])].append((int(s["seq"][k]), 1, k))
    for v, seq in events.items():
        seq.sort()
        here = None if starts is None else int(starts[v])
        free = -(1 << 62)
        for _, kind, k in seq:
            if kind == 0:
                frm, dep, arr = int(d["from_node"][k]), int(d["depart_s"][k]), int(d["arrive_s"][k])
                if here is not None and frm != here:
                    p.add("teleport", f"taxi {out.vehicle_ids[v]}: drive at {dep} s starts at node {frm}, "
                          f"but the taxi was at node {here}")  # fmt: skip
                if dep < free:
                    p.add("overlap", f"taxi {out.vehicle_ids[v]}: drive at {dep} s starts before its last one ended "
                          f"({free} s)")  # fmt: skip
                if arr < dep:
                    p.add("times", f"taxi {out.vehicle_ids[v]}: drive arrives at {arr} s before it departs ({dep} s)")
                here, free = int(d["to_node"][k]), arr
            else:
                node = int(s["node"][k])
                if here is not None and node != here:
                    p.add("teleport", f"taxi {out.vehicle_ids[v]}: served a stop at node {node} at {s['time_s'][k]} "
                          f"s, but the taxi was at node {here}")  # fmt: skip
                if int(s["time_s"][k]) < free:
                    p.add("overlap", f"taxi {out.vehicle_ids[v]}: served a stop at {s['time_s'][k]} s, before it "
                          f"arrived ({free} s)")  # fmt: skip
                here = node
    if nodes is None or net is None:
        return
    tails, heads = np.asarray(net.tail, np.int64), np.asarray(net.indices, np.int64)
    key = tails * net.num_nodes + heads
    order = np.lexsort((np.asarray(net.travel_time_s), key))  # of parallel roads, the fastest first
    sorted_key = key[order]
    for k, path in enumerate(nodes):
        path = np.asarray(path, np.int64)
        if path[0] != d["from_node"][k] or path[-1] != d["to_node"][k]:
            p.add("path", f"drive {k}: its nodes do not run from node {d['from_node'][k]} to {d['to_node'][k]}")
            continue
        want = path[:-1] * net.num_nodes + path[1:]
        pos = np.searchsorted(sorted_key, want)
        pos = np.minimum(pos, sorted_key.size - 1)
        if not np.array_equal(sorted_key[pos], want):
            p.add("teleport", f"drive {k} of taxi {out.vehicle_ids[int(d['vehicle'][k])]}: a step is not a road")
            continue
        edges = order[pos]
        took = int(d["arrive_s"][k] - d["depart_s"][k])
        if took != int(np.asarray(net.travel_time_s, np.int64)[edges].sum()):
            p.add("speed", f"drive {k}: took {took} s, its roads take {int(net.travel_time_s[edges].sum())} s")
        if int(d["length_m"][k]) != int(np.asarray(net.length_m, np.int64)[edges].sum()):
            p.add("distance", f"drive {k}: {d['length_m'][k]} m recorded, its roads are "
                  f"{int(net.length_m[edges].sum())} m")  # fmt: skip


# ---------------------------------------------------------------------------------- report
def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}{unit}"


def format_taxi_summary(kpis: dict[str, Any]) -> str:
    """The KPIs of :func:`taxi_kpis` as a few lines of text (for a terminal or a report), with
    the fares and savings of the dispatcher's ledger when there is one."""
    r, km, b = kpis["requests"], kpis["vehicle_km"], kpis["batches"]
    share = r["served_share"]
    reasons = ", ".join(f"{k} {v}" for k, v in r["rejected_by_reason"].items()) or "none"
    lines = [
        f"requests      {r['total']:,}: served {r['served']:,} ({_fmt(None if share is None else 100 * share, ' %')}), "
        f"rejected {r['rejected']:,} ({reasons}), cancelled {r['cancelled']:,}, unfinished {r['unfinished']:,}",
        f"wait          mean {_fmt(kpis['wait_s']['mean'], ' s')}, p50 {_fmt(kpis['wait_s']['p50'], ' s')}, "
        f"p90 {_fmt(kpis['wait_s']['p90'], ' s')}",
        f"delay         mean {_fmt(kpis['delay_s']['mean'], ' s')}; in-vehicle detour mean "
        f"{_fmt(kpis['detour']['mean'], '', 3)} x direct ({_fmt(kpis['detour_s']['mean'], ' s')} more)",
        f"vehicle-km    {_fmt(km['total'])} (occupied {_fmt(km['occupied'])}, empty {_fmt(km['empty'])}, "
        f"rebalancing {_fmt(km['rebalancing'])})",
        f"occupancy     {_fmt(kpis['mean_occupancy'], '', 3)} riders per km driven; pooled share "
        f"{_fmt(None if kpis['pooled_share'] is None else 100 * kpis['pooled_share'], ' %')}",
        f"batches       {b['count']:,} ({b['decided']:,} with decisions); compute p50 "
        f"{_fmt(b['compute_s']['p50'], ' s', 3)}, p99 {_fmt(b['compute_s']['p99'], ' s', 3)}, "
        f"max {_fmt(b['compute_s']['max'], ' s', 3)}",
    ]
    ledger = kpis.get("ledger")
    if ledger:
        lines.append(
            f"fares         riders paid {ledger['fares_paid_krw']:,} KRW, saving {ledger['rider_savings_pct']:.1f} % "
            f"against solo fares; drivers {ledger['driver_revenue_per_driving_hour_krw']:,.0f} KRW per driving hour "
            f"(solo service {ledger['solo_driver_revenue_per_hour_krw']:,.0f}); vehicle-km saved against solo "
            f"rides {ledger['vehicle_km_saved_pct']:.1f} %"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- the map
def taxi_map_day(out: TaxiSimOutput) -> SimOutput:
    """The drives of a shared-taxi day as the :class:`sim.records.SimOutput` that
    :func:`sim.plots.plot_map` draws: one :class:`sim.records.Drive` per drive with its road
    nodes (``out.drive_nodes`` and ``out.network`` must be set; ``from_stop`` / ``to_stop``
    are -1: door to door, no stops), one :class:`sim.records.VehicleRecord` per taxi, no rides,
    no stops, no zone."""
    if out.drive_nodes is None or out.network is None:
        raise ValueError("the taxi day did not record its drives' paths (record_paths=False) or its network")
    d = out.drives
    drives = [
        Drive(out.vehicle_ids[int(v)], int(dep), int(arr), -1, -1, int(length), int(onboard), nodes.tolist())
        for v, dep, arr, length, onboard, nodes in zip(
            d["vehicle"], d["depart_s"], d["arrive_s"], d["length_m"], d["onboard"], out.drive_nodes, strict=True
        )
    ]
    vehicles = [VehicleRecord(vid, out.params.capacity, -1, out.start_s, out.end_s) for vid in out.vehicle_ids]
    return SimOutput(out.name, 0, out.start_s, out.end_s, [], drives, [], vehicles, network=out.network)


def map_title_kpis(kpis: dict[str, Any]) -> dict[str, Any]:
    """The KPIs of :func:`taxi_kpis` under the keys the title of :func:`sim.plots.plot_map`
    reads from :func:`sim.kpi.compute_kpis`: requests (``total``, ``service_rate``), ``wait_s``
    (``p50``, ``p90``) and distance (``vehicle_km``; ``empty_share``: the km driven with nobody
    on board, to a pickup or rebalancing, over all km)."""
    r, km = kpis["requests"], kpis["vehicle_km"]
    total = km["total"]
    return {
        "requests": {"total": r["total"], "service_rate": r["served_share"]},
        "wait_s": {"p50": kpis["wait_s"]["p50"], "p90": kpis["wait_s"]["p90"]},
        "distance": {"vehicle_km": total, "empty_share": (total - km["occupied"]) / total if total > 0 else None},
    }


def plot_taxi_map(out: TaxiSimOutput, kpis: dict[str, Any] | None = None) -> Figure:
    """The shared-taxi day on the map: :func:`sim.plots.plot_map` of :func:`taxi_map_day` (the
    streets the taxis drove, coloured by the passengers on board and as wide as the passengers
    carried), titled with :func:`map_title_kpis` (``kpis`` from :func:`taxi_kpis`, computed
    when not given)."""
    from .plots import plot_map

    return plot_map(taxi_map_day(out), map_title_kpis(taxi_kpis(out) if kpis is None else kpis))


# ---------------------------------------------------------------------------------- files
def decision_times(out: TaxiSimOutput) -> tuple[np.ndarray, np.ndarray]:
    """Per request, when it was first promised to a taxi (``assigned_s``) and when it was turned
    away (``rejected_s``), -1 where that did not happen: as the simulation recorded them
    (:class:`sim.taxi.TaxiSimOutput`), else from the batches' reports (a day recorded before)."""
    n = len(out.requests)
    if out.assigned_s is not None and out.rejected_s is not None:
        return out.assigned_s, out.rejected_s
    assigned, rejected = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    index = {req.id: i for i, req in enumerate(out.requests)}
    for b in reversed(out.batches):  # the earliest batch wins
        for rid in b.assigned:
            assigned[index[rid]] = b.time_s
        for rid in b.rejected:
            rejected[index[rid]] = b.time_s
    return assigned, rejected


#: Columns of a shared-taxi day's ``vehicles.csv``: each taxi's seats, where it started (road node
#: and its WGS84 coordinates, empty on a graph without lat/lon) and its shift.
TAXI_VEHICLE_COLUMNS = ("vehicle_id", "seats", "start_node", "start_lat", "start_lon", "shift_start_s", "shift_end_s")


def write_taxi_report(
    out: TaxiSimOutput, folder: Path, *, meta: dict[str, Any] | None = None, plots: bool = True
) -> dict[str, Path]:
    """Write the day's run folder; return the files by name.

    ``summary.json`` (``summary``): name, mode, params, ``meta``, timings, the KPIs of
    :func:`taxi_kpis` and the problems of :func:`validate_taxi_day`; ``rides.csv`` one row per
    request (its own columns, ``assigned_s``, ``rejected_s`` (:func:`decision_times`) and
    ``cancelled_s``, then :data:`TAXI_RIDE_GEO_COLUMNS`); ``drives.csv`` one row per drive (without
    its nodes); ``batches.csv`` one row per batch; ``vehicles.csv`` (``vehicles``) one row per taxi
    (:data:`TAXI_VEHICLE_COLUMNS`); ``report.md`` (``report``) the summary in words.
    When the network has lat/lon, the GeoJSON of :func:`sim.geo.write_taxi_geojson`:
    ``rides.geojson`` (``rides_geojson``) and, when the day recorded its drives' paths
    (``record_paths``), ``tracks.geojson`` (``tracks_geojson``); otherwise a log line says why
    not. (A shared-taxi scenario has no zone, so there is no ``zone.geojson``.) With ``plots``
    and the drives' paths recorded, ``map.png`` (``map``, :func:`plot_taxi_map`; also on
    benchmark graphs, drawn in their metric coordinates).
    """
    folder.mkdir(parents=True, exist_ok=True)
    kpis = taxi_kpis(out)
    problems = validate_taxi_day(out)
    names = ("summary.json", "rides.csv", "drives.csv", "batches.csv", "vehicles.csv", "report.md")
    files = {name.split(".")[0]: folder / name for name in names}
    summary = {
        "name": out.name,
        "mode": "batch" if out.batch else "immediate insertion",
        "start_s": out.start_s,
        "end_s": out.end_s,
        "params": dataclasses.asdict(out.params),
        "meta": meta or {},
        "kpis": kpis,
        "problems": problems,
    }
    files["summary"].write_text(json.dumps(json_safe(summary), indent=2) + "\n")
    with files["rides"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "origin", "destination", "request_time_s", "passengers", "share", "status", "reason",
                    "vehicle", "pickup_s", "dropoff_s", "direct_s", "shared", "fare_krw", "assigned_s",
                    "rejected_s", "cancelled_s", *TAXI_RIDE_GEO_COLUMNS])  # fmt: skip
        assigned, rejected = decision_times(out)
        cancelled = out.cancelled_s if out.cancelled_s is not None else np.full(len(out.requests), -1, np.int64)
        geo = taxi_ride_coordinates(out)
        coords = [np.round(geo[key], 6) for key in TAXI_RIDE_GEO_COLUMNS[:4]]
        for i, req in enumerate(out.requests):
            v = int(out.vehicle[i])
            where = [float(c[i]) if np.isfinite(c[i]) else "" for c in coords]
            when = [clock(req.request_time_s), clock(int(out.pickup_s[i])), clock(int(out.dropoff_s[i]))]
            w.writerow([req.id, req.origin, req.destination, req.request_time_s, req.passengers, int(req.share),
                        out.status[i], out.reason[i] or "", out.vehicle_ids[v] if v >= 0 else "",
                        int(out.pickup_s[i]), int(out.dropoff_s[i]), int(out.direct_s[i]), int(out.shared[i]),
                        int(out.fare_krw[i]), int(assigned[i]), int(rejected[i]), int(cancelled[i]), *where,
                        *when])  # fmt: skip
    d = out.drives
    with files["drives"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["vehicle", "depart_s", "arrive_s", "from_node", "to_node", "length_m", "onboard", "parties",
                    "kind"])  # fmt: skip
        for k in range(d["vehicle"].size):
            w.writerow([out.vehicle_ids[int(d["vehicle"][k])], int(d["depart_s"][k]), int(d["arrive_s"][k]),
                        int(d["from_node"][k]), int(d["to_node"][k]), int(d["length_m"][k]), int(d["onboard"][k]),
                        int(d["parties"][k]), DRIVE_KINDS[int(d["kind"][k])]])  # fmt: skip
    with files["batches"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        cols = ["time_s", "assigned", "reassigned", "rejected", "open", "trips", "status", "objective",
                "gather_s", "trips_s", "assign_s", "compute_s"]  # fmt: skip
        w.writerow(cols)
        for b in out.batches:
            w.writerow([b.time_s, len(b.assigned), len(b.reassigned), len(b.rejected), b.open, b.trips, b.status,
                        b.objective, round(b.gather_s, 5), round(b.trips_s, 5), round(b.assign_s, 5),
                        round(b.compute_s, 5)])  # fmt: skip
    net = out.network
    with files["vehicles"].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TAXI_VEHICLE_COLUMNS)
        for v, vid in enumerate(out.vehicle_ids):
            node = int(out.start_nodes[v]) if out.start_nodes is not None else -1
            where = ["", ""]
            if node >= 0 and net is not None and net.has_lat_lon:
                where = [round(float(net.lat[node]), 6), round(float(net.lon[node]), 6)]
            shift = out.shifts_s[v].tolist() if out.shifts_s is not None else [out.start_s, out.end_s]
            w.writerow([vid, out.params.capacity, node, *where, *shift])
    geo_files, note = write_taxi_geojson(out, folder)
    files.update(geo_files)
    if note:
        log.info("%s: %s", out.name, note)
    if plots and out.drive_nodes is not None and out.network is not None:
        files["map"] = folder / "map.png"
        plot_taxi_map(out, kpis).savefig(files["map"], format="png")
    elif plots:
        log.info("%s: no map.png: the day did not record its drives' paths (record_paths=False) or network", out.name)
    p = out.params
    text = [
        f"# {out.name}: a simulated shared-taxi day",
        "",
        f"{len(out.vehicle_ids):,} taxis of {p.capacity} seats (at most {p.max_parties} parties), "
        f"{'batches every ' + str(p.batch_s) + ' s' if out.batch else 'immediate insertion'}, "
        f"maximum wait {p.max_wait_s} s, maximum delay "
        f"{'none' if p.max_delay_s is None else str(p.max_delay_s) + ' s'}, detour at most x{p.detour_factor} and "
        f"+{p.detour_s} s, rebalancing {'on' if p.rebalance else 'off'}.",
        "",
        "```",
        format_taxi_summary(kpis),
        "```",
        "",
        "Checks (sim.taxi_kpi.validate_taxi_day): "
        + ("every rule held." if not problems else f"{len(problems)} problems:"),
    ]
    text += [f"- {x}" for x in problems[:20]]
    files["report"].write_text("\n".join(text) + "\n")
    return files


__all__ = [
    "DRIVE_KINDS",
    "TAXI_RIDE_GEO_COLUMNS",
    "TAXI_VEHICLE_COLUMNS",
    "decision_times",
    "distribution",
    "format_taxi_summary",
    "map_title_kpis",
    "plot_taxi_map",
    "pooled_rides",
    "taxi_kpis",
    "taxi_map_day",
    "validate_taxi_day",
    "write_taxi_report",
]
