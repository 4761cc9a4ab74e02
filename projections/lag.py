"""How far every consumer and projection is behind its stream, for ``zwbus lag``.

A report is built from two snapshots of the server and the local projection
stores, taken ``sample_s`` seconds apart (or at two refreshes of ``--watch``),
and from the heartbeats of the last minute in ``ZW_OPS``.

Terms:

- position: the last stream sequence an entry has finished, i.e. a
  consumer's acknowledgement floor or a projection's stored sequence.
- lag: the messages still to process. For a consumer it is
  ``num_pending + num_ack_pending``; for a projection it is the stream's
  last sequence minus the stored sequence.
- rate: stream sequences finished per second. It comes from the
  ``stored_sequence`` counter of the heartbeats of the last minute when
  there are two or more of them, otherwise from the two snapshots.
- time to catch up: (stream last sequence - position) / rate.
- alive: the owner sent a ``running`` heartbeat within three of its
  intervals, or the server shows a client attached to the consumer (a
  waiting pull request or a bound push subscription).
- progress: the position moved forward between the two snapshots.

States, checked in this order:

- ``ahead-of-stream``: a projection whose stored sequence is greater than
  its stream's last sequence, so its store belongs to another stream or
  server. The runner refuses to run it.
- ``stopped``: lag 0 and not alive (the last heartbeat has state
  ``stopped``, or there is none).
- ``healthy``: lag 0 and alive, or progress with a time to catch up of at
  most ``slow_after_s``.
- ``stalled``: lag above 0, no progress and not alive.
- ``slow``: lag above 0 and the time to catch up exceeds ``slow_after_s``,
  or is unknown because an alive owner made no progress.

Adapters are listed from their heartbeats: ``running`` (fresh heartbeat),
``stale`` (last heartbeat said running but is older than three intervals,
so the process died or hangs) or ``stopped``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.errors import StreamError
from bus.heartbeat import (
    READER_DESCRIPTION,
    HeartbeatDocument,
    HeartbeatState,
    latest_heartbeats,
    recent_heartbeats,
)
from bus.i18n import N_, _
from projections import set_aside
from projections.checkpoint_store import ProjectionStore
from projections.runtime import consumer_name

LagState = Literal["healthy", "slow", "stalled", "ahead-of-stream", "stopped"]
AdapterState = Literal["running", "stale", "stopped"]
EntryKind = Literal["consumer", "projection"]

DEFAULT_SLOW_AFTER_S = 300.0
DEFAULT_SAMPLE_S = 2.0
RATE_WINDOW_S = 60.0
MIN_RATE_SPAN_S = 1.0
"""Shortest time between the first and last heartbeat of the window that yields a rate."""
API_TIMEOUT_S = 5.0
PROJECTION_HEARTBEAT = "projection"
ADAPTER_HEARTBEAT = "adapter"

_PROJECTION_CONSUMER_PREFIX = consumer_name("")


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


class _StreamInfo(msgspec.Struct):
    config: _StreamConfig
    state: _StreamState


class _StreamList(msgspec.Struct):
    total: int = 0
    streams: list[_StreamInfo] = []
    error: _ApiError | None = None


class _Sequence(msgspec.Struct):
    consumer_seq: int = 0
    stream_seq: int = 0
    last_active: datetime | None = None


class _ConsumerConfig(msgspec.Struct):
    description: str = ""
    filter_subject: str = ""
    filter_subjects: list[str] = []


class _ConsumerInfo(msgspec.Struct):
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
    consumers: list[_ConsumerInfo] = []
    error: _ApiError | None = None


_Reply = TypeVar("_Reply", _StreamList, _ConsumerList)


# --- the report ------------------------------------------------------------------


class LimitUse(msgspec.Struct, kw_only=True):
    """How much of one stream limit is used."""

    limit: Literal["max_age_s", "max_bytes", "max_msgs"]
    maximum: float
    used: float
    """Amount used, in the limit's unit: age of the first message in seconds, bytes, or messages."""
    ratio: float


class StreamLag(msgspec.Struct, kw_only=True):
    """State and limits of one stream."""

    name: str
    subjects: list[str]
    messages: int
    bytes: int
    first_sequence: int
    last_sequence: int
    first_time: datetime | None
    last_time: datetime | None
    consumer_count: int
    limits: list[LimitUse]
    """Only the limits the stream sets."""


class HeartbeatView(msgspec.Struct, kw_only=True):
    """The last heartbeat of an entry's owner."""

    state: HeartbeatState
    sent_at: datetime
    age_s: float
    interval_s: float
    fresh: bool
    host: str
    pid: int
    counters: dict[str, int]
    last_record_at: datetime | None


class ConsumerLag(msgspec.Struct, kw_only=True):
    """Lag of one consumer or projection against its stream."""

    kind: EntryKind
    stream: str
    name: str
    state: LagState
    lag: int
    pending: int
    """Consumer: ``num_pending``. Projection: stream last sequence minus stored sequence."""
    ack_pending: int
    redelivered: int
    position: int
    """Consumer: acknowledgement floor stream sequence. Projection: stored sequence."""
    delivered_sequence: int | None
    stream_last_sequence: int
    behind: int
    """Stream last sequence minus position; negative for a projection ahead of its stream."""
    rate_per_s: float | None
    rate_source: Literal["heartbeats", "samples"] | None
    catch_up_s: float | None
    oldest_unprocessed_at: datetime | None
    oldest_unprocessed_age_s: float | None
    last_active: datetime | None
    set_aside: int | None
    store: str | None
    """Projection store file; None for a consumer or a projection known only by heartbeat."""
    heartbeat: HeartbeatView | None


class AdapterLag(msgspec.Struct, kw_only=True):
    """A source adapter as its heartbeats show it."""

    name: str
    stream: str | None
    state: AdapterState
    last_record_at: datetime | None
    last_record_age_s: float | None
    heartbeat: HeartbeatView


class Exceeded(msgspec.Struct, kw_only=True):
    """One entry over a ``--max-lag`` or ``--max-age`` threshold."""

    kind: EntryKind
    stream: str
    name: str
    measure: Literal["lag", "age"]
    value: float
    limit: float


class LagReport(msgspec.Struct, kw_only=True):
    """Everything ``zwbus lag`` shows, as of ``taken_at``."""

    taken_at: datetime
    sample_s: float
    """Seconds between the two snapshots the rates compare."""
    slow_after_s: float
    streams: list[StreamLag]
    consumers: list[ConsumerLag]
    adapters: list[AdapterLag]
    notes: list[str]
    exceeded: list[Exceeded] = []


# --- snapshots -------------------------------------------------------------------


@dataclass(frozen=True)
class _StorePosition:
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
    streams: dict[str, _StreamInfo]
    consumers: list[_ConsumerInfo]
    stores: list[_StorePosition]
    heartbeats: dict[tuple[str, str], HeartbeatDocument]
    unprocessed_times: dict[tuple[str, int], datetime] = field(default_factory=dict)
    """Stream time of the first message after a position, by (stream, position)."""
    notes: list[str] = field(default_factory=list)


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
                N_("JetStream request {subject} failed: {detail}. Check that the server "
                   "runs with JetStream enabled."),
                subject=subject,
                detail=str(exc) or type(exc).__name__,
            ) from exc
        page = decoder.decode(reply.data)
        if page.error is not None:
            if page.error.code == 404:
                return pages
            raise StreamError(
                N_("JetStream request {subject} failed: {detail}. Check that the server "
                   "runs with JetStream enabled."),
                subject=subject,
                detail=page.error.description,
            )
        pages.append(page)
        count = len(page.streams) if isinstance(page, _StreamList) else len(page.consumers)
        offset += count
        if count == 0 or offset >= page.total:
            return pages


async def _read_streams(client: Client) -> dict[str, _StreamInfo]:
    pages = await _api_list(client, "$JS.API.STREAM.LIST", msgspec.json.Decoder(_StreamList))
    return {info.config.name: info for page in pages for info in page.streams}


async def _read_consumers(client: Client, streams: Sequence[str]) -> list[_ConsumerInfo]:
    decoder = msgspec.json.Decoder(_ConsumerList)
    consumers: list[_ConsumerInfo] = []
    for stream in streams:
        for page in await _api_list(client, f"$JS.API.CONSUMER.LIST.{stream}", decoder):
            consumers.extend(
                info for info in page.consumers if info.config.description != READER_DESCRIPTION
            )
    return consumers


async def _read_store(path: Path, notes: list[str]) -> list[_StorePosition]:
    try:
        async with ProjectionStore.open(path, projection=path.stem, create=False) as store:
            async with store.connection.execute(
                "SELECT projection, stream, seq FROM checkpoint ORDER BY projection"
            ) as cursor:
                rows = [(str(row[0]), str(row[1]), int(row[2])) async for row in cursor]
            set_aside_count = await set_aside.count(store.connection)
    except sqlite3.Error as exc:
        notes.append(_("Projection store {path} could not be read: {detail}").format(
            path=path, detail=exc))
        return []
    if not rows:
        notes.append(_("Projection store {path} has no checkpoint yet; it is not listed.").format(
            path=path))
    return [
        _StorePosition(projection, stream, seq, set_aside_count, path)
        for projection, stream, seq in rows
    ]


async def _read_stores(
    data_dir: Path, heartbeats: Mapping[tuple[str, str], HeartbeatDocument], notes: list[str]
) -> list[_StorePosition]:
    stores: list[_StorePosition] = []
    for path in sorted((data_dir / "projections").glob("*.sqlite")):
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
            _StorePosition(name, document.stream, stored, document.counters.get("set_aside"), None)
        )
    return stores


def _consumer_filter(info: _ConsumerInfo) -> str:
    if info.config.filter_subject:
        return info.config.filter_subject
    # NOTE: with several filter subjects the first message after the position
    # may belong to none of them, so the oldest-unprocessed age can be too high.
    return ">"


async def _unprocessed_time(
    js: JetStreamContext, stream: _StreamInfo, position: int, subject_filter: str
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
    client: Client, data_dir: Path, *, with_unprocessed_times: bool = True
) -> Snapshot:
    """Read streams, consumers, projection stores and the last heartbeats now.

    With ``with_unprocessed_times`` it also reads the stream time of the
    first unprocessed message of every entry with lag, one request each.
    """
    js = client.jetstream(timeout=API_TIMEOUT_S)
    notes: list[str] = []
    taken_at = datetime.now(UTC)
    clock_s = time.monotonic()
    streams = await _read_streams(client)
    consumers = await _read_consumers(client, sorted(streams))
    heartbeats = {(doc.kind, doc.name): doc for doc in await latest_heartbeats(js)}
    stores = await _read_stores(data_dir, heartbeats, notes)
    snapshot = Snapshot(taken_at, clock_s, streams, consumers, stores, heartbeats, notes=notes)
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


# --- from snapshots to a report --------------------------------------------------


def classify(
    *,
    lag: int,
    ahead: bool,
    progressed: bool,
    alive: bool,
    catch_up_s: float | None,
    slow_after_s: float,
) -> LagState:
    """Return the state of one entry; the module docstring defines each state."""
    if ahead:
        return "ahead-of-stream"
    if lag <= 0:
        return "healthy" if alive else "stopped"
    if not progressed and not alive:
        return "stalled"
    if catch_up_s is None or catch_up_s > slow_after_s:
        return "slow"
    return "healthy"


def _heartbeat_view(document: HeartbeatDocument, now: datetime) -> HeartbeatView:
    return HeartbeatView(
        state=document.state,
        sent_at=document.sent_at,
        age_s=document.age_s(now),
        interval_s=document.interval_s,
        fresh=document.is_fresh(now),
        host=document.host,
        pid=document.pid,
        counters=dict(document.counters),
        last_record_at=document.last_record_at,
    )


def _sample_rate(earlier: int | None, later: int, span_s: float) -> float | None:
    if earlier is None or span_s <= 0 or later < earlier:
        # A position that moved back belongs to a recreated consumer.
        return None
    return (later - earlier) / span_s


def _heartbeat_rate(history: Sequence[HeartbeatDocument]) -> float | None:
    """Return the ``stored_sequence`` rate over the given heartbeats of one projection."""
    points = sorted(
        (document.sent_at, document.counters["stored_sequence"])
        for document in history
        if "stored_sequence" in document.counters
    )
    if len(points) < 2:
        return None
    (first_at, first_seq), (last_at, last_seq) = points[0], points[-1]
    span_s = (last_at - first_at).total_seconds()
    if span_s < MIN_RATE_SPAN_S or last_seq < first_seq:
        return None
    return (last_seq - first_seq) / span_s


def _choose_rate(
    from_heartbeats: float | None, from_samples: float | None
) -> tuple[float | None, Literal["heartbeats", "samples"] | None]:
    # Heartbeats cover the last minute and samples only a few seconds. Samples
    # win only when they saw progress that the heartbeats do not show yet.
    if from_heartbeats is not None and (from_heartbeats > 0 or not from_samples):
        return from_heartbeats, "heartbeats"
    if from_samples is not None:
        return from_samples, "samples"
    return None, None


@dataclass(frozen=True)
class _Measure:
    """The inputs of one entry that its rate and state depend on."""

    kind: EntryKind
    stream: str
    lag: int
    position: int
    earlier_position: int | None
    stream_last: int
    alive: bool
    history: Sequence[HeartbeatDocument]


@dataclass(frozen=True)
class _Timing:
    state: LagState
    behind: int
    rate_per_s: float | None
    rate_source: Literal["heartbeats", "samples"] | None
    catch_up_s: float | None
    oldest_unprocessed_at: datetime | None
    oldest_unprocessed_age_s: float | None


class _ReportBuilder:
    def __init__(
        self,
        earlier: Snapshot,
        later: Snapshot,
        history: Sequence[HeartbeatDocument],
        slow_after_s: float,
    ) -> None:
        self.earlier = earlier
        self.later = later
        self.now = later.taken_at
        self.span_s = later.clock_s - earlier.clock_s
        self.slow_after_s = slow_after_s
        self.history: dict[tuple[str, str], list[HeartbeatDocument]] = {}
        for document in history:
            self.history.setdefault((document.kind, document.name), []).append(document)

    def _owner(self, projection: str | None) -> HeartbeatDocument | None:
        if projection is None:
            return None
        return self.later.heartbeats.get((PROJECTION_HEARTBEAT, projection))

    def _owner_history(self, projection: str | None) -> list[HeartbeatDocument]:
        if projection is None:
            return []
        return self.history.get((PROJECTION_HEARTBEAT, projection), [])

    def _timing(self, measure: _Measure) -> _Timing:
        sample = _sample_rate(measure.earlier_position, measure.position, self.span_s)
        rate, source = _choose_rate(_heartbeat_rate(measure.history), sample)
        behind = measure.stream_last - measure.position
        ahead = measure.kind == "projection" and behind < 0

        catch_up: float | None = None
        if measure.lag <= 0:
            catch_up = 0.0
        elif rate:
            catch_up = behind / rate

        oldest: datetime | None = None
        oldest_age: float | None = None
        if measure.lag > 0:
            oldest = self.later.unprocessed_times.get((measure.stream, measure.position))
        if oldest is not None:
            oldest_age = max(0.0, (self.now - oldest).total_seconds())

        progressed = (
            measure.earlier_position is not None and measure.position > measure.earlier_position
        )
        state = classify(
            lag=measure.lag,
            ahead=ahead,
            progressed=progressed,
            alive=measure.alive,
            catch_up_s=catch_up,
            slow_after_s=self.slow_after_s,
        )
        return _Timing(
            state=state,
            behind=behind,
            rate_per_s=rate,
            rate_source=source,
            catch_up_s=None if ahead else catch_up,
            oldest_unprocessed_at=oldest,
            oldest_unprocessed_age_s=oldest_age,
        )

    def consumer(self, info: _ConsumerInfo) -> ConsumerLag:
        projection = None
        if info.name.startswith(_PROJECTION_CONSUMER_PREFIX):
            projection = info.name.removeprefix(_PROJECTION_CONSUMER_PREFIX)
        owner = self._owner(projection)
        earlier = next(
            (
                item.ack_floor.stream_seq
                for item in self.earlier.consumers
                if (item.stream_name, item.name) == (info.stream_name, info.name)
            ),
            None,
        )
        stream = self.later.streams[info.stream_name]
        attached = info.num_waiting > 0 or info.push_bound
        measure = _Measure(
            kind="consumer",
            stream=info.stream_name,
            lag=info.num_pending + info.num_ack_pending,
            position=info.ack_floor.stream_seq,
            earlier_position=earlier,
            stream_last=stream.state.last_seq,
            alive=attached or (owner is not None and owner.is_fresh(self.now)),
            history=self._owner_history(projection),
        )
        timing = self._timing(measure)
        active = [moment for moment in (info.delivered.last_active, info.ack_floor.last_active)
                  if moment is not None]
        return ConsumerLag(
            kind="consumer",
            stream=info.stream_name,
            name=info.name,
            lag=measure.lag,
            pending=info.num_pending,
            ack_pending=info.num_ack_pending,
            redelivered=info.num_redelivered,
            position=measure.position,
            delivered_sequence=info.delivered.stream_seq,
            stream_last_sequence=measure.stream_last,
            last_active=max(active) if active else None,
            set_aside=None,
            store=None,
            heartbeat=None if owner is None else _heartbeat_view(owner, self.now),
            state=timing.state,
            behind=timing.behind,
            rate_per_s=timing.rate_per_s,
            rate_source=timing.rate_source,
            catch_up_s=timing.catch_up_s,
            oldest_unprocessed_at=timing.oldest_unprocessed_at,
            oldest_unprocessed_age_s=timing.oldest_unprocessed_age_s,
        )

    def projection(self, store: _StorePosition) -> ConsumerLag:
        stream = self.later.streams.get(store.stream)
        last = 0 if stream is None else stream.state.last_seq
        owner = self._owner(store.projection)
        consumer = next(
            (
                item
                for item in self.later.consumers
                if (item.stream_name, item.name)
                == (store.stream, consumer_name(store.projection))
            ),
            None,
        )
        earlier = next(
            (
                item.stored_sequence
                for item in self.earlier.stores
                if item.projection == store.projection and item.stream == store.stream
            ),
            None,
        )
        attached = consumer is not None and (consumer.num_waiting > 0 or consumer.push_bound)
        measure = _Measure(
            kind="projection",
            stream=store.stream,
            lag=max(0, last - store.stored_sequence),
            position=store.stored_sequence,
            earlier_position=earlier,
            stream_last=last,
            alive=attached or (owner is not None and owner.is_fresh(self.now)),
            history=self._owner_history(store.projection),
        )
        timing = self._timing(measure)
        return ConsumerLag(
            kind="projection",
            stream=store.stream,
            name=store.projection,
            lag=measure.lag,
            pending=measure.lag,
            ack_pending=0 if consumer is None else consumer.num_ack_pending,
            redelivered=0 if consumer is None else consumer.num_redelivered,
            position=store.stored_sequence,
            delivered_sequence=None,
            stream_last_sequence=last,
            last_active=None if owner is None else owner.last_record_at,
            set_aside=store.set_aside,
            store=None if store.path is None else str(store.path),
            heartbeat=None if owner is None else _heartbeat_view(owner, self.now),
            state=timing.state,
            behind=timing.behind,
            rate_per_s=timing.rate_per_s,
            rate_source=timing.rate_source,
            catch_up_s=timing.catch_up_s,
            oldest_unprocessed_at=timing.oldest_unprocessed_at,
            oldest_unprocessed_age_s=timing.oldest_unprocessed_age_s,
        )

    def adapters(self) -> list[AdapterLag]:
        adapters: list[AdapterLag] = []
        for (kind, name), document in sorted(self.later.heartbeats.items()):
            if kind != ADAPTER_HEARTBEAT:
                continue
            view = _heartbeat_view(document, self.now)
            state: AdapterState = "stopped"
            if document.state == "running":
                state = "running" if view.fresh else "stale"
            record_age = None
            if document.last_record_at is not None:
                record_age = max(0.0, (self.now - document.last_record_at).total_seconds())
            adapters.append(
                AdapterLag(
                    name=name,
                    stream=document.stream,
                    state=state,
                    last_record_at=document.last_record_at,
                    last_record_age_s=record_age,
                    heartbeat=view,
                )
            )
        adapters.sort(key=lambda adapter: (adapter.stream or "", adapter.name))
        return adapters


def _limits(info: _StreamInfo, now: datetime) -> list[LimitUse]:
    config, state = info.config, info.state
    limits: list[LimitUse] = []
    if config.max_age > 0:
        maximum = config.max_age / 1e9
        first = state.first_ts if state.messages else None
        used = 0.0 if first is None else max(0.0, (now - first).total_seconds())
        limits.append(LimitUse(limit="max_age_s", maximum=maximum, used=used,
                               ratio=used / maximum))
    if config.max_bytes > 0:
        limits.append(LimitUse(limit="max_bytes", maximum=config.max_bytes, used=state.bytes,
                               ratio=state.bytes / config.max_bytes))
    if config.max_msgs > 0:
        limits.append(LimitUse(limit="max_msgs", maximum=config.max_msgs, used=state.messages,
                               ratio=state.messages / config.max_msgs))
    return limits


def _stream_lag(info: _StreamInfo, now: datetime) -> StreamLag:
    state = info.state
    has_messages = state.messages > 0
    return StreamLag(
        name=info.config.name,
        subjects=list(info.config.subjects),
        messages=state.messages,
        bytes=state.bytes,
        first_sequence=state.first_seq,
        last_sequence=state.last_seq,
        first_time=state.first_ts if has_messages else None,
        last_time=state.last_ts if has_messages else None,
        consumer_count=state.consumer_count,
        limits=_limits(info, now),
    )


def build_report(
    earlier: Snapshot,
    later: Snapshot,
    history: Sequence[HeartbeatDocument] = (),
    *,
    slow_after_s: float = DEFAULT_SLOW_AFTER_S,
) -> LagReport:
    """Build a report from two snapshots and the heartbeat history of the last minute."""
    builder = _ReportBuilder(earlier, later, history, slow_after_s)
    now = later.taken_at
    entries = [builder.consumer(info) for info in later.consumers]
    entries.extend(builder.projection(store) for store in later.stores)
    entries.sort(key=lambda entry: (entry.stream, entry.kind, entry.name))
    return LagReport(
        taken_at=later.taken_at,
        sample_s=builder.span_s,
        slow_after_s=slow_after_s,
        streams=[_stream_lag(later.streams[name], now) for name in sorted(later.streams)],
        consumers=entries,
        adapters=builder.adapters(),
        notes=list(later.notes),
    )


def find_exceeded(
    report: LagReport, *, max_lag: int | None = None, max_age_s: float | None = None
) -> list[Exceeded]:
    """Return the consumers and projections over ``max_lag`` messages or ``max_age_s`` seconds."""
    exceeded: list[Exceeded] = []
    for entry in report.consumers:
        if max_lag is not None and entry.lag > max_lag:
            exceeded.append(Exceeded(kind=entry.kind, stream=entry.stream, name=entry.name,
                                     measure="lag", value=entry.lag, limit=max_lag))
        age = entry.oldest_unprocessed_age_s
        if max_age_s is not None and age is not None and age > max_age_s:
            exceeded.append(Exceeded(kind=entry.kind, stream=entry.stream, name=entry.name,
                                     measure="age", value=age, limit=max_age_s))
    return exceeded


async def gather(
    client: Client,
    data_dir: Path,
    *,
    previous: Snapshot | None = None,
    sample_s: float = DEFAULT_SAMPLE_S,
    slow_after_s: float = DEFAULT_SLOW_AFTER_S,
) -> tuple[LagReport, Snapshot]:
    """Build a report against ``previous``, or against a snapshot taken ``sample_s`` earlier.

    Returns the report and the snapshot it ends with, which the next
    refresh passes as ``previous``.
    """
    if previous is None:
        previous = await take_snapshot(client, data_dir, with_unprocessed_times=False)
        await asyncio.sleep(sample_s)
    current = await take_snapshot(client, data_dir)
    js = client.jetstream(timeout=API_TIMEOUT_S)
    history = await recent_heartbeats(js, current.taken_at - timedelta(seconds=RATE_WINDOW_S))
    return build_report(previous, current, history, slow_after_s=slow_after_s), current
