"""Reading the case database: one case with its history, filtered lists and counts.

Overdue is decided at query time against a ``today`` date, because an open
case becomes overdue without any new event. A case is overdue when it has a
due date and either was concluded after it, or is still open (not
concluded, withdrawn or not accepted) and ``today`` is after it. A case
suspended on or before its due date is not overdue while the suspension
lasts, because the clock stops.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import aiosqlite
import msgspec

from bus.errors import ConfigError
from bus.i18n import N_
from projections.cases.model import CaseRecord, status_rank
from projections.cases.schema import CASE_COLUMNS

OVERDUE_SQL = """(
    due_date IS NOT NULL AND (
        (concluded_at IS NOT NULL AND substr(concluded_at, 1, 10) > due_date)
        OR (
            concluded_at IS NULL
            AND status NOT IN ('withdrawn', 'not_accepted')
            AND NOT (status = 'suspended' AND substr(status_at, 1, 10) <= due_date)
            AND :today > due_date
        )
    )
)"""

_REGION_PREFIX = re.compile(r"\d{2}|\d{4}|\d{6}")


class CaseView(msgspec.Struct, kw_only=True):
    """A case row with its overdue flag as of the query's date."""

    case: CaseRecord
    overdue: bool


class HistoryEntry(msgspec.Struct, kw_only=True):
    """One stored event of a case; identifiers in ``payload`` are masked."""

    event_id: str
    seq: int
    type: str
    occurred_at: str
    recorded_at: str
    source_system: str
    payload: dict[str, Any]


class CaseFilter(msgspec.Struct, kw_only=True):
    """Filters of ``list_cases``; None means "any"."""

    region: str | None = None
    """Region code prefix: 2 digits (province), 4 (city) or 6 (county)."""
    department: str | None = None
    """Department code, exact."""
    item: str | None = None
    """Item implementation code, exact."""
    status: str | None = None
    """Short status name such as ``accepted``."""
    overdue: bool = False
    since: date | None = None
    """First submission date included."""
    until: date | None = None
    """Last submission date included."""
    limit: int = 50


def _view(row: aiosqlite.Row) -> CaseView:
    values = {column: row[column] for column in CASE_COLUMNS}
    return CaseView(case=CaseRecord(**values), overdue=bool(row["overdue"]))


async def find_cases(
    connection: aiosqlite.Connection, code_or_local_no: str, today: date
) -> list[CaseView]:
    """Return the case with this unified code, else every case with this local number."""
    base = f"SELECT *, {OVERDUE_SQL} AS overdue FROM cases WHERE "
    parameters = {"today": today.isoformat(), "value": code_or_local_no}
    async with connection.execute(base + "code = :value", parameters) as cursor:
        rows = list(await cursor.fetchall())
    if not rows:
        async with connection.execute(
            base + "local_no = :value ORDER BY system, code", parameters
        ) as cursor:
            rows = list(await cursor.fetchall())
    return [_view(row) for row in rows]


async def case_history(connection: aiosqlite.Connection, code: str) -> list[HistoryEntry]:
    """Return the events of a case in business-time order, lifecycle rank breaking ties."""
    async with connection.execute(
        "SELECT * FROM case_events WHERE code = ?", (code,)
    ) as cursor:
        rows = await cursor.fetchall()
    entries = [
        HistoryEntry(
            event_id=row["event_id"],
            seq=row["seq"],
            type=row["type"],
            occurred_at=row["occurred_at"],
            recorded_at=row["recorded_at"],
            source_system=row["source_system"],
            payload=msgspec.json.decode(row["payload"]),
        )
        for row in rows
    ]
    entries.sort(
        key=lambda entry: (
            entry.occurred_at,
            status_rank(entry.type.removeprefix("case.")),
            entry.seq,
        )
    )
    return entries


def _filter_clauses(filters: CaseFilter) -> tuple[list[str], dict[str, object]]:
    clauses: list[str] = []
    parameters: dict[str, object] = {}
    if filters.region is not None:
        if not _REGION_PREFIX.fullmatch(filters.region):
            raise ConfigError(
                N_("Region filter {region!r} is invalid: give 2 digits (province), "
                   "4 (city) or 6 (county)."),
                region=filters.region,
            )
        clauses.append("region BETWEEN :region_low AND :region_high")
        parameters["region_low"] = filters.region.ljust(6, "0")
        parameters["region_high"] = filters.region.ljust(6, "9")
    if filters.department is not None:
        clauses.append("department_code = :department")
        parameters["department"] = filters.department
    if filters.item is not None:
        clauses.append("item_code = :item")
        parameters["item"] = filters.item
    if filters.status is not None:
        clauses.append("status = :status")
        parameters["status"] = filters.status
    if filters.since is not None:
        clauses.append("submitted_at >= :since")
        parameters["since"] = filters.since.isoformat()
    if filters.until is not None:
        clauses.append("submitted_at < :until_next")
        parameters["until_next"] = (filters.until + timedelta(days=1)).isoformat()
    if filters.overdue:
        clauses.append(OVERDUE_SQL)
    return clauses, parameters


async def list_cases(
    connection: aiosqlite.Connection, filters: CaseFilter, today: date
) -> list[CaseView]:
    """Return matching cases, newest submission first, at most ``filters.limit``."""
    clauses, parameters = _filter_clauses(filters)
    parameters["today"] = today.isoformat()
    parameters["limit"] = filters.limit
    where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
    sql = (
        f"SELECT *, {OVERDUE_SQL} AS overdue FROM cases {where}"
        "ORDER BY submitted_at IS NULL, submitted_at DESC, code LIMIT :limit"
    )
    async with connection.execute(sql, parameters) as cursor:
        return [_view(row) async for row in cursor]


async def status_counts(connection: aiosqlite.Connection) -> dict[str, int]:
    """Return the number of cases per current status."""
    async with connection.execute(
        "SELECT status, COUNT(*) AS n FROM cases GROUP BY status ORDER BY status"
    ) as cursor:
        return {row["status"]: int(row["n"]) async for row in cursor}


async def count_overdue(connection: aiosqlite.Connection, today: date) -> int:
    """Return the number of cases overdue as of ``today``."""
    async with connection.execute(
        f"SELECT COUNT(*) AS n FROM cases WHERE {OVERDUE_SQL}", {"today": today.isoformat()}
    ) as cursor:
        row = await cursor.fetchone()
    return 0 if row is None else int(row["n"])


async def sample_case_code(connection: aiosqlite.Connection) -> str | None:
    """Return the code of the case with the longest history, latest submission first on ties."""
    async with connection.execute(
        "SELECT code FROM cases ORDER BY events DESC, submitted_at IS NULL, submitted_at DESC, "
        "code LIMIT 1"
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row["code"])
