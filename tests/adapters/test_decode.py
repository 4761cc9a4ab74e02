"""Tests for strict decoding of dropped files."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from adapters.files.decode import (
    DecodedText,
    UndecodableError,
    decode_bytes,
    decode_file,
)

GB18030_BOM = b"\x84\x31\x95\x33"


def _is_valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_decode_plain_utf8() -> None:
    result = decode_bytes("办件编号,PROJID\n".encode())

    assert result == DecodedText(text="办件编号,PROJID\n", encoding="utf-8", had_bom=False)


def test_decode_utf8_with_bom() -> None:
    result = decode_bytes(codecs.BOM_UTF8 + b"project_no\n")

    assert result.text == "project_no\n"
    assert result.encoding == "utf-8-sig"
    assert result.had_bom


def test_decode_gbk() -> None:
    data = "公安审批系统,广安区\n".encode("gbk")

    result = decode_bytes(data)

    assert result == DecodedText(text="公安审批系统,广安区\n", encoding="gbk", had_bom=False)


@pytest.mark.parametrize("text", ["吉𠮷祥", "王䶮", "价格€"])
def test_decode_gb18030_only_characters(text: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    data = text.encode("gb18030")

    result = decode_bytes(data)

    assert result.text == text
    assert result.encoding == "gb18030"


def test_decode_gb18030_bom_stripped() -> None:
    result = decode_bytes(GB18030_BOM + "办件".encode("gb18030"))

    assert result.text == "办件"
    assert result.encoding == "gb18030"
    assert result.had_bom


def test_decode_utf8_that_is_also_gbk_stays_utf8() -> None:
    data = "办件编号".encode()
    # The same bytes decode as GBK to mojibake, so the order of tries matters.
    assert data.decode("gbk") == "鍔炰欢缂栧彿"

    result = decode_bytes(data)

    assert result.text == "办件编号"
    assert result.encoding == "utf-8"


def test_decode_valid_replacement_character_kept() -> None:
    result = decode_bytes("a\ufffdb".encode())

    assert result.text == "a\ufffdb"
    assert result.encoding == "utf-8"


def test_decode_undecodable_bytes_raise_with_offset() -> None:
    data = "办件\n编号,".encode("gbk") + b"\xff\xfe" + b"tail"

    with pytest.raises(UndecodableError) as caught:
        decode_bytes(data)

    error = caught.value
    assert error.byte_offset == 10
    assert error.line == 2
    assert error.encodings_tried == ("utf-8", "gbk", "gb18030")
    assert "byte offset 10" in str(error)
    assert "utf-8, gbk, gb18030" in str(error)
    assert "`encoding`" in str(error)


def test_decode_utf16_suggests_encoding() -> None:
    data = "办件编号,事项\n".encode("utf-16")

    with pytest.raises(UndecodableError, match="charset-normalizer suggests utf_16"):
        decode_bytes(data)


def test_decode_utf8_bom_with_gbk_body_raises() -> None:
    data = codecs.BOM_UTF8 + "办件".encode("gbk")

    with pytest.raises(UndecodableError) as caught:
        decode_bytes(data)

    assert caught.value.byte_offset == 3
    assert caught.value.encodings_tried == ("utf-8-sig",)


def test_decode_forced_gbk_alias() -> None:
    result = decode_bytes("办件".encode("gbk"), encoding="CP936")

    assert result == DecodedText(text="办件", encoding="gbk", had_bom=False)


def test_decode_forced_utf8_strips_bom() -> None:
    result = decode_bytes(codecs.BOM_UTF8 + b"abc", encoding="utf-8")

    assert result == DecodedText(text="abc", encoding="utf-8", had_bom=True)


def test_decode_forced_utf8_on_gbk_raises() -> None:
    data = b"ok," + "办件".encode("gbk")

    with pytest.raises(UndecodableError) as caught:
        decode_bytes(data, encoding="utf-8")

    assert caught.value.byte_offset == 3
    assert caught.value.encodings_tried == ("utf-8",)


def test_decode_unsupported_encoding_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported encoding 'big5'"):
        decode_bytes(b"abc", encoding="big5")


def test_decode_file_reads_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("事项名称\n".encode("gbk"))

    result = decode_file(path)

    assert result.text == "事项名称\n"
    assert result.encoding == "gbk"


def test_decode_empty_bytes() -> None:
    assert decode_bytes(b"") == DecodedText(text="", encoding="utf-8", had_bom=False)


@given(st.text())
def test_decode_any_utf8_round_trips(text: str) -> None:
    result = decode_bytes(text.encode())

    # A leading U+FEFF is indistinguishable from a BOM, so it is stripped.
    expected = text.removeprefix("\ufeff")
    assert result.text == expected
    assert result.encoding == "utf-8"


@given(st.text())
def test_decode_any_gb18030_round_trips(text: str) -> None:
    data = text.encode("gb18030")
    assume(not _is_valid_utf8(data))

    result = decode_bytes(data)

    expected = text.removeprefix("\ufeff")
    assert result.text == expected
    assert result.encoding in ("gbk", "gb18030")


@given(st.binary())
def test_decode_arbitrary_bytes_never_substitutes(data: bytes) -> None:
    try:
        result = decode_bytes(data)
    except UndecodableError:
        return

    # Encoding the text again must give back every source byte, which rules
    # out replacement characters standing in for undecodable bytes.
    codec = "utf-8" if result.encoding == "utf-8-sig" else result.encoding
    bom = b""
    if result.had_bom:
        bom = GB18030_BOM if result.encoding == "gb18030" else codecs.BOM_UTF8
    assert bom + result.text.encode(codec) == data
