"""Applying case (办件) events to the case database.

Department systems export statuses late, out of order and more than once,
so the model orders by business time, not by arrival:

- the current status is the event with the greatest ``(occurred_at,
  STATUS_RANK)``, so a late or re-sent earlier status never moves a case
  backwards;
- an event id already stored is skipped, so a re-sent event counts once;
- the due date is the promised number of working days after the acceptance
  date, extended by the working days between each suspension and its
  resumption (特别程序 does not count against the time limit).

A batch loads the rows it touches with a few ``IN`` queries, updates them in
memory and writes them back with multi-row ``INSERT`` statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import aiosqlite
import msgspec

from contracts.case import (
    STATUS_RANK,
    CaseAccepted,
    CaseConcluded,
    CasePayload,
    CaseSubmitted,
)
from contracts.envelope import Envelope
from contracts.identifiers import mask_identifier
from projections.base import ApplyCounts, Delivered
from projections.cases.schema import CASE_COLUMNS
from projections.pseudonym import Pseudonymizer
from projections.sql import chunks, insert_rows, unseen_events
from projections.times import business_time
from projections.workdays import add_working_days, working_days_between

PAUSE_EVENTS = frozenset({"case.suspended", "case.resumed"})
MAX_PROMISED_DAYS = 3650
"""Largest promised time limit accepted, in working days; larger values are data errors."""

class CaseRecord(msgspec.Struct, kw_only=True):
    """One row of ``cases``; field names and order follow ``CASE_COLUMNS``."""

    code: str
    local_no: str
    system: str
    status: str
    status_at: str
    submitted_at: str | None = None
    accepted_at: str | None = None
    concluded_at: str | None = None
    result: str | None = None
    department_code: str
    department_name: str | None = None
    item_code: str | None = None
    item_name: str | None = None
    region: str
    applicant_pseudonym: str | None = None
    applicant_masked: str | None = None
    applicant_id_type: str | None = None
    promised_days: int | None = None
    due_date: str | None = None
    paused_days: int = 0
    events: int = 0
    last_event_id: str = ""

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``CASE_COLUMNS`` order."""
        return msgspec.structs.astuple(self)


if CaseRecord.__struct_fields__ != CASE_COLUMNS:
    # as_row relies on the field order; a field added to one and not the
    # other would shift every later column of the stored rows.
    raise RuntimeError("CaseRecord fields must follow CASE_COLUMNS")


def short_name(event_type: str) -> str:
    """Return ``accepted`` for ``case.accepted``."""
    return event_type.removeprefix("case.")


def status_rank(status: str) -> int:
    """Return the lifecycle rank of a stored short status name."""
    return STATUS_RANK[f"case.{status}"]


def _date_of(stored_time: str) -> date:
    return date.fromisoformat(stored_time[:10])


def compute_paused_days(pauses: Iterable[tuple[str, str]]) -> int:
    """Sum the working days between each suspension and its resumption.

    ``pauses`` contains ``(business time, event type)`` pairs of suspended
    and resumed events in any order. A second suspension before a resumption
    extends the open one; a resumption without an open suspension is ignored;
    a suspension still open adds nothing yet.
    """
    ordered = sorted(pauses, key=lambda pause: (pause[0], STATUS_RANK[pause[1]]))
    paused = 0
    open_since: str | None = None
    for moment, event_type in ordered:
        if event_type == "case.suspended":
            if open_since is None:
                open_since = moment
        elif open_since is not None:
            paused += working_days_between(_date_of(open_since), _date_of(moment))
            open_since = None
    return paused


def compute_due_date(record: CaseRecord) -> str | None:
    """Return the due date of an accepted case with a promised time limit, else None."""
    if record.accepted_at is None or record.promised_days is None:
        return None
    start = _date_of(record.accepted_at)
    return add_working_days(start, record.promised_days + record.paused_days).isoformat()


class BatchPseudonyms:
    """Pseudonyms computed once per identifier within one batch.

    An application's identifier is needed for its row and for its stored
    history entry, and HMAC-SM3 costs a few microseconds each time.
    """

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer
        self._known: dict[str, str] = {}

    def pseudonym(self, identifier: str) -> str:
        """Return the pseudonym of ``identifier``."""
        known = self._known.get(identifier)
        if known is None:
            known = self._known[identifier] = self._pseudonymizer.pseudonym(identifier)
        return known


_payload_encoder = msgspec.json.Encoder()


def stored_payload(payload: CasePayload, pseudonymizer: Pseudonymizer | BatchPseudonyms) -> str:
    """Encode a payload for ``case_events`` with its identifiers pseudonymised and masked."""
    if not isinstance(payload, CaseSubmitted):
        # Only an application carries personal identifiers; the others are
        # stored as the bus encodes them.
        return _payload_encoder.encode(payload).decode()
    fields = msgspec.to_builtins(payload)
    fields["applicant_id"] = mask_identifier(payload.applicant_id)
    fields["applicant_pseudonym"] = pseudonymizer.pseudonym(payload.applicant_id)
    if payload.phone is not None:
        fields["phone"] = mask_identifier(payload.phone)
    return _payload_encoder.encode(fields).decode()


def case_payload(event: Envelope) -> CasePayload:
    """Return the event's payload, which ``CasesProjection.check`` proved is a case payload."""
    payload = event.payload
    if not isinstance(payload, CasePayload):
        raise TypeError(f"event {event.id} of type {event.type} is not a case event")
    return payload


def new_record(event: Envelope, at: str | None = None) -> CaseRecord:
    """Start the row of a case from its first event to arrive, whichever type it is.

    ``at`` is the event's business time as ``business_time`` formats it,
    when the caller has it already.
    """
    payload = case_payload(event)
    return CaseRecord(
        code=event.key,
        local_no=payload.local_no,
        system=payload.system,
        status=short_name(event.type),
        status_at=business_time(event.occurred_at) if at is None else at,
        department_code=event.department,
        region=event.region,
    )


def apply_event(
    record: CaseRecord,
    event: Envelope,
    pseudonymizer: Pseudonymizer | BatchPseudonyms,
    at: str | None = None,
) -> None:
    """Fold one new event into ``record``; pauses are folded by the caller.

    ``at`` is the event's business time as ``business_time`` formats it,
    when the caller has it already.
    """
    if at is None:
        at = business_time(event.occurred_at)
    if (at, STATUS_RANK[event.type]) > (record.status_at, status_rank(record.status)):
        record.status = short_name(event.type)
        record.status_at = at
    record.events += 1
    record.last_event_id = event.id

    payload = event.payload
    if isinstance(payload, CaseSubmitted):
        _apply_submitted(record, payload, at, pseudonymizer)
    elif isinstance(payload, CaseAccepted):
        if record.accepted_at is None or at < record.accepted_at:
            record.accepted_at = at
        if payload.promised_days is not None:
            record.promised_days = payload.promised_days
    elif isinstance(payload, CaseConcluded) and (
        record.concluded_at is None or at >= record.concluded_at
    ):
        record.concluded_at = at
        record.result = payload.result


def _apply_submitted(
    record: CaseRecord,
    payload: CaseSubmitted,
    at: str,
    pseudonymizer: Pseudonymizer | BatchPseudonyms,
) -> None:
    if record.submitted_at is None or at < record.submitted_at:
        record.submitted_at = at
    record.item_code = payload.item_code
    record.item_name = payload.item_name
    record.applicant_pseudonym = pseudonymizer.pseudonym(payload.applicant_id)
    record.applicant_masked = mask_identifier(payload.applicant_id)
    record.applicant_id_type = payload.applicant_id_type
    if payload.department_name is not None:
        record.department_name = payload.department_name
    # The acceptance's promised time limit is the department's commitment,
    # so the application's own value only fills a gap.
    if record.promised_days is None:
        record.promised_days = payload.promised_days


async def _load_records(
    connection: aiosqlite.Connection, codes: Sequence[str]
) -> dict[str, CaseRecord]:
    records: dict[str, CaseRecord] = {}
    for chunk in chunks(sorted(set(codes))):
        placeholders = ",".join("?" * len(chunk))
        rows = await connection.execute_fetchall(
            f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE code IN ({placeholders})",
            tuple(chunk),
        )
        for row in rows:
            record = CaseRecord(**dict(zip(CASE_COLUMNS, row, strict=True)))
            records[record.code] = record
    return records


async def _load_pauses(
    connection: aiosqlite.Connection, codes: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    pauses: dict[str, list[tuple[str, str]]] = {code: [] for code in codes}
    for chunk in chunks(sorted(set(codes))):
        placeholders = ",".join("?" * len(chunk))
        rows = await connection.execute_fetchall(
            f"SELECT code, occurred_at, type FROM case_events WHERE code IN ({placeholders}) "
            "AND type IN ('case.suspended', 'case.resumed')",
            tuple(chunk),
        )
        for row in rows:
            pauses[row["code"]].append((row["occurred_at"], row["type"]))
    return pauses


_INSERT_CASES = f"INSERT INTO cases ({', '.join(CASE_COLUMNS)})"
_ON_CASE_CONFLICT = " ON CONFLICT (code) DO UPDATE SET " + ", ".join(
    f"{column} = excluded.{column}" for column in CASE_COLUMNS[1:]
)
_INSERT_EVENTS = (
    "INSERT INTO case_events "
    "(event_id, code, seq, type, occurred_at, recorded_at, source_system, payload)"
)


async def apply_events(
    connection: aiosqlite.Connection,
    events: Sequence[Delivered],
    pseudonymizer: Pseudonymizer,
) -> ApplyCounts:
    """Apply checked case events in stream order inside the caller's transaction."""
    if not events:
        return ApplyCounts()

    fresh, duplicates = await unseen_events(connection, "case_events", events)
    records = await _load_records(connection, [item.event.key for item in events])
    pause_codes = [item.event.key for item in events if item.event.type in PAUSE_EVENTS]
    pauses = await _load_pauses(connection, pause_codes) if pause_codes else {}

    counts = ApplyCounts(duplicates=duplicates)
    pseudonyms = BatchPseudonyms(pseudonymizer)
    touched: dict[str, CaseRecord] = {}
    event_rows: list[tuple[object, ...]] = []
    for item in fresh:
        event = item.event
        occurred = business_time(event.occurred_at)
        record = records.get(event.key)
        if record is None:
            record = records[event.key] = new_record(event, occurred)
        apply_event(record, event, pseudonyms, occurred)
        if event.type in PAUSE_EVENTS:
            pauses[event.key].append((occurred, event.type))
        touched[event.key] = record

        event_rows.append((
            event.id,
            event.key,
            item.seq,
            event.type,
            occurred,
            business_time(event.recorded_at),
            event.source.system,
            stored_payload(case_payload(event), pseudonyms),
        ))
        counts.applied += 1

    for code, record in touched.items():
        if code in pauses:
            record.paused_days = compute_paused_days(pauses[code])
        record.due_date = compute_due_date(record)

    case_rows = [record.as_row() for record in touched.values()]
    await insert_rows(connection, _INSERT_CASES, case_rows, tail=_ON_CASE_CONFLICT)
    await insert_rows(connection, _INSERT_EVENTS, event_rows)
    return counts
