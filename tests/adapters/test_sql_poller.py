"""Tests of the SQL table poller against the machine's PostgreSQL and MariaDB servers.

Every test runs once per database, in a freshly created table that is dropped
afterwards, and against its own nats-server. Waits on a running poller are
bounded by ``WAIT_S`` and fail with what they waited for; nothing asserts a
duration.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog.testing

from adapters.family_profile import FamilyProfile, SourceProfile, load_source_profile
from adapters.file_source import ingest_files
from adapters.ingest.tally import Tally
from adapters.items import import_catalogue
from adapters.profile import Profile, load_profile
from adapters.sdk import Batch, PositionBook, run_source
from adapters.services import provide
from adapters.sql.config import resolve_connection
from adapters.sql.poller import WATERMARK, TablePoller
from adapters.sql.queries import Query
from adapters.sql.readers import APPLICATION_NAME, open_reader
from adapters.sql.rows import Watermark
from bus.config import RunTable, ZwbusConfig
from bus.connect import open_bus
from bus.errors import ConfigError
from bus.reader import read_stream
from bus.services import RunConfig
from bus.settings import Settings
from bus.streams import CASES, REVIEWS
from contracts.case import CASE_PAYLOADS
from contracts.envelope import Envelope, decode_event
from contracts.review import ReviewRated
from tests.adapters.databases import REVIEW_LAYOUT, Table, open_table
from tests.adapters.family_helpers import REVIEW_PROFILE, REVIEW_SOURCE, review_row, write_text
from tests.adapters.helpers import (
    INVALID_ID,
    SOURCE_ID,
    case_row,
    write_csv,
    write_item_catalogue,
    write_profile,
)

WAIT_S = 60.0
"""Upper bound of every wait on a running poller; only a hang reaches it."""
MAX_FRAMES_SHOWN = 30
T0 = datetime(2024, 3, 1, 12, 0, 0)
"""Update time of the first rows; the table stores times without a zone."""


@pytest.fixture(params=["postgresql", "mariadb"])
async def table(request: pytest.FixtureRequest) -> AsyncIterator[Table]:
    async for created in open_table(request.param):
        yield created


@pytest.fixture
async def catalogued(settings: Settings, tmp_path: Path) -> Settings:
    """Settings of a bus whose item catalogue lists the test item code."""
    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    return settings


def _profile(
    source: Table, tmp_path: Path, *, timezone: str = "Asia/Shanghai", **poll: object
) -> Profile:
    path = tmp_path / f"poll-{uuid.uuid4().hex[:6]}.toml"
    return load_profile(source.write_profile(path, timezone=timezone, **poll))


async def _poll_once(settings: Settings, profile: SourceProfile) -> Tally:
    return await run_source(settings, TablePoller(profile, once=True))


async def _events(settings: Settings) -> list[Envelope]:
    async with open_bus(settings) as (_client, js):
        return [decode_event(message.data) async for message in read_stream(js, CASES)]


async def _stored_watermark(settings: Settings) -> Watermark | None:
    async with open_bus(settings) as (_client, js):
        return await PositionBook(js, SOURCE_ID).get(WATERMARK, Watermark)


def _local_numbers(events: list[Envelope]) -> list[str]:
    return sorted(_local_no(event) for event in events)


def _local_no(event: Envelope) -> str:
    assert isinstance(event.payload, CASE_PAYLOADS), event.type
    return event.payload.local_no


async def _wait_for(condition: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_S):
            # The conditions read log lines and poller counters, which signal no event.
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class _Running:
    """A poller running in a task, with the tally it reported last."""

    def __init__(self, settings: Settings, profile: Profile) -> None:
        self.poller = TablePoller(profile)
        self.tally = Tally()

        def on_batch(_batch: Batch, tally: Tally) -> None:
            self.tally = tally

        self.task = asyncio.create_task(run_source(settings, self.poller, on_batch=on_batch))

    async def stop(self) -> None:
        """Cancel the poller and wait for its end; fail naming where it waits if it goes on."""
        self.task.cancel()
        done, _pending = await asyncio.wait({self.task}, timeout=WAIT_S)
        if not done:
            raise AssertionError(
                f"the poller went on for {WAIT_S} s after its cancellation; it waits in "
                f"{_awaiting(self.task)}"
            )
        assert self.task.cancelled(), self.task


def _awaiting(task: asyncio.Task[Any]) -> str:
    """Name the coroutines and async generators ``task`` waits in, outermost first."""
    frames: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(frames) < MAX_FRAMES_SHOWN:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is not None:
            code = frame.f_code
            frames.append(f"{code.co_name} ({Path(code.co_filename).name}:{frame.f_lineno})")
        following = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
        if following is None and type(awaited).__name__ == "async_generator_asend":
            # The object an async for awaits does not name its generator, but
            # it refers to it, so the garbage collector can.
            following = next(
                (ref for ref in gc.get_referents(awaited) if inspect.isasyncgen(ref)), None
            )
        awaited = following
    return " > ".join(frames) or repr(task)


def _logged(captured: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in captured if entry["event"] == event]


# New rows and the stored watermark --------------------------------------------


async def test_poll_reads_new_rows_and_resumes(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    profile = _profile(table, tmp_path)
    for number in range(3):
        row = case_row(f"P{number}", "submitted", "2024-03-01 09:00:00")
        await table.insert(f"K{number}", number, T0 + timedelta(seconds=number), row)

    first = await _poll_once(catalogued, profile)
    stored = await _stored_watermark(catalogued)
    again = await _poll_once(catalogued, profile)
    await table.insert(
        "K3", 3, T0 + timedelta(seconds=3), case_row("P3", "submitted", "2024-03-01 09:00:00")
    )
    third = await _poll_once(catalogued, profile)
    events = await _events(catalogued)

    assert (first.read, first.published) == (3, 3)
    assert stored == Watermark(kind="time", time=T0 + timedelta(seconds=2), key="K2")
    assert again.published == 0
    assert again.duplicates == again.read
    assert third.published == 1
    assert third.reconciles
    assert _local_numbers(events) == ["P0", "P1", "P2", "P3"]


async def test_poll_query_reads_selected_rows(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    await table.insert("K0", 0, T0, case_row("Q0", "submitted", "2024-03-01 09:00:00"))
    await table.insert(
        "K1", 1, T0, case_row("Q1", "submitted", "2024-03-01 09:00:00", remark="skip")
    )
    query = f"SELECT * FROM {table.quote(table.name)} WHERE {table.quote('remark')} <> 'skip'"
    profile = _profile(table, tmp_path, table="", query=query)

    tally = await _poll_once(catalogued, profile)
    events = await _events(catalogued)

    assert (tally.read, tally.published) == (1, 1)
    assert _local_numbers(events) == ["Q0"]


async def test_poll_by_increasing_id(catalogued: Settings, table: Table, tmp_path: Path) -> None:
    """An id read late (a transaction that committed after a later id) is caught by the overlap."""
    profile = _profile(table, tmp_path, watermark="row_id", key="row_id", kind="id", overlap=2)
    for number in (1, 2, 3, 5):
        row = case_row(f"I{number}", "submitted", "2024-03-01 09:00:00")
        await table.insert(f"K{number}", number, T0, row)

    first = await _poll_once(catalogued, profile)
    await table.insert("K4", 4, T0, case_row("I4", "submitted", "2024-03-01 09:00:00"))
    second = await _poll_once(catalogued, profile)
    events = await _events(catalogued)

    assert first.published == 4
    assert second.published == 1
    assert second.duplicates == second.read - 1
    assert _local_numbers(events) == ["I1", "I2", "I3", "I4", "I5"]


# Equal update times --------------------------------------------------------------


async def test_equal_update_times_across_pages_and_passes(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    """Rows sharing one update time are all read, across page and pass boundaries, once each."""
    profile = _profile(table, tmp_path, batch_size=2, overlap=0)
    for number in range(2, 7):
        row = case_row(f"E{number}", "submitted", "2024-03-01 09:00:00")
        await table.insert(f"K{number}", number, T0, row)

    first = await _poll_once(catalogued, profile)
    # Same update time, one key before and one after every key read so far.
    await table.insert("K1", 1, T0, case_row("E1", "submitted", "2024-03-01 09:00:00"))
    await table.insert("K7", 7, T0, case_row("E7", "submitted", "2024-03-01 09:00:00"))
    second = await _poll_once(catalogued, profile)
    events = await _events(catalogued)

    assert (first.read, first.published) == (5, 5)
    assert second.published == 2
    assert second.duplicates == 5
    assert second.reconciles
    assert _local_numbers(events) == [f"E{number}" for number in range(1, 8)]


# Rows updated after they were read -----------------------------------------------------


async def test_updated_row_new_status_is_new_event(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    profile = _profile(table, tmp_path, overlap=0)
    await table.insert("K1", 1, T0, case_row("U1", "submitted", "2024-03-01 09:00:00"))
    submitted = await _poll_once(catalogued, profile)

    accepted_time = datetime(2024, 3, 1, 10, 0, 0)
    await table.update("K1", status="2", time=accepted_time, updated_at=T0 + timedelta(seconds=10))
    accepted = await _poll_once(catalogued, profile)
    await table.update("K1", updated_at=T0 + timedelta(seconds=20))
    touched = await _poll_once(catalogued, profile)
    await table.update("K1", version="2", updated_at=T0 + timedelta(seconds=30))
    new_version = await _poll_once(catalogued, profile)
    events = await _events(catalogued)

    assert submitted.published == 1
    assert (accepted.read, accepted.published) == (1, 1)
    assert (touched.read, touched.published, touched.duplicates) == (1, 0, 1)
    assert (new_version.read, new_version.published) == (1, 1)
    assert [event.type for event in events] == [
        "case.submitted",
        "case.accepted",
        "case.accepted",
    ]
    assert len({event.id for event in events}) == 3


# Deleted rows -------------------------------------------------------------------------


async def test_deleted_row_counted_without_event(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    profile = _profile(table, tmp_path, reconcile_interval_s=0.001)
    for number in range(3):
        row = case_row(f"D{number}", "submitted", "2024-03-01 09:00:00")
        await table.insert(f"K{number}", number, T0, row)

    with structlog.testing.capture_logs() as captured:
        running = _Running(catalogued, profile)
        try:
            await _wait_for(
                lambda: running.poller.stats.passes >= 1 and running.tally.published == 3,
                "the first pass and its key reconciliation",
            )
            await table.delete("K1")
            await _wait_for(lambda: running.poller.stats.deleted >= 1, "the deletion to be seen")
        finally:
            await running.stop()
    events = await _events(catalogued)
    deleted = _logged(captured, "source_rows_deleted")

    assert running.poller.stats.deleted == 1
    assert len(deleted) == 1
    assert deleted[0]["count"] == 1
    assert deleted[0]["keys"] == ["K1"]
    assert deleted[0]["log_level"] == "warning"
    assert _local_numbers(events) == ["D0", "D1", "D2"]


# An unreachable table -------------------------------------------------------------------


async def test_unreadable_table_retried_then_resumed(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    profile = _profile(
        table,
        tmp_path,
        overlap=0,
        retry_initial_s=0.05,
        retry_max_s=0.2,
        retry_attempts=500,
    )
    await table.insert("K0", 0, T0, case_row("R0", "submitted", "2024-03-01 09:00:00"))
    away = f"{table.name}_away"

    with structlog.testing.capture_logs() as captured:
        running = _Running(catalogued, profile)
        try:
            await _wait_for(lambda: running.tally.published == 1, "the first row")
            await table.rename(table.name, away)
            await _wait_for(
                lambda: len(_logged(captured, "source_read_failed")) >= 4, "four failed reads"
            )
            for number in (1, 2):
                row = case_row(f"R{number}", "submitted", "2024-03-01 09:00:00")
                await table.insert(
                    f"K{number}", number, T0 + timedelta(seconds=number), row, into=away
                )
            await table.rename(away, table.name)
            await _wait_for(lambda: running.tally.published == 3, "the rows added meanwhile")
        finally:
            await running.stop()
    failures = _logged(captured, "source_read_failed")
    events = await _events(catalogued)

    assert [entry["attempt"] for entry in failures] == list(range(1, len(failures) + 1))
    assert [entry["retry_in_s"] for entry in failures[:4]] == [0.05, 0.1, 0.2, 0.2]
    assert all(entry["retry_in_s"] <= 0.2 for entry in failures)
    assert all(entry["log_level"] == "warning" for entry in failures)
    assert len(_logged(captured, "source_read_recovered")) == 1
    assert running.poller.stats.retries == len(failures)
    assert _local_numbers(events) == ["R0", "R1", "R2"]


# The department's table ---------------------------------------------------------------


async def test_no_lock_held_between_passes(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    """A schema change of the department does not wait for a poller between two passes."""
    profile = _profile(table, tmp_path, interval_s=3600.0)
    await table.insert("K0", 0, T0, case_row("N0", "submitted", "2024-03-01 09:00:00"))
    added = table.quote("note")

    running = _Running(catalogued, profile)
    try:
        await _wait_for(lambda: running.poller.stats.passes == 1, "the first pass")
        # The test connection gives up on a lock after LOCK_WAIT_S, so a
        # poller that kept a transaction open would fail this statement.
        await table.execute(f"ALTER TABLE {table.quote(table.name)} ADD {added} VARCHAR(20)")
    finally:
        await running.stop()

    assert running.tally.published == 1


@pytest.fixture
async def postgres_table() -> AsyncIterator[Table]:
    async for created in open_table("postgresql"):
        yield created


async def test_postgres_session_bounds_queries(postgres_table: Table, tmp_path: Path) -> None:
    """The server ends a poller's query after query_timeout_s, even when the poller died."""
    profile = _profile(postgres_table, tmp_path, query_timeout_s=42)
    assert profile.poll is not None
    reader = open_reader(resolve_connection(profile.path, profile.poll), profile.poll)
    session_settings = Query(
        "SELECT current_setting('statement_timeout') AS statement_timeout, "
        "current_setting('application_name') AS application_name",
        (),
    )

    try:
        rows = await reader.fetch(session_settings)
    finally:
        await reader.reset()

    assert rows == [{"statement_timeout": "42s", "application_name": APPLICATION_NAME}]


async def test_missing_table_fails_at_once(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    """Before the first successful read, waiting cannot fix a table name that is wrong."""
    profile = _profile(table, tmp_path, table=f"{table.name}_missing")

    with (
        structlog.testing.capture_logs() as captured,
        pytest.raises(ConfigError, match=f"cannot read {table.name}_missing"),
    ):
        await _poll_once(catalogued, profile)

    assert _logged(captured, "source_read_failed") == []


# Times without a zone ---------------------------------------------------------------------


async def test_time_without_zone_read_in_profile_zone(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    shanghai = _profile(table, tmp_path)
    await table.insert("K0", 0, T0, case_row("Z0", "submitted", "2024-03-01 09:00:00"))

    await _poll_once(catalogued, shanghai)
    (event,) = await _events(catalogued)

    assert event.occurred_at == datetime(2024, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert event.occurred_at.astimezone(UTC) == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(hours=8)


async def test_time_without_zone_other_zone(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    urumqi = _profile(table, tmp_path, timezone="Asia/Urumqi")
    await table.insert("K0", 0, T0, case_row("Z1", "submitted", "2024-03-01 09:00:00"))

    await _poll_once(catalogued, urumqi)
    (event,) = await _events(catalogued)

    assert event.occurred_at.astimezone(UTC) == datetime(2024, 3, 1, 3, 0, tzinfo=UTC)


# The zwbus poll command ---------------------------------------------------------------------

ZWBUS = Path(sys.executable).parent / "zwbus"


def _command_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("ZWBUS_")}


async def test_poll_command_once_prints_summary(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    profile = table.write_profile(tmp_path / "poll.toml")
    await table.insert("K0", 0, T0, case_row("C0", "submitted", "2024-03-01 09:00:00"))
    bad = case_row("C1", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID)
    await table.insert("K1", 1, T0, bad)
    command = [str(ZWBUS), "--lang", "en", "--nats-url", str(catalogued.nats_url), "poll"]

    as_json = await asyncio.to_thread(
        subprocess.run,
        [*command, str(profile), "--once", "--json"],
        capture_output=True,
        text=True,
        env=_command_environment(),
        timeout=120,
        check=False,
    )
    as_text = await asyncio.to_thread(
        subprocess.run,
        [*command, str(profile), "--once"],
        capture_output=True,
        text=True,
        env=_command_environment(),
        timeout=120,
        check=False,
    )
    document = json.loads(as_json.stdout)

    assert as_json.returncode == 0, as_json.stderr
    assert document["totals"]["read"] == 2
    assert document["totals"]["published"] == 1
    assert document["totals"]["quarantined"] == 1
    assert document["reconciles"]
    assert document["poll"]["passes"] == 1
    assert document["poll"]["read_retries"] == 0
    assert as_text.returncode == 0, as_text.stderr
    assert "Reconciliation: read 2 = published 0 + duplicates 1 + quarantined 1" in as_text.stdout
    assert "Passes: 1;" in as_text.stdout


async def test_poll_command_stops_on_interrupt(
    catalogued: Settings, table: Table, tmp_path: Path
) -> None:
    """Ctrl-C stops the long-running poller with its summary and exit code 130."""
    profile = table.write_profile(tmp_path / "poll.toml", interval_s=0.2)
    await table.insert("K0", 0, T0, case_row("S0", "submitted", "2024-03-01 09:00:00"))
    command = [
        str(ZWBUS),
        "--lang",
        "en",
        "-v",
        "--log-json",
        "--nats-url",
        str(catalogued.nats_url),
        "poll",
        str(profile),
    ]

    returncode, stdout, stderr = await asyncio.to_thread(
        _interrupt_after, command, "poll_pass_finished"
    )

    assert returncode == 130, stderr
    assert "Reconciliation: read 1 = published 1" in stdout
    assert "Interrupted; work acknowledged so far is kept." in stderr


def _interrupt_after(command: list[str], event: str) -> tuple[int, str, str]:
    """Run ``command``, send SIGINT once its JSON logs show ``event``, and return its output."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_command_environment(),
    )
    try:
        assert process.stderr is not None
        logged = []
        for line in process.stderr:
            logged.append(line)
            if line.startswith("{") and json.loads(line).get("event") == event:
                break
        else:
            raise AssertionError(f"the poller ended before logging {event}: {logged}")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, "".join(logged) + stderr


# Sources of other families ------------------------------------------------------


@pytest.fixture(params=["postgresql", "mariadb"])
async def review_table(request: pytest.FixtureRequest) -> AsyncIterator[Table]:
    async for created in open_table(request.param, REVIEW_LAYOUT):
        yield created


async def _reviews(settings: Settings) -> list[Envelope]:
    async with open_bus(settings) as (_client, js):
        return [decode_event(message.data) async for message in read_stream(js, REVIEWS)]


async def _case_codes(settings: Settings) -> dict[str, str]:
    """Map the local number of every case on the bus to its unified code."""
    return {_local_no(event): event.key for event in await _events(settings)}


async def test_review_table_rates_cases_ingested_before(
    catalogued: Settings, review_table: Table, tmp_path: Path
) -> None:
    """Ratings polled from a review table name cases on the bus; an unknown case's rating waits."""
    cases = load_profile(write_profile(tmp_path / "case.toml"))
    known = [case_row(number, "submitted", "2024-03-01 09:00:00") for number in ("C1", "C2")]
    await ingest_files(catalogued, cases, [write_csv(tmp_path / "cases.csv", known)])
    profile_text = REVIEW_PROFILE + review_table.poll_table()
    profile = load_source_profile(write_text(tmp_path / "review.toml", profile_text))
    ratings = [
        review_row("C1", "rated", "2024-03-02 10:00:00"),
        review_row("C2", "rated", "2024-03-02 11:00:00", level="5", channel="2"),
        review_row("C9", "rated", "2024-03-02 12:00:00"),
    ]
    for number, row in enumerate(ratings, start=1):
        await review_table.insert(f"R{number}", number, T0 + timedelta(seconds=number), row)

    tally = await _poll_once(catalogued, profile)
    reviews = await _reviews(catalogued)
    codes = await _case_codes(catalogued)
    async with open_bus(catalogued) as (_client, js):
        stored = await PositionBook(js, REVIEW_SOURCE).get(WATERMARK, Watermark)

    assert isinstance(profile, FamilyProfile)
    assert (tally.read, tally.published, tally.parked, tally.quarantined) == (3, 2, 1, 0)
    assert tally.reconciles
    rated = sorted(
        (event.payload.local_no, event.correlation_id, event.payload.level)
        for event in reviews
        if isinstance(event.payload, ReviewRated)
    )
    assert rated == [("C1", codes["C1"], 1), ("C2", codes["C2"], 5)]
    assert stored is not None
    assert stored.key == "R3"


async def test_review_poll_command_releases_waiting_rating(
    catalogued: Settings, review_table: Table, tmp_path: Path
) -> None:
    """A rating parked by one pass is published once its case arrives, and follow-ups pass."""
    profile_text = REVIEW_PROFILE + review_table.poll_table()
    profile_path = write_text(tmp_path / "review.toml", profile_text)
    await review_table.insert("R1", 1, T0, review_row("C5", "rated", "2024-03-02 10:00:00"))
    first = await _poll_once(catalogued, load_source_profile(profile_path))
    cases = load_profile(write_profile(tmp_path / "case.toml"))
    submitted = [case_row("C5", "submitted", "2024-03-01 09:00:00")]
    await ingest_files(catalogued, cases, [write_csv(tmp_path / "cases.csv", submitted)])
    verified = review_row("C5", "verified", "2024-03-03 09:00:00")
    await review_table.insert("R2", 2, T0 + timedelta(seconds=1), verified)
    command = [str(ZWBUS), "--lang", "en", "--nats-url", str(catalogued.nats_url), "poll"]

    result = await asyncio.to_thread(
        subprocess.run,
        [*command, str(profile_path), "--once", "--json"],
        capture_output=True,
        text=True,
        env=_command_environment(),
        timeout=120,
        check=False,
    )
    document = json.loads(result.stdout)
    types = sorted(event.type for event in await _reviews(catalogued))

    assert first.parked == 1
    assert result.returncode == 0, result.stderr
    # The overlap reads the parked rating's row again; the rating itself was
    # released when the pass opened, so the row is a duplicate.
    assert document["totals"] == {
        "read": 2,
        "published": 1,
        "duplicates": 1,
        "quarantined": 0,
        "parked": 0,
    }
    assert document["released_from_earlier_runs"] == 1
    assert document["poll"]["rows_reread_in_overlap"] == 1
    assert types == ["review.rated", "review.verified"]


async def test_run_starts_review_poller(
    catalogued: Settings, review_table: Table, tmp_path: Path
) -> None:
    """``[run] pollers`` of zwbus.toml may list a review profile; its service polls the table."""
    cases = load_profile(write_profile(tmp_path / "case.toml"))
    submitted = [case_row("C1", "submitted", "2024-03-01 09:00:00")]
    await ingest_files(catalogued, cases, [write_csv(tmp_path / "cases.csv", submitted)])
    write_text(tmp_path / "review.toml", REVIEW_PROFILE + review_table.poll_table())
    await review_table.insert("R1", 1, T0, review_row("C1", "rated", "2024-03-02 10:00:00"))
    tables = ZwbusConfig(run=RunTable(pollers=["review.toml"]))
    config = RunConfig(path=tmp_path / "zwbus.toml", tables=tables)

    (service,) = provide(catalogued, config)
    async with open_bus(catalogued) as (_client, js):
        reviews = await js.pull_subscribe("zw.review.>", stream=REVIEWS)
        task = asyncio.ensure_future(service.run())
        try:
            (message,) = await reviews.fetch(1, timeout=WAIT_S)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    event = decode_event(message.data)

    assert (service.kind, service.name) == ("poller", REVIEW_SOURCE)
    assert event.type == "review.rated"
    assert event.source.adapter == REVIEW_SOURCE
