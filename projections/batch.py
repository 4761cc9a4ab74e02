"""The projection runtime's batch step: examine each message, then apply or set aside.

Examining a message (stream sequence, entity key, decode, contract check)
needs nothing from the store, so the runner examines each message in the
puller's callback as it arrives. What depends on the store (the stored
sequence, the keys with set-aside messages, the model's rows) is read
inside the batch's transaction by ``apply_examined``.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite
import msgspec
import structlog
from nats.aio.msg import Msg

from bus.pull import DeliveryInfo, stream_sequence
from projections import set_aside
from projections.base import ApplyCounts, Delivered, Projection

log = structlog.get_logger(__name__)


class Examined(msgspec.Struct, frozen=True):
    """A delivered message with its stream sequence, entity key and examination outcome."""

    message: Msg
    seq: int
    key: str
    """Entity key: the last subject token, as written on the subject."""
    outcome: Delivered | set_aside.Problem


def examine_message(
    projection: Projection, message: Msg, info: DeliveryInfo | None = None
) -> Examined:
    """Decode and check one message for ``projection``; ``info`` saves reading its reply again."""
    seq = stream_sequence(message) if info is None else info.stream_seq
    subject = message.subject
    return Examined(
        message,
        seq,
        set_aside.entity_key_of(subject),
        set_aside.examine(projection, seq, subject, message.data),
    )


async def apply_examined(
    projection: Projection, connection: aiosqlite.Connection, fresh: Sequence[Examined]
) -> tuple[ApplyCounts, int]:
    """Apply what can be applied and set the rest aside; return counts and set-aside total.

    A message whose key already has a set-aside message waits behind it,
    whatever its own outcome, so that each key's events apply in order.
    """
    if not fresh:
        return ApplyCounts(), 0

    blockers = await set_aside.blocking_sequences(connection, {item.key for item in fresh})
    events: list[Delivered] = []
    entries: list[set_aside.SetAsideEntry] = []
    for item in fresh:
        blocker = blockers.get(item.key)
        if blocker is not None:
            problem = set_aside.Problem("waiting", set_aside.waiting_reason(blocker))
        elif isinstance(item.outcome, Delivered):
            events.append(item.outcome)
            continue
        else:
            problem = item.outcome
            blockers[item.key] = item.seq

        message = item.message
        entry = set_aside.new_entry(
            item.seq, message.subject, message.data, problem, blocked_by=blocker
        )
        entries.append(entry)
        log.warning(
            "projection_message_set_aside",
            projection=projection.name,
            seq=item.seq,
            subject=message.subject,
            kind=problem.kind,
            reason=problem.reason,
            blocked_by=blocker,
        )

    counts = await projection.apply(connection, events)
    await set_aside.insert(connection, entries)
    return counts, len(entries)
