"""Defects shared by the review, hall and sharing exports, and what the ingest does with each.

``DEFECT_OUTCOMES`` documents every planted defect kind with the outcome a
correct ingest gives the rows that carry it. The helpers below move and copy
rows between the files of one source, as re-sends and late batches do.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from bench.demo._family_rows import FamilyRow

Outcome = Literal[
    "published",
    "duplicate",
    "quarantined",
    "parked_then_published",
    "parked_then_quarantined",
]

T = TypeVar("T")

INVALID_REGION = "511690"
"""A well-formed region code that GB/T 2260 does not have (广安市 has no 90 county)."""


@dataclass(frozen=True)
class DefectKind:
    """A planted defect: what it is and what a correct ingest does with its rows."""

    description: str
    outcome: Outcome
    reason: str | None = None
    """Quarantine reason code (contracts/rules.py) for quarantined outcomes."""


DEFECT_OUTCOMES: dict[str, DefectKind] = {
    "full_width_digits": DefectKind(
        "full-width digits in a case number, region or department code", "published"
    ),
    "excel_serial_date": DefectKind(
        "an XLSX event time written as an Excel serial number", "published"
    ),
    "resent": DefectKind(
        "an identical copy of an earlier row, later in its file or in a later file", "duplicate"
    ),
    "out_of_order": DefectKind(
        "a row placed before its predecessor: a follow-up before its rating, a call before "
        "its ticket was issued, an approval before its request",
        "parked_then_published",
    ),
    "unmapped_event": DefectKind(
        "an event code the profile's [events] table leaves out",
        "quarantined",
        "event_unmapped",
    ),
    "unmapped_level": DefectKind(
        "a rating level code missing from [codes.level]", "quarantined", "code_unmapped"
    ),
    "unmapped_channel": DefectKind(
        "a channel code missing from [codes.channel]", "quarantined", "code_unmapped"
    ),
    "invalid_region": DefectKind(
        f"region code {INVALID_REGION}, which is not in the region code list",
        "quarantined",
        "region_unknown",
    ),
    "missing_case": DefectKind(
        "a rating or service end naming a case number its case system never exported",
        "parked_then_quarantined",
        "missing_predecessor",
    ),
    "second_rating": DefectKind(
        "a second rating of a case by the same rater through the same channel, with its own row id",
        "duplicate",
    ),
    "follow_up_not_bad": DefectKind(
        "a verification of a rating of level 3 or better", "quarantined", "review_not_bad"
    ),
    "rectification_not_valid": DefectKind(
        "a rectification assigned after a verification that found the review not genuine",
        "quarantined",
        "review_not_valid",
    ),
    "checked_in_twice": DefectKind(
        "a second check-in of a booking, with its own row id",
        "quarantined",
        "booking_checked_in_twice",
    ),
    "checked_in_after_cancel": DefectKind(
        "a check-in of a booking cancelled before", "quarantined", "booking_cancelled"
    ),
    "ticket_backwards": DefectKind(
        "a call of a ticket whose service had already started", "quarantined", "ticket_backwards"
    ),
    "not_shareable_request": DefectKind(
        "a request for a resource marked 不予共享", "quarantined", "resource_not_shareable"
    ),
    "delivery_without_approval": DefectKind(
        "a delivery for a conditionally shared resource whose request was never approved",
        "quarantined",
        "approval_required",
    ),
    "unknown_resource": DefectKind(
        "a request for a resource code the catalogue never published",
        "parked_then_quarantined",
        "missing_predecessor",
    ),
    "objection_without_delivery": DefectKind(
        "an objection to a resource that was never delivered",
        "parked_then_quarantined",
        "missing_predecessor",
    ),
}
"""Every defect kind planted in the review, hall and sharing exports."""


def scaled(population: int, share: float, minimum: int = 1) -> int:
    """Return how many rows get a defect: ``share`` of the population, at least ``minimum``."""
    if population <= 0:
        return 0
    return max(minimum, round(population * share))


def pick(rng: random.Random, candidates: Sequence[T], count: int) -> list[T]:
    """Choose up to ``count`` distinct candidates."""
    return rng.sample(list(candidates), min(count, len(candidates)))


def locate(files: list[list[FamilyRow]], row: FamilyRow) -> tuple[int, int]:
    """Return the file index and position of a row, compared by identity."""
    for file_index, rows in enumerate(files):
        for position, candidate in enumerate(rows):
            if candidate is row:
                return file_index, position
    message = "row is in none of the files"
    raise LookupError(message)


def move_before(files: list[list[FamilyRow]], row: FamilyRow, anchor: FamilyRow) -> None:
    """Move a row to the position right before ``anchor``, possibly into an earlier file."""
    file_index, position = locate(files, row)
    del files[file_index][position]
    anchor_file, anchor_position = locate(files, anchor)
    files[anchor_file].insert(anchor_position, row)


def resend(rng: random.Random, files: list[list[FamilyRow]], row: FamilyRow) -> bool:
    """Insert an identical copy two or more rows later or into a later file; False if no room."""
    file_index, position = locate(files, row)
    later_files = len(files) - file_index - 1
    same_file = files[file_index]
    copy = replace(row, values=dict(row.values), codes=dict(row.codes), defect="resent")

    if later_files and (rng.random() < 0.5 or position + 2 > len(same_file)):
        target = files[file_index + rng.randint(1, later_files)]
        target.insert(rng.randint(0, len(target)), copy)
        return True
    if position + 2 <= len(same_file):
        same_file.insert(rng.randint(position + 2, len(same_file)), copy)
        return True
    return False
