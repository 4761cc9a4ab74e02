"""Check characters and validity checks of the identifiers records carry.

Covered: unified social credit codes (统一社会信用代码, GB 32100-2015),
organization codes (组织机构代码, GB 11714-1997), resident ID card numbers
(居民身份证号码, GB 11643-1999), mainland mobile numbers, GB/T 2260 region
codes, and the item codes (事项编码) that provincial portals publish.

Every ``check_*`` function validates the value exactly as given and returns
None when it is valid or a ``Problem``. Normalise department input with
``to_halfwidth`` first, and upper-case a lowercase ``x`` in ID numbers,
because a full-width digit or a lowercase letter is reported as a charset
problem here. A ``Problem`` detail never repeats the whole value, so it is
safe to log next to a masked identifier.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import msgspec

from contracts.details import detail_text
from contracts.regions import is_known_region, province_of

ProblemKind = Literal["length", "charset", "check", "date", "region", "placeholder", "format"]


class Problem(msgspec.Struct, frozen=True):
    """Why an identifier is invalid: a kind and a short English sentence.

    The sentence is a template of ``contracts.details`` filled in.
    """

    kind: ProblemKind
    detail: str


class ItemCode(msgspec.Struct, frozen=True):
    """The parts of an item implementation code (事项实施编码) that the bus uses."""

    basic_code: str
    """Basic code (基本编码), the same for every region that implements the item."""
    region12: str
    """12-digit region code of the implementing level."""
    department_code: str
    """Code of the implementing department, as written in the item code."""


# Characters that NFKC keeps but that are invisible in a spreadsheet cell.
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")

# China has used UTC+8 without daylight saving time since 1991.
CHINA_TIME = timezone(timedelta(hours=8))

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: index for index, char in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, index, 31) for index in range(17))

_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_VALUES = {char: index for index, char in enumerate(_ORG_ALPHABET)}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# ISO 7064 MOD 11-2: weight of position i (1-based) is 2^(18-i) mod 11, and
# the remainder of the weighted sum indexes this string.
_ID_CARD_WEIGHTS = tuple(pow(2, 17 - index, 11) for index in range(17))
_ID_CARD_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# Bodies registered by central authorities carry 100000, the national code,
# in positions 3-8, for example 11100000000013127D.
_CENTRAL_REGISTRATION = "100000"

_ASCII_DIGITS = frozenset("0123456789")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")

# A basic code is one or more upper-case alphanumeric segments joined by
# single hyphens: 511A0138000000, 512036010003, G-000007-001, 1J-5100-00027.
# The shortest documented scheme is Guizhou's 10-character code (DB52/T
# 1264-2018), and local basic codes are stored in varchar(50) columns.
# NOTE: the segment table of GB/T 39554.1-2020 was not available, so only
# this outer shape is checked, not the meaning of each segment.
_BASIC_CODE = re.compile(r"[0-9A-Z]+(?:-[0-9A-Z]+)*")
_BASIC_CODE_MIN_LENGTH = 10
_BASIC_CODE_MAX_LENGTH = 50

# Sichuan-style implementation code:
#   <basic code>-<12-digit region>-<middle>-<department code>-<flag>-<version>
# The department code may contain a hyphen (00877868-5). The middle segment
# (always 000 in the published catalogue) and the two trailing segments
# (1-00 or 2-00) have no published meaning, so any short alphanumeric value
# is accepted there.
_ITEM_CODE = re.compile(
    r"(?P<basic>[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*?)"
    r"-(?P<region>[0-9]{12})"
    r"-(?P<middle>[0-9A-Za-z]{1,6})"
    r"-(?P<department>[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)"
    r"-(?P<tail>[0-9A-Za-z]{1,3}-[0-9A-Za-z]{1,3})",
)


def to_halfwidth(value: str) -> str:
    """Fold full-width forms to ASCII (NFKC) and delete every whitespace character.

    Deleted: all Unicode whitespace (including the ideographic space U+3000
    and the no-break space U+00A0) and the zero-width characters U+200B to
    U+200D, U+2060 and U+FEFF. Use it on codes, never on names or free text.
    """
    folded = unicodedata.normalize("NFKC", value)
    visible = "".join(char for char in folded if not char.isspace() and char not in _ZERO_WIDTH)

    # NFKC turns some spacing marks into a space plus a combining mark (U+00B8
    # becomes U+0020 U+0327). Once the space is gone the mark joins the
    # previous letter, so a second pass keeps the result stable.
    return unicodedata.normalize("NFKC", visible)


def _is_placeholder(value: str) -> bool:
    """Tell whether a code is one character repeated, such as 1111111111.

    A hyphen does not count, so 11111111-1 is a placeholder too.
    """
    characters = set(value.replace("-", ""))
    return len(value) >= 2 and len(characters) == 1


def _is_plausible_region(code6: str) -> bool:
    """Tell whether a region code is in the bundled list or under a known province.

    ID numbers and credit codes keep the region code of the place and time of
    issue, and that code is not updated when a county is merged or recoded.
    Retired codes are absent from the current list, and so are the 市辖区
    (city districts) entries under which many bodies were registered, for
    example 511301 in 11511301MB1550442U. Requiring an exact match would
    reject real, valid numbers, so a code under a known province is accepted.
    """
    return is_known_region(code6) or is_known_region(province_of(code6))


def _placeholder_problem(value: str) -> Problem:
    return Problem("placeholder", detail_text("placeholder", char=repr(value[0])))


def _length_problem(value: str, expected: int) -> Problem:
    return Problem("length", detail_text("length", length=len(value), expected=expected))


def _first_not_in(value: str, allowed: frozenset[str] | dict[str, int]) -> int | None:
    """Return the 1-based position of the first character not in ``allowed``."""
    for index, char in enumerate(value):
        if char not in allowed:
            return index + 1
    return None


# --- 统一社会信用代码, GB 32100-2015 ---------------------------------------


def uscc_check_char(body17: str) -> str:
    """Compute the 18th character of a unified social credit code.

    Raises:
        ValueError: the body is not 17 characters of the USCC alphabet.
    """
    if len(body17) != 17 or _first_not_in(body17, _USCC_VALUES) is not None:
        message = f"USCC body must be 17 characters of {_USCC_ALPHABET}, got {body17!r}"
        raise ValueError(message)

    total = sum(
        _USCC_VALUES[char] * weight for char, weight in zip(body17, _USCC_WEIGHTS, strict=True)
    )
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(code: str) -> Problem | None:
    """Validate a unified social credit code (统一社会信用代码).

    Checks, in order: not a placeholder, 18 characters, the alphabet (no I,
    O, Z, S or V) with digits at positions 3-8, the check character at
    position 18, and the GB 11714 check of the organization code at
    positions 9-17. Last comes the registration region at positions 3-8. It
    passes when it is 100000 (central registration), a code of the bundled
    list, or a code under a known province, because issued credit codes
    keep retired county codes.
    """
    if _is_placeholder(code):
        return _placeholder_problem(code)
    if len(code) != 18:
        return _length_problem(code, 18)

    position = _first_not_in(code, _USCC_VALUES)
    if position is not None:
        return Problem(
            "charset",
            detail_text("uscc_charset", position=position, char=repr(code[position - 1])),
        )
    position = _first_not_in(code[2:8], _ASCII_DIGITS)
    if position is not None:
        return Problem("charset", detail_text("uscc_region_digit", position=position + 2))

    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return Problem(
            "check", detail_text("check_character", found=code[17], expected=expected)
        )

    # Positions 9-16 are in the USCC alphabet, a subset of the GB 11714 one,
    # so only the organization code's own check character can be wrong.
    embedded_expected = org_code_check_char(code[8:16])
    if code[16] != embedded_expected:
        return Problem(
            "check",
            detail_text("uscc_org_check", found=code[16], expected=embedded_expected),
        )

    region = code[2:8]
    if region != _CENTRAL_REGISTRATION and not _is_plausible_region(region):
        return Problem(
            "region", detail_text("uscc_region", region=region, province=region[:2])
        )

    return None


# --- 组织机构代码, GB 11714-1997 -------------------------------------------


def org_code_check_char(body8: str) -> str:
    """Compute the 9th character of an organization code.

    Raises:
        ValueError: the body is not 8 characters of digits and A-Z.
    """
    if len(body8) != 8 or _first_not_in(body8, _ORG_VALUES) is not None:
        message = f"organization code body must be 8 characters of 0-9 and A-Z, got {body8!r}"
        raise ValueError(message)

    total = sum(
        _ORG_VALUES[char] * weight for char, weight in zip(body8, _ORG_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def check_org_code(code: str) -> Problem | None:
    """Validate an organization code (组织机构代码): ``XXXXXXXXC`` or ``XXXXXXXX-C``."""
    if _is_placeholder(code):
        return _placeholder_problem(code)
    if len(code) not in (9, 10):
        return Problem("length", detail_text("length_org_code", length=len(code)))
    if len(code) == 10 and code[8] != "-":
        return Problem("format", detail_text("org_code_hyphen"))

    body = code[:8]
    check = code[-1]
    position = _first_not_in(body, _ORG_VALUES)
    if position is not None:
        return Problem(
            "charset",
            detail_text("org_code_charset", position=position, char=repr(body[position - 1])),
        )
    if check not in _ASCII_DIGITS and check != "X":
        return Problem("charset", detail_text("org_code_check_charset", char=repr(check)))

    expected = org_code_check_char(body)
    if check != expected:
        return Problem("check", detail_text("check_character", found=check, expected=expected))

    return None


# --- 居民身份证号码, GB 11643-1999 -----------------------------------------


def id_card_check_char(body17: str) -> str:
    """Compute the 18th character of a resident ID card number (ISO 7064 MOD 11-2).

    Raises:
        ValueError: the body is not 17 ASCII digits.
    """
    if len(body17) != 17 or _first_not_in(body17, _ASCII_DIGITS) is not None:
        message = "ID card body must be 17 ASCII digits"
        raise ValueError(message)

    total = sum(int(char) * weight for char, weight in zip(body17, _ID_CARD_WEIGHTS, strict=True))
    return _ID_CARD_CHECK_CHARS[total % 11]


def _birth_date_problem(digits8: str, today: date) -> Problem | None:
    try:
        born = date(int(digits8[0:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        return Problem("date", detail_text("birth_date_invalid"))

    if born < _EARLIEST_BIRTH_DATE:
        return Problem("date", detail_text("birth_date_early"))
    if born > today:
        return Problem("date", detail_text("birth_date_future"))
    return None


def check_id_card(number: str, *, today: date | None = None) -> Problem | None:
    """Validate an 18-digit resident ID card number (居民身份证号码).

    Checks, in order: not a placeholder, 18 characters, 17 digits then a digit
    or upper-case X, the check character, the region code at positions 1-6,
    and the birth date at positions 7-14. The region passes when its province
    is known, because ID numbers keep retired county codes. The birth date
    must be a real date from 1900-01-01 up to ``today``, which defaults to
    the current date in China. A detail names at most one character of the
    number, never the number itself.
    Convert 15-digit numbers with ``convert_legacy_id_card`` first.
    """
    if _is_placeholder(number):
        return _placeholder_problem(number)
    if len(number) != 18:
        if len(number) == 15:
            return Problem("length", detail_text("length_legacy_id_card"))
        return _length_problem(number, 18)

    position = _first_not_in(number[:17], _ASCII_DIGITS)
    if position is not None:
        return Problem("charset", detail_text("not_digit", position=position))
    check = number[17]
    if check == "x":
        return Problem("charset", detail_text("id_card_lowercase_x"))
    if check not in _ASCII_DIGITS and check != "X":
        return Problem("charset", detail_text("id_card_check_charset"))

    expected = id_card_check_char(number[:17])
    if check != expected:
        return Problem("check", detail_text("check_character", found=check, expected=expected))

    if not _is_plausible_region(number[:6]):
        return Problem("region", detail_text("id_card_province"))

    if today is None:
        today = datetime.now(CHINA_TIME).date()
    return _birth_date_problem(number[6:14], today)


def convert_legacy_id_card(number15: str) -> str:
    """Convert a 15-digit ID number to 18 digits: add 19 to the birth year and a check.

    Raises:
        ValueError: the number is not 15 ASCII digits.
    """
    if len(number15) != 15 or _first_not_in(number15, _ASCII_DIGITS) is not None:
        message = "legacy ID card number must be 15 ASCII digits"
        raise ValueError(message)

    body = number15[:6] + "19" + number15[6:]
    return body + id_card_check_char(body)


# --- phone and region -------------------------------------------------------


def check_phone(number: str) -> Problem | None:
    """Validate a mainland mobile number: 11 digits starting with 13 to 19.

    NOTE: landlines, numbers with +86 and extensions are reported as invalid.
    """
    if _is_placeholder(number):
        return _placeholder_problem(number)
    if len(number) != 11:
        return _length_problem(number, 11)

    position = _first_not_in(number, _ASCII_DIGITS)
    if position is not None:
        return Problem("charset", detail_text("not_digit", position=position))
    if not _MOBILE.fullmatch(number):
        return Problem("format", detail_text("mobile_prefix"))

    return None


def check_region_code(code: str) -> Problem | None:
    """Validate a 6-digit GB/T 2260 region code against the bundled list."""
    if len(code) != 6:
        return _length_problem(code, 6)
    if _first_not_in(code, _ASCII_DIGITS) is not None:
        return Problem("charset", detail_text("region_digits"))
    if not is_known_region(province_of(code)):
        return Problem("region", detail_text("region_province", province=code[:2]))
    if not is_known_region(code):
        return Problem("region", detail_text("region_retired", province=code[:2]))
    return None


# --- 事项编码 --------------------------------------------------------------


def parse_item_code(code: str) -> ItemCode | Problem:
    """Split an implementation code (事项实施编码) into basic, region and department codes.

    Recognised: ``<basic>-<region12>-<middle>-<department>-<flag>-<version>``,
    for example ``511A0138000000-511602000000-000-115113010833722043-1-00``
    and ``G-000007-001-511602000000-000-115113010833722043-1-00``. The
    parts are not validated here, so pass them to ``check_basic_code``,
    ``check_region_code`` and ``check_department_code``. Any other shape is
    a ``format`` problem, including the short ``E-000004-001-<department>``
    form, because it has no region.
    """
    match = _ITEM_CODE.fullmatch(code)
    if match is None:
        if re.search(r"(?:^|-)[0-9]{12}(?:-|\Z)", code) is None:
            return Problem("format", detail_text("item_code_no_region"))
        return Problem("format", detail_text("item_code_shape"))

    return ItemCode(
        basic_code=match["basic"],
        region12=match["region"],
        department_code=match["department"],
    )


def check_basic_code(code: str) -> Problem | None:
    """Validate the outer shape of a basic code (基本编码), such as 511A0138000000."""
    if _is_placeholder(code):
        return _placeholder_problem(code)
    if not _BASIC_CODE_MIN_LENGTH <= len(code) <= _BASIC_CODE_MAX_LENGTH:
        return Problem(
            "length",
            detail_text(
                "length_range",
                length=len(code),
                low=_BASIC_CODE_MIN_LENGTH,
                high=_BASIC_CODE_MAX_LENGTH,
            ),
        )

    position = _first_not_in(code, frozenset(_ORG_ALPHABET + "-"))
    if position is not None:
        return Problem(
            "charset",
            detail_text("basic_code_charset", position=position, char=repr(code[position - 1])),
        )
    if not _BASIC_CODE.fullmatch(code):
        return Problem("format", detail_text("basic_code_hyphens"))

    return None


def check_department_code(code: str) -> Problem | None:
    """Validate a department code (实施主体编码): a USCC or an organization code.

    Valid are an 18-character unified social credit code and a 9-character
    organization code, or 10 characters with the hyphen. One repeated
    character is a ``placeholder`` problem, any other length a ``length`` one.
    """
    if _is_placeholder(code):
        return _placeholder_problem(code)
    if len(code) == 18:
        return check_uscc(code)
    if len(code) in (9, 10):
        return check_org_code(code)
    return Problem("length", detail_text("length_department_code", length=len(code)))


# --- masking ----------------------------------------------------------------


def mask_identifier(value: str) -> str:
    """Hide the middle of an identifier for logs: 511602199001011234 -> 5116**********1234.

    Values of 8 characters or fewer keep only their last 2 characters, and
    values of 1 or 2 characters are masked completely.
    """
    length = len(value)
    if length > 8:
        return value[:4] + "*" * (length - 8) + value[-4:]
    if length > 2:
        return "*" * (length - 2) + value[-2:]
    return "*" * length
