"""Outcome counts of an ingest run, and the reconciliation line they must satisfy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Tally:
    """Every record read ends in exactly one of published, duplicate, quarantined, parked.

    ``released`` and ``expired`` count events parked by earlier runs that this
    run published or quarantined (their wait ran out, or the case was closed
    before them). They are not records read by this run.
    """

    read: int = 0
    published: int = 0
    duplicates: int = 0
    quarantined: int = 0
    parked: int = 0
    released: int = 0
    expired: int = 0
    resolved: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    """Records quarantined per rule code; a record that fails several rules counts under each."""
    files: int = 0
    skipped_files: list[str] = field(default_factory=list)
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def accounted(self) -> int:
        return self.published + self.duplicates + self.quarantined + self.parked

    @property
    def reconciles(self) -> bool:
        return self.read == self.accounted

    def merge(self, other: Tally) -> None:
        for name in (
            "read",
            "published",
            "duplicates",
            "quarantined",
            "parked",
            "released",
            "expired",
            "resolved",
            "files",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.skipped_files.extend(other.skipped_files)
        self.unknown_columns.update(other.unknown_columns)
