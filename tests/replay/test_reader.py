"""The stream reader against a real nats-server: bounds, deep starts, recovery and cleanup."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bus.errors import ConfigError, StreamError
from bus.streams import CASES
from contracts.identifiers import CHINA_TIME
from replay.exporters import export_events
from replay.filters import ReplayedEvent, select
from replay.reader import ReplayWindow, StreamReader, parse_time
from tests.projections.helpers import publish
from tests.replay import Bus, many_submissions, replay_all, stream_moment


async def test_whole_stream_in_order(bus: Bus) -> None:
    client, js = bus
    events = many_submissions(1200)
    seqs = await publish(client, events)

    exporter, result = await replay_all(js)

    assert exporter.ids == [event.id for event in events]
    assert [item.seq for item in exporter.events] == seqs
    assert result.first_seq == 1
    assert result.last_seq == 1200
    assert result.counts.read == 1200
    assert result.counts.kept == 1200


async def test_sequence_bounds_inclusive(bus: Bus) -> None:
    client, js = bus
    events = many_submissions(50)
    await publish(client, events)

    exporter, result = await replay_all(js, ReplayWindow(from_seq=11, to_seq=20))

    assert [item.seq for item in exporter.events] == list(range(11, 21))
    assert exporter.ids == [event.id for event in events[10:20]]
    assert result.first_seq == 11
    assert result.last_seq == 20


async def test_time_bounds_use_stream_time(bus: Bus) -> None:
    client, js = bus
    early = many_submissions(5, prefix="E")
    middle = many_submissions(5, prefix="M")
    late = many_submissions(5, prefix="L")
    await publish(client, early)
    since = await stream_moment()
    await publish(client, middle)
    until = await stream_moment()
    await publish(client, late)

    exporter, _result = await replay_all(js, ReplayWindow(since=since, until=until))

    assert exporter.ids == [event.id for event in middle]
    assert all(since <= item.stream_time <= until for item in exporter.events)


async def test_since_with_from_seq_skips_earlier(bus: Bus) -> None:
    client, js = bus
    early = many_submissions(5, prefix="E")
    late = many_submissions(5, prefix="L")
    await publish(client, early)
    since = await stream_moment()
    await publish(client, late)

    exporter, _result = await replay_all(js, ReplayWindow(from_seq=3, since=since))

    assert exporter.ids == [event.id for event in late]


async def test_deep_start_reads_at_once(bus: Bus) -> None:
    client, js = bus
    events = many_submissions(3000)
    await publish(client, events[:2990])
    since = await stream_moment()
    await publish(client, events[2990:])

    started = time.monotonic()
    by_seq, _ = await replay_all(js, ReplayWindow(from_seq=2995))
    by_time, _ = await replay_all(js, ReplayWindow(since=since))
    elapsed = time.monotonic() - started

    assert [item.seq for item in by_seq.events] == list(range(2995, 3001))
    assert by_time.ids == [event.id for event in events[2990:]]
    assert elapsed < 3.0


async def test_upper_bound_fixed_at_open(bus: Bus) -> None:
    client, js = bus
    await publish(client, many_submissions(20, prefix="A"))

    seen: list[int] = []
    async with StreamReader.open(js, CASES, ReplayWindow(), batch_size=5) as reader:
        await publish(client, many_submissions(20, prefix="B"))
        async for batch in reader.batches():
            seen.extend(message.metadata.sequence.stream for message in batch)

    assert reader.last_seq == 20
    assert seen == list(range(1, 21))


async def test_empty_window_ends_at_once(bus: Bus) -> None:
    client, js = bus
    empty, empty_result = await replay_all(js)
    await publish(client, many_submissions(3))

    started = time.monotonic()
    beyond, _ = await replay_all(js, ReplayWindow(from_seq=10))
    future, _ = await replay_all(js, ReplayWindow(since=datetime.now(UTC) + timedelta(days=1)))
    no_match, _ = await replay_all(js, selection=select(key="NO-SUCH-CASE"))
    elapsed = time.monotonic() - started

    assert empty.events == []
    assert empty_result.first_seq is None
    assert beyond.events == []
    assert future.events == []
    assert no_match.events == []
    assert elapsed < 3.0


async def test_consumer_deleted_midway_resumes(bus: Bus) -> None:
    client, js = bus
    events = many_submissions(300)
    await publish(client, events)

    seen: list[int] = []
    consumers: list[str] = []
    async with StreamReader.open(
        js, CASES, ReplayWindow(), batch_size=50, fetch_timeout_s=0.5
    ) as reader:
        async for batch in reader.batches():
            seen.extend(message.metadata.sequence.stream for message in batch)
            assert reader.consumer is not None
            if len(consumers) < 2:
                consumers.append(reader.consumer)
                await js.delete_consumer(CASES, reader.consumer)

    assert seen == list(range(1, 301))
    assert len(set(consumers)) == 2
    assert (await js.stream_info(CASES)).state.consumer_count == 0


async def test_cancelled_replay_leaves_no_consumer(bus: Bus) -> None:
    client, js = bus
    await publish(client, many_submissions(1000))
    written: list[int] = []
    tasks: list[asyncio.Task[object]] = []

    class CancellingExporter:
        """Cancels the replay on its first batch, as a Ctrl-C would mid-export."""

        def write(self, events: Sequence[ReplayedEvent]) -> None:
            written.extend(item.seq for item in events)
            # The replay is cancelled at its next wait, whatever the machine's
            # speed, so it cannot finish the stream first.
            tasks[0].cancel()

        def close(self) -> None:
            pass

    task = asyncio.create_task(
        export_events(js, select(), ReplayWindow(), CancellingExporter(), batch_size=100)
    )
    tasks.append(task)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    after = await js.stream_info(CASES)

    assert 0 < len(written) < 1000
    assert after.state.consumer_count == 0


async def test_missing_stream_named(bus: Bus) -> None:
    _client, js = bus

    with pytest.raises(StreamError, match="ZW_NOPE"):
        async with StreamReader.open(js, "ZW_NOPE", ReplayWindow()):
            pass


def test_parse_time_zoneless_is_shanghai() -> None:
    moment = parse_time("2026-09-30T10:15")

    assert moment.tzinfo == CHINA_TIME
    assert moment.utcoffset() == timedelta(hours=8)
    assert parse_time("2026-09-30") == datetime(2026, 9, 30, tzinfo=CHINA_TIME)
    assert parse_time("2026-09-30T02:15Z") == moment
    assert parse_time("2026-09-30T10:15+08:00") == moment


def test_parse_time_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="not an ISO 8601 time"):
        parse_time("30/09/2026")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"from_seq": 0}, "--from-seq must be 1 or more"),
        ({"to_seq": 0}, "--to-seq must be 1 or more"),
        ({"from_seq": 5, "to_seq": 4}, "--from-seq 5 is after --to-seq 4"),
        (
            {"since": parse_time("2026-10-02"), "until": parse_time("2026-10-01")},
            "--since .* is after --until",
        ),
        ({"since": datetime(2026, 10, 1)}, "has no time zone"),
    ],
)
def test_window_rejects_bad_bounds(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ReplayWindow(**fields)  # type: ignore[arg-type]
