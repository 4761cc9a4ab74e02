"""Delivery to an HTTP endpoint: batched POSTs, bounded retries, dead letters.

A batch of events is one POST whose body is a JSON array of the envelopes,
byte for byte as they are on the bus. The ``Idempotency-Key`` field lists
the event ids of the batch in body order, one field line per event. A proxy
may join them with commas, as HTTP allows for a list-valued field. Each key
equals the ``id`` of its envelope, so a receiver can drop an event it has
already accepted: after a crash between the endpoint's answer and the
sink's acknowledgement, the restarted sink sends that batch again.

Answers and what the sink does:

- 2xx: every event of the batch is delivered.
- 408, 409, 425, 429, 5xx, a timeout or a connection error: the batch is
  sent again after a wait (``Retry-After`` is honoured up to
  ``backoff.max_s``).
- any other status: the batch is split and each event is sent alone, so
  that one event the endpoint rejects does not hold back the others.

Each failed attempt counts against every event in it. An event whose
count reaches ``max_attempts`` is stored as a dead letter and the sink
moves on. The wait before attempt n+1 is ``initial_s * multiplier**(n-1)``,
capped at ``max_s``, then scaled by a random factor between 0.5 and 1 so
that many sinks do not retry in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import nats.errors
import structlog
from multidict import CIMultiDict
from nats.js import JetStreamContext
from yarl import URL

from adapters.sinks.config import SinkConfig
from adapters.sinks.deadletter import DeadLetter, store_dead_letter
from adapters.sinks.delivery import DeliveryOutcome
from adapters.sinks.selection import Incoming

log = structlog.get_logger(__name__)

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
"""Client errors that mean "not now" rather than "never"; every 5xx is transient too."""
ERROR_EXCERPT_BYTES = 300
"""Bytes of a failed response kept in the log and the dead letter."""


@dataclass(frozen=True)
class Attempt:
    """The result of one POST."""

    accepted: bool
    transient: bool = False
    status: int | None = None
    error: str = ""
    retry_after_s: float | None = None


@dataclass
class _Tries:
    attempts: int = 0
    first_failed_at: datetime | None = None
    last: Attempt | None = None


@dataclass
class _Batch:
    """Failed attempts of each event of one batch, by stream sequence."""

    tries: dict[int, _Tries] = field(default_factory=dict)

    def record_failure(self, events: list[Incoming], attempt: Attempt) -> None:
        now = datetime.now(UTC)
        for event in events:
            tries = self.tries.setdefault(event.seq, _Tries())
            tries.attempts += 1
            tries.first_failed_at = tries.first_failed_at or now
            tries.last = attempt


def display_url(url: str) -> str:
    """Return ``url`` without user name, password and query, for logs and screens."""
    parsed = URL(url)
    return str(parsed.with_user(None).with_query(None).with_fragment(None))


def backoff_delay_s(sink: SinkConfig, failures: int, retry_after_s: float | None) -> float:
    """Return the wait after the ``failures``-th failed attempt, with jitter."""
    backoff = sink.backoff
    ceiling = min(backoff.max_s, backoff.initial_s * backoff.multiplier ** (failures - 1))
    delay = ceiling * random.uniform(0.5, 1.0)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, backoff.max_s))
    return delay


class HttpTarget:
    """POST the events of one sink to its endpoint; one instance per sink and stream."""

    def __init__(
        self,
        sink: SinkConfig,
        family: str,
        stream: str,
        session: aiohttp.ClientSession,
        js: JetStreamContext,
    ) -> None:
        self.sink = sink
        self.family = family
        self.stream = stream
        self._session = session
        self._js = js
        self._url = str(sink.url)
        self._shown_url = display_url(self._url)

    async def deliver(self, events: list[Incoming], stop: asyncio.Event) -> DeliveryOutcome:
        """Give every event an outcome, in order, unless ``stop`` is set during a wait."""
        outcome = DeliveryOutcome()
        if not events:
            return outcome
        batch = _Batch()
        remaining = await self._deliver_together(batch, events, stop, outcome)
        for event in remaining:
            if stop.is_set():
                outcome.unfinished_from = event.seq
            if outcome.unfinished_from is not None:
                break
            await self._deliver_together(batch, [event], stop, outcome)
        return outcome

    async def _deliver_together(
        self,
        batch: _Batch,
        events: list[Incoming],
        stop: asyncio.Event,
        outcome: DeliveryOutcome,
    ) -> list[Incoming]:
        """Send ``events`` in one POST until accepted or dead; return them when split."""
        failures = 0
        while True:
            attempt = await self._post(events)
            if attempt.accepted:
                outcome.delivered += len(events)
                return []

            failures += 1
            outcome.failed_attempts += 1
            batch.record_failure(events, attempt)
            self._log_failure(events, attempt, batch.tries[events[0].seq].attempts)
            if batch.tries[events[0].seq].attempts >= self.sink.max_attempts:
                for event in events:
                    await self._dead_letter(event, batch.tries[event.seq])
                outcome.dead_lettered += len(events)
                return []
            if len(events) > 1 and not attempt.transient:
                return events

            delay = backoff_delay_s(self.sink, failures, attempt.retry_after_s)
            await self._extend_ack_wait(events)
            if await _stopped_within(stop, delay):
                outcome.unfinished_from = events[0].seq
                return []

    async def _post(self, events: list[Incoming]) -> Attempt:
        body = b"[" + b",".join(event.data for event in events) + b"]"
        headers: CIMultiDict[str] = CIMultiDict(self.sink.headers)
        headers["Content-Type"] = "application/json; charset=utf-8"
        for event in events:
            if event.head is not None:
                headers.add("Idempotency-Key", event.head.id)
        timeout = aiohttp.ClientTimeout(total=self.sink.timeout_s)
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return Attempt(accepted=True, status=response.status)
                excerpt = await response.content.read(ERROR_EXCERPT_BYTES)
                return Attempt(
                    accepted=False,
                    transient=response.status in TRANSIENT_STATUSES or response.status >= 500,
                    status=response.status,
                    error=f"HTTP {response.status}: {excerpt.decode(errors='replace')}".strip(),
                    retry_after_s=_retry_after_s(response.headers.get("Retry-After")),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            return Attempt(accepted=False, transient=True, error=f"{type(exc).__name__}: {detail}")

    def _log_failure(self, events: list[Incoming], attempt: Attempt, attempts: int) -> None:
        log.warning(
            "sink_http_attempt_failed",
            sink=self.sink.id,
            stream=self.stream,
            url=self._shown_url,
            first_seq=events[0].seq,
            events=len(events),
            attempt=attempts,
            max_attempts=self.sink.max_attempts,
            http_status=attempt.status,
            transient=attempt.transient,
            error=attempt.error,
        )

    async def _dead_letter(self, event: Incoming, tries: _Tries) -> None:
        last = tries.last or Attempt(accepted=False)
        now = datetime.now(UTC)
        await store_dead_letter(
            self._js,
            DeadLetter(
                sink=self.sink.id,
                family=self.family,
                stream=self.stream,
                seq=event.seq,
                subject=event.subject,
                event_id=event.head.id if event.head else None,
                event_type=event.head.type if event.head else None,
                attempts=tries.attempts,
                error=last.error,
                http_status=last.status,
                first_failed_at=tries.first_failed_at or now,
                dead_at=now,
                data=event.data.decode(errors="replace"),
            ),
        )

    async def _extend_ack_wait(self, events: list[Incoming]) -> None:
        # Without this the server would deliver the batch again once its
        # ack wait ran out during long retries, and the next fetch would
        # carry duplicates to skip.
        for event in events:
            if event.message is not None:
                with contextlib.suppress(nats.errors.Error):
                    await event.message.in_progress()


def _retry_after_s(value: str | None) -> float | None:
    """Read a ``Retry-After`` given in seconds; an HTTP date or garbage gives None."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())


async def _stopped_within(stop: asyncio.Event, delay_s: float) -> bool:
    """Wait ``delay_s`` seconds; return True at once when ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)
    return stop.is_set()
