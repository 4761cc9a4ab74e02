"""Write-side state of each case: its events on the bus, their types, and its closing time.

Sequence rules and duplicate detection consult this state, never a read
model, which may lag. It lives in the ``ZW_CASE_STATE`` bucket, one entry per
unified case code, written after the events it lists were acknowledged.
The entry maps every event id of the case to its stream sequence, so a
record re-sent months later is recognised as "duplicate of event N" without
a per-event index, at the cost of one read and one write per case and batch.

Writes are compare-and-set on the entry's revision: when two processes
change the same case, the loser reloads the entry, merges its own additions
(a union of events and types, the earliest closing time) and writes again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

import msgspec
import structlog
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.kvget import get_many
from adapters.ingest.lru import BoundedCache
from bus.errors import StreamError
from bus.i18n import N_
from bus.publisher import WRONG_LAST_SEQUENCE, PubAck, Publisher
from bus.streams import CASE_STATE
from contracts.case import TERMINAL_EVENTS

log = structlog.get_logger(__name__)

CACHE_CASES = 100_000
WRITE_ATTEMPTS = 5


class CaseState(msgspec.Struct, kw_only=True):
    """Events of a case on the bus and the business time it was closed at, if so."""

    events: dict[str, int] = msgspec.field(default_factory=dict)
    """Stream sequence of each event id of the case."""
    types: set[str] = msgspec.field(default_factory=set)
    closed_at: datetime | None = None
    """Business time of the earliest terminal event (not accepted, withdrawn)."""

    def merge(self, other: CaseState) -> None:
        """Add another writer's view of the same case to this one."""
        self.events.update(other.events)
        self.types |= other.types
        if other.closed_at is not None and (
            self.closed_at is None or other.closed_at < self.closed_at
        ):
            self.closed_at = other.closed_at


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(CaseState).decode


class CaseStates:
    """Case states loaded lazily per batch, cached per run and written back per batch."""

    def __init__(self, js: JetStreamContext, publisher: Publisher) -> None:
        self._js = js
        self._publisher = publisher
        self._bucket: KeyValue | None = None
        self._cache: BoundedCache[str, tuple[CaseState, int]] = BoundedCache(CACHE_CASES)
        self._dirty: dict[str, CaseState] = {}

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._js.key_value(CASE_STATE)
        return self._bucket

    async def load(self, codes: Iterable[str]) -> None:
        """Make sure the state of each code is in the cache."""
        missing = [code for code in dict.fromkeys(codes) if code not in self._cache]
        if not missing:
            return
        stored = await get_many(await self._kv(), missing)
        for code in missing:
            entry = stored.get(code)
            if entry is None:
                self._cache.put(code, (CaseState(), 0))
            else:
                self._cache.put(code, (_decode(entry[0]), entry[1]))

    def state(self, code: str) -> CaseState:
        """State of the case; call ``load`` for the code first."""
        cached = self._cache.get(code) or self._dirty_entry(code)
        return cached[0]

    def _dirty_entry(self, code: str) -> tuple[CaseState, int]:
        # A case evicted from the cache while its changes wait to be written
        # keeps them; a case never loaded starts empty.
        state = self._dirty.get(code, CaseState())
        self._cache.put(code, (state, 0))
        return state, 0

    def add(self, code: str, event_type: str, occurred_at: datetime) -> None:
        """Record an event of the case that is being published."""
        state = self.state(code)
        state.types.add(event_type)
        if event_type in TERMINAL_EVENTS and (
            state.closed_at is None or occurred_at < state.closed_at
        ):
            state.closed_at = occurred_at
        self._dirty[code] = state

    def stored(self, code: str, event_id: str, sequence: int) -> None:
        """Record the stream sequence an event of the case was stored at."""
        state = self.state(code)
        state.events[event_id] = sequence
        self._dirty[code] = state

    async def flush(self) -> None:
        """Write every changed state with compare-and-set; awaits the acknowledgements."""
        pending = dict(self._dirty)
        self._dirty.clear()
        for _attempt in range(WRITE_ATTEMPTS):
            acks = await self._write(pending)
            conflicts = [code for code, ack in acks.items() if not ack.ok]
            for code, ack in acks.items():
                if ack.ok:
                    self._cache.put(code, (pending[code], ack.seq))
                elif ack.error_code != WRONG_LAST_SEQUENCE:
                    raise StreamError(
                        N_("Writing the state of case {code} failed: {detail}"),
                        code=code,
                        detail=ack.error,
                    )
            if not conflicts:
                return
            log.info("case_state_conflict", cases=len(conflicts))
            pending = await self._merge_concurrent(conflicts, pending)
        raise StreamError(
            N_(
                "The state of {count} cases kept changing under another writer after "
                "{attempts} attempts; ingest this source again later."
            ),
            count=len(pending),
            attempts=WRITE_ATTEMPTS,
        )

    async def _write(self, states: dict[str, CaseState]) -> dict[str, PubAck]:
        futures: dict[str, asyncio.Future[PubAck]] = {}
        for code, state in states.items():
            cached = self._cache.get(code)
            revision = cached[1] if cached is not None else 0
            futures[code] = await self._publisher.publish(
                f"$KV.{CASE_STATE}.{code}",
                _encode(state),
                {"Nats-Expected-Last-Subject-Sequence": str(revision)},
            )
        return {code: await future for code, future in futures.items()}

    async def _merge_concurrent(
        self, codes: list[str], pending: dict[str, CaseState]
    ) -> dict[str, CaseState]:
        stored = await get_many(await self._kv(), codes)
        merged: dict[str, CaseState] = {}
        for code in codes:
            state = pending[code]
            entry = stored.get(code)
            revision = 0
            if entry is not None:
                state.merge(_decode(entry[0]))
                revision = entry[1]
            self._cache.put(code, (state, revision))
            merged[code] = state
        return merged
