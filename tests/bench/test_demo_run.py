"""The demo end to end on a small generation: every family reaches its read model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime

import pytest

from bench.demo.run import FAMILY_SOURCES, SOURCES, demo_today, run_demo
from bus.settings import Settings
from projections.workdays import CHINA_TZ

CASES = 600


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore the process's time zone after a test set TZ."""
    yield
    monkeypatch.undo()
    time.tzset()


# Between them the two zones are on another date than China at every hour:
# UTC-12 until 20:00 China time, UTC+14 from 18:00 China time on.
@pytest.mark.parametrize("zone", ["Etc/GMT+12", "Etc/GMT-14"])
def test_default_day_is_china_date(
    zone: str, monkeypatch: pytest.MonkeyPatch, machine_zone: None
) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()

    before = datetime.now(CHINA_TZ).date()
    chosen = demo_today(None)
    after = datetime.now(CHINA_TZ).date()

    assert chosen in {before, after}
    assert demo_today(date(2026, 12, 4)) == date(2026, 12, 4)


@pytest.mark.slow
async def test_demo_covers_every_family(settings: Settings) -> None:
    result = await run_demo(settings, cases=CASES, today=date(2026, 12, 4))

    assert set(result.per_source) == set(SOURCES)
    for source_id, tally in result.per_source.items():
        assert tally.read > 0, source_id
        assert tally.reconciles, source_id
    for source_id in FAMILY_SOURCES:
        assert result.per_source[source_id].published > 0, source_id
    assert result.totals.reconciles
    assert result.cases_total > 0
    assert result.reviews.ratings > 0
    assert result.reviews.defaults > 0
    assert result.reviews.bad_reviews > 0
    assert result.hall is not None
    assert result.hall.tickets > 0
    assert result.sharing.awaiting_approval + result.sharing.approved_not_delivered > 0

    document = result.document()
    assert {"reviews", "hall", "sharing"} <= set(document)
    assert document["today"] == "2026-12-04"
    assert document["hall"]["tickets"] == result.hall.tickets


@pytest.mark.slow
async def test_demo_second_run_publishes_nothing(settings: Settings) -> None:
    await run_demo(settings, cases=CASES, today=date(2026, 12, 4))

    again = await run_demo(settings, cases=CASES, today=date(2026, 12, 4))

    assert again.totals.read == 0
    assert again.totals.published == 0
    assert len(again.totals.skipped_files) > 0
    assert again.reviews.ratings > 0
