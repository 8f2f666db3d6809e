"""Bus network redesign, the planners' wing: the transit route network design problem (TNDP).

* :class:`TransitProblem`, :class:`RouteRules` — a planning graph of stops with link times,
  demand and the rules of a route set (:mod:`planning.problem`);
* :func:`read_cec` — the CEC-2013 benchmark files (Mandl, Mumford0-3) and their published
  rules (:data:`CEC_INSTANCES`); :func:`load_problem` — such a folder or a city's TOML spec;
* :func:`build_city`, :func:`city_problem`, :func:`load_city` — a real city: an OSM road
  network, its stops (OSM, virtual, CSV, GTFS) aggregated into planning nodes, link times from
  road shortest paths, an OD table or a seeded gravity model (:mod:`planning.city`,
  :mod:`planning.stops_io`, :mod:`planning.od`);
* route sets (:mod:`planning.routeset`): :func:`read_route_set`, :func:`write_route_set` and
  the independent feasibility check :func:`check_route_set`;
* :class:`Evaluator`, :func:`evaluate` — passengers' journeys with transfers (ATT, d0..dun),
  total route time, circuity and overlap, route loads (Numba kernels);
* :func:`candidate_routes` (:class:`CandidatePool`) and :func:`set_cover` (OR-Tools CP-SAT) —
  candidate routes and the route sets that seed the search;
* :func:`design` (:class:`DesignParams`, :class:`DesignResult`) — the genetic search: a
  passenger-first mode and NSGA-II (pymoo) for the ATT-TRT front (:mod:`planning.search`);
* :func:`set_frequencies` (:class:`Frequencies`), :func:`compare_networks`
  (:class:`NetworkComparison`), :func:`write_gtfs` / :func:`read_gtfs_routes`,
  :func:`plot_routes` / :func:`plot_front` — headways, before/after, GTFS and maps;
  :func:`read_osm_bus_lines` (:class:`ExistingLines`) — a city's existing bus lines from the OSM
  route relations of its extract, the "before" of a redesign.

This room imports :mod:`routing` only; the simulator, the engine and the command line import it.
"""

from .candidates import CandidatePool, candidate_routes
from .cec import CEC_INSTANCES, CecInstance, read_cec
from .city import CityBuild, build_city, city_problem, cluster_points, load_city, load_problem
from .compare import NetworkComparison, RouteMatch, compare_networks
from .errors import InvalidRouteSetError, PlanningError, PlanningFileError
from .evaluate import Evaluation, Evaluator, evaluate
from .frequencies import Frequencies, set_frequencies, wait_min_per_trip
from .gtfs import read_gtfs_routes, write_gtfs
from .od import OdTable, gravity_demand, read_od
from .osm_lines import ExistingLines, read_osm_bus_lines
from .plots import plot_front, plot_routes
from .problem import TRANSFER_PENALTY_MIN, RouteRules, TransitProblem
from .routeset import (
    RouteSet,
    as_route_set,
    check_route_set,
    flatten,
    read_published_route_sets,
    read_route_set,
    validate_route_set,
    write_route_set,
)
from .search import DesignParams, DesignResult, design
from .setcover import set_cover
from .stops_io import StopTable, read_stops

__all__ = [
    "CEC_INSTANCES",
    "TRANSFER_PENALTY_MIN",
    "CandidatePool",
    "CecInstance",
    "CityBuild",
    "DesignParams",
    "DesignResult",
    "Evaluation",
    "Evaluator",
    "ExistingLines",
    "Frequencies",
    "InvalidRouteSetError",
    "NetworkComparison",
    "OdTable",
    "PlanningError",
    "PlanningFileError",
    "RouteMatch",
    "RouteRules",
    "RouteSet",
    "StopTable",
    "TransitProblem",
    "as_route_set",
    "build_city",
    "candidate_routes",
    "check_route_set",
    "city_problem",
    "cluster_points",
    "compare_networks",
    "design",
    "evaluate",
    "flatten",
    "gravity_demand",
    "load_city",
    "load_problem",
    "plot_front",
    "plot_routes",
    "read_cec",
    "read_gtfs_routes",
    "read_od",
    "read_osm_bus_lines",
    "read_published_route_sets",
    "read_route_set",
    "read_stops",
    "set_cover",
    "set_frequencies",
    "validate_route_set",
    "wait_min_per_trip",
    "write_gtfs",
    "write_route_set",
]
