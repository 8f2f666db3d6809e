"""Sub-zones: a service zone split into parts, each with its own vehicles and dispatcher.

A scenario's ``[subzones]`` section::

    [subzones]
    crossing = "transfer"        # trips between sub-zones: "transfer" (default) or "across"
    transfer_reach_m = 400       # transfer stops lie at most this far beyond the gap between two sub-zones

    [[subzones.zones]]
    name = "west"                # vehicle ids "west-veh0000", ...
    polygon = [[37.50, 127.07], [37.54, 127.07], [37.54, 127.105], [37.50, 127.105]]   # [lat, lon]
    vehicles = 8
    seats = 12                   # optional (default: [fleet] seats)

    [[subzones.zones]]
    name = "east"
    geojson = "east.geojson"     # instead of polygon: a GeoJSON Polygon ([lon, lat], as GeoJSON has it)
    vehicles = 8

The sub-zones' vehicles are the day's fleet (``[fleet] vehicles`` is not used; ``[fleet]``
seats, wheelchair places and shifts are). Each sub-zone has its own
:class:`~matching.Dispatcher` and vehicles, whose depots lie among its stops; one
:class:`SubzoneBackend` puts them behind the simulator's ``Backend`` protocol: a request goes to
the dispatcher of its origin's sub-zone, a vehicle's calls to its owner's.

A stop belongs to the first sub-zone whose polygon holds it (boundary included); points are
walked to the nearest stop of the sub-zone that holds them. A trip whose two ends lie in one
sub-zone is dispatched as in an undivided zone. A trip that crosses is, by ``crossing``:

* ``"across"``: served by a vehicle of the origin's sub-zone, which drives into the other to
  drop off (the dispatchers' own area is the whole service zone; this backend keeps pickups in
  the sub-zone);
* ``"transfer"``: two legs with a change at a *transfer stop*, one of the stops near the
  boundary of the two sub-zones (:func:`transfer_plan`: within ``transfer_reach_m`` of the
  other sub-zone, plus the gap when they do not touch, and each side's nearest stop). Leg 1
  goes to it with a vehicle of the origin's sub-zone; when the rider has alighted there,
  leg 2 is requested from it (:class:`SubzoneJourneys`, through ``Simulation.submit``, same
  ``journey_id``, ``leg = 1``) and served by the destination's sub-zone. Between sub-zones
  that are not neighbours (polygons more than ``transfer_reach_m`` apart) the journey passes
  through the fewest sub-zones between them, one leg in each (or changes once, between the
  two, when no chain of neighbours joins them). The transfer stops are chosen together, for
  the least direct travel time over the legs (under the traffic of the moment); when one is
  an end of the trip, the legs merge. A transfer stop may thus be served by both sides; no
  other stop of a sub-zone is ever served by another's vehicle.

:class:`SubzoneJourneys` (the component ``[subzones]`` adds) reports under
``output.extras["subzones"]`` (:class:`SubzoneOutput`): per sub-zone requests, served rides,
wait and vehicle-km; per journey (a request and its later legs) the outcome, the wait at the
origin, the waits at transfer stops and the time from the requested pickup to the arrival.
:func:`compare_with_undivided` runs the same demand with the same number of vehicles in the
undivided zone and tabulates both (``python -m benchmarks.subzones``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from matching import (
    Dispatcher,
    InvalidRequestError,
    InvalidValueError,
    Offer,
    Refusal,
    Rejection,
    RejectReason,
    Request,
    ServiceArea,
    ServiceParams,
    point_in_polygon,
    stops_in_zone,
)
from matching.checks import ID_RULE, check_int, id_problem
from matching.deployment import MAX_VEHICLES, ConfigError, Deployment, check_keys, integer, locate, number
from matching.dispatcher import PlannedStop
from matching.model import VehicleState
from routing import RoadNetwork, Router, StopSet

from .kpi import distribution, share
from .records import RideRecord, SimOutput

if TYPE_CHECKING:
    from .scenario import Scenario
    from .simulator import Simulation

#: The rules for trips between sub-zones.
CROSSING_RULES = ("transfer", "across")
#: Overlaps smaller than this share of the smaller polygon are taken for rounding (shared edges).
OVERLAP_TOLERANCE = 1e-6
#: The key of the day's report under ``SimOutput.extras``.
EXTRAS_KEY = "subzones"
#: Outcomes of a journey: those of a ride, plus "stranded" (a later leg was not served).
JOURNEY_OUTCOMES = ("completed", "stranded", "rejected", "cancelled", "no_show", "open")


# ---------------------------------------------------------------------------------- the section
@dataclass(frozen=True)
class SubzoneSpec:
    """One ``[[subzones.zones]]`` table: a name, a polygon of ``(lat, lon)`` vertices (not
    closed), its vehicles and, optionally, their seats (``None``: ``[fleet] seats``)."""

    name: str
    polygon: tuple[tuple[float, float], ...]
    vehicles: int
    seats: int | None = None

    def vehicle_ids(self) -> list[str]:
        """The ids of its vehicles: ``<name>-veh0000``, ..."""
        return [f"{self.name}-veh{k:04d}" for k in range(self.vehicles)]


@dataclass(frozen=True)
class SubzonesSpec:
    """The ``[subzones]`` section (see the module docstring)."""

    zones: tuple[SubzoneSpec, ...]
    crossing: str = "transfer"
    transfer_reach_m: float = 400.0

    @property
    def vehicles(self) -> int:
        """All the sub-zones' vehicles."""
        return sum(z.vehicles for z in self.zones)

    @property
    def names(self) -> list[str]:
        return [z.name for z in self.zones]


def _shape(polygon: Sequence[tuple[float, float]]) -> Any:
    """A shapely polygon of ``(lat, lon)`` vertices, in (lon, lat) plane coordinates."""
    from shapely import Polygon

    return Polygon([(lon, lat) for lat, lon in polygon])


def _polygon(value: object, field_name: str) -> tuple[tuple[float, float], ...]:
    """``[[lat, lon], ...]`` checked as a service zone is (:class:`matching.ServiceParams`), and
    as a simple polygon (edges that do not cross)."""
    try:
        vertices = ServiceParams(zone=value).zone  # type: ignore[arg-type]
    except InvalidValueError as exc:  # its field is "zone" or "zone[3].lat"
        raise ConfigError(field_name + exc.field.removeprefix("zone"), exc.message, exc.allowed) from exc
    assert vertices is not None
    from shapely.validation import explain_validity

    shape = _shape(vertices)
    if not shape.is_valid:
        raise ConfigError(
            field_name,
            f"is not a simple polygon ({explain_validity(shape)}, as lon lat)",
            "[lat, lon] vertices in order around the sub-zone, with edges that do not cross",
        )
    return vertices


def _geojson_polygon(path: Path, field_name: str, name: str) -> list[list[float]]:
    """The ``[lat, lon]`` vertices of the Polygon in a GeoJSON file: a Polygon geometry, a Feature,
    or a FeatureCollection with one Polygon feature (or several, one of them named ``name``)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(field_name, f"cannot read {path} as JSON ({exc})", "a GeoJSON file") from exc
    rule = "a GeoJSON Polygon, a Feature with one, or a FeatureCollection with one (or one named as the sub-zone)"

    def geometry(obj: object) -> Mapping[str, Any] | None:
        if not isinstance(obj, Mapping):
            return None
        geom = obj.get("geometry") if obj.get("type") == "Feature" else obj
        return geom if isinstance(geom, Mapping) and geom.get("type") == "Polygon" else None

    if isinstance(doc, Mapping) and doc.get("type") == "FeatureCollection":
        features = [f for f in doc.get("features", []) if geometry(f) is not None]
        named = [f for f in features if (f.get("properties") or {}).get("name") == name]
        if len(features) == 1:
            geom = geometry(features[0])
        elif len(named) == 1:
            geom = geometry(named[0])
        else:
            found = f"{len(features)} Polygon features" + (", none named" if not named else ", several named")
            raise ConfigError(field_name, f"{path}: {found} {name!r}", rule)
    else:
        geom = geometry(doc)
    if geom is None:
        raise ConfigError(field_name, f"{path} holds no Polygon", rule)
    rings = geom.get("coordinates")
    if not isinstance(rings, list) or not rings or not isinstance(rings[0], list):
        raise ConfigError(field_name, f"{path}: the Polygon has no coordinates", rule)
    if len(rings) > 1:
        raise ConfigError(field_name, f"{path}: the Polygon has {len(rings) - 1} holes", "a polygon without holes")
    out = []
    for i, vertex in enumerate(rings[0]):
        if not isinstance(vertex, list) or len(vertex) < 2:
            raise ConfigError(f"{field_name}[{i}]", f"{path}: got {vertex!r}", "[lon, lat] positions")
        out.append([vertex[1], vertex[0]])  # GeoJSON positions are [lon, lat]
    return out


def parse_subzones(table: object, *, base: Path | None, data_dir: Path | None) -> SubzonesSpec:
    """The ``[subzones]`` section of a scenario file (see the module docstring).

    Checked here: keys, ``crossing``, names (unique, fit for vehicle ids), vehicles and seats,
    each polygon (or GeoJSON file) and that no two polygons overlap (they may share edges).
    What needs the map (each sub-zone holds stops, lies inside ``[service] zone``) is checked
    when the day is set up (:class:`SubzoneBackend`).

    Raises:
        ConfigError: naming the field, e.g. ``subzones.zones[1].polygon``, what is wrong and
            what is allowed.
    """
    if not isinstance(table, Mapping):
        raise ConfigError("subzones", f"got {table!r}", "a [subzones] table with [[subzones.zones]] tables")
    check_keys(table, {"crossing", "transfer_reach_m", "zones"}, "subzones")
    crossing = table.get("crossing", "transfer")
    if crossing not in CROSSING_RULES:
        raise ConfigError("subzones.crossing", f"got {crossing!r}", ", ".join(CROSSING_RULES))
    reach = number(table, "transfer_reach_m", "subzones", 400.0, 0.0, 10_000.0)
    listed = table.get("zones")
    if not isinstance(listed, list) or len(listed) < 2:
        got = f"{len(listed)} sub-zone(s)" if isinstance(listed, list) else f"got {listed!r}"
        raise ConfigError("subzones.zones", got, "at least 2 [[subzones.zones]] tables")
    zones: list[SubzoneSpec] = []
    for k, zt in enumerate(listed):
        section = f"subzones.zones[{k}]"
        if not isinstance(zt, Mapping):
            raise ConfigError(section, f"got {zt!r}", "a table")
        check_keys(zt, {"name", "polygon", "geojson", "vehicles", "seats"}, section)
        name = zt.get("name")
        if not isinstance(name, str) or id_problem(f"{name}-veh0000") is not None:
            rule = f"a name that makes vehicle ids <name>-veh0000 ({ID_RULE})"
            raise ConfigError(f"{section}.name", f"got {name!r}", rule)
        if name in [z.name for z in zones]:
            raise ConfigError(f"{section}.name", f"two sub-zones are called {name!r}", "a name per sub-zone")
        if ("polygon" in zt) == ("geojson" in zt):
            raise ConfigError(f"{section}.polygon", "give either polygon or geojson" if "polygon" in zt else "missing",
                              "polygon = [[lat, lon], ...] or geojson = \"file\"")  # fmt: skip
        if "polygon" in zt:
            polygon = _polygon(zt["polygon"], f"{section}.polygon")
        else:
            path = locate(zt["geojson"], f"{section}.geojson", base=base, data_dir=data_dir)
            try:
                polygon = _polygon(_geojson_polygon(path, f"{section}.geojson", name), f"{section}.geojson")
            except ConfigError as exc:  # the checks speak of [lat, lon]: the file's positions are [lon, lat]
                raise ConfigError(
                    exc.field,
                    f"{exc.message} (in {path}, whose positions are read as GeoJSON's [lon, lat])",
                    exc.allowed.replace("[lat, lon]", "[lon, lat]") if exc.allowed else exc.allowed,
                ) from exc
        if "vehicles" not in zt:
            raise ConfigError(f"{section}.vehicles", "missing", f"whole numbers 1 .. {MAX_VEHICLES}")
        vehicles = integer(zt, "vehicles", section, 0, 1, MAX_VEHICLES)
        seats = integer(zt, "seats", section, 1, 1, 100) if "seats" in zt else None
        zones.append(SubzoneSpec(name, polygon, vehicles, seats))
    shapes = [_shape(z.polygon) for z in zones]
    for k, shape in enumerate(shapes):
        for j in range(k):
            both = shape.intersection(shapes[j]).area
            if both > OVERLAP_TOLERANCE * min(shape.area, shapes[j].area):
                raise ConfigError(
                    f"subzones.zones[{k}].polygon",
                    f"overlaps zones[{j}] ({zones[j].name!r}): {100 * both / shape.area:.1f} % of it lies in both",
                    "sub-zones that do not overlap (they may share edges)",
                )
    return SubzonesSpec(tuple(zones), crossing, reach)


# ---------------------------------------------------------------------------------- the map
def stop_subzones(
    spec: SubzonesSpec, deployment: Deployment, network: RoadNetwork, stops: StopSet
) -> NDArray[np.int64]:
    """The sub-zone of each stop (its index in ``spec.zones``; -1: none), after the checks that
    need the map.

    A stop on the edge between two sub-zones belongs to the first listed. Stops outside
    ``[service] zone`` belong to none.

    Raises:
        ConfigError: (field ``subzones.zones[k].polygon``) the network has no coordinates, a
            polygon reaches outside ``[service] zone``, or holds none of the stops (with the
            extents, or the hint that lat and lon look swapped), or only stops of an earlier
            sub-zone's edge.
    """
    if not network.has_lat_lon:
        raise ConfigError("subzones", f"network {network.name!r} has no geographic coordinates", "an OSM network")
    zone = deployment.service.zone
    whole = _shape(zone) if zone is not None else None
    owner = np.full(len(stops), -1, np.int64)
    in_service = stops_in_zone(zone, stops) if zone is not None else np.ones(len(stops), bool)
    for k, sub in enumerate(spec.zones):
        field_name = f"subzones.zones[{k}].polygon"
        if whole is not None:
            shape = _shape(sub.polygon)
            outside = shape.difference(whole).area
            if outside > OVERLAP_TOLERANCE * shape.area:
                raise ConfigError(field_name, f"reaches outside the service zone: {100 * outside / shape.area:.1f} % "
                                  "of it lies beyond [service] zone", "a polygon inside [service] zone")  # fmt: skip
        try:
            inside = stops_in_zone(sub.polygon, stops)
        except InvalidValueError as exc:  # "contains none of the N stops ..."
            raise ConfigError(field_name, exc.message, f"a polygon around some of the stops ({sub.name!r})") from exc
        mine = inside & in_service & (owner < 0)
        if not mine.any():
            raise ConfigError(field_name, f"its {int(inside.sum())} stops all lie on the edge of an earlier sub-zone",
                              "a polygon around stops of its own")  # fmt: skip
        owner[mine] = k
    return owner


def transfer_plan(
    spec: SubzonesSpec, network: RoadNetwork, stops: StopSet, stop_zone: NDArray[np.int64]
) -> tuple[dict[tuple[int, int], NDArray[np.int64]], dict[tuple[int, int], list[int]]]:
    """Where riders change between sub-zones, and through which sub-zones a trip passes.

    Returns:
        ``candidates``: for each pair ``(a, b)``, ``a < b``, the stops where a rider may change
        between them (sorted stop indices). A stop of ``a`` qualifies when it lies within
        ``gap + transfer_reach_m`` of ``b``'s polygon (``gap``: the distance between the two
        polygons, 0 when they touch), and likewise a stop of ``b``; the stop of each side
        nearest to the other always does, so that every pair has candidates.
        ``paths``: for each ordered pair of different sub-zones, the sub-zones a trip passes
        through, both ends included: the fewest changes between *neighbours* (polygons at
        most ``transfer_reach_m`` apart), lowest indices first on ties; the two alone when no
        chain of neighbours joins them.

    Distances are straight lines in the network's metric projection.
    """
    import shapely
    from shapely import Polygon

    from routing.snapping import project

    shapes = []
    for sub in spec.zones:
        lat, lon = np.array(sub.polygon, np.float64).T
        x, y = project(network, lat, lon)
        shapes.append(Polygon(np.column_stack([x, y])))
    pts = shapely.points(np.asarray(stops.x_m, np.float64), np.asarray(stops.y_m, np.float64))
    n = len(shapes)
    candidates: dict[tuple[int, int], NDArray[np.int64]] = {}
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for b in range(n):
        for a in range(b):
            gap = shapes[a].distance(shapes[b])
            if gap <= spec.transfer_reach_m:
                neighbours[a].append(b)
                neighbours[b].append(a)
            limit = gap + spec.transfer_reach_m
            chosen: list[NDArray[np.int64]] = []
            for here, there in ((a, b), (b, a)):
                own = np.flatnonzero(stop_zone == here)
                dist = shapely.distance(pts[own], shapes[there])
                chosen += [own[dist <= limit + 1e-6], own[[int(np.argmin(dist))]]]
            candidates[(a, b)] = np.unique(np.concatenate(chosen)).astype(np.int64)
    paths: dict[tuple[int, int], list[int]] = {}
    for a in range(n):
        parent = {a: a}
        queue = [a]
        for here in queue:  # breadth first: fewest changes
            for there in sorted(neighbours[here]):
                if there not in parent:
                    parent[there] = here
                    queue.append(there)
        for b in range(n):
            if b == a:
                continue
            if b not in parent:
                paths[(a, b)] = [a, b]
                continue
            path = [b]
            while path[-1] != a:
                path.append(parent[path[-1]])
            paths[(a, b)] = path[::-1]
    return candidates, paths


# ---------------------------------------------------------------------------------- the backend
@dataclass(frozen=True)
class TransferJourney:
    """A crossing trip in ``transfer`` mode: the rider's request and the stops of its legs.

    ``stops`` are the origin, the transfer stops and the destination; leg ``i`` goes from
    ``stops[i]`` to ``stops[i + 1]`` with a vehicle of sub-zone ``zones[i]``. Two legs between
    neighbouring sub-zones; one more per sub-zone crossed on the way; one leg when the best
    transfer stop is an end of the trip itself.
    """

    journey_id: str
    request: Request
    stops: tuple[int, ...]
    zones: tuple[int, ...]

    @property
    def legs(self) -> int:
        return len(self.zones)

    @property
    def origin_stop(self) -> int:
        return self.stops[0]

    @property
    def destination_stop(self) -> int:
        return self.stops[-1]

    @property
    def transfer_stops(self) -> tuple[int, ...]:
        return self.stops[1:-1]

    def leg_id(self, leg: int) -> str:
        """The request id of leg ``leg`` (0: the rider's own request; then ``<id>.2``, ``<id>.3``, ...)."""
        return self.journey_id if leg == 0 else f"{self.journey_id}.{leg + 1}"


class SubzoneBackend:
    """The dispatchers of the sub-zones behind the simulator's ``Backend`` protocol.

    Args:
        spec: the ``[subzones]`` section.
        deployment: the scenario's world (rules, fleet defaults, fares).
        network, router, stops: as :func:`matching.deployment.load_world` gives them.
        seed: seeds the depots and the dispatchers' re-optimisation.

    Attributes:
        stop_zone: the sub-zone of each stop (:func:`stop_subzones`).
        fleet: all vehicles, sub-zone by sub-zone (ids ``<name>-veh0000`` ...).
        dispatchers: one per sub-zone, each with its vehicles and the whole zone's rules.
        vehicle_zone: the sub-zone of each vehicle id.
        transfer_candidates, zone_paths: per pair of sub-zones, the stops where riders may
            change, and the sub-zones a trip between them passes (:func:`transfer_plan`).
        journeys: the crossing requests split in ``transfer`` mode, by request id.
        requests: how many requests (legs) each sub-zone's dispatcher was asked to quote;
            ``rejected``: how many of those it turned away (a request with an end in no
            sub-zone is turned away before, as ``outside_zone``, and counted in neither).

    Raises:
        ConfigError: a sub-zone does not fit the map (:func:`stop_subzones`).
    """

    def __init__(
        self,
        spec: SubzonesSpec,
        deployment: Deployment,
        network: RoadNetwork,
        router: Router,
        stops: StopSet,
        *,
        seed: int,
    ) -> None:
        from .simulator import InProcessBackend  # (the simulator imports this module)

        self.spec = spec
        self.stops = stops
        self.router = router
        self.service = deployment.service
        self.stop_zone = stop_subzones(spec, deployment, network, stops)
        fl = deployment.fleet
        self.fleet: list[VehicleState] = []
        self.dispatchers: list[Dispatcher] = []
        self.areas: list[ServiceArea] = []
        self.vehicle_zone: dict[str, int] = {}
        fares = deployment.fares()
        for k, sub in enumerate(spec.zones):
            own = np.flatnonzero(self.stop_zone == k)
            rng = np.random.default_rng([seed, k])
            depots = own[rng.choice(len(own), size=sub.vehicles, replace=sub.vehicles > len(own))]
            vehicles = [
                VehicleState(
                    id=vid,
                    seats=sub.seats or fl.seats,
                    wheelchair_places=fl.wheelchair_places,
                    depot_stop=int(depot),
                    shift_start_s=fl.shift_start_s,
                    shift_end_s=fl.shift_end_s,
                )
                for vid, depot in zip(sub.vehicle_ids(), depots, strict=True)
            ]
            self.fleet += vehicles
            self.vehicle_zone.update({v.id: k for v in vehicles})
            self.dispatchers.append(
                Dispatcher(network, router, stops, vehicles, params=self.service, fares=fares, seed=seed)
            )
            self.areas.append(ServiceArea(network, stops, dataclasses.replace(self.service, zone=sub.polygon)))
        self.parts = [InProcessBackend(d) for d in self.dispatchers]
        self.transfer_candidates: dict[tuple[int, int], NDArray[np.int64]] = {}
        self.zone_paths: dict[tuple[int, int], list[int]] = {}
        if spec.crossing == "transfer":
            self.transfer_candidates, self.zone_paths = transfer_plan(spec, network, stops, self.stop_zone)
        self.journeys: dict[str, TransferJourney] = {}
        #: the journey and leg of each request of a transfer journey, by request id
        self.leg_of: dict[str, tuple[str, int]] = {}
        self.requests = [0] * len(spec.zones)
        self.rejected = [0] * len(spec.zones)
        self._pinned: dict[str, int] = {}  # second legs: request id -> the sub-zone that serves it
        self._offers: dict[str, tuple[int, str]] = {}  # our offer id -> (sub-zone, its dispatcher's id)
        self._ride_zone: dict[str, int] = {}

    # ------------------------------------------------------------------ requests
    def _end(self, request: Request, end: str) -> tuple[int, int] | Rejection:
        """The stop of one end of ``request`` and the walk to it, or why it is not served."""
        stop = getattr(request, f"{end}_stop")
        if stop is not None:
            index = check_int(f"{end}_stop", stop, 0, len(self.stops) - 1, error=InvalidRequestError)
            if self.stop_zone[index] < 0:
                return Rejection(request.id, RejectReason.OUTSIDE_ZONE, f"{end}: stop {index} is in no sub-zone")
            return index, 0
        lat, lon = getattr(request, f"{end}_lat"), getattr(request, f"{end}_lon")
        for k, sub in enumerate(self.spec.zones):
            if bool(point_in_polygon(lat, lon, sub.polygon)):
                choice = self.areas[k].locate(lat, lon)
                if isinstance(choice, Refusal):
                    return Rejection(request.id, choice.reason, f"{end}: {choice.detail}")
                return choice.stop, choice.walk_m
        return Rejection(request.id, RejectReason.OUTSIDE_ZONE, f"{end}: ({lat:.6f}, {lon:.6f}) is in no sub-zone")

    def route(self, origin: int, destination: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The legs of a trip between stops of two sub-zones: the stops (origin, transfer stops,
        destination) and the sub-zone of each leg.

        The sub-zones passed are the fewest-change path between the two
        (:attr:`zone_paths`); at each change, the candidate transfer stops of that pair. The
        stops chosen minimise the sum of the direct travel times (under the traffic of the
        moment) over the legs, by dynamic programming over the layers of candidates (ties: the
        lowest stop index). Consecutive equal stops are merged (a transfer stop that is an end
        of the trip saves a leg).
        """
        router, node = self.router, self.stops.node
        path = self.zone_paths[(int(self.stop_zone[origin]), int(self.stop_zone[destination]))]
        layers = [[origin]]
        for a, b in itertools.pairwise(path):
            layers.append([int(c) for c in self.transfer_candidates[(min(a, b), max(a, b))]])
        layers.append([destination])
        cost = [0]
        back: list[list[int]] = []
        for prev, layer in itertools.pairwise(layers):
            new_cost, pointers = [], []
            for c in layer:
                times = [cost[i] + int(router.travel_time(int(node[p]), int(node[c]))) for i, p in enumerate(prev)]
                best = int(np.argmin(times))
                new_cost.append(times[best])
                pointers.append(best)
            cost = new_cost
            back.append(pointers)
        chosen = [0]  # index in the last layer (the destination), then backwards
        for pointers in reversed(back):
            chosen.append(pointers[chosen[-1]])
        stops = [layer[i] for layer, i in zip(layers, reversed(chosen), strict=True)]
        kept_stops, kept_zones = [stops[0]], []
        for leg, zone in enumerate(path):
            if stops[leg + 1] != kept_stops[-1]:
                kept_stops.append(stops[leg + 1])
                kept_zones.append(zone)
        return tuple(kept_stops), tuple(kept_zones)

    def quote(self, request: Request, now_s: int) -> Offer | Rejection:
        ends = [self._end(request, "origin"), self._end(request, "destination")]
        for e in ends:
            if isinstance(e, Rejection):
                return e
        (o, walk_o), (d, walk_d) = ends  # type: ignore[misc]
        za, zb = int(self.stop_zone[o]), int(self.stop_zone[d])
        k = self._pinned.get(request.id, za)
        leg_end = d
        if request.id not in self._pinned and za != zb and self.spec.crossing == "transfer":
            stops, zones = self.route(o, d)
            self.journeys[request.id] = TransferJourney(request.id, request, stops, zones)
            self.leg_of[request.id] = (request.id, 0)
            k, leg_end = zones[0], stops[1]  # the first leg (the whole trip if the transfers merged)
            if leg_end != d:
                walk_d = 0
        leg = dataclasses.replace(
            request,
            origin_stop=o,
            origin_lat=None,
            origin_lon=None,
            destination_stop=leg_end,
            destination_lat=None,
            destination_lon=None,
        )
        self.requests[k] += 1
        answer = self.parts[k].quote(leg, now_s)
        if isinstance(answer, Rejection):
            self.rejected[k] += 1
            return answer
        offer_id = f"{k}:{answer.offer_id}"  # the dispatchers number their offers alike
        self._offers[offer_id] = (k, answer.offer_id)
        return dataclasses.replace(answer, offer_id=offer_id, walk_to_pickup_m=walk_o, walk_from_dropoff_m=walk_d)

    def next_leg(self, journey: TransferJourney, leg: int, now_s: int) -> Request:
        """The request of ``journey``'s leg ``leg`` (1 or more), asked at ``now_s`` when the rider
        has just alighted at the transfer stop: from there to the next transfer stop or the
        rider's destination, for a pickup as soon as the rules allow, by that leg's sub-zone."""
        last = leg == journey.legs - 1
        req = dataclasses.replace(
            journey.request,
            id=journey.leg_id(leg),
            requested_time_s=now_s + self.service.min_lead_time_s,
            submitted_time_s=now_s,
            origin_stop=journey.stops[leg],
            origin_lat=None,
            origin_lon=None,
        )
        if not last:  # to the next transfer stop
            req = dataclasses.replace(
                req, destination_stop=journey.stops[leg + 1], destination_lat=None, destination_lon=None
            )
        self._pinned[req.id] = journey.zones[leg]
        self.leg_of[req.id] = (journey.journey_id, leg)
        return req

    def book(self, offer_id: str, now_s: int) -> str:
        k, inner = self._offers.pop(offer_id)
        ride_id = self.parts[k].book(inner, now_s)
        self._ride_zone[ride_id] = k
        return ride_id

    def cancel(self, ride_id: str, now_s: int) -> bool:
        return self.parts[self._ride_zone[ride_id]].cancel(ride_id, now_s)

    # ------------------------------------------------------------------ vehicles and riders
    def position(self, vehicle_id: str, stop: int, time_s: int) -> None:
        self.parts[self.vehicle_zone[vehicle_id]].position(vehicle_id, stop, time_s)

    def boarded(self, ride_id: str, time_s: int) -> None:
        self.parts[self._ride_zone[ride_id]].boarded(ride_id, time_s)

    def alighted(self, ride_id: str, time_s: int) -> None:
        self.parts[self._ride_zone[ride_id]].alighted(ride_id, time_s)

    def no_show(self, ride_id: str, time_s: int) -> None:
        self.parts[self._ride_zone[ride_id]].no_show(ride_id, time_s)

    def next_stop(self, vehicle_id: str) -> PlannedStop | None:
        return self.parts[self.vehicle_zone[vehicle_id]].next_stop(vehicle_id)

    def checkpoint(self, checkpoint_id: str, time_s: int) -> None:
        """Not offered: a semi-fixed route runs in an undivided zone (``[semi_fixed]`` refuses a
        split one when the day starts)."""
        raise NotImplementedError("semi-fixed checkpoints run in an undivided zone")

    # ------------------------------------------------------------------ operations
    def reoptimise(self, now_s: int, iterations: int) -> bool:
        adopted = [part.reoptimise(now_s, iterations) for part in self.parts]
        return any(adopted)

    def traffic(self, router: Router, now_s: int) -> None:
        self.router = router
        for part in self.parts:
            part.traffic(router, now_s)


# ---------------------------------------------------------------------------------- journeys
@dataclass(frozen=True)
class JourneyRow:
    """One rider's journey: a request and, for a transfer, its second leg.

    ``origin_zone``/``destination_zone`` are sub-zone names ("" when the end is in none or
    unknown); ``legs`` the rides planned and ``transfer_stops`` where the rider changes;
    ``outcome`` is one of :data:`JOURNEY_OUTCOMES` ("stranded": the first leg was completed, a
    later one rejected, cancelled or a no-show). Times in seconds: ``wait_s`` from the
    requested pickup to boarding the first vehicle, ``transfer_wait_s`` the time between
    alighting and boarding the next vehicle, summed over the changes made, ``journey_s`` from
    the requested pickup to the last drop-off (``None`` when it did not happen).
    """

    journey_id: str
    origin_zone: str
    destination_zone: str
    crossing: bool
    legs: int
    transfer_stops: tuple[int, ...]
    outcome: str
    requested_s: int
    wait_s: int | None
    transfer_wait_s: int | None
    journey_s: int | None

    @staticmethod
    def columns() -> list[str]:
        return [f.name for f in dataclasses.fields(JourneyRow)]


def journeys_of(
    rides: Sequence[RideRecord],
    stop_zone: NDArray[np.int64],
    names: Sequence[str],
    planned: Mapping[str, TransferJourney] | None = None,
) -> list[JourneyRow]:
    """The journeys of a day's rides: rides of one ``journey_id`` (else each ride alone), with the
    ends and legs of the ``planned`` transfer journeys (by journey id), classified by the
    sub-zones of their stops (``stop_zone``, names ``names``): usable on a day run without
    sub-zones too, to compare."""
    planned = planned or {}
    groups: dict[str, list[RideRecord]] = defaultdict(list)
    for r in rides:
        groups[r.journey_id or r.ride_id].append(r)

    def zone_of(stop: int) -> int:
        return int(stop_zone[stop]) if 0 <= stop < len(stop_zone) else -1

    out = []
    for jid, legs in groups.items():
        legs.sort(key=lambda r: r.leg)
        first, last = legs[0], legs[-1]
        plan = planned.get(jid)
        if plan is not None:
            o, d, n_legs, t = plan.origin_stop, plan.destination_stop, plan.legs, plan.transfer_stops
        else:
            o, d, n_legs, t = first.origin_stop, last.destination_stop, 1, ()
        za, zb = zone_of(o), zone_of(d)
        done = [r.outcome == "completed" for r in legs]
        if len(legs) >= n_legs and all(done):
            outcome = "completed"
        else:
            k = done.index(False) if not all(done) else len(legs)
            if k == 0:
                outcome = first.outcome
            elif k < len(legs) and legs[k].outcome in ("rejected", "cancelled", "no_show"):
                outcome = "stranded"
            else:
                outcome = "open"
        waits = [
            after.pickup_s - before.dropoff_s
            for before, after in itertools.pairwise(legs)
            if before.outcome == "completed" and after.pickup_s >= 0
        ]
        out.append(
            JourneyRow(
                journey_id=jid,
                origin_zone=names[za] if za >= 0 else "",
                destination_zone=names[zb] if zb >= 0 else "",
                crossing=za >= 0 and zb >= 0 and za != zb,
                legs=n_legs,
                transfer_stops=t,
                outcome=outcome,
                requested_s=first.requested_s,
                wait_s=first.wait_s if first.pickup_s >= 0 else None,
                transfer_wait_s=sum(waits) if waits else None,
                journey_s=last.dropoff_s - first.requested_s if outcome == "completed" else None,
            )
        )
    out.sort(key=lambda j: (j.requested_s, j.journey_id))
    return out


def journey_kpis(rows: Sequence[JourneyRow]) -> dict[str, Any]:
    """KPIs over journeys: counts by outcome, service rates (all, crossing), and the
    distributions (:func:`sim.kpi.distribution`) of ``wait_s``, ``transfer_wait_s`` and
    ``journey_s`` over completed journeys."""
    done = [j for j in rows if j.outcome == "completed"]
    crossing = [j for j in rows if j.crossing]
    crossing_done = [j for j in crossing if j.outcome == "completed"]
    outcomes = {o: sum(1 for j in rows if j.outcome == o) for o in JOURNEY_OUTCOMES}
    return {
        "journeys": len(rows),
        "completed": len(done),
        "service_rate": share(len(done), len(rows)),
        "outcomes": outcomes,
        "crossing": len(crossing),
        "crossing_share": share(len(crossing), len(rows)),
        "crossing_completed": len(crossing_done),
        "crossing_service_rate": share(len(crossing_done), len(crossing)),
        "with_transfer": sum(1 for j in rows if j.legs > 1),
        "wait_s": distribution([j.wait_s for j in done if j.wait_s is not None]),
        "transfer_wait_s": distribution([j.transfer_wait_s for j in done if j.transfer_wait_s is not None]),
        "journey_s": distribution([j.journey_s for j in done if j.journey_s is not None]),
    }


def zone_kpis(output: SimOutput, backend: SubzoneBackend) -> list[dict[str, Any]]:
    """Per sub-zone: ``vehicles``, ``stops``, ``requests`` (legs it was asked to quote),
    ``rejected``, ``served`` (rides its vehicles completed), their ``wait_s``
    distribution, ``vehicle_km`` and ``empty_share`` (recounted from the drives)."""
    rows = []
    for k, sub in enumerate(backend.spec.zones):
        mine = {vid for vid, z in backend.vehicle_zone.items() if z == k}
        served = [r for r in output.rides if r.outcome == "completed" and r.vehicle_id in mine]
        driven = sum(d.length_m for d in output.drives if d.vehicle_id in mine)
        loaded = sum(d.length_m for d in output.drives if d.vehicle_id in mine and d.onboard > 0)
        rows.append(
            {
                "name": sub.name,
                "vehicles": sub.vehicles,
                "stops": int(np.count_nonzero(backend.stop_zone == k)),
                "requests": backend.requests[k],
                "rejected": backend.rejected[k],
                "served": len(served),
                "wait_s": distribution([r.wait_s for r in served]),
                "vehicle_km": round(driven / 1000, 3),
                "empty_share": share(driven - loaded, driven),
            }
        )
    return rows


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


@dataclass
class SubzoneOutput:
    """What a day with sub-zones adds to its report (``SimOutput.extras["subzones"]``;
    :class:`sim.report.ExtraOutput`)."""

    crossing: str
    zones: list[dict[str, Any]]
    journeys: list[JourneyRow]
    polygons: list[tuple[tuple[float, float], ...]] = field(default_factory=list)
    stop_zone: NDArray[np.int64] | None = None
    stops: StopSet | None = None

    def kpis(self) -> dict[str, Any]:
        return {"crossing": self.crossing, "zones": self.zones, "journeys": journey_kpis(self.journeys)}

    def write(self, folder: Path, *, plots: bool = True) -> dict[str, Path]:
        """``subzones.csv`` (a row per sub-zone), ``subzone_journeys.csv`` (a row per journey)
        and, with ``plots``, ``subzones.png`` (the sub-zones, their stops and the transfer
        stops used, sized by the transfers made there)."""
        import csv

        folder = Path(folder)
        files = {"subzones": folder / "subzones.csv", "subzone_journeys": folder / "subzone_journeys.csv"}
        cols = ["name", "vehicles", "stops", "requests", "rejected", "served", "wait_p50_s", "wait_p90_s",
                "vehicle_km", "empty_share"]  # fmt: skip
        with files["subzones"].open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
            writer.writeheader()
            for z in self.zones:
                writer.writerow({**z, "wait_p50_s": z["wait_s"]["p50"], "wait_p90_s": z["wait_s"]["p90"]})
        with files["subzone_journeys"].open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=JourneyRow.columns())
            writer.writeheader()
            for j in self.journeys:
                row = {k: "" if v is None else v for k, v in dataclasses.asdict(j).items()}
                writer.writerow(row | {"transfer_stops": " ".join(str(t) for t in j.transfer_stops)})
        if plots and self.stops is not None and self.stop_zone is not None:
            files["subzones_map"] = folder / "subzones.png"
            self.plot().savefig(files["subzones_map"], format="png")
        return files

    def plot(self) -> Any:
        """A map (lon, lat) of the sub-zones, their stops by sub-zone and the transfer stops used."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        assert self.stops is not None and self.stop_zone is not None
        fig = Figure(figsize=(7, 6), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        colours = [f"C{k % 10}" for k in range(len(self.zones))]
        for k, (z, poly) in enumerate(zip(self.zones, self.polygons, strict=True)):
            lat, lon = np.array([*poly, poly[0]]).T
            ax.plot(lon, lat, color=colours[k], lw=1.5)
            ax.fill(lon, lat, color=colours[k], alpha=0.08)
            own = self.stop_zone == k
            ax.scatter(self.stops.lon[own], self.stops.lat[own], s=12, color=colours[k],
                       label=f"{z['name']}: {z['vehicles']} vehicles, {z['stops']} stops")  # fmt: skip
        used: dict[int, int] = defaultdict(int)
        for j in self.journeys:
            if j.outcome == "completed":
                for stop in j.transfer_stops:
                    used[stop] += 1
        if used:
            idx = np.array(list(used), np.int64)
            ax.scatter(self.stops.lon[idx], self.stops.lat[idx], s=[20 + 8 * used[i] for i in idx], facecolors="none",
                       edgecolors="black", lw=1.2)  # fmt: skip
            ax.scatter([], [], s=40, facecolors="none", edgecolors="black", lw=1.2,
                       label="transfer stops (size: transfers made)")  # fmt: skip
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.set_aspect(1 / math.cos(math.radians(float(np.mean(self.stops.lat)))))
        ax.set_title(f"Sub-zones ({self.crossing} between them)")
        ax.legend(loc="best", fontsize=8)
        return fig

    def summary_lines(self) -> list[str]:
        j = journey_kpis(self.journeys)
        lines = []
        for z in self.zones:
            lines.append(
                f"sub-zone  {z['name']}: {z['vehicles']} vehicles, {z['requests']} requests, {z['served']} served, "
                f"wait p50 {_minutes(z['wait_s']['p50'])}, {z['vehicle_km']:.1f} veh-km"
            )
        rate = j["crossing_service_rate"]
        lines.append(
            f"journeys  {j['journeys']}: {j['completed']} completed; crossing {j['crossing']} "
            f"({100 * (j['crossing_share'] or 0):.1f} %, {self.crossing}), {j['crossing_completed']} completed"
            + (f" ({100 * rate:.1f} %)" if rate is not None else "")
            + (f", {j['outcomes']['stranded']} stranded at a transfer" if self.crossing == "transfer" else "")
        )
        lines.append(
            f"journeys  wait p50 {_minutes(j['wait_s']['p50'])}, "
            f"transfer wait p50 {_minutes(j['transfer_wait_s']['p50'])}, "
            f"journey time p50 {_minutes(j['journey_s']['p50'])} (requested pickup to arrival)"
        )
        return lines


class SubzoneJourneys:
    """The component of ``[subzones]``: asks each transfer journey's next leg when the rider
    has alighted at a transfer stop, and adds :class:`SubzoneOutput` to the day's output.

    Needs the day set up with a :class:`SubzoneBackend` (``Simulation.setup`` builds one for a
    scenario with ``[subzones]``).
    """

    def attach(self, sim: Simulation) -> None:
        backend = sim.backend
        if not isinstance(backend, SubzoneBackend):
            raise TypeError("sub-zone journeys need the day's SubzoneBackend (Simulation.setup builds it)")
        self.backend = backend
        self.sim = sim
        sim.ride_hooks.append(self._ride_ended)

    def _ride_ended(self, rec: RideRecord, t: int) -> None:
        found = self.backend.leg_of.get(rec.ride_id)
        if found is None:
            return
        jid, leg = found
        journey = self.backend.journeys[jid]
        rec.journey_id, rec.leg = jid, leg
        if rec.outcome == "completed" and leg + 1 < journey.legs:
            from .demand import DemandItem  # (the demand module imports the scenario, which imports this one)

            nxt = self.backend.next_leg(journey, leg + 1, t)
            self.sim.submit(DemandItem(t, nxt, journey_id=jid, leg=leg + 1))

    def finish(self, sim: Simulation, output: SimOutput) -> None:
        for jid in self.backend.journeys:  # first legs still open at the end of the day
            if jid in sim.rides:
                sim.rides[jid].journey_id = jid
        names = self.backend.spec.names
        output.extras[EXTRAS_KEY] = SubzoneOutput(
            crossing=self.backend.spec.crossing,
            zones=zone_kpis(output, self.backend),
            journeys=journeys_of(output.rides, self.backend.stop_zone, names, self.backend.journeys),
            polygons=[z.polygon for z in self.backend.spec.zones],
            stop_zone=self.backend.stop_zone,
            stops=sim.stops,
        )


# ---------------------------------------------------------------------------------- comparison
def _row(label: str, output: SimOutput, journeys: list[JourneyRow], run_s: float) -> dict[str, Any]:
    j = journey_kpis(journeys)
    driven = sum(d.length_m for d in output.drives)
    loaded = sum(d.length_m for d in output.drives if d.onboard > 0)
    return {
        "run": label,
        "vehicles": len(output.vehicles),
        "journeys": j["journeys"],
        "completed": j["completed"],
        "service_rate": j["service_rate"],
        "wait_p50_s": j["wait_s"]["p50"],
        "wait_p90_s": j["wait_s"]["p90"],
        "journey_p50_s": j["journey_s"]["p50"],
        "journey_mean_s": j["journey_s"]["mean"],
        "transfer_wait_p50_s": j["transfer_wait_s"]["p50"],
        "vehicle_km": round(driven / 1000, 3),
        "empty_share": share(driven - loaded, driven),
        "crossing_share": j["crossing_share"],
        "crossing_service_rate": j["crossing_service_rate"],
        "stranded": j["outcomes"]["stranded"],
        "run_s": round(run_s, 1),
    }


def compare_with_undivided(
    scenario: Scenario, *, seed: int | None = None, say: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run ``scenario`` (with ``[subzones]``) and the same day in the undivided zone: the same
    demand (the split day's requests, item for item), the same number of vehicles (the
    sub-zones' total, with ``[fleet]`` seats, depots drawn over the whole zone), one dispatcher.

    Returns ``{"scenario", "seed", "crossing", "zones", "rows"}``: one row per run (keys of
    ``_row``: journeys completed, wait p50/p90 at the origin, journey time p50 and mean,
    transfer wait p50, vehicle-km, empty share, the share of journeys that cross sub-zones and
    how many of those were completed, seconds of wall time); :func:`comparison_markdown`
    renders it.
    """
    from .simulator import Simulation

    spec = scenario.subzones
    if not isinstance(spec, SubzonesSpec):
        raise ConfigError("subzones", f"scenario {scenario.name!r} has no [subzones] section", "a split zone")
    say = say or (lambda _m: None)
    say(f"{scenario.name}: the split zone ({', '.join(spec.names)})")
    t0 = time.perf_counter()
    split = Simulation(scenario, seed=seed)
    split.setup()
    out_split = split.run()
    t_split = time.perf_counter() - t0
    backend = split.backend
    assert isinstance(backend, SubzoneBackend)
    extra = out_split.extras[EXTRAS_KEY]
    dep = scenario.deployment
    whole_sc = dataclasses.replace(
        scenario,
        subzones=None,
        deployment=dataclasses.replace(dep, fleet=dataclasses.replace(dep.fleet, vehicles=spec.vehicles)),
    )
    say(f"{scenario.name}: the undivided zone, {spec.vehicles} vehicles")
    t0 = time.perf_counter()
    whole = Simulation(whole_sc, seed=seed, components=[])
    whole.setup()
    whole.demand = list(split.demand)
    out_whole = whole.run()
    t_whole = time.perf_counter() - t0
    rows = [
        _row(f"split ({spec.crossing})", out_split, extra.journeys, t_split),
        _row("undivided", out_whole, journeys_of(out_whole.rides, backend.stop_zone, spec.names), t_whole),
    ]
    return {
        "scenario": scenario.name,
        "seed": split.seed,
        "crossing": spec.crossing,
        "zones": [{"name": z.name, "vehicles": z.vehicles} for z in spec.zones],
        "rows": rows,
    }


def comparison_markdown(result: Mapping[str, Any]) -> str:
    """The table of :func:`compare_with_undivided` in Markdown."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f} %"

    def mins(x: float | None) -> str:
        return "-" if x is None else f"{x / 60:.1f}"

    zones = ", ".join(f"{z['name']} {z['vehicles']}" for z in result["zones"])
    lines = [
        f"`{result['scenario']}`, seed {result['seed']}: sub-zones {zones} vehicles; the same requests in both runs.",
        "",
        "| run | vehicles | journeys | completed | wait p50 / p90 (min) | journey p50 / mean (min) | transfer wait "
        "p50 (min) | veh-km | empty | crossing | crossing completed | stranded |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['run']} | {r['vehicles']} | {r['journeys']} | {r['completed']} ({pct(r['service_rate'])}) | "
            f"{mins(r['wait_p50_s'])} / {mins(r['wait_p90_s'])} | {mins(r['journey_p50_s'])} / "
            f"{mins(r['journey_mean_s'])} | {mins(r['transfer_wait_p50_s'])} | {r['vehicle_km']:.1f} | "
            f"{pct(r['empty_share'])} | {pct(r['crossing_share'])} | {pct(r['crossing_service_rate'])} | "
            f"{r['stranded']} |"
        )
    return "\n".join(lines) + "\n"
