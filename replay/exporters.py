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
from replay.flat import COLUMNS, ROW_GROUP_ROWS
from replay.masking import mask_personal
from replay.parquet_process import ParquetProcess, envelope_batch, supports_process
from replay.reader import FETCH_BATCH, ReadProgress, ReplayWindow, StreamReader

log = structlog.get_logger(__name__)

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")
STREAMABLE_FORMATS: frozenset[Format] = frozenset({"jsonl", "csv"})
"""Formats that can be written to standard output; Parquet needs a file."""

class ParquetUnavailableError(ConfigError):
    """Parquet output was asked for but pyarrow is not installed."""

    template = N_(
        "Parquet output needs pyarrow, which is not installed. Install it with: "
        "pip install 'zwbus[parquet]'"
    )


class Exporter(Protocol):
    """A writer of replayed events in one file format.

    An exporter with a true ``copies_envelopes`` attribute writes each
    event whose ``raw`` is set from that raw envelope and never reads its
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


class ParquetExporter:
    """Flat rows in Parquet (zstd), built in this process.

    ``open_exporter`` uses it for an output without a file descriptor (an
    in-memory buffer); a file gets ``replay.parquet_process.ParquetProcess``.
    """

    copies_envelopes = True

    def __init__(self, output: BinaryIO, *, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        load_pyarrow()
        from replay.parquet_rows import RowGroupWriter

        self._rows = RowGroupWriter(output, row_group_rows=row_group_rows)

    def write(self, events: Sequence[ReplayedEvent]) -> None:
        self._rows.write(*envelope_batch(events))

    def close(self) -> None:
        self._rows.close()


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
    load_pyarrow()
    if supports_process(output):
        return ParquetProcess(output, row_group_rows=row_group_rows)
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
