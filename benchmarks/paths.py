"""Shortest-path benchmark: contraction hierarchy versus Dijkstra, scipy and networkx.

Run with ``mobility bench paths`` (or ``make bench``). On each graph — the bundled Seoul
Jamsil OSM extract, the Manhattan benchmark graph and a synthetic perturbed grid of about
100,000 nodes — it measures, in one process and one run:

* network load time, cold (parse/build) and from the on-disk cache;
* CH build time (node ordering + contraction) and re-contraction after a weight change;
* one-to-one query latency, p50/p99 of single calls from Python, for the CH
  (``Router.travel_time``), our bidirectional Dijkstra, scipy (``csgraph.dijkstra`` from the
  source; it has no early exit) and networkx (``bidirectional_dijkstra``);
* a 1000 x 1000 travel-time matrix: CH bucket many-to-many versus scipy's Dijkstra from the
  same 1000 sources; results are checked for equality;
* pandana (a C++ contraction hierarchy, the fastest peer we know of on PyPI) on the same
  graph: its hierarchy build (``pandana.Network``), batched one-to-one queries
  (``shortest_path_lengths`` on the same 100,000 random pairs as our batched
  ``Router.travel_time``) and, as it has no many-to-many query, the same matrix as
  ``shortest_path_lengths`` over all source-target pairs; its travel times are checked equal
  to ours. Verdicts say whether we are at least as fast;
* Numba compile time (empty cache, in a subprocess) and the start-up time with the cache.

Results go to ``benchmarks/results/paths.json`` and ``paths.md``. The targets (CH one-to-one
p50 under 50 µs, the 1000 x 1000 matrix under 1 s and 20 times faster than scipy) are judged
on the synthetic grid only when it was measured at their size (100,000 nodes, a 1000 x 1000
matrix); a quick run (``--quick``: a 20,000-node grid, a 200 x 200 matrix) or a smaller grid
reports the figures without a verdict.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS_DIR, machine_info

#: The sizes the targets refer to: the synthetic grid's nodes and the matrix's side.
TARGET_NODES = 100_000
TARGET_MATRIX = 1000


def _percentiles_us(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples) * 1e6
    return {
        "p50_us": round(float(np.percentile(arr, 50)), 2),
        "p99_us": round(float(np.percentile(arr, 99)), 2),
        "n": len(samples),
    }


def _time_calls(fn: Callable[[int, int], Any], pairs: np.ndarray) -> list[float]:
    out = []
    for s, t in pairs.tolist():
        t0 = time.perf_counter()
        fn(s, t)
        out.append(time.perf_counter() - t0)
    return out


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (pandana's C++ code prints its progress there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


#: pandana's "no path" (its distances are unsigned 32-bit integers in thousandths).
PANDANA_UNREACHABLE = 4294967.295


def pandana_times(values: Any) -> np.ndarray:
    """pandana's float travel times as our integer seconds (``UNREACHABLE`` for no path)."""
    from routing import UNREACHABLE

    arr = np.asarray(values, dtype=np.float64)
    out = np.rint(arr).astype(np.int64)
    out[arr >= PANDANA_UNREACHABLE] = UNREACHABLE
    return out


def bench_pandana(
    net: Any, pairs: np.ndarray, src: np.ndarray, dst: np.ndarray, ours_batch: np.ndarray, ours_matrix: np.ndarray
) -> dict[str, Any]:
    """pandana on ``net``: build, batched pairs and the ``src x dst`` product as pairs, each
    checked equal to ours (``ours_batch`` for ``pairs``, ``ours_matrix``)."""
    try:
        import pandana
        import pandas as pd
    except ImportError:
        return {"installed": False}
    nodes = pd.Series(np.arange(net.num_nodes))
    t0 = time.perf_counter()
    with _quiet_stdout():
        pnet = pandana.Network(
            pd.Series(net.x_m, index=nodes),
            pd.Series(net.y_m, index=nodes),
            pd.Series(net.tail.astype(np.int64)),
            pd.Series(net.indices.astype(np.int64)),
            pd.DataFrame({"time_s": net.travel_time_s.astype(np.float64)}),
            twoway=False,
        )
    build_s = time.perf_counter() - t0
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    pnet.shortest_path_lengths(a[:10], b[:10])
    api, core = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        lens = pnet.shortest_path_lengths(a, b)
        api.append(time.perf_counter() - t0)
        # The C++ call underneath, without the Python wrapper's id mapping and checks
        # (node ids are 0..n-1 here, so its internal indexes are the same).
        t0 = time.perf_counter()
        pnet.net.shortest_path_distances(a, b, 0)
        core.append(time.perf_counter() - t0)
    s_all = np.repeat(src.astype(np.int64), dst.shape[0])
    t_all = np.tile(dst.astype(np.int64), src.shape[0])
    t0 = time.perf_counter()
    mat = pnet.shortest_path_lengths(s_all, t_all)
    matrix_s = time.perf_counter() - t0
    return {
        "installed": True,
        "build_s": build_s,
        "batch_us_per_query": min(api) / len(a) * 1e6,
        "batch_core_us_per_query": min(core) / len(a) * 1e6,
        "batch_agree": bool(np.array_equal(pandana_times(lens), ours_batch)),
        "matrix_s": matrix_s,
        "matrix_agree": bool(np.array_equal(pandana_times(mat).reshape(ours_matrix.shape), ours_matrix)),
    }


def compile_times() -> dict[str, float]:
    """Warm-up time with an empty Numba cache (compile) and again with it filled (load)."""
    code = "from routing import warm_up; print(warm_up())"
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="mobility-numba-") as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp, MOBILITY_NUMBA_CACHE="1")
        for label in ("compile_s", "cached_start_s"):
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            out[label] = round(float(res.stdout.strip().splitlines()[-1]), 2)
    return out


def _load_graph(kind: str, data_dir: Path, cache_dir: Path, synthetic_nodes: int) -> tuple[Any, dict[str, Any]]:
    from routing import RoadNetwork, load_network, read_manhattan, synthetic_city

    info: dict[str, Any] = {}
    if kind == "jamsil":
        path = data_dir / "osm" / "seoul_jamsil.osm"
        t0 = time.perf_counter()
        net = load_network(path, cache_dir=cache_dir)
        info["load_cold_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        net = load_network(path, cache_dir=cache_dir)
        info["load_cached_s"] = time.perf_counter() - t0
        info["label"] = "Seoul Jamsil (OSM)"
        return net, info
    t0 = time.perf_counter()
    if kind == "manhattan":
        net = read_manhattan(data_dir / "rideshare" / "manhattan")
        info["label"] = "Manhattan (benchmark graph)"
    else:
        net = synthetic_city(synthetic_nodes, seed=0)
        info["label"] = f"Synthetic grid {net.num_nodes:,} nodes (synthetic)"
    info["load_cold_s"] = time.perf_counter() - t0
    saved = net.save(cache_dir / f"{kind}.npz")
    t0 = time.perf_counter()
    net = RoadNetwork.load(saved)
    info["load_cached_s"] = time.perf_counter() - t0
    return net, info


def bench_graph(
    kind: str,
    *,
    data_dir: Path,
    cache_dir: Path,
    synthetic_nodes: int,
    pairs: int,
    batch_pairs: int,
    slow_pairs: int,
    nx_pairs: int,
    matrix_size: int,
    seed: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    import networkx as nx
    import numba
    from scipy.sparse.csgraph import dijkstra as scipy_dijkstra

    from routing import ContractionHierarchy, Router
    from routing.dijkstra import BidirectionalDijkstra

    progress(f"{kind}: loading")
    net, res = _load_graph(kind, data_dir, cache_dir, synthetic_nodes)
    res.update({"graph": kind, "nodes": net.num_nodes, "edges": net.num_edges})
    rng = np.random.default_rng(seed)
    n = net.num_nodes

    progress(f"{kind}: contraction hierarchy")
    t0 = time.perf_counter()
    ch = ContractionHierarchy.build(net)
    res["ch_build_s"] = time.perf_counter() - t0
    res["shortcuts"] = ch.num_shortcuts
    router = Router(net, ch)
    factors = rng.uniform(1.0, 1.5, net.num_edges)
    t0 = time.perf_counter()
    router2 = router.with_travel_times(net.travel_time_s * factors)
    res["ch_recontract_s"] = time.perf_counter() - t0
    del router2

    pair_arr = rng.integers(0, n, size=(pairs, 2))
    progress(f"{kind}: one-to-one CH")
    router.travel_time(int(pair_arr[0, 0]), int(pair_arr[0, 1]))
    ch_times = _time_calls(router.travel_time, pair_arr)
    ch_dist = np.asarray(router.travel_time(pair_arr[:, 0], pair_arr[:, 1]))
    batch_arr = rng.integers(0, n, size=(batch_pairs, 2))
    batch_runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        batch_dist = np.asarray(router.travel_time(batch_arr[:, 0], batch_arr[:, 1]))
        batch_runs.append(time.perf_counter() - t0)
    res["batch_pairs"] = batch_pairs
    res["ch_batch_us_per_query"] = min(batch_runs) / batch_pairs * 1e6
    progress(f"{kind}: one-to-one bidirectional Dijkstra")
    bidi = BidirectionalDijkstra(net)
    bidi.travel_time(0, 1)
    bidi_times = _time_calls(bidi.travel_time, pair_arr)
    bidi_dist = np.array([bidi.travel_time(s, t) for s, t in pair_arr.tolist()])
    csr = net.to_scipy()
    progress(f"{kind}: one-to-one scipy")
    sp_pairs = pair_arr[:slow_pairs]
    sp_times = _time_calls(lambda s, t: scipy_dijkstra(csr, indices=s)[t], sp_pairs)
    progress(f"{kind}: one-to-one networkx")
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    G.add_weighted_edges_from(zip(net.tail.tolist(), net.indices.tolist(), net.travel_time_s.tolist(), strict=True))
    nx_pairs_arr = pair_arr[:nx_pairs]
    nx_times = _time_calls(lambda s, t: nx.bidirectional_dijkstra(G, s, t), nx_pairs_arr)
    nx_check = [nx.bidirectional_dijkstra(G, s, t)[0] for s, t in nx_pairs_arr[:20].tolist()]
    res["one_to_one"] = {
        "ch": _percentiles_us(ch_times),
        "bidirectional_dijkstra": _percentiles_us(bidi_times),
        "scipy": _percentiles_us(sp_times),
        "networkx": _percentiles_us(nx_times),
    }
    res["one_to_one_agree"] = bool(np.array_equal(ch_dist, bidi_dist)) and bool(
        np.array_equal(ch_dist[:20], np.array(nx_check, dtype=np.int64))
    )

    progress(f"{kind}: {matrix_size} x {matrix_size} matrix")
    src = rng.integers(0, n, matrix_size)
    dst = rng.integers(0, n, matrix_size)
    router.matrix(src[:4], dst[:4])
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        mat = router.matrix(src, dst)
        runs.append(time.perf_counter() - t0)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        router.matrix(src, dst)
        one_thread = time.perf_counter() - t0
    finally:
        numba.set_num_threads(threads)
    t0 = time.perf_counter()
    ref = scipy_dijkstra(csr, indices=src)[:, dst]
    scipy_s = time.perf_counter() - t0
    res["matrix"] = {
        "size": matrix_size,
        "ch_s": min(runs),
        "ch_threads": threads,
        "ch_1thread_s": one_thread,
        "scipy_s": scipy_s,
        "speedup_vs_scipy": scipy_s / min(runs),
        "agree": bool(np.array_equal(mat, ref.astype(np.int64))),
    }
    progress(f"{kind}: pandana")
    res["pandana"] = bench_pandana(net, batch_arr, src, dst, batch_dist, mat)
    return res


def run(
    *,
    data_dir: Path,
    quick: bool = False,
    synthetic_nodes: int = 100_000,
    seed: int = 0,
    out_dir: Path = RESULTS_DIR,
    progress: Callable[[str], None] | None = None,
    with_compile: bool = True,
) -> dict[str, Any]:
    """Run the benchmark and write ``paths.json`` and ``paths.md`` into ``out_dir``."""
    from routing import warm_up

    say = progress or (lambda _m: None)
    result: dict[str, Any] = {
        "benchmark": "paths",
        "date": time.strftime("%Y-%m-%d"),
        "quick": quick,
        "machine": machine_info("scipy", "networkx", "pandana"),
    }
    if with_compile:
        say("numba compile time (empty cache, subprocess)")
        result["compile"] = compile_times()
    warm_up()
    params = dict(
        pairs=300 if quick else 2000,
        batch_pairs=10_000 if quick else 100_000,
        slow_pairs=30 if quick else 200,
        nx_pairs=20 if quick else 100,
        matrix_size=200 if quick else 1000,
        seed=seed,
    )
    graphs = []
    with tempfile.TemporaryDirectory(prefix="mobility-bench-") as tmp:
        for kind in ("jamsil", "manhattan", "synthetic"):
            graphs.append(
                bench_graph(
                    kind,
                    data_dir=data_dir,
                    cache_dir=Path(tmp),
                    synthetic_nodes=20_000 if quick else synthetic_nodes,
                    progress=say,
                    **params,
                )
            )
    result["graphs"] = graphs
    result["targets"] = target_verdicts(graphs[-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "paths.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "paths.md").write_text(to_markdown(result))
    return result


def pandana_verdicts(g: dict[str, Any]) -> dict[str, bool] | None:
    """Whether we are at least as fast as pandana on graph ``g`` (build, batched one-to-one
    against the faster of its Python call and its C++ call, matrix); ``None`` without pandana."""
    pd_ = g.get("pandana") or {}
    if not pd_.get("installed"):
        return None
    return {
        "build": g["ch_build_s"] <= pd_["build_s"],
        "one_to_one_batched": g["ch_batch_us_per_query"]
        <= min(pd_["batch_us_per_query"], pd_["batch_core_us_per_query"]),
        "matrix": g["matrix"]["ch_s"] <= pd_["matrix_s"],
    }


def target_verdicts(g: dict[str, Any]) -> dict[str, Any]:
    """The targets on graph ``g``; ``met`` is ``None`` (not judged) where ``g`` or its matrix is
    smaller than the size the target refers to."""
    p50 = g["one_to_one"]["ch"]["p50_us"]
    mat = g["matrix"]
    graph_at_size = g["nodes"] >= TARGET_NODES
    matrix_at_size = graph_at_size and mat["size"] >= TARGET_MATRIX

    def verdict(ok: bool, at_size: bool) -> bool | None:
        return ok if at_size else None

    out = {
        "graph": g["label"],
        "ch_p50_under_50us": {"value_us": p50, "met": verdict(p50 < 50.0, graph_at_size)},
        "matrix_under_1s": {
            "value_s": round(mat["ch_s"], 3),
            "size": mat["size"],
            "met": verdict(mat["ch_s"] < 1.0, matrix_at_size),
        },
        "matrix_20x_scipy": {
            "speedup": round(mat["speedup_vs_scipy"], 1),
            "met": verdict(mat["speedup_vs_scipy"] >= 20.0, matrix_at_size),
        },
    }
    vs = pandana_verdicts(g)
    if vs is not None:
        out["at_least_pandana"] = {
            "build": verdict(vs["build"], graph_at_size),
            "one_to_one_batched": verdict(vs["one_to_one_batched"], graph_at_size),
            "matrix": verdict(vs["matrix"], matrix_at_size),
        }
    return out


def _verdict(met: bool | None) -> str:
    if met is None:
        return "not judged at this size"
    return f"**{'met' if met else 'not met'}**"


def _fmt_s(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Measured {result['date']} on {m['cpu']} ({m['cores']} cores, {m['numba_threads']} Numba threads), "
        f"Python {m['python']}, Numba {m['numba']}, SciPy {m['scipy']}, networkx {m['networkx']}"
        + (f", pandana {m['pandana']}." if m.get("pandana", "not installed") != "not installed" else ".")
        + (" **Quick run (reduced sizes).**" if result.get("quick") else ""),
        "",
        "| graph | nodes | edges | load cold | load cached | CH build | shortcuts | CH after weight change |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in result["graphs"]:
        lines.append(
            f"| {g['label']} | {g['nodes']:,} | {g['edges']:,} | {_fmt_s(g['load_cold_s'])} | "
            f"{_fmt_s(g['load_cached_s'])} | {_fmt_s(g['ch_build_s'])} | {g['shortcuts']:,} | "
            f"{_fmt_s(g['ch_recontract_s'])} |"
        )
    lines += [
        "",
        "One-to-one travel time, single calls from Python, latency p50 / p99 in µs "
        "(scipy computes all distances from the source: it has no early exit):",
        "",
        "| graph | CH | bidirectional Dijkstra (Numba) | scipy Dijkstra | networkx bidirectional "
        "| CH batched, per query (µs) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for g in result["graphs"]:
        o = g["one_to_one"]

        def cell(k: str, o: dict[str, Any] = o) -> str:
            return f"{o[k]['p50_us']:,.1f} / {o[k]['p99_us']:,.1f}"

        lines.append(
            f"| {g['label']} | {cell('ch')} | {cell('bidirectional_dijkstra')} | {cell('scipy')} | "
            f"{cell('networkx')} | {g['ch_batch_us_per_query']:.1f} |"
        )
    lines += [
        "",
        "Travel-time matrix, random sources x random targets:",
        "",
        "| graph | size | CH many-to-many | CH, 1 thread | scipy Dijkstra (1 thread) | speed-up | equal |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for g in result["graphs"]:
        mt = g["matrix"]
        lines.append(
            f"| {g['label']} | {mt['size']} x {mt['size']} | {_fmt_s(mt['ch_s'])} ({mt['ch_threads']} threads) | "
            f"{_fmt_s(mt['ch_1thread_s'])} | {_fmt_s(mt['scipy_s'])} | {mt['speedup_vs_scipy']:.0f}x | "
            f"{'yes' if mt['agree'] else '**NO**'} |"
        )
    if any((g.get("pandana") or {}).get("installed") for g in result["graphs"]):
        lines += [
            "",
            "Against pandana (C++ contraction hierarchy) on the same graphs, pairs and matrix, ours / pandana. "
            "Batched one-to-one: our `Router.travel_time(arrays)` against pandana's `shortest_path_lengths` "
            "(and, in brackets, the C++ call underneath it); pandana has no many-to-many query, so its matrix "
            "is `shortest_path_lengths` over every source-target pair. Met: ours at least as fast "
            "(one-to-one: as the faster of pandana's two):",
            "",
            "| graph | CH build | batched one-to-one, µs/query | matrix | equal | build | one-to-one | matrix |",
            "|---|---:|---:|---:|:---:|:---:|:---:|:---:|",
        ]
        for g in result["graphs"]:
            pd_ = g.get("pandana") or {}
            if not pd_.get("installed"):
                continue
            vs = pandana_verdicts(g) or {}
            equal = pd_["batch_agree"] and pd_["matrix_agree"]
            lines.append(
                f"| {g['label']} | {_fmt_s(g['ch_build_s'])} / {_fmt_s(pd_['build_s'])} | "
                f"{g['ch_batch_us_per_query']:.2f} / {pd_['batch_us_per_query']:.2f} "
                f"({pd_['batch_core_us_per_query']:.2f}) | "
                f"{_fmt_s(g['matrix']['ch_s'])} / {_fmt_s(pd_['matrix_s'])} | {'yes' if equal else '**NO**'} | "
                + " | ".join(_verdict(vs[k]) for k in ("build", "one_to_one_batched", "matrix"))
                + " |"
            )
    if "compile" in result:
        c = result["compile"]
        lines += [
            "",
            f"Numba: compiling every routing kernel takes {c['compile_s']:.1f} s on a machine's first run "
            f"(empty cache); later starts load them from the on-disk cache in {c['cached_start_s']:.1f} s.",
        ]
    t = result["targets"]
    side = t["matrix_under_1s"]["size"]
    lines += [
        "",
        f"Targets on the {t['graph']}: CH one-to-one p50 under 50 µs — "
        f"{t['ch_p50_under_50us']['value_us']:.1f} µs, {_verdict(t['ch_p50_under_50us']['met'])}; "
        f"{side} x {side} matrix under 1 s — "
        f"{t['matrix_under_1s']['value_s']} s, {_verdict(t['matrix_under_1s']['met'])}; "
        f"at least 20x faster than scipy — {t['matrix_20x_scipy']['speedup']}x, "
        f"{_verdict(t['matrix_20x_scipy']['met'])}."
        + (
            " At least as fast as pandana — build {}, batched one-to-one {}, matrix {}.".format(
                *(_verdict(t["at_least_pandana"][k]) for k in ("build", "one_to_one_batched", "matrix"))
            )
            if "at_least_pandana" in t
            else ""
        ),
    ]
    if None in (t[k]["met"] for k in ("ch_p50_under_50us", "matrix_under_1s", "matrix_20x_scipy")):
        lines.append(
            f"The targets refer to a {TARGET_NODES:,}-node grid and a {TARGET_MATRIX} x {TARGET_MATRIX} matrix; "
            "this run measured smaller ones, so it gives no verdict on them."
        )
    lines.append("")
    return "\n".join(lines)
