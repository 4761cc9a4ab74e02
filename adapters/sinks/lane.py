"""One lane of a sink: its durable pull consumer on one stream, and the loop over batches.

A lane reads the stream of one family through the durable pull consumer
``sink_<sink id>_<family>``, whose subject filters select the sink's
regions. The lane's position record, not the consumer, is the source of
truth for its progress: on every start the consumer is recreated to deliver from the
sequence after the recorded one, so a consumer that was deleted, or that
a crash left with unacknowledged messages, neither skips nor repeats an
event. One batch goes through these steps:

1. fetch up to ``batch_size`` messages, and drop those at or below the
   recorded sequence (redeliveries);
2. decode the envelope head of each, store undecodable messages as dead
   letters, and keep the events that pass the department and type filters;
3. hand the kept events to the target (HTTP or file), which gives each
   one an outcome in order, or stops early when the sink is stopping;
4. write the position record up to the last message with an outcome;
5. acknowledge up to that message (``AckPolicy.ALL``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nats.errors
import nats.js.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from adapters.sinks.config import SinkConfig
from adapters.sinks.deadletter import DeadLetter, store_dead_letter
from adapters.sinks.delivery import DeliveryOutcome
from adapters.sinks.faults import FaultPlan
from adapters.sinks.position import LanePosition, SinkStateError, save_position
from adapters.sinks.selection import Incoming, classify, subject_filters
from bus.errors import ConnectError, StreamError
from bus.i18n import N_

log = structlog.get_logger(__name__)

FETCH_TIMEOUT_S = 2.0
"""How long one fetch waits for messages; an idle lane checks for new ones at this pace."""
ACK_WAIT_S = 120.0
"""Time from delivery to acknowledgement before the server offers a message again."""
MAX_FETCH_FAILURES = 5
"""Consecutive failed fetches (server errors, not timeouts) before the lane gives up."""
MAX_EMPTY_FETCHES_WHILE_PENDING = 6
"""Empty fetches tolerated while the consumer still reports pending messages."""

Deliver = Callable[[list[Incoming], asyncio.Event], Awaitable[DeliveryOutcome]]
"""A target's delivery of the kept events of one batch."""


@dataclass
class SinkSummary:
    """Counters of one sink over the current run, updated after every batch."""

    sink: str
    delivered: int = 0
    filtered: int = 0
    """Events the department or type filter left out."""
    dead_letters: int = 0
    failed_attempts: int = 0
    redelivered: int = 0
    """Messages at or below a recorded sequence, skipped."""
    batches: int = 0
    last_delivery_at: datetime | None = None
    positions: dict[str, int] = field(default_factory=dict)
    """Recorded sequence per stream."""

    def counters(self) -> dict[str, int]:
        """Return the counters a heartbeat sends."""
        return {
            "delivered": self.delivered,
            "filtered": self.filtered,
            "dead_letters": self.dead_letters,
            "failed_attempts": self.failed_attempts,
            "redelivered": self.redelivered,
            "batches": self.batches,
        }


def consumer_name(sink: str, family: str) -> str:
    """Return the durable consumer name of ``sink`` on the stream of ``family``."""
    return f"sink_{sink}_{family}"


class Lane:
    """Move one sink through one stream; ``run`` returns when stopped or caught up."""

    def __init__(
        self,
        sink: SinkConfig,
        family: str,
        stream: str,
        *,
        position: LanePosition,
        position_file: Path,
        deliver: Deliver,
        summary: SinkSummary,
        faults: FaultPlan,
        on_batch: Callable[[], None],
        server_url: str,
    ) -> None:
        self.sink = sink
        self.family = family
        self.stream = stream
        self.consumer = consumer_name(sink.id, family)
        self.position = position
        self._position_file = position_file
        self._deliver = deliver
        self._summary = summary
        self._faults = faults
        self._on_batch = on_batch
        self._server_url = server_url
        summary.positions[stream] = position.last_seq

    async def run(
        self, js: JetStreamContext, stop: asyncio.Event, *, until_caught_up: bool
    ) -> None:
        """Deliver batches until ``stop`` is set, or until none is pending with ``until_caught_up``.

        Raises:
            SinkStateError: the recorded sequence is past the stream's end.
            StreamError: fetching failed repeatedly.
        """
        pending = await self._recreate_consumer(js)
        subscription = await js.pull_subscribe_bind(durable=self.consumer, stream=self.stream)
        log.info(
            "sink_lane_started",
            sink=self.sink.id,
            stream=self.stream,
            consumer=self.consumer,
            start_seq=self.position.last_seq + 1,
            pending=pending,
        )
        try:
            empty_fetches = 0
            while not stop.is_set():
                if until_caught_up and pending == 0:
                    break
                messages = await self._fetch(subscription, stop)
                if not messages:
                    if until_caught_up:
                        empty_fetches += 1
                        pending = await self._pending_after_empty_fetch(subscription, empty_fetches)
                    continue
                empty_fetches = 0
                pending = int(messages[-1].metadata.num_pending or 0)
                await self._handle(js, messages, stop)
        finally:
            # An open pull subscription makes the connection's drain wait for its timeout.
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
            log.info(
                "sink_lane_stopped",
                sink=self.sink.id,
                stream=self.stream,
                recorded_seq=self.position.last_seq,
            )

    async def _recreate_consumer(self, js: JetStreamContext) -> int:
        info = await js.stream_info(self.stream)
        last = int(info.state.last_seq)
        if self.position.last_seq > last:
            raise SinkStateError(
                N_("Sink {sink} recorded sequence {recorded} of stream {stream}, which ends at "
                   "{last}. The stream was recreated or the sink points at another server. "
                   "Delete the position record {path} to deliver the stream from its start."),
                sink=self.sink.id,
                recorded=self.position.last_seq,
                stream=self.stream,
                last=last,
                path=str(self._position_file),
            )
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(self.stream, self.consumer)

        filters = subject_filters(self.sink, self.family)
        config = ConsumerConfig(
            name=self.consumer,
            durable_name=self.consumer,
            description=f"Return-flow sink {self.sink.id}",
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.position.last_seq + 1,
            ack_policy=AckPolicy.ALL,
            ack_wait=ACK_WAIT_S,
            max_ack_pending=4 * self.sink.batch_size,
            max_deliver=-1,
            filter_subject=filters[0] if len(filters) == 1 else None,
            filter_subjects=filters if len(filters) > 1 else None,
        )
        created = await js.add_consumer(self.stream, config=config)
        return int(created.num_pending or 0)

    async def _pending_after_empty_fetch(
        self, subscription: JetStreamContext.PullSubscription, empty_fetches: int
    ) -> int:
        info = await subscription.consumer_info()
        pending = int(info.num_pending or 0)
        if pending > 0 and empty_fetches >= MAX_EMPTY_FETCHES_WHILE_PENDING:
            raise StreamError(
                N_("Consumer {consumer} reports {pending} pending messages but "
                   "delivered none in {fetches} fetches."),
                consumer=self.consumer,
                pending=pending,
                fetches=empty_fetches,
            )
        return pending

    async def _fetch(
        self, subscription: JetStreamContext.PullSubscription, stop: asyncio.Event
    ) -> list[Msg]:
        failures = 0
        while True:
            fetching = asyncio.ensure_future(
                subscription.fetch(self.sink.batch_size, timeout=FETCH_TIMEOUT_S)
            )
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if fetching not in done:
                # Messages the cancelled fetch leaves unacknowledged are
                # delivered again from the position record on the next start.
                fetching.cancel()
                with contextlib.suppress(asyncio.CancelledError, nats.errors.Error, TimeoutError):
                    await fetching
                return []
            try:
                return fetching.result()
            except TimeoutError:
                return []
            except nats.errors.ConnectionClosedError as exc:
                raise ConnectError(url=self._server_url, detail=str(exc)) from exc
            except nats.errors.Error as exc:
                failures += 1
                log.warning(
                    "sink_fetch_failed",
                    sink=self.sink.id,
                    consumer=self.consumer,
                    attempt=failures,
                    error=str(exc),
                    error_type=type(exc).__name__,
                )
                if failures >= MAX_FETCH_FAILURES:
                    raise StreamError(
                        N_("Fetching from consumer {consumer} failed {attempts} times in a "
                           "row: {detail}"),
                        consumer=self.consumer,
                        attempts=failures,
                        detail=str(exc),
                    ) from exc
                await asyncio.sleep(min(2.0**failures * 0.25, 5.0))

    async def _handle(self, js: JetStreamContext, messages: list[Msg], stop: asyncio.Event) -> None:
        recorded = self.position.last_seq
        fresh = [m for m in messages if m.metadata.sequence.stream > recorded]
        self._summary.redelivered += len(messages) - len(fresh)
        if not fresh:
            await self._acknowledge(messages[-1])
            return

        incoming = classify(self.sink, fresh)
        undecodable = [item for item in incoming if item.head is None]
        for item in undecodable:
            await self._dead_letter_undecodable(js, item)
        kept = [item for item in incoming if item.kept]
        outcome = await self._deliver(kept, stop)
        self._faults.reached("after_deliver")

        reached = incoming[-1].seq
        if outcome.unfinished_from is not None:
            reached = outcome.unfinished_from - 1
        finished = [item for item in incoming if item.seq <= reached]
        await self._save(outcome, finished)
        self._faults.reached("after_save")

        self._count(outcome, finished)
        by_seq = {int(message.metadata.sequence.stream): message for message in fresh}
        if reached in by_seq:
            await self._acknowledge(by_seq[reached])
        log.debug(
            "sink_batch_done",
            sink=self.sink.id,
            stream=self.stream,
            first_seq=incoming[0].seq,
            recorded_seq=self.position.last_seq,
            delivered=outcome.delivered,
            dead_lettered=outcome.dead_lettered,
            failed_attempts=outcome.failed_attempts,
        )

    async def _save(self, outcome: DeliveryOutcome, finished: list[Incoming]) -> None:
        if not finished:
            return
        position = self.position
        position.last_seq = finished[-1].seq
        position.delivered += outcome.delivered
        position.dead_letters += outcome.dead_lettered + _undecodable(finished)
        if outcome.delivered:
            position.last_delivery_at = datetime.now(UTC)
        await asyncio.to_thread(save_position, self._position_file, position)

    def _count(self, outcome: DeliveryOutcome, finished: list[Incoming]) -> None:
        summary = self._summary
        summary.batches += 1
        summary.delivered += outcome.delivered
        summary.dead_letters += outcome.dead_lettered + _undecodable(finished)
        summary.failed_attempts += outcome.failed_attempts
        summary.filtered += sum(1 for item in finished if item.head is not None and not item.kept)
        summary.positions[self.stream] = self.position.last_seq
        if outcome.delivered:
            summary.last_delivery_at = self.position.last_delivery_at
        self._on_batch()

    async def _dead_letter_undecodable(self, js: JetStreamContext, item: Incoming) -> None:
        now = datetime.now(UTC)
        await store_dead_letter(
            js,
            DeadLetter(
                sink=self.sink.id,
                family=self.family,
                stream=self.stream,
                seq=item.seq,
                subject=item.subject,
                event_id=None,
                event_type=None,
                attempts=0,
                error=f"not an event envelope: {item.problem}",
                first_failed_at=now,
                dead_at=now,
                data=item.data.decode(errors="replace"),
            ),
        )

    async def _acknowledge(self, message: Msg) -> None:
        try:
            await message.ack()
        except nats.errors.Error as exc:
            # The position record is written, so the next start begins after
            # this batch whether or not the acknowledgement arrived.
            log.warning(
                "sink_ack_failed",
                sink=self.sink.id,
                stream=self.stream,
                seq=message.metadata.sequence.stream,
                error=str(exc),
                error_type=type(exc).__name__,
            )


def _undecodable(items: list[Incoming]) -> int:
    return sum(1 for item in items if item.head is None)
