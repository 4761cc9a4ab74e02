"""The data-sharing (数据共享) read model: catalogue, requests and objections, from ZW_SHARING.

The read model lives in ``<data_dir>/projections/sharing.sqlite``; the calls
other packages use to run and read it are in ``projections.sharing.api``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from contracts.share import ObjectionRaised, RequestDelivered, SharePayload
from contracts.subjects import encode_token
from projections.base import ApplyCounts, Delivered
from projections.checkpoint_store import store_path
from projections.pseudonym import Pseudonymizer, load_key
from projections.set_aside import entity_key_of
from projections.sharing.model import apply_events, entity_of
from projections.sharing.schema import SCHEMA

__all__ = ["SHARING_STREAM", "SharingProjection"]

SHARING_STREAM = "ZW_SHARING"
"""The stream of ``zw.share.>``, declared in ``bus.streams``."""

_EARLIEST_YEAR = 1949
_LATEST_YEAR = 2999
_KEY_FIELDS = {"resource": "resource_code", "request": "request_id", "objection": "objection_id"}


class SharingProjection:
    """The data-sharing projection over the ZW_SHARING stream."""

    name = "sharing"
    stream = SHARING_STREAM

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> SharingProjection:
        """Build the projection with the pseudonym key of ``data_dir`` (or the environment)."""
        return cls(Pseudonymizer(load_key(data_dir)))

    def store_file(self, data_dir: Path) -> Path:
        """Return ``<data_dir>/projections/sharing.sqlite``."""
        return store_path(data_dir, self.name)

    async def create_schema(self, connection: aiosqlite.Connection) -> None:
        """Create the resource, request, objection and event tables and their indexes."""
        await connection.executescript(SCHEMA)

    def check(self, delivered: Delivered) -> str | None:
        """Return why a decoded event cannot enter the sharing read model, or None."""
        event = delivered.event
        payload = event.payload
        if not isinstance(payload, SharePayload):
            return f"event type {event.type} is not a data-sharing event"
        if entity_key_of(delivered.subject) != encode_token(event.key):
            return f"subject {delivered.subject} does not carry the envelope key {event.key!r}"
        key_field = _KEY_FIELDS[entity_of(event.type)]
        if getattr(payload, key_field) != event.key:
            return (
                f"payload {key_field} {getattr(payload, key_field)!r} differs from the "
                f"envelope key {event.key!r}"
            )
        for field, moment in (("occurred_at", event.occurred_at),
                              ("recorded_at", event.recorded_at)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                return f"{field} has no time zone"
            if not _EARLIEST_YEAR <= moment.year <= _LATEST_YEAR:
                return f"{field} year {moment.year} is outside {_EARLIEST_YEAR}-{_LATEST_YEAR}"
        if isinstance(payload, RequestDelivered) and payload.count < 0:
            return f"delivered count {payload.count} is negative"
        if isinstance(payload, ObjectionRaised) and not payload.record_key:
            return "objection has an empty record_key"
        return None

    async def apply(
        self, connection: aiosqlite.Connection, events: Sequence[Delivered]
    ) -> ApplyCounts:
        """Apply checked data-sharing events inside the caller's transaction."""
        return await apply_events(connection, events, self._pseudonymizer)
