"""Decoding replayed envelopes no further than a replay needs.

``contracts.envelope.decode_event`` decodes every envelope in full and
upcasts old versions. A replay that only filters by type and key, or
copies current envelopes as stored, can stop earlier: ``decode_head``
reads the type, version and key alone, and ``decode_current_version``
decodes in full only what needs no upcasting.
"""

from __future__ import annotations

import msgspec

from contracts.envelope import CURRENT_VERSIONS, Envelope

_envelope_decoder = msgspec.json.Decoder(Envelope)


def decode_current_version(data: bytes) -> Envelope | None:
    """Decode an event written in the current schema version of its type; None otherwise.

    None means the bytes need ``decode_event``: they hold an older version
    for the upcasters, or they are not a valid event at all.
    """
    try:
        event = _envelope_decoder.decode(data)
    except msgspec.DecodeError:
        return None
    return event if event.version == CURRENT_VERSIONS.get(event.type) else None


class EventHead(msgspec.Struct, frozen=True):
    """The envelope members a replay filters on, decoded without the payload."""

    type: str
    version: int
    key: str

    @property
    def current(self) -> bool:
        """Whether the event is in the current schema version of its type."""
        return self.version == CURRENT_VERSIONS.get(self.type)


_head_decoder = msgspec.json.Decoder(EventHead)


def decode_head(data: bytes) -> EventHead | None:
    """Decode only the type, version and key of an event; None when the bytes lack them."""
    try:
        return _head_decoder.decode(data)
    except msgspec.DecodeError:
        return None

