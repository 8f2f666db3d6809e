"""Closing the loop: the same day in-process and against a live engine over gRPC is the same day."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.server import create_server
from engine.settings import Settings
from sim.remote import EngineMismatch, RemoteBackend
from sim.scenario import Scenario
from sim.simulator import Simulation

SCENARIO = """
[scenario]
name = "remote_check"
seed = 4
start = "07:00"
end = "09:30"

[network]
kind = "osm"
path = "osm/seoul_jamsil.osm"

[stops]
kind = "virtual"
spacing_m = 300

[fleet]
vehicles = 4
seats = 6
shift_start = "07:00"
shift_end = "11:00"

[service]
max_wait_s = 600
service_start_s = 21600
service_end_s = 82800

[demand]
kind = "profile"
total = 90
profile = "two_peaks"
prebook_share = 0.2
lead_max_min = 2
cancel_probability = 0.05
no_show_probability = 0.05

[traffic]
model = "bpr"
update_minutes = 30

[dispatch]
reoptimise_every_s = 900
reoptimise_iterations = 25
"""


def rides_of(sim: Simulation) -> list[tuple[Any, ...]]:
    out = sim.run()
    return [
        (
            r.ride_id,
            r.outcome,
            r.reject_reason,
            r.vehicle_id,
            r.pickup_s,
            r.dropoff_s,
            r.promised_pickup_start_s,
            r.promised_pickup_end_s,
            r.fare_krw,
        )
        for r in out.rides
    ]


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("remote") / "remote_check.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def in_process(scenario_file: Path, data_dir: Path) -> list[tuple[Any, ...]]:
    sim = Simulation(Scenario.from_toml(scenario_file, data_dir=data_dir))
    sim.setup()
    return rides_of(sim)


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
def test_remote_day_equals_in_process_day(
    scenario_file: Path,
    data_dir: Path,
    in_process: list[tuple[Any, ...]],
    store_kind: str,
    request: pytest.FixtureRequest,
) -> None:
    store = "memory"
    if store_kind == "redis":
        redis = request.getfixturevalue("redis_server")
        store = f"{redis.url}"
        import redis as redis_py

        redis_py.Redis.from_url(store).flushdb()
    scenario = Scenario.from_toml(scenario_file, data_dir=data_dir)
    settings = Settings(
        scenario=scenario_file, data_dir=data_dir, store=store, port=0, clock="external", seed=scenario.seed
    )
    server, port, core = create_server(settings, block_until_ready=True)
    try:
        remote = RemoteBackend(f"127.0.0.1:{port}")
        sim = Simulation(scenario)
        sim.setup(backend_factory=lambda _d: remote)
        remote.check_fleet(sim.fleet)
        got = rides_of(sim)
        remote.close()
    finally:
        server.stop(0)
        core.stop()
    assert len(got) == len(in_process) > 50
    assert sum(r[1] == "completed" for r in got) > 30
    assert got == in_process


def test_a_mismatched_engine_is_refused(scenario_file: Path, data_dir: Path) -> None:
    scenario = Scenario.from_toml(scenario_file, data_dir=data_dir)
    settings = Settings(
        scenario=Path(__file__).resolve().parents[2] / "scenarios" / "imod_jamsil.toml",
        data_dir=data_dir,
        port=0,
        clock="external",
        seed=1,
    )
    server, port, core = create_server(settings, block_until_ready=True)
    try:
        remote = RemoteBackend(f"127.0.0.1:{port}")
        sim = Simulation(scenario)
        sim.setup(backend_factory=lambda _d: remote)
        with pytest.raises(EngineMismatch):
            remote.check_fleet(sim.fleet)
        remote.close()
    finally:
        server.stop(0)
        core.stop()


def test_another_clients_ride_on_the_engine_stops_the_run_with_one_line(scenario_file: Path, data_dir: Path) -> None:
    """A ride booked on the engine by someone else ends the simulation with EngineMismatch (one line
    naming the ride), not a KeyError from deep in the event loop."""
    from proto.mobility.v1 import common_pb2, rider_pb2

    scenario = Scenario.from_toml(scenario_file, data_dir=data_dir)
    settings = Settings(
        scenario=scenario_file, data_dir=data_dir, store="memory", port=0, clock="external", seed=scenario.seed
    )
    server, port, core = create_server(settings, block_until_ready=True)
    try:
        remote = RemoteBackend(f"127.0.0.1:{port}")
        sim = Simulation(scenario)
        sim.setup(backend_factory=lambda _d: remote)
        remote.check_fleet(sim.fleet)
        # every vehicle gets a stranger's ride first thing in the morning
        for k in range(len(sim.fleet)):
            quote = remote.rider.Quote(
                rider_pb2.QuoteRequest(
                    request_id=f"stranger-{k}",
                    requested_time_s=25200,
                    passengers=1,
                    now_s=25200,
                    origin=common_pb2.Place(stop=k),
                    destination=common_pb2.Place(stop=k + 10),
                ),
                timeout=30,
            )
            if quote.WhichOneof("result") == "offer":
                remote.rider.BookRide(rider_pb2.BookRideRequest(offer_id=quote.offer.offer_id, now_s=25200), timeout=30)
        with pytest.raises(EngineMismatch, match=r"ride stranger-\d+, which this simulation did not book"):
            sim.run()
        remote.close()
    finally:
        server.stop(0)
        core.stop()
