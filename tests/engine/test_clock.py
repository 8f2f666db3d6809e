"""The wall clock's service days (engine.clock): the day a time belongs to, and its clock.

Times are given as instants (epoch seconds) built from local times in named zones, so the
tests mean the same on any host, whatever its own zone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from engine.clock import ServiceClock, day_change_s, resolve_timezone
from matching.errors import InvalidValueError

HOUR = 3600
DAY = 24 * HOUR
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(tz: dt.tzinfo, *fields: int) -> float:
    """The instant of a local time in ``tz``."""
    return dt.datetime(*fields, tzinfo=tz).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "end", "change"),
    [
        (6 * HOUR, 23 * HOUR, (6 * HOUR - HOUR) // 2),  # 06:00-23:00: half-way from 23:00 to 06:00 is 02:30
        (6 * HOUR, 26 * HOUR, 4 * HOUR),  # 06:00-02:00: half-way from 02:00 to 06:00
        (0, DAY, 0),  # round the clock: at its start
        (5 * HOUR, 5 * HOUR + DAY, 5 * HOUR),
        (HOUR, 20 * HOUR, 0),  # half-way would be before midnight: midnight
    ],
)
def test_the_day_changes_in_the_quiet_hours(start: int, end: int, change: int) -> None:
    assert day_change_s(start, end) == change


def test_a_service_day_runs_past_midnight_until_the_day_change() -> None:
    clock = ServiceClock("Asia/Seoul", day_change_s(6 * HOUR, 26 * HOUR))
    monday = dt.date(2026, 12, 7)
    late = at(SEOUL, 2026, 12, 7, 23, 59, 30)
    after_midnight = at(SEOUL, 2026, 12, 8, 0, 0, 30)
    assert clock.day_at(late) == clock.day_at(after_midnight) == monday
    assert clock.clock_on(monday, late) == 23 * HOUR + 59 * 60 + 30
    assert clock.clock_on(monday, after_midnight) == DAY + 30  # monotone: no jump back at midnight
    assert clock.day_at(at(SEOUL, 2026, 12, 8, 3, 59, 59)) == monday
    assert clock.day_at(at(SEOUL, 2026, 12, 8, 4, 0, 0)) == monday + dt.timedelta(days=1)
    assert clock.begins(monday + dt.timedelta(days=1)) == at(SEOUL, 2026, 12, 8, 4, 0, 0)
    assert clock.clock_on(monday + dt.timedelta(days=1), at(SEOUL, 2026, 12, 8, 4, 0, 0)) == 4 * HOUR
    assert clock.seconds_between(monday, monday + dt.timedelta(days=2)) == 2 * DAY


def test_the_clock_reads_the_time_source_in_the_given_zone() -> None:
    now = at(SEOUL, 2026, 12, 5, 8, 30, 0)  # 23:30 the day before in UTC
    seoul = ServiceClock("Asia/Seoul", 2 * HOUR, source=lambda: now)
    utc = ServiceClock("UTC", 2 * HOUR, source=lambda: now)
    assert seoul.read() == (dt.date(2026, 12, 5), 8 * HOUR + 30 * 60)
    assert utc.read() == (dt.date(2026, 12, 4), 23 * HOUR + 30 * 60)
    assert seoul.today() == dt.date(2026, 12, 5)


def test_a_day_with_summer_time_has_its_real_length() -> None:
    clock = ServiceClock("Europe/Berlin", 3 * HOUR)
    spring = dt.date(2026, 3, 29)  # clocks go from 02:00 to 03:00
    autumn = dt.date(2026, 10, 25)  # from 03:00 back to 02:00
    assert clock.seconds_between(spring, spring + dt.timedelta(days=1)) == DAY - HOUR
    assert clock.seconds_between(autumn, autumn + dt.timedelta(days=1)) == DAY + HOUR
    # the clock counts real seconds: monotone through the hour that repeats
    first = at(BERLIN, 2026, 10, 25, 2, 30, 0)
    second = dt.datetime(2026, 10, 25, 2, 30, 0, tzinfo=BERLIN, fold=1).timestamp()
    assert clock.clock_on(autumn, second) - clock.clock_on(autumn, first) == HOUR


def test_bad_zones_and_day_changes_name_the_setting() -> None:
    with pytest.raises(InvalidValueError, match=r"timezone.*Asia/Seoul"):
        resolve_timezone("Mars/Olympus_Mons")
    with pytest.raises(InvalidValueError, match="day_change_s"):
        ServiceClock("UTC", DAY)
    assert resolve_timezone(None) is not None  # the host's
