"""Reading a bounded part of a stream through an ordered, ephemeral pull consumer.

The consumer never slows the stream or its other consumers down. It
acknowledges nothing (``AckPolicy.NONE``) and lives in server memory, and
the server deletes it by itself after ``INACTIVE_THRESHOLD_S`` without a
pull, should this process die. It is deleted on the way out of ``StreamReader.open`` in every other
case, cancellation included. It starts where the window starts
(``DeliverPolicy.BY_START_SEQUENCE`` or ``BY_START_TIME``), so a replay
deep into a long stream begins at once, and it is pulled in bounded
batches through ``bus.pull.BatchPuller``, which requests the next batch
while the caller works on the last one.

"Ordered" means what it means in the NATS clients: the reader checks that
consumer sequences arrive without a gap and, when one is missing or the
consumer has vanished, recreates the consumer from the stream sequence
after the last message it saw. The upper bound is fixed when the reader
opens (``--to-seq``, else the stream's last sequence at that moment), so a
replay always ends even while publishers keep writing.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, Protocol

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bus.errors import ConfigError, StreamError
from bus.i18n import N_
from bus.pull import DEFAULT_API_PREFIX, BatchPuller, DeliveryInfo
from bus.runner import raise_if_cancelled
from contracts.identifiers import CHINA_TIME

log = structlog.get_logger(__name__)

FETCH_BATCH = 1000
"""Messages per pull request. The consumer takes no acknowledgements, so nothing caps
the batch but memory: two batches of about 1 KB events are about 2 MB."""
FETCH_TIMEOUT_S = 5.0
INACTIVE_THRESHOLD_S = 60.0
"""Idle time after which the server deletes a replay consumer left behind by a killed process."""
MAX_EMPTY_FETCHES = 6
"""Empty fetches in a row tolerated while the consumer still reports pending messages."""
MAX_RESETS = 5
"""Consumer recreations in a row without progress before the replay gives up."""


class ReplayWindow(msgspec.Struct, frozen=True, kw_only=True):
    """Bounds of a replay by stream sequence and by stream time, all inclusive.

    Times compare with the stream's own timestamp of each message (when the
    server stored it), not with the business time inside the event.
    """

    from_seq: int | None = None
    to_seq: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.from_seq is not None and self.from_seq < 1:
            raise ConfigError(
                N_("--from-seq must be 1 or more, got {value}."), value=self.from_seq
            )
        if self.to_seq is not None and self.to_seq < 1:
            raise ConfigError(N_("--to-seq must be 1 or more, got {value}."), value=self.to_seq)
        if (
            self.from_seq is not None
            and self.to_seq is not None
            and self.from_seq > self.to_seq
        ):
            raise ConfigError(
                N_("--from-seq {start} is after --to-seq {end}; nothing would be read."),
                start=self.from_seq,
                end=self.to_seq,
            )
        for moment in (self.since, self.until):
            if moment is not None and moment.utcoffset() is None:
                raise ConfigError(N_("Time {value} has no time zone."), value=moment.isoformat())
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ConfigError(
                N_("--since {start} is after --until {end}; nothing would be read."),
                start=self.since.isoformat(),
                end=self.until.isoformat(),
            )


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 time or date; one without a zone is taken as Asia/Shanghai time.

    Raises:
        ConfigError: the text is not ISO 8601.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(
            N_("{value} is not an ISO 8601 time. Write for example 2026-09-30, "
               "2026-09-30T10:00 (Asia/Shanghai) or 2026-09-30T02:00Z."),
            value=repr(text),
        ) from exc
    if moment.utcoffset() is None:
        # Department and analyst times are Chinese, so a time without a zone is China time.
        moment = moment.replace(tzinfo=CHINA_TIME)
    return moment


class ReadProgress(Protocol):
    """Receiver of the reader's position, for a progress bar."""

    def started(self, first_seq: int, last_seq: int) -> None:
        """Report the first stream sequence delivered and the fixed upper bound."""
        ...

    def advanced(self, seq: int, events: int) -> None:
        """Report the last stream sequence read and the events kept so far."""
        ...


class Delivery(NamedTuple):
    """One delivered message and the delivery facts of its reply subject."""

    message: Msg
    info: DeliveryInfo


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def stream_time(stored_ns: int) -> datetime:
    """Return a stream timestamp in nanoseconds as a UTC time to the microsecond."""
    return _EPOCH + timedelta(microseconds=stored_ns // 1000)


def _microseconds(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - _EPOCH) // _ONE_MICROSECOND


class StreamReader:
    """Messages of one stream within a window; open it with ``StreamReader.open``."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        window: ReplayWindow,
        *,
        subject: str | None = None,
        batch_size: int = FETCH_BATCH,
        fetch_timeout_s: float = FETCH_TIMEOUT_S,
        read_ahead: bool = False,
    ) -> None:
        self.js = js
        self.stream = stream
        self.window = window
        self.subject = subject
        self.last_seq = 0
        """Upper bound: ``to_seq`` or the stream's last sequence when the reader opened."""
        self.first_read: int | None = None
        """Stream sequence of the first message delivered, once there is one."""
        self.position = 0
        """Stream sequence of the last message read, 0 before the first."""
        self.consumer: str | None = None
        self._batch_size = batch_size
        self._fetch_timeout_s = fetch_timeout_s
        self._read_ahead = read_ahead
        self._puller: BatchPuller[Delivery] | None = None
        self._since_us = _microseconds(window.since)
        self._until_us = _microseconds(window.until)
        self._consumer_seq = 0
        self._done = False
        self._resets_without_progress = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        js: JetStreamContext,
        stream: str,
        window: ReplayWindow,
        *,
        subject: str | None = None,
        batch_size: int = FETCH_BATCH,
        fetch_timeout_s: float = FETCH_TIMEOUT_S,
        read_ahead: bool = False,
    ) -> AsyncIterator[StreamReader]:
        """Create the consumer, yield the reader, and delete the consumer on exit.

        With ``read_ahead`` the next batch is requested before the current
        one is handed out, so the server sends it while the caller works.
        A batch read ahead is handed out even when the consumer is deleted
        meanwhile; the reader notices the deletion at the batch after it.

        Raises:
            StreamError: the stream does not exist.
        """
        reader = cls(
            js,
            stream,
            window,
            subject=subject,
            batch_size=batch_size,
            fetch_timeout_s=fetch_timeout_s,
            read_ahead=read_ahead,
        )
        try:
            await reader._start()
            yield reader
        finally:
            await reader._close()

    async def batches(self) -> AsyncGenerator[list[Msg], None]:
        """Yield the window's messages in stream order, in batches of at most ``batch_size``."""
        async with contextlib.aclosing(self.deliveries()) as deliveries:
            async for batch in deliveries:
                yield [delivery.message for delivery in batch]

    async def deliveries(self) -> AsyncGenerator[list[Delivery], None]:
        """Yield the window's messages with their delivery facts, like ``batches``."""
        empty_fetches = 0
        while not self._done:
            # A stop can be lost inside nats-py's waits on Python 3.11.
            raise_if_cancelled()
            delivered = await self._fetch()
            if not delivered:
                empty_fetches += 1
                await self._after_empty_fetch(empty_fetches)
                continue

            empty_fetches = 0
            accepted = await self._accept(delivered)
            await self._request_ahead()
            if accepted:
                yield accepted

    async def _request_ahead(self) -> None:
        if not self._read_ahead or self._done or self._puller is None:
            return
        try:
            await self._puller.prefetch(self._fetch_timeout_s)
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            # The next fetch requests the batch again and handles a lasting failure.
            log.warning(
                "replay_prefetch_failed",
                stream=self.stream,
                consumer=self.consumer,
                error=str(exc),
                error_type=type(exc).__name__,
            )

    async def _start(self) -> None:
        try:
            info = await self.js.stream_info(self.stream)
        except nats.js.errors.NotFoundError as exc:
            raise StreamError(
                N_("Stream {stream} was not found on the server. Name an existing stream "
                   "with --stream, or the stream of an event family with --family."),
                stream=self.stream,
            ) from exc

        self.last_seq = int(info.state.last_seq)
        if self.window.to_seq is not None:
            self.last_seq = min(self.last_seq, self.window.to_seq)
        start = max(self.window.from_seq or 1, int(info.state.first_seq))
        if info.state.messages == 0 or start > self.last_seq:
            self._done = True
            return
        await self._create_consumer(None)

    def _set_start(self, config: ConsumerConfig, start_seq: int | None) -> None:
        # With both a sequence and a time the sequence decides where the
        # consumer starts; messages before --since are then skipped here.
        if start_seq is None:
            start_seq = self.window.from_seq
        if start_seq is not None:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = start_seq
        elif self.window.since is not None:
            config.deliver_policy = DeliverPolicy.BY_START_TIME
            config.opt_start_time = self.window.since
        else:
            config.deliver_policy = DeliverPolicy.ALL

    async def _create_consumer(self, start_seq: int | None) -> None:
        name = f"replay_{secrets.token_hex(6)}"
        config = ConsumerConfig(
            name=name,
            description="zwbus replay (ephemeral, no acknowledgements)",
            ack_policy=AckPolicy.NONE,
            inactive_threshold=INACTIVE_THRESHOLD_S,
            mem_storage=True,
            num_replicas=1,
            filter_subject=self.subject,
        )
        self._set_start(config, start_seq)
        info = await self.js.add_consumer(self.stream, config=config)
        self.consumer = name
        self._consumer_seq = 0
        puller = BatchPuller(
            _client_of(self.js),
            self.stream,
            name,
            batch_size=self._batch_size,
            prepare=Delivery,
            api_prefix=_api_prefix_of(self.js),
        )
        await puller.__aenter__()
        self._puller = puller
        log.info(
            "replay_consumer_created",
            stream=self.stream,
            consumer=name,
            filter_subject=self.subject,
            start_seq=start_seq or self.window.from_seq,
            since=None if self.window.since is None else self.window.since.isoformat(),
            last_seq=self.last_seq,
            pending=info.num_pending,
        )
        # A filter that matches nothing would otherwise wait out a whole fetch timeout.
        if not info.num_pending:
            self._done = True

    async def _fetch(self) -> list[Delivery]:
        if self._puller is None:
            return []
        try:
            return await self._puller.fetch(self._fetch_timeout_s)
        except nats.errors.ConnectionClosedError as exc:
            raise StreamError(
                N_("The connection to NATS closed while reading stream {stream} after "
                   "sequence {seq}: {detail}"),
                stream=self.stream,
                seq=self.position,
                detail=str(exc) or type(exc).__name__,
            ) from exc
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            log.warning(
                "replay_fetch_failed",
                stream=self.stream,
                consumer=self.consumer,
                error=str(exc),
                error_type=type(exc).__name__,
            )
            await self._reset("fetch_failed")
            return []

    async def _after_empty_fetch(self, empty_fetches: int) -> None:
        if self._done or self.consumer is None:
            return
        try:
            info = await self.js.consumer_info(self.stream, self.consumer)
        except nats.js.errors.NotFoundError:
            await self._reset("consumer_missing")
            return

        pending = int(info.num_pending or 0)
        if pending == 0:
            self._done = True
            return
        if empty_fetches >= MAX_EMPTY_FETCHES:
            raise StreamError(
                N_("Replay consumer {consumer} on stream {stream} reports {pending} pending "
                   "messages but delivered none in {fetches} fetches. Check that the server "
                   "is healthy and try again."),
                consumer=self.consumer,
                stream=self.stream,
                pending=pending,
                fetches=empty_fetches,
            )

    async def _accept(self, delivered: list[Delivery]) -> list[Delivery]:
        """Keep the messages inside the window; detect the end and sequence gaps."""
        accepted: list[Delivery] = []
        gap = False
        since_us = self._since_us
        until_us = self._until_us
        for delivery in delivered:
            info = delivery.info
            if info.consumer_seq != self._consumer_seq + 1:
                gap = True
                break
            self._consumer_seq = info.consumer_seq

            seq = info.stream_seq
            stored_us = info.timestamp_ns // 1000
            if seq > self.last_seq or (until_us is not None and stored_us > until_us):
                # Stream timestamps grow with the sequence, so the first
                # message past --until ends the window. NOTE: a server whose
                # clock stepped back could store a later message with an
                # earlier time; such a message is not read.
                self._done = True
                break

            self._resets_without_progress = 0
            self.position = seq
            if self.first_read is None:
                self.first_read = seq
            if since_us is None or stored_us >= since_us:
                accepted.append(delivery)
            if seq >= self.last_seq or info.pending == 0:
                self._done = True
                break

        if gap:
            await self._reset("sequence_gap")
        return accepted

    async def _reset(self, reason: str) -> None:
        """Recreate the consumer right after the last message read."""
        self._resets_without_progress += 1
        if self._resets_without_progress > MAX_RESETS:
            raise StreamError(
                N_("Replay of stream {stream} recreated its consumer {resets} times "
                   "without progress after sequence {seq} (last reason: {reason})."),
                stream=self.stream,
                resets=MAX_RESETS,
                seq=self.position,
                reason=reason,
            )
        log.warning(
            "replay_consumer_reset",
            stream=self.stream,
            consumer=self.consumer,
            reason=reason,
            position=self.position,
        )
        await self._close()
        await self._create_consumer(self.position + 1 if self.position else None)

    async def _close(self) -> None:
        puller, self._puller = self._puller, None
        consumer, self.consumer = self.consumer, None
        if puller is not None:
            await puller.__aexit__(None, None, None)
        if consumer is None:
            return
        try:
            await self.js.delete_consumer(self.stream, consumer)
        except nats.js.errors.NotFoundError:
            return
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            log.warning(
                "replay_consumer_delete_failed",
                stream=self.stream,
                consumer=consumer,
                error=str(exc),
                error_type=type(exc).__name__,
                removed_by_server_after_s=INACTIVE_THRESHOLD_S,
            )


def _client_of(js: JetStreamContext) -> Client:
    # nats-py 2.16 offers no public accessor for the connection of a
    # JetStream context; ``_nc`` has held it since JetStream support began.
    client: Client = js._nc
    return client


def _api_prefix_of(js: JetStreamContext) -> str:
    # ``_prefix`` is the JetStream API prefix, "$JS.API" unless a domain or
    # a custom prefix was given to ``Client.jetstream``.
    prefix = getattr(js, "_prefix", DEFAULT_API_PREFIX)
    return str(prefix)
