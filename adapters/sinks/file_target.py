"""Delivery into rotated files, consistent with the lane's position after a crash.

Each batch goes through these steps:

1. append the batch's lines to the current file, starting a new file on a
   later day or at the size limit (``Rotation``);
2. flush and fsync every file written, and fsync the folder when a file
   was created;
3. write the position record (last sequence, file name, byte offset) with
   ``save_position``, which is atomic;
4. acknowledge the batch on the bus.

So the record never names bytes that are not on disk. After a crash, the
files may hold more than the record: lines of a batch whose record was
never written. On start, ``recover`` cuts them off: it truncates the
recorded file to the recorded offset and deletes the files of this sink
and family whose names sort after it. The lane then resumes from the
sequence after the recorded one, so every event is in the files exactly
once.

Files whose names sort before the recorded one are finished and are never
opened again, so a collector may move them away. It may also move the
recorded file; the next event then starts a new part.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import structlog

from adapters.sinks.config import SinkConfig
from adapters.sinks.delivery import DeliveryOutcome
from adapters.sinks.file_format import FileName, encode_line, file_header, parse_name, stream_day
from adapters.sinks.position import LanePosition, SinkStateError, sync_folder
from adapters.sinks.selection import Incoming
from bus.i18n import N_

log = structlog.get_logger(__name__)


class FileTarget:
    """Write the events of one sink and family into its directory.

    ``recover`` must run before the first ``deliver``. Both block on disk
    input and output; the lane runs them in a worker thread.
    """

    def __init__(self, sink: SinkConfig, family: str, position: LanePosition) -> None:
        self.sink = sink
        self.family = family
        self.position = position
        self.folder = sink.directory_path()
        self._format = sink.format
        self._header = file_header(sink.format)
        self._current: BinaryIO | None = None
        self._current_name: FileName | None = None
        self._last_name: FileName | None = None
        """The newest file name used, even when that file was moved away since."""

    # --- start-up --------------------------------------------------------------

    def recover(self) -> None:
        """Make the files agree with the position record and open the recorded file.

        Raises:
            SinkStateError: the recorded file is shorter than the recorded offset.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        recorded = self._recorded_name()
        for name, path in self._lane_files():
            if recorded is None or name > recorded:
                log.warning(
                    "sink_unrecorded_file_removed",
                    sink=self.sink.id,
                    file=path.name,
                    size=path.stat().st_size,
                )
                path.unlink()
        sync_folder(self.folder)
        self._last_name = recorded
        if recorded is None:
            return

        path = self._path(recorded)
        if not path.exists():
            log.info("sink_recorded_file_collected", sink=self.sink.id, file=path.name)
            return
        size = path.stat().st_size
        if size < self.position.offset:
            raise SinkStateError(
                N_("File {path} of sink {sink} has {size} bytes, but {offset} bytes were "
                   "recorded as written. It was changed outside the sink. Restore it, or move "
                   "it away to go on with a new file."),
                path=str(path),
                sink=self.sink.id,
                size=size,
                offset=self.position.offset,
            )
        self._current = path.open("r+b")
        if size > self.position.offset:
            self._current.truncate(self.position.offset)
            os.fsync(self._current.fileno())
            log.warning(
                "sink_file_truncated",
                sink=self.sink.id,
                file=path.name,
                removed_bytes=size - self.position.offset,
                offset=self.position.offset,
            )
        self._current.seek(self.position.offset)
        self._current_name = recorded

    def close(self) -> None:
        """Close the open file; the position record already covers what it holds."""
        if self._current is not None:
            self._current.close()
            self._current = None
            self._current_name = None

    # --- writing ---------------------------------------------------------------

    def deliver(self, events: list[Incoming]) -> DeliveryOutcome:
        """Append ``events`` durably and move ``position.file`` and ``offset`` with them."""
        if not events:
            return DeliveryOutcome()
        created = False
        written: list[BinaryIO] = []
        for event in events:
            line = encode_line(self._format, event)
            day = stream_day(event.stored_at)
            if self._needs_new_file(day, len(line)):
                if self._current is not None:
                    self._finish_current(written)
                self._open_next(day)
                created = True
            current = self._require_current()
            current.write(line)
            if current not in written:
                written.append(current)

        for stream in written:
            stream.flush()
            os.fsync(stream.fileno())
        if created:
            sync_folder(self.folder)
        self.position.file = self._describe_current()
        self.position.offset = self._require_current().tell()
        return DeliveryOutcome(delivered=len(events))

    def _needs_new_file(self, day: str, line_bytes: int) -> bool:
        if self._current is None or self._current_name is None:
            return True
        if self.sink.rotation.daily and day > self._current_name.day:
            return True
        limit = self.sink.rotation.max_bytes
        offset = self._current.tell()
        has_rows = offset > len(self._header)
        return limit > 0 and has_rows and offset + line_bytes > limit

    def _finish_current(self, written: list[BinaryIO]) -> None:
        current = self._require_current()
        current.flush()
        os.fsync(current.fileno())
        if current in written:
            written.remove(current)
        current.close()
        log.info("sink_file_rotated", sink=self.sink.id, file=self._describe_current())
        self._current = None
        self._current_name = None

    def _open_next(self, day: str) -> None:
        last = self._last_name
        if last is not None and day <= last.day:
            name = FileName(last.day, last.part + 1)
        else:
            name = FileName(day, 1)
        path = self._path(name)
        # "x" fails on an existing file: recovery removed every later file,
        # so a clash means another writer shares the folder.
        stream = path.open("xb")
        stream.write(self._header)
        self._current = stream
        self._current_name = name
        self._last_name = name
        log.info("sink_file_started", sink=self.sink.id, file=path.name)

    # --- names -----------------------------------------------------------------

    def _recorded_name(self) -> FileName | None:
        if self.position.file is None:
            return None
        name = parse_name(self.position.file, self.sink.id, self.family, self._format)
        if name is None:
            raise SinkStateError(
                N_("The position record of sink {sink} names file {file}, which is not a "
                   "{format} file of this sink. The format or id changed; use a new "
                   "directory for the new settings."),
                sink=self.sink.id,
                file=self.position.file,
                format=self._format,
            )
        return name

    def _lane_files(self) -> Iterator[tuple[FileName, Path]]:
        return lane_files(self.sink, self.family)

    def _path(self, name: FileName) -> Path:
        return self.folder / name.render(self.sink.id, self.family, self._format)

    def _describe_current(self) -> str:
        if self._current_name is None:
            return ""
        return self._current_name.render(self.sink.id, self.family, self._format)

    def _require_current(self) -> BinaryIO:
        if self._current is None:
            raise RuntimeError("file sink has no open file; recover() was not called")
        return self._current


def lane_files(sink: SinkConfig, family: str) -> Iterator[tuple[FileName, Path]]:
    """Yield the files of ``sink`` and ``family`` in its directory, oldest name first."""
    folder = sink.directory_path()
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        name = parse_name(path.name, sink.id, family, sink.format)
        if name is not None and path.is_file():
            yield name, path
