"""Messages handed straight to a handler: order, headers, status replies and the fallback."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from structlog.testing import capture_logs

from bus.inbound import DirectInbox, parse_headers
from bus.publisher import Publisher
from bus.pull import BatchPuller, DeliveryInfo
from bus.streams import OPS

Bus = tuple[Client, JetStreamContext]


def test_header_block_split_into_names_and_values() -> None:
    block = b"NATS/1.0\r\nNats-Msg-Id: a:b\r\nX-Empty:\r\nbroken line\r\n\r\n"

    assert parse_headers(block) == {"Nats-Msg-Id": "a:b", "X-Empty": ""}
    assert parse_headers(b"NATS/1.0\r\n\r\n") is None


async def _collect(client: Client, subject: str, count: int, *, headers: bool) -> list[Msg]:
    inbox = DirectInbox.attach(client)
    assert inbox is not None
    received: list[Msg] = []
    done = asyncio.Event()

    def take(message: Msg) -> None:
        received.append(message)
        if len(received) == count:
            done.set()

    async def unused(message: Msg) -> None:
        raise AssertionError("a registered subscription's message reached its callback")

    subscription = await client.subscribe(subject, cb=unused)
    inbox.register(subscription._id, take, headers=headers)
    for index in range(count):
        await client.publish(subject, str(index).encode(), headers={"Seq": str(index)})
    await asyncio.wait_for(done.wait(), 5.0)
    inbox.unregister(subscription._id)
    await subscription.unsubscribe()
    return received


@pytest.mark.parametrize("headers", [True, False])
async def test_registered_messages_arrive_in_order(bus: Bus, headers: bool) -> None:
    client, _js = bus

    received = await _collect(client, "zw.test.direct", 50, headers=headers)

    assert [message.data for message in received] == [str(i).encode() for i in range(50)]
    assert [message.subject for message in received] == ["zw.test.direct"] * 50
    expected = [{"Seq": str(i)} for i in range(50)] if headers else [None] * 50
    assert [message.headers for message in received] == expected


async def test_other_subscriptions_keep_their_callbacks(bus: Bus) -> None:
    client, _js = bus
    assert DirectInbox.attach(client) is DirectInbox.attach(client)
    plain: asyncio.Queue[Msg] = asyncio.Queue()

    async def on_plain(message: Msg) -> None:
        await plain.put(message)

    subscription = await client.subscribe("zw.test.plain", cb=on_plain)
    await _collect(client, "zw.test.direct", 3, headers=True)
    await client.publish("zw.test.plain", b"x", headers={"H": "1"})
    message = await asyncio.wait_for(plain.get(), 5.0)
    await subscription.unsubscribe()

    assert (message.data, message.headers) == (b"x", {"H": "1"})


async def test_status_reply_keeps_its_status(bus: Bus) -> None:
    client, js = bus
    await js.add_consumer(
        OPS,
        ConsumerConfig(durable_name="inbound_empty", deliver_policy=DeliverPolicy.NEW,
                       ack_policy=AckPolicy.EXPLICIT),
    )
    inbox = DirectInbox.attach(client)
    assert inbox is not None
    replies: asyncio.Queue[Msg] = asyncio.Queue()
    reply_subject = client.new_inbox()

    async def unused(message: Msg) -> None:
        raise AssertionError("a registered subscription's message reached its callback")

    subscription = await client.subscribe(reply_subject, cb=unused)
    inbox.register(subscription._id, replies.put_nowait, headers=False)
    await client.publish(
        f"$JS.API.CONSUMER.MSG.NEXT.{OPS}.inbound_empty",
        msgspec.json.encode({"batch": 1, "no_wait": True}),
        reply=reply_subject,
    )
    reply = await asyncio.wait_for(replies.get(), 5.0)
    inbox.unregister(subscription._id)
    await subscription.unsubscribe()

    assert reply.headers is not None
    assert reply.headers["Status"] == "404"


async def test_puller_works_without_direct_inbox(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where nats-py lacks the members the inbox needs, the puller uses its callback."""
    client, js = bus
    monkeypatch.setattr(DirectInbox, "attach", classmethod(lambda cls, client: None))
    async with Publisher(client) as publisher:
        acks = [await publisher.publish(f"zw.ops.fallback.{i}", b"x") for i in range(5)]
        for ack in acks:
            assert (await ack).ok
    await js.add_consumer(
        OPS,
        ConsumerConfig(durable_name="inbound_fallback", deliver_policy=DeliverPolicy.ALL,
                       ack_policy=AckPolicy.NONE),
    )

    def sequence(message: Msg, info: DeliveryInfo) -> int:
        return info.stream_seq

    async with BatchPuller(client, OPS, "inbound_fallback", batch_size=10,
                           prepare=sequence) as puller:
        fetched = await puller.fetch(5.0)

    assert fetched == [1, 2, 3, 4, 5]


async def test_failing_handler_keeps_client_reading(bus: Bus) -> None:
    """A handler that raises loses its message, not the connection."""
    client, _js = bus
    inbox = DirectInbox.attach(client)
    assert inbox is not None
    received: list[bytes] = []
    done = asyncio.Event()

    def take(message: Msg) -> None:
        if message.data == b"bad":
            raise ValueError("cannot take this one")
        received.append(message.data)
        if message.data == b"last":
            done.set()

    subscription = await client.subscribe("zw.test.failing")
    inbox.register(subscription._id, take)
    with capture_logs() as logs:
        for data in (b"first", b"bad", b"last"):
            await client.publish("zw.test.failing", data)
        await asyncio.wait_for(done.wait(), 5.0)
    inbox.unregister(subscription._id)
    await subscription.unsubscribe()

    assert received == [b"first", b"last"]
    assert [entry["event"] for entry in logs] == ["direct_inbox_handler_failed"]
    assert logs[0]["error"] == "cannot take this one"
    assert client.is_connected


def test_other_process_msg_signature_not_rerouted() -> None:
    """A nats-py whose reader passes other arguments keeps its own message path."""

    class ChangedClient(Client):
        async def _process_msg(  # type: ignore[override]
            self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes, extra: int
        ) -> None:
            return None

    assert DirectInbox.attach(ChangedClient()) is None
    assert DirectInbox.attach(Client()) is not None
