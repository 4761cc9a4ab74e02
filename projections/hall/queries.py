"""Reading the hall model: the live queue of a hall, a day's figures and the online view.

Definitions the views share:

- A ticket belongs to the business day (China) it was issued on, because
  ticket numbers restart every day.
- Waiting: issued, or called and not yet started, and not skipped.
- Queue order: priority (green channel) tickets first, then by issue time.
  The position of a ticket not yet called is the number of waiting tickets
  (called ones included) of the same hall, day and queue before it in that
  order, so 0 means none is ahead.
- Served: the service ended. The wait is the time from issue to service
  start; its 90th percentile is the nearest-rank one, an observed wait.
- A booking's slot is past once the slot's end (China time) is not after
  the query's ``as_of`` time. A booking of a past slot that is neither
  checked in nor cancelled is a no-show. The no-show rate of a slot is
  no-shows over its bookings that were not cancelled, and is None while
  the slot is not past.
- A business day is over once ``as_of`` falls on a later day in China. A
  ticket of a day that is over that is still issued, called or being served
  was left open. Its service never ended on the bus, because an end event
  is missing or the queue system does not send one, so it is not waiting.

The status view and the online view both read the waiting tickets through
``waiting_tickets``, so the queue shown to the windows and the position
shown to a person with a booking cannot disagree.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import date, datetime, time

import aiosqlite
import msgspec

from projections.hall.model import BookingRecord, TicketRecord
from projections.hall.schema import BOOKING_COLUMNS, TICKET_COLUMNS
from projections.workdays import CHINA_TZ

WAITING_STATES = ("issued", "called")
OPEN_STATES = ("issued", "called", "serving")
"""States of a ticket whose service has not ended."""
TICKET_STATE_ORDER = ("issued", "called", "skipped", "serving", "done")


class WaitStats(msgspec.Struct, kw_only=True):
    """Waits from issue to service start of the tickets whose service started."""

    count: int
    average_s: float | None
    p90_s: float | None
    """90th percentile by the nearest-rank method."""


class QueueState(msgspec.Struct, kw_only=True):
    """One queue of a hall now."""

    queue: str
    waiting: int
    called: int
    """Waiting tickets already called to a window."""
    next_ticket_no: str | None
    """First waiting ticket not yet called, in queue order."""


class WindowState(msgspec.Struct, kw_only=True):
    """One service window (窗口) of a hall now."""

    window: str
    calling: list[str]
    """Numbers of tickets called to this window whose service has not started."""
    serving: list[str]
    """Numbers of tickets being served here; more than one means an end event is missing."""
    staff: str | None
    served: int


class HallStatus(msgspec.Struct, kw_only=True):
    """The live state of a hall on one business day."""

    hall: str
    day: date
    day_over: bool
    """The day ended before the query time, so ``waiting`` and ``serving`` count tickets
    left open, not tickets waiting or being served now."""
    waiting: int
    serving: int
    left_open: int
    """Tickets issued, called or being served when a day that is over ended; 0 before."""
    served: int
    waits: WaitStats
    queues: list[QueueState]
    windows: list[WindowState]
    skipped: list[TicketRecord]


class SlotSummary(msgspec.Struct, kw_only=True):
    """Bookings of one time slot of a day."""

    slot_start: str
    slot_end: str
    past: bool
    booked: int
    cancelled: int
    checked_in: int
    no_shows: int
    pending: int
    """Bookings neither checked in nor cancelled whose slot is not past yet."""
    no_show_rate: float | None


class QueueDay(msgspec.Struct, kw_only=True):
    """One queue's tickets of a day."""

    queue: str
    issued: int
    served: int
    skipped: int
    waiting: int
    left_open: int
    """Tickets issued, called or being served when a day that is over ended; 0 before."""
    waits: WaitStats


class HallDay(msgspec.Struct, kw_only=True):
    """Bookings and tickets of a hall on one business day."""

    hall: str
    day: date
    as_of: str
    """Time the past-slot, no-show and day-over decisions were made at."""
    day_over: bool
    """The day ended before ``as_of``; its tickets that never ended are ``left_open``."""
    slots: list[SlotSummary]
    bookings: int
    cancelled: int
    checked_in: int
    no_shows: int
    pending: int
    no_show_rate: float | None
    """No-shows over the bookings of past slots that were not cancelled."""
    tickets: int
    by_state: dict[str, int]
    served: int
    skipped: int
    left_open: int
    """Tickets issued, called or being served when a day that is over ended; 0 before."""
    waits: WaitStats
    queues: list[QueueDay]


class BookingView(msgspec.Struct, kw_only=True):
    """The online view of a booking: its state and, once checked in, its place in the queue."""

    booking: BookingRecord
    ticket: TicketRecord | None
    progress: str
    """booked, cancelled or checked_in before a ticket; then waiting, called, skipped,
    serving or done from the ticket."""
    position: int | None
    """Waiting tickets ahead of it in its queue; None once called, or without a ticket."""
    window: str | None
    """Window the ticket is called to or served at."""


class BusiestDay(msgspec.Struct, kw_only=True):
    """The hall and business day with the most tickets."""

    hall: str
    day: date
    tickets: int


# --- rows ---------------------------------------------------------------------


def _ticket(row: aiosqlite.Row) -> TicketRecord:
    values = {column: row[column] for column in TICKET_COLUMNS}
    values["priority"] = bool(values["priority"])
    return TicketRecord(**values)


def _booking(row: aiosqlite.Row) -> BookingRecord:
    return BookingRecord(**{column: row[column] for column in BOOKING_COLUMNS})


def queue_order(ticket: TicketRecord) -> tuple[bool, str, str, str]:
    """Sort key of the queue: priority first, then issue time."""
    return (not ticket.priority, ticket.issued_at or "", ticket.ticket_no or "", ticket.ticket_id)


def wait_stats(waits: list[float]) -> WaitStats:
    """Return the count, average and nearest-rank 90th percentile of ``waits`` in seconds."""
    if not waits:
        return WaitStats(count=0, average_s=None, p90_s=None)
    ordered = sorted(waits)
    rank = math.ceil(0.9 * len(ordered))
    return WaitStats(
        count=len(ordered), average_s=sum(ordered) / len(ordered), p90_s=ordered[rank - 1]
    )


async def day_tickets(
    connection: aiosqlite.Connection, hall: str, day: str
) -> list[TicketRecord]:
    """Return the tickets of ``hall`` issued on ``day`` (YYYY-MM-DD)."""
    async with connection.execute(
        "SELECT * FROM tickets WHERE hall = ? AND business_date = ?", (hall, day)
    ) as cursor:
        return [_ticket(row) async for row in cursor]


async def waiting_tickets(
    connection: aiosqlite.Connection, hall: str, day: str
) -> list[TicketRecord]:
    """Return the waiting tickets of ``hall`` on ``day`` in queue order."""
    placeholders = ",".join("?" * len(WAITING_STATES))
    async with connection.execute(
        f"SELECT * FROM tickets WHERE hall = ? AND business_date = ? "
        f"AND state IN ({placeholders})",
        (hall, day, *WAITING_STATES),
    ) as cursor:
        tickets = [_ticket(row) async for row in cursor]
    return sorted(tickets, key=queue_order)


def position_in_queue(waiting: list[TicketRecord], ticket: TicketRecord) -> int | None:
    """Return how many of ``waiting`` are ahead of ``ticket`` in its queue, None if not waiting."""
    queue = [item.ticket_id for item in waiting if item.queue == ticket.queue]
    if ticket.ticket_id not in queue:
        return None
    return queue.index(ticket.ticket_id)


def day_is_over(day: date, as_of: datetime) -> bool:
    """Tell whether business day ``day`` ended before ``as_of``, by the calendar in China."""
    return day < as_of.astimezone(CHINA_TZ).date()


def _left_open(tickets: list[TicketRecord], day_over: bool) -> int:
    return sum(1 for ticket in tickets if ticket.state in OPEN_STATES) if day_over else 0


# --- halls in the model -------------------------------------------------------


async def hall_is_known(connection: aiosqlite.Connection, hall: str) -> bool:
    """Tell whether a booking or a ticket of ``hall`` has reached the model."""
    async with connection.execute(
        "SELECT EXISTS (SELECT 1 FROM tickets WHERE hall = :hall) "
        "OR EXISTS (SELECT 1 FROM bookings WHERE hall = :hall) AS known",
        {"hall": hall},
    ) as cursor:
        row = await cursor.fetchone()
    return row is not None and bool(row["known"])


async def known_halls(connection: aiosqlite.Connection, limit: int) -> list[str]:
    """Return up to ``limit`` hall codes that have a booking or a ticket, in code order."""
    async with connection.execute(
        "SELECT hall FROM tickets UNION SELECT hall FROM bookings ORDER BY hall LIMIT ?",
        (limit,),
    ) as cursor:
        return [str(row["hall"]) async for row in cursor]


# --- the live state of a hall ---------------------------------------------------


async def latest_ticket_day(connection: aiosqlite.Connection, hall: str) -> date | None:
    """Return the latest business day with a ticket in ``hall``, or None."""
    async with connection.execute(
        "SELECT MAX(business_date) AS day FROM tickets WHERE hall = ?", (hall,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None or row["day"] is None else date.fromisoformat(row["day"])


def _queue_states(waiting: list[TicketRecord]) -> list[QueueState]:
    by_queue: dict[str, list[TicketRecord]] = defaultdict(list)
    for ticket in waiting:
        by_queue[ticket.queue or "-"].append(ticket)
    states = []
    for queue, tickets in sorted(by_queue.items()):
        not_called = [ticket for ticket in tickets if ticket.state == "issued"]
        states.append(
            QueueState(
                queue=queue,
                waiting=len(tickets),
                called=len(tickets) - len(not_called),
                next_ticket_no=not_called[0].ticket_no if not_called else None,
            )
        )
    return states


def _window_states(tickets: list[TicketRecord]) -> list[WindowState]:
    by_window: dict[str, list[TicketRecord]] = defaultdict(list)
    for ticket in tickets:
        if ticket.service_window is not None:
            by_window[ticket.service_window].append(ticket)
    states = []
    for window, at_window in sorted(by_window.items()):
        ordered = sorted(at_window, key=lambda ticket: (ticket.state_at, ticket.ticket_id))
        staff = [ticket.staff for ticket in ordered if ticket.staff is not None]
        states.append(
            WindowState(
                window=window,
                calling=[_number(t) for t in ordered if t.state == "called"],
                serving=[_number(t) for t in ordered if t.state == "serving"],
                staff=staff[-1] if staff else None,
                served=sum(1 for ticket in ordered if ticket.state == "done"),
            )
        )
    return states


def _number(ticket: TicketRecord) -> str:
    return ticket.ticket_no or ticket.ticket_id


async def hall_status(
    connection: aiosqlite.Connection, hall: str, day: date, *, as_of: datetime
) -> HallStatus:
    """Return the queues and windows of ``hall`` on ``day``, judged at ``as_of``."""
    tickets = await day_tickets(connection, hall, day.isoformat())
    waiting = await waiting_tickets(connection, hall, day.isoformat())
    skipped = sorted(
        (ticket for ticket in tickets if ticket.state == "skipped"),
        key=lambda ticket: (ticket.skipped_at or "", ticket.ticket_id),
    )
    day_over = day_is_over(day, as_of)
    return HallStatus(
        hall=hall,
        day=day,
        day_over=day_over,
        waiting=len(waiting),
        serving=sum(1 for ticket in tickets if ticket.state == "serving"),
        left_open=_left_open(tickets, day_over),
        served=sum(1 for ticket in tickets if ticket.state == "done"),
        waits=wait_stats([t.wait_s for t in tickets if t.wait_s is not None]),
        queues=_queue_states(waiting),
        windows=_window_states(tickets),
        skipped=skipped,
    )


# --- a day's bookings and tickets ---------------------------------------------


def slot_is_past(day: str, slot_end: str, as_of: datetime) -> bool:
    """Tell whether a slot ending at ``slot_end`` on ``day`` is over at ``as_of``."""
    end = datetime.combine(date.fromisoformat(day), time.fromisoformat(slot_end), CHINA_TZ)
    return end <= as_of


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


def _slot_summary(
    day: str, slot: tuple[str, str], states: list[str], as_of: datetime
) -> SlotSummary:
    counts = Counter(states)
    past = slot_is_past(day, slot[1], as_of)
    open_bookings = counts["created"]
    no_shows = open_bookings if past else 0
    return SlotSummary(
        slot_start=slot[0],
        slot_end=slot[1],
        past=past,
        booked=len(states),
        cancelled=counts["cancelled"],
        checked_in=counts["checked_in"],
        no_shows=no_shows,
        pending=0 if past else open_bookings,
        no_show_rate=_rate(no_shows, len(states) - counts["cancelled"]) if past else None,
    )


async def _slot_summaries(
    connection: aiosqlite.Connection, hall: str, day: str, as_of: datetime
) -> list[SlotSummary]:
    states: dict[tuple[str, str], list[str]] = defaultdict(list)
    async with connection.execute(
        "SELECT slot_start, slot_end, state FROM bookings WHERE hall = ? AND slot_date = ?",
        (hall, day),
    ) as cursor:
        async for row in cursor:
            states[(row["slot_start"], row["slot_end"])].append(row["state"])
    return [_slot_summary(day, slot, states[slot], as_of) for slot in sorted(states)]


def _queue_days(tickets: list[TicketRecord], day_over: bool) -> list[QueueDay]:
    by_queue: dict[str, list[TicketRecord]] = defaultdict(list)
    for ticket in tickets:
        by_queue[ticket.queue or "-"].append(ticket)
    return [
        QueueDay(
            queue=queue,
            issued=len(items),
            served=sum(1 for t in items if t.state == "done"),
            skipped=sum(1 for t in items if t.state == "skipped"),
            waiting=sum(1 for t in items if t.state in WAITING_STATES),
            left_open=_left_open(items, day_over),
            waits=wait_stats([t.wait_s for t in items if t.wait_s is not None]),
        )
        for queue, items in sorted(by_queue.items())
    ]


async def hall_day(
    connection: aiosqlite.Connection, hall: str, day: date, as_of: datetime
) -> HallDay:
    """Return the bookings per slot and the tickets of ``hall`` on ``day``, as of ``as_of``."""
    slots = await _slot_summaries(connection, hall, day.isoformat(), as_of)
    tickets = await day_tickets(connection, hall, day.isoformat())
    by_state = Counter(ticket.state for ticket in tickets)
    past = [slot for slot in slots if slot.past]
    no_shows = sum(slot.no_shows for slot in slots)
    day_over = day_is_over(day, as_of)
    return HallDay(
        hall=hall,
        day=day,
        as_of=as_of.astimezone(CHINA_TZ).isoformat(timespec="seconds"),
        day_over=day_over,
        slots=slots,
        bookings=sum(slot.booked for slot in slots),
        cancelled=sum(slot.cancelled for slot in slots),
        checked_in=sum(slot.checked_in for slot in slots),
        no_shows=no_shows,
        pending=sum(slot.pending for slot in slots),
        no_show_rate=_rate(no_shows, sum(slot.booked - slot.cancelled for slot in past)),
        tickets=len(tickets),
        by_state={state: by_state[state] for state in TICKET_STATE_ORDER},
        served=by_state["done"],
        skipped=by_state["skipped"],
        left_open=_left_open(tickets, day_over),
        waits=wait_stats([t.wait_s for t in tickets if t.wait_s is not None]),
        queues=_queue_days(tickets, day_over),
    )


async def day_bookings(
    connection: aiosqlite.Connection, hall: str, day: date
) -> list[BookingRecord]:
    """Return the bookings of ``hall`` whose slot is on ``day``, by slot start and id."""
    async with connection.execute(
        "SELECT * FROM bookings WHERE hall = ? AND slot_date = ? "
        "ORDER BY slot_start, booking_id",
        (hall, day.isoformat()),
    ) as cursor:
        return [_booking(row) async for row in cursor]


# --- the online view of a booking -----------------------------------------------

_BOOKING_PROGRESS = {"created": "booked", "cancelled": "cancelled", "checked_in": "checked_in"}
_TICKET_PROGRESS = {
    "issued": "waiting",
    "called": "called",
    "skipped": "skipped",
    "serving": "serving",
    "done": "done",
}


async def _ticket_of(
    connection: aiosqlite.Connection, booking: BookingRecord
) -> TicketRecord | None:
    if booking.ticket_id is None:
        return None
    async with connection.execute(
        "SELECT * FROM tickets WHERE hall = ? AND ticket_id = ?", (booking.hall, booking.ticket_id)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _ticket(row)


async def booking_view(connection: aiosqlite.Connection, booking: BookingRecord) -> BookingView:
    """Return the online view of one booking, its position read from the hall's waiting tickets."""
    ticket = await _ticket_of(connection, booking)
    if ticket is None:
        return BookingView(
            booking=booking,
            ticket=None,
            progress=_BOOKING_PROGRESS[booking.state],
            position=None,
            window=None,
        )

    position = None
    if ticket.state == "issued":
        waiting = await waiting_tickets(connection, ticket.hall, ticket.business_date)
        position = position_in_queue(waiting, ticket)
    at_window = ticket.state in {"called", "serving", "done", "skipped"}
    return BookingView(
        booking=booking,
        ticket=ticket,
        progress=_TICKET_PROGRESS[ticket.state],
        position=position,
        window=ticket.service_window if at_window else None,
    )


async def find_bookings(
    connection: aiosqlite.Connection, booking_id: str, hall: str | None = None
) -> list[BookingView]:
    """Return the online view of every booking with this id, in one hall when given."""
    sql = "SELECT * FROM bookings WHERE booking_id = ?"
    parameters: tuple[str, ...] = (booking_id,)
    if hall is not None:
        sql += " AND hall = ?"
        parameters += (hall,)
    async with connection.execute(sql + " ORDER BY hall", parameters) as cursor:
        bookings = [_booking(row) async for row in cursor]
    return [await booking_view(connection, booking) for booking in bookings]


async def busiest_day(connection: aiosqlite.Connection) -> BusiestDay | None:
    """Return the hall and business day with the most tickets, the latest day on ties."""
    async with connection.execute(
        "SELECT hall, business_date, COUNT(*) AS n FROM tickets GROUP BY hall, business_date "
        "ORDER BY n DESC, business_date DESC, hall LIMIT 1"
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    return BusiestDay(
        hall=row["hall"], day=date.fromisoformat(row["business_date"]), tickets=int(row["n"])
    )
