"""Hall (线上线下融合) event payloads: bookings (预约) and queue tickets (取号/叫号).

A booking and a ticket are separate entities of one hall. A ticket issued
from a booking names it, which is how the online view (the person with a
booking) follows the offline queue. A window evaluation is not a hall event:
it arrives as a review with channel ``window``.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

import msgspec

BookingChannel = Literal["online", "phone"]
TicketChannel = Literal["kiosk", "mobile", "booking"]
"""How a ticket was taken: at the hall's kiosk, on a phone (WeChat, app), or
by checking in a booking."""


class _HallBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every hall event carries."""

    hall: str
    """Hall code (大厅编码)."""
    system: str
    remark: str | None = None


class _BookingBase(_HallBase, frozen=True, kw_only=True):
    booking_id: str


class _TicketBase(_HallBase, frozen=True, kw_only=True):
    ticket_id: str
    """Unique id of the ticket in its source system; the shown number repeats daily."""


class BookingCreated(_BookingBase, tag="hall.booking_created", frozen=True, kw_only=True):
    """A person booked a time slot for an item at a hall (预约)."""

    item_code: str
    channel: BookingChannel
    slot_date: date
    slot_start: time
    slot_end: time
    person: str | None = None
    """Opaque reference of the person; pseudonymised in read models."""


class BookingCancelled(_BookingBase, tag="hall.booking_cancelled", frozen=True, kw_only=True):
    """The booking was cancelled before check-in."""


class BookingCheckedIn(_BookingBase, tag="hall.booking_checked_in", frozen=True, kw_only=True):
    """The person arrived and checked the booking in (签到); a ticket follows."""


class TicketIssued(_TicketBase, tag="hall.ticket_issued", frozen=True, kw_only=True):
    """A queue ticket was issued (取号), from a booking or as a walk-in."""

    ticket_no: str
    """Number shown and called (``A015``)."""
    queue: str
    """Queue or business type the ticket waits in."""
    channel: TicketChannel
    booking_id: str | None = None
    item_code: str | None = None
    priority: bool = False
    """Green channel (绿色通道)."""


class TicketCalled(_TicketBase, tag="hall.ticket_called", frozen=True, kw_only=True):
    """A window called the ticket (叫号)."""

    window: str
    staff: str | None = None


class TicketRecalled(_TicketBase, tag="hall.ticket_recalled", frozen=True, kw_only=True):
    """The window called the ticket again (重呼)."""

    window: str


class TicketSkipped(_TicketBase, tag="hall.ticket_skipped", frozen=True, kw_only=True):
    """The person did not come to the window after being called (过号)."""

    window: str


class ServiceStarted(_TicketBase, tag="hall.service_started", frozen=True, kw_only=True):
    """Service of the ticket began at a window."""

    window: str
    staff: str | None = None


class ServiceEnded(_TicketBase, tag="hall.service_ended", frozen=True, kw_only=True):
    """Service ended; it produced a case, or none (a consultation)."""

    window: str
    case_code: str | None = None
    """Unified case code of the case the service produced, when resolved."""
    local_no: str | None = None
    """The window system's own number of that case, when it gives that instead."""


HallPayload = (
    BookingCreated
    | BookingCancelled
    | BookingCheckedIn
    | TicketIssued
    | TicketCalled
    | TicketRecalled
    | TicketSkipped
    | ServiceStarted
    | ServiceEnded
)

HALL_PAYLOADS: tuple[type[_HallBase], ...] = (
    BookingCreated,
    BookingCancelled,
    BookingCheckedIn,
    TicketIssued,
    TicketCalled,
    TicketRecalled,
    TicketSkipped,
    ServiceStarted,
    ServiceEnded,
)

HALL_EVENT_NAMES: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag).removeprefix("hall.") for cls in HALL_PAYLOADS
)

BOOKING_EVENTS: frozenset[str] = frozenset(
    {"hall.booking_created", "hall.booking_cancelled", "hall.booking_checked_in"}
)
"""Event types whose entity is a booking; the others belong to a ticket."""

HALL_PREDECESSORS: dict[str, frozenset[str]] = {
    "hall.booking_created": frozenset(),
    "hall.booking_cancelled": frozenset({"hall.booking_created"}),
    "hall.booking_checked_in": frozenset({"hall.booking_created"}),
    "hall.ticket_issued": frozenset(),
    "hall.ticket_called": frozenset({"hall.ticket_issued"}),
    "hall.ticket_recalled": frozenset({"hall.ticket_called"}),
    "hall.ticket_skipped": frozenset({"hall.ticket_called"}),
    "hall.service_started": frozenset({"hall.ticket_called"}),
    "hall.service_ended": frozenset({"hall.service_started"}),
}
"""Events of the same booking or ticket that must be on the bus first."""

HALL_RANK: dict[str, int] = {
    "hall.booking_created": 10,
    "hall.booking_cancelled": 90,
    "hall.booking_checked_in": 20,
    "hall.ticket_issued": 10,
    "hall.ticket_called": 20,
    "hall.ticket_recalled": 21,
    "hall.ticket_skipped": 30,
    "hall.service_started": 40,
    "hall.service_ended": 50,
}
"""Order of a ticket's states: a ticket moves forward only. An event whose
rank is below the ticket's current rank is out of order (recalls excepted,
which repeat at the called rank)."""

HALL_VERSIONS: dict[str, int] = {str(cls.__struct_config__.tag): 1 for cls in HALL_PAYLOADS}
