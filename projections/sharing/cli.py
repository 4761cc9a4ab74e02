"""The ``zwbus sharing`` command group: catalogue, requests, objections and backlog."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click
import msgspec
from rich.console import Console
from rich.table import Table

from bus.i18n import _
from bus.runner import run
from bus.settings import Settings
from projections.sharing import queries
from projections.sharing.api import open_sharing_store
from projections.sharing.display import (
    backlog_table,
    catalogue_table,
    medians_text,
    objection_table,
    request_table,
)
from projections.sharing.records import REQUEST_STATES, RESOURCE_STATES
from projections.workdays import CHINA_TZ

Row = TypeVar("Row")

console = Console(soft_wrap=False)

SHARE_TYPE_CHOICES: dict[str, str] = {
    "unconditional": "unconditional",
    "conditional": "conditional",
    "none": "none",
    "无条件": "unconditional",
    "无条件共享": "unconditional",
    "有条件": "conditional",
    "有条件共享": "conditional",
    "不予共享": "none",
}
"""Values ``--share-type`` accepts, English or the catalogue's Chinese term, to the stored one."""

_AS_OF = click.DateTime(
    formats=["%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
             "%Y-%m-%dT%H:%M:%S"]
)
_AS_OF_HELP = _(
    "Moment ages are measured to, YYYY-MM-DD [HH:MM[:SS]] in China Standard Time; a date "
    "alone means its midnight (default: now)."
)


def _echo_json(value: object) -> None:
    click.echo(msgspec.json.encode(value).decode())


def _print_listing(
    rows: list[Row],
    table: Callable[[list[Row]], Table],
    *,
    as_json: bool,
    empty: str,
    count_line: str,
    limit: int,
) -> None:
    """Print rows as JSON, or as a table with a count line, or ``empty`` when there are none.

    ``count_line`` is a translated message with ``{count}`` and ``{limit}``.
    """
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        console.print(empty)
        return
    console.print(table(rows))
    console.print(count_line.format(count=len(rows), limit=limit))


def _as_of(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(CHINA_TZ)
    return value.replace(tzinfo=CHINA_TZ)


@click.group(
    help=_(
        "Look up data sharing (数据共享): the catalogue, requests with their time to approval "
        "and delivery, objections (数据异议) and the backlog."
    )
)
def sharing() -> None:
    pass


@sharing.command(
    "catalogue",
    help=_("List the resources of the sharing catalogue with every change applied."),
)
@click.option("--provider", default=None, help=_("Department code of the provider."))
@click.option(
    "--share-type",
    type=click.Choice(list(SHARE_TYPE_CHOICES)),
    default=None,
    help=_(
        "Share type: unconditional, conditional or none, or the catalogue's Chinese term "
        "无条件, 有条件 or 不予共享."
    ),
)
@click.option(
    "--state",
    type=click.Choice(sorted(set(RESOURCE_STATES.values()))),
    default=None,
    help=_("Catalogue state."),
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help=_("Maximum number of resources."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def catalogue(
    settings: Settings,
    provider: str | None,
    share_type: str | None,
    state: str | None,
    limit: int,
    as_json: bool,
) -> None:
    filters = queries.CatalogueFilter(
        provider=provider,
        share_type=None if share_type is None else SHARE_TYPE_CHOICES[share_type],
        state=state,
        limit=limit,
    )

    async def load() -> list[queries.CatalogueEntry]:
        async with open_sharing_store(settings) as connection:
            return await queries.list_catalogue(connection, filters)

    _print_listing(
        run(load()),
        catalogue_table,
        as_json=as_json,
        empty=_("No catalogue resource matches."),
        count_line=_("{count} resource(s) shown (limit {limit})."),
        limit=limit,
    )


@sharing.command(
    "requests",
    help=_(
        "List sharing requests, newest submission first, with the time from submission to "
        "approval and to first delivery in hours and working days, and the medians of all "
        "matching requests."
    ),
)
@click.option(
    "--state",
    type=click.Choice(list(REQUEST_STATES.values())),
    default=None,
    help=_("Current state of the request."),
)
@click.option("--resource", default=None, help=_("Resource code."))
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help=_("Maximum number of requests listed; the medians cover all matching requests."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def requests(
    settings: Settings, state: str | None, resource: str | None, limit: int, as_json: bool
) -> None:
    filters = queries.RequestFilter(state=state, resource=resource, limit=limit)

    async def load() -> queries.RequestList:
        async with open_sharing_store(settings) as connection:
            return await queries.list_requests(connection, filters)

    listing = run(load())
    if as_json:
        _echo_json(listing)
        return
    if listing.requests:
        console.print(request_table(listing.requests))
    else:
        console.print(_("No request matches."))
    console.print(medians_text(listing.medians))


@sharing.command(
    "objections",
    help=_(
        "List data objections (数据异议), oldest first, with the age of the open ones in "
        "days and working days. Record keys are shown masked."
    ),
)
@click.option("--open", "open_only", is_flag=True, help=_("Only objections not yet resolved."))
@click.option("--as-of", type=_AS_OF, default=None, help=_AS_OF_HELP)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help=_("Maximum number of objections."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def objections(
    settings: Settings, open_only: bool, as_of: datetime | None, limit: int, as_json: bool
) -> None:
    now = _as_of(as_of)

    async def load() -> list[queries.ObjectionView]:
        async with open_sharing_store(settings) as connection:
            return await queries.list_objections(
                connection, now, open_only=open_only, limit=limit
            )

    _print_listing(
        run(load()),
        objection_table,
        as_json=as_json,
        empty=_("No objection matches."),
        count_line=_("{count} objection(s) shown (limit {limit})."),
        limit=limit,
    )


@sharing.command(
    "backlog",
    help=_(
        "Count requests awaiting approval, requests approved but not delivered and open "
        "objections, with the age of the oldest open objection."
    ),
)
@click.option("--as-of", type=_AS_OF, default=None, help=_AS_OF_HELP)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def backlog(settings: Settings, as_of: datetime | None, as_json: bool) -> None:
    now = _as_of(as_of)

    async def load() -> queries.SharingBacklog:
        async with open_sharing_store(settings) as connection:
            return await queries.backlog(connection, now)

    result = run(load())
    if as_json:
        _echo_json(result)
        return
    console.print(backlog_table(result))
