"""Screen text of the sharing commands: labels of canonical values and rich tables."""

from __future__ import annotations

from rich.table import Table

from bus.i18n import N_, _
from projections.display import label, show_time
from projections.sharing.queries import (
    CatalogueEntry,
    ObjectionView,
    RequestMedians,
    RequestView,
    SharingBacklog,
)

SHARE_TYPE_LABELS: dict[str, str] = {
    "unconditional": N_("Unconditional sharing"),
    "conditional": N_("Conditional sharing"),
    "none": N_("Not shared"),
}

OPEN_TYPE_LABELS: dict[str, str] = {
    "open": N_("Open to the public"),
    "conditional": N_("Conditionally open"),
    "closed": N_("Not open"),
}

RESOURCE_STATE_LABELS: dict[str, str] = {
    "published": N_("Published"),
    "withdrawn": N_("Withdrawn from the catalogue"),
}

REQUEST_STATE_LABELS: dict[str, str] = {
    "submitted": N_("Awaiting approval"),
    "approved": N_("Approved, not delivered"),
    "denied": N_("Request denied"),
    "delivering": N_("Delivering"),
    "revoked": N_("Request revoked"),
}

OBJECTION_STATE_LABELS: dict[str, str] = {
    "open": N_("Open"),
    "corrected": N_("Corrected"),
    "upheld": N_("Value upheld"),
}


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def _department(code: str | None, name: str | None) -> str:
    if code is None:
        return "-"
    return f"{name} ({code})" if name else code


def _fold_all(table: Table) -> Table:
    for column in table.columns:
        column.overflow = "fold"
    return table


def catalogue_table(entries: list[CatalogueEntry]) -> Table:
    """Build the table of catalogue resources."""
    table = _fold_all(Table(
        _("Resource code"),
        _("Name"),
        _("Provider"),
        _("Share type"),
        _("Open type"),
        _("Update cycle"),
        _("Format"),
        _("Data items"),
        _("State"),
    ))
    table.columns[0].no_wrap = True
    for entry in entries:
        share_type = label(SHARE_TYPE_LABELS, entry.share_type)
        if entry.share_condition:
            share_type = f"{share_type}: {entry.share_condition}"
        table.add_row(
            entry.code,
            entry.name or "-",
            _department(entry.provider, entry.provider_name),
            share_type,
            label(OPEN_TYPE_LABELS, entry.open_type),
            entry.update_cycle or "-",
            entry.format or "-",
            ", ".join(item.name for item in entry.data_items) or "-",
            label(RESOURCE_STATE_LABELS, entry.state),
        )
    return table


def request_table(views: list[RequestView]) -> Table:
    """Build the table of requests with their timings."""
    table = _fold_all(Table(
        _("Request"),
        _("Resource"),
        _("Requester"),
        _("State"),
        _("Submitted at"),
        _("Approved at"),
        _("First delivery at"),
        _("Deliveries"),
        _("Records delivered"),
        _("To approval (h / working days)"),
        _("To first delivery (h / working days)"),
        _("Denial reason"),
    ))
    table.columns[0].no_wrap = True
    for view in views:
        resource = view.resource_code or "-"
        if view.resource_name:
            resource = f"{view.resource_name} ({resource})"
        table.add_row(
            view.request_id,
            resource,
            _department(view.requester, view.requester_name),
            label(REQUEST_STATE_LABELS, view.state),
            show_time(view.submitted_at),
            show_time(view.approved_at),
            show_time(view.first_delivered_at),
            str(view.deliveries),
            str(view.delivered_records),
            _timing(view.approval_hours, view.approval_working_days),
            _timing(view.delivery_hours, view.delivery_working_days),
            view.denial_reason or "-",
        )
    return table


def _timing(hours: float | None, working_days: float | None) -> str:
    if hours is None:
        return "-"
    return f"{_number(hours)} / {_number(working_days, 0 if _whole(working_days) else 1)}"


def _whole(value: float | None) -> bool:
    return value is not None and float(value).is_integer()


def medians_text(medians: RequestMedians) -> str:
    """Return the lines with the median times to approval and to first delivery."""
    lines = [
        _("{count} request(s) match.").format(count=medians.requests),
        _(
            "Median time to approval: {timing} (hours / working days) over {count} approved "
            "request(s)."
        ).format(
            timing=_timing(medians.approval_hours, medians.approval_working_days),
            count=medians.approved,
        ),
        _(
            "Median time to first delivery: {timing} (hours / working days) over {count} "
            "delivered request(s)."
        ).format(
            timing=_timing(medians.delivery_hours, medians.delivery_working_days),
            count=medians.delivered,
        ),
    ]
    return "\n".join(lines)


def objection_table(views: list[ObjectionView]) -> Table:
    """Build the table of objections with the age of the open ones."""
    table = _fold_all(Table(
        _("Objection"),
        _("Resource"),
        _("Request"),
        _("Record key"),
        _("Field"),
        _("Claimed value"),
        _("Raised by"),
        _("State"),
        _("Raised at"),
        _("Resolved at"),
        _("Age (days)"),
        _("Age (working days)"),
    ))
    table.columns[0].no_wrap = True
    for view in views:
        table.add_row(
            view.objection_id,
            view.resource_code or "-",
            view.request_id or "-",
            view.record_key_masked or "-",
            view.field or "-",
            view.claimed_value or "-",
            view.raised_by or "-",
            label(OBJECTION_STATE_LABELS, view.state),
            show_time(view.raised_at),
            show_time(view.resolved_at),
            _number(view.age_days),
            "-" if view.age_working_days is None else str(view.age_working_days),
        )
    return table


def backlog_table(backlog: SharingBacklog) -> Table:
    """Build the two-column table of the sharing backlog."""
    table = Table(_("Field"), _("Value"), show_header=False)
    oldest = "-"
    if backlog.oldest_objection_id is not None:
        oldest = _("{objection}: {days} days, {working_days} working days").format(
            objection=backlog.oldest_objection_id,
            days=_number(backlog.oldest_objection_age_days),
            working_days=backlog.oldest_objection_age_working_days,
        )
    rows = [
        (_("As of"), show_time(backlog.as_of)),
        (_("Requests awaiting approval"), str(backlog.awaiting_approval)),
        (_("Requests approved, not delivered"), str(backlog.approved_not_delivered)),
        (_("Open objections"), str(backlog.open_objections)),
        (_("Oldest open objection"), oldest),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
