"""What a review, hall or sharing record refers to, and the event built from it.

A record names its entity by the source's ids (a booking id, a request id).
A review is named by the case it rates, which the record gives as a unified
case code or as a local case number of ``case_system``. The case-code
mapping turns such a number into the unified code. This module resolves
those references in batches, loads the write-side states the sequence
rules read, and builds the envelope and subject of an event that may be
published.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from adapters.family_records import FamilyCandidate, build_payload
from adapters.ingest.codes import CaseCodes
from adapters.ingest.entity_state import EntityStates, entity_key
from adapters.ingest.family_rules import (
    ResolvedRecord,
    case_dependency,
    case_ref_dependency,
    entity_kind,
    related_keys,
)
from adapters.ingest.state import CaseStates
from contracts.envelope import Envelope, Source, make_envelope
from contracts.ids import ingested_event_id
from contracts.subjects import entity_subject, hall_subject

ENTITY_ID_FIELDS = {
    "booking": "booking_id",
    "ticket": "ticket_id",
    "resource": "resource_code",
    "request": "request_id",
    "objection": "objection_id",
}
RECORD_VERSION = "1"
"""Version part of the event id; family records carry no data version of their own."""


def review_id_for(case_code: str, channel: str, rater: str) -> str:
    """Derive a review's id from the case it rates, the channel and the rater.

    A second rating of the same case by the same rater through the same
    channel gets the same id, so it is the same review, never a new vote.
    """
    digest = hashlib.sha256(f"{case_code}\x1f{channel}\x1f{rater}".encode()).hexdigest()
    return "R" + digest[:20]


def park_id_for(candidate: FamilyCandidate) -> str:
    """Identity of a record while it is parked: the event id its record key gives."""
    return ingested_event_id(candidate.system, candidate.record_key, RECORD_VERSION)


def resolve_offline(candidate: FamilyCandidate) -> ResolvedRecord:
    """Resolve a candidate without the bus, as the offline check kit does.

    A case named only by its local number has no unified code here, so a
    rating of it gets no review id and no event id.
    """
    return _resolved(candidate, _case_ref(candidate), None)


class Resolver:
    """Resolves the case and entity of candidates and loads the states their rules read."""

    def __init__(self, codes: CaseCodes, cases: CaseStates, states: EntityStates) -> None:
        self._codes = codes
        self._cases = cases
        self._states = states

    def case_exists(self, code: str) -> bool:
        """Tell whether the case has events on the bus; its state must be loaded."""
        return bool(self._cases.state(code).types)

    async def resolve(
        self, candidates: Sequence[FamilyCandidate], *, fresh_cases: bool = False
    ) -> list[ResolvedRecord]:
        """Resolve every candidate and load the states the sequence rules read.

        With ``fresh_cases``, case states are read again, so that a case
        ingested by another source since the last read is seen.
        """
        refs = [_case_ref(candidate) for candidate in candidates]
        known = await self._codes.lookup(ref for ref in refs if ref is not None)
        items = [
            _resolved(candidate, ref, known.get(ref) if ref is not None else None)
            for candidate, ref in zip(candidates, refs, strict=True)
        ]

        await self._states.load(item.key for item in items if item.key is not None)
        await self._states.load(key for item in items for key in related_keys(item, self._states))
        codes = [item.case_code for item in items if item.case_wait and item.case_code]
        await self._cases.load(codes, fresh=fresh_cases)
        return items

    def envelope(
        self, item: ResolvedRecord, *, source_id: str, recorded_at: datetime
    ) -> tuple[str, Envelope]:
        """Build the subject and event of a record whose entity is resolved."""
        candidate = item.candidate
        entity_id = item.entity_id or ""
        computed: dict[str, str] = {}
        if item.kind == "review":
            computed["review_id"] = entity_id
        if item.case_code and item.event_type in {"review.rated", "hall.service_ended"}:
            computed["case_code"] = item.case_code
        envelope = make_envelope(
            build_payload(candidate, **computed),
            id=item.event_id,
            occurred_at=candidate.occurred_at,
            recorded_at=recorded_at,
            source=Source(adapter=source_id, system=candidate.system),
            region=candidate.region,
            department=candidate.department,
            key=entity_id,
            correlation_id=self._correlation(item),
        )
        if item.kind in {"booking", "ticket"}:
            return hall_subject(candidate.region, candidate.values["hall"], entity_id), envelope
        return entity_subject(candidate.family, candidate.region, entity_id), envelope

    def _correlation(self, item: ResolvedRecord) -> str:
        """Return the id that ties a flow together: the rated case, the booking, the request."""
        values = item.candidate.values
        entity_id = item.entity_id or ""
        parent = self._states.state(item.key).parent if item.key is not None else None
        if item.kind == "review":
            return item.case_code or parent or entity_id
        if item.kind == "ticket":
            return values.get("booking_id") or parent or entity_id
        if item.kind == "objection":
            return values.get("request_id") or values.get("resource_code") or entity_id
        return entity_id


def _case_ref(candidate: FamilyCandidate) -> tuple[str, str] | None:
    """Return the (system, local number) of a case the record names without its unified code."""
    if candidate.value("case_code") or not candidate.value("local_no"):
        return None
    return candidate.case_system, candidate.values["local_no"]


def _resolved(
    candidate: FamilyCandidate, ref: tuple[str, str] | None, mapped: str | None
) -> ResolvedRecord:
    kind = entity_kind(candidate.event_type)
    case_code = candidate.value("case_code") or mapped
    names_case = case_code is not None or ref is not None
    case_wait = None
    if names_case and candidate.event_type in {"review.rated", "hall.service_ended"}:
        case_wait = (
            case_dependency(case_code) if case_code else case_ref_dependency(*ref or ("", ""))
        )

    if kind == "review":
        entity_id = candidate.value("review_id")
        if entity_id is None and case_code is not None:
            entity_id = review_id_for(
                case_code, candidate.values["channel"], candidate.values["rater"]
            )
        if entity_id is None:
            case_wait = case_ref_dependency(*ref or ("", ""))
        key = entity_key("review", entity_id) if entity_id else None
    else:
        entity_id = candidate.values[ENTITY_ID_FIELDS[kind]]
        ids = (
            (candidate.values["hall"], entity_id) if kind in {"booking", "ticket"} else (entity_id,)
        )
        key = entity_key(kind, *ids)

    event_id = None
    if entity_id is not None:
        record_key = f"{entity_id}|rated" if candidate.event_type == "review.rated" else None
        event_id = ingested_event_id(
            candidate.system, record_key or candidate.record_key, RECORD_VERSION
        )
    return ResolvedRecord(
        candidate=candidate,
        kind=kind,
        entity_id=entity_id,
        key=key,
        case_code=case_code,
        case_wait=case_wait,
        event_id=event_id,
    )
