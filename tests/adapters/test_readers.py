"""Tests for reading CSV, XLSX and JSON Lines source files."""

from __future__ import annotations

import codecs
import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from adapters.files.decode import UndecodableError
from adapters.files.readers import (
    HeaderError,
    SourceFileError,
    SourceRecord,
    UnsupportedFormatError,
    clean_header,
    escape_name,
    open_source_file,
)

GA_HEADER = "PROJID,SERVICECODE,APPLYNAME,STATETIME,REMARK"


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _records(path: Path) -> list[SourceRecord]:
    return list(open_source_file(path).records())


# Header names ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("\ufeffproject_no", "project_no"),
        ("\u3000event_name", "event_name"),
        ("org_code\u200b", "org_code"),
        (" area\u00a0code ", "areacode"),
        ("办件\u3000编号", "办件编号"),
        ("a\u200c\u200d\u2060b", "ab"),
        ("  PROJID\t", "PROJID"),
    ],
)
def test_clean_header_removes_invisible_characters(raw: str, cleaned: str) -> None:
    assert clean_header(raw) == cleaned


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("PROJID", "PROJID"),
        ("办件编号", "办件编号"),
        ("org\u200bcode", "org\\u200bcode"),
        ("\u3000name", "\\u3000name"),
        ("tab\there", "tab\\u0009here"),
        ("trailing ", "trailing\\u0020"),
        ("a b", "a b"),
        ("back\\slash", "back\\\\slash"),
        ("tag\U000e0041", "tag\\U000e0041"),
    ],
)
def test_escape_name_shows_invisible_characters(name: str, shown: str) -> None:
    assert escape_name(name) == shown


# CSV --------------------------------------------------------------------------


def test_csv_gbk_file_read(tmp_path: Path) -> None:
    text = f"{GA_HEADER}\r\nGA001,11511602MB0001,张三,2024-01-15 10:30:00,首次申请\r\n"
    path = _write(tmp_path, "ga.csv", text, encoding="gbk")

    source = open_source_file(path)
    records = list(source.records())

    assert source.format == "csv"
    assert source.encoding == "gbk"
    assert source.headers == GA_HEADER.split(",")
    assert records == [
        SourceRecord(
            position=1,
            line=2,
            fields={
                "PROJID": "GA001",
                "SERVICECODE": "11511602MB0001",
                "APPLYNAME": "张三",
                "STATETIME": "2024-01-15 10:30:00",
                "REMARK": "首次申请",
            },
            error=None,
            raw="GA001,11511602MB0001,张三,2024-01-15 10:30:00,首次申请",
        )
    ]


def test_csv_headers_with_bom_and_invisible_spaces(tmp_path: Path) -> None:
    # The first header carries a BOM of its own after the file's BOM.
    header = "\ufeffproject_no,\u3000event_name,org_code\u200b,area_code\u00a0"
    path = tmp_path / "hall.csv"
    path.write_bytes(codecs.BOM_UTF8 + f"{header}\n01,02,511602001,511602\n".encode())

    source = open_source_file(path)
    records = list(source.records())

    assert source.encoding == "utf-8-sig"
    assert source.headers == ["project_no", "event_name", "org_code", "area_code"]
    assert source.raw_headers == header.split(",")
    assert records[0].fields["event_name"] == "02"
    assert records[0].fields["area_code"] == "511602"


def test_csv_quoted_multiline_field_is_one_record(tmp_path: Path) -> None:
    text = 'PROJID,REMARK\nGA001,"第一行\n第二行\n第三行"\nGA002,单行\n'
    path = _write(tmp_path, "multi.csv", text)

    records = _records(path)

    assert len(records) == 2
    assert records[0].fields["REMARK"] == "第一行\n第二行\n第三行"
    assert records[0].line == 2
    assert records[0].raw == 'GA001,"第一行\n第二行\n第三行"'
    assert records[1].line == 5
    assert records[1].position == 2


def test_csv_crlf_kept_inside_quoted_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "crlf.csv", 'PROJID,REMARK\r\nGA001,"a\r\nb"\r\nGA002,c\r\n')

    records = _records(path)

    assert records[0].fields["REMARK"] == "a\r\nb"
    assert records[0].raw == 'GA001,"a\r\nb"'
    assert records[1].raw == "GA002,c"
    assert records[1].line == 4


def test_csv_more_cells_than_headers_sets_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "wide.csv", "PROJID,REMARK\nGA001,x,unexpected\n")

    (record,) = _records(path)

    assert record.error is not None
    assert "column(s) 3" in record.error
    assert record.fields == {"PROJID": "GA001", "REMARK": "x"}
    assert record.raw == "GA001,x,unexpected"


def test_csv_fewer_cells_gives_none(tmp_path: Path) -> None:
    path = _write(tmp_path, "short.csv", "PROJID,APPLYNAME,REMARK\nGA001\nGA002,张三,\n")

    records = _records(path)

    assert records[0].fields == {"PROJID": "GA001", "APPLYNAME": None, "REMARK": None}
    assert records[0].error is None
    assert records[1].fields == {"PROJID": "GA002", "APPLYNAME": "张三", "REMARK": None}


def test_csv_trailing_delimiter_tolerated(tmp_path: Path) -> None:
    path = _write(tmp_path, "trailing.csv", "PROJID,REMARK,\nGA001,x,\n")

    source = open_source_file(path)
    records = list(source.records())

    assert source.headers == ["PROJID", "REMARK"]
    assert records[0].fields == {"PROJID": "GA001", "REMARK": "x"}
    assert records[0].error is None


def test_csv_blank_lines_skipped(tmp_path: Path) -> None:
    text = "PROJID,REMARK\n\nGA001,a\n\n,\nGA002,b\n\n\r\n\n"
    path = _write(tmp_path, "blank.csv", text)

    records = _records(path)

    assert [record.fields["PROJID"] for record in records] == ["GA001", "GA002"]
    assert [record.position for record in records] == [1, 2]
    assert [record.line for record in records] == [3, 6]


def test_csv_bad_quoting_yields_error_record(tmp_path: Path) -> None:
    text = 'PROJID,REMARK\nGA001,"quoted"tail\nGA002,fine\n'
    path = _write(tmp_path, "quote.csv", text)

    records = _records(path)

    assert records[0].error is not None
    assert records[0].error.startswith("invalid CSV")
    assert records[0].raw == 'GA001,"quoted"tail'
    assert records[0].fields == {}
    assert records[1].fields == {"PROJID": "GA002", "REMARK": "fine"}
    assert records[1].position == 2


def test_csv_unterminated_quote_is_quarantined(tmp_path: Path) -> None:
    text = 'PROJID,REMARK\nGA001,ok\nGA002,"never closed\nGA003,lost\n'
    path = _write(tmp_path, "open.csv", text)

    records = _records(path)

    assert len(records) == 2
    assert records[1].error is not None
    assert records[1].raw == 'GA002,"never closed\nGA003,lost'


def test_csv_duplicate_header_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "dup.csv", "PROJID,REMARK,\u3000PROJID\nGA001,a,b\n")

    with pytest.raises(HeaderError, match="columns 1 and 3 are both named 'PROJID'"):
        open_source_file(path)


def test_csv_unnamed_middle_header_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "gap.csv", "PROJID,\u200b,REMARK\nGA001,a,b\n")

    with pytest.raises(HeaderError, match="column 2 has no name"):
        open_source_file(path)


def test_csv_empty_file_has_no_records(tmp_path: Path) -> None:
    path = _write(tmp_path, "empty.csv", "")

    source = open_source_file(path)

    assert source.headers == []
    assert list(source.records()) == []


def test_csv_undecodable_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b"PROJID\n\xff\xff\n")

    with pytest.raises(UndecodableError):
        open_source_file(path)


def test_csv_forced_encoding_used(tmp_path: Path) -> None:
    path = _write(tmp_path, "forced.csv", "PROJID\n办件\n", encoding="gb18030")

    source = open_source_file(path, encoding="gb18030")

    assert source.encoding == "gb18030"
    assert next(source.records()).fields == {"PROJID": "办件"}


def test_records_resume_after_position(tmp_path: Path) -> None:
    lines = [f"GA{index:03d},备注{index}" for index in range(1, 6)]
    text = "PROJID,REMARK\n" + "\n".join(lines) + "\n"
    path = _write(tmp_path, "resume.csv", text)
    source = open_source_file(path)

    resumed = list(source.records(start_after=3))

    assert [record.position for record in resumed] == [4, 5]
    assert [record.fields["PROJID"] for record in resumed] == ["GA004", "GA005"]
    assert list(source.records(start_after=5)) == []
    assert list(source.records()) == list(source.records())


def test_records_negative_start_rejected(tmp_path: Path) -> None:
    source = open_source_file(_write(tmp_path, "a.csv", "PROJID\nGA001\n"))

    with pytest.raises(ValueError, match="invalid start_after -1"):
        list(source.records(start_after=-1))


# Format selection ------------------------------------------------------------


def test_unknown_extension_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.txt", "PROJID\nGA001\n")

    with pytest.raises(UnsupportedFormatError, match=r"extension '\.txt'"):
        open_source_file(path)


def test_format_overrides_extension(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.txt", "PROJID\nGA001\n")

    source = open_source_file(path, format="csv")

    assert source.format == "csv"
    assert next(source.records()).fields == {"PROJID": "GA001"}


def test_unknown_format_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, "export.csv", "PROJID\n")

    with pytest.raises(UnsupportedFormatError, match="unsupported format 'xls'"):
        open_source_file(path, format="xls")


def test_extension_case_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "EXPORT.CSV", "PROJID\nGA001\n")

    assert open_source_file(path).format == "csv"


# XLSX -------------------------------------------------------------------------


def _write_scjg_workbook(path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "办件"
    sheet.append(["办件编号", "证件号码\u3000", "状态时间", "承诺时限", "受理日期", "备注"])
    sheet.append(["SC001", "91511602MA0000000X", datetime(2024, 1, 15, 10, 30), 15, None, "a"])
    sheet.append(["SC002", None, 46083.4375, 20, date(2026, 3, 1), "多行\n备注"])
    sheet.append([None, None, None, None, None, None])
    sheet.append(["SC003", "511602199001011234", "2024-02-01 08:00", None, None, None])
    sheet.cell(row=3, column=5).number_format = "yyyy-mm-dd"
    workbook.create_sheet("说明").append(["本表由市场监管系统导出"])
    workbook.save(path)


def test_xlsx_cells_keep_types(tmp_path: Path) -> None:
    path = tmp_path / "scjg.xlsx"
    _write_scjg_workbook(path)

    source = open_source_file(path)
    records = list(source.records())

    assert source.format == "xlsx"
    assert source.encoding is None
    assert source.headers == ["办件编号", "证件号码", "状态时间", "承诺时限", "受理日期", "备注"]
    assert source.raw_headers[1] == "证件号码\u3000"
    first, second, third = records
    assert first.fields["状态时间"] == datetime(2024, 1, 15, 10, 30)
    assert first.fields["承诺时限"] == 15.0
    assert first.fields["受理日期"] is None
    assert second.fields["状态时间"] == 46083.4375
    assert second.fields["受理日期"] == date(2026, 3, 1)
    assert second.fields["证件号码"] is None
    assert second.fields["备注"] == "多行\n备注"
    assert third.fields["证件号码"] == "511602199001011234"


def test_xlsx_rows_numbered_empty_skipped(tmp_path: Path) -> None:
    path = tmp_path / "scjg.xlsx"
    _write_scjg_workbook(path)

    records = _records(path)

    assert [record.position for record in records] == [1, 2, 3]
    assert [record.line for record in records] == [2, 3, 5]
    assert [record.error for record in records] == [None, None, None]


def test_xlsx_raw_is_json_of_row(tmp_path: Path) -> None:
    path = tmp_path / "scjg.xlsx"
    _write_scjg_workbook(path)

    first = _records(path)[0]

    assert json.loads(first.raw) == [
        "SC001",
        "91511602MA0000000X",
        "2024-01-15T10:30:00",
        15.0,
        None,
        "a",
    ]


def test_xlsx_resume_after_position(tmp_path: Path) -> None:
    path = tmp_path / "scjg.xlsx"
    _write_scjg_workbook(path)

    resumed = list(open_source_file(path).records(start_after=2))

    assert [record.fields["办件编号"] for record in resumed] == ["SC003"]


def test_xlsx_sheet_by_name(tmp_path: Path) -> None:
    path = tmp_path / "scjg.xlsx"
    _write_scjg_workbook(path)

    source = open_source_file(path, sheet="说明")

    assert source.headers == ["本表由市场监管系统导出"]
    assert list(source.records()) == []


@pytest.mark.parametrize("sheet", ["不存在", 5])
def test_xlsx_missing_sheet_rejected(tmp_path: Path, sheet: str | int) -> None:
    path = tmp_path / "scjg.xlsx"
    _write_scjg_workbook(path)

    with pytest.raises(SourceFileError, match="no worksheet"):
        open_source_file(path, sheet=sheet)


def test_xlsx_table_offset_from_a1(tmp_path: Path) -> None:
    path = tmp_path / "offset.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["B3"] = "办件编号"
    sheet["C3"] = "备注"
    sheet["B4"] = "SC001"
    sheet["C4"] = "x"
    sheet["B5"] = "SC002"
    sheet["E5"] = "stray"
    workbook.save(path)

    records = _records(path)

    assert records[0].fields == {"办件编号": "SC001", "备注": "x"}
    assert records[0].line == 4
    assert records[0].error is None
    assert records[1].error is not None
    assert "column(s) 5" in records[1].error


def test_xlsx_damaged_workbook_rejected(tmp_path: Path) -> None:
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(b"not a zip archive")

    with pytest.raises(SourceFileError, match="cannot read workbook"):
        open_source_file(path)


# JSON Lines -------------------------------------------------------------------


APP_LINES = [
    '{"projid": "APP001", "status": "submitted", "statusTime": "2024-01-15T10:30:00"}',
    "",
    '{"projid": "APP002", "status": "accepted", "remark": {"channel": ["app", "wx"]}}',
    '{"projid": "APP003", "status": ',
    '["not", "an", "object"]',
    '{"\\u200bprojid": "APP004", "urgent": true, "promiseDays": 15, "fee": 2.5, "x": null}',
]


def test_jsonl_records_and_headers(tmp_path: Path) -> None:
    path = _write(tmp_path, "app.jsonl", "\n".join(APP_LINES) + "\n")

    source = open_source_file(path)
    records = list(source.records())

    assert source.format == "jsonl"
    assert source.headers == [
        "projid",
        "status",
        "statusTime",
        "remark",
        "urgent",
        "promiseDays",
        "fee",
        "x",
    ]
    assert [record.position for record in records] == [1, 2, 3, 4, 5]
    assert [record.line for record in records] == [1, 3, 4, 5, 6]
    assert records[0].fields["statusTime"] == "2024-01-15T10:30:00"
    assert records[0].fields["remark"] is None


def test_jsonl_nested_values_kept_as_json_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "app.jsonl", "\n".join(APP_LINES))

    records = _records(path)

    assert records[1].fields["remark"] == '{"channel":["app","wx"]}'


def test_jsonl_scalars_and_cleaned_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "app.jsonl", "\n".join(APP_LINES))

    record = _records(path)[4]

    assert record.error is None
    assert record.fields["projid"] == "APP004"
    assert record.fields["urgent"] == "true"
    assert record.fields["promiseDays"] == 15
    assert record.fields["fee"] == 2.5
    assert record.fields["x"] is None
    assert record.fields["status"] is None


def test_jsonl_malformed_line_yields_error_record(tmp_path: Path) -> None:
    path = _write(tmp_path, "app.jsonl", "\n".join(APP_LINES))

    records = _records(path)

    malformed, not_object = records[2], records[3]
    assert malformed.error is not None
    assert malformed.error.startswith("invalid JSON")
    assert malformed.raw == '{"projid": "APP003", "status": '
    assert malformed.fields == {}
    assert not_object.error == "expected a JSON object, got a JSON array"
    assert not_object.raw == '["not", "an", "object"]'


def test_jsonl_colliding_keys_yield_error_record(tmp_path: Path) -> None:
    path = _write(tmp_path, "app.ndjson", '{"projid": "A", "projid\\u3000": "B"}\r\n')

    (record,) = _records(path)

    assert record.error == "keys 'projid' and 'projid\\u3000' are the same after cleaning"
    assert record.raw == '{"projid": "A", "projid\\u3000": "B"}'


def test_jsonl_resume_after_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "app.jsonl", "\n".join(APP_LINES))

    resumed = list(open_source_file(path).records(start_after=3))

    assert [record.position for record in resumed] == [4, 5]
    assert resumed[1].fields["projid"] == "APP004"
