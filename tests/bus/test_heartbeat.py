"""Heartbeats against a real nats-server: publishing, the stopped beat, failures, reading back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from structlog.testing import capture_logs

from bus.connect import open_bus
from bus.heartbeat import (
    Heartbeat,
    HeartbeatDocument,
    HeartbeatState,
    component_of,
    decode_heartbeat,
    heartbeat_subject,
    latest_heartbeats,
    recent_heartbeats,
)
from bus.settings import Settings
from bus.streams import CASES, OPS

Bus = tuple[Client, JetStreamContext]
DEADLINE_S = 20.0


async def stored_heartbeats(js: JetStreamContext, subject: str) -> list[HeartbeatDocument]:
    """Return every heartbeat stored on ``subject``, oldest first."""
    info = await js.stream_info(OPS, subjects_filter=subject)
    documents = []
    sequence = 0
    for _ in range((info.state.subjects or {}).get(subject, 0)):
        message = await js.get_msg(OPS, seq=sequence + 1, subject=subject, next=True)
        assert message.seq is not None
        sequence = message.seq
        documents.append(decode_heartbeat(message.data or b""))
    return documents


async def wait_for_count(js: JetStreamContext, subject: str, count: int) -> bool:
    """Poll until ``subject`` contains ``count`` heartbeats, for at most ``DEADLINE_S``."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        info = await js.stream_info(OPS, subjects_filter=subject)
        if (info.state.subjects or {}).get(subject, 0) >= count:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
def debug_logging() -> Iterator[None]:
    """Let DEBUG and INFO events reach ``capture_logs`` even after a command set WARNING."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        yield
    finally:
        structlog.configure(**saved)


def document(**fields: object) -> HeartbeatDocument:
    values: dict[str, object] = {
        "kind": "adapter",
        "name": "ga-approval",
        "pid": 1,
        "host": "h",
        "sent_at": datetime.now(UTC),
        "interval_s": 5.0,
        "state": "running",
    }
    values.update(fields)
    return msgspec.convert(values, HeartbeatDocument)


async def test_heartbeat_publishes_then_stops(bus: Bus) -> None:
    client, js = bus
    seen = datetime(2026, 10, 12, 9, 30, tzinfo=UTC)
    subject = heartbeat_subject("adapter", "ga-approval")

    async with Heartbeat(client, "adapter", "ga-approval", interval_s=0.1, stream=CASES) as beat:
        beat.update(records=7)
        beat.increment(records=3, rejected=1)
        beat.record_seen(seen)
        beat.record_seen(seen - timedelta(hours=1))
        reached = await wait_for_count(js, subject, 3)
    documents = await stored_heartbeats(js, subject)

    assert reached
    assert [item.state for item in documents[:-1]] == ["running"] * (len(documents) - 1)
    last = documents[-1]
    assert last.state == "stopped"
    assert last.kind == "adapter"
    assert last.name == "ga-approval"
    assert last.stream == CASES
    assert last.counters == {"records": 10, "rejected": 1}
    assert last.last_record_at == seen
    assert last.interval_s == 0.1
    assert last.pid > 0
    assert last.host
    assert beat.sent == len(documents)


async def test_first_beat_before_block_runs(bus: Bus) -> None:
    client, js = bus
    subject = heartbeat_subject("projection", "cases")

    async with Heartbeat(client, "projection", "cases", interval_s=60.0):
        inside = await stored_heartbeats(js, subject)
    after = await stored_heartbeats(js, subject)

    assert [item.state for item in inside] == ["running"]
    assert [item.state for item in after] == ["running", "stopped"]


async def test_stopped_beat_sent_when_block_raises(bus: Bus) -> None:
    client, js = bus
    subject = heartbeat_subject("adapter", "hall-window")

    with pytest.raises(RuntimeError, match="source broke"):
        async with Heartbeat(client, "adapter", "hall-window", interval_s=60.0):
            raise RuntimeError("source broke")
    documents = await stored_heartbeats(js, subject)

    assert documents[-1].state == "stopped"


@pytest.mark.usefixtures("debug_logging")
class _LosesCancellation(Heartbeat):
    """A heartbeat whose running beats drop a cancellation, as nats-py's request can on 3.11."""

    def __init__(self, client: Client) -> None:
        super().__init__(client, "adapter", "lossy", interval_s=0.05)
        self.beating = asyncio.Event()
        self.losing = True

    async def beat(self, state: HeartbeatState = "running") -> bool:
        if state == "running" and self.sent > 0:
            self.beating.set()
            try:
                await asyncio.sleep(DEADLINE_S)
            except asyncio.CancelledError:
                if not self.losing:
                    raise
        return await super().beat(state)


async def test_stop_ends_loop_that_lost_cancellation(bus: Bus) -> None:
    client, js = bus
    heartbeat = _LosesCancellation(client)

    async def run_briefly() -> None:
        async with heartbeat:
            await heartbeat.beating.wait()

    running = asyncio.create_task(run_briefly())
    done, _pending = await asyncio.wait({running}, timeout=DEADLINE_S)
    if not done:
        # End the loop for good, so that the failure below is not a hang.
        heartbeat.losing = False
        running.cancel()
        await asyncio.wait({running}, timeout=DEADLINE_S)
    documents = await stored_heartbeats(js, heartbeat.subject)

    assert done == {running}, "the heartbeat's stop waited for a loop that went on"
    assert documents[-1].state == "stopped"


@pytest.mark.usefixtures("debug_logging")
async def test_missing_stream_logged_not_raised(settings: Settings) -> None:
    """Without ZW_OPS every publish fails; the owner goes on and the warning is not repeated."""
    async with open_bus(settings) as (client, _js):
        with capture_logs() as logs:
            async with Heartbeat(client, "adapter", "app-push", interval_s=0.05) as beat:
                # Each failed publish waits for its reply first, so wait for
                # three failures, not for a fixed time.
                for _attempt in range(200):
                    if sum(entry["event"] == "heartbeat_publish_failed" for entry in logs) >= 3:
                        break
                    await asyncio.sleep(0.05)

    failures = [entry for entry in logs if entry["event"] == "heartbeat_publish_failed"]
    warnings = [entry for entry in failures if entry["log_level"] == "warning"]
    assert beat.sent == 0
    assert len(failures) >= 3
    assert len(warnings) == 1
    assert warnings[0]["subject"] == "zw.ops.heartbeat.adapter.app-push"
    assert failures[-1]["failures"] == len(failures)


async def test_closed_connection_does_not_raise(bus: Bus, settings: Settings) -> None:
    async with open_bus(settings) as (client, _js):
        with capture_logs() as logs:
            async with Heartbeat(client, "adapter", "scjg-xlsx", interval_s=0.05):
                await client.close()
                await asyncio.sleep(0.2)

    events = {entry["event"] for entry in logs}
    assert "heartbeat_publish_failed" in events
    assert "heartbeat_loop_failed" not in events


@pytest.mark.usefixtures("debug_logging")
async def test_recovery_logged_after_failure(bus: Bus) -> None:
    client, js = bus
    await js.delete_stream(OPS)
    beat = Heartbeat(client, "adapter", "ga-approval", interval_s=60.0)

    with capture_logs() as logs:
        stored_without_stream = await beat.beat()
        await js.add_stream(name=OPS, subjects=["zw.ops.>"])
        stored_with_stream = await beat.beat()

    assert not stored_without_stream
    assert stored_with_stream
    assert [entry["event"] for entry in logs] == [
        "heartbeat_publish_failed",
        "heartbeat_publish_recovered",
    ]


async def test_latest_heartbeats_one_per_component(bus: Bus) -> None:
    client, js = bus
    for name in ("ga-approval", "app-push"):
        async with Heartbeat(client, "adapter", name, interval_s=60.0) as beat:
            beat.update(records=len(name))

    latest = await latest_heartbeats(js)

    assert sorted((item.name, item.state) for item in latest) == [
        ("app-push", "stopped"),
        ("ga-approval", "stopped"),
    ]
    assert {item.name: item.counters["records"] for item in latest} == {
        "app-push": 8,
        "ga-approval": 11,
    }


async def test_latest_heartbeats_skip_undecodable(bus: Bus) -> None:
    client, js = bus
    await js.publish("zw.ops.heartbeat.adapter.broken", b"not json")
    async with Heartbeat(client, "adapter", "ga-approval", interval_s=60.0):
        pass

    with capture_logs() as logs:
        latest = await latest_heartbeats(js)

    assert [item.name for item in latest] == ["ga-approval"]
    assert [entry["event"] for entry in logs] == ["heartbeat_undecodable"]


async def test_latest_heartbeats_without_stream(settings: Settings) -> None:
    async with open_bus(settings) as (_client, js):
        assert await latest_heartbeats(js) == []


async def test_recent_heartbeats_since_time(bus: Bus) -> None:
    client, js = bus
    async with Heartbeat(client, "adapter", "ga-approval", interval_s=60.0):
        pass
    middle = datetime.now(UTC)
    await asyncio.sleep(0.05)
    async with Heartbeat(client, "projection", "cases", interval_s=60.0):
        pass

    everything = await recent_heartbeats(js, middle - timedelta(minutes=1))
    recent = await recent_heartbeats(js, middle)
    consumers = await js.consumers_info(OPS)

    assert [(item.name, item.state) for item in everything] == [
        ("ga-approval", "running"),
        ("ga-approval", "stopped"),
        ("cases", "running"),
        ("cases", "stopped"),
    ]
    assert [(item.name, item.state) for item in recent] == [
        ("cases", "running"),
        ("cases", "stopped"),
    ]
    assert consumers == []


def test_subject_encodes_name() -> None:
    subject = heartbeat_subject("adapter", "市场.监管")

    assert subject.startswith("zw.ops.heartbeat.adapter.")
    assert subject.count(".") == 4
    assert component_of(subject) == ("adapter", "市场.监管")
    assert component_of("zw.ops.other.adapter.x") is None


@pytest.mark.parametrize("kind", ["", "Adapter", "a.b", "x" * 41])
def test_invalid_kind_rejected(kind: str) -> None:
    with pytest.raises(ValueError, match="heartbeat kind"):
        heartbeat_subject(kind, "name")


async def test_invalid_arguments_rejected(bus: Bus) -> None:
    client, _js = bus
    beat = Heartbeat(client, "adapter", "ga-approval")

    with pytest.raises(ValueError, match="interval_s must be positive"):
        Heartbeat(client, "adapter", "ga-approval", interval_s=0)
    with pytest.raises(ValueError, match="has no time zone"):
        beat.record_seen(datetime(2026, 10, 12, 9, 0))
    with pytest.raises(ValueError, match="name is empty"):
        Heartbeat(client, "adapter", "")


def test_fresh_within_three_intervals() -> None:
    now = datetime.now(UTC)

    assert document(sent_at=now - timedelta(seconds=14)).is_fresh(now)
    assert not document(sent_at=now - timedelta(seconds=16)).is_fresh(now)
    assert not document(sent_at=now, state="stopped").is_fresh(now)
    assert document(sent_at=now + timedelta(seconds=2)).age_s(now) == 0.0
