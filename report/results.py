"""Load and validate every results file, then answer queries for cases.

A results file is refused, with its path and the JSON path of the bad field, when it is not
JSON, holds NaN or Infinity, was written by a newer schema than this code knows, or breaks
``report.schema.RESULTS_SCHEMA``. Nothing is rendered from a results set that did not validate.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from jsonschema import Draft202012Validator

from report.errors import Problems, UserError
from report.inputs import DEFAULT_MAX_BYTES, decode_text, read_bytes
from report.schema import RESULTS_SCHEMA, SCHEMA_VERSION

_VALIDATOR = Draft202012Validator(RESULTS_SCHEMA)
_fast_validator = None


def _fast_valid(data: dict) -> bool:
    """fastjsonschema's generated code checks a valid file about 15x faster than jsonschema
    (60,000 cases: 1.3 s against 20 s); jsonschema runs only to name what is wrong."""
    global _fast_validator
    import fastjsonschema

    if _fast_validator is None:
        # Every keyword the schema uses means the same in draft-07, which fastjsonschema speaks.
        _fast_validator = fastjsonschema.compile({**RESULTS_SCHEMA, "$schema": "http://json-schema.org/draft-07/schema#"})
    try:
        _fast_validator(data)
        return True
    except fastjsonschema.JsonSchemaException:
        return False
_MAX_ERRORS_PER_FILE = 5
# Environment fields that must agree for two cases to be compared fairly.
COMPARABLE_ENV_FIELDS = ("cpu_model", "cpu_cores_logical", "os", "python", "device")

# schema_version -> function upgrading a file of that version to version + 1 (asv's habit).
UPGRADES: dict[int, Callable[[dict], dict]] = {}
OLDEST_UPGRADABLE = SCHEMA_VERSION


@dataclass(frozen=True)
class Case:
    """One measured case of one experiment, as recorded in its results file."""

    experiment: str
    source: Path
    data: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    def matches(self, filters: dict[str, Any]) -> bool:
        for key, wanted in filters.items():
            have = self.data[key] if key in _CASE_KEYS else self.data["params"].get(key, _MISSING)
            if have is _MISSING or have != wanted:
                return False
        return True

    @property
    def ok(self) -> bool:
        return self.data["status"] == "ok"

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in sorted(self.data["params"].items()))
        return f"{self.experiment}:{self.data['id']}" + (f" ({params})" if params and params not in self.data["id"] else "")


_MISSING = object()
_CASE_KEYS = {"id", "framework", "mode", "model", "metric", "unit", "status", "better"}


@dataclass
class ResultsFile:
    path: Path
    data: dict[str, Any]
    cases: list[Case]

    @property
    def experiment(self) -> str:
        return self.data["experiment"]

    @property
    def environment(self) -> dict[str, Any]:
        return self.data["environment"]


@dataclass
class ResultsSet:
    """Every validated results file, keyed by experiment name."""

    files: dict[str, ResultsFile] = field(default_factory=dict)
    # Experiments (by file stem) whose results file was refused, so a template's use of them
    # is not reported a second time as "no results".
    failed: set[str] = field(default_factory=set)

    def experiment(self, name: str) -> ResultsFile | None:
        return self.files.get(name)

    def find(self, experiment: str, **filters: Any) -> list[Case]:
        rf = self.files.get(experiment)
        if rf is None:
            return []
        return [c for c in rf.cases if c.matches(filters)]

    def all_cases(self) -> Iterable[Case]:
        for rf in self.files.values():
            yield from rf.cases

    def environment_differences(self, experiments: Iterable[str]) -> list[str]:
        """Fields of COMPARABLE_ENV_FIELDS whose values differ across these experiments."""
        envs = {name: self.files[name].environment for name in set(experiments) if name in self.files}
        diffs = []
        for key in COMPARABLE_ENV_FIELDS:
            values = {name: env.get(key) for name, env in envs.items()}
            if len(set(map(str, values.values()))) > 1:
                diffs.append(f"{key} ({', '.join(f'{n}: {v}' for n, v in sorted(values.items()))})")
        return diffs


_CONSTANT_RE = re.compile(r"(?<![\w.\"])-?(NaN|Infinity)(?![\w\"])")


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not allowed; record a failed case with its reason instead")


def _json_path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


MAX_STRING = 10_000  # longer text in a results file is a bug in the writer, not a measurement
# C0 control characters other than tab and newline: the renderer's internal markers use NUL,
# so data must never carry one, and none of them belongs in a result.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_values(obj: Any, path: list[Any], problems: Problems, where: str) -> None:
    """Catch what JSON Schema does not: NaN/Inf that arrived as numbers (from a non-standard
    writer), over-long strings and control characters, in values and keys alike."""
    if isinstance(obj, float) and not math.isfinite(obj):
        problems.error(f"{where}: {_json_path(path)}: {obj} is not a finite number; re-run the experiment")
    elif isinstance(obj, str):
        _check_string(obj, path, problems, where)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_string(k, path + [k[:40]], problems, where)
            _check_values(v, path + [k], problems, where)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_values(v, path + [i], problems, where)


def _check_string(text: str, path: list[Any], problems: Problems, where: str) -> None:
    if len(text) > MAX_STRING:
        problems.error(f"{where}: {_json_path(path)}: text of {len(text):,} characters is over the "
                       f"{MAX_STRING:,}-character limit; shorten it")
    found = _CONTROL_RE.search(text)
    if found:
        problems.error(f"{where}: {_json_path(path)}: contains control character "
                       f"U+{ord(found.group()):04X}; remove it")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a key given twice is an error, not "the last one wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def parse_results_text(text: str, where: str, problems: Problems) -> dict[str, Any] | None:
    """Parse, upgrade and validate one results document; record problems, return it or None."""
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicates)
    except _DuplicateKey as exc:
        key = exc.key if len(exc.key) <= 40 else exc.key[:40] + "…"
        found = text.find(json.dumps(exc.key))
        found = text.find(json.dumps(exc.key), found + 1) if found >= 0 else -1
        line = f":{text.count(chr(10), 0, found) + 1}" if found >= 0 else ""
        problems.error(f"{where}{line}: key {key!r} appears twice in one object; keep one of them")
        return None
    except RecursionError:
        problems.error(f"{where}: $: nested too deeply to be a results file; restore the file with git")
        return None
    except json.JSONDecodeError as exc:
        problems.error(
            f"{where}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
            "re-run the experiment or restore the file with git"
        )
        return None
    except ValueError as exc:  # NaN / Infinity
        found = _CONSTANT_RE.search(text)
        line = f":{text.count(chr(10), 0, found.start()) + 1}" if found else ""
        problems.error(f"{where}{line}: {exc}")
        return None
    if not isinstance(data, dict):
        problems.error(f"{where}: $: expected a JSON object, got {type(data).__name__}")
        return None
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        problems.error(f"{where}: $.schema_version: missing or not an integer; this is not a results file")
        return None
    if version > SCHEMA_VERSION:
        problems.error(
            f"{where}: $.schema_version: {version} is newer than this code understands "
            f"({SCHEMA_VERSION}); upgrade the project (git pull) before building"
        )
        return None
    if version < OLDEST_UPGRADABLE:
        problems.error(
            f"{where}: $.schema_version: {version} is too old to upgrade (oldest {OLDEST_UPGRADABLE}); "
            "re-run the experiment to regenerate it"
        )
        return None
    while data["schema_version"] < SCHEMA_VERSION:
        data = UPGRADES[data["schema_version"]](data)
    before = len(problems.errors)
    try:
        _check_values(data, [], problems, where)
    except RecursionError:
        problems.error(f"{where}: $: nested too deeply to be a results file; restore the file with git")
        return None
    errors = [] if _fast_valid(data) else sorted(_VALIDATOR.iter_errors(data),
                                                 key=lambda e: list(map(str, e.absolute_path)))
    for err in errors[:_MAX_ERRORS_PER_FILE]:
        message = err.message if len(err.message) <= 200 else err.message[:199] + "…"
        problems.error(f"{where}: {_json_path(err.absolute_path)}: {message}")
    if len(errors) > _MAX_ERRORS_PER_FILE:
        problems.error(f"{where}: ... and {len(errors) - _MAX_ERRORS_PER_FILE} more schema errors")
    if len(problems.errors) > before:
        return None
    _check_cases(data, where, problems)
    return data if len(problems.errors) == before else None


def _check_cases(data: dict[str, Any], where: str, problems: Problems) -> None:
    """Rules JSON Schema cannot state: unique cases, an ordered CI."""
    seen_ids: dict[str, int] = {}
    seen_keys: dict[str, int] = {}
    for i, case in enumerate(data["cases"]):
        key = json.dumps([case["framework"], case["mode"], case["model"], case["metric"], case["params"]],
                         sort_keys=True)
        for table, value, label in ((seen_ids, case["id"], "id"), (seen_keys, key, "framework/mode/model/metric/params")):
            if value in table:
                problems.error(
                    f"{where}: $.cases[{i}]: duplicate case (same {label} as $.cases[{table[value]}]); "
                    "remove one of them"
                )
            table.setdefault(value, i)
        ci = case.get("ci95")
        if ci and ci[0] > ci[1]:
            problems.error(f"{where}: $.cases[{i}].ci95: low {ci[0]} is above high {ci[1]}")


def load_results(results_dir: Path, problems: Problems, root: Path | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> ResultsSet:
    """Load every ``*.json`` under ``results_dir``; problems are recorded, never raised."""
    results = ResultsSet()
    if not results_dir.is_dir():
        problems.warn(f"{results_dir}: no results directory; the paper will have no measurements")
        return results
    for path in sorted(results_dir.rglob("*.json")):
        where = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        try:
            text = decode_text(read_bytes(path, where, max_bytes), where,
                               advice="restore the file with git or re-run the experiment")
        except UserError as exc:
            problems.error(str(exc))
            results.failed.add(path.stem)
            continue
        data = parse_results_text(text, where, problems)
        if data is None:
            results.failed.add(path.stem)
            continue
        name = data["experiment"]
        if name in results.files:
            problems.error(
                f"{where}: $.experiment: '{name}' is also in {results.files[name].path}; "
                "keep one results file per experiment"
            )
            continue
        cases = [Case(name, path, c) for c in data["cases"]]
        results.files[name] = ResultsFile(path, data, cases)
    return results
