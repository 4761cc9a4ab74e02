"""Dead letters: events a sink gave up on, kept on the ``ZW_DEADLETTER`` stream.

An event becomes a dead letter after the sink's ``max_attempts`` failed
deliveries, or at once when the message is not an event envelope. Each
dead letter is one ``DeadLetter`` document on
``zw.deadletter.<sink>.<family>.<event id>`` with the original message,
the number of attempts and the last error. The stream has no age limit,
so dead letters stay until an operator removes them.

The dead letter is stored before the sink's position moves past the
event. A crash in between makes the restarted sink try the event again.
The ``Nats-Msg-Id`` of the dead letter (sink, stream and sequence) lets
the stream drop the repeat within its ten-minute deduplication window.
Beyond it, one subject per event id keeps the count of dead letters exact.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext

from bus.errors import PublishError
from bus.reader import read_stream
from bus.streams import DEADLETTER
from contracts.subjects import encode_token

log = structlog.get_logger(__name__)

SUBJECT_PREFIX = "zw.deadletter"
PUBLISH_TIMEOUT_S = 5.0


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One event a sink did not deliver."""

    sink: str
    family: str
    stream: str
    seq: int
    """Stream sequence of the original message."""
    subject: str
    """Subject of the original message."""
    event_id: str | None
    """Envelope id, the idempotency key; None when the message is not an envelope."""
    event_type: str | None
    attempts: int
    """Failed delivery attempts; 0 for a message that could not be decoded."""
    error: str
    """The last failure: an HTTP status with the start of the response, or the exception."""
    http_status: int | None = None
    first_failed_at: datetime
    dead_at: datetime
    data: str
    """The original message, as UTF-8 text."""


_decoder = msgspec.json.Decoder(DeadLetter)


def sink_subjects(sink: str) -> str:
    """Return the subject filter of every dead letter of ``sink``."""
    return f"{SUBJECT_PREFIX}.{encode_token(sink)}.>"


def dead_letter_subject(letter: DeadLetter) -> str:
    """Return the subject of ``letter``: one subject per sink, family and event."""
    key = letter.event_id or f"seq-{letter.seq}"
    return f"{SUBJECT_PREFIX}.{encode_token(letter.sink)}.{letter.family}.{encode_token(key)}"


async def store_dead_letter(js: JetStreamContext, letter: DeadLetter) -> None:
    """Publish ``letter`` and wait for the stream's acknowledgement.

    Raises:
        PublishError: the stream did not store it; the caller must not move past the event.
    """
    subject = dead_letter_subject(letter)
    msg_id = f"{letter.sink}:{letter.stream}:{letter.seq}"
    try:
        await js.publish(
            subject,
            msgspec.json.encode(letter),
            stream=DEADLETTER,
            timeout=PUBLISH_TIMEOUT_S,
            headers={"Nats-Msg-Id": msg_id},
        )
    except (nats.errors.Error, OSError) as exc:
        raise PublishError(
            subject=subject, msg_id=msg_id, attempts=1, detail=str(exc) or type(exc).__name__
        ) from exc
    log.error(
        "sink_event_dead_lettered",
        sink=letter.sink,
        stream=letter.stream,
        seq=letter.seq,
        event_id=letter.event_id,
        event_type=letter.event_type,
        attempts=letter.attempts,
        http_status=letter.http_status,
        error=letter.error,
    )


async def count_dead_letters(js: JetStreamContext, sink: str) -> int:
    """Return how many events of ``sink`` are dead letters (0 without the stream)."""
    try:
        info = await js.stream_info(DEADLETTER, subjects_filter=sink_subjects(sink))
    except nats.js.errors.NotFoundError:
        return 0
    return len(info.state.subjects or {})


async def read_dead_letters(js: JetStreamContext, sink: str) -> list[DeadLetter]:
    """Return the dead letters of ``sink``, the latest per event, oldest first.

    Undecodable documents are logged and skipped.
    """
    latest: dict[str, DeadLetter] = {}
    try:
        async for message in read_stream(js, DEADLETTER, subject=sink_subjects(sink)):
            try:
                letter = _decoder.decode(message.data)
            except msgspec.DecodeError as exc:
                log.warning("dead_letter_undecodable", subject=message.subject, error=str(exc))
                continue
            latest.pop(message.subject, None)
            latest[message.subject] = letter
    except nats.js.errors.NotFoundError:
        return []
    return list(latest.values())
