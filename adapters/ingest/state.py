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
``KeyedStates`` does this for any state kept per key; the review, hall and
sharing families keep theirs the same way (``adapters.ingest.entity_state``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Generic, Protocol, Self, TypeVar

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


class MergeableState(Protocol):
    """A state that maps event ids to stream sequences and merges another writer's view."""

    events: dict[str, int]

    def merge(self, other: Self) -> None: ...


S = TypeVar("S", bound=MergeableState)


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


class StateMessages(msgspec.Struct, frozen=True, kw_only=True):
    """Error templates of one kind of state, naming what its keys stand for."""

    write_failed: str
    """Placeholders ``{code}`` and ``{detail}``."""
    kept_changing: str
    """Placeholders ``{count}`` and ``{attempts}``."""


class KeyedStates(Generic[S]):
    """States loaded lazily per batch, cached per run and written back per batch."""

    def __init__(
        self,
        js: JetStreamContext,
        publisher: Publisher,
        *,
        bucket: str,
        state_type: type[S],
        new_state: Callable[[], S],
        messages: StateMessages,
        cache_size: int = CACHE_CASES,
    ) -> None:
        self._js = js
        self._publisher = publisher
        self._bucket_name = bucket
        self._bucket: KeyValue | None = None
        self._new_state = new_state
        self._messages = messages
        self._encode = msgspec.json.Encoder().encode
        self._decode = msgspec.json.Decoder(state_type).decode
        self._cache: BoundedCache[str, tuple[S, int]] = BoundedCache(cache_size)
        self._dirty: dict[str, S] = {}

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._js.key_value(self._bucket_name)
        return self._bucket

    async def load(self, keys: Iterable[str], *, fresh: bool = False) -> None:
        """Make sure the state of each key is in the cache.

        With ``fresh``, states without unwritten changes are read again, to
        see what other writers stored since they were cached.
        """
        wanted = dict.fromkeys(keys)
        missing = [
            key for key in wanted if key not in self._cache or (fresh and key not in self._dirty)
        ]
        if not missing:
            return
        stored = await get_many(await self._kv(), missing)
        for key in missing:
            entry = stored.get(key)
            if entry is None:
                self._cache.put(key, (self._new_state(), 0))
            else:
                self._cache.put(key, (self._decode(entry[0]), entry[1]))

    def state(self, key: str) -> S:
        """State of the key; call ``load`` for the key first."""
        cached = self._cache.get(key) or self._dirty_entry(key)
        return cached[0]

    def _dirty_entry(self, key: str) -> tuple[S, int]:
        # A state evicted from the cache while its changes wait to be written
        # keeps them; a key never loaded starts empty.
        state = self._dirty.get(key)
        if state is None:
            state = self._new_state()
        self._cache.put(key, (state, 0))
        return state, 0

    def changed(self, key: str) -> S:
        """Return the state of the key and mark it to be written by the next ``flush``."""
        state = self.state(key)
        self._dirty[key] = state
        return state

    def stored(self, key: str, event_id: str, sequence: int) -> None:
        """Record the stream sequence an event of the key was stored at."""
        self.changed(key).events[event_id] = sequence

    async def flush(self) -> None:
        """Write every changed state with compare-and-set; awaits the acknowledgements."""
        pending = dict(self._dirty)
        self._dirty.clear()
        for _attempt in range(WRITE_ATTEMPTS):
            acks = await self._write(pending)
            conflicts = [key for key, ack in acks.items() if not ack.ok]
            for key, ack in acks.items():
                if ack.ok:
                    self._cache.put(key, (pending[key], ack.seq))
                elif ack.error_code != WRONG_LAST_SEQUENCE:
                    raise StreamError(self._messages.write_failed, code=key, detail=ack.error)
            if not conflicts:
                return
            log.info("state_write_conflict", bucket=self._bucket_name, keys=len(conflicts))
            pending = await self._merge_concurrent(conflicts, pending)
        raise StreamError(self._messages.kept_changing, count=len(pending), attempts=WRITE_ATTEMPTS)

    async def _write(self, states: dict[str, S]) -> dict[str, PubAck]:
        futures: dict[str, asyncio.Future[PubAck]] = {}
        for key, state in states.items():
            cached = self._cache.get(key)
            revision = cached[1] if cached is not None else 0
            futures[key] = await self._publisher.publish(
                f"$KV.{self._bucket_name}.{key}",
                self._encode(state),
                {"Nats-Expected-Last-Subject-Sequence": str(revision)},
            )
        return {key: await future for key, future in futures.items()}

    async def _merge_concurrent(self, keys: list[str], pending: dict[str, S]) -> dict[str, S]:
        stored = await get_many(await self._kv(), keys)
        merged: dict[str, S] = {}
        for key in keys:
            state = pending[key]
            entry = stored.get(key)
            revision = 0
            if entry is not None:
                state.merge(self._decode(entry[0]))
                revision = entry[1]
            self._cache.put(key, (state, revision))
            merged[key] = state
        return merged


CASE_STATE_MESSAGES = StateMessages(
    write_failed=N_("Writing the state of case {code} failed: {detail}"),
    kept_changing=N_(
        "The state of {count} cases kept changing under another writer after "
        "{attempts} attempts; ingest this source again later."
    ),
)


class CaseStates(KeyedStates[CaseState]):
    """Case states in ``ZW_CASE_STATE``, keyed by unified case code."""

    def __init__(self, js: JetStreamContext, publisher: Publisher) -> None:
        super().__init__(
            js,
            publisher,
            bucket=CASE_STATE,
            state_type=CaseState,
            new_state=CaseState,
            messages=CASE_STATE_MESSAGES,
        )

    def add(self, code: str, event_type: str, occurred_at: datetime) -> None:
        """Record an event of the case that is being published."""
        state = self.changed(code)
        state.types.add(event_type)
        if event_type in TERMINAL_EVENTS and (
            state.closed_at is None or occurred_at < state.closed_at
        ):
            state.closed_at = occurred_at
