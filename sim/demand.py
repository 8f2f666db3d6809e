"""Demand for a simulated day: who asks for which ride, when, and what they do afterwards.

Three sources, all giving the same :class:`DemandItem` list sorted by the time the rider asks:

* ``profile`` — requested pickup times drawn from an hourly profile (Poisson arrivals within
  each hour), origins and destinations uniform over the stops, party sizes and rider classes
  from the scenario's shares; a share is booked hours ahead, the rest asks shortly before;
* ``trips`` — a CSV trip file: ``time`` (HH:MM or seconds) and either ``origin_stop`` /
  ``destination_stop`` or ``origin_lat``, ``origin_lon``, ``destination_lat``,
  ``destination_lon``; optional ``passengers`` and ``rider_class``;
* ``reqs`` — a benchmark request file (``id origin destination`` per line, nodes of the
  network, as ``Manhattan.2.reqs``); requested times come from the profile.

Each item also says whether the rider will cancel (and when) or not turn up.

With a service zone (``[service] zone``) the demand is the zone's: ``profile`` draws its stops
among the zone's stops only, and ``trips`` and ``reqs`` keep the trips whose two ends lie in
the zone (a point inside the polygon, a stop inside it), logging a warning that counts the
trips left out. A day's rejections then say something about the service, not about demand it
was never meant to serve. Without a zone the draws are the same as over every stop.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matching import Request, RiderClass, point_in_polygon

from .scenario import DemandSpec, Scenario, ScenarioError, parse_time

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemandItem:
    """One rider's request and their later behaviour."""

    submit_s: int
    request: Request
    cancel_at_s: int | None = None
    no_show: bool = False


def _draw_times(rng: np.random.Generator, profile: tuple[float, ...], n: int, start_s: int, end_s: int) -> np.ndarray:
    """``n`` times in ``[start_s, end_s)`` with hourly density ``profile`` (sorted)."""
    hours = np.arange(start_s // 3600, (end_s + 3599) // 3600)
    weights = np.array([profile[h % 24] for h in hours], float)
    # the first and last hours may be partial
    lo = np.maximum(hours * 3600, start_s)
    hi = np.minimum((hours + 1) * 3600, end_s)
    weights = weights * np.maximum(hi - lo, 0) / 3600.0
    if weights.sum() <= 0:
        raise ScenarioError("demand.profile", "no demand inside the simulated hours")
    which = rng.choice(len(hours), size=n, p=weights / weights.sum())
    times = lo[which] + rng.random(n) * (hi[which] - lo[which])
    return np.sort(times.astype(np.int64))


def _behaviour(rng: np.random.Generator, spec: DemandSpec, requested: int, submit: int) -> tuple[int | None, bool]:
    cancel = None
    if rng.random() < spec.cancel_probability and requested > submit:
        cancel = int(submit + rng.random() * (requested - submit))
    no_show = bool(rng.random() < spec.no_show_probability)
    return cancel, no_show


def _party(rng: np.random.Generator, spec: DemandSpec) -> tuple[int, RiderClass, bool]:
    sizes = list(spec.group_sizes)
    w = np.array([spec.group_sizes[s] for s in sizes])
    size = int(sizes[int(rng.choice(len(sizes), p=w / w.sum()))])
    classes = list(spec.rider_classes)
    c = np.array([spec.rider_classes[k] for k in classes])
    rider = RiderClass(classes[int(rng.choice(len(classes), p=c / c.sum()))])
    wheelchair = bool(rng.random() < spec.wheelchair_share)
    return size, rider, wheelchair


def _submit_time(rng: np.random.Generator, spec: DemandSpec, requested: int, start_s: int) -> int:
    if rng.random() < spec.prebook_share:
        lead = 60.0 * (spec.prebook_lead_min[0] + rng.random() * (spec.prebook_lead_min[1] - spec.prebook_lead_min[0]))
    else:
        lead = 60.0 * rng.random() * spec.lead_max_min
    return max(start_s, int(requested - lead))


def generate(
    scenario: Scenario, num_stops: int, *, seed: int | None = None, in_zone: ArrayLike | None = None
) -> list[DemandItem]:
    """The day's demand for ``scenario`` (``seed`` overrides the scenario's).

    ``in_zone`` says which of the ``num_stops`` stops lie in the service zone
    (:func:`matching.deployment.zone_stops`; ``None``: all of them); the demand stays inside
    it (see the module docstring).
    """
    rng = np.random.default_rng(scenario.seed if seed is None else seed)
    spec = scenario.demand
    zone = np.ones(num_stops, dtype=bool) if in_zone is None else np.asarray(in_zone, dtype=bool)
    if zone.shape != (num_stops,):
        raise ValueError(f"in_zone has shape {zone.shape}; expected one flag per stop ({num_stops})")
    if spec.kind == "trips":
        assert spec.path is not None
        return _from_trips(spec.path, scenario, rng, num_stops, zone)
    if spec.kind == "reqs":
        assert spec.path is not None
        pairs = _read_reqs(spec.path, num_stops)
        if not zone.all():
            inside = zone[pairs[:, 0]] & zone[pairs[:, 1]]
            _left_out(spec.path, int(np.count_nonzero(~inside)), len(pairs), "requests")
            pairs = pairs[inside]
        pairs = pairs[: spec.total]
        n = len(pairs)
    else:
        n = spec.total
        allowed = np.flatnonzero(zone)
        k = len(allowed)
        if k < 2:
            where = "stops in the service zone ([service] zone)" if not zone.all() else "stops"
            raise ScenarioError("stops", f"the demand needs at least two {where}, got {k}")
        origins = rng.integers(0, k, n)
        dest = rng.integers(0, k - 1, n)
        dest = np.where(dest >= origins, dest + 1, dest)  # never the origin itself
        pairs = np.column_stack([allowed[origins], allowed[dest]])
    times = _draw_times(rng, spec.profile, n, scenario.start_s, scenario.end_s)
    items = []
    for k in range(n):
        o, d = int(pairs[k, 0]), int(pairs[k, 1])
        if o == d:
            continue
        requested = int(times[k])
        submit = _submit_time(rng, spec, requested, scenario.start_s)
        size, rider, wheelchair = _party(rng, spec)
        cancel, no_show = _behaviour(rng, spec, requested, submit)
        req = Request(
            id=f"{scenario.name}-{k}",
            requested_time_s=requested,
            submitted_time_s=submit,
            origin_stop=o,
            destination_stop=d,
            passengers=size,
            rider_class=rider,
            wheelchair=wheelchair,
        )
        items.append(DemandItem(submit, req, cancel, no_show))
    items.sort(key=lambda it: (it.submit_s, it.request.id))
    return items


def _read_reqs(path: Path, num_stops: int) -> np.ndarray:
    try:
        data = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise ScenarioError(
            "demand.path", f"{path}: not a request file of 'id origin destination' lines ({exc})"
        ) from exc
    if data.shape[1] < 3:
        raise ScenarioError("demand.path", f"{path}: expected 3 columns (id origin destination)")
    pairs = data[:, 1:3]
    if pairs.size and (pairs.min() < 0 or pairs.max() >= num_stops):
        raise ScenarioError("demand.path", f"{path}: node ids must be 0 .. {num_stops - 1} (stops kind 'nodes')")
    return pairs


def _left_out(path: Path, count: int, total: int, what: str) -> None:
    if count:
        log.warning(
            "demand.path: %d of the %d %s of %s start or end outside the service zone ([service] zone); left out",
            count,
            total,
            what,
            path,
        )


def _from_trips(
    path: Path, scenario: Scenario, rng: np.random.Generator, num_stops: int, in_zone: NDArray[np.bool_]
) -> list[DemandItem]:
    spec = scenario.demand
    zone = scenario.service.zone
    outside = 0
    items = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        by_stop = {"origin_stop", "destination_stop"} <= cols
        by_point = {"origin_lat", "origin_lon", "destination_lat", "destination_lon"} <= cols
        if "time" not in cols or not (by_stop or by_point):
            raise ScenarioError("demand.path", f"{path}: needs a 'time' column and origin/destination stops or points")
        for line, row in enumerate(reader, start=2):
            where = f"{path}, line {line}"
            try:
                requested = parse_time(row["time"].strip() if ":" in row["time"] else int(row["time"]), "time")
                passengers = int(row.get("passengers") or 1)
                rider = RiderClass.parse(row.get("rider_class") or "adult")
                ends: dict[str, int | float]
                if by_stop:
                    ends = {"origin_stop": int(row["origin_stop"]), "destination_stop": int(row["destination_stop"])}
                else:
                    ends = {
                        k: float(row[k]) for k in ("origin_lat", "origin_lon", "destination_lat", "destination_lon")
                    }
            except (ValueError, KeyError) as exc:
                raise ScenarioError("demand.path", f"{where}: {exc}") from exc
            if not _inside(ends, in_zone, zone):
                outside += 1
                continue
            submit = _submit_time(rng, spec, requested, scenario.start_s)
            cancel, no_show = _behaviour(rng, spec, requested, submit)
            req = Request(
                id=f"{scenario.name}-{line - 1}",
                requested_time_s=requested,
                submitted_time_s=submit,
                passengers=passengers,
                rider_class=rider,
                **ends,  # type: ignore[arg-type]
            )
            items.append(DemandItem(submit, req, cancel, no_show))
    _left_out(path, outside, len(items) + outside, "trips")
    items.sort(key=lambda it: (it.submit_s, it.request.id))
    return items


def _inside(ends: dict[str, int | float], in_zone: NDArray[np.bool_], zone: Any) -> bool:
    """Whether both ends of a trip lie in the zone (stops by ``in_zone``, points by the polygon).

    A stop index outside the stop set is left for the request's own check to report.
    """
    if "origin_stop" in ends:
        stops = [int(ends["origin_stop"]), int(ends["destination_stop"])]
        return all(not 0 <= k < len(in_zone) or bool(in_zone[k]) for k in stops)
    if zone is None:
        return True
    lat = [ends["origin_lat"], ends["destination_lat"]]
    lon = [ends["origin_lon"], ends["destination_lon"]]
    return bool(point_in_polygon(lat, lon, zone).all())
