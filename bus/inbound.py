"""Handing a subscription's messages to its handler as the client reads them.

For every message nats-py 2.16 parses the header block into a dict,
checks each header name character by character, builds a ``Msg``, puts it
on the subscription's queue and wakes the subscription's task, which then
calls the callback. At tens of thousands of messages a second that costs
more than a batch consumer does with the message. ``DirectInbox`` routes
the messages of the subscriptions registered with it straight from the
client's reader to a synchronous handler, in the order they arrive. Data
messages keep their headers, split by a shorter parser, unless the
handler was registered without them. Status replies (``NATS/1.0 408 …``)
always keep theirs, parsed by nats-py. An error a handler raises is logged
and its message dropped, as nats-py does for a subscription callback.

It replaces ``_process_msg`` on the one client instance and calls
``_process_headers``, two private members as nats-py 2.16 defines them,
and keeps the client's message counters. ``DirectInbox.attach`` returns
None when either member is missing, and the caller then uses an ordinary
subscription callback.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg

log = structlog.get_logger(__name__)

Handler = Callable[[Msg], None]
_ProcessMsg = Callable[[int, bytes, bytes, bytes, bytes], Awaitable[None]]

_ATTRIBUTE = "_zwbus_direct_inbox"
_PROCESS_MSG_PARAMETERS = ("sid", "subject", "reply", "data", "headers")
"""Parameters of ``Client._process_msg`` in nats-py 2.16, which the reader passes by position."""
_HEADER_LINE = b"NATS/1.0\r\n"
_CRLF = b"\r\n"


def parse_headers(block: bytes) -> dict[str, str] | None:
    """Return the headers of a data message's header block; None when it has none.

    Lines without a colon are skipped, as nats-py skips them.
    """
    headers: dict[str, str] = {}
    for line in block[len(_HEADER_LINE) :].split(_CRLF):
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().decode("ascii", "replace")] = value.strip().decode(
                "utf-8", "replace"
            )
    return headers or None


class DirectInbox:
    """The client's table of subscription ids whose messages go straight to a handler."""

    def __init__(self, client: Client, original: _ProcessMsg) -> None:
        self._client = client
        self._original = original
        self._process_headers: Callable[[bytes], Awaitable[dict[str, str] | None]] = (
            client._process_headers
        )
        self._handlers: dict[int, tuple[Handler, bool]] = {}

    @classmethod
    def attach(cls, client: Client) -> DirectInbox | None:
        """Return the client's direct inbox, installing it on first use.

        Returns None when this nats-py lacks the private members it needs or
        ``_process_msg`` takes other parameters than in nats-py 2.16.
        """
        installed: DirectInbox | None = client.__dict__.get(_ATTRIBUTE)
        if installed is not None:
            return installed
        original = getattr(client, "_process_msg", None)
        process_headers = getattr(client, "_process_headers", None)
        if not (
            inspect.iscoroutinefunction(original)
            and inspect.iscoroutinefunction(process_headers)
            and list(inspect.signature(original).parameters) == list(_PROCESS_MSG_PARAMETERS)
        ):
            return None
        inbox = cls(client, original)
        # An instance attribute, so that only this client's reader is rerouted.
        client._process_msg = inbox._process_msg  # type: ignore[method-assign]
        client.__dict__[_ATTRIBUTE] = inbox
        return inbox

    def register(self, sid: int, handler: Handler, *, headers: bool = True) -> None:
        """Send the messages of subscription ``sid`` to ``handler`` from now on.

        Without ``headers`` a data message reaches the handler with
        ``headers`` None; a status reply keeps its status.
        """
        self._handlers[sid] = (handler, headers)

    def unregister(self, sid: int) -> None:
        """Stop sending the messages of subscription ``sid`` to its handler."""
        self._handlers.pop(sid, None)

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
    ) -> None:
        registered = self._handlers.get(sid)
        if registered is None:
            await self._original(sid, subject, reply, data, headers)
            return
        handler, keep_headers = registered

        stats: dict[str, Any] = self._client.stats
        stats["in_msgs"] += 1
        stats["in_bytes"] += len(data)

        if not headers:
            parsed = None
        elif headers.startswith(_HEADER_LINE):
            parsed = parse_headers(headers) if keep_headers else None
        else:
            # A status line such as ``NATS/1.0 404 No Messages``.
            parsed = await self._process_headers(headers)
        message = Msg(
            _client=self._client,
            subject=subject.decode(),
            reply=reply.decode(),
            data=data,
            headers=parsed,
            _sid=sid,
        )
        try:
            handler(message)
        except Exception as exc:
            # An error raised here would end nats-py's read loop, and the
            # client would stop reading. nats-py reports and skips an error of
            # a subscription callback, so this does the same.
            log.error(
                "direct_inbox_handler_failed",
                sid=sid,
                subject=message.subject,
                error=str(exc),
                error_type=type(exc).__name__,
            )
