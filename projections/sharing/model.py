"""Applying a batch of data-sharing (数据共享) events to the read model.

A batch drops event ids the model already stores, loads the rows it touches
with a few ``IN`` queries per table, folds each new event into its row in
memory (``projections.sharing.fold``), and writes rows and events back with
``executemany``. The caller's transaction covers all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, TypeVar

import aiosqlite
import msgspec

from contracts.envelope import Envelope
from contracts.identifiers import mask_identifier
from contracts.share import OBJECTION_EVENTS, RESOURCE_EVENTS, ObjectionRaised
from projections.base import ApplyCounts, Delivered
from projections.pseudonym import Pseudonymizer
from projections.sharing.fold import (
    fold_objection,
    fold_request,
    fold_resource,
    masked_value,
    set_timings,
    share_payload,
)
from projections.sharing.records import (
    ObjectionRecord,
    RequestRecord,
    ResourceRecord,
)
from projections.sharing.schema import OBJECTION_COLUMNS, REQUEST_COLUMNS, RESOURCE_COLUMNS
from projections.sql import chunks, unseen_events
from projections.times import business_time

Entity = Literal["resource", "request", "objection"]


_Record = TypeVar("_Record", ResourceRecord, RequestRecord, ObjectionRecord)


def entity_of(event_type: str) -> Entity:
    """Return which kind of entity an event type belongs to."""
    if event_type in RESOURCE_EVENTS:
        return "resource"
    if event_type in OBJECTION_EVENTS:
        return "objection"
    return "request"


def stored_payload(event: Envelope, pseudonymizer: Pseudonymizer) -> str:
    """Encode a payload for ``sharing_events`` with an objection's personal values masked.

    The record key is always masked and pseudonymised, because the records
    of most shared resources are keyed by a person's or a company's number.
    """
    payload = share_payload(event)
    fields = msgspec.to_builtins(payload)
    if isinstance(payload, ObjectionRaised):
        fields["record_key"] = mask_identifier(payload.record_key)
        fields["record_key_pseudonym"] = pseudonymizer.pseudonym(payload.record_key)
        fields["claimed_value"] = masked_value(payload.claimed_value)
    return msgspec.json.encode(fields).decode()


async def _load(
    connection: aiosqlite.Connection,
    record_type: type[_Record],
    table: str,
    columns: tuple[str, ...],
    keys: Iterable[str],
) -> dict[str, _Record]:
    records: dict[str, _Record] = {}
    for chunk in chunks(sorted(set(keys))):
        placeholders = ",".join("?" * len(chunk))
        async with connection.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {columns[0]} IN ({placeholders})",
            tuple(chunk),
        ) as cursor:
            rows = await cursor.fetchall()
        for row in rows:
            records[row[0]] = record_type(**dict(zip(columns, row, strict=True)))
    return records


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({columns[0]}) DO UPDATE SET "
        + ", ".join(f"{column} = excluded.{column}" for column in columns[1:])
    )


_UPSERT_RESOURCE = _upsert("sharing_resources", RESOURCE_COLUMNS)
_UPSERT_REQUEST = _upsert("sharing_requests", REQUEST_COLUMNS)
_UPSERT_OBJECTION = _upsert("sharing_objections", OBJECTION_COLUMNS)
_INSERT_EVENT = (
    "INSERT INTO sharing_events "
    "(event_id, entity, key, seq, type, occurred_at, recorded_at, source_system, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class _Batch:
    """The rows one batch touches, loaded once and written back once."""

    def __init__(
        self,
        resources: dict[str, ResourceRecord],
        requests: dict[str, RequestRecord],
        objections: dict[str, ObjectionRecord],
    ) -> None:
        self.resources = resources
        self.requests = requests
        self.objections = objections
        self.touched: dict[Entity, set[str]] = {"resource": set(), "request": set(),
                                                 "objection": set()}

    @classmethod
    async def load(cls, connection: aiosqlite.Connection, events: Sequence[Envelope]) -> _Batch:
        keys: dict[Entity, set[str]] = {"resource": set(), "request": set(), "objection": set()}
        for event in events:
            keys[entity_of(event.type)].add(event.key)
        return cls(
            await _load(connection, ResourceRecord, "sharing_resources", RESOURCE_COLUMNS,
                        keys["resource"]),
            await _load(connection, RequestRecord, "sharing_requests", REQUEST_COLUMNS,
                        keys["request"]),
            await _load(connection, ObjectionRecord, "sharing_objections", OBJECTION_COLUMNS,
                        keys["objection"]),
        )

    def fold(self, event: Envelope, pseudonymizer: Pseudonymizer) -> Entity:
        """Fold ``event`` into its row, starting the row when it is the entity's first event."""
        entity = entity_of(event.type)
        self.touched[entity].add(event.key)
        if entity == "resource":
            resource = self.resources.get(event.key)
            if resource is None:
                resource = self.resources[event.key] = ResourceRecord(
                    code=event.key, region=event.region
                )
            fold_resource(resource, event)
        elif entity == "request":
            request = self.requests.get(event.key)
            if request is None:
                request = self.requests[event.key] = RequestRecord(
                    request_id=event.key, region=event.region
                )
            fold_request(request, event)
        else:
            objection = self.objections.get(event.key)
            if objection is None:
                objection = self.objections[event.key] = ObjectionRecord(
                    objection_id=event.key, region=event.region
                )
            fold_objection(objection, event, pseudonymizer)
        return entity

    async def write(self, connection: aiosqlite.Connection) -> None:
        requests = [self.requests[key] for key in sorted(self.touched["request"])]
        for request in requests:
            set_timings(request)
        await connection.executemany(
            _UPSERT_RESOURCE,
            [self.resources[key].as_row() for key in sorted(self.touched["resource"])],
        )
        await connection.executemany(_UPSERT_REQUEST, [request.as_row() for request in requests])
        await connection.executemany(
            _UPSERT_OBJECTION,
            [self.objections[key].as_row() for key in sorted(self.touched["objection"])],
        )


async def apply_events(
    connection: aiosqlite.Connection,
    events: Sequence[Delivered],
    pseudonymizer: Pseudonymizer,
) -> ApplyCounts:
    """Apply checked data-sharing events in stream order inside the caller's transaction."""
    if not events:
        return ApplyCounts()

    fresh, duplicates = await unseen_events(connection, "sharing_events", events)
    batch = await _Batch.load(connection, [item.event for item in events])

    counts = ApplyCounts(duplicates=duplicates)
    event_rows: list[tuple[object, ...]] = []
    for item in fresh:
        event = item.event
        entity = batch.fold(event, pseudonymizer)
        event_rows.append((
            event.id,
            entity,
            event.key,
            item.seq,
            event.type,
            business_time(event.occurred_at),
            business_time(event.recorded_at),
            event.source.system,
            stored_payload(event, pseudonymizer),
        ))
        counts.applied += 1

    await batch.write(connection)
    await connection.executemany(_INSERT_EVENT, event_rows)
    return counts
