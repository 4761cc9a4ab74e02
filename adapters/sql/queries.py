"""The SQL the poller runs, written once for both dialects.

Rows are read in ``(watermark, key)`` order. A pass starts at the stored
watermark minus the overlap, inclusive, so rows that share the watermark's
value are read again whatever their key. Within a pass, each page continues
strictly after the last row of the previous page, so a page boundary between
rows of equal watermark loses none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.sql.config import Driver, PollSection

SOURCE_ALIAS = "zw_source"


@dataclass(frozen=True)
class Dialect:
    """Name quoting and parameter style of one database."""

    quote: str
    numbered: bool
    """True for ``$1, $2`` (PostgreSQL), False for ``%s`` (MySQL and MariaDB)."""

    def name(self, identifier: str) -> str:
        """Quote a column name, or a dotted ``schema.table`` name part by part."""
        return ".".join(
            self.quote + part.replace(self.quote, self.quote * 2) + self.quote
            for part in identifier.split(".")
        )

    def params(self, count: int) -> list[str]:
        if self.numbered:
            return [f"${index}" for index in range(1, count + 1)]
        return ["%s"] * count


DIALECTS: dict[Driver, Dialect] = {
    "postgresql": Dialect(quote='"', numbered=True),
    "mysql": Dialect(quote="`", numbered=False),
}


@dataclass(frozen=True)
class Query:
    text: str
    args: tuple[Any, ...]


class Queries:
    """Builds the poller's statements for one ``[poll]`` table and dialect."""

    def __init__(self, poll: PollSection, dialect: Dialect) -> None:
        self._dialect = dialect
        if poll.table:
            self._source = dialect.name(poll.table)
        else:
            self._source = f"({poll.query}) AS {SOURCE_ALIAS}"
        self._mark = dialect.name(poll.watermark)
        self._key = dialect.name(poll.key)
        self._order = f"ORDER BY {self._mark}, {self._key}"

    def first_page(self, limit: int) -> Query:
        """Rows from the start of the table, for a source without a stored watermark."""
        (p_limit,) = self._dialect.params(1)
        text = (
            f"SELECT * FROM {self._source} WHERE {self._mark} IS NOT NULL "
            f"{self._order} LIMIT {p_limit}"
        )
        return Query(text, (limit,))

    def page_from(self, start: Any, limit: int) -> Query:
        """Rows whose watermark is ``start`` or later: the first page of a pass."""
        p_start, p_limit = self._dialect.params(2)
        text = (
            f"SELECT * FROM {self._source} WHERE {self._mark} >= {p_start} "
            f"{self._order} LIMIT {p_limit}"
        )
        return Query(text, (start, limit))

    def page_after(self, mark: Any, key: Any, limit: int) -> Query:
        """Rows strictly after ``(mark, key)`` in read order: the next page of a pass."""
        p_mark, p_same, p_key, p_limit = self._dialect.params(4)
        text = (
            f"SELECT * FROM {self._source} WHERE {self._mark} > {p_mark} "
            f"OR ({self._mark} = {p_same} AND {self._key} > {p_key}) "
            f"{self._order} LIMIT {p_limit}"
        )
        return Query(text, (mark, mark, key, limit))

    def keys(self, limit: int) -> Query:
        """Select the key of every row, up to ``limit`` rows, to reconcile deletions."""
        (p_limit,) = self._dialect.params(1)
        return Query(f"SELECT {self._key} FROM {self._source} LIMIT {p_limit}", (limit,))

    def without_watermark(self) -> Query:
        """Count the rows whose watermark is NULL, which no pass can read."""
        return Query(f"SELECT COUNT(*) FROM {self._source} WHERE {self._mark} IS NULL", ())
