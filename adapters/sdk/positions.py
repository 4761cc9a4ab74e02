"""Positions of one source in the ``ZW_SOURCES`` bucket, under ``pos.<source id>.<name>``.

The file source stores one position per file under the first 32 hex digits
of the file's content hash; the SQL poller stores one under ``watermark``.
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.keys import kv_token
from bus.streams import SOURCES

T = TypeVar("T")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class PositionBook:
    """Reads and writes the positions of one source."""

    def __init__(self, js: JetStreamContext, source_id: str) -> None:
        self._js = js
        self._source_id = source_id
        self._bucket: KeyValue | None = None

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._js.key_value(SOURCES)
        return self._bucket

    def key(self, name: str) -> str:
        """Return the bucket key of position ``name``; raises ``ValueError`` for a bad name."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"position name {name!r} is invalid: use 1-64 of [A-Za-z0-9_-]")
        return f"pos.{kv_token(self._source_id)}.{name}"

    async def get(self, name: str, kind: type[T]) -> T | None:
        """Return the stored position ``name`` decoded as ``kind``, or None before the first."""
        bucket = await self._kv()
        try:
            entry = await bucket.get(self.key(name))
        except nats.js.errors.KeyNotFoundError:
            return None
        return msgspec.json.decode(entry.value or b"null", type=kind)

    async def put(self, name: str, value: object) -> None:
        """Store position ``name``; the server has it when this returns."""
        bucket = await self._kv()
        await bucket.put(self.key(name), msgspec.json.encode(value))
