"""Write one export file per source format: GBK or UTF-8 CSV, XLSX, JSON Lines.

Every writer produces the same bytes for the same rows, so a fixed seed gives
reproducible demo files.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import msgspec
from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

from bench.demo._flows import UNMAPPED_STATUS, StatusRow
from bench.demo._sources import SourceFormat

_SENTINEL = datetime(1753, 1, 1)
"""SQL Server's smallest datetime, which some systems write for an empty date."""
_EXCEL_EPOCH = datetime(1899, 12, 30)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SECONDS_PER_DAY = 86_400

Cell = str | int | float | datetime | None


def _status_value(source: SourceFormat, row: StatusRow) -> str:
    if row.status == UNMAPPED_STATUS:
        return source.unmapped_status
    return source.statuses[row.status]


def _text_time(source: SourceFormat, row: StatusRow) -> str:
    moment = _SENTINEL if row.sentinel_time else row.status_time
    return moment.strftime(source.time_format)


def _excel_time(row: StatusRow) -> Cell:
    """Return a date cell value, a serial number, or text for the pre-1900 sentinel."""
    if row.sentinel_time:
        return _SENTINEL.strftime("%Y-%m-%d %H:%M:%S")

    # Excel sheets of this system keep minutes only, so serial numbers stay short.
    minute = row.status_time.replace(second=0)
    if row.serial_time:
        return (minute - _EXCEL_EPOCH).total_seconds() / _SECONDS_PER_DAY
    return minute


def _cells(source: SourceFormat, row: StatusRow, status_time: Cell) -> list[Cell]:
    """Return the row's values in ``FIELDS`` order; the status time is given by the caller."""
    return [
        row.local_no,
        row.item_code,
        row.item_name,
        row.applicant_name,
        source.id_types[row.id_type],
        row.applicant_id,
        row.phone,
        row.department_code,
        row.department_name,
        row.region,
        _status_value(source, row),
        status_time,
        row.promised_days,
        source.results[row.result] if row.result else None,
        row.remark or None,
        row.version,
    ]


def write_csv(
    path: Path, source: SourceFormat, rows: Sequence[StatusRow], header: Sequence[str]
) -> None:
    """Write a CSV in the source's encoding; fields with newlines or commas are quoted."""
    with path.open("w", encoding=source.encoding, newline="") as stream:
        writer = csv.writer(stream, lineterminator=source.line_terminator)
        writer.writerow(header)
        for row in rows:
            cells = _cells(source, row, _text_time(source, row))
            writer.writerow("" if cell is None else cell for cell in cells)


def write_jsonl(path: Path, source: SourceFormat, rows: Sequence[StatusRow]) -> None:
    """Write one JSON object per line with the source's keys; absent values are null."""
    encoder = msgspec.json.Encoder()
    with path.open("wb") as stream:
        for row in rows:
            cells = _cells(source, row, _text_time(source, row))
            stream.write(encoder.encode(dict(zip(source.columns, cells, strict=True))))
            stream.write(b"\n")


def write_xlsx(
    path: Path, source: SourceFormat, rows: Sequence[StatusRow], *, saved_at: datetime
) -> None:
    """Write one sheet; ``saved_at`` fills the document dates so output is reproducible.

    openpyxl's ``save`` would stamp the current time into the document
    properties, so they are set here before ``save_workbook`` writes the file.
    """
    workbook = Workbook(write_only=True)
    workbook.properties.creator = source.source_id
    workbook.properties.created = saved_at
    workbook.properties.modified = saved_at
    sheet = workbook.create_sheet("办件状态")
    sheet.append(list(source.columns))
    for row in rows:
        sheet.append(_cells(source, row, _excel_time(row)))
    save_workbook(workbook, path)


def save_workbook(workbook: Workbook, path: Path) -> None:
    """Save a workbook with fixed zip entry times, so the same cells give the same bytes.

    openpyxl's ``save`` stamps the current time into every zip entry, so the
    workbook is written with ``ExcelWriter`` into memory and then repacked.
    The caller sets the document dates in ``workbook.properties``.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()

    with (
        zipfile.ZipFile(buffer) as packed,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as output,
    ):
        for info in packed.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            output.writestr(entry, packed.read(info.filename))
