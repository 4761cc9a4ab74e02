"""The driver loop shared by every source: from its batches to outcomes and stored positions.

    connect → ensure streams → item catalogue → publisher + heartbeat → pipeline
    → for each batch: outcomes (acknowledged) → store position → heartbeat counters
    → at the end of each pass: quarantine parked events whose wait ran out

Cancelling the task that runs ``run_source`` stops it cleanly: the source's
generator is closed, a last heartbeat has state ``stopped``, the publisher is
released and the connection drained. A cancellation that a NATS request
dropped (``bus.runner.raise_if_cancelled``) stops it after the current
batch. A batch whose outcomes were not all acknowledged leaves its position
unstored, so the next run reads it again and its records already on the bus
come back as duplicates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from adapters.catalogue import load_catalogue
from adapters.ingest.pipeline import DEFAULT_PARK_WAIT
from adapters.ingest.tally import Tally
from adapters.sdk.pipeline import Pipeline, family_stream, open_pipeline
from adapters.sdk.positions import PositionBook
from adapters.sdk.source import Batch, Source, SourceContext
from bus.connect import open_bus
from bus.heartbeat import Heartbeat
from bus.publisher import Publisher
from bus.runner import raise_if_cancelled
from bus.settings import Settings
from bus.streams import ensure_streams

log = structlog.get_logger(__name__)

EXPIRY_INTERVAL_S = 600.0
"""Minimum time between two checks for parked events whose wait ran out, in a long run.

The first end of a pass checks at once, and every run checks once more at its end."""

BatchHook = Callable[[Batch, Tally], None]
"""Called after each batch's position is stored, with the run's tally so far."""


async def run_source(
    settings: Settings,
    source: Source,
    *,
    park_wait: timedelta = DEFAULT_PARK_WAIT,
    on_batch: BatchHook | None = None,
) -> Tally:
    """Run ``source`` until its batches end or the task is cancelled; return the run's tally.

    An exception raised by ``on_batch`` stops the run after the batch's
    position is stored.
    """
    profile = source.profile
    source_id = profile.source.id
    client_name = f"zwbus-{source.kind}-{source_id}"
    async with open_bus(settings, name=client_name) as (client, js):
        await ensure_streams(js)
        catalogue = await load_catalogue(js)
        async with (
            Publisher(client) as publisher,
            Heartbeat(client, "adapter", source_id, stream=family_stream(profile)) as heartbeat,
        ):
            pipeline = await open_pipeline(
                client, js, publisher, profile, catalogue, park_wait=park_wait
            )
            context = SourceContext(
                source_id=source_id,
                positions=PositionBook(js, source_id),
                tally=pipeline.tally,
                heartbeat=heartbeat,
            )
            log.info("source_started", source_id=source_id, kind=source.kind)
            try:
                await _drive(source, pipeline, context, on_batch)
            except asyncio.CancelledError:
                totals = _totals(context.tally)
                log.info("source_stopped", source_id=source_id, reason="cancelled", **totals)
                raise
            await pipeline.expire_parked(datetime.now(UTC))
            _update_heartbeat(context)
            log.info("source_finished", source_id=source_id, **_totals(context.tally))
            return pipeline.tally


async def _drive(
    source: Source, pipeline: Pipeline, context: SourceContext, on_batch: BatchHook | None
) -> None:
    last_expiry = float("-inf")
    batches = source.batches(context)
    try:
        async for batch in batches:
            raise_if_cancelled()
            await _settle(pipeline, context, batch)
            if batch.pass_done and time.monotonic() - last_expiry >= EXPIRY_INTERVAL_S:
                expired = await pipeline.expire_parked(datetime.now(UTC))
                last_expiry = time.monotonic()
                log.info("parked_expiry_checked", source_id=context.source_id, expired=expired)
            if on_batch is not None:
                on_batch(batch, pipeline.tally)
            # A cancellation lost inside a NATS request of this batch ends the
            # run here, after the batch's position is stored.
            raise_if_cancelled()
    finally:
        # An async generator left open would run its clean-up only when the
        # garbage collector finds it, after the event loop may be gone.
        close = getattr(batches, "aclose", None)
        if close is not None:
            await close()


async def _settle(pipeline: Pipeline, context: SourceContext, batch: Batch) -> None:
    """Give the batch's records their outcomes, then store its position."""
    if batch.records:
        outcome = await pipeline.process(batch.records, location=batch.location)
        log.debug(
            "source_batch_done",
            source_id=context.source_id,
            location=batch.location,
            read=outcome.read,
            published=outcome.published,
            duplicates=outcome.duplicates,
            quarantined=outcome.quarantined,
            parked=outcome.parked,
        )
        context.heartbeat.record_seen(datetime.now(UTC))
    if batch.position is not None:
        await context.positions.put(batch.position.name, batch.position.value)
    _update_heartbeat(context)


def _update_heartbeat(context: SourceContext) -> None:
    context.heartbeat.update(**_totals(context.tally))


def _totals(tally: Tally) -> dict[str, int]:
    return {
        "read": tally.read,
        "published": tally.published,
        "duplicates": tally.duplicates,
        "quarantined": tally.quarantined,
        "parked": tally.parked,
    }
