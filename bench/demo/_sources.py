"""The four demo department sources: columns, code tables and case-number shapes.

The code tables here must agree with the TOML profiles in ``profiles/``,
which the adapters read; a test compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

FileFormat = Literal["csv", "xlsx", "jsonl"]

FIELDS: tuple[str, ...] = (
    "local_no",
    "item_code",
    "item_name",
    "applicant_name",
    "applicant_id_type",
    "applicant_id",
    "phone",
    "department_code",
    "department_name",
    "region",
    "status",
    "status_time",
    "promised_days",
    "result",
    "remark",
    "version",
)
"""Contract field names, in the column order every demo source uses."""

EVENT_NAMES: tuple[str, ...] = (
    "submitted",
    "accepted",
    "not_accepted",
    "supplement_requested",
    "supplemented",
    "step_completed",
    "suspended",
    "resumed",
    "concluded",
    "result_delivered",
    "withdrawn",
)
RESULTS: tuple[str, ...] = ("approved", "denied", "voided", "deleted", "forwarded", "returned")


@dataclass(frozen=True, kw_only=True)
class SourceFormat:
    """Layout and code tables of one department system's case status export."""

    source_id: str
    file_format: FileFormat
    columns: tuple[str, ...]
    """Column names in ``FIELDS`` order."""
    statuses: dict[str, str]
    """Canonical event name -> the source's status value."""
    results: dict[str, str]
    id_types: dict[str, str]
    unmapped_status: str
    """A status value the source emits but its profile does not map."""
    case_share: float
    """Share of all demo cases that this source exports."""
    enterprise_share: float
    passport_share: float
    department_hint: str | None
    """Substring of the catalogue department names this system serves; None means all."""
    number_prefix: str
    """Fixed start of this system's case numbers (办件编号)."""
    time_format: str
    """strftime pattern of status times; XLSX uses it only for text cells."""
    encoding: str = "utf-8"
    line_terminator: str = "\n"

    def local_no(self, day: date, sequence: int) -> str:
        """Build a case number of this system's shape from the submission day and a counter."""
        if self.source_id == "ga-approval":
            # 21 digits: region, system, yyMMdd, 6-digit sequence.
            return f"{self.number_prefix}{day:%y%m%d}{sequence:06d}"
        if self.source_id == "hall-window":
            return f"{self.number_prefix}-{day:%Y%m%d}-{sequence:05d}"
        return f"{self.number_prefix}{day:%Y%m%d}{sequence:06d}"


def _numbered(prefix: str, names: tuple[str, ...], *, width: int = 1) -> dict[str, str]:
    return {name: f"{prefix}{index:0{width}d}" for index, name in enumerate(names, start=1)}


GA_APPROVAL = SourceFormat(
    source_id="ga-approval",
    file_format="csv",
    columns=(
        "PROJID",
        "SERVICECODE",
        "SERVICENAME",
        "APPLYNAME",
        "APPLY_CARDTYPE",
        "APPLY_CARDNUMBER",
        "TELPHONE",
        "DEPTID",
        "DEPTNAME",
        "AREACODE",
        "HANDLESTATE",
        "STATETIME",
        "PROMISEVALUE",
        "RESULT_CODE",
        "REMARK",
        "DATAVERSION",
    ),
    statuses=_numbered("", EVENT_NAMES),
    results={name: str(index) for index, name in enumerate(RESULTS)},
    id_types={"id_card": "111", "passport": "414", "uscc": "49"},
    unmapped_status="99",
    case_share=0.30,
    enterprise_share=0.03,
    passport_share=0.01,
    # NOTE: every 区公安分局 item of the real catalogue carries a 17-character
    # department code, which the catalogue import rejects, so this source
    # falls back to all accepted items.
    department_hint="公安",
    number_prefix="511602101",
    time_format="%Y-%m-%d %H:%M:%S",
    encoding="gbk",
    line_terminator="\r\n",
)

SCJG_XLSX = SourceFormat(
    source_id="scjg-xlsx",
    file_format="xlsx",
    columns=(
        "办件编号",
        "实施编码",
        "事项名称",
        "申请人",
        "证件类型",
        "证件号码",
        "联系电话",
        "部门编码",
        "部门名称",
        "区划代码",
        "办理状态",
        "状态时间",
        "承诺时限",
        "办结结果",
        "备注",
        "数据版本",
    ),
    statuses=dict(
        zip(
            EVENT_NAMES,
            (
                "申请",
                "受理",
                "不予受理",
                "补正告知",
                "补正",
                "办理",
                "特别程序开始",
                "特别程序结束",
                "办结",
                "送达",
                "撤回",
            ),
            strict=True,
        )
    ),
    results=dict(zip(RESULTS, ("准予", "不予许可", "作废", "删除", "转报", "退件"), strict=True)),
    id_types={"id_card": "身份证", "uscc": "统一社会信用代码"},
    unmapped_status="归档",
    case_share=0.25,
    enterprise_share=0.65,
    passport_share=0.0,
    department_hint="市监",
    number_prefix="SCJG",
    time_format="%Y-%m-%d %H:%M:%S",
)

HALL_WINDOW = SourceFormat(
    source_id="hall-window",
    file_format="csv",
    columns=(
        "project_no",
        "task_code",
        "task_name",
        "applyer_name",
        "applyer_page_type",
        "applyer_page_code",
        "contact_mobile",
        "org_code",
        "org_name",
        "area_code",
        "event_name",
        "event_time",
        "promise_day",
        "result_type",
        "remark",
        "dataver",
    ),
    statuses=_numbered("", EVENT_NAMES, width=2),
    results=_numbered("", RESULTS),
    id_types={"id_card": "10", "uscc": "20"},
    unmapped_status="99",
    case_share=0.30,
    enterprise_share=0.25,
    passport_share=0.0,
    department_hint=None,
    number_prefix="CK511602",
    time_format="%Y/%m/%d %H:%M",
    encoding="utf-8-sig",
)

APP_PUSH = SourceFormat(
    source_id="app-push",
    file_format="jsonl",
    columns=(
        "projid",
        "itemCode",
        "itemName",
        "applicant",
        "certType",
        "certNo",
        "mobile",
        "deptCode",
        "deptName",
        "areaCode",
        "status",
        "statusTime",
        "promiseDays",
        "result",
        "remark",
        "dataVersion",
    ),
    statuses={name: name for name in EVENT_NAMES},
    results={name: name for name in RESULTS},
    id_types={"id_card": "id_card", "uscc": "uscc"},
    unmapped_status="archived",
    case_share=0.15,
    enterprise_share=0.10,
    passport_share=0.0,
    department_hint=None,
    number_prefix="ZWFWAPP",
    time_format="%Y-%m-%dT%H:%M:%S",
)

SOURCES: tuple[SourceFormat, ...] = (GA_APPROVAL, SCJG_XLSX, HALL_WINDOW, APP_PUSH)
