"""Data sharing (数据共享) event payloads: catalogue resources, requests, objections.

Three kinds of entity share the family: a resource of the catalogue (目录,
keyed by its resource code), a request for it (keyed by the request id) and
an objection to a delivered value (数据异议, keyed by the objection id).
"""

from __future__ import annotations

from typing import Literal

import msgspec

ShareType = Literal["unconditional", "conditional", "none"]
"""共享类型: 无条件共享, 有条件共享, 不予共享."""

SHARE_TYPE_NAMES_ZH: dict[str, str] = {
    "unconditional": "无条件共享",
    "conditional": "有条件共享",
    "none": "不予共享",
}

OpenType = Literal["open", "conditional", "closed"]
"""开放属性: 无条件开放, 有条件开放, 不予开放."""

DeliveryChannel = Literal["api", "file", "database"]
ObjectionOutcome = Literal["corrected", "upheld"]
"""``corrected``: the provider fixed the value; ``upheld``: the value stands."""


class DataItem(msgspec.Struct, frozen=True, kw_only=True):
    """One data item (信息项) of a resource."""

    name: str
    data_type: str = "string"


class _ShareBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    system: str
    remark: str | None = None


class _ResourceBase(_ShareBase, frozen=True, kw_only=True):
    resource_code: str


class _RequestBase(_ShareBase, frozen=True, kw_only=True):
    request_id: str


class _ObjectionBase(_ShareBase, frozen=True, kw_only=True):
    objection_id: str


class ResourcePublished(
    _ResourceBase, tag="share.resource_published", frozen=True, kw_only=True
):
    """A resource entered the sharing catalogue (目录发布)."""

    name: str
    provider: str
    """Department code of the provider (提供方)."""
    provider_name: str | None = None
    share_type: ShareType
    share_condition: str | None = None
    open_type: OpenType = "closed"
    update_cycle: str | None = None
    """更新周期 as the catalogue states it (实时, 每日, 每月 …)."""
    format: str | None = None
    data_items: tuple[DataItem, ...] = ()


class ResourceChanged(_ResourceBase, tag="share.resource_changed", frozen=True, kw_only=True):
    """Catalogue details changed; absent fields keep their value."""

    name: str | None = None
    share_type: ShareType | None = None
    share_condition: str | None = None
    open_type: OpenType | None = None
    update_cycle: str | None = None
    format: str | None = None
    data_items: tuple[DataItem, ...] | None = None


class ResourceWithdrawn(
    _ResourceBase, tag="share.resource_withdrawn", frozen=True, kw_only=True
):
    """The resource left the catalogue."""


class RequestSubmitted(_RequestBase, tag="share.request_submitted", frozen=True, kw_only=True):
    """A department asked to use a resource (共享申请)."""

    resource_code: str
    requester: str
    """Department code of the requester."""
    requester_name: str | None = None
    purpose: str
    data_items: tuple[str, ...] = ()


class RequestApproved(_RequestBase, tag="share.request_approved", frozen=True, kw_only=True):
    """The provider (or the data authority) approved the request."""


class RequestDenied(_RequestBase, tag="share.request_denied", frozen=True, kw_only=True):
    """The request was refused; a refusal states its reason."""

    reason: str


class RequestDelivered(_RequestBase, tag="share.request_delivered", frozen=True, kw_only=True):
    """Data was delivered for the request (one delivery; there may be several)."""

    count: int
    """Records or calls delivered."""
    channel: DeliveryChannel


class RequestRevoked(_RequestBase, tag="share.request_revoked", frozen=True, kw_only=True):
    """An approved or delivering request was revoked."""

    reason: str | None = None


class ObjectionRaised(_ObjectionBase, tag="share.objection_raised", frozen=True, kw_only=True):
    """A user of delivered data disputes a value (数据异议)."""

    resource_code: str
    request_id: str | None = None
    record_key: str
    field: str
    claimed_value: str
    raised_by: str
    """Department code of the objecting unit."""


class ObjectionResolved(
    _ObjectionBase, tag="share.objection_resolved", frozen=True, kw_only=True
):
    """The provider resolved the objection."""

    outcome: ObjectionOutcome
    note: str | None = None


SharePayload = (
    ResourcePublished
    | ResourceChanged
    | ResourceWithdrawn
    | RequestSubmitted
    | RequestApproved
    | RequestDenied
    | RequestDelivered
    | RequestRevoked
    | ObjectionRaised
    | ObjectionResolved
)

SHARE_PAYLOADS: tuple[type[_ShareBase], ...] = (
    ResourcePublished,
    ResourceChanged,
    ResourceWithdrawn,
    RequestSubmitted,
    RequestApproved,
    RequestDenied,
    RequestDelivered,
    RequestRevoked,
    ObjectionRaised,
    ObjectionResolved,
)

SHARE_EVENT_NAMES: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag).removeprefix("share.") for cls in SHARE_PAYLOADS
)

RESOURCE_EVENTS: frozenset[str] = frozenset(
    {"share.resource_published", "share.resource_changed", "share.resource_withdrawn"}
)
OBJECTION_EVENTS: frozenset[str] = frozenset(
    {"share.objection_raised", "share.objection_resolved"}
)

SHARE_PREDECESSORS: dict[str, frozenset[str]] = {
    "share.resource_published": frozenset(),
    "share.resource_changed": frozenset({"share.resource_published"}),
    "share.resource_withdrawn": frozenset({"share.resource_published"}),
    "share.request_submitted": frozenset(),
    "share.request_approved": frozenset({"share.request_submitted"}),
    "share.request_denied": frozenset({"share.request_submitted"}),
    "share.request_delivered": frozenset({"share.request_submitted"}),
    "share.request_revoked": frozenset({"share.request_approved"}),
    "share.objection_raised": frozenset(),
    "share.objection_resolved": frozenset({"share.objection_raised"}),
}
"""Events of the same entity that must be on the bus first. The rules that
look across entities (a request's resource exists and may be shared, a
conditional resource's request is approved before delivery, an objection
names a delivered resource) are applied by the ingest."""

SHARE_RANK: dict[str, int] = {
    "share.resource_published": 10,
    "share.resource_changed": 20,
    "share.resource_withdrawn": 90,
    "share.request_submitted": 10,
    "share.request_approved": 20,
    "share.request_denied": 20,
    "share.request_delivered": 30,
    "share.request_revoked": 90,
    "share.objection_raised": 10,
    "share.objection_resolved": 20,
}

SHARE_VERSIONS: dict[str, int] = {str(cls.__struct_config__.tag): 1 for cls in SHARE_PAYLOADS}
