"""Rebuilding a projection's store beside the live one and swapping it in, on a real nats-server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.connect import open_bus
from bus.errors import StreamError
from bus.runner import Interrupted, run
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.envelope import Envelope
from projections.api import run_cases_projection
from projections.cases import CasesProjection, queries
from projections.checkpoint_store import ProjectionStore, store_path
from projections.rebuild import (
    ProjectionRebuild,
    RebuildBlockedError,
    RebuildResult,
    previous_path,
    shadow_path,
)
from projections.runtime import exclusive_lock
from tests.projections.helpers import (
    at,
    case_event,
    publish,
    publish_raw,
    run_zwbus,
    stream_last_seq,
)

Bus = tuple[Client, JetStreamContext]
Tables = dict[str, list[tuple[object, ...]]]

# Columns that hold the wall-clock time of the write, not data of the stream.
_WRITE_TIME_COLUMNS = {"checkpoint": "updated_at", "set_aside": "set_aside_at"}
_SIDE_FILES = ("-wal", "-shm", "-journal")


def flow(code: str, day: str = "2026-10-12") -> list[Envelope]:
    return [
        case_event("submitted", code, at(day, "09:00")),
        case_event("accepted", code, at(day, "10:00"), promised_days=2),
        case_event("concluded", code, at(day, "16:00"), result="approved"),
    ]


def flows(prefix: str, count: int) -> list[Envelope]:
    return [event for index in range(count) for event in flow(f"{prefix}{index}")]


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


def leftovers(path: Path) -> list[Path]:
    """Return the files of the SQLite database ``path`` that exist."""
    candidates = [path, *(Path(f"{path}{suffix}") for suffix in _SIDE_FILES)]
    return [candidate for candidate in candidates if candidate.exists()]


def write_stale_shadow(shadow: Path) -> None:
    """Leave what a killed rebuild leaves: a partial database and its log."""
    shadow.write_bytes(b"half a database from a killed rebuild")
    Path(f"{shadow}-wal").write_bytes(b"and its log")


def live_path(settings: Settings) -> Path:
    return store_path(settings.data_dir, "cases")


def new_rebuild(settings: Settings, **options: object) -> ProjectionRebuild:
    projection = CasesProjection.for_data_dir(settings.data_dir)
    return ProjectionRebuild(projection, settings, **options)  # type: ignore[arg-type]


class Listener:
    """Records a rebuild's reports; its events let a test act at a given step."""

    def __init__(self) -> None:
        self.targets: list[int] = []
        self.positions: list[int] = []
        self.stale: list[Path] = []
        self.advanced_once = asyncio.Event()
        self.waiting = asyncio.Event()

    def started(self, first_seq: int, last_seq: int) -> None:
        self.targets.append(last_seq)

    def advanced(self, seq: int, events: int) -> None:
        self.positions.append(seq)
        self.advanced_once.set()

    def stale_shadow_removed(self, path: Path) -> None:
        self.stale.append(path)

    def waiting_for_lock(self, lock_path: Path, wait_s: float) -> None:
        self.waiting.set()


async def build_live(client: Client, settings: Settings, batches: list[list[Envelope]]) -> None:
    """Publish each list of events and run the projection after each, like a real deployment."""
    for events in batches:
        await publish(client, events)
        await run_cases_projection(settings, until_caught_up=True)


async def test_rebuild_matches_incremental_store(bus: Bus, settings: Settings) -> None:
    client, js = bus
    resent = flow("D0")
    await build_live(client, settings, [flows("A", 4), resent])
    await publish_raw(js, "zw.case.51.16.02.BAD", b"not an event", "raw-1")
    await publish(client, resent, msg_ids=[f"{event.id}-again" for event in resent])
    await build_live(client, settings, [flows("B", 3)])
    live = live_path(settings)
    incremental = all_tables(live)
    last = await stream_last_seq(js)

    result = await new_rebuild(settings, batch_size=4).run()

    assert all_tables(live) == incremental
    assert all_tables(previous_path(live)) == incremental
    assert result.swapped
    assert result.stored_before == last
    assert result.stored_after == last
    assert result.applied == 24
    assert result.duplicates == 3
    assert result.set_aside == 1
    assert leftovers(shadow_path(live)) == []
    assert leftovers(live) == [live]

    await publish(client, flow("C0"))
    summary = await run_cases_projection(settings, until_caught_up=True)

    assert summary.applied == 3
    assert summary.redelivered == 0
    assert summary.stored_sequence == last + 3


async def test_reads_continue_during_rebuild(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await build_live(client, settings, [flows("O", 5)])
    await publish(client, flows("N", 20))
    live = live_path(settings)
    failures: list[BaseException] = []
    counts: list[int] = []
    rebuilt = asyncio.Event()

    async def read_live_store() -> None:
        deadline = time.monotonic() + 30.0
        for _ in range(5000):
            if time.monotonic() > deadline or (rebuilt.is_set() and counts[-1] == 25):
                return
            try:
                async with ProjectionStore.open(live, projection="cases", create=False) as store:
                    by_status = await queries.status_counts(store.connection)
                counts.append(sum(by_status.values()))
            except Exception as exc:
                failures.append(exc)
            await asyncio.sleep(0.002)

    reader = asyncio.create_task(read_live_store())
    await asyncio.sleep(0.05)
    result = await new_rebuild(settings, batch_size=2).run()
    rebuilt.set()
    await reader

    assert failures == []
    assert counts[0] == 5
    assert counts[-1] == 25
    assert len(counts) >= 5
    assert result.stored_before == 15
    assert result.stored_after == 75


async def test_events_published_during_rebuild_are_kept(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await build_live(client, settings, [flows("E", 10)])
    live = live_path(settings)
    listener = Listener()

    with contextlib.ExitStack() as runner_lock:
        runner_lock.enter_context(exclusive_lock(live, "cases"))
        task = asyncio.create_task(
            new_rebuild(settings, batch_size=1, lock_wait_s=30.0, listener=listener).run()
        )
        await asyncio.wait_for(listener.advanced_once.wait(), 20.0)
        await publish(client, flow("DURING-BUILD"))
        await asyncio.wait_for(listener.waiting.wait(), 20.0)
        await publish(client, flow("WHILE-WAITING"))
    result: RebuildResult = await asyncio.wait_for(task, 30.0)

    codes = {row[0] for row in all_tables(live)["cases"]}
    assert {"DURING-BUILD", "WHILE-WAITING"} <= codes
    assert len(codes) == 12
    assert result.stored_after == await stream_last_seq(js)
    assert result.stored_after == 36
    assert result.stored_before == 30


async def test_stale_shadow_is_replaced(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await build_live(client, settings, [flows("S", 2)])
    live = live_path(settings)
    incremental = all_tables(live)
    shadow = shadow_path(live)
    write_stale_shadow(shadow)
    listener = Listener()

    result = await new_rebuild(settings, listener=listener).run()

    assert result.stale_shadow_removed
    assert listener.stale == [shadow]
    assert all_tables(live) == incremental
    assert leftovers(shadow) == []


def test_sigint_leaves_live_store_unchanged(settings: Settings) -> None:
    async def prepare() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await build_live(client, settings, [flows("I", 10)])

    asyncio.run(prepare())
    live = live_path(settings)
    before = all_tables(live)
    listener = Listener()
    signalled: list[int] = []

    def interrupt_after_first_batch(seq: int, events: int) -> None:
        if not signalled:
            signalled.append(seq)
            os.kill(os.getpid(), signal.SIGINT)

    listener.advanced = interrupt_after_first_batch  # type: ignore[method-assign]
    rebuild = new_rebuild(settings, batch_size=1, listener=listener)

    with pytest.raises(Interrupted):
        run(rebuild.run())

    assert signalled == [1]
    assert not rebuild.result.swapped
    assert leftovers(shadow_path(live)) == []
    assert leftovers(previous_path(live)) == []
    assert all_tables(live) == before


async def test_rebuild_rejected_while_runner_holds_lock(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await build_live(client, settings, [flows("L", 2)])
    live = live_path(settings)
    before = all_tables(live)

    with exclusive_lock(live, "cases"), pytest.raises(RebuildBlockedError) as raised:
        await new_rebuild(settings, lock_wait_s=0.3).run()

    assert "Stop the runner" in str(raised.value)
    assert leftovers(shadow_path(live)) == []
    assert all_tables(live) == before


async def test_cli_rejects_while_runner_holds_lock(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await build_live(client, settings, [flows("K", 1)])
    live = live_path(settings)

    with exclusive_lock(live, "cases"):
        result = await asyncio.to_thread(
            run_zwbus, settings, "projections", "rebuild", "cases", "--wait", "0.5"
        )

    assert result.returncode == 1
    assert "still holds the store lock" in result.stderr
    assert "--wait SECONDS" in result.stderr
    assert leftovers(shadow_path(live)) == []


async def test_cli_prints_summary(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await build_live(client, settings, [flows("P", 1)])
    await publish(client, flow("Q"))

    result = await asyncio.to_thread(run_zwbus, settings, "projections", "rebuild", "cases")

    assert result.returncode == 0, result.stderr
    assert "6 events applied, 0 duplicates, 0 set aside" in result.stdout
    assert "Stored sequence: 3 before the rebuild, 6 after." in result.stdout
    assert "cases.previous.sqlite for one rollback" in result.stdout
    assert "recreates consumer proj_cases from sequence 7" in result.stdout


def test_cli_rejects_unknown_projection(settings: Settings) -> None:
    result = run_zwbus(settings, "projections", "rebuild", "licences")

    assert result.returncode == 2
    assert "Invalid value for 'NAME': 'licences'" in result.stderr


async def test_missing_stream_is_rejected(settings: Settings) -> None:
    with pytest.raises(StreamError, match="ZW_CASES of projection cases was not found"):
        await new_rebuild(settings).run()

    assert leftovers(shadow_path(live_path(settings))) == []
