"""A tiny hand-made road network for the bus line tests (test_transit.py, test_feeder.py).

Nodes 0-1-2-3-4 on a straight street and a side street 2-5-6, every link 500 m and 60 s both
ways (a benchmark ``.xy`` + ``.d`` graph written into a folder); stop ``i`` sits on node ``i``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from planning import TransitProblem
from sim.scenario import Scenario
from sim.transit import LineNetwork, LinesSpec, route_patterns

LINK_S = 60
ARCS = [(0, 1), (1, 2), (2, 3), (3, 4), (2, 5), (5, 6)]
XY = [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (2, 1), (2, 2)]
T0 = 7 * 3600


def write_tiny_network(folder: Path) -> Path:
    stem = folder / "tiny"
    stem.with_suffix(".xy").write_text(f"{len(XY)}\n" + "".join(f"{k} {x} {y}\n" for k, (x, y) in enumerate(XY)))
    arcs = [(a, b) for a, b in ARCS] + [(b, a) for a, b in ARCS]
    stem.with_suffix(".d").write_text(f"{len(arcs)}\n" + "".join(f"{a} {b} {LINK_S}\n" for a, b in arcs))
    return stem


def tiny_scenario(folder: Path, **overrides: Any) -> Scenario:
    doc: dict[str, Any] = {
        "scenario": {"name": "tiny", "seed": 1, "start": "07:00", "end": "09:00"},
        "network": {
            "kind": "benchmark",
            "path": str(write_tiny_network(folder).parent),
            "coord_unit_m": 500,
            "time_unit_s": 1,
        },
        "stops": {"kind": "nodes"},
        "fleet": {"vehicles": 1, "seats": 4, "shift_start": "07:00", "shift_end": "10:00"},
        "service": {"max_wait_s": 900, "service_start_s": 6 * 3600, "service_end_s": 23 * 3600},
        "demand": {"kind": "profile", "total": 0, "profile": "flat"},
        "traffic": {"model": "none"},
        "dispatch": {"reoptimise_every_s": 0, "reoptimise_iterations": 0},
    }
    for section, values in overrides.items():
        doc.setdefault(section, {}).update(values)
    return Scenario.from_dict(doc)


def tiny_lines(routes: list[list[int]], headway_min: list[float], *, spec: LinesSpec, last_s: int = T0,
               problem: TransitProblem | None = None) -> LineNetwork:  # fmt: skip
    pats = route_patterns(routes, headway_min, lambda a, b: LINK_S, first_s=T0, last_s=last_s,
                          dwell_base_s=spec.dwell_base_s)  # fmt: skip
    return LineNetwork(
        node_road=np.arange(len(XY), dtype=np.int64),
        node_names=tuple(f"S{k}" for k in range(len(XY))),
        line_names=tuple("AB"[: len(routes)]),
        patterns=pats,
        demand=np.asarray(problem.demand) if problem is not None else None,
        problem=problem,
        routes=[np.asarray(r, np.int64) for r in routes] if problem is not None else None,
        transfer_penalty_min=5.0,
        planned_headway_min=np.asarray(headway_min, np.float64),
    )
