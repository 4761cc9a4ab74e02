"""Parked events: valid events whose predecessor has not reached the bus yet.

Department systems export statuses out of order, so an event that needs an
earlier one (accepted needs submitted) waits in the ``ZW_PARKED`` bucket and
is published as soon as the predecessor arrives, in this run or a later
one. An event parked longer than the configured wait goes to quarantine
with reason ``missing_predecessor``.

Each family parks in its own lane of keys, ``<lane>.<key token>.<event id>``:
lane ``p`` contains case events under their unified case code, and lanes
``review``, ``hall`` and ``share`` contain records of those families under the
key of their entity.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime

import msgspec
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.keys import kv_token
from adapters.ingest.kvget import get_many
from adapters.ingest.kvkeys import list_keys
from bus.publisher import PubAck, Publisher
from bus.streams import PARKED
from contracts.quarantine import RecordPosition


class ParkedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event waiting in the parking bucket, with what it waits for."""

    event: msgspec.Raw
    """The encoded envelope, published unchanged on release (case lane), or the
    mapped record, checked again and built into an event on release (family lanes)."""
    event_id: str
    event_type: str
    occurred_at: datetime
    code: str
    region: str
    subject: str
    record_key: str
    source_id: str
    waiting_for: tuple[str, ...]
    parked_at: datetime
    position: RecordPosition
    original: str
    entity_kind: str = ""
    """Kind of entity that ``code`` names: case, review, booking, ticket, resource, request
    or objection.

    A review parked before its case has a unified code has no review id yet,
    so its ``code`` is the rated case's local number and its kind ``case``.
    Empty in events parked by versions that did not record it."""


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(ParkedEvent).decode


CASE_LANE = "p"
FAMILY_LANES = ("review", "hall", "share")


class ParkingLot:
    """Index of the parked events of one lane per key, loaded once per run."""

    def __init__(
        self, js: JetStreamContext, publisher: Publisher, *, lane: str = CASE_LANE
    ) -> None:
        self._js = js
        self._publisher = publisher
        self._lane = lane
        self._bucket: KeyValue | None = None
        self._by_case: dict[str, set[str]] = defaultdict(set)

    async def _kv(self) -> KeyValue:
        if self._bucket is None:
            self._bucket = await self._js.key_value(PARKED)
        return self._bucket

    def _key(self, code: str, event_id: str) -> str:
        return f"{self._lane}.{kv_token(code)}.{event_id}"

    async def load(self) -> int:
        """Read the keys of every event parked in the lane; returns how many are parked."""
        keys = await list_keys(self._js, PARKED, f"{self._lane}.>")
        for key in keys:
            _lane, token, event_id = key.split(".", 2)
            self._by_case[token].add(event_id)
        return len(keys)

    def has_waiting(self, code: str) -> bool:
        return bool(self._by_case.get(kv_token(code)))

    def count(self) -> int:
        return sum(len(ids) for ids in self._by_case.values())

    def is_parked(self, code: str, event_id: str) -> bool:
        return event_id in self._by_case.get(kv_token(code), ())

    async def park(self, parked: ParkedEvent) -> asyncio.Future[PubAck]:
        """Store an event that waits for a predecessor; the caller checks ``is_parked`` first."""
        self._by_case[kv_token(parked.code)].add(parked.event_id)
        return await self._publisher.publish(
            f"$KV.{PARKED}.{self._key(parked.code, parked.event_id)}", _encode(parked)
        )

    async def waiting(self, code: str) -> list[ParkedEvent]:
        """Return the events parked for a case."""
        ids = self._by_case.get(kv_token(code))
        if not ids:
            return []
        bucket = await self._kv()
        stored = await get_many(bucket, (self._key(code, event_id) for event_id in ids))
        return [_decode(value) for value, _ in stored.values() if value]

    async def all_waiting(self) -> list[ParkedEvent]:
        bucket = await self._kv()
        keys = [
            f"{self._lane}.{token}.{event_id}"
            for token, ids in self._by_case.items()
            for event_id in ids
        ]
        stored = await get_many(bucket, keys)
        return [_decode(value) for value, _ in stored.values() if value]

    def forget(self, parked: ParkedEvent) -> None:
        """Drop an event from the index as soon as it is released, before its removal is sent."""
        self._by_case[kv_token(parked.code)].discard(parked.event_id)

    async def release(self, parked: ParkedEvent) -> asyncio.Future[PubAck]:
        """Remove an event that was published or quarantined from the parking bucket.

        The removal is a key-value delete marker, sent through the publisher so
        that many removals travel together; await the returned acknowledgement.
        """
        self.forget(parked)
        return await self._publisher.publish(
            f"$KV.{PARKED}.{self._key(parked.code, parked.event_id)}",
            b"",
            {"KV-Operation": "DEL"},
        )
