"""Listing the keys of a key-value bucket without nats-py's watcher.

``KeyValue.keys()`` in nats-py 2.16 reads the bucket through a watcher that
can report the end of the initial keys before every key was delivered, and
then returns a partial list or raises ``NoKeysError`` for a bucket that has
keys (nats-io/nats.py issue 842). A parking lot that misses a key forgets
an event parked in an earlier run until the next run.

``list_keys`` reads the latest message of every key through an ephemeral
pull consumer that delivers headers only. The consumer's pending count at
creation is the number of keys to read, and the reading stops only when
that many messages have arrived. Deleted and purged keys are left out.
"""

from __future__ import annotations

import contextlib
import secrets

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from adapters.ingest.kvget import is_deleted
from bus.errors import StreamError
from bus.i18n import N_

FETCH_BATCH = 1_000
FETCH_TIMEOUT_S = 5.0
INACTIVE_THRESHOLD_S = 60.0
"""Time after which the server removes the consumer if the lister died before deleting it."""


async def list_keys(js: JetStreamContext, bucket: str, key_filter: str = ">") -> list[str]:
    """Return the keys of ``bucket`` that match ``key_filter`` and are not deleted, in stream order.

    Raises:
        StreamError: the server delivered fewer messages than it counted.
    """
    stream = f"KV_{bucket}"
    prefix = f"$KV.{bucket}."
    name = f"zwbus_keys_{secrets.token_hex(8)}"
    config = ConsumerConfig(
        name=name,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        ack_policy=AckPolicy.NONE,
        filter_subject=prefix + key_filter,
        headers_only=True,
        mem_storage=True,
        inactive_threshold=INACTIVE_THRESHOLD_S,
    )
    info = await js.add_consumer(stream, config=config)
    try:
        subscription = await js.pull_subscribe_bind(name, stream=stream)
        try:
            return await _read_keys(subscription, bucket, int(info.num_pending or 0))
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
    finally:
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
            await js.delete_consumer(stream, name)


async def _read_keys(
    subscription: JetStreamContext.PullSubscription, bucket: str, expected: int
) -> list[str]:
    prefix = f"$KV.{bucket}."
    keys: list[str] = []
    received = 0
    while received < expected:
        batch = min(FETCH_BATCH, expected - received)
        try:
            messages = await subscription.fetch(batch, timeout=FETCH_TIMEOUT_S)
        except nats.errors.TimeoutError as exc:
            raise StreamError(
                N_("Listing the keys of bucket {bucket} timed out after {received} of "
                   "{expected} keys. Check that the server is running, then run again."),
                bucket=bucket,
                received=received,
                expected=expected,
            ) from exc
        for message in messages:
            received += 1
            if not is_deleted(message.headers or {}):
                keys.append(message.subject[len(prefix) :])
    return keys
