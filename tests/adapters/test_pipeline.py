"""Tests of the case ingestion path against a real nats-server.

Each test writes a small export into tmp_path, ingests it through
``ingest_files`` and checks the outcome counts and what reached the streams.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import msgspec
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.file_source import file_hash, ingest_files
from adapters.ingest.codes import CaseCodes, mapping_key
from adapters.ingest.index import EventIndex
from adapters.ingest.parked import ParkedEvent
from adapters.ingest.pipeline import BATCH_SIZE
from adapters.ingest.positions import Positions
from adapters.ingest.state import CaseState
from adapters.ingest.tally import Tally
from adapters.items import import_catalogue
from adapters.profile import Profile, load_profile
from adapters.quarantine_view import EntryState, fold_quarantine
from adapters.summary import tally_document
from bus.publisher import Publisher
from bus.reader import read_stream
from bus.settings import Settings
from bus.streams import CASE_CODES, CASE_STATE, CASES, PARKED, QUARANTINE
from contracts.case import CASE_PAYLOADS, CaseSubmitted
from contracts.casecode import is_unified_code
from contracts.envelope import Envelope, decode_event
from tests.adapters.helpers import (
    INVALID_ID,
    ITEM_CODE,
    REGION,
    SOURCE_ID,
    SYSTEM,
    case_row,
    write_csv,
    write_item_catalogue,
    write_jsonl,
    write_profile,
)

Bus = tuple[Client, JetStreamContext]


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    return load_profile(write_profile(tmp_path / "profile.toml"))


@pytest.fixture
async def catalogued(settings: Settings, tmp_path: Path, bus: Bus) -> Settings:
    """Settings of a bus whose item catalogue lists the test item code."""
    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    return settings


async def _count(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def _events(js: JetStreamContext) -> list[tuple[int, Envelope]]:
    """Return every case event with its stream sequence, in stream order."""
    return [
        (message.metadata.sequence.stream, decode_event(message.data))
        async for message in read_stream(js, CASES)
    ]


def _local_no(event: Envelope) -> str:
    """Return the department's case number (办件编号) that a case event carries."""
    assert isinstance(event.payload, CASE_PAYLOADS), event.type
    return event.payload.local_no


def _types_of(events: list[tuple[int, Envelope]], local_no: str) -> list[str]:
    return [event.type for _, event in events if _local_no(event) == local_no]


def _reason_codes(state: EntryState) -> list[str]:
    return [reason.code for reason in state.entry.reasons]


async def _parked_keys(js: JetStreamContext) -> list[str]:
    bucket = await js.key_value(PARKED)
    try:
        return list(await bucket.keys())
    except nats.js.errors.NoKeysError:
        return []


def _assert_reconciles(tally: Tally) -> None:
    assert tally.reconciles, tally
    assert tally.read == tally.published + tally.duplicates + tally.quarantined + tally.parked


MIXED_ROWS = [
    case_row("A1", "submitted", "2024-03-01 09:00:00"),
    case_row("A1", "accepted", "2024-03-01 10:00:00"),
    case_row("B1", "accepted", "2024-03-02 10:00:00"),
    case_row("B1", "submitted", "2024-03-02 09:00:00"),
    case_row("C1", "submitted", "2024-03-03 09:00:00", id_no=INVALID_ID),
    case_row("D1", "submitted", "2024-03-03 09:00:00", status="99"),
    case_row("E1", "concluded", "2024-03-04 09:00:00"),
    case_row("F1", "submitted", ""),
]
"""Two good cases (one out of order), three invalid rows and one orphan conclusion."""


# Outcomes ---------------------------------------------------------------------


async def test_mixed_file_one_outcome_each(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    path = write_csv(tmp_path / "mixed.csv", MIXED_ROWS)

    tally = await ingest_files(catalogued, profile, [path])

    _assert_reconciles(tally)
    assert tally.read == 8
    assert tally.published == 4
    assert tally.duplicates == 0
    assert tally.quarantined == 3
    assert tally.parked == 1
    assert tally.released == 0
    assert tally.files == 1
    assert tally.reasons == Counter(
        {"id_card_invalid": 1, "status_unmapped": 1, "required_missing": 1}
    )
    assert await _count(js, CASES) == 4
    assert await _count(js, QUARANTINE) == 3
    assert len(await _parked_keys(js)) == 1


async def test_mixed_file_events_in_lifecycle_order(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    path = write_csv(tmp_path / "mixed.csv", MIXED_ROWS)

    await ingest_files(catalogued, profile, [path])
    events = await _events(js)

    assert _types_of(events, "A1") == ["case.submitted", "case.accepted"]
    assert _types_of(events, "B1") == ["case.submitted", "case.accepted"]
    assert _types_of(events, "E1") == []
    assert all(event.source.system == SYSTEM for _, event in events)
    assert all(event.source.adapter == SOURCE_ID for _, event in events)
    assert all(event.region == REGION for _, event in events)


async def test_summary_document_totals(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "mixed.csv", MIXED_ROWS)

    document = tally_document(await ingest_files(catalogued, profile, [path]))

    assert document["totals"] == {
        "read": 8,
        "published": 4,
        "duplicates": 0,
        "quarantined": 3,
        "parked": 1,
    }
    assert document["reconciles"] is True
    assert document["quarantined_by_reason"]["id_card_invalid"] == 1


async def test_jsonl_export_ingested_like_csv(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    path = write_jsonl(tmp_path / "mixed.jsonl", MIXED_ROWS)

    tally = await ingest_files(catalogued, profile, [path])

    _assert_reconciles(tally)
    assert (tally.published, tally.quarantined, tally.parked) == (4, 3, 1)
    assert await _count(js, CASES) == 4


async def test_folder_input_reads_supported_files(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    write_csv(folder / "a.csv", [case_row("G1", "submitted", "2024-03-01 09:00:00")])
    write_jsonl(folder / "b.jsonl", [case_row("G2", "submitted", "2024-03-01 09:00:00")])
    (folder / "notes.txt").write_text("not an export", encoding="utf-8")

    tally = await ingest_files(catalogued, profile, [folder])

    assert tally.files == 2
    assert tally.published == 2


async def test_unknown_item_code_quarantined(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    other_item = "511A0139000000-511602000000-000-115113010833722043-1-00"
    path = write_csv(
        tmp_path / "item.csv", [case_row("H1", "submitted", "2024-03-01 09:00:00", item=other_item)]
    )

    tally = await ingest_files(catalogued, profile, [path])

    assert tally.quarantined == 1
    assert tally.reasons == Counter({"item_unknown": 1})


async def test_open_not_stalled_by_other_sources(
    settings: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    """Loading this source's quarantine entries returns at once when it has none."""
    malformed_item = "E-000004-001-11511301008778386B"
    items = write_item_catalogue(tmp_path / "items.json", [ITEM_CODE, malformed_item])
    imported = await import_catalogue(settings, items)
    path = write_csv(tmp_path / "one.csv", [case_row("A9", "submitted", "2024-03-01 09:00:00")])

    started = time.monotonic()
    tally = await ingest_files(settings, profile, [path])
    elapsed = time.monotonic() - started

    assert imported.quarantined == 1
    assert tally.published == 1
    assert elapsed < 3.0


REJECTED_ROWS = {
    "V01": (
        case_row("V01", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID),
        "id_card_invalid",
    ),
    "V02": (case_row("V02", "submitted", "2024-03-01 09:00:00", status="99"), "status_unmapped"),
    "V03": (case_row("V03", "submitted", ""), "required_missing"),
    "V04": (case_row("V04", "submitted", "2024-13-45 09:00:00"), "time_invalid"),
    "V05": (case_row("V05", "submitted", "2099-03-01 09:00:00"), "time_in_future"),
    "V06": (case_row("V06", "submitted", "2024-03-01 09:00:00", area="999999"), "region_unknown"),
    "V07": (
        case_row("V07", "submitted", "2024-03-01 09:00:00", item="E-000004-001-11511301008778386B"),
        "item_code_invalid",
    ),
    "V08": (
        case_row(
            "V08",
            "submitted",
            "2024-03-01 09:00:00",
            item="511A0139000000-511602000000-000-115113010833722043-1-00",
        ),
        "item_unknown",
    ),
    "V09": (case_row("V09", "submitted", "2024-03-01 09:00:00", id_type="999"), "id_type_unmapped"),
    "V10": (case_row("V10", "submitted", "2024-03-01 09:00:00", phone="12345"), "phone_invalid"),
    "V.11": (case_row("V.11", "submitted", "2024-03-01 09:00:00"), "local_no_invalid"),
    "V12": (
        case_row("V12", "submitted", "2024-03-01 09:00:00", applicant="无"),
        "placeholder_value",
    ),
    "V13": (case_row("V13", "concluded", "2024-03-01 09:00:00", result="7"), "result_unmapped"),
    "V14": (
        case_row("V14", "submitted", "2024-03-01 09:00:00", dept="12345"),
        "department_code_invalid",
    ),
}
"""Rows that each break one rule, by local case number, with the reason code expected."""


async def test_each_rule_quarantines_its_row(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    path = write_csv(tmp_path / "bad.csv", [row for row, _ in REJECTED_ROWS.values()])
    with path.open("a", encoding="utf-8", newline="") as stream:
        stream.write('"V15"x,1\r\n')
        stream.write(",".join(["V16"] * 17) + "\r\n")

    tally = await ingest_files(catalogued, profile, [path])
    states = await fold_quarantine(js, source_id=SOURCE_ID)
    by_local_no = {state.entry.record_key.split("|")[0]: state for state in states.values()}

    _assert_reconciles(tally)
    assert tally.quarantined == len(REJECTED_ROWS) + 2
    assert tally.reasons["record_malformed"] == 2
    for local_no, (_row, code) in REJECTED_ROWS.items():
        assert _reason_codes(by_local_no[local_no]) == [code], local_no
    assert _reason_codes(by_local_no["bad.csv#15"]) == ["record_malformed"]
    assert _reason_codes(by_local_no["bad.csv#16"]) == ["record_malformed"]
    assert by_local_no["bad.csv#15"].entry.original == '"V15"x,1'


async def test_masked_identity_in_reason(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    row, _code = REJECTED_ROWS["V01"]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "v.csv", [row])])

    (state,) = (await fold_quarantine(js, source_id=SOURCE_ID)).values()

    assert state.entry.reasons[0].value == "1101**********0021"
    assert INVALID_ID in state.entry.original


async def test_full_width_values_normalised(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    row = case_row(
        "Ｖ17",
        "submitted",
        "２０２４-03-01 09:00:00",
        id_no="11010519491231002x",
        area="５１１６０２",
    )

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "w.csv", [row])])
    ((_, event),) = await _events(js)

    assert tally.published == 1
    assert _local_no(event) == "V17"
    assert event.region == REGION
    assert isinstance(event.payload, CaseSubmitted)
    assert event.payload.applicant_id == "11010519491231002X"
    assert event.occurred_at.isoformat() == "2024-03-01T09:00:00+08:00"


# Duplicates -------------------------------------------------------------------


async def test_reread_publishes_nothing_new(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    path = write_csv(tmp_path / "mixed.csv", MIXED_ROWS)
    first = await ingest_files(catalogued, profile, [path])
    cases_before = await _count(js, CASES)
    quarantine_before = await _count(js, QUARANTINE)

    again = await ingest_files(catalogued, profile, [path], reread=True)

    _assert_reconciles(again)
    assert again.read == first.read
    assert again.published == 0
    assert again.duplicates == first.published
    assert again.quarantined == first.quarantined
    assert again.parked == first.parked
    assert await _count(js, CASES) == cases_before
    assert await _count(js, QUARANTINE) == quarantine_before


async def test_reread_without_orphans_duplicate_or_quarantined(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [row for row in MIXED_ROWS if row["no"] != "E1"]
    path = write_csv(tmp_path / "clean.csv", rows)
    await ingest_files(catalogued, profile, [path])
    before = await _count(js, CASES)

    again = await ingest_files(catalogued, profile, [path], reread=True)

    assert again.read == len(rows)
    assert again.duplicates + again.quarantined == len(rows)
    assert again.published == 0
    assert await _count(js, CASES) == before


async def test_completed_file_skipped_without_reread(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "mixed.csv", MIXED_ROWS)
    await ingest_files(catalogued, profile, [path])

    again = await ingest_files(catalogued, profile, [path])

    assert again.skipped_files == ["mixed.csv"]
    assert again.read == 0
    assert again.files == 0


async def test_same_rows_other_name_skipped(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    first = write_csv(tmp_path / "march.csv", MIXED_ROWS)
    copy = tmp_path / "march-copy.csv"
    copy.write_bytes(first.read_bytes())
    await ingest_files(catalogued, profile, [first])
    before = await _count(js, CASES)

    again = await ingest_files(catalogued, profile, [copy])

    assert again.published == 0
    assert again.skipped_files == ["march-copy.csv"] or again.duplicates == 4
    assert await _count(js, CASES) == before


async def test_same_rows_reordered_give_duplicates(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "a.csv", MIXED_ROWS)])
    before = await _count(js, CASES)

    again = await ingest_files(
        catalogued, profile, [write_csv(tmp_path / "b.csv", list(reversed(MIXED_ROWS)))]
    )

    _assert_reconciles(again)
    assert again.published == 0
    assert again.duplicates == 4
    assert await _count(js, CASES) == before


async def test_adjacent_duplicate_rows_one_event(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    submitted = case_row("K1", "submitted", "2024-03-01 09:00:00")
    accepted = case_row("K1", "accepted", "2024-03-01 10:00:00")
    path = write_csv(tmp_path / "dup.csv", [submitted, submitted, accepted, accepted, accepted])

    tally = await ingest_files(catalogued, profile, [path])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.duplicates == 3
    assert _types_of(await _events(js), "K1") == ["case.submitted", "case.accepted"]


async def test_new_data_version_is_new_event(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    first = case_row("K2", "submitted", "2024-03-01 09:00:00")
    resent = case_row("K2", "submitted", "2024-03-01 09:00:00", version="2", phone="13900139000")
    path = write_csv(tmp_path / "versions.csv", [first, resent])

    tally = await ingest_files(catalogued, profile, [path])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert len({event.id for _, event in await _events(js)}) == 2


async def _case_states(js: JetStreamContext, codes: set[str]) -> dict[str, CaseState]:
    bucket = await js.key_value(CASE_STATE)
    states = {}
    for code in codes:
        entry = await bucket.get(code)
        states[code] = msgspec.json.decode(entry.value or b"", type=CaseState)
    return states


async def test_case_state_names_stream_sequence(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    """Each case's write-side state maps its event ids to the sequences the stream stored."""
    _client, js = bus
    path = write_csv(tmp_path / "mixed.csv", MIXED_ROWS)
    await ingest_files(catalogued, profile, [path])
    events = await _events(js)

    states = await _case_states(js, {event.key for _, event in events})
    recorded = {
        event_id: sequence
        for state in states.values()
        for event_id, sequence in state.events.items()
    }

    assert recorded == {event.id: sequence for sequence, event in events}
    assert sorted(recorded.values()) == [1, 2, 3, 4]


async def test_index_pending_claim_reads_zero(bus: Bus) -> None:
    client, js = bus

    async with Publisher(client) as publisher:
        index = EventIndex(js, publisher)
        first = await index.claim(["abc123"])
        second = await index.claim(["abc123"])
        await (await index.record("abc123", 42))
        third = await index.claim(["abc123"])

    assert first == {"abc123": None}
    assert second == {"abc123": 0}
    assert third == {"abc123": 42}


# Out of order -----------------------------------------------------------------


async def test_accepted_before_submitted_released_same_run(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        case_row("L1", "accepted", "2024-03-01 10:00:00"),
        case_row("L1", "submitted", "2024-03-01 09:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "l.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.parked == 0
    assert tally.released == 0
    assert _types_of(await _events(js), "L1") == ["case.submitted", "case.accepted"]
    assert await _parked_keys(js) == []


async def test_release_across_batches_same_run(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    filler = [
        case_row(f"F{number:04d}", "submitted", "2024-03-01 09:00:00")
        for number in range(BATCH_SIZE)
    ]
    rows = [
        case_row("L2", "accepted", "2024-03-01 10:00:00"),
        *filler,
        case_row("L2", "submitted", "2024-03-01 09:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "l2.csv", rows)])

    _assert_reconciles(tally)
    assert tally.parked == 0
    assert tally.released == 0
    assert tally.published == len(rows)
    assert _types_of(await _events(js), "L2") == ["case.submitted", "case.accepted"]


async def test_orphan_stays_parked_then_released_later(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    orphan = [case_row("M1", "concluded", "2024-03-05 09:00:00")]
    first = await ingest_files(catalogued, profile, [write_csv(tmp_path / "m1.csv", orphan)])

    assert first.parked == 1
    assert first.published == 0
    assert await _count(js, CASES) == 0
    assert len(await _parked_keys(js)) == 1

    predecessors = [
        case_row("M1", "submitted", "2024-03-01 09:00:00"),
        case_row("M1", "accepted", "2024-03-01 10:00:00"),
    ]
    second = await ingest_files(catalogued, profile, [write_csv(tmp_path / "m2.csv", predecessors)])

    _assert_reconciles(second)
    assert second.read == 2
    assert second.published == 2
    assert second.released == 1
    assert second.parked == 0
    assert _types_of(await _events(js), "M1") == [
        "case.submitted",
        "case.accepted",
        "case.concluded",
    ]
    assert await _parked_keys(js) == []


async def test_earlier_park_released_once(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    """A later event of the same case in the same batch does not release the same park again."""
    _client, js = bus
    waiting = [
        case_row("R1", "accepted", "2024-03-01 10:00:00"),
        case_row("R1", "step_completed", "2024-03-02 10:00:00"),
    ]
    first = await ingest_files(catalogued, profile, [write_csv(tmp_path / "r1.csv", waiting)])
    assert first.parked == 2

    rest = [
        case_row("R1", "submitted", "2024-03-01 09:00:00"),
        case_row("R1", "step_completed", "2024-03-03 10:00:00"),
    ]
    second = await ingest_files(catalogued, profile, [write_csv(tmp_path / "r2.csv", rest)])

    _assert_reconciles(second)
    assert second.published == 2
    assert second.released == 2
    assert second.duplicates == 0
    assert second.parked == 0
    assert await _count(js, CASES) == 4
    assert await _parked_keys(js) == []


async def test_released_event_recorded_with_sequence(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    orphan = [case_row("M2", "accepted", "2024-03-05 09:00:00")]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "m1.csv", orphan)])
    await ingest_files(
        catalogued,
        profile,
        [write_csv(tmp_path / "m2.csv", [case_row("M2", "submitted", "2024-03-01 09:00:00")])],
    )
    events = await _events(js)

    states = await _case_states(js, {event.key for _, event in events})
    recorded = {
        event_id: sequence
        for state in states.values()
        for event_id, sequence in state.events.items()
    }

    assert recorded == {event.id: sequence for sequence, event in events}


async def test_park_wait_expiry_quarantines(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    orphan = [case_row("N1", "concluded", "2024-03-05 09:00:00")]

    tally = await ingest_files(
        catalogued, profile, [write_csv(tmp_path / "n.csv", orphan)], park_wait=timedelta(0)
    )
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    _assert_reconciles(tally)
    assert tally.parked == 0
    assert tally.quarantined == 1
    assert tally.reasons == Counter({"missing_predecessor": 1})
    assert [_reason_codes(state) for state in states.values()] == [["missing_predecessor"]]
    assert await _parked_keys(js) == []


async def test_earlier_run_park_expires_as_expired(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    orphan = [case_row("N2", "concluded", "2024-03-05 09:00:00")]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "n.csv", orphan)])

    later = await ingest_files(catalogued, profile, [], park_wait=timedelta(0))
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    _assert_reconciles(later)
    assert later.read == 0
    assert later.expired == 1
    assert [_reason_codes(state) for state in states.values()] == [["missing_predecessor"]]
    assert await _parked_keys(js) == []


async def test_expired_record_resent_resolves_entry(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    concluded = case_row("N3", "concluded", "2024-03-05 09:00:00")
    await ingest_files(
        catalogued, profile, [write_csv(tmp_path / "n1.csv", [concluded])], park_wait=timedelta(0)
    )
    rows = [
        case_row("N3", "submitted", "2024-03-01 09:00:00"),
        case_row("N3", "accepted", "2024-03-01 10:00:00"),
        concluded,
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "n2.csv", rows)])
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    assert tally.published == 3
    assert tally.resolved == 1
    assert [state.is_open for state in states.values()] == [False]


async def test_repark_keeps_first_parked_time(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    path = write_csv(tmp_path / "o.csv", [case_row("N6", "concluded", "2024-03-05 09:00:00")])
    await ingest_files(catalogued, profile, [path])
    bucket = await js.key_value(PARKED)
    (key,) = await _parked_keys(js)
    first = msgspec.json.decode((await bucket.get(key)).value or b"", type=ParkedEvent)

    again = await ingest_files(catalogued, profile, [path], reread=True)
    second = msgspec.json.decode((await bucket.get(key)).value or b"", type=ParkedEvent)

    assert again.parked == 1
    assert second.parked_at == first.parked_at


async def test_expired_entry_keeps_region(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    orphan = [case_row("N4", "concluded", "2024-03-05 09:00:00")]

    await ingest_files(
        catalogued, profile, [write_csv(tmp_path / "n.csv", orphan)], park_wait=timedelta(0)
    )
    (state,) = (await fold_quarantine(js, source_id=SOURCE_ID)).values()

    assert state.entry.region == REGION


async def test_parked_chain_released_in_order(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        case_row("N5", "result_delivered", "2024-03-06 09:00:00"),
        case_row("N5", "concluded", "2024-03-05 09:00:00"),
        case_row("N5", "accepted", "2024-03-01 10:00:00"),
        case_row("N5", "submitted", "2024-03-01 09:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "n.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 4
    assert tally.parked == 0
    assert _types_of(await _events(js), "N5") == [
        "case.submitted",
        "case.accepted",
        "case.concluded",
        "case.result_delivered",
    ]


# Closed cases -----------------------------------------------------------------


@pytest.mark.parametrize("terminal", ["not_accepted", "withdrawn"])
async def test_closed_case_rejects_later_events(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus, terminal: str
) -> None:
    _client, js = bus
    rows = [
        case_row("P1", "submitted", "2024-03-01 09:00:00"),
        case_row("P1", terminal, "2024-03-01 10:00:00"),
        case_row("P1", "accepted", "2024-03-01 11:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "p.csv", rows)])
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.quarantined == 1
    assert tally.reasons == Counter({"case_closed": 1})
    assert _types_of(await _events(js), "P1") == ["case.submitted", f"case.{terminal}"]
    assert [_reason_codes(state) for state in states.values()] == [["case_closed"]]


async def test_closed_case_rejects_in_later_run(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    rows = [
        case_row("P2", "submitted", "2024-03-01 09:00:00"),
        case_row("P2", "accepted", "2024-03-01 10:00:00"),
        case_row("P2", "withdrawn", "2024-03-02 10:00:00"),
    ]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "p1.csv", rows)])
    later = [case_row("P2", "concluded", "2024-03-03 10:00:00")]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "p2.csv", later)])

    assert tally.quarantined == 1
    assert tally.reasons == Counter({"case_closed": 1})


async def test_closed_case_rejects_repeated_type(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    rows = [
        case_row("P3", "submitted", "2024-03-01 09:00:00"),
        case_row("P3", "accepted", "2024-03-01 10:00:00"),
        case_row("P3", "step_completed", "2024-03-02 10:00:00"),
        case_row("P3", "withdrawn", "2024-03-03 10:00:00"),
        case_row("P3", "step_completed", "2024-03-04 10:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "p.csv", rows)])

    assert tally.published == 4
    assert tally.reasons == Counter({"case_closed": 1})


async def test_release_respects_closed_case(
    catalogued: Settings, profile: Profile, tmp_path: Path
) -> None:
    rows = [
        case_row("P4", "accepted", "2024-03-01 11:00:00"),
        case_row("P4", "not_accepted", "2024-03-01 10:00:00"),
        case_row("P4", "submitted", "2024-03-01 09:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "p.csv", rows)])

    assert tally.published == 2
    assert tally.reasons == Counter({"case_closed": 1})


# Quarantine resolution --------------------------------------------------------


async def test_corrected_resend_resolves_entry(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    bad = case_row("Q1", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID)
    first = await ingest_files(catalogued, profile, [write_csv(tmp_path / "q1.csv", [bad])])
    good = case_row("Q1", "submitted", "2024-03-01 09:00:00")

    second = await ingest_files(catalogued, profile, [write_csv(tmp_path / "q2.csv", [good])])
    states = list((await fold_quarantine(js, source_id=SOURCE_ID)).values())
    events = await _events(js)

    assert first.quarantined == 1
    assert second.published == 1
    assert second.resolved == 1
    assert len(states) == 1
    assert states[0].resolution is not None
    assert states[0].resolution.resolution == "corrected"
    assert states[0].resolution.event_id == events[0][1].id
    assert states[0].entry.reasons[0].code == "id_card_invalid"
    assert INVALID_ID not in (states[0].entry.reasons[0].value or "")
    assert INVALID_ID in states[0].entry.original


async def test_learned_status_code_resolves_entry(
    catalogued: Settings, tmp_path: Path, bus: Bus
) -> None:
    """Mapping a status code the profile lacked, then reading again, resolves the entry."""
    _client, js = bus
    profile_path = write_profile(tmp_path / "profile.toml")
    rows = [case_row("U1", "submitted", "2024-03-01 09:00:00", status="21")]
    path = write_csv(tmp_path / "u1.csv", rows)
    first = await ingest_files(catalogued, load_profile(profile_path), [path])

    text = profile_path.read_text(encoding="utf-8")
    profile_path.write_text(
        text.replace("[status]\n", '[status]\n"21" = "submitted"\n'), encoding="utf-8"
    )
    second = await ingest_files(catalogued, load_profile(profile_path), [path], reread=True)
    states = list((await fold_quarantine(js, source_id=SOURCE_ID)).values())

    assert first.reasons["status_unmapped"] == 1
    assert second.published == 1
    assert second.resolved == 1
    assert len(states) == 1
    assert states[0].resolution is not None


async def test_correction_in_same_file_resolves(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        case_row("Q2", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID),
        case_row("Q2", "submitted", "2024-03-01 09:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "q.csv", rows)])
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    _assert_reconciles(tally)
    assert (tally.published, tally.quarantined, tally.resolved) == (1, 1, 1)
    assert [state.is_open for state in states.values()] == [False]


async def test_unchanged_resend_keeps_entry_open(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    bad = [case_row("Q3", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID)]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "q1.csv", bad)])

    again = await ingest_files(
        catalogued, profile, [write_csv(tmp_path / "q1.csv", bad)], reread=True
    )
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    assert again.quarantined == 1
    assert again.resolved == 0
    assert [state.is_open for state in states.values()] == [True]
    assert await _count(js, QUARANTINE) == 1


@pytest.mark.parametrize("bad_time", ["2024-13-45 09:00:00", "2099-03-01 09:00:00"])
async def test_corrected_time_resolves_entry(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus, bad_time: str
) -> None:
    """An unparseable time and one in the future are both corrected by a re-send."""
    _client, js = bus
    bad = [case_row("Q4", "submitted", bad_time)]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "q1.csv", bad)])
    good = [case_row("Q4", "submitted", "2024-03-01 09:00:00")]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "q2.csv", good)])
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    assert tally.published == 1
    assert [state.is_open for state in states.values()] == [False]


async def test_other_time_leaves_entry_open(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    """An entry whose time was read stays open for a record at another time."""
    _client, js = bus
    bad = [case_row("Q5", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID)]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "q1.csv", bad)])
    other = [case_row("Q5", "submitted", "2024-03-02 09:00:00")]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "q2.csv", other)])
    states = await fold_quarantine(js, source_id=SOURCE_ID)

    assert (tally.published, tally.resolved) == (1, 0)
    assert [state.is_open for state in states.values()] == [True]


# Unified case codes -----------------------------------------------------------


async def test_case_code_minted_once_per_case(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    """Local number R1 appears in two runs; 00:30 in Shanghai is still 1 March there."""
    _client, js = bus
    first_rows = [
        case_row("R1", "submitted", "2024-03-01 00:30:00"),
        case_row("R2", "submitted", "2024-03-01 09:00:00"),
    ]
    second_rows = [case_row("R1", "accepted", "2024-03-04 10:00:00")]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "r1.csv", first_rows)])
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "r2.csv", second_rows)])

    codes: dict[str, set[str]] = {}
    for _, event in await _events(js):
        codes.setdefault(_local_no(event), set()).add(event.key)

    assert len(codes["R1"]) == 1
    assert len(codes["R2"]) == 1
    r1, r2 = codes["R1"].pop(), codes["R2"].pop()
    assert r1 != r2
    for code in (r1, r2):
        assert is_unified_code(code)
        assert code[:6] == REGION
        assert code[6:14] == "20240301"


async def test_cross_level_prefix_same_case(catalogued: Settings, tmp_path: Path, bus: Bus) -> None:
    _client, js = bus
    profile = load_profile(write_profile(tmp_path / "prefixed.toml", cross_level_prefix="SC51"))
    rows = [
        case_row("SC51R5", "submitted", "2024-03-01 09:00:00"),
        case_row("R5", "accepted", "2024-03-01 10:00:00"),
    ]

    tally = await ingest_files(catalogued, profile, [write_csv(tmp_path / "r5.csv", rows)])
    events = await _events(js)

    assert tally.published == 2
    assert {_local_no(event) for _, event in events} == {"R5"}
    assert len({event.key for _, event in events}) == 1


async def test_case_code_mapping_stored(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [case_row("R3", "submitted", "2024-03-01 09:00:00")]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "r.csv", rows)])
    ((_, event),) = await _events(js)

    bucket = await js.key_value(CASE_CODES)
    entry = await bucket.get(mapping_key(SYSTEM, "R3"))

    assert entry.value == event.key.encode()


async def test_case_subject_carries_code(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [case_row("R4", "submitted", "2024-03-01 09:00:00")]
    await ingest_files(catalogued, profile, [write_csv(tmp_path / "r.csv", rows)])

    (message,) = [message async for message in read_stream(js, CASES)]
    event = decode_event(message.data)

    assert message.subject == f"zw.case.51.16.02.{event.key}"


async def test_racing_resolvers_share_one_code(bus: Bus) -> None:
    client, js = bus
    requested = {(SYSTEM, "RACE1"): (REGION, date(2024, 3, 1))}

    async with Publisher(client) as first_publisher, Publisher(client) as second_publisher:
        first, second = await asyncio.gather(
            CaseCodes(js, first_publisher).resolve(requested),
            CaseCodes(js, second_publisher).resolve(requested),
        )
        third = await CaseCodes(js, first_publisher).resolve(requested)

    assert first == second == third
    assert is_unified_code(first[(SYSTEM, "RACE1")])


async def test_case_codes_distinct_per_case(bus: Bus) -> None:
    client, js = bus
    requested = {(SYSTEM, f"S{number}"): (REGION, date(2024, 3, 1)) for number in range(250)}

    async with Publisher(client) as publisher:
        codes = await CaseCodes(js, publisher).resolve(requested)

    assert len(set(codes.values())) == 250
    assert sorted(int(code[14:20]) for code in codes.values()) == list(range(1, 251))


# Resuming an interrupted file -------------------------------------------------


class _StopAfterFirstBatch(Exception):
    """Raised by the progress hook to interrupt an ingest after its first batch."""


async def test_interrupted_file_resumes(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    total = BATCH_SIZE * 2 + 100
    rows = [
        case_row(
            f"T{number:05d}",
            "submitted",
            "2024-03-01 09:00:00",
            **({"id_no": INVALID_ID} if number % 100 == 7 else {}),
        )
        for number in range(total)
    ]
    valid = sum(1 for row in rows if row["id_no"] != INVALID_ID)
    valid_in_first_batch = sum(1 for row in rows[:BATCH_SIZE] if row["id_no"] != INVALID_ID)
    path = write_csv(tmp_path / "big.csv", rows)
    reported: list[int] = []

    def stop_after_first(file_name: str, records_done: int) -> None:
        reported.append(records_done)
        raise _StopAfterFirstBatch(file_name)

    with pytest.raises(_StopAfterFirstBatch):
        await ingest_files(catalogued, profile, [path], progress=stop_after_first)
    position = await Positions(js).get(SOURCE_ID, file_hash(path))

    assert reported == [BATCH_SIZE]
    assert position is not None
    assert position.records_done == BATCH_SIZE
    assert not position.complete
    assert await _count(js, CASES) == valid_in_first_batch

    resumed = await ingest_files(catalogued, profile, [path])
    position = await Positions(js).get(SOURCE_ID, file_hash(path))
    events = await _events(js)

    _assert_reconciles(resumed)
    assert resumed.read == total - BATCH_SIZE
    assert resumed.duplicates == 0
    assert BATCH_SIZE + resumed.read == total
    assert valid_in_first_batch + resumed.published == valid
    assert position is not None
    assert position.complete
    assert position.records_done == total
    assert len(events) == valid
    assert len({_local_no(event) for _, event in events}) == valid


async def test_resume_releases_first_batch_park(
    catalogued: Settings, profile: Profile, tmp_path: Path, bus: Bus
) -> None:
    """An accepted row parked in the interrupted batch is released by the resumed run."""
    _client, js = bus
    filler = [
        case_row(f"U{number:04d}", "submitted", "2024-03-01 09:00:00")
        for number in range(BATCH_SIZE - 1)
    ]
    rows = [
        case_row("U-X", "accepted", "2024-03-01 10:00:00"),
        *filler,
        case_row("U-X", "submitted", "2024-03-01 09:00:00"),
    ]
    path = write_csv(tmp_path / "straddle.csv", rows)

    def stop_after_first(file_name: str, records_done: int) -> None:
        raise _StopAfterFirstBatch(file_name)

    with pytest.raises(_StopAfterFirstBatch):
        await ingest_files(catalogued, profile, [path], progress=stop_after_first)

    assert len(await _parked_keys(js)) == 1
    assert await _count(js, CASES) == len(filler)

    resumed = await ingest_files(catalogued, profile, [path])

    _assert_reconciles(resumed)
    assert resumed.read == 1
    assert resumed.published == 1
    assert resumed.released == 1
    assert _types_of(await _events(js), "U-X") == ["case.submitted", "case.accepted"]
    assert await _parked_keys(js) == []
