"""Multi-row inserts on a real SQLite file: each row once, in order, conflicts resolved."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from projections.sql import ROW_STEP, insert_rows

_UPSERT = " ON CONFLICT (id) DO UPDATE SET note = excluded.note"


async def _rows(connection: aiosqlite.Connection) -> list[tuple[int, str]]:
    rows = await connection.execute_fetchall("SELECT id, note FROM t ORDER BY id")
    return [(row[0], row[1]) for row in rows]


@pytest.mark.parametrize("count", [0, 1, ROW_STEP - 1, ROW_STEP, ROW_STEP + 1, 1300])
async def test_every_row_inserted_once(tmp_path: Path, count: int) -> None:
    async with aiosqlite.connect(tmp_path / "t.sqlite") as connection:
        await connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
        rows = [(index, f"note {index}") for index in range(count)]

        await insert_rows(connection, "INSERT INTO t (id, note)", rows)

        assert await _rows(connection) == rows


async def test_later_row_wins_conflict_across_statements(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "t.sqlite") as connection:
        await connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
        rows = [(1, f"version {index}") for index in range(ROW_STEP * 2 + 3)]

        await insert_rows(connection, "INSERT INTO t (id, note)", rows, tail=_UPSERT)

        assert await _rows(connection) == [(1, f"version {ROW_STEP * 2 + 2}")]


async def test_duplicate_key_without_conflict_clause_fails(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "t.sqlite") as connection:
        await connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")

        with pytest.raises(aiosqlite.IntegrityError):
            await insert_rows(connection, "INSERT INTO t (id, note)", [(1, "a"), (1, "b")])
