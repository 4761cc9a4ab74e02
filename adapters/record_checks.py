"""Structural and reference checks that records of every family share.

A record's mapper collects every failed rule with ``ReasonCollector`` and
returns a ``Rejection`` when any failed, so a department gets all the
problems of a record at once rather than one per re-send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from adapters.catalogue import ItemCatalogue
from adapters.files.readers import SourceRecord
from contracts.details import detail_text
from contracts.identifiers import (
    Problem,
    check_department_code,
    check_region_code,
    mask_identifier,
    parse_item_code,
)
from contracts.quarantine import Reason

CHECK_CACHE = 4096
"""Distinct values whose check result is kept: departments, regions and items repeat."""
_region_problem = lru_cache(maxsize=CHECK_CACHE)(check_region_code)
_department_problem = lru_cache(maxsize=CHECK_CACHE)(check_department_code)
_parsed_item_code = lru_cache(maxsize=CHECK_CACHE)(parse_item_code)

LOCAL_NO = re.compile(r"[0-9A-Za-z_-]{1,50}")
"""A department's case number: 1 to 50 digits, letters, ``_`` and ``-``."""
_LOCAL_NO_MAX_LENGTH = 50
_LOCAL_NO_CHARACTER = re.compile(r"[0-9A-Za-z_-]")
FUTURE_TOLERANCE = timedelta(days=1)
"""Clock skew allowed before a business time counts as in the future."""


@dataclass(frozen=True)
class Rejection:
    """A record that failed one or more rules."""

    record: SourceRecord
    record_key: str
    event_type: str | None
    region: str | None
    reasons: tuple[Reason, ...]


class ReasonCollector:
    """The rules one record failed, in the order they were checked."""

    def __init__(self) -> None:
        self.reasons: list[Reason] = []

    def fail(
        self,
        code: str,
        field: str | None = None,
        value: str | None = None,
        detail: str | None = None,
        *,
        sensitive: bool = False,
    ) -> None:
        shown = mask_identifier(value) if sensitive and value else value
        self.reasons.append(Reason(code=code, field=field, value=shown, detail=detail))

    def problem(
        self, code: str, field: str, value: str, problem: Problem | None, *, sensitive: bool = False
    ) -> None:
        if problem is not None:
            self.fail(code, field, value, problem.detail, sensitive=sensitive)

    def failed_on(self, field: str | None) -> bool:
        """Tell whether a reason already names ``field``, so that it is not reported twice."""
        return any(reason.field == field for reason in self.reasons)


def malformed(record: SourceRecord, location: str) -> Rejection | None:
    """Return the rejection of a record the reader could not split into fields, else None."""
    if record.error is None:
        return None
    reason = Reason(code="record_malformed", detail=record.error)
    return Rejection(record, f"{location}#{record.position}", None, None, (reason,))


def check_time_not_future(
    errors: ReasonCollector, column: str, when: datetime | None, now: datetime
) -> None:
    if when is not None and when > now + FUTURE_TOLERANCE:
        errors.fail("time_in_future", column, when.isoformat())


def check_region(errors: ReasonCollector, column: str, region: str | None) -> None:
    if region:
        errors.problem("region_unknown", column, region, _region_problem(region))


def check_department(errors: ReasonCollector, column: str, department: str | None) -> None:
    if department:
        errors.problem(
            "department_code_invalid", column, department, _department_problem(department)
        )


def check_local_no(errors: ReasonCollector, column: str, local_no: str | None) -> None:
    if local_no and not LOCAL_NO.fullmatch(local_no):
        errors.fail("local_no_invalid", column, local_no, _local_no_detail(local_no))


def _local_no_detail(local_no: str) -> str:
    """Return the detail of a case number that ``LOCAL_NO`` rejects."""
    if len(local_no) > _LOCAL_NO_MAX_LENGTH:
        return detail_text("length_range", length=len(local_no), low=1, high=_LOCAL_NO_MAX_LENGTH)
    position, char = next(
        (index, char)
        for index, char in enumerate(local_no, start=1)
        if not _LOCAL_NO_CHARACTER.fullmatch(char)
    )
    return detail_text("local_no_charset", position=position, char=repr(char))


def check_item(
    errors: ReasonCollector, column: str, item_code: str | None, catalogue: ItemCatalogue
) -> None:
    """Check an implementation code's form and that the item catalogue lists it."""
    if not item_code:
        return
    parsed = _parsed_item_code(item_code)
    if isinstance(parsed, Problem):
        errors.fail("item_code_invalid", column, item_code, parsed.detail)
    elif item_code not in catalogue:
        errors.fail("item_unknown", column, item_code)
