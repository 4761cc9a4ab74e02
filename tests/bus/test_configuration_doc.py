"""The complete example of docs/configuration.md is a file ``zwbus run`` accepts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bus.services import collect_services, read_run_config
from bus.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
_EXAMPLE_HEADINGS = {
    "configuration.md": "## A complete example",
    "configuration.zh-CN.md": "## 完整示例",
}


def _example(page: str) -> str:
    """Return the TOML block that follows the page's example heading."""
    text = (DOCS / page).read_text(encoding="utf-8")
    after = text[text.index(_EXAMPLE_HEADINGS[page]) :]
    match = re.search(r"```toml\n(.*?)```", after, re.DOTALL)
    assert match is not None, f"{page} has no TOML block after its example heading"
    return match.group(1)


@pytest.mark.parametrize("page", sorted(_EXAMPLE_HEADINGS))
def test_documented_example_starts_every_part(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "zwbus.toml"
    config.write_text(_example(page), encoding="utf-8")
    shutil.copytree(DOCS / "examples", tmp_path / "examples")
    monkeypatch.setenv("ZWBUS_GATEWAY_SECRET_HCP", "secret-for-the-test")
    monkeypatch.setenv("CITY_TOKEN", "token-for-the-test")
    settings = Settings(nats_url="nats://127.0.0.1:1", data_dir=tmp_path / "data", lang="en")

    run_config = read_run_config(config)
    services = collect_services(settings, run_config)

    started = sorted((service.kind, service.name) for service in services)
    assert started == [
        ("gateway", "127.0.0.1:8470"),
        ("poller", "ga-huji-db"),
        ("projection", "cases"),
        ("projection", "hall"),
        ("projection", "reviews"),
        ("projection", "sharing"),
        ("sink", "city-5116, county-511602-archive"),
    ]
    assert run_config.tables.reviews.deadlines_for("440103").rectification_days == 10


def test_readmes_list_configuration_pages() -> None:
    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")

    assert "](docs/configuration.md)" in english
    assert "](docs/configuration.zh-CN.md)" in chinese
    assert _example("configuration.md").count("[[sink]]") == 2
