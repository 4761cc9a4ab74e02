"""Write-side case state: compare-and-set writes that merge concurrent writers."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.ingest.state import CaseState, CaseStates
from bus.publisher import Publisher
from bus.streams import CASE_STATE

Bus = tuple[Client, JetStreamContext]
CODE = "511602202606010000017"


async def _stored(js: JetStreamContext) -> CaseState:
    entry = await (await js.key_value(CASE_STATE)).get(CODE)
    return msgspec.json.decode(entry.value or b"", type=CaseState)


async def test_concurrent_writers_merge(bus: Bus) -> None:
    client, js = bus
    async with Publisher(client) as publisher:
        first = CaseStates(js, publisher)
        second = CaseStates(js, publisher)
        await first.load([CODE])
        await second.load([CODE])

        first.add(CODE, "case.submitted", datetime(2026, 6, 1, 1, tzinfo=UTC))
        first.stored(CODE, "a" * 32, 1)
        await first.flush()
        second.add(CODE, "case.withdrawn", datetime(2026, 6, 2, 1, tzinfo=UTC))
        second.stored(CODE, "b" * 32, 2)
        await second.flush()

    stored = await _stored(js)

    assert stored.events == {"a" * 32: 1, "b" * 32: 2}
    assert stored.types == {"case.submitted", "case.withdrawn"}
    assert stored.closed_at == datetime(2026, 6, 2, 1, tzinfo=UTC)


async def test_earliest_close_wins_on_merge(bus: Bus) -> None:
    client, js = bus
    async with Publisher(client) as publisher:
        first = CaseStates(js, publisher)
        second = CaseStates(js, publisher)
        await first.load([CODE])
        await second.load([CODE])

        first.add(CODE, "case.withdrawn", datetime(2026, 6, 3, tzinfo=UTC))
        await first.flush()
        second.add(CODE, "case.not_accepted", datetime(2026, 6, 2, tzinfo=UTC))
        await second.flush()

    assert (await _stored(js)).closed_at == datetime(2026, 6, 2, tzinfo=UTC)


async def test_reload_sees_flushed_state(bus: Bus) -> None:
    client, js = bus
    async with Publisher(client) as publisher:
        writer = CaseStates(js, publisher)
        await writer.load([CODE])
        writer.stored(CODE, "c" * 32, 7)
        await writer.flush()
        reader = CaseStates(js, publisher)
        await reader.load([CODE])

        assert reader.state(CODE).events == {"c" * 32: 7}
