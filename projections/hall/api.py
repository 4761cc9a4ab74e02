"""Calls other packages (the demo, reports) use to run the hall projection and read its views."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import date, datetime

import aiosqlite

from bus.errors import BusError
from bus.i18n import N_
from bus.settings import Settings
from projections.checkpoint_store import ProjectionStore, store_path
from projections.hall import HallProjection, queries
from projections.hall.model import BookingRecord
from projections.hall.queries import BookingView, BusiestDay, HallDay, HallStatus
from projections.runtime import ProjectionRunner, RunSummary
from projections.workdays import CHINA_TZ

__all__ = [
    "BookingRecord",
    "BookingView",
    "BusiestDay",
    "HallDay",
    "HallNotFoundError",
    "HallStatus",
    "booking_views",
    "busiest_hall_day",
    "day_bookings",
    "hall_day",
    "hall_status",
    "run_hall_projection",
]

KNOWN_HALLS_SHOWN = 10
"""Hall codes an unknown-hall error lists, so that a typing mistake is easy to spot."""


class HallNotFoundError(BusError):
    """No booking or ticket of the hall has reached the hall read model."""

    template = N_(
        "Hall {hall} is unknown: no booking or ticket of it has reached the hall projection. "
        "Known halls: {known}. Check the hall code; if the hall's system sent records, "
        "see zwbus parked list and zwbus quarantine list, or zwbus projections status when "
        "the projection lags."
    )


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


async def _check_hall(connection: aiosqlite.Connection, hall: str) -> None:
    if await queries.hall_is_known(connection, hall):
        return
    known = await queries.known_halls(connection, KNOWN_HALLS_SHOWN + 1)
    listed = ", ".join(known[:KNOWN_HALLS_SHOWN]) or "-"
    if len(known) > KNOWN_HALLS_SHOWN:
        listed += ", …"
    raise HallNotFoundError(hall=hall, known=listed)


async def hall_status(
    settings: Settings, hall: str, *, day: date | None = None, as_of: datetime | None = None
) -> HallStatus:
    """Return the queues and windows of ``hall`` on ``day``, judged at ``as_of`` (default: now).

    Without ``day`` this is the hall's latest business day with a ticket,
    which in a working hall is today. A hall without tickets gets the day of
    ``as_of`` in China. On a day that is over, tickets never ended are left
    open.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
        HallNotFoundError: no booking or ticket of ``hall`` has reached the model.
    """
    moment = as_of if as_of is not None else datetime.now(CHINA_TZ)
    async with _hall_store(settings) as store:
        await _check_hall(store.connection, hall)
        if day is None:
            day = await queries.latest_ticket_day(store.connection, hall)
        chosen = day or moment.astimezone(CHINA_TZ).date()
        return await queries.hall_status(store.connection, hall, chosen, as_of=moment)


async def hall_day(
    settings: Settings, hall: str, day: date, *, as_of: datetime | None = None
) -> HallDay:
    """Return the bookings per slot and the tickets of ``hall`` on ``day``.

    A slot is past, and its open bookings are no-shows, once its end is not
    after ``as_of`` (default: now). The day is over once ``as_of`` is on a
    later day.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
        HallNotFoundError: no booking or ticket of ``hall`` has reached the model.
    """
    moment = as_of if as_of is not None else datetime.now(CHINA_TZ)
    async with _hall_store(settings) as store:
        await _check_hall(store.connection, hall)
        return await queries.hall_day(store.connection, hall, day, moment)


async def day_bookings(settings: Settings, hall: str, day: date) -> list[BookingRecord]:
    """Return the bookings of ``hall`` whose slot is on ``day``, by slot start and id.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
        HallNotFoundError: no booking or ticket of ``hall`` has reached the model.
    """
    async with _hall_store(settings) as store:
        await _check_hall(store.connection, hall)
        return await queries.day_bookings(store.connection, hall, day)


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
