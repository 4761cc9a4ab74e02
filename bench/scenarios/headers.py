"""Per-message headers: consuming the same events with and without headers.

Each side fills a fresh server with the same ~1.1 KB case events before the
clock starts, ours with five headers per message (``Nats-Msg-Id`` and four
``Zw-*`` fields a publisher might copy out of the envelope), the baseline
with none. Both then read the stream through the same bare pull loop
(ephemeral consumer, no acknowledgements, batches of 500) that looks at each
message's headers. The ratio shows what the headers
cost a consumer.
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
from bench.scenarios._events import SYSTEM, Event, case_events
from bus.streams import CASES

BATCH = 500
FETCH_TIMEOUT_S = 5.0
HEADERS = {
    "Zw-Event-Type": "case.submitted",
    "Zw-Source": f"bench/{SYSTEM}",
    "Zw-Region": "511602",
    "Zw-Schema-Version": "1",
}
"""Headers besides ``Nats-Msg-Id``; their values are the same on every message."""


async def bare_pull_read(js: JetStreamContext, stream: str) -> tuple[int, int]:
    """Read ``stream`` from the start without acknowledgements, looking at every header.

    Returns the number of messages and the number of header values seen.
    """
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=60.0,
        mem_storage=True,
    )
    subscription = await js.pull_subscribe("zw.case.>", stream=stream, config=config)
    read = 0
    values = 0
    try:
        while True:
            messages = await subscription.fetch(BATCH, timeout=FETCH_TIMEOUT_S)
            for message in messages:
                read += 1
                values += len(message.headers or {})
            if not messages[-1].metadata.num_pending:
                return read, values
    finally:
        with contextlib.suppress(nats.errors.Error):
            await subscription.unsubscribe()


async def _consume(folder: Path, name: str, events: list[Event], *, headers: bool) -> Side:
    async with fresh_server(folder, name) as info, connected(info.url) as (client, js):
        await publish_all(client, events, headers=HEADERS if headers else None, with_msg_id=headers)
        with Meter(info.pid) as meter:
            read, values = await bare_pull_read(js, CASES)
        expected_values = len(events) * (len(HEADERS) + 1) if headers else 0
        if read != len(events) or values != expected_values:
            raise RuntimeError(f"{name}: read {read} messages with {values} header values")
        return meter.side(read)


async def measure(run: int, folder: Path, count: int) -> RunMeasurement:
    """Consume ``count`` events with headers and the same events without."""
    events = case_events(count, run)
    sides: dict[str, Side] = {}

    async def ours() -> None:
        sides["ours"] = await _consume(folder, "headers", events, headers=True)

    async def baseline() -> None:
        sides["baseline"] = await _consume(folder, "plain", events, headers=False)

    await in_turn(run, ours, baseline)
    return RunMeasurement(baseline=sides["baseline"], ours={"headers": sides["ours"]})


SCENARIO = Scenario(
    name="headers",
    description="bare consume with five headers per message vs none",
    baseline="bare pull read, no headers",
    variants={"headers": "bare pull read, five headers each"},
    full_events=200_000,
    quick_events=50_000,
    target=None,
    measure=measure,
)
