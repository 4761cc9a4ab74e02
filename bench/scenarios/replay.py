"""Replaying: export to JSON Lines and to Parquet against a bare ordered-consumer read.

One fresh server per run holds the same ~1.1 KB case events, published
before the clock starts. Ours runs ``replay.exporters.export_events`` over
the whole stream into a file, once with each exporter; the file is closed
inside the timed pass. The baseline reads the same stream through nats-py's
ordered push consumer and touches nothing but the sequence of each message.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bench.harness import (
    Meter,
    RunMeasurement,
    Scenario,
    Side,
    connected,
    fresh_server,
    publish_all,
)
from bench.scenarios._events import case_events
from bus.streams import CASES
from replay.exporters import Format, export_events, load_pyarrow, open_exporter, output_file
from replay.filters import select
from replay.reader import ReplayWindow

READ_TIMEOUT_S = 5.0
EXPORTS: tuple[Format, ...] = ("jsonl", "parquet")


async def bare_ordered_read(js: JetStreamContext, stream: str) -> int:
    """Read ``stream`` up to its current last sequence through an ordered consumer.

    Returns the number of messages read. Raises ``TimeoutError`` when no
    message arrives for ``READ_TIMEOUT_S``.
    """
    last = int((await js.stream_info(stream)).state.last_seq)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    read = 0

    async def on_message(message: Msg) -> None:
        nonlocal read
        read += 1
        if message.metadata.sequence.stream >= last and not done.done():
            done.set_result(None)

    subscription = await js.subscribe(
        "zw.case.>",
        stream=stream,
        cb=on_message,
        ordered_consumer=True,
        pending_msgs_limit=1_000_000,
    )
    try:
        seen = -1
        while not done.done():
            if read == seen:
                raise TimeoutError(f"ordered read stalled after {read} messages")
            seen = read
            await asyncio.wait({done}, timeout=READ_TIMEOUT_S)
        return read
    finally:
        await subscription.unsubscribe()


async def _export(js: JetStreamContext, file_format: Format, target: Path) -> int:
    with output_file(target) as output:
        exporter = open_exporter(file_format, output)
        result = await export_events(js, select(stream=CASES), ReplayWindow(), exporter)
        exporter.close()
    return result.counts.kept


async def measure(run: int, folder: Path, count: int) -> RunMeasurement:
    """Fill a fresh server with ``count`` events, then time both exports and the bare read."""
    events = case_events(count, run)
    # Import pyarrow now, so that its first import is not timed as part of an export.
    load_pyarrow()
    async with fresh_server(folder, "server") as info, connected(info.url) as (client, js):
        await publish_all(client, events)
        del events

        sides: dict[str, Side] = {}
        order: list[Format | None] = [None, *EXPORTS]
        # Rotate the order per run so that no side always reads the stream first.
        shift = run % len(order)
        for file_format in order[shift:] + order[:shift]:
            with Meter(info.pid) as meter:
                if file_format is None:
                    done = await bare_ordered_read(js, CASES)
                else:
                    done = await _export(js, file_format, folder / f"replay.{file_format}")
            name = file_format or "bare"
            if done != count:
                raise RuntimeError(f"{name} read {done} of {count} events")
            sides[name] = meter.side(count)

    baseline = sides.pop("bare")
    return RunMeasurement(baseline=baseline, ours=sides)


SCENARIO = Scenario(
    name="replay",
    description="replay export to JSON Lines and Parquet vs bare ordered read",
    baseline="nats-py ordered consumer read",
    variants={"jsonl": "export_events to JSON Lines", "parquet": "export_events to Parquet"},
    full_events=100_000,
    quick_events=20_000,
    target=0.85,
    measure=measure,
)
