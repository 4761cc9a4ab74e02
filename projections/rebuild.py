"""Rebuilding a projection's store from the first message of its stream, then swapping it in.

The rebuild writes a shadow store, ``<name>.rebuild.sqlite`` beside the live
``<name>.sqlite``, with the batch step of the runtime, while the live store
keeps serving reads and a following runner keeps updating it. The swap:

1. once the shadow is within one batch of the stream's last sequence (or
   after ``MAX_UNLOCKED_ROUNDS`` catch-up reads), take the store lock of the
   runtime, waiting a bounded time for a runner to stop;
2. under the lock, apply the messages stored since, up to the stream's last
   sequence at that moment, and turn the shadow into a single file (rollback
   journal, no write-ahead log);
3. switch the live store out of WAL mode, so that no ``-wal`` or ``-shm``
   file of the old database stays beside the new one, where SQLite would read
   it as the new database's log;
4. hard-link the live store to ``<name>.previous.sqlite`` (one rollback) and
   ``os.replace`` the shadow onto the live path.

Readers that opened the old file keep reading that file until they reopen
it, and new readers see the new store. The next run recreates the durable
consumer from the new stored sequence, as every run does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import time
from contextlib import aclosing
from pathlib import Path
from typing import Protocol

import msgspec
import nats.js.errors
import structlog
from nats.js import JetStreamContext

from bus.connect import open_bus
from bus.errors import BusError, StreamError
from bus.i18n import N_
from bus.settings import Settings
from projections.base import Projection
from projections.checkpoint_store import ProjectionStore
from projections.runtime import ProjectionRunningError, exclusive_lock
from replay.asof import AsOfResult, BatchApplier, remove_database
from replay.reader import FETCH_BATCH, ReadProgress, ReplayWindow, StreamReader

log = structlog.get_logger(__name__)

DEFAULT_LOCK_WAIT_S = 10.0
"""How long the swap waits for a runner to release the store lock."""
DEFAULT_READERS_WAIT_S = 10.0
"""How long the swap retries while other connections keep the live store open in WAL mode."""
MAX_UNLOCKED_ROUNDS = 5
"""Catch-up reads before taking the lock; publishers faster than the rebuild end them early."""
_POLL_S = 0.05


class RebuildBlockedError(BusError):
    """A runner kept the store lock for longer than the rebuild waits."""

    template = N_(
        "A runner of projection {projection} still holds the store lock {path} after "
        "{seconds:.0f} s, so the rebuilt store was not swapped in and was removed. Stop the "
        "runner (zwbus projections run) and rebuild again, or give --wait SECONDS to wait "
        "longer for it to stop."
    )


class RebuildRunningError(BusError):
    """Another process is rebuilding the same projection."""

    template = N_(
        "Another process is already rebuilding projection {projection} into {path}. "
        "Wait for it to finish."
    )


class StoreInUseError(BusError):
    """Other connections kept the live store open in WAL mode during the whole swap wait."""

    template = N_(
        "Other programs kept the store {path} of projection {projection} open for "
        "{seconds:.0f} s, so it could not be swapped safely; the rebuilt store was removed. "
        "Close the programs that keep it open and rebuild again."
    )


class RebuildListener(ReadProgress, Protocol):
    """Receiver of a rebuild's progress and of the events a person should hear about.

    ``started`` is called again with a larger last sequence for each catch-up read.
    """

    def stale_shadow_removed(self, path: Path) -> None:
        """Report that a shadow store left by an unfinished rebuild was deleted."""
        ...

    def waiting_for_lock(self, lock_path: Path, wait_s: float) -> None:
        """Report that a runner holds the store lock and the rebuild waits for it."""
        ...


class RebuildResult(msgspec.Struct, kw_only=True):
    """Outcome of a rebuild, updated while it runs."""

    projection: str
    stream: str
    path: str
    previous_path: str | None = None
    """Path of the replaced store, kept for one rollback; None before the swap or without one."""
    swapped: bool = False
    stale_shadow_removed: bool = False
    stored_before: int = 0
    """Stored sequence of the live store just before the swap."""
    stored_after: int = 0
    """Stored sequence of the rebuilt store: the stream's last sequence under the lock."""
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    set_aside: int = 0
    seconds: float = 0.0


def shadow_path(live: Path) -> Path:
    """Return ``<name>.rebuild.sqlite`` beside the live store ``<name>.sqlite``."""
    return live.with_name(f"{live.stem}.rebuild.sqlite")


def previous_path(live: Path) -> Path:
    """Return ``<name>.previous.sqlite``, where the swap keeps the replaced store."""
    return live.with_name(f"{live.stem}.previous.sqlite")


class ProjectionRebuild:
    """Rebuild one projection's store: ``await ProjectionRebuild(p, settings).run()``.

    ``result`` is updated while the rebuild runs, so a caller that is
    cancelled can tell from ``result.swapped`` whether the swap happened.
    """

    def __init__(
        self,
        projection: Projection,
        settings: Settings,
        *,
        lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
        readers_wait_s: float = DEFAULT_READERS_WAIT_S,
        batch_size: int = FETCH_BATCH,
        listener: RebuildListener | None = None,
    ) -> None:
        self.projection = projection
        self.settings = settings
        self.live = projection.store_file(settings.data_dir)
        self.shadow = shadow_path(self.live)
        self.result = RebuildResult(
            projection=projection.name, stream=projection.stream, path=str(self.live)
        )
        self._lock_wait_s = lock_wait_s
        self._readers_wait_s = readers_wait_s
        self._batch_size = batch_size
        self._listener = listener
        self._counts = AsOfResult(
            projection=projection.name,
            stream=projection.stream,
            path=str(self.shadow),
            as_of=None,
            to_seq=None,
            last_seq=0,
        )
        self._first_seq = 1

    async def run(self) -> RebuildResult:
        """Build the shadow store, catch it up under the store lock and swap it in.

        Raises:
            StreamError: the projection's stream does not exist or stalls.
            RebuildRunningError: another process rebuilds this projection.
            RebuildBlockedError: a runner kept the store lock for ``lock_wait_s``.
            StoreInUseError: other connections kept the live store in WAL mode open.
        """
        started = time.monotonic()
        name = self.projection.name
        try:
            with exclusive_lock(self.shadow, name):
                async with open_bus(self.settings, name=f"zwbus-rebuild-{name}") as (_client, js):
                    await self._check_stream(js)
                    self._remove_stale_shadow()
                    try:
                        await self._build_and_swap(js)
                    except BaseException:
                        remove_database(self.shadow)
                        log.warning("projection_rebuild_abandoned", projection=name)
                        raise
        except ProjectionRunningError as exc:
            raise RebuildRunningError(projection=name, path=self.shadow) from exc

        self.result.seconds = time.monotonic() - started
        log.info(
            "projection_rebuild_finished",
            projection=name,
            stored_before=self.result.stored_before,
            stored_after=self.result.stored_after,
            applied=self.result.applied,
            set_aside=self.result.set_aside,
            seconds=round(self.result.seconds, 3),
        )
        return self.result

    async def _check_stream(self, js: JetStreamContext) -> None:
        try:
            info = await js.stream_info(self.projection.stream)
        except nats.js.errors.NotFoundError as exc:
            raise StreamError(
                N_("Stream {stream} of projection {projection} was not found on the server, "
                   "so there is nothing to rebuild from. Check --nats-url, or declare the "
                   "streams with zwbus streams apply."),
                stream=self.projection.stream,
                projection=self.projection.name,
            ) from exc
        self._first_seq = max(int(info.state.first_seq), 1)
        log.info(
            "projection_rebuild_started",
            projection=self.projection.name,
            stream=self.projection.stream,
            stream_first_seq=self._first_seq,
            stream_last_seq=int(info.state.last_seq),
            shadow=str(self.shadow),
        )

    def _remove_stale_shadow(self) -> None:
        # The shadow lock is held, so a shadow file here is left by a
        # rebuild that was killed before it could clean up.
        leftovers = [self.shadow, *(Path(f"{self.shadow}{s}") for s in ("-wal", "-shm"))]
        if not any(path.exists() for path in leftovers):
            return
        remove_database(self.shadow)
        self.result.stale_shadow_removed = True
        log.warning("projection_rebuild_stale_shadow_removed", path=str(self.shadow))
        if self._listener is not None:
            self._listener.stale_shadow_removed(self.shadow)

    async def _build_and_swap(self, js: JetStreamContext) -> None:
        with contextlib.ExitStack() as store_lock:
            async with ProjectionStore.open(self.shadow, projection=self.projection.name) as store:
                await self.projection.create_schema(store.connection)
                applier = BatchApplier(self.projection, self.settings, store)
                await self._catch_up_unlocked(js, applier)

                await self._acquire_store_lock(store_lock)
                await self._read_round(js, applier)
                await store.make_single_file()

            self.result.stored_before = await self._leave_wal_mode()
            self.result.stored_after = self._counts.last_seq
            self._swap()

    async def _catch_up_unlocked(self, js: JetStreamContext, applier: BatchApplier) -> None:
        for _round in range(MAX_UNLOCKED_ROUNDS):
            await self._read_round(js, applier)
            info = await js.stream_info(self.projection.stream)
            if int(info.state.last_seq) - self._counts.last_seq <= self._batch_size:
                return

    async def _read_round(self, js: JetStreamContext, applier: BatchApplier) -> None:
        """Apply the stream from the shadow's stored sequence to its last sequence right now."""
        counts = self._counts
        window = ReplayWindow(from_seq=max(counts.last_seq + 1, self._first_seq))
        async with StreamReader.open(
            js, self.projection.stream, window, batch_size=self._batch_size
        ) as reader:
            if self._listener is not None:
                self._listener.started(self._first_seq, max(reader.last_seq, counts.last_seq))
            async with aclosing(reader.batches()) as batches:
                async for batch in batches:
                    await applier.apply(batch, counts)
                    self._copy_counts()
                    if self._listener is not None:
                        self._listener.advanced(counts.last_seq, counts.applied)

    def _copy_counts(self) -> None:
        self.result.read = self._counts.read
        self.result.applied = self._counts.applied
        self.result.duplicates = self._counts.duplicates
        self.result.set_aside = self._counts.set_aside

    async def _acquire_store_lock(self, stack: contextlib.ExitStack) -> None:
        """Enter the runtime's store lock into ``stack``, polling for up to ``lock_wait_s``."""
        deadline = time.monotonic() + self._lock_wait_s
        lock_path = self.live.with_name(self.live.name + ".lock")
        announced = False
        while True:
            try:
                stack.enter_context(exclusive_lock(self.live, self.projection.name))
                return
            except ProjectionRunningError as exc:
                if time.monotonic() >= deadline:
                    raise RebuildBlockedError(
                        projection=self.projection.name, path=lock_path, seconds=self._lock_wait_s
                    ) from exc
            if not announced:
                announced = True
                log.info("projection_rebuild_waiting_for_lock", path=str(lock_path))
                if self._listener is not None:
                    self._listener.waiting_for_lock(lock_path, self._lock_wait_s)
            await asyncio.sleep(_POLL_S)

    async def _leave_wal_mode(self) -> int:
        """Switch the live store to a rollback journal; return its stored sequence.

        SQLite refuses the switch while another connection has the file open
        in WAL mode, so it is retried for up to ``readers_wait_s``.
        """
        if not self.live.is_file():
            return 0
        name = self.projection.name
        deadline = time.monotonic() + self._readers_wait_s
        async with ProjectionStore.open(self.live, projection=name, create=False) as store:
            stored = await store.stored_sequence(name)
            while True:
                try:
                    await store.pragma("journal_mode = DELETE")
                    return stored
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        raise StoreInUseError(
                            projection=name, path=self.live, seconds=self._readers_wait_s
                        ) from exc
                await asyncio.sleep(_POLL_S)

    def _swap(self) -> None:
        # No await from here on: a cancellation cannot stop the swap halfway.
        # NOTE: a reader that opened the old file and starts a new read while
        # a writer of the new file has a rollback journal open would take that
        # journal for a hot journal of the old file. Runners switch the store
        # to WAL mode on start, so this needs a reader kept open across a
        # rebuild and the next runner start.
        if self.live.is_file():
            previous = previous_path(self.live)
            remove_database(previous)
            try:
                os.link(self.live, previous)
            except OSError:
                shutil.copy2(self.live, previous)
            self.result.previous_path = str(previous)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.live}{suffix}").unlink(missing_ok=True)

        _fsync(self.shadow)
        self.shadow.replace(self.live)
        _fsync(self.live.parent)
        self.result.swapped = True
        log.info(
            "projection_rebuild_swapped",
            projection=self.projection.name,
            path=str(self.live),
            previous=self.result.previous_path,
            stored_before=self.result.stored_before,
            stored_after=self.result.stored_after,
        )


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
