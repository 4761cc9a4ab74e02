"""Batched key-value reads against a real nats-server: found, missing, deleted and many keys."""

from __future__ import annotations

from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.ingest.kvget import KEYS_PER_REQUEST, get_many
from bus.streams import CASE_CODES

Bus = tuple[Client, JetStreamContext]


async def test_existing_keys_returned_with_revision(bus: Bus) -> None:
    _client, js = bus
    bucket = await js.key_value(CASE_CODES)
    first = await bucket.create("map.sys.a", b"CODE-A")
    await bucket.create("map.sys.b", b"CODE-B")
    updated = await bucket.put("map.sys.b", b"CODE-B2")

    found = await get_many(bucket, ["map.sys.a", "map.sys.b", "map.sys.none"])

    assert found == {"map.sys.a": (b"CODE-A", first), "map.sys.b": (b"CODE-B2", updated)}


async def test_no_existing_key_gives_empty_result(bus: Bus) -> None:
    _client, js = bus
    bucket = await js.key_value(CASE_CODES)

    found = await get_many(bucket, ["map.sys.x", "map.sys.y"])

    assert found == {}


async def test_deleted_key_left_out(bus: Bus) -> None:
    _client, js = bus
    bucket = await js.key_value(CASE_CODES)
    await bucket.create("map.sys.gone", b"CODE")
    await bucket.delete("map.sys.gone")
    await bucket.create("map.sys.kept", b"KEPT")

    found = await get_many(bucket, ["map.sys.gone", "map.sys.kept"])

    assert list(found) == ["map.sys.kept"]


async def test_more_keys_than_one_request_holds(bus: Bus) -> None:
    _client, js = bus
    bucket = await js.key_value(CASE_CODES)
    count = KEYS_PER_REQUEST * 2 + 5
    for index in range(0, count, 2):
        await bucket.create(f"map.sys.k{index}", str(index).encode())

    found = await get_many(bucket, [f"map.sys.k{index}" for index in range(count)])

    assert sorted(found) == sorted(f"map.sys.k{index}" for index in range(0, count, 2))
    assert all(found[key][0] == key.removeprefix("map.sys.k").encode() for key in found)
