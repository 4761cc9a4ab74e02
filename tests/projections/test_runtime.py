"""The projection runtime against a real nats-server: apply, skip, refuse, follow and stop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bus import server
from bus.connect import open_bus
from bus.errors import CheckpointAheadError
from bus.settings import Settings
from bus.streams import CASES, ensure_streams
from contracts.envelope import Envelope
from projections.api import run_cases_projection
from projections.cases import CasesProjection
from projections.checkpoint_store import ProjectionStore
from projections.runtime import ProjectionRunner, ProjectionRunningError, exclusive_lock
from tests.projections.helpers import (
    at,
    case_event,
    consumer_lag,
    fetch_rows,
    publish,
    run_zwbus,
    scalar,
    stream_last_seq,
    wait_for,
)

Bus = tuple[Client, JetStreamContext]


def flow(code: str, day: str = "2026-10-12") -> list[Envelope]:
    return [
        case_event("submitted", code, at(day, "09:00")),
        case_event("accepted", code, at(day, "10:00"), promised_days=2),
        case_event("concluded", code, at(day, "16:00"), result="denied"),
    ]


async def test_run_applies_flows_lag_zero(bus: Bus, settings: Settings) -> None:
    client, js = bus
    events = [event for code in ("F1", "F2", "F3") for event in flow(code)]
    await publish(client, events)

    summary = await run_cases_projection(settings, until_caught_up=True)

    assert summary.applied == 9
    assert summary.skipped == 0
    assert summary.set_aside == 0
    assert summary.stored_sequence == await stream_last_seq(js)
    assert await consumer_lag(js) == (0, 0)
    rows = await fetch_rows(
        settings, "SELECT code, status, result, events FROM cases ORDER BY code"
    )
    assert rows == [
        {"code": code, "status": "concluded", "result": "denied", "events": 3}
        for code in ("F1", "F2", "F3")
    ]


async def test_second_run_resumes_from_checkpoint(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(client, flow("R1"))
    first = await run_cases_projection(settings, until_caught_up=True)

    await publish(client, flow("R2"))
    second = await run_cases_projection(settings, until_caught_up=True)

    assert first.applied == 3
    assert second.applied == 3
    assert second.skipped == 0
    assert second.stored_sequence == 6
    assert await scalar(settings, "SELECT COUNT(*) FROM case_events") == 6


async def test_run_without_pending_returns_at_once(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(client, flow("E1"))
    await run_cases_projection(settings, until_caught_up=True)

    started = time.monotonic()
    summary = await run_cases_projection(settings, until_caught_up=True)

    assert summary.applied == 0
    assert summary.batches == 0
    assert time.monotonic() - started < 3.0


async def test_late_earlier_status_keeps_case_forward(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    submitted, accepted, concluded = flow("B1")
    await publish(client, [accepted, concluded])
    await run_cases_projection(settings, until_caught_up=True)

    await publish(client, [submitted])
    await run_cases_projection(settings, until_caught_up=True)

    rows = await fetch_rows(settings, "SELECT status, submitted_at, events FROM cases")
    assert rows == [
        {"status": "concluded", "submitted_at": "2026-10-12T09:00:00.000000+08:00", "events": 3}
    ]


async def test_resent_events_count_once(bus: Bus, settings: Settings) -> None:
    client, js = bus
    events = flow("D1")
    await publish(client, events)
    deduplicated = await publish(client, events)
    await publish(client, events, msg_ids=[f"{event.id}-resent" for event in events])

    summary = await run_cases_projection(settings, until_caught_up=True)

    assert await stream_last_seq(js) == 6
    assert deduplicated == [1, 2, 3]
    assert summary.applied == 3
    assert summary.duplicates == 3
    assert await scalar(settings, "SELECT events FROM cases WHERE code = 'D1'") == 3
    assert await scalar(settings, "SELECT COUNT(*) FROM case_events") == 3


async def test_redelivered_sequences_are_skipped(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await publish(client, flow("S1"))
    await run_cases_projection(settings, until_caught_up=True)
    await js.add_consumer(
        CASES,
        ConsumerConfig(
            durable_name="replay_test",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.ALL,
        ),
    )
    subscription = await js.pull_subscribe_bind(durable="replay_test", stream=CASES)
    messages = await subscription.fetch(10, timeout=5)
    await subscription.unsubscribe()
    projection = CasesProjection.for_data_dir(settings.data_dir)
    runner = ProjectionRunner(projection, settings)

    async with ProjectionStore.open(
        projection.store_file(settings.data_dir), projection="cases"
    ) as store:
        await runner._process(messages, store)

    assert len(messages) == 3
    assert runner.summary.redelivered == 3
    assert runner.summary.applied == 0
    assert await scalar(settings, "SELECT events FROM cases WHERE code = 'S1'") == 3


async def test_checkpoint_ahead_of_fresh_server_refuses(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    await publish(client, flow("A1"))
    await run_cases_projection(settings, until_caught_up=True)
    fresh_folder = tmp_path / "fresh-server"
    fresh = server.start(fresh_folder, port=server.free_port())
    try:
        fresh_settings = Settings(nats_url=fresh.url, data_dir=settings.data_dir, lang="en")
        async with open_bus(fresh_settings) as (_fresh_client, fresh_js):
            await ensure_streams(fresh_js)

            with pytest.raises(CheckpointAheadError) as raised:
                await run_cases_projection(fresh_settings, until_caught_up=True)

            with pytest.raises(nats.js.errors.NotFoundError):
                await fresh_js.consumer_info(CASES, "proj_cases")
    finally:
        server.stop(fresh_folder)

    assert raised.value.facts == {"projection": "cases", "stored": 3, "stream": CASES, "last": 0}
    assert "refusing to run" in str(raised.value)
    assert await scalar(settings, "SELECT seq FROM checkpoint") == 3


def test_cli_refuses_checkpoint_ahead(settings: Settings, tmp_path: Path) -> None:
    async def prepare() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish(client, flow("A2"))
        await run_cases_projection(settings, until_caught_up=True)

    asyncio.run(prepare())
    fresh_folder = tmp_path / "fresh-server"
    fresh = server.start(fresh_folder, port=server.free_port())
    try:
        fresh_settings = Settings(nats_url=fresh.url, data_dir=settings.data_dir, lang="en")
        result = run_zwbus(fresh_settings, "projections", "run", "cases", "--until-caught-up")
    finally:
        server.stop(fresh_folder)

    assert result.returncode == 1
    assert "has applied up to sequence 3" in result.stderr
    assert "refusing to run" in result.stderr


async def test_second_runner_is_rejected(bus: Bus, settings: Settings) -> None:
    projection = CasesProjection.for_data_dir(settings.data_dir)
    path = projection.store_file(settings.data_dir)

    with exclusive_lock(path, "cases"), pytest.raises(ProjectionRunningError):
        await run_cases_projection(settings, until_caught_up=True)


async def test_follow_mode_applies_until_cancelled(bus: Bus, settings: Settings) -> None:
    client, js = bus
    projection = CasesProjection.for_data_dir(settings.data_dir)
    runner = ProjectionRunner(projection, settings, fetch_timeout_s=0.5)
    task = asyncio.create_task(runner.run(until_caught_up=False))
    await publish(client, flow("W1"))

    first_applied = await asyncio.to_thread(wait_for, lambda: runner.summary.stored_sequence >= 3)
    await publish(client, flow("W2"))
    second_applied = await asyncio.to_thread(wait_for, lambda: runner.summary.stored_sequence >= 6)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert first_applied
    assert second_applied
    assert runner.summary.applied == 6
    assert runner.summary.stored_sequence == 6
    assert await consumer_lag(js) == (0, 0)
    assert await scalar(settings, "SELECT COUNT(*) FROM cases") == 2
