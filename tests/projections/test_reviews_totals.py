"""The review read model on a real nats-server: totals, roll-up, deadlines, duplicates, rebuild."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.settings import Settings
from contracts.envelope import Envelope
from projections.checkpoint_store import store_path
from projections.rebuild import ProjectionRebuild, previous_path
from projections.reviews import ReviewsProjection
from projections.reviews.api import review_summary, review_totals, run_reviews_projection
from projections.reviews.queries import ReviewFilter, ReviewTotals
from tests.projections.helpers import at
from tests.projections.review_events import (
    all_tables,
    assigned,
    publish_reviews,
    rated,
    rectified,
    revisited,
    verified,
)

Bus = tuple[Client, JetStreamContext]

AS_OF = date(2026, 10, 27)


def scenario() -> list[Envelope]:
    """Eight reviews in four regions of 四川 (51); the comments give each one's role."""
    return [
        # 广安区 (511602), department D1.
        rated("R1", at("2026-09-29", "09:00"), level=5, department="D1"),
        rated("R2", at("2026-09-29", "10:00"), level=4, channel="mobile", department="D1"),
        # A bad review found genuine and rectified, then revisited.
        rated("R3", at("2026-09-29", "11:00"), level=1, channel="window", item_code="I2",
              department="D1"),
        verified("R3", at("2026-09-30", "09:00"), valid=True, department="D1"),
        assigned("R3", at("2026-09-30", "10:00"), department="D1"),
        rectified("R3", at("2026-10-09", "10:00"), department="D1"),
        revisited("R3", at("2026-10-12", "10:00"), satisfaction=4, department="D1"),
        # A bad review found not genuine.
        rated("R8", at("2026-09-30", "15:00"), level=2, channel="mobile", department="D1"),
        verified("R8", at("2026-10-08", "09:00"), valid=False, department="D1"),
        # 岳池县 (511621), department D2: a genuine bad review never rectified,
        # and a default rating.
        rated("R4", at("2026-09-29", "14:00"), level=2, region="511621", department="D2"),
        verified("R4", at("2026-09-30", "09:00"), valid=True, region="511621", department="D2"),
        assigned("R4", at("2026-09-30", "11:00"), region="511621", department="D2"),
        rated("R5", at("2026-09-29", "16:00"), level=5, is_default=True, item_code="I2",
              region="511621", department="D2"),
        # 广安市 (511600), a city-level department D3.
        rated("R6", at("2026-09-30", "10:00"), level=3, channel="phone", region="511600",
              department="D3"),
        # 南充 顺庆区 (511302), department D4: a bad review not yet checked.
        rated("R7", at("2026-10-09", "10:00"), level=2, channel="sms", region="511302",
              department="D4"),
    ]


async def totals(
    settings: Settings, *dimensions: str, as_of: date = AS_OF, **filters: Any
) -> list[ReviewTotals]:
    return await review_totals(settings, dimensions, ReviewFilter(**filters), as_of)


def counts(row: ReviewTotals) -> tuple[int, ...]:
    """Return the nine counts of a row in the order of ``ReviewTotals``' fields."""
    return (
        row.ratings,
        row.defaults,
        row.satisfied,
        row.bad,
        row.verified,
        row.valid,
        row.rectified,
        row.rectifications_overdue,
        row.callbacks_overdue,
    )


@pytest.fixture
async def projected(bus: Bus, settings: Settings) -> Settings:
    client, _js = bus
    await publish_reviews(client, scenario())
    summary = await run_reviews_projection(settings, until_caught_up=True)
    assert summary.applied == len(scenario())
    assert summary.set_aside == 0
    return settings


async def test_overall_totals_and_rates(projected: Settings) -> None:
    [overall] = await totals(projected)

    assert overall.group == {}
    assert counts(overall) == (8, 1, 3, 4, 3, 2, 1, 1, 1)
    assert overall.chosen == 7
    assert overall.satisfaction_rate == pytest.approx(3 / 7)
    assert overall.verified_share == pytest.approx(3 / 4)
    assert overall.rectification_rate == pytest.approx(1 / 2)


async def test_default_rating_kept_out_of_rates(projected: Settings) -> None:
    rows = await totals(projected, "department")

    by_department = {row.group["department"]: row for row in rows}
    d2 = by_department["D2"]
    assert d2.ratings == 2
    assert d2.defaults == 1
    assert d2.chosen == 1
    assert d2.satisfied == 0
    assert d2.bad == 1
    assert d2.satisfaction_rate == 0.0


async def test_only_default_ratings_give_no_rate(projected: Settings) -> None:
    rows = await totals(projected, "item", "channel", region="511621")

    by_group = {(row.group["item"], row.group["channel"]): row for row in rows}
    only_default = by_group[("I2", "web")]
    assert only_default.ratings == 1
    assert only_default.defaults == 1
    assert only_default.satisfaction_rate is None
    assert only_default.verified_share is None


async def test_region_rolls_up_province_city_county(projected: Settings) -> None:
    rows = await totals(projected, "region")

    assert [row.group["region"] for row in rows] == [
        "51", "5113", "511302", "5116", "511600", "511602", "511621",
    ]
    ratings = {row.group["region"]: row.ratings for row in rows}
    assert ratings == {
        "51": 8, "5113": 1, "511302": 1, "5116": 7, "511600": 1, "511602": 4, "511621": 2,
    }
    by_region = {row.group["region"]: row for row in rows}
    assert counts(by_region["511621"]) == (2, 1, 0, 1, 1, 1, 0, 1, 0)
    assert counts(by_region["5113"]) == (1, 0, 0, 1, 0, 0, 0, 0, 1)
    assert counts(by_region["51"]) == (8, 1, 3, 4, 3, 2, 1, 1, 1)


async def test_city_rows_sum_their_counties(projected: Settings) -> None:
    rows = await totals(projected, "region", "channel")

    cities = {
        (row.group["region"], row.group["channel"]): counts(row)
        for row in rows
        if len(row.group["region"] or "") == 4
    }
    summed: dict[tuple[str, str | None], list[int]] = {}
    for row in rows:
        region = row.group["region"] or ""
        if len(region) == 6:
            key = (region[:4], row.group["channel"])
            figures = summed.setdefault(key, [0] * 9)
            for index, value in enumerate(counts(row)):
                figures[index] += value
    assert {key: tuple(value) for key, value in summed.items()} == cities


async def test_totals_by_channel_day_and_item(projected: Settings) -> None:
    by_channel = {row.group["channel"]: row.ratings for row in await totals(projected, "channel")}
    by_day = {row.group["day"]: row.ratings for row in await totals(projected, "day")}
    by_item = {row.group["item"]: row.ratings for row in await totals(projected, "item")}

    assert by_channel == {"mobile": 2, "phone": 1, "sms": 1, "web": 3, "window": 1}
    assert by_day == {"2026-09-29": 5, "2026-09-30": 2, "2026-10-09": 1}
    assert by_item == {"511A0138000000-511602000000-000-115113010833722043-1-00": 6, "I2": 2}


async def test_filters_by_date_and_region(projected: Settings) -> None:
    [september] = await totals(projected, since=date(2026, 9, 30), until=date(2026, 10, 8))
    [guang_an] = await totals(projected, region="5116")
    [yuechi] = await totals(projected, region="511621")

    assert september.ratings == 2
    assert guang_an.ratings == 7
    assert yuechi.ratings == 2


async def test_rectification_overdue_counts_working_days(projected: Settings) -> None:
    """R4, rated 09-29, is due after 15 working days: 10-26, the National Day holiday skipped."""
    [on_due_day] = await totals(projected, as_of=date(2026, 10, 26))
    [day_after] = await totals(projected, as_of=date(2026, 10, 27))

    assert on_due_day.rectifications_overdue == 0
    assert day_after.rectifications_overdue == 1


async def test_callback_overdue_counts_make_up_workday(projected: Settings) -> None:
    """R7, rated Friday 10-09, is due after 5 working days, the make-up Saturday 10-10 included."""
    [on_due_day] = await totals(projected, as_of=date(2026, 10, 15))
    [day_after] = await totals(projected, as_of=date(2026, 10, 16))

    assert on_due_day.callbacks_overdue == 0
    assert day_after.callbacks_overdue == 1


async def test_configured_deadlines_apply(projected: Settings, tmp_path: Path) -> None:
    config = tmp_path / "zwbus.toml"
    config.write_text("[reviews]\ncallback_days = 1\nrectification_days = 10\n")
    configured = Settings(
        nats_url=projected.nats_url, data_dir=projected.data_dir, config_file=config
    )

    [before] = await totals(configured, as_of=date(2026, 10, 19))
    [after] = await totals(configured, as_of=date(2026, 10, 20))

    assert before.rectifications_overdue == 0
    assert after.rectifications_overdue == 1
    assert after.callbacks_overdue == 1


async def test_summary_for_demo(projected: Settings) -> None:
    summary = await review_summary(projected, AS_OF)

    assert summary.ratings == 8
    assert summary.defaults == 1
    assert summary.bad_reviews == 4
    assert summary.satisfaction_rate == pytest.approx(3 / 7)
    assert summary.verified_share == pytest.approx(3 / 4)
    assert summary.rectification_rate == pytest.approx(1 / 2)
    assert summary.rectifications_overdue == 1
    assert summary.callbacks_overdue == 1


async def test_review_row_keeps_follow_ups_and_pseudonym(projected: Settings) -> None:
    path = store_path(projected.data_dir, "reviews")
    async with aiosqlite.connect(path) as connection:
        connection.row_factory = aiosqlite.Row
        async with connection.execute("SELECT * FROM reviews WHERE review_id = 'R3'") as cursor:
            row = dict(await cursor.fetchone() or {})
        async with connection.execute("SELECT payload FROM review_events") as cursor:
            payloads = [record["payload"] async for record in cursor]

    assert row["case_code"] == "CASE-R3"
    assert row["rated_day"] == "2026-09-29"
    assert row["valid"] == 1
    assert row["rectification_assigned_at"] == "2026-09-30T10:00:00.000000+08:00"
    assert row["rectified_at"] == "2026-10-09T10:00:00.000000+08:00"
    assert row["revisit_satisfaction"] == 4
    assert row["events"] == 5
    assert len(row["rater_pseudonym"]) == 64
    assert not any("513000199001011234" in payload for payload in payloads)


async def test_resent_events_are_skipped(bus: Bus, projected: Settings) -> None:
    client, _js = bus
    events = scenario()
    before = await totals(projected, "region", "channel")

    await publish_reviews(client, events, msg_ids=[f"{event.id}-again" for event in events])
    summary = await run_reviews_projection(projected, until_caught_up=True)

    assert summary.applied == 0
    assert summary.duplicates == len(events)
    assert await totals(projected, "region", "channel") == before


async def test_follow_ups_before_rating_count_once_rated(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    flow = [
        rated("L1", at("2026-09-29", "09:00"), level=1),
        verified("L1", at("2026-09-30", "09:00"), valid=True),
        assigned("L1", at("2026-09-30", "10:00")),
        rectified("L1", at("2026-10-09", "10:00")),
    ]

    await publish_reviews(client, reversed(flow[1:]))
    await run_reviews_projection(settings, until_caught_up=True)
    [without_rating] = await totals(settings)
    await publish_reviews(client, flow[:1])
    await run_reviews_projection(settings, until_caught_up=True)
    [with_rating] = await totals(settings)

    assert without_rating.ratings == 0
    assert counts(with_rating) == (1, 0, 0, 1, 1, 1, 1, 0, 0)
    assert with_rating.rectification_rate == 1.0


async def test_rebuild_equals_live_store(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    events = scenario()
    for start in range(0, len(events), 4):
        await publish_reviews(client, events[start : start + 4])
        await run_reviews_projection(settings, until_caught_up=True)
    await publish_reviews(client, events[:5], msg_ids=[f"{e.id}-again" for e in events[:5]])
    await run_reviews_projection(settings, until_caught_up=True)
    live = store_path(settings.data_dir, "reviews")
    incremental = all_tables(live)
    expected_totals = await totals(settings, "region", "department", "item", "channel", "day")

    projection = ReviewsProjection.for_data_dir(settings.data_dir)
    result = await ProjectionRebuild(projection, settings, batch_size=3).run()

    assert result.swapped
    assert result.applied == len(events)
    assert result.duplicates == 5
    assert all_tables(live) == incremental
    assert all_tables(previous_path(live)) == incremental
    assert incremental["reviews"]
    assert await totals(settings, "region", "department", "item", "channel", "day") == (
        expected_totals
    )
