"""Supplementary data: every case of every host as CSV, for spreadsheets and for readers of the
PDF (it is attached there) and of the site. The JSON files stay the complete record (every
sample, grouped by process, and the environment); the CSV has one row per case.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable

from results_contract import Case

CSV_FIELDS = ("host", "experiment", "id", "framework", "mode", "model", "metric", "unit", "better",
              "status", "median", "ci95_low", "ci95_high", "processes", "n", "deterministic", "noisy",
              "p90", "p99", "error")
CSV_DOC = ("`host` (the machine), `experiment`, `id` (unique within the experiment), `framework`, `mode`, "
           "`model`, `metric`, `unit`, `better` (`lower`, `higher` or `none`), `status` (`ok`, or why "
           "not), `median` (the median of the per-process medians), `ci95_low`, `ci95_high` (95% "
           "confidence interval from a hierarchical bootstrap over processes; empty with fewer than "
           "three processes or for deterministic metrics), `processes` (independent processes), `n` "
           "(samples in all), `deterministic` (measured once, no CI), `noisy` (CI half-width above 5% "
           "of the median), `p90`, `p99` (over all samples), `error`, then one `param_<name>` column "
           "per parameter (batch size, threads, ...).")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def case_row(host: str, case: Case) -> dict[str, str]:
    ci = case.ci95 or (None, None)
    row = {"host": host, "experiment": case.experiment, "id": case.id, "framework": case.framework,
           "mode": case.mode, "model": case.model, "metric": case.metric, "unit": case.unit,
           "better": case.better, "status": case.status, "median": case.median, "ci95_low": ci[0],
           "ci95_high": ci[1], "processes": case.processes, "n": case.sample_count,
           "deterministic": case.deterministic, "noisy": case.noisy, "p90": case.p90, "p99": case.p99,
           "error": case.error}
    row.update({f"param_{k}": v for k, v in case.params.items()})
    return {k: _cell(v) for k, v in row.items()}


def cases_csv(rows: Iterable[tuple[str, Case]]) -> str:
    """One row per (host, case): the fixed columns first, then one ``param_<name>`` column per
    parameter, sorted. Deterministic text for a given input (stable diffs, reproducible PDFs)."""
    table = [case_row(host, case) for host, case in rows]
    params = sorted({k for r in table for k in r if k.startswith("param_")})
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*CSV_FIELDS, *params], lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(table)
    return buf.getvalue()
