"""DARP benchmark: our solver against OR-Tools on the Cordeau (2006) "a" instances.

Run with ``mobility bench darp`` (or ``make bench-darp``). For every instance, time limit and
seed it runs our :func:`routing.solve.solve` and then each peer with the same time limit, one
solver at a time (never in parallel: on a 2-core machine two solvers side by side would slow
each other). OR-Tools' routing search has no seed, so it runs once per instance and limit.

Every solution, ours and the peers', is judged by the independent checker
(:func:`routing.checker.check_solution`); the checker's cost is the cost reported. The gap
is ``100 * (cost / BKS - 1)`` in per cent, against the best-known (proven optimal) costs in
the instances' ``bks.csv``. An infeasible solution is reported as such, left out of the gap
means and counts as a miss.

With several seeds, each instance shows the mean over seeds (of the feasible runs) and the
best seed; an instance is within a threshold "on the mean" only when every seed was feasible
and the mean gap is within it. The issue's targets are judged on the mean over seeds:

* mean gap at most 0.3 % at 60 s, over all 24 instances, with no infeasible run;
* gap at most 1 % on every instance at 10 s.

Our Numba kernels are compiled (or loaded from Numba's on-disk cache) before anything is
timed; that warm-up time is reported on its own. Results go to ``benchmarks/results/darp.json``
and ``darp.md``.

A quick run (``quick=True``, ``mobility bench darp --quick``: :data:`QUICK_INSTANCES` at
:data:`QUICK_TIME_LIMIT_S` unless told otherwise) is a smoke test: it reports what it measured
but judges no target, as it does not measure them on the whole set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS_DIR,
    Peer,
    PeerSolve,
    check_peers,
    check_seeds,
    check_time_limits,
    fmt_num,
    gap_pct,
    machine_info,
    mean,
    num_steps,
    parallel_note,
    run_instances,
    select_instances,
    time_key,
    write_results,
)

#: Where the instances sit, relative to the data directory.
INSTANCE_DIR = Path("darp") / "cordeau2006"
#: Number of instances in the full set.
FULL_SET = 24
#: The issue's targets.
TARGET_MEAN_GAP_PCT = 0.3
TARGET_MEAN_GAP_LIMIT_S = 60.0
TARGET_INSTANCE_GAP_PCT = 1.0
TARGET_INSTANCE_GAP_LIMIT_S = 10.0
#: What a quick run (a smoke test) solves by default, and for how long.
QUICK_INSTANCES = ("a2-16", "a3-24")
QUICK_TIME_LIMIT_S = 1.0
#: OR-Tools' mean gaps quoted in the issue (measured elsewhere), by time limit.
ORTOOLS_QUOTED_PCT = {"10": 2.2, "60": 0.83}
#: Slack on threshold comparisons, so that a gap of 0.3 printed as 0.30 % counts as within 0.3 %.
_EPS = 1e-9


def _ortools() -> PeerSolve:
    from benchmarks.peers.ortools_darp import solve_with_ortools

    return solve_with_ortools


#: The peers this benchmark knows.
PEERS = {"ortools": Peer(label="OR-Tools", load=_ortools, seeded=False, package="ortools")}


def instance_paths(data_dir: Path, instances: Sequence[str] | None = None) -> list[Path]:
    """The instance files the run will use (all of ``data_dir/darp/cordeau2006`` by default)."""
    return select_instances(Path(data_dir) / INSTANCE_DIR, instances)


def steps(
    *,
    data_dir: Path,
    time_limits: Sequence[float] = (10.0,),
    seeds: Sequence[int] = (1,),
    instances: Sequence[str] | None = None,
    peers: Sequence[str] = ("ortools",),
) -> int:
    """How many times :func:`run` calls ``progress``: the warm-up, then once per solver run."""
    chosen = [PEERS[name] for name in check_peers(peers, PEERS)]
    return num_steps(len(instance_paths(data_dir, instances)), time_limits, seeds, chosen)


def run(
    *,
    data_dir: Path,
    time_limits: Sequence[float] = (10.0,),
    seeds: Sequence[int] = (1,),
    instances: Sequence[str] | None = None,
    peers: Sequence[str] = ("ortools",),
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    quick: bool = False,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run the benchmark and write ``darp.json`` and ``darp.md`` into ``out_dir``.

    Args:
        data_dir: the reference data folder (holding ``darp/cordeau2006``).
        time_limits: seconds per run, each > 0; every solver gets the same limit.
        seeds: our solver's seeds (and those of seeded peers), integers >= 0.
        instances: instance names (``"a2-16"``); None for all of them.
        peers: peer names from :data:`PEERS` (``()`` for ours alone).
        out_dir: where the JSON and Markdown go.
        progress: called with a short message after the warm-up and after every solver run.
        quick: a smoke test: no verdict on the targets unless the whole set was run.
        jobs: instances solved at once, each in a worker process of its own (one solver run at
            a time in each, single-threaded); 1 runs everything in this process. With as many
            jobs as cores each run has one core and the machine is otherwise busy.
    """
    from routing.instances import read_cordeau_darp

    limits = check_time_limits(time_limits)
    seed_list = check_seeds(seeds)
    peer_names = check_peers(peers, PEERS)
    paths = instance_paths(data_dir, instances)
    problems = [read_cordeau_darp(p) for p in paths]
    say = progress or (lambda _m: None)
    chosen = {name: PEERS[name] for name in peer_names}
    result: dict[str, Any] = {
        "benchmark": "darp",
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(*(peer.package for peer in chosen.values())),
        "instance_set": str(INSTANCE_DIR),
        "time_limits_s": list(limits),
        "seeds": list(seed_list),
        "peers": list(peer_names),
        "quick": quick,
    }
    return run_instances(
        result,
        problems,
        peers=chosen,
        time_limits=limits,
        seeds=seed_list,
        say=say,
        record=_instance_record,
        write=lambda complete: _write(result, complete=complete, out_dir=Path(out_dir)),
        jobs=jobs,
    )


def _write(result: dict[str, Any], *, complete: bool, out_dir: Path) -> None:
    write_results(
        result,
        name="darp",
        complete=complete,
        out_dir=out_dir,
        summary=_summary,
        targets=target_verdicts,
        to_markdown=to_markdown,
    )


# ---------------------------------------------------------------------------- aggregation
def aggregate_runs(runs: list[dict[str, Any]], bks: float | None) -> dict[str, Any]:
    """Mean over the feasible runs, the best run, and counts; adds ``gap_pct`` to every run."""
    for r in runs:
        r["gap_pct"] = gap_pct(r["cost"], bks) if r["feasible"] else None
    ok = [r for r in runs if r["feasible"]]
    costs = [r["cost"] for r in ok]
    mean_cost = mean(costs)
    best_cost = min(costs) if costs else None
    return {
        "runs": len(runs),
        "feasible_runs": len(ok),
        "all_feasible": len(ok) == len(runs),
        "mean_cost": mean_cost,
        "best_cost": best_cost,
        "mean_gap_pct": gap_pct(mean_cost, bks),
        "best_gap_pct": gap_pct(best_cost, bks),
        "mean_runtime_s": mean(r["runtime_s"] for r in runs),
        "claims_agree": all(r.get("claims_agree", True) for r in runs),
    }


def _instance_record(problem: Any, runs: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    bks = problem.meta.get("bks")
    return {
        "instance": problem.name,
        "n": problem.num_requests,
        "K": problem.num_vehicles,
        "bks": bks,
        "results": {
            key: {solver: {"aggregate": aggregate_runs(rs, bks), "runs": rs} for solver, rs in by_solver.items()}
            for key, by_solver in runs.items()
        },
    }


def _summary(records: list[dict[str, Any]], key: str, solver: str) -> dict[str, Any]:
    aggs = [(rec["instance"], rec["results"][key][solver]["aggregate"]) for rec in records]
    out: dict[str, Any] = {
        "instances": len(aggs),
        "runs": sum(a["runs"] for _, a in aggs),
        "infeasible_runs": sum(a["runs"] - a["feasible_runs"] for _, a in aggs),
        "claims_disagree": [name for name, a in aggs if not a["claims_agree"]],
    }
    for which in ("mean", "best"):
        gaps = [a[f"{which}_gap_pct"] for _, a in aggs if a[f"{which}_gap_pct"] is not None]
        # "mean" counts an instance only when every seed was feasible; "best" when one was.
        counted = [
            (name, a[f"{which}_gap_pct"])
            for name, a in aggs
            if a[f"{which}_gap_pct"] is not None and (which == "best" or a["all_feasible"])
        ]
        out[which] = {
            "mean_gap_pct": mean(gaps),
            "max_gap_pct": max(gaps) if gaps else None,
            "instances_with_gap": len(gaps),
            "within_1pct": sum(1 for _, g in counted if g <= 1.0 + _EPS),
            "within_0_3pct": sum(1 for _, g in counted if g <= 0.3 + _EPS),
        }
    return out


def target_verdicts(result: dict[str, Any]) -> dict[str, Any]:
    summary = result["summary"]
    records = result["instances"]
    subset = len(records) < FULL_SET
    mean_key = time_key(TARGET_MEAN_GAP_LIMIT_S)
    inst_key = time_key(TARGET_INSTANCE_GAP_LIMIT_S)
    # A quick run on part of the set is a smoke test: it judges nothing.
    quick = bool(result.get("quick")) and subset
    targets: dict[str, Any] = {"instances": len(records), "subset": subset, "quick": quick}
    if quick:
        targets["mean_gap"] = {
            "time_limit_s": TARGET_MEAN_GAP_LIMIT_S,
            "threshold_pct": TARGET_MEAN_GAP_PCT,
            "met": None,
        }
        targets["instance_gap"] = {
            "time_limit_s": TARGET_INSTANCE_GAP_LIMIT_S,
            "threshold_pct": TARGET_INSTANCE_GAP_PCT,
            "met": None,
        }
    elif mean_key in summary:
        s = summary[mean_key]["ours"]
        value = s["mean"]["mean_gap_pct"]
        met = value is not None and value <= TARGET_MEAN_GAP_PCT + _EPS and s["infeasible_runs"] == 0
        targets["mean_gap"] = {
            "time_limit_s": TARGET_MEAN_GAP_LIMIT_S,
            "threshold_pct": TARGET_MEAN_GAP_PCT,
            "value_pct": value,
            "infeasible_runs": s["infeasible_runs"],
            "met": met,
        }
    else:
        targets["mean_gap"] = {
            "time_limit_s": TARGET_MEAN_GAP_LIMIT_S,
            "threshold_pct": TARGET_MEAN_GAP_PCT,
            "met": None,
        }
    if quick:
        pass
    elif inst_key in summary:
        misses = []
        for rec in records:
            agg = rec["results"][inst_key]["ours"]["aggregate"]
            g = agg["mean_gap_pct"]
            if not agg["all_feasible"] or g is None or g > TARGET_INSTANCE_GAP_PCT + _EPS:
                misses.append({"instance": rec["instance"], "gap_pct": g, "all_feasible": agg["all_feasible"]})
        targets["instance_gap"] = {
            "time_limit_s": TARGET_INSTANCE_GAP_LIMIT_S,
            "threshold_pct": TARGET_INSTANCE_GAP_PCT,
            "misses": misses,
            "met": not misses,
        }
    else:
        targets["instance_gap"] = {
            "time_limit_s": TARGET_INSTANCE_GAP_LIMIT_S,
            "threshold_pct": TARGET_INSTANCE_GAP_PCT,
            "met": None,
        }
    if "ortools" in result["peers"]:
        targets["ortools"] = {
            "quoted_mean_gap_pct": ORTOOLS_QUOTED_PCT,
            "measured_mean_gap_pct": {key: s["ortools"]["mean"]["mean_gap_pct"] for key, s in summary.items()},
            "infeasible_runs": {key: s["ortools"]["infeasible_runs"] for key, s in summary.items()},
        }
    return targets


# ---------------------------------------------------------------------------- Markdown
def _pct(value: float | None) -> str:
    return fmt_num(value, 2, "%")


def _pair(a: str, b: str, several: bool) -> str:
    return f"{a} / {b}" if several else a


def _cost_cell(agg: dict[str, Any], several: bool) -> str:
    if agg["feasible_runs"] == 0:
        return "**infeasible**"
    cell = _pair(fmt_num(agg["mean_cost"]), fmt_num(agg["best_cost"]), several)
    missing = agg["runs"] - agg["feasible_runs"]
    return cell + (f" ({missing} infeasible)" if missing else "")


def _gap_cell(agg: dict[str, Any], several: bool) -> str:
    if agg["feasible_runs"] == 0:
        return "—"
    return _pair(_pct(agg["mean_gap_pct"]), _pct(agg["best_gap_pct"]), several)


def _fmt_s(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:.1f} s"


def to_markdown(result: dict[str, Any]) -> str:
    """The tables and the targets paragraph (see the module docstring)."""
    m = result["machine"]
    peers = result["peers"]
    labels = {name: PEERS[name].label for name in peers}
    seeds = result["seeds"]
    several = len(seeds) > 1
    keys = [time_key(t) for t in result["time_limits_s"]]
    versions = ", ".join(f"{labels[p]} {m.get(PEERS[p].package, '?')}" for p in peers)
    w = result["warm_up"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, Numba {m['numba']}"
        + (f", {versions}" if versions else "")
        + f". Cordeau (2006) instances, {len(result['instances'])} of {FULL_SET}; "
        f"time limit{'s' if len(keys) > 1 else ''} {', '.join(k + ' s' for k in keys)}; "
        f"seed{'s' if several else ''} {', '.join(map(str, seeds))}; {parallel_note(result)}. "
        "Costs are the independent checker's; gap = 100·(cost / BKS − 1)."
        + (" With several seeds our cells show mean over seeds / best seed." if several else "")
        + (" OR-Tools has no seed and runs once per instance and limit." if "ortools" in peers else ""),
        "",
        f"Our kernels were {'compiled' if w['compiled'] else 'loaded from Numba’s cache'} in "
        f"{w['seconds']:.1f} s before timing (not included in the times below).",
        "",
    ]
    head = ["instance", "n", "K", "BKS"]
    align = ["---", "---:", "---:", "---:"]
    for k in keys:
        head += [f"ours {k} s", "gap", "time"]
        align += ["---:", "---:", "---:"]
        for p in peers:
            head += [f"{labels[p]} {k} s", "gap"]
            align += ["---:", "---:"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for rec in result["instances"]:
        row = [rec["instance"], str(rec["n"]), str(rec["K"]), fmt_num(rec["bks"])]
        for k in keys:
            res = rec["results"][k]
            agg = res["ours"]["aggregate"]
            row += [_cost_cell(agg, several), _gap_cell(agg, several), _fmt_s(agg["mean_runtime_s"])]
            for p in peers:
                pagg = res[p]["aggregate"]
                row += [_cost_cell(pagg, False), _gap_cell(pagg, False)]
        lines.append("| " + " | ".join(row) + " |")
    n = len(result["instances"])

    def summary_row(label: str, cell: Callable[[dict[str, Any], bool], str]) -> str:
        row = [f"**{label}**", "", "", ""]
        for k in keys:
            s = result["summary"][k]
            row += ["", cell(s["ours"], several), ""]
            for p in peers:
                row += ["", cell(s[p], False)]
        return "| " + " | ".join(row) + " |"

    def both(fn: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any], bool], str]:
        return lambda s, sev: _pair(fn(s["mean"]), fn(s["best"]), sev)

    lines += [
        summary_row("mean gap", both(lambda x: _pct(x["mean_gap_pct"]))),
        summary_row("max gap", both(lambda x: _pct(x["max_gap_pct"]))),
        summary_row(f"within 1% (of {n})", both(lambda x: str(x["within_1pct"]))),
        summary_row(f"within 0.3% (of {n})", both(lambda x: str(x["within_0_3pct"]))),
        summary_row("infeasible runs", lambda s, _sev: f"{s['infeasible_runs']}/{s['runs']}"),
        "",
    ]
    disagree = sorted({name for k in keys for name in result["summary"][k]["ours"]["claims_disagree"]})
    if disagree:
        lines += [
            f"**Checker and solver disagree** on the cost or feasibility of our solution on: {', '.join(disagree)}.",
            "",
        ]
    lines += [_targets_paragraph(result), ""]
    return "\n".join(lines)


def _targets_paragraph(result: dict[str, Any]) -> str:
    t = result["targets"]
    if t.get("quick"):
        return (
            f"Targets (mean gap ≤ {TARGET_MEAN_GAP_PCT:g}% at {TARGET_MEAN_GAP_LIMIT_S:g} s, gap ≤ "
            f"{TARGET_INSTANCE_GAP_PCT:g}% on every instance at {TARGET_INSTANCE_GAP_LIMIT_S:g} s, over all "
            f"{FULL_SET} instances): not judged — a quick run (smoke test) on {t['instances']} of the {FULL_SET}."
        )
    parts = []
    notes = ["judged on the mean over seeds"] if len(result["seeds"]) > 1 else []
    if t["subset"]:
        notes.append(f"on {t['instances']} of the {FULL_SET} instances only, while the targets refer to all {FULL_SET}")
    scope = f" ({'; '.join(notes)})" if notes else ""
    mg = t["mean_gap"]
    if mg["met"] is None:
        parts.append(f"mean gap ≤ {mg['threshold_pct']:g}% at {mg['time_limit_s']:g} s — not measured in this run")
    else:
        extra = f", {mg['infeasible_runs']} infeasible run(s)" if mg["infeasible_runs"] else ""
        parts.append(
            f"mean gap ≤ {mg['threshold_pct']:g}% at {mg['time_limit_s']:g} s — {_pct(mg['value_pct'])}{extra}, "
            f"**{'met' if mg['met'] else 'not met'}**"
        )
    ig = t["instance_gap"]
    if ig["met"] is None:
        parts.append(
            f"gap ≤ {ig['threshold_pct']:g}% on every instance at {ig['time_limit_s']:g} s — not measured in this run"
        )
    else:
        within = t["instances"] - len(ig["misses"])
        text = (
            f"gap ≤ {ig['threshold_pct']:g}% on every instance at {ig['time_limit_s']:g} s — "
            f"{within} of {t['instances']} within, **{'met' if ig['met'] else 'not met'}**"
        )
        if ig["misses"]:
            missed = [
                f"{x['instance']} {_pct(x['gap_pct']) if x['all_feasible'] else 'infeasible'}" for x in ig["misses"]
            ]
            text += f" (misses: {', '.join(missed)})"
        parts.append(text)
    out = f"Targets{scope}: " + "; ".join(parts) + "."
    if "ortools" in t:
        o = t["ortools"]
        measured = ", ".join(
            f"{_pct(v)} at {k} s" + (f" ({o['infeasible_runs'][k]} infeasible)" if o["infeasible_runs"][k] else "")
            for k, v in o["measured_mean_gap_pct"].items()
        )
        quoted = ", ".join(f"{v:g}% at {k} s" for k, v in o["quoted_mean_gap_pct"].items())
        out += (
            f" OR-Tools in this run, same machine and limits: mean gap {measured} "
            f"(the issue quotes {quoted}, measured elsewhere)."
        )
    return out
