"""The zwbus configuration file: where it is found, its defaults and its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.config import (
    DEFAULT_CALLBACK_DAYS,
    DEFAULT_RECTIFICATION_DAYS,
    ReviewDeadlines,
    RunTable,
    ZwbusConfig,
    config_path,
    load_config,
)
from bus.errors import ConfigError
from bus.services import read_run_config
from bus.settings import load_settings


@pytest.fixture(autouse=True)
def _empty_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts in an empty folder without ZWBUS_CONFIG."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZWBUS_CONFIG", raising=False)


def test_defaults_without_file() -> None:
    config = load_config()

    assert config_path() is None
    assert config.reviews.callback_days == DEFAULT_CALLBACK_DAYS == 5
    assert config.reviews.rectification_days == DEFAULT_RECTIFICATION_DAYS == 15


def test_working_folder_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "zwbus.toml").write_text("[reviews]\ncallback_days = 3\n")

    config = load_config()

    assert config_path() == Path("zwbus.toml")
    assert config.reviews.callback_days == 3
    assert config.reviews.rectification_days == 15


def test_variable_beats_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "zwbus.toml").write_text("[reviews]\ncallback_days = 3\n")
    other = tmp_path / "other.toml"
    other.write_text("[reviews]\ncallback_days = 7\n")
    monkeypatch.setenv("ZWBUS_CONFIG", str(other))

    assert load_config().reviews.callback_days == 7
    assert load_settings().config_file == other


def test_explicit_path_beats_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named = tmp_path / "named.toml"
    named.write_text("[reviews]\nrectification_days = 20\n")
    monkeypatch.setenv("ZWBUS_CONFIG", str(tmp_path / "missing.toml"))

    assert load_config(named).reviews.rectification_days == 20
    assert load_settings(config_file=named).config_file == named


def test_province_override_keeps_other_key(tmp_path: Path) -> None:
    path = tmp_path / "zwbus.toml"
    path.write_text(
        "[reviews]\ncallback_days = 4\nrectification_days = 12\n"
        "[reviews.provinces.44]\nrectification_days = 10\n"
    )

    reviews = load_config(path).reviews

    assert reviews.deadlines_for("440103") == ReviewDeadlines(
        callback_days=4, rectification_days=10
    )
    assert reviews.deadlines_for("511602") == ReviewDeadlines(
        callback_days=4, rectification_days=12
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[reviews]\ncallback_day = 3\n", "callback_day"),
        ("[reviews]\ncallback_days = -1\n", "$.reviews.callback_days"),
        ("[reviews]\nrectification_days = 400\n", "$.reviews.rectification_days"),
        ("[reviews]\ncallback_days = 'five'\n", "$.reviews.callback_days"),
        ("[reviews.provinces.440]\ncallback_days = 3\n", "$.reviews.provinces"),
        ("[run]\nprojection = ['cases']\n", "unknown field `projection` - at `$.run`"),
        ("[run]\npollers = 'a.toml'\n", "$.run.pollers"),
        ("[reviews\n", "line 1"),
    ],
)
def test_invalid_file_names_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "zwbus.toml"
    path.write_text(text)

    with pytest.raises(ConfigError, match="is invalid") as caught:
        load_config(path)

    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[review]\ncallback_days = 3\n", "review"),
        ("[[sinks]]\nid = 'a'\n", "sinks"),
        ("projections = ['cases']\n", "projections"),
    ],
)
def test_unknown_table_names_known_tables(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "zwbus.toml"
    path.write_text(text)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    message = str(caught.value)
    assert f"unknown table or key {key} at its top level" in message
    assert "The known tables are [reviews], [run], [gateway], [[sink]]" in message
    assert "working days" not in message


def test_run_table_rule_explains_keys(tmp_path: Path) -> None:
    path = tmp_path / "zwbus.toml"
    path.write_text("[run]\nprojection = ['cases']\n")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert "[run] takes projections (a list of projection names) and pollers" in str(caught.value)
    assert "working days" not in str(caught.value)


def test_run_table_typed(tmp_path: Path) -> None:
    path = tmp_path / "named.toml"
    path.write_text("[run]\nprojections = ['cases']\npollers = ['db.toml']\n")

    chosen = load_config(path).run

    assert chosen == RunTable(projections=["cases"], pollers=["db.toml"])
    assert load_config().run == RunTable(projections=None, pollers=[])


def test_run_config_keeps_typed_tables(tmp_path: Path) -> None:
    path = tmp_path / "named.toml"
    path.write_text("[run]\nprojections = []\n")

    config = read_run_config(path)

    assert config.path == path
    assert config.folder == tmp_path
    assert config.tables.run.projections == []
    assert read_run_config(None).tables == ZwbusConfig()


def test_missing_named_file_explains(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"was not found\. Check --config or ZWBUS_CONFIG"):
        load_config(tmp_path / "none.toml")
