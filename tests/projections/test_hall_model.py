"""The hall model on a real nats-server: waits, no-shows, forward-only states, duplicates."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.settings import Settings
from contracts.envelope import Envelope
from projections.base import Delivered
from projections.checkpoint_store import store_path
from projections.hall import HallProjection
from projections.hall.api import (
    booking_views,
    busiest_hall_day,
    hall_day,
    hall_status,
    run_hall_projection,
)
from projections.hall.schema import TICKET_COLUMNS
from projections.pseudonym import Pseudonymizer, load_key
from tests.projections.hall_helpers import (
    DAY,
    HALL,
    PERSON,
    as_of,
    at_day,
    hall_event,
    hall_subject_of,
    model_tables,
    publish_hall,
    resend_ids,
)
from tests.projections.helpers import at

Bus = tuple[Client, JetStreamContext]
THE_DAY = date.fromisoformat(DAY)


async def _project(bus: Bus, settings: Settings, events: list[Envelope]) -> None:
    client, _js = bus
    await publish_hall(client, events)
    await run_hall_projection(settings, until_caught_up=True)


def _served(ticket_id: str, issued: str, started: str, *, queue: str = "A") -> list[Envelope]:
    return [
        hall_event("ticket_issued", ticket_id, at_day(issued), queue=queue),
        hall_event("ticket_called", ticket_id, at_day(started)),
        hall_event("service_started", ticket_id, at_day(started)),
        hall_event("service_ended", ticket_id, at_day("11:30")),
    ]


async def test_waits_average_and_p90(bus: Bus, settings: Settings) -> None:
    events: list[Envelope] = []
    for minute in range(1, 11):
        events += _served(f"T{minute:03d}", "09:00", f"09:{minute:02d}")
    events += _served("T020", "09:00", "09:20", queue="B")
    events.append(hall_event("ticket_issued", "T030", at_day("09:00")))
    # Another day's ticket with a long wait stays out of the day's figures.
    events += [
        hall_event("ticket_issued", "T900", at("2026-10-13", "08:00")),
        hall_event("ticket_called", "T900", at("2026-10-13", "10:00")),
        hall_event("service_started", "T900", at("2026-10-13", "10:00")),
    ]

    await _project(bus, settings, events)
    status = await hall_status(settings, HALL, day=THE_DAY)
    day = await hall_day(settings, HALL, THE_DAY, as_of=as_of("18:00"))

    assert status.waits.count == 11
    assert status.waits.average_s == pytest.approx((55 + 20) * 60 / 11)
    assert status.waits.p90_s == 10 * 60
    assert status.served == 11
    assert status.waiting == 1
    assert day.waits == status.waits
    assert day.tickets == 12
    assert day.by_state == {"issued": 1, "called": 0, "skipped": 0, "serving": 0, "done": 11}
    queue_a, queue_b = day.queues
    assert (queue_a.queue, queue_a.issued, queue_a.served, queue_a.waiting) == ("A", 11, 10, 1)
    assert queue_a.waits.average_s == 5.5 * 60
    assert queue_a.waits.p90_s == 9 * 60
    assert (queue_b.queue, queue_b.waits.count, queue_b.waits.p90_s) == ("B", 1, 20 * 60)


async def test_no_show_rate_per_slot(bus: Bus, settings: Settings) -> None:
    early: dict[str, Any] = {"slot_start": time(9, 0), "slot_end": time(9, 30)}
    late: dict[str, Any] = {"slot_start": time(10, 0), "slot_end": time(10, 30)}
    booked = at("2026-10-10", "12:00")
    events = [hall_event("booking_created", f"B{n}", booked, **early) for n in range(1, 5)]
    events += [hall_event("booking_created", f"B{n}", booked, **late) for n in range(5, 8)]
    events += [
        hall_event("booking_checked_in", "B1", at_day("08:55")),
        hall_event("booking_cancelled", "B2", at("2026-10-11", "18:00")),
        hall_event("booking_checked_in", "B7", at_day("09:58")),
        hall_event("booking_created", "B8", booked, slot_date=date(2026, 10, 13), **early),
    ]
    await _project(bus, settings, events)

    before = await hall_day(settings, HALL, THE_DAY, as_of=as_of("09:29"))
    at_end = await hall_day(settings, HALL, THE_DAY, as_of=as_of("09:30"))
    evening = await hall_day(settings, HALL, THE_DAY, as_of=as_of("18:00"))

    first, second = before.slots
    assert (first.slot_start, first.slot_end) == ("09:00:00", "09:30:00")
    assert (first.booked, first.cancelled, first.checked_in) == (4, 1, 1)
    assert (first.past, first.no_shows, first.pending, first.no_show_rate) == (False, 0, 2, None)
    assert before.no_show_rate is None
    first, second = at_end.slots
    assert (first.past, first.no_shows, first.pending) == (True, 2, 0)
    assert first.no_show_rate == pytest.approx(2 / 3)
    assert (second.past, second.no_shows, second.pending) == (False, 0, 2)
    assert at_end.no_show_rate == pytest.approx(2 / 3)
    first, second = evening.slots
    assert (second.past, second.no_shows, second.checked_in) == (True, 2, 1)
    assert second.no_show_rate == pytest.approx(2 / 3)
    assert (evening.bookings, evening.cancelled, evening.no_shows) == (7, 1, 4)
    assert evening.no_show_rate == pytest.approx(4 / 6)
    assert evening.as_of == "2026-10-12T18:00:00+08:00"


async def test_late_earlier_events_keep_ticket_forward(bus: Bus, settings: Settings) -> None:
    await _project(
        bus,
        settings,
        [
            hall_event("ticket_issued", "T001", at_day("09:00")),
            hall_event("service_started", "T001", at_day("09:20"), window="2"),
            hall_event("service_ended", "T001", at_day("09:40"), window="2"),
            hall_event("booking_checked_in", "B1", at_day("08:58")),
        ],
    )

    await _project(
        bus,
        settings,
        [
            hall_event("ticket_called", "T001", at_day("09:15"), window="2", staff="S-1"),
            hall_event("ticket_recalled", "T001", at_day("09:17"), window="2"),
            # A window system with a fast clock logs a call after the service ended.
            hall_event("ticket_called", "T001", at_day("09:50"), window="5", event_id="skew"),
            hall_event("booking_created", "B1", at("2026-10-11", "20:00")),
        ],
    )
    status = await hall_status(settings, HALL, day=THE_DAY)
    [view] = await booking_views(settings, "B1")
    [ticket] = model_tables(store_path(settings.data_dir, "hall"), names=["tickets"])["tickets"]

    assert status.served == 1
    assert status.waiting == 0
    assert [window.window for window in status.windows] == ["2"]
    assert view.booking.state == "checked_in"
    assert view.booking.slot_date == DAY
    assert view.booking.created_at == "2026-10-11T20:00:00.000000+08:00"
    row = dict(zip(TICKET_COLUMNS, ticket, strict=True))
    assert row["state"] == "done"
    assert row["state_at"] == "2026-10-12T09:40:00.000000+08:00"
    assert row["called_at"] == "2026-10-12T09:15:00.000000+08:00"
    assert row["call_count"] == 3
    assert row["service_window"] == "2"
    assert row["staff"] == "S-1"
    assert row["wait_s"] == 20 * 60


async def test_duplicates_count_once(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    flow = [
        hall_event("booking_created", "B1", at("2026-10-11", "20:00")),
        hall_event("booking_checked_in", "B1", at_day("09:00")),
        hall_event("ticket_issued", "T001", at_day("09:01"), booking_id="B1"),
        hall_event("ticket_called", "T001", at_day("09:05")),
        hall_event("ticket_recalled", "T001", at_day("09:06")),
    ]
    await publish_hall(client, flow)
    first = await run_hall_projection(settings, until_caught_up=True)
    tables = model_tables(store_path(settings.data_dir, "hall"), names=["bookings", "tickets"])

    await publish_hall(client, [*flow, flow[3]], msg_ids=[*resend_ids(flow), "third-send"])
    second = await run_hall_projection(settings, until_caught_up=True)

    assert (first.applied, first.duplicates) == (5, 0)
    assert (second.applied, second.duplicates) == (0, 6)
    assert model_tables(
        store_path(settings.data_dir, "hall"), names=["bookings", "tickets"]
    ) == tables
    [view] = await booking_views(settings, "B1")
    assert view.ticket is not None
    assert view.ticket.call_count == 2
    assert view.ticket.events == 3


async def test_ticket_before_its_booking_links(bus: Bus, settings: Settings) -> None:
    await _project(
        bus,
        settings,
        [
            hall_event("ticket_issued", "T001", at_day("09:01"), booking_id="B1"),
            hall_event("booking_checked_in", "B1", at_day("09:00")),
        ],
    )

    await _project(bus, settings, [hall_event("booking_created", "B1", at("2026-10-11", "20:00"))])
    [view] = await booking_views(settings, "B1")

    assert view.booking.ticket_id == "T001"
    assert view.progress == "waiting"
    assert view.position == 0


async def test_skipped_ticket_leaves_queue(bus: Bus, settings: Settings) -> None:
    await _project(
        bus,
        settings,
        [
            hall_event("ticket_issued", "T001", at_day("09:01")),
            hall_event("ticket_called", "T001", at_day("09:05"), window="4"),
            hall_event("ticket_skipped", "T001", at_day("09:08"), window="4"),
            hall_event("ticket_issued", "T002", at_day("09:02")),
        ],
    )

    status = await hall_status(settings, HALL, day=THE_DAY)

    assert status.waiting == 1
    assert [ticket.ticket_id for ticket in status.skipped] == ["T001"]
    assert status.skipped[0].skipped_at == "2026-10-12T09:08:00.000000+08:00"
    assert status.queues[0].next_ticket_no == "A002"


async def test_same_booking_id_in_two_halls(bus: Bus, settings: Settings) -> None:
    other = "GA-ZWFW-02"
    await _project(
        bus,
        settings,
        [
            hall_event("booking_created", "B1", at("2026-10-11", "20:00")),
            hall_event("booking_created", "B1", at("2026-10-11", "20:00"), hall=other),
            hall_event("booking_cancelled", "B1", at_day("07:00"), hall=other),
        ],
    )

    both = await booking_views(settings, "B1")
    in_other_hall = await booking_views(settings, "B1", hall=other)

    assert [(view.booking.hall, view.progress) for view in both] == [
        (HALL, "booked"),
        (other, "cancelled"),
    ]
    assert [view.booking.hall for view in in_other_hall] == [other]


async def test_busiest_hall_day(bus: Bus, settings: Settings) -> None:
    await _project(
        bus,
        settings,
        [
            hall_event("ticket_issued", "T001", at_day("09:01")),
            hall_event("ticket_issued", "T002", at("2026-10-13", "09:01")),
            hall_event("ticket_issued", "T003", at("2026-10-13", "09:02")),
            hall_event("ticket_issued", "T004", at("2026-10-13", "09:02"), hall="GA-ZWFW-02"),
        ],
    )

    busiest = await busiest_hall_day(settings)
    status = await hall_status(settings, "GA-ZWFW-02")

    assert busiest is not None
    assert (busiest.hall, busiest.day, busiest.tickets) == (HALL, date(2026, 10, 13), 2)
    assert status.day == date(2026, 10, 13)
    assert status.waiting == 1


async def test_person_stored_only_as_pseudonym(bus: Bus, settings: Settings) -> None:
    await _project(bus, settings, [hall_event("booking_created", "B1", at_day("08:00"))])

    [view] = await booking_views(settings, "B1")
    folder = store_path(settings.data_dir, "hall").parent
    stored = b"".join(path.read_bytes() for path in folder.iterdir() if path.is_file())

    expected = Pseudonymizer(load_key(settings.data_dir)).pseudonym(PERSON)
    assert view.booking.person_pseudonym == expected
    assert PERSON.encode() not in stored


def _check(event: Envelope, subject: str | None = None) -> str | None:
    projection = HallProjection(Pseudonymizer(b"k" * 32))
    return projection.check(Delivered(1, subject or hall_subject_of(event), event))


def test_check_accepts_hall_event() -> None:
    assert _check(hall_event("ticket_issued", "T1", at_day("09:00"), booking_id="B1")) is None


def test_check_rejects_key_not_payload_id() -> None:
    event = hall_event("ticket_called", "T1", at_day("09:00"))
    wrong = msgspec.structs.replace(event, key="T2")

    problem = _check(wrong, hall_subject_of(event))

    assert problem == "envelope key 'T2' is not the payload's id 'T1'"


def test_check_rejects_subject_of_other_hall() -> None:
    event = hall_event("ticket_called", "T1", at_day("09:00"))

    problem = _check(event, "zw.hall.51.16.02.OTHER.T1")

    assert problem is not None
    assert "does not carry hall 'GA-ZWFW-01'" in problem


def test_check_rejects_naive_time() -> None:
    event = hall_event("ticket_called", "T1", at_day("09:00").replace(tzinfo=None))

    assert _check(event) == "occurred_at has no time zone"


def test_store_file_is_hall_sqlite(tmp_path: Path) -> None:
    projection = HallProjection(Pseudonymizer(b"k" * 32))

    assert projection.store_file(tmp_path) == tmp_path / "projections" / "hall.sqlite"
