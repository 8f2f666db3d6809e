"""Scenario files: one TOML file describes a simulated service day.

```toml
[scenario]
name = "imod_jamsil"
description = "An I-MOD zone on Seoul Jamsil"
seed = 1
start = "06:00"            # times as "HH:MM" (service clock) or seconds
end = "23:00"

[network]
kind = "osm"               # "osm" (any OSM/PBF/GraphML file) or "benchmark" (.xy + .d)
path = "osm/seoul_jamsil.osm"   # relative to the data folder, or to this file, or absolute
coord_unit_m = 1609.344    # benchmark graphs only: metres per .xy coordinate unit (default: Manhattan's mile)
time_unit_s = 0.1          # benchmark graphs only: seconds per .d time unit (default: Manhattan's tenth)

speeds = { primary = 40, residential = 20 }   # OSM files: km/h by road class (over the defaults)
use_maxspeed = true        # OSM files: a way's maxspeed tag wins over its class speed

[stops]
kind = "virtual"           # "virtual" (OSM bus stops + a cover), "nodes" (every node),
                           # or the service's stops from a file: "csv", "geojson", "gtfs"
spacing_m = 300            # virtual stops
# path = "stops.csv"       # csv / geojson / gtfs: the file (id, name, lat, lon), snapped to the roads
# max_snap_m = 100         # stops farther from every road node are dropped (with a warning)

[fleet]
vehicles = 16
seats = 16
wheelchair_places = 1
shift_start = "06:00"
shift_end = "23:00"

[service]                  # matching.ServiceParams (every key optional)
max_wait_s = 900

[fares]
policy = "imod"            # "imod" or "shared_taxi"
currency = "KRW"           # ISO 4217; amounts in its smallest unit (won, cents)
base = { adult = 1800, youth = 1200, child = 700 }   # imod: base fare by rider class
base_distance_m = 7000     # imod: covered by the base fare
per_km = 100               # imod: per started km beyond (or step_m + per_step)
# shared_taxi: base_fare, base_distance_m, step_m, per_step, pooled_discount_pct,
#              driver_pooled_share_pct, round_to

[demand]
kind = "profile"           # "profile", "addresses", "trips" (CSV file), "od" (stop-to-stop counts by hour)
                           # or "reqs" (benchmark request file); see docs/demand.md
total = 450                # profile, addresses, reqs: the day's requests
profile = [...]            # 24 relative weights, one per hour (or a named profile: "two_peaks", "flat")
prebook_share = 0.2        # share booked ahead ...
prebook_lead_min = [30, 240]   # ... this many minutes ahead (uniform)
lead_max_min = 15          # the others ask for a pickup 0 .. 15 min after asking
group_sizes = { 1 = 0.8, 2 = 0.15, 3 = 0.05 }
rider_classes = { adult = 0.8, youth = 0.12, child = 0.08 }
wheelchair_share = 0.01
cancel_probability = 0.03
no_show_probability = 0.02
# addresses:  weights = "road_length" (default) or "people.csv" / "blocks.geojson",
#             destination_weights = "jobs.geojson" (default: as weights),
#             columns = { lat = "y", lon = "x", weight = "population" }
# trips:      path = "demand/chicago_taxi_sample.csv", replay = "time_of_day", sample = 0.5,
#             limit = 400, transplant = true, transplant_trim = 0.05, utc_offset_h = 0,
#             columns = { time = "trip_start_timestamp", origin_lat = "pickup_latitude", ... }
# od:         path = "od.csv" (origin_stop, destination_stop, hour, count), exact = false, scale = 1

[traffic]
model = "bpr"              # "bpr", "none" or "sumo" (SUMO drives the fleet: mobility simulate --traffic sumo)
update_minutes = 60
alpha = 0.15
beta = 4.0
vc_major = [...]           # 24 volume/capacity ratios for motorways .. secondary roads
vc_minor = [...]           # and for the rest

[dispatch]
reoptimise_every_s = 300
reoptimise_iterations = 30
```

The planning sections, each read by its own module (format in its docstring and doc):
``[lines]`` bus lines from a route set or a GTFS feed (:mod:`sim.transit`, docs/transit.md);
``[feeder]`` journeys combining I-MOD and a bus (:mod:`sim.feeder`); ``[semi_fixed]`` a base
route of timed checkpoints (:mod:`sim.semifixed`, docs/semifixed.md); ``[subzones]`` the zone
split into polygons (:mod:`sim.subzones`, docs/subzones.md). ``[fleet] shifts`` is in
:mod:`matching.deployment` (docs/fleet-plan.md); the demand kinds in :mod:`sim.demand`
(docs/demand.md). ``mobility simulate --set KEY=VALUE`` changes any of these values
(:mod:`sim.overrides`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matching import ServiceParams
from matching.deployment import (
    ConfigError,
    Deployment,
    FleetSpec,
    NetworkSpec,
    StopsSpec,
    check_keys,
    integer,
    locate,
    number,
    parse_time,
    read_scenario_toml,
)
from matching.pooling import PoolingParams

from .demand_sources import LAYER_COLUMNS, OD_COLUMNS, TRIP_COLUMNS
from .feeder import parse_feeder
from .overrides import apply_overrides
from .semifixed import parse_semi_fixed
from .subzones import parse_subzones
from .transit import parse_lines

__all__ = [
    "SHARED_TAXI",
    "DemandSpec",
    "Deployment",
    "DispatchSpec",
    "FleetSpec",
    "NetworkSpec",
    "Scenario",
    "ScenarioError",
    "StopsSpec",
    "TaxiDemandSpec",
    "TaxiFleetSpec",
    "TaxiScenario",
    "TrafficSpec",
    "load_scenario",
    "parse_time",
]

DAY_S = 86_400

#: Taxi trips by start hour, all 24 hours: the 15,002 trips of the bundled Chicago taxi sample
#: (``../shared/data/demand/chicago_taxi_sample.csv``, column ``trip_start_hour``); peak
#: 19:00-20:00 (6.7 % of the day), trough 05:00-06:00 (1.0 %). The shared taxi's day profile.
# fmt: off
TAXI_CHICAGO = (602.0, 544.0, 419.0, 292.0, 197.0, 143.0, 193.0, 302.0, 530.0, 664.0, 687.0, 619.0, 745.0, 698.0,
                736.0, 722.0, 763.0, 829.0, 941.0, 1010.0, 966.0, 838.0, 837.0, 725.0)
# fmt: on

#: Hourly demand profiles (relative weights, hour 0 .. 23).
PROFILES: dict[str, tuple[float, ...]] = {
    # morning and evening peaks, a lighter midday, nothing at night (I-MOD runs 06:00-23:00)
    "two_peaks": (0, 0, 0, 0, 0, 0, 2, 6, 8, 5, 3, 3, 4, 3, 3, 4, 5, 7, 8, 6, 4, 3, 2, 1),
    "flat": (0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0),
    "taxi_chicago": TAXI_CHICAGO,
}
#: Volume/capacity ratios by hour for major (trunk, primary, secondary) and minor roads.
# fmt: off
VC_MAJOR = (0.25, 0.2, 0.15, 0.15, 0.2, 0.4, 0.8, 1.25, 1.35, 1.05, 0.85, 0.85, 0.9, 0.85, 0.85, 0.95, 1.1, 1.3,
            1.4, 1.15, 0.9, 0.7, 0.5, 0.35)
# fmt: on
VC_MINOR = tuple(round(0.7 * v, 3) for v in VC_MAJOR)

#: A scenario file is missing, unreadable or has a bad value (the field is named).
ScenarioError = ConfigError


def _weights(value: object, field_name: str, *, keys: tuple[str, ...] | None = None) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value:
        raise ScenarioError(field_name, f"got {value!r}", "a table of shares, e.g. { 1 = 0.8, 2 = 0.2 }")
    out = {}
    for k, v in value.items():
        if keys is not None and str(k) not in keys:
            raise ScenarioError(f"{field_name}.{k}", "unknown key", ", ".join(keys))
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ScenarioError(f"{field_name}.{k}", f"got {v!r}", "a share >= 0")
        out[str(k)] = float(v)
    if sum(out.values()) <= 0:
        raise ScenarioError(field_name, "all shares are zero", "at least one share > 0")
    return out


def _hourly(
    value: object, field_name: str, named: Mapping[str, tuple[float, ...]] | None = None, hi: float = 1e9
) -> tuple[float, ...]:
    if isinstance(value, str) and named is not None:
        if value not in named:
            raise ScenarioError(field_name, f"unknown profile {value!r}", ", ".join(named))
        return named[value]
    if not isinstance(value, list | tuple) or len(value) != 24:
        raise ScenarioError(field_name, f"got {value!r}", "24 numbers, one per hour from 00:00")
    for h, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= hi:
            raise ScenarioError(f"{field_name}[{h}]", f"got {v!r}", f"0 .. {hi}")
    return tuple(float(v) for v in value)


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@dataclass(frozen=True)
class DemandSpec:
    kind: str = "profile"
    total: int = 450
    profile: tuple[float, ...] = PROFILES["two_peaks"]
    path: Path | None = None
    prebook_share: float = 0.2
    prebook_lead_min: tuple[float, float] = (30.0, 240.0)
    lead_max_min: float = 15.0
    group_sizes: dict[str, float] = field(default_factory=lambda: {"1": 0.8, "2": 0.15, "3": 0.05})
    rider_classes: dict[str, float] = field(default_factory=lambda: {"adult": 0.8, "youth": 0.12, "child": 0.08})
    wheelchair_share: float = 0.01
    cancel_probability: float = 0.03
    no_show_probability: float = 0.02
    #: addresses: "road_length" or a weight layer file (CSV or GeoJSON; :mod:`sim.demand_sources`)
    weights: str | Path = "road_length"
    #: addresses: the destinations' layer (jobs, shops: land use), if not ``weights``
    destination_weights: str | Path | None = None
    #: the file's column names by ours (trips, od, a CSV layer; a GeoJSON layer's weight property)
    columns: dict[str, str] = field(default_factory=dict)
    #: trips: "clock" (times on the service clock) or "time_of_day" (dates folded onto the day)
    replay: str = "clock"
    utc_offset_h: float = 0.0  # trips: added to unix timestamps before taking their time of day
    sample: float = 1.0  # trips: share of the trips kept, at random
    limit: int | None = None  # trips: most trips kept, drawn at random
    transplant: bool = False  # trips: the file's bounding box mapped onto the zone's (synthetic)
    transplant_trim: float = 0.0  # trips: the box between these quantiles instead (outliers left out)
    exact: bool = False  # od: exactly the counts, not Poisson draws
    scale: float = 1.0  # od: counts multiplied by this


#: ``[demand] kind`` values.
DEMAND_KINDS = ("profile", "trips", "reqs", "addresses", "od")
#: Keys of ``[demand]`` that only some kinds take.
DEMAND_KIND_KEYS: dict[str, tuple[str, ...]] = {
    "weights": ("addresses",),
    "destination_weights": ("addresses",),
    "columns": ("trips", "od", "addresses"),
    "replay": ("trips",),
    "utc_offset_h": ("trips",),
    "sample": ("trips",),
    "limit": ("trips",),
    "transplant": ("trips",),
    "transplant_trim": ("trips",),
    "exact": ("od",),
    "scale": ("od",),
}
#: The names ``[demand] columns`` may rename, by kind.
DEMAND_COLUMN_KEYS: dict[str, tuple[str, ...]] = {
    "trips": TRIP_COLUMNS,
    "od": OD_COLUMNS,
    "addresses": tuple(LAYER_COLUMNS),
}


def _flag(table: Mapping[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(f"demand.{key}", f"got {value!r}", "true, false")
    return value


def _demand_sources(dm: Mapping[str, Any], kind: str, *, base: Path | None, data_dir: Path | None) -> dict[str, Any]:
    """The ``[demand]`` keys of the file-based kinds (addresses, trips, od), checked."""
    for key, kinds in DEMAND_KIND_KEYS.items():
        if key in dm and kind not in kinds:
            raise ScenarioError(f"demand.{key}", f"not used by demand kind {kind!r}", f"kind {', '.join(kinds)}")
    out: dict[str, Any] = {}
    for key in ("weights", "destination_weights"):
        if key not in dm:
            continue
        weights = dm[key]
        allowed = '"road_length", or a .csv or .geojson file'
        if not isinstance(weights, str) or not weights:
            raise ScenarioError(f"demand.{key}", f"got {weights!r}", allowed)
        if weights == "road_length":
            out[key] = weights
        elif weights.lower().endswith((".csv", ".geojson", ".json", ".txt")):
            out[key] = locate(weights, f"demand.{key}", base=base, data_dir=data_dir)
        else:
            raise ScenarioError(f"demand.{key}", f"got {weights!r}", allowed)
    columns = dm.get("columns", {})
    if not isinstance(columns, Mapping) or not all(isinstance(v, str) and v for v in columns.values()):
        raise ScenarioError("demand.columns", f"got {columns!r}", 'a table of column names, e.g. { time = "start" }')
    if columns:
        check_keys(columns, set(DEMAND_COLUMN_KEYS[kind]), "demand.columns")
        out["columns"] = dict(columns)
    replay = dm.get("replay", "clock")
    if replay not in ("clock", "time_of_day"):
        raise ScenarioError("demand.replay", f"got {replay!r}", "clock, time_of_day")
    out["replay"] = replay
    out["utc_offset_h"] = number(dm, "utc_offset_h", "demand", 0.0, -14.0, 14.0)
    sample = dm.get("sample", 1.0)
    if isinstance(sample, bool) or not isinstance(sample, int | float) or not 0.0 < sample <= 1.0:
        raise ScenarioError("demand.sample", f"got {sample!r}", "a share 0 < sample <= 1")
    out["sample"] = float(sample)
    out["limit"] = integer(dm, "limit", "demand", 1, 1, 10_000_000) if "limit" in dm else None
    out["transplant"] = _flag(dm, "transplant", False)
    out["transplant_trim"] = number(dm, "transplant_trim", "demand", 0.0, 0.0, 0.4)
    if "transplant_trim" in dm and not out["transplant"]:
        raise ScenarioError("demand.transplant_trim", "only with transplant = true")
    out["exact"] = _flag(dm, "exact", False)
    out["scale"] = number(dm, "scale", "demand", 1.0, 0.0, 1000.0)
    return out


#: ``[traffic] model``
TRAFFIC_MODELS = ("none", "bpr", "sumo")
#: ``[traffic] signals`` (SUMO only; :class:`sim.sumo.SumoNetOptions`)
SUMO_SIGNALS = ("osm+guess", "osm", "guess", "none")


@dataclass(frozen=True)
class TrafficSpec:
    """``[traffic]``: ``model`` "none" (free flow), "bpr" (hourly BPR factors, :mod:`sim.traffic`)
    or "sumo" (SUMO drives the fleet beside background traffic, :mod:`sim.sumo`);
    ``update_minutes``: how often the router gets new travel times; BPR's ``alpha``, ``beta``
    and hourly v/c; SUMO's background vehicles per hour at the busiest hour
    (``background_vph``, 0 none) and where its signals come from (``signals``)."""

    model: str = "none"
    update_minutes: float = 60.0
    alpha: float = 0.15
    beta: float = 4.0
    vc_major: tuple[float, ...] = VC_MAJOR
    vc_minor: tuple[float, ...] = VC_MINOR
    background_vph: float = 0.0
    signals: str = "osm+guess"


@dataclass(frozen=True)
class DispatchSpec:
    reoptimise_every_s: int = 300
    reoptimise_iterations: int = 30


@dataclass(frozen=True)
class Scenario:
    """A simulated service day (see the module docstring for the file format).

    ``deployment`` is the service's world (network, stops, fleet, rules, fares), shared with
    the live engine; the rest says what happens during the day.
    """

    name: str
    description: str
    seed: int
    start_s: int
    end_s: int
    deployment: Deployment
    demand: DemandSpec
    traffic: TrafficSpec
    dispatch: DispatchSpec
    source: Path | None = None
    # The planning sections (issue 18), each parsed by its own module (None: not in the file):
    lines: Any = None  # [lines]: bus lines run beside the DRT fleet (sim.transit)
    feeder: Any = None  # [feeder]: I-MOD legs to and from the bus lines (sim.transit)
    semi_fixed: Any = None  # [semi_fixed]: base routes with timed checkpoints (sim.semifixed)
    subzones: Any = None  # [subzones]: the zone split, each part with its vehicles (sim.subzones)

    @property
    def network(self) -> NetworkSpec:
        return self.deployment.network

    @property
    def stops(self) -> StopsSpec:
        return self.deployment.stops

    @property
    def fleet(self) -> FleetSpec:
        return self.deployment.fleet

    @property
    def service(self) -> ServiceParams:
        return self.deployment.service

    @property
    def fare_policy(self) -> str:
        return self.deployment.fare_policy

    @classmethod
    def from_toml(cls, path: str | Path, *, data_dir: str | Path | None = None) -> Scenario:
        path = Path(path)
        return cls.from_dict(
            read_scenario_toml(path), base=path.parent, data_dir=Path(data_dir) if data_dir else None, source=path
        )

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any],
        *,
        base: Path | None = None,
        data_dir: Path | None = None,
        source: Path | None = None,
    ) -> Scenario:
        service = doc.get("service", {})
        if isinstance(service, Mapping) and service.get("kind") == SHARED_TAXI:
            raise ScenarioError(
                "service.kind", "a shared-taxi scenario: read it with sim.scenario.load_scenario or TaxiScenario"
            )
        sections = {"scenario", "network", "stops", "fleet", "service", "fares", "demand", "traffic", "dispatch"}
        sections |= {"lines", "feeder", "semi_fixed", "subzones"}  # parsed below by their own modules
        sections.add("emergency")  # read by `mobility simulate-emergency` (sim.sumo.emergency.EmergencyConfig)
        check_keys(doc, sections, "file")
        sc = doc.get("scenario", {})
        check_keys(sc, {"name", "description", "seed", "start", "end"}, "scenario")
        name = str(sc.get("name", source.stem if source else "scenario"))
        start = parse_time(sc.get("start", "06:00"), "scenario.start")
        end = parse_time(sc.get("end", "23:00"), "scenario.end")
        if end <= start:
            raise ScenarioError("scenario.end", f"{end} s is not after the start {start} s", "> scenario.start")
        seed = integer(sc, "seed", "scenario", 1, 0, 2**31 - 1)
        deployment = Deployment.from_dict(doc, base=base, data_dir=data_dir, default_shift=(start, end))

        dm = doc.get("demand", {})
        demand_keys = {
            "kind",
            "total",
            "profile",
            "path",
            "prebook_share",
            "prebook_lead_min",
            "lead_max_min",
            "group_sizes",
            "rider_classes",
            "wheelchair_share",
            "cancel_probability",
            "no_show_probability",
            *DEMAND_KIND_KEYS,
        }
        check_keys(dm, demand_keys, "demand")
        dkind = dm.get("kind", "profile")
        if dkind not in DEMAND_KINDS:
            raise ScenarioError("demand.kind", f"got {dkind!r}", ", ".join(DEMAND_KINDS))
        sources = _demand_sources(dm, dkind, base=base, data_dir=data_dir)
        lead = dm.get("prebook_lead_min", [30, 240])
        if (
            not isinstance(lead, list | tuple)
            or len(lead) != 2
            or not all(isinstance(x, int | float) for x in lead)
            or not 0 <= lead[0] <= lead[1] <= 7 * 24 * 60
        ):
            raise ScenarioError("demand.prebook_lead_min", f"got {lead!r}", "[min, max] minutes, 0 <= min <= max")
        demand = DemandSpec(
            kind=dkind,
            total=integer(dm, "total", "demand", 450, 0, 10_000_000),
            profile=_hourly(dm.get("profile", "two_peaks"), "demand.profile", PROFILES),
            path=locate(dm["path"], "demand.path", base=base, data_dir=data_dir) if "path" in dm else None,
            prebook_share=number(dm, "prebook_share", "demand", 0.2, 0.0, 1.0),
            prebook_lead_min=(float(lead[0]), float(lead[1])),
            lead_max_min=number(dm, "lead_max_min", "demand", 15.0, 0.0, 24 * 60.0),
            group_sizes=_weights(dm.get("group_sizes", {"1": 0.8, "2": 0.15, "3": 0.05}), "demand.group_sizes"),
            rider_classes=_weights(
                dm.get("rider_classes", {"adult": 0.8, "youth": 0.12, "child": 0.08}),
                "demand.rider_classes",
                keys=("adult", "youth", "child"),
            ),
            wheelchair_share=number(dm, "wheelchair_share", "demand", 0.01, 0.0, 1.0),
            cancel_probability=number(dm, "cancel_probability", "demand", 0.03, 0.0, 1.0),
            no_show_probability=number(dm, "no_show_probability", "demand", 0.02, 0.0, 1.0),
            **sources,
        )
        for size in demand.group_sizes:
            if not size.isdigit() or not 1 <= int(size) <= 100:
                raise ScenarioError(f"demand.group_sizes.{size}", "group sizes are whole numbers", "1 .. 100")
        if dkind in ("trips", "reqs", "od") and demand.path is None:
            raise ScenarioError("demand.path", f"demand kind {dkind!r} needs a file")
        if dkind in ("profile", "addresses") and "path" in dm:
            raise ScenarioError("demand.path", f"not used by demand kind {dkind!r}", "kind trips, reqs, od")
        if sum(demand.profile) <= 0 and dkind not in ("trips", "od"):
            raise ScenarioError("demand.profile", "all hours have zero weight")

        tr = doc.get("traffic", {})
        check_keys(
            tr,
            {"model", "update_minutes", "alpha", "beta", "vc_major", "vc_minor", "background_vph", "signals"},
            "traffic",
        )
        model = tr.get("model", "none")
        if model not in TRAFFIC_MODELS:
            raise ScenarioError("traffic.model", f"got {model!r}", ", ".join(TRAFFIC_MODELS))
        signals = tr.get("signals", "osm+guess")
        if signals not in SUMO_SIGNALS:
            raise ScenarioError("traffic.signals", f"got {signals!r}", ", ".join(SUMO_SIGNALS))
        traffic = TrafficSpec(
            model=model,
            update_minutes=number(tr, "update_minutes", "traffic", 60.0, 5.0, 24 * 60.0),
            alpha=number(tr, "alpha", "traffic", 0.15, 0.0, 10.0),
            beta=number(tr, "beta", "traffic", 4.0, 0.0, 20.0),
            vc_major=_hourly(tr.get("vc_major", list(VC_MAJOR)), "traffic.vc_major", hi=5.0),
            vc_minor=_hourly(tr.get("vc_minor", list(VC_MINOR)), "traffic.vc_minor", hi=5.0),
            background_vph=number(tr, "background_vph", "traffic", 0.0, 0.0, 100_000.0),
            signals=signals,
        )
        dp = doc.get("dispatch", {})
        check_keys(dp, {"reoptimise_every_s", "reoptimise_iterations"}, "dispatch")
        dispatch = DispatchSpec(
            reoptimise_every_s=integer(dp, "reoptimise_every_s", "dispatch", 300, 0, DAY_S),
            reoptimise_iterations=integer(dp, "reoptimise_iterations", "dispatch", 30, 0, 1_000_000),
        )
        fleet_doc = doc.get("fleet", {})
        if "subzones" in doc and isinstance(fleet_doc, Mapping) and "vehicles" in fleet_doc:
            raise ScenarioError(
                "fleet.vehicles",
                "a split zone's vehicles are its sub-zones' (subzones.zones[k].vehicles); this one would be ignored",
                "no fleet.vehicles with [subzones]",
            )
        for k, shift in enumerate(deployment.fleet.shifts):
            if shift.end_s <= start or shift.start_s >= end:
                raise ScenarioError(
                    f"fleet.shifts[{k}]",
                    f"{_clock(shift.start_s)}-{_clock(shift.end_s)} lies outside the simulated hours "
                    f"{_clock(start)}-{_clock(end)}: its vehicles would never serve",
                    "a shift that overlaps [scenario] start .. end",
                )
        if "subzones" in doc and deployment.fleet.shifts:
            raise ScenarioError(
                "fleet.shifts",
                "a split zone's vehicles are its sub-zones' ([[subzones.zones]] vehicles), on the fleet's one shift",
                "no shifts with [subzones]",
            )
        return cls(
            name=name,
            description=str(sc.get("description", "")),
            seed=seed,
            start_s=start,
            end_s=end,
            deployment=deployment,
            demand=demand,
            traffic=traffic,
            dispatch=dispatch,
            source=source,
            lines=parse_lines(doc["lines"], base=base, data_dir=data_dir) if "lines" in doc else None,
            feeder=parse_feeder(doc["feeder"], base=base, data_dir=data_dir) if "feeder" in doc else None,
            subzones=parse_subzones(doc["subzones"], base=base, data_dir=data_dir) if "subzones" in doc else None,
            semi_fixed=parse_semi_fixed(doc["semi_fixed"], base=base, data_dir=data_dir)
            if "semi_fixed" in doc
            else None,
        )


# ------------------------------------------------------------------------- shared taxi (I-MOA)
#: ``[service] kind`` of a shared-taxi scenario (any other file is an I-MOD/DRT :class:`Scenario`).
SHARED_TAXI = "shared_taxi"


@dataclass(frozen=True)
class TaxiFleetSpec:
    """The ``[fleet]`` table of a shared-taxi scenario.

    ``start_nodes``: a vehicle file (``id node`` per line, as ``Manhattan.drv``) whose nodes
    the first taxis start at; the others start at nodes drawn from the demand's origins
    (:func:`sim.demand.taxi_start_nodes`).
    """

    vehicles: int = 50
    start_nodes: Path | None = None
    shift_start_s: int = 0
    shift_end_s: int = DAY_S


@dataclass(frozen=True)
class TaxiDemandSpec:
    """The ``[demand]`` table of a shared-taxi scenario.

    ``kind``: ``"points"`` (door-to-door nodes drawn with the road length around them,
    :func:`sim.demand.taxi_demand_on_network`) or ``"reqs"`` (a benchmark request file,
    :func:`sim.demand.taxi_demand_from_reqs`); request times follow ``profile``.
    """

    kind: str = "points"
    total: int = 1000
    profile: tuple[float, ...] = TAXI_CHICAGO
    path: Path | None = None
    group_sizes: dict[str, float] | None = None
    share_probability: float = 1.0


@dataclass(frozen=True)
class TaxiScenario:
    """A simulated shared-taxi day (``[service] kind = "shared_taxi"``).

    ```toml
    [scenario]                  # name, description, seed, start, end (as for Scenario)
    [service]
    kind = "shared_taxi"
    [network]                   # as for Scenario
    [fleet]
    vehicles = 50
    start_nodes = "rideshare/manhattan/Manhattan.drv"   # optional
    shift_start = "00:00"
    shift_end = "24:00"
    [pooling]                   # matching.pooling.PoolingParams (every key optional)
    max_wait_s = 300
    [demand]
    kind = "points"             # or "reqs" with path = "..."
    total = 4000
    profile = "taxi_chicago"    # or 24 weights
    group_sizes = { 1 = 0.85, 2 = 0.15 }   # optional: one passenger each without it
    share_probability = 0.9
    ```
    """

    name: str
    description: str
    seed: int
    start_s: int
    end_s: int
    network: NetworkSpec
    fleet: TaxiFleetSpec
    pooling: PoolingParams
    demand: TaxiDemandSpec
    source: Path | None = None

    @classmethod
    def from_toml(cls, path: str | Path, *, data_dir: str | Path | None = None) -> TaxiScenario:
        path = Path(path)
        return cls.from_dict(
            read_scenario_toml(path), base=path.parent, data_dir=Path(data_dir) if data_dir else None, source=path
        )

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any],
        *,
        base: Path | None = None,
        data_dir: Path | None = None,
        source: Path | None = None,
    ) -> TaxiScenario:
        check_keys(doc, {"scenario", "service", "network", "fleet", "pooling", "demand"}, "file")
        check_keys(doc.get("service", {}), {"kind"}, "service")
        sc = doc.get("scenario", {})
        check_keys(sc, {"name", "description", "seed", "start", "end"}, "scenario")
        start = parse_time(sc.get("start", "00:00"), "scenario.start")
        end = parse_time(sc.get("end", "24:00"), "scenario.end")
        if end <= start:
            raise ScenarioError("scenario.end", f"{end} s is not after the start {start} s", "> scenario.start")
        network = Deployment.from_dict({"network": doc.get("network", {})}, base=base, data_dir=data_dir).network
        fl = doc.get("fleet", {})
        check_keys(fl, {"vehicles", "start_nodes", "shift_start", "shift_end"}, "fleet")
        fleet = TaxiFleetSpec(
            vehicles=integer(fl, "vehicles", "fleet", 50, 1, 100_000),
            start_nodes=locate(fl["start_nodes"], "fleet.start_nodes", base=base, data_dir=data_dir)
            if "start_nodes" in fl
            else None,
            shift_start_s=parse_time(fl.get("shift_start", start), "fleet.shift_start"),
            shift_end_s=parse_time(fl.get("shift_end", end), "fleet.shift_end"),
        )
        if fleet.shift_end_s <= fleet.shift_start_s:
            raise ScenarioError("fleet.shift_end", "the shift must end after it starts", "> fleet.shift_start")
        pooling = PoolingParams.from_mapping(doc.get("pooling", {}))
        dm = doc.get("demand", {})
        check_keys(dm, {"kind", "total", "profile", "path", "group_sizes", "share_probability"}, "demand")
        kind = dm.get("kind", "points")
        if kind not in ("points", "reqs"):
            raise ScenarioError("demand.kind", f"got {kind!r}", "points, reqs")
        groups = _weights(dm["group_sizes"], "demand.group_sizes") if "group_sizes" in dm else None
        for size in groups or {}:
            if not size.isdigit() or not 1 <= int(size) <= pooling.capacity:
                raise ScenarioError(f"demand.group_sizes.{size}", "a party must fit a taxi", f"1 .. {pooling.capacity}")
        demand = TaxiDemandSpec(
            kind=kind,
            total=integer(dm, "total", "demand", 1000, 0, 10_000_000),
            profile=_hourly(dm.get("profile", "taxi_chicago"), "demand.profile", PROFILES),
            path=locate(dm["path"], "demand.path", base=base, data_dir=data_dir) if "path" in dm else None,
            group_sizes=groups,
            share_probability=number(dm, "share_probability", "demand", 1.0, 0.0, 1.0),
        )
        if kind == "reqs" and demand.path is None:
            raise ScenarioError("demand.path", "demand kind 'reqs' needs a request file")
        if sum(demand.profile) <= 0:
            raise ScenarioError("demand.profile", "all hours have zero weight")
        return cls(
            name=str(sc.get("name", source.stem if source else "shared_taxi")),
            description=str(sc.get("description", "")),
            seed=integer(sc, "seed", "scenario", 1, 0, 2**31 - 1),
            start_s=start,
            end_s=end,
            network=network,
            fleet=fleet,
            pooling=pooling,
            demand=demand,
            source=source,
        )


def load_scenario(
    path: str | Path,
    *,
    data_dir: str | Path | None = None,
    overrides: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
) -> Scenario | TaxiScenario:
    """The scenario of a file: a :class:`TaxiScenario` when its ``[service] kind`` is
    ``"shared_taxi"``, else a :class:`Scenario`.

    ``overrides``: ``(dotted key, value)`` pairs (or a mapping) set in the parsed TOML before it
    is read (:func:`sim.overrides.apply_overrides`, as ``mobility simulate --set``), so that a bad
    value or an unknown key is reported like one in the file, naming the field."""
    path = Path(path)
    doc = read_scenario_toml(path)
    if overrides:
        doc = apply_overrides(doc, overrides)
    service = doc.get("service", {})
    if isinstance(service, Mapping) and service.get("kind") == SHARED_TAXI:
        return TaxiScenario.from_dict(doc, base=path.parent, data_dir=Path(data_dir) if data_dir else None, source=path)
    return Scenario.from_dict(doc, base=path.parent, data_dir=Path(data_dir) if data_dir else None, source=path)
