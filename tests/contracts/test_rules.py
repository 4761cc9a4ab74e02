"""Tests of the validation rule catalogue."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from contracts.rules import LANGUAGES, RULES, Family, Layer, Rule, rule

EXPECTED_CODES = {
    "record_malformed",
    "encoding_invalid",
    "required_missing",
    "field_too_long",
    "local_no_invalid",
    "region_unknown",
    "uscc_invalid",
    "id_card_invalid",
    "org_code_invalid",
    "phone_invalid",
    "id_type_unmapped",
    "status_unmapped",
    "result_unmapped",
    "time_invalid",
    "time_in_future",
    "placeholder_value",
    "item_code_invalid",
    "item_unknown",
    "department_code_invalid",
    "item_type_unknown",
    "item_name_missing",
    "case_closed",
    "missing_predecessor",
    "transition_invalid",
    "event_unmapped",
    "code_unmapped",
    "boolean_invalid",
    "level_invalid",
    "review_not_bad",
    "review_not_valid",
    "ticket_backwards",
    "booking_checked_in_twice",
    "booking_cancelled",
    "resource_not_shareable",
    "approval_required",
}

SAMPLE_VALUES = {
    "field": "APPLY_CARDNUMBER",
    "value": "1101**********002X",
    "detail": "check character is 3, expected X",
}

CJK = re.compile(r"[\u4e00-\u9fff]")
STANDARD = re.compile(r"GB(?:/T)? [0-9.]+(?:-[0-9]{4})?")
"""A national standard's number, which Chinese text writes as it is."""
ALL_RULES = sorted(RULES.values(), key=lambda item: item.code)


def test_catalogue_has_expected_codes() -> None:
    assert set(RULES) == EXPECTED_CODES


@pytest.mark.parametrize("item", ALL_RULES, ids=lambda item: item.code)
def test_rule_code_matches_key_and_pattern(item: Rule) -> None:
    assert RULES[item.code] is item
    assert re.fullmatch(r"[a-z_]+", item.code)


@pytest.mark.parametrize("item", ALL_RULES, ids=lambda item: item.code)
def test_rule_family_layer_and_source(item: Rule) -> None:
    assert item.family in get_args(Family)
    assert item.layer in get_args(Layer)
    assert item.source


@pytest.mark.parametrize("item", ALL_RULES, ids=lambda item: item.code)
def test_rule_source_in_chinese(item: Rule) -> None:
    only_a_standard = STANDARD.fullmatch(item.source_zh) is not None

    assert CJK.search(item.source_zh) or only_a_standard, item.source_zh
    for number in STANDARD.findall(item.source):
        assert number in item.source_zh


@pytest.mark.parametrize("item", ALL_RULES, ids=lambda item: item.code)
def test_rule_placeholders_are_known(item: Rule) -> None:
    assert item.placeholders() <= SAMPLE_VALUES.keys()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("item", ALL_RULES, ids=lambda item: item.code)
def test_rule_renders_every_placeholder(item: Rule, lang: str) -> None:
    text = item.render(lang, **SAMPLE_VALUES)

    assert "{" not in text
    assert "}" not in text
    assert "\n" not in text
    for name in item.placeholders():
        assert SAMPLE_VALUES[name] in text


@pytest.mark.parametrize("item", ALL_RULES, ids=lambda item: item.code)
def test_chinese_templates_are_chinese(item: Rule) -> None:
    assert CJK.search(item.message_zh)
    assert CJK.search(item.fix_zh)


@pytest.mark.parametrize("item", ALL_RULES, ids=lambda item: item.code)
def test_english_render_joins_message_and_fix(item: Rule) -> None:
    text = item.render("en", **SAMPLE_VALUES)

    assert text.endswith(".")
    assert text.startswith(item.message_en.format_map(SAMPLE_VALUES))
    assert text.endswith(item.fix_en.format_map(SAMPLE_VALUES))


def test_sequence_rules() -> None:
    sequence = {item.code for item in ALL_RULES if item.layer == "sequence"}

    assert sequence == {
        "case_closed",
        "missing_predecessor",
        "transition_invalid",
        "review_not_bad",
        "review_not_valid",
        "ticket_backwards",
        "booking_checked_in_twice",
        "booking_cancelled",
        "resource_not_shareable",
        "approval_required",
    }


def test_decode_rules() -> None:
    decode = {item.code for item in ALL_RULES if item.layer == "decode"}

    assert decode == {"record_malformed", "encoding_invalid"}


def test_rule_lookup() -> None:
    assert rule("uscc_invalid").source == "GB 32100-2015"


def test_rule_lookup_unknown_lists_codes() -> None:
    with pytest.raises(
        KeyError, match=r"unknown rule code 'uscc', expected one of: .*uscc_invalid"
    ):
        rule("uscc")


def test_render_missing_placeholder_raises() -> None:
    with pytest.raises(KeyError, match=r"uscc_invalid: no value for placeholder.*detail"):
        rule("uscc_invalid").render("en", field="DEPTID", value="1151**********442U")


def test_render_unknown_language_raises() -> None:
    with pytest.raises(ValueError, match="language must be one of"):
        rule("uscc_invalid").render("fr", **SAMPLE_VALUES)


def test_render_ignores_extra_values() -> None:
    text = rule("required_missing").render("en", field="PROJID", value="", detail="", extra=1)

    assert text.startswith("Required field PROJID is empty.")


def test_render_keeps_braces_in_values() -> None:
    text = rule("region_unknown").render("zh", field="AREACODE", value="{x}", detail="d")

    assert "{x}" in text


def test_catalogue_is_read_only() -> None:
    with pytest.raises(TypeError):
        RULES["new_rule"] = rule("uscc_invalid")  # type: ignore[index]
