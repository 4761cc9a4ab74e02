"""docs/rules.md lists every rule exactly as the catalogue defines it."""

from __future__ import annotations

from pathlib import Path

from bus.rules_doc import rules_markdown
from contracts.rules import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_rules_doc_matches_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == rules_markdown(), (
        "docs/rules.md is out of date: run `zwbus rules --markdown > docs/rules.md`"
    )


def test_rules_doc_names_every_code() -> None:
    text = rules_markdown()

    for code in RULES:
        assert f"`{code}`" in text
