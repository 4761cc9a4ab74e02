"""From a database row to a source record, and the watermark of a row.

Values keep their database types where the mapping understands them (text,
numbers, dates and times); a time without a zone is read in the profile's
time zone later, like a time in a file. A row whose bytes are not UTF-8 is
still yielded, with ``error`` set, so that it is quarantined and not lost.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

import msgspec

from adapters.files.readers import CellValue, SourceRecord
from bus.errors import ConfigError
from bus.i18n import N_
from contracts.details import detail_text

RowKey = int | str


class Watermark(msgspec.Struct, frozen=True, kw_only=True):
    """How far a table was read: the watermark value and key of the last row.

    Stored in ``ZW_SOURCES`` as the poller's position. ``time`` keeps the zone,
    or the lack of one, of the column's values, so comparisons in SQL see the
    same type the table has.
    """

    kind: Literal["id", "time"]
    time: datetime | None = None
    id: int | None = None
    key: RowKey

    @property
    def value(self) -> datetime | int:
        if self.kind == "time" and self.time is not None:
            return self.time
        if self.kind == "id" and self.id is not None:
            return self.id
        raise ValueError(f"watermark of kind {self.kind} has no value")

    def minus(self, overlap: float) -> datetime | int:
        """Return the value ``overlap`` seconds (time) or ids (id) before the watermark."""
        if self.kind == "time" and self.time is not None:
            return self.time - timedelta(seconds=overlap)
        return self.value - int(overlap)  # type: ignore[operator]


def row_key(value: object, column: str) -> RowKey:
    """Return a row's key as an int or a string, the two types the watermark stores."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | str):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None:
        raise ConfigError(
            N_(
                "Key column {column} has a NULL value; poll.key must name a column that is "
                "unique and never NULL."
            ),
            column=column,
        )
    return str(value)


def watermark_of(
    row: dict[str, Any], *, kind: Literal["id", "time"], mark: str, key: str
) -> Watermark:
    """Return the watermark of a row: its watermark value and key.

    Raises:
        ConfigError: a column is missing, or the watermark is not a timestamp
            (kind time) or an integer (kind id).
    """
    if mark not in row or key not in row:
        missing = mark if mark not in row else key
        raise ConfigError(
            N_(
                "Column {column} is not in the rows read ({columns}); name it as the database "
                "returns it in poll.watermark or poll.key."
            ),
            column=missing,
            columns=", ".join(row),
        )
    value = row[mark]
    if kind == "time":
        if not isinstance(value, datetime):
            raise _wrong_type(mark, value, "time")
        return Watermark(kind="time", time=value, key=row_key(row[key], key))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong_type(mark, value, "id")
    return Watermark(kind="id", id=value, key=row_key(row[key], key))


def _wrong_type(column: str, value: object, kind: str) -> ConfigError:
    if kind == "time":
        template = N_(
            "Watermark column {column} holds {type} values, but poll.kind = time needs a "
            "timestamp or datetime column; change poll.kind or poll.watermark."
        )
    else:
        template = N_(
            "Watermark column {column} holds {type} values, but poll.kind = id needs an "
            "integer column; change poll.kind or poll.watermark."
        )
    return ConfigError(template, column=column, type=type(value).__name__)


def record_number(key: RowKey) -> int:
    """Return a record number that stays the same whenever the row is read again.

    An integer key is its own number. A text key gets a number derived from
    its SHA-256, so that a quarantined row read again keeps its entry.
    """
    if isinstance(key, int):
        return key
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:6], "big")


def row_record(row: dict[str, Any], key: RowKey) -> SourceRecord:
    """Convert one row into a source record numbered by its key.

    ``line`` is 0 because a table row has no line.
    """
    fields: dict[str, CellValue] = {}
    problems: list[str] = []
    for column, value in row.items():
        try:
            fields[column] = cell_value(value)
        except UnicodeDecodeError:
            fields[column] = None
            problems.append(detail_text("column_not_utf8", column=column))
    raw = json.dumps(row, ensure_ascii=False, default=_json_default)
    return SourceRecord(
        position=record_number(key),
        line=0,
        fields=fields,
        error="; ".join(problems) or None,
        raw=raw,
    )


def cell_value(value: object) -> CellValue:
    """Return a database value as one of the cell types the mapping reads.

    Raises:
        UnicodeDecodeError: a binary value is not UTF-8 text.
    """
    if value is None or isinstance(value, str | float | datetime | date):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    if isinstance(value, time | timedelta | uuid.UUID):
        return str(value)
    return str(value)


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)
