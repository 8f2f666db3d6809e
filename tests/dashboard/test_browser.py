"""The dashboard page in a real browser: Debian's chromium (headless) driven by Playwright, against
the real dashboard server on a free port, following a real gRPC engine (the bundled imod_jamsil,
external clock; the operator's token read from a token file) or replaying a day the simulator ran
in the test (the bundled imod_jamsil day, 06:00-23:00, simulated in a few seconds). The
dashboard-server restart runs the real command, ``mobility dashboard --run``, as a subprocess.

What the page shows is checked against the engine's own answers over gRPC (ListVehicles,
ListRides, GetServiceMap, GetVehicleRoute) and against the replayed run folder, read back here.
The page's test hooks (``window.dashboard``, see docs/dashboard.md) report what it drew.

The tests save ``dashboard_live.png`` and ``dashboard_replay.png`` (1280x800) into
``$MOBILITY_SCREENSHOTS`` if set, else into ``runs/screenshots/`` (git-ignored).

Nothing is skipped: without ``chromium`` or the page's npm libraries the tests fail and say how to
install them (``make test`` does both).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, sync_playwright

from dashboard.live import LiveSource
from dashboard.replay import ReplayDay, ReplaySource
from dashboard.server import WEB_DIR
from proto.client import read_token_file
from proto.mobility.v1 import common_pb2, driver_pb2, operator_pb2, rider_pb2
from sim.report import write_report
from sim.scenario import Scenario
from sim.simulator import Simulation
from tests.conftest import REPO_ROOT
from tests.dashboard.conftest import ENGINE_START_S, RunningDashboard, engine_on_port, run_dashboard
from tests.dashboard.test_replay import synthetic_day
from tests.engine.conftest import SCENARIO, TOKENS, Engine, bearer, free_port

VIEWPORT = {"width": 1280, "height": 800}
#: How often the live source polls the engine in these tests (seconds).
POLL_S = 0.25
#: A booked ride must be in the feed and on the map within this long (seconds).
RIDE_SHOWN_WITHIN_S = 2.0
#: Positions: the protocol rounds to 6 decimals.
DEGREES = 2e-6


def screenshot_path(name: str) -> Path:
    folder = Path(os.environ.get("MOBILITY_SCREENSHOTS") or REPO_ROOT / "runs" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def hhmm(time_s: int) -> str:
    return f"{time_s // 3600:02d}:{time_s // 60 % 60:02d}"


def state_name(state: int) -> str:
    return driver_pb2.VehicleState.Name(state).removeprefix("VEHICLE_STATE_").lower()


# ---------------------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless (Playwright's own browser download is not used)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "chromium not found on PATH: the dashboard's browser tests drive Debian's chromium; "
            "`make test` installs it (make system-deps: apt-get install chromium)"
        )
    missing = [p for p in ("leaflet", "uplot") if not (WEB_DIR / "node_modules" / p / "dist").is_dir()]
    if missing:
        pytest.fail(
            f"the page's libraries are not installed ({', '.join(missing)} in {WEB_DIR / 'node_modules'}): "
            "run `make setup` (npm ci --prefix dashboard/web)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


class Tab:
    """A page of the dashboard in its own browser context (1280x800) that records the console's
    errors and warnings and the page's uncaught exceptions."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))
        self.page.goto(url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"{message.type}: {message.text}")

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def until(self, expression: str, arg: Any = None, timeout_s: float = 10.0) -> None:
        self.page.wait_for_function(expression, arg=arg, timeout=timeout_s * 1000)

    def status(self) -> tuple[str, str]:
        """The status bar: its state (connecting, connected, reconnecting, error) and its text."""
        return self.js(
            "() => [document.getElementById('status').dataset.state, document.getElementById('status').innerText]"
        )

    def close(self) -> None:
        self.context.close()


def open_page(browser: Browser, dash: RunningDashboard, key: str | None = None) -> Tab:
    return Tab(browser, f"{dash.url}/?key={dash.key if key is None else key}")


# ---------------------------------------------------------------------------------- live engine
@pytest.fixture(scope="module")
def tokens_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dashboard-auth") / "tokens.toml"
    path.write_text(
        "\n".join(f'[[tokens]]\ntoken = "{t}"\nrole = "{r}"\nsubject = "{s}"\n' for t, r, s in TOKENS.values())
    )
    return path


@pytest.fixture(scope="module")
def operator_token(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The operator's token, read from a token file as ``mobility dashboard --token-file`` does."""
    path = tmp_path_factory.mktemp("dashboard-operator") / "operator.token"
    path.write_text(TOKENS["operator"][0] + "\n")
    return read_token_file(path)


@dataclass
class Live:
    engine: Engine
    source: LiveSource
    dash: RunningDashboard


@pytest.fixture(scope="module")
def live(data_dir: Path, tokens_path: Path, operator_token: str) -> Iterator[Live]:
    """A real engine (its clock at 08:00) and the dashboard following it with the operator's token."""
    engine = engine_on_port(data_dir, 0, tokens=tokens_path)
    try:
        source = LiveSource(f"127.0.0.1:{engine.port}", token=operator_token, interval_s=POLL_S)
        with run_dashboard(source) as dash:
            yield Live(engine, source, dash)
    finally:
        engine.close()


def clock_s(engine: Engine) -> int:
    """The engine's service clock."""
    return int(engine.operator.FleetStatus(operator_pb2.FleetStatusRequest(), metadata=bearer("operator")).clock_s)


def book(engine: Engine, request_id: str, origin: int, destination: int) -> str:
    """Book a ride as the rider alice at the engine's clock (quote and book in one call); returns
    the ride's id as the operator sees it (ListRides; the page shows it with the rider
    pseudonymised)."""
    now_s = clock_s(engine)
    request = rider_pb2.QuoteRequest(
        request_id=request_id,
        origin=common_pb2.Place(stop=origin),
        destination=common_pb2.Place(stop=destination),
        passengers=1,
        now_s=now_s,
    )
    ride = engine.rider.BookRide(
        rider_pb2.BookRideRequest(request=request, now_s=now_s), metadata=bearer("alice"), timeout=20
    )
    assert ride.vehicle_id, ride
    return open_ride(engine, request_id).ride_id


def open_ride(engine: Engine, request_id: str) -> common_pb2.Ride:
    answer = engine.operator.ListRides(
        operator_pb2.ListRidesRequest(open_only=True), metadata=bearer("operator"), timeout=10
    )
    found = [r for r in answer.rides if r.ride_id == request_id or r.ride_id.endswith(f"/{request_id}")]
    assert len(found) == 1, [r.ride_id for r in answer.rides]
    return found[0]


def fleet(engine: Engine) -> list[driver_pb2.VehicleStatus]:
    answer = engine.operator.ListVehicles(operator_pb2.ListVehiclesRequest(), metadata=bearer("operator"), timeout=10)
    return list(answer.vehicles)


def assert_fleet_drawn(tab: Tab, vehicles: list[driver_pb2.VehicleStatus]) -> None:
    """Every vehicle is drawn once, where the engine says it is, in its state's colour class."""
    assert tab.js("dashboard.vehiclesDrawn()") == len(vehicles)
    assert sorted(tab.js("dashboard.vehicleIds()")) == sorted(v.vehicle_id for v in vehicles)
    for v in vehicles:
        drawn = tab.js("id => dashboard.vehicle(id)", v.vehicle_id)
        assert drawn is not None, v.vehicle_id
        assert abs(drawn["lat"] - v.position.lat) < DEGREES and abs(drawn["lon"] - v.position.lon) < DEGREES
        assert drawn["state"] == state_name(v.state)
        assert (drawn["on_board"], drawn["seats"]) == (v.on_board, v.seats)


def test_live_page_draws_the_engines_map_and_fleet(live: Live, chromium: Browser) -> None:
    engine, dash = live.engine, live.dash
    tab = open_page(chromium, dash)
    try:
        tab.until("() => window.dashboard && dashboard.connected && dashboard.vehiclesDrawn() > 0")
        assert tab.js("dashboard.mode") == "live"
        assert "live" in tab.page.title()
        assert tab.status()[0] == "connected"
        assert tab.page.is_hidden("#replay-bar")

        service_map = engine.operator.GetServiceMap(
            operator_pb2.GetServiceMapRequest(), metadata=bearer("operator"), timeout=10
        )
        offsets = list(service_map.street_offsets)
        lines = sum(1 for a, b in itertools.pairwise(offsets) if b - a >= 2)
        drawn = tab.js("dashboard.baseMap()")
        assert lines > 0 and drawn["streets"] == lines
        assert drawn["points"] == sum(b - a for a, b in itertools.pairwise(offsets) if b - a >= 2)
        assert drawn["stops"] == len(service_map.stops) > 0
        assert drawn["tiles"] is None
        if service_map.zone:
            assert drawn["zone"] >= 3

        assert_fleet_drawn(tab, fleet(engine))
        # the clock is the engine's (external, at 08:00 or later)
        assert tab.js("dashboard.clock_s") >= ENGINE_START_S
        assert tab.page.text_content("#clock").count(":") == 2
        assert tab.problems == []
    finally:
        tab.close()


def test_a_booked_ride_shows_in_the_feed_and_on_the_map_within_2s(live: Live, chromium: Browser) -> None:
    engine, dash = live.engine, live.dash
    tab = open_page(chromium, dash)
    try:
        tab.until("() => window.dashboard && dashboard.connected && dashboard.vehiclesDrawn() > 0")
        booked_at = time.monotonic()
        ride_id = live.source.ride_label(book(engine, "browser-feed", origin=5, destination=22))
        assert not ride_id.startswith("alice/"), "the page never shows rider names"
        tab.page.wait_for_selector(f'#feed li[data-ride-id="{ride_id}"][data-kind="booking"]', timeout=3000)
        tab.until("id => dashboard.ride(id) !== null", ride_id, timeout_s=3)
        shown_after_s = time.monotonic() - booked_at
        assert shown_after_s < RIDE_SHOWN_WITHIN_S, f"shown after {shown_after_s:.2f} s"

        ride = open_ride(engine, "browser-feed")
        drawn = tab.js("id => dashboard.ride(id)", ride_id)
        assert abs(drawn["lat"] - ride.pickup_point.lat) < DEGREES
        assert abs(drawn["lon"] - ride.pickup_point.lon) < DEGREES
        row = tab.page.locator(f'#feed li[data-ride-id="{ride_id}"][data-kind="booking"]')
        assert ride.vehicle_id in row.inner_text()
        # the upcoming pickups list has it too, with its vehicle
        assert ride.vehicle_id in tab.page.locator(f'#rides li[data-ride-id="{ride_id}"]').inner_text()
        assert tab.problems == []
    finally:
        tab.close()


Point = dict[str, float]


def isolate(tab: Tab, vehicle_id: str, radius_px: float = 12.0) -> tuple[Point, list[Point]] | None:
    """Zoom in with the mouse wheel over a vehicle until no other vehicle is within ``radius_px``
    of it (so that a click is on it alone). Returns where it is on the page and where the wheel
    turned (to zoom out again), or None if it shares its place with another vehicle."""
    turns: list[Point] = []
    for _ in range(6):
        points = tab.js("() => Object.fromEntries(dashboard.vehicleIds().map(id => [id, dashboard.vehiclePoint(id)]))")
        me = points.pop(vehicle_id)
        if all((p["x"] - me["x"]) ** 2 + (p["y"] - me["y"]) ** 2 >= radius_px**2 for p in points.values()):
            return me, turns
        tab.page.mouse.move(me["x"], me["y"])
        tab.page.mouse.wheel(0, -300)
        turns.append(me)
        tab.page.wait_for_timeout(400)
    unzoom(tab, turns)
    return None


def unzoom(tab: Tab, turns: list[Point]) -> None:
    """Turn the wheel back where :func:`isolate` turned it."""
    for point in reversed(turns):
        tab.page.mouse.move(point["x"], point["y"])
        tab.page.mouse.wheel(0, 300)
        tab.page.wait_for_timeout(400)


def test_clicking_a_vehicle_shows_its_manifest(live: Live, chromium: Browser) -> None:
    engine, dash = live.engine, live.dash
    trips = [(8, 30), (12, 2), (27, 14), (33, 6), (19, 25), (1, 17)]
    ride_ids = [
        live.source.ride_label(book(engine, f"browser-manifest-{k}", origin=o, destination=d))
        for k, (o, d) in enumerate(trips)
    ]
    candidates = list(dict.fromkeys(open_ride(engine, f"browser-manifest-{k}").vehicle_id for k in range(len(trips))))
    tab = open_page(chromium, dash)
    try:
        tab.until("ids => ids.every(id => dashboard.ride(id) !== null)", ride_ids)
        found = [(v, p) for v in candidates if (p := isolate(tab, v)) is not None]
        assert found, f"each of {candidates} shares its place with another vehicle"
        vehicle_id, (point, turns) = found[0]
        assert tab.js("p => document.elementFromPoint(p.x, p.y)?.closest('.leaflet-marks-pane') !== null", point), (
            "the vehicle is under another element of the page"
        )
        tab.page.mouse.click(point["x"], point["y"])
        assert tab.js("dashboard.selected") == vehicle_id

        route = engine.operator.GetVehicleRoute(
            operator_pb2.GetVehicleRouteRequest(vehicle_id=vehicle_id), metadata=bearer("operator"), timeout=10
        )
        stops = list(route.manifest.stops)
        assert stops, "the booked ride's vehicle has stops"
        tab.until("n => document.querySelectorAll('#manifest li').length === n", len(stops))
        assert tab.page.is_visible("#manifest-panel")
        rows = tab.page.locator("#manifest li")
        for i, stop in enumerate(stops):
            row = rows.nth(i)
            assert row.get_attribute("data-ride-id") == live.source.ride_label(stop.ride_id)
            kind = "pickup" if stop.kind == driver_pb2.STOP_KIND_PICKUP else "dropoff"
            assert row.get_attribute("data-kind") == kind
            text = row.inner_text()
            assert hhmm(stop.planned_s) in text
            if kind == "pickup":
                assert f"{hhmm(stop.window_start_s)}–{hhmm(stop.window_end_s)}" in text
            else:
                assert f"by {hhmm(stop.window_end_s)}" in text
        # the picture: the whole service area, five minutes on (the vehicles on their way)
        unzoom(tab, turns)
        start = clock_s(engine)
        for step in range(1, 11):
            engine.advance(start + 30 * step)
            tab.until("t => dashboard.clock_s >= t", start + 30 * step)
        tab.page.mouse.move(5, 5)  # no tooltip in the picture
        screenshot = screenshot_path("dashboard_live.png")
        tab.page.screenshot(path=str(screenshot))
        assert screenshot.stat().st_size > 10_000

        tab.page.keyboard.press("Escape")
        assert tab.page.is_hidden("#manifest-panel")
        assert tab.js("dashboard.selected") is None
        assert tab.problems == []
    finally:
        tab.close()


def test_a_wrong_key_is_said_and_not_retried(live: Live, chromium: Browser) -> None:
    tab = open_page(chromium, live.dash, key="not-the-key")
    try:
        tab.until("() => document.getElementById('status').dataset.state === 'error'")
        assert "key" in tab.status()[1]
        tab.page.wait_for_timeout(1500)  # longer than the first reconnection delay
        assert tab.status()[0] == "error"
        assert tab.js("dashboard.vehiclesDrawn()") == 0
    finally:
        tab.close()


BOUNDS_JS = """
async () => {
  const { Charts, MAX_POINTS } = await import('/static/charts.js');
  const { Feed, Rides, FEED_ROWS, RIDE_ROWS } = await import('/static/panels.js');
  const box = document.createElement('div');
  for (const id of ['chart-rides', 'chart-wait', 'chart-fleet']) {
    const d = document.createElement('div'); d.id = id; box.append(d);
  }
  const feedList = document.createElement('ul'), rideList = document.createElement('ul');
  box.append(feedList, rideList);
  document.body.append(box);
  const charts = new Charts(box);
  for (let k = 0; k < 10000; k++) charts.add(28800 + 10 * k, { served: k, rejected: 0, occupancy: 0.5 });
  const xs = charts.xs;
  const feed = new Feed(feedList, document.createElement('span'), () => {});
  for (let k = 0; k < 1000; k += 10) {
    const batch = [];
    for (let j = k; j < k + 10; j++) batch.push({ id: `e${j}`, kind: 'booking', time_s: 28800 + j, ride_id: `r${j}` });
    feed.add(batch);
  }
  feed.add([{ id: 'e999', kind: 'booking', time_s: 29799, ride_id: 'r999' }]);  // a repeat
  const rides = new Rides(rideList, document.createElement('span'), () => {});
  const items = [];
  for (let k = 0; k < 500; k++) items.push({ ride_id: `r${k}`, status: 'assigned', planned_pickup_s: 40000 - k });
  rides.apply({ full: true, items, removed: [] });
  rides.render();
  const result = {
    maxPoints: MAX_POINTS, points: xs.length, firstX: xs[0], lastX: xs[xs.length - 1],
    increasing: xs.every((x, i) => i === 0 || xs[i - 1] < x),
    feedRows: FEED_ROWS, feed: feed.rows(), feedTop: feedList.firstElementChild.dataset.rideId,
    feedBottom: feedList.lastElementChild.dataset.rideId, received: feed.received,
    rideRows: RIDE_ROWS, rides: rideList.childElementCount,
    rideFirst: rideList.firstElementChild.dataset.rideId, rideLast: rideList.lastElementChild.dataset.rideId,
  };
  box.remove();
  return result;
}
"""


def test_the_pages_feed_lists_and_charts_stay_bounded(live: Live, chromium: Browser) -> None:
    """The page's own modules, fed more than they keep: 10,000 chart points, 1,000 feed events
    (and a repeat), 500 open rides."""
    tab = open_page(chromium, live.dash)
    try:
        tab.until("() => window.dashboard && dashboard.connected")
        got = tab.js(BOUNDS_JS)
        # the charts: at most MAX_POINTS, the first and the last point kept, in order
        assert got["points"] <= got["maxPoints"] and got["increasing"]
        assert (got["firstX"], got["lastX"]) == (28800, 28800 + 10 * 9999)
        # the feed: the newest 300 rows, newest on top, the repeated event once
        assert got["feed"] == got["feedRows"] == 300 and got["received"] == 1001
        assert (got["feedTop"], got["feedBottom"]) == ("r999", "r700")
        # the upcoming pickups: the 200 soonest (r499 picks up first, at 40000 - 499)
        assert got["rides"] == got["rideRows"] == 200
        assert (got["rideFirst"], got["rideLast"]) == ("r499", "r300")
        assert tab.problems == []
    finally:
        tab.close()


MODULES_JS = """
async () => {
  const { Charts, GAP_FACTOR } = await import('/static/charts.js');
  const { ManifestList } = await import('/static/panels.js');
  const box = document.createElement('div');
  box.style.width = '400px'; box.style.height = '240px';
  for (const id of ['chart-rides', 'chart-wait', 'chart-fleet']) {
    const d = document.createElement('div'); d.id = id; box.append(d);
  }
  document.body.append(box);
  const charts = new Charts(box);
  // every 10 s from 00:00 to 00:10, then (the clock jumped) every 10 s from 06:00 to 06:10
  for (let k = 0; k <= 60; k++) charts.add(10 * k, { served: k, rejected: 0, occupancy: 0.25, vehicles_busy: 3 });
  for (let k = 0; k <= 60; k++) charts.add(21600 + 10 * k, { served: 787 + k - 60, rejected: 1, occupancy: 0.5 });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));  // uPlot draws
  const [xs, served, rejected] = charts.plots[0].data.map((a) => Array.from(a));
  const yAxis = charts.plots[0].axes[1];
  const result = {
    gapFactor: GAP_FACTOR, points: charts.points(), drawnXs: xs.length,
    servedNulls: served.map((y, i) => (y === null ? xs[i] : null)).filter((x) => x !== null),
    rejectedNulls: rejected.filter((y) => y === null).length,
    spanGaps: charts.plots[0].series.slice(1).map((s) => s.spanGaps),
    yMax: charts.plots[0].scales.y.max, yLabels: Array.from(yAxis._values ?? []),
  };
  // a kpi_history replaces the series (the clock went back)
  charts.reset([{ time_s: 3600, values: { served: 1 } }, { time_s: 3660, values: { served: 2 } },
                 { time_s: 3720, values: { served: 3 } }]);
  result.afterReset = charts.plots[0].data.map((a) => Array.from(a));
  // the manifest's summary: one stop, two stops
  const panel = document.createElement('div'), title = document.createElement('h2');
  const summary = document.createElement('div'), list = document.createElement('ol');
  const manifest = new ManifestList(panel, title, summary, list);
  const stop = { kind: 'pickup', ride_id: 'r1', planned_s: 30000, window_start_s: 29900, window_end_s: 30200 };
  manifest.show({ vehicle_id: 'v1', stops: [stop] }, { state: 'to_pickup', on_board: 0, seats: 4 });
  result.oneStop = summary.textContent;
  manifest.show({ vehicle_id: 'v1', stops: [stop, { ...stop, kind: 'dropoff' }] }, undefined);
  result.twoStops = summary.textContent;
  box.remove();
  return result;
}
"""


def test_charts_break_at_gaps_and_label_their_scale(live: Live, chromium: Browser) -> None:
    """The chart module fed ten minutes after midnight, then (the clock jumped) ten minutes from
    06:00: the line breaks once, between 00:10 and 06:00; the served axis's top is a labelled
    tick above the largest value (787); a ``kpi_history`` replaces the series. And the manifest's
    summary says "1 stop", "2 stops"."""
    tab = open_page(chromium, live.dash)
    try:
        tab.until("() => window.dashboard && dashboard.connected")
        got = tab.js(MODULES_JS)
        assert got["points"] == 122 and got["drawnXs"] == 123  # one null point in the gap
        assert len(got["servedNulls"]) == 1 and 600 < got["servedNulls"][0] < 21600
        assert got["rejectedNulls"] == 1
        assert got["spanGaps"] == [False, False]
        # 787 served: the scale ends at a round tick above it, and that tick is labelled
        assert 787 <= got["yMax"] <= 787 * 1.5
        labels = [label for label in got["yLabels"] if label]
        assert len(labels) >= 2 and labels[0] == "0" and float(labels[-1]) == got["yMax"], got["yLabels"]
        assert got["afterReset"][0] == [3600, 3660, 3720] and got["afterReset"][1] == [1, 2, 3]
        assert "1 stop planned" in got["oneStop"] and "1 stops" not in got["oneStop"]
        assert "2 stops planned" in got["twoStops"]
        assert tab.problems == []
    finally:
        tab.close()


LAYOUT_JS = """
() => {
  const box = (el) => el.getBoundingClientRect();
  const legend = document.getElementById('legend');
  const lb = box(legend);
  const rows = [...legend.querySelectorAll('.legend-row, .legend-note')];
  const side = document.getElementById('side');
  const charts = [...document.querySelectorAll('#charts canvas')];
  return {
    legendClipped: rows.filter((r) => {
      const b = box(r);
      return b.right > lb.right + 0.5 || b.bottom > lb.bottom + 0.5 || b.width === 0;
    }).map((r) => r.textContent),
    legendText: legend.textContent,
    stopSwatch: legend.querySelector('.swatch.stop') !== null,
    ridesBoxPx: box(document.getElementById('rides-box')).height,
    sideOverflowY: getComputedStyle(side).overflowY,
    chartsRight: Math.max(...charts.map((c) => box(c).right)),
    sideInnerRight: box(side).left + side.clientWidth,
    mapWidth: box(document.getElementById('map')).width,
  };
}
"""


@pytest.mark.parametrize("size", [(1024, 700), (1920, 1080)])
def test_the_layout_fits_small_and_large_windows(size: tuple[int, int], replay_folder: Path, chromium: Browser) -> None:
    """The replay page at 1024x700 and 1920x1080: no legend entry cut (the stop's among them),
    room for several pickup rows, the charts inside the side panel, the map the wider part."""
    with run_dashboard(ReplaySource(ReplayDay.open(replay_folder))) as dash:
        context = chromium.new_context(viewport={"width": size[0], "height": size[1]})
        try:
            page = context.new_page()
            page.goto(f"{dash.url}/?key={dash.key}")
            page.wait_for_function("() => window.dashboard && dashboard.vehiclesDrawn() > 0")
            got = page.evaluate(LAYOUT_JS)
            assert got["legendClipped"] == [], got
            assert "stop" in got["legendText"] and got["stopSwatch"]
            assert got["ridesBoxPx"] >= 5 * 22, got  # at least five pickup rows of 22 px
            assert got["sideOverflowY"] == "auto"
            assert got["chartsRight"] <= got["sideInnerRight"] + 0.5, got
            assert got["mapWidth"] >= size[0] / 2
        finally:
            context.close()


def test_vehicles_on_one_spot_are_counted_and_each_can_be_picked(tmp_path: Path, chromium: Browser) -> None:
    """Twelve vehicles at one stop (tests.dashboard.test_replay.synthetic_day at 06:00): the spot
    carries their count; a click on it lists them all, topmost first, and any one of them (the
    bottom one too) can be picked; the find box selects a vehicle by id and brings it into view."""
    synthetic_day(tmp_path / "stack", 12, 1)
    day = ReplayDay.open(tmp_path / "stack")
    rows = day.vehicles_at(day.start_s)
    spots: dict[tuple[float, float], list[str]] = {}
    for row in rows:
        spots.setdefault((round(row[1], 5), round(row[2], 5)), []).append(row[0])
    (lat, lon), stacked = max(spots.items(), key=lambda kv: len(kv[1]))
    assert len(stacked) >= 2, spots
    with run_dashboard(ReplaySource(day)) as dash:
        tab = open_page(chromium, dash)
        try:
            tab.until("n => window.dashboard && dashboard.vehiclesDrawn() === n", len(rows))
            tab.until("() => dashboard.stacks().length > 0")
            drawn_stacks = tab.js("dashboard.stacks()")
            expected = sorted(len(ids) for ids in spots.values() if len(ids) >= 2)
            assert sorted(s["count"] for s in drawn_stacks) == expected
            top = max(drawn_stacks, key=lambda s: s["count"])
            assert abs(top["lat"] - lat) < 1e-5 and abs(top["lon"] - lon) < 1e-5

            # the hit test: every vehicle of the spot is under the pointer, the last drawn first
            point = tab.js("id => dashboard.vehiclePoint(id)", stacked[0])
            order = [i for i in tab.js("dashboard.vehicleIds()") if i in stacked]  # the drawing order
            under = [v["id"] for v in tab.js("p => dashboard.vehiclesAt(p.x, p.y)", point)]
            assert under == order[::-1]
            tab.page.mouse.click(point["x"], point["y"])
            tab.until("() => dashboard.chooserIds().length > 0")
            assert tab.js("dashboard.chooserIds()") == order[::-1]
            assert tab.js("dashboard.selected") is None  # nothing picked for the operator
            # a click on the map away from the vehicles closes it; a second click opens it again
            tab.page.mouse.click(point["x"] - 60, point["y"] - 60)
            tab.until("() => dashboard.chooserIds().length === 0")
            tab.page.mouse.click(point["x"], point["y"])
            tab.until("() => dashboard.chooserIds().length > 0")
            bottom = order[0]
            tab.page.click(f'#chooser-list li[data-vehicle-id="{bottom}"]')
            assert tab.js("dashboard.selected") == bottom
            assert tab.page.is_hidden("#chooser") and tab.page.is_visible("#manifest-panel")
            tab.page.keyboard.press("Escape")
            assert tab.js("dashboard.selected") is None

            # find vehicle: drag the spot out of view, then type an id and press Enter
            box = tab.page.locator("#map").bounding_box()
            assert box is not None
            tab.page.mouse.move(box["x"] + box["width"] - 20, box["y"] + 200)
            tab.page.mouse.down()
            tab.page.mouse.move(box["x"] + 20, box["y"] + 200, steps=8)
            tab.page.mouse.up()
            target = stacked[len(stacked) // 2]
            outside = tab.js("id => dashboard.vehiclePoint(id)", target)
            assert not (box["x"] <= outside["x"] <= box["x"] + box["width"]), "the drag kept it in view"
            assert tab.js("() => document.querySelectorAll('#vehicle-ids option').length") == len(rows)
            tab.page.fill("#find", target)
            tab.page.press("#find", "Enter")
            assert tab.js("dashboard.selected") == target
            tab.page.wait_for_timeout(600)  # the pan's animation
            seen = tab.js("id => dashboard.vehiclePoint(id)", target)
            assert box["x"] <= seen["x"] <= box["x"] + box["width"]
            assert box["y"] <= seen["y"] <= box["y"] + box["height"]
            tab.page.fill("#find", "no-such-vehicle")
            tab.page.press("#find", "Enter")
            assert tab.page.is_visible("#notice") and "no-such-vehicle" in (tab.page.text_content("#notice") or "")
            assert tab.js("dashboard.selected") == target
            assert tab.problems == []
        finally:
            tab.close()


def test_the_page_says_reconnecting_while_the_engine_restarts_and_recovers(
    data_dir: Path, tokens_path: Path, operator_token: str, chromium: Browser
) -> None:
    first = engine_on_port(data_dir, 0, tokens=tokens_path)
    port = first.port
    second: Engine | None = None
    try:
        source = LiveSource(f"127.0.0.1:{port}", token=operator_token, interval_s=POLL_S)
        with run_dashboard(source) as dash:
            tab = open_page(chromium, dash)
            try:
                tab.until("() => window.dashboard && dashboard.connected && dashboard.vehiclesDrawn() > 0")
                first.close()
                tab.until("() => document.getElementById('status').dataset.state === 'reconnecting'")
                text = tab.status()[1]
                assert text.startswith("reconnecting"), text
                assert not tab.js("dashboard.connected")

                second = engine_on_port(data_dir, port, tokens=tokens_path)
                tab.until("() => dashboard.connected", timeout_s=20)
                assert tab.status()[0] == "connected"
                # the feed follows the new engine: a ride booked on it shows up
                ride_id = source.ride_label(book(second, "browser-after-restart", origin=3, destination=20))
                tab.page.wait_for_selector(f'#feed li[data-ride-id="{ride_id}"]', timeout=5000)
                tab.until("id => dashboard.ride(id) !== null", ride_id)
                assert_fleet_drawn(tab, fleet(second))
                assert tab.problems == []
            finally:
                tab.close()
    finally:
        for engine in (first, second):
            if engine is not None:
                engine.close()


# ---------------------------------------------------------------------------------- replay
@pytest.fixture(scope="module")
def replay_folder(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled I-MOD day (imod_jamsil, 06:00-23:00), simulated here into a run folder."""
    doc = tomllib.loads(SCENARIO.read_text())
    simulation = Simulation(Scenario.from_dict(doc, data_dir=data_dir))
    simulation.setup()
    out = simulation.run()
    folder = tmp_path_factory.mktemp("dashboard-replay") / "imod_jamsil"
    write_report(out, folder, plots=False)
    return folder


def slider_fraction_x(tab: Tab, fraction: float) -> tuple[float, float]:
    """Where to click on the slider's track for ``fraction`` of its range."""
    box = tab.page.locator("#slider").bounding_box()
    assert box is not None
    return box["x"] + 8 + fraction * (box["width"] - 16), box["y"] + box["height"] / 2


def test_replay_slider_moves_the_vehicles(replay_folder: Path, chromium: Browser) -> None:
    day = ReplayDay.open(replay_folder)
    with run_dashboard(ReplaySource(day)) as dash:
        tab = open_page(chromium, dash)
        try:
            tab.until("() => window.dashboard && dashboard.mode === 'replay' && dashboard.vehiclesDrawn() > 0")
            assert "replay" in tab.page.title()
            assert tab.page.is_visible("#replay-bar")
            slider = tab.page.locator("#slider")
            assert (int(slider.get_attribute("min")), int(slider.get_attribute("max"))) == (day.start_s, day.end_s)
            ids = tab.js("dashboard.vehicleIds()")
            assert len(ids) == tab.js("dashboard.vehiclesDrawn()") == len(day.vehicles_at(day.start_s))
            before = {v: tab.js("id => dashboard.vehicle(id)", v) for v in ids}

            # a click on the slider at the morning peak seeks there
            start_clock = tab.js("dashboard.clock_s")
            fraction = (8.5 * 3600 - day.start_s) / (day.end_s - day.start_s)
            tab.page.mouse.click(*slider_fraction_x(tab, fraction))
            tab.until("t0 => dashboard.clock_s !== t0", start_clock)
            time_s = tab.js("dashboard.clock_s")
            assert abs(time_s - 8.5 * 3600) < 0.02 * (day.end_s - day.start_s)
            tab.until("t => Number(document.getElementById('slider').value) === t", time_s)

            # the vehicles are drawn where the run folder puts them then, and some have moved
            expected = {row[0]: row for row in day.vehicles_at(time_s)}
            tab.page.wait_for_timeout(200)
            moved = 0
            for v in ids:
                drawn = tab.js("id => dashboard.vehicle(id)", v)
                row = expected[v]
                assert abs(drawn["lat"] - row[1]) < DEGREES and abs(drawn["lon"] - row[2]) < DEGREES, v
                assert drawn["state"] == row[3]
                moved += (drawn["lat"], drawn["lon"]) != (before[v]["lat"], before[v]["lon"])
            assert moved >= len(ids) // 2, f"{moved} of {len(ids)} vehicles moved"
            assert tab.js("dashboard.chartPoints()") > 0
            screenshot = screenshot_path("dashboard_replay.png")
            tab.page.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size > 10_000

            # play moves the clock on at the chosen speed; pause stops it
            tab.page.select_option("#speed", "300")
            tab.page.click("#play")
            tab.until("t => dashboard.clock_s >= t + 300", time_s, timeout_s=10)
            tab.page.click("#play")
            tab.until("() => document.getElementById('play').dataset.playing === 'false'")
            paused_at = tab.js("dashboard.clock_s")
            tab.page.wait_for_timeout(600)
            assert tab.js("dashboard.clock_s") == paused_at
            assert tab.problems == []
        finally:
            tab.close()


def start_dashboard_command(folder: Path, port: int, key: str) -> subprocess.Popen[str]:
    """``mobility dashboard --run folder`` on ``port``, once it says where the page is."""
    command = [sys.executable, "-m", "mobility.cli", "dashboard", "--run", str(folder), "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--key", key], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO_ROOT
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert f":{port}/?key={key}" in line, line
    return process


def test_the_page_reconnects_when_the_dashboard_server_restarts(replay_folder: Path, chromium: Browser) -> None:
    port, key = free_port(), "restart-key-0123"
    process = start_dashboard_command(replay_folder, port, key)
    tab: Tab | None = None
    try:
        tab = Tab(chromium, f"http://127.0.0.1:{port}/?key={key}")
        tab.until("() => window.dashboard && dashboard.connected && dashboard.vehiclesDrawn() > 0")
        drawn = tab.js("dashboard.vehiclesDrawn()")
        process.kill()  # a crash: no goodbye to the page
        process.wait(10)
        tab.until("() => document.getElementById('status').dataset.state === 'reconnecting'")
        assert "reconnecting to the dashboard server" in tab.status()[1]
        tab.page.wait_for_timeout(1500)  # a few attempts fail meanwhile
        process = start_dashboard_command(replay_folder, port, key)
        tab.until("() => dashboard.connected", timeout_s=15)
        assert tab.status()[0] == "connected"
        assert tab.js("dashboard.stats.reconnects") == 1
        assert tab.js("dashboard.vehiclesDrawn()") == drawn
        # the only complaints are the browser's about the refused connections while it was down
        refused = [p for p in tab.problems if "ERR_CONNECTION_REFUSED" in p]
        assert refused and len(refused) == len(tab.problems), tab.problems
    finally:
        if tab is not None:
            tab.close()
        process.kill()
        process.wait(10)


def test_a_3000_vehicle_replay_is_drawn_and_applied_in_time(tmp_path: Path, chromium: Browser) -> None:
    """A made-up day of 3,000 vehicles (tests.dashboard.test_replay.synthetic_day) played at 10x:
    four frames a second, each moving most of the fleet. Every vehicle is drawn where the run
    folder puts it, and the page applies a frame in well under a frame's time."""
    synthetic_day(tmp_path / "big", 3000, 4)  # drives until 06:15
    day = ReplayDay.open(tmp_path / "big")
    with run_dashboard(ReplaySource(day, speed=10)) as dash:
        tab = open_page(chromium, dash)
        try:
            tab.until("() => window.dashboard && dashboard.vehiclesDrawn() === 3000", timeout_s=30)
            tab.page.mouse.click(*slider_fraction_x(tab, 420 / (day.end_s - day.start_s)))  # 06:07, most driving
            tab.until("() => dashboard.clock_s > 6 * 3600 + 300")
            applied = tab.js("dashboard.stats.applies")
            tab.page.click("#play")
            tab.until("n => dashboard.stats.applies >= n + 12", applied, timeout_s=15)
            tab.page.click("#play")
            tab.until("() => document.getElementById('play').dataset.playing === 'false'")
            tab.page.wait_for_timeout(300)  # the frame in flight when it paused
            apply_ms = sorted(tab.js("n => dashboard.stats.applyMs.slice(-n)", 12))
            assert tab.js("dashboard.stats.lastVehicles") >= 2000  # most of the fleet in each frame
            assert apply_ms[len(apply_ms) // 2] < 100, apply_ms  # 4 frames a second leave 250 ms each

            # the player's clock runs in fractions of a second, the messages say whole seconds: each
            # vehicle is drawn between where the run folder puts it at time_s and a second later
            time_s = tab.js("dashboard.clock_s")
            drawn = dict(tab.js("() => dashboard.vehicleIds().map(id => [id, dashboard.vehicle(id)])"))
            early, late = day.vehicles_at(time_s), day.vehicles_at(time_s + 1)
            assert len(drawn) == len(early) == 3000
            moving = 0
            for a, b in zip(early, late, strict=True):
                got = drawn[a[0]]
                for k, axis in ((1, "lat"), (2, "lon")):
                    assert min(a[k], b[k]) - DEGREES <= got[axis] <= max(a[k], b[k]) + DEGREES, (got, a, b)
                assert (got["state"], got["on_board"]) in ((a[3], a[4]), (b[3], b[4])), (got, a, b)
                moving += a[2] != b[2]
            assert moving >= 2000
            assert tab.js("dashboard.stats.lastStacksMs") < 100  # the recount of the stacks, once a frame
            assert tab.problems == []
        finally:
            tab.close()
