"""The ``zwbus lag`` command: the operators' view of how far everything is behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import click
import msgspec
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bus.connect import open_bus
from bus.i18n import N_, _
from bus.runner import Interrupted, run
from bus.screen import StackedWhenNarrow, screen_time
from bus.settings import Settings
from projections.lag import (
    DEFAULT_SAMPLE_S,
    DEFAULT_SLOW_AFTER_S,
    AdapterLag,
    ConsumerLag,
    Exceeded,
    HeartbeatView,
    LagReport,
    StreamLag,
    find_exceeded,
    gather,
)
from projections.lag_snapshot import Snapshot

console = Console(soft_wrap=False)
error_console = Console(stderr=True, soft_wrap=False)

DEFAULT_INTERVAL_S = 2.0

STATE_LABELS: dict[str, str] = {
    "healthy": N_("healthy"),
    "slow": N_("slow"),
    "stalled": N_("stalled"),
    "ahead-of-stream": N_("ahead of stream"),
    "stopped": N_("stopped"),
}
STATE_HELP: dict[str, str] = {
    "healthy": N_("nothing to process and the owner is alive (a running heartbeat within 3 "
                  "heartbeat intervals, or a client attached to the consumer), or progressing "
                  "fast enough to catch up within --slow-after seconds"),
    "slow": N_("messages to process and the time to catch up exceeds --slow-after seconds, "
               "or the owner is alive but made no progress"),
    "stalled": N_("messages to process, no progress between the two samples and no "
                  "heartbeat within 3 heartbeat intervals"),
    "ahead-of-stream": N_("a projection whose stored sequence exceeds its stream's last "
                          "sequence: the store was built from another stream or server"),
    "stopped": N_("nothing to process and the last heartbeat has state stopped, or there "
                  "is none"),
}
STATE_STYLES: dict[str, str] = {
    "healthy": "green",
    "slow": "yellow",
    "stalled": "bold red",
    "ahead-of-stream": "bold magenta",
    "stopped": "dim",
    "running": "green",
    "stale": "bold red",
}
ADAPTER_STATE_LABELS: dict[str, str] = {
    "running": N_("running"),
    "stale": N_("heartbeat missing"),
    "stopped": N_("stopped"),
}
KIND_LABELS: dict[str, str] = {"consumer": N_("consumer"), "projection": N_("projection")}
ADAPTER_KIND_LABELS: dict[str, str] = {"adapter": N_("source"), "sink": N_("sink")}
LIMIT_LABELS: dict[str, str] = {
    "max_age_s": N_("max age"),
    "max_bytes": N_("max bytes"),
    "max_msgs": N_("max messages"),
}


def _state_name(state: str) -> str:
    """Return the state's screen label, followed by its JSON name when the two differ."""
    label = _(STATE_LABELS[state])
    return state if label == state else _("{label} ({name})").format(label=label, name=state)


def _lag_help() -> str:
    # Each state is its own paragraph, so that Click wraps it to the terminal.
    paragraphs = [
        _("Show how far every stream consumer and projection is behind: messages to "
          "process, rate, time to catch up, age of the oldest unprocessed message, and "
          "the heartbeats of projections, sources (file drops, table pollers, the HTTP "
          "gateway) and return-flow sinks."),
        _("States:"),
    ]
    paragraphs.extend(
        _("{state}: {description}").format(
            state=_state_name(state), description=_(STATE_HELP[state])
        )
        for state in STATE_LABELS
    )
    paragraphs.append(
        _("A consumer's lag is num_pending plus num_ack_pending; a projection's lag is its "
          "stream's last sequence minus its stored sequence. With --max-lag or --max-age the "
          "command exits with status 1 when any consumer or projection exceeds them, and 0 "
          "otherwise.")
    )
    return "\n\n".join(paragraphs)


# --- formatting ------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """Format seconds as ``2.5 s``, ``45 s``, ``3 min 20 s``, ``2 h 5 min`` or ``3 d 4 h``."""
    if seconds is None:
        return "-"
    if seconds < 9.95:
        return _("{seconds} s").format(seconds=f"{seconds:.1f}")
    whole = round(seconds)
    if whole < 60:
        return _("{seconds} s").format(seconds=whole)
    minutes, secs = divmod(whole, 60)
    if minutes < 60 and secs == 0:
        return _("{minutes} min").format(minutes=minutes)
    if minutes < 60:
        return _("{minutes} min {seconds} s").format(minutes=minutes, seconds=secs)
    hours, minutes = divmod(minutes, 60)
    if hours < 24 and minutes == 0:
        return _("{hours} h").format(hours=hours)
    if hours < 24:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    if hours == 0:
        return _("{days} d").format(days=days)
    return _("{days} d {hours} h").format(days=days, hours=hours)


def format_bytes(size: float) -> str:
    """Format a byte count with binary units: ``512 B``, ``1.5 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def format_time(moment: datetime | None) -> str:
    """Format a moment in China Standard Time, ``YYYY-MM-DD HH:MM:SS``."""
    if moment is None:
        return "-"
    return screen_time(moment)


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return _("{duration} ago").format(duration=format_duration(seconds))


def _state_text(state: str, labels: dict[str, str]) -> Text:
    return Text(_(labels[state]), style=STATE_STYLES.get(state, ""))


def _limit_text(stream: StreamLag) -> str:
    parts = []
    for use in stream.limits:
        maximum = (
            format_duration(use.maximum) if use.limit == "max_age_s"
            else format_bytes(use.maximum) if use.limit == "max_bytes"
            else f"{use.maximum:.0f}"
        )
        parts.append(_("{limit} {maximum}: {ratio:.0%} used").format(
            limit=_(LIMIT_LABELS[use.limit]), maximum=maximum, ratio=use.ratio))
    return "; ".join(parts) or "-"


def _heartbeat_text(heartbeat: HeartbeatView | None) -> str:
    if heartbeat is None:
        return "-"
    state = _(ADAPTER_STATE_LABELS["stopped" if heartbeat.state == "stopped" else "running"])
    return _("{state}, {age}").format(state=state, age=_ago(heartbeat.age_s))


def _rate_text(entry: ConsumerLag) -> str:
    if entry.rate_per_s is None:
        return "-"
    source = _("heartbeats") if entry.rate_source == "heartbeats" else _("samples")
    return _("{rate:.1f}/s ({source})").format(rate=entry.rate_per_s, source=source)


# --- tables ----------------------------------------------------------------------


def streams_table(streams: list[StreamLag]) -> Table:
    """Build the table of streams: size, first and last message, limits used."""
    table = Table(_("Stream"), _("Messages"), _("Bytes"), _("First message"),
                  _("Last message"), _("Limits used"), title=_("Streams"), title_justify="left")
    for stream in streams:
        table.add_row(stream.name, str(stream.messages), format_bytes(stream.bytes),
                      format_time(stream.first_time), format_time(stream.last_time),
                      _limit_text(stream))
    return table


def adapters_table(adapters: list[AdapterLag]) -> Table:
    """Build the table of sources and sinks by stream: state, last record, last heartbeat."""
    table = Table(_("Stream"), _("Kind"), _("Name"), _("State"), _("Last record"),
                  _("Record age"), _("Last heartbeat"), _("Host (PID)"), _("Counters"),
                  title=_("Adapters and sinks"), title_justify="left")
    for adapter in adapters:
        heartbeat = adapter.heartbeat
        counters = ", ".join(f"{key}={value}" for key, value in sorted(heartbeat.counters.items()))
        table.add_row(
            adapter.stream or "-",
            _(ADAPTER_KIND_LABELS[adapter.kind]),
            adapter.name,
            _state_text(adapter.state, ADAPTER_STATE_LABELS),
            format_time(adapter.last_record_at),
            format_duration(adapter.last_record_age_s),
            _ago(heartbeat.age_s),
            f"{heartbeat.host} ({heartbeat.pid})",
            counters or "-",
        )
    return table


def consumers_table(consumers: list[ConsumerLag]) -> Table:
    """Build the table of consumers and projections with their lag and state."""
    table = Table(_("Stream"), _("Kind"), _("Name"), _("State"), _("Lag"), _("Pending"),
                  _("Ack pending"), _("Redelivered"), _("Position / last"), _("Rate"),
                  _("Time to catch up"), _("Oldest unprocessed"), _("Set aside"),
                  _("Heartbeat"), title=_("Consumers and projections"), title_justify="left")
    for entry in consumers:
        position = f"{entry.position} / {entry.stream_last_sequence}"
        if entry.delivered_sequence is not None:
            position = f"{entry.position} ({entry.delivered_sequence}) / " \
                       f"{entry.stream_last_sequence}"
        table.add_row(
            entry.stream,
            _(KIND_LABELS[entry.kind]),
            entry.name,
            _state_text(entry.state, STATE_LABELS),
            str(entry.lag),
            str(entry.pending),
            str(entry.ack_pending),
            str(entry.redelivered),
            position,
            _rate_text(entry),
            format_duration(entry.catch_up_s),
            format_duration(entry.oldest_unprocessed_age_s),
            "-" if entry.set_aside is None else str(entry.set_aside),
            _heartbeat_text(entry.heartbeat),
        )
    return table


def exceeded_lines(exceeded: list[Exceeded]) -> list[str]:
    """Describe each threshold crossing in one line."""
    lines = []
    for item in exceeded:
        kind = _(KIND_LABELS[item.kind])
        if item.measure == "lag":
            lines.append(_("{kind} {stream}/{name}: lag {value} exceeds --max-lag {limit}").format(
                kind=kind, stream=item.stream, name=item.name, value=int(item.value),
                limit=int(item.limit)))
        else:
            lines.append(_(
                "{kind} {stream}/{name}: oldest unprocessed message is {age} old, over "
                "--max-age {limit} s"
            ).format(kind=kind, stream=item.stream, name=item.name,
                     age=format_duration(item.value), limit=f"{item.limit:g}"))
    return lines


def render(report: LagReport) -> RenderableType:
    """Build the whole screen of one report."""
    parts: list[RenderableType] = [
        Text(_("As of {time}; rates compare samples {span} apart; slow after {slow}.").format(
            time=format_time(report.taken_at), span=format_duration(report.sample_s),
            slow=format_duration(report.slow_after_s))),
        StackedWhenNarrow(streams_table(report.streams)),
    ]
    if report.adapters:
        parts.append(StackedWhenNarrow(adapters_table(report.adapters)))
    else:
        parts.append(Text(_("No adapter or sink heartbeat in the last day.")))
    if report.consumers:
        parts.append(StackedWhenNarrow(consumers_table(report.consumers)))
    else:
        parts.append(Text(_("No consumer or projection found.")))
    parts.extend(Text(note, style="yellow") for note in report.notes)
    parts.extend(Text(line, style="bold red") for line in exceeded_lines(report.exceeded))
    return Group(*parts)


# --- the command -----------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    sample_s: float
    slow_after_s: float
    max_lag: int | None
    max_age_s: float | None
    interval_s: float
    with_bucket_readers: bool


async def _report_once(settings: Settings, options: _Options) -> LagReport:
    async with open_bus(settings, name="zwbus-lag") as (client, _js):
        report, _snapshot = await gather(
            client, settings.data_dir, sample_s=options.sample_s,
            slow_after_s=options.slow_after_s, with_bucket_readers=options.with_bucket_readers,
        )
    report.exceeded = find_exceeded(report, max_lag=options.max_lag, max_age_s=options.max_age_s)
    return report


async def _watch(
    settings: Settings, options: _Options, show: Callable[[LagReport], None]
) -> None:
    async with open_bus(settings, name="zwbus-lag") as (client, _js):
        previous: Snapshot | None = None
        while True:
            report, previous = await gather(
                client, settings.data_dir, previous=previous, sample_s=options.sample_s,
                slow_after_s=options.slow_after_s,
                with_bucket_readers=options.with_bucket_readers,
            )
            report.exceeded = find_exceeded(
                report, max_lag=options.max_lag, max_age_s=options.max_age_s
            )
            show(report)
            await asyncio.sleep(options.interval_s)


def _echo_json(report: LagReport) -> None:
    click.echo(msgspec.json.encode(report).decode())


def _run_watch(settings: Settings, options: _Options, *, as_json: bool) -> LagReport | None:
    last_shown: list[LagReport] = []
    try:
        if as_json:
            def show_json(report: LagReport) -> None:
                last_shown[:] = [report]
                _echo_json(report)

            run(_watch(settings, options, show_json))
        elif not console.is_terminal:
            # Live draws nothing until it stops when the output is not a
            # terminal, so a pipe or a log file gets one screen per refresh.
            def show_printed(report: LagReport) -> None:
                last_shown[:] = [report]
                console.print(render(report))

            run(_watch(settings, options, show_printed))
        else:
            with Live(console=console, auto_refresh=False) as live:
                def show_live(report: LagReport) -> None:
                    last_shown[:] = [report]
                    live.update(render(report), refresh=True)

                run(_watch(settings, options, show_live))
    except Interrupted:
        pass
    return last_shown[-1] if last_shown else None


@click.command("lag", help=_lag_help())
@click.option("--watch", is_flag=True,
              help=_("Refresh the view in place every --interval seconds until Ctrl-C."))
@click.option("--interval", type=click.FloatRange(min=0.5), default=DEFAULT_INTERVAL_S,
              show_default=True, help=_("Seconds between refreshes with --watch."))
@click.option("--sample-seconds", type=click.FloatRange(min=0.1), default=DEFAULT_SAMPLE_S,
              show_default=True,
              help=_("Seconds between the two samples that measure progress without --watch."))
@click.option("--slow-after", type=click.FloatRange(min=0), default=DEFAULT_SLOW_AFTER_S,
              show_default=True,
              help=_("Time to catch up, in seconds, above which a consumer counts as slow."))
@click.option("--max-lag", type=click.IntRange(min=0), default=None,
              help=_("Exit with status 1 when a consumer or projection has more than this "
                     "many messages to process."))
@click.option("--max-age", type=click.FloatRange(min=0), default=None,
              help=_("Exit with status 1 when the oldest unprocessed message of a consumer or "
                     "projection is older than this many seconds."))
@click.option("--json", "as_json", is_flag=True,
              help=_("Write a JSON document instead of tables (one line per refresh with "
                     "--watch)."))
@click.option("--all", "show_all", is_flag=True,
              help=_("Also list the ephemeral consumers of key-value buckets that commands "
                     "reading a bucket leave until the server deletes them as inactive."))
@click.pass_obj
def lag(
    settings: Settings,
    watch: bool,
    interval: float,
    sample_seconds: float,
    slow_after: float,
    max_lag: int | None,
    max_age: float | None,
    as_json: bool,
    show_all: bool,
) -> int:
    options = _Options(sample_s=sample_seconds, slow_after_s=slow_after, max_lag=max_lag,
                       max_age_s=max_age, interval_s=interval, with_bucket_readers=show_all)
    if watch:
        report = _run_watch(settings, options, as_json=as_json)
        return 1 if report is not None and report.exceeded else 0

    try:
        report = run(_report_once(settings, options))
    except Interrupted:
        # The view only reads, so there is no work to keep or lose.
        click.echo(_("Interrupted."), err=True)
        return 130
    if as_json:
        _echo_json(report)
        for line in exceeded_lines(report.exceeded):
            error_console.print(line)
    else:
        console.print(render(report))
    return 1 if report.exceeded else 0
