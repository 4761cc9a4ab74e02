"""The sharing model gives the same rows whatever the order, batching and repetition of events."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import tempfile
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope
from contracts.share import DataItem
from projections.base import Delivered
from projections.checkpoint_store import ProjectionStore, store_path
from projections.pseudonym import Pseudonymizer
from projections.sharing import SharingProjection
from tests.projections.helpers import at, subject_of
from tests.projections.sharing_helpers import request_flow, share_event

PROJECTION = SharingProjection(Pseudonymizer(b"test-key-of-thirty-two-bytes-000"))
ENTITY_TABLES = ("sharing_resources", "sharing_requests", "sharing_objections")

# Ties on business time and rank are the hard case: the event id decides them.
TIE = at("2026-10-09", "09:00")
RENAMED_FIRST = share_event("resource_changed", "RES-1", TIE, name="甲", format="file")
RENAMED_SECOND = share_event("resource_changed", "RES-1", TIE, name="乙")
DENIED_FIRST = share_event("request_denied", "REQ-2", TIE, reason="理由一")
DENIED_SECOND = share_event("request_denied", "REQ-2", TIE, reason="理由二")
CORRECTED = share_event("objection_resolved", "OBJ-1", TIE, outcome="corrected")
UPHELD = share_event("objection_resolved", "OBJ-1", TIE, outcome="upheld", note="维持")
RAISED_NAME = share_event("objection_raised", "OBJ-1", at("2026-10-08"), field="姓名")
RAISED_ADDRESS = share_event("objection_raised", "OBJ-1", at("2026-10-08"), field="住址")
EVENTS: list[Envelope] = [
    share_event("resource_published", "RES-1", at("2026-10-08")),
    RENAMED_FIRST,
    RENAMED_SECOND,
    share_event("resource_changed", "RES-1", at("2026-10-12"),
                data_items=(DataItem(name="住址"),)),
    share_event("resource_withdrawn", "RES-1", at("2026-10-20")),
    *request_flow("REQ-1"),
    share_event("request_revoked", "REQ-1", at("2026-10-13"), reason="到期"),
    share_event("request_submitted", "REQ-2", at("2026-10-09")),
    DENIED_FIRST,
    DENIED_SECOND,
    share_event("request_approved", "REQ-2", at("2026-10-12")),
    RAISED_NAME,
    RAISED_ADDRESS,
    CORRECTED,
    UPHELD,
]


Rows = dict[str, list[dict[str, object]]]


def entity_rows(path: Path) -> Rows:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return {
            table: [dict(row) for row in connection.execute(f"SELECT * FROM {table} ORDER BY 1")]
            for table in ENTITY_TABLES
        }
    finally:
        connection.close()


async def apply_in_batches(path: Path, batches: list[list[Envelope]]) -> int:
    """Apply each batch in its own transaction, as the runner does; return the duplicates."""
    duplicates = 0
    seq = 0
    async with ProjectionStore.open(path, projection="sharing") as store:
        await PROJECTION.create_schema(store.connection)
        for batch in batches:
            delivered = []
            for event in batch:
                seq += 1
                delivered.append(Delivered(seq, subject_of(event), event))
            for item in delivered:
                assert PROJECTION.check(item) is None
            async with store.transaction() as connection:
                counts = await PROJECTION.apply(connection, delivered)
            duplicates += counts.duplicates
    return duplicates


def build(batches: list[list[Envelope]]) -> tuple[Rows, int]:
    with tempfile.TemporaryDirectory() as folder:
        path = store_path(Path(folder), "sharing")
        duplicates = asyncio.run(apply_in_batches(path, batches))
        return entity_rows(path), duplicates


@cache
def reference() -> Rows:
    """The rows from the events in list order, in one batch."""
    rows, _duplicates = build([EVENTS])
    return rows


def tie_winner(*events: Envelope) -> Envelope:
    """Return the event that wins a tie on business time and rank: the greatest id."""
    return max(events, key=lambda event: event.id)


def test_ties_and_forward_states_in_reference() -> None:
    [resource] = reference()["sharing_resources"]
    first_request, second_request = reference()["sharing_requests"]
    [objection] = reference()["sharing_objections"]
    renamed = tie_winner(RENAMED_FIRST, RENAMED_SECOND)
    denial = tie_winner(DENIED_FIRST, DENIED_SECOND)
    resolution = tie_winner(CORRECTED, UPHELD)
    raised = tie_winner(RAISED_NAME, RAISED_ADDRESS)

    assert resource["state"] == "withdrawn"
    assert resource["name"] == renamed.payload.name  # type: ignore[union-attr]
    assert resource["format"] == "file"
    assert resource["data_items"] == '[{"name":"住址","data_type":"string"}]'
    assert first_request["state"] == "revoked"
    assert first_request["revoke_reason"] == "到期"
    assert second_request["state"] == "approved"
    assert second_request["denial_reason"] == denial.payload.reason  # type: ignore[union-attr]
    assert objection["state"] == resolution.payload.outcome  # type: ignore[union-attr]
    assert objection["field"] == raised.payload.field  # type: ignore[union-attr]
    assert objection["raised_at"] == "2026-10-08T09:00:00.000000+08:00"
    assert objection["note"] == resolution.payload.note  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(
    order=st.permutations(EVENTS),
    cuts=st.lists(st.integers(min_value=1, max_value=len(EVENTS) - 1), max_size=6),
    repeats=st.lists(st.sampled_from(EVENTS), max_size=5),
)
def test_any_order_gives_same_rows(
    order: list[Envelope], cuts: list[int], repeats: list[Envelope]
) -> None:
    arrival = [*order, *repeats]
    bounds = [0, *sorted(set(cuts)), len(arrival)]
    batches = [arrival[start:end] for start, end in itertools.pairwise(bounds)]

    rows, duplicates = build([batch for batch in batches if batch])

    assert rows == reference()
    assert duplicates == len(repeats)
