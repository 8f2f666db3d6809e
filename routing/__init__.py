"""Roads and schedules: road networks, shortest paths, snapping and stops.

The public API of the foundation layer:

* :func:`load_network` — OSM XML / bz2 / PBF / osmnx GraphML to a cached :class:`RoadNetwork`;
* :func:`read_manhattan` — the Manhattan ride-sharing benchmark graph (``.xy`` + ``.d``, units as options);
* :func:`speed_warning` — the loaders' check that a network's mean free-flow speed is plausible;
* :func:`synthetic_city` — a deterministic perturbed-grid city (labelled synthetic);
* :class:`Router` — exact travel times, paths and matrices by contraction hierarchy;
* :func:`nearest_nodes`, :func:`snap` — snapping points to the network;
* :func:`virtual_stops` — stops covering the network for stop-based service;
* :class:`PDProblem` and :func:`solve` — pickup-and-delivery problems and their solver
  (:class:`SolveParams`, stopping criteria :class:`MaxRuntime`, :class:`MaxIterations`,
  :class:`Deadline`, :class:`FirstOf`; the :class:`Result`);
* :class:`FleetPlan` — a live fleet's routes as named arrays, with queries on them;
* :class:`ProblemArrays`, :class:`RouteState`, :class:`CostWeights` — the schedule kernels'
  named data (:mod:`routing.schedule`); the ALNS kernels live in :mod:`routing.alns`.

This package imports nothing from the other packages of the engine.
"""

from .benchmark_graphs import MANHATTAN_COORD_UNIT_M, MANHATTAN_TIME_UNIT_S, read_manhattan
from .ch import ContractionHierarchy
from .config import UNREACHABLE
from .dijkstra import (
    bidirectional_dijkstra,
    dijkstra_matrix,
    dijkstra_one_to_all,
    dijkstra_one_to_many,
    dijkstra_one_to_one,
)
from .errors import InvalidArgumentError, NetworkFileError, RoutingError, SnapError, plain_repr
from .fleet import FleetPlan, StopColumns
from .network import PLAUSIBLE_SPEED_KPH, RoadNetwork, speed_warning
from .osm import KOREAN_URBAN_SPEEDS_KPH, BuildOptions, load_network, network_cache_path
from .problem import PDProblem
from .router import NoPathError, Router, ShortestPath, warm_up
from .schedule import CostWeights, ProblemArrays, RouteState, kernel_arrays
from .snapping import SnapResult, nearest_nodes, nearest_nodes_xy, snap
from .solve import Deadline, FirstOf, MaxIterations, MaxRuntime, Result, SolveParams, StoppingCriterion, solve
from .stops import StopSet, all_node_stops, coverage_m, virtual_stops
from .synthetic import synthetic_city

__all__ = [
    "KOREAN_URBAN_SPEEDS_KPH",
    "MANHATTAN_COORD_UNIT_M",
    "MANHATTAN_TIME_UNIT_S",
    "PLAUSIBLE_SPEED_KPH",
    "UNREACHABLE",
    "BuildOptions",
    "ContractionHierarchy",
    "CostWeights",
    "Deadline",
    "FirstOf",
    "FleetPlan",
    "InvalidArgumentError",
    "MaxIterations",
    "MaxRuntime",
    "NetworkFileError",
    "NoPathError",
    "PDProblem",
    "ProblemArrays",
    "Result",
    "RoadNetwork",
    "RouteState",
    "Router",
    "RoutingError",
    "ShortestPath",
    "SnapError",
    "SnapResult",
    "SolveParams",
    "StopColumns",
    "StopSet",
    "StoppingCriterion",
    "all_node_stops",
    "bidirectional_dijkstra",
    "coverage_m",
    "dijkstra_matrix",
    "dijkstra_one_to_all",
    "dijkstra_one_to_many",
    "dijkstra_one_to_one",
    "kernel_arrays",
    "load_network",
    "nearest_nodes",
    "nearest_nodes_xy",
    "network_cache_path",
    "plain_repr",
    "read_manhattan",
    "snap",
    "solve",
    "speed_warning",
    "synthetic_city",
    "virtual_stops",
    "warm_up",
]
