"""Entries of ``zwbus quarantine list``: their selection and order, as a table or as JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Column

from adapters.quarantine_view import EntryState
from adapters.summary import render_reason
from bus.i18n import _
from bus.screen import FittedTable
from contracts.quarantine import Reason

FAMILIES = ("case", "item", "review", "hall", "share")
"""Families whose records can be quarantined."""


def select_entries(
    states: Iterable[EntryState],
    *,
    status: str,
    reason: str | None = None,
    family: str | None = None,
) -> list[EntryState]:
    """Return the entries with this status (open, resolved or all), rule and family."""
    chosen = []
    for state in states:
        if status == "open" and not state.is_open:
            continue
        if status == "resolved" and state.is_open:
            continue
        if reason and all(item.code != reason for item in state.entry.reasons):
            continue
        if family and state.entry.family != family:
            continue
        chosen.append(state)
    return chosen


def newest_first(states: Iterable[EntryState]) -> list[EntryState]:
    """Order entries by stream sequence, the latest quarantined first."""
    return sorted(states, key=lambda state: state.sequence, reverse=True)


def reason_cell(reason: Reason) -> str:
    """Return a reason's code with the field it concerns, such as ``uscc_invalid (deptCode)``."""
    if reason.field:
        return _("{code} ({field})").format(code=reason.code, field=reason.field)
    return reason.code


def status_label(state: EntryState) -> str:
    return _("open") if state.is_open else _("resolved")


def entries_table(states: Iterable[EntryState]) -> FittedTable:
    """Build the table of entries: one reason per line, each with its field.

    On a narrow screen the entry id and the reasons stay whole first; the
    source and the record's place wrap.
    """
    table = FittedTable(
        Column(_("Entry"), no_wrap=True),
        Column(_("Reasons"), no_wrap=True),
        Column(_("Source")),
        Column(_("Record")),
        Column(_("Status")),
    )
    for state in states:
        entry = state.entry
        table.add_row(
            entry.entry_id[:12],
            "\n".join(reason_cell(reason) for reason in entry.reasons),
            entry.source_id,
            f"{entry.position.location}#{entry.position.record}",
            status_label(state),
        )
    return table


def entry_document(state: EntryState, *, english: bool) -> dict[str, Any]:
    """Return an entry without its original record, each reason with its screen message."""
    entry = state.entry
    return {
        "entry_id": entry.entry_id,
        "source_id": entry.source_id,
        "system": entry.system,
        "family": entry.family,
        "record_key": entry.record_key,
        "event_type": entry.event_type,
        "region": entry.region,
        "position": {
            "location": entry.position.location,
            "record": entry.position.record,
            "line": entry.position.line,
        },
        "quarantined_at": entry.quarantined_at.isoformat(),
        "status": "open" if state.is_open else "resolved",
        "reasons": [
            {
                "code": reason.code,
                "field": reason.field,
                "value": reason.value,
                "detail": reason.detail,
                "message": render_reason(reason, english=english),
            }
            for reason in entry.reasons
        ],
    }
