"""Sink filters against a real nats-server: region subtree, department, family and type."""

from __future__ import annotations

from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.sinks.config import load_sinks_config
from adapters.sinks.lane import consumer_name
from bus.settings import Settings
from bus.streams import CASES
from tests.adapters.sinks.helpers import (
    COUNTY,
    OTHER_CITY,
    OTHER_COUNTY,
    TAX,
    case,
    file_sink,
    item,
    jsonl_ids,
    publish,
    review,
    run_once,
    write_config,
)

Bus = tuple[Client, JetStreamContext]


async def test_filters_select_exact_events(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, _js = bus
    county_case = case("C1")
    county_concluded = case("C1", "concluded")
    tax_case = case("C2", department=TAX)
    sibling_county_case = case("C3", region=OTHER_COUNTY)
    other_city_case = case("C4", region=OTHER_CITY)
    county_item = item("I1")
    other_city_item = item("I2", region=OTHER_CITY)
    county_review = review("R1")
    await publish(
        client,
        [
            county_case,
            county_concluded,
            tax_case,
            sibling_county_case,
            other_city_case,
            county_item,
            other_city_item,
            county_review,
        ],
    )
    sinks = {
        "city": {"filter": {"regions": ["5116"]}},
        "county": {"filter": {"regions": [COUNTY]}},
        "tax": {"filter": {"departments": [TAX]}},
        "items": {"filter": {"families": ["item"]}},
        "concluded": {"filter": {"types": ["case.concluded"]}},
        "two-counties-cases": {
            "filter": {"regions": [COUNTY, OTHER_COUNTY, "5116"], "families": ["case"]}
        },
        "everything": {},
    }
    text = "".join(
        file_sink(name, tmp_path / name, **options) for name, options in sinks.items()
    )
    config = write_config(tmp_path / "sinks.toml", text)

    await run_once(settings, config)

    assert sorted(jsonl_ids(tmp_path / "city")) == sorted(
        [
            county_case.id,
            county_concluded.id,
            tax_case.id,
            sibling_county_case.id,
            county_item.id,
            county_review.id,
        ]
    )
    assert sorted(jsonl_ids(tmp_path / "county")) == sorted(
        [county_case.id, county_concluded.id, tax_case.id, county_item.id, county_review.id]
    )
    assert jsonl_ids(tmp_path / "tax") == [tax_case.id]
    assert jsonl_ids(tmp_path / "items") == [county_item.id, other_city_item.id]
    assert jsonl_ids(tmp_path / "concluded") == [county_concluded.id]
    assert jsonl_ids(tmp_path / "two-counties-cases") == [
        county_case.id,
        county_concluded.id,
        tax_case.id,
        sibling_county_case.id,
    ]
    assert len(jsonl_ids(tmp_path / "everything")) == 8


async def test_region_filter_is_server_side(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, js = bus
    await publish(client, [case(f"S{n}", region=OTHER_CITY) for n in range(5)])
    await publish(client, [case("S-county")])
    config = write_config(
        tmp_path / "sinks.toml",
        file_sink("county", tmp_path / "out", filter={"regions": [COUNTY], "families": ["case"]}),
    )

    summaries = await run_once(settings, config)
    info = await js.consumer_info(CASES, consumer_name("county", "case"))

    assert info.config.filter_subject == "zw.case.51.16.02.>"
    assert summaries[0].delivered == 1
    assert summaries[0].filtered == 0
    assert len(jsonl_ids(tmp_path / "out")) == 1


async def test_department_and_type_filters_count_filtered(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    await publish(client, [case("D1"), case("D2", department=TAX), case("D1", "accepted")])
    config = write_config(
        tmp_path / "sinks.toml",
        file_sink(
            "tax-submitted",
            tmp_path / "out",
            filter={"departments": [TAX], "types": ["case.submitted"]},
        ),
    )

    summaries = await run_once(settings, config)

    assert summaries[0].delivered == 1
    assert summaries[0].filtered == 2


def test_overlapping_regions_collapse(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "sinks.toml",
        file_sink("x", tmp_path / "out", filter={"regions": ["511602", "51", "5116", "52"]}),
    )

    sink = load_sinks_config(config).sinks[0]

    assert sink.regions == ["51", "52"]
