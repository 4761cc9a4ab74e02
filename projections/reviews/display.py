"""Screen text of the review commands: labels and rich tables."""

from __future__ import annotations

from rich.table import Table

from bus.i18n import N_, _
from projections.display import label
from projections.reviews.queries import OverdueReview, ReviewTotals

CHANNEL_LABELS: dict[str, str] = {
    "web": N_("Government service website"),
    "mobile": N_("Mobile app"),
    "window": N_("Window rating device"),
    "terminal": N_("Self-service terminal"),
    "phone": N_("12345 hotline"),
    "sms": N_("Text message"),
}

LEVEL_LABELS: dict[str, str] = {
    "5": N_("Very satisfied"),
    "4": N_("Satisfied"),
    "3": N_("Basically satisfied"),
    "2": N_("Dissatisfied"),
    "1": N_("Very dissatisfied"),
}

STEP_LABELS: dict[str, str] = {
    "callback": N_("Callback check"),
    "rectification": N_("Rectification"),
}

REGION_LEVEL_LABELS: dict[int, str] = {
    2: N_("Province"),
    4: N_("City"),
    6: N_("County"),
}

DIMENSION_LABELS: dict[str, str] = {
    "region": N_("Region"),
    "department": N_("Department"),
    "item": N_("Item"),
    "channel": N_("Channel"),
    "day": N_("Day"),
}


def percent(rate: float | None) -> str:
    """Format a rate as a percentage with one decimal, ``-`` when it is undefined."""
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _group_cells(totals: ReviewTotals) -> list[str]:
    cells: list[str] = []
    for name, value in totals.group.items():
        if name == "region":
            cells.append(value or "-")
            cells.append(_(REGION_LEVEL_LABELS[len(value)]) if value else "-")
        elif name == "channel":
            cells.append(label(CHANNEL_LABELS, value))
        else:
            cells.append(value or "-")
    return cells


def totals_table(rows: list[ReviewTotals], dimensions: list[str]) -> Table:
    """Build the table of review totals, one row per group."""
    headers: list[str] = []
    for name in dimensions:
        headers.append(_(DIMENSION_LABELS[name]))
        if name == "region":
            headers.append(_("Region level"))
    headers += [
        _("Ratings"),
        _("Default ratings"),
        _("Satisfaction rate"),
        _("Bad reviews"),
        _("Verified share"),
        _("Rectification rate"),
        _("Rectifications overdue"),
        _("Callbacks overdue"),
    ]
    table = Table(*headers)
    for column in table.columns[len(headers) - 8 :]:
        column.justify = "right"
    for row in rows:
        table.add_row(
            *_group_cells(row),
            str(row.ratings),
            str(row.defaults),
            percent(row.satisfaction_rate),
            str(row.bad),
            percent(row.verified_share),
            percent(row.rectification_rate),
            str(row.rectifications_overdue),
            str(row.callbacks_overdue),
        )
    return table


def overdue_table(reviews: list[OverdueReview]) -> Table:
    """Build the table of overdue bad reviews."""
    table = Table(
        _("Review ID"),
        _("Unified case code"),
        _("Region"),
        _("Department"),
        _("Channel"),
        _("Rating level"),
        _("Rated on"),
        _("Overdue step"),
        _("Due date"),
        _("Working days late"),
        _("Assignee"),
    )
    for column in table.columns:
        column.overflow = "fold"
    for review in reviews:
        table.add_row(
            review.review_id,
            review.case_code or "-",
            review.region,
            review.department_code,
            label(CHANNEL_LABELS, review.channel),
            label(LEVEL_LABELS, None if review.level is None else str(review.level)),
            review.rated_day,
            label(STEP_LABELS, review.step),
            review.due,
            str(review.late_working_days),
            review.assignee or "-",
        )
    return table
