"""Applying review (好差评) events to the review read model.

Ratings and their follow-ups arrive late, out of order and more than once,
so a review's row is computed from the set of its events, never from the
order in which they came:

- every applied event is kept in ``review_events``, and an event id already
  kept is skipped, so a re-sent event counts once;
- for each review a batch touches, the row is folded again from all of the
  review's events in business order: ``(occurred_at, REVIEW_RANK, event
  id)``. A follow-up that arrives before its rating is kept, and the review
  counts in the totals once the rating is there.

Within that order the fold keeps the first rating, the latest verification,
the first assignment time with the latest assignee, the first rectification
and the latest revisit. Two ratings of one review with different event ids
are a source error, and the earlier one counts.

A batch loads the events of the reviews it touches with ``IN`` queries and
writes rows and events back with ``executemany``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import aiosqlite
import msgspec

from contracts.review import (
    REVIEW_RANK,
    ReviewPayload,
    ReviewRated,
    ReviewRectificationAssigned,
    ReviewRectified,
    ReviewRevisited,
    ReviewVerified,
)
from projections.base import ApplyCounts, Delivered
from projections.pseudonym import Pseudonymizer
from projections.reviews.schema import EVENT_COLUMNS, REVIEW_COLUMNS
from projections.sql import chunks, unseen_events
from projections.times import business_time

_payload_decoder = msgspec.json.Decoder(ReviewPayload)


class StoredEvent(msgspec.Struct, kw_only=True):
    """One row of ``review_events``, with the payload decoded; fields follow ``EVENT_COLUMNS``."""

    event_id: str
    review_id: str
    seq: int
    type: str
    occurred_at: str
    recorded_at: str
    source_system: str
    region: str
    department_code: str
    correlation_id: str
    payload: ReviewPayload
    """The event's payload with the rater replaced by its pseudonym."""

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``EVENT_COLUMNS`` order, the payload as JSON."""
        values = [getattr(self, column) for column in EVENT_COLUMNS[:-1]]
        return (*values, msgspec.json.encode(self.payload).decode())


class ReviewRecord(msgspec.Struct, kw_only=True):
    """One row of ``reviews``; field names and order follow ``REVIEW_COLUMNS``."""

    review_id: str
    case_code: str | None = None
    local_no: str | None = None
    system: str | None = None
    region: str
    department_code: str
    item_code: str | None = None
    channel: str | None = None
    level: int | None = None
    is_default: int | None = None
    rater_pseudonym: str | None = None
    rater_type: str | None = None
    hall: str | None = None
    hall_window: str | None = None
    rated_at: str | None = None
    rated_day: str | None = None
    verified_at: str | None = None
    valid: int | None = None
    assignee: str | None = None
    rectification_assigned_at: str | None = None
    rectified_at: str | None = None
    revisited_at: str | None = None
    revisit_satisfaction: int | None = None
    events: int = 0

    def as_row(self) -> tuple[object, ...]:
        """Return the column values in ``REVIEW_COLUMNS`` order."""
        return tuple(getattr(self, column) for column in REVIEW_COLUMNS)


def review_payload(delivered: Delivered) -> ReviewPayload:
    """Return the event's payload, which ``ReviewsProjection.check`` proved is a review payload."""
    event = delivered.event
    if not isinstance(event.payload, ReviewPayload):
        raise TypeError(f"event {event.id} of type {event.type} is not a review event")
    return event.payload


def stored_event(delivered: Delivered, pseudonymizer: Pseudonymizer) -> StoredEvent:
    """Turn a delivered event into its stored form, pseudonymising the rater."""
    event = delivered.event
    payload = review_payload(delivered)
    if isinstance(payload, ReviewRated):
        payload = msgspec.structs.replace(payload, rater=pseudonymizer.pseudonym(payload.rater))
    return StoredEvent(
        event_id=event.id,
        review_id=event.key,
        seq=delivered.seq,
        type=event.type,
        occurred_at=business_time(event.occurred_at),
        recorded_at=business_time(event.recorded_at),
        source_system=event.source.system,
        region=event.region,
        department_code=event.department,
        correlation_id=event.correlation_id,
        payload=payload,
    )


def _business_order(event: StoredEvent) -> tuple[str, int, str]:
    return event.occurred_at, REVIEW_RANK[event.type], event.event_id


def fold_review(events: Iterable[StoredEvent]) -> ReviewRecord:
    """Compute a review's row from all of its events; the result ignores their order.

    Raises:
        ValueError: ``events`` is empty.
    """
    ordered = sorted(events, key=_business_order)
    if not ordered:
        raise ValueError("a review row needs at least one event")

    first = ordered[0]
    record = ReviewRecord(
        review_id=first.review_id,
        region=first.region,
        department_code=first.department_code,
        events=len(ordered),
    )
    for event in ordered:
        payload = event.payload
        at = event.occurred_at
        if isinstance(payload, ReviewRated):
            if record.rated_at is None:
                _fold_rating(record, event, payload)
        elif isinstance(payload, ReviewVerified):
            record.verified_at = at
            record.valid = int(payload.valid)
        elif isinstance(payload, ReviewRectificationAssigned):
            if record.rectification_assigned_at is None:
                record.rectification_assigned_at = at
            record.assignee = payload.assignee
        elif isinstance(payload, ReviewRectified):
            if record.rectified_at is None:
                record.rectified_at = at
        elif isinstance(payload, ReviewRevisited):
            record.revisited_at = at
            record.revisit_satisfaction = payload.satisfaction
    return record


def _fold_rating(record: ReviewRecord, event: StoredEvent, payload: ReviewRated) -> None:
    # The rating names the rated case's department, which a follow-up
    # reported by another unit may not, so its region and department win.
    record.case_code = payload.case_code or event.correlation_id
    record.local_no = payload.local_no
    record.system = payload.system
    record.region = event.region
    record.department_code = event.department_code
    record.item_code = payload.item_code
    record.channel = payload.channel
    record.level = payload.level
    record.is_default = int(payload.is_default)
    record.rater_pseudonym = payload.rater
    record.rater_type = payload.rater_type
    record.hall = payload.hall
    record.hall_window = payload.window
    record.rated_at = event.occurred_at
    record.rated_day = event.occurred_at[:10]


def _event_from_row(row: aiosqlite.Row) -> StoredEvent:
    values = {column: row[column] for column in EVENT_COLUMNS[:-1]}
    return StoredEvent(**values, payload=_payload_decoder.decode(row["payload"]))


async def load_events(
    connection: aiosqlite.Connection, review_ids: Sequence[str]
) -> dict[str, list[StoredEvent]]:
    """Return the stored events of each review in ``review_ids`` (an empty list when none)."""
    events: dict[str, list[StoredEvent]] = {review_id: [] for review_id in review_ids}
    for chunk in chunks(sorted(set(review_ids))):
        placeholders = ",".join("?" * len(chunk))
        async with connection.execute(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM review_events "
            f"WHERE review_id IN ({placeholders})",
            tuple(chunk),
        ) as cursor:
            rows = await cursor.fetchall()
        for row in rows:
            events[row["review_id"]].append(_event_from_row(row))
    return events


_UPSERT_REVIEW = (
    f"INSERT INTO reviews ({', '.join(REVIEW_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(REVIEW_COLUMNS))}) "
    "ON CONFLICT (review_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in REVIEW_COLUMNS[1:])
)

_INSERT_EVENT = (
    f"INSERT INTO review_events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)


async def apply_events(
    connection: aiosqlite.Connection,
    events: Sequence[Delivered],
    pseudonymizer: Pseudonymizer,
) -> ApplyCounts:
    """Apply checked review events in stream order inside the caller's transaction."""
    counts = ApplyCounts()
    if not events:
        return counts

    unseen, counts.duplicates = await unseen_events(connection, "review_events", events)
    fresh = [stored_event(item, pseudonymizer) for item in unseen]
    counts.applied = len(fresh)
    if not fresh:
        return counts

    touched = sorted({event.review_id for event in fresh})
    by_review = await load_events(connection, touched)
    for event in fresh:
        by_review[event.review_id].append(event)
    records = [fold_review(by_review[review_id]) for review_id in touched]

    await connection.executemany(_UPSERT_REVIEW, [record.as_row() for record in records])
    await connection.executemany(_INSERT_EVENT, [event.as_row() for event in fresh])
    return counts
