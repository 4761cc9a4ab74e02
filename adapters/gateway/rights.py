"""What a sender may write (调用权限): its own regions' and departments' records."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from adapters.family_profile import SourceProfile
from adapters.gateway.config import Client
from adapters.normalize import normalize_code


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """A record outside the sender's rights, with the field and value that put it there."""

    index: int
    field: str
    value: str
    rule: str


def refusals(
    client: Client, profile: SourceProfile, records: Sequence[dict[str, object]]
) -> list[Refusal]:
    """Return one refusal per record whose region or department the sender may not write."""
    region_column = profile.fields.get("region")
    department_column = profile.fields.get("department_code")
    found: list[Refusal] = []
    for index, record in enumerate(records):
        region = _text(record.get(region_column)) if region_column else ""
        if client.regions and not region.startswith(client.regions):
            found.append(
                Refusal(
                    index=index,
                    field=region_column or "region",
                    value=region,
                    rule=f"region must start with one of {', '.join(client.regions)}",
                )
            )
            continue
        department = _text(record.get(department_column)) if department_column else ""
        if client.departments and department not in client.departments:
            found.append(
                Refusal(
                    index=index,
                    field=department_column or "department_code",
                    value=department,
                    rule="department must be one of the sender's departments",
                )
            )
    return found


def _text(value: object) -> str:
    return normalize_code(value) or ""
