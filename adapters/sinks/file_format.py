"""File names and line formats of file sinks.

Names are ``<sink id>.<family>.<YYYYMMDD>.<NNNN>.<jsonl|csv>``: the day is
the China-time day of the file's first event as the stream stored it, the
part counts up from 0001 within a day. Sorting names sorts the files in the
order they were written, and the same events with the same configuration
always land in files of the same names.

A JSON Lines line is the envelope as on the bus with ``seq`` and
``subject`` put in front. A CSV file is UTF-8 with a byte order mark, so
that Excel reads the Chinese text, then a header row and one row per event
with the envelope flattened into ``CSV_COLUMNS`` and the payload as JSON
text.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from adapters.sinks.config import FileFormat
from adapters.sinks.selection import Incoming
from contracts.columns import FLAT_COLUMNS
from contracts.identifiers import CHINA_TIME

BOM = "\ufeff".encode()
CSV_COLUMNS = FLAT_COLUMNS
"""Columns of a CSV sink file, in order."""


@dataclass(frozen=True, order=True)
class FileName:
    """The place of one file in a sink's sequence of files; ordered as written."""

    day: str
    """``YYYYMMDD`` in China time."""
    part: int

    def render(self, sink: str, family: str, file_format: FileFormat) -> str:
        return f"{sink}.{family}.{self.day}.{self.part:04d}.{file_format}"


def parse_name(name: str, sink: str, family: str, file_format: FileFormat) -> FileName | None:
    """Return the ``FileName`` of a file of this sink and family; None for other files."""
    pattern = rf"{re.escape(sink)}\.{re.escape(family)}\.([0-9]{{8}})\.([0-9]{{4,}})\.{file_format}"
    match = re.fullmatch(pattern, name)
    if match is None:
        return None
    return FileName(match.group(1), int(match.group(2)))


def stream_day(moment: datetime) -> str:
    """Return the China-time day of a stream timestamp as ``YYYYMMDD``."""
    return moment.astimezone(CHINA_TIME).strftime("%Y%m%d")


def file_header(file_format: FileFormat) -> bytes:
    """Return the bytes a new file starts with: the CSV BOM and header, nothing for JSONL."""
    if file_format == "jsonl":
        return b""
    return BOM + _csv_bytes([list(CSV_COLUMNS)])


def encode_line(file_format: FileFormat, event: Incoming) -> bytes:
    """Return the line (with its line break) that stands for ``event`` in a file."""
    if file_format == "jsonl":
        return _jsonl_line(event)
    return _csv_bytes([_csv_row(event)])


def _jsonl_line(event: Incoming) -> bytes:
    data = event.data.strip()
    if b"\n" in data or b"\r" in data:
        # A pretty-printed envelope would span several lines; indent=0 puts it on one.
        data = msgspec.json.format(data, indent=0)
    prefix = b'{"seq":%d,"subject":%s' % (event.seq, msgspec.json.encode(event.subject))
    rest = data[1:].lstrip()
    separator = b"" if rest.startswith(b"}") else b","
    return prefix + separator + rest + b"\n"


def _csv_row(event: Incoming) -> list[str]:
    envelope: dict[str, Any] = msgspec.json.decode(event.data)
    source = envelope.get("source")
    source = source if isinstance(source, dict) else {}
    values: dict[str, Any] = {
        **envelope,
        "seq": event.seq,
        "subject": event.subject,
        "source_adapter": source.get("adapter"),
        "source_system": source.get("system"),
        "payload": msgspec.json.encode(envelope.get("payload")).decode(),
    }
    return [_cell(values.get(column)) for column in CSV_COLUMNS]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    return str(value)


def _csv_bytes(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerows(rows)
    return text.getvalue().encode()
