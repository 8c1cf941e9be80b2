"""Validate and write a results file atomically.

The file is checked against ``report.schema.RESULTS_SCHEMA`` first and then written to a
temporary file in the same folder, flushed to disk and renamed over the old one, so an
interrupted run leaves either the previous file or the new one, never half of either.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

from experiments.harness.errors import HarnessError
from report.schema import RESULTS_SCHEMA
from report.writer import atomic_write


def validate(document: dict, where: str) -> None:
    """Raise HarnessError naming the first field that breaks the schema."""
    validator = jsonschema.Draft202012Validator(RESULTS_SCHEMA)
    error = next(iter(sorted(validator.iter_errors(document), key=lambda e: e.path)), None)
    if error is not None:
        field = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise HarnessError(f"{where}: invalid results at {field}: {error.message}")


def dumps(document: dict) -> str:
    return json.dumps(document, sort_keys=True, indent=1, allow_nan=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once; on any failure the old file stays intact."""
    atomic_write(path, text.encode("utf-8"))


MAX_TEXT = 10_000
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value):
    """Strings from exceptions and tools (ANSI colours, NULs, megabyte graph dumps) made fit
    for a results file: control characters removed, length capped. Recurses into containers."""
    if isinstance(value, str):
        value = _CONTROL_RE.sub("", value)
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT - 1] + "…"
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    return value


def write_results(path: Path, document: dict) -> None:
    document = clean_text(document)
    validate(document, str(path))
    write_atomic(path, dumps(document))
