"""Property tests of the unified case code (统一办件编码) format."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.casecode import (
    CODE_LENGTH,
    MAX_SEQUENCE,
    is_unified_code,
    make_unified_code,
    unified_code_check_char,
)

regions = st.text(alphabet="0123456789", min_size=6, max_size=6)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
sequences = st.integers(min_value=1, max_value=MAX_SEQUENCE)


@given(regions, days, sequences)
def test_made_code_is_unified_code(region: str, day: date, sequence: int) -> None:
    code = make_unified_code(region, day, sequence)

    assert len(code) == CODE_LENGTH
    assert is_unified_code(code)


@given(regions, days, sequences)
def test_made_code_embeds_its_parts(region: str, day: date, sequence: int) -> None:
    code = make_unified_code(region, day, sequence)

    assert code[:6] == region
    assert code[6:14] == f"{day:%Y%m%d}"
    assert int(code[14:20]) == sequence
    assert code[20] == unified_code_check_char(code[:20])


@given(regions, days, sequences, st.integers(min_value=0, max_value=20), st.data())
def test_single_substitution_detected(
    region: str, day: date, sequence: int, index: int, data: st.DataObject
) -> None:
    code = make_unified_code(region, day, sequence)
    alphabet = "0123456789X" if index == 20 else "0123456789"
    replacement = data.draw(st.sampled_from([char for char in alphabet if char != code[index]]))

    changed = code[:index] + replacement + code[index + 1 :]

    assert not is_unified_code(changed)


@given(regions, days, sequences, st.integers(min_value=0, max_value=19))
def test_adjacent_transposition_detected(region: str, day: date, sequence: int, index: int) -> None:
    code = make_unified_code(region, day, sequence)
    if code[index] == code[index + 1]:
        return

    swapped = code[:index] + code[index + 1] + code[index] + code[index + 2 :]

    assert not is_unified_code(swapped)


@pytest.mark.parametrize("sequence", [0, -1, MAX_SEQUENCE + 1])
def test_sequence_out_of_range_rejected(sequence: int) -> None:
    with pytest.raises(ValueError, match=r"outside 1\.\.999999"):
        make_unified_code("511602", date(2024, 3, 1), sequence)


@pytest.mark.parametrize("region", ["51160", "5116020", "51160A", ""])
def test_region_not_six_digits_rejected(region: str) -> None:
    with pytest.raises(ValueError, match="not a 6-digit code"):
        make_unified_code(region, date(2024, 3, 1), 1)


@pytest.mark.parametrize(
    "value",
    ["", "51160220240301000007", "5116022024030100000733", "51160220240301000007x", "A" * 21],
)
def test_malformed_values_not_unified_codes(value: str) -> None:
    assert not is_unified_code(value)


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("digits", [FULL_WIDTH, ARABIC_INDIC], ids=["full-width", "arabic-indic"])
def test_non_ascii_digits_not_unified_code(digits: dict[int, str]) -> None:
    code = make_unified_code("511602", date(2024, 3, 1), 7)
    body = code[:20].translate(digits)

    assert not is_unified_code(body + code[20])


def test_full_width_region_rejected() -> None:
    with pytest.raises(ValueError, match="not a 6-digit code"):
        make_unified_code("５１１６０２", date(2024, 3, 1), 1)
