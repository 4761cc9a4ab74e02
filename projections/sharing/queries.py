"""Reading the data-sharing read model: catalogue, requests with timings, objections, backlog.

The age of an open objection is computed at query time against a ``now``
moment, because it grows without any new event. Ages are given in days
(elapsed time divided by 24 hours) and in working days (the working days
after the raising date up to and including the date of ``now``).
"""

from __future__ import annotations

import statistics
from datetime import datetime

import aiosqlite
import msgspec

from projections.sharing.records import stored_date
from projections.times import business_time
from projections.workdays import CHINA_TZ, working_days_between

_DAY_S = 86_400.0


class DataItemView(msgspec.Struct, kw_only=True):
    """One data item (信息项) of a catalogue resource."""

    name: str
    data_type: str = "string"


class CatalogueEntry(msgspec.Struct, kw_only=True):
    """One resource of the sharing catalogue with every change applied."""

    code: str
    name: str | None
    provider: str | None
    provider_name: str | None
    share_type: str | None
    """unconditional | conditional | none (无条件/有条件/不予共享)."""
    share_condition: str | None
    open_type: str | None
    update_cycle: str | None
    format: str | None
    data_items: list[DataItemView]
    state: str
    """published | withdrawn."""
    state_at: str
    published_at: str | None
    region: str
    events: int


class CatalogueFilter(msgspec.Struct, kw_only=True):
    """Filters of ``list_catalogue``; None means "any"."""

    provider: str | None = None
    """Department code of the provider, exact."""
    share_type: str | None = None
    state: str | None = None
    limit: int = 100


class RequestView(msgspec.Struct, kw_only=True):
    """A sharing request with its timings; hours are clock hours from submission."""

    request_id: str
    resource_code: str | None
    resource_name: str | None
    requester: str | None
    requester_name: str | None
    purpose: str | None
    data_items: list[str]
    state: str
    """submitted | approved | denied | delivering | revoked."""
    state_at: str
    submitted_at: str | None
    approved_at: str | None
    denied_at: str | None
    denial_reason: str | None
    first_delivered_at: str | None
    last_delivered_at: str | None
    deliveries: int
    delivered_records: int
    revoked_at: str | None
    revoke_reason: str | None
    approval_hours: float | None
    approval_working_days: int | None
    delivery_hours: float | None
    delivery_working_days: int | None
    region: str
    events: int


class RequestFilter(msgspec.Struct, kw_only=True):
    """Filters of ``list_requests``; None means "any"."""

    state: str | None = None
    resource: str | None = None
    """Resource code, exact."""
    limit: int = 100


class RequestMedians(msgspec.Struct, kw_only=True):
    """Medians of the timings over every request that matches a filter (not only those shown)."""

    requests: int
    """Requests that match the filter."""
    approved: int
    """Matching requests with a submission and an approval, which the approval medians cover."""
    approval_hours: float | None
    approval_working_days: float | None
    delivered: int
    """Matching requests with a submission and a delivery, which the delivery medians cover."""
    delivery_hours: float | None
    delivery_working_days: float | None


class RequestList(msgspec.Struct, kw_only=True):
    """Requests shown (newest submission first, at most the limit) and the medians of all."""

    requests: list[RequestView]
    medians: RequestMedians


class ObjectionView(msgspec.Struct, kw_only=True):
    """An objection (数据异议); the record key is shown masked, the age only while it is open."""

    objection_id: str
    resource_code: str | None
    request_id: str | None
    record_key_masked: str | None
    record_key_pseudonym: str | None
    field: str | None
    claimed_value: str | None
    raised_by: str | None
    state: str
    """open | corrected | upheld."""
    state_at: str
    raised_at: str | None
    resolved_at: str | None
    note: str | None
    region: str
    age_days: float | None
    age_working_days: int | None


class SharingBacklog(msgspec.Struct, kw_only=True):
    """Work waiting in data sharing as of a moment."""

    as_of: str
    """The moment ages are measured to, China Standard Time."""
    awaiting_approval: int
    """Requests still in state ``submitted``: neither approved, denied nor delivered."""
    approved_not_delivered: int
    """Requests approved with no delivery yet."""
    open_objections: int
    oldest_objection_id: str | None
    oldest_objection_age_days: float | None
    oldest_objection_age_working_days: int | None


def _age(raised_at: str | None, now: datetime) -> tuple[float | None, int | None]:
    if raised_at is None:
        return None, None
    raised = datetime.fromisoformat(raised_at)
    days = (now - raised).total_seconds() / _DAY_S
    working = working_days_between(stored_date(raised_at), now.astimezone(CHINA_TZ).date())
    return days, working


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)} " if clauses else ""


# --- catalogue ---------------------------------------------------------------


async def list_catalogue(
    connection: aiosqlite.Connection, filters: CatalogueFilter
) -> list[CatalogueEntry]:
    """Return matching catalogue resources ordered by provider and code."""
    clauses: list[str] = []
    parameters: dict[str, object] = {"limit": filters.limit}
    if filters.provider is not None:
        clauses.append("provider = :provider")
        parameters["provider"] = filters.provider
    if filters.share_type is not None:
        clauses.append("share_type = :share_type")
        parameters["share_type"] = filters.share_type
    if filters.state is not None:
        clauses.append("state = :state")
        parameters["state"] = filters.state
    sql = (
        f"SELECT * FROM sharing_resources {_where(clauses)}"
        "ORDER BY provider IS NULL, provider, code LIMIT :limit"
    )
    async with connection.execute(sql, parameters) as cursor:
        rows = await cursor.fetchall()
    return [
        CatalogueEntry(
            code=row["code"],
            name=row["name"],
            provider=row["provider"],
            provider_name=row["provider_name"],
            share_type=row["share_type"],
            share_condition=row["share_condition"],
            open_type=row["open_type"],
            update_cycle=row["update_cycle"],
            format=row["format"],
            data_items=msgspec.json.decode(row["data_items"], type=list[DataItemView]),
            state=row["state"],
            state_at=row["state_at"],
            published_at=row["published_at"],
            region=row["region"],
            events=row["events"],
        )
        for row in rows
    ]


# --- requests ----------------------------------------------------------------


def _request_view(row: aiosqlite.Row) -> RequestView:
    return RequestView(
        request_id=row["request_id"],
        resource_code=row["resource_code"],
        resource_name=row["resource_name"],
        requester=row["requester"],
        requester_name=row["requester_name"],
        purpose=row["purpose"],
        data_items=msgspec.json.decode(row["data_items"], type=list[str]),
        state=row["state"],
        state_at=row["state_at"],
        submitted_at=row["submitted_at"],
        approved_at=row["approved_at"],
        denied_at=row["denied_at"],
        denial_reason=row["denial_reason"],
        first_delivered_at=row["first_delivered_at"],
        last_delivered_at=row["last_delivered_at"],
        deliveries=row["deliveries"],
        delivered_records=row["delivered_records"],
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
        approval_hours=row["approval_hours"],
        approval_working_days=row["approval_working_days"],
        delivery_hours=row["delivery_hours"],
        delivery_working_days=row["delivery_working_days"],
        region=row["region"],
        events=row["events"],
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


async def list_requests(connection: aiosqlite.Connection, filters: RequestFilter) -> RequestList:
    """Return matching requests, newest submission first, and the medians over all of them."""
    clauses: list[str] = []
    parameters: dict[str, object] = {"limit": filters.limit}
    if filters.state is not None:
        clauses.append("q.state = :state")
        parameters["state"] = filters.state
    if filters.resource is not None:
        clauses.append("q.resource_code = :resource")
        parameters["resource"] = filters.resource
    where = _where(clauses)

    sql = (
        "SELECT q.*, r.name AS resource_name FROM sharing_requests AS q "
        f"LEFT JOIN sharing_resources AS r ON r.code = q.resource_code {where}"
        "ORDER BY q.submitted_at IS NULL, q.submitted_at DESC, q.request_id LIMIT :limit"
    )
    async with connection.execute(sql, parameters) as cursor:
        views = [_request_view(row) async for row in cursor]

    timing_sql = (
        "SELECT approval_hours, approval_working_days, delivery_hours, delivery_working_days "
        f"FROM sharing_requests AS q {where}"
    )
    async with connection.execute(timing_sql, parameters) as cursor:
        timings = [tuple(row) async for row in cursor]
    approval_hours = [row[0] for row in timings if row[0] is not None]
    approval_days = [row[1] for row in timings if row[1] is not None]
    delivery_hours = [row[2] for row in timings if row[2] is not None]
    delivery_days = [row[3] for row in timings if row[3] is not None]
    medians = RequestMedians(
        requests=len(timings),
        approved=len(approval_hours),
        approval_hours=_median(approval_hours),
        approval_working_days=_median(approval_days),
        delivered=len(delivery_hours),
        delivery_hours=_median(delivery_hours),
        delivery_working_days=_median(delivery_days),
    )
    return RequestList(requests=views, medians=medians)


# --- objections --------------------------------------------------------------


async def list_objections(
    connection: aiosqlite.Connection,
    now: datetime,
    *,
    open_only: bool = False,
    limit: int = 100,
) -> list[ObjectionView]:
    """Return objections, oldest raising first, with the age of the open ones as of ``now``."""
    where = "WHERE state = 'open' " if open_only else ""
    sql = (
        f"SELECT * FROM sharing_objections {where}"
        "ORDER BY raised_at IS NULL, raised_at, objection_id LIMIT :limit"
    )
    views: list[ObjectionView] = []
    async with connection.execute(sql, {"limit": limit}) as cursor:
        async for row in cursor:
            is_open = row["state"] == "open"
            days, working = _age(row["raised_at"], now) if is_open else (None, None)
            views.append(
                ObjectionView(
                    objection_id=row["objection_id"],
                    resource_code=row["resource_code"],
                    request_id=row["request_id"],
                    record_key_masked=row["record_key_masked"],
                    record_key_pseudonym=row["record_key_pseudonym"],
                    field=row["field"],
                    claimed_value=row["claimed_value"],
                    raised_by=row["raised_by"],
                    state=row["state"],
                    state_at=row["state_at"],
                    raised_at=row["raised_at"],
                    resolved_at=row["resolved_at"],
                    note=row["note"],
                    region=row["region"],
                    age_days=days,
                    age_working_days=working,
                )
            )
    return views


# --- backlog -----------------------------------------------------------------


async def backlog(connection: aiosqlite.Connection, now: datetime) -> SharingBacklog:
    """Count the requests and objections waiting as of ``now``."""
    async with connection.execute(
        "SELECT "
        "(SELECT COUNT(*) FROM sharing_requests WHERE state = 'submitted') AS awaiting, "
        "(SELECT COUNT(*) FROM sharing_requests WHERE state = 'approved') AS undelivered, "
        "(SELECT COUNT(*) FROM sharing_objections WHERE state = 'open') AS open_objections"
    ) as cursor:
        counts = await cursor.fetchone()
    async with connection.execute(
        "SELECT objection_id, raised_at FROM sharing_objections WHERE state = 'open' "
        "ORDER BY raised_at, objection_id LIMIT 1"
    ) as cursor:
        oldest = await cursor.fetchone()

    oldest_id = None if oldest is None else str(oldest["objection_id"])
    days, working = _age(None if oldest is None else oldest["raised_at"], now)
    return SharingBacklog(
        as_of=business_time(now),
        awaiting_approval=0 if counts is None else int(counts["awaiting"]),
        approved_not_delivered=0 if counts is None else int(counts["undelivered"]),
        open_objections=0 if counts is None else int(counts["open_objections"]),
        oldest_objection_id=oldest_id,
        oldest_objection_age_days=days,
        oldest_objection_age_working_days=working,
    )
