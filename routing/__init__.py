"""Roads and schedules: road networks, shortest paths, snapping and stops; pickup-and-delivery
problems, their solvers and the independent checker.

The public API of the foundation layer:

* :func:`load_network` — OSM XML / bz2 / PBF / osmnx GraphML to a cached :class:`RoadNetwork`;
* :func:`read_manhattan` — the Manhattan ride-sharing benchmark graph (``.xy`` + ``.d``, units as options);
* :func:`speed_warning` — the loaders' check that a network's mean free-flow speed is plausible;
* :func:`synthetic_city` — a deterministic perturbed-grid city (labelled synthetic);
* :class:`Router` — exact travel times, paths and matrices by contraction hierarchy;
  :class:`TravelTimes` (:class:`HierarchyTimes`, :class:`MatrixTimes`) — pairs and blocks
  of travel times for dispatchers, with a bounded cache instead of an all-pairs matrix;
  :func:`warm_up` compiles its kernels;
* :func:`nearest_nodes`, :func:`snap` — snapping points to the network;
* :func:`virtual_stops` — stops covering the network for stop-based service;
* :class:`PDProblem` and :func:`solve` — pickup-and-delivery problems (DARP, PDPTW, the
  dispatcher's re-optimisation) as immutable arrays, and their solver (:class:`SolveParams`,
  stopping criteria :class:`MaxRuntime`, :class:`MaxIterations`, :class:`Deadline`,
  :class:`FirstOf`; the :class:`Result`), whose kernels :func:`warm_up_solver` compiles;
  :func:`read_instance`, :func:`read_cordeau_darp`, :func:`read_li_lim` read the benchmark files;
* :func:`check_solution` — the independent feasibility checker of any solution (a :class:`CheckReport`);
* :class:`FleetPlan` — a live fleet's routes as named arrays, with queries on them;
  :class:`LocationPool` — the places its plans visit now, in a bounded pool of slots whose
  travel times come from the hierarchy (:mod:`routing.buckets`), instead of a stop matrix;
* :class:`ProblemArrays`, :class:`RouteState`, :class:`CostWeights` — the schedule kernels'
  named data (:mod:`routing.schedule`); the ALNS kernels live in :mod:`routing.alns`.

This package imports nothing from the other packages of the engine.
"""

from .benchmark_graphs import MANHATTAN_COORD_UNIT_M, MANHATTAN_TIME_UNIT_S, read_manhattan
from .ch import ContractionHierarchy
from .checker import CheckReport, check_solution, check_solution_file, solution_cost
from .config import UNREACHABLE
from .dijkstra import (
    bidirectional_dijkstra,
    dijkstra_matrix,
    dijkstra_one_to_all,
    dijkstra_one_to_many,
    dijkstra_one_to_one,
    dijkstra_within,
)
from .errors import InvalidArgumentError, NetworkFileError, RoutingError, SnapError, plain_repr
from .fleet import FleetPlan, StopColumns
from .instances import iter_instances, read_cordeau_darp, read_instance, read_li_lim
from .locations import LocationPool, longest_travel_time
from .network import DEFAULT_ROAD_CLASSES, MAJOR_ROAD_CLASSES, PLAUSIBLE_SPEED_KPH, RoadNetwork, speed_warning
from .osm import KOREAN_URBAN_SPEEDS_KPH, BuildOptions, load_network, network_cache_path, write_drive_osm
from .problem import DELIVERY, END, PICKUP, START, PDProblem
from .router import NoPathError, Router, ShortestPath, warm_up
from .schedule import CostWeights, ProblemArrays, RouteState, kernel_arrays
from .snapping import SnapResult, nearest_nodes, nearest_nodes_xy, snap
from .solve import Deadline, FirstOf, MaxIterations, MaxRuntime, Result, SolveParams, StoppingCriterion, solve
from .stop_files import STOP_FILE_KINDS, StopFileError, StopPoints, read_stop_points, stops_from_points
from .stops import StopSet, all_node_stops, coverage_m, virtual_stops
from .synthetic import synthetic_city
from .traveltime import HierarchyTimes, MatrixTimes, TravelTimes
from .warm import warm_up_solver

__all__ = [
    "DEFAULT_ROAD_CLASSES",
    "DELIVERY",
    "END",
    "KOREAN_URBAN_SPEEDS_KPH",
    "MAJOR_ROAD_CLASSES",
    "MANHATTAN_COORD_UNIT_M",
    "MANHATTAN_TIME_UNIT_S",
    "PICKUP",
    "PLAUSIBLE_SPEED_KPH",
    "START",
    "STOP_FILE_KINDS",
    "UNREACHABLE",
    "BuildOptions",
    "CheckReport",
    "ContractionHierarchy",
    "CostWeights",
    "Deadline",
    "FirstOf",
    "FleetPlan",
    "HierarchyTimes",
    "InvalidArgumentError",
    "LocationPool",
    "MatrixTimes",
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
    "StopFileError",
    "StopPoints",
    "StopSet",
    "StoppingCriterion",
    "TravelTimes",
    "all_node_stops",
    "bidirectional_dijkstra",
    "check_solution",
    "check_solution_file",
    "coverage_m",
    "dijkstra_matrix",
    "dijkstra_one_to_all",
    "dijkstra_one_to_many",
    "dijkstra_one_to_one",
    "dijkstra_within",
    "iter_instances",
    "kernel_arrays",
    "load_network",
    "longest_travel_time",
    "nearest_nodes",
    "nearest_nodes_xy",
    "network_cache_path",
    "plain_repr",
    "read_cordeau_darp",
    "read_instance",
    "read_li_lim",
    "read_manhattan",
    "read_stop_points",
    "snap",
    "solution_cost",
    "solve",
    "speed_warning",
    "stops_from_points",
    "synthetic_city",
    "virtual_stops",
    "warm_up",
    "warm_up_solver",
    "write_drive_osm",
]
