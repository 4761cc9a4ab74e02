"""The state of each sink for ``zwbus sinks status``: delivered, pending, dead letters.

Delivered counts and the last delivery come from the lanes' position
records. Pending is the consumers' count of messages not yet acknowledged
(``num_pending`` plus ``num_ack_pending``). It counts messages before the
department and type filters, so a sink with those filters delivers fewer.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import msgspec
import nats.js.errors
from nats.js import JetStreamContext

from adapters.sinks.config import FAMILY_STREAMS, SinkConfig
from adapters.sinks.deadletter import count_dead_letters
from adapters.sinks.lane import consumer_name
from adapters.sinks.position import load_position, position_path
from bus.settings import Settings


class LaneStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One sink on one stream."""

    family: str
    stream: str
    consumer: str
    recorded_seq: int
    delivered: int
    pending: int | None
    """None when the consumer does not exist: the sink never ran or it was deleted."""
    last_delivery_at: datetime | None


class SinkStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One sink over all its streams."""

    sink: str
    target: str
    delivered: int
    pending: int | None
    dead_letters: int
    last_delivery_at: datetime | None
    lanes: list[LaneStatus]


async def sink_status(js: JetStreamContext, sink: SinkConfig, settings: Settings) -> SinkStatus:
    """Collect the status of ``sink`` from its position records and the server."""
    lanes = [await _lane_status(js, sink, family, settings) for family in sink.families]
    pendings = [lane.pending for lane in lanes if lane.pending is not None]
    deliveries = [lane.last_delivery_at for lane in lanes if lane.last_delivery_at is not None]
    return SinkStatus(
        sink=sink.id,
        target=sink.target,
        delivered=sum(lane.delivered for lane in lanes),
        pending=sum(pendings) if pendings else None,
        dead_letters=await count_dead_letters(js, sink.id),
        last_delivery_at=max(deliveries) if deliveries else None,
        lanes=lanes,
    )


async def _lane_status(
    js: JetStreamContext, sink: SinkConfig, family: str, settings: Settings
) -> LaneStatus:
    stream = FAMILY_STREAMS[family]
    name = consumer_name(sink.id, family)
    path = position_path(sink, family, settings.data_dir)
    position = await asyncio.to_thread(load_position, path, sink.id, stream)
    try:
        info = await js.consumer_info(stream, name)
        pending: int | None = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    except nats.js.errors.NotFoundError:
        pending = None
    return LaneStatus(
        family=family,
        stream=stream,
        consumer=name,
        recorded_seq=position.last_seq if position else 0,
        delivered=position.delivered if position else 0,
        pending=pending,
        last_delivery_at=position.last_delivery_at if position else None,
    )
