"""The case database (办件库): current state and history of every case, from ZW_CASES.

The read model lives in ``<data_dir>/projections/cases.sqlite``; the calls
other packages use to run and read it are in ``projections.api``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from bus.streams import CASES
from contracts.case import CASE_PAYLOADS
from contracts.subjects import encode_token
from projections.base import ApplyCounts, Delivered
from projections.cases.model import MAX_PROMISED_DAYS, apply_events
from projections.cases.schema import SCHEMA
from projections.checkpoint_store import store_path
from projections.pseudonym import Pseudonymizer, load_key
from projections.set_aside import entity_key_of

__all__ = ["CasesProjection"]

_CASE_PAYLOAD_TYPES: frozenset[type] = frozenset(CASE_PAYLOADS)
_EARLIEST_YEAR = 1949
_LATEST_YEAR = 2999


class CasesProjection:
    """The case database projection over the ZW_CASES stream."""

    name = "cases"
    stream = CASES

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> CasesProjection:
        """Build the projection with the pseudonym key of ``data_dir`` (or the environment)."""
        return cls(Pseudonymizer(load_key(data_dir)))

    def store_file(self, data_dir: Path) -> Path:
        """Return ``<data_dir>/projections/cases.sqlite``."""
        return store_path(data_dir, self.name)

    async def create_schema(self, connection: aiosqlite.Connection) -> None:
        """Create the ``cases`` and ``case_events`` tables and their indexes."""
        await connection.executescript(SCHEMA)

    def check(self, delivered: Delivered) -> str | None:
        """Return why a decoded event cannot enter the case database, or None."""
        event = delivered.event
        if type(event.payload) not in _CASE_PAYLOAD_TYPES:
            return f"event type {event.type} is not a case event"
        if entity_key_of(delivered.subject) != encode_token(event.key):
            return f"subject {delivered.subject} does not carry the envelope key {event.key!r}"
        for field, moment in (("occurred_at", event.occurred_at),
                              ("recorded_at", event.recorded_at)):
            if moment.utcoffset() is None:
                return f"{field} has no time zone"
            if not _EARLIEST_YEAR <= moment.year <= _LATEST_YEAR:
                return f"{field} year {moment.year} is outside {_EARLIEST_YEAR}-{_LATEST_YEAR}"
        promised = getattr(event.payload, "promised_days", None)
        if promised is not None and not 0 <= promised <= MAX_PROMISED_DAYS:
            return f"promised_days {promised} is outside 0-{MAX_PROMISED_DAYS}"
        return None

    async def apply(
        self, connection: aiosqlite.Connection, events: Sequence[Delivered]
    ) -> ApplyCounts:
        """Apply checked case events inside the caller's transaction."""
        return await apply_events(connection, events, self._pseudonymizer)

