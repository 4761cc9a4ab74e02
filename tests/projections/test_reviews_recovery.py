"""The review projection killed by ZWBUS_FAULT in a separate process, then restarted."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.envelope import Envelope
from projections.reviews.api import review_summary
from tests.projections.helpers import at, command_env, run_zwbus
from tests.projections.review_events import (
    assigned,
    publish_reviews,
    rated,
    rectified,
    verified,
)

KILLED_EXIT = 137
REVIEWS = 600


def flows() -> list[Envelope]:
    """Ratings of 600 reviews, a third of them bad with follow-ups, interleaved across reviews."""
    per_review: list[list[Envelope]] = []
    for number in range(REVIEWS):
        review_id = f"K{number:04d}"
        day = date(2026, 9, 1) + timedelta(days=number % 20)
        bad = number % 3 == 0
        events = [rated(review_id, at(day.isoformat(), "09:00"), level=1 if bad else 4,
                        rater=f"rater-{number}")]
        if bad:
            events += [
                verified(review_id, at(day.isoformat(), "11:00"), valid=True),
                assigned(review_id, at(day.isoformat(), "12:00")),
            ]
            if number % 2 == 0:
                events.append(rectified(review_id, at(day.isoformat(), "15:00")))
        per_review.append(events)
    return [events[step] for step in range(4) for events in per_review if step < len(events)]


async def _publish(settings: Settings, events: list[Envelope]) -> None:
    async with open_bus(settings) as (client, js):
        await ensure_streams(js)
        await publish_reviews(client, events)


@pytest.mark.parametrize("point", ["after_write", "after_commit"])
def test_fault_then_restart_gives_same_summary(settings: Settings, point: str) -> None:
    events = flows()
    asyncio.run(_publish(settings, events))

    crashed = run_zwbus(
        settings, "projections", "run", "reviews", "--until-caught-up",
        env=command_env(ZWBUS_FAULT=f"{point}:2"),
    )
    restarted = run_zwbus(settings, "projections", "run", "reviews", "--until-caught-up")
    summary = asyncio.run(review_summary(settings, date(2026, 12, 31)))

    assert len(events) > 1_000
    assert crashed.returncode == KILLED_EXIT, crashed.stderr
    assert "fault_injected" in crashed.stderr
    assert restarted.returncode == 0, restarted.stderr
    assert f"stored sequence {len(events)}." in restarted.stdout
    assert summary.ratings == REVIEWS
    assert summary.bad_reviews == 200
    assert summary.verified_share == 1.0
    assert summary.rectification_rate == 0.5
    assert summary.rectifications_overdue == 100
    assert summary.satisfaction_rate == pytest.approx(400 / 600)
