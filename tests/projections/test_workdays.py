"""Working-day arithmetic over statutory holidays and make-up workdays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from projections import workdays
from projections.workdays import add_working_days, is_working_day, working_days_between


def test_national_day_holiday_is_skipped() -> None:
    accepted = date(2026, 9, 30)

    assert add_working_days(accepted, 1) == date(2026, 10, 8)
    assert add_working_days(accepted, 2) == date(2026, 10, 9)


def test_makeup_saturday_counts_as_working_day() -> None:
    assert is_working_day(date(2026, 10, 10))
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)


def test_ordinary_weekend_is_skipped() -> None:
    assert add_working_days(date(2026, 10, 16), 1) == date(2026, 10, 19)


def test_zero_days_returns_start() -> None:
    assert add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)


def test_negative_days_are_rejected() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        add_working_days(date(2026, 10, 3), -1)


def test_working_days_between_excludes_start() -> None:
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert working_days_between(date(2026, 10, 8), date(2026, 10, 8)) == 0
    assert working_days_between(date(2026, 10, 9), date(2026, 10, 8)) == 0


def test_uncovered_year_uses_weekdays_warns_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workdays, "_years_without_calendar", set())
    is_working_day.cache_clear()

    with capture_logs() as logs:
        monday = is_working_day(date(2031, 1, 6))
        saturday = is_working_day(date(2031, 1, 4))
        due = add_working_days(date(2031, 1, 3), 2)

    assert monday
    assert not saturday
    assert due == date(2031, 1, 7)
    warnings = [entry for entry in logs if entry["event"] == "working_day_calendar_missing"]
    assert len(warnings) == 1
    assert warnings[0]["year"] == 2031


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 6, 30)),
    days=st.integers(min_value=0, max_value=120),
)
def test_between_inverts_add(start: date, days: int) -> None:
    due = add_working_days(start, days)

    assert working_days_between(start, due) == days
    assert due == start or is_working_day(due)
    assert due - start <= timedelta(days=days * 3 + 14)
