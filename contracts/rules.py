"""Validation rule catalogue: one code, message and fix per data problem.

Quarantined records and reports name a rule by its code, and the code is
stable across releases. Messages are templates with the placeholders
``{field}`` (the contract field or source column), ``{value}`` (the value
as received, masked first with ``mask_identifier`` for identity numbers) and
``{detail}`` (the ``Problem.detail`` of a check, or another short fact).
A template uses only the placeholders it needs.
"""

from __future__ import annotations

import string
import types
from collections.abc import Mapping
from typing import Literal

import msgspec

Layer = Literal["structural", "reference", "sequence", "decode"]
"""Stage that applies a rule: decoding bytes and rows, checking one value
alone, looking a value up in reference data (region list, source profile,
item catalogue), or checking an event against the earlier events of its
entity and of the entities it names."""

Family = Literal["case", "item", "review", "hall", "share", "any"]
"""Record family a rule applies to: cases (办件), items (事项), reviews (好差评),
hall bookings and tickets (预约/取号/叫号), data sharing (数据共享), or every family."""

LANGUAGES = ("zh", "en")


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A validation rule with its messages and source in Simplified Chinese and English."""

    code: str
    family: Family
    layer: Layer
    message_zh: str
    message_en: str
    fix_zh: str
    """Instruction to the sender, addressed to the department's data staff."""
    fix_en: str
    source: str
    """Standard or convention the rule enforces, in English."""
    source_zh: str
    """The same source in Chinese; a standard's number (GB 11643-1999) stays as it is."""

    def placeholders(self) -> frozenset[str]:
        """Return the names of the placeholders used in any of the four templates."""
        names: set[str] = set()
        for template in (self.message_zh, self.message_en, self.fix_zh, self.fix_en):
            for _, name, _, _ in string.Formatter().parse(template):
                if name is not None:
                    names.add(name)
        return frozenset(names)

    def render(self, lang: str, **values: object) -> str:
        """Fill the message and fix of one language into a single line of text.

        Args:
            lang: ``"zh"`` or ``"en"``.
            values: one value per placeholder. Extra values are ignored.

        Raises:
            ValueError: the language is not supported.
            KeyError: a placeholder of the templates has no value.
        """
        if lang == "zh":
            message, fix, separator = self.message_zh, self.fix_zh, ""
        elif lang == "en":
            message, fix, separator = self.message_en, self.fix_en, " "
        else:
            error = f"rule {self.code}: language must be one of {LANGUAGES}, got {lang!r}"
            raise ValueError(error)

        missing = sorted(self.placeholders() - values.keys())
        if missing:
            error = f"rule {self.code}: no value for placeholder(s) {', '.join(missing)}"
            raise KeyError(error)

        return message.format_map(values) + separator + fix.format_map(values)


_RULES = (
    # --- decode: bytes and rows -------------------------------------------
    Rule(
        code="record_malformed",
        family="any",
        layer="decode",
        message_zh="记录无法解析：{detail}。",
        message_en="The record cannot be parsed: {detail}.",
        fix_zh="请核对导出文件的格式是否与数据源配置一致，修正后重新导入。",
        fix_en="Check that the export matches the format set in the source profile, "
        "then import it again.",
        source="zwbus source profile (declared file format)",
        source_zh="zwbus 数据源配置（声明的文件格式）",
    ),
    Rule(
        code="encoding_invalid",
        family="any",
        layer="decode",
        message_zh="数据不符合任何受支持的编码（UTF-8、GBK、GB18030）：{detail}。",
        message_en="The bytes are not valid in any supported encoding "
        "(UTF-8, GBK, GB18030): {detail}.",
        fix_zh="请以 UTF-8 或 GB18030 编码重新导出，或在数据源配置中指定正确的编码。",
        fix_en="Export the file again as UTF-8 or GB18030, "
        "or set the right encoding in the source profile.",
        source="encodings of the zwbus source profile: UTF-8, GBK, GB18030",
        source_zh="zwbus 数据源配置支持的编码：UTF-8、GBK、GB18030",
    ),
    # --- structural: one value alone -------------------------------------
    Rule(
        code="required_missing",
        family="any",
        layer="structural",
        message_zh="必填字段 {field} 为空。",
        message_en="Required field {field} is empty.",
        fix_zh="请在源系统中补全 {field} 后重新报送。",
        fix_en="Fill in {field} in the source system and send the record again.",
        source="GB/T 39046-2020 required fields",
        source_zh="GB/T 39046-2020 规定的必填字段",
    ),
    Rule(
        code="field_too_long",
        family="any",
        layer="structural",
        message_zh="字段 {field} 超长：{detail}。",
        message_en="Field {field} is too long: {detail}.",
        fix_zh="请在源系统中将该值缩短到国家数据表规定的长度以内。",
        fix_en="Shorten the value at the source to the width of the national table column.",
        source="column widths of the national up_task_* and up_pro_* tables",
        source_zh="国家 up_task_* 和 up_pro_* 数据表的字段长度",
    ),
    Rule(
        code="local_no_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的办件编号 {value} 不合法：{detail}。",
        message_en="Case number (办件编号) {value} in {field} is invalid: {detail}.",
        fix_zh="办件编号应为 1 至 50 位，只含数字、字母、下划线和连字符。",
        fix_en="Use 1 to 50 characters from digits, letters, '_' and '-'.",
        source="project_no varchar(50) of the national up_pro_* tables",
        source_zh="国家 up_pro_* 数据表的 project_no varchar(50) 字段",
    ),
    Rule(
        code="uscc_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的统一社会信用代码 {value} 不合法：{detail}。",
        message_en="Unified social credit code {value} in {field} is invalid: {detail}.",
        fix_zh="请对照营业执照或登记证书，在源系统中更正该代码。",
        fix_en="Correct the code at the source against the business licence "
        "or registration certificate.",
        source="GB 32100-2015",
        source_zh="GB 32100-2015",
    ),
    Rule(
        code="id_card_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的居民身份证号码 {value} 不合法：{detail}。",
        message_en="Resident ID card number {value} in {field} is invalid: {detail}.",
        fix_zh="请对照身份证在源系统中更正；15 位旧号码请先升级为 18 位。",
        fix_en="Correct the number at the source against the ID card, "
        "and convert 15-digit numbers to 18 digits.",
        source="GB 11643-1999",
        source_zh="GB 11643-1999",
    ),
    Rule(
        code="org_code_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的组织机构代码 {value} 不合法：{detail}。",
        message_en="Organization code {value} in {field} is invalid: {detail}.",
        fix_zh="请在源系统中更正该代码，或改报统一社会信用代码。",
        fix_en="Correct the code at the source, or send the unified social credit code instead.",
        source="GB 11714-1997",
        source_zh="GB 11714-1997",
    ),
    Rule(
        code="phone_invalid",
        family="case",
        layer="structural",
        message_zh="字段 {field} 的联系电话 {value} 不是有效的大陆手机号码：{detail}。",
        message_en="Phone number {value} in {field} is not a valid mainland mobile number: "
        "{detail}.",
        fix_zh="请填写以 13 至 19 开头的 11 位手机号码。",
        fix_en="Send an 11-digit mobile number that starts with 13 to 19.",
        source="mainland mobile numbering, contact_mobile varchar(11) of the national tables",
        source_zh="大陆手机号码号段；国家数据表的 contact_mobile varchar(11) 字段",
    ),
    Rule(
        code="time_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的时间 {value} 无效：{detail}。",
        message_en="Time {value} in {field} is invalid: {detail}.",
        fix_zh="请报送真实的日期时间；1753-01-01 等占位日期和 1900 年以前的年份按缺失处理。",
        fix_en="Send the real date and time, because sentinel dates such as 1753-01-01 "
        "and years before 1900 count as missing.",
        source="zwbus date formats and sentinel dates seen in department exports",
        source_zh="zwbus 支持的日期格式，以及部门导出数据中出现过的占位日期",
    ),
    Rule(
        code="time_in_future",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的时间 {value} 晚于当前时间。",
        message_en="Time {value} in {field} is in the future.",
        fix_zh="请检查源系统的时钟和时区设置，更正后重新报送。",
        fix_en="Check the clock and time zone of the source system, then send the record again.",
        source="zwbus (business time cannot follow the time of receipt)",
        source_zh="zwbus（业务时间不能晚于接收时间）",
    ),
    Rule(
        code="placeholder_value",
        family="any",
        layer="structural",
        message_zh="字段 {field} 填写的是占位值 {value}，不是真实数据。",
        message_en="Field {field} contains the placeholder {value} instead of real data.",
        fix_zh="请报送真实值；确实未知时请留空，不要填写“无”或重复字符。",
        fix_en="Send the real value, or leave the field empty when it is unknown "
        "instead of writing 无 or a repeated character.",
        source="placeholders seen in department exports",
        source_zh="部门导出数据中出现过的占位值",
    ),
    Rule(
        code="item_code_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的事项实施编码 {value} 格式不正确：{detail}。",
        message_en="Item implementation code (事项实施编码) {value} in {field} "
        "is malformed: {detail}.",
        fix_zh="请从事项库中原样复制实施编码，不要增删字符。",
        fix_en="Copy the implementation code unchanged from the item catalogue (事项库).",
        source="GB/T 39554.1-2020 item coding; implementation codes of provincial portals",
        source_zh="GB/T 39554.1-2020 事项编码；省级政务服务网的实施编码",
    ),
    Rule(
        code="department_code_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的部门编码 {value} 不合法：{detail}。",
        message_en="Department code {value} in {field} is invalid: {detail}.",
        fix_zh="请使用部门的 18 位统一社会信用代码，或 9 位组织机构代码（含连字符时为 10 位）。",
        fix_en="Use the department's 18-character unified social credit code "
        "or its 9-character organization code (10 with the hyphen).",
        source="GB 32100-2015 and GB 11714-1997",
        source_zh="GB 32100-2015 和 GB 11714-1997",
    ),
    Rule(
        code="boolean_invalid",
        family="any",
        layer="structural",
        message_zh="字段 {field} 的值 {value} 不是可识别的是/否取值。",
        message_en="Value {value} in {field} is not a recognised yes/no value.",
        fix_zh="请使用 1/0、是/否、true/false 或 Y/N。",
        fix_en="Send 1/0, 是/否, true/false or Y/N.",
        source="zwbus source profile (yes/no fields)",
        source_zh="zwbus 数据源配置（是/否字段）",
    ),
    Rule(
        code="level_invalid",
        family="review",
        layer="structural",
        message_zh="字段 {field} 的评价等级 {value} 不在 1 至 5 之间。",
        message_en="Rating level {value} in {field} is not between 1 and 5.",
        fix_zh="请报送 1（非常不满意）至 5（非常满意）的等级，"
        "或在数据源配置的 [codes.level] 表中对应源系统的等级编码。",
        fix_en="Send a level from 1 (非常不满意) to 5 (非常满意), or map the source's level "
        "codes in the [codes.level] table of the source profile.",
        source="the five 好差评 levels: 非常满意, 满意, 基本满意, 不满意, 非常不满意",
        source_zh="好差评的五个等级：非常满意、满意、基本满意、不满意、非常不满意",
    ),
    Rule(
        code="item_name_missing",
        family="item",
        layer="structural",
        message_zh="事项 {value} 缺少事项名称（字段 {field}）。",
        message_en="Item {value} has no item name (事项名称) in {field}.",
        fix_zh="请在事项库中补全事项名称后重新导入。",
        fix_en="Fill in the item name in the catalogue and import it again.",
        source="GB/T 39046-2020 item fields",
        source_zh="GB/T 39046-2020 规定的事项字段",
    ),
    # --- reference: lookups in reference data ----------------------------
    Rule(
        code="region_unknown",
        family="any",
        layer="reference",
        message_zh="字段 {field} 的行政区划代码 {value} 不在区划代码表中：{detail}。",
        message_en="Region code {value} in {field} is not in the region code list: {detail}.",
        fix_zh="请改为现行的 6 位行政区划代码；已撤销的代码请换成对应的现行代码。",
        fix_en="Use a current 6-digit region code, and replace a retired code "
        "with the code that succeeded it.",
        source="GB/T 2260 (2023 statistical division codes)",
        source_zh="GB/T 2260（2023 年统计用区划代码）",
    ),
    Rule(
        code="id_type_unmapped",
        family="case",
        layer="reference",
        message_zh="字段 {field} 的证件类型 {value} 未在数据源配置中定义。",
        message_en="Certificate type {value} in {field} is not in the source profile.",
        fix_zh="请在数据源配置的 [id_types] 表中补充 {value} 的对应关系，"
        "然后用 zwbus ingest --reread 重新读取该文件。",
        fix_en="Add {value} to the [id_types] table of the source profile, then read the file "
        "again with zwbus ingest --reread.",
        source="zwbus source profile [id_types]",
        source_zh="zwbus 数据源配置的 [id_types] 表",
    ),
    Rule(
        code="status_unmapped",
        family="case",
        layer="reference",
        message_zh="字段 {field} 的办理状态 {value} 未在数据源配置中定义。"
        "各厂商的状态编码不一致，系统不会猜测其含义。",
        message_en="Status code {value} in {field} is not in the source profile. "
        "Vendors code statuses differently, so an unmapped code is never guessed.",
        fix_zh="请在数据源配置的 [status] 表中补充 {value} 的对应关系，"
        "然后用 zwbus ingest --reread 重新读取该文件。",
        fix_en="Add {value} to the [status] table of the source profile, then read the file "
        "again with zwbus ingest --reread.",
        source="zwbus source profile [status]",
        source_zh="zwbus 数据源配置的 [status] 表",
    ),
    Rule(
        code="result_unmapped",
        family="case",
        layer="reference",
        message_zh="字段 {field} 的办结结果 {value} 未在数据源配置中定义。",
        message_en="Result code {value} in {field} is not in the source profile.",
        fix_zh="请在数据源配置的 [result] 表中补充 {value} 的对应关系，"
        "然后用 zwbus ingest --reread 重新读取该文件。",
        fix_en="Add {value} to the [result] table of the source profile, then read the file "
        "again with zwbus ingest --reread.",
        source="zwbus source profile [result]",
        source_zh="zwbus 数据源配置的 [result] 表",
    ),
    Rule(
        code="item_unknown",
        family="any",
        layer="reference",
        message_zh="字段 {field} 的实施编码 {value} 不在该区划的事项库中。",
        message_en="Implementation code {value} in {field} is not in the item catalogue "
        "(事项库) of the region.",
        fix_zh="请先导入该区划的事项库（zwbus items import），"
        "再用 zwbus ingest --reread 重新读取该文件。",
        fix_en="Import the item catalogue of the region first (zwbus items import), then read "
        "the file again with zwbus ingest --reread.",
        source="zwbus item catalogue",
        source_zh="zwbus 事项库",
    ),
    Rule(
        code="event_unmapped",
        family="any",
        layer="reference",
        message_zh="字段 {field} 的事件编码 {value} 未在数据源配置中定义。"
        "各系统的编码不一致，系统不会猜测其含义。",
        message_en="Event code {value} in {field} is not in the source profile. "
        "Systems code events differently, so an unmapped code is never guessed.",
        fix_zh="请在数据源配置的 [events] 表中补充 {value} 的对应关系，"
        "然后用 zwbus ingest --reread 重新读取该文件。",
        fix_en="Add {value} to the [events] table of the source profile, then read the file "
        "again with zwbus ingest --reread.",
        source="zwbus source profile [events]",
        source_zh="zwbus 数据源配置的 [events] 表",
    ),
    Rule(
        code="code_unmapped",
        family="any",
        layer="reference",
        message_zh="字段 {field} 的代码 {value} 无法对应到标准取值：{detail}。",
        message_en="Code {value} in {field} does not map to a canonical value: {detail}.",
        fix_zh="请在数据源配置的 [codes] 代码表中为该字段补充 {value} 的对应关系，"
        "然后用 zwbus ingest --reread 重新读取该文件。",
        fix_en="Add {value} to the [codes] table of the field in the source profile, then "
        "read the file again with zwbus ingest --reread.",
        source="zwbus source profile [codes]",
        source_zh="zwbus 数据源配置的 [codes] 表",
    ),
    Rule(
        code="item_type_unknown",
        family="item",
        layer="reference",
        message_zh="字段 {field} 的事项类型 {value} 无法识别。",
        message_en="Item type (事项类型) {value} in {field} is not a known item type.",
        fix_zh="请在数据源配置中为该事项类型编号补充对应的事项类型。",
        fix_en="Map the item type number to an item type in the source profile.",
        source="事项类型 numbering of the source catalogue",
        source_zh="源事项库的事项类型编号",
    ),
    # --- sequence: an event against the case's earlier events ------------
    Rule(
        code="case_closed",
        family="case",
        layer="sequence",
        message_zh="办件 {value} 已终止（{detail}），其后的事件不再处理。",
        message_en="Case {value} has already ended ({detail}), "
        "so events after that are not applied.",
        fix_zh="不予受理或已撤回的办件不再接收事件；新的申请请使用新的办件编号。",
        fix_en="A case that was not accepted or was withdrawn takes no more events, "
        "so give a new application a new case number.",
        source="zwbus case lifecycle (terminal states not_accepted and withdrawn)",
        source_zh="zwbus 办件生命周期（不予受理和撤回为终止状态）",
    ),
    Rule(
        code="missing_predecessor",
        family="any",
        layer="sequence",
        message_zh="{value} 的前序事件在设定的等待时间内未到达：{detail}。",
        message_en="The preceding event of {value} did not arrive "
        "within the configured wait: {detail}.",
        fix_zh="请从源系统补报缺失的前序事件（或所依赖的办件、预约、资源）并重新接入；"
        "前序事件到达后，暂存的事件会自动发布。",
        fix_en="Send the missing earlier event (or the case, booking or resource the event "
        "names) from the source system and ingest it; parked events are then published "
        "by themselves.",
        source="zwbus event lifecycles",
        source_zh="zwbus 事件生命周期",
    ),
    Rule(
        code="review_not_bad",
        family="review",
        layer="sequence",
        message_zh="评价 {value} 不是差评（{detail}），没有核实、整改和回访。",
        message_en="Review {value} is not a bad review ({detail}), so it takes no "
        "verification, rectification or revisit.",
        fix_zh="只有等级为 1（非常不满意）或 2（不满意）的差评才需要核实整改；"
        "请核对该记录所指的办件、评价渠道和评价人。",
        fix_en="Only bad reviews (level 1 非常不满意 or 2 不满意) are verified and rectified; "
        "check the case, channel and rater the record names.",
        source="差评 follow-up of the 好差评 system (不满意 and 非常不满意 are 差评)",
        source_zh="好差评系统的差评处置（不满意和非常不满意为差评）",
    ),
    Rule(
        code="review_not_valid",
        family="review",
        layer="sequence",
        message_zh="差评 {value} 未被核实为真实有效（{detail}），不能派发整改。",
        message_en="Bad review {value} was not verified as genuine ({detail}), "
        "so rectification cannot be assigned.",
        fix_zh="请先报送核实结果为真实有效的核实记录，再报送整改派发；"
        "核实为无效的差评不派发整改。",
        fix_en="Send the verification that found the review genuine first; a review found "
        "not genuine is not rectified.",
        source="差评 follow-up of the 好差评 system (verified, then rectified)",
        source_zh="好差评系统的差评处置（先核实，再整改）",
    ),
    Rule(
        code="ticket_backwards",
        family="hall",
        layer="sequence",
        message_zh="号票 {value} 的状态不能倒退：{detail}。",
        message_en="Ticket {value} cannot move back to an earlier state: {detail}.",
        fix_zh="号票只能按取号、叫号、过号或办理、办结的顺序推进；请核对源系统的事件和时间。",
        fix_en="A ticket moves forward only (issued, called, skipped or served, ended); "
        "check the events and times in the source system.",
        source="zwbus hall lifecycle (ticket states move forward)",
        source_zh="zwbus 大厅生命周期（号票状态只能向前推进）",
    ),
    Rule(
        code="booking_checked_in_twice",
        family="hall",
        layer="sequence",
        message_zh="预约 {value} 已经签到，不能再次签到：{detail}。",
        message_en="Booking {value} was already checked in: {detail}.",
        fix_zh="一个预约只能签到一次；请核对源系统是否重复生成了签到记录。",
        fix_en="A booking is checked in once; check whether the source system wrote the "
        "check-in twice.",
        source="zwbus hall lifecycle (one check-in per booking)",
        source_zh="zwbus 大厅生命周期（每个预约只签到一次）",
    ),
    Rule(
        code="booking_cancelled",
        family="hall",
        layer="sequence",
        message_zh="预约 {value} 已取消，不能签到：{detail}。",
        message_en="Booking {value} was cancelled, so it cannot be checked in: {detail}.",
        fix_zh="已取消的预约不能签到；到场办事请重新预约或现场取号。",
        fix_en="A cancelled booking cannot be checked in; book again or take a ticket "
        "at the hall.",
        source="zwbus hall lifecycle (cancelled bookings end)",
        source_zh="zwbus 大厅生命周期（已取消的预约随即结束）",
    ),
    Rule(
        code="resource_not_shareable",
        family="share",
        layer="sequence",
        message_zh="资源 {value} 不能申请共享：{detail}。",
        message_en="Resource {value} cannot be requested: {detail}.",
        fix_zh="不予共享或已撤销的资源不接受共享申请；"
        "如确需使用，请与提供方协商调整共享属性后再申请。",
        fix_en="A resource marked 不予共享 or withdrawn from the catalogue takes no requests; "
        "agree a change of its share type with the provider first.",
        source="share types of 政务信息资源共享管理暂行办法 (国发〔2016〕51号)",
        source_zh="《政务信息资源共享管理暂行办法》（国发〔2016〕51号）的共享类型",
    ),
    Rule(
        code="approval_required",
        family="share",
        layer="sequence",
        message_zh="有条件共享资源的申请 {value} 未经审批就交付了数据：{detail}。",
        message_en="Request {value} for a conditionally shared resource was delivered "
        "without an approval: {detail}.",
        fix_zh="有条件共享的资源须先审批再交付；请先报送审批通过记录，再报送交付记录。",
        fix_en="A conditionally shared resource is delivered only after approval; send the "
        "approval first, then the delivery.",
        source="有条件共享 of 政务信息资源共享管理暂行办法 (国发〔2016〕51号)",
        source_zh="《政务信息资源共享管理暂行办法》（国发〔2016〕51号）的有条件共享",
    ),
    Rule(
        code="transition_invalid",
        family="case",
        layer="sequence",
        message_zh="办件 {value} 的当前事件之后不允许出现该事件：{detail}。",
        message_en="The event is not allowed after the current events of case {value}: {detail}.",
        fix_zh="请核对源系统中的事件顺序，并按顺序重新报送。",
        fix_en="Check the event order in the source system and send the events again in order.",
        source="zwbus case lifecycle",
        source_zh="zwbus 办件生命周期",
    ),
)

RULES: Mapping[str, Rule] = types.MappingProxyType({rule.code: rule for rule in _RULES})
"""Every rule by its code, read-only."""


def rule(code: str) -> Rule:
    """Return the rule with this code.

    Raises:
        KeyError: no rule has this code. The message lists the known codes.
    """
    try:
        return RULES[code]
    except KeyError:
        known = ", ".join(sorted(RULES))
        message = f"unknown rule code {code!r}, expected one of: {known}"
        raise KeyError(message) from None
