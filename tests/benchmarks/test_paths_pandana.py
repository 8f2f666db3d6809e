"""The pandana peer of `mobility bench paths`: verdicts, unit conversion and the Markdown table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from benchmarks import paths
from routing import UNREACHABLE


def graph(nodes: int, side: int, *, build: float, batch: float, matrix: float, pandana: Any) -> dict[str, Any]:
    return {
        "label": "grid",
        "nodes": nodes,
        "edges": 4 * nodes,
        "load_cold_s": 0.1,
        "load_cached_s": 0.01,
        "ch_build_s": build,
        "shortcuts": nodes,
        "ch_recontract_s": build / 2,
        "ch_batch_us_per_query": batch,
        "one_to_one": {
            k: {"p50_us": 10.0, "p99_us": 20.0, "n": 1} for k in ("ch", "bidirectional_dijkstra", "scipy", "networkx")
        },
        "matrix": {
            "size": side,
            "ch_s": matrix,
            "ch_threads": 2,
            "ch_1thread_s": 2 * matrix,
            "scipy_s": 1.0,
            "speedup_vs_scipy": 1.0 / matrix,
            "agree": True,
        },
        "pandana": pandana,
    }


def peer(build: float, api_us: float, core_us: float, matrix: float, *, equal: bool = True) -> dict[str, Any]:
    return {
        "installed": True,
        "build_s": build,
        "batch_us_per_query": api_us,
        "batch_core_us_per_query": core_us,
        "batch_agree": equal,
        "matrix_s": matrix,
        "matrix_agree": True,
    }


def test_verdicts_compare_with_the_faster_of_pandanas_two_calls():
    g = graph(100_000, 1000, build=2.0, batch=5.0, matrix=0.02, pandana=peer(2.5, 6.0, 4.9, 4.0))
    assert paths.pandana_verdicts(g) == {"build": True, "one_to_one_batched": False, "matrix": True}
    g = graph(100_000, 1000, build=3.0, batch=4.8, matrix=5.0, pandana=peer(2.5, 6.0, 4.9, 4.0))
    assert paths.pandana_verdicts(g) == {"build": False, "one_to_one_batched": True, "matrix": False}


def test_targets_judge_pandana_only_at_size_and_only_when_measured():
    slow = peer(1.0, 1.0, 1.0, 0.001)
    full = paths.target_verdicts(graph(paths.TARGET_NODES, paths.TARGET_MATRIX, build=2, batch=5, matrix=0.02,
                                       pandana=slow))  # fmt: skip
    assert full["at_least_pandana"] == {"build": False, "one_to_one_batched": False, "matrix": False}
    small = paths.target_verdicts(graph(20_000, 200, build=2, batch=5, matrix=0.02, pandana=slow))
    assert set(small["at_least_pandana"].values()) == {None}
    absent = paths.target_verdicts(graph(20_000, 200, build=2, batch=5, matrix=0.02, pandana={"installed": False}))
    assert "at_least_pandana" not in absent


def test_pandana_times_become_integer_seconds_with_our_unreachable():
    got = paths.pandana_times([0.0, 12.0, 3599.999, paths.PANDANA_UNREACHABLE])
    assert got.dtype == np.int64
    assert got.tolist() == [0, 12, 3600, UNREACHABLE]


@pytest.mark.parametrize("equal", [True, False])
def test_markdown_has_a_pandana_row_with_verdicts(equal: bool):
    g = graph(100_000, 1000, build=2.0, batch=5.0, matrix=0.02, pandana=peer(2.5, 6.0, 5.5, 4.0, equal=equal))
    result = {
        "date": "2026-12-05",
        "quick": False,
        "machine": {
            "cpu": "cpu",
            "cores": 2,
            "numba_threads": 2,
            "python": "3.11",
            "numba": "0.6",
            "scipy": "1",
            "networkx": "3",
            "pandana": "0.8",
        },
        "graphs": [g],
        "targets": paths.target_verdicts(g),
    }
    md = paths.to_markdown(result)
    assert "pandana 0.8" in md.splitlines()[0]
    row = next(line for line in md.splitlines() if line.startswith("| grid | 2.00 s / 2.50 s"))
    assert row.count("**met**") == 3
    assert ("| yes |" in row) is equal and ("**NO**" in row) is not equal
