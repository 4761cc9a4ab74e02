"""Heartbeats: a component's periodic sign of life on the ``ZW_OPS`` stream.

A long-running component (a projection runner, a source adapter) wraps its
work in ``Heartbeat``. While the block runs, a background task publishes one
``HeartbeatDocument`` every ``interval_s`` seconds to
``zw.ops.heartbeat.<kind>.<name token>``; on exit it publishes one more
with ``state="stopped"``. ``zwbus lag`` reads these documents to tell a
working component from a silent or dead one, and reads the counters of the
last minute to measure its rate::

    async with open_bus(settings) as (client, _js):
        async with Heartbeat(client, "adapter", "ga-approval", stream=CASES) as heartbeat:
            for record in records:
                ...
                heartbeat.increment(records=1)
                heartbeat.record_seen(datetime.now(UTC))

Conventions used by ``zwbus lag``:

- kind ``projection``, name = projection name, counters ``applied``,
  ``set_aside`` and ``stored_sequence`` (totals of the run, set with
  ``update``); the lag view takes the rate from ``stored_sequence``.
- kind ``adapter``, name = source id (the HTTP gateway uses
  ``gateway-<sender>-<family>``), ``stream`` = the stream it publishes to, so
  that the lag view lists it beside that stream; counters are free.
- kind ``sink``, name = return-flow sink id, ``stream`` set when the sink
  reads one stream only; counters ``delivered``, ``filtered``,
  ``dead_letters``, ``failed_attempts``, ``redelivered`` and ``batches``
  (totals of the run). The lag view lists sinks beside the adapters.

A failed publish (no server, no stream, a timeout, a closed connection)
is logged, not raised, and the next beat tries again. ``ZW_OPS``
keeps heartbeats for one day, so a component stopped earlier than that
shows as absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Self

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bus.runner import raise_if_cancelled
from bus.streams import OPS
from contracts.subjects import decode_token, encode_token

log = structlog.get_logger(__name__)

SUBJECT_PREFIX = "zw.ops.heartbeat"
DEFAULT_INTERVAL_S = 5.0
STALE_AFTER_INTERVALS = 3
"""A running component whose last heartbeat is older than this many intervals counts as gone."""
PUBLISH_TIMEOUT_S = 2.0
"""Maximum wait for the server's acknowledgement of one heartbeat."""
FAILURE_LOG_EVERY_S = 60.0
"""While publishing keeps failing, repeat the warning at most this often."""
READ_BATCH = 500
READ_TIMEOUT_S = 2.0
MAX_HISTORY_MESSAGES = 20_000
"""Upper bound of heartbeats read for one history window."""
READER_DESCRIPTION = "zwbus heartbeat history reader"
"""Description of the short-lived consumer that reads heartbeat history."""

_KIND = re.compile(r"[a-z0-9_-]{1,40}")

HeartbeatState = Literal["running", "stopped"]


class HeartbeatDocument(msgspec.Struct, frozen=True, kw_only=True):
    """One heartbeat as published on ``zw.ops.heartbeat.<kind>.<name token>``."""

    kind: str
    """Component kind: ``projection``, ``adapter`` or ``sink``."""
    name: str
    """Component name within its kind: the projection name or the source id."""
    pid: int
    host: str
    sent_at: datetime
    """Sender's clock (UTC) when the document was built."""
    interval_s: float
    """Seconds between two heartbeats of this component."""
    counters: dict[str, int] = msgspec.field(default_factory=dict)
    last_record_at: datetime | None = None
    """When the component last handled a record; None before the first one."""
    state: HeartbeatState
    stream: str | None = None
    """Stream the component reads or feeds, when it has one."""

    def age_s(self, now: datetime) -> float:
        """Return the seconds between ``sent_at`` and ``now``, never negative."""
        return max(0.0, (now - self.sent_at).total_seconds())

    def is_fresh(self, now: datetime) -> bool:
        """Tell whether the component runs and beat within ``STALE_AFTER_INTERVALS`` intervals."""
        limit_s = STALE_AFTER_INTERVALS * self.interval_s
        return self.state == "running" and self.age_s(now) <= limit_s


_decoder = msgspec.json.Decoder(HeartbeatDocument)


def heartbeat_subject(kind: str, name: str) -> str:
    """Return the subject of the heartbeats of component ``name`` of ``kind``."""
    if not _KIND.fullmatch(kind):
        raise ValueError(f"heartbeat kind {kind!r} is invalid: use 1-40 of [a-z0-9_-]")
    if not name:
        raise ValueError("heartbeat name is empty")
    return f"{SUBJECT_PREFIX}.{kind}.{encode_token(name)}"


def component_of(subject: str) -> tuple[str, str] | None:
    """Return ``(kind, name)`` of a heartbeat subject, or None for another subject."""
    prefix = SUBJECT_PREFIX + "."
    if not subject.startswith(prefix):
        return None
    kind, _dot, token = subject.removeprefix(prefix).partition(".")
    if not kind or not token or "." in token:
        return None
    return kind, decode_token(token)


def decode_heartbeat(data: bytes) -> HeartbeatDocument:
    """Decode one heartbeat; raises ``msgspec.DecodeError`` (or its subclass) when invalid."""
    return _decoder.decode(data)


class Heartbeat:
    """Publish heartbeats while the ``async with`` block runs.

    ``update`` and ``increment`` change the counters sent with the next
    heartbeat, and ``record_seen`` moves ``last_record_at`` forward. The
    first heartbeat goes out before ``__aenter__`` returns, then one every
    ``interval_s`` seconds, and a last one with ``state="stopped"`` on exit,
    also when the block raises or is cancelled.
    """

    def __init__(
        self,
        client: Client,
        kind: str,
        name: str,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        stream: str | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"heartbeat interval_s must be positive, got {interval_s!r}")
        self.subject = heartbeat_subject(kind, name)
        self.kind = kind
        self.name = name
        self.interval_s = interval_s
        self.stream = stream
        self._client = client
        self._js = client.jetstream(timeout=PUBLISH_TIMEOUT_S)
        self._counters: dict[str, int] = {}
        self._last_record_at: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._last_failure_log = float("-inf")
        self.sent = 0
        """Heartbeats the server acknowledged."""

    @property
    def counters(self) -> dict[str, int]:
        """Return a copy of the counters the next heartbeat sends."""
        return dict(self._counters)

    @property
    def last_record_at(self) -> datetime | None:
        return self._last_record_at

    def update(self, **counters: int) -> None:
        """Set counters to the given totals, for example ``update(applied=120)``."""
        self._counters.update(counters)

    def increment(self, **deltas: int) -> None:
        """Add to counters, starting missing ones at 0: ``increment(records=1)``."""
        for key, delta in deltas.items():
            self._counters[key] = self._counters.get(key, 0) + delta

    def record_seen(self, moment: datetime) -> None:
        """Move ``last_record_at`` to ``moment`` unless it already is later.

        Raises:
            ValueError: ``moment`` has no time zone.
        """
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"record time {moment.isoformat()} has no time zone")
        moment = moment.astimezone(UTC)
        if self._last_record_at is None or moment > self._last_record_at:
            self._last_record_at = moment

    def document(self, state: HeartbeatState = "running") -> HeartbeatDocument:
        """Build the heartbeat that would be sent now."""
        return HeartbeatDocument(
            kind=self.kind,
            name=self.name,
            pid=os.getpid(),
            host=socket.gethostname(),
            sent_at=datetime.now(UTC),
            interval_s=self.interval_s,
            counters=dict(self._counters),
            last_record_at=self._last_record_at,
            state=state,
            stream=self.stream,
        )

    async def beat(self, state: HeartbeatState = "running") -> bool:
        """Publish one heartbeat now; return whether the server stored it.

        A failure is logged, never raised.
        """
        payload = msgspec.json.encode(self.document(state))
        try:
            await self._js.publish(self.subject, payload, stream=OPS, timeout=PUBLISH_TIMEOUT_S)
        except (nats.errors.Error, OSError) as exc:
            # nats.errors.TimeoutError is an OSError too; JetStream API errors
            # (no stream) and a closed connection are nats.errors.Error.
            self._log_failure(exc)
            return False

        if self._failures:
            log.info("heartbeat_publish_recovered", subject=self.subject, failures=self._failures)
        self._failures = 0
        self.sent += 1
        return True

    def _log_failure(self, exc: BaseException) -> None:
        self._failures += 1
        now = time.monotonic()
        fields = {
            "subject": self.subject,
            "failures": self._failures,
            "error": str(exc) or type(exc).__name__,
            "error_type": type(exc).__name__,
        }
        if self._failures == 1 or now - self._last_failure_log >= FAILURE_LOG_EVERY_S:
            self._last_failure_log = now
            log.warning("heartbeat_publish_failed", **fields)
        else:
            log.debug("heartbeat_publish_failed", **fields)

    async def _loop(self) -> None:
        while True:
            # The stop in __aexit__ cancels this task once and awaits its end;
            # a cancellation lost in the publish of beat() must still end it.
            raise_if_cancelled()
            await asyncio.sleep(self.interval_s)
            try:
                await self.beat()
            except Exception:
                # beat() handles the expected failures. Anything else is a bug
                # here, and the heartbeat must still never stop its owner.
                log.exception("heartbeat_loop_failed", subject=self.subject)

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError(f"heartbeat {self.subject} is already running")
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name=f"heartbeat-{self.subject}")
        log.debug("heartbeat_started", subject=self.subject, interval_s=self.interval_s)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.beat("stopped")
        log.debug("heartbeat_stopped", subject=self.subject, sent=self.sent)


# --- reading heartbeats --------------------------------------------------------


async def latest_heartbeats(js: JetStreamContext) -> list[HeartbeatDocument]:
    """Return the last heartbeat of every component found in ``ZW_OPS``.

    Returns an empty list when the stream does not exist. Undecodable
    messages are logged and skipped.
    """
    try:
        info = await js.stream_info(OPS, subjects_filter=f"{SUBJECT_PREFIX}.>")
    except nats.js.errors.NotFoundError:
        return []

    documents: list[HeartbeatDocument] = []
    for subject in sorted(info.state.subjects or {}):
        try:
            message = await js.get_last_msg(OPS, subject)
        except nats.js.errors.NotFoundError:
            # Removed by the stream's age limit between the two requests.
            continue
        document = _decode_logged(subject, message.data or b"")
        if document is not None:
            documents.append(document)
    return documents


async def recent_heartbeats(js: JetStreamContext, since: datetime) -> list[HeartbeatDocument]:
    """Return the heartbeats stored at or after ``since``, oldest first.

    The read uses a short-lived in-memory consumer that is deleted
    afterwards, and stops after ``MAX_HISTORY_MESSAGES`` messages.
    """
    config = ConsumerConfig(
        description=READER_DESCRIPTION,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=since.astimezone(UTC),
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    try:
        subscription = await js.pull_subscribe(f"{SUBJECT_PREFIX}.>", stream=OPS, config=config)
    except nats.js.errors.NotFoundError:
        return []

    documents: list[HeartbeatDocument] = []
    consumer: str | None = None
    try:
        info = await subscription.consumer_info()
        consumer = info.name
        remaining = int(info.num_pending or 0)
        while remaining > 0 and len(documents) < MAX_HISTORY_MESSAGES:
            try:
                messages = await subscription.fetch(
                    min(READ_BATCH, remaining), timeout=READ_TIMEOUT_S
                )
            except nats.errors.TimeoutError:
                break
            for message in messages:
                document = _decode_logged(message.subject, message.data)
                if document is not None:
                    documents.append(document)
            remaining = int(messages[-1].metadata.num_pending) if messages else 0
    finally:
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()
        if consumer is not None:
            with contextlib.suppress(nats.errors.Error):
                await js.delete_consumer(OPS, consumer)
    return documents


def _decode_logged(subject: str, data: bytes) -> HeartbeatDocument | None:
    try:
        return decode_heartbeat(data)
    except msgspec.DecodeError as exc:
        log.warning("heartbeat_undecodable", subject=subject, error=str(exc))
        return None
