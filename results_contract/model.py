"""Typed results: ``Case`` and ``ResultsFile``, read by ``load`` and written by ``dump``.

``load`` refuses a file, naming it and the JSON path of the bad field, when it is not a
regular file, not UTF-8 JSON, holds NaN/Infinity, a duplicate key, a control character or an
over-long string, was written by a newer schema than this code knows, or breaks the schema.
Older files are upgraded step by step (``results_contract.upgrade``). ``dump`` cleans text that
came from exceptions, validates, and writes atomically with sorted keys.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

from jsonschema import Draft202012Validator

from results_contract import ids, upgrade
from results_contract.errors import ResultsError, UserError
from results_contract.files import DEFAULT_MAX_BYTES, atomic_write, decode_text, read_bytes
from results_contract.vocabulary import is_deterministic
from results_contract.schema import RESULTS_SCHEMA, SCHEMA_VERSION

MAX_STRING = 10_000  # longer text in a results file is a bug in the writer, not a measurement
MAX_ERRORS_PER_FILE = 5
# C0 control characters other than tab, newline and carriage return: the renderer's internal
# markers use NUL, so data must never carry one, and none of them belongs in a result.
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Environment fields that must agree for two cases to be compared fairly.
COMPARABLE_ENV_FIELDS = ("cpu_model", "cpu_signature", "cpu_cores_logical", "os", "python", "device")
CASE_KEYS = ("id", "framework", "mode", "model", "metric", "unit", "status", "better")


@dataclass(frozen=True)
class Case:
    """One measured case of one experiment. Only these declared fields exist."""

    experiment: str
    source: Path
    id: str
    framework: str
    mode: str
    model: str
    metric: str
    unit: str
    better: str
    params: Mapping[str, Any]
    median: float | None
    ci95: tuple[float, float] | None
    status: str
    error: str | None = None
    processes: int | None = None          # independent processes (None: version-1 data)
    deterministic: bool = False           # measured once, no CI
    runs: tuple[Mapping[str, Any], ...] = ()   # per process: samples, median, n
    samples: tuple[float, ...] = ()       # version-1 files only (pooled samples)
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None
    stdev: float | None = None
    n: int | None = None
    noisy: bool = False
    notes: str | None = None
    extra: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, experiment: str, source: Path, data: Mapping[str, Any]) -> "Case":
        known = {f.name for f in fields(cls)} - {"experiment", "source"}
        values = {k: v for k, v in data.items() if k in known}
        values["samples"] = tuple(values.get("samples") or ())
        values["runs"] = tuple(values.get("runs") or ())
        if values.get("ci95") is not None:
            values["ci95"] = tuple(values["ci95"])
        return cls(experiment=experiment, source=source, **values)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def sample_count(self) -> int:
        return self.n if self.n is not None else len(self.samples)

    def run_samples(self) -> list[list[float]]:
        """The raw samples grouped by process (empty for version-1 data, which has no runs)."""
        return [list(run["samples"]) for run in self.runs]

    @property
    def p90_by_process(self) -> float | None:
        """p90 with every process weighing the same (``stats.percentile_by_process``); None for
        version-1 data."""
        from results_contract.stats import percentile_by_process

        return percentile_by_process(self.run_samples(), 90)

    @property
    def p99_by_process(self) -> float | None:
        """p99 with every process weighing the same (``stats.percentile_by_process``)."""
        from results_contract.stats import percentile_by_process

        return percentile_by_process(self.run_samples(), 99)

    def loaded_runs(self, max_cores: float | None = None) -> list[Mapping[str, Any]]:
        """The runs that recorded the machine's load (``runs[i].load``), in run order. Runs
        measured before the harness recorded load are left out, and so, given the machine's
        logical core count ``max_cores``, are records of more busy cores than it has: only a task
        shorter than the kernel's 10-ms accounting tick can produce one (the harness now records
        None there)."""
        return [run for run in self.runs if run.get("load")
                and (max_cores is None or (run["load"].get("other_cpu_cores") or 0) <= max_cores)]

    def run_loads(self, max_cores: float | None = None) -> list[Mapping[str, Any]]:
        """The load records of ``loaded_runs(max_cores)``."""
        return [run["load"] for run in self.loaded_runs(max_cores)]

    def field(self, name: str) -> Any:
        """An identifying field (framework, mode, model, metric, ...) or else a parameter."""
        if name in CASE_KEYS:
            return getattr(self, name)
        return self.params.get(name)

    def matches(self, filters: Mapping[str, Any]) -> bool:
        missing = object()
        for key, wanted in filters.items():
            have = getattr(self, key) if key in CASE_KEYS else self.params.get(key, missing)
            if have is missing or have != wanted:
                return False
        return True

    def describe(self) -> str:
        """``experiment:id`` plus the parameters when the id does not already show them."""
        params = ids.format_params(self.params, ", ")
        return f"{self.experiment}:{self.id}" + (f" ({params})" if params and params not in self.id else "")

    def short_id(self) -> str:
        return ids.short_id(self.framework, self.mode, self.model, self.metric)


@dataclass
class ResultsFile:
    """One validated results file: its header, environment and cases."""

    path: Path
    experiment: str
    title: str
    module: str
    quick: bool
    environment: Mapping[str, Any]
    parameters: Mapping[str, Any]
    cases: list[Case]
    cache_key: str | None = None
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def sources(self) -> list[Mapping[str, Any]]:
        """The runs behind this file, each with ``git_commit``, ``git_dirty``, ``started_at`` and
        ``finished_at``: the runs ``build.py pool`` recorded in ``parameters.pooled_from``, or
        else the one run of its environment."""
        return list((self.parameters or {}).get("pooled_from") or [self.environment])

    @property
    def written_as(self) -> int:
        """The schema version the file was written in (older files are upgraded on loading)."""
        return int(self.document.get("upgraded_from") or self.document.get("schema_version") or 0)

    @classmethod
    def from_document(cls, path: Path, data: Mapping[str, Any]) -> "ResultsFile":
        name = data["experiment"]
        return cls(path=path, experiment=name, title=data["title"], module=data["module"],
                   quick=data["quick"], environment=data["environment"],
                   parameters=data.get("parameters", {}), cache_key=data.get("cache_key"),
                   cases=[Case.from_dict(name, path, c) for c in data["cases"]], document=data)


# --- reading -------------------------------------------------------------------------------

_VALIDATOR = Draft202012Validator(RESULTS_SCHEMA)
_fast_validator = None
_CONSTANT_RE = re.compile(r"(?<![\w.\"])-?(NaN|Infinity)(?![\w\"])")


def _fast_valid(data: dict) -> bool:
    """fastjsonschema's generated code checks a valid file about 15x faster than jsonschema
    (60,000 cases: 1.3 s against 20 s); jsonschema runs only to name what is wrong."""
    global _fast_validator
    import fastjsonschema

    if _fast_validator is None:
        # Every keyword the schema uses means the same in draft-07, which fastjsonschema speaks.
        _fast_validator = fastjsonschema.compile(
            {**RESULTS_SCHEMA, "$schema": "http://json-schema.org/draft-07/schema#"})
    try:
        _fast_validator(data)
        return True
    except fastjsonschema.JsonSchemaException:
        return False


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not allowed; record a failed case with its reason instead")


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook: a key given twice is an error, not "the last one wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def json_path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _check_values(obj: Any, path: list[Any], problems: list[str], where: str) -> None:
    """What JSON Schema does not catch: NaN/Inf that arrived as numbers (from a non-standard
    writer), over-long strings and control characters, in values and keys alike."""
    if isinstance(obj, float) and not math.isfinite(obj):
        problems.append(f"{where}: {json_path(path)}: {obj} is not a finite number; re-run the experiment")
    elif isinstance(obj, str):
        _check_string(obj, path, problems, where)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_string(k, path + [k[:40]], problems, where)
            _check_values(v, path + [k], problems, where)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_values(v, path + [i], problems, where)


def _check_string(text: str, path: list[Any], problems: list[str], where: str) -> None:
    if len(text) > MAX_STRING:
        problems.append(f"{where}: {json_path(path)}: text of {len(text):,} characters is over the "
                        f"{MAX_STRING:,}-character limit; shorten it")
    found = CONTROL_RE.search(text)
    if found:
        problems.append(f"{where}: {json_path(path)}: contains control character "
                        f"U+{ord(found.group()):04X}; remove it")


def _decode_json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_reject_duplicates)
    except _DuplicateKey as exc:
        key = exc.key if len(exc.key) <= 40 else exc.key[:40] + "…"
        found = text.find(json.dumps(exc.key))
        found = text.find(json.dumps(exc.key), found + 1) if found >= 0 else -1
        line = f":{text.count(chr(10), 0, found) + 1}" if found >= 0 else ""
        raise ResultsError([f"{where}{line}: key {key!r} appears twice in one object; keep one of them"]) from None
    except RecursionError:
        raise ResultsError([f"{where}: $: nested too deeply to be a results file; restore the file with git"]) from None
    except json.JSONDecodeError as exc:
        raise ResultsError([f"{where}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
                            "re-run the experiment or restore the file with git"]) from None
    except ValueError as exc:  # NaN / Infinity
        found = _CONSTANT_RE.search(text)
        line = f":{text.count(chr(10), 0, found.start()) + 1}" if found else ""
        raise ResultsError([f"{where}{line}: {exc}"]) from None


def parse(text: str, where: str) -> dict[str, Any]:
    """Parse, upgrade and validate one results document; raise ResultsError listing problems."""
    data = _decode_json(text, where)
    if not isinstance(data, dict):
        raise ResultsError([f"{where}: $: expected a JSON object, got {type(data).__name__}"])
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultsError([f"{where}: $.schema_version: missing or not an integer; this is not a results file"])
    if version > SCHEMA_VERSION:
        raise ResultsError([f"{where}: $.schema_version: {version} is newer than this code understands "
                            f"({SCHEMA_VERSION}); upgrade the project (git pull) before building"])
    if version < upgrade.OLDEST_UPGRADABLE:
        raise ResultsError([f"{where}: $.schema_version: {version} is too old to upgrade (oldest "
                            f"{upgrade.OLDEST_UPGRADABLE}); re-run the experiment to regenerate it"])
    problems: list[str] = []
    try:
        _check_values(data, [], problems, where)
    except RecursionError:
        raise ResultsError([f"{where}: $: nested too deeply to be a results file; restore the file with git"]) from None
    if problems:
        raise ResultsError(problems)
    data = upgrade.to_current(data)
    if not _fast_valid(data):
        errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        for err in errors[:MAX_ERRORS_PER_FILE]:
            message = err.message if len(err.message) <= 200 else err.message[:199] + "…"
            problems.append(f"{where}: {json_path(err.absolute_path)}: {message}")
        if len(errors) > MAX_ERRORS_PER_FILE:
            problems.append(f"{where}: ... and {len(errors) - MAX_ERRORS_PER_FILE} more schema errors")
        raise ResultsError(problems or [f"{where}: $: does not match the results schema"])
    _check_cases(data, where, problems)
    if problems:
        raise ResultsError(problems)
    return data


def _check_cases(data: dict[str, Any], where: str, problems: list[str]) -> None:
    """Rules JSON Schema cannot state: unique cases, an ordered CI, no CI on a deterministic metric."""
    seen_ids: dict[str, int] = {}
    seen_keys: dict[str, int] = {}
    for i, case in enumerate(data["cases"]):
        key = json.dumps([case["framework"], case["mode"], case["model"], case["metric"], case["params"]],
                         sort_keys=True)
        for table, value, label in ((seen_ids, case["id"], "id"),
                                    (seen_keys, key, "framework/mode/model/metric/params")):
            if value in table:
                problems.append(f"{where}: $.cases[{i}]: duplicate case (same {label} as "
                                f"$.cases[{table[value]}]); remove one of them")
            table.setdefault(value, i)
        ci = case.get("ci95")
        if ci and ci[0] > ci[1]:
            problems.append(f"{where}: $.cases[{i}].ci95: low {ci[0]} is above high {ci[1]}")
        deterministic = case.get("deterministic") or is_deterministic(case["metric"], case["unit"])
        if ci and deterministic:
            problems.append(f"{where}: $.cases[{i}].ci95: {case['metric']} ({case['unit']}) is a deterministic "
                            "metric, measured once: it carries no CI; set ci95 to null")


class ValidationMemo(Protocol):
    """Where a reader remembers which files already passed ``parse`` (the report keeps one in
    its build cache). Keys come from ``validation_key``: they change with the file's bytes and
    with this package's code, so a remembered key can only ever mean "these very bytes passed
    these very checks"."""

    def known(self, key: str) -> bool: ...

    def remember(self, key: str) -> None: ...


@lru_cache(maxsize=1)
def _contract_digest() -> bytes:
    """sha256 of every source file of this package (the schema, the checks, the upgrades)."""
    h = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        h.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return h.digest()


def validation_key(raw: bytes) -> str:
    """The memo key of a results file's bytes under this version of the contract."""
    return hashlib.sha256(_contract_digest() + raw).hexdigest()


def load(path: Path, where: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
         memo: ValidationMemo | None = None) -> ResultsFile:
    """Read, upgrade and validate one results file; raise ResultsError (one line per problem).

    With a ``memo``, bytes that already passed every check under this code are only decoded
    and upgraded: the checks are a pure function of the bytes and the code, and they took
    about half of the time it takes to read the committed results (0.3 of 0.65 s)."""
    where = where or str(path)
    try:
        raw = read_bytes(path, where, max_bytes)
        text = decode_text(raw, where, advice="restore the file with git or re-run the experiment")
    except UserError as exc:
        raise ResultsError(exc.lines) from None
    key = validation_key(raw) if memo is not None else None
    if key is not None and memo.known(key):
        return ResultsFile.from_document(path, upgrade.to_current(json.loads(text)))
    document = parse(text, where)
    if key is not None:
        memo.remember(key)
    return ResultsFile.from_document(path, document)


@dataclass
class Folder:
    """Every results file of one folder that validated, keyed by experiment, plus the stems of
    the files that were refused (so a use of them is not reported a second time)."""

    files: dict[str, ResultsFile] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def load_folder(folder: Path, root: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                memo: ValidationMemo | None = None) -> Folder:
    """Load every ``*.json`` directly in ``folder``; problems are collected, never raised."""
    out = Folder()
    for path in sorted(folder.glob("*.json")):
        where = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        try:
            rf = load(path, where, max_bytes, memo)
        except ResultsError as exc:
            out.problems += exc.problems
            out.refused.add(path.stem)
            continue
        if rf.experiment in out.files:
            out.problems.append(f"{where}: $.experiment: '{rf.experiment}' is also in "
                                f"{out.files[rf.experiment].path}; keep one results file per experiment")
            continue
        out.files[rf.experiment] = rf
    return out


# --- writing -------------------------------------------------------------------------------

def clean_text(value: Any) -> Any:
    """Strings from exceptions and tools (ANSI colours, NULs, megabyte graph dumps) made fit
    for a results file: control characters removed, length capped. Recurses into containers."""
    if isinstance(value, str):
        value = CONTROL_RE.sub("", value)
        return value if len(value) <= MAX_STRING else value[:MAX_STRING - 1] + "…"
    if isinstance(value, dict):
        return {clean_text(k): clean_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_text(v) for v in value]
    return value


def dumps(document: Mapping[str, Any]) -> str:
    """The file's text: sorted keys, one-space indent, no NaN (diffs stay readable)."""
    return json.dumps(document, sort_keys=True, indent=1, allow_nan=False) + "\n"


def validate(document: Mapping[str, Any], where: str) -> None:
    """Raise ResultsError naming the first field that breaks the schema."""
    error = next(iter(sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(map(str, e.path)))), None)
    if error is not None:
        raise ResultsError([f"{where}: invalid results at {json_path(error.absolute_path)}: {error.message}"])


def dump(document: Mapping[str, Any], path: Path) -> None:
    """Clean, validate and atomically write one results document."""
    document = clean_text(dict(document))
    validate(document, str(path))
    atomic_write(path, dumps(document).encode("utf-8"))
