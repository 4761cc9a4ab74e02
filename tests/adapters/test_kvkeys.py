"""Listing key-value keys against a real nats-server: filters, deletions and many keys."""

from __future__ import annotations

from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.ingest.kvkeys import FETCH_BATCH, list_keys
from bus.streams import PARKED

Bus = tuple[Client, JetStreamContext]


async def test_list_keys_empty_bucket(bus: Bus) -> None:
    _client, js = bus
    await js.key_value(PARKED)

    assert await list_keys(js, PARKED) == []


async def test_list_keys_filter_and_deletions(bus: Bus) -> None:
    _client, js = bus
    bucket = await js.key_value(PARKED)
    await bucket.put("p.A.1", b"one")
    await bucket.put("p.A.2", b"two")
    await bucket.put("p.A.2", b"two again")
    await bucket.put("review.B.3", b"three")
    await bucket.put("p.C.4", b"four")
    await bucket.delete("p.C.4")
    await bucket.put("p.D.5", b"five")
    await bucket.purge("p.D.5")

    assert await list_keys(js, PARKED, "p.>") == ["p.A.1", "p.A.2"]
    assert await list_keys(js, PARKED, "review.>") == ["review.B.3"]
    assert sorted(await list_keys(js, PARKED)) == ["p.A.1", "p.A.2", "review.B.3"]


async def test_list_keys_more_than_one_fetch(bus: Bus) -> None:
    _client, js = bus
    bucket = await js.key_value(PARKED)
    count = FETCH_BATCH + 250
    for number in range(count):
        await bucket.put(f"p.K{number:05d}.e", b"x")

    keys = await list_keys(js, PARKED, "p.>")

    assert keys == [f"p.K{number:05d}.e" for number in range(count)]


async def test_list_keys_removes_its_consumer(bus: Bus) -> None:
    _client, js = bus
    bucket = await js.key_value(PARKED)
    await bucket.put("p.A.1", b"one")

    await list_keys(js, PARKED)

    assert await js.consumers_info(f"KV_{PARKED}") == []
