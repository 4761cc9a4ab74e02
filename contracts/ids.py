"""Event identifiers: deterministic for ingested records, time-ordered otherwise."""

from __future__ import annotations

import os
import time
import uuid

EVENT_NAMESPACE = uuid.UUID("6f1c2a8e-3d4b-5e7f-9a0b-1c2d3e4f5a6b")
"""UUIDv5 namespace of zwbus event ids; changing it would re-key every event."""


def ingested_event_id(system: str, record_key: str, version: str) -> str:
    """Derive the id of an ingested record's event.

    The same record sent twice by a department (same system, record key and
    data version) gets the same id, so the bus stores it once.
    """
    return uuid.uuid5(EVENT_NAMESPACE, f"{system}\x1f{record_key}\x1f{version}").hex


def new_event_id() -> str:
    """Return a UUIDv7 (RFC 9562) for events the bus itself originates."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 76) - 1)
    value &= ~(0x3 << 62)
    value |= 0x2 << 62
    return uuid.UUID(int=value).hex
