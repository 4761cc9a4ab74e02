"""What a source implements, and what it hands to the driver.

A source reads one department system and yields ``Batch`` values. The driver
gives every record of a batch its outcome, waits until the bus acknowledged
all of them, stores the batch's position and only then resumes the source for
the next batch. So when ``batches`` resumes after a ``yield``, the position of
that batch is stored, and a source that stops at any point resumes from there.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from adapters.family_profile import SourceProfile
from adapters.files.readers import SourceRecord
from adapters.ingest.tally import Tally
from adapters.sdk.positions import PositionBook
from bus.heartbeat import Heartbeat


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """A resumable position, stored under ``name`` in the source's part of ``ZW_SOURCES``.

    ``value`` is any value msgspec encodes as JSON: a msgspec Struct, a dict,
    a number or a string. ``name`` distinguishes the positions of one source (one
    per file, or one ``watermark``) and is 1-64 of ``[A-Za-z0-9_-]``.
    """

    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class Batch:
    """Records read together, with the position to store once all of them have outcomes.

    ``location`` names where the records come from (a file name, a table) in
    quarantine entries and logs. A batch without records only stores its
    position. ``pass_done`` marks the end of one pass over the source: a
    poller sets it before it waits for new data, so that the driver can do
    its periodic work (quarantining parked events whose wait ran out).
    """

    records: Sequence[SourceRecord]
    location: str
    position: SourcePosition | None = None
    pass_done: bool = False


@dataclass
class SourceContext:
    """What the driver lends a source while it runs.

    ``positions`` reads the positions this source stored in earlier runs.
    ``tally`` contains the run's outcome counts; a source may add notes to it
    (``skipped_files``, ``unknown_columns``) but never changes the counts.
    ``count`` adds to the source's own counters, which the heartbeat sends
    beside the outcome counts.
    """

    source_id: str
    positions: PositionBook
    tally: Tally
    heartbeat: Heartbeat
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, **deltas: int) -> None:
        """Add to the source's counters, for example ``count(retries=1)``."""
        for name, delta in deltas.items():
            self.counters[name] = self.counters.get(name, 0) + delta
        self.heartbeat.increment(**deltas)


class Source(abc.ABC):
    """A department system the bus reads from.

    A subclass sets ``profile`` (the TOML profile that maps its records onto
    the contract) and implements ``batches``. ``kind`` names the sort of
    source in the NATS client name and in logs.
    """

    kind: ClassVar[str] = "source"
    profile: SourceProfile

    @abc.abstractmethod
    def batches(self, context: SourceContext) -> AsyncIterator[Batch]:
        """Yield batches of records, resuming after the positions in ``context.positions``.

        Write it as an async generator. It may run forever (a poller) or
        end when the input is exhausted (files). Cancellation arrives as
        ``asyncio.CancelledError`` at an ``await``, and the driver then
        closes the generator, so ``finally`` blocks release connections.
        """
