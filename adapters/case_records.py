"""From one department record to a case event, or to the reasons it is rejected.

This is the structural and reference layer of validation: required fields,
formats, check characters, code dictionaries, region codes and the item
catalogue. Sequence rules, which need the bus's state, come later in the
pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from adapters.catalogue import ItemCatalogue
from adapters.files.readers import SourceRecord
from adapters.normalize import (
    FieldValueError,
    normalize_code,
    normalize_id_number,
    normalize_text,
    parse_int,
    parse_time,
)
from adapters.profile import (
    CODE_FIELDS,
    ID_FIELDS,
    INT_FIELDS,
    TEXT_FIELDS,
    TIME_FIELDS,
    Profile,
)
from contracts import case as case_events
from contracts.identifiers import (
    Problem,
    check_department_code,
    check_id_card,
    check_org_code,
    check_phone,
    check_region_code,
    check_uscc,
    mask_identifier,
    parse_item_code,
)
from contracts.quarantine import Reason

_LOCAL_NO = re.compile(r"[0-9A-Za-z_-]{1,50}")
_PLACEHOLDERS = frozenset({"无", "空", "null", "NULL", "none", "None", "-", "/", "—", "N/A"})
FUTURE_TOLERANCE = timedelta(days=1)
"""Clock skew allowed before a business time counts as in the future."""

_PAYLOADS = {str(cls.__struct_config__.tag): cls for cls in case_events.CASE_PAYLOADS}
_SUBMITTED_REQUIRED = (
    "item_code",
    "item_name",
    "applicant_name",
    "applicant_id_type",
    "applicant_id",
    "department_code",
)
_MASKED_FIELDS = frozenset({"applicant_id", "phone"})
_CHECK_CACHE = 4096
"""Distinct values whose check result is kept: departments, regions and items repeat."""
_check_department_code = lru_cache(maxsize=_CHECK_CACHE)(check_department_code)
_check_region_code = lru_cache(maxsize=_CHECK_CACHE)(check_region_code)
_parse_item_code = lru_cache(maxsize=_CHECK_CACHE)(parse_item_code)
_ID_CHECKS: dict[str, tuple[str, Callable[[str], Problem | None]]] = {
    "id_card": ("id_card_invalid", check_id_card),
    "uscc": ("uscc_invalid", check_uscc),
    "org_code": ("org_code_invalid", check_org_code),
}


@dataclass(frozen=True)
class CaseCandidate:
    """A record that passed structural and reference rules, ready for sequence rules."""

    record: SourceRecord
    event_type: str
    record_key: str
    version: str
    local_no: str
    region: str
    department: str
    occurred_at: datetime
    payload: Any


@dataclass(frozen=True)
class Rejection:
    """A record that failed one or more rules."""

    record: SourceRecord
    record_key: str
    event_type: str | None
    region: str | None
    reasons: tuple[Reason, ...]


class _Collector:
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


Normalizer = Callable[[object], Any]


@dataclass(frozen=True)
class _Plan:
    """How to normalise each mapped column of one profile, worked out once per profile."""

    profile: Profile
    """Kept so that the profile's ``id`` stays unique while the plan is cached."""
    columns: tuple[tuple[str, str, Normalizer], ...]
    """(field, column, normaliser) of each non-time field."""
    times: tuple[tuple[str, str], ...]
    """(field, column) of each time field."""
    zone: tzinfo


_PLANS: dict[int, _Plan] = {}
_MAX_PLANS = 64


def _plan(profile: Profile) -> _Plan:
    plan = _PLANS.get(id(profile))
    if plan is not None:
        return plan
    columns: list[tuple[str, str, Normalizer]] = []
    times: list[tuple[str, str]] = []
    for field, column in profile.fields.items():
        if field in CODE_FIELDS:
            columns.append((field, column, normalize_code))
        elif field in ID_FIELDS:
            columns.append((field, column, normalize_id_number))
        elif field in TEXT_FIELDS:
            columns.append((field, column, normalize_text))
        elif field in INT_FIELDS:
            columns.append((field, column, parse_int))
        elif field in TIME_FIELDS:
            times.append((field, column))
    plan = _Plan(profile, tuple(columns), tuple(times), profile.zone)
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[id(profile)] = plan
    return plan


def _normalised(profile: Profile, record: SourceRecord, errors: _Collector) -> dict[str, Any]:
    plan = _plan(profile)
    fields = record.fields
    values: dict[str, Any] = {}
    for field, column, normalise in plan.columns:
        raw = fields.get(column)
        try:
            values[field] = normalise(raw)
        except FieldValueError as exc:
            values[field] = None
            errors.fail(
                "record_malformed", column, str(raw), str(exc), sensitive=field in _MASKED_FIELDS
            )
    for field, column in plan.times:
        raw = fields.get(column)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            values[field] = None
            continue
        try:
            values[field] = parse_time(raw, tz=plan.zone, excel=True)
        except FieldValueError as exc:
            errors.fail("time_invalid", column, str(raw), str(exc))
            values[field] = None
    return values


def record_key_of(
    local_no: str | None,
    status: str | None,
    when: datetime | None,
    record: SourceRecord,
    location: str,
) -> str:
    """Identity of a record independent of its content, used to match a corrected re-send.

    The key uses the department's own status code, not the event type it maps
    to, so a record quarantined for an unmapped code is resolved when the
    profile learns the code and the record is read again.
    """
    # NOTE: the key includes the business time, so a re-send that corrects
    # an unparseable or missing time gets another key and leaves the old
    # quarantine entry open.
    if not local_no:
        return f"{location}#{record.position}"
    moment = when.astimezone(UTC).isoformat() if when else "-"
    return f"{local_no}|{status or '-'}|{moment}"


def convert_case_record(
    profile: Profile,
    record: SourceRecord,
    *,
    location: str,
    catalogue: ItemCatalogue,
    now: datetime,
) -> CaseCandidate | Rejection:
    """Map and validate one record of a case source."""
    errors = _Collector()
    if record.error is not None:
        errors.fail("record_malformed", None, None, record.error)
        return Rejection(record, f"{location}#{record.position}", None, None, tuple(errors.reasons))

    values = _normalised(profile, record, errors)
    local_no = values.get("local_no")
    if local_no and profile.source.cross_level_prefix:
        local_no = local_no.removeprefix(profile.source.cross_level_prefix) or local_no
    status = values.get("status")
    event_name = profile.status.get(status) if status else None
    event_type = f"case.{event_name}" if event_name else None
    occurred_at = values.get("status_time")
    region = values.get("region")
    record_key = record_key_of(local_no, status, occurred_at, record, location)

    _check_common(profile, values, local_no, status, event_type, occurred_at, now, errors)
    if event_type == "case.submitted":
        _check_submitted(profile, values, catalogue, errors)
    if event_type == "case.concluded":
        _check_concluded(profile, values, errors)

    if errors.reasons or event_type is None or occurred_at is None or not local_no or not region:
        return Rejection(record, record_key, event_type, region, tuple(errors.reasons))

    payload = _build_payload(profile, event_type, local_no, values)
    return CaseCandidate(
        record=record,
        event_type=event_type,
        record_key=record_key,
        version=values.get("version") or "1",
        local_no=local_no,
        region=region,
        department=values.get("department_code") or "",
        occurred_at=occurred_at,
        payload=payload,
    )


def _check_common(
    profile: Profile,
    values: dict[str, Any],
    local_no: str | None,
    status: str | None,
    event_type: str | None,
    occurred_at: datetime | None,
    now: datetime,
    errors: _Collector,
) -> None:
    columns = profile.fields
    for field in ("local_no", "status", "status_time", "region"):
        if values.get(field) is None and not any(
            reason.field == columns[field] for reason in errors.reasons
        ):
            errors.fail("required_missing", columns[field], None)
    if local_no and not _LOCAL_NO.fullmatch(local_no):
        errors.fail("local_no_invalid", columns["local_no"], local_no)
    if status and event_type is None:
        errors.fail("status_unmapped", columns["status"], status)
    if occurred_at is not None and occurred_at > now + FUTURE_TOLERANCE:
        errors.fail("time_in_future", columns["status_time"], occurred_at.isoformat())
    region = values.get("region")
    if region:
        errors.problem("region_unknown", columns["region"], region, _check_region_code(region))
    department = values.get("department_code")
    if department:
        errors.problem(
            "department_code_invalid",
            columns["department_code"],
            department,
            _check_department_code(department),
        )


def _check_submitted(
    profile: Profile, values: dict[str, Any], catalogue: ItemCatalogue, errors: _Collector
) -> None:
    columns = profile.fields
    for field in _SUBMITTED_REQUIRED:
        column = columns.get(field, field)
        if values.get(field) is None:
            errors.fail("required_missing", column, None)

    name = values.get("applicant_name")
    if name is not None and (name in _PLACEHOLDERS or (len(set(name)) == 1 and len(name) > 2)):
        errors.fail("placeholder_value", columns.get("applicant_name"), name)

    item_code = values.get("item_code")
    if item_code:
        parsed = _parse_item_code(item_code)
        if isinstance(parsed, Problem):
            errors.fail("item_code_invalid", columns.get("item_code"), item_code, parsed.detail)
        elif item_code not in catalogue:
            errors.fail("item_unknown", columns.get("item_code"), item_code)

    id_type_raw = values.get("applicant_id_type")
    id_type = profile.id_types.get(id_type_raw) if id_type_raw else None
    if id_type_raw and id_type is None:
        errors.fail("id_type_unmapped", columns.get("applicant_id_type"), id_type_raw)
    applicant_id = values.get("applicant_id")
    if id_type in _ID_CHECKS and applicant_id:
        code, check = _ID_CHECKS[id_type]
        errors.problem(
            code,
            columns.get("applicant_id", "applicant_id"),
            applicant_id,
            check(applicant_id),
            sensitive=True,
        )
    values["applicant_id_type"] = id_type

    phone = values.get("phone")
    if phone:
        errors.problem(
            "phone_invalid",
            columns.get("phone", "phone"),
            phone,
            check_phone(phone),
            sensitive=True,
        )


def _check_concluded(profile: Profile, values: dict[str, Any], errors: _Collector) -> None:
    column = profile.fields.get("result", "result")
    raw = values.get("result")
    if raw is None:
        errors.fail("required_missing", column, None)
        return
    result = profile.result.get(raw)
    if result is None:
        errors.fail("result_unmapped", column, raw)
    values["result"] = result


def _build_payload(profile: Profile, event_type: str, local_no: str, values: dict[str, Any]) -> Any:
    common: dict[str, Any] = {
        "local_no": local_no,
        "system": profile.source.system,
        "remark": values.get("remark"),
    }
    if event_type == "case.submitted":
        common |= {
            "item_code": values["item_code"],
            "item_name": values["item_name"],
            "applicant_name": values["applicant_name"],
            "applicant_id_type": values["applicant_id_type"],
            "applicant_id": values["applicant_id"],
            "phone": values.get("phone"),
            "department_name": values.get("department_name"),
            "promised_days": values.get("promised_days"),
        }
    elif event_type == "case.accepted":
        common["promised_days"] = values.get("promised_days")
    elif event_type == "case.concluded":
        common["result"] = values["result"]
    return _PAYLOADS[event_type](**common)
