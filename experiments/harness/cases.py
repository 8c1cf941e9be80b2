"""Turn per-round task outcomes into the results file's cases: one per (task, metric).

Each round ran in its own fresh worker process, so each round's samples are one run; an
experiment that starts processes itself (cold start, memory) reports its own runs. Statistics
are computed across runs (``results_contract.stats``). A metric fails if any round failed it
(the runs of the good rounds are kept, so the failure can be inspected), and is unsupported if
the task said so. Deterministic metrics keep one measurement and no CI.
"""

from __future__ import annotations

import statistics
from typing import Any

from experiments.harness.api import Task
from experiments.harness.errors import HarnessError
from experiments.harness.supervisor import Outcome
from results_contract import ids
from results_contract.stats import is_valid_sample, summarize
from results_contract.vocabulary import NOISE_THRESHOLD


def case_params(task: Task) -> dict[str, Any]:
    """The task's params plus its thread count ("default" when the worker left it alone)."""
    params = dict(task.params)
    threads = task.threads if task.threads is not None else "default"
    if "threads" in params and params["threads"] != threads:
        raise HarnessError(f"task {task.framework}/{task.mode}/{task.model}: params['threads'] "
                           f"= {params['threads']!r} contradicts Task.threads = {task.threads!r}")
    params["threads"] = threads
    return params


def case_id(task: Task, metric: str) -> str:
    """``framework/mode/model/metric/k=v,...`` with params sorted by key."""
    return ids.case_id(task.framework, task.mode, task.model, metric, case_params(task))


def check_unique(tasks: list[Task], where: str) -> None:
    seen: set[str] = set()
    for task in tasks:
        if not task.metrics:
            raise HarnessError(f"{where}: task {case_id(task, '-')} declares no metrics")
        for metric in task.metrics:
            cid = case_id(task, metric.name)
            if cid in seen:
                raise HarnessError(f"{where}: duplicate case id {cid}")
            seen.add(cid)


def _runs_of(m: dict[str, Any]) -> list[list[float]]:
    """The independent processes behind one reported measurement: the experiment's own
    grouping when it started the processes itself (``runs``), else the worker's one process."""
    if m.get("runs"):
        return [[float(x) for x in run] for run in m["runs"] if run]
    return [[float(x) for x in m["samples"]]]


def _merge_metric(name: str, outcomes: list[Outcome], deterministic: bool = False) -> dict[str, Any]:
    """Status, error, runs (samples grouped per process), extra and notes of one metric over
    all rounds. A metric failed in any round is failed; the good rounds' runs are kept. A
    deterministic metric need only be reported once (experiments may skip it after the first
    round, ``ctx.replicate > 0``)."""
    runs: list[list[float]] = []
    loads: list[dict | None] = []   # per run: how busy the rest of the machine was (machine_load)
    errors: list[str] = []
    unsupported: str | None = None
    extra = notes = None
    for outcome in outcomes:
        if outcome.error is not None:
            errors.append(outcome.error)
            continue
        found = [m for m in outcome.measurements or [] if m["metric"] == name]
        if not found:
            if not deterministic:
                errors.append("not reported")
            continue
        m = found[-1]
        got = _runs_of(m) if m["status"] == "ok" else []
        if m["status"] == "unsupported":
            unsupported = m["error"] or "unsupported"
        elif m["status"] != "ok":
            errors.append(m["error"] or "failed")
        elif not any(got):
            errors.append("no samples")
        elif not all(is_valid_sample(x) for run in got for x in run):
            errors.append("invalid sample (negative or not finite)")
        else:
            kept = [run for run in got if run]
            runs.extend(kept)
            loads.extend([getattr(outcome, "load", None)] * len(kept))
        extra = extra if extra is not None else m.get("extra")
        notes = notes if notes is not None else m.get("notes")
    if deterministic and not runs and not errors and unsupported is None:
        errors.append("not reported")
    if unsupported is not None and not runs and not errors:
        return {"status": "unsupported", "error": unsupported, "runs": [], "loads": [], "extra": extra,
                "notes": notes}
    if errors:
        return {"status": "failed", "error": errors[0], "runs": runs, "loads": loads, "extra": extra,
                "notes": notes}
    return {"status": "ok", "error": None, "runs": runs, "loads": loads, "extra": extra, "notes": notes}


def _measured_once(runs: list[list[float]], notes: str | None) -> tuple[list[list[float]], str | None]:
    """A deterministic metric keeps the first process's value; if another process measured a
    different value, the case says so rather than hiding it."""
    values = sorted({x for run in runs for x in run})
    if len(values) > 1:
        spread = f"varied across processes: {values[0]:.6g} to {values[-1]:.6g}; the first is reported"
        notes = f"{notes}; {spread}" if notes else spread
    return runs[:1], notes


def build_case(task: Task, metric_index: int, outcomes: list[Outcome]) -> dict[str, Any]:
    metric = task.metrics[metric_index]
    merged = _merge_metric(metric.name, outcomes, metric.deterministic)
    runs, notes = merged["runs"], merged["notes"]
    if metric.deterministic and runs:
        runs, notes = _measured_once(runs, notes)
    stats = summarize(runs if merged["status"] == "ok" else [], deterministic=metric.deterministic,
                      noise_threshold=NOISE_THRESHOLD)
    if merged["status"] != "ok":  # keep what the good rounds measured, for inspection
        stats["runs"] = [{"process": i, "samples": r, "median": float(statistics.median(r)), "n": len(r)}
                         for i, r in enumerate(runs)]
        stats["processes"] = len(runs)
        stats["n"] = sum(len(r) for r in runs)
    for run, load in zip(stats["runs"], merged["loads"]):
        if load and any(v is not None for v in load.values()):
            run["load"] = load
    case = {"id": case_id(task, metric.name), "framework": task.framework, "mode": task.mode,
            "model": task.model, "metric": metric.name, "unit": metric.unit,
            "better": metric.better, "params": case_params(task), "deterministic": metric.deterministic,
            "status": merged["status"], "error": merged["error"], **stats}
    if merged["extra"] is not None:
        case["extra"] = merged["extra"]
    if notes:
        case["notes"] = notes
    return case
