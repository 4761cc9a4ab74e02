"""The zwbus configuration file: where it is found, its defaults and its checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.config import (
    DEFAULT_CALLBACK_DAYS,
    DEFAULT_RECTIFICATION_DAYS,
    ReviewDeadlines,
    config_path,
    load_config,
)
from bus.errors import ConfigError
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
        ("[review]\ncallback_days = 3\n", "review"),
        ("[reviews.provinces.440]\ncallback_days = 3\n", "$.reviews.provinces"),
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


def test_missing_named_file_explains(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"was not found\. Check --config or ZWBUS_CONFIG"):
        load_config(tmp_path / "none.toml")
