"""Calls other packages (the demo, reports) use to run the hall projection and read its views."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import date, datetime

from bus.settings import Settings
from projections.checkpoint_store import ProjectionStore, store_path
from projections.hall import HallProjection, queries
from projections.hall.queries import BookingView, BusiestDay, HallDay, HallStatus
from projections.runtime import ProjectionRunner, RunSummary
from projections.workdays import CHINA_TZ, china_today

__all__ = [
    "BookingView",
    "BusiestDay",
    "HallDay",
    "HallStatus",
    "booking_views",
    "busiest_hall_day",
    "hall_day",
    "hall_status",
    "run_hall_projection",
]


async def run_hall_projection(settings: Settings, *, until_caught_up: bool = True) -> RunSummary:
    """Run the hall projection; see ``ProjectionRunner.run``."""
    projection = HallProjection.for_data_dir(settings.data_dir)
    return await ProjectionRunner(projection, settings).run(until_caught_up=until_caught_up)


def _hall_store(settings: Settings) -> AbstractAsyncContextManager[ProjectionStore]:
    return ProjectionStore.open(
        store_path(settings.data_dir, HallProjection.name),
        projection=HallProjection.name,
        create=False,
    )


async def hall_status(settings: Settings, hall: str, *, day: date | None = None) -> HallStatus:
    """Return the queues and windows of ``hall`` on ``day``.

    Without ``day`` this is the hall's latest business day with a ticket,
    which in a working hall is today; today (China) when it has none.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with _hall_store(settings) as store:
        if day is None:
            day = await queries.latest_ticket_day(store.connection, hall)
        return await queries.hall_status(store.connection, hall, day or china_today())


async def hall_day(
    settings: Settings, hall: str, day: date, *, as_of: datetime | None = None
) -> HallDay:
    """Return the bookings per slot and the tickets of ``hall`` on ``day``.

    A slot is past, and its open bookings are no-shows, once its end is not
    after ``as_of`` (default: now).

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    moment = as_of if as_of is not None else datetime.now(CHINA_TZ)
    async with _hall_store(settings) as store:
        return await queries.hall_day(store.connection, hall, day, moment)


async def booking_views(
    settings: Settings, booking_id: str, *, hall: str | None = None
) -> list[BookingView]:
    """Return the online view of the bookings with this id (one per hall that has it).

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with _hall_store(settings) as store:
        return await queries.find_bookings(store.connection, booking_id, hall)


async def busiest_hall_day(settings: Settings) -> BusiestDay | None:
    """Return the hall and business day with the most tickets, None when there is no ticket.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with _hall_store(settings) as store:
        return await queries.busiest_day(store.connection)
