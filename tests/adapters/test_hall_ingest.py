"""Tests of the hall (预约/取号/叫号) ingestion path against a real nats-server."""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta
from pathlib import Path

import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.family_profile import FamilyProfile, load_source_profile
from adapters.file_source import ingest_files
from adapters.ingest.tally import Tally
from adapters.items import import_catalogue
from adapters.profile import load_profile
from bus.reader import read_stream
from bus.settings import Settings
from bus.streams import CASES, HALL, PARKED
from contracts.envelope import Envelope, decode_event
from contracts.hall import BookingCreated, ServiceEnded, TicketIssued
from tests.adapters.family_helpers import HALL_PROFILE, hall_row, write_rows, write_text
from tests.adapters.helpers import case_row, write_csv, write_item_catalogue, write_profile

Bus = tuple[Client, JetStreamContext]


@pytest.fixture
def profile(tmp_path: Path) -> FamilyProfile:
    loaded = load_source_profile(write_text(tmp_path / "hall.toml", HALL_PROFILE))
    assert isinstance(loaded, FamilyProfile)
    return loaded


@pytest.fixture
async def catalogued(settings: Settings, tmp_path: Path, bus: Bus) -> Settings:
    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    return settings


async def _events(js: JetStreamContext) -> list[tuple[str, Envelope]]:
    return [
        (message.subject, decode_event(message.data)) async for message in read_stream(js, HALL)
    ]


async def _parked_keys(js: JetStreamContext) -> list[str]:
    bucket = await js.key_value(PARKED)
    try:
        return [key for key in await bucket.keys() if key.startswith("hall.")]
    except nats.js.errors.NoKeysError:
        return []


def _assert_reconciles(tally: Tally) -> None:
    assert tally.reconciles, tally
    assert tally.read == tally.published + tally.duplicates + tally.quarantined + tally.parked


BOOKED_VISIT = [
    hall_row("booking_created", "2024-02-28 10:00:00", booking="B1"),
    hall_row("booking_checked_in", "2024-03-01 08:55:00", booking="B1"),
    hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T1", booking="B1", channel="booking"),
    hall_row("ticket_called", "2024-03-01 09:01:00", ticket="T1"),
    hall_row("service_started", "2024-03-01 09:02:00", ticket="T1"),
    hall_row("service_ended", "2024-03-01 09:20:00", ticket="T1"),
]
"""A booking checked in, its ticket called and served; the service made no case."""


async def test_booked_visit_published(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", BOOKED_VISIT)])
    events = await _events(js)

    _assert_reconciles(tally)
    assert tally.published == 6
    assert [event.type for _, event in events] == [
        "hall.booking_created",
        "hall.booking_checked_in",
        "hall.ticket_issued",
        "hall.ticket_called",
        "hall.service_started",
        "hall.service_ended",
    ]
    assert events[0][0] == "zw.hall.51.16.02.H511602A.B1"
    assert events[2][0] == "zw.hall.51.16.02.H511602A.T1"
    assert {event.correlation_id for _, event in events} == {"B1"}
    assert [event.key for _, event in events][2:] == ["T1"] * 4
    booking = events[0][1].payload
    assert isinstance(booking, BookingCreated)
    assert (booking.slot_date, booking.slot_start, booking.slot_end) == (
        date(2024, 3, 1),
        time(9, 0),
        time(9, 30),
    )
    ticket = events[2][1].payload
    assert isinstance(ticket, TicketIssued)
    assert ticket.booking_id == "B1"
    assert ticket.priority is False
    ended = events[5][1].payload
    assert isinstance(ended, ServiceEnded)
    assert ended.case_code is None


async def test_walk_in_ticket_correlates_to_itself(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T2", priority="是"),
        hall_row("ticket_called", "2024-03-01 09:01:00", ticket="T2"),
    ]

    await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])
    events = await _events(js)

    assert {event.correlation_id for _, event in events} == {"T2"}
    issued = events[0][1].payload
    assert isinstance(issued, TicketIssued)
    assert issued.priority is True


async def test_ticket_events_out_of_order_released(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        hall_row("service_ended", "2024-03-01 09:20:00", ticket="T3"),
        hall_row("service_started", "2024-03-01 09:02:00", ticket="T3"),
        hall_row("ticket_called", "2024-03-01 09:01:00", ticket="T3"),
        hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T3"),
    ]

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 4
    assert tally.parked == 0
    assert [event.type for _, event in await _events(js)] == [
        "hall.ticket_issued",
        "hall.ticket_called",
        "hall.service_started",
        "hall.service_ended",
    ]
    assert await _parked_keys(js) == []


# Forward only -----------------------------------------------------------------


async def test_ticket_moving_back_quarantined(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T4"),
        hall_row("ticket_called", "2024-03-01 09:01:00", ticket="T4"),
        hall_row("service_started", "2024-03-01 09:02:00", ticket="T4"),
        hall_row("ticket_called", "2024-03-01 09:05:00", ticket="T4"),
        hall_row("ticket_recalled", "2024-03-01 09:06:00", ticket="T4"),
    ]

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 3
    assert tally.reasons == Counter({"ticket_backwards": 2})


async def test_recall_repeats_at_called_rank(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T5"),
        hall_row("ticket_called", "2024-03-01 09:01:00", ticket="T5"),
        hall_row("ticket_recalled", "2024-03-01 09:02:00", ticket="T5"),
        hall_row("ticket_recalled", "2024-03-01 09:03:00", ticket="T5"),
        hall_row("ticket_skipped", "2024-03-01 09:05:00", ticket="T5"),
    ]

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 5


# Bookings ---------------------------------------------------------------------


async def test_booking_checked_in_twice_quarantined(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        hall_row("booking_created", "2024-02-28 10:00:00", booking="B2"),
        hall_row("booking_checked_in", "2024-03-01 08:55:00", booking="B2"),
        hall_row("booking_checked_in", "2024-03-01 08:57:00", booking="B2"),
        hall_row("booking_checked_in", "2024-03-01 08:55:00", booking="B2"),
    ]

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.duplicates == 1
    assert tally.reasons == Counter({"booking_checked_in_twice": 1})


async def test_check_in_after_cancel_quarantined(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        hall_row("booking_created", "2024-02-28 10:00:00", booking="B3"),
        hall_row("booking_cancelled", "2024-02-29 10:00:00", booking="B3"),
        hall_row("booking_checked_in", "2024-03-01 08:55:00", booking="B3"),
    ]

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.reasons == Counter({"booking_cancelled": 1})


async def test_ticket_of_unknown_booking_parked_then_released(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    ticket = [
        hall_row(
            "ticket_issued", "2024-03-01 08:56:00", ticket="T6", booking="B6", channel="booking"
        )
    ]
    first = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h1.csv", ticket)])

    assert first.parked == 1
    assert len(await _parked_keys(js)) == 1

    booking = [hall_row("booking_created", "2024-02-28 10:00:00", booking="B6")]
    second = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h2.csv", booking)])
    events = await _events(js)

    _assert_reconciles(second)
    assert second.published == 1
    assert second.released == 1
    assert [event.type for _, event in events] == ["hall.booking_created", "hall.ticket_issued"]
    assert events[1][1].correlation_id == "B6"
    assert await _parked_keys(js) == []


# The case a service produced --------------------------------------------------


async def test_service_ended_links_case(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    cases = load_profile(write_profile(tmp_path / "case.toml"))
    await ingest_files(
        catalogued,
        cases,
        [write_csv(tmp_path / "c.csv", [case_row("K1", "submitted", "2024-03-01 09:10:00")])],
    )
    (case_message,) = [message async for message in read_stream(js, CASES)]
    code = decode_event(case_message.data).key
    rows = [
        hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T7"),
        hall_row("ticket_called", "2024-03-01 09:01:00", ticket="T7"),
        hall_row("service_started", "2024-03-01 09:02:00", ticket="T7"),
        hall_row("service_ended", "2024-03-01 09:20:00", ticket="T7", case_no="K1"),
    ]

    tally = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])
    ended = (await _events(js))[-1][1].payload

    _assert_reconciles(tally)
    assert tally.published == 4
    assert isinstance(ended, ServiceEnded)
    assert ended.case_code == code
    assert ended.local_no == "K1"


async def test_service_ended_waits_for_its_case(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T8"),
        hall_row("ticket_called", "2024-03-01 09:01:00", ticket="T8"),
        hall_row("service_started", "2024-03-01 09:02:00", ticket="T8"),
        hall_row("service_ended", "2024-03-01 09:20:00", ticket="T8", case_no="K2"),
    ]
    first = await ingest_files(catalogued, profile, [write_rows(tmp_path / "h.csv", rows)])

    assert (first.published, first.parked) == (3, 1)

    cases = load_profile(write_profile(tmp_path / "case.toml"))
    await ingest_files(
        catalogued,
        cases,
        [write_csv(tmp_path / "c.csv", [case_row("K2", "submitted", "2024-03-01 09:10:00")])],
    )
    second = await ingest_files(catalogued, profile, [], park_wait=timedelta(days=1))

    assert second.released == 1
    assert (await _events(js))[-1][1].type == "hall.service_ended"
    assert await _parked_keys(js) == []


# Re-sends ---------------------------------------------------------------------


async def test_hall_reread_publishes_nothing(
    catalogued: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        *BOOKED_VISIT,
        hall_row("booking_checked_in", "2024-03-01 08:58:00", booking="B1"),
        hall_row("ticket_issued", "2024-03-01 08:56:00", ticket="T9", booking="B9"),
    ]
    path = write_rows(tmp_path / "h.csv", rows)
    first = await ingest_files(catalogued, profile, [path])
    count = len(await _events(js))

    again = await ingest_files(catalogued, profile, [path], reread=True)

    _assert_reconciles(first)
    _assert_reconciles(again)
    assert (first.published, first.quarantined, first.parked) == (6, 1, 1)
    assert again.published == 0
    assert again.duplicates == 6
    assert again.quarantined == 1
    assert again.parked == 1
    assert len(await _events(js)) == count
