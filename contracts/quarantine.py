"""Quarantine (隔离区) entries: records that failed validation, kept with their reasons.

An entry contains everything a department needs to correct and re-send the
record. A later valid re-send of the same record resolves the entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One failed rule: its stable code, the field and value concerned, and detail."""

    code: str
    field: str | None = None
    value: str | None = None
    """Offending value; identity numbers and phone numbers are masked."""
    detail: str | None = None


class RecordPosition(msgspec.Struct, frozen=True, kw_only=True):
    """Place of a record in its source: a file and record number, or a watermark."""

    location: str
    record: int
    line: int | None = None


class QuarantineEntry(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="quarantine.entry"
):
    """A rejected record with its reasons and the original text."""

    entry_id: str
    source_id: str
    system: str
    family: str
    record_key: str
    """Identity of the record regardless of its content, used to match a corrected re-send."""
    event_type: str | None
    region: str | None
    position: RecordPosition
    reasons: tuple[Reason, ...]
    original: str
    quarantined_at: datetime


class QuarantineResolved(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="quarantine.resolved"
):
    """A quarantined record was corrected and ingested, or released by an operator."""

    entry_id: str
    record_key: str
    source_id: str
    resolution: Literal["corrected", "released"]
    event_id: str | None = None
    resolved_at: datetime


QuarantineMessage = QuarantineEntry | QuarantineResolved

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(QuarantineMessage)


def encode_quarantine(message: QuarantineMessage) -> bytes:
    """Encode a quarantine message as JSON."""
    return _encoder.encode(message)


def decode_quarantine(data: bytes) -> QuarantineMessage:
    """Decode a quarantine message; raises ``msgspec.DecodeError`` on bad input."""
    return _decoder.decode(data)
