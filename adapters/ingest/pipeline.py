"""The case ingestion pipeline: every record read ends in exactly one outcome.

    record → map → validate ─┬→ case state ─┬→ duplicate (event id already on the bus)
                             │              └→ sequence rules ─┬→ publish (ack)
                             │                                 ├→ park (predecessor missing)
                             │                                 └→ quarantine (case closed)
                             └→ quarantine (reason codes + original record)

Records are handled in batches. A batch's writes (events, write-side case
state, parked events, quarantine entries) are all acknowledged
before the source position moves past the batch, so an interrupted run
resumes at the first record without an acknowledged outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.case_records import CaseCandidate, Rejection, convert_case_record
from adapters.catalogue import ItemCatalogue
from adapters.files.readers import SourceRecord
from adapters.ingest.codes import CaseCodes
from adapters.ingest.lru import BoundedCache
from adapters.ingest.outcomes import Outcomes, RecordOutcome
from adapters.ingest.parked import ParkedEvent, ParkingLot
from adapters.ingest.quarantine_book import QuarantineBook
from adapters.ingest.state import CaseState, CaseStates
from adapters.ingest.tally import Tally
from adapters.profile import Profile
from bus.errors import StreamError
from bus.i18n import N_
from bus.publisher import PubAck, Publisher
from contracts.case import PREDECESSORS, STATUS_RANK
from contracts.envelope import Source, encode_event, make_envelope
from contracts.ids import ingested_event_id
from contracts.quarantine import Reason, RecordPosition
from contracts.subjects import entity_subject

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
DEFAULT_PARK_WAIT = timedelta(days=7)
SEEN_IDS = 100_000


@dataclass
class _Published:
    """An event sent in this batch, waiting for its acknowledgement."""

    code: str
    event_id: str
    record_key: str
    future: asyncio.Future[PubAck]
    position: int | None = None
    """Position of the record in this batch, for per-record outcomes."""
    parked_this_run: bool = False
    from_earlier_run: bool = False


@dataclass
class _BatchWrites:
    published: list[_Published] = field(default_factory=list)
    side_writes: list[asyncio.Future[PubAck]] = field(default_factory=list)
    releases: list[ParkedEvent] = field(default_factory=list)


class CasePipeline:
    """Ingests the records of one case source; create with ``open`` inside a Publisher."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        publisher: Publisher,
        profile: Profile,
        catalogue: ItemCatalogue,
        *,
        park_wait: timedelta = DEFAULT_PARK_WAIT,
    ) -> None:
        self._client = client
        self._js = js
        self._publisher = publisher
        self._profile = profile
        self._catalogue = catalogue
        self._park_wait = park_wait
        self._codes = CaseCodes(js, publisher)
        self._states = CaseStates(js, publisher)
        self._parking = ParkingLot(js, publisher)
        self._quarantine = QuarantineBook(js, publisher, profile.source.id)
        self._seen: BoundedCache[str, bool] = BoundedCache(SEEN_IDS)
        self._parked_here: dict[str, dict[str, ParkedEvent]] = {}
        self._outcomes: Outcomes | None = None
        self.tally = Tally()

    async def open(self) -> None:
        """Load the parked events and this source's open quarantine entries."""
        parked = await self._parking.load()
        open_entries = await self._quarantine.load()
        log.info(
            "pipeline_opened",
            source_id=self._profile.source.id,
            parked=parked,
            open_quarantine_entries=open_entries,
            items=len(self._catalogue),
        )

    @property
    def source_id(self) -> str:
        return self._profile.source.id

    async def process(
        self,
        records: Sequence[SourceRecord],
        *,
        location: str,
        outcomes: Outcomes | None = None,
    ) -> Tally:
        """Give each record its outcome; returns the counts of this batch.

        When ``outcomes`` is given, it receives each record's outcome keyed by
        the record's position.
        """
        self._outcomes = outcomes
        try:
            return await self._process(records, location)
        finally:
            self._outcomes = None

    def _note(self, position: int | None, outcome: RecordOutcome) -> None:
        if self._outcomes is not None and position is not None:
            self._outcomes[position] = outcome

    async def _process(self, records: Sequence[SourceRecord], location: str) -> Tally:
        batch = Tally(read=len(records))
        now = datetime.now(UTC)
        converted = [
            convert_case_record(
                self._profile, record, location=location, catalogue=self._catalogue, now=now
            )
            for record in records
        ]
        writes = _BatchWrites()

        for item in converted:
            if isinstance(item, Rejection):
                await self._reject(item, location, batch, writes)

        candidates = [item for item in converted if isinstance(item, CaseCandidate)]
        codes = await self._resolve_codes(candidates)
        event_ids = {
            id(candidate): ingested_event_id(
                self._profile.source.system, candidate.record_key, candidate.version
            )
            for candidate in candidates
        }
        await self._states.load(codes[id(candidate)] for candidate in candidates)
        fresh = self._drop_duplicates(candidates, codes, event_ids, batch)

        for candidate in fresh:
            await self._apply_sequence_rules(
                candidate,
                codes[id(candidate)],
                event_ids[id(candidate)],
                location,
                now,
                batch,
                writes,
            )

        await self._settle(writes, batch)
        return batch

    async def _reject(
        self, rejection: Rejection, location: str, batch: Tally, writes: _BatchWrites
    ) -> None:
        batch.quarantined += 1
        batch.reasons.update(reason.code for reason in rejection.reasons)
        self._note(
            rejection.record.position,
            RecordOutcome(outcome="quarantined", reasons=tuple(rejection.reasons)),
        )
        future = await self._quarantine.add(
            system=self._profile.source.system,
            family="case",
            record_key=rejection.record_key,
            event_type=rejection.event_type,
            region=rejection.region,
            position=_position(rejection.record, location),
            reasons=rejection.reasons,
            original=rejection.record.raw,
        )
        if future is not None:
            writes.side_writes.append(future)

    async def _resolve_codes(self, candidates: list[CaseCandidate]) -> dict[int, str]:
        system = self._profile.source.system
        wanted: dict[tuple[str, str], tuple[str, date]] = {}
        for candidate in candidates:
            ref = (system, candidate.local_no)
            local_day = candidate.occurred_at.astimezone(self._profile.zone).date()
            if ref not in wanted or local_day < wanted[ref][1]:
                wanted[ref] = (candidate.region, local_day)
        resolved = await self._codes.resolve(wanted)
        return {id(candidate): resolved[(system, candidate.local_no)] for candidate in candidates}

    def _drop_duplicates(
        self,
        candidates: list[CaseCandidate],
        codes: dict[int, str],
        event_ids: dict[int, str],
        batch: Tally,
    ) -> list[CaseCandidate]:
        """Count records whose event is already on the bus, or earlier in this run."""
        fresh = []
        for candidate in candidates:
            event_id = event_ids[id(candidate)]
            earlier = self._states.state(codes[id(candidate)]).events.get(event_id)
            if self._seen.get(event_id) is not None or earlier:
                batch.duplicates += 1
                self._note(
                    candidate.record.position,
                    RecordOutcome(outcome="duplicate", event_id=event_id, seq=earlier),
                )
                log.debug(
                    "record_duplicate",
                    source_id=self.source_id,
                    event_id=event_id,
                    duplicate_of=earlier,
                )
                continue
            self._seen.put(event_id, True)
            fresh.append(candidate)
        return fresh

    async def _apply_sequence_rules(
        self,
        candidate: CaseCandidate,
        code: str,
        event_id: str,
        location: str,
        now: datetime,
        batch: Tally,
        writes: _BatchWrites,
    ) -> None:
        state = self._states.state(code)

        if _after_close(state, candidate.occurred_at):
            reason = _closed_reason(code, state)
            rejection = Rejection(
                candidate.record,
                candidate.record_key,
                candidate.event_type,
                candidate.region,
                (reason,),
            )
            await self._reject(rejection, location, batch, writes)
            return

        envelope = make_envelope(
            candidate.payload,
            id=event_id,
            occurred_at=candidate.occurred_at,
            recorded_at=now,
            source=Source(adapter=self.source_id, system=self._profile.source.system),
            region=candidate.region,
            department=candidate.department,
            key=code,
            correlation_id=code,
        )
        subject = entity_subject("case", candidate.region, code)

        missing = PREDECESSORS[candidate.event_type] - state.types
        if missing:
            batch.parked += 1
            self._note(
                candidate.record.position,
                RecordOutcome(
                    outcome="parked", event_id=event_id, waiting_for=tuple(sorted(missing))
                ),
            )
            if self._parking.is_parked(code, event_id):
                # A re-send of a record that is still waiting keeps its first
                # parked time, so that the wait for its predecessor can expire.
                return
            parked = ParkedEvent(
                event=msgspec.Raw(encode_event(envelope)),
                event_id=event_id,
                event_type=candidate.event_type,
                occurred_at=candidate.occurred_at,
                code=code,
                region=candidate.region,
                subject=subject,
                record_key=candidate.record_key,
                source_id=self.source_id,
                waiting_for=tuple(sorted(missing)),
                parked_at=now,
                position=_position(candidate.record, location),
                original=candidate.record.raw,
            )
            self._parked_here.setdefault(code, {})[event_id] = parked
            writes.side_writes.append(await self._parking.park(parked))
            return

        await self._publish(
            code,
            subject,
            encode_event(envelope),
            event_id,
            candidate.event_type,
            candidate.record_key,
            writes,
            position=candidate.record.position,
        )
        self._states.add(code, candidate.event_type, candidate.occurred_at)
        await self._release_waiting(code, writes, batch)

    async def _publish(
        self,
        code: str,
        subject: str,
        data: bytes,
        event_id: str,
        event_type: str,
        record_key: str,
        writes: _BatchWrites,
        *,
        parked: ParkedEvent | None = None,
        position: int | None = None,
    ) -> None:
        headers = {"Nats-Msg-Id": event_id, "Zw-Type": event_type}
        future = await self._publisher.publish(subject, data, headers)
        writes.published.append(
            _Published(
                code=code,
                event_id=event_id,
                record_key=record_key,
                future=future,
                position=position,
                parked_this_run=parked is not None and self._was_parked_here(parked),
                from_earlier_run=parked is not None and not self._was_parked_here(parked),
            )
        )

    def _was_parked_here(self, parked: ParkedEvent) -> bool:
        return parked.event_id in self._parked_here.get(parked.code, {})

    async def _release_waiting(self, code: str, writes: _BatchWrites, batch: Tally) -> None:
        """Publish, in business-time order, the parked events whose predecessors are now in."""
        if not self._parking.has_waiting(code):
            return
        local = self._parked_here.get(code, {})
        stored = {p.event_id: p for p in await self._parking.waiting(code)}
        waiting = {
            event_id: parked
            for event_id, parked in {**stored, **local}.items()
            if self._parking.is_parked(code, event_id)
        }
        state = self._states.state(code)

        progressed = True
        while progressed and waiting:
            progressed = False
            ready = sorted(
                (p for p in waiting.values() if not PREDECESSORS[p.event_type] - state.types),
                key=lambda p: (p.occurred_at, STATUS_RANK.get(p.event_type, 0)),
            )
            for parked in ready:
                del waiting[parked.event_id]
                self._parking.forget(parked)
                writes.releases.append(parked)
                progressed = True
                if _after_close(state, parked.occurred_at):
                    await self._quarantine_parked(
                        parked, _closed_reason(code, state), batch, writes
                    )
                    continue
                await self._publish(
                    code,
                    parked.subject,
                    bytes(parked.event),
                    parked.event_id,
                    parked.event_type,
                    parked.record_key,
                    writes,
                    parked=parked,
                    position=parked.position.record,
                )
                self._states.add(code, parked.event_type, parked.occurred_at)

    async def _quarantine_parked(
        self, parked: ParkedEvent, reason: Reason, batch: Tally, writes: _BatchWrites
    ) -> None:
        future = await self._quarantine.add(
            system=self._profile.source.system,
            family="case",
            record_key=parked.record_key,
            event_type=parked.event_type,
            region=parked.region,
            position=parked.position,
            reasons=(reason,),
            original=parked.original,
        )
        if future is not None:
            writes.side_writes.append(future)
        if self._was_parked_here(parked):
            batch.parked -= 1
            batch.quarantined += 1
            batch.reasons[reason.code] += 1
            self._note(
                parked.position.record, RecordOutcome(outcome="quarantined", reasons=(reason,))
            )
        else:
            batch.expired += 1

    async def _settle(self, writes: _BatchWrites, batch: Tally) -> None:
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
                await self._quarantine.resolve(
                    published.record_key, family="case", event_id=published.event_id
                )
            )

        await self._states.flush()
        for future in writes.side_writes:
            ack = await future
            if not ack.ok:
                raise StreamError(
                    N_("A bookkeeping write was rejected: {detail}"), detail=ack.error
                )
        removals = [await self._parking.release(parked) for parked in writes.releases]
        for parked in writes.releases:
            self._parked_here.get(parked.code, {}).pop(parked.event_id, None)
        for future in removals:
            ack = await future
            if not ack.ok:
                raise StreamError(N_("Removing a parked event failed: {detail}"), detail=ack.error)
        batch.resolved = self._quarantine.resolved - self.tally.resolved
        self.tally.merge(batch)

    def _count_published(self, published: _Published, ack: PubAck, batch: Tally) -> None:
        if published.from_earlier_run:
            batch.released += 1
            return
        if published.parked_this_run:
            batch.parked -= 1
        if ack.duplicate:
            batch.duplicates += 1
        else:
            batch.published += 1
        self._note(
            published.position,
            RecordOutcome(
                outcome="duplicate" if ack.duplicate else "stored",
                event_id=published.event_id,
                seq=ack.seq,
            ),
        )

    async def expire_parked(self, now: datetime | None = None) -> int:
        """Quarantine this source's events parked longer than the wait; returns how many."""
        moment = now or datetime.now(UTC)
        writes = _BatchWrites()
        batch = Tally()
        expired = 0
        for parked in await self._parking.all_waiting():
            if parked.source_id != self.source_id or moment - parked.parked_at < self._park_wait:
                continue
            reason = Reason(
                code="missing_predecessor",
                field=None,
                value=parked.code,
                detail=f"waited for {', '.join(parked.waiting_for)} since "
                f"{parked.parked_at.isoformat()}",
            )
            await self._quarantine_parked(parked, reason, batch, writes)
            writes.releases.append(parked)
            expired += 1
        await self._settle(writes, batch)
        return expired


def _after_close(state: CaseState, occurred_at: datetime) -> bool:
    """Tell whether an event's business time falls after the case was closed."""
    return state.closed_at is not None and occurred_at > state.closed_at


def _closed_reason(code: str, state: CaseState) -> Reason:
    closed_at = state.closed_at.isoformat() if state.closed_at else "-"
    return Reason(
        code="case_closed",
        field=None,
        value=code,
        detail=f"case was closed (not accepted or withdrawn) at {closed_at}",
    )


def _position(record: SourceRecord, location: str) -> RecordPosition:
    return RecordPosition(location=location, record=record.position, line=record.line)


ProgressCallback = Callable[[int], None]
