"""Writing quarantine entries to a file a department can open and work through."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from typing import TextIO

import msgspec

from adapters.details_zh import detail_zh
from adapters.quarantine_view import EntryState
from bus.i18n import N_, _
from contracts.identifiers import mask_identifier
from contracts.rules import RULES

CSV_COLUMNS = (
    N_("entry_id"),
    N_("source_id"),
    N_("location"),
    N_("record"),
    N_("line"),
    N_("record_key"),
    N_("reason_codes"),
    N_("reasons"),
    N_("fix"),
    N_("status"),
    N_("original"),
)
"""CSV header, written in the screen language so that a department reads it in a spreadsheet."""

_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
)
"""An 18-character resident ID number: region, a birth date of 19xx or 20xx, sequence, check."""
_MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def mask_personal(text: str) -> str:
    """Mask identity numbers and mobile numbers inside an original record's text."""
    text = _ID_NUMBER.sub(lambda match: mask_identifier(match.group()), text)
    return _MOBILE.sub(lambda match: mask_identifier(match.group()), text)


def _rule_lines(state: EntryState, english: bool) -> tuple[str, str]:
    messages, fixes = [], []
    for reason in state.entry.reasons:
        rule = RULES.get(reason.code)
        if rule is None:
            messages.append(reason.code)
            continue
        values = dict.fromkeys(rule.placeholders(), "")
        values |= {
            "field": reason.field or "",
            "value": reason.value or "",
            "detail": (reason.detail or "") if english else detail_zh(reason.detail or ""),
        }
        template = rule.message_en if english else rule.message_zh
        fix = rule.fix_en if english else rule.fix_zh
        messages.append(template.format_map(values))
        fixes.append(fix.format_map(values))
    separator = " " if english else ""
    return separator.join(messages), separator.join(dict.fromkeys(fixes))


def write_entries(
    stream: TextIO,
    states: Iterable[EntryState],
    output_format: str,
    *,
    english: bool,
    unmask: bool = False,
) -> None:
    """Write entries as JSON Lines (the whole entry) or CSV (one row per entry).

    Identity and mobile numbers in the original records are masked unless
    ``unmask`` is set.
    """
    if output_format == "jsonl":
        for state in states:
            document = msgspec.to_builtins(state.entry)
            document["status"] = "open" if state.is_open else "resolved"
            if not unmask:
                document["original"] = mask_personal(state.entry.original)
            stream.write(json.dumps(document, ensure_ascii=False) + "\n")
        return

    writer = csv.writer(stream)
    writer.writerow([_(name) for name in CSV_COLUMNS])
    for state in states:
        entry = state.entry
        messages, fixes = _rule_lines(state, english)
        writer.writerow(
            [
                entry.entry_id,
                entry.source_id,
                entry.position.location,
                entry.position.record,
                entry.position.line or "",
                entry.record_key,
                " ".join(reason.code for reason in entry.reasons),
                messages,
                fixes,
                _("open") if state.is_open else _("resolved"),
                entry.original if unmask else mask_personal(entry.original),
            ]
        )
