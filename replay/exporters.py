"""Writing replayed events as JSON Lines, CSV or Parquet, and the export loop that feeds them.

JSON Lines keeps each envelope whole, with ``seq`` and ``subject`` in
front: an envelope in the current schema version is copied byte for byte
as the stream stores it, without decoding its payload, and an older one
is written as the upcasters turn it. CSV and Parquet flatten it into
``COLUMNS``, with the payload as JSON text. A file is written under a
temporary name beside the target and renamed only when the replay
succeeded, so a target never contains half an export.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO, Literal, Protocol

import msgspec
import structlog
from nats.js import JetStreamContext

from bus.errors import ConfigError
from bus.i18n import N_
from contracts.envelope import encode_event
from replay.filters import ReplayedEvent, Selection, SelectionCounts, decode_batch
from replay.masking import mask_personal
from replay.reader import FETCH_BATCH, ReadProgress, ReplayWindow, StreamReader

log = structlog.get_logger(__name__)

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")
STREAMABLE_FORMATS: frozenset[Format] = frozenset({"jsonl", "csv"})
"""Formats that can be written to standard output; Parquet needs a file."""

COLUMNS: tuple[str, ...] = (
    "seq",
    "subject",
    "id",
    "type",
    "version",
    "occurred_at",
    "recorded_at",
    "region",
    "department",
    "key",
    "correlation_id",
    "causation_id",
    "source_adapter",
    "source_system",
    "payload",
)
"""Columns of the CSV and Parquet exports, in order."""

ROW_GROUP_ROWS = 20_000
"""Rows buffered per Parquet row group; at about 1 KB per event that is about 20 MB."""
PARQUET_TIME_ZONE = "Asia/Shanghai"
DICTIONARY_COLUMNS: tuple[str, ...] = (
    "type",
    "version",
    "region",
    "department",
    "source_adapter",
    "source_system",
)
"""Parquet columns with few distinct values, dictionary-encoded.

Dictionary encoding of the other columns (ids, keys, payloads), which are
mostly unique, made a 20,000-event export larger and about 40 % slower to
write (pyarrow 26, zstd).
"""


class ParquetUnavailableError(ConfigError):
    """Parquet output was asked for but pyarrow is not installed."""

    template = N_(
        "Parquet output needs pyarrow, which is not installed. Install it with: "
        "pip install 'zwbus[parquet]'"
    )


class Exporter(Protocol):
    """A writer of replayed events in one file format.

    An exporter with a true ``copies_envelopes`` attribute writes the raw
    envelope of each event whose ``raw`` is set and never reads its
    ``event``, so the export does not decode those payloads unless it is
    strict.
    """

    def write(self, events: Sequence[ReplayedEvent]) -> None:
        """Write events in the order given."""
        ...

    def close(self) -> None:
        """Flush everything; the underlying output stays open."""
        ...


_encoder = msgspec.json.Encoder()


def flat_row(item: ReplayedEvent) -> tuple[Any, ...]:
    """Return the values of ``COLUMNS`` for one event; times stay ``datetime``."""
    row = flat_values(item)
    return (*row[:-1], row[-1].decode())


def flat_values(item: ReplayedEvent) -> tuple[Any, ...]:
    """Return the values of ``COLUMNS`` like ``flat_row``, with the payload as UTF-8 JSON bytes.

    Arrow takes UTF-8 bytes for a string column as they are, while a
    Python string of Chinese text would first be encoded to UTF-8 again.
    """
    event = item.event
    return (
        item.seq,
        item.subject,
        event.id,
        event.type,
        event.version,
        event.occurred_at,
        event.recorded_at,
        event.region,
        event.department,
        event.key,
        event.correlation_id,
        event.causation_id,
        event.source.adapter,
        event.source.system,
        _encoder.encode(event.payload),
    )


class JsonLinesExporter:
    """One envelope per line as JSON, with ``seq`` and ``subject`` as its first members."""

    copies_envelopes = True

    def __init__(self, output: BinaryIO) -> None:
        self._output = output

    def write(self, events: Sequence[ReplayedEvent]) -> None:
        encode = _encoder.encode
        lines = []
        for item in events:
            # An envelope in the current version is copied as stored; an
            # upcast one is encoded again. The envelope is a JSON object, so
            # its opening brace is replaced by the two extra members.
            envelope = item.raw if item.raw is not None else encode_event(item.event)
            lines.append(
                b'{"seq":%d,"subject":%b,%b\n' % (item.seq, encode(item.subject), envelope[1:])
            )
        self._output.write(b"".join(lines))

    def close(self) -> None:
        self._output.flush()


class CsvExporter:
    """Flat rows under a header of ``COLUMNS``; times in ISO 8601 with their offset."""

    def __init__(self, output: BinaryIO, *, encoding: str = "utf-8") -> None:
        self._text: io.TextIOWrapper | None = io.TextIOWrapper(
            output, encoding=encoding, newline=""
        )
        self._writer = csv.writer(self._text)
        self._writer.writerow(COLUMNS)

    def write(self, events: Sequence[ReplayedEvent]) -> None:
        rows = []
        for item in events:
            row = list(flat_row(item))
            row[5] = row[5].isoformat()
            row[6] = row[6].isoformat()
            rows.append(row)
        self._writer.writerows(rows)

    def close(self) -> None:
        if self._text is None:
            return
        self._text.flush()
        # Detach so that the caller's binary output (standard output) stays open.
        self._text.detach()
        self._text = None


def load_pyarrow() -> tuple[ModuleType, ModuleType]:
    """Import pyarrow and its Parquet module.

    Raises:
        ParquetUnavailableError: pyarrow is not installed.
    """
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ParquetUnavailableError() from exc
    return pyarrow, pyarrow.parquet


def parquet_schema() -> Any:
    """Return the Arrow schema of the Parquet export."""
    pa, _pq = load_pyarrow()
    moment = pa.timestamp("us", tz=PARQUET_TIME_ZONE)
    types = {
        "seq": pa.int64(),
        "version": pa.int32(),
        "occurred_at": moment,
        "recorded_at": moment,
    }
    return pa.schema([pa.field(name, types.get(name, pa.string())) for name in COLUMNS])


class ParquetExporter:
    """Flat rows in Parquet (zstd), written in row groups so that memory stays bounded.

    Each batch handed to ``write`` becomes an Arrow record batch at once, so
    the buffered row group is kept as Arrow columns rather than as Python
    objects. A row group is written when ``row_group_rows`` rows are
    buffered.
    """

    def __init__(self, output: BinaryIO, *, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self._pa, pq = load_pyarrow()
        self._schema = parquet_schema()
        self._writer: Any = pq.ParquetWriter(
            output, self._schema, compression="zstd", use_dictionary=list(DICTIONARY_COLUMNS)
        )
        self._row_group_rows = row_group_rows
        self._batches: list[Any] = []
        self._buffered = 0

    def write(self, events: Sequence[ReplayedEvent]) -> None:
        if not events:
            return
        columns = zip(*(flat_values(item) for item in events), strict=True)
        arrays = [
            self._pa.array(values, type=field.type)
            for values, field in zip(columns, self._schema, strict=True)
        ]
        self._batches.append(self._pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._buffered += len(events)
        if self._buffered >= self._row_group_rows:
            self._flush(whole_groups_only=True)

    def _flush(self, *, whole_groups_only: bool) -> None:
        table = self._pa.Table.from_batches(self._batches, schema=self._schema)
        size = self._row_group_rows
        written = 0
        while table.num_rows - written >= size or (
            not whole_groups_only and written < table.num_rows
        ):
            rows = min(size, table.num_rows - written)
            self._writer.write_table(table.slice(written, rows), row_group_size=rows)
            written += rows
        rest = table.slice(written)
        self._batches = rest.to_batches() if rest.num_rows else []
        self._buffered = rest.num_rows

    def close(self) -> None:
        if self._writer is None:
            return
        if self._buffered:
            self._flush(whole_groups_only=False)
        self._writer.close()
        self._writer = None


def open_exporter(
    file_format: Format,
    output: BinaryIO,
    *,
    csv_encoding: str = "utf-8",
    row_group_rows: int = ROW_GROUP_ROWS,
) -> Exporter:
    """Return the exporter of ``file_format`` writing to ``output``."""
    if file_format == "jsonl":
        return JsonLinesExporter(output)
    if file_format == "csv":
        return CsvExporter(output, encoding=csv_encoding)
    return ParquetExporter(output, row_group_rows=row_group_rows)


@contextlib.contextmanager
def output_file(path: Path | None) -> Iterator[BinaryIO]:
    """Yield standard output (``path`` None or ``-``) or a temporary file renamed to ``path``.

    The temporary file is removed when the body raises, so ``path`` is only
    ever replaced by a complete export.
    """
    if path is None or str(path) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return

    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with temporary.open("wb") as stream:
            yield stream
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


class ExportResult(msgspec.Struct, kw_only=True):
    """Outcome of one export: the sequences read, the counts and the time taken."""

    stream: str
    first_seq: int | None
    """First stream sequence read; None when the window held no message."""
    last_seq: int
    """Last stream sequence read, 0 when none."""
    counts: SelectionCounts
    seconds: float

    @property
    def rate(self) -> float:
        """Events written per second."""
        return self.counts.kept / self.seconds if self.seconds > 0 else 0.0


async def export_events(
    js: JetStreamContext,
    selection: Selection,
    window: ReplayWindow,
    exporter: Exporter,
    *,
    strict: bool = False,
    mask: bool = False,
    progress: ReadProgress | None = None,
    batch_size: int = FETCH_BATCH,
) -> ExportResult:
    """Replay the selection within the window into ``exporter``.

    With ``mask``, identity numbers, phone numbers and person references in
    payloads are masked (``replay.masking``).

    The exporter is not closed here. Raises ``UndecodableMessageError`` with
    ``strict``, and ``StreamError`` when the stream is missing or stalls.
    """
    started = time.monotonic()
    counts = SelectionCounts()
    # With ``strict`` every payload is decoded, so that one breaking its
    # contract stops the export even where the exporter would copy it.
    decode_payloads = strict or not getattr(exporter, "copies_envelopes", False)
    log.info(
        "replay_started",
        stream=selection.stream,
        filter_subject=selection.subject,
        types=sorted(selection.types),
        window=_window_fields(window),
    )
    async with StreamReader.open(
        js,
        selection.stream,
        window,
        subject=selection.subject,
        batch_size=batch_size,
        read_ahead=True,
    ) as reader:
        announced = False
        async with aclosing(reader.deliveries()) as batches:
            async for batch in batches:
                if progress is not None and not announced and reader.first_read is not None:
                    progress.started(reader.first_read, reader.last_seq)
                    announced = True
                kept = decode_batch(
                    batch, selection, counts, strict=strict, decode_payloads=decode_payloads
                )
                exporter.write(mask_personal(kept) if mask else kept)
                if progress is not None:
                    progress.advanced(reader.position, counts.kept)
        result = ExportResult(
            stream=selection.stream,
            first_seq=reader.first_read,
            last_seq=reader.position,
            counts=counts,
            seconds=time.monotonic() - started,
        )

    log.info(
        "replay_finished",
        stream=selection.stream,
        read=counts.read,
        written=counts.kept,
        filtered=counts.filtered,
        undecodable=counts.undecodable,
        first_seq=result.first_seq,
        last_seq=result.last_seq,
        seconds=round(result.seconds, 3),
    )
    return result


def _window_fields(window: ReplayWindow) -> dict[str, object]:
    fields: dict[str, object] = {}
    for name in ("from_seq", "to_seq", "since", "until"):
        value = getattr(window, name)
        if value is not None:
            fields[name] = value.isoformat() if isinstance(value, datetime) else value
    return fields
