"""From one department record to a case event, or to the reasons it is rejected.

This is the structural and reference layer of validation: required fields,
formats, check characters, code dictionaries, region codes and the item
catalogue. Sequence rules, which need the bus's state, come later in the
pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
from adapters.record_checks import (
    ReasonCollector,
    Rejection,
    check_department,
    check_item,
    check_local_no,
    check_region,
    check_time_not_future,
    malformed,
)
from adapters.record_keys import record_key
from contracts import case as case_events
from contracts.identifiers import (
    Problem,
    check_id_card,
    check_org_code,
    check_phone,
    check_uscc,
)

_PLACEHOLDERS = frozenset({"无", "空", "null", "NULL", "none", "None", "-", "/", "—", "N/A"})

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


__all__ = ["CaseCandidate", "Rejection", "convert_case_record", "record_key_of"]


Normalizer = Callable[[object], Any]

_NORMALIZERS: tuple[tuple[frozenset[str], Normalizer], ...] = (
    (CODE_FIELDS, normalize_code),
    (ID_FIELDS, normalize_id_number),
    (TEXT_FIELDS, normalize_text),
    (INT_FIELDS, parse_int),
)
_PLANS: dict[int, tuple[Profile, tuple[tuple[str, str, Normalizer | None], ...]]] = {}
_MAX_PLANS = 64


def _plan(profile: Profile) -> tuple[tuple[str, str, Normalizer | None], ...]:
    """Return (field, column, normaliser) per mapped field, worked out once per profile.

    A time field has no normaliser; it is parsed with the profile's zone.
    """
    cached = _PLANS.get(id(profile))
    if cached is not None and cached[0] is profile:
        return cached[1]
    steps = []
    for field, column in profile.fields.items():
        normalizer = next((norm for names, norm in _NORMALIZERS if field in names), None)
        if normalizer is not None or field in TIME_FIELDS:
            steps.append((field, column, normalizer))
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    # The profile is kept with its plan, so its id cannot be reused meanwhile.
    _PLANS[id(profile)] = (profile, tuple(steps))
    return tuple(steps)


def _normalised(profile: Profile, record: SourceRecord, errors: ReasonCollector) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = record.fields
    for field, column, normalizer in _plan(profile):
        raw = fields.get(column)
        if normalizer is not None:
            try:
                values[field] = normalizer(raw)
            except FieldValueError as exc:
                values[field] = None
                errors.fail(
                    "record_malformed",
                    column,
                    str(raw),
                    str(exc),
                    sensitive=field in _MASKED_FIELDS,
                )
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            values[field] = None
            continue
        try:
            values[field] = parse_time(raw, tz=profile.zone, excel=True)
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
    if not local_no:
        return f"{location}#{record.position}"
    return record_key(local_no, status, when)


def convert_case_record(
    profile: Profile,
    record: SourceRecord,
    *,
    location: str,
    catalogue: ItemCatalogue,
    now: datetime,
) -> CaseCandidate | Rejection:
    """Map and validate one record of a case source."""
    rejected = malformed(record, location)
    if rejected is not None:
        return rejected
    errors = ReasonCollector()

    values = _normalised(profile, record, errors)
    local_no = values.get("local_no")
    if local_no and profile.source.cross_level_prefix:
        local_no = local_no.removeprefix(profile.source.cross_level_prefix) or local_no
    status = values.get("status")
    event_name = profile.status.get(status) if status else None
    event_type = f"case.{event_name}" if event_name else None
    occurred_at = values.get("status_time")
    region = values.get("region")

    _check_common(profile, values, local_no, status, event_type, occurred_at, now, errors)
    if event_type == "case.submitted":
        _check_submitted(profile, values, catalogue, errors)
    if event_type == "case.concluded":
        _check_concluded(profile, values, errors)

    # A time that broke a rule is left out of the key, so that the re-send
    # with the corrected time resolves the quarantine entry.
    key_time = None if errors.failed_on(profile.fields["status_time"]) else occurred_at
    record_key = record_key_of(local_no, status, key_time, record, location)

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
    errors: ReasonCollector,
) -> None:
    columns = profile.fields
    for field in ("local_no", "status", "status_time", "region"):
        if values.get(field) is None and not errors.failed_on(columns[field]):
            errors.fail("required_missing", columns[field], None)
    check_local_no(errors, columns["local_no"], local_no)
    if status and event_type is None:
        errors.fail("status_unmapped", columns["status"], status)
    check_time_not_future(errors, columns["status_time"], occurred_at, now)
    check_region(errors, columns["region"], values.get("region"))
    check_department(
        errors, columns.get("department_code", "department_code"), values.get("department_code")
    )


def _check_submitted(
    profile: Profile, values: dict[str, Any], catalogue: ItemCatalogue, errors: ReasonCollector
) -> None:
    columns = profile.fields
    for field in _SUBMITTED_REQUIRED:
        column = columns.get(field, field)
        if values.get(field) is None:
            errors.fail("required_missing", column, None)

    name = values.get("applicant_name")
    if name is not None and (name in _PLACEHOLDERS or (len(set(name)) == 1 and len(name) > 2)):
        errors.fail("placeholder_value", columns.get("applicant_name"), name)

    check_item(errors, columns.get("item_code", "item_code"), values.get("item_code"), catalogue)

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


def _check_concluded(profile: Profile, values: dict[str, Any], errors: ReasonCollector) -> None:
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
