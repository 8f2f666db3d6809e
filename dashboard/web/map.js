// The map of the dashboard page: Leaflet with canvas renderers, no tiles unless the server names
// a tile URL. Layers, bottom to top, each pane its own canvas so that moving vehicles never
// redraws the streets:
//   streets (one multi-polyline), zone (the service area), route (the selected vehicle's path),
//   marks (stops, pickups of open rides, vehicles: the only canvas that takes the mouse),
//   routeStops (the selected vehicle's stops, numbered), stacks (the count on a spot where
//   several vehicles are drawn on top of each other) and selection (its ring): the mouse goes
//   through them to the marks.
//
// A click on the marks finds every vehicle under the pointer: one is selected at once; several
// (a stack at a stop, or dots overlapping when zoomed out) are handed to hooks.onChoose.

import * as L from "../vendor/leaflet/leaflet-src.esm.js";
import { PICKUP_COLOR, STATE_STYLE, UNKNOWN_STATE, el, hm, words } from "./format.js";

const STREET_STYLE = { color: "#8f959c", weight: 1, opacity: 0.75, interactive: false, smoothFactor: 1.2 };
const ZONE_STYLE = {
  color: "#3b6ea8",
  weight: 1.5,
  dashArray: "5 4",
  fillColor: "#3b6ea8",
  fillOpacity: 0.04,
  interactive: false,
};
const STOP_STYLE = { radius: 3, color: "#4a4f55", weight: 1.5, fillColor: "#ffffff", fillOpacity: 1 };
/** Pixels around a vehicle's dot that still count as a click on it (Leaflet's canvas tolerance). */
const CLICK_TOLERANCE_PX = 2;
/** Vehicles closer than this (degrees, about a metre) are one stack. */
const STACK_DIGITS = 5;
const ROUTE_STYLE = { color: "#1f2328", weight: 3, opacity: 0.75, interactive: false };

/** A circle marker drawn as a diamond (pickups of open rides). Uses Leaflet 1.9's canvas internals
 *  (pinned in package.json): hit testing stays the circle's. */
const DiamondMarker = L.CircleMarker.extend({
  _updatePath() {
    const renderer = this._renderer;
    if (!renderer._drawing || this._empty()) return;
    const p = this._point;
    const r = Math.max(Math.round(this._radius), 1) + 1;
    const ctx = renderer._ctx;
    ctx.beginPath();
    ctx.moveTo(p.x, p.y - r);
    ctx.lineTo(p.x + r, p.y);
    ctx.lineTo(p.x, p.y + r);
    ctx.lineTo(p.x - r, p.y);
    ctx.closePath();
    renderer._fillStroke(ctx, this);
  },
});

/** A circle marker drawn as a small hollow square (stops: not to be taken for a vehicle). */
const SquareMarker = L.CircleMarker.extend({
  _updatePath() {
    const renderer = this._renderer;
    if (!renderer._drawing || this._empty()) return;
    const p = this._point;
    const r = Math.max(Math.round(this._radius), 1);
    const ctx = renderer._ctx;
    ctx.beginPath();
    ctx.rect(p.x - r, p.y - r, 2 * r, 2 * r);
    renderer._fillStroke(ctx, this);
  },
});

/** The number of vehicles on one spot: a dark pill up and right of the spot. Its radius (for
 *  Leaflet's redraw bounds) covers the pill; it takes no mouse events. */
const CountMarker = L.CircleMarker.extend({
  _updatePath() {
    const renderer = this._renderer;
    if (!renderer._drawing || this._empty()) return;
    const ctx = renderer._ctx;
    const p = this._point;
    const text = String(this.options.count);
    ctx.font = "bold 10px system-ui, sans-serif";
    const w = Math.max(14, Math.ceil(ctx.measureText(text).width) + 6);
    const x = p.x + 4;
    const y = p.y - 17;
    ctx.globalAlpha = 1;
    ctx.beginPath();
    ctx.roundRect(x, y, w, 13, 6.5);
    ctx.fillStyle = "#1f2328";
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    ctx.fillStyle = "#ffffff";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + w / 2, y + 7);
  },
});

/** A circle with a number in it (the stops of the selected vehicle's manifest). */
const NumberedMarker = L.CircleMarker.extend({
  _updatePath() {
    const renderer = this._renderer;
    if (!renderer._drawing || this._empty()) return;
    renderer._updateCircle(this);
    const ctx = renderer._ctx;
    const p = this._point;
    ctx.globalAlpha = 1;
    ctx.fillStyle = this.options.textColor;
    ctx.font = "bold 10px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(String(this.options.label), p.x, p.y + 0.5);
  },
});

function stateStyle(state) {
  return STATE_STYLE[state] ?? UNKNOWN_STATE;
}

/** Radius of a vehicle's dot: 4 px empty, up to 8 px full; 3 px off shift. */
function vehicleRadius(v) {
  if (v.state === "off_shift") return 3;
  const share = v.seats > 0 ? Math.min(1, Math.max(0, v.on_board / v.seats)) : 0;
  return 4 + Math.round(4 * share);
}

function finite(x) {
  return typeof x === "number" && Number.isFinite(x);
}

export class MapView {
  /**
   * @param {HTMLElement} container
   * @param {{onSelect: (id: string) => void, onPaint: (ms: number) => void,
   *          onChoose: (vehicles: object[], point: {x: number, y: number}) => void}} hooks
   */
  constructor(container, hooks) {
    this.hooks = hooks;
    this.map = L.map(container, {
      preferCanvas: true,
      zoomControl: true,
      attributionControl: false,
      zoomSnap: 0.25,
      minZoom: 2,
      maxZoom: 19,
    });
    this.map.setView([0, 0], 2);
    const panes = { streets: 250, zone: 260, route: 390, marks: 450, routeStops: 460, stacks: 465, selection: 470 };
    for (const [name, z] of Object.entries(panes)) {
      const pane = this.map.createPane(name);
      pane.style.zIndex = String(z);
      if (name !== "marks") pane.style.pointerEvents = "none";
    }
    this.renderers = {
      streets: L.canvas({ pane: "streets", padding: 0.3 }),
      zone: L.canvas({ pane: "zone", padding: 0.3 }),
      route: L.canvas({ pane: "route", padding: 0.3 }),
      marks: L.canvas({ pane: "marks", padding: 0.3, tolerance: CLICK_TOLERANCE_PX }),
      routeStops: L.canvas({ pane: "routeStops", padding: 0.3 }),
      stacks: L.canvas({ pane: "stacks", padding: 0.3 }),
      selection: L.canvas({ pane: "selection", padding: 0.3 }),
    };
    // Time the canvas redraws of the marks (vehicles) once per frame: the page's paint cost.
    const marks = this.renderers.marks;
    const redraw = marks._redraw;
    marks._redraw = function timedRedraw() {
      const t0 = performance.now();
      redraw.call(this);
      hooks.onPaint(performance.now() - t0);
    };

    this.tileLayer = null;
    this.streets = null;
    this.zone = null;
    this.mapSignature = null;
    this.stopsLayer = L.featureGroup().addTo(this.map);
    this.ridesLayer = L.featureGroup().addTo(this.map);
    this.vehiclesLayer = L.featureGroup().addTo(this.map);
    this.routeLayer = L.layerGroup().addTo(this.map);
    this.stacksLayer = L.layerGroup().addTo(this.map);
    /** @type {Map<string, CountMarker>} the count on each spot with two or more vehicles */
    this.stacks = new Map();
    this.stacksFrame = null;
    this.lastStacksMs = null; // the last recount's time (ms)
    /** Bumped when a vehicle is added or removed (the find box's list follows it). */
    this.idsVersion = 0;

    /** @type {Map<string, {id, lat, lon, state, on_board, seats, next_arrival_s, marker}>} */
    this.vehicles = new Map();
    /** @type {Map<string, {ride, marker}>} */
    this.rides = new Map();
    this.selected = null;
    this.halo = null; // the ring around the selected vehicle
    this.hovered = null; // {kind: "vehicle"|"ride"|"stop", id}
    this.tip = L.tooltip({ direction: "top", offset: [0, -6], opacity: 0.95 });

    // Leaflet's hit test hands a click to the topmost vehicle; the page looks for every vehicle
    // under the pointer itself (also when Leaflet found none: a click on the map).
    this.vehiclesLayer.on("click", (e) => this.clickAt(e.containerPoint, e.layer?.vehicleId));
    this.map.on("click", (e) => this.clickAt(e.containerPoint, undefined));
    this.vehiclesLayer.on("mouseover", (e) => this.hover("vehicle", e.layer.vehicleId));
    this.ridesLayer.on("mouseover", (e) => this.hover("ride", e.layer.rideId));
    this.ridesLayer.on("click", (e) => {
      const vehicleId = this.rides.get(e.layer?.rideId)?.ride.vehicle_id;
      if (vehicleId) this.hooks.onSelect(vehicleId, true);
    });
    this.stopsLayer.on("mouseover", (e) => this.hover("stop", e.layer));
    for (const group of [this.vehiclesLayer, this.ridesLayer, this.stopsLayer]) {
      group.on("mouseout", () => this.unhover());
    }
  }

  // ---- base map ---------------------------------------------------------------------------

  /** Draw the base map of a ``hello``: streets, stops, zone; fit the bounds the first time. */
  setBaseMap(hello) {
    const m = hello.map ?? {};
    // a network without geographic coordinates (map.planar) is drawn about 0, 0: no tiles apply
    const tiles = (!m.planar && hello.tiles) || null;
    if (tiles !== (this.tileLayer?._url ?? null)) {
      if (this.tileLayer) this.tileLayer.remove();
      this.tileLayer = tiles ? L.tileLayer(tiles, { maxZoom: 19, crossOrigin: true }).addTo(this.map) : null;
    }
    const streets = m.streets ?? { offsets: [], lat: [], lon: [] };
    const signature = JSON.stringify([
      streets.offsets?.length ?? 0,
      streets.lat?.length ?? 0,
      m.bounds ?? null,
      (m.stops ?? []).length,
      (m.zone ?? []).length,
    ]);
    if (signature === this.mapSignature) return;
    this.mapSignature = signature;

    if (this.streets) this.streets.remove();
    const lines = [];
    const { offsets = [], lat = [], lon = [] } = streets;
    for (let i = 0; i + 1 < offsets.length; i++) {
      const a = offsets[i];
      const b = Math.min(offsets[i + 1], lat.length, lon.length);
      if (b - a < 2) continue;
      const line = new Array(b - a);
      for (let k = a; k < b; k++) line[k - a] = L.latLng(lat[k], lon[k]);
      lines.push(line);
    }
    this.streets = L.polyline(lines, { ...STREET_STYLE, renderer: this.renderers.streets }).addTo(this.map);

    if (this.zone) this.zone.remove();
    this.zone = null;
    if (Array.isArray(m.zone) && m.zone.length >= 3) {
      this.zone = L.polygon(m.zone, { ...ZONE_STYLE, renderer: this.renderers.zone }).addTo(this.map);
    }

    this.stopsLayer.clearLayers();
    for (const stop of m.stops ?? []) {
      if (!finite(stop.lat) || !finite(stop.lon)) continue;
      const marker = new SquareMarker([stop.lat, stop.lon], { ...STOP_STYLE, renderer: this.renderers.marks });
      marker.stopName = stop.name || stop.id || String(stop.stop);
      this.stopsLayer.addLayer(marker);
      marker.bringToBack();
    }

    // keep the service area clear of the zoom buttons (top left) and the legend (bottom)
    const fit = { paddingTopLeft: [52, 16], paddingBottomRight: [16, 40] };
    const bounds = m.bounds;
    if (Array.isArray(bounds) && bounds.length === 2) {
      this.map.fitBounds(bounds, fit);
    } else if (lines.length) {
      this.map.fitBounds(this.streets.getBounds(), fit);
    }
  }

  /** What the base map holds: streets (polylines) and their points, stops, zone vertices. */
  baseMapDrawn() {
    const lines = this.streets ? this.streets.getLatLngs() : [];
    let points = 0;
    for (const line of lines) points += line.length;
    return {
      streets: lines.length,
      points,
      stops: this.stopsLayer.getLayers().length,
      zone: this.zone ? this.zone.getLatLngs()[0].length : 0,
      tiles: this.tileLayer ? this.tileLayer._url : null,
    };
  }

  // ---- vehicles ---------------------------------------------------------------------------

  /**
   * Apply a ``vehicles`` message: rows in the order of ``fields`` (the hello's vehicle_fields).
   * Only what changed is touched; the canvas redraws once in the next frame.
   */
  applyVehicles(message, fields) {
    const at = {};
    fields.forEach((name, i) => {
      at[name] = i;
    });
    const items = Array.isArray(message.items) ? message.items : [];
    const seen = message.full ? new Set() : null;
    for (const row of items) {
      if (!Array.isArray(row)) continue;
      const id = row[at.id];
      if (id === undefined || id === null) continue;
      const key = String(id);
      seen?.add(key);
      this.updateVehicle(key, {
        lat: row[at.lat],
        lon: row[at.lon],
        state: row[at.state],
        on_board: row[at.on_board] ?? 0,
        seats: row[at.seats] ?? 0,
        next_lat: row[at.next_lat] ?? null,
        next_lon: row[at.next_lon] ?? null,
        next_arrival_s: row[at.next_arrival_s] ?? null,
      });
    }
    if (seen) {
      for (const key of [...this.vehicles.keys()]) if (!seen.has(key)) this.removeVehicle(key);
    }
    for (const id of Array.isArray(message.removed) ? message.removed : []) this.removeVehicle(String(id));
    if (this.hovered?.kind === "vehicle") this.refreshTip();
    this.scheduleStacks();
    return items.length;
  }

  updateVehicle(id, values) {
    let v = this.vehicles.get(id);
    const placed = finite(values.lat) && finite(values.lon);
    if (!v) {
      v = { id, marker: null, ...values };
      this.vehicles.set(id, v);
    } else {
      const moved = v.lat !== values.lat || v.lon !== values.lon;
      const restyled = v.state !== values.state;
      const resized = v.on_board !== values.on_board || v.seats !== values.seats || restyled;
      Object.assign(v, values);
      if (v.marker && placed) {
        if (moved) v.marker.setLatLng([v.lat, v.lon]);
        if (restyled) v.marker.setStyle({ fillColor: stateStyle(v.state).color });
        if (resized) v.marker.setRadius(vehicleRadius(v));
        if (id === this.selected && (moved || resized)) this.placeHalo();
        return;
      }
    }
    if (placed && !v.marker) {
      v.marker = L.circleMarker([v.lat, v.lon], {
        renderer: this.renderers.marks,
        radius: vehicleRadius(v),
        fillColor: stateStyle(v.state).color,
        fillOpacity: 0.95,
        color: "#ffffff",
        weight: 1,
        bubblingMouseEvents: false,
      });
      v.marker.vehicleId = id;
      this.vehiclesLayer.addLayer(v.marker);
      this.idsVersion++;
    } else if (!placed && v.marker) {
      this.vehiclesLayer.removeLayer(v.marker);
      v.marker = null;
      this.idsVersion++;
    }
    if (id === this.selected) this.placeHalo();
  }

  removeVehicle(id) {
    const v = this.vehicles.get(id);
    if (!v) return;
    if (v.marker) {
      this.vehiclesLayer.removeLayer(v.marker);
      this.idsVersion++;
    }
    this.vehicles.delete(id);
    if (id === this.selected) this.placeHalo();
    if (this.hovered?.kind === "vehicle" && this.hovered.id === id) this.unhover();
  }

  /** Ring the selected vehicle (null: none), above everything else on the map. */
  setSelected(id) {
    this.selected = id;
    this.placeHalo();
    if (id === null) this.clearManifest();
  }

  /** The selected vehicle's ring, where the vehicle is drawn (none when it is not drawn). */
  placeHalo() {
    const v = this.selected !== null ? this.vehicles.get(this.selected) : null;
    if (!v?.marker) {
      if (this.halo) this.halo.remove();
      this.halo = null;
      return;
    }
    const radius = vehicleRadius(v) + 4;
    if (!this.halo) {
      this.halo = L.circleMarker(v.marker.getLatLng(), {
        renderer: this.renderers.selection,
        interactive: false,
        fill: false,
        color: "#000000",
        weight: 3,
        radius,
      }).addTo(this.map);
    } else {
      this.halo.setLatLng(v.marker.getLatLng());
      if (this.halo.getRadius() !== radius) this.halo.setRadius(radius);
    }
  }

  /** Center the map on a vehicle if it is outside the view (``always``: in any case). */
  reveal(id, always = false) {
    const v = this.vehicles.get(id);
    if (v?.marker && (always || !this.map.getBounds().contains(v.marker.getLatLng()))) this.map.panTo(v.marker.getLatLng());
  }

  /** A click at ``point`` (container pixels): one vehicle under it is selected, several are
   *  handed to hooks.onChoose, none: hooks.onChoose with an empty list (close any chooser).
   *  ``hit`` is the vehicle Leaflet found (if any). */
  clickAt(point, hit) {
    const under = this.vehiclesAt(point);
    const box = this.map.getContainer().getBoundingClientRect();
    if (under.length > 1) this.hooks.onChoose(under, { x: box.left + point.x, y: box.top + point.y });
    else if (under.length === 1 || hit !== undefined) {
      this.hooks.onChoose([], null);
      this.hooks.onSelect(under.length === 1 ? under[0].id : hit);
    } else this.hooks.onChoose([], null);
  }

  /** The vehicles drawn under a point of the map's container (CSS pixels), topmost first: their
   *  dot (with its outline and the click tolerance) covers the point. */
  vehiclesAt(point) {
    const under = [];
    for (const v of this.vehicles.values()) {
      if (!v.marker) continue;
      const p = this.map.latLngToContainerPoint(v.marker.getLatLng());
      const reach = vehicleRadius(v) + 1 + CLICK_TOLERANCE_PX;
      const dx = p.x - point.x;
      const dy = p.y - point.y;
      if (dx * dx + dy * dy <= reach * reach) under.push(v);
    }
    // the canvas draws in the order the markers were added: the last one is on top
    under.reverse();
    return under.map((v) => ({ id: v.id, state: v.state, on_board: v.on_board ?? 0, seats: v.seats ?? 0 }));
  }

  // ---- stacks: several vehicles on one spot ------------------------------------------------

  scheduleStacks() {
    if (this.stacksFrame !== null) return;
    this.stacksFrame = requestAnimationFrame(() => {
      this.stacksFrame = null;
      this.updateStacks();
    });
  }

  /** Count the vehicles on each spot (positions equal to about a metre) and label the spots with
   *  two or more. One pass over the fleet; only the labels that changed are touched. */
  updateStacks() {
    const t0 = performance.now();
    const groups = new Map();
    for (const v of this.vehicles.values()) {
      if (!v.marker) continue;
      const key = `${v.lat.toFixed(STACK_DIGITS)},${v.lon.toFixed(STACK_DIGITS)}`;
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { count: 1, lat: v.lat, lon: v.lon });
    }
    for (const [key, marker] of this.stacks) {
      const g = groups.get(key);
      if (!g || g.count < 2) {
        this.stacksLayer.removeLayer(marker);
        this.stacks.delete(key);
      } else if (marker.options.count !== g.count) {
        marker.options.count = g.count;
        marker.redraw();
      }
    }
    for (const [key, g] of groups) {
      if (g.count < 2 || this.stacks.has(key)) continue;
      const marker = new CountMarker([g.lat, g.lon], {
        renderer: this.renderers.stacks,
        interactive: false,
        radius: 40,
        stroke: false,
        fill: false,
        count: g.count,
      });
      this.stacksLayer.addLayer(marker);
      this.stacks.set(key, marker);
    }
    this.lastStacksMs = performance.now() - t0;
  }

  /** The spots with two or more vehicles: [{lat, lon, count}]. */
  stacksDrawn() {
    return [...this.stacks.values()].map((m) => ({ lat: m.getLatLng().lat, lon: m.getLatLng().lng, count: m.options.count }));
  }

  vehiclesDrawn() {
    let n = 0;
    for (const v of this.vehicles.values()) if (v.marker && this.map.hasLayer(v.marker)) n++;
    return n;
  }

  /** Where a vehicle's marker is on the page (CSS pixels from the viewport's top left), or null. */
  vehiclePoint(id) {
    const v = this.vehicles.get(String(id));
    if (!v?.marker || !this.map.hasLayer(v.marker)) return null;
    const p = this.map.latLngToContainerPoint(v.marker.getLatLng());
    const box = this.map.getContainer().getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  }

  vehicleDrawn(id) {
    const v = this.vehicles.get(String(id));
    if (!v?.marker) return null;
    const p = v.marker.getLatLng();
    return { lat: p.lat, lon: p.lng, state: v.state, on_board: v.on_board, seats: v.seats };
  }

  // ---- open rides -------------------------------------------------------------------------

  /** Draw the pickups of the open rides not yet on board (``rides`` is a Map of ride_id -> ride). */
  setRides(rides) {
    let added = false;
    for (const [id, entry] of this.rides) {
      const ride = rides.get(id);
      if (!ride || !this.pickupShown(ride)) {
        this.ridesLayer.removeLayer(entry.marker);
        this.rides.delete(id);
      }
    }
    for (const [id, ride] of rides) {
      if (!this.pickupShown(ride)) continue;
      const [lat, lon] = ride.pickup;
      const matching = ride.status === "matching";
      const style = {
        fillColor: matching ? "#ffffff" : PICKUP_COLOR,
        color: matching ? PICKUP_COLOR : "#ffffff",
        weight: matching ? 2 : 1,
      };
      const entry = this.rides.get(id);
      if (entry) {
        const p = entry.marker.getLatLng();
        if (p.lat !== lat || p.lng !== lon) entry.marker.setLatLng([lat, lon]);
        if (entry.matching !== matching) entry.marker.setStyle(style);
        entry.matching = matching;
        entry.ride = ride;
      } else {
        const marker = new DiamondMarker([lat, lon], {
          renderer: this.renderers.marks,
          radius: 5,
          fillOpacity: 1,
          bubblingMouseEvents: false,
          ...style,
        });
        marker.rideId = id;
        this.ridesLayer.addLayer(marker);
        marker.bringToBack(); // under the vehicles: a vehicle waiting at its pickup stays clickable
        this.rides.set(id, { ride, marker, matching });
        added = true;
      }
    }
    // ... and over the stops: a pickup at a stop stays seen (the stops go back under, O(stops))
    if (added) for (const stop of this.stopsLayer.getLayers()) stop.bringToBack();
    if (this.hovered?.kind === "ride") this.refreshTip();
  }

  pickupShown(ride) {
    return ride.status !== "on_board" && Array.isArray(ride.pickup) && finite(ride.pickup[0]) && finite(ride.pickup[1]);
  }

  ridesDrawn() {
    return this.rides.size;
  }

  rideDrawn(id) {
    const entry = this.rides.get(String(id));
    if (!entry) return null;
    const p = entry.marker.getLatLng();
    return { lat: p.lat, lon: p.lng, status: entry.ride.status };
  }

  // ---- the selected vehicle's manifest ----------------------------------------------------

  /** Draw a ``manifest``: its path and its stops, numbered in order. */
  setManifest(manifest) {
    this.routeLayer.clearLayers();
    const path = (Array.isArray(manifest.path) ? manifest.path : []).filter(
      (p) => Array.isArray(p) && finite(p[0]) && finite(p[1]),
    );
    if (path.length >= 2) {
      this.routeLayer.addLayer(L.polyline(path, { ...ROUTE_STYLE, renderer: this.renderers.route }));
    }
    const stops = Array.isArray(manifest.stops) ? manifest.stops : [];
    stops.forEach((stop, i) => {
      if (!finite(stop.lat) || !finite(stop.lon)) return;
      const pickup = stop.kind === "pickup";
      this.routeLayer.addLayer(
        new NumberedMarker([stop.lat, stop.lon], {
          renderer: this.renderers.routeStops,
          interactive: false,
          radius: 8,
          weight: 2,
          color: pickup ? PICKUP_COLOR : "#1f2328",
          fillColor: pickup ? "#ffffff" : "#1f2328",
          fillOpacity: 1,
          textColor: pickup ? "#1f2328" : "#ffffff",
          label: i + 1,
        }),
      );
    });
  }

  clearManifest() {
    this.routeLayer.clearLayers();
  }

  // ---- hover tooltips (one, shared) -------------------------------------------------------

  hover(kind, id) {
    this.hovered = { kind, id };
    this.refreshTip();
  }

  unhover() {
    this.hovered = null;
    this.map.closeTooltip(this.tip);
  }

  refreshTip() {
    const h = this.hovered;
    if (!h) return;
    let latlng = null;
    let content = null;
    if (h.kind === "vehicle") {
      const v = this.vehicles.get(h.id);
      if (v?.marker) {
        latlng = v.marker.getLatLng();
        content = el("div", "tip");
        content.append(el("strong", null, v.id), el("div", null, stateStyle(v.state).label));
        content.append(el("div", null, `${v.on_board ?? 0}/${v.seats ?? 0} on board`));
        if (finite(v.next_arrival_s)) content.append(el("div", null, `next stop ${hm(v.next_arrival_s)}`));
      }
    } else if (h.kind === "ride") {
      const entry = this.rides.get(h.id);
      if (entry) {
        const r = entry.ride;
        latlng = entry.marker.getLatLng();
        content = el("div", "tip");
        content.append(el("strong", null, r.ride_id), el("div", null, `${words(r.status)} · ${r.passengers ?? 1} pax`));
        if (r.vehicle_id) content.append(el("div", null, `vehicle ${r.vehicle_id}`));
        if (finite(r.planned_pickup_s)) content.append(el("div", null, `pickup ${hm(r.planned_pickup_s)}`));
        if (Array.isArray(r.window)) content.append(el("div", null, `window ${hm(r.window[0])}–${hm(r.window[1])}`));
      }
    } else if (h.kind === "stop") {
      latlng = h.id.getLatLng();
      content = el("div", "tip", h.id.stopName);
    }
    if (!latlng || !content) {
      this.unhover();
      return;
    }
    this.tip.setLatLng(latlng).setContent(content);
    if (!this.map.hasLayer(this.tip)) this.map.openTooltip(this.tip);
  }

  resize() {
    this.map.invalidateSize();
  }
}
