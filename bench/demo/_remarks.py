"""Short remarks (备注) that clerks type beside a status, some over several lines."""

from __future__ import annotations

import random

_REMARKS: dict[str, tuple[str, ...]] = {
    "submitted": ("网上申报", "窗口申报", "代办人提交", "预约后到窗口提交", "申请人自行提交"),
    "accepted": (
        "材料齐全，符合法定形式",
        "当场受理",
        "容缺受理",
        "已出具受理通知书",
        "已受理,待审核",
    ),
    "not_accepted": (
        "不属于本部门职权范围",
        "申请事项依法不需要取得行政许可",
        "材料不符合法定形式",
    ),
    "supplement_requested": (
        "一次性告知补正材料",
        "补正材料：\n1. 身份证复印件,户口簿复印件\n2. 申请表（须本人签字）",
        '请补充"营业执照"副本复印件',
    ),
    "supplemented": ("补正材料已收齐", "申请人已按要求补正"),
    "step_completed": ("初审通过", "审核通过", "复审通过", "已现场核查", "科室负责人签批"),
    "suspended": ("启动专家评审", "进入听证程序", "现场勘验，时间不计入承诺时限"),
    "resumed": ("特别程序结束", "专家评审完成，恢复办理"),
    "concluded": ("准予许可", "办结", "审批通过，证照已制作", "不予许可，已说明理由"),
    "result_delivered": ("窗口领取", "邮政寄递", "电子证照已推送", "申请人已签收\n签收人：本人"),
    "withdrawn": ("申请人主动撤回", "申请人撤回申请,材料已退回"),
}
_REMARK_SHARE = 0.4


def pick_remark(rng: random.Random, event: str) -> str:
    """Return a remark for a status row, or an empty string for the rows without one."""
    if rng.random() >= _REMARK_SHARE:
        return ""
    return rng.choice(_REMARKS.get(event, ("",)))
