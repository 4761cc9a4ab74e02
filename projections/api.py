"""Calls other packages (the demo, reports) use to run the case projection and read its figures."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import date

import msgspec

from bus.settings import Settings
from projections.cases import CasesProjection, queries
from projections.checkpoint_store import ProjectionStore, store_path
from projections.runtime import ProjectionRunner, RunSummary

__all__ = [
    "CaseOverview",
    "RunSummary",
    "case_overview",
    "case_status_counts",
    "overdue_count",
    "run_cases_projection",
]


class CaseOverview(msgspec.Struct, kw_only=True):
    """Headline figures of the case database."""

    by_status: dict[str, int]
    """Cases per current status (short names such as ``accepted``)."""
    total: int
    overdue: int
    """Cases overdue as of the date asked for."""
    sample_code: str | None
    """A case worth showing: the one with the longest history; None when there is none."""


async def run_cases_projection(settings: Settings, *, until_caught_up: bool = True) -> RunSummary:
    """Run the case database projection; see ``ProjectionRunner.run``."""
    projection = CasesProjection.for_data_dir(settings.data_dir)
    return await ProjectionRunner(projection, settings).run(until_caught_up=until_caught_up)


def _cases_store(settings: Settings) -> AbstractAsyncContextManager[ProjectionStore]:
    return ProjectionStore.open(
        store_path(settings.data_dir, CasesProjection.name),
        projection=CasesProjection.name,
        create=False,
    )


async def case_status_counts(settings: Settings) -> dict[str, int]:
    """Return the number of cases per current status.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with _cases_store(settings) as store:
        return await queries.status_counts(store.connection)


async def overdue_count(settings: Settings, today: date) -> int:
    """Return the number of cases overdue as of ``today``.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with _cases_store(settings) as store:
        return await queries.count_overdue(store.connection, today)


async def case_overview(settings: Settings, *, today: date) -> CaseOverview:
    """Return cases per status, the total, the overdue count and a sample case code.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    async with _cases_store(settings) as store:
        by_status = await queries.status_counts(store.connection)
        overdue = await queries.count_overdue(store.connection, today)
        sample = await queries.sample_case_code(store.connection)
    return CaseOverview(
        by_status=by_status, total=sum(by_status.values()), overdue=overdue, sample_code=sample
    )
