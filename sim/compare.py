"""Two run folders side by side: the main KPIs of a day, their differences, comparison plots.

A run folder is what ``mobility simulate`` (or one run of a sweep) writes: ``summary.json`` with
the KPIs under ``kpis``, ``rides.csv`` and ``drives.csv``. An I-MOD/DRT day
(:func:`sim.report.write_report`) and a shared-taxi day (:func:`sim.taxi_kpi.write_taxi_report`)
name their KPIs differently; :data:`MAIN_KPIS` says where each main KPI sits in either, under one
name (``served_share`` is a DRT day's ``requests.service_rate`` and a taxi day's
``requests.served_share``), so that sweeps, replications and comparisons read the same numbers.

:func:`compare_runs` writes ``compare.md`` and ``compare.json`` (KPI | A | B | B - A | %) and,
with ``plots``, ``compare_wait.png`` (wait distributions from ``rides.csv``),
``compare_occupancy.png`` (riders on board over the day) and ``compare_kpis.png`` (bars).

Money (``fare_krw``, named so whatever the currency) is in the smallest unit of the run's
currency (:func:`run_currency`: ``meta.currency`` of ``summary.json``, else
``kpis.revenue.currency``, else KRW) and written in it (``1,800 KRW``, ``128.00 EUR``); two runs
in different currencies are not subtracted (``different currencies``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from matching.errors import InvalidValueError
from matching.fares import CURRENCY_DIGITS, DEFAULT_CURRENCY, format_money

from .kpi import integral_at
from .overrides import format_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "MAIN_KPIS",
    "KpiDef",
    "RunFolder",
    "axis_scale",
    "axis_unit",
    "compare_markdown",
    "compare_rows",
    "compare_runs",
    "extra_kpis",
    "format_compare",
    "format_kpi",
    "is_money",
    "main_kpis",
    "onboard_series",
    "read_run",
    "run_currency",
    "run_kind",
]

DRT = "drt"
TAXI = "taxi"


@dataclass(frozen=True)
class KpiDef:
    """A main KPI: its column ``name``, a ``label``, its ``unit`` (``"share"`` is a fraction shown
    in per cent, ``"count"`` a number of requests, ``"money"`` an amount in the smallest unit of
    the run's currency) and where it sits in ``summary.json``'s
    ``kpis`` of a DRT day (``drt``) and of a shared-taxi day (``taxi``); None where that kind of
    day has no such KPI."""

    name: str
    label: str
    unit: str
    drt: tuple[str, ...] | None
    taxi: tuple[str, ...] | None


#: The main KPIs of a day, in the order of tables and plots.
MAIN_KPIS: tuple[KpiDef, ...] = (
    KpiDef("requests", "Requests", "count", ("requests", "total"), ("requests", "total")),
    KpiDef("served_share", "Served share", "share", ("requests", "service_rate"), ("requests", "served_share")),
    KpiDef("rejected", "Rejected requests", "count", ("requests", "rejected"), ("requests", "rejected")),
    KpiDef("wait_mean_s", "Wait, mean", "s", ("wait_s", "mean"), ("wait_s", "mean")),
    KpiDef("wait_p90_s", "Wait, p90", "s", ("wait_s", "p90"), ("wait_s", "p90")),
    KpiDef("ride_mean_s", "In-vehicle time, mean", "s", ("ride_s", "mean"), None),
    KpiDef("delay_mean_s", "Delay, mean", "s", None, ("delay_s", "mean")),
    KpiDef("detour_mean", "Detour factor, mean", "x", ("detour_factor", "mean"), ("detour", "mean")),
    KpiDef("on_time_share", "Pickups in the promised window", "share", ("punctuality", "pickup_in_window_share"), None),
    KpiDef("vehicle_km", "Vehicle-km", "km", ("distance", "vehicle_km"), ("vehicle_km", "total")),
    KpiDef("empty_share", "Empty share of vehicle-km", "share", ("distance", "empty_share"), None),
    KpiDef("km_per_served_ride", "Vehicle-km per served ride", "km", None, ("vehicle_km", "per_served_ride")),
    KpiDef("occupancy", "Riders on board per vehicle-km", "", ("occupancy", "mean_on_board_driving"),
           ("mean_occupancy",)),
    KpiDef("pooled_share", "Pooled share of served rides", "share", None, ("pooled_share",)),
    KpiDef("riders_per_vehicle_hour", "Riders per vehicle-hour", "", ("fleet", "riders_per_vehicle_hour"), None),
    KpiDef("utilisation", "Fleet utilisation", "share", ("fleet", "utilisation"), None),
    KpiDef("fare_krw", "Fare revenue", "money", ("revenue", "fare_krw"), ("ledger", "fares_paid_krw")),
)  # fmt: skip
KPI_BY_NAME = {k.name: k for k in MAIN_KPIS}


def run_kind(summary: Mapping[str, Any]) -> str:
    """``"taxi"`` for a shared-taxi day's summary (its requests have ``served_share``), else ``"drt"``."""
    requests = summary.get("kpis", {}).get("requests", {})
    return TAXI if isinstance(requests, Mapping) and "served_share" in requests else DRT


def run_currency(summary: Mapping[str, Any]) -> str:
    """The currency of a day's money: ``meta.currency``, else ``kpis.revenue.currency``, else
    KRW (a shared-taxi day, or a summary written before currencies)."""
    for path in (("meta", "currency"), ("kpis", "revenue", "currency")):
        code = _lookup(summary, path)
        if isinstance(code, str) and code:
            return code
    return DEFAULT_CURRENCY


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _lookup(tree: Any, path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(tree, Mapping) or key not in tree:
            return None
        tree = tree[key]
    return tree


def main_kpis(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The main KPIs (:data:`MAIN_KPIS`) that a day of this kind has, by name (None: no value,
    e.g. no completed ride to take a wait from)."""
    kind = run_kind(summary)
    out: dict[str, float | None] = {}
    for k in MAIN_KPIS:
        path = k.taxi if kind == TAXI else k.drt
        if path is not None:
            out[k.name] = _number(_lookup(summary.get("kpis", {}), path))
    return out


def extra_kpis(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The numbers the day's components reported (``summary.json``'s ``extras``), flattened:
    ``extras.<key>.<name>`` (nested tables joined with dots; lists and text left out)."""
    out: dict[str, float | None] = {}

    def walk(prefix: str, tree: Any) -> None:
        if isinstance(tree, Mapping):
            for key, value in tree.items():
                walk(f"{prefix}.{key}", value)
        elif _number(tree) is not None:
            out[prefix] = tree

    walk("extras", summary.get("extras") or {})
    return out


# ---------------------------------------------------------------------------------- run folders
@dataclass(frozen=True)
class RunFolder:
    """A run folder as read back: its ``summary.json`` and what it says about the day."""

    path: Path
    summary: dict[str, Any]
    kind: str
    name: str
    seed: int | None

    @property
    def kpis(self) -> dict[str, float | None]:
        return {**main_kpis(self.summary), **extra_kpis(self.summary)}

    @property
    def currency(self) -> str:
        """The currency of the run's money (:func:`run_currency`)."""
        return run_currency(self.summary)

    @property
    def label(self) -> str:
        """``name (seed N; key=value, ...)``: the scenario, the seed and the settings changed."""
        overrides = (self.summary.get("meta") or {}).get("overrides") or {}
        parts = [f"seed {self.seed}"] if self.seed is not None else []
        parts += [f"{key}={format_value(value)}" for key, value in overrides.items()]
        return f"{self.name} ({'; '.join(parts)})" if parts else self.name

    def wait_s(self) -> NDArray[np.float64]:
        """The waits (s) of the completed rides, from ``rides.csv`` (empty if there is none)."""
        rows = _read_csv(self.path / "rides.csv")
        if self.kind == TAXI:
            done = [r for r in rows if r.get("status") == "completed"]
            return np.array([float(r["pickup_s"]) - float(r["request_time_s"]) for r in done], np.float64)
        return np.array([float(r["wait_s"]) for r in rows if r.get("outcome") == "completed"], np.float64)

    def onboard(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Riders on board over the day, fleet total: ``(bin start s, mean on board)``; a DRT
        day's own series (``kpis.occupancy.series``, stops included), else recounted from
        ``drives.csv`` (:func:`onboard_series`, 15-minute bins)."""
        series = _lookup(self.summary, ("kpis", "occupancy", "series"))
        if isinstance(series, Mapping) and series.get("start_s"):
            return np.asarray(series["start_s"], np.float64), np.asarray(series["on_board"], np.float64)
        rows = _read_csv(self.path / "drives.csv")
        cols = {c: np.array([float(r[c]) for r in rows], np.float64) for c in ("depart_s", "arrive_s", "onboard")}
        start = int(self.summary.get("start_s", 0))
        end = int(self.summary.get("end_s", start + 1))
        return onboard_series(cols["depart_s"], cols["arrive_s"], cols["onboard"], start_s=start, end_s=end)


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_run(folder: str | Path, *, field: str = "run") -> RunFolder:
    """The run folder ``folder``; :class:`InvalidValueError` naming ``field`` when it is not one
    (missing, not a folder, no readable ``summary.json`` with ``kpis``)."""
    path = Path(folder)
    allowed = "a folder written by mobility simulate or mobility sweep (with summary.json)"
    if not path.is_dir():
        raise InvalidValueError(field, f"{path} is not a folder", allowed)
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidValueError(field, f"{path} is not a run folder: no summary.json", allowed) from exc
    except (OSError, ValueError) as exc:
        raise InvalidValueError(field, f"{path}/summary.json cannot be read ({exc})", allowed) from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("kpis"), dict):
        raise InvalidValueError(field, f"{path}/summary.json has no KPIs", allowed)
    kind = run_kind(summary)
    name = str(summary.get("scenario") if kind == DRT else summary.get("name") or path.name)
    seed = summary.get("seed") if kind == DRT else (summary.get("meta") or {}).get("seed")
    return RunFolder(path, summary, kind, name, seed if isinstance(seed, int) else None)


def onboard_series(
    depart_s: NDArray[np.float64],
    arrive_s: NDArray[np.float64],
    onboard: NDArray[np.float64],
    *,
    start_s: int,
    end_s: int,
    bin_s: int = 900,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Time-averaged sum of ``onboard`` over the intervals ``[depart_s, arrive_s)`` in bins of
    ``bin_s`` from ``start_s`` to past ``end_s`` and the last arrival: ``(bin starts, means)``.

    The mean of a bin is the difference at its edges of the running integral
    (:func:`sim.kpi.integral_at`) over ``bin_s``.
    """
    last = max([end_s, start_s + 1, *([float(arrive_s.max())] if arrive_s.size else [])])
    edges = start_s + bin_s * np.arange(math.ceil((last - start_s) / bin_s) + 1, dtype=np.float64)
    return edges[:-1], np.diff(integral_at(edges, depart_s, arrive_s, onboard)) / bin_s


# ---------------------------------------------------------------------------------- tables
def _unit(name: str) -> str:
    k = KPI_BY_NAME.get(name)
    return k.unit if k else ""


def is_money(name: str) -> bool:
    """Whether the KPI ``name`` is an amount of money (in the run's currency)."""
    return _unit(name) == "money"


def axis_unit(name: str, currency: str = DEFAULT_CURRENCY) -> str:
    """The unit of a KPI on a plot's axis: ``%`` for shares, the currency for money, none for
    counts and factors."""
    unit = _unit(name)
    return {"share": "%", "count": "", "money": currency}.get(unit, unit)


def axis_scale(name: str, currency: str = DEFAULT_CURRENCY) -> float:
    """What a KPI's value is multiplied by on a plot's axis (:func:`axis_unit`): 100 for a share,
    1 / 100 for cents to euros (the currency's smallest unit to whole units), else 1."""
    unit = _unit(name)
    if unit == "share":
        return 100.0
    if unit == "money":
        return 10.0 ** -CURRENCY_DIGITS.get(currency, 2)
    return 1.0


def format_kpi(name: str, value: float | None, *, diff: bool = False, currency: str = DEFAULT_CURRENCY) -> str:
    """A KPI value for a table: shares in per cent (a difference of shares in percentage points),
    seconds and km with one decimal, money in ``currency`` (``1,800 KRW``, ``2.50 EUR``: the
    amount is in its smallest unit), whole numbers whole, a mean count with one decimal, other
    numbers with three."""
    if value is None:
        return "–"
    unit = _unit(name)
    sign = "+" if diff and value > 0 else ""
    if unit == "share":
        return f"{sign}{100 * value:.1f} {'pp' if diff else '%'}"
    if unit in ("s", "km"):
        return f"{sign}{value:,.1f} {unit}"
    if unit == "money":
        return sign + format_money(value, currency)
    if float(value).is_integer():
        return f"{sign}{value:,.0f}"
    if unit == "count":  # a mean over seeds
        return f"{sign}{value:,.1f}"
    return f"{sign}{value:,.3f}"


def compare_rows(
    a: Mapping[str, float | None],
    b: Mapping[str, float | None],
    *,
    currency_a: str = DEFAULT_CURRENCY,
    currency_b: str = DEFAULT_CURRENCY,
) -> list[dict[str, Any]]:
    """One row per KPI either side has a value for (main KPIs first, in :data:`MAIN_KPIS` order):
    ``name``, ``label``, ``a``, ``b``, ``diff`` = b - a and ``pct`` = 100 (b - a) / |a| (None when
    a side has no value, or a is 0). A money row has ``currency_a`` and ``currency_b`` too; when
    they differ, ``diff`` and ``pct`` are None and ``note`` says ``different currencies``."""
    names = [k.name for k in MAIN_KPIS if k.name in a or k.name in b]
    names += [n for n in dict.fromkeys([*a, *b]) if n not in KPI_BY_NAME]
    rows = []
    for name in names:
        va, vb = a.get(name), b.get(name)
        if va is None and vb is None:
            continue
        d = None if va is None or vb is None else vb - va
        pct = None if d is None or va == 0 or va is None else 100 * d / abs(va)
        label = KPI_BY_NAME[name].label if name in KPI_BY_NAME else name
        row: dict[str, Any] = {"name": name, "label": label, "a": va, "b": vb, "diff": d, "pct": pct}
        if is_money(name):
            row.update(currency_a=currency_a, currency_b=currency_b)
            if currency_a != currency_b:
                row.update(diff=None, pct=None, note="different currencies")
        rows.append(row)
    return rows


def _cells(row: Mapping[str, Any]) -> list[str]:
    pct = "–" if row["pct"] is None else f"{row['pct']:+.1f} %"
    name = row["name"]
    ca, cb = row.get("currency_a", DEFAULT_CURRENCY), row.get("currency_b", DEFAULT_CURRENCY)
    note = row.get("note")
    return [
        row["label"],
        format_kpi(name, row["a"], currency=ca),
        format_kpi(name, row["b"], currency=cb),
        note if note else format_kpi(name, row["diff"], diff=True, currency=ca),
        pct,
    ]


def format_compare(rows: Sequence[Mapping[str, Any]], a: RunFolder, b: RunFolder) -> str:
    """The rows of :func:`compare_rows` as an aligned text table for a terminal."""
    header = ["KPI", "A", "B", "B - A", "%"]
    body = [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [f"A: {a.path}  {a.label}", f"B: {b.path}  {b.label}", ""]
    for line in [header, *body]:
        cells = zip(line, widths, strict=True)
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells)))
    return "\n".join(lines)


def compare_markdown(rows: Sequence[Mapping[str, Any]], a: RunFolder, b: RunFolder) -> str:
    """The rows of :func:`compare_rows` as a Markdown table under a line naming the two runs."""
    lines = [
        "# Two runs compared",
        "",
        f"- A: `{a.path}` — {a.label}",
        f"- B: `{b.path}` — {b.label}",
        "",
        "Shares in per cent, their differences in percentage points (pp); % = (B - A) / |A|.",
        "",
        "| KPI | A | B | B - A | % |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- plots
def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


COLOURS = ("#4c72b0", "#dd8452")


def plot_wait_comparison(a: RunFolder, b: RunFolder) -> Figure:
    """Wait times (min) of completed rides: histograms on the same bins, and their ECDFs."""
    fig = _figure(10.0, 4.0)
    hist_ax, cdf_ax = fig.subplots(1, 2)
    waits = [(run, run.wait_s() / 60) for run in (a, b)]
    top = max([float(w.max()) for _, w in waits if w.size] or [1.0])
    count = max([w.size for _, w in waits] or [1])
    bins = np.linspace(0.0, max(top, 1e-9), int(min(40, max(5, math.sqrt(count)))) + 1)
    for (run, w), colour, tag in zip(waits, COLOURS, "AB", strict=True):
        label = f"{tag}: {run.label}"
        if not w.size:
            label += " (no completed rides)"
        hist_ax.hist(w, bins=bins, histtype="step", linewidth=2, color=colour, label=label)
        xs = np.sort(w)
        cdf_ax.step(xs, np.arange(1, xs.size + 1) / max(xs.size, 1), where="post", color=colour, linewidth=2)
        if w.size:
            cdf_ax.axvline(float(np.percentile(w, 90)), color=colour, linestyle=":", linewidth=1)
    hist_ax.set_xlabel("wait (min)")
    hist_ax.set_ylabel("completed rides")
    fig.legend(loc="outside lower center", fontsize="small")
    cdf_ax.set_xlabel("wait (min); dotted: p90")
    cdf_ax.set_ylabel("share of completed rides waiting at most")
    cdf_ax.set_ylim(0, 1.02)
    fig.suptitle("Wait times")
    return fig


def _clock(seconds: float, _pos: int | None = None) -> str:
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


def plot_occupancy_comparison(a: RunFolder, b: RunFolder) -> Figure:
    """Riders on board over the day (fleet total, bin means), both runs, clock times on the axis."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    fig = _figure(9.0, 4.0)
    ax = fig.add_subplot()
    for run, colour, tag in zip((a, b), COLOURS, "AB", strict=True):
        start, values = run.onboard()
        if start.size:
            step = float(start[1] - start[0]) if start.size > 1 else 900.0
            ax.stairs(
                values, np.append(start, start[-1] + step), color=colour, linewidth=2, label=f"{tag}: {run.label}"
            )
    span = ax.get_xlim()[1] - ax.get_xlim()[0]
    step = next((s for s in (900, 1800, 3600, 7200, 10800) if span / s <= 12), 21600)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(_clock))
    ax.set_xlabel("time of day")
    ax.set_ylabel("riders on board, fleet total")
    ax.set_ylim(bottom=0)
    fig.legend(loc="outside lower center", fontsize="small")
    ax.set_title("Occupancy over the day")
    return fig


def plot_kpi_bars(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """One small panel per main KPI both runs have: a bar for A, a bar for B, the % change."""
    both = [
        r for r in rows if r["name"] in KPI_BY_NAME and r["a"] is not None and r["b"] is not None and not r.get("note")
    ]  # no bars for amounts in different currencies
    cols = 4
    nrows = max(1, math.ceil(len(both) / cols))
    fig = _figure(2.8 * cols, 2.4 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, cols)).ravel()
    for ax, row in zip(axes, both, strict=False):
        currency = row.get("currency_a", DEFAULT_CURRENCY)
        scale = axis_scale(row["name"], currency)
        ax.bar(["A", "B"], [scale * row["a"], scale * row["b"]], color=COLOURS)
        unit = axis_unit(row["name"], currency)
        pct = "\nB - A: " + format_kpi(row["name"], row["diff"], diff=True, currency=currency)
        pct += "" if row["pct"] is None else f" ({row['pct']:+.1f} %)"
        ax.set_title(f"{row['label']}{pct}", fontsize="small")
        ax.set_ylabel(unit, fontsize="small")
        ax.tick_params(labelsize="small")
    for ax in axes[len(both) :]:
        ax.set_visible(False)
    fig.suptitle("Main KPIs: A and B")
    return fig


def compare_runs(
    folder_a: str | Path, folder_b: str | Path, out: str | Path, *, plots: bool = True
) -> tuple[list[dict[str, Any]], RunFolder, RunFolder, dict[str, Path]]:
    """Read two run folders, write the comparison into ``out``; return the rows of
    :func:`compare_rows`, the two runs and the files written by name."""
    a = read_run(folder_a, field="RUN_A")
    b = read_run(folder_b, field="RUN_B")
    rows = compare_rows(a.kpis, b.kpis, currency_a=a.currency, currency_b=b.currency)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"markdown": out / "compare.md", "json": out / "compare.json"}
    files["markdown"].write_text(compare_markdown(rows, a, b), encoding="utf-8")
    doc = {"a": {"path": str(a.path), "name": a.name, "seed": a.seed, "kind": a.kind, "currency": a.currency},
           "b": {"path": str(b.path), "name": b.name, "seed": b.seed, "kind": b.kind, "currency": b.currency},
           "kpis": rows}  # fmt: skip
    files["json"].write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if plots:
        for name, fig in (
            ("compare_wait", plot_wait_comparison(a, b)),
            ("compare_occupancy", plot_occupancy_comparison(a, b)),
            ("compare_kpis", plot_kpi_bars(rows)),
        ):
            files[name] = out / f"{name}.png"
            fig.savefig(files[name], format="png")
    return rows, a, b, files
