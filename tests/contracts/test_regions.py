"""Tests of the bundled GB/T 2260 region list."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from contracts.regions import city_of, is_known_region, province_of, region_name, region_parts


def read_bundled(file_name: str) -> list[dict[str, str]]:
    path = resources.files("contracts") / "data" / "regions" / file_name
    return list(csv.DictReader(path.read_text("utf-8").splitlines()))


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("510000", "四川省"),
        ("511600", "广安市"),
        ("511602", "广安区"),
        ("110100", "市辖区"),
        ("110105", "朝阳区"),
        ("441900", "东莞市"),
    ],
)
def test_region_name(code: str, name: str) -> None:
    assert region_name(code) == name
    assert is_known_region(code)


@pytest.mark.parametrize("code", ["999999", "511301", "440524", "000000", "51160", "abcdef", ""])
def test_unknown_region(code: str) -> None:
    assert region_name(code) is None
    assert not is_known_region(code)


@pytest.mark.parametrize(
    ("file_name", "rows", "suffix"),
    [("provinces.csv", 31, "0000"), ("cities.csv", 342, "00"), ("areas.csv", 2978, "")],
)
def test_every_bundled_row_is_known(file_name: str, rows: int, suffix: str) -> None:
    table = read_bundled(file_name)

    assert len(table) == rows
    for row in table:
        assert region_name(row["code"] + suffix) == row["name"]


def test_region_parts() -> None:
    assert region_parts("511602") == ("51", "16", "02")
    assert region_parts("510000") == ("51", "00", "00")


def test_province_and_city_of_county() -> None:
    assert province_of("511602") == "510000"
    assert city_of("511602") == "511600"


def test_province_and_city_of_province() -> None:
    assert province_of("510000") == "510000"
    assert city_of("510000") == "510000"


@pytest.mark.parametrize("code", ["51160", "5116020", "51160A", "５１１６０２", "511602\n"])
@pytest.mark.parametrize("function", [region_parts, province_of, city_of])
def test_malformed_code_raises(function: object, code: str) -> None:
    assert callable(function)
    with pytest.raises(ValueError, match="6 ASCII digits"):
        function(code)
