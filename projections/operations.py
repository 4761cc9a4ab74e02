"""Operator calls on a projection's store: status against the stream, set-aside handling."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import msgspec
import nats.js.errors
import structlog

from bus.connect import open_bus
from bus.settings import Settings
from projections import set_aside
from projections.base import Projection
from projections.checkpoint_store import ProjectionStore
from projections.runtime import consumer_name

log = structlog.get_logger(__name__)


class ProjectionStatus(msgspec.Struct, kw_only=True):
    """How far a projection is behind its stream."""

    projection: str
    stream: str
    store_exists: bool
    stored_sequence: int
    stream_last_sequence: int | None
    """None when the stream does not exist on the server."""
    lag: int | None
    """Stream sequences not yet applied: stream last sequence minus stored sequence."""
    consumer_pending: int | None
    """The consumer's own count of undelivered messages; None without a consumer."""
    consumer_ack_pending: int | None
    set_aside: int


async def projection_status(projection: Projection, settings: Settings) -> ProjectionStatus:
    """Compare a projection's store with its stream and consumer on the server."""
    path = projection.store_file(settings.data_dir)
    stored = 0
    set_aside_count = 0
    if path.is_file():
        async with ProjectionStore.open(path, projection=projection.name, create=False) as store:
            stored = await store.stored_sequence(projection.name)
            set_aside_count = await set_aside.count(store.connection)

    last: int | None = None
    pending: int | None = None
    ack_pending: int | None = None
    async with open_bus(settings, name="zwbus-projection-status") as (_client, js):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            stream_info = await js.stream_info(projection.stream)
            last = int(stream_info.state.last_seq)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            consumer = await js.consumer_info(projection.stream, consumer_name(projection.name))
            pending = int(consumer.num_pending or 0)
            ack_pending = int(consumer.num_ack_pending or 0)

    return ProjectionStatus(
        projection=projection.name,
        stream=projection.stream,
        store_exists=path.is_file(),
        stored_sequence=stored,
        stream_last_sequence=last,
        lag=None if last is None else last - stored,
        consumer_pending=pending,
        consumer_ack_pending=ack_pending,
        set_aside=set_aside_count,
    )



class SetAsideReport(msgspec.Struct, kw_only=True):
    """Outcome of a set-aside command and the entries left."""

    discarded: list[int]
    missing: list[int]
    """Sequences asked to discard that were not set aside."""
    retry: set_aside.RetryResult | None
    entries: list[set_aside.SetAsideEntry]
    total: int


async def handle_set_aside(
    projection: Projection,
    settings: Settings,
    *,
    retry: bool = False,
    discard: Sequence[int] = (),
    limit: int | None = None,
) -> SetAsideReport:
    """Discard the given sequences, retry when asked (always after a discard), then list.

    Raises:
        StoreNotFoundError: the projection has never run in ``settings.data_dir``.
    """
    path = projection.store_file(settings.data_dir)
    async with ProjectionStore.open(path, projection=projection.name, create=False) as store:
        discarded: list[int] = []
        missing: list[int] = []
        result: set_aside.RetryResult | None = None
        if retry or discard:
            async with store.transaction() as connection:
                for seq in discard:
                    found = await set_aside.discard(connection, seq, projection=projection.name)
                    (discarded if found else missing).append(seq)
                result = await set_aside.retry(connection, projection)

        entries = await set_aside.list_entries(store.connection, limit=limit)
        total = await set_aside.count(store.connection)
    return SetAsideReport(
        discarded=discarded, missing=missing, retry=result, entries=entries, total=total
    )
