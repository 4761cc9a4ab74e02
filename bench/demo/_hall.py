"""Hall traffic (线上线下融合) of a few business days: bookings, tickets, calls and services.

The district's government service centre serves the window visits of the
hall window system's cases on those days. Some visitors booked online or by
phone (预约) and checked in at the kiosk; the others walked in and took a
kiosk or WeChat ticket. Between them come consultations that end without a
case, booked or walked in, and tickets whose holder does not come when
called (过号). A street's service station only gives advice. Bookings are made up
to a week ahead; some are cancelled and some are never checked in.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bench.demo._catalogue import DemoItem
from bench.demo._family_rows import Cell, FamilyRow
from bench.demo._people import ApplicantFactory
from bench.demo._visits import (
    CENTRE,
    QUEUES,
    REGION,
    STATION_QUEUE,
    Queue,
    Visit,
    session_start,
    staff_of,
)

HALL_DAYS = 5
"""Consecutive working days of hall traffic, the busiest run of the export period."""

_SLOT = timedelta(minutes=30)
_SESSIONS = ((time(9, 0), time(12, 0)), (time(14, 0), time(17, 30)))
_KIOSK_LEAD = timedelta(minutes=15)
_BOOKED_CASE_SHARE = 0.25
_CONSULTATIONS_PER_CASE = 0.6
_SKIPPED_SHARE = 0.06
_ABANDONED_SHARE = 0.02
_PRIORITY_SHARE = 0.03
_RECALL_SHARE = 0.08
_BOOKINGS_PER_SLOT = (0, 0, 1, 1, 2, 3)
_CANCEL_SHARE = 0.12
_NO_SHOW_SHARE = 0.08
_STATION_TICKETS = (8, 15)
_WINDOW_ATTEMPTS = 10


@dataclass(slots=True)
class Booking:
    """A booked slot (预约) of the centre and what became of it."""

    booking_id: str
    item: DemoItem
    channel: str
    created: datetime
    slot_start: datetime
    person: str
    cancelled: datetime | None = None
    checked_in: datetime | None = None


@dataclass(slots=True)
class Ticket:
    """A queue ticket (号票) from issue to the end of its service, or to its holder leaving."""

    ticket_id: str
    queue: Queue
    channel: str
    item: DemoItem
    issued: datetime
    booking: Booking | None = None
    priority: bool = False
    window: str | None = None
    staff: str | None = None
    called: datetime | None = None
    recalls: list[datetime] = field(default_factory=list)
    skipped: datetime | None = None
    started: datetime | None = None
    ended: datetime | None = None
    local_no: str | None = None
    ticket_no: str = ""


def busiest_days(visits: list[Visit], working_days: list[date]) -> list[date]:
    """Return the run of ``HALL_DAYS`` working days with the most window visits."""
    per_day = Counter(visit.submitted.date() for visit in visits)
    days = [day for day in working_days if day in per_day] or working_days[:HALL_DAYS]
    first_day = days[0]
    last_day = days[-1]
    span = [day for day in working_days if first_day <= day <= last_day]
    if len(span) <= HALL_DAYS:
        return span
    best = max(
        range(len(span) - HALL_DAYS + 1),
        key=lambda start: (sum(per_day[day] for day in span[start : start + HALL_DAYS]), -start),
    )
    return span[best : best + HALL_DAYS]


def _halfway(first: datetime, second: datetime) -> datetime:
    """Return the whole second halfway between two times, where a recall falls."""
    return first + timedelta(seconds=(second - first).total_seconds() // 2)


class _Windows:
    """Busy intervals of each window, so a new service goes to a window that is free."""

    def __init__(self) -> None:
        self._busy: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)

    def occupy(self, queue: Queue, window: str, start: datetime, end: datetime) -> None:
        self._busy[queue.hall, window].append((start, end))

    def free_window(
        self, rng: random.Random, queue: Queue, start: datetime, end: datetime
    ) -> str | None:
        windows = list(queue.windows)
        rng.shuffle(windows)
        for window in windows:
            busy = self._busy[queue.hall, window]
            if all(end <= begin or start >= finish for begin, finish in busy):
                return window
        return None


class HallDay:
    """Build the bookings and tickets of one business day."""

    def __init__(
        self,
        rng: random.Random,
        day: date,
        items: list[DemoItem],
        people: ApplicantFactory,
    ) -> None:
        self._rng = rng
        self.day = day
        self._items = items
        self._people = people
        self._windows = _Windows()
        self.bookings: list[Booking] = []
        self.tickets: list[Ticket] = []

    def _at(self, clock: time) -> datetime:
        return datetime.combine(self.day, clock)

    def _seconds(self, low: int, high: int) -> timedelta:
        return timedelta(seconds=self._rng.randint(low, high))

    def _booking(self, item: DemoItem, slot_start: datetime, person: str) -> Booking:
        created_day = self.day - timedelta(days=self._rng.randint(1, 7))
        channel = "online" if self._rng.random() < 0.8 else "phone"
        opening = time(8, 0) if channel == "online" else time(9, 0)
        hours = 14 if channel == "online" else 8
        created = datetime.combine(created_day, opening) + self._seconds(0, hours * 3600)
        booking = Booking(
            booking_id="",
            item=item,
            channel=channel,
            created=created,
            slot_start=slot_start,
            person=person,
        )
        self.bookings.append(booking)
        return booking

    def _slot_of(self, moment: datetime) -> datetime:
        """Return the bookable slot a visitor arriving at ``moment`` had booked."""
        for begin, close in _SESSIONS:
            start, finish = self._at(begin), self._at(close)
            if moment < finish:
                moment = max(moment, start)
                return start + _SLOT * ((moment - start) // _SLOT)
        return self._at(_SESSIONS[-1][1]) - _SLOT

    def _ticket_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"

    # Window visits that produced cases -------------------------------------

    def add_visits(self, visits: list[Visit]) -> None:
        """Turn the day's window visits into tickets, some of them from a booking."""
        for visit in visits:
            booking = None
            channel = "kiosk" if self._rng.random() < 0.7 else "mobile"
            if self._rng.random() < _BOOKED_CASE_SHARE:
                slot = self._slot_of(visit.issued)
                booking = self._booking(visit.case.item, slot, visit.case.applicant.id_number)
                booking.checked_in = visit.issued - self._seconds(5, 40)
                channel = "booking"

            started = visit.started
            ticket = Ticket(
                ticket_id=self._ticket_id(),
                queue=visit.queue,
                channel=channel,
                item=visit.case.item,
                issued=visit.issued,
                booking=booking,
                priority=self._rng.random() < _PRIORITY_SHARE,
                window=visit.window,
                staff=visit.staff,
                called=visit.called,
                started=started,
                ended=visit.ended,
                local_no=visit.local_no,
            )
            if self._rng.random() < _RECALL_SHARE:
                ticket.recalls.append(_halfway(visit.called, started))
            self.tickets.append(ticket)
            self._windows.occupy(visit.queue, visit.window, visit.called, visit.ended)

    # Consultations, no-shows and other bookings ----------------------------

    def add_consultations(self, count: int) -> None:
        """Add walk-in tickets of the centre that end without a case, or with a no-show."""
        for _ in range(count):
            queue = self._rng.choices(QUEUES, weights=(20, 20, 60))[0]
            item = self._item_for(queue)
            issued = self._random_issue_time()
            channel = "kiosk" if self._rng.random() < 0.7 else "mobile"
            self._serve(queue, item, issued, channel, booking=None)

    def add_bookings(self) -> None:
        """Book each slot of the day a few times; most bookings are checked in and served."""
        for begin, close in _SESSIONS:
            slot = self._at(begin)
            while slot < self._at(close):
                for _ in range(self._rng.choice(_BOOKINGS_PER_SLOT)):
                    self._booked_visit(slot)
                slot += _SLOT

    def _booked_visit(self, slot: datetime) -> None:
        queue = self._rng.choices(QUEUES, weights=(20, 20, 60))[0]
        item = self._item_for(queue)
        booking = self._booking(item, slot, self._people.id_card())
        roll = self._rng.random()
        if roll < _CANCEL_SHARE:
            ahead = int((slot - booking.created).total_seconds())
            booking.cancelled = booking.created + self._seconds(60, ahead - 60)
            return
        if roll < _CANCEL_SHARE + _NO_SHOW_SHARE:
            return

        arrival = slot + self._seconds(-600, 1200)
        booking.checked_in = max(arrival, session_start(slot) - _KIOSK_LEAD)
        issued = booking.checked_in + self._seconds(5, 40)
        self._serve(queue, item, issued, "booking", booking=booking)

    def add_station(self) -> None:
        """Add the street station's walk-in consultations about social insurance."""
        for _ in range(self._rng.randint(*_STATION_TICKETS)):
            issued = self._random_issue_time()
            self._serve(STATION_QUEUE, self._rng.choice(self._items), issued, "kiosk", None)

    def _item_for(self, queue: Queue) -> DemoItem:
        served = [
            item
            for item in self._items
            if any(part in item.department_name for part in queue.departments)
        ]
        return self._rng.choice(served or self._items)

    def _random_issue_time(self) -> datetime:
        begin, close = self._rng.choice(_SESSIONS)
        start = self._at(begin) - _KIOSK_LEAD
        length = (self._at(close) - start).total_seconds() - 20 * 60
        return start + timedelta(seconds=self._rng.randrange(int(length)))

    def _serve(
        self,
        queue: Queue,
        item: DemoItem,
        issued: datetime,
        channel: str,
        booking: Booking | None,
    ) -> None:
        """Queue a ticket, then call it at a free window and serve it, or let it lapse."""
        ticket = Ticket(
            ticket_id=self._ticket_id(),
            queue=queue,
            channel=channel,
            item=item,
            issued=issued,
            booking=booking,
            priority=booking is None and self._rng.random() < _PRIORITY_SHARE,
        )
        self.tickets.append(ticket)
        roll = self._rng.random()
        if booking is None and roll < _ABANDONED_SHARE:
            return

        skipped = booking is None and roll < _ABANDONED_SHARE + _SKIPPED_SHARE
        called = issued + self._seconds(120, 1800)
        for _ in range(_WINDOW_ATTEMPTS):
            length = self._seconds(150, 240) if skipped else self._seconds(180, 900)
            window = self._windows.free_window(self._rng, queue, called, called + length)
            if window is not None:
                break
            called += self._seconds(60, 240)
        else:
            # Every window stayed busy: the holder gave up before being called.
            return

        self._windows.occupy(queue, window, called, called + length)
        ticket.window = window
        ticket.staff = staff_of(queue, window, self.day.toordinal())
        ticket.called = called
        if skipped:
            ticket.recalls = [called + timedelta(seconds=60)]
            if self._rng.random() < 0.5:
                ticket.recalls.append(called + timedelta(seconds=120))
            ticket.skipped = called + length
            return

        ticket.started = called + self._seconds(20, 90)
        if self._rng.random() < _RECALL_SHARE:
            ticket.recalls.append(_halfway(called, ticket.started))
        ticket.ended = called + length

    # Numbering ------------------------------------------------------------

    def number_tickets(self) -> None:
        """Number the tickets per hall and queue in issue order (``A001``, ``A002`` …)."""
        sequence: Counter[tuple[str, str]] = Counter()
        for ticket in sorted(self.tickets, key=lambda ticket: ticket.issued):
            key = (ticket.queue.hall, ticket.queue.letter)
            sequence[key] += 1
            ticket.ticket_no = f"{ticket.queue.letter}{sequence[key]:03d}"


def number_bookings(bookings: list[Booking]) -> None:
    """Give bookings ids in creation order: ``YY``, the creation date and a sequence."""
    for sequence, booking in enumerate(sorted(bookings, key=lambda b: b.created), start=1):
        booking.booking_id = f"YY{booking.created:%Y%m%d}{sequence:05d}"


# Rows -----------------------------------------------------------------------


def _base(hall: str, item: DemoItem) -> dict[str, Cell]:
    return {"hall": hall, "region": REGION, "department_code": item.department_code}


def booking_rows(booking: Booking) -> list[FamilyRow]:
    """Return the created, cancelled and checked-in rows of a booking of the centre."""
    base = {**_base(CENTRE, booking.item), "booking_id": booking.booking_id}
    created: dict[str, Cell] = {
        **base,
        "item_code": booking.item.item_code,
        "channel": booking.channel,
        "slot_date": booking.slot_start.date(),
        "slot_start": booking.slot_start.time(),
        "slot_end": (booking.slot_start + _SLOT).time(),
        "person": booking.person,
    }
    rows = [FamilyRow(event="booking_created", time=booking.created, values=created)]
    if booking.cancelled is not None:
        values = {**base, "remark": "申请人取消预约"}
        rows.append(FamilyRow(event="booking_cancelled", time=booking.cancelled, values=values))
    if booking.checked_in is not None:
        rows.append(FamilyRow(event="booking_checked_in", time=booking.checked_in, values=base))
    return rows


def ticket_rows(ticket: Ticket) -> list[FamilyRow]:
    """Return a ticket's rows; each repeats the ticket number and queue, as queue logs do."""
    base: dict[str, Cell] = {
        **_base(ticket.queue.hall, ticket.item),
        "ticket_id": ticket.ticket_id,
        "ticket_no": ticket.ticket_no,
        "queue": ticket.queue.name,
    }
    issued: dict[str, Cell] = {
        **base,
        "channel": ticket.channel,
        "booking_id": ticket.booking.booking_id if ticket.booking else None,
        "item_code": ticket.item.item_code,
        "priority": ticket.priority,
    }
    rows = [FamilyRow(event="ticket_issued", time=ticket.issued, values=issued)]
    if ticket.called is None:
        return rows

    at_window = {**base, "window": ticket.window}
    with_staff = {**at_window, "staff": ticket.staff}
    rows.append(FamilyRow(event="ticket_called", time=ticket.called, values=with_staff))
    rows += [
        FamilyRow(event="ticket_recalled", time=moment, values=dict(at_window))
        for moment in ticket.recalls
    ]
    if ticket.skipped is not None:
        rows.append(FamilyRow(event="ticket_skipped", time=ticket.skipped, values=at_window))
    if ticket.started is not None:
        rows.append(FamilyRow(event="service_started", time=ticket.started, values=with_staff))
    if ticket.ended is not None:
        ended = {**at_window, "local_no": ticket.local_no}
        if ticket.local_no is None:
            ended["remark"] = "咨询，未形成办件"
        rows.append(FamilyRow(event="service_ended", time=ticket.ended, values=ended))
    return rows


def build_hall_days(
    rng: random.Random,
    visits: list[Visit],
    working_days: list[date],
    items: list[DemoItem],
) -> dict[date, list[FamilyRow]]:
    """Build the rows of the busiest hall days, keyed by the business day of their file.

    A booking's rows belong to the day of its slot, so a booking made a week
    ahead is listed in the file of the day it was for.
    """
    people = ApplicantFactory(rng)
    days = busiest_days(visits, working_days)
    builders: list[HallDay] = []
    for day in days:
        builder = HallDay(rng, day, items, people)
        day_visits = [visit for visit in visits if visit.submitted.date() == day]
        builder.add_visits(day_visits)
        builder.add_bookings()
        builder.add_consultations(round(len(day_visits) * _CONSULTATIONS_PER_CASE) + 3)
        builder.add_station()
        builder.number_tickets()
        builders.append(builder)

    number_bookings([booking for builder in builders for booking in builder.bookings])
    rows: dict[date, list[FamilyRow]] = {}
    for builder in builders:
        day_rows = [row for booking in builder.bookings for row in booking_rows(booking)]
        day_rows += [row for ticket in builder.tickets for row in ticket_rows(ticket)]
        rows[builder.day] = day_rows
    return rows
