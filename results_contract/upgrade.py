"""Upgrade older results files to the current schema, one version step at a time (asv's
``update_to_N``). Files newer than the code are refused by ``results_contract.load``.

Add a step here, and a line to the version history in ``results_contract.schema``, whenever
``SCHEMA_VERSION`` is bumped.
"""

from __future__ import annotations

from typing import Any, Callable

from results_contract.schema import SCHEMA_VERSION
from results_contract.vocabulary import is_deterministic


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 pooled the samples of all rounds and bootstrapped them as if independent.

    The pooled samples and median are kept (they are real measurements), but the CI is not:
    it was not computed across processes, so it is moved to ``extra.v1_pooled_ci95`` and the
    case has ``ci95: null``, ``processes: null`` (unknown) and no ``runs``.
    """
    cases = []
    for case in data["cases"]:
        case = dict(case)
        case.setdefault("samples", [])
        if case.get("ci95") is not None:
            case["extra"] = {**(case.get("extra") or {}), "v1_pooled_ci95": case["ci95"]}
        case["ci95"] = None
        case["noisy"] = False
        case["processes"] = None
        case["deterministic"] = is_deterministic(case.get("metric", ""), case.get("unit", ""))
        cases.append(case)
    return {**data, "schema_version": 2, "cases": cases}


# schema_version -> function upgrading a document of that version to version + 1.
STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}
OLDEST_UPGRADABLE = 1


def to_current(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` upgraded step by step to ``SCHEMA_VERSION`` (unchanged if already current)."""
    original = data["schema_version"]
    while data["schema_version"] < SCHEMA_VERSION:
        data = STEPS[data["schema_version"]](data)
    if original < SCHEMA_VERSION:
        data = {**data, "upgraded_from": original}
    return data
