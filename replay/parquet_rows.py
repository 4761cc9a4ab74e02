"""Writing flat rows to Parquet (zstd) in row groups, from stored envelopes.

``RowGroupWriter`` takes batches of (sequence, subject, envelope bytes),
turns each batch into an Arrow record batch at once and writes a row
group when ``row_group_rows`` rows are buffered, so memory stays bounded
by one row group of Arrow columns. Times are parsed from their ISO 8601
text by Arrow. It needs pyarrow and msgspec alone, so that the writer
process of ``replay.parquet_process`` starts quickly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, BinaryIO

import pyarrow  # type: ignore[import-untyped]
import pyarrow.parquet  # type: ignore[import-untyped]

from replay.flat import COLUMNS, ROW_GROUP_ROWS, TIME_COLUMNS, flat_text_row

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


def parquet_schema() -> Any:
    """Return the Arrow schema of the Parquet export."""
    moment = pyarrow.timestamp("us", tz=PARQUET_TIME_ZONE)
    types = {
        "seq": pyarrow.int64(),
        "version": pyarrow.int32(),
        "occurred_at": moment,
        "recorded_at": moment,
    }
    fields = [pyarrow.field(name, types.get(name, pyarrow.string())) for name in COLUMNS]
    return pyarrow.schema(fields)


class RowGroupWriter:
    """Flat rows of stored envelopes written to ``output`` as Parquet row groups."""

    def __init__(self, output: BinaryIO | str, *, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self._schema = parquet_schema()
        self._writer: Any = pyarrow.parquet.ParquetWriter(
            output, self._schema, compression="zstd", use_dictionary=list(DICTIONARY_COLUMNS)
        )
        self._row_group_rows = row_group_rows
        self._batches: list[Any] = []
        self._buffered = 0

    def write(
        self, seqs: Sequence[int], subjects: Sequence[str], envelopes: Sequence[bytes]
    ) -> None:
        """Add one batch of events in the order given.

        Raises:
            msgspec.DecodeError: an envelope lacks a member of the flat row.
        """
        if not envelopes:
            return
        rows = map(flat_text_row, seqs, subjects, envelopes)
        arrays = []
        for values, field in zip(zip(*rows, strict=True), self._schema, strict=True):
            if field.name in TIME_COLUMNS:
                arrays.append(pyarrow.array(values, type=pyarrow.string()).cast(field.type))
            else:
                arrays.append(pyarrow.array(values, type=field.type))
        self._batches.append(pyarrow.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._buffered += len(envelopes)
        if self._buffered >= self._row_group_rows:
            self._flush(whole_groups_only=True)

    def _flush(self, *, whole_groups_only: bool) -> None:
        table = pyarrow.Table.from_batches(self._batches, schema=self._schema)
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
        """Write the rows still buffered and the file footer; the output stays open."""
        if self._writer is None:
            return
        if self._buffered:
            self._flush(whole_groups_only=False)
        self._writer.close()
        self._writer = None
