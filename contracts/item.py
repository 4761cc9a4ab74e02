"""Item catalogue (事项库) event payloads."""

from __future__ import annotations

import msgspec


class _ItemBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    item_code: str
    """Implementation code (实施编码), the item's key on the bus."""


class ItemPublished(_ItemBase, tag="item.published", frozen=True, kw_only=True):
    """An item entered the catalogue or was republished with new details."""

    name: str
    basic_code: str
    """Basic code (基本编码) shared by every region's implementation of the item."""
    department_code: str
    department_name: str
    item_type: str
    """Item type number as the source catalogue numbers it (portal numbering)."""
    region12: str
    """12-digit region code embedded in the implementation code."""
    promised_days: int | None = None
    legal_basis: str | None = None
    link: str | None = None


class ItemChanged(_ItemBase, tag="item.changed", frozen=True, kw_only=True):
    """Details of a published item changed; absent fields keep their value."""

    name: str | None = None
    department_name: str | None = None
    promised_days: int | None = None


class ItemSuspended(_ItemBase, tag="item.suspended", frozen=True, kw_only=True):
    """The item is temporarily not accepting applications."""

    reason: str | None = None


class ItemRevoked(_ItemBase, tag="item.revoked", frozen=True, kw_only=True):
    """The item left the catalogue."""

    reason: str | None = None


ItemPayload = ItemPublished | ItemChanged | ItemSuspended | ItemRevoked

ITEM_PAYLOADS: tuple[type[_ItemBase], ...] = (
    ItemPublished,
    ItemChanged,
    ItemSuspended,
    ItemRevoked,
)

ITEM_VERSIONS: dict[str, int] = {str(cls.__struct_config__.tag): 1 for cls in ITEM_PAYLOADS}
