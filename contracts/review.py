"""Review (好差评) event payloads.

A review rates one service of one case through one channel. The rating and
its follow-up (verification of a bad review, rectification, revisit) share
the review's key, which is derived from the case, the channel and the rater,
so a second rating of the same case by the same rater through the same
channel is the same review: a duplicate, not a new vote.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Level = Annotated[int, msgspec.Meta(ge=1, le=5)]
"""Five levels: 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意."""

LEVEL_NAMES_ZH: dict[int, str] = {
    5: "非常满意",
    4: "满意",
    3: "基本满意",
    2: "不满意",
    1: "非常不满意",
}

BAD_LEVELS: frozenset[int] = frozenset({1, 2})
"""Levels that make a rating a bad review (差评) with follow-up duties."""

Channel = Literal["web", "mobile", "window", "terminal", "phone", "sms"]
"""Rating channels: 政务服务网, 移动端 (APP, mini programs), 窗口评价器,
自助终端, 12345 热线 and 短信."""

CHANNEL_NAMES_ZH: dict[str, str] = {
    "web": "政务服务网",
    "mobile": "移动端",
    "window": "窗口评价器",
    "terminal": "自助终端",
    "phone": "12345热线",
    "sms": "短信",
}

RaterType = Literal["person", "legal_person"]


class _ReviewBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every review event carries."""

    review_id: str
    """Key of the review on the bus, derived from case, channel and rater."""
    system: str
    """Identifier of the system that reported the event."""
    remark: str | None = None


class ReviewRated(_ReviewBase, tag="review.rated", frozen=True, kw_only=True):
    """A requester rated the service of a case (评价)."""

    case_code: str | None = None
    """Unified case code (统一办件编码), when the source gives it or the bus resolved it."""
    local_no: str | None = None
    """The rating system's own case number (办件编号), when it gives that instead."""
    item_code: str | None = None
    level: Level
    channel: Channel
    rater: str
    """Opaque rater reference (account or certificate number); pseudonymised in read models."""
    rater_type: RaterType = "person"
    reason_tags: tuple[str, ...] = ()
    """Indicator or reason codes chosen with the rating (e.g. ``510``)."""
    text: str | None = None
    is_default: bool = False
    """True for an automatic rating sent without a person's choice (默认好评)."""
    hall: str | None = None
    window: str | None = None
    staff: str | None = None


class ReviewVerified(_ReviewBase, tag="review.verified", frozen=True, kw_only=True):
    """A bad review was checked by callback (核实): genuine (真实有效) or not."""

    valid: bool


class ReviewRectificationAssigned(
    _ReviewBase, tag="review.rectification_assigned", frozen=True, kw_only=True
):
    """A genuine bad review was assigned for rectification (整改) to a unit."""

    assignee: str
    """Department code of the unit that must rectify."""


class ReviewRectified(_ReviewBase, tag="review.rectified", frozen=True, kw_only=True):
    """The assigned unit reported the rectification done."""


class ReviewRevisited(_ReviewBase, tag="review.revisited", frozen=True, kw_only=True):
    """The requester was called back (回访) and rated the outcome."""

    satisfaction: Level


ReviewPayload = (
    ReviewRated | ReviewVerified | ReviewRectificationAssigned | ReviewRectified | ReviewRevisited
)

REVIEW_PAYLOADS: tuple[type[_ReviewBase], ...] = (
    ReviewRated,
    ReviewVerified,
    ReviewRectificationAssigned,
    ReviewRectified,
    ReviewRevisited,
)

REVIEW_EVENT_NAMES: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag).removeprefix("review.") for cls in REVIEW_PAYLOADS
)

REVIEW_PREDECESSORS: dict[str, frozenset[str]] = {
    "review.rated": frozenset(),
    "review.verified": frozenset({"review.rated"}),
    "review.rectification_assigned": frozenset({"review.verified"}),
    "review.rectified": frozenset({"review.rectification_assigned"}),
    "review.revisited": frozenset({"review.rectified"}),
}
"""Events of the same review that must be on the bus first. A rating also
needs its case on the bus (a cross-family rule of the ingest)."""

REVIEW_RANK: dict[str, int] = {
    "review.rated": 10,
    "review.verified": 20,
    "review.rectification_assigned": 30,
    "review.rectified": 40,
    "review.revisited": 50,
}

REVIEW_VERSIONS: dict[str, int] = {str(cls.__struct_config__.tag): 1 for cls in REVIEW_PAYLOADS}
