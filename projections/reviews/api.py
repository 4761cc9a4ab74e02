"""Calls other packages (the demo, reports) use to run the review projection and read it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date

import aiosqlite
import msgspec

from bus.config import load_config
from bus.settings import Settings
from projections.checkpoint_store import ProjectionStore, store_path
from projections.reviews import ReviewsProjection, queries
from projections.reviews.deadlines import DeadlineCalendar
from projections.runtime import ProjectionRunner, RunSummary

__all__ = [
    "ReviewSummary",
    "RunSummary",
    "open_review_store",
    "review_summary",
    "review_totals",
    "run_reviews_projection",
]


class ReviewSummary(msgspec.Struct, kw_only=True):
    """Headline figures of all reviews; ``projections.reviews.queries`` defines each."""

    ratings: int
    defaults: int
    """Automatic ratings (默认好评), counted in ``ratings`` and kept out of every rate."""
    satisfaction_rate: float | None
    """Chosen ratings of level 3 to 5 over chosen ratings; None without chosen ratings."""
    bad_reviews: int
    verified_share: float | None
    rectification_rate: float | None
    rectifications_overdue: int
    callbacks_overdue: int


async def run_reviews_projection(
    settings: Settings, *, until_caught_up: bool = True
) -> RunSummary:
    """Run the review projection; see ``ProjectionRunner.run``."""
    projection = ReviewsProjection.for_data_dir(settings.data_dir)
    return await ProjectionRunner(projection, settings).run(until_caught_up=until_caught_up)


@asynccontextmanager
async def open_review_store(settings: Settings) -> AsyncIterator[aiosqlite.Connection]:
    """Open the review store for reading, with the deadlines of the configuration installed.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
        ConfigError: the configuration file is missing or invalid.
    """
    calendar = DeadlineCalendar(load_config(settings.config_file).reviews)
    path = store_path(settings.data_dir, ReviewsProjection.name)
    async with ProjectionStore.open(path, projection=ReviewsProjection.name, create=False) as store:
        await calendar.install(store.connection)
        yield store.connection


async def review_totals(
    settings: Settings,
    dimensions: Sequence[str],
    filters: queries.ReviewFilter,
    as_of: date,
) -> list[queries.ReviewTotals]:
    """Return totals by ``dimensions``; see ``queries.review_totals``."""
    async with open_review_store(settings) as connection:
        return await queries.review_totals(connection, dimensions, filters, as_of)


async def review_summary(settings: Settings, today: date) -> ReviewSummary:
    """Return the headline figures of all reviews, overdue counts as of ``today``.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
        ConfigError: the configuration file is missing or invalid.
    """
    [overall] = await review_totals(settings, (), queries.ReviewFilter(), today)
    return ReviewSummary(
        ratings=overall.ratings,
        defaults=overall.defaults,
        satisfaction_rate=overall.satisfaction_rate,
        bad_reviews=overall.bad,
        verified_share=overall.verified_share,
        rectification_rate=overall.rectification_rate,
        rectifications_overdue=overall.rectifications_overdue,
        callbacks_overdue=overall.callbacks_overdue,
    )
