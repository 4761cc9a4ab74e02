"""One sender's records of one family, gathered into batches for the ingest pipeline.

Requests arrive one by one; the pipeline works best on batches. An intake
collects the records of the requests that arrive within ``batch_wait_s``
(up to ``max_batch`` records), runs them through the pipeline as one batch
and gives each request the outcomes of its own records. A request's records
keep their order, and every record gets exactly one outcome.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
import structlog

from adapters.files.readers import CellValue, SourceRecord
from adapters.ingest.record_outcomes import RecordOutcome, RecordOutcomes
from adapters.ingest.tally import Tally
from adapters.sdk.pipeline import Pipeline
from bus.heartbeat import Heartbeat

log = structlog.get_logger(__name__)

MAX_BATCH = 500
_encode = msgspec.json.Encoder().encode


@dataclass
class _Submission:
    records: list[dict[str, object]]
    future: asyncio.Future[list[RecordOutcome]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Intake:
    """The batching queue in front of one pipeline; ``run`` is its worker task."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        client_id: str,
        family: str,
        heartbeat: Heartbeat,
        batch_wait_s: float,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._pipeline = pipeline
        self._client_id = client_id
        self._family = family
        self._heartbeat = heartbeat
        self._batch_wait_s = batch_wait_s
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Submission] = asyncio.Queue()
        self._batches = itertools.count(1)
        self.tally = Tally()

    async def submit(self, records: list[dict[str, object]]) -> list[RecordOutcome]:
        """Queue a request's records and wait for their outcomes, in order."""
        submission = _Submission(records)
        self._queue.put_nowait(submission)
        return await submission.future

    async def run(self) -> None:
        """Take batches off the queue until cancelled; a queued request is never dropped."""
        while True:
            gathered = [await self._queue.get()]
            await self._gather_more(gathered)
            await self._process(gathered)

    async def drain(self) -> None:
        """Process what is queued now; called on shutdown after new requests stop."""
        while not self._queue.empty():
            gathered = [self._queue.get_nowait()]
            await self._gather_more(gathered, wait=False)
            await self._process(gathered)

    async def _gather_more(self, gathered: list[_Submission], *, wait: bool = True) -> None:
        size = len(gathered[0].records)
        deadline = asyncio.get_running_loop().time() + (self._batch_wait_s if wait else 0)
        while size < self._max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                if remaining <= 0 or not wait:
                    submission = self._queue.get_nowait()
                else:
                    submission = await asyncio.wait_for(self._queue.get(), remaining)
            except (asyncio.QueueEmpty, TimeoutError):
                return
            gathered.append(submission)
            size += len(submission.records)

    async def _process(self, gathered: list[_Submission]) -> None:
        location = f"http:{self._client_id}:{next(self._batches)}"
        records: list[SourceRecord] = []
        for submission in gathered:
            for record in submission.records:
                position = len(records) + 1
                records.append(
                    SourceRecord(
                        position=position,
                        line=position,
                        fields={name: _cell(value) for name, value in record.items()},
                        error=None,
                        raw=_encode(record).decode(),
                    )
                )

        outcomes: RecordOutcomes = {}
        try:
            batch = await self._pipeline.process(records, location=location, outcomes=outcomes)
        except Exception as exc:
            log.exception(
                "gateway_batch_failed",
                client_id=self._client_id,
                family=self._family,
                location=location,
                records=len(records),
            )
            for submission in gathered:
                if not submission.future.done():
                    submission.future.set_exception(exc)
            return

        self.tally.merge(batch)
        self._heartbeat.update(
            read=self.tally.read,
            published=self.tally.published,
            duplicates=self.tally.duplicates,
            quarantined=self.tally.quarantined,
            parked=self.tally.parked,
        )
        self._heartbeat.record_seen(datetime.now(UTC))
        start = 1
        for submission in gathered:
            end = start + len(submission.records)
            answer = [outcomes[position] for position in range(start, end)]
            if not submission.future.done():
                submission.future.set_result(answer)
            start = end


def _cell(value: object) -> CellValue:
    """Turn a JSON value into a cell as a file reader would give it."""
    if value is None or isinstance(value, str | float):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return value
    return _encode(value).decode()
