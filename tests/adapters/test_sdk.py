"""Tests of the adapter SDK's driver and of the documented example source, on a nats-server."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
import structlog.testing

from adapters.ingest.tally import Tally
from adapters.items import import_catalogue
from adapters.profile import Profile, load_profile
from adapters.sdk import (
    Backoff,
    Batch,
    PositionBook,
    RetryPolicy,
    Source,
    SourceContext,
    SourcePosition,
    SourceRecord,
    SourceUnavailableError,
    run_source,
)
from bus.connect import open_bus
from bus.heartbeat import latest_heartbeats
from bus.reader import read_stream
from bus.settings import Settings
from bus.streams import CASES
from contracts.case import CASE_PAYLOADS
from contracts.envelope import Envelope, decode_event
from tests.adapters.helpers import SOURCE_ID, case_row, write_item_catalogue, write_profile

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "jsonl_log_source.py"


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return load_profile(write_profile(tmp_path / "profile.toml"))


@pytest.fixture
async def catalogued(settings: Settings, tmp_path: Path) -> Settings:
    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    return settings


def _record(number: int, local_no: str) -> SourceRecord:
    fields = case_row(local_no, "submitted", "2024-03-01 09:00:00")
    return SourceRecord(number, number, dict(fields), None, json.dumps(fields))


async def _local_numbers(settings: Settings) -> list[str]:
    async with open_bus(settings) as (_client, js):
        events = [decode_event(message.data) async for message in read_stream(js, CASES)]
    return sorted(_local_no(event) for event in events)


def _local_no(event: Envelope) -> str:
    assert isinstance(event.payload, CASE_PAYLOADS), event.type
    return event.payload.local_no


async def _position(settings: Settings, name: str) -> object:
    async with open_bus(settings) as (_client, js):
        return await PositionBook(js, SOURCE_ID).get(name, dict)


class _FailsAfterFirstBatch(Source):
    """Yields one batch, then fails while reading the second."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    async def batches(self, context: SourceContext) -> AsyncIterator[Batch]:
        yield Batch([_record(1, "F1")], "feed", SourcePosition("feed", {"done": 1}))
        raise RuntimeError("the department system went away")


class _WaitsAfterFirstBatch(Source):
    """Yields one batch and counts, then waits until cancelled; records its clean-up."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.closed = False
        self.first_done = asyncio.Event()

    async def batches(self, context: SourceContext) -> AsyncIterator[Batch]:
        try:
            context.count(polls=2)
            yield Batch([_record(1, "W1")], "feed", SourcePosition("feed", {"done": 1}))
            self.first_done.set()
            await asyncio.Event().wait()
        finally:
            self.closed = True


class _LosesCancellation(Source):
    """Yields one batch, then drops the cancellation of its wait and yields more.

    This is what nats-py's request does on Python 3.11 when the cancellation
    arrives together with the reply (see ``bus.runner.raise_if_cancelled``).
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.waiting = asyncio.Event()

    async def batches(self, context: SourceContext) -> AsyncIterator[Batch]:
        yield Batch([_record(1, "C1")], "feed", SourcePosition("feed", {"done": 1}))
        self.waiting.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        for number in range(2, 5):
            position = SourcePosition("feed", {"done": number})
            yield Batch([_record(number, f"C{number}")], "feed", position)


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jsonl_log_source", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# The driver ---------------------------------------------------------------------------------


async def test_failure_keeps_acknowledged_position(catalogued: Settings, profile: Profile) -> None:
    """The batch before a failure has its outcomes and its position stored; nothing after it."""
    with pytest.raises(RuntimeError, match="went away"):
        await run_source(catalogued, _FailsAfterFirstBatch(profile))

    assert await _position(catalogued, "feed") == {"done": 1}
    assert await _local_numbers(catalogued) == ["F1"]


async def test_cancelled_source_stops_cleanly(catalogued: Settings, profile: Profile) -> None:
    source = _WaitsAfterFirstBatch(profile)
    task = asyncio.create_task(run_source(catalogued, source))
    async with asyncio.timeout(60):
        await source.first_done.wait()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with open_bus(catalogued) as (_client, js):
        beats = [beat for beat in await latest_heartbeats(js) if beat.name == SOURCE_ID]

    assert source.closed
    assert len(beats) == 1
    assert beats[0].state == "stopped"
    assert beats[0].kind == "adapter"
    assert beats[0].stream == CASES
    assert beats[0].counters["read"] == 1
    assert beats[0].counters["published"] == 1
    assert beats[0].counters["polls"] == 2
    assert await _position(catalogued, "feed") == {"done": 1}


async def test_lost_cancellation_still_stops(catalogued: Settings, profile: Profile) -> None:
    """A cancellation a library dropped stops the run before the next batch is settled."""
    source = _LosesCancellation(profile)
    task = asyncio.create_task(run_source(catalogued, source))
    async with asyncio.timeout(60):
        await source.waiting.wait()

    task.cancel()
    done, _pending = await asyncio.wait({task}, timeout=60)

    assert done == {task}, "run_source went on after its cancellation"
    assert task.cancelled()
    assert await _position(catalogued, "feed") == {"done": 1}
    assert await _local_numbers(catalogued) == ["C1"]


async def test_batch_hook_sees_stored_positions(catalogued: Settings, profile: Profile) -> None:
    seen: list[tuple[str, object]] = []

    def on_batch(batch: Batch, tally: Tally) -> None:
        assert batch.position is not None
        seen.append((batch.location, batch.position.value))

    with pytest.raises(RuntimeError):
        await run_source(catalogued, _FailsAfterFirstBatch(profile), on_batch=on_batch)

    assert seen == [("feed", {"done": 1})]


async def test_position_name_rejects_dots(bus: object, settings: Settings) -> None:
    async with open_bus(settings) as (_client, js):
        book = PositionBook(js, SOURCE_ID)

        with pytest.raises(ValueError, match="position name"):
            await book.put("a.b", 1)


# Backoff -------------------------------------------------------------------------------------


async def test_backoff_doubles_then_gives_up() -> None:
    policy = RetryPolicy(initial_s=0.001, max_s=0.002, attempts=4)
    backoff = Backoff(policy, source_id="s", location="table")
    error = ConnectionRefusedError("refused")

    with structlog.testing.capture_logs() as captured:
        for _attempt in range(3):
            await backoff.failed(error)
        with pytest.raises(SourceUnavailableError, match="after 4 attempts: refused"):
            await backoff.failed(error)

    warnings = [entry for entry in captured if entry["event"] == "source_read_failed"]
    errors = [entry for entry in captured if entry["event"] == "source_unavailable"]
    assert [entry["retry_in_s"] for entry in warnings] == [0.001, 0.002, 0.002]
    assert [entry["attempt"] for entry in warnings] == [1, 2, 3]
    assert len(errors) == 1
    assert errors[0]["log_level"] == "error"
    assert backoff.retries == 3


async def test_backoff_success_resets_count() -> None:
    backoff = Backoff(RetryPolicy(initial_s=0.001, attempts=2), source_id="s", location="t")

    with structlog.testing.capture_logs() as captured:
        await backoff.failed(OSError("down"))
        backoff.succeeded()
        await backoff.failed(OSError("down"))

    assert backoff.failures == 1
    assert [entry["event"] for entry in captured] == [
        "source_read_failed",
        "source_read_recovered",
        "source_read_failed",
    ]


# The documented example source ---------------------------------------------------------------


async def test_example_source_reads_appended_lines(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    example = _load_example()
    log = tmp_path / "status.log"
    lines = [json.dumps(case_row(f"L{n}", "submitted", "2024-03-01 09:00:00")) for n in range(3)]
    partial = json.dumps(case_row("L3", "submitted", "2024-03-01 09:00:00"))
    log.write_text("\n".join(lines) + "\n" + partial[:20], encoding="utf-8")

    first = await run_source(catalogued, example.JsonLinesLog(profile, log))
    with log.open("a", encoding="utf-8") as stream:
        stream.write(partial[20:] + "\n" + "not json\n")
    second = await run_source(catalogued, example.JsonLinesLog(profile, log))
    offset = await _position(catalogued, "log")

    assert (first.read, first.published) == (3, 3)
    assert (second.read, second.published, second.quarantined) == (2, 1, 1)
    assert second.reasons["record_malformed"] == 1
    assert offset == {"byte": log.stat().st_size, "lines": 5}
    assert await _local_numbers(catalogued) == ["L0", "L1", "L2", "L3"]
