"""Messages a projection could not apply, kept aside so that the stream keeps flowing.

A message that does not decode, or decodes but breaks the read model's
contract, is written to the ``set_aside`` table in the transaction of its
batch, and the checkpoint moves past it. Later messages of the same entity
key (the last subject token) are set aside behind it, in stream order,
while every other key flows on. ``retry`` decodes and applies them again
once a newer release can read them; ``discard`` drops one that never will.

Set-aside rows keep the raw message bytes, which may contain raw
identifiers, until they are resolved or discarded.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Literal

import aiosqlite
import msgspec
import structlog

from contracts.envelope import EventDecodeError, decode_event
from projections.base import ApplyCounts, Delivered, Projection
from projections.sql import chunks

log = structlog.get_logger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS set_aside (
    seq INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    entity_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    blocked_by INTEGER,
    data BLOB NOT NULL,
    set_aside_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS set_aside_entity ON set_aside (entity_key, seq);
"""

SetAsideKind = Literal["undecodable", "rejected", "waiting"]
"""undecodable: not an event this release reads; rejected: decodes but breaks the
model's contract; waiting: queued behind an earlier set-aside message of its key."""

class SetAsideEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One message kept aside, with why."""

    seq: int
    """Stream sequence of the message."""
    subject: str
    entity_key: str
    kind: SetAsideKind
    reason: str
    blocked_by: int | None = None
    """For ``waiting``: the sequence of the set-aside message it waits behind."""
    data: bytes
    set_aside_at: str


class Problem(msgspec.Struct, frozen=True):
    """Reason a message cannot be applied now."""

    kind: SetAsideKind
    reason: str


class RetryResult(msgspec.Struct, kw_only=True):
    """Outcome of one retry over all set-aside messages."""

    resolved: int = 0
    """Messages that decoded and passed the check, and left the table."""
    applied: int = 0
    duplicates: int = 0
    remaining: int = 0


def entity_key_of(subject: str) -> str:
    """Return the entity key of a subject: its last token, as written on the subject."""
    return subject.rsplit(".", 1)[-1]


def waiting_reason(blocked_by: int) -> str:
    """Return the stored reason of a message queued behind ``blocked_by``."""
    return f"waits behind set-aside sequence {blocked_by}"


def examine(projection: Projection, seq: int, subject: str, data: bytes) -> Delivered | Problem:
    """Decode a message and run the projection's contract check on it."""
    try:
        event = decode_event(data)
    except EventDecodeError as exc:
        return Problem("undecodable", exc.reason)

    delivered = Delivered(seq, subject, event)
    problem = projection.check(delivered)
    if problem is not None:
        return Problem("rejected", problem)
    return delivered


def new_entry(
    seq: int,
    subject: str,
    data: bytes,
    problem: Problem,
    *,
    blocked_by: int | None = None,
) -> SetAsideEntry:
    """Build the row for a message set aside now."""
    return SetAsideEntry(
        seq=seq,
        subject=subject,
        entity_key=entity_key_of(subject),
        kind=problem.kind,
        reason=problem.reason,
        blocked_by=blocked_by,
        data=data,
        set_aside_at=datetime.now(UTC).isoformat(),
    )


async def blocking_sequences(
    connection: aiosqlite.Connection, entity_keys: Collection[str]
) -> dict[str, int]:
    """Return, for each given key with set-aside messages, the first such sequence."""
    blockers: dict[str, int] = {}
    for chunk in chunks(sorted(entity_keys)):
        placeholders = ",".join("?" * len(chunk))
        rows = await connection.execute_fetchall(
            f"SELECT entity_key, MIN(seq) AS first_seq FROM set_aside "
            f"WHERE entity_key IN ({placeholders}) GROUP BY entity_key",
            tuple(chunk),
        )
        for row in rows:
            blockers[row["entity_key"]] = int(row["first_seq"])
    return blockers


async def insert(connection: aiosqlite.Connection, entries: Sequence[SetAsideEntry]) -> None:
    """Store entries inside the caller's transaction; a sequence already stored is kept."""
    if not entries:
        return
    await connection.executemany(
        "INSERT OR IGNORE INTO set_aside "
        "(seq, subject, entity_key, kind, reason, blocked_by, data, set_aside_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                entry.seq,
                entry.subject,
                entry.entity_key,
                entry.kind,
                entry.reason,
                entry.blocked_by,
                entry.data,
                entry.set_aside_at,
            )
            for entry in entries
        ],
    )


def _entry_from_row(row: aiosqlite.Row) -> SetAsideEntry:
    return SetAsideEntry(
        seq=row["seq"],
        subject=row["subject"],
        entity_key=row["entity_key"],
        kind=row["kind"],
        reason=row["reason"],
        blocked_by=row["blocked_by"],
        data=bytes(row["data"]),
        set_aside_at=row["set_aside_at"],
    )


async def list_entries(
    connection: aiosqlite.Connection, *, limit: int | None = None
) -> list[SetAsideEntry]:
    """Return set-aside entries in stream order, at most ``limit`` of them."""
    sql = "SELECT * FROM set_aside ORDER BY seq"
    parameters: tuple[int, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        parameters = (limit,)
    async with connection.execute(sql, parameters) as cursor:
        return [_entry_from_row(row) async for row in cursor]


async def count(connection: aiosqlite.Connection) -> int:
    """Return how many messages are set aside."""
    async with connection.execute("SELECT COUNT(*) AS n FROM set_aside") as cursor:
        row = await cursor.fetchone()
    return 0 if row is None else int(row["n"])


async def discard(connection: aiosqlite.Connection, seq: int, *, projection: str) -> bool:
    """Delete the entry of ``seq`` for good; return whether there was one.

    Messages that waited behind it stay set aside until the next ``retry``.
    """
    cursor = await connection.execute("DELETE FROM set_aside WHERE seq = ?", (seq,))
    deleted = cursor.rowcount > 0
    await cursor.close()
    if deleted:
        log.warning("projection_set_aside_discarded", projection=projection, seq=seq)
    return deleted


async def retry(connection: aiosqlite.Connection, projection: Projection) -> RetryResult:
    """Decode, check and apply every set-aside message again, inside the caller's transaction.

    Each key's messages are taken in stream order and stop at the first one
    that still fails, which becomes the message the rest of its key waits
    behind. Resolved entries leave the table.

    NOTE: all entries are loaded at once; this suits the expected handful of
    set-aside messages, not a table of millions.
    """
    entries = await list_entries(connection)
    entries.sort(key=lambda entry: (entry.entity_key, entry.seq))

    resolved: list[Delivered] = []
    updates: list[tuple[str, str, int | None, int]] = []
    for _key, group in groupby(entries, key=lambda entry: entry.entity_key):
        blocker: int | None = None
        for entry in group:
            if blocker is not None:
                updates.append(("waiting", waiting_reason(blocker), blocker, entry.seq))
                continue
            outcome = examine(projection, entry.seq, entry.subject, entry.data)
            if isinstance(outcome, Problem):
                blocker = entry.seq
                updates.append((outcome.kind, outcome.reason, None, entry.seq))
                log.warning(
                    "projection_retry_failed",
                    projection=projection.name,
                    seq=entry.seq,
                    subject=entry.subject,
                    kind=outcome.kind,
                    reason=outcome.reason,
                )
                continue
            resolved.append(outcome)

    resolved.sort(key=lambda delivered: delivered.seq)
    counts = await projection.apply(connection, resolved) if resolved else ApplyCounts()
    await connection.executemany(
        "DELETE FROM set_aside WHERE seq = ?", [(delivered.seq,) for delivered in resolved]
    )
    await connection.executemany(
        "UPDATE set_aside SET kind = ?, reason = ?, blocked_by = ? WHERE seq = ?", updates
    )

    result = RetryResult(
        resolved=len(resolved),
        applied=counts.applied,
        duplicates=counts.duplicates,
        remaining=len(updates),
    )
    log.info(
        "projection_retry_finished",
        projection=projection.name,
        resolved=result.resolved,
        applied=result.applied,
        duplicates=result.duplicates,
        remaining=result.remaining,
    )
    return result
