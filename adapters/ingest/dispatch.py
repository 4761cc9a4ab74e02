"""The pipeline for a profile's event family."""

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


class Pipeline(Protocol):
    """What every family's pipeline offers a source."""

    tally: Tally

    @property
    def source_id(self) -> str: ...

    async def open(self) -> None: ...

    async def process(
        self,
        records: Sequence[SourceRecord],
        *,
        location: str,
        outcomes: Outcomes | None = None,
    ) -> Tally: ...

    async def expire_parked(self, now: datetime | None = None) -> int: ...


def make_pipeline(
    client: Client,
    js: JetStreamContext,
    publisher: Publisher,
    profile: Profile,
    catalogue: ItemCatalogue,
    *,
    park_wait: timedelta = DEFAULT_PARK_WAIT,
) -> Pipeline:
    """Return the pipeline that ingests the records of ``profile``'s family."""
    return CasePipeline(client, js, publisher, profile, catalogue, park_wait=park_wait)
