"""Turn per-round task outcomes into the results file's cases: one per (task, metric).

Samples from all rounds are merged before statistics are computed. A metric fails if any round
failed it (the samples of the good rounds are kept, so the failure can be inspected), and is
unsupported if the task said so.
"""

from __future__ import annotations

from typing import Any

from experiments.harness.api import Task
from experiments.harness.errors import HarnessError
from experiments.harness.stats import is_valid_sample, summarize
from experiments.harness.supervisor import Outcome
from results_contract import ids


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


def _merge_metric(name: str, outcomes: list[Outcome]) -> dict[str, Any]:
    """Status, error, samples, extra and notes of one metric over all rounds."""
    samples: list[float] = []
    errors: list[str] = []
    unsupported: str | None = None
    extra = notes = None
    for outcome in outcomes:
        if outcome.error is not None:
            errors.append(outcome.error)
            continue
        found = [m for m in outcome.measurements or [] if m["metric"] == name]
        if not found:
            errors.append("not reported")
            continue
        m = found[-1]
        if m["status"] == "unsupported":
            unsupported = m["error"] or "unsupported"
        elif m["status"] != "ok":
            errors.append(m["error"] or "failed")
        elif not m["samples"]:
            errors.append("no samples")
        elif not all(is_valid_sample(s) for s in m["samples"]):
            errors.append("invalid sample (negative or not finite)")
        else:
            samples.extend(float(s) for s in m["samples"])
        extra = extra if extra is not None else m.get("extra")
        notes = notes if notes is not None else m.get("notes")
    if unsupported is not None and not samples and not errors:
        return {"status": "unsupported", "error": unsupported, "samples": [], "extra": extra,
                "notes": notes}
    if errors:
        return {"status": "failed", "error": errors[0], "samples": samples, "extra": extra,
                "notes": notes}
    return {"status": "ok", "error": None, "samples": samples, "extra": extra, "notes": notes}


def build_case(task: Task, metric_index: int, outcomes: list[Outcome]) -> dict[str, Any]:
    metric = task.metrics[metric_index]
    merged = _merge_metric(metric.name, outcomes)
    case = {"id": case_id(task, metric.name), "framework": task.framework, "mode": task.mode,
            "model": task.model, "metric": metric.name, "unit": metric.unit,
            "better": metric.better, "params": case_params(task),
            "samples": merged["samples"], "status": merged["status"], "error": merged["error"],
            **summarize(merged["samples"] if merged["status"] == "ok" else [])}
    if merged["status"] != "ok":
        case["n"] = len(merged["samples"])
    if merged["extra"] is not None:
        case["extra"] = merged["extra"]
    if merged["notes"]:
        case["notes"] = merged["notes"]
    return case
