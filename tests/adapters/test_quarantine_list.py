"""The quarantine list: which entries, in which order, and how a narrow screen shows them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.quarantine_list import (
    entries_table,
    entry_document,
    newest_first,
    reason_cell,
    select_entries,
)
from adapters.quarantine_view import EntryState
from bus.i18n import set_language
from contracts.quarantine import QuarantineEntry, QuarantineResolved, Reason, RecordPosition
from tests.tables import column_texts, header_cells, render

ITEM_REASONS = (
    Reason(
        code="department_code_invalid",
        field="itemCode",
        value="1151130000877869M",
        detail="length is 17, expected 18 for a USCC, or 9 or 10 for an organization code",
    ),
    Reason(
        code="department_code_invalid",
        field="deptCode",
        value="1151130000877869M",
        detail="length is 17, expected 18 for a USCC, or 9 or 10 for an organization code",
    ),
)
CASE_REASONS = (
    Reason(
        code="id_card_invalid",
        field="证件号码",
        value="5116**********1529",
        detail="check character is 9, expected 1",
    ),
)


def _state(
    sequence: int, family: str, source_id: str, reasons: tuple[Reason, ...], *, resolved: bool
) -> EntryState:
    entry = QuarantineEntry(
        entry_id=f"{sequence:04d}0d6a5e3c1f9b2a7d8e4c",
        source_id=source_id,
        system=source_id.upper(),
        family=family,
        record_key=f"key-{sequence}",
        event_type=f"{family}.published" if family == "item" else "case.submitted",
        region="511602",
        position=RecordPosition(location=f"{source_id}-2024-03-export.csv", record=sequence),
        reasons=reasons,
        original="{}",
        quarantined_at=datetime(2024, 3, 1, 9, sequence % 60, tzinfo=UTC),
    )
    resolution = None
    if resolved:
        resolution = QuarantineResolved(
            entry_id=entry.entry_id,
            record_key=entry.record_key,
            source_id=source_id,
            resolution="corrected",
            resolved_at=datetime(2024, 3, 2, tzinfo=UTC),
        )
    return EntryState(entry, sequence, resolution)


def _states() -> list[EntryState]:
    items = [_state(number, "item", "items", ITEM_REASONS, resolved=False) for number in (1, 2)]
    return [
        *items,
        _state(3, "case", "ga-huji", CASE_REASONS, resolved=False),
        _state(4, "case", "ga-huji", CASE_REASONS, resolved=True),
    ]


def test_select_by_family() -> None:
    chosen = select_entries(_states(), status="all", family="case")

    assert [state.sequence for state in chosen] == [3, 4]


def test_select_open_by_reason() -> None:
    chosen = select_entries(_states(), status="open", reason="id_card_invalid")

    assert [state.sequence for state in chosen] == [3]


def test_newest_first() -> None:
    assert [state.sequence for state in newest_first(_states())] == [4, 3, 2, 1]


def test_reason_names_its_field() -> None:
    cells = [reason_cell(reason) for reason in ITEM_REASONS]

    assert cells == ["department_code_invalid (itemCode)", "department_code_invalid (deptCode)"]


def test_reason_names_its_field_in_chinese() -> None:
    set_language("zh_CN")

    assert reason_cell(ITEM_REASONS[1]) == "department_code_invalid（字段 deptCode）"


def test_reason_without_field_is_its_code() -> None:
    assert reason_cell(Reason(code="missing_predecessor", value="C1")) == "missing_predecessor"


@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("width", [80, 160])
def test_table_keeps_ids_and_records_whole(language: str, width: int) -> None:
    set_language(language)
    states = newest_first(_states())
    table = entries_table(states)
    table.show_lines = True

    output = render(table, width)

    rows = column_texts(output)
    assert [row[0] for row in rows] == [state.entry.entry_id[:12] for state in states]
    for row, state in zip(rows, states, strict=True):
        assert row[0] in output
        assert row[1] == "".join(reason_cell(reason) for reason in state.entry.reasons)
        assert row[2] == state.entry.source_id
        assert row[3] == f"{state.entry.position.location}#{state.entry.position.record}"
    for reason in CASE_REASONS + ITEM_REASONS:
        assert reason_cell(reason) in output
    assert all(header_cells(output))
    assert max(len(line) for line in output.splitlines()) <= width


def test_entry_document_carries_fields_and_messages() -> None:
    document = entry_document(_states()[0], english=True)

    assert document["family"] == "item"
    assert document["status"] == "open"
    assert document["position"] == {
        "location": "items-2024-03-export.csv",
        "record": 1,
        "line": None,
    }
    assert [reason["field"] for reason in document["reasons"]] == ["itemCode", "deptCode"]
    assert document["reasons"][0]["message"].startswith("[department_code_invalid] Department code")
    assert "original" not in document


def test_entry_document_message_in_chinese() -> None:
    set_language("zh_CN")

    document = entry_document(_states()[2], english=False)

    message = document["reasons"][0]["message"]
    assert "校验位为 9，应为 1" in message
    assert "check character" not in message
    assert document["reasons"][0]["detail"] == "check character is 9, expected 1"
