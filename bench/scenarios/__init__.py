"""The named scenarios of ``zwbus bench run``, each ours against a baseline in the same run."""

from __future__ import annotations

from bench.harness import Scenario
from bench.scenarios import cardinality, headers, project, publish, replay

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        publish.SCENARIO,
        project.SCENARIO,
        replay.SCENARIO,
        cardinality.SCENARIO,
        headers.SCENARIO,
    )
}
"""Scenarios by name, in the order ``zwbus bench run`` runs them."""

__all__ = ["SCENARIOS"]
