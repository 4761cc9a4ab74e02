"""Stored business times keep one text form whatever the offset and fraction of the input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from projections.times import business_time
from projections.workdays import CHINA_TZ

ZONES = [
    CHINA_TZ,
    UTC,
    timezone(timedelta(hours=-5, minutes=-30)),
    timezone(timedelta(hours=14)),
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("microsecond", [0, 1, 120_000, 999_999])
def test_same_text_as_isoformat_in_china_time(zone: timezone, microsecond: int) -> None:
    moment = datetime(2026, 12, 31, 23, 59, 58, microsecond, tzinfo=zone)

    expected = moment.astimezone(CHINA_TZ).isoformat(timespec="microseconds")

    assert business_time(moment) == expected


def test_zero_fraction_written_out() -> None:
    moment = datetime(1949, 10, 1, 15, 0, tzinfo=CHINA_TZ)

    assert business_time(moment) == "1949-10-01T15:00:00.000000+08:00"
