"""Tests for the demo's review, hall and sharing exports and their source profiles.

The files are read back as a department's export would be: by the profile's
column names and code tables, without the generator's own row objects, and
every planted defect is found in them again.
"""

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
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from python_calamine import CalamineWorkbook

from adapters.family_profile import FamilyProfile, load_source_profile
from bench.demo._family_rows import FamilyLayout
from bench.demo._family_sources import FAMILY_SOURCES
from bench.demo.families import DEFECT_OUTCOMES, OUTCOMES
from bench.demo.generate import GenerationReport, bundled_catalogue, generate_exports
from contracts.identifiers import to_halfwidth
from contracts.regions import is_known_region

PROFILES = bundled_catalogue().parent.parent / "profiles"
LAYOUTS = {layout.source_id: layout for layout in FAMILY_SOURCES}
HEADER_NOISE = "\ufeff\u3000\u200b "
EXCEL_EPOCH = datetime(1899, 12, 30)
CASES = 600
CASE_NUMBER_COLUMNS = {"ga-approval": ("PROJID", "gbk"), "hall-window": ("project_no", "utf-8-sig")}
PLANTED = {
    "hcp-platform": {
        "full_width_digits",
        "resent",
        "out_of_order",
        "unmapped_level",
        "unmapped_channel",
        "invalid_region",
        "missing_case",
        "second_rating",
        "follow_up_not_bad",
        "rectification_not_valid",
    },
    "hall-queue": {
        "full_width_digits",
        "excel_serial_date",
        "resent",
        "out_of_order",
        "unmapped_event",
        "unmapped_channel",
        "invalid_region",
        "missing_case",
        "checked_in_twice",
        "checked_in_after_cancel",
        "ticket_backwards",
    },
    "share-exchange": {
        "full_width_digits",
        "resent",
        "out_of_order",
        "unmapped_event",
        "unmapped_channel",
        "invalid_region",
        "not_shareable_request",
        "delivery_without_approval",
        "unknown_resource",
        "objection_without_delivery",
    },
}
PLANTED["hall-eval"] = PLANTED["hcp-platform"]


@dataclass(frozen=True)
class Record:
    """One row read back from a generated file: raw cells by contract field."""

    source: str
    file: str
    position: int
    """Position over the source's files in name order."""
    fields: dict[str, object]
    raw: tuple[object, ...]
    time: datetime
    serial_time: bool

    def text(self, name: str) -> str:
        value = self.fields.get(name)
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Exports:
    out_dir: Path
    report: GenerationReport
    records: dict[str, list[Record]]
    header_noise: dict[str, int]
    case_numbers: dict[str, set[str]]


@functools.cache
def _profile(source_id: str) -> FamilyProfile:
    profile = load_source_profile(PROFILES / f"{source_id}.toml")
    assert isinstance(profile, FamilyProfile)
    return profile


def _parse_time(layout: FamilyLayout, value: object) -> tuple[datetime, bool]:
    if isinstance(value, datetime):
        return value, False
    if isinstance(value, float):
        return EXCEL_EPOCH + timedelta(seconds=round(value * 86_400)), True
    return datetime.strptime(str(value), layout.time_format), False


def _table(path: Path, layout: FamilyLayout) -> tuple[list[str], list[tuple[object, ...]]]:
    """Read a file into its header and data rows without any normalisation."""
    if layout.file_format == "xlsx":
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        return [str(cell) for cell in sheet[0]], [tuple(row) for row in sheet[1:]]
    if layout.file_format == "jsonl":
        objects = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        return layout.header, [tuple(item.values()) for item in objects]
    text = path.read_bytes().decode(layout.encoding)
    table = list(csv.reader(io.StringIO(text, newline="")))
    return table[0], [tuple(row) for row in table[1:]]


def _read_source(out_dir: Path, layout: FamilyLayout) -> tuple[list[Record], int]:
    columns = {column: name for name, column in _profile(layout.source_id).fields.items()}
    records: list[Record] = []
    noise = 0
    for path in sorted((out_dir / layout.source_id).iterdir()):
        header, rows = _table(path, layout)
        noise += sum(cell != cell.strip(HEADER_NOISE) for cell in header)
        names = [columns[cell.strip(HEADER_NOISE)] for cell in header]
        for raw in rows:
            cells = {
                name: (None if value == "" else value)
                for name, value in zip(names, raw, strict=True)
            }
            moment, serial = _parse_time(layout, cells["event_time"])
            records.append(
                Record(layout.source_id, path.name, len(records), cells, raw, moment, serial)
            )
    return records, noise


def _case_numbers(out_dir: Path) -> dict[str, set[str]]:
    """Read the case numbers of the two case sources that reviews and services name."""
    numbers: dict[str, set[str]] = {}
    for source_id, (column, encoding) in CASE_NUMBER_COLUMNS.items():
        found: set[str] = set()
        for path in sorted((out_dir / source_id).iterdir()):
            text = path.read_bytes().decode(encoding)
            table = list(csv.reader(io.StringIO(text, newline="")))
            index = [cell.strip(HEADER_NOISE) for cell in table[0]].index(column)
            found.update(to_halfwidth(row[index]) for row in table[1:])
        numbers[source_id] = found
    return numbers


def _generate(out_dir: Path, *, cases: int, seed: int) -> Exports:
    report = generate_exports(out_dir, cases=cases, seed=seed)
    records: dict[str, list[Record]] = {}
    noise: dict[str, int] = {}
    for layout in FAMILY_SOURCES:
        records[layout.source_id], noise[layout.source_id] = _read_source(out_dir, layout)
    return Exports(out_dir, report, records, noise, _case_numbers(out_dir))


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return _generate(tmp_path_factory.mktemp("families"), cases=CASES, seed=2026)


@pytest.fixture(scope="module")
def large_exports(tmp_path_factory: pytest.TempPathFactory) -> Exports:
    return _generate(tmp_path_factory.mktemp("families-large"), cases=4000, seed=7)


def _code(record: Record, name: str) -> str | None:
    """Map a coded cell through the profile; None when the profile does not map it."""
    profile = _profile(record.source)
    value = to_halfwidth(record.text(name)).strip()
    if name == "event":
        return profile.events.get(value)
    return profile.codes[name].get(value)


def _event(record: Record) -> str | None:
    return _code(record, "event")


def _digests(directory: Path) -> dict[str, str]:
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _copies(records: list[Record]) -> set[int]:
    """Return the positions of rows identical to an earlier row of the same source."""
    seen: set[tuple[object, ...]] = set()
    copies: set[int] = set()
    for record in records:
        if record.raw in seen:
            copies.add(record.position)
        seen.add(record.raw)
    return copies


def _originals(records: list[Record]) -> list[Record]:
    copies = _copies(records)
    return [record for record in records if record.position not in copies]


# Profiles --------------------------------------------------------------------


@pytest.mark.parametrize("layout", FAMILY_SOURCES, ids=lambda layout: layout.source_id)
def test_profile_loads_and_matches_layout(layout: FamilyLayout) -> None:
    profile = _profile(layout.source_id)

    assert profile.source.id == layout.source_id
    assert profile.source.system == layout.system
    assert profile.family == layout.family
    assert profile.source.format == layout.file_format
    assert profile.source.case_system == layout.case_system
    assert profile.fields == dict(layout.columns)
    assert profile.events == layout.events
    assert profile.codes == layout.codes


@pytest.mark.parametrize("layout", FAMILY_SOURCES, ids=lambda layout: layout.source_id)
def test_profile_leaves_planted_codes_unmapped(layout: FamilyLayout) -> None:
    profile = _profile(layout.source_id)

    assert layout.unmapped
    for name, code in layout.unmapped.items():
        table = profile.events if name == "event" else profile.codes[name]
        assert code not in table


@pytest.mark.parametrize("layout", FAMILY_SOURCES, ids=lambda layout: layout.source_id)
def test_case_system_is_a_case_profile_system(layout: FamilyLayout) -> None:
    systems = {}
    for path in PROFILES.glob("*.toml"):
        with path.open("rb") as stream:
            source = tomllib.load(stream)["source"]
        if source["family"] == "case":
            systems[source["system"]] = source["id"]

    if layout.family == "share":
        assert layout.case_system == ""
    else:
        assert systems[layout.case_system] in CASE_NUMBER_COLUMNS


# Determinism and layout ------------------------------------------------------


def test_same_seed_gives_same_family_bytes(tmp_path: Path) -> None:
    first = generate_exports(tmp_path / "first", cases=200, seed=11)
    second = generate_exports(tmp_path / "second", cases=200, seed=11)

    assert first.families == second.families
    for layout in FAMILY_SOURCES:
        digests = _digests(tmp_path / "first" / layout.source_id)
        assert digests
        assert digests == _digests(tmp_path / "second" / layout.source_id)


def test_other_seed_gives_other_family_files(tmp_path: Path) -> None:
    generate_exports(tmp_path / "first", cases=200, seed=11)
    generate_exports(tmp_path / "second", cases=200, seed=12)

    for layout in FAMILY_SOURCES:
        first = _digests(tmp_path / "first" / layout.source_id)
        second = _digests(tmp_path / "second" / layout.source_id)
        assert set(first.values()).isdisjoint(second.values())


def test_report_lists_written_files(exports: Exports) -> None:
    for source_id, report in exports.report.families.items():
        written = sorted(
            path.relative_to(exports.out_dir).as_posix()
            for path in (exports.out_dir / source_id).iterdir()
        )
        assert report.files == written
        assert report.profile == f"{source_id}.toml"
        assert (PROFILES / report.profile).is_file()


def test_monthly_sources_cover_export_months(exports: Exports) -> None:
    months = ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]

    for source_id in ("hcp-platform", "hall-eval", "share-exchange"):
        stems = [Path(name).stem for name in exports.report.families[source_id].files]
        misplaced = [
            record
            for record in _originals(exports.records[source_id])
            if not record.file.startswith(f"{record.time:%Y-%m}")
        ]
        assert stems == months
        # Only a row moved before its predecessor may sit in an earlier month's file.
        assert len(misplaced) <= exports.report.families[source_id].defects["out_of_order"]


def test_hall_files_are_consecutive_working_days(exports: Exports) -> None:
    days = [
        date.fromisoformat(Path(name).stem) for name in exports.report.families["hall-queue"].files
    ]

    assert len(days) == 5
    for first, second in itertools.pairwise(days):
        between = [first + timedelta(days=offset) for offset in range(1, (second - first).days)]
        assert not any(chinese_calendar.is_workday(day) for day in between)
    assert all(chinese_calendar.is_workday(day) for day in days)


# Encodings and formats -------------------------------------------------------


def test_hall_evaluator_csv_is_gbk(exports: Exports) -> None:
    for path in sorted((exports.out_dir / "hall-eval").iterdir()):
        data = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert b"\r\n" in data
        data.decode("gbk")


def test_sharing_csv_starts_with_bom(exports: Exports) -> None:
    for path in sorted((exports.out_dir / "share-exchange").iterdir()):
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_jsonl_lines_carry_layout_keys(exports: Exports) -> None:
    for path in sorted((exports.out_dir / "hcp-platform").iterdir()):
        for line in path.read_text("utf-8").splitlines():
            assert list(json.loads(line)) == LAYOUTS["hcp-platform"].header


def test_header_noise_matches_report(exports: Exports) -> None:
    for source_id, report in exports.report.families.items():
        assert exports.header_noise[source_id] == report.header_noise
    assert exports.header_noise["hall-eval"] > 0
    assert exports.header_noise["hall-queue"] > 0
    assert exports.header_noise["share-exchange"] > 0


# Report counts against file contents -----------------------------------------


def test_records_match_report(exports: Exports) -> None:
    for source_id, records in exports.records.items():
        report = exports.report.families[source_id]
        assert len(records) == report.records
        assert sum(report.outcomes.values()) == report.records
        assert set(report.outcomes) == set(OUTCOMES)


@pytest.mark.parametrize("source_id", sorted(PLANTED))
def test_every_defect_kind_is_planted(exports: Exports, source_id: str) -> None:
    report = exports.report.families[source_id]

    assert set(report.defects) == PLANTED[source_id]
    assert all(count > 0 for count in report.defects.values())
    assert set(report.defects) <= set(DEFECT_OUTCOMES)


def test_expected_outcomes_follow_defects(exports: Exports) -> None:
    for report in exports.report.families.values():
        expected: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for kind, count in report.defects.items():
            expected[DEFECT_OUTCOMES[kind].outcome] += count
            if DEFECT_OUTCOMES[kind].reason:
                reasons[str(DEFECT_OUTCOMES[kind].reason)] += count
        expected["published"] += report.records - sum(report.defects.values())

        assert {name: count for name, count in report.outcomes.items() if count} == dict(expected)
        assert report.quarantine_reasons == dict(reasons)


def test_copies_match_report(exports: Exports) -> None:
    for source_id, records in exports.records.items():
        assert len(_copies(records)) == exports.report.families[source_id].defects["resent"]


def test_unmapped_codes_match_report(exports: Exports) -> None:
    for source_id, records in exports.records.items():
        layout = LAYOUTS[source_id]
        defects = exports.report.families[source_id].defects
        for name, code in layout.unmapped.items():
            found = [
                record
                for record in _originals(records)
                if record.text(name) and _code(record, name) is None
            ]
            assert len(found) == defects[f"unmapped_{name}"], (source_id, name)
            assert {record.text(name) for record in found} == {code}


def test_invalid_regions_match_report(exports: Exports) -> None:
    for source_id, records in exports.records.items():
        found = [
            record
            for record in _originals(records)
            if not is_known_region(to_halfwidth(record.text("region")))
        ]
        assert len(found) == exports.report.families[source_id].defects["invalid_region"]


def test_full_width_digits_match_report(exports: Exports) -> None:
    for source_id, records in exports.records.items():
        found = [
            record
            for record in _originals(records)
            if any(
                not record.text(name).isascii()
                for name in ("local_no", "region", "department_code")
            )
        ]
        assert len(found) == exports.report.families[source_id].defects["full_width_digits"]


def test_serial_dates_match_report(exports: Exports) -> None:
    found = [record for record in _originals(exports.records["hall-queue"]) if record.serial_time]

    assert len(found) == exports.report.families["hall-queue"].defects["excel_serial_date"]


# Reviews ---------------------------------------------------------------------


def _review_key(record: Record) -> tuple[str, str | None, str]:
    return to_halfwidth(record.text("local_no")), _code(record, "channel"), record.text("rater")


def _ratings(records: list[Record]) -> list[Record]:
    return [record for record in _originals(records) if _event(record) == "rated"]


@pytest.mark.parametrize(
    ("source_id", "case_source"), [("hcp-platform", "ga-approval"), ("hall-eval", "hall-window")]
)
def test_reviews_name_exported_cases(exports: Exports, source_id: str, case_source: str) -> None:
    """Every review names a case its case system exported, except the planted missing ones."""
    numbers = exports.case_numbers[case_source]
    records = _originals(exports.records[source_id])
    missing = [record for record in records if to_halfwidth(record.text("local_no")) not in numbers]

    assert len(missing) == exports.report.families[source_id].defects["missing_case"]
    assert all(_event(record) == "rated" for record in missing)
    assert len(missing) < len(records)


@pytest.mark.parametrize("source_id", ["hcp-platform", "hall-eval"])
def test_second_ratings_match_report(exports: Exports, source_id: str) -> None:
    seen: set[tuple[str, str | None, str]] = set()
    second = 0
    for record in _ratings(exports.records[source_id]):
        key = _review_key(record)
        second += key in seen
        seen.add(key)

    assert second == exports.report.families[source_id].defects["second_rating"]


def _chains(records: list[Record]) -> dict[tuple[str, str | None, str], list[Record]]:
    chains: dict[tuple[str, str | None, str], list[Record]] = defaultdict(list)
    for record in _originals(records):
        chains[_review_key(record)].append(record)
    return chains


@pytest.mark.parametrize("source_id", ["hcp-platform", "hall-eval"])
def test_follow_up_defects_match_report(exports: Exports, source_id: str) -> None:
    defects = exports.report.families[source_id].defects
    not_bad = not_valid = early = 0
    for chain in _chains(exports.records[source_id]).values():
        ratings = [record for record in chain if _event(record) == "rated"]
        verification = next((r for r in chain if _event(r) == "verified"), None)
        if verification is None:
            continue
        rating = ratings[0]
        early += verification.position < rating.position
        not_bad += int(_code(rating, "level") or 0) >= 3
        valid = verification.text("valid") in ("1", "是")
        not_valid += not valid and any(_event(r) == "rectification_assigned" for r in chain)

    assert not_bad == defects["follow_up_not_bad"]
    assert not_valid == defects["rectification_not_valid"]
    assert early == defects["out_of_order"]


@pytest.mark.parametrize("source_id", ["hcp-platform", "hall-eval"])
def test_follow_ups_run_in_order(exports: Exports, source_id: str) -> None:
    order = ["rated", "verified", "rectification_assigned", "rectified", "revisited"]
    for chain in _chains(exports.records[source_id]).values():
        events = [_event(record) for record in sorted(chain, key=lambda r: r.time)]
        if "verified" not in events:
            continue
        ranks = [order.index(str(event)) for event in events[1:]]
        assert events[0] == "rated"
        assert ranks == sorted(ranks)


def test_rating_levels_skew_to_five(large_exports: Exports) -> None:
    for source_id in ("hcp-platform", "hall-eval"):
        levels = Counter(
            _code(record, "level") for record in _ratings(large_exports.records[source_id])
        )
        total = sum(levels.values())
        assert {"1", "2", "3", "4", "5"} <= set(levels)
        assert levels["5"] / total > 0.75
        assert (levels["1"] + levels["2"]) / total < 0.08


def test_ratings_cover_every_channel(large_exports: Exports) -> None:
    channels = {
        source_id: {_code(record, "channel") for record in _ratings(records)}
        for source_id, records in large_exports.records.items()
        if LAYOUTS[source_id].family == "review"
    }

    assert channels["hcp-platform"] >= {"web", "mobile", "terminal", "phone", "sms"}
    assert channels["hall-eval"] >= {"window", "terminal"}


def test_default_ratings_are_level_five(large_exports: Exports) -> None:
    for source_id in ("hcp-platform", "hall-eval"):
        defaults = [
            record
            for record in _ratings(large_exports.records[source_id])
            if record.text("is_default") in ("1", "是")
        ]
        levels = {_code(record, "level") for record in defaults}
        assert defaults
        # A planted unmapped level code may fall on a default rating too.
        assert levels - {None} == {"5"}


def test_bad_reviews_are_followed_up_and_some_late(large_exports: Exports) -> None:
    for source_id in ("hcp-platform", "hall-eval"):
        flows = large_exports.report.families[source_id].flows
        assert flows["bad_reviews"] > 0
        assert flows["verified"] > flows["not_genuine"] > 0
        assert flows["rectification_assigned"] >= flows["rectified"] >= flows["revisited"] > 0
        assert flows["callback_late"] > 0
        assert flows["rectification_late"] > 0
        assert sum(flows[f"level_{level}"] for level in range(1, 6)) == flows["rated"]


def test_window_ratings_name_the_queue_window(exports: Exports) -> None:
    """The evaluator and the queue system name the same hall and window for a case."""
    services = {
        to_halfwidth(record.text("local_no")): (record.text("hall"), record.text("window"))
        for record in _originals(exports.records["hall-queue"])
        if _event(record) == "service_ended" and record.text("local_no")
    }
    matched = 0
    for record in _ratings(exports.records["hall-eval"]):
        number = to_halfwidth(record.text("local_no"))
        if _code(record, "channel") == "window" and number in services:
            assert services[number] == (record.text("hall"), record.text("window"))
            matched += 1

    assert matched > 0


# Hall ------------------------------------------------------------------------


def _hall(exports: Exports) -> list[Record]:
    return _originals(exports.records["hall-queue"])


def test_service_ends_name_hall_window_cases(exports: Exports) -> None:
    numbers = exports.case_numbers["hall-window"]
    ends = [record for record in _hall(exports) if _event(record) == "service_ended"]
    with_case = [record for record in ends if record.text("local_no")]
    missing = [r for r in with_case if to_halfwidth(r.text("local_no")) not in numbers]

    assert len(missing) == exports.report.families["hall-queue"].defects["missing_case"]
    assert len(with_case) > len(missing)
    assert len(ends) > len(with_case)


def test_hall_defects_match_report(exports: Exports) -> None:
    defects = exports.report.families["hall-queue"].defects
    check_ins: Counter[str] = Counter()
    cancelled: set[str] = set()
    after_cancel = backwards = early_calls = 0
    started: set[str] = set()
    issued: dict[str, int] = {}
    for record in sorted(_hall(exports), key=lambda r: r.time):
        event, booking, ticket = _event(record), record.text("booking_id"), record.text("ticket_id")
        if event == "booking_cancelled":
            cancelled.add(booking)
        elif event == "booking_checked_in":
            check_ins[booking] += 1
            after_cancel += booking in cancelled
        elif event == "ticket_issued":
            issued[ticket] = record.position
        elif event == "service_started":
            started.add(ticket)
        elif event == "ticket_called":
            backwards += ticket in started
    for record in _hall(exports):
        if _event(record) == "ticket_called" and record.text("ticket_id") in issued:
            early_calls += record.position < issued[record.text("ticket_id")]

    assert sum(count - 1 for count in check_ins.values()) == defects["checked_in_twice"]
    assert after_cancel == defects["checked_in_after_cancel"]
    assert backwards == defects["ticket_backwards"]
    assert early_calls == defects["out_of_order"]


def test_hall_traffic_has_every_kind_of_visit(exports: Exports) -> None:
    records = _hall(exports)
    events = Counter(_event(record) for record in records)
    channels = Counter(_code(record, "channel") for record in records if record.text("channel"))
    halls = {record.text("hall") for record in records}

    assert len(halls) == 2
    for event in (
        "booking_created",
        "booking_cancelled",
        "booking_checked_in",
        "ticket_issued",
        "ticket_called",
        "ticket_recalled",
        "ticket_skipped",
        "service_started",
        "service_ended",
    ):
        assert events[event] > 0, event
    assert {"online", "phone", "kiosk", "mobile", "booking"} <= set(channels)


def test_ticket_numbers_follow_issue_order(exports: Exports) -> None:
    for name in exports.report.families["hall-queue"].files:
        issued = sorted(
            (
                record
                for record in _hall(exports)
                if record.file == Path(name).name
                and _event(record) == "ticket_issued"
                and _code(record, "channel") is not None
            ),
            key=lambda record: record.time,
        )
        numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
        for record in issued:
            ticket_no = record.text("ticket_no")
            numbers[record.text("hall"), ticket_no[0]].append(int(ticket_no[1:]))
        for sequence in numbers.values():
            assert sequence == list(range(1, len(sequence) + 1))


def test_booked_tickets_follow_their_check_in(exports: Exports) -> None:
    checked_in: dict[str, datetime] = {}
    for record in sorted(_hall(exports), key=lambda record: record.time):
        if _event(record) == "booking_checked_in":
            checked_in.setdefault(record.text("booking_id"), record.time)
    booked = [
        record
        for record in _hall(exports)
        if _event(record) == "ticket_issued" and record.text("booking_id")
    ]

    assert booked
    for record in booked:
        assert checked_in[record.text("booking_id")] <= record.time


# Sharing ---------------------------------------------------------------------


def _sharing(exports: Exports) -> list[Record]:
    return _originals(exports.records["share-exchange"])


def test_sharing_defects_match_report(exports: Exports) -> None:
    defects = exports.report.families["share-exchange"].defects
    records = sorted(_sharing(exports), key=lambda record: record.time)
    share_types = {
        record.text("resource_code"): _code(record, "share_type")
        for record in records
        if _event(record) == "resource_published"
    }
    delivered = {r.text("resource_code") for r in records if _event(r) == "request_delivered"}
    approved: set[str] = set()
    submitted: dict[str, str] = {}
    not_shareable = unknown = without_approval = undelivered = 0
    for record in records:
        event, resource, request = (
            _event(record),
            record.text("resource_code"),
            record.text("request_id"),
        )
        if event == "request_submitted":
            submitted[request] = resource
            not_shareable += share_types.get(resource) == "none"
            unknown += resource not in share_types
        elif event == "request_approved":
            approved.add(request)
        elif event == "request_delivered" and request not in approved:
            without_approval += share_types.get(submitted[request]) == "conditional"
        elif event == "objection_raised":
            undelivered += resource not in delivered

    assert not_shareable == defects["not_shareable_request"]
    assert unknown == defects["unknown_resource"]
    assert without_approval == defects["delivery_without_approval"]
    assert undelivered == defects["objection_without_delivery"]


def test_sharing_flows_are_complete(exports: Exports) -> None:
    records = _sharing(exports)
    events = Counter(_event(record) for record in records)
    providers = {
        record.text("provider"): _code(record, "share_type")
        for record in records
        if _event(record) == "resource_published"
    }
    denials = [record for record in records if _event(record) == "request_denied"]
    deliveries = {_code(r, "channel") for r in records if _event(r) == "request_delivered"}

    assert len(providers) >= 3
    assert set(providers.values()) == {"unconditional", "conditional", "none"}
    assert denials
    assert all(record.text("reason") for record in denials)
    assert {"api", "file"} <= deliveries
    for event in ("request_approved", "request_revoked", "objection_raised", "objection_resolved"):
        assert events[event] > 0, event


def test_requesters_are_not_providers(exports: Exports) -> None:
    providers = {
        record.text("resource_code"): record.text("provider")
        for record in _sharing(exports)
        if _event(record) == "resource_published"
    }
    for record in _sharing(exports):
        if _event(record) == "request_submitted" and record.text("resource_code") in providers:
            assert record.text("requester") != providers[record.text("resource_code")]
