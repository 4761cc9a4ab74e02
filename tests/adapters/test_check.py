"""Tests of ``zwbus adapters check``, the offline test kit, run as a command without a server.

Case samples come from the integrator guide or the case test profile; review
and hall samples from the family test profiles.

Every run points ``--nats-url`` at a closed loopback port, so a command that
tried to reach a server would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.adapters.family_helpers import (
    HALL,
    HALL_PROFILE,
    REVIEW_PROFILE,
    hall_row,
    review_row,
    write_rows,
    write_text,
)
from tests.adapters.helpers import (
    INVALID_ID,
    case_row,
    real_catalogue,
    write_csv,
    write_item_catalogue,
    write_profile,
)

ZWBUS = Path(sys.executable).parent / "zwbus"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NO_SERVER = "nats://127.0.0.1:9"
"""The discard port, where no NATS server listens."""


def _check(*arguments: object, lang: str = "en") -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZWBUS_")}
    return subprocess.run(
        [
            str(ZWBUS),
            "--lang",
            lang,
            "--nats-url",
            NO_SERVER,
            "adapters",
            "check",
            *map(str, arguments),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def _document(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _by_position(document: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {record["position"]: record for record in document["records"]}


def test_documented_sample_outcomes() -> None:
    """The sample of the integrator guide gives the outcomes the guide shows."""
    result = _check(EXAMPLES / "huji-profile.toml", EXAMPLES / "huji-sample.csv", "--json")
    document = _document(result)
    records = _by_position(document)

    assert result.returncode == 2
    assert document["totals"] == {"records": 8, "events": 4, "duplicates": 1, "rejected": 3}
    assert records[1]["event_type"] == "case.submitted"
    assert records[1]["occurred_at"] == "2024-03-01T09:12:00+08:00"
    assert records[2]["checked_on_bus"] == ["case.submitted"]
    assert [reason["code"] for reason in records[4]["reasons"]] == ["id_card_invalid"]
    assert [reason["code"] for reason in records[5]["reasons"]] == ["status_unmapped"]
    assert [reason["code"] for reason in records[6]["reasons"]] == ["time_invalid"]
    assert records[7]["record_key"].startswith("HJ2024030005|01|")
    assert records[8]["outcome"] == "duplicate"
    assert records[8]["duplicate_of"] == 2
    assert records[8]["event_id"] == records[2]["event_id"]
    assert document["not_checked"] == ["item_unknown"]
    assert document["sequence_rules"] == "checked on the bus"


def test_rejection_message_masks_identity_number() -> None:
    result = _check(EXAMPLES / "huji-profile.toml", EXAMPLES / "huji-sample.csv", "--json")
    reason = _by_position(_document(result))[4]["reasons"][0]

    assert reason["value"] == "5116**********1529"
    assert "511602199203041529" not in result.stdout
    assert "check character is 9, expected 1" in reason["message"]


def test_catalogue_file_checks_item_rule(tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "profile.toml")
    sample = write_csv(tmp_path / "sample.csv", [case_row("C1", "submitted", "2024-03-01 09:00")])
    other_items = write_item_catalogue(
        tmp_path / "items.json", ["511A0101000000-511602000000-000-115113010833722043-1-00"]
    )

    listed = _document(_check(profile, sample, "--json", "--items", real_catalogue()))
    unlisted = _document(_check(profile, sample, "--json", "--items", other_items))

    assert listed["not_checked"] == []
    assert listed["records"][0]["outcome"] == "event"
    assert unlisted["records"][0]["outcome"] == "rejected"
    assert [reason["code"] for reason in unlisted["records"][0]["reasons"]] == ["item_unknown"]


def test_clean_sample_exits_zero(tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "profile.toml")
    rows = [
        case_row("G1", "submitted", "2024-03-01 09:00"),
        case_row("G1", "accepted", "2024-03-01 10:00"),
    ]
    sample = write_csv(tmp_path / "sample.csv", rows)

    result = _check(profile, sample)

    assert result.returncode == 0, result.stderr
    assert "#2 (line 3): case.accepted" in result.stdout
    assert "needs case.submitted first (checked on the bus)" in result.stdout
    assert "Records in the sample: 2. Would become events: 2;" in result.stdout
    assert "Not checked: item_unknown" in result.stdout


def test_rejected_record_prints_rule_and_fix(tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "profile.toml")
    rows = [case_row("B1", "submitted", "2024-03-01 09:00", id_no=INVALID_ID)]
    sample = write_csv(tmp_path / "sample.csv", rows)

    result = _check(profile, sample)

    assert result.returncode == 2
    assert "#1 (line 2): would be rejected" in result.stdout
    assert "[id_card_invalid] Resident ID card number" in result.stdout
    assert "Correct the number at the source" in result.stdout


def test_chinese_output(tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "profile.toml")
    sample = write_csv(tmp_path / "sample.csv", [case_row("G1", "submitted", "2024-03-01 09:00")])

    result = _check(profile, sample, lang="zh_CN")

    assert result.returncode == 0, result.stderr
    assert "共 1 条记录" in result.stdout
    assert "未检查" in result.stdout


def test_documented_sample_rejections_in_chinese() -> None:
    """Each rejected record of the guide's sample reads in Chinese, its detail included."""
    result = _check(EXAMPLES / "huji-profile.toml", EXAMPLES / "huji-sample.csv", lang="zh_CN")

    lines = [line.strip() for line in result.stdout.splitlines() if line.startswith("    [")]
    assert result.returncode == 2
    assert len(lines) == 3
    assert "校验位为 9，应为 1" in lines[0]
    assert lines[2].startswith("[time_invalid] 字段 状态时间 的时间 2024-02-30 08:00:00 无效：")
    assert "不是有效的日历时间；可接受的格式：" in lines[2]
    for english in ("invalid time value", "accepted forms", "check character", "calendar"):
        assert english not in result.stdout


def test_unreadable_profile_exits_one(tmp_path: Path) -> None:
    sample = write_csv(tmp_path / "sample.csv", [case_row("G1", "submitted", "2024-03-01 09:00")])

    result = _check(tmp_path / "missing.toml", sample)

    assert result.returncode == 1
    assert "missing.toml not found" in result.stderr


# Review, hall and sharing profiles ------------------------------------------------

UNIFIED_CODE = "511602202403010000014"
"""A unified case code with a valid check character."""


def test_documented_review_sample_outcomes() -> None:
    """The review sample of the integrator guide gives the outcomes the guide shows."""
    profile = EXAMPLES / "hcp-review-profile.toml"
    sample = EXAMPLES / "hcp-review-sample.csv"

    result = _check(profile, sample, "--json")
    text = _check(profile, sample)
    records = _by_position(_document(result))

    assert result.returncode == 2
    assert records[1]["checked_on_bus"] == ["case HJ2024030001"]
    assert records[2]["event_type"] == "review.verified"
    assert records[2]["checked_on_bus"] == ["case HJ2024030001", "review.rated"]
    assert [reason["code"] for reason in records[3]["reasons"]] == ["code_unmapped"]
    assert "needs case HJ2024030001, review.rated first (checked on the bus)" in text.stdout
    assert "Code 9 in 评价渠道 does not map to a canonical value" in text.stdout
    assert "Records in the sample: 3. Would become events: 2;" in text.stdout


def test_review_sample_outcomes(tmp_path: Path) -> None:
    profile = write_text(tmp_path / "review.toml", REVIEW_PROFILE)
    rows = [
        review_row("C1", "rated", "2024-03-02 10:00:00"),
        review_row("", "rated", "2024-03-02 11:00:00", code=UNIFIED_CODE),
        review_row("C1", "verified", "2024-03-03 10:00:00"),
        review_row("C2", "rated", "2024-03-02 10:00:00", channel="7"),
        review_row("C1", "rated", "2024-03-02 10:00:00"),
    ]
    sample = write_rows(tmp_path / "reviews.csv", rows)

    result = _check(profile, sample, "--json")
    document = _document(result)
    records = _by_position(document)

    assert result.returncode == 2
    assert document["family"] == "review"
    assert document["totals"] == {"records": 5, "events": 3, "duplicates": 1, "rejected": 1}
    assert records[1]["event_type"] == "review.rated"
    assert records[1]["checked_on_bus"] == ["case C1"]
    assert records[1]["event_id"] is None, "the review id needs the case's unified code"
    assert records[2]["checked_on_bus"] == [f"case {UNIFIED_CODE}"]
    assert len(records[2]["event_id"]) == 32
    assert records[3]["checked_on_bus"] == ["case C1", "review.rated"]
    assert [reason["code"] for reason in records[4]["reasons"]] == ["code_unmapped"]
    assert records[4]["reasons"][0]["field"] == "channel"
    assert records[5]["outcome"] == "duplicate"
    assert records[5]["duplicate_of"] == 1
    assert document["not_checked"] == ["item_unknown"]


def test_review_sample_text_and_exit_zero(tmp_path: Path) -> None:
    profile = write_text(tmp_path / "review.toml", REVIEW_PROFILE)
    sample = write_rows(
        tmp_path / "reviews.csv", [review_row("C1", "rated", "2024-03-02 10:00:00")]
    )

    result = _check(profile, sample, "--items", real_catalogue())

    assert result.returncode == 0, result.stderr
    assert "#1 (line 2): review.rated, key C1/" in result.stdout
    assert "needs case C1 first (checked on the bus)" in result.stdout
    assert "Records in the sample: 1. Would become events: 1;" in result.stdout
    assert "the cases, bookings, resources and requests that records name" in result.stdout
    assert "Not checked" not in result.stdout


def test_hall_sample_outcomes(tmp_path: Path) -> None:
    profile = write_text(tmp_path / "hall.toml", HALL_PROFILE)
    rows = [
        hall_row("ticket_issued", "2024-03-01 08:55:00", ticket="T1", booking="B1"),
        hall_row("ticket_called", "2024-03-01 09:00:00", ticket=""),
    ]
    sample = write_rows(tmp_path / "hall.csv", rows)

    result = _check(profile, sample, "--json")
    text = _check(profile, sample)
    records = _by_position(_document(result))

    assert result.returncode == 2
    assert records[1]["event_type"] == "hall.ticket_issued"
    assert records[1]["record_key"] == f"{HALL}/B1|TI|2024-03-01T00:55:00+00:00"
    assert records[1]["checked_on_bus"] == ["hall.booking_created"]
    assert records[1]["occurred_at"] == "2024-03-01T08:55:00+08:00"
    assert [reason["code"] for reason in records[2]["reasons"]] == ["required_missing"]
    assert records[2]["reasons"][0]["field"] == "ticket"
    assert text.returncode == 2
    assert "needs hall.booking_created first (checked on the bus)" in text.stdout
    assert "#2 (line 3): would be rejected" in text.stdout
    assert "[required_missing] Required field ticket is empty." in text.stdout


def test_hall_sample_without_rejections_exits_zero(tmp_path: Path) -> None:
    profile = write_text(tmp_path / "hall.toml", HALL_PROFILE)
    rows = [
        hall_row("booking_created", "2024-03-01 08:00:00", booking="B1"),
        hall_row("booking_created", "2024-03-01 08:00:00", booking="B1"),
    ]
    sample = write_rows(tmp_path / "hall.csv", rows)

    result = _check(profile, sample, "--json")
    records = _by_position(_document(result))

    assert result.returncode == 0, result.stderr
    assert records[1]["checked_on_bus"] == []
    assert records[2]["outcome"] == "duplicate"
    assert records[2]["event_id"] == records[1]["event_id"]
