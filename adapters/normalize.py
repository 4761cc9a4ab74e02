"""Normalise source values after a record's columns are mapped to contract fields.

Each function serves one field kind. Identifier and code fields are made
comparable (NFKC, no whitespace), free text is only trimmed, and time fields
become aware datetimes in the source's time zone.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from contracts.details import detail_text

# Excel keeps only 15 significant digits of a number. A whole number of 16 or
# more digits read as a float may therefore have lost its last digits, as an
# 18-digit id number typed into a numeric cell does.
_MAX_EXACT_SPREADSHEET_INTEGER = 10**15

# Excel's serial day 0 in the 1900 date system, counted so that serials after
# February 1900 come out right (Excel treats 1900 as a leap year).
_EXCEL_EPOCH = datetime(1899, 12, 30)
_EXCEL_SERIAL_MIN = 20000  # 1954-10-03
_EXCEL_SERIAL_MAX = 80000  # 2119-01-10
_MILLISECONDS_PER_DAY = 86_400_000

_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})(?P<sep>[-/])(?P<month>[0-9]{1,2})(?P=sep)(?P<day>[0-9]{1,2})"
    r"(?:(?:[Tt]|\s+)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"\s*(?P<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_COMPACT_DATE = re.compile(r"[0-9]{8}")
_COMPACT_DATE_TIME = re.compile(r"[0-9]{14}")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_INTEGER = re.compile(r"(?P<digits>[+-]?[0-9]+)(?:\.0*)?")

_TIME_OF_DAY = re.compile(r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?")
_TRUE_WORDS = frozenset({"1", "是", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "否", "false", "n", "no"})
_LIST_SEPARATORS = re.compile(r"[,，;；]")


class FieldValueError(ValueError):
    """Raised when a source value cannot be normalised for its field kind."""


class TimeValueError(FieldValueError):
    """Raised when a value is not an accepted time form or is a placeholder date."""

    def __init__(self, value: object, *, reason: str, excel: bool) -> None:
        self.value = value
        self.reason = reason

        if excel:
            forms = detail_text("time_forms_excel", low=_EXCEL_SERIAL_MIN, high=_EXCEL_SERIAL_MAX)
        else:
            forms = detail_text("time_forms")
        super().__init__(detail_text("time_value", value=repr(value), reason=reason, forms=forms))


_PLAIN_ASCII = re.compile(r"[!-~]+")
"""Printable ASCII without spaces, which NFKC and whitespace removal leave unchanged."""


def normalize_code(value: object) -> str | None:
    """Normalise an identifier or code field value for comparison.

    Integers and whole floats are written without a decimal part. Text gets
    NFKC (full-width digits and letters become ASCII) and loses all whitespace
    and invisible format characters such as U+200B. Returns None when nothing
    is left.

    Raises:
        FieldValueError: the value is not text or a number, or it is a float
            too large to be exact (a spreadsheet keeps 15 significant digits).
    """
    if value is None:
        return None

    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float):
        text = _format_code_number(value)
    else:
        raise FieldValueError(
            detail_text("code_value_type", value=repr(value), type=type(value).__name__)
        )

    # Most codes are already plain printable ASCII: nothing to convert or drop.
    if _PLAIN_ASCII.fullmatch(text):
        return text

    text = unicodedata.normalize("NFKC", text)
    compact = "".join(char for char in text if not _is_blank_or_invisible(char))

    # NFKC turns some characters into a space plus a combining mark (U+00A8
    # becomes U+0020 U+0308). Once the space is gone the mark joins the
    # previous character, so normalising again keeps the result stable.
    return unicodedata.normalize("NFKC", compact) or None


def normalize_id_number(value: object) -> str | None:
    """Normalise an applicant id number like a code and upper-case a trailing x.

    The check character of a GB 11643 resident id number is written X.
    """
    code = normalize_code(value)
    if code is not None and code.endswith("x"):
        return code[:-1] + "X"
    return code


def normalize_text(value: object) -> str | None:
    """Normalise a free-text field by trimming outer whitespace only.

    Internal whitespace, line breaks and full-width characters are kept. Numbers
    and dates from a workbook are written as text. Returns None for empty text.
    """
    if value is None:
        return None

    if isinstance(value, str):
        text = value
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        raise FieldValueError(
            detail_text("text_value_type", value=repr(value), type=type(value).__name__)
        )

    return text.strip() or None


def parse_int(value: object) -> int | None:
    """Parse a count such as promised days: ``"15"``, ``15.0`` or ``"１５"``.

    Returns None for None or blank text.

    Raises:
        FieldValueError: the value is not a whole number.
    """
    if value is None:
        return None

    if isinstance(value, bool):
        raise FieldValueError(detail_text("integer_boolean", value=repr(value)))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise FieldValueError(detail_text("integer_fraction", value=repr(value)))
        return int(value)
    if not isinstance(value, str):
        raise FieldValueError(
            detail_text("integer_type", value=repr(value), type=type(value).__name__)
        )

    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return None
    match = _INTEGER.fullmatch(text)
    if match is None:
        raise FieldValueError(detail_text("integer_text", value=repr(value)))
    return int(match["digits"])


def parse_time(value: object, *, tz: tzinfo, excel: bool = True) -> datetime:
    """Parse a business time and return it as an aware datetime in `tz`.

    Accepts datetime and date objects, the text forms listed in the error
    message (full-width digits and punctuation included), and 8- or 14-digit
    numbers read as YYYYMMDD or YYYYMMDDHHMMSS. With ``excel=True`` it also
    accepts Excel serial numbers from 20000 to 80000 (1954 to 2119), as
    numbers or numeric text, whose fraction is the time of day.

    A naive value gets `tz`. A value with its own offset is converted to `tz`,
    which keeps the instant.

    Raises:
        TimeValueError: the value has no accepted form, is not a real
            calendar time, or is a placeholder date: a year before 1900,
            1900-01-01, or 9999-12-31.
    """
    if isinstance(value, datetime):
        written = value
    elif isinstance(value, date):
        written = datetime(value.year, value.month, value.day)
    elif isinstance(value, bool):
        raise TimeValueError(value, reason=detail_text("time_boolean"), excel=excel)
    elif isinstance(value, int | float):
        written = _parse_number(value, excel=excel)
    elif isinstance(value, str):
        written = _parse_text(value, excel=excel)
    elif value is None:
        raise TimeValueError(value, reason=detail_text("time_missing"), excel=excel)
    else:
        reason = detail_text("time_type", type=type(value).__name__)
        raise TimeValueError(value, reason=reason, excel=excel)

    # The check runs on the date as written, before a zone conversion could
    # move a placeholder such as 9999-12-31 out of the datetime range.
    _reject_placeholder(value, written, excel=excel)

    if written.tzinfo is None:
        return written.replace(tzinfo=tz)
    return written.astimezone(tz)


def _is_blank_or_invisible(char: str) -> bool:
    # Category Cf covers zero-width spaces and joiners, U+2060 and U+FEFF.
    return char.isspace() or unicodedata.category(char) == "Cf"


def _format_code_number(value: float) -> str:
    if not math.isfinite(value):
        raise FieldValueError(detail_text("code_value_not_finite", value=repr(value)))

    if not value.is_integer():
        return repr(value)

    if abs(value) >= _MAX_EXACT_SPREADSHEET_INTEGER:
        raise FieldValueError(detail_text("code_value_lost_digits", value=repr(value)))
    return str(int(value))


def _parse_number(value: float, *, excel: bool) -> datetime:
    if isinstance(value, float) and not math.isfinite(value):
        raise TimeValueError(value, reason=detail_text("time_not_finite"), excel=excel)

    # Whole numbers of 8 or 14 digits are compact dates that a workbook or
    # JSON exporter stored as numbers.
    if float(value).is_integer() and len(str(int(value))) in (8, 14):
        return _parse_text(str(int(value)), excel=excel)

    if not excel:
        raise TimeValueError(value, reason=detail_text("time_excel_refused"), excel=excel)
    return _from_excel_serial(value, float(value), excel=excel)


def _parse_text(value: str, *, excel: bool) -> datetime:
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        raise TimeValueError(value, reason=detail_text("time_empty"), excel=excel)

    try:
        if _COMPACT_DATE_TIME.fullmatch(text):
            return datetime.strptime(text, "%Y%m%d%H%M%S")
        if _COMPACT_DATE.fullmatch(text):
            return datetime.strptime(text, "%Y%m%d")

        match = _DATE_TIME.fullmatch(text)
        if match is not None:
            return _from_match(match)
    except ValueError as exc:
        reason = detail_text("time_not_calendar", error=exc)
        raise TimeValueError(value, reason=reason, excel=excel) from exc

    if _DECIMAL.fullmatch(text):
        if not excel:
            raise TimeValueError(value, reason=detail_text("time_excel_refused"), excel=excel)
        return _from_excel_serial(value, float(text), excel=excel)

    raise TimeValueError(value, reason=detail_text("time_unrecognised"), excel=excel)


def _from_match(match: re.Match[str]) -> datetime:
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    zone = _parse_zone(match["zone"])
    return datetime(
        int(match["year"]),
        int(match["month"]),
        int(match["day"]),
        int(match["hour"] or 0),
        int(match["minute"] or 0),
        int(match["second"] or 0),
        int(fraction),
        tzinfo=zone,
    )


def _parse_zone(zone: str | None) -> tzinfo | None:
    if zone is None:
        return None
    if zone in ("Z", "z"):
        return UTC

    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        msg = f"invalid UTC offset {zone!r}"
        raise ValueError(msg)

    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone.startswith("-") else offset)


def _from_excel_serial(value: object, serial: float, *, excel: bool) -> datetime:
    if not _EXCEL_SERIAL_MIN <= serial <= _EXCEL_SERIAL_MAX:
        reason = detail_text("time_excel_range", serial=f"{serial:g}")
        raise TimeValueError(value, reason=reason, excel=excel)

    # Excel shows times to the millisecond at most, and rounding there removes
    # float noise such as 0.4374999999 days for 10:30.
    milliseconds = round(serial * _MILLISECONDS_PER_DAY)
    return _EXCEL_EPOCH + timedelta(milliseconds=milliseconds)


def _reject_placeholder(value: object, written: datetime, *, excel: bool) -> None:
    day = written.date()
    if day.year < 1900:
        reason = detail_text("time_placeholder_year", year=day.year)
    elif day in (date(1900, 1, 1), date(9999, 12, 31)):
        reason = detail_text("time_placeholder_date", date=day.isoformat())
    else:
        return
    raise TimeValueError(value, reason=reason, excel=excel)


def parse_bool(value: object) -> bool | None:
    """Parse a yes/no field: 1/0, 是/否, true/false, Y/N (any case, full-width too).

    Returns None for None or blank text.

    Raises:
        FieldValueError: the value is not one of the accepted forms.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().lower()
        if not text:
            return None
        if text in _TRUE_WORDS:
            return True
        if text in _FALSE_WORDS:
            return False
    raise FieldValueError(detail_text("yes_no", value=repr(value)))


def parse_time_of_day(value: object) -> time | None:
    """Parse a time of day such as a slot start: ``"09:30"``, ``"09:30:00"`` or ``"０９:３０"``.

    A workbook cell may hold a ``time``, a ``datetime`` (its clock time is
    taken) or a day fraction from 0 to below 1. Returns None for None or
    blank text.

    Raises:
        FieldValueError: the value is not a time of day.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.time().replace(tzinfo=None)
    if isinstance(value, time):
        return value
    if isinstance(value, float) and 0 <= value < 1:
        seconds = min(round(value * 86_400), 86_399)
        return time(seconds // 3600, seconds // 60 % 60, seconds % 60)
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if not text:
            return None
        match = _TIME_OF_DAY.fullmatch(text)
        if match is not None:
            try:
                return time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0))
            except ValueError as exc:
                detail = detail_text("time_of_day_range", value=repr(value), error=exc)
                raise FieldValueError(detail) from exc
    raise FieldValueError(detail_text("time_of_day", value=repr(value)))


def split_list(value: object) -> tuple[str, ...]:
    """Split a one-column list on ``,`` ``，`` ``;`` or ``；``; trims items and drops empty ones.

    Raises:
        FieldValueError: the value is not text or a number.
    """
    text = normalize_text(value)
    if text is None:
        return ()
    return tuple(item.strip() for item in _LIST_SEPARATORS.split(text) if item.strip())
