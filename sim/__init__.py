"""A service day, simulated: demand, traffic, the event loop, KPIs and reports.

* :class:`Scenario` — a scenario file (deployment, demand, traffic, dispatch), with its
  :class:`DemandSpec`, :class:`TrafficSpec` and :class:`DispatchSpec`; :class:`ScenarioError`;
* :class:`Simulation` (and :func:`simulate`, setup, run and report in one call) — the event loop
  that moves the vehicles and drives a dispatcher through a :class:`Backend`:
  :class:`InProcessBackend` (a :class:`~matching.Dispatcher` in this process) or
  :class:`RemoteBackend` (a live engine over gRPC, with :class:`ClientTLS`);
* :class:`TrafficModel` — edge travel times over the day (hourly BPR); :mod:`sim.sumo` — SUMO as
  the traffic simulation (``[traffic] model = "sumo"``: the fleet driven in SUMO in a closed loop,
  background traffic, the BPR cross-check, emergency vehicles and signal priority);
  :class:`DemandItem` — one generated request;
* :class:`SimOutput` and its records (:class:`RideRecord`, :class:`VehicleRecord`, :class:`Drive`,
  :class:`StopVisit`); :func:`compute_kpis`, :func:`write_report` (CSV, GeoJSON of
  :mod:`sim.geo`, plots of :mod:`sim.plots`), :func:`format_summary`;
* components that run beside the fleet (:class:`~sim.simulator.Component`, chosen by the
  scenario's sections): bus lines (:mod:`sim.transit`, ``[lines]``), feeder journeys
  (:mod:`sim.feeder`, ``[feeder]``), semi-fixed routes (:mod:`sim.semifixed`,
  ``[semi_fixed]``), sub-zones (:mod:`sim.subzones`, ``[subzones]``);
* planners' tools: fleet by time of day (:mod:`sim.fleet_plan`), ``--set`` overrides
  (:mod:`sim.overrides`), replications and sweeps on Ray (:mod:`sim.sweep`), comparisons of
  two runs (:mod:`sim.compare`); demand sources (:mod:`sim.demand_sources`).

Imports ``routing``, ``matching`` and ``planning``; talks to a live engine only through the gRPC client
(:mod:`sim.remote`, loaded on first use of its names so that an in-process run does not load gRPC).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .demand import DemandItem
from .kpi import compute_kpis
from .records import Drive, RideRecord, SimOutput, StopVisit, VehicleRecord
from .report import format_summary, write_report
from .scenario import DemandSpec, DispatchSpec, Scenario, ScenarioError, TrafficSpec
from .simulator import Backend, InProcessBackend, Simulation, simulate
from .traffic import TrafficModel

if TYPE_CHECKING:
    from proto.client import ClientTLS

    from .remote import EngineMismatch, EngineRefused, EngineUnreachable, RemoteBackend

#: Names of :mod:`sim.remote`, imported when first asked for (it loads gRPC and the generated code).
_REMOTE = ("ClientTLS", "EngineMismatch", "EngineRefused", "EngineUnreachable", "RemoteBackend")

__all__ = [
    "Backend",
    "ClientTLS",
    "DemandItem",
    "DemandSpec",
    "DispatchSpec",
    "Drive",
    "EngineMismatch",
    "EngineRefused",
    "EngineUnreachable",
    "InProcessBackend",
    "RemoteBackend",
    "RideRecord",
    "Scenario",
    "ScenarioError",
    "SimOutput",
    "Simulation",
    "StopVisit",
    "TrafficModel",
    "TrafficSpec",
    "VehicleRecord",
    "compute_kpis",
    "format_summary",
    "simulate",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _REMOTE:
        return getattr(importlib.import_module(".remote", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
