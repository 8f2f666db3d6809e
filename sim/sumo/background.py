"""Background traffic for a SUMO network: cars by time of day, made with SUMO's own tools.

The demand is a number of car trips per hour: ``peak_vph`` at the busiest hour, scaled by a
24-value hourly profile (:class:`BackgroundSpec`). The default profile is the scenario's BPR
volume/capacity profile on major roads (``TrafficSpec.vc_major``): v/c is volume over a fixed
capacity, so the hourly volumes are proportional to it.

:func:`write_background` turns the spec into a SUMO routes file for one period:

* **where trips start and end** — a weights file per side (``<prefix>.src.xml``,
  ``<prefix>.dst.xml``, SUMO's edgeData format) written here: every SUMO edge on the engine's
  map (:class:`~sim.sumo.network.EdgeMap`, so only edges of the engine's strongly connected
  road network, from which every other is reachable) weighs its length, times
  ``major_weight`` on major roads (the engine's ``MAJOR_ROAD_CLASSES``, read from the edge type
  netconvert keeps from OSM, ``highway.primary`` ...): through traffic and the busy roads
  carry most of a city's cars; other edges weigh nothing.
* **which trips, when** — SUMO's ``tools/randomTrips.py`` draws origin and destination edges
  from those weights (``--weights-prefix``, at least ``min_trip_m`` apart, ``--min-distance``)
  with departures at a constant spacing whose rate changes hour by hour (``--insertion-rate``
  with one value per equal interval of the period), seeded (``--seed``): the same spec, period
  and seed give the same trips.
* **routes** — randomTrips runs SUMO's ``duarouter`` on the trips (``--route-file``): fastest
  paths on the empty network; trips duarouter cannot route are drawn again until the count is
  met (randomTrips' validation), so the file holds the requested number per hour.
* **reacting to congestion** — every background car is of vehicle type ``background``, whose
  rerouting device (``has.rerouting.device``, every ``reroute_period_s``) lets SUMO re-route it
  on the travel times it measures, as drivers avoid a jam. Only background cars carry it: the
  engine's own fleet keeps the routes the dispatcher gives it.

The car ids start with ``bg`` so that a closed loop can tell them from its fleet.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from routing import MAJOR_ROAD_CLASSES

from ..scenario import VC_MAJOR, TrafficSpec
from .network import SumoNetwork
from .tools import SumoError, run_python_tool

#: seeds are whole numbers in this range (as everywhere in the engine)
MAX_SEED = 2**31 - 1
#: the largest demand accepted (vehicles per hour at the busiest hour)
MAX_PEAK_VPH = 1_000_000.0
#: the vehicle type of every background car, and the prefix of their ids
BACKGROUND_TYPE = "background"
BACKGROUND_PREFIX = "bg"
DAY_S = 24 * 3600


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class BackgroundSpec:
    """How many background cars drive, and when.

    peak_vph: cars that set off per hour, over the whole network, at the busiest hour of the
        profile (0 < peak_vph <= 1,000,000).
    profile: 24 relative values, one per hour from 00:00 (each >= 0, the largest > 0): hour
        ``h`` has ``peak_vph * profile[h] / max(profile)`` departures. Default: the BPR v/c
        profile of major roads (:data:`sim.scenario.VC_MAJOR`).
    seed: randomTrips' seed (0 .. 2**31 - 1).
    major_weight: how much more likely a metre of major road is to start or end a trip than a
        metre of minor road (>= 1 ... <= 1000).
    min_trip_m: straight-line distance a trip's ends are at least apart (0 .. 100,000 m).
    reroute_period_s: background cars re-route on SUMO's measured travel times this often
        (s, 0 = never; at most a day).
    """

    peak_vph: float
    profile: tuple[float, ...] = field(default=VC_MAJOR)
    seed: int = 0
    major_weight: float = 4.0
    min_trip_m: float = 300.0
    reroute_period_s: int = 300

    def __post_init__(self) -> None:
        if not (_finite(self.peak_vph) and 0 < self.peak_vph <= MAX_PEAK_VPH):
            raise ValueError(f"peak_vph: must be a number > 0 and <= {MAX_PEAK_VPH:,.0f}, got {self.peak_vph!r}")
        profile = tuple(self.profile) if isinstance(self.profile, list | tuple) else None
        if profile is None or len(profile) != 24:
            raise ValueError(f"profile: must be 24 numbers, one per hour from 00:00, got {self.profile!r}")
        for h, v in enumerate(profile):
            if not (_finite(v) and v >= 0):
                raise ValueError(f"profile[{h}]: must be a number >= 0, got {v!r}")
        if max(profile) <= 0:
            raise ValueError("profile: at least one hour must be > 0")
        object.__setattr__(self, "profile", tuple(float(v) for v in profile))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed: must be a whole number 0 .. {MAX_SEED}, got {self.seed!r}")
        if not (_finite(self.major_weight) and 1 <= self.major_weight <= 1000):
            raise ValueError(f"major_weight: must be a number 1 .. 1000, got {self.major_weight!r}")
        if not (_finite(self.min_trip_m) and 0 <= self.min_trip_m <= 100_000):
            raise ValueError(f"min_trip_m: must be a number 0 .. 100000 (m), got {self.min_trip_m!r}")
        ok = isinstance(self.reroute_period_s, int) and not isinstance(self.reroute_period_s, bool)
        if not (ok and 0 <= self.reroute_period_s <= DAY_S):
            raise ValueError(
                f"reroute_period_s: must be a whole number 0 .. {DAY_S} (s), got {self.reroute_period_s!r}"
            )

    @classmethod
    def from_traffic(cls, traffic: TrafficSpec, peak_vph: float, **kwargs: Any) -> BackgroundSpec:
        """The spec whose profile is ``traffic``'s hourly v/c on major roads."""
        return cls(peak_vph=peak_vph, profile=tuple(traffic.vc_major), **kwargs)

    def hourly_vph(self) -> tuple[float, ...]:
        """Departures per hour, hour 0 .. 23."""
        top = max(self.profile)
        return tuple(self.peak_vph * v / top for v in self.profile)

    def vph_at(self, t_s: float) -> float:
        """Departures per hour in the hour of day that contains ``t_s`` (s since midnight)."""
        return self.hourly_vph()[int(t_s // 3600) % 24]

    def scaled(self, factor: float) -> BackgroundSpec:
        """The same spec with ``factor`` times the cars."""
        return replace(self, peak_vph=self.peak_vph * factor)


def check_period(begin_s: float, end_s: float) -> tuple[int, int]:
    """``(begin_s, end_s)`` as whole seconds, checked: whole minutes, 0 <= begin < end <= 48 h."""
    for name, v in (("begin_s", begin_s), ("end_s", end_s)):
        if not _finite(v) or v != int(v) or int(v) % 60:
            raise ValueError(f"{name}: must be a whole number of minutes in seconds (0 .. {2 * DAY_S}), got {v!r}")
    b, e = int(begin_s), int(end_s)
    if not 0 <= b < e <= 2 * DAY_S:
        raise ValueError(f"end_s: the period must satisfy 0 <= begin_s < end_s <= {2 * DAY_S}, got {b} .. {e}")
    return b, e


def period_rates(spec: BackgroundSpec, begin_s: int, end_s: int) -> tuple[int, list[float]]:
    """The interval length (s) and one insertion rate (veh/h) per interval of the period.

    randomTrips spreads its rates over equal intervals; the longest interval length that puts
    every hour boundary of the period on an interval boundary is the greatest common divisor of
    3600 and the period's offsets from the hour (3600 when it starts and ends on the hour).
    """
    step = math.gcd(3600, begin_s % 3600, end_s % 3600)
    return step, [spec.vph_at(t) for t in range(begin_s, end_s, step)]


def _write_weights(sumo_network: SumoNetwork, spec: BackgroundSpec, prefix: Path) -> int:
    """Write the source and destination weights (edgeData files); return the edges weighted."""
    net = sumo_network.sumolib_net()
    major_types = {f"highway.{c}" for c in MAJOR_ROAD_CLASSES}
    lines = []
    for sid in sumo_network.edge_map.sumo_edges:
        edge = net.getEdge(sid)
        major = any(t in major_types for t in edge.getType().split("|"))
        weight = edge.getLength() * (spec.major_weight if major else 1.0)
        lines.append(f'        <edge id="{sid}" value="{weight:.2f}"/>\n')
    body = "".join(lines)
    for suffix in (".src.xml", ".dst.xml"):
        with open(f"{prefix}{suffix}", "w", encoding="utf-8") as f:
            f.write('<edgedata>\n    <interval id="weights" begin="0" end="172800">\n')
            f.write(body)
            f.write("    </interval>\n</edgedata>\n")
    return len(lines)


def _write_types(spec: BackgroundSpec, path: Path) -> None:
    params = ""
    if spec.reroute_period_s > 0:
        params = (
            '        <param key="has.rerouting.device" value="true"/>\n'
            f'        <param key="device.rerouting.period" value="{spec.reroute_period_s}"/>\n'
        )
    path.write_text(
        f'<additional>\n    <vType id="{BACKGROUND_TYPE}" vClass="passenger">\n{params}    </vType>\n</additional>\n',
        encoding="utf-8",
    )


def write_background(
    sumo_network: SumoNetwork,
    spec: BackgroundSpec,
    out_dir: str | Path,
    *,
    begin_s: float,
    end_s: float,
    seed: int | None = None,
    timeout_s: float = 3600.0,
) -> Path:
    """Write the background cars of ``begin_s`` .. ``end_s`` (s since midnight, whole minutes)
    as a SUMO routes file in ``out_dir``; return its path (``background.rou.xml``).

    ``seed`` (default ``spec.seed``) seeds randomTrips; the same network, spec, period and seed
    give the same cars, departures and routes. See the module docstring for what each SUMO tool
    does.

    Raises:
        ValueError: a bad period or seed (the message names it).
        SumoError: randomTrips or duarouter failed, or no trip could be drawn.
    """
    b, e = check_period(begin_s, end_s)
    seed = spec.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed: must be a whole number 0 .. {MAX_SEED}, got {seed!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / "background.weights"
    if _write_weights(sumo_network, spec, prefix) == 0:
        raise SumoError("no SUMO edge is on the engine's map: nowhere to start a trip")
    types = out / "background.types.xml"
    _write_types(spec, types)
    trips, routes = out / "background.trips.xml", out / "background.rou.xml"
    _, rates = period_rates(spec, b, e)
    args = [
        "--net-file",
        str(sumo_network.net_file),
        "--additional-files",
        str(types),
        "--weights-prefix",
        str(prefix),
        "--output-trip-file",
        str(trips),
        "--route-file",
        str(routes),
        "--begin",
        str(b),
        "--end",
        str(e),
        "--insertion-rate",
        *[f"{r:.6g}" for r in rates],
        "--seed",
        str(seed),
        "--prefix",
        BACKGROUND_PREFIX,
        "--min-distance",
        f"{spec.min_trip_m:g}",
        "--trip-attributes",
        f'type="{BACKGROUND_TYPE}" departLane="best" departSpeed="max"',
        "--threads",
        "1",
    ]
    # PYTHONHASHSEED: randomTrips' draws must not depend on Python's hash seed
    env = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    run_python_tool("randomTrips.py", args, output=routes, timeout_s=timeout_s, cwd=out, env=env)
    os.remove(trips)
    return routes


def cached_background(sumo_network: SumoNetwork, traffic: TrafficSpec, *, begin_s: int, end_s: int, seed: int) -> Path:
    """The routes file of a scenario's background traffic (``traffic.background_vph`` at the
    busiest hour, shaped by its v/c profile) over ``begin_s`` .. ``end_s`` (widened to whole
    minutes), written once per network, spec, period and seed into a folder beside the cached
    SUMO network and read from there afterwards (a half-written folder is never used)."""
    import hashlib
    import shutil

    spec = BackgroundSpec.from_traffic(traffic, traffic.background_vph, seed=seed % MAX_SEED)
    begin = (begin_s // 60) * 60
    end = -(-end_s // 60) * 60
    key = hashlib.sha256(repr((spec, begin, end, seed)).encode()).hexdigest()[:16]
    folder = Path(sumo_network.net_file).parent / f"background-{key}"
    routes = folder / "background.rou.xml"
    if not routes.exists():
        partial = folder.with_name(folder.name + ".partial")
        written = write_background(sumo_network, spec, partial, begin_s=begin, end_s=end)
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
        routes = folder / written.name
    return routes


def departures_per_hour(routes_file: str | Path) -> Counter[int]:
    """Vehicles per hour of departure (hour = ``depart // 3600``) in a SUMO routes file (streamed)."""
    import sumolib

    counts: Counter[int] = Counter()
    for veh in sumolib.xml.parse_fast(str(routes_file), "vehicle", ["id", "depart"]):
        counts[int(float(veh.depart) // 3600)] += 1
    return counts


def expected_departures(spec: BackgroundSpec, begin_s: float, end_s: float) -> Counter[int]:
    """Departures per hour that :func:`write_background` asks randomTrips for: in each interval
    of :func:`period_rates`, one every ``3600 / rate`` s from its start."""
    b, e = check_period(begin_s, end_s)
    step, rates = period_rates(spec, b, e)
    counts: Counter[int] = Counter()
    for i, rate in enumerate(rates):
        if rate > 0:
            start = b + i * step
            counts[start // 3600] += math.ceil(step * rate / 3600 - 1e-9)
    return counts
