"""`zwbus rules` speaks the screen language: messages, fixes, sources, families and stages."""

from __future__ import annotations

import re
from typing import get_args

from click.testing import CliRunner, Result

from bus.cli import build_root
from bus.cli_commands import FAMILY_LABELS, LAYER_LABELS
from bus.i18n import set_language
from contracts.rules import RULES, Family, Layer

CJK = re.compile(r"[\u4e00-\u9fff]")
STANDARD = re.compile(r"GB(?:/T)? [0-9.]+(?:-[0-9]{4})?")


def _rules(*arguments: str) -> Result:
    return CliRunner().invoke(
        build_root(), ["rules", *arguments], standalone_mode=False, env={"COLUMNS": "240"}
    )


def test_every_family_and_layer_has_label() -> None:
    assert set(FAMILY_LABELS) == set(get_args(Family))
    assert set(LAYER_LABELS) == set(get_args(Layer))


def test_rules_in_chinese_have_chinese_sources() -> None:
    set_language("zh_CN")

    result = _rules()

    assert result.exception is None, result.output
    sources = [line.strip() for line in result.stdout.splitlines() if "依据：" in line]
    assert len(sources) == len(RULES)
    for line in sources:
        text = line.removeprefix("依据：")
        assert CJK.search(text) or STANDARD.fullmatch(text), line
    assert "zwbus source profile" not in result.stdout


def test_rules_in_chinese_name_family_and_stage() -> None:
    set_language("zh_CN")

    result = _rules()

    heading = next(line for line in result.stdout.splitlines() if "record_malformed" in line)
    assert heading.split() == ["record_malformed", "所有类别", "·", "解码"]
    assert " / " not in result.stdout


def test_rules_in_english_name_family_and_stage() -> None:
    result = _rules("--family", "review")

    headings = [line for line in result.stdout.splitlines() if line and not line[0].isspace()]
    assert "level_invalid  reviews · structure" in headings
    assert all("reviews" in line for line in headings[:-1])
    assert headings[-1] == f"{sum(rule.family == 'review' for rule in RULES.values())} rules."
