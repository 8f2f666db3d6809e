"""Personal data retention in the live engine: rides that ended are forgotten, and a restart after that works.

The engine marks every ride that ended (completed, cancelled, no-show) to expire in the commit that
ends it; the store forgets it after its retention (the store's side is tested in ``test_store.py``).
Here a real engine core books, completes, cancels and misses rides on each store, the retention
(one second here, 30 days by default) passes, and a second core over the same store rebuilds its
state as a restarted ``mobility serve`` does: the ended rides are gone, the open one is planned as
before, and the engine goes on booking.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from engine.core import EngineCore
from engine.redis_store import RedisStore
from engine.settings import Settings
from engine.store import MemoryStore, StateStore
from matching import Request
from matching.deployment import Deployment
from matching.errors import InvalidValueError, NotFoundError
from mobility import REPO_ROOT, default_data_dir
from proto.mobility.v1 import common_pb2, rider_pb2
from tests.engine.conftest import SCENARIO, Engine, RedisServer

RETENTION_S = 1.0
T = 7 * 3600


@pytest.fixture(scope="module")
def jamsil() -> Deployment:
    return Deployment.from_toml(REPO_ROOT / "scenarios" / "imod_jamsil.toml", data_dir=default_data_dir())


@pytest.fixture(params=["memory", "redis"])
def short_store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    """A store that keeps ended rides and events one second."""
    if request.param == "memory":
        yield MemoryStore(retention_s=RETENTION_S)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    if not server.running:
        server.start()
    store = RedisStore(server.url, prefix=f"retention:{uuid.uuid4().hex[:8]}:", retention_s=RETENTION_S)
    try:
        yield store
    finally:
        store.close()


def start_core(deployment: Deployment, store: StateStore) -> EngineCore:
    core = EngineCore(deployment, store, clock="external", seed=1)
    core.start()
    return core


def book(core: EngineCore, ride_id: str, origin: int, destination: int, now_s: int = T) -> dict:
    request = Request(id=ride_id, requested_time_s=now_s, submitted_time_s=now_s, origin_stop=origin,
                      destination_stop=destination, rider_id="alice")  # fmt: skip
    return core.quote_and_book(request, f"key-{ride_id}", now_s, rider_id="alice")


def test_ended_rides_expire_and_a_restart_after_that_works(jamsil: Deployment, short_store: StateStore) -> None:
    core = start_core(jamsil, short_store)
    try:
        done = book(core, "done", 3, 20)
        vehicle = done["vehicle_id"]
        core.stop_event(vehicle, "boarded", "done", 0, done["planned_pickup_s"])
        core.stop_event(vehicle, "alighted", "done", 0, core.get_ride("done")["planned_dropoff_s"])
        clock = core.clock_s
        book(core, "cancelled", 12, 25, clock)
        core.cancel("cancelled", clock)
        book(core, "missed", 10, 30, clock)
        core.stop_event(core.get_ride("missed")["vehicle_id"], "no_show", "missed", 0, clock)
        still_open = book(core, "open", 5, 9, clock)
        statuses = {r: core.get_ride(r)["status"] for r in ("done", "cancelled", "missed", "open")}
        assert statuses == {"done": "completed", "cancelled": "cancelled", "missed": "no_show", "open": "assigned"}
        core.stop()
        time.sleep(RETENTION_S + 0.1)

        assert set(short_store.load().rides) == {"open"}  # the ended ones expired, the open one did not
        core = start_core(jamsil, short_store)  # the restart: rebuilt from what the store still holds
        for gone in ("done", "cancelled", "missed"):
            with pytest.raises(NotFoundError):
                core.get_ride(gone)
        assert core.get_ride("open") == still_open
        v = core.vehicle_index(still_open["vehicle_id"])
        assert "open" in core.manifest_view(v)["ride_id"]
        kpis = core.fleet_kpis()
        assert (kpis["rides_assigned"], kpis["rides_completed"], kpis["rides_cancelled"], kpis["rides_no_show"]) == (
            1, 0, 0, 0,
        )  # fmt: skip
        again = book(core, "cancelled", 12, 25, core.clock_s)  # the id and its idempotency key are free again
        assert again["ride_id"] == "cancelled" and again["status"] == "assigned"
    finally:
        core.stop()


def test_open_rides_never_expire(jamsil: Deployment, short_store: StateStore) -> None:
    core = start_core(jamsil, short_store)
    try:
        book(core, "open", 3, 20)
    finally:
        core.stop()
    time.sleep(RETENTION_S + 0.1)
    assert set(short_store.load().rides) == {"open"}


def test_redis_gives_an_ended_ride_a_ttl_of_thirty_days(
    start_engine: Callable[..., Engine], redis_server: RedisServer
) -> None:
    """The issue's finding (no key ever expired, cancelled rides included), through the real server with
    its default settings: the cancelled ride's hash and its stream expire in 30 days, the open ride's
    hash never."""
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as raw:
        raw.flushdb()
    engine = start_engine(store=redis_server.url)
    for rid, origin, destination in (("kept", 3, 20), ("dropped", 12, 25)):
        request = rider_pb2.QuoteRequest(
            request_id=rid, origin=common_pb2.Place(stop=origin), destination=common_pb2.Place(stop=destination),
            passengers=1, now_s=T,
        )  # fmt: skip
        engine.rider.BookRide(rider_pb2.BookRideRequest(request=request, now_s=T), timeout=20)
    engine.rider.CancelRide(rider_pb2.CancelRideRequest(ride_id="dropped", now_s=T), timeout=20)
    thirty_days_ms = 30 * 86_400_000
    with redis_server.client() as raw:
        assert raw.hget("mobility:ride:dropped", "status") == '"cancelled"'
        assert thirty_days_ms - 60_000 < raw.pttl("mobility:ride:dropped") <= thirty_days_ms
        assert thirty_days_ms - 60_000 < raw.pttl("mobility:events:ride:dropped") <= thirty_days_ms
        assert raw.pttl("mobility:ride:kept") == -1  # open: no expiry
        assert 0 < raw.pttl("mobility:events:assignments") <= thirty_days_ms  # a stream not written for 30 days goes


def test_the_retention_setting() -> None:
    from engine.settings import DEFAULT_RETENTION_DAYS

    assert DEFAULT_RETENTION_DAYS == 30
    assert Settings(scenario=SCENARIO).retention_s == 30 * 86_400
    assert Settings(scenario=SCENARIO, retention_days=0.5).retention_s == 43_200
    for bad in (0, -1, 10_000):
        with pytest.raises(InvalidValueError, match="retention_days"):
            Settings(scenario=SCENARIO, retention_days=bad)
