"""``zwbus lag`` against real nats-servers: states, thresholds, JSON, heartbeats and --watch."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from bus import server
from bus.connect import open_bus
from bus.heartbeat import Heartbeat, HeartbeatDocument, heartbeat_subject
from bus.settings import Settings
from bus.streams import CASES, OPS, PARKED, ensure_streams
from contracts.envelope import Envelope
from projections.api import run_cases_projection
from projections.cases import CasesProjection
from projections.checkpoint_store import store_path
from projections.lag import build_report, classify, find_exceeded, gather
from projections.lag_cli import format_duration
from projections.lag_snapshot import take_snapshot
from projections.rebuild import ProjectionRebuild
from projections.runtime import ProjectionRunner
from tests.projections.helpers import (
    DEADLINE_S,
    ZWBUS,
    at,
    case_event,
    command_env,
    publish,
    run_zwbus,
    wait_for,
    zwbus_command,
)

Bus = tuple[Client, JetStreamContext]


def submissions(prefix: str, count: int) -> list[Envelope]:
    return [case_event("submitted", f"{prefix}{index}", at("2026-10-12")) for index in range(count)]


def lag_json(settings: Settings, *arguments: str) -> tuple[int, dict[str, Any]]:
    """Run ``zwbus lag --json`` and return its exit code and document."""
    result = run_zwbus(settings, "lag", "--json", "--sample-seconds", "0.3", *arguments)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


async def lag_json_async(settings: Settings, *arguments: str) -> tuple[int, dict[str, Any]]:
    """Like ``lag_json`` but lets the event loop run (heartbeats, consumers) meanwhile."""
    process = await asyncio.create_subprocess_exec(
        *zwbus_command(settings, "lag", "--json", *arguments),
        env=command_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=DEADLINE_S)
    assert stdout, stderr.decode()
    return int(process.returncode or 0), json.loads(stdout)


def entry(document: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    matches: list[dict[str, Any]] = [
        item for item in document["consumers"] if item["kind"] == kind and item["name"] == name
    ]
    assert len(matches) == 1, document["consumers"]
    return matches[0]


async def add_audit_consumer(js: JetStreamContext, name: str = "audit") -> None:
    await js.add_consumer(
        CASES, ConsumerConfig(durable_name=name, ack_policy=AckPolicy.EXPLICIT)
    )


@pytest.fixture
async def following_runner(bus: Bus, settings: Settings) -> AsyncIterator[ProjectionRunner]:
    """A case projection runner following ZW_CASES, with heartbeats every 0.2 s."""
    projection = CasesProjection.for_data_dir(settings.data_dir)
    runner = ProjectionRunner(projection, settings, fetch_timeout_s=0.5, heartbeat_interval_s=0.2)
    task = asyncio.create_task(runner.run(until_caught_up=False))
    try:
        yield runner
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# --- states ----------------------------------------------------------------------


async def test_following_projection_healthy(
    bus: Bus, settings: Settings, following_runner: ProjectionRunner
) -> None:
    client, _js = bus
    await publish(client, submissions("H", 5))
    caught_up = await asyncio.to_thread(
        wait_for, lambda: following_runner.summary.stored_sequence >= 5
    )
    await asyncio.sleep(0.5)

    code, document = await lag_json_async(settings, "--sample-seconds", "0.5")

    assert caught_up
    assert code == 0
    projection = entry(document, "projection", "cases")
    assert projection["state"] == "healthy"
    assert projection["lag"] == 0
    assert projection["position"] == 5
    assert projection["stream_last_sequence"] == 5
    assert projection["heartbeat"]["state"] == "running"
    assert projection["heartbeat"]["fresh"] is True
    assert projection["heartbeat"]["counters"]["stored_sequence"] == 5
    # The first heartbeat of the run, stored sequence 0, is within the last minute.
    assert projection["rate_source"] == "heartbeats"
    assert projection["rate_per_s"] > 0
    assert projection["catch_up_s"] == 0.0
    consumer = entry(document, "consumer", "proj_cases")
    assert consumer["state"] == "healthy"
    assert consumer["heartbeat"]["state"] == "running"


async def test_finished_projection_stopped(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(client, submissions("S", 3))
    await run_cases_projection(settings)

    code, document = lag_json(settings)

    assert code == 0
    projection = entry(document, "projection", "cases")
    assert projection["state"] == "stopped"
    assert projection["heartbeat"]["state"] == "stopped"
    assert projection["heartbeat"]["counters"] == {
        "applied": 3,
        "set_aside": 0,
        "stored_sequence": 3,
    }
    assert projection["heartbeat"]["last_record_at"] is not None
    assert entry(document, "consumer", "proj_cases")["state"] == "stopped"


async def test_unattended_consumer_stalled(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("T", 4))

    code, document = lag_json(settings)

    assert code == 0
    audit = entry(document, "consumer", "audit")
    assert audit["state"] == "stalled"
    assert audit["stream"] == CASES
    assert audit["pending"] == 4
    assert audit["lag"] == 4
    assert audit["position"] == 0
    assert audit["heartbeat"] is None
    assert audit["oldest_unprocessed_at"] is not None
    assert audit["oldest_unprocessed_age_s"] >= 0


async def test_stopped_projection_with_new_events_stalled(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(client, submissions("A", 2))
    await run_cases_projection(settings)
    await publish(client, submissions("B", 3))

    _code, document = lag_json(settings)

    projection = entry(document, "projection", "cases")
    assert projection["state"] == "stalled"
    assert projection["lag"] == 3
    assert projection["pending"] == 3
    assert projection["behind"] == 3


async def test_progressing_consumer_slow_or_healthy(bus: Bus, settings: Settings) -> None:
    """The same progress is slow under a tiny --slow-after and healthy under a generous one."""
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("P", 300))
    subscription = await js.pull_subscribe_bind("audit", stream=CASES)
    stop = asyncio.Event()

    async def acknowledge_slowly() -> None:
        # About 10 messages a second, so that 300 last through both runs.
        deadline = time.monotonic() + DEADLINE_S
        while not stop.is_set() and time.monotonic() < deadline:
            for message in await subscription.fetch(1, timeout=2.0):
                await message.ack_sync()
            await asyncio.sleep(0.1)

    worker = asyncio.create_task(acknowledge_slowly())
    try:
        slow_code, slow = await lag_json_async(
            settings, "--sample-seconds", "0.6", "--slow-after", "0.001"
        )
        healthy_code, healthy = await lag_json_async(
            settings, "--sample-seconds", "0.6", "--slow-after", "3600"
        )
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=DEADLINE_S)
        await subscription.unsubscribe()

    assert slow_code == 0
    assert entry(slow, "consumer", "audit")["state"] == "slow"
    assert entry(slow, "consumer", "audit")["rate_source"] == "samples"
    assert entry(slow, "consumer", "audit")["rate_per_s"] > 0
    assert entry(slow, "consumer", "audit")["catch_up_s"] > 0.001
    assert healthy_code == 0
    assert entry(healthy, "consumer", "audit")["state"] == "healthy"


async def test_live_owner_without_progress_slow(bus: Bus, settings: Settings) -> None:
    """A fresh heartbeat with lag and no progress is slow, not stalled."""
    client, js = bus
    await publish(client, submissions("L", 2))
    await run_cases_projection(settings)
    await publish(client, submissions("M", 2))
    # The run's own heartbeats show progress within the last minute; drop them.
    await js.purge_stream(OPS)

    async with Heartbeat(client, "projection", "cases", interval_s=0.2, stream=CASES) as beat:
        beat.update(stored_sequence=2)
        _code, document = await lag_json_async(settings, "--sample-seconds", "0.3")

    projection = entry(document, "projection", "cases")
    assert projection["state"] == "slow"
    assert projection["catch_up_s"] is None


async def test_store_from_other_server_ahead(
    bus: Bus, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    client, _js = bus
    await publish(client, submissions("X", 3))
    await run_cases_projection(settings)
    folder = tmp_path_factory.mktemp("fresh-nats")
    fresh = server.start(folder, port=server.free_port())
    try:
        fresh_settings = Settings(nats_url=fresh.url, data_dir=settings.data_dir, lang="en")
        async with open_bus(fresh_settings) as (_client, fresh_js):
            await ensure_streams(fresh_js)

        code, document = lag_json(fresh_settings)
        table = run_zwbus(fresh_settings, "lag", "--sample-seconds", "0.2")
    finally:
        server.stop(folder)

    assert code == 0
    projection = entry(document, "projection", "cases")
    assert projection["state"] == "ahead-of-stream"
    assert projection["position"] == 3
    assert projection["stream_last_sequence"] == 0
    assert projection["behind"] == -3
    assert projection["lag"] == 0
    assert projection["catch_up_s"] is None
    assert "ahead of stream" in table.stdout


# --- thresholds and the JSON document ---------------------------------------------


async def test_max_lag_exit_codes(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("Q", 5))

    over = run_zwbus(settings, "lag", "--sample-seconds", "0.2", "--max-lag", "4")
    under = run_zwbus(settings, "lag", "--sample-seconds", "0.2", "--max-lag", "5")
    json_code, document = lag_json(settings, "--max-lag", "0")

    assert over.returncode == 1
    assert "consumer ZW_CASES/audit: lag 5 exceeds --max-lag 4" in over.stdout
    assert under.returncode == 0
    assert "exceeds" not in under.stdout
    assert json_code == 1
    assert document["exceeded"] == [
        {"kind": "consumer", "stream": CASES, "name": "audit", "measure": "lag",
         "value": 5, "limit": 0},
    ]


async def test_max_age_exit_codes(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("G", 2))
    await asyncio.sleep(1.0)

    over = run_zwbus(settings, "lag", "--sample-seconds", "0.2", "--max-age", "0.5")
    under = run_zwbus(settings, "lag", "--sample-seconds", "0.2", "--max-age", "3600")

    assert over.returncode == 1
    assert "consumer ZW_CASES/audit: oldest unprocessed message is" in over.stdout
    assert "over --max-age 0.5 s" in over.stdout
    assert under.returncode == 0


async def test_no_lag_passes_thresholds(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(client, submissions("N", 2))
    await run_cases_projection(settings)

    code, document = lag_json(settings, "--max-lag", "0", "--max-age", "0")

    assert code == 0
    assert document["exceeded"] == []


async def test_json_document_shape(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("J", 2))
    await run_cases_projection(settings)

    _code, document = lag_json(settings)

    assert {"streams", "consumers", "adapters", "taken_at", "exceeded"} <= document.keys()
    streams = {item["name"]: item for item in document["streams"]}
    assert streams[CASES]["messages"] == 2
    assert streams[CASES]["last_sequence"] == 2
    assert streams[CASES]["first_time"] is not None
    assert streams[CASES]["limits"] == []
    assert [limit["limit"] for limit in streams[OPS]["limits"]] == ["max_age_s"]
    assert streams[OPS]["limits"][0]["maximum"] == 86400.0
    kinds = {(item["kind"], item["name"]) for item in document["consumers"]}
    assert kinds == {("consumer", "audit"), ("consumer", "proj_cases"), ("projection", "cases")}
    for item in document["consumers"]:
        assert {"stream", "name", "kind", "pending", "ack_pending", "state"} <= item.keys()
        assert item["stream"] == CASES
    assert entry(document, "projection", "cases")["set_aside"] == 0
    assert entry(document, "projection", "cases")["store"].endswith("cases.sqlite")
    assert document["adapters"] == []


# --- adapters, language and --watch -----------------------------------------------


async def test_adapter_heartbeat_with_last_record(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    seen = datetime(2026, 10, 12, 1, 30, tzinfo=UTC)

    async with Heartbeat(client, "adapter", "ga-approval", interval_s=0.2, stream=CASES) as beat:
        beat.increment(records=12)
        beat.record_seen(seen)
        await beat.beat()
        _code, running = await lag_json_async(settings, "--sample-seconds", "0.2")
        table = await asyncio.to_thread(run_zwbus, settings, "lag", "--sample-seconds", "0.2")
    _code, stopped = lag_json(settings)

    assert len(running["adapters"]) == 1
    adapter = running["adapters"][0]
    assert adapter["name"] == "ga-approval"
    assert adapter["stream"] == CASES
    assert adapter["state"] == "running"
    assert adapter["last_record_at"] == "2026-10-12T01:30:00Z"
    assert adapter["last_record_age_s"] > 0
    assert adapter["heartbeat"]["counters"] == {"records": 12}
    assert adapter["heartbeat"]["age_s"] < 5
    assert "ga-approval" in table.stdout
    assert "2026-10-12 09:30:00" in table.stdout
    assert [item["state"] for item in stopped["adapters"]] == ["stopped"]


async def test_silent_adapter_stale(bus: Bus, settings: Settings) -> None:
    _client, js = bus
    old = HeartbeatDocument(
        kind="adapter", name="hall-window", pid=4242, host="gateway", interval_s=5.0,
        sent_at=datetime.now(UTC) - timedelta(minutes=2), state="running", stream=CASES,
        last_record_at=datetime.now(UTC) - timedelta(hours=3),
    )
    await js.publish(heartbeat_subject("adapter", "hall-window"), msgspec.json.encode(old))

    _code, document = lag_json(settings)
    table = run_zwbus(settings, "lag", "--sample-seconds", "0.2")

    adapter = document["adapters"][0]
    assert adapter["state"] == "stale"
    assert adapter["heartbeat"]["fresh"] is False
    assert adapter["heartbeat"]["age_s"] >= 120
    assert adapter["last_record_age_s"] >= 3 * 3600
    assert "heartbeat missing" in table.stdout


async def test_chinese_by_default(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("Z", 1))
    arguments = zwbus_command(settings, "lag", "--sample-seconds", "0.2")
    arguments.remove("--lang")
    arguments.remove("en")

    process = await asyncio.create_subprocess_exec(
        *arguments, env=command_env(LANG="zh_CN.UTF-8"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=DEADLINE_S)
    text = stdout.decode()

    assert process.returncode == 0, stderr.decode()
    assert "停滞" in text
    assert "stalled" not in text
    assert "Consumers and projections" not in text


async def test_help_defines_states() -> None:
    process = await asyncio.create_subprocess_exec(
        str(ZWBUS), "--lang", "en", "lag", "--help", env=command_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, _stderr = await asyncio.wait_for(process.communicate(), timeout=DEADLINE_S)
    text = " ".join(stdout.decode().split())

    for state in ("healthy:", "slow:", "stalled:", "(ahead-of-stream):", "stopped:"):
        assert state in text
    assert "no heartbeat within 3 heartbeat intervals" in text


async def test_watch_refreshes_until_interrupted(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("W", 3))
    process = await asyncio.create_subprocess_exec(
        *zwbus_command(settings, "lag", "--watch", "--json", "--interval", "0.5",
                       "--sample-seconds", "0.2", "--max-lag", "1"),
        env=command_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None

    try:
        first = json.loads(await asyncio.wait_for(process.stdout.readline(), DEADLINE_S))
        second = json.loads(await asyncio.wait_for(process.stdout.readline(), DEADLINE_S))
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)

    assert first["sample_s"] < 0.5
    assert second["sample_s"] >= 0.5
    assert second["taken_at"] > first["taken_at"]
    assert entry(second, "consumer", "audit")["pending"] == 3
    assert code == 1


async def interrupt_after(
    settings: Settings, arguments: list[str], marker: bytes, *, on_stderr: bool = False
) -> tuple[bytes, int, bytes]:
    """Run ``zwbus``, send SIGINT once ``marker`` is printed, and wait for the end.

    Returns the output up to the marker, the exit status and the rest of
    standard error.
    """
    process = await asyncio.create_subprocess_exec(
        *zwbus_command(settings, *arguments),
        env=command_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    watched = process.stderr if on_stderr else process.stdout
    assert watched is not None and process.stderr is not None

    try:
        seen = await asyncio.wait_for(watched.readuntil(marker), DEADLINE_S)
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), timeout=DEADLINE_S)
    return seen, code, await process.stderr.read()


async def test_watch_table_exits_zero_on_interrupt(bus: Bus, settings: Settings) -> None:
    heading, code, _rest = await interrupt_after(
        settings, ["lag", "--watch", "--interval", "0.5", "--sample-seconds", "0.2"], b"Streams"
    )

    assert b"As of" in heading
    assert code == 0


async def test_table_stacks_rows_at_80_columns(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("N", 12))

    result = run_zwbus(settings, "lag", "--sample-seconds", "0.2", env=command_env(COLUMNS="80"))

    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert re.search(r"^Name +audit *$", result.stdout, re.MULTILINE)
    assert re.search(r"^Pending +12 *$", result.stdout, re.MULTILINE)


async def test_snapshot_interrupted_says_nothing_kept(bus: Bus, settings: Settings) -> None:
    # The first sample is taken once connected, and the second is a minute away.
    connected, code, rest = await interrupt_after(
        settings, ["-v", "lag", "--sample-seconds", "60"], b"nats_connected", on_stderr=True
    )

    assert connected.endswith(b"nats_connected")
    assert code == 130
    assert b"Interrupted." in rest
    assert b"acknowledged" not in rest


# --- the library calls ------------------------------------------------------------


async def test_gather_compares_previous_snapshot(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await add_audit_consumer(js)
    await publish(client, submissions("R", 10))
    earlier = await take_snapshot(client, settings.data_dir)
    subscription = await js.pull_subscribe_bind("audit", stream=CASES)
    messages = await subscription.fetch(4, timeout=5.0)
    for message in messages:
        await message.ack_sync()
    await subscription.unsubscribe()
    await asyncio.sleep(0.2)

    report, _snapshot = await gather(client, settings.data_dir, previous=earlier,
                                     slow_after_s=3600)

    audit = next(item for item in report.consumers if item.name == "audit")
    assert audit.position == 4
    assert audit.lag == 6
    assert audit.rate_source == "samples"
    assert audit.rate_per_s is not None
    assert audit.rate_per_s > 0
    assert audit.catch_up_s == pytest.approx(6 / audit.rate_per_s)
    assert audit.state == "healthy"
    assert build_report(earlier, earlier).sample_s == 0.0
    assert find_exceeded(report, max_lag=5)[0].name == "audit"
    assert find_exceeded(report, max_lag=6) == []


def write_unreadable_stores(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "broken.sqlite").write_bytes(b"this is not a database" * 100)
    (folder / "empty.sqlite").touch()


async def test_unreadable_store_noted(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    write_unreadable_stores(settings.data_dir / "projections")

    report, _snapshot = await gather(client, settings.data_dir, sample_s=0.1)

    assert len(report.notes) == 2
    assert "broken.sqlite could not be read" in report.notes[0]
    assert "empty.sqlite could not be read" in report.notes[1]
    assert [item for item in report.consumers if item.kind == "projection"] == []


@pytest.mark.parametrize(
    ("lag", "ahead", "progressed", "alive", "catch_up_s", "expected"),
    [
        (0, True, False, False, None, "ahead-of-stream"),
        (0, False, False, True, 0.0, "healthy"),
        (0, False, False, False, 0.0, "stopped"),
        (5, False, True, False, 10.0, "healthy"),
        (5, False, True, True, 400.0, "slow"),
        (5, False, False, True, None, "slow"),
        (5, False, False, False, None, "stalled"),
        (5, False, False, False, 10.0, "stalled"),
    ],
)
def test_classify_states(
    lag: int, ahead: bool, progressed: bool, alive: bool, catch_up_s: float | None,
    expected: str,
) -> None:
    state = classify(lag=lag, ahead=ahead, progressed=progressed, alive=alive,
                     catch_up_s=catch_up_s, slow_after_s=300.0)

    assert state == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (2.46, "2.5 s"), (45, "45 s"), (200, "3 min 20 s"), (300, "5 min"),
     (7500, "2 h 5 min"), (7200, "2 h"), (3 * 86400 + 4 * 3600, "3 d 4 h"), (86400, "1 d")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


# --- what the view leaves out ----------------------------------------------------


async def test_rebuilt_projection_listed_once(bus: Bus, settings: Settings) -> None:
    """The store a rebuild keeps for a rollback is no second projection."""
    client, _js = bus
    await publish(client, submissions("R", 3))
    await run_cases_projection(settings)
    rebuild = ProjectionRebuild(CasesProjection.for_data_dir(settings.data_dir), settings)
    result = await rebuild.run()

    _code, document = await lag_json_async(settings, "--sample-seconds", "0.2")

    assert result.swapped
    assert result.previous_path is not None
    listed = [
        (item["name"], item["store"])
        for item in document["consumers"]
        if item["kind"] == "projection"
    ]
    assert listed == [("cases", str(store_path(settings.data_dir, "cases")))]


async def test_kv_reader_consumers_hidden_unless_all(bus: Bus, settings: Settings) -> None:
    """A client watching a bucket reads it through an ephemeral consumer."""
    _client, js = bus
    await ensure_streams(js)
    await add_audit_consumer(js)
    watcher = await (await js.key_value(PARKED)).watchall()

    try:
        _code, default = await lag_json_async(settings, "--sample-seconds", "0.2")
        _code, everything = await lag_json_async(settings, "--sample-seconds", "0.2", "--all")
        table = run_zwbus(settings, "lag", "--sample-seconds", "0.2")
    finally:
        await watcher.stop()

    kv_stream = f"KV_{PARKED}"
    assert [item for item in default["consumers"] if item["stream"] == kv_stream] == []
    assert entry(default, "consumer", "audit")["stream"] == CASES
    assert any(item["stream"] == kv_stream for item in everything["consumers"])
    assert any("--all" in note for note in default["notes"])
    assert "--all" in table.stdout
