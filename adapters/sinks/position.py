"""Position records: the progress of each lane of a sink, written atomically after fsync.

A lane is one sink reading one stream. Its record contains the last stream
sequence whose event reached a final outcome (delivered, filtered out or
dead-lettered), and for a file sink the file and byte offset that go with
it. The record is the source of truth for progress: every start recreates
the lane's consumer from the next sequence, so the consumer's own
acknowledgement state can lag behind without harm.

A record is replaced, never edited in place: the new content goes to a
temporary file that is flushed and fsynced, renamed over the old one, and
the folder is fsynced, so after a crash the record is either the old or
the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import msgspec

from adapters.sinks.config import SinkConfig
from bus.errors import BusError
from bus.i18n import N_


class SinkRunningError(BusError):
    """Another process already runs the same sink."""

    template = N_(
        "Sink {sink} is already running (lock {path} is held). Stop the other process "
        "first; two runners would deliver the same events twice."
    )


class SinkStateError(BusError):
    """A lane's record cannot be read or does not match its files."""


class LanePosition(msgspec.Struct, kw_only=True):
    """Progress of one sink on one stream."""

    sink: str
    stream: str
    last_seq: int = 0
    """Last stream sequence with a final outcome; the lane resumes after it."""
    delivered: int = 0
    """Events delivered so far, over all runs."""
    dead_letters: int = 0
    last_delivery_at: datetime | None = None
    file: str | None = None
    """File sinks: name of the file the last event was written to."""
    offset: int = 0
    """File sinks: size of ``file`` up to and including the last recorded event."""


_decoder = msgspec.json.Decoder(LanePosition)


def load_position(path: Path, sink: str, stream: str) -> LanePosition | None:
    """Read the record at ``path``; None when there is none yet.

    Raises:
        SinkStateError: the record exists but is not a valid record of this lane.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        position = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise SinkStateError(
            N_("The position record {path} of sink {sink} is damaged: {detail}. Restore it "
               "from a backup, or delete it to deliver the stream {stream} again from the "
               "first event."),
            path=str(path),
            sink=sink,
            stream=stream,
            detail=str(exc),
        ) from exc
    if position.sink != sink or position.stream != stream:
        raise SinkStateError(
            N_("The position record {path} belongs to sink {found_sink} on {found_stream}, "
               "not to sink {sink} on {stream}. Give each sink its own directory or id."),
            path=str(path),
            sink=sink,
            stream=stream,
            found_sink=position.sink,
            found_stream=position.stream,
        )
    return position


def save_position(path: Path, position: LanePosition) -> None:
    """Replace the record at ``path`` durably (temporary file, fsync, rename, folder fsync)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as stream:
        stream.write(msgspec.json.encode(position))
        stream.flush()
        os.fsync(stream.fileno())
    temporary.replace(path)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Fsync a folder so that a rename or a new file in it survives a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def sink_lock(path: Path, sink: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while the sink runs.

    The kernel releases a ``flock`` when its process dies, even by SIGKILL,
    so a crashed runner leaves no stale lock.

    Raises:
        SinkRunningError: another process holds the lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise SinkRunningError(sink=sink, path=str(path)) from exc
        lock_file.truncate(0)
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def position_path(sink: SinkConfig, family: str, data_dir: Path) -> Path:
    """Return the record of ``sink`` on the stream of ``family``.

    A file sink keeps it beside its files, so that files and record move
    together; an HTTP sink keeps it in the data folder.
    """
    if sink.target == "file":
        return sink.directory_path() / f".{sink.id}.{family}.position.json"
    return data_dir / "sinks" / f"{sink.id}.{family}.position.json"


def lock_path(sink: SinkConfig, data_dir: Path) -> Path:
    """Return the lock file that keeps a second runner of ``sink`` away."""
    if sink.target == "file":
        return sink.directory_path() / f".{sink.id}.lock"
    return data_dir / "sinks" / f"{sink.id}.lock"
