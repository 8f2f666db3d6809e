"""Fare policies: what a booking costs the rider, in whole units of a currency (KRW by default).

A policy is any object with the :class:`FarePolicy` method ``fare``. Two come with the engine:

* :class:`ImodFare` — the demand-responsive bus (I-MOD): a flat fare by rider class for the
  first 7 km plus a charge per started kilometre beyond, per passenger; exact integers.
* :class:`SharedTaxiFare` — the AI shared taxi (I-MOA): a taxi-meter fare per booking,
  30 % off for pooled riders, rounded to the nearest 100 KRW, and the driver's revenue.

:func:`fare_policy_from_name` builds either from a scenario's name and options.

Amounts are whole numbers in the smallest unit of the service's currency (``[fares] currency``,
an ISO 4217 code): won for KRW, cents for EUR. The fields keep their ``_krw`` names, the
default currency; :func:`format_money` writes an amount for people (``1,800 KRW``, ``2.50 EUR``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from routing import plain_repr

from .checks import MAX_PASSENGERS, check_int, from_mapping, set_field
from .errors import InvalidValueError
from .model import RiderClass


@runtime_checkable
class FarePolicy(Protocol):
    """What a booking costs."""

    def fare(
        self, rider_class: RiderClass, direct_distance_m: int, passengers: int = 1, *, pooled: bool = False
    ) -> int:
        """The fare in KRW for ``passengers`` riders of ``rider_class`` whose direct trip is ``direct_distance_m``.

        ``pooled`` says whether the ride is shared with other bookings (some policies discount it).
        """
        ...


#: The currency fares are counted in unless a scenario says otherwise.
DEFAULT_CURRENCY = "KRW"

#: Digits after the decimal point of currencies whose smallest unit is not the hundredth
#: (ISO 4217 minor units); every other code counts in hundredths (cents).
CURRENCY_DIGITS: dict[str, int] = {
    **dict.fromkeys(("KRW", "JPY", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF", "XPF", "RWF", "KMF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def check_currency(code: object) -> str:
    """An ISO 4217 currency code: three capital letters (``"KRW"``, ``"EUR"``)."""
    if not isinstance(code, str) or len(code) != 3 or not (code.isascii() and code.isalpha() and code.isupper()):
        raise InvalidValueError(
            "currency", f"got {plain_repr(code)}", 'an ISO 4217 code of three capitals, e.g. "KRW", "EUR"'
        )
    return code


def format_money(amount: int | float, currency: str = DEFAULT_CURRENCY) -> str:
    """An amount in the smallest unit of ``currency`` for people: ``1,800 KRW``, ``2.50 EUR``."""
    digits = CURRENCY_DIGITS.get(currency, 2)
    return f"{amount / 10**digits:,.{digits}f} {currency}"


def _check_pooled(pooled: object) -> bool:
    if not isinstance(pooled, bool | np.bool_):
        raise InvalidValueError("pooled", f"expected true or false, got {plain_repr(pooled)}", "true, false")
    return bool(pooled)


def _steps(distance_m: int, free_m: int, step_m: int) -> int:
    """Number of started steps of ``step_m`` in the part of ``distance_m`` beyond ``free_m``."""
    extra = max(0, distance_m - free_m)
    return -(-extra // step_m)


@dataclass(frozen=True, kw_only=True)
class ImodFare:
    """The I-MOD fare: a base fare by rider class plus a distance charge, per passenger.

    ``fare = (base[rider_class] + extra_step_krw * steps) * passengers`` where ``steps`` is
    the number of **started** ``extra_step_m`` steps beyond ``base_distance_m`` of the direct
    distance. With the defaults (100 KRW per started kilometre beyond 7 km): 7,000 m -> +0,
    7,001 m -> +100, 8,000 m -> +100, 8,001 m -> +200. So an adult pays 1,800 KRW up to 7 km,
    1,900 for 7.5 km and 2,300 for 12 km; a youth pays 2,100 for 15.2 km. The fare is exact
    (no rounding) and does not depend on pooling: every I-MOD ride may be shared.

    Every amount is a field, so that other cities can configure their own (all >= 0).

    Attributes:
        adult_base_krw, youth_base_krw, child_base_krw: base fare per passenger by class.
        base_distance_m: distance covered by the base fare.
        extra_step_m: length of one distance step beyond it (>= 1 m).
        extra_step_krw: charge per started step.
    """

    adult_base_krw: int = 1800
    youth_base_krw: int = 1200
    child_base_krw: int = 700
    base_distance_m: int = 7000
    extra_step_m: int = 1000
    extra_step_krw: int = 100

    def __post_init__(self) -> None:
        for name in ("adult_base_krw", "youth_base_krw", "child_base_krw", "extra_step_krw"):
            set_field(self, name, check_int(name, getattr(self, name), 0, unit="KRW"))
        set_field(self, "base_distance_m", check_int("base_distance_m", self.base_distance_m, 0, unit="m"))
        set_field(self, "extra_step_m", check_int("extra_step_m", self.extra_step_m, 1, unit="m"))

    def base_fare_krw(self, rider_class: RiderClass) -> int:
        """The base fare of one passenger of ``rider_class``."""
        rc = RiderClass.parse(rider_class)
        return {
            RiderClass.ADULT: self.adult_base_krw,
            RiderClass.YOUTH: self.youth_base_krw,
            RiderClass.CHILD: self.child_base_krw,
        }[rc]

    def fare(
        self, rider_class: RiderClass, direct_distance_m: int, passengers: int = 1, *, pooled: bool = False
    ) -> int:
        """The fare of a booking (see the class docstring); ``pooled`` does not change it."""
        base = self.base_fare_krw(rider_class)
        distance = check_int("direct_distance_m", direct_distance_m, 0, unit="m")
        count = check_int("passengers", passengers, 1, MAX_PASSENGERS)
        _check_pooled(pooled)
        steps = _steps(distance, self.base_distance_m, self.extra_step_m)
        return (base + self.extra_step_krw * steps) * count


@dataclass(frozen=True, kw_only=True)
class SharedTaxiFare:
    """The I-MOA shared-taxi fare: a taxi-meter fare per booking, discounted when pooled.

    The solo fare is ``base_fare_krw`` for the first ``base_distance_m`` plus ``step_krw``
    for every started ``step_m`` beyond, rounded to the nearest ``round_to_krw`` (halves
    up). The defaults resemble a Seoul medium taxi in 2024 (4,800 KRW for the first 1.6 km,
    100 KRW per 131 m); they are **configurable placeholders, not an official tariff** —
    the time charge in slow traffic and the night and out-of-town surcharges are left out.

    The fare is per booking, not per head (a taxi meter charges the trip): ``passengers`` and
    ``rider_class`` are checked but do not change it. A pooled rider (``pooled=True``) pays
    ``100 - pooled_discount_pct`` per cent of the solo fare (70 % by default), rounded the
    same way.

    Attributes:
        base_fare_krw: the flag-fall fare.
        base_distance_m: distance included in it.
        step_m: length of one meter step beyond it (>= 1 m).
        step_krw: charge per started step.
        pooled_discount_pct: discount for pooled riders, in per cent (0 .. 100).
        driver_pooled_share_pct: the driver's revenue for a pooled trip, in per cent of the
            solo fare (see :meth:`driver_revenue`; 0 .. 1000).
        round_to_krw: fares are rounded to a multiple of this (>= 1).
    """

    base_fare_krw: int = 4800
    base_distance_m: int = 1600
    step_m: int = 131
    step_krw: int = 100
    pooled_discount_pct: int = 30
    driver_pooled_share_pct: int = 140
    round_to_krw: int = 100

    def __post_init__(self) -> None:
        ranges: dict[str, tuple[int, int | None, str]] = {
            "base_fare_krw": (0, None, "KRW"),
            "base_distance_m": (0, None, "m"),
            "step_m": (1, None, "m"),
            "step_krw": (0, None, "KRW"),
            "pooled_discount_pct": (0, 100, "%"),
            "driver_pooled_share_pct": (0, 1000, "%"),
            "round_to_krw": (1, None, "KRW"),
        }
        for name, (lo, hi, unit) in ranges.items():
            set_field(self, name, check_int(name, getattr(self, name), lo, hi, unit=unit))

    def _round_pct(self, amount_krw: int, pct: int) -> int:
        """``amount_krw * pct / 100`` rounded to the nearest ``round_to_krw``, halves up, in integers."""
        unit = 100 * self.round_to_krw
        return (amount_krw * pct + unit // 2) // unit * self.round_to_krw

    def solo_fare(self, direct_distance_m: int) -> int:
        """The meter fare of an unshared trip of ``direct_distance_m``."""
        distance = check_int("direct_distance_m", direct_distance_m, 0, unit="m")
        meter = self.base_fare_krw + self.step_krw * _steps(distance, self.base_distance_m, self.step_m)
        return self._round_pct(meter, 100)

    def fare(
        self, rider_class: RiderClass, direct_distance_m: int, passengers: int = 1, *, pooled: bool = False
    ) -> int:
        """The fare of a booking: the solo fare, or the discounted fare when ``pooled``."""
        RiderClass.parse(rider_class)
        check_int("passengers", passengers, 1, MAX_PASSENGERS)
        solo = self.solo_fare(direct_distance_m)
        return self._round_pct(solo, 100 - self.pooled_discount_pct) if _check_pooled(pooled) else solo

    def driver_revenue(self, solo_fare_krw: int, *, pooled: bool) -> int:
        """What the driver earns for a trip whose solo fare is ``solo_fare_krw``.

        Unshared, the solo fare. Pooled, ``driver_pooled_share_pct`` (140 %) of it, rounded
        like the fares: the reading of "each pooled rider pays 30 % less and the driver earns
        140 % of a solo fare" in which two riders sharing one trip together pay 2 x 70 % =
        140 % of its solo fare, and the driver receives that. ``solo_fare_krw`` is the solo
        fare of the trip the driver drives (in practice the longest pooled rider's solo
        fare); when the riders' own fares add up to more or less, the operator keeps or
        covers the difference.
        """
        solo = check_int("solo_fare_krw", solo_fare_krw, 0, unit="KRW")
        return self._round_pct(solo, self.driver_pooled_share_pct) if _check_pooled(pooled) else solo


#: Fare policies by the name a scenario or settings file uses.
FARE_POLICIES: dict[str, type[ImodFare] | type[SharedTaxiFare]] = {"imod": ImodFare, "shared_taxi": SharedTaxiFare}


def fare_policy_from_name(name: str, *, options: Mapping[str, Any] | None = None) -> FarePolicy:
    """The fare policy called ``name`` (``"imod"`` or ``"shared_taxi"``), with its defaults or ``options``.

    ``options`` maps field names of the policy's dataclass to values, e.g.
    ``{"adult_base_krw": 1500}``; unknown names are refused.

    Raises:
        InvalidValueError: an unknown policy name (field ``fare_policy``) or option.
    """
    cls = FARE_POLICIES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidValueError("fare_policy", f"unknown policy {name!r}", ", ".join(FARE_POLICIES))
    return from_mapping(cls, {} if options is None else options, prefix="fare_policy.")
