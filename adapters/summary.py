"""Printing an ingest tally for a person (a table) or a script (one JSON document)."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Column

from adapters.details_zh import detail_zh
from adapters.ingest.tally import Tally
from bus.i18n import _
from bus.screen import FittedTable
from contracts.quarantine import Reason
from contracts.rules import RULES


def tally_document(tally: Tally) -> dict[str, Any]:
    """Return the tally as plain data; ``totals`` contains the reconciliation counts."""
    return {
        "totals": {
            "read": tally.read,
            "published": tally.published,
            "duplicates": tally.duplicates,
            "quarantined": tally.quarantined,
            "parked": tally.parked,
        },
        "reconciles": tally.reconciles,
        "released_from_earlier_runs": tally.released,
        "expired_to_quarantine": tally.expired,
        "quarantine_resolved": tally.resolved,
        "quarantined_by_reason": dict(tally.reasons.most_common()),
        "files": tally.files,
        "skipped_files": tally.skipped_files,
        "unknown_columns": tally.unknown_columns,
    }


def reconciliation_line(tally: Tally) -> str:
    """The line that must add up: read = published + duplicates + quarantined + parked."""
    verdict = _("adds up") if tally.reconciles else _("DOES NOT ADD UP")
    return _(
        "Reconciliation: read {read} = published {published} + duplicates {duplicates} "
        "+ quarantined {quarantined} + parked {parked} ({verdict})"
    ).format(
        read=tally.read,
        published=tally.published,
        duplicates=tally.duplicates,
        quarantined=tally.quarantined,
        parked=tally.parked,
        verdict=verdict,
    )


def reason_label(code: str, english: bool) -> str:
    """Return a rule's code and the first sentence of its message, without values."""
    rule = RULES.get(code)
    if rule is None:
        return code
    if english:
        text = re.sub(r"\s+in \{field\}|:\s*\{detail\}", "", rule.message_en)
        text = re.sub(r"\s*\(\{\w+\}\)|\s*\{\w+\}", "", text).split(". ")[0].rstrip(".")
    else:
        text = re.sub(
            r"（字段\s*\{field\}）|字段\s*\{field\}\s*的|[：:]\s*\{detail\}", "", rule.message_zh
        )
        text = re.sub(r"（\{\w+\}）|\(\{\w+\}\)|\s*\{\w+\}\s*", "", text).split("。")[0]
    return f"{code}: {text}"


def render_reason(reason: Reason, *, english: bool) -> str:
    """Return ``[code] message fix`` of a failed rule with the reason's values filled in."""
    rule = RULES.get(reason.code)
    if rule is None:
        return reason.code
    values = dict.fromkeys(rule.placeholders(), "")
    values |= {
        "field": reason.field or "",
        "value": reason.value or "",
        "detail": (reason.detail or "") if english else detail_zh(reason.detail or ""),
    }
    return f"[{reason.code}] " + rule.render("en" if english else "zh", **values)


def print_reasons(console: Console, tally: Tally, *, english: bool) -> None:
    """Print how many records failed each rule, most frequent first."""
    if not tally.reasons:
        return
    caption = None
    if sum(tally.reasons.values()) > tally.quarantined:
        caption = _("A record that fails several rules is counted under each of them.")
    reasons = FittedTable(
        Column(_("Reason")),
        Column(_("Records"), no_wrap=True, justify="right"),
        title=_("Quarantined by reason"),
        caption=caption,
    )
    for code, count in tally.reasons.most_common():
        reasons.add_row(reason_label(code, english), str(count))
    console.print(reasons)


def print_tally(console: Console, tally: Tally, *, english: bool) -> None:
    table = FittedTable(
        Column(_("Outcome")),
        Column(_("Records"), no_wrap=True, justify="right"),
        title=_("Ingest summary"),
    )
    table.add_row(_("Read"), str(tally.read))
    table.add_row(_("Published"), str(tally.published))
    table.add_row(_("Duplicates"), str(tally.duplicates))
    table.add_row(_("Quarantined"), str(tally.quarantined))
    table.add_row(_("Parked"), str(tally.parked))
    if tally.released:
        table.add_row(_("Released from earlier runs"), str(tally.released))
    if tally.expired:
        table.add_row(_("Expired to quarantine"), str(tally.expired))
    if tally.resolved:
        table.add_row(_("Quarantine entries resolved"), str(tally.resolved))
    console.print(table)

    print_reasons(console, tally, english=english)
    for file_name, columns in tally.unknown_columns.items():
        console.print(
            _("Unknown columns in {file} (not mapped, ignored): {columns}").format(
                file=file_name, columns=", ".join(columns)
            )
        )
    if tally.skipped_files:
        console.print(
            _("Already ingested, skipped: {files}").format(files=", ".join(tally.skipped_files))
        )
    console.print(reconciliation_line(tally))
