"""Schema snapshots: every payload version has one, and the code stays compatible with it."""

from __future__ import annotations

import copy

import pytest

from contracts.envelope import CURRENT_VERSIONS
from contracts.schemas import current_schema, incompatibilities, load_snapshot, payload_types


@pytest.mark.parametrize("event_type", sorted(payload_types()))
def test_current_version_has_snapshot(event_type: str) -> None:
    snapshot = load_snapshot(event_type, CURRENT_VERSIONS[event_type])

    assert snapshot is not None, (
        f"no schema snapshot for {event_type} v{CURRENT_VERSIONS[event_type]}: "
        "run `python -m contracts.schemas` and commit the new file"
    )


@pytest.mark.parametrize("event_type", sorted(payload_types()))
def test_payload_compatible_with_snapshot(event_type: str) -> None:
    snapshot = load_snapshot(event_type, CURRENT_VERSIONS[event_type])
    assert snapshot is not None

    problems = incompatibilities(snapshot, current_schema(event_type))

    assert problems == [], (
        f"{event_type} v{CURRENT_VERSIONS[event_type]} changed incompatibly: {problems}; "
        "publish a new version with an upcaster instead"
    )


def test_removed_field_is_incompatible() -> None:
    published = current_schema("case.concluded")
    changed = copy.deepcopy(published)
    del changed["properties"]["result"]

    assert incompatibilities(published, changed) == ["field 'result' was removed"]


def test_retyped_field_is_incompatible() -> None:
    published = current_schema("case.accepted")
    changed = copy.deepcopy(published)
    changed["properties"]["promised_days"] = {"type": "string"}

    problems = incompatibilities(published, changed)

    assert len(problems) == 1
    assert problems[0].startswith("field 'promised_days' changed")


def test_new_required_field_is_incompatible() -> None:
    published = current_schema("case.withdrawn")
    changed = copy.deepcopy(published)
    changed["properties"]["reason"] = {"type": "string"}
    changed["required"] = [*changed.get("required", []), "reason"]

    assert incompatibilities(published, changed) == ["field 'reason' became required"]


def test_new_optional_field_is_compatible() -> None:
    published = current_schema("case.withdrawn")
    changed = copy.deepcopy(published)
    changed["properties"]["reason"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert incompatibilities(published, changed) == []
