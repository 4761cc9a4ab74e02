"""From one record of a review, hall or sharing source to a candidate event, or to its rejection.

This is the structural and reference layer of validation for those
families: required fields, region and department codes, event codes and
code dictionaries of the profile, levels, yes/no values, lists, times in the
profile's zone and item codes in the catalogue. The rules that need the
bus's state (a rated case exists, a ticket moves forward …) come later, in
``adapters.ingest.family_rules``.

A candidate keeps its values as JSON values, so that a parked record can be
stored, read back by a later run and built into its event there.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import msgspec

from adapters.catalogue import ItemCatalogue
from adapters.family_fields import (
    PAYLOAD_NAME,
    PAYLOAD_TYPES,
    REQUIRED_MAPPINGS,
    Kind,
    choices,
    family_choices,
    field_kinds,
    payload_field_names,
    profile_name,
    required_fields,
)
from adapters.family_profile import FamilyProfile
from adapters.files.readers import SourceRecord
from adapters.normalize import (
    FieldValueError,
    normalize_code,
    normalize_id_number,
    normalize_text,
    parse_bool,
    parse_int,
    parse_time,
    parse_time_of_day,
    split_list,
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
from contracts.casecode import is_unified_code
from contracts.details import detail_text

REVIEW_LINKS = ("review_id", "case_code", "local_no", "channel", "rater")
"""Review fields that find the review of a follow-up event, besides its payload."""
_ENTITY_FIELDS = {
    "review": ("review_id", "case_code", "local_no"),
    "hall": ("booking_id", "ticket_id"),
    "share": ("objection_id", "request_id", "resource_code"),
}
_DATA_ITEM_TYPE_SEPARATORS = (":", "：")
_PERSONAL_FIELDS = frozenset({"rater", "person"})


class FamilyCandidate(msgspec.Struct, frozen=True, kw_only=True):
    """A record that passed structural and reference rules, ready for sequence rules."""

    family: str
    event_type: str
    record_key: str
    system: str
    case_system: str
    """System whose case numbers ``local_no`` carries."""
    occurred_at: datetime
    region: str
    department: str
    values: dict[str, Any]
    """Normalised values by contract field name, as JSON values (ISO dates and times)."""

    def value(self, name: str) -> Any:
        return self.values.get(name)


def convert_family_record(
    profile: FamilyProfile,
    record: SourceRecord,
    *,
    location: str,
    catalogue: ItemCatalogue,
    now: datetime,
) -> FamilyCandidate | Rejection:
    """Map and validate one record of a review, hall or sharing source."""
    rejected = malformed(record, location)
    if rejected is not None:
        return rejected
    errors = ReasonCollector()
    reader = _FieldReader(profile, record, errors)

    event_code = reader.value("event")
    event_name = profile.events.get(event_code) if event_code else None
    event_type = f"{profile.family}.{event_name}" if event_name else None
    occurred_at = reader.value("event_time")
    region = reader.value("region")
    department = reader.value("department_code")

    for name in REQUIRED_MAPPINGS:
        if reader.value(name) is None and not errors.failed_on(profile.fields[name]):
            errors.fail("required_missing", profile.fields[name], None)
    if event_code and event_type is None:
        errors.fail("event_unmapped", profile.fields["event"], event_code)
    check_time_not_future(errors, profile.fields["event_time"], occurred_at, now)
    check_region(errors, profile.fields["region"], region)
    check_department(errors, profile.fields.get("department_code", ""), department)

    # A time that broke a rule is left out of the key, as for case records.
    key_time = None if errors.failed_on(profile.fields["event_time"]) else occurred_at
    record_key = _record_key(profile, reader, event_code, key_time, record, location)

    values: dict[str, Any] = {}
    if event_type is not None:
        values = _payload_values(profile, event_type, reader, catalogue, errors)

    if errors.reasons or event_type is None or occurred_at is None or not region:
        return Rejection(record, record_key, event_type, region, tuple(errors.reasons))
    return FamilyCandidate(
        family=profile.family,
        event_type=event_type,
        record_key=record_key,
        system=profile.source.system,
        case_system=profile.source.case_system,
        occurred_at=occurred_at,
        region=region,
        department=department or "",
        values=values,
    )


class _FieldReader:
    """Normalises each mapped field of one record once, by its kind, collecting failures."""

    def __init__(self, profile: FamilyProfile, record: SourceRecord, errors: ReasonCollector):
        self._profile = profile
        self._record = record
        self._errors = errors
        self._kinds = field_kinds(profile.family)
        self._values: dict[str, Any] = {}

    def column(self, name: str) -> str:
        return self._profile.fields.get(name, name)

    def value(self, name: str) -> Any:
        if name not in self._values:
            self._values[name] = self._read(name)
        return self._values[name]

    def _read(self, name: str) -> Any:
        column = self._profile.fields.get(name)
        if column is None:
            return None
        raw = self._record.fields.get(column)
        kind = self._kinds[name]
        try:
            return _normalise(kind, raw, self._profile)
        except FieldValueError as exc:
            code = {
                Kind.TIME: "time_invalid",
                Kind.DATE: "time_invalid",
                Kind.CLOCK: "time_invalid",
                Kind.BOOL: "boolean_invalid",
            }.get(kind, "record_malformed")
            detail = None if kind is Kind.BOOL else str(exc)
            self._errors.fail(code, column, str(raw), detail, sensitive=name in _PERSONAL_FIELDS)
            return None


def _normalise(kind: Kind, raw: object, profile: FamilyProfile) -> Any:
    if kind is Kind.TEXT:
        return normalize_text(raw)
    if kind is Kind.ID:
        return normalize_id_number(raw)
    if kind is Kind.BOOL:
        return parse_bool(raw)
    if kind is Kind.INT:
        return parse_int(raw)
    if kind is Kind.LIST:
        return split_list(raw) or None
    if kind is Kind.CLOCK:
        return parse_time_of_day(raw)
    if kind in (Kind.TIME, Kind.DATE):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        moment = parse_time(raw, tz=profile.zone, excel=True)
        return moment.date() if kind is Kind.DATE else moment
    return normalize_code(raw)


def _record_key(
    profile: FamilyProfile,
    reader: _FieldReader,
    event_code: str | None,
    occurred_at: datetime | None,
    record: SourceRecord,
    location: str,
) -> str:
    """Identity of a record independent of its content, used to match a corrected re-send.

    The source's own row id when the profile maps one; else the entity the
    record names, its event code and its time.
    """
    row_id = reader.value("record_key")
    if row_id:
        return str(row_id)
    entity = next(
        (str(reader.value(name)) for name in _ENTITY_FIELDS[profile.family] if reader.value(name)),
        None,
    )
    if entity is None:
        return f"{location}#{record.position}"
    if profile.family == "review":
        # A rater reference may be an identity number, and record keys are
        # shown to operators, so the key carries a digest of it.
        rater = str(reader.value("rater") or "")
        digest = hashlib.sha256(rater.encode()).hexdigest()[:12]
        entity = f"{entity}/{reader.value('channel') or '-'}/{digest}"
    if profile.family == "hall":
        entity = f"{reader.value('hall') or '-'}/{entity}"
    return record_key(entity, event_code, occurred_at)


def _payload_values(
    profile: FamilyProfile,
    event_type: str,
    reader: _FieldReader,
    catalogue: ItemCatalogue,
    errors: ReasonCollector,
) -> dict[str, Any]:
    """Read, map and check the fields the event's payload and its links need."""
    wanted = [profile_name(name) for name in payload_field_names(event_type) if name != "system"]
    if profile.family == "review":
        wanted.extend(name for name in REVIEW_LINKS if name not in wanted)
    kinds = field_kinds(profile.family)

    values: dict[str, Any] = {}
    for name in wanted:
        value = reader.value(name)
        if value is None:
            continue
        kind = kinds[name]
        if kind is Kind.LEVEL:
            value = _level(profile, name, value, reader, errors)
        elif kind is Kind.CHOICE:
            value = _choice(profile, event_type, name, value, reader, errors)
        elif kind is Kind.LIST and name == "data_items":
            value = _data_items(event_type, value)
        elif kind in (Kind.DATE, Kind.CLOCK):
            value = value.isoformat()
        if value is not None:
            values[PAYLOAD_NAME.get(name, name)] = value

    _check_required(profile, event_type, values, reader, errors)
    check_item(errors, reader.column("item_code"), values.get("item_code"), catalogue)
    check_local_no(errors, reader.column("local_no"), values.get("local_no"))
    case_code = values.get("case_code")
    if case_code and not is_unified_code(case_code):
        errors.fail(
            "local_no_invalid",
            reader.column("case_code"),
            case_code,
            detail_text("not_unified_code"),
        )
    return values


def _check_required(
    profile: FamilyProfile,
    event_type: str,
    values: dict[str, Any],
    reader: _FieldReader,
    errors: ReasonCollector,
) -> None:
    needed = list(required_fields(event_type))
    if profile.family == "review":
        if event_type == "review.rated" or "review_id" not in values:
            needed.append("local_no|case_code")
        if event_type != "review.rated" and "review_id" not in values:
            needed.extend(("channel", "rater"))
    for need in needed:
        options = need.split("|")
        if any(values.get(PAYLOAD_NAME.get(name, name)) is not None for name in options):
            continue
        column = next(
            (profile.fields[name] for name in options if name in profile.fields), options[0]
        )
        if not errors.failed_on(column):
            errors.fail("required_missing", column, None)


def _level(
    profile: FamilyProfile,
    name: str,
    code: str,
    reader: _FieldReader,
    errors: ReasonCollector,
) -> int | None:
    mapped = _mapped_code(profile, name, code, reader, errors)
    if mapped is None:
        return None
    if mapped not in ("1", "2", "3", "4", "5"):
        errors.fail("level_invalid", reader.column(name), code)
        return None
    return int(mapped)


def _choice(
    profile: FamilyProfile,
    event_type: str,
    name: str,
    code: str,
    reader: _FieldReader,
    errors: ReasonCollector,
) -> str | None:
    mapped = _mapped_code(profile, name, code, reader, errors)
    if mapped is None:
        return None
    allowed = choices(event_type, name) or family_choices(profile.family, name)
    if mapped not in allowed:
        errors.fail(
            "code_unmapped",
            reader.column(name),
            code,
            detail_text(
                "choice_not_allowed",
                event_type=event_type,
                allowed=", ".join(allowed),
                value=mapped,
            ),
        )
        return None
    return mapped


def _mapped_code(
    profile: FamilyProfile, name: str, code: str, reader: _FieldReader, errors: ReasonCollector
) -> str | None:
    """Map a coded value through the field's [codes] table; without a table it stays as sent."""
    table = profile.codes.get(name)
    if table is None:
        return code
    mapped = table.get(code)
    if mapped is None:
        errors.fail(
            "code_unmapped", reader.column(name), code, detail_text("code_not_in_table", field=name)
        )
    return mapped


def _data_items(event_type: str, items: tuple[str, ...]) -> list[Any]:
    """Return resource data items as name and type; a request's items are names only."""
    if event_type == "share.request_submitted":
        return list(items)
    described = []
    for item in items:
        name, data_type = item, "string"
        for separator in _DATA_ITEM_TYPE_SEPARATORS:
            if separator in item:
                name, _, data_type = item.partition(separator)
                break
        described.append({"name": name.strip(), "data_type": data_type.strip() or "string"})
    return described


def build_payload(candidate: FamilyCandidate, **computed: Any) -> Any:
    """Build the event payload from a candidate's values and the fields the ingest computed.

    Raises:
        msgspec.ValidationError: the values do not fit the payload contract,
            which the checks above are meant to prevent.
    """
    names = payload_field_names(candidate.event_type)
    data = {name: value for name, value in candidate.values.items() if name in names}
    data |= {"system": candidate.system, **computed}
    return msgspec.convert(data, PAYLOAD_TYPES[candidate.event_type])
