"""Data sharing (数据共享) among the departments of 广安区 and two neighbours.

Departments of the item catalogue publish resources to the sharing
catalogue in the first days of the export period: base registers without
conditions (无条件共享), most others with conditions (有条件共享) and a few
not at all (不予共享). Other departments request them with a purpose. The
data authority approves an unconditional request within two working days.
The provider decides on a conditional one in about a week, sometimes with a
refusal and its reason. Approved requests receive deliveries through an
interface, a file or a database table; some are revoked, and users of
delivered data raise objections (数据异议) that the provider resolves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench.demo._calendar import MINUTES_PER_DAY, WorkingCalendar
from bench.demo._catalogue import DemoItem
from bench.demo._family_rows import Cell, FamilyRow
from bench.demo._share_catalogue import RESOURCES, ResourceSpec
from bench.demo._visits import REGION
from contracts.identifiers import org_code_check_char, uscc_check_char

_REQUESTS_PER_MONTH = 18
_CONDITIONAL_DENIED_SHARE = 0.2
_REVOKED_SHARE = 0.06
_OBJECTION_SHARE = 0.1
_RESOLVED_SHARE = 0.7
_CORRECTED_SHARE = 0.6


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    region: str


_DENIAL_REASONS = (
    "申请用途与所需信息项不相符，请缩小信息项范围",
    "超出申请部门履职范围",
    "未提供相关法律法规或政策依据",
)
_REVOKE_REASONS = ("使用场景已结束", "超出授权范围使用，暂停共享")
_OBJECTION_CLAIMS = {
    "婚姻状况": "离婚",
    "登记状态": "存续",
    "权利人": "王建国",
    "保障人数": "3",
    "法定代表人": "李明",
}
_NEIGHBOURS = (("511603", "前锋区行政审批局"), ("511600", "广安市医疗保障局"))
"""Requesting departments outside 广安区; their credit codes are made up but valid."""


def _made_up_department(rng: random.Random, region: str, name: str) -> Department:
    """Build an agency (机关, category 11) credit code with correct check characters."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(rng.choices(alphabet, k=8))
    code = f"11{region}{body}{org_code_check_char(body)}"
    return Department(code=code + uscc_check_char(code), name=name, region=region)


def catalogue_departments(rng: random.Random, items: list[DemoItem]) -> list[Department]:
    """Return each department of the demo items once, plus the two neighbours."""
    seen: dict[str, Department] = {}
    for item in items:
        seen.setdefault(
            item.department_name, Department(item.department_code, item.department_name, REGION)
        )
    neighbours = [_made_up_department(rng, region, name) for region, name in _NEIGHBOURS]
    return [*seen.values(), *neighbours]


@dataclass(slots=True)
class Resource:
    code: str
    spec: ResourceSpec
    provider: Department
    published: int
    withdrawn: int | None = None
    deliveries: int = 0


@dataclass(slots=True)
class SharingLog:
    """The rows of the sharing platform and the entities behind them."""

    resources: list[Resource] = field(default_factory=list)
    rows: list[FamilyRow] = field(default_factory=list)
    requests: int = 0
    objections: int = 0


class SharingBuilder:
    """Build the catalogue, requests, deliveries and objections before the cutoff."""

    def __init__(
        self,
        rng: random.Random,
        calendar: WorkingCalendar,
        departments: list[Department],
        first_moment: int,
        cutoff_moment: int,
    ) -> None:
        self._rng = rng
        self._calendar = calendar
        self._departments = departments
        self._first = first_moment
        self._cutoff = cutoff_moment
        self.log = SharingLog()

    @property
    def cutoff_moment(self) -> int:
        return self._cutoff

    def time_of(self, moment: int) -> datetime:
        """Return the time of a working minute, with random seconds."""
        return self._calendar.to_datetime(moment) + timedelta(seconds=self._rng.randrange(60))

    def _later(self, moment: int, low_days: int, high_days: int) -> int:
        day = moment // MINUTES_PER_DAY + self._rng.randint(low_days, high_days)
        return max(day * MINUTES_PER_DAY + self._rng.randrange(MINUTES_PER_DAY), moment + 5)

    def make_row(self, event: str, moment: int, values: dict[str, Cell]) -> FamilyRow | None:
        """Append a row and return it, or return None when it falls at or after the cutoff."""
        if moment >= self._cutoff:
            return None
        row = FamilyRow(event=event, time=self.time_of(moment), values=values)
        self.log.rows.append(row)
        return row

    def _row(self, event: str, moment: int, values: dict[str, Cell]) -> bool:
        return self.make_row(event, moment, values) is not None

    # Catalogue --------------------------------------------------------------

    def publish_catalogue(self) -> None:
        """Publish every resource whose provider is a demo department, in the first week."""
        numbers: dict[str, int] = {}
        for spec in RESOURCES:
            provider = next(
                (dept for dept in self._departments if spec.provider_hint in dept.name), None
            )
            if provider is None:
                continue
            index = self._departments.index(provider) + 1
            numbers[provider.code] = numbers.get(provider.code, 0) + 1
            code = f"{provider.region}-{index:02d}-{numbers[provider.code]:04d}"
            moment = self._first + self._rng.randrange(5 * MINUTES_PER_DAY)
            resource = Resource(code=code, spec=spec, provider=provider, published=moment)
            self.log.resources.append(resource)
            self._row("resource_published", moment, self.resource_values(resource, full=True))

    def resource_values(self, resource: Resource, *, full: bool) -> dict[str, Cell]:
        values: dict[str, Cell] = {
            "resource_code": resource.code,
            "provider": resource.provider.code,
            "department_code": resource.provider.code,
            "region": resource.provider.region,
        }
        if full:
            spec = resource.spec
            values.update(
                name=spec.name,
                provider_name=resource.provider.name,
                share_type=spec.share_type,
                share_condition=spec.condition,
                open_type=spec.open_type,
                update_cycle=spec.update_cycle,
                format=spec.format,
                data_items=tuple(f"{name}:{kind}" for name, kind in spec.items),
            )
        return values

    def change_catalogue(self) -> None:
        """Change the update cycle of one resource and withdraw another after three months."""
        shareable = [res for res in self.log.resources if res.spec.share_type != "none"]
        if len(shareable) < 2:
            return
        changed, withdrawn = self._rng.sample(shareable, 2)
        moment = changed.published + 40 * MINUTES_PER_DAY + self._rng.randrange(MINUTES_PER_DAY)
        values = {**self.resource_values(changed, full=False), "update_cycle": "实时"}
        values["remark"] = "更新周期调整为实时"
        self._row("resource_changed", moment, values)

        moment = withdrawn.published + 60 * MINUTES_PER_DAY + self._rng.randrange(MINUTES_PER_DAY)
        values = {
            **self.resource_values(withdrawn, full=False),
            "remark": "数据源系统停用，资源下架",
        }
        if self._row("resource_withdrawn", moment, values):
            withdrawn.withdrawn = moment

    # Requests ---------------------------------------------------------------

    def request_values(
        self, request_id: str, resource: Resource, requester: Department
    ) -> dict[str, Cell]:
        return {
            "request_id": request_id,
            "resource_code": resource.code,
            "requester": requester.code,
            "requester_name": requester.name,
            "region": requester.region,
            "department_code": requester.code,
        }

    def new_request_id(self, moment: int) -> str:
        self.log.requests += 1
        return f"SQ{self._calendar.to_datetime(moment):%Y%m%d}{self.log.requests:04d}"

    def add_requests(self, months: int) -> None:
        """Submit requests over the period, each with its approval or denial and deliveries."""
        for _ in range(_REQUESTS_PER_MONTH * months):
            moment = self._rng.randrange(self._first + 5 * MINUTES_PER_DAY, self._cutoff)
            open_resources = [
                res
                for res in self.log.resources
                if res.spec.share_type != "none"
                and (res.withdrawn is None or res.withdrawn > moment)
            ]
            if not open_resources:
                return
            resource = self._rng.choice(open_resources)
            requester = self._rng.choice(
                [dept for dept in self._departments if dept.code != resource.provider.code]
            )
            self._play_request(resource, requester, moment)

    def _play_request(self, resource: Resource, requester: Department, moment: int) -> None:
        rng = self._rng
        request_id = self.new_request_id(moment)
        base = self.request_values(request_id, resource, requester)
        spec = resource.spec
        names = [name for name, _ in spec.items]
        wanted = tuple(sorted(rng.sample(names, rng.randint(2, len(names))), key=names.index))
        purpose = rng.choice(spec.purposes)
        self._row("request_submitted", moment, {**base, "purpose": purpose, "data_items": wanted})

        answered = dict(base, department_code=resource.provider.code)
        if spec.share_type == "unconditional":
            moment = self._later(moment, 0, 2)
        else:
            moment = self._later(moment, 1, 7)
            if rng.random() < _CONDITIONAL_DENIED_SHARE:
                self._row(
                    "request_denied", moment, {**answered, "reason": rng.choice(_DENIAL_REASONS)}
                )
                return
        if not self._row("request_approved", moment, answered):
            return

        self._deliver(resource, answered, moment, names)

    def _deliver(
        self, resource: Resource, answered: dict[str, Cell], moment: int, names: list[str]
    ) -> None:
        rng = self._rng
        channel = {"接口": "api", "文件": "file", "库表": "database"}[resource.spec.format]
        deliveries = rng.randint(2, 6) if channel == "api" else rng.randint(1, 2)
        first_delivery: int | None = None
        for _ in range(deliveries):
            moment = self._later(moment, 1, 20)
            count = rng.randint(50, 3000) if channel == "api" else rng.randint(100, 50_000)
            if resource.withdrawn is not None and moment >= resource.withdrawn:
                break
            values = {**answered, "count": count, "channel": channel}
            if not self._row("request_delivered", moment, values):
                return
            resource.deliveries += 1
            if first_delivery is None:
                first_delivery = moment

        if first_delivery is not None and rng.random() < _OBJECTION_SHARE:
            self._object(resource, answered, first_delivery, names)
        if rng.random() < _REVOKED_SHARE:
            reason = rng.choice(_REVOKE_REASONS)
            self._row("request_revoked", self._later(moment, 1, 10), {**answered, "reason": reason})

    def _object(
        self, resource: Resource, answered: dict[str, Cell], delivered: int, names: list[str]
    ) -> None:
        """Raise an objection to a delivered value, and resolve most objections later."""
        rng = self._rng
        disputed = [name for name in names if name in _OBJECTION_CLAIMS] or names
        field_name = rng.choice(disputed)
        self.log.objections += 1
        moment = self._later(delivered, 1, 10)

        objection_id = f"YI{self._calendar.to_datetime(moment):%Y%m%d}{self.log.objections:03d}"
        raised: dict[str, Cell] = {
            "objection_id": objection_id,
            "resource_code": resource.code,
            "request_id": answered["request_id"],
            "disputed_record_key": f"R{rng.randrange(10**9):09d}",
            "field": field_name,
            "claimed_value": _OBJECTION_CLAIMS.get(field_name, "以申请方核实为准"),
            "raised_by": answered["requester"],
            "region": answered["region"],
            "department_code": answered["requester"],
        }
        if not self._row("objection_raised", moment, raised) or rng.random() >= _RESOLVED_SHARE:
            return

        outcome = "corrected" if rng.random() < _CORRECTED_SHARE else "upheld"
        note = "已核实更正源数据" if outcome == "corrected" else "经核实原数据准确，维持不变"
        resolved: dict[str, Cell] = {
            "objection_id": objection_id,
            "resource_code": resource.code,
            "outcome": outcome,
            "note": note,
            "region": answered["region"],
            "department_code": resource.provider.code,
        }
        self._row("objection_resolved", self._later(moment, 2, 15), resolved)
