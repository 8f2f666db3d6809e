"""The shared taxi's books: what riders pay, what drivers earn, and the I-MOA KPIs.

The dispatcher (or the simulator driving it) tells a :class:`PoolingLedger` three things as
the day goes: each completed ride (:meth:`PoolingLedger.ride_completed`, at the drop-off),
each stretch a taxi drives with who was on board (:meth:`PoolingLedger.vehicle_moved`), and
the time each taxi spends on duty (:meth:`PoolingLedger.vehicle_on_duty`).
:meth:`PoolingLedger.kpis` sums them up.

**The fare rule.** A rider pays the pooled fare (70 % of the solo fare with the default
:class:`~matching.fares.SharedTaxiFare`) when the rider asked to share **and** actually
shared part of the ride (another booking was on board with them for some stretch); every
other rider pays the solo fare, including one who asked to share but rode alone. A rider who
asked to ride alone is never pooled, so ``shared=True`` with ``asked_to_share=False`` is
refused. The driver's revenue is the sum of what the riders paid: two pooled riders with the
same solo fare bring the driver 2 x 70 % = 140 % of it. The tariff's amounts are
configurable placeholders (see :class:`~matching.fares.SharedTaxiFare`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from routing import plain_repr

from ..checks import MAX_PASSENGERS, check_id, check_int, check_time
from ..errors import ConflictError, InvalidValueError
from ..fares import SharedTaxiFare
from ..model import RiderClass

__all__ = ["KPI_KEYS", "CompletedRide", "PoolingLedger"]

#: The keys of :meth:`PoolingLedger.kpis`, in order.
KPI_KEYS = (
    "rides_completed",
    "rides_asked_to_share",
    "rides_shared",
    "passengers_completed",
    "pooled_share",
    "fares_paid_krw",
    "solo_fares_krw",
    "rider_savings_krw",
    "rider_savings_pct",
    "driver_revenue_krw",
    "vehicle_hours_on_duty",
    "vehicle_hours_driving",
    "driver_revenue_per_duty_hour_krw",
    "driver_revenue_per_driving_hour_krw",
    "solo_driver_revenue_krw",
    "solo_vehicle_hours",
    "solo_driver_revenue_per_hour_krw",
    "vehicle_km",
    "vehicle_km_empty",
    "vehicle_km_rebalancing",
    "vehicle_hours_rebalancing",
    "vehicle_km_pooled",
    "direct_km",
    "solo_vehicle_km",
    "vehicle_km_saved",
    "vehicle_km_saved_pct",
    "passenger_km",
    "mean_occupancy",
)


def _check_bool(field: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidValueError(field, f"expected true or false, got {plain_repr(value)}", "true, false")
    return bool(value)


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 0.0 when the denominator is 0 (nothing happened yet)."""
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True)
class CompletedRide:
    """One completed ride as the ledger booked it."""

    ride_id: str
    vehicle_id: str
    direct_m: int
    """Length of the direct route from the rider's origin to destination."""
    direct_s: int
    """Its driving time."""
    asked_to_share: bool
    shared: bool
    """Another booking was on board with this one for part of the ride."""
    rider_class: RiderClass
    passengers: int
    time_s: int
    """The drop-off time."""
    solo_fare_krw: int
    """What the ride costs unshared."""
    fare_krw: int
    """What the rider paid."""

    @property
    def pooled(self) -> bool:
        """Paid the pooled fare (asked to share and shared)."""
        return self.asked_to_share and self.shared


class PoolingLedger:
    """Fares, driver revenue and the I-MOA KPIs of one service day (see the module docstring).

    Args:
        fare: the tariff (the default :class:`~matching.fares.SharedTaxiFare` when None).

    Everything is kept as exact integers (KRW, metres, seconds); :meth:`kpis` converts to
    kilometres, hours and shares at the end. Memory grows with the completed rides (one
    :class:`CompletedRide` each) and the taxis, not with the stretches driven.
    """

    def __init__(self, fare: SharedTaxiFare | None = None) -> None:
        if fare is not None and not isinstance(fare, SharedTaxiFare):
            raise InvalidValueError("fare", f"got {type(fare).__name__}", "a SharedTaxiFare or None")
        self.fare = SharedTaxiFare() if fare is None else fare
        self._rides: dict[str, CompletedRide] = {}
        self._revenue: dict[str, int] = {}
        self._duty_s: dict[str, int] = {}
        self._fares_krw = 0
        self._solo_fares_krw = 0
        self._direct_m = 0
        self._direct_s = 0
        self._shared = 0
        self._asked = 0
        self._passengers = 0
        self._moving_m = 0
        self._moving_s = 0
        self._empty_m = 0
        self._empty_s = 0
        self._rebalancing_m = 0
        self._rebalancing_s = 0
        self._pooled_m = 0
        self._passenger_m = 0

    @property
    def rides(self) -> Mapping[str, CompletedRide]:
        """The completed rides by id (read-only)."""
        return MappingProxyType(self._rides)

    def vehicle_revenue_krw(self, vehicle_id: str) -> int:
        """What the riders of ``vehicle_id`` paid so far (0 for a taxi without completed rides)."""
        return self._revenue.get(vehicle_id, 0)

    def vehicle_duty_s(self, vehicle_id: str) -> int:
        """The time ``vehicle_id`` has been on duty so far."""
        return self._duty_s.get(vehicle_id, 0)

    def ride_completed(
        self,
        ride_id: str,
        vehicle_id: str,
        *,
        direct_m: int,
        direct_s: int,
        asked_to_share: bool,
        shared: bool,
        rider_class: RiderClass = RiderClass.ADULT,
        passengers: int = 1,
        time_s: int,
    ) -> int:
        """Book a ride dropped off at ``time_s``; returns the fare the rider pays (KRW).

        The pooled fare when ``asked_to_share`` and ``shared``, else the solo fare (the module
        docstring has the rule); the fare goes to the driver of ``vehicle_id``.

        Raises:
            InvalidValueError: a bad value, named (``shared`` true when ``asked_to_share`` is false).
            ConflictError: ``ride_id`` was booked already.
        """
        rid = check_id("ride_id", ride_id, scoped=True)
        vid = check_id("vehicle_id", vehicle_id)
        if rid in self._rides:
            raise ConflictError(f"ride {rid} is already completed")
        dist = check_int("direct_m", direct_m, 0, unit="m")
        secs = check_int("direct_s", direct_s, 0, unit="s")
        asked = _check_bool("asked_to_share", asked_to_share)
        was_shared = _check_bool("shared", shared)
        if was_shared and not asked:
            raise InvalidValueError("shared", "true for a ride that asked to ride alone", "false unless asked_to_share")
        rc = RiderClass.parse(rider_class)
        count = check_int("passengers", passengers, 1, MAX_PASSENGERS)
        t = check_time("time_s", time_s)
        solo = self.fare.solo_fare(dist)
        paid = self.fare.fare(rc, dist, count, pooled=asked and was_shared)
        self._rides[rid] = CompletedRide(rid, vid, dist, secs, asked, was_shared, rc, count, t, solo, paid)
        self._revenue[vid] = self._revenue.get(vid, 0) + paid
        self._fares_krw += paid
        self._solo_fares_krw += solo
        self._direct_m += dist
        self._direct_s += secs
        self._shared += was_shared
        self._asked += asked
        self._passengers += count
        return paid

    def vehicle_moved(
        self,
        vehicle_id: str,
        metres: int,
        seconds: int,
        *,
        parties_on_board: int,
        passengers_on_board: int,
        rebalancing: bool = False,
    ) -> None:
        """Book a stretch ``vehicle_id`` drove: ``metres`` in ``seconds``, with these on board.

        ``parties_on_board`` counts bookings, ``passengers_on_board`` heads (at least one per
        booking; both 0 for an empty stretch). ``rebalancing`` marks an empty stretch driven
        toward demand (:mod:`matching.pooling.rebalance`), not to a pickup.

        Raises:
            InvalidValueError: a bad value, named (passengers fewer than parties, or people
                on board during a rebalancing move).
        """
        check_id("vehicle_id", vehicle_id)
        m = check_int("metres", metres, 0, unit="m")
        s = check_int("seconds", seconds, 0, unit="s")
        parties = check_int("parties_on_board", parties_on_board, 0, MAX_PASSENGERS)
        heads = check_int("passengers_on_board", passengers_on_board, parties, parties * MAX_PASSENGERS)
        rebal = _check_bool("rebalancing", rebalancing)
        if rebal and parties:
            raise InvalidValueError("rebalancing", f"true with {parties} parties on board", "false unless empty")
        self._moving_m += m
        self._moving_s += s
        self._passenger_m += m * heads
        if parties == 0:
            self._empty_m += m
            self._empty_s += s
        if parties >= 2:
            self._pooled_m += m
        if rebal:
            self._rebalancing_m += m
            self._rebalancing_s += s

    def vehicle_on_duty(self, vehicle_id: str, seconds: int) -> None:
        """Book ``seconds`` more of ``vehicle_id`` on duty (driving, standing or waiting for work)."""
        vid = check_id("vehicle_id", vehicle_id)
        self._duty_s[vid] = self._duty_s.get(vid, 0) + check_int("seconds", seconds, 0, unit="s")

    def kpis(self) -> dict[str, int | float]:
        """The day's KPIs as plain numbers (keys in :data:`KPI_KEYS`; ratios are 0 when undefined).

        Riders and fares:

        * ``rides_completed``, ``passengers_completed`` — rides dropped off, and their heads;
          ``rides_asked_to_share`` — of those, the rides booked as shareable.
        * ``rides_shared`` — rides that had another booking on board for part of the way;
          ``pooled_share`` — ``rides_shared / rides_completed`` (0 .. 1).
        * ``fares_paid_krw`` — what the riders paid; ``solo_fares_krw`` — what the same rides
          would have paid if every rider paid the solo fare; ``rider_savings_krw`` — the
          difference; ``rider_savings_pct`` — the difference in per cent of ``solo_fares_krw``.

        Drivers (the driver's revenue is the sum of what the riders paid):

        * ``driver_revenue_krw`` (= ``fares_paid_krw``), ``vehicle_hours_on_duty`` (as booked
          by :meth:`vehicle_on_duty`), ``vehicle_hours_driving`` (the time of all stretches
          driven), ``driver_revenue_per_duty_hour_krw``, ``driver_revenue_per_driving_hour_krw``.
        * Solo service, the same rides served one at a time, every rider paying the solo fare:
          ``solo_driver_revenue_krw`` (= ``solo_fares_krw``); ``solo_vehicle_hours`` — each
          ride's direct driving time plus the empty driving actually done (to pickups and
          rebalancing), i.e. the driving a solo taxi would need at least; idle waiting is
          left out of both sides, so compare ``solo_driver_revenue_per_hour_krw`` with
          ``driver_revenue_per_driving_hour_krw``.

        Vehicles:

        * ``vehicle_km`` — all driving; ``vehicle_km_empty`` — with nobody on board (to
          pickups and rebalancing); ``vehicle_km_rebalancing`` and ``vehicle_hours_rebalancing``
          — the empty driving toward demand that rebalancing cost; ``vehicle_km_pooled`` —
          with two or more bookings on board.
        * ``direct_km`` — the sum of the completed rides' direct route lengths (one per booking,
          whatever its head count); ``solo_vehicle_km`` — ``direct_km + vehicle_km_empty``,
          the driving of solo service; ``vehicle_km_saved`` — ``solo_vehicle_km - vehicle_km``
          (negative when pooling's detours cost more than it saves); ``vehicle_km_saved_pct``
          — in per cent of ``solo_vehicle_km``. Book the whole day (every rider dropped off)
          before reading these: driving for riders still on board counts in ``vehicle_km``
          but their ``direct_km`` does not yet.
        * ``passenger_km`` — the sum over stretches of length times heads on board;
          ``mean_occupancy`` — ``passenger_km / vehicle_km``, the mean number of people in a
          moving taxi (empty driving included).
        """
        n = len(self._rides)
        duty_h = sum(self._duty_s.values()) / 3600
        driving_h = self._moving_s / 3600
        solo_h = (self._direct_s + self._empty_s) / 3600
        km = self._moving_m / 1000
        solo_km = (self._direct_m + self._empty_m) / 1000
        saved_km = solo_km - km
        out: dict[str, int | float] = {
            "rides_completed": n,
            "rides_asked_to_share": self._asked,
            "rides_shared": self._shared,
            "passengers_completed": self._passengers,
            "pooled_share": _ratio(self._shared, n),
            "fares_paid_krw": self._fares_krw,
            "solo_fares_krw": self._solo_fares_krw,
            "rider_savings_krw": self._solo_fares_krw - self._fares_krw,
            "rider_savings_pct": 100 * _ratio(self._solo_fares_krw - self._fares_krw, self._solo_fares_krw),
            "driver_revenue_krw": self._fares_krw,
            "vehicle_hours_on_duty": duty_h,
            "vehicle_hours_driving": driving_h,
            "driver_revenue_per_duty_hour_krw": _ratio(self._fares_krw, duty_h),
            "driver_revenue_per_driving_hour_krw": _ratio(self._fares_krw, driving_h),
            "solo_driver_revenue_krw": self._solo_fares_krw,
            "solo_vehicle_hours": solo_h,
            "solo_driver_revenue_per_hour_krw": _ratio(self._solo_fares_krw, solo_h),
            "vehicle_km": km,
            "vehicle_km_empty": self._empty_m / 1000,
            "vehicle_km_rebalancing": self._rebalancing_m / 1000,
            "vehicle_hours_rebalancing": self._rebalancing_s / 3600,
            "vehicle_km_pooled": self._pooled_m / 1000,
            "direct_km": self._direct_m / 1000,
            "solo_vehicle_km": solo_km,
            "vehicle_km_saved": saved_km,
            "vehicle_km_saved_pct": 100 * _ratio(saved_km, solo_km),
            "passenger_km": self._passenger_m / 1000,
            "mean_occupancy": _ratio(self._passenger_m, self._moving_m),
        }
        assert tuple(out) == KPI_KEYS
        return out
