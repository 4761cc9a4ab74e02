"""Concurrent key-value reads, bounded so that a large batch does not flood the server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import nats.js.errors
from nats.js.kv import KeyValue

MAX_CONCURRENT_GETS = 256


async def get_many(bucket: KeyValue, keys: Iterable[str]) -> dict[str, tuple[bytes, int]]:
    """Return value and revision of each key that exists; missing keys are left out.

    Random reads are slow when cold, so callers batch them per record batch
    and cache the results.
    """
    limit = asyncio.Semaphore(MAX_CONCURRENT_GETS)
    found: dict[str, tuple[bytes, int]] = {}

    async def fetch(key: str) -> None:
        async with limit:
            try:
                entry = await bucket.get(key)
            except nats.js.errors.KeyNotFoundError:
                return
        found[key] = (entry.value or b"", int(entry.revision or 0))

    async with asyncio.TaskGroup() as group:
        for key in dict.fromkeys(keys):
            group.create_task(fetch(key))
    return found
