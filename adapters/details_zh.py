"""Chinese wording of the technical details that identifier checks and parsers report.

Rule messages are bilingual, but their ``{detail}`` comes from the checks in
English (``check character is 3, expected X``). On Chinese screens these
patterns turn it into Chinese; a detail that matches none stays as it is.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (r"^all characters are (.+), a placeholder$", "所有字符都是 {0}，是占位值"),
        (
            r"^length is (\d+), expected 18 for a USCC, or 9 or 10 for an organization code$",
            "长度为 {0}，统一社会信用代码应为 18 位，组织机构代码应为 9 位（含连字符为 10 位）",
        ),
        (
            r"^length is (\d+), expected 9, or 10 with the hyphen$",
            "长度为 {0}，应为 9 位（含连字符为 10 位）",
        ),
        (r"^length is (\d+), expected (\d+) to (\d+)$", "长度为 {0}，应为 {1} 至 {2} 位"),
        (r"^length is (\d+), expected (\d+)$", "长度为 {0}，应为 {1} 位"),
        (r"^check character is (.+), expected (.+)$", "校验位为 {0}，应为 {1}"),
        (
            r"^check character is a lowercase x, expected upper-case X$",
            "校验位为小写 x，应为大写 X",
        ),
        (r"^check character is not a digit or X$", "校验位不是数字或 X"),
        (r"^character (\d+) is not a digit$", "第 {0} 位不是数字"),
        (r"^character (\d+) is not a digit in the region part$", "区划部分第 {0} 位不是数字"),
        (r"^character (\d+) is (.+), expected (.+)$", "第 {0} 位为 {1}，应为 {2}"),
        (r"^character (\d+) is (.+?), .*$", "第 {0} 位为 {1}，不在允许的字符范围内"),
        (
            r"^birth date at positions 7-14 is not a real calendar date$",
            "第 7-14 位的出生日期不是有效日期",
        ),
        (
            r"^birth date at positions 7-14 is before 1900-01-01$",
            "第 7-14 位的出生日期早于 1900 年",
        ),
        (r"^birth date at positions 7-14 is in the future$", "第 7-14 位的出生日期晚于今天"),
        (
            r"^province at positions 1-2 is not a known region code$",
            "第 1-2 位不是已知的省级区划代码",
        ),
        (r"^a mainland mobile number starts with 13 to 19$", "大陆手机号应以 13 至 19 开头"),
        (r"^a region code has only the digits 0-9$", "行政区划代码只能由数字组成"),
        (r"^province (\d+) is not known$", "省级代码 {0} 不存在"),
        (
            r"^not in the 2023 list of province (\d+), so retired or mistyped$",
            "不在 2023 年区划代码表中（省级代码 {0}），可能已撤销或填写错误",
        ),
        (r"^item code has no 12-digit region segment$", "事项编码中没有 12 位区划代码段"),
        (
            r"^a 10-character organization code needs a hyphen at position 9$",
            "10 位的组织机构代码第 9 位应为连字符",
        ),
        (r"^hyphens must separate non-empty segments$", "连字符之间不能为空"),
        (r"^level (\d)$", "评价等级为 {0}"),
        (r"^verified as not genuine$", "核实结果为不真实"),
        (r"^(\S+) allows (.+), not (.+)$", "{0} 只允许 {1}，不允许 {2}"),
        (r"^not in \[codes\.(\w+)\]$", "不在 [codes.{0}] 代码表中"),
        (r"^the catalogue marks it 不予共享 \(share type none\)$", "目录将其标为不予共享"),
        (r"^it was withdrawn from the catalogue$", "已从目录中撤销"),
        (r"^resource (.+) is shared on conditions \(有条件共享\)$", "资源 {0} 为有条件共享"),
        (
            r"^another check-in event of the booking is on the bus$",
            "总线上已有该预约的另一条签到事件",
        ),
        (r"^a cancellation of the booking is on the bus$", "总线上已有该预约的取消事件"),
        (r"^(hall\.\w+) after (hall\.\w+)$", "号票已到 {1}，又收到 {0}"),
        (
            r"^not a unified case code \(21 characters ending in a check character\)$",
            "不是统一办件编码（21 位，末位为校验位）",
        ),
        (
            r"^registration region (\d+) at positions 3-8 has an unknown province (\d+)$",
            "第 3-8 位的登记管理机关区划 {0} 的省级代码 {1} 不存在",
        ),
    )
)


def detail_zh(detail: str) -> str:
    """Return the Chinese wording of a check's detail, or the detail itself when unknown."""
    for pattern, template in _PATTERNS:
        match = pattern.match(detail)
        if match:
            return template.format(*match.groups())
    return detail
