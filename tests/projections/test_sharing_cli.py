"""The ``zwbus sharing`` commands in English and Chinese, as tables and JSON."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from click.testing import CliRunner, Result

from bus.cli import build_root
from bus.connect import open_bus
from bus.i18n import set_language
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.identifiers import mask_identifier
from projections.checkpoint_store import StoreNotFoundError
from tests.projections.helpers import at, publish
from tests.projections.sharing_helpers import PERSON_ID, request_flow, share_event


def zwbus(settings: Settings, *arguments: str) -> Result:
    """Invoke the root command in this process, returning the command's own exit value."""
    assert settings.nats_url is not None
    return CliRunner().invoke(
        build_root(),
        ["--nats-url", settings.nats_url, "--data-dir", str(settings.data_dir), *arguments],
        standalone_mode=False,
        env={"COLUMNS": "300"},
    )


@pytest.fixture
def projected(settings: Settings) -> Settings:
    """Two resources, three requests and two objections on the bus and in the sharing store."""

    async def prepare() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish(
                client,
                [
                    share_event("resource_published", "RES-1", at("2026-09-01")),
                    share_event(
                        "resource_published",
                        "RES-2",
                        at("2026-09-01"),
                        name="企业登记信息",
                        provider="11510000MB0000002B",
                        share_type="unconditional",
                        share_condition=None,
                    ),
                    *request_flow("REQ-1"),
                    share_event("request_submitted", "REQ-2", at("2026-10-09", "09:00")),
                    share_event("request_approved", "REQ-2", at("2026-10-09", "15:00")),
                    share_event("request_submitted", "REQ-3", at("2026-10-12", "09:00"),
                                resource_code="RES-2"),
                    share_event("objection_raised", "OBJ-1", at("2026-09-30", "10:00")),
                    share_event("objection_raised", "OBJ-2", at("2026-10-08", "09:00")),
                    share_event("objection_resolved", "OBJ-2", at("2026-10-09", "09:00")),
                ],
            )

    asyncio.run(prepare())
    result = zwbus(settings, "projections", "run", "sharing", "--until-caught-up")
    assert result.exception is None, result.output
    assert "applied 12, skipped 0" in result.stdout
    return settings


def test_catalogue_table_and_filters(projected: Settings) -> None:
    table = zwbus(projected, "sharing", "catalogue")
    conditional = zwbus(projected, "sharing", "catalogue", "--share-type", "有条件", "--json")
    by_provider = zwbus(projected, "sharing", "catalogue", "--provider", "11510000MB0000002B",
                        "--json")

    assert table.exception is None, table.output
    assert "Conditional sharing: 仅用于政务服务办理" in table.stdout
    assert "Unconditional sharing" in table.stdout
    assert "姓名, 身份证号" in table.stdout
    assert "2 resource(s) shown (limit 100)." in table.stdout
    assert [entry["code"] for entry in msgspec.json.decode(conditional.stdout)] == ["RES-1"]
    [entry] = msgspec.json.decode(by_provider.stdout)
    assert entry["code"] == "RES-2"
    assert entry["share_type"] == "unconditional"
    assert entry["data_items"] == [
        {"name": "姓名", "data_type": "string"},
        {"name": "身份证号", "data_type": "string"},
    ]


def test_requests_show_timings_and_medians(projected: Settings) -> None:
    table = zwbus(projected, "sharing", "requests")
    delivering = zwbus(projected, "sharing", "requests", "--state", "delivering", "--json")
    by_resource = zwbus(projected, "sharing", "requests", "--resource", "RES-2", "--json")

    assert table.exception is None, table.output
    assert "193.0 / 1" in table.stdout
    assert "240.0 / 3" in table.stdout
    assert "6.0 / 0" in table.stdout
    assert "Approved, not delivered" in table.stdout
    assert "3 request(s) match." in table.stdout
    assert (
        "Median time to approval: 99.5 / 0.5 (hours / working days) over 2 approved request(s)."
        in table.stdout
    )
    assert (
        "Median time to first delivery: 240.0 / 3 (hours / working days) over 1 delivered "
        "request(s)." in table.stdout
    )
    document = msgspec.json.decode(delivering.stdout)
    assert [view["request_id"] for view in document["requests"]] == ["REQ-1"]
    assert document["requests"][0]["delivered_records"] == 150
    assert document["medians"]["approval_working_days"] == 1
    assert [view["request_id"] for view in msgspec.json.decode(by_resource.stdout)["requests"]] \
        == ["REQ-3"]


def test_objections_show_age_of_open_ones(projected: Settings) -> None:
    table = zwbus(projected, "sharing", "objections", "--as-of", "2026-10-09 10:00")
    open_only = zwbus(
        projected, "sharing", "objections", "--open", "--as-of", "2026-10-09 10:00", "--json"
    )

    assert table.exception is None, table.output
    assert "OBJ-2" in table.stdout
    assert "Corrected" in table.stdout
    assert mask_identifier(PERSON_ID) in table.stdout
    assert PERSON_ID not in table.stdout
    [view] = msgspec.json.decode(open_only.stdout)
    assert view["objection_id"] == "OBJ-1"
    assert view["age_days"] == 9.0
    assert view["age_working_days"] == 2


def test_backlog_counts_and_oldest_age(projected: Settings) -> None:
    table = zwbus(projected, "sharing", "backlog", "--as-of", "2026-10-09 10:00")
    document = zwbus(projected, "sharing", "backlog", "--as-of", "2026-10-09 10:00", "--json")

    assert table.exception is None, table.output
    assert "Requests awaiting approval" in table.stdout
    assert "OBJ-1: 9.0 days, 2 working days" in table.stdout
    assert msgspec.json.decode(document.stdout) == {
        "as_of": "2026-10-09T10:00:00.000000+08:00",
        "awaiting_approval": 1,
        "approved_not_delivered": 1,
        "open_objections": 1,
        "oldest_objection_id": "OBJ-1",
        "oldest_objection_age_days": 9.0,
        "oldest_objection_age_working_days": 2,
    }


def test_tables_in_chinese(projected: Settings) -> None:
    set_language("zh_CN")

    catalogue = zwbus(projected, "sharing", "catalogue")
    requests = zwbus(projected, "sharing", "requests")
    backlog = zwbus(projected, "sharing", "backlog", "--as-of", "2026-10-09 10:00")

    assert catalogue.exception is None, catalogue.output
    assert "有条件共享" in catalogue.stdout
    assert "无条件共享" in catalogue.stdout
    assert "资源代码" in catalogue.stdout
    assert "供数中" in requests.stdout
    assert "审批用时中位数" in requests.stdout
    assert "待审批的申请" in backlog.stdout


def test_commands_before_first_run_explain(settings: Settings) -> None:
    result = zwbus(settings, "sharing", "backlog")

    assert isinstance(result.exception, StoreNotFoundError)
    assert "zwbus projections run sharing" in str(result.exception)
