"""What a demand-responsive service runs on: road network, stops, fleet, rules and fares.

A :class:`Deployment` is read from the ``[network]``, ``[stops]``, ``[fleet]``, ``[service]``
and ``[fares]`` tables of a TOML file (other tables are ignored): the simulator's scenario
files (``sim/scenario.py``) and the live engine (``mobility serve --scenario``) share it.

A deployment may run several services on one network (:attr:`Deployment.services`, the first
is the default): the I-MOD zone those tables describe, and shared-taxi fleets (I-MOA,
:class:`TaxiServiceSpec`), each from a ``[[services]]`` table::

    [[services]]
    name = "imoa"              # the name calls give (the service field of the API)
    kind = "shared_taxi"
    vehicles = 30              # taxis, ids "imoa0000" ..
    start_nodes = [17, 523]    # optional: the first taxis' start nodes (or a vehicle file, "id node" per
                               # line as Manhattan.drv); the others start at nodes drawn for the seed
    shift_start = "06:00"      # optional, as in [fleet]
    shift_end = "23:30"
    batch = true               # false: each request assigned at once (the immediate-insertion baseline)
    pooling = { max_wait_s = 300, batch_s = 30 }   # PoolingParams

A scenario of the shared taxi alone says ``kind = "shared_taxi"`` in ``[service]`` (with an
optional ``name``, default ``"imoa"``): its ``[pooling]`` table gives the rules and ``[fleet]``
(``vehicles``, ``start_nodes``, ``shift_start``, ``shift_end``) the taxis, whose ids are then
``taxi0000``, ... as in the simulator's runs of the same scenario; it has no I-MOD service. A
``[pooling]`` table without ``[service] kind`` means the same. The I-MOD service is named by
``[service] name`` (default ``"imod"``).

The I-MOD ``[fleet]`` is either one shift for every vehicle (``vehicles``, ``shift_start``,
``shift_end``) or shift slots, each with its own vehicles (not both; :class:`FleetSpec`)::

    [fleet]
    seats = 16
    shifts = [{ start = "06:00", end = "14:00", vehicles = 6 },
              { start = "10:00", end = "20:00", vehicles = 4 }]

:func:`load_world` builds the network, its router and the stops; :func:`make_fleet` the
vehicles, whose depots lie in the service's zone (:func:`zone_stops`) as the simulator's demand
does, so that neither is turned away for being outside it.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing import (
    KOREAN_URBAN_SPEEDS_KPH,
    MANHATTAN_COORD_UNIT_M,
    MANHATTAN_TIME_UNIT_S,
    STOP_FILE_KINDS,
    BuildOptions,
    InvalidArgumentError,
    RoadNetwork,
    Router,
    StopFileError,
    StopSet,
    all_node_stops,
    load_network,
    read_manhattan,
    read_stop_points,
    stops_from_points,
    virtual_stops,
)

from .checks import ID_RULE, id_problem
from .errors import InvalidValueError
from .fares import DEFAULT_CURRENCY, FarePolicy, check_currency, fare_policy_from_name
from .model import VehicleState
from .params import ServiceParams
from .pooling.model import TaxiSpec
from .pooling.params import PoolingParams
from .service_area import stops_in_zone

log = logging.getLogger(__name__)

DAY_S = 86_400


class ConfigError(InvalidValueError):
    """A configuration file is missing, unreadable or has a bad value (the field is named)."""


def read_scenario_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML of a scenario file; :class:`ConfigError` (field ``scenario``) if it cannot be read."""
    if not path.is_file():
        reason = "is a directory, not a file" if path.is_dir() else "file not found"
        raise ConfigError("scenario", f"{reason}: {path}")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("scenario", f"{path} is not valid TOML ({exc})") from exc


def parse_time(value: object, field_name: str) -> int:
    """``"HH:MM"`` (or ``"HH:MM:SS"``) or whole seconds -> seconds on the service clock."""
    if isinstance(value, bool):
        raise ConfigError(field_name, f"got {value!r}", '"HH:MM" or seconds')
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        parts = value.strip().split(":")
        try:
            nums = [int(p) for p in parts]
        except ValueError as exc:
            raise ConfigError(field_name, f"cannot read {value!r}", '"HH:MM" or seconds') from exc
        if len(nums) not in (2, 3) or not (0 <= nums[1] < 60) or (len(nums) == 3 and not 0 <= nums[2] < 60):
            raise ConfigError(field_name, f"cannot read {value!r}", '"HH:MM" or "HH:MM:SS"')
        seconds = nums[0] * 3600 + nums[1] * 60 + (nums[2] if len(nums) == 3 else 0)
    else:
        raise ConfigError(field_name, f"got {value!r}", '"HH:MM" or seconds')
    if not 0 <= seconds <= 2 * DAY_S:
        raise ConfigError(field_name, f"{seconds} s is outside the two service days", "00:00 .. 48:00")
    if isinstance(value, int) and 1 <= value <= 48:
        # whole seconds this small are almost surely hours typed as a number ("start = 7")
        raise ConfigError(
            field_name,
            f'{value} would be {value} seconds after midnight; for {value:02d}:00 write "{value:02d}:00"',
            '"HH:MM", or seconds 0 or above 48',
        )
    return seconds


def check_keys(table: Mapping[str, Any], allowed: set[str], section: str) -> None:
    """``table`` is a TOML table whose keys are all in ``allowed``; else :class:`ConfigError`
    naming ``section`` (a plain value where a table belongs) or the first unknown key."""
    if not isinstance(table, Mapping):
        raise ConfigError(section, f"got {table!r}", "a table")
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{section}.{sorted(unknown)[0]}", "unknown key", ", ".join(sorted(allowed)))


def number(table: Mapping[str, Any], key: str, section: str, default: float, lo: float, hi: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"{section}.{key}", f"got {value!r}", f"{lo} .. {hi}")
    return float(value)


def integer(table: Mapping[str, Any], key: str, section: str, default: int, lo: int, hi: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{section}.{key}", f"got {value!r}", f"whole numbers {lo} .. {hi}")
    return int(value)


@dataclass(frozen=True)
class NetworkSpec:
    """The ``[network]`` table: ``kind`` ("osm" or "benchmark"), ``path`` and, for benchmark
    graphs only, the units of their files (see :mod:`routing.benchmark_graphs`): metres per
    coordinate unit of ``.xy`` and seconds per time unit of ``.d``, by default the Manhattan
    graph's (a mile, a tenth of a second)."""

    kind: str
    path: Path
    time_unit_s: float = MANHATTAN_TIME_UNIT_S
    coord_unit_m: float = MANHATTAN_COORD_UNIT_M
    #: ``speeds``: km/h by OSM ``highway`` class, overriding those classes' defaults
    #: (:data:`routing.KOREAN_URBAN_SPEEDS_KPH`); a class not in the defaults is added to the network
    speeds_kph: tuple[tuple[str, float], ...] = ()
    #: ``use_maxspeed``: take a way's speed from its ``maxspeed`` tag where it has one
    use_maxspeed: bool = True

    def build_options(self) -> BuildOptions:
        """How the OSM file becomes a network (the defaults with :attr:`speeds_kph`; part of the cache key)."""
        speeds = dict(KOREAN_URBAN_SPEEDS_KPH)
        speeds.update(self.speeds_kph)
        return BuildOptions(speeds_kph=speeds, use_maxspeed=self.use_maxspeed)


#: ``[stops] kind``: stops covering the network, every node, or the service's own stop file.
STOPS_KINDS = ("virtual", "nodes", *STOP_FILE_KINDS)


@dataclass(frozen=True)
class StopsSpec:
    """The ``[stops]`` table: ``kind`` (:data:`STOPS_KINDS`); ``spacing_m`` for virtual stops;
    ``path`` and ``max_snap_m`` for a stop file (stops farther from every road node are dropped)."""

    kind: str = "virtual"
    spacing_m: float = 300.0
    path: Path | None = None
    max_snap_m: float = 100.0


#: Most vehicles of an I-MOD fleet.
MAX_VEHICLES = 100_000


@dataclass(frozen=True)
class ShiftSpec:
    """One shift slot of ``[fleet] shifts``: ``vehicles`` vehicles on duty from ``start_s`` to
    ``end_s`` (service clock, seconds)."""

    start_s: int
    end_s: int
    vehicles: int


@dataclass(frozen=True)
class FleetSpec:
    """The ``[fleet]`` table of the I-MOD service.

    Either one shift for the whole fleet (``vehicles`` vehicles from ``shift_start_s`` to
    ``shift_end_s``), or ``shifts``, one :class:`ShiftSpec` per slot. With ``shifts``,
    ``vehicles`` is their total and ``shift_start_s``/``shift_end_s`` the span from the earliest
    start to the latest end (build it with :meth:`from_shifts`); :meth:`vehicle_shifts` gives
    each vehicle's window either way.
    """

    vehicles: int = 16
    seats: int = 16
    wheelchair_places: int = 1
    shift_start_s: int = 6 * 3600
    shift_end_s: int = 23 * 3600
    shifts: tuple[ShiftSpec, ...] = ()

    @classmethod
    def from_shifts(cls, shifts: Sequence[ShiftSpec], *, seats: int = 16, wheelchair_places: int = 1) -> FleetSpec:
        """A fleet of shift slots (at least one; each with ``end_s > start_s`` and a vehicle)."""
        if not shifts:
            raise ConfigError("fleet.shifts", "no shifts", "at least one { start, end, vehicles }")
        for k, sh in enumerate(shifts):
            if sh.end_s <= sh.start_s:
                raise ConfigError(f"fleet.shifts[{k}].end", "the shift must end after it starts", "> its start")
            if sh.vehicles < 1:
                raise ConfigError(f"fleet.shifts[{k}].vehicles", f"got {sh.vehicles}", f"1 .. {MAX_VEHICLES}")
        return cls(
            vehicles=sum(sh.vehicles for sh in shifts),
            seats=seats,
            wheelchair_places=wheelchair_places,
            shift_start_s=min(sh.start_s for sh in shifts),
            shift_end_s=max(sh.end_s for sh in shifts),
            shifts=tuple(shifts),
        )

    def vehicle_shifts(self) -> list[tuple[int, int]]:
        """Each vehicle's shift ``(start_s, end_s)``, in fleet order (the slots' vehicles in
        the order of ``shifts``; every vehicle's the same without them)."""
        if not self.shifts:
            return [(self.shift_start_s, self.shift_end_s)] * self.vehicles
        return [(sh.start_s, sh.end_s) for sh in self.shifts for _ in range(sh.vehicles)]


#: What one shift slot looks like, for error messages.
SHIFT_EXAMPLE = '{ start = "06:00", end = "14:00", vehicles = 6 }'


def _shifts(value: object) -> list[ShiftSpec]:
    """``[fleet] shifts``: a list of ``{ start, end, vehicles }`` tables (times as ``parse_time``)."""
    if not isinstance(value, list) or not value:
        raise ConfigError("fleet.shifts", f"got {value!r}", f"a list of {SHIFT_EXAMPLE}")
    out = []
    for k, table in enumerate(value):
        section = f"fleet.shifts[{k}]"
        if not isinstance(table, Mapping):
            raise ConfigError(section, f"got {table!r}", SHIFT_EXAMPLE)
        check_keys(table, {"start", "end", "vehicles"}, section)
        for key in ("start", "end", "vehicles"):
            if key not in table:
                raise ConfigError(f"{section}.{key}", "missing", "start, end and vehicles in every shift")
        start = parse_time(table["start"], f"{section}.start")
        end = parse_time(table["end"], f"{section}.end")
        if end <= start:
            raise ConfigError(f"{section}.end", "the shift must end after it starts", f"> {section}.start")
        out.append(ShiftSpec(start, end, integer(table, "vehicles", section, 1, 1, MAX_VEHICLES)))
    total = sum(sh.vehicles for sh in out)
    if total > MAX_VEHICLES:
        raise ConfigError("fleet.shifts", f"{total} vehicles in all", f"at most {MAX_VEHICLES}")
    return out


#: The kinds of service a deployment may run.
SERVICE_KINDS = ("imod", "shared_taxi")
#: Default names of the I-MOD service and of a shared-taxi service of a scenario of its own.
DEFAULT_IMOD_NAME = "imod"
DEFAULT_TAXI_NAME = "imoa"
#: The taxis' ids of a scenario of the shared taxi alone start with this, as in the simulator.
SCENARIO_TAXI_PREFIX = "taxi"
#: Most taxis of one shared-taxi service.
MAX_TAXIS = 100_000


@dataclass(frozen=True)
class TaxiServiceSpec:
    """A shared-taxi service (I-MOA) of a deployment (see the module docstring).

    Attributes:
        name: what calls name it by (the id rule).
        pooling: its rules and the batch's budgets.
        vehicles: its taxis (ids ``<id_prefix>0000`` ..., :meth:`taxi_ids`).
        start_nodes: where the first taxis start (road-network node ids); the others start at
            nodes drawn by :meth:`fleet`, uniformly over the nodes, for the seed.
        shift_start_s, shift_end_s: every taxi's shift.
        batch: False assigns each request at once (the immediate-insertion baseline).
        id_prefix: what the taxis' ids start with (empty: the service's name).
    """

    name: str
    pooling: PoolingParams
    vehicles: int
    start_nodes: tuple[int, ...] = ()
    shift_start_s: int = 0
    shift_end_s: int = 2 * DAY_S
    batch: bool = True
    id_prefix: str = ""

    def taxi_ids(self) -> list[str]:
        """The taxis' ids, in fleet order."""
        return [f"{self.id_prefix or self.name}{k:04d}" for k in range(self.vehicles)]

    def fleet(self, num_nodes: int, seed: int) -> list[TaxiSpec]:
        """The taxis on a network of ``num_nodes`` nodes: at :attr:`start_nodes`, then at nodes drawn
        for ``seed`` (the same for the same seed, service name and network size).

        Raises:
            ConfigError: a start node is not in the network (field ``services.start_nodes``).
        """
        bad = [n for n in self.start_nodes if not 0 <= n < num_nodes]
        if bad:
            raise ConfigError("services.start_nodes", f"node {bad[0]} is not in the network", f"0 .. {num_nodes - 1}")
        rng = np.random.default_rng([seed, *self.name.encode()])
        nodes = [*self.start_nodes, *rng.integers(0, num_nodes, self.vehicles - len(self.start_nodes)).tolist()]
        return [
            TaxiSpec(vid, int(node), self.shift_start_s, self.shift_end_s)
            for vid, node in zip(self.taxi_ids(), nodes, strict=True)
        ]


def _start_nodes(value: object, field: str, *, base: Path | None, data_dir: Path | None) -> list[int]:
    """Start nodes: a list of node ids, or a vehicle file (``id node`` per line, as ``Manhattan.drv``)."""
    if isinstance(value, str):
        path = locate(value, field, base=base, data_dir=data_dir)
        try:
            rows = np.loadtxt(path, dtype=np.int64, ndmin=2)
        except ValueError as exc:
            raise ConfigError(field, f"{path} is not a vehicle file ({exc})", '"id node" per line') from exc
        if rows.shape[1] < 2:
            raise ConfigError(field, f"{path} has one column", '"id node" per line')
        return [int(n) for n in rows[:, 1]]
    if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        raise ConfigError(field, f"got {value!r}", "a list of road-network node ids, or a vehicle file")
    return list(value)


def _taxi_service(
    table: Mapping[str, Any],
    section: str,
    *,
    name: str,
    pooling: Any,
    pooling_section: str,
    id_prefix: str = "",
    base: Path | None = None,
    data_dir: Path | None = None,
) -> TaxiServiceSpec:
    """A :class:`TaxiServiceSpec` from a ``[[services]]`` table (or ``[fleet]`` with ``pooling``)."""
    if not isinstance(pooling, Mapping):
        raise ConfigError(pooling_section, f"got {pooling!r}", "a table of PoolingParams fields")
    try:
        params = PoolingParams.from_mapping(pooling)
    except InvalidValueError as exc:  # its field is "pooling.<key>"
        field = exc.field.removeprefix("pooling.")
        raise ConfigError(f"{pooling_section}.{field}", exc.message, exc.allowed) from exc
    listed = "start_nodes" in table and isinstance(table["start_nodes"], list)
    starts = _start_nodes(table.get("start_nodes", []), f"{section}.start_nodes", base=base, data_dir=data_dir)
    vehicles = integer(table, "vehicles", section, len(starts) or 10, 1, MAX_TAXIS)
    if listed and len(starts) > vehicles:
        raise ConfigError(f"{section}.start_nodes", f"{len(starts)} nodes for {vehicles} taxis", "one node per taxi")
    starts = starts[:vehicles]  # a vehicle file may list more
    shift_start = parse_time(table.get("shift_start", 0), f"{section}.shift_start")
    shift_end = parse_time(table.get("shift_end", 2 * DAY_S), f"{section}.shift_end")
    if shift_end <= shift_start:
        raise ConfigError(f"{section}.shift_end", "the shift must end after it starts", f"> {section}.shift_start")
    batch = table.get("batch", True)
    if not isinstance(batch, bool):
        raise ConfigError(f"{section}.batch", f"got {batch!r}", "true, false")
    problem = id_problem(name)
    if problem is not None:
        raise ConfigError(f"{section}.name", problem, ID_RULE)
    return TaxiServiceSpec(name, params, vehicles, tuple(starts), shift_start, shift_end, batch, id_prefix)


def _services(
    doc: Mapping[str, Any], service: Mapping[str, Any], *, base: Path | None, data_dir: Path | None
) -> tuple[bool, str, tuple[TaxiServiceSpec, ...]]:
    """Whether the deployment runs I-MOD, its name, and the shared-taxi services (module docstring)."""
    kind = service.get("kind", "shared_taxi" if "pooling" in doc else "imod")
    if kind not in SERVICE_KINDS:
        raise ConfigError("service.kind", f"got {kind!r}", ", ".join(SERVICE_KINDS))
    taxis: list[TaxiServiceSpec] = []
    imod_name = DEFAULT_IMOD_NAME
    if kind == "shared_taxi":
        fl = doc.get("fleet", {})
        check_keys(fl, {"vehicles", "shift_start", "shift_end", "start_nodes", "seats", "wheelchair_places"}, "fleet")
        name = service.get("name", DEFAULT_TAXI_NAME)
        taxis.append(
            _taxi_service(fl, "fleet", name=name, pooling=doc.get("pooling", {}), pooling_section="pooling",
                          id_prefix=SCENARIO_TAXI_PREFIX, base=base, data_dir=data_dir)
        )  # fmt: skip
    else:
        imod_name = service.get("name", DEFAULT_IMOD_NAME)
        if id_problem(imod_name) is not None:
            raise ConfigError("service.name", f"got {imod_name!r}", ID_RULE)
        if "pooling" in doc:
            raise ConfigError("pooling", 'a [pooling] table needs [service] kind = "shared_taxi"; use [[services]] '
                              "for a shared taxi beside the I-MOD zone")  # fmt: skip
    listed = doc.get("services", [])
    if not isinstance(listed, list):
        raise ConfigError("services", f"got {type(listed).__name__}", "[[services]] tables")
    for k, table in enumerate(listed):
        section = f"services[{k}]"
        if not isinstance(table, Mapping):
            raise ConfigError(section, f"got {table!r}", "a table")
        check_keys(table, {"name", "kind", "vehicles", "start_nodes", "shift_start", "shift_end", "batch", "pooling"},
                   section)  # fmt: skip
        if table.get("kind", "shared_taxi") != "shared_taxi":
            raise ConfigError(f"{section}.kind", f"got {table.get('kind')!r}", "shared_taxi (the I-MOD zone is the "
                              "[fleet], [stops] and [service] tables)")  # fmt: skip
        if "name" not in table:
            raise ConfigError(f"{section}.name", "missing", ID_RULE)
        pooling = table.get("pooling", {})
        taxis.append(
            _taxi_service(table, section, name=table["name"], pooling=pooling, pooling_section=f"{section}.pooling",
                          base=base, data_dir=data_dir)
        )  # fmt: skip
    names = ([imod_name] if kind == "imod" else []) + [t.name for t in taxis]
    dup = next((n for k, n in enumerate(names) if n in names[:k]), None)
    if dup is not None:
        raise ConfigError("services.name", f"two services are called {dup!r}", "a name per service")
    return kind == "imod", imod_name, tuple(taxis)


@dataclass(frozen=True)
class Deployment:
    """The service's world: network, stops, fleet, rules and fares (see the module docstring).

    ``imod`` False: the deployment runs shared taxis only (the I-MOD tables then only keep their
    defaults); ``taxi_services``: its shared-taxi services.
    """

    network: NetworkSpec
    stops: StopsSpec
    fleet: FleetSpec
    service: ServiceParams
    fare_policy: str = "imod"
    imod: bool = True
    imod_name: str = DEFAULT_IMOD_NAME
    taxi_services: tuple[TaxiServiceSpec, ...] = ()
    #: the fare policy's fields set by ``[fares]`` (the others keep their defaults)
    fare_options: tuple[tuple[str, int], ...] = ()
    #: ``[fares] currency``: what the fares are counted in (ISO 4217 code; smallest unit)
    currency: str = DEFAULT_CURRENCY

    @property
    def services(self) -> tuple[str, ...]:
        """The names of the services, the default (the I-MOD zone, if any) first."""
        return ((self.imod_name,) if self.imod else ()) + tuple(t.name for t in self.taxi_services)

    @classmethod
    def from_toml(cls, path: str | Path, *, data_dir: str | Path | None = None) -> Deployment:
        path = Path(path)
        return cls.from_dict(read_scenario_toml(path), base=path.parent, data_dir=Path(data_dir) if data_dir else None)

    @classmethod
    def from_dict(
        cls,
        doc: Mapping[str, Any],
        *,
        base: Path | None = None,
        data_dir: Path | None = None,
        default_shift: tuple[int, int] = (6 * 3600, 23 * 3600),
    ) -> Deployment:
        nt = doc.get("network", {})
        check_keys(nt, {"kind", "path", "time_unit_s", "coord_unit_m", "speeds", "use_maxspeed"}, "network")
        kind = nt.get("kind", "osm")
        if kind not in ("osm", "benchmark"):
            raise ConfigError("network.kind", f"got {kind!r}", "osm, benchmark")
        if kind != "benchmark":
            for unit in ("time_unit_s", "coord_unit_m"):
                if unit in nt:
                    raise ConfigError(
                        f"network.{unit}",
                        'only benchmark graphs (kind = "benchmark", .xy + .d files) have units to set; '
                        "an OSM file's are known",
                    )
        elif "speeds" in nt or "use_maxspeed" in nt:
            key = "speeds" if "speeds" in nt else "use_maxspeed"
            raise ConfigError(f"network.{key}", "a benchmark graph has its travel times; speeds apply to OSM files")
        use_maxspeed = nt.get("use_maxspeed", True)
        if not isinstance(use_maxspeed, bool):
            raise ConfigError("network.use_maxspeed", f"got {use_maxspeed!r}", "true, false")
        network = NetworkSpec(
            kind=kind,
            path=locate(nt.get("path"), "network.path", base=base, data_dir=data_dir),
            time_unit_s=number(nt, "time_unit_s", "network", MANHATTAN_TIME_UNIT_S, 1e-6, 1e6),
            coord_unit_m=number(nt, "coord_unit_m", "network", MANHATTAN_COORD_UNIT_M, 1e-3, 1e7),
            speeds_kph=_speeds(nt.get("speeds", {})),
            use_maxspeed=use_maxspeed,
        )
        stops = _stops_spec(doc.get("stops", {}), base=base, data_dir=data_dir)
        sv = doc.get("service", {})
        if not isinstance(sv, Mapping):
            raise ConfigError("service", f"got {sv!r}", "a table")
        imod, imod_name, taxis = _services(doc, sv, base=base, data_dir=data_dir)
        fl = doc.get("fleet", {})
        if imod:
            check_keys(fl, {"vehicles", "seats", "wheelchair_places", "shift_start", "shift_end", "shifts"}, "fleet")
        else:  # the [fleet] table is the taxis'; the dormant I-MOD side keeps its defaults
            fl = {}
        seats = integer(fl, "seats", "fleet", 16, 1, 100)
        wheelchair_places = integer(fl, "wheelchair_places", "fleet", 1, 0, 10)
        if "shifts" in fl:  # shift slots instead of one shift for the whole fleet
            both = next((k for k in ("vehicles", "shift_start", "shift_end") if k in fl), None)
            if both is not None:
                raise ConfigError(f"fleet.{both}", "the fleet has shifts: its vehicles and hours are theirs",
                                  "either vehicles with shift_start and shift_end, or shifts")  # fmt: skip
            fleet = FleetSpec.from_shifts(_shifts(fl["shifts"]), seats=seats, wheelchair_places=wheelchair_places)
        else:
            fleet = FleetSpec(
                vehicles=integer(fl, "vehicles", "fleet", 16, 1, MAX_VEHICLES),
                seats=seats,
                wheelchair_places=wheelchair_places,
                shift_start_s=parse_time(fl.get("shift_start", default_shift[0]), "fleet.shift_start"),
                shift_end_s=parse_time(fl.get("shift_end", default_shift[1]), "fleet.shift_end"),
            )
            if fleet.shift_end_s <= fleet.shift_start_s:
                raise ConfigError("fleet.shift_end", "the shift must end after it starts", "> fleet.shift_start")
        service = ServiceParams.from_dict({k: v for k, v in sv.items() if k not in ("kind", "name")}, prefix="service.")
        policy, fare_options, currency = _fares(doc.get("fares", {}))
        return cls(
            network=network,
            stops=stops,
            fleet=fleet,
            service=service,
            fare_policy=policy,
            imod=imod,
            imod_name=imod_name,
            taxi_services=taxis,
            fare_options=tuple(sorted(fare_options.items())),
            currency=currency,
        )

    def fares(self) -> FarePolicy:
        """The fare policy with the ``[fares]`` table's amounts (in :attr:`currency`)."""
        return fare_policy_from_name(self.fare_policy, options=dict(self.fare_options))


#: A road class name as OSM writes ``highway`` values.
_ROAD_CLASS = re.compile(r"[a-z][a-z0-9_]*")


def _speeds(table: object) -> tuple[tuple[str, float], ...]:
    """``[network] speeds``: ``{ class = km/h }`` (1 .. 300 km/h each)."""
    if not isinstance(table, Mapping):
        raise ConfigError("network.speeds", f"got {table!r}", "a table of km/h by OSM road class, e.g. "
                          "{ primary = 40, residential = 20 }")  # fmt: skip
    out = []
    for cls_name, speed in table.items():
        if not _ROAD_CLASS.fullmatch(cls_name):
            raise ConfigError(f"network.speeds.{cls_name}", "not an OSM highway class", "e.g. primary, residential")
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 1.0 <= speed <= 300.0:
            raise ConfigError(f"network.speeds.{cls_name}", f"got {speed!r}", "1 .. 300 km/h")
        out.append((cls_name, float(speed)))
    return tuple(sorted(out))


def _stops_spec(st: object, *, base: Path | None, data_dir: Path | None) -> StopsSpec:
    """The ``[stops]`` table (:class:`StopsSpec`)."""
    if not isinstance(st, Mapping):
        raise ConfigError("stops", f"got {st!r}", "a table")
    check_keys(st, {"kind", "spacing_m", "path", "max_snap_m"}, "stops")
    skind = st.get("kind", "virtual")
    if skind not in STOPS_KINDS:
        raise ConfigError("stops.kind", f"got {skind!r}", ", ".join(STOPS_KINDS))
    from_file = skind in STOP_FILE_KINDS
    if from_file and "path" not in st:
        raise ConfigError("stops.path", f'stops kind "{skind}" needs the stop file', "a file path")
    for key in ("path", "max_snap_m"):
        if not from_file and key in st:
            raise ConfigError(f"stops.{key}", f"only for stops read from a file (kind {', '.join(STOP_FILE_KINDS)})")
    if "spacing_m" in st and from_file:
        raise ConfigError("stops.spacing_m", "only for virtual stops; a stop file gives its own stops")
    return StopsSpec(
        kind=skind,
        spacing_m=number(st, "spacing_m", "stops", 300.0, 10.0, 20000.0),
        path=locate(st["path"], "stops.path", base=base, data_dir=data_dir) if from_file else None,
        max_snap_m=number(st, "max_snap_m", "stops", 100.0, 0.0, 5000.0),
    )


#: ``[fares]`` keys of each policy -> (the policy's field, lowest, highest). Amounts are whole
#: numbers in the currency's smallest unit (won, cents).
FARE_KEYS: dict[str, dict[str, tuple[str, int, int]]] = {
    "imod": {
        "base_distance_m": ("base_distance_m", 0, 1_000_000),
        "step_m": ("extra_step_m", 1, 1_000_000),
        "per_step": ("extra_step_krw", 0, 100_000_000),
    },
    "shared_taxi": {
        "base_fare": ("base_fare_krw", 0, 100_000_000),
        "base_distance_m": ("base_distance_m", 0, 1_000_000),
        "step_m": ("step_m", 1, 1_000_000),
        "per_step": ("step_krw", 0, 100_000_000),
        "pooled_discount_pct": ("pooled_discount_pct", 0, 100),
        "driver_pooled_share_pct": ("driver_pooled_share_pct", 0, 1000),
        "round_to": ("round_to_krw", 1, 100_000_000),
    },
}
#: ``[fares] base`` of the I-MOD policy: the base fare by rider class.
IMOD_BASE_FIELDS = {"adult": "adult_base_krw", "youth": "youth_base_krw", "child": "child_base_krw"}


def _fares(fares: object) -> tuple[str, dict[str, int], str]:
    """The ``[fares]`` table: the policy's name, its fields set, and the currency."""
    if not isinstance(fares, Mapping):
        raise ConfigError("fares", f"got {fares!r}", "a table")
    policy = fares.get("policy", "imod")
    if policy not in FARE_KEYS:
        raise ConfigError("fares.policy", f"got {policy!r}", ", ".join(FARE_KEYS))
    keys = FARE_KEYS[policy]
    extra = {"base", "per_km"} if policy == "imod" else set()
    check_keys(fares, {"policy", "currency", *keys, *extra}, "fares")
    try:
        currency = check_currency(fares.get("currency", DEFAULT_CURRENCY))
    except InvalidValueError as exc:
        raise ConfigError("fares.currency", exc.message, exc.allowed) from exc
    options = {name: integer(fares, key, "fares", 0, lo, hi) for key, (name, lo, hi) in keys.items() if key in fares}
    if "base" in extra and "base" in fares:
        base = fares["base"]
        if not isinstance(base, Mapping):
            raise ConfigError(
                "fares.base", f"got {base!r}", "a table by rider class, e.g. { adult = 1800, youth = 1200 }"
            )
        check_keys(base, set(IMOD_BASE_FIELDS), "fares.base")
        options.update({IMOD_BASE_FIELDS[k]: integer(base, k, "fares.base", 0, 0, 100_000_000) for k in base})
    if "per_km" in fares:
        for key in ("step_m", "per_step"):
            if key in fares:
                raise ConfigError(f"fares.{key}", "give per_km, or step_m and per_step, not both")
        options["extra_step_m"] = 1000
        options["extra_step_krw"] = integer(fares, "per_km", "fares", 0, 0, 100_000_000)
    if currency != DEFAULT_CURRENCY:
        # the defaults are amounts in won: in another currency every amount must be given
        if policy == "imod":
            base = fares.get("base", {})
            needed = [f"base.{k}" for k in IMOD_BASE_FIELDS if k not in base]
            needed += [] if "per_km" in fares or "per_step" in fares else ["per_km (or step_m and per_step)"]
        else:
            needed = [k for k in ("base_fare", "per_step", "round_to") if k not in fares]
        if needed:
            raise ConfigError(
                "fares.currency",
                f"{currency}: the default fares are amounts in {DEFAULT_CURRENCY}; "
                f"give every amount in {currency} (missing: {', '.join(needed)})",
            )
    return policy, options, currency


def locate(value: object, field_name: str, *, base: Path | None, data_dir: Path | None) -> Path:
    """A file named in a configuration: absolute, or relative to the data folder or to the file itself."""
    if not isinstance(value, str) or not value:
        raise ConfigError(field_name, f"got {value!r}", "a file path")
    p = Path(value)
    if p.is_absolute():
        if p.exists():
            return p
        raise ConfigError(field_name, f"file not found ({p})")
    candidates = [c / p for c in (data_dir, base) if c is not None]
    for q in candidates:
        if q.exists():
            return q
    raise ConfigError(field_name, f"file not found (tried {', '.join(str(c) for c in candidates) or value})")


def load_roads(spec: NetworkSpec) -> tuple[RoadNetwork, Router]:
    """The ``[network]`` table's road network (cached; an OSM file with its build options such as
    ``speeds``) and its router (cached contraction hierarchy)."""
    if spec.kind == "benchmark":
        net = read_manhattan(spec.path, time_unit_s=spec.time_unit_s, coord_unit_m=spec.coord_unit_m)
    else:
        net = load_network(spec.path, options=spec.build_options())
    return net, Router.from_network(net)


def load_world(deployment: Deployment) -> tuple[RoadNetwork, Router, StopSet]:
    """Network, router (cached contraction hierarchy) and stops of a deployment."""
    net, router = load_roads(deployment.network)
    return net, router, build_stops(deployment.stops, net)


def build_stops(spec: StopsSpec, network: RoadNetwork) -> StopSet:
    """The service's stops on ``network`` as ``[stops]`` asks: virtual stops, every node, or
    the stops of a file snapped to the network (those beyond ``max_snap_m`` dropped with a
    warning that counts them and names the first).

    Raises:
        ConfigError: (field ``stops.path``) the file cannot be read, or (``stops.max_snap_m``)
            none of its stops is within reach of the network.
    """
    if spec.kind == "nodes":
        return all_node_stops(network)
    if spec.kind not in STOP_FILE_KINDS:
        return virtual_stops(network, spacing_m=spec.spacing_m)
    assert spec.path is not None
    if not network.has_lat_lon:
        raise ConfigError("stops.kind", f"the network {network.name!r} has no lat/lon to snap a stop file to")
    try:
        points = read_stop_points(spec.path, spec.kind)
        stops, kept = stops_from_points(network, points, max_snap_m=spec.max_snap_m)
    except StopFileError as exc:
        raise ConfigError("stops.path", str(exc)) from exc
    except InvalidArgumentError as exc:
        raise ConfigError(f"stops.{exc.field}", str(exc).removeprefix(f"{exc.field}: ")) from exc
    if not kept.all():
        first = int(np.flatnonzero(~kept)[0])
        log.warning(
            "stops.path: %d of the %d stops of %s are farther than max_snap_m = %g m from the roads; "
            "dropped (the first: %r)",
            int(np.count_nonzero(~kept)),
            len(points),
            spec.path,
            spec.max_snap_m,
            points.ids[first],
        )
    return stops


def zone_stops(deployment: Deployment, stops: StopSet) -> NDArray[np.bool_]:
    """Whether each stop lies in the service's zone (``[service] zone``; every stop without one).

    Raises:
        ConfigError: (field ``service.zone``) the zone contains none of the stops, with the
            reason when it can tell (lat and lon swapped; see :func:`matching.stops_in_zone`).
    """
    try:
        return stops_in_zone(deployment.service.zone, stops)
    except InvalidValueError as exc:
        raise ConfigError(f"service.{exc.field}", exc.message, exc.allowed) from exc


def make_fleet(deployment: Deployment, stops: StopSet, seed: int) -> list[VehicleState]:
    """Vehicles spread over the stops of the service's zone (:func:`zone_stops`; depots drawn
    without replacement where possible). Without a zone every stop may be a depot, and the draw
    is the same as over the whole stop set.

    One vehicle per shift slot (:meth:`FleetSpec.vehicle_shifts`): ids ``veh0000``, ... in the
    order of ``[fleet] shifts``, each with its slot's shift; the depots are drawn as for a fleet
    of one shift of the same size."""
    f = deployment.fleet
    rng = np.random.default_rng(seed)
    allowed = np.flatnonzero(zone_stops(deployment, stops))
    depots = allowed[rng.choice(len(allowed), size=f.vehicles, replace=f.vehicles > len(allowed))]
    return [
        VehicleState(
            id=f"veh{k:04d}",
            seats=f.seats,
            wheelchair_places=f.wheelchair_places,
            depot_stop=int(depots[k]),
            shift_start_s=start,
            shift_end_s=end,
        )
        for k, (start, end) in enumerate(f.vehicle_shifts())
    ]
