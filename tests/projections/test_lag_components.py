"""``zwbus lag`` lists the heartbeats of the live adapters and sinks, sent by the real components.

The HTTP gateway, a table poller and a return-flow sink run against the
test's nats-server. A process that dies without a last heartbeat stands for
a silent component.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.family_profile import load_source_profile
from adapters.gateway.config import load_gateway_config
from adapters.gateway.service import serve_gateway
from adapters.items import import_catalogue
from adapters.sdk import run_source
from adapters.sinks.config import load_sinks_config
from adapters.sinks.runner import run_sinks
from adapters.sql.poller import TablePoller
from bus.settings import Settings
from bus.streams import CASES, REVIEWS
from projections.lag import gather
from tests.adapters.databases import REVIEW_LAYOUT, Table, open_table
from tests.adapters.family_helpers import REVIEW_PROFILE, REVIEW_SOURCE, review_row, write_text
from tests.adapters.helpers import write_item_catalogue
from tests.projections.helpers import (
    DEADLINE_S,
    at,
    case_event,
    command_env,
    publish,
    run_zwbus,
)

Bus = tuple[Client, JetStreamContext]
TOKEN = "token-of-the-review-system"


def lag_document(settings: Settings) -> dict[str, Any]:
    result = run_zwbus(settings, "lag", "--json", "--sample-seconds", "0.2")
    assert result.stdout, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def listed(document: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    matches = [
        item for item in document["adapters"] if item["kind"] == kind and item["name"] == name
    ]
    assert len(matches) == 1, document["adapters"]
    return matches[0]


# --- the gateway ------------------------------------------------------------------


def _gateway_config(folder: Path) -> Path:
    write_text(folder / "review.toml", REVIEW_PROFILE)
    path = folder / "zwbus.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [gateway]
            host = "127.0.0.1"
            port = 0
            batch_wait_ms = 5

            [[gateway.clients]]
            id = "hcp"
            token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
            regions = ["5116"]
            profiles = {{ review = "review.toml" }}
            """
        ),
        encoding="utf-8",
    )
    return path


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, folder: Path) -> AsyncIterator[str]:
    """Run a gateway whose sender hcp sends reviews; yield its URL, then stop it."""
    await import_catalogue(settings, write_item_catalogue(folder / "items.json"))
    config = load_gateway_config(_gateway_config(folder))
    bound: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_gateway(settings, config, ready=lambda host, port: bound.set_result((host, port)))
    )
    try:
        host, port = await asyncio.wait_for(asyncio.shield(bound), DEADLINE_S)
        yield f"http://{host}:{port}"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _send_rating(url: str, local_no: str) -> dict[str, Any]:
    rating = review_row(local_no, "rated", "2024-03-02 10:00:00")
    headers = {"X-Zw-Client": "hcp", "Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/v1/records/review", json=rating, headers=headers) as response,
    ):
        answer: dict[str, Any] = await response.json()
        return answer


async def test_gateway_heartbeat_listed_per_sender_and_family(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    async with running_gateway(settings, tmp_path) as url:
        answer = await _send_rating(url, "LG1")
        running = await asyncio.to_thread(lag_document, settings)
        table = await asyncio.to_thread(run_zwbus, settings, "lag", "--sample-seconds", "0.2")

    assert answer["totals"] == {"parked": 1}
    gateway = listed(running, "adapter", "gateway-hcp-review")
    assert gateway["stream"] == REVIEWS
    assert gateway["state"] == "running"
    assert gateway["heartbeat"]["fresh"] is True
    assert "gateway-hcp-review" in table.stdout
    assert "Adapters and sinks" in table.stdout


async def test_stopped_gateway_keeps_counters_and_last_record(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    """The gateway's last heartbeat, sent as it stops, carries what it handled."""
    before = datetime.now(UTC)
    async with running_gateway(settings, tmp_path) as url:
        answer = await _send_rating(url, "LG2")

    document = await asyncio.to_thread(lag_document, settings)
    gateway = listed(document, "adapter", "gateway-hcp-review")

    assert answer["totals"] == {"parked": 1}
    assert gateway["state"] == "stopped"
    assert gateway["heartbeat"]["counters"] == {
        "read": 1,
        "published": 0,
        "duplicates": 0,
        "quarantined": 0,
        "parked": 1,
    }
    assert datetime.fromisoformat(gateway["last_record_at"]) >= before


# --- a table poller ---------------------------------------------------------------


@pytest.fixture
async def review_table() -> AsyncIterator[Table]:
    async for created in open_table("postgresql", REVIEW_LAYOUT):
        yield created


async def test_poller_heartbeat_listed(
    settings: Settings, review_table: Table, tmp_path: Path
) -> None:
    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    profile_text = REVIEW_PROFILE + review_table.poll_table()
    profile = load_source_profile(write_text(tmp_path / "review.toml", profile_text))
    moment = datetime(2024, 3, 2, 12, 0, 0)
    await review_table.insert("R1", 1, moment, review_row("LP1", "rated", "2024-03-02 10:00:00"))
    before = datetime.now(UTC)

    tally = await run_source(settings, TablePoller(profile, once=True))
    document = await asyncio.to_thread(lag_document, settings)
    poller = listed(document, "adapter", REVIEW_SOURCE)

    assert tally.parked == 1
    assert poller["stream"] == REVIEWS
    assert poller["state"] == "stopped"
    assert poller["heartbeat"]["counters"]["read"] == 1
    assert poller["heartbeat"]["counters"]["parked"] == 1
    assert datetime.fromisoformat(poller["last_record_at"]) >= before


# --- a return-flow sink -----------------------------------------------------------


async def test_sink_heartbeat_listed(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, _js = bus
    await publish(client, [case_event("submitted", "LS1", at("2026-10-12"))])
    path = tmp_path / "sinks.toml"
    path.write_text(
        '[[sink]]\nid = "county-archive"\ntarget = "file"\ndirectory = "return"\n'
        '[sink.filter]\nfamilies = ["case"]\n',
        encoding="utf-8",
    )

    (summary,) = await asyncio.wait_for(
        run_sinks(settings, load_sinks_config(path), asyncio.Event(), until_caught_up=True),
        DEADLINE_S,
    )
    document = await asyncio.to_thread(lag_document, settings)
    table = await asyncio.to_thread(run_zwbus, settings, "lag", "--sample-seconds", "0.2")
    sink = listed(document, "sink", "county-archive")

    assert summary.delivered == 1
    assert sink["stream"] == CASES
    assert sink["state"] == "stopped"
    assert sink["heartbeat"]["counters"]["delivered"] == 1
    assert sink["heartbeat"]["counters"]["dead_letters"] == 0
    assert sink["last_record_at"] is not None
    # The consumers table lists the sink's consumer sink_county-archive_case too.
    (row,) = [line for line in table.stdout.splitlines() if "│ county-archive " in line]
    assert "│ sink " in row
    assert "delivered=1" in row


# --- a silent component -----------------------------------------------------------

_BEATING = """
import asyncio, sys
from bus.connect import open_bus
from bus.heartbeat import Heartbeat
from bus.settings import Settings

async def main() -> None:
    settings = Settings(nats_url=sys.argv[1], data_dir=sys.argv[2])
    async with open_bus(settings) as (client, _js):
        async with Heartbeat(client, "sink", "city-5116", interval_s=0.2) as beat:
            beat.update(delivered=7)
            await beat.beat()
            print("beating", flush=True)
            await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_killed_sink_shows_heartbeat_missing(bus: Bus, settings: Settings) -> None:
    """A sink process killed without its last heartbeat turns stale after three intervals."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _BEATING, str(settings.nats_url), str(settings.data_dir),
        env=command_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        # The process logs to standard output too; its last line before the wait is ours.
        async with asyncio.timeout(DEADLINE_S):
            while (line := await process.stdout.readline()) not in {b"beating\n", b""}:
                pass
        assert line == b"beating\n", "the heartbeat process ended early"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async with asyncio.timeout(DEADLINE_S):
        # Staleness is a matter of the clock: three intervals without a beat.
        while True:
            report, _snapshot = await gather(bus[0], settings.data_dir, sample_s=0.1)
            (sink,) = report.adapters
            if sink.state != "running":
                break
    table = await asyncio.to_thread(run_zwbus, settings, "lag", "--sample-seconds", "0.2")

    assert (sink.kind, sink.name, sink.state) == ("sink", "city-5116", "stale")
    assert sink.heartbeat.fresh is False
    assert sink.heartbeat.counters == {"delivered": 7}
    assert "city-5116" in table.stdout
    assert "heartbeat missing" in table.stdout
