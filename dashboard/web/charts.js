// The small KPI charts of the dashboard page (uPlot), over the service clock. Series are bounded:
// past MAX_POINTS points the older half is thinned to every other point, so a whole day stays
// drawn in constant memory. A line breaks where two points are further apart than GAP_FACTOR
// times the median spacing (hours without data, after the clock jumped, are not drawn as data).

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { hm } from "./format.js";

export const MAX_POINTS = 1500;
/** The time axis spans at least this long (seconds). */
const MIN_SPAN_S = 600;
/** Consecutive points further apart than this many times the median spacing: the line breaks. */
export const GAP_FACTOR = 10;
/** The newest points never thinned. */
const KEEP_RECENT = 300;

const STEPS_S = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];

function num(x) {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

/** The charts: what each draws from a KPI ``values`` object. */
const CHARTS = [
  {
    id: "chart-rides",
    series: [
      { label: "served", stroke: "#54a24b", value: (v) => num(v.served) },
      { label: "rejected", stroke: "#e45756", value: (v) => num(v.rejected) },
    ],
    unit: "",
  },
  {
    id: "chart-wait",
    series: [
      { label: "wait p50 (min)", stroke: "#4c78a8", value: (v) => (num(v.wait_p50_s) === null ? null : v.wait_p50_s / 60) },
      { label: "p90", stroke: "#f58518", value: (v) => (num(v.wait_p90_s) === null ? null : v.wait_p90_s / 60) },
    ],
    unit: "min",
  },
  {
    id: "chart-fleet",
    series: [
      {
        label: "occupancy %",
        stroke: "#b279a2",
        value: (v) => (num(v.occupancy) === null ? null : v.occupancy * 100),
      },
      { label: "busy vehicles", stroke: "#72b7b2", value: (v) => num(v.vehicles_busy), scale: "vehicles" },
    ],
    unit: "%",
  },
];

/** Nice steps for a y axis: 1, 2, 2.5, 4, 5 x 10^k, from 0.01 up. */
const Y_STEPS = [];
for (let e = -2; e <= 9; e++) for (const m of [1, 2, 2.5, 4, 5]) Y_STEPS.push(+(m * 10 ** e).toPrecision(3));

/** A y range from 0 to the smallest step of a two- or three-tick axis at or above the largest
 *  value: the top of the scale is always a labelled tick (787 -> 0..800, ticks at 0, 400 and 800). */
function fromZero(u, min, max) {
  const top = Math.max(1, max ?? 1);
  for (const step of Y_STEPS) {
    if (step * 2 >= top) return [0, step * 2];
  }
  return [0, top];
}

/** The y axis's ticks: 0, the middle and the top of a fromZero range (or 0 and the top if the
 *  middle is not a round number). */
function ySplits(u, axisIdx, min, max) {
  const mid = max / 2;
  return Number.isInteger(mid) || max < 10 ? [0, mid, max] : [0, max];
}

/** An axis label: 950, 1.2k, 15k, 2.5M. */
function compact(value) {
  const a = Math.abs(value);
  if (a >= 1e6) return `${+(value / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${+(value / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  return String(+value.toFixed(2));
}

function compactValues(u, splits) {
  return splits.map(compact);
}

function axisFont() {
  return "10px system-ui, sans-serif";
}

export class Charts {
  constructor(root) {
    this.root = root;
    this.xs = [];
    this.ys = CHARTS.map((c) => c.series.map(() => []));
    this.plots = CHARTS.map((chart) => this.makePlot(chart));
  }

  size() {
    const style = getComputedStyle(this.root);
    const padding = (parseFloat(style.paddingLeft) || 0) + (parseFloat(style.paddingRight) || 0);
    const width = Math.max(200, Math.floor(this.root.clientWidth - padding));
    const height = Math.max(56, Math.floor(this.root.clientHeight / CHARTS.length) - 18);
    return { width, height };
  }

  makePlot(chart) {
    const target = this.root.querySelector(`#${chart.id}`);
    const { width, height } = this.size();
    const twoScales = chart.series.some((s) => s.scale);
    const axes = [
      {
        font: axisFont(),
        size: 18,
        space: 50,
        gap: 2,
        incrs: STEPS_S,
        // no label closer than 16 px to the right end when a right axis is there (they would touch)
        values: (u, splits) =>
          splits.map((s) => (twoScales && u.valToPos(s, "x") > u.bbox.width / devicePixelRatio - 16 ? "" : hm(s))),
        grid: { stroke: "#eceff3", width: 1 },
        ticks: { size: 3 },
      },
      {
        font: axisFont(),
        size: 36,
        gap: 2,
        splits: ySplits,
        values: compactValues,
        grid: { stroke: "#eceff3", width: 1 },
        ticks: { size: 3 },
      },
    ];
    if (twoScales) {
      axes.push({
        scale: "vehicles",
        side: 1,
        font: axisFont(),
        size: 36,
        gap: 2,
        splits: ySplits,
        values: compactValues,
        grid: { show: false },
        ticks: { size: 3 },
      });
    }
    const options = {
      width,
      height,
      pxAlign: 0,
      // room on the right for the last time label (the right axis gives it when there is one)
      padding: [8, twoScales ? 0 : 18, 0, 0],
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      scales: { x: { time: false }, y: { range: fromZero } },
      axes,
      series: [
        { label: "time", value: (u, v) => (v === null ? "–" : hm(v)) },
        ...chart.series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          width: 1.5,
          scale: s.scale ?? "y",
          spanGaps: false,
          points: { show: false },
        })),
      ],
    };
    if (twoScales) options.scales.vehicles = { range: fromZero };
    return new uPlot(options, [[], ...chart.series.map(() => [])], target);
  }

  /** Replace the series with a ``kpi_history``. */
  reset(items) {
    this.xs = [];
    this.ys = CHARTS.map((c) => c.series.map(() => []));
    for (const item of Array.isArray(items) ? items : []) this.push(item?.time_s, item?.values, false);
    this.redraw();
  }

  /** Add one ``kpis``; a time before the last point (a replay seek) drops the later points first. */
  add(time_s, values) {
    this.push(time_s, values, true);
    this.redraw();
  }

  push(time_s, values, truncate) {
    if (num(time_s) === null || !values || typeof values !== "object") return;
    const xs = this.xs;
    if (xs.length && time_s <= xs[xs.length - 1]) {
      if (!truncate && time_s < xs[xs.length - 1]) return; // history out of order: skip
      let keep = xs.length;
      while (keep > 0 && xs[keep - 1] >= time_s) keep--;
      xs.length = keep;
      for (const lines of this.ys) for (const line of lines) line.length = keep;
    }
    xs.push(time_s);
    CHARTS.forEach((chart, c) => {
      chart.series.forEach((s, k) => this.ys[c][k].push(s.value(values)));
    });
    if (xs.length > MAX_POINTS) this.thin();
  }

  /** Keep every other point of all but the newest KEEP_RECENT points. */
  thin() {
    const n = this.xs.length;
    const cut = n - KEEP_RECENT;
    const keep = [];
    for (let i = 0; i < cut; i += 2) keep.push(i);
    for (let i = cut; i < n; i++) keep.push(i);
    const pick = (arr) => keep.map((i) => arr[i]);
    this.xs = pick(this.xs);
    this.ys = this.ys.map((lines) => lines.map(pick));
  }

  /** Where the lines break: the indices i such that xs[i] - xs[i - 1] exceeds GAP_FACTOR times
   *  the median spacing. */
  gaps() {
    const xs = this.xs;
    if (xs.length < 3) return [];
    const steps = [];
    for (let i = 1; i < xs.length; i++) steps.push(xs[i] - xs[i - 1]);
    steps.sort((a, b) => a - b);
    const limit = GAP_FACTOR * steps[steps.length >> 1];
    const at = [];
    for (let i = 1; i < xs.length; i++) if (xs[i] - xs[i - 1] > limit) at.push(i);
    return at;
  }

  /** The data of chart ``c`` as drawn: a null point (all series) in the middle of each gap. */
  drawnData(c, gaps) {
    if (!gaps.length) return [this.xs, ...this.ys[c]];
    const out = [[], ...this.ys[c].map(() => [])];
    let from = 0;
    for (const i of [...gaps, this.xs.length]) {
      for (let k = from; k < i; k++) {
        out[0].push(this.xs[k]);
        for (let s = 1; s < out.length; s++) out[s].push(this.ys[c][s - 1][k]);
      }
      if (i < this.xs.length) {
        out[0].push((this.xs[i - 1] + this.xs[i]) / 2);
        for (let s = 1; s < out.length; s++) out[s].push(null);
      }
      from = i;
    }
    return out;
  }

  /** Draw the series; the time axis spans the points' times, at least MIN_SPAN_S (uPlot alone
   *  would stretch a single time over a whole day). */
  redraw() {
    const n = this.xs.length;
    const gaps = this.gaps();
    this.plots.forEach((plot, c) => {
      plot.setData(this.drawnData(c, gaps));
      if (n > 0) {
        const max = this.xs[n - 1];
        plot.setScale("x", { min: Math.min(this.xs[0], max - MIN_SPAN_S), max });
      }
    });
  }

  resize() {
    const size = this.size();
    for (const plot of this.plots) plot.setSize(size);
  }

  points() {
    return this.xs.length;
  }
}
