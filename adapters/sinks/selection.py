"""Selection of the messages of a stream that a sink receives.

Family and region become the subject filters of the sink's consumers, so
the server sends only matching subjects. Department and event type are
checked here, on the few envelope fields that ``EventHead`` decodes; the
rest of the envelope passes through untouched. A message that is not an
event envelope cannot be delivered with an idempotency key, so it is
marked undecodable and goes to the dead letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from nats.aio.msg import Msg

from adapters.sinks.config import SinkConfig
from contracts.subjects import region_filter


class EventHead(msgspec.Struct, frozen=True):
    """The envelope fields a sink needs; the others are skipped when decoding."""

    id: str
    type: str
    department: str = ""


_head_decoder = msgspec.json.Decoder(EventHead)


@dataclass(frozen=True)
class Incoming:
    """One fetched message and what the sink does with it."""

    seq: int
    """Stream sequence."""
    subject: str
    data: bytes
    stored_at: datetime
    """When the stream stored the message (UTC)."""
    head: EventHead | None
    """Decoded envelope fields; None when the message is not an event envelope."""
    kept: bool
    """True when the event passes the department and type filters."""
    problem: str = ""
    """Reason the message could not be decoded; empty otherwise."""
    message: Msg | None = None
    """The JetStream message, to tell the server that work on it is in progress."""


def subject_filters(sink: SinkConfig, family: str) -> list[str]:
    """Return the consumer subject filters of ``sink`` on the stream of ``family``."""
    regions = sink.regions
    if not regions:
        return [region_filter(family)]
    return [region_filter(family, region) for region in regions]


def classify(sink: SinkConfig, messages: list[Msg]) -> list[Incoming]:
    """Decode the envelope head of each message and apply the department and type filters."""
    departments = frozenset(sink.filter.departments)
    types = frozenset(sink.filter.types)
    incoming: list[Incoming] = []
    for message in messages:
        metadata = message.metadata
        fields: dict[str, Any] = {
            "seq": int(metadata.sequence.stream),
            "subject": message.subject,
            "data": message.data,
            "stored_at": metadata.timestamp,
            "message": message,
        }
        try:
            head = _head_decoder.decode(message.data)
        except msgspec.DecodeError as exc:
            incoming.append(Incoming(**fields, head=None, kept=False, problem=str(exc)))
            continue
        if not head.id:
            problem = "envelope id is empty"
            incoming.append(Incoming(**fields, head=None, kept=False, problem=problem))
            continue
        kept = (not departments or head.department in departments) and (
            not types or head.type in types
        )
        incoming.append(Incoming(**fields, head=head, kept=kept))
    return incoming
