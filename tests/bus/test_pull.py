"""Batch pulls from a real JetStream consumer: order, short batches, read-ahead, failures."""

from __future__ import annotations

import asyncio

import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bus.publisher import Publisher
from bus.pull import BatchPuller, DeliveryInfo, delivery_info, stream_sequence
from bus.streams import OPS

Bus = tuple[Client, JetStreamContext]
CONSUMER = "pull_test"


async def _fill(client: Client, count: int) -> None:
    async with Publisher(client) as publisher:
        futures = [
            await publisher.publish(f"zw.ops.pull.{index}", str(index).encode())
            for index in range(count)
        ]
        for future in futures:
            assert (await future).ok


async def _consumer(js: JetStreamContext) -> None:
    await js.add_consumer(
        OPS,
        ConsumerConfig(
            durable_name=CONSUMER,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
        ),
    )


def _sequence(message: Msg, info: DeliveryInfo) -> int:
    return info.stream_seq


def test_delivery_info_reads_both_reply_forms() -> None:
    short = Msg(None, subject="s", reply="$JS.ACK.ZW_OPS.c.1.42.7.1700000000000000000.3")  # type: ignore[arg-type]
    long = Msg(
        None,  # type: ignore[arg-type]
        subject="s",
        reply="$JS.ACK.hub.ACC.ZW_OPS.c.2.43.8.1700000000000000001.0.rnd",
    )

    assert delivery_info(short) == DeliveryInfo(42, 7, 1700000000000000000, 3)
    assert delivery_info(long) == DeliveryInfo(43, 8, 1700000000000000001, 0)
    assert stream_sequence(short) == 42
    assert stream_sequence(long) == 43


def test_message_without_ack_reply_raises() -> None:
    message = Msg(None, subject="s", reply="_INBOX.abc")  # type: ignore[arg-type]

    with pytest.raises(nats.errors.NotJSMessageError):
        delivery_info(message)


async def test_batches_arrive_in_stream_order(bus: Bus) -> None:
    client, js = bus
    await _fill(client, 25)
    await _consumer(js)

    seen: list[int] = []
    async with BatchPuller(client, OPS, CONSUMER, batch_size=10, prepare=_sequence) as puller:
        for _ in range(3):
            seen.extend(await puller.fetch(5.0))

    assert seen == list(range(1, 26))


async def test_drained_consumer_returns_short_batch(bus: Bus) -> None:
    client, js = bus
    await _fill(client, 3)
    await _consumer(js)

    async with BatchPuller(client, OPS, CONSUMER, batch_size=100, prepare=_sequence) as puller:
        # The request stays open for 30 s; a fetch that waited for it would
        # run into the guard.
        first = await asyncio.wait_for(puller.fetch(30.0), timeout=10.0)
        second = await puller.fetch(0.2)

    assert first == [1, 2, 3]
    assert second == []


async def test_prefetched_batch_follows_in_order(bus: Bus) -> None:
    client, js = bus
    await _fill(client, 20)
    await _consumer(js)

    async with BatchPuller(client, OPS, CONSUMER, batch_size=10, prepare=_sequence) as puller:
        first = await puller.fetch(5.0)
        await puller.prefetch(5.0)
        await puller.prefetch(5.0)
        second = await puller.fetch(5.0)

    assert first == list(range(1, 11))
    assert second == list(range(11, 21))


async def test_message_published_during_wait_is_delivered(bus: Bus) -> None:
    client, js = bus
    await _consumer(js)

    async with BatchPuller(client, OPS, CONSUMER, batch_size=10, prepare=_sequence) as puller:
        nothing = await puller.fetch(0.2)
        await _fill(client, 1)
        later = await puller.fetch(5.0)

    assert nothing == []
    assert later == [1]


async def test_prepare_failure_raises_on_every_fetch(bus: Bus) -> None:
    client, js = bus
    await _fill(client, 3)
    await _consumer(js)

    def prepare(message: Msg, info: DeliveryInfo) -> int:
        if info.stream_seq == 2:
            raise ValueError("cannot prepare message 2")
        return info.stream_seq

    async with BatchPuller(client, OPS, CONSUMER, batch_size=10, prepare=prepare) as puller:
        with pytest.raises(ValueError, match="cannot prepare message 2"):
            await puller.fetch(5.0)
        with pytest.raises(ValueError, match="cannot prepare message 2"):
            await puller.fetch(5.0)


async def test_batch_size_below_one_rejected(bus: Bus) -> None:
    client, _js = bus

    with pytest.raises(ValueError, match="batch_size must be 1 or more"):
        BatchPuller(client, OPS, CONSUMER, batch_size=0, prepare=_sequence)
