// The operators' dashboard page: one WebSocket to the dashboard server (dashboard/server.py), the
// messages of dashboard/protocol.py applied in order to the map (map.js), the lists and tiles
// (panels.js) and the charts (charts.js). No build step; nothing is loaded from elsewhere.
//
// Test and measurement hooks are on window.dashboard (see the end of this file and docs/dashboard.md).

import { Charts } from "./charts.js";
import { Ring, STATE_STYLE, el, hms } from "./format.js";
import { MapView } from "./map.js";
import { Chooser, Feed, ManifestList, Rides, Tiles } from "./panels.js";

const CLOSE_BAD_KEY = 4401; // dashboard.protocol.CLOSE_BAD_KEY
const PROTOCOL_VERSION = 1; // dashboard.protocol.VERSION
const DEFAULT_FIELDS = ["id", "lat", "lon", "state", "on_board", "seats", "next_lat", "next_lon", "next_arrival_s"];
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 8000;
const SEEK_EVERY_MS = 150; // while the slider is dragged
const TIMING_SAMPLES = 1000;

const $ = (id) => document.getElementById(id);

// ---- state ---------------------------------------------------------------------------------

const state = {
  hello: null,
  mode: null,
  fields: DEFAULT_FIELDS,
  wsOpen: false,
  engineConnected: null, // the last status.connected (null: not told yet)
  statusMessage: "",
  clock_s: null,
  playing: false,
  speed: 1,
  selected: null,
  lastTime_s: null,
};

const applyMs = new Ring(TIMING_SAMPLES);
const paintMs = new Ring(TIMING_SAMPLES);
const stats = {
  applies: 0,
  lastApplyMs: null,
  lastPaintMs: null,
  lastVehicles: 0,
  messages: 0,
  reconnects: 0,
  get applyMs() {
    return applyMs.values();
  },
  get paintMs() {
    return paintMs.values();
  },
  /** The last recount of the vehicles on one spot (ms). */
  get lastStacksMs() {
    return mapView.lastStacksMs;
  },
};

// ---- views ---------------------------------------------------------------------------------

const mapView = new MapView($("map"), {
  onSelect: (id, reveal = false) => select(id, reveal),
  onChoose: (vehicles, point) => (vehicles.length ? chooser.show(vehicles, point) : chooser.close()),
  onPaint: (ms) => {
    stats.lastPaintMs = ms;
    paintMs.push(ms);
  },
});
const feed = new Feed($("feed"), $("feed-count"), (id) => select(id, true));
const rides = new Rides($("rides"), $("rides-count"), (id) => select(id, true));
const manifest = new ManifestList($("manifest-panel"), $("manifest-title"), $("manifest-summary"), $("manifest"));
const chooser = new Chooser($("chooser"), $("chooser-title"), $("chooser-list"), (id) => select(id));
const tiles = new Tiles(document);
const charts = new Charts($("charts"));

for (const [name, style] of Object.entries(STATE_STYLE)) {
  const li = el("li", "legend-row");
  const swatch = el("span", "swatch");
  swatch.style.background = style.color;
  li.dataset.state = name;
  li.append(swatch, document.createTextNode(style.label));
  $("legend-states").append(li);
}

// ---- status bar and clock ------------------------------------------------------------------

function showStatus() {
  const status = $("status");
  let text;
  let cls;
  if (!key) {
    text = "no key in this address: open the address the dashboard printed (…/?key=…)";
    cls = "error";
  } else if (connection.fatal) {
    text = connection.fatal;
    cls = "error";
  } else if (!state.wsOpen) {
    text =
      connection.attempts > 0
        ? `reconnecting to the dashboard server (attempt ${connection.attempts})…`
        : "connecting to the dashboard server…";
    cls = connection.attempts > 0 ? "reconnecting" : "connecting";
  } else if (state.engineConnected === false) {
    text = `reconnecting: ${state.statusMessage || "the engine does not answer"}`;
    cls = "reconnecting";
  } else {
    text = state.statusMessage || "connected";
    cls = "connected";
  }
  status.textContent = text;
  status.className = `status ${cls}`;
  status.dataset.state = cls;
}

function showClock() {
  $("clock").textContent = hms(state.clock_s);
  if (state.mode === "replay") {
    $("replay-time").textContent = hms(state.clock_s);
    if (!slider.dragging && Number.isFinite(state.clock_s)) slider.input.value = String(Math.round(state.clock_s));
    const play = $("play");
    play.textContent = state.playing ? "pause" : "play";
    play.setAttribute("aria-label", state.playing ? "pause" : "play");
    play.dataset.playing = String(state.playing);
  }
}

let noticeTimer = null;
function notice(text) {
  const box = $("notice");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    box.hidden = true;
  }, 6000);
}

// ---- selection -----------------------------------------------------------------------------

function select(id, reveal = false) {
  if (id === state.selected) return;
  state.selected = id;
  mapView.setSelected(id);
  if (id === null) {
    manifest.close();
  } else {
    manifest.open(id);
    if (reveal) mapView.reveal(id);
  }
  connection.send({ type: "select", vehicle_id: id });
}

$("manifest-close").addEventListener("click", () => select(null));
$("chooser-close").addEventListener("click", () => chooser.close());
$("chooser-list").addEventListener("keydown", (e) => {
  if (e.key === "Enter") e.target.closest("li")?.click();
});
mapView.map.on("movestart", () => chooser.close());
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  if (chooser.open) chooser.close();
  else if (state.selected !== null && e.target !== $("find")) select(null);
});

// ---- find vehicle: an input with the ids drawn as suggestions; Enter selects and pans ------

const find = { input: $("find"), list: $("vehicle-ids"), version: -1, timer: null };

/** Refill the suggestions when vehicles were added or removed (at most once a second). */
function findListChanged() {
  if (find.version === mapView.idsVersion || find.timer !== null) return;
  find.timer = setTimeout(() => {
    find.timer = null;
    find.version = mapView.idsVersion;
    const ids = [...mapView.vehicles.values()].filter((v) => v.marker).map((v) => v.id);
    ids.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    find.list.replaceChildren(
      ...ids.map((id) => {
        const option = document.createElement("option");
        option.value = id;
        return option;
      }),
    );
  }, find.version < 0 ? 0 : 1000);
}

find.input.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    find.input.value = "";
    find.input.blur();
    return;
  }
  if (e.key !== "Enter") return;
  const wanted = find.input.value.trim();
  if (!wanted) return;
  let id = mapView.vehicles.get(wanted)?.marker ? wanted : null;
  if (id === null) {
    const lower = wanted.toLowerCase();
    const matches = [...mapView.vehicles.values()].filter((v) => v.marker && v.id.toLowerCase().includes(lower));
    if (matches.length === 1) id = matches[0].id;
    else {
      notice(matches.length ? `${matches.length} vehicles match "${wanted}": pick one from the list` : `no vehicle "${wanted}" on the map`);
      return;
    }
  }
  chooser.close();
  if (id !== state.selected) select(id);
  mapView.reveal(id, true);
  find.input.select();
});

// ---- replay controls -----------------------------------------------------------------------

const slider = {
  input: $("slider"),
  dragging: false,
  lastSent: 0,
  timer: null,
};

function seek(final) {
  const time_s = Number(slider.input.value);
  $("replay-time").textContent = hms(time_s);
  const now = performance.now();
  clearTimeout(slider.timer);
  if (final || now - slider.lastSent >= SEEK_EVERY_MS) {
    slider.lastSent = now;
    feed.clear(); // the server sends the feed up to the new time
    connection.send({ type: "seek", time_s });
  } else {
    slider.timer = setTimeout(() => seek(true), SEEK_EVERY_MS);
  }
}

slider.input.addEventListener("pointerdown", () => {
  slider.dragging = true;
});
slider.input.addEventListener("input", () => seek(false));
slider.input.addEventListener("change", () => {
  slider.dragging = false;
  seek(true);
});
$("play").addEventListener("click", () => {
  connection.send({ type: state.playing ? "pause" : "play" });
});
$("speed").addEventListener("change", (e) => {
  connection.send({ type: "speed", value: Number(e.target.value) });
});

function setupReplay(replay) {
  const bar = $("replay-bar");
  const on = state.mode === "replay" && replay && Number.isFinite(replay.start_s) && Number.isFinite(replay.end_s);
  bar.hidden = !on;
  document.body.classList.toggle("replay", Boolean(on));
  if (on) {
    slider.input.min = String(Math.floor(replay.start_s));
    slider.input.max = String(Math.ceil(replay.end_s));
  }
}

function showSpeed(speed) {
  const select = $("speed");
  const value = String(speed);
  if (![...select.options].some((o) => o.value === value)) {
    select.append(el("option", null, `${speed}×`));
    select.lastElementChild.value = value;
  }
  select.value = value;
}

// ---- messages ------------------------------------------------------------------------------

let ridesFrame = null;
function ridesChanged() {
  if (ridesFrame !== null) return;
  ridesFrame = requestAnimationFrame(() => {
    ridesFrame = null;
    rides.render();
    mapView.setRides(rides.rides);
  });
}

const handlers = {
  hello(m) {
    const previousMode = state.mode;
    state.hello = m;
    state.mode = m.mode === "replay" ? "replay" : "live";
    state.fields = Array.isArray(m.vehicle_fields) ? m.vehicle_fields : DEFAULT_FIELDS;
    const title = m.title || m.service || "Mobility dashboard";
    $("title").textContent = title;
    $("mode").textContent = state.mode;
    $("mode").dataset.mode = state.mode;
    document.title = `${title} — ${state.mode}`;
    if (m.version !== undefined && m.version !== PROTOCOL_VERSION) {
      notice(`The server speaks version ${m.version} of the dashboard's protocol, this page ${PROTOCOL_VERSION}: reload it.`);
    }
    mapView.setBaseMap(m);
    setupReplay(m.replay);
    if (previousMode !== null && previousMode !== state.mode) feed.clear();
    // the server forgets the selection with the connection: ask again
    if (state.selected !== null) connection.send({ type: "select", vehicle_id: state.selected });
    showStatus();
  },
  vehicles(m, received) {
    const n = mapView.applyVehicles(m, state.fields);
    if (state.selected !== null && !mapView.vehicles.has(state.selected)) select(null);
    findListChanged();
    const ms = performance.now() - received;
    stats.applies += 1;
    stats.lastApplyMs = ms;
    stats.lastVehicles = n;
    applyMs.push(ms);
    noteTime(m.time_s);
  },
  rides(m) {
    if (rides.apply(m)) ridesChanged();
  },
  events(m) {
    if (m.reset) feed.clear();
    feed.add(m.items);
  },
  kpis(m) {
    tiles.show(m.values);
    charts.add(m.time_s, m.values);
  },
  kpi_history(m) {
    const items = Array.isArray(m.items) ? m.items : [];
    charts.reset(items);
    if (items.length) tiles.show(items[items.length - 1].values);
  },
  manifest(m) {
    if (m.vehicle_id !== state.selected) return; // an answer to an older selection
    manifest.show(m, mapView.vehicles.get(m.vehicle_id));
    if (m.error) mapView.clearManifest();
    else mapView.setManifest(m);
  },
  status(m) {
    state.engineConnected = m.connected === undefined ? null : Boolean(m.connected);
    state.statusMessage = typeof m.message === "string" ? m.message : "";
    $("status").title = m.source ? String(m.source) : "";
    showStatus();
  },
  clock(m) {
    if (Number.isFinite(m.time_s)) {
      // A replay's clock going back (a seek, or play again from the end): its feed starts over.
      if (state.mode === "replay" && state.clock_s !== null && m.time_s < state.clock_s) feed.clear();
      state.clock_s = m.time_s;
    }
    state.playing = Boolean(m.playing);
    if (Number.isFinite(m.speed) && state.mode === "replay") {
      state.speed = m.speed;
      showSpeed(m.speed);
    }
    showClock();
  },
  error(m) {
    notice(`The server refused a request: ${m.message ?? "unknown error"}`);
  },
};

function noteTime(time_s) {
  if (!Number.isFinite(time_s)) return;
  state.lastTime_s = time_s;
  if (state.clock_s === null) {
    state.clock_s = time_s;
    showClock();
  }
}

function onMessage(data, received) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    notice("The server sent a message that is not JSON; it was ignored.");
    return;
  }
  stats.messages += 1;
  const handler = message && handlers[message.type];
  if (handler) handler(message, received);
}

// ---- the connection ------------------------------------------------------------------------

const key = new URLSearchParams(location.search).get("key") ?? "";

class Connection {
  constructor() {
    this.ws = null;
    this.attempts = 0;
    this.delay = RECONNECT_FIRST_MS;
    this.timer = null;
    this.fatal = null;
  }

  url() {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.search = new URLSearchParams({ key }).toString();
    url.hash = "";
    return url.toString();
  }

  open() {
    if (!key || this.fatal) return;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      state.wsOpen = true;
      this.delay = RECONNECT_FIRST_MS;
      if (this.attempts > 0) stats.reconnects += 1;
      this.attempts = 0;
      showStatus();
    };
    ws.onmessage = (e) => onMessage(e.data, performance.now());
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      state.wsOpen = false;
      if (e.code === CLOSE_BAD_KEY) {
        this.fatal = "the dashboard server refused this page's key: open the address it printed";
      } else {
        this.schedule();
      }
      showStatus();
    };
    // errors are followed by close: nothing to do here, and nothing to log
    ws.onerror = () => {};
  }

  schedule() {
    clearTimeout(this.timer);
    this.attempts += 1;
    const wait = this.delay * (0.8 + 0.4 * Math.random());
    this.delay = Math.min(RECONNECT_MAX_MS, this.delay * 2);
    this.timer = setTimeout(() => this.open(), wait);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
}

const connection = new Connection();

// ---- layout --------------------------------------------------------------------------------

let resizeFrame = null;
window.addEventListener("resize", () => {
  if (resizeFrame !== null) return;
  resizeFrame = requestAnimationFrame(() => {
    resizeFrame = null;
    mapView.resize();
    charts.resize();
  });
});

// ---- hooks for tests and measurements ------------------------------------------------------

window.dashboard = {
  /** The base map drawn: {streets, points, stops, zone, tiles}. */
  baseMap: () => mapView.baseMapDrawn(),
  /** Vehicle markers on the map. */
  vehiclesDrawn: () => mapView.vehiclesDrawn(),
  /** A vehicle as drawn: {lat, lon, state, on_board, seats}, or null. */
  vehicle: (id) => mapView.vehicleDrawn(id),
  /** Where a vehicle's marker is in the viewport: {x, y} (CSS pixels), or null. */
  vehiclePoint: (id) => mapView.vehiclePoint(id),
  /** The spots with two or more vehicles, each with its count: [{lat, lon, count}]. */
  stacks: () => mapView.stacksDrawn(),
  /** The vehicles under a point of the viewport, topmost first: [{id, state, on_board, seats}]. */
  vehiclesAt: (x, y) => {
    const box = mapView.map.getContainer().getBoundingClientRect();
    return mapView.vehiclesAt({ x: x - box.left, y: y - box.top });
  },
  /** The ids in the chooser (empty when it is closed). */
  chooserIds: () => (chooser.open ? [...$("chooser-list").children].map((li) => li.dataset.vehicleId) : []),
  /** The series the charts draw (chart 0, 1, 2): [xs, ys...] with null where a line breaks. */
  chartData: (c) => charts.plots[c].data.map((a) => Array.from(a)),
  /** The ids of the vehicles drawn. */
  vehicleIds: () => [...mapView.vehicles.values()].filter((v) => v.marker).map((v) => v.id),
  /** Pickup markers of open rides on the map, and one of them: {lat, lon, status}, or null. */
  ridesDrawn: () => mapView.ridesDrawn(),
  ride: (id) => mapView.rideDrawn(id),
  /** Rows in the feed (DOM, at most 300). */
  feedCount: () => feed.rows(),
  /** Events received since the page loaded. */
  eventsReceived: () => feed.received,
  /** Points in the KPI charts. */
  chartPoints: () => charts.points(),
  /** True when the page's socket is open and the server reports its source connected. */
  get connected() {
    return state.wsOpen && state.engineConnected !== false;
  },
  get mode() {
    return state.mode;
  },
  get clock_s() {
    return state.clock_s;
  },
  get selected() {
    return state.selected;
  },
  /** Select a vehicle as a click would (null: deselect). */
  select: (id) => select(id),
  stats,
};

showStatus();
connection.open();
