"""The live engine's wall clock: service days in a time zone, and the service clock within one.

Every time the dispatcher handles is an integer on the *service clock*: seconds since local
midnight of the *service day* (see :mod:`matching`). A service day does not end at midnight:
a service that runs 06:00 to 02:00 is still on the day it started at 01:30 (the clock then
reads 91,800, "25:30"), and a pre-booking for tomorrow 08:00 reads 115,200. The engine moves
to the next service day at the *day change*, a fixed time of day in the quiet hours between
two days of service: half-way between one day's close (``service_end_s``, taken a day back)
and the next day's start (``service_start_s``). For the default 06:00-23:00 that is 02:30;
for 06:00-26:00, 04:00. A service that runs round the clock changes day at its start.

Within a day the clock is monotone: it counts real seconds from the day's local midnight (a
day on which summer time begins or ends has 23 or 25 hours, and after the change the clock
reads one hour off the local time of day until the next day begins; Korea keeps no summer
time). At the day change the engine closes the day that ended and carries what is still
planned into the new day's clock (:meth:`engine.core.EngineCore.roll_over`).

:class:`ServiceClock` is a pure function of the time (``time.time()`` unless another source
is given), so the engine and its front-end processes, which each build one from the same
settings, agree on the day and the clock without talking to each other.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from matching.errors import InvalidValueError
from matching.model import DAY_S

__all__ = ["ServiceClock", "day_change_s", "host_timezone", "resolve_timezone"]


def host_timezone() -> str | None:
    """The host's time zone as an IANA name (``$TZ`` or ``/etc/localtime``), or None if it has none
    that :mod:`zoneinfo` knows (the host's local time is then used as it is)."""
    import os

    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return name if _known(name) else None
    try:
        link = os.path.realpath("/etc/localtime")
    except OSError:  # pragma: no cover - no such file on this platform
        return None
    marker = "zoneinfo/"
    if marker in link:
        name = link.split(marker, 1)[1]
        return name if _known(name) else None
    return None


def _known(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def resolve_timezone(name: str | None) -> dt.tzinfo:
    """The :class:`datetime.tzinfo` of an IANA time-zone name (None: the host's local time).

    Raises:
        InvalidValueError: naming ``timezone`` for a name the system's time-zone database lacks.
    """
    if name is None:
        host = host_timezone()
        if host is not None:
            return zoneinfo.ZoneInfo(host)
        local = dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    if not _known(name):
        raise InvalidValueError(
            "timezone", f"unknown time zone {name[:60]!r}", "an IANA name such as Asia/Seoul, Europe/London or UTC"
        )
    return zoneinfo.ZoneInfo(name)


def day_change_s(service_start_s: int, service_end_s: int) -> int:
    """Seconds after local midnight at which one service day gives way to the next.

    Half-way through the gap between the close of one day (``service_end_s - DAY_S``) and the
    start of the next (``service_start_s``), but not before midnight (so that what is booked
    for the new day never lies before its clock's 0); a service with no gap changes day at
    its start.
    """
    gap_start = service_end_s - DAY_S
    if gap_start >= service_start_s:
        return service_start_s
    return max(0, (gap_start + service_start_s) // 2)


@dataclass(frozen=True)
class ServiceClock:
    """Service days and the service clock in ``timezone`` (see the module docstring).

    Attributes:
        timezone: IANA name (None: the host's local time).
        day_change_s: seconds after local midnight at which a new service day begins
            (:func:`day_change_s`), ``0 .. DAY_S - 1``.
        source: the time in seconds since the Unix epoch (``time.time`` unless a test gives another).
    """

    timezone: str | None = None
    day_change_s: int = 0
    source: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.day_change_s < DAY_S:
            raise InvalidValueError("day_change_s", f"got {self.day_change_s}", f"0 .. {DAY_S - 1}")
        object.__setattr__(self, "_tz", resolve_timezone(self.timezone))

    @property
    def tz(self) -> dt.tzinfo:
        return self._tz  # type: ignore[attr-defined]

    def day_at(self, epoch_s: float) -> dt.date:
        """The service day that the instant ``epoch_s`` belongs to."""
        local = dt.datetime.fromtimestamp(epoch_s, self.tz)
        return (local.replace(tzinfo=None) - dt.timedelta(seconds=self.day_change_s)).date()

    def begins(self, day: dt.date) -> float:
        """The instant (epoch seconds) at which service day ``day`` begins (its day change)."""
        local = dt.datetime.combine(day, dt.time(0)) + dt.timedelta(seconds=self.day_change_s)
        return local.replace(tzinfo=self.tz).timestamp()

    def midnight(self, day: dt.date) -> float:
        """The instant (epoch seconds) of ``day``'s local midnight: where its service clock reads 0."""
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.tz).timestamp()

    def clock_on(self, day: dt.date, epoch_s: float | None = None) -> int:
        """The service clock of ``day`` at ``epoch_s`` (now if None): whole seconds since its midnight."""
        t = self.source() if epoch_s is None else epoch_s
        return math.floor(t - self.midnight(day))

    def today(self) -> dt.date:
        """The service day it is now."""
        return self.day_at(self.source())

    def read(self) -> tuple[dt.date, int]:
        """The service day it is now, and its clock."""
        t = self.source()
        day = self.day_at(t)
        return day, self.clock_on(day, t)

    def seconds_between(self, earlier: dt.date, later: dt.date) -> int:
        """Seconds from ``earlier``'s midnight to ``later``'s (a day of 23 or 25 hours counts as it is)."""
        return round(self.midnight(later) - self.midnight(earlier))
