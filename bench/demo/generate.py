"""Generate the demo's department exports for 广安区 (511602) from a fixed seed.

Four sources export the status rows of their cases (办件) as monthly files:

- ``ga-approval/`` GBK CSV of the public security approval system,
- ``scjg-xlsx/`` XLSX of the market regulation registration system,
- ``hall-window/`` UTF-8 CSV with a BOM from the hall's windows,
- ``app-push/`` JSON Lines pushed by the mobile app.

Each source also gets a late ``<YYYY-MM>-resend`` file, dated the month after
``end``, with corrected rows (data version 2) for about half of the rows whose
identifiers had a wrong check character. Defects are injected at rates of
about 1-3 % and counted in the report. The same seed and arguments give
byte-identical files.

Beside them, ``bench.demo.families`` writes four more sources that name
these cases: the provincial 好差评 push (``hcp-platform/``), the hall
evaluator (``hall-eval/``), the hall's queue system (``hall-queue/``) and
the data sharing platform (``share-exchange/``). Their files, planted
defects and expected outcomes are in ``GenerationReport.families``.

Example::

    report = generate_exports(Path("demo-data"), cases=2000)
    print(report.records, report.defects)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import msgspec

from bench.demo._calendar import WorkingCalendar, months_between
from bench.demo._cases import build_cases, split_cases
from bench.demo._catalogue import CatalogueItem, load_catalogue_items, select_demo_items
from bench.demo._defects import (
    CaseDefects,
    DefectCounts,
    PlacementDefects,
    mark_serial_dates,
    noisy_header,
)
from bench.demo._flows import CaseRecord, StatusRow
from bench.demo._sources import SOURCES, SourceFormat
from bench.demo._writers import write_csv, write_jsonl, write_xlsx
from bench.demo.families import FamilySourceReport, generate_family_exports

__all__ = [
    "CatalogueItem",
    "DefectCounts",
    "FamilySourceReport",
    "GenerationReport",
    "bundled_catalogue",
    "generate_exports",
    "load_catalogue_items",
]

_CALENDAR_MARGIN = timedelta(days=400)
"""Flows are planned past ``end`` before the cut; overdue ones need about 70 working days."""


class GenerationReport(msgspec.Struct, frozen=True, kw_only=True):
    """Summary of one ``generate_exports`` run: files, row counts and injected defects."""

    files: list[str]
    """Written files, relative to the output directory, with ``/`` separators."""
    records: dict[str, int]
    """Data rows per source id over all its files, copies and corrections included."""
    cases: int
    cases_per_source: dict[str, int]
    defects: DefectCounts
    corrections: int
    """Rows in the re-send files that fix a wrong check character."""
    overdue_concluded: int
    """Cases concluded after their promised limit (working days after the acceptance day)."""
    open_cases: int
    """Cases neither concluded, rejected nor withdrawn at the end of ``end``."""
    open_past_limit: int
    """Open accepted cases whose promised limit had already passed at the end of ``end``."""
    families: dict[str, FamilySourceReport]
    """Review, hall and sharing sources by source id; their files are not in ``files``."""


def bundled_catalogue() -> Path:
    """Return the path of the bundled 广安区 item catalogue."""
    return Path(__file__).parent / "data" / "items-511602-raw.json"


def _file_name(year: int, month: int, suffix: str, extension: str) -> str:
    return f"{year:04d}-{month:02d}{suffix}.{extension}"


@dataclass(slots=True)
class _SourceFiles:
    """One source's rows per monthly file, and its re-send rows."""

    monthly: list[list[StatusRow]]
    resend: list[StatusRow]
    header_noise: int = 0


def _arrange(
    rng: random.Random,
    source: SourceFormat,
    cases: list[CaseRecord],
    months: list[tuple[int, int]],
    defects: CaseDefects,
) -> tuple[_SourceFiles, PlacementDefects]:
    """Sort a source's rows into monthly files and apply the placement defects."""
    month_index = {month: index for index, month in enumerate(months)}
    rows = sorted(
        (row for case in cases for row in case.rows),
        key=lambda row: (row.moment, row.case_index),
    )
    monthly: list[list[StatusRow]] = [[] for _ in months]
    for row in rows:
        monthly[month_index[row.status_time.year, row.status_time.month]].append(row)

    if source.file_format == "xlsx":
        mark_serial_dates(rng, monthly)

    placement = PlacementDefects(rng, monthly)
    for case in cases:
        if case.index not in defects.defective_cases:
            placement.apply(case)

    case_indexes = {case.index for case in cases}
    resend = sorted(
        (row for row in defects.corrections if row.case_index in case_indexes),
        key=lambda row: (row.moment, row.case_index),
    )
    return _SourceFiles(monthly=monthly, resend=resend), placement


def _write_source(
    rng: random.Random,
    directory: Path,
    source: SourceFormat,
    files: _SourceFiles,
    names: list[str],
    saved_at: datetime,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in zip(names, [*files.monthly, files.resend], strict=True):
        path = directory / name
        if source.file_format == "xlsx":
            write_xlsx(path, source, rows, saved_at=saved_at)
        elif source.file_format == "jsonl":
            write_jsonl(path, source, rows)
        elif source.source_id == "hall-window":
            header, noisy = noisy_header(rng, source.columns)
            files.header_noise += noisy
            write_csv(path, source, rows, header)
        else:
            write_csv(path, source, rows, source.columns)


def generate_exports(
    out_dir: Path,
    *,
    seed: int = 2026,
    cases: int = 8000,
    start: date = date(2026, 6, 1),
    end: date = date(2026, 11, 30),
    catalogue: Path | None = None,
) -> GenerationReport:
    """Write the four case sources' exports and re-send files, then the family sources'.

    Cases are submitted on working days from ``start`` to ``end`` and cut at
    the end of ``end``, so late cases are still open. The review, hall and
    sharing sources follow, each from its own generator derived from
    ``seed``. Existing files with the same names are overwritten and other
    files are left alone.

    Args:
        out_dir: Directory that receives one folder per source id.
        seed: Seed of the case generator; the family sources derive theirs from it.
        cases: Number of cases over all sources.
        start: First submission day.
        end: Last day of the export; rows after it are not written.
        catalogue: Raw catalogue JSON; the bundled 广安区 catalogue by default.

    Raises:
        ValueError: ``cases`` is negative, ``end`` is before ``start``, or the
            catalogue has no usable item.
    """
    if cases < 0:
        message = f"cases must be 0 or more, got {cases}"
        raise ValueError(message)
    if end < start:
        message = f"end {end} is before start {start}"
        raise ValueError(message)

    rng = random.Random(seed)
    catalogue_items = load_catalogue_items(catalogue or bundled_catalogue())
    demo_items = select_demo_items(catalogue_items)
    calendar = WorkingCalendar(start, end + _CALENDAR_MARGIN)
    case_records, stats = build_cases(rng, calendar, demo_items, cases=cases, start=start, end=end)

    case_defects = CaseDefects(
        rng, calendar, {item.item_code for item in catalogue_items}, calendar.end_of(end)
    )
    for case in case_records:
        case_defects.apply(case)

    months = months_between(start, end)
    after_end = months_between(end, end + timedelta(days=31))[-1]
    saved_at = datetime.combine(end + timedelta(days=1), time(0, 0))
    counts = case_defects.counts.copy()
    written: list[str] = []
    records: dict[str, int] = {}

    for source in SOURCES:
        source_cases = [case for case in case_records if case.source is source]
        files, placement = _arrange(rng, source, source_cases, months, case_defects)
        extension = source.file_format
        names = [_file_name(*month, "", extension) for month in months]
        names.append(_file_name(*after_end, "-resend", extension))

        _write_source(rng, out_dir / source.source_id, source, files, names, saved_at)

        all_rows = [row for rows in files.monthly for row in rows] + files.resend
        counts.update(placement.counts)
        counts["excel_serial_date"] += sum(row.serial_time for row in all_rows)
        counts["header_noise"] += files.header_noise
        records[source.source_id] = len(all_rows)
        written += [f"{source.source_id}/{name}" for name in names]

    families = generate_family_exports(
        out_dir,
        seed=seed,
        cases=case_records,
        defective_cases=case_defects.defective_cases,
        items=demo_items,
        calendar=calendar,
        start=start,
        end=end,
        saved_at=saved_at,
    )

    return GenerationReport(
        files=written,
        records=records,
        cases=len(case_records),
        cases_per_source=split_cases(cases),
        defects=DefectCounts(**counts),
        corrections=len(case_defects.corrections),
        overdue_concluded=stats.overdue_concluded,
        open_cases=stats.open_cases,
        open_past_limit=stats.open_past_limit,
        families=families,
    )
