"""The one place where a source's profile picks the pipeline that gives records outcomes.

Every source goes through ``open_pipeline``, so a new event family is added
here and nowhere else: cases (办件) have their own pipeline, and reviews,
hall bookings and tickets and data sharing share the family pipeline.
"""

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
from adapters.ingest.record_outcomes import RecordOutcomes
from adapters.ingest.tally import Tally
from bus.publisher import Publisher
from bus.streams import CASES, HALL, REVIEWS, SHARING

FAMILY_STREAMS = {"case": CASES, "review": REVIEWS, "hall": HALL, "share": SHARING}
"""Stream each family's events go to."""


class Pipeline(Protocol):
    """Gives each record read exactly one outcome: published, duplicate, quarantined or parked."""

    @property
    def tally(self) -> Tally:
        """Outcome counts of the run so far."""

    async def open(self) -> None:
        """Load the state the pipeline needs before the first batch."""

    async def process(
        self,
        records: Sequence[SourceRecord],
        *,
        location: str,
        outcomes: RecordOutcomes | None = None,
    ) -> Tally:
        """Give each record its outcome and wait for the bus to acknowledge all of them.

        When ``outcomes`` is given, it receives each record's outcome by position.
        """

    async def expire_parked(self, now: datetime | None = None) -> int:
        """Quarantine the source's parked events whose wait ran out; return how many."""


async def open_pipeline(
    client: Client,
    js: JetStreamContext,
    publisher: Publisher,
    profile: SourceProfile,
    catalogue: ItemCatalogue,
    *,
    park_wait: timedelta = DEFAULT_PARK_WAIT,
) -> Pipeline:
    """Create and open the pipeline of the profile's event family."""
    pipeline: Pipeline
    if isinstance(profile, FamilyProfile):
        pipeline = FamilyPipeline(client, js, publisher, profile, catalogue, park_wait=park_wait)
    else:
        pipeline = CasePipeline(client, js, publisher, profile, catalogue, park_wait=park_wait)
    await pipeline.open()
    return pipeline


def family_stream(profile: SourceProfile) -> str:
    """Return the stream that the profile's events go to."""
    return FAMILY_STREAMS[profile.source.family]
