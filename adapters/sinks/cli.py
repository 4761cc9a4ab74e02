"""The ``zwbus sinks`` commands: run return-flow sinks, show their status and dead letters."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
import msgspec
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from adapters.sinks.config import SinksConfig, load_sinks_config
from adapters.sinks.deadletter import DeadLetter, read_dead_letters
from adapters.sinks.lane import SinkSummary
from adapters.sinks.runner import run_sinks
from adapters.sinks.status import SinkStatus, sink_status
from bus.connect import open_bus
from bus.i18n import _
from bus.runner import Interrupted, run
from bus.screen import screen_time
from bus.settings import Settings
from bus.streams import ensure_streams

LIVE_REFRESH_PER_S = 2.0
ERROR_COLUMN_CHARACTERS = 80
"""Characters of a dead letter's error shown in the table; --json gives all of it."""

console = Console()
err_console = Console(stderr=True)

config_argument = click.argument(
    "config_path", metavar="CONFIG", type=click.Path(path_type=Path, dir_okay=False)
)


@click.group(
    help=_("Return-flow sinks (分级返还): deliver a filtered part of the bus to lower levels "
           "and departments by HTTP or into files.")
)
def sinks() -> None:
    pass


# --- run ---------------------------------------------------------------------


@sinks.command("run", help=_("Run the sinks of CONFIG until stopped with Ctrl-C or SIGTERM."))
@config_argument
@click.option(
    "--sink", "sink_ids", multiple=True, help=_("Run only the sink with this id; repeatable.")
)
@click.option(
    "--until-caught-up",
    is_flag=True,
    help=_("Stop once every sink has handled all events stored so far."),
)
@click.pass_obj
def sinks_run(
    settings: Settings, config_path: Path, sink_ids: tuple[str, ...], until_caught_up: bool
) -> None:
    config = load_sinks_config(config_path)
    for sink_id in sink_ids:
        config.sink(sink_id)
    summaries = run(_run_until_signal(settings, config, sink_ids, until_caught_up))
    for summary in summaries:
        console.print(_summary_line(summary), markup=False)


async def _run_until_signal(
    settings: Settings, config: SinksConfig, sink_ids: tuple[str, ...], until_caught_up: bool
) -> list[SinkSummary]:
    """Run the sinks; the first signal stops them cleanly, a second one at once."""
    stop = asyncio.Event()
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    forced: list[int] = []

    def on_signal(number: int) -> None:
        if stop.is_set():
            forced.append(number)
            if task is not None:
                task.cancel()
            return
        stop.set()
        err_console.print(
            _("Stopping after the current batch; press Ctrl-C again to stop at once.")
        )

    # These replace the handlers of bus.runner.run, which cancel at once, for this command.
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, on_signal, number)

    names = ", ".join(sink_ids) if sink_ids else ", ".join(sink.id for sink in config.sinks)
    err_console.print(
        _("Running sinks {sinks}; stop with Ctrl-C or SIGTERM.").format(sinks=names),
        markup=False,
    )
    summaries: list[SinkSummary] = []
    with _live_view(summaries):
        try:
            await run_sinks(
                settings,
                config,
                stop,
                sink_ids=sink_ids,
                until_caught_up=until_caught_up,
                summaries=summaries,
            )
        except asyncio.CancelledError:
            if forced:
                raise Interrupted from None
            raise
    return summaries


@contextmanager
def _live_view(summaries: list[SinkSummary]) -> Iterator[None]:
    """Show the counters of every sink while it runs, on a terminal only."""
    if not err_console.is_terminal:
        yield
        return

    def table() -> Table:
        view = Table(_("Sink"), _("Delivered"), _("Filtered out"), _("Dead letters"),
                     _("Failed attempts"))
        for summary in summaries:
            view.add_row(
                summary.sink,
                str(summary.delivered),
                str(summary.filtered),
                str(summary.dead_letters),
                str(summary.failed_attempts),
            )
        return view

    with Live(
        get_renderable=table,
        console=err_console,
        refresh_per_second=LIVE_REFRESH_PER_S,
        transient=True,
    ):
        yield


def _summary_line(summary: SinkSummary) -> str:
    return _(
        "Sink {sink}: delivered {delivered}, filtered out {filtered}, dead letters "
        "{dead_letters}, failed attempts {failed_attempts}, skipped redeliveries {redelivered}."
    ).format(
        sink=summary.sink,
        delivered=summary.delivered,
        filtered=summary.filtered,
        dead_letters=summary.dead_letters,
        failed_attempts=summary.failed_attempts,
        redelivered=summary.redelivered,
    )


# --- status ------------------------------------------------------------------


@sinks.command("status", help=_("Show per sink: delivered, pending, dead letters, last delivery."))
@config_argument
@click.option("--json", "as_json", is_flag=True, help=_("Print the status as JSON."))
@click.pass_obj
def sinks_status(settings: Settings, config_path: Path, as_json: bool) -> None:
    config = load_sinks_config(config_path)

    async def collect() -> list[SinkStatus]:
        async with open_bus(settings) as (_client, js):
            await ensure_streams(js)
            return [await sink_status(js, sink, settings) for sink in config.sinks]

    statuses = run(collect())
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(statuses)).decode())
        return

    table = Table(
        _("Sink"), _("Target"), _("Delivered"), _("Pending"), _("Dead letters"), _("Last delivery")
    )
    for status in statuses:
        table.add_row(
            status.sink,
            status.target,
            str(status.delivered),
            _("not started") if status.pending is None else str(status.pending),
            str(status.dead_letters),
            _moment(status.last_delivery_at),
        )
    console.print(table)


# --- dead letters ------------------------------------------------------------


@sinks.command("dead-letters", help=_("List the events sink SINK gave up on, with the last error."))
@click.argument("sink_id", metavar="SINK")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help=_("Show at most this many, the latest."),
)
@click.option("--json", "as_json", is_flag=True, help=_("Print every dead letter as JSON."))
@click.pass_obj
def sinks_dead_letters(settings: Settings, sink_id: str, limit: int, as_json: bool) -> None:
    async def collect() -> list[DeadLetter]:
        async with open_bus(settings) as (_client, js):
            await ensure_streams(js)
            return await read_dead_letters(js, sink_id)

    letters = run(collect())
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(letters)).decode())
        return

    shown = letters[-limit:]
    table = Table(
        _("Dead at"), _("Stream"), _("Seq"), _("Event id"), _("Type"), _("Attempts"), _("Error")
    )
    for letter in shown:
        table.add_row(
            _moment(letter.dead_at),
            letter.stream,
            str(letter.seq),
            Text(letter.event_id or "-"),
            Text(letter.event_type or "-"),
            str(letter.attempts),
            Text(letter.error[:ERROR_COLUMN_CHARACTERS]),
        )
    console.print(table)
    console.print(
        _("{shown} of {total} dead letters of sink {sink} shown.").format(
            shown=len(shown), total=len(letters), sink=sink_id
        ),
        markup=False,
    )


def _moment(value: datetime | None) -> str:
    if value is None:
        return _("never")
    return screen_time(value)
