"""The case list keeps codes whole on narrow terminals and wraps names instead."""

from __future__ import annotations

import pytest

from bus.i18n import set_language
from projections.cases.model import CaseRecord
from projections.cases.queries import CaseView
from projections.display import case_list_table
from tests.tables import column_texts, header_cells, render

CODES = ("511602202403010000014", "511602202403020000027")


def _views() -> list[CaseView]:
    return [
        CaseView(
            case=CaseRecord(
                code=code,
                local_no=f"GA-2024-00012{index}",
                system="GA-HJSP",
                status="accepted",
                status_at="2024-03-01T10:00:00+08:00",
                submitted_at="2024-03-01T09:12:00+08:00",
                department_code="115113010833722043",
                department_name="广安市公安局广安区分局户政管理大队",
                item_code="511A0138000000-511602000000-000-115113010833722043-1-00",
                item_name="户口迁移审批（市外迁入）",
                region="511602",
                due_date="2024-03-08",
            ),
            overdue=True,
        )
        for index, code in enumerate(CODES)
    ]


def _table_text(width: int) -> str:
    table = case_list_table(_views())
    table.show_lines = True
    return render(table, width)


@pytest.mark.parametrize("language", ["en", "zh_CN"])
@pytest.mark.parametrize("width", [80, 100, 160])
def test_case_list_keeps_every_value(language: str, width: int) -> None:
    set_language(language)

    output = _table_text(width)

    rows = column_texts(output)
    assert [row[0] for row in rows] == list(CODES)
    assert [row[1] for row in rows] == ["GA-2024-000120", "GA-2024-000121"]
    assert all(row[6] == "511602" for row in rows)
    assert all(row[7] == "2024-03-08" for row in rows)
    assert all(cell for row in rows for cell in row)
    assert all(header_cells(output))
    assert max(len(line) for line in output.splitlines()) <= width


@pytest.mark.parametrize("width", [80, 160])
def test_case_list_unified_code_on_one_line(width: int) -> None:
    output = _table_text(width)

    for code in CODES:
        assert code in output


def test_case_list_in_chinese_at_80_columns() -> None:
    set_language("zh_CN")

    output = _table_text(80)

    assert "统一办件编码" in "".join(header_cells(output))
    assert "广安市公安局广安区分局户政管理大队" in "".join(row[4] for row in column_texts(output))
