"""The ingestion pipeline of review, hall and sharing sources: one outcome per record.

    record → map → validate ─┬→ resolve case and entity ─┬→ duplicate (event already on the bus)
                             │                           └→ sequence rules ─┬→ publish (ack)
                             │                                              ├→ park (entity missing)
                             │                                              └→ quarantine
                             └→ quarantine (reason codes + original record)

It has the interface of the case pipeline and shares its outcome writes
(``adapters.ingest.outcomes``). A record waits (is parked) while an entity
it needs is missing: its own predecessor, the rated case, the booking a
ticket came from, the resource a request or an objection names. Parked
records live in the family's lane of ``ZW_PARKED``. Each run checks them
all again when it opens, so an entity that arrived through another source
or run releases them. Within a run, publishing an entity's event releases
the records waiting on that entity at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import msgspec
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.catalogue import ItemCatalogue
from adapters.family_profile import FamilyProfile
from adapters.family_records import FamilyCandidate, convert_family_record
from adapters.files.readers import SourceRecord
from adapters.ingest.codes import CaseCodes
from adapters.ingest.entity_state import EntityStates
from adapters.ingest.family_resolve import Resolver, park_id_for
from adapters.ingest.family_rules import (
    AlreadyOnBus,
    Publish,
    Reject,
    ResolvedRecord,
    Wait,
    evaluate,
    record_published,
)
from adapters.ingest.outcomes import DEFAULT_PARK_WAIT, BatchWrites, OutcomeWriter, record_position
from adapters.ingest.parked import ParkedEvent, ParkingLot
from adapters.ingest.record_outcomes import RecordOutcome, RecordOutcomes
from adapters.ingest.state import CaseStates
from adapters.ingest.tally import Tally
from adapters.record_checks import Rejection
from bus.publisher import Publisher
from contracts.envelope import encode_event
from contracts.hall import HALL_RANK
from contracts.review import REVIEW_RANK
from contracts.share import SHARE_RANK

log = structlog.get_logger(__name__)

RANK = REVIEW_RANK | HALL_RANK | SHARE_RANK
_decode_candidate = msgspec.json.Decoder(FamilyCandidate).decode
_encode_candidate = msgspec.json.Encoder().encode


class FamilyPipeline:
    """Ingests the records of one review, hall or sharing source; ``open`` it first."""

    def __init__(
        self,
        client: Client,
        js: JetStreamContext,
        publisher: Publisher,
        profile: FamilyProfile,
        catalogue: ItemCatalogue,
        *,
        park_wait: timedelta = DEFAULT_PARK_WAIT,
    ) -> None:
        self._client = client
        self._profile = profile
        self._catalogue = catalogue
        self._park_wait = park_wait
        self._states = EntityStates(js, publisher)
        self._resolver = Resolver(CaseCodes(js, publisher), CaseStates(js, publisher), self._states)
        self._parking = ParkingLot(js, publisher, lane=profile.family)
        self._out = OutcomeWriter(
            js,
            publisher,
            source_id=profile.source.id,
            system=profile.source.system,
            family=profile.family,
            states=self._states,
            parking=self._parking,
        )
        self._parked: dict[str, ParkedEvent] = {}
        """Every parked record of the lane not yet released, by park id."""
        self._waiting: dict[str, dict[str, ParkedEvent]] = {}
        """Parked records by the key of the entity they wait on, then by park id."""
        self._waits_on: dict[str, str] = {}

    @property
    def source_id(self) -> str:
        return self._profile.source.id

    @property
    def tally(self) -> Tally:
        return self._out.tally

    async def open(self) -> None:
        """Load this source's quarantine entries and check every parked record of the family.

        Records whose entity arrived since they were parked, through any
        source or run, are released now and counted as released.
        """
        await self._out.open(items=len(self._catalogue))
        # NOTE: every parked record of the family is read and kept in memory
        # here. Parking is for exceptions, but a lane of hundreds of
        # thousands of records makes the start slow.
        stored = await self._parking.all_waiting()
        self._parked = {parked.event_id: parked for parked in stored}
        batch, writes = Tally(), BatchWrites()
        await self._release(stored, datetime.now(UTC), batch, writes, fresh_cases=True)
        await self._out.settle(writes, batch)
        log.info("parked_records_checked", source_id=self.source_id, waiting=len(self._parked))

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
        writes = BatchWrites()
        accepted: list[tuple[SourceRecord, FamilyCandidate]] = []
        for record in records:
            converted = convert_family_record(
                self._profile, record, location=location, catalogue=self._catalogue, now=now
            )
            if isinstance(converted, Rejection):
                await self._out.reject(converted, location, batch, writes)
            else:
                accepted.append((record, converted))

        resolved = await self._resolver.resolve([candidate for _, candidate in accepted])
        # Rules such as "delivered only after approval" read what is on the
        # bus, so a batch is applied in business-time order. An export that
        # lists a delivery above its earlier approval then gets the same
        # outcomes as one in order, and reading the file again changes nothing.
        in_order = sorted(
            zip((record for record, _ in accepted), resolved, strict=True),
            key=lambda pair: _business_order(pair[1]),
        )
        for record, item in in_order:
            await self._handle(record, item, location, now, batch, writes)

        await self._out.settle(writes, batch)
        return batch

    async def _handle(
        self,
        record: SourceRecord,
        item: ResolvedRecord,
        location: str,
        now: datetime,
        batch: Tally,
        writes: BatchWrites,
    ) -> None:
        park_id = park_id_for(item.candidate)
        earlier = None
        if item.key is not None and item.event_id is not None:
            earlier = self._states.state(item.key).events.get(item.event_id)
        # A record sent again while it waits has nothing on the bus yet, so it
        # goes through the rules again instead of counting as a duplicate.
        still_parked = park_id in self._parked and not earlier
        if not still_parked and self._out.is_duplicate(
            item.event_id or park_id, earlier, batch, position=record.position
        ):
            return

        verdict = evaluate(item, self._states, self._resolver.case_exists)
        if not isinstance(verdict, Wait):
            self._drop_parked_copy(park_id, writes)
        if isinstance(verdict, AlreadyOnBus):
            batch.duplicates += 1
            self._out.note(
                record.position, RecordOutcome(outcome="duplicate", event_id=item.event_id)
            )
        elif isinstance(verdict, Reject):
            candidate = item.candidate
            rejection = Rejection(
                record, candidate.record_key, item.event_type, candidate.region, (verdict.reason,)
            )
            await self._out.reject(rejection, location, batch, writes)
        elif isinstance(verdict, Wait):
            await self._park(record, item, park_id, verdict, location, now, batch, writes)
        else:
            touched = await self._publish(item, now, writes, position=record.position)
            await self._release(self._take_waiting(touched), now, batch, writes)

    def _drop_parked_copy(self, park_id: str, writes: BatchWrites) -> None:
        """Remove a re-sent record's parked copy from the lane, since the re-send has its outcome.

        The entity it waited for may have arrived through another pipeline
        (a case sent to the gateway's case intake), which does not release
        the records of this lane.
        """
        parked = self._parked.pop(park_id, None)
        if parked is not None:
            self._unindex(parked)
            self._out.release(parked, writes)

    async def _park(
        self,
        record: SourceRecord,
        item: ResolvedRecord,
        park_id: str,
        verdict: Wait,
        location: str,
        now: datetime,
        batch: Tally,
        writes: BatchWrites,
    ) -> None:
        if park_id in self._parked:
            # A re-send of a record that is still waiting keeps its first
            # parked time, so that the wait for its entity can expire.
            batch.parked += 1
            self._out.note(
                record.position,
                RecordOutcome(outcome="parked", event_id=park_id, waiting_for=verdict.waiting_for),
            )
            return
        candidate = item.candidate
        # Without its entity's id (a review of a case not yet on the bus) the
        # record is filed under the local number of the case it names.
        code, kind = item.entity_id, item.kind
        if code is None:
            code, kind = candidate.value("local_no"), "case"
        if code is None:
            code, kind = candidate.record_key, ""
        parked = ParkedEvent(
            event=msgspec.Raw(_encode_candidate(candidate)),
            event_id=park_id,
            event_type=item.event_type,
            occurred_at=candidate.occurred_at,
            code=code,
            region=candidate.region,
            subject="",
            record_key=candidate.record_key,
            source_id=self.source_id,
            waiting_for=verdict.waiting_for,
            parked_at=now,
            position=record_position(record, location),
            original=record.raw,
            entity_kind=kind,
        )
        self._parked[park_id] = parked
        self._index(parked, verdict.on)
        await self._out.park(parked, batch, writes)

    async def _publish(
        self,
        item: ResolvedRecord,
        now: datetime,
        writes: BatchWrites,
        parked: ParkedEvent | None = None,
        *,
        position: int | None = None,
    ) -> list[str]:
        """Send the record's event and update the state; returns the state keys it changed."""
        source_id = parked.source_id if parked is not None else self.source_id
        subject, envelope = self._resolver.envelope(item, source_id=source_id, recorded_at=now)
        await self._out.publish(
            item.key or "",
            subject,
            encode_event(envelope),
            envelope.id,
            item.event_type,
            item.candidate.record_key,
            writes,
            parked=parked,
            position=position,
        )
        return record_published(item, self._states)

    async def _release(
        self,
        parked: Iterable[ParkedEvent],
        now: datetime,
        batch: Tally,
        writes: BatchWrites,
        *,
        fresh_cases: bool = False,
    ) -> None:
        """Check parked records again, in business-time order; publish or reject the ready ones.

        A published event may release records waiting on its entity, which
        are checked in the next pass. Each pass takes records out of the
        waiting index and puts back only those still waiting, so the passes
        end once no event is published.
        """
        pending = list(parked)
        while pending:
            candidates = [_decode_candidate(item.event) for item in pending]
            items = await self._resolver.resolve(candidates, fresh_cases=fresh_cases)
            order = sorted(
                zip(pending, items, strict=True), key=lambda pair: _business_order(pair[1])
            )
            touched: list[str] = []
            for waiting, item in order:
                touched.extend(await self._check_again(waiting, item, now, batch, writes))
            pending = self._take_waiting(touched)

    async def _check_again(
        self,
        parked: ParkedEvent,
        item: ResolvedRecord,
        now: datetime,
        batch: Tally,
        writes: BatchWrites,
    ) -> list[str]:
        verdict = evaluate(item, self._states, self._resolver.case_exists)
        if isinstance(verdict, Wait):
            self._index(parked, verdict.on)
            return []

        self._parked.pop(parked.event_id, None)
        self._out.release(parked, writes)
        on_bus = item.key is not None and item.event_id in self._states.state(item.key).events
        if isinstance(verdict, AlreadyOnBus) or (isinstance(verdict, Publish) and on_bus):
            self._out.count_released_duplicate(parked, batch)
            return []
        if isinstance(verdict, Reject):
            # NOTE: a record another source parked is quarantined under this
            # run's source id, like a case event released by another source.
            await self._out.quarantine_parked(parked, verdict.reason, batch, writes)
            return []
        log.debug("parked_record_released", source_id=parked.source_id, park_id=parked.event_id)
        return await self._publish(item, now, writes, parked)

    def _index(self, parked: ParkedEvent, on: str) -> None:
        self._waiting.setdefault(on, {})[parked.event_id] = parked
        self._waits_on[parked.event_id] = on

    def _unindex(self, parked: ParkedEvent) -> None:
        on = self._waits_on.pop(parked.event_id, None)
        if on is not None:
            self._waiting.get(on, {}).pop(parked.event_id, None)

    def _take_waiting(self, keys: Iterable[str]) -> list[ParkedEvent]:
        taken: list[ParkedEvent] = []
        for key in dict.fromkeys(keys):
            for parked in self._waiting.pop(key, {}).values():
                self._waits_on.pop(parked.event_id, None)
                taken.append(parked)
        return taken

    async def expire_parked(self, now: datetime | None = None) -> int:
        """Quarantine this source's records parked longer than the wait; returns how many.

        Each overdue record is checked once more first, with fresh case
        states, and released instead when its entity has arrived.
        """
        moment = now or datetime.now(UTC)

        async def recheck(
            overdue: list[ParkedEvent], batch: Tally, writes: BatchWrites
        ) -> list[ParkedEvent]:
            for parked in overdue:
                self._unindex(parked)
            await self._release(overdue, moment, batch, writes, fresh_cases=True)
            still = [parked for parked in overdue if parked.event_id in self._parked]
            for parked in still:
                self._unindex(parked)
                self._parked.pop(parked.event_id, None)
            return still

        return await self._out.expire_parked(self._park_wait, moment, recheck=recheck)


def _business_order(item: ResolvedRecord) -> tuple[datetime, int]:
    """Sort key of records: business time, then the lifecycle rank of the event type."""
    return item.candidate.occurred_at, RANK.get(item.event_type, 0)
