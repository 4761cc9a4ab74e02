"""Calls the demo and reports use to run the sharing projection and read its figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import aiosqlite

from bus.settings import Settings
from projections.checkpoint_store import ProjectionStore, store_path
from projections.runtime import ProjectionRunner, RunSummary
from projections.sharing import SharingProjection, queries
from projections.sharing.queries import SharingBacklog

__all__ = [
    "RunSummary",
    "SharingBacklog",
    "open_sharing_store",
    "run_sharing_projection",
    "sharing_backlog",
]


async def run_sharing_projection(
    settings: Settings, *, until_caught_up: bool = True
) -> RunSummary:
    """Run the data-sharing projection; see ``ProjectionRunner.run``."""
    projection = SharingProjection.for_data_dir(settings.data_dir)
    return await ProjectionRunner(projection, settings).run(until_caught_up=until_caught_up)


@asynccontextmanager
async def open_sharing_store(settings: Settings) -> AsyncIterator[aiosqlite.Connection]:
    """Open the sharing store of ``settings.data_dir`` for reading.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with ProjectionStore.open(
        store_path(settings.data_dir, SharingProjection.name),
        projection=SharingProjection.name,
        create=False,
    ) as store:
        yield store.connection


async def sharing_backlog(settings: Settings, now: datetime) -> SharingBacklog:
    """Return the requests awaiting approval or delivery and the open objections as of ``now``.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with open_sharing_store(settings) as connection:
        return await queries.backlog(connection, now)
