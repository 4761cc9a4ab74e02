"""The one place where a source's profile picks the pipeline that gives records outcomes.

Every source goes through ``open_pipeline``, so a new event family is added
here and nowhere else. Today every profile is of the case (办件) family.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.catalogue import ItemCatalogue
from adapters.files.readers import SourceRecord
from adapters.ingest.outcomes import Outcomes
from adapters.ingest.pipeline import DEFAULT_PARK_WAIT, CasePipeline
from adapters.ingest.tally import Tally
from adapters.profile import Profile
from bus.publisher import Publisher
from bus.streams import CASES


class Pipeline(Protocol):
    """Gives each record read exactly one outcome: published, duplicate, quarantined or parked."""

    tally: Tally
    """Outcome counts of the run so far."""

    async def open(self) -> None:
        """Load the state the pipeline needs before the first batch."""

    async def process(
        self,
        records: Sequence[SourceRecord],
        *,
        location: str,
        outcomes: Outcomes | None = None,
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
    profile: Profile,
    catalogue: ItemCatalogue,
    *,
    park_wait: timedelta = DEFAULT_PARK_WAIT,
) -> Pipeline:
    """Create and open the pipeline of the profile's event family."""
    pipeline = CasePipeline(client, js, publisher, profile, catalogue, park_wait=park_wait)
    await pipeline.open()
    return pipeline


def family_stream(profile: Profile) -> str:
    """Return the stream that the profile's events go to."""
    return CASES
