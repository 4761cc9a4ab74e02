"""The projections the commands know, by name.

Each entry names the class that builds the projection from the data
folder. Classes are imported when first asked for, so that one read
model's import cost is not paid by commands about another.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from projections.base import Projection

_CLASSES: dict[str, str] = {
    "cases": "projections.cases:CasesProjection",
    "reviews": "projections.reviews:ReviewsProjection",
    "hall": "projections.hall:HallProjection",
    "sharing": "projections.sharing:SharingProjection",
}

PROJECTION_NAMES: tuple[str, ...] = tuple(sorted(_CLASSES))


def build_projection(name: str, data_dir: Path) -> Projection:
    """Build the projection called ``name`` for the store folder ``data_dir``."""
    module_name, class_name = _CLASSES[name].split(":")
    projection_class = getattr(importlib.import_module(module_name), class_name)
    projection: Projection = projection_class.for_data_dir(data_dir)
    return projection
