"""Cost of the event-id index: windowed publishing with and without the create-only claims.

Both sides publish the same synthetic case events through ``bus.publisher``
into a fresh server, in batches of 500 as the ingest pipeline does. The
indexed side first claims each event id in ``ZW_EVENT_IDS`` (create-only)
and records the stream sequence after the acknowledgement, as the pipeline
does for duplicate detection beyond the stream's deduplication window.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.ingest.index import EventIndex
from bus import server
from bus.connect import open_bus
from bus.publisher import Publisher
from bus.settings import Settings
from bus.streams import ensure_streams

BATCH = 500
PAYLOAD_BYTES = 1100


def _events(count: int, run: int) -> list[tuple[str, bytes, str]]:
    payload = b"x" * PAYLOAD_BYTES
    return [
        (f"zw.case.51.16.02.C{run}x{index:08d}", payload, f"{run:02d}{index:030d}")
        for index in range(count)
    ]


async def _publish(
    settings: Settings, events: list[tuple[str, bytes, str]], *, indexed: bool
) -> float:
    async with open_bus(settings, name="zwbus-bench-index") as (client, js):
        await ensure_streams(js)
        async with Publisher(client) as publisher:
            index = EventIndex(js, publisher)
            started = time.perf_counter()
            for start in range(0, len(events), BATCH):
                batch = events[start : start + BATCH]
                if indexed:
                    await index.claim(msg_id for _, _, msg_id in batch)
                futures = [
                    (msg_id, await publisher.publish(subject, data, {"Nats-Msg-Id": msg_id}))
                    for subject, data, msg_id in batch
                ]
                records = []
                for msg_id, future in futures:
                    ack = await future
                    if indexed:
                        records.append(await index.record(msg_id, ack.seq))
                for record in records:
                    await record
            return time.perf_counter() - started


async def run_index_benchmark(*, runs: int = 3, events: int = 50_000) -> dict[str, Any]:
    """Measure events/s with and without the index, ``runs`` times each, alternating."""
    plain: list[float] = []
    indexed: list[float] = []
    for run in range(runs):
        for with_index, rates in ((False, plain), (True, indexed)):
            folder = Path(tempfile.mkdtemp(prefix="zwbus-bench-index-"))
            info = server.start(folder, port=server.free_port())
            try:
                settings = Settings(nats_url=info.url, data_dir=folder)
                seconds = await _publish(settings, _events(events, run), indexed=with_index)
                rates.append(events / seconds)
            finally:
                server.stop(folder)
                shutil.rmtree(folder, ignore_errors=True)
    return {
        "scenario": "index",
        "events": events,
        "plain_events_per_s": [round(rate) for rate in plain],
        "indexed_events_per_s": [round(rate) for rate in indexed],
        "median": {
            "plain_events_per_s": round(statistics.median(plain)),
            "indexed_events_per_s": round(statistics.median(indexed)),
            "ratio": round(
                statistics.median(i / p for i, p in zip(indexed, plain, strict=True)), 3
            ),
        },
    }
