"""Parse the portal's item catalogue (事项清单) and pick the items the demo sources use."""

from __future__ import annotations

from pathlib import Path

import msgspec

from adapters.items import CatalogueEntry, check_catalogue_entry, read_catalogue
from contracts.identifiers import ItemCode, check_uscc, parse_item_code


class CatalogueItem(msgspec.Struct, frozen=True, kw_only=True):
    """One item (事项) as the provincial portal lists it, with its link's query values."""

    department: str
    """Department name as the catalogue writes it, such as 区公安分局."""
    name: str
    link: str
    item_code: str
    """Implementation code (实施编码) from the link's ``itemCode``, empty when absent."""
    task_type: str
    """The portal's own item-type number from ``taskType``."""
    dept_code: str
    """Department code from ``deptCode``, which may differ from the one in ``item_code``."""
    area_code: str
    """Region code from ``areaCode``, 12 digits in the published catalogue."""


class DemoItem(msgspec.Struct, frozen=True, kw_only=True):
    """A catalogue item whose implementation code embeds a valid credit code."""

    item_code: str
    name: str
    department_name: str
    department_code: str
    """The 统一社会信用代码 embedded in ``item_code``."""
    basic_code: str
    region12: str


def load_catalogue_items(path: Path) -> list[CatalogueItem]:
    """Parse the raw catalogue JSON, one entry per sub-item in file order.

    Items listed twice stay twice, and links without some query values give
    empty strings, because the catalogue is kept exactly as published.
    """
    return [
        CatalogueItem(
            department=entry.department_name,
            name=entry.name,
            link=entry.link,
            item_code=entry.item_code,
            task_type=entry.item_type,
            dept_code=entry.department_code,
            area_code=entry.area_code,
        )
        for entry in read_catalogue(path)
    ]


def select_demo_items(items: list[CatalogueItem]) -> list[DemoItem]:
    """Keep items that the catalogue import accepts and whose code embeds a valid 统一社会信用代码.

    The embedded code, not the link's ``deptCode``, becomes the department
    code, because that is the value a department system exports. The first
    entry of an item code listed more than once wins.
    """
    selected: dict[str, DemoItem] = {}
    for position, item in enumerate(items, start=1):
        if item.item_code in selected:
            continue

        entry = CatalogueEntry(
            position=position,
            department_name=item.department,
            name=item.name,
            item_code=item.item_code,
            item_type=item.task_type,
            department_code=item.dept_code,
            area_code=item.area_code,
            link=item.link,
            raw="",
        )
        parsed = parse_item_code(item.item_code)
        if (
            check_catalogue_entry(entry)
            or not isinstance(parsed, ItemCode)
            or check_uscc(parsed.department_code) is not None
        ):
            continue

        selected[item.item_code] = DemoItem(
            item_code=item.item_code,
            name=item.name,
            department_name=item.department,
            department_code=parsed.department_code,
            basic_code=parsed.basic_code,
            region12=parsed.region12,
        )
    return list(selected.values())
