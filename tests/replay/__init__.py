"""Helpers of the replay tests: case flows to publish and an exporter that keeps events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.streams import CASES
from contracts.envelope import Envelope
from replay.exporters import ExportResult, export_events
from replay.filters import ReplayedEvent, Selection, select
from replay.reader import ReplayWindow
from tests.projections.helpers import at, case_event

Bus = tuple[Client, JetStreamContext]

CITY_REGION = "511621"
"""岳池县, in the same city (5116) as the default test region 511602."""


def flow(code: str, *, region: str = "511602", day: str = "2026-10-12") -> list[Envelope]:
    """Return submitted, accepted and concluded events of one case."""
    return [
        case_event("submitted", code, at(day, "09:00"), region=region),
        case_event("accepted", code, at(day, "10:00"), region=region, promised_days=2),
        case_event("concluded", code, at(day, "16:00"), region=region),
    ]


def many_submissions(count: int, *, prefix: str = "N") -> list[Envelope]:
    """Return ``count`` submitted events of distinct cases."""
    return [case_event("submitted", f"{prefix}{index}", at("2026-10-12")) for index in range(count)]


async def stream_moment() -> datetime:
    """Return a time strictly between the messages published before and after the call.

    The stream stamps each message with the server's clock, so a short pause
    on both sides keeps the two groups apart.
    """
    await asyncio.sleep(0.05)
    moment = datetime.now(UTC)
    await asyncio.sleep(0.05)
    return moment


class CollectingExporter:
    """An exporter that keeps the events it is given, in order."""

    def __init__(self) -> None:
        self.events: list[ReplayedEvent] = []
        self.closed = False

    def write(self, events: Sequence[ReplayedEvent]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        self.closed = True

    @property
    def ids(self) -> list[str]:
        """Return the event ids in the order written."""
        return [item.event.id for item in self.events]


async def replay_all(
    js: JetStreamContext,
    window: ReplayWindow | None = None,
    selection: Selection | None = None,
    *,
    strict: bool = False,
    batch_size: int = 500,
) -> tuple[CollectingExporter, ExportResult]:
    """Replay into a ``CollectingExporter``; by default the whole ZW_CASES stream."""
    exporter = CollectingExporter()
    result = await export_events(
        js,
        selection or select(stream=CASES),
        window or ReplayWindow(),
        exporter,
        strict=strict,
        batch_size=batch_size,
    )
    return exporter, result

