"""The offline test kit: what a profile would make of a sample export, without a server.

Each record of the sample goes through the same mapping and structural and
reference rules as ``zwbus ingest``, and comes out as the event it would
produce or the reasons it would be rejected. Two kinds of rule need the bus
and are not guessed here:

- sequence rules (a predecessor event such as ``case.submitted`` before
  ``case.accepted``, no event after a case ended) are reported as checked on
  the bus;
- the item-catalogue rule (``item_unknown``) is checked only when a
  catalogue file is given, and reported as not checked otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adapters.case_records import CaseCandidate, convert_case_record
from adapters.catalogue import ItemCatalogue
from adapters.file_source import open_export, unknown_columns
from adapters.files.readers import SourceRecord
from adapters.items import check_catalogue_entry, read_catalogue
from adapters.profile import Profile
from contracts.case import PREDECESSORS
from contracts.ids import ingested_event_id
from contracts.quarantine import Reason

CATALOGUE_RULE = "item_unknown"


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
    event_id: str
    record_key: str
    """Key basis of the event id: local number, status code and business time."""
    version: str
    region: str
    occurred_at: datetime
    needs_on_bus: tuple[str, ...]
    """Event types the case must already have on the bus (sequence rules)."""
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
    profile: Profile, sample: Path, *, catalogue: ItemCatalogue | None = None
) -> CheckReport:
    """Map and validate every record of ``sample``; no server is needed.

    Raises:
        ConfigError: the sample cannot be decoded or read as a table.
    """
    source_file = open_export(sample, profile)
    unchecked = () if catalogue is not None else (CATALOGUE_RULE,)
    report = CheckReport(
        sample=sample.name,
        unknown_columns=unknown_columns(source_file, profile),
        unchecked_rules=unchecked,
    )
    report.records.extend(_checked(profile, sample, source_file.records(), catalogue))
    return report


def _checked(
    profile: Profile,
    sample: Path,
    records: Iterator[SourceRecord],
    catalogue: ItemCatalogue | None,
) -> Iterator[CheckedRecord]:
    now = datetime.now(UTC)
    first_by_event: dict[str, int] = {}
    for record in records:
        result = convert_case_record(
            profile,
            record,
            location=sample.name,
            catalogue=catalogue if catalogue is not None else _UncheckedCatalogue(),
            now=now,
        )
        if not isinstance(result, CaseCandidate):
            yield CheckedRecord(record.position, record.line, None, result.reasons)
            continue

        event_id = ingested_event_id(profile.source.system, result.record_key, result.version)
        earlier = first_by_event.get(event_id)
        if earlier is None:
            first_by_event[event_id] = record.position
        event = CheckedEvent(
            event_type=result.event_type,
            event_id=event_id,
            record_key=result.record_key,
            version=result.version,
            region=result.region,
            occurred_at=result.occurred_at,
            needs_on_bus=tuple(sorted(PREDECESSORS[result.event_type])),
            duplicate_of=earlier,
        )
        yield CheckedRecord(record.position, record.line, event)
