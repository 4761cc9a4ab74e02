"""Working days (工作日) for promised time limits (承诺时限).

Statutory holidays and make-up workdays (调休) come from ``chinese_calendar``.
That package ships one table per year and raises ``NotImplementedError`` for
a year it does not cover. For such a year this module counts Monday to
Friday as working days and logs a warning once per year.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import chinese_calendar
import structlog

from contracts.identifiers import CHINA_TIME

log = structlog.get_logger(__name__)

CHINA_TZ = CHINA_TIME
"""China Standard Time; China has used UTC+8 without daylight saving time since 1991."""

_ONE_DAY = timedelta(days=1)
_years_without_calendar: set[int] = set()


@lru_cache(maxsize=8192)
def is_working_day(day: date) -> bool:
    """Tell whether ``day`` is a working day, make-up workdays included."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _years_without_calendar:
            _years_without_calendar.add(day.year)
            log.warning(
                "working_day_calendar_missing",
                year=day.year,
                fallback="monday_to_friday",
            )
        return day.weekday() < 5


@lru_cache(maxsize=8192)
def add_working_days(start: date, days: int) -> date:
    """Return the ``days``-th working day after ``start``.

    The start day itself is not counted, as in "N working days from the date
    of acceptance", so 0 returns ``start`` unchanged.

    Raises:
        ValueError: ``days`` is negative.
    """
    if days < 0:
        raise ValueError(f"days must be 0 or more, got {days}")

    current = start
    remaining = days
    while remaining > 0:
        current += _ONE_DAY
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Count the working days after ``start`` up to and including ``end``.

    Returns 0 when ``end`` is not after ``start``.
    """
    count = 0
    current = start
    while current < end:
        current += _ONE_DAY
        if is_working_day(current):
            count += 1
    return count


def china_today() -> date:
    """Return today's date in China."""
    return datetime.now(CHINA_TZ).date()
