"""Tests of the windowed publisher against a real nats-server."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from structlog.testing import capture_logs

from bus.errors import PublishError
from bus.inbound import DirectInbox
from bus.publisher import WRONG_LAST_SEQUENCE, Publisher
from bus.server import ServerInfo
from bus.streams import OPS, SOURCES
from tests.pausing import pause_server, resume_server

Bus = tuple[Client, JetStreamContext]


async def _messages(js: JetStreamContext, stream: str) -> int:
    info = await js.stream_info(stream)
    return int(info.state.messages)


async def test_window_bounds_in_flight(bus: Bus) -> None:
    client, js = bus
    window = 3
    max_in_flight = 0
    futures = []

    async with Publisher(client, window=window) as publisher:
        for number in range(60):
            futures.append(await publisher.publish(f"zw.ops.window.{number}", b"x"))
            max_in_flight = max(max_in_flight, publisher.in_flight)
        acks = [await future for future in futures]

    assert max_in_flight <= window
    assert all(ack.ok for ack in acks)
    assert {ack.stream for ack in acks} == {OPS}
    assert sorted(ack.seq for ack in acks) == list(range(1, 61))
    assert await _messages(js, OPS) == 60


async def test_window_blocks_until_acknowledged(bus: Bus) -> None:
    client, _js = bus

    async with Publisher(client, window=1) as publisher:
        first = await publisher.publish("zw.ops.block.1", b"x")
        second = await publisher.publish("zw.ops.block.2", b"x")

        assert first.done()
        assert publisher.in_flight <= 1
        assert (await second).seq == (await first).seq + 1


async def test_repeated_msg_id_acknowledged_as_duplicate(bus: Bus) -> None:
    client, js = bus
    headers = {"Nats-Msg-Id": "publisher-test-duplicate"}

    async with Publisher(client) as publisher:
        first = await (await publisher.publish("zw.ops.dup", b"one", headers))
        second = await (await publisher.publish("zw.ops.dup", b"two", headers))

    assert first.ok
    assert not first.duplicate
    assert second.ok
    assert second.duplicate
    assert second.seq == first.seq
    assert await _messages(js, OPS) == 1


async def test_create_only_write_on_existing_key_fails(bus: Bus) -> None:
    client, _js = bus
    subject = f"$KV.{SOURCES}.publisher-test"
    create_only = {"Nats-Expected-Last-Subject-Sequence": "0"}

    async with Publisher(client) as publisher:
        created = await (await publisher.publish(subject, b"first", create_only))
        again = await (await publisher.publish(subject, b"second", create_only))

    assert created.ok
    assert not again.ok
    assert again.error_code == WRONG_LAST_SEQUENCE
    assert again.error
    assert again.seq == 0


async def test_subject_without_stream_raises(bus: Bus) -> None:
    client, _js = bus
    subject = "nowhere.publisher.test"

    async with Publisher(client) as publisher:
        future = await publisher.publish(subject, b"x", {"Nats-Msg-Id": "lost-1"})
        with pytest.raises(PublishError) as caught:
            await future

    assert caught.value.facts["subject"] == subject
    assert subject in str(caught.value)
    assert "lost-1" in str(caught.value)
    assert "no stream takes this subject" in str(caught.value)


async def test_tiny_timeout_resolves_once(bus: Bus) -> None:
    client, js = bus
    headers = {"Nats-Msg-Id": "publisher-test-tiny-timeout"}

    async with Publisher(client, timeout_s=0.002, retries=200) as publisher:
        ack = await (await publisher.publish("zw.ops.tiny", b"x", headers))
        assert publisher.in_flight == 0

    assert ack.ok
    assert ack.seq == 1
    assert await _messages(js, OPS) == 1


async def test_unanswered_publish_resent_with_same_msg_id(
    bus: Bus, nats_server: ServerInfo
) -> None:
    """A publish sent while the server is paused is retried and stored once."""
    client, js = bus
    headers = {"Nats-Msg-Id": "publisher-test-paused"}

    async with Publisher(client, timeout_s=0.1, retries=50) as publisher:
        with capture_logs() as logs:
            pause_server(nats_server.pid)
            try:
                future = await publisher.publish("zw.ops.paused", b"x", headers)
                await asyncio.sleep(0.5)
            finally:
                resume_server(nats_server.pid)
            ack = await asyncio.wait_for(future, timeout=10)

    retries = [entry for entry in logs if entry["event"] == "publish_retry"]
    assert retries
    assert all(entry["msg_id"] == "publisher-test-paused" for entry in retries)
    assert ack.ok
    assert ack.seq == 1
    assert await _messages(js, OPS) == 1


async def test_unanswered_publish_fails_after_retries(bus: Bus, nats_server: ServerInfo) -> None:
    client, _js = bus

    async with Publisher(client, timeout_s=0.05, retries=2) as publisher:
        pause_server(nats_server.pid)
        try:
            future = await publisher.publish("zw.ops.gone", b"x", {"Nats-Msg-Id": "gone-1"})
            with pytest.raises(PublishError) as caught:
                await asyncio.wait_for(future, timeout=5)
        finally:
            resume_server(nats_server.pid)

    assert caught.value.facts["attempts"] == 2
    assert "zw.ops.gone" in str(caught.value)
    assert "timed out" in str(caught.value)


async def test_acks_taken_from_direct_inbox(bus: Bus) -> None:
    """Acknowledgements reach the publisher from the client's reader, without a queue."""
    client, _js = bus

    async with Publisher(client) as publisher:
        inbox = DirectInbox.attach(client)
        assert inbox is not None
        sid = publisher._subscription._id  # type: ignore[union-attr]
        registered = sid in inbox._handlers
        ack = await (await publisher.publish("zw.ops.direct", b"x"))

    assert registered
    assert ack.ok
    assert sid not in inbox._handlers


async def test_acks_without_direct_inbox(bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the reader cannot be rerouted, acknowledgements reach the subscription callback."""
    client, _js = bus
    monkeypatch.setattr(DirectInbox, "attach", classmethod(lambda cls, client: None))

    async with Publisher(client) as publisher:
        acks = [await (await publisher.publish(f"zw.ops.plain.{n}", b"x")) for n in range(3)]

    assert [ack.seq for ack in acks] == [1, 2, 3]
