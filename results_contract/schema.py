"""The JSON Schema every ``results/**/*.json`` file must satisfy.

Experiments write these files and the report reads them; this module is the single definition
both sides share (through ``results_contract.load`` and ``dump``).

Version history (bump ``SCHEMA_VERSION`` and add an upgrade step in
``results_contract.upgrade`` for every change):

1. First version: file header, environment record, and a list of cases, each with raw
   samples, median, bootstrap CI95, p90/p99 and a status. The samples of all rounds were
   pooled, so the CI treated samples from one process as independent.
2. The process is the unit of replication. A case's raw samples are grouped per independent
   process in ``runs`` (each with its own median and sample count); ``median`` is the median
   of the process medians and ``ci95`` comes from a hierarchical bootstrap (resample processes,
   then samples within them), or is null with fewer than 3 processes. ``processes`` counts the
   runs, ``n`` the samples. ``deterministic`` marks metrics measured once (sizes, counts,
   output differences), which carry no CI. The environment may name its ``host``.
   Upgraded version-1 files keep their pooled ``samples`` and have no ``runs``: their CI is
   dropped (``ci95`` null) because it was not computed across processes.
"""

from __future__ import annotations

from results_contract.vocabulary import BETTER, FRAMEWORKS, STATUSES

SCHEMA_VERSION = 2

_NONNEG = {"type": "number", "minimum": 0}
_NULLABLE_NONNEG = {"type": ["number", "null"], "minimum": 0}
_PARAM_VALUE = {"type": ["number", "string", "boolean", "null"]}

ENVIRONMENT_SCHEMA = {
    "type": "object",
    "required": [
        "cpu_model", "cpu_cores_physical", "cpu_cores_logical", "memory_bytes", "os",
        "python", "packages", "threads", "git_commit", "git_dirty", "started_at",
        "finished_at",
    ],
    "properties": {
        "cpu_model": {"type": "string"},
        "cpu_cores_physical": {"type": "integer", "minimum": 1},
        "cpu_cores_logical": {"type": "integer", "minimum": 1},
        "memory_bytes": {"type": "integer", "minimum": 0},
        "os": {"type": "string"},
        "python": {"type": "string"},
        "device": {"type": "string"},
        "packages": {
            "type": "object",
            "additionalProperties": {"type": ["string", "null"]},
        },
        "threads": {"type": "object", "additionalProperties": _PARAM_VALUE},
        "git_commit": {"type": "string"},
        "git_dirty": {"type": "boolean"},
        "started_at": {"type": "string"},
        "finished_at": {"type": "string"},
        "host": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]*$", "maxLength": 100},
        "machine_id": {"type": "string"},
        "cpu_mhz": {"type": ["number", "null"]},
        "cpu_flags": {"type": "array", "items": {"type": "string"}},
        # vendor family/model/stepping (``AuthenticAMD 26/2/1``); older files do not have it
        "cpu_signature": {"type": ["string", "null"]},
    },
}

RUN_SCHEMA = {
    "type": "object",
    "required": ["samples", "median", "n"],
    "properties": {
        "samples": {"type": "array", "items": _NONNEG, "minItems": 1},
        "median": _NONNEG,
        "n": {"type": "integer", "minimum": 1},
        "process": {"type": "integer", "minimum": 0},
        # How busy the rest of the machine was while this process measured (average cores;
        # experiments/harness/machine_load.py). Optional: older files do not have it.
        "load": {
            "type": "object",
            "properties": {
                "other_cpu_cores": {"type": ["number", "null"], "minimum": 0},
                "steal_cores": {"type": ["number", "null"], "minimum": 0},
            },
            "additionalProperties": False,
        },
    },
}

CASE_SCHEMA = {
    "type": "object",
    "required": [
        "id", "framework", "mode", "model", "metric", "unit", "better", "params",
        "median", "ci95", "status", "error", "processes", "deterministic",
    ],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "framework": {"enum": list(FRAMEWORKS)},
        "mode": {"type": "string", "minLength": 1},
        "model": {"type": "string", "minLength": 1},
        "metric": {"type": "string", "minLength": 1},
        "unit": {"type": "string"},
        "better": {"enum": list(BETTER)},
        "params": {"type": "object", "additionalProperties": _PARAM_VALUE},
        "runs": {"type": "array", "items": RUN_SCHEMA},
        "samples": {"type": "array", "items": _NONNEG},  # version-1 files only (pooled)
        "processes": {"type": ["integer", "null"], "minimum": 0},
        "deterministic": {"type": "boolean"},
        "median": _NULLABLE_NONNEG,
        "ci95": {
            "oneOf": [
                {"type": "null"},
                {"type": "array", "items": _NONNEG, "minItems": 2, "maxItems": 2},
            ]
        },
        "p90": _NULLABLE_NONNEG,
        "p99": _NULLABLE_NONNEG,
        "mean": _NULLABLE_NONNEG,
        "stdev": _NULLABLE_NONNEG,
        "n": {"type": "integer", "minimum": 0},
        "noisy": {"type": "boolean"},
        "status": {"enum": list(STATUSES)},
        "error": {"type": ["string", "null"]},
        "notes": {"type": "string"},
        "extra": {"type": "object"},
    },
    "allOf": [
        {
            # A measured case carries its data ...
            "if": {"properties": {"status": {"const": "ok"}}},
            "then": {"properties": {"median": _NONNEG}},
            # ... and a failed or unsupported one says why.
            "else": {"properties": {"error": {"type": "string", "minLength": 1}}},
        }
    ],
}

RESULTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pt-vs-tf results file",
    "type": "object",
    "required": [
        "schema_version", "experiment", "title", "module", "quick", "environment", "cases",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "experiment": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "title": {"type": "string"},
        "module": {"type": "string"},
        "quick": {"type": "boolean"},
        "cache_key": {"type": "string"},
        # Set by results_contract.upgrade on loading an older file: the version it was written in.
        "upgraded_from": {"type": "integer", "minimum": 1, "maximum": SCHEMA_VERSION - 1},
        "parameters": {"type": "object"},
        "environment": ENVIRONMENT_SCHEMA,
        "cases": {"type": "array", "items": CASE_SCHEMA},
    },
}

__all__ = ["CASE_SCHEMA", "ENVIRONMENT_SCHEMA", "RESULTS_SCHEMA", "RUN_SCHEMA", "SCHEMA_VERSION"]
