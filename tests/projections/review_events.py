"""Building and publishing review (好差评) events for the review projection tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from bus.publisher import Publisher
from contracts.envelope import Envelope, Source, encode_event, make_envelope
from contracts.ids import ingested_event_id
from contracts.review import (
    Channel,
    ReviewPayload,
    ReviewRated,
    ReviewRectificationAssigned,
    ReviewRectified,
    ReviewRevisited,
    ReviewVerified,
)
from contracts.subjects import entity_subject

SYSTEM = "SC-HCP"
REGION = "511602"
DEPARTMENT = "11511602MB1234567X"
ITEM = "511A0138000000-511602000000-000-115113010833722043-1-00"

Tables = dict[str, list[tuple[object, ...]]]

# Columns that hold the wall-clock time of the write, not data of the stream.
_WRITE_TIME_COLUMNS = {"checkpoint": "updated_at", "set_aside": "set_aside_at"}


def review_event(
    payload: ReviewPayload,
    occurred_at: datetime,
    *,
    version: str = "1",
    region: str = REGION,
    department: str = DEPARTMENT,
    case_code: str | None = None,
) -> Envelope:
    """Wrap ``payload`` in an envelope with a deterministic id, as an adapter would."""
    kind = str(type(payload).__struct_config__.tag).removeprefix("review.")
    return make_envelope(
        payload,
        id=ingested_event_id(SYSTEM, f"{payload.review_id}\x1f{kind}", version),
        occurred_at=occurred_at,
        recorded_at=occurred_at + timedelta(minutes=3),
        source=Source(adapter="test", system=SYSTEM),
        region=region,
        department=department,
        key=payload.review_id,
        correlation_id=case_code or f"CASE-{payload.review_id}",
    )


def rated(
    review_id: str,
    occurred_at: datetime,
    *,
    level: int,
    channel: Channel = "web",
    is_default: bool = False,
    item_code: str | None = ITEM,
    rater: str = "513000199001011234",
    **envelope: Any,
) -> Envelope:
    """Build the rating of ``review_id``."""
    payload = ReviewRated(
        review_id=review_id,
        system=SYSTEM,
        case_code=f"CASE-{review_id}",
        item_code=item_code,
        level=level,
        channel=channel,
        rater=rater,
        is_default=is_default,
    )
    return review_event(payload, occurred_at, **envelope)


def verified(review_id: str, occurred_at: datetime, *, valid: bool, **envelope: Any) -> Envelope:
    """Build the callback check of a bad review."""
    payload = ReviewVerified(review_id=review_id, system=SYSTEM, valid=valid)
    return review_event(payload, occurred_at, **envelope)


def assigned(
    review_id: str, occurred_at: datetime, *, assignee: str = DEPARTMENT, **envelope: Any
) -> Envelope:
    """Build the assignment of a genuine bad review for rectification."""
    payload = ReviewRectificationAssigned(review_id=review_id, system=SYSTEM, assignee=assignee)
    return review_event(payload, occurred_at, **envelope)


def rectified(review_id: str, occurred_at: datetime, **envelope: Any) -> Envelope:
    """Build the rectification report of a bad review."""
    payload = ReviewRectified(review_id=review_id, system=SYSTEM)
    return review_event(payload, occurred_at, **envelope)


def revisited(
    review_id: str, occurred_at: datetime, *, satisfaction: int, **envelope: Any
) -> Envelope:
    """Build the revisit of a rectified bad review."""
    payload = ReviewRevisited(review_id=review_id, system=SYSTEM, satisfaction=satisfaction)
    return review_event(payload, occurred_at, **envelope)


def review_subject(event: Envelope) -> str:
    """Return the subject a review event is published on."""
    return entity_subject("review", event.region, event.key)


async def publish_reviews(
    client: Client, events: Iterable[Envelope], *, msg_ids: Sequence[str] | None = None
) -> list[int]:
    """Publish events with ``Nats-Msg-Id`` set to the event id (or ``msg_ids``); return seqs."""
    items = list(events)
    async with Publisher(client) as publisher:
        futures = []
        for index, event in enumerate(items):
            msg_id = msg_ids[index] if msg_ids is not None else event.id
            futures.append(
                await publisher.publish(
                    review_subject(event), encode_event(event), {"Nats-Msg-Id": msg_id}
                )
            )
        acks = [await future for future in futures]
    for ack in acks:
        assert ack.ok, ack.error
    return [ack.seq for ack in acks]


def all_tables(path: Path) -> Tables:
    """Return every table's rows of a SQLite file in a stable order, without write times."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        tables: Tables = {}
        for name in names:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({name})")]
            kept = [column for column in columns if column != _WRITE_TIME_COLUMNS.get(name)]
            rows = connection.execute(f"SELECT {', '.join(kept)} FROM {name}").fetchall()
            tables[name] = sorted(rows, key=repr)
        return tables
    finally:
        connection.close()
