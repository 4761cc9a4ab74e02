"""The ``zwbus replay`` command: export history, build a projection as of a moment, diff stores."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import click
import msgspec
from rich.console import Console
from rich.table import Table

from bus.connect import open_bus
from bus.errors import BusError
from bus.i18n import _
from bus.progress import SequenceProgress
from bus.runner import run
from bus.screen import screen_time
from bus.settings import Settings
from projections.lag_snapshot import stored_time_range
from projections.registry import PROJECTION_NAMES, build_projection
from replay.asof import AsOfResult, build_as_of, check_window, refuse_existing
from replay.diff import StoreDiff, TableDiff, Value, diff_stores
from replay.exporters import (
    FORMATS,
    STREAMABLE_FORMATS,
    Exporter,
    ExportResult,
    Format,
    export_events,
    load_pyarrow,
    open_exporter,
    output_file,
)
from replay.filters import FAMILY_STREAMS, Selection, select
from replay.reader import ReplayWindow, parse_time

console = Console(soft_wrap=True, highlight=False)
error_console = Console(stderr=True, soft_wrap=True, highlight=False)

CSV_ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
MAX_SHOWN_CHARS = 60
"""Maximum length of a value printed in a diff sample; --json prints values whole."""


class _TimeParam(click.ParamType[datetime]):
    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(str(value))
        except BusError as exc:
            self.fail(str(exc), param, ctx)


TIME = _TimeParam()

_EXPORT_ONLY = ("file_format", "family", "region", "key", "types", "strict", "unmask",
                "csv_encoding", "from_seq", "since", "until")


@click.group(
    "replay",
    invoke_without_command=True,
    help=_(
        "Replay a stream's history into JSON Lines, CSV or Parquet, bounded by sequence or "
        "time and filtered by family, region, key and event type; or, with --projection and "
        "--as-of, build a projection's store as it stood at that moment. Times without a zone "
        "are Asia/Shanghai time. Without an upper bound the replay stops at the stream's last "
        "message when it started."
    ),
)
@click.option("--stream", default=None,
              help=_("Stream to read (default: the stream of --family, ZW_CASES without one)."))
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="jsonl",
              show_default=True,
              help=_("Output format. Parquet is written by a second process, so that the "
                     "export uses two processor cores."))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help=_("Output file. Without it, or with -, JSON Lines and CSV go to standard "
                     "output. A file is replaced only when the replay succeeds."))
@click.option("--from-seq", type=click.IntRange(min=1), default=None,
              help=_("First stream sequence to read."))
@click.option("--to-seq", type=click.IntRange(min=1), default=None,
              help=_("Last stream sequence to read."))
@click.option("--since", type=TIME, default=None,
              help=_("Read messages the stream stored at or after this ISO 8601 time."))
@click.option("--until", type=TIME, default=None,
              help=_("Read messages the stream stored at or before this ISO 8601 time."))
@click.option("--family", type=click.Choice(sorted(FAMILY_STREAMS)), default=None,
              help=_("Event family; it also selects the stream when --stream is not given."))
@click.option("--region", default=None,
              help=_("Region code prefix: 2 digits (province), 4 (city) or 6 (county)."))
@click.option("--key", default=None,
              help=_("Entity key, such as a unified case code (统一办件编码)."))
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help=_("Event type to keep, such as case.accepted or accepted. Repeatable."))
@click.option("--strict", is_flag=True,
              help=_("Fail at the first message that cannot be decoded instead of counting it."))
@click.option("--unmask", is_flag=True,
              help=_("Write identity numbers, phone numbers and person references as stored "
                     "instead of masked."))
@click.option("--csv-encoding", type=click.Choice(CSV_ENCODINGS), default="utf-8",
              show_default=True,
              help=_("Encoding of CSV output; utf-8-sig lets Excel recognise UTF-8."))
@click.option("--as-of", type=TIME, default=None,
              help=_("With --projection: build the store from the messages the stream stored "
                     "at or before this ISO 8601 time."))
@click.option("--projection", type=click.Choice(PROJECTION_NAMES), default=None,
              help=_("Build this projection's SQLite store into --out instead of exporting "
                     "events."))
@click.option("--force", is_flag=True,
              help=_("With --projection: replace an existing --out file."))
@click.pass_context
def replay(ctx: click.Context, /, **options: Any) -> int | None:
    if ctx.invoked_subcommand is not None:
        typed = _typed_options(ctx, options)
        if typed:
            raise click.UsageError(_(
                "These options belong to the replay itself and cannot be combined with a "
                "subcommand: {options}."
            ).format(options=", ".join(typed)))
        return None

    settings: Settings = ctx.obj
    if options["projection"] is not None or options["as_of"] is not None:
        return _build(ctx, settings, options)
    return _export(ctx, settings, options)


def _typed_options(
    ctx: click.Context, options: dict[str, Any], names: Iterable[str] = ()
) -> list[str]:
    """Return how the options typed on the command line (among ``names``, if given) are spelt."""
    selected = set(names) or set(options)
    typed = []
    for parameter in ctx.command.params:
        if parameter.name not in selected:
            continue
        source = ctx.get_parameter_source(parameter.name) if parameter.name else None
        if source is click.core.ParameterSource.COMMANDLINE:
            typed.append(parameter.opts[0])
    return typed


def _export(ctx: click.Context, settings: Settings, options: dict[str, Any]) -> int:
    forbidden = _typed_options(ctx, options, ("force",))
    if forbidden:
        raise click.UsageError(_("These options apply only with --projection: {options}.")
                               .format(options=", ".join(forbidden)))

    file_format = cast(Format, options["file_format"])
    out: Path | None = options["out"]
    to_stdout = out is None or str(out) == "-"
    if to_stdout and file_format not in STREAMABLE_FORMATS:
        raise click.UsageError(_("--format {format} needs a file: add --out FILE.").format(
            format=file_format))
    if file_format == "parquet":
        load_pyarrow()

    window = ReplayWindow(from_seq=options["from_seq"], to_seq=options["to_seq"],
                          since=options["since"], until=options["until"])
    selection = select(stream=options["stream"], family=options["family"],
                       region=options["region"], key=options["key"], types=options["types"])

    try:
        with output_file(out) as output:
            exporter = open_exporter(file_format, output, csv_encoding=options["csv_encoding"])
            try:
                # A bar between data lines on the same terminal would garble both.
                shown = not (to_stdout and sys.stdout.isatty())
                with SequenceProgress(
                    selection.stream, _("{events} events, {rate:.0f}/s"),
                    console=error_console, shown=shown,
                ) as progress:
                    result, stored = run(_export_from_bus(settings, selection, window, exporter,
                                                  strict=options["strict"],
                                                  mask=not options["unmask"],
                                                  progress=progress))
            finally:
                exporter.close()
    except BrokenPipeError:
        # The reader of standard output (head, a closed pager) stopped early;
        # the consumer is already deleted, so there is nothing left to clean.
        _stdout_closed()
        return 1

    _print_export_summary(result, None if to_stdout else out)
    if result.first_seq is None:
        _print_stored_range(result.stream, stored)
    return 0


async def _export_from_bus(
    settings: Settings,
    selection: Selection,
    window: ReplayWindow,
    exporter: Exporter,
    *,
    strict: bool,
    mask: bool,
    progress: SequenceProgress,
) -> tuple[ExportResult, tuple[datetime, datetime] | None]:
    """Export the window, and return when the stream's messages were stored if it had none."""
    async with open_bus(settings, name="zwbus-replay") as (client, js):
        result = await export_events(
            js, selection, window, exporter, strict=strict, mask=mask, progress=progress
        )
        if result.first_seq is not None:
            return result, None
        return result, await stored_time_range(client, result.stream)


def _print_stored_range(stream: str, stored: tuple[datetime, datetime] | None) -> None:
    """Print when the stream's messages were stored, after a window that contained none of them."""
    if stored is None:
        return
    error_console.print(_(
        "The messages of stream {stream} were stored from {first} to {last}. --since, "
        "--until and --as-of select by the time the server stored a message, not by "
        "business time."
    ).format(stream=stream, first=screen_time(stored[0]), last=screen_time(stored[1])),
        markup=False)


def _print_export_summary(result: ExportResult, out: Path | None) -> None:
    counts = result.counts
    if result.first_seq is None:
        error_console.print(_("No message of stream {stream} is inside the window.").format(
            stream=result.stream))
    else:
        error_console.print(_(
            "Read {read} messages of stream {stream}, sequences {first} to {last}; "
            "{filtered} did not match --type or --key."
        ).format(read=counts.read, stream=result.stream, first=result.first_seq,
                 last=result.last_seq, filtered=counts.filtered))
    for sample in counts.undecodable_samples:
        error_console.print(_("  undecodable: sequence {seq} ({subject}): {reason}").format(
            seq=sample.seq, subject=sample.subject, reason=sample.reason), markup=False)
    hidden = counts.undecodable - len(counts.undecodable_samples)
    if hidden > 0:
        error_console.print(_("  and {count} more undecodable messages.").format(count=hidden))
    error_console.print(_(
        "{events} events written, {undecodable} undecodable, {seconds:.1f} s, "
        "{rate:.0f} events/s."
    ).format(events=counts.kept, undecodable=counts.undecodable, seconds=result.seconds,
             rate=result.rate))
    if out is not None:
        error_console.print(_("Written to {path}.").format(path=out), markup=False)


def _build(ctx: click.Context, settings: Settings, options: dict[str, Any]) -> int:
    forbidden = _typed_options(ctx, options, _EXPORT_ONLY)
    if forbidden:
        raise click.UsageError(_(
            "These options do not apply to a point-in-time build, which reads the whole "
            "stream up to --as-of or --to-seq: {options}."
        ).format(options=", ".join(forbidden)))
    name: str | None = options["projection"]
    if name is None:
        raise click.UsageError(_(
            "--as-of builds a projection: add --projection NAME. To export events up to a "
            "time, use --until."))
    out: Path | None = options["out"]
    if out is None or str(out) == "-":
        raise click.UsageError(_("A point-in-time build needs --out FILE.sqlite."))

    projection = build_projection(name, settings.data_dir)
    if options["stream"] is not None and options["stream"] != projection.stream:
        raise click.UsageError(_("Projection {projection} reads stream {expected}, not {stream}.")
                               .format(projection=name, expected=projection.stream,
                                       stream=options["stream"]))
    if out.resolve() == projection.store_file(settings.data_dir).resolve():
        raise click.UsageError(_(
            "{path} is the live store of projection {projection}; write the build to "
            "another file.").format(path=out, projection=name))
    window = ReplayWindow(to_seq=options["to_seq"], until=options["as_of"])
    check_window(window)
    if not options["force"]:
        refuse_existing(out)

    async def build(
        progress: SequenceProgress,
    ) -> tuple[AsOfResult, tuple[datetime, datetime] | None]:
        async with open_bus(settings, name="zwbus-replay") as (client, js):
            built = await build_as_of(js, projection, settings, out, window,
                                      overwrite=options["force"], progress=progress)
            if built.last_seq:
                return built, None
            return built, await stored_time_range(client, built.stream)

    with SequenceProgress(
        name, _("{events} applied, {rate:.0f}/s"), console=error_console
    ) as progress:
        result, stored = run(build(progress))
    _print_build_summary(result)
    if not result.last_seq:
        _print_stored_range(result.stream, stored)
    return 0


def _print_build_summary(result: AsOfResult) -> None:
    moments = []
    if result.as_of is not None:
        moments.append(result.as_of.isoformat())
    if result.to_seq is not None:
        moments.append(_("sequence {seq}").format(seq=result.to_seq))
    console.print(_(
        "Built projection {projection} as of {moment}: {applied} events applied, "
        "{duplicates} duplicates, {set_aside} set aside, checkpoint at sequence {seq} "
        "of {stream}, in {seconds:.1f} s."
    ).format(projection=result.projection, moment=", ".join(moments), applied=result.applied,
             duplicates=result.duplicates, set_aside=result.set_aside, seq=result.last_seq,
             stream=result.stream, seconds=result.seconds), markup=False)
    console.print(_("Store written to {path}.").format(path=result.path), markup=False)


@replay.command("diff", help=_(
    "Compare two SQLite stores, such as two point-in-time builds, table by table: rows "
    "added, removed and changed, matched by primary key. Exits with status 1 when they "
    "differ."))
@click.argument("left", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("right", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--sample", type=click.IntRange(min=0), default=5, show_default=True,
              help=_("Example rows shown per table and kind of difference."))
@click.option("--table", "tables", multiple=True, metavar="TABLE",
              help=_("Compare only this table. Repeatable."))
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of tables."))
def diff_command(left: Path, right: Path, sample: int, tables: tuple[str, ...],
                 as_json: bool) -> int:
    result = diff_stores(left, right, sample=sample, tables=tables)
    if as_json:
        document = {"same": result.same, **msgspec.to_builtins(result)}
        click.echo(msgspec.json.encode(document).decode())
    else:
        _print_diff(result)
    return 0 if result.same else 1


def _print_diff(result: StoreDiff) -> None:
    table = Table(_("Table"), _("Primary key"), _("Left rows"), _("Right rows"), _("Added"),
                  _("Removed"), _("Changed"))
    for item in result.tables:
        changed = "-" if item.changed is None else str(item.changed)
        key = ", ".join(item.key) or _("(whole rows)")
        table.add_row(item.table, key, str(item.left_rows), str(item.right_rows),
                      str(item.added), str(item.removed), changed)
    console.print(table)

    for item in result.tables:
        if item.differs:
            _print_table_samples(item)
    if result.same:
        console.print(_("The stores are the same."))


def _print_table_samples(item: TableDiff) -> None:
    if item.columns_added or item.columns_removed:
        console.print(_("{table}: columns added {added}; columns removed {removed}").format(
            table=item.table, added=", ".join(item.columns_added) or "-",
            removed=", ".join(item.columns_removed) or "-"), markup=False)
    for label, rows in ((_("added"), item.added_sample), (_("removed"), item.removed_sample)):
        for row in rows:
            console.print(f"{item.table} {label}: {_pairs(row)}", markup=False)
    changed_label = _("changed")
    for change in item.changed_sample:
        changes = "; ".join(
            f"{column} {_shown(before)} → {_shown(after)}"
            for column, (before, after) in change.changes.items()
        )
        console.print(f"{item.table} {changed_label}: {_pairs(change.key)}: {changes}",
                      markup=False)


def _pairs(row: dict[str, Value]) -> str:
    return ", ".join(f"{column}={_shown(value)}" for column, value in row.items())


def _shown(value: Value) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def _stdout_closed() -> None:
    """Point standard output at /dev/null after a reader such as ``head`` closed the pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
