"""Tests for the demo export generator and the demo source profiles."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import itertools
import json
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import msgspec
import pytest
from python_calamine import CalamineWorkbook

from adapters.items import check_catalogue_entry, read_catalogue
from bench.demo._catalogue import select_demo_items
from bench.demo._sources import FIELDS, SOURCES, SourceFormat
from bench.demo.generate import (
    GenerationReport,
    bundled_catalogue,
    generate_exports,
    load_catalogue_items,
)
from contracts.case import PREDECESSORS, TERMINAL_EVENTS
from contracts.identifiers import check_id_card, check_uscc, to_halfwidth

PROFILES = bundled_catalogue().parent.parent / "profiles"
SOURCE_BY_ID = {source.source_id: source for source in SOURCES}
SENTINEL_YEAR = 1753
EXCEL_EPOCH = datetime(1899, 12, 30)
HEADER_NOISE = "\ufeff\u3000\u200b"
OFFICE_HOURS = ((time(9, 0), time(12, 0)), (time(14, 0), time(17, 30)))
SMALL_CASES = 200


@dataclass(frozen=True)
class Row:
    """One data row read back from a generated file, keyed by contract field."""

    source: str
    file: str
    position: int
    """Position over the source's files in name order, monthly files before the re-send."""
    fields: dict[str, object]
    raw: tuple[object, ...]
    time: datetime | None
    """Parsed status time; None for the 1753-01-01 sentinel."""
    serial_time: bool


@dataclass(frozen=True)
class Demo:
    out_dir: Path
    report: GenerationReport
    rows: dict[str, list[Row]]
    header_noise: int


@functools.cache
def _profile(source_id: str) -> dict[str, dict[str, str]]:
    with (PROFILES / f"{source_id}.toml").open("rb") as stream:
        return tomllib.load(stream)


def _parse_time(source: SourceFormat, value: object) -> tuple[datetime, bool]:
    """Return the status time and whether it was an Excel serial number."""
    if isinstance(value, datetime):
        return value, False
    if isinstance(value, float):
        return EXCEL_EPOCH + timedelta(seconds=round(value * 86_400)), True
    assert isinstance(value, str)
    if source.file_format == "xlsx":
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S"), False
    return datetime.strptime(value, source.time_format), False


def _table(path: Path, source: SourceFormat) -> tuple[list[str], list[tuple[object, ...]]]:
    """Read a file into its header and data rows without any normalisation."""
    if source.file_format == "xlsx":
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        return [str(cell) for cell in sheet[0]], [tuple(row) for row in sheet[1:]]

    if source.file_format == "jsonl":
        lines = path.read_text("utf-8").splitlines()
        objects = [json.loads(line) for line in lines]
        return list(source.columns), [tuple(item.values()) for item in objects]

    text = path.read_bytes().decode(source.encoding)
    table = list(csv.reader(io.StringIO(text, newline="")))
    return table[0], [tuple(row) for row in table[1:]]


def _read_source(directory: Path, source: SourceFormat) -> tuple[list[Row], int]:
    """Read every file of one source in name order; also count noisy header cells."""
    column_fields = {column: name for name, column in _profile(source.source_id)["fields"].items()}
    paths = sorted(directory.iterdir(), key=lambda path: ("resend" in path.name, path.name))
    rows: list[Row] = []
    noise = 0

    for path in paths:
        header, table = _table(path, source)
        noise += sum(1 for cell in header if any(char in HEADER_NOISE for char in cell))
        names = [column_fields[cell.strip(HEADER_NOISE)] for cell in header]
        for raw in table:
            fields = dict(zip(names, raw, strict=True))
            parsed, serial = _parse_time(source, fields["status_time"])
            rows.append(
                Row(
                    source=source.source_id,
                    file=path.name,
                    position=len(rows),
                    fields=fields,
                    raw=raw,
                    time=None if parsed.year == SENTINEL_YEAR else parsed,
                    serial_time=serial,
                )
            )
    return rows, noise


def _generate(out_dir: Path, *, cases: int, seed: int = 2026) -> Demo:
    report = generate_exports(out_dir, cases=cases, seed=seed)
    rows: dict[str, list[Row]] = {}
    noise = 0
    for source in SOURCES:
        rows[source.source_id], source_noise = _read_source(out_dir / source.source_id, source)
        noise += source_noise
    return Demo(out_dir=out_dir, report=report, rows=rows, header_noise=noise)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return _generate(tmp_path_factory.mktemp("demo"), cases=SMALL_CASES)


@pytest.fixture(scope="module")
def medium_demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return _generate(tmp_path_factory.mktemp("medium"), cases=2000, seed=7)


def _digests(directory: Path) -> dict[str, str]:
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _status(row: Row) -> str | None:
    """Return the canonical event of a row, or None for an unmapped status value."""
    table = _profile(row.source)["status"]
    return table.get(str(row.fields["status"]))


def _case_key(row: Row) -> tuple[str, str]:
    return row.source, to_halfwidth(str(row.fields["local_no"]))


def _flows(demo: Demo) -> dict[tuple[str, str], list[tuple[datetime, str, Row]]]:
    """Group mapped, dated rows by case; repeated (status, time) pairs count once."""
    flows: dict[tuple[str, str], dict[tuple[datetime, str], Row]] = defaultdict(dict)
    for rows in demo.rows.values():
        for row in rows:
            status = _status(row)
            if status is None or row.time is None:
                continue
            flows[_case_key(row)].setdefault((row.time, status), row)
    return {
        key: sorted((moment, status, row) for (moment, status), row in rows.items())
        for key, rows in flows.items()
    }


def _monthly(demo: Demo) -> list[Row]:
    return [row for rows in demo.rows.values() for row in rows if "resend" not in row.file]


def _id_type(row: Row) -> str:
    return _profile(row.source)["id_types"][str(row.fields["applicant_id_type"])]


# Catalogue -------------------------------------------------------------------


def test_catalogue_parses_every_item() -> None:
    items = load_catalogue_items(bundled_catalogue())

    assert len(items) == 1135
    assert len({item.department for item in items}) == 34
    first = items[0]
    assert first.department == "区经信局"
    assert first.item_code == "511Z07001006-511602000000-000-11511301008778183N-1-00"
    assert first.task_type == "10"
    assert first.dept_code == "11511301008778183N"
    assert first.area_code == "511602000000"


def test_demo_items_pass_catalogue_import() -> None:
    """Demo cases use only items that `zwbus items import` accepts into the catalogue."""
    entries = {entry.item_code: entry for entry in read_catalogue(bundled_catalogue())}
    items = select_demo_items(load_catalogue_items(bundled_catalogue()))

    assert len(items) == 784
    for item in items:
        assert check_catalogue_entry(entries[item.item_code]) == ()
        assert check_uscc(item.department_code) is None
        assert f"-{item.department_code}-" in item.item_code


# Profiles --------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, ids=lambda source: source.source_id)
def test_profile_matches_generator_tables(source: SourceFormat) -> None:
    profile = _profile(source.source_id)

    assert profile["source"]["id"] == source.source_id
    assert profile["source"]["format"] == source.file_format
    assert list(profile["fields"]) == list(FIELDS)
    assert tuple(profile["fields"].values()) == source.columns
    assert {code: name for name, code in source.statuses.items()} == profile["status"]
    assert {code: name for name, code in source.results.items()} == profile["result"]
    assert {code: name for name, code in source.id_types.items()} == profile["id_types"]
    assert source.unmapped_status not in profile["status"]


# Determinism and layout ------------------------------------------------------


def test_same_seed_gives_same_bytes(tmp_path: Path) -> None:
    report = generate_exports(tmp_path / "first", cases=SMALL_CASES, seed=11)
    generate_exports(tmp_path / "second", cases=SMALL_CASES, seed=11)

    first = _digests(tmp_path / "first")
    family_files = sum(len(source.files) for source in report.families.values())
    assert len(first) == 28 + family_files
    assert first == _digests(tmp_path / "second")


def _case_digests(directory: Path) -> dict[str, str]:
    return {
        name: digest
        for name, digest in _digests(directory).items()
        if name.split("/")[0] in SOURCE_BY_ID
    }


def test_other_seed_gives_other_files(tmp_path: Path) -> None:
    generate_exports(tmp_path / "first", cases=SMALL_CASES, seed=11)
    generate_exports(tmp_path / "second", cases=SMALL_CASES, seed=12)

    first = _case_digests(tmp_path / "first")
    second = _case_digests(tmp_path / "second")
    assert first.keys() == second.keys()
    # A small re-send file may be empty under both seeds, so only monthly files count.
    monthly = [name for name in first if "resend" not in name]
    assert all(first[name] != second[name] for name in monthly)


def test_report_lists_monthly_and_resend_files(demo: Demo) -> None:
    expected = [
        f"{source.source_id}/{month}.{source.file_format}"
        for source in SOURCES
        for month in (
            "2026-06",
            "2026-07",
            "2026-08",
            "2026-09",
            "2026-10",
            "2026-11",
            "2026-12-resend",
        )
    ]

    assert demo.report.files == expected
    for name in expected:
        assert (demo.out_dir / name).is_file()


def test_invalid_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cases must be 0 or more"):
        generate_exports(tmp_path, cases=-1)
    with pytest.raises(ValueError, match="is before start"):
        generate_exports(tmp_path, start=date(2026, 6, 2), end=date(2026, 6, 1))


# Encodings and formats -------------------------------------------------------


def test_ga_csv_is_gbk(demo: Demo) -> None:
    for path in sorted((demo.out_dir / "ga-approval").glob("2026-0*.csv")):
        data = path.read_bytes()
        assert "广安区".encode("gbk") in data or "区".encode("gbk") in data
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert data.decode("gbk").startswith("PROJID,SERVICECODE,")


def test_hall_csv_starts_with_bom(demo: Demo) -> None:
    for path in sorted((demo.out_dir / "hall-window").iterdir()):
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        data[3:].decode("utf-8")


def test_multiline_remarks_are_quoted(demo: Demo) -> None:
    remarks = [
        str(row.fields["remark"])
        for source in ("ga-approval", "hall-window")
        for row in demo.rows[source]
    ]

    assert any("\n" in remark for remark in remarks)
    assert any("," in remark for remark in remarks)


def test_xlsx_has_date_cells_and_serial_numbers(demo: Demo) -> None:
    times = [row.fields["status_time"] for row in demo.rows["scjg-xlsx"]]

    assert sum(isinstance(value, datetime) for value in times) > len(times) * 0.9
    assert any(isinstance(value, float) for value in times)


def test_jsonl_lines_carry_profile_keys(demo: Demo) -> None:
    for path in sorted((demo.out_dir / "app-push").iterdir()):
        for line in path.read_text("utf-8").splitlines():
            assert tuple(json.loads(line)) == SOURCE_BY_ID["app-push"].columns


# Flows -----------------------------------------------------------------------


def test_every_case_forms_legal_flow(demo: Demo) -> None:
    flows = _flows(demo)

    assert len(flows) == SMALL_CASES
    for key, flow in flows.items():
        statuses = [status for _, status, _ in flow]
        assert statuses[0] == "submitted", key
        seen: set[str] = set()
        for status in statuses:
            assert not seen & TERMINAL_EVENTS, key
            assert PREDECESSORS[f"case.{status}"] <= seen, key
            if "case.concluded" in seen:
                assert status == "result_delivered", key
            seen.add(f"case.{status}")


def test_status_times_increase_within_office_hours(demo: Demo) -> None:
    for key, flow in _flows(demo).items():
        moments = [moment for moment, _, _ in flow]
        assert moments == sorted(set(moments)), key
        for moment in moments:
            assert chinese_calendar.is_workday(moment.date()), key
            assert any(begin <= moment.time() < close for begin, close in OFFICE_HOURS), key


def test_results_only_on_concluded_rows(demo: Demo) -> None:
    for rows in demo.rows.values():
        for row in rows:
            result = row.fields["result"]
            has_result = result not in (None, "")
            assert has_result == (_status(row) == "concluded"), row.raw


def test_each_case_stays_in_one_source(demo: Demo) -> None:
    sources_per_number: dict[str, set[str]] = defaultdict(set)
    for rows in demo.rows.values():
        for row in rows:
            source, number = _case_key(row)
            sources_per_number[number].add(source)

    assert all(len(sources) == 1 for sources in sources_per_number.values())
    counts = Counter(source for source, _ in _flows(demo))
    assert dict(counts) == demo.report.cases_per_source


def test_department_code_is_embedded_uscc(demo: Demo) -> None:
    for rows in demo.rows.values():
        for row in rows:
            code = str(row.fields["department_code"])
            assert check_uscc(code) is None
            assert f"-{code}-" in str(row.fields["item_code"])


def test_applicant_identifiers_are_valid_unless_defective(demo: Demo) -> None:
    today = date(2026, 12, 31)
    for row in _monthly(demo):
        number = to_halfwidth(str(row.fields["applicant_id"])).upper()
        id_type = _id_type(row)
        if id_type == "id_card":
            problem = check_id_card(number, today=today)
        elif id_type == "uscc":
            problem = check_uscc(number)
        else:
            continue
        assert problem is None or problem.kind == "check", row.raw


# Report counts against file contents -----------------------------------------


def test_records_match_report(demo: Demo) -> None:
    counts = {source_id: len(rows) for source_id, rows in demo.rows.items()}

    assert counts == demo.report.records
    assert demo.report.cases == SMALL_CASES


def test_sentinel_dates_match_report(demo: Demo) -> None:
    found = [row for rows in demo.rows.values() for row in rows if row.time is None]

    assert len(found) == demo.report.defects.sentinel_date
    for row in found:
        text = str(row.fields["status_time"])
        assert text.replace("/", "-").startswith("1753-01-01"), row.raw


def test_serial_dates_match_report(demo: Demo) -> None:
    found = sum(row.serial_time for row in demo.rows["scjg-xlsx"])

    assert found == demo.report.defects.excel_serial_date
    assert found > 0


def test_header_noise_matches_report(demo: Demo) -> None:
    assert demo.header_noise == demo.report.defects.header_noise
    assert demo.header_noise >= 7


def test_unmapped_statuses_match_report(demo: Demo) -> None:
    found = [row for rows in demo.rows.values() for row in rows if _status(row) is None]

    assert len(found) == demo.report.defects.unmapped_status
    for row in found:
        assert row.fields["status"] == SOURCE_BY_ID[row.source].unmapped_status


def test_applicant_defects_match_report(demo: Demo) -> None:
    rows = _monthly(demo)
    today = date(2026, 12, 31)
    wrong_id = wrong_uscc = 0
    for row in rows:
        number = to_halfwidth(str(row.fields["applicant_id"])).upper()
        if _id_type(row) == "id_card" and check_id_card(number, today=today) is not None:
            wrong_id += 1
        if _id_type(row) == "uscc" and check_uscc(number) is not None:
            wrong_uscc += 1
    defects = demo.report.defects

    assert wrong_id == defects.id_check_char
    assert wrong_uscc == defects.uscc_check_char
    assert sum(str(row.fields["applicant_id"]).endswith("x") for row in rows) == (
        defects.lowercase_x
    )
    assert sum(row.fields["applicant_name"] in ("", None) for row in rows) == (
        defects.missing_applicant_name
    )


def test_full_width_digits_match_report(demo: Demo) -> None:
    found = 0
    for rows in demo.rows.values():
        for row in rows:
            codes = [str(row.fields[name]) for name in ("local_no", "region", "applicant_id")]
            found += any(not code.isascii() for code in codes)

    assert found == demo.report.defects.full_width_digits


def test_unknown_item_codes_match_report(demo: Demo) -> None:
    known = {item.item_code for item in load_catalogue_items(bundled_catalogue())}
    found = [
        str(row.fields["item_code"])
        for rows in demo.rows.values()
        for row in rows
        if row.fields["item_code"] not in known
    ]

    assert len(found) == demo.report.defects.unknown_item_code
    assert all(code.count("-") >= 5 for code in found)


def test_copies_match_report(demo: Demo) -> None:
    duplicates = resent = 0
    for rows in demo.rows.values():
        seen: set[tuple[object, ...]] = set()
        for index, row in enumerate(rows):
            if row.raw in seen:
                previous = rows[index - 1]
                if previous.file == row.file and previous.raw == row.raw:
                    duplicates += 1
                else:
                    resent += 1
            seen.add(row.raw)

    assert duplicates == demo.report.defects.duplicate_row
    assert resent == demo.report.defects.resent


def test_out_of_order_rows_match_report(demo: Demo) -> None:
    found = 0
    for flow in _flows(demo).values():
        positions = [row.position for _, _, row in flow]
        found += sum(1 for before, after in itertools.pairwise(positions) if after < before)

    assert found == demo.report.defects.out_of_order


def test_resend_corrects_wrong_check_chars(demo: Demo) -> None:
    monthly = {(_case_key(row), row.fields["status"], row.time): row for row in _monthly(demo)}
    corrections = [row for rows in demo.rows.values() for row in rows if "resend" in row.file]

    assert len(corrections) == demo.report.corrections
    for row in corrections:
        assert str(row.fields["version"]) in ("2", "2.0")
        original = monthly[_case_key(row), row.fields["status"], row.time]
        assert original.fields["applicant_id"] != row.fields["applicant_id"]
        assert str(original.fields["version"]) in ("1", "1.0")
        number = str(row.fields["applicant_id"])
        if _id_type(row) == "id_card":
            assert check_id_card(number, today=date(2026, 12, 31)) is None
        else:
            assert check_uscc(number) is None


# Proportions over a larger run -----------------------------------------------


def _working_days_after(first: date, last: date) -> int:
    days = (first + timedelta(days=offset) for offset in range(1, (last - first).days + 1))
    return sum(1 for day in days if chinese_calendar.is_workday(day))


def test_flow_proportions_are_realistic(medium_demo: Demo) -> None:
    flows = _flows(medium_demo)
    statuses = [{status for _, status, _ in flow} for flow in flows.values()]
    total = len(statuses)

    def share(status: str) -> float:
        return sum(status in found for found in statuses) / total

    assert 0.01 <= share("withdrawn") <= 0.035
    assert 0.03 <= share("not_accepted") <= 0.07
    assert 0.07 <= share("supplement_requested") <= 0.13
    assert 0.015 <= share("suspended") <= 0.045
    assert share("concluded") >= 0.8


def test_source_split_follows_shares(medium_demo: Demo) -> None:
    assert medium_demo.report.cases_per_source == {
        "ga-approval": 600,
        "scjg-xlsx": 500,
        "hall-window": 600,
        "app-push": 300,
    }


def test_overdue_share_matches_report(medium_demo: Demo) -> None:
    overdue = concluded = 0
    for flow in _flows(medium_demo).values():
        moments = {status: moment for moment, status, _ in flow}
        if "concluded" not in moments:
            continue
        concluded += 1
        promised = int(float(str(flow[0][2].fields["promised_days"])))
        elapsed = _working_days_after(moments["accepted"].date(), moments["concluded"].date())
        overdue += elapsed > promised
    report = medium_demo.report

    assert 0.05 <= overdue / concluded <= 0.11
    assert overdue <= report.overdue_concluded
    assert report.overdue_concluded <= overdue + report.defects.sentinel_date
    assert report.open_cases > 0


@pytest.mark.slow
def test_default_run_size(tmp_path: Path) -> None:
    report = generate_exports(tmp_path)

    assert 35_000 <= sum(report.records.values()) <= 50_000
    assert report.cases == 8000
    assert report.open_past_limit > 0
    for kind, count in msgspec.structs.asdict(report.defects).items():
        assert count > 0, kind
