"""Tables of the hall (线上线下融合) read model: bookings, queue tickets and their events.

Times are ISO 8601 strings in China Standard Time (``+08:00``) with
microseconds, so that text order is time order and the first 10 characters
are the business date. Slot dates are ``YYYY-MM-DD`` and slot times
``HH:MM:SS``. Booking and ticket ids are unique only within their hall, so
both tables are keyed by ``(hall, id)``.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS bookings (
    hall TEXT NOT NULL,               -- hall code (大厅编码)
    booking_id TEXT NOT NULL,
    region TEXT NOT NULL,             -- 6-digit GB/T 2260 code of the hall
    department_code TEXT NOT NULL,
    item_code TEXT,                   -- item implementation code (事项实施编码)
    channel TEXT,                     -- online | phone
    slot_date TEXT,
    slot_start TEXT,
    slot_end TEXT,
    person_pseudonym TEXT,            -- HMAC-SM3 of the person reference
    state TEXT NOT NULL,              -- created | cancelled | checked_in
    state_at TEXT NOT NULL,           -- business time of the event that set the state
    created_at TEXT,
    cancelled_at TEXT,
    checked_in_at TEXT,
    ticket_id TEXT,                   -- the latest ticket issued from this booking
    events INTEGER NOT NULL,
    PRIMARY KEY (hall, booking_id)
);
CREATE INDEX IF NOT EXISTS bookings_slot ON bookings (hall, slot_date, slot_start);
CREATE INDEX IF NOT EXISTS bookings_id ON bookings (booking_id);

CREATE TABLE IF NOT EXISTS tickets (
    hall TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    region TEXT NOT NULL,
    department_code TEXT NOT NULL,
    business_date TEXT NOT NULL,      -- date of issue in China, else of the first event
    ticket_no TEXT,                   -- number shown and called (A015)
    queue TEXT,
    channel TEXT,                     -- kiosk | mobile | booking
    booking_id TEXT,
    item_code TEXT,
    priority INTEGER NOT NULL,        -- 1 for the green channel (绿色通道)
    state TEXT NOT NULL,              -- issued | called | skipped | serving | done
    state_at TEXT NOT NULL,
    service_window TEXT,              -- window of the latest event that names one
    staff TEXT,
    issued_at TEXT,
    called_at TEXT,                   -- first call
    skipped_at TEXT,
    started_at TEXT,
    ended_at TEXT,
    call_count INTEGER NOT NULL,      -- calls and recalls
    wait_s REAL,                      -- seconds from issue to service start
    case_code TEXT,                   -- unified case code the service produced
    case_local_no TEXT,               -- or the window system's own number of it
    events INTEGER NOT NULL,
    PRIMARY KEY (hall, ticket_id)
);
CREATE INDEX IF NOT EXISTS tickets_day ON tickets (hall, business_date, state);
CREATE INDEX IF NOT EXISTS tickets_booking ON tickets (hall, booking_id);
CREATE INDEX IF NOT EXISTS tickets_date ON tickets (business_date);

CREATE TABLE IF NOT EXISTS hall_events (
    event_id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,             -- booking | ticket
    hall TEXT NOT NULL,
    entity_id TEXT NOT NULL,          -- booking or ticket id
    seq INTEGER NOT NULL,             -- stream sequence
    type TEXT NOT NULL,               -- event type: hall.ticket_called, ...
    occurred_at TEXT NOT NULL,        -- business time
    recorded_at TEXT NOT NULL,
    region TEXT NOT NULL,
    department_code TEXT NOT NULL,
    source_system TEXT NOT NULL,
    payload TEXT NOT NULL             -- JSON, the person reference replaced by its pseudonym
);
CREATE INDEX IF NOT EXISTS hall_events_entity ON hall_events (entity_id, hall, entity);
"""

BOOKING_COLUMNS: tuple[str, ...] = (
    "hall",
    "booking_id",
    "region",
    "department_code",
    "item_code",
    "channel",
    "slot_date",
    "slot_start",
    "slot_end",
    "person_pseudonym",
    "state",
    "state_at",
    "created_at",
    "cancelled_at",
    "checked_in_at",
    "ticket_id",
    "events",
)
"""Columns of ``bookings`` in table order; ``BookingRecord`` has a field for each."""

TICKET_COLUMNS: tuple[str, ...] = (
    "hall",
    "ticket_id",
    "region",
    "department_code",
    "business_date",
    "ticket_no",
    "queue",
    "channel",
    "booking_id",
    "item_code",
    "priority",
    "state",
    "state_at",
    "service_window",
    "staff",
    "issued_at",
    "called_at",
    "skipped_at",
    "started_at",
    "ended_at",
    "call_count",
    "wait_s",
    "case_code",
    "case_local_no",
    "events",
)
"""Columns of ``tickets`` in table order; ``TicketRecord`` has a field for each."""
