"""Chinese wording of the details that checks, parsers and sequence rules report.

Rule messages are bilingual, but their ``{detail}`` is an English sentence
filled from a template of ``contracts.details`` (``check character is 3,
expected X``), because the sentence is stored with a quarantine entry and
sent back to senders. On Chinese screens ``detail_zh`` matches the sentence
to its template and fills the template's Chinese form below with the same
values. A detail that matches no template, such as the error text of a
source written on the adapter SDK, stays as it is.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Mapping

from contracts.details import DETAIL_TEMPLATES, placeholders

_TIME_FORMS_ZH = (
    "YYYY-MM-DD HH:MM:SS；YYYY-MM-DD HH:MM；YYYY/MM/DD HH:MM[:SS]；"
    "YYYY-MM-DD 或 YYYY/MM/DD；YYYYMMDDHHMMSS；YYYYMMDD；"
    "带 T 的 ISO 8601 格式（可带时区或 Z）"
)

_DETAILS_ZH = {
    # --- identifier checks ------------------------------------------------
    "placeholder": "所有字符都是 {char}，是占位值",
    "length": "长度为 {length}，应为 {expected} 位",
    "length_range": "长度为 {length}，应为 {low} 至 {high} 位",
    "length_org_code": "长度为 {length}，应为 9 位（含连字符为 10 位）",
    "length_department_code": (
        "长度为 {length}，统一社会信用代码应为 18 位，组织机构代码应为 9 位（含连字符为 10 位）"
    ),
    "length_legacy_id_card": "长度为 15，应为 18 位，请先将 15 位旧号码升级为 18 位",
    "uscc_charset": (
        "第 {position} 位为 {char}，不在统一社会信用代码的字符集内"
        "（数字和除 I、O、Z、S、V 以外的大写字母）"
    ),
    "uscc_region_digit": "区划部分第 {position} 位不是数字",
    "check_character": "校验位为 {found}，应为 {expected}",
    "uscc_org_check": "第 17 位为 {found}，按 GB 11714 对第 9-17 位的校验应为 {expected}",
    "uscc_region": "第 3-8 位的登记管理机关区划 {region} 的省级代码 {province} 不存在",
    "org_code_hyphen": "10 位的组织机构代码第 9 位应为连字符",
    "org_code_charset": "第 {position} 位为 {char}，应为数字或大写字母",
    "org_code_check_charset": "校验位为 {char}，应为数字或 X",
    "birth_date_invalid": "第 7-14 位的出生日期不是有效日期",
    "birth_date_early": "第 7-14 位的出生日期早于 1900 年",
    "birth_date_future": "第 7-14 位的出生日期晚于今天",
    "not_digit": "第 {position} 位不是数字",
    "id_card_lowercase_x": "校验位为小写 x，应为大写 X",
    "id_card_check_charset": "校验位不是数字或 X",
    "id_card_province": "第 1-2 位不是已知的省级区划代码",
    "mobile_prefix": "大陆手机号应以 13 至 19 开头",
    "region_digits": "行政区划代码只能由数字组成",
    "region_province": "省级代码 {province} 不存在",
    "region_retired": "不在 2023 年区划代码表中（省级代码 {province}），可能已撤销或填写错误",
    "item_code_no_region": "事项编码中没有 12 位区划代码段",
    "item_code_shape": "事项编码不符合“基本编码-12 位区划-中段-部门编码-标志-版本号”的格式",
    "basic_code_charset": "第 {position} 位为 {char}，应为数字、大写字母或连字符",
    "basic_code_hyphens": "连字符之间不能为空",
    "local_no_charset": "第 {position} 位为 {char}，只能是数字、字母、下划线或连字符",
    # --- values the normaliser rejects ------------------------------------
    "code_value_type": "代码值 {value} 无效：应为文本或数字，实际类型为 {type}",
    "code_value_not_finite": "代码值 {value} 无效：应为有限数值",
    "code_value_lost_digits": (
        "代码值 {value} 无效：16 位及以上的数字按浮点数读取可能已丢失末位，"
        "请在源文件中将该列存为文本"
    ),
    "text_value_type": "文本值 {value} 无效：应为文本，实际类型为 {type}",
    "integer_boolean": "整数 {value} 无效：应为整数，实际为是/否值",
    "integer_fraction": "整数 {value} 无效：应为整数",
    "integer_type": "整数 {value} 无效：应为文本或数字，实际类型为 {type}",
    "integer_text": "整数 {value} 无效：应为 15 这样的数字",
    "yes_no": "是/否取值 {value} 无效：应为 1/0、是/否、true/false 或 Y/N",
    "time_of_day": "时刻 {value} 无效：应为 HH:MM 或 HH:MM:SS",
    # The error is Python's own English text, so the Chinese form leaves it out.
    "time_of_day_range": "时刻 {value} 无效：时、分或秒超出范围",
    # The rule message already names the value, so the Chinese form leaves it out.
    "time_value": "{reason}；可接受的格式：{forms}",
    "time_forms": _TIME_FORMS_ZH,
    "time_forms_excel": _TIME_FORMS_ZH + "；{low} 至 {high} 的 Excel 日期序列号",
    "time_boolean": "是/否值不是时间",
    "time_missing": "缺少取值",
    "time_empty": "取值为空",
    "time_type": "不支持的取值类型 {type}",
    "time_not_finite": "不是有限数值",
    "time_excel_refused": "该字段不接受 Excel 日期序列号",
    "time_excel_range": "{serial} 超出 Excel 日期序列号的范围",
    "time_not_calendar": "不是有效的日历时间",
    "time_unrecognised": "无法识别的格式",
    "time_placeholder_year": "年份 {year} 是占位值，不是真实的业务时间",
    "time_placeholder_date": "{date} 是占位日期，不是真实的业务时间",
    # --- records a reader cannot split --------------------------------------
    # Python's csv module and msgspec explain in English, so the Chinese forms
    # leave their text out. The record's line number is shown beside it.
    "csv_invalid": "不是有效的 CSV 行",
    "json_invalid": "不是有效的 JSON",
    "json_array": "应为 JSON 对象，实际为 JSON 数组",
    "json_string": "应为 JSON 对象，实际为 JSON 字符串",
    "json_boolean": "应为 JSON 对象，实际为 JSON 布尔值",
    "json_null": "应为 JSON 对象，实际为 JSON null",
    "json_number": "应为 JSON 对象，实际为 JSON 数字",
    "json_key_empty": "键 '{key}' 清理后为空",
    "json_keys_same": "键 '{first}' 和 '{second}' 清理后相同",
    "stray_cells": "该行第 {columns} 列有值，超出了有列名的第 {start}-{end} 列",
    "column_not_utf8": "列 {column} 的字节不是 UTF-8 文本",
    # --- mapping of one record ----------------------------------------------
    "not_unified_code": "不是统一办件编码（21 位，末位为校验位）",
    "choice_not_allowed": "{event_type} 只允许 {allowed}，不允许 {value}",
    "code_not_in_table": "不在 [codes.{field}] 代码表中",
    # --- sequence rules -----------------------------------------------------
    "case_closed_at": "办件已于 {time} 终止（不予受理或已撤回）",
    "waited_since": "自 {time} 起等待 {waiting}",
    "review_level": "评价等级为 {level}",
    "review_not_genuine": "核实结果为不真实",
    "booking_cancelled": "总线上已有该预约的取消事件",
    "booking_checked_in": "总线上已有该预约的另一条签到事件",
    "ticket_after": "号票已到 {furthest}，又收到 {event_type}",
    "resource_not_shared": "目录将其标为不予共享",
    "resource_withdrawn": "已从目录中撤销",
    "resource_conditional": "资源 {resource} 为有条件共享",
}

DETAILS_ZH: Mapping[str, str] = types.MappingProxyType(_DETAILS_ZH)
"""The Chinese form of every template of ``contracts.details.DETAIL_TEMPLATES``."""


def waiting_zh(waiting_for: str) -> str:
    """Return one entry of a parked event's ``waiting_for`` in Chinese.

    An entry is an event type, which stays as it is, or ``case`` or
    ``case <code>`` for a case that has not reached the bus yet.
    """
    if waiting_for == "case" or waiting_for.startswith("case "):
        return "办件" + waiting_for.removeprefix("case")
    return waiting_for


def _waiting_list_zh(waiting: str) -> str:
    return "、".join(waiting_zh(entry) for entry in waiting.split(", "))


_VALUE_FORMS: Mapping[str, Callable[[str], str]] = {
    "reason": lambda value: detail_zh(value),
    "forms": lambda value: detail_zh(value),
    "waiting": _waiting_list_zh,
}
"""Placeholders whose values are themselves English details or lists of them."""


_VALUE_PATTERNS: Mapping[str, str] = {
    "char": r"'.*?'|\".*?\"",
    "column": r"[^;]+?",
    "columns": r"[0-9, ]+",
    "date": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    "end": r"[0-9]+",
    "event_type": r"[a-z]+\.[a-z_]+",
    "expected": r"\w+",
    "field": r"\w+",
    "found": r"\S",
    "furthest": r"[a-z]+\.[a-z_]+",
    "high": r"[0-9]+",
    "length": r"[0-9]+",
    "level": r"[0-9]+",
    "low": r"[0-9]+",
    "position": r"[0-9]+",
    "province": r"[0-9]+",
    "region": r"[0-9]+",
    "serial": r"[0-9.e+-]+",
    "start": r"[0-9]+",
    "time": r"\S+",
    "type": r"\w+",
    "year": r"[0-9]+",
}
"""Pattern of each placeholder's value, so that short templates such as
``{event_type} after {furthest}`` match only details they produced. Other
placeholders take any text."""


def _pattern(template: str) -> re.Pattern[str]:
    """Turn a template into a pattern that captures each placeholder's value."""
    parts = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        f"(?P<{part}>{_VALUE_PATTERNS.get(part, '.*?')})" if index % 2 else re.escape(part)
        for index, part in enumerate(parts)
    )
    return re.compile(pattern, re.DOTALL)


def _literal_length(template: str) -> int:
    return len(re.sub(r"\{\w+\}", "", template))


# The template with the most fixed text is tried first, so that
# "length is 15, expected 18, so convert the legacy number first" is not
# taken for "length is {length}, expected {expected}".
_PATTERNS = tuple(
    (key, _pattern(template))
    for key, template in sorted(
        DETAIL_TEMPLATES.items(), key=lambda item: _literal_length(item[1]), reverse=True
    )
)


def detail_zh(detail: str) -> str:
    """Return the Chinese wording of a detail, or the detail itself when no template matches.

    Several details joined with ``; `` (the SQL poller joins the problems of
    one row) are translated one by one.
    """
    translated = _translate(detail)
    if translated is not None:
        return translated
    if "; " in detail:
        parts = [_translate(part) for part in detail.split("; ")]
        if all(part is not None for part in parts):
            return "；".join(part for part in parts if part is not None)
    return detail


def _translate(detail: str) -> str | None:
    for key, pattern in _PATTERNS:
        match = pattern.fullmatch(detail)
        if match is None:
            continue
        values = {
            name: _VALUE_FORMS[name](value) if name in _VALUE_FORMS else value
            for name, value in match.groupdict().items()
        }
        return DETAILS_ZH[key].format_map(values)
    return None


def unused_placeholders(key: str) -> frozenset[str]:
    """Return the placeholders of template ``key`` that its Chinese form leaves out."""
    return frozenset(placeholders(DETAIL_TEMPLATES[key])) - set(placeholders(DETAILS_ZH[key]))
