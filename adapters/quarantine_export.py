"""Writing quarantine entries to a file a department can open and work through."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

import msgspec

from adapters.quarantine_view import EntryState
from contracts.rules import RULES

CSV_COLUMNS = (
    "entry_id",
    "source_id",
    "location",
    "record",
    "line",
    "record_key",
    "reason_codes",
    "reasons",
    "fix",
    "status",
    "original",
)


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
            "detail": reason.detail or "",
        }
        template = rule.message_en if english else rule.message_zh
        fix = rule.fix_en if english else rule.fix_zh
        messages.append(template.format_map(values))
        fixes.append(fix.format_map(values))
    return "; ".join(messages), "; ".join(dict.fromkeys(fixes))


def write_entries(
    stream: TextIO, states: Iterable[EntryState], output_format: str, *, english: bool
) -> None:
    """Write entries as JSON Lines (the whole entry) or CSV (one row per entry)."""
    if output_format == "jsonl":
        for state in states:
            document = msgspec.to_builtins(state.entry)
            document["status"] = "open" if state.is_open else "resolved"
            stream.write(json.dumps(document, ensure_ascii=False) + "\n")
        return

    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
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
                "open" if state.is_open else "resolved",
                entry.original,
            ]
        )
