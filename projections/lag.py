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

Ephemeral consumers of key-value buckets (``KV_*`` streams without a
durable name) are left out unless asked for: commands that read a bucket
leave them behind until the server deletes them as inactive. Only live
stores ``<name>.sqlite`` are read, not the files a rebuild leaves beside
them.

Adapters and return-flow sinks are listed from their heartbeats: sources
such as the file-drop source, table pollers (named by source id) and the
HTTP gateway (``gateway-<sender>-<family>``) send heartbeats of kind
``adapter``, sinks of kind ``sink``. Each is ``running`` (fresh heartbeat),
``stale`` (silent: the last heartbeat reported running but is older than
three intervals, so the process died or hangs) or ``stopped``. A component
whose last heartbeat is older than ``ZW_OPS`` keeps messages (one day) is
absent from the list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import msgspec
from nats.aio.client import Client

from bus.heartbeat import (
    HeartbeatDocument,
    HeartbeatState,
    recent_heartbeats,
)
from projections.lag_snapshot import (
    API_TIMEOUT_S,
    PROJECTION_HEARTBEAT,
    ConsumerInfo,
    Snapshot,
    StorePosition,
    StreamInfo,
    take_snapshot,
)
from projections.runtime import consumer_name

LagState = Literal["healthy", "slow", "stalled", "ahead-of-stream", "stopped"]
AdapterState = Literal["running", "stale", "stopped"]
AdapterKind = Literal["adapter", "sink"]
EntryKind = Literal["consumer", "projection"]

DEFAULT_SLOW_AFTER_S = 300.0
DEFAULT_SAMPLE_S = 2.0
RATE_WINDOW_S = 60.0
MIN_RATE_SPAN_S = 1.0
"""Shortest time between the first and last heartbeat of the window that yields a rate."""
ADAPTER_HEARTBEAT = "adapter"
SINK_HEARTBEAT = "sink"
LISTED_KINDS: dict[str, AdapterKind] = {ADAPTER_HEARTBEAT: "adapter", SINK_HEARTBEAT: "sink"}
"""Heartbeat kinds listed beside the streams: sources that feed a stream, sinks that read one."""

_PROJECTION_CONSUMER_PREFIX = consumer_name("")


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
    """A source adapter or a return-flow sink as its heartbeats show it."""

    kind: AdapterKind
    name: str
    stream: str | None
    """The stream a source feeds or a sink reads; None for a sink of several streams."""
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

    def consumer(self, info: ConsumerInfo) -> ConsumerLag:
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
        active = [
            moment
            for moment in (info.delivered.last_active, info.ack_floor.last_active)
            if moment is not None
        ]
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

    def projection(self, store: StorePosition) -> ConsumerLag:
        stream = self.later.streams.get(store.stream)
        last = 0 if stream is None else stream.state.last_seq
        owner = self._owner(store.projection)
        consumer = next(
            (
                item
                for item in self.later.consumers
                if (item.stream_name, item.name) == (store.stream, consumer_name(store.projection))
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
            listed = LISTED_KINDS.get(kind)
            if listed is None:
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
                    kind=listed,
                    name=name,
                    stream=document.stream,
                    state=state,
                    last_record_at=document.last_record_at,
                    last_record_age_s=record_age,
                    heartbeat=view,
                )
            )
        adapters.sort(key=lambda adapter: (adapter.stream or "", adapter.kind, adapter.name))
        return adapters


def _limits(info: StreamInfo, now: datetime) -> list[LimitUse]:
    config, state = info.config, info.state
    limits: list[LimitUse] = []
    if config.max_age > 0:
        maximum = config.max_age / 1e9
        first = state.first_ts if state.messages else None
        used = 0.0 if first is None else max(0.0, (now - first).total_seconds())
        limits.append(LimitUse(limit="max_age_s", maximum=maximum, used=used, ratio=used / maximum))
    if config.max_bytes > 0:
        limits.append(
            LimitUse(
                limit="max_bytes",
                maximum=config.max_bytes,
                used=state.bytes,
                ratio=state.bytes / config.max_bytes,
            )
        )
    if config.max_msgs > 0:
        limits.append(
            LimitUse(
                limit="max_msgs",
                maximum=config.max_msgs,
                used=state.messages,
                ratio=state.messages / config.max_msgs,
            )
        )
    return limits


def _stream_lag(info: StreamInfo, now: datetime) -> StreamLag:
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
            exceeded.append(
                Exceeded(
                    kind=entry.kind,
                    stream=entry.stream,
                    name=entry.name,
                    measure="lag",
                    value=entry.lag,
                    limit=max_lag,
                )
            )
        age = entry.oldest_unprocessed_age_s
        if max_age_s is not None and age is not None and age > max_age_s:
            exceeded.append(
                Exceeded(
                    kind=entry.kind,
                    stream=entry.stream,
                    name=entry.name,
                    measure="age",
                    value=age,
                    limit=max_age_s,
                )
            )
    return exceeded


async def gather(
    client: Client,
    data_dir: Path,
    *,
    previous: Snapshot | None = None,
    sample_s: float = DEFAULT_SAMPLE_S,
    slow_after_s: float = DEFAULT_SLOW_AFTER_S,
    with_bucket_readers: bool = False,
) -> tuple[LagReport, Snapshot]:
    """Build a report against ``previous``, or against a snapshot taken ``sample_s`` earlier.

    Ephemeral consumers of key-value buckets are listed only with
    ``with_bucket_readers``. Returns the report and the snapshot it ends
    with, which the next refresh passes as ``previous``.
    """
    if previous is None:
        previous = await take_snapshot(
            client,
            data_dir,
            with_unprocessed_times=False,
            with_bucket_readers=with_bucket_readers,
        )
        await asyncio.sleep(sample_s)
    current = await take_snapshot(client, data_dir, with_bucket_readers=with_bucket_readers)
    js = client.jetstream(timeout=API_TIMEOUT_S)
    history = await recent_heartbeats(js, current.taken_at - timedelta(seconds=RATE_WINDOW_S))
    return build_report(previous, current, history, slow_after_s=slow_after_s), current
