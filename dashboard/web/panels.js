// The lists and tiles of the dashboard page: the feed, the upcoming pickups, the selected
// vehicle's manifest and the KPI tiles. Everything is written with textContent (never HTML).

import { EVENT_TONE, STATE_STYLE, count, el, hm, hms, minutes, percent, words } from "./format.js";

/** Rows kept in the DOM. */
export const FEED_ROWS = 300;
export const RIDE_ROWS = 200;
/** Rows of the chooser of vehicles on one spot (the find box reaches any other). */
export const CHOOSER_ROWS = 100;

function finite(x) {
  return typeof x === "number" && Number.isFinite(x);
}

/** The live feed, newest on top, at most FEED_ROWS rows. */
export class Feed {
  constructor(list, counter, onPick) {
    this.list = list;
    this.counter = counter;
    this.onPick = onPick;
    this.received = 0;
    // Event ids shown (to skip the repeats a reconnecting server may send); bounded with the rows.
    this.ids = new Set();
    list.addEventListener("click", (e) => {
      const row = e.target.closest("li");
      if (row?.dataset.vehicleId) this.onPick(row.dataset.vehicleId);
    });
  }

  clear() {
    this.list.replaceChildren();
    this.ids.clear();
    this.updateCount();
  }

  /** Add the ``items`` of an ``events`` message (oldest first). */
  add(items) {
    if (!Array.isArray(items) || items.length === 0) return;
    this.received += items.length;
    const fresh = items.slice(-FEED_ROWS).filter((e) => e && typeof e === "object");
    const fragment = document.createDocumentFragment();
    for (let i = fresh.length - 1; i >= 0; i--) {
      const event = fresh[i];
      const key = event.id !== undefined && event.id !== null ? String(event.id) : null;
      if (key !== null) {
        if (this.ids.has(key)) continue;
        this.ids.add(key);
      }
      fragment.append(this.row(event, key));
    }
    this.list.prepend(fragment);
    while (this.list.childElementCount > FEED_ROWS) {
      const last = this.list.lastElementChild;
      if (last.dataset.eventId !== undefined) this.ids.delete(last.dataset.eventId);
      last.remove();
    }
    this.updateCount();
  }

  row(event, key) {
    const kind = String(event.kind ?? "");
    const li = el("li", `event tone-${EVENT_TONE[kind] ?? "muted"}`);
    li.dataset.rideId = event.ride_id ?? "";
    li.dataset.kind = kind;
    if (key !== null) li.dataset.eventId = key;
    if (event.vehicle_id) li.dataset.vehicleId = event.vehicle_id;
    li.append(el("span", "t", hms(event.time_s)), el("span", "badge kind", words(kind)));
    const name = el("span", "ride", event.ride_id ?? "");
    name.title = String(event.ride_id ?? "");
    li.append(name, el("span", "veh", event.vehicle_id ?? ""));
    if (event.pooled) li.append(el("span", "badge pooled", "pooled"));
    if (event.detail) {
      const detail = el("span", "detail", kind === "rejection" ? words(event.detail) : event.detail);
      detail.title = String(event.detail);
      li.append(detail);
    }
    return li;
  }

  updateCount() {
    this.counter.textContent = this.received ? `(${count(this.received)})` : "";
  }

  rows() {
    return this.list.childElementCount;
  }
}

/** Sort key of an open ride: its planned pickup, else its window, else when it was requested. */
function pickupKey(ride) {
  if (finite(ride.planned_pickup_s)) return ride.planned_pickup_s;
  if (Array.isArray(ride.window) && finite(ride.window[0])) return ride.window[0];
  if (finite(ride.requested_s)) return ride.requested_s;
  return Number.MAX_SAFE_INTEGER;
}

/** The open rides: a Map by ride id, and the list of the soonest pickups. */
export class Rides {
  constructor(list, counter, onPick) {
    this.list = list;
    this.counter = counter;
    this.rides = new Map();
    this.pending = false;
    list.addEventListener("click", (e) => {
      const row = e.target.closest("li");
      if (row?.dataset.vehicleId) onPick(row.dataset.vehicleId);
    });
  }

  /** Apply a ``rides`` message; returns true if anything changed. */
  apply(message) {
    if (message.full) this.rides.clear();
    for (const ride of Array.isArray(message.items) ? message.items : []) {
      if (ride && ride.ride_id !== undefined && ride.ride_id !== null) this.rides.set(String(ride.ride_id), ride);
    }
    for (const id of Array.isArray(message.removed) ? message.removed : []) this.rides.delete(String(id));
    return true;
  }

  /** Redraw the list (at most RIDE_ROWS rows, soonest pickup first; rides on board are counted only). */
  render() {
    const waiting = [];
    let onBoard = 0;
    for (const ride of this.rides.values()) {
      if (ride.status === "on_board") onBoard++;
      else waiting.push(ride);
    }
    waiting.sort((a, b) => pickupKey(a) - pickupKey(b) || String(a.ride_id).localeCompare(String(b.ride_id)));
    const rows = waiting.slice(0, RIDE_ROWS).map((ride) => this.row(ride));
    this.list.replaceChildren(...rows);
    const more = waiting.length > RIDE_ROWS ? `, first ${RIDE_ROWS} shown` : "";
    this.counter.textContent = `(${count(waiting.length)} waiting, ${count(onBoard)} on board${more})`;
  }

  row(ride) {
    const li = el("li", `ride-row status-${ride.status}`);
    li.dataset.rideId = String(ride.ride_id);
    li.dataset.status = String(ride.status ?? "");
    if (ride.vehicle_id) li.dataset.vehicleId = ride.vehicle_id;
    const when = finite(ride.planned_pickup_s) ? hm(ride.planned_pickup_s) : "--:--";
    const name = el("span", "ride", ride.ride_id);
    name.title = String(ride.ride_id);
    li.append(el("span", "t", when), name, el("span", "badge rstatus", words(ride.status)));
    li.append(el("span", "pax", `${ride.passengers ?? 1}p`), el("span", "veh", ride.vehicle_id ?? ""));
    if (Array.isArray(ride.window)) li.append(el("span", "window", `${hm(ride.window[0])}–${hm(ride.window[1])}`));
    if (ride.shared) li.append(el("span", "badge pooled", "pooled"));
    return li;
  }
}

/** The side list of the selected vehicle's stops. */
export class ManifestList {
  constructor(panel, title, summary, list) {
    this.panel = panel;
    this.title = title;
    this.summary = summary;
    this.list = list;
  }

  open(vehicleId) {
    this.panel.hidden = false;
    this.title.textContent = vehicleId;
    this.summary.textContent = "loading the manifest…";
    this.list.replaceChildren();
  }

  close() {
    this.panel.hidden = true;
    this.list.replaceChildren();
  }

  /** Show a ``manifest``; ``vehicle`` is the vehicle as drawn (or undefined). */
  show(manifest, vehicle) {
    this.title.textContent = manifest.vehicle_id;
    if (manifest.error) {
      this.summary.textContent = manifest.error;
      this.list.replaceChildren();
      return;
    }
    const stops = Array.isArray(manifest.stops) ? manifest.stops : [];
    const parts = [];
    if (vehicle) {
      parts.push(STATE_STYLE[vehicle.state]?.label ?? String(vehicle.state));
      parts.push(`${vehicle.on_board ?? 0}/${vehicle.seats ?? 0} on board`);
    }
    parts.push(stops.length ? `${count(stops.length)} ${stops.length === 1 ? "stop" : "stops"} planned` : "no stops planned");
    this.summary.textContent = parts.join(" · ");
    this.list.replaceChildren(...stops.map((stop, i) => this.row(stop, i)));
  }

  row(stop, i) {
    const pickup = stop.kind === "pickup";
    const late = finite(stop.planned_s) && finite(stop.window_end_s) && stop.planned_s > stop.window_end_s;
    const li = el("li", `stop ${pickup ? "pickup" : "dropoff"}${late ? " late" : ""}`);
    li.dataset.rideId = String(stop.ride_id ?? "");
    li.dataset.kind = String(stop.kind ?? "");
    li.append(el("span", "n", i + 1), el("span", "badge kind", pickup ? "pickup" : "drop-off"));
    const name = el("span", "ride", stop.ride_id ?? "");
    name.title = String(stop.ride_id ?? "");
    li.append(name, el("span", "t", hm(stop.planned_s)));
    let promise = "";
    if (pickup && finite(stop.window_start_s) && finite(stop.window_end_s)) {
      promise = `${hm(stop.window_start_s)}–${hm(stop.window_end_s)}`;
    } else if (finite(stop.window_end_s)) {
      promise = `by ${hm(stop.window_end_s)}`;
    }
    const windowSpan = el("span", "window", promise);
    windowSpan.title = "promised window";
    li.append(windowSpan);
    if (finite(stop.passengers) && stop.passengers > 1) li.append(el("span", "pax", `${stop.passengers}p`));
    return li;
  }

  rows() {
    return this.list.childElementCount;
  }
}

/** A small list of the vehicles under a click, to pick one (several vehicles on one spot). */
export class Chooser {
  /**
   * @param {HTMLElement} panel the overlay (inside the map's area, positioned absolutely)
   * @param {(id: string) => void} onPick
   */
  constructor(panel, title, list, onPick) {
    this.panel = panel;
    this.title = title;
    this.list = list;
    list.addEventListener("click", (e) => {
      const row = e.target.closest("li");
      if (!row?.dataset.vehicleId) return;
      this.close();
      onPick(row.dataset.vehicleId);
    });
  }

  get open() {
    return !this.panel.hidden;
  }

  /** Show ``vehicles`` ({id, state, on_board, seats}, topmost first) near ``point`` (viewport
   *  pixels), inside the map's area. */
  show(vehicles, point) {
    const shown = vehicles.slice(0, CHOOSER_ROWS);
    const more = vehicles.length > shown.length ? `, first ${CHOOSER_ROWS} shown (find vehicle reaches the others)` : "";
    this.title.textContent = `${count(vehicles.length)} vehicles here${more}`;
    this.list.replaceChildren(
      ...shown.map((v) => {
        const li = el("li", "choice");
        li.dataset.vehicleId = v.id;
        li.tabIndex = 0;
        const swatch = el("span", "swatch");
        swatch.style.background = (STATE_STYLE[v.state] ?? { color: "#333" }).color;
        li.append(swatch, el("span", "veh-id", v.id), el("span", "muted", STATE_STYLE[v.state]?.label ?? words(v.state)));
        li.append(el("span", "pax", `${v.on_board}/${v.seats} on board`));
        return li;
      }),
    );
    this.panel.hidden = false;
    const area = this.panel.offsetParent?.getBoundingClientRect() ?? { left: 0, top: 0, width: innerWidth, height: innerHeight };
    const w = this.panel.offsetWidth;
    const h = this.panel.offsetHeight;
    const x = Math.min(Math.max(4, point.x - area.left + 10), Math.max(4, area.width - w - 4));
    const y = Math.min(Math.max(4, point.y - area.top + 10), Math.max(4, area.height - h - 4));
    this.panel.style.left = `${x}px`;
    this.panel.style.top = `${y}px`;
  }

  close() {
    this.panel.hidden = true;
    this.list.replaceChildren();
  }

  rows() {
    return this.list.childElementCount;
  }
}

/** The KPI tiles. */
export class Tiles {
  constructor(root) {
    this.$ = (id) => root.querySelector(`#${id}`);
  }

  show(values) {
    const v = values ?? {};
    this.$("kpi-served").textContent = count(v.served);
    this.$("kpi-rejected").textContent = count(v.rejected);
    const reasons = Object.entries(v.rejected_by_reason ?? {})
      .filter(([, n]) => finite(n) && n > 0)
      .sort((a, b) => b[1] - a[1]);
    const shown = reasons.slice(0, 4).map(([name, n]) => {
      const li = el("li", null);
      li.append(el("span", "reason", words(name)), el("span", "n", count(n)));
      li.title = name;
      return li;
    });
    if (reasons.length > 4) {
      const rest = reasons.slice(4).reduce((sum, [, n]) => sum + n, 0);
      const li = el("li", null);
      li.append(el("span", "reason", "other"), el("span", "n", count(rest)));
      shown.push(li);
    }
    this.$("kpi-reasons").replaceChildren(...shown);
    const p50 = minutes(v.wait_p50_s);
    const p90 = minutes(v.wait_p90_s);
    this.$("kpi-wait").textContent = p50 === "–" && p90 === "–" ? "–" : `${p50} / ${p90} min`;
    this.$("kpi-occupancy").textContent = percent(v.occupancy);
    this.$("kpi-onboard").textContent = finite(v.riders_on_board) ? `${count(v.riders_on_board)} on board` : "";
    this.$("kpi-busy").textContent =
      finite(v.vehicles_busy) || finite(v.vehicles_on_shift)
        ? `${count(v.vehicles_busy)} / ${count(v.vehicles_on_shift)}`
        : "–";
    this.$("kpi-fleet").textContent = finite(v.vehicles) ? `fleet of ${count(v.vehicles)}` : "";
    this.$("kpi-open").textContent = count(v.open_requests);
    this.$("kpi-pooled").textContent = finite(v.pooled_share) ? `${percent(v.pooled_share)} pooled` : "";
  }
}
