"""Screen text of the projection and case commands: labels and rich tables."""

from __future__ import annotations

from datetime import date

from rich.table import Column, Table

from bus.i18n import N_, _
from bus.screen import FittedTable
from projections.cases.model import CaseRecord
from projections.cases.queries import CaseView, HistoryEntry
from projections.runtime import RunSummary
from projections.set_aside import SetAsideEntry

STATUS_LABELS: dict[str, str] = {
    "submitted": N_("Submitted"),
    "accepted": N_("Accepted"),
    "not_accepted": N_("Not accepted"),
    "supplement_requested": N_("Supplement requested"),
    "supplemented": N_("Supplemented"),
    "step_completed": N_("Step completed"),
    "suspended": N_("Suspended (special procedure)"),
    "resumed": N_("Resumed"),
    "concluded": N_("Concluded"),
    "result_delivered": N_("Result delivered"),
    "withdrawn": N_("Withdrawn"),
}

RESULT_LABELS: dict[str, str] = {
    "approved": N_("Approved"),
    "denied": N_("Denied"),
    "voided": N_("Voided"),
    "deleted": N_("Deleted"),
    "forwarded": N_("Forwarded"),
    "returned": N_("Returned"),
}

ID_TYPE_LABELS: dict[str, str] = {
    "id_card": N_("Resident ID card"),
    "uscc": N_("Unified social credit code"),
    "org_code": N_("Organization code"),
    "passport": N_("Passport"),
    "other": N_("Other"),
}


def label(labels: dict[str, str], value: str | None) -> str:
    """Translate a canonical value through ``labels``; unknown values show as they are."""
    if value is None:
        return "-"
    template = labels.get(value)
    return _(template) if template is not None else value


def show_time(stored: str | None) -> str:
    """Format a stored business time as ``YYYY-MM-DD HH:MM:SS`` (China Standard Time)."""
    if stored is None:
        return "-"
    return stored[:19].replace("T", " ")


def yes_no(flag: bool) -> str:
    """Return the screen word for a flag."""
    return _("yes") if flag else _("no")


def summary_text(summary: RunSummary) -> str:
    """Return the one-paragraph summary of a projection run."""
    return _(
        "Projection {projection}: applied {applied}, skipped {skipped} "
        "({duplicates} duplicate events, {redelivered} already applied), "
        "set aside {set_aside}; stored sequence {stored}."
    ).format(
        projection=summary.projection,
        applied=summary.applied,
        skipped=summary.skipped,
        duplicates=summary.duplicates,
        redelivered=summary.redelivered,
        set_aside=summary.set_aside,
        stored=summary.stored_sequence,
    )


def set_aside_reason(entry: SetAsideEntry) -> str:
    """Return the screen text of why an entry is set aside."""
    if entry.kind == "waiting":
        return _("Waits behind set-aside message {seq}.").format(seq=entry.blocked_by)
    if entry.kind == "undecodable":
        return _("Cannot be decoded: {reason}").format(reason=entry.reason)
    return _("Breaks the read model's contract: {reason}").format(reason=entry.reason)


def set_aside_table(entries: list[SetAsideEntry]) -> Table:
    """Build the table of set-aside messages."""
    table = FittedTable(
        Column(_("Sequence"), no_wrap=True),
        Column(_("Subject"), no_wrap=True),
        Column(_("Key"), no_wrap=True),
        Column(_("Reason")),
        Column(_("Set aside at"), no_wrap=True),
    )
    for entry in entries:
        table.add_row(
            str(entry.seq),
            entry.subject,
            entry.entity_key,
            set_aside_reason(entry),
            show_time(entry.set_aside_at),
        )
    return table


def case_table(view: CaseView, today: date) -> Table:
    """Build the two-column table of one case's current state."""
    case: CaseRecord = view.case
    table = Table(_("Field"), _("Value"), show_header=False)
    table.columns[1].overflow = "fold"
    rows = [
        (_("Unified case code"), case.code),
        (_("Local case number"), f"{case.local_no} ({case.system})"),
        (_("Status"), f"{label(STATUS_LABELS, case.status)} · {show_time(case.status_at)}"),
        (_("Item"), f"{case.item_name or '-'} ({case.item_code or '-'})"),
        (_("Department"), f"{case.department_name or '-'} ({case.department_code})"),
        (_("Region"), case.region),
        (_("Applicant identifier"),
         f"{case.applicant_masked or '-'} ({label(ID_TYPE_LABELS, case.applicant_id_type)})"),
        (_("Submitted at"), show_time(case.submitted_at)),
        (_("Accepted at"), show_time(case.accepted_at)),
        (_("Concluded at"), show_time(case.concluded_at)),
        (_("Result"), label(RESULT_LABELS, case.result)),
        (_("Promised time limit (working days)"),
         "-" if case.promised_days is None else str(case.promised_days)),
        (_("Paused working days"), str(case.paused_days)),
        (_("Due date"), case.due_date or "-"),
        (_("Overdue as of {today}").format(today=today.isoformat()), yes_no(view.overdue)),
        (_("Events"), str(case.events)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _history_detail(entry: HistoryEntry) -> str:
    payload = entry.payload
    parts: list[str] = []
    if entry.type == "case.submitted":
        parts.append(str(payload.get("item_name", "")))
        parts.append(str(payload.get("applicant_id", "")))
    if payload.get("promised_days") is not None:
        parts.append(_("{days} working days").format(days=payload["promised_days"]))
    if entry.type == "case.concluded":
        parts.append(label(RESULT_LABELS, payload.get("result")))
    if payload.get("remark"):
        parts.append(str(payload["remark"]))
    return "; ".join(part for part in parts if part)


def history_table(entries: list[HistoryEntry]) -> Table:
    """Build the table of a case's events in business-time order."""
    table = FittedTable(
        Column(_("Time"), no_wrap=True),
        Column(_("Event")),
        Column(_("System"), no_wrap=True),
        Column(_("Sequence"), no_wrap=True),
        Column(_("Detail")),
    )
    for entry in entries:
        table.add_row(
            show_time(entry.occurred_at),
            label(STATUS_LABELS, entry.type.removeprefix("case.")),
            entry.source_system,
            str(entry.seq),
            _history_detail(entry),
        )
    return table


def case_list_table(views: list[CaseView]) -> Table:
    """Build the table of a case list: codes, numbers and dates whole, names wrapped."""
    table = FittedTable(
        Column(_("Unified case code"), no_wrap=True),
        Column(_("Local case number"), no_wrap=True),
        Column(_("Status")),
        Column(_("Submitted at"), no_wrap=True),
        Column(_("Department")),
        Column(_("Item")),
        Column(_("Region"), no_wrap=True),
        Column(_("Due date"), no_wrap=True),
        Column(_("Overdue")),
    )
    for view in views:
        case = view.case
        table.add_row(
            case.code,
            case.local_no,
            label(STATUS_LABELS, case.status),
            show_time(case.submitted_at),
            case.department_name or case.department_code,
            case.item_name or "-",
            case.region,
            case.due_date or "-",
            yes_no(view.overdue),
        )
    return table
