"""A publisher that keeps many JetStream publishes in flight.

nats-py's ``js.publish`` waits for each acknowledgement, which caps a client
near 4k events/s on a 2-core machine. This publisher sends each message with
a reply subject under one wildcard inbox subscription and matches the
acknowledgements as they arrive, keeping at most ``window`` publishes
outstanding. Every acknowledgement is checked. A publish that is not
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
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import msgspec
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.nuid import NUID

from bus.errors import PublishError

log = structlog.get_logger(__name__)

WRONG_LAST_SEQUENCE = 10071
"""JetStream error code of a create-only write whose subject already has a message."""
NO_STREAM = 503


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


@dataclass
class _Pending:
    subject: str
    payload: bytes
    headers: dict[str, str] | None
    future: asyncio.Future[PubAck]
    deadline: float
    attempts: int = 1
    msg_id: str = field(default="")


class Publisher:
    """Windowed JetStream publisher; use as ``async with Publisher(client) as pub``.

    ``publish`` returns once the message is sent and gives a future that
    resolves to the ``PubAck``. A future fails with ``PublishError`` after
    ``retries`` unanswered attempts, or when no stream takes the subject.
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
        self._window = asyncio.Semaphore(window)
        self._timeout_s = timeout_s
        self._retries = retries
        self._prefix = f"_INBOX.zwpub.{NUID().next().decode()}"
        self._tokens = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._decoder = msgspec.json.Decoder(_AckBody)
        self._subscription: object | None = None
        self._retry_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._subscription = await self._client.subscribe(
            f"{self._prefix}.*", cb=self._on_ack, pending_msgs_limit=1_000_000
        )
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
        if subscription is not None and self._client.is_connected:
            await subscription.unsubscribe()  # type: ignore[attr-defined]

    @property
    def in_flight(self) -> int:
        """Number of publishes sent and not yet acknowledged."""
        return len(self._pending)

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> asyncio.Future[PubAck]:
        """Send one message, waiting only while the window is full."""
        await self._window.acquire()
        token = str(next(self._tokens))
        future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda _: self._window.release())
        frozen_headers = dict(headers) if headers else None
        self._pending[token] = _Pending(
            subject=subject,
            payload=payload,
            headers=frozen_headers,
            future=future,
            deadline=time.monotonic() + self._timeout_s,
            msg_id=(frozen_headers or {}).get("Nats-Msg-Id", ""),
        )
        await self._client.publish(
            subject, payload, reply=f"{self._prefix}.{token}", headers=frozen_headers
        )
        return future

    async def wait_all(self) -> None:
        """Wait until every publish sent so far has its acknowledgement or error."""
        futures = [pending.future for pending in self._pending.values()]
        if futures:
            await asyncio.wait(futures)

    async def _on_ack(self, message: Msg) -> None:
        token = message.subject.rsplit(".", 1)[-1]
        pending = self._pending.pop(token, None)
        if pending is None or pending.future.done():
            return

        status = (message.headers or {}).get("Status")
        if status == str(NO_STREAM) and not message.data:
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
            self._pending.pop(token, None)
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
        await self._client.publish(
            pending.subject,
            pending.payload,
            reply=f"{self._prefix}.{token}",
            headers=pending.headers,
        )
