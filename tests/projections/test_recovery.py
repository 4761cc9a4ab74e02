"""Crash recovery: injected faults, kill -9 and SIGTERM, then a restart with exact counts."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import CASES, ensure_streams
from contracts.envelope import Envelope
from tests.projections.helpers import (
    DEADLINE_S,
    KILLED_EXIT,
    at,
    case_event,
    command_env,
    consumer_lag,
    fetch_rows,
    publish,
    publish_while_following,
    run_zwbus,
    stored_sequence,
    wait_for,
    zwbus_command,
)


def flows(cases: int, prefix: str) -> list[Envelope]:
    """Four events per case, cases interleaved so that every batch touches many cases."""
    per_case = [
        [
            case_event("submitted", f"{prefix}{number:05d}", at("2026-10-12", "09:00")),
            case_event(
                "accepted", f"{prefix}{number:05d}", at("2026-10-12", "10:00"), promised_days=3
            ),
            case_event("step_completed", f"{prefix}{number:05d}", at("2026-10-13", "10:00")),
            case_event("concluded", f"{prefix}{number:05d}", at("2026-10-14", "10:00")),
        ]
        for number in range(cases)
    ]
    return [events[step] for step in range(4) for events in per_case]


async def _publish(settings: Settings, events: list[Envelope]) -> None:
    async with open_bus(settings) as (client, js):
        await ensure_streams(js)
        await publish(client, events)


async def assert_exact(settings: Settings, distinct: list[Envelope], last_seq: int) -> None:
    codes = {event.key for event in distinct}
    totals = await fetch_rows(
        settings,
        "SELECT (SELECT seq FROM checkpoint) AS stored, "
        "(SELECT COUNT(*) FROM case_events) AS events, "
        "(SELECT COUNT(*) FROM cases) AS cases, "
        "(SELECT SUM(events) FROM cases) AS counted, "
        "(SELECT COUNT(*) FROM cases WHERE status = 'concluded') AS concluded, "
        "(SELECT COUNT(*) FROM set_aside) AS set_aside",
    )

    assert totals == [
        {
            "stored": last_seq,
            "events": len(distinct),
            "cases": len(codes),
            "counted": len(distinct),
            "concluded": len(codes),
            "set_aside": 0,
        }
    ]
    async with open_bus(settings) as (_client, js):
        assert await consumer_lag(js) == (0, 0)


@pytest.mark.parametrize("point", ["after_write", "after_commit"])
def test_fault_then_restart_gives_exact_counts(settings: Settings, point: str) -> None:
    events = flows(600, "F")
    asyncio.run(_publish(settings, events))

    crashed = run_zwbus(
        settings,
        "projections",
        "run",
        "cases",
        "--until-caught-up",
        env=command_env(ZWBUS_FAULT=f"{point}:2"),
    )
    stored_after_crash = stored_sequence(settings)
    rows_after_crash = asyncio.run(fetch_rows(settings, "SELECT COUNT(*) AS n FROM case_events"))
    restarted = run_zwbus(settings, "projections", "run", "cases", "--until-caught-up")

    assert crashed.returncode == KILLED_EXIT, crashed.stderr
    assert "fault_injected" in crashed.stderr
    assert 0 < stored_after_crash < len(events)
    assert rows_after_crash == [{"n": stored_after_crash}]
    assert restarted.returncode == 0, restarted.stderr
    applied = len(events) - stored_after_crash
    assert f"applied {applied}, skipped 0" in restarted.stdout
    assert f"stored sequence {len(events)}." in restarted.stdout
    asyncio.run(assert_exact(settings, events, len(events)))


def test_crash_after_commit_leaves_batch_unacknowledged(settings: Settings) -> None:
    events = flows(600, "U")
    asyncio.run(_publish(settings, events))

    crashed = run_zwbus(
        settings,
        "projections",
        "run",
        "cases",
        "--until-caught-up",
        env=command_env(ZWBUS_FAULT="after_commit:2"),
    )

    async def ack_floor() -> int:
        async with open_bus(settings) as (_client, js):
            info = await js.consumer_info(CASES, "proj_cases")
            return int(info.ack_floor.stream_seq or 0)

    assert crashed.returncode == KILLED_EXIT
    assert asyncio.run(ack_floor()) < stored_sequence(settings)


def test_kill_9_then_restart_exact_counts(settings: Settings, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    events = flows(400, "K")
    chunks = [events[start : start + 100] for start in range(0, len(events), 100)]
    resent = rng.sample(events, 80)

    exit_code = asyncio.run(
        publish_while_following(
            settings, "cases", rng, chunks, resent, tmp_path / "follow.log"
        )
    )
    stored_at_kill = stored_sequence(settings)
    restarted = run_zwbus(settings, "projections", "run", "cases", "--until-caught-up")

    assert exit_code == -signal.SIGKILL, f"seed {seed}"
    assert stored_at_kill > 0, f"seed {seed}"
    assert restarted.returncode == 0, f"seed {seed}: {restarted.stderr}"
    asyncio.run(assert_exact(settings, events, len(events) + len(resent)))


def test_sigterm_stops_follow_mode_cleanly(settings: Settings, tmp_path: Path) -> None:
    events = flows(50, "T")
    asyncio.run(_publish(settings, events))
    process = subprocess.Popen(
        zwbus_command(settings, "projections", "run", "cases"),
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        caught_up = wait_for(lambda: stored_sequence(settings) == len(events))
        os.kill(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(DEADLINE_S)

    assert caught_up
    assert process.returncode == 0, stderr
    assert f"applied {len(events)}" in stdout
    assert "Stopped by signal" in stdout
    asyncio.run(assert_exact(settings, events, len(events)))
