"""Source positions: how far each input has been ingested.

A position advances only after every record up to it has an acknowledged
outcome, so an interrupted run resumes at the first record without one.
Files are keyed by their content hash: the same file dropped again under
another name is recognised, and a changed file is read anew.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.keys import kv_token
from bus.streams import SOURCES


class Position(msgspec.Struct, kw_only=True):
    """Progress through one input of one source."""

    location: str
    content_hash: str
    records_done: int = 0
    complete: bool = False
    updated_at: datetime | None = None


class Positions:
    """Reads and writes positions in the ``ZW_SOURCES`` bucket."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._bucket: KeyValue | None = None

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._js.key_value(SOURCES)
        return self._bucket

    @staticmethod
    def key(source_id: str, content_hash: str) -> str:
        return f"pos.{kv_token(source_id)}.{content_hash[:32]}"

    async def get(self, source_id: str, content_hash: str) -> Position | None:
        bucket = await self._kv()
        try:
            entry = await bucket.get(self.key(source_id, content_hash))
        except nats.js.errors.KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value or b"{}", type=Position)

    async def put(self, source_id: str, position: Position) -> None:
        bucket = await self._kv()
        await bucket.put(self.key(source_id, position.content_hash), msgspec.json.encode(position))
