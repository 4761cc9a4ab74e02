"""Applying hall events: bookings (预约) and queue tickets (取号/叫号) from their event sets.

Hall systems send events late, out of order and more than once, so a
booking or ticket row is never patched by the newest arrival. Every batch
stores its new events, loads all stored events of each booking and ticket it
touches (a handful each) and folds them again:

- events are folded in the order ``(HALL_RANK, business time, event id)``,
  so the state is that of the highest-ranked event and a late or re-sent
  earlier event never moves a ticket or booking back;
- an event id already stored is skipped, so a re-sent event counts once;
- the row is a function of the set of events, so the same events give the
  same rows whatever the arrival order, batch cuts or restarts.

A booking's ``ticket_id`` is set from the tickets table after both are
written, so it is right whichever of the two arrived first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

import aiosqlite
import msgspec

from contracts.envelope import Envelope
from contracts.hall import (
    BOOKING_EVENTS,
    HALL_RANK,
    BookingCancelled,
    BookingCheckedIn,
    BookingCreated,
    HallPayload,
    ServiceEnded,
    ServiceStarted,
    TicketCalled,
    TicketIssued,
    TicketRecalled,
    TicketSkipped,
)
from projections.base import ApplyCounts, Delivered
from projections.hall.schema import BOOKING_COLUMNS, TICKET_COLUMNS
from projections.pseudonym import Pseudonymizer
from projections.sql import chunks, unseen_events
from projections.times import business_time

Entity = Literal["booking", "ticket"]
EntityKey = tuple[Entity, str, str]
"""``(entity, hall, booking or ticket id)``."""

BOOKING_STATES: dict[str, str] = {
    "hall.booking_created": "created",
    "hall.booking_cancelled": "cancelled",
    "hall.booking_checked_in": "checked_in",
}
TICKET_STATES: dict[str, str] = {
    "hall.ticket_issued": "issued",
    "hall.ticket_called": "called",
    "hall.ticket_recalled": "called",
    "hall.ticket_skipped": "skipped",
    "hall.service_started": "serving",
    "hall.service_ended": "done",
}


_WINDOW_PAYLOADS = (TicketCalled, TicketRecalled, TicketSkipped, ServiceStarted, ServiceEnded)
"""Payloads that name the window of the ticket."""

_payload_decoder = msgspec.json.Decoder(HallPayload)


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One row of ``hall_events`` with its payload decoded."""

    event_id: str
    type: str
    occurred_at: str
    region: str
    department_code: str
    payload: HallPayload


class BookingRecord(msgspec.Struct, kw_only=True):
    """One row of ``bookings``; field names and order follow ``BOOKING_COLUMNS``."""

    hall: str
    booking_id: str
    region: str
    department_code: str
    item_code: str | None = None
    channel: str | None = None
    slot_date: str | None = None
    slot_start: str | None = None
    slot_end: str | None = None
    person_pseudonym: str | None = None
    state: str
    state_at: str
    created_at: str | None = None
    cancelled_at: str | None = None
    checked_in_at: str | None = None
    ticket_id: str | None = None
    events: int = 0

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``BOOKING_COLUMNS`` order."""
        return tuple(getattr(self, column) for column in BOOKING_COLUMNS)


class TicketRecord(msgspec.Struct, kw_only=True):
    """One row of ``tickets``; field names and order follow ``TICKET_COLUMNS``."""

    hall: str
    ticket_id: str
    region: str
    department_code: str
    business_date: str
    ticket_no: str | None = None
    queue: str | None = None
    channel: str | None = None
    booking_id: str | None = None
    item_code: str | None = None
    priority: bool = False
    state: str
    state_at: str
    service_window: str | None = None
    staff: str | None = None
    issued_at: str | None = None
    called_at: str | None = None
    skipped_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    call_count: int = 0
    wait_s: float | None = None
    case_code: str | None = None
    case_local_no: str | None = None
    events: int = 0

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``TICKET_COLUMNS`` order."""
        return tuple(getattr(self, column) for column in TICKET_COLUMNS)


def entity_key(event: Envelope) -> EntityKey:
    """Return the booking or ticket an event belongs to."""
    entity: Entity = "booking" if event.type in BOOKING_EVENTS else "ticket"
    return entity, hall_payload(event).hall, event.key


def hall_payload(event: Envelope) -> HallPayload:
    """Return the event's payload, which ``HallProjection.check`` proved is a hall payload."""
    payload = event.payload
    if not isinstance(payload, HallPayload):
        raise TypeError(f"event {event.id} of type {event.type} is not a hall event")
    return payload


def stored_payload(payload: HallPayload, pseudonymizer: Pseudonymizer) -> str:
    """Encode a payload for ``hall_events`` with the person reference pseudonymised."""
    if isinstance(payload, BookingCreated) and payload.person is not None:
        payload = msgspec.structs.replace(payload, person=pseudonymizer.pseudonym(payload.person))
    return msgspec.json.encode(payload).decode()


def _fold_order(event: StoredEvent) -> tuple[int, str, str]:
    return HALL_RANK[event.type], event.occurred_at, event.event_id


def _first_by_time(events: Iterable[StoredEvent]) -> StoredEvent:
    return min(events, key=lambda event: (event.occurred_at, event.event_id))


def fold_booking(hall: str, booking_id: str, events: Sequence[StoredEvent]) -> BookingRecord:
    """Build a booking's row from all its stored events."""
    ordered = sorted(events, key=_fold_order)
    first = _first_by_time(events)
    record = BookingRecord(
        hall=hall,
        booking_id=booking_id,
        region=first.region,
        department_code=first.department_code,
        state=BOOKING_STATES[ordered[-1].type],
        state_at=ordered[-1].occurred_at,
        events=len(events),
    )
    # Within one event type the fold order runs from the earliest business
    # time, so each field keeps the first occurrence.
    for event in ordered:
        payload = event.payload
        if isinstance(payload, BookingCreated) and record.created_at is None:
            record.created_at = event.occurred_at
            record.item_code = payload.item_code
            record.channel = payload.channel
            record.slot_date = payload.slot_date.isoformat()
            record.slot_start = payload.slot_start.isoformat()
            record.slot_end = payload.slot_end.isoformat()
            record.person_pseudonym = payload.person
        elif isinstance(payload, BookingCancelled) and record.cancelled_at is None:
            record.cancelled_at = event.occurred_at
        elif isinstance(payload, BookingCheckedIn) and record.checked_in_at is None:
            record.checked_in_at = event.occurred_at
    return record


def fold_ticket(hall: str, ticket_id: str, events: Sequence[StoredEvent]) -> TicketRecord:
    """Build a ticket's row from all its stored events."""
    ordered = sorted(events, key=_fold_order)
    first = _first_by_time(events)
    record = TicketRecord(
        hall=hall,
        ticket_id=ticket_id,
        region=first.region,
        department_code=first.department_code,
        business_date=first.occurred_at[:10],
        state=TICKET_STATES[ordered[-1].type],
        state_at=ordered[-1].occurred_at,
        events=len(events),
    )
    for event in ordered:
        _fold_ticket_event(record, event)
    if record.issued_at is not None:
        record.business_date = record.issued_at[:10]
    record.wait_s = _wait_s(record)
    return record


def _fold_ticket_event(record: TicketRecord, event: StoredEvent) -> None:
    """Fold one event in fold order: window and staff end as those of the last event naming them."""
    payload = event.payload
    at = event.occurred_at
    if isinstance(payload, TicketIssued):
        if record.issued_at is None:
            record.issued_at = at
            record.ticket_no = payload.ticket_no
            record.queue = payload.queue
            record.channel = payload.channel
            record.booking_id = payload.booking_id
            record.item_code = payload.item_code
            record.priority = payload.priority
        return

    if isinstance(payload, TicketCalled | TicketRecalled):
        record.call_count += 1
        if isinstance(payload, TicketCalled) and record.called_at is None:
            record.called_at = at
    elif isinstance(payload, TicketSkipped):
        record.skipped_at = record.skipped_at or at
    elif isinstance(payload, ServiceStarted):
        record.started_at = record.started_at or at
    elif isinstance(payload, ServiceEnded):
        record.ended_at = at
        record.case_code = payload.case_code or record.case_code
        record.case_local_no = payload.local_no or record.case_local_no

    if isinstance(payload, _WINDOW_PAYLOADS):
        record.service_window = payload.window
    if isinstance(payload, TicketCalled | ServiceStarted) and payload.staff is not None:
        record.staff = payload.staff


def _wait_s(record: TicketRecord) -> float | None:
    if record.issued_at is None or record.started_at is None:
        return None
    waited = datetime.fromisoformat(record.started_at) - datetime.fromisoformat(record.issued_at)
    # Skewed clocks of a kiosk and a window system can log the start before
    # the issue. Such a ticket counts a wait of zero, not a negative one.
    return max(waited.total_seconds(), 0.0)


async def _load_events(
    connection: aiosqlite.Connection, keys: Iterable[EntityKey]
) -> dict[EntityKey, list[StoredEvent]]:
    requested = set(keys)
    events: dict[EntityKey, list[StoredEvent]] = defaultdict(list)
    for chunk in chunks(sorted({entity_id for _entity, _hall, entity_id in requested})):
        placeholders = ",".join("?" * len(chunk))
        async with connection.execute(
            "SELECT event_id, entity, hall, entity_id, type, occurred_at, region, "
            f"department_code, payload FROM hall_events WHERE entity_id IN ({placeholders})",
            tuple(chunk),
        ) as cursor:
            rows = await cursor.fetchall()
        for row in rows:
            key: EntityKey = (row["entity"], row["hall"], row["entity_id"])
            if key not in requested:
                continue
            events[key].append(
                StoredEvent(
                    event_id=row["event_id"],
                    type=row["type"],
                    occurred_at=row["occurred_at"],
                    region=row["region"],
                    department_code=row["department_code"],
                    payload=_payload_decoder.decode(row["payload"]),
                )
            )
    return events


async def _stored_booking_links(
    connection: aiosqlite.Connection, tickets: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Return the ``(hall, booking_id)`` pairs the stored rows of ``tickets`` name."""
    requested = set(tickets)
    links: set[tuple[str, str]] = set()
    for chunk in chunks(sorted({ticket_id for _hall, ticket_id in requested})):
        placeholders = ",".join("?" * len(chunk))
        async with connection.execute(
            "SELECT hall, ticket_id, booking_id FROM tickets "
            f"WHERE ticket_id IN ({placeholders}) AND booking_id IS NOT NULL",
            tuple(chunk),
        ) as cursor:
            rows = await cursor.fetchall()
        links.update(
            (row["hall"], row["booking_id"])
            for row in rows
            if (row["hall"], row["ticket_id"]) in requested
        )
    return links


_UPSERT_BOOKING = (
    f"INSERT INTO bookings ({', '.join(BOOKING_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(BOOKING_COLUMNS))}) "
    "ON CONFLICT (hall, booking_id) DO UPDATE SET "
    + ", ".join(
        f"{column} = excluded.{column}"
        for column in BOOKING_COLUMNS[2:]
        if column != "ticket_id"
    )
)

_UPSERT_TICKET = (
    f"INSERT INTO tickets ({', '.join(TICKET_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(TICKET_COLUMNS))}) "
    "ON CONFLICT (hall, ticket_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in TICKET_COLUMNS[2:])
)

_INSERT_EVENT = (
    "INSERT INTO hall_events (event_id, entity, hall, entity_id, seq, type, occurred_at, "
    "recorded_at, region, department_code, source_system, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

# A booking's ticket is the latest one issued from it, the one the person queues with.
_LINK_TICKET = (
    "UPDATE bookings SET ticket_id = ("
    "SELECT t.ticket_id FROM tickets t WHERE t.hall = bookings.hall "
    "AND t.booking_id = bookings.booking_id "
    "ORDER BY t.issued_at DESC, t.ticket_id DESC LIMIT 1"
    ") WHERE hall = ? AND booking_id = ?"
)


async def apply_events(
    connection: aiosqlite.Connection,
    events: Sequence[Delivered],
    pseudonymizer: Pseudonymizer,
) -> ApplyCounts:
    """Apply checked hall events in stream order inside the caller's transaction."""
    if not events:
        return ApplyCounts()

    fresh, duplicates = await unseen_events(connection, "hall_events", events)
    counts = ApplyCounts(duplicates=duplicates)
    touched: set[EntityKey] = set()
    event_rows: list[tuple[object, ...]] = []
    for item in fresh:
        event = item.event
        key = entity_key(event)
        touched.add(key)
        event_rows.append((
            event.id,
            key[0],
            key[1],
            key[2],
            item.seq,
            event.type,
            business_time(event.occurred_at),
            business_time(event.recorded_at),
            event.region,
            event.department,
            event.source.system,
            stored_payload(hall_payload(event), pseudonymizer),
        ))
        counts.applied += 1
    if not event_rows:
        return counts

    await connection.executemany(_INSERT_EVENT, event_rows)
    await _refold(connection, touched)
    return counts


async def _refold(connection: aiosqlite.Connection, touched: set[EntityKey]) -> None:
    """Fold every touched booking and ticket from its stored events and write the rows."""
    stored = await _load_events(connection, touched)
    ticket_keys = [(hall, entity_id) for entity, hall, entity_id in touched if entity == "ticket"]
    linked = await _stored_booking_links(connection, ticket_keys)

    bookings: list[BookingRecord] = []
    tickets: list[TicketRecord] = []
    for key in sorted(touched):
        entity, hall, entity_id = key
        if entity == "booking":
            bookings.append(fold_booking(hall, entity_id, stored[key]))
            linked.add((hall, entity_id))
        else:
            ticket = fold_ticket(hall, entity_id, stored[key])
            tickets.append(ticket)
            if ticket.booking_id is not None:
                linked.add((hall, ticket.booking_id))

    await connection.executemany(_UPSERT_BOOKING, [record.as_row() for record in bookings])
    await connection.executemany(_UPSERT_TICKET, [record.as_row() for record in tickets])
    await connection.executemany(_LINK_TICKET, sorted(linked))
