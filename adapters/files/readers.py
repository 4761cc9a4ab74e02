"""Read dropped CSV, XLSX and JSON Lines files as numbered source records.

Every format yields `SourceRecord` values of the same shape. A record has a
1-based position that stays stable across runs, so a later run can resume
after it. It also carries the physical line or row where it starts, its fields
keyed by cleaned column name, and its original text for quarantine. A record
that cannot be parsed is still yielded with `error` set, never dropped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import msgspec
import python_calamine

from adapters.files.decode import AUTO, decode_file
from contracts.details import detail_text

FORMATS = ("csv", "xlsx", "jsonl")

_EXTENSION_FORMATS = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

# Characters that exports put into header names by accident: BOM, zero-width
# space, non-joiner and joiner, word joiner, no-break space, ideographic space.
_HEADER_NOISE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00a0\u3000"))

# A physical line ends at CRLF, a lone CR or LF. str.splitlines() is not used
# because it also splits at characters such as U+2028 that may occur in fields.
_LINE_END = re.compile(r"\r\n?|\n")

CellValue = str | int | float | datetime | date | None


class SourceFileError(ValueError):
    """Raised when a dropped file cannot be opened as a table of records."""


class UnsupportedFormatError(SourceFileError):
    """Raised for a format or file extension that has no reader."""


class HeaderError(SourceFileError):
    """Raised when the header row has empty or duplicate column names."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record of a dropped file, before columns are mapped to fields.

    ``line`` is the physical line where a CSV or JSONL record starts, or the
    1-based worksheet row of an XLSX record. ``raw`` is the record's original
    text without its final line break, or a JSON array of the row's cells for
    XLSX.
    """

    position: int
    line: int
    fields: dict[str, CellValue]
    error: str | None
    raw: str


class SourceFile:
    """An opened source file whose records can be read any number of times."""

    def __init__(
        self,
        *,
        path: Path,
        file_format: str,
        encoding: str | None,
        raw_headers: list[str],
        headers: list[str],
        read_records: Callable[[], Iterator[SourceRecord]],
    ) -> None:
        self.path = path
        self.format = file_format
        # None for XLSX, whose cells are already decoded by the workbook reader.
        self.encoding = encoding
        self.raw_headers = raw_headers
        self.headers = headers
        self._read_records = read_records

    def __repr__(self) -> str:
        return f"SourceFile(path={self.path!r}, format={self.format!r})"

    def records(self, start_after: int = 0) -> Iterator[SourceRecord]:
        """Yield the records whose position is greater than `start_after`.

        Skipped records are still parsed, because a CSV record may span
        several lines and only parsing finds where it ends.
        """
        if start_after < 0:
            msg = f"invalid start_after {start_after}: expected 0 or a record position"
            raise ValueError(msg)

        for record in self._read_records():
            if record.position > start_after:
                yield record


def clean_header(name: str) -> str:
    """Remove invisible characters and outer whitespace from a column name.

    A BOM, zero-width characters (U+200B-U+200D, U+2060, U+FEFF), no-break
    spaces and ideographic spaces (U+3000) are removed wherever they occur.
    """
    return name.translate(_HEADER_NOISE).strip()


def escape_name(name: str) -> str:
    """Render a column name with invisible characters as escapes.

    Non-printable characters become ``\\uXXXX`` (``\\UXXXXXXXX`` above the
    Basic Multilingual Plane), a backslash is doubled, and a space at either
    end is escaped so that it shows in a message.
    """
    parts: list[str] = []
    last = len(name) - 1
    for index, char in enumerate(name):
        at_edge = index in (0, last)
        if char == "\\":
            parts.append("\\\\")
        elif char.isprintable() and not (char == " " and at_edge):
            parts.append(char)
        elif ord(char) > 0xFFFF:
            parts.append(f"\\U{ord(char):08x}")
        else:
            parts.append(f"\\u{ord(char):04x}")
    return "".join(parts)


def open_source_file(
    path: Path,
    *,
    format: str | None = None,
    encoding: str = AUTO,
    sheet: str | int = 0,
) -> SourceFile:
    """Open a CSV, XLSX or JSON Lines file and read its header.

    The first non-blank CSV row or non-empty worksheet row is the header. The
    header of a JSON Lines file is every key in order of first appearance, so
    that file is parsed once here.

    Args:
        path: the dropped file.
        format: ``csv``, ``xlsx`` or ``jsonl``. When None, the extension decides
            (``.csv``, ``.xlsx``, ``.jsonl`` or ``.ndjson``, in any case).
        encoding: ``auto`` or a forced text encoding (see `decode_bytes`). XLSX
            files ignore it.
        sheet: worksheet name or 0-based index, for XLSX only.

    Raises:
        UnsupportedFormatError: the format or extension is unknown.
        UndecodableError: the text of a CSV or JSONL file cannot be decoded.
        HeaderError: a column name is empty between named columns or repeated.
        SourceFileError: the workbook is damaged or the sheet does not exist.
    """
    file_format = _resolve_format(path, format)
    if file_format == "xlsx":
        return _open_xlsx(path, sheet)

    decoded = decode_file(path, encoding=encoding)
    if file_format == "csv":
        return _open_csv(path, decoded.text, decoded.encoding)
    return _open_jsonl(path, decoded.text, decoded.encoding)


def _resolve_format(path: Path, requested: str | None) -> str:
    if requested is not None:
        if requested not in FORMATS:
            msg = (
                f"unsupported format {requested!r} for {path}: expected one of {', '.join(FORMATS)}"
            )
            raise UnsupportedFormatError(msg)
        return requested

    extension = path.suffix.lower()
    detected = _EXTENSION_FORMATS.get(extension)
    if detected is None:
        known = ", ".join(_EXTENSION_FORMATS)
        msg = (
            f"cannot tell the format of {path} from its extension {extension!r}: "
            f"expected one of {known}, or set the source profile's `format`"
        )
        raise UnsupportedFormatError(msg)
    return detected


# Header layout shared by CSV and XLSX -------------------------------------


@dataclass(frozen=True, slots=True)
class _HeaderLayout:
    """The named columns of a header row: cells[start:start + len(names)]."""

    start: int
    names: list[str]
    raw_names: list[str]

    def build_fields(self, cells: Sequence[CellValue]) -> tuple[dict[str, CellValue], str | None]:
        """Map a row's cells to column names, with an error for stray cells."""
        fields: dict[str, CellValue] = {}
        for offset, name in enumerate(self.names):
            index = self.start + offset
            fields[name] = cells[index] if index < len(cells) else None

        end = self.start + len(self.names)
        stray = [
            index + 1
            for index, cell in enumerate(cells)
            if (index < self.start or index >= end) and cell is not None
        ]
        if not stray:
            return fields, None

        error = detail_text(
            "stray_cells", columns=", ".join(map(str, stray)), start=self.start + 1, end=end
        )
        return fields, error


def _layout_headers(path: Path, raw_names: Sequence[str]) -> _HeaderLayout:
    """Trim unnamed columns at both ends and check the remaining names."""
    cleaned = [clean_header(name) for name in raw_names]
    named = [index for index, name in enumerate(cleaned) if name]
    if not named:
        return _HeaderLayout(start=0, names=[], raw_names=[])
    start, end = named[0], named[-1] + 1

    seen: dict[str, int] = {}
    for index in range(start, end):
        name = cleaned[index]
        if not name:
            msg = (
                f"{path}: header column {index + 1} has no name but lies between "
                "named columns; name it or delete the column"
            )
            raise HeaderError(msg)
        if name in seen:
            msg = (
                f"{path}: header columns {seen[name] + 1} and {index + 1} are both "
                f"named '{escape_name(name)}' after cleaning (written "
                f"'{escape_name(raw_names[seen[name]])}' and '{escape_name(raw_names[index])}'); "
                "rename one of them"
            )
            raise HeaderError(msg)
        seen[name] = index

    return _HeaderLayout(
        start=start, names=cleaned[start:end], raw_names=list(raw_names[start:end])
    )


# CSV ------------------------------------------------------------------------


class _LineFeed:
    """Physical lines of a text that also keeps the lines read since the last take."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._offset = 0
        self._pending: list[str] = []

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self._offset >= len(self._text):
            raise StopIteration

        match = _LINE_END.search(self._text, self._offset)
        end = match.end() if match else len(self._text)
        line = self._text[self._offset : end]
        self._offset = end
        self._pending.append(line)
        return line

    def take_raw(self) -> str:
        """Return the lines read since the last call, without the final line break."""
        raw = "".join(self._pending)
        self._pending.clear()
        if raw.endswith("\r\n"):
            return raw[:-2]
        if raw.endswith(("\r", "\n")):
            return raw[:-1]
        return raw


@dataclass(frozen=True, slots=True)
class _CsvRow:
    line: int
    cells: list[str] | None  # None when the csv module rejected the row
    error: str | None
    raw: str


def _iter_csv_rows(text: str) -> Iterator[_CsvRow]:
    """Yield the non-blank rows of a CSV text with their starting line."""
    feed = _LineFeed(text)
    # strict=True turns a stray character after a closing quote, or a file
    # that ends inside a quoted field, into csv.Error instead of a silent merge.
    reader = csv.reader(feed, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader resets itself, so parsing goes on with the next line.
            error = detail_text("csv_invalid", error=exc)
            yield _CsvRow(line=line, cells=None, error=error, raw=feed.take_raw())
            continue

        raw = feed.take_raw()
        if all(cell == "" for cell in cells):
            continue
        yield _CsvRow(line=line, cells=cells, error=None, raw=raw)


def _open_csv(path: Path, text: str, encoding: str) -> SourceFile:
    rows = _iter_csv_rows(text)
    header_row = next(rows, None)
    if header_row is None:
        layout = _HeaderLayout(start=0, names=[], raw_names=[])
    elif header_row.cells is None:
        msg = f"{path}: cannot parse the header row at line {header_row.line}: {header_row.error}"
        raise HeaderError(msg)
    else:
        layout = _layout_headers(path, header_row.cells)

    def read_records() -> Iterator[SourceRecord]:
        rows = _iter_csv_rows(text)
        next(rows, None)
        for position, row in enumerate(rows, start=1):
            yield _csv_record(layout, position, row)

    return SourceFile(
        path=path,
        file_format="csv",
        encoding=encoding,
        raw_headers=layout.raw_names,
        headers=layout.names,
        read_records=read_records,
    )


def _csv_record(layout: _HeaderLayout, position: int, row: _CsvRow) -> SourceRecord:
    if row.cells is None:
        return SourceRecord(
            position=position, line=row.line, fields={}, error=row.error, raw=row.raw
        )

    # An empty cell means no value, as an empty XLSX cell does.
    cells: list[CellValue] = [cell if cell != "" else None for cell in row.cells]
    fields, error = layout.build_fields(cells)
    return SourceRecord(position=position, line=row.line, fields=fields, error=error, raw=row.raw)


# XLSX -----------------------------------------------------------------------

_WorkbookCell = int | float | str | bool | time | date | datetime | timedelta


def _open_xlsx(path: Path, sheet: str | int) -> SourceFile:
    grid = _load_sheet(path, sheet)

    # Row numbers come from the grid index because skip_empty_area=False makes
    # calamine start the grid at cell A1.
    rows = [
        (index + 1, [_xlsx_cell(cell) for cell in cells])
        for index, cells in enumerate(grid)
        if any(cell != "" for cell in cells)
    ]
    if not rows:
        layout = _HeaderLayout(start=0, names=[], raw_names=[])
    else:
        header_cells = [_xlsx_header_text(cell) for cell in rows[0][1]]
        layout = _layout_headers(path, header_cells)

    def read_records() -> Iterator[SourceRecord]:
        for position, (row_number, cells) in enumerate(rows[1:], start=1):
            fields, error = layout.build_fields(cells)
            raw = msgspec.json.encode(_trim_trailing_none(cells)).decode()
            yield SourceRecord(
                position=position, line=row_number, fields=fields, error=error, raw=raw
            )

    return SourceFile(
        path=path,
        file_format="xlsx",
        encoding=None,
        raw_headers=layout.raw_names,
        headers=layout.names,
        read_records=read_records,
    )


def _load_sheet(path: Path, sheet: str | int) -> list[list[_WorkbookCell]]:
    # NOTE: the whole worksheet is converted to Python objects at once and kept
    # for records(). Sheets of a few hundred thousand rows fit in memory.
    try:
        with python_calamine.CalamineWorkbook.from_path(path) as workbook:
            names = workbook.sheet_names
            if isinstance(sheet, int) and not 0 <= sheet < len(names):
                msg = (
                    f"{path}: no worksheet at index {sheet}; the workbook has {len(names)}: {names}"
                )
                raise SourceFileError(msg)
            if isinstance(sheet, str) and sheet not in names:
                msg = f"{path}: no worksheet named {sheet!r}; the workbook has {names}"
                raise SourceFileError(msg)

            if isinstance(sheet, int):
                worksheet = workbook.get_sheet_by_index(sheet)
            else:
                worksheet = workbook.get_sheet_by_name(sheet)
            return worksheet.to_python(skip_empty_area=False)
    except python_calamine.CalamineError as exc:
        msg = f"cannot read workbook {path}: {exc}"
        raise SourceFileError(msg) from exc


def _xlsx_cell(cell: _WorkbookCell) -> CellValue:
    """Convert a calamine cell to a field value, keeping numbers and dates typed."""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, str):
        return cell if cell != "" else None
    if isinstance(cell, time):
        return cell.isoformat()
    if isinstance(cell, timedelta):
        return str(cell)
    return cell


def _xlsx_header_text(cell: CellValue) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, date):
        return cell.isoformat()
    return str(cell)


def _trim_trailing_none(cells: list[CellValue]) -> list[CellValue]:
    end = len(cells)
    while end > 0 and cells[end - 1] is None:
        end -= 1
    return cells[:end]


# JSON Lines -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _JsonLine:
    line: int
    raw: str
    values: dict[str, CellValue] | None
    raw_keys: dict[str, str]  # cleaned key -> key as written
    error: str | None


def _iter_json_lines(text: str) -> Iterator[_JsonLine]:
    """Parse each non-blank line. JSON strings cannot contain a raw LF, so LF splits lines."""
    for index, physical in enumerate(text.split("\n")):
        raw = physical.removesuffix("\r")
        if not raw.strip():
            continue
        yield _parse_json_line(index + 1, raw)


def _parse_json_line(line: int, raw: str) -> _JsonLine:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        error = detail_text("json_invalid", error=exc)
        return _JsonLine(line=line, raw=raw, values=None, raw_keys={}, error=error)

    if not isinstance(value, dict):
        error = detail_text(f"json_{_json_type_name(value)}")
        return _JsonLine(line=line, raw=raw, values=None, raw_keys={}, error=error)

    values: dict[str, CellValue] = {}
    raw_keys: dict[str, str] = {}
    for key, item in value.items():
        name = clean_header(key)
        if not name:
            error = detail_text("json_key_empty", key=escape_name(key))
            return _JsonLine(line=line, raw=raw, values=None, raw_keys={}, error=error)
        if name in values:
            first = escape_name(raw_keys[name])
            error = detail_text("json_keys_same", first=first, second=escape_name(key))
            return _JsonLine(line=line, raw=raw, values=None, raw_keys={}, error=error)

        values[name] = _json_value(item)
        raw_keys[name] = key

    return _JsonLine(line=line, raw=raw, values=values, raw_keys=raw_keys, error=None)


def _json_type_name(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _json_value(item: object) -> CellValue:
    """Keep scalars, and turn booleans and nested values into their JSON text."""
    if isinstance(item, bool | list | dict):
        return msgspec.json.encode(item).decode()
    if item is None or isinstance(item, str | int | float):
        return item
    msg = f"unexpected JSON value type {type(item).__name__}"
    raise TypeError(msg)


def _open_jsonl(path: Path, text: str, encoding: str) -> SourceFile:
    # The keys of all objects form the header, so the file is parsed once here.
    raw_by_name: dict[str, str] = {}
    for parsed in _iter_json_lines(text):
        for name, key in parsed.raw_keys.items():
            raw_by_name.setdefault(name, key)
    headers = list(raw_by_name)

    def read_records() -> Iterator[SourceRecord]:
        for position, parsed in enumerate(_iter_json_lines(text), start=1):
            fields: dict[str, CellValue] = {}
            if parsed.values is not None:
                fields = {name: parsed.values.get(name) for name in headers}
            yield SourceRecord(
                position=position,
                line=parsed.line,
                fields=fields,
                error=parsed.error,
                raw=parsed.raw,
            )

    return SourceFile(
        path=path,
        file_format="jsonl",
        encoding=encoding,
        raw_headers=list(raw_by_name.values()),
        headers=headers,
        read_records=read_records,
    )
