"""The unified case code (统一办件编码) that the bus mints once per case.

No national construction rule for case numbers is public, so the bus mints
its own in one documented format of 21 characters:

    region (6 digits, GB/T 2260) + date (8, YYYYMMDD) + sequence (6) + check (1)

The sequence counts per region and day. The check character is ISO 7064
MOD 11-2 over the first 20 digits (as in 居民身份证号码), so it is 0-9 or X.
"""

from __future__ import annotations

import re
from datetime import date

CODE_LENGTH = 21
MAX_SEQUENCE = 999_999
_CODE = re.compile(r"[0-9]{20}[0-9X]")
_CHECK_CHARS = "10X98765432"


def unified_code_check_char(body20: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character of 20 digits."""
    total = sum(int(digit) * pow(2, 20 - index, 11) for index, digit in enumerate(body20))
    return _CHECK_CHARS[total % 11]


def make_unified_code(region: str, day: date, sequence: int) -> str:
    """Compose a unified case code; raises ValueError when a part is out of range."""
    if not re.fullmatch(r"[0-9]{6}", region):
        raise ValueError(f"region {region!r} is not a 6-digit code")
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence {sequence} is outside 1..{MAX_SEQUENCE}")
    body = f"{region}{day:%Y%m%d}{sequence:06d}"
    return body + unified_code_check_char(body)


def is_unified_code(value: str) -> bool:
    """Tell whether ``value`` has the form and check character of a unified code."""
    return bool(_CODE.fullmatch(value)) and unified_code_check_char(value[:20]) == value[20]
