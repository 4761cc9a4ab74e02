"""The online view of the offline queue, step by step, against a real nats-server.

A person books online, checks in at the hall, gets a ticket, is called,
served and done. After every step the projection runs and both the hall's
live state (what the windows see) and the booking's online view (what the
person sees) are checked.
"""

from __future__ import annotations

from datetime import date, time

from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.settings import Settings
from contracts.envelope import Envelope
from projections.hall.api import (
    BookingView,
    HallStatus,
    booking_views,
    hall_day,
    hall_status,
    run_hall_projection,
)
from tests.projections.hall_helpers import DAY, HALL, as_of, at_day, hall_event, publish_hall
from tests.projections.helpers import at

Bus = tuple[Client, JetStreamContext]


async def _step(bus: Bus, settings: Settings, *events: Envelope) -> tuple[HallStatus, BookingView]:
    """Publish ``events``, run the projection, and read both views."""
    client, _js = bus
    await publish_hall(client, events)
    await run_hall_projection(settings, until_caught_up=True)
    status = await hall_status(settings, HALL, day=date.fromisoformat(DAY))
    [view] = await booking_views(settings, "B1")
    return status, view


def _queue(status: HallStatus, name: str = "A") -> tuple[int, int, str | None]:
    [queue] = [queue for queue in status.queues if queue.queue == name]
    return queue.waiting, queue.called, queue.next_ticket_no


async def test_booking_follows_ticket_through_queue(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish_hall(client, [hall_event("ticket_issued", "W001", at_day("09:01"))])

    # 1. Booked online the evening before.
    status, view = await _step(
        bus, settings, hall_event("booking_created", "B1", at("2026-10-11", "20:00"))
    )

    assert view.progress == "booked"
    assert view.booking.state == "created"
    assert view.booking.slot_date == DAY
    assert view.booking.slot_start == time(9, 0).isoformat()
    assert view.ticket is None
    assert view.position is None
    assert status.waiting == 1
    assert _queue(status) == (1, 0, "A001")
    assert status.windows == []

    # 2. Checked in at the hall; the ticket is not on the bus yet.
    status, view = await _step(
        bus, settings, hall_event("booking_checked_in", "B1", at_day("09:05"))
    )

    assert view.progress == "checked_in"
    assert view.booking.state == "checked_in"
    assert view.booking.checked_in_at == "2026-10-12T09:05:00.000000+08:00"
    assert view.ticket is None
    assert status.waiting == 1

    # 3. The ticket issued from the booking joins queue A behind the walk-in.
    status, view = await _step(
        bus,
        settings,
        hall_event(
            "ticket_issued", "T002", at_day("09:06"), booking_id="B1", channel="booking"
        ),
    )

    assert view.progress == "waiting"
    assert view.booking.ticket_id == "T002"
    assert view.ticket is not None
    assert view.ticket.ticket_no == "A002"
    assert view.ticket.queue == "A"
    assert view.ticket.channel == "booking"
    assert view.position == 1
    assert view.window is None
    assert status.waiting == 2
    assert _queue(status) == (2, 0, "A001")

    # 3b. A green-channel ticket issued later goes ahead of both.
    status, view = await _step(
        bus, settings, hall_event("ticket_issued", "P003", at_day("09:07"), priority=True)
    )

    assert view.position == 2
    assert status.waiting == 3
    assert _queue(status) == (3, 0, "A003")

    # 4. Window 3 calls the booking's ticket.
    status, view = await _step(
        bus, settings, hall_event("ticket_called", "T002", at_day("09:20"), window="3")
    )

    assert view.progress == "called"
    assert view.window == "3"
    assert view.position is None
    assert view.ticket is not None
    assert view.ticket.call_count == 1
    assert status.waiting == 3
    assert _queue(status) == (3, 1, "A003")
    [window] = status.windows
    assert window.window == "3"
    assert window.calling == ["A002"]
    assert window.serving == []

    # 5. Service starts at window 3.
    status, view = await _step(
        bus,
        settings,
        hall_event("service_started", "T002", at_day("09:21"), window="3", staff="S-017"),
    )

    assert view.progress == "serving"
    assert view.window == "3"
    assert status.waiting == 2
    assert status.serving == 1
    assert _queue(status) == (2, 0, "A003")
    [window] = status.windows
    assert window.calling == []
    assert window.serving == ["A002"]
    assert window.staff == "S-017"
    assert status.waits.count == 1
    assert status.waits.average_s == 15 * 60

    # 6. Service ends; it produced a case.
    status, view = await _step(
        bus,
        settings,
        hall_event("service_ended", "T002", at_day("09:40"), window="3", case_code="CASE-1"),
    )

    assert view.progress == "done"
    assert view.window == "3"
    assert view.ticket is not None
    assert view.ticket.case_code == "CASE-1"
    assert view.ticket.ended_at == "2026-10-12T09:40:00.000000+08:00"
    assert status.serving == 0
    assert status.served == 1
    assert status.waiting == 2
    [window] = status.windows
    assert window.served == 1
    assert window.serving == []

    day = await hall_day(settings, HALL, date.fromisoformat(DAY), as_of=as_of("12:00"))
    [slot] = day.slots
    assert (slot.booked, slot.checked_in, slot.no_shows) == (1, 1, 0)
    assert slot.no_show_rate == 0.0
    assert day.tickets == 3
    assert day.served == 1


async def test_positions_match_queue_order(bus: Bus, settings: Settings) -> None:
    """Every waiting booking's position is its index in the status view's queue."""
    client, _js = bus
    events: list[Envelope] = []
    for index, clock in enumerate(["09:01", "09:02", "09:03", "09:04"], start=1):
        booking_id = f"B{index}"
        events += [
            hall_event("booking_created", booking_id, at("2026-10-11", "20:00")),
            hall_event("booking_checked_in", booking_id, at_day(clock)),
            hall_event(
                "ticket_issued",
                f"T00{index}",
                at_day(clock),
                booking_id=booking_id,
                channel="booking",
                priority=index == 3,
            ),
        ]
    events.append(hall_event("ticket_called", "T001", at_day("09:10")))
    await publish_hall(client, events)
    await run_hall_projection(settings, until_caught_up=True)

    status = await hall_status(settings, HALL)
    positions = {}
    for index in range(1, 5):
        [view] = await booking_views(settings, f"B{index}")
        positions[view.booking.booking_id] = view.position

    assert status.day.isoformat() == DAY
    assert _queue(status) == (4, 1, "A003")
    assert positions == {"B1": None, "B2": 2, "B3": 0, "B4": 3}
