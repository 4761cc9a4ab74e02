"""Reading the review read model: totals by dimension and overdue bad reviews.

Totals are computed from the review rows at query time with ``GROUP BY``,
so they always equal what a rebuild from the first event would give. Only
reviews whose rating has arrived count. The figures of a group:

- ``ratings``: every rating; ``defaults``: automatic ratings (默认好评), which
  no person chose; ``chosen``: the rest. Defaults count in ``ratings`` only
  and stay out of every rate below.
- ``satisfied``: chosen ratings of level 3 to 5 (非常满意, 满意, 基本满意);
  ``satisfaction_rate`` = satisfied / chosen. Together with the bad reviews
  this splits every chosen rating in two, as the five levels are split
  into good and bad reviews.
- ``bad``: chosen ratings of level 1 or 2 (不满意, 非常不满意): bad reviews
  (差评).
- ``verified``: bad reviews checked by callback; ``verified_share`` =
  verified / bad.
- ``valid``: bad reviews found genuine at their latest check; ``rectified``:
  those reported rectified; ``rectification_rate`` = rectified / valid.
- ``rectifications_overdue``: bad reviews that are assigned for
  rectification or found genuine, are not rectified, and are at least one
  working day past their rectification deadline on the query date.
- ``callbacks_overdue``: bad reviews not yet checked that are at least one
  working day past their callback deadline on the query date.
  ``deadlines`` computes both deadlines and the first working day after
  each, so a deadline followed by a weekend is not yet overdue on Sunday.

A rate is None when its denominator is 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Literal, get_args

import aiosqlite
import msgspec

from bus.errors import ConfigError
from bus.i18n import N_
from projections.reviews.deadlines import LATE_SQL_FUNCTION, SQL_FUNCTION
from projections.workdays import working_days_between

Dimension = Literal["region", "department", "item", "channel", "day"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)

REGION_LEVELS: tuple[int, ...] = (2, 4, 6)
"""Region code prefix lengths of the roll-up: province, city, county."""

_COLUMNS: dict[str, str] = {
    "department": "department_code",
    "item": "item_code",
    "channel": "channel",
    "day": "rated_day",
}

_REGION_PREFIX = re.compile(r"\d{2}|\d{4}|\d{6}")

_BAD = "(is_default = 0 AND level <= 2)"
_RECTIFICATION_OVERDUE = (
    f"({_BAD} AND rectified_at IS NULL "
    "AND (rectification_assigned_at IS NOT NULL OR valid = 1) "
    f"AND {LATE_SQL_FUNCTION}(rated_day, region, 'rectification') <= :as_of)"
)
_CALLBACK_OVERDUE = (
    f"({_BAD} AND verified_at IS NULL "
    f"AND {LATE_SQL_FUNCTION}(rated_day, region, 'callback') <= :as_of)"
)

_FIGURES = f"""
    COUNT(*) AS ratings,
    SUM(is_default = 1) AS defaults,
    SUM(is_default = 0 AND level >= 3) AS satisfied,
    SUM({_BAD}) AS bad,
    SUM({_BAD} AND verified_at IS NOT NULL) AS verified,
    SUM({_BAD} AND valid = 1) AS valid,
    SUM({_BAD} AND valid = 1 AND rectified_at IS NOT NULL) AS rectified,
    SUM({_RECTIFICATION_OVERDUE}) AS rectifications_overdue,
    SUM({_CALLBACK_OVERDUE}) AS callbacks_overdue
"""

_COUNTS = (
    "ratings",
    "defaults",
    "satisfied",
    "bad",
    "verified",
    "valid",
    "rectified",
    "rectifications_overdue",
    "callbacks_overdue",
)


class ReviewFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Filters of totals and overdue lists; None means "any"."""

    since: date | None = None
    """First rating date included."""
    until: date | None = None
    """Last rating date included."""
    region: str | None = None
    """Region code prefix: 2 digits (province), 4 (city) or 6 (county)."""


class ReviewTotals(msgspec.Struct, kw_only=True):
    """The figures of one group of reviews; see the module docstring for each."""

    group: dict[str, str | None]
    """Value of each dimension asked for; a region is a 2-, 4- or 6-digit prefix."""
    ratings: int
    defaults: int
    chosen: int
    satisfied: int
    bad: int
    verified: int
    valid: int
    rectified: int
    rectifications_overdue: int
    callbacks_overdue: int
    satisfaction_rate: float | None
    verified_share: float | None
    rectification_rate: float | None


class OverdueReview(msgspec.Struct, kw_only=True):
    """A bad review past its callback or rectification deadline."""

    review_id: str
    case_code: str | None
    region: str
    department_code: str
    item_code: str | None
    channel: str | None
    level: int | None
    rated_day: str
    step: str
    """``callback`` (not yet checked) or ``rectification`` (genuine, not yet rectified)."""
    due: str
    late_working_days: int
    """Working days after the deadline up to and including the query date."""
    assignee: str | None
    rectification_assigned_at: str | None


class OverdueList(msgspec.Struct, kw_only=True):
    """Overdue bad reviews, earliest deadline first, and how many there are in all."""

    total: int
    reviews: list[OverdueReview]


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _totals(group: dict[str, str | None], row: aiosqlite.Row) -> ReviewTotals:
    counts = {name: int(row[name] or 0) for name in _COUNTS}
    chosen = counts["ratings"] - counts["defaults"]
    return ReviewTotals(
        group=group,
        chosen=chosen,
        satisfaction_rate=_ratio(counts["satisfied"], chosen),
        verified_share=_ratio(counts["verified"], counts["bad"]),
        rectification_rate=_ratio(counts["rectified"], counts["valid"]),
        **counts,
    )


def _filter_clauses(filters: ReviewFilter) -> tuple[list[str], dict[str, object]]:
    clauses = ["rated_at IS NOT NULL"]
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
    if filters.since is not None and filters.until is not None and filters.since > filters.until:
        raise ConfigError(
            N_("The first date {since} is after the last date {until}; swap --from and --to."),
            since=filters.since.isoformat(),
            until=filters.until.isoformat(),
        )
    if filters.since is not None:
        clauses.append("rated_day >= :since")
        parameters["since"] = filters.since.isoformat()
    if filters.until is not None:
        clauses.append("rated_day <= :until")
        parameters["until"] = filters.until.isoformat()
    return clauses, parameters


def _check_dimensions(dimensions: Sequence[str]) -> list[str]:
    unknown = [name for name in dimensions if name not in DIMENSIONS]
    if unknown:
        raise ConfigError(
            N_("Unknown total dimension {name!r}; choose from {choices}."),
            name=unknown[0],
            choices=", ".join(DIMENSIONS),
        )
    return list(dict.fromkeys(dimensions))


async def _grouped(
    connection: aiosqlite.Connection,
    keys: dict[str, str],
    where: str,
    parameters: dict[str, object],
) -> list[ReviewTotals]:
    # The aliases differ from every column name, because SQLite resolves a
    # GROUP BY name to a table column before an alias of the same name.
    selected = "".join(f"{expression} AS group_{name}, " for name, expression in keys.items())
    grouping = " GROUP BY " + ", ".join(f"group_{name}" for name in keys) if keys else ""
    sql = f"SELECT {selected}{_FIGURES} FROM reviews WHERE {where}{grouping}"
    async with connection.execute(sql, parameters) as cursor:
        rows = await cursor.fetchall()
    return [_totals({name: row[f"group_{name}"] for name in keys}, row) for row in rows]


def _sort_key(totals: ReviewTotals) -> tuple[tuple[bool, str], ...]:
    return tuple((value is None, value or "") for value in totals.group.values())


async def review_totals(
    connection: aiosqlite.Connection,
    dimensions: Sequence[str],
    filters: ReviewFilter,
    as_of: date,
) -> list[ReviewTotals]:
    """Return the totals of each group of ``dimensions``, or one overall row without any.

    With ``region`` among the dimensions, the rows roll up: one set of
    groups per province (2 digits), city (4) and county (6), so each
    region's row directly precedes the rows of the regions inside it. The
    overdue counts are as of ``as_of``; the connection needs the deadline
    function (``DeadlineCalendar.install``).

    Raises:
        ConfigError: an unknown dimension, a malformed region prefix, or a
            first date after the last.
    """
    names = _check_dimensions(dimensions)
    clauses, parameters = _filter_clauses(filters)
    parameters["as_of"] = as_of.isoformat()
    where = " AND ".join(clauses)

    if "region" not in names:
        keys = {name: _COLUMNS[name] for name in names}
        return await _grouped(connection, keys, where, parameters)

    totals: list[ReviewTotals] = []
    for length in REGION_LEVELS:
        keys = {
            name: f"substr(region, 1, {length})" if name == "region" else _COLUMNS[name]
            for name in names
        }
        totals.extend(await _grouped(connection, keys, where, parameters))
    totals.sort(key=_sort_key)
    return totals


async def list_overdue(
    connection: aiosqlite.Connection, filters: ReviewFilter, as_of: date, *, limit: int
) -> OverdueList:
    """Return bad reviews past a deadline as of ``as_of``, earliest deadline first.

    A review counts once: as an overdue rectification when it is one, else
    as an overdue callback. The connection needs the deadline function.

    Raises:
        ConfigError: a malformed region prefix or a first date after the last.
    """
    clauses, parameters = _filter_clauses(filters)
    clauses.append(f"({_RECTIFICATION_OVERDUE} OR {_CALLBACK_OVERDUE})")
    parameters["as_of"] = as_of.isoformat()
    parameters["limit"] = limit
    where = " AND ".join(clauses)
    step = f"CASE WHEN {_RECTIFICATION_OVERDUE} THEN 'rectification' ELSE 'callback' END"

    async with connection.execute(
        f"SELECT COUNT(*) AS n FROM reviews WHERE {where}", parameters
    ) as cursor:
        row = await cursor.fetchone()
    total = 0 if row is None else int(row["n"])

    sql = (
        f"SELECT *, {SQL_FUNCTION}(rated_day, region, step) AS due "
        f"FROM (SELECT *, {step} AS step FROM reviews WHERE {where}) "
        "ORDER BY due, review_id LIMIT :limit"
    )
    async with connection.execute(sql, parameters) as cursor:
        rows = await cursor.fetchall()
    reviews = [
        OverdueReview(
            review_id=row["review_id"],
            case_code=row["case_code"],
            region=row["region"],
            department_code=row["department_code"],
            item_code=row["item_code"],
            channel=row["channel"],
            level=row["level"],
            rated_day=row["rated_day"],
            step=row["step"],
            due=row["due"],
            late_working_days=working_days_between(date.fromisoformat(row["due"]), as_of),
            assignee=row["assignee"],
            rectification_assigned_at=row["rectification_assigned_at"],
        )
        for row in rows
    ]
    return OverdueList(total=total, reviews=reviews)
