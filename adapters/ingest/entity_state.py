"""Write-side state of reviews, bookings, tickets, resources, requests and objections.

Like the case state (``adapters.ingest.state``), each entity's entry in the
``ZW_ENTITY_STATE`` bucket lists its events on the bus with their stream
sequences and the event types among them. It also keeps the few facts that
the family's sequence rules consult: a review's level and verification, a
resource's share type and whether any request of it was delivered, and the
entity an entity belongs to. Keys name the kind first (``review.<id>``,
``booking.<hall>.<id>``, ``resource.<code>`` …), so that kinds never
collide.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from nats.js import JetStreamContext

from adapters.ingest.keys import kv_token
from adapters.ingest.state import KeyedStates, StateMessages
from bus.i18n import N_
from bus.publisher import Publisher
from bus.streams import ENTITY_STATE

ENTITY_KINDS = ("review", "booking", "ticket", "resource", "request", "objection")


class EntityState(msgspec.Struct, kw_only=True):
    """Events of one entity on the bus and the facts its family's rules consult."""

    events: dict[str, int] = msgspec.field(default_factory=dict)
    """Stream sequence of each event id of the entity."""
    types: set[str] = msgspec.field(default_factory=set)
    parent: str | None = None
    """Id of the entity this one belongs to: a review's unified case code, a
    ticket's booking id, a request's resource code."""
    level: int | None = None
    """Level of a review's rating."""
    valid: bool | None = None
    """Whether a bad review was verified as genuine."""
    share_type: str | None = None
    """A resource's share type, from its latest catalogue event."""
    share_type_at: datetime | None = None
    delivered: bool = False
    """Whether data of a resource was delivered for at least one request."""

    def merge(self, other: EntityState) -> None:
        """Add another writer's view of the same entity to this one."""
        self.events.update(other.events)
        self.types |= other.types
        self.parent = self.parent or other.parent
        self.level = self.level if self.level is not None else other.level
        self.valid = self.valid if self.valid is not None else other.valid
        self.delivered = self.delivered or other.delivered
        if other.share_type_at is not None and (
            self.share_type_at is None or other.share_type_at > self.share_type_at
        ):
            self.share_type = other.share_type
            self.share_type_at = other.share_type_at

    def set_share_type(self, share_type: str, at: datetime) -> None:
        """Keep the share type of the latest catalogue event by business time."""
        if self.share_type_at is None or at >= self.share_type_at:
            self.share_type = share_type
            self.share_type_at = at


def entity_key(kind: str, *ids: str) -> str:
    """Return the state key of an entity: its kind and its ids, each as one key token."""
    return ".".join((kind, *(kv_token(part) for part in ids)))


ENTITY_STATE_MESSAGES = StateMessages(
    write_failed=N_("Writing the state of {code} failed: {detail}"),
    kept_changing=N_(
        "The state of {count} reviews, bookings, tickets or sharing entities kept changing "
        "under another writer after {attempts} attempts; ingest this source again later."
    ),
)


class EntityStates(KeyedStates[EntityState]):
    """Entity states in ``ZW_ENTITY_STATE``, keyed by ``entity_key``."""

    def __init__(self, js: JetStreamContext, publisher: Publisher) -> None:
        super().__init__(
            js,
            publisher,
            bucket=ENTITY_STATE,
            state_type=EntityState,
            new_state=EntityState,
            messages=ENTITY_STATE_MESSAGES,
        )
