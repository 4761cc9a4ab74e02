"""Working-day deadlines of bad reviews and the SQL function the queries use."""

from __future__ import annotations

import aiosqlite
import pytest

from bus.config import ProvinceReviewConfig, ReviewsConfig
from projections.reviews.deadlines import DeadlineCalendar


def test_deadlines_skip_national_day() -> None:
    calendar = DeadlineCalendar(ReviewsConfig())

    assert calendar.due("2026-09-29", "511602", "callback") == "2026-10-12"
    assert calendar.due("2026-09-29", "511602", "rectification") == "2026-10-26"


def test_make_up_saturday_counts() -> None:
    calendar = DeadlineCalendar(ReviewsConfig())

    assert calendar.due("2026-10-09", "511602", "callback") == "2026-10-15"


def test_province_override_applies_to_its_regions() -> None:
    config = ReviewsConfig(provinces={"44": ProvinceReviewConfig(callback_days=1)})
    calendar = DeadlineCalendar(config)

    assert calendar.due("2026-10-12", "440103", "callback") == "2026-10-13"
    assert calendar.due("2026-10-12", "511602", "callback") == "2026-10-19"
    assert calendar.days("440103", "rectification") == 15


def test_late_from_first_working_day_after_deadline() -> None:
    calendar = DeadlineCalendar(ReviewsConfig(rectification_days=14))

    assert calendar.due("2026-09-29", "511602", "rectification") == "2026-10-23"
    assert calendar.late_from("2026-09-29", "511602", "rectification") == "2026-10-26"
    assert calendar.late_from("2026-09-29", "511602", "callback") == "2026-10-13"


async def test_sql_function_matches_calendar() -> None:
    calendar = DeadlineCalendar(ReviewsConfig(rectification_days=2))
    async with aiosqlite.connect(":memory:") as connection:
        await calendar.install(connection)
        async with connection.execute(
            "SELECT review_due('2026-09-30', '511602', 'rectification'), "
            "review_due(NULL, '511602', 'callback'), "
            "review_late_from('2026-09-30', '511602', 'rectification')"
        ) as cursor:
            row = await cursor.fetchone()

        assert row == ("2026-10-09", None, "2026-10-10")
        with pytest.raises(aiosqlite.OperationalError, match="user-defined function raised"):
            await connection.execute("SELECT review_due('2026-09-30', '511602', 'revisit')")
