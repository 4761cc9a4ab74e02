"""Writers of small source profiles, case exports and item catalogues for ingest tests.

The profile maps short English column names. A row is by default a valid
submitted case (办件) of 广安区 (511602), and its item code is in the catalogue
that ``write_item_catalogue`` writes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

REGION = "511602"
ITEM_CODE = "511A0138000000-511602000000-000-115113010833722043-1-00"
"""An implementation code (实施编码) that the real 广安区 catalogue lists."""
DEPARTMENT_CODE = "115113010833722043"
VALID_ID = "11010519491231002X"
INVALID_ID = "110105194912310021"
SOURCE_ID = "test-source"

# NOTE: bus.server.start drops the Popen object of the nats-server it leaves
# running, so Popen.__del__ warns that the process still runs. Test modules
# that start servers ignore exactly that warning until start() keeps the
# object (or reaps the process in stop()).
SYSTEM = "TEST-SYS"

COLUMNS = (
    "no",
    "item",
    "item_name",
    "applicant",
    "id_type",
    "id_no",
    "phone",
    "dept",
    "dept_name",
    "area",
    "status",
    "time",
    "days",
    "result",
    "remark",
    "version",
)
"""Column names of the test exports, in file order."""

STATUS_CODES = {
    "submitted": "1",
    "accepted": "2",
    "not_accepted": "3",
    "supplement_requested": "4",
    "supplemented": "5",
    "step_completed": "6",
    "suspended": "7",
    "resumed": "8",
    "concluded": "9",
    "result_delivered": "10",
    "withdrawn": "11",
}

PROFILE_TEMPLATE = """\
[source]
id = "{source_id}"
system = "{system}"
name = "测试审批系统"
family = "case"
encoding = "utf-8"
timezone = "{timezone}"
cross_level_prefix = "{cross_level_prefix}"

[fields]
local_no = "no"
item_code = "item"
item_name = "item_name"
applicant_name = "applicant"
applicant_id_type = "id_type"
applicant_id = "id_no"
phone = "phone"
department_code = "dept"
department_name = "dept_name"
region = "area"
status = "status"
status_time = "time"
promised_days = "days"
result = "result"
remark = "remark"
version = "version"

[status]
{status_table}

[result]
"0" = "approved"
"1" = "denied"

[id_types]
"111" = "id_card"
"49" = "uscc"
"""


def write_profile(
    path: Path,
    *,
    source_id: str = SOURCE_ID,
    system: str = SYSTEM,
    timezone: str = "Asia/Shanghai",
    cross_level_prefix: str = "",
) -> Path:
    """Write the test source profile (TOML) to ``path`` and return the path."""
    status_table = "\n".join(f'"{code}" = "{name}"' for name, code in STATUS_CODES.items())
    text = PROFILE_TEMPLATE.format(
        source_id=source_id,
        system=system,
        timezone=timezone,
        cross_level_prefix=cross_level_prefix,
        status_table=status_table,
    )
    path.write_text(text, encoding="utf-8")
    return path


def case_row(local_no: str, event: str, time: str, **overrides: str) -> dict[str, str]:
    """Build one export row; ``event`` is a canonical event name such as ``accepted``.

    Every column has a valid default, so a row describes a good record unless
    an override (keyed by column name) breaks it. Rows of later events keep
    the applicant columns, which the pipeline does not check there.
    """
    row = {
        "no": local_no,
        "item": ITEM_CODE,
        "item_name": "户口迁移审批",
        "applicant": "张三",
        "id_type": "111",
        "id_no": VALID_ID,
        "phone": "13800138000",
        "dept": DEPARTMENT_CODE,
        "dept_name": "广安区公安分局",
        "area": REGION,
        "status": STATUS_CODES[event],
        "time": time,
        "days": "5",
        "result": "0" if event == "concluded" else "",
        "remark": "",
        "version": "1",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write rows as a UTF-8 CSV export with the test columns; return the path."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def write_jsonl(path: Path, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write rows as a JSON Lines export with the test columns; return the path."""
    lines = [json.dumps(dict(row), ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_item_catalogue(
    path: Path,
    item_codes: Iterable[str] = (ITEM_CODE,),
    *,
    department_code: str = "083372204",
    name: str = "户口迁移审批",
) -> Path:
    """Write a portal catalogue (the JSON the items import reads) listing ``item_codes``.

    Every item gets the same listed department code (deptCode) and name.
    """
    sub_items = []
    for code in item_codes:
        link = (
            "http://www.sczwfw.gov.cn/jiq/front/transition/ywTransToDetail?"
            f"areaCode=511602000000&itemCode={code}&taskType=1&deptCode={department_code}"
        )
        sub_items.append({"name": name, "link": link, "qrcode": ""})
    groups = [
        {"department": "区公安分局", "items": [{"main_item": "未分类", "sub_items": sub_items}]}
    ]
    path.write_text(json.dumps(groups, ensure_ascii=False), encoding="utf-8")
    return path


def real_catalogue() -> Path:
    """Return the real 广安区 portal catalogue shipped with the demo data."""
    root = Path(__file__).resolve().parents[2]
    return root / "bench" / "demo" / "data" / "items-511602-raw.json"
