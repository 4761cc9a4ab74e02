"""Mapping and structural checks of review, hall and sharing records, without a bus."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from adapters.catalogue import ItemCatalogue
from adapters.family_profile import FamilyProfile, load_source_profile
from adapters.family_records import FamilyCandidate, build_payload, convert_family_record
from adapters.files.readers import SourceRecord
from adapters.normalize import FieldValueError, parse_bool, parse_time_of_day, split_list
from adapters.record_checks import Rejection
from contracts.hall import BookingCreated
from tests.adapters.family_helpers import (
    HALL_PROFILE,
    REVIEW_PROFILE,
    SHARE_PROFILE,
    hall_row,
    review_row,
    share_row,
    write_text,
)
from tests.adapters.helpers import ITEM_CODE

NOW = datetime(2024, 6, 1, tzinfo=UTC)
CATALOGUE = ItemCatalogue({ITEM_CODE})


def _profile(tmp_path: Path, text: str) -> FamilyProfile:
    profile = load_source_profile(write_text(tmp_path / "profile.toml", text))
    assert isinstance(profile, FamilyProfile)
    return profile


def _convert(profile: FamilyProfile, row: dict[str, str]) -> FamilyCandidate | Rejection:
    record = SourceRecord(
        position=1, line=2, fields=dict(row), error=None, raw=",".join(row.values())
    )
    return convert_family_record(profile, record, location="x.csv", catalogue=CATALOGUE, now=NOW)


def _codes(result: FamilyCandidate | Rejection) -> list[tuple[str, str | None]]:
    assert isinstance(result, Rejection), result
    return [(reason.code, reason.field) for reason in result.reasons]


# Normalisation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("0", False),
        ("是", True),
        ("否", False),
        ("TRUE", True),
        ("n", False),
        ("Ｙ", True),
        (1, True),
        (0.0, False),
        ("", None),
        (None, None),
    ],
)
def test_parse_bool_forms(value: object, expected: bool | None) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize("value", ["2", "maybe", 3])
def test_parse_bool_rejects_other_values(value: object) -> None:
    with pytest.raises(FieldValueError, match="expected 1/0, 是/否, true/false or Y/N"):
        parse_bool(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("09:30", time(9, 30)),
        ("９:05:07", time(9, 5, 7)),
        (0.5, time(12)),
        (datetime(2024, 3, 1, 8, 15), time(8, 15)),
        ("", None),
    ],
)
def test_parse_time_of_day_forms(value: object, expected: time | None) -> None:
    assert parse_time_of_day(value) == expected


@pytest.mark.parametrize("value", ["25:00", "9.30", "noon"])
def test_parse_time_of_day_rejects(value: str) -> None:
    with pytest.raises(FieldValueError, match="time of day"):
        parse_time_of_day(value)


def test_split_list_separators() -> None:
    assert split_list("a, b，c;d；; ") == ("a", "b", "c", "d")
    assert split_list(510) == ("510",)
    assert split_list(None) == ()


# Records ----------------------------------------------------------------------


def test_review_record_values_mapped(tmp_path: Path) -> None:
    result = _convert(_profile(tmp_path, REVIEW_PROFILE), review_row("C1", "rated", "2024-03-02"))

    assert isinstance(result, FamilyCandidate)
    assert result.event_type == "review.rated"
    assert result.values["level"] == 1
    assert result.values["channel"] == "web"
    assert result.values["is_default"] is False
    assert result.values["reason_tags"] == ("510", "511")
    assert result.occurred_at.isoformat() == "2024-03-02T00:00:00+08:00"
    assert "11010519491231002X" not in result.record_key


def test_review_item_code_checked(tmp_path: Path) -> None:
    other = ITEM_CODE.replace("511A0138", "511A0139")
    profile = _profile(tmp_path, REVIEW_PROFILE)

    unknown = _convert(profile, review_row("C1", "rated", "2024-03-02", item=other))
    malformed = _convert(profile, review_row("C1", "rated", "2024-03-02", item="E-1"))

    assert _codes(unknown) == [("item_unknown", "item")]
    assert _codes(malformed) == [("item_code_invalid", "item")]


def test_review_bad_case_code_rejected(tmp_path: Path) -> None:
    row = review_row("", "rated", "2024-03-02", code="511602202403010000011")

    assert _codes(_convert(_profile(tmp_path, REVIEW_PROFILE), row)) == [
        ("local_no_invalid", "code")
    ]


def test_review_common_checks(tmp_path: Path) -> None:
    row = review_row("C.1", "rated", "2099-01-01", area="999999", dept="123", channel="")

    assert _codes(_convert(_profile(tmp_path, REVIEW_PROFILE), row)) == [
        ("time_in_future", "time"),
        ("region_unknown", "area"),
        ("department_code_invalid", "dept"),
        ("required_missing", "channel"),
        ("local_no_invalid", "no"),
    ]


def test_hall_slot_times_parsed(tmp_path: Path) -> None:
    row = hall_row("booking_created", "2024-02-28 10:00:00", booking="B1")

    result = _convert(_profile(tmp_path, HALL_PROFILE), row)

    assert isinstance(result, FamilyCandidate)
    payload = build_payload(result)
    assert isinstance(payload, BookingCreated)
    assert payload.slot_start == time(9)
    assert payload.system == "TEST-QUEUE"


def test_hall_bad_slot_time_rejected(tmp_path: Path) -> None:
    row = hall_row("booking_created", "2024-02-28 10:00:00", booking="B1", slot_end="9点半")

    assert _codes(_convert(_profile(tmp_path, HALL_PROFILE), row)) == [("time_invalid", "slot_end")]


def test_hall_channel_checked_per_event(tmp_path: Path) -> None:
    """A ticket channel is no booking channel."""
    row = hall_row("booking_created", "2024-02-28 10:00:00", booking="B1", channel="kiosk")

    result = _convert(_profile(tmp_path, HALL_PROFILE), row)

    assert _codes(result) == [("code_unmapped", "channel")]
    assert isinstance(result, Rejection)
    assert result.reasons[0].detail == ("hall.booking_created allows online, phone, not kiosk")


def test_share_required_fields_named(tmp_path: Path) -> None:
    row = share_row("request_denied", "2024-03-02", request="Q1", reason="")

    assert _codes(_convert(_profile(tmp_path, SHARE_PROFILE), row)) == [
        ("required_missing", "reason")
    ]


def test_share_count_must_be_number(tmp_path: Path) -> None:
    row = share_row("request_delivered", "2024-03-02", request="Q1", count="many")

    assert _codes(_convert(_profile(tmp_path, SHARE_PROFILE), row)) == [
        ("record_malformed", "count")
    ]


def test_malformed_record_rejected(tmp_path: Path) -> None:
    record = SourceRecord(position=4, line=5, fields={}, error="unclosed quote", raw='"x')

    result = convert_family_record(
        _profile(tmp_path, SHARE_PROFILE), record, location="x.csv", catalogue=CATALOGUE, now=NOW
    )

    assert _codes(result) == [("record_malformed", None)]
    assert isinstance(result, Rejection)
    assert result.record_key == "x.csv#4"
