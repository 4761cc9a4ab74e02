"""Building, publishing and projecting hall (预约/取号/叫号) events for the hall tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

from nats.aio.client import Client

from bus.publisher import Publisher
from contracts.envelope import Envelope, Source, encode_event, make_envelope
from contracts.hall import BOOKING_EVENTS, HALL_PAYLOADS, HallPayload
from contracts.subjects import hall_subject
from projections.base import Delivered
from projections.checkpoint_store import ProjectionStore
from projections.hall import HallProjection
from tests.projections.helpers import CHINA, DEPARTMENT, REGION, at

HALL = "GA-ZWFW-01"
"""Hall code of the tests: the government service centre (政务服务中心) of 广安区."""
SYSTEM = "GA-PDJH"
ITEM_CODE = "511A0138000000-511602000000-000-115113010833722043-1-00"
PERSON = "511602199001011234"
DAY = "2026-10-12"

_PAYLOADS = {str(cls.__struct_config__.tag).removeprefix("hall."): cls for cls in HALL_PAYLOADS}
_WINDOW_EVENTS = {"ticket_called", "ticket_recalled", "ticket_skipped", "service_started",
                  "service_ended"}

# Columns that hold the wall-clock time of the write, not data of the stream.
_WRITE_TIME_COLUMNS = {"checkpoint": "updated_at", "set_aside": "set_aside_at"}


def hall_event(
    kind: str,
    key: str,
    occurred_at: datetime,
    *,
    hall: str = HALL,
    event_id: str | None = None,
    region: str = REGION,
    **fields: Any,
) -> Envelope:
    """Build a hall event of ``kind`` (``booking_created``, ``ticket_called`` …) for ``key``.

    ``key`` is the booking id of booking events and the ticket id of the
    others. Without ``event_id`` the id is ``<hall>/<key>/<kind>``, so the
    same call twice builds the same event, as a re-sent record would.
    """
    event_type = f"hall.{kind}"
    id_field = "booking_id" if event_type in BOOKING_EVENTS else "ticket_id"
    payload_fields: dict[str, Any] = {"hall": hall, "system": SYSTEM, id_field: key}
    if kind == "booking_created":
        payload_fields |= {
            "item_code": ITEM_CODE,
            "channel": "online",
            "slot_date": date.fromisoformat(DAY),
            "slot_start": time(9, 0),
            "slot_end": time(9, 30),
            "person": PERSON,
        }
    elif kind == "ticket_issued":
        payload_fields |= {"ticket_no": f"A{key[-3:]}", "queue": "A", "channel": "kiosk"}
    elif kind in _WINDOW_EVENTS:
        payload_fields["window"] = "1"
    payload_fields |= fields
    payload = cast(HallPayload, _PAYLOADS[kind](**payload_fields))
    correlation = getattr(payload, "booking_id", None) or key
    return make_envelope(
        payload,
        id=event_id or f"{hall}/{key}/{kind}",
        occurred_at=occurred_at,
        recorded_at=occurred_at + timedelta(minutes=1),
        source=Source(adapter="test", system=SYSTEM),
        region=region,
        department=DEPARTMENT,
        key=key,
        correlation_id=correlation,
    )


def hall_subject_of(event: Envelope) -> str:
    """Return the subject a hall event is published on."""
    payload = cast(HallPayload, event.payload)
    return hall_subject(event.region, payload.hall, event.key)


async def publish_hall(
    client: Client, events: Iterable[Envelope], *, msg_ids: Sequence[str] | None = None
) -> list[int]:
    """Publish hall events with ``Nats-Msg-Id`` set to the event id (or ``msg_ids``)."""
    items = list(events)
    async with Publisher(client) as publisher:
        futures = []
        for index, event in enumerate(items):
            msg_id = msg_ids[index] if msg_ids is not None else event.id
            futures.append(
                await publisher.publish(
                    hall_subject_of(event), encode_event(event), {"Nats-Msg-Id": msg_id}
                )
            )
        acks = [await future for future in futures]
    for ack in acks:
        assert ack.ok, ack.error
    return [ack.seq for ack in acks]


def resend_ids(events: Sequence[Envelope], suffix: str = "again") -> list[str]:
    """Return message ids that pass the stream's dedup window for a re-send of ``events``."""
    return [f"{event.id}-{suffix}" for event in events]


def at_day(clock: str, day: str = DAY) -> datetime:
    """Return a China Standard Time moment on the test day: ``at_day("09:05")``."""
    return at(day, clock)


def as_of(clock: str, day: str = DAY) -> datetime:
    """Return a query time on the test day."""
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=CHINA)


async def apply_directly(
    path: Path, projection: HallProjection, events: Sequence[Envelope]
) -> None:
    """Apply ``events`` in one transaction to the store at ``path``, without a bus."""
    async with ProjectionStore.open(path, projection=projection.name) as store:
        await projection.create_schema(store.connection)
        delivered = [
            Delivered(seq, hall_subject_of(event), event)
            for seq, event in enumerate(events, start=1)
        ]
        for item in delivered:
            assert projection.check(item) is None
        async with store.transaction() as connection:
            await projection.apply(connection, delivered)


def model_tables(path: Path, *, names: Sequence[str] | None = None) -> dict[str, list[Any]]:
    """Return the rows of every table (or of ``names``) in a stable order, without write times."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if names is None:
            names = [
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
        tables: dict[str, list[Any]] = {}
        for name in names:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({name})")]
            compared = [column for column in columns if column != _WRITE_TIME_COLUMNS.get(name)]
            rows = connection.execute(f"SELECT {', '.join(compared)} FROM {name}").fetchall()
            tables[name] = sorted(rows, key=repr)
        return tables
    finally:
        connection.close()
