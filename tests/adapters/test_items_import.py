"""Tests of the item catalogue (事项库) import against a real nats-server."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.catalogue import load_catalogue
from adapters.items import DEFAULT_SOURCE_ID, import_catalogue, read_catalogue
from adapters.quarantine_view import fold_quarantine
from bus.errors import ConfigError
from bus.reader import read_stream
from bus.settings import Settings
from bus.streams import ITEMS, QUARANTINE
from contracts.envelope import decode_event
from contracts.item import ItemPublished
from tests.adapters.helpers import (
    ITEM_CODE,
    real_catalogue,
    write_item_catalogue,
)

Bus = tuple[Client, JetStreamContext]
CATALOGUE_ENTRIES = 1135
GOOD_ENTRIES = 815
BAD_ENTRIES = 320


async def _count(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


@pytest.fixture
def catalogue_file() -> Path:
    path = real_catalogue()
    if not path.is_file():
        pytest.skip(f"the real catalogue {path} is not in this checkout")
    return path


def test_read_catalogue_yields_every_entry(catalogue_file: Path) -> None:
    entries = list(read_catalogue(catalogue_file))
    known = [entry for entry in entries if entry.item_code == ITEM_CODE]

    assert len(entries) == CATALOGUE_ENTRIES
    assert [entry.position for entry in entries] == list(range(1, CATALOGUE_ENTRIES + 1))
    assert len(known) == 1
    assert known[0].area_code == "511602000000"
    assert known[0].department_code == "083372204"
    assert known[0].item_type == "1"


async def test_real_catalogue_import_counts(
    settings: Settings, catalogue_file: Path, bus: Bus
) -> None:
    _client, js = bus

    tally = await import_catalogue(settings, catalogue_file)
    entries = await fold_quarantine(js, source_id=DEFAULT_SOURCE_ID)
    catalogue = await load_catalogue(js)

    assert tally.read == CATALOGUE_ENTRIES
    assert tally.published == GOOD_ENTRIES
    assert tally.quarantined == BAD_ENTRIES
    assert tally.duplicates == 0
    assert tally.reconciles
    assert tally.reasons == Counter({"department_code_invalid": 317, "item_code_invalid": 3})
    assert await _count(js, ITEMS) == GOOD_ENTRIES
    assert len(entries) == BAD_ENTRIES
    assert all(state.is_open for state in entries.values())
    assert {state.entry.family for state in entries.values()} == {"item"}
    assert len(catalogue) == GOOD_ENTRIES
    assert ITEM_CODE in catalogue


async def test_quarantined_items_name_field(
    settings: Settings, catalogue_file: Path, bus: Bus
) -> None:
    _client, js = bus

    await import_catalogue(settings, catalogue_file)
    entries = await fold_quarantine(js, source_id=DEFAULT_SOURCE_ID)
    fields = Counter(
        (reason.code, reason.field) for state in entries.values() for reason in state.entry.reasons
    )

    assert set(fields) <= {
        ("department_code_invalid", "deptCode"),
        ("department_code_invalid", "itemCode"),
        ("item_code_invalid", "itemCode"),
    }
    assert fields[("item_code_invalid", "itemCode")] == 3
    assert all(state.entry.original.startswith("{") for state in entries.values())


async def test_second_import_publishes_nothing(
    settings: Settings, catalogue_file: Path, bus: Bus
) -> None:
    _client, js = bus
    await import_catalogue(settings, catalogue_file)
    quarantine_before = await _count(js, QUARANTINE)

    again = await import_catalogue(settings, catalogue_file)

    assert again.read == CATALOGUE_ENTRIES
    assert again.published == 0
    assert again.duplicates == GOOD_ENTRIES
    assert again.quarantined == BAD_ENTRIES
    assert again.resolved == 0
    assert await _count(js, ITEMS) == GOOD_ENTRIES
    assert await _count(js, QUARANTINE) == quarantine_before


async def test_item_event_carries_code_parts(settings: Settings, tmp_path: Path, bus: Bus) -> None:
    _client, js = bus

    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    (message,) = [message async for message in read_stream(js, ITEMS)]
    event = decode_event(message.data)

    assert isinstance(event.payload, ItemPublished)
    assert event.payload.item_code == ITEM_CODE
    assert event.payload.basic_code == "511A0138000000"
    assert event.payload.department_code == "115113010833722043"
    assert event.payload.region12 == "511602000000"
    assert event.key == ITEM_CODE
    assert event.region == "511602"
    assert message.subject.startswith("zw.item.51.16.02.")


async def test_changed_item_is_new_event(settings: Settings, tmp_path: Path, bus: Bus) -> None:
    _client, js = bus
    await import_catalogue(settings, write_item_catalogue(tmp_path / "v1.json"))

    renamed = write_item_catalogue(tmp_path / "v2.json", name="户口迁移审批（新）")
    tally = await import_catalogue(settings, renamed)

    assert tally.published == 1
    assert await _count(js, ITEMS) == 2


async def test_corrected_item_resolves_entry(settings: Settings, tmp_path: Path, bus: Bus) -> None:
    _client, js = bus
    broken = write_item_catalogue(tmp_path / "broken.json", department_code="00000000")
    first = await import_catalogue(settings, broken)

    fixed = write_item_catalogue(tmp_path / "fixed.json")
    second = await import_catalogue(settings, fixed)
    states = list((await fold_quarantine(js, source_id=DEFAULT_SOURCE_ID)).values())

    assert first.quarantined == 1
    assert first.reasons == Counter({"department_code_invalid": 1})
    assert second.published == 1
    assert second.resolved == 1
    assert len(states) == 1
    assert states[0].resolution is not None
    assert states[0].resolution.resolution == "corrected"


def test_catalogue_not_a_list_rejected(tmp_path: Path) -> None:
    path = tmp_path / "object.json"
    path.write_text('{"department": "区公安分局"}', encoding="utf-8")

    with pytest.raises(ConfigError, match="must be a JSON list of departments"):
        list(read_catalogue(path))


def test_catalogue_invalid_json_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{", encoding="utf-8")

    with pytest.raises(ConfigError, match="cannot be read as JSON"):
        list(read_catalogue(path))
