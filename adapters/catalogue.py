"""The item catalogue (事项库) that case validation consults, folded from ZW_ITEMS."""

from __future__ import annotations

import structlog
from nats.js import JetStreamContext

from bus.reader import read_stream
from bus.streams import ITEMS
from contracts.envelope import EventDecodeError, decode_event
from contracts.item import ItemPublished, ItemRevoked

log = structlog.get_logger(__name__)


class ItemCatalogue:
    """Implementation codes (实施编码) of the items currently in the catalogue."""

    def __init__(self, codes: set[str] | None = None) -> None:
        self._codes = codes or set()

    def __contains__(self, item_code: object) -> bool:
        return item_code in self._codes

    def __len__(self) -> int:
        return len(self._codes)


async def load_catalogue(js: JetStreamContext) -> ItemCatalogue:
    """Fold the item stream: published items are in, revoked ones are out."""
    codes: set[str] = set()
    async for message in read_stream(js, ITEMS):
        try:
            event = decode_event(message.data)
        except EventDecodeError as exc:
            log.error(
                "item_event_undecodable",
                subject=message.subject,
                seq=message.metadata.sequence.stream,
                error=exc.reason,
            )
            continue
        if isinstance(event.payload, ItemPublished):
            codes.add(event.payload.item_code)
        elif isinstance(event.payload, ItemRevoked):
            codes.discard(event.payload.item_code)
    log.info("item_catalogue_loaded", items=len(codes))
    return ItemCatalogue(codes)
