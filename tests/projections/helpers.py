"""Building, publishing and reading back events for the projection tests, and running them."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import aiosqlite
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.connect import open_bus
from bus.publisher import Publisher
from bus.settings import Settings
from bus.streams import CASES, ensure_streams
from contracts.case import CASE_PAYLOADS, CasePayload
from contracts.envelope import Envelope, Source, encode_event, make_envelope
from contracts.identifiers import id_card_check_char
from contracts.ids import new_event_id
from contracts.subjects import entity_subject
from projections.checkpoint_store import store_path

CHINA = timezone(timedelta(hours=8))
REGION = "511602"
DEPARTMENT = "11511602MB1234567X"
ITEM_CODE = "511A0138000000-511602000000-000-115113010833722043-1-00"
APPLICANT_ID = "51160219900101123" + id_card_check_char("51160219900101123")
ZWBUS = Path(sys.executable).parent / "zwbus"
DEADLINE_S = 60.0

_PAYLOADS = {str(cls.__struct_config__.tag).removeprefix("case."): cls for cls in CASE_PAYLOADS}


def at(day: str, clock: str = "09:00") -> datetime:
    """Return a China Standard Time moment: ``at("2026-09-30", "10:15")``."""
    return datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=CHINA)


def case_event(
    kind: str,
    code: str,
    occurred_at: datetime,
    *,
    event_id: str | None = None,
    region: str = REGION,
    system: str = "GA-SPXT",
    local_no: str | None = None,
    **fields: Any,
) -> Envelope:
    """Build a case event of ``kind`` (``submitted``, ``accepted`` …) with test defaults."""
    payload_fields: dict[str, Any] = {"local_no": local_no or f"L-{code}", "system": system}
    if kind == "submitted":
        payload_fields |= {
            "item_code": ITEM_CODE,
            "item_name": "户口迁移",
            "applicant_name": "张三",
            "applicant_id_type": "id_card",
            "applicant_id": APPLICANT_ID,
            "phone": "13812345678",
            "department_name": "广安区公安分局",
        }
    if kind == "concluded":
        payload_fields["result"] = "approved"
    payload_fields |= fields
    payload = cast(CasePayload, _PAYLOADS[kind](**payload_fields))
    return make_envelope(
        payload,
        id=event_id or new_event_id(),
        occurred_at=occurred_at,
        recorded_at=occurred_at + timedelta(minutes=5),
        source=Source(adapter="test", system=system),
        region=region,
        department=DEPARTMENT,
        key=code,
        correlation_id=code,
    )


def subject_of(event: Envelope) -> str:
    """Return the subject a case, review or sharing event is published on.

    The family token is the event type's prefix (``case``, ``review``,
    ``share``); hall events carry the hall code and use ``publish_hall``.
    """
    family = event.type.partition(".")[0]
    return entity_subject(family, event.region, event.key)


async def publish(
    client: Client, events: Iterable[Envelope], *, msg_ids: Sequence[str] | None = None
) -> list[int]:
    """Publish events with ``Nats-Msg-Id`` set to the event id (or ``msg_ids``); return seqs."""
    items = list(events)
    async with Publisher(client) as publisher:
        futures = []
        for index, event in enumerate(items):
            msg_id = msg_ids[index] if msg_ids is not None else event.id
            futures.append(
                await publisher.publish(
                    subject_of(event), encode_event(event), {"Nats-Msg-Id": msg_id}
                )
            )
        acks = [await future for future in futures]
    for ack in acks:
        assert ack.ok, ack.error
    return [ack.seq for ack in acks]


async def publish_raw(js: JetStreamContext, subject: str, data: bytes, msg_id: str) -> int:
    """Publish bytes that need not be an event; return the stream sequence."""
    ack = await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
    return int(ack.seq)


async def consumer_lag(js: JetStreamContext, projection: str = "cases") -> tuple[int, int]:
    """Return the projection consumer's (num_pending, num_ack_pending)."""
    info = await js.consumer_info(CASES, f"proj_{projection}")
    return int(info.num_pending or 0), int(info.num_ack_pending or 0)


async def stream_last_seq(js: JetStreamContext) -> int:
    """Return the last sequence of ZW_CASES."""
    info = await js.stream_info(CASES)
    return int(info.state.last_seq)


async def fetch_rows(settings: Settings, sql: str, *parameters: object) -> list[dict[str, Any]]:
    """Run a query on the case store and return plain dictionaries."""
    path = store_path(settings.data_dir, "cases")
    async with aiosqlite.connect(path) as connection:
        connection.row_factory = aiosqlite.Row
        async with connection.execute(sql, parameters) as cursor:
            return [dict(row) async for row in cursor]


async def scalar(settings: Settings, sql: str, *parameters: object) -> Any:
    """Run a query that returns one value."""
    rows = await fetch_rows(settings, sql, *parameters)
    return next(iter(rows[0].values()))


def zwbus_command(settings: Settings, *arguments: str) -> list[str]:
    """Return the argument list of a ``zwbus`` run against the test server and folder."""
    assert settings.nats_url is not None
    return [
        str(ZWBUS),
        "--lang",
        "en",
        "--nats-url",
        settings.nats_url,
        "--data-dir",
        str(settings.data_dir),
        *arguments,
    ]


def command_env(**extra: str) -> dict[str, str]:
    """Return the environment of a ``zwbus`` subprocess, without a fault unless given."""
    env = {key: value for key, value in os.environ.items() if key != "ZWBUS_FAULT"}
    # rich folds table cells to the terminal width, 80 columns without a terminal.
    env["COLUMNS"] = "240"
    env |= extra
    return env


def run_zwbus(
    settings: Settings, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``zwbus`` to completion (at most ``DEADLINE_S``) and capture its output."""
    return subprocess.run(
        zwbus_command(settings, *arguments),
        env=env if env is not None else command_env(),
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def wait_for(condition: Callable[[], bool], timeout_s: float = DEADLINE_S) -> bool:
    """Poll ``condition`` every 20 ms until it is true or ``timeout_s`` passes; return it."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


KILLED_EXIT = 137
"""Exit status of a ``zwbus`` process that a fault point ended with SIGKILL."""


def stored_sequence(settings: Settings, projection: str = "cases") -> int:
    """Read a projection's checkpoint from outside its process; 0 before the first commit."""
    path = store_path(settings.data_dir, projection)
    if not path.is_file():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as connection:
            row = connection.execute("SELECT seq FROM checkpoint").fetchone()
    except sqlite3.OperationalError:
        return 0
    return 0 if row is None else int(row[0])


async def publish_while_following(
    settings: Settings,
    projection: str,
    rng: random.Random,
    chunks: list[list[Envelope]],
    resent: list[Envelope],
    stderr_path: Path,
) -> int:
    """Publish while a follow-mode projection runs, kill it with SIGKILL; return its exit code.

    The kill comes at a random moment within 0.4 s of the first commit.
    After it, ``resent`` goes out again under new message ids, as re-sends do.
    """
    async with open_bus(settings) as (client, js):
        await ensure_streams(js)
        await publish(client, chunks[0])
        with stderr_path.open("w") as stderr:
            process = await asyncio.create_subprocess_exec(
                *zwbus_command(settings, "projections", "run", projection),
                env=command_env(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            await asyncio.to_thread(wait_for, lambda: stored_sequence(settings, projection) > 0)
            kill_at = time.monotonic() + rng.uniform(0.0, 0.4)
            killed = False
            for chunk in chunks[1:]:
                await publish(client, chunk)
                if not killed and time.monotonic() >= kill_at:
                    os.kill(process.pid, signal.SIGKILL)
                    killed = True
            if not killed:
                os.kill(process.pid, signal.SIGKILL)
            await publish(client, resent, msg_ids=[f"{event.id}-resent" for event in resent])
            return await asyncio.wait_for(process.wait(), DEADLINE_S)
        finally:
            if process.returncode is None:
                process.kill()
                await asyncio.wait_for(process.wait(), DEADLINE_S)
