"""Running sinks: one task per sink, one lane per sink and stream, heartbeats, clean stop.

``run_sinks`` is the entry point for ``zwbus sinks run`` and for any
command that runs sinks beside other work::

    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(run_sinks(settings, config, stop))
        ...
        stop.set()

Setting ``stop`` ends every lane after its current step: a file lane
finishes writing its batch, an HTTP lane finishes the request in flight
and abandons a wait between retries, leaving those events for the next
start. Cancelling the task instead is safe too, because every lane
resumes from its position record, but it may deliver the last batch again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import aiohttp
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.sinks.config import FAMILY_STREAMS, SinkConfig, SinksConfig
from adapters.sinks.delivery import DeliveryOutcome
from adapters.sinks.faults import FaultPlan, load_fault_plan
from adapters.sinks.file_target import FileTarget, lane_files
from adapters.sinks.http_target import HttpTarget, display_url
from adapters.sinks.lane import Deliver, Lane, SinkSummary
from adapters.sinks.position import (
    LanePosition,
    SinkStateError,
    load_position,
    lock_path,
    position_path,
    save_position,
    sink_lock,
)
from adapters.sinks.selection import Incoming
from bus.connect import open_bus
from bus.heartbeat import DEFAULT_INTERVAL_S, Heartbeat
from bus.i18n import N_
from bus.settings import Settings
from bus.streams import ensure_streams

log = structlog.get_logger(__name__)

HEARTBEAT_KIND = "sink"


async def run_sinks(
    settings: Settings,
    config: SinksConfig,
    stop: asyncio.Event,
    *,
    sink_ids: Sequence[str] = (),
    until_caught_up: bool = False,
    summaries: list[SinkSummary] | None = None,
    heartbeat_interval_s: float = DEFAULT_INTERVAL_S,
) -> list[SinkSummary]:
    """Run the sinks of ``config`` (or those in ``sink_ids``) until ``stop`` is set.

    With ``until_caught_up`` each lane ends once its consumer has nothing
    pending. Pass ``summaries`` to watch the counters while the sinks run;
    one ``SinkSummary`` per sink is appended to it and returned.

    Raises:
        ConfigError: a sink id is not in the configuration, or ZWBUS_SINK_FAULT is malformed.
        SinkRunningError: another process runs one of the sinks.
        SinkStateError: a position record does not match its files or stream.
        BusError: the bus failed; the first failure of any sink ends every sink.
    """
    chosen = [config.sink(sink_id) for sink_id in sink_ids] if sink_ids else list(config.sinks)
    shown = summaries if summaries is not None else []
    shown.extend(SinkSummary(sink=sink.id) for sink in chosen)
    faults = load_fault_plan()
    server_url = settings.nats_url or "embedded"

    async with open_bus(settings, name="zwbus-sinks") as (client, js):
        await ensure_streams(js)
        try:
            async with asyncio.TaskGroup() as group:
                for sink, summary in zip(chosen, shown, strict=True):
                    runner = _SinkRun(
                        sink, summary, settings, faults, server_url, heartbeat_interval_s
                    )
                    group.create_task(
                        runner.run(client, js, stop, until_caught_up=until_caught_up),
                        name=f"sink-{sink.id}",
                    )
        except BaseExceptionGroup as group_error:
            raise _first_error(group_error) from None
    return shown


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Return the first failure inside nested task groups; log the others."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseExceptionGroup):
            pending[:0] = list(current.exceptions)
        else:
            leaves.append(current)
    for other in leaves[1:]:
        log.error("sink_failed_too", error=str(other), error_type=type(other).__name__)
    return leaves[0]


class _SinkRun:
    """The lanes, targets and heartbeat of one sink for one run."""

    def __init__(
        self,
        sink: SinkConfig,
        summary: SinkSummary,
        settings: Settings,
        faults: FaultPlan,
        server_url: str,
        heartbeat_interval_s: float,
    ) -> None:
        self.sink = sink
        self.summary = summary
        self.settings = settings
        self.faults = faults
        self.server_url = server_url
        self.heartbeat_interval_s = heartbeat_interval_s

    async def run(
        self, client: Client, js: JetStreamContext, stop: asyncio.Event, *, until_caught_up: bool
    ) -> None:
        sink = self.sink
        families = sink.families
        with sink_lock(lock_path(sink, self.settings.data_dir), sink.id):
            heartbeat = Heartbeat(
                client,
                HEARTBEAT_KIND,
                sink.id,
                self.heartbeat_interval_s,
                stream=FAMILY_STREAMS[families[0]] if len(families) == 1 else None,
            )
            heartbeat.update(**self.summary.counters())

            def on_batch() -> None:
                heartbeat.update(**self.summary.counters())
                if self.summary.last_delivery_at is not None:
                    heartbeat.record_seen(self.summary.last_delivery_at)

            log.info(
                "sink_started",
                sink=sink.id,
                target=sink.target,
                destination=self._destination(),
                families=families,
                regions=sink.regions,
            )
            try:
                async with (
                    heartbeat,
                    self._delivery(js) as targets,
                    asyncio.TaskGroup() as group,
                ):
                    for family in families:
                        lane = await self._lane(family, targets, on_batch)
                        group.create_task(
                            lane.run(js, stop, until_caught_up=until_caught_up),
                            name=f"sink-{sink.id}-{family}",
                        )
            finally:
                log.info("sink_stopped", sink=sink.id, **self.summary.counters())

    def _reject_files_without_record(self, family: str, record: Path) -> None:
        if self.sink.target != "file":
            return
        files = [path for _name, path in lane_files(self.sink, family)]
        if files:
            raise SinkStateError(
                N_("Sink {sink} finds {count} files such as {file} in {folder}, but its "
                   "position record is missing ({record}). Move the files away to write "
                   "every event again, or restore the record."),
                sink=self.sink.id,
                count=len(files),
                file=files[0].name,
                folder=str(self.sink.directory),
                record=record.name,
            )

    def _destination(self) -> str:
        if self.sink.target == "http":
            return display_url(str(self.sink.url))
        return str(self.sink.directory)

    @contextlib.asynccontextmanager
    async def _delivery(self, js: JetStreamContext) -> AsyncIterator[_TargetFactory]:
        if self.sink.target == "file":
            factory = _TargetFactory(self.sink, js, None)
            try:
                yield factory
            finally:
                factory.close()
            return
        async with aiohttp.ClientSession() as session:
            yield _TargetFactory(self.sink, js, session)

    async def _lane(
        self, family: str, targets: _TargetFactory, on_batch: Callable[[], None]
    ) -> Lane:
        stream = FAMILY_STREAMS[family]
        path = position_path(self.sink, family, self.settings.data_dir)
        position = await asyncio.to_thread(load_position, path, self.sink.id, stream)
        if position is None:
            # The first record is written before the first file, so files
            # without a record mean a deleted record, never a crash.
            self._reject_files_without_record(family, path)
            position = LanePosition(sink=self.sink.id, stream=stream)
            await asyncio.to_thread(save_position, path, position)
        deliver = await targets.create(family, stream, position)
        return Lane(
            self.sink,
            family,
            stream,
            position=position,
            position_file=path,
            deliver=deliver,
            summary=self.summary,
            faults=self.faults,
            on_batch=on_batch,
            server_url=self.server_url,
        )


class _TargetFactory:
    """Build the delivery function of each lane of one sink, and close file targets after."""

    def __init__(
        self, sink: SinkConfig, js: JetStreamContext, session: aiohttp.ClientSession | None
    ) -> None:
        self._sink = sink
        self._js = js
        self._session = session
        self._files: list[FileTarget] = []

    async def create(self, family: str, stream: str, position: LanePosition) -> Deliver:
        if self._session is None:
            return await self._file_delivery(family, position)
        target = HttpTarget(self._sink, family, stream, self._session, self._js)
        return target.deliver

    async def _file_delivery(self, family: str, position: LanePosition) -> Deliver:
        target = FileTarget(self._sink, family, position)
        await asyncio.to_thread(target.recover)
        self._files.append(target)

        async def deliver(events: list[Incoming], _stop: asyncio.Event) -> DeliveryOutcome:
            # A batch is written whole even when the sink is stopping; it takes milliseconds.
            return await asyncio.to_thread(target.deliver, events)

        return deliver

    def close(self) -> None:
        for target in self._files:
            target.close()
