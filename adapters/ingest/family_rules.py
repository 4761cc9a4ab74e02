"""Sequence rules of reviews, hall bookings and tickets, and data sharing.

Each rule reads the write-side state of the record's own entity and of the
entities it names (the rated case, the booking a ticket came from, the
resource a request names) and returns a verdict: publish, wait (park)
until a named entity or predecessor reaches the bus, reject with a reason,
or count as already on the bus. ``record_published`` then updates the state
with the facts later rules need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from adapters.family_records import FamilyCandidate
from adapters.ingest.entity_state import EntityState, EntityStates, entity_key
from adapters.ingest.keys import kv_token
from contracts.details import detail_text
from contracts.hall import BOOKING_EVENTS, HALL_PREDECESSORS, HALL_RANK
from contracts.quarantine import Reason
from contracts.review import BAD_LEVELS, REVIEW_PREDECESSORS
from contracts.share import OBJECTION_EVENTS, RESOURCE_EVENTS, SHARE_PREDECESSORS

PREDECESSORS = REVIEW_PREDECESSORS | HALL_PREDECESSORS | SHARE_PREDECESSORS
RECALL_RANK = HALL_RANK["hall.ticket_called"]
"""A recall repeats the call, so it counts at the called rank."""


@dataclass(frozen=True)
class ResolvedRecord:
    """A candidate with the entity and case it belongs to, as far as the bus has them."""

    candidate: FamilyCandidate
    kind: str
    """Entity kind: review, booking, ticket, resource, request or objection."""
    entity_id: str | None
    """Id of the entity; None for a review whose rated case has no unified code yet."""
    key: str | None
    """State key of the entity (``entity_key``), None when ``entity_id`` is."""
    case_code: str | None
    """Unified code of the case the record names, when known."""
    case_wait: str | None
    """Dependency key of the case the record names and that must be on the bus."""
    event_id: str | None

    @property
    def event_type(self) -> str:
        return self.candidate.event_type


@dataclass(frozen=True)
class Publish:
    pass


@dataclass(frozen=True)
class Wait:
    """Park until the entity under ``on`` changes; ``waiting_for`` names what it waits for."""

    on: str
    waiting_for: tuple[str, ...]


@dataclass(frozen=True)
class Reject:
    reason: Reason


@dataclass(frozen=True)
class AlreadyOnBus:
    """Another event already made this one's change, such as a second rating of a review."""


Verdict = Publish | Wait | Reject | AlreadyOnBus
CaseCheck = Callable[[str], bool]
"""Tells whether a unified case code has events on the bus."""


def entity_kind(event_type: str) -> str:
    family = event_type.split(".", 1)[0]
    if family == "review":
        return "review"
    if family == "hall":
        return "booking" if event_type in BOOKING_EVENTS else "ticket"
    if event_type in RESOURCE_EVENTS:
        return "resource"
    return "objection" if event_type in OBJECTION_EVENTS else "request"


def case_dependency(code: str) -> str:
    return f"case.{kv_token(code)}"


def case_ref_dependency(system: str, local_no: str) -> str:
    return f"caseref.{kv_token(system)}.{kv_token(local_no)}"


def related_keys(item: ResolvedRecord, states: EntityStates) -> list[str]:
    """Return the state keys of the entities a record names; its own state must be loaded."""
    values = item.candidate.values
    if item.event_type == "hall.ticket_issued" and values.get("booking_id"):
        return [entity_key("booking", values["hall"], values["booking_id"])]
    if item.event_type in {"share.request_submitted", "share.objection_raised"}:
        return [entity_key("resource", values["resource_code"])]
    if item.event_type == "share.request_delivered" and item.key is not None:
        resource = states.state(item.key).parent
        return [entity_key("resource", resource)] if resource else []
    return []


def bus_dependencies(item: ResolvedRecord) -> tuple[str, ...]:
    """Return what ``evaluate`` waits for before it publishes the record's event.

    These are the event types of the record's own entity and of the entities
    it names, and ``case <code or local number>`` for a case that must be on
    the bus. The offline check kit lists them as checked on the bus. The rules
    that reject on the bus's state (a cancelled booking, a ticket going back,
    a resource that is not shared) are not listed.
    """
    needs = set(PREDECESSORS[item.event_type])
    values = item.candidate.values
    if item.event_type == "hall.ticket_issued" and values.get("booking_id"):
        needs.add("hall.booking_created")
    elif item.event_type == "share.request_submitted":
        needs.add("share.resource_published")
    elif item.event_type == "share.objection_raised":
        needs.add("share.request_delivered")
    if item.case_wait is not None:
        needs.add(f"case {item.case_code or values.get('local_no') or '-'}")
    return tuple(sorted(needs))


def evaluate(item: ResolvedRecord, states: EntityStates, case_exists: CaseCheck) -> Verdict:
    """Apply the sequence rules of the record's family to the current write-side state."""
    if item.key is None:
        return Wait(on=item.case_wait or "", waiting_for=("case",))
    state = states.state(item.key)
    family = item.event_type.split(".", 1)[0]
    if family == "review":
        return _review(item, state, case_exists)
    if family == "hall":
        return _hall(item, state, states, case_exists)
    return _share(item, state, states)


def _missing(item: ResolvedRecord, state: EntityState) -> Wait | None:
    missing = PREDECESSORS[item.event_type] - state.types
    if missing and item.key is not None:
        return Wait(on=item.key, waiting_for=tuple(sorted(missing)))
    return None


def _case_wait(item: ResolvedRecord, case_exists: CaseCheck) -> Wait | None:
    if item.case_wait is None:
        return None
    if item.case_code is not None and case_exists(item.case_code):
        return None
    return Wait(on=item.case_wait, waiting_for=(f"case {item.case_code or '-'}",))


def _review(item: ResolvedRecord, state: EntityState, case_exists: CaseCheck) -> Verdict:
    if item.event_type == "review.rated":
        if "review.rated" in state.types:
            return AlreadyOnBus()
        return _case_wait(item, case_exists) or Publish()

    waiting = _missing(item, state)
    if waiting is not None:
        return waiting
    if state.level is not None and state.level not in BAD_LEVELS:
        return Reject(
            Reason(
                code="review_not_bad",
                value=item.entity_id,
                detail=detail_text("review_level", level=state.level),
            )
        )
    if item.event_type == "review.rectification_assigned" and state.valid is not True:
        return Reject(
            Reason(
                code="review_not_valid",
                value=item.entity_id,
                detail=detail_text("review_not_genuine"),
            )
        )
    return Publish()


def _hall(
    item: ResolvedRecord, state: EntityState, states: EntityStates, case_exists: CaseCheck
) -> Verdict:
    event_type = item.event_type
    if event_type == "hall.booking_checked_in":
        waiting = _missing(item, state)
        if waiting is not None:
            return waiting
        if "hall.booking_cancelled" in state.types:
            return Reject(
                Reason(
                    code="booking_cancelled",
                    value=item.entity_id,
                    detail=detail_text("booking_cancelled"),
                )
            )
        if "hall.booking_checked_in" in state.types:
            return Reject(
                Reason(
                    code="booking_checked_in_twice",
                    value=item.entity_id,
                    detail=detail_text("booking_checked_in"),
                )
            )
        return Publish()
    if event_type in BOOKING_EVENTS:
        return _missing(item, state) or Publish()

    if event_type == "hall.ticket_issued":
        booking = related_keys(item, states)
        if booking and "hall.booking_created" not in states.state(booking[0]).types:
            return Wait(on=booking[0], waiting_for=("hall.booking_created",))
    waiting = _missing(item, state)
    if waiting is not None:
        return waiting
    reached = max((_ticket_rank(kind) for kind in state.types), default=0)
    if _ticket_rank(event_type) < reached:
        return Reject(
            Reason(
                code="ticket_backwards",
                value=item.entity_id,
                detail=detail_text(
                    "ticket_after", event_type=event_type, furthest=_furthest(state)
                ),
            )
        )
    return _case_wait(item, case_exists) or Publish()


def _ticket_rank(event_type: str) -> int:
    if event_type == "hall.ticket_recalled":
        return RECALL_RANK
    return HALL_RANK[event_type]


def _furthest(state: EntityState) -> str:
    return max(state.types, key=_ticket_rank)


def _share(item: ResolvedRecord, state: EntityState, states: EntityStates) -> Verdict:
    event_type = item.event_type
    if event_type == "share.request_submitted":
        (resource_key,) = related_keys(item, states)
        resource = states.state(resource_key)
        if "share.resource_published" not in resource.types:
            return Wait(on=resource_key, waiting_for=("share.resource_published",))
        if resource.share_type == "none":
            return _not_shareable(item, detail_text("resource_not_shared"))
        if "share.resource_withdrawn" in resource.types:
            return _not_shareable(item, detail_text("resource_withdrawn"))
        return Publish()
    if event_type == "share.objection_raised":
        (resource_key,) = related_keys(item, states)
        if not states.state(resource_key).delivered:
            return Wait(on=resource_key, waiting_for=("share.request_delivered",))
        return Publish()

    waiting = _missing(item, state)
    if waiting is not None:
        return waiting
    if event_type == "share.request_delivered":
        resources = related_keys(item, states)
        conditional = bool(resources) and states.state(resources[0]).share_type == "conditional"
        if conditional and "share.request_approved" not in state.types:
            return Reject(
                Reason(
                    code="approval_required",
                    value=item.entity_id,
                    detail=detail_text("resource_conditional", resource=state.parent),
                )
            )
    return Publish()


def _not_shareable(item: ResolvedRecord, detail: str) -> Reject:
    return Reject(
        Reason(
            code="resource_not_shareable",
            value=item.candidate.values.get("resource_code"),
            detail=detail,
        )
    )


def record_published(item: ResolvedRecord, states: EntityStates) -> list[str]:
    """Update the write-side state with a published event; returns the keys it changed."""
    if item.key is None:
        return []
    values = item.candidate.values
    state = states.changed(item.key)
    state.types.add(item.event_type)
    touched = [item.key]
    match item.event_type:
        case "review.rated":
            state.level = values["level"]
            state.parent = item.case_code
        case "review.verified":
            state.valid = values["valid"]
        case "hall.ticket_issued":
            state.parent = values.get("booking_id")
        case "share.resource_published" | "share.resource_changed":
            if values.get("share_type"):
                state.set_share_type(values["share_type"], item.candidate.occurred_at)
        case "share.request_submitted":
            state.parent = values["resource_code"]
        case "share.request_delivered":
            for resource_key in related_keys(item, states):
                states.changed(resource_key).delivered = True
                touched.append(resource_key)
    return touched
