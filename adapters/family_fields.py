"""The fields a review, hall or sharing profile maps, and what the contracts require of them.

Each field has a kind that decides its normalisation: codes lose spaces and
full-width forms, free text is only trimmed, and coded fields (levels and
choices) go through the profile's ``[codes.<field>]`` dictionary. Which
fields an event needs, and which values a choice allows, are read from the
payload contracts, so the profile check and the record check follow them.
"""

from __future__ import annotations

import enum
import functools
from typing import Any, cast

import msgspec.inspect

from contracts.hall import HALL_EVENT_NAMES, HALL_PAYLOADS
from contracts.review import REVIEW_EVENT_NAMES, REVIEW_PAYLOADS
from contracts.share import SHARE_EVENT_NAMES, SHARE_PAYLOADS


class Kind(enum.Enum):
    """Normalisation of a field's source value."""

    CODE = "code"
    """Identifier or code: NFKC, no whitespace."""
    ID = "id"
    """Person reference that may be an identity number: a code with a trailing X upper-cased."""
    TEXT = "text"
    """Free text: outer whitespace trimmed."""
    TIME = "time"
    """Business time: an aware datetime in the profile's zone."""
    DATE = "date"
    CLOCK = "clock"
    """Time of day."""
    BOOL = "bool"
    INT = "int"
    LEVEL = "level"
    """Rating level 1-5, through the field's code dictionary when the profile has one."""
    CHOICE = "choice"
    """One of the contract's literal values, through the field's code dictionary."""
    LIST = "list"
    """Several values in one column."""


FAMILIES = ("review", "hall", "share")

COMMON_FIELDS: dict[str, Kind] = {
    "event": Kind.CODE,
    "event_time": Kind.TIME,
    "region": Kind.CODE,
    "department_code": Kind.CODE,
    "record_key": Kind.CODE,
    "remark": Kind.TEXT,
}
"""Fields of every family: the event code, its time, the envelope's region and
department, the source's own row id and a remark."""

REQUIRED_MAPPINGS = ("event", "event_time", "region")

FAMILY_FIELDS: dict[str, dict[str, Kind]] = {
    "review": {
        "review_id": Kind.CODE,
        "case_code": Kind.CODE,
        "local_no": Kind.CODE,
        "item_code": Kind.CODE,
        "level": Kind.LEVEL,
        "channel": Kind.CHOICE,
        "rater": Kind.ID,
        "rater_type": Kind.CHOICE,
        "reason_tags": Kind.LIST,
        "text": Kind.TEXT,
        "is_default": Kind.BOOL,
        "hall": Kind.CODE,
        "window": Kind.CODE,
        "staff": Kind.TEXT,
        "valid": Kind.BOOL,
        "assignee": Kind.CODE,
        "satisfaction": Kind.LEVEL,
    },
    "hall": {
        "hall": Kind.CODE,
        "booking_id": Kind.CODE,
        "ticket_id": Kind.CODE,
        "item_code": Kind.CODE,
        "channel": Kind.CHOICE,
        "slot_date": Kind.DATE,
        "slot_start": Kind.CLOCK,
        "slot_end": Kind.CLOCK,
        "person": Kind.ID,
        "ticket_no": Kind.CODE,
        "queue": Kind.TEXT,
        "priority": Kind.BOOL,
        "window": Kind.CODE,
        "staff": Kind.TEXT,
        "case_code": Kind.CODE,
        "local_no": Kind.CODE,
    },
    "share": {
        "resource_code": Kind.CODE,
        "name": Kind.TEXT,
        "provider": Kind.CODE,
        "provider_name": Kind.TEXT,
        "share_type": Kind.CHOICE,
        "share_condition": Kind.TEXT,
        "open_type": Kind.CHOICE,
        "update_cycle": Kind.TEXT,
        "format": Kind.TEXT,
        "data_items": Kind.LIST,
        "request_id": Kind.CODE,
        "requester": Kind.CODE,
        "requester_name": Kind.TEXT,
        "purpose": Kind.TEXT,
        "reason": Kind.TEXT,
        "count": Kind.INT,
        "channel": Kind.CHOICE,
        "objection_id": Kind.CODE,
        "disputed_record_key": Kind.CODE,
        "field": Kind.TEXT,
        "claimed_value": Kind.TEXT,
        "raised_by": Kind.CODE,
        "outcome": Kind.CHOICE,
        "note": Kind.TEXT,
    },
}
"""Payload fields a profile may map, by family."""

PAYLOAD_NAME: dict[str, str] = {"disputed_record_key": "record_key"}
"""Profile names of payload fields whose contract name is taken in [fields]:
``record_key`` there is the source's own row id."""

EVENT_NAMES: dict[str, tuple[str, ...]] = {
    "review": REVIEW_EVENT_NAMES,
    "hall": HALL_EVENT_NAMES,
    "share": SHARE_EVENT_NAMES,
}

PAYLOAD_TYPES: dict[str, type[Any]] = {
    str(cls.__struct_config__.tag): cls
    for cls in (*REVIEW_PAYLOADS, *HALL_PAYLOADS, *SHARE_PAYLOADS)
}
"""Payload struct of each event type of the three families."""

COMPUTED = frozenset({"system", "review_id", "case_code", "local_no"})
"""Payload fields the ingest fills or checks itself: the system comes from the
profile, a review id from the rated case, channel and rater, and the case
reference of a rating needs either of ``case_code`` and ``local_no``."""


def profile_name(payload_field: str) -> str:
    """Return the [fields] name that maps a payload field."""
    for profile_field, payload in PAYLOAD_NAME.items():
        if payload == payload_field:
            return profile_field
    return payload_field


def field_kinds(family: str) -> dict[str, Kind]:
    """Return every field a profile of ``family`` may map, with its kind."""
    return COMMON_FIELDS | FAMILY_FIELDS[family]


def _struct_info(event_type: str) -> msgspec.inspect.StructType:
    return cast(msgspec.inspect.StructType, msgspec.inspect.type_info(PAYLOAD_TYPES[event_type]))


@functools.cache
def required_fields(event_type: str) -> tuple[str, ...]:
    """Return the [fields] names an event needs a value for, beyond the common ones."""
    return tuple(
        profile_name(field.name)
        for field in _struct_info(event_type).fields
        if field.required and field.name not in COMPUTED
    )


@functools.cache
def payload_field_names(event_type: str) -> frozenset[str]:
    """Return the contract names of the payload fields of an event type."""
    return frozenset(field.name for field in _struct_info(event_type).fields)


@functools.cache
def choices(event_type: str, field: str) -> tuple[str, ...] | None:
    """Return the literal values the event's contract allows in ``field``, or None."""
    for item in _struct_info(event_type).fields:
        if item.name == PAYLOAD_NAME.get(field, field):
            return _literal_values(item.type)
    return None


def family_choices(family: str, field: str) -> tuple[str, ...]:
    """Return the values ``field`` allows in any event of the family, in a stable order."""
    values: dict[str, None] = {}
    for name in EVENT_NAMES[family]:
        values.update(dict.fromkeys(choices(f"{family}.{name}", field) or ()))
    return tuple(values)


def _literal_values(kind: msgspec.inspect.Type) -> tuple[str, ...] | None:
    if isinstance(kind, msgspec.inspect.LiteralType):
        return tuple(str(value) for value in kind.values)
    if isinstance(kind, msgspec.inspect.UnionType):
        for member in kind.types:
            found = _literal_values(member)
            if found is not None:
                return found
    return None
