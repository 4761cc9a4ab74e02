"""Write-side state of each case: which event types are already on the bus.

Sequence rules consult this state, never a read model, which may lag. It
lives in the ``ZW_CASE_STATE`` bucket, written after the events it describes
were acknowledged, and is cached per run.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.kvget import get_many
from adapters.ingest.lru import BoundedCache
from bus.publisher import Publisher
from bus.streams import CASE_STATE

CACHE_CASES = 200_000

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(list[str]).decode


class CaseStates:
    """Event types per unified code, loaded lazily and written back per batch."""

    def __init__(self, js: JetStreamContext, publisher: Publisher) -> None:
        self._js = js
        self._publisher = publisher
        self._bucket: KeyValue | None = None
        self._cache: BoundedCache[str, set[str]] = BoundedCache(CACHE_CASES)
        self._dirty: set[str] = set()

    async def load(self, codes: Iterable[str]) -> None:
        """Make sure the state of each code is in the cache."""
        missing = [code for code in dict.fromkeys(codes) if code not in self._cache]
        if not missing:
            return
        if self._bucket is None:
            self._bucket = await self._js.key_value(CASE_STATE)
        stored = await get_many(self._bucket, missing)
        for code in missing:
            entry = stored.get(code)
            self._cache.put(code, set(_decode(entry[0])) if entry else set())

    def types(self, code: str) -> set[str]:
        """Event types of the case; call ``load`` for the code first."""
        known = self._cache.get(code)
        if known is None:
            known = set()
            self._cache.put(code, known)
        return known

    def add(self, code: str, event_type: str) -> None:
        self.types(code).add(event_type)
        self._dirty.add(code)

    async def flush(self) -> None:
        """Write the changed states; awaits their acknowledgements."""
        futures = [
            await self._publisher.publish(
                f"$KV.{CASE_STATE}.{code}", _encode(sorted(self.types(code)))
            )
            for code in self._dirty
        ]
        self._dirty.clear()
        for future in futures:
            await future
