from datetime import UTC, datetime, timedelta, timezone

from adapters.record_keys import record_key, without_time

SHANGHAI = timezone(timedelta(hours=8))


def test_key_carries_time_in_utc() -> None:
    key = record_key("R1", "1", datetime(2024, 3, 1, 9, tzinfo=SHANGHAI))

    assert key == "R1|1|2024-03-01T01:00:00+00:00"


def test_key_without_time_or_code() -> None:
    assert record_key("R1", None, None) == "R1|-|-"


def test_without_time_drops_only_the_time() -> None:
    key = record_key("H1/B7", "checked_in", datetime(2024, 3, 1, tzinfo=UTC))

    assert without_time(key) == "H1/B7|checked_in|-"


def test_without_time_needs_time_part() -> None:
    assert without_time("R1|1|-") is None
    assert without_time("row-17") is None
    assert without_time("cases.csv#4") is None
