"""The demo: a province's department exports, end to end, on the embedded server.

Steps: start the server and apply the streams, import the real item
catalogue of 广安区, generate the departments' exports (four case sources,
two review sources, a hall queue system and a data-sharing exchange),
ingest each source, run the four projections until they have caught up,
and gather the figures the summary prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import msgspec

from adapters.family_profile import load_source_profile
from adapters.file_source import ingest_files
from adapters.ingest.tally import Tally
from adapters.items import import_catalogue
from adapters.summary import tally_document
from bench.demo.generate import GenerationReport, bundled_catalogue, generate_exports
from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import ensure_streams
from projections.api import case_overview, run_cases_projection
from projections.hall.api import busiest_hall_day, hall_day, run_hall_projection
from projections.hall.queries import HallDay
from projections.reviews.api import ReviewSummary, review_summary, run_reviews_projection
from projections.sharing.api import run_sharing_projection, sharing_backlog
from projections.sharing.queries import SharingBacklog
from projections.workdays import china_today

CASE_SOURCES = ("ga-approval", "scjg-xlsx", "hall-window", "app-push")
FAMILY_SOURCES = ("hcp-platform", "hall-eval", "hall-queue", "share-exchange")
"""Review, hall and sharing sources; they follow the case sources whose cases they name."""
SOURCES = CASE_SOURCES + FAMILY_SOURCES
"""Demo sources in ingest order; each has a profile and an export folder."""

StepHook = Callable[[str], None]
RecordHook = Callable[[str, int, int], None]
"""Called with a source id, the records ingested so far and the records generated for it."""


def profile_path(source_id: str) -> Path:
    return Path(str(files("bench.demo") / "profiles" / f"{source_id}.toml"))


@dataclass
class DemoResult:
    """Everything the demo summary shows."""

    generation: GenerationReport
    catalogue: Tally
    per_source: dict[str, Tally]
    totals: Tally
    cases_by_status: dict[str, int]
    cases_total: int
    overdue: int
    sample_code: str | None
    ingest_seconds: float
    projection_applied: int
    reviews: ReviewSummary
    hall: HallDay | None
    """The day of the hall with the most tickets."""
    sharing: SharingBacklog
    today: date
    """The day overdue cases and reviews were counted at."""
    streams_changed: list[str] = field(default_factory=list)

    @property
    def ingest_rate(self) -> float:
        return self.totals.read / self.ingest_seconds if self.ingest_seconds else 0.0

    def document(self) -> dict[str, Any]:
        """Return the summary as plain data; ``totals`` has the integer reconciliation counts."""
        totals = tally_document(self.totals)
        return {
            "totals": totals["totals"],
            "reconciles": self.totals.reconciles,
            "quarantined_by_reason": totals["quarantined_by_reason"],
            "released_from_earlier_runs": self.totals.released,
            "quarantine_resolved": self.totals.resolved,
            "sources": {name: tally_document(tally) for name, tally in self.per_source.items()},
            "item_catalogue": tally_document(self.catalogue)["totals"],
            "today": self.today.isoformat(),
            "cases": {
                "total": self.cases_total,
                "by_status": self.cases_by_status,
                "overdue": self.overdue,
                "sample_code": self.sample_code,
            },
            "reviews": msgspec.to_builtins(self.reviews),
            "hall": None if self.hall is None else _hall_document(self.hall),
            "sharing": msgspec.to_builtins(self.sharing),
            "generated": {
                "files": len(self.generation.files)
                + sum(len(report.files) for report in self.generation.families.values()),
                "records": self.generation.records,
                "cases": self.generation.cases,
            },
            "ingest_seconds": round(self.ingest_seconds, 2),
            "ingest_records_per_second": round(self.ingest_rate),
        }


def _hall_document(day: HallDay) -> dict[str, Any]:
    return {
        "hall": day.hall,
        "day": day.day.isoformat(),
        "bookings": day.bookings,
        "no_shows": day.no_shows,
        "no_show_rate": day.no_show_rate,
        "tickets": day.tickets,
        "served": day.served,
        "skipped": day.skipped,
        "waits": msgspec.to_builtins(day.waits),
    }


def _generated_records(generation: GenerationReport, source_id: str) -> int:
    if source_id in generation.families:
        return generation.families[source_id].records
    return generation.records.get(source_id, 0)


def _source_progress(
    source_id: str, total: int, on_records: RecordHook | None
) -> Callable[[str, int], None] | None:
    if on_records is None:
        return None
    per_file: dict[str, int] = {}

    def report(file_name: str, records_done: int) -> None:
        per_file[file_name] = records_done
        on_records(source_id, sum(per_file.values()), total)

    return report


async def _apply_streams(settings: Settings) -> list[str]:
    async with open_bus(settings, name="zwbus-demo") as (_client, js):
        return [change.stream for change in await ensure_streams(js)]


async def run_demo(
    settings: Settings,
    *,
    seed: int = 2026,
    cases: int = 8000,
    today: date | None = None,
    on_step: StepHook | None = None,
    on_records: RecordHook | None = None,
) -> DemoResult:
    """Run every step of the demo against ``settings`` and return its figures."""
    step = on_step or (lambda _name: None)

    step("streams")
    changed = await _apply_streams(settings)

    step("catalogue")
    catalogue = await import_catalogue(settings, bundled_catalogue())

    step("generate")
    exports = settings.data_dir / "demo" / "exports"
    generation = generate_exports(exports, seed=seed, cases=cases)

    per_source: dict[str, Tally] = {}
    totals = Tally()
    started = time.perf_counter()
    for source_id in SOURCES:
        step(f"ingest:{source_id}")
        tally = await ingest_files(
            settings,
            load_source_profile(profile_path(source_id)),
            [exports / source_id],
            progress=_source_progress(
                source_id, _generated_records(generation, source_id), on_records
            ),
        )
        per_source[source_id] = tally
        totals.merge(tally)
    ingest_seconds = time.perf_counter() - started

    step("project")
    summary = await run_cases_projection(settings, until_caught_up=True)
    await run_reviews_projection(settings, until_caught_up=True)
    await run_hall_projection(settings, until_caught_up=True)
    await run_sharing_projection(settings, until_caught_up=True)

    step("report")
    reference_day = demo_today(today)
    overview = await case_overview(settings, today=reference_day)
    busiest = await busiest_hall_day(settings)
    hall = None if busiest is None else await hall_day(settings, busiest.hall, busiest.day)
    return DemoResult(
        generation=generation,
        catalogue=catalogue,
        per_source=per_source,
        totals=totals,
        cases_by_status=overview.by_status,
        cases_total=overview.total,
        overdue=overview.overdue,
        sample_code=overview.sample_code,
        ingest_seconds=ingest_seconds,
        projection_applied=summary.applied,
        reviews=await review_summary(settings, reference_day),
        hall=hall,
        sharing=await sharing_backlog(settings, datetime.now(UTC)),
        today=reference_day,
        streams_changed=changed,
    )


def demo_today(today: date | None) -> date:
    """Return the day the demo counts overdue cases and reviews at: ``today``, else China's date.

    The query commands take the same default, so the demo's figures match
    ``zwbus cases list --overdue`` and ``zwbus reviews overdue`` run the same day,
    whatever the machine's time zone.
    """
    return today if today is not None else china_today()
