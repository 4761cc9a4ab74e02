"""Case (办件) event payloads.

One payload type per lifecycle step of a case. The tag of each struct is the
event type carried in the envelope (``case.accepted``); every payload starts
at schema version 1, recorded in ``CASE_VERSIONS``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

ApplicantIdType = Literal["id_card", "uscc", "org_code", "passport", "other"]
"""Canonical applicant certificate types; each source maps its own codes."""

ConclusionResult = Literal["approved", "denied", "voided", "deleted", "forwarded", "returned"]
"""Canonical conclusion results (办结结果): 准予/出证, 不予许可, 作废, 删除, 转报, 退件."""


class _CaseBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Fields every case event carries, so that each event is readable on its own."""

    local_no: str
    """The issuing system's own case number (办件编号), kept as an opaque string."""
    system: str
    """Identifier of the system that issued ``local_no``."""
    remark: str | None = None


class CaseSubmitted(_CaseBase, tag="case.submitted", frozen=True, kw_only=True):
    """An application was submitted (申请)."""

    item_code: str
    """Item implementation code (事项实施编码)."""
    item_name: str
    applicant_name: str
    applicant_id_type: ApplicantIdType
    applicant_id: str
    """Raw identifier; it stays on the domain stream and is pseudonymised in read models."""
    phone: str | None = None
    department_name: str | None = None
    promised_days: int | None = None
    """Promised time limit (承诺时限) in working days."""


class CaseAccepted(_CaseBase, tag="case.accepted", frozen=True, kw_only=True):
    """The department accepted the application (受理)."""

    promised_days: int | None = None


class CaseNotAccepted(_CaseBase, tag="case.not_accepted", frozen=True, kw_only=True):
    """The department declined to accept the application (不予受理)."""


class CaseSupplementRequested(
    _CaseBase, tag="case.supplement_requested", frozen=True, kw_only=True
):
    """The applicant was asked for missing materials (补正告知)."""


class CaseSupplemented(_CaseBase, tag="case.supplemented", frozen=True, kw_only=True):
    """The applicant supplied the requested materials (补正)."""


class CaseStepCompleted(_CaseBase, tag="case.step_completed", frozen=True, kw_only=True):
    """One handling step finished (办理环节)."""


class CaseSuspended(_CaseBase, tag="case.suspended", frozen=True, kw_only=True):
    """A special procedure paused the clock (特别程序: hearing, expert review, inspection)."""


class CaseResumed(_CaseBase, tag="case.resumed", frozen=True, kw_only=True):
    """The special procedure ended and the clock runs again."""


class CaseConcluded(_CaseBase, tag="case.concluded", frozen=True, kw_only=True):
    """The case was concluded (办结) with a result."""

    result: ConclusionResult


class CaseResultDelivered(_CaseBase, tag="case.result_delivered", frozen=True, kw_only=True):
    """The result or certificate reached the applicant (送达/出证)."""


class CaseWithdrawn(_CaseBase, tag="case.withdrawn", frozen=True, kw_only=True):
    """The applicant withdrew the application (撤回)."""


CasePayload = (
    CaseSubmitted
    | CaseAccepted
    | CaseNotAccepted
    | CaseSupplementRequested
    | CaseSupplemented
    | CaseStepCompleted
    | CaseSuspended
    | CaseResumed
    | CaseConcluded
    | CaseResultDelivered
    | CaseWithdrawn
)

CASE_PAYLOADS: tuple[type[_CaseBase], ...] = (
    CaseSubmitted,
    CaseAccepted,
    CaseNotAccepted,
    CaseSupplementRequested,
    CaseSupplemented,
    CaseStepCompleted,
    CaseSuspended,
    CaseResumed,
    CaseConcluded,
    CaseResultDelivered,
    CaseWithdrawn,
)

CASE_EVENT_NAMES: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag).removeprefix("case.") for cls in CASE_PAYLOADS
)
"""Short names (``accepted``) that source profiles map their status codes to."""

TERMINAL_EVENTS: frozenset[str] = frozenset({"case.not_accepted", "case.withdrawn"})
"""After one of these a case takes no further event."""

PREDECESSORS: dict[str, frozenset[str]] = {
    "case.submitted": frozenset(),
    "case.accepted": frozenset({"case.submitted"}),
    "case.not_accepted": frozenset({"case.submitted"}),
    "case.withdrawn": frozenset({"case.submitted"}),
    "case.supplement_requested": frozenset({"case.accepted"}),
    "case.supplemented": frozenset({"case.supplement_requested"}),
    "case.step_completed": frozenset({"case.accepted"}),
    "case.suspended": frozenset({"case.accepted"}),
    "case.resumed": frozenset({"case.suspended"}),
    "case.concluded": frozenset({"case.accepted"}),
    "case.result_delivered": frozenset({"case.concluded"}),
}
"""Event types that must be on the bus before each event type is legal.

An event whose predecessor has not arrived yet is parked, not rejected,
because department systems export statuses out of order.
"""

STATUS_RANK: dict[str, int] = {
    "case.submitted": 10,
    "case.accepted": 20,
    "case.supplement_requested": 30,
    "case.supplemented": 31,
    "case.step_completed": 40,
    "case.suspended": 50,
    "case.resumed": 51,
    "case.concluded": 80,
    "case.result_delivered": 90,
    "case.not_accepted": 95,
    "case.withdrawn": 95,
}
"""Lifecycle order used to break ties between events with the same business time."""

CASE_VERSIONS: dict[str, int] = {str(cls.__struct_config__.tag): 1 for cls in CASE_PAYLOADS}
"""Current schema version of each case payload type."""
