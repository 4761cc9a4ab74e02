"""Set-aside messages: one bad message holds back its own key only, and retry applies it later."""

from __future__ import annotations

import json
from collections.abc import Iterator

import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from structlog.testing import capture_logs

from bus.settings import Settings
from contracts.envelope import UPCASTERS, Envelope, encode_event
from contracts.subjects import entity_subject
from projections.api import run_cases_projection
from projections.cases import CasesProjection
from projections.operations import handle_set_aside, projection_status
from tests.projections.helpers import (
    at,
    case_event,
    consumer_lag,
    fetch_rows,
    publish,
    publish_raw,
    run_zwbus,
    scalar,
    stream_last_seq,
)

Bus = tuple[Client, JetStreamContext]
SUBJECT_X = entity_subject("case", "511602", "X")


def old_version_bytes(event: Envelope) -> bytes:
    """Encode an event as schema version 0, which this release has no upcaster for."""
    document = json.loads(encode_event(event))
    document["version"] = 0
    return json.dumps(document).encode()


@pytest.fixture
def accepted_v0_upcaster() -> Iterator[None]:
    """Stand-in for a newer release: it reads case.accepted version 0 through an upcaster."""
    UPCASTERS[("case.accepted", 0)] = lambda document: {**document, "version": 1}
    try:
        yield
    finally:
        del UPCASTERS[("case.accepted", 0)]


async def status_of(settings: Settings, code: str) -> list[dict[str, object]]:
    return await fetch_rows(settings, "SELECT status, events FROM cases WHERE code = ?", code)


async def test_undecodable_message_blocks_own_key(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await publish(client, [case_event("submitted", "X", at("2026-10-12", "09:00"))])
    garbage_seq = await publish_raw(js, SUBJECT_X, b"\x00\x01 not an event", "garbage-1")
    await publish(
        client,
        [
            case_event("accepted", "X", at("2026-10-12", "10:00")),
            case_event("submitted", "Y", at("2026-10-12", "09:00")),
            case_event("accepted", "Y", at("2026-10-12", "10:00")),
            case_event("concluded", "X", at("2026-10-13", "10:00")),
        ],
    )

    with capture_logs() as logs:
        summary = await run_cases_projection(settings, until_caught_up=True)

    assert summary.applied == 3
    assert summary.set_aside == 3
    assert summary.stored_sequence == await stream_last_seq(js)
    assert await consumer_lag(js) == (0, 0)
    assert await status_of(settings, "X") == [{"status": "submitted", "events": 1}]
    assert await status_of(settings, "Y") == [{"status": "accepted", "events": 2}]
    rows = await fetch_rows(
        settings, "SELECT seq, entity_key, kind, blocked_by FROM set_aside ORDER BY seq"
    )
    assert rows == [
        {"seq": 2, "entity_key": "X", "kind": "undecodable", "blocked_by": None},
        {"seq": 3, "entity_key": "X", "kind": "waiting", "blocked_by": garbage_seq},
        {"seq": 6, "entity_key": "X", "kind": "waiting", "blocked_by": garbage_seq},
    ]
    set_aside_logs = [entry for entry in logs if entry["event"] == "projection_message_set_aside"]
    assert [entry["seq"] for entry in set_aside_logs] == [2, 3, 6]
    assert set_aside_logs[0]["subject"] == SUBJECT_X
    assert set_aside_logs[0]["kind"] == "undecodable"


async def test_blocked_key_stays_blocked_next_run(bus: Bus, settings: Settings) -> None:
    client, js = bus
    await publish_raw(js, SUBJECT_X, b"{}", "garbage-2")
    await run_cases_projection(settings, until_caught_up=True)

    await publish(client, [case_event("submitted", "X", at("2026-10-12", "09:00"))])
    summary = await run_cases_projection(settings, until_caught_up=True)

    assert summary.applied == 0
    assert summary.set_aside == 1
    assert await status_of(settings, "X") == []
    status = await projection_status(CasesProjection.for_data_dir(settings.data_dir), settings)
    assert status.set_aside == 2
    assert status.lag == 0
    assert status.consumer_pending == 0
    assert status.consumer_ack_pending == 0


async def test_retry_applies_after_upcaster_added(
    bus: Bus, settings: Settings, request: pytest.FixtureRequest
) -> None:
    client, js = bus
    submitted = case_event("submitted", "X", at("2026-10-12", "09:00"))
    accepted = case_event("accepted", "X", at("2026-10-12", "10:00"), promised_days=1)
    concluded = case_event("concluded", "X", at("2026-10-13", "10:00"))
    await publish(client, [submitted])
    await publish_raw(js, SUBJECT_X, old_version_bytes(accepted), accepted.id)
    await publish(client, [concluded])
    await run_cases_projection(settings, until_caught_up=True)
    projection = CasesProjection.for_data_dir(settings.data_dir)

    still_unknown = await handle_set_aside(projection, settings, retry=True)
    request.getfixturevalue("accepted_v0_upcaster")
    fixed = await handle_set_aside(projection, settings, retry=True)

    assert still_unknown.retry is not None
    assert still_unknown.retry.resolved == 0
    assert still_unknown.total == 2
    assert "no upcaster from case.accepted version 0" in still_unknown.entries[0].reason
    assert fixed.retry is not None
    assert fixed.retry.resolved == 2
    assert fixed.retry.applied == 2
    assert fixed.total == 0
    rows = await fetch_rows(settings, "SELECT status, accepted_at, due_date, events FROM cases")
    assert rows == [
        {
            "status": "concluded",
            "accepted_at": "2026-10-12T10:00:00.000000+08:00",
            "due_date": "2026-10-13",
            "events": 3,
        }
    ]
    assert await scalar(settings, "SELECT COUNT(*) FROM set_aside") == 0


async def test_discard_lets_waiting_messages_through(bus: Bus, settings: Settings) -> None:
    client, js = bus
    garbage_seq = await publish_raw(js, SUBJECT_X, b"not json", "garbage-3")
    await publish(
        client,
        [
            case_event("submitted", "X", at("2026-10-12", "09:00")),
            case_event("accepted", "X", at("2026-10-12", "10:00")),
        ],
    )
    await run_cases_projection(settings, until_caught_up=True)
    projection = CasesProjection.for_data_dir(settings.data_dir)

    report = await handle_set_aside(projection, settings, discard=[garbage_seq, 999])

    assert report.discarded == [garbage_seq]
    assert report.missing == [999]
    assert report.retry is not None
    assert report.retry.applied == 2
    assert report.total == 0
    assert await status_of(settings, "X") == [{"status": "accepted", "events": 2}]


async def test_contract_violation_is_set_aside(bus: Bus, settings: Settings) -> None:
    client, js = bus
    wrong_key = case_event("submitted", "REAL", at("2026-10-12", "09:00"))
    await publish_raw(js, SUBJECT_X, encode_event(wrong_key), wrong_key.id)
    await publish(client, [case_event("submitted", "X", at("2026-10-12", "09:00"))])

    summary = await run_cases_projection(settings, until_caught_up=True)

    assert summary.set_aside == 2
    rows = await fetch_rows(settings, "SELECT kind, reason FROM set_aside ORDER BY seq")
    assert rows[0]["kind"] == "rejected"
    assert "does not carry the envelope key 'REAL'" in str(rows[0]["reason"])
    assert rows[1]["kind"] == "waiting"


def test_cli_lists_set_aside_messages(settings: Settings) -> None:
    import asyncio

    from bus.connect import open_bus
    from bus.streams import ensure_streams

    async def prepare() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish_raw(js, SUBJECT_X, b"not json", "garbage-4")
            await publish(client, [case_event("submitted", "X", at("2026-10-12", "09:00"))])
        await run_cases_projection(settings, until_caught_up=True)

    asyncio.run(prepare())

    table = run_zwbus(settings, "projections", "set-aside", "cases")
    as_json = run_zwbus(settings, "projections", "set-aside", "--json")
    retried = run_zwbus(settings, "projections", "set-aside", "--retry")

    assert table.returncode == 0, table.stderr
    assert "Cannot be decoded" in table.stdout
    assert "Waits behind set-aside message 1." in table.stdout
    report = msgspec.json.decode(as_json.stdout)
    assert report["total"] == 2
    assert [entry["seq"] for entry in report["entries"]] == [1, 2]
    assert "data" not in report["entries"][0]
    assert retried.returncode == 0, retried.stderr
    assert "Retry: 0 resolved (0 applied, 0 duplicates), 2 still set aside." in retried.stdout
