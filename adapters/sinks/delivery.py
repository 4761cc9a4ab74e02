"""The outcome of one batch, as the HTTP and file targets report it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DeliveryOutcome:
    """Counts of the kept events of one fetched batch, by outcome."""

    delivered: int = 0
    dead_lettered: int = 0
    failed_attempts: int = 0
    unfinished_from: int | None = None
    """Sequence of the first event left without an outcome because the sink is stopping."""
