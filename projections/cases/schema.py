"""Tables of the case database (办件库) read model.

Times are ISO 8601 strings in China Standard Time (``+08:00``) with
microseconds, so that text order is time order and the first 10 characters
are the business date. Dates (``due_date``) are ``YYYY-MM-DD``.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    code TEXT PRIMARY KEY,            -- unified case code (统一办件编码)
    local_no TEXT NOT NULL,           -- the issuing system's case number (办件编号)
    system TEXT NOT NULL,             -- system that issued local_no
    status TEXT NOT NULL,             -- short name of the current event type: accepted, ...
    status_at TEXT NOT NULL,          -- business time of the current status
    submitted_at TEXT,
    accepted_at TEXT,
    concluded_at TEXT,
    result TEXT,                      -- conclusion result (办结结果): approved, denied, ...
    department_code TEXT NOT NULL,
    department_name TEXT,
    item_code TEXT,                   -- item implementation code (事项实施编码)
    item_name TEXT,
    region TEXT NOT NULL,             -- 6-digit GB/T 2260 code
    applicant_pseudonym TEXT,         -- HMAC-SM3 of the applicant identifier
    applicant_masked TEXT,
    applicant_id_type TEXT,
    promised_days INTEGER,            -- promised time limit (承诺时限), working days
    due_date TEXT,
    paused_days INTEGER NOT NULL DEFAULT 0,  -- working days under special procedures
    events INTEGER NOT NULL,
    last_event_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_local_no ON cases (local_no);
CREATE INDEX IF NOT EXISTS cases_region ON cases (region, submitted_at);
CREATE INDEX IF NOT EXISTS cases_department ON cases (department_code, submitted_at);
CREATE INDEX IF NOT EXISTS cases_item ON cases (item_code, submitted_at);
CREATE INDEX IF NOT EXISTS cases_status ON cases (status, submitted_at);
CREATE INDEX IF NOT EXISTS cases_submitted ON cases (submitted_at);
CREATE INDEX IF NOT EXISTS cases_due ON cases (due_date);
CREATE INDEX IF NOT EXISTS cases_applicant ON cases (applicant_pseudonym);

CREATE TABLE IF NOT EXISTS case_events (
    event_id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    seq INTEGER NOT NULL,             -- stream sequence
    type TEXT NOT NULL,               -- event type: case.accepted, ...
    occurred_at TEXT NOT NULL,        -- business time
    recorded_at TEXT NOT NULL,
    source_system TEXT NOT NULL,
    payload TEXT NOT NULL             -- JSON, identifiers replaced by pseudonym and masked form
);
CREATE INDEX IF NOT EXISTS case_events_code ON case_events (code, occurred_at);
"""

CASE_COLUMNS: tuple[str, ...] = (
    "code",
    "local_no",
    "system",
    "status",
    "status_at",
    "submitted_at",
    "accepted_at",
    "concluded_at",
    "result",
    "department_code",
    "department_name",
    "item_code",
    "item_name",
    "region",
    "applicant_pseudonym",
    "applicant_masked",
    "applicant_id_type",
    "promised_days",
    "due_date",
    "paused_days",
    "events",
    "last_event_id",
)
"""Columns of ``cases`` in table order; ``CaseRecord`` has a field for each."""
