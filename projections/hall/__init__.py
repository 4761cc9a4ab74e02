"""The hall (线上线下融合) read model: bookings, queue tickets and the queue state, from ZW_HALL.

The read model lives in ``<data_dir>/projections/hall.sqlite``; the calls
other packages use to run and read it are in ``projections.hall.api``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from contracts.hall import BOOKING_EVENTS, HallPayload
from contracts.subjects import encode_token
from projections.base import ApplyCounts, Delivered
from projections.checkpoint_store import store_path
from projections.hall.model import apply_events
from projections.hall.schema import SCHEMA
from projections.pseudonym import Pseudonymizer, load_key

__all__ = ["HALL_STREAM", "HallProjection"]

HALL_STREAM = "ZW_HALL"

_EARLIEST_YEAR = 1949
_LATEST_YEAR = 2999
_SUBJECT_TOKENS = 7
"""``zw.hall.<province2>.<city2>.<county2>.<hall>.<booking or ticket id>``."""


class HallProjection:
    """The hall projection over the ZW_HALL stream."""

    name = "hall"
    stream = HALL_STREAM

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> HallProjection:
        """Build the projection with the pseudonym key of ``data_dir`` (or the environment)."""
        return cls(Pseudonymizer(load_key(data_dir)))

    def store_file(self, data_dir: Path) -> Path:
        """Return ``<data_dir>/projections/hall.sqlite``."""
        return store_path(data_dir, self.name)

    async def create_schema(self, connection: aiosqlite.Connection) -> None:
        """Create the ``bookings``, ``tickets`` and ``hall_events`` tables and their indexes."""
        await connection.executescript(SCHEMA)

    def check(self, delivered: Delivered) -> str | None:
        """Return why a decoded event cannot enter the hall model, or None."""
        event = delivered.event
        payload = event.payload
        if not isinstance(payload, HallPayload):
            return f"event type {event.type} is not a hall event"

        # A ticket issued from a booking names the booking too; its key is the ticket.
        id_field = "booking_id" if event.type in BOOKING_EVENTS else "ticket_id"
        entity_id = getattr(payload, id_field)
        if entity_id != event.key:
            return f"envelope key {event.key!r} is not the payload's id {entity_id!r}"
        tokens = delivered.subject.split(".")
        if len(tokens) != _SUBJECT_TOKENS or tokens[5:] != [
            encode_token(payload.hall),
            encode_token(event.key),
        ]:
            return (
                f"subject {delivered.subject} does not carry hall {payload.hall!r} "
                f"and key {event.key!r}"
            )

        for field, moment in (("occurred_at", event.occurred_at),
                              ("recorded_at", event.recorded_at)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                return f"{field} has no time zone"
            if not _EARLIEST_YEAR <= moment.year <= _LATEST_YEAR:
                return f"{field} year {moment.year} is outside {_EARLIEST_YEAR}-{_LATEST_YEAR}"
        return None

    async def apply(
        self, connection: aiosqlite.Connection, events: Sequence[Delivered]
    ) -> ApplyCounts:
        """Apply checked hall events inside the caller's transaction."""
        return await apply_events(connection, events, self._pseudonymizer)
