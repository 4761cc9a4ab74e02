"""The outcome of each record of a batch, for sources that report back per record.

The HTTP gateway tells a department system what happened to every record it
sent. A pipeline fills an ``RecordOutcomes`` map, keyed by the record's position
in the batch, as it decides each record; file and table sources pass none
and keep only the counts.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from contracts.quarantine import Reason

OutcomeName = Literal["stored", "duplicate", "quarantined", "parked"]


class RecordOutcome(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Outcome of one record, with its event id, sequence, reasons or awaited events."""

    outcome: OutcomeName
    event_id: str | None = None
    seq: int | None = None
    """Stream sequence of the stored event, or of the earlier event a duplicate repeats."""
    reasons: tuple[Reason, ...] = ()
    waiting_for: tuple[str, ...] = ()
    """Event types a parked record waits for."""


RecordOutcomes = dict[int, RecordOutcome]
"""Record position → outcome."""
