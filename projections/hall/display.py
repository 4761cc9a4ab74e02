"""Screen text of the hall commands: labels and rich tables."""

from __future__ import annotations

from rich.table import Table

from bus.i18n import N_, _
from projections.display import label, show_time
from projections.hall.model import BookingRecord
from projections.hall.queries import BookingView, HallDay, HallStatus, WaitStats

TICKET_STATE_LABELS: dict[str, str] = {
    "issued": N_("Issued, not called"),
    "called": N_("Called"),
    "skipped": N_("Skipped (no-show at the window)"),
    "serving": N_("Being served"),
    "done": N_("Service ended"),
}

BOOKING_STATE_LABELS: dict[str, str] = {
    "created": N_("Booked"),
    "cancelled": N_("Cancelled"),
    "checked_in": N_("Checked in"),
}

CHANNEL_LABELS: dict[str, str] = {
    "online": N_("Online"),
    "phone": N_("Phone"),
    "kiosk": N_("Kiosk"),
    "mobile": N_("Mobile phone"),
    "booking": N_("Booking check-in"),
}


def minutes(seconds: float | None) -> str:
    """Format a duration in seconds as minutes with one decimal."""
    if seconds is None:
        return "-"
    return _("{minutes:.1f} min").format(minutes=seconds / 60)


def rate(value: float | None) -> str:
    """Format a share as a percentage, ``-`` when undefined."""
    return "-" if value is None else f"{value:.1%}"


def waits_text(waits: WaitStats) -> str:
    """Return one line on waits: count, average and 90th percentile."""
    return _(
        "Wait from issue to service start over {count} ticket(s): average {average}, "
        "90th percentile {p90}."
    ).format(count=waits.count, average=minutes(waits.average_s), p90=minutes(waits.p90_s))


# --- zwbus hall status ----------------------------------------------------------


def status_heading(status: HallStatus) -> str:
    """Return the headline of the state of a hall: live, or as a day that is over left it."""
    if status.day_over:
        return _(
            "Hall {hall}, {day} (the day is over): {served} served, {left_open} ticket(s) "
            "left open, never ended."
        ).format(
            hall=status.hall, day=status.day, served=status.served, left_open=status.left_open
        )
    return _(
        "Hall {hall}, {day}: {waiting} waiting, {serving} being served, {served} served."
    ).format(
        hall=status.hall,
        day=status.day,
        waiting=status.waiting,
        serving=status.serving,
        served=status.served,
    )


def left_open_note() -> str:
    """Explain what a ticket left open on a day that is over means."""
    return _(
        "Tickets left open were issued, called or being served when their day ended, and "
        "no later event ended them: an end event is missing, or the queue system does not "
        "send one. They are not waiting now."
    )


def queue_table(status: HallStatus) -> Table:
    """Build the table of a hall's queues now, or when a day that is over ended."""
    if status.day_over:
        table = Table(_("Queue"), _("Left open, not served"), _("Of which called"),
                      _("First not called"), title=_("Queues when the day ended"))
    else:
        table = Table(_("Queue"), _("Waiting"), _("Of which called"), _("Next to call"),
                      title=_("Queues"))
    for queue in status.queues:
        table.add_row(queue.queue, str(queue.waiting), str(queue.called),
                      queue.next_ticket_no or "-")
    return table


def window_table(status: HallStatus) -> Table:
    """Build the table of a hall's windows now, or when a day that is over ended."""
    if status.day_over:
        table = Table(_("Window"), _("Called, never started"), _("Service never ended"),
                      _("Staff"), _("Served"), title=_("Windows when the day ended"))
    else:
        table = Table(_("Window"), _("Called, not started"), _("Being served"), _("Staff"),
                      _("Served"), title=_("Windows"))
    for window in status.windows:
        table.add_row(
            window.window,
            ", ".join(window.calling) or "-",
            ", ".join(window.serving) or "-",
            window.staff or "-",
            str(window.served),
        )
    return table


def skipped_table(status: HallStatus) -> Table:
    """Build the table of a day's skipped tickets."""
    table = Table(_("Ticket number"), _("Queue"), _("Window"), _("Skipped at"),
                  title=_("Skipped tickets"))
    for ticket in status.skipped:
        table.add_row(ticket.ticket_no or ticket.ticket_id, ticket.queue or "-",
                      ticket.service_window or "-", show_time(ticket.skipped_at))
    return table


# --- zwbus hall day -------------------------------------------------------------


def day_heading(day: HallDay) -> str:
    """Return the headline of a hall's day."""
    return _("Hall {hall}, {day} (slots past as of {as_of}).").format(
        hall=day.hall, day=day.day, as_of=show_time(day.as_of)
    )


def slot_table(day: HallDay) -> Table:
    """Build the table of bookings per slot with no-shows."""
    table = Table(
        _("Slot"),
        _("Booked"),
        _("Cancelled"),
        _("Checked in"),
        _("No-shows"),
        _("Awaiting arrival"),
        _("No-show rate"),
        title=_("Bookings per slot"),
    )
    for slot in day.slots:
        table.add_row(
            f"{slot.slot_start[:5]}-{slot.slot_end[:5]}",
            str(slot.booked),
            str(slot.cancelled),
            str(slot.checked_in),
            str(slot.no_shows),
            str(slot.pending),
            rate(slot.no_show_rate),
        )
    table.add_row(
        _("Total"),
        str(day.bookings),
        str(day.cancelled),
        str(day.checked_in),
        str(day.no_shows),
        str(day.pending),
        rate(day.no_show_rate),
        style="bold",
    )
    return table


def ticket_table(day: HallDay) -> Table:
    """Build the table of a day's tickets per queue with waits.

    On a day that is over the waiting column gives way to the tickets left open.
    """
    table = Table(
        _("Queue"),
        _("Issued"),
        _("Left open (never ended)") if day.day_over else _("Waiting"),
        _("Served"),
        _("Skipped"),
        _("Average wait"),
        _("90th percentile wait"),
        title=_("Tickets per queue"),
    )
    for queue in day.queues:
        table.add_row(
            queue.queue,
            str(queue.issued),
            str(queue.left_open if day.day_over else queue.waiting),
            str(queue.served),
            str(queue.skipped),
            minutes(queue.waits.average_s),
            minutes(queue.waits.p90_s),
        )
    table.add_row(
        _("Total"),
        str(day.tickets),
        str(day.left_open if day.day_over else day.by_state["issued"] + day.by_state["called"]),
        str(day.served),
        str(day.skipped),
        minutes(day.waits.average_s),
        minutes(day.waits.p90_s),
        style="bold",
    )
    return table


def day_bookings_table(bookings: list[BookingRecord]) -> Table:
    """Build the table of a day's bookings: id, slot, channel, state and ticket."""
    table = Table(
        _("Booking id"),
        _("Slot"),
        _("Booking channel"),
        _("Booking state"),
        _("State since"),
        _("Ticket"),
        title=_("Bookings of the day"),
    )
    table.columns[0].overflow = "fold"
    for booking in bookings:
        slot = f"{(booking.slot_start or '')[:5]}-{(booking.slot_end or '')[:5]}"
        table.add_row(
            booking.booking_id,
            slot,
            label(CHANNEL_LABELS, booking.channel),
            label(BOOKING_STATE_LABELS, booking.state),
            show_time(booking.state_at),
            booking.ticket_id or "-",
        )
    return table


# --- zwbus hall booking ---------------------------------------------------------


def progress_text(view: BookingView) -> str:
    """Describe the booking's progress through the hall in one sentence."""
    ticket = view.ticket
    window = view.window or "-"
    if ticket is None:
        texts = {
            "booked": _("Booked; not checked in yet."),
            "cancelled": _("The booking was cancelled."),
            "checked_in": _("Checked in; the ticket has not reached the bus yet."),
        }
        return texts[view.progress]
    if view.progress == "waiting":
        return _("Waiting in queue {queue}: {ahead} waiting ticket(s) ahead.").format(
            queue=ticket.queue or "-", ahead=view.position
        )
    texts = {
        "called": _("Called to window {window}."),
        "skipped": _("Skipped at window {window}: did not come when called."),
        "serving": _("Being served at window {window}."),
        "done": _("Service ended at window {window}."),
    }
    return texts[view.progress].format(window=window)


def booking_table(view: BookingView) -> Table:
    """Build the two-column table of the online view of one booking."""
    booking = view.booking
    ticket = view.ticket
    table = Table(_("Field"), _("Value"), show_header=False)
    table.columns[1].overflow = "fold"
    slot = "-"
    if booking.slot_date is not None:
        start, end = (booking.slot_start or "")[:5], (booking.slot_end or "")[:5]
        slot = f"{booking.slot_date} {start}-{end}"
    rows = [
        (_("Booking id"), booking.booking_id),
        (_("Hall"), booking.hall),
        (_("Item"), booking.item_code or "-"),
        (_("Booking channel"), label(CHANNEL_LABELS, booking.channel)),
        (_("Slot"), slot),
        (_("Booking state"),
         f"{label(BOOKING_STATE_LABELS, booking.state)} · {show_time(booking.state_at)}"),
        (_("Progress"), progress_text(view)),
    ]
    if ticket is not None:
        rows += [
            (_("Ticket number"), f"{ticket.ticket_no or '-'} ({ticket.queue or '-'})"),
            (_("Ticket state"), label(TICKET_STATE_LABELS, ticket.state)),
            (_("Issued at"), show_time(ticket.issued_at)),
            (_("Called at"), show_time(ticket.called_at)),
            (_("Service started at"), show_time(ticket.started_at)),
            (_("Service ended at"), show_time(ticket.ended_at)),
            (_("Case produced"), ticket.case_code or ticket.case_local_no or "-"),
        ]
    for name, value in rows:
        table.add_row(name, value)
    return table
