"""KPIs of a simulated day and independent consistency checks of its records.

:func:`compute_kpis` turns a :class:`sim.records.SimOutput` into one nested, JSON-serialisable
dict (see its docstring for the keys); :func:`validate` recounts the records independently
and lists every inconsistency it finds, in words; :func:`rejection_warnings` says, in words,
when one rejection reason turns away more than 5 % of the requests (a zone the demand does
not fit, a fleet too small), which a service rate alone does not explain.

Conventions:

* distributions use NumPy's default (linear) percentiles; an empty distribution gives ``None``
  for every statistic (``null`` in JSON);
* seconds are rounded to 0.1 s, kilometres to metres (3 decimals), shares and factors to
  4 decimals, money to whole units of the currency's smallest unit (won by default);
* distances, loads and on-board counts are recounted from the drives and stop visits, never
  taken from the vehicle totals (which :func:`validate` checks against the recounts);
* "riders" and "passengers" are people (a ride may carry several), "rides" are requests.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from routing import InvalidArgumentError, plain_repr

from .records import Drive, RideRecord, SimOutput, StopVisit, VehicleRecord

#: The outcomes a :class:`~sim.records.RideRecord` may have.
OUTCOMES = ("completed", "rejected", "cancelled", "no_show", "open")

#: Slack (s) allowed when comparing service times with promises (times are whole seconds).
TOLERANCE_S = 1

#: Default width (s) of the bins of the occupancy time series.
DEFAULT_BIN_S = 900


# ---------------------------------------------------------------------------------- helpers
def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def share(part: float, whole: float) -> float | None:
    """``part / whole`` to four decimals, ``None`` when ``whole`` is not positive."""
    return round(part / whole, 4) if whole > 0 else None


def distribution(values: ArrayLike, *, digits: int = 1, percentiles: Sequence[int] = (50, 90)) -> dict[str, Any]:
    """``count``, ``mean``, ``p<q>`` for each q and ``max`` of ``values`` (``None`` when empty)."""
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    out: dict[str, Any] = {"count": int(arr.size)}
    out["mean"] = _round(float(arr.mean()), digits) if arr.size else None
    for q in percentiles:
        out[f"p{q}"] = _round(float(np.percentile(arr, q)), digits) if arr.size else None
    out["max"] = _round(float(arr.max()), digits) if arr.size else None
    return out


def _booked(ride: RideRecord) -> bool:
    """Accepted: completed or no-show, or not rejected and given a promise or a vehicle."""
    if ride.outcome in ("completed", "no_show"):
        return True
    return ride.outcome != "rejected" and (ride.promised_pickup_start_s >= 0 or ride.vehicle_id != "")


def _in_window(ride: RideRecord) -> bool:
    return ride.promised_pickup_start_s - TOLERANCE_S <= ride.pickup_s <= ride.promised_pickup_end_s + TOLERANCE_S


def integral_at(
    edges: NDArray[np.float64], start: NDArray[np.float64], end: NDArray[np.float64], weight: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``F(t) = sum_i weight_i * |[start_i, end_i) ∩ (-inf, t)|`` at each of ``edges``.

    With the intervals sorted by start and by end and prefix sums of the weights,
    ``F(t) = t W_start(t) - S_start(t) - (t W_end(t) - S_end(t))`` where ``W_x(t)`` sums the
    weights and ``S_x(t)`` the weighted times of the intervals with ``x_i < t``.
    """
    result = np.zeros(edges.shape[0], np.float64)
    for times, sign in ((start, 1.0), (end, -1.0)):
        order = np.argsort(times, kind="stable")
        t_sorted = times[order]
        w_sorted = weight[order]
        cum_w = np.concatenate([[0.0], np.cumsum(w_sorted)])
        cum_wt = np.concatenate([[0.0], np.cumsum(w_sorted * t_sorted)])
        k = np.searchsorted(t_sorted, edges, side="left")
        result += sign * (edges * cum_w[k] - cum_wt[k])
    return result


def _binned_mean(
    intervals: Iterable[tuple[int, int, float]], edges: NDArray[np.float64], bin_s: int
) -> NDArray[np.float64]:
    """Time-average over each bin of the sum of ``weight`` over the intervals covering it."""
    rows = [(a, b, w) for a, b, w in intervals if b > a and w != 0]
    if not rows:
        return np.zeros(edges.shape[0] - 1, np.float64)
    arr = np.asarray(rows, dtype=np.float64)
    integral = integral_at(edges, arr[:, 0], arr[:, 1], arr[:, 2])
    return np.diff(integral) / bin_s


def _stop_intervals(visit: StopVisit) -> list[tuple[int, int, float]]:
    """On-board riders at a stop: before service (waiting for it) and after boarding."""
    before = visit.onboard_after - visit.boarded + visit.alighted
    return [
        (visit.arrive_s, visit.service_start_s, float(before)),
        (visit.service_start_s, visit.depart_s, float(visit.onboard_after)),
    ]


# ---------------------------------------------------------------------------------- KPIs
def occupancy_series(out: SimOutput, *, bin_s: int = DEFAULT_BIN_S) -> dict[str, Any]:
    """Riders on board, vehicles driving and vehicles on shift over the day, in bins of ``bin_s``.

    Each value is a time average over its bin, summed over the fleet. A drive contributes its
    ``onboard`` over ``[depart_s, arrive_s)``; a stop visit contributes the riders on board
    before service (``onboard_after - boarded + alighted``) over ``[arrive_s, service_start_s)``
    and ``onboard_after`` over ``[service_start_s, depart_s)`` (boarding and alighting are taken
    to happen at the start of service). The bins start at ``out.start_s`` and cover ``out.end_s``
    and the last drive or visit.
    """
    if not 1 <= bin_s <= 86_400:
        raise InvalidArgumentError("bin_s", f"got {plain_repr(bin_s)}", "1 .. 86400 s")
    last = max([out.end_s, out.start_s + 1] + [d.arrive_s for d in out.drives] + [v.depart_s for v in out.visits])
    num_bins = max(1, math.ceil((last - out.start_s) / bin_s))
    edges = out.start_s + bin_s * np.arange(num_bins + 1, dtype=np.float64)
    on_board = _binned_mean(
        [(d.depart_s, d.arrive_s, float(d.onboard)) for d in out.drives]
        + [iv for v in out.visits for iv in _stop_intervals(v)],
        edges,
        bin_s,
    )
    driving = _binned_mean([(d.depart_s, d.arrive_s, 1.0) for d in out.drives], edges, bin_s)
    on_shift = _binned_mean([(v.shift_start_s, v.shift_end_s, 1.0) for v in out.vehicles], edges, bin_s)
    return {
        "bin_s": bin_s,
        "start_s": [int(t) for t in edges[:-1]],
        "on_board": [round(float(x), 3) for x in on_board],
        "vehicles_driving": [round(float(x), 3) for x in driving],
        "vehicles_on_shift": [round(float(x), 3) for x in on_shift],
    }


def vehicle_kpis(out: SimOutput) -> list[dict[str, Any]]:
    """One dict per vehicle (in ``out.vehicles`` order), recounted from drives and visits.

    Keys: ``vehicle_id``, ``seats``, ``drives``, ``driven_km``, ``loaded_km``, ``passenger_km``,
    ``riders`` (passengers who boarded), ``rides_completed``, ``stops_served`` (stop visits),
    ``shift_h``, ``busy_h`` (from the vehicle record) and ``utilisation`` = busy / shift time.
    """
    driven: Counter[str] = Counter()
    loaded: Counter[str] = Counter()
    pax: Counter[str] = Counter()
    drives: Counter[str] = Counter()
    for d in out.drives:
        drives[d.vehicle_id] += 1
        driven[d.vehicle_id] += d.length_m
        pax[d.vehicle_id] += d.length_m * d.onboard
        if d.onboard > 0:
            loaded[d.vehicle_id] += d.length_m
    boarded: Counter[str] = Counter()
    visits: Counter[str] = Counter()
    for v in out.visits:
        visits[v.vehicle_id] += 1
        boarded[v.vehicle_id] += v.boarded
    completed = Counter(r.vehicle_id for r in out.rides if r.outcome == "completed")
    rows = []
    for veh in out.vehicles:
        vid = veh.vehicle_id
        shift_s = veh.shift_end_s - veh.shift_start_s
        rows.append(
            {
                "vehicle_id": vid,
                "seats": veh.seats,
                "drives": drives[vid],
                "driven_km": round(driven[vid] / 1000, 3),
                "loaded_km": round(loaded[vid] / 1000, 3),
                "passenger_km": round(pax[vid] / 1000, 3),
                "riders": boarded[vid],
                "rides_completed": completed[vid],
                "stops_served": visits[vid],
                "shift_h": round(shift_s / 3600, 3),
                "busy_h": round(veh.busy_s / 3600, 3),
                "utilisation": share(veh.busy_s, shift_s),
            }
        )
    return rows


def compute_kpis(out: SimOutput, *, bin_s: int = DEFAULT_BIN_S) -> dict[str, Any]:
    """The KPIs of a simulated day as a nested, JSON-serialisable dict.

    Sections (all times in seconds, distances in km unless the key says otherwise):

    * ``requests``: ``total``, ``booked`` (not rejected and given a promise or a vehicle;
      completed and no-show rides always count), ``completed``, ``rejected``,
      ``rejected_by_reason`` (reason -> count, most frequent first; ``"unknown"`` when the
      reason is empty), ``cancelled``, ``no_show``, ``open``, ``passengers_completed`` and
      ``service_rate`` = completed / total;
    * ``wait_s`` (pickup - requested) and ``ride_s`` (:attr:`RideRecord.ride_s`) of completed
      rides: ``count``, ``mean``, ``p50``, ``p90``, ``p95``, ``max``;
    * ``detour_factor`` (ride_s / direct_time_s, rides with a direct time): ``count``,
      ``mean``, ``p50``, ``p90``;
    * ``punctuality``: ``pickup_in_window_share`` (completed rides with a promise picked up in
      ``[promised_pickup_start_s - 1, promised_pickup_end_s + 1]``), ``late_pickups``,
      ``early_pickups``, ``within_max_ride_share`` (ride_s <= max_ride_s + 1, rides with a
      maximum);
    * ``distance``: ``vehicle_km``, ``empty_km`` (driven with nobody on board), ``loaded_km``,
      ``empty_share``, ``passenger_km`` (sum of length x on board), ``passenger_km_per_vehicle_km``;
    * ``fleet``: ``vehicles``, ``seats``, ``vehicle_hours`` (shift time), ``busy_hours``,
      ``utilisation`` (busy / shift), ``riders_per_vehicle_hour`` and
      ``rides_per_vehicle_hour`` (completed passengers and rides per shift hour);
    * ``revenue``: ``fare_krw`` (completed rides), ``fare_per_ride_krw``, in the smallest unit
      of ``currency`` (``SimOutput.meta["currency"]``, the scenario's ``[fares] currency``; KRW
      without one);
    * ``walking``: mean ``to_pickup_m``, ``from_dropoff_m`` and ``total_m`` of completed rides
      (straight-line metres from the rider's point to the stop and back), and their
      distributions ``to_pickup``, ``from_dropoff``, ``total`` (count, mean, p50, p90, max);
    * ``occupancy``: ``mean_on_board_driving`` (passenger_km / vehicle_km) and ``series``
      (:func:`occupancy_series`);
    * ``vehicles``: :func:`vehicle_kpis`.
    """
    rides = out.rides
    outcomes = Counter(r.outcome for r in rides)
    reasons = Counter(r.reject_reason or "unknown" for r in rides if r.outcome == "rejected")
    done = [r for r in rides if r.outcome == "completed"]
    total = len(rides)
    passengers_done = sum(r.passengers for r in done)
    requests = {
        "total": total,
        "booked": sum(1 for r in rides if _booked(r)),
        "completed": outcomes["completed"],
        "rejected": outcomes["rejected"],
        "rejected_by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "cancelled": outcomes["cancelled"],
        "no_show": outcomes["no_show"],
        "open": outcomes["open"],
        "passengers_completed": passengers_done,
        "service_rate": share(len(done), total),
    }

    wait = distribution([r.wait_s for r in done], digits=1, percentiles=(50, 90, 95))
    ride = distribution([r.ride_s for r in done], digits=1, percentiles=(50, 90, 95))
    detour = distribution(
        [r.ride_s / r.direct_time_s for r in done if r.direct_time_s > 0], digits=4, percentiles=(50, 90)
    )
    del detour["max"]

    promised = [r for r in done if r.promised_pickup_start_s >= 0 and r.promised_pickup_end_s >= 0]
    capped = [r for r in done if r.max_ride_s >= 0]
    punctuality = {
        "pickup_in_window_share": share(sum(1 for r in promised if _in_window(r)), len(promised)),
        "late_pickups": sum(1 for r in promised if r.pickup_s > r.promised_pickup_end_s + TOLERANCE_S),
        "early_pickups": sum(1 for r in promised if r.pickup_s < r.promised_pickup_start_s - TOLERANCE_S),
        "within_max_ride_share": share(sum(1 for r in capped if r.ride_s <= r.max_ride_s + TOLERANCE_S), len(capped)),
    }

    driven_m = sum(d.length_m for d in out.drives)
    loaded_m = sum(d.length_m for d in out.drives if d.onboard > 0)
    passenger_m = sum(d.length_m * d.onboard for d in out.drives)
    distance = {
        "vehicle_km": round(driven_m / 1000, 3),
        "empty_km": round((driven_m - loaded_m) / 1000, 3),
        "loaded_km": round(loaded_m / 1000, 3),
        "empty_share": share(driven_m - loaded_m, driven_m),
        "passenger_km": round(passenger_m / 1000, 3),
        "passenger_km_per_vehicle_km": share(passenger_m, driven_m),
    }

    shift_s = sum(v.shift_end_s - v.shift_start_s for v in out.vehicles)
    busy_s = sum(v.busy_s for v in out.vehicles)
    fleet = {
        "vehicles": len(out.vehicles),
        "seats": sum(v.seats for v in out.vehicles),
        "vehicle_hours": round(shift_s / 3600, 3),
        "busy_hours": round(busy_s / 3600, 3),
        "utilisation": share(busy_s, shift_s),
        "riders_per_vehicle_hour": round(passengers_done * 3600 / shift_s, 3) if shift_s > 0 else None,
        "rides_per_vehicle_hour": round(len(done) * 3600 / shift_s, 3) if shift_s > 0 else None,
    }

    fare = sum(r.fare_krw for r in done)
    revenue = {
        "fare_krw": fare,
        "fare_per_ride_krw": round(fare / len(done)) if done else None,
        "currency": out.meta.get("currency", "KRW"),
    }

    def mean_of(values: list[int]) -> float | None:
        return round(sum(values) / len(values), 1) if values else None

    walk_to = [r.walk_to_pickup_m for r in done]
    walk_from = [r.walk_from_dropoff_m for r in done]
    walk_total = [a + b for a, b in zip(walk_to, walk_from, strict=True)]
    walking = {
        "to_pickup_m": mean_of(walk_to),
        "from_dropoff_m": mean_of(walk_from),
        "total_m": mean_of(walk_total),
        "to_pickup": distribution(walk_to, digits=1, percentiles=(50, 90)),
        "from_dropoff": distribution(walk_from, digits=1, percentiles=(50, 90)),
        "total": distribution(walk_total, digits=1, percentiles=(50, 90)),
    }

    occupancy = {
        "mean_on_board_driving": share(passenger_m, driven_m),
        "series": occupancy_series(out, bin_s=bin_s),
    }

    return {
        "requests": requests,
        "wait_s": wait,
        "ride_s": ride,
        "detour_factor": detour,
        "punctuality": punctuality,
        "distance": distance,
        "fleet": fleet,
        "revenue": revenue,
        "walking": walking,
        "occupancy": occupancy,
        "vehicles": vehicle_kpis(out),
    }


# ---------------------------------------------------------------------------------- warnings
#: A rejection reason that turns away more than this share of the requests gets a warning.
REJECTION_WARNING_SHARE = 0.05

#: Per rejection reason: what usually causes it in a simulated day, and what to change.
REJECTION_HINTS: dict[str, str] = {
    "outside_zone": "trips start or end outside the service zone; check [service] zone against the demand",
    "outside_hours": "pickups requested outside [service] service_start_s .. service_end_s; "
    "check them against [scenario] start/end and [demand] profile",
    "no_stop_in_reach": "no stop within [service] max_walk_m; a longer walk or closer stops ([stops] spacing_m)",
    "same_stop": "both ends come to the same stop: trips shorter than the stop spacing ([stops] spacing_m)",
    "too_many_passengers": "parties larger than [service] max_passengers_per_request ([demand] group_sizes)",
    "no_wheelchair_vehicle": "no free wheelchair place; more [fleet] wheelchair_places",
    "too_far_ahead": "booked further ahead than [service] prebook_horizon_s ([demand] prebook_lead_min)",
    "too_short_notice": "booked with less notice than [service] min_lead_time_s ([demand] lead_max_min)",
    "in_the_past": "requested for a time already past when asked",
    "no_vehicle_in_time": "the fleet is too small or too far away; more [fleet] vehicles or a longer "
    "[service] max_wait_s",
    "no_feasible_insertion": "the vehicles are full with earlier promises; more [fleet] vehicles or seats, "
    "or looser [service] max_wait_s / max_ride_alpha",
}


def rejection_warnings(kpis: dict[str, Any], *, share: float = REJECTION_WARNING_SHARE) -> list[str]:
    """One sentence per rejection reason that rejected more than ``share`` of the requests.

    From the ``requests`` section of :func:`compute_kpis`, most frequent reason first; each
    gives the share, the count, the reason and a hint (:data:`REJECTION_HINTS`). Empty when
    no reason passes the share (or there are no requests).
    """
    req = kpis["requests"]
    total = req["total"]
    out = []
    for reason, count in req["rejected_by_reason"].items():
        if total and count > share * total:
            hint = REJECTION_HINTS.get(reason)
            out.append(
                f"{100 * count / total:.1f} % of the requests ({count} of {total}) were rejected as {reason}"
                + (f": {hint}" if hint else "")
            )
    return out


# ---------------------------------------------------------------------------------- checks
class Problems:
    """Collects problems by kind, keeping the first ``limit`` of each and counting the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept: list[str] = []
        self.count: Counter[str] = Counter()

    def add(self, kind: str, text: str) -> None:
        self.count[kind] += 1
        if self.count[kind] <= self.limit:
            self.kept.append(text)

    def result(self) -> list[str]:
        extra = [f"... and {n - self.limit} more {kind} problems" for kind, n in self.count.items() if n > self.limit]
        return self.kept + extra


def _check_rides(out: SimOutput, vehicles: dict[str, VehicleRecord], p: Problems) -> None:
    seen: Counter[str] = Counter(r.ride_id for r in out.rides)
    for ride_id, n in seen.items():
        if n > 1:
            p.add("duplicate ride", f"ride {ride_id}: recorded {n} times")
    for r in out.rides:
        tag = f"ride {r.ride_id}"
        if r.outcome not in OUTCOMES:
            p.add("outcome", f"{tag}: unknown outcome {r.outcome!r} (allowed: {', '.join(OUTCOMES)})")
        if r.outcome == "rejected" and not r.reject_reason:
            p.add("reject reason", f"{tag}: rejected without a reject_reason")
        if r.passengers < 1:
            p.add("passengers", f"{tag}: passengers is {r.passengers} (allowed: >= 1)")
        if r.vehicle_id and r.vehicle_id not in vehicles:
            p.add("unknown vehicle", f"{tag}: vehicle_id {r.vehicle_id!r} is not in the fleet")
        if r.outcome != "completed":
            continue
        if not r.vehicle_id:
            p.add("unknown vehicle", f"{tag}: completed without a vehicle_id")
        if r.pickup_s < r.submitted_s:
            p.add("times", f"{tag}: pickup_s {r.pickup_s} before submitted_s {r.submitted_s}")
        if r.ride_s < 0:
            p.add("times", f"{tag}: dropoff_s {r.dropoff_s} before the pickup ends ({r.pickup_s + r.pickup_service_s})")
        if r.promised_pickup_start_s >= 0 and not _in_window(r):
            p.add(
                "pickup window",
                f"{tag}: picked up at {r.pickup_s} s, outside its promised window "
                f"{r.promised_pickup_start_s} .. {r.promised_pickup_end_s} s (± {TOLERANCE_S} s)",
            )
        if r.max_ride_s >= 0 and r.ride_s > r.max_ride_s + TOLERANCE_S:
            p.add("max ride", f"{tag}: ride_s {r.ride_s} exceeds max_ride_s {r.max_ride_s}")


def _check_legs(out: SimOutput, vehicles: dict[str, VehicleRecord], p: Problems) -> None:
    for d in out.drives:
        tag = f"drive of {d.vehicle_id} at {d.depart_s} s"
        veh = vehicles.get(d.vehicle_id)
        if veh is None:
            p.add("unknown vehicle", f"{tag}: vehicle_id {d.vehicle_id!r} is not in the fleet")
        elif not 0 <= d.onboard <= veh.seats:
            p.add("seats", f"{tag}: onboard {d.onboard} outside 0 .. {veh.seats} seats")
        if d.arrive_s < d.depart_s:
            p.add("times", f"{tag}: arrive_s {d.arrive_s} before depart_s {d.depart_s}")
        if d.length_m < 0:
            p.add("distance", f"{tag}: length_m {d.length_m} is negative (allowed: >= 0)")
    for v in out.visits:
        tag = f"visit of {v.vehicle_id} to stop {v.stop} at {v.arrive_s} s"
        veh = vehicles.get(v.vehicle_id)
        if veh is None:
            p.add("unknown vehicle", f"{tag}: vehicle_id {v.vehicle_id!r} is not in the fleet")
        elif v.seats != veh.seats:
            p.add("seats", f"{tag}: seats {v.seats} differ from the vehicle's {veh.seats}")
        if not 0 <= v.onboard_after <= v.seats:
            p.add("seats", f"{tag}: onboard_after {v.onboard_after} outside 0 .. {v.seats} seats")
        before = v.onboard_after - v.boarded + v.alighted
        if v.boarded < 0 or v.alighted < 0 or before < 0:
            p.add(
                "seats",
                f"{tag}: boarded {v.boarded}, alighted {v.alighted} and onboard_after {v.onboard_after} "
                f"imply {before} on board before (allowed: >= 0 each)",
            )
        if not v.arrive_s <= v.service_start_s <= v.depart_s:
            p.add(
                "times",
                f"{tag}: times arrive {v.arrive_s}, service start {v.service_start_s}, depart {v.depart_s} "
                "are out of order",
            )


def _check_sequences(out: SimOutput, p: Problems) -> None:
    """Walk each vehicle's drives and visits in time order: no overlap, no teleport, loads chain."""
    events: dict[str, list[Drive | StopVisit]] = defaultdict(list)
    for d in out.drives:
        events[d.vehicle_id].append(d)
    for v in out.visits:
        events[v.vehicle_id].append(v)

    def key(e: Drive | StopVisit) -> tuple[int, int]:
        return (e.depart_s, e.arrive_s) if isinstance(e, Drive) else (e.arrive_s, e.depart_s)

    for vid, seq in events.items():
        seq.sort(key=key)
        end_s, place, load = None, None, 0
        for e in seq:
            start, stop = key(e)
            if isinstance(e, Drive):
                here, before, after = e.from_stop, e.onboard, e.onboard
                where, there = f"drive at {e.depart_s} s", e.to_stop
            else:
                here, before, after = e.stop, e.onboard_after - e.boarded + e.alighted, e.onboard_after
                where, there = f"visit to stop {e.stop} at {e.arrive_s} s", e.stop
            if end_s is not None and start < end_s:
                p.add("overlap", f"vehicle {vid}: {where} starts before the previous leg ends ({end_s} s)")
            if place is not None and here != place:
                p.add("continuity", f"vehicle {vid}: {where} starts at stop {here}, but the vehicle was at {place}")
            if before != load:
                p.add("load chain", f"vehicle {vid}: {where} has {before} on board, but {load} were on board before")
            end_s, place, load = stop, there, after


def _check_totals(out: SimOutput, p: Problems) -> None:
    """Vehicle totals against sums over drives and visits; boardings against rides."""
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    for d in out.drives:
        c = sums[d.vehicle_id]
        c["drives"] += 1
        c["driven_m"] += d.length_m
        c["passenger_m"] += d.length_m * d.onboard
        c["loaded_m"] += d.length_m if d.onboard > 0 else 0
        c["driving_s"] += d.arrive_s - d.depart_s
    for v in out.visits:
        c = sums[v.vehicle_id]
        c["stops_served"] += 1
        c["riders"] += v.boarded
        c["alighted"] += v.alighted
    delivered: Counter[str] = Counter()
    picked: Counter[str] = Counter()
    for r in out.rides:
        if r.outcome == "completed":
            delivered[r.vehicle_id] += r.passengers
        if r.outcome in ("completed", "open") and r.pickup_s >= 0:
            picked[r.vehicle_id] += r.passengers
    for veh in out.vehicles:
        vid, c = veh.vehicle_id, sums[veh.vehicle_id]
        for name in ("drives", "stops_served", "driven_m", "loaded_m", "passenger_m", "riders"):
            recorded = getattr(veh, name)
            if recorded != c[name]:
                p.add("vehicle totals", f"vehicle {vid}: {name} is {recorded}, the drives and visits sum to {c[name]}")
        shift_s = veh.shift_end_s - veh.shift_start_s
        if shift_s < 0:
            p.add("times", f"vehicle {vid}: shift_end_s {veh.shift_end_s} before shift_start_s {veh.shift_start_s}")
        if not c["driving_s"] <= veh.busy_s:
            p.add("busy time", f"vehicle {vid}: busy_s {veh.busy_s} is less than its driving time {c['driving_s']} s")
        if c["alighted"] != delivered[vid]:
            p.add(
                "boardings",
                f"vehicle {vid}: {c['alighted']} passengers alighted, its completed rides carried {delivered[vid]}",
            )
        if c["riders"] != picked[vid]:
            p.add(
                "boardings",
                f"vehicle {vid}: {c['riders']} passengers boarded, its picked-up rides carried {picked[vid]}",
            )


def validate(out: SimOutput, *, max_per_kind: int = 20) -> list[str]:
    """Problems found by recounting ``out`` independently; an empty list means consistent.

    Checks: ride ids recorded twice; unknown outcomes; rejections without a reason; completed
    rides without a (known) vehicle, picked up before submission, with a negative ride time,
    picked up outside the promised window (± 1 s) or riding longer than ``max_ride_s``
    (+ 1 s); drives and visits of unknown vehicles, with times out of order, negative lengths,
    or more riders on board than seats; each vehicle's legs in time order overlapping, not
    starting where the previous one ended, or not chaining the on-board count (vehicles start
    empty); vehicle totals (``drives``, ``stops_served``, ``driven_m``, ``loaded_m``,
    ``passenger_m``, ``riders``) differing from the sums over its drives and visits;
    ``busy_s`` shorter than the driving time; passengers alighted (boarded) per vehicle
    differing from the passengers of its completed (picked-up) rides.

    At most ``max_per_kind`` problems of each kind are listed, followed by a count of the rest.
    """
    if max_per_kind < 1:
        raise InvalidArgumentError("max_per_kind", f"got {plain_repr(max_per_kind)}", ">= 1")
    p = Problems(max_per_kind)
    vehicles: dict[str, VehicleRecord] = {}
    for veh in out.vehicles:
        if veh.vehicle_id in vehicles:
            p.add("duplicate vehicle", f"vehicle {veh.vehicle_id}: recorded twice")
        vehicles[veh.vehicle_id] = veh
    _check_rides(out, vehicles, p)
    _check_legs(out, vehicles, p)
    _check_sequences(out, p)
    _check_totals(out, p)
    return p.result()
