"""Tests of the identifier check characters and validity checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contracts.identifiers import (
    ItemCode,
    Problem,
    check_basic_code,
    check_department_code,
    check_id_card,
    check_org_code,
    check_phone,
    check_region_code,
    check_uscc,
    convert_legacy_id_card,
    id_card_check_char,
    mask_identifier,
    org_code_check_char,
    parse_item_code,
    to_halfwidth,
    uscc_check_char,
)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ID_CHECK_CHARS = "0123456789X"

# Known region codes of the bundled list, plus 100000 for central registration.
USCC_REGIONS = ("100000", "110105", "330122", "370900", "511602", "520000")
COUNTY_REGIONS = ("110105", "310115", "330122", "511602", "530102")
TODAY = date(2025, 1, 1)

Check = Callable[[str], Problem | None]


def kind_of(problem: Problem | ItemCode | None) -> str | None:
    return problem.kind if isinstance(problem, Problem) else None


def with_id_check(body17: str) -> str:
    return body17 + id_card_check_char(body17)


# --- examples verified against the standards --------------------------------

VERIFIED_EXAMPLES: list[tuple[Check, str, str | None]] = [
    (check_uscc, "11100000000013127D", None),
    (check_uscc, "91350100M000100Y43", None),
    (check_uscc, "11370900MB28449441", None),
    (check_uscc, "12441500196720244T", None),
    (check_uscc, "91110108551385082Q", None),
    (check_uscc, "91110000600037341L", None),
    # Seen in real use, but its check character is wrong.
    (check_uscc, "91350203M0001QAY9B", "check"),
    (check_org_code, "D2143569-X", None),
    (check_org_code, "00434104-8", None),
    (check_org_code, "MB284494-4", None),
    (check_org_code, "D2143569X", None),
    (check_id_card, "11010519491231002X", None),
    # A widely cited example number, born in 1880, before the accepted range.
    (check_id_card, "440524188001010014", "date"),
    (check_id_card, "110105200001010016", None),
    (check_id_card, "310115198512310029", None),
    (check_id_card, "530102202002290089", None),
    (check_region_code, "110105", None),
    (check_region_code, "330122", None),
    (check_region_code, "520000", None),
    (check_region_code, "370900", None),
]


@pytest.mark.parametrize(("check", "value", "expected"), VERIFIED_EXAMPLES)
def test_verified_example(check: Check, value: str, expected: str | None) -> None:
    assert kind_of(check(value)) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("11100000000013127", "D"),
        ("91350100M000100Y4", "3"),
        ("91350203M0001QAY9", "9"),
        ("12441500196720244", "T"),
    ],
)
def test_uscc_check_char_examples(body: str, expected: str) -> None:
    assert uscc_check_char(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [("D2143569", "X"), ("00434104", "8"), ("MB284494", "4")],
)
def test_org_code_check_char_examples(body: str, expected: str) -> None:
    assert org_code_check_char(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [("11010519491231002", "X"), ("44052418800101001", "4"), ("53010220200229008", "9")],
)
def test_id_card_check_char_examples(body: str, expected: str) -> None:
    assert id_card_check_char(body) == expected


@pytest.mark.parametrize(
    ("function", "body"),
    [
        (uscc_check_char, "1110000000001312"),
        (uscc_check_char, "1110000000001312O"),
        (org_code_check_char, "D214356"),
        (org_code_check_char, "d2143569"),
        (id_card_check_char, "1101051949123100"),
        (id_card_check_char, "1101051949123100X"),
    ],
)
def test_check_char_rejects_bad_body(function: Callable[[str], str], body: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        function(body)


# --- 统一社会信用代码 ---------------------------------------------------------


@st.composite
def uscc_codes(draw: st.DrawFn) -> str:
    head = draw(st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2))
    region = draw(st.sampled_from(USCC_REGIONS))
    org_body = draw(st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8))
    body = head + region + org_body + org_code_check_char(org_body)
    return body + uscc_check_char(body)


@given(uscc_codes())
def test_uscc_generated_code_passes(code: str) -> None:
    assert check_uscc(code) is None


@given(uscc_codes(), st.integers(min_value=0, max_value=17), st.data())
def test_uscc_one_changed_character_fails(code: str, position: int, data: st.DataObject) -> None:
    alphabet = DIGITS if 2 <= position <= 7 else USCC_ALPHABET
    replacement = data.draw(st.sampled_from(alphabet.replace(code[position], "")))
    changed = code[:position] + replacement + code[position + 1 :]

    assert kind_of(check_uscc(changed)) == "check"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("11370900MB2844944", "length"),
        ("11370900MB284494411", "length"),
        ("11370900MO28449441", "charset"),
        ("113709A0MB28449441", "charset"),
        ("11370900mb28449441", "charset"),
        ("111111111111111111", "placeholder"),
        # Positions 9-17 (MB2844945) fail GB 11714 although position 18 fits them.
        ("11370900MB2844945" + uscc_check_char("11370900MB2844945"), "check"),
        ("11990000MB2844944" + uscc_check_char("11990000MB2844944"), "region"),
    ],
)
def test_uscc_problem_kind(code: str, kind: str) -> None:
    assert kind_of(check_uscc(code)) == kind


def test_uscc_accepts_retired_code_under_known_province() -> None:
    # 511301 (a 市辖区 code of 南充) is not in the list but still in real codes.
    assert check_uscc("11511301MB1550442U") is None


# --- 组织机构代码 -------------------------------------------------------------


@st.composite
def org_codes(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet=ORG_ALPHABET, min_size=8, max_size=8))
    assume(len(set(body)) > 1)
    return body + org_code_check_char(body)


@given(org_codes(), st.booleans())
def test_org_code_generated_code_passes(code: str, hyphen: bool) -> None:
    written = f"{code[:8]}-{code[8]}" if hyphen else code

    assert check_org_code(written) is None


@given(org_codes(), st.integers(min_value=0, max_value=8), st.data())
def test_org_code_one_changed_character_fails(
    code: str, position: int, data: st.DataObject
) -> None:
    alphabet = ID_CHECK_CHARS if position == 8 else ORG_ALPHABET
    replacement = data.draw(st.sampled_from(alphabet.replace(code[position], "")))
    # GB 11714 cannot see a change by a multiple of 11 in a character's value.
    if position < 8:
        difference = ORG_ALPHABET.index(replacement) - ORG_ALPHABET.index(code[position])
        assume(difference % 11 != 0)
    changed = code[:position] + replacement + code[position + 1 :]

    assert kind_of(check_org_code(changed)) == "check"


def test_org_code_misses_change_by_eleven() -> None:
    # D (13) and 2 (2) differ by 11, so the check character stays X.
    assert check_org_code("22143569-X") is None


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("1111111111", "placeholder"),
        ("4444444444", "placeholder"),
        ("11111111-1", "placeholder"),
        ("D2143569", "length"),
        ("D2143569-XX", "length"),
        ("0087790701", "format"),
        ("d2143569-X", "charset"),
        ("D2143569-Y", "charset"),
        ("D2143569-1", "check"),
    ],
)
def test_org_code_problem_kind(code: str, kind: str) -> None:
    assert kind_of(check_org_code(code)) == kind


# --- 居民身份证号码 -----------------------------------------------------------


@st.composite
def id_card_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(COUNTY_REGIONS))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.integers(min_value=0, max_value=999))
    return with_id_check(f"{region}{born:%Y%m%d}{sequence:03d}")


@given(id_card_numbers())
def test_id_card_generated_number_passes(number: str) -> None:
    assert check_id_card(number, today=TODAY) is None


@given(id_card_numbers(), st.integers(min_value=0, max_value=17), st.data())
def test_id_card_one_changed_character_fails(
    number: str, position: int, data: st.DataObject
) -> None:
    alphabet = ID_CHECK_CHARS if position == 17 else DIGITS
    replacement = data.draw(st.sampled_from(alphabet.replace(number[position], "")))
    changed = number[:position] + replacement + number[position + 1 :]

    assert kind_of(check_id_card(changed, today=TODAY)) == "check"


@given(st.text(alphabet=ID_CHECK_CHARS, min_size=14, max_size=20))
def test_id_card_detail_hides_number(number: str) -> None:
    problem = check_id_card(number, today=TODAY)

    assume(problem is not None)
    assert problem is not None
    fragments = {number[start : start + 4] for start in range(len(number) - 3)}
    assert not any(fragment in problem.detail for fragment in fragments)


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("000000000000000000", "placeholder"),
        ("11010519491231002", "length"),
        ("110105194912310021X", "length"),
        ("11010519491231002x", "charset"),
        ("1101051949123100AX", "charset"),
        ("11010519491231002Y", "charset"),
        ("110105194912310021", "check"),
        (with_id_check("99010519900101001"), "region"),
        (with_id_check("11010519000229001"), "date"),
        (with_id_check("11010518991231001"), "date"),
        (with_id_check("11010520250102001"), "date"),
    ],
)
def test_id_card_problem_kind(number: str, kind: str) -> None:
    assert kind_of(check_id_card(number, today=TODAY)) == kind


def test_id_card_accepts_retired_county_code() -> None:
    # 440524 is not in the 2023 list, but its province 44 is known.
    assert check_id_card(with_id_check("44052419900101001"), today=TODAY) is None


def test_id_card_accepts_birth_on_today() -> None:
    assert check_id_card(with_id_check("11010520250101001"), today=TODAY) is None


def test_id_card_default_today_accepts_past_birth() -> None:
    assert check_id_card("110105200001010016") is None


def test_id_card_legacy_length_explains_conversion() -> None:
    problem = check_id_card("110105491231002", today=TODAY)

    assert problem is not None
    assert problem.kind == "length"
    assert "convert" in problem.detail


def test_convert_legacy_id_card_example() -> None:
    assert convert_legacy_id_card("110105491231002") == "11010519491231002X"


@given(
    st.sampled_from(COUNTY_REGIONS),
    st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
def test_convert_legacy_id_card_passes_check(region: str, born: date, sequence: int) -> None:
    legacy = f"{region}{born:%y%m%d}{sequence:03d}"

    converted = convert_legacy_id_card(legacy)

    assert converted[6:14] == f"{born:%Y%m%d}"
    assert check_id_card(converted, today=TODAY) is None


@pytest.mark.parametrize("number", ["11010549123100", "11010549123100X", "1101054912310021"])
def test_convert_legacy_id_card_rejects_bad_input(number: str) -> None:
    with pytest.raises(ValueError, match="15 ASCII digits"):
        convert_legacy_id_card(number)


# --- placeholders -------------------------------------------------------------


@given(st.sampled_from(DIGITS + "X"), st.integers(min_value=2, max_value=30))
def test_repeated_character_is_placeholder(char: str, length: int) -> None:
    value = char * length

    assert kind_of(check_uscc(value)) == "placeholder"
    assert kind_of(check_org_code(value)) == "placeholder"
    assert kind_of(check_id_card(value)) == "placeholder"
    assert kind_of(check_phone(value)) == "placeholder"
    assert kind_of(check_department_code(value)) == "placeholder"


# --- phone and region -----------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("13800138000", None),
        ("19912345678", None),
        ("12800138000", "format"),
        ("23800138000", "format"),
        ("1380013800", "length"),
        ("+8613800138000", "length"),
        ("1380013800a", "charset"),
        ("１３８００１３８０００", "charset"),
        ("00000000000", "placeholder"),
    ],
)
def test_phone_problem_kind(number: str, kind: str | None) -> None:
    assert kind_of(check_phone(number)) == kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("511602", None),
        ("511600", None),
        ("510000", None),
        ("51160", "length"),
        ("5116020", "length"),
        ("51160A", "charset"),
        ("５１１６０２", "charset"),
        ("999999", "region"),
        ("511301", "region"),
    ],
)
def test_region_code_problem_kind(code: str, kind: str | None) -> None:
    assert kind_of(check_region_code(code)) == kind


# --- 事项编码 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (
            "511A0138000000-511602000000-000-115113010833722043-1-00",
            ItemCode("511A0138000000", "511602000000", "115113010833722043"),
        ),
        (
            "G-000007-001-511602000000-000-115113010833722043-1-00",
            ItemCode("G-000007-001", "511602000000", "115113010833722043"),
        ),
        (
            "512036010003-511602000000-000-11511301MB15537661-1-00",
            ItemCode("512036010003", "511602000000", "11511301MB15537661"),
        ),
        (
            "512C0107400001-511602000000-000-00877868-5-1-00",
            ItemCode("512C0107400001", "511602000000", "00877868-5"),
        ),
        (
            "511A0126800000-511602000000-000-76726532-X-1-00",
            ItemCode("511A0126800000", "511602000000", "76726532-X"),
        ),
        (
            "1J-5100-00027-511602000000-000-11511301008778386B-1-00",
            ItemCode("1J-5100-00027", "511602000000", "11511301008778386B"),
        ),
        (
            "A-005818-5818-511602000000-000-115113010087783353-1-00",
            ItemCode("A-005818-5818", "511602000000", "115113010087783353"),
        ),
        (
            "511Z16016002-511602000000-000-11511301MB1D685275-2-00",
            ItemCode("511Z16016002", "511602000000", "11511301MB1D685275"),
        ),
        (
            "511A0077700002-510000000000-000-8282348-1-00",
            ItemCode("511A0077700002", "510000000000", "8282348"),
        ),
        (
            "511F0045400001-511602000000-000-11511301452259996u-1-00",
            ItemCode("511F0045400001", "511602000000", "11511301452259996u"),
        ),
        # A middle segment other than 000 is accepted.
        (
            "511A0138000000-511602000000-A01-115113010833722043-1-00",
            ItemCode("511A0138000000", "511602000000", "115113010833722043"),
        ),
    ],
)
def test_parse_item_code(code: str, expected: ItemCode) -> None:
    assert parse_item_code(code) == expected


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        ("E-000004-001-11511301008778386B", "no 12-digit region"),
        ("E-000021-001-1111111111111111", "no 12-digit region"),
        ("H-000185-001-4444444444", "no 12-digit region"),
        ("12441500196720244T3442199806003", "no 12-digit region"),
        ("", "no 12-digit region"),
        ("511A0138000000-511602000000-000-115113010833722043", "does not match"),
        ("511A0138000000-511602000000-000-115113010833722043-1-00\n", "does not match"),
        ("511A0138000000-511602000000-000-1151130108_3722043-1-00", "does not match"),
    ],
)
def test_parse_item_code_rejects_shape(code: str, detail: str) -> None:
    problem = parse_item_code(code)

    assert isinstance(problem, Problem)
    assert problem.kind == "format"
    assert detail in problem.detail


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("511A0138000000", None),
        ("512036010003", None),
        ("G-000007-001", None),
        ("1J-5100-00027", None),
        ("XK00101000", None),
        ("0000000000", "placeholder"),
        ("511A013", "length"),
        ("5" + "1" * 50, "length"),
        ("511a0138000000", "charset"),
        ("511A_138000000", "charset"),
        ("G--000007-001", "format"),
        ("-G-000007-001", "format"),
    ],
)
def test_basic_code_problem_kind(code: str, kind: str | None) -> None:
    assert kind_of(check_basic_code(code)) == kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("115113010833722043", None),
        ("11511301MB1550442U", None),
        ("083372204", None),
        ("68236467-9", None),
        ("00877836X", None),
        ("1111111111111111", "placeholder"),
        ("4444444444", "placeholder"),
        ("2222222222222", "placeholder"),
        ("11736", "length"),
        ("8282348", "length"),
        ("1151130108778239R", "length"),
        ("4148481895459659776", "length"),
        ("1151130108778239R_6918", "length"),
        ("0087790701", "format"),
        ("11511301452259996u", "charset"),
        ("130501003", "check"),
        ("TE5116020105116050", "check"),
    ],
)
def test_department_code_problem_kind(code: str, kind: str | None) -> None:
    assert kind_of(check_department_code(code)) == kind


# --- normalisation and masking --------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("５１１６０２", "511602"),
        ("11010519491231002Ｘ", "11010519491231002X"),
        ("1101 0519\u30004912\u00a031002X", "11010519491231002X"),
        ("\ufeff\u200b511602\u200c\u200d\u2060", "511602"),
        ("\t511602\r\n", "511602"),
        ("ＧＡ－ＳＰＸＴ", "GA-SPXT"),
    ],
)
def test_to_halfwidth(raw: str, expected: str) -> None:
    assert to_halfwidth(raw) == expected


@given(st.text())
def test_to_halfwidth_leaves_no_space_and_is_stable(raw: str) -> None:
    folded = to_halfwidth(raw)

    assert not any(char.isspace() for char in folded)
    assert to_halfwidth(folded) == folded


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("51160219900101123X", "5116**********123X"),
        ("11511301MB1550442U", "1151**********442U"),
        ("083372204", "0833*2204"),
        ("13800138", "******38"),
        ("abc", "*bc"),
        ("ab", "**"),
        ("a", "*"),
        ("", ""),
    ],
)
def test_mask_identifier(value: str, expected: str) -> None:
    assert mask_identifier(value) == expected


@given(st.text(min_size=9))
def test_mask_identifier_keeps_length_and_ends(value: str) -> None:
    masked = mask_identifier(value)

    assert len(masked) == len(value)
    assert masked[:4] == value[:4]
    assert masked[-4:] == value[-4:]
    assert set(masked[4:-4]) == {"*"}
