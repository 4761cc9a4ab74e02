"""End to end: the ingest gives the family exports the outcomes their report expects.

The case sources are ingested first, so that every rating and service end
names a case that is on the bus, then each family source. The park wait is
zero, so a record still waiting for its predecessor at the end of its run
goes to quarantine as ``missing_predecessor``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapters.family_profile import load_source_profile
from adapters.file_source import ingest_files
from adapters.items import import_catalogue
from bench.demo.generate import bundled_catalogue, generate_exports
from bench.demo.run import CASE_SOURCES, profile_path
from bus.settings import Settings

CASES = 600


@pytest.mark.slow
async def test_family_ingest_matches_report(settings: Settings, tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    report = generate_exports(exports, cases=CASES, seed=2026)
    await import_catalogue(settings, bundled_catalogue())
    for source_id in CASE_SOURCES:
        profile = load_source_profile(profile_path(source_id))
        await ingest_files(settings, profile, [exports / source_id], park_wait=timedelta(0))

    for source_id, expected in report.families.items():
        profile = load_source_profile(profile_path(source_id))
        tally = await ingest_files(settings, profile, [exports / source_id], park_wait=timedelta(0))
        outcomes = expected.outcomes

        assert tally.read == expected.records, source_id
        assert tally.reconciles, source_id
        assert tally.published == outcomes["published"] + outcomes["parked_then_published"]
        assert tally.duplicates == outcomes["duplicate"], source_id
        assert tally.quarantined == outcomes["quarantined"] + outcomes["parked_then_quarantined"]
        assert dict(tally.reasons) == expected.quarantine_reasons, source_id
        assert tally.parked == 0, source_id
        assert tally.unknown_columns == {}, source_id
