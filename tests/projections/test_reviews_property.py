"""Review totals do not depend on arrival order, re-sends or crashes, on a real nats-server.

Each example publishes a generated set of reviews with their follow-ups in
a random order, with some events sent twice, onto a fresh ZW_REVIEWS
stream. The runner then applies it in small batches and is crashed at
generated points through its fault hooks, as ``ZWBUS_FAULT`` would crash
it, except that the hook raises instead of ending the test process. After
a final clean run, the store must hold the same review rows and totals as
one clean in-memory application of the events in their natural order, and
the totals must match counts computed directly from the generated reviews.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import cast

import aiosqlite
import msgspec
import nats.js.errors
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bus import server
from bus.config import ReviewsConfig
from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import REVIEWS, ensure_streams
from contracts.envelope import Envelope
from contracts.review import Channel
from projections.base import Delivered
from projections.checkpoint_store import ProjectionStore, store_path
from projections.faults import FaultPlan, FaultPoint
from projections.pseudonym import Pseudonymizer
from projections.reviews import ReviewsProjection
from projections.reviews.deadlines import DeadlineCalendar
from projections.reviews.queries import ReviewFilter, ReviewTotals, review_totals
from projections.reviews.schema import REVIEW_COLUMNS, SCHEMA
from projections.runtime import ProjectionRunner
from tests.projections.helpers import at
from tests.projections.review_events import (
    assigned,
    publish_reviews,
    rated,
    rectified,
    review_subject,
    revisited,
    verified,
)

KEY = b"review-property-key-32-bytes-000"
AS_OF = date(2026, 10, 27)
FIRST_DAY = date(2026, 9, 24)
REGIONS = ("511602", "511621", "511600", "511302")
DIMENSION_SETS: tuple[tuple[str, ...], ...] = (
    (),
    ("region",),
    ("department", "channel"),
    ("item", "day"),
)


class SimulatedCrash(Exception):
    """Raised by a fault hook where ZWBUS_FAULT would end the process."""


class CrashAt(FaultPlan):
    """A fault plan that raises at its point, so the test process survives the crash."""

    def reached(self, point: FaultPoint, batch: int) -> None:
        if point == self.point and batch == self.batch:
            raise SimulatedCrash(f"{point}:{batch}")


class ReviewSpec(msgspec.Struct, frozen=True):
    """A generated review: its rating and how far its follow-ups go."""

    number: int
    level: int
    is_default: bool
    channel: Channel
    region: str
    day_offset: int
    valid: bool
    steps: int
    """Follow-ups of a bad review: 0 none, 1 verified, 2 assigned, 3 rectified, 4 revisited."""

    @property
    def review_id(self) -> str:
        return f"P{self.number}"

    @property
    def bad(self) -> bool:
        return not self.is_default and self.level <= 2

    def events(self) -> list[Envelope]:
        day = FIRST_DAY + timedelta(days=self.day_offset)
        envelope = {"region": self.region, "department": f"D{self.number % 3}"}
        item = "I1" if self.number % 2 else "I2"
        events = [
            rated(self.review_id, at(day.isoformat(), "09:00"), level=self.level,
                  channel=self.channel, is_default=self.is_default, item_code=item,
                  rater=f"rater-{self.number}", **envelope),
        ]
        if not self.bad:
            return events
        follow_ups = [
            lambda moment: verified(self.review_id, moment, valid=self.valid, **envelope),
            lambda moment: assigned(self.review_id, moment, **envelope),
            lambda moment: rectified(self.review_id, moment, **envelope),
            lambda moment: revisited(self.review_id, moment, satisfaction=4, **envelope),
        ]
        steps = self.steps if self.valid else min(self.steps, 1)
        for index in range(steps):
            moment = at((day + timedelta(days=3 * index + 1)).isoformat(), "10:00")
            events.append(follow_ups[index](moment))
        return events


@st.composite
def review_specs(draw: st.DrawFn) -> list[ReviewSpec]:
    count = draw(st.integers(min_value=2, max_value=7))
    specs = []
    for number in range(count):
        level = draw(st.integers(min_value=1, max_value=5))
        specs.append(
            ReviewSpec(
                number=number,
                level=level,
                is_default=level == 5 and draw(st.booleans()),
                channel=draw(st.sampled_from(["web", "mobile", "window", "sms"])),
                region=draw(st.sampled_from(REGIONS)),
                day_offset=draw(st.integers(min_value=0, max_value=20)),
                valid=draw(st.booleans()),
                steps=draw(st.integers(min_value=0, max_value=4)),
            )
        )
    return specs


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[ReviewSpec], list[Envelope], list[Envelope]]:
    """Return the reviews, their events in a random order, and events to send again."""
    specs = draw(review_specs())
    events = [event for spec in specs for event in spec.events()]
    order = draw(st.permutations(events))
    resent = draw(st.lists(st.sampled_from(events), max_size=4))
    return specs, order, resent


crash_plans = st.lists(
    st.tuples(
        st.sampled_from(["after_write", "after_commit"]),
        st.integers(min_value=1, max_value=3),
    ),
    min_size=1,
    max_size=3,
)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.ServerInfo]:
    """One nats-server for every example of this module; each example recreates the stream."""
    folder = tmp_path_factory.mktemp("nats-reviews-property")
    info = server.start(folder, port=server.free_port())
    try:
        yield info
    finally:
        server.stop(folder)


async def fresh_stream(settings: Settings, events: list[Envelope], resent: list[Envelope]) -> None:
    async with open_bus(settings) as (client, js):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(REVIEWS)
        await ensure_streams(js)
        await publish_reviews(client, events)
        await publish_reviews(
            client, resent, msg_ids=[f"{event.id}-again-{n}" for n, event in enumerate(resent)]
        )


async def run_with_crashes(
    settings: Settings, plan: list[tuple[str, int]], batch_size: int
) -> int:
    """Run the projection through each planned crash, then to the end; return crashes seen."""
    projection = ReviewsProjection(Pseudonymizer(KEY))
    crashes = 0
    for point, batch in plan:
        runner = ProjectionRunner(
            projection, settings, batch_size=batch_size, fetch_timeout_s=1.0,
            faults=CrashAt(cast(FaultPoint, point), batch),
        )
        try:
            await runner.run(until_caught_up=True)
        except SimulatedCrash:
            crashes += 1
    final = ProjectionRunner(projection, settings, batch_size=batch_size, fetch_timeout_s=1.0)
    await final.run(until_caught_up=True)
    return crashes


class StoreContents(msgspec.Struct):
    """The review rows and the totals of each dimension set of one store."""

    rows: list[tuple[object, ...]]
    totals: dict[tuple[str, ...], list[ReviewTotals]]


async def read_store(connection: aiosqlite.Connection) -> StoreContents:
    await DeadlineCalendar(ReviewsConfig()).install(connection)
    async with connection.execute(
        f"SELECT {', '.join(REVIEW_COLUMNS)} FROM reviews ORDER BY review_id"
    ) as cursor:
        rows = [tuple(row) for row in await cursor.fetchall()]
    totals = {
        dimensions: await review_totals(connection, dimensions, ReviewFilter(), AS_OF)
        for dimensions in DIMENSION_SETS
    }
    return StoreContents(rows, totals)


async def clean_run(events: list[Envelope]) -> StoreContents:
    """Apply the events in their natural order in one batch to an in-memory store."""
    connection = await aiosqlite.connect(":memory:", isolation_level=None)
    try:
        connection.row_factory = aiosqlite.Row
        await connection.executescript(SCHEMA)
        projection = ReviewsProjection(Pseudonymizer(KEY))
        delivered = [
            Delivered(seq, review_subject(event), event)
            for seq, event in enumerate(events, start=1)
        ]
        await connection.execute("BEGIN")
        await projection.apply(connection, delivered)
        await connection.execute("COMMIT")
        return await read_store(connection)
    finally:
        await connection.close()


async def bus_run_store(settings: Settings) -> StoreContents:
    path = store_path(settings.data_dir, "reviews")
    async with ProjectionStore.open(path, projection="reviews", create=False) as store:
        async with store.connection.execute("SELECT COUNT(*) FROM set_aside") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        assert row[0] == 0
        return await read_store(store.connection)


def expected_overall(specs: list[ReviewSpec]) -> dict[str, int]:
    """Count the overall figures straight from the generated reviews."""
    bad = [spec for spec in specs if spec.bad]
    verified_specs = [spec for spec in bad if spec.steps >= 1]
    valid = [spec for spec in verified_specs if spec.valid]
    return {
        "ratings": len(specs),
        "defaults": sum(spec.is_default for spec in specs),
        "satisfied": sum(not spec.is_default and spec.level >= 3 for spec in specs),
        "bad": len(bad),
        "verified": len(verified_specs),
        "valid": len(valid),
        "rectified": sum(spec.steps >= 3 for spec in valid),
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    arrival=arrivals(),
    plan=crash_plans,
    batch_size=st.integers(min_value=1, max_value=3),
)
def test_totals_ignore_order_resends_and_crashes(
    module_server: server.ServerInfo,
    arrival: tuple[list[ReviewSpec], list[Envelope], list[Envelope]],
    plan: list[tuple[str, int]],
    batch_size: int,
) -> None:
    specs, order, resent = arrival
    natural = [event for spec in specs for event in spec.events()]
    expected = asyncio.run(clean_run(natural))

    with tempfile.TemporaryDirectory() as folder:
        settings_ = Settings(nats_url=module_server.url, data_dir=Path(folder), lang="en")
        asyncio.run(fresh_stream(settings_, order, resent))
        crashes = asyncio.run(run_with_crashes(settings_, plan, batch_size))
        event(f"crashes: {crashes}")
        found = asyncio.run(bus_run_store(settings_))

    assert found.rows == expected.rows
    for dimensions in DIMENSION_SETS:
        assert found.totals[dimensions] == expected.totals[dimensions], dimensions
    [overall] = found.totals[()]
    counted = expected_overall(specs)
    assert {name: getattr(overall, name) for name in counted} == counted
