"""Tables keep identifiers whole at any width; consoles are wide when piped."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from rich.table import Column

from bus.screen import PIPED_WIDTH, FittedTable, ScreenConsole, StackedWhenNarrow, screen_time
from tests.tables import column_texts, header_cells, render

ROW = (
    "511602202403010000014",
    "HJ2024030001",
    "已受理",
    "2024-03-01 09:12:00",
    "广安区公安分局户政科",
    "户口迁移审批（市外迁入）",
    "511602",
    "2024-03-08",
    "是",
)
IDENTIFIERS = (0, 1, 3, 6, 7)


def _case_list() -> FittedTable:
    headers = (
        "Unified case code",
        "Local case number",
        "Status",
        "Submitted at",
        "Department",
        "Item",
        "Region",
        "Due date",
        "Overdue",
    )
    table = FittedTable(
        *(Column(header, no_wrap=index in IDENTIFIERS) for index, header in enumerate(headers)),
        show_lines=True,
    )
    table.add_row(*ROW)
    table.add_row(*ROW)
    return table


def _without_spaces(text: str) -> str:
    return text.replace(" ", "")


@pytest.mark.parametrize("width", [200, 120])
def test_identifiers_on_one_line_when_text_can_wrap(width: int) -> None:
    output = render(_case_list(), width)

    lines = output.splitlines()
    for index in IDENTIFIERS:
        assert sum(ROW[index] in line for line in lines) == 2, ROW[index]
    assert max(len(line) for line in lines) <= width


@pytest.mark.parametrize("width", [200, 100, 80, 60])
def test_no_value_cut_at_any_width(width: int) -> None:
    output = render(_case_list(), width)

    rows = column_texts(output)
    assert [_without_spaces(value) for value in ROW] == [_without_spaces(cell) for cell in rows[0]]
    assert rows[0] == rows[1]
    assert max(len(line) for line in output.splitlines()) <= width


@pytest.mark.parametrize("width", [80, 60])
def test_no_column_left_empty(width: int) -> None:
    output = render(_case_list(), width)

    assert all(header_cells(output))
    assert "Overdue" in "".join(header_cells(output))


def test_first_identifier_whole_at_80_columns() -> None:
    output = render(_case_list(), 80)

    assert ROW[0] in output


def test_fitting_twice_gives_same_output() -> None:
    table = _case_list()

    narrow = render(table, 60)
    wide = render(table, 200)

    assert render(table, 60) == narrow
    assert render(_case_list(), 200) == wide


def test_screen_console_wide_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)

    console = ScreenConsole(file=io.StringIO())

    assert console.width == PIPED_WIDTH


def test_screen_console_follows_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")

    console = ScreenConsole(file=io.StringIO())

    assert console.width == 100


def test_screen_console_explicit_width_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)

    console = ScreenConsole(file=io.StringIO(), width=70)

    assert console.width == 70


def test_screen_time_in_china_standard_time() -> None:
    moment = datetime(2026, 12, 5, 4, 18, 7, tzinfo=UTC)

    assert screen_time(moment) == "2026-12-05 12:18:07"


def test_stacked_table_whole_when_it_fits() -> None:
    output = render(StackedWhenNarrow(_case_list()), 240)

    assert "┃ Unified case code" in output
    assert output.count(ROW[0]) == 2


def test_stacked_table_one_block_per_row_when_narrow() -> None:
    output = render(StackedWhenNarrow(_case_list()), 60)
    lines = [line.rstrip() for line in output.splitlines()]

    assert "┃" not in output
    assert lines.count(f"Unified case code   {ROW[0]}") == 2
    assert lines.count(f"Due date            {ROW[7]}") == 2
    assert "" in lines

