"""Snapshots of the server and the local projection stores that ``zwbus lag`` compares."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.errors import StreamError
from bus.heartbeat import (
    READER_DESCRIPTION,
    HeartbeatDocument,
    latest_heartbeats,
)
from bus.i18n import N_, _
from projections import set_aside
from projections.checkpoint_store import ProjectionStore

API_TIMEOUT_S = 5.0
PROJECTION_HEARTBEAT = "projection"
KV_STREAM_PREFIX = "KV_"
"""JetStream keeps key-value bucket ``NAME`` in stream ``KV_NAME``."""


# --- JetStream API replies (only the fields read here) ---------------------------


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _StreamConfig(msgspec.Struct):
    name: str
    subjects: list[str] = []
    max_age: int = 0
    """Nanoseconds; 0 means unlimited."""
    max_bytes: int = -1
    max_msgs: int = -1
    allow_direct: bool = False


class _StreamState(msgspec.Struct):
    messages: int = 0
    bytes: int = 0
    first_seq: int = 0
    first_ts: datetime | None = None
    last_seq: int = 0
    last_ts: datetime | None = None
    consumer_count: int = 0


class StreamInfo(msgspec.Struct):
    config: _StreamConfig
    state: _StreamState


class _StreamInfoReply(msgspec.Struct):
    state: _StreamState | None = None
    error: _ApiError | None = None


class _StreamList(msgspec.Struct):
    total: int = 0
    streams: list[StreamInfo] = []
    error: _ApiError | None = None


class _Sequence(msgspec.Struct):
    consumer_seq: int = 0
    stream_seq: int = 0
    last_active: datetime | None = None


class _ConsumerConfig(msgspec.Struct):
    durable_name: str = ""
    """Empty for an ephemeral consumer, which the server deletes once it is inactive."""
    description: str = ""
    filter_subject: str = ""
    filter_subjects: list[str] = []


class ConsumerInfo(msgspec.Struct):
    stream_name: str
    name: str
    config: _ConsumerConfig
    delivered: _Sequence = msgspec.field(default_factory=_Sequence)
    ack_floor: _Sequence = msgspec.field(default_factory=_Sequence)
    num_ack_pending: int = 0
    num_redelivered: int = 0
    num_waiting: int = 0
    num_pending: int = 0
    push_bound: bool = False


class _ConsumerList(msgspec.Struct):
    total: int = 0
    consumers: list[ConsumerInfo] = []
    error: _ApiError | None = None


_Reply = TypeVar("_Reply", _StreamList, _ConsumerList)

# --- snapshots -------------------------------------------------------------------


@dataclass(frozen=True)
class StorePosition:
    projection: str
    stream: str
    stored_sequence: int
    set_aside: int | None
    path: Path | None
    """None for a projection known only by its heartbeat."""


@dataclass
class Snapshot:
    """Raw positions at one moment; compare two of them with ``build_report``."""

    taken_at: datetime
    clock_s: float
    """``time.monotonic()`` when taken."""
    streams: dict[str, StreamInfo]
    consumers: list[ConsumerInfo]
    stores: list[StorePosition]
    heartbeats: dict[tuple[str, str], HeartbeatDocument]
    unprocessed_times: dict[tuple[str, int], datetime] = field(default_factory=dict)
    """Stream time of the first message after a position, by (stream, position)."""
    notes: list[str] = field(default_factory=list)
    hidden_consumers: int = 0
    """Ephemeral consumers of key-value buckets left out of ``consumers``."""


async def _api_list(
    client: Client, subject: str, decoder: msgspec.json.Decoder[_Reply]
) -> list[_Reply]:
    """Request every page of a JetStream list API; a missing stream gives no page."""
    pages: list[_Reply] = []
    offset = 0
    while True:
        try:
            reply = await client.request(
                subject, msgspec.json.encode({"offset": offset}), timeout=API_TIMEOUT_S
            )
        except (nats.errors.Error, TimeoutError) as exc:
            raise StreamError(
                N_(
                    "JetStream request {subject} failed: {detail}. Check that the server "
                    "runs with JetStream enabled."
                ),
                subject=subject,
                detail=str(exc) or type(exc).__name__,
            ) from exc
        page = decoder.decode(reply.data)
        if page.error is not None:
            if page.error.code == 404:
                return pages
            raise StreamError(
                N_(
                    "JetStream request {subject} failed: {detail}. Check that the server "
                    "runs with JetStream enabled."
                ),
                subject=subject,
                detail=page.error.description,
            )
        pages.append(page)
        count = len(page.streams) if isinstance(page, _StreamList) else len(page.consumers)
        offset += count
        if count == 0 or offset >= page.total:
            return pages


async def stored_time_range(client: Client, stream: str) -> tuple[datetime, datetime] | None:
    """Return when the first and the last message of ``stream`` were stored.

    Returns None when the stream has no message or its information cannot
    be read, because callers only show the range as a hint.
    """
    try:
        reply = await client.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=API_TIMEOUT_S)
        info = msgspec.json.decode(reply.data, type=_StreamInfoReply)
    except (nats.errors.Error, TimeoutError, msgspec.DecodeError):
        return None
    state = info.state
    if state is None or not state.messages or state.first_ts is None or state.last_ts is None:
        return None
    return state.first_ts, state.last_ts


async def _read_streams(client: Client) -> dict[str, StreamInfo]:
    pages = await _api_list(client, "$JS.API.STREAM.LIST", msgspec.json.Decoder(_StreamList))
    return {info.config.name: info for page in pages for info in page.streams}


async def _read_consumers(client: Client, streams: Sequence[str]) -> list[ConsumerInfo]:
    decoder = msgspec.json.Decoder(_ConsumerList)
    consumers: list[ConsumerInfo] = []
    for stream in streams:
        for page in await _api_list(client, f"$JS.API.CONSUMER.LIST.{stream}", decoder):
            consumers.extend(
                info for info in page.consumers if info.config.description != READER_DESCRIPTION
            )
    return consumers


def is_bucket_reader(info: ConsumerInfo) -> bool:
    """Tell whether ``info`` is an ephemeral consumer of a key-value bucket.

    nats-py lists a bucket's keys and watches it through such consumers,
    and a reader that stops without deleting its consumer leaves it behind
    until the server deletes it as inactive.
    """
    return info.stream_name.startswith(KV_STREAM_PREFIX) and not info.config.durable_name


def is_live_store(path: Path) -> bool:
    """Tell whether ``path`` is a projection's live store ``<name>.sqlite``.

    A rebuild builds ``<name>.rebuild.sqlite`` and keeps the replaced store
    as ``<name>.previous.sqlite``; both carry the projection's checkpoint
    and would list it twice.
    """
    return "." not in path.stem


async def _read_store(path: Path, notes: list[str]) -> list[StorePosition]:
    try:
        async with ProjectionStore.open(path, projection=path.stem, create=False) as store:
            async with store.connection.execute(
                "SELECT projection, stream, seq FROM checkpoint ORDER BY projection"
            ) as cursor:
                rows = [(str(row[0]), str(row[1]), int(row[2])) async for row in cursor]
            set_aside_count = await set_aside.count(store.connection)
    except sqlite3.Error as exc:
        notes.append(
            _("Projection store {path} could not be read: {detail}").format(path=path, detail=exc)
        )
        return []
    if not rows:
        notes.append(
            _("Projection store {path} has no checkpoint yet; it is not listed.").format(path=path)
        )
    return [
        StorePosition(projection, stream, seq, set_aside_count, path)
        for projection, stream, seq in rows
    ]


async def _read_stores(
    data_dir: Path, heartbeats: Mapping[tuple[str, str], HeartbeatDocument], notes: list[str]
) -> list[StorePosition]:
    stores: list[StorePosition] = []
    for path in sorted((data_dir / "projections").glob("*.sqlite")):
        if is_live_store(path):
            stores.extend(await _read_store(path, notes))

    # A runner on another machine has no store here; its heartbeat still
    # carries the stream and the stored sequence.
    local = {store.projection for store in stores}
    for (kind, name), document in sorted(heartbeats.items()):
        stored = document.counters.get("stored_sequence")
        if kind != PROJECTION_HEARTBEAT or name in local or document.stream is None:
            continue
        if stored is None:
            continue
        stores.append(
            StorePosition(name, document.stream, stored, document.counters.get("set_aside"), None)
        )
    return stores


def _consumer_filter(info: ConsumerInfo) -> str:
    if info.config.filter_subject:
        return info.config.filter_subject
    # NOTE: with several filter subjects the first message after the position
    # may belong to none of them, so the oldest-unprocessed age can be too high.
    return ">"


async def _unprocessed_time(
    js: JetStreamContext, stream: StreamInfo, position: int, subject_filter: str
) -> datetime | None:
    """Return the stream time of the first message after ``position`` matching the filter."""
    try:
        message = await js.get_msg(
            stream.config.name,
            seq=position + 1,
            subject=subject_filter,
            next=True,
            direct=stream.config.allow_direct,
        )
    except (nats.js.errors.NotFoundError, nats.errors.TimeoutError):
        return None
    return message.time


async def take_snapshot(
    client: Client,
    data_dir: Path,
    *,
    with_unprocessed_times: bool = True,
    with_bucket_readers: bool = False,
) -> Snapshot:
    """Read streams, consumers, projection stores and the last heartbeats now.

    With ``with_unprocessed_times`` it also reads the stream time of the
    first unprocessed message of every entry with lag, one request each.
    Ephemeral consumers of key-value buckets are left out and counted in
    ``hidden_consumers`` unless ``with_bucket_readers`` is set.
    """
    js = client.jetstream(timeout=API_TIMEOUT_S)
    notes: list[str] = []
    taken_at = datetime.now(UTC)
    clock_s = time.monotonic()
    streams = await _read_streams(client)
    consumers = await _read_consumers(client, sorted(streams))
    hidden = 0
    if not with_bucket_readers:
        kept = [info for info in consumers if not is_bucket_reader(info)]
        hidden = len(consumers) - len(kept)
        consumers = kept
    if hidden:
        notes.append(
            _("{count} ephemeral consumer(s) of key-value buckets, left by commands that read "
              "them, are not listed; --all lists them.").format(count=hidden)
        )
    heartbeats = {(doc.kind, doc.name): doc for doc in await latest_heartbeats(js)}
    stores = await _read_stores(data_dir, heartbeats, notes)
    snapshot = Snapshot(
        taken_at, clock_s, streams, consumers, stores, heartbeats, notes=notes,
        hidden_consumers=hidden,
    )
    if not with_unprocessed_times:
        return snapshot

    wanted: dict[tuple[str, int], str] = {}
    for consumer in consumers:
        if consumer.num_pending + consumer.num_ack_pending > 0:
            position = consumer.ack_floor.stream_seq
            wanted[(consumer.stream_name, position)] = _consumer_filter(consumer)
    for store in stores:
        stream = streams.get(store.stream)
        if stream is not None and store.stored_sequence < stream.state.last_seq:
            wanted.setdefault((store.stream, store.stored_sequence), ">")
    for (stream_name, position), subject_filter in wanted.items():
        moment = await _unprocessed_time(js, streams[stream_name], position, subject_filter)
        if moment is not None:
            snapshot.unprocessed_times[(stream_name, position)] = moment
    return snapshot
