"""The Parquet writer process: ``python -m replay.parquet_child FD ROW_GROUP_ROWS``.

It reads framed batches of stored envelopes from standard input and
writes them as Parquet to the inherited file descriptor ``FD``, so that
decoding and encoding the rows runs on another core than the replay's
reading. A frame is an 8-byte big-endian length and a MessagePack array
of three arrays: stream sequences, subjects and envelope bytes. The end
of input ends the file. It ignores SIGINT: a stop of the replay closes
its input, and it then finishes the file, which the replay discards.
On failure it prints the reason on standard error and exits with 1.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, BinaryIO

import msgspec

if TYPE_CHECKING:
    from replay.parquet_rows import RowGroupWriter

FRAME_HEAD = 8
NICENESS = 10
"""Added to the process's nice value, so that the replay's reading and the server come first.

The process lowers its priority only after importing pyarrow. Lowered
from the start, its start-up waited behind the reading, and a 20,000-event
export ran at 0.60 of the bare read instead of 0.70 (median of 5 runs).
"""
_batch_decoder = msgspec.msgpack.Decoder(tuple[list[int], list[str], list[bytes]])


def encode_frame(seqs: list[int], subjects: list[str], envelopes: list[bytes]) -> bytes:
    """Return one batch as a frame of this process's input."""
    body = msgspec.msgpack.encode((seqs, subjects, envelopes))
    return len(body).to_bytes(FRAME_HEAD, "big") + body


def _read_exactly(source: BinaryIO, size: int) -> bytes | None:
    chunks = []
    missing = size
    while missing:
        chunk = source.read(missing)
        if not chunk:
            if missing == size:
                return None
            raise EOFError(f"input ended inside a frame, {missing} of {size} bytes missing")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def write_frames(source: BinaryIO, writer: RowGroupWriter) -> int:
    """Write every frame of ``source`` through ``writer``; return the rows written."""
    rows = 0
    while (head := _read_exactly(source, FRAME_HEAD)) is not None:
        body = _read_exactly(source, int.from_bytes(head, "big"))
        if body is None:
            raise EOFError("input ended after a frame length")
        seqs, subjects, envelopes = _batch_decoder.decode(body)
        writer.write(seqs, subjects, envelopes)
        rows += len(envelopes)
    return rows


def main(arguments: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, row_group_rows = int(arguments[0]), int(arguments[1])
    try:
        # Imported here, so that the parent can import ``encode_frame`` without pyarrow.
        from replay.parquet_rows import RowGroupWriter

        os.nice(NICENESS)

        with os.fdopen(fd, "wb") as output:
            writer = RowGroupWriter(output, row_group_rows=row_group_rows)
            write_frames(sys.stdin.buffer, writer)
            writer.close()
    except Exception as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
