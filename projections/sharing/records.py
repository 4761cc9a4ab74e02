"""Rows of the data-sharing read model and the order keys that make them arrival-independent.

Two orders decide which event's values a row keeps:

- ``time_version``: business time, then lifecycle rank (``SHARE_RANK``), then
  event id. The latest event by this order wins for details such as a
  resource's name or a denial's reason.
- ``state_version``: rank first, then business time, then event id. The
  state only moves forward: a request that is delivering does not go back
  to approved when a late approval arrives, and a revocation is final.

Both are plain strings whose text order is the order above, because the
stored business time has a fixed width and ranks are written with two
digits. The event id ends the key, so two events at the same time and rank
still order the same way whichever arrives first.
"""

from __future__ import annotations

from datetime import date

import msgspec

from contracts.share import SHARE_RANK
from projections.sharing.schema import OBJECTION_COLUMNS, REQUEST_COLUMNS, RESOURCE_COLUMNS

RESOURCE_STATES: dict[str, str] = {
    "share.resource_published": "published",
    "share.resource_withdrawn": "withdrawn",
}
"""Resource state set by each event type; ``resource_changed`` leaves the state as it is."""

REQUEST_STATES: dict[str, str] = {
    "share.request_submitted": "submitted",
    "share.request_approved": "approved",
    "share.request_denied": "denied",
    "share.request_delivered": "delivering",
    "share.request_revoked": "revoked",
}

OBJECTION_OPEN = "open"
OBJECTION_STATES: tuple[str, ...] = (OBJECTION_OPEN, "corrected", "upheld")
"""An objection is open until resolved; a resolution's outcome becomes its state."""


def stored_date(stored_time: str) -> date:
    """Return the business date of a stored time."""
    return date.fromisoformat(stored_time[:10])


def time_version(at: str, event_type: str, event_id: str) -> str:
    """Return the order key by business time, then rank, then event id."""
    return f"{at}|{SHARE_RANK[event_type]:02d}|{event_id}"


def state_version(at: str, event_type: str, event_id: str) -> str:
    """Return the order key by rank, then business time, then event id."""
    return f"{SHARE_RANK[event_type]:02d}|{at}|{event_id}"


def earliest(current: str | None, candidate: str) -> str:
    """Return the earlier of two stored times, ``candidate`` when there is no current one."""
    return candidate if current is None or candidate < current else current


def latest(current: str | None, candidate: str) -> str:
    """Return the later of two stored times, ``candidate`` when there is no current one."""
    return candidate if current is None or candidate > current else current


class ResourceRecord(msgspec.Struct, kw_only=True):
    """One row of ``sharing_resources``; field names and order follow ``RESOURCE_COLUMNS``."""

    code: str
    name: str | None = None
    provider: str | None = None
    provider_name: str | None = None
    share_type: str | None = None
    share_condition: str | None = None
    open_type: str | None = None
    update_cycle: str | None = None
    format: str | None = None
    data_items: str = "[]"
    state: str = "published"
    state_at: str = ""
    published_at: str | None = None
    region: str
    events: int = 0
    last_event_at: str = ""
    state_version: str = ""
    field_versions: str = "{}"

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``RESOURCE_COLUMNS`` order."""
        return tuple(getattr(self, column) for column in RESOURCE_COLUMNS)


class RequestRecord(msgspec.Struct, kw_only=True):
    """One row of ``sharing_requests``; field names and order follow ``REQUEST_COLUMNS``."""

    request_id: str
    resource_code: str | None = None
    requester: str | None = None
    requester_name: str | None = None
    purpose: str | None = None
    data_items: str = "[]"
    state: str = "submitted"
    state_at: str = ""
    submitted_at: str | None = None
    approved_at: str | None = None
    denied_at: str | None = None
    denial_reason: str | None = None
    first_delivered_at: str | None = None
    last_delivered_at: str | None = None
    deliveries: int = 0
    delivered_records: int = 0
    revoked_at: str | None = None
    revoke_reason: str | None = None
    approval_hours: float | None = None
    approval_working_days: int | None = None
    delivery_hours: float | None = None
    delivery_working_days: int | None = None
    region: str
    events: int = 0
    last_event_at: str = ""
    state_version: str = ""
    details_version: str | None = None
    denial_version: str | None = None
    revoke_version: str | None = None

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``REQUEST_COLUMNS`` order."""
        return tuple(getattr(self, column) for column in REQUEST_COLUMNS)


class ObjectionRecord(msgspec.Struct, kw_only=True):
    """One row of ``sharing_objections``; field names and order follow ``OBJECTION_COLUMNS``."""

    objection_id: str
    resource_code: str | None = None
    request_id: str | None = None
    record_key_pseudonym: str | None = None
    record_key_masked: str | None = None
    field: str | None = None
    claimed_value: str | None = None
    raised_by: str | None = None
    state: str = OBJECTION_OPEN
    state_at: str = ""
    raised_at: str | None = None
    resolved_at: str | None = None
    note: str | None = None
    region: str
    events: int = 0
    last_event_at: str = ""
    state_version: str = ""
    details_version: str | None = None

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``OBJECTION_COLUMNS`` order."""
        return tuple(getattr(self, column) for column in OBJECTION_COLUMNS)
