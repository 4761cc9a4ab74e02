"""The ingest pipeline for a profile's family, and the stream that family publishes to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.catalogue import ItemCatalogue
from adapters.family_profile import FamilyProfile, SourceProfile
from adapters.files.readers import SourceRecord
from adapters.ingest.family_pipeline import FamilyPipeline
from adapters.ingest.outcomes import DEFAULT_PARK_WAIT
from adapters.ingest.pipeline import CasePipeline
from adapters.ingest.tally import Tally
from bus.publisher import Publisher
from bus.streams import CASES, HALL, REVIEWS, SHARING

FAMILY_STREAMS = {"case": CASES, "review": REVIEWS, "hall": HALL, "share": SHARING}
"""Stream each family's events go to."""


class IngestPipeline(Protocol):
    """Pipeline interface a source adapter drives: open, process batches, expire parked events."""

    @property
    def source_id(self) -> str: ...

    @property
    def tally(self) -> Tally: ...

    async def open(self) -> None: ...

    async def process(self, records: Sequence[SourceRecord], *, location: str) -> Tally: ...

    async def expire_parked(self, now: datetime | None = None) -> int: ...


def make_pipeline(
    client: Client,
    js: JetStreamContext,
    publisher: Publisher,
    profile: SourceProfile,
    catalogue: ItemCatalogue,
    *,
    park_wait: timedelta = DEFAULT_PARK_WAIT,
) -> IngestPipeline:
    """Return the pipeline of the profile's family; ``open`` it before the first batch."""
    if isinstance(profile, FamilyProfile):
        return FamilyPipeline(client, js, publisher, profile, catalogue, park_wait=park_wait)
    return CasePipeline(client, js, publisher, profile, catalogue, park_wait=park_wait)


def stream_of(profile: SourceProfile) -> str:
    """Return the stream a profile's events go to, for heartbeats and lag views."""
    return FAMILY_STREAMS[profile.source.family]
