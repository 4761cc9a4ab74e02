"""The read-model interface of the runtime: stream, schema, contract check and apply step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import aiosqlite
import msgspec

from contracts.envelope import Envelope


class Delivered(msgspec.Struct, frozen=True):
    """A decoded event with the stream sequence and subject it was delivered on."""

    seq: int
    subject: str
    event: Envelope


class ApplyCounts(msgspec.Struct, kw_only=True):
    """Outcome counts of one ``apply`` call."""

    applied: int = 0
    duplicates: int = 0
    """Events whose id the read model already held; they change nothing."""


class Projection(Protocol):
    """A read model that the runtime feeds from one stream.

    ``check`` is the gate for events that decode but break the model's
    contract. An event that passes it must apply without error, because an
    error inside ``apply`` fails the whole batch and stops the projection.
    """

    name: str
    """Short name: the store file is ``<name>.sqlite`` and the consumer ``proj_<name>``."""
    stream: str

    def store_file(self, data_dir: Path) -> Path:
        """Return the database file of this projection."""
        ...

    async def create_schema(self, connection: aiosqlite.Connection) -> None:
        """Create the model's tables and indexes when missing."""
        ...

    def check(self, delivered: Delivered) -> str | None:
        """Return why the event cannot be applied, or None when it can."""
        ...

    async def apply(
        self, connection: aiosqlite.Connection, events: Sequence[Delivered]
    ) -> ApplyCounts:
        """Apply checked events in stream order inside the caller's transaction."""
        ...
