"""Handing a Parquet export's rows to a writer process, so that reading and writing use two cores.

Turning envelopes into Arrow columns and compressing them took about 6 µs
per case event on a 2-core machine, a third of what reading the event from
the stream took, and all of it held the GIL. ``ParquetProcess`` starts
``replay.parquet_child`` with the output file's descriptor and sends it
each batch of stored envelopes through a pipe. A thread does the sending,
so the event loop only waits when the bounded queue of batches is full,
that is when the writer process is the slower side.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import stat
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, BinaryIO

import structlog

from bus.errors import BusError
from bus.i18n import N_
from contracts.envelope import encode_event
from replay.filters import ReplayedEvent
from replay.parquet_child import encode_frame

log = structlog.get_logger(__name__)

PIPE_BYTES = 1 << 20
"""Pipe size asked for: Linux's default upper bound for unprivileged processes."""
QUEUED_BATCHES = 16
"""Batches waiting for the writer process at most; then ``write`` waits."""
_STOP = b""


def envelope_batch(
    events: Sequence[ReplayedEvent],
) -> tuple[list[int], list[str], list[bytes]]:
    """Return the sequences, subjects and envelope bytes of a batch, as the row writer takes them.

    An event without its stored bytes (upcast or masked) is encoded again.
    """
    return (
        [item.seq for item in events],
        [item.subject for item in events],
        [item.raw if item.raw is not None else encode_event(item.event) for item in events],
    )


class ParquetWriteError(BusError):
    """The Parquet writer process failed."""

    template = N_("Writing the Parquet file failed: {detail}")


class ParquetProcess:
    """A Parquet exporter whose rows are built and written by a child process."""

    copies_envelopes = True

    def __init__(self, output: BinaryIO, *, row_group_rows: int) -> None:
        output.flush()
        fd = output.fileno()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "replay.parquet_child", str(fd), str(row_group_rows)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(fd,),
        )
        _widen_pipe(self._process.stdin)
        log.debug("parquet_process_started", pid=self._process.pid)
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=QUEUED_BATCHES)
        self._send_error: OSError | None = None
        self._sender = threading.Thread(target=self._send, name="parquet-sender", daemon=True)
        self._sender.start()
        self._closed = False

    def write(self, events: Sequence[ReplayedEvent]) -> None:
        if not events:
            return
        if self._send_error is not None:
            self._fail()
        self._queue.put(encode_frame(*envelope_batch(events)))

    def close(self) -> None:
        """Wait until the writer process has written the whole file."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._sender.join()
        stderr = self._finish()
        if self._process.returncode != 0 or self._send_error is not None:
            self._fail(stderr)
        log.debug("parquet_process_finished", pid=self._process.pid)

    def _send(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        while (frame := self._queue.get()) != _STOP:
            if self._send_error is not None:
                continue
            try:
                stdin.write(frame)
            except OSError as exc:
                # The process ended early; its reason is on its standard error.
                self._send_error = exc
        with contextlib.suppress(OSError):
            stdin.close()

    def _finish(self) -> bytes:
        """Wait for the process, whose input the sender closed; return its standard error."""
        errors = self._process.stderr
        assert errors is not None
        with errors:
            stderr = errors.read()
        self._process.wait()
        return stderr

    def _fail(self, stderr: bytes | None = None) -> None:
        if stderr is None:
            self._closed = True
            self._queue.put(_STOP)
            self._sender.join()
            stderr = self._finish()
        detail = stderr.decode("utf-8", "replace").strip() or (
            f"exit status {self._process.returncode}"
        )
        log.error("parquet_process_failed", pid=self._process.pid, detail=detail)
        raise ParquetWriteError(detail=detail)


def _widen_pipe(pipe: IO[bytes] | None) -> None:
    """Let the pipe hold about a whole batch, so the sender writes it in one or two calls.

    A batch of 1,000 case events is about 1.1 MB, so the default 64 KiB
    pipe takes it in about 17 calls. Each call gives up the GIL, and taking
    it back can wait for the event loop's thread.
    """
    if pipe is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def supports_process(output: BinaryIO) -> bool:
    """Tell whether ``output`` is a regular file that another process can write to."""
    try:
        return stat.S_ISREG(os.fstat(output.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        # In-memory buffers have no descriptor (io.UnsupportedOperation is an OSError).
        return False
