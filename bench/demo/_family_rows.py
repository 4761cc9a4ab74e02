"""Rows of the review, hall and sharing exports, and the layout of each export.

A row contains canonical values keyed by contract field (the names a family
profile's ``[fields]`` table uses). A layout says which column carries each
field and which source code stands for each canonical value; the writers
translate rows through it, so the layouts and the TOML profiles must agree.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal

from bench.demo._sources import FileFormat

Family = Literal["review", "hall", "share"]
Cell = str | int | float | bool | datetime | date | time | tuple[str, ...] | None

HARMLESS_DEFECTS = frozenset({"full_width_digits", "out_of_order", "excel_serial_date"})
"""Defects after which the row is still published: normalised, or parked until its
predecessor arrives in the same run."""


@dataclass(slots=True, eq=False)
class FamilyRow:
    """One exported event in canonical terms; rows compare by identity, as copies must."""

    event: str
    """Short event name of the family's contract, such as ``rated``."""
    time: datetime
    """Business time in local time without a zone, written to the ``event_time`` column."""
    values: dict[str, Cell]
    """Contract field -> canonical value; levels are ints, flags are bools."""
    codes: dict[str, str] = field(default_factory=dict)
    """Source codes written in place of a value's first code: one of several codes
    of the same value, or a planted code the profile does not map. The key
    ``event`` overrides the event code."""
    defect: str | None = None
    """The planted defect this row carries or is, None for a clean row."""
    serial_time: bool = False
    """Write the event time as an Excel serial number (XLSX only)."""

    def __post_init__(self) -> None:
        # Rows built from one dict must not share it: each row gets its own row id.
        self.values = dict(self.values)
        self.codes = dict(self.codes)


@dataclass(frozen=True, kw_only=True, eq=False)
class FamilyLayout:
    """Columns and code tables of one review, hall or sharing export; equal only to itself."""

    source_id: str
    system: str
    name: str
    family: Family
    file_format: FileFormat
    encoding: str
    columns: tuple[tuple[str, str], ...]
    """(contract field, column name) pairs in file order; ``event`` is the event code."""
    events: dict[str, str]
    """Source event code -> short event name, as in the profile's ``[events]``."""
    codes: dict[str, dict[str, str]]
    """Contract field -> (source code -> canonical value), as in ``[codes.<field>]``."""
    unmapped: dict[str, str]
    """Contract field (or ``event``) -> a code the source emits but the profile leaves out."""
    time_format: str
    """strftime pattern of text times; XLSX writes date cells instead."""
    case_system: str = ""
    """System whose case numbers the ``local_no`` column carries."""
    booleans: tuple[str, str] = ("1", "0")
    """Texts the export writes for true and for false."""
    list_separator: str = ","
    line_terminator: str = "\n"

    @property
    def header(self) -> list[str]:
        return [column for _, column in self.columns]

    def code_of(self, field_name: str, canonical: str) -> str:
        """Return the first source code of a canonical value (or event name)."""
        return _first_codes(self)[field_name][canonical]


@functools.cache
def _first_codes(layout: FamilyLayout) -> dict[str, dict[str, str]]:
    tables = {"event": layout.events, **layout.codes}
    first: dict[str, dict[str, str]] = {}
    for field_name, table in tables.items():
        reverse: dict[str, str] = {}
        for code, canonical in table.items():
            reverse.setdefault(canonical, code)
        first[field_name] = reverse
    return first
