"""Projecting: the case database (办件库) projection runner against a bare fetch-and-ack loop.

One fresh server per run holds the same ~1.1 KB case events, published
before the clock starts. Ours runs ``projections.api.run_cases_projection``
until it has caught up: fetch, decode, check, write SQLite in one
transaction per batch, checkpoint, acknowledge. The baseline fetches the
same stream through its own durable pull consumer with the runner's batch
size and acknowledgement policy, and only acknowledges.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.harness import (
    Meter,
    RunMeasurement,
    Scenario,
    Side,
    connected,
    fresh_server,
    in_turn,
    publish_all,
)
from bench.scenarios._events import case_events
from bus.settings import Settings
from bus.streams import CASES
from projections.api import run_cases_projection
from projections.runtime import BATCH_SIZE, MAX_ACK_PENDING

BARE_CONSUMER = "bench_bare"
FETCH_TIMEOUT_S = 5.0


async def bare_fetch_and_ack(js: JetStreamContext, stream: str) -> int:
    """Fetch ``stream`` from the start in batches, acknowledging each batch's last message.

    Returns the number of messages fetched.
    """
    config = ConsumerConfig(
        durable_name=BARE_CONSUMER,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.ALL,
        max_ack_pending=MAX_ACK_PENDING,
    )
    await js.add_consumer(stream, config=config)
    subscription = await js.pull_subscribe_bind(durable=BARE_CONSUMER, stream=stream)
    fetched = 0
    try:
        while True:
            messages = await subscription.fetch(BATCH_SIZE, timeout=FETCH_TIMEOUT_S)
            fetched += len(messages)
            last = messages[-1]
            await last.ack_sync(timeout=FETCH_TIMEOUT_S)
            if not last.metadata.num_pending:
                return fetched
    finally:
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()
        await js.delete_consumer(stream, BARE_CONSUMER)


async def measure(run: int, folder: Path, count: int) -> RunMeasurement:
    """Fill a fresh server with ``count`` events, then time the runner and the bare loop."""
    events = case_events(count, run)
    sides: dict[str, Side] = {}
    async with fresh_server(folder, "server") as info, connected(info.url) as (client, js):
        await publish_all(client, events)

        async def ours() -> None:
            settings = Settings(nats_url=info.url, data_dir=folder / "ours")
            with Meter(info.pid) as meter:
                summary = await run_cases_projection(settings)
            if summary.applied != count:
                raise RuntimeError(f"projection applied {summary.applied} of {count} events")
            sides["ours"] = meter.side(count)

        async def baseline() -> None:
            with Meter(info.pid) as meter:
                fetched = await bare_fetch_and_ack(js, CASES)
            if fetched != count:
                raise RuntimeError(f"bare loop fetched {fetched} of {count} events")
            sides["baseline"] = meter.side(count)

        await in_turn(run, ours, baseline)
    return RunMeasurement(baseline=sides["baseline"], ours={"cases": sides["ours"]})


SCENARIO = Scenario(
    name="project",
    description="case projection runner vs bare fetch-and-ack, same stream",
    baseline="bare pull fetch + AckAll per batch",
    variants={"cases": "cases projection to SQLite"},
    full_events=100_000,
    quick_events=20_000,
    target=0.85,
    measure=measure,
)
