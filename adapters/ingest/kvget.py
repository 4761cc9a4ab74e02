"""Key-value reads for a whole record batch in a few requests instead of one per key.

A bucket with direct gets replies to one ``multi_last`` request
(``$JS.API.DIRECT.GET.<stream>``, nats-server 2.11 and later) with the
latest message of every listed key that exists and then an end-of-batch
status (204), or with status 404 alone when none of the keys exists. A
batch of 500 cases thus costs two requests instead of 500 round trips.
When the server answers such a request with any other status, the keys
are read one ``get`` at a time, a bounded number at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

log = structlog.get_logger(__name__)

MAX_CONCURRENT_GETS = 256
KEYS_PER_REQUEST = 256
"""Keys listed in one batched request."""
BATCH_TIMEOUT_S = 10.0
END_OF_BATCH = "204"
NO_RESULTS = "404"
"""The status of the reply to a batched read when none of its keys exists."""
_DELETED = frozenset({"DEL", "PURGE"})
"""``KV-Operation`` values of a deleted key's marker."""

Found = dict[str, tuple[bytes, int]]
"""Value and revision of each key that exists."""


class _BatchRequest(msgspec.Struct):
    multi_last: list[str]
    batch: int


_encode_request = msgspec.json.Encoder().encode


class _BatchUnsupportedError(Exception):
    """The server replied to a batched read with an error status."""


async def get_many(bucket: KeyValue, keys: Iterable[str]) -> Found:
    """Return value and revision of each key that exists; missing and deleted keys are left out.

    Random reads are slow when cold, so callers batch them per record batch
    and cache the results.
    """
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    source = _batch_source(bucket)
    if source is not None:
        client, subject, prefix = source
        try:
            return await _get_batched(client, subject, prefix, wanted)
        except _BatchUnsupportedError as exc:
            log.info("kv_batch_get_unsupported", bucket=prefix, detail=str(exc))
    return await _get_each(bucket, wanted)


def _batch_source(bucket: KeyValue) -> tuple[Client, str, str] | None:
    """Return the client, request subject and key prefix of a bucket with direct gets."""
    # nats-py 2.16 keeps these on the bucket without public accessors; a
    # bucket without direct gets, or another layout, is read key by key.
    js = getattr(bucket, "_js", None)
    client = getattr(js, "_nc", None)
    stream = getattr(bucket, "_stream", None)
    prefix = getattr(bucket, "_pre", None)
    api_prefix = getattr(js, "_prefix", None)
    if not getattr(bucket, "_direct", False) or not isinstance(client, Client):
        return None
    if not isinstance(stream, str) or not isinstance(prefix, str):
        return None
    if not isinstance(api_prefix, str):
        return None
    return client, f"{api_prefix}.DIRECT.GET.{stream}", prefix


async def _get_batched(client: Client, subject: str, prefix: str, keys: list[str]) -> Found:
    found: Found = {}
    inbox = client.new_inbox()
    chunks = [
        keys[start : start + KEYS_PER_REQUEST] for start in range(0, len(keys), KEYS_PER_REQUEST)
    ]
    loop = asyncio.get_running_loop()
    done = {f"{inbox}.{index}": loop.create_future() for index in range(len(chunks))}

    async def on_message(message: Msg) -> None:
        headers = message.headers or {}
        status = headers.get("Status")
        if status is not None:
            waiter = done.get(message.subject)
            if waiter is not None and not waiter.done():
                if status in {END_OF_BATCH, NO_RESULTS}:
                    waiter.set_result(None)
                else:
                    description = headers.get("Description", "")
                    waiter.set_exception(_BatchUnsupportedError(f"{status} {description}"))
            return
        key_subject = headers.get("Nats-Subject", "")
        if not key_subject.startswith(prefix) or is_deleted(headers):
            return
        found[key_subject[len(prefix) :]] = (message.data, int(headers.get("Nats-Sequence", 0)))

    subscription = await client.subscribe(f"{inbox}.*", cb=on_message)
    try:
        for reply, chunk in zip(done, chunks, strict=True):
            request = _BatchRequest(multi_last=[prefix + key for key in chunk], batch=len(chunk))
            await client.publish(subject, _encode_request(request), reply=reply)
        try:
            await asyncio.wait_for(asyncio.gather(*done.values()), BATCH_TIMEOUT_S)
        except TimeoutError as exc:
            raise _BatchUnsupportedError(f"no end of batch in {BATCH_TIMEOUT_S} s") from exc
    finally:
        for waiter in done.values():
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                # Mark a failure seen, so asyncio does not report it again.
                waiter.exception()
        try:
            await subscription.unsubscribe()
        except nats.errors.Error as exc:
            log.debug("kv_batch_unsubscribe_failed", error=str(exc))
    return found


def is_deleted(headers: dict[str, str]) -> bool:
    """Return whether a key's latest message, given by its headers, marks the key deleted."""
    # A delete or purge leaves a marker with KV-Operation; markers the server
    # places itself (nats-server 2.11 and later) carry Nats-Marker-Reason.
    return headers.get("KV-Operation") in _DELETED or "Nats-Marker-Reason" in headers


async def _get_each(bucket: KeyValue, keys: list[str]) -> Found:
    limit = asyncio.Semaphore(MAX_CONCURRENT_GETS)
    found: Found = {}

    async def fetch(key: str) -> None:
        async with limit:
            try:
                entry = await bucket.get(key)
            except nats.js.errors.KeyNotFoundError:
                return
        found[key] = (entry.value or b"", int(entry.revision or 0))

    async with asyncio.TaskGroup() as group:
        for key in keys:
            group.create_task(fetch(key))
    return found

