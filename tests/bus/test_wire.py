"""Pre-encoded publish commands: protocol bytes, Client.publish checks, stored result."""

from __future__ import annotations

import nats.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.publisher import Publisher
from bus.wire import HeaderEncoder, RawSender, check_subject, encode_publish

Bus = tuple[Client, JetStreamContext]


def test_publish_without_headers_is_pub_command() -> None:
    command = encode_publish("zw.ops.a", "_INBOX.x.1", b"hello", None)

    assert command == b"PUB zw.ops.a _INBOX.x.1 5\r\nhello\r\n"


def test_publish_with_headers_is_hpub_command() -> None:
    block = HeaderEncoder().encode({"Nats-Msg-Id": "id-1"})

    command = encode_publish("zw.ops.a", "_INBOX.x.1", b"hello", block)

    assert block == b"NATS/1.0\r\nNats-Msg-Id: id-1\r\n\r\n"
    assert command == b"HPUB zw.ops.a _INBOX.x.1 %d %d\r\n%bhello\r\n" % (
        len(block),
        len(block) + 5,
        block,
    )


def test_header_value_line_ends_become_spaces() -> None:
    block = HeaderEncoder().encode({"Zw-Note": " one\r\ntwo "})

    assert block == b"NATS/1.0\r\nZw-Note: one  two\r\n\r\n"


def test_header_name_not_a_token_raises() -> None:
    encoder = HeaderEncoder()

    with pytest.raises(nats.errors.BadHeaderError):
        encoder.encode({"Bad Name": "x"})
    with pytest.raises(nats.errors.BadHeaderError):
        encoder.encode({"Bad:Name": "x"})


def test_empty_header_name_skipped() -> None:
    block = HeaderEncoder().encode({" ": "ignored", "A": "1"})

    assert block == b"NATS/1.0\r\nA: 1\r\n\r\n"


@pytest.mark.parametrize("subject", ["", "zw.ops a", "zw.ops\r\nPUB x 1", "zw.\tops"])
def test_subject_with_white_space_raises(subject: str) -> None:
    with pytest.raises(nats.errors.BadSubjectError):
        check_subject(subject)


async def test_client_has_members_raw_sender_needs(bus: Bus) -> None:
    client, _js = bus

    assert RawSender.supported(client)


async def test_stored_message_keeps_headers_and_payload(bus: Bus) -> None:
    client, js = bus
    headers = {"Nats-Msg-Id": "wire-1", "Zw-Type": "case.accepted", "Zw-Note": "a\nb"}

    async with Publisher(client) as publisher:
        ack = await (await publisher.publish("zw.ops.wire", "载荷".encode(), headers))
    stored = await js.get_msg("ZW_OPS", ack.seq)

    assert ack.ok
    assert stored.data == "载荷".encode()
    assert stored.headers is not None
    assert stored.headers["Nats-Msg-Id"] == "wire-1"
    assert stored.headers["Zw-Type"] == "case.accepted"
    assert stored.headers["Zw-Note"] == "a b"


async def test_oversized_payload_raises_before_sending(bus: Bus) -> None:
    client, _js = bus
    payload = b"x" * (client.max_payload + 1)

    async with Publisher(client) as publisher:
        with pytest.raises(nats.errors.MaxPayloadError):
            await publisher.publish("zw.ops.big", payload)
        assert publisher.in_flight == 0
        ack = await (await publisher.publish("zw.ops.small", b"x"))

    assert ack.ok
