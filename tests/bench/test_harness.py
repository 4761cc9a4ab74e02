"""Every benchmark scenario, run with tiny sizes against real servers: shape, not timing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.chart import write_chart
from bench.harness import Meter, run_benchmark, spread, write_results
from bench.scenarios import SCENARIOS
from bus.cli import build_root

TINY = 1_200
"""Events per scenario: more than one fetch batch of 1,000, small enough to run in seconds."""


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny run of every scenario, shared by the checks of this module."""
    work = tmp_path_factory.mktemp("bench")
    return asyncio.run(
        run_benchmark(
            list(SCENARIOS.values()),
            runs=2,
            quick=True,
            events=dict.fromkeys(SCENARIOS, TINY),
            work_dir=work,
        )
    )


def test_document_lists_every_variant(document: dict[str, Any]) -> None:
    names = [item["name"] for item in document["scenarios"]]

    assert names == [
        "publish",
        "project",
        "replay jsonl",
        "replay parquet",
        "cardinality",
        "headers",
    ]
    assert document["runs"] == 2
    assert document["mode"] == "quick"
    assert document["machine"]["cpus"] >= 1


def test_ratios_are_positive(document: dict[str, Any]) -> None:
    for item in document["scenarios"]:
        ratio = item["ratio"]

        assert ratio["min"] > 0, item["name"]
        assert ratio["min"] <= ratio["median"] <= ratio["max"], item["name"]
        assert len(item["runs"]) == 2, item["name"]
        assert all(run["ratio"] > 0 for run in item["runs"]), item["name"]


def test_every_run_counts_all_events(document: dict[str, Any]) -> None:
    for item in document["scenarios"]:
        assert item["events"] == TINY, item["name"]
        for run in item["runs"]:
            assert run["ours"]["events"] == TINY, item["name"]
            assert run["baseline"]["events"] == TINY, item["name"]
            assert run["ours"]["events_per_s"] > 0, item["name"]


def test_targets_and_met_agree(document: dict[str, Any]) -> None:
    targets = {item["name"]: item["target"] for item in document["scenarios"]}

    assert targets == {
        "publish": 1.5,
        "project": 0.85,
        "replay jsonl": 0.85,
        "replay parquet": 0.85,
        "cardinality": None,
        "headers": None,
    }
    for item in document["scenarios"]:
        if item["target"] is None:
            assert item["met"] is None
        else:
            assert item["met"] == (item["ratio"]["median"] >= item["target"])


def test_memory_is_reported(document: dict[str, Any]) -> None:
    for item in document["scenarios"]:
        memory = item["memory"]

        assert memory["peak_rss_mib"] > 0, item["name"]
        assert memory["server_peak_rss_mib"] > 0, item["name"]
        assert isinstance(memory["flat"], bool)


def test_results_and_chart_written(document: dict[str, Any], tmp_path: Path) -> None:
    target = tmp_path / "results" / "latest.json"

    write_results(document, target)
    write_chart(document, target.with_suffix(".png"))

    assert json.loads(target.read_text(encoding="utf-8")) == document
    assert target.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spread_of_three_values() -> None:
    assert spread([3.0, 1.0, 2.0], 2) == {"median": 2.0, "min": 1.0, "max": 3.0}


def test_meter_measures_time_and_memory() -> None:
    with Meter() as meter:
        block = bytearray(16 * 1024 * 1024)

    side = meter.side(10)

    assert len(block) == 16 * 1024 * 1024
    assert side.seconds > 0
    assert side.peak_rss >= side.start_rss > 0
    assert side.rate > 0


def test_cli_rejects_unknown_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_root(), ["bench", "run", "nosuch", "--out", str(tmp_path / "r.json")]
    )

    assert result.exit_code == 2
    assert "unknown scenario nosuch" in result.output
    assert not (tmp_path / "r.json").exists()


def test_cli_events_sets_every_size(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    arguments = ["bench", "run", "publish", "--runs", "1", "--events", "700", "--out", str(out)]

    result = CliRunner().invoke(build_root(), ["--lang", "en", *arguments])

    assert result.exit_code == 0, result.output
    [scenario] = json.loads(out.read_text(encoding="utf-8"))["scenarios"]
    assert scenario["name"] == "publish"
    assert scenario["events"] == 700
    assert out.with_suffix(".png").exists()


def test_cli_default_out_in_data_folder(tmp_path: Path) -> None:
    arguments = ["bench", "run", "publish", "--runs", "1", "--events", "700"]

    result = CliRunner(env={"COLUMNS": "80"}).invoke(
        build_root(), ["--lang", "en", "--data-dir", str(tmp_path), *arguments]
    )

    assert result.exit_code == 0, result.output
    # 80 columns are too narrow for the table's rows, so each row is a block.
    assert "…" not in result.output
    assert "Scenario" in result.output
    assert (tmp_path / "bench" / "latest.json").exists()
    assert (tmp_path / "bench" / "latest.png").exists()


def test_cli_rejects_events_below_one(tmp_path: Path) -> None:
    out = tmp_path / "r.json"

    result = CliRunner().invoke(
        build_root(), ["bench", "run", "publish", "--events", "0", "--out", str(out)]
    )

    assert result.exit_code == 2
    assert not out.exists()


def test_ingest_benchmark_counts_records_and_events(tmp_path: Path) -> None:
    """The demo ingest benchmark runs the case sources end to end and times both sides."""
    from bench.ingest_bench import run_ingest_benchmark

    result = asyncio.run(run_ingest_benchmark(runs=1, cases=150, work_dir=tmp_path))

    [measured] = result["runs"]
    assert measured["records"] > measured["events"] > 0
    assert measured["ingest_records_per_s"] > 0
    assert measured["publisher_events_per_s"] > 0
    assert measured["publish_async_events_per_s"] > 0
    # The rates are rounded to whole numbers and the ratio to three places.
    assert measured["ratio"] == pytest.approx(
        measured["ingest_records_per_s"] / measured["publisher_events_per_s"], abs=0.002
    )
    assert result["median"]["ratio"] == pytest.approx(measured["ratio"])
