"""Plant the defects of the sharing platform's export, and count the flows the ingest should see.

Each request anchors at most one defect, and rows that other rows depend on
(a publication, a submission, a request's first delivery) are never
quarantined, so every planted row has exactly the outcome
``DEFECT_OUTCOMES`` gives it.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from bench.demo._calendar import MINUTES_PER_DAY
from bench.demo._defects import full_width
from bench.demo._family_defects import INVALID_REGION, move_before, pick, resend, scaled
from bench.demo._family_rows import HARMLESS_DEFECTS, Cell, FamilyLayout, FamilyRow
from bench.demo._sharing import Department, Resource, SharingBuilder


def _request(row: FamilyRow) -> str:
    return str(row.values.get("request_id") or "")


class ShareDefects:
    """Plant defects into the sharing rows; the builder's row list grows with new rows."""

    def __init__(
        self,
        rng: random.Random,
        layout: FamilyLayout,
        builder: SharingBuilder,
        departments: list[Department],
    ) -> None:
        self._rng = rng
        self._layout = layout
        self._builder = builder
        self._rows = builder.log.rows
        self._departments = departments
        self._used: set[str] = set()
        """Requests that already anchor a planted defect."""

    def _clean(self, event: str) -> list[FamilyRow]:
        return [
            row
            for row in self._rows
            if row.event == event and row.defect is None and _request(row) not in self._used
        ]

    def _claim(self, count: int, candidates: list[FamilyRow]) -> list[FamilyRow]:
        chosen = pick(self._rng, candidates, count)
        self._used.update(_request(row) for row in chosen)
        return chosen

    def _later_deliveries(self) -> list[FamilyRow]:
        """Return deliveries that follow an earlier delivery of the same request."""
        seen: set[str] = set()
        later: list[FamilyRow] = []
        for row in sorted(self._rows, key=lambda row: row.time):
            if row.event != "request_delivered":
                continue
            if _request(row) in seen and row.defect is None and _request(row) not in self._used:
                later.append(row)
            seen.add(_request(row))
        return later

    # Before the rows are sorted into files ----------------------------------

    def plant_rows(self) -> None:
        """Plant every defect that changes or adds rows."""
        requests = len(self._clean("request_submitted"))
        self._not_shareable(scaled(requests, 0.015))
        self._delivery_without_approval(scaled(requests, 0.015))
        self._unknown_resource(scaled(requests, 0.01))
        self._objection_without_delivery()
        self._withdrawn_requests(scaled(requests, 0.01))
        self._unmapped_channel(scaled(requests, 0.01))
        self._invalid_regions(scaled(requests, 0.01))
        self._full_width(scaled(len(self._rows), 0.01))

    def _random_moment(self, resource: Resource) -> int:
        builder = self._builder
        first = resource.published + MINUTES_PER_DAY
        return self._rng.randrange(first, max(first + 1, builder.cutoff_moment - MINUTES_PER_DAY))

    def _requester(self, resource: Resource) -> Department:
        others = [dept for dept in self._departments if dept.code != resource.provider.code]
        return self._rng.choice(others)

    def _submit(self, resource: Resource, moment: int, defect: str | None) -> FamilyRow | None:
        builder = self._builder
        request_id = builder.new_request_id(moment)
        self._used.add(request_id)
        values = builder.request_values(request_id, resource, self._requester(resource))
        values["purpose"] = "业务协同核验"
        values["data_items"] = tuple(name for name, _ in resource.spec.items[:2])
        row = builder.make_row("request_submitted", moment, values)
        if row is not None:
            row.defect = defect
        return row

    def _not_shareable(self, count: int) -> None:
        closed = [res for res in self._builder.log.resources if res.spec.share_type == "none"]
        for _ in range(count if closed else 0):
            resource = self._rng.choice(closed)
            self._submit(resource, self._random_moment(resource), "not_shareable_request")

    def _delivery_without_approval(self, count: int) -> None:
        conditional = [
            res
            for res in self._builder.log.resources
            if res.spec.share_type == "conditional" and res.withdrawn is None
        ]
        for _ in range(count if conditional else 0):
            resource = self._rng.choice(conditional)
            moment = self._random_moment(resource)
            submitted = self._submit(resource, moment, None)
            if submitted is None:
                continue
            values = {
                **submitted.values,
                "department_code": resource.provider.code,
                "count": self._rng.randint(50, 500),
                "channel": "api",
            }
            for name in ("purpose", "data_items"):
                values.pop(name)
            delivered = self._builder.make_row("request_delivered", moment + 60, values)
            if delivered is not None:
                delivered.defect = "delivery_without_approval"

    def _unknown_resource(self, count: int) -> None:
        resources = self._builder.log.resources
        for number in range(1, count + 1):
            resource = self._rng.choice(resources)
            submitted = self._submit(resource, self._random_moment(resource), "unknown_resource")
            if submitted is not None:
                submitted.values["resource_code"] = f"{resource.provider.region}-99-{number:04d}"

    def _objection_without_delivery(self) -> None:
        """Object to a resource that never had a delivery, such as one marked 不予共享."""
        delivered = {
            row.values["resource_code"] for row in self._rows if row.event == "request_delivered"
        }
        undelivered = [res for res in self._builder.log.resources if res.code not in delivered]
        if not undelivered:
            return
        resource = self._rng.choice(undelivered)
        requester = self._requester(resource)
        moment = self._random_moment(resource)
        values: dict[str, Cell] = {
            "objection_id": f"YI{self._builder.time_of(moment):%Y%m%d}900",
            "resource_code": resource.code,
            "disputed_record_key": f"R{self._rng.randrange(10**9):09d}",
            "field": resource.spec.items[0][0],
            "claimed_value": "以申请方核实为准",
            "raised_by": requester.code,
            "region": requester.region,
            "department_code": requester.code,
        }
        row = self._builder.make_row("objection_raised", moment, values)
        if row is not None:
            row.defect = "objection_without_delivery"

    def _withdrawn_requests(self, count: int) -> None:
        """Log a requester withdrawing its request (申请撤回), an event no contract has."""
        for submitted in self._claim(count, self._clean("request_submitted")):
            row = FamilyRow(
                event="request_withdrawn",
                time=submitted.time + timedelta(minutes=self._rng.randint(5, 60)),
                values={**submitted.values, "remark": "申请方撤回申请"},
                codes={"event": self._layout.unmapped["event"]},
                defect="unmapped_event",
            )
            self._rows.append(row)

    def _unmapped_channel(self, count: int) -> None:
        for row in self._claim(count, self._later_deliveries()):
            row.codes["channel"] = self._layout.unmapped["channel"]
            row.defect = "unmapped_channel"

    def _invalid_regions(self, count: int) -> None:
        """Break the region of rows nothing depends on: later deliveries and revocations."""
        for row in self._claim(count, self._later_deliveries() + self._clean("request_revoked")):
            row.values["region"] = INVALID_REGION
            row.defect = "invalid_region"

    def _full_width(self, count: int) -> None:
        clean = [row for row in self._rows if row.defect is None]
        for row in pick(self._rng, clean, count):
            row.values["department_code"] = full_width(str(row.values["department_code"]))
            row.defect = "full_width_digits"

    # After the rows are sorted into files -----------------------------------

    def plant_placement(self, files: list[list[FamilyRow]]) -> None:
        """Move some approvals before their request, then re-send some rows."""
        submitted = {
            _request(row): row
            for rows in files
            for row in rows
            if row.event == "request_submitted" and row.defect is None
        }
        approvals = [
            row
            for rows in files
            for row in rows
            if row.event == "request_approved"
            and row.defect is None
            and _request(row) in submitted
            and _request(row) not in self._used
        ]
        for approval in pick(self._rng, approvals, scaled(len(approvals), 0.02)):
            move_before(files, approval, submitted[_request(approval)])
            approval.defect = "out_of_order"

        clean = [row for rows in files for row in rows if row.defect is None]
        for row in pick(self._rng, clean, scaled(len(clean), 0.015)):
            resend(self._rng, files, row)


SHARE_FLOW_COUNTS = (
    "resource_published",
    "resource_changed",
    "resource_withdrawn",
    "resources_unconditional",
    "resources_conditional",
    "resources_not_shared",
    "request_submitted",
    "request_approved",
    "request_denied",
    "request_delivered",
    "requests_with_delivery",
    "request_revoked",
    "objection_raised",
    "objection_resolved",
    "objections_corrected",
    "objections_upheld",
)
"""Keys of ``share_flow_counts``, each present even when zero."""


def share_flow_counts(rows: list[FamilyRow]) -> dict[str, int]:
    """Count the sharing events a correct ingest publishes."""
    counts: Counter[str] = Counter(dict.fromkeys(SHARE_FLOW_COUNTS, 0))
    delivered: set[str] = set()
    share_types = {
        "unconditional": "resources_unconditional",
        "conditional": "resources_conditional",
        "none": "resources_not_shared",
    }
    for row in rows:
        if row.defect is not None and row.defect not in HARMLESS_DEFECTS:
            continue
        counts[row.event] += 1
        if row.event == "resource_published":
            counts[share_types[str(row.values["share_type"])]] += 1
        elif row.event == "request_delivered":
            delivered.add(_request(row))
        elif row.event == "objection_resolved":
            counts[f"objections_{row.values['outcome']}"] += 1
    counts["requests_with_delivery"] = len(delivered)
    return {name: counts[name] for name in SHARE_FLOW_COUNTS}
