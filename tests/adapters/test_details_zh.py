"""Chinese wording of check, parser and sequence-rule details on Chinese screens."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.details_zh import DETAILS_ZH, detail_zh, unused_placeholders, waiting_zh
from adapters.normalize import FieldValueError, parse_time, parse_time_of_day
from contracts.details import DETAIL_TEMPLATES, detail_text, placeholders
from contracts.identifiers import (
    Problem,
    check_department_code,
    check_id_card,
    check_phone,
    check_uscc,
)

ROOT = Path(__file__).resolve().parents[2]

SAMPLE_VALUES = {
    "allowed": "online, phone",
    "char": "'I'",
    "column": "证件号码",
    "columns": "1, 19",
    "date": "1900-01-01",
    "end": "17",
    "error": "day is out of range for month",
    "event_type": "hall.ticket_called",
    "expected": "X",
    "field": "level",
    "first": "办件编号",
    "forms": detail_text("time_forms"),
    "found": "3",
    "furthest": "hall.service_started",
    "high": "50",
    "key": " ",
    "length": "17",
    "level": "4",
    "low": "10",
    "position": "9",
    "province": "99",
    "reason": detail_text("time_empty"),
    "region": "990101",
    "resource": "RES-6",
    "second": "办件编号 ",
    "serial": "90000",
    "start": "2",
    "time": "2024-03-01T09:00:00+08:00",
    "type": "list",
    "value": "'2024-02-30'",
    "waiting": "case 511602202403010000014, hall.booking_created",
    "year": "1753",
}
"""A value of each placeholder as its producer writes it."""

SAMPLE_VALUES_ZH = {
    "forms": DETAILS_ZH["time_forms"],
    "reason": DETAILS_ZH["time_empty"],
    "waiting": "办件 511602202403010000014、hall.booking_created",
}
"""Samples that are English details themselves, in Chinese."""

DROPPED_PLACEHOLDERS = {
    "time_value": {"value"},
    "time_not_calendar": {"error"},
    "time_of_day_range": {"error"},
    "csv_invalid": {"error"},
    "json_invalid": {"error"},
}
"""Values a Chinese form leaves out: English text of Python or msgspec, or a value the
rule message shows already."""

LATIN_WORDS_ALLOWED = {
    "codes",
    "CSV",
    "DD",
    "Excel",
    "GB",
    "HH",
    "ISO",
    "JSON",
    "MM",
    "null",
    "SS",
    "true",
    "false",
    "UTF",
    "YYYY",
    "YYYYMMDD",
    "YYYYMMDDHHMMSS",
}
"""Format names, standards and literal values that Chinese text writes in Latin letters."""

CJK = re.compile(r"[\u4e00-\u9fff]")
KEYS = sorted(DETAIL_TEMPLATES)


def _english(key: str) -> str:
    names = placeholders(DETAIL_TEMPLATES[key])
    return detail_text(key, **{name: SAMPLE_VALUES[name] for name in names})


def _chinese(key: str) -> str:
    names = placeholders(DETAIL_TEMPLATES[key])
    values = {name: SAMPLE_VALUES_ZH.get(name, SAMPLE_VALUES[name]) for name in names}
    return DETAILS_ZH[key].format_map(values)


def test_every_template_has_chinese_form() -> None:
    assert set(DETAILS_ZH) == set(DETAIL_TEMPLATES)


@pytest.mark.parametrize("key", KEYS)
def test_template_placeholders_have_samples(key: str) -> None:
    missing = set(placeholders(DETAIL_TEMPLATES[key])) - SAMPLE_VALUES.keys()

    assert not missing, f"add a sample value for {sorted(missing)} to SAMPLE_VALUES"


@pytest.mark.parametrize("key", KEYS)
def test_template_translates(key: str) -> None:
    assert detail_zh(_english(key)) == _chinese(key)


@pytest.mark.parametrize("key", KEYS)
def test_chinese_form_keeps_values(key: str) -> None:
    chinese = set(placeholders(DETAILS_ZH[key]))

    assert chinese <= set(placeholders(DETAIL_TEMPLATES[key]))
    assert unused_placeholders(key) == DROPPED_PLACEHOLDERS.get(key, set())


@pytest.mark.parametrize("key", KEYS)
def test_chinese_form_is_chinese(key: str) -> None:
    text = DETAILS_ZH[key]
    for name in placeholders(text):
        text = text.replace("{" + name + "}", "")
    latin = set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_WORDS_ALLOWED

    assert CJK.search(DETAILS_ZH[key])
    assert not latin, f"English words in the Chinese form of {key}: {sorted(latin)}"


@pytest.mark.parametrize(
    ("problem_source", "expected"),
    [
        (lambda: check_id_card("110105194912310021"), "校验位为 1，应为 X"),
        (lambda: check_id_card("11010519491231002"), "长度为 17，应为 18 位"),
        (
            lambda: check_id_card("110105491231002"),
            "长度为 15，应为 18 位，请先将 15 位旧号码升级为 18 位",
        ),
        (lambda: check_uscc("91350100M000100Y44"), "校验位为 4，应为 3"),
        (lambda: check_phone("23800000000"), "大陆手机号应以 13 至 19 开头"),
        (
            lambda: check_department_code("1151130000877869M"),
            "长度为 17，统一社会信用代码应为 18 位，组织机构代码应为 9 位（含连字符为 10 位）",
        ),
        (lambda: check_department_code("4444444444"), "所有字符都是 '4'，是占位值"),
    ],
)
def test_identifier_details_translated(
    problem_source: Callable[[], Problem | None], expected: str
) -> None:
    problem = problem_source()
    assert problem is not None

    assert detail_zh(problem.detail) == expected


def test_time_value_detail_translated() -> None:
    with pytest.raises(FieldValueError) as caught:
        parse_time("2024-02-30 08:00:00", tz=ZoneInfo("Asia/Shanghai"))

    chinese = detail_zh(str(caught.value))

    assert chinese.startswith("不是有效的日历时间；可接受的格式：YYYY-MM-DD HH:MM:SS；")
    assert chinese.endswith("；20000 至 80000 的 Excel 日期序列号")
    assert "accepted" not in chinese


def test_time_of_day_detail_translated() -> None:
    with pytest.raises(FieldValueError) as caught:
        parse_time_of_day("25:00")

    assert detail_zh(str(caught.value)) == "时刻 '25:00' 无效：时、分或秒超出范围"


def test_joined_details_translated_one_by_one() -> None:
    joined = "; ".join(detail_text("column_not_utf8", column=name) for name in ("照片", "附件"))

    assert detail_zh(joined) == "列 照片 的字节不是 UTF-8 文本；列 附件 的字节不是 UTF-8 文本"


def test_unknown_detail_kept() -> None:
    assert detail_zh("something new happened") == "something new happened"


def test_free_text_not_taken_for_short_template() -> None:
    assert detail_zh("connection failed after 3 tries") == "connection failed after 3 tries"


def test_waiting_for_case_translated() -> None:
    assert waiting_zh("case 511602202403010000014") == "办件 511602202403010000014"
    assert waiting_zh("case") == "办件"
    assert waiting_zh("case.submitted") == "case.submitted"


# Producers fill templates ----------------------------------------------------

PRODUCERS = (
    "contracts/identifiers.py",
    "adapters/normalize.py",
    "adapters/files/readers.py",
    "adapters/family_records.py",
    "adapters/case_records.py",
    "adapters/record_checks.py",
    "adapters/items.py",
    "adapters/ingest/family_rules.py",
    "adapters/ingest/pipeline.py",
    "adapters/ingest/outcomes.py",
)

DETAIL_ARGUMENTS = {
    "Problem": (1, None),
    "FieldValueError": (0, None),
    "TimeValueError": (None, "reason"),
    "Reason": (None, "detail"),
    "fail": (3, "detail"),
    "_not_shareable": (1, None),
    "_JsonLine": (None, "error"),
    "_CsvRow": (None, "error"),
    "SourceRecord": (None, "error"),
}
"""Callable name → position and keyword of the argument that carries a detail."""


def _written_text(node: ast.expr) -> bool:
    """Tell whether an expression is text written in place: a literal or an f-string."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _written_text(node.left) or _written_text(node.right)
    return False


def _detail_arguments(call: ast.Call) -> list[ast.expr]:
    function = call.func
    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    if name not in DETAIL_ARGUMENTS:
        return []
    position, keyword = DETAIL_ARGUMENTS[name]
    found = [item.value for item in call.keywords if item.arg == keyword]
    if position is not None and len(call.args) > position:
        found.append(call.args[position])
    return found


@pytest.mark.parametrize("module", PRODUCERS)
def test_producers_fill_detail_templates(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))

    written = [
        f"{module}:{argument.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for argument in _detail_arguments(node)
        if _written_text(argument)
    ]

    assert not written, (
        "details written in place cannot be translated; add a template to "
        "contracts/details.py and its Chinese form to adapters/details_zh.py, then use "
        "detail_text: " + ", ".join(written)
    )
