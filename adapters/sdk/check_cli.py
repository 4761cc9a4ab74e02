"""``zwbus adapters check MAPPING SAMPLE``: the offline test kit on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from adapters.details_zh import waiting_zh
from adapters.family_profile import load_source_profile
from adapters.sdk.check import CheckedRecord, CheckReport, catalogue_from_file, check_sample
from adapters.summary import render_reason
from bus.i18n import _, current_language

console = Console(highlight=False, soft_wrap=True)

EXIT_REJECTED = 2
"""Exit code when at least one record of the sample would be rejected."""


def _event_line(record: CheckedRecord) -> str:
    event = record.event
    if event is None:
        return _("#{position} (line {line}): would be rejected").format(
            position=record.position, line=record.line
        )
    line = _(
        "#{position} (line {line}): {event_type}, key {key} version {version}, region "
        "{region}, time {time}"
    ).format(
        position=record.position,
        line=record.line,
        event_type=event.event_type,
        key=event.record_key,
        version=event.version,
        region=event.region,
        time=event.occurred_at.isoformat(),
    )
    if event.duplicate_of is not None:
        line += _("; duplicate of #{position}, so no second event").format(
            position=event.duplicate_of
        )
    if event.needs_on_bus:
        needs = event.needs_on_bus
        if current_language() != "en":
            needs = tuple(map(waiting_zh, needs))
        line += _("; needs {types} first (checked on the bus)").format(types=", ".join(needs))
    return line


def print_report(report: CheckReport, *, english: bool) -> None:
    for record in report.records:
        console.print(_event_line(record), markup=False)
        for reason in record.reasons:
            console.print("    " + render_reason(reason, english=english), markup=False)
    if report.unknown_columns:
        console.print(
            _("Unknown columns in {file} (not mapped, ignored): {columns}").format(
                file=report.sample, columns=", ".join(report.unknown_columns)
            ),
            markup=False,
        )
    if report.unchecked_rules:
        console.print(
            _(
                "Not checked: {rules} (no item catalogue given; pass --items with the "
                "catalogue file that zwbus items import reads)."
            ).format(rules=", ".join(report.unchecked_rules))
        )
    if report.family == "case":
        total = _(
            "Records in the sample: {records}. Would become events: {events}; duplicates "
            "of earlier records of the sample: {duplicates}; would be rejected: {rejected}. "
            "Sequence rules (predecessor events, closed cases) are checked on the bus."
        )
    else:
        total = _(
            "Records in the sample: {records}. Would become events: {events}; duplicates "
            "of earlier records of the sample: {duplicates}; would be rejected: {rejected}. "
            "Sequence rules (predecessor events, the cases, bookings, resources and requests "
            "that records name) are checked on the bus."
        )
    console.print(
        total.format(
            records=len(report.records),
            events=report.events - report.duplicates,
            duplicates=report.duplicates,
            rejected=report.rejected,
        )
    )


def report_document(report: CheckReport, *, english: bool) -> dict[str, Any]:
    """Return the report as plain data for scripts."""
    records: list[dict[str, Any]] = []
    for record in report.records:
        item: dict[str, Any] = {"position": record.position, "line": record.line}
        if record.event is None:
            item["outcome"] = "rejected"
            item["reasons"] = [
                {
                    "code": reason.code,
                    "field": reason.field,
                    "value": reason.value,
                    "detail": reason.detail,
                    "message": render_reason(reason, english=english),
                }
                for reason in record.reasons
            ]
        else:
            event = record.event
            item |= {
                "outcome": "duplicate" if event.duplicate_of is not None else "event",
                "event_type": event.event_type,
                "event_id": event.event_id,
                "record_key": event.record_key,
                "version": event.version,
                "region": event.region,
                "occurred_at": event.occurred_at.isoformat(),
                "duplicate_of": event.duplicate_of,
                "checked_on_bus": list(event.needs_on_bus),
            }
        records.append(item)
    return {
        "sample": report.sample,
        "family": report.family,
        "records": records,
        "totals": {
            "records": len(report.records),
            "events": report.events - report.duplicates,
            "duplicates": report.duplicates,
            "rejected": report.rejected,
        },
        "unknown_columns": report.unknown_columns,
        "not_checked": list(report.unchecked_rules),
        "sequence_rules": "checked on the bus",
    }


@click.group(help=_("Tools for integrators who connect a department system."))
def adapters() -> None:
    pass


@adapters.command(
    "check",
    help=_(
        "Check a sample export against a source profile of any family (case, review, hall, "
        "share) without a server: print the event each record would produce or the rules it "
        "fails. Exits with 2 when any record would be rejected, 1 when the profile or sample "
        "cannot be read, 0 otherwise."
    ),
)
@click.argument("mapping", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("sample", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--items",
    "items_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help=_("Item catalogue file (the JSON that zwbus items import reads) for the item rule."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the result as JSON."))
def check(mapping: Path, sample: Path, items_path: Path | None, as_json: bool) -> int:
    profile = load_source_profile(mapping)
    catalogue = catalogue_from_file(items_path) if items_path is not None else None
    report = check_sample(profile, sample, catalogue=catalogue)
    english = current_language() == "en"
    if as_json:
        document = report_document(report, english=english)
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print_report(report, english=english)
    return EXIT_REJECTED if report.rejected else 0


__all__ = ["adapters"]
