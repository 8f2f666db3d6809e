"""A simulated day's fleet drives as a SUMO routes file (to replay them beside other traffic).

Each drive of a :class:`~sim.records.SimOutput` with a path becomes one SUMO vehicle
``drt:<vehicle>:<k>`` that leaves at the drive's departure along the SUMO edges of its engine
path (:meth:`~sim.sumo.network.EdgeMap.sumo_route`), typed as the fleet's 7 m minibus. Replayed
beside an emergency run (:mod:`sim.sumo.emergency`), their time lost with and without signal
priority is the delay priority causes the DRT fleet. Where SUMO's junction lacks a turn of the
path, SUMO's shortest path fills the gap; drives with an edge without a SUMO chain, or with no
way across a gap, are left out and counted.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from routing import RoadNetwork

from ..records import SimOutput
from .network import SumoNetwork, connect_route

#: the vehicle id prefix of replayed fleet drives
DRT_PREFIX = "drt:"


def write_fleet_routes(
    out: SimOutput,
    sumo: SumoNetwork,
    network: RoadNetwork,
    path: str | Path,
    *,
    begin_s: int | None = None,
    end_s: int | None = None,
    shift_s: int = 0,
) -> tuple[int, int]:
    """Write the drives of ``out`` leaving in ``[begin_s, end_s)`` as SUMO vehicles (module
    docstring) to ``path``, departing ``shift_s`` later than they did (to replay a window of the
    day in a simulation that starts elsewhere); returns (drives written, drives left out)."""
    snet = sumo.sumolib_net()

    def successors(a: str) -> set[str]:
        return {e.getID() for e in snet.getEdge(a).getOutgoing()}

    def shortest(a: str, b: str) -> list[str]:
        found, _ = snet.getShortestPath(snet.getEdge(a), snet.getEdge(b))
        return [e.getID() for e in found] if found else []

    rows: list[tuple[int, str, list[str]]] = []
    skipped = 0
    counts: dict[str, int] = {}
    for d in out.drives:
        if len(d.nodes) < 2 or (begin_s is not None and d.depart_s < begin_s):
            continue
        if end_s is not None and d.depart_s >= end_s:
            continue
        nodes = np.asarray(d.nodes, np.int64)
        edges = network.edge_ids(nodes[:-1], nodes[1:])
        if (edges < 0).any() or any(sumo.edge_map.indptr[e + 1] == sumo.edge_map.indptr[e] for e in edges):
            skipped += 1
            continue
        route = connect_route(sumo.edge_map.sumo_route(edges), successors, shortest)
        if route is None:
            skipped += 1
            continue
        k = counts.get(d.vehicle_id, 0)
        counts[d.vehicle_id] = k + 1
        rows.append((int(d.depart_s) + shift_s, f"{DRT_PREFIX}{d.vehicle_id}:{k}", route))
    rows.sort(key=lambda r: (r[0], r[1]))  # SUMO reads departures in time order
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<routes>\n')
        fh.write('  <vType id="drt_minibus" length="7.0" vClass="passenger"/>\n')
        for depart, vid, route in rows:
            fh.write(f'  <vehicle id={quoteattr(vid)} type="drt_minibus" depart="{depart}" departLane="best">\n')
            fh.write(f"    <route edges={quoteattr(' '.join(route))}/>\n  </vehicle>\n")
        fh.write("</routes>\n")
    return len(rows), skipped
