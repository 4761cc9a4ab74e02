"""The event envelope that wraps every payload on the bus, and its codec.

Events travel as JSON. Decoding goes through the upcasters so that every
schema version ever published stays readable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec

from contracts.case import CASE_VERSIONS, CasePayload
from contracts.hall import HALL_VERSIONS, HallPayload
from contracts.item import ITEM_VERSIONS, ItemPayload
from contracts.review import REVIEW_VERSIONS, ReviewPayload
from contracts.share import SHARE_VERSIONS, SharePayload

Payload = CasePayload | ItemPayload | ReviewPayload | HallPayload | SharePayload

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
"""A datetime that must carry its time zone; a naive one fails decoding."""

CURRENT_VERSIONS: dict[str, int] = {
    **CASE_VERSIONS,
    **ITEM_VERSIONS,
    **REVIEW_VERSIONS,
    **HALL_VERSIONS,
    **SHARE_VERSIONS,
}
"""Schema version each event type is written with today."""


class Source(msgspec.Struct, frozen=True, kw_only=True):
    """Origin of an event: the adapter instance and the system behind it."""

    adapter: str
    system: str


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """One immutable event: metadata shared by all families plus a typed payload."""

    id: str
    """Deterministic for ingested records (see ``contracts.ids``), UUIDv7 otherwise."""
    type: str
    version: int
    occurred_at: AwareDatetime
    """Business time, timezone-aware; department times without a zone are Asia/Shanghai."""
    recorded_at: AwareDatetime
    source: Source
    region: str
    """6-digit GB/T 2260 region code."""
    department: str
    key: str
    """Entity key: the unified case code (统一办件编码), the item implementation code,
    the review id, the booking or ticket id, or the resource, request or objection id."""
    correlation_id: str
    causation_id: str | None = None
    payload: Payload


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""Upcaster per (event type, version it reads): it returns the envelope one version newer."""


class EventDecodeError(ValueError):
    """Raised when bytes are not a valid event of any known type and version."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)
_raw_decoder = msgspec.json.Decoder(dict[str, Any])


def make_envelope(payload: Payload, **fields: Any) -> Envelope:
    """Build an envelope whose type and version follow from the payload."""
    event_type = str(type(payload).__struct_config__.tag)
    return Envelope(
        type=event_type, version=CURRENT_VERSIONS[event_type], payload=payload, **fields
    )


def encode_event(event: Envelope) -> bytes:
    """Encode an event as JSON bytes for the wire."""
    return _encoder.encode(event)


def decode_event(data: bytes) -> Envelope:
    """Decode an event of any known version, upcasting old versions.

    Raises:
        EventDecodeError: the bytes are not JSON, name an unknown type, or do
            not match the payload contract of their version.
    """
    try:
        event = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        return _decode_old_version(data, exc)
    if event.version == CURRENT_VERSIONS.get(event.type):
        return event
    return _decode_old_version(data, None)


def _decode_old_version(data: bytes, first_error: msgspec.DecodeError | None) -> Envelope:
    try:
        raw = _raw_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise EventDecodeError(f"not a JSON object: {exc}") from exc

    event_type = raw.get("type")
    version = raw.get("version")
    if not isinstance(event_type, str) or event_type not in CURRENT_VERSIONS:
        raise EventDecodeError(f"unknown event type {event_type!r}")
    if not isinstance(version, int):
        raise EventDecodeError(f"event version {version!r} is not an integer")
    current = CURRENT_VERSIONS[event_type]
    if version > current:
        raise EventDecodeError(
            f"{event_type} version {version} is newer than this release reads ({current})"
        )

    while version < current:
        upcaster = UPCASTERS.get((event_type, version))
        if upcaster is None:
            raise EventDecodeError(f"no upcaster from {event_type} version {version}")
        raw = upcaster(raw)
        version = raw["version"]

    try:
        return msgspec.convert(raw, Envelope, strict=False)
    except msgspec.ValidationError as exc:
        detail = first_error if first_error is not None else exc
        raise EventDecodeError(f"{event_type} v{current} contract violated: {detail}") from exc
