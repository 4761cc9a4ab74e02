"""The SQLite store of one projection: its read model, checkpoint and set-aside messages.

Each projection keeps one database file, ``<data_dir>/projections/<name>.sqlite``,
in WAL mode. The ``checkpoint`` row is the source of truth for progress: it
is written in the same transaction as the rows it covers, so after a crash
the store is either before or after a whole batch, never in between.

WAL with ``synchronous=NORMAL`` survives a crash of the process. A power
loss may drop the last commits, and then the checkpoint moves back with
them. That loses nothing, because the projection recreates its consumer
from the stored sequence on every start and so applies those batches again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bus.errors import BusError
from bus.i18n import N_
from projections import set_aside
from projections.wal_copier import WalCopier

CACHE_KIB = 65_536
"""Page cache per connection; the default 2 MiB makes random event-id inserts read from disk."""
WAL_CHECKPOINT_PAGES = 16_384
"""WAL pages (64 MiB at 4 KiB) after which a commit copies the log into the database.

A writing store copies the log after each commit from a thread of its own
(``projections.wal_copier``), so this limit is the fallback for a copier
that fell behind or stopped. At SQLite's default of 1,000 pages, the 40
commits of a case projection catching up on 20,000 events took 0.27 s,
most of it in those copies and their fsyncs. At this size they took 0.08 s.
"""
BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another writer's transaction (a retry, a second runner)."""

_CHECKPOINT_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    projection TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
"""


class StoreNotFoundError(BusError):
    """The store of a projection does not exist yet."""

    template = N_(
        "The store of projection {projection} was not found at {path}. "
        "Build it first: zwbus projections run {projection}"
    )


def store_path(data_dir: Path, projection: str) -> Path:
    """Return the database file of ``projection`` under ``data_dir``."""
    return data_dir / "projections" / f"{projection}.sqlite"


def _prepare_path(path: Path, projection: str, *, create: bool) -> None:
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.is_file():
        raise StoreNotFoundError(projection=projection, path=path)


class ProjectionStore:
    """An open projection database; create it with ``ProjectionStore.open``."""

    def __init__(
        self, connection: aiosqlite.Connection, path: Path, copier: WalCopier | None = None
    ) -> None:
        self.connection = connection
        self.path = path
        self._copier = copier

    @classmethod
    @asynccontextmanager
    async def open(
        cls, path: Path, *, projection: str, create: bool = True
    ) -> AsyncIterator[ProjectionStore]:
        """Open the store at ``path`` and close it on exit.

        With ``create`` the file, folder and bookkeeping tables are created
        when missing; without it a missing file raises ``StoreNotFoundError``.
        """
        _prepare_path(path, projection, create=create)

        # isolation_level=None leaves transactions to the explicit BEGIN and
        # COMMIT of ``transaction()`` instead of sqlite3's implicit ones.
        connection = await aiosqlite.connect(path, isolation_level=None)
        copier: WalCopier | None = None
        try:
            connection.row_factory = aiosqlite.Row
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if create:
                await connection.execute("PRAGMA journal_mode = WAL")
                await connection.execute("PRAGMA synchronous = NORMAL")
                await connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
                await connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
                await connection.executescript(_CHECKPOINT_SCHEMA + set_aside.SCHEMA)
                copier = WalCopier(path)
                copier.start()
            yield cls(connection, path, copier)
        finally:
            try:
                if copier is not None:
                    await copier.stop()
            finally:
                await connection.close()

    async def make_single_file(self) -> None:
        """Copy the log into the database file and leave WAL mode, so that closing leaves no log.

        The background copier is stopped first, because SQLite leaves WAL
        mode only while a single connection has the file open.
        """
        if self._copier is not None:
            await self._copier.stop()
        await self.pragma("wal_checkpoint(TRUNCATE)")
        await self.pragma("journal_mode = DELETE")

    async def pragma(self, pragma: str) -> None:
        """Run ``PRAGMA pragma`` and read its result to the end."""
        # Reading the result finishes the statement; SQLite refuses to leave
        # WAL mode while a statement of the connection is still open.
        async with self.connection.execute(f"PRAGMA {pragma}") as cursor:
            await cursor.fetchall()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the body in one write transaction: commit on success, roll back on error."""
        await self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            await self.connection.execute("ROLLBACK")
            raise
        await self.connection.execute("COMMIT")
        if self._copier is not None:
            self._copier.nudge()

    async def stored_sequence(self, projection: str) -> int:
        """Return the last stream sequence applied by ``projection``, 0 when none."""
        rows = list(
            await self.connection.execute_fetchall(
                "SELECT seq FROM checkpoint WHERE projection = ?", (projection,)
            )
        )
        return int(rows[0]["seq"]) if rows else 0

    async def write_checkpoint(self, projection: str, stream: str, seq: int) -> None:
        """Record ``seq`` as applied; call it inside the transaction of the batch."""
        await self.connection.execute(
            "INSERT INTO checkpoint (projection, stream, seq, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (projection) DO UPDATE SET "
            "stream = excluded.stream, seq = excluded.seq, updated_at = excluded.updated_at",
            (projection, stream, seq, datetime.now(UTC).isoformat()),
        )
