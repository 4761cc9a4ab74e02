"""Reading a stream, or a filtered part of it, from the start up to its current end.

Used where a command folds a small stream into memory (the item catalogue,
the quarantine). The read stops at the last message present when it began,
so it always ends, and its ephemeral consumer is deleted afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

FETCH_BATCH = 500
FETCH_TIMEOUT_S = 5.0


async def read_stream(
    js: JetStreamContext, stream: str, *, subject: str | None = None
) -> AsyncIterator[Msg]:
    """Yield the messages of ``stream`` (matching ``subject``) present when the call began."""
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return
    last = info.state.last_seq
    filter_subject = subject or (info.config.subjects or [">"])[0]
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL,
        inactive_threshold=60.0,
        mem_storage=True,
    )
    subscription = await js.pull_subscribe(filter_subject, stream=stream, config=config)
    try:
        # A filter that matches nothing would otherwise wait out a whole fetch timeout.
        if (await subscription.consumer_info()).num_pending == 0:
            return
        while True:
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
            except nats.errors.TimeoutError:
                return
            for message in messages:
                yield message
                metadata = message.metadata
                if metadata.sequence.stream >= last or metadata.num_pending == 0:
                    return
    finally:
        consumer = await _consumer_name(subscription)
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()
        if consumer:
            with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
                await js.delete_consumer(stream, consumer)


async def _consumer_name(subscription: JetStreamContext.PullSubscription) -> str | None:
    with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
        info = await subscription.consumer_info()
        return info.name
    return None
