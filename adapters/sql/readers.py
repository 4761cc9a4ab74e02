"""One connection to the department's database, through asyncpg or asyncmy.

A reader connects on first use and after ``reset``, runs a ``Query`` and
returns its rows as dicts in column order. ``is_unreachable`` distinguishes a
lost or refused connection, which is worth waiting for, from an error in the
query itself (a missing table or column, a syntax error, a denied privilege).

Between two queries a reader holds no transaction and no lock on the
department's table, because PostgreSQL runs each of asyncpg's statements in
its own implicit transaction and MySQL and MariaDB connections run in
autocommit. While a query runs it holds a shared lock, so a department's
schema change waits for it. ``query_timeout_s`` bounds that wait. On
PostgreSQL the server enforces it too (``statement_timeout``), so a query
ends even when the poller's process has died.
"""

from __future__ import annotations

import abc
import asyncio
from typing import Any

import asyncmy
import asyncmy.cursors
import asyncmy.errors
import asyncpg

from adapters.sql.config import Connection, PollSection
from adapters.sql.queries import DIALECTS, Queries, Query

MYSQL_CLIENT_ERRORS = 2000
"""MySQL and MariaDB number their client-side (connection) errors from 2000 up."""
POSTGRES_UNREACHABLE_CLASSES = ("08", "53", "57P")
"""SQLSTATE prefixes of a lost connection, exhausted server resources and a shutdown."""
APPLICATION_NAME = "zwbus poller"
"""Name of the poller's sessions in ``pg_stat_activity``, for the department's administrators."""


class TableReader(abc.ABC):
    """Runs the poller's queries on one lazily opened connection."""

    errors: tuple[type[BaseException], ...]
    """Every error class that means a failed read."""

    def __init__(self, connection: Connection, poll: PollSection) -> None:
        self.connection = connection
        self.poll = poll
        self.queries = Queries(poll, DIALECTS[connection.driver])

    async def fetch(self, query: Query) -> list[dict[str, Any]]:
        """Run ``query``; raise one of ``errors`` when it fails or times out."""
        async with asyncio.timeout(self.poll.query_timeout_s):
            return await self._fetch(query)

    @abc.abstractmethod
    async def _fetch(self, query: Query) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def reset(self) -> None:
        """Drop the connection, so that the next query opens a new one."""

    @abc.abstractmethod
    def is_unreachable(self, error: BaseException) -> bool:
        """Tell whether ``error`` means the server could not be reached."""


class PostgresReader(TableReader):
    errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

    def __init__(self, connection: Connection, poll: PollSection) -> None:
        super().__init__(connection, poll)
        self._conn: asyncpg.Connection | None = None

    async def _connected(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            target = self.connection
            self._conn = await asyncpg.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password or None,
                database=target.database or None,
                timeout=self.poll.connect_timeout_s,
                server_settings={
                    "application_name": APPLICATION_NAME,
                    "statement_timeout": f"{round(self.poll.query_timeout_s * 1000)}ms",
                },
            )
        return self._conn

    async def _fetch(self, query: Query) -> list[dict[str, Any]]:
        conn = await self._connected()
        rows = await conn.fetch(query.text, *query.args)
        return [dict(row.items()) for row in rows]

    async def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # terminate() closes without a round trip, which a broken link
            # could not complete.
            conn.terminate()

    def is_unreachable(self, error: BaseException) -> bool:
        if isinstance(error, OSError | TimeoutError | asyncpg.InterfaceError):
            return True
        state = str(getattr(error, "sqlstate", "") or "")
        return state.startswith(POSTGRES_UNREACHABLE_CLASSES)


class MysqlReader(TableReader):
    """MySQL and MariaDB; autocommit keeps each query out of an old snapshot."""

    errors = (asyncmy.errors.MySQLError, OSError, TimeoutError)

    def __init__(self, connection: Connection, poll: PollSection) -> None:
        super().__init__(connection, poll)
        self._conn: Any = None

    async def _connected(self) -> Any:
        if self._conn is None:
            target = self.connection
            # Without autocommit, REPEATABLE READ (the InnoDB default) would
            # keep one transaction open and hide every row committed after
            # the first query.
            self._conn = await asyncmy.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password,
                database=target.database or None,
                connect_timeout=max(1, round(self.poll.connect_timeout_s)),
                autocommit=True,
                charset="utf8mb4",
            )
        return self._conn

    async def _fetch(self, query: Query) -> list[dict[str, Any]]:
        conn = await self._connected()
        async with conn.cursor(asyncmy.cursors.DictCursor) as cursor:
            # Always with arguments, so that "%%" in a configured query reads as
            # "%" in every statement, also in one without parameters.
            await cursor.execute(query.text, query.args)
            rows = await cursor.fetchall()
        return [dict(row) for row in rows]

    async def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def is_unreachable(self, error: BaseException) -> bool:
        if isinstance(error, OSError | TimeoutError | asyncmy.errors.InterfaceError):
            return True
        code = error.args[0] if error.args and isinstance(error.args[0], int) else 0
        return isinstance(error, asyncmy.errors.MySQLError) and code >= MYSQL_CLIENT_ERRORS


def open_reader(connection: Connection, poll: PollSection) -> TableReader:
    """Return the reader of the connection's driver; it connects on its first query."""
    if connection.driver == "postgresql":
        return PostgresReader(connection, poll)
    return MysqlReader(connection, poll)
