"""An index of ingested event ids, for duplicate detection over any horizon.

The item catalogue import uses it. Case events keep their ids in the
per-case write-side state instead (``adapters.ingest.state``), because that
costs one write per case and batch rather than two per event.

The stream's ``Nats-Msg-Id`` window only covers minutes. Before an event is
published its id is written create-only to ``ZW_EVENT_IDS``; the write fails
when the id was claimed before, and the stored value names the stream
sequence of the first event, so a department re-sending a record months
later learns "duplicate of event N". The value is ``pending`` between the
claim and the acknowledgement; a claim left pending by a crash is published
again, and the stream's own deduplication catches it when it is recent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from adapters.ingest.kvget import get_many
from bus.errors import StreamError
from bus.i18n import N_
from bus.publisher import WRONG_LAST_SEQUENCE, PubAck, Publisher
from bus.streams import EVENT_IDS

PENDING = b"pending"


class EventIndex:
    """Claims event ids before publishing and records their stream sequence after."""

    def __init__(self, js: JetStreamContext, publisher: Publisher) -> None:
        self._js = js
        self._publisher = publisher
        self._bucket: KeyValue | None = None

    async def claim(self, event_ids: Iterable[str]) -> dict[str, int | None]:
        """Claim each id; returns None for a new id, else the earlier event's sequence.

        A sequence of 0 means the earlier claim is still pending (a crashed
        run): the caller publishes again with the same message id.
        """
        futures = [
            (
                event_id,
                await self._publisher.publish(
                    f"$KV.{EVENT_IDS}.{event_id}",
                    PENDING,
                    {"Nats-Expected-Last-Subject-Sequence": "0"},
                ),
            )
            for event_id in event_ids
        ]
        outcome: dict[str, int | None] = {}
        taken = []
        for event_id, future in futures:
            ack = await future
            if ack.ok:
                outcome[event_id] = None
            elif ack.error_code == WRONG_LAST_SEQUENCE:
                taken.append(event_id)
            else:
                raise StreamError(
                    N_("Claiming event id {event_id} failed: {detail}"),
                    event_id=event_id,
                    detail=ack.error,
                )
        if taken:
            if self._bucket is None:
                self._bucket = await self._js.key_value(EVENT_IDS)
            stored = await get_many(self._bucket, taken)
            for event_id in taken:
                value = stored.get(event_id, (PENDING, 0))[0]
                outcome[event_id] = 0 if value == PENDING else int(value)
        return outcome

    async def record(self, event_id: str, sequence: int) -> asyncio.Future[PubAck]:
        """Store the stream sequence of a published event; returns the pending acknowledgement."""
        return await self._publisher.publish(f"$KV.{EVENT_IDS}.{event_id}", str(sequence).encode())
