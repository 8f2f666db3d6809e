"""What a simulated day leaves behind: one record per ride, per drive and per vehicle.

These are the simulator's raw output; :mod:`sim.kpi` turns them into the KPIs and
:mod:`sim.report` into files and plots. Times are seconds on the service clock, distances
metres, money whole numbers in the smallest unit of the scenario's currency (won by default;
``fare_krw`` keeps its name whatever the currency, given by ``SimOutput.meta["currency"]``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class RideRecord:
    """One request and what became of it.

    ``outcome`` is "completed", "rejected", "cancelled" or "no_show" (or "open" if the day ended
    first). For a rejection, ``reject_reason`` holds the :class:`matching.RejectReason` value.
    """

    ride_id: str
    submitted_s: int
    requested_s: int
    origin_stop: int
    destination_stop: int
    passengers: int
    rider_class: str
    wheelchair: bool
    outcome: str = "open"
    reject_reason: str = ""
    vehicle_id: str = ""
    walk_to_pickup_m: int = 0
    walk_from_dropoff_m: int = 0
    offered_pickup_eta_s: int = -1
    promised_pickup_start_s: int = -1
    promised_pickup_end_s: int = -1
    max_ride_s: int = -1
    direct_time_s: int = -1
    direct_distance_m: int = -1
    fare_krw: int = 0
    pickup_s: int = -1  # service start at the pickup (boarding)
    pickup_service_s: int = 0  # dwell + boarding time at the pickup
    dropoff_s: int = -1  # service start at the drop-off (alighting)
    cancelled_s: int = -1
    journey_id: str = ""  # the rider's journey when it has several legs (feeder, transfer); else ""
    leg: int = 0  # this ride's place in its journey (0 first)

    @property
    def wait_s(self) -> int:
        """Boarding time minus requested time (completed rides)."""
        return self.pickup_s - self.requested_s

    @property
    def ride_s(self) -> int:
        """From leaving the pickup to arriving at the drop-off (completed rides)."""
        return self.dropoff_s - (self.pickup_s + self.pickup_service_s)

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        if self.outcome == "completed":
            row["wait_s"] = self.wait_s
            row["ride_s"] = self.ride_s
            row["detour_factor"] = round(self.ride_s / self.direct_time_s, 4) if self.direct_time_s > 0 else ""
        else:
            row["wait_s"] = row["ride_s"] = row["detour_factor"] = ""
        return row

    @staticmethod
    def columns() -> list[str]:
        return [f.name for f in fields(RideRecord)] + ["wait_s", "ride_s", "detour_factor"]


@dataclass
class Drive:
    """One leg a vehicle drove between two stops, along a shortest path of the moment.

    ``onboard`` riders (passengers) were on board the whole way; ``nodes`` are the road-network
    nodes of the path (for maps).
    """

    vehicle_id: str
    depart_s: int
    arrive_s: int
    from_stop: int
    to_stop: int
    length_m: int
    onboard: int
    nodes: list[int] = field(default_factory=list, repr=False)


@dataclass
class StopVisit:
    """A stop served: riders got on or off (``boarded`` / ``alighted`` passengers)."""

    vehicle_id: str
    stop: int
    arrive_s: int
    service_start_s: int
    depart_s: int
    boarded: int
    alighted: int
    onboard_after: int
    seats: int


@dataclass
class VehicleRecord:
    """A vehicle's day."""

    vehicle_id: str
    seats: int
    depot_stop: int
    shift_start_s: int
    shift_end_s: int
    drives: int = 0
    stops_served: int = 0
    driven_m: int = 0
    loaded_m: int = 0  # driven with at least one rider on board
    passenger_m: int = 0  # sum over drives of length x riders on board
    busy_s: int = 0  # driving or serving a stop
    riders: int = 0  # riders who boarded


@dataclass
class SimOutput:
    """Everything one simulated day produced (input to :mod:`sim.kpi` and :mod:`sim.report`).

    ``network`` and ``stops`` are the :class:`routing.RoadNetwork` and :class:`routing.StopSet`
    the day ran on and ``zone`` the service zone polygon (``(lat, lon)`` vertices, or ``None``
    for no zone), for maps and GeoJSON; ``timings`` holds wall-clock seconds by phase (``setup``,
    ``compile``, ``run``, ...).
    """

    scenario: str
    seed: int
    start_s: int
    end_s: int
    rides: list[RideRecord]
    drives: list[Drive]
    visits: list[StopVisit]
    vehicles: list[VehicleRecord]
    network: Any = None
    stops: Any = None
    zone: tuple[tuple[float, float], ...] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    #: what components of the day added (bus lines, journeys, ...), each under its own key
    extras: dict[str, Any] = field(default_factory=dict)
