"""Pulling batches from a JetStream pull consumer with one timer per batch, not per message.

nats-py's ``PullSubscription.fetch`` (2.16) waits for every message of a
batch with its own ``asyncio.wait_for``, which costs more than decoding the
message does. ``BatchPuller`` sends one pull request per batch to the
consumer's ``$JS.API.CONSUMER.MSG.NEXT`` subject, collects the delivered
messages in a subscription callback, and wakes the caller once per batch.
The callback reads each message's ``DeliveryInfo`` from its reply subject
and passes both through the caller's ``prepare`` function (decoding, for
example) as the message arrives, so that this work is done while the
caller awaits something else.

``prefetch`` requests the next batch before ``fetch`` is called, so that
the server delivers it while the caller works on the last one. At most
two batches are then delivered and not yet returned, which a consumer's
``max_ack_pending`` must allow. ``fetch`` returns a short batch
as soon as a message reports that nothing more is pending. The request
then stays open on the server, and the next ``fetch`` waits for what it
still delivers.

The messages reach the puller through ``bus.inbound.DirectInbox`` when
the client allows it, without nats-py's per-message queue and task, and
without their headers, which no batch consumer reads.

``stream_sequence`` and ``delivery_info`` read a message's sequences from
its reply subject without building nats-py's full ``Msg.metadata``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from types import TracebackType
from typing import Generic, NamedTuple, Self, TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from bus.inbound import DirectInbox

DEFAULT_API_PREFIX = "$JS.API"
NO_MESSAGES = "404"
REQUEST_TIMEOUT = "408"
CONFLICT = "409"
"""Ends a pull request early: consumer deleted, leadership change, too many waiting requests."""
HEARTBEAT = "100"
WAIT_MARGIN_S = 1.0
"""Time past a request's ``expires`` before the client stops waiting for the server's reply."""
_ACK_PREFIX = "$JS.ACK."
_V1_TOKENS = 9
"""Tokens of the reply form without domain and account hash:
``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>``."""
_V1_STREAM_SEQ = 5
_V2_STREAM_SEQ = 7
"""Index of the stream sequence in the form with domain and account hash after ``$JS.ACK``."""


class _PullRequest(msgspec.Struct, omit_defaults=True):
    batch: int
    expires: int = 0
    """Nanoseconds the server keeps the request open waiting for messages."""


_request_encoder = msgspec.json.Encoder()

Prepared = TypeVar("Prepared")


class DeliveryInfo(NamedTuple):
    """Delivery facts that a JetStream message's reply subject contains."""

    stream_seq: int
    consumer_seq: int
    timestamp_ns: int
    """When the stream stored the message, in nanoseconds since the Unix epoch."""
    pending: int
    """Messages left for the consumer after this one."""


def _reply_tokens(message: Msg) -> tuple[list[str], int]:
    reply = message.reply
    if not reply or not reply.startswith(_ACK_PREFIX):
        raise nats.errors.NotJSMessageError
    tokens = reply.split(".")
    return tokens, _V1_STREAM_SEQ if len(tokens) == _V1_TOKENS else _V2_STREAM_SEQ


def stream_sequence(message: Msg) -> int:
    """Return the stream sequence of a JetStream message from its reply subject.

    Raises:
        nats.errors.NotJSMessageError: the message did not come from a JetStream consumer.
    """
    tokens, index = _reply_tokens(message)
    return int(tokens[index])


def delivery_info(message: Msg) -> DeliveryInfo:
    """Return the sequences, stream time and pending count of a JetStream message.

    Raises:
        nats.errors.NotJSMessageError: the message did not come from a JetStream consumer.
    """
    tokens, index = _reply_tokens(message)
    return DeliveryInfo(
        int(tokens[index]), int(tokens[index + 1]), int(tokens[index + 2]), int(tokens[index + 3])
    )


class BatchPuller(Generic[Prepared]):
    """Batches of one durable or named pull consumer; use as ``async with BatchPuller(...)``.

    ``fetch`` returns ``prepare(message, info)`` for each message, in delivery order.
    """

    def __init__(
        self,
        client: Client,
        stream: str,
        consumer: str,
        *,
        batch_size: int,
        prepare: Callable[[Msg, DeliveryInfo], Prepared],
        api_prefix: str = DEFAULT_API_PREFIX,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be 1 or more, got {batch_size}")
        self._client = client
        self._batch_size = batch_size
        self._prepare = prepare
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = f"{client.new_inbox()}."
        self._request_ids = itertools.count(1)
        self._subscription: Subscription | None = None
        self._buffer: list[Prepared] = []
        self._open_request: str | None = None
        """Reply subject of the request the server may still deliver to, None when there is none."""
        self._expected = 0
        """Messages the open request may still deliver."""
        self._drained = False
        """Whether the last message delivered reported that nothing more is pending."""
        self._error: nats.js.errors.APIError | None = None
        """A status reply of the server, raised once by the next ``fetch``."""
        self._prepare_error: Exception | None = None
        """What ``prepare`` raised; raised by every later ``fetch``, as a message is missing."""
        self._waiter: asyncio.Future[None] | None = None
        self._direct: DirectInbox | None = None

    async def __aenter__(self) -> Self:
        self._subscription = await self._client.subscribe(f"{self._inbox}*", cb=self._on_message)
        # No request is sent yet, so no message can arrive before this.
        self._direct = DirectInbox.attach(self._client)
        if self._direct is not None:
            self._direct.register(self._subscription._id, self._take, headers=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        subscription, self._subscription = self._subscription, None
        self._buffer = []
        if subscription is not None and self._direct is not None:
            self._direct.unregister(subscription._id)
        if subscription is not None and not self._client.is_closed:
            try:
                await subscription.unsubscribe()
            except nats.errors.Error:
                # The connection is closing; the server drops the interest with it.
                return

    async def fetch(self, timeout_s: float) -> list[Prepared]:
        """Return the next batch: up to ``batch_size`` messages, empty when none came in time.

        The server keeps a request open for ``timeout_s`` while the consumer
        has no message to deliver.

        Raises:
            nats.js.errors.APIError: the server replied to a pull request with an error status.
            nats.errors.ConnectionClosedError: the connection is closed.
            Exception: what ``prepare`` raised for a message; the batch is
                then incomplete, and the puller must not be used further.
        """
        self._raise_error()
        if len(self._buffer) < self._batch_size and self._open_request is None:
            await self._request(self._batch_size - len(self._buffer), timeout_s)
        if (
            len(self._buffer) < self._batch_size
            and self._open_request is not None
            and not self._drained
        ):
            await self._wait(timeout_s + WAIT_MARGIN_S)
        self._raise_error()

        # A drained consumer delivers to the open request only when new
        # messages arrive, or ends it when it expires, so the next fetch waits.
        self._drained = False
        batch = self._buffer[: self._batch_size]
        del self._buffer[: self._batch_size]
        return batch

    async def prefetch(self, timeout_s: float) -> None:
        """Request the next batch now, unless a request is open or a batch is buffered.

        ``timeout_s`` is how long the server keeps the request open while
        the consumer has no message to deliver.
        """
        if self._open_request is None and len(self._buffer) < self._batch_size:
            await self._request(self._batch_size - len(self._buffer), timeout_s)

    async def _request(self, count: int, timeout_s: float) -> None:
        if count < 1:
            return
        reply = f"{self._inbox}{next(self._request_ids)}"
        request = _PullRequest(batch=count, expires=max(1, int(timeout_s * 1_000_000_000)))
        self._open_request = reply
        self._expected = count
        await self._client.publish(
            self._next_subject, _request_encoder.encode(request), reply=reply
        )

    async def _wait(self, timeout_s: float) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            # The server did not end the request in time; a later request
            # replaces it, and messages it still delivers join the buffer.
            self._open_request = None
        finally:
            self._waiter = None

    def _raise_error(self) -> None:
        if self._prepare_error is not None:
            raise self._prepare_error
        error, self._error = self._error, None
        if error is not None:
            raise error
        if self._client.is_closed:
            raise nats.errors.ConnectionClosedError

    async def _on_message(self, message: Msg) -> None:
        self._take(message)

    def _take(self, message: Msg) -> None:
        if not message.subject.startswith(self._inbox):
            try:
                info = delivery_info(message)
                self._buffer.append(self._prepare(message, info))
            except Exception as exc:
                # nats-py would only pass the error to its error callback and
                # drop the message, so the batch would silently miss it.
                self._prepare_error = exc
                self._open_request = None
                self._wake()
                return
            if self._open_request is not None:
                self._expected -= 1
                if self._expected <= 0:
                    self._open_request = None
            if info.pending == 0:
                self._drained = True
            if (
                len(self._buffer) >= self._batch_size
                or self._open_request is None
                or self._drained
            ):
                self._wake()
            return

        # Messages on the inbox subject itself are the server's status replies.
        status = (message.headers or {}).get("Status", "")
        if status == HEARTBEAT:
            return
        if message.subject != self._open_request:
            return
        self._open_request = None
        if status not in {NO_MESSAGES, REQUEST_TIMEOUT, CONFLICT}:
            description = (message.headers or {}).get("Description", "")
            self._error = nats.js.errors.APIError(
                code=int(status) if status.isdigit() else None, description=description
            )
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
