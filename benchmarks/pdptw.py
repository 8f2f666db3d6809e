"""PDPTW benchmark: our solver against PyVRP on the Li & Lim instances.

Run with ``mobility bench pdptw`` (or ``make bench-pdptw``). The 100-task set
(``data_dir/pdptw/li_lim_100``, 56 instances) by default; ``instance_set="400"`` takes the
400-task set (``li_lim_400``, 60 instances). For every instance, time limit and seed it runs
our :func:`routing.solve.solve` and then PyVRP with the same limit and seed, one solver at a
time (never in parallel).

The objective is hierarchical: fewest vehicles first, then total distance. Every solution is
judged by the independent checker (:func:`routing.checker.check_solution`), whose vehicle
count and distance are the ones reported; an infeasible solution is reported as such and
counts as a miss. Per solver and time limit the summary gives the number of instances
solved with the best-known (BKS) fleet or a smaller one, and, on the instances solved with
exactly the BKS fleet, the mean distance gap ``100 * (distance / BKS distance - 1)``.

With several seeds each instance shows the mean over seeds and the best seed (fewest
vehicles, then shortest distance); "on the mean" an instance reaches the BKS fleet only when
every seed does, and has a distance gap only when every seed uses exactly the BKS fleet.
The target, "PyVRP's level", compares the two on the mean: at least as many instances at the
BKS fleet as PyVRP, and a mean distance gap no larger than PyVRP's on the instances where
both use exactly the BKS fleet.

Results go to ``benchmarks/results/pdptw.json`` and ``pdptw.md`` (the 400-task set:
``pdptw_400.json`` and ``pdptw_400.md``, README section ``bench:pdptw_400``). A table by class
(lc1, lc2, lr1, lr2, lrc1, lrc2) follows the instances; on the 400-task set the target is
judged class by class (issue 20: met only if met in every class), on the 100-task set on the
whole. A quick run (``quick=True``,
``mobility bench pdptw --quick``: :data:`QUICK_INSTANCES` at :data:`QUICK_TIME_LIMIT_S` unless
told otherwise) is a smoke test: it reports what it measured but judges no target, as it does
not measure them on the whole set.
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
from routing.errors import InvalidArgumentError

#: Instance folders by set, relative to the data directory, and the size of each full set.
INSTANCE_SETS = {"100": (Path("pdptw") / "li_lim_100", 56), "400": (Path("pdptw") / "li_lim_400", 60)}
_EPS = 1e-9
#: What a quick run (a smoke test) solves by default, and for how long.
QUICK_INSTANCES = ("lc101", "lr104")
QUICK_TIME_LIMIT_S = 1.0


def _pyvrp() -> PeerSolve:
    from benchmarks.peers.pyvrp_pdptw import solve_with_pyvrp

    return solve_with_pyvrp


#: The peers this benchmark knows.
PEERS = {"pyvrp": Peer(label="PyVRP", load=_pyvrp, seeded=True, package="pyvrp")}


def _check_set(instance_set: str) -> tuple[Path, int]:
    if instance_set not in INSTANCE_SETS:
        raise InvalidArgumentError("instance_set", f"unknown set {instance_set!r}", " or ".join(INSTANCE_SETS))
    return INSTANCE_SETS[instance_set]


def instance_paths(data_dir: Path, instances: Sequence[str] | None = None, instance_set: str = "100") -> list[Path]:
    """The instance files the run will use (all of the set's folder by default)."""
    folder, _ = _check_set(instance_set)
    return select_instances(Path(data_dir) / folder, instances)


def steps(
    *,
    data_dir: Path,
    time_limits: Sequence[float] = (10.0,),
    seeds: Sequence[int] = (1,),
    instances: Sequence[str] | None = None,
    peers: Sequence[str] = ("pyvrp",),
    instance_set: str = "100",
) -> int:
    """How many times :func:`run` calls ``progress``: the warm-up, then once per solver run."""
    chosen = [PEERS[name] for name in check_peers(peers, PEERS)]
    return num_steps(len(instance_paths(data_dir, instances, instance_set)), time_limits, seeds, chosen)


def run(
    *,
    data_dir: Path,
    time_limits: Sequence[float] = (10.0,),
    seeds: Sequence[int] = (1,),
    instances: Sequence[str] | None = None,
    peers: Sequence[str] = ("pyvrp",),
    instance_set: str = "100",
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    quick: bool = False,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run the benchmark and write ``pdptw.json`` and ``pdptw.md`` (set 400: ``pdptw_400.*``) into ``out_dir``.

    Args:
        data_dir: the reference data folder (holding ``pdptw/li_lim_100`` and ``li_lim_400``).
        time_limits: seconds per run, each > 0; every solver gets the same limit.
        seeds: seeds of our solver and of PyVRP, integers >= 0.
        instances: instance names (``"lc101"``); None for the whole set.
        peers: peer names from :data:`PEERS` (``()`` for ours alone).
        instance_set: ``"100"`` or ``"400"`` (tasks per instance).
        out_dir: where the JSON and Markdown go.
        progress: called with a short message after the warm-up and after every solver run.
        quick: a smoke test: no verdict on the target unless the whole set was run.
        jobs: instances solved at once, each in a worker process of its own (one solver run at
            a time in each, single-threaded); 1 runs everything in this process. With as many
            jobs as cores each run has one core and the machine is otherwise busy.
    """
    from routing.instances import read_li_lim

    folder, full = _check_set(instance_set)
    limits = check_time_limits(time_limits)
    seed_list = check_seeds(seeds)
    peer_names = check_peers(peers, PEERS)
    problems = [read_li_lim(p) for p in instance_paths(data_dir, instances, instance_set)]
    say = progress or (lambda _m: None)
    chosen = {name: PEERS[name] for name in peer_names}
    result: dict[str, Any] = {
        "benchmark": "pdptw",
        "set": instance_set,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(*(peer.package for peer in chosen.values())),
        "instance_set": str(folder),
        "full_set_size": full,
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


def result_name(instance_set: str = "100") -> str:
    """The results' file stem and README tag: ``pdptw`` for the 100-task set, ``pdptw_400`` for the 400."""
    return "pdptw" if instance_set == "100" else f"pdptw_{instance_set}"


def instance_class(name: str) -> str:
    """The Li & Lim class of an instance name: ``lc101`` and ``lc1_4_1`` are both ``lc1``."""
    if "_" in name:
        return name.split("_", 1)[0]
    return name[:-2] if len(name) > 3 and name[-2:].isdigit() else name


def _write(result: dict[str, Any], *, complete: bool, out_dir: Path) -> None:
    write_results(
        result,
        name=result_name(result.get("set", "100")),
        complete=complete,
        out_dir=out_dir,
        summary=_summary,
        targets=target_verdicts,
        to_markdown=to_markdown,
    )


# ---------------------------------------------------------------------------- aggregation
def aggregate_runs(runs: list[dict[str, Any]], bks_vehicles: int | None, bks_distance: float | None) -> dict[str, Any]:
    """Means over the feasible runs, the best run, and the BKS comparisons; adds gaps to every run.

    A run's ``distance_gap_pct`` is set only when it uses exactly the BKS fleet.
    """
    for r in runs:
        exact = r["feasible"] and bks_vehicles is not None and r["num_vehicles"] == bks_vehicles
        r["distance_gap_pct"] = gap_pct(r["cost"], bks_distance) if exact else None
    ok = [r for r in runs if r["feasible"]]
    best = min(ok, key=lambda r: (r["num_vehicles"], r["cost"])) if ok else None
    all_ok = len(ok) == len(runs)
    vehicles = [r["num_vehicles"] for r in ok]
    at_fleet = all_ok and bks_vehicles is not None and max(vehicles) <= bks_vehicles
    exact_fleet = all_ok and bks_vehicles is not None and all(v == bks_vehicles for v in vehicles)
    mean_distance = mean(r["cost"] for r in ok)
    best_exact = best is not None and bks_vehicles is not None and best["num_vehicles"] == bks_vehicles
    return {
        "runs": len(runs),
        "feasible_runs": len(ok),
        "all_feasible": all_ok,
        "mean_vehicles": mean(vehicles),
        "mean_distance": mean_distance,
        "best_vehicles": None if best is None else best["num_vehicles"],
        "best_distance": None if best is None else best["cost"],
        "mean_at_bks_fleet": at_fleet,
        "best_at_bks_fleet": best is not None and bks_vehicles is not None and best["num_vehicles"] <= bks_vehicles,
        "below_bks_fleet": bks_vehicles is not None and any(v < bks_vehicles for v in vehicles),
        "mean_distance_gap_pct": gap_pct(mean_distance, bks_distance) if exact_fleet else None,
        "best_distance_gap_pct": gap_pct(best["cost"], bks_distance) if best is not None and best_exact else None,
        "mean_runtime_s": mean(r["runtime_s"] for r in runs),
        "claims_agree": all(r.get("claims_agree", True) for r in runs),
    }


def _instance_record(problem: Any, runs: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    bks_v, bks_d = problem.meta.get("bks_vehicles"), problem.meta.get("bks_distance")
    return {
        "instance": problem.name,
        "n": problem.num_requests,
        "K": problem.num_vehicles,
        "bks_vehicles": bks_v,
        "bks_distance": bks_d,
        "results": {
            key: {
                solver: {"aggregate": aggregate_runs(rs, bks_v, bks_d), "runs": rs} for solver, rs in by_solver.items()
            }
            for key, by_solver in runs.items()
        },
    }


def _summary(records: list[dict[str, Any]], key: str, solver: str) -> dict[str, Any]:
    aggs = [(rec["instance"], rec["results"][key][solver]["aggregate"]) for rec in records]
    out: dict[str, Any] = {
        "instances": len(aggs),
        "runs": sum(a["runs"] for _, a in aggs),
        "infeasible_runs": sum(a["runs"] - a["feasible_runs"] for _, a in aggs),
        "below_bks_fleet": [name for name, a in aggs if a["below_bks_fleet"]],
        "claims_disagree": [name for name, a in aggs if not a["claims_agree"]],
    }
    for which in ("mean", "best"):
        gaps = [a[f"{which}_distance_gap_pct"] for _, a in aggs if a[f"{which}_distance_gap_pct"] is not None]
        out[which] = {
            "at_bks_fleet": sum(1 for _, a in aggs if a[f"{which}_at_bks_fleet"]),
            "exact_bks_fleet": len(gaps),
            "mean_distance_gap_pct": mean(gaps),
        }
    return out


def target_verdicts(result: dict[str, Any]) -> dict[str, Any]:
    """ "PyVRP's level" at every time limit, on the mean over seeds (None without PyVRP)."""
    subset = len(result["instances"]) < result["full_set_size"]
    out: dict[str, Any] = {
        "instances": len(result["instances"]),
        "subset": subset,
        # A quick run on part of the set is a smoke test: it judges nothing.
        "quick": bool(result.get("quick")) and subset,
    }
    if "pyvrp" not in result["peers"]:
        out["pyvrp_level"] = None
        return out
    # Issue 20 judges the 400-task set class by class; the 100-task set is judged on the whole.
    by_class_rule = result.get("set", "100") != "100"
    out["rule"] = "every class" if by_class_rule else "the whole set"
    levels = {}
    for key in result["summary"]:
        level = _level(result["instances"], key, quick=out["quick"])
        classes: dict[str, list[dict[str, Any]]] = {}
        for rec in result["instances"]:
            classes.setdefault(instance_class(rec["instance"]), []).append(rec)
        level["by_class"] = {cls: _level(recs, key, quick=out["quick"]) for cls, recs in sorted(classes.items())}
        if by_class_rule and not out["quick"]:
            level["met"] = all(lv["met"] for lv in level["by_class"].values())
        levels[key] = level
    out["pyvrp_level"] = levels
    return out


def _level(records: list[dict[str, Any]], key: str, *, quick: bool) -> dict[str, Any]:
    """PyVRP's level on ``records``: fleets at least PyVRP's, and no larger mean gap where both have the BKS fleet."""
    common = []
    ours_fleet = peer_fleet = 0
    for rec in records:
        ours = rec["results"][key]["ours"]["aggregate"]
        peer = rec["results"][key]["pyvrp"]["aggregate"]
        ours_fleet += bool(ours["mean_at_bks_fleet"])
        peer_fleet += bool(peer["mean_at_bks_fleet"])
        if ours["mean_distance_gap_pct"] is not None and peer["mean_distance_gap_pct"] is not None:
            common.append((ours["mean_distance_gap_pct"], peer["mean_distance_gap_pct"]))
    ours_gap = mean(g for g, _ in common)
    peer_gap = mean(g for _, g in common)
    fleet_met = ours_fleet >= peer_fleet
    distance_met = ours_gap is None or peer_gap is None or ours_gap <= peer_gap + _EPS
    return {
        "instances": len(records),
        "ours_at_bks_fleet": ours_fleet,
        "pyvrp_at_bks_fleet": peer_fleet,
        "fleet_met": None if quick else fleet_met,
        "common_instances": len(common),
        "ours_mean_distance_gap_pct": ours_gap,
        "pyvrp_mean_distance_gap_pct": peer_gap,
        "distance_met": None if quick else distance_met,
        "met": None if quick else fleet_met and distance_met,
    }


# ---------------------------------------------------------------------------- Markdown
def _pair(a: str, b: str, several: bool) -> str:
    return f"{a} / {b}" if several else a


def _cells(agg: dict[str, Any], several: bool) -> list[str]:
    """Vehicles, distance and gap cells (mean / best with several seeds)."""
    if agg["feasible_runs"] == 0:
        return ["**infeasible**", "—", "—"]
    missing = agg["runs"] - agg["feasible_runs"]
    note = f" ({missing} infeasible)" if missing else ""
    vehicles = _pair(fmt_num(agg["mean_vehicles"], 1 if several else 0), str(agg["best_vehicles"]), several)
    distance = _pair(fmt_num(agg["mean_distance"]), fmt_num(agg["best_distance"]), several)
    gap = _pair(fmt_num(agg["mean_distance_gap_pct"], 2, "%"), fmt_num(agg["best_distance_gap_pct"], 2, "%"), several)
    return [vehicles + note, distance, gap]


def to_markdown(result: dict[str, Any]) -> str:
    """The table and the targets paragraph (see the module docstring)."""
    m = result["machine"]
    peers = result["peers"]
    labels = {name: PEERS[name].label for name in peers}
    seeds = result["seeds"]
    several = len(seeds) > 1
    keys = [time_key(t) for t in result["time_limits_s"]]
    versions = ", ".join(f"{labels[p]} {m.get(PEERS[p].package, '?')}" for p in peers)
    n = len(result["instances"])
    w = result["warm_up"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, Numba {m['numba']}"
        + (f", {versions}" if versions else "")
        + f". Li & Lim instances ({result['instance_set']}), {n} of {result['full_set_size']}; "
        f"time limit{'s' if len(keys) > 1 else ''} {', '.join(k + ' s' for k in keys)}; "
        f"seed{'s' if several else ''} {', '.join(map(str, seeds))}; {parallel_note(result)}. "
        "Vehicles and distances are the independent checker's; the distance gap, "
        "100·(distance / BKS distance − 1), is shown only for solutions with exactly the BKS fleet."
        + (" With several seeds the cells show mean over seeds / best seed." if several else ""),
        "",
        f"Our kernels were {'compiled' if w['compiled'] else 'loaded from Numba’s cache'} in "
        f"{w['seconds']:.1f} s before timing (not included in the times below).",
        "",
    ]
    head = ["instance", "BKS veh.", "BKS distance"]
    align = ["---", "---:", "---:"]
    for k in keys:
        head += [f"ours {k} s veh.", "distance", "gap", "time"]
        align += ["---:", "---:", "---:", "---:"]
        for p in peers:
            head += [f"{labels[p]} {k} s veh.", "distance", "gap"]
            align += ["---:", "---:", "---:"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for rec in result["instances"]:
        bks_v = "—" if rec["bks_vehicles"] is None else str(rec["bks_vehicles"])
        row = [rec["instance"], bks_v, fmt_num(rec["bks_distance"])]
        for k in keys:
            res = rec["results"][k]
            agg = res["ours"]["aggregate"]
            row += [*_cells(agg, several), fmt_num(agg["mean_runtime_s"], 1, " s")]
            for p in peers:
                sev = several and PEERS[p].seeded
                row += _cells(res[p]["aggregate"], sev)
        lines.append("| " + " | ".join(row) + " |")

    def summary_row(label: str, column: int, cell: Callable[[dict[str, Any], bool], str]) -> str:
        """A row with ``cell`` in the ``column``-th cell (0 vehicles, 2 gap) of every solver."""
        row = [f"**{label}**", "", ""]
        for k in keys:
            s = result["summary"][k]
            block = ["", "", "", ""]
            block[column] = cell(s["ours"], several)
            row += block
            for p in peers:
                pblock = ["", "", ""]
                pblock[column] = cell(s[p], several and PEERS[p].seeded)
                row += pblock
        return "| " + " | ".join(row) + " |"

    def both(fn: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any], bool], str]:
        return lambda s, sev: _pair(fn(s["mean"]), fn(s["best"]), sev)

    lines += [
        summary_row(f"BKS fleet or fewer (of {n})", 0, both(lambda x: str(x["at_bks_fleet"]))),
        summary_row(
            "mean distance gap at exactly the BKS fleet",
            2,
            both(lambda x: f"{fmt_num(x['mean_distance_gap_pct'], 2, '%')} ({x['exact_bks_fleet']})"),
        ),
        summary_row("infeasible runs", 0, lambda s, _sev: f"{s['infeasible_runs']}/{s['runs']}"),
        "",
    ]
    below = sorted({name for k in keys for s in result["summary"][k].values() for name in s["below_bks_fleet"]})
    if below:
        lines += [f"Fewer vehicles than the BKS (checker-verified) on: {', '.join(below)}.", ""]
    disagree = sorted({name for k in keys for name in result["summary"][k]["ours"]["claims_disagree"]})
    if disagree:
        lines += [
            f"**Checker and solver disagree** on the cost or feasibility of our solution on: {', '.join(disagree)}.",
            "",
        ]
    lines += _class_table(result)
    lines += [_targets_paragraph(result), ""]
    return "\n".join(lines)


def _class_table(result: dict[str, Any]) -> list[str]:
    """Per class and time limit: BKS fleets of ours and PyVRP's, and the mean gaps where both have it."""
    levels = result["targets"].get("pyvrp_level")
    if not levels:
        return []
    lines = [
        "| class | time | instances | BKS fleet or fewer: ours / PyVRP | both at exactly the BKS fleet "
        "| mean gap there: ours / PyVRP | PyVRP’s level |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for key, level in levels.items():
        for cls, lv in level["by_class"].items():
            ours_gap = fmt_num(lv["ours_mean_distance_gap_pct"], 2, "%")
            peer_gap = fmt_num(lv["pyvrp_mean_distance_gap_pct"], 2, "%")
            gaps = f"{ours_gap} / {peer_gap}" if lv["common_instances"] else "—"
            verdict = "—" if lv["met"] is None else ("met" if lv["met"] else "**not met**")
            lines.append(
                f"| {cls} | {key} s | {lv['instances']} | {lv['ours_at_bks_fleet']} / {lv['pyvrp_at_bks_fleet']} "
                f"| {lv['common_instances']} | {gaps} | {verdict} |"
            )
    return [*lines, ""]


def _targets_paragraph(result: dict[str, Any]) -> str:
    t = result["targets"]
    notes = ["judged on the mean over seeds"] if len(result["seeds"]) > 1 else []
    if t.get("quick"):
        notes.append(
            f"a quick run (smoke test) on {t['instances']} of the {result['full_set_size']} instances: "
            "no verdict, the target refers to the whole set"
        )
    elif t["subset"]:
        notes.append(f"on {t['instances']} of the {result['full_set_size']} instances only")
    if t.get("rule") == "every class":
        notes.append("met only if met in every class")
    scope = f" ({'; '.join(notes)})" if notes else ""
    if t["pyvrp_level"] is None:
        return f"Target “PyVRP’s level”{scope}: not measured in this run (run without the PyVRP peer)."
    parts = []
    for key, lv in t["pyvrp_level"].items():
        text = (
            f"at {key} s, BKS fleet or fewer on {lv['ours_at_bks_fleet']} instances against PyVRP's "
            f"{lv['pyvrp_at_bks_fleet']}"
        )
        if lv["common_instances"]:
            text += (
                f"; on the {lv['common_instances']} where both use exactly the BKS fleet, mean distance gap "
                f"{fmt_num(lv['ours_mean_distance_gap_pct'], 2, '%')} against PyVRP's "
                f"{fmt_num(lv['pyvrp_mean_distance_gap_pct'], 2, '%')}"
            )
        else:
            text += "; no instance where both use exactly the BKS fleet, so no distance comparison"
        if lv["met"] is None:
            text += " — not judged"
        else:
            text += f" — **{'met' if lv['met'] else 'not met'}**"
        parts.append(text)
    return f"Target “PyVRP’s level”{scope}: " + "; ".join(parts) + "."
