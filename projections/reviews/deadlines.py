"""Deadlines of bad reviews (差评) in working days, computed when the model is read.

Both deadlines count working days (statutory holidays and make-up workdays
from ``projections.workdays``) after the business date of the rating:

- callback (回访核实): the bad review must be checked with the rater;
- rectification (整改): a bad review found genuine must be reported rectified.

The numbers of days come from the ``[reviews]`` table of the zwbus
configuration file (``bus.config``), per province. They are applied when
the model is read, not stored with the rows, so that a changed
configuration takes effect without a rebuild and the store stays a function
of the stream alone. Queries call them through the SQL functions
``review_due(rated_day, region, step)`` (the last day allowed) and
``review_late_from(rated_day, region, step)`` (the first working day after
it, from which the step is overdue), which ``install`` registers on a
connection. A deadline on a Friday is thus overdue from Monday, not over the
weekend, when no working day has been lost yet.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import aiosqlite

from bus.config import ReviewDeadlines, ReviewsConfig
from projections.workdays import add_working_days

Step = Literal["callback", "rectification"]

SQL_FUNCTION = "review_due"
LATE_SQL_FUNCTION = "review_late_from"


class DeadlineCalendar:
    """Deadlines of one configuration, memoised per rating date and province."""

    def __init__(self, config: ReviewsConfig) -> None:
        self._config = config
        self._deadlines: dict[str, ReviewDeadlines] = {}
        self._due: dict[tuple[str, str, str], str] = {}
        self._late_from: dict[tuple[str, str, str], str] = {}

    def days(self, region: str, step: Step) -> int:
        """Return the working days ``step`` allows for a review of ``region``."""
        province = region[:2]
        deadlines = self._deadlines.get(province)
        if deadlines is None:
            deadlines = self._deadlines[province] = self._config.deadlines_for(region)
        return deadlines.callback_days if step == "callback" else deadlines.rectification_days

    def due(self, rated_day: str, region: str, step: Step) -> str:
        """Return the deadline of ``step`` as ``YYYY-MM-DD`` for a rating on ``rated_day``."""
        key = (rated_day, region[:2], step)
        found = self._due.get(key)
        if found is None:
            start = date.fromisoformat(rated_day)
            found = add_working_days(start, self.days(region, step)).isoformat()
            self._due[key] = found
        return found

    def late_from(self, rated_day: str, region: str, step: Step) -> str:
        """Return the first working day after the deadline of ``step``, as ``YYYY-MM-DD``."""
        key = (rated_day, region[:2], step)
        found = self._late_from.get(key)
        if found is None:
            start = date.fromisoformat(rated_day)
            found = add_working_days(start, self.days(region, step) + 1).isoformat()
            self._late_from[key] = found
        return found

    def _sql_due(self, rated_day: str | None, region: str | None, step: str | None) -> str | None:
        if rated_day is None or region is None:
            return None
        return self.due(rated_day, region, _step(SQL_FUNCTION, step))

    def _sql_late_from(
        self, rated_day: str | None, region: str | None, step: str | None
    ) -> str | None:
        if rated_day is None or region is None:
            return None
        return self.late_from(rated_day, region, _step(LATE_SQL_FUNCTION, step))

    async def install(self, connection: aiosqlite.Connection) -> None:
        """Register ``review_due`` and ``review_late_from`` on ``connection``."""
        await connection.create_function(SQL_FUNCTION, 3, self._sql_due, deterministic=True)
        await connection.create_function(
            LATE_SQL_FUNCTION, 3, self._sql_late_from, deterministic=True
        )


def _step(function: str, step: str | None) -> Step:
    if step == "callback":
        return "callback"
    if step == "rectification":
        return "rectification"
    raise ValueError(f"{function} step must be callback or rectification, got {step!r}")
