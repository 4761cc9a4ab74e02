"""Write review, hall and sharing rows as CSV, JSON Lines or XLSX through their layout.

Every writer produces the same bytes for the same rows, so a fixed seed gives
reproducible files.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import msgspec
from openpyxl import Workbook

from bench.demo._family_rows import Cell, FamilyLayout, FamilyRow
from bench.demo._writers import save_workbook

_EXCEL_EPOCH = datetime(1899, 12, 30)
_SECONDS_PER_DAY = 86_400

OutputCell = str | int | float | datetime | None


def _coded(layout: FamilyLayout, row: FamilyRow, field_name: str, value: Cell) -> str | None:
    """Return the source code of a coded field, or None for a field without a code table."""
    if field_name in row.codes:
        return row.codes[field_name]
    if field_name == "event":
        return layout.code_of("event", row.event)
    if field_name not in layout.codes or value is None:
        return None
    return layout.code_of(field_name, str(value))


def _text(layout: FamilyLayout, value: Cell) -> str | int | None:
    """Render a value for CSV and JSON Lines; integers stay numbers for JSON."""
    if isinstance(value, bool):
        return layout.booleans[0] if value else layout.booleans[1]
    if isinstance(value, datetime):
        return value.strftime(layout.time_format)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, tuple):
        return layout.list_separator.join(value) or None
    if isinstance(value, float):
        return str(value)
    return value


def _excel(layout: FamilyLayout, value: Cell, *, serial: bool) -> OutputCell:
    """Render a value as a worksheet cell: dates as date cells, the rest as text or numbers.

    With ``serial`` a time becomes the Excel serial number that some exports
    write in place of a date cell.
    """
    if isinstance(value, datetime):
        if serial:
            return (value - _EXCEL_EPOCH).total_seconds() / _SECONDS_PER_DAY
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0))
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _text(layout, value)


def _values(layout: FamilyLayout, row: FamilyRow) -> list[tuple[str, Cell, str | None]]:
    """Return (field, canonical value, source code or None) in column order."""
    values: list[tuple[str, Cell, str | None]] = []
    for field_name, _column in layout.columns:
        value = row.time if field_name == "event_time" else row.values.get(field_name)
        values.append((field_name, value, _coded(layout, row, field_name, value)))
    return values


def write_family_csv(
    path: Path, layout: FamilyLayout, rows: Sequence[FamilyRow], header: Sequence[str]
) -> None:
    """Write a CSV in the layout's encoding; empty values are empty cells."""
    with path.open("w", encoding=layout.encoding, newline="") as stream:
        writer = csv.writer(stream, lineterminator=layout.line_terminator)
        writer.writerow(header)
        for row in rows:
            cells = []
            for _field, value, code in _values(layout, row):
                text = code if code is not None else _text(layout, value)
                cells.append("" if text is None else text)
            writer.writerow(cells)


def write_family_jsonl(path: Path, layout: FamilyLayout, rows: Sequence[FamilyRow]) -> None:
    """Write one JSON object per row with the layout's keys; empty values are null."""
    encoder = msgspec.json.Encoder()
    with path.open("wb") as stream:
        for row in rows:
            document = {
                column: code if code is not None else _text(layout, value)
                for (_field, value, code), column in zip(
                    _values(layout, row), layout.header, strict=True
                )
            }
            stream.write(encoder.encode(document))
            stream.write(b"\n")


def write_family_xlsx(
    path: Path,
    layout: FamilyLayout,
    rows: Sequence[FamilyRow],
    header: Sequence[str],
    *,
    saved_at: datetime,
) -> None:
    """Write one sheet with date cells; ``saved_at`` fills the document dates."""
    workbook = Workbook(write_only=True)
    workbook.properties.creator = layout.source_id
    workbook.properties.created = saved_at
    workbook.properties.modified = saved_at
    sheet = workbook.create_sheet("事件流水")
    sheet.append(list(header))
    for row in rows:
        sheet.append(
            [
                code
                if code is not None
                else _excel(layout, value, serial=row.serial_time and field == "event_time")
                for field, value, code in _values(layout, row)
            ]
        )
    save_workbook(workbook, path)
