"""Reading the quarantine: every entry with its current status (open or resolved)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import structlog
from nats.js import JetStreamContext

from bus.reader import read_stream
from bus.streams import QUARANTINE
from contracts.quarantine import QuarantineEntry, QuarantineResolved, decode_quarantine
from contracts.subjects import encode_token

log = structlog.get_logger(__name__)


@dataclass
class EntryState:
    """One quarantine entry and, once resolved, how."""

    entry: QuarantineEntry
    sequence: int
    resolution: QuarantineResolved | None = None

    @property
    def is_open(self) -> bool:
        return self.resolution is None


def source_filter(source_id: str | None) -> str:
    """Subject filter of one source's quarantine entries (all sources when None)."""
    if source_id is None:
        return "zw.quarantine.>"
    return f"zw.quarantine.*.*.*.*.{encode_token(source_id)}"


async def fold_quarantine(
    js: JetStreamContext, *, source_id: str | None = None
) -> dict[str, EntryState]:
    """Read the quarantine stream and return every entry by id, in stream order."""
    entries: dict[str, EntryState] = {}
    async for message in read_stream(js, QUARANTINE, subject=source_filter(source_id)):
        try:
            decoded = decode_quarantine(message.data)
        except msgspec.DecodeError as exc:
            log.error(
                "quarantine_message_undecodable",
                subject=message.subject,
                seq=message.metadata.sequence.stream,
                error=str(exc),
            )
            continue
        if isinstance(decoded, QuarantineEntry):
            entries[decoded.entry_id] = EntryState(decoded, message.metadata.sequence.stream)
        elif decoded.entry_id in entries:
            entries[decoded.entry_id].resolution = decoded
    return entries
