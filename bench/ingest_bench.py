"""Ingest benchmark: the demo pipeline against publishing the same events without it.

Each run starts a fresh nats-server, imports the item catalogue, and times
the ingest of the generated exports of the four demo case sources (records read
per second, every record counted whatever its outcome). Two baselines, in
the same run, publish the very events that the ingest stored, with the same
subjects and message ids, each into a fresh server and timed the same way
(events per second): our windowed publisher, which is what the ingest
publishes through and what the target is set against, and nats-py's
``js.publish_async`` for reference.
"""

from __future__ import annotations

import asyncio
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

from adapters.family_profile import load_source_profile
from adapters.file_source import ingest_files
from adapters.items import import_catalogue
from bench.demo.generate import bundled_catalogue, generate_exports
from bench.demo.run import CASE_SOURCES, profile_path
from bench.harness import publish_all
from bus import server
from bus.connect import open_bus
from bus.reader import read_stream
from bus.settings import Settings
from bus.streams import CASES, ensure_streams

TARGET = 0.85
"""Ingest records/s over our publisher's events/s, as the median of the runs."""

Events = list[tuple[str, bytes, str]]
"""Subject, stored envelope and ``Nats-Msg-Id`` of each event the ingest stored."""


@dataclass(frozen=True)
class RunResult:
    records: int
    ingest_seconds: float
    events: int
    publisher_seconds: float
    publish_async_seconds: float

    @property
    def ingest_rate(self) -> float:
        return self.records / self.ingest_seconds

    @property
    def publisher_rate(self) -> float:
        return self.events / self.publisher_seconds

    @property
    def publish_async_rate(self) -> float:
        return self.events / self.publish_async_seconds

    @property
    def ratio(self) -> float:
        """Ingest against our publisher: the ratio the target is set for."""
        return self.ingest_rate / self.publisher_rate

    @property
    def publish_async_ratio(self) -> float:
        return self.ingest_rate / self.publish_async_rate


async def _ingest_once(exports: Path, folder: Path) -> tuple[int, float, Events]:
    info = server.start(folder / "ingest", port=server.free_port())
    try:
        settings = Settings(nats_url=info.url, data_dir=folder / "ingest")
        await import_catalogue(settings, bundled_catalogue())
        records = 0
        started = time.perf_counter()
        for source_id in CASE_SOURCES:
            tally = await ingest_files(
                settings, load_source_profile(profile_path(source_id)), [exports / source_id]
            )
            records += tally.read
        elapsed = time.perf_counter() - started

        events: Events = []
        async with open_bus(settings) as (_client, js):
            async for message in read_stream(js, CASES):
                msg_id = (message.headers or {}).get("Nats-Msg-Id", "")
                events.append((message.subject, message.data, msg_id))
        return records, elapsed, events
    finally:
        server.stop(folder / "ingest")


async def _with_publisher(client: Client, events: Events) -> None:
    await publish_all(client, events)


async def _with_publish_async(client: Client, events: Events) -> None:
    js = client.jetstream()
    for subject, data, msg_id in events:
        await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
    await js.publish_async_completed()


async def _timed_publish(
    publish: Callable[[Client, Events], Awaitable[None]], events: Events, folder: Path
) -> float:
    """Publish ``events`` with ``publish`` into a fresh server; returns the seconds taken."""
    info = server.start(folder, port=server.free_port())
    try:
        client = await nats.connect(info.url)
        await ensure_streams(client.jetstream())
        started = time.perf_counter()
        await publish(client, events)
        elapsed = time.perf_counter() - started
        await client.close()
        return elapsed
    finally:
        server.stop(folder)


async def run_ingest_benchmark(
    *, runs: int = 3, cases: int = 8000, seed: int = 2026, work_dir: Path | None = None
) -> dict[str, Any]:
    """Run the benchmark ``runs`` times; returns the per-run figures and their medians."""
    root = Path(tempfile.mkdtemp(prefix="zwbus-bench-", dir=work_dir))
    try:
        exports = root / "exports"
        generate_exports(exports, seed=seed, cases=cases)
        results = []
        for index in range(runs):
            folder = root / f"run{index}"
            records, ingest_seconds, events = await _ingest_once(exports, folder)
            publisher_seconds = await _timed_publish(_with_publisher, events, folder / "publisher")
            publish_async_seconds = await _timed_publish(
                _with_publish_async, events, folder / "publish_async"
            )
            results.append(
                RunResult(
                    records, ingest_seconds, len(events), publisher_seconds, publish_async_seconds
                )
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)

    return {
        "scenario": "ingest",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": _cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "cases": cases,
        "seed": seed,
        "target": TARGET,
        "runs": [
            {
                "records": r.records,
                "ingest_seconds": round(r.ingest_seconds, 3),
                "ingest_records_per_s": round(r.ingest_rate),
                "events": r.events,
                "publisher_seconds": round(r.publisher_seconds, 3),
                "publisher_events_per_s": round(r.publisher_rate),
                "publish_async_seconds": round(r.publish_async_seconds, 3),
                "publish_async_events_per_s": round(r.publish_async_rate),
                "ratio": round(r.ratio, 3),
                "publish_async_ratio": round(r.publish_async_ratio, 3),
            }
            for r in results
        ],
        "median": {
            "ingest_records_per_s": round(statistics.median(r.ingest_rate for r in results)),
            "publisher_events_per_s": round(statistics.median(r.publisher_rate for r in results)),
            "publish_async_events_per_s": round(
                statistics.median(r.publish_async_rate for r in results)
            ),
            "ratio": round(statistics.median(r.ratio for r in results), 3),
            "publish_async_ratio": round(
                statistics.median(r.publish_async_ratio for r in results), 3
            ),
        },
    }


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(run_ingest_benchmark()), indent=2))  # noqa: T201
