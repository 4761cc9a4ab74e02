"""GB/T 2260 region codes (行政区划代码) from the bundled snapshot.

The snapshot is the 2023 statistical division list (统计用区划代码, cut-off
2023-06-30): 31 provinces, 342 prefecture-level and 2,978 county-level
divisions. It contains current codes only, so a county code retired before
2023 is unknown here even though old ID numbers and registrations still
carry it.
"""

from __future__ import annotations

import csv
import functools
import re
from importlib import resources

_DATA_PACKAGE = "contracts"
_CODE6 = re.compile(r"[0-9]{6}")


def _read_rows(file_name: str) -> list[dict[str, str]]:
    text = (resources.files(_DATA_PACKAGE) / "data" / "regions" / file_name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@functools.cache
def _region_names() -> dict[str, str]:
    """Map every 6-digit code of the snapshot to its name, loaded on first use."""
    names: dict[str, str] = {}

    # The CSVs use 2-digit province and 4-digit city codes, so pad them to
    # the 6-digit form (510000, 511600) that records carry.
    for row in _read_rows("provinces.csv"):
        names[row["code"] + "0000"] = row["name"]
    for row in _read_rows("cities.csv"):
        names[row["code"] + "00"] = row["name"]
    for row in _read_rows("areas.csv"):
        names[row["code"]] = row["name"]

    return names


def _require_code6(code6: str) -> None:
    if not _CODE6.fullmatch(code6):
        message = f"region code must be 6 ASCII digits, got {code6!r}"
        raise ValueError(message)


def region_name(code6: str) -> str | None:
    """Return the name of a province, city or county code, or None if unknown."""
    return _region_names().get(code6)


def is_known_region(code6: str) -> bool:
    """Tell whether the code is a province (xx0000), city (xxxx00) or county code.

    Retired codes are not in the snapshot and return False.
    """
    return code6 in _region_names()


def region_parts(code6: str) -> tuple[str, str, str]:
    """Split a code into its province, city and county pairs: 511602 -> 51, 16, 02.

    Raises:
        ValueError: the code is not 6 ASCII digits.
    """
    _require_code6(code6)
    return code6[0:2], code6[2:4], code6[4:6]


def province_of(code6: str) -> str:
    """Return the 6-digit province code of a region code: 511602 -> 510000.

    Raises:
        ValueError: the code is not 6 ASCII digits.
    """
    _require_code6(code6)
    return code6[0:2] + "0000"


def city_of(code6: str) -> str:
    """Return the 6-digit prefecture code of a region code: 511602 -> 511600.

    A province code maps to itself, because its city pair is already 00.

    Raises:
        ValueError: the code is not 6 ASCII digits.
    """
    _require_code6(code6)
    return code6[0:4] + "00"
