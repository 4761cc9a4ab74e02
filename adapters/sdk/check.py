"""The offline test kit: what a profile would make of a sample export, without a server.

Each record of the sample goes through the same mapping and structural and
reference rules as ``zwbus ingest``, for a profile of any family, and comes
out as the event it would produce or the reasons it would be rejected. Two
kinds of rule need the bus and are not guessed here:

- sequence rules (a predecessor event such as ``case.submitted`` before
  ``case.accepted``, no event after a case ended, a rated case or a booked
  ticket's booking on the bus) are reported as checked on the bus;
- the item-catalogue rule (``item_unknown``) is checked only when a
  catalogue file is given, and reported as not checked otherwise.

A review that names its case by the local case number gets its review id,
and so its event id, only on the bus, where the case's unified code is known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from adapters.case_records import CaseCandidate, convert_case_record
from adapters.catalogue import ItemCatalogue
from adapters.family_profile import FamilyProfile, SourceProfile
from adapters.family_records import FamilyCandidate, convert_family_record
from adapters.file_source import open_export, unknown_columns
from adapters.files.readers import SourceRecord
from adapters.ingest.family_resolve import RECORD_VERSION, park_id_for, resolve_offline
from adapters.ingest.family_rules import bus_dependencies
from adapters.items import check_catalogue_entry, read_catalogue
from adapters.profile import Profile
from adapters.record_checks import Rejection
from contracts.case import PREDECESSORS
from contracts.ids import ingested_event_id
from contracts.quarantine import Reason

CATALOGUE_RULE = "item_unknown"

Candidate = TypeVar("Candidate", CaseCandidate, FamilyCandidate)


class _UncheckedCatalogue(ItemCatalogue):
    """Stands in for a missing catalogue: every item code counts as listed."""

    def __contains__(self, item_code: object) -> bool:
        return True


def catalogue_from_file(path: Path) -> ItemCatalogue:
    """Read a portal catalogue file as ``zwbus items import`` would publish it.

    Entries that import would quarantine are left out.
    """
    codes = {entry.item_code for entry in read_catalogue(path) if not check_catalogue_entry(entry)}
    return ItemCatalogue(codes)


@dataclass(frozen=True)
class CheckedEvent:
    """The event a record would produce."""

    event_type: str
    event_id: str | None
    """None for a review that names its case by local number: the bus derives it."""
    record_key: str
    """Key basis of the event id. For a case: local number, status code and business time;
    for other families: the entity the record names, its event code and business time."""
    version: str
    region: str
    occurred_at: datetime
    needs_on_bus: tuple[str, ...]
    """What the bus must already have (sequence rules): event types of the entity, and
    ``case <number>`` for a case a review or a hall service names."""
    duplicate_of: int | None
    """Position of an earlier record of the sample with the same event id."""


@dataclass(frozen=True)
class CheckedRecord:
    """One record of the sample with its outcome: an event, or the reasons it is rejected."""

    position: int
    line: int
    event: CheckedEvent | None
    reasons: tuple[Reason, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.event is None


@dataclass
class CheckReport:
    """The outcome of every record of a sample, with what the check could not decide."""

    sample: str
    family: str = "case"
    records: list[CheckedRecord] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    unchecked_rules: tuple[str, ...] = ()

    @property
    def events(self) -> int:
        return sum(1 for record in self.records if not record.rejected)

    @property
    def rejected(self) -> int:
        return sum(1 for record in self.records if record.rejected)

    @property
    def duplicates(self) -> int:
        return sum(
            1 for record in self.records if record.event and record.event.duplicate_of is not None
        )


def check_sample(
    profile: SourceProfile, sample: Path, *, catalogue: ItemCatalogue | None = None
) -> CheckReport:
    """Map and validate every record of ``sample``; no server is needed.

    Raises:
        ConfigError: the sample cannot be decoded or read as a table.
    """
    source_file = open_export(sample, profile)
    # A family profile without an item code column never meets the item rule.
    uses_items = isinstance(profile, Profile) or "item_code" in profile.fields
    unchecked = (CATALOGUE_RULE,) if catalogue is None and uses_items else ()
    report = CheckReport(
        sample=sample.name,
        family=profile.source.family,
        unknown_columns=unknown_columns(source_file, profile),
        unchecked_rules=unchecked,
    )
    records = source_file.records()
    if isinstance(profile, FamilyProfile):
        report.records.extend(_checked_family(profile, sample, records, catalogue))
    else:
        report.records.extend(_checked_cases(profile, sample, records, catalogue))
    return report


def _checked_cases(
    profile: Profile,
    sample: Path,
    records: Iterator[SourceRecord],
    catalogue: ItemCatalogue | None,
) -> Iterator[CheckedRecord]:
    now = datetime.now(UTC)

    def convert(record: SourceRecord) -> CaseCandidate | Rejection:
        return convert_case_record(
            profile, record, location=sample.name, catalogue=_listed(catalogue), now=now
        )

    def describe(candidate: CaseCandidate) -> tuple[str, CheckedEvent]:
        event_id = ingested_event_id(
            profile.source.system, candidate.record_key, candidate.version
        )
        event = CheckedEvent(
            event_type=candidate.event_type,
            event_id=event_id,
            record_key=candidate.record_key,
            version=candidate.version,
            region=candidate.region,
            occurred_at=candidate.occurred_at,
            needs_on_bus=tuple(sorted(PREDECESSORS[candidate.event_type])),
            duplicate_of=None,
        )
        return event_id, event

    return _checked(records, convert, describe)


def _checked_family(
    profile: FamilyProfile,
    sample: Path,
    records: Iterator[SourceRecord],
    catalogue: ItemCatalogue | None,
) -> Iterator[CheckedRecord]:
    now = datetime.now(UTC)

    def convert(record: SourceRecord) -> FamilyCandidate | Rejection:
        return convert_family_record(
            profile, record, location=sample.name, catalogue=_listed(catalogue), now=now
        )

    def describe(candidate: FamilyCandidate) -> tuple[str, CheckedEvent]:
        item = resolve_offline(candidate)
        # The pipeline tells re-sends apart by the same id: the event id when
        # the record's entity is known, else the id of the record itself.
        identity = item.event_id or park_id_for(candidate)
        event = CheckedEvent(
            event_type=candidate.event_type,
            event_id=item.event_id,
            record_key=candidate.record_key,
            version=RECORD_VERSION,
            region=candidate.region,
            occurred_at=candidate.occurred_at,
            needs_on_bus=bus_dependencies(item),
            duplicate_of=None,
        )
        return identity, event

    return _checked(records, convert, describe)


def _listed(catalogue: ItemCatalogue | None) -> ItemCatalogue:
    return catalogue if catalogue is not None else _UncheckedCatalogue()


def _checked(
    records: Iterator[SourceRecord],
    convert: Callable[[SourceRecord], Candidate | Rejection],
    describe: Callable[[Candidate], tuple[str, CheckedEvent]],
) -> Iterator[CheckedRecord]:
    """Convert each record to its event or its reasons.

    ``describe`` returns the identity that re-sends share and the event.
    An event whose identity an earlier record of the sample had gets that
    record's position as ``duplicate_of``.
    """
    first_by_identity: dict[str, int] = {}
    for record in records:
        result = convert(record)
        if isinstance(result, Rejection):
            yield CheckedRecord(record.position, record.line, None, result.reasons)
            continue

        identity, event = describe(result)
        earlier = first_by_identity.setdefault(identity, record.position)
        if earlier != record.position:
            event = replace(event, duplicate_of=earlier)
        yield CheckedRecord(record.position, record.line, event)
