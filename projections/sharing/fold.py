"""Folding one data-sharing event into the row of its resource, request or objection.

Every step keeps the row independent of the order in which events arrive.
Times such as ``submitted_at`` keep the earliest (or latest) value, and
counts add one per distinct event. The values an event sets are guarded by
the order keys of ``projections.sharing.records``. A ``resource_changed``
carries only the fields that changed; each catalogue field remembers the
order key of the event that set it, so a late earlier change does not
overwrite a later one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from contracts.envelope import Envelope
from contracts.identifiers import check_id_card, check_phone, mask_identifier
from contracts.share import (
    ObjectionRaised,
    ObjectionResolved,
    RequestDelivered,
    RequestDenied,
    RequestRevoked,
    RequestSubmitted,
    ResourceChanged,
    ResourcePublished,
    SharePayload,
)
from projections.pseudonym import Pseudonymizer
from projections.sharing.records import (
    OBJECTION_OPEN,
    REQUEST_STATES,
    RESOURCE_STATES,
    ObjectionRecord,
    RequestRecord,
    ResourceRecord,
    earliest,
    latest,
    state_version,
    stored_date,
    time_version,
)
from projections.times import business_time
from projections.workdays import working_days_between

_HOUR_S = 3600.0


def share_payload(event: Envelope) -> SharePayload:
    """Return the event's payload, which ``SharingProjection.check`` proved is a sharing one."""
    payload = event.payload
    if not isinstance(payload, SharePayload):
        raise TypeError(f"event {event.id} of type {event.type} is not a data-sharing event")
    return payload


def is_personal_identifier(value: str) -> bool:
    """Tell whether ``value`` is a valid resident identity number or mobile number."""
    return check_id_card(value) is None or check_phone(value) is None


def masked_value(value: str) -> str:
    """Return ``value`` masked when it is a personal identifier, else unchanged."""
    return mask_identifier(value) if is_personal_identifier(value) else value


def _touch(record: ResourceRecord | RequestRecord | ObjectionRecord, at: str) -> None:
    record.events += 1
    record.last_event_at = latest(record.last_event_at or None, at)


# --- resources ---------------------------------------------------------------


def _catalogue_values(
    payload: ResourcePublished | ResourceChanged, region: str
) -> dict[str, Any]:
    """Return the catalogue fields an event sets: all of them, or those a change gives."""
    names = (
        "name",
        "share_type",
        "share_condition",
        "open_type",
        "update_cycle",
        "format",
        "data_items",
    )
    values = {name: getattr(payload, name) for name in names}
    if isinstance(payload, ResourcePublished):
        values["provider"] = payload.provider
        values["provider_name"] = payload.provider_name
        values["region"] = region
        return values
    return {name: value for name, value in values.items() if value is not None}


def fold_resource(record: ResourceRecord, event: Envelope) -> None:
    """Fold one catalogue event into the row of its resource."""
    at = business_time(event.occurred_at)
    _touch(record, at)
    payload = share_payload(event)

    if isinstance(payload, ResourcePublished | ResourceChanged):
        version = time_version(at, event.type, event.id)
        versions: dict[str, str] = msgspec.json.decode(record.field_versions)
        for name, value in _catalogue_values(payload, event.region).items():
            if version <= versions.get(name, ""):
                continue
            versions[name] = version
            if name == "data_items":
                value = msgspec.json.encode(value).decode()
            setattr(record, name, value)
        record.field_versions = msgspec.json.encode(dict(sorted(versions.items()))).decode()
    if isinstance(payload, ResourcePublished):
        record.published_at = earliest(record.published_at, at)

    state = RESOURCE_STATES.get(event.type)
    version = state_version(at, event.type, event.id)
    if state is not None and version > record.state_version:
        record.state = state
        record.state_at = at
        record.state_version = version
    elif not record.state_version:
        # Only changes have arrived. A change needs its publication on the bus
        # first (SHARE_PREDECESSORS), so the resource counts as published since
        # the earliest change until the publication itself arrives.
        record.state_at = earliest(record.state_at or None, at)


# --- requests ----------------------------------------------------------------


def fold_request(record: RequestRecord, event: Envelope) -> None:
    """Fold one request event into the row of its request; timings are set by the caller."""
    at = business_time(event.occurred_at)
    _touch(record, at)
    payload = share_payload(event)
    version = time_version(at, event.type, event.id)

    if isinstance(payload, RequestSubmitted):
        record.submitted_at = earliest(record.submitted_at, at)
        if version > (record.details_version or ""):
            record.details_version = version
            record.region = event.region
            record.resource_code = payload.resource_code
            record.requester = payload.requester
            record.requester_name = payload.requester_name
            record.purpose = payload.purpose
            record.data_items = msgspec.json.encode(list(payload.data_items)).decode()
    elif event.type == "share.request_approved":
        record.approved_at = earliest(record.approved_at, at)
    elif isinstance(payload, RequestDenied):
        if version > (record.denial_version or ""):
            record.denial_version = version
            record.denied_at = at
            record.denial_reason = payload.reason
    elif isinstance(payload, RequestDelivered):
        record.deliveries += 1
        record.delivered_records += payload.count
        record.first_delivered_at = earliest(record.first_delivered_at, at)
        record.last_delivered_at = latest(record.last_delivered_at, at)
    elif isinstance(payload, RequestRevoked) and version > (record.revoke_version or ""):
        record.revoke_version = version
        record.revoked_at = at
        record.revoke_reason = payload.reason

    state = state_version(at, event.type, event.id)
    if state > record.state_version:
        record.state = REQUEST_STATES[event.type]
        record.state_at = at
        record.state_version = state


def hours_between(start: str, end: str) -> float:
    """Return the clock hours from one stored time to another."""
    elapsed = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    return elapsed.total_seconds() / _HOUR_S


def set_timings(record: RequestRecord) -> None:
    """Compute the time from submission to first approval and to first delivery.

    Hours are elapsed clock hours. Working days count the working days after
    the submission date up to and including the approval (or delivery) date,
    as ``projections.workdays.working_days_between`` does, so an approval on
    the day of submission takes 0 working days. A request whose submission
    has not arrived has no timings. An approval dated before its submission
    gives negative hours and 0 working days, kept so that the error shows.
    """
    submitted = record.submitted_at
    record.approval_hours = record.approval_working_days = None
    record.delivery_hours = record.delivery_working_days = None
    if submitted is None:
        return
    if record.approved_at is not None:
        record.approval_hours = hours_between(submitted, record.approved_at)
        record.approval_working_days = working_days_between(
            stored_date(submitted), stored_date(record.approved_at)
        )
    if record.first_delivered_at is not None:
        record.delivery_hours = hours_between(submitted, record.first_delivered_at)
        record.delivery_working_days = working_days_between(
            stored_date(submitted), stored_date(record.first_delivered_at)
        )


# --- objections --------------------------------------------------------------


def fold_objection(record: ObjectionRecord, event: Envelope, pseudonymizer: Pseudonymizer) -> None:
    """Fold one objection event into the row of its objection."""
    at = business_time(event.occurred_at)
    _touch(record, at)
    payload = share_payload(event)

    if isinstance(payload, ObjectionRaised):
        record.raised_at = earliest(record.raised_at, at)
        version = time_version(at, event.type, event.id)
        if version > (record.details_version or ""):
            record.details_version = version
            record.region = event.region
            record.resource_code = payload.resource_code
            record.request_id = payload.request_id
            record.record_key_pseudonym = pseudonymizer.pseudonym(payload.record_key)
            record.record_key_masked = mask_identifier(payload.record_key)
            record.field = payload.field
            record.claimed_value = masked_value(payload.claimed_value)
            record.raised_by = payload.raised_by

    state = state_version(at, event.type, event.id)
    if state <= record.state_version:
        return
    record.state_version = state
    record.state_at = at
    if isinstance(payload, ObjectionResolved):
        record.state = payload.outcome
        record.resolved_at = at
        record.note = payload.note
    else:
        record.state = OBJECTION_OPEN
        record.resolved_at = None
        record.note = None
