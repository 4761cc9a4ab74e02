"""Streams and key-value buckets, declared once here and applied idempotently.

Domain streams keep history forever and deny delete and purge: the history
is the record. Key-value buckets are streams too (``KV_<bucket>``) and are
declared here with the configuration nats-py's key-value API expects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from bus.errors import StreamError
from bus.i18n import N_

DAY_S = 24 * 3600.0


def _domain(name: str, subject: str, description: str) -> StreamConfig:
    return StreamConfig(
        name=name,
        description=description,
        subjects=[subject],
        storage=StorageType.FILE,
        max_age=0,
        duplicate_window=timedelta(minutes=10).total_seconds(),
        deny_delete=True,
        deny_purge=True,
        allow_direct=True,
        num_replicas=1,
    )


def _bucket(name: str, description: str, *, history: int = 1) -> StreamConfig:
    return StreamConfig(
        name=f"KV_{name}",
        description=description,
        subjects=[f"$KV.{name}.>"],
        storage=StorageType.FILE,
        max_msgs_per_subject=history,
        discard=DiscardPolicy.NEW,
        allow_rollup_hdrs=True,
        deny_delete=True,
        allow_direct=True,
        num_replicas=1,
        duplicate_window=120.0,
    )


CASES = "ZW_CASES"
REVIEWS = "ZW_REVIEWS"
HALL = "ZW_HALL"
SHARING = "ZW_SHARING"
ITEMS = "ZW_ITEMS"
QUARANTINE = "ZW_QUARANTINE"
OPS = "ZW_OPS"
DEADLETTER = "ZW_DEADLETTER"

EVENT_IDS = "ZW_EVENT_IDS"
CASE_CODES = "ZW_CASE_CODES"
CASE_STATE = "ZW_CASE_STATE"
ENTITY_STATE = "ZW_ENTITY_STATE"
PARKED = "ZW_PARKED"
SOURCES = "ZW_SOURCES"

DECLARED: tuple[StreamConfig, ...] = (
    _domain(CASES, "zw.case.>", "Case (办件) events"),
    _domain(REVIEWS, "zw.review.>", "Review (好差评) events"),
    _domain(HALL, "zw.hall.>", "Hall booking and queue (预约/取号/叫号) events"),
    _domain(SHARING, "zw.share.>", "Data-sharing (数据共享) events"),
    _domain(ITEMS, "zw.item.>", "Item catalogue (事项库) events"),
    StreamConfig(
        name=QUARANTINE,
        description="Rejected records with their reasons, kept until corrected or released",
        subjects=["zw.quarantine.>"],
        storage=StorageType.FILE,
        max_age=0,
        duplicate_window=timedelta(minutes=10).total_seconds(),
        allow_direct=True,
        num_replicas=1,
    ),
    StreamConfig(
        name=OPS,
        description="Heartbeats and bus-internal signals",
        subjects=["zw.ops.>"],
        storage=StorageType.FILE,
        max_age=DAY_S,
        duplicate_window=120.0,
        num_replicas=1,
    ),
    StreamConfig(
        name=DEADLETTER,
        description="Events a return-flow sink could not deliver, with the last error",
        subjects=["zw.deadletter.>"],
        storage=StorageType.FILE,
        max_age=0,
        duplicate_window=timedelta(minutes=10).total_seconds(),
        allow_direct=True,
        num_replicas=1,
    ),
    _bucket(EVENT_IDS, "Create-only index of ingested event ids: id -> stream sequence"),
    _bucket(CASE_CODES, "Unified case codes (统一办件编码) and their local-number mapping"),
    _bucket(CASE_STATE, "Write-side state per case: event types already on the bus"),
    _bucket(
        ENTITY_STATE,
        "Write-side state per review, booking, ticket, resource, request and objection",
    ),
    _bucket(PARKED, "Events waiting for a predecessor event"),
    _bucket(SOURCES, "Source positions: how far each file or table has been ingested"),
)

_COMPARED_FIELDS = (
    "description",
    "subjects",
    "storage",
    "max_age",
    "max_msgs_per_subject",
    "duplicate_window",
    "deny_delete",
    "deny_purge",
    "allow_direct",
    "allow_rollup_hdrs",
    "discard",
    "num_replicas",
)
_FIXED_FIELDS = frozenset({"storage"})
"""Fields JetStream cannot change on an existing stream."""


@dataclass(frozen=True)
class Difference:
    field: str
    current: object
    declared: object


@dataclass(frozen=True)
class Change:
    """Planned change to one stream when the declaration is applied."""

    stream: str
    action: Literal["create", "update", "unchanged", "conflict"]
    differences: list[Difference] = field(default_factory=list)


def _normalised(config: StreamConfig, name: str) -> object:
    value = getattr(config, name)
    if name == "subjects":
        return sorted(value or [])
    if name in {"max_age", "duplicate_window"}:
        return round(float(value or 0), 3)
    if name in {"deny_delete", "deny_purge", "allow_direct", "allow_rollup_hdrs"}:
        return bool(value)
    if name == "description":
        return value or ""
    if name == "max_msgs_per_subject":
        return value if value not in (None, 0) else -1
    if name == "num_replicas":
        return value or 1
    if name == "discard":
        return value or DiscardPolicy.OLD
    return value


def _with_replicas(declared: StreamConfig, replicas: int) -> StreamConfig:
    values = declared.as_dict()
    values["num_replicas"] = replicas
    config: StreamConfig = StreamConfig.from_response(values)
    return config


async def plan(js: JetStreamContext, *, replicas: int = 1) -> list[Change]:
    """Compare the declared streams and buckets with the server's."""
    changes: list[Change] = []
    for declared in DECLARED:
        wanted = _with_replicas(declared, replicas)
        name = str(wanted.name)
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            changes.append(Change(name, "create"))
            continue
        differences = [
            Difference(key, _normalised(info.config, key), _normalised(wanted, key))
            for key in _COMPARED_FIELDS
            if _normalised(info.config, key) != _normalised(wanted, key)
        ]
        if not differences:
            changes.append(Change(name, "unchanged"))
        elif any(item.field in _FIXED_FIELDS for item in differences):
            changes.append(Change(name, "conflict", differences))
        else:
            changes.append(Change(name, "update", differences))
    return changes


async def apply(js: JetStreamContext, changes: Iterable[Change], *, replicas: int = 1) -> None:
    """Create and update streams as planned; raises ``StreamError`` on a conflict."""
    declared = {config.name: config for config in DECLARED}
    for change in changes:
        if change.action == "unchanged":
            continue
        if change.action == "conflict":
            fields = ", ".join(item.field for item in change.differences)
            raise StreamError(
                N_(
                    "Stream {stream} differs in {fields}, which cannot be changed in place. "
                    "Create a new stream and move the data with a mirror, or point "
                    "zwbus at an empty server."
                ),
                stream=change.stream,
                fields=fields,
            )
        wanted = _with_replicas(declared[change.stream], replicas)
        if change.action == "create":
            await js.add_stream(config=wanted)
        else:
            await js.update_stream(config=wanted)


async def ensure_streams(js: JetStreamContext) -> list[Change]:
    """Apply the declaration quietly before work that needs the streams; return what changed."""
    changes = await plan(js)
    await apply(js, changes)
    return [change for change in changes if change.action != "unchanged"]
