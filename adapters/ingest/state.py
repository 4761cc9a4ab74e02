"""Write-side state of each case: which event types are already on the bus.

Sequence rules consult this state, never a read model, which may lag. It
lives in the ``ZW_CASE_STATE`` bucket, written after the events it describes
were acknowledged, and is cached per run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.kvget import get_many
from adapters.ingest.lru import BoundedCache
from bus.publisher import Publisher
from bus.streams import CASE_STATE
from contracts.case import TERMINAL_EVENTS

CACHE_CASES = 200_000


class CaseState(msgspec.Struct, kw_only=True):
    """Event types of a case on the bus, and the business time it was closed at, if so."""

    types: set[str] = msgspec.field(default_factory=set)
    closed_at: datetime | None = None
    """Business time of the first terminal event (not accepted, withdrawn)."""


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(CaseState).decode


class CaseStates:
    """Event types per unified code, loaded lazily and written back per batch."""

    def __init__(self, js: JetStreamContext, publisher: Publisher) -> None:
        self._js = js
        self._publisher = publisher
        self._bucket: KeyValue | None = None
        self._cache: BoundedCache[str, CaseState] = BoundedCache(CACHE_CASES)
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
            self._cache.put(code, _decode(entry[0]) if entry else CaseState())

    def state(self, code: str) -> CaseState:
        """State of the case; call ``load`` for the code first."""
        known = self._cache.get(code)
        if known is None:
            known = CaseState()
            self._cache.put(code, known)
        return known

    def types(self, code: str) -> set[str]:
        """Event types of the case on the bus."""
        return self.state(code).types

    def add(self, code: str, event_type: str, occurred_at: datetime) -> None:
        """Record an event of the case that is being published."""
        state = self.state(code)
        state.types.add(event_type)
        if event_type in TERMINAL_EVENTS and (
            state.closed_at is None or occurred_at < state.closed_at
        ):
            state.closed_at = occurred_at
        self._dirty.add(code)

    async def flush(self) -> None:
        """Write the changed states; awaits their acknowledgements."""
        futures = [
            await self._publisher.publish(f"$KV.{CASE_STATE}.{code}", _encode(self.state(code)))
            for code in self._dirty
        ]
        self._dirty.clear()
        for future in futures:
            await future
