"""A publisher that keeps many JetStream publishes in flight.

nats-py's ``js.publish`` waits for each acknowledgement, which caps a client
near 4k events/s on a 2-core machine. This publisher sends each message with
a reply subject under one wildcard inbox subscription and matches the
acknowledgements as they arrive, keeping at most ``window`` publishes
outstanding. The acknowledgements go from nats-py's reader straight to the
publisher through ``bus.inbound.DirectInbox`` where the client allows it.
Every acknowledgement is checked. A publish that is not
acknowledged within ``timeout_s`` is sent again with the same headers, so the
stream's ``Nats-Msg-Id`` deduplication turns a retry of a publish that did
arrive into a duplicate rather than a second event.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.nuid import NUID

from bus.errors import PublishError
from bus.inbound import DirectInbox
from bus.window import Window
from bus.wire import HeaderEncoder, RawSender, check_subject, encode_publish

log = structlog.get_logger(__name__)

WRONG_LAST_SEQUENCE = 10071
"""JetStream error code of a create-only write whose subject already has a message."""
NO_STREAM = 503
YIELD_EVERY = 64
"""Publishes between two turns of the event loop for nats-py's flusher and reader."""


class PubAck(msgspec.Struct, frozen=True, kw_only=True):
    """Acknowledgement of one publish: stored, duplicate, or an API error."""

    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error_code: int = 0
    """JetStream ``err_code`` (10071 = wrong last sequence); 0 when stored."""
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code == 0


class _ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class _AckBody(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: _ApiError | None = None


class _Pending:
    """A message sent and not yet acknowledged, with what a retry sends again."""

    __slots__ = (
        "attempts",
        "command",
        "deadline",
        "future",
        "headers",
        "msg_id",
        "payload",
        "subject",
    )

    def __init__(
        self,
        subject: str,
        payload: bytes,
        *,
        msg_id: str,
        command: bytes,
        headers: dict[str, str] | None,
        future: asyncio.Future[PubAck],
        deadline: float,
    ) -> None:
        self.subject = subject
        self.payload = payload
        self.msg_id = msg_id
        self.command = command
        """The encoded protocol command; empty when the client's own ``publish`` sends it."""
        self.headers = headers
        """A copy of the headers, kept only when the client's own ``publish`` sends them."""
        self.future = future
        self.deadline = deadline
        self.attempts = 1


class Publisher:
    """Windowed JetStream publisher; use as ``async with Publisher(client) as pub``.

    ``publish`` returns once the message is queued for sending and gives a
    future that resolves to the ``PubAck``. A future fails with
    ``PublishError`` after ``retries`` unanswered attempts, or when no
    stream takes the subject. A publish keeps its place in the window until
    its acknowledgement arrives or its last attempt times out, even when the
    caller cancels the future.
    """

    def __init__(
        self,
        client: Client,
        *,
        window: int = 2048,
        timeout_s: float = 5.0,
        retries: int = 3,
    ) -> None:
        self._client = client
        self._window = Window(window)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeout_s = timeout_s
        self._retries = retries
        self._prefix = f"_INBOX.zwpub.{NUID().next().decode()}."
        self._tokens = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._decoder = msgspec.json.Decoder(_AckBody)
        self._headers = HeaderEncoder()
        self._raw = RawSender(client) if RawSender.supported(client) else None
        self._sent_since_yield = 0
        self._subscription: Subscription | None = None
        self._direct: DirectInbox | None = None
        self._retry_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._subscription = await self._client.subscribe(
            f"{self._prefix}*", cb=self._on_ack, pending_msgs_limit=1_000_000
        )
        # Nothing is published yet, so no acknowledgement can arrive before this.
        self._direct = DirectInbox.attach(self._client)
        if self._direct is not None:
            self._direct.register(self._subscription._id, self._take_ack, headers=False)
        self._retry_task = asyncio.create_task(self._retry_loop(), name="publisher-retry")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.wait_all()
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        subscription = self._subscription
        if subscription is not None and self._direct is not None:
            self._direct.unregister(subscription._id)
        if subscription is not None and self._client.is_connected:
            await subscription.unsubscribe()

    @property
    def in_flight(self) -> int:
        """Number of publishes sent and not yet acknowledged."""
        return len(self._pending)

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> asyncio.Future[PubAck]:
        """Send one message, waiting only while the window is full.

        Raises:
            nats.errors.Error: the subject, a header name or the payload size
                is invalid, or the connection is closed or draining.
        """
        await self._window.acquire()
        token = str(next(self._tokens))
        reply = self._prefix + token
        msg_id = headers.get("Nats-Msg-Id", "") if headers else ""
        try:
            command = self._encode(subject, reply, payload, headers)
        except BaseException:
            self._window.release()
            raise

        loop = self._loop or asyncio.get_running_loop()
        future: asyncio.Future[PubAck] = loop.create_future()
        pending = _Pending(
            subject,
            payload,
            msg_id=msg_id,
            command=command,
            headers=None if self._raw is not None or not headers else dict(headers),
            future=future,
            deadline=time.monotonic() + self._timeout_s,
        )
        self._pending[token] = pending
        try:
            await self._send(token, pending)
        except BaseException:
            self._forget(token)
            raise
        await self._let_others_run()
        return future

    def _encode(
        self, subject: str, reply: str, payload: bytes, headers: Mapping[str, str] | None
    ) -> bytes:
        if self._raw is None:
            return b""
        check_subject(subject)
        self._raw.check_payload(payload)
        header_block = self._headers.encode(headers) if headers else None
        return encode_publish(subject, reply, payload, header_block)

    async def _send(self, token: str, pending: _Pending) -> None:
        if self._raw is not None:
            await self._raw.send(pending.command, len(pending.payload))
        else:
            await self._client.publish(
                pending.subject,
                pending.payload,
                reply=self._prefix + token,
                headers=pending.headers,
            )

    async def _let_others_run(self) -> None:
        # A caller that publishes in a loop never waits while the window has
        # room, so nats-py's flusher and reader tasks would not run until
        # the window is full, and the server would get the messages in
        # bursts of a whole window. Yielding every few messages lets them run.
        self._sent_since_yield += 1
        if self._sent_since_yield >= YIELD_EVERY:
            self._sent_since_yield = 0
            await asyncio.sleep(0)

    def _forget(self, token: str) -> _Pending | None:
        """Drop a publish from the window; return it unless it was already dropped."""
        pending = self._pending.pop(token, None)
        if pending is not None:
            self._window.release()
        return pending

    async def wait_all(self) -> None:
        """Wait until every publish sent so far has its acknowledgement or error."""
        futures = [pending.future for pending in self._pending.values()]
        if futures:
            await asyncio.wait(futures)

    async def _on_ack(self, message: Msg) -> None:
        self._take_ack(message)

    def _take_ack(self, message: Msg) -> None:
        pending = self._forget(message.subject[len(self._prefix) :])
        if pending is None or pending.future.done():
            return

        if message.headers and message.headers.get("Status") == str(NO_STREAM) and not message.data:
            pending.future.set_exception(
                PublishError(
                    subject=pending.subject,
                    msg_id=pending.msg_id or "-",
                    attempts=pending.attempts,
                    detail="no stream takes this subject",
                )
            )
            return

        try:
            body = self._decoder.decode(message.data)
        except msgspec.DecodeError as exc:
            log.error("publish_ack_undecodable", subject=pending.subject, error=str(exc))
            pending.future.set_exception(
                PublishError(
                    subject=pending.subject,
                    msg_id=pending.msg_id or "-",
                    attempts=pending.attempts,
                    detail=f"undecodable acknowledgement: {exc}",
                )
            )
            return
        if body.error is not None:
            pending.future.set_result(
                PubAck(
                    error_code=body.error.err_code or body.error.code, error=body.error.description
                )
            )
        else:
            pending.future.set_result(
                PubAck(stream=body.stream, seq=body.seq, duplicate=body.duplicate)
            )

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(min(0.5, self._timeout_s / 4))
            now = time.monotonic()
            expired = [
                (token, pending)
                for token, pending in self._pending.items()
                if pending.deadline <= now and not pending.future.done()
            ]
            for token, pending in expired:
                await self._retry(token, pending, now)

    async def _retry(self, token: str, pending: _Pending, now: float) -> None:
        if pending.attempts >= self._retries:
            self._forget(token)
            log.error(
                "publish_failed",
                subject=pending.subject,
                msg_id=pending.msg_id,
                attempts=pending.attempts,
            )
            pending.future.set_exception(
                PublishError(
                    subject=pending.subject,
                    msg_id=pending.msg_id or "-",
                    attempts=pending.attempts,
                    detail=f"timed out after {self._timeout_s} s each",
                )
            )
            return
        pending.attempts += 1
        pending.deadline = now + self._timeout_s
        log.warning(
            "publish_retry",
            subject=pending.subject,
            msg_id=pending.msg_id,
            attempt=pending.attempts,
        )
        await self._send(token, pending)
