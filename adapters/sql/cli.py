"""``zwbus poll PROFILE``: run the SQL table poller of one source profile."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from adapters.family_profile import load_source_profile
from adapters.ingest.tally import Tally
from adapters.sdk import Batch, run_source
from adapters.sql.poller import PollStats, TablePoller
from adapters.summary import print_tally, tally_document
from bus.i18n import _, current_language
from bus.runner import Interrupted, run
from bus.settings import Settings

console = Console()
err_console = Console(stderr=True)


def poll_with_progress(
    settings: Settings, poller: TablePoller, *, park_wait_days: float
) -> tuple[Tally, bool]:
    """Run the poller with a live status line on a terminal.

    Returns the tally and whether the run was interrupted; the tally then
    contains what was acknowledged before the interruption.
    """
    started = time.monotonic()
    seen = Tally()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=not sys.stderr.isatty(),
        transient=True,
    ) as progress:
        task = progress.add_task(_("Polling {source}").format(source=poller.source_id))

        def on_batch(_batch: Batch, tally: Tally) -> None:
            nonlocal seen
            seen = tally
            rate = tally.read / max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                description=_(
                    "Polling {source}: pass {passes}, {records} rows read, {published} "
                    "published, {rate:.0f} rows/s"
                ).format(
                    source=poller.source_id,
                    passes=poller.stats.passes + 1,
                    records=tally.read,
                    published=tally.published,
                    rate=rate,
                ),
            )

        try:
            tally = run(
                run_source(
                    settings,
                    poller,
                    park_wait=timedelta(days=park_wait_days),
                    on_batch=on_batch,
                )
            )
        except Interrupted:
            return seen, True
    return tally, False


def stats_document(stats: PollStats) -> dict[str, Any]:
    return {
        "passes": stats.passes,
        "rows_read": stats.rows,
        "rows_reread_in_overlap": stats.reread,
        "deleted_rows_detected": stats.deleted,
        "rows_without_watermark": stats.without_watermark,
        "read_retries": stats.retries,
    }


def print_stats(console: Console, stats: PollStats) -> None:
    console.print(
        _(
            "Passes: {passes}; rows read again in the overlap: {reread}; deleted rows "
            "detected: {deleted}; rows without a watermark: {without}; read retries: {retries}"
        ).format(
            passes=stats.passes,
            reread=stats.reread,
            deleted=stats.deleted,
            without=stats.without_watermark,
            retries=stats.retries,
        )
    )


@click.command(
    help=_(
        "Poll a department's database table or view by its watermark column, as set in the "
        "profile's [poll] table. Runs until stopped (Ctrl-C), or one pass with --once."
    )
)
@click.argument("profile_path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--once", is_flag=True, help=_("Read what is new once, then stop."))
@click.option(
    "--park-wait-days",
    type=float,
    default=7.0,
    show_default=True,
    help=_("Days an event may wait for its predecessor before it is quarantined."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print the summary as JSON."))
@click.pass_obj
def poll(
    settings: Settings, profile_path: Path, once: bool, park_wait_days: float, as_json: bool
) -> int:
    profile = load_source_profile(profile_path)
    poller = TablePoller(profile, once=once)
    tally, interrupted = poll_with_progress(settings, poller, park_wait_days=park_wait_days)
    if as_json:
        document = tally_document(tally) | {"poll": stats_document(poller.stats)}
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print_tally(console, tally, english=current_language() == "en")
        print_stats(console, poller.stats)
    if interrupted:
        raise Interrupted
    return 0 if tally.reconciles else 2


__all__ = ["poll"]
