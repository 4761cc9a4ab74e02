"""The background log copier on a real SQLite file in WAL mode."""

from __future__ import annotations

import threading
from pathlib import Path

from projections.checkpoint_store import WAL_CHECKPOINT_PAGES, ProjectionStore
from tests.projections.helpers import wait_for

ROW_BYTES = 4_000
ROWS_PER_COMMIT = 50
COMMITS = 10
WAIT_S = 10.0


async def _write(store: ProjectionStore) -> None:
    await store.connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, x TEXT)")
    for commit in range(COMMITS):
        async with store.transaction() as connection:
            rows = [
                (commit * ROWS_PER_COMMIT + index, "x" * ROW_BYTES)
                for index in range(ROWS_PER_COMMIT)
            ]
            await connection.executemany("INSERT INTO t (id, x) VALUES (?, ?)", rows)


def _log_exists(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


def _copier_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "wal-copier"]


async def test_copier_fills_database_file(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    written = ROW_BYTES * ROWS_PER_COMMIT * COMMITS
    # Far below the writer's own checkpoint size, so only the copier copies.
    assert written < WAL_CHECKPOINT_PAGES * 4096 // 10

    async with ProjectionStore.open(path, projection="t") as store:
        target = path.stat().st_size + written // 2
        await _write(store)

        # The copier works on its own thread, which a blocking wait here does not hold up.
        assert wait_for(lambda: path.stat().st_size >= target, WAIT_S)


async def test_copier_ends_with_store(tmp_path: Path) -> None:
    async with ProjectionStore.open(tmp_path / "store.sqlite", projection="t") as store:
        await _write(store)
        assert len(_copier_threads()) == 1

    assert _copier_threads() == []


async def test_copier_single_file_while_running(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    async with ProjectionStore.open(path, projection="t") as store:
        await _write(store)
        await store.make_single_file()
        rows = list(await store.connection.execute_fetchall("SELECT count(*) FROM t"))

    assert rows[0][0] == ROWS_PER_COMMIT * COMMITS
    assert not _log_exists(path)


async def test_copier_absent_for_reading_store(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    async with ProjectionStore.open(path, projection="t") as store:
        await _write(store)

    async with ProjectionStore.open(path, projection="t", create=False):
        assert _copier_threads() == []
