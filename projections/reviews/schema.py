"""Tables of the review (好差评) read model.

Times are ISO 8601 strings in China Standard Time (``+08:00``) with
microseconds, so that text order is time order and the first 10 characters
are the business date. Dates (``rated_day``) are ``YYYY-MM-DD``. Flags are
0 or 1.

Deadlines are not stored: they depend on the configuration of the command
that reads the model (``bus.config``), so ``queries`` computes them from
``rated_day`` and ``region``.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    review_id TEXT PRIMARY KEY,
    case_code TEXT,                   -- unified case code (统一办件编码) of the rated case
    local_no TEXT,                    -- the rating system's case number, when given
    system TEXT,                      -- system that reported the rating
    region TEXT NOT NULL,             -- 6-digit GB/T 2260 code of the rated case's department
    department_code TEXT NOT NULL,
    item_code TEXT,                   -- item implementation code (事项实施编码)
    channel TEXT,                     -- web, mobile, window, terminal, phone, sms
    level INTEGER,                    -- 5 非常满意 ... 1 非常不满意
    is_default INTEGER,               -- 1 for an automatic rating (默认好评)
    rater_pseudonym TEXT,             -- HMAC-SM3 of the rater reference
    rater_type TEXT,                  -- person, legal_person
    hall TEXT,
    hall_window TEXT,                 -- window (窗口) of the hall, for window ratings
    rated_at TEXT,                    -- business time of the rating; NULL until it arrives
    rated_day TEXT,                   -- business date of the rating
    verified_at TEXT,                 -- callback check (核实) of a bad review
    valid INTEGER,                    -- 1 genuine (真实有效), 0 not, NULL not verified
    assignee TEXT,                    -- department code of the unit that must rectify
    rectification_assigned_at TEXT,
    rectified_at TEXT,
    revisited_at TEXT,
    revisit_satisfaction INTEGER,     -- level given at the revisit (回访)
    events INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_region ON reviews (region, rated_day);
CREATE INDEX IF NOT EXISTS reviews_department ON reviews (department_code, rated_day);
CREATE INDEX IF NOT EXISTS reviews_item ON reviews (item_code, rated_day);
CREATE INDEX IF NOT EXISTS reviews_day ON reviews (rated_day);
CREATE INDEX IF NOT EXISTS reviews_case ON reviews (case_code);

CREATE TABLE IF NOT EXISTS review_events (
    event_id TEXT PRIMARY KEY,
    review_id TEXT NOT NULL,
    seq INTEGER NOT NULL,             -- stream sequence
    type TEXT NOT NULL,               -- event type: review.rated, ...
    occurred_at TEXT NOT NULL,        -- business time
    recorded_at TEXT NOT NULL,
    source_system TEXT NOT NULL,
    region TEXT NOT NULL,
    department_code TEXT NOT NULL,
    correlation_id TEXT NOT NULL,     -- the rated case's unified code
    payload TEXT NOT NULL             -- JSON; the rater replaced by its pseudonym
);
CREATE INDEX IF NOT EXISTS review_events_review ON review_events (review_id);
"""

REVIEW_COLUMNS: tuple[str, ...] = (
    "review_id",
    "case_code",
    "local_no",
    "system",
    "region",
    "department_code",
    "item_code",
    "channel",
    "level",
    "is_default",
    "rater_pseudonym",
    "rater_type",
    "hall",
    "hall_window",
    "rated_at",
    "rated_day",
    "verified_at",
    "valid",
    "assignee",
    "rectification_assigned_at",
    "rectified_at",
    "revisited_at",
    "revisit_satisfaction",
    "events",
)
"""Columns of ``reviews`` in table order; ``ReviewRecord`` has a field for each."""

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "review_id",
    "seq",
    "type",
    "occurred_at",
    "recorded_at",
    "source_system",
    "region",
    "department_code",
    "correlation_id",
    "payload",
)
"""Columns of ``review_events`` in table order; ``StoredEvent`` has a field for each."""
