"""SUMO, the microscopic traffic simulator, as the engine's traffic simulation (issue 21).

* :func:`~sim.sumo.network.build_sumo_network` — the SUMO network of an OSM file (netconvert,
  signals from OSM or guessed), cached, with the map between its edges and the engine's
  (:class:`~sim.sumo.network.EdgeMap`, checked);
* :mod:`sim.sumo.session` — one libsumo simulation, always closed;
* :mod:`sim.sumo.fleet` — the DRT fleet driven by SUMO, the measured times fed back, traffic KPIs;
* :mod:`sim.sumo.background` and :mod:`sim.sumo.measure` — background traffic by hour (SUMO's
  randomTrips and duarouter), its measurement and calibration against the BPR profile;
* :mod:`sim.sumo.crosscheck` — the same day with BPR and with SUMO;
* :mod:`sim.sumo.emergency` — emergency vehicles with and without signal priority;
  :mod:`sim.sumo.replay` — a day's fleet drives as a SUMO routes file;
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
