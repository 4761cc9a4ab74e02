"""The ingest summary a person reads: outcomes, reasons by record and rule messages."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from rich.console import Console

from adapters.ingest.tally import Tally
from adapters.summary import print_tally, render_reason
from bus.i18n import set_language
from contracts.quarantine import Reason


def _printed(tally: Tally, width: int, *, english: bool) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    print_tally(console, tally, english=english)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def _catalogue_tally() -> Tally:
    """A catalogue import where some records failed the department rule twice."""
    return Tally(
        read=1135,
        published=815,
        quarantined=320,
        reasons=Counter({"department_code_invalid": 317, "item_code_invalid": 3}),
    )


def test_reasons_count_records_without_caption() -> None:
    output = _printed(_catalogue_tally(), 160, english=True)

    assert "Quarantined by reason" in output
    assert "317" in output
    assert "counted under each" not in output


def test_reasons_caption_when_records_fail_several_rules() -> None:
    tally = _catalogue_tally()
    tally.reasons["item_name_missing"] = 2

    output = _printed(tally, 160, english=True)

    assert "A record that fails several rules is counted under each of them." in output


@pytest.mark.parametrize("width", [80, 60])
def test_reason_counts_visible_on_narrow_screen(width: int) -> None:
    set_language("zh_CN")

    output = _printed(_catalogue_tally(), width, english=False)

    lines = output.splitlines()
    assert any("317" in line for line in lines)
    assert any("1135" in line for line in lines)
    assert max(len(line) for line in lines) <= width
    assert "记录数" in output


def test_render_reason_in_chinese_has_chinese_detail() -> None:
    set_language("zh_CN")
    reason = Reason(
        code="time_invalid",
        field="状态时间",
        value="2024-02-30 08:00:00",
        detail=(
            "invalid time value '2024-02-30 08:00:00': not a calendar time (day is out of "
            "range for month); accepted forms: YYYY-MM-DD HH:MM:SS; YYYY-MM-DD HH:MM; "
            "YYYY/MM/DD HH:MM[:SS]; YYYY-MM-DD or YYYY/MM/DD; YYYYMMDDHHMMSS; YYYYMMDD; "
            "ISO 8601 with 'T' and an optional zone or Z; an Excel serial number from 20000 "
            "to 80000"
        ),
    )

    text = render_reason(reason, english=False)

    assert text.startswith("[time_invalid] 字段 状态时间 的时间 2024-02-30 08:00:00 无效：")
    assert "不是有效的日历时间；可接受的格式：" in text
    assert "accepted forms" not in text
    assert "invalid time value" not in text
