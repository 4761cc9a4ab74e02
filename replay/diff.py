"""Comparing two SQLite stores table by table: rows added, removed and changed.

Rows are matched by primary key, so a row whose key exists on both sides
with other values counts as changed. A table whose two sides lack a common
primary key is compared by whole rows on the columns both sides have, and
then only additions and removals are reported. The work runs inside
SQLite on the two files attached read-only, so memory does not grow with
the size of the stores.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from bus.errors import ConfigError
from bus.i18n import N_

Value = str | int | float | None


class RowChange(msgspec.Struct, frozen=True):
    """A row present on both sides with different values."""

    key: dict[str, Value]
    changes: dict[str, tuple[Value, Value]]
    """Column -> (left value, right value), only for columns that differ."""


class TableDiff(msgspec.Struct, kw_only=True):
    """Differences of one table; "added" means present on the right side only."""

    table: str
    key: list[str]
    """Primary key columns rows were matched by; empty when whole rows were compared."""
    left_rows: int
    right_rows: int
    added: int = 0
    removed: int = 0
    changed: int | None = 0
    """None without a common primary key; a changed row then counts as removed and added."""
    columns_added: list[str] = msgspec.field(default_factory=list)
    columns_removed: list[str] = msgspec.field(default_factory=list)
    added_sample: list[dict[str, Value]] = msgspec.field(default_factory=list)
    removed_sample: list[dict[str, Value]] = msgspec.field(default_factory=list)
    changed_sample: list[RowChange] = msgspec.field(default_factory=list)

    @property
    def differs(self) -> bool:
        """Return whether the two sides of the table differ in rows or columns."""
        return bool(
            self.added
            or self.removed
            or self.changed
            or self.columns_added
            or self.columns_removed
        )


class StoreDiff(msgspec.Struct, kw_only=True):
    """Differences between two stores, one entry per table found on either side."""

    left: str
    right: str
    tables: list[TableDiff]

    @property
    def same(self) -> bool:
        """Return whether no table differs."""
        return not any(table.differs for table in self.tables)


def diff_stores(
    left: Path, right: Path, *, sample: int = 5, tables: Sequence[str] = ()
) -> StoreDiff:
    """Compare the tables of two SQLite files; keep up to ``sample`` example rows of each kind.

    Raises:
        ConfigError: a file is missing or is not an SQLite database, or a
            table named in ``tables`` exists on neither side.
    """
    for path in (left, right):
        if not path.is_file():
            raise ConfigError(N_("Store {path} was not found."), path=path)

    connection = sqlite3.connect(_read_only_uri(left), uri=True)
    try:
        left_tables = _table_names(connection, "main", left)
        try:
            connection.execute("ATTACH DATABASE ? AS other", (_read_only_uri(right),))
        except sqlite3.DatabaseError as exc:
            raise _not_a_database(right, exc) from exc
        right_tables = _table_names(connection, "other", right)
        names = sorted(left_tables | right_tables)
        if tables:
            unknown = sorted(set(tables) - set(names))
            if unknown:
                raise ConfigError(
                    N_("Table {tables} exists in neither store; tables: {known}."),
                    tables=", ".join(unknown),
                    known=", ".join(names),
                )
            names = [name for name in names if name in set(tables)]
        compared = [
            _TableComparison(connection, name, name in left_tables, name in right_tables, sample)
            .run()
            for name in names
        ]
    finally:
        connection.close()
    return StoreDiff(left=str(left), right=str(right), tables=compared)


def _read_only_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_names(connection: sqlite3.Connection, schema: str, path: Path) -> set[str]:
    try:
        rows = connection.execute(
            f"SELECT name FROM {schema}.sqlite_master "
            "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise _not_a_database(path, exc) from exc
    return {str(row[0]) for row in rows}


def _not_a_database(path: Path, error: sqlite3.DatabaseError) -> ConfigError:
    return ConfigError(
        N_("{path} is not an SQLite database: {detail}"), path=path, detail=str(error)
    )


def _plain(value: Any) -> Value:
    """Return a value that JSON and a terminal can show; blobs become text or hex."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return "x'" + value.hex() + "'"
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


class _TableComparison:
    """The queries comparing one table of ``main`` with the same table of ``other``."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        table: str,
        on_left: bool,
        on_right: bool,
        sample: int,
    ) -> None:
        self.connection = connection
        self.table = table
        self.sample = sample
        self.left_columns, left_key = self._columns("main") if on_left else ([], [])
        self.right_columns, right_key = self._columns("other") if on_right else ([], [])
        self.on_left = on_left
        self.on_right = on_right
        if on_left and on_right:
            self.key = left_key if left_key == right_key else []
        else:
            self.key = left_key or right_key
        self.common = [column for column in self.left_columns if column in self.right_columns]

    def _columns(self, schema: str) -> tuple[list[str], list[str]]:
        rows = self.connection.execute(
            "SELECT name, pk FROM pragma_table_info(?, ?)", (self.table, schema)
        ).fetchall()
        columns = [str(name) for name, _pk in rows]
        key = [str(name) for name, pk in sorted(rows, key=lambda row: row[1]) if pk]
        return columns, key

    def run(self) -> TableDiff:
        table = _quote(self.table)
        result = TableDiff(
            table=self.table,
            key=self.key,
            left_rows=self._scalar(f"SELECT COUNT(*) FROM main.{table}") if self.on_left else 0,
            right_rows=self._scalar(f"SELECT COUNT(*) FROM other.{table}") if self.on_right else 0,
            columns_added=[c for c in self.right_columns if c not in self.left_columns],
            columns_removed=[c for c in self.left_columns if c not in self.right_columns],
        )
        if not self.on_left or not self.on_right:
            self._one_sided(result)
        elif self.key and all(column in self.common for column in self.key):
            self._by_key(result)
        else:
            result.key = []
            self._by_whole_rows(result)
        return result

    def _one_sided(self, result: TableDiff) -> None:
        if self.on_right:
            schema, columns = "other", self.right_columns
        else:
            schema, columns = "main", self.left_columns
        query = f"SELECT {self._list(columns)} FROM {schema}.{_quote(self.table)}"
        rows = self._sample_rows(query, columns)
        if self.on_right:
            result.added, result.added_sample = result.right_rows, rows
        else:
            result.removed, result.removed_sample = result.left_rows, rows
        result.changed = 0

    def _by_key(self, result: TableDiff) -> None:
        table = _quote(self.table)
        match = " AND ".join(f"l.{_quote(c)} = r.{_quote(c)}" for c in self.key)
        added = (
            f"SELECT {self._list(self.right_columns, 'r')} FROM other.{table} AS r "
            f"WHERE NOT EXISTS (SELECT 1 FROM main.{table} AS l WHERE {match}) "
            f"ORDER BY {self._list(self.key, 'r')}"
        )
        removed = (
            f"SELECT {self._list(self.left_columns, 'l')} FROM main.{table} AS l "
            f"WHERE NOT EXISTS (SELECT 1 FROM other.{table} AS r WHERE {match}) "
            f"ORDER BY {self._list(self.key, 'l')}"
        )
        result.added = self._scalar(f"SELECT COUNT(*) FROM ({added})")
        result.removed = self._scalar(f"SELECT COUNT(*) FROM ({removed})")
        result.added_sample = self._sample_rows(added, self.right_columns)
        result.removed_sample = self._sample_rows(removed, self.left_columns)

        values = [column for column in self.common if column not in self.key]
        if not values:
            result.changed = 0
            return
        differ = " OR ".join(f"l.{_quote(c)} IS NOT r.{_quote(c)}" for c in values)
        pairs = ", ".join(f"l.{_quote(c)}, r.{_quote(c)}" for c in values)
        changed = (
            f"SELECT {self._list(self.key, 'l')}, {pairs} FROM main.{table} AS l "
            f"JOIN other.{table} AS r ON {match} WHERE {differ} "
            f"ORDER BY {self._list(self.key, 'l')}"
        )
        result.changed = self._scalar(f"SELECT COUNT(*) FROM ({changed})")
        result.changed_sample = self._changed_sample(changed, values)

    def _by_whole_rows(self, result: TableDiff) -> None:
        result.changed = None
        if not self.common:
            # Nothing to match rows on: every row is on one side only.
            result.added, result.removed = result.right_rows, result.left_rows
            return
        table = _quote(self.table)
        columns = self._list(self.common)
        added = f"SELECT {columns} FROM other.{table} EXCEPT SELECT {columns} FROM main.{table}"
        removed = f"SELECT {columns} FROM main.{table} EXCEPT SELECT {columns} FROM other.{table}"
        result.added = self._scalar(f"SELECT COUNT(*) FROM ({added})")
        result.removed = self._scalar(f"SELECT COUNT(*) FROM ({removed})")
        result.added_sample = self._sample_rows(added, self.common)
        result.removed_sample = self._sample_rows(removed, self.common)

    def _changed_sample(self, query: str, values: list[str]) -> list[RowChange]:
        if self.sample <= 0:
            return []
        samples: list[RowChange] = []
        for row in self.connection.execute(f"{query} LIMIT ?", (self.sample,)):
            key = {column: _plain(value) for column, value in zip(self.key, row, strict=False)}
            pairs = row[len(self.key) :]
            changes = {
                column: (_plain(pairs[2 * index]), _plain(pairs[2 * index + 1]))
                for index, column in enumerate(values)
                if pairs[2 * index] != pairs[2 * index + 1]
            }
            samples.append(RowChange(key=key, changes=changes))
        return samples

    def _sample_rows(self, query: str, columns: list[str]) -> list[dict[str, Value]]:
        if self.sample <= 0:
            return []
        rows = self.connection.execute(f"{query} LIMIT ?", (self.sample,)).fetchall()
        return [
            {column: _plain(value) for column, value in zip(columns, row, strict=True)}
            for row in rows
        ]

    def _scalar(self, query: str) -> int:
        row = self.connection.execute(query).fetchone()
        return int(row[0]) if row is not None else 0

    @staticmethod
    def _list(columns: Sequence[str], alias: str | None = None) -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(prefix + _quote(column) for column in columns)
