"""A small hand-made simulated day whose KPIs can be worked out by hand (see test_kpi.py).

Two vehicles on an eight-node ring (stop ``i`` sits on node ``i``):

* V1 (4 seats, shift 0 .. 7200 s) picks up r1 (1 passenger) at stop 1 and r2 (2 passengers)
  at stop 2, drops r1 at stop 3 and r2 at stop 4 and returns to its depot, stop 0;
* V2 (2 seats, shift 3600 .. 7200 s) picks up r3 at stop 6 and drops it at stop 7.

Nine requests: three completed, three rejected (two ``no_vehicle_in_time``, one
``outside_zone``), one cancelled after booking, one no-show (V2) and one still open.
"""

from __future__ import annotations

import math

import numpy as np

from routing import RoadNetwork, StopSet
from sim.records import Drive, RideRecord, SimOutput, StopVisit, VehicleRecord

NUM_NODES = 8


def ring_network(*, geographic: bool = True) -> RoadNetwork:
    """Eight nodes on a circle of radius 500 m, two-way ring roads and two chords."""
    angle = 2 * math.pi * np.arange(NUM_NODES) / NUM_NODES
    x = 500.0 * np.cos(angle)
    y = 500.0 * np.sin(angle)
    lat = 37.5 + y / 111_000
    lon = 127.0 + x / (111_000 * math.cos(math.radians(37.5)))
    ring = np.arange(NUM_NODES)
    a = np.concatenate([ring, [0, 2]])
    b = np.concatenate([(ring + 1) % NUM_NODES, [4, 6]])
    length = np.hypot(x[a] - x[b], y[a] - y[b])
    return RoadNetwork.from_edges(
        tail=np.concatenate([a, b]),
        head=np.concatenate([b, a]),
        travel_time_s=np.concatenate([length, length]) / 10.0,
        length_m=np.concatenate([length, length]),
        lat=lat if geographic else np.full(NUM_NODES, np.nan),
        lon=lon if geographic else np.full(NUM_NODES, np.nan),
        x_m=x,
        y_m=y,
        crs="EPSG:32652" if geographic else "",
        name="ring (test)",
    )


def ring_stops(network: RoadNetwork) -> StopSet:
    node = np.arange(NUM_NODES, dtype=np.int32)
    return StopSet(
        node=node,
        x_m=network.x_m[node],
        y_m=network.y_m[node],
        lat=network.lat[node],
        lon=network.lon[node],
        source=np.ones(NUM_NODES, np.int8),
        osm_id=np.full(NUM_NODES, -1, np.int64),
        spacing_m=300.0,
    )


def _ride(ride_id: str, **kw: object) -> RideRecord:
    base: dict[str, object] = {
        "ride_id": ride_id,
        "submitted_s": 0,
        "requested_s": 0,
        "origin_stop": 0,
        "destination_stop": 1,
        "passengers": 1,
        "rider_class": "adult",
        "wheelchair": False,
    }
    base.update(kw)
    return RideRecord(**base)  # type: ignore[arg-type]


def sample_day(*, geographic: bool = True) -> SimOutput:
    """The day described in the module docstring (a fresh copy on every call)."""
    rides = [
        _ride(
            "r1", requested_s=100, origin_stop=1, destination_stop=3, outcome="completed", vehicle_id="V1",
            walk_to_pickup_m=100, walk_from_dropoff_m=200, promised_pickup_start_s=300, promised_pickup_end_s=600,
            max_ride_s=800, direct_time_s=400, fare_krw=1500, pickup_s=400, pickup_service_s=20, dropoff_s=1020,
        ),
        _ride(
            "r2", requested_s=200, origin_stop=2, destination_stop=4, passengers=2, outcome="completed",
            vehicle_id="V1", walk_to_pickup_m=50, walk_from_dropoff_m=150, promised_pickup_start_s=600,
            promised_pickup_end_s=900, max_ride_s=900, direct_time_s=500, fare_krw=1800, pickup_s=800,
            pickup_service_s=30, dropoff_s=1430,
        ),
        _ride(
            "r3", submitted_s=3000, requested_s=3600, origin_stop=6, destination_stop=7, outcome="completed",
            vehicle_id="V2", walk_to_pickup_m=0, walk_from_dropoff_m=100, promised_pickup_start_s=3800,
            promised_pickup_end_s=4100, max_ride_s=1000, direct_time_s=300, fare_krw=2000, pickup_s=3900,
            pickup_service_s=10, dropoff_s=4810,
        ),
        _ride("r4", outcome="rejected", reject_reason="no_vehicle_in_time"),
        _ride("r5", outcome="rejected", reject_reason="no_vehicle_in_time"),
        _ride("r6", outcome="rejected", reject_reason="outside_zone"),
        _ride("r7", outcome="cancelled", vehicle_id="V1", promised_pickup_start_s=900, promised_pickup_end_s=1200,
              cancelled_s=500),
        _ride("r8", outcome="no_show", vehicle_id="V2", promised_pickup_start_s=5000, promised_pickup_end_s=5300),
        _ride("r9", requested_s=7000),
    ]  # fmt: skip
    drives = [
        Drive("V1", 0, 380, 0, 1, 2000, 0, [0, 1]),
        Drive("V1", 420, 800, 1, 2, 3000, 1, [1, 2]),
        Drive("V1", 830, 1020, 2, 3, 1000, 3, [2, 3]),
        Drive("V1", 1040, 1430, 3, 4, 2000, 2, [3, 4]),
        Drive("V1", 1450, 1800, 4, 0, 1500, 0, [4, 0]),
        Drive("V2", 3600, 3900, 5, 6, 1000, 0, [5, 6]),
        Drive("V2", 3910, 4810, 6, 7, 4000, 1, [6, 7]),
    ]
    visits = [
        StopVisit("V1", 1, 380, 400, 420, boarded=1, alighted=0, onboard_after=1, seats=4),
        StopVisit("V1", 2, 800, 800, 830, boarded=2, alighted=0, onboard_after=3, seats=4),
        StopVisit("V1", 3, 1020, 1020, 1040, boarded=0, alighted=1, onboard_after=2, seats=4),
        StopVisit("V1", 4, 1430, 1430, 1450, boarded=0, alighted=2, onboard_after=0, seats=4),
        StopVisit("V2", 6, 3900, 3900, 3910, boarded=1, alighted=0, onboard_after=1, seats=2),
        StopVisit("V2", 7, 4810, 4810, 4830, boarded=0, alighted=1, onboard_after=0, seats=2),
    ]
    vehicles = [
        VehicleRecord("V1", 4, 0, 0, 7200, drives=5, stops_served=4, driven_m=9500, loaded_m=6000,
                      passenger_m=10000, busy_s=1800, riders=3),
        VehicleRecord("V2", 2, 5, 3600, 7200, drives=2, stops_served=2, driven_m=5000, loaded_m=4000,
                      passenger_m=4000, busy_s=1230, riders=1),
    ]  # fmt: skip
    network = ring_network(geographic=geographic)
    return SimOutput(
        scenario="ring-test",
        seed=7,
        start_s=0,
        end_s=7200,
        rides=rides,
        drives=drives,
        visits=visits,
        vehicles=vehicles,
        network=network,
        stops=ring_stops(network),
        timings={"setup": 0.5, "run": 1.25},
        meta={"note": "hand-made", "fleet": np.int64(2)},
    )
