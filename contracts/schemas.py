"""JSON Schema snapshots of every published payload version, and the compatibility check.

``contracts/schemas/<event type>.v<version>.json`` keeps the schema of each
version as it was published. A payload may gain optional fields within a
version; removing a field, changing its type or adding a required field
needs a new version and an upcaster. Run ``python -m contracts.schemas``
to write the snapshots of new versions.
"""

from __future__ import annotations

import json
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

import msgspec

from contracts.case import CASE_PAYLOADS
from contracts.envelope import CURRENT_VERSIONS
from contracts.hall import HALL_PAYLOADS
from contracts.item import ITEM_PAYLOADS
from contracts.review import REVIEW_PAYLOADS
from contracts.share import SHARE_PAYLOADS

SCHEMA_FOLDER = "schemas"


def payload_types() -> dict[str, type[msgspec.Struct]]:
    """Return every payload struct by its event type."""
    families = (*CASE_PAYLOADS, *ITEM_PAYLOADS, *REVIEW_PAYLOADS, *HALL_PAYLOADS, *SHARE_PAYLOADS)
    return {str(cls.__struct_config__.tag): cls for cls in families}


def current_schema(event_type: str) -> dict[str, Any]:
    """Return the JSON Schema of a payload type as the code defines it today."""
    cls = payload_types()[event_type]
    _, components = msgspec.json.schema_components([cls], ref_template="#/$defs/{name}")
    schema = dict(components[cls.__name__])
    others = {name: value for name, value in components.items() if name != cls.__name__}
    if others:
        schema["$defs"] = others
    schema["$id"] = f"zwbus:{event_type}:v{CURRENT_VERSIONS[event_type]}"
    # A JSON round trip turns tuple defaults into lists, as in the stored snapshot.
    normalised: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(schema))
    return normalised


def snapshot_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def snapshot_folder() -> Path:
    return Path(str(files("contracts") / SCHEMA_FOLDER))


def load_snapshot(event_type: str, version: int) -> dict[str, Any] | None:
    path = snapshot_folder() / snapshot_name(event_type, version)
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def incompatibilities(published: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Changes from a published schema that would break a reader of that version."""
    problems: list[str] = []
    old_properties = published.get("properties", {})
    new_properties = current.get("properties", {})
    for name, old in old_properties.items():
        if name not in new_properties:
            problems.append(f"field {name!r} was removed")
        elif _without_docs(old) != _without_docs(new_properties[name]):
            problems.append(f"field {name!r} changed from {old} to {new_properties[name]}")
    added_required = set(current.get("required", [])) - set(published.get("required", []))
    for name in sorted(added_required):
        problems.append(f"field {name!r} became required")
    return problems


def _without_docs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            key: _without_docs(value)
            for key, value in schema.items()
            if key not in {"description", "title"}
        }
    if isinstance(schema, list):
        return [_without_docs(value) for value in schema]
    return schema


def write_missing_snapshots() -> list[str]:
    """Write the snapshot of every current version that has none; returns the files written."""
    written = []
    folder = snapshot_folder()
    folder.mkdir(exist_ok=True)
    for event_type in payload_types():
        version = CURRENT_VERSIONS[event_type]
        path = folder / snapshot_name(event_type, version)
        if path.exists():
            continue
        text = json.dumps(current_schema(event_type), ensure_ascii=False, indent=2, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path.name)
    return written


if __name__ == "__main__":
    for name in write_missing_snapshots():
        sys.stdout.write(f"wrote {name}\n")
