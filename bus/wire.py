"""Publishing pre-encoded NATS protocol commands through a nats-py client.

``Client.publish`` of nats-py 2.16 checks the subject and reply with a
regular expression each, rebuilds the header block key by key and formats
the command afresh for every message. The windowed publisher sends each of
its messages once or, on a retry, again unchanged, so it encodes the whole
``HPUB`` command once (``encode_publish``) and hands the bytes to the
client's outgoing buffer (``RawSender``). The checks of ``Client.publish``
stay. A subject with white space is rejected, and so is a header name that
is not a token or a payload over the server's limit. A closed or draining
connection raises the same nats-py errors.

``RawSender`` uses four private members of ``nats.aio.client.Client``
(``_send_command``, ``_flush_pending``, ``_flush_queue`` and
``_max_pending_size``) as nats-py 2.16 defines them. The publisher falls
back to ``Client.publish`` when ``RawSender.supported`` finds one missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import nats.errors
from nats.aio.client import Client

_SUBJECT_INVALID = re.compile(r"[ \t\r\n]")
"""White space and line ends would end the command early and inject another one."""
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""A header name is an RFC 9110 token."""
_VALUE_LINE_ENDS = str.maketrans({"\r": " ", "\n": " "})
_HEADER_LINE = b"NATS/1.0\r\n"
_PRIVATE_MEMBERS = ("_send_command", "_flush_pending", "_flush_queue", "_max_pending_size")


class HeaderEncoder:
    """Encode header maps to the NATS header block, remembering the names already checked."""

    def __init__(self) -> None:
        self._checked_names: dict[str, bytes] = {}

    def encode(self, headers: Mapping[str, str]) -> bytes:
        """Return the header block of ``headers``, line ends in values turned into spaces.

        Raises:
            nats.errors.BadHeaderError: a name is not a token.
        """
        parts = [_HEADER_LINE]
        for name, value in headers.items():
            encoded_name = self._checked_names.get(name)
            if encoded_name is None:
                encoded_name = self._check_name(name)
            if not encoded_name:
                continue
            if "\r" in value or "\n" in value:
                value = value.translate(_VALUE_LINE_ENDS)
            parts.append(b"%b: %b\r\n" % (encoded_name, value.strip().encode()))
        parts.append(b"\r\n")
        return b"".join(parts)

    def _check_name(self, name: str) -> bytes:
        stripped = name.strip()
        # An empty name is skipped, as Client.publish does.
        if stripped and not _HEADER_NAME.fullmatch(stripped):
            raise nats.errors.BadHeaderError(stripped)
        encoded = stripped.encode()
        self._checked_names[name] = encoded
        return encoded


def check_subject(subject: str) -> None:
    """Raise ``nats.errors.BadSubjectError`` for an empty subject or one with white space."""
    if not subject or _SUBJECT_INVALID.search(subject):
        raise nats.errors.BadSubjectError


def encode_publish(subject: str, reply: str, payload: bytes, header_block: bytes | None) -> bytes:
    """Return the ``PUB`` or ``HPUB`` command of one message; the caller checked the subjects."""
    if header_block is None:
        return b"PUB %b %b %d\r\n%b\r\n" % (
            subject.encode(), reply.encode(), len(payload), payload
        )
    return b"HPUB %b %b %d %d\r\n%b%b\r\n" % (
        subject.encode(),
        reply.encode(),
        len(header_block),
        len(header_block) + len(payload),
        header_block,
        payload,
    )


class RawSender:
    """Queue encoded commands on a nats-py client's outgoing buffer, as ``Client.publish`` does."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @staticmethod
    def supported(client: Client) -> bool:
        """Tell whether ``client`` has the private members this sender relies on."""
        return all(hasattr(client, member) for member in _PRIVATE_MEMBERS)

    def check_payload(self, payload: bytes) -> None:
        """Raise ``nats.errors.MaxPayloadError`` when the server would reject the payload's size."""
        if len(payload) > self._client.max_payload:
            raise nats.errors.MaxPayloadError

    async def send(self, command: bytes, payload_size: int) -> None:
        """Append ``command`` to the outgoing buffer and wake the client's flusher.

        Raises:
            nats.errors.ConnectionClosedError: the connection is closed.
            nats.errors.ConnectionDrainingError: the connection is draining.
            nats.errors.OutboundBufferLimitError: disconnected with a full buffer.
        """
        client = self._client
        if client.is_closed:
            raise nats.errors.ConnectionClosedError
        if client.is_draining_pubs:
            raise nats.errors.ConnectionDrainingError
        if not client.is_connected:
            limit = client._max_pending_size
            if limit <= 0 or payload_size + client.pending_data_size > limit:
                raise nats.errors.OutboundBufferLimitError

        client.stats["out_msgs"] += 1
        client.stats["out_bytes"] += payload_size
        await client._send_command(command)
        queue = client._flush_queue
        if queue is not None and queue.empty():
            await client._flush_pending()
