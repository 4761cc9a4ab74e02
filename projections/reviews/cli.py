"""The ``zwbus reviews`` command group: review (好差评) totals and overdue bad reviews."""

from __future__ import annotations

from datetime import date, datetime

import click
import msgspec
from rich.console import Console

from bus.i18n import _
from bus.runner import run
from bus.settings import Settings
from projections.reviews import queries
from projections.reviews.api import open_review_store
from projections.reviews.display import overdue_table, totals_table
from projections.workdays import china_today

console = Console(soft_wrap=False)

_DATE = click.DateTime(formats=["%Y-%m-%d"])
_AS_OF_HELP = _("Date the overdue check uses, YYYY-MM-DD (default: today in China).")
_REGION_HELP = _("Region code prefix: 2 digits (province), 4 (city) or 6 (county).")


def _as_date(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _echo_json(value: object) -> None:
    click.echo(msgspec.json.encode(value).decode())


@click.group(
    help=_(
        "Review (好差评) totals and overdue bad reviews from the review read model. "
        "Deadlines come from [reviews] in the configuration file (--config)."
    )
)
def reviews() -> None:
    pass


@reviews.command(
    "totals",
    help=_(
        "Totals of rated reviews by region, department, item, channel or day. The satisfaction "
        "rate is the share of levels 3 to 5 (非常满意, 满意, 基本满意) among ratings a person "
        "chose; default ratings count apart and stay out of every rate. --by region rolls up "
        "province, city and county rows."
    ),
)
@click.option(
    "--by",
    "dimensions",
    type=click.Choice(queries.DIMENSIONS),
    multiple=True,
    help=_("Group by this dimension; repeat for several. Without it: one overall row."),
)
@click.option(
    "--from", "since", type=_DATE, default=None, help=_("First rating date, YYYY-MM-DD, included.")
)
@click.option(
    "--to", "until", type=_DATE, default=None, help=_("Last rating date, YYYY-MM-DD, included.")
)
@click.option("--region", default=None, help=_REGION_HELP)
@click.option("--as-of", type=_DATE, default=None, help=_AS_OF_HELP)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def totals(
    settings: Settings,
    dimensions: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    region: str | None,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    today = _as_date(as_of) or china_today()
    names = list(dict.fromkeys(dimensions))
    filters = queries.ReviewFilter(since=_as_date(since), until=_as_date(until), region=region)

    async def load() -> list[queries.ReviewTotals]:
        async with open_review_store(settings) as connection:
            return await queries.review_totals(connection, names, filters, today)

    rows = run(load())
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        console.print(_("No rated review matches."))
        return
    console.print(totals_table(rows, names))
    console.print(_("Overdue counts as of {today}.").format(today=today.isoformat()))


@reviews.command(
    "overdue",
    help=_(
        "List bad reviews past a deadline: genuine ones not rectified within the rectification "
        "deadline, and unchecked ones past the callback deadline. Deadlines count working days "
        "after the rating date. A review is listed from the first working day after its "
        "deadline, so Working days late is always 1 or more."
    ),
)
@click.option("--as-of", type=_DATE, default=None, help=_AS_OF_HELP)
@click.option("--region", default=None, help=_REGION_HELP)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help=_("Maximum number of reviews to list."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def overdue(
    settings: Settings,
    as_of: datetime | None,
    region: str | None,
    limit: int,
    as_json: bool,
) -> None:
    today = _as_date(as_of) or china_today()
    filters = queries.ReviewFilter(region=region)

    async def load() -> queries.OverdueList:
        async with open_review_store(settings) as connection:
            return await queries.list_overdue(connection, filters, today, limit=limit)

    found = run(load())
    if as_json:
        _echo_json(found)
        return
    if not found.reviews:
        console.print(_("No bad review is overdue as of {today}.").format(today=today.isoformat()))
        return
    console.print(overdue_table(found.reviews))
    console.print(
        _("{shown} of {total} overdue bad reviews shown, as of {today}.").format(
            shown=len(found.reviews), total=found.total, today=today.isoformat()
        )
    )
