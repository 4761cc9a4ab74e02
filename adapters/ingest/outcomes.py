"""The outcomes every ingest pipeline writes, and the batch bookkeeping around them.

A pipeline gives each record one outcome: published, duplicate, quarantined
or parked. ``OutcomeWriter`` sends those writes for one batch and settles
them: it awaits every acknowledgement, records the stream sequence of each
published event in the write-side state, resolves the open quarantine
entries of records that were re-sent corrected, flushes the state and removes released events
from the parking bucket. Only then does the source position move past the
batch. The case pipeline and the review, hall and sharing pipeline share it;
each keeps its own mapping and sequence rules.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from nats.js import JetStreamContext

from adapters.files.readers import SourceRecord
from adapters.ingest.lru import BoundedCache
from adapters.ingest.parked import ParkedEvent, ParkingLot
from adapters.ingest.quarantine_book import QuarantineBook
from adapters.ingest.record_outcomes import RecordOutcome, RecordOutcomes
from adapters.ingest.tally import Tally
from adapters.record_checks import Rejection
from bus.errors import StreamError
from bus.i18n import N_
from bus.publisher import PubAck, Publisher
from contracts.details import detail_text
from contracts.quarantine import Reason, RecordPosition

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
DEFAULT_PARK_WAIT = timedelta(days=7)
SEEN_IDS = 100_000


class SequenceState(Protocol):
    """The write-side state store a pipeline records published events in."""

    def stored(self, key: str, event_id: str, sequence: int) -> None: ...

    async def flush(self) -> None: ...


@dataclass
class Published:
    """An event sent in this batch, waiting for its acknowledgement."""

    code: str
    """Key of the write-side state that records the event."""
    event_id: str
    record_key: str
    future: asyncio.Future[PubAck]
    position: int | None = None
    """Position of the record in this batch, for per-record outcomes."""
    parked_this_run: bool = False
    from_earlier_run: bool = False


@dataclass
class BatchWrites:
    """Writes of one batch that must be acknowledged before the source position moves."""

    published: list[Published] = field(default_factory=list)
    side_writes: list[asyncio.Future[PubAck]] = field(default_factory=list)
    releases: list[ParkedEvent] = field(default_factory=list)


def record_position(record: SourceRecord, location: str) -> RecordPosition:
    return RecordPosition(location=location, record=record.position, line=record.line)


class OutcomeWriter:
    """Sends the outcomes of one source's records and settles them per batch."""

    def __init__(
        self,
        js: JetStreamContext,
        publisher: Publisher,
        *,
        source_id: str,
        system: str,
        family: str,
        states: SequenceState,
        parking: ParkingLot,
    ) -> None:
        self.source_id = source_id
        self.system = system
        self.family = family
        self.parking = parking
        self.quarantine = QuarantineBook(js, publisher, source_id)
        self.tally = Tally()
        self._publisher = publisher
        self._states = states
        self._seen: BoundedCache[str, bool] = BoundedCache(SEEN_IDS)
        self._parked_here: dict[str, dict[str, ParkedEvent]] = {}
        self._outcomes: RecordOutcomes | None = None
        self._location = ""

    @contextlib.contextmanager
    def reporting(self, outcomes: RecordOutcomes | None, location: str) -> Iterator[None]:
        """Fill ``outcomes`` with the outcome of each record of the batch at ``location``."""
        self._outcomes = outcomes
        self._location = location
        try:
            yield
        finally:
            self._outcomes = None
            self._location = ""

    def note(self, position: int | None, outcome: RecordOutcome) -> None:
        """Record one record's outcome when the caller asked for per-record outcomes."""
        if self._outcomes is not None and position is not None:
            self._outcomes[position] = outcome

    def _note_parked(self, parked: ParkedEvent, outcome: RecordOutcome) -> None:
        # Positions restart with every batch, so only an event parked from
        # this batch's records may report under its position.
        if parked.position.location == self._location:
            self.note(parked.position.record, outcome)

    async def open(self, **context: object) -> None:
        """Load the parked events of the lane and this source's open quarantine entries."""
        parked = await self.parking.load()
        open_entries = await self.quarantine.load()
        log.info(
            "pipeline_opened",
            source_id=self.source_id,
            family=self.family,
            parked=parked,
            open_quarantine_entries=open_entries,
            **context,
        )

    def is_duplicate(
        self, event_id: str, earlier: int | None, batch: Tally, *, position: int | None = None
    ) -> bool:
        """Count a record whose event is already on the bus, or earlier in this run."""
        if self._seen.get(event_id) is not None or earlier:
            batch.duplicates += 1
            self.note(position, RecordOutcome(outcome="duplicate", event_id=event_id, seq=earlier))
            log.debug(
                "record_duplicate",
                source_id=self.source_id,
                event_id=event_id,
                duplicate_of=earlier,
            )
            return True
        self._seen.put(event_id, True)
        return False

    async def reject(
        self, rejection: Rejection, location: str, batch: Tally, writes: BatchWrites
    ) -> None:
        batch.quarantined += 1
        batch.reasons.update({reason.code for reason in rejection.reasons})
        self.note(
            rejection.record.position,
            RecordOutcome(outcome="quarantined", reasons=tuple(rejection.reasons)),
        )
        await self._quarantine_record(
            rejection.record_key,
            rejection.event_type,
            rejection.region,
            record_position(rejection.record, location),
            rejection.reasons,
            rejection.record.raw,
            writes,
        )

    async def _quarantine_record(
        self,
        record_key: str,
        event_type: str | None,
        region: str | None,
        position: RecordPosition,
        reasons: tuple[Reason, ...],
        original: str,
        writes: BatchWrites,
    ) -> None:
        future = await self.quarantine.add(
            system=self.system,
            family=self.family,
            record_key=record_key,
            event_type=event_type,
            region=region,
            position=position,
            reasons=reasons,
            original=original,
        )
        if future is not None:
            writes.side_writes.append(future)

    async def park(self, parked: ParkedEvent, batch: Tally, writes: BatchWrites) -> None:
        batch.parked += 1
        self._note_parked(
            parked,
            RecordOutcome(
                outcome="parked", event_id=parked.event_id, waiting_for=parked.waiting_for
            ),
        )
        if self.parking.is_parked(parked.code, parked.event_id):
            # A re-send of a record that is still waiting keeps its first
            # parked time, so that the wait for its predecessor can expire.
            return
        self._parked_here.setdefault(parked.code, {})[parked.event_id] = parked
        writes.side_writes.append(await self.parking.park(parked))

    def parked_here(self, code: str) -> dict[str, ParkedEvent]:
        """Return the events of ``code`` parked by this run and not yet released."""
        return self._parked_here.get(code, {})

    def was_parked_here(self, parked: ParkedEvent) -> bool:
        return parked.event_id in self._parked_here.get(parked.code, {})

    async def publish(
        self,
        code: str,
        subject: str,
        data: bytes,
        event_id: str,
        event_type: str,
        record_key: str,
        writes: BatchWrites,
        *,
        parked: ParkedEvent | None = None,
        position: int | None = None,
    ) -> None:
        headers = {"Nats-Msg-Id": event_id, "Zw-Type": event_type}
        if parked is not None:
            same_batch = parked.position.location == self._location
            position = parked.position.record if same_batch else None
        future = await self._publisher.publish(subject, data, headers)
        writes.published.append(
            Published(
                code=code,
                event_id=event_id,
                record_key=record_key,
                future=future,
                position=position,
                parked_this_run=parked is not None and self.was_parked_here(parked),
                from_earlier_run=parked is not None and not self.was_parked_here(parked),
            )
        )

    def release(self, parked: ParkedEvent, writes: BatchWrites) -> None:
        """Take an event out of the parking lot; its removal is sent when the batch settles."""
        self.parking.forget(parked)
        writes.releases.append(parked)

    def count_released_duplicate(self, parked: ParkedEvent, batch: Tally) -> None:
        """Count a parked event that turned out to be on the bus already when released."""
        if self.was_parked_here(parked):
            batch.parked -= 1
            batch.duplicates += 1
            self._note_parked(
                parked, RecordOutcome(outcome="duplicate", event_id=parked.event_id)
            )
        else:
            batch.released += 1

    async def quarantine_parked(
        self, parked: ParkedEvent, reason: Reason, batch: Tally, writes: BatchWrites
    ) -> None:
        await self._quarantine_record(
            parked.record_key,
            parked.event_type,
            parked.region,
            parked.position,
            (reason,),
            parked.original,
            writes,
        )
        if self.was_parked_here(parked):
            batch.parked -= 1
            batch.quarantined += 1
            batch.reasons[reason.code] += 1
            self._note_parked(parked, RecordOutcome(outcome="quarantined", reasons=(reason,)))
        else:
            batch.expired += 1

    async def settle(self, writes: BatchWrites, batch: Tally) -> None:
        """Await every write of the batch, then record and count its outcomes."""
        for published in writes.published:
            ack = await published.future
            if not ack.ok:
                raise StreamError(
                    N_("The bus rejected event {event_id}: {detail}"),
                    event_id=published.event_id,
                    detail=ack.error,
                )
            self._count_published(published, ack, batch)
            self._states.stored(published.code, published.event_id, ack.seq)
            writes.side_writes.extend(
                await self.quarantine.resolve(
                    published.record_key, family=self.family, event_id=published.event_id
                )
            )

        await self._states.flush()
        for future in writes.side_writes:
            ack = await future
            if not ack.ok:
                raise StreamError(
                    N_("A bookkeeping write was rejected: {detail}"), detail=ack.error
                )
        removals = [await self.parking.release(parked) for parked in writes.releases]
        for parked in writes.releases:
            self._parked_here.get(parked.code, {}).pop(parked.event_id, None)
        for future in removals:
            ack = await future
            if not ack.ok:
                raise StreamError(N_("Removing a parked event failed: {detail}"), detail=ack.error)
        batch.resolved = self.quarantine.resolved - self.tally.resolved
        self.tally.merge(batch)

    def _count_published(self, published: Published, ack: PubAck, batch: Tally) -> None:
        if published.from_earlier_run:
            batch.released += 1
            return
        if published.parked_this_run:
            batch.parked -= 1
        if ack.duplicate:
            batch.duplicates += 1
        else:
            batch.published += 1
        self.note(
            published.position,
            RecordOutcome(
                outcome="duplicate" if ack.duplicate else "stored",
                event_id=published.event_id,
                seq=ack.seq,
            ),
        )

    async def expire_parked(
        self,
        park_wait: timedelta,
        now: datetime | None = None,
        *,
        recheck: RecheckHook | None = None,
    ) -> int:
        """Quarantine this source's events parked longer than the wait; returns how many.

        ``recheck`` is given the overdue events first and returns those still
        waiting, so that a pipeline whose events wait for another family's
        entity can release the ones whose entity arrived meanwhile.
        """
        moment = now or datetime.now(UTC)
        writes = BatchWrites()
        batch = Tally()
        overdue = [
            parked
            for parked in await self.parking.all_waiting()
            if parked.source_id == self.source_id and moment - parked.parked_at >= park_wait
        ]
        if recheck is not None and overdue:
            overdue = await recheck(overdue, batch, writes)
        for parked in overdue:
            reason = Reason(
                code="missing_predecessor",
                field=None,
                value=parked.code,
                detail=detail_text(
                    "waited_since",
                    waiting=", ".join(parked.waiting_for),
                    time=parked.parked_at.isoformat(),
                ),
            )
            await self.quarantine_parked(parked, reason, batch, writes)
            writes.releases.append(parked)
        await self.settle(writes, batch)
        return len(overdue)


RecheckHook = Callable[[list[ParkedEvent], Tally, BatchWrites], Awaitable[list[ParkedEvent]]]
"""Checks parked events again before they expire; returns those still waiting."""
