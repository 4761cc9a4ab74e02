"""The ``zwbus projections`` and ``zwbus cases`` command groups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import click
import msgspec
from rich.table import Table

from bus.i18n import _
from bus.progress import SequenceProgress
from bus.runner import Interrupted, run
from bus.screen import ScreenConsole
from bus.settings import Settings
from contracts.case import CASE_EVENT_NAMES
from projections import display
from projections.cases import CasesProjection
from projections.cases import queries as case_queries
from projections.checkpoint_store import ProjectionStore, store_path
from projections.operations import (
    ProjectionStatus,
    SetAsideReport,
    handle_set_aside,
    projection_status,
)
from projections.rebuild import DEFAULT_LOCK_WAIT_S, ProjectionRebuild, RebuildResult
from projections.registry import PROJECTION_NAMES, build_projection
from projections.runtime import ProjectionRunner, consumer_name
from projections.workdays import china_today

console = ScreenConsole(soft_wrap=False)
error_console = ScreenConsole(stderr=True, soft_wrap=False)


_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _echo_json(value: object) -> None:
    click.echo(msgspec.json.encode(value).decode())


def _as_date(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _name_argument() -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.argument(
        "name", required=False, default="cases", type=click.Choice(PROJECTION_NAMES)
    )


# --- zwbus projections --------------------------------------------------------


@click.group(help=_("Build and inspect the read models (projections) fed by the streams."))
def projections() -> None:
    pass


@projections.command(
    "run",
    help=_(
        "Apply the stream to a projection's store. Without --until-caught-up it keeps "
        "following the stream until SIGINT or SIGTERM, which stop it after the current batch."
    ),
)
@_name_argument()
@click.option(
    "--until-caught-up",
    is_flag=True,
    help=_("Stop once no message is pending instead of following the stream."),
)
@click.pass_obj
def run_projection(settings: Settings, name: str, until_caught_up: bool) -> None:
    runner = ProjectionRunner(build_projection(name, settings.data_dir), settings)
    try:
        summary = run(runner.run(until_caught_up=until_caught_up))
    except Interrupted:
        console.print(display.summary_text(runner.summary))
        if until_caught_up:
            raise
        console.print(_("Stopped by signal; every committed batch is kept."))
        return
    console.print(display.summary_text(summary))


@projections.command(
    "status",
    help=_(
        "Compare each projection's stored sequence with its stream: lag and set-aside messages."
    ),
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    async def collect() -> list[ProjectionStatus]:
        return [
            await projection_status(build_projection(name, settings.data_dir), settings)
            for name in PROJECTION_NAMES
        ]

    statuses = run(collect())
    if as_json:
        _echo_json(statuses)
        return

    table = Table(
        _("Projection"),
        _("Stream"),
        _("Stored sequence"),
        _("Stream last sequence"),
        _("Lag"),
        _("Consumer pending"),
        _("Ack pending"),
        _("Set aside"),
    )
    for item in statuses:
        values = (
            item.projection,
            item.stream,
            item.stored_sequence,
            item.stream_last_sequence,
            item.lag,
            item.consumer_pending,
            item.consumer_ack_pending,
            item.set_aside,
        )
        table.add_row(*["-" if value is None else str(value) for value in values])
    console.print(table)


@projections.command(
    "set-aside",
    help=_(
        "List the messages a projection set aside. --retry decodes and applies them again "
        "(after an upgrade that reads them); --discard drops one for good."
    ),
)
@_name_argument()
@click.option(
    "--retry",
    is_flag=True,
    help=_("Decode and apply the set-aside messages again, per key in stream order."),
)
@click.option(
    "--discard",
    "discard",
    type=int,
    multiple=True,
    metavar="SEQ",
    help=_(
        "Delete the set-aside message with this stream sequence, then retry "
        "the messages behind it. Repeatable."
    ),
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help=_("Maximum number of messages to list."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def set_aside_command(
    settings: Settings,
    name: str,
    retry: bool,
    discard: tuple[int, ...],
    limit: int,
    as_json: bool,
) -> None:
    projection = build_projection(name, settings.data_dir)
    report = run(handle_set_aside(projection, settings, retry=retry, discard=discard, limit=limit))
    if as_json:
        _echo_json(_set_aside_json(report))
        return
    _print_set_aside(report)


def _set_aside_json(report: SetAsideReport) -> dict[str, object]:
    entries = [
        {key: value for key, value in msgspec.structs.asdict(entry).items() if key != "data"}
        for entry in report.entries
    ]
    return {
        "discarded": report.discarded,
        "missing": report.missing,
        "retry": report.retry,
        "total": report.total,
        "entries": entries,
    }


def _print_set_aside(report: SetAsideReport) -> None:
    for seq in report.discarded:
        console.print(_("Discarded set-aside message {seq}.").format(seq=seq))
    for seq in report.missing:
        error_console.print(_("No set-aside message has sequence {seq}.").format(seq=seq))
    if report.retry is not None:
        console.print(
            _(
                "Retry: {resolved} resolved ({applied} applied, {duplicates} duplicates), "
                "{remaining} still set aside."
            ).format(
                resolved=report.retry.resolved,
                applied=report.retry.applied,
                duplicates=report.retry.duplicates,
                remaining=report.retry.remaining,
            )
        )
    if not report.entries:
        console.print(_("No message is set aside."))
        return
    console.print(display.set_aside_table(report.entries))
    if report.total > len(report.entries):
        console.print(
            _("Showing {shown} of {total}; raise --limit to see more.").format(
                shown=len(report.entries), total=report.total
            )
        )


@projections.command(
    "rebuild",
    help=_(
        "Rebuild a projection's store from the first message of its stream into "
        "NAME.rebuild.sqlite beside the live store, which keeps serving reads and, when a "
        "runner follows the stream, keeps being updated. Once caught up, the rebuild takes "
        "the store lock (a running runner must stop: see --wait), applies the newest "
        "messages and replaces the live store in one rename, keeping the old one as "
        "NAME.previous.sqlite. Programs that had the old store open keep reading it until "
        "they open it again; new readers see the rebuilt store. Messages that cannot be "
        "applied are set aside again, so earlier --discard decisions are not kept."
    ),
)
@click.argument("name", metavar="NAME", type=click.Choice(PROJECTION_NAMES))
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=DEFAULT_LOCK_WAIT_S,
    show_default=True,
    metavar="SECONDS",
    help=_("Seconds to wait for a runner to release the store lock before giving up."),
)
@click.pass_obj
def rebuild_command(settings: Settings, name: str, wait_s: float) -> None:
    with _RebuildProgress(name) as progress:
        rebuild = ProjectionRebuild(
            build_projection(name, settings.data_dir),
            settings,
            lock_wait_s=wait_s,
            listener=progress,
        )
        try:
            result = run(rebuild.run())
        except Interrupted:
            if not rebuild.result.swapped:
                error_console.print(_(
                    "Rebuild interrupted; the live store is unchanged and the partial "
                    "rebuild was removed."
                ))
                raise click.exceptions.Exit(130) from None
            _print_rebuild_summary(rebuild.result)
            raise
    _print_rebuild_summary(result)


def _print_rebuild_summary(result: RebuildResult) -> None:
    console.print(_(
        "Rebuilt projection {projection} from stream {stream}: {applied} events applied, "
        "{duplicates} duplicates, {set_aside} set aside, in {seconds:.1f} s."
    ).format(projection=result.projection, stream=result.stream, applied=result.applied,
             duplicates=result.duplicates, set_aside=result.set_aside,
             seconds=result.seconds), markup=False)
    console.print(_("Stored sequence: {before} before the rebuild, {after} after.").format(
        before=result.stored_before, after=result.stored_after))
    if result.previous_path is None:
        console.print(_("There was no live store before, so none was kept for a rollback."))
    else:
        console.print(_(
            "The previous store is kept at {previous} for one rollback: stop the runner, "
            "then move it onto {path}."
        ).format(previous=result.previous_path, path=result.path), markup=False)
    console.print(_(
        "The next run recreates consumer {consumer} from sequence {seq}."
    ).format(consumer=consumer_name(result.projection), seq=result.stored_after + 1))


class _RebuildProgress(SequenceProgress):
    """Progress bar of a rebuild on standard error (only on a terminal) and its notices."""

    def __init__(self, projection: str) -> None:
        super().__init__(projection, _("{events} applied, {rate:.0f}/s"), console=error_console)

    def stale_shadow_removed(self, path: Path) -> None:
        error_console.print(_(
            "Removed {path}, left by a rebuild that did not finish; building it again."
        ).format(path=path), markup=False)

    def waiting_for_lock(self, lock_path: Path, wait_s: float) -> None:
        error_console.print(_(
            "A runner holds the store lock {path}; waiting up to {seconds:.0f} s for it to stop."
        ).format(path=lock_path, seconds=wait_s), markup=False)


# --- zwbus cases --------------------------------------------------------------


@click.group(help=_("Look up cases (办件) in the case database."))
def cases() -> None:
    pass


_AS_OF_HELP = _("Date the overdue check uses, YYYY-MM-DD (default: today in China).")


@cases.command(
    "show",
    help=_(
        "Show one case by unified case code or local case number: its current state and its "
        "events in business-time order. Identifiers are shown masked."
    ),
)
@click.argument("code")
@click.option("--as-of", type=_DATE, default=None, help=_AS_OF_HELP)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of tables."))
@click.pass_obj
def show(settings: Settings, code: str, as_of: datetime | None, as_json: bool) -> int:
    today = _as_date(as_of) or china_today()

    async def load() -> tuple[list[case_queries.CaseView], list[case_queries.HistoryEntry]]:
        path = store_path(settings.data_dir, CasesProjection.name)
        async with ProjectionStore.open(
            path, projection=CasesProjection.name, create=False
        ) as store:
            views = await case_queries.find_cases(store.connection, code, today)
            history = []
            if len(views) == 1:
                history = await case_queries.case_history(store.connection, views[0].case.code)
            return views, history

    views, history = run(load())
    if not views:
        error_console.print(
            _(
                "No case has the unified code or local case number {code}. If the department "
                "sent it, its records may be parked or quarantined: see zwbus parked list "
                "--case {code} and zwbus quarantine list; or the projection may lag: see zwbus "
                "projections status."
            ).format(code=code)
        )
        return 1
    if len(views) > 1:
        error_console.print(
            _(
                "Local case number {code} belongs to {count} cases; show one by its unified code:"
            ).format(code=code, count=len(views))
        )
        for view in views:
            error_console.print(
                f"  {view.case.code}  {view.case.system}  "
                f"{display.label(display.STATUS_LABELS, view.case.status)}"
            )
        return 1

    if as_json:
        _echo_json({"case": views[0].case, "overdue": views[0].overdue, "history": history})
        return 0
    console.print(display.case_table(views[0], today))
    console.print(display.history_table(history))
    return 0


@cases.command(
    "list",
    help=_(
        "List cases, newest submission first, filtered by region, department, item, status, "
        "overdue and submission date."
    ),
)
@click.option(
    "--region",
    default=None,
    help=_("Region code prefix: 2 digits (province), 4 (city) or 6 (county)."),
)
@click.option("--department", default=None, help=_("Department code."))
@click.option("--item", default=None, help=_("Item implementation code (实施编码)."))
@click.option(
    "--status", type=click.Choice(CASE_EVENT_NAMES), default=None, help=_("Current status.")
)
@click.option("--overdue", is_flag=True, help=_("Only cases overdue as of --as-of."))
@click.option(
    "--since", type=_DATE, default=None, help=_("First submission date, YYYY-MM-DD, included.")
)
@click.option(
    "--until", type=_DATE, default=None, help=_("Last submission date, YYYY-MM-DD, included.")
)
@click.option("--as-of", type=_DATE, default=None, help=_AS_OF_HELP)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help=_("Maximum number of cases."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Write JSON instead of a table."))
@click.pass_obj
def list_command(
    settings: Settings,
    region: str | None,
    department: str | None,
    item: str | None,
    status: str | None,
    overdue: bool,
    since: datetime | None,
    until: datetime | None,
    as_of: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    today = _as_date(as_of) or china_today()
    filters = case_queries.CaseFilter(
        region=region,
        department=department,
        item=item,
        status=status,
        overdue=overdue,
        since=_as_date(since),
        until=_as_date(until),
        limit=limit,
    )

    async def load() -> list[case_queries.CaseView]:
        path = store_path(settings.data_dir, CasesProjection.name)
        async with ProjectionStore.open(
            path, projection=CasesProjection.name, create=False
        ) as store:
            return await case_queries.list_cases(store.connection, filters, today)

    views = run(load())
    if as_json:
        _echo_json(
            [{**msgspec.structs.asdict(view.case), "overdue": view.overdue} for view in views]
        )
        return
    if not views:
        console.print(_("No case matches."))
        return
    console.print(display.case_list_table(views))
    console.print(_("{count} case(s) shown (limit {limit}).").format(count=len(views), limit=limit))
