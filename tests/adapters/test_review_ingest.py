"""Tests of the review (好差评) ingestion path against a real nats-server.

Cases are ingested with the case test profile; reviews name them by the
local case number of the case test system, or by their unified code.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.family_profile import FamilyProfile, load_source_profile
from adapters.file_source import ingest_files
from adapters.ingest.family_resolve import review_id_for
from adapters.ingest.tally import Tally
from adapters.items import import_catalogue
from adapters.profile import Profile, load_profile
from adapters.quarantine_view import fold_quarantine
from bus.connect import open_bus
from bus.reader import read_stream
from bus.settings import Settings
from bus.streams import CASES, PARKED, REVIEWS
from contracts.envelope import Envelope, decode_event
from contracts.review import ReviewRated
from tests.adapters.family_helpers import (
    RATER,
    REVIEW_PROFILE,
    REVIEW_SOURCE,
    review_row,
    write_rows,
    write_text,
)
from tests.adapters.helpers import case_row, write_csv, write_item_catalogue, write_profile

Bus = tuple[Client, JetStreamContext]


@pytest.fixture
def reviews(tmp_path: Path) -> FamilyProfile:
    profile = load_source_profile(write_text(tmp_path / "review.toml", REVIEW_PROFILE))
    assert isinstance(profile, FamilyProfile)
    return profile


@pytest.fixture
def cases(tmp_path: Path) -> Profile:
    return load_profile(write_profile(tmp_path / "case.toml"))


@pytest.fixture
async def catalogued(settings: Settings, tmp_path: Path, bus: Bus) -> Settings:
    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    return settings


async def _ingest_case(settings: Settings, cases: Profile, path: Path, local_no: str) -> str:
    """Ingest a submitted case and return its unified code."""
    rows = [case_row(local_no, "submitted", "2024-03-01 09:00:00")]
    await ingest_files(settings, cases, [write_csv(path, rows)])
    return await _case_code(settings, local_no)


async def _case_code(settings: Settings, local_no: str) -> str:
    async with open_bus(settings) as (_client, js):
        async for message in read_stream(js, CASES):
            event = decode_event(message.data)
            if getattr(event.payload, "local_no", None) == local_no:
                return event.key
    raise AssertionError(f"case {local_no} is not on the bus")


async def _reviews(js: JetStreamContext) -> list[tuple[str, Envelope]]:
    return [
        (message.subject, decode_event(message.data)) async for message in read_stream(js, REVIEWS)
    ]


async def _parked_keys(js: JetStreamContext) -> list[str]:
    bucket = await js.key_value(PARKED)
    try:
        return [key for key in await bucket.keys() if key.startswith("review.")]
    except nats.js.errors.NoKeysError:
        return []


def _assert_reconciles(tally: Tally) -> None:
    assert tally.reconciles, tally
    assert tally.read == tally.published + tally.duplicates + tally.quarantined + tally.parked


# Rated case on the bus -------------------------------------------------------


async def test_rating_of_known_case_published(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    code = await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C1")
    path = write_rows(tmp_path / "r.csv", [review_row("C1", "rated", "2024-03-02 10:00:00")])

    tally = await ingest_files(catalogued, reviews, [path])
    ((subject, event),) = await _reviews(js)

    _assert_reconciles(tally)
    assert tally.published == 1
    review_id = review_id_for(code, "web", RATER)
    assert event.key == review_id
    assert subject == f"zw.review.51.16.02.{review_id}"
    assert event.correlation_id == code
    assert event.source.adapter == REVIEW_SOURCE
    assert isinstance(event.payload, ReviewRated)
    assert event.payload.case_code == code
    assert event.payload.local_no == "C1"
    assert event.payload.level == 1
    assert event.payload.reason_tags == ("510", "511")
    assert event.payload.is_default is False


async def test_rating_by_unified_code_published(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    code = await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C2")
    row = review_row("", "rated", "2024-03-02 10:00:00", code=code)

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", [row])])
    ((_subject, event),) = await _reviews(js)

    assert tally.published == 1
    assert event.correlation_id == code


async def test_rating_parked_until_case_arrives(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    """A rating read before its case waits; the next run of the review source publishes it."""
    _client, js = bus
    path = write_rows(tmp_path / "r.csv", [review_row("C3", "rated", "2024-03-02 10:00:00")])
    first = await ingest_files(catalogued, reviews, [path])

    assert first.parked == 1
    assert len(await _parked_keys(js)) == 1
    assert await _reviews(js) == []

    code = await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C3")
    second = await ingest_files(catalogued, reviews, [])
    ((_subject, event),) = await _reviews(js)

    _assert_reconciles(first)
    _assert_reconciles(second)
    assert second.read == 0
    assert second.released == 1
    assert event.correlation_id == code
    assert await _parked_keys(js) == []


async def test_parked_rating_released_beside_new_file(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    """Across two runs: the run that reads the next file also releases the earlier rating."""
    _client, js = bus
    await ingest_files(
        catalogued,
        reviews,
        [write_rows(tmp_path / "r1.csv", [review_row("C4", "rated", "2024-03-02 10:00:00")])],
    )
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C4")
    later = [review_row("C4", "verified", "2024-03-03 10:00:00")]

    second = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r2.csv", later)])

    _assert_reconciles(second)
    assert second.released == 1
    assert second.published == 1
    assert [event.type for _, event in await _reviews(js)] == ["review.rated", "review.verified"]


async def test_rating_of_missing_case_expires(
    catalogued: Settings, reviews: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    path = write_rows(tmp_path / "r.csv", [review_row("C5", "rated", "2024-03-02 10:00:00")])

    tally = await ingest_files(catalogued, reviews, [path], park_wait=timedelta(0))
    states = await fold_quarantine(js, source_id=REVIEW_SOURCE)

    _assert_reconciles(tally)
    assert tally.quarantined == 1
    assert tally.reasons == Counter({"missing_predecessor": 1})
    assert [[r.code for r in state.entry.reasons] for state in states.values()] == [
        ["missing_predecessor"]
    ]
    assert await _parked_keys(js) == []


# One rating per case, channel and rater ---------------------------------------


async def test_second_rating_is_duplicate(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C6")
    rows = [
        review_row("C6", "rated", "2024-03-02 10:00:00", level="1"),
        review_row("C6", "rated", "2024-03-02 11:00:00", level="5"),
        review_row("C6", "rated", "2024-03-02 12:00:00", channel="2"),
    ]

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", rows)])
    channels = sorted(
        event.payload.channel
        for _, event in await _reviews(js)
        if isinstance(event.payload, ReviewRated)
    )

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.duplicates == 1
    assert channels == ["mobile", "web"]


async def test_rating_from_other_system_is_duplicate(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    """The same rater rating the same case on the same channel through another system."""
    _client, js = bus
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C7")
    rated = [review_row("C7", "rated", "2024-03-02 10:00:00")]
    await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r1.csv", rated)])
    other_text = REVIEW_PROFILE.replace('id = "review-source"', 'id = "review-other"').replace(
        'system = "TEST-HCP"', 'system = "TEST-HCP2"'
    )
    other = load_source_profile(write_text(tmp_path / "other.toml", other_text))
    again = [review_row("C7", "rated", "2024-03-05 10:00:00", level="3")]

    tally = await ingest_files(catalogued, other, [write_rows(tmp_path / "r2.csv", again)])

    _assert_reconciles(tally)
    assert tally.duplicates == 1
    assert len(await _reviews(js)) == 1


# Codes and levels -------------------------------------------------------------


async def test_unmapped_level_and_channel_quarantined(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C8")
    rows = [
        review_row("C8", "rated", "2024-03-02 10:00:00", level="6"),
        review_row("C8", "rated", "2024-03-02 10:00:00", channel="9", rater="R2"),
        review_row("C8", "rated", "2024-03-02 10:00:00", default="也许", rater="R3"),
        review_row("C8", "rated", "2024-03-02 10:00:00", type="99", rater="R4"),
    ]

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", rows)])
    states = await fold_quarantine(js, source_id=REVIEW_SOURCE)
    fields = sorted(
        (reason.code, reason.field or "")
        for state in states.values()
        for reason in state.entry.reasons
    )

    _assert_reconciles(tally)
    assert tally.quarantined == 4
    assert fields == [
        ("boolean_invalid", "default"),
        ("code_unmapped", "channel"),
        ("code_unmapped", "level"),
        ("event_unmapped", "type"),
    ]


async def test_corrected_future_time_resolves_entry(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C9")
    future = [review_row("C9", "rated", "2099-03-02 10:00:00")]
    corrected = [review_row("C9", "rated", "2024-03-02 10:00:00")]
    await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r1.csv", future)])

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r2.csv", corrected)])
    states = await fold_quarantine(js, source_id=REVIEW_SOURCE)

    assert (tally.published, tally.resolved) == (1, 1)
    assert [state.is_open for state in states.values()] == [False]


async def test_level_outside_range_without_table(
    catalogued: Settings, cases: Profile, tmp_path: Path
) -> None:
    text = REVIEW_PROFILE.split("[codes.level]")[0]
    profile = load_source_profile(write_text(tmp_path / "nolevels.toml", text))
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "C9")
    rows = [review_row("C9", "rated", "2024-03-02 10:00:00", level="0")]

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "r.csv", rows)])

    assert tally.reasons == Counter({"level_invalid": 1})


# Follow-up of bad reviews -----------------------------------------------------


async def test_bad_review_follow_up_published_in_order(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "D1")
    rows = [
        review_row("D1", "revisited", "2024-03-09 10:00:00"),
        review_row("D1", "rectified", "2024-03-08 10:00:00"),
        review_row("D1", "rectification_assigned", "2024-03-04 10:00:00"),
        review_row("D1", "verified", "2024-03-03 10:00:00"),
        review_row("D1", "rated", "2024-03-02 10:00:00"),
    ]

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", rows)])
    events = await _reviews(js)

    _assert_reconciles(tally)
    assert tally.published == 5
    assert tally.parked == 0
    assert [event.type for _, event in events] == [
        "review.rated",
        "review.verified",
        "review.rectification_assigned",
        "review.rectified",
        "review.revisited",
    ]
    assert len({event.key for _, event in events}) == 1
    assert await _parked_keys(js) == []


async def test_good_review_follow_up_quarantined(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path
) -> None:
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "D2")
    rows = [
        review_row("D2", "rated", "2024-03-02 10:00:00", level="5"),
        review_row("D2", "verified", "2024-03-03 10:00:00"),
    ]

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 1
    assert tally.reasons == Counter({"review_not_bad": 1})


async def test_rectification_needs_genuine_verification(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path
) -> None:
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "D3")
    rows = [
        review_row("D3", "rated", "2024-03-02 10:00:00", level="2"),
        review_row("D3", "verified", "2024-03-03 10:00:00", valid="否"),
        review_row("D3", "rectification_assigned", "2024-03-04 10:00:00"),
    ]

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.reasons == Counter({"review_not_valid": 1})


async def test_follow_up_without_rating_parked(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "D4")
    rows = [review_row("D4", "verified", "2024-03-03 10:00:00")]

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", rows)])

    _assert_reconciles(tally)
    assert tally.parked == 1
    assert len(await _parked_keys(js)) == 1


async def test_follow_up_missing_fields_quarantined(
    catalogued: Settings, reviews: FamilyProfile, tmp_path: Path
) -> None:
    rows = [review_row("D5", "verified", "2024-03-03 10:00:00", valid="", rater="")]

    tally = await ingest_files(catalogued, reviews, [write_rows(tmp_path / "r.csv", rows)])

    assert tally.reasons == Counter({"required_missing": 1}), "counts records, not reasons"


# Re-sends ---------------------------------------------------------------------


async def test_review_reread_publishes_nothing(
    catalogued: Settings, reviews: FamilyProfile, cases: Profile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    await _ingest_case(catalogued, cases, tmp_path / "c.csv", "E1")
    rows = [
        review_row("E1", "rated", "2024-03-02 10:00:00"),
        review_row("E1", "verified", "2024-03-03 10:00:00"),
        review_row("E1", "rated", "2024-03-02 10:00:00", level="7", rater="R9"),
        review_row("E2", "rated", "2024-03-02 10:00:00"),
    ]
    path = write_rows(tmp_path / "r.csv", rows)
    first = await ingest_files(catalogued, reviews, [path])
    count = len(await _reviews(js))

    again = await ingest_files(catalogued, reviews, [path], reread=True)

    _assert_reconciles(first)
    _assert_reconciles(again)
    assert (first.published, first.quarantined, first.parked) == (2, 1, 1)
    assert again.published == 0
    assert again.duplicates == 2
    assert again.quarantined == 1
    assert again.parked == 1
    assert len(await _reviews(js)) == count
