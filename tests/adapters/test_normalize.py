"""Tests for field normalisation of mapped source values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.normalize import (
    FieldValueError,
    TimeValueError,
    normalize_code,
    normalize_id_number,
    normalize_text,
    parse_int,
    parse_time,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _shanghai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=SHANGHAI)


# Codes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11511602MB0001", "11511602MB0001"),
        ("１１５１１６０２ＭＢ０００１", "11511602MB0001"),
        (" 5116 02 ", "511602"),
        ("511\u3000602", "511602"),
        ("511\u200b602\ufeff", "511602"),
        ("138\u00a00000\t0000\n", "13800000000"),
        (511602, "511602"),
        (511602.0, "511602"),
        (2.5, "2.5"),
        ("", None),
        ("\u3000 \u200b", None),
        (None, None),
    ],
)
def test_normalize_code_cases(value: object, expected: str | None) -> None:
    assert normalize_code(value) == expected


def test_normalize_code_rejects_inexact_float() -> None:
    # An 18-digit id number stored in a numeric spreadsheet cell.
    with pytest.raises(FieldValueError, match="may have lost digits"):
        normalize_code(5.116021990010112e17)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_normalize_code_rejects_non_finite(value: float) -> None:
    with pytest.raises(FieldValueError, match="finite"):
        normalize_code(value)


@pytest.mark.parametrize("value", [True, datetime(2024, 1, 1), date(2024, 1, 1)])
def test_normalize_code_rejects_other_types(value: object) -> None:
    with pytest.raises(FieldValueError, match="expected text or a number"):
        normalize_code(value)


@given(st.text())
def test_normalize_code_is_idempotent(text: str) -> None:
    once = normalize_code(text)

    assert normalize_code(once) == once
    assert once is None or not any(char.isspace() for char in once)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("51160219900101123x", "51160219900101123X"),
        ("５１１６０２１９９００１０１１２３ｘ", "51160219900101123X"),
        (" 51160219900101123X ", "51160219900101123X"),
        ("x5116", "x5116"),
        ("511602199001011234", "511602199001011234"),
        (None, None),
    ],
)
def test_normalize_id_number_cases(value: object, expected: str | None) -> None:
    assert normalize_id_number(value) == expected


# Free text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  张三  ", "张三"),
        ("ＡＢＣ有限公司", "ＡＢＣ有限公司"),
        ("第一行\n 第二行 ", "第一行\n 第二行"),
        ("\u3000申请人\u3000", "申请人"),
        ("编号１２３ｘ", "编号１２３ｘ"),
        ("", None),
        ("  \n ", None),
        (None, None),
        (15.0, "15"),
        (7, "7"),
        (date(2024, 1, 15), "2024-01-15"),
    ],
)
def test_normalize_text_cases(value: object, expected: str | None) -> None:
    assert normalize_text(value) == expected


# Integers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15", 15),
        (15, 15),
        (15.0, 15),
        ("１５", 15),
        (" 15 ", 15),
        ("15.0", 15),
        ("", None),
        (None, None),
    ],
)
def test_parse_int_cases(value: object, expected: int | None) -> None:
    assert parse_int(value) == expected


@pytest.mark.parametrize("value", ["15天", "1.5", 1.5, True, "1_000", "٣"])
def test_parse_int_rejects_non_integers(value: object) -> None:
    with pytest.raises(FieldValueError, match="invalid integer"):
        parse_int(value)


# Times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15 10:30:00", _shanghai(2024, 1, 15, 10, 30)),
        ("2024-01-15 10:30", _shanghai(2024, 1, 15, 10, 30)),
        ("2024/01/15 10:30", _shanghai(2024, 1, 15, 10, 30)),
        ("2024/1/5 9:30:15", _shanghai(2024, 1, 5, 9, 30, 15)),
        ("20240115103000", _shanghai(2024, 1, 15, 10, 30)),
        ("20240115", _shanghai(2024, 1, 15)),
        ("2024-01-15", _shanghai(2024, 1, 15)),
        ("2024-01-15T10:30:00", _shanghai(2024, 1, 15, 10, 30)),
        ("2024-01-15 10:30:00.0", _shanghai(2024, 1, 15, 10, 30)),
        ("2024-01-15T10:30:00.250", _shanghai(2024, 1, 15, 10, 30, 0, 250000)),
        ("２０２４－０１－１５　１０：３０：００", _shanghai(2024, 1, 15, 10, 30)),
        ("  2024-01-15 10:30:00\n", _shanghai(2024, 1, 15, 10, 30)),
        (20240115, _shanghai(2024, 1, 15)),
        (20240115103000, _shanghai(2024, 1, 15, 10, 30)),
    ],
)
def test_parse_time_text_forms(value: object, expected: datetime) -> None:
    result = parse_time(value, tz=SHANGHAI)

    assert result == expected
    assert result.tzinfo is SHANGHAI


@pytest.mark.parametrize(
    ("value", "expected_utc"),
    [
        ("2024-01-15T02:30:00Z", datetime(2024, 1, 15, 2, 30, tzinfo=UTC)),
        ("2024-01-15T10:30:00+08:00", datetime(2024, 1, 15, 2, 30, tzinfo=UTC)),
        ("2024-01-15T10:30:00+0800", datetime(2024, 1, 15, 2, 30, tzinfo=UTC)),
        ("2024-01-15T01:30:00-01", datetime(2024, 1, 15, 2, 30, tzinfo=UTC)),
    ],
)
def test_parse_time_zoned_text_keeps_instant(value: str, expected_utc: datetime) -> None:
    result = parse_time(value, tz=SHANGHAI)

    assert result == expected_utc
    assert result.tzinfo is SHANGHAI


def test_parse_time_naive_datetime_gets_zone() -> None:
    result = parse_time(datetime(2024, 1, 15, 10, 30), tz=SHANGHAI)

    assert result == _shanghai(2024, 1, 15, 10, 30)
    assert result.utcoffset() == timedelta(hours=8)


def test_parse_time_aware_datetime_converted() -> None:
    value = datetime(2024, 1, 15, 2, 30, tzinfo=timezone(timedelta(hours=-5)))

    result = parse_time(value, tz=SHANGHAI)

    assert result == value
    assert result.hour == 15


def test_parse_time_date_becomes_midnight() -> None:
    assert parse_time(date(2024, 1, 15), tz=SHANGHAI) == _shanghai(2024, 1, 15)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (46083.4375, _shanghai(2026, 3, 2, 10, 30)),
        (45306, _shanghai(2024, 1, 15)),
        ("46083.4375", _shanghai(2026, 3, 2, 10, 30)),
        (45306.437499999, _shanghai(2024, 1, 15, 10, 30)),
    ],
)
def test_parse_time_excel_serial(value: object, expected: datetime) -> None:
    assert parse_time(value, tz=SHANGHAI) == expected


@pytest.mark.parametrize("value", [46083.4375, 45306, "46083.4375"])
def test_parse_time_excel_serial_needs_flag(value: object) -> None:
    with pytest.raises(TimeValueError, match="Excel serial numbers are not accepted"):
        parse_time(value, tz=SHANGHAI, excel=False)


@pytest.mark.parametrize("value", [19999, 80001.0, "12345", 0])
def test_parse_time_excel_serial_out_of_range(value: object) -> None:
    with pytest.raises(TimeValueError, match="outside the Excel serial range"):
        parse_time(value, tz=SHANGHAI)


@pytest.mark.parametrize(
    "value",
    [
        "1753-01-01",
        "1753-01-01 00:00:00",
        "0001-01-01T00:00:00",
        "1899-12-31",
        "1900-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "9999-12-31T23:59:59Z",
        datetime(1753, 1, 1),
        date(1900, 1, 1),
    ],
)
def test_parse_time_rejects_placeholder_dates(value: object) -> None:
    with pytest.raises(TimeValueError, match="placeholder"):
        parse_time(value, tz=SHANGHAI)


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-30",
        "2024-01-15 25:00",
        "2024-13-01",
        "2024-01-15T10:30:00+25:00",
        "15/01/2024",
        "2024-01-15 10",
        "2024-01/15",
        "yesterday",
        "",
        None,
        True,
        [2024, 1, 15],
    ],
)
def test_parse_time_rejects_invalid_values(value: object) -> None:
    with pytest.raises(TimeValueError) as caught:
        parse_time(value, tz=SHANGHAI)

    message = str(caught.value)
    assert message.startswith(f"invalid time value {value!r}: ")
    assert "YYYY-MM-DD HH:MM:SS" in message
    assert caught.value.value == value


def test_time_value_error_lists_excel_form_only_when_enabled() -> None:
    with pytest.raises(TimeValueError) as enabled:
        parse_time("soon", tz=SHANGHAI)
    with pytest.raises(TimeValueError) as disabled:
        parse_time("soon", tz=SHANGHAI, excel=False)

    assert "Excel serial number" in str(enabled.value)
    assert "Excel serial number" not in str(disabled.value)


def test_time_value_error_is_value_error() -> None:
    assert issubclass(TimeValueError, ValueError)
    assert issubclass(TimeValueError, FieldValueError)
