"""Chinese wording of identifier check details on Chinese screens."""

from __future__ import annotations

import pytest

from adapters.details_zh import detail_zh
from contracts.identifiers import check_department_code, check_id_card, check_phone, check_uscc


@pytest.mark.parametrize(
    ("problem_source", "expected"),
    [
        (lambda: check_id_card("110105194912310021"), "校验位为 1，应为 X"),
        (lambda: check_id_card("11010519491231002"), "长度为 17，应为 18 位"),
        (lambda: check_uscc("91350100M000100Y44"), "校验位为 4，应为 3"),
        (lambda: check_phone("23800000000"), "大陆手机号应以 13 至 19 开头"),
        (
            lambda: check_department_code("1151130000877869M"),
            "长度为 17，统一社会信用代码应为 18 位，组织机构代码应为 9 位（含连字符为 10 位）",
        ),
        (lambda: check_department_code("4444444444"), "所有字符都是 '4'，是占位值"),
    ],
)
def test_known_details_translated(problem_source: object, expected: str) -> None:
    problem = problem_source()  # type: ignore[operator]
    assert problem is not None

    assert detail_zh(problem.detail) == expected


def test_unknown_detail_kept() -> None:
    assert detail_zh("something new happened") == "something new happened"


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("level 5", "评价等级为 5"),
        (
            "hall.ticket_called after hall.service_started",
            "号票已到 hall.service_started，又收到 hall.ticket_called",
        ),
        ("not in [codes.level]", "不在 [codes.level] 代码表中"),
        ("resource RES-6 is shared on conditions (有条件共享)", "资源 RES-6 为有条件共享"),
    ],
)
def test_family_rule_details_translated(detail: str, expected: str) -> None:
    assert detail_zh(detail) == expected
