"""SUMO, the microscopic traffic simulator, as the engine's traffic simulation (issue 21).

* :func:`~sim.sumo.network.build_sumo_network` — the SUMO network of an OSM file (netconvert,
  signals from OSM or guessed), cached, with the map between its edges and the engine's
  (:class:`~sim.sumo.network.EdgeMap`, checked);
* :mod:`sim.sumo.tools` — where SUMO is installed, its programs run with clear errors.
"""

from __future__ import annotations

from .network import EdgeMap, SumoNetOptions, SumoNetwork, build_sumo_network, sumo_cache_dir
from .tools import SumoError, sumo_home, sumo_version

__all__ = [
    "EdgeMap",
    "SumoError",
    "SumoNetOptions",
    "SumoNetwork",
    "build_sumo_network",
    "sumo_cache_dir",
    "sumo_home",
    "sumo_version",
]
