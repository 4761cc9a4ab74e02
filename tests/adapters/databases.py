"""Tables on the machine's PostgreSQL and MariaDB servers for the SQL poller tests.

Each test gets a freshly created table with a unique name, dropped after the
test. A test is skipped, with the reason, only when the database server does
not accept connections on its loopback port.

Every statement the tests run is bounded twice. The server gives up waiting
for a lock after ``LOCK_WAIT_S`` (``lock_timeout`` on PostgreSQL,
``lock_wait_timeout`` on MariaDB), and the client after ``STATEMENT_WAIT_S``.
A lock held elsewhere then fails the test with the statement it blocked,
instead of hanging until the test runner's own timeout.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg
import pytest

from tests.adapters.family_helpers import review_row
from tests.adapters.helpers import COLUMNS, write_profile


@dataclass(frozen=True)
class Layout:
    """The export columns a test table stores, and which of them are not text."""

    columns: tuple[str, ...]
    times: frozenset[str] = frozenset()
    """Columns stored as a time without zone; the rest are text unless listed below."""
    integers: frozenset[str] = frozenset()


LOCK_WAIT_S = 20
"""How long the server lets a test statement wait for a lock."""
STATEMENT_WAIT_S = 30.0
"""How long a test waits for one of its statements, lock waits included."""

CASE_LAYOUT = Layout(COLUMNS, times=frozenset({"time"}), integers=frozenset({"days"}))
"""Columns of the case test export (``tests.adapters.helpers.case_row``)."""
REVIEW_LAYOUT = Layout(tuple(review_row("", "rated", "")), times=frozenset({"time"}))
"""Columns of the review test export (``tests.adapters.family_helpers.review_row``)."""


@dataclass(frozen=True)
class Server:
    """A database server the tests may use."""

    driver: str
    port: int
    dsn_line: str
    """The ``[poll]`` lines that point the poller at the server."""


SERVERS = {
    "postgresql": Server("postgresql", 5432, 'dsn = "postgresql://postgres@127.0.0.1:5432/test"'),
    "mariadb": Server(
        "mariadb",
        3306,
        'driver = "mariadb"\nhost = "127.0.0.1"\nport = 3306\nuser = "root"\ndatabase = "test"',
    ),
}


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0):
            return True
    except OSError:
        return False


class Table:
    """A test table of export rows, with the statements the tests run on it.

    Columns: ``row_key`` (text key), ``row_id`` (integer), every column of the
    layout (times without zone, integers and text) and ``updated_at`` (a time
    without zone, to the second on MariaDB).
    """

    def __init__(
        self, server: Server, name: str, connection: Any, layout: Layout = CASE_LAYOUT
    ) -> None:
        self.server = server
        self.name = name
        self.layout = layout
        self._conn = connection

    @property
    def postgres(self) -> bool:
        return self.server.driver == "postgresql"

    def quote(self, name: str) -> str:
        return f'"{name}"' if self.postgres else f"`{name}`"

    async def execute(self, statement: str, *args: object) -> None:
        """Run ``statement``; fail naming it when it does not finish within ``STATEMENT_WAIT_S``."""
        try:
            async with asyncio.timeout(STATEMENT_WAIT_S):
                await self._execute(statement, *args)
        except TimeoutError:
            raise AssertionError(
                f"{self.server.driver} did not finish within {STATEMENT_WAIT_S} s: {statement}"
            ) from None

    async def _execute(self, statement: str, *args: object) -> None:
        if self.postgres:
            await self._conn.execute(statement, *args)
            return
        async with self._conn.cursor() as cursor:
            await cursor.execute(statement, args or None)

    def _params(self, count: int) -> str:
        if self.postgres:
            return ", ".join(f"${index}" for index in range(1, count + 1))
        return ", ".join(["%s"] * count)

    def _column_type(self, column: str) -> str:
        if column == "updated_at" or column in self.layout.times:
            # DATETIME is MySQL's time without a zone; its TIMESTAMP converts by session zone.
            return "TIMESTAMP" if self.postgres else "DATETIME"
        if column in self.layout.integers:
            return "INTEGER"
        return "VARCHAR(200)"

    async def create(self) -> None:
        columns = [
            f"{self.quote('row_key')} VARCHAR(40) NOT NULL PRIMARY KEY",
            f"{self.quote('row_id')} BIGINT NOT NULL",
            *(
                f"{self.quote(column)} {self._column_type(column)}"
                for column in self.layout.columns
            ),
            f"{self.quote('updated_at')} {self._column_type('updated_at')} NULL",
        ]
        await self.execute(f"CREATE TABLE {self.quote(self.name)} ({', '.join(columns)})")

    async def insert(
        self,
        row_key: str,
        row_id: int,
        updated_at: datetime,
        row: Mapping[str, str],
        *,
        into: str | None = None,
    ) -> None:
        """Insert an export row; ``into`` names another table than this one (a renamed one)."""
        values: dict[str, object] = {"row_key": row_key, "row_id": row_id}
        for column in self.layout.columns:
            raw = row[column]
            if column in self.layout.times:
                values[column] = datetime.fromisoformat(raw) if raw else None
            elif column in self.layout.integers:
                values[column] = int(raw) if raw else None
            else:
                values[column] = raw
        values["updated_at"] = updated_at
        names = ", ".join(self.quote(column) for column in values)
        await self.execute(
            f"INSERT INTO {self.quote(into or self.name)} ({names}) "
            f"VALUES ({self._params(len(values))})",
            *values.values(),
        )

    async def update(self, row_key: str, **values: object) -> None:
        placeholders = self._params(len(values) + 1).split(", ")
        assignments = ", ".join(
            f"{self.quote(column)} = {placeholder}"
            for column, placeholder in zip(values, placeholders, strict=False)
        )
        await self.execute(
            f"UPDATE {self.quote(self.name)} SET {assignments} "
            f"WHERE {self.quote('row_key')} = {placeholders[-1]}",
            *values.values(),
            row_key,
        )

    async def delete(self, row_key: str) -> None:
        await self.execute(
            f"DELETE FROM {self.quote(self.name)} WHERE {self.quote('row_key')} = "
            f"{self._params(1)}",
            row_key,
        )

    async def rename(self, old: str, new: str) -> None:
        if self.postgres:
            await self.execute(f"ALTER TABLE {self.quote(old)} RENAME TO {self.quote(new)}")
        else:
            await self.execute(f"RENAME TABLE {self.quote(old)} TO {self.quote(new)}")

    async def drop(self, name: str | None = None) -> None:
        await self.execute(f"DROP TABLE IF EXISTS {self.quote(name or self.name)}")

    def write_profile(self, path: Path, *, timezone: str = "Asia/Shanghai", **poll: object) -> Path:
        """Write the case test profile with a ``[poll]`` table for this table."""
        write_profile(path, timezone=timezone)
        with path.open("a", encoding="utf-8") as stream:
            stream.write(self.poll_table(**poll))
        return path

    def poll_table(self, **poll: object) -> str:
        """Return the ``[poll]`` table that points the poller at this table; ``poll`` sets keys."""
        settings: dict[str, object] = {
            "table": self.name,
            "watermark": "updated_at",
            "key": "row_key",
            "kind": "time",
            "interval_s": 0.05,
            "batch_size": 500,
        } | poll
        lines = ["", "[poll]", self.server.dsn_line]
        for key, value in settings.items():
            # A JSON string is also a valid TOML basic string.
            lines.append(f"{key} = {json.dumps(value) if isinstance(value, str) else value}")
        return "\n".join(lines) + "\n"


async def _connect(server: Server) -> Any:
    if server.driver == "postgresql":
        return await asyncpg.connect(
            host="127.0.0.1",
            port=5432,
            user="postgres",
            database="test",
            timeout=STATEMENT_WAIT_S,
            server_settings={"lock_timeout": f"{LOCK_WAIT_S}s"},
        )
    return await asyncmy.connect(
        host="127.0.0.1",
        port=3306,
        user="root",
        password="",
        database="test",
        autocommit=True,
        connect_timeout=round(STATEMENT_WAIT_S),
        init_command=(
            f"SET SESSION lock_wait_timeout = {LOCK_WAIT_S}, "
            f"innodb_lock_wait_timeout = {LOCK_WAIT_S}"
        ),
    )


async def _close(server: Server, connection: Any) -> None:
    if server.driver == "postgresql":
        await connection.close(timeout=STATEMENT_WAIT_S)
    else:
        connection.close()


async def open_table(driver: str, layout: Layout = CASE_LAYOUT) -> AsyncIterator[Table]:
    """Yield a new, empty table of ``layout`` on the named server and drop it afterwards."""
    server = SERVERS[driver]
    if not _reachable(server.port):
        pytest.skip(f"{driver} does not accept connections on 127.0.0.1:{server.port}")
    connection = await _connect(server)
    table = Table(server, f"zw_test_{uuid.uuid4().hex[:12]}", connection, layout)
    await table.create()
    try:
        yield table
    finally:
        await table.drop()
        await table.drop(f"{table.name}_away")
        await _close(server, connection)
