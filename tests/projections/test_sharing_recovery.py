"""The sharing projection after crashes and rebuilds: exact counts and an identical store."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.envelope import Envelope
from projections.checkpoint_store import store_path
from projections.rebuild import ProjectionRebuild, previous_path
from projections.sharing import SHARING_STREAM, SharingProjection
from projections.sharing.api import run_sharing_projection
from tests.projections.helpers import (
    KILLED_EXIT,
    at,
    command_env,
    publish,
    publish_raw,
    publish_while_following,
    run_zwbus,
    stored_sequence,
)
from tests.projections.sharing_helpers import fetch_rows, request_flow, share_event

Bus = tuple[Client, JetStreamContext]
Tables = dict[str, list[tuple[object, ...]]]

RESOURCES = 10
OBJECTIONS = 30
# Columns that hold the wall-clock time of the write, not data of the stream.
_WRITE_TIME_COLUMNS = {"checkpoint": "updated_at", "set_aside": "set_aside_at"}


def sharing_traffic(requests: int, prefix: str) -> list[Envelope]:
    """Resources first, then request flows interleaved step by step, then objections."""
    resources = [
        share_event("resource_published", f"{prefix}RES{number}", at("2026-09-01"))
        for number in range(RESOURCES)
    ]
    flows = [
        request_flow(f"{prefix}REQ{number:04d}", resource=f"{prefix}RES{number % RESOURCES}")
        for number in range(requests)
    ]
    objections = []
    for number in range(OBJECTIONS):
        key = f"{prefix}OBJ{number}"
        objections.append(share_event("objection_raised", key, at("2026-10-12", "10:00")))
        if number % 2 == 0:
            objections.append(share_event("objection_resolved", key, at("2026-10-13")))
    interleaved = [flow[step] for step in range(4) for flow in flows]
    return [*resources, *interleaved, *objections]


async def assert_exact(settings: Settings, distinct: list[Envelope], last_seq: int) -> None:
    requests = len({event.key for event in distinct if event.type.startswith("share.request")})
    totals = await fetch_rows(
        settings,
        "SELECT (SELECT seq FROM checkpoint) AS stored, "
        "(SELECT COUNT(*) FROM sharing_events) AS events, "
        "(SELECT COUNT(*) FROM sharing_resources) AS resources, "
        "(SELECT COUNT(*) FROM sharing_requests) AS requests, "
        "(SELECT COUNT(*) FROM sharing_requests WHERE state = 'delivering') AS delivering, "
        "(SELECT SUM(deliveries) FROM sharing_requests) AS deliveries, "
        "(SELECT SUM(delivered_records) FROM sharing_requests) AS records, "
        "(SELECT COUNT(*) FROM sharing_objections WHERE state = 'open') AS open_objections, "
        "(SELECT SUM(events) FROM sharing_resources) + (SELECT SUM(events) FROM "
        "sharing_requests) + (SELECT SUM(events) FROM sharing_objections) AS counted, "
        "(SELECT COUNT(*) FROM set_aside) AS set_aside",
    )

    assert totals == [
        {
            "stored": last_seq,
            "events": len(distinct),
            "resources": RESOURCES,
            "requests": requests,
            "delivering": requests,
            "deliveries": 2 * requests,
            "records": 150 * requests,
            "open_objections": OBJECTIONS // 2,
            "counted": len(distinct),
            "set_aside": 0,
        }
    ]
    async with open_bus(settings) as (_client, js):
        info = await js.consumer_info(SHARING_STREAM, "proj_sharing")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def _publish(settings: Settings, events: list[Envelope]) -> None:
    async with open_bus(settings) as (client, js):
        await ensure_streams(js)
        await publish(client, events)


@pytest.mark.parametrize("point", ["after_write", "after_commit"])
def test_fault_then_restart_gives_exact_counts(settings: Settings, point: str) -> None:
    events = sharing_traffic(600, "F")
    asyncio.run(_publish(settings, events))

    crashed = run_zwbus(
        settings,
        "projections",
        "run",
        "sharing",
        "--until-caught-up",
        env=command_env(ZWBUS_FAULT=f"{point}:2"),
    )
    stored_after_crash = stored_sequence(settings, "sharing")
    rows_after_crash = asyncio.run(
        fetch_rows(settings, "SELECT COUNT(*) AS n FROM sharing_events")
    )
    restarted = run_zwbus(settings, "projections", "run", "sharing", "--until-caught-up")

    assert crashed.returncode == KILLED_EXIT, crashed.stderr
    assert "fault_injected" in crashed.stderr
    assert 0 < stored_after_crash < len(events)
    assert rows_after_crash == [{"n": stored_after_crash}]
    assert restarted.returncode == 0, restarted.stderr
    applied = len(events) - stored_after_crash
    assert f"applied {applied}, skipped 0" in restarted.stdout
    assert f"stored sequence {len(events)}." in restarted.stdout
    asyncio.run(assert_exact(settings, events, len(events)))


def test_kill_9_while_following_then_exact(settings: Settings, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    events = sharing_traffic(200, "K")
    chunks = [events[start : start + 100] for start in range(0, len(events), 100)]
    resent = rng.sample(events, 80)

    exit_code = asyncio.run(
        publish_while_following(
            settings, "sharing", rng, chunks, resent, tmp_path / "follow.log"
        )
    )
    stored_at_kill = stored_sequence(settings, "sharing")
    restarted = run_zwbus(settings, "projections", "run", "sharing", "--until-caught-up")

    assert exit_code == -signal.SIGKILL, f"seed {seed}"
    assert stored_at_kill > 0, f"seed {seed}"
    assert restarted.returncode == 0, f"seed {seed}: {restarted.stderr}"
    asyncio.run(assert_exact(settings, events, len(events) + len(resent)))


def all_tables(path: Path) -> Tables:
    """Return every table's rows in a stable order, without write-time columns."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        tables: Tables = {}
        for name in names:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({name})")]
            kept = [column for column in columns if column != _WRITE_TIME_COLUMNS.get(name)]
            rows = connection.execute(f"SELECT {', '.join(kept)} FROM {name}").fetchall()
            tables[name] = sorted(rows, key=repr)
        return tables
    finally:
        connection.close()


async def test_rebuild_from_first_event_equals_live(bus: Bus, settings: Settings) -> None:
    client, js = bus
    events = sharing_traffic(20, "B")
    for start in range(0, len(events), 37):
        await publish(client, events[start : start + 37])
        await run_sharing_projection(settings)
    resent = events[40:60]
    await publish(client, resent, msg_ids=[f"{event.id}-again" for event in resent])
    await publish_raw(js, "zw.share.51.16.02.BROKEN", b"not an event", "raw-1")
    await publish(client, [share_event("request_approved", "BREQ0001", at("2026-10-20"))])
    await run_sharing_projection(settings)
    live = store_path(settings.data_dir, "sharing")
    incremental = all_tables(live)

    projection = SharingProjection.for_data_dir(settings.data_dir)
    result = await ProjectionRebuild(projection, settings, batch_size=16).run()

    assert result.swapped
    assert result.applied == len(events) + 1
    assert result.duplicates == len(resent)
    assert result.set_aside == 1
    assert all_tables(live) == incremental
    assert all_tables(previous_path(live)) == incremental
    assert len(incremental["sharing_requests"]) == 20
