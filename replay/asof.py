"""Point-in-time builds: a projection's store as it stood at one moment of its stream.

The build reads the projection's stream from the first message up to a
sequence, or up to a moment of the stream's own timestamps (when the
server stored each message). It applies every batch the way the projection
runtime does, in one transaction that sets aside what cannot be applied,
applies the rest and writes the checkpoint. The result is the store the
runtime would have had if it had caught up at that moment.

The store is built under a temporary name beside the target and renamed
when complete, as a single file without a write-ahead log.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from datetime import datetime
from pathlib import Path

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from bus.errors import ConfigError
from bus.i18n import N_
from bus.settings import Settings
from projections.base import Projection
from projections.checkpoint_store import ProjectionStore
from projections.faults import NoFault
from projections.runtime import ProjectionRunner
from replay.reader import FETCH_BATCH, ReadProgress, ReplayWindow, StreamReader

log = structlog.get_logger(__name__)

_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class OutputExistsError(ConfigError):
    """The target file of a build exists and replacing it was not allowed."""

    template = N_("{path} already exists. Choose another --out, or add --force to replace it.")


class AsOfResult(msgspec.Struct, kw_only=True):
    """Outcome of a point-in-time build: its bounds, checkpoint and counts."""

    projection: str
    stream: str
    path: str
    as_of: datetime | None
    to_seq: int | None
    last_seq: int
    """Checkpoint of the built store: the last stream sequence applied, 0 when none."""
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    set_aside: int = 0
    seconds: float = 0.0


class BatchApplier:
    """The runtime's batch step, without the acknowledgement a replay consumer does not take."""

    def __init__(self, projection: Projection, settings: Settings, store: ProjectionStore) -> None:
        self._projection = projection
        self._store = store
        self._runner = ProjectionRunner(projection, settings, faults=NoFault())

    async def apply(self, messages: list[Msg], result: AsOfResult) -> None:
        last = messages[-1].metadata.sequence.stream
        async with self._store.transaction() as connection:
            # The runner's own step (set aside, then apply) keeps a
            # point-in-time store identical to one the runtime writes.
            counts, set_aside = await self._runner.apply_fresh(connection, messages)
            await self._store.write_checkpoint(self._projection.name, self._projection.stream, last)
        result.read += len(messages)
        result.applied += counts.applied
        result.duplicates += counts.duplicates
        result.set_aside += set_aside
        result.last_seq = last


def check_window(window: ReplayWindow) -> None:
    """Reject bounds that would not give the store as of one moment.

    Raises:
        ConfigError: the window has a lower bound, or no upper bound.
    """
    if window.from_seq is not None or window.since is not None:
        raise ConfigError(
            N_("A point-in-time build reads the stream from its start; --from-seq and "
               "--since cannot be used with --projection.")
        )
    if window.until is None and window.to_seq is None:
        raise ConfigError(N_("A point-in-time build needs --as-of TIME or --to-seq SEQ."))


def refuse_existing(out: Path) -> None:
    """Raise ``OutputExistsError`` when ``out`` exists."""
    if out.exists():
        raise OutputExistsError(path=out)


async def build_as_of(
    js: JetStreamContext,
    projection: Projection,
    settings: Settings,
    out: Path,
    window: ReplayWindow,
    *,
    overwrite: bool = False,
    progress: ReadProgress | None = None,
    batch_size: int = FETCH_BATCH,
) -> AsOfResult:
    """Build ``projection``'s store as of ``window.until`` and/or ``window.to_seq`` into ``out``.

    Raises:
        ConfigError: the window is not a point in time.
        OutputExistsError: ``out`` exists and ``overwrite`` is false.
        StreamError: the projection's stream is missing or stalls.
    """
    check_window(window)
    if not overwrite:
        refuse_existing(out)

    started = time.monotonic()
    result = AsOfResult(
        projection=projection.name,
        stream=projection.stream,
        path=str(out),
        as_of=window.until,
        to_seq=window.to_seq,
        last_seq=0,
    )
    log.info(
        "replay_as_of_started",
        projection=projection.name,
        stream=projection.stream,
        as_of=None if window.until is None else window.until.isoformat(),
        to_seq=window.to_seq,
        path=str(out),
    )
    async with _temporary_store(out, projection) as store:
        await projection.create_schema(store.connection)
        applier = BatchApplier(projection, settings, store)
        async with StreamReader.open(
            js, projection.stream, window, batch_size=batch_size
        ) as reader:
            announced = False
            async with aclosing(reader.batches()) as batches:
                async for batch in batches:
                    if progress is not None and not announced and reader.first_read is not None:
                        progress.started(reader.first_read, reader.last_seq)
                        announced = True
                    await applier.apply(batch, result)
                    if progress is not None:
                        progress.advanced(reader.position, result.applied)
        # A single file is easier to hand over than a database with a WAL beside it.
        await store.make_single_file()

    result.seconds = time.monotonic() - started
    log.info(
        "replay_as_of_finished",
        projection=projection.name,
        path=str(out),
        last_seq=result.last_seq,
        read=result.read,
        applied=result.applied,
        duplicates=result.duplicates,
        set_aside=result.set_aside,
        seconds=round(result.seconds, 3),
    )
    return result


@asynccontextmanager
async def _temporary_store(out: Path, projection: Projection) -> AsyncIterator[ProjectionStore]:
    """Open a fresh store beside ``out``; rename it to ``out`` only when the body succeeds."""
    temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")
    remove_database(temporary)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        async with ProjectionStore.open(temporary, projection=projection.name) as store:
            yield store
        # A journal left beside an older file of that name would be applied
        # to the new database when it is opened, so it goes first.
        remove_database(out)
        temporary.replace(out)
    finally:
        remove_database(temporary)


def remove_database(path: Path) -> None:
    path.unlink(missing_ok=True)
    for suffix in _SQLITE_SIDE_FILES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
