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

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

import msgspec
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.case_records import CaseCandidate, convert_case_record
from adapters.catalogue import ItemCatalogue
from adapters.files.readers import SourceRecord
from adapters.ingest.codes import CaseCodes
from adapters.ingest.outcomes import (
    BATCH_SIZE,
    DEFAULT_PARK_WAIT,
    BatchWrites,
    OutcomeWriter,
    record_position,
)
from adapters.ingest.parked import ParkedEvent, ParkingLot
from adapters.ingest.record_outcomes import RecordOutcomes
from adapters.ingest.state import CaseState, CaseStates
from adapters.ingest.tally import Tally
from adapters.profile import Profile
from adapters.record_checks import Rejection
from bus.publisher import Publisher
from contracts.case import PREDECESSORS, STATUS_RANK
from contracts.details import detail_text
from contracts.envelope import Source, encode_event, make_envelope
from contracts.ids import ingested_event_id
from contracts.quarantine import Reason
from contracts.subjects import entity_subject

log = structlog.get_logger(__name__)

__all__ = ["BATCH_SIZE", "DEFAULT_PARK_WAIT", "CasePipeline"]


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
        self._profile = profile
        self._catalogue = catalogue
        self._park_wait = park_wait
        self._codes = CaseCodes(js, publisher)
        self._states = CaseStates(js, publisher)
        self._parking = ParkingLot(js, publisher)
        self._out = OutcomeWriter(
            js,
            publisher,
            source_id=profile.source.id,
            system=profile.source.system,
            family="case",
            states=self._states,
            parking=self._parking,
        )

    async def open(self) -> None:
        """Load the parked events and this source's open quarantine entries."""
        await self._out.open(items=len(self._catalogue))

    @property
    def source_id(self) -> str:
        return self._profile.source.id

    @property
    def tally(self) -> Tally:
        return self._out.tally

    async def process(
        self,
        records: Sequence[SourceRecord],
        *,
        location: str,
        outcomes: RecordOutcomes | None = None,
    ) -> Tally:
        """Give each record its outcome; returns the counts of this batch.

        When ``outcomes`` is given, it receives each record's outcome by position.
        """
        with self._out.reporting(outcomes, location):
            return await self._process(records, location)

    async def _process(self, records: Sequence[SourceRecord], location: str) -> Tally:
        batch = Tally(read=len(records))
        now = datetime.now(UTC)
        converted = [
            convert_case_record(
                self._profile, record, location=location, catalogue=self._catalogue, now=now
            )
            for record in records
        ]
        writes = BatchWrites()

        for item in converted:
            if isinstance(item, Rejection):
                await self._out.reject(item, location, batch, writes)

        candidates = [item for item in converted if isinstance(item, CaseCandidate)]
        codes = await self._resolve_codes(candidates)
        event_ids = {
            id(candidate): ingested_event_id(
                self._profile.source.system, candidate.record_key, candidate.version
            )
            for candidate in candidates
        }
        await self._states.load(codes[id(candidate)] for candidate in candidates)
        fresh: list[CaseCandidate] = []
        for candidate in candidates:
            code, event_id = codes[id(candidate)], event_ids[id(candidate)]
            earlier = self._states.state(code).events.get(event_id)
            # A record sent again while its event waits has nothing on the bus
            # yet, so it goes through the sequence rules again instead of
            # counting as a duplicate.
            still_parked = not earlier and self._parking.is_parked(code, event_id)
            if still_parked or not self._out.is_duplicate(
                event_id, earlier, batch, position=candidate.record.position
            ):
                fresh.append(candidate)

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

        await self._out.settle(writes, batch)
        return batch

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

    async def _apply_sequence_rules(
        self,
        candidate: CaseCandidate,
        code: str,
        event_id: str,
        location: str,
        now: datetime,
        batch: Tally,
        writes: BatchWrites,
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
            await self._out.reject(rejection, location, batch, writes)
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
                position=record_position(candidate.record, location),
                original=candidate.record.raw,
                entity_kind="case",
            )
            await self._out.park(parked, batch, writes)
            return

        await self._out.publish(
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

    async def _release_waiting(self, code: str, writes: BatchWrites, batch: Tally) -> None:
        """Publish, in business-time order, the parked events whose predecessors are now in."""
        if not self._parking.has_waiting(code):
            return
        local = self._out.parked_here(code)
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
                self._out.release(parked, writes)
                progressed = True
                if _after_close(state, parked.occurred_at):
                    await self._out.quarantine_parked(
                        parked, _closed_reason(code, state), batch, writes
                    )
                    continue
                await self._out.publish(
                    code,
                    parked.subject,
                    bytes(parked.event),
                    parked.event_id,
                    parked.event_type,
                    parked.record_key,
                    writes,
                    parked=parked,
                )
                self._states.add(code, parked.event_type, parked.occurred_at)

    async def expire_parked(self, now: datetime | None = None) -> int:
        """Quarantine this source's events parked longer than the wait; returns how many."""
        return await self._out.expire_parked(self._park_wait, now)


def _after_close(state: CaseState, occurred_at: datetime) -> bool:
    """Tell whether an event's business time falls after the case was closed."""
    return state.closed_at is not None and occurred_at > state.closed_at


def _closed_reason(code: str, state: CaseState) -> Reason:
    closed_at = state.closed_at.isoformat() if state.closed_at else "-"
    return Reason(
        code="case_closed",
        field=None,
        value=code,
        detail=detail_text("case_closed_at", time=closed_at),
    )


ProgressCallback = Callable[[int], None]
