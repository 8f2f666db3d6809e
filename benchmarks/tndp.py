"""Bus network design on the CEC-2013 benchmark (``mobility bench tndp``).

The instances of Mumford (2013) in ``tndp/`` of the data folder, with the benchmark's rules
(:data:`planning.CEC_INSTANCES`): Mandl (15 nodes, 6 routes of 2-8 stops), Mumford0 (30 nodes, 12
routes of 2-15), Mumford1 (70 nodes, 15 routes of 10-30), Mumford3 (127 nodes, 60 routes of
12-25); 5 minutes per transfer; ATT counts all served demand.

* **Passenger side** (the benchmark): :func:`planning.search.design` in passenger mode, a fixed
  time budget per run on one core (:data:`BUDGETS_S`: Mandl 60 s, Mumford0 120 s, Mumford1 300 s,
  Mumford3 600 s), seeds 1, 2, 3. Runs go ``workers`` at a time, each in a process of its own
  (spawned, one Numba thread), so a run has one core when ``workers`` is at most the number of
  free cores. Per instance: ATT best and mean over the seeds, and of the best seed's route set
  d0, d1, d2, dun and TRT, evaluations and evaluations per second, beside the best published
  passenger-side ATT (:data:`PUBLISHED_ATT`) and the lower bound of the benchmark notes. Every
  reported route set is re-scored by a fresh :class:`planning.Evaluator` and judged by the
  independent check :func:`planning.check_route_set` (the ``problems`` column).
* **Target**: ATT at or below the best published on at least 3 of the 4 instances (the best of
  the seeds, rounded to 2 decimals as the papers report it, against the lowest published value:
  Mumford3's is Holliday & Dudek's 27.96). An instance is judged only at its full budget, the
  target only when all four were.
* **Operator side**: one Pareto-mode run (NSGA-II over ATT and TRT) per instance at the same
  budget, seed 1; the hypervolume of its front beside the hypervolumes of the published fronts
  in ``tndp/literature`` (:data:`LITERATURE_FRONTS`). Both objectives are normalised per instance
  over the published points only (ATT from the instance's lower bound, TRT from the least
  published TRT, to the largest published value of each: 0 .. 1), so the scale does not move
  with our results; the reference point is (1.1, 1.1) in those units; pymoo's ``HV``. A PNG per
  instance of our front against the published ones (``tndp_front_<instance>.png``).
* **Evaluator speed**: :meth:`planning.Evaluator.att` calls per second on the best route set
  found for each instance run (Mandl and Mumford3 in a full run), compile time apart.
* **Re-scoring** of the published Mandl route sets (``benchmarks/tndp_rescore.py``), a table of
  its own (``tndp_rescore.md``; ``--update-readme`` puts it into docs/planning.md).

``quick=True`` is a smoke test: Mandl only (unless ``instances`` say otherwise), seed 1, a few
seconds per run, no verdict.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import InvalidArgumentError

from .common import machine_info, update_readme

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "planning.md"

INSTANCES = ("Mandl", "Mumford0", "Mumford1", "Mumford3")
#: Time budget (s) of one run, passenger or Pareto mode, on one core.
BUDGETS_S = {"Mandl": 60.0, "Mumford0": 120.0, "Mumford1": 300.0, "Mumford3": 600.0}
SEEDS = (1, 2, 3)
#: The quick run: instances, seconds per run, seeds.
QUICK_INSTANCES = ("Mandl",)
QUICK_BUDGET_S = 3.0
QUICK_SEEDS = (1,)
#: Instances (of 4) on which the best ATT must be at or below the best published one.
TARGET_INSTANCES = 3
#: Seconds the evaluator is timed per instance (quick: a fifth).
SPEED_S = 2.0

#: The best published passenger-side ATT (minutes) per instance and who published it.
PUBLISHED_ATT: dict[str, tuple[tuple[str, float], ...]] = {
    "Mandl": (("Ahmed et al. (2019)", 10.18),),
    "Mumford0": (("Ahmed et al. (2019)", 14.09),),
    "Mumford1": (("Ahmed et al. (2019)", 21.69),),
    "Mumford3": (("Ahmed et al. (2019)", 28.05), ("Holliday & Dudek (2024)", 27.96)),
}

#: The published fronts per instance: name -> files in ``tndp/literature`` (with the ``Approach``
#: to keep, or None for every row). The "best published" front gathers each paper's best
#: passenger-side and operator-side results.
LITERATURE_FRONTS: dict[str, dict[str, tuple[tuple[str, str | None], ...]]] = {
    "Mandl": {
        "best published (6 routes)": (("Mandl6_best_passenger.csv", None), ("Mandl6_best_operator.csv", None)),
        "John (2016)": (("John_results_on_Mandl_2016_Results_data_headers.csv", None),),
        "Mumford (2013)": (("Mumford_results_on_Mandl_2013_MumfordResultsParetoFront_headers.csv", None),),
    },
    "Mumford0": {
        "best published": (("Mumford0_best_passenger.csv", None), ("Mumford0_best_operator.csv", None)),
    },
    "Mumford1": {
        "best published": (("Mumford1_best_passenger.csv", None), ("Mumford1_best_operator.csv", None)),
    },
    "Mumford3": {
        "best published": (("Mumford3_best_passenger.csv", None), ("Mumford3_best_operator.csv", None)),
        "John (2016)": (("Mumford3_John2016_pareto_plus_literature.csv", "John (2016)"),),
    },
}

#: The hypervolume's reference point in normalised units (see the module docstring).
HV_REFERENCE = (1.1, 1.1)


# ---------------------------------------------------------------------------- arguments
def plan(
    *,
    instances: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    budgets: Mapping[str, float] | None = None,
    quick: bool = False,
    pareto: bool = True,
) -> tuple[tuple[str, ...], tuple[int, ...], dict[str, float], list[tuple[str, str, int]]]:
    """The instances, seeds and budgets of a run (checked) and its runs ``(instance, mode, seed)``."""
    names = tuple(instances) if instances else (QUICK_INSTANCES if quick else INSTANCES)
    for name in names:
        if name not in INSTANCES:
            raise InvalidArgumentError("instances", f"got {name!r}", ", ".join(INSTANCES))
    chosen_seeds = tuple(seeds) if seeds else (QUICK_SEEDS if quick else SEEDS)
    for s in chosen_seeds:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0:
            raise InvalidArgumentError("seeds", f"got {s!r}", "whole numbers >= 0")
    chosen = {name: (QUICK_BUDGET_S if quick else BUDGETS_S[name]) for name in names}
    for name, seconds in (budgets or {}).items():
        if name not in INSTANCES:
            raise InvalidArgumentError("budget", f"unknown instance {name!r}", ", ".join(INSTANCES))
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
            raise InvalidArgumentError("budget", f"{name}={seconds!r}", "a finite number of seconds > 0")
        if name in chosen:
            chosen[name] = float(seconds)
    runs = [(name, "passenger", s) for name in names for s in chosen_seeds]
    if pareto:
        runs += [(name, "pareto", chosen_seeds[0]) for name in names]
    return names, chosen_seeds, chosen, runs


def steps(
    *,
    data_dir: Path | None = None,
    instances: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    budgets: Mapping[str, float] | None = None,
    quick: bool = False,
    workers: int = 1,
    pareto: bool = True,
) -> int:
    """Progress steps of a run: one per design run, then the evaluator's speed and the re-scoring."""
    return len(plan(instances=instances, seeds=seeds, budgets=budgets, quick=quick, pareto=pareto)[3]) + 2


# ---------------------------------------------------------------------------- one run
def run_one(folder: str, mode: str, seed: int, time_limit_s: float) -> dict[str, Any]:
    """One design run on the instance in ``folder`` (in a worker process): the best route set
    re-scored by a fresh evaluator and judged by the independent check; the front in pareto mode."""
    from planning import Evaluator, check_route_set, read_cec
    from planning.evaluate import warm_up
    from planning.routeset import route_set_ids
    from planning.search import DesignParams, design

    compile_s = warm_up()
    problem = read_cec(folder)
    # the pareto runs start from the set cover as well (its low-cost sets anchor the operator end)
    params = DesignParams(mode=mode, time_limit_s=time_limit_s, seed=seed, set_cover=mode == "pareto")
    result = design(problem, params)
    ev = Evaluator(problem).evaluate(result.routes)
    problems = check_route_set(problem, result.routes)
    front: list[dict[str, Any]] = []
    if mode == "pareto":
        for routes, e in result.front:
            front.append({"att_min": e.att_min, "trt_min": e.trt_min, "problems": check_route_set(problem, routes)})
    elapsed = result.elapsed_s
    return {
        "instance": problem.name,
        "mode": mode,
        "seed": seed,
        "budget_s": time_limit_s,
        "att_min": ev.att_min,
        "att_search_min": result.evaluation.att_min,
        "d0": ev.d0,
        "d1": ev.d1,
        "d2": ev.d2,
        "dun": ev.dun,
        "trt_min": ev.trt_min,
        "evaluations": result.evaluations,
        "elapsed_s": round(elapsed, 3),
        "evaluations_per_s": round(result.evaluations / elapsed, 1) if elapsed > 0 else None,
        "compile_s": round(compile_s, 3),
        "problems": problems + [f"front: {p}" for f in front for p in f["problems"]],
        "routes": route_set_ids(problem, result.routes),
        "front": [[f["att_min"], f["trt_min"]] for f in front],
    }


def _run_all(
    tasks: Sequence[tuple[str, str, int, float]], workers: int, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Every task, ``workers`` at a time in spawned processes of one Numba thread each (in this
    process when ``workers`` is 1); in the order of ``tasks``."""
    out: list[dict[str, Any] | None] = [None] * len(tasks)
    if workers <= 1:
        for k, (folder, mode, seed, limit) in enumerate(tasks):
            out[k] = run_one(folder, mode, seed, limit)
            say(f"{Path(folder).name} {mode} seed {seed} done")
        return [r for r in out if r is not None]
    saved = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = "1"  # inherited by the spawned workers
    try:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(run_one, *task): k for k, task in enumerate(tasks)}
            for future in as_completed(futures):
                k = futures[future]
                out[k] = future.result()
                folder, mode, seed, _ = tasks[k]
                say(f"{Path(folder).name} {mode} seed {seed} done")
    finally:
        if saved is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = saved
    return [r for r in out if r is not None]


# ---------------------------------------------------------------------------- the literature
def read_front(path: Path, approach: str | None = None) -> list[tuple[float, float]]:
    """``(ATT, TRT)`` points of a literature CSV (first two columns; rows of ``approach`` only when given)."""
    from planning import PlanningFileError

    points = []
    try:
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or len(header) < 2:
                raise PlanningFileError(path, "expected a header f1_ATT,f2_TRT[,Approach]")
            for line, row in enumerate(reader, 2):
                if not row:
                    continue
                if approach is not None and (len(row) < 3 or row[2].strip() != approach):
                    continue
                try:
                    points.append((float(row[0]), float(row[1])))
                except (ValueError, IndexError):
                    raise PlanningFileError(path, f"line {line}: expected two numbers (ATT, TRT)") from None
    except OSError as exc:
        raise PlanningFileError(path, exc.strerror or "cannot be read") from None
    return points


def literature_fronts(data_dir: Path, instance: str) -> dict[str, list[tuple[float, float]]]:
    """The published fronts of ``instance`` (:data:`LITERATURE_FRONTS`) that the data folder holds."""
    folder = data_dir / "tndp" / "literature"
    out: dict[str, list[tuple[float, float]]] = {}
    for name, files in LITERATURE_FRONTS.get(instance, {}).items():
        points: list[tuple[float, float]] = []
        for file, approach in files:
            if (folder / file).exists():
                points += read_front(folder / file, approach)
        if points:
            out[name] = points
    return out


def non_dominated(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point is at least as good as in both objectives and better in one (minimised)."""
    keep = []
    for p in points:
        dominated = any(q[0] <= p[0] and q[1] <= p[1] and (q[0] < p[0] or q[1] < p[1]) for q in points)
        if not dominated:
            keep.append(p)
    return sorted(set(keep))


def hypervolumes(
    ours: Sequence[tuple[float, float]], published: Mapping[str, Sequence[tuple[float, float]]], lower_bound_att: float
) -> dict[str, Any]:
    """Normalised hypervolumes of our front and of each published front (see the module docstring)."""
    from pymoo.indicators.hv import HV

    every = [p for pts in published.values() for p in pts]
    if not every:
        return {"normalisation": None, "ours": None, "published": {}}
    att_lo, att_hi = lower_bound_att, max(p[0] for p in every)
    trt_lo, trt_hi = min(p[1] for p in every), max(p[1] for p in every)
    span = (max(att_hi - att_lo, 1e-9), max(trt_hi - trt_lo, 1e-9))
    indicator = HV(ref_point=np.array(HV_REFERENCE))

    def hv(points: Sequence[tuple[float, float]]) -> float | None:
        if not points:
            return None
        f = np.array([[(a - att_lo) / span[0], (t - trt_lo) / span[1]] for a, t in points], np.float64)
        return round(float(indicator(f)), 4)

    return {
        "normalisation": {"att_min": [att_lo, att_hi], "trt_min": [trt_lo, trt_hi], "reference": list(HV_REFERENCE)},
        "ours": hv(ours),
        "published": {name: hv(pts) for name, pts in published.items()},
    }


# ---------------------------------------------------------------------------- speed
def evaluator_speed(folder: Path, routes: list[list[int | str]], seconds: float) -> dict[str, Any]:
    """``Evaluator.att`` calls per second on ``routes`` (node ids) of the instance in ``folder``."""
    from planning import Evaluator, as_route_set, flatten, read_cec

    problem = read_cec(folder)
    rs = as_route_set([[problem.node_index(str(v)) for v in r] for r in routes])
    ev = Evaluator(problem)
    nodes, offsets = flatten(rs)
    ev.att(nodes, offsets)
    calls = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10):
            ev.att(nodes, offsets)
        calls += 10
    elapsed = time.perf_counter() - t0
    return {"instance": problem.name, "calls": calls, "seconds": round(elapsed, 3), "per_s": round(calls / elapsed, 1)}


# ---------------------------------------------------------------------------- the run
def run(
    *,
    data_dir: Path,
    instances: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    budgets: Mapping[str, float] | None = None,
    quick: bool = False,
    workers: int = 1,
    pareto: bool = True,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); write ``tndp.json``, ``tndp.md``,
    ``tndp_rescore.md`` and the front PNGs into ``out_dir``."""
    from planning import CEC_INSTANCES
    from planning.evaluate import warm_up

    names, chosen_seeds, chosen_budgets, runs = plan(
        instances=instances, seeds=seeds, budgets=budgets, quick=quick, pareto=pareto
    )
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise InvalidArgumentError("workers", f"got {workers!r}", "whole numbers 1 .. 64")
    folders = {name: data_dir / "tndp" / name for name in names}
    for name, folder in folders.items():
        if not folder.is_dir():
            from planning import PlanningFileError

            raise PlanningFileError(folder, f"the {name} instance folder is missing")
    say = progress or (lambda _m: None)
    compile_s = warm_up()
    tasks = [(str(folders[name]), mode, seed, chosen_budgets[name]) for name, mode, seed in runs]
    t0 = time.perf_counter()
    rows = _run_all(tasks, workers, say)
    wall_s = time.perf_counter() - t0

    summary: dict[str, Any] = {}
    pareto_rows: dict[str, Any] = {}
    speed: list[dict[str, Any]] = []
    for name in names:
        known = CEC_INSTANCES[name.lower()]
        mine = [r for r in rows if r["instance"] == name and r["mode"] == "passenger"]
        best = min(mine, key=lambda r: (r["att_min"], r["trt_min"]))
        published = min(att for _, att in PUBLISHED_ATT[name])
        atts = [r["att_min"] for r in mine]
        met = round(best["att_min"], 2) <= published
        summary[name] = {
            "routes": known.num_routes,
            "stops": [known.min_stops, known.max_stops],
            "budget_s": chosen_budgets[name],
            "seeds": list(chosen_seeds),
            "att_best_min": best["att_min"],
            "att_mean_min": float(np.mean(atts)),
            "best_seed": best["seed"],
            "d0": best["d0"],
            "d1": best["d1"],
            "d2": best["d2"],
            "dun": best["dun"],
            "trt_min": best["trt_min"],
            "evaluations_mean": float(np.mean([r["evaluations"] for r in mine])),
            "evaluations_per_s_mean": float(np.mean([r["evaluations_per_s"] or 0.0 for r in mine])),
            "published_att": [{"source": s, "att_min": a} for s, a in PUBLISHED_ATT[name]],
            "best_published_att": published,
            "lower_bound_att": known.lower_bound_att,
            "gap_to_lower_bound_pct": round(100 * (best["att_min"] / known.lower_bound_att - 1), 2),
            # judged at the instance's full budget only
            "at_or_below_best_published": None if quick or chosen_budgets[name] < BUDGETS_S[name] else met,
            "problems": sum(len(r["problems"]) for r in mine),
            "routes_best": best["routes"],
        }
        front_row = next((r for r in rows if r["instance"] == name and r["mode"] == "pareto"), None)
        if front_row is not None:
            ours = non_dominated([(a, t) for a, t in front_row["front"]])
            lit = literature_fronts(data_dir, name)
            pareto_rows[name] = {
                "seed": front_row["seed"],
                "budget_s": front_row["budget_s"],
                "front": [list(p) for p in ours],
                "front_size": len(ours),
                "evaluations": front_row["evaluations"],
                "problems": len(front_row["problems"]),
                "hypervolume": hypervolumes(ours, lit, known.lower_bound_att),
                "png": _plot_front(out_dir, name, ours, lit),
            }
        if name in ("Mandl", "Mumford3") or quick:
            speed.append(evaluator_speed(folders[name], best["routes"], SPEED_S / 5 if quick else SPEED_S))
    say("evaluator speed")
    from .tndp_rescore import rescore_published
    from .tndp_rescore import to_markdown as rescore_markdown

    rescored = rescore_published(data_dir)
    say("re-scoring")
    judged = [s["at_or_below_best_published"] for s in summary.values()]
    full = not quick and set(names) == set(INSTANCES) and all(chosen_budgets[n] >= BUDGETS_S[n] for n in names)
    result: dict[str, Any] = {
        "benchmark": "tndp",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info("pymoo", "ortools"),
        "quick": quick,
        "workers": workers,
        "compile_s": round(compile_s, 2),
        "wall_s": round(wall_s, 1),
        "instances": summary,
        "pareto": pareto_rows,
        "evaluator_speed": speed,
        "runs": [{k: v for k, v in r.items() if k not in ("routes", "front")} for r in rows],
        "target": {
            "target": f"ATT at or below the best published on at least {TARGET_INSTANCES} of the 4 instances",
            "instances_met": sum(1 for m in judged if m),
            "met": (sum(1 for m in judged if m) >= TARGET_INSTANCES) if full else None,
        },
        "rescore": rescored,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tndp.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    (out_dir / "tndp.md").write_text(to_markdown(result))
    (out_dir / "tndp_rescore.md").write_text(rescore_markdown(rescored))
    return result


def update_docs(out_dir: Path, docs: Path = DOCS) -> bool:
    """Put ``tndp_rescore.md`` between the ``<!-- bench:tndp_rescore -->`` markers of docs/planning.md."""
    return update_readme(docs, (out_dir / "tndp_rescore.md").read_text(), tag="tndp_rescore")


def _plot_front(
    out_dir: Path, name: str, ours: list[tuple[float, float]], lit: dict[str, list[tuple[float, float]]]
) -> str | None:
    from planning.plots import plot_front

    if not ours:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = Path(plot_front(ours, out_dir / f"tndp_front_{name}.png", anchors=lit, title=f"{name}: ATT against TRT"))
    root = Path(__file__).resolve().parents[1]
    return str(path.resolve().relative_to(root)) if path.resolve().is_relative_to(root) else path.name


# ---------------------------------------------------------------------------- Markdown
def _f(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _pct(share: float) -> str:
    return f"{100 * share:.2f} %"


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    par = (
        f"{result['workers']} runs at a time, each in a process of its own (one core each)"
        if result["workers"] > 1
        else "one run at a time"
    )
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores; {par}). CEC-2013 instances with the "
        "benchmark's route counts and stops per route, 5 min per transfer; passenger-first search "
        "(`planning.search.design`), a fixed time budget per run on one core; ATT of the best seed (and the mean over "
        "the seeds), the other columns of the best seed's route set, re-scored by a fresh evaluator; every reported "
        "route set judged by the independent check (`problems`). Evaluator warm-up "
        f"{result['compile_s']:.1f} s apart; wall time of all runs {result['wall_s']:,.0f} s.",
        "",
        "| instance | routes (stops) | budget | seeds | ATT best | ATT mean | d0 | d1 | d2 | dun | TRT | evaluations "
        "| eval/s | best published ATT | lower bound | at or below | problems |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for name, s in result["instances"].items():
        pub = "; ".join(f"{p['att_min']:.2f} ({p['source']})" for p in s["published_att"])
        verdict = {True: "**met**", False: "**not met**", None: "not judged"}[s["at_or_below_best_published"]]
        lines.append(
            f"| {name} | {s['routes']} ({s['stops'][0]}-{s['stops'][1]}) | {s['budget_s']:g} s | "
            f"{' '.join(str(x) for x in s['seeds'])} | {s['att_best_min']:.2f} | {s['att_mean_min']:.2f} | "
            f"{_pct(s['d0'])} | {_pct(s['d1'])} | {_pct(s['d2'])} | {_pct(s['dun'])} | {s['trt_min']:,.0f} | "
            f"{s['evaluations_mean']:,.0f} | {s['evaluations_per_s_mean']:,.0f} | {pub} | {s['lower_bound_att']:.4f} "
            f"| {verdict} | {s['problems']} |"
        )
    t = result["target"]
    said = {True: "**met**", False: "**not met**", None: "not judged (not every instance at its full budget)"}
    count = f" ({t['instances_met']} of {len(result['instances'])})" if t["met"] is not None else ""
    lines += ["", f"Target: {t['target']}: {said[t['met']]}{count}."]
    if result["pareto"]:
        lines += [
            "",
            "Operator side: one Pareto-mode run (NSGA-II over ATT and TRT, seed 1, the same budget) per instance; "
            "hypervolume of each front with ATT normalised from the lower bound and TRT from the least published "
            "TRT to the largest published values (0 .. 1), reference point "
            f"({HV_REFERENCE[0]}, {HV_REFERENCE[1]}), pymoo's HV (higher is better).",
            "",
            "| instance | our front | evaluations | HV ours | HV published | problems | plot |",
            "|---|---:|---:|---:|---|---:|---|",
        ]
        for name, p in result["pareto"].items():
            hv = p["hypervolume"]
            pubs = "; ".join(f"{k} {_f(v, 4)}" for k, v in hv["published"].items()) or "—"
            plot = f"[{Path(p['png']).name}]({p['png']})" if p["png"] else "—"
            lines.append(
                f"| {name} | {p['front_size']} sets | {p['evaluations']:,} | {_f(hv['ours'], 4)} | {pubs} | "
                f"{p['problems']} | {plot} |"
            )
    if result["evaluator_speed"]:
        speeds = ", ".join(f"{s['instance']} {s['per_s']:,.0f}/s" for s in result["evaluator_speed"])
        lines += [
            "",
            f"Evaluator speed (`Evaluator.att` on the best route set found, one core): {speeds}; compile time "
            f"(or load from Numba's cache) {result['compile_s']:.2f} s apart.",
        ]
    n = len(result["rescore"] or [])
    lines += ["", f"Re-scoring of the {n} published Mandl route sets: docs/planning.md."]
    if result["quick"]:
        lines += ["", "**Quick run** (a smoke test of seconds per instance): no verdict on the target."]
    return "\n".join(lines) + "\n"
