"""Point-in-time builds equal the projection of a stream cut at that moment."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from nats.js import JetStreamContext

from bus import server
from bus.connect import open_bus
from bus.errors import ConfigError
from bus.settings import Settings
from bus.streams import CASES, ensure_streams
from contracts.envelope import Envelope
from projections.cases import CasesProjection
from projections.runtime import ProjectionRunner
from replay.asof import OutputExistsError, build_as_of
from replay.reader import ReplayWindow
from tests.projections.helpers import at, case_event, publish, publish_raw
from tests.replay import CITY_REGION, Bus, flow, many_submissions, stream_moment

TABLE_QUERIES = {
    "cases": "SELECT * FROM cases ORDER BY code",
    "case_events": "SELECT * FROM case_events ORDER BY event_id",
    "set_aside": "SELECT seq, subject, entity_key, kind, reason, blocked_by, data "
    "FROM set_aside ORDER BY seq",
    "checkpoint": "SELECT projection, stream, seq FROM checkpoint",
}
"""Everything a projection store holds, without the wall-clock times of its bookkeeping."""


class History:
    """Events before and after the cut; the part before includes messages the model sets aside."""

    def __init__(self) -> None:
        self.before: list[Envelope] = [*flow("C1"), *flow("C2", region=CITY_REGION)[:2]]
        self.rejected = case_event("accepted", "C4", at("2026-10-12"), promised_days=99_999)
        self.waiting = case_event("concluded", "C4", at("2026-10-13"))
        self.after: list[Envelope] = [
            case_event("concluded", "C2", at("2026-10-14"), region=CITY_REGION),
            *flow("C5", day="2026-10-15"),
        ]

    async def publish_before(self, js_client: Any, js: JetStreamContext) -> None:
        await publish(js_client, self.before)
        await publish_raw(js, "zw.case.51.16.02.C3", b"{broken", "raw-C3")
        await publish(js_client, [self.rejected, self.waiting])

    async def publish_after(self, js_client: Any) -> None:
        await publish(js_client, self.after)


def _leftovers(folder: Path) -> list[str]:
    """Return the SQLite files in ``folder``, temporary and journal files included."""
    return sorted(path.name for path in folder.iterdir() if ".sqlite" in path.name)


async def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    async with aiosqlite.connect(path) as connection:
        tables = {}
        for name, query in TABLE_QUERIES.items():
            async with connection.execute(query) as cursor:
                tables[name] = [tuple(row) async for row in cursor]
        return tables


async def _project_cut_stream(history: History, settings: Settings, folder: Path) -> Path:
    """Publish only the part before the cut to a second server and run the projection there."""
    info = server.start(folder, port=server.free_port())
    try:
        cut = Settings(nats_url=info.url, data_dir=settings.data_dir, lang="en")
        async with open_bus(cut) as (client, js):
            await ensure_streams(js)
            await history.publish_before(client, js)
        projection = CasesProjection.for_data_dir(settings.data_dir)
        await ProjectionRunner(projection, cut).run(until_caught_up=True)
        return projection.store_file(settings.data_dir)
    finally:
        server.stop(folder)


async def test_as_of_equals_cut_stream(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, js = bus
    history = History()
    await history.publish_before(client, js)
    moment = await stream_moment()
    await history.publish_after(client)
    out = tmp_path / "as-of.sqlite"

    result = await build_as_of(
        js,
        CasesProjection.for_data_dir(settings.data_dir),
        settings,
        out,
        ReplayWindow(until=moment),
    )
    reference = await _project_cut_stream(history, settings, tmp_path / "cut-server")

    built, expected = await _tables(out), await _tables(reference)
    assert result.last_seq == 8
    assert result.read == 8
    assert result.applied == 5
    assert result.set_aside == 3
    for name in TABLE_QUERIES:
        assert built[name] == expected[name], name
    assert len(built["cases"]) == 2
    assert [row[3] for row in built["set_aside"]] == ["undecodable", "rejected", "waiting"]
    assert _leftovers(tmp_path) == ["as-of.sqlite"]


async def test_as_of_by_sequence(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, js = bus
    await publish(client, [*flow("C1"), *flow("C2")])
    out = tmp_path / "seq.sqlite"

    result = await build_as_of(
        js, CasesProjection.for_data_dir(settings.data_dir), settings, out,
        ReplayWindow(to_seq=4),
    )

    tables = await _tables(out)
    assert result.last_seq == 4
    assert [row[0] for row in tables["cases"]] == ["C1", "C2"]
    assert tables["checkpoint"] == [("cases", CASES, 4)]


async def test_as_of_refuses_existing_file(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    _client, js = bus
    out = tmp_path / "taken.sqlite"
    out.write_bytes(b"keep me")
    projection = CasesProjection.for_data_dir(settings.data_dir)

    with pytest.raises(OutputExistsError, match="add --force"):
        await build_as_of(js, projection, settings, out, ReplayWindow(to_seq=1))
    await build_as_of(js, projection, settings, out, ReplayWindow(to_seq=1), overwrite=True)

    assert (await _tables(out))["cases"] == []


@pytest.mark.parametrize(
    "window",
    [ReplayWindow(), ReplayWindow(from_seq=2, to_seq=5)],
)
async def test_as_of_needs_point_in_time(
    bus: Bus, settings: Settings, tmp_path: Path, window: ReplayWindow
) -> None:
    _client, js = bus

    with pytest.raises(ConfigError):
        await build_as_of(
            js, CasesProjection.for_data_dir(settings.data_dir), settings,
            tmp_path / "x.sqlite", window,
        )


async def test_cancelled_build_leaves_nothing(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, js = bus
    await publish(client, many_submissions(1000))
    out = tmp_path / "cancelled.sqlite"
    first_batch = asyncio.Event()

    class Signal:
        def started(self, first_seq: int, last_seq: int) -> None:
            pass

        def advanced(self, seq: int, events: int) -> None:
            first_batch.set()

    task = asyncio.create_task(build_as_of(
        js, CasesProjection.for_data_dir(settings.data_dir), settings, out,
        ReplayWindow(to_seq=1000), progress=Signal(), batch_size=100,
    ))
    await asyncio.wait_for(first_batch.wait(), timeout=10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert (await js.stream_info(CASES)).state.consumer_count == 0
    assert _leftovers(tmp_path) == []
