"""Tables of the data-sharing (数据共享) read model.

Times are ISO 8601 strings in China Standard Time (``+08:00``) with
microseconds, as in the case database, so that text order is time order.

Columns ending in ``_version`` are bookkeeping: the order key of the event
that last set the values they guard (see ``projections.sharing.fold``).
They let events apply in any order of arrival with the same result.
"""

from __future__ import annotations

SCHEMA = """
CREATE TABLE IF NOT EXISTS sharing_resources (
    code TEXT PRIMARY KEY,            -- resource code (资源代码)
    name TEXT,
    provider TEXT,                    -- department code of the provider (提供方)
    provider_name TEXT,
    share_type TEXT,                  -- unconditional | conditional | none (共享类型)
    share_condition TEXT,
    open_type TEXT,                   -- open | conditional | closed (开放属性)
    update_cycle TEXT,                -- 更新周期 as the catalogue states it
    format TEXT,
    data_items TEXT NOT NULL,         -- JSON list of {"name", "data_type"} (信息项)
    state TEXT NOT NULL,              -- published | withdrawn
    state_at TEXT NOT NULL,
    published_at TEXT,                -- first publication
    region TEXT NOT NULL,
    events INTEGER NOT NULL,
    last_event_at TEXT NOT NULL,      -- latest business time of the entity's events
    state_version TEXT NOT NULL,
    field_versions TEXT NOT NULL      -- JSON: field name -> order key of the event that set it
);
CREATE INDEX IF NOT EXISTS sharing_resources_provider ON sharing_resources (provider);
CREATE INDEX IF NOT EXISTS sharing_resources_share_type ON sharing_resources (share_type);

CREATE TABLE IF NOT EXISTS sharing_requests (
    request_id TEXT PRIMARY KEY,
    resource_code TEXT,               -- NULL until the submission arrives
    requester TEXT,                   -- department code of the requester
    requester_name TEXT,
    purpose TEXT,
    data_items TEXT NOT NULL,         -- JSON list of data item names
    state TEXT NOT NULL,              -- submitted | approved | denied | delivering | revoked
    state_at TEXT NOT NULL,
    submitted_at TEXT,
    approved_at TEXT,                 -- first approval
    denied_at TEXT,                   -- latest denial
    denial_reason TEXT,
    first_delivered_at TEXT,
    last_delivered_at TEXT,
    deliveries INTEGER NOT NULL,
    delivered_records INTEGER NOT NULL,
    revoked_at TEXT,
    revoke_reason TEXT,
    approval_hours REAL,              -- submission to first approval
    approval_working_days INTEGER,
    delivery_hours REAL,              -- submission to first delivery
    delivery_working_days INTEGER,
    region TEXT NOT NULL,
    events INTEGER NOT NULL,
    last_event_at TEXT NOT NULL,      -- latest business time of the entity's events
    state_version TEXT NOT NULL,
    details_version TEXT,
    denial_version TEXT,
    revoke_version TEXT
);
CREATE INDEX IF NOT EXISTS sharing_requests_state ON sharing_requests (state, submitted_at);
CREATE INDEX IF NOT EXISTS sharing_requests_resource ON sharing_requests (resource_code);

CREATE TABLE IF NOT EXISTS sharing_objections (
    objection_id TEXT PRIMARY KEY,
    resource_code TEXT,               -- NULL until the objection itself arrives
    request_id TEXT,
    record_key_pseudonym TEXT,        -- HMAC-SM3 of the disputed record's key
    record_key_masked TEXT,
    field TEXT,
    claimed_value TEXT,               -- masked when it is an identity or mobile number
    raised_by TEXT,                   -- department code of the objecting unit
    state TEXT NOT NULL,              -- open | corrected | upheld
    state_at TEXT NOT NULL,
    raised_at TEXT,
    resolved_at TEXT,
    note TEXT,
    region TEXT NOT NULL,
    events INTEGER NOT NULL,
    last_event_at TEXT NOT NULL,      -- latest business time of the entity's events
    state_version TEXT NOT NULL,
    details_version TEXT
);
CREATE INDEX IF NOT EXISTS sharing_objections_state ON sharing_objections (state, raised_at);
CREATE INDEX IF NOT EXISTS sharing_objections_resource ON sharing_objections (resource_code);

CREATE TABLE IF NOT EXISTS sharing_events (
    event_id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,             -- resource | request | objection
    key TEXT NOT NULL,                -- resource code, request id or objection id
    seq INTEGER NOT NULL,             -- stream sequence
    type TEXT NOT NULL,               -- event type: share.request_approved, ...
    occurred_at TEXT NOT NULL,        -- business time
    recorded_at TEXT NOT NULL,
    source_system TEXT NOT NULL,
    payload TEXT NOT NULL             -- JSON; an objection's record key and identifiers masked
);
CREATE INDEX IF NOT EXISTS sharing_events_key ON sharing_events (entity, key, occurred_at);
"""

RESOURCE_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "provider",
    "provider_name",
    "share_type",
    "share_condition",
    "open_type",
    "update_cycle",
    "format",
    "data_items",
    "state",
    "state_at",
    "published_at",
    "region",
    "events",
    "last_event_at",
    "state_version",
    "field_versions",
)
"""Columns of ``sharing_resources`` in table order; ``ResourceRecord`` has a field for each."""

REQUEST_COLUMNS: tuple[str, ...] = (
    "request_id",
    "resource_code",
    "requester",
    "requester_name",
    "purpose",
    "data_items",
    "state",
    "state_at",
    "submitted_at",
    "approved_at",
    "denied_at",
    "denial_reason",
    "first_delivered_at",
    "last_delivered_at",
    "deliveries",
    "delivered_records",
    "revoked_at",
    "revoke_reason",
    "approval_hours",
    "approval_working_days",
    "delivery_hours",
    "delivery_working_days",
    "region",
    "events",
    "last_event_at",
    "state_version",
    "details_version",
    "denial_version",
    "revoke_version",
)
"""Columns of ``sharing_requests`` in table order; ``RequestRecord`` has a field for each."""

OBJECTION_COLUMNS: tuple[str, ...] = (
    "objection_id",
    "resource_code",
    "request_id",
    "record_key_pseudonym",
    "record_key_masked",
    "field",
    "claimed_value",
    "raised_by",
    "state",
    "state_at",
    "raised_at",
    "resolved_at",
    "note",
    "region",
    "events",
    "last_event_at",
    "state_version",
    "details_version",
)
"""Columns of ``sharing_objections`` in table order; ``ObjectionRecord`` has a field for each."""
