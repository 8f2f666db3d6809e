"""Background traffic: edge travel times that change over the day.

The model is the BPR function (Bureau of Public Roads, 1964), per edge:
``t = t_free * (1 + alpha * (v/c) ** beta)``, with hourly volume/capacity ratios ``v/c`` for
major roads (motorways, trunk, primary and secondary roads and their links) and for minor
roads, interpolated linearly between the middles of the hours. Every ``update_minutes`` the
simulator takes the times of that moment and hands them to the routers and the dispatcher
(the foundation's weight-update path: the contraction hierarchy is re-contracted in its node
order), so the dispatcher plans with the times the vehicles drive.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from routing import MAJOR_ROAD_CLASSES, RoadNetwork

from .scenario import TrafficSpec


class TrafficModel:
    """Hourly BPR travel times for one network (``spec.model == "none"`` keeps free flow)."""

    def __init__(self, network: RoadNetwork, spec: TrafficSpec) -> None:
        self.network = network
        self.spec = spec
        self.free_flow = network.travel_time_s.astype(np.float64)
        self.major = network.edges_of_class(MAJOR_ROAD_CLASSES)
        self.period_s = int(spec.update_minutes * 60)

    def ratio(self, hourly: tuple[float, ...], t_s: float) -> float:
        """Volume/capacity at ``t_s``, linear between the middles of the hours."""
        h = (t_s / 3600.0 - 0.5) % 24
        lo = int(np.floor(h))
        frac = h - lo
        return (1 - frac) * hourly[lo % 24] + frac * hourly[(lo + 1) % 24]

    def travel_times(self, t_s: float) -> NDArray[np.float64]:
        """Edge travel times (s, float) at time ``t_s`` of the service clock."""
        if self.spec.model == "none":
            return self.free_flow.copy()
        a, b = self.spec.alpha, self.spec.beta
        major = 1.0 + a * self.ratio(self.spec.vc_major, t_s) ** b
        minor = 1.0 + a * self.ratio(self.spec.vc_minor, t_s) ** b
        return self.free_flow * np.where(self.major, major, minor)

    def period_start(self, t_s: int) -> int:
        """Start of the update period that contains ``t_s``."""
        return (t_s // self.period_s) * self.period_s

    @property
    def active(self) -> bool:
        return self.spec.model != "none"
