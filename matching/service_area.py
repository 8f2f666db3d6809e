"""Where and when the service runs: the zone, the stops within walking reach, the hours.

:class:`ServiceArea` answers the questions a dispatcher asks of every request before it
looks at vehicles:

* :meth:`~ServiceArea.locate` — is a point inside the zone, and which stop does its rider
  walk to? A :class:`StopChoice`, or a :class:`Refusal` (``OUTSIDE_ZONE``, ``NO_STOP_IN_REACH``);
* :meth:`~ServiceArea.check_time` — may a pickup be requested for that time, now? ``None``,
  or a :class:`Refusal` (``IN_THE_PAST``, ``TOO_SHORT_NOTICE``, ``TOO_FAR_AHEAD``, ``OUTSIDE_HOURS``);
* :meth:`~ServiceArea.check_request` — both for a whole :class:`~matching.model.Request`,
  plus the party size and the same-stop rule: a :class:`StopPair` or a
  :class:`~matching.model.Rejection`.

The zone is a polygon of ``(lat, lon)`` vertices treated as plane coordinates (fine at city
scale, not across the antimeridian). A point on its boundary is inside; self-intersecting
polygons follow the even-odd rule. Only stops inside the zone are served: a point inside
the zone walks to the nearest *zone* stop, never to one outside. Walks are straight lines
in the network's metric projection.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from routing import RoadNetwork, StopSet

from .checks import DAY_S, check_float, check_int, check_time
from .errors import InvalidRequestError, InvalidValueError
from .model import Rejection, RejectReason, Request
from .params import ServiceParams

#: Default tolerance, in seconds, before a requested time counts as in the past (clock skew,
#: network latency); such requests are served as if made for now.
PAST_GRACE_S = 60

#: Points closer than this to the zone's boundary (in degrees, about 0.1 mm) count as on it.
BOUNDARY_TOLERANCE_DEG = 1e-9


@dataclass(frozen=True)
class StopChoice:
    """The stop a rider uses at one end of the ride and the straight-line walk to it (whole metres)."""

    stop: int
    walk_m: int


@dataclass(frozen=True)
class Refusal:
    """Why a point or a time is not served: a reason and the specifics, without a request id."""

    reason: RejectReason
    detail: str

    def rejection(self, request_id: str) -> Rejection:
        """The :class:`~matching.model.Rejection` of request ``request_id`` for this refusal."""
        return Rejection(request_id, self.reason, self.detail)


class StopPair(NamedTuple):
    """The stops of an accepted request: where the rider boards and where they alight."""

    origin: StopChoice
    destination: StopChoice


def point_in_polygon(
    lat: ArrayLike,
    lon: ArrayLike,
    polygon: Sequence[tuple[float, float]],
    *,
    tolerance_deg: float = BOUNDARY_TOLERANCE_DEG,
) -> NDArray[np.bool_]:
    """Whether each point lies inside ``polygon`` (``(lat, lon)`` vertices) or on its boundary.

    Crossing-number test (even-odd rule) on lat/lon as plane coordinates: a ray from the
    point towards increasing longitude crosses the edges an odd number of times when the
    point is inside. Each edge counts for latitudes in ``[min, max)`` of its ends, so a ray
    through a vertex counts it once. Points within ``tolerance_deg`` of an edge are inside.
    The result has the broadcast shape of ``lat`` and ``lon``.
    """
    la, lo = np.broadcast_arrays(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
    poly = np.asarray(polygon, np.float64)
    if poly.ndim != 2 or poly.shape[0] < 3 or poly.shape[1] != 2:
        raise InvalidValueError("polygon", f"got an array of shape {poly.shape}", "at least 3 (lat, lon) vertices")
    inside = np.zeros(la.shape, dtype=bool)
    on_edge = np.zeros(la.shape, dtype=bool)
    k = poly.shape[0]
    for i in range(k):
        lat0, lon0 = poly[i]
        lat1, lon1 = poly[(i + 1) % k]
        dlat, dlon = lat1 - lat0, lon1 - lon0
        length2 = dlat * dlat + dlon * dlon
        if length2 == 0.0:
            continue
        # Crossing: the edge spans the point's latitude and meets the ray east of the point.
        spans = (lat0 > la) != (lat1 > la)
        with np.errstate(divide="ignore", invalid="ignore"):
            lon_at = lon0 + (la - lat0) * dlon / dlat
        inside ^= spans & (lo < lon_at)
        # Boundary: distance from the point to the segment.
        t = np.clip(((la - lat0) * dlat + (lo - lon0) * dlon) / length2, 0.0, 1.0)
        near_lat = la - (lat0 + t * dlat)
        near_lon = lo - (lon0 + t * dlon)
        on_edge |= near_lat * near_lat + near_lon * near_lon <= tolerance_deg * tolerance_deg
    return inside | on_edge


def _extent(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> str:
    return f"lat {lat.min():.4f} .. {lat.max():.4f}, lon {lon.min():.4f} .. {lon.max():.4f}"


def stops_in_zone(zone: Sequence[tuple[float, float]] | None, stops: StopSet) -> NDArray[np.bool_]:
    """Whether each stop lies in ``zone`` (all ``True`` without one).

    Raises:
        InvalidValueError: (field ``zone``) the stops have no geographic coordinates, or the
            zone contains none of them. The message then says why when it can tell: a zone
            whose vertices read as ``[lon, lat]`` would contain stops, or whose coordinates
            fit the stops' longitudes and latitudes the other way round, has "lat and lon
            look swapped"; otherwise it gives the extents of both.
    """
    if zone is None:
        return np.ones(len(stops), dtype=bool)
    lat = np.asarray(stops.lat, np.float64)
    lon = np.asarray(stops.lon, np.float64)
    if len(stops) and not np.all(np.isfinite(lat) & np.isfinite(lon)):
        raise InvalidValueError("zone", "the network has no geographic coordinates, so a zone cannot apply")
    inside = point_in_polygon(lat, lon, zone)
    if inside.any():
        return inside
    poly = np.asarray(zone, np.float64)
    rule = "a polygon of [lat, lon] vertices around some stops"
    flipped = [(float(b), float(a)) for a, b in poly]
    swapped = int(np.count_nonzero(point_in_polygon(lat, lon, flipped))) if len(stops) else 0
    if len(stops) and not swapped:
        # The swapped polygon may miss every stop and still be a swap (a zone larger than the
        # network, or off by a little): its vertices then fit the stops' ranges the other way round.
        margin_lat = max(0.05, 0.5 * float(np.ptp(lat)))
        margin_lon = max(0.05, 0.5 * float(np.ptp(lon)))
        fits_swapped = bool(
            np.all((poly[:, 0] >= lon.min() - margin_lon) & (poly[:, 0] <= lon.max() + margin_lon))
            and np.all((poly[:, 1] >= lat.min() - margin_lat) & (poly[:, 1] <= lat.max() + margin_lat))
        )
    else:
        fits_swapped = False
    message = f"contains none of the {len(stops)} stops"
    if swapped or fits_swapped:
        found = f" (read as [lon, lat] it would contain {swapped} of them)" if swapped else ""
        message += (
            f"; lat and lon look swapped{found}: each vertex is [lat, lon], and the stops lie in {_extent(lat, lon)}"
        )
    elif len(stops):
        message += f": the zone spans {_extent(poly[:, 0], poly[:, 1])}, the stops {_extent(lat, lon)}"
    raise InvalidValueError("zone", message, rule)


def _clock(t: int) -> str:
    """A service-clock time as ``HH:MM`` (``HH:MM:SS`` with seconds), with the day when not day 0."""
    day, rest = divmod(t, DAY_S)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    text = f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")
    return text if day == 0 else f"day +{day} {text}"


def _duration(seconds: int) -> str:
    """A duration in words: ``7 days``, ``1 day 2 h``, ``2 h 30 min``, ``45 s``."""
    if seconds == 0:
        return "0 s"
    days, rest = divmod(seconds, DAY_S)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{days} day{'s' if days > 1 else ''}"] if days else []
    parts += [f"{value} {unit}" for value, unit in ((h, "h"), (m, "min"), (s, "s")) if value]
    return " ".join(parts)


class ServiceArea:
    """The zone, stops and hours of a service, and the checks a request passes before dispatch.

    Args:
        network: the road network (with geographic coordinates for point requests).
        stops: the service's stops on ``network``.
        params: the service rules (``zone``, ``max_walk_m``, hours, horizon, ...).
        past_grace_s: how far in the past a requested time may lie and still be accepted.

    Raises:
        InvalidValueError: the stops do not belong to the network, or the zone contains
            none of them (see :func:`stops_in_zone`).
    """

    def __init__(
        self, network: RoadNetwork, stops: StopSet, params: ServiceParams, *, past_grace_s: int = PAST_GRACE_S
    ) -> None:
        if not isinstance(params, ServiceParams):
            raise InvalidValueError("params", f"expected ServiceParams, got {type(params).__name__}")
        self.past_grace_s = check_int("past_grace_s", past_grace_s, 0, 3600, unit="s")
        if len(stops) == 0:
            raise InvalidValueError("stops", "the stop set is empty", "at least one stop")
        if int(stops.node.min()) < 0 or int(stops.node.max()) >= network.num_nodes:
            raise InvalidValueError(
                "stops", "some stops lie on nodes the network does not have", f"nodes 0 .. {network.num_nodes - 1}"
            )
        self.network = network
        self.stops = stops
        self.params = params
        if params.zone is not None and not network.has_lat_lon:
            raise InvalidValueError("zone", f"network {network.name!r} has no geographic coordinates")
        in_zone = stops_in_zone(params.zone, stops)
        in_zone.flags.writeable = False
        #: Whether each stop lies in the zone (all ``True`` without a zone); only these are served.
        self.stop_in_zone: NDArray[np.bool_] = in_zone
        #: Where riders may board and alight (None: every stop of the zone; see :meth:`with_boarding_stops`).
        self.boarding: NDArray[np.bool_] | None = None
        self._zone_stop_index = np.flatnonzero(in_zone).astype(np.int64)
        self._zone_stops = stops if in_zone.all() else stops.subset(in_zone)

    def with_boarding_stops(self, stops: Sequence[int]) -> ServiceArea:
        """This area with boarding and alighting limited to ``stops`` (stop indices; a fixed line's
        stops): a point walks to the nearest of them in the zone, and a request given at another
        stop walks from it to the nearest of them, within ``max_walk_m`` (else ``NO_STOP_IN_REACH``).
        :attr:`stop_in_zone` (the zone itself) does not change.

        Raises:
            InvalidValueError: (field ``stops``) an index outside the stop set, or no stop left in the zone.
        """
        index = np.unique(np.asarray(list(stops), np.int64))
        if index.size and (index[0] < 0 or index[-1] >= len(self.stops)):
            raise InvalidValueError("stops", "an index is outside the stop set", f"0 .. {len(self.stops) - 1}")
        allowed = np.zeros(len(self.stops), dtype=bool)
        allowed[index] = True
        allowed &= self.stop_in_zone
        if not allowed.any():
            raise InvalidValueError("stops", "none of them lies in the zone", "stops of the zone")
        area = copy.copy(self)
        area.boarding = allowed
        area._zone_stop_index = np.flatnonzero(allowed).astype(np.int64)
        area._zone_stops = self.stops.subset(allowed)
        return area

    @property
    def num_stops(self) -> int:
        """Number of stops in the stop set (served or not)."""
        return len(self.stops)

    # ------------------------------------------------------------------ places
    def contains(self, lat: ArrayLike, lon: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point lies in the zone (boundary included; everything without a zone)."""
        if self.params.zone is None:
            la, _ = np.broadcast_arrays(np.asarray(lat, np.float64), np.asarray(lon, np.float64))
            return np.ones(la.shape, dtype=bool)
        return point_in_polygon(lat, lon, self.params.zone)

    def locate(self, lat: float, lon: float) -> StopChoice | Refusal:
        """The stop a rider at ``(lat, lon)`` walks to, or why the point is not served.

        Refusals: ``OUTSIDE_ZONE`` when the point is outside the zone; ``NO_STOP_IN_REACH``
        when the nearest zone stop is farther than ``max_walk_m`` (the detail gives both).
        """
        la = check_float("lat", lat, -90.0, 90.0, unit="degrees")
        lo = check_float("lon", lon, -180.0, 180.0, unit="degrees")
        if not bool(self.contains(la, lo)):
            return Refusal(RejectReason.OUTSIDE_ZONE, f"({la:.6f}, {lo:.6f}) is outside the service zone")
        limit = self.params.max_walk_m
        idx, dist = self._zone_stops.nearest(self.network, la, lo, max_walk_m=limit)
        if idx[0] < 0:
            return Refusal(
                RejectReason.NO_STOP_IN_REACH,
                f"nearest stop is {math.ceil(float(dist[0]))} m away; the walking limit is {limit} m",
            )
        return StopChoice(int(self._zone_stop_index[idx[0]]), round(float(dist[0])))

    def locate_many(
        self, lat: ArrayLike, lon: ArrayLike
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
        """:meth:`locate` for many points at once.

        Returns:
            ``(stop, distance_m, in_zone)`` over the points: the stop index (-1 when the point
            is not served), the straight-line distance to the nearest zone stop, and whether
            the point lies in the zone.
        """
        la = np.atleast_1d(np.asarray(lat, np.float64))
        lo = np.atleast_1d(np.asarray(lon, np.float64))
        if la.shape != lo.shape:
            raise InvalidValueError("lon", f"{lo.size} longitudes for {la.size} latitudes", "one per latitude")
        in_zone = self.contains(la, lo)
        idx, dist = self._zone_stops.nearest(self.network, la, lo, max_walk_m=self.params.max_walk_m)
        stop = np.where((idx >= 0) & in_zone, self._zone_stop_index[np.maximum(idx, 0)], -1).astype(np.int64)
        return stop, dist, in_zone

    def locate_stop(self, stop: int, *, field: str = "stop") -> StopChoice | Refusal:
        """A request's stop given by index: the stop itself, or ``OUTSIDE_ZONE``; with boarding
        stops (:meth:`with_boarding_stops`), the nearest of them within ``max_walk_m`` of it (or
        ``NO_STOP_IN_REACH``).

        Raises:
            InvalidRequestError: ``stop`` is not an index into the stop set (named ``field``).
        """
        index = check_int(field, stop, 0, self.num_stops - 1, error=InvalidRequestError)
        if not self.stop_in_zone[index]:
            return Refusal(RejectReason.OUTSIDE_ZONE, f"stop {index} is outside the service zone")
        if self.boarding is not None and not self.boarding[index]:
            limit = self.params.max_walk_m
            x, y = self.stops.x_m[index : index + 1], self.stops.y_m[index : index + 1]
            idx, dist = self._zone_stops.nearest_xy(x, y, max_walk_m=limit)
            if idx[0] < 0:
                return Refusal(
                    RejectReason.NO_STOP_IN_REACH,
                    f"stop {index} is not a boarding stop; the nearest is {math.ceil(float(dist[0]))} m away, "
                    f"the walking limit is {limit} m",
                )
            return StopChoice(int(self._zone_stop_index[idx[0]]), round(float(dist[0])))
        return StopChoice(index, 0)

    # ------------------------------------------------------------------ times
    def check_time(self, requested_time_s: int, now_s: int) -> Refusal | None:
        """Whether a pickup may be requested for ``requested_time_s`` at ``now_s``: ``None`` if so.

        In order: ``IN_THE_PAST`` (more than ``past_grace_s`` ago), ``TOO_SHORT_NOTICE``
        (sooner than ``min_lead_time_s`` from now, with the same grace), ``TOO_FAR_AHEAD``
        (beyond ``prebook_horizon_s`` from now), ``OUTSIDE_HOURS`` (the time of day is outside
        ``[service_start_s, service_end_s)``).
        """
        t = check_time("requested_time_s", requested_time_s)
        now = check_time("now_s", now_s)
        p = self.params
        if t < now - self.past_grace_s:
            return Refusal(
                RejectReason.IN_THE_PAST, f"the pickup was requested for {_clock(t)}; it is already {_clock(now)}"
            )
        if t < now + p.min_lead_time_s - self.past_grace_s:
            return Refusal(
                RejectReason.TOO_SHORT_NOTICE,
                f"the pickup was requested for {_clock(t)}; bookings need {_duration(p.min_lead_time_s)} notice, "
                f"so the earliest is {_clock(now + p.min_lead_time_s)}",
            )
        if t > now + p.prebook_horizon_s:
            return Refusal(
                RejectReason.TOO_FAR_AHEAD,
                f"the pickup was requested for {_clock(t)}, {_duration(t - now)} ahead; "
                f"bookings may be made up to {_duration(p.prebook_horizon_s)} ahead",
            )
        if not p.in_service_hours(t):
            end = p.service_end_s
            end_text = _clock(end % DAY_S) + (" the next day" if end > DAY_S else "")
            return Refusal(
                RejectReason.OUTSIDE_HOURS,
                f"the pickup was requested for {_clock(t)}; the service runs {_clock(p.service_start_s)} to {end_text}",
            )
        return None

    # ------------------------------------------------------------------ requests
    def _locate_end(self, request: Request, end: str) -> StopChoice | Refusal:
        stop = getattr(request, f"{end}_stop")
        if stop is not None:
            return self.locate_stop(stop, field=f"{end}_stop")
        return self.locate(getattr(request, f"{end}_lat"), getattr(request, f"{end}_lon"))

    def check_request(self, request: Request, now_s: int) -> Rejection | StopPair:
        """Everything about ``request`` that does not depend on the vehicles, at ``now_s``.

        In order: ``TOO_MANY_PASSENGERS`` (over ``max_passengers_per_request``), the time
        (:meth:`check_time`), the origin and the destination (:meth:`locate` or
        :meth:`locate_stop`; the detail starts with ``origin:`` or ``destination:``), and
        ``SAME_STOP`` when both ends come to the same stop. Wheelchair places depend on the
        fleet and are left to the dispatcher.

        Raises:
            InvalidRequestError: a stop index of the request is not in the stop set.
        """
        p = self.params
        if request.passengers > p.max_passengers_per_request:
            return Rejection(
                request.id,
                RejectReason.TOO_MANY_PASSENGERS,
                f"{request.passengers} passengers; one booking may carry at most {p.max_passengers_per_request}",
            )
        refusal = self.check_time(request.requested_time_s, now_s)
        if refusal is not None:
            return refusal.rejection(request.id)
        choices: list[StopChoice] = []
        for end in ("origin", "destination"):
            choice = self._locate_end(request, end)
            if isinstance(choice, Refusal):
                return Rejection(request.id, choice.reason, f"{end}: {choice.detail}")
            choices.append(choice)
        origin, destination = choices
        if origin.stop == destination.stop:
            return Rejection(
                request.id,
                RejectReason.SAME_STOP,
                f"the origin and the destination both come to stop {origin.stop}",
            )
        return StopPair(origin, destination)
