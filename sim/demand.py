"""Demand for a simulated day: who asks for which ride, when, and what they do afterwards.

Five sources (``[demand] kind``), all giving the same :class:`DemandItem` list sorted by the
time the rider asks:

* ``profile`` — requested pickup times drawn from an hourly profile (Poisson arrivals within
  each hour), origins and destinations uniform over the stops, party sizes and rider classes
  from the scenario's shares; a share is booked hours ahead, the rest asks shortly before;
* ``addresses`` — the same times and parties, but origins and destinations are points inside
  the zone drawn with a weight layer (road length, or a CSV / GeoJSON layer of weighted points
  or populated polygons); riders walk to the nearest stop (the dispatcher snaps the points
  and the ride records the walks);
* ``trips`` — a CSV trip file: a time and either origin / destination stops (stop-file ids
  or indices) or points; optional ``passengers`` and ``rider_class``; column names mapped by
  ``columns``, times replayed on the service clock or by time of day, ``sample`` / ``limit``,
  ``transplant`` onto the zone (:func:`sim.demand_sources.read_trips`);
* ``od`` — stop-to-stop counts by hour, as Poisson arrivals or exact counts
  (:func:`sim.demand_sources.read_od`), one passenger per rider;
* ``reqs`` — a benchmark request file (``id origin destination`` per line, nodes of the
  network, as ``Manhattan.2.reqs``); requested times come from the profile.

Each item also says whether the rider will cancel (and when) or not turn up.

With a service zone (``[service] zone``) the demand is the zone's: ``profile`` draws its stops
among the zone's stops only, ``addresses`` its points inside the zone, and ``trips``, ``od``
and ``reqs`` keep the trips whose two ends lie in the zone (a point inside the polygon, a stop
inside it), logging a warning that counts the trips left out. A day's rejections then say
something about the service, not about demand it was never meant to serve. Without a zone
the draws are the same as over every stop.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from matching import Request, RiderClass, point_in_polygon
from routing import StopSet

from .demand_sources import (
    bounding_box,
    layer_points,
    read_od,
    read_trips,
    read_weight_layer,
    road_points,
    thin,
    transplant,
)
from .scenario import DemandSpec, Scenario, ScenarioError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemandItem:
    """One rider's request and their later behaviour."""

    submit_s: int
    request: Request
    cancel_at_s: int | None = None
    no_show: bool = False
    journey_id: str = ""  # set on the legs of a journey of several rides (feeder, transfer)
    leg: int = 0


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


def _none_left(spec: DemandSpec, items: list[DemandItem]) -> list[DemandItem]:
    """``items``, or :class:`ScenarioError` (field ``demand.path``) when a file left no request for
    the day: a day of nothing is never what a planner meant (the warnings logged say why)."""
    if items:
        return items
    hint = (
        "every row was unreadable, outside the simulated hours or outside the zone (see the warnings); "
        "for trips from another city, [demand] transplant = true maps them onto the zone"
    )
    raise ScenarioError("demand.path", f"{spec.path} leaves no request for the day: {hint}")


def generate(
    scenario: Scenario,
    num_stops: int,
    *,
    seed: int | None = None,
    in_zone: ArrayLike | None = None,
    network: Any = None,
    stops: StopSet | None = None,
) -> list[DemandItem]:
    """The day's demand for ``scenario`` (``seed`` overrides the scenario's).

    ``in_zone`` says which of the ``num_stops`` stops lie in the service zone
    (:func:`matching.deployment.zone_stops`; ``None``: all of them); the demand stays inside
    it (see the module docstring). ``network`` (the road network) is needed by the
    ``addresses`` kind and by ``transplant``; ``stops`` lets trip and OD files name stops by
    the ids of a stop file.
    """
    rng = np.random.default_rng(scenario.seed if seed is None else seed)
    spec = scenario.demand
    zone = np.ones(num_stops, dtype=bool) if in_zone is None else np.asarray(in_zone, dtype=bool)
    if zone.shape != (num_stops,):
        raise ValueError(f"in_zone has shape {zone.shape}; expected one flag per stop ({num_stops})")
    stop_ids = stops.index_of_ids() if stops is not None else {}
    if spec.kind == "trips":
        assert spec.path is not None
        run_seed = scenario.seed if seed is None else seed
        return _none_left(
            spec,
            _from_trips(
                spec.path, scenario, rng, num_stops, zone, network=network, stop_ids=stop_ids, sample_seed=run_seed
            ),
        )
    if spec.kind == "od":
        assert spec.path is not None
        return _none_left(spec, _from_od(spec.path, scenario, rng, num_stops, zone, stop_ids=stop_ids))
    if spec.kind == "addresses":
        return _from_addresses(scenario, rng, network)
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
        items.append(_drawn_rider(rng, scenario, k, int(times[k]), {"origin_stop": o, "destination_stop": d}))
    items.sort(key=lambda it: (it.submit_s, it.request.id))
    return items


def _drawn_rider(
    rng: np.random.Generator,
    scenario: Scenario,
    k: int | str,
    requested: int,
    ends: dict[str, int] | dict[str, float],
    *,
    single: bool = False,
) -> DemandItem:
    """Rider ``k`` (id ``<scenario>-<k>``) of a drawn day asking for a pickup at ``requested``
    between ``ends`` (stops or points): when they ask, their party (of one with ``single``, the
    party's size still drawn), and whether they cancel or do not turn up, drawn in that order
    from ``rng``."""
    spec = scenario.demand
    submit = _submit_time(rng, spec, requested, scenario.start_s)
    size, rider, wheelchair = _party(rng, spec)
    cancel, no_show = _behaviour(rng, spec, requested, submit)
    req = Request(
        id=f"{scenario.name}-{k}",
        requested_time_s=requested,
        submitted_time_s=submit,
        passengers=1 if single else size,
        rider_class=rider,
        wheelchair=wheelchair,
        **ends,
    )
    return DemandItem(submit, req, cancel, no_show)


def _read_reqs(path: Path, num_stops: int) -> np.ndarray:
    return _read_req_lines(path, num_stops, what="(stops kind 'nodes')")[:, 1:3]


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
    path: Path,
    scenario: Scenario,
    rng: np.random.Generator,
    num_stops: int,
    in_zone: NDArray[np.bool_],
    *,
    network: Any = None,
    stop_ids: Mapping[str, int] | None = None,
    sample_seed: int = 0,
) -> list[DemandItem]:
    """The trips of a trip file (:func:`sim.demand_sources.read_trips`), thinned, transplanted
    and kept to the zone (and, replayed by time of day, to the simulated hours)."""
    spec = scenario.demand
    zone = scenario.service.zone
    trips = read_trips(
        path,
        columns=spec.columns,
        replay=spec.replay,
        utc_offset_s=round(spec.utc_offset_h * 3600),
        start_s=scenario.start_s,
        end_s=scenario.end_s,
        stop_ids=stop_ids or {},
        num_stops=num_stops,
    )
    if spec.transplant:
        if trips.by_stop():
            raise ScenarioError("demand.transplant", "moves points; this trip file gives stops")
        if network is None or not network.has_lat_lon:
            raise ScenarioError("demand.transplant", "needs a network with lat/lon to map the trips onto")
        trips, trimmed = transplant(trips, _zone_box(zone, network), trim=spec.transplant_trim)
        if trimmed:
            log.warning("demand.transplant_trim: %d of the %d trips of %s have an end outside the trimmed box; "
                        "left out", trimmed, trimmed + len(trips), path)  # fmt: skip
    if spec.replay == "time_of_day":
        hours = (trips.time_s >= scenario.start_s) & (trips.time_s < scenario.end_s)
        if not hours.all():
            log.info("demand.path: %d of the %d trips of %s fall outside the simulated hours; left out",
                     int(np.count_nonzero(~hours)), len(trips), path)  # fmt: skip
        trips = trips.select(hours)
    if spec.sample < 1.0 or spec.limit is not None:
        trips = trips.select(thin(len(trips), np.random.default_rng([sample_seed, 7]), sample=spec.sample,
                                  limit=spec.limit))  # fmt: skip
    outside = 0
    items = []
    for k in range(len(trips)):
        ends: dict[str, int | float]
        if trips.origin_stop[k] >= 0:
            ends = {"origin_stop": int(trips.origin_stop[k]), "destination_stop": int(trips.destination_stop[k])}
        else:
            ends = {
                "origin_lat": float(trips.origin_lat[k]),
                "origin_lon": float(trips.origin_lon[k]),
                "destination_lat": float(trips.destination_lat[k]),
                "destination_lon": float(trips.destination_lon[k]),
            }
        if not _inside(ends, in_zone, zone):
            outside += 1
            continue
        requested = int(trips.time_s[k])
        submit = _submit_time(rng, spec, requested, scenario.start_s)
        cancel, no_show = _behaviour(rng, spec, requested, submit)
        line = int(trips.line[k])
        try:
            req = Request(
                id=f"{scenario.name}-{line - 1}",
                requested_time_s=requested,
                submitted_time_s=submit,
                passengers=int(trips.passengers[k]),
                rider_class=RiderClass.parse(trips.rider_class[k]),
                **ends,  # type: ignore[arg-type]
            )
        except ValueError as exc:
            raise ScenarioError("demand.path", f"{path}, line {line}: {exc}") from exc
        items.append(DemandItem(submit, req, cancel, no_show))
    _left_out(path, outside, len(items) + outside, "trips")
    items.sort(key=lambda it: (it.submit_s, it.request.id))
    return items


def _zone_box(zone: Any, network: Any) -> tuple[float, float, float, float]:
    """``(lat_min, lat_max, lon_min, lon_max)`` of the service zone, or of the network without one."""
    if zone is not None:
        poly = np.asarray(zone, np.float64)
        return bounding_box(poly[:, 0], poly[:, 1])
    return bounding_box(np.asarray(network.lat), np.asarray(network.lon))


def _from_od(
    path: Path,
    scenario: Scenario,
    rng: np.random.Generator,
    num_stops: int,
    in_zone: NDArray[np.bool_],
    *,
    stop_ids: Mapping[str, int],
) -> list[DemandItem]:
    """The riders of an OD table (:func:`sim.demand_sources.read_od`), one passenger each,
    kept to the zone's stops."""
    spec = scenario.demand
    od = read_od(
        path,
        columns=spec.columns,
        exact=spec.exact,
        scale=spec.scale,
        start_s=scenario.start_s,
        end_s=scenario.end_s,
        stop_ids=stop_ids,
        num_stops=num_stops,
        rng=rng,
    )
    inside = in_zone[od.origin] & in_zone[od.destination]
    _left_out(path, int(np.count_nonzero(~inside)), inside.size, "riders")
    items = []
    for k in np.flatnonzero(inside).tolist():
        ends = {"origin_stop": int(od.origin[k]), "destination_stop": int(od.destination[k])}
        # a count is people: one passenger each
        items.append(_drawn_rider(rng, scenario, f"od{k}", int(od.time_s[k]), ends, single=True))
    items.sort(key=lambda it: (it.submit_s, it.request.id))
    return items


def address_points(
    scenario: Scenario, network: Any, n: int, rng: np.random.Generator, *, weights: str | Path | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` address points (lat, lon) drawn with ``weights`` (default: the scenario's
    ``[demand] weights``; ``"road_length"`` or a layer file) inside its zone."""
    spec = scenario.demand
    zone = scenario.service.zone
    weights = spec.weights if weights is None else weights
    if weights == "road_length":
        return road_points(network, n, rng, zone=zone)
    return layer_points(read_weight_layer(Path(weights), spec.columns), n, rng, zone=zone)


def _from_addresses(scenario: Scenario, rng: np.random.Generator, network: Any) -> list[DemandItem]:
    """``total`` door-to-stop trips between address points (:func:`address_points`), origins
    with ``weights`` and destinations with ``destination_weights`` (the same layer by default),
    drawn independently, at times from the profile."""
    if network is None:
        raise ScenarioError("demand.kind", "addresses need the road network (generate(..., network=...))")
    spec = scenario.demand
    n = spec.total
    if spec.destination_weights is None:
        lat, lon = address_points(scenario, network, 2 * n, rng)
    else:
        o_lat, o_lon = address_points(scenario, network, n, rng)
        d_lat, d_lon = address_points(scenario, network, n, rng, weights=spec.destination_weights)
        lat, lon = np.concatenate([o_lat, d_lat]), np.concatenate([o_lon, d_lon])
    times = _draw_times(rng, spec.profile, n, scenario.start_s, scenario.end_s)
    items = []
    for k in range(n):
        ends = {"origin_lat": float(lat[k]), "origin_lon": float(lon[k])}
        ends |= {"destination_lat": float(lat[n + k]), "destination_lon": float(lon[n + k])}
        items.append(_drawn_rider(rng, scenario, k, int(times[k]), ends))
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


# ------------------------------------------------------------------------- shared taxi (I-MOA)
class TaxiDemand(NamedTuple):
    """A day of door-to-door taxi requests as arrays (``N`` rows, sorted by request time).

    Nodes are road-network node ids; times are integer seconds on the service clock.
    :func:`sim.taxi.taxi_requests` turns the rows into the dispatcher's ``TaxiRequest`` objects.
    """

    ids: tuple[str, ...]
    origin: NDArray[np.int64]
    destination: NDArray[np.int64]
    request_time_s: NDArray[np.int64]
    passengers: NDArray[np.int64]
    share: NDArray[np.bool_]
    """The rider accepts to share (a discounted fare); False: rides alone, never pooled."""

    @property
    def size(self) -> int:
        return int(self.origin.shape[0])

    def select(self, mask: ArrayLike) -> TaxiDemand:
        """The rows where ``mask`` is True (in the same order)."""
        keep = np.flatnonzero(np.asarray(mask, dtype=bool))
        return TaxiDemand(
            tuple(self.ids[k] for k in keep.tolist()),
            self.origin[keep],
            self.destination[keep],
            self.request_time_s[keep],
            self.passengers[keep],
            self.share[keep],
        )

    def between(self, start_s: int, end_s: int) -> TaxiDemand:
        """The requests made in ``[start_s, end_s)``."""
        return self.select((self.request_time_s >= start_s) & (self.request_time_s < end_s))


def release_times(
    n: int, profile: tuple[float, ...], *, start_s: int, end_s: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """``n`` request times in ``[start_s, end_s)``, sorted, with hourly density ``profile``.

    The hour of each request is drawn with the profile's weights (a partial first or last hour
    weighs its share), then the second uniformly within the hour (Poisson arrivals within
    each hour). ``profile`` holds 24 weights, hour 0 .. 23 (:data:`sim.scenario.PROFILES`).
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ScenarioError("demand.total", f"got {n!r}", "a whole number >= 0")
    if not end_s > start_s:
        raise ScenarioError("scenario.end", f"{end_s} s is not after the start {start_s} s", "> scenario.start")
    return _draw_times(rng, profile, int(n), start_s, end_s)


def day_share(profile: tuple[float, ...], start_s: int, end_s: int) -> float:
    """The share of a whole day's demand with hourly density ``profile`` that falls in
    ``[start_s, end_s)`` (partial hours by their share; 0 for a profile of zeros)."""
    hours = np.arange(start_s // 3600, (end_s + 3599) // 3600)
    weights = np.array([profile[h % 24] for h in hours], float)
    lo = np.maximum(hours * 3600, start_s)
    hi = np.minimum((hours + 1) * 3600, end_s)
    total = float(np.sum(profile))
    return float((weights * np.maximum(hi - lo, 0) / 3600.0).sum()) / total if total > 0 else 0.0


def busiest_hour(request_time_s: ArrayLike) -> int:
    """Start (s) of the clock hour ``[h * 3600, (h + 1) * 3600)`` with the most requests (earliest on a tie)."""
    times = np.asarray(request_time_s, dtype=np.int64)
    if times.size == 0:
        raise ScenarioError("demand", "no requests, so no busiest hour")
    hours = times // 3600
    counts = np.bincount(hours - hours.min())
    return int((hours.min() + int(np.argmax(counts))) * 3600)


def _parties(
    rng: np.random.Generator, n: int, group_sizes: dict[str, float] | None, share_probability: float
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    if group_sizes is None:
        passengers = np.ones(n, np.int64)
    else:
        sizes = np.array([int(s) for s in group_sizes], np.int64)
        w = np.array(list(group_sizes.values()), np.float64)
        passengers = sizes[rng.choice(len(sizes), size=n, p=w / w.sum())]
    if not 0.0 <= share_probability <= 1.0:
        raise ScenarioError("demand.share_probability", f"got {share_probability!r}", "0 .. 1")
    share = rng.random(n) < share_probability
    return passengers, share


def taxi_demand_from_reqs(
    path: str | Path,
    *,
    num_nodes: int,
    profile: tuple[float, ...],
    start_s: int,
    end_s: int,
    seed: int,
    total: int | None = None,
    group_sizes: dict[str, float] | None = None,
    share_probability: float = 1.0,
    prefix: str = "r",
) -> TaxiDemand:
    """Taxi requests from a benchmark request file (``id origin destination`` per line, as
    ``Manhattan.1.reqs``), which has no times: the first ``total`` lines (all by default) get
    release times from ``profile`` (:func:`release_times`), in file order — line ``k`` gets
    the ``k``-th earliest time, so that a seed always gives the same day.

    Parties are one passenger each unless ``group_sizes`` (shares by size) is given; each asks
    to share with probability ``share_probability``. Lines whose origin is their destination
    are left out. Ids are ``prefix`` followed by the file's request id.
    """
    rng = np.random.default_rng(seed)
    data = _read_req_lines(Path(path), num_nodes)
    if total is not None:
        if isinstance(total, bool) or not isinstance(total, int | np.integer) or total < 0:
            raise ScenarioError("demand.total", f"got {total!r}", "a whole number >= 0")
        data = data[: int(total)]
    times = release_times(len(data), profile, start_s=start_s, end_s=end_s, rng=rng)
    passengers, share = _parties(rng, len(data), group_sizes, share_probability)
    keep = data[:, 1] != data[:, 2]
    return TaxiDemand(
        tuple(f"{prefix}{int(i)}" for i in data[keep, 0].tolist()),
        np.ascontiguousarray(data[keep, 1]),
        np.ascontiguousarray(data[keep, 2]),
        times[keep],
        passengers[keep],
        share[keep],
    )


def _read_req_lines(path: Path, num_nodes: int, *, what: str = "(the network's nodes)") -> NDArray[np.int64]:
    """The ``id origin destination`` rows of a benchmark request file, checked."""
    try:
        data = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            "demand.path", f"{path}: not a request file of 'id origin destination' lines ({exc})"
        ) from exc
    if data.shape[1] < 3:
        raise ScenarioError("demand.path", f"{path}: expected 3 columns (id origin destination)")
    ends = data[:, 1:3]
    if ends.size and (ends.min() < 0 or ends.max() >= num_nodes):
        raise ScenarioError("demand.path", f"{path}: node ids must be 0 .. {num_nodes - 1} {what}")
    return data[:, :3]


def road_length_weights(network: Any) -> NDArray[np.float64]:
    """Per node, half the length (m) of the roads that start or end there: a node's share of the
    road network, so that points drawn with these weights fall evenly along the roads."""
    n = int(network.num_nodes)
    length = np.asarray(network.length_m, np.float64)
    w = np.bincount(np.asarray(network.tail, np.int64), weights=length, minlength=n)
    w += np.bincount(np.asarray(network.indices, np.int64), weights=length, minlength=n)
    return np.asarray(0.5 * w, np.float64)


def taxi_demand_on_network(
    network: Any,
    *,
    total: int,
    profile: tuple[float, ...],
    start_s: int,
    end_s: int,
    seed: int,
    group_sizes: dict[str, float] | None = None,
    share_probability: float = 1.0,
    prefix: str = "r",
) -> TaxiDemand:
    """``total`` door-to-door requests on a road network: origins and destinations are nodes
    drawn independently with :func:`road_length_weights` (a destination equal to its origin is
    drawn again), release times from ``profile`` (:func:`release_times`). Deterministic for a seed.
    """
    if isinstance(total, bool) or not isinstance(total, int | np.integer) or total < 0:
        raise ScenarioError("demand.total", f"got {total!r}", "a whole number >= 0")
    rng = np.random.default_rng(seed)
    w = road_length_weights(network)
    if np.count_nonzero(w) < 2:
        raise ScenarioError("network", "the network needs roads at two nodes at least for door-to-door demand")
    p = w / w.sum()
    n = int(total)
    origin = rng.choice(w.size, size=n, p=p)
    dest = rng.choice(w.size, size=n, p=p)
    same = np.flatnonzero(origin == dest)
    while same.size:
        dest[same] = rng.choice(w.size, size=same.size, p=p)
        same = same[origin[same] == dest[same]]
    times = release_times(n, profile, start_s=start_s, end_s=end_s, rng=rng)
    passengers, share = _parties(rng, n, group_sizes, share_probability)
    return TaxiDemand(
        tuple(f"{prefix}{k}" for k in range(n)),
        origin.astype(np.int64),
        dest.astype(np.int64),
        times,
        passengers,
        share,
    )


def taxi_start_nodes(
    num_vehicles: int, *, listed: ArrayLike = (), origins: ArrayLike = (), seed: int = 0
) -> NDArray[np.int64]:
    """Start nodes of ``num_vehicles`` taxis: the ``listed`` nodes first (in order, as the
    ``Manhattan.drv`` file gives them), then, for a larger fleet, nodes drawn uniformly with
    replacement from ``origins`` (the demand's pickup nodes, so that taxis start where riders
    are) with ``numpy.random.default_rng(seed)``: the same fleet for the same seed."""
    if isinstance(num_vehicles, bool) or not isinstance(num_vehicles, int | np.integer) or num_vehicles < 1:
        raise ScenarioError("fleet.vehicles", f"got {num_vehicles!r}", "a whole number >= 1")
    first = np.asarray(listed, np.int64).reshape(-1)[: int(num_vehicles)]
    extra = int(num_vehicles) - first.size
    if extra == 0:
        return first.copy()
    pool = np.asarray(origins, np.int64).reshape(-1)
    if pool.size == 0:
        raise ScenarioError(
            "fleet.vehicles", f"{num_vehicles} taxis but only {first.size} start nodes and no origins to draw from"
        )
    drawn = pool[np.random.default_rng(seed).integers(0, pool.size, extra)]
    return np.concatenate([first, drawn])


def read_start_nodes(path: str | Path, num_nodes: int) -> NDArray[np.int64]:
    """The start nodes of a vehicle file (``id node`` per line, as ``Manhattan.drv``), in file order."""
    try:
        data = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise ScenarioError("fleet.start_nodes", f"{path}: not a vehicle file of 'id node' lines ({exc})") from exc
    if data.shape[1] < 2:
        raise ScenarioError("fleet.start_nodes", f"{path}: expected 2 columns (id node)")
    nodes = data[:, 1]
    if nodes.size and (nodes.min() < 0 or nodes.max() >= num_nodes):
        raise ScenarioError("fleet.start_nodes", f"{path}: node ids must be 0 .. {num_nodes - 1}")
    return np.ascontiguousarray(nodes)
