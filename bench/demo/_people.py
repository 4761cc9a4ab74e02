"""Synthetic applicants (申请人): persons and enterprises with valid identifiers.

Every number is made up. ID numbers and credit codes carry correct check
characters and real Sichuan county codes, so they pass the bus's checks
unless a defect changes them on purpose.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Literal

import msgspec

from contracts.identifiers import id_card_check_char, org_code_check_char, uscc_check_char
from contracts.regions import is_known_region

IdType = Literal["id_card", "uscc", "passport"]

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范廖石"
    "金贾夏付方邹熊白孟秦邱侯江尹薛"
)
_GIVEN_CHARACTERS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉"
    "鹏飞斌宇浩凯健俊帆帅旭宁波亮林婷雪琳晶欣怡佳思雨梦瑶晨阳子涵轩"
    "志成兴荣德福春梅秋菊海燕小川蓉蜀"
)
_COMPANY_WORDS = (
    "兴达",
    "恒信",
    "瑞丰",
    "宏远",
    "金诚",
    "华川",
    "蜀源",
    "安泰",
    "鑫盛",
    "永和",
    "嘉禾",
    "天府",
    "渠江",
    "协兴",
    "思源",
    "广顺",
    "德邦",
    "百川",
    "汇通",
    "利民",
)
_COMPANY_TRADES = (
    "商贸",
    "建筑工程",
    "农业开发",
    "餐饮管理",
    "物流",
    "装饰工程",
    "电子科技",
    "医药",
    "农机",
    "食品",
    "教育咨询",
    "物业服务",
    "汽车维修",
    "建材",
)
_COMPANY_FORMS = ("有限公司", "有限责任公司", "股份有限公司")
_SHOP_KINDS = ("小吃店", "副食店", "五金店", "理发店", "茶馆", "农资经营部", "服装店")

_MOBILE_PREFIXES = (
    *(f"13{digit}" for digit in range(10)),
    *(f"15{digit}" for digit in (0, 1, 2, 3, 5, 6, 7, 8, 9)),
    *(f"18{digit}" for digit in range(10)),
)
_USCC_BODY_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_SICHUAN = "51"
_HOME_REGION = "511602"
_EARLIEST_BIRTH = date(1950, 1, 1)
_LATEST_BIRTH = date(2005, 12, 31)


class Applicant(msgspec.Struct, frozen=True, kw_only=True):
    """A person or an enterprise that applies for an item."""

    name: str
    id_type: IdType
    id_number: str
    phone: str


def sichuan_county_codes() -> list[str]:
    """List the county-level codes (51xxyy, yy not 00) of the bundled region snapshot."""
    codes: list[str] = []
    for city in range(1, 100):
        for county in range(1, 100):
            code = f"{_SICHUAN}{city:02d}{county:02d}"
            if is_known_region(code):
                codes.append(code)
    return codes


class ApplicantFactory:
    """Draw applicants from one random generator, so the same seed gives the same people."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._counties = sichuan_county_codes()
        if not self._counties:
            message = "the bundled region list has no Sichuan county codes (51xxxx)"
            raise ValueError(message)

    def phone(self) -> str:
        """Make an 11-digit mobile number starting with 13x, 15x or 18x."""
        prefix = self._rng.choice(_MOBILE_PREFIXES)
        return prefix + f"{self._rng.randrange(10**8):08d}"

    def person_name(self) -> str:
        surname = self._rng.choice(_SURNAMES)
        length = 1 if self._rng.random() < 0.3 else 2
        return surname + "".join(self._rng.choices(_GIVEN_CHARACTERS, k=length))

    def id_card(self) -> str:
        """Make a resident ID number: a Sichuan county, a birth date, a sequence, a check."""
        region = _HOME_REGION if self._rng.random() < 0.6 else self._rng.choice(self._counties)
        span = (_LATEST_BIRTH - _EARLIEST_BIRTH).days
        born = _EARLIEST_BIRTH + timedelta(days=self._rng.randrange(span + 1))
        sequence = self._rng.randrange(1000)

        body = f"{region}{born:%Y%m%d}{sequence:03d}"
        return body + id_card_check_char(body)

    def passport(self) -> str:
        """Make a passport number of the current E-series shape: E and 8 digits."""
        return f"E{self._rng.randrange(10**8):08d}"

    def uscc(self, *, individual_business: bool) -> str:
        """Make a 统一社会信用代码 registered by market regulation (9) in a Sichuan county.

        Category 1 is a company and 2 an individual business (个体工商户).
        Positions 9-17 are an organization code with its own GB 11714 check.
        """
        category = "2" if individual_business else "1"
        region = _HOME_REGION if self._rng.random() < 0.7 else self._rng.choice(self._counties)
        org_body = "".join(self._rng.choices(_USCC_BODY_ALPHABET, k=8))
        org_check = org_code_check_char(org_body)

        body = f"9{category}{region}{org_body}{org_check}"
        return body + uscc_check_char(body)

    def person(self, *, passport: bool = False) -> Applicant:
        return Applicant(
            name=self.person_name(),
            id_type="passport" if passport else "id_card",
            id_number=self.passport() if passport else self.id_card(),
            phone=self.phone(),
        )

    def enterprise(self) -> Applicant:
        individual_business = self._rng.random() < 0.3
        if individual_business:
            name = f"广安区{self.person_name()}{self._rng.choice(_SHOP_KINDS)}"
        else:
            word = self._rng.choice(_COMPANY_WORDS)
            trade = self._rng.choice(_COMPANY_TRADES)
            name = f"广安{word}{trade}{self._rng.choice(_COMPANY_FORMS)}"

        return Applicant(
            name=name,
            id_type="uscc",
            id_number=self.uscc(individual_business=individual_business),
            phone=self.phone(),
        )
