"""The demo summary's part on reviews (好差评), the hall day and the sharing backlog."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bench.demo.run import DemoResult
from bus.i18n import _
from projections.sharing.queries import SharingBacklog


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def print_family_summary(console: Console, result: DemoResult) -> None:
    """Print the review totals, the busiest hall day and the sharing backlog."""
    reviews = result.reviews
    table = Table(_("Figure"), _("Value"), title=_("Reviews (好差评)"))
    table.add_row(_("Ratings"), str(reviews.ratings))
    table.add_row(_("Automatic ratings, kept out of the rates"), str(reviews.defaults))
    table.add_row(_("Satisfaction rate"), _rate(reviews.satisfaction_rate))
    table.add_row(_("Bad reviews"), str(reviews.bad_reviews))
    table.add_row(_("Verified share of bad reviews"), _rate(reviews.verified_share))
    table.add_row(_("Rectification rate"), _rate(reviews.rectification_rate))
    table.add_row(_("Rectifications overdue"), str(reviews.rectifications_overdue))
    table.add_row(_("Callbacks overdue"), str(reviews.callbacks_overdue))
    console.print(table)

    day = result.hall
    if day is not None:
        hall = Table(
            _("Figure"),
            _("Value"),
            title=_("Hall {hall} on {day}").format(hall=day.hall, day=day.day.isoformat()),
        )
        hall.add_row(_("Bookings"), str(day.bookings))
        hall.add_row(_("No-shows"), f"{day.no_shows} ({_rate(day.no_show_rate)})")
        hall.add_row(_("Tickets"), str(day.tickets))
        hall.add_row(_("Served"), str(day.served))
        hall.add_row(_("Skipped (no-show at the window)"), str(day.skipped))
        hall.add_row(_("Average wait, minutes"), _minutes(day.waits.average_s))
        hall.add_row(_("90th-percentile wait, minutes"), _minutes(day.waits.p90_s))
        console.print(hall)

    console.print(sharing_table(result.sharing))


def sharing_table(backlog: SharingBacklog) -> Table:
    """Build the demo's sharing backlog table, with the row names of ``zwbus sharing backlog``."""
    sharing = Table(_("Figure"), _("Value"), title=_("Data sharing (数据共享) backlog"))
    sharing.add_row(_("Requests awaiting approval"), str(backlog.awaiting_approval))
    sharing.add_row(_("Requests approved, not delivered"), str(backlog.approved_not_delivered))
    sharing.add_row(_("Open objections"), str(backlog.open_objections))
    if backlog.oldest_objection_age_days is not None:
        sharing.add_row(
            _("Oldest open objection"),
            _("{days:.1f} days ({working} working days)").format(
                days=backlog.oldest_objection_age_days,
                working=backlog.oldest_objection_age_working_days,
            ),
        )
    return sharing
