"""The review (好差评) read model: one row per review and totals by region, department,
item, channel and day, from ZW_REVIEWS.

The read model lives in ``<data_dir>/projections/reviews.sqlite``; the calls
other packages use to run and read it are in ``projections.reviews.api``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from bus.streams import REVIEWS
from contracts.review import ReviewPayload
from contracts.subjects import encode_token
from projections.base import ApplyCounts, Delivered
from projections.checkpoint_store import store_path
from projections.pseudonym import Pseudonymizer, load_key
from projections.reviews.model import apply_events
from projections.reviews.schema import SCHEMA
from projections.set_aside import entity_key_of

__all__ = ["ReviewsProjection"]

_EARLIEST_YEAR = 1949
_LATEST_YEAR = 2999
_REGION = re.compile(r"\d{6}")


class ReviewsProjection:
    """The review read model over the ZW_REVIEWS stream."""

    name = "reviews"
    stream = REVIEWS

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> ReviewsProjection:
        """Build the projection with the pseudonym key of ``data_dir`` (or the environment)."""
        return cls(Pseudonymizer(load_key(data_dir)))

    def store_file(self, data_dir: Path) -> Path:
        """Return ``<data_dir>/projections/reviews.sqlite``."""
        return store_path(data_dir, self.name)

    async def create_schema(self, connection: aiosqlite.Connection) -> None:
        """Create the ``reviews`` and ``review_events`` tables and their indexes."""
        await connection.executescript(SCHEMA)

    def check(self, delivered: Delivered) -> str | None:
        """Return why a decoded event cannot enter the review read model, or None."""
        event = delivered.event
        payload = event.payload
        if not isinstance(payload, ReviewPayload):
            return f"event type {event.type} is not a review event"
        if entity_key_of(delivered.subject) != encode_token(event.key):
            return f"subject {delivered.subject} does not carry the envelope key {event.key!r}"
        if payload.review_id != event.key:
            return f"payload review_id {payload.review_id!r} differs from the key {event.key!r}"
        # Totals roll regions up by their 2- and 4-digit prefixes.
        if not _REGION.fullmatch(event.region):
            return f"region {event.region!r} is not a 6-digit code"
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
        """Apply checked review events inside the caller's transaction."""
        return await apply_events(connection, events, self._pseudonymizer)
