"""Upgrade older results files to the current schema, one version step at a time (asv's
``update_to_N``). Files newer than the code are refused by ``results_contract.load``.

Add a step here, and a line to the version history in ``results_contract.schema``, whenever
``SCHEMA_VERSION`` is bumped.
"""

from __future__ import annotations

from typing import Any, Callable

from results_contract.schema import SCHEMA_VERSION

# schema_version -> function upgrading a document of that version to version + 1.
STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}
OLDEST_UPGRADABLE = SCHEMA_VERSION


def to_current(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` upgraded step by step to ``SCHEMA_VERSION`` (unchanged if already current)."""
    while data["schema_version"] < SCHEMA_VERSION:
        data = STEPS[data["schema_version"]](data)
    return data
