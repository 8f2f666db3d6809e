// Shared constants and formatting of the dashboard page (no DOM, no Leaflet).

/** The vehicle states of dashboard.protocol.VEHICLE_STATES, their colours and names. */
export const STATE_STYLE = {
  idle: { color: "#4c78a8", label: "idle" },
  to_pickup: { color: "#f58518", label: "to pickup" },
  with_riders: { color: "#54a24b", label: "with riders" },
  dwelling: { color: "#b279a2", label: "dwelling" },
  off_shift: { color: "#9d9d9d", label: "off shift" },
};
export const UNKNOWN_STATE = { color: "#333333", label: "unknown" };

export const PICKUP_COLOR = "#e45756";

/** Event kinds (dashboard.protocol.EVENT_KINDS) grouped into the feed's badge colours. */
export const EVENT_TONE = {
  offer: "info",
  booking: "good",
  assignment: "good",
  reassignment: "warn",
  boarded: "good",
  completed: "done",
  rejection: "bad",
  cancellation: "bad",
  no_show: "bad",
  late: "warn",
  expired: "bad",
  shift_ended: "muted",
  shift_started: "muted",
  service_day: "muted",
  batch: "muted",
};

function pad2(n) {
  return n < 10 ? "0" + n : String(n);
}

/** HH:MM:SS of a service-clock time (seconds since midnight; hours go on past 24). */
export function hms(time_s) {
  if (time_s === null || time_s === undefined || !Number.isFinite(time_s)) return "--:--:--";
  const t = Math.max(0, Math.floor(time_s));
  return `${pad2(Math.floor(t / 3600))}:${pad2(Math.floor(t / 60) % 60)}:${pad2(t % 60)}`;
}

/** HH:MM of a service-clock time. */
export function hm(time_s) {
  if (time_s === null || time_s === undefined || !Number.isFinite(time_s)) return "--:--";
  const t = Math.max(0, Math.floor(time_s));
  return `${pad2(Math.floor(t / 3600))}:${pad2(Math.floor(t / 60) % 60)}`;
}

/** Minutes with one decimal ("4.5"), or "–" when unknown. */
export function minutes(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  return (seconds / 60).toFixed(1);
}

/** A whole number with thousands separators, or "–". */
export function count(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return Math.round(n).toLocaleString("en-GB");
}

/** A share 0..1 as a percentage ("42 %"), or "–". */
export function percent(share) {
  if (share === null || share === undefined || !Number.isFinite(share)) return "–";
  return `${Math.round(share * 100)} %`;
}

/** A reason name ("NO_VEHICLE_IN_TIME") as words ("no vehicle in time"). */
export function words(name) {
  return String(name ?? "").toLowerCase().replace(/_/g, " ");
}

/** A fixed-capacity ring of numbers (the page's timing statistics). */
export class Ring {
  constructor(capacity) {
    this.capacity = capacity;
    this.items = [];
    this.next = 0;
  }
  push(value) {
    if (this.items.length < this.capacity) this.items.push(value);
    else this.items[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
  }
  /** The values, oldest first. */
  values() {
    if (this.items.length < this.capacity) return this.items.slice();
    return this.items.slice(this.next).concat(this.items.slice(0, this.next));
  }
  clear() {
    this.items = [];
    this.next = 0;
  }
}

/** An element with a class and text (never HTML: ids and reasons come from the server). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
