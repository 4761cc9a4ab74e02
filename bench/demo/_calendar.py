"""Working days and office hours, addressed as whole working minutes.

A moment in office hours is one integer: ``day_index * MINUTES_PER_DAY +
minute``, where ``day_index`` counts working days from the calendar's first
one. Increasing integers map to increasing clock times, so a flow that picks
increasing minutes gets increasing status times.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta

import chinese_calendar

# Office hours of a county hall: 09:00-12:00 and 14:00-17:30.
_SESSIONS: tuple[tuple[time, int], ...] = ((time(9, 0), 180), (time(14, 0), 210))
MINUTES_PER_DAY = sum(length for _, length in _SESSIONS)


def is_workday(day: date) -> bool:
    """Tell whether a day is a working day, make-up working days included.

    NOTE: chinese_calendar 1.11 has data for the years 2004-2026 only, so any
    other year falls back to Monday to Friday without holidays.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


class WorkingCalendar:
    """The working days from ``first`` to ``last``, both included when they are workdays."""

    def __init__(self, first: date, last: date) -> None:
        self.days: list[date] = []
        day = first
        while day <= last:
            if is_workday(day):
                self.days.append(day)
            day += timedelta(days=1)

        if not self.days:
            message = f"no working day between {first} and {last}"
            raise ValueError(message)
        self._index = {day: index for index, day in enumerate(self.days)}

    def index_of(self, day: date) -> int:
        """Return the index of ``day``, or of the next working day when it is a day off."""
        while day not in self._index:
            day += timedelta(days=1)
            if day > self.days[-1]:
                message = f"{day} is after the calendar's last working day {self.days[-1]}"
                raise ValueError(message)
        return self._index[day]

    def end_of(self, day: date) -> int:
        """Return the first working minute after the close of ``day``."""
        return bisect_right(self.days, day) * MINUTES_PER_DAY

    def to_datetime(self, moment: int) -> datetime:
        """Convert a working minute to a naive local date and time."""
        day_index, minute = divmod(moment, MINUTES_PER_DAY)
        if day_index >= len(self.days):
            message = f"working minute {moment} is past the calendar's last day {self.days[-1]}"
            raise ValueError(message)

        day = self.days[day_index]
        for start, length in _SESSIONS:
            if minute < length:
                return datetime.combine(day, start) + timedelta(minutes=minute)
            minute -= length
        message = f"minute {minute} is outside office hours"
        raise AssertionError(message)


def months_between(start: date, end: date) -> list[tuple[int, int]]:
    """List the (year, month) pairs from the month of ``start`` through that of ``end``."""
    months: list[tuple[int, int]] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
