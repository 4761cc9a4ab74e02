"""Generate the demo's review, hall and sharing exports beside the case exports.

Every source writes into its own folder under the export directory, named
by its source id, which is also the name of its profile in ``profiles/``:

- ``hcp-platform/`` JSON Lines per month: the provincial 好差评 push, rating
  closed cases of the public security approval system (``GA-SPXT``) online,
  by phone, SMS and self-service terminal, with the follow-up of bad reviews;
- ``hall-eval/`` GBK CSV per month: the hall evaluator, rating the window
  visits of the hall window system's cases (``DT-ZHCK``), with follow-ups;
- ``hall-queue/`` XLSX per business day: bookings, tickets, calls and
  services of the busiest five working days, whose service ends name the
  hall window system's case numbers;
- ``share-exchange/`` UTF-8 CSV with a BOM per month: the sharing catalogue,
  requests, approvals, denials, deliveries, revocations and objections.

Ratings and service ends name only cases whose exported rows carry no value
defect, so that every case they name is on the bus after the case ingest.
``DEFECT_OUTCOMES`` lists the planted defects and their outcomes. Each
source's report gives the rows written per defect and per expected outcome,
and the flows a correct ingest publishes. Each family draws from
its own generator seeded from ``seed``, so the case exports stay the same
bytes as without them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import msgspec

from bench.demo._calendar import MINUTES_PER_DAY, WorkingCalendar, months_between
from bench.demo._catalogue import DemoItem
from bench.demo._defects import noisy_header
from bench.demo._family_defects import DEFECT_OUTCOMES
from bench.demo._family_rows import FamilyLayout, FamilyRow
from bench.demo._family_sources import HALL_EVAL, HALL_QUEUE, HCP_PLATFORM, SHARE_EXCHANGE
from bench.demo._family_writers import (
    write_family_csv,
    write_family_jsonl,
    write_family_xlsx,
)
from bench.demo._flows import CaseRecord
from bench.demo._hall import build_hall_days
from bench.demo._hall_defects import HallDefects, hall_flow_counts
from bench.demo._review_defects import ReviewDefects, review_flow_counts
from bench.demo._reviews import ReviewPlanner
from bench.demo._share_defects import ShareDefects, share_flow_counts
from bench.demo._sharing import SharingBuilder, catalogue_departments
from bench.demo._visits import Visit, plan_visits
from contracts.identifiers import to_halfwidth

__all__ = ["DEFECT_OUTCOMES", "FamilySourceReport", "generate_family_exports"]

_GBK_HEADER_NOISE = ("{}\u3000", "\u3000{}", "{} ")
"""Header noise a GBK file can carry: the ideographic space, or a trailing space."""

OUTCOMES = (
    "published",
    "parked_then_published",
    "duplicate",
    "quarantined",
    "parked_then_quarantined",
)


class FamilySourceReport(msgspec.Struct, frozen=True, kw_only=True):
    """Files, rows, planted defects and expected outcomes of one review, hall or sharing source."""

    family: str
    profile: str
    """File name of the source's profile in ``bench/demo/profiles``."""
    case_system: str
    """System whose case numbers the rows name; empty for sharing."""
    files: list[str]
    """Written files, relative to the output directory, with ``/`` separators."""
    records: int
    """Data rows over all files, copies included."""
    defects: dict[str, int]
    """Rows per planted defect kind (see ``DEFECT_OUTCOMES``)."""
    header_noise: int
    """Header cells wrapped in invisible characters, over all files."""
    outcomes: dict[str, int]
    """Rows per expected ingest outcome; they add up to ``records``."""
    quarantine_reasons: dict[str, int]
    """Rows per expected quarantine reason, parked rows that expire included."""
    flows: dict[str, int]
    """Events of the source's flows that a correct ingest publishes."""


@dataclass(frozen=True, kw_only=True)
class _Context:
    """Where and for which period the family exports are written."""

    out_dir: Path
    calendar: WorkingCalendar
    start: date
    end: date
    cutoff: datetime
    saved_at: datetime


def _by_month(rows: list[FamilyRow], months: list[tuple[int, int]]) -> list[list[FamilyRow]]:
    """Sort rows by time into monthly files; rows of equal time keep their order."""
    index = {month: position for position, month in enumerate(months)}
    files: list[list[FamilyRow]] = [[] for _ in months]
    for row in sorted(rows, key=lambda row: row.time):
        files[index[row.time.year, row.time.month]].append(row)
    return files


def _number_rows(files: list[list[FamilyRow]], make_id: Callable[[FamilyRow, int], str]) -> None:
    """Give every row its source row id (流水号) in file order."""
    sequence = 0
    for rows in files:
        for row in rows:
            sequence += 1
            row.values["record_key"] = make_id(row, sequence)


def _write(
    context: _Context,
    layout: FamilyLayout,
    files: list[list[FamilyRow]],
    names: list[str],
    rng: random.Random,
) -> int:
    """Write the files of one source; return the number of noisy header cells."""
    directory = context.out_dir / layout.source_id
    directory.mkdir(parents=True, exist_ok=True)
    noise = 0
    for name, rows in zip(names, files, strict=True):
        path = directory / name
        if layout.file_format == "jsonl":
            write_family_jsonl(path, layout, rows)
            continue
        if layout.encoding == "gbk":
            header, noisy = noisy_header(rng, layout.header, _GBK_HEADER_NOISE)
        else:
            header, noisy = noisy_header(rng, layout.header)
        noise += noisy
        if layout.file_format == "xlsx":
            write_family_xlsx(path, layout, rows, header, saved_at=context.saved_at)
        else:
            write_family_csv(path, layout, rows, header)
    return noise


def _report(
    layout: FamilyLayout,
    files: list[list[FamilyRow]],
    names: list[str],
    noise: int,
    flows: dict[str, int],
) -> FamilySourceReport:
    rows = [row for file_rows in files for row in file_rows]
    defects = Counter(row.defect for row in rows if row.defect is not None)
    outcomes = Counter(dict.fromkeys(OUTCOMES, 0))
    reasons: Counter[str] = Counter()
    for row in rows:
        kind = DEFECT_OUTCOMES[row.defect] if row.defect is not None else None
        outcomes[kind.outcome if kind else "published"] += 1
        if kind is not None and kind.reason is not None:
            reasons[kind.reason] += 1
    return FamilySourceReport(
        family=layout.family,
        profile=f"{layout.source_id}.toml",
        case_system=layout.case_system,
        files=[f"{layout.source_id}/{name}" for name in names],
        records=len(rows),
        defects=dict(sorted(defects.items())),
        header_noise=noise,
        outcomes={name: outcomes[name] for name in OUTCOMES},
        quarantine_reasons=dict(sorted(reasons.items())),
        flows=flows,
    )


def _case_numbers(cases: list[CaseRecord]) -> set[str]:
    """Return every case number a source exported, written with half-width characters."""
    numbers = {row.local_no for case in cases for row in case.rows}
    return {number if number.isascii() else to_halfwidth(number) for number in numbers}


def _reviews(
    context: _Context,
    rng: random.Random,
    layout: FamilyLayout,
    ratings: Callable[[ReviewPlanner], list[FamilyRow]],
    known_numbers: set[str],
    make_id: Callable[[FamilyRow, int], str],
) -> FamilySourceReport:
    """Rate, follow up, plant defects and write one review source."""
    planner = ReviewPlanner(rng, context.calendar, context.cutoff, context.end)
    rows = ratings(planner)
    planner.ensure_bad_reviews(rows)
    bad = [row for row in rows if int(str(row.values["level"])) <= 2]
    for rating in bad:
        rows += planner.follow_up(rating)

    defects = ReviewDefects(rng, planner, layout, rows, known_numbers)
    defects.plant_rows()
    months = months_between(context.start, context.end)
    files = _by_month(rows, months)
    _number_rows(files, make_id)
    defects.plant_placement(files)

    names = [f"{year:04d}-{month:02d}.{layout.file_format}" for year, month in months]
    noise = _write(context, layout, files, names, rng)
    flows = review_flow_counts([row for file_rows in files for row in file_rows], planner)
    return _report(layout, files, names, noise, flows)


def _hall(
    context: _Context,
    rng: random.Random,
    visits: list[Visit],
    items: list[DemoItem],
    known_numbers: set[str],
) -> FamilySourceReport:
    """Build, plant defects into and write the hall queue system's daily exports."""
    working_days = [day for day in context.calendar.days if context.start <= day <= context.end]
    days = build_hall_days(rng, visits, working_days, items)
    defects = HallDefects(rng, HALL_QUEUE, days, known_numbers)
    defects.plant_rows()
    files = [sorted(rows, key=lambda row: row.time) for rows in days.values()]
    for day, rows in zip(days, files, strict=True):
        for sequence, row in enumerate(rows, start=1):
            row.values["record_key"] = f"{day:%Y%m%d}{sequence:05d}"
    defects.plant_placement(files)

    names = [f"{day:%Y-%m-%d}.xlsx" for day in days]
    noise = _write(context, HALL_QUEUE, files, names, rng)
    flows = hall_flow_counts([row for file_rows in files for row in file_rows])
    return _report(HALL_QUEUE, files, names, noise, flows)


def _sharing(context: _Context, rng: random.Random, items: list[DemoItem]) -> FamilySourceReport:
    """Build, plant defects into and write the sharing platform's monthly exports."""
    departments = catalogue_departments(rng, items)
    first = context.calendar.index_of(context.start) * MINUTES_PER_DAY
    builder = SharingBuilder(
        rng, context.calendar, departments, first, context.calendar.end_of(context.end)
    )
    builder.publish_catalogue()
    builder.change_catalogue()
    months = months_between(context.start, context.end)
    builder.add_requests(len(months))

    defects = ShareDefects(rng, SHARE_EXCHANGE, builder, departments)
    defects.plant_rows()
    files = _by_month(builder.log.rows, months)
    _number_rows(files, lambda _row, sequence: f"GX{sequence:08d}")
    defects.plant_placement(files)

    names = [f"{year:04d}-{month:02d}.csv" for year, month in months]
    noise = _write(context, SHARE_EXCHANGE, files, names, rng)
    flows = share_flow_counts([row for file_rows in files for row in file_rows])
    return _report(SHARE_EXCHANGE, files, names, noise, flows)


def generate_family_exports(
    out_dir: Path,
    *,
    seed: int,
    cases: list[CaseRecord],
    defective_cases: set[int],
    items: list[DemoItem],
    calendar: WorkingCalendar,
    start: date,
    end: date,
    saved_at: datetime,
) -> dict[str, FamilySourceReport]:
    """Write the review, hall and sharing exports under ``out_dir``; return a report per source.

    Args:
        out_dir: Directory that receives one folder per source id.
        seed: Seed from which each family's own generator is derived.
        cases: Every generated case, with its rows as exported.
        defective_cases: Indexes of cases whose rows carry a value defect;
            no review or service names them.
        items: Catalogue items the demo draws from; sharing takes its
            departments from them.
        calendar: Working days covering the export period and beyond.
        start: First day of the export period.
        end: Last day of the export period; no row is later.
        saved_at: Document date of the XLSX files.
    """
    context = _Context(
        out_dir=out_dir,
        calendar=calendar,
        start=start,
        end=end,
        cutoff=datetime.combine(end + timedelta(days=1), datetime.min.time()),
        saved_at=saved_at,
    )
    by_source: dict[str, list[CaseRecord]] = {}
    for case in cases:
        by_source.setdefault(case.source.source_id, []).append(case)
    clean = {
        source_id: [case for case in source_cases if case.index not in defective_cases]
        for source_id, source_cases in by_source.items()
    }
    ga_numbers = _case_numbers(by_source.get("ga-approval", []))
    hall_numbers = _case_numbers(by_source.get("hall-window", []))
    hall_cases = clean.get("hall-window", [])
    visits = plan_visits(random.Random(f"{seed}:visits"), hall_cases)
    hall_items = sorted(
        {case.item.item_code: case.item for case in by_source.get("hall-window", [])}.values(),
        key=lambda item: item.item_code,
    )

    return {
        HCP_PLATFORM.source_id: _reviews(
            context,
            random.Random(f"{seed}:hcp-platform"),
            HCP_PLATFORM,
            lambda planner: planner.online_ratings(clean.get("ga-approval", [])),
            ga_numbers,
            lambda row, sequence: f"PJ{row.time:%Y%m%d}{sequence:06d}",
        ),
        HALL_EVAL.source_id: _reviews(
            context,
            random.Random(f"{seed}:hall-eval"),
            HALL_EVAL,
            lambda planner: planner.window_ratings(visits),
            hall_numbers,
            lambda row, sequence: f"CKPJ{row.time:%Y%m%d}{sequence:06d}",
        ),
        HALL_QUEUE.source_id: _hall(
            context,
            random.Random(f"{seed}:hall-queue"),
            visits,
            hall_items or items[:20],
            hall_numbers,
        ),
        SHARE_EXCHANGE.source_id: _sharing(context, random.Random(f"{seed}:share"), items),
    }
