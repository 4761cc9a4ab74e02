"""The resources the demo's departments publish to the sharing catalogue (共享目录).

Base registers are shared without conditions (无条件共享), most others with
conditions (有条件共享), and a few not at all (不予共享), each with its data
items (信息项) and the purposes requesters state.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceSpec:
    """A catalogue resource (信息资源) the demo publishes for a provider department."""

    provider_hint: str
    name: str
    share_type: str
    open_type: str
    update_cycle: str
    format: str
    items: tuple[tuple[str, str], ...]
    """Data items (信息项) with their data type."""
    condition: str | None = None
    purposes: tuple[str, ...] = ()


RESOURCES = (
    ResourceSpec(
        "市监",
        "市场主体登记信息",
        "unconditional",
        "open",
        "每日",
        "接口",
        (
            ("统一社会信用代码", "string"),
            ("企业名称", "string"),
            ("法定代表人", "string"),
            ("登记状态", "string"),
            ("成立日期", "date"),
        ),
        purposes=("企业开办信息核验", "招投标主体资格审查", "涉企补贴申报审核"),
    ),
    ResourceSpec(
        "行政审批",
        "行政许可决定信息",
        "unconditional",
        "open",
        "实时",
        "接口",
        (
            ("许可决定书文号", "string"),
            ("许可事项", "string"),
            ("行政相对人", "string"),
            ("决定日期", "date"),
        ),
        purposes=("事中事后监管", "信用信息归集"),
    ),
    ResourceSpec(
        "交通运输",
        "道路运输经营许可信息",
        "unconditional",
        "open",
        "每日",
        "文件",
        (
            ("经营许可证号", "string"),
            ("业户名称", "string"),
            ("经营范围", "string"),
            ("有效期至", "date"),
        ),
        purposes=("运输企业安全检查", "营运车辆年审核验"),
    ),
    ResourceSpec(
        "民政",
        "婚姻登记信息",
        "conditional",
        "closed",
        "实时",
        "接口",
        (
            ("姓名", "string"),
            ("身份证号", "string"),
            ("婚姻状况", "string"),
            ("登记日期", "date"),
            ("登记机关", "string"),
        ),
        condition="仅用于婚姻状况核验相关业务，不得向第三方提供",
        purposes=("不动产登记婚姻状况核验", "公租房申请资格审核", "生育登记服务"),
    ),
    ResourceSpec(
        "民政",
        "最低生活保障对象信息",
        "conditional",
        "closed",
        "每月",
        "库表",
        (
            ("姓名", "string"),
            ("身份证号", "string"),
            ("保障人数", "number"),
            ("保障金额", "number"),
        ),
        condition="用于社会救助对象审核，按月核对",
        purposes=("医疗救助对象认定", "教育资助对象认定"),
    ),
    ResourceSpec(
        "税务",
        "纳税人登记信息",
        "conditional",
        "conditional",
        "每日",
        "接口",
        (
            ("纳税人识别号", "string"),
            ("纳税人名称", "string"),
            ("登记状态", "string"),
            ("主管税务机关", "string"),
        ),
        condition="用于企业开办、注销和信用监管",
        purposes=("企业注销一件事联办", "涉企信用监管"),
    ),
    ResourceSpec(
        "税务",
        "纳税申报明细",
        "none",
        "closed",
        "每月",
        "库表",
        (("纳税人识别号", "string"), ("申报税种", "string"), ("应纳税额", "number")),
        condition="涉及纳税人商业秘密，依据税收征收管理法不予共享",
    ),
    ResourceSpec(
        "自然资源",
        "不动产登记信息",
        "conditional",
        "closed",
        "实时",
        "接口",
        (
            ("不动产单元号", "string"),
            ("权利人", "string"),
            ("坐落", "string"),
            ("权利类型", "string"),
            ("登记时间", "date"),
        ),
        condition="用于不动产交易、抵押和司法协助核验",
        purposes=("公积金贷款房产核验", "人才购房补贴审核", "拆迁安置核查"),
    ),
    ResourceSpec(
        "住建",
        "商品房网签备案信息",
        "conditional",
        "closed",
        "每日",
        "接口",
        (
            ("合同编号", "string"),
            ("买受人", "string"),
            ("房屋坐落", "string"),
            ("备案日期", "date"),
        ),
        condition="用于房产交易相关业务核验",
        purposes=("契税征收核验", "户籍迁入房产核验"),
    ),
    ResourceSpec(
        "卫健",
        "出生医学证明信息",
        "conditional",
        "closed",
        "每日",
        "接口",
        (
            ("新生儿姓名", "string"),
            ("出生日期", "date"),
            ("母亲姓名", "string"),
            ("证明编号", "string"),
        ),
        condition="用于出生一件事联办",
        purposes=("新生儿户籍登记", "新生儿医保参保"),
    ),
    ResourceSpec(
        "教科体",
        "中小学生学籍信息",
        "conditional",
        "closed",
        "每学期",
        "文件",
        (("学生姓名", "string"), ("学籍号", "string"), ("就读学校", "string")),
        condition="用于教育资助和随迁子女入学审核",
        purposes=("教育资助对象认定",),
    ),
    ResourceSpec(
        "司法",
        "社区矫正对象信息",
        "none",
        "closed",
        "每月",
        "库表",
        (("姓名", "string"), ("身份证号", "string"), ("矫正期限", "string")),
        condition="涉及个人敏感信息，法律法规规定不予共享",
    ),
)
"""Resources by provider; a provider missing from the demo items publishes none."""
