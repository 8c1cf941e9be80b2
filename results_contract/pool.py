"""Pool repeated runs of one experiment into one results file with more processes per case.

A second full run of an experiment on the same machine, with the same code and environment,
adds independent processes to every case: the same measurement in another session. Pooling
them gives each case the processes of every session, so its interval covers the session's
shift as well as the process-to-process spread, and no run is silently preferred to another.

Runs are pooled only when they measure the same thing: the same experiment, the same
``cache_key`` (a hash of the experiment's code, the harness and the run's parameters) and the
same environment apart from when and from which commit it ran, and only when a second run adds
new replicates: runs whose processes are seeded replicates (time to accuracy: process i trains
from seed + i) repeat each other's seeds and are refused. Each source run is recorded in
``parameters.pooled_from``, in the order its processes appear in the cases' ``runs``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from results_contract.errors import UserError
from results_contract.stats import summarize
from results_contract.vocabulary import NOISE_THRESHOLD

# Environment fields that say when and from which commit a run ran, not what it ran on.
RUN_FIELDS = ("started_at", "finished_at", "git_commit", "git_dirty")
# Case fields that describe what was measured, copied from the first run.
IDENTITY = ("id", "framework", "mode", "model", "metric", "unit", "better", "params", "deterministic")


def _check_same(docs: Sequence[Mapping[str, Any]], names: Sequence[str]) -> None:
    first, first_name = docs[0], names[0]
    for doc, name in zip(docs[1:], names[1:]):
        for field in ("experiment", "quick", "cache_key"):
            if doc.get(field) != first.get(field):
                raise UserError(f"{name}: {field} differs from {first_name} ({doc.get(field)!r} against "
                                f"{first.get(field)!r}); only runs of the same code and settings can be pooled")
        if doc.get("upgraded_from") or first.get("upgraded_from"):
            raise UserError(f"{name}: a version-1 file has no per-process runs; only version-2 runs can be pooled")
        if doc.get("quick"):
            raise UserError(f"{name}: a --quick run is a smoke test; pool full runs only")
        env, first_env = doc["environment"], first["environment"]
        for key in sorted(set(env) | set(first_env)):
            if key not in RUN_FIELDS and env.get(key) != first_env.get(key):
                raise UserError(f"{name}: environment.{key} differs from {first_name}; runs from different "
                                "machines or software are compared with `build.py compare`, not pooled")
        seeded = next((c["id"] for c in doc["cases"] if "seed" in (c.get("extra") or {})), None)
        if seeded is not None:
            raise UserError(f"{name}: its processes train from their own seeds (extra.seed in {seeded}), which "
                            f"start again at parameters.seed {(doc.get('parameters') or {}).get('seed')!r} in "
                            f"every run, so they repeat {first_name}'s processes instead of adding independent "
                            "ones; publish one run")
        ids = [c["id"] for c in doc["cases"]]
        first_ids = [c["id"] for c in first["cases"]]
        if sorted(ids) != sorted(first_ids):
            missing = sorted(set(first_ids) ^ set(ids))
            raise UserError(f"{name}: its cases differ from {first_name}'s (e.g. {missing[0]}); "
                            "pool runs of the same task set")


def _pool_case(cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first = cases[0]
    out = {key: first[key] for key in IDENTITY if key in first}
    for key in ("notes", "extra"):
        if first.get(key) is not None:
            out[key] = first[key]
    failed = next((c for c in cases if c["status"] != "ok"), None)
    if first.get("deterministic"):
        # Measured once by definition: the first run's value stands (later runs repeat it).
        source = failed or first
        out.update({k: source.get(k) for k in ("status", "error", "median", "ci95", "processes", "n", "mean",
                                               "stdev", "p90", "p99", "noisy", "runs") if k in source})
        return out
    runs = [run for c in cases for run in (c.get("runs") or [])]
    stats = summarize([run["samples"] for run in runs], noise_threshold=NOISE_THRESHOLD)
    for pooled, run in zip(stats["runs"], runs):
        if run.get("load") is not None:
            pooled["load"] = run["load"]
    out.update(stats)
    # A case that failed in any run is failed, as a case that failed in any round is; the
    # processes that did measure are kept.
    out["status"] = failed["status"] if failed else "ok"
    out["error"] = failed.get("error") if failed else None
    if failed and not runs:
        out.update({"median": None, "ci95": None})
    return out


def pool(docs: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """One results document whose cases hold the processes of every run in ``docs``.

    ``names`` name the runs in error messages (their paths). Raises ``UserError`` (one line)
    when the runs did not measure the same thing."""
    if len(docs) < 2:
        raise UserError("pooling needs at least two runs of the experiment")
    _check_same(docs, names)
    first = docs[0]
    by_id = [{c["id"]: c for c in doc["cases"]} for doc in docs]
    cases = [_pool_case([index[c["id"]] for index in by_id]) for c in first["cases"]]
    sources = [{**{k: doc["environment"].get(k) for k in RUN_FIELDS},
                "processes": (doc.get("parameters") or {}).get("processes")} for doc in docs]
    # Sources already pooled contribute their own sources, so pooling is associative.
    flat = [s for doc, own in zip(docs, sources)
            for s in ((doc.get("parameters") or {}).get("pooled_from") or [own])]
    environment = dict(first["environment"])
    environment["started_at"] = min(s["started_at"] for s in flat)
    environment["finished_at"] = max(s["finished_at"] for s in flat)
    environment["git_dirty"] = any(s["git_dirty"] for s in flat)
    parameters = dict(first.get("parameters") or {})
    parameters["processes"] = sum(s["processes"] or 0 for s in flat)
    parameters["pooled_from"] = flat
    out = {key: first[key] for key in first if key not in ("cases", "environment", "parameters")}
    out.update(environment=environment, parameters=parameters, cases=cases)
    return out
