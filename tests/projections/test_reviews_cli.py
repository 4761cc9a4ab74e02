"""The reviews command group, in English and Chinese, with its configuration file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result

from bus.cli import build_root
from bus.connect import open_bus
from bus.errors import ConfigError
from bus.i18n import set_language
from bus.settings import Settings
from bus.streams import ensure_streams
from projections.checkpoint_store import StoreNotFoundError
from tests.projections.helpers import at
from tests.projections.review_events import assigned, publish_reviews, rated, verified


def zwbus(settings: Settings, *arguments: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the root command in this process, returning the command's own exit value."""
    assert settings.nats_url is not None
    return CliRunner().invoke(
        build_root(),
        ["--nats-url", settings.nats_url, "--data-dir", str(settings.data_dir), *arguments],
        standalone_mode=False,
        env={"COLUMNS": "240", "ZWBUS_CONFIG": "", **(env or {})},
    )


@pytest.fixture
def projected(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """Three reviews on the bus and in the store; the working folder has no zwbus.toml."""
    monkeypatch.chdir(tmp_path)

    async def prepare() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish_reviews(
                client,
                [
                    rated("R1", at("2026-09-29", "09:00"), level=5),
                    rated("R2", at("2026-09-29", "10:00"), level=5, is_default=True,
                          channel="mobile"),
                    rated("R3", at("2026-09-29", "11:00"), level=1, region="511621"),
                    verified("R3", at("2026-09-30", "09:00"), valid=True, region="511621"),
                    assigned("R3", at("2026-09-30", "10:00"), region="511621", assignee="D9"),
                ],
            )

    asyncio.run(prepare())
    result = zwbus(settings, "projections", "run", "reviews", "--until-caught-up")
    assert result.exception is None, result.output
    assert "applied 5, skipped 0" in result.stdout
    return settings


def test_totals_roll_up_regions(projected: Settings) -> None:
    result = zwbus(projected, "reviews", "totals", "--by", "region", "--as-of", "2026-10-27")

    assert result.exception is None, result.output
    output = result.stdout
    assert "Satisfaction rate" in output
    assert "Province" in output
    assert "County" in output
    lines = [line for line in output.splitlines() if "511621" in line]
    assert len(lines) == 1
    assert "0.0%" in lines[0]
    assert "Overdue counts as of 2026-10-27." in output


def test_totals_json_has_counts_and_rates(projected: Settings) -> None:
    result = zwbus(
        projected, "reviews", "totals", "--by", "channel", "--as-of", "2026-10-27", "--json"
    )

    assert result.exception is None, result.output
    rows = {row["group"]["channel"]: row for row in msgspec.json.decode(result.stdout)}
    assert rows["mobile"]["ratings"] == 1
    assert rows["mobile"]["defaults"] == 1
    assert rows["mobile"]["satisfaction_rate"] is None
    assert rows["web"]["ratings"] == 2
    assert rows["web"]["satisfaction_rate"] == 0.5
    assert rows["web"]["rectifications_overdue"] == 1


def test_totals_filter_by_region_and_dates(projected: Settings) -> None:
    county = zwbus(projected, "reviews", "totals", "--region", "511621", "--json")
    later = zwbus(projected, "reviews", "totals", "--from", "2026-09-30", "--json")

    assert [row["ratings"] for row in msgspec.json.decode(county.stdout)] == [1]
    assert [row["ratings"] for row in msgspec.json.decode(later.stdout)] == [0]


def test_totals_in_chinese(projected: Settings) -> None:
    set_language("zh_CN")

    result = zwbus(projected, "reviews", "totals", "--by", "region", "--by", "channel")

    assert result.exception is None, result.output
    assert "满意率" in result.stdout
    assert "整改超期" in result.stdout
    assert "政务服务网" in result.stdout
    assert "县区" in result.stdout


def test_overdue_lists_rectification(projected: Settings) -> None:
    on_time = zwbus(projected, "reviews", "overdue", "--as-of", "2026-10-26")
    late = zwbus(projected, "reviews", "overdue", "--as-of", "2026-10-28", "--json")
    table = zwbus(projected, "reviews", "overdue", "--as-of", "2026-10-28")

    assert "No bad review is overdue as of 2026-10-26." in on_time.stdout
    found = msgspec.json.decode(late.stdout)
    assert found["total"] == 1
    [review] = found["reviews"]
    assert review["review_id"] == "R3"
    assert review["step"] == "rectification"
    assert review["due"] == "2026-10-26"
    assert review["late_working_days"] == 2
    assert review["assignee"] == "D9"
    assert "Rectification" in table.stdout
    assert "1 of 1 overdue bad reviews shown, as of 2026-10-28." in table.stdout


def test_overdue_in_chinese(projected: Settings) -> None:
    set_language("zh_CN")

    result = zwbus(projected, "reviews", "overdue", "--as-of", "2026-10-28")

    assert result.exception is None, result.output
    assert "整改" in result.stdout
    assert "非常不满意" in result.stdout


def test_config_option_sets_deadline(projected: Settings, tmp_path: Path) -> None:
    config = tmp_path / "province.toml"
    config.write_text("[reviews]\nrectification_days = 10\n")

    by_option = zwbus(projected, "--config", str(config), "reviews", "overdue",
                      "--as-of", "2026-10-20", "--json")
    by_variable = zwbus(projected, "reviews", "overdue", "--as-of", "2026-10-20", "--json",
                        env={"ZWBUS_CONFIG": str(config)})
    without = zwbus(projected, "reviews", "overdue", "--as-of", "2026-10-20", "--json")

    assert msgspec.json.decode(by_option.stdout)["reviews"][0]["due"] == "2026-10-19"
    assert msgspec.json.decode(by_variable.stdout)["reviews"][0]["due"] == "2026-10-19"
    assert msgspec.json.decode(without.stdout)["total"] == 0


def test_overdue_from_first_working_day_after_deadline(
    projected: Settings, tmp_path: Path
) -> None:
    """A deadline on a Friday is not overdue over the weekend, when no working day is lost."""
    config = tmp_path / "friday.toml"
    config.write_text("[reviews]\nrectification_days = 14\n")

    def overdue(as_of: str) -> dict[str, object]:
        result = zwbus(projected, "--config", str(config), "reviews", "overdue",
                       "--as-of", as_of, "--json")
        assert result.exception is None, result.output
        found: dict[str, object] = msgspec.json.decode(result.stdout)
        return found

    def rectifications_overdue(as_of: str) -> int:
        result = zwbus(projected, "--config", str(config), "reviews", "totals",
                       "--as-of", as_of, "--json")
        assert result.exception is None, result.output
        [row] = msgspec.json.decode(result.stdout)
        return int(row["rectifications_overdue"])

    saturday, sunday, monday = overdue("2026-10-24"), overdue("2026-10-25"), overdue("2026-10-26")

    assert saturday == {"total": 0, "reviews": []}
    assert sunday == {"total": 0, "reviews": []}
    assert monday["total"] == 1
    [review] = monday["reviews"]  # type: ignore[misc]
    assert review["due"] == "2026-10-23"
    assert review["late_working_days"] == 1
    assert rectifications_overdue("2026-10-25") == 0
    assert rectifications_overdue("2026-10-26") == 1


def test_working_folder_config_is_read(projected: Settings, tmp_path: Path) -> None:
    (tmp_path / "zwbus.toml").write_text("[reviews.provinces.51]\nrectification_days = 10\n")

    result = zwbus(projected, "reviews", "overdue", "--as-of", "2026-10-20", "--json")

    assert result.exception is None, result.output
    assert msgspec.json.decode(result.stdout)["reviews"][0]["due"] == "2026-10-19"


def test_invalid_config_names_key(projected: Settings, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[reviews]\nrectification_day = 10\n")

    result = zwbus(projected, "--config", str(config), "reviews", "totals")

    assert isinstance(result.exception, ConfigError)
    message = str(result.exception)
    assert str(config) in message
    assert "rectification_day" in message


def test_missing_config_file_explains(projected: Settings, tmp_path: Path) -> None:
    result = zwbus(projected, "--config", str(tmp_path / "none.toml"), "reviews", "totals")

    assert isinstance(result.exception, ConfigError)
    assert "none.toml was not found" in str(result.exception)


def test_dates_in_wrong_order_rejected(projected: Settings) -> None:
    result = zwbus(projected, "reviews", "totals", "--from", "2026-10-02", "--to", "2026-10-01")

    assert isinstance(result.exception, ConfigError)
    assert "swap --from and --to" in str(result.exception)


def test_bad_region_prefix_rejected(projected: Settings) -> None:
    result = zwbus(projected, "reviews", "overdue", "--region", "5116021")

    assert isinstance(result.exception, ConfigError)
    assert "give 2 digits" in str(result.exception)


def test_totals_before_first_run_explain(settings: Settings) -> None:
    result = zwbus(settings, "reviews", "totals")

    assert isinstance(result.exception, StoreNotFoundError)
    assert "zwbus projections run reviews" in str(result.exception)
