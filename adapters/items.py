"""Item catalogue (事项库) import from a provincial portal's published list.

The portal's list groups items by department; each item's link carries the
implementation code (itemCode), the item type number (taskType), the
department code (deptCode) and the 12-digit region (areaCode). Real lists
contain department codes of the wrong length and placeholders, so each
entry is checked and a bad one is quarantined with its reasons; the good
ones are published as ``item.published`` events, which case validation
folds into the catalogue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import structlog

from adapters.ingest.index import EventIndex
from adapters.ingest.quarantine_book import QuarantineBook
from adapters.ingest.tally import Tally
from bus.connect import open_bus
from bus.errors import ConfigError, StreamError
from bus.i18n import N_
from bus.publisher import Publisher
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.details import detail_text
from contracts.envelope import Source, encode_event, make_envelope
from contracts.identifiers import (
    Problem,
    check_department_code,
    check_region_code,
    parse_item_code,
)
from contracts.ids import ingested_event_id
from contracts.item import ItemPublished
from contracts.quarantine import Reason, RecordPosition
from contracts.subjects import entity_subject

log = structlog.get_logger(__name__)

KNOWN_ITEM_TYPES = frozenset({"1", "5", "7", "8", "9", "10", "20"})
"""Item type numbers the Sichuan portal uses; their meaning is the portal's own numbering."""
DEFAULT_SOURCE_ID = "item-catalogue"


@dataclass(frozen=True)
class CatalogueEntry:
    """One item as the portal lists it."""

    position: int
    department_name: str
    name: str
    item_code: str
    item_type: str
    department_code: str
    area_code: str
    link: str
    raw: str


def read_catalogue(path: Path) -> Iterator[CatalogueEntry]:
    """Yield the entries of a portal catalogue file (JSON, grouped by department)."""
    try:
        groups = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            N_("Catalogue {path} cannot be read as JSON: {detail}"), path=str(path), detail=str(exc)
        ) from exc
    if not isinstance(groups, list):
        raise ConfigError(
            N_("Catalogue {path} must be a JSON list of departments."), path=str(path)
        )
    position = 0
    for group in groups:
        for section in group.get("items", []):
            for item in section.get("sub_items", []):
                position += 1
                link = str(item.get("link", ""))
                query = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
                yield CatalogueEntry(
                    position=position,
                    department_name=str(group.get("department", "")),
                    name=str(item.get("name", "")).strip(),
                    item_code=query.get("itemCode", "").strip(),
                    item_type=query.get("taskType", "").strip(),
                    department_code=query.get("deptCode", "").strip(),
                    area_code=query.get("areaCode", "").strip(),
                    link=link,
                    raw=json.dumps(item, ensure_ascii=False),
                )


def check_catalogue_entry(entry: CatalogueEntry) -> tuple[Reason, ...]:
    """Return the rules an entry fails; empty when it may enter the catalogue."""
    reasons: list[Reason] = []
    if not entry.name:
        reasons.append(Reason(code="item_name_missing", field="name"))

    parsed = parse_item_code(entry.item_code)
    if isinstance(parsed, Problem):
        reasons.append(
            Reason(
                code="item_code_invalid",
                field="itemCode",
                value=entry.item_code,
                detail=parsed.detail,
            )
        )
    else:
        embedded = check_department_code(parsed.department_code)
        if embedded is not None:
            reasons.append(
                Reason(
                    code="department_code_invalid",
                    field="itemCode",
                    value=parsed.department_code,
                    detail=embedded.detail,
                )
            )

    listed = check_department_code(entry.department_code)
    if listed is not None:
        reasons.append(
            Reason(
                code="department_code_invalid",
                field="deptCode",
                value=entry.department_code,
                detail=listed.detail,
            )
        )
    if entry.item_type not in KNOWN_ITEM_TYPES:
        reasons.append(Reason(code="item_type_unknown", field="taskType", value=entry.item_type))
    region_problem = _area_code_problem(entry.area_code)
    if region_problem is not None:
        reasons.append(
            Reason(
                code="region_unknown",
                field="areaCode",
                value=entry.area_code,
                detail=region_problem,
            )
        )
    return tuple(reasons)


def _area_code_problem(area_code: str) -> str | None:
    """Return why a 12-digit area code (区划代码) names no known region, or None."""
    if len(area_code) != 12:
        return detail_text("length", length=len(area_code), expected=12)
    problem = check_region_code(area_code[:6])
    return None if problem is None else problem.detail


def _published_payload(entry: CatalogueEntry) -> ItemPublished:
    parsed = parse_item_code(entry.item_code)
    if isinstance(parsed, Problem):
        raise ValueError(f"item code {entry.item_code!r} is invalid: {parsed.detail}")
    return ItemPublished(
        item_code=entry.item_code,
        name=entry.name,
        basic_code=parsed.basic_code,
        department_code=parsed.department_code,
        department_name=entry.department_name,
        item_type=entry.item_type,
        region12=entry.area_code,
        link=entry.link or None,
    )


async def import_catalogue(
    settings: Settings, path: Path, *, source_id: str = DEFAULT_SOURCE_ID
) -> Tally:
    """Publish the good entries of a catalogue file and quarantine the bad ones."""
    tally = Tally(files=1)
    now = datetime.now(UTC)
    async with open_bus(settings, name="zwbus-items") as (client, js):
        await ensure_streams(js)
        async with Publisher(client) as publisher:
            index = EventIndex(js, publisher)
            book = QuarantineBook(js, publisher, source_id)
            await book.load()
            pending = []
            good: list[tuple[CatalogueEntry, ItemPublished, str]] = []

            for entry in read_catalogue(path):
                tally.read += 1
                reasons = check_catalogue_entry(entry)
                if reasons:
                    tally.quarantined += 1
                    tally.reasons.update({reason.code for reason in reasons})
                    region = entry.area_code[:6] or None
                    future = await book.add(
                        system=source_id,
                        family="item",
                        record_key=entry.item_code or f"{path.name}#{entry.position}",
                        event_type="item.published",
                        region=region,
                        position=RecordPosition(location=path.name, record=entry.position),
                        reasons=reasons,
                        original=entry.raw,
                    )
                    if future is not None:
                        pending.append(future)
                    continue
                payload = _published_payload(entry)
                version = hashlib.sha256(encode_event_payload(payload)).hexdigest()[:16]
                good.append(
                    (entry, payload, ingested_event_id(source_id, entry.item_code, version))
                )

            claims = await index.claim(event_id for _, _, event_id in good)
            published = []
            for entry, payload, event_id in good:
                if claims[event_id]:
                    tally.duplicates += 1
                    continue
                envelope = make_envelope(
                    payload,
                    id=event_id,
                    occurred_at=now,
                    recorded_at=now,
                    source=Source(adapter=source_id, system=source_id),
                    region=entry.area_code[:6],
                    department=payload.department_code,
                    key=entry.item_code,
                    correlation_id=entry.item_code,
                )
                future = await publisher.publish(
                    entity_subject("item", entry.area_code[:6], entry.item_code),
                    encode_event(envelope),
                    {"Nats-Msg-Id": event_id, "Zw-Type": envelope.type},
                )
                published.append((entry, event_id, future))

            for entry, event_id, future in published:
                ack = await future
                if not ack.ok:
                    raise StreamError(
                        N_("The bus rejected event {event_id}: {detail}"),
                        event_id=event_id,
                        detail=ack.error,
                    )
                if ack.duplicate:
                    tally.duplicates += 1
                else:
                    tally.published += 1
                pending.append(await index.record(event_id, ack.seq))
                pending.extend(
                    await book.resolve(entry.item_code, family="item", event_id=event_id)
                )
            for future in pending:
                await future
            tally.resolved = book.resolved
    log.info(
        "item_catalogue_imported",
        file=path.name,
        read=tally.read,
        published=tally.published,
        duplicates=tally.duplicates,
        quarantined=tally.quarantined,
    )
    return tally


def encode_event_payload(payload: ItemPublished) -> bytes:
    """Stable bytes of an item's content, so that a changed item gets a new event id."""
    return json.dumps(
        [
            payload.item_code,
            payload.name,
            payload.department_code,
            payload.department_name,
            payload.item_type,
            payload.region12,
        ],
        ensure_ascii=False,
    ).encode()
