"""A PNG bar chart of the benchmark ratios against their targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

# The backend is chosen above, before pyplot is imported, so no display is needed.
import matplotlib.pyplot as plt

MET = "#2e7d32"
MISSED = "#c62828"
NO_TARGET = "#607d8b"


def _colour(item: dict[str, Any]) -> str:
    if item["met"] is None:
        return NO_TARGET
    return MET if item["met"] else MISSED


def write_chart(document: dict[str, Any], path: Path) -> None:
    """Draw one bar per scenario (median ratio, min-max whiskers, target mark) into ``path``."""
    items = document["scenarios"]
    names = [item["name"] for item in items]
    medians = [item["ratio"]["median"] for item in items]
    below = [item["ratio"]["median"] - item["ratio"]["min"] for item in items]
    above = [item["ratio"]["max"] - item["ratio"]["median"] for item in items]

    figure, axes = plt.subplots(figsize=(max(6.0, 1.4 * len(items) + 2), 4.5), dpi=120)
    positions = list(range(len(items)))
    axes.bar(
        positions,
        medians,
        yerr=[below, above],
        capsize=5,
        color=[_colour(item) for item in items],
        width=0.6,
    )
    for position, item in zip(positions, items, strict=True):
        if item["target"] is not None:
            axes.hlines(
                item["target"], position - 0.4, position + 0.4, colors="black", linestyles="--"
            )
        axes.annotate(
            f"{item['ratio']['median']:.2f}",
            (position, item["ratio"]["max"]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=9,
        )

    axes.axhline(1.0, color="grey", linewidth=0.8)
    axes.margins(y=0.15)
    axes.set_xticks(positions, names, rotation=15)
    axes.set_ylabel("ours / baseline, events/s (median; whiskers min-max)")
    machine = document["machine"]
    axes.set_title(
        f"zwbus bench run ({document['mode']}, {document['runs']} runs, "
        f"{machine['cpus']} cores); dashed line: target",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    plt.close(figure)
