"""Commands of the adapters: file ingest, item catalogue import, and the quarantine."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import click
import msgspec
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column

from adapters.details_zh import waiting_zh
from adapters.family_profile import load_source_profile
from adapters.family_records import FamilyCandidate
from adapters.file_source import ingest_files
from adapters.ingest.family_rules import entity_kind
from adapters.ingest.parked import CASE_LANE, FAMILY_LANES, ParkedEvent, ParkingLot
from adapters.ingest.tally import Tally
from adapters.items import DEFAULT_SOURCE_ID, import_catalogue
from adapters.quarantine_export import mask_personal, write_entries
from adapters.quarantine_list import (
    FAMILIES,
    entries_table,
    entry_document,
    newest_first,
    select_entries,
)
from adapters.quarantine_view import EntryState, fold_quarantine
from adapters.summary import print_tally, reason_label, render_reason, tally_document
from bus.connect import open_bus
from bus.errors import ConfigError
from bus.i18n import N_, _, current_language
from bus.publisher import Publisher
from bus.runner import run
from bus.screen import FittedTable, ScreenConsole, screen_time
from bus.settings import Settings
from bus.streams import ensure_streams

console = ScreenConsole()
err_console = ScreenConsole(stderr=True)


def _english() -> bool:
    return current_language() == "en"


def run_ingest_with_progress(
    settings: Settings,
    profile_path: Path,
    inputs: tuple[Path, ...],
    *,
    reread: bool,
    park_wait_days: float,
) -> Tally:
    """Run a file ingest, with a live record counter and rate on a terminal."""
    profile = load_source_profile(profile_path)
    started = time.monotonic()
    show = sys.stderr.isatty()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not show,
        transient=True,
    ) as progress:
        task = progress.add_task(_("Ingesting {source}").format(source=profile.source.id))
        done_before: dict[str, int] = {}

        def on_progress(file_name: str, records_done: int) -> None:
            done_before[file_name] = records_done
            total = sum(done_before.values())
            rate = total / max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                description=_(
                    "Ingesting {source}: {file}, {records} records, {rate:.0f} records/s"
                ).format(source=profile.source.id, file=file_name, records=total, rate=rate),
            )

        return run(
            ingest_files(
                settings,
                profile,
                inputs,
                reread=reread,
                park_wait=timedelta(days=park_wait_days),
                progress=on_progress,
            )
        )


@click.command(help=_("Ingest department export files (CSV, XLSX, JSON Lines) of one source."))
@click.option(
    "--profile",
    "profile_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help=_("Source profile (TOML) that maps the export's columns."),
)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--reread",
    is_flag=True,
    help=_("Read files again even when they were ingested completely before."),
)
@click.option(
    "--park-wait-days",
    type=float,
    default=7.0,
    show_default=True,
    help=_("Days an event may wait for its predecessor before it is quarantined."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the summary as JSON."))
@click.pass_obj
def ingest(
    settings: Settings,
    profile_path: Path,
    inputs: tuple[Path, ...],
    reread: bool,
    park_wait_days: float,
    as_json: bool,
) -> int:
    tally = run_ingest_with_progress(
        settings, profile_path, inputs, reread=reread, park_wait_days=park_wait_days
    )
    if as_json:
        click.echo(json.dumps(tally_document(tally), ensure_ascii=False, indent=2))
    else:
        print_tally(console, tally, english=_english())
    return 0 if tally.reconciles else 2


@click.group(help=_("The item catalogue (事项库)."))
def items() -> None:
    pass


@items.command("import", help=_("Import a portal item catalogue (JSON) and publish its items."))
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--source-id",
    default=DEFAULT_SOURCE_ID,
    show_default=True,
    help=_("Source id under which rejected entries are quarantined."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the summary as JSON."))
@click.pass_obj
def items_import(settings: Settings, path: Path, source_id: str, as_json: bool) -> None:
    tally = run(import_catalogue(settings, path, source_id=source_id))
    if as_json:
        click.echo(json.dumps(tally_document(tally), ensure_ascii=False, indent=2))
    else:
        print_tally(console, tally, english=_english())


@click.group(help=_("Events waiting for a predecessor event (parked)."))
def parked() -> None:
    pass


async def _parked_events(settings: Settings) -> list[ParkedEvent]:
    async with open_bus(settings, name="zwbus-parked") as (client, js):
        await ensure_streams(js)
        async with Publisher(client) as publisher:
            events: list[ParkedEvent] = []
            for lane in (CASE_LANE, *FAMILY_LANES):
                lot = ParkingLot(js, publisher, lane=lane)
                await lot.load()
                events.extend(await lot.all_waiting())
            return events


ENTITY_KINDS: dict[str, str] = {
    "case": N_("case"),
    "review": N_("review"),
    "booking": N_("booking"),
    "ticket": N_("ticket"),
    "resource": N_("resource"),
    "request": N_("request"),
    "objection": N_("objection"),
}
"""Screen labels of the entity kinds in the first column of ``zwbus parked list``."""


def _entity_kind(item: ParkedEvent) -> str:
    """Return what the parked event's code names.

    Events parked before the kind was recorded get it from their type, so an
    old review parked under its case's local number shows as a review.
    """
    if item.entity_kind:
        return item.entity_kind
    if item.event_type.startswith("case."):
        return "case"
    return entity_kind(item.event_type)


def _local_number(item: ParkedEvent) -> str:
    """Return the local case number the parked event concerns, or '' when it names none."""
    if item.event_type.startswith("case."):
        return item.record_key.split("|", 1)[0]
    candidate = msgspec.json.decode(item.event, type=FamilyCandidate)
    return str(candidate.values.get("local_no") or "")


@parked.command("list", help=_("List parked events with what each one waits for."))
@click.option("--source", "source_id", default=None, help=_("Only events of this source id."))
@click.option(
    "--entity",
    "--case",
    "entity",
    default=None,
    help=_(
        "Only events of this entity: a unified case code or local case number, or the id of "
        "a review, booking, ticket, resource, request or objection."
    ),
)
@click.option(
    "--limit", type=int, default=50, show_default=True, help=_("Maximum rows to print (0 for all).")
)
@click.pass_obj
def parked_list(settings: Settings, source_id: str | None, entity: str | None, limit: int) -> None:
    events = sorted(run(_parked_events(settings)), key=lambda item: item.parked_at)
    if source_id:
        events = [item for item in events if item.source_id == source_id]
    if entity:
        events = [item for item in events if entity in (item.code, _local_number(item))]
    table = FittedTable(
        Column(_("Kind")),
        Column(_("Entity"), no_wrap=True),
        Column(_("Local number"), no_wrap=True),
        Column(_("Event"), no_wrap=True),
        Column(_("Waits for")),
        Column(_("Parked at"), no_wrap=True),
        Column(_("Record"), no_wrap=True),
    )
    english = _english()
    for item in events[: limit or None]:
        kind = _entity_kind(item)
        waiting = item.waiting_for if english else tuple(map(waiting_zh, item.waiting_for))
        table.add_row(
            _(ENTITY_KINDS[kind]) if kind in ENTITY_KINDS else "-",
            item.code,
            _local_number(item) or "-",
            item.event_type,
            ", ".join(waiting),
            screen_time(item.parked_at),
            f"{item.source_id}: {item.position.location}#{item.position.record}",
        )
    console.print(table)
    console.print(
        _(
            "{shown} of {total} parked events shown. A case event is published as "
            "soon as its predecessor arrives; a review, hall or sharing record that "
            "waits for a case, booking or resource from another source is published "
            "when its own source runs again. After the wait set by --park-wait-days "
            "(7 days by default) a parked event goes to quarantine as "
            "missing_predecessor."
        ).format(shown=min(len(events), limit or len(events)), total=len(events))
    )


@click.group(help=_("See, show and export rejected records so that departments can fix them."))
def quarantine() -> None:
    pass


async def _entries(settings: Settings, source_id: str | None) -> dict[str, EntryState]:
    async with open_bus(settings, name="zwbus-quarantine") as (_client, js):
        await ensure_streams(js)
        return await fold_quarantine(js, source_id=source_id)


def _reason_text(state: EntryState, english: bool) -> str:
    return "\n".join(render_reason(reason, english=english) for reason in state.entry.reasons)


_STATUS_CHOICE = click.Choice(["open", "resolved", "all"])
_FAMILY = click.option(
    "--family",
    type=click.Choice(FAMILIES),
    default=None,
    help=_("Only entries of this record family."),
)


@quarantine.command(
    "list",
    help=_(
        "List quarantine entries, the latest first, each reason with the field it concerns."
    ),
)
@click.option("--source", "source_id", default=None, help=_("Only entries of this source id."))
@_FAMILY
@click.option(
    "--status",
    type=_STATUS_CHOICE,
    default="open",
    show_default=True,
    help=_("Which entries to list."),
)
@click.option("--reason", default=None, help=_("Only entries failing this rule code."))
@click.option(
    "--limit", type=int, default=50, show_default=True, help=_("Maximum rows to print (0 for all).")
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def quarantine_list(
    settings: Settings,
    source_id: str | None,
    family: str | None,
    status: str,
    reason: str | None,
    limit: int,
    as_json: bool,
) -> None:
    states = run(_entries(settings, source_id)).values()
    chosen = newest_first(select_entries(states, status=status, reason=reason, family=family))
    shown = chosen[: limit or None]
    if as_json:
        documents = [entry_document(state, english=_english()) for state in shown]
        click.echo(json.dumps(documents, ensure_ascii=False, indent=2))
        return
    if not chosen:
        console.print(_("No entries match."))
        return
    console.print(entries_table(shown))
    console.print(
        _("{shown} of {total} entries shown.").format(shown=len(shown), total=len(chosen))
    )
    families = Counter(state.entry.family for state in chosen)
    if len(families) > 1:
        # The item catalogue's entries are counted apart from the ingest's,
        # so a total that mixes them would not match an ingest summary.
        counts = ", ".join(f"{name} {count}" for name, count in sorted(families.items()))
        console.print(_("By family (--family): {counts}.").format(counts=counts))
    if len(shown) < len(chosen):
        console.print(
            _("Narrow the list with --source, --family or --reason, or raise --limit.")
        )


_UNMASK = click.option(
    "--unmask",
    is_flag=True,
    help=_("Show identity and mobile numbers in original records unmasked."),
)


@quarantine.command("show", help=_("Show one entry: reasons, fix and the original record."))
@click.argument("entry_id")
@_UNMASK
@click.pass_obj
def quarantine_show(settings: Settings, entry_id: str, unmask: bool) -> None:
    states = run(_entries(settings, None))
    matches = [state for key, state in states.items() if key.startswith(entry_id)]
    if not matches:
        raise ConfigError(
            N_(
                "No quarantine entry id starts with {entry_id}; see zwbus quarantine list "
                "--status all for the ids."
            ),
            entry_id=entry_id,
        )
    if len(matches) > 1:
        raise ConfigError(
            N_(
                "Entry id {entry_id} matches {count} entries; give more characters "
                "(see zwbus quarantine list)."
            ),
            entry_id=entry_id,
            count=len(matches),
        )
    state = matches[0]
    entry = state.entry
    console.print(
        _("Entry {entry_id} (stream sequence {seq})").format(
            entry_id=entry.entry_id, seq=state.sequence
        )
    )
    console.print(
        _("Source: {source} (system {system}), family {family}").format(
            source=entry.source_id, system=entry.system, family=entry.family
        )
    )
    console.print(
        _("Position: {location}, record {record}, line {line}").format(
            location=entry.position.location,
            record=entry.position.record,
            line=entry.position.line if entry.position.line is not None else "-",
        )
    )
    console.print(_("Record key: {key}").format(key=entry.record_key))
    console.print(
        _("Status: {status}").format(status=_("open") if state.is_open else _("resolved"))
    )
    console.print(_("Reasons:"))
    console.print(_reason_text(state, _english()), markup=False)
    console.print(_("Original record:"))
    original = entry.original if unmask else mask_personal(entry.original)
    console.print(original, markup=False, highlight=False)


@quarantine.command("export", help=_("Export entries as JSON Lines or CSV for the department."))
@click.option("--source", "source_id", default=None, help=_("Only entries of this source id."))
@_FAMILY
@click.option(
    "--status",
    type=_STATUS_CHOICE,
    default="open",
    show_default=True,
    help=_("Which entries to export."),
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help=_("Output format."),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=_("Output file (default: standard output)."),
)
@_UNMASK
@click.pass_obj
def quarantine_export(
    settings: Settings,
    source_id: str | None,
    family: str | None,
    status: str,
    output_format: str,
    out: Path | None,
    unmask: bool,
) -> None:
    entries = run(_entries(settings, source_id)).values()
    states = select_entries(entries, status=status, family=family)
    english = _english()
    if out is None:
        write_entries(sys.stdout, states, output_format, english=english, unmask=unmask)
    else:
        # A byte order mark lets spreadsheet programs on Chinese Windows read UTF-8.
        encoding = "utf-8-sig" if output_format == "csv" else "utf-8"
        with out.open("w", encoding=encoding, newline="") as stream:
            write_entries(stream, states, output_format, english=english, unmask=unmask)
        err_console.print(_("Wrote {count} entries to {path}.").format(count=len(states), path=out))


__all__ = ["ingest", "items", "parked", "quarantine", "reason_label"]
