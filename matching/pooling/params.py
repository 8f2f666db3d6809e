"""The shared taxi's rules and the batch algorithm's budgets, as one frozen :class:`PoolingParams`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..checks import check_float, check_int, from_mapping, set_field
from ..errors import InvalidValueError


@dataclass(frozen=True, kw_only=True)
class PoolingParams:
    """Rules of a shared-taxi service (I-MOA) and budgets of its batch matching.

    Every field is checked on construction (:class:`~matching.errors.InvalidValueError` names
    the field and its allowed range); variants by :func:`dataclasses.replace`, or from a
    mapping (a TOML table) with :meth:`from_mapping`. Times are integer seconds.

    A pooled rider's constraints are hard: the pickup happens within ``max_wait_s`` of the
    request, the time in the taxi is at most ``direct * detour_factor`` and at most
    ``direct + detour_s``, and, when ``max_delay_s`` is set, the drop-off happens no later
    than ``request + direct + max_delay_s`` (the benchmark convention of Alonso-Mora et al.).
    """

    capacity: int = 4
    """Seats per taxi (1 .. 20)."""
    max_parties: int = 2
    """Bookings on board at once (1 .. capacity): 1 turns pooling off."""
    max_wait_s: int = 300
    """Longest wait from the request to the pickup (30 .. 3600 s)."""
    max_delay_s: int | None = None
    """Longest delay of the drop-off beyond request + direct time (0 .. 7200 s), or None for no such limit."""
    detour_factor: float = 1.5
    """In-vehicle time at most the direct time times this (1 .. 10)."""
    detour_s: int = 600
    """In-vehicle time at most the direct time plus this (0 .. 7200 s)."""
    dwell_s: int = 0
    """Time a taxi stands at each pickup or drop-off (0 .. 600 s)."""
    batch_s: int = 30
    """Batch window: open requests are matched every this many seconds (1 .. 600 s)."""
    batch_deadline_s: float = 2.0
    """Wall-clock budget of one batch's assignment solver (0.01 .. 600 s); greedy when it runs out."""
    trip_time_budget_s: float = 1.0
    """Wall-clock budget of one batch's trip search (0.01 .. 600 s)."""
    trips_per_vehicle: int = 200
    """Most feasible trips kept per vehicle and batch (1 .. 100000)."""
    candidates_per_vehicle: int = 30
    """Most open requests (nearest first) a vehicle is tried with per batch (1 .. 10000)."""
    vehicles_per_request: int = 30
    """Most vehicles (nearest first) a request is tried with per batch (1 .. 10000)."""
    max_trip_size: int = 4
    """Most requests (new and already assigned) in one vehicle's trip (1 .. 20)."""
    delay_weight: float = 1.0
    """Weight of a second of rider delay against a second of vehicle time (0 .. 1000)."""
    unserved_penalty_s: int = 7200
    """Cost, in vehicle-seconds, of leaving an open request unmatched in a batch (1 .. 10**7)."""
    rebalance: bool = True
    """Send idle taxis toward recent unserved demand after each batch."""
    rebalance_window_s: int = 900
    """How far back unserved requests count as demand for rebalancing (60 .. 86400 s)."""

    def __post_init__(self) -> None:
        set_field(self, "capacity", check_int("capacity", self.capacity, 1, 20, unit="seats"))
        set_field(self, "max_parties", check_int("max_parties", self.max_parties, 1, self.capacity))
        set_field(self, "max_wait_s", check_int("max_wait_s", self.max_wait_s, 30, 3600, unit="s"))
        if self.max_delay_s is not None:
            set_field(self, "max_delay_s", check_int("max_delay_s", self.max_delay_s, 0, 7200, unit="s"))
        set_field(self, "detour_factor", check_float("detour_factor", self.detour_factor, 1.0, 10.0))
        set_field(self, "detour_s", check_int("detour_s", self.detour_s, 0, 7200, unit="s"))
        set_field(self, "dwell_s", check_int("dwell_s", self.dwell_s, 0, 600, unit="s"))
        set_field(self, "batch_s", check_int("batch_s", self.batch_s, 1, 600, unit="s"))
        for name in ("batch_deadline_s", "trip_time_budget_s"):
            set_field(self, name, check_float(name, getattr(self, name), 0.01, 600.0, unit="s"))
        set_field(self, "trips_per_vehicle", check_int("trips_per_vehicle", self.trips_per_vehicle, 1, 100_000))
        for name in ("candidates_per_vehicle", "vehicles_per_request"):
            set_field(self, name, check_int(name, getattr(self, name), 1, 10_000))
        set_field(self, "max_trip_size", check_int("max_trip_size", self.max_trip_size, 1, 20))
        set_field(self, "delay_weight", check_float("delay_weight", self.delay_weight, 0.0, 1000.0))
        set_field(
            self, "unserved_penalty_s", check_int("unserved_penalty_s", self.unserved_penalty_s, 1, 10**7, unit="s")
        )
        if not isinstance(self.rebalance, bool):
            raise InvalidValueError("rebalance", f"expected true or false, got {self.rebalance!r}", "true, false")
        set_field(
            self, "rebalance_window_s", check_int("rebalance_window_s", self.rebalance_window_s, 60, 86400, unit="s")
        )

    def max_ride_s(self, direct_s: int) -> int:
        """Longest time in the taxi for a trip whose direct time is ``direct_s``."""
        return int(min(direct_s * self.detour_factor, direct_s + self.detour_s))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PoolingParams:
        """Params from a mapping of field names (a TOML table); unknown keys are refused."""
        return from_mapping(cls, data, prefix="pooling.")
