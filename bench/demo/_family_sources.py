"""The demo's review, hall and sharing sources: columns and code tables of each export.

The tables here must agree with the TOML profiles in ``profiles/``, which the
adapters read; a test compares them. Field names follow real pushes where
they are known: the provincial 好差评 push uses the names of a Shandong
evaluation push (projectNo, satisfaction, pf, evalDetail, writingEvaluation,
assessTime), the hall evaluator those of a Guangdong ``EvaluationSend``
(departmentCode, hallCode, affairSerialNo, windowNo, workNo). No standard
model of a queue system or a sharing platform's log is public, so those two
use the Chinese column names such systems typically show.
"""

from __future__ import annotations

from bench.demo._family_rows import FamilyLayout

_LEVELS = {str(level): str(level) for level in range(1, 6)}
_REVERSED_LEVELS = {str(button): str(6 - button) for button in range(1, 6)}
"""The hall evaluator numbers its buttons from 1 非常满意 down to 5 非常不满意."""

HCP_PLATFORM = FamilyLayout(
    source_id="hcp-platform",
    system="SC-HCP",
    name="省好差评系统评价推送",
    family="review",
    file_format="jsonl",
    encoding="utf-8",
    case_system="GA-SPXT",
    columns=(
        ("record_key", "evalId"),
        ("event", "dataType"),
        ("event_time", "assessTime"),
        ("region", "areaCode"),
        ("department_code", "deptCode"),
        ("local_no", "projectNo"),
        ("item_code", "taskCode"),
        ("level", "satisfaction"),
        ("channel", "pf"),
        ("rater", "userCert"),
        ("rater_type", "userProp"),
        ("reason_tags", "evalDetail"),
        ("text", "writingEvaluation"),
        ("is_default", "isdefault"),
        ("valid", "checkResult"),
        ("assignee", "rectifyDept"),
        ("satisfaction", "revisitSatisfaction"),
        ("remark", "remark"),
    ),
    events={
        "1": "rated",
        "2": "verified",
        "3": "rectification_assigned",
        "4": "rectified",
        "5": "revisited",
    },
    codes={
        "level": _LEVELS,
        "satisfaction": _LEVELS,
        # 1 PC portal, 2 app, 3 WeChat mini program, 4 Alipay, 5 self-service
        # terminal, 6 the 12345 hotline, 7 SMS reply.
        "channel": {
            "1": "web",
            "2": "mobile",
            "3": "mobile",
            "4": "mobile",
            "5": "terminal",
            "6": "phone",
            "7": "sms",
        },
        "rater_type": {"1": "person", "2": "legal_person"},
    },
    # 0 is "not rated" and 8 a QR code (二维码) rating, which the profile
    # cannot place in a channel.
    unmapped={"level": "0", "channel": "8"},
    time_format="%Y-%m-%d %H:%M:%S",
)

HALL_EVAL = FamilyLayout(
    source_id="hall-eval",
    system="DT-PJQ",
    name="政务大厅评价器",
    family="review",
    file_format="csv",
    encoding="gbk",
    line_terminator="\r\n",
    case_system="DT-ZHCK",
    columns=(
        ("record_key", "evalSerialNo"),
        ("event", "evalProcess"),
        ("event_time", "evalTime"),
        ("region", "areaCode"),
        ("department_code", "departmentCode"),
        ("hall", "hallCode"),
        ("window", "windowNo"),
        ("staff", "workNo"),
        ("local_no", "affairSerialNo"),
        ("item_code", "affairCode"),
        ("level", "evalLevel"),
        ("channel", "evalChannel"),
        ("rater_type", "userType"),
        ("rater", "certificateNo"),
        ("reason_tags", "evalOption"),
        ("text", "evalContent"),
        ("is_default", "isDefault"),
        ("valid", "verifyResult"),
        ("assignee", "rectifyUnit"),
        ("satisfaction", "revisitLevel"),
        ("remark", "remark"),
    ),
    events={
        "1": "rated",
        "2": "verified",
        "3": "rectification_assigned",
        "4": "rectified",
        "5": "revisited",
    },
    codes={
        "level": _REVERSED_LEVELS,
        "satisfaction": _REVERSED_LEVELS,
        "channel": {"01": "window", "02": "terminal"},
        "rater_type": {"0": "person", "1": "legal_person"},
    },
    # 0 is a timed-out screen without a choice; channel 03 is a tablet at the
    # service desk that the profile does not know.
    unmapped={"level": "0", "channel": "03"},
    time_format="%Y-%m-%d %H:%M:%S",
    booleans=("是", "否"),
    list_separator="，",
)

HALL_QUEUE = FamilyLayout(
    source_id="hall-queue",
    system="DT-PDJH",
    name="政务大厅预约排队叫号系统",
    family="hall",
    file_format="xlsx",
    encoding="auto",
    case_system="DT-ZHCK",
    columns=(
        ("record_key", "流水号"),
        ("event", "事件代码"),
        ("event_time", "发生时间"),
        ("region", "区划代码"),
        ("department_code", "部门编码"),
        ("hall", "大厅编码"),
        ("booking_id", "预约编号"),
        ("ticket_id", "票据ID"),
        ("ticket_no", "票号"),
        ("queue", "业务队列"),
        ("channel", "渠道"),
        ("priority", "绿色通道"),
        ("item_code", "事项编码"),
        ("slot_date", "预约日期"),
        ("slot_start", "时段开始"),
        ("slot_end", "时段结束"),
        ("person", "证件号码"),
        ("window", "窗口号"),
        ("staff", "工号"),
        ("local_no", "办件编号"),
        ("remark", "备注"),
    ),
    events={
        "101": "booking_created",
        "102": "booking_cancelled",
        "103": "booking_checked_in",
        "201": "ticket_issued",
        "202": "ticket_called",
        "203": "ticket_recalled",
        "204": "ticket_skipped",
        "205": "service_started",
        "206": "service_ended",
    },
    codes={
        "channel": {
            "网上预约": "online",
            "电话预约": "phone",
            "取号机": "kiosk",
            "微信取号": "mobile",
            "预约签到": "booking",
        },
    },
    # 207 moves a ticket to another window (转窗), which no contract event
    # describes; 人工补号 is a ticket a clerk issued by hand.
    unmapped={"event": "207", "channel": "人工补号"},
    time_format="%Y-%m-%d %H:%M:%S",
    booleans=("Y", "N"),
)

SHARE_EXCHANGE = FamilyLayout(
    source_id="share-exchange",
    system="GX-JHPT",
    name="政务数据共享交换平台",
    family="share",
    file_format="csv",
    encoding="utf-8-sig",
    columns=(
        ("record_key", "流水号"),
        ("event", "操作类型"),
        ("event_time", "操作时间"),
        ("region", "区划代码"),
        ("department_code", "部门编码"),
        ("resource_code", "资源代码"),
        ("name", "资源名称"),
        ("provider", "提供方代码"),
        ("provider_name", "提供方名称"),
        ("share_type", "共享类型"),
        ("share_condition", "共享条件"),
        ("open_type", "开放类型"),
        ("update_cycle", "更新周期"),
        ("format", "数据格式"),
        ("data_items", "信息项"),
        ("request_id", "申请单号"),
        ("requester", "申请方代码"),
        ("requester_name", "申请方名称"),
        ("purpose", "申请用途"),
        ("reason", "理由"),
        ("count", "交付数量"),
        ("channel", "交付方式"),
        ("objection_id", "异议单号"),
        ("disputed_record_key", "异议数据标识"),
        ("field", "异议字段"),
        ("claimed_value", "主张值"),
        ("raised_by", "异议方代码"),
        ("outcome", "处理结果"),
        ("note", "处理说明"),
        ("remark", "备注"),
    ),
    events={
        "目录发布": "resource_published",
        "目录变更": "resource_changed",
        "目录下架": "resource_withdrawn",
        "共享申请": "request_submitted",
        "审核通过": "request_approved",
        "审核驳回": "request_denied",
        "数据交付": "request_delivered",
        "授权撤销": "request_revoked",
        "异议提交": "objection_raised",
        "异议办结": "objection_resolved",
    },
    codes={
        "share_type": {"1": "unconditional", "2": "conditional", "3": "none"},
        "open_type": {"1": "open", "2": "conditional", "3": "closed"},
        "channel": {"接口": "api", "文件": "file", "库表": "database"},
        "outcome": {"1": "corrected", "2": "upheld"},
    },
    # A requester withdrawing its own request (申请撤回) has no contract event,
    # and delivery through a front-end database (前置机) is not mapped.
    unmapped={"event": "申请撤回", "channel": "前置机"},
    time_format="%Y/%m/%d %H:%M:%S",
    list_separator=";",
)

FAMILY_SOURCES: tuple[FamilyLayout, ...] = (HCP_PLATFORM, HALL_EVAL, HALL_QUEUE, SHARE_EXCHANGE)
"""Review, hall and sharing sources, in the order a demo would ingest them."""
