"""The SQL table poller: a source that reads new and changed rows by a watermark column.

Each pass reads the rows at or after the stored watermark minus the overlap,
in ``(watermark, key)`` order and in pages of ``batch_size`` rows, and
then waits ``interval_s`` seconds. How it copes with the ways such tables
behave:

- Rows with equal watermarks on both sides of a pass are read again at the
  next pass, because a pass starts inclusive at the stored value. A row read
  again with the same content has the same deterministic event id, so it
  comes back as a duplicate and never as a second event.
- A row updated after it was read moves past the watermark (kind ``time``)
  and is read again: a new status, status time or version is a new event,
  the same content a duplicate. Kind ``id`` cannot detect updates, so it
  suits append-only tables such as a status history.
- A deleted row cannot be seen by a watermark. With ``reconcile_interval_s``
  set, the poller compares the table's keys with those of its previous
  reconciliation and counts and logs the keys that disappeared; it emits no
  event for them. A department that needs deletions on the bus marks rows
  deleted (a status mapped to ``withdrawn`` or a result mapped to
  ``deleted``) instead of removing them.
- A failed read is retried with bounded exponential backoff, logged each
  time, and resumed from the last row read. Before the first successful read
  an error in the query itself (missing table or column) stops at once,
  because waiting cannot fix a wrong profile.
- Times without a zone are read in the profile's ``timezone``.

The stored watermark only moves forward, and only after the batch's outcomes
are acknowledged (the SDK driver stores it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import structlog

from adapters.family_profile import SourceProfile
from adapters.files.readers import SourceRecord, escape_name
from adapters.sdk import Backoff, Batch, RetryPolicy, Source, SourceContext, SourcePosition
from adapters.sql.config import PollSection, overlap_of, resolve_connection
from adapters.sql.queries import Query
from adapters.sql.readers import TableReader, open_reader
from adapters.sql.rows import Watermark, row_record, watermark_of
from bus.errors import ConfigError
from bus.i18n import N_

log = structlog.get_logger(__name__)

WATERMARK = "watermark"
"""Name of the poller's position in its source's part of ``ZW_SOURCES``."""
DELETED_KEYS_LOGGED = 10
"""Keys of deleted rows named in one log line; the count covers all of them."""


@dataclass
class PollStats:
    """Counts of the rows the poller read, beside the outcome counts of the pipeline."""

    passes: int = 0
    rows: int = 0
    reread: int = 0
    """Rows at or before the stored watermark, read again by the overlap."""
    deleted: int = 0
    """Keys that disappeared between two reconciliations."""
    without_watermark: int = 0
    """Rows with a NULL watermark at the last reconciliation; no pass reads them."""
    retries: int = 0


class TablePoller(Source):
    """Polls one table or query of a department database for new and changed rows.

    The profile may be of any family; its ``[poll]`` table names the table.
    """

    kind = "poll"

    def __init__(
        self, profile: SourceProfile, *, once: bool = False, reader: TableReader | None = None
    ) -> None:
        if profile.poll is None:
            raise ConfigError(
                N_("Profile {path} has no [poll] table; add one to poll a database table."),
                path=profile.path,
            )
        self.profile = profile
        self.poll: PollSection = profile.poll
        self.once = once
        self.location = self.poll.table or "query"
        self.stats = PollStats()
        self._reader = reader or open_reader(resolve_connection(profile.path, self.poll), self.poll)
        self._stored: Watermark | None = None
        self._read_once = False
        self._columns_checked = False
        self._known_keys: set[str] | None = None
        self._last_reconcile = float("-inf")
        self._backoff = Backoff(
            RetryPolicy(
                initial_s=self.poll.retry_initial_s,
                max_s=self.poll.retry_max_s,
                attempts=self.poll.retry_attempts,
            ),
            source_id=profile.source.id,
            location=self.location,
        )

    @property
    def source_id(self) -> str:
        return self.profile.source.id

    async def batches(self, context: SourceContext) -> AsyncIterator[Batch]:
        self._stored = await context.positions.get(WATERMARK, Watermark)
        log.info(
            "poll_started",
            source_id=self.source_id,
            location=self.location,
            database=self._reader.connection.describe(),
            resume_after=str(self._stored.value) if self._stored else None,
        )
        try:
            while True:
                rows_before = self.stats.rows
                async with contextlib.aclosing(self._one_pass(context)) as pages:
                    async for batch in pages:
                        yield batch
                if self.poll.reconcile_interval_s > 0:
                    await self._reconcile(context)
                self.stats.passes += 1
                self._log_pass(pass_rows=self.stats.rows - rows_before)
                yield Batch((), location=self.location, pass_done=True)
                if self.once:
                    return
                await asyncio.sleep(self.poll.interval_s)
        finally:
            await self._reader.reset()

    def _log_pass(self, *, pass_rows: int) -> None:
        # A quiet table would log every interval at INFO; only passes with rows do.
        level = log.info if pass_rows else log.debug
        level(
            "poll_pass_finished",
            source_id=self.source_id,
            location=self.location,
            passes=self.stats.passes,
            rows=pass_rows,
            watermark=str(self._stored.value) if self._stored else None,
        )

    async def _one_pass(self, context: SourceContext) -> AsyncGenerator[Batch, None]:
        """Yield the pages of one pass, each with the watermark it reached."""
        queries = self._reader.queries
        size = self.poll.batch_size
        stored = self._stored
        if stored is None:
            query = queries.first_page(size)
        else:
            query = queries.page_from(stored.minus(overlap_of(self.poll)), size)
        passed_stored = stored is None

        while True:
            rows = await self._read(context, query)
            if not rows:
                return
            self._check_columns(context, rows[0])
            marks = [self._mark(row) for row in rows]
            records: list[SourceRecord] = [
                row_record(row, mark.key) for row, mark in zip(rows, marks, strict=True)
            ]
            reached: Watermark | None = None
            for mark in marks:
                beyond = passed_stored or _after(mark, stored)
                if not beyond and stored is not None and _same(mark, stored):
                    # Rows after the stored row itself are new even when they
                    # share its watermark value.
                    passed_stored = True
                if beyond:
                    passed_stored = True
                    reached = mark
                else:
                    self.stats.reread += 1
            self.stats.rows += len(rows)
            position = None
            if reached is not None:
                self._stored = stored = reached
                position = SourcePosition(WATERMARK, reached)
            yield Batch(records, location=self.location, position=position)

            if len(rows) < size:
                return
            last = marks[-1]
            query = queries.page_after(last.value, last.key, size)

    def _mark(self, row: dict[str, Any]) -> Watermark:
        return watermark_of(row, kind=self.poll.kind, mark=self.poll.watermark, key=self.poll.key)

    async def _read(self, context: SourceContext, query: Query) -> list[dict[str, Any]]:
        """Run a query, retrying failed reads with backoff."""
        while True:
            try:
                rows = await self._reader.fetch(query)
            except self._reader.errors as error:
                await self._reader.reset()
                if not self._read_once and not self._reader.is_unreachable(error):
                    raise ConfigError(
                        N_(
                            "Source {source_id} cannot read {location} from {database}: "
                            "{detail}. Check poll.table or poll.query, poll.watermark and "
                            "poll.key in the profile."
                        ),
                        source_id=self.source_id,
                        location=self.location,
                        database=self._reader.connection.describe(),
                        detail=str(error) or type(error).__name__,
                    ) from error
                context.count(retries=1)
                self.stats.retries += 1
                await self._backoff.failed(error)
                continue
            self._backoff.succeeded()
            self._read_once = True
            return rows

    def _check_columns(self, context: SourceContext, row: dict[str, Any]) -> None:
        """Note the columns the profile does not map, once per run, as the file source does."""
        if self._columns_checked:
            return
        self._columns_checked = True
        known = {*self.profile.fields.values(), self.poll.watermark, self.poll.key}
        unknown = [escape_name(column) for column in row if column not in known]
        if unknown:
            context.tally.unknown_columns[self.location] = unknown
            log.warning(
                "unknown_columns", source_id=self.source_id, file=self.location, columns=unknown
            )

    async def _reconcile(self, context: SourceContext) -> None:
        """Count the keys that disappeared since the previous reconciliation."""
        if time.monotonic() - self._last_reconcile < self.poll.reconcile_interval_s:
            return
        self._last_reconcile = time.monotonic()
        limit = self.poll.reconcile_max_keys
        rows = await self._read(context, self._reader.queries.keys(limit + 1))
        if len(rows) > limit:
            log.warning(
                "reconcile_skipped",
                source_id=self.source_id,
                location=self.location,
                max_keys=limit,
            )
            self._known_keys = None
            return
        keys = {str(next(iter(row.values()))) for row in rows}
        if self._known_keys is not None:
            deleted = sorted(self._known_keys - keys)
            if deleted:
                self.stats.deleted += len(deleted)
                context.count(deleted_rows=len(deleted))
                log.warning(
                    "source_rows_deleted",
                    source_id=self.source_id,
                    location=self.location,
                    count=len(deleted),
                    keys=deleted[:DELETED_KEYS_LOGGED],
                )
        self._known_keys = keys

        counted = await self._read(context, self._reader.queries.without_watermark())
        missing = int(next(iter(counted[0].values()))) if counted else 0
        self.stats.without_watermark = missing
        if missing:
            log.warning(
                "rows_without_watermark",
                source_id=self.source_id,
                location=self.location,
                column=self.poll.watermark,
                count=missing,
            )


def _after(mark: Watermark, stored: Watermark | None) -> bool:
    """Tell whether a row's watermark value is past the stored one."""
    if stored is None:
        return True
    return mark.value > stored.value  # type: ignore[operator]


def _same(mark: Watermark, stored: Watermark) -> bool:
    return mark.value == stored.value and mark.key == stored.key
