"""Masking of personal identifiers in exported history.

The domain streams keep identity numbers, phone numbers and rater and
booking references as the departments sent them. An analyst's export
shows them masked (``5116**********123X``) unless ``--unmask`` is given.
Only events of the types below carry such fields, so only those are
decoded; every other event is written as stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from contracts.identifiers import mask_identifier
from replay.envelopes import decode_head
from replay.filters import ReplayedEvent

PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "case.submitted": ("applicant_id", "phone"),
    "review.rated": ("rater",),
    "hall.booking_created": ("person",),
}
"""Payload fields that identify a person, by event type."""


def _event_type(item: ReplayedEvent) -> str | None:
    if item.raw is not None:
        head = decode_head(item.raw)
        return None if head is None else head.type
    return item.event.type


def mask_personal(events: Sequence[ReplayedEvent]) -> list[ReplayedEvent]:
    """Return the events with the personal fields of their payloads masked."""
    masked: list[ReplayedEvent] = []
    for item in events:
        event_type = _event_type(item)
        fields = PERSONAL_FIELDS.get(event_type or "")
        if not fields:
            masked.append(item)
            continue
        event = item.event
        changes = {
            name: mask_identifier(value)
            for name in fields
            if isinstance(value := getattr(event.payload, name, None), str) and value
        }
        if not changes:
            masked.append(item)
            continue
        payload = msgspec.structs.replace(event.payload, **changes)
        masked.append(
            ReplayedEvent(
                item.seq,
                item.subject,
                item.stored_ns,
                msgspec.structs.replace(event, payload=payload),
            )
        )
    return masked
