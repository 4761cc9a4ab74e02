"""Writing quarantine entries and resolving them when a corrected record arrives."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from nats.js import JetStreamContext

from adapters.quarantine_view import fold_quarantine
from adapters.record_keys import without_time
from bus.publisher import PubAck, Publisher
from contracts.ids import EVENT_NAMESPACE
from contracts.quarantine import (
    QuarantineEntry,
    QuarantineResolved,
    Reason,
    RecordPosition,
    encode_quarantine,
)
from contracts.subjects import quarantine_subject


def entry_id_for(
    source_id: str, record_key: str, original: str, reasons: tuple[Reason, ...]
) -> str:
    """Derive an entry id: the same rejected record with the same reasons gets the same id."""
    digest = hashlib.sha256(original.encode()).hexdigest()
    codes = ",".join(sorted(reason.code for reason in reasons))
    return uuid.uuid5(
        EVENT_NAMESPACE, f"q\x1f{source_id}\x1f{record_key}\x1f{digest}\x1f{codes}"
    ).hex


class QuarantineBook:
    """Open quarantine entries of one source, and the writes that change them."""

    def __init__(self, js: JetStreamContext, publisher: Publisher, source_id: str) -> None:
        self._js = js
        self._publisher = publisher
        self._source_id = source_id
        self._open: dict[str, dict[str, str | None]] = defaultdict(dict)
        self._known: set[str] = set()
        self.resolved = 0

    async def load(self) -> int:
        """Read this source's entries; returns how many are open."""
        states = await fold_quarantine(self._js, source_id=self._source_id)
        for entry_id, state in states.items():
            self._known.add(entry_id)
            if state.is_open:
                self._open[state.entry.record_key][entry_id] = state.entry.region
        return sum(len(ids) for ids in self._open.values())

    async def add(
        self,
        *,
        system: str,
        family: str,
        record_key: str,
        event_type: str | None,
        region: str | None,
        position: RecordPosition,
        reasons: tuple[Reason, ...],
        original: str,
    ) -> asyncio.Future[PubAck] | None:
        """Quarantine a record; returns None when the same entry is already on file."""
        entry_id = entry_id_for(self._source_id, record_key, original, reasons)
        self._open[record_key][entry_id] = region
        if entry_id in self._known:
            return None
        self._known.add(entry_id)
        entry = QuarantineEntry(
            entry_id=entry_id,
            source_id=self._source_id,
            system=system,
            family=family,
            record_key=record_key,
            event_type=event_type,
            region=region,
            position=position,
            reasons=reasons,
            original=original,
            quarantined_at=datetime.now(UTC),
        )
        return await self._publisher.publish(
            quarantine_subject(family, region, self._source_id),
            encode_quarantine(entry),
            {"Nats-Msg-Id": f"q-{entry_id}"},
        )

    async def resolve(
        self, record_key: str, *, family: str, event_id: str
    ) -> list[asyncio.Future[PubAck]]:
        """Mark the open entries of ``record_key`` resolved by a corrected re-send.

        Entries of the same record keyed without a time, because its time
        could not be read or broke a rule, are resolved too, since the
        re-send may be the one that corrects the time.
        """
        keys = [record_key]
        timeless = without_time(record_key)
        if timeless is not None:
            keys.append(timeless)
        entries = [
            (key, entry_id, region)
            for key in keys
            for entry_id, region in sorted(self._open.pop(key, {}).items())
        ]

        futures = []
        for key, entry_id, region in entries:
            message = QuarantineResolved(
                entry_id=entry_id,
                record_key=key,
                source_id=self._source_id,
                resolution="corrected",
                event_id=event_id,
                resolved_at=datetime.now(UTC),
            )
            futures.append(
                await self._publisher.publish(
                    quarantine_subject(family, region, self._source_id),
                    encode_quarantine(message),
                    {"Nats-Msg-Id": f"r-{entry_id}"},
                )
            )
            self.resolved += 1
        return futures
